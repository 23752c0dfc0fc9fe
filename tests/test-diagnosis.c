/* test-diagnosis.c: the engine against a scripted server, fault by fault and attack by attack.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each case starts a DoctorTestServer on 127.0.0.1, gives it a script, runs a diagnosis against
 * it on the same main context and asserts the status and reason code of the checks (the codes
 * of the engine spec), and, where it matters for security, what the server received: no AUTH
 * after a downgrade, an injection or an untrusted certificate; no password before TLS; QUIT
 * after a 554 greeting.
 *
 * Every case runs in a subprocess of its own with a time limit, so that an engine that hangs
 * or crashes fails that case and not the whole suite, and so that no source or socket left
 * over by one case can disturb the next. Set DOCTOR_TEST_IN_PROCESS=1 to run in one process,
 * which is easier under a debugger.
 */
#include <string.h>

#include "doctor-error.h"
#include "doctor-test-server.h"

#define HOST          "127.0.0.1"
#define USER          "me"
#define SECRET        "pw"
#define PLAIN_B64     "AG1lAHB3"   /* base64 ("\0me\0pw") */
#define USER_B64      "bWU="       /* base64 ("me") */
#define SECRET_B64    "cHc="       /* base64 ("pw") */
#define MAIL_FROM     "me@example.org"
#define RCPT_TO       "you@example.net"

#define GREETING      "220 test.example ESMTP ready\r\n"
#define STARTTLS_GO   "220 2.0.0 Ready to start TLS\r\n"
#define AUTH_OK       "235 2.7.0 Authentication successful\r\n"
#define QUIT_REPLY    "221 2.0.0 Bye\r\n"

/* Time for a run in which no deadline is meant to fire. */
#define RUN_MAX_MS    15000
/* A step deadline long enough never to fire on a loopback connection by accident. */
#define LONG_TIMEOUT  5000

/* Fixtures and helpers ----------------------------------------------------------------------- */

static DoctorTarget *
target_new (DoctorTestServer *server,
            DoctorSecurity    security,
            guint             timeout_ms)
{
  DoctorTarget *target = doctor_target_new (HOST, doctor_test_server_get_port (server),
                                            security);

  target->timeout_ms = timeout_ms;
  target->helo_name = g_strdup ("client.test");
  if (doctor_test_have_certs ())
    target->ca_file = doctor_test_cert_path ("ca");

  return target;
}

static void
target_set_login (DoctorTarget *target)
{
  g_free (target->user);
  target->user = g_strdup (USER);
  doctor_target_set_secret (target, SECRET);
}

static void
target_set_message (DoctorTarget *target)
{
  target->mail_from = g_strdup (MAIL_FROM);
  target->rcpt_to = g_strdup (RCPT_TO);
}

static void
script_quit (DoctorTestScript *script)
{
  doctor_test_script_on_line (script, "QUIT", QUIT_REPLY);
}

/* Greeting and the first EHLO. */
static void
script_greet (DoctorTestScript *script,
              const char       *ehlo)
{
  doctor_test_script_send (script, GREETING);
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_send (script, ehlo);
}

/* Greeting, an EHLO that offers STARTTLS (and, as many servers do, AUTH before TLS), STARTTLS
 * and the handshake with @cert; then, when @post_ehlo is given, the EHLO after TLS. */
static void
script_to_tls (DoctorTestScript *script,
               const char       *cert,
               const char       *post_ehlo)
{
  g_autofree char *ehlo = doctor_test_ehlo_reply ("PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN", "8BITMIME",
                                      NULL);

  script_greet (script, ehlo);
  doctor_test_script_expect (script, "STARTTLS");
  doctor_test_script_send (script, STARTTLS_GO);
  doctor_test_script_start_tls (script, cert);
  if (post_ehlo != NULL)
    {
      doctor_test_script_expect (script, "EHLO ");
      doctor_test_script_send (script, post_ehlo);
    }
}

static char *
post_tls_ehlo (void)
{
  return doctor_test_ehlo_reply ("PIPELINING", "AUTH PLAIN LOGIN", "8BITMIME", "SIZE 10240000", NULL);
}

static gboolean
all_finished (gpointer data)
{
  DoctorTestServer *server = data;

  return doctor_test_server_get_n_finished (server) ==
         doctor_test_server_get_n_connections (server);
}

/* Gives the server the time to read whatever the client wrote before it hung up. */
static void
settle (DoctorTestServer *server)
{
  doctor_test_wait_until (all_finished, server, 1000);
  doctor_test_sleep (20);
}

typedef struct
{
  DoctorTestServer *server;
  const char       *prefix;
} ReceivedWait;

static gboolean
has_received (gpointer data)
{
  ReceivedWait *wait = data;

  return doctor_test_server_count_received (wait->server, wait->prefix) > 0;
}

static void
assert_received_soon (DoctorTestServer *server,
                      const char       *prefix)
{
  ReceivedWait wait = { server, prefix };

  if (!doctor_test_wait_until (has_received, &wait, 2000))
    {
      GPtrArray *lines = doctor_test_server_get_received (server);

      g_printerr ("# the server never received a line starting with %s; it got:\n", prefix);
      for (guint i = 0; i < lines->len; i++)
        g_printerr ("#   %s\n", (const char *) g_ptr_array_index (lines, i));
    }
  g_assert_cmpuint (doctor_test_server_count_received (server, prefix), >, 0);
}

#define assert_received_count(server, prefix, n) \
  G_STMT_START { \
    settle (server); \
    g_assert_cmpuint (doctor_test_server_count_received ((server), (prefix)), ==, (n)); \
  } G_STMT_END

#define assert_no_auth(server) assert_received_count ((server), "AUTH", 0)

/* Every check named after @reason (NULL-terminated) must be skipped for that reason. */
static void G_GNUC_NULL_TERMINATED
assert_skipped (DoctorDiagnosis *diagnosis,
                const char      *reason,
                ...)
{
  va_list args;

  va_start (args, reason);
  for (const char *id = va_arg (args, const char *); id != NULL; id = va_arg (args, const char *))
    doctor_test_assert_check_impl (diagnosis, id, DOCTOR_CHECK_SKIPPED, reason, "assert_skipped");
  va_end (args);
}

static void
assert_verdict (DoctorDiagnosis   *diagnosis,
                DoctorCheckStatus  verdict)
{
  if (doctor_diagnosis_get_verdict (diagnosis) != verdict)
    doctor_test_dump_diagnosis (diagnosis);
  g_assert_cmpstr (doctor_check_status_to_string (doctor_diagnosis_get_verdict (diagnosis)), ==,
                   doctor_check_status_to_string (verdict));
}

static gint64
check_duration (DoctorDiagnosis *diagnosis,
                const char      *id)
{
  return doctor_check_get_duration_ms (doctor_diagnosis_get_check (diagnosis, id));
}

static gboolean
transcript_has (DoctorDiagnosis *diagnosis,
                const char      *needle)
{
  GPtrArray *transcript = doctor_diagnosis_get_transcript (diagnosis);

  for (guint i = 0; i < transcript->len; i++)
    {
      const DoctorTranscriptLine *line = g_ptr_array_index (transcript, i);

      if (strstr (line->text, needle) != NULL)
        return TRUE;
    }

  return FALSE;
}

/* No summary, detail or transcript line may carry @secret. */
static void
assert_secret_absent (DoctorDiagnosis *diagnosis,
                      const char      *secret)
{
  GListModel *checks = doctor_diagnosis_get_checks (diagnosis);

  g_assert_false (transcript_has (diagnosis, secret));

  for (guint i = 0; i < g_list_model_get_n_items (checks); i++)
    {
      g_autoptr(DoctorCheck) check = g_list_model_get_item (checks, i);
      GPtrArray *details = doctor_check_get_details (check);
      const char *summary = doctor_check_get_summary (check);

      g_assert_null (summary != NULL ? strstr (summary, secret) : NULL);
      for (guint j = 0; details != NULL && j < details->len; j++)
        {
          const DoctorDetail *detail = g_ptr_array_index (details, j);

          g_assert_null (detail->value != NULL ? strstr (detail->value, secret) : NULL);
          for (guint k = 0; detail->values != NULL && detail->values[k] != NULL; k++)
            g_assert_null (strstr (detail->values[k], secret));
        }
    }
}

