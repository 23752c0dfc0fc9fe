/* doctor-smtp-stream.c: commands out, bounded replies in, each wait with a deadline.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The stream reads into a fixed buffer and hands the bytes to a DoctorReplyParser, which stops
 * at the end of each reply; bytes after it stay in the buffer for the next reply. Nothing else
 * buffers input, so after STARTTLS the engine can tell whether the server sent anything beyond
 * its 220 (an injection attempt) and no plaintext byte can reach the TLS side.
 *
 * Every operation has a deadline counted from its start (the command, or the connection for the
 * greeting), not from the last byte received.
 */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "doctor-deadline-private.h"
#include "doctor-error.h"
#include "doctor-smtp-stream-private.h"

#define READ_BUFFER_SIZE 4096

struct _DoctorSmtpStream
{
  GObject               parent_instance;

  GIOStream            *stream;
  GSocket              *socket;
  DoctorReplyParser    *parser;
  DoctorTranscriptFunc  transcript;
  gpointer              transcript_data;
  GStrv                 secrets;

  gsize                 buf_pos;
  gsize                 buf_len;
  guint8                buf[READ_BUFFER_SIZE];

  guint                 busy : 1;
  guint                 broken : 1;
  guint                 bare_lf : 1;
};

G_DEFINE_FINAL_TYPE (DoctorSmtpStream, doctor_smtp_stream, G_TYPE_OBJECT)

typedef struct
{
  DoctorDeadline *deadline;
  char           *out;
  gsize           out_len;
} CommandData;

static void
command_data_free (CommandData *data)
{
  g_clear_pointer (&data->deadline, doctor_deadline_free);
  /* The line may carry a credential. */
  if (data->out != NULL)
    explicit_bzero (data->out, data->out_len);
  g_free (data->out);
  g_free (data);
}

static void
doctor_smtp_stream_finalize (GObject *object)
{
  DoctorSmtpStream *self = (DoctorSmtpStream *)object;

  g_clear_object (&self->stream);
  g_clear_object (&self->socket);
  g_clear_pointer (&self->parser, doctor_reply_parser_free);
  if (self->secrets != NULL)
    {
      for (guint i = 0; self->secrets[i] != NULL; i++)
        explicit_bzero (self->secrets[i], strlen (self->secrets[i]));
      g_clear_pointer (&self->secrets, g_strfreev);
    }

  G_OBJECT_CLASS (doctor_smtp_stream_parent_class)->finalize (object);
}

static void
doctor_smtp_stream_class_init (DoctorSmtpStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = doctor_smtp_stream_finalize;
}

static void
doctor_smtp_stream_init (DoctorSmtpStream *self)
{
  self->parser = doctor_reply_parser_new ();
}

DoctorSmtpStream *
doctor_smtp_stream_new (GIOStream            *stream,
                        DoctorTranscriptFunc  transcript,
                        gpointer              user_data)
{
  DoctorSmtpStream *self;

  g_return_val_if_fail (G_IS_IO_STREAM (stream), NULL);

  self = g_object_new (DOCTOR_TYPE_SMTP_STREAM, NULL);
  self->stream = g_object_ref (stream);
  if (G_IS_SOCKET_CONNECTION (stream))
    self->socket = g_object_ref (g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream)));
  self->transcript = transcript;
  self->transcript_data = user_data;

  return self;
}

GIOStream *
doctor_smtp_stream_get_stream (DoctorSmtpStream *self)
{
  g_return_val_if_fail (DOCTOR_IS_SMTP_STREAM (self), NULL);

  return self->stream;
}

/* After this no line is reported: for reads that may outlive the transcript's owner. */
void
doctor_smtp_stream_stop_transcript (DoctorSmtpStream *self)
{
  g_return_if_fail (DOCTOR_IS_SMTP_STREAM (self));

  self->transcript = NULL;
  self->transcript_data = NULL;
}

/* Strings that must never come back out of the stream: a server that echoes a command it
 * did not understand ("500 unknown command AUTH PLAIN AGFh…") would otherwise put the
 * credential into the transcript, the details and every report. */
