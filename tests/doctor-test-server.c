/* doctor-test-server.c: a scripted SMTP server on 127.0.0.1 for the engine tests.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every accepted connection is a small state machine that plays its script one step at a
 * time. Exactly one asynchronous operation (a read, a write, a handshake or a timer) is
 * pending per connection at any moment, and that operation owns the connection's "chain"
 * reference, so a connection lives exactly as long as something can still call back into it.
 * The server keeps a second reference in its list. Tearing the server down cancels every
 * connection and then iterates the main context until all of them have let go, so nothing
 * leaks into the next test and no callback ever runs on freed memory.
 *
 * Lines are read with a small buffer of our own rather than GDataInputStream, so that no byte
 * read before a STARTTLS handshake can hide in a buffer and be lost (or replayed) after it.
 */
#include <stdarg.h>
#include <string.h>

#include "doctor-test-server.h"

#define MAX_CLIENT_LINE   (1024 * 1024)
#define READ_CHUNK        4096
#define ENDLESS_CHUNK     (64 * 1024)
#define TEARDOWN_MAX_MS   3000

typedef enum
{
  STEP_SEND,
  STEP_EXPECT,
  STEP_SEND_SLOWLY,
  STEP_WAIT,
  STEP_CLOSE,
  STEP_START_TLS,
  STEP_SILENT,
  STEP_SEND_ENDLESS,
  STEP_EXPECT_MESSAGE,
} StepKind;

typedef struct
{
  StepKind  kind;
  GBytes   *data;       /* SEND, SEND_SLOWLY */
  char     *text;       /* EXPECT prefix, START_TLS certificate name */
  guint     ms;         /* SEND_SLOWLY delay, WAIT */
  gsize     cap;        /* SEND_ENDLESS */
  gboolean  notify;     /* CLOSE: send a TLS close_notify */
} Step;

typedef struct
{
  char *prefix;
  char *reply;
} Responder;

struct _DoctorTestScript
{
  GPtrArray *steps;       /* (element-type Step) */
  GPtrArray *responders;  /* (element-type Responder) */
};

typedef enum
{
  READ_FOR_EXPECT,        /* one line for the current EXPECT step */
  READ_FOR_MESSAGE,       /* lines up to the "." that ends a DATA message */
  READ_DRAIN,             /* lines until EOF, answering responders */
  READ_SILENT,            /* lines until EOF, answering nothing */
} ReadMode;

typedef struct _Connection Connection;

struct _DoctorTestServer
{
  GSocketService *service;
  GMainContext   *context;
  guint16         port;
  GPtrArray      *scripts;        /* (element-type DoctorTestScript) */
  GPtrArray      *connections;    /* (element-type Connection) */
  GPtrArray      *received;       /* (element-type utf8) every line from every connection */
  GPtrArray      *failures;       /* (element-type utf8) */
  guint           n_handshakes;
  guint           n_finished;
  guint64         bytes_sent;
};

struct _Connection
{
  gatomicrefcount    ref_count;
  DoctorTestServer  *server;       /* NULL once the server has gone */
  guint              index;
  gint64             accepted_us;  /* monotonic */
  gint64             finished_us;
  DoctorTestScript  *script;       /* (owned) */
  guint              step;

  GSocketConnection *tcp;
  GIOStream         *stream;       /* tcp, or the TLS connection on top of it */
  gboolean           tls;
  GCancellable      *cancellable;
  GSource           *timer;

  GByteArray        *inbuf;
  GArray            *inbuf_reads;  /* (element-type ReadMark) which read brought which bytes */
  guint              n_reads;
  guint              line_read;    /* the read that completed the line being taken */
  GArray            *received_reads; /* (element-type guint) line_read of each received line */
  guint8             chunk[READ_CHUNK];
  ReadMode           read_mode;
  GPtrArray         *received;     /* (element-type utf8) */

  gsize              progress;     /* SEND_SLOWLY position, SEND_ENDLESS bytes written */
  gboolean           finished;
};

/* The bytes of inbuf up to @end came with read number @read. */
typedef struct
{
  gsize end;
  guint read;
} ReadMark;

/* Connections that still exist anywhere, so that teardown can wait for all of them. */
static guint live_connections;

static GBytes *endless_chunk;

static void conn_next        (Connection *conn);
static void conn_read        (Connection *conn);
static void conn_finish      (Connection *conn);
static void conn_take_line   (Connection *conn,
                              char       *line);

/* Scripts */

static void
step_free (gpointer data)
{
  Step *step = data;

  g_clear_pointer (&step->data, g_bytes_unref);
  g_free (step->text);
  g_free (step);
}

static void
responder_free (gpointer data)
{
  Responder *responder = data;

  g_free (responder->prefix);
  g_free (responder->reply);
  g_free (responder);
}

static void
script_clear (gpointer data)
{
  DoctorTestScript *script = data;

  g_ptr_array_unref (script->steps);
  g_ptr_array_unref (script->responders);
}

