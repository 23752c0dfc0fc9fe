/* doctor-diagnosis.c: one run of the checks against a target.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The run is a chain of asynchronous steps on the caller's main context: resolve, connect
 * (addresses raced in the manner of Happy Eyeballs, each one's result kept), TLS for implicit
 * TLS, greeting, EHLO, STARTTLS and TLS, EHLO again, AUTH, the optional test message and QUIT.
 * Each step starts its check, ends it with a status, a reason code and a summary, and adds the
 * advice for that reason. A failed check ends the conversation; the checks after it are skipped.
 *
 * Two rules hold everywhere: nothing that carries a secret is written before a TLS handshake
 * whose certificate is trusted (or, with security "none", before the user allowed it), and no
 * failure of TLS or STARTTLS falls back to plaintext.
 */
#include "config.h"

#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <glib/gi18n-lib.h>

#include "doctor-advice.h"
#include "doctor-capabilities-private.h"
#include "doctor-certificate-private.h"
#include "doctor-deadline-private.h"
#include "doctor-diagnosis.h"
#include "doctor-error.h"
#include "doctor-firewall.h"
#include "doctor-format.h"
#include "doctor-port-scan.h"
#include "doctor-providers.h"
#include "doctor-smtp-stream-private.h"

#define MAX_ADDRESSES        16
#define HAPPY_EYEBALLS_DELAY 250    /* ms between connection attempts, RFC 8305 §5 */
#define PROBE_TIMEOUT_MAX    5000   /* ms for the second connection that tells a mismatch */
#define QUIT_TIMEOUT         2000
#define MAX_TRANSCRIPT       2000

typedef enum
{
  PROBE_NONE,
  PROBE_RUNNING,
  PROBE_TLS_WORKS,
  PROBE_FAILED,
} ProbeState;

struct _DoctorDiagnosis
{
  GObject               parent_instance;

  DoctorTarget         *target;
  GListStore           *checks;
  GPtrArray            *transcript;
  guint                 transcript_dropped;
  DoctorSuggestion     *suggestion;

  /* The run */
  GTask                *task;
  GCancellable         *cancellable;
  DoctorDeadline       *deadline;      /* of the step that is not a command: DNS, TLS, probes */
  GTlsDatabase         *ca_database;
  GPtrArray            *addresses;     /* (element-type GInetAddress) */
  GPtrArray            *attempts;      /* (element-type Attempt) */
  guint                 stagger;
  guint                 next_attempt;
  guint                 running_attempts;
  GSocketConnection    *connection;
  GIOStream            *tls_stream;
  GError               *ca_error;       /* the custom CA file could not be loaded */
  guint                 tls_jobs;       /* threads still preparing TLS; the run waits for them */
  DoctorSmtpStream     *smtp;
  GPtrArray            *capabilities;  /* (element-type utf8) "KEYWORD params" */
  GTlsCertificate      *peer_certificate;
  GTlsCertificateFlags  peer_flags;
  char                 *helo;
  char                 *message;         /* made while the pipelined replies are on their way */
  DoctorCheck          *current;
  DoctorPortScan       *port_scan;      /* alongside the conversation, when asked for */
  GError               *run_error;
  DoctorDeadline       *greeting_wait;  /* lets the early probe stop the greeting read */
  guint                 greeting_timer;
  ProbeState            early_probe;
  guint                 greeting_timed_out : 1;
  guint                 reply_bare_lf : 1;
  guint                 end_data : 1;       /* a "." is owed before QUIT (RFC 2920 §3.1) */
  guint                 handshake_waiting : 1;
  guint                 trusted : 1;
  guint                 certificate_rejected : 1;
  guint                 connect_done : 1;
  guint                 scan_ports : 1;
  guint                 conversation_done : 1;
  guint                 started : 1;
  guint                 finished : 1;
};

G_DEFINE_FINAL_TYPE (DoctorDiagnosis, doctor_diagnosis, G_TYPE_OBJECT)

#define GREETING_PROBE_DELAY 3000   /* ms of silence before the TLS probe starts */

enum {
  PROP_0,
  PROP_FINISHED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

typedef enum
{
  ATTEMPT_WAITING,
  ATTEMPT_RUNNING,
  ATTEMPT_DONE,
} AttemptState;

typedef struct
{
  DoctorDiagnosis    *self;     /* strong while running */
  GInetSocketAddress *address;
  DoctorDeadline     *deadline;
  AttemptState        state;
  gint64              started_us;
  char               *result;   /* "connected", "refused", … */
  char               *reason;   /* reason code of a failure */
  char               *text;     /* for people */
  gboolean            abandoned;
} Attempt;

static void start_greeting      (DoctorDiagnosis *self);
static void start_handshake     (DoctorDiagnosis *self);
static void start_ehlo          (DoctorDiagnosis *self);
static void start_starttls      (DoctorDiagnosis *self);
static void start_auth          (DoctorDiagnosis *self);
static void start_send          (DoctorDiagnosis *self);
static void end_conversation    (DoctorDiagnosis *self);
static void start_tls_job       (DoctorDiagnosis *self);
static GIOStream *new_tls_connection (GIOStream           *base,
                                      GSocketConnectable  *identity,
                                      GError             **error);
static void abandon_attempts    (DoctorDiagnosis *self);

/* Helpers ------------------------------------------------------------------------------------ */

void
doctor_suggestion_free (DoctorSuggestion *suggestion)
{
  if (suggestion == NULL)
    return;

  g_free (suggestion->host);
  g_free (suggestion->summary);
  g_free (suggestion);
}

static void
transcript_line_free (DoctorTranscriptLine *line)
{
  g_free (line->text);
  g_free (line);
}

static void
attempt_free (Attempt *attempt)
{
  g_clear_object (&attempt->address);
  g_clear_pointer (&attempt->deadline, doctor_deadline_free);
  g_free (attempt->result);
  g_free (attempt->reason);
  g_free (attempt->text);
  g_clear_object (&attempt->self);
  g_free (attempt);
}

static guint
timeout_ms (DoctorDiagnosis *self)
{
  return doctor_target_get_timeout_ms (self->target);
}

static guint
seconds (guint ms)
{
  return (ms + 999) / 1000;
}

static DoctorSecurity
security (DoctorDiagnosis *self)
{
  return self->target->security;
}

static DoctorCheck *
check (DoctorDiagnosis *self,
       const char      *id)
{
  return doctor_diagnosis_get_check (self, id);
}

static void
begin (DoctorDiagnosis *self,
       const char      *id)
{
  self->current = check (self, id);
  self->reply_bare_lf = FALSE;
  doctor_check_start (self->current);
}

/* Ends the current check; a warning or failure gets the advice for its reason. */
static void
conclude (DoctorDiagnosis   *self,
          DoctorCheckStatus  status,
          const char        *reason,
          const DoctorReply *reply,
          const char        *summary)
{
  DoctorCheck *current = self->current;

  g_assert (current != NULL);

  /* A bare LF is only worth a warning on a check that otherwise passed. */
  if (status == DOCTOR_CHECK_PASS && self->reply_bare_lf)
    {
      status = DOCTOR_CHECK_WARN;
      reason = "bare-lf";
    }

  if (reply != NULL)
    {
      g_autofree char *text = doctor_reply_to_string (reply);

      doctor_check_set_detail (current, "reply", _("Server reply"), text);
      if (reply->enhanced != NULL)
        doctor_check_set_detail (current, "enhanced-status", _("Enhanced status code"),
                                 reply->enhanced);
      if (reply->over_rfc_length)
        doctor_check_set_detail (current, "note", _("Note"),
                                 _("The reply has lines longer than the 512 bytes RFC 5321 allows"));
    }

  if (status == DOCTOR_CHECK_WARN || status == DOCTOR_CHECK_FAIL)
    doctor_advice_add (current, reason, self->target, reply);

  doctor_check_finish (current, status, reason, summary);
  self->current = NULL;
}

static void
conclude_fail (DoctorDiagnosis   *self,
               const char        *reason,
               const DoctorReply *reply,
               const char        *summary)
{
  conclude (self, DOCTOR_CHECK_FAIL, reason, reply, summary);
  end_conversation (self);
}

static void
skip (DoctorDiagnosis *self,
      const char      *id,
      const char      *reason,
      const char      *summary)
{
  doctor_check_finish (check (self, id), DOCTOR_CHECK_SKIPPED, reason, summary);
}

static void
on_transcript (gboolean    from_server,
               gboolean    tls,
               const char *text,
               gpointer    user_data)
{
  DoctorDiagnosis *self = user_data;
  DoctorTranscriptLine *line;

  if (self->transcript->len >= MAX_TRANSCRIPT)
    {
      self->transcript_dropped++;
      return;
    }

  line = g_new0 (DoctorTranscriptLine, 1);
  line->from_server = from_server;
  line->tls = tls;
  line->text = g_strdup (text);
  g_ptr_array_add (self->transcript, line);
}

static char *
address_to_string (GInetSocketAddress *address)
{
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (address));

  if (g_inet_address_get_family (g_inet_socket_address_get_address (address)) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]:%u", ip, g_inet_socket_address_get_port (address));

  return g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (address));
}

static void
set_suggestion_full (DoctorDiagnosis *self,
                     guint16          port,
                     DoctorSecurity   mode,
                     const char      *summary)
{
  doctor_suggestion_free (self->suggestion);
  self->suggestion = g_new0 (DoctorSuggestion, 1);
  self->suggestion->host = g_strdup (self->target->host);
  self->suggestion->port = port;
  self->suggestion->security = mode;
  self->suggestion->summary = g_strdup (summary);
}

static void
set_suggestion (DoctorDiagnosis *self,
                DoctorSecurity   mode,
                const char      *summary)
{
  set_suggestion_full (self, doctor_target_get_port (self->target), mode, summary);
}

/* The secret in every form it crosses the wire in: as typed (a short one is left out, or every
 * "a" of a one-letter password would be masked), in base64 (LOGIN) and in the PLAIN blob. */
static void
set_stream_secrets (DoctorDiagnosis *self)
{
  const char *user = self->target->user;
  const char *secret = self->target->secret;
  g_autoptr(GStrvBuilder) builder = NULL;
  g_auto(GStrv) secrets = NULL;
  gsize blob_len;
  char *blob;

  if (secret == NULL || *secret == '\0')
    return;

  builder = g_strv_builder_new ();
  if (strlen (secret) >= 4)
    g_strv_builder_add (builder, secret);
  {
    char *encoded = g_base64_encode ((const guchar *) secret, strlen (secret));

    g_strv_builder_add (builder, encoded);
    doctor_secret_free (encoded);
  }

  if (user != NULL)
    {
      char *encoded;

      blob_len = strlen (user) + strlen (secret) + 2;
      blob = g_malloc0 (blob_len + 1);
      memcpy (blob + 1, user, strlen (user));
      memcpy (blob + 2 + strlen (user), secret, strlen (secret));
      encoded = g_base64_encode ((const guchar *) blob, blob_len);
      explicit_bzero (blob, blob_len);
      g_free (blob);
      g_strv_builder_add (builder, encoded);
      doctor_secret_free (encoded);
    }

  secrets = g_strv_builder_end (builder);
  doctor_smtp_stream_set_secrets (self->smtp, (const char *const *) secrets);
  for (guint i = 0; secrets[i] != NULL; i++)
    explicit_bzero (secrets[i], strlen (secrets[i]));
}

/* Each address is connected to directly: the question is what this machine's network does
 * with the SMTP port, and a proxy would hide it. */
/* The name a certificate must carry: the host the user gave, in its ASCII form. */
static GSocketConnectable *
server_identity (DoctorDiagnosis *self)
{
  g_autofree char *ascii = g_hostname_to_ascii (self->target->host);

  return g_network_address_new (ascii != NULL ? ascii : self->target->host,
                                doctor_target_get_port (self->target));
}

static GSocketClient *
make_socket_client (void)
{
  GSocketClient *client = g_socket_client_new ();

  g_socket_client_set_enable_proxy (client, FALSE);
  return client;
}

/* The end of a run ---------------------------------------------------------------------------- */

static void finish_run (DoctorDiagnosis *self);

/* The conversation is over; the run ends with it, or when the port scan beside it ends. */
static void
complete (DoctorDiagnosis *self,
          GError          *error)
{
  g_clear_error (&self->run_error);
  self->run_error = error;
  self->conversation_done = TRUE;

  g_clear_handle_id (&self->stagger, g_source_remove);
  g_clear_pointer (&self->deadline, doctor_deadline_free);
  abandon_attempts (self);

  if (self->port_scan != NULL && !doctor_port_scan_is_finished (self->port_scan))
    return;

  /* A thread still inside GnuTLS must not outlive the run: the program may exit after it. */
  if (self->tls_jobs > 0)
    return;

  finish_run (self);
}

/* A failed run whose port scan found a setting that works says so (RFC 8314 order). */
static void
suggest_from_port_scan (DoctorDiagnosis *self)
{
  const DoctorPortCell *best;
  g_autofree char *summary = NULL;

  if (self->port_scan == NULL || self->suggestion != NULL ||
      doctor_diagnosis_get_verdict (self) != DOCTOR_CHECK_FAIL)
    return;

  best = doctor_port_scan_get_best (self->port_scan);
  if (best == NULL ||
      (best->port == doctor_target_get_port (self->target) && best->security == security (self)))
    return;

  /* Translators: "Port 465 with SSL/TLS works" */
  summary = g_strdup_printf (_("Port %u with %s works"), best->port,
                             doctor_security_get_label (best->security));
  set_suggestion_full (self, best->port, best->security, summary);
}

