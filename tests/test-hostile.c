/* test-hostile.c: the engine against hostile and broken servers, one row each.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The rows of Part A of the reliability notes that test-diagnosis.c does not already cover:
 * EHLO refused while TLS is required, a wrong code at every step, replies whose lines disagree
 * or that come before their command, a 10,000-line EHLO, escapes, markup and invalid UTF-8 in
 * server text (in the checks, the transcript, the JSON and the Markdown report), TLS closed
 * without close_notify, AUTH prompts (334) of every shape, servers that want OAuth, and a
 * server that hangs up at each step of the conversation.
 *
 * Every case asserts the check that fails and its reason code, that the run ended long before
 * any deadline could have fired (nothing waited for a timeout), and that no form of the
 * password reached the server where it must not, nor any output of the diagnosis.
 *
 * As in test-diagnosis.c, each case runs in a subprocess of its own with a time limit; set
 * DOCTOR_TEST_IN_PROCESS=1 to run them in one process.
 */
#include <string.h>
#include <glib/gstdio.h>

#include "doctor-error.h"
#include "doctor-report.h"
#include "doctor-test-server.h"

#define HOST          "127.0.0.1"
#define USER          "hostile-user"
#define SECRET        "H0stile-S3cret!"
#define MAIL_FROM     "me@example.org"
#define RCPT_TO       "you@example.net"

#define GREETING      "220 test.example ESMTP ready\r\n"
#define STARTTLS_GO   "220 2.0.0 Ready to start TLS\r\n"
#define AUTH_OK       "235 2.7.0 Authentication successful\r\n"
#define QUIT_REPLY    "221 2.0.0 Bye\r\n"
#define DATA_GO       "354 End data with <CR><LF>.<CR><LF>\r\n"

/* The step deadline of every run: no case here may need it, so each run must end well before
 * it (BOUND_MS), or something waited for a deadline instead of seeing the fault. */
#define STEP_TIMEOUT  8000
#define BOUND_MS      5000

/* The forms of the secret that could leak: itself, base64 (AUTH LOGIN), the AUTH PLAIN blob. */
static char *secret_b64;
static char *plain_b64;
static char *user_b64;

static void
init_secrets (void)
{
  static const char blob[] = "\0" USER "\0" SECRET;

  secret_b64 = g_base64_encode ((const guchar *) SECRET, strlen (SECRET));
  plain_b64 = g_base64_encode ((const guchar *) blob, sizeof blob - 1);
  user_b64 = g_base64_encode ((const guchar *) USER, strlen (USER));
}

/* Fixtures ----------------------------------------------------------------------------------- */

static DoctorTarget *
target_new (DoctorTestServer *server,
            DoctorSecurity    security)
{
  DoctorTarget *target = doctor_target_new (HOST, doctor_test_server_get_port (server),
                                            security);

  target->timeout_ms = STEP_TIMEOUT;
  target->helo_name = g_strdup ("client.test");
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
  doctor_test_script_on_line (script, "RSET", "250 2.0.0 Ok\r\n");
}

static void
script_greet (DoctorTestScript *script,
              const char       *ehlo)
{
  doctor_test_script_send (script, GREETING);
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_send (script, ehlo);
}

/* Greeting, EHLO (STARTTLS and AUTH offered), STARTTLS, the handshake; then the EHLO after
 * TLS answered with @post_ehlo, unless NULL. */
static void
script_to_tls (DoctorTestScript *script,
               const char       *post_ehlo)
{
  g_autofree char *ehlo = doctor_test_ehlo_reply ("PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN", NULL);

  script_greet (script, ehlo);
  doctor_test_script_expect (script, "STARTTLS");
  doctor_test_script_send (script, STARTTLS_GO);
  doctor_test_script_start_tls (script, "good");
  if (post_ehlo != NULL)
    {
      doctor_test_script_expect (script, "EHLO ");
      doctor_test_script_send (script, post_ehlo);
    }
}

static char *
post_tls_ehlo (const char *auth)
{
  return doctor_test_ehlo_reply ("8BITMIME", auth != NULL ? auth : "AUTH PLAIN LOGIN", "SIZE 10240000",
                     NULL);
}

/* Up to a logged-in session over TLS: AUTH PLAIN answered with 235. */
static void
script_logged_in (DoctorTestScript *script)
{
  g_autofree char *ehlo = post_tls_ehlo (NULL);

  script_to_tls (script, ehlo);
  doctor_test_script_expect (script, "AUTH PLAIN ");
  doctor_test_script_send (script, AUTH_OK);
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

static void
dump_received (DoctorTestServer *server)
{
  GPtrArray *lines = doctor_test_server_get_received (server);

  g_printerr ("# the server received:\n");
  for (guint i = 0; i < lines->len; i++)
    g_printerr ("#   %.200s\n", (const char *) g_ptr_array_index (lines, i));
}

static guint
count_received (DoctorTestServer *server,
                const char       *prefix)
{
  settle (server);
  return doctor_test_server_count_received (server, prefix);
}

#define assert_received(server, prefix, n) \
  G_STMT_START { \
    guint n_ = count_received ((server), (prefix)); \
    if (n_ != (guint) (n)) \
      dump_received (server); \
    g_assert_cmpuint (n_, ==, (n)); \
  } G_STMT_END

/* The server never saw the password in any form, nor any AUTH command. */
static void
assert_server_got_no_secret (DoctorTestServer *server)
{
  GPtrArray *lines;

  settle (server);
  lines = doctor_test_server_get_received (server);
  for (guint i = 0; i < lines->len; i++)
    {
      const char *line = g_ptr_array_index (lines, i);

      if (g_ascii_strncasecmp (line, "AUTH", 4) == 0 || strstr (line, SECRET) != NULL ||
          strstr (line, secret_b64) != NULL || strstr (line, plain_b64) != NULL)
        {
          dump_received (server);
          g_assert_not_reached ();
        }
    }
}

static void G_GNUC_NULL_TERMINATED
assert_not_reached (DoctorDiagnosis *diagnosis,
                    ...)
{
  va_list args;

  va_start (args, diagnosis);
  for (const char *id = va_arg (args, const char *); id != NULL; id = va_arg (args, const char *))
    doctor_test_assert_check_impl (diagnosis, id, DOCTOR_CHECK_SKIPPED, "not-reached", "assert_not_reached");
  va_end (args);
}

/* The summary of @id mentions @needle (case-insensitive): the reason is said, not only coded. */
static void
assert_summary_has (DoctorDiagnosis *diagnosis,
                    const char      *id,
                    const char      *needle)
{
  const char *summary = doctor_check_get_summary (doctor_diagnosis_get_check (diagnosis, id));
  g_autofree char *lower = g_utf8_strdown (summary != NULL ? summary : "", -1);
  g_autofree char *lower_needle = g_utf8_strdown (needle, -1);

  if (strstr (lower, lower_needle) == NULL)
    {
      g_printerr ("# the summary of %s does not mention '%s'\n", id, needle);
      doctor_test_dump_diagnosis (diagnosis);
    }
  g_assert_nonnull (strstr (lower, lower_needle));
}

/* Text that goes to a terminal, a label or a file: valid UTF-8, and no control character
 * (C0, DEL, C1) except, where @newlines, a line feed. */
static gboolean
text_is_safe (const char *text,
              gboolean    newlines)
{
  if (text == NULL)
    return TRUE;
  if (!g_utf8_validate (text, -1, NULL))
    return FALSE;

  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == '\n' && newlines)
        continue;
      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
        return FALSE;
    }

  return TRUE;
}