static DoctorTestScript *
script_new (void)
{
  DoctorTestScript *script = g_rc_box_new0 (DoctorTestScript);

  script->steps = g_ptr_array_new_with_free_func (step_free);
  script->responders = g_ptr_array_new_with_free_func (responder_free);
  return script;
}

static void
script_unref (gpointer data)
{
  g_rc_box_release_full (data, script_clear);
}

static Step *
script_add (DoctorTestScript *script,
            StepKind          kind)
{
  Step *step = g_new0 (Step, 1);

  step->kind = kind;
  g_ptr_array_add (script->steps, step);
  return step;
}

void
doctor_test_script_send_bytes (DoctorTestScript *script,
                               const void       *data,
                               gsize             length)
{
  Step *step = script_add (script, STEP_SEND);

  step->data = g_bytes_new (data, length);
}

void
doctor_test_script_send (DoctorTestScript *script,
                         const char       *text)
{
  doctor_test_script_send_bytes (script, text, strlen (text));
}

void
doctor_test_script_expect (DoctorTestScript *script,
                           const char       *prefix)
{
  Step *step = script_add (script, STEP_EXPECT);

  step->text = g_strdup (prefix);
}

void
doctor_test_script_send_slowly (DoctorTestScript *script,
                                const char       *text,
                                guint             delay_ms)
{
  Step *step = script_add (script, STEP_SEND_SLOWLY);

  step->data = g_bytes_new (text, strlen (text));
  step->ms = delay_ms;
}

void
doctor_test_script_wait (DoctorTestScript *script,
                         guint             ms)
{
  Step *step = script_add (script, STEP_WAIT);

  step->ms = ms;
}

void
doctor_test_script_close (DoctorTestScript *script)
{
  Step *step = script_add (script, STEP_CLOSE);

  step->notify = TRUE;
}

void
doctor_test_script_close_abruptly (DoctorTestScript *script)
{
  script_add (script, STEP_CLOSE);
}

void
doctor_test_script_start_tls (DoctorTestScript *script,
                              const char       *cert_name)
{
  Step *step = script_add (script, STEP_START_TLS);

  step->text = g_strdup (cert_name);
}

void
doctor_test_script_silent (DoctorTestScript *script)
{
  script_add (script, STEP_SILENT);
}

void
doctor_test_script_send_endless (DoctorTestScript *script,
                                 gsize             cap)
{
  Step *step = script_add (script, STEP_SEND_ENDLESS);

  step->cap = cap != 0 ? cap : DOCTOR_TEST_ENDLESS_CAP;
}

void
doctor_test_script_expect_message (DoctorTestScript *script)
{
  script_add (script, STEP_EXPECT_MESSAGE);
}

void
doctor_test_script_on_line (DoctorTestScript *script,
                            const char       *prefix,
                            const char       *reply)
{
  Responder *responder = g_new0 (Responder, 1);

  responder->prefix = g_strdup (prefix);
  responder->reply = g_strdup (reply);
  g_ptr_array_add (script->responders, responder);
}

/* Connections */

static Connection *
conn_ref (Connection *conn)
{
  g_atomic_ref_count_inc (&conn->ref_count);
  return conn;
}

static void
conn_unref (gpointer data)
{
  Connection *conn = data;

  if (!g_atomic_ref_count_dec (&conn->ref_count))
    return;

  g_assert (conn->timer == NULL);
  g_clear_pointer (&conn->script, script_unref);
  g_clear_object (&conn->stream);
  g_clear_object (&conn->tcp);
  g_clear_object (&conn->cancellable);
  g_byte_array_unref (conn->inbuf);
  g_array_unref (conn->inbuf_reads);
  g_ptr_array_unref (conn->received);
  g_array_unref (conn->received_reads);
  g_free (conn);

  live_connections--;
}

static void G_GNUC_PRINTF (2, 3)
conn_fail (Connection *conn,
           const char *format,
           ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_debug ("test server: connection %u: script failure: %s", conn->index, message);
  if (conn->server != NULL)
    g_ptr_array_add (conn->server->failures,
                     g_strdup_printf ("connection %u, step %u: %s",
                                      conn->index, conn->step, message));
}

static GSocket *
conn_get_socket (Connection *conn)
{
  return g_socket_connection_get_socket (conn->tcp);
}

/* Ends the connection at once: no close_notify, the socket closed under every stream. The
 * pending operation, if any, completes later with G_IO_ERROR_CANCELLED and drops its
 * reference. */
static void
conn_finish (Connection *conn)
{
  if (conn->finished)
    return;

  conn->finished = TRUE;
  conn->finished_us = g_get_monotonic_time ();
  g_debug ("test server: connection %u: finished", conn->index);

  if (conn->timer != NULL)
    {
      GSource *timer = g_steal_pointer (&conn->timer);

      g_source_destroy (timer);
      g_source_unref (timer);
    }

  g_cancellable_cancel (conn->cancellable);
  g_socket_close (conn_get_socket (conn), NULL);

  if (conn->server != NULL)
    conn->server->n_finished++;
}

static gboolean
conn_is_done (Connection *conn,
              GError     *error)
{
  if (conn->finished)
    return TRUE;

  if (error != NULL)
    {
      g_debug ("test server: connection %u: %s", conn->index, error->message);
      conn_finish (conn);
      return TRUE;
    }

  return FALSE;
}

