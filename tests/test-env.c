/* test-env.c: .env files, their import and their export (doctor-env.c).
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A table of real-world files in tests/env/ (Laravel's .env.example with edits, Laravel 11 with
 * the log mailer, Django, Symfony with a percent-encoded password and with SendGrid, Khadem,
 * Nodemailer, and tricky.env with every quirk of the syntax, a BOM and CRLF line ends), each
 * imported and checked field by field, with its warnings and the found and ignored lists; then
 * the syntax case by case, the bounds (a 2 MiB file, long lines, too many keys, references that
 * grow), the provider DSNs, the errors, and export round trips for every framework. Throughout,
 * no list, warning or error may contain the password.
 */
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

#include "doctor-env.h"

/* Helpers ------------------------------------------------------------------------------------ */

static char *
fixture_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "env", name, NULL);
}

static DoctorEnvFile *
load_fixture (const char *name)
{
  g_autofree char *path = fixture_path (name);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;
  DoctorEnvFile *env;

  env = doctor_env_file_load (file, &error);
  g_assert_no_error (error);
  g_assert_nonnull (env);

  return env;
}

static DoctorEnvFile *
parse (const char *text)
{
  g_autoptr(GError) error = NULL;
  DoctorEnvFile *env = doctor_env_file_parse (text, strlen (text), &error);

  g_assert_no_error (error);
  g_assert_nonnull (env);

  return env;
}

static DoctorEnvImport *
import_text (const char *text)
{
  g_autoptr(DoctorEnvFile) env = parse (text);
  g_autoptr(GError) error = NULL;
  DoctorEnvImport *import = doctor_env_import (env, &error);

  g_assert_no_error (error);
  g_assert_nonnull (import);

  return import;
}

static void
assert_import_fails (const char *text,
                     int         code,
                     const char *part)
{
  g_autoptr(DoctorEnvFile) env = parse (text);
  g_autoptr(GError) error = NULL;
  g_autoptr(DoctorEnvImport) import = doctor_env_import (env, &error);

  g_assert_null (import);
  g_assert_error (error, DOCTOR_ENV_ERROR, code);
  g_test_message ("refused: %s", error->message);
  if (part != NULL && strstr (error->message, part) == NULL)
    g_error ("“%s” is not in the error “%s”", part, error->message);
}

static gboolean
list_has (GPtrArray  *list,
          const char *part)
{
  for (guint i = 0; i < list->len; i++)
    {
      if (strstr (g_ptr_array_index (list, i), part) != NULL)
        return TRUE;
    }

  return FALSE;
}

static void
dump_list (const char *name,
           GPtrArray  *list)
{
  for (guint i = 0; i < list->len; i++)
    g_test_message ("%s: %s", name, (const char *) g_ptr_array_index (list, i));
}

static void
assert_list_has (const char *name,
                 GPtrArray  *list,
                 const char *part)
{
  if (!list_has (list, part))
    {
      dump_list (name, list);
      g_error ("no %s entry contains “%s”", name, part);
    }
}

static void
assert_list_lacks (GPtrArray  *list,
                   const char *secret)
{
  if (secret == NULL || *secret == '\0')
    return;

  for (guint i = 0; i < list->len; i++)
    g_assert_null (strstr (g_ptr_array_index (list, i), secret));
}

/* The password is in no list and no warning, and the lists are valid UTF-8 without line breaks
 * or other control characters, fit for a label. */
static void
assert_lists_clean (DoctorEnvFile   *env,
                    DoctorEnvImport *import,
                    const char      *secret)
{
  GPtrArray *lists[] = { import->found, import->ignored, doctor_env_file_get_warnings (env) };

  for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
    {
      assert_list_lacks (lists[l], secret);
      for (guint i = 0; i < lists[l]->len; i++)
        {
          const char *text = g_ptr_array_index (lists[l], i);

          g_assert_true (g_utf8_validate (text, -1, NULL));
          for (const char *p = text; *p != '\0'; p++)
            g_assert_cmpint ((guchar) *p, >=, 0x20);
        }
    }
}

/* The fixture table -------------------------------------------------------------------------- */

typedef struct
{
  const char         *file;
  DoctorEnvFramework  framework;
  const char         *host;
  guint16             port;
  DoctorSecurity      security;
  const char         *user;
  const char         *secret;
  const char         *password_key;
  const char         *from;
  const char         *helo;
  guint               timeout_ms;
  const char         *found[6];      /* parts of entries that must be in the found list */
  const char         *ignored[6];    /* parts of entries that must be in the ignored list */
  const char         *warnings[6];   /* parts of warnings, with their line numbers */
} FixtureCase;