#define assert_safe(text, newlines) \
  G_STMT_START { \
    const char *t_ = (text); \
    if (!text_is_safe (t_, (newlines))) \
      { \
        g_autofree char *shown_ = g_strescape (t_, NULL); \
        g_printerr ("# unsafe text: %s\n", shown_); \
      } \
    g_assert_true (text_is_safe (t_, (newlines))); \
  } G_STMT_END

/* Everything the diagnosis says: summaries, details, advice, the transcript, and both reports.
 * Each piece must be safe to show, and none may hold the password in any form. */
static GPtrArray *
collect_output (DoctorDiagnosis *diagnosis)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  GListModel *checks = doctor_diagnosis_get_checks (diagnosis);
  GPtrArray *transcript = doctor_diagnosis_get_transcript (diagnosis);

  for (guint i = 0; i < g_list_model_get_n_items (checks); i++)
    {
      g_autoptr(DoctorCheck) check = g_list_model_get_item (checks, i);
      GPtrArray *details = doctor_check_get_details (check);
      GPtrArray *advice = doctor_check_get_advice (check);

      g_ptr_array_add (out, g_strdup (doctor_check_get_summary (check)));
      for (guint j = 0; details != NULL && j < details->len; j++)
        {
          const DoctorDetail *detail = g_ptr_array_index (details, j);

          if (detail->value != NULL)
            g_ptr_array_add (out, g_strdup (detail->value));
          for (guint k = 0; detail->values != NULL && detail->values[k] != NULL; k++)
            g_ptr_array_add (out, g_strdup (detail->values[k]));
        }
      for (guint j = 0; advice != NULL && j < advice->len; j++)
        {
          const DoctorAdvice *item = g_ptr_array_index (advice, j);

          g_ptr_array_add (out, g_strdup (item->title));
          g_ptr_array_add (out, g_strdup (item->text));
        }
    }

  for (guint i = 0; i < transcript->len; i++)
    {
      const DoctorTranscriptLine *line = g_ptr_array_index (transcript, i);

      g_ptr_array_add (out, g_strdup (line->text));
    }

  return out;
}

static void
assert_no_leak_in (const char *text,
                   const char *where)
{
  const char *leaks[] = { SECRET, secret_b64, plain_b64 };

  for (guint i = 0; text != NULL && i < G_N_ELEMENTS (leaks); i++)
    {
      if (strstr (text, leaks[i]) != NULL)
        g_printerr ("# the secret (form %u) is in the %s: %.300s\n", i, where, text);
      g_assert_null (strstr (text, leaks[i]));
    }
}

/* The two reports: JSON that parses and holds no raw control character (json-glib escapes
 * them), Markdown with nothing raw either. Returns the Markdown. */
static char *
check_reports (DoctorDiagnosis *diagnosis)
{
  g_autofree char *json = doctor_report_to_json (diagnosis, TRUE);
  g_autofree char *markdown = doctor_report_to_markdown (diagnosis);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  assert_safe (json, TRUE);
  assert_no_leak_in (json, "JSON report");

  assert_safe (markdown, TRUE);
  assert_no_leak_in (markdown, "Markdown report");

  return g_steal_pointer (&markdown);
}

static void
assert_output_clean (DoctorDiagnosis *diagnosis)
{
  g_autoptr(GPtrArray) out = collect_output (diagnosis);
  g_autofree char *markdown = NULL;

  for (guint i = 0; i < out->len; i++)
    {
      const char *text = g_ptr_array_index (out, i);

      assert_safe (text, TRUE);
      assert_no_leak_in (text, "diagnosis");
    }

  markdown = check_reports (diagnosis);
}

/* The reports as saved to files (what Save Report writes), read back. */
static void
assert_saved_reports_clean (DoctorDiagnosis *diagnosis)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("smtp-doctor-hostile-XXXXXX", &error);
  const char *names[] = { "report.md", "report.json" };

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (dir, names[i], NULL);
      g_autoptr(GFile) file = g_file_new_for_path (path);
      g_autofree char *contents = NULL;

      g_assert_true (doctor_report_save (diagnosis, file, doctor_report_format_for_file (file),
                                         NULL, &error));
      g_assert_no_error (error);
      g_assert_true (g_file_get_contents (path, &contents, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (strlen (contents), >, 100);
      assert_safe (contents, TRUE);
      assert_no_leak_in (contents, names[i]);
      g_unlink (path);
    }
  g_rmdir (dir);
}