/* Drops the diagnosis and checks that nothing inside the engine kept it alive. */
static void
assert_diagnosis_freed (DoctorDiagnosis **diagnosis)
{
  gpointer weak = *diagnosis;
  gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC;

  g_object_add_weak_pointer (weak, &weak);
  g_clear_object (diagnosis);
  while (weak != NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  if (weak != NULL)
    g_object_remove_weak_pointer (weak, &weak);
  g_assert_null (weak);
}

/* The greeting deadline of @timeout_ms must fire on schedule, however many bytes trickle in.
 * The engine may spend part of a second timeout on a connection that probes for implicit TLS
 * (spec: "a second short TLS probe"), so the check may end up to one more timeout later, but
 * never as late as a deadline that bytes kept pushing back. */
static void
assert_greeting_timed_out_on_schedule (DoctorDiagnosis *diagnosis,
                                       gint64           timeout_ms)
{
  gint64 duration = check_duration (diagnosis, "greeting");

  if (duration < timeout_ms - 100 || duration > 2 * timeout_ms + 500)
    doctor_test_dump_diagnosis (diagnosis);
  g_assert_cmpint (duration, >=, timeout_ms - 100);
  g_assert_cmpint (duration, <=, 2 * timeout_ms + 500);
}

static DoctorDiagnosis *
run (DoctorTarget *target)
{
  return doctor_test_run_diagnosis (target, RUN_MAX_MS);
}

/* Greeting ----------------------------------------------------------------------------------- */

static void
test_greeting_silence (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  gint64 elapsed = 0;

  doctor_test_script_silent (doctor_test_server_get_script (server, 0));
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, 1000);
  target_set_login (target);

  /* The greeting waits one timeout; a probe may take at most another. */
  d = doctor_test_run_diagnosis_full (target, NULL, 3500, &elapsed, NULL);
  g_assert_nonnull (d);

  doctor_test_assert_check (d, "dns", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "connect", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_FAIL, "greeting-timeout");
  assert_skipped (d, "not-reached", "ehlo", "starttls", "tls", "certificate", "auth", "send",
                  NULL);
  g_assert_null (doctor_diagnosis_get_suggestion (d));
  assert_greeting_timed_out_on_schedule (d, 1000);
  assert_no_auth (server);
  assert_received_count (server, "EHLO", 0);

  assert_diagnosis_freed (&d);
}

static void
test_greeting_slow_drip (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  gint64 elapsed = 0;

  /* 40 bytes at 300 ms each would take 12 s; the deadline counts from connect, so the bytes
   * that keep coming must not extend it. */
  doctor_test_script_send_slowly (doctor_test_server_get_script (server, 0),
                                  "220 slow.example ESMTP at a snail's pace\r\n", 300);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, 1000);

  d = doctor_test_run_diagnosis_full (target, NULL, 3500, &elapsed, NULL);
  g_assert_nonnull (d);

  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_FAIL, "greeting-timeout");
  assert_skipped (d, "not-reached", "ehlo", "starttls", "auth", "send", NULL);
  assert_greeting_timed_out_on_schedule (d, 1000);
  assert_received_count (server, "EHLO", 0);
}

static void
test_greeting_garbage (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;

  doctor_test_script_send (doctor_test_server_get_script (server, 0), "hello world\r\n");
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_FAIL, "protocol-error");
  assert_skipped (d, "not-reached", "ehlo", "starttls", "tls", "certificate", "auth", "send",
                  NULL);
  assert_verdict (d, DOCTOR_CHECK_FAIL);
  assert_no_auth (server);
}

static void
test_greeting_endless_line (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  gint64 elapsed = 0;

  doctor_test_script_send_endless (doctor_test_server_get_script (server, 0), 0);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);

  d = doctor_test_run_diagnosis_full (target, NULL, RUN_MAX_MS, &elapsed, NULL);
  g_assert_nonnull (d);

  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_FAIL, "line-too-long");
  assert_skipped (d, "not-reached", "ehlo", "auth", NULL);
  /* The cap trips after 8 KiB, long before the deadline. */
  g_assert_cmpint (check_duration (d, "greeting"), <, LONG_TIMEOUT / 2);
  g_assert_cmpint (elapsed, <, LONG_TIMEOUT);
}

static void
test_greeting_nul (void)
{
  static const char greeting[] = "220 nul\0byte ESMTP\r\n";
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;

  doctor_test_script_send_bytes (doctor_test_server_get_script (server, 0), greeting,
                                 sizeof greeting - 1);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  d = run (target);

  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_FAIL, "protocol-error");
  assert_skipped (d, "not-reached", "ehlo", "auth", NULL);
}

static void
test_greeting_closed (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;

  doctor_test_script_close (doctor_test_server_get_script (server, 0));
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  d = run (target);

  doctor_test_assert_check (d, "connect", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_FAIL, "connection-closed");
  assert_skipped (d, "not-reached", "ehlo", "auth", NULL);
}

static void
test_greeting_421 (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;

  doctor_test_script_send (doctor_test_server_get_script (server, 0),
                           "421 4.3.2 Service not available, too many connections\r\n");
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  d = run (target);

  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_FAIL, "server-busy");
  assert_skipped (d, "not-reached", "ehlo", "auth", NULL);
  assert_received_count (server, "EHLO", 0);
}

static void
test_greeting_554 (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  doctor_test_script_send (script, "554 5.7.1 No SMTP service here\r\n");
  doctor_test_script_expect (script, "QUIT");
  doctor_test_script_send (script, QUIT_REPLY);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  d = run (target);

  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_FAIL, "greeting-rejected");
  assert_skipped (d, "not-reached", "ehlo", "auth", NULL);

  /* RFC 5321 §3.1: the server waits for QUIT, so the client sends one. */
  assert_received_soon (server, "QUIT");
  assert_received_count (server, "EHLO", 0);
  doctor_test_server_assert_script_ok (server);
}

/* Reply parsing ------------------------------------------------------------------------------ */

static void
test_ehlo_huge (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autoptr(GString) reply = g_string_new ("250-test.example\r\n");
  gint64 elapsed = 0;

  for (guint i = 0; i < 20000; i++)
    g_string_append_printf (reply, "250-X-LINE-%05u\r\n", i);
  g_string_append (reply, "250 END\r\n");
  script_greet (doctor_test_server_get_script (server, 0), reply->str);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  target_set_login (target);

  d = doctor_test_run_diagnosis_full (target, NULL, RUN_MAX_MS, &elapsed, NULL);
  g_assert_nonnull (d);

  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_FAIL, "line-too-long");
  assert_skipped (d, "not-reached", "starttls", "tls", "certificate", "auth", "send", NULL);
  g_assert_cmpint (check_duration (d, "ehlo"), <, LONG_TIMEOUT / 2);
  g_assert_cmpint (elapsed, <, LONG_TIMEOUT);
  assert_no_auth (server);
}

static void
test_ehlo_closed_mid_reply (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_greet (script, "250-test.example\r\n250-PIPELINING\r\n250-ST");
  doctor_test_script_close_abruptly (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  d = run (target);

  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_FAIL, "connection-closed");
  assert_skipped (d, "not-reached", "starttls", "tls", "certificate", "auth", "send", NULL);
}

static void
test_ehlo_mixed_codes (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_greet (script, "250-test.example\r\n250-STARTTLS\r\n550 AUTH PLAIN\r\n");
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_FAIL, "protocol-error");
  assert_skipped (d, "not-reached", "starttls", "auth", NULL);
  assert_no_auth (server);
  assert_received_count (server, "STARTTLS", 0);
}

static void
test_ehlo_bare_lf (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_greet (script, "250-test.example\n250-PIPELINING\n250 SIZE 1000000\n");
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_NONE, LONG_TIMEOUT);
  d = run (target);

  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_WARN, "bare-lf");
  assert_skipped (d, "not-applicable", "starttls", "tls", "certificate", NULL);
  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "send", DOCTOR_CHECK_SKIPPED, "not-requested");
  assert_verdict (d, DOCTOR_CHECK_WARN);
}

static void
test_ehlo_rejected_starttls (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_greet (script, "502 5.5.2 Error: command not recognized\r\n");
  doctor_test_script_on_line (script, "HELO", "250 test.example\r\n");
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_FAIL, "ehlo-rejected");
  assert_skipped (d, "not-reached", "starttls", "tls", "certificate", "auth", "send", NULL);
  /* Falling back to HELO would also hide STARTTLS; with TLS required it must not happen. */
  assert_received_count (server, "HELO", 0);
  assert_no_auth (server);
}

