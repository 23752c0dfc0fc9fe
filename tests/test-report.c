/* test-report.c: the Markdown and JSON reports of real diagnoses, and saving them.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The diagnoses run against the scripted server on 127.0.0.1, as in test-diagnosis.c. The
 * report is checked for what a user pastes into a support ticket: every check, the verdict,
 * the advice with its commands, a masked login and no secret in any form; and for what a
 * hostile or careless server can put into it: pipes that would split a table row, backtick
 * runs that would close a code block, HTML and terminal escapes.
 *
 * Each case runs in a subprocess of its own with a time limit, like test-diagnosis.c; set
 * DOCTOR_TEST_IN_PROCESS=1 to run in one process.
 */
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "doctor-report.h"
#include "doctor-test-server.h"

#define HOST          "127.0.0.1"
#define USER          "me"
#define SECRET        "S3cr3t-pass!"

#define GREETING      "220 test.example ESMTP ready\r\n"
#define STARTTLS_GO   "220 2.0.0 Ready to start TLS\r\n"
#define AUTH_OK       "235 2.7.0 Authentication successful\r\n"
#define QUIT_REPLY    "221 2.0.0 Bye\r\n"

#define RUN_MAX_MS    15000
#define LONG_TIMEOUT  5000

/* What a report must never contain for a login of @user with SECRET. */
typedef struct
{
  char *plain;       /* base64 ("\0user\0secret"), what AUTH PLAIN sends */
  char *secret_b64;  /* base64 (secret), what AUTH LOGIN sends */
} Secrets;

static void
secrets_init (Secrets    *secrets,
              const char *user)
{
  gsize user_len = strlen (user);
  gsize blob_len = user_len + strlen (SECRET) + 2;
  g_autofree char *blob = g_malloc0 (blob_len);

  memcpy (blob + 1, user, user_len);
  memcpy (blob + 2 + user_len, SECRET, strlen (SECRET));
  secrets->plain = g_base64_encode ((const guchar *) blob, blob_len);
  secrets->secret_b64 = g_base64_encode ((const guchar *) SECRET, strlen (SECRET));
}

static void
secrets_clear (Secrets *secrets)
{
  g_clear_pointer (&secrets->plain, g_free);
  g_clear_pointer (&secrets->secret_b64, g_free);
}

static void
assert_no_secret (const char    *report,
                  const Secrets *secrets)
{
  g_assert_null (strstr (report, SECRET));
  g_assert_null (strstr (report, secrets->secret_b64));
  g_assert_null (strstr (report, secrets->plain));
}

/* Fixtures ----------------------------------------------------------------------------------- */

static DoctorTarget *
target_new (DoctorTestServer *server,
            DoctorSecurity    security)
{
  DoctorTarget *target = doctor_target_new (HOST, doctor_test_server_get_port (server),
                                            security);

  target->timeout_ms = LONG_TIMEOUT;
  target->helo_name = g_strdup ("client.test");
  if (doctor_test_have_certs ())
    target->ca_file = doctor_test_cert_path ("ca");

  return target;
}

static void
target_set_login (DoctorTarget *target,
                  const char   *user)
{
  g_free (target->user);
  target->user = g_strdup (user);
  doctor_target_set_secret (target, SECRET);
}

static const char post_tls_ehlo[] =
  "250-test.example\r\n"
  "250-PIPELINING\r\n"
  "250-AUTH PLAIN LOGIN\r\n"
  "250-8BITMIME\r\n"
  "250 SIZE 10240000\r\n";

/* Greeting, EHLO, STARTTLS, the handshake with the good certificate and the EHLO after it. */
static void
script_to_tls (DoctorTestScript *script)
{
  doctor_test_script_send (script, GREETING);
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_send (script,
                           "250-test.example\r\n"
                           "250-PIPELINING\r\n"
                           "250-STARTTLS\r\n"
                           "250 AUTH PLAIN LOGIN\r\n");
  doctor_test_script_expect (script, "STARTTLS");
  doctor_test_script_send (script, STARTTLS_GO);
  doctor_test_script_start_tls (script, "good");
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_send (script, post_tls_ehlo);
}

static gboolean
all_finished (gpointer data)
{
  DoctorTestServer *server = data;

  return doctor_test_server_get_n_finished (server) ==
         doctor_test_server_get_n_connections (server);
}