static const FixtureCase fixtures[] = {
  {
    "laravel.env", DOCTOR_ENV_FRAMEWORK_LARAVEL,
    "smtp.mailgun.org", 587, DOCTOR_SECURITY_STARTTLS,
    "postmaster@mg.example.com", "9f3c1a7e-Lv#2 open sesame", "MAIL_PASSWORD",
    "hello@example.com", NULL, 0,
    { "MAIL_HOST → server “smtp.mailgun.org”", "MAIL_PORT → port 587",
      "MAIL_PASSWORD → password (hidden)", "MAIL_ENCRYPTION → STARTTLS",
      "MAIL_MAILER → mail is sent over SMTP", "MAIL_USERNAME → user name" },
    { "MAIL_FROM_NAME: the sender’s display name", "other keys are not about mail" },
    { NULL },
  },
  {
    "laravel-ssl.env", DOCTOR_ENV_FRAMEWORK_LARAVEL,
    "smtp.gmail.com", 465, DOCTOR_SECURITY_TLS,
    "invoices@example.org", "abcd$efgh!ijkl", "MAIL_PASSWORD",
    "invoices@example.org", "invoices.example.org", 0,
    { "MAIL_ENCRYPTION → SSL/TLS", "MAIL_EHLO_DOMAIN → EHLO name “invoices.example.org”" },
    { "MAIL_FROM_NAME" },
    { "line 11: a $ reference names no key defined above it" },
  },
  {
    "laravel-log-mailer.env", DOCTOR_ENV_FRAMEWORK_LARAVEL,
    "127.0.0.1", 2525, DOCTOR_SECURITY_STARTTLS,
    NULL, NULL, NULL,
    "hello@example.com", NULL, 0,
    { "MAIL_HOST → server “127.0.0.1”", "MAIL_PORT → port 2525",
      "MAIL_USERNAME → null: no login" },
    { "MAIL_MAILER=log: Laravel does not send mail over SMTP with this mailer" },
    { NULL },
  },
  {
    "django.env", DOCTOR_ENV_FRAMEWORK_DJANGO,
    "smtp.sendgrid.net", 587, DOCTOR_SECURITY_STARTTLS,
    "apikey", "SG.Zm9vYmFyYmF6.cXV4cXV1eGNvcmdlZ3JhdWx0", "EMAIL_HOST_PASSWORD",
    "support@example.com", NULL, 20000,
    { "EMAIL_USE_TLS → STARTTLS", "EMAIL_HOST_PASSWORD → password (hidden)",
      "EMAIL_TIMEOUT → timeout 20 s", "DEFAULT_FROM_EMAIL → sender “support@example.com”" },
    { "SERVER_EMAIL: not used", "other keys are not about mail" },
    { NULL },
  },
  {
    "django-both-tls-ssl.env", DOCTOR_ENV_FRAMEWORK_DJANGO,
    "mail.example.net", 465, DOCTOR_SECURITY_TLS,
    "noreply@example.net", "correct horse battery staple", "EMAIL_HOST_PASSWORD",
    NULL, NULL, 0,
    { "EMAIL_USE_SSL → SSL/TLS (chosen by the port)" },
    { "EMAIL_USE_TLS and EMAIL_USE_SSL are both true", "mutually exclusive" },
    { NULL },
  },
  {
    "symfony.env", DOCTOR_ENV_FRAMEWORK_SYMFONY,
    "mail.example.com", 587, DOCTOR_SECURITY_STARTTLS,
    "mailer@example.com", "p@ss:w/rd+1?", "MAILER_DSN",
    NULL, "app.example.com", 0,
    { "MAILER_DSN → server “mail.example.com”", "MAILER_DSN → password (hidden)",
      "MAILER_DSN → user name “mailer@example.com”", "MAILER_DSN → EHLO name" },
    { "verify_peer is off", "other keys are not about mail" },
    { NULL },
  },
  {
    "symfony-sendgrid.env", DOCTOR_ENV_FRAMEWORK_SYMFONY,
    "smtp.sendgrid.net", 465, DOCTOR_SECURITY_TLS,
    "apikey", "SG.c2VuZGdyaWQ.a2V5LWZvci10ZXN0cw", "MAILER_DSN",
    NULL, NULL, 0,
    { "MAILER_DSN → SendGrid over SMTP", "MAILER_DSN → port 465",
      "MAILER_DSN → user name “apikey”", "MAILER_DSN → password (hidden)" },
    { NULL },
    { NULL },
  },
  {
    "khadem.env", DOCTOR_ENV_FRAMEWORK_KHADEM,
    "sandbox.smtp.mailtrap.io", 2525, DOCTOR_SECURITY_STARTTLS,
    "1a2b3c4d5e6f70", "9f8e7d6c5b4a30", "SMTP_PASSWORD",
    "noreply@example.com", NULL, 45000,
    { "MAIL_DRIVER → mail is sent over SMTP", "SMTP_ENCRYPTION → STARTTLS",
      "SMTP_TIMEOUT → timeout 45 s", "SMTP_PASSWORD → password (hidden)" },
    { "MAIL_FROM_NAME" },
    { NULL },
  },
  {
    "nodemailer.env", DOCTOR_ENV_FRAMEWORK_NODEMAILER,
    "smtp.office365.com", 587, DOCTOR_SECURITY_STARTTLS,
    "alerts@example.com", "Tr0ub4dor&3 \"quoted\"", "SMTP_PASS",
    "alerts@example.com", NULL, 0,
    { "SMTP_SECURE → STARTTLS", "SMTP_PASS → password (hidden)", "SMTP_FROM → sender" },
    { "other keys are not about mail" },
    { NULL },
  },
  {
    "tricky.env", DOCTOR_ENV_FRAMEWORK_LARAVEL,
    "mail.example.net", 2525, DOCTOR_SECURITY_STARTTLS,
    "user$name", "pa\"ss\\wo$rd #1", "MAIL_PASSWORD",
    "noreply@mail.example.net", "mail.example.net", 0,
    { "MAIL_HOST → server “mail.example.net”", "MAIL_PORT → port 2525" },
    { "other keys are not about mail" },
    { "line 20: no “=”", "line 21: the name before “=” is not a valid key",
      "line 22: a $ reference", "line 24: the quote is never closed" },
  },
};

static void
test_fixture (gconstpointer data)
{
  const FixtureCase *c = data;
  g_autoptr(DoctorEnvFile) env = load_fixture (c->file);
  g_autoptr(DoctorEnvImport) import = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *warnings = doctor_env_file_get_warnings (env);
  DoctorTarget *target;

  import = doctor_env_import (env, &error);
  g_assert_no_error (error);
  g_assert_nonnull (import);
  dump_list ("found", import->found);
  dump_list ("ignored", import->ignored);
  dump_list ("warning", warnings);

  target = import->target;
  g_assert_cmpint (import->framework, ==, c->framework);
  g_assert_cmpstr (target->host, ==, c->host);
  g_assert_cmpuint (target->port, ==, c->port);
  g_assert_cmpint (target->security, ==, c->security);
  g_assert_cmpstr (target->user, ==, c->user);
  g_assert_cmpstr (target->secret, ==, c->secret);
  g_assert_cmpstr (import->password_key, ==, c->password_key);
  g_assert_cmpstr (target->mail_from, ==, c->from);
  g_assert_null (target->rcpt_to);
  g_assert_cmpstr (target->helo_name, ==, c->helo);
  g_assert_cmpuint (target->timeout_ms, ==, c->timeout_ms);

  for (guint i = 0; i < G_N_ELEMENTS (c->found) && c->found[i] != NULL; i++)
    assert_list_has ("found", import->found, c->found[i]);
  for (guint i = 0; i < G_N_ELEMENTS (c->ignored) && c->ignored[i] != NULL; i++)
    assert_list_has ("ignored", import->ignored, c->ignored[i]);
  for (guint i = 0; i < G_N_ELEMENTS (c->warnings) && c->warnings[i] != NULL; i++)
    assert_list_has ("warning", warnings, c->warnings[i]);
  if (c->warnings[0] == NULL)
    g_assert_cmpuint (warnings->len, ==, 0);

  if (c->password_key != NULL)
    assert_list_has ("found", import->found, "password (hidden)");
  assert_lists_clean (env, import, c->secret);
}

/* tricky.env, value by value. */
static void
test_tricky_values (void)
{
  g_autoptr(DoctorEnvFile) env = load_fixture ("tricky.env");
  const char * const *keys = doctor_env_file_get_keys (env);

  /* The BOM is not part of the first key. */
  g_assert_cmpstr (keys[0], ==, "APP_NAME");
  g_assert_cmpstr (doctor_env_file_get (env, "APP_NAME"), ==, "Tricky App");
  g_assert_cmpstr (doctor_env_file_get (env, "MAIL_MAILER"), ==, "smtp");
  g_assert_cmpstr (doctor_env_file_get (env, "MAIL_HOST"), ==, "mail.example.net");
  g_assert_cmpstr (doctor_env_file_get (env, "MAIL_PORT"), ==, "2525");
  g_assert_cmpstr (doctor_env_file_get (env, "MAIL_USERNAME"), ==, "user$name");
  g_assert_cmpstr (doctor_env_file_get (env, "MAIL_PASSWORD"), ==, "pa\"ss\\wo$rd #1");
  g_assert_cmpstr (doctor_env_file_get (env, "MAIL_ENCRYPTION"), ==, "");
  g_assert_cmpstr (doctor_env_file_get (env, "MULTI"), ==, "line one\nline two");
  g_assert_cmpstr (doctor_env_file_get (env, "ESCAPES"), ==, "tab\there\nnewline");
  g_assert_cmpstr (doctor_env_file_get (env, "SINGLE"), ==, "no \\n escape ${APP_HOST}");
  g_assert_cmpstr (doctor_env_file_get (env, "EMPTY"), ==, "");
  g_assert_cmpstr (doctor_env_file_get (env, "EMPTY_QUOTED"), ==, "");
  g_assert_cmpstr (doctor_env_file_get (env, "HASH"), ==, "value#not-a-comment");
  g_assert_cmpstr (doctor_env_file_get (env, "UNDEFINED"), ==, "${NOPE}");
  g_assert_cmpstr (doctor_env_file_get (env, "DEFAULTED"), ==, "fallback");
  g_assert_null (doctor_env_file_get (env, "UNCLOSED"));
  g_assert_cmpstr (doctor_env_file_get (env, "AFTER"), ==, "still read");
  g_assert_null (doctor_env_file_get (env, "this"));
  g_assert_null (doctor_env_file_get (env, "NOPE"));

  /* Line numbers count the line inside the multi-line value, and CRLF as one line end. */
  g_assert_cmpuint (doctor_env_file_get_line (env, "MULTI"), ==, 13);
  g_assert_cmpuint (doctor_env_file_get_line (env, "ESCAPES"), ==, 15);
  g_assert_cmpuint (doctor_env_file_get_line (env, "AFTER"), ==, 25);
  g_assert_cmpuint (doctor_env_file_get_line (env, "NOPE"), ==, 0);
  g_assert_cmpuint (doctor_env_file_get_warnings (env)->len, ==, 4);
}

