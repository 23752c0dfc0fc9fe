/* main.c: smtp-doctor-cli, the diagnosis for terminals, scripts and monitoring.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The options and exit statuses are a contract (DESIGN.md): 0 when every check passed or was
 * skipped, 1 for a warning, 2 for a failure, 3 for a usage error. A password is never taken
 * from the argument list, where every user of the machine could read it: it comes from
 * standard input, an environment variable or a prompt on the terminal.
 */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <glib/gi18n.h>
#include <glib-unix.h>

#include "doctor-cli-output.h"
#include "doctor-diagnosis.h"
#include "doctor-error.h"
#include "doctor-report.h"

#define EXIT_WARNING 1
#define EXIT_FAILURE_FOUND 2
#define EXIT_USAGE 3
#define MAX_PASSWORD_LENGTH 1024

typedef struct
{
  GMainLoop    *loop;
  gboolean      done;
  GError       *error;
} RunState;

static gboolean
usage_error (const char *prgname,
             const char *message)
{
  g_printerr ("%s: %s\n", prgname, message);
  g_printerr (_("Try “%s --help” for more information.\n"), prgname);
  return FALSE;
}

/* Reads one line from @stream into a buffer that is wiped after use; FALSE at a read error. */
static char *
read_secret_line (FILE *stream)
{
  char buffer[MAX_PASSWORD_LENGTH + 2];
  char *result;
  gsize length;

  if (fgets (buffer, sizeof buffer, stream) == NULL)
    {
      explicit_bzero (buffer, sizeof buffer);
      return g_strdup ("");
    }

  length = strcspn (buffer, "\r\n");
  if (length > MAX_PASSWORD_LENGTH)
    {
      explicit_bzero (buffer, sizeof buffer);
      return NULL;
    }

  buffer[length] = '\0';
  result = g_strdup (buffer);
  explicit_bzero (buffer, sizeof buffer);

  return result;
}

/* Asks on the controlling terminal with echo off. */
static char *
prompt_secret (const char *user)
{
  struct termios old, quiet;
  FILE *tty = fopen ("/dev/tty", "r+");
  char *secret;

  if (tty == NULL)
    return NULL;

  fprintf (tty, _("Password for %s: "), user);
  fflush (tty);

  if (tcgetattr (fileno (tty), &old) == 0)
    {
      quiet = old;
      quiet.c_lflag &= ~ECHO;
      tcsetattr (fileno (tty), TCSAFLUSH, &quiet);
      secret = read_secret_line (tty);
      tcsetattr (fileno (tty), TCSAFLUSH, &old);
    }
  else
    {
      secret = read_secret_line (tty);
    }

  fputc ('\n', tty);
  fclose (tty);

  return secret;
}

static void
on_run_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  RunState *state = user_data;

  doctor_diagnosis_run_finish (DOCTOR_DIAGNOSIS (object), result, &state->error);
  state->done = TRUE;
  g_main_loop_quit (state->loop);
}

static gboolean
on_interrupt (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
  return G_SOURCE_CONTINUE;
}