static void
settle (DoctorTestServer *server)
{
  doctor_test_wait_until (all_finished, server, 1000);
  doctor_test_sleep (20);
}

static void
assert_status (DoctorDiagnosis   *diagnosis,
               const char        *id,
               DoctorCheckStatus  status)
{
  DoctorCheck *check = doctor_diagnosis_get_check (diagnosis, id);

  g_assert_nonnull (check);
  if (doctor_check_get_status (check) != status)
    doctor_test_dump_diagnosis (diagnosis);
  g_assert_cmpstr (doctor_check_status_to_string (doctor_check_get_status (check)), ==,
                   doctor_check_status_to_string (status));
}

/* Reading Markdown --------------------------------------------------------------------------- */

/* Text as the report escapes it in running text (see doctor-report.c). */
static char *
md_escape (const char *text)
{
  GString *str = g_string_new (NULL);

  for (const char *p = text; *p != '\0'; p++)
    {
      gboolean intraword = *p == '_' && p > text && g_ascii_isalnum (p[-1]) &&
                           g_ascii_isalnum (p[1]);

      if (strchr ("\\`*_[]<>|~&$#", *p) != NULL && !intraword)
        g_string_append_c (str, '\\');
      g_string_append_c (str, *p == '\n' ? ' ' : *p);
    }

  return g_string_free (str, FALSE);
}

static gsize
longest_run (const char *text,
             char        c)
{
  gsize longest = 0, run = 0;

  for (const char *p = text; *p != '\0'; p++)
    {
      run = *p == c ? run + 1 : 0;
      longest = MAX (longest, run);
    }

  return longest;
}

/* Whether the character at @p is escaped by an odd number of backslashes before it. */
static gboolean
is_escaped (const char *start,
            const char *p)
{
  gsize n = 0;

  while (p > start && p[-1] == '\\')
    {
      n++;
      p--;
    }

  return n % 2 == 1;
}

static guint
count_unescaped (const char *line,
                 char        c)
{
  guint n = 0;

  for (const char *p = line; *p != '\0'; p++)
    {
      if (*p == c && !is_escaped (line, p))
        n++;
    }

  return n;
}

static const char *
skip_spaces (const char *line)
{
  while (*line == ' ')
    line++;

  return line;
}

/* The length of the backtick fence that @line opens or closes, or 0. */
static gsize
fence_length (const char *line)
{
  gsize n = 0;

  line = skip_spaces (line);
  while (line[n] == '`')
    n++;

  return n >= 3 ? n : 0;
}

/* The text between the line "@heading" and the next heading of the same or a higher level. */
static char *
md_section (const char *markdown,
            const char *heading)
{
  g_autofree char *needle = g_strconcat ("\n", heading, "\n", NULL);
  const char *start = strstr (markdown, needle);
  const char *end;

  if (start == NULL)
    return NULL;

  start += strlen (needle);
  end = strstr (start, "\n## ");

  return end != NULL ? g_strndup (start, end - start + 1) : g_strdup (start);
}

/* The document renders as the report meant it to, whatever the server said: every code block
 * closes where it was meant to (no line inside has as many backticks in a row as its fence),
 * every table row has its four cells, nothing outside a code block opens an HTML tag, and no
 * control character is left. Returns the number of code blocks. */
static guint
assert_markdown_sound (const char *markdown)
{
  g_auto(GStrv) lines = g_strsplit (markdown, "\n", -1);
  gsize fence = 0;
  guint n_blocks = 0;

  g_assert_true (g_utf8_validate (markdown, -1, NULL));
  g_assert_true (g_str_has_suffix (markdown, "\n"));
  for (const char *p = markdown; *p != '\0'; p++)
    g_assert_true (*p == '\n' || (guchar) *p >= 0x20);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];

      if (fence > 0)
        {
          gsize n = fence_length (line);

          if (n > 0 && n == strlen (skip_spaces (line)) && n >= fence)
            {
              /* The report closes a block with the very fence that opened it. */
              g_assert_cmpuint (n, ==, fence);
              fence = 0;
              continue;
            }
          if (longest_run (line, '`') >= fence)
            g_error ("line %u has a backtick run as long as its fence: %s", i + 1, line);
          continue;
        }

      fence = fence_length (line);
      if (fence > 0)
        {
          /* An info string with a backtick would not open a block at all. */
          g_assert_null (strchr (skip_spaces (line) + fence, '`'));
          n_blocks++;
          continue;
        }

      if (line[0] == '|')
        {
          if (count_unescaped (line, '|') != 5)
            g_error ("table row %u does not have four cells: %s", i + 1, line);
        }

      if (count_unescaped (line, '<') > 0)
        g_error ("line %u has an unescaped “<” outside a code block: %s", i + 1, line);
    }

  g_assert_cmpuint (fence, ==, 0);

  return n_blocks;
}

