/* doctor-providers.h: the provider presets (Gmail, SendGrid, Amazon SES …).
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The presets live in data/providers.json, compiled into the core library as a GResource. A
 * preset gives the usual host, port and security mode of a provider, what goes into the user
 * name field, and help text with links that the advice and the form show. The file is the only
 * source of truth; its user-visible strings (names, hints, help, link titles, region names) are
 * translated when it is loaded, in the "smtp-doctor" gettext domain.
 *
 * The loader trusts nothing: the size and the nesting depth are checked before json-glib sees
 * the text, and every field is type-checked at every level. A file with any error is refused
 * as a whole, never half-loaded: the built-in one is tested, so an error in it is a bug to be
 * caught by the tests, not something to paper over at run time. Fields that this code does not
 * know are ignored at every level, so that a newer file still loads.
 *
 * expected_issuers lists names (matched as substrings of the issuer's organisation or common
 * name) that the provider's certificates are known to be issued by, only where that is known
 * reliably. A certificate from another issuer is a hint of a TLS-intercepting proxy or a wrong
 * host, worth a remark in the details; on its own it is no reason to fail a check.
 *
 * A region is another host of the same provider (Amazon SES and Zoho per region, Mailgun's EU
 * servers, Mailtrap's sandbox); an alternative is another port and security mode on its host.
 *
 * For discovery from an email address (doctor-discovery.h): domains lists the mail domains whose
 * users send through this provider's server (gmail.com, googlemail.com); mx_patterns lists the
 * endings of MX host names that show a domain hosted by this provider (".google.com"). A pattern
 * matches a host equal to it, without its leading dot, or ending in "." and it: "googlemail.com"
 * and ".googlemail.com" both match aspmx2.googlemail.com and googlemail.com itself. Both lists
 * are lower case, and every domain and pattern belongs to one provider only. https_api names the
 * provider's HTTPS sending API (a documentation page in https_api_url), the way out of a network
 * that blocks every SMTP port; its name is a product name, not translated.
 */
#pragma once

#include <glib.h>

#include "doctor-target.h"

G_BEGIN_DECLS

#define DOCTOR_PROVIDERS_RESOURCE  "/io/github/smtpdoctor/SmtpDoctor/providers.json"
#define DOCTOR_PROVIDERS_VERSION   1
#define DOCTOR_PROVIDERS_MAX_BYTES (256 * 1024)
#define DOCTOR_PROVIDERS_MAX_DEPTH 16

#define DOCTOR_PROVIDERS_ERROR (doctor_providers_error_quark ())

typedef enum
{
  DOCTOR_PROVIDERS_ERROR_TOO_LARGE,   /* over DOCTOR_PROVIDERS_MAX_BYTES */
  DOCTOR_PROVIDERS_ERROR_TOO_DEEP,    /* arrays and objects nested over the maximum depth */
  DOCTOR_PROVIDERS_ERROR_SYNTAX,      /* not strict JSON: encoding, comments, trailing data … */
  DOCTOR_PROVIDERS_ERROR_VERSION,     /* "version" missing or not one this code reads */
  DOCTOR_PROVIDERS_ERROR_INVALID,     /* a field missing, of the wrong type or out of range */
} DoctorProvidersError;

typedef struct
{
  char            *title;            /* translated */
  char            *url;              /* https:// */
} DoctorProviderLink;

typedef struct
{
  char            *id;               /* stable: "eu-west-1" */
  char            *name;             /* translated: "Europe (Ireland)" */
  char            *host;
  guint16          port;             /* 0: the provider's port */
} DoctorProviderRegion;

typedef struct
{
  guint16          port;
  DoctorSecurity   security;
} DoctorProviderAlternative;

typedef struct
{
  char            *id;               /* stable: "gmail", "amazon-ses" */
  char            *name;             /* translated */
  char            *host;             /* the default; see also regions */
  guint16          port;
  DoctorSecurity   security;
  gboolean         login_required;   /* FALSE: the server takes no login (local test servers) */
  char            *user;             /* a fixed user name ("apikey"), or NULL: the user's own */
  char            *user_hint;        /* translated, or NULL: what goes into the user name field */
  char            *help;             /* translated, one paragraph of plain text */
  GPtrArray       *links;            /* (element-type DoctorProviderLink), never NULL */
  GStrv            expected_issuers; /* never NULL, often empty: see below */
  GPtrArray       *regions;          /* (element-type DoctorProviderRegion), never NULL */
  GPtrArray       *alternatives;     /* (element-type DoctorProviderAlternative), never NULL */
  GStrv            domains;          /* never NULL, often empty: mail domains of its users */
  GStrv            mx_patterns;      /* never NULL, often empty: MX host name endings */
  char            *https_api_name;   /* or NULL: "SendGrid v3 Mail Send API" */
  char            *https_api_url;    /* NULL exactly when https_api_name is: https:// */
} DoctorProvider;

GQuark                      doctor_providers_error_quark        (void);

GPtrArray                  *doctor_providers_get_all            (void);
const DoctorProvider       *doctor_providers_lookup             (const char            *id);
const DoctorProvider       *doctor_providers_match_host         (const char            *host);
const DoctorProvider       *doctor_providers_match_domain       (const char            *domain);
const DoctorProvider       *doctor_providers_match_mx           (const char            *mx_host);

GPtrArray                  *doctor_providers_load_from_data     (const char            *data,
                                                                 gsize                  length,
                                                                 GError               **error);

const DoctorProviderRegion *doctor_provider_find_region         (const DoctorProvider  *provider,
                                                                 const char            *host);
const char                 *doctor_provider_match_mx_pattern    (const DoctorProvider  *provider,
                                                                 const char            *mx_host);
gboolean                    doctor_provider_has_host            (const DoctorProvider  *provider,
                                                                 const char            *host);
void                        doctor_provider_free                (DoctorProvider        *provider);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DoctorProvider, doctor_provider_free)

G_END_DECLS