static GInputStream *
conn_input (Connection *conn)
{
  return g_io_stream_get_input_stream (conn->stream);
}

static GOutputStream *
conn_output (Connection *conn)
{
  return g_io_stream_get_output_stream (conn->stream);
}

static void
conn_account_sent (Connection *conn,
                   gsize       n)
{
  if (conn->server != NULL)
    conn->server->bytes_sent += n;
}

/* The timer owns the chain reference while it is armed. */
static gboolean
conn_timer_cb (gpointer data)
{
  Connection *conn = data;

  g_clear_pointer (&conn->timer, g_source_unref);
  conn_next (conn_ref (conn));
  return G_SOURCE_REMOVE;
}

static void
conn_arm_timer (Connection  *conn,
                guint        ms,
                GSourceFunc  callback)
{
  GSource *timer = g_timeout_source_new (ms);

  g_source_set_callback (timer, callback, conn, conn_unref);
  g_source_attach (timer, conn->server != NULL ? conn->server->context : NULL);
  conn->timer = timer;
}

static void
conn_write_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Connection *conn = user_data;
  g_autoptr(GError) error = NULL;
  gsize written = 0;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &written, &error);
  conn_account_sent (conn, written);

  if (conn_is_done (conn, error))
    {
      conn_unref (conn);
      return;
    }

  conn_next (conn);
}

static void
conn_write (Connection          *conn,
            GBytes              *bytes,
            GAsyncReadyCallback  callback)
{
  gsize length;
  const void *data = g_bytes_get_data (bytes, &length);

  /* The write keeps the bytes alive through the step, which the script owns. */
  g_output_stream_write_all_async (conn_output (conn), data, length, G_PRIORITY_DEFAULT,
                                   conn->cancellable, callback, conn);
}

/* SEND_SLOWLY writes one byte, waits, and comes back here until the text is out. */
static void
conn_slow_write_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Connection *conn = user_data;
  const Step *step = g_ptr_array_index (conn->script->steps, conn->step);
  g_autoptr(GError) error = NULL;
  gsize written = 0;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &written, &error);
  conn_account_sent (conn, written);

  if (conn_is_done (conn, error))
    {
      conn_unref (conn);
      return;
    }

  conn->progress++;
  if (conn->progress >= g_bytes_get_size (step->data))
    {
      conn->progress = 0;
      conn->step++;
      conn_next (conn);
      return;
    }

  conn_arm_timer (conn, step->ms, conn_timer_cb);
}

static void
conn_endless_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Connection *conn = user_data;
  const Step *step = g_ptr_array_index (conn->script->steps, conn->step);
  g_autoptr(GError) error = NULL;
  gsize written = 0;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &written, &error);
  conn_account_sent (conn, written);
  conn->progress += written;

  if (conn_is_done (conn, error))
    {
      conn_unref (conn);
      return;
    }

  if (conn->progress >= step->cap)
    {
      conn->progress = 0;
      conn->step++;
    }

  conn_next (conn);
}

static void
conn_handshake_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Connection *conn = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      /* A client that rejects the certificate ends the handshake; that is what the
       * certificate tests want, so it is not a script failure. */
      g_debug ("test server: connection %u: TLS handshake failed: %s",
               conn->index, error->message);
      conn_finish (conn);
      conn_unref (conn);
      return;
    }

  if (conn->finished)
    {
      conn_unref (conn);
      return;
    }

  if (conn->server != NULL)
    conn->server->n_handshakes++;

  conn->step++;
  conn_next (conn);
}

static void
conn_start_tls (Connection *conn,
                const Step *step)
{
  g_autofree char *cert_file = NULL;
  g_autofree char *key_name = NULL;
  g_autofree char *key_file = NULL;
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(GError) error = NULL;
  GIOStream *tls;

  if (conn->inbuf->len > 0)
    conn_fail (conn, "the client sent %u bytes before the TLS handshake", conn->inbuf->len);
  g_byte_array_set_size (conn->inbuf, 0);
  g_array_set_size (conn->inbuf_reads, 0);

  cert_file = doctor_test_cert_path (step->text);
  key_name = g_strconcat (step->text, "-key", NULL);
  key_file = doctor_test_cert_path (key_name);
  if (cert_file == NULL || key_file == NULL)
    {
      conn_fail (conn, "DOCTOR_TEST_CERTS is not set");
      conn_finish (conn);
      conn_unref (conn);
      return;
    }

  certificate = g_tls_certificate_new_from_files (cert_file, key_file, &error);
  if (certificate == NULL)
    {
      conn_fail (conn, "cannot load certificate %s: %s", step->text, error->message);
      conn_finish (conn);
      conn_unref (conn);
      return;
    }

  tls = g_tls_server_connection_new (conn->stream, certificate, &error);
  if (tls == NULL)
    {
      conn_fail (conn, "cannot make a TLS server connection: %s", error->message);
      conn_finish (conn);
      conn_unref (conn);
      return;
    }

  /* Clients that hang up without a close_notify are the normal case here. */
  g_tls_connection_set_require_close_notify (G_TLS_CONNECTION (tls), FALSE);
  g_set_object (&conn->stream, tls);
  g_object_unref (tls);
  conn->tls = TRUE;

  g_tls_connection_handshake_async (G_TLS_CONNECTION (conn->stream), G_PRIORITY_DEFAULT,
                                    conn->cancellable, conn_handshake_cb, conn);
}

