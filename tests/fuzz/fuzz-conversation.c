/* fuzz-conversation.c: a whole diagnosis against a server whose every byte is fuzzed.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The diagnosis runs unchanged, DNS (an IP literal) and connect included, against a server in
 * this process on 127.0.0.1 that plays the input; nothing in the core is bent for the fuzzer.
 * Everything runs on one main context, with no thread of the fuzzer's own and no sleep.
 *
 * Input: byte 0 chooses the target: bits 0-1 the security (STARTTLS, TLS, none, none with
 * plaintext AUTH allowed), bit 2 a login (user and password), bit 3 a test message (MAIL FROM,
 * RCPT TO), bit 4 a HELO name of our own. The rest is records: a byte whose low 7 bits are a
 * length (0: the rest of the input) and whose high bit says "in the same write as the record
 * before", then that many bytes. The server sends a record (with the ones that follow it in
 * the same write) each time the client is quiet, that is when nothing else is ready on the
 * main context and no byte sent is still on its way through the kernel: the client then waits
 * for the server, in the middle of a reply or for the next one, so the records are the reads
 * it gets, of any size and at any point. Once the
 * records are sent the server half-closes, reads until the client hangs up, and resets the
 * connection (no TIME_WAIT left behind by thousands of runs). Every connection the diagnosis
 * opens (probes too) plays the same records.
 *
 * Checked: the run ends, before a bound far below libFuzzer's -timeout; it finishes with a
 * verdict; every check is finished with whole UTF-8 text; the reports (text, JSON, Markdown)
 * can be made; the password and its base64 are in no transcript line nor report (unless the
 * server itself sent them: libFuzzer learns the password from the comparisons); every
 * connection is closed by the client when the run is over (no fd left open); and, under
 * ASan, nothing leaks.
 */
#define _GNU_SOURCE  /* memmem */
#include <gio/gio.h>
#include <string.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "doctor-diagnosis.h"
#include "doctor-report.h"
#include "fuzz.h"

#define SECRET        "fuzz-Secret-7"
#define SECRET_BASE64 "ZnV6ei1TZWNyZXQtNw"   /* the part of its base64 that never changes */
#define TIMEOUT_MS    1000
#define MAX_RUN_MS    15000

typedef struct
{
  GSocket    *socket;
  GSource    *in_source;
  GSource    *out_source;
  GByteArray *out;
  gsize       pos;          /* the next record */
  guint64     sent;         /* bytes written to the client */
  guint16     client_port;  /* the client's end: its local port */
  int         client_fd;    /* and its descriptor in this process, or -1 */
  gboolean    shut;         /* the records are all sent: half-closed */
  gboolean    closed;       /* the client hung up (or the connection failed) */
} Peer;

typedef struct
{
  GSocket      *listener;
  guint16       port;
  GSource      *accept_source;
  GPtrArray    *peers;      /* (element-type Peer) */
  const guint8 *data;
  gsize         size;
  guint         quiet_idle;
} Server;

static Server server;

static void peer_want_quiet (void);
static gboolean is_client_of (int fd, Peer *peer);

