/* doctor-application.h: the SMTP Doctor application.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define DOCTOR_TYPE_APPLICATION (doctor_application_get_type ())

G_DECLARE_FINAL_TYPE (DoctorApplication, doctor_application, DOCTOR, APPLICATION, AdwApplication)

DoctorApplication *doctor_application_new (void);

void               doctor_app_ensure_resources (void);

G_END_DECLS