static gboolean
parse_timeout (const char *text,
               guint      *timeout_ms)
{
  char *end = NULL;
  double value;

  errno = 0;
  value = g_ascii_strtod (text, &end);
  if (errno != 0 || end == text || *end != '\0' || !(value > 0) || value > 3600)
    return FALSE;

  *timeout_ms = (guint) (value * 1000 + 0.5);
  return *timeout_ms > 0;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) diagnosis = NULL;
  g_autoptr(DoctorCliOutput) output = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *port_text = NULL;
  g_autofree char *security_text = NULL;
  g_autofree char *user = NULL;
  g_autofree char *password_env = NULL;
  g_autofree char *ca_file = NULL;
  g_autofree char *timeout_text = NULL;
  g_autofree char *helo = NULL;
  g_autofree char *mail_from = NULL;
  g_autofree char *rcpt_to = NULL;
  g_autofree char *host = NULL;
  g_autofree char *uri_user = NULL;
  gboolean uri_security = FALSE;
  g_auto(GStrv) rest = NULL;
  gboolean password_stdin = FALSE;
  gboolean allow_plaintext = FALSE;
  gboolean scan_ports = FALSE;
  gboolean json = FALSE;
  gboolean version = FALSE;
  gboolean verbose = FALSE;
  DoctorSecurity security = DOCTOR_SECURITY_STARTTLS;
  guint16 port = 0;
  guint timeout = 0;
  RunState state = { 0 };
  guint sigint_id, sigterm_id;
  const char *prgname;
  DoctorCheckStatus verdict;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_STRING, &port_text,
      N_("Port (default from the security mode: tls 465, starttls 587, none 25)"), N_("PORT") },
    { "security", 's', 0, G_OPTION_ARG_STRING, &security_text,
      N_("starttls, tls or none (default: tls for port 465, else starttls)"), N_("MODE") },
    { "user", 'u', 0, G_OPTION_ARG_STRING, &user, N_("Log in as this user"), N_("NAME") },
    { "password-stdin", 0, 0, G_OPTION_ARG_NONE, &password_stdin,
      N_("Read the password from the first line of standard input"), NULL },
    { "password-env", 0, 0, G_OPTION_ARG_STRING, &password_env,
      N_("Read the password from environment variable VAR"), N_("VAR") },
    { "allow-plaintext-auth", 0, 0, G_OPTION_ARG_NONE, &allow_plaintext,
      N_("Permit a login without TLS (off by default)"), NULL },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &ca_file,
      N_("Also trust the CA certificates in FILE (PEM)"), N_("FILE") },
    { "timeout", 0, 0, G_OPTION_ARG_STRING, &timeout_text,
      N_("Deadline for each step (default 30)"), N_("SECONDS") },
    { "helo", 0, 0, G_OPTION_ARG_STRING, &helo,
      N_("EHLO name (default: the local host name)"), N_("NAME") },
    { "from", 0, 0, G_OPTION_ARG_STRING, &mail_from,
      N_("Sender of a test message (with --to)"), N_("ADDR") },
    { "to", 0, 0, G_OPTION_ARG_STRING, &rcpt_to,
      N_("Recipient of a test message (with --from)"), N_("ADDR") },
    { "scan-ports", 0, 0, G_OPTION_ARG_NONE, &scan_ports,
      N_("Also probe ports 25, 465, 587 and 2525 in both modes"), NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      N_("Print the report as JSON on standard output"), NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      N_("Also print every check's details and the SMTP transcript"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Show the version and exit"), NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, N_("HOST[:PORT] or smtp[s]://[USER@]HOST[:PORT]") },
    { NULL }
  };

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_set_prgname ("smtp-doctor-cli");
  prgname = g_get_prgname ();

  context = g_option_context_new (_("HOST[:PORT] — find out why mail will not send"));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_description (context,
    _("Exit status: 0 every check passed or was skipped, 1 a warning, 2 a failure, "
      "3 a usage error.\n"
      "The password is never given as an argument: use --password-stdin, --password-env, or "
      "answer the prompt."));

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage_error (prgname, error->message), EXIT_USAGE;

  if (version)
    {
      g_print ("smtp-doctor-cli %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }

  if (rest == NULL || rest[0] == NULL)
    return usage_error (prgname, _("No server was given")), EXIT_USAGE;
  if (rest[1] != NULL)
    return usage_error (prgname, _("Only one server can be given")), EXIT_USAGE;

  if (!doctor_parse_target (rest[0], &host, &port, &security, &uri_security, &uri_user, &error))
    return usage_error (prgname, error->message), EXIT_USAGE;

  if (uri_user != NULL && user == NULL)
    user = g_steal_pointer (&uri_user);

  if (port_text != NULL)
    {
      guint64 value;
      g_autofree char *message = NULL;

      if (!g_ascii_string_to_unsigned (port_text, 10, 1, 65535, &value, NULL))
        {
          message = g_strdup_printf (_("“%s” is not a port number from 1 to 65535"), port_text);
          return usage_error (prgname, message), EXIT_USAGE;
        }
      if (port != 0 && port != value)
        {
          message = g_strdup_printf (_("The port is given twice (%u and %s)"), port, port_text);
          return usage_error (prgname, message), EXIT_USAGE;
        }
      port = (guint16) value;
    }

  if (security_text != NULL)
    {
      DoctorSecurity given = security;

      if (!doctor_security_from_string (security_text, &security))
        {
          g_autofree char *message =
            g_strdup_printf (_("“%s” is not a security mode: use starttls, tls or none"),
                             security_text);
          return usage_error (prgname, message), EXIT_USAGE;
        }
      if (uri_security && given != security)
        return usage_error (prgname, _("The security mode of the address and --security "
                                       "disagree")), EXIT_USAGE;
    }
  else if (!uri_security)
    {
      security = port == 465 ? DOCTOR_SECURITY_TLS : DOCTOR_SECURITY_STARTTLS;
    }

  if (timeout_text != NULL && !parse_timeout (timeout_text, &timeout))
    {
      g_autofree char *message =
        g_strdup_printf (_("“%s” is not a timeout in seconds (more than 0, at most 3600)"),
                         timeout_text);
      return usage_error (prgname, message), EXIT_USAGE;
    }

  target = doctor_target_new (host, port, security);
  target->user = g_steal_pointer (&user);
  target->allow_plaintext_auth = allow_plaintext;
  target->ca_file = g_steal_pointer (&ca_file);
  target->timeout_ms = timeout;
  target->helo_name = g_steal_pointer (&helo);
  target->mail_from = g_steal_pointer (&mail_from);
  target->rcpt_to = g_steal_pointer (&rcpt_to);

  if (password_stdin && password_env != NULL)
    return usage_error (prgname, _("Use either --password-stdin or --password-env, not both")),
           EXIT_USAGE;

  if ((password_stdin || password_env != NULL) && target->user == NULL)
    return usage_error (prgname, _("A password needs a user name (--user)")), EXIT_USAGE;

  /* Everything that goes on the wire is checked before the password is asked for. */
  if (!doctor_target_validate (target, &error))
    return usage_error (prgname, error->message), EXIT_USAGE;

  if (target->user != NULL)
    {
      char *secret = NULL;

      if (password_stdin)
        {
          secret = read_secret_line (stdin);
          if (secret == NULL)
            return usage_error (prgname, _("The password is longer than 1024 bytes")), EXIT_USAGE;
        }
      else if (password_env != NULL)
        {
          const char *value = g_getenv (password_env);

          if (value == NULL)
            {
              g_autofree char *message =
                g_strdup_printf (_("The environment variable %s is not set"), password_env);
              return usage_error (prgname, message), EXIT_USAGE;
            }
          secret = g_strdup (value);
        }
      else if (isatty (STDIN_FILENO))
        {
          secret = prompt_secret (target->user);
        }

      if (secret == NULL)
        return usage_error (prgname, _("A login needs a password: use --password-stdin, "
                                       "--password-env or run on a terminal to be asked")),
               EXIT_USAGE;

      doctor_target_set_secret (target, secret);
      doctor_secret_free (secret);

      if (!doctor_target_validate (target, &error))
        return usage_error (prgname, error->message), EXIT_USAGE;
    }

  if (scan_ports)
    g_printerr (_("%s: note: --scan-ports is not available in this version yet; the ports "
                  "list stays empty\n"), prgname);

  diagnosis = doctor_diagnosis_new (target);
  cancellable = g_cancellable_new ();
  loop = g_main_loop_new (NULL, FALSE);
  state.loop = loop;

  if (!json)
    {
      output = doctor_cli_output_new (diagnosis, stdout, verbose);
      doctor_cli_output_header (output);
    }

  sigint_id = g_unix_signal_add (SIGINT, on_interrupt, cancellable);
  sigterm_id = g_unix_signal_add (SIGTERM, on_interrupt, cancellable);

  doctor_diagnosis_run_async (diagnosis, cancellable, on_run_done, &state);
  if (!state.done)
    g_main_loop_run (loop);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);

  if (json)
    {
      g_autofree char *text = doctor_report_to_json (diagnosis, TRUE);

      g_print ("%s\n", text);
    }
  else
    {
      doctor_cli_output_finish (output);
    }

  if (g_error_matches (state.error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_error (&state.error);
      return 130;
    }
  if (g_error_matches (state.error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT))
    {
      usage_error (prgname, state.error->message);
      g_clear_error (&state.error);
      return EXIT_USAGE;
    }
  g_clear_error (&state.error);

  verdict = doctor_diagnosis_get_verdict (diagnosis);
  if (verdict == DOCTOR_CHECK_FAIL)
    return EXIT_FAILURE_FOUND;
  if (verdict == DOCTOR_CHECK_WARN)
    return EXIT_WARNING;

  return EXIT_SUCCESS;
}