static void
test_ehlo_rejected_none_helo (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_greet (script, "502 5.5.2 Error: command not recognized\r\n");
  doctor_test_script_expect (script, "HELO ");
  doctor_test_script_send (script, "250 test.example\r\n");
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_NONE, LONG_TIMEOUT);
  d = run (target);

  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_WARN, "ehlo-rejected");
  assert_verdict (d, DOCTOR_CHECK_WARN);
  settle (server);
  doctor_test_server_assert_script_ok (server);
}

static void
test_ehlo_421 (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;

  script_greet (doctor_test_server_get_script (server, 0),
                "421 4.7.0 test.example closing connection\r\n");
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  d = run (target);

  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_FAIL, "server-busy");
  assert_skipped (d, "not-reached", "starttls", "auth", NULL);
}

static void
test_ehlo_slow_reply (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  doctor_test_script_send (script, GREETING);
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_send_slowly (script, "250-test.example\r\n250 STARTTLS\r\n", 200);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, 1000);
  d = doctor_test_run_diagnosis (target, 5000);

  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_FAIL, "reply-timeout");
  g_assert_cmpint (check_duration (d, "ehlo"), >=, 900);
  g_assert_cmpint (check_duration (d, "ehlo"), <=, 1500);
}

static void
test_ehlo_empty_last_line (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  /* RFC 5321 §4.2.1: the text of the last line may be missing, space and all. */
  script_greet (script, "250-test.example\r\n250-PIPELINING\r\n250\r\n");
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_NONE, LONG_TIMEOUT);
  d = run (target);

  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_PASS, NULL);
  assert_verdict (d, DOCTOR_CHECK_PASS);
}

/* STARTTLS ----------------------------------------------------------------------------------- */

static void
test_starttls_not_offered (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = doctor_test_ehlo_reply ("PIPELINING", "AUTH PLAIN LOGIN", "8BITMIME", NULL);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_greet (script, ehlo);
  script_quit (script);
  doctor_test_script_on_line (script, "AUTH", AUTH_OK);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "starttls", DOCTOR_CHECK_FAIL, "starttls-not-offered");
  assert_skipped (d, "not-reached", "tls", "certificate", "auth", "send", NULL);
  assert_no_auth (server);
  assert_received_count (server, "STARTTLS", 0);
  assert_received_count (server, "MAIL", 0);
}

typedef struct
{
  const char *reply;
  gboolean    temporary;
} RejectCase;

static void
test_starttls_rejected (gconstpointer data)
{
  const RejectCase *rc = data;
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = doctor_test_ehlo_reply ("STARTTLS", "AUTH PLAIN LOGIN", NULL);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_greet (script, ehlo);
  doctor_test_script_expect (script, "STARTTLS");
  doctor_test_script_send (script, rc->reply);
  script_quit (script);
  doctor_test_script_on_line (script, "AUTH", AUTH_OK);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "starttls", DOCTOR_CHECK_FAIL, "starttls-rejected");
  assert_skipped (d, "not-reached", "tls", "certificate", "auth", "send", NULL);
  if (rc->temporary)
    {
      const char *summary = doctor_check_get_summary (doctor_diagnosis_get_check (d, "starttls"));
      g_autofree char *lower = g_utf8_strdown (summary != NULL ? summary : "", -1);

      if (strstr (lower, "temporar") == NULL)
        doctor_test_dump_diagnosis (d);
      g_assert_nonnull (strstr (lower, "temporar"));
    }
  assert_no_auth (server);
  assert_received_count (server, "EHLO", 1);
  doctor_test_server_assert_script_ok (server);
}

static void
test_starttls_injection (gconstpointer data)
{
  const char *reply = data;
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = doctor_test_ehlo_reply ("STARTTLS", "8BITMIME", NULL);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  /* The 220 and the injected lines leave in one write, so they arrive together. */
  script_greet (script, ehlo);
  doctor_test_script_expect (script, "STARTTLS");
  doctor_test_script_send (script, reply);
  script_quit (script);
  doctor_test_script_on_line (script, "AUTH", AUTH_OK);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "starttls", DOCTOR_CHECK_FAIL, "starttls-injection");
  assert_skipped (d, "not-reached", "tls", "certificate", "auth", "send", NULL);
  assert_no_auth (server);
  assert_received_count (server, "EHLO", 1);
  g_assert_cmpuint (doctor_test_server_get_n_handshakes (server), ==, 0);
}

static void
test_starttls_handshake_hangs (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = doctor_test_ehlo_reply ("STARTTLS", "AUTH PLAIN", NULL);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_greet (script, ehlo);
  doctor_test_script_expect (script, "STARTTLS");
  doctor_test_script_send (script, STARTTLS_GO);
  doctor_test_script_silent (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, 1000);
  target_set_login (target);
  d = doctor_test_run_diagnosis (target, 5000);

  doctor_test_assert_check (d, "starttls", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "tls", DOCTOR_CHECK_FAIL, "reply-timeout");
  assert_skipped (d, "not-reached", "certificate", "auth", "send", NULL);
  g_assert_cmpint (check_duration (d, "tls"), <=, 1500);
  assert_no_auth (server);
}

static void
test_tls_truncated (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  /* The EHLO after TLS is cut short and the TCP connection ends without a close_notify: a
   * truncation, never a reply. */
  script_to_tls (script, "good", NULL);
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_send (script, "250-test.example\r\n250-AUTH PLAIN LOGIN\r\n250-SI");
  doctor_test_script_close_abruptly (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "tls", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "certificate", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, "connection-closed");
  doctor_test_assert_check (d, "send", DOCTOR_CHECK_SKIPPED, "not-reached");
  assert_no_auth (server);
}

/* Security mismatch -------------------------------------------------------------------------- */

static void
test_mismatch_plain_on_tls (gconstpointer data)
{
  gboolean offers_starttls = GPOINTER_TO_INT (data);
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  const DoctorSuggestion *suggestion;

  /* Every connection greets in clear and answers EHLO; the ClientHello of the first one is
   * just a line that matches nothing. */
  if (offers_starttls)
    ehlo = doctor_test_ehlo_reply ("STARTTLS", "AUTH PLAIN LOGIN", NULL);
  else
    ehlo = doctor_test_ehlo_reply ("AUTH PLAIN LOGIN", NULL);
  doctor_test_script_send (script, GREETING);
  doctor_test_script_on_line (script, "EHLO", ehlo);
  doctor_test_script_on_line (script, "HELO", "250 test.example\r\n");
  doctor_test_script_on_line (script, "AUTH", AUTH_OK);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_TLS, 2000);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "connect", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "tls", DOCTOR_CHECK_FAIL, "security-mismatch");
  assert_skipped (d, "not-reached", "certificate", "greeting", "ehlo", "auth", "send", NULL);

  suggestion = doctor_diagnosis_get_suggestion (d);
  g_assert_nonnull (suggestion);
  g_assert_cmpuint (suggestion->port, ==, doctor_test_server_get_port (server));
  g_assert_cmpstr (doctor_security_to_string (suggestion->security), ==,
                   offers_starttls ? "starttls" : "none");
  assert_no_auth (server);
}

static void
test_mismatch_tls_on_starttls (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo ();
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  const DoctorSuggestion *suggestion;

  /* An implicit-TLS port: it waits for a ClientHello and greets only over TLS. */
  doctor_test_script_start_tls (script, "good");
  doctor_test_script_send (script, GREETING);
  doctor_test_script_on_line (script, "EHLO", ehlo);
  doctor_test_script_on_line (script, "AUTH", AUTH_OK);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, 1000);
  target_set_login (target);
  d = doctor_test_run_diagnosis (target, 5000);

  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_FAIL, "security-mismatch");
  assert_skipped (d, "not-reached", "ehlo", "starttls", "tls", "certificate", "auth", "send",
                  NULL);

  suggestion = doctor_diagnosis_get_suggestion (d);
  g_assert_nonnull (suggestion);
  g_assert_cmpuint (suggestion->port, ==, doctor_test_server_get_port (server));
  g_assert_cmpstr (doctor_security_to_string (suggestion->security), ==, "tls");
  g_assert_cmpuint (doctor_test_server_get_n_connections (server), >=, 2);
  assert_no_auth (server);
}

