/* doctor-transcript-window.h: the SMTP conversation of a run.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "doctor-diagnosis.h"

G_BEGIN_DECLS

#define DOCTOR_TYPE_TRANSCRIPT_WINDOW (doctor_transcript_window_get_type ())

G_DECLARE_FINAL_TYPE (DoctorTranscriptWindow, doctor_transcript_window, DOCTOR,
                      TRANSCRIPT_WINDOW, AdwWindow)

GtkWidget *doctor_transcript_window_new      (GtkWindow       *parent,
                                              DoctorDiagnosis *diagnosis);
char      *doctor_transcript_window_get_text (DoctorTranscriptWindow *self);

G_END_DECLS