static void
conn_close_notify_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  Connection *conn = user_data;
  g_autoptr(GError) error = NULL;

  /* Closing the TLS output side sends close_notify; the peer may already be gone. */
  if (!g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, &error))
    g_debug ("test server: connection %u: close_notify: %s", conn->index, error->message);

  if (conn->finished)
    {
      conn_unref (conn);
      return;
    }

  g_socket_shutdown (conn_get_socket (conn), FALSE, TRUE, NULL);
  conn->read_mode = READ_SILENT;
  conn->step = conn->script->steps->len;
  conn_read (conn);
}

/* CLOSE half-closes: the client sees a clean end of stream (FIN, not a reset, even when it
 * sent something the script did not read), and the server goes on recording what the client
 * sends until it hangs up. */
static void
conn_close (Connection *conn,
            const Step *step)
{
  if (conn->tls && step->notify)
    {
      g_output_stream_close_async (conn_output (conn), G_PRIORITY_DEFAULT, conn->cancellable,
                                   conn_close_notify_cb, conn);
      return;
    }

  g_socket_shutdown (conn_get_socket (conn), FALSE, TRUE, NULL);
  conn->read_mode = READ_SILENT;
  conn->step = conn->script->steps->len;
  conn_read (conn);
}

/* Takes one line out of the input buffer, or returns FALSE. The line keeps its bytes, NUL
 * included, up to the first NUL; CR LF or LF is stripped. */
/* Notes which read brought the last of the @n bytes about to leave inbuf (the line's LF). */
static void
conn_consume_reads (Connection *conn,
                    gsize       n)
{
  guint drop = 0;

  conn->line_read = conn->n_reads;
  for (guint i = conn->inbuf_reads->len; i > 0; i--)
    {
      ReadMark *mark = &g_array_index (conn->inbuf_reads, ReadMark, i - 1);

      /* Ends grow with i: the first mark that reaches past the line's last byte brought it. */
      if (mark->end >= n)
        conn->line_read = mark->read;
    }

  for (guint i = 0; i < conn->inbuf_reads->len; i++)
    {
      ReadMark *mark = &g_array_index (conn->inbuf_reads, ReadMark, i);

      if (mark->end <= n)
        drop = i + 1;
      else
        mark->end -= n;
    }
  g_array_remove_range (conn->inbuf_reads, 0, drop);
}

static gboolean
conn_pop_line (Connection  *conn,
               char       **line)
{
  guint8 *lf;
  gsize length;

  if (conn->inbuf->len == 0)
    return FALSE;

  lf = memchr (conn->inbuf->data, '\n', conn->inbuf->len);
  if (lf == NULL)
    return FALSE;

  length = lf - conn->inbuf->data;
  if (length > 0 && conn->inbuf->data[length - 1] == '\r')
    length--;

  *line = g_strndup ((const char *) conn->inbuf->data, length);
  conn_consume_reads (conn, (lf - conn->inbuf->data) + 1);
  g_byte_array_remove_range (conn->inbuf, 0, (lf - conn->inbuf->data) + 1);
  return TRUE;
}

static void
conn_record (Connection *conn,
             const char *line)
{
  /* A ClientHello sent to a plaintext script arrives here as a "line" of binary. */
  g_autofree char *shown = g_strescape (line, NULL);

  g_debug ("test server: connection %u: C: %s", conn->index, shown);
  g_ptr_array_add (conn->received, g_strdup (line));
  g_array_append_val (conn->received_reads, conn->line_read);
  if (conn->server != NULL)
    g_ptr_array_add (conn->server->received, g_strdup (line));
}

static void
conn_reply_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Connection *conn = user_data;
  g_autoptr(GError) error = NULL;
  gsize written = 0;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &written, &error);
  conn_account_sent (conn, written);

  if (conn_is_done (conn, error))
    {
      conn_unref (conn);
      return;
    }

  conn_read (conn);
}

/* Consumes @line (owned) according to the read mode; keeps the chain going. */
static void
conn_take_line (Connection *conn,
                char       *line)
{
  g_autofree char *owned = line;

  conn_record (conn, owned);

  if (conn->read_mode == READ_FOR_EXPECT)
    {
      const Step *step = g_ptr_array_index (conn->script->steps, conn->step);
      gsize n = strlen (step->text);

      if (g_ascii_strncasecmp (owned, step->text, n) != 0)
        {
          conn_fail (conn, "expected a line starting with '%s', got '%s'", step->text, owned);
          conn_finish (conn);
          conn_unref (conn);
          return;
        }

      conn->step++;
      conn_next (conn);
      return;
    }

  if (conn->read_mode == READ_FOR_MESSAGE)
    {
      if (strcmp (owned, ".") == 0)
        {
          conn->step++;
          conn_next (conn);
          return;
        }
      conn_read (conn);
      return;
    }

  if (conn->read_mode == READ_DRAIN)
    {
      for (guint i = 0; i < conn->script->responders->len; i++)
        {
          const Responder *responder = g_ptr_array_index (conn->script->responders, i);

          if (g_ascii_strncasecmp (owned, responder->prefix, strlen (responder->prefix)) == 0)
            {
              g_output_stream_write_all_async (conn_output (conn), responder->reply,
                                               strlen (responder->reply), G_PRIORITY_DEFAULT,
                                               conn->cancellable, conn_reply_cb, conn);
              return;
            }
        }
    }

  conn_read (conn);
}