/* The lines of the first code block after "## Transcript", and the length of its fence. */
static char *
md_transcript (const char *markdown,
               gsize      *fence)
{
  g_autofree char *section = md_section (markdown, "## Transcript");
  g_auto(GStrv) lines = NULL;
  GString *body = g_string_new (NULL);
  guint i = 0;

  g_assert_nonnull (section);
  lines = g_strsplit (section, "\n", -1);
  while (lines[i] != NULL && fence_length (lines[i]) == 0)
    i++;
  g_assert_nonnull (lines[i]);
  *fence = fence_length (lines[i]);

  for (i++; lines[i] != NULL; i++)
    {
      if (fence_length (lines[i]) == *fence && strlen (lines[i]) == *fence)
        break;
      g_string_append (body, lines[i]);
      g_string_append_c (body, '\n');
    }
  g_assert_nonnull (lines[i]);

  return g_string_free (body, FALSE);
}

/* A table row of the checklist for @check: "| Passed | DNS lookup | …". */
static void
assert_has_row (const char  *markdown,
                DoctorCheck *check)
{
  g_autofree char *status = md_escape (doctor_check_status_get_label (doctor_check_get_status (check)));
  g_autofree char *title = md_escape (doctor_check_get_title (check));
  g_autofree char *row = g_strdup_printf ("\n| %s | %s | ", status, title);

  if (strstr (markdown, row) == NULL)
    g_error ("no checklist row “%s” in:\n%s", row + 1, markdown);
}

/* Tests -------------------------------------------------------------------------------------- */

static void
test_markdown_pass (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autoptr(GRegex) date = NULL;
  g_autofree char *md = NULL;
  g_autofree char *json = NULL;
  g_autofree char *transcript = NULL;
  g_autofree char *auth_line = NULL;
  g_autofree char *verdict = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  GListModel *checks;
  Secrets secrets;
  gsize fence = 0;

  secrets_init (&secrets, USER);
  script_to_tls (script);
  auth_line = g_strconcat ("AUTH PLAIN ", secrets.plain, NULL);
  doctor_test_script_expect (script, auth_line);
  doctor_test_script_send (script, AUTH_OK);
  doctor_test_script_expect (script, "QUIT");
  doctor_test_script_send (script, QUIT_REPLY);
  doctor_test_script_close (script);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target, USER);
  d = doctor_test_run_diagnosis (target, RUN_MAX_MS);

  assert_status (d, "auth", DOCTOR_CHECK_PASS);
  assert_status (d, "certificate", DOCTOR_CHECK_PASS);
  g_assert_cmpint (doctor_diagnosis_get_verdict (d), ==, DOCTOR_CHECK_PASS);

  md = doctor_report_to_markdown (d);
  json = doctor_report_to_json (d, TRUE);
  if (g_test_verbose ())
    g_printerr ("%s", md);

  assert_markdown_sound (md);
  g_assert_true (g_str_has_prefix (md, "# SMTP Doctor report\n"));

  /* The target, without its secret. */
  g_assert_nonnull (strstr (md, "- **Server:** `" HOST "`\n"));
  g_assert_nonnull (strstr (md, "- **Security:** STARTTLS\n"));
  g_assert_nonnull (strstr (md, "- **User name:** `" USER "`\n"));
  g_assert_nonnull (strstr (md, "- **SMTP Doctor version:** " PACKAGE_VERSION "\n"));
  /* The date for people: local time, in the form the language writes it (untranslated here). */
  date = g_regex_new ("^- \\*\\*Date:\\*\\* \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d \\S+$",
                      G_REGEX_MULTILINE, 0, NULL);
  g_assert_true (g_regex_match (date, md, 0, NULL));

  verdict = doctor_report_get_verdict_text (d);
  g_assert_cmpstr (verdict, ==, "Ready to send mail");
  g_assert_nonnull (strstr (md, "\n**Verdict:** Ready to send mail\n"));

  /* Every check, in a row of its own. */
  checks = doctor_diagnosis_get_checks (d);
  g_assert_cmpuint (g_list_model_get_n_items (checks), ==, 9);
  for (guint i = 0; i < g_list_model_get_n_items (checks); i++)
    {
      g_autoptr(DoctorCheck) check = g_list_model_get_item (checks, i);

      assert_has_row (md, check);
    }
  g_assert_nonnull (strstr (md, "\n| Passed | Login | "));
  g_assert_nonnull (strstr (md, "\n| Skipped | Test message | "));

  /* The transcript, swaks-like, with the login masked and the TLS side marked. */
  transcript = md_transcript (md, &fence);
  g_assert_cmpuint (fence, ==, 3);
  g_assert_true (g_str_has_prefix (transcript, "<- 220 test.example ESMTP ready\n"));
  g_assert_nonnull (strstr (transcript, "\n-> EHLO client.test\n"));
  g_assert_nonnull (strstr (transcript, "\n-> STARTTLS\n"));
  g_assert_nonnull (strstr (transcript, "\n~> EHLO client.test\n"));
  g_assert_nonnull (strstr (transcript, "\n<~ 250-PIPELINING\n"));
  g_assert_nonnull (strstr (transcript, "\n~> AUTH PLAIN ****\n"));
  g_assert_nonnull (strstr (transcript, "\n<~ 235 2.7.0 Authentication successful\n"));

  assert_no_secret (md, &secrets);
  assert_no_secret (json, &secrets);
  g_assert_nonnull (strstr (json, "\"AUTH PLAIN ****\""));

  settle (server);
  doctor_test_server_assert_script_ok (server);
  secrets_clear (&secrets);
}