static void
peer_close (Peer *peer)
{
  if (peer->in_source != NULL)
    {
      g_source_destroy (peer->in_source);
      g_clear_pointer (&peer->in_source, g_source_unref);
    }
  if (peer->out_source != NULL)
    {
      g_source_destroy (peer->out_source);
      g_clear_pointer (&peer->out_source, g_source_unref);
    }
  if (peer->socket != NULL)
    {
      /* A reset, not a FIN: the client is gone or the run is over. */
      struct linger linger = { 1, 0 };

      setsockopt (g_socket_get_fd (peer->socket), SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
      g_socket_close (peer->socket, NULL);
      g_clear_object (&peer->socket);
    }
  peer->closed = TRUE;
}

static void
peer_free (Peer *peer)
{
  peer_close (peer);
  g_byte_array_unref (peer->out);
  g_free (peer);
}

static gboolean
on_peer_readable (GSocket      *socket,
                  GIOCondition  condition,
                  gpointer      user_data)
{
  Peer *peer = user_data;
  char buffer[4096];
  gssize n;

  /* What the client says is read and dropped; the records are the script. */
  n = g_socket_receive (socket, buffer, sizeof buffer, NULL, NULL);
  if (n > 0)
    return G_SOURCE_CONTINUE;
  if (n < 0 && (condition & (G_IO_HUP | G_IO_ERR)) == 0)
    {
      /* EAGAIN on a spurious wake-up. */
      if (g_socket_condition_check (socket, G_IO_IN) == 0)
        return G_SOURCE_CONTINUE;
    }

  g_clear_pointer (&peer->in_source, g_source_unref);
  peer_close (peer);
  return G_SOURCE_REMOVE;
}

static void
peer_flush (Peer *peer);

static gboolean
on_peer_writable (GSocket      *socket,
                  GIOCondition  condition,
                  gpointer      user_data)
{
  Peer *peer = user_data;

  g_clear_pointer (&peer->out_source, g_source_unref);
  peer_flush (peer);
  return G_SOURCE_REMOVE;
}

/* Sends what it can of peer->out; the rest when the socket is writable again. */
static void
peer_flush (Peer *peer)
{
  while (peer->out->len > 0 && !peer->closed)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_send (peer->socket, (const char *) peer->out->data, peer->out->len,
                                NULL, &error);

      if (n > 0)
        {
          peer->sent += n;
          g_byte_array_remove_range (peer->out, 0, n);
          continue;
        }
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          if (peer->out_source == NULL)
            {
              peer->out_source = g_socket_create_source (peer->socket, G_IO_OUT, NULL);
              g_source_set_callback (peer->out_source, G_SOURCE_FUNC (on_peer_writable), peer,
                                     NULL);
              g_source_attach (peer->out_source, NULL);
            }
          return;
        }
      /* EPIPE, ECONNRESET: the client is gone. */
      peer_close (peer);
      return;
    }
  peer_want_quiet ();
}

/* The next record, with the ones marked "same write" after it, into peer->out. */
static void
peer_take_records (Peer *peer)
{
  gboolean first = TRUE;

  while (peer->pos < server.size)
    {
      guint8 head = server.data[peer->pos];
      gsize length = head & 0x7f;
      gsize start = peer->pos + 1;

      if (!first && (head & 0x80) == 0)
        break;
      first = FALSE;

      if (length == 0 || length > server.size - start)
        length = server.size - start;
      g_byte_array_append (peer->out, server.data + start, length);
      peer->pos = start + length;
    }
}

static gboolean
on_quiet_retry (gpointer user_data)
{
  server.quiet_idle = 0;
  peer_want_quiet ();
  return G_SOURCE_REMOVE;
}

/* Bytes sent but not yet in the client's socket. On loopback the kernel hands them over in a
 * softirq that a busy machine may run a little later; until then the client cannot see them,
 * and looks quiet when it is not. The client's socket is in this process: its TCP_INFO says
 * how many bytes it has received. */
static gboolean
in_flight (void)
{
  for (guint i = 0; i < server.peers->len; i++)
    {
      Peer *peer = g_ptr_array_index (server.peers, i);
      struct tcp_info info;
      socklen_t length = sizeof info;

      if (peer->closed || peer->client_fd < 0 || !is_client_of (peer->client_fd, peer))
        continue;
      memset (&info, 0, sizeof info);
      if (getsockopt (peer->client_fd, IPPROTO_TCP, TCP_INFO, &info, &length) == 0 &&
          length >= offsetof (struct tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received &&
          info.tcpi_bytes_received < peer->sent)
        return TRUE;
    }
  return FALSE;
}

static gboolean
on_quiet (gpointer user_data)
{
  server.quiet_idle = 0;

  if (in_flight ())
    {
      server.quiet_idle = g_timeout_add (1, on_quiet_retry, NULL);
      return G_SOURCE_REMOVE;
    }

  for (guint i = 0; i < server.peers->len; i++)
    {
      Peer *peer = g_ptr_array_index (server.peers, i);

      if (peer->closed || peer->shut || peer->out->len > 0)
        continue;

      if (peer->pos < server.size)
        {
          peer_take_records (peer);
          peer_flush (peer);
        }
      else
        {
          g_socket_shutdown (peer->socket, FALSE, TRUE, NULL);
          peer->shut = TRUE;
        }
    }

  return G_SOURCE_REMOVE;
}

/* Lowest of all priorities: it runs only when the client has nothing left to do but wait. */
static void
peer_want_quiet (void)
{
  if (server.quiet_idle == 0)
    server.quiet_idle = g_idle_add_full (G_PRIORITY_LOW + 100, on_quiet, NULL, NULL);
}

static guint16
port_of (struct sockaddr_in *address)
{
  return g_ntohs (address->sin_port);
}

/* TRUE when @fd is the client's end of @peer's connection (and not a descriptor the number
 * went to since). */
static gboolean
is_client_of (int   fd,
              Peer *peer)
{
  struct sockaddr_in local, remote;
  socklen_t local_length = sizeof local, remote_length = sizeof remote;

  return getsockname (fd, (struct sockaddr *) &local, &local_length) == 0 &&
         local.sin_family == AF_INET && port_of (&local) == peer->client_port &&
         getpeername (fd, (struct sockaddr *) &remote, &remote_length) == 0 &&
         port_of (&remote) == server.port;
}

static void
find_client (Peer *peer)
{
  g_autoptr(GSocketAddress) remote = g_socket_get_remote_address (peer->socket, NULL);
  g_autoptr(GDir) dir = NULL;
  const char *name;

  peer->client_fd = -1;
  if (remote == NULL)
    return;
  peer->client_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (remote));

  dir = g_dir_open ("/proc/self/fd", 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      int fd = atoi (name);

      if (fd != g_socket_get_fd (peer->socket) && is_client_of (fd, peer))
        {
          peer->client_fd = fd;
          return;
        }
    }
}