/* What the matrix says about the network goes with the connection's own advice. */
static void
advise_from_port_scan (DoctorDiagnosis *self)
{
  const char *conclusion;
  DoctorCheck *connect = check (self, "connect");

  if (self->port_scan == NULL ||
      (conclusion = doctor_port_scan_get_diagnosis (self->port_scan)) == NULL)
    return;

  /* Only where the connection itself had trouble: otherwise the scan is a map, not advice. */
  if (doctor_check_get_status (connect) == DOCTOR_CHECK_PASS ||
      doctor_check_get_status (connect) == DOCTOR_CHECK_SKIPPED)
    return;

  doctor_firewall_add_advice (connect, self->target, 0, conclusion);

  /* No mail port gets through at all: a sending service's web API goes over HTTPS (443),
   * which this network lets through. */
  if (g_str_equal (conclusion, "smtp-ports-filtered"))
    {
      const DoctorProvider *provider = doctor_providers_match_host (self->target->host);

      if (provider != NULL && provider->https_api_url != NULL)
        {
          g_autofree char *title = NULL;
          g_autofree char *text = NULL;

          /* Translators: %s is an API's name, such as "SendGrid Web API v3" */
          title = g_strdup_printf (_("Send through the %s instead"), provider->https_api_name);
          text = g_strdup_printf (_("This network lets HTTPS through but no mail port. %s "
                                    "offers an HTTPS API that sends the same mail over port 443; "
                                    "many mail libraries and frameworks support it. See %s"),
                                  provider->name, provider->https_api_url);
          doctor_check_add_advice (connect, title, text, NULL);
        }
    }
}

static void
finish_run (DoctorDiagnosis *self)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->task);
  GError *error = g_steal_pointer (&self->run_error);

  if (task == NULL)
    return;

  suggest_from_port_scan (self);
  advise_from_port_scan (self);

  if (self->transcript_dropped > 0)
    {
      DoctorTranscriptLine *line = g_new0 (DoctorTranscriptLine, 1);

      line->from_server = TRUE;
      line->text = g_strdup_printf (_("(%u more lines not kept)"), self->transcript_dropped);
      g_ptr_array_add (self->transcript, line);
      self->transcript_dropped = 0;
    }

  self->finished = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FINISHED]);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
skip_remaining (DoctorDiagnosis *self,
                const char      *reason,
                const char      *summary)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->checks));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(DoctorCheck) c = g_list_model_get_item (G_LIST_MODEL (self->checks), i);

      if (doctor_check_is_finished (c))
        continue;

      if (g_str_equal (doctor_check_get_id (c), "auth") &&
          g_str_equal (reason, "not-reached") &&
          self->certificate_rejected)
        doctor_check_finish (c, DOCTOR_CHECK_SKIPPED, "auth-skipped-untrusted",
                             _("No login was tried: the password is only sent over a connection "
                               "whose certificate is trusted"));
      else
        doctor_check_finish (c, DOCTOR_CHECK_SKIPPED, reason, summary);
    }

  self->current = NULL;
}

static void
close_connection (GIOStream *stream)
{
  /* Nobody waits for this. */
  g_io_stream_close_async (stream, G_PRIORITY_LOW, NULL, NULL, NULL);
}

typedef struct
{
  GIOStream *stream;
  guint      replies;   /* still to read before the close */
} QuitData;

static void
on_quit_reply (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  QuitData *data = user_data;
  g_autoptr(DoctorReply) reply = NULL;

  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, NULL);
  if (reply != NULL && --data->replies > 0)
    {
      doctor_smtp_stream_command_async (DOCTOR_SMTP_STREAM (object), NULL, NULL, QUIT_TIMEOUT,
                                        NULL, on_quit_reply, data);
      return;
    }

  close_connection (data->stream);
  g_object_unref (data->stream);
  g_free (data);
}

static void
on_quit_written (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(DoctorDiagnosis) self = user_data;
  DoctorSmtpStream *smtp = DOCTOR_SMTP_STREAM (object);
  GIOStream *stream = doctor_smtp_stream_get_stream (smtp);

  /* The verdict does not wait for the 221: it only matters to the server. The read may
   * outlive this diagnosis, so it reports to nobody. */
  doctor_smtp_stream_stop_transcript (smtp);
  if (doctor_smtp_stream_write_finish (smtp, result, NULL))
    {
      QuitData *data = g_new0 (QuitData, 1);

      data->stream = g_object_ref (stream);
      data->replies = self->end_data ? 2 : 1;  /* the "." has a reply of its own */
      doctor_smtp_stream_command_async (smtp, NULL, NULL, QUIT_TIMEOUT, NULL, on_quit_reply,
                                        data);
    }
  else
    close_connection (stream);

  g_clear_object (&self->smtp);
  complete (self, NULL);
}

static gboolean on_accept_certificate (GTlsConnection       *connection,
                                       GTlsCertificate      *certificate,
                                       GTlsCertificateFlags  errors,
                                       gpointer              user_data);

/* Lets go of the TLS connection, its accept-certificate handler first, here on the main thread.
 * A cancelled handshake's thread may hold the last reference and finalize the connection there;
 * a handler still connected with g_signal_connect_object() would then be invalidated on that
 * thread, racing the main thread over this object's list of closures (GLib warns "unable to
 * remove uninstalled invalidation notifier"). */
static void
clear_tls_stream (DoctorDiagnosis *self)
{
  if (self->tls_stream == NULL)
    return;
  g_signal_handlers_disconnect_by_func (self->tls_stream, on_accept_certificate, self);
  g_clear_object (&self->tls_stream);
}

/* Ends the conversation after the last check or a failure: the checks not run are skipped,
 * QUIT is sent where the connection is still usable, and the run completes. */
static void
end_conversation (DoctorDiagnosis *self)
{
  skip_remaining (self, "not-reached", _("Not reached: an earlier check failed"));

  clear_tls_stream (self);

  if (self->smtp != NULL)
    {
      /* The stream keeps the connection underneath it alive. */
      g_clear_object (&self->connection);
      if (self->end_data)
        {
          /* RFC 2920 §3.1: an empty message ends the DATA the server accepted; QUIT may
           * follow in the same write. */
          static const char *const lines[] = { ".", "QUIT", NULL };

          doctor_smtp_stream_write_lines_async (self->smtp, lines, QUIT_TIMEOUT, NULL,
                                                on_quit_written, g_object_ref (self));
          return;
        }
      doctor_smtp_stream_write_async (self->smtp, "QUIT", NULL, QUIT_TIMEOUT, NULL,
                                      on_quit_written, g_object_ref (self));
      return;
    }

  if (self->connection != NULL)
    close_connection (G_IO_STREAM (self->connection));
  g_clear_object (&self->connection);

  complete (self, NULL);
}

static void
end_cancelled (DoctorDiagnosis *self)
{
  skip_remaining (self, "cancelled", _("Cancelled"));

  if (self->smtp != NULL)
    close_connection (doctor_smtp_stream_get_stream (self->smtp));
  else if (self->connection != NULL)
    close_connection (G_IO_STREAM (self->connection));

  g_clear_object (&self->smtp);
  clear_tls_stream (self);
  g_clear_object (&self->connection);

  complete (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                       _("The diagnosis was cancelled")));
}

static gboolean
was_cancelled (DoctorDiagnosis *self)
{
  return g_cancellable_is_cancelled (self->cancellable);
}

/* Errors of the conversation ----------------------------------------------------------------- */

/* A failed command: a deadline, a broken reply, a closed connection, or a cancelled run. */
static void
conclude_stream_error (DoctorDiagnosis *self,
                       const GError    *error,
                       const char      *timeout_reason)
{
  g_autofree char *summary = NULL;
  const char *reason;

  if (was_cancelled (self))
    {
      end_cancelled (self);
      return;
    }

  if (g_error_matches (error, DOCTOR_ERROR, DOCTOR_ERROR_TIMEOUT))
    reason = timeout_reason;
  else if (g_error_matches (error, DOCTOR_ERROR, DOCTOR_ERROR_LINE_TOO_LONG) ||
           g_error_matches (error, DOCTOR_ERROR, DOCTOR_ERROR_REPLY_TOO_LONG))
    reason = "line-too-long";
  else if (g_error_matches (error, DOCTOR_ERROR, DOCTOR_ERROR_NUL_BYTE) ||
           g_error_matches (error, DOCTOR_ERROR, DOCTOR_ERROR_MALFORMED_REPLY) ||
           g_error_matches (error, DOCTOR_ERROR, DOCTOR_ERROR_UNEXPECTED_DATA))
    reason = "protocol-error";
  else
    reason = "connection-closed";

  if (g_str_equal (reason, "connection-closed") && !g_error_matches (error, DOCTOR_ERROR, DOCTOR_ERROR_CLOSED))
    summary = g_strdup_printf (_("The connection failed: %s"), error->message);
  else
    summary = g_strdup_printf ("%s.", error->message);

  doctor_check_set_detail (self->current, "error", _("Error"), error->message);
  conclude_fail (self, reason, NULL, summary);
}

static void
conclude_unexpected_reply (DoctorDiagnosis   *self,
                           const DoctorReply *reply,
                           const char        *command)
{
  g_autofree char *text = doctor_reply_join_text (reply);
  g_autofree char *summary = NULL;

  if (reply->code == 421)
    {
      summary = g_strdup_printf (_("The server is closing the connection (421 %s)"), text);
      conclude_fail (self, "server-busy", reply, summary);
      return;
    }

  /* Translators: the first %s is an SMTP command such as EHLO, then a reply code and text. */
  summary = g_strdup_printf (_("The server answered %s with an unexpected reply (%u %s)"),
                             command, reply->code, text);
  conclude_fail (self, "protocol-error", reply, summary);
}

/* DNS ------------------------------------------------------------------------------------------ */

static void start_connect (DoctorDiagnosis *self);

static void
on_resolved (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(DoctorDiagnosis) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GStrvBuilder) all = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) v4 = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) v6 = g_strv_builder_new ();
  g_auto(GStrv) all_strv = NULL;
  g_auto(GStrv) v4_strv = NULL;
  g_auto(GStrv) v6_strv = NULL;
  g_autofree char *joined = NULL;
  g_autofree char *summary = NULL;
  GList *list;
  guint n_v4 = 0, n_v6 = 0;
  gboolean expired = doctor_deadline_expired (self->deadline);

  list = g_resolver_lookup_by_name_finish (G_RESOLVER (object), result, &error);
  g_clear_pointer (&self->deadline, doctor_deadline_free);

  if (list == NULL)
    {
      if (was_cancelled (self))
        {
          end_cancelled (self);
          return;
        }

      doctor_check_set_detail (self->current, "error", _("Error"),
                               expired ? _("No answer") : error->message);

      if (expired)
        {
          summary = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                  "No answer from the DNS server within %u second",
                                                  "No answer from the DNS server within %u seconds",
                                                  seconds (timeout_ms (self))),
                                     seconds (timeout_ms (self)));
          conclude_fail (self, "dns-temporary-failure", NULL, summary);
        }
      else if (g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND))
        {
          summary = g_strdup_printf (_("The name %s does not exist in DNS, or has no addresses"),
                                     self->target->host);
          conclude_fail (self, "dns-not-found", NULL, summary);
        }
      else
        {
          summary = g_strdup_printf (_("The name %s could not be looked up: %s"),
                                     self->target->host, error->message);
          conclude_fail (self, "dns-temporary-failure", NULL, summary);
        }
      return;
    }

  for (GList *l = list; l != NULL; l = l->next)
    {
      GInetAddress *address = l->data;
      char *text = g_inet_address_to_string (address);

      if (self->addresses->len < MAX_ADDRESSES)
        g_ptr_array_add (self->addresses, g_object_ref (address));

      g_strv_builder_add (all, text);
      if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
        {
          g_strv_builder_add (v6, text);
          n_v6++;
        }
      else
        {
          g_strv_builder_add (v4, text);
          n_v4++;
        }
      g_free (text);
    }
  g_resolver_free_addresses (list);

  all_strv = g_strv_builder_end (all);
  v4_strv = g_strv_builder_end (v4);
  v6_strv = g_strv_builder_end (v6);
  doctor_check_set_detail_list (self->current, "addresses", _("Addresses"),
                                (const char *const *) all_strv);
  doctor_check_set_detail_list (self->current, "ipv4", _("IPv4 addresses"),
                                (const char *const *) v4_strv);
  doctor_check_set_detail_list (self->current, "ipv6", _("IPv6 addresses"),
                                (const char *const *) v6_strv);

  joined = g_strjoinv (", ", all_strv);
  if (g_hostname_is_ip_address (self->target->host))
    summary = g_strdup_printf (_("%s is an IP address; no lookup was needed"), self->target->host);
  else
    /* Translators: "smtp.example.com has 2 addresses: 192.0.2.1, 2001:db8::1" */
    summary = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s has %u address: %s",
                                            "%s has %u addresses: %s", n_v4 + n_v6),
                               self->target->host, n_v4 + n_v6, joined);

  conclude (self, DOCTOR_CHECK_PASS, NULL, NULL, summary);
  start_connect (self);
}

static void
start_dns (DoctorDiagnosis *self)
{
  g_autoptr(GResolver) resolver = g_resolver_get_default ();

  begin (self, "dns");

  /* A and AAAA are asked for together; the answer comes in the system's preferred order. */
  self->deadline = doctor_deadline_new (self->cancellable, timeout_ms (self));
  g_resolver_lookup_by_name_async (resolver, self->target->host,
                                   doctor_deadline_get_cancellable (self->deadline),
                                   on_resolved, g_object_ref (self));
}

/* Connect -------------------------------------------------------------------------------------- */

static void start_attempt (DoctorDiagnosis *self);

static void
classify_connect_error (Attempt      *attempt,
                        const GError *error,
                        guint         timeout)
{
  if (doctor_deadline_expired (attempt->deadline) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      attempt->result = g_strdup ("timeout");
      attempt->reason = g_strdup ("connection-timeout");
      attempt->text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                    "no answer within %u second",
                                                    "no answer within %u seconds",
                                                    seconds (timeout)),
                                       seconds (timeout));
      return;
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      attempt->abandoned = TRUE;
      attempt->result = g_strdup ("abandoned");
      attempt->text = g_strdup (_("abandoned: another address answered first"));
      return;
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    {
      attempt->result = g_strdup ("refused");
      attempt->reason = g_strdup ("connection-refused");
      attempt->text = g_strdup (_("refused"));
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE))
    {
      attempt->result = g_strdup ("network-unreachable");
      attempt->reason = g_strdup ("network-unreachable");
      attempt->text = g_strdup (_("no route to this network"));
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
    {
      /* EACCES/EPERM from connect(): a firewall rule rejected the packet, on this computer
       * or, for IPv6 (ICMPv6 "administratively prohibited"), on the way. */
      attempt->result = g_strdup ("filtered");
      attempt->reason = g_strdup ("connection-filtered");
      attempt->text = g_strdup (_("blocked by a firewall"));
    }
  else
    {
      attempt->result = g_strdup ("host-unreachable");
      attempt->reason = g_strdup ("host-unreachable");
      attempt->text = g_strdup (error->message);
    }
}