typedef struct
{
  const char *user;
  const char *reply;
  const char *reason;
  gboolean    has_commands;
} FailCase;

static const FailCase fail_cases[] = {
  { USER, "535 5.7.8 Username and Password not accepted\r\n", "auth-failed", FALSE },
  { "me@example.org",
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
    "Tenant.\r\n", "auth-basic-disabled", TRUE },
};

static void
test_markdown_auth_failed (gconstpointer data)
{
  const FailCase *fc = data;
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *md = NULL;
  g_autofree char *json = NULL;
  g_autofree char *section = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *auth_line = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  DoctorCheck *auth;
  GPtrArray *advice;
  guint n_commands = 0;
  Secrets secrets;

  secrets_init (&secrets, fc->user);
  script_to_tls (script);
  auth_line = g_strconcat ("AUTH PLAIN ", secrets.plain, NULL);
  doctor_test_script_expect (script, auth_line);
  doctor_test_script_send (script, fc->reply);
  doctor_test_script_on_line (script, "AUTH", fc->reply);
  doctor_test_script_on_line (script, "QUIT", QUIT_REPLY);
  target = target_new (server, DOCTOR_SECURITY_STARTTLS);
  target_set_login (target, fc->user);
  d = doctor_test_run_diagnosis (target, RUN_MAX_MS);

  auth = doctor_diagnosis_get_check (d, "auth");
  assert_status (d, "auth", DOCTOR_CHECK_FAIL);
  g_assert_cmpstr (doctor_check_get_reason (auth), ==, fc->reason);

  md = doctor_report_to_markdown (d);
  json = doctor_report_to_json (d, FALSE);
  if (g_test_verbose ())
    g_printerr ("%s", md);

  assert_markdown_sound (md);
  g_assert_nonnull (strstr (md, "\n**Verdict:** 1 problem found\n"));
  g_assert_nonnull (strstr (md, "\n| Failed | Login | "));

  /* The login's own section: status, reason, the server's reply, and every advice item with
   * its title, its text and each command alone in a code block, ready to copy. */
  section = md_section (md, "## Login");
  g_assert_nonnull (section);
  reason = g_strdup_printf ("- **Reason code:** `%s`\n", fc->reason);
  g_assert_nonnull (strstr (section, "- **Status:** Failed\n"));
  g_assert_nonnull (strstr (section, reason));
  g_assert_nonnull (strstr (section, "- **Server reply:** 535 5.7."));

  advice = doctor_check_get_advice (auth);
  g_assert_cmpuint (advice->len, >, 0);
  for (guint i = 0; i < advice->len; i++)
    {
      DoctorAdvice *item = g_ptr_array_index (advice, i);
      g_autofree char *title = md_escape (item->title);
      g_autofree char *heading = g_strdup_printf ("\n### %s\n\n", title);
      g_autofree char *text = md_escape (item->text);
      const char *at = strstr (section, heading);

      if (at == NULL)
        g_error ("no advice “%s” in the login section:\n%s", item->title, section);
      g_assert_nonnull (strstr (at, text));

      for (guint c = 0; item->commands[c] != NULL; c++)
        {
          g_autofree char *block = g_strdup_printf ("\n```\n%s\n```\n", item->commands[c]);

          if (strstr (at, block) == NULL)
            g_error ("command “%s” is not in a code block:\n%s", item->commands[c], section);
          n_commands++;
        }
    }
  if (fc->has_commands)
    {
      g_autofree char *command =
        g_strdup_printf ("\n```\nSet-CASMailbox -Identity %s -SmtpClientAuthenticationDisabled "
                         "$false\n```\n", fc->user);

      g_assert_cmpuint (n_commands, >, 0);
      g_assert_nonnull (strstr (section, command));
    }

  g_assert_nonnull (strstr (md, "\n~> AUTH PLAIN ****\n"));
  assert_no_secret (md, &secrets);
  assert_no_secret (json, &secrets);

  settle (server);
  doctor_test_server_assert_script_ok (server);
  secrets_clear (&secrets);
}