/* Runs @target; the run must end without an error and well before any deadline. */
static DoctorDiagnosis *
run (DoctorTarget *target)
{
  g_autoptr(GError) error = NULL;
  DoctorDiagnosis *d;
  gint64 elapsed = 0;

  d = doctor_test_run_diagnosis_full (target, NULL, STEP_TIMEOUT + 4000, &elapsed, &error);
  g_assert_nonnull (d);
  if (error != NULL || elapsed >= BOUND_MS)
    {
      g_printerr ("# the run took %" G_GINT64_FORMAT " ms\n", elapsed);
      doctor_test_dump_diagnosis (d);
    }
  g_assert_no_error (error);
  g_assert_true (doctor_diagnosis_is_finished (d));
  g_assert_cmpint (elapsed, <, BOUND_MS);
  assert_output_clean (d);

  return d;
}

/* EHLO refused while TLS is required ---------------------------------------------------------- */

/* Implicit TLS: a 500 to EHLO ends the run; HELO would lose every extension, AUTH included. */
static void
test_ehlo_refused_implicit_tls (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  doctor_test_script_start_tls (script, "good");
  script_greet (script, "500 5.5.1 Command unrecognized\r\n");
  doctor_test_script_on_line (script, "HELO", "250 test.example\r\n");
  doctor_test_script_on_line (script, "AUTH", AUTH_OK);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_TLS);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "tls", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_FAIL, "ehlo-rejected");
  assert_not_reached (d, "auth", "send", NULL);
  assert_received (server, "HELO", 0);
  assert_server_got_no_secret (server);
}

/* A temporary refusal (451) is a refusal too, not a protocol error, and no HELO follows. */
static void
test_ehlo_refused_temporary (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_greet (script, "451 4.3.0 Try again later\r\n");
  doctor_test_script_on_line (script, "HELO", "250 test.example\r\n");
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_FAIL, "ehlo-rejected");
  assert_not_reached (d, "starttls", "tls", "certificate", "auth", "send", NULL);
  assert_received (server, "HELO", 0);
  assert_received (server, "STARTTLS", 0);
  assert_server_got_no_secret (server);
}

/* The EHLO after STARTTLS refused: no HELO inside TLS either, and no login. */
static void
test_ehlo_refused_after_starttls (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_to_tls (script, "502 5.5.2 Error: command not recognized\r\n");
  doctor_test_script_on_line (script, "HELO", "250 test.example\r\n");
  doctor_test_script_on_line (script, "AUTH", AUTH_OK);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "certificate", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, "ehlo-rejected");
  assert_not_reached (d, "send", NULL);
  assert_received (server, "HELO", 0);
  assert_server_got_no_secret (server);
}

/* A wrong code at every step --------------------------------------------------------------- */

typedef enum
{
  STEP_GREETING,
  STEP_EHLO,
  STEP_STARTTLS,
  STEP_AUTH,
  STEP_MAIL,
  STEP_RCPT,
  STEP_DATA,
  STEP_DOT,
} Step;

typedef struct
{
  const char *name;
  Step        step;
  const char *reply;     /* the wrong one */
  const char *check;     /* the check that must fail */
  const char *reason;
} WrongCase;

static const WrongCase wrong_cases[] = {
  { "greeting-250", STEP_GREETING, "250 test.example ESMTP\r\n", "greeting", "protocol-error" },
  { "greeting-354", STEP_GREETING, "354 go ahead\r\n", "greeting", "protocol-error" },
  { "ehlo-220", STEP_EHLO, "220 test.example ESMTP\r\n", "ehlo", "protocol-error" },
  { "ehlo-354", STEP_EHLO, "354 go ahead\r\n", "ehlo", "protocol-error" },
  { "ehlo-235", STEP_EHLO, AUTH_OK, "ehlo", "protocol-error" },
  { "starttls-250", STEP_STARTTLS, "250 2.0.0 Ok\r\n", "starttls", "starttls-rejected" },
  { "starttls-221", STEP_STARTTLS, QUIT_REPLY, "starttls", "starttls-rejected" },
  { "auth-250", STEP_AUTH, "250 2.0.0 Ok\r\n", "auth", "protocol-error" },
  { "auth-354", STEP_AUTH, "354 go ahead\r\n", "auth", "protocol-error" },
  { "auth-220", STEP_AUTH, "220 test.example ESMTP\r\n", "auth", "protocol-error" },
  { "mail-354", STEP_MAIL, DATA_GO, "send", "protocol-error" },
  { "mail-235", STEP_MAIL, AUTH_OK, "send", "protocol-error" },
  { "rcpt-354", STEP_RCPT, DATA_GO, "send", "protocol-error" },
  { "rcpt-220", STEP_RCPT, "220 test.example ESMTP\r\n", "send", "protocol-error" },
  { "data-250", STEP_DATA, "250 2.0.0 Ok\r\n", "send", "protocol-error" },
  { "data-235", STEP_DATA, AUTH_OK, "send", "protocol-error" },
  { "dot-354", STEP_DOT, DATA_GO, "send", "protocol-error" },
  { "dot-221", STEP_DOT, QUIT_REPLY, "send", "protocol-error" },
};

/* Plays a normal conversation, with a login and a message, up to the command of @step: the
 * next thing the script sends is that command's reply. */
static void
script_until (DoctorTestScript *script,
              Step              step)
{
  g_autofree char *pre_ehlo = doctor_test_ehlo_reply ("PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN", NULL);
  g_autofree char *post_ehlo = post_tls_ehlo ("AUTH PLAIN");

  if (step == STEP_GREETING)
    return;
  doctor_test_script_send (script, GREETING);
  doctor_test_script_expect (script, "EHLO ");
  if (step == STEP_EHLO)
    return;
  doctor_test_script_send (script, pre_ehlo);
  doctor_test_script_expect (script, "STARTTLS");
  if (step == STEP_STARTTLS)
    return;
  doctor_test_script_send (script, STARTTLS_GO);
  doctor_test_script_start_tls (script, "good");
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_send (script, post_ehlo);
  doctor_test_script_expect (script, "AUTH PLAIN ");
  if (step == STEP_AUTH)
    return;
  doctor_test_script_send (script, AUTH_OK);
  doctor_test_script_expect (script, "MAIL FROM:");
  if (step == STEP_MAIL)
    return;
  doctor_test_script_send (script, "250 2.1.0 Ok\r\n");
  doctor_test_script_expect (script, "RCPT TO:");
  if (step == STEP_RCPT)
    return;
  doctor_test_script_send (script, "250 2.1.5 Ok\r\n");
  doctor_test_script_expect (script, "DATA");
  if (step == STEP_DATA)
    return;
  doctor_test_script_send (script, DATA_GO);
  doctor_test_script_expect_message (script);
}

