/* doctor-keyring.h: profile passwords in the system keyring (libsecret).
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Only the password goes into the keyring, under the schema
 * "io.github.smtpdoctor.SmtpDoctor.Password". An item is found by its profile's UUID alone;
 * its host and user attributes are there so that people can tell items apart in Seahorse,
 * and they are kept current: storing again for a profile replaces its item. Attributes are
 * not stored securely, so none of them ever holds the password.
 *
 * Every failure is a DOCTOR_KEYRING_ERROR with a sentence for people, followed by the message
 * of the libsecret or D-Bus error that caused it. UNAVAILABLE (no Secret Service on the bus, no
 * session bus, a misconfigured SECRET_BACKEND, no collection to store into), LOCKED and
 * CANCELLED (a dismissed prompt) are expected on real systems: the front end then offers to
 * use the password for this session only, and never writes it anywhere else. When the caller
 * cancels through its GCancellable, the error is G_IO_ERROR_CANCELLED as elsewhere in GIO.
 *
 * Inside Flatpak (and Snap) libsecret 0.20 and later uses its file backend, an encrypted file
 * in the sandbox's $XDG_DATA_HOME/keyrings keyed through the Secret portal, without talking to
 * org.freedesktop.secrets. Nothing here depends on which backend is used.
 *
 * The asynchronous functions are the ones for the desktop app; they complete on the
 * thread-default main context of the caller. The _sync wrappers, for the command line, run the
 * same code on a private main context.
 */
#pragma once

#include <gio/gio.h>
#include <libsecret/secret.h>

G_BEGIN_DECLS

#define DOCTOR_KEYRING_SCHEMA_NAME "io.github.smtpdoctor.SmtpDoctor.Password"

/* The attributes of an item, all strings. */
#define DOCTOR_KEYRING_ATTRIBUTE_PROFILE_UUID "profile-uuid"
#define DOCTOR_KEYRING_ATTRIBUTE_HOST         "host"
#define DOCTOR_KEYRING_ATTRIBUTE_USER         "user"

#define DOCTOR_KEYRING_ERROR (doctor_keyring_error_quark ())

typedef enum
{
  DOCTOR_KEYRING_ERROR_UNAVAILABLE,  /* no Secret Service, no session bus, no usable backend */
  DOCTOR_KEYRING_ERROR_LOCKED,       /* the collection is locked and was not unlocked */
  DOCTOR_KEYRING_ERROR_CANCELLED,    /* a keyring prompt was dismissed */
  DOCTOR_KEYRING_ERROR_FAILED,       /* anything else */
} DoctorKeyringError;

GQuark              doctor_keyring_error_quark          (void);
gboolean            doctor_keyring_error_is_unavailable (const GError         *error);
gboolean            doctor_keyring_error_is_cancelled   (const GError         *error);

const SecretSchema *doctor_keyring_get_schema           (void);

void                doctor_keyring_store_async          (const char           *profile_uuid,
                                                         const char           *host,
                                                         const char           *user,
                                                         const char           *label,
                                                         const char           *password,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
gboolean            doctor_keyring_store_finish         (GAsyncResult         *result,
                                                         GError              **error);
gboolean            doctor_keyring_store_sync           (const char           *profile_uuid,
                                                         const char           *host,
                                                         const char           *user,
                                                         const char           *label,
                                                         const char           *password,
                                                         GCancellable         *cancellable,
                                                         GError              **error);

void                doctor_keyring_lookup_async         (const char           *profile_uuid,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
char               *doctor_keyring_lookup_finish        (GAsyncResult         *result,
                                                         GError              **error);
char               *doctor_keyring_lookup_sync          (const char           *profile_uuid,
                                                         GCancellable         *cancellable,
                                                         GError              **error);

void                doctor_keyring_clear_async          (const char           *profile_uuid,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
gboolean            doctor_keyring_clear_finish         (GAsyncResult         *result,
                                                         GError              **error);
gboolean            doctor_keyring_clear_sync           (const char           *profile_uuid,
                                                         GCancellable         *cancellable,
                                                         GError              **error);

void                doctor_keyring_secret_free          (char                 *secret);

/* g_autoptr(DoctorKeyringSecret) password = doctor_keyring_lookup_finish (…); wipes it too. */
typedef char DoctorKeyringSecret;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DoctorKeyringSecret, doctor_keyring_secret_free)

G_END_DECLS