static void
conn_read_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Connection *conn = user_data;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (conn->finished)
    {
      conn_unref (conn);
      return;
    }

  if (n <= 0)
    {
      if (conn->inbuf->len > 0)
        {
          g_autofree char *rest = g_strndup ((const char *) conn->inbuf->data,
                                             conn->inbuf->len);

          conn->line_read = conn->n_reads;
          conn_record (conn, rest);
          g_byte_array_set_size (conn->inbuf, 0);
          g_array_set_size (conn->inbuf_reads, 0);
        }

      if (conn->read_mode == READ_FOR_EXPECT || conn->read_mode == READ_FOR_MESSAGE)
        {
          const Step *step = g_ptr_array_index (conn->script->steps, conn->step);

          conn_fail (conn, "the client %s while the script expected '%s'",
                     error != NULL ? error->message : "closed the connection",
                     step->text != NULL ? step->text : "a message");
        }
      else
        {
          g_debug ("test server: connection %u: client closed (%s)", conn->index,
                   error != NULL ? error->message : "end of stream");
        }

      conn_finish (conn);
      conn_unref (conn);
      return;
    }

  g_byte_array_append (conn->inbuf, conn->chunk, n);
  {
    ReadMark mark = { conn->inbuf->len, ++conn->n_reads };

    g_array_append_val (conn->inbuf_reads, mark);
    conn->line_read = conn->n_reads;
  }
  conn_read (conn);
}

/* Reads until a whole line is buffered, then hands it on. */
static void
conn_read (Connection *conn)
{
  char *line = NULL;

  if (conn_pop_line (conn, &line))
    {
      conn_take_line (conn, line);
      return;
    }

  if (conn->inbuf->len > MAX_CLIENT_LINE)
    {
      conn_fail (conn, "the client sent a line of more than %d bytes", MAX_CLIENT_LINE);
      conn_finish (conn);
      conn_unref (conn);
      return;
    }

  g_input_stream_read_async (conn_input (conn), conn->chunk, sizeof conn->chunk,
                             G_PRIORITY_DEFAULT, conn->cancellable, conn_read_cb, conn);
}

/* Plays the current step. The caller hands over the chain reference. */
static void
conn_next (Connection *conn)
{
  const Step *step;

  if (conn->finished)
    {
      conn_unref (conn);
      return;
    }

  if (conn->step >= conn->script->steps->len)
    {
      conn->read_mode = READ_DRAIN;
      conn_read (conn);
      return;
    }

  step = g_ptr_array_index (conn->script->steps, conn->step);

  switch (step->kind)
    {
    case STEP_SEND:
      conn->step++;
      conn_write (conn, step->data, conn_write_cb);
      break;

    case STEP_EXPECT:
      conn->read_mode = READ_FOR_EXPECT;
      conn_read (conn);
      break;

    case STEP_SEND_SLOWLY:
      {
        const guint8 *data = g_bytes_get_data (step->data, NULL);

        if (g_bytes_get_size (step->data) == 0)
          {
            conn->step++;
            conn_next (conn);
            break;
          }
        g_output_stream_write_all_async (conn_output (conn), data + conn->progress, 1,
                                         G_PRIORITY_DEFAULT, conn->cancellable,
                                         conn_slow_write_cb, conn);
      }
      break;

    case STEP_WAIT:
      conn->step++;
      conn_arm_timer (conn, step->ms, conn_timer_cb);
      break;

    case STEP_CLOSE:
      conn_close (conn, step);
      break;

    case STEP_START_TLS:
      conn_start_tls (conn, step);
      break;

    case STEP_SILENT:
      conn->read_mode = READ_SILENT;
      conn->step = conn->script->steps->len;
      conn_read (conn);
      break;

    case STEP_SEND_ENDLESS:
      {
        gsize left = step->cap - conn->progress;
        gsize length = MIN (left, (gsize) ENDLESS_CHUNK);

        g_output_stream_write_all_async (conn_output (conn),
                                         g_bytes_get_data (endless_chunk, NULL), length,
                                         G_PRIORITY_DEFAULT, conn->cancellable,
                                         conn_endless_cb, conn);
      }
      break;

    case STEP_EXPECT_MESSAGE:
      conn->read_mode = READ_FOR_MESSAGE;
      conn_read (conn);
      break;

    default:
      g_assert_not_reached ();
    }
}

