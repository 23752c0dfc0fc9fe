/* doctor-format.h: numbers, durations and dates for people, in the user's locale.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "doctor-check.h"

G_BEGIN_DECLS

char *doctor_format_duration         (gint64              ms);
char *doctor_format_date_time        (GDateTime          *date);
char *doctor_detail_dup_display_text (const DoctorDetail *detail,
                                      const char         *separator);

G_END_DECLS
