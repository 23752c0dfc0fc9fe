/* doctor-check-row.h: one check of the checklist, live.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "doctor-check.h"

G_BEGIN_DECLS

#define DOCTOR_TYPE_CHECK_ROW (doctor_check_row_get_type ())

G_DECLARE_FINAL_TYPE (DoctorCheckRow, doctor_check_row, DOCTOR, CHECK_ROW, AdwExpanderRow)

GtkWidget   *doctor_check_row_new          (DoctorCheck    *check);
DoctorCheck *doctor_check_row_get_check    (DoctorCheckRow *self);
const char  *doctor_check_row_get_icon_name (DoctorCheckRow *self);
gboolean     doctor_check_row_is_spinning  (DoctorCheckRow *self);
guint        doctor_check_row_get_n_commands (DoctorCheckRow *self);

G_END_DECLS
