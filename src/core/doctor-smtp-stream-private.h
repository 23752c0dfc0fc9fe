/* doctor-smtp-stream-private.h: commands out, bounded replies in, each wait with a deadline.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "doctor-reply.h"

G_BEGIN_DECLS

/* Called for every line that crosses the wire, with secrets already masked. */
typedef void (*DoctorTranscriptFunc) (gboolean    from_server,
                                      gboolean    tls,
                                      const char *text,
                                      gpointer    user_data);

#define DOCTOR_TYPE_SMTP_STREAM (doctor_smtp_stream_get_type ())

G_DECLARE_FINAL_TYPE (DoctorSmtpStream, doctor_smtp_stream, DOCTOR, SMTP_STREAM, GObject)

DoctorSmtpStream *doctor_smtp_stream_new               (GIOStream            *stream,
                                                        DoctorTranscriptFunc  transcript,
                                                        gpointer              user_data);
GIOStream        *doctor_smtp_stream_get_stream        (DoctorSmtpStream     *self);
void              doctor_smtp_stream_stop_transcript   (DoctorSmtpStream     *self);
void              doctor_smtp_stream_set_secrets       (DoctorSmtpStream     *self,
                                                        const char *const    *secrets);
gboolean          doctor_smtp_stream_upgrade           (DoctorSmtpStream     *self,
                                                        GIOStream            *tls_stream,
                                                        GError              **error);
gboolean          doctor_smtp_stream_has_pending_input (DoctorSmtpStream     *self);
gboolean          doctor_smtp_stream_saw_bare_lf       (DoctorSmtpStream     *self);
void              doctor_smtp_stream_command_async     (DoctorSmtpStream     *self,
                                                        const char           *command,
                                                        const char           *shown,
                                                        guint                 timeout_ms,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
DoctorReply      *doctor_smtp_stream_command_finish    (DoctorSmtpStream     *self,
                                                        GAsyncResult         *result,
                                                        GError              **error);
void              doctor_smtp_stream_write_async       (DoctorSmtpStream     *self,
                                                        const char           *command,
                                                        const char           *shown,
                                                        guint                 timeout_ms,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
void              doctor_smtp_stream_write_lines_async (DoctorSmtpStream     *self,
                                                        const char *const    *lines,
                                                        guint                 timeout_ms,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
gboolean          doctor_smtp_stream_write_finish      (DoctorSmtpStream     *self,
                                                        GAsyncResult         *result,
                                                        GError              **error);

void              doctor_smtp_stream_quit              (DoctorSmtpStream     *self,
                                                        guint                 timeout_ms);

char             *doctor_smtp_encode_message           (const char           *message,
                                                        gsize                *length);

G_END_DECLS