static const char *
pick_connect_reason (DoctorDiagnosis *self)
{
  /* When addresses fail differently, the most telling failure names the problem: a refusal
   * proves the host is there, while "network unreachable" is often just a missing IPv6 route. */
  static const char *order[] = {
    "connection-refused", "connection-filtered", "connection-timeout",
    "host-unreachable", "network-unreachable",
  };

  for (guint o = 0; o < G_N_ELEMENTS (order); o++)
    {
      for (guint i = 0; i < self->attempts->len; i++)
        {
          Attempt *attempt = g_ptr_array_index (self->attempts, i);

          if (g_strcmp0 (attempt->reason, order[o]) == 0)
            return order[o];
        }
    }

  return "host-unreachable";
}

static Attempt *
find_attempt_for_reason (DoctorDiagnosis *self,
                         const char      *reason)
{
  for (guint i = 0; i < self->attempts->len; i++)
    {
      Attempt *attempt = g_ptr_array_index (self->attempts, i);

      if (g_strcmp0 (attempt->reason, reason) == 0)
        return attempt;
    }

  return NULL;
}

static char *
make_helo_name (GSocketConnection *connection)
{
  const char *host = g_get_host_name ();
  g_autoptr(GSocketAddress) local = NULL;
  g_autofree char *ip = NULL;
  gboolean valid = strchr (host, '.') != NULL && strlen (host) < 250;

  /* A bare host name without a domain is refused by many servers (Postfix'
   * reject_non_fqdn_helo_hostname), and an address literal is always acceptable. */
  for (const char *p = host; valid && *p; p++)
    valid = g_ascii_isalnum (*p) || *p == '-' || *p == '.';

  if (valid)
    return g_strdup (host);

  local = g_socket_connection_get_local_address (connection, NULL);
  if (local == NULL || !G_IS_INET_SOCKET_ADDRESS (local))
    return g_strdup ("localhost");

  ip = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));
  if (g_inet_address_get_family (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)))
      == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[IPv6:%s]", ip);

  return g_strdup_printf ("[%s]", ip);
}

/* The result of every address, also of those that finish after the conversation went on with
 * the first one that answered. */
static void
update_connect_details (DoctorDiagnosis *self)
{
  DoctorCheck *connect = check (self, "connect");
  g_autoptr(GStrvBuilder) lines = g_strv_builder_new ();
  g_auto(GStrv) lines_strv = NULL;
  gboolean v4_seen = FALSE, v6_seen = FALSE;

  for (guint i = 0; i < self->attempts->len; i++)
    {
      Attempt *attempt = g_ptr_array_index (self->attempts, i);
      g_autofree char *where = address_to_string (attempt->address);
      GInetAddress *ip = g_inet_socket_address_get_address (attempt->address);
      gboolean v6 = g_inet_address_get_family (ip) == G_SOCKET_FAMILY_IPV6;
      const char *result = attempt->result != NULL ? attempt->result
                           : attempt->state == ATTEMPT_RUNNING ? "pending" : "not-tried";
      g_autofree char *line = NULL;

      line = g_strdup_printf ("%s: %s", where,
                              attempt->text != NULL ? attempt->text
                              : attempt->state == ATTEMPT_RUNNING ? _("still trying")
                              : _("not tried"));
      g_strv_builder_add (lines, line);

      /* The first address of each family tells how that family fares. */
      if (v6 && !v6_seen)
        {
          doctor_check_set_detail (connect, "ipv6-result", _("IPv6"), result);
          v6_seen = TRUE;
        }
      else if (!v6 && !v4_seen)
        {
          doctor_check_set_detail (connect, "ipv4-result", _("IPv4"), result);
          v4_seen = TRUE;
        }
    }

  lines_strv = g_strv_builder_end (lines);
  doctor_check_set_detail_list (connect, "attempts", _("Attempts"),
                                (const char *const *) lines_strv);
}

static void start_remaining_attempts (DoctorDiagnosis *self);

/* When the connection works over one family and every address of the other has already failed
 * for good: programs that try that family first (Node.js before 20 takes only the first address,
 * which is ::1 for "localhost"), or that wait long for it, fail or hang where this check did
 * not. Returns "ipv6-broken" or "ipv4-broken", with a sentence for the summary. */
static const char *
family_failure (DoctorDiagnosis  *self,
                char            **sentence)
{
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (self->connection, NULL);
  GSocketFamily winner;
  const Attempt *failed = NULL;
  guint others = 0;

  if (remote == NULL || !G_IS_INET_SOCKET_ADDRESS (remote))
    return NULL;

  winner = g_socket_address_get_family (remote);
  for (guint i = 0; i < self->attempts->len; i++)
    {
      const Attempt *attempt = g_ptr_array_index (self->attempts, i);
      GInetAddress *ip = g_inet_socket_address_get_address (attempt->address);

      if (g_inet_address_get_family (ip) == winner)
        continue;

      others++;
      if (attempt->state != ATTEMPT_DONE || attempt->reason == NULL)
        return NULL;
      if (failed == NULL)
        failed = attempt;
    }

  if (others == 0 || failed == NULL)
    return NULL;

  {
    g_autofree char *where = address_to_string (failed->address);

    if (winner == G_SOCKET_FAMILY_IPV4)
      /* Translators: "IPv6 does not work: [2001:db8::1]:587 refused" */
      *sentence = g_strdup_printf (_("IPv6 does not work: %s %s"), where, failed->text);
    else
      *sentence = g_strdup_printf (_("IPv4 does not work: %s %s"), where, failed->text);
  }

  return winner == G_SOCKET_FAMILY_IPV4 ? "ipv6-broken" : "ipv4-broken";
}

static void
finish_connect (DoctorDiagnosis *self)
{
  g_autofree char *summary = NULL;

  g_clear_handle_id (&self->stagger, g_source_remove);
  self->connect_done = TRUE;
  update_connect_details (self);

  if (was_cancelled (self))
    {
      g_clear_object (&self->connection);
      end_cancelled (self);
      return;
    }

  if (self->connection == NULL)
    {
      const char *reason = pick_connect_reason (self);
      Attempt *attempt = find_attempt_for_reason (self, reason);
      g_autofree char *where = NULL;
      guint16 port = doctor_target_get_port (self->target);

      if (attempt == NULL)
        attempt = g_ptr_array_index (self->attempts, 0);
      where = address_to_string (attempt->address);

      if (g_str_equal (reason, "connection-refused"))
        summary = g_strdup_printf (_("%s refused the connection to port %u: nothing accepts "
                                     "connections there, or a firewall rejects them"),
                                   self->target->host, port);
      else if (g_str_equal (reason, "connection-timeout"))
        summary = g_strdup_printf (_("No answer from %s on port %u within %u seconds: a firewall "
                                     "may be dropping the connection"),
                                   self->target->host, port, seconds (timeout_ms (self)));
      else if (g_str_equal (reason, "connection-filtered"))
        summary = g_strdup_printf (_("A firewall blocks connections to %s, on this computer "
                                     "or on the network"), where);
      else if (g_str_equal (reason, "network-unreachable"))
        summary = g_strdup_printf (_("There is no route to %s from this network (%s)"),
                                   where, attempt->text);
      else
        summary = g_strdup_printf (_("%s cannot be reached (%s)"), where, attempt->text);

      conclude_fail (self, reason, NULL, summary);
      return;
    }

  {
    g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (self->connection, NULL);
    g_autofree char *where = remote ? address_to_string (G_INET_SOCKET_ADDRESS (remote)) : g_strdup ("?");
    GSocket *socket = g_socket_connection_get_socket (self->connection);

    /* Commands are small and each waits for its reply: Nagle would only add delay. */
    g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);

    doctor_check_set_detail (self->current, "address", _("Connected to"), where);
    summary = g_strdup_printf (_("Connected to %s"), where);
  }

  self->helo = self->target->helo_name != NULL ? g_strdup (self->target->helo_name)
                                               : make_helo_name (self->connection);
  self->smtp = doctor_smtp_stream_new (G_IO_STREAM (self->connection), on_transcript, self);
  set_stream_secrets (self);

  {
    g_autofree char *broken = NULL;
    const char *reason = family_failure (self, &broken);

    if (reason != NULL)
      {
        g_autofree char *text = g_strdup_printf (_("%s, but %s"), summary, broken);

        conclude (self, DOCTOR_CHECK_WARN, reason, NULL, text);
      }
    else
      {
        conclude (self, DOCTOR_CHECK_PASS, NULL, NULL, summary);
      }
  }

  /* The other addresses are still tried, alongside the conversation, so that a broken IPv6
   * (or IPv4) path shows even when the other one works. */
  start_remaining_attempts (self);

  if (security (self) == DOCTOR_SECURITY_TLS)
    start_handshake (self);
  else
    start_greeting (self);
}

static void
maybe_finish_connect (DoctorDiagnosis *self)
{
  gboolean more = self->next_attempt < self->attempts->len;

  if (self->connect_done)
    {
      update_connect_details (self);
      return;
    }

  if (self->connection != NULL)
    {
      finish_connect (self);
      return;
    }

  if (self->running_attempts > 0)
    return;

  if (more && !was_cancelled (self))
    {
      start_attempt (self);
      return;
    }

  finish_connect (self);
}

static void
on_connected (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Attempt *attempt = user_data;
  g_autoptr(DoctorDiagnosis) self = g_steal_pointer (&attempt->self);
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (object), result, &error);
  attempt->state = ATTEMPT_DONE;
  self->running_attempts--;

  if (attempt->abandoned)
    {
      /* Given up when the run ended; its text says so already. */
      if (connection != NULL)
        close_connection (G_IO_STREAM (connection));
    }
  else if (connection != NULL)
    {
      gint64 ms = (g_get_monotonic_time () - attempt->started_us) / 1000;

      attempt->result = g_strdup ("connected");
      if (self->connection == NULL && !self->connect_done && !was_cancelled (self))
        {
          self->connection = g_steal_pointer (&connection);
          g_autofree char *took = doctor_format_duration (ms);

          attempt->text = g_strdup_printf (_("connected in %s"), took);
        }
      else
        {
          g_autofree char *took = doctor_format_duration (ms);

          attempt->text = g_strdup_printf (_("connected in %s, not used"), took);
          close_connection (G_IO_STREAM (connection));
        }
    }
  else
    {
      classify_connect_error (attempt, error, timeout_ms (self));
    }

  g_clear_pointer (&attempt->deadline, doctor_deadline_free);
  maybe_finish_connect (self);
}

/* At the end of the run: attempts still waiting are stopped and say so. */
static void
abandon_attempts (DoctorDiagnosis *self)
{
  gboolean changed = FALSE;

  for (guint i = 0; i < self->attempts->len; i++)
    {
      Attempt *attempt = g_ptr_array_index (self->attempts, i);
      g_autofree char *waited = NULL;

      if (attempt->state != ATTEMPT_RUNNING || attempt->abandoned)
        continue;

      waited = doctor_format_duration ((g_get_monotonic_time () - attempt->started_us) / 1000);
      attempt->abandoned = TRUE;
      attempt->result = g_strdup ("unfinished");
      attempt->text = g_strdup_printf (_("no answer after %s, when the diagnosis ended"), waited);
      g_cancellable_cancel (doctor_deadline_get_cancellable (attempt->deadline));
      changed = TRUE;
    }

  if (changed && self->connect_done)
    update_connect_details (self);
}

static gboolean
on_stagger (gpointer user_data)
{
  DoctorDiagnosis *self = user_data;

  self->stagger = 0;
  if (self->connection == NULL && self->next_attempt < self->attempts->len)
    start_attempt (self);

  return G_SOURCE_REMOVE;
}

static void
start_attempt (DoctorDiagnosis *self)
{
  g_autoptr(GSocketClient) client = make_socket_client ();
  Attempt *attempt = g_ptr_array_index (self->attempts, self->next_attempt++);

  attempt->self = g_object_ref (self);
  attempt->state = ATTEMPT_RUNNING;
  attempt->started_us = g_get_monotonic_time ();
  attempt->deadline = doctor_deadline_new (self->cancellable, timeout_ms (self));
  self->running_attempts++;

  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (attempt->address),
                                 doctor_deadline_get_cancellable (attempt->deadline),
                                 on_connected, attempt);

  /* RFC 8305: the next address gets its turn after a short delay, without waiting for this
   * one to fail; a failure starts the next one at once (maybe_finish_connect). */
  g_clear_handle_id (&self->stagger, g_source_remove);
  if (self->next_attempt < self->attempts->len && !self->connect_done)
    {
      GSource *source = g_timeout_source_new (HAPPY_EYEBALLS_DELAY);

      g_source_set_callback (source, on_stagger, self, NULL);
      g_source_set_static_name (source, "[smtp-doctor] next address");
      self->stagger = g_source_attach (source, g_main_context_get_thread_default ());
      g_source_unref (source);
    }
}

static void
start_remaining_attempts (DoctorDiagnosis *self)
{
  while (self->next_attempt < self->attempts->len)
    start_attempt (self);

  update_connect_details (self);
}

static void
start_connect (DoctorDiagnosis *self)
{
  guint16 port = doctor_target_get_port (self->target);
  GPtrArray *v4 = g_ptr_array_new ();
  GPtrArray *v6 = g_ptr_array_new ();
  guint i4 = 0, i6 = 0;
  gboolean v6_first;

  begin (self, "connect");

  /* Interleave the families, starting with the one the resolver put first (RFC 8305 §4). */
  for (guint i = 0; i < self->addresses->len; i++)
    {
      GInetAddress *address = g_ptr_array_index (self->addresses, i);

      g_ptr_array_add (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6 ? v6 : v4,
                       address);
    }
  v6_first = self->addresses->len > 0 &&
             g_inet_address_get_family (g_ptr_array_index (self->addresses, 0))
             == G_SOCKET_FAMILY_IPV6;

  while (i4 < v4->len || i6 < v6->len)
    {
      for (guint turn = 0; turn < 2; turn++)
        {
          gboolean take_v6 = (turn == 0) == v6_first;
          GInetAddress *address = NULL;

          if (take_v6 && i6 < v6->len)
            address = g_ptr_array_index (v6, i6++);
          else if (!take_v6 && i4 < v4->len)
            address = g_ptr_array_index (v4, i4++);

          if (address != NULL)
            {
              Attempt *attempt = g_new0 (Attempt, 1);

              attempt->address = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (address, port));
              g_ptr_array_add (self->attempts, attempt);
            }
        }
    }

  g_ptr_array_unref (v4);
  g_ptr_array_unref (v6);

  start_attempt (self);
}