static void
test_wrong_code (gconstpointer data)
{
  const WrongCase *wc = data;
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  g_autofree char *code = g_strndup (wc->reply, 3);

  script_until (script, wc->step);
  doctor_test_script_send (script, wc->reply);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  target_set_message (target);
  d = run (target);

  doctor_test_assert_check (d, wc->check, DOCTOR_CHECK_FAIL, wc->reason);
  /* The summary names the code it did not expect. */
  assert_summary_has (d, wc->check, code);
  g_assert_cmpint (doctor_diagnosis_get_verdict (d), ==, DOCTOR_CHECK_FAIL);

  /* Nothing after the wrong reply: no handshake without a 220, no login without TLS, no
   * message without its steps. */
  if (wc->step < STEP_AUTH)
    assert_server_got_no_secret (server);
  if (wc->step <= STEP_STARTTLS)
    g_assert_cmpuint (doctor_test_server_get_n_handshakes (server), ==, 0);
  if (wc->step < STEP_MAIL)
    assert_received (server, "MAIL", 0);
  if (wc->step < STEP_DATA)
    assert_received (server, "DATA", 0);
}

/* Replies that disagree, or come unasked ----------------------------------------------------- */

/* A greeting whose lines carry 220 and then 554: malformed, never a welcome. */
static void
test_greeting_mixed_codes (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  doctor_test_script_send (script, "220-test.example ESMTP\r\n554 No service for you\r\n");
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  d = run (target);

  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_FAIL, "protocol-error");
  assert_not_reached (d, "ehlo", "starttls", "auth", NULL);
  assert_received (server, "EHLO", 0);
}

/* "235-…" then "535 …": one reply with two codes is not a successful login. */
static void
test_auth_mixed_codes (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo (NULL);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_to_tls (script, ehlo);
  doctor_test_script_expect (script, "AUTH PLAIN ");
  doctor_test_script_send (script, "235-2.7.0 Authentication successful\r\n"
                                   "535 5.7.8 Authentication credentials invalid\r\n");
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  target_set_message (target);
  d = run (target);

  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, "protocol-error");
  assert_not_reached (d, "send", NULL);
  assert_received (server, "MAIL", 0);
}

/* A reply that came with the greeting, before EHLO was sent: it would be read as the answer
 * to EHLO. The run ends and EHLO is never sent. */
static void
test_reply_before_ehlo (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  doctor_test_script_send (script, GREETING "250-test.example\r\n250 AUTH PLAIN\r\n");
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_FAIL, "protocol-error");
  assert_not_reached (d, "starttls", "auth", NULL);
  assert_received (server, "EHLO", 0);
  assert_server_got_no_secret (server);
}

/* Over TLS, a 235 that came with the EHLO reply, before AUTH: taken as the answer to AUTH it
 * would report a login that never happened. The run ends and AUTH is never sent. */
static void
test_reply_before_auth (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo (NULL);
  g_autofree char *both = g_strconcat (ehlo, AUTH_OK, NULL);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_to_tls (script, both);
  doctor_test_script_on_line (script, "AUTH", AUTH_OK);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, "protocol-error");
  assert_server_got_no_secret (server);
}

/* A 250 to MAIL that came with the 235, before MAIL was sent. */
static void
test_reply_before_mail (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo ("AUTH PLAIN");
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_to_tls (script, ehlo);
  doctor_test_script_expect (script, "AUTH PLAIN ");
  doctor_test_script_send (script, AUTH_OK "250 2.1.0 Ok\r\n");
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  target_set_message (target);
  d = run (target);

  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "send", DOCTOR_CHECK_FAIL, "protocol-error");
  assert_received (server, "MAIL", 0);
}

/* The parser's bounds ------------------------------------------------------------------------ */

static char *
huge_ehlo (guint n_lines)
{
  GString *reply = g_string_new ("250-test.example\r\n");

  for (guint i = 0; i < n_lines - 2; i++)
    g_string_append_printf (reply, "250-X-LINE-%05u\r\n", i);
  g_string_append (reply, "250 STARTTLS\r\n");

  return g_string_free (reply, FALSE);
}

/* What a 10,000-line reply left behind: a clear reason, and nothing that grew with it. */
static void
assert_bounded (DoctorDiagnosis *d,
                const char      *id)
{
  GPtrArray *transcript = doctor_diagnosis_get_transcript (d);
  g_autoptr(GPtrArray) out = collect_output (d);
  gsize total = 0;

  assert_summary_has (d, id, "too many lines");
  g_assert_cmpuint (transcript->len, <, 300);
  for (guint i = 0; i < out->len; i++)
    total += strlen (g_ptr_array_index (out, i) ? g_ptr_array_index (out, i) : "");
  g_assert_cmpuint (total, <, 64 * 1024);
}

static void
test_ehlo_10000_lines (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = huge_ehlo (10000);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_greet (script, ehlo);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_FAIL, "line-too-long");
  assert_not_reached (d, "starttls", "tls", "certificate", "auth", "send", NULL);
  assert_bounded (d, "ehlo");
  assert_received (server, "STARTTLS", 0);
  assert_server_got_no_secret (server);
}

static void
test_ehlo_10000_lines_after_tls (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = huge_ehlo (10000);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_to_tls (script, ehlo);
  doctor_test_script_on_line (script, "AUTH", AUTH_OK);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "certificate", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, "line-too-long");
  assert_bounded (d, "auth");
  assert_server_got_no_secret (server);
}

/* Escapes, markup and invalid UTF-8 in server text -------------------------------------------- */

/* ESC [ 31m, an OSC 8 hyperlink (ESC ] 8 ;; URL BEL … ESC ] 8 ;; BEL), BEL, backspaces, a CR in
 * the middle, Pango markup and an entity, bytes that are not UTF-8, and a C1 CSI (U+009B). */