/* The syntax, case by case ------------------------------------------------------------------- */

typedef struct
{
  const char *text;
  const char *key;
  const char *value;   /* NULL: the key is not set */
} SyntaxCase;

static const SyntaxCase syntax_cases[] = {
  { "A=b", "A", "b" },
  { "A=b\n", "A", "b" },
  { "  A  =  b  \n", "A", "b" },
  { "export A=b\n", "A", "b" },
  { "export\tA=b\n", "A", "b" },
  { "export=b\n", "export", "b" },
  { "A.B-C_d=1\n", "A.B-C_d", "1" },
  { "A=\n", "A", "" },
  { "A=''\n", "A", "" },
  { "A=\"\"\n", "A", "" },
  { "A= # only a comment\n", "A", "" },
  { "A=#not a comment\n", "A", "#not a comment" },
  { "A=b # comment\n", "A", "b" },
  { "A=b\t# comment\n", "A", "b" },
  { "A=b#c\n", "A", "b#c" },
  { "A=with inner  spaces \n", "A", "with inner  spaces" },
  { "A='b # c'\n", "A", "b # c" },
  { "A=\"b # c\" # d\n", "A", "b # c" },
  { "A='single \\n ${X} $X \\' '\n", "A", NULL },   /* the \' ends the value, a ' follows */
  { "A='it''s'\n", "A", NULL },
  { "A='no \\n escapes'\n", "A", "no \\n escapes" },
  { "A=\"\\n\\r\\t\\\"\\\\\\$\"\n", "A", "\n\r\t\"\\$" },
  { "A=\"unknown \\q escape\"\n", "A", "unknown \\q escape" },
  { "A=unquoted \\n stays\n", "A", "unquoted \\n stays" },
  { "A=\"multi\nline\nvalue\"\n", "A", "multi\nline\nvalue" },
  { "A='multi\r\nline'\r\n", "A", "multi\nline" },
  { "A=b\rB=c\r", "B", "c" },
  { "X=1\nA=${X}2\n", "A", "12" },
  { "X=1\nA=$X.2\n", "A", "1.2" },
  { "X=1\nA=\"${X} and $X\"\n", "A", "1 and 1" },
  { "X=1\nA=\"\\${X}\"\n", "A", "${X}" },
  { "X=1\nA='${X}'\n", "A", "${X}" },
  { "A=${Y:-dflt}\n", "A", "dflt" },
  { "Y=set\nA=${Y:-dflt}\n", "A", "set" },
  { "A=$\n", "A", "$" },
  { "A=$$ $1 ${ }\n", "A", "$$ $1 ${ }" },
  { "A=${UNDEFINED}\n", "A", "${UNDEFINED}" },
  { "A=1\nA=2\n", "A", "2" },
  { "A=1\nA=${A}${A}\n", "A", "11" },
  { "A=${A}\n", "A", "${A}" },
  { "A=\"text\" trailing\n", "A", NULL },
  { "A=\"unclosed\nB=2\n", "B", "2" },
  { "A=\"unclosed\nB=2\n", "A", NULL },
  { "1A=b\n", "1A", NULL },
  { "A B=c\n", "A", NULL },
  { "A: b\n", "A", NULL },
  { "# A=b\n", "A", NULL },
  { "   # A=b\n", "A", NULL },
  { "A=caf\xc3\xa9\n", "A", "café" },
  { "A=\xff\xfe\n", "A", NULL },
};

static void
test_syntax (gconstpointer data)
{
  const SyntaxCase *c = data;
  g_autoptr(DoctorEnvFile) env = parse (c->text);

  dump_list ("warning", doctor_env_file_get_warnings (env));
  g_assert_cmpstr (doctor_env_file_get (env, c->key), ==, c->value);
}

static void
test_warnings (void)
{
  g_autoptr(DoctorEnvFile) env = parse ("OK=1\n"
                                        "no equals here\n"
                                        "BAD KEY=x\n"
                                        "Q=\"closed\" then text\n"
                                        "OK=2\n"
                                        "V=\xff\n"
                                        "S='never closed\n");
  GPtrArray *warnings = doctor_env_file_get_warnings (env);

  dump_list ("warning", warnings);
  g_assert_cmpuint (warnings->len, ==, 6);
  g_assert_cmpstr (g_ptr_array_index (warnings, 0), ==, "line 2: no “=”");
  g_assert_cmpstr (g_ptr_array_index (warnings, 1), ==,
                   "line 3: the name before “=” is not a valid key");
  g_assert_true (g_str_has_prefix (g_ptr_array_index (warnings, 2), "line 4: there is text"));
  g_assert_cmpstr (g_ptr_array_index (warnings, 3), ==,
                   "line 5: OK is set again; the value of this line is used");
  g_assert_true (g_str_has_prefix (g_ptr_array_index (warnings, 4), "line 6: the value is not"));
  g_assert_true (g_str_has_prefix (g_ptr_array_index (warnings, 5), "line 7: the quote"));
  g_assert_cmpstr (doctor_env_file_get (env, "OK"), ==, "2");
  g_assert_cmpuint (doctor_env_file_get_line (env, "OK"), ==, 5);
}

/* Values never appear in warnings, whatever the line looks like. */
static void
test_warnings_hide_values (void)
{
  g_autoptr(DoctorEnvFile) env = parse ("MAIL_PASSWORD \"hunter2secret\"\n"
                                        "hunter2secret\n"
                                        "X=\"hunter2secret\" hunter2secret\n"
                                        "Y=hunter2secret$NOPE\n"
                                        "Z='hunter2secret\n");
  GPtrArray *warnings = doctor_env_file_get_warnings (env);

  dump_list ("warning", warnings);
  g_assert_cmpuint (warnings->len, ==, 5);
  assert_list_lacks (warnings, "hunter2");
}

static void
test_many_warnings_bounded (void)
{
  GString *text = g_string_new (NULL);
  g_autoptr(DoctorEnvFile) env = NULL;
  GPtrArray *warnings;

  for (guint i = 0; i < 5000; i++)
    g_string_append (text, "garbage\n");
  env = parse (text->str);
  warnings = doctor_env_file_get_warnings (env);
  g_assert_cmpuint (warnings->len, ==, DOCTOR_ENV_MAX_WARNINGS + 1);
  g_assert_true (g_str_has_prefix (g_ptr_array_index (warnings, 0), "line 1: "));
  g_assert_true (strstr (g_ptr_array_index (warnings, DOCTOR_ENV_MAX_WARNINGS), "more") != NULL);
  g_string_free (text, TRUE);
}

/* Bounds ------------------------------------------------------------------------------------- */

static void
assert_parse_refused (const char *data,
                      gsize       length,
                      int         code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DoctorEnvFile) env = doctor_env_file_parse (data, length, &error);

  g_assert_null (env);
  g_assert_error (error, DOCTOR_ENV_ERROR, code);
  g_test_message ("refused: %s", error->message);
}

