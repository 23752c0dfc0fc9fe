/* doctor-report.h: the diagnosis as JSON (version 1 of the report contract).
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include "doctor-diagnosis.h"

G_BEGIN_DECLS

#define DOCTOR_REPORT_VERSION 1

JsonNode   *doctor_report_build_json     (DoctorDiagnosis   *diagnosis);
char       *doctor_report_to_json        (DoctorDiagnosis   *diagnosis,
                                          gboolean           pretty);
const char *doctor_verdict_to_string     (DoctorCheckStatus  verdict);

G_END_DECLS