#define HOSTILE_TEXT \
  "\x1b[31mRED\x1b[0m \x1b]8;;https://evil.example/\x07" "click\x1b]8;;\x07 bell\x07 " \
  "back\x08\x08\x08 mid\rline <b>bold</b> <span foreground=\"red\">span</span> &amp; & " \
  "bad\xff\xfe\xc3 c1\xc2\x9b" "2J end"

/* @markdown without its fenced code blocks. */
static char *
markdown_prose (const char *markdown)
{
  g_auto(GStrv) lines = g_strsplit (markdown, "\n", -1);
  GString *prose = g_string_new (NULL);
  g_autofree char *fence = NULL;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      /* Fences may be indented, inside a list item. */
      const char *line = lines[i] + strspn (lines[i], " ");

      if (fence == NULL && g_str_has_prefix (line, "```"))
        {
          fence = g_strndup (line, strspn (line, "`"));
          continue;
        }
      if (fence != NULL)
        {
          if (strspn (line, "`") >= strlen (fence) && line[strspn (line, "`")] == '\0')
            g_clear_pointer (&fence, g_free);
          continue;
        }
      g_string_append (prose, lines[i]);
      g_string_append_c (prose, '\n');
    }

  return g_string_free (prose, FALSE);
}

static void
assert_hostile_shown_literally (DoctorDiagnosis *d,
                                const char      *id,
                                const char      *key)
{
  DoctorCheck *check = doctor_diagnosis_get_check (d, id);
  const char *value = doctor_check_get_detail (check, key);
  g_autofree char *markdown = doctor_report_to_markdown (d);
  g_autofree char *prose = markdown_prose (markdown);
  g_autofree char *json = doctor_report_to_json (d, FALSE);

  /* The details hold the server's text, escaped where it could act, literal where not. */
  g_assert_nonnull (value);
  if (strstr (value, "\\x1b[31mRED") == NULL || strstr (value, "<b>bold</b>") == NULL ||
      strstr (value, "&amp; &") == NULL || strstr (value, "\\x07") == NULL ||
      strstr (value, "\\x08") == NULL || strstr (value, "mid\\x0dline") == NULL ||
      strstr (value, "\\u009b") == NULL || strstr (value, "\xef\xbf\xbd") == NULL)
    {
      g_printerr ("# %s/%s is %s\n", id, key, value);
      g_assert_not_reached ();
    }

  /* Markdown: outside code blocks (where everything is literal), the markup cannot become
   * HTML and the entity stays text. */
  for (const char *p = prose; *p; p++)
    {
      if ((*p == '<' || *p == '&') && (p == prose || p[-1] != '\\'))
        {
          g_printerr ("# a raw %c in the Markdown: %.80s\n", *p, p);
          g_assert_not_reached ();
        }
    }
  g_assert_nonnull (strstr (prose, "\\<b\\>bold\\</b\\>"));
  g_assert_nonnull (strstr (prose, "\\&amp;"));

  /* JSON: the escaped text as a string, nothing raw. */
  g_assert_nonnull (strstr (json, "\\\\x1b[31mRED"));
  g_assert_null (strchr (json, '\x1b'));
}

static void
test_hostile_greeting (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = doctor_test_ehlo_reply ("PIPELINING", NULL);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  doctor_test_script_send (script, "220 " HOSTILE_TEXT "\r\n");
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_send (script, ehlo);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_NONE);
  d = run (target);

  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_PASS, NULL);
  assert_hostile_shown_literally (d, "greeting", "banner");
}

static void
test_hostile_ehlo (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  const char *name;

  script_greet (script, "250-" HOSTILE_TEXT "\r\n250-X-" HOSTILE_TEXT "\r\n250 PIPELINING\r\n");
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_NONE);
  d = run (target);

  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_PASS, NULL);
  assert_hostile_shown_literally (d, "ehlo", "server-name");
  name = doctor_check_get_summary (doctor_diagnosis_get_check (d, "ehlo"));
  g_assert_nonnull (strstr (name, "X-\\x1b[31mRED"));
}

static void
test_hostile_error (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo (NULL);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  const char *summary;

  script_to_tls (script, ehlo);
  doctor_test_script_expect (script, "AUTH PLAIN ");
  doctor_test_script_send (script, "535-5.7.8 " HOSTILE_TEXT "\r\n535 5.7.8 " HOSTILE_TEXT "\r\n");
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, "auth-failed");
  summary = doctor_check_get_summary (doctor_diagnosis_get_check (d, "auth"));
  g_assert_nonnull (strstr (summary, "\\x1b[31mRED"));
  g_assert_nonnull (strstr (summary, "<b>bold</b>"));
  assert_hostile_shown_literally (d, "auth", "reply");
}

/* TLS closed without close_notify ------------------------------------------------------------ */

/* Right after the handshake, before the EHLO after TLS is answered. */
static void
test_unclean_close_after_handshake (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_to_tls (script, NULL);
  doctor_test_script_close_abruptly (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "tls", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "certificate", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, "connection-closed");
  assert_summary_has (d, "auth", "without a proper close");
  assert_server_got_no_secret (server);
}

/* Implicit TLS, in the middle of the EHLO reply. */
static void
test_unclean_close_mid_ehlo (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  doctor_test_script_start_tls (script, "good");
  script_greet (script, "250-test.example\r\n250-AUTH PLAIN LOGIN\r\n250-SI");
  doctor_test_script_close_abruptly (script);
  target = target_new (server, DOCTOR_SECURITY_TLS);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "greeting", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "ehlo", DOCTOR_CHECK_FAIL, "connection-closed");
  assert_summary_has (d, "ehlo", "without a proper close");
  assert_not_reached (d, "auth", "send", NULL);
  assert_server_got_no_secret (server);
}

/* After the AUTH line arrived, before its reply. */
static void
test_unclean_close_after_auth (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo (NULL);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_to_tls (script, ehlo);
  doctor_test_script_expect (script, "AUTH PLAIN ");
  doctor_test_script_close_abruptly (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  target_set_message (target);
  d = run (target);

  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, "connection-closed");
  assert_summary_has (d, "auth", "without a proper close");
  assert_not_reached (d, "send", NULL);
}