/* What a hostile server puts in its replies: a pipe, a run of four backticks, HTML and a
 * terminal escape (made visible by the engine as "\x1b"). */
#define HOSTILE       "a|b ```` <b>bold</b> \033[31mred"
#define HOSTILE_SAFE  "a|b ```` <b>bold</b> \\x1b[31mred"

static void
test_markdown_hostile (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *md = NULL;
  g_autofree char *transcript = NULL;
  g_autofree char *escaped = md_escape (HOSTILE_SAFE);
  g_autofree char *row = NULL;
  g_autofree char *section = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  DoctorCheck *greeting;
  gsize fence = 0;

  doctor_test_script_send (script, "220 test.example ESMTP " HOSTILE "\r\n");
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_send (script,
                           "250-test.example\r\n"
                           "250-X-`|`-" HOSTILE "\r\n"
                           "250 PIPELINING\r\n");
  doctor_test_script_expect (script, "QUIT");
  doctor_test_script_send (script, QUIT_REPLY);
  doctor_test_script_close (script);
  target = target_new (server, DOCTOR_SECURITY_NONE);
  d = doctor_test_run_diagnosis (target, RUN_MAX_MS);

  greeting = doctor_diagnosis_get_check (d, "greeting");
  assert_status (d, "greeting", DOCTOR_CHECK_PASS);
  assert_status (d, "ehlo", DOCTOR_CHECK_PASS);
  /* The engine made the text safe; the report must keep it so, and intact. */
  g_assert_nonnull (strstr (doctor_check_get_summary (greeting), HOSTILE_SAFE));

  md = doctor_report_to_markdown (d);
  if (g_test_verbose ())
    g_printerr ("%s", md);

  /* No broken row, no block closed early, no HTML, no raw escape character. */
  assert_markdown_sound (md);
  g_assert_null (strchr (md, '\033'));

  /* In the table, the text reads as it came, every active character escaped. */
  row = g_strdup_printf ("\n| Passed | Server greeting | The server is ready: test.example "
                         "ESMTP %s | ", escaped);
  g_assert_nonnull (strstr (md, row));
  g_assert_nonnull (strstr (md, "a\\|b \\`\\`\\`\\` \\<b\\>bold\\</b\\> \\\\x1b\\[31mred"));

  /* In the details, a reply of several lines keeps them, in a block of its own. */
  section = md_section (md, "## EHLO");
  g_assert_nonnull (section);
  g_assert_nonnull (strstr (section, "- **Server reply:**\n  `````\n  250-test.example\n"));

  /* In the transcript, literally, behind a fence longer than its longest backtick run. */
  transcript = md_transcript (md, &fence);
  g_assert_cmpuint (fence, >, 4);
  g_assert_cmpuint (fence, >, longest_run (transcript, '`'));
  g_assert_nonnull (strstr (transcript, "<- 220 test.example ESMTP " HOSTILE_SAFE "\n"));
  g_assert_nonnull (strstr (transcript, "<- 250-X-`|`-" HOSTILE_SAFE "\n"));

  settle (server);
  doctor_test_server_assert_script_ok (server);
}

