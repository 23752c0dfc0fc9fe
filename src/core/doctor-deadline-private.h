/* doctor-deadline-private.h: a cancellable that also fires when a deadline passes.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * GSocket timeouts measure inactivity, so a server that sends one byte a second never trips
 * them. Every wait in the engine instead gets a DoctorDeadline: a GCancellable that is
 * cancelled when the caller's cancellable is, or when the deadline passes, and that remembers
 * which of the two happened.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _DoctorDeadline DoctorDeadline;

DoctorDeadline *doctor_deadline_new             (GCancellable   *parent,
                                                 guint           timeout_ms);
void            doctor_deadline_free            (DoctorDeadline *deadline);
GCancellable   *doctor_deadline_get_cancellable (DoctorDeadline *deadline);
gboolean        doctor_deadline_expired         (DoctorDeadline *deadline);
guint           doctor_deadline_get_timeout_ms  (DoctorDeadline *deadline);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DoctorDeadline, doctor_deadline_free)

G_END_DECLS