/* After the 221 to QUIT an unclean close is how many servers end: the run passes. */
static void
test_unclean_close_after_quit (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_logged_in (script);
  doctor_test_script_expect (script, "QUIT");
  doctor_test_script_send (script, QUIT_REPLY);
  doctor_test_script_close_abruptly (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_PASS, NULL);
  g_assert_cmpint (doctor_diagnosis_get_verdict (d), ==, DOCTOR_CHECK_PASS);
}

/* 334 prompts of every shape ----------------------------------------------------------------- */

typedef struct
{
  const char *name;
  const char *user_prompt;
  const char *password_prompt;
} PromptCase;

static const PromptCase prompt_cases[] = {
  { "lowercase-base64", "334 dXNlcm5hbWU6\r\n", "334 cGFzc3dvcmQ6\r\n" },
  { "uppercase-base64", "334 VVNFUk5BTUU6\r\n", "334 UEFTU1dPUkQ6\r\n" },
  { "no-space", "334\r\n", "334\r\n" },
  { "garbage", "334 !!not*base64~~\r\n", "334 \xff\xfe\x1b[2J\r\n" },
  { "swapped", "334 UGFzc3dvcmQ6\r\n", "334 VXNlcm5hbWU6\r\n" },
  { "multi-line", "334-VXNlcm5h\r\n334 bWU6\r\n", "334-UGFzc3dv\r\n334 cmQ6\r\n" },
};

/* AUTH LOGIN: any 334 is the next step, whatever its text (RFC 4954 leaves it free); the
 * prompt is never decoded to decide what to send. */
static void
test_login_prompt (gconstpointer data)
{
  const PromptCase *pc = data;
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo ("AUTH LOGIN");
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_to_tls (script, ehlo);
  doctor_test_script_expect (script, "AUTH LOGIN");
  doctor_test_script_send (script, pc->user_prompt);
  doctor_test_script_expect (script, user_b64);
  doctor_test_script_send (script, pc->password_prompt);
  doctor_test_script_expect (script, secret_b64);
  doctor_test_script_send (script, AUTH_OK);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_PASS, NULL);
  settle (server);
  doctor_test_server_assert_script_ok (server);
  assert_received (server, "AUTH", 1);
  assert_saved_reports_clean (d);
}

/* A third 334 after the password: the exchange is cancelled with "*" (RFC 4954 §4), nothing
 * more of the secret is sent, and the run says why. */
static void
test_login_third_prompt (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo ("AUTH LOGIN");
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_to_tls (script, ehlo);
  doctor_test_script_expect (script, "AUTH LOGIN");
  doctor_test_script_send (script, "334 VXNlcm5hbWU6\r\n");
  doctor_test_script_expect (script, user_b64);
  doctor_test_script_send (script, "334 UGFzc3dvcmQ6\r\n");
  doctor_test_script_expect (script, secret_b64);
  doctor_test_script_send (script, "334 UGFzc3dvcmQgYWdhaW46\r\n");
  doctor_test_script_expect (script, "*");
  doctor_test_script_send (script, "501 5.7.0 Authentication cancelled\r\n");
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  target_set_message (target);
  d = run (target);

  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, "protocol-error");
  assert_not_reached (d, "send", NULL);
  settle (server);
  doctor_test_server_assert_script_ok (server);
  assert_received (server, secret_b64, 1);
  assert_received (server, "MAIL", 0);
}

/* A 334 to AUTH PLAIN with its initial response: the server asks for something that was
 * already sent (or wants another mechanism: XOAUTH2 error JSON); cancelled with "*". */
static void
test_plain_unexpected_prompt (gconstpointer data)
{
  const char *prompt = data;
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo ("AUTH PLAIN XOAUTH2");
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_to_tls (script, ehlo);
  doctor_test_script_expect (script, "AUTH PLAIN ");
  doctor_test_script_send (script, prompt);
  doctor_test_script_expect (script, "*");
  doctor_test_script_send (script, "535 5.7.8 Username and Password not accepted\r\n");
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  target_set_message (target);
  d = run (target);

  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, "protocol-error");
  assert_not_reached (d, "send", NULL);
  settle (server);
  doctor_test_server_assert_script_ok (server);
  /* The blob went once, with AUTH PLAIN; the password never on its own. */
  assert_received (server, "AUTH PLAIN", 1);
  assert_received (server, secret_b64, 0);
}

/* A 235 to AUTH LOGIN before the password was sent checked nothing: never a login that
 * passed, and the password is not sent after it. */
static void
test_login_early_success (gconstpointer data)
{
  gboolean after_user = GPOINTER_TO_INT (data);
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo ("AUTH LOGIN");
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_to_tls (script, ehlo);
  doctor_test_script_expect (script, "AUTH LOGIN");
  if (after_user)
    {
      doctor_test_script_send (script, "334 VXNlcm5hbWU6\r\n");
      doctor_test_script_expect (script, user_b64);
    }
  doctor_test_script_send (script, AUTH_OK);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  target_set_message (target);
  d = run (target);

  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, "protocol-error");
  assert_not_reached (d, "send", NULL);
  assert_received (server, secret_b64, 0);
  assert_received (server, "MAIL", 0);
}

/* A 334 of 8,000 bytes is within the line cap: the login goes on. */
static void
test_login_long_prompt (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo ("AUTH LOGIN");
  g_autofree char *filler = g_strnfill (8000, 'Q');
  g_autofree char *prompt = g_strdup_printf ("334 %s\r\n", filler);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_to_tls (script, ehlo);
  doctor_test_script_expect (script, "AUTH LOGIN");
  doctor_test_script_send (script, prompt);
  doctor_test_script_expect (script, user_b64);
  doctor_test_script_send (script, prompt);
  doctor_test_script_expect (script, secret_b64);
  doctor_test_script_send (script, AUTH_OK);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_PASS, NULL);
}

/* A 334 of 100,000 bytes: over the cap, the login stops before the password is sent. */
static void
test_login_huge_prompt (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo ("AUTH LOGIN");
  g_autofree char *filler = g_strnfill (100000, 'Q');
  g_autofree char *prompt = g_strdup_printf ("334 %s\r\n", filler);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  script_to_tls (script, ehlo);
  doctor_test_script_expect (script, "AUTH LOGIN");
  doctor_test_script_send (script, "334 VXNlcm5hbWU6\r\n");
  doctor_test_script_expect (script, user_b64);
  doctor_test_script_send (script, prompt);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, "line-too-long");
  assert_received (server, secret_b64, 0);
}