/* Checks filled by hand, for what no server reply reaches: commands holding backticks,
 * multi-line values, text that starts like Markdown syntax, and a secret the server echoed. */
static void
test_markdown_synthetic (void)
{
  g_autoptr(DoctorTarget) target = doctor_target_new ("smtp.example.com", 587,
                                                      DOCTOR_SECURITY_STARTTLS);
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autofree char *md = NULL;
  g_autofree char *section = NULL;
  g_autofree char *echo = NULL;
  const char *const commands[] = { "echo ```` | cat", "printf '%s\\n' `date`", NULL };
  const char *const values[] = { "a|b", "c`d", "<i>", NULL };
  DoctorCheck *dns;
  Secrets secrets;

  secrets_init (&secrets, "`odd` user");
  target->user = g_strdup ("`odd` user");
  doctor_target_set_secret (target, SECRET);
  d = doctor_diagnosis_new (target);

  dns = doctor_diagnosis_get_check (d, "dns");
  doctor_check_start (dns);
  doctor_check_set_detail (dns, "reply", "Server reply", "550-first\n550 second | third");
  doctor_check_set_detail_list (dns, "list", "List", values);
  doctor_check_set_detail_list (dns, "empty", "Empty", NULL);
  doctor_check_set_detail (dns, "cipher", "Cipher", "TLS_AES_256 _x_ a__b & &amp; $x$");
  echo = g_strdup_printf ("500 unknown command AUTH PLAIN %s and %s and %s", secrets.plain,
                          secrets.secret_b64, SECRET);
  doctor_check_set_detail (dns, "echo", "Echo", echo);
  doctor_check_add_advice (dns, "# Not a heading", "1. not a list\nand - more", commands);
  doctor_check_finish (dns, DOCTOR_CHECK_WARN, "bare-lf", "- not a list | either");

  md = doctor_report_to_markdown (d);
  if (g_test_verbose ())
    g_printerr ("%s", md);

  g_assert_cmpuint (assert_markdown_sound (md), ==, 3);

  /* The run never finished: the report says so rather than “ready”. */
  g_assert_nonnull (strstr (md, "\n**Verdict:** The checks did not finish\n"));
  g_assert_nonnull (strstr (md, "- **User name:** `` `odd` user ``\n"));
  g_assert_nonnull (strstr (md, "\n| Warning | DNS lookup | - not a list \\| either | "));
  g_assert_nonnull (strstr (md, "\n| Waiting | Connection | "));

  section = md_section (md, "## DNS lookup");
  g_assert_nonnull (section);
  g_assert_nonnull (strstr (section, "- **Server reply:**\n  ```\n  550-first\n"
                                     "  550 second | third\n  ```\n"));
  g_assert_nonnull (strstr (section, "- **List:** a\\|b, c\\`d, \\<i\\>\n"));
  g_assert_nonnull (strstr (section, "- **Empty:** none\n"));
  g_assert_nonnull (strstr (section, "- **Cipher:** TLS_AES_256 \\_x\\_ a\\_\\_b \\& \\&amp; "
                                     "\\$x\\$\n"));
  g_assert_nonnull (strstr (section, "\n### \\# Not a heading\n\n1\\. not a list and - more\n"));
  g_assert_nonnull (strstr (section, "\n`````\necho ```` | cat\n`````\n"));
  g_assert_nonnull (strstr (section, "\n```\nprintf '%s\\n' `date`\n```\n"));

  /* An echoed secret is masked in every form it can take. */
  g_assert_nonnull (strstr (section, "- **Echo:** 500 unknown command AUTH PLAIN "
                                     "\\*\\*\\*\\* and \\*\\*\\*\\* and "
                                     "\\*\\*\\*\\*\n"));
  assert_no_secret (md, &secrets);
  g_assert_nonnull (strstr (md, "\n## Transcript\n\nNothing was sent or received.\n"));

  secrets_clear (&secrets);
}