static void
test_tls_silent (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;

  doctor_test_script_silent (doctor_test_server_get_script (server, 0));
  target = target_new (server, DOCTOR_SECURITY_TLS, 1000);
  d = doctor_test_run_diagnosis (target, 5000);

  doctor_test_assert_check (d, "tls", DOCTOR_CHECK_FAIL, "reply-timeout");
  assert_skipped (d, "not-reached", "certificate", "greeting", "ehlo", "auth", "send", NULL);
  g_assert_cmpint (check_duration (d, "tls"), >=, 900);
  g_assert_cmpint (check_duration (d, "tls"), <=, 1500);
}

/* Happy paths -------------------------------------------------------------------------------- */

static const DoctorTranscriptLine *
find_client_line (DoctorDiagnosis *diagnosis,
                  const char      *prefix,
                  gboolean         last)
{
  GPtrArray *transcript = doctor_diagnosis_get_transcript (diagnosis);
  const DoctorTranscriptLine *found = NULL;

  for (guint i = 0; i < transcript->len; i++)
    {
      const DoctorTranscriptLine *line = g_ptr_array_index (transcript, i);

      if (!line->from_server && g_str_has_prefix (line->text, prefix))
        {
          found = line;
          if (!last)
            break;
        }
    }

  return found;
}

static guint
find_received (GPtrArray  *lines,
               const char *prefix)
{
  for (guint i = 0; i < lines->len; i++)
    {
      if (g_ascii_strncasecmp (g_ptr_array_index (lines, i), prefix, strlen (prefix)) == 0)
        return i;
    }

  return G_MAXUINT;
}

static void
test_happy_starttls_plain (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo ();
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  const DoctorTranscriptLine *line;
  GPtrArray *received;

  script_to_tls (script, "good", ehlo);
  doctor_test_script_expect (script, "AUTH PLAIN " PLAIN_B64);
  doctor_test_script_send (script, AUTH_OK);
  doctor_test_script_expect (script, "QUIT");
  doctor_test_script_send (script, QUIT_REPLY);
  doctor_test_script_close (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "dns", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "connect", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "starttls", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "tls", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "certificate", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "send", DOCTOR_CHECK_SKIPPED, "not-requested");
  assert_verdict (d, DOCTOR_CHECK_PASS);
  g_assert_null (doctor_diagnosis_get_suggestion (d));

  /* The transcript masks the secret and marks which side of the handshake a line was on. */
  line = find_client_line (d, "AUTH PLAIN", FALSE);
  g_assert_nonnull (line);
  g_assert_cmpstr (line->text, ==, "AUTH PLAIN ****");
  g_assert_true (line->tls);
  assert_secret_absent (d, PLAIN_B64);
  line = find_client_line (d, "EHLO", FALSE);
  g_assert_nonnull (line);
  g_assert_false (line->tls);
  line = find_client_line (d, "EHLO", TRUE);
  g_assert_nonnull (line);
  g_assert_true (line->tls);

  /* Nothing with the password went out before the handshake. */
  assert_received_soon (server, "QUIT");
  received = doctor_test_server_get_received (server);
  g_assert_cmpuint (find_received (received, "STARTTLS"), <, find_received (received, "AUTH"));
  g_assert_cmpuint (doctor_test_server_count_received (server, "AUTH"), ==, 1);
  settle (server);
  doctor_test_server_assert_script_ok (server);

  assert_diagnosis_freed (&d);
}

/* The fewest round trips the protocol allows: the client sends exactly EHLO, STARTTLS, EHLO,
 * AUTH PLAIN with its initial response and QUIT (no NOOP, no RSET, no other EHLO), each line
 * in a read of its own (nothing waits on a reply it does not need), and the verdict does not
 * wait for the reply to QUIT, which this server holds back for seconds. */
static void
test_round_trips_starttls_auth (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *ehlo = post_tls_ehlo ();
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  static const char *const expected[] = {
    "EHLO client.test", "STARTTLS", "EHLO client.test", "AUTH PLAIN " PLAIN_B64, "QUIT",
  };
  GPtrArray *received;
  gint64 elapsed_ms = 0;

  script_to_tls (script, "good", ehlo);
  doctor_test_script_expect (script, "AUTH PLAIN " PLAIN_B64);
  doctor_test_script_send (script, AUTH_OK);
  doctor_test_script_expect (script, "QUIT");
  doctor_test_script_wait (script, 3000);
  doctor_test_script_send (script, QUIT_REPLY);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  target_set_login (target);
  d = doctor_test_run_diagnosis_full (target, NULL, RUN_MAX_MS, &elapsed_ms, &error);
  g_assert_no_error (error);

  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_PASS, NULL);
  assert_verdict (d, DOCTOR_CHECK_PASS);
  g_assert_cmpint (elapsed_ms, <, 2000);

  assert_received_soon (server, "QUIT");
  received = doctor_test_server_get_received_on (server, 0);
  g_assert_cmpuint (received->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_assert_cmpstr (g_ptr_array_index (received, i), ==, expected[i]);
      if (i > 0)
        g_assert_cmpuint (doctor_test_server_get_read_of_line (server, 0, i - 1), <,
                          doctor_test_server_get_read_of_line (server, 0, i));
    }
  doctor_test_server_assert_script_ok (server);
}

static void
test_happy_tls_send (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo ();
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  doctor_test_script_start_tls (script, "good");
  script_greet (script, ehlo);
  doctor_test_script_expect (script, "AUTH PLAIN " PLAIN_B64);
  doctor_test_script_send (script, AUTH_OK);
  doctor_test_script_expect (script, "MAIL FROM:<" MAIL_FROM ">");
  doctor_test_script_send (script, "250 2.1.0 Ok\r\n");
  doctor_test_script_expect (script, "RCPT TO:<" RCPT_TO ">");
  doctor_test_script_send (script, "250 2.1.5 Ok\r\n");
  doctor_test_script_expect (script, "DATA");
  doctor_test_script_send (script, "354 End data with <CR><LF>.<CR><LF>\r\n");
  doctor_test_script_expect_message (script);
  doctor_test_script_send (script, "250 2.0.0 Ok: queued as 4BCD1234\r\n");
  doctor_test_script_expect (script, "QUIT");
  doctor_test_script_send (script, QUIT_REPLY);
  doctor_test_script_close (script);
  target = target_new (server, DOCTOR_SECURITY_TLS, LONG_TIMEOUT);
  target_set_login (target);
  target_set_message (target);
  d = run (target);

  doctor_test_assert_check (d, "connect", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "tls", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "certificate", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "starttls", DOCTOR_CHECK_SKIPPED, "not-applicable");
  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "send", DOCTOR_CHECK_PASS, NULL);
  assert_verdict (d, DOCTOR_CHECK_PASS);
  assert_secret_absent (d, PLAIN_B64);

  assert_received_soon (server, "QUIT");
  settle (server);
  doctor_test_server_assert_script_ok (server);
}

static void
test_happy_none_no_user (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = doctor_test_ehlo_reply ("PIPELINING", "AUTH PLAIN LOGIN", NULL);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_greet (script, ehlo);
  doctor_test_script_expect (script, "QUIT");
  doctor_test_script_send (script, QUIT_REPLY);
  target = target_new (server, DOCTOR_SECURITY_NONE, LONG_TIMEOUT);
  d = run (target);

  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_PASS, NULL);
  assert_skipped (d, "not-applicable", "starttls", "tls", "certificate", NULL);
  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "send", DOCTOR_CHECK_SKIPPED, "not-requested");
  assert_verdict (d, DOCTOR_CHECK_PASS);
  assert_no_auth (server);
  doctor_test_server_assert_script_ok (server);
}

/* AUTH --------------------------------------------------------------------------------------- */

typedef struct
{
  const char *user_prompt;
  const char *password_prompt;
} LoginCase;

static const LoginCase login_cases[] = {
  { "334 VXNlcm5hbWU6\r\n", "334 UGFzc3dvcmQ6\r\n" },
  { "334 Username:\r\n", "334 Password:\r\n" },
  { "334\r\n", "334 \r\n" },
};

static void
test_auth_login (gconstpointer data)
{
  const LoginCase *lc = data;
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = doctor_test_ehlo_reply ("PIPELINING", "AUTH LOGIN", NULL);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_to_tls (script, "good", ehlo);
  doctor_test_script_expect (script, "AUTH LOGIN");
  doctor_test_script_send (script, lc->user_prompt);
  doctor_test_script_expect (script, USER_B64);
  doctor_test_script_send (script, lc->password_prompt);
  doctor_test_script_expect (script, SECRET_B64);
  doctor_test_script_send (script, AUTH_OK);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "certificate", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_PASS, NULL);
  assert_verdict (d, DOCTOR_CHECK_PASS);
  assert_secret_absent (d, SECRET_B64);
  settle (server);
  doctor_test_server_assert_script_ok (server);
  g_assert_cmpuint (doctor_test_server_count_received (server, "AUTH LOGIN"), ==, 1);
}

