/* doctor-certificate-private.h: facts about a server certificate, and what its flags mean.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "doctor-check.h"

G_BEGIN_DECLS

#define DOCTOR_CERTIFICATE_WARN_DAYS 14

void         doctor_certificate_describe       (GTlsCertificate      *certificate,
                                                DoctorCheck          *check);
gint64       doctor_certificate_get_days_left  (GTlsCertificate      *certificate);
char        *doctor_certificate_get_sha256     (GTlsCertificate      *certificate);
GStrv        doctor_certificate_flags_to_strv  (GTlsCertificateFlags  flags);
const char  *doctor_certificate_flags_reason   (GTlsCertificateFlags  flags);
char        *doctor_certificate_flags_summary  (GTlsCertificateFlags  flags);

G_END_DECLS