/* OAuth only ----------------------------------------------------------------------------------- */

/* A server that offers only XOAUTH2 and OAUTHBEARER (as Gmail and Microsoft 365 may): a clear
 * reason with advice about app passwords and OAuth, and the password never goes out. The
 * server would answer any AUTH with Google's error JSON. */
static void
test_oauth_only (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *ehlo = post_tls_ehlo ("AUTH XOAUTH2 OAUTHBEARER");
  static const char error_json[] =
    "{\"status\":\"400\",\"schemes\":\"Bearer\",\"scope\":\"https://mail.google.com/\"}";
  g_autofree char *error_b64 = g_base64_encode ((const guchar *) error_json,
                                                sizeof error_json - 1);
  g_autofree char *challenge = g_strdup_printf ("334 %s\r\n", error_b64);
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  GPtrArray *advice;
  gboolean mentions_oauth = FALSE;

  script_to_tls (script, ehlo);
  doctor_test_script_on_line (script, "AUTH", challenge);
  script_quit (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "auth", DOCTOR_CHECK_FAIL, "auth-mechanism-unsupported");
  assert_summary_has (d, "auth", "XOAUTH2");
  advice = doctor_check_get_advice (doctor_diagnosis_get_check (d, "auth"));
  for (guint i = 0; advice != NULL && i < advice->len; i++)
    {
      const DoctorAdvice *item = g_ptr_array_index (advice, i);

      if (strstr (item->text, "OAuth") != NULL && strstr (item->text, "app password") != NULL)
        mentions_oauth = TRUE;
    }
  g_assert_true (mentions_oauth);
  assert_server_got_no_secret (server);
}

/* A server that hangs up at each step -------------------------------------------------------- */

typedef enum
{
  HANGUP_MID_GREETING,
  HANGUP_AFTER_GREETING,
  HANGUP_AFTER_EHLO,
  HANGUP_AFTER_STARTTLS_220,
  HANGUP_DURING_HANDSHAKE,
  HANGUP_AFTER_AUTH,
  HANGUP_AFTER_MAIL,
  HANGUP_AFTER_RCPT,
  HANGUP_AFTER_DATA_354,
  HANGUP_MID_BODY,
  HANGUP_AFTER_DOT,
} Hangup;

typedef struct
{
  const char *name;
  Hangup      when;
  const char *check;
  const char *reason;
} HangupCase;

static const HangupCase hangup_cases[] = {
  { "mid-greeting", HANGUP_MID_GREETING, "greeting", "connection-closed" },
  { "after-greeting", HANGUP_AFTER_GREETING, "ehlo", "connection-closed" },
  { "after-ehlo", HANGUP_AFTER_EHLO, "starttls", "connection-closed" },
  { "after-starttls-220", HANGUP_AFTER_STARTTLS_220, "tls", "tls-handshake-failed" },
  { "during-handshake", HANGUP_DURING_HANDSHAKE, "tls", "tls-handshake-failed" },
  { "after-auth", HANGUP_AFTER_AUTH, "auth", "connection-closed" },
  { "after-mail", HANGUP_AFTER_MAIL, "send", "connection-closed" },
  { "after-rcpt", HANGUP_AFTER_RCPT, "send", "connection-closed" },
  { "after-data-354", HANGUP_AFTER_DATA_354, "send", "connection-closed" },
  { "mid-body", HANGUP_MID_BODY, "send", "connection-closed" },
  { "after-dot", HANGUP_AFTER_DOT, "send", "connection-closed" },
};

static void
test_hangup (gconstpointer data)
{
  const HangupCase *hc = data;
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *pre_ehlo = doctor_test_ehlo_reply ("PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN", NULL);
  g_autofree char *post_ehlo = post_tls_ehlo ("AUTH PLAIN");
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  Hangup when = hc->when;

  /* Every hang-up is a clean one (FIN, after a close_notify over TLS): the unclean ones have
   * cases of their own above. */
  if (when == HANGUP_MID_GREETING)
    {
      doctor_test_script_send (script, "220-test.example ESMTP\r\n220-still gree");
      goto hang_up;
    }
  doctor_test_script_send (script, GREETING);
  doctor_test_script_expect (script, "EHLO ");
  if (when == HANGUP_AFTER_GREETING)
    goto hang_up;
  doctor_test_script_send (script, pre_ehlo);
  doctor_test_script_expect (script, "STARTTLS");
  if (when == HANGUP_AFTER_EHLO)
    goto hang_up;
  doctor_test_script_send (script, STARTTLS_GO);
  if (when == HANGUP_AFTER_STARTTLS_220)
    goto hang_up;
  if (when == HANGUP_DURING_HANDSHAKE)
    {
      /* The ClientHello arrives; no ServerHello ever answers it. */
      doctor_test_script_wait (script, 300);
      goto hang_up;
    }
  doctor_test_script_start_tls (script, "good");
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_send (script, post_ehlo);
  doctor_test_script_expect (script, "AUTH PLAIN ");
  if (when == HANGUP_AFTER_AUTH)
    goto hang_up;
  doctor_test_script_send (script, AUTH_OK);
  doctor_test_script_expect (script, "MAIL FROM:");
  if (when == HANGUP_AFTER_MAIL)
    goto hang_up;
  doctor_test_script_send (script, "250 2.1.0 Ok\r\n");
  doctor_test_script_expect (script, "RCPT TO:");
  if (when == HANGUP_AFTER_RCPT)
    goto hang_up;
  doctor_test_script_send (script, "250 2.1.5 Ok\r\n");
  doctor_test_script_expect (script, "DATA");
  doctor_test_script_send (script, DATA_GO);
  if (when == HANGUP_AFTER_DATA_354)
    goto hang_up;
  doctor_test_script_expect (script, "Date: ");
  if (when == HANGUP_MID_BODY)
    goto hang_up;
  doctor_test_script_expect_message (script);

hang_up:
  doctor_test_script_close (script);

  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target);
  target_set_message (target);
  d = run (target);

  doctor_test_assert_check (d, hc->check, DOCTOR_CHECK_FAIL, hc->reason);
  g_test_message ("%s: %s", hc->check,
                  doctor_check_get_summary (doctor_diagnosis_get_check (d, hc->check)));
  g_assert_cmpint (doctor_diagnosis_get_verdict (d), ==, DOCTOR_CHECK_FAIL);
  if (when < HANGUP_AFTER_AUTH)
    assert_server_got_no_secret (server);
}