static void
test_auth_caps_change_after_tls (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = doctor_test_ehlo_reply ("PIPELINING", "AUTH XOAUTH2", NULL);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  /* Before TLS: AUTH PLAIN LOGIN (script_to_tls); after: XOAUTH2 only. */
  script_to_tls (script, "good", ehlo);
  doctor_test_script_on_line (script, "AUTH", AUTH_OK);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "tls", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "certificate", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, "auth-mechanism-unsupported");
  doctor_test_assert_check (d, "send", DOCTOR_CHECK_SKIPPED, "not-reached");
  assert_no_auth (server);
  assert_received_count (server, USER_B64, 0);
  assert_received_count (server, SECRET_B64, 0);
  assert_received_count (server, PLAIN_B64, 0);
}

static void
test_auth_not_offered (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = doctor_test_ehlo_reply ("PIPELINING", "8BITMIME", NULL);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_to_tls (script, "good", ehlo);
  doctor_test_script_on_line (script, "AUTH", AUTH_OK);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, "auth-not-offered");
  assert_no_auth (server);
}

static void
test_auth_plaintext (gconstpointer data)
{
  gboolean allowed = GPOINTER_TO_INT (data);
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = doctor_test_ehlo_reply ("PIPELINING", "AUTH PLAIN LOGIN", NULL);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_greet (script, ehlo);
  doctor_test_script_on_line (script, "AUTH", AUTH_OK);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_NONE, LONG_TIMEOUT);
  target_set_login (target);
  target->allow_plaintext_auth = allowed;
  d = run (target);

  if (allowed)
    {
      doctor_test_assert_check (d, "auth", DOCTOR_CHECK_WARN, "*");
      assert_received_soon (server, "AUTH PLAIN " PLAIN_B64);
      assert_secret_absent (d, PLAIN_B64);
    }
  else
    {
      doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, "auth-plaintext-refused");
      assert_no_auth (server);
    }
}

typedef struct
{
  const char *reply;
  const char *reason;
} AuthCase;

static const AuthCase auth_cases[] = {
  { "535 5.7.8 Username and Password not accepted\r\n", "auth-failed" },
  { "534-5.7.9 Application-specific password required.\r\n"
    "534 5.7.9 Learn more at https://support.example/185833\r\n", "auth-app-password-required" },
  { "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
    "Tenant.\r\n", "auth-basic-disabled" },
  { "535 5.7.3 Authentication unsuccessful\r\n", "auth-basic-disabled" },
  { "550 5.7.30 Basic authentication is not supported for Client Submission.\r\n",
    "auth-basic-disabled" },
  { "530 5.7.0 Must issue a STARTTLS command first\r\n", "auth-requires-tls" },
  { "538 5.7.11 Encryption required for requested authentication mechanism\r\n",
    "auth-requires-tls" },
  { "454 4.7.0 Temporary authentication failure\r\n", "auth-temporary-failure" },
  { "451 4.3.0 Internal server error\r\n", "auth-temporary-failure" },
  { "504 5.5.4 Unrecognized authentication type\r\n", "auth-mechanism-unsupported" },
  { "535 Authentication failed\r\n", "auth-failed" },
};

static void
test_auth_reply (gconstpointer data)
{
  const AuthCase *ac = data;
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo ();
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_to_tls (script, "good", ehlo);
  doctor_test_script_expect (script, "AUTH PLAIN " PLAIN_B64);
  doctor_test_script_send (script, ac->reply);
  doctor_test_script_on_line (script, "AUTH", ac->reply);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  target_set_login (target);
  target_set_message (target);
  d = run (target);

  doctor_test_assert_check (d, "certificate", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, ac->reason);
  doctor_test_assert_check (d, "send", DOCTOR_CHECK_SKIPPED, "not-reached");
  assert_secret_absent (d, PLAIN_B64);
  settle (server);
  doctor_test_server_assert_script_ok (server);
  g_assert_cmpuint (doctor_test_server_count_received (server, "MAIL"), ==, 0);
}

/* Sending ------------------------------------------------------------------------------------ */

/* With PIPELINING after TLS, MAIL FROM, RCPT TO and DATA must arrive in one piece before any
 * reply (the script expects all three before it answers, so a client that waits for each reply
 * times out), and each reply is still classified on its own. Without it, each command waits for
 * its reply. */
typedef struct
{
  const char        *name;
  gboolean           pipelining;  /* the server offers PIPELINING after TLS */
  const char        *mail;        /* reply to MAIL FROM */
  const char        *rcpt;        /* reply to RCPT TO, or NULL */
  const char        *data;        /* reply to DATA, or NULL */
  const char        *dot;         /* reply to the message (or to the lone "."), or NULL */
  gboolean           hang_up;     /* the server closes after its last reply */
  gboolean           end_data;    /* DATA accepted after a refusal: a lone "." must end it */
  DoctorCheckStatus  status;
  const char        *reason;
} SendCase;

#define MAIL_OK   "250 2.1.0 Ok\r\n"
#define RCPT_OK   "250 2.1.5 Ok\r\n"
#define DATA_GO   "354 End data with <CR><LF>.<CR><LF>\r\n"
#define QUEUED    "250 2.0.0 Ok: queued as 4BCD1234\r\n"
#define RELAY_NO  "554 5.7.1 <" RCPT_TO ">: Relay access denied\r\n"
#define SENDER_NO "553 5.7.1 <" MAIL_FROM ">: Sender address rejected: not owned by user " \
                  USER "\r\n"
#define RCPT_NO   "550 5.1.1 <" RCPT_TO ">: Recipient address rejected: User unknown\r\n"
#define NEED_MAIL "503 5.5.1 Error: need MAIL command\r\n"
#define NEED_RCPT "503 5.5.1 Error: need RCPT command\r\n"
#define NO_RCPTS  "554 5.5.1 Error: no valid recipients\r\n"
#define SPAM      "554 5.7.1 Message rejected as spam\r\n"
#define BUSY      "421 4.3.2 Service shutting down\r\n"