static gboolean
on_incoming (GSocketService    *service G_GNUC_UNUSED,
             GSocketConnection *tcp,
             GObject           *source_object G_GNUC_UNUSED,
             gpointer           user_data)
{
  DoctorTestServer *self = user_data;
  Connection *conn = g_new0 (Connection, 1);
  DoctorTestScript *script;

  g_atomic_ref_count_init (&conn->ref_count);
  live_connections++;

  conn->server = self;
  conn->index = self->connections->len;
  conn->accepted_us = g_get_monotonic_time ();
  script = doctor_test_server_get_script (self, MIN (conn->index,
                                                     MAX (self->scripts->len, 1) - 1));
  conn->script = g_rc_box_acquire (script);
  conn->tcp = g_object_ref (tcp);
  conn->stream = g_object_ref (G_IO_STREAM (tcp));
  conn->cancellable = g_cancellable_new ();
  conn->inbuf = g_byte_array_new ();
  conn->inbuf_reads = g_array_new (FALSE, FALSE, sizeof (ReadMark));
  conn->received = g_ptr_array_new_with_free_func (g_free);
  conn->received_reads = g_array_new (FALSE, FALSE, sizeof (guint));

  g_debug ("test server: connection %u accepted", conn->index);

  /* One reference for the server's list, one for the chain. */
  g_ptr_array_add (self->connections, conn_ref (conn));
  conn_next (conn);

  return TRUE;
}

/* Server */

DoctorTestServer *
doctor_test_server_new (void)
{
  DoctorTestServer *self = g_new0 (DoctorTestServer, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GError) error = NULL;

  if (endless_chunk == NULL)
    {
      guint8 *data = g_malloc (ENDLESS_CHUNK);

      memset (data, 'A', ENDLESS_CHUNK);
      endless_chunk = g_bytes_new_take (data, ENDLESS_CHUNK);
    }

  self->context = g_main_context_ref_thread_default ();
  self->scripts = g_ptr_array_new_with_free_func (script_unref);
  self->connections = g_ptr_array_new_with_free_func (conn_unref);
  self->received = g_ptr_array_new_with_free_func (g_free);
  self->failures = g_ptr_array_new_with_free_func (g_free);

  /* The accept loop starts here, on the thread-default context of the caller. */
  self->service = g_socket_service_new ();
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                      &effective, &error))
    g_error ("test server: cannot listen on 127.0.0.1: %s", error->message);

  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_socket_service_start (self->service);

  return self;
}

static gboolean
teardown_done (gpointer data)
{
  gpointer *service = data;

  return live_connections == 0 && *service == NULL;
}

void
doctor_test_server_free (DoctorTestServer *self)
{
  gpointer service;

  if (self == NULL)
    return;

  g_signal_handlers_disconnect_by_func (self->service, on_incoming, self);
  g_socket_service_stop (self->service);
  g_socket_listener_close (G_SOCKET_LISTENER (self->service));

  for (guint i = 0; i < self->connections->len; i++)
    {
      Connection *conn = g_ptr_array_index (self->connections, i);

      conn_finish (conn);
      conn->server = NULL;
    }
  g_ptr_array_set_size (self->connections, 0);

  /* The service's own pending accept holds a reference until it sees the cancellation. */
  service = self->service;
  g_object_add_weak_pointer (service, &service);
  g_clear_object (&self->service);

  if (!doctor_test_wait_until (teardown_done, &service, TEARDOWN_MAX_MS))
    g_printerr ("test server: teardown left %u connections behind\n", live_connections);
  if (service != NULL)
    g_object_remove_weak_pointer (service, &service);

  g_ptr_array_unref (self->connections);
  g_ptr_array_unref (self->scripts);
  g_ptr_array_unref (self->received);
  g_ptr_array_unref (self->failures);
  g_main_context_unref (self->context);
  g_free (self);
}

guint16
doctor_test_server_get_port (DoctorTestServer *self)
{
  return self->port;
}

DoctorTestScript *
doctor_test_server_get_script (DoctorTestServer *self,
                               guint             connection)
{
  while (self->scripts->len <= connection)
    g_ptr_array_add (self->scripts, script_new ());

  return g_ptr_array_index (self->scripts, connection);
}

guint
doctor_test_server_get_n_connections (DoctorTestServer *self)
{
  return self->connections->len;
}

guint
doctor_test_server_get_n_finished (DoctorTestServer *self)
{
  return self->n_finished;
}

guint
doctor_test_server_get_n_handshakes (DoctorTestServer *self)
{
  return self->n_handshakes;
}

GPtrArray *
doctor_test_server_get_received (DoctorTestServer *self)
{
  return self->received;
}

GPtrArray *
doctor_test_server_get_received_on (DoctorTestServer *self,
                                    guint             connection)
{
  Connection *conn;

  if (connection >= self->connections->len)
    return NULL;

  conn = g_ptr_array_index (self->connections, connection);
  return conn->received;
}

/* Which read of connection @connection brought the end of its line @line (counting from 1):
 * lines that share a number came in one piece, as a pipelined group written at once does. */
