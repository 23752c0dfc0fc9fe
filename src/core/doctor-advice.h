/* doctor-advice.h: what to do about a failed or doubtful check.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The advice for every reason code lives here, in the core, so that every front end gives the
 * same words. Commands are filled in with the target's host and port.
 */
#pragma once

#include "doctor-check.h"
#include "doctor-reply.h"
#include "doctor-target.h"

G_BEGIN_DECLS

/* Every reason code the engine can give, NULL-terminated; stable strings. */
const char *const *doctor_reason_list        (void);
gboolean           doctor_reason_is_known    (const char         *reason);

/* Adds the advice items for @reason to @check. @reply is the server reply that led to it, if
 * any (its enhanced code and text refine the advice). */
void               doctor_advice_add         (DoctorCheck        *check,
                                              const char         *reason,
                                              const DoctorTarget *target,
                                              const DoctorReply  *reply);

G_END_DECLS
