/* doctor-diagnosis.h: one run of the checks against a target.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A diagnosis creates every check pending at construction, so the checklist has its final
 * shape before anything runs, then runs them in order on the thread-default main context of
 * the caller of doctor_diagnosis_run_async(). The result is in the checks, the suggestion and
 * the transcript; run_finish() only fails for invalid input or a cancelled run.
 */
#pragma once

#include <gio/gio.h>

#include "doctor-check.h"
#include "doctor-port-scan.h"
#include "doctor-target.h"

G_BEGIN_DECLS

typedef struct
{
  char           *host;
  guint16         port;
  DoctorSecurity  security;
  char           *summary;
} DoctorSuggestion;

typedef struct
{
  gboolean  from_server;
  gboolean  tls;
  char     *text;        /* made safe; secrets masked */
} DoctorTranscriptLine;

#define DOCTOR_TYPE_DIAGNOSIS (doctor_diagnosis_get_type ())

G_DECLARE_FINAL_TYPE (DoctorDiagnosis, doctor_diagnosis, DOCTOR, DIAGNOSIS, GObject)

DoctorDiagnosis        *doctor_diagnosis_new             (const DoctorTarget   *target);
const DoctorTarget     *doctor_diagnosis_get_target      (DoctorDiagnosis      *self);
GListModel             *doctor_diagnosis_get_checks      (DoctorDiagnosis      *self);
DoctorCheck            *doctor_diagnosis_get_check       (DoctorDiagnosis      *self,
                                                          const char           *id);
const DoctorSuggestion *doctor_diagnosis_get_suggestion  (DoctorDiagnosis      *self);
GPtrArray              *doctor_diagnosis_get_transcript  (DoctorDiagnosis      *self);
DoctorCheckStatus       doctor_diagnosis_get_verdict     (DoctorDiagnosis      *self);
gboolean                doctor_diagnosis_is_finished     (DoctorDiagnosis      *self);
void                    doctor_diagnosis_set_scan_ports  (DoctorDiagnosis      *self,
                                                          gboolean              scan_ports);
DoctorPortScan         *doctor_diagnosis_get_port_scan   (DoctorDiagnosis      *self);
void                    doctor_diagnosis_run_async       (DoctorDiagnosis      *self,
                                                          GCancellable         *cancellable,
                                                          GAsyncReadyCallback   callback,
                                                          gpointer              user_data);
gboolean                doctor_diagnosis_run_finish      (DoctorDiagnosis      *self,
                                                          GAsyncResult         *result,
                                                          GError              **error);

void                    doctor_suggestion_free           (DoctorSuggestion     *suggestion);

G_END_DECLS
