/* doctor-capabilities-private.h: the EHLO reply read as a list of extensions.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Internal to the core (the diagnosis and the fuzz-ehlo target): the parsing is kept apart
 * from the diagnosis so that the fuzzer drives the very code the conversation uses. The
 * reply comes from the bounded parser, so the list is at most DOCTOR_REPLY_MAX_LINES - 1
 * entries of at most DOCTOR_REPLY_MAX_LINE_LENGTH bytes each, and every entry is safe text.
 */
#pragma once

#include <glib.h>

#include "doctor-reply.h"

G_BEGIN_DECLS

GPtrArray  *doctor_capabilities_parse           (const DoctorReply *reply);
const char *doctor_capabilities_lookup          (GPtrArray         *capabilities,
                                                 const char        *keyword);
GStrv       doctor_capabilities_auth_mechanisms (GPtrArray         *capabilities);

G_END_DECLS
