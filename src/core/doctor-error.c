/* doctor-error.c: the project's error domain.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "doctor-error.h"

G_DEFINE_QUARK (doctor-error-quark, doctor_error)