static const SendCase send_cases[] = {
  { "pipelined/pass", TRUE, MAIL_OK, RCPT_OK, DATA_GO, QUEUED, FALSE, FALSE,
    DOCTOR_CHECK_PASS, NULL },
  { "pipelined/sender-rejected", TRUE, SENDER_NO, NEED_MAIL, NEED_MAIL, NULL, FALSE, FALSE,
    DOCTOR_CHECK_FAIL, "sender-rejected" },
  { "pipelined/sender-rejected-hang-up", TRUE, SENDER_NO, NULL, NULL, NULL, TRUE, FALSE,
    DOCTOR_CHECK_FAIL, "sender-rejected" },
  { "pipelined/relay-denied", TRUE, MAIL_OK, RELAY_NO, NO_RCPTS, NULL, FALSE, FALSE,
    DOCTOR_CHECK_FAIL, "relay-denied" },
  { "pipelined/recipient-rejected", TRUE, MAIL_OK, RCPT_NO, NEED_RCPT, NULL, FALSE, FALSE,
    DOCTOR_CHECK_FAIL, "recipient-rejected" },
  { "pipelined/recipient-rejected-data-accepted", TRUE, MAIL_OK, RCPT_NO, DATA_GO, NO_RCPTS,
    FALSE, TRUE, DOCTOR_CHECK_FAIL, "recipient-rejected" },
  { "pipelined/sender-rejected-data-accepted", TRUE, SENDER_NO, NEED_MAIL, DATA_GO, NO_RCPTS,
    FALSE, TRUE, DOCTOR_CHECK_FAIL, "sender-rejected" },
  { "pipelined/data-rejected", TRUE, MAIL_OK, RCPT_OK, "554 5.3.4 Not now\r\n", NULL, FALSE,
    FALSE, DOCTOR_CHECK_FAIL, "message-rejected" },
  { "pipelined/message-rejected", TRUE, MAIL_OK, RCPT_OK, DATA_GO, SPAM, FALSE, FALSE,
    DOCTOR_CHECK_FAIL, "message-rejected" },
  { "pipelined/421-mail", TRUE, BUSY, NULL, NULL, NULL, TRUE, FALSE,
    DOCTOR_CHECK_FAIL, "server-busy" },
  { "pipelined/421-rcpt", TRUE, MAIL_OK, BUSY, NULL, NULL, TRUE, FALSE,
    DOCTOR_CHECK_FAIL, "server-busy" },
  { "pipelined/unexpected-data", TRUE, MAIL_OK, RCPT_OK, "250 2.0.0 Ok\r\n", NULL, FALSE,
    FALSE, DOCTOR_CHECK_FAIL, "protocol-error" },
  { "pipelined/unexpected-rcpt", TRUE, MAIL_OK, "354 what\r\n", NEED_RCPT, NULL, FALSE,
    FALSE, DOCTOR_CHECK_FAIL, "protocol-error" },
  { "one-by-one/pass", FALSE, MAIL_OK, RCPT_OK, DATA_GO, QUEUED, FALSE, FALSE,
    DOCTOR_CHECK_PASS, NULL },
  { "one-by-one/relay-denied", FALSE, MAIL_OK, RELAY_NO, NULL, NULL, FALSE, FALSE,
    DOCTOR_CHECK_FAIL, "relay-denied" },
  { "one-by-one/sender-rejected", FALSE, SENDER_NO, NULL, NULL, NULL, FALSE, FALSE,
    DOCTOR_CHECK_FAIL, "sender-rejected" },
  { "one-by-one/recipient-rejected", FALSE, MAIL_OK, RCPT_NO, NULL, NULL, FALSE, FALSE,
    DOCTOR_CHECK_FAIL, "recipient-rejected" },
  { "one-by-one/message-rejected", FALSE, MAIL_OK, RCPT_OK, DATA_GO, SPAM, FALSE, FALSE,
    DOCTOR_CHECK_FAIL, "message-rejected" },
  { "one-by-one/421-rcpt", FALSE, MAIL_OK, BUSY, NULL, NULL, TRUE, FALSE,
    DOCTOR_CHECK_FAIL, "server-busy" },
};

static guint
transcript_index (DoctorDiagnosis *diagnosis,
                  gboolean         from_server,
                  const char      *prefix)
{
  GPtrArray *transcript = doctor_diagnosis_get_transcript (diagnosis);

  for (guint i = 0; i < transcript->len; i++)
    {
      const DoctorTranscriptLine *line = g_ptr_array_index (transcript, i);

      if (line->from_server == from_server && g_str_has_prefix (line->text, prefix))
        return i;
    }

  return G_MAXUINT;
}

static void
test_send (gconstpointer data)
{
  const SendCase *sc = data;
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = sc->pipelining ? doctor_test_ehlo_reply ("PIPELINING", "8BITMIME", NULL)
                                         : doctor_test_ehlo_reply ("8BITMIME", NULL);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  GPtrArray *received;
  guint mail, rcpt, dat;

  /* No login: the auth check only lists what the server offers. */
  script_to_tls (script, "good", ehlo);
  if (sc->pipelining)
    {
      doctor_test_script_expect (script, "MAIL FROM:<" MAIL_FROM ">");
      doctor_test_script_expect (script, "RCPT TO:<" RCPT_TO ">");
      doctor_test_script_expect (script, "DATA");
      doctor_test_script_send (script, sc->mail);
      if (sc->rcpt != NULL)
        doctor_test_script_send (script, sc->rcpt);
      if (sc->data != NULL)
        doctor_test_script_send (script, sc->data);
    }
  else
    {
      doctor_test_script_expect (script, "MAIL FROM:<" MAIL_FROM ">");
      doctor_test_script_send (script, sc->mail);
      if (sc->rcpt != NULL)
        {
          doctor_test_script_expect (script, "RCPT TO:<" RCPT_TO ">");
          doctor_test_script_send (script, sc->rcpt);
        }
      if (sc->data != NULL)
        {
          doctor_test_script_expect (script, "DATA");
          doctor_test_script_send (script, sc->data);
        }
    }
  if (sc->hang_up)
    doctor_test_script_close (script);
  if (sc->dot != NULL)
    {
      /* The lone "." matches EXPECT_MESSAGE too, so a sent message must fail differently. */
      if (sc->end_data)
        doctor_test_script_expect (script, ".");
      else
        doctor_test_script_expect_message (script);
      doctor_test_script_send (script, sc->dot);
    }
  doctor_test_script_on_line (script, "RSET", "250 2.0.0 Ok\r\n");
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  target_set_message (target);
  d = run (target);

  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "send", sc->status, sc->reason);
  assert_verdict (d, sc->status);
  if (!sc->hang_up)
    assert_received_soon (server, "QUIT");
  settle (server);
  doctor_test_server_assert_script_ok (server);

  received = doctor_test_server_get_received_on (server, 0);
  mail = find_received (received, "MAIL FROM:");
  rcpt = find_received (received, "RCPT TO:");
  dat = find_received (received, "DATA");
  g_assert_cmpuint (mail, !=, G_MAXUINT);

  if (sc->pipelining)
    {
      /* One write: the three lines came with one read, in order. */
      g_assert_cmpuint (mail + 1, ==, rcpt);
      g_assert_cmpuint (rcpt + 1, ==, dat);
      g_assert_cmpuint (doctor_test_server_get_read_of_line (server, 0, mail), ==,
                        doctor_test_server_get_read_of_line (server, 0, dat));
      g_assert_nonnull (doctor_check_get_detail (doctor_diagnosis_get_check (d, "send"),
                                                 "pipelining"));

      /* The transcript shows the group, then each reply, in wire order. */
      g_assert_cmpuint (transcript_index (d, FALSE, "MAIL FROM:") + 1, ==,
                        transcript_index (d, FALSE, "RCPT TO:"));
      g_assert_cmpuint (transcript_index (d, FALSE, "RCPT TO:") + 1, ==,
                        transcript_index (d, FALSE, "DATA"));
      {
        g_autofree char *first = g_strndup (sc->mail, strcspn (sc->mail, "\r"));

        g_assert_cmpuint (transcript_index (d, FALSE, "DATA") + 1, ==,
                          transcript_index (d, TRUE, first));
      }
    }
  else
    {
      /* Each command only after the reply to the one before. */
      g_assert_null (doctor_check_get_detail (doctor_diagnosis_get_check (d, "send"),
                                              "pipelining"));
      if (rcpt != G_MAXUINT)
        g_assert_cmpuint (doctor_test_server_get_read_of_line (server, 0, mail), <,
                          doctor_test_server_get_read_of_line (server, 0, rcpt));
      if (dat != G_MAXUINT)
        g_assert_cmpuint (doctor_test_server_get_read_of_line (server, 0, rcpt), <,
                          doctor_test_server_get_read_of_line (server, 0, dat));
      if (sc->rcpt == NULL)
        g_assert_cmpuint (rcpt, ==, G_MAXUINT);
      if (sc->data == NULL)
        g_assert_cmpuint (dat, ==, G_MAXUINT);
    }

  /* A message only goes out after a 354 that follows an accepted sender and recipient. */
  g_assert_cmpuint (doctor_test_server_count_received (server, "Subject: SMTP Doctor"), ==,
                    (sc->dot != NULL && !sc->end_data) ? 1 : 0);
  if (sc->end_data)
    {
      guint dot = find_received (received, ".");

      g_assert_cmpuint (dot, ==, dat + 1);
      g_assert_cmpstr (g_ptr_array_index (received, dot), ==, ".");
      g_assert_cmpuint (find_received (received, "QUIT"), ==, dot + 1);
    }
  else if (sc->dot == NULL)
    {
      g_assert_cmpuint (find_received (received, "."), ==, G_MAXUINT);
    }
  g_assert_cmpuint (doctor_test_server_count_received (server, "RSET"), ==, 0);
  g_assert_cmpuint (doctor_test_server_count_received (server, "NOOP"), ==, 0);
}

/* Certificates ------------------------------------------------------------------------------- */

typedef struct
{
  const char        *cert;
  DoctorCheckStatus  status;
  const char        *reason;
} CertCase;

static const CertCase cert_cases[] = {
  { "other", DOCTOR_CHECK_FAIL, "certificate-untrusted" },
  { "selfsigned", DOCTOR_CHECK_FAIL, "certificate-untrusted" },
  { "expired", DOCTOR_CHECK_FAIL, "certificate-expired" },
  { "notyet", DOCTOR_CHECK_FAIL, "certificate-not-yet-valid" },
  { "wronghost", DOCTOR_CHECK_FAIL, "certificate-hostname-mismatch" },
  { "soon", DOCTOR_CHECK_WARN, "certificate-expires-soon" },
};

