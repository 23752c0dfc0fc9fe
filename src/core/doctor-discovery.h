/* doctor-discovery.h: the mail settings of an email address, from DNS and the presets.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A discovery takes an address (user@example.com, or a bare domain) and looks for the server
 * to send its mail through, in three sources at once, each lookup with its own deadline:
 *   "srv"     the DNS SRV records _submissions._tcp.DOMAIN (implicit TLS, RFC 8314) and
 *             _submission._tcp.DOMAIN (STARTTLS, RFC 6186); a target of "." says that the
 *             domain decidedly does not offer that service;
 *   "preset"  the built-in presets, by mail domain (gmail.com, hotmail.com …);
 *   "mx"      the domain's MX records, matched to a provider by the presets' mx_patterns
 *             (Google Workspace, Microsoft 365, Zoho …): that provider's submission host.
 * Every candidate found is then verified by a probe of its own, all at once, each with the same
 * deadline: connect, the TLS handshake (implicit, or after STARTTLS), the greeting, EHLO and
 * QUIT. A probe never sends a credential, never mail, and nothing at all over a TLS connection
 * whose certificate is not trusted. So the whole discovery takes about two timeouts at most.
 *
 * The candidates come in the order of preference: SRV before preset before MX; within a source
 * implicit TLS before STARTTLS (RFC 8314), then SRV priority and weight, then the order of the
 * preset. The same host, port and security found by two sources is one candidate, of the first
 * source. doctor_discovery_get_best() is the first whose probe says "ok", or NULL where none
 * does; then the first candidate is still the likeliest setting, unverified, and the front ends
 * (the CLI, the window) fall back to it and say so. The notes say, in translated sentences,
 * where the sources disagree, what could not be verified and what DNS said that matters.
 */
#pragma once

#include <gio/gio.h>

#include "doctor-providers.h"
#include "doctor-target.h"

G_BEGIN_DECLS

#define DOCTOR_DISCOVERY_ERROR (doctor_discovery_error_quark ())

typedef enum
{
  DOCTOR_DISCOVERY_ERROR_INVALID_ADDRESS,  /* no usable mail domain in the address */
  DOCTOR_DISCOVERY_ERROR_NOT_FOUND,        /* no source gave a single candidate */
} DoctorDiscoveryError;

/* Probe results are the codes of DoctorPortCell (doctor-port-scan.h): "ok", "mode-mismatch",
 * "refused", "timeout", "unreachable", "filtered", "tls-failed", "certificate-untrusted",
 * "greeting-failed", "starttls-not-offered", "cancelled", and "not-tried" when the host name
 * could not be resolved. */
typedef struct
{
  char                 *host;
  guint16               port;
  DoctorSecurity        security;
  const char           *source;              /* "srv", "preset" or "mx" */
  char                 *detail;              /* where it comes from: "SRV _submissions._tcp.
                                              * example.com priority 0 weight 1" */
  const DoctorProvider *provider;            /* (nullable): the preset of the host, if known */
  const char           *probe_result;        /* a code above; NULL until the probe ended */
  char                 *probe_summary;       /* one translated sentence; NULL until then */
  char                 *probe_detail;        /* (nullable): banner, TLS version, error … */
  gint64                probe_duration_ms;
} DoctorCandidate;

#define DOCTOR_TYPE_CANDIDATE (doctor_candidate_get_type ())

GType            doctor_candidate_get_type  (void) G_GNUC_CONST;
DoctorCandidate *doctor_candidate_copy      (const DoctorCandidate *candidate);
void             doctor_candidate_free      (DoctorCandidate       *candidate);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DoctorCandidate, doctor_candidate_free)

#define DOCTOR_TYPE_DISCOVERY (doctor_discovery_get_type ())

G_DECLARE_FINAL_TYPE (DoctorDiscovery, doctor_discovery, DOCTOR, DISCOVERY, GObject)

GQuark                 doctor_discovery_error_quark     (void);

DoctorDiscovery       *doctor_discovery_new             (const char           *address,
                                                         guint                 timeout_ms,
                                                         GTlsDatabase         *ca);
void                   doctor_discovery_set_helo_name   (DoctorDiscovery      *self,
                                                         const char           *helo_name);
const char            *doctor_discovery_get_address     (DoctorDiscovery      *self);
const char            *doctor_discovery_get_domain      (DoctorDiscovery      *self);
guint                  doctor_discovery_get_timeout_ms  (DoctorDiscovery      *self);
void                   doctor_discovery_run_async       (DoctorDiscovery      *self,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
gboolean               doctor_discovery_run_finish      (DoctorDiscovery      *self,
                                                         GAsyncResult         *result,
                                                         GError              **error);
gboolean               doctor_discovery_is_finished     (DoctorDiscovery      *self);
GPtrArray             *doctor_discovery_get_candidates  (DoctorDiscovery      *self);
const DoctorCandidate *doctor_discovery_get_best        (DoctorDiscovery      *self);
GPtrArray             *doctor_discovery_get_notes       (DoctorDiscovery      *self);

gboolean               doctor_discovery_parse_domain    (const char           *address,
                                                         char                **domain,
                                                         GError              **error);

G_END_DECLS
