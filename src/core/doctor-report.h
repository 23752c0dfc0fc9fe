/* doctor-report.h: the diagnosis as a report: JSON (version 1 of the report contract) for
 * scripts, Markdown for people pasting it into a support ticket or a forum.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "doctor-diagnosis.h"

G_BEGIN_DECLS

#define DOCTOR_REPORT_VERSION 1

typedef enum
{
  DOCTOR_REPORT_FORMAT_MARKDOWN,
  DOCTOR_REPORT_FORMAT_JSON,
} DoctorReportFormat;

JsonNode           *doctor_report_build_json       (DoctorDiagnosis     *diagnosis);
char               *doctor_report_to_json          (DoctorDiagnosis     *diagnosis,
                                                    gboolean             pretty);
const char         *doctor_verdict_to_string       (DoctorCheckStatus    verdict);

char               *doctor_report_get_verdict_text (DoctorDiagnosis     *diagnosis);
char               *doctor_report_to_markdown      (DoctorDiagnosis     *diagnosis);
char               *doctor_report_to_string        (DoctorDiagnosis     *diagnosis,
                                                    DoctorReportFormat   format);

DoctorReportFormat  doctor_report_format_for_file  (GFile               *file);
gboolean            doctor_report_save             (DoctorDiagnosis     *diagnosis,
                                                    GFile               *file,
                                                    DoctorReportFormat   format,
                                                    GCancellable        *cancellable,
                                                    GError             **error);
void                doctor_report_save_async       (DoctorDiagnosis     *diagnosis,
                                                    GFile               *file,
                                                    DoctorReportFormat   format,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
gboolean            doctor_report_save_finish      (DoctorDiagnosis     *diagnosis,
                                                    GAsyncResult        *result,
                                                    GError             **error);

G_END_DECLS