static void
test_certificate (gconstpointer data)
{
  const CertCase *cc = data;
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo ();
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  /* After the handshake the server only answers; a client that distrusts the certificate
   * may hang up at any point from there. */
  script_to_tls (script, cc->cert, NULL);
  doctor_test_script_on_line (script, "EHLO", ehlo);
  doctor_test_script_on_line (script, "AUTH", AUTH_OK);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, LONG_TIMEOUT);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "starttls", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "certificate", cc->status, cc->reason);

  if (cc->status == DOCTOR_CHECK_FAIL)
    {
      doctor_test_assert_check (d, "auth", DOCTOR_CHECK_SKIPPED, "auth-skipped-untrusted");
      doctor_test_assert_check (d, "send", DOCTOR_CHECK_SKIPPED, "*");
      assert_verdict (d, DOCTOR_CHECK_FAIL);
      assert_no_auth (server);
    }
  else
    {
      /* A warning does not stop the run. */
      doctor_test_assert_check (d, "tls", DOCTOR_CHECK_PASS, NULL);
      doctor_test_assert_check (d, "auth", DOCTOR_CHECK_PASS, NULL);
      assert_verdict (d, DOCTOR_CHECK_WARN);
      assert_received_soon (server, "AUTH PLAIN " PLAIN_B64);
    }
}

/* Input and cancellation --------------------------------------------------------------------- */

typedef enum
{
  FIELD_USER,
  FIELD_HELO,
  FIELD_MAIL_FROM,
  FIELD_RCPT_TO,
  FIELD_HOST,
} Field;

typedef struct
{
  Field       field;
  const char *value;
} InputCase;

static const InputCase input_cases[] = {
  { FIELD_USER, "me\r\nMAIL FROM:<evil@example.org>" },
  { FIELD_HELO, "client.test\r\nRSET" },
  { FIELD_MAIL_FROM, "me@example.org>\r\nRCPT TO:<victim@example.net" },
  { FIELD_RCPT_TO, "you@example.net\nDATA" },
  { FIELD_HOST, "127.0.0.1\r\nQUIT" },
};

static void
test_invalid_input (gconstpointer data)
{
  const InputCase *ic = data;
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autoptr(GError) error = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  GListModel *checks;
  guint n_invalid = 0;

  script_greet (script, "250-test.example\r\n250 AUTH PLAIN\r\n");
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_NONE, LONG_TIMEOUT);
  target_set_message (target);
  target->allow_plaintext_auth = TRUE;
  switch (ic->field)
    {
    case FIELD_USER:
      target_set_login (target);
      g_free (target->user);
      target->user = g_strdup (ic->value);
      break;
    case FIELD_HELO:
      g_free (target->helo_name);
      target->helo_name = g_strdup (ic->value);
      break;
    case FIELD_MAIL_FROM:
      g_free (target->mail_from);
      target->mail_from = g_strdup (ic->value);
      break;
    case FIELD_RCPT_TO:
      g_free (target->rcpt_to);
      target->rcpt_to = g_strdup (ic->value);
      break;
    case FIELD_HOST:
      g_free (target->host);
      target->host = g_strdup (ic->value);
      break;
    default:
      g_assert_not_reached ();
    }

  d = doctor_test_run_diagnosis_full (target, NULL, 5000, NULL, &error);
  g_assert_nonnull (d);
  g_assert_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT);

  checks = doctor_diagnosis_get_checks (d);
  for (guint i = 0; i < g_list_model_get_n_items (checks); i++)
    {
      g_autoptr(DoctorCheck) check = g_list_model_get_item (checks, i);

      g_assert_cmpint (doctor_check_get_status (check), !=, DOCTOR_CHECK_PASS);
      if (g_strcmp0 (doctor_check_get_reason (check), "invalid-input") == 0)
        n_invalid++;
    }
  if (n_invalid == 0)
    doctor_test_dump_diagnosis (d);
  g_assert_cmpuint (n_invalid, >, 0);

  /* Refused before anything went on the wire. */
  doctor_test_sleep (100);
  g_assert_cmpuint (doctor_test_server_get_n_connections (server), ==, 0);
  g_assert_cmpuint (doctor_test_server_get_received (server)->len, ==, 0);
}

/* Cancels the run a little after the server has seen @trigger (a line prefix, or NULL for the
 * connection itself), so that the engine is surely waiting for a reply by then, however slow
 * the machine (valgrind) is. */
typedef struct
{
  DoctorTestServer *server;
  GCancellable     *cancellable;
  const char       *trigger;
  gint64            triggered_us;
  gint64            cancelled_us;
} CancelPlan;

#define CANCEL_AFTER_TRIGGER_MS 200

static gboolean
cancel_poll (gpointer data)
{
  CancelPlan *plan = data;
  gint64 now = g_get_monotonic_time ();

  if (plan->triggered_us == 0)
    {
      if (plan->trigger == NULL ? doctor_test_server_get_n_connections (plan->server) > 0
                                : doctor_test_server_count_received (plan->server,
                                                                     plan->trigger) > 0)
        plan->triggered_us = now;
      return G_SOURCE_CONTINUE;
    }

  if (now - plan->triggered_us < CANCEL_AFTER_TRIGGER_MS * 1000)
    return G_SOURCE_CONTINUE;

  plan->cancelled_us = now;
  g_cancellable_cancel (plan->cancellable);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (gconstpointer data)
{
  gboolean during_ehlo = GPOINTER_TO_INT (data);
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  CancelPlan plan = { server, cancellable, during_ehlo ? "EHLO" : NULL, 0, 0 };
  GSource *poll;
  gint64 after_cancel_ms;

  if (during_ehlo)
    {
      doctor_test_script_send (script, GREETING);
      doctor_test_script_expect (script, "EHLO ");
    }
  doctor_test_script_silent (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS, 10000);
  target_set_login (target);

  poll = g_timeout_source_new (10);
  g_source_set_callback (poll, cancel_poll, &plan, NULL);
  g_source_attach (poll, NULL);

  d = doctor_test_run_diagnosis_full (target, cancellable, 8000, NULL, &error);
  after_cancel_ms = (g_get_monotonic_time () - plan.cancelled_us) / 1000;
  g_source_destroy (poll);
  g_source_unref (poll);
  g_assert_nonnull (d);
  g_assert_cmpint (plan.cancelled_us, >, 0);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (doctor_diagnosis_is_finished (d));
  /* Promptly: no deadline of the run (10 s) had to pass. */
  g_assert_cmpint (after_cancel_ms, <, 1000);

  doctor_test_assert_check (d, "dns", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "connect", DOCTOR_CHECK_PASS, NULL);
  if (during_ehlo)
    {
      doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_PASS, NULL);
      assert_skipped (d, "cancelled", "ehlo", "starttls", "tls", "certificate", "auth", "send",
                      NULL);
    }
  else
    {
      assert_skipped (d, "cancelled", "greeting", "ehlo", "starttls", "tls", "certificate",
                      "auth", "send", NULL);
    }
  assert_no_auth (server);

  assert_diagnosis_freed (&d);
}

/* Lifetime ----------------------------------------------------------------------------------- */

static void
test_quit_reply_after_unref (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  DoctorDiagnosis *d;
  g_autofree char *ehlo = doctor_test_ehlo_reply ("PIPELINING", NULL);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  /* The run does not wait for the 221 (spec), so the reply may come after the last reference
   * to the diagnosis is gone; a front end may drop it at once. Nothing may touch it then. */
  script_greet (script, ehlo);
  doctor_test_script_expect (script, "QUIT");
  doctor_test_script_wait (script, 200);
  doctor_test_script_send (script, QUIT_REPLY);
  doctor_test_script_wait (script, 200);
  doctor_test_script_close (script);
  target = target_new (server, DOCTOR_SECURITY_NONE, LONG_TIMEOUT);
  d = run (target);
  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_PASS, NULL);
  g_object_unref (d);

  doctor_test_sleep (600);
  settle (server);
  doctor_test_server_assert_script_ok (server);
}

/* Registration ------------------------------------------------------------------------------- */

typedef struct
{
  GTestDataFunc  func;
  gconstpointer  data;
  gboolean       needs_certs;
} TestCase;