static void
test_format_for_file (void)
{
  static const struct { const char *name; DoctorReportFormat format; } cases[] = {
    { "report.json", DOCTOR_REPORT_FORMAT_JSON },
    { "REPORT.JSON", DOCTOR_REPORT_FORMAT_JSON },
    { "report.md", DOCTOR_REPORT_FORMAT_MARKDOWN },
    { "report.json.md", DOCTOR_REPORT_FORMAT_MARKDOWN },
    { "report", DOCTOR_REPORT_FORMAT_MARKDOWN },
    { "json", DOCTOR_REPORT_FORMAT_MARKDOWN },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_build_filename (g_get_tmp_dir (), cases[i].name, NULL);
      g_autoptr(GFile) file = g_file_new_for_path (path);

      g_assert_cmpint (doctor_report_format_for_file (file), ==, cases[i].format);
    }
}

/* Saving ------------------------------------------------------------------------------------- */

typedef struct
{
  GAsyncResult *result;
} SaveWait;

static void
save_done (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  SaveWait *wait = user_data;

  g_assert_true (DOCTOR_IS_DIAGNOSIS (object));
  wait->result = g_object_ref (result);
}

static gboolean
save_finished (gpointer data)
{
  return ((SaveWait *) data)->result != NULL;
}

static gboolean
save_async (DoctorDiagnosis     *diagnosis,
            GFile               *file,
            DoctorReportFormat   format,
            GError             **error)
{
  SaveWait wait = { NULL };
  gboolean ok;

  doctor_report_save_async (diagnosis, file, format, NULL, save_done, &wait);
  /* The result always comes from the main loop, never from within the call. */
  g_assert_null (wait.result);
  g_assert_true (doctor_test_wait_until (save_finished, &wait, 10000));
  ok = doctor_report_save_finish (diagnosis, wait.result, error);
  g_object_unref (wait.result);

  return ok;
}

static DoctorDiagnosis *
run_plain (DoctorTestServer *server)
{
  g_autoptr(DoctorTarget) target = NULL;
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);

  doctor_test_script_send (script, GREETING);
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_send (script, "250-test.example\r\n250 PIPELINING\r\n");
  doctor_test_script_expect (script, "QUIT");
  doctor_test_script_send (script, QUIT_REPLY);
  doctor_test_script_close (script);
  target = target_new (server, DOCTOR_SECURITY_NONE);

  return doctor_test_run_diagnosis (target, RUN_MAX_MS);
}

static char *
load (GFile *file)
{
  g_autoptr(GError) error = NULL;
  char *contents = NULL;
  gsize length = 0;

  g_file_load_contents (file, NULL, &contents, &length, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (contents), ==, length);

  return contents;
}

static void
assert_json_report (const char      *contents,
                    DoctorDiagnosis *diagnosis)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root;
  JsonObject *target;

  json_parser_load_from_data (parser, contents, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpint (json_object_get_int_member (root, "version"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (root, "verdict"), ==, "pass");
  target = json_object_get_object_member (root, "target");
  g_assert_cmpstr (json_object_get_string_member (target, "host"), ==, HOST);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (root, "checks")), ==,
                    g_list_model_get_n_items (doctor_diagnosis_get_checks (diagnosis)));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (root, "transcript")),
                    ==, doctor_diagnosis_get_transcript (diagnosis)->len);
}