void
doctor_smtp_stream_set_secrets (DoctorSmtpStream  *self,
                                const char *const *secrets)
{
  g_return_if_fail (DOCTOR_IS_SMTP_STREAM (self));

  g_clear_pointer (&self->secrets, g_strfreev);
  self->secrets = g_strdupv ((GStrv) secrets);
}

static char *
redact (DoctorSmtpStream *self,
        const char       *text)
{
  GString *str = g_string_new (text);

  for (guint i = 0; self->secrets != NULL && self->secrets[i] != NULL; i++)
    {
      if (*self->secrets[i] != '\0')
        g_string_replace (str, self->secrets[i], "****", 0);
    }

  return g_string_free (str, FALSE);
}

static void
redact_reply (DoctorSmtpStream *self,
              DoctorReply      *reply)
{
  if (self->secrets == NULL)
    return;

  for (guint i = 0; i < reply->lines->len; i++)
    {
      char *line = g_ptr_array_index (reply->lines, i);

      g_ptr_array_index (reply->lines, i) = redact (self, line);
      g_free (line);
    }
}

gboolean
doctor_smtp_stream_saw_bare_lf (DoctorSmtpStream *self)
{
  return self->bare_lf;
}

/* TRUE when the server sent anything that no command has asked for yet: bytes in the buffer,
 * part of a reply in the parser, or bytes waiting in the socket. */
gboolean
doctor_smtp_stream_has_pending_input (DoctorSmtpStream *self)
{
  g_return_val_if_fail (DOCTOR_IS_SMTP_STREAM (self), FALSE);

  if (self->buf_pos < self->buf_len || !doctor_reply_parser_is_idle (self->parser))
    return TRUE;

  /* A server that only hung up makes the socket readable too, but sent no data: that is for
   * the next read to report as a closed connection, not an injection. */
  if (self->socket != NULL && !G_IS_TLS_CONNECTION (self->stream))
    return (g_socket_condition_check (self->socket, G_IO_IN) & G_IO_IN) != 0 &&
           g_socket_get_available_bytes (self->socket) > 0;

  return FALSE;
}

/* Continues the conversation on @tls_stream. Refused while unread input is waiting: it arrived
 * in plaintext and must never be taken as if it came over TLS. */
gboolean
doctor_smtp_stream_upgrade (DoctorSmtpStream  *self,
                            GIOStream         *tls_stream,
                            GError           **error)
{
  g_return_val_if_fail (DOCTOR_IS_SMTP_STREAM (self), FALSE);
  g_return_val_if_fail (G_IS_IO_STREAM (tls_stream), FALSE);
  g_return_val_if_fail (!self->busy, FALSE);

  /* Only what this stream itself read counts here: once the handshake is done the socket
   * holds TLS records (the greeting, session tickets), which are not plaintext. */
  if (self->buf_pos < self->buf_len || !doctor_reply_parser_is_idle (self->parser))
    {
      g_set_error_literal (error, DOCTOR_ERROR, DOCTOR_ERROR_UNEXPECTED_DATA,
                           _("The server sent data before the TLS handshake"));
      return FALSE;
    }

  g_set_object (&self->stream, tls_stream);
  doctor_reply_parser_reset (self->parser);

  return TRUE;
}

static void
record (DoctorSmtpStream *self,
        gboolean          from_server,
        const char       *text)
{
  if (self->transcript != NULL)
    self->transcript (from_server, G_IS_TLS_CONNECTION (self->stream), text,
                      self->transcript_data);
}

static void
record_reply (DoctorSmtpStream  *self,
              const DoctorReply *reply)
{
  g_autofree char *text = doctor_reply_to_string (reply);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    record (self, TRUE, lines[i]);
}

static void
record_partial (DoctorSmtpStream *self)
{
  g_autofree char *partial = doctor_reply_parser_get_partial (self->parser);

  if (partial != NULL)
    {
      g_autofree char *clean = redact (self, partial);
      g_autofree char *text = g_strdup_printf (_("%s (incomplete)"), clean);

      record (self, TRUE, text);
    }
}