/* Implicit TLS: a server that hangs up right after the connection, or once the ClientHello
 * has arrived, fails the handshake and never gets as far as a greeting. */
static void
test_hangup_implicit_tls (gconstpointer data)
{
  gboolean after_hello = GPOINTER_TO_INT (data);
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  if (after_hello)
    doctor_test_script_wait (script, 300);
  doctor_test_script_close (script);
  target = target_new (server, DOCTOR_SECURITY_TLS);
  target_set_login (target);
  d = run (target);

  doctor_test_assert_check (d, "connect", DOCTOR_CHECK_PASS, NULL);
  doctor_test_assert_check (d, "tls", DOCTOR_CHECK_FAIL, "tls-handshake-failed");
  assert_not_reached (d, "certificate", "greeting", "ehlo", "auth", "send", NULL);
  assert_server_got_no_secret (server);
}

/* Registration ------------------------------------------------------------------------------- */

typedef struct
{
  GTestDataFunc  func;
  gconstpointer  data;
} TestCase;

static void
run_isolated (gconstpointer data)
{
  const TestCase *tc = data;

  /* The build makes the certificates (tests/make-certs.sh); without them the suite is broken. */
  g_assert_true (doctor_test_have_certs ());

  if (g_test_subprocess () || g_getenv ("DOCTOR_TEST_IN_PROCESS") != NULL)
    {
      tc->func (tc->data);
      return;
    }

  g_test_set_nonfatal_assertions ();
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static GPtrArray *test_cases;

static void
add_data (const char    *path,
          GTestDataFunc  func,
          gconstpointer  data)
{
  TestCase *tc = g_new0 (TestCase, 1);

  tc->func = func;
  tc->data = data;
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
     GTestFunc   func)
{
  add_data (path, call_plain, (gconstpointer) func);
}

static const char plain_prompt_empty[] = "334 \r\n";
static const char plain_prompt_xoauth2[] =
  /* base64 of {"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"} */
  "334 eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==\r\n";

int
main (int    argc,
      char **argv)
{
  g_autoptr(GPtrArray) cases = g_ptr_array_new_with_free_func (g_free);
  int status;

  g_test_init (&argc, &argv, NULL);
  test_cases = cases;
  init_secrets ();

  add ("/hostile/ehlo-refused/implicit-tls", test_ehlo_refused_implicit_tls);
  add ("/hostile/ehlo-refused/temporary", test_ehlo_refused_temporary);
  add ("/hostile/ehlo-refused/after-starttls", test_ehlo_refused_after_starttls);

  for (guint i = 0; i < G_N_ELEMENTS (wrong_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/hostile/wrong-code/%s", wrong_cases[i].name);

      add_data (path, test_wrong_code, &wrong_cases[i]);
    }

  add ("/hostile/mixed-codes/greeting", test_greeting_mixed_codes);
  add ("/hostile/mixed-codes/auth", test_auth_mixed_codes);
  add ("/hostile/unasked/before-ehlo", test_reply_before_ehlo);
  add ("/hostile/unasked/before-auth", test_reply_before_auth);
  add ("/hostile/unasked/before-mail", test_reply_before_mail);

  add ("/hostile/bounds/ehlo-10000-lines", test_ehlo_10000_lines);
  add ("/hostile/bounds/ehlo-10000-lines-after-tls", test_ehlo_10000_lines_after_tls);

  add ("/hostile/text/greeting", test_hostile_greeting);
  add ("/hostile/text/ehlo", test_hostile_ehlo);
  add ("/hostile/text/error-reply", test_hostile_error);

  add ("/hostile/unclean-close/after-handshake", test_unclean_close_after_handshake);
  add ("/hostile/unclean-close/mid-ehlo", test_unclean_close_mid_ehlo);
  add ("/hostile/unclean-close/after-auth", test_unclean_close_after_auth);
  add ("/hostile/unclean-close/after-quit", test_unclean_close_after_quit);

  for (guint i = 0; i < G_N_ELEMENTS (prompt_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/hostile/auth-prompt/login/%s",
                                               prompt_cases[i].name);

      add_data (path, test_login_prompt, &prompt_cases[i]);
    }
  add ("/hostile/auth-prompt/login/third-334", test_login_third_prompt);
  add ("/hostile/auth-prompt/login/long-334", test_login_long_prompt);
  add_data ("/hostile/auth-prompt/login/235-before-user", test_login_early_success,
            GINT_TO_POINTER (FALSE));
  add_data ("/hostile/auth-prompt/login/235-before-password", test_login_early_success,
            GINT_TO_POINTER (TRUE));
  add ("/hostile/auth-prompt/login/huge-334", test_login_huge_prompt);
  add_data ("/hostile/auth-prompt/plain/334-empty", test_plain_unexpected_prompt,
            plain_prompt_empty);
  add_data ("/hostile/auth-prompt/plain/334-xoauth2-json", test_plain_unexpected_prompt,
            plain_prompt_xoauth2);
  add ("/hostile/auth-prompt/oauth-only", test_oauth_only);

  for (guint i = 0; i < G_N_ELEMENTS (hangup_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/hostile/hangup/%s", hangup_cases[i].name);

      add_data (path, test_hangup, &hangup_cases[i]);
    }

  add_data ("/hostile/hangup/implicit-tls/after-connect", test_hangup_implicit_tls,
            GINT_TO_POINTER (FALSE));
  add_data ("/hostile/hangup/implicit-tls/during-handshake", test_hangup_implicit_tls,
            GINT_TO_POINTER (TRUE));

  status = g_test_run ();

  g_free (secret_b64);
  g_free (plain_b64);
  g_free (user_b64);

  return status;
}