/* Security-mismatch probes --------------------------------------------------------------------- */

/* A second, short connection that tells what the port really speaks. */
typedef struct
{
  DoctorDeadline    *deadline;
  GSocketConnection *connection;
  GIOStream         *tls;
  DoctorSmtpStream  *smtp;
  gboolean           tls_probe;
  gboolean           greeted;
  gboolean           starttls;
} Probe;

static void
probe_free (Probe *probe)
{
  if (probe->smtp != NULL)
    close_connection (doctor_smtp_stream_get_stream (probe->smtp));
  else if (probe->tls != NULL)
    close_connection (probe->tls);
  else if (probe->connection != NULL)
    close_connection (G_IO_STREAM (probe->connection));

  g_clear_object (&probe->smtp);
  g_clear_object (&probe->tls);
  g_clear_object (&probe->connection);
  g_clear_pointer (&probe->deadline, doctor_deadline_free);
  g_free (probe);
}

static gboolean
accept_any_certificate (GTlsConnection       *connection,
                        GTlsCertificate      *certificate,
                        GTlsCertificateFlags  errors,
                        gpointer              user_data)
{
  /* Only for the probe, which sends nothing but a handshake: whether this port speaks TLS at
   * all is the question, not whether it is trusted. */
  return TRUE;
}

static void
on_probe_ehlo (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Probe *probe = g_task_get_task_data (task);
  g_autoptr(DoctorReply) reply = NULL;

  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, NULL);
  if (reply != NULL && reply->code == 250)
    {
      for (guint i = 1; i < reply->lines->len; i++)
        {
          if (g_ascii_strncasecmp (g_ptr_array_index (reply->lines, i), "STARTTLS", 8) == 0)
            probe->starttls = TRUE;
        }
    }

  g_task_return_boolean (task, TRUE);
}

static void
on_probe_greeting (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Probe *probe = g_task_get_task_data (task);
  g_autoptr(DoctorReply) reply = NULL;
  guint remaining;

  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, NULL);
  if (reply == NULL || reply->code != 220)
    {
      g_task_return_boolean (task, FALSE);
      return;
    }

  probe->greeted = TRUE;
  remaining = doctor_deadline_get_timeout_ms (probe->deadline);
  doctor_smtp_stream_command_async (probe->smtp, "EHLO probe.invalid", NULL, remaining,
                                    g_task_get_cancellable (task), on_probe_ehlo,
                                    g_object_ref (task));
}

static void
on_probe_handshake (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;

  g_task_return_boolean (task, g_tls_connection_handshake_finish (G_TLS_CONNECTION (object),
                                                                  result, NULL));
}

static void
on_probe_connected (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Probe *probe = g_task_get_task_data (task);
  DoctorDiagnosis *self = g_task_get_source_object (task);
  guint probe_ms = doctor_deadline_get_timeout_ms (probe->deadline);

  probe->connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (object), result, NULL);
  if (probe->connection == NULL)
    {
      g_task_return_boolean (task, FALSE);
      return;
    }

  if (probe->tls_probe)
    {
      g_autoptr(GSocketConnectable) identity =
        server_identity (self);

      probe->tls = g_tls_client_connection_new (G_IO_STREAM (probe->connection), identity, NULL);
      if (probe->tls == NULL)
        {
          g_task_return_boolean (task, FALSE);
          return;
        }
      g_signal_connect (probe->tls, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
      g_tls_connection_handshake_async (G_TLS_CONNECTION (probe->tls), G_PRIORITY_DEFAULT,
                                        doctor_deadline_get_cancellable (probe->deadline),
                                        on_probe_handshake, g_object_ref (task));
      return;
    }

  probe->smtp = doctor_smtp_stream_new (G_IO_STREAM (probe->connection), NULL, NULL);
  doctor_smtp_stream_command_async (probe->smtp, NULL, NULL, probe_ms,
                                    doctor_deadline_get_cancellable (probe->deadline),
                                    on_probe_greeting, g_object_ref (task));
}

static void
probe_async (DoctorDiagnosis     *self,
             gboolean             tls_probe,
             GAsyncReadyCallback  callback)
{
  g_autoptr(GSocketClient) client = make_socket_client ();
  g_autoptr(GSocketAddress) remote = NULL;
  g_autoptr(GTask) task = NULL;
  Probe *probe;

  task = g_task_new (self, self->cancellable, callback, g_object_ref (self));
  g_task_set_source_tag (task, probe_async);
  g_task_set_check_cancellable (task, FALSE);

  probe = g_new0 (Probe, 1);
  probe->tls_probe = tls_probe;
  probe->deadline = doctor_deadline_new (self->cancellable, MIN (timeout_ms (self), PROBE_TIMEOUT_MAX));
  g_task_set_task_data (task, probe, (GDestroyNotify) probe_free);

  remote = g_socket_connection_get_remote_address (self->connection, NULL);
  if (remote == NULL)
    {
      g_task_return_boolean (task, FALSE);
      return;
    }

  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (remote),
                                 doctor_deadline_get_cancellable (probe->deadline),
                                 on_probe_connected, g_steal_pointer (&task));
}

/* TLS handshake and certificate ---------------------------------------------------------------- */

static gboolean
on_accept_certificate (GTlsConnection       *connection,
                       GTlsCertificate      *certificate,
                       GTlsCertificateFlags  errors,
                       gpointer              user_data)
{
  DoctorDiagnosis *self = user_data;

  g_autoptr(GSocketConnectable) identity = server_identity (self);
  g_autoptr(GTlsDatabase) system = NULL;

  g_set_object (&self->peer_certificate, certificate);
  self->peer_flags = errors;

  /* The connection has no database of its own (new_tls_connection), so glib-networking only
   * checked dates and name; the chain is verified here, with the flags a database gives. */
  if ((errors & G_TLS_CERTIFICATE_UNKNOWN_CA) == 0)
    return TRUE;

  /* A custom CA adds to the system's trust, it does not replace it: the chain is trusted when
   * either vouches for it. The custom CA is asked first, because it is at hand; the system's
   * bundle is only needed when the custom CA does not know the chain. */
  if (self->ca_database != NULL)
    {
      GTlsCertificateFlags custom;

      custom = g_tls_database_verify_chain (self->ca_database, certificate,
                                            G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER,
                                            identity, NULL, G_TLS_DATABASE_VERIFY_NONE,
                                            NULL, NULL);
      if ((custom & G_TLS_CERTIFICATE_UNKNOWN_CA) == 0)
        {
          self->peer_flags = custom;
          return TRUE;
        }
    }

  system = g_tls_backend_get_default_database (g_tls_backend_get_default ());
  if (system != NULL)
    self->peer_flags = g_tls_database_verify_chain (system, certificate,
                                                    G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER,
                                                    identity, NULL, G_TLS_DATABASE_VERIFY_NONE,
                                                    NULL, NULL);

  /* The handshake goes on so that the report can name the TLS version and cipher, but a
   * connection with any flag left is untrusted: no secret is ever sent on it, and the run ends
   * at the certificate check. */
  return TRUE;
}

static const char *
protocol_version_name (GTlsProtocolVersion version)
{
  switch (version)
    {
    case G_TLS_PROTOCOL_VERSION_SSL_3_0: return "SSL 3.0";
    case G_TLS_PROTOCOL_VERSION_TLS_1_0: return "TLS 1.0";
    case G_TLS_PROTOCOL_VERSION_TLS_1_1: return "TLS 1.1";
    case G_TLS_PROTOCOL_VERSION_TLS_1_2: return "TLS 1.2";
    case G_TLS_PROTOCOL_VERSION_TLS_1_3: return "TLS 1.3";
    case G_TLS_PROTOCOL_VERSION_DTLS_1_0: return "DTLS 1.0";
    case G_TLS_PROTOCOL_VERSION_DTLS_1_2: return "DTLS 1.2";
    case G_TLS_PROTOCOL_VERSION_UNKNOWN:
    default:
      return NULL;
    }
}

static gboolean
issuer_is_expected (const DoctorProvider *provider,
                    const char           *issuer)
{
  g_autofree char *lower = g_utf8_strdown (issuer != NULL ? issuer : "", -1);

  for (guint i = 0; provider->expected_issuers[i] != NULL; i++)
    {
      g_autofree char *expected = g_utf8_strdown (provider->expected_issuers[i], -1);

      if (strstr (lower, expected) != NULL)
        return TRUE;
    }

  return FALSE;
}

/* One sentence for the worst problem, with the fact that matters for it. */
static char *
certificate_problem_summary (DoctorDiagnosis *self,
                             const char      *reason)
{
  GTlsCertificate *certificate = self->peer_certificate;

  if (g_str_equal (reason, "certificate-expired"))
    {
      g_autoptr(GDateTime) date = g_tls_certificate_get_not_valid_after (certificate);
      g_autofree char *text = date ? g_date_time_format (date, "%Y-%m-%d") : g_strdup ("?");

      return g_strdup_printf (_("The server’s certificate expired on %s"), text);
    }

  if (g_str_equal (reason, "certificate-not-yet-valid"))
    {
      g_autoptr(GDateTime) date = g_tls_certificate_get_not_valid_before (certificate);
      g_autofree char *text = date ? g_date_time_format (date, "%Y-%m-%d") : g_strdup ("?");

      return g_strdup_printf (_("The server’s certificate is only valid from %s; check the "
                                "date and time of this computer"), text);
    }

  if (g_str_equal (reason, "certificate-hostname-mismatch"))
    {
      GStrv names = doctor_check_get_detail_list (self->current, "names");
      g_autofree char *joined = NULL;

      if (names != NULL && names[0] != NULL)
        {
          g_autofree char **first = g_new0 (char *, 4);

          for (guint i = 0; i < 3 && names[i] != NULL; i++)
            first[i] = names[i];
          joined = g_strjoinv (", ", first);
          return g_strdup_printf (_("The server’s certificate is for %s, not for %s"), joined,
                                  self->target->host);
        }

      return g_strdup_printf (_("The server’s certificate does not name %s"), self->target->host);
    }

  if (g_str_equal (reason, "certificate-revoked"))
    return g_strdup (_("The server’s certificate has been revoked by its issuer"));

  if (g_str_equal (reason, "certificate-insecure"))
    return g_strdup (_("The server’s certificate uses an insecure algorithm"));

  return g_strdup (_("The server’s certificate is not signed by an authority this computer "
                     "trusts, or it is self-signed"));
}

static void
conclude_certificate (DoctorDiagnosis *self)
{
  g_autofree char *summary = NULL;
  GTlsCertificateFlags flags = self->peer_flags;

  begin (self, "certificate");

  if (self->peer_certificate == NULL)
    {
      conclude_fail (self, "certificate-untrusted", NULL,
                     _("The server sent no certificate"));
      return;
    }

  doctor_certificate_describe (self->peer_certificate, self->current);
  if (self->target->ca_file != NULL)
    doctor_check_set_detail (self->current, "ca-file", _("Custom CA file"), self->target->ca_file);

  if (flags != 0)
    {
      g_auto(GStrv) problems = doctor_certificate_flags_to_strv (flags);
      const char *reason = doctor_certificate_flags_reason (flags);
      g_autofree char *main_text = certificate_problem_summary (self, reason);
      guint n = g_strv_length (problems);

      self->trusted = FALSE;
      self->certificate_rejected = TRUE;
      doctor_check_set_detail_list (self->current, "problems", _("Problems"),
                                    (const char *const *) problems);
      if (n > 1)
        /* Translators: the first %s is a sentence about a certificate problem */
        summary = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s (and %u more problem)",
                                                "%s (and %u more problems)", n - 1),
                                   main_text, n - 1);
      else
        summary = g_steal_pointer (&main_text);
      conclude_fail (self, reason, NULL, summary);
      return;
    }

  self->trusted = TRUE;

  {
    gint64 days = doctor_certificate_get_days_left (self->peer_certificate);
    g_autofree char *issuer = g_tls_certificate_get_issuer_name (self->peer_certificate);
    g_autofree char *safe_issuer = doctor_text_make_safe (issuer ? issuer : "?", -1);

    const DoctorProvider *provider = doctor_providers_match_host (self->target->host);

    if (provider != NULL && provider->expected_issuers[0] != NULL &&
        !issuer_is_expected (provider, issuer))
      {
        g_autofree char *expected = g_strjoinv (", ", provider->expected_issuers);

        /* Trusted by this computer, but not what the provider uses: a CA that antivirus
         * software or a company proxy installed to read TLS traffic. */
        doctor_check_set_detail (self->current, "expected-issuer", _("Expected issuer"),
                                 expected);
        summary = g_strdup_printf (_("Trusted here, but issued by %s and not by %s, who issues "
                                     "the certificates of %s: antivirus software or a company "
                                     "proxy may be reading this encrypted connection"),
                                   safe_issuer, expected, provider->name);
        conclude (self, DOCTOR_CHECK_WARN, "certificate-intercepted", NULL, summary);
      }
    else if (days <= DOCTOR_CERTIFICATE_WARN_DAYS)
      {
        summary = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                "The certificate is trusted but expires in %d day",
                                                "The certificate is trusted but expires in %d days",
                                                days),
                                   (int) days);
        conclude (self, DOCTOR_CHECK_WARN, "certificate-expires-soon", NULL, summary);
      }
    else
      {
        summary = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                "Trusted, issued by %s, valid for %d more day",
                                                "Trusted, issued by %s, valid for %d more days",
                                                days),
                                   safe_issuer, (int) days);
        conclude (self, DOCTOR_CHECK_PASS, NULL, NULL, summary);
      }
  }

  if (security (self) == DOCTOR_SECURITY_TLS)
    start_greeting (self);
  else
    start_auth (self);
}