static void
return_error (GTask  *task,
              GError *error)
{
  DoctorSmtpStream *self = g_task_get_source_object (task);
  CommandData *data = g_task_get_task_data (task);

  self->busy = FALSE;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
      doctor_deadline_expired (data->deadline))
    {
      guint ms = doctor_deadline_get_timeout_ms (data->deadline);

      g_clear_error (&error);
      self->broken = TRUE;
      record_partial (self);
      g_task_return_new_error (task, DOCTOR_ERROR, DOCTOR_ERROR_TIMEOUT,
                               g_dngettext (GETTEXT_PACKAGE,
                                            "No complete reply within %u second",
                                            "No complete reply within %u seconds",
                                            (ms + 999) / 1000),
                               (ms + 999) / 1000);
      return;
    }

  /* After any error, a cancel included, where the conversation stands is unknown. */
  self->broken = TRUE;
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    record_partial (self);

  g_task_return_error (task, error);
}

static void read_more (GTask *task);

static void
on_read (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  DoctorSmtpStream *self = g_task_get_source_object (task);
  GError *error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (object), result, &error);

  if (n < 0)
    {
      if (g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_EOF))
        {
          g_autoptr(GError) cause = error;

          error = g_error_new (DOCTOR_ERROR, DOCTOR_ERROR_CLOSED,
                               _("The server ended the TLS connection without a proper close "
                                 "(%s)"), cause->message);
        }
      return_error (task, error);
      return;
    }

  if (n == 0)
    {
      return_error (task, g_error_new_literal (DOCTOR_ERROR, DOCTOR_ERROR_CLOSED,
                                               doctor_reply_parser_is_idle (self->parser)
                                               ? _("The server closed the connection")
                                               : _("The server closed the connection in the "
                                                   "middle of a reply")));
      return;
    }

  self->buf_pos = 0;
  self->buf_len = n;
  read_more (g_steal_pointer (&task));
}

static void
read_more (GTask *task)
{
  DoctorSmtpStream *self = g_task_get_source_object (task);
  CommandData *data = g_task_get_task_data (task);

  if (self->buf_pos < self->buf_len)
    {
      g_autoptr(DoctorReply) reply = NULL;
      GError *error = NULL;
      DoctorParseStatus status;
      gsize consumed = 0;

      status = doctor_reply_parser_feed (self->parser, self->buf + self->buf_pos,
                                         self->buf_len - self->buf_pos, &consumed, &reply, &error);
      self->buf_pos += consumed;

      if (status == DOCTOR_PARSE_ERROR)
        {
          self->broken = TRUE;
          self->busy = FALSE;
          g_task_return_error (task, error);
          g_object_unref (task);
          return;
        }

      if (status == DOCTOR_PARSE_REPLY)
        {
          redact_reply (self, reply);
          record_reply (self, reply);
          if (reply->bare_lf)
            self->bare_lf = TRUE;
          self->busy = FALSE;
          g_task_return_pointer (task, g_steal_pointer (&reply), (GDestroyNotify) doctor_reply_free);
          g_object_unref (task);
          return;
        }
    }

  self->buf_pos = self->buf_len = 0;
  g_input_stream_read_async (g_io_stream_get_input_stream (self->stream),
                             self->buf, sizeof self->buf, G_PRIORITY_DEFAULT,
                             doctor_deadline_get_cancellable (data->deadline),
                             on_read, task);
}

static void
on_written (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (object), result, NULL, &error))
    {
      return_error (task, error);
      return;
    }

  read_more (g_steal_pointer (&task));
}

/* The start of every operation: a task whose deadline counts from now. Returns NULL (and has
 * completed the task with an error) when the stream can no longer be used. */