/* Runs the case in a subprocess with a time limit (see the top of the file). */
static void
run_isolated (gconstpointer data)
{
  const TestCase *tc = data;

  /* The build makes the certificates (tests/make-certs.sh); without them the suite is broken,
   * not partly applicable. */
  if (tc->needs_certs)
    g_assert_true (doctor_test_have_certs ());

  if (g_test_subprocess () || g_getenv ("DOCTOR_TEST_IN_PROCESS") != NULL)
    {
      tc->func (tc->data);
      return;
    }

  /* Each case is isolated, so one failure says nothing about the next: in this parent
   * process, a failed case is reported and the run goes on to the others. */
  g_test_set_nonfatal_assertions ();
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* The cases live until g_test_run() returns; GLib frees test data only for the cases it ran,
 * and a subprocess runs only one. */
static GPtrArray *test_cases;

static void
add_data (const char    *path,
          GTestDataFunc  func,
          gconstpointer  data,
          gboolean       needs_certs)
{
  TestCase *tc = g_new0 (TestCase, 1);

  tc->func = func;
  tc->data = data;
  tc->needs_certs = needs_certs;
  g_ptr_array_add (test_cases, tc);
  g_test_add_data_func (path, tc, run_isolated);
}

static void
call_plain (gconstpointer data)
{
  ((GTestFunc) data) ();
}

static void
add (const char *path,
     GTestFunc   func,
     gboolean    needs_certs)
{
  add_data (path, call_plain, (gconstpointer) func, needs_certs);
}

static const RejectCase reject_cases[] = {
  { "454 4.7.0 TLS not available due to local problem\r\n", TRUE },
  { "502 5.5.1 Command not implemented\r\n", FALSE },
  { "354 go ahead\r\n", FALSE },
};

static const char injection_full[] = STARTTLS_GO "250-evil\r\n250 AUTH PLAIN\r\n";
static const char injection_partial[] = STARTTLS_GO "250-AUTH PLA";

int
main (int    argc,
      char **argv)
{
  g_autoptr(GPtrArray) cases = g_ptr_array_new_with_free_func (g_free);

  g_test_init (&argc, &argv, NULL);
  test_cases = cases;

  add ("/diagnosis/greeting/silence", test_greeting_silence, FALSE);
  add ("/diagnosis/greeting/slow-drip", test_greeting_slow_drip, FALSE);
  add ("/diagnosis/greeting/garbage", test_greeting_garbage, FALSE);
  add ("/diagnosis/greeting/endless-line", test_greeting_endless_line, FALSE);
  add ("/diagnosis/greeting/nul-byte", test_greeting_nul, FALSE);
  add ("/diagnosis/greeting/closed", test_greeting_closed, FALSE);
  add ("/diagnosis/greeting/421", test_greeting_421, FALSE);
  add ("/diagnosis/greeting/554", test_greeting_554, FALSE);

  add ("/diagnosis/ehlo/huge", test_ehlo_huge, FALSE);
  add ("/diagnosis/ehlo/closed-mid-reply", test_ehlo_closed_mid_reply, FALSE);
  add ("/diagnosis/ehlo/mixed-codes", test_ehlo_mixed_codes, FALSE);
  add ("/diagnosis/ehlo/bare-lf", test_ehlo_bare_lf, FALSE);
  add ("/diagnosis/ehlo/rejected-starttls", test_ehlo_rejected_starttls, FALSE);
  add ("/diagnosis/ehlo/rejected-none-helo", test_ehlo_rejected_none_helo, FALSE);
  add ("/diagnosis/ehlo/421", test_ehlo_421, FALSE);
  add ("/diagnosis/ehlo/slow-reply", test_ehlo_slow_reply, FALSE);
  add ("/diagnosis/ehlo/empty-last-line", test_ehlo_empty_last_line, FALSE);

  add ("/diagnosis/starttls/not-offered", test_starttls_not_offered, FALSE);
  add_data ("/diagnosis/starttls/rejected/454", test_starttls_rejected, &reject_cases[0], FALSE);
  add_data ("/diagnosis/starttls/rejected/502", test_starttls_rejected, &reject_cases[1], FALSE);
  add_data ("/diagnosis/starttls/rejected/354", test_starttls_rejected, &reject_cases[2], FALSE);
  add_data ("/diagnosis/starttls/injection/lines", test_starttls_injection, injection_full,
            FALSE);
  add_data ("/diagnosis/starttls/injection/partial", test_starttls_injection, injection_partial,
            FALSE);
  add ("/diagnosis/starttls/handshake-hangs", test_starttls_handshake_hangs, FALSE);
  add ("/diagnosis/starttls/truncated-after-tls", test_tls_truncated, TRUE);

  add_data ("/diagnosis/mismatch/plain-on-tls/starttls", test_mismatch_plain_on_tls,
            GINT_TO_POINTER (TRUE), FALSE);
  add_data ("/diagnosis/mismatch/plain-on-tls/none", test_mismatch_plain_on_tls,
            GINT_TO_POINTER (FALSE), FALSE);
  add ("/diagnosis/mismatch/tls-on-starttls", test_mismatch_tls_on_starttls, TRUE);
  add ("/diagnosis/tls/silent", test_tls_silent, FALSE);

  add ("/diagnosis/happy/starttls-plain", test_happy_starttls_plain, TRUE);
  add ("/diagnosis/happy/tls-send", test_happy_tls_send, TRUE);
  add ("/diagnosis/round-trips/starttls-auth", test_round_trips_starttls_auth, TRUE);
  add ("/diagnosis/happy/none-no-user", test_happy_none_no_user, FALSE);

  add_data ("/diagnosis/auth/login/base64-prompts", test_auth_login, &login_cases[0], TRUE);
  add_data ("/diagnosis/auth/login/text-prompts", test_auth_login, &login_cases[1], TRUE);
  add_data ("/diagnosis/auth/login/empty-prompts", test_auth_login, &login_cases[2], TRUE);
  add ("/diagnosis/auth/caps-change-after-tls", test_auth_caps_change_after_tls, TRUE);
  add ("/diagnosis/auth/not-offered", test_auth_not_offered, TRUE);
  add_data ("/diagnosis/auth/plaintext/refused", test_auth_plaintext, GINT_TO_POINTER (FALSE),
            FALSE);
  add_data ("/diagnosis/auth/plaintext/allowed", test_auth_plaintext, GINT_TO_POINTER (TRUE),
            FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (auth_cases); i++)
    {
      g_autofree char *code = g_strndup (auth_cases[i].reply, 3);
      const char *enhanced = auth_cases[i].reply + 4;
      g_autofree char *name = NULL;
      g_autofree char *path = NULL;

      /* "535-5.7.8", or the code alone when the reply has no enhanced code. */
      if (g_ascii_isdigit (enhanced[0]) && enhanced[1] == '.')
        name = g_strdup_printf ("%s-%.*s", code, (int) strcspn (enhanced, " \r"), enhanced);
      else
        name = g_strdup_printf ("%s-plain", code);
      path = g_strdup_printf ("/diagnosis/auth/reply/%s", name);
      add_data (path, test_auth_reply, &auth_cases[i], TRUE);
    }

  for (guint i = 0; i < G_N_ELEMENTS (send_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/diagnosis/send/%s", send_cases[i].name);

      add_data (path, test_send, &send_cases[i], TRUE);
    }

  for (guint i = 0; i < G_N_ELEMENTS (cert_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/diagnosis/certificate/%s", cert_cases[i].cert);

      add_data (path, test_certificate, &cert_cases[i], TRUE);
    }

  {
    static const char *const field_names[] = { "user", "helo", "mail-from", "rcpt-to", "host" };

    for (guint i = 0; i < G_N_ELEMENTS (input_cases); i++)
      {
        g_autofree char *path = g_strdup_printf ("/diagnosis/input/crlf-%s",
                                                 field_names[input_cases[i].field]);

        add_data (path, test_invalid_input, &input_cases[i], FALSE);
      }
  }

  add ("/diagnosis/lifetime/quit-reply-after-unref", test_quit_reply_after_unref, FALSE);
  add_data ("/diagnosis/cancel/greeting", test_cancel, GINT_TO_POINTER (FALSE), FALSE);
  add_data ("/diagnosis/cancel/ehlo", test_cancel, GINT_TO_POINTER (TRUE), FALSE);

  return g_test_run ();
}