static void
on_mismatch_plain_probe (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(DoctorDiagnosis) self = user_data;
  Probe *probe = g_task_get_task_data (G_TASK (result));
  const char *error_text = doctor_check_get_detail (self->current, "error");
  guint16 port = doctor_target_get_port (self->target);
  g_autofree char *summary = NULL;

  g_task_propagate_boolean (G_TASK (result), NULL);

  if (was_cancelled (self))
    {
      end_cancelled (self);
      return;
    }

  if (probe->greeted)
    {
      DoctorSecurity mode = probe->starttls ? DOCTOR_SECURITY_STARTTLS : DOCTOR_SECURITY_NONE;
      g_autofree char *suggestion = NULL;

      /* Translators: %u is a port number, the second %s a security mode such as STARTTLS. */
      suggestion = g_strdup_printf (_("Port %u works with %s"), port,
                                    doctor_security_get_label (mode));
      set_suggestion (self, mode, suggestion);
      summary = g_strdup_printf (_("Port %u does not speak SSL/TLS from the start: the server "
                                   "greets in plain text, so it expects %s instead"),
                                 port, doctor_security_get_label (mode));
      conclude_fail (self, "security-mismatch", NULL, summary);
      return;
    }

  summary = g_strdup_printf (_("The TLS handshake failed: %s"), error_text ? error_text : "?");
  conclude_fail (self, "tls-handshake-failed", NULL, summary);
}

static void
on_handshake (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(DoctorDiagnosis) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *summary = NULL;
  GTlsConnection *tls = G_TLS_CONNECTION (object);
  gboolean expired = doctor_deadline_expired (self->deadline);
  const char *version;
  g_autofree char *cipher = NULL;

  g_clear_pointer (&self->deadline, doctor_deadline_free);

  if (!g_tls_connection_handshake_finish (tls, result, &error))
    {
      if (was_cancelled (self))
        {
          end_cancelled (self);
          return;
        }

      /* The plaintext connection underneath is no longer usable for SMTP either. */
      g_clear_object (&self->smtp);

      if (expired)
        {
          summary = g_strdup_printf (_("The TLS handshake did not finish within %u seconds"),
                                     seconds (timeout_ms (self)));
          doctor_check_set_detail (self->current, "error", _("Error"), summary);
          conclude_fail (self, "reply-timeout", NULL, summary);
          return;
        }

      doctor_check_set_detail (self->current, "error", _("Error"), error->message);

      if (security (self) == DOCTOR_SECURITY_TLS &&
          !g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_UNAVAILABLE))
        {
          /* The classic mistake: SSL/TLS chosen for a port that speaks plain SMTP first. */
          probe_async (self, FALSE, on_mismatch_plain_probe);
          return;
        }

      if (g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_UNAVAILABLE))
        summary = g_strdup_printf (_("TLS is not available on this computer (%s); install "
                                     "glib-networking"), error->message);
      else
        summary = g_strdup_printf (_("The TLS handshake failed: %s"), error->message);

      conclude_fail (self,
                     strstr (error->message, "version") != NULL ? "tls-protocol-outdated"
                                                                 : "tls-handshake-failed",
                     NULL, summary);
      return;
    }

  if (self->peer_certificate == NULL)
    self->peer_certificate = g_tls_connection_get_peer_certificate (tls)
                             ? g_object_ref (g_tls_connection_get_peer_certificate (tls)) : NULL;

  version = protocol_version_name (g_tls_connection_get_protocol_version (tls));
  cipher = g_tls_connection_get_ciphersuite_name (tls);
  doctor_check_set_detail (self->current, "version", _("Version"), version ? version : "?");
  doctor_check_set_detail (self->current, "cipher", _("Cipher suite"), cipher ? cipher : "?");

  if (self->smtp == NULL)
    {
      self->smtp = doctor_smtp_stream_new (G_IO_STREAM (self->connection), on_transcript, self);
      set_stream_secrets (self);
    }
  if (!doctor_smtp_stream_upgrade (self->smtp, self->tls_stream, &error))
    {
      summary = g_strdup_printf ("%s.", error->message);
      conclude_fail (self, "starttls-injection", NULL, summary);
      return;
    }

  summary = g_strdup_printf (_("%s with %s"), version ? version : _("Unknown TLS version"),
                             cipher ? cipher : _("an unknown cipher"));

  if (g_tls_connection_get_protocol_version (tls) != G_TLS_PROTOCOL_VERSION_UNKNOWN &&
      g_tls_connection_get_protocol_version (tls) < G_TLS_PROTOCOL_VERSION_TLS_1_2)
    {
      g_autofree char *outdated = g_strdup_printf (_("%s is outdated and insecure"),
                                                   version ? version : "?");
      conclude (self, DOCTOR_CHECK_WARN, "tls-protocol-outdated", NULL, outdated);
    }
  else
    {
      conclude (self, DOCTOR_CHECK_PASS, NULL, NULL, summary);
    }

  conclude_certificate (self);
}

/* TLS set-up, off the critical path. Loading the TLS backend and parsing the system's CA
 * bundle (or the custom CA file) costs tens of milliseconds of CPU. A thread does it while the
 * main context waits for DNS, the connection, the greeting, EHLO and STARTTLS, so that the
 * ClientHello goes out as soon as the 220 arrives. The backend and the default database stay
 * loaded for the life of the process, so later runs only need the thread for a CA file. */
static gint tls_warm;

typedef struct
{
  DoctorDiagnosis    *self;
  char               *ca_file;
  gboolean            system;       /* load the default database too */
  GTlsDatabase       *ca_database;  /* out */
  GError             *ca_error;     /* out */
} TlsJob;

static void
tls_job_free (TlsJob *job)
{
  g_free (job->ca_file);
  g_clear_object (&job->ca_database);
  g_clear_error (&job->ca_error);
  g_clear_object (&job->self);
  g_free (job);
}

static void
tls_job_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  TlsJob *job = task_data;
  GTlsBackend *backend = g_tls_backend_get_default ();

  /* With a custom CA, the system's bundle is only parsed if that CA does not know the
   * server's chain (on_accept_certificate). */
  if (job->system)
    {
      GTlsDatabase *database = g_tls_backend_get_default_database (backend);

      g_clear_object (&database);
      g_atomic_int_set (&tls_warm, TRUE);
    }
  if (job->ca_file != NULL)
    job->ca_database = g_tls_file_database_new (job->ca_file, &job->ca_error);

  g_task_return_boolean (task, TRUE);
}

static void continue_handshake (DoctorDiagnosis *self);

/* The client side of TLS on @base. It is made without a database: glib-networking would
 * otherwise parse the system's whole CA bundle again for every connection, on the critical
 * path; on_accept_certificate verifies the chain against the default database (loaded once,
 * in a thread) instead. */
static GIOStream *
new_tls_connection (GIOStream           *base,
                    GSocketConnectable  *identity,
                    GError             **error)
{
  GTlsBackend *backend = g_tls_backend_get_default ();

  if (!g_tls_backend_supports_tls (backend))
    return g_tls_client_connection_new (base, identity, error);

  return g_initable_new (g_tls_backend_get_client_connection_type (backend), NULL, error,
                         "base-io-stream", base,
                         "server-identity", identity,
                         "database", NULL,
                         NULL);
}

static void
on_tls_job_done (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  TlsJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(DoctorDiagnosis) self = g_object_ref (job->self);

  g_task_propagate_boolean (G_TASK (result), NULL);
  self->tls_jobs--;

  if (job->ca_file != NULL)
    {
      g_set_object (&self->ca_database, job->ca_database);
      if (job->ca_error != NULL && self->ca_error == NULL)
        self->ca_error = g_error_copy (job->ca_error);
    }

  if (self->conversation_done)
    {
      if (self->tls_jobs == 0 &&
          (self->port_scan == NULL || doctor_port_scan_is_finished (self->port_scan)))
        finish_run (self);
      return;
    }

  if (self->handshake_waiting && self->tls_jobs == 0)
    {
      self->handshake_waiting = FALSE;
      continue_handshake (self);
    }
}

static void
start_tls_job (DoctorDiagnosis *self)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, on_tls_job_done, NULL);
  TlsJob *job = g_new0 (TlsJob, 1);

  job->self = g_object_ref (self);
  if (self->ca_database == NULL)
    job->ca_file = g_strdup (self->target->ca_file);
  job->system = self->target->ca_file == NULL;
  g_task_set_source_tag (task, start_tls_job);
  g_task_set_task_data (task, job, (GDestroyNotify) tls_job_free);
  self->tls_jobs++;
  g_task_run_in_thread (task, tls_job_thread);
}

static void
continue_handshake (DoctorDiagnosis *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *summary = NULL;

  if (self->ca_error != NULL)
    {
      /* The file looked like PEM when the run started, but is not usable. */
      summary = g_strdup_printf (_("The CA file cannot be used: %s"), self->ca_error->message);
      doctor_check_set_detail (self->current, "error", _("Error"), self->ca_error->message);
      conclude_fail (self, "invalid-input", NULL, summary);
      return;
    }

  {
    g_autoptr(GSocketConnectable) identity = NULL;

    /* The identity is the name the user gave, never the address connected to. */
    identity = server_identity (self);
    self->tls_stream = new_tls_connection (G_IO_STREAM (self->connection), identity, &error);
  }

  if (was_cancelled (self))
    {
      end_cancelled (self);
      return;
    }

  if (self->tls_stream == NULL)
    {
      summary = g_strdup_printf (_("TLS is not available on this computer (%s); install "
                                   "glib-networking"), error->message);
      conclude_fail (self, "tls-handshake-failed", NULL, summary);
      return;
    }

  g_signal_connect_object (self->tls_stream, "accept-certificate",
                           G_CALLBACK (on_accept_certificate), self, 0);

  self->deadline = doctor_deadline_new (self->cancellable, timeout_ms (self));
  g_tls_connection_handshake_async (G_TLS_CONNECTION (self->tls_stream), G_PRIORITY_DEFAULT,
                                    doctor_deadline_get_cancellable (self->deadline),
                                    on_handshake, g_object_ref (self));
}

static void
start_handshake (DoctorDiagnosis *self)
{
  begin (self, "tls");

  /* The thread that loads the backend and the databases has not finished yet. */
  if (self->tls_jobs > 0)
    {
      self->handshake_waiting = TRUE;
      return;
    }

  continue_handshake (self);
}

/* Greeting ------------------------------------------------------------------------------------- */

static void
conclude_tls_mismatch (DoctorDiagnosis *self)
{
  guint16 port = doctor_target_get_port (self->target);
  g_autofree char *suggestion = g_strdup_printf (_("Port %u works with %s"), port,
                                                 doctor_security_get_label (DOCTOR_SECURITY_TLS));
  g_autofree char *summary = NULL;

  set_suggestion (self, DOCTOR_SECURITY_TLS, suggestion);
  summary = g_strdup_printf (_("Port %u expects SSL/TLS from the start (implicit TLS), so the "
                               "server waited silently for a TLS handshake"), port);
  conclude_fail (self, "security-mismatch", NULL, summary);
}

static void
conclude_greeting_timeout (DoctorDiagnosis *self)
{
  g_autofree char *summary = NULL;

  summary = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                          "Connected, but the server sent no greeting within %u "
                                          "second",
                                          "Connected, but the server sent no greeting within %u "
                                          "seconds", seconds (timeout_ms (self))),
                             seconds (timeout_ms (self)));
  conclude_fail (self, "greeting-timeout", NULL, summary);
}

static void
stop_greeting_wait (DoctorDiagnosis *self)
{
  g_clear_handle_id (&self->greeting_timer, g_source_remove);
  g_clear_pointer (&self->greeting_wait, doctor_deadline_free);
}

static void
on_early_probe (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(DoctorDiagnosis) self = user_data;
  gboolean tls_works = g_task_propagate_boolean (G_TASK (result), NULL);

  if (self->early_probe != PROBE_RUNNING)
    return;  /* The greeting came, or the run ended. */

  self->early_probe = tls_works ? PROBE_TLS_WORKS : PROBE_FAILED;

  if (was_cancelled (self))
    {
      if (self->greeting_timed_out)
        end_cancelled (self);
      return;
    }

  if (tls_works && !self->greeting_timed_out)
    {
      /* The answer is known: stop waiting for a greeting that will not come. */
      g_cancellable_cancel (doctor_deadline_get_cancellable (self->greeting_wait));
      return;
    }

  if (self->greeting_timed_out)
    {
      stop_greeting_wait (self);
      if (tls_works)
        conclude_tls_mismatch (self);
      else
        conclude_greeting_timeout (self);
    }
}

static gboolean
on_greeting_silence (gpointer user_data)
{
  DoctorDiagnosis *self = user_data;

  /* Silence is what a plaintext client meets on an implicit-TLS port: the server waits for a
   * ClientHello. A second connection that tries TLS tells, alongside the wait. */
  self->greeting_timer = 0;
  self->early_probe = PROBE_RUNNING;
  probe_async (self, TRUE, on_early_probe);

  return G_SOURCE_REMOVE;
}

static void
on_greeting (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(DoctorDiagnosis) self = user_data;
  g_autoptr(DoctorReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *summary = NULL;

  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, &error);

  if (reply == NULL)
    {
      if (!was_cancelled (self) && self->early_probe == PROBE_TLS_WORKS)
        {
          stop_greeting_wait (self);
          conclude_tls_mismatch (self);
          return;
        }

      if (g_error_matches (error, DOCTOR_ERROR, DOCTOR_ERROR_TIMEOUT) && !was_cancelled (self))
        {
          doctor_check_set_detail (self->current, "error", _("Error"), error->message);
          if (self->early_probe == PROBE_NONE && security (self) != DOCTOR_SECURITY_TLS)
            {
              self->early_probe = PROBE_RUNNING;
              probe_async (self, TRUE, on_early_probe);
            }
          if (self->early_probe == PROBE_RUNNING)
            {
              /* Its answer decides. */
              self->greeting_timed_out = TRUE;
              return;
            }
          stop_greeting_wait (self);
          conclude_greeting_timeout (self);
          return;
        }

      self->early_probe = PROBE_NONE;
      stop_greeting_wait (self);
      conclude_stream_error (self, error, "greeting-timeout");
      return;
    }

  self->early_probe = PROBE_NONE;
  stop_greeting_wait (self);
  self->reply_bare_lf = reply->bare_lf;
  text = doctor_reply_join_text (reply);
  doctor_check_set_detail (self->current, "banner", _("Banner"), text);

  switch (reply->code)
    {
    case 220:
      summary = g_strdup_printf (_("The server is ready: %s"), text);
      conclude (self, DOCTOR_CHECK_PASS, NULL, reply, summary);
      start_ehlo (self);
      return;

    case 421:
      summary = g_strdup_printf (_("The server is busy or refuses connections for now (421 %s)"),
                                 text);
      conclude_fail (self, "server-busy", reply, summary);
      return;

    case 554:
      summary = g_strdup_printf (_("The server refuses to talk to this computer (554 %s)"), text);
      conclude_fail (self, "greeting-rejected", reply, summary);
      return;

    default:
      if (reply->code >= 500)
        {
          summary = g_strdup_printf (_("The server refused the connection (%u %s)"),
                                     reply->code, text);
          conclude_fail (self, "greeting-rejected", reply, summary);
        }
      else
        {
          summary = g_strdup_printf (_("The server greeted with an unexpected reply (%u %s)"),
                                     reply->code, text);
          conclude_fail (self, "protocol-error", reply, summary);
        }
      return;
    }
}