static GTask *
start_task (DoctorSmtpStream    *self,
            gpointer             source_tag,
            guint                timeout_ms,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  CommandData *data;

  g_task_set_source_tag (task, source_tag);
  g_task_set_check_cancellable (task, FALSE);

  data = g_new0 (CommandData, 1);
  data->deadline = doctor_deadline_new (cancellable, timeout_ms);
  g_task_set_task_data (task, data, (GDestroyNotify) command_data_free);

  if (self->broken)
    {
      g_task_return_new_error (task, DOCTOR_ERROR, DOCTOR_ERROR_CLOSED,
                               _("The connection can no longer be used"));
      return NULL;
    }

  return g_steal_pointer (&task);
}

/* Writes @command and its CRLF; @callback continues with the task. */
static void
send_line (DoctorSmtpStream    *self,
           GTask               *task,
           const char          *command,
           const char          *shown,
           GAsyncReadyCallback  callback)
{
  CommandData *data = g_task_get_task_data (task);

  self->busy = TRUE;
  record (self, FALSE, shown != NULL ? shown : command);
  data->out = g_strconcat (command, "\r\n", NULL);
  data->out_len = strlen (data->out);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (self->stream),
                                   data->out, data->out_len,
                                   G_PRIORITY_DEFAULT,
                                   doctor_deadline_get_cancellable (data->deadline),
                                   callback, task);
}

/* Sends @command (without its CRLF; NULL to send nothing) and reads one reply, both within
 * @timeout_ms. @shown is what the transcript records instead of the command (for secrets). */
void
doctor_smtp_stream_command_async (DoctorSmtpStream    *self,
                                  const char          *command,
                                  const char          *shown,
                                  guint                timeout_ms,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (DOCTOR_IS_SMTP_STREAM (self));
  g_return_if_fail (!self->busy);

  task = start_task (self, doctor_smtp_stream_command_async, timeout_ms, cancellable,
                     callback, user_data);
  if (task == NULL)
    return;

  if (command != NULL && doctor_smtp_stream_has_pending_input (self))
    {
      /* A server speaks only when spoken to (RFC 5321 §4.3.1, without PIPELINING): a reply
       * that is already waiting would be taken as the answer to this command. */
      g_autofree char *partial = NULL;

      self->broken = TRUE;
      if (self->buf_pos < self->buf_len)
        partial = doctor_text_make_safe ((const char *) self->buf + self->buf_pos,
                                         MIN (self->buf_len - self->buf_pos, 200));
      if (partial != NULL)
        {
          g_autofree char *clean = redact (self, partial);

          record (self, TRUE, clean);
        }
      g_task_return_new_error (task, DOCTOR_ERROR, DOCTOR_ERROR_UNEXPECTED_DATA,
                               _("The server sent data before it was asked for anything"));
      return;
    }

  if (command == NULL)
    {
      self->busy = TRUE;
      read_more (g_steal_pointer (&task));
      return;
    }

  send_line (self, g_steal_pointer (&task), command, shown, on_written);
}

static void
on_written_only (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  DoctorSmtpStream *self = g_task_get_source_object (task);
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (object), result, NULL, &error))
    {
      return_error (task, error);
      return;
    }

  self->busy = FALSE;
  g_task_return_boolean (task, TRUE);
}

/* Sends @command without waiting for its reply (for QUIT, and for pipelined commands whose
 * replies are read later with doctor_smtp_stream_command_async (self, NULL, …)). */
void
doctor_smtp_stream_write_async (DoctorSmtpStream    *self,
                                const char          *command,
                                const char          *shown,
                                guint                timeout_ms,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (DOCTOR_IS_SMTP_STREAM (self));
  g_return_if_fail (command != NULL);
  g_return_if_fail (!self->busy);

  task = start_task (self, doctor_smtp_stream_write_async, timeout_ms, cancellable,
                     callback, user_data);
  if (task == NULL)
    return;

  send_line (self, g_steal_pointer (&task), command, shown, on_written_only);
}

/* Sends @lines (NULL-terminated, each without its CRLF) in one write, without waiting for any
 * reply: a pipelined group (RFC 2920), whose replies are then read one by one with
 * doctor_smtp_stream_command_async (self, NULL, …), in order. The transcript shows each line as
 * it is sent, so it reads in wire order: the group, then its replies. For lines that carry no
 * secret. Finish with doctor_smtp_stream_write_finish(). */