guint
doctor_test_server_get_read_of_line (DoctorTestServer *self,
                                     guint             connection,
                                     guint             line)
{
  Connection *conn;

  g_return_val_if_fail (connection < self->connections->len, 0);

  conn = g_ptr_array_index (self->connections, connection);
  g_return_val_if_fail (line < conn->received_reads->len, 0);
  return g_array_index (conn->received_reads, guint, line);
}

/* When connection @connection was accepted, in g_get_monotonic_time() microseconds. */
gint64
doctor_test_server_get_accept_time (DoctorTestServer *self,
                                    guint             connection)
{
  Connection *conn;

  g_return_val_if_fail (connection < self->connections->len, 0);

  conn = g_ptr_array_index (self->connections, connection);
  return conn->accepted_us;
}

/* When connection @connection ended (the client hung up, or the script closed it), or 0. */
gint64
doctor_test_server_get_finish_time (DoctorTestServer *self,
                                    guint             connection)
{
  Connection *conn;

  g_return_val_if_fail (connection < self->connections->len, 0);

  conn = g_ptr_array_index (self->connections, connection);
  return conn->finished_us;
}

guint
doctor_test_server_count_received (DoctorTestServer *self,
                                   const char       *prefix)
{
  gsize n = strlen (prefix);
  guint count = 0;

  for (guint i = 0; i < self->received->len; i++)
    {
      const char *line = g_ptr_array_index (self->received, i);

      if (g_ascii_strncasecmp (line, prefix, n) == 0)
        count++;
    }

  return count;
}

GPtrArray *
doctor_test_server_get_failures (DoctorTestServer *self)
{
  return self->failures;
}

const char *
doctor_test_server_get_failure (DoctorTestServer *self)
{
  return self->failures->len > 0 ? g_ptr_array_index (self->failures, 0) : NULL;
}

guint64
doctor_test_server_get_bytes_sent (DoctorTestServer *self)
{
  return self->bytes_sent;
}

/* Helpers */

static char *
describe_check (DoctorCheck *check)
{
  if (check == NULL)
    return g_strdup ("(no such check)");

  return g_strdup_printf ("%s %s/%s", doctor_check_get_id (check),
                          doctor_check_status_to_string (doctor_check_get_status (check)),
                          doctor_check_get_reason (check) ? doctor_check_get_reason (check)
                                                          : "(none)");
}

void
doctor_test_assert_check_impl (DoctorDiagnosis   *diagnosis,
                               const char        *id,
                               DoctorCheckStatus  status,
                               const char        *reason,
                               const char        *where)
{
  DoctorCheck *check = doctor_diagnosis_get_check (diagnosis, id);
  g_autofree char *actual = describe_check (check);
  g_autofree char *expected = NULL;

  if (check != NULL && g_strcmp0 (reason, "*") == 0)
    reason = doctor_check_get_reason (check) ? doctor_check_get_reason (check) : "(none)";
  expected = g_strdup_printf ("%s %s/%s", id, doctor_check_status_to_string (status),
                              reason != NULL ? reason : "(none)");

  if (g_strcmp0 (actual, expected) != 0)
    {
      g_printerr ("# %s: expected %s, got %s\n", where, expected, actual);
      doctor_test_dump_diagnosis (diagnosis);
    }
  g_assert_cmpstr (actual, ==, expected);
}

/* "250-test.example\r\n250-CAP\r\n…250 LAST\r\n" from a NULL-terminated list of capabilities. */
char *
doctor_test_ehlo_reply (const char *first,
                        ...)
{
  GString *reply = g_string_new ("250");
  va_list args;

  if (first == NULL)
    {
      g_string_append (reply, " test.example\r\n");
      return g_string_free (reply, FALSE);
    }

  g_string_append (reply, "-test.example\r\n");
  va_start (args, first);
  for (const char *cap = first; cap != NULL;)
    {
      const char *next = va_arg (args, const char *);

      g_string_append_printf (reply, "250%c%s\r\n", next != NULL ? '-' : ' ', cap);
      cap = next;
    }
  va_end (args);

  return g_string_free (reply, FALSE);
}

char *
doctor_test_cert_path (const char *name)
{
  const char *dir = g_getenv ("DOCTOR_TEST_CERTS");
  g_autofree char *file = NULL;

  if (dir == NULL || *dir == '\0')
    return NULL;

  file = g_strconcat (name, ".pem", NULL);
  return g_build_filename (dir, file, NULL);
}

gboolean
doctor_test_have_certs (void)
{
  g_autofree char *ca = doctor_test_cert_path ("ca");

  return ca != NULL && g_file_test (ca, G_FILE_TEST_IS_REGULAR);
}