static void
start_greeting (DoctorDiagnosis *self)
{
  begin (self, "greeting");

  self->greeting_wait = doctor_deadline_new (self->cancellable, 0);
  /* Not on port 25: behind Postfix' postscreen, a client that talks before the (deliberately
   * late) greeting is taken for a spammer, so there the probe waits for the deadline. */
  if (security (self) != DOCTOR_SECURITY_TLS && doctor_target_get_port (self->target) != 25)
    {
      GSource *source = g_timeout_source_new (MIN (GREETING_PROBE_DELAY, timeout_ms (self) / 2));

      g_source_set_callback (source, on_greeting_silence, self, NULL);
      g_source_set_static_name (source, "[smtp-doctor] greeting silence");
      self->greeting_timer = g_source_attach (source, g_main_context_get_thread_default ());
      g_source_unref (source);
    }

  doctor_smtp_stream_command_async (self->smtp, NULL, NULL, timeout_ms (self),
                                    doctor_deadline_get_cancellable (self->greeting_wait),
                                    on_greeting, g_object_ref (self));
}

/* EHLO ----------------------------------------------------------------------------------------- */

static void
take_capabilities (DoctorDiagnosis   *self,
                   const DoctorReply *reply)
{
  g_clear_pointer (&self->capabilities, g_ptr_array_unref);
  self->capabilities = doctor_capabilities_parse (reply);
}

static const char *
capability (DoctorDiagnosis *self,
            const char      *keyword)
{
  return doctor_capabilities_lookup (self->capabilities, keyword);
}

static void
set_capabilities_detail (DoctorDiagnosis *self,
                         const char      *key,
                         const char      *label)
{
  g_ptr_array_add (self->capabilities, NULL);
  doctor_check_set_detail_list (self->current, key, label,
                                (const char *const *) self->capabilities->pdata);
  g_ptr_array_remove_index (self->capabilities, self->capabilities->len - 1);
}

static char *
capabilities_summary (DoctorDiagnosis *self)
{
  g_autoptr(GString) str = g_string_new (NULL);

  for (guint i = 0; i < self->capabilities->len && i < 8; i++)
    {
      if (i > 0)
        g_string_append (str, ", ");
      g_string_append (str, g_ptr_array_index (self->capabilities, i));
    }
  if (self->capabilities->len > 8)
    g_string_append (str, ", …");

  if (str->len == 0)
    return g_strdup (_("The server accepted EHLO but offers no extensions"));

  return g_strdup_printf (_("The server offers %s"), str->str);
}

static void after_ehlo (DoctorDiagnosis *self);

static void
on_helo (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(DoctorDiagnosis) self = user_data;
  g_autoptr(DoctorReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *summary = NULL;

  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, &error);
  if (reply == NULL)
    {
      conclude_stream_error (self, error, "reply-timeout");
      return;
    }

  text = doctor_reply_join_text (reply);
  if (reply->code != 250)
    {
      summary = g_strdup_printf (_("The server refused both EHLO and HELO (%u %s)"),
                                 reply->code, text);
      conclude_fail (self, "ehlo-rejected", reply, summary);
      return;
    }

  g_clear_pointer (&self->capabilities, g_ptr_array_unref);
  self->capabilities = g_ptr_array_new_with_free_func (g_free);
  conclude (self, DOCTOR_CHECK_WARN, "ehlo-rejected", reply,
            _("The server refused EHLO and only speaks the old HELO: no extensions, no "
              "STARTTLS, no login"));
  after_ehlo (self);
}

static void
on_ehlo (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(DoctorDiagnosis) self = user_data;
  g_autoptr(DoctorReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *summary = NULL;

  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, &error);
  if (reply == NULL)
    {
      conclude_stream_error (self, error, "reply-timeout");
      return;
    }

  self->reply_bare_lf |= reply->bare_lf;
  text = doctor_reply_join_text (reply);

  if (reply->code == 250)
    {
      take_capabilities (self, reply);
      set_capabilities_detail (self, "capabilities", _("Capabilities"));
      doctor_check_set_detail (self->current, "server-name", _("Server name"),
                               doctor_reply_get_line (reply, 0));
      summary = capabilities_summary (self);
      conclude (self, DOCTOR_CHECK_PASS, NULL, reply, summary);
      after_ehlo (self);
      return;
    }

  if (reply->code >= 500 && reply->code != 554 && security (self) == DOCTOR_SECURITY_NONE)
    {
      g_autofree char *helo = g_strdup_printf ("HELO %s", self->helo);

      /* Only without TLS: falling back would hide whether STARTTLS is offered. */
      doctor_smtp_stream_command_async (self->smtp, helo, NULL, timeout_ms (self),
                                        self->cancellable, on_helo, g_object_ref (self));
      return;
    }

  /* A 4xx is a refusal too ("451 try again later"), not a broken reply; a 421 closes. */
  if (reply->code >= 400 && reply->code != 421)
    {
      summary = g_strdup_printf (_("The server refused EHLO (%u %s)"), reply->code, text);
      conclude_fail (self, "ehlo-rejected", reply, summary);
      return;
    }

  conclude_unexpected_reply (self, reply, "EHLO");
}

static void
start_ehlo (DoctorDiagnosis *self)
{
  g_autofree char *command = g_strdup_printf ("EHLO %s", self->helo);

  begin (self, "ehlo");
  doctor_check_set_detail (self->current, "ehlo-name", _("EHLO name"), self->helo);
  doctor_smtp_stream_command_async (self->smtp, command, NULL, timeout_ms (self),
                                    self->cancellable, on_ehlo, g_object_ref (self));
}

static void
after_ehlo (DoctorDiagnosis *self)
{
  switch (security (self))
    {
    case DOCTOR_SECURITY_STARTTLS:
      start_starttls (self);
      break;

    case DOCTOR_SECURITY_TLS:
      skip (self, "starttls", "not-applicable",
            _("Not needed: the connection is encrypted from the start"));
      start_auth (self);
      break;

    case DOCTOR_SECURITY_NONE:
    default:
      if (capability (self, "STARTTLS") != NULL)
        skip (self, "starttls", "not-applicable",
              _("The server offers STARTTLS, but no encryption was asked for; choose STARTTLS "
                "to protect the password and the mail"));
      else
        skip (self, "starttls", "not-applicable", _("No encryption was asked for"));
      skip (self, "tls", "not-applicable", _("No encryption was asked for"));
      skip (self, "certificate", "not-applicable", _("No encryption was asked for"));
      start_auth (self);
      break;
    }
}

/* STARTTLS ------------------------------------------------------------------------------------- */

static void
on_starttls (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(DoctorDiagnosis) self = user_data;
  g_autoptr(DoctorReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *summary = NULL;

  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, &error);
  if (reply == NULL)
    {
      conclude_stream_error (self, error, "reply-timeout");
      return;
    }

  text = doctor_reply_join_text (reply);

  if (reply->code == 220)
    {
      if (doctor_smtp_stream_has_pending_input (self->smtp))
        {
          /* CVE-2021-22947 and friends: whatever came with the 220 was written before the
           * handshake by whoever sits on the path, and must not be read as if it were
           * protected. Nothing more is sent on this connection, not even QUIT. */
          g_clear_object (&self->smtp);
          conclude_fail (self, "starttls-injection", reply,
                         _("The server sent more data right after accepting STARTTLS; someone "
                           "on the network may be injecting commands, so the connection was "
                           "dropped"));
          return;
        }

      conclude (self, DOCTOR_CHECK_PASS, NULL, reply, _("The server accepted STARTTLS"));
      start_handshake (self);
      return;
    }

  if (reply->code == 421)
    {
      conclude_unexpected_reply (self, reply, "STARTTLS");
      return;
    }

  if (reply->code >= 400 && reply->code < 500)
    summary = g_strdup_printf (_("The server temporarily refused STARTTLS (%u %s)"),
                               reply->code, text);
  else
    summary = g_strdup_printf (_("The server refused STARTTLS (%u %s)"), reply->code, text);

  conclude_fail (self, "starttls-rejected", reply, summary);
}

static void
start_starttls (DoctorDiagnosis *self)
{
  begin (self, "starttls");

  if (capability (self, "STARTTLS") == NULL)
    {
      conclude_fail (self, "starttls-not-offered", NULL,
                     _("The server does not offer STARTTLS, so the password and mail would "
                       "cross the network unencrypted; someone on the network may be removing "
                       "it"));
      return;
    }

  doctor_smtp_stream_command_async (self->smtp, "STARTTLS", NULL, timeout_ms (self),
                                    self->cancellable, on_starttls, g_object_ref (self));
}

/* AUTH ----------------------------------------------------------------------------------------- */

static gboolean
has_mechanism (GStrv       mechanisms,
               const char *name)
{
  for (guint i = 0; mechanisms != NULL && mechanisms[i] != NULL; i++)
    {
      if (g_ascii_strcasecmp (mechanisms[i], name) == 0)
        return TRUE;
    }

  return FALSE;
}

static GStrv
auth_mechanisms (DoctorDiagnosis *self)
{
  return doctor_capabilities_auth_mechanisms (self->capabilities);
}

static gboolean
enhanced_is (const DoctorReply *reply,
             const char        *code)
{
  return g_strcmp0 (reply->enhanced, code) == 0;
}

static gboolean
text_contains (const DoctorReply *reply,
               const char        *needle)
{
  g_autofree char *text = doctor_reply_join_text (reply);
  g_autofree char *lower = g_ascii_strdown (text, -1);

  return strstr (lower, needle) != NULL;
}

static void
conclude_auth_reply (DoctorDiagnosis   *self,
                     const DoctorReply *reply,
                     const char        *mechanism)
{
  g_autofree char *text = doctor_reply_join_text (reply);
  g_autofree char *summary = NULL;
  const char *reason;

  if (reply->code == 235)
    {
      if (security (self) == DOCTOR_SECURITY_NONE)
        {
          summary = g_strdup_printf (_("Logged in as %s with %s, but the password crossed the "
                                       "network unencrypted"), self->target->user, mechanism);
          conclude (self, DOCTOR_CHECK_WARN, "auth-unencrypted", reply, summary);
        }
      else
        {
          summary = g_strdup_printf (_("Logged in as %s with %s"), self->target->user, mechanism);
          conclude (self, DOCTOR_CHECK_PASS, NULL, reply, summary);
        }
      start_send (self);
      return;
    }

  /* The enhanced status code says most; the text is the last resort. */
  if (enhanced_is (reply, "5.7.9") || text_contains (reply, "application-specific password"))
    {
      reason = "auth-app-password-required";
      summary = g_strdup_printf (_("The server wants an app password, not the account password "
                                   "(%u %s)"), reply->code, text);
    }
  else if (enhanced_is (reply, "5.7.139") || enhanced_is (reply, "5.7.30") ||
           (enhanced_is (reply, "5.7.3") && reply->code == 535) ||
           text_contains (reply, "basic authentication is disabled") ||
           text_contains (reply, "smtpclientauthentication is disabled"))
    {
      reason = "auth-basic-disabled";
      summary = g_strdup_printf (_("Password logins are turned off for this account or "
                                   "organisation (%u %s)"), reply->code, text);
    }
  else if (reply->code == 530 || reply->code == 538 || enhanced_is (reply, "5.7.11"))
    {
      reason = "auth-requires-tls";
      summary = g_strdup_printf (_("The server requires encryption before a login (%u %s)"),
                                 reply->code, text);
    }
  else if (reply->code >= 400 && reply->code < 500)
    {
      reason = "auth-temporary-failure";
      summary = g_strdup_printf (_("The login failed for now; try again later (%u %s)"),
                                 reply->code, text);
    }
  else if (reply->code == 504 || enhanced_is (reply, "5.5.4"))
    {
      reason = "auth-mechanism-unsupported";
      summary = g_strdup_printf (_("The server does not accept the %s login method (%u %s)"),
                                 mechanism, reply->code, text);
    }
  else if (reply->code >= 500)
    {
      reason = "auth-failed";
      summary = g_strdup_printf (_("The server rejected the user name or password (%u %s)"),
                                 reply->code, text);
    }
  else
    {
      conclude_unexpected_reply (self, reply, "AUTH");
      return;
    }

  conclude_fail (self, reason, reply, summary);
}

static char *
encode_secret (const char *data,
               gsize       length)
{
  return g_base64_encode ((const guchar *) data, length);
}

typedef enum
{
  LOGIN_USER,
  LOGIN_PASSWORD,
  LOGIN_RESULT,
  PLAIN_RESULT,
  CANCELLED_EXCHANGE,
} AuthStage;

typedef struct
{
  DoctorDiagnosis *self;
  AuthStage        stage;
} AuthData;

static void on_auth_reply (GObject *object, GAsyncResult *result, gpointer user_data);

static void
auth_send (DoctorDiagnosis *self,
           AuthStage        stage,
           char            *line,     /* (transfer full), wiped */
           const char      *shown)
{
  AuthData *data = g_new0 (AuthData, 1);

  data->self = g_object_ref (self);
  data->stage = stage;
  doctor_smtp_stream_command_async (self->smtp, line, shown, timeout_ms (self),
                                    self->cancellable, on_auth_reply, data);
  doctor_secret_free (line);
}