void
doctor_smtp_stream_write_lines_async (DoctorSmtpStream    *self,
                                      const char *const   *lines,
                                      guint                timeout_ms,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  CommandData *data;
  GString *out;

  g_return_if_fail (DOCTOR_IS_SMTP_STREAM (self));
  g_return_if_fail (lines != NULL && lines[0] != NULL);
  g_return_if_fail (!self->busy);

  task = start_task (self, doctor_smtp_stream_write_lines_async, timeout_ms, cancellable,
                     callback, user_data);
  if (task == NULL)
    return;

  data = g_task_get_task_data (task);
  out = g_string_new (NULL);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      record (self, FALSE, lines[i]);
      g_string_append (out, lines[i]);
      g_string_append (out, "\r\n");
    }
  data->out_len = out->len;
  data->out = g_string_free (out, FALSE);

  self->busy = TRUE;
  g_output_stream_write_all_async (g_io_stream_get_output_stream (self->stream),
                                   data->out, data->out_len,
                                   G_PRIORITY_DEFAULT,
                                   doctor_deadline_get_cancellable (data->deadline),
                                   on_written_only, g_steal_pointer (&task));
}

gboolean
doctor_smtp_stream_write_finish (DoctorSmtpStream  *self,
                                 GAsyncResult      *result,
                                 GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
close_quietly (GIOStream *stream)
{
  g_io_stream_close_async (stream, G_PRIORITY_LOW, NULL, NULL, NULL);
}

static void
on_quit_reply (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  DoctorSmtpStream *self = DOCTOR_SMTP_STREAM (object);
  g_autoptr(DoctorReply) reply = NULL;

  reply = doctor_smtp_stream_command_finish (self, result, NULL);
  close_quietly (self->stream);
}

static void
on_quit_written (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  DoctorSmtpStream *self = DOCTOR_SMTP_STREAM (object);
  guint timeout_ms = GPOINTER_TO_UINT (user_data);

  /* The 221 is read only so that the server closes first. */
  if (doctor_smtp_stream_write_finish (self, result, NULL))
    doctor_smtp_stream_command_async (self, NULL, NULL, timeout_ms, NULL, on_quit_reply, NULL);
  else
    close_quietly (self->stream);
}

/* Ends the conversation with QUIT, then closes; nobody waits for it, and it may outlive whoever
 * called it (the tasks keep the stream alive, and no line is reported any more). */
void
doctor_smtp_stream_quit (DoctorSmtpStream *self,
                         guint             timeout_ms)
{
  g_return_if_fail (DOCTOR_IS_SMTP_STREAM (self));

  doctor_smtp_stream_stop_transcript (self);
  doctor_smtp_stream_write_async (self, "QUIT", NULL, timeout_ms, NULL, on_quit_written,
                                  GUINT_TO_POINTER (timeout_ms));
}

/* The DATA payload: line ends made CRLF, lines starting with "." doubled (RFC 5321 §4.5.2),
 * and the terminating "." line, without its final CRLF (the command adds it). */
char *
doctor_smtp_encode_message (const char *message,
                            gsize      *length)
{
  GString *str = g_string_sized_new (strlen (message) + 64);
  gboolean line_start = TRUE;

  for (const char *p = message; *p; p++)
    {
      if (line_start && *p == '.')
        g_string_append_c (str, '.');

      if (*p == '\r' && p[1] == '\n')
        continue;

      if (*p == '\n' || *p == '\r')
        {
          g_string_append (str, "\r\n");
          line_start = TRUE;
          continue;
        }

      g_string_append_c (str, *p);
      line_start = FALSE;
    }

  if (!line_start)
    g_string_append (str, "\r\n");
  g_string_append_c (str, '.');

  if (length != NULL)
    *length = str->len;

  return g_string_free (str, FALSE);
}

DoctorReply *
doctor_smtp_stream_command_finish (DoctorSmtpStream  *self,
                                   GAsyncResult      *result,
                                   GError           **error)
{
  g_return_val_if_fail (DOCTOR_IS_SMTP_STREAM (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
