/* doctor-cli-output.h: the checklist on a terminal or in a pipe.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "doctor-diagnosis.h"

G_BEGIN_DECLS

typedef struct _DoctorCliOutput DoctorCliOutput;

DoctorCliOutput *doctor_cli_output_new     (DoctorDiagnosis *diagnosis,
                                            FILE            *file,
                                            gboolean         verbose);
void             doctor_cli_output_free    (DoctorCliOutput *output);
void             doctor_cli_output_header  (DoctorCliOutput *output);
void             doctor_cli_output_finish  (DoctorCliOutput *output);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DoctorCliOutput, doctor_cli_output_free)

G_END_DECLS