static void
on_auth_reply (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  AuthData *data = user_data;
  g_autoptr(DoctorDiagnosis) self = g_steal_pointer (&data->self);
  AuthStage stage = data->stage;
  g_autoptr(DoctorReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  const char *mechanism = stage == PLAIN_RESULT ? "PLAIN" : "LOGIN";

  g_free (data);

  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, &error);
  if (reply == NULL)
    {
      conclude_stream_error (self, error, "reply-timeout");
      return;
    }

  if (stage == CANCELLED_EXCHANGE)
    {
      conclude_fail (self, "protocol-error", reply,
                     _("The server asked for more after the login data was complete; the login "
                       "was cancelled"));
      return;
    }

  if (reply->code == 235 && (stage == LOGIN_USER || stage == LOGIN_PASSWORD))
    {
      /* Nothing was checked: reporting a login would hide that the password may be wrong. */
      conclude_fail (self, "protocol-error", reply,
                     _("The server said the login succeeded before it was sent the password"));
      return;
    }

  if (reply->code == 334)
    {
      /* Any 334 is the next step of LOGIN, whatever its prompt says: the prompt text is not
       * standardised ("VXNlcm5hbWU6", "Username:", nothing). */
      switch (stage)
        {
        case LOGIN_USER:
          auth_send (self, LOGIN_PASSWORD,
                     encode_secret (self->target->user, strlen (self->target->user)),
                     NULL);
          return;

        case LOGIN_PASSWORD:
          auth_send (self, LOGIN_RESULT,
                     encode_secret (self->target->secret, strlen (self->target->secret)),
                     "****");
          return;

        case LOGIN_RESULT:
        case PLAIN_RESULT:
        case CANCELLED_EXCHANGE:
        default:
          /* RFC 4954 §4: "*" cancels the exchange. */
          auth_send (self, CANCELLED_EXCHANGE, g_strdup ("*"), NULL);
          return;
        }
    }

  conclude_auth_reply (self, reply, mechanism);
}

static void
start_login (DoctorDiagnosis *self)
{
  g_auto(GStrv) mechanisms = auth_mechanisms (self);
  g_autofree char *offered = g_strjoinv (" ", mechanisms);
  g_autofree char *summary = NULL;
  const char *user = self->target->user;
  const char *secret = self->target->secret;

  doctor_check_set_detail_list (self->current, "mechanisms", _("Login methods"),
                                (const char *const *) mechanisms);

  if (user == NULL)
    {
      if (mechanisms[0] != NULL)
        summary = g_strdup_printf (_("The server offers login with %s; no user name was given, "
                                     "so no login was tried"), offered);
      else
        summary = g_strdup (_("The server offers no login; it may accept mail without one"));
      conclude (self, DOCTOR_CHECK_PASS, NULL, NULL, summary);
      start_send (self);
      return;
    }

  if (security (self) == DOCTOR_SECURITY_NONE && !self->target->allow_plaintext_auth)
    {
      conclude_fail (self, "auth-plaintext-refused", NULL,
                     _("No login was tried: the password would cross the network unencrypted"));
      return;
    }

  if (security (self) != DOCTOR_SECURITY_NONE && !self->trusted)
    {
      /* Unreachable by construction (an untrusted certificate ends the run), and kept so. */
      conclude_fail (self, "auth-skipped-untrusted", NULL,
                     _("No login was tried: the certificate is not trusted"));
      return;
    }

  if (secret == NULL)
    {
      conclude_fail (self, "invalid-input", NULL,
                     _("No password was given, so no login was tried"));
      return;
    }

  if (mechanisms[0] == NULL)
    {
      conclude_fail (self, "auth-not-offered", NULL,
                     security (self) == DOCTOR_SECURITY_NONE
                     ? _("The server offers no login on an unencrypted connection")
                     : _("The server offers no login; it may not need one, or it may only "
                         "accept mail from its own network"));
      return;
    }

  if (has_mechanism (mechanisms, "PLAIN"))
    {
      gsize user_len = strlen (user);
      gsize secret_len = strlen (secret);
      gsize blob_len = user_len + secret_len + 2;
      char *blob = g_malloc0 (blob_len + 1);
      char *encoded;

      /* authzid (empty) NUL authcid NUL password, sent as the initial response (RFC 4616,
       * RFC 4954 §4): one round trip. */
      memcpy (blob + 1, user, user_len);
      memcpy (blob + 2 + user_len, secret, secret_len);
      encoded = encode_secret (blob, blob_len);
      explicit_bzero (blob, blob_len);
      g_free (blob);

      doctor_check_set_detail (self->current, "mechanism", _("Login method"), "PLAIN");
      auth_send (self, PLAIN_RESULT, g_strconcat ("AUTH PLAIN ", encoded, NULL),
                 "AUTH PLAIN ****");
      doctor_secret_free (encoded);
      return;
    }

  if (has_mechanism (mechanisms, "LOGIN"))
    {
      doctor_check_set_detail (self->current, "mechanism", _("Login method"), "LOGIN");
      auth_send (self, LOGIN_USER, g_strdup ("AUTH LOGIN"), NULL);
      return;
    }

  summary = g_strdup_printf (_("The server only offers login methods SMTP Doctor cannot use "
                               "with a password (%s)"), offered);
  conclude_fail (self, "auth-mechanism-unsupported", NULL, summary);
}

static void
on_ehlo_again (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(DoctorDiagnosis) self = user_data;
  g_autoptr(DoctorReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *summary = NULL;

  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, &error);
  if (reply == NULL)
    {
      conclude_stream_error (self, error, "reply-timeout");
      return;
    }

  self->reply_bare_lf |= reply->bare_lf;

  if (reply->code != 250)
    {
      text = doctor_reply_join_text (reply);
      if (reply->code == 421)
        {
          conclude_unexpected_reply (self, reply, "EHLO");
          return;
        }
      summary = g_strdup_printf (_("The server refused EHLO after STARTTLS (%u %s)"),
                                 reply->code, text);
      conclude_fail (self, "ehlo-rejected", reply, summary);
      return;
    }

  /* RFC 3207 §4.2: everything learnt before TLS is forgotten. */
  take_capabilities (self, reply);
  set_capabilities_detail (self, "capabilities", _("Capabilities after TLS"));
  start_login (self);
}

static void
start_auth (DoctorDiagnosis *self)
{
  begin (self, "auth");

  if (security (self) == DOCTOR_SECURITY_STARTTLS)
    {
      g_autofree char *command = g_strdup_printf ("EHLO %s", self->helo);

      doctor_smtp_stream_command_async (self->smtp, command, NULL, timeout_ms (self),
                                        self->cancellable, on_ehlo_again, g_object_ref (self));
      return;
    }

  set_capabilities_detail (self, "capabilities", _("Capabilities"));
  start_login (self);
}

/* The test message ----------------------------------------------------------------------------- */

typedef enum
{
  SEND_MAIL,
  SEND_RCPT,
  SEND_DATA,
  SEND_BODY,
} SendStage;

typedef struct
{
  DoctorDiagnosis *self;
  SendStage        stage;
} SendData;

static void on_send_reply (GObject *object, GAsyncResult *result, gpointer user_data);

static void
send_command (DoctorDiagnosis *self,
              SendStage        stage,
              const char      *command,
              const char      *shown)
{
  SendData *data = g_new0 (SendData, 1);

  data->self = g_object_ref (self);
  data->stage = stage;
  doctor_smtp_stream_command_async (self->smtp, command, shown, timeout_ms (self),
                                    self->cancellable, on_send_reply, data);
}

static const char *weekdays[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
static const char *months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static char *
make_message (DoctorDiagnosis *self)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *offset = g_date_time_format (now, "%z");
  g_autofree char *uuid = g_uuid_string_random ();
  const char *domain = strrchr (self->target->mail_from, '@') + 1;

  /* RFC 5322 §3.3 date, with English names whatever the locale. */
  return g_strdup_printf ("Date: %s, %d %s %d %02d:%02d:%02d %s\r\n"
                          "From: <%s>\r\n"
                          "To: <%s>\r\n"
                          "Subject: SMTP Doctor test message\r\n"
                          "Message-ID: <%s@%s>\r\n"
                          "MIME-Version: 1.0\r\n"
                          "Content-Type: text/plain; charset=UTF-8\r\n"
                          "Content-Transfer-Encoding: 8bit\r\n"
                          "X-Mailer: SMTP Doctor %s\r\n"
                          "\r\n"
                          "This is a test message from SMTP Doctor.\r\n"
                          "It was sent to check that %s accepts mail from %s.\r\n"
                          "You can delete it.\r\n",
                          weekdays[g_date_time_get_day_of_week (now) - 1],
                          g_date_time_get_day_of_month (now),
                          months[g_date_time_get_month (now) - 1],
                          g_date_time_get_year (now),
                          g_date_time_get_hour (now),
                          g_date_time_get_minute (now),
                          g_date_time_get_second (now),
                          offset,
                          self->target->mail_from,
                          self->target->rcpt_to,
                          uuid, domain,
                          PACKAGE_VERSION,
                          self->target->host,
                          self->target->mail_from);
}

static const char *send_commands[] = { "MAIL", "RCPT", "DATA", "DATA" };

/* TRUE when @reply to @stage lets the transaction go on. Otherwise *@reason and *@summary say
 * what went wrong; a NULL *@reason means a reply that fits no failure of its own (421, or a
 * positive code other than the one expected), for conclude_send_failure() to treat as
 * unexpected. */
static gboolean
send_reply_ok (DoctorDiagnosis    *self,
               SendStage           stage,
               const DoctorReply  *reply,
               const char        **reason,
               char              **summary)
{
  g_autofree char *text = doctor_reply_join_text (reply);

  /* A positive reply other than the one expected (354 to MAIL, 250 to DATA) is not a
   * refusal: the server is out of step, and the reply is reported as unexpected. */
  *reason = NULL;
  *summary = NULL;

  switch (stage)
    {
    case SEND_MAIL:
      if (reply->code == 250)
        return TRUE;
      if (reply->code == 421 || reply->code < 400)
        return FALSE;
      *summary = g_strdup_printf (_("The server refused the sender %s (%u %s)"),
                                  self->target->mail_from, reply->code, text);
      if (reply->code == 530 && text_contains (reply, "tls"))
        *reason = "auth-requires-tls";
      else if (reply->code == 530)
        *reason = "relay-denied";  /* "Authentication required": no mail without a login. */
      else
        *reason = "sender-rejected";
      return FALSE;

    case SEND_RCPT:
      if (reply->code == 250 || reply->code == 251)
        return TRUE;
      if (reply->code == 421 || reply->code < 400)
        return FALSE;
      if (text_contains (reply, "relay") ||
          (enhanced_is (reply, "5.7.1") && reply->code >= 550))
        {
          *summary = g_strdup_printf (_("The server will not pass mail on to %s: it does not "
                                        "relay for this sender without a login (%u %s)"),
                                      self->target->rcpt_to, reply->code, text);
          *reason = "relay-denied";
          return FALSE;
        }
      *summary = g_strdup_printf (_("The server refused the recipient %s (%u %s)"),
                                  self->target->rcpt_to, reply->code, text);
      *reason = "recipient-rejected";
      return FALSE;

    case SEND_DATA:
      if (reply->code == 354)
        return TRUE;
      if (reply->code == 421 || reply->code < 400)
        return FALSE;
      *summary = g_strdup_printf (_("The server refused to take the message (%u %s)"),
                                  reply->code, text);
      *reason = "message-rejected";
      return FALSE;

    case SEND_BODY:
    default:
      if (reply->code == 250)
        return TRUE;
      if (reply->code == 421 || reply->code < 400)
        return FALSE;
      *summary = g_strdup_printf (_("The server refused the message (%u %s)"), reply->code,
                                  text);
      *reason = "message-rejected";
      return FALSE;
    }
}

static void
conclude_send_failure (DoctorDiagnosis   *self,
                       SendStage          stage,
                       const DoctorReply *reply,
                       const char        *reason,
                       const char        *summary)
{
  if (reason == NULL)
    conclude_unexpected_reply (self, reply, send_commands[stage]);
  else
    conclude_fail (self, reason, reply, summary);
}

static void
send_body (DoctorDiagnosis *self)
{
  g_autofree char *message = self->message != NULL ? g_steal_pointer (&self->message)
                                                   : make_message (self);
  gsize length;
  g_autofree char *payload = doctor_smtp_encode_message (message, &length);
  g_autofree char *shown = g_strdup_printf (_("(test message, %lu bytes)"),
                                            (unsigned long) length);

  send_command (self, SEND_BODY, payload, shown);
}

static void
on_send_reply (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  SendData *data = user_data;
  g_autoptr(DoctorDiagnosis) self = g_steal_pointer (&data->self);
  SendStage stage = data->stage;
  const char *reason;
  g_autoptr(DoctorReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *summary = NULL;

  g_free (data);

  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, &error);
  if (reply == NULL)
    {
      conclude_stream_error (self, error, "reply-timeout");
      return;
    }

  self->reply_bare_lf |= reply->bare_lf;

  if (!send_reply_ok (self, stage, reply, &reason, &summary))
    {
      conclude_send_failure (self, stage, reply, reason, summary);
      return;
    }

  switch (stage)
    {
    case SEND_MAIL:
      {
        g_autofree char *rcpt = g_strdup_printf ("RCPT TO:<%s>", self->target->rcpt_to);

        send_command (self, SEND_RCPT, rcpt, NULL);
        return;
      }

    case SEND_RCPT:
      send_command (self, SEND_DATA, "DATA", NULL);
      return;

    case SEND_DATA:
      send_body (self);
      return;

    case SEND_BODY:
    default:
      summary = g_strdup_printf (_("The server accepted the test message for %s"),
                                 self->target->rcpt_to);
      conclude (self, DOCTOR_CHECK_PASS, NULL, reply, summary);
      end_conversation (self);
      return;
    }
}

/* With PIPELINING (RFC 2920) MAIL FROM, RCPT TO and DATA go out in one write and their three
 * replies come back together: one round trip instead of three. Each reply is still checked on
 * its own, in order, and the first that fails names the problem. */
typedef struct
{
  DoctorDiagnosis *self;
  DoctorReply     *replies[SEND_BODY];  /* MAIL, RCPT, DATA */
  guint            n_replies;
  gint64           started_us;
} PipelineData;

static void
pipeline_data_free (PipelineData *data)
{
  for (guint i = 0; i < data->n_replies; i++)
    doctor_reply_free (data->replies[i]);
  g_clear_object (&data->self);
  g_free (data);
}

