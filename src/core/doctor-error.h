/* doctor-error.h: the project's error domain.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Errors that the engine itself detects (as opposed to GIO and TLS errors, which are kept as
 * they are and only prefixed) carry these codes, so that the checks can classify a failure
 * without looking at message text.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DOCTOR_ERROR (doctor_error_quark ())

typedef enum
{
  DOCTOR_ERROR_INVALID_INPUT,     /* a user field that cannot go on the wire */
  DOCTOR_ERROR_TIMEOUT,           /* a deadline passed */
  DOCTOR_ERROR_LINE_TOO_LONG,     /* a reply line over its cap */
  DOCTOR_ERROR_REPLY_TOO_LONG,    /* a reply over its line or byte cap */
  DOCTOR_ERROR_NUL_BYTE,          /* a NUL byte inside a reply */
  DOCTOR_ERROR_MALFORMED_REPLY,   /* not "ddd" + SP / "-" / end of line, or mixed codes */
  DOCTOR_ERROR_CLOSED,            /* the server closed the connection */
  DOCTOR_ERROR_UNEXPECTED_DATA,   /* bytes that arrived when none were allowed */
} DoctorError;

GQuark doctor_error_quark (void);

G_END_DECLS