static void
test_bound_file_size (void)
{
  gsize length = 2 * 1024 * 1024;
  char *data = g_malloc (length);
  g_autofree char *path = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(DoctorEnvFile) env = NULL;
  int fd;

  /* A file of short, valid lines: refused for its size alone. */
  for (gsize i = 0; i < length; i += 8)
    memcpy (data + i, "AAAA=1\n\n", 8);
  assert_parse_refused (data, length, DOCTOR_ENV_ERROR_TOO_LARGE);
  assert_parse_refused (data, DOCTOR_ENV_MAX_FILE_SIZE + 1, DOCTOR_ENV_ERROR_TOO_LARGE);

  /* Exactly 1 MiB is still read. */
  env = doctor_env_file_parse (data, DOCTOR_ENV_MAX_FILE_SIZE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (doctor_env_file_get (env, "AAAA"), ==, "1");
  g_clear_pointer (&env, doctor_env_file_free);

  /* Through the loader, refused before it is read. */
  fd = g_file_open_tmp ("test-env-XXXXXX.env", &path, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (path, data, length, &error));
  g_assert_no_error (error);
  g_close (fd, NULL);
  file = g_file_new_for_path (path);
  env = doctor_env_file_load (file, &error);
  g_assert_null (env);
  g_assert_error (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_TOO_LARGE);
  g_unlink (path);
  g_free (data);
}

static void
test_bound_line_length (void)
{
  gsize length = DOCTOR_ENV_MAX_LINE_LENGTH + 10;
  g_autofree char *data = g_malloc (length + 1);
  g_autoptr(DoctorEnvFile) env = NULL;
  g_autoptr(GError) error = NULL;

  memcpy (data, "A=", 2);
  memset (data + 2, 'x', length - 2);
  data[length] = '\0';
  assert_parse_refused (data, length, DOCTOR_ENV_ERROR_TOO_LARGE);

  /* A line of exactly the bound is read. */
  env = doctor_env_file_parse (data, DOCTOR_ENV_MAX_LINE_LENGTH, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (doctor_env_file_get (env, "A")), ==, DOCTOR_ENV_MAX_LINE_LENGTH - 2);
}

static void
test_bound_keys (void)
{
  GString *text = g_string_new (NULL);
  g_autoptr(DoctorEnvFile) env = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < DOCTOR_ENV_MAX_KEYS; i++)
    g_string_append_printf (text, "K%u=%u\n", i, i);
  env = doctor_env_file_parse (text->str, text->len, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (doctor_env_file_get (env, "K9999"), ==, "9999");
  g_assert_cmpuint (g_strv_length ((char **) doctor_env_file_get_keys (env)), ==,
                    DOCTOR_ENV_MAX_KEYS);

  g_string_append (text, "ONE_MORE=1\n");
  assert_parse_refused (text->str, text->len, DOCTOR_ENV_ERROR_TOO_LARGE);
  g_string_free (text, TRUE);
}

/* References only see earlier keys, so A=${A} cannot recurse; doubling A on every line would
 * reach 2^60 bytes, and is cut off by the bounds instead. */
static void
test_bound_expansion (void)
{
  GString *text = g_string_new ("A=${A}\n");
  g_autoptr(DoctorEnvFile) env = NULL;
  gint64 start = g_get_monotonic_time ();
  gsize total = 0;

  g_string_append (text, "A=xxxxxxxxxxxxxxxx\n");
  for (guint i = 0; i < 60; i++)
    g_string_append (text, "A=${A}${A}\n");
  /* Then many keys each as large as allowed: together over the total bound. */
  for (guint i = 0; i < 100; i++)
    g_string_append_printf (text, "B%u=${A}\n", i);

  env = parse (text->str);
  g_assert_cmpuint (strlen (doctor_env_file_get (env, "A")), <=, DOCTOR_ENV_MAX_VALUE_LENGTH);
  g_assert_cmpuint (strlen (doctor_env_file_get (env, "A")), ==, DOCTOR_ENV_MAX_VALUE_LENGTH);
  for (const char * const *key = doctor_env_file_get_keys (env); *key != NULL; key++)
    total += strlen (doctor_env_file_get (env, *key));
  g_assert_cmpuint (total, <=, DOCTOR_ENV_MAX_TOTAL_LENGTH);
  assert_list_has ("warning", doctor_env_file_get_warnings (env), "line 1: a $ reference");
  assert_list_has ("warning", doctor_env_file_get_warnings (env), "once references are expanded");
  assert_list_has ("warning", doctor_env_file_get_warnings (env), "larger than 4 MiB together");
  /* Well under a second: nothing exponential happened. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_string_free (text, TRUE);
}

static void
test_not_text (void)
{
  assert_parse_refused ("A=1\0B=2\n", 8, DOCTOR_ENV_ERROR_NOT_TEXT);
  assert_parse_refused ("\xff\xfe" "A\0=\0" "1\0", 8, DOCTOR_ENV_ERROR_NOT_TEXT);
  assert_parse_refused ("\xfe\xff" "\0A\0=\0" "1", 8, DOCTOR_ENV_ERROR_NOT_TEXT);
}

static void
test_empty_file (void)
{
  g_autoptr(DoctorEnvFile) env = NULL;
  g_autoptr(GError) error = NULL;

  env = doctor_env_file_parse ("", 0, &error);
  g_assert_no_error (error);
  g_assert_null (doctor_env_file_get_keys (env)[0]);
  g_clear_pointer (&env, doctor_env_file_free);

  env = doctor_env_file_parse ("\xef\xbb\xbf", 3, &error);
  g_assert_no_error (error);
  g_assert_null (doctor_env_file_get_keys (env)[0]);
  g_assert_cmpuint (doctor_env_file_get_warnings (env)->len, ==, 0);
}

static void
test_load_errors (void)
{
  g_autoptr(GFile) missing = g_file_new_for_path ("/nonexistent/smtp-doctor/.env");
  g_autofree char *dir_path = g_test_build_filename (G_TEST_DIST, "env", NULL);
  g_autoptr(GFile) dir = g_file_new_for_path (dir_path);
  g_autoptr(GError) error = NULL;
  g_autoptr(DoctorEnvFile) env = NULL;

  env = doctor_env_file_load (missing, &error);
  g_assert_null (env);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  env = doctor_env_file_load (dir, &error);
  g_assert_null (env);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  g_test_message ("%s", error->message);
}

/* The import, beyond the fixtures ----------------------------------------------------------- */

static void
test_import_no_settings (void)
{
  assert_import_fails ("APP_NAME=x\nDB_HOST=localhost\n", DOCTOR_ENV_ERROR_NO_SETTINGS,
                       "No mail settings found in this file (looked for MAIL_*, MAILER_DSN, "
                       "EMAIL_*, SMTP_*)");
  assert_import_fails ("", DOCTOR_ENV_ERROR_NO_SETTINGS, NULL);
}

static void
test_import_no_server (void)
{
  assert_import_fails ("MAIL_MAILER=log\nMAIL_FROM_ADDRESS=a@example.com\n",
                       DOCTOR_ENV_ERROR_NO_SERVER, "MAIL_HOST");
  assert_import_fails ("MAIL_HOST=null\n", DOCTOR_ENV_ERROR_NO_SERVER, "MAIL_HOST");
  assert_import_fails ("MAILER_DSN=null://null\n", DOCTOR_ENV_ERROR_NO_SERVER, "null://");
  assert_import_fails ("MAILER_DSN=sendmail://default\n", DOCTOR_ENV_ERROR_NO_SERVER,
                       "sendmail");
  assert_import_fails ("MAILER_DSN=sendgrid+api://SG.key@default\n",
                       DOCTOR_ENV_ERROR_NO_SERVER, "web API");
  assert_import_fails ("MAILER_DSN=sendgrid://SG.key@default\n",
                       DOCTOR_ENV_ERROR_NO_SERVER, "web API");
  assert_import_fails ("MAILER_DSN=unknownco+smtp://user:pass@default\n",
                       DOCTOR_ENV_ERROR_NO_SERVER, "does not know");
  assert_import_fails ("MAILER_DSN=\n", DOCTOR_ENV_ERROR_NO_SERVER, "empty");
  assert_import_fails ("MAILER_DSN=not a dsn\n", DOCTOR_ENV_ERROR_INVALID, "MAILER_DSN");
  assert_import_fails ("EMAIL_URL=consolemail://\n", DOCTOR_ENV_ERROR_NO_SERVER, "EMAIL_URL");
  assert_import_fails ("EMAIL_PORT=25\n", DOCTOR_ENV_ERROR_NO_SERVER, "EMAIL_HOST");
  assert_import_fails ("SMTP_PORT=25\nSMTP_USERNAME=u\n", DOCTOR_ENV_ERROR_NO_SERVER,
                       "SMTP_HOST");
}

/* A password that is not percent-encoded must not leak into the error through GUri's message. */
static void
test_import_bad_dsn_hides_password (void)
{
  g_autoptr(DoctorEnvFile) env = parse ("MAILER_DSN=smtp://user:pa/ss:wo@rd@host:25\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(DoctorEnvImport) import = doctor_env_import (env, &error);

  if (import != NULL)
    {
      assert_lists_clean (env, import, "pa/ss");
      assert_lists_clean (env, import, "wo@rd");
    }
  else
    {
      g_assert_null (strstr (error->message, "pa/ss"));
      g_assert_null (strstr (error->message, "wo@rd"));
      g_assert_null (strstr (error->message, "ss:wo"));
    }
}

static void
test_import_several_frameworks (void)
{
  g_autoptr(DoctorEnvFile) env = parse ("EMAIL_HOST=smtp.django.example\n"
                                        "EMAIL_PORT=25\n"
                                        "MAIL_HOST=smtp.laravel.example\n"
                                        "MAIL_PORT=587\n"
                                        "MAILER_DSN=null://null\n"
                                        "SMTP_HOST=smtp.node.example\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(DoctorEnvImport) import = doctor_env_import (env, &error);

  g_assert_no_error (error);
  dump_list ("ignored", import->ignored);
  g_assert_cmpint (import->framework, ==, DOCTOR_ENV_FRAMEWORK_LARAVEL);
  g_assert_cmpstr (import->target->host, ==, "smtp.laravel.example");
  assert_list_has ("ignored", import->ignored,
                   "EMAIL_HOST: not used; the Laravel settings of this file were imported");
  assert_list_has ("ignored", import->ignored, "EMAIL_PORT: not used");
  assert_list_has ("ignored", import->ignored, "MAILER_DSN: not used");
  assert_list_has ("ignored", import->ignored, "SMTP_HOST: not used");
}

/* The first framework that fails gives way to the next, and says why. */
static void
test_import_falls_through (void)
{
  g_autoptr(DoctorEnvImport) import = import_text ("MAILER_DSN=null://null\n"
                                                   "EMAIL_HOST=smtp.example.com\n"
                                                   "EMAIL_PORT=587\n"
                                                   "EMAIL_USE_TLS=yes\n");

  g_assert_cmpint (import->framework, ==, DOCTOR_ENV_FRAMEWORK_DJANGO);
  g_assert_cmpint (import->target->security, ==, DOCTOR_SECURITY_STARTTLS);
  assert_list_has ("ignored", import->ignored, "The Symfony settings were not used: MAILER_DSN");
}

typedef struct
{
  const char     *text;
  DoctorEnvFramework framework;
  const char     *host;
  guint16         port;
  DoctorSecurity  security;
  const char     *user;
  const char     *secret;
  const char     *note;      /* part of a found or ignored entry, or NULL */
} ImportCase;

static const ImportCase import_cases[] = {
  /* Laravel 9+: the port decides, whatever MAIL_ENCRYPTION says. */
  { "MAIL_HOST=h.example\nMAIL_PORT=587\nMAIL_ENCRYPTION=ssl\n", DOCTOR_ENV_FRAMEWORK_LARAVEL,
    "h.example", 587, DOCTOR_SECURITY_STARTTLS, NULL, NULL, "since Laravel 9" },
  { "MAIL_HOST=h.example\nMAIL_PORT=465\nMAIL_ENCRYPTION=tls\n", DOCTOR_ENV_FRAMEWORK_LARAVEL,
    "h.example", 465, DOCTOR_SECURITY_TLS, NULL, NULL, "tls on port 465" },
  { "MAIL_HOST=h.example\nMAIL_PORT=465\nMAIL_ENCRYPTION=null\n", DOCTOR_ENV_FRAMEWORK_LARAVEL,
    "h.example", 465, DOCTOR_SECURITY_TLS, NULL, NULL, "not set" },
  { "MAIL_HOST=h.example\nMAIL_PORT=2465\nMAIL_SCHEME=smtps\n", DOCTOR_ENV_FRAMEWORK_LARAVEL,
    "h.example", 2465, DOCTOR_SECURITY_TLS, NULL, NULL, "MAIL_SCHEME → SSL/TLS" },
  { "MAIL_HOST=h.example\n", DOCTOR_ENV_FRAMEWORK_LARAVEL,
    "h.example", 587, DOCTOR_SECURITY_STARTTLS, NULL, NULL, "MAIL_MAILER is not set" },
  { "MAIL_HOST=h.example\nMAIL_PORT=99999\n", DOCTOR_ENV_FRAMEWORK_LARAVEL,
    "h.example", 587, DOCTOR_SECURITY_STARTTLS, NULL, NULL, "“99999” is not a port number" },
  { "MAIL_DRIVER=smtp\nMAIL_HOST=old.example\nMAIL_USERNAME=u\nMAIL_PASSWORD=p4ss\n",
    DOCTOR_ENV_FRAMEWORK_LARAVEL, "old.example", 587, DOCTOR_SECURITY_STARTTLS, "u", "p4ss",
    "MAIL_DRIVER → mail is sent over SMTP" },
  { "MAIL_HOST=h.example\nMAIL_PASSWORD=lonely-pass\n", DOCTOR_ENV_FRAMEWORK_LARAVEL,
    "h.example", 587, DOCTOR_SECURITY_STARTTLS, NULL, "lonely-pass", "does not log in" },
  { "MAIL_HOST=h.example\nMAIL_USERNAME=u\nMAIL_PASSWORD=your-password-here\n",
    DOCTOR_ENV_FRAMEWORK_LARAVEL, "h.example", 587, DOCTOR_SECURITY_STARTTLS, "u", NULL,
    "still the placeholder" },
  { "MAIL_URL=smtps://u%40x:s%3Acret@url.example:2465\nMAIL_HOST=ignored.example\n",
    DOCTOR_ENV_FRAMEWORK_LARAVEL, "url.example", 2465, DOCTOR_SECURITY_TLS, "u@x", "s:cret",
    "MAIL_URL → server" },
  /* Symfony */
  { "MAILER_DSN=smtp://relay.example\n", DOCTOR_ENV_FRAMEWORK_SYMFONY,
    "relay.example", 465, DOCTOR_SECURITY_TLS, NULL, NULL, "no port" },
  { "MAILER_DSN=smtp://localhost\n", DOCTOR_ENV_FRAMEWORK_SYMFONY,
    "localhost", 25, DOCTOR_SECURITY_STARTTLS, NULL, NULL, NULL },
  { "MAILER_DSN=smtps://u:pw-0465@relay.example\n", DOCTOR_ENV_FRAMEWORK_SYMFONY,
    "relay.example", 465, DOCTOR_SECURITY_TLS, "u", "pw-0465", NULL },
  { "MAILER_DSN=smtp://relay.example:465\n", DOCTOR_ENV_FRAMEWORK_SYMFONY,
    "relay.example", 465, DOCTOR_SECURITY_TLS, NULL, NULL, NULL },
  { "MAILER_DSN=smtp://relay.example:25?auto_tls=false\n", DOCTOR_ENV_FRAMEWORK_SYMFONY,
    "relay.example", 25, DOCTOR_SECURITY_NONE, NULL, NULL, "auto_tls=false" },
  { "MAILER_DSN=smtp://u:a+b@relay.example:587\n", DOCTOR_ENV_FRAMEWORK_SYMFONY,
    "relay.example", 587, DOCTOR_SECURITY_STARTTLS, "u", "a b", "write %2B for a plus sign" },
  { "MAILER_DSN=smtp://[::1]:2525?max_per_second=2&frobnicate=1\n",
    DOCTOR_ENV_FRAMEWORK_SYMFONY, "::1", 2525, DOCTOR_SECURITY_STARTTLS, NULL, NULL,
    "the option “frobnicate” does not matter" },
  { "MAILER_DSN=failover(smtp://u:pw-first@first.example:587 smtp://second.example)\n",
    DOCTOR_ENV_FRAMEWORK_SYMFONY, "first.example", 587, DOCTOR_SECURITY_STARTTLS, "u", "pw-first",
    "only the first one" },
  { "MAILER_DSN=mailgun+smtp://postmaster%40mg.example.com:mgpass@default?region=eu\n",
    DOCTOR_ENV_FRAMEWORK_SYMFONY, "smtp.eu.mailgun.org", 587, DOCTOR_SECURITY_STARTTLS,
    "postmaster@mg.example.com", "mgpass", "Mailgun over SMTP" },
  { "MAILER_DSN=mailgun+smtp://u:mg-secret@default\n", DOCTOR_ENV_FRAMEWORK_SYMFONY,
    "smtp.mailgun.org", 587, DOCTOR_SECURITY_STARTTLS, "u", "mg-secret", NULL },
  { "MAILER_DSN=ses+smtp://AKIAEXAMPLE:sesSecret%2F1@default?region=us-east-1\n",
    DOCTOR_ENV_FRAMEWORK_SYMFONY, "email-smtp.us-east-1.amazonaws.com", 465,
    DOCTOR_SECURITY_TLS, "AKIAEXAMPLE", "sesSecret/1", "Amazon SES over SMTP" },
  { "MAILER_DSN=ses+smtp://AKIAEXAMPLE:ses-secret@default\n", DOCTOR_ENV_FRAMEWORK_SYMFONY,
    "email-smtp.eu-west-1.amazonaws.com", 465, DOCTOR_SECURITY_TLS, "AKIAEXAMPLE", "ses-secret",
    NULL },
  { "MAILER_DSN=postmark+smtp://pm-server-token-1234@default\n", DOCTOR_ENV_FRAMEWORK_SYMFONY,
    "smtp.postmarkapp.com", 587, DOCTOR_SECURITY_STARTTLS, "pm-server-token-1234",
    "pm-server-token-1234", "user name “(hidden)”" },
  { "MAILER_DSN=brevo+smtp://u%40example.com:xsmtpsib-key@default\n",
    DOCTOR_ENV_FRAMEWORK_SYMFONY, "smtp-relay.brevo.com", 465, DOCTOR_SECURITY_TLS,
    "u@example.com", "xsmtpsib-key", NULL },
  { "MAILER_DSN=brevo+smtp://u:brevo-key@default:587\n", DOCTOR_ENV_FRAMEWORK_SYMFONY,
    "smtp-relay.brevo.com", 587, DOCTOR_SECURITY_STARTTLS, "u", "brevo-key", NULL },
  { "MAILER_DSN=gmail+smtp://me%40gmail.com:app-pass@default\n", DOCTOR_ENV_FRAMEWORK_SYMFONY,
    "smtp.gmail.com", 465, DOCTOR_SECURITY_TLS, "me@gmail.com", "app-pass", NULL },
  { "MAILER_DSN=sendgrid+smtp://SG.eu-key@default?region=eu\n", DOCTOR_ENV_FRAMEWORK_SYMFONY,
    "smtp.eu.sendgrid.net", 465, DOCTOR_SECURITY_TLS, "apikey", "SG.eu-key", NULL },
  /* Django */
  { "EMAIL_HOST=d.example\n", DOCTOR_ENV_FRAMEWORK_DJANGO,
    "d.example", 25, DOCTOR_SECURITY_NONE, NULL, NULL, "Django’s default" },
  { "EMAIL_HOST=d.example\nEMAIL_PORT=587\nEMAIL_USE_TLS=maybe\n", DOCTOR_ENV_FRAMEWORK_DJANGO,
    "d.example", 587, DOCTOR_SECURITY_NONE, NULL, NULL, "not a true or false value" },
  { "EMAIL_HOST=d.example\nEMAIL_HOST_USER=u\nEMAIL_HOST_PASSWORD=\n",
    DOCTOR_ENV_FRAMEWORK_DJANGO, "d.example", 25, DOCTOR_SECURITY_NONE, NULL, NULL,
    "Django does not log in" },
  { "EMAIL_HOST=d.example\nEMAIL_BACKEND=django.core.mail.backends.console.EmailBackend\n",
    DOCTOR_ENV_FRAMEWORK_DJANGO, "d.example", 25, DOCTOR_SECURITY_NONE, NULL, NULL,
    "EMAIL_BACKEND=django.core.mail.backends.console.EmailBackend: Django does not send" },
  { "EMAIL_URL=smtp+ssl://u:pw-1234%21@d.example:465\n", DOCTOR_ENV_FRAMEWORK_DJANGO,
    "d.example", 465, DOCTOR_SECURITY_TLS, "u", "pw-1234!", NULL },
  { "EMAIL_URL=smtps://u:dj-secret@d.example:587\n", DOCTOR_ENV_FRAMEWORK_DJANGO,
    "d.example", 587, DOCTOR_SECURITY_STARTTLS, "u", "dj-secret", "means STARTTLS" },
  { "EMAIL_URL=smtp://d.example\n", DOCTOR_ENV_FRAMEWORK_DJANGO,
    "d.example", 25, DOCTOR_SECURITY_NONE, NULL, NULL, NULL },
  /* Khadem */
  { "SMTP_HOST=k.example\nSMTP_USERNAME=u\nSMTP_PASSWORD=kh-secret\n", DOCTOR_ENV_FRAMEWORK_KHADEM,
    "k.example", 2525, DOCTOR_SECURITY_STARTTLS, "u", "kh-secret", "MAIL_DRIVER is not set" },
  { "SMTP_HOST=k.example\nSMTP_PORT=465\nSMTP_ENCRYPTION=ssl\n", DOCTOR_ENV_FRAMEWORK_KHADEM,
    "k.example", 465, DOCTOR_SECURITY_TLS, NULL, NULL, NULL },
  { "SMTP_HOST=k.example\nSMTP_PORT=25\nSMTP_ENCRYPTION=none\n", DOCTOR_ENV_FRAMEWORK_KHADEM,
    "k.example", 25, DOCTOR_SECURITY_NONE, NULL, NULL, NULL },
  { "SMTP_HOST=k.example\nSMTP_ENCRYPTION=starttls\n", DOCTOR_ENV_FRAMEWORK_KHADEM,
    "k.example", 2525, DOCTOR_SECURITY_STARTTLS, NULL, NULL, "written so" },
  { "SMTP_HOST=k.example\nSMTP_TIMEOUT=30000\nSMTP_USERNAME=u\n", DOCTOR_ENV_FRAMEWORK_KHADEM,
    "k.example", 2525, DOCTOR_SECURITY_STARTTLS, "u", NULL, "not a timeout in seconds" },
  /* Nodemailer */
  { "SMTP_URL=smtps://u%40x.example:p%40ss@n.example\n", DOCTOR_ENV_FRAMEWORK_NODEMAILER,
    "n.example", 465, DOCTOR_SECURITY_TLS, "u@x.example", "p@ss", NULL },
  { "SMTP_URL=smtp://n.example:25?ignoreTLS=true\n", DOCTOR_ENV_FRAMEWORK_NODEMAILER,
    "n.example", 25, DOCTOR_SECURITY_NONE, NULL, NULL, NULL },
  { "SMTP_URL=smtp://u:nm-secret@n.example\n", DOCTOR_ENV_FRAMEWORK_NODEMAILER,
    "n.example", 587, DOCTOR_SECURITY_STARTTLS, "u", "nm-secret", NULL },
  { "SMTP_HOST=n.example\nSMTP_USER=u\nSMTP_PASS=nm-secret\nSMTP_SECURE=true\n",
    DOCTOR_ENV_FRAMEWORK_NODEMAILER, "n.example", 465, DOCTOR_SECURITY_TLS, "u", "nm-secret",
    NULL },
  { "SMTP_HOST=n.example\nSMTP_PORT=465\nSMTP_USER=u\nSMTP_PASSWORD=nm-secret\n",
    DOCTOR_ENV_FRAMEWORK_NODEMAILER, "n.example", 465, DOCTOR_SECURITY_TLS, "u", "nm-secret",
    "chosen by the port" },
};

static void
test_import_case (gconstpointer data)
{
  const ImportCase *c = data;
  g_autoptr(DoctorEnvFile) env = parse (c->text);
  g_autoptr(GError) error = NULL;
  g_autoptr(DoctorEnvImport) import = doctor_env_import (env, &error);

  g_assert_no_error (error);
  dump_list ("found", import->found);
  dump_list ("ignored", import->ignored);
  g_assert_cmpint (import->framework, ==, c->framework);
  g_assert_cmpstr (import->target->host, ==, c->host);
  g_assert_cmpuint (import->target->port, ==, c->port);
  g_assert_cmpint (import->target->security, ==, c->security);
  g_assert_cmpstr (import->target->user, ==, c->user);
  g_assert_cmpstr (import->target->secret, ==, c->secret);
  g_assert_true ((import->password_key != NULL) == (c->secret != NULL));
  if (c->note != NULL && !list_has (import->found, c->note) &&
      !list_has (import->ignored, c->note))
    g_error ("“%s” is neither found nor ignored", c->note);
  assert_lists_clean (env, import, c->secret);
}

/* Export ------------------------------------------------------------------------------------- */

typedef struct
{
  DoctorEnvFramework  framework;
  const char         *host;
  guint16             port;
  DoctorSecurity      security;
  DoctorSecurity      read_back;   /* what the framework makes of it */
  const char         *user;
  const char         *secret;
} ExportCase;

/* A password that needs every kind of quoting and encoding. */
#define NASTY_PASSWORD "p@ss:w/rd ?#1 $HOME ${X} \"q\" 'a' \\ +%"

static const ExportCase export_cases[] = {
  { DOCTOR_ENV_FRAMEWORK_LARAVEL, "smtp.example.com", 587, DOCTOR_SECURITY_STARTTLS,
    DOCTOR_SECURITY_STARTTLS, "user@example.com", NASTY_PASSWORD },
  { DOCTOR_ENV_FRAMEWORK_LARAVEL, "smtp.example.com", 465, DOCTOR_SECURITY_TLS,
    DOCTOR_SECURITY_TLS, "user", "plain" },
  { DOCTOR_ENV_FRAMEWORK_LARAVEL, "smtp.example.com", 2465, DOCTOR_SECURITY_TLS,
    DOCTOR_SECURITY_TLS, "user", "it's" },
  /* Laravel takes STARTTLS whenever it is offered: "no encryption" cannot be said. */
  { DOCTOR_ENV_FRAMEWORK_LARAVEL, "127.0.0.1", 1025, DOCTOR_SECURITY_NONE,
    DOCTOR_SECURITY_STARTTLS, NULL, NULL },
  { DOCTOR_ENV_FRAMEWORK_SYMFONY, "smtp.example.com", 587, DOCTOR_SECURITY_STARTTLS,
    DOCTOR_SECURITY_STARTTLS, "user@example.com", NASTY_PASSWORD },
  { DOCTOR_ENV_FRAMEWORK_SYMFONY, "smtp.example.com", 465, DOCTOR_SECURITY_TLS,
    DOCTOR_SECURITY_TLS, "u", "pw-9876" },
  { DOCTOR_ENV_FRAMEWORK_SYMFONY, "mail.local", 25, DOCTOR_SECURITY_NONE,
    DOCTOR_SECURITY_NONE, NULL, NULL },
  { DOCTOR_ENV_FRAMEWORK_SYMFONY, "::1", 2525, DOCTOR_SECURITY_STARTTLS,
    DOCTOR_SECURITY_STARTTLS, "u", "pw-9876" },
  { DOCTOR_ENV_FRAMEWORK_DJANGO, "smtp.example.com", 587, DOCTOR_SECURITY_STARTTLS,
    DOCTOR_SECURITY_STARTTLS, "user@example.com", NASTY_PASSWORD },
  { DOCTOR_ENV_FRAMEWORK_DJANGO, "smtp.example.com", 465, DOCTOR_SECURITY_TLS,
    DOCTOR_SECURITY_TLS, "u", "pw-9876" },
  { DOCTOR_ENV_FRAMEWORK_DJANGO, "smtp.example.com", 25, DOCTOR_SECURITY_NONE,
    DOCTOR_SECURITY_NONE, NULL, NULL },
  { DOCTOR_ENV_FRAMEWORK_KHADEM, "smtp.example.com", 587, DOCTOR_SECURITY_STARTTLS,
    DOCTOR_SECURITY_STARTTLS, "user@example.com", NASTY_PASSWORD },
  { DOCTOR_ENV_FRAMEWORK_KHADEM, "smtp.example.com", 465, DOCTOR_SECURITY_TLS,
    DOCTOR_SECURITY_TLS, "u", "pw-9876" },
  { DOCTOR_ENV_FRAMEWORK_KHADEM, "smtp.example.com", 25, DOCTOR_SECURITY_NONE,
    DOCTOR_SECURITY_NONE, "u", "pw-9876" },
  { DOCTOR_ENV_FRAMEWORK_NODEMAILER, "smtp.example.com", 587, DOCTOR_SECURITY_STARTTLS,
    DOCTOR_SECURITY_STARTTLS, "user@example.com", NASTY_PASSWORD },
  { DOCTOR_ENV_FRAMEWORK_NODEMAILER, "smtp.example.com", 465, DOCTOR_SECURITY_TLS,
    DOCTOR_SECURITY_TLS, "u", "pw-9876" },
};

static void
test_export_round_trip (gconstpointer data)
{
  const ExportCase *c = data;
  g_autoptr(DoctorTarget) target = doctor_target_new (c->host, c->port, c->security);

  target->user = g_strdup (c->user);
  doctor_target_set_secret (target, c->secret);
  target->mail_from = g_strdup ("sender@example.com");

  for (guint with_password = 0; with_password < 2; with_password++)
    {
      char *text = doctor_env_export (target, c->framework, with_password);
      g_autoptr(DoctorEnvFile) env = NULL;
      g_autoptr(DoctorEnvImport) import = NULL;
      g_autoptr(GError) error = NULL;

      g_test_message ("%s", text);
      env = doctor_env_file_parse (text, strlen (text), &error);
      g_assert_no_error (error);
      dump_list ("warning", doctor_env_file_get_warnings (env));
      g_assert_cmpuint (doctor_env_file_get_warnings (env)->len, ==, 0);
      import = doctor_env_import (env, &error);
      g_assert_no_error (error);
      dump_list ("found", import->found);
      dump_list ("ignored", import->ignored);

      g_assert_cmpint (import->framework, ==, c->framework);
      g_assert_cmpstr (import->target->host, ==, c->host);
      g_assert_cmpuint (import->target->port, ==, c->port);
      g_assert_cmpint (import->target->security, ==, c->read_back);
      g_assert_cmpstr (import->target->user, ==, c->user);
      if (with_password)
        {
          g_assert_cmpstr (import->target->secret, ==, c->secret);
        }
      else
        {
          g_assert_null (import->target->secret);
          if (c->secret != NULL)
            {
              g_assert_null (strstr (text, c->secret));
              g_assert_true (strstr (text, DOCTOR_ENV_PASSWORD_PLACEHOLDER) != NULL ||
                             strstr (text, DOCTOR_ENV_DSN_PASSWORD_PLACEHOLDER) != NULL);
              assert_list_has ("ignored", import->ignored, "still the placeholder");
            }
        }
      if (c->framework != DOCTOR_ENV_FRAMEWORK_SYMFONY)
        g_assert_cmpstr (import->target->mail_from, ==, "sender@example.com");
      assert_lists_clean (env, import, c->secret);
      doctor_secret_free (text);
    }
}

/* The extra settings survive too, and the text is what a person would write. */
static void
test_export_details (void)
{
  g_autoptr(DoctorTarget) target = doctor_target_new ("smtp.example.com", 587,
                                                      DOCTOR_SECURITY_STARTTLS);
  g_autofree char *laravel = NULL;
  g_autofree char *symfony = NULL;
  g_autofree char *django = NULL;
  g_autofree char *khadem = NULL;
  g_autoptr(DoctorEnvImport) import = NULL;

  target->user = g_strdup ("me@example.com");
  doctor_target_set_secret (target, "s3cret");
  target->helo_name = g_strdup ("client.example.com");
  target->timeout_ms = 15000;

  laravel = doctor_env_export (target, DOCTOR_ENV_FRAMEWORK_LARAVEL, FALSE);
  g_assert_cmpstr (laravel, ==,
                   "MAIL_MAILER=smtp\n"
                   "MAIL_HOST=smtp.example.com\n"
                   "MAIL_PORT=587\n"
                   "MAIL_USERNAME=me@example.com\n"
                   "MAIL_PASSWORD=your-password-here\n"
                   "MAIL_ENCRYPTION=tls\n"
                   "MAIL_EHLO_DOMAIN=client.example.com\n");

  symfony = doctor_env_export (target, DOCTOR_ENV_FRAMEWORK_SYMFONY, FALSE);
  g_assert_cmpstr (symfony, ==, "MAILER_DSN=smtp://me%40example.com:PASSWORD@smtp.example.com"
                                ":587?local_domain=client.example.com\n");
  import = import_text (symfony);
  g_assert_cmpstr (import->target->helo_name, ==, "client.example.com");
  g_clear_pointer (&import, doctor_env_import_free);

  django = doctor_env_export (target, DOCTOR_ENV_FRAMEWORK_DJANGO, FALSE);
  g_assert_true (strstr (django, "EMAIL_TIMEOUT=15\n") != NULL);
  g_assert_true (strstr (django, "EMAIL_USE_TLS=True\nEMAIL_USE_SSL=False\n") != NULL);
  import = import_text (django);
  g_assert_cmpuint (import->target->timeout_ms, ==, 15000);
  g_clear_pointer (&import, doctor_env_import_free);

  khadem = doctor_env_export (target, DOCTOR_ENV_FRAMEWORK_KHADEM, FALSE);
  g_assert_true (g_str_has_prefix (khadem, "MAIL_DRIVER=smtp\nSMTP_HOST=smtp.example.com\n"));
  import = import_text (khadem);
  g_assert_cmpuint (import->target->timeout_ms, ==, 15000);
}

static void
test_framework_names (void)
{
  for (guint i = 0; i < DOCTOR_ENV_N_FRAMEWORKS; i++)
    {
      DoctorEnvFramework framework;

      g_assert_true (doctor_env_framework_from_string (doctor_env_framework_to_string (i),
                                                       &framework));
      g_assert_cmpint (framework, ==, i);
      g_assert_cmpstr (doctor_env_framework_get_label (i), !=, "");
    }
  g_assert_false (doctor_env_framework_from_string ("rails", &(DoctorEnvFramework) { 0 }));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (fixtures); i++)
    {
      g_autofree char *path = g_strdup_printf ("/env/fixture/%s", fixtures[i].file);

      g_test_add_data_func (path, &fixtures[i], test_fixture);
    }
  g_test_add_func ("/env/fixture/tricky-values", test_tricky_values);

  for (guint i = 0; i < G_N_ELEMENTS (syntax_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/env/syntax/%u", i);

      g_test_add_data_func (path, &syntax_cases[i], test_syntax);
    }
  g_test_add_func ("/env/warnings/lines", test_warnings);
  g_test_add_func ("/env/warnings/hide-values", test_warnings_hide_values);
  g_test_add_func ("/env/warnings/bounded", test_many_warnings_bounded);

  g_test_add_func ("/env/bounds/file-size", test_bound_file_size);
  g_test_add_func ("/env/bounds/line-length", test_bound_line_length);
  g_test_add_func ("/env/bounds/keys", test_bound_keys);
  g_test_add_func ("/env/bounds/expansion", test_bound_expansion);
  g_test_add_func ("/env/bounds/not-text", test_not_text);
  g_test_add_func ("/env/bounds/empty", test_empty_file);
  g_test_add_func ("/env/load/errors", test_load_errors);

  g_test_add_func ("/env/import/no-settings", test_import_no_settings);
  g_test_add_func ("/env/import/no-server", test_import_no_server);
  g_test_add_func ("/env/import/bad-dsn-hides-password", test_import_bad_dsn_hides_password);
  g_test_add_func ("/env/import/several-frameworks", test_import_several_frameworks);
  g_test_add_func ("/env/import/falls-through", test_import_falls_through);
  for (guint i = 0; i < G_N_ELEMENTS (import_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/env/import/case/%u", i);

      g_test_add_data_func (path, &import_cases[i], test_import_case);
    }

  for (guint i = 0; i < G_N_ELEMENTS (export_cases); i++)
    {
      const char *name = doctor_env_framework_to_string (export_cases[i].framework);
      g_autofree char *path = g_strdup_printf ("/env/export/round-trip/%s/%u", name, i);

      g_test_add_data_func (path, &export_cases[i], test_export_round_trip);
    }
  g_test_add_func ("/env/export/details", test_export_details);
  g_test_add_func ("/env/framework-names", test_framework_names);

  return g_test_run ();
}