static void
remove_tree (const char *dir)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;

  while (handle != NULL && (name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_assert_cmpint (g_unlink (path), ==, 0);
    }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_save (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *md_path = NULL;
  g_autofree char *json_path = NULL;
  g_autoptr(GFile) md_file = NULL;
  g_autoptr(GFile) json_file = NULL;
  g_autofree char *md = NULL;
  g_autofree char *json = NULL;
  g_autofree char *again = NULL;

  d = run_plain (server);
  g_assert_cmpint (doctor_diagnosis_get_verdict (d), ==, DOCTOR_CHECK_PASS);

  dir = g_dir_make_tmp ("test-report-XXXXXX", &error);
  g_assert_no_error (error);
  md_path = g_build_filename (dir, "report.md", NULL);
  json_path = g_build_filename (dir, "report.json", NULL);
  md_file = g_file_new_for_path (md_path);
  json_file = g_file_new_for_path (json_path);

  /* Asynchronously, as the window does, in the format the name asks for. */
  g_assert_true (save_async (d, md_file, doctor_report_format_for_file (md_file), &error));
  g_assert_no_error (error);
  g_assert_true (save_async (d, json_file, doctor_report_format_for_file (json_file), &error));
  g_assert_no_error (error);

  md = load (md_file);
  assert_markdown_sound (md);
  g_assert_true (g_str_has_prefix (md, "# SMTP Doctor report\n"));
  g_assert_nonnull (strstr (md, "\n**Verdict:** Ready to send mail\n"));
  g_assert_nonnull (strstr (md, "\n<- 220 test.example ESMTP ready\n"));

  json = load (json_file);
  g_assert_true (g_str_has_suffix (json, "}\n"));
  assert_json_report (json, d);

  /* Synchronously, over the files already there. */
  g_assert_true (doctor_report_save (d, json_file, DOCTOR_REPORT_FORMAT_JSON, NULL, &error));
  g_assert_no_error (error);
  again = load (json_file);
  assert_json_report (again, d);
  g_clear_pointer (&again, g_free);

  g_assert_true (doctor_report_save (d, md_file, DOCTOR_REPORT_FORMAT_MARKDOWN, NULL, &error));
  g_assert_no_error (error);
  again = load (md_file);
  g_assert_true (g_str_has_prefix (again, "# SMTP Doctor report\n"));

  /* Atomic replacement leaves no temporary file behind. */
  {
    g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
    guint n = 0;

    while (g_dir_read_name (handle) != NULL)
      n++;
    g_assert_cmpuint (n, ==, 2);
  }

  remove_tree (dir);
  settle (server);
}

static void
test_save_missing_dir (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *missing = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GFile) file = NULL;

  d = run_plain (server);

  dir = g_dir_make_tmp ("test-report-XXXXXX", &error);
  g_assert_no_error (error);
  missing = g_build_filename (dir, "missing", NULL);
  path = g_build_filename (missing, "report.md", NULL);
  file = g_file_new_for_path (path);

  g_assert_false (doctor_report_save (d, file, DOCTOR_REPORT_FORMAT_MARKDOWN, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_false (save_async (d, file, DOCTOR_REPORT_FORMAT_JSON, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A cancelled save fails as cancelled and writes nothing. */
  {
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();
    g_autofree char *ok_path = g_build_filename (dir, "report.md", NULL);
    g_autoptr(GFile) ok_file = g_file_new_for_path (ok_path);

    g_cancellable_cancel (cancellable);
    g_assert_false (doctor_report_save (d, ok_file, DOCTOR_REPORT_FORMAT_MARKDOWN, cancellable,
                                        &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_false (g_file_test (ok_path, G_FILE_TEST_EXISTS));
  }

  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
  remove_tree (dir);
  settle (server);
}

/* Registration ------------------------------------------------------------------------------- */

typedef struct
{
  GTestDataFunc  func;
  gconstpointer  data;
  gboolean       needs_certs;
} TestCase;

static void
run_isolated (gconstpointer data)
{
  const TestCase *tc = data;

  /* The build makes the certificates (tests/make-certs.sh). */
  if (tc->needs_certs)
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

int
main (int    argc,
      char **argv)
{
  g_autoptr(GPtrArray) cases = g_ptr_array_new_with_free_func (g_free);

  g_test_init (&argc, &argv, NULL);
  test_cases = cases;

  add ("/report/markdown/pass", test_markdown_pass, TRUE);
  add_data ("/report/markdown/auth-failed", test_markdown_auth_failed, &fail_cases[0], TRUE);
  add_data ("/report/markdown/auth-basic-disabled", test_markdown_auth_failed, &fail_cases[1],
            TRUE);
  add ("/report/markdown/hostile-server", test_markdown_hostile, FALSE);
  add ("/report/markdown/synthetic", test_markdown_synthetic, FALSE);
  add ("/report/format-for-file", test_format_for_file, FALSE);
  add ("/report/save", test_save, FALSE);
  add ("/report/save/missing-dir", test_save_missing_dir, FALSE);

  return g_test_run ();
}