static void
pipeline_conclude (PipelineData *data)
{
  DoctorDiagnosis *self = data->self;

  for (guint i = 0; i < data->n_replies; i++)
    {
      g_autofree char *summary = NULL;
      const char *reason;

      if (send_reply_ok (self, i, data->replies[i], &reason, &summary))
        continue;

      /* RFC 2920 §3.1: a DATA accepted after its sender or every recipient was refused is
       * ended with a lone "." (sent with the QUIT), so that no message goes out. */
      if (data->n_replies == SEND_BODY && data->replies[SEND_DATA]->code == 354)
        self->end_data = TRUE;
      conclude_send_failure (self, i, data->replies[i], reason, summary);
      return;
    }

  g_assert (data->n_replies == SEND_BODY);
  send_body (self);
}

static void read_pipelined_reply (PipelineData *data);

static void
on_pipelined_reply (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  PipelineData *data = user_data;
  g_autoptr(DoctorDiagnosis) self = g_object_ref (data->self);
  g_autoptr(DoctorReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  gboolean failed = FALSE;

  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, &error);

  /* Whether a reply already read has failed decides what a missing one means. */
  for (guint i = 0; i < data->n_replies; i++)
    {
      g_autofree char *summary = NULL;
      const char *reason;

      failed |= !send_reply_ok (self, i, data->replies[i], &reason, &summary);
    }

  if (reply == NULL)
    {
      /* A server that refused the sender may hang up instead of answering the rest; the
       * refusal is the finding, not the silence after it. */
      if (failed && !was_cancelled (self))
        pipeline_conclude (data);
      else
        conclude_stream_error (self, error, "reply-timeout");
      pipeline_data_free (data);
      return;
    }

  self->reply_bare_lf |= reply->bare_lf;
  data->replies[data->n_replies++] = g_steal_pointer (&reply);

  /* After a 421 the server closes: nothing more will come. */
  if (data->n_replies == SEND_BODY || data->replies[data->n_replies - 1]->code == 421)
    {
      pipeline_conclude (data);
      pipeline_data_free (data);
      return;
    }

  read_pipelined_reply (data);
}

static void
read_pipelined_reply (PipelineData *data)
{
  DoctorDiagnosis *self = data->self;
  gint64 elapsed = (g_get_monotonic_time () - data->started_us) / 1000;
  guint timeout = timeout_ms (self);

  /* The deadline counts from the group, not from the reply before. */
  doctor_smtp_stream_command_async (self->smtp, NULL, NULL,
                                    elapsed < timeout ? timeout - (guint) elapsed : 1,
                                    self->cancellable, on_pipelined_reply, data);
}

static void
on_pipeline_written (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  PipelineData *data = user_data;
  g_autoptr(GError) error = NULL;

  if (!doctor_smtp_stream_write_finish (DOCTOR_SMTP_STREAM (object), result, &error))
    {
      g_autoptr(DoctorDiagnosis) self = g_object_ref (data->self);

      pipeline_data_free (data);
      conclude_stream_error (self, error, "reply-timeout");
      return;
    }

  /* The message is made now, while the three replies travel, not after the 354. */
  if (data->self->message == NULL)
    data->self->message = make_message (data->self);

  read_pipelined_reply (data);
}

static void
start_send (DoctorDiagnosis *self)
{
  g_autofree char *mail = NULL;

  if (!doctor_target_wants_message (self->target))
    {
      skip (self, "send", "not-requested", _("No test message was asked for"));
      end_conversation (self);
      return;
    }

  begin (self, "send");
  mail = g_strdup_printf ("MAIL FROM:<%s>", self->target->mail_from);

  if (capability (self, "PIPELINING") != NULL)
    {
      g_autofree char *rcpt = g_strdup_printf ("RCPT TO:<%s>", self->target->rcpt_to);
      const char *group[] = { mail, rcpt, "DATA", NULL };
      PipelineData *data = g_new0 (PipelineData, 1);

      data->self = g_object_ref (self);
      data->started_us = g_get_monotonic_time ();
      doctor_check_set_detail (self->current, "pipelining", _("Pipelining"),
                               _("MAIL FROM, RCPT TO and DATA sent together (RFC 2920)"));
      doctor_smtp_stream_write_lines_async (self->smtp, group, timeout_ms (self),
                                            self->cancellable, on_pipeline_written, data);
      return;
    }

  send_command (self, SEND_MAIL, mail, NULL);
}

/* The object ------------------------------------------------------------------------------------ */

static void
doctor_diagnosis_finalize (GObject *object)
{
  DoctorDiagnosis *self = (DoctorDiagnosis *)object;

  g_clear_pointer (&self->target, doctor_target_free);
  g_clear_object (&self->checks);
  g_clear_pointer (&self->transcript, g_ptr_array_unref);
  g_clear_pointer (&self->suggestion, doctor_suggestion_free);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->deadline, doctor_deadline_free);
  g_clear_object (&self->ca_database);
  g_clear_pointer (&self->addresses, g_ptr_array_unref);
  g_clear_pointer (&self->attempts, g_ptr_array_unref);
  g_clear_handle_id (&self->stagger, g_source_remove);
  g_clear_object (&self->smtp);
  clear_tls_stream (self);
  g_clear_error (&self->ca_error);
  g_clear_object (&self->connection);
  g_clear_pointer (&self->capabilities, g_ptr_array_unref);
  g_clear_object (&self->peer_certificate);
  g_clear_pointer (&self->helo, g_free);
  g_clear_pointer (&self->message, g_free);
  g_clear_handle_id (&self->greeting_timer, g_source_remove);
  g_clear_pointer (&self->greeting_wait, doctor_deadline_free);
  g_clear_object (&self->port_scan);
  g_clear_error (&self->run_error);

  G_OBJECT_CLASS (doctor_diagnosis_parent_class)->finalize (object);
}

static void
doctor_diagnosis_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  DoctorDiagnosis *self = DOCTOR_DIAGNOSIS (object);

  switch (prop_id)
    {
    case PROP_FINISHED:
      g_value_set_boolean (value, self->finished);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
doctor_diagnosis_class_init (DoctorDiagnosisClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = doctor_diagnosis_finalize;
  object_class->get_property = doctor_diagnosis_get_property;

  properties[PROP_FINISHED] =
    g_param_spec_boolean ("finished", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
doctor_diagnosis_init (DoctorDiagnosis *self)
{
  self->checks = g_list_store_new (DOCTOR_TYPE_CHECK);
  self->transcript = g_ptr_array_new_with_free_func ((GDestroyNotify) transcript_line_free);
  self->addresses = g_ptr_array_new_with_free_func (g_object_unref);
  self->attempts = g_ptr_array_new_with_free_func ((GDestroyNotify) attempt_free);
}

DoctorDiagnosis *
doctor_diagnosis_new (const DoctorTarget *target)
{
  static const char *starttls_order[] = {
    "dns", "connect", "greeting", "ehlo", "starttls", "tls", "certificate", "auth", "send", NULL
  };
  static const char *tls_order[] = {
    "dns", "connect", "tls", "certificate", "greeting", "ehlo", "starttls", "auth", "send", NULL
  };
  DoctorDiagnosis *self;
  const char **order;

  g_return_val_if_fail (target != NULL, NULL);

  self = g_object_new (DOCTOR_TYPE_DIAGNOSIS, NULL);
  self->target = doctor_target_copy (target);

  /* The list has its final shape before anything runs, in the order the checks will run. */
  order = target->security == DOCTOR_SECURITY_TLS ? tls_order : starttls_order;
  for (guint i = 0; order[i] != NULL; i++)
    {
      g_autoptr(DoctorCheck) c = doctor_check_new (order[i]);

      g_list_store_append (self->checks, c);
    }

  return self;
}

const DoctorTarget *
doctor_diagnosis_get_target (DoctorDiagnosis *self)
{
  g_return_val_if_fail (DOCTOR_IS_DIAGNOSIS (self), NULL);
  return self->target;
}

GListModel *
doctor_diagnosis_get_checks (DoctorDiagnosis *self)
{
  g_return_val_if_fail (DOCTOR_IS_DIAGNOSIS (self), NULL);
  return G_LIST_MODEL (self->checks);
}

DoctorCheck *
doctor_diagnosis_get_check (DoctorDiagnosis *self,
                            const char      *id)
{
  guint n;

  g_return_val_if_fail (DOCTOR_IS_DIAGNOSIS (self), NULL);

  n = g_list_model_get_n_items (G_LIST_MODEL (self->checks));
  for (guint i = 0; i < n; i++)
    {
      DoctorCheck *c = g_list_model_get_item (G_LIST_MODEL (self->checks), i);

      g_object_unref (c);  /* The store keeps it alive. */
      if (g_str_equal (doctor_check_get_id (c), id))
        return c;
    }

  return NULL;
}

const DoctorSuggestion *
doctor_diagnosis_get_suggestion (DoctorDiagnosis *self)
{
  g_return_val_if_fail (DOCTOR_IS_DIAGNOSIS (self), NULL);
  return self->suggestion;
}

GPtrArray *
doctor_diagnosis_get_transcript (DoctorDiagnosis *self)
{
  g_return_val_if_fail (DOCTOR_IS_DIAGNOSIS (self), NULL);
  return self->transcript;
}

gboolean
doctor_diagnosis_is_finished (DoctorDiagnosis *self)
{
  g_return_val_if_fail (DOCTOR_IS_DIAGNOSIS (self), FALSE);
  return self->finished;
}

DoctorCheckStatus
doctor_diagnosis_get_verdict (DoctorDiagnosis *self)
{
  DoctorCheckStatus verdict = DOCTOR_CHECK_PASS;
  guint n;

  g_return_val_if_fail (DOCTOR_IS_DIAGNOSIS (self), DOCTOR_CHECK_FAIL);

  n = g_list_model_get_n_items (G_LIST_MODEL (self->checks));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(DoctorCheck) c = g_list_model_get_item (G_LIST_MODEL (self->checks), i);
      DoctorCheckStatus status = doctor_check_get_status (c);
      const char *reason = doctor_check_get_reason (c);

      if (status == DOCTOR_CHECK_FAIL)
        return DOCTOR_CHECK_FAIL;
      if (status == DOCTOR_CHECK_WARN)
        verdict = DOCTOR_CHECK_WARN;
      /* A run that was cancelled did not show that the server works. */
      if (status == DOCTOR_CHECK_SKIPPED && g_strcmp0 (reason, "cancelled") == 0)
        verdict = MAX (verdict, DOCTOR_CHECK_WARN);
    }

  return verdict;
}

static void
on_port_scan_done (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(DoctorDiagnosis) self = user_data;

  doctor_port_scan_run_finish (DOCTOR_PORT_SCAN (object), result, NULL);
  if (self->conversation_done && self->tls_jobs == 0)
    finish_run (self);
}

/* The port × security matrix runs beside the conversation, on its own connections, so that the
 * whole run still takes about one timeout. It sends no credentials. */
static void
start_port_scan (DoctorDiagnosis *self)
{
  self->port_scan = doctor_port_scan_new (self->target->host, NULL, timeout_ms (self),
                                          self->ca_database);
  if (self->target->helo_name != NULL)
    doctor_port_scan_set_helo_name (self->port_scan, self->target->helo_name);
  doctor_port_scan_run_async (self->port_scan, self->cancellable, on_port_scan_done,
                              g_object_ref (self));
}

/* Asks for the port matrix too (DESIGN.md: --scan-ports). Before the run only. */
void
doctor_diagnosis_set_scan_ports (DoctorDiagnosis *self,
                                 gboolean         scan_ports)
{
  g_return_if_fail (DOCTOR_IS_DIAGNOSIS (self));
  g_return_if_fail (!self->started);

  self->scan_ports = !!scan_ports;
}

DoctorPortScan *
doctor_diagnosis_get_port_scan (DoctorDiagnosis *self)
{
  g_return_val_if_fail (DOCTOR_IS_DIAGNOSIS (self), NULL);

  return self->port_scan;
}

/* What can be known of a CA file without the TLS backend: that it can be read and holds a
 * certificate. The database itself is made in a thread (start_tls_job). */
static gboolean
ca_file_looks_usable (const char  *path,
                      GError     **error)
{
  g_autofree char *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, error))
    return FALSE;

  if (strstr (contents, "-----BEGIN CERTIFICATE-----") == NULL)
    {
      g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                   _("No PEM-encoded certificate found in %s"), path);
      return FALSE;
    }

  return TRUE;
}

void
doctor_diagnosis_run_async (DoctorDiagnosis     *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (DOCTOR_IS_DIAGNOSIS (self));
  g_return_if_fail (!self->started);

  self->started = TRUE;
  self->cancellable = cancellable != NULL ? g_object_ref (cancellable) : g_cancellable_new ();
  self->task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (self->task, doctor_diagnosis_run_async);

  /* GTlsFileDatabase only takes an absolute path. */
  if (self->target->ca_file != NULL && !g_path_is_absolute (self->target->ca_file))
    {
      char *absolute = g_canonicalize_filename (self->target->ca_file, NULL);

      g_free (self->target->ca_file);
      self->target->ca_file = absolute;
    }

  if (doctor_target_validate (self->target, &error) &&
      (self->target->ca_file == NULL || ca_file_looks_usable (self->target->ca_file, &error)) &&
      (self->target->ca_file == NULL || !self->scan_ports ||
       (self->ca_database = g_tls_file_database_new (self->target->ca_file, &error)) != NULL))
    {
      /* The TLS backend, the system's CA bundle and the custom CA file load in a thread
       * meanwhile (the port scan needs the custom one at once). */
      if ((security (self) != DOCTOR_SECURITY_NONE || self->scan_ports) &&
          (!g_atomic_int_get (&tls_warm) ||
           (self->target->ca_file != NULL && self->ca_database == NULL)))
        start_tls_job (self);
      if (self->scan_ports)
        start_port_scan (self);
      start_dns (self);
      return;
    }

  begin (self, "dns");
  doctor_check_set_detail (self->current, "error", _("Error"), error->message);
  doctor_check_finish (self->current, DOCTOR_CHECK_FAIL, "invalid-input", error->message);
  self->current = NULL;
  skip_remaining (self, "not-reached", _("Not reached: the settings are not valid"));
  complete (self, g_error_new (DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT, "%s", error->message));
}

gboolean
doctor_diagnosis_run_finish (DoctorDiagnosis  *self,
                             GAsyncResult     *result,
                             GError          **error)
{
  g_return_val_if_fail (DOCTOR_IS_DIAGNOSIS (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