static gboolean
wake_cb (gpointer data G_GNUC_UNUSED)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates the thread-default main context until @condition holds or @max_ms have passed. */
gboolean
doctor_test_wait_until (DoctorTestCondition condition,
                        gpointer            data,
                        gint64              max_ms)
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  gint64 deadline = g_get_monotonic_time () + max_ms * 1000;
  gboolean timed_out = FALSE;
  GSource *timer;

  /* A timer wakes the loop at the deadline even when nothing else happens. */
  timer = g_timeout_source_new (MAX (max_ms, 0));
  g_source_set_callback (timer, wake_cb, NULL, NULL);
  g_source_attach (timer, context);

  while (!condition (data))
    {
      if (g_get_monotonic_time () >= deadline)
        {
          timed_out = TRUE;
          break;
        }
      g_main_context_iteration (context, TRUE);
    }

  g_source_destroy (timer);
  g_source_unref (timer);

  return !timed_out;
}

static gboolean
never (gpointer data G_GNUC_UNUSED)
{
  return FALSE;
}

/* Lets the main context run for @ms, for the servers and clients on it to make progress. */
void
doctor_test_sleep (guint ms)
{
  doctor_test_wait_until (never, NULL, ms);
}

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GError   *error;
} RunResult;

static void
run_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  RunResult *run = user_data;

  run->ok = doctor_diagnosis_run_finish (DOCTOR_DIAGNOSIS (source), result, &run->error);
  run->done = TRUE;
}

static gboolean
run_is_done (gpointer data)
{
  RunResult *run = data;

  return run->done;
}

void
doctor_test_dump_diagnosis (DoctorDiagnosis *diagnosis)
{
  GListModel *checks = doctor_diagnosis_get_checks (diagnosis);
  GPtrArray *transcript = doctor_diagnosis_get_transcript (diagnosis);

  g_printerr ("# diagnosis (verdict %s):\n",
              doctor_check_status_to_string (doctor_diagnosis_get_verdict (diagnosis)));
  for (guint i = 0; i < g_list_model_get_n_items (checks); i++)
    {
      g_autoptr(DoctorCheck) check = g_list_model_get_item (checks, i);

      g_printerr ("#   %-12s %-8s %-30s %s (%" G_GINT64_FORMAT " ms)\n",
                  doctor_check_get_id (check),
                  doctor_check_status_to_string (doctor_check_get_status (check)),
                  doctor_check_get_reason (check) ? doctor_check_get_reason (check) : "-",
                  doctor_check_get_summary (check) ? doctor_check_get_summary (check) : "",
                  doctor_check_get_duration_ms (check));
    }
  for (guint i = 0; transcript != NULL && i < transcript->len; i++)
    {
      const DoctorTranscriptLine *line = g_ptr_array_index (transcript, i);

      g_printerr ("#   %s%s %.200s\n", line->from_server ? "S:" : "C:",
                  line->tls ? "~" : " ", line->text);
    }
}

/* Runs a diagnosis of @target on the thread-default main context and waits for it. When the
 * run does not end within @max_ms the test fails: the run is cancelled, given a moment to
 * wind down, and NULL is returned with the test marked failed. */
DoctorDiagnosis *
doctor_test_run_diagnosis_full (DoctorTarget  *target,
                                GCancellable  *cancellable,
                                gint64         max_ms,
                                gint64        *elapsed_ms,
                                GError       **error)
{
  g_autoptr(DoctorDiagnosis) diagnosis = doctor_diagnosis_new (target);
  g_autoptr(GCancellable) own_cancellable = NULL;
  RunResult run = { FALSE, FALSE, NULL };
  gint64 start = g_get_monotonic_time ();

  if (cancellable == NULL)
    cancellable = own_cancellable = g_cancellable_new ();

  doctor_diagnosis_run_async (diagnosis, cancellable, run_done_cb, &run);

  if (!doctor_test_wait_until (run_is_done, &run, max_ms))
    {
      g_printerr ("# the diagnosis did not finish within %" G_GINT64_FORMAT " ms\n", max_ms);
      doctor_test_dump_diagnosis (diagnosis);
      g_cancellable_cancel (cancellable);
      if (!doctor_test_wait_until (run_is_done, &run, 2000))
        {
          /* The run still holds a pointer to run; it must not outlive this frame. */
          g_error ("the diagnosis did not finish even after it was cancelled");
        }
      g_clear_error (&run.error);
      g_test_fail_printf ("the diagnosis did not finish within %" G_GINT64_FORMAT " ms",
                          max_ms);
      return NULL;
    }

  if (elapsed_ms != NULL)
    *elapsed_ms = (g_get_monotonic_time () - start) / 1000;

  if (!run.ok)
    {
      if (error != NULL)
        *error = g_steal_pointer (&run.error);
      g_clear_error (&run.error);
    }

  return g_steal_pointer (&diagnosis);
}

/* The common case: the run must finish within @max_ms and without an error. */
DoctorDiagnosis *
doctor_test_run_diagnosis (DoctorTarget *target,
                           gint64        max_ms)
{
  g_autoptr(GError) error = NULL;
  DoctorDiagnosis *diagnosis;

  diagnosis = doctor_test_run_diagnosis_full (target, NULL, max_ms, NULL, &error);
  g_assert_nonnull (diagnosis);
  if (error != NULL)
    doctor_test_dump_diagnosis (diagnosis);
  g_assert_no_error (error);
  g_assert_true (doctor_diagnosis_is_finished (diagnosis));

  return diagnosis;
}
