/* doctor-target.h: what to diagnose.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A target is plain data that the front ends fill from user input: the server, the security
 * mode, the optional login and test message, and the knobs (timeout, EHLO name, custom CA).
 * The secret is owned by the target and wiped when the target is freed.
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum
{
  DOCTOR_SECURITY_STARTTLS,
  DOCTOR_SECURITY_TLS,
  DOCTOR_SECURITY_NONE,
} DoctorSecurity;

#define DOCTOR_DEFAULT_TIMEOUT_SECONDS 30

typedef struct
{
  char           *host;
  guint16         port;                /* 0: the usual port of the security mode */
  DoctorSecurity  security;
  char           *user;               /* NULL: no login */
  char           *secret;             /* wiped on free */
  gboolean        allow_plaintext_auth;
  char           *ca_file;
  guint           timeout_ms;          /* each step's deadline; 0: the default */
  char           *helo_name;          /* NULL: the local host name */
  char           *mail_from;          /* with rcpt_to: send a test message */
  char           *rcpt_to;
} DoctorTarget;

#define DOCTOR_TYPE_TARGET (doctor_target_get_type ())

GType          doctor_target_get_type         (void) G_GNUC_CONST;
DoctorTarget  *doctor_target_new              (const char          *host,
                                               guint16              port,
                                               DoctorSecurity       security);
DoctorTarget  *doctor_target_copy             (const DoctorTarget  *target);
void           doctor_target_free             (DoctorTarget        *target);
void           doctor_target_set_secret       (DoctorTarget        *target,
                                               const char          *secret);
guint16        doctor_target_get_port         (const DoctorTarget  *target);
guint          doctor_target_get_timeout_ms   (const DoctorTarget  *target);
gboolean       doctor_target_validate         (const DoctorTarget  *target,
                                               GError             **error);
gboolean       doctor_target_wants_message    (const DoctorTarget  *target);

guint16        doctor_security_default_port   (DoctorSecurity       security);
const char    *doctor_security_to_string      (DoctorSecurity       security);
gboolean       doctor_security_from_string    (const char          *string,
                                               DoctorSecurity      *security);
const char    *doctor_security_get_label      (DoctorSecurity       security);

gboolean       doctor_parse_host_port         (const char          *input,
                                               char               **host,
                                               guint16             *port,
                                               GError             **error);

gboolean       doctor_parse_target            (const char          *input,
                                               char               **host,
                                               guint16             *port,
                                               DoctorSecurity      *security,
                                               gboolean            *security_given,
                                               char               **user,
                                               GError             **error);

void           doctor_secret_free             (char                *secret);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DoctorTarget, doctor_target_free)

G_END_DECLS