static gboolean
on_accept (GSocket      *listener,
           GIOCondition  condition,
           gpointer      user_data)
{
  GSocket *socket;

  while ((socket = g_socket_accept (listener, NULL, NULL)) != NULL)
    {
      Peer *peer = g_new0 (Peer, 1);

      g_socket_set_blocking (socket, FALSE);
      /* No Nagle: it would hold a record back until the client's (delayed) ACK, and then
       * send it together with the next one. */
      g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
      peer->socket = socket;
      find_client (peer);
      peer->out = g_byte_array_new ();
      peer->pos = 1;
      peer->in_source = g_socket_create_source (socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
      g_source_set_callback (peer->in_source, G_SOURCE_FUNC (on_peer_readable), peer, NULL);
      g_source_attach (peer->in_source, NULL);
      g_ptr_array_add (server.peers, peer);
      peer_want_quiet ();
    }

  return G_SOURCE_CONTINUE;
}

static void
server_init (void)
{
  g_autoptr(GInetAddress) loopback = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  if (server.listener != NULL)
    return;

  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  address = g_inet_socket_address_new (loopback, 0);
  server.listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                  G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (server.listener, FALSE);
  g_socket_bind (server.listener, address, TRUE, &error);
  g_assert_no_error (error);
  g_socket_set_listen_backlog (server.listener, 64);
  g_socket_listen (server.listener, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (server.listener, &error);
  g_assert_no_error (error);
  server.port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

  /* Kept for the life of the process: one listener for every input. */
  server.accept_source = g_socket_create_source (server.listener, G_IO_IN, NULL);
  g_source_set_callback (server.accept_source, G_SOURCE_FUNC (on_accept), NULL, NULL);
  g_source_attach (server.accept_source, NULL);
  server.peers = g_ptr_array_new_with_free_func ((GDestroyNotify) peer_free);
}

static gboolean
all_peers_closed (void)
{
  for (guint i = 0; i < server.peers->len; i++)
    {
      Peer *peer = g_ptr_array_index (server.peers, i);

      if (!peer->closed)
        return FALSE;
    }
  return TRUE;
}

/* TRUE when the server's own bytes hold the password (the fuzzer learns it from the
 * comparisons): then the server's text may show it, and that is no leak of ours. */
static gboolean server_says_secret;

static gboolean
stream_holds_secret (const guint8 *data,
                     gsize         size)
{
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  gsize pos = 1;

  while (pos < size)
    {
      gsize length = data[pos] & 0x7f;

      pos++;
      if (length == 0 || length > size - pos)
        length = size - pos;
      g_byte_array_append (stream, data + pos, length);
      pos += length;
    }

  if (stream->len == 0)
    return FALSE;
  return memmem (stream->data, stream->len, SECRET, strlen (SECRET)) != NULL ||
         memmem (stream->data, stream->len, SECRET_BASE64, strlen (SECRET_BASE64)) != NULL;
}

static void
check_text (const char *text)
{
  if (text == NULL)
    return;
  g_assert_true (g_utf8_validate (text, -1, NULL));
  if (!server_says_secret)
    {
      g_assert_null (strstr (text, SECRET));
      g_assert_null (strstr (text, SECRET_BASE64));
    }
}

static void
run_done (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  gboolean *done = user_data;
  g_autoptr(GError) error = NULL;

  /* FALSE only for a cancelled run or settings that are not valid: neither happens here. */
  if (!doctor_diagnosis_run_finish (DOCTOR_DIAGNOSIS (object), result, &error))
    g_error ("the diagnosis failed: %s", error->message);
  *done = TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) diagnosis = NULL;
  GListModel *checks;
  GPtrArray *transcript;
  gboolean done = FALSE;
  gboolean verbose;
  guint n_connections;
  gint64 start;
  guint8 options;

  if (size < 1)
    return 0;

  server_init ();
  server_says_secret = stream_holds_secret (data, size);
  server.data = data;
  server.size = size;
  options = data[0];

  target = doctor_target_new ("127.0.0.1", server.port, (DoctorSecurity) MIN (options & 3, 2));
  target->allow_plaintext_auth = (options & 3) == 3;
  target->timeout_ms = TIMEOUT_MS;
  if (options & 0x04)
    {
      target->user = g_strdup ("user@example.com");
      doctor_target_set_secret (target, SECRET);
    }
  if (options & 0x08)
    {
      target->mail_from = g_strdup ("user@example.com");
      target->rcpt_to = g_strdup ("someone@example.org");
    }
  if (options & 0x10)
    target->helo_name = g_strdup ("fuzz.example.com");

  diagnosis = doctor_diagnosis_new (target);
  start = g_get_monotonic_time ();
  doctor_diagnosis_run_async (diagnosis, NULL, run_done, &done);

  /* Until the run is over and the client closed every connection; QUIT and the close go on
   * after the run reports. */
  while (!done || !all_peers_closed ())
    {
      g_main_context_iteration (NULL, TRUE);
      if (g_get_monotonic_time () - start > MAX_RUN_MS * G_TIME_SPAN_MILLISECOND)
        g_error ("the run did not end within %d ms (done: %d)", MAX_RUN_MS, done);
    }
  while (g_main_context_iteration (NULL, FALSE))
    ;
  /* A connection the run gave up on may still reach the listener: it goes with this input. */
  on_accept (server.listener, G_IO_IN, NULL);
  n_connections = server.peers->len;
  g_ptr_array_set_size (server.peers, 0);
  g_clear_handle_id (&server.quiet_idle, g_source_remove);

  g_assert_true (doctor_diagnosis_is_finished (diagnosis));
  (void) doctor_diagnosis_get_verdict (diagnosis);

  /* FUZZ_VERBOSE=1: what each input made of the run, to see that a seed goes where it should. */
  verbose = g_getenv ("FUZZ_VERBOSE") != NULL;
  if (verbose)
    g_printerr ("run of %" G_GSIZE_FORMAT " bytes, %u connections, %" G_GINT64_FORMAT " ms:\n",
                size, n_connections, (g_get_monotonic_time () - start) / 1000);
  checks = doctor_diagnosis_get_checks (diagnosis);
  for (guint i = 0; i < g_list_model_get_n_items (checks); i++)
    {
      g_autoptr(DoctorCheck) check = g_list_model_get_item (checks, i);

      g_assert_true (doctor_check_is_finished (check));
      if (verbose)
        g_printerr ("  %-12s %-5s %-28s %s\n", doctor_check_get_id (check),
                    doctor_check_status_to_string (doctor_check_get_status (check)),
                    doctor_check_get_reason (check) ? doctor_check_get_reason (check) : "-",
                    doctor_check_get_summary (check) ? doctor_check_get_summary (check) : "");
      check_text (doctor_check_get_summary (check));
      check_text (doctor_check_get_reason (check));
    }

  transcript = doctor_diagnosis_get_transcript (diagnosis);
  for (guint i = 0; i < transcript->len; i++)
    {
      const DoctorTranscriptLine *line = g_ptr_array_index (transcript, i);

      if (verbose)
        g_printerr ("  %s %s\n", line->from_server ? "S:" : "C:", line->text);
      check_text (line->text);
    }

  {
    g_autofree char *json = doctor_report_to_json (diagnosis, TRUE);
    g_autofree char *markdown = doctor_report_to_markdown (diagnosis);
    g_autofree char *verdict = doctor_report_get_verdict_text (diagnosis);

    check_text (json);
    check_text (markdown);
    check_text (verdict);
  }

  return 0;
}
