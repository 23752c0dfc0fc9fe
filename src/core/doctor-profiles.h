/* doctor-profiles.h: saved profiles, and the file they are kept in.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A profile is every setting of the form except the password, under a name the user chose and
 * a UUID that never changes (the keyring item and the GSettings "last profile" refer to it).
 * A DoctorProfileStore keeps them in $XDG_CONFIG_HOME/smtp-doctor/profiles.json:
 *
 *   {"version": 1, "profiles": [{"uuid": "…", "name": "Work", "host": "smtp.example.com",
 *                                "port": 587, "security": "starttls", …}, …]}
 *
 * The file never holds a password: a "password" or "secret" member found in it (at any level)
 * is dropped when it is read, so it is never written back. Members this version does not know
 * are kept, at the top level and in each profile, and written back on save, so that a newer
 * version's fields survive an older one. A newer version (a "version" above 1) loads if its
 * structure is one this code reads; if not, the file counts as damaged.
 *
 * A damaged file is never half-loaded and never overwritten: it is renamed to
 * "profiles.json.corrupt-YYYYMMDD-HHMMSS" (doctor_profile_store_get_recovered_path() says
 * where; only if the directory cannot be written, so that there is no lock, does it stay in
 * place), the store is left empty, and the error is a sentence to show the user. See
 * doctor-profiles.c for the rules of reading, writing and of two processes saving at once.
 *
 * The store is used from the main thread: the file is small (at most 1 MiB), so load and save
 * are synchronous; a save waits for fsync() and for another process's save to finish.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "doctor-target.h"

G_BEGIN_DECLS

#define DOCTOR_PROFILES_VERSION   1
#define DOCTOR_PROFILES_MAX_BYTES (1024 * 1024)
#define DOCTOR_PROFILES_MAX_DEPTH 32

#define DOCTOR_PROFILES_ERROR (doctor_profiles_error_quark ())

typedef enum
{
  DOCTOR_PROFILES_ERROR_DAMAGED,     /* the file's content is bad; moved aside, see below */
  DOCTOR_PROFILES_ERROR_INVALID,     /* a profile with a field that cannot be saved */
  DOCTOR_PROFILES_ERROR_NAME_TAKEN,  /* another profile already has this name */
  DOCTOR_PROFILES_ERROR_TOO_LARGE,   /* the profiles would make a file over the size cap */
} DoctorProfilesError;

typedef struct
{
  char            *uuid;                 /* stable, from g_uuid_string_random () */
  char            *name;                 /* unique in a store, case-sensitive */
  char            *provider;             /* a preset id, or NULL */
  char            *host;
  guint16          port;                 /* 0: the usual port of the security mode */
  DoctorSecurity   security;
  char            *user;                 /* NULL: no login */
  gboolean         allow_plaintext_auth;
  char            *ca_file;
  guint            timeout_ms;           /* 0: the default */
  char            *helo_name;
  char            *mail_from;
  char            *rcpt_to;
  gboolean         remember_password;    /* the user chose to keep the password in the keyring */
  JsonObject      *extra;                /* members this version does not know, or NULL;
                                          * "password" and "secret" are never written */
} DoctorProfile;

#define DOCTOR_TYPE_PROFILE (doctor_profile_get_type ())

GType           doctor_profile_get_type               (void) G_GNUC_CONST;
DoctorProfile  *doctor_profile_new                    (const char           *name);
DoctorProfile  *doctor_profile_new_from_target        (const char           *name,
                                                       const DoctorTarget   *target,
                                                       const char           *provider);
DoctorProfile  *doctor_profile_copy                   (const DoctorProfile  *profile);
void            doctor_profile_free                   (DoctorProfile        *profile);
DoctorTarget   *doctor_profile_to_target              (const DoctorProfile  *profile);

#define DOCTOR_TYPE_PROFILE_STORE (doctor_profile_store_get_type ())

G_DECLARE_FINAL_TYPE (DoctorProfileStore, doctor_profile_store, DOCTOR, PROFILE_STORE, GObject)

GQuark               doctor_profiles_error_quark              (void);

DoctorProfileStore  *doctor_profile_store_new                 (const char           *path);
const char          *doctor_profile_store_get_path            (DoctorProfileStore   *self);
gboolean             doctor_profile_store_load                (DoctorProfileStore   *self,
                                                               GError              **error);
gboolean             doctor_profile_store_save                (DoctorProfileStore   *self,
                                                               GError              **error);
GPtrArray           *doctor_profile_store_get_profiles        (DoctorProfileStore   *self);
const DoctorProfile *doctor_profile_store_find                (DoctorProfileStore   *self,
                                                               const char           *name_or_uuid);
gboolean             doctor_profile_store_put                 (DoctorProfileStore   *self,
                                                               const DoctorProfile  *profile,
                                                               GError              **error);
gboolean             doctor_profile_store_remove              (DoctorProfileStore   *self,
                                                               const char           *uuid);
const char          *doctor_profile_store_get_recovered_path  (DoctorProfileStore   *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DoctorProfile, doctor_profile_free)

G_END_DECLS
