/* test-app.c: the desktop app's window, driven in process under Xvfb.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The window runs real diagnoses: against Debian's aiosmtpd (tests/smtp-server.py) for the
 * passing run and the report, and against the in-process scripted server for failures, a
 * cancelled run and a security mismatch. Widgets are found by their template ids, the way a
 * user finds them by their labels; dialogs by their transient parent, and their buttons by
 * their labels, which are clicked.
 *
 * Profiles and passwords: meson runs this program through run-with-keyring.sh, so the keyring
 * is a real gnome-keyring-daemon on a private session bus, and XDG_CONFIG_HOME a directory of
 * that run. Each profile test has a config directory of its own and hands the window a store of
 * that directory's profiles.json: setting XDG_CONFIG_HOME per test would not do, because GLib
 * reads it once per process (g_get_user_config_dir() caches it).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <adwaita.h>
#include <glib/gstdio.h>

#include "doctor-application.h"
#include "doctor-check-row.h"
#include "doctor-env.h"
#include "doctor-keyring.h"
#include "doctor-report.h"
#include "doctor-test-server.h"
#include "doctor-transcript-window.h"
#include "doctor-window.h"

#define PASSWORD "Sup3r-s3cret!"

static gpointer
child (DoctorWindow *window,
       const char   *id)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (window), DOCTOR_TYPE_WINDOW, id);

  g_assert_nonnull (object);
  return object;
}

static void
set_entry (DoctorWindow *window,
           const char   *id,
           const char   *text)
{
  gtk_editable_set_text (GTK_EDITABLE (child (window, id)), text);
}

static const char *
get_entry (DoctorWindow *window,
           const char   *id)
{
  return gtk_editable_get_text (GTK_EDITABLE (child (window, id)));
}

static DoctorWindow *
new_window (void)
{
  DoctorWindow *window = g_object_ref_sink (doctor_window_new (NULL));

  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 760);
  gtk_window_present (GTK_WINDOW (window));
  return window;
}

static void
destroy_window (DoctorWindow *window)
{
  gtk_window_destroy (GTK_WINDOW (window));
  g_object_unref (window);
}

static gboolean
run_finished (gpointer data)
{
  return !doctor_window_is_running (DOCTOR_WINDOW (data));
}

static void
run_and_wait (DoctorWindow *window,
              gint64        max_ms)
{
  doctor_window_run (window);
  g_assert_true (doctor_window_is_running (window));
  g_assert_true (doctor_test_wait_until (run_finished, window, max_ms));
}

static GPtrArray *
check_rows (DoctorWindow *window)
{
  GPtrArray *rows = doctor_window_get_check_rows (window);

  /* They are really in the checklist group. */
  for (guint i = 0; i < rows->len; i++)
    g_assert_true (gtk_widget_get_ancestor (g_ptr_array_index (rows, i),
                                            ADW_TYPE_PREFERENCES_GROUP)
                   == child (window, "checklist_group"));

  return g_ptr_array_ref (rows);
}

static DoctorCheckRow *
find_row (DoctorWindow *window,
          const char   *id)
{
  g_autoptr(GPtrArray) rows = check_rows (window);

  for (guint i = 0; i < rows->len; i++)
    {
      DoctorCheckRow *row = g_ptr_array_index (rows, i);

      if (g_str_equal (doctor_check_get_id (doctor_check_row_get_check (row)), id))
        return row;
    }

  g_assert_not_reached ();
}

/* aiosmtpd, the real server of the happy paths ---------------------------------------------- */

typedef struct
{
  GSubprocess *process;
  char        *dir;
  guint16      port;
} RealServer;

static gboolean
file_exists (gpointer data)
{
  return g_file_test (data, G_FILE_TEST_EXISTS);
}

static RealServer *
real_server_start (const char *mode)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *script = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "smtp-server.py", NULL);
  g_autofree char *cert = doctor_test_cert_path ("good");
  g_autofree char *key = doctor_test_cert_path ("good-key");
  g_autofree char *ready = NULL;
  g_autofree char *text = NULL;
  RealServer *server = g_new0 (RealServer, 1);

  server->dir = g_dir_make_tmp ("smtp-doctor-app-XXXXXX", &error);
  g_assert_no_error (error);
  ready = g_build_filename (server->dir, "port", NULL);

  server->process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error,
                                      "/usr/bin/python3", script, "--port", "0", "--mode", mode,
                                      "--cert", cert, "--key", key,
                                      "--auth", "me:" PASSWORD,
                                      "--maildir", server->dir, "--ready-file", ready, NULL);
  g_assert_no_error (error);
  g_assert_true (doctor_test_wait_until (file_exists, ready, 10000));
  g_file_get_contents (ready, &text, NULL, &error);
  g_assert_no_error (error);
  server->port = (guint16) g_ascii_strtoull (text, NULL, 10);
  g_assert_cmpuint (server->port, >, 0);

  return server;
}

static void
real_server_stop (RealServer *server)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  g_subprocess_send_signal (server->process, SIGTERM);
  g_subprocess_wait (server->process, NULL, NULL);
  g_object_unref (server->process);

  dir = g_dir_open (server->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (server->dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (server->dir);
  g_free (server->dir);
  g_free (server);
}

/* Tests -------------------------------------------------------------------------------------- */

static void
test_templates (void)
{
  DoctorWindow *window = new_window ();
  g_autoptr(GtkBuilder) builder = NULL;
  g_autoptr(DoctorTarget) target = doctor_target_new ("127.0.0.1", 25, DOCTOR_SECURITY_NONE);
  g_autoptr(DoctorDiagnosis) diagnosis = doctor_diagnosis_new (target);
  GtkWidget *transcript;

  /* The empty state until the first run. */
  g_assert_cmpstr (gtk_stack_get_visible_child_name (child (window, "results_stack")), ==, "empty");
  g_assert_cmpstr (get_entry (window, "port_row"), ==, "587");

  builder = gtk_builder_new_from_resource ("/io/github/smtpdoctor/SmtpDoctor/gtk/help-overlay.ui");
  g_assert_true (GTK_IS_SHORTCUTS_WINDOW (gtk_builder_get_object (builder, "help_overlay")));
  gtk_window_destroy (GTK_WINDOW (gtk_builder_get_object (builder, "help_overlay")));

  transcript = doctor_transcript_window_new (GTK_WINDOW (window), diagnosis);
  g_assert_true (DOCTOR_IS_TRANSCRIPT_WINDOW (transcript));
  gtk_window_destroy (GTK_WINDOW (transcript));

  destroy_window (window);
}

static void
test_preset_fills_form (void)
{
  DoctorWindow *window = new_window ();
  AdwComboRow *provider = child (window, "provider_row");
  GListModel *model = adw_combo_row_get_model (provider);
  guint n = g_list_model_get_n_items (model);
  gboolean found_gmail = FALSE, found_sendgrid = FALSE;

  g_assert_cmpuint (n, >=, 15);

  for (guint i = 1; i < n; i++)
    {
      const char *name = gtk_string_list_get_string (GTK_STRING_LIST (model), i);

      adw_combo_row_set_selected (provider, i);
      if (strstr (name, "Gmail") != NULL)
        {
          found_gmail = TRUE;
          g_assert_cmpstr (get_entry (window, "host_row"), ==, "smtp.gmail.com");
          g_assert_cmpstr (get_entry (window, "port_row"), ==, "587");
          g_assert_cmpuint (adw_combo_row_get_selected (child (window, "security_row")), ==, 0);
        }
      else if (strstr (name, "SendGrid") != NULL)
        {
          found_sendgrid = TRUE;
          g_assert_cmpstr (get_entry (window, "host_row"), ==, "smtp.sendgrid.net");
          g_assert_cmpstr (get_entry (window, "user_row"), ==, "apikey");
        }
      g_assert_cmpstr (get_entry (window, "host_row"), !=, "");
    }
  g_assert_true (found_gmail);
  g_assert_true (found_sendgrid);

  /* Typing another server leaves the preset. */
  set_entry (window, "host_row", "mail.example.org");
  g_assert_cmpuint (adw_combo_row_get_selected (provider), ==, 0);

  destroy_window (window);
}

static void
test_port_and_security_follow (void)
{
  DoctorWindow *window = new_window ();
  AdwComboRow *security = child (window, "security_row");

  adw_combo_row_set_selected (security, 1);
  g_assert_cmpstr (get_entry (window, "port_row"), ==, "465");
  adw_combo_row_set_selected (security, 0);
  g_assert_cmpstr (get_entry (window, "port_row"), ==, "587");

  set_entry (window, "port_row", "465");
  g_assert_cmpuint (adw_combo_row_get_selected (security), ==, 1);

  /* A port the user chose stays when the mode changes. */
  set_entry (window, "port_row", "2525");
  adw_combo_row_set_selected (security, 0);
  g_assert_cmpstr (get_entry (window, "port_row"), ==, "2525");

  /* A pasted URI fills the form. */
  set_entry (window, "host_row", "smtps://me@mail.example.com:4650");
  g_assert_cmpstr (get_entry (window, "host_row"), ==, "mail.example.com");
  g_assert_cmpstr (get_entry (window, "port_row"), ==, "4650");
  g_assert_cmpstr (get_entry (window, "user_row"), ==, "me");
  g_assert_cmpuint (adw_combo_row_get_selected (security), ==, 1);

  destroy_window (window);
}

static void
test_invalid_input_marked (void)
{
  DoctorWindow *window = new_window ();

  set_entry (window, "host_row", "smtp.example.com");
  set_entry (window, "port_row", "99999");
  g_assert_true (gtk_widget_has_css_class (child (window, "port_row"), "error"));
  doctor_window_run (window);
  g_assert_false (doctor_window_is_running (window));
  g_assert_null (doctor_window_get_diagnosis (window));

  set_entry (window, "port_row", "587");
  g_assert_false (gtk_widget_has_css_class (child (window, "port_row"), "error"));

  set_entry (window, "from_row", "not an address");
  g_assert_true (gtk_widget_has_css_class (child (window, "from_row"), "error"));
  set_entry (window, "from_row", "");

  /* A user name without a password does not run, and says so on the row. */
  set_entry (window, "user_row", "me");
  doctor_window_run (window);
  g_assert_false (doctor_window_is_running (window));
  g_assert_true (gtk_widget_has_css_class (child (window, "password_row"), "error"));
  g_assert_true (gtk_widget_get_visible (child (window, "form_error_label")));

  destroy_window (window);
}

static void
on_text_read (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  char **text = user_data;

  *text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (object), result, NULL);
  if (*text == NULL)
    *text = g_strdup ("");
}

static gboolean
text_ready (gpointer data)
{
  return *(char **) data != NULL;
}

static char *
read_clipboard (GtkWidget *widget)
{
  char *text = NULL;

  gdk_clipboard_read_text_async (gtk_widget_get_clipboard (widget), NULL, on_text_read, &text);
  g_assert_true (doctor_test_wait_until (text_ready, &text, 5000));
  return text;
}

static void
test_real_server_run (void)
{
  RealServer *server = real_server_start ("starttls");
  DoctorWindow *window = new_window ();
  g_autofree char *uri = g_strdup_printf ("submission://127.0.0.1:%u", server->port);
  g_autofree char *ca = doctor_test_cert_path ("ca");
  g_autofree char *report = NULL;
  g_autofree char *b64 = g_base64_encode ((const guchar *) PASSWORD, strlen (PASSWORD));
  static const char blob[] = "\0me\0" PASSWORD;
  g_autofree char *plain_b64 = g_base64_encode ((const guchar *) blob, sizeof blob - 1);
  g_autofree char *transcript_text = NULL;
  GtkWidget *transcript;
  g_autoptr(GPtrArray) rows = NULL;

  g_assert_true (doctor_window_set_target_text (window, uri, NULL));
  doctor_window_set_ca_file (window, ca);
  set_entry (window, "user_row", "me");
  set_entry (window, "password_row", PASSWORD);

  run_and_wait (window, 20000);

  /* Every row has reached its final state, in the order of the run. */
  rows = check_rows (window);
  g_assert_cmpuint (rows->len, ==, 9);
  for (guint i = 0; i < rows->len; i++)
    {
      DoctorCheckRow *row = g_ptr_array_index (rows, i);
      DoctorCheck *check = doctor_check_row_get_check (row);

      g_assert_true (doctor_check_is_finished (check));
      g_assert_false (doctor_check_row_is_spinning (row));
      g_assert_cmpstr (doctor_check_row_get_icon_name (row), !=, "content-loading-symbolic");
      if (!g_str_equal (doctor_check_get_id (check), "send"))
        g_assert_cmpint (doctor_check_get_status (check), ==, DOCTOR_CHECK_PASS);
    }
  g_assert_cmpstr (doctor_check_get_id (doctor_check_row_get_check (g_ptr_array_index (rows, 4))),
                   ==, "starttls");
  g_assert_cmpstr (gtk_label_get_text (child (window, "verdict_label")), ==, "Ready to send mail");
  g_assert_cmpstr (doctor_check_row_get_icon_name (find_row (window, "auth")), ==,
                   "emblem-ok-symbolic");

  /* Copy report: Markdown, with the login masked and the password nowhere. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.copy-report", NULL);
  report = read_clipboard (GTK_WIDGET (window));
  g_assert_nonnull (strstr (report, "SMTP Doctor report"));
  g_assert_nonnull (strstr (report, "AUTH PLAIN ****"));
  g_assert_null (strstr (report, PASSWORD));
  g_assert_null (strstr (report, b64));

  /* The transcript window (and so its Copy button) masks the login too. */
  transcript = doctor_transcript_window_new (GTK_WINDOW (window),
                                             doctor_window_get_diagnosis (window));
  transcript_text = doctor_transcript_window_get_text (DOCTOR_TRANSCRIPT_WINDOW (transcript));
  gtk_window_destroy (GTK_WINDOW (transcript));
  g_assert_nonnull (strstr (transcript_text, "AUTH PLAIN ****"));
  g_assert_null (strstr (transcript_text, PASSWORD));
  g_assert_null (strstr (transcript_text, b64));
  g_assert_null (strstr (transcript_text, plain_b64));

  destroy_window (window);
  real_server_stop (server);
}

static void
test_failing_run (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  DoctorWindow *window = new_window ();
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", doctor_test_server_get_port (server));
  DoctorCheckRow *auth;

  doctor_test_script_send (script, "220 test ESMTP\r\n");
  doctor_test_script_expect (script, "EHLO");
  doctor_test_script_send (script, "250-test\r\n250 AUTH PLAIN LOGIN\r\n");
  doctor_test_script_expect (script, "AUTH PLAIN");
  doctor_test_script_send (script, "535 5.7.8 Authentication credentials invalid\r\n");
  doctor_test_script_on_line (script, "QUIT", "221 bye\r\n");

  g_assert_true (doctor_window_set_target_text (window, target, NULL));
  adw_combo_row_set_selected (child (window, "security_row"), 2);
  gtk_switch_set_active (child (window, "plaintext_switch"), TRUE);
  set_entry (window, "user_row", "me");
  set_entry (window, "password_row", PASSWORD);

  run_and_wait (window, 10000);

  auth = find_row (window, "auth");
  g_assert_cmpint (doctor_check_get_status (doctor_check_row_get_check (auth)), ==,
                   DOCTOR_CHECK_FAIL);
  g_assert_cmpstr (doctor_check_get_reason (doctor_check_row_get_check (auth)), ==, "auth-failed");
  g_assert_cmpstr (doctor_check_row_get_icon_name (auth), ==, "dialog-error-symbolic");
  /* The failure opens by itself, with its advice. */
  g_assert_true (adw_expander_row_get_expanded (ADW_EXPANDER_ROW (auth)));
  g_assert_cmpuint (doctor_check_get_advice (doctor_check_row_get_check (auth))->len, >, 0);
  g_assert_cmpstr (gtk_label_get_text (child (window, "verdict_label")), ==, "1 problem found");
  g_assert_cmpint (doctor_check_get_status (doctor_check_row_get_check (find_row (window, "send"))),
                   ==, DOCTOR_CHECK_SKIPPED);

  destroy_window (window);
}

static void
test_cancel (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  DoctorWindow *window = new_window ();
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", doctor_test_server_get_port (server));
  gint64 start;

  doctor_test_script_silent (doctor_test_server_get_script (server, 0));
  g_assert_true (doctor_window_set_target_text (window, target, NULL));
  set_entry (window, "timeout_row", "20");

  doctor_window_run (window);
  g_assert_cmpstr (gtk_button_get_label (child (window, "run_button")), ==, "_Cancel");
  doctor_test_sleep (300);
  g_assert_true (doctor_window_is_running (window));

  start = g_get_monotonic_time ();
  gtk_widget_activate_action (GTK_WIDGET (window), "win.cancel", NULL);
  g_assert_true (doctor_test_wait_until (run_finished, window, 2000));
  g_assert_cmpint ((g_get_monotonic_time () - start) / 1000, <, 1000);

  g_assert_cmpstr (doctor_check_get_reason (doctor_check_row_get_check (find_row (window, "greeting"))),
                   ==, "cancelled");
  g_assert_cmpstr (doctor_check_row_get_icon_name (find_row (window, "auth")), ==,
                   "process-stop-symbolic");
  g_assert_cmpstr (gtk_button_get_label (child (window, "run_button")), ==, "_Run Checks");

  destroy_window (window);
}

static void
test_suggestion_fills_form (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  DoctorWindow *window = new_window ();
  guint16 port = doctor_test_server_get_port (server);
  g_autofree char *target = g_strdup_printf ("smtps://127.0.0.1:%u", port);
  g_autofree char *port_text = g_strdup_printf ("%u", port);

  /* A plain SMTP server, spoken to with SSL/TLS. */
  doctor_test_script_send (script, "220 plain ESMTP\r\n");
  doctor_test_script_on_line (script, "EHLO", "250-plain\r\n250 STARTTLS\r\n");
  doctor_test_script_on_line (script, "QUIT", "221 bye\r\n");

  g_assert_true (doctor_window_set_target_text (window, target, NULL));
  run_and_wait (window, 10000);

  g_assert_true (gtk_widget_get_visible (child (window, "suggestion_group")));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.use-suggestion", NULL);
  g_assert_cmpuint (adw_combo_row_get_selected (child (window, "security_row")), ==, 0);
  g_assert_cmpstr (get_entry (window, "port_row"), ==, port_text);
  g_assert_cmpstr (get_entry (window, "host_row"), ==, "127.0.0.1");

  destroy_window (window);
}

/* Server text in a row is text, not markup: with markup a lone "&" would be a GTK warning (and
 * fatal here), and the span would turn the text red. */
static void
test_server_text_literal (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  DoctorWindow *window = new_window ();
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", doctor_test_server_get_port (server));
  const char *subtitle;

  doctor_test_script_send (script, "554 <span foreground=\"green\">Secure</span> & \x1b[2J ok\r\n");
  g_assert_true (doctor_window_set_target_text (window, target, NULL));
  run_and_wait (window, 10000);

  subtitle = adw_expander_row_get_subtitle (ADW_EXPANDER_ROW (find_row (window, "greeting")));
  g_assert_nonnull (strstr (subtitle, "<span foreground=\"green\">Secure</span> & \\x1b[2J ok"));
  g_assert_false (adw_preferences_row_get_use_markup (ADW_PREFERENCES_ROW (find_row (window,
                                                                                "greeting"))));
  g_assert_nonnull (strstr (gtk_label_get_text (child (window, "verdict_detail_label")), "<span"));

  destroy_window (window);
}

/* Escapes (ANSI, OSC 8, BEL, backspace, a CR), Pango markup, an entity and bytes that are not
 * UTF-8, in the greeting, the EHLO reply and an error reply. */
#define HOSTILE_TEXT \
  "\x1b[31mRED\x1b[0m \x1b]8;;https://evil.example/\x07" "click\x1b]8;;\x07 back\x08\x08 " \
  "mid\rline <b>bold</b> <span foreground=\"red\">span</span> &amp; & bad\xff\xfe end"

static gboolean
text_is_plain (const char *text)
{
  if (!g_utf8_validate (text, -1, NULL))
    return FALSE;
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if ((c < 0x20 && c != '\n') || c == 0x7f || (c >= 0x80 && c < 0xa0))
        return FALSE;
    }
  return TRUE;
}

/* Every label under @root that shows server text shows it as it came, escaped where it could
 * act: never parsed as markup (where "<b>bold</b>" would show as "bold"). */
static guint
check_server_labels (GtkWidget *root)
{
  guint n = 0;

  if (GTK_IS_LABEL (root))
    {
      const char *text = gtk_label_get_text (GTK_LABEL (root));

      g_assert_true (text_is_plain (text));
      if (strstr (text, "RED") != NULL)
        {
          g_assert_false (gtk_label_get_use_markup (GTK_LABEL (root)));
          g_assert_nonnull (strstr (text, "\\x1b[31mRED"));
          g_assert_nonnull (strstr (text, "<b>bold</b> <span foreground=\"red\">span</span>"));
          g_assert_nonnull (strstr (text, "&amp; &"));
          n++;
        }
    }

  for (GtkWidget *widget = gtk_widget_get_first_child (root); widget != NULL;
       widget = gtk_widget_get_next_sibling (widget))
    n += check_server_labels (widget);

  return n;
}

static void
test_server_text_hostile (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  DoctorWindow *window = new_window ();
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", doctor_test_server_get_port (server));
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GList) toplevels = NULL;
  g_autofree char *transcript_text = NULL;
  g_autofree char *report = NULL;
  DoctorCheckRow *ehlo;
  guint n_labels;

  doctor_test_script_send (script, "220 " HOSTILE_TEXT "\r\n");
  doctor_test_script_expect (script, "EHLO");
  doctor_test_script_send (script, "550-" HOSTILE_TEXT "\r\n550 5.7.1 " HOSTILE_TEXT "\r\n");
  doctor_test_script_on_line (script, "QUIT", "221 bye\r\n");
  g_assert_true (doctor_window_set_target_text (window, target, NULL));
  run_and_wait (window, 10000);

  ehlo = find_row (window, "ehlo");
  g_assert_cmpint (doctor_check_get_status (doctor_check_row_get_check (ehlo)), ==,
                   DOCTOR_CHECK_FAIL);
  g_assert_nonnull (strstr (adw_expander_row_get_subtitle (ADW_EXPANDER_ROW (ehlo)),
                            "<b>bold</b>"));

  /* Every row open, so that its details and advice are drawn: a markup label would warn
   * (fatal here) on the lone "&", or swallow the tags. */
  rows = check_rows (window);
  for (guint i = 0; i < rows->len; i++)
    {
      g_assert_false (adw_preferences_row_get_use_markup (g_ptr_array_index (rows, i)));
      adw_expander_row_set_expanded (g_ptr_array_index (rows, i), TRUE);
    }
  doctor_test_sleep (300);
  n_labels = check_server_labels (GTK_WIDGET (window));
  /* The greeting's and the EHLO row's subtitles, their details, the verdict. */
  g_assert_cmpuint (n_labels, >=, 4);

  /* The transcript window shows the lines as they came, escaped. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.show-transcript", NULL);
  toplevels = gtk_window_list_toplevels ();
  for (GList *l = toplevels; l != NULL; l = l->next)
    {
      if (DOCTOR_IS_TRANSCRIPT_WINDOW (l->data))
        {
          transcript_text = doctor_transcript_window_get_text (l->data);
          gtk_window_destroy (l->data);
          break;
        }
    }
  g_assert_nonnull (transcript_text);
  g_assert_true (text_is_plain (transcript_text));
  g_assert_nonnull (strstr (transcript_text, "220 \\x1b[31mRED"));
  g_assert_nonnull (strstr (transcript_text, "mid\\x0dline <b>bold</b>"));

  /* The copied report has no raw escape either. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.copy-report", NULL);
  report = read_clipboard (GTK_WIDGET (window));
  g_assert_true (text_is_plain (report));
  g_assert_nonnull (strstr (report, "RED"));

  destroy_window (window);
}

/* A CA file's name is shown as it is: "R&D" would be a markup error (a warning, fatal here) and
 * "<b>" would turn bold, were the row's subtitle markup. */
static void
test_ca_file_name_literal (void)
{
  DoctorWindow *window = new_window ();
  AdwActionRow *row = child (window, "ca_row");

  doctor_window_set_ca_file (window, "/nonexistent/R&D <b>ca.pem");
  g_assert_false (adw_preferences_row_get_use_markup (ADW_PREFERENCES_ROW (row)));
  g_assert_cmpstr (adw_action_row_get_subtitle (row), ==, "R&D <b>ca.pem");
  g_assert_cmpuint (check_server_labels (GTK_WIDGET (row)), ==, 0);
  doctor_test_sleep (100);

  destroy_window (window);
}

/* Profiles, the keyring and .env files ------------------------------------------------------ */

typedef struct
{
  char *dir;    /* the test's config directory */
  char *path;   /* its profiles.json */
} Config;

static GSettings *
app_settings (void)
{
  return g_settings_new (APPLICATION_ID);
}

static void
config_setup (Config *config)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSettings) settings = app_settings ();

  config->dir = g_dir_make_tmp ("smtp-doctor-app-config-XXXXXX", &error);
  g_assert_no_error (error);
  config->path = g_build_filename (config->dir, "smtp-doctor", "profiles.json", NULL);
  g_settings_reset (settings, "last-profile");
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child_path = g_build_filename (path, name, NULL);

      if (g_file_test (child_path, G_FILE_TEST_IS_DIR) &&
          !g_file_test (child_path, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child_path);
      else
        g_unlink (child_path);
    }
  g_rmdir (path);
}

static void
config_teardown (Config *config)
{
  g_autoptr(GSettings) settings = app_settings ();

  g_settings_reset (settings, "last-profile");
  remove_tree (config->dir);
  g_free (config->dir);
  g_free (config->path);
}

static char *
read_profiles_file (Config *config)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_file_get_contents (config->path, &text, NULL, &error);
  g_assert_no_error (error);
  return text;
}

/* A profile saved beforehand, as the command line would; its password in the keyring. */
static char *
seed_profile (Config     *config,
              const char *name,
              const char *host,
              const char *user,
              const char *password)
{
  g_autoptr(DoctorProfileStore) store = doctor_profile_store_new (config->path);
  g_autoptr(DoctorTarget) target = doctor_target_new (host, 587, DOCTOR_SECURITY_STARTTLS);
  g_autoptr(DoctorProfile) profile = NULL;
  g_autoptr(GError) error = NULL;

  target->user = g_strdup (user);
  profile = doctor_profile_new_from_target (name, target, NULL);
  profile->remember_password = password != NULL;

  g_assert_true (doctor_profile_store_load (store, &error));
  g_assert_no_error (error);
  g_assert_true (doctor_profile_store_put (store, profile, &error));
  g_assert_no_error (error);
  g_assert_true (doctor_profile_store_save (store, &error));
  g_assert_no_error (error);

  if (password != NULL)
    {
      g_assert_true (doctor_keyring_store_sync (profile->uuid, host, user, NULL, password, NULL,
                                                &error));
      g_assert_no_error (error);
    }

  return g_strdup (profile->uuid);
}

static char *
keyring_password (const char *uuid)
{
  g_autoptr(GError) error = NULL;
  char *password = doctor_keyring_lookup_sync (uuid, NULL, &error);

  g_assert_no_error (error);
  return password;
}

static gboolean
keyring_has_none (gpointer data)
{
  g_autoptr(DoctorKeyringSecret) password = keyring_password (data);

  return password == NULL;
}

static gboolean
window_idle (gpointer data)
{
  return !doctor_window_is_busy (DOCTOR_WINDOW (data));
}

static void
wait_idle (DoctorWindow *window)
{
  g_assert_true (doctor_test_wait_until (window_idle, window, 10000));
}

static DoctorWindow *
new_profile_window (Config *config)
{
  g_autoptr(DoctorProfileStore) store = doctor_profile_store_new (config->path);
  DoctorWindow *window = g_object_ref_sink (doctor_window_new_with_store (NULL, store));

  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 760);
  gtk_window_present (GTK_WINDOW (window));
  /* The profiles are read after the window is shown. */
  wait_idle (window);
  return window;
}

/* The subtitle of the form's title: the open profile's name, or "" for none. */
static const char *
form_subtitle (DoctorWindow *window)
{
  const char *subtitle = adw_window_title_get_subtitle (child (window, "form_title"));

  return subtitle != NULL ? subtitle : "";
}

static char *
open_uuid (DoctorWindow *window)
{
  g_autoptr(GVariant) state = g_action_group_get_action_state (G_ACTION_GROUP (window),
                                                               "profile");

  return g_variant_dup_string (state, NULL);
}

static void
switch_profile (DoctorWindow *window,
                const char   *uuid)
{
  gtk_widget_activate_action (GTK_WIDGET (window), "win.profile", "s", uuid);
}

typedef struct
{
  DoctorWindow *window;
  const char   *text;
} EntryWait;

static gboolean
password_is (gpointer data)
{
  EntryWait *wait = data;

  return g_strcmp0 (get_entry (wait->window, "password_row"), wait->text) == 0;
}

static void
wait_password (DoctorWindow *window,
               const char   *password)
{
  EntryWait wait = { window, password };

  g_assert_true (doctor_test_wait_until (password_is, &wait, 10000));
}

/* The visible message dialog of @window, or NULL. */
static AdwMessageDialog *
find_dialog (DoctorWindow *window)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWindow) toplevel = g_list_model_get_item (toplevels, i);

      if (ADW_IS_MESSAGE_DIALOG (toplevel) &&
          gtk_window_get_transient_for (toplevel) == GTK_WINDOW (window) &&
          gtk_widget_get_visible (GTK_WIDGET (toplevel)))
        return ADW_MESSAGE_DIALOG (toplevel);
    }

  return NULL;
}

static gboolean
dialog_shown (gpointer data)
{
  return find_dialog (data) != NULL;
}

static AdwMessageDialog *
wait_dialog (DoctorWindow *window,
             const char   *heading)
{
  AdwMessageDialog *dialog;

  g_assert_true (doctor_test_wait_until (dialog_shown, window, 10000));
  dialog = find_dialog (window);
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, heading);
  /* Nothing in a dialog is markup: it shows names, file contents and keyring messages. */
  g_assert_false (adw_message_dialog_get_heading_use_markup (dialog));
  g_assert_false (adw_message_dialog_get_body_use_markup (dialog));
  return dialog;
}

static GtkWidget *
find_descendant (GtkWidget  *root,
                 GType       type,
                 const char *label)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type) &&
      (label == NULL ||
       (GTK_IS_BUTTON (root) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (root)), label) == 0) ||
       (GTK_IS_CHECK_BUTTON (root) &&
        g_strcmp0 (gtk_check_button_get_label (GTK_CHECK_BUTTON (root)), label) == 0)))
    return root;

  for (GtkWidget *widget = gtk_widget_get_first_child (root); widget != NULL;
       widget = gtk_widget_get_next_sibling (widget))
    {
      GtkWidget *found = find_descendant (widget, type, label);

      if (found != NULL)
        return found;
    }

  return NULL;
}

/* Clicks the dialog's button of @label, as a user does. */
static void
click_response (AdwMessageDialog *dialog,
                const char       *label)
{
  GtkWidget *button = find_descendant (GTK_WIDGET (dialog), GTK_TYPE_BUTTON, label);

  g_assert_nonnull (button);
  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
}

static GtkEditable *
dialog_entry (AdwMessageDialog *dialog)
{
  GtkWidget *entry = find_descendant (GTK_WIDGET (dialog), GTK_TYPE_ENTRY, NULL);

  g_assert_nonnull (entry);
  return GTK_EDITABLE (entry);
}

static void
append_labels (GtkWidget *root,
               GString   *text)
{
  if (GTK_IS_LABEL (root))
    {
      g_assert_false (gtk_label_get_use_markup (GTK_LABEL (root)));
      g_string_append (text, gtk_label_get_text (GTK_LABEL (root)));
      g_string_append_c (text, '\n');
    }

  for (GtkWidget *widget = gtk_widget_get_first_child (root); widget != NULL;
       widget = gtk_widget_get_next_sibling (widget))
    append_labels (widget, text);
}

/* What the extra child of @dialog says. */
static char *
dialog_text (AdwMessageDialog *dialog)
{
  GString *text = g_string_new (NULL);

  append_labels (adw_message_dialog_get_extra_child (dialog), text);
  return g_string_free (text, FALSE);
}

/* The port table and "Detect Settings" ------------------------------------------------------ */

static gboolean
scan_finished (gpointer data)
{
  return !doctor_window_is_scanning (DOCTOR_WINDOW (data));
}

static const char *
row_status (gpointer row)
{
  GtkWidget *icon = g_object_get_data (G_OBJECT (row), "status-icon");

  g_assert_nonnull (icon);
  return gtk_widget_get_tooltip_text (icon);
}

static void
on_test_cell_finished (DoctorPortScan       *scan,
                       guint                 index,
                       const DoctorPortCell *cell,
                       DoctorWindow         *window)
{
  GPtrArray *rows = doctor_window_get_port_rows (window);

  /* The row follows the cell as it ends, not only when the whole scan does. */
  g_assert_cmpuint (index, <, rows->len);
  g_assert_cmpstr (adw_action_row_get_subtitle (g_ptr_array_index (rows, index)), ==,
                   cell->summary);
  g_object_set_data (G_OBJECT (scan), "live", GUINT_TO_POINTER (1));
}

/* The rows of @window's table match its finished scan, and a port that refuses says so. */
static void
assert_port_table (DoctorWindow *window)
{
  DoctorPortScan *scan = doctor_window_get_port_scan (window);
  GPtrArray *rows = doctor_window_get_port_rows (window);
  GPtrArray *cells;
  g_autofree char *summary = NULL;
  g_autofree char *escaped = NULL;
  gboolean all_refused = TRUE;

  g_assert_nonnull (scan);
  g_assert_true (doctor_port_scan_is_finished (scan));
  cells = doctor_port_scan_get_cells (scan);
  g_assert_cmpuint (rows->len, ==, cells->len);
  g_assert_cmpuint (rows->len, >=, 4);

  for (guint i = 0; i < rows->len; i++)
    {
      AdwActionRow *row = g_ptr_array_index (rows, i);
      const DoctorPortCell *cell = g_ptr_array_index (cells, i);
      g_autofree char *port = g_strdup_printf ("Port %u ", cell->port);

      g_assert_true (gtk_widget_get_ancestor (GTK_WIDGET (row), ADW_TYPE_PREFERENCES_GROUP) ==
                     child (window, "ports_group"));
      g_assert_false (adw_preferences_row_get_use_markup (ADW_PREFERENCES_ROW (row)));
      g_assert_true (g_str_has_prefix (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)),
                                       port));
      g_assert_cmpstr (adw_action_row_get_subtitle (row), ==, cell->summary);
      g_assert_nonnull (cell->result);
      if (g_str_equal (cell->result, "refused"))
        g_assert_cmpstr (row_status (row), ==, "Refused");
      else
        all_refused = FALSE;
    }

  summary = doctor_port_scan_get_diagnosis_summary (scan);
  if (!all_refused)
    {
      g_test_message ("something listens on a mail port of 127.0.0.1: conclusion not checked");
      return;
    }
  g_assert_cmpstr (doctor_port_scan_get_diagnosis (scan), ==, "smtp-ports-closed");
  g_assert_nonnull (summary);
  escaped = g_markup_escape_text (summary, -1);
  g_assert_cmpstr (adw_preferences_group_get_description (child (window, "ports_group")), ==,
                   escaped);
}

static void
test_ports_on_demand (void)
{
  DoctorWindow *window = new_window ();
  DoctorPortScan *first;

  set_entry (window, "host_row", "127.0.0.1");
  set_entry (window, "timeout_row", "2");

  gtk_widget_activate_action (GTK_WIDGET (window), "win.scan-ports", NULL);
  g_assert_true (doctor_window_is_scanning (window));
  first = doctor_window_get_port_scan (window);
  g_assert_nonnull (first);
  g_signal_connect_object (first, "cell-finished", G_CALLBACK (on_test_cell_finished), window,
                           G_CONNECT_AFTER);
  /* Every row is there from the start, still checking. */
  g_assert_cmpuint (doctor_window_get_port_rows (window)->len, ==,
                    doctor_port_scan_get_cells (first)->len);
  g_assert_cmpstr (row_status (g_ptr_array_index (doctor_window_get_port_rows (window), 0)), ==,
                   "Checking…");
  g_assert_true (doctor_test_wait_until (scan_finished, window, 10000));
  g_assert_nonnull (g_object_get_data (G_OBJECT (first), "live"));
  assert_port_table (window);

  /* A second run replaces the table. */
  g_object_ref (first);
  doctor_window_scan_ports (window);
  g_assert_true (doctor_window_get_port_scan (window) != first);
  g_assert_cmpuint (doctor_window_get_port_rows (window)->len, ==,
                    doctor_port_scan_get_cells (first)->len);
  g_object_unref (first);
  g_assert_true (doctor_test_wait_until (scan_finished, window, 10000));
  assert_port_table (window);

  destroy_window (window);
}

static void
test_ports_automatic (void)
{
  DoctorWindow *window = new_window ();
  DoctorCheck *connect;

  g_assert_true (doctor_window_set_target_text (window, "127.0.0.1:1", NULL));
  set_entry (window, "timeout_row", "2");
  run_and_wait (window, 10000);

  connect = doctor_check_row_get_check (find_row (window, "connect"));
  g_assert_cmpint (doctor_check_get_status (connect), ==, DOCTOR_CHECK_FAIL);
  g_assert_cmpstr (doctor_check_get_reason (connect), ==, "connection-refused");

  /* The scan started by itself, and its table comes before the checklist. */
  g_assert_nonnull (doctor_window_get_port_scan (window));
  g_assert_true (gtk_widget_get_next_sibling (child (window, "ports_group")) ==
                 child (window, "checklist_group"));
  g_assert_true (doctor_test_wait_until (scan_finished, window, 10000));
  assert_port_table (window);

  /* A new run clears it. */
  run_and_wait (window, 10000);
  g_assert_true (doctor_test_wait_until (scan_finished, window, 10000));
  assert_port_table (window);

  destroy_window (window);
}

static gboolean
detect_finished (gpointer data)
{
  return !doctor_window_is_detecting (DOCTOR_WINDOW (data));
}

/* Asks for the settings of @address, and returns the dialog with what was found. */
static AdwMessageDialog *
detect (DoctorWindow *window,
        const char   *address)
{
  AdwMessageDialog *dialog;
  gint64 start;

  gtk_widget_activate_action (GTK_WIDGET (window), "win.detect-settings", NULL);
  dialog = wait_dialog (window, "Detect Settings");
  gtk_editable_set_text (dialog_entry (dialog), address);
  start = g_get_monotonic_time ();
  click_response (dialog, "_Detect");

  g_assert_true (doctor_window_is_detecting (window));
  dialog = wait_dialog (window, "Detecting Settings…");
  g_assert_nonnull (find_descendant (adw_message_dialog_get_extra_child (dialog),
                                     GTK_TYPE_SPINNER, NULL));
  g_assert_true (doctor_test_wait_until (detect_finished, window, 15000));
  /* Two timeouts at most, and some slack. */
  g_assert_cmpint ((g_get_monotonic_time () - start) / 1000, <, 8000);

  g_assert_true (find_dialog (window) == dialog);
  g_assert_false (adw_message_dialog_get_heading_use_markup (dialog));
  g_assert_false (adw_message_dialog_get_body_use_markup (dialog));
  return dialog;
}

static void
test_detect_not_found (void)
{
  DoctorWindow *window = new_window ();
  AdwMessageDialog *dialog;

  set_entry (window, "timeout_row", "1");
  dialog = detect (window, "someone@example.invalid");
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, "No Settings Found");
  g_assert_cmpstr (adw_message_dialog_get_body (dialog), !=, "");
  g_assert_false (adw_message_dialog_get_response_enabled (dialog, "use"));
  click_response (dialog, "_Close");
  g_assert_null (find_dialog (window));
  g_assert_cmpstr (get_entry (window, "host_row"), ==, "");

  destroy_window (window);
}

static void
test_detect_preset (void)
{
  DoctorWindow *window = new_window ();
  AdwMessageDialog *dialog;
  g_autofree char *text = NULL;
  GtkWidget *row;

  set_entry (window, "timeout_row", "1");
  dialog = detect (window, "someone@gmail.com");
  g_test_message ("%s", adw_message_dialog_get_body (dialog));
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, "Settings Not Verified");
  text = dialog_text (dialog);
  g_test_message ("%s", text);
  /* The preset's candidates, from the preset, with their failed probes; and the notes. */
  g_assert_nonnull (strstr (text, "smtp.gmail.com:465"));
  g_assert_nonnull (strstr (text, "smtp.gmail.com:587"));
  g_assert_nonnull (strstr (text, "Built-in preset"));
  row = find_descendant (adw_message_dialog_get_extra_child (dialog), ADW_TYPE_ACTION_ROW, NULL);
  g_assert_nonnull (row);
  g_assert_cmpstr (row_status (row), !=, "Works");
  g_assert_cmpuint (doctor_discovery_get_notes (doctor_window_get_discovery (window))->len, >, 0);
  g_assert_nonnull (strstr (text, g_ptr_array_index (doctor_discovery_get_notes (
                                     doctor_window_get_discovery (window)), 0)));

  click_response (dialog, "_Use These Settings");
  g_assert_null (find_dialog (window));
  g_assert_cmpstr (get_entry (window, "host_row"), ==, "smtp.gmail.com");
  g_assert_cmpstr (get_entry (window, "port_row"), ==, "465");
  g_assert_cmpuint (adw_combo_row_get_selected (child (window, "security_row")), ==, 1);
  g_assert_cmpstr (get_entry (window, "user_row"), ==, "someone@gmail.com");

  destroy_window (window);
}

static void
save_as (DoctorWindow *window,
         const char   *name)
{
  AdwMessageDialog *dialog;

  gtk_widget_activate_action (GTK_WIDGET (window), "win.profile-save-as", NULL);
  dialog = wait_dialog (window, "Save Profile");
  gtk_editable_set_text (dialog_entry (dialog), name);
  click_response (dialog, "_Save");
  g_assert_null (find_dialog (window));
}

static void
test_profile_save (void)
{
  Config config;
  DoctorWindow *window;
  AdwMessageDialog *dialog;
  g_autoptr(GSettings) settings = app_settings ();
  g_autoptr(DoctorKeyringSecret) stored = NULL;
  g_autofree char *uuid = NULL;
  g_autofree char *text = NULL;
  g_autofree char *last = NULL;

  config_setup (&config);
  window = new_profile_window (&config);
  g_assert_null (doctor_window_get_profile (window));
  g_assert_cmpstr (form_subtitle (window), ==, "");

  set_entry (window, "host_row", "smtp.example.com");
  set_entry (window, "user_row", "me");
  set_entry (window, "password_row", PASSWORD);
  gtk_switch_set_active (child (window, "remember_switch"), TRUE);

  /* With no profile open, Save asks for a name; one that is taken cannot be chosen. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.profile-save", NULL);
  dialog = wait_dialog (window, "Save Profile");
  gtk_editable_set_text (dialog_entry (dialog), "  ");
  g_assert_false (adw_message_dialog_get_response_enabled (dialog, "ok"));
  gtk_editable_set_text (dialog_entry (dialog), "Work");
  click_response (dialog, "_Save");
  g_assert_null (find_dialog (window));

  g_assert_nonnull (doctor_window_get_profile (window));
  g_assert_cmpstr (doctor_window_get_profile (window)->name, ==, "Work");
  uuid = g_strdup (doctor_window_get_profile (window)->uuid);
  g_assert_cmpstr (form_subtitle (window), ==, "Work");
  last = g_settings_get_string (settings, "last-profile");
  g_assert_cmpstr (last, ==, uuid);

  /* The file has the profile and not the password; the keyring has the password. */
  text = read_profiles_file (&config);
  g_assert_nonnull (strstr (text, "\"Work\""));
  g_assert_nonnull (strstr (text, "smtp.example.com"));
  g_assert_nonnull (strstr (text, uuid));
  g_assert_null (strstr (text, PASSWORD));
  g_clear_pointer (&text, g_free);
  wait_idle (window);
  stored = keyring_password (uuid);
  g_assert_cmpstr (stored, ==, PASSWORD);

  /* An edit shows in the subtitle; Save then saves in place, without asking. */
  set_entry (window, "from_row", "me@example.com");
  g_assert_cmpstr (form_subtitle (window), ==, "Work (edited)");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.profile-save", NULL);
  g_assert_null (find_dialog (window));
  g_assert_cmpstr (form_subtitle (window), ==, "Work");
  text = read_profiles_file (&config);
  g_assert_nonnull (strstr (text, "me@example.com"));
  g_assert_null (strstr (text, PASSWORD));
  g_clear_pointer (&text, g_free);

  /* Save As makes a second profile and opens it; its name may not be one that is taken. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.profile-save-as", NULL);
  dialog = wait_dialog (window, "Save Profile");
  g_assert_cmpstr (gtk_editable_get_text (dialog_entry (dialog)), ==, "Work (2)");
  gtk_editable_set_text (dialog_entry (dialog), "Work");
  g_assert_false (adw_message_dialog_get_response_enabled (dialog, "ok"));
  gtk_editable_set_text (dialog_entry (dialog), "Home");
  click_response (dialog, "_Save");
  g_assert_cmpstr (form_subtitle (window), ==, "Home");
  g_assert_cmpstr (doctor_window_get_profile (window)->uuid, !=, uuid);
  g_assert_cmpuint (g_menu_model_get_n_items (child (window, "profiles_section")), ==, 2);

  /* Back to Work, and "Remember Password" turned off there: the keyring item goes. */
  switch_profile (window, uuid);
  g_assert_cmpstr (form_subtitle (window), ==, "Work");
  wait_password (window, PASSWORD);
  gtk_switch_set_active (child (window, "remember_switch"), FALSE);
  g_assert_cmpstr (form_subtitle (window), ==, "Work (edited)");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.profile-save", NULL);
  wait_idle (window);
  g_assert_true (keyring_has_none (uuid));
  /* The password stays in the form for this session. */
  g_assert_cmpstr (get_entry (window, "password_row"), ==, PASSWORD);

  destroy_window (window);
  config_teardown (&config);
}

static void
test_profile_switch (void)
{
  Config config;
  DoctorWindow *window;
  GMenuModel *section;
  g_autofree char *alpha = NULL;
  g_autofree char *beta = NULL;
  g_autofree char *state = NULL;
  g_autofree char *label = NULL;
  g_autoptr(GSettings) settings = app_settings ();

  config_setup (&config);
  alpha = seed_profile (&config, "Alpha", "smtp.alpha.example", "alice", "pw-alpha");
  beta = seed_profile (&config, "Beta_2", "smtp.beta.example", "bob", "pw-beta");
  window = new_profile_window (&config);

  /* Both are in the menu, by name; an underscore is shown, not taken for a mnemonic. */
  section = child (window, "profiles_section");
  g_assert_cmpuint (g_menu_model_get_n_items (section), ==, 2);
  g_menu_model_get_item_attribute (section, 1, G_MENU_ATTRIBUTE_LABEL, "s", &label);
  g_assert_cmpstr (label, ==, "Beta__2");

  switch_profile (window, alpha);
  g_assert_cmpstr (get_entry (window, "host_row"), ==, "smtp.alpha.example");
  g_assert_cmpstr (get_entry (window, "user_row"), ==, "alice");
  g_assert_cmpstr (form_subtitle (window), ==, "Alpha");
  state = open_uuid (window);
  g_assert_cmpstr (state, ==, alpha);
  g_clear_pointer (&state, g_free);
  /* The password comes from the keyring, and is not an unsaved change. */
  wait_password (window, "pw-alpha");
  g_assert_cmpstr (form_subtitle (window), ==, "Alpha");

  switch_profile (window, beta);
  g_assert_cmpstr (get_entry (window, "host_row"), ==, "smtp.beta.example");
  g_assert_cmpstr (get_entry (window, "user_row"), ==, "bob");
  wait_password (window, "pw-beta");
  g_assert_cmpstr (form_subtitle (window), ==, "Beta_2");

  switch_profile (window, alpha);
  wait_password (window, "pw-alpha");
  g_assert_cmpstr (get_entry (window, "host_row"), ==, "smtp.alpha.example");
  destroy_window (window);

  /* The last profile opens again at the next start, with its password. */
  state = g_settings_get_string (settings, "last-profile");
  g_assert_cmpstr (state, ==, alpha);
  window = new_profile_window (&config);
  g_assert_nonnull (doctor_window_get_profile (window));
  g_assert_cmpstr (doctor_window_get_profile (window)->uuid, ==, alpha);
  g_assert_cmpstr (get_entry (window, "host_row"), ==, "smtp.alpha.example");
  wait_password (window, "pw-alpha");
  destroy_window (window);

  config_teardown (&config);
}

static void
test_profile_unsaved (void)
{
  Config config;
  DoctorWindow *window;
  AdwMessageDialog *dialog;
  g_autofree char *alpha = NULL;
  g_autofree char *beta = NULL;
  g_autofree char *state = NULL;
  g_autofree char *text = NULL;

  config_setup (&config);
  alpha = seed_profile (&config, "Alpha", "smtp.alpha.example", "alice", NULL);
  beta = seed_profile (&config, "Beta", "smtp.beta.example", "bob", NULL);
  window = new_profile_window (&config);

  /* Unchanged: switching does not ask. */
  switch_profile (window, alpha);
  g_assert_null (find_dialog (window));
  set_entry (window, "host_row", "smtp.changed.example");
  g_assert_cmpstr (form_subtitle (window), ==, "Alpha (edited)");

  /* Cancel keeps the edit and the profile. */
  switch_profile (window, beta);
  dialog = wait_dialog (window, "Save Changes to “Alpha”?");
  click_response (dialog, "_Cancel");
  g_assert_null (find_dialog (window));
  g_assert_cmpstr (doctor_window_get_profile (window)->uuid, ==, alpha);
  g_assert_cmpstr (get_entry (window, "host_row"), ==, "smtp.changed.example");
  state = open_uuid (window);
  g_assert_cmpstr (state, ==, alpha);

  /* Discard switches, and the edit is lost. */
  switch_profile (window, beta);
  dialog = wait_dialog (window, "Save Changes to “Alpha”?");
  click_response (dialog, "_Discard");
  g_assert_cmpstr (doctor_window_get_profile (window)->uuid, ==, beta);
  g_assert_cmpstr (get_entry (window, "host_row"), ==, "smtp.beta.example");
  text = read_profiles_file (&config);
  g_assert_null (strstr (text, "smtp.changed.example"));
  g_clear_pointer (&text, g_free);

  /* Save saves, then switches. */
  set_entry (window, "host_row", "smtp.beta2.example");
  switch_profile (window, alpha);
  dialog = wait_dialog (window, "Save Changes to “Beta”?");
  click_response (dialog, "_Save");
  g_assert_cmpstr (doctor_window_get_profile (window)->uuid, ==, alpha);
  g_assert_cmpstr (get_entry (window, "host_row"), ==, "smtp.alpha.example");
  text = read_profiles_file (&config);
  g_assert_nonnull (strstr (text, "smtp.beta2.example"));

  destroy_window (window);
  config_teardown (&config);
}

static gboolean
window_is_open (gpointer data)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWindow) toplevel = g_list_model_get_item (toplevels, i);

      if (toplevel == data)
        return TRUE;
    }

  return FALSE;
}

static gboolean
window_closed (gpointer data)
{
  return !window_is_open (data);
}

/* Closing the window with unsaved changes to the open profile asks: Cancel keeps it open,
 * Save saves and closes, Discard closes and writes nothing; without changes, or with settings
 * that are in no profile, it closes at once.
 */
static void
test_profile_close_unsaved (void)
{
  Config config;
  DoctorWindow *window;
  AdwMessageDialog *dialog;
  g_autoptr(GSettings) settings = app_settings ();
  g_autofree char *alpha = NULL;
  g_autofree char *text = NULL;

  config_setup (&config);
  alpha = seed_profile (&config, "Alpha", "smtp.alpha.example", "alice", NULL);
  window = new_profile_window (&config);
  switch_profile (window, alpha);
  set_entry (window, "host_row", "smtp.closing.example");

  gtk_window_close (GTK_WINDOW (window));
  dialog = wait_dialog (window, "Save Changes to “Alpha”?");
  click_response (dialog, "_Cancel");
  doctor_test_sleep (100);
  g_assert_true (window_is_open (window));
  g_assert_cmpstr (get_entry (window, "host_row"), ==, "smtp.closing.example");

  gtk_window_close (GTK_WINDOW (window));
  dialog = wait_dialog (window, "Save Changes to “Alpha”?");
  click_response (dialog, "_Save");
  g_assert_true (doctor_test_wait_until (window_closed, window, 10000));
  g_object_unref (window);
  text = read_profiles_file (&config);
  g_assert_nonnull (strstr (text, "smtp.closing.example"));
  g_clear_pointer (&text, g_free);

  window = new_profile_window (&config);
  switch_profile (window, alpha);
  set_entry (window, "host_row", "smtp.discarded.example");
  gtk_window_close (GTK_WINDOW (window));
  dialog = wait_dialog (window, "Save Changes to “Alpha”?");
  click_response (dialog, "_Discard");
  g_assert_true (doctor_test_wait_until (window_closed, window, 10000));
  g_object_unref (window);
  text = read_profiles_file (&config);
  g_assert_null (strstr (text, "smtp.discarded.example"));
  g_assert_nonnull (strstr (text, "smtp.closing.example"));

  /* Unchanged: no question. */
  window = new_profile_window (&config);
  switch_profile (window, alpha);
  gtk_window_close (GTK_WINDOW (window));
  g_assert_false (window_is_open (window));
  g_object_unref (window);

  /* Settings in no profile: no question either. */
  g_settings_reset (settings, "last-profile");
  window = new_profile_window (&config);
  g_assert_null (doctor_window_get_profile (window));
  set_entry (window, "host_row", "smtp.typed.example");
  gtk_window_close (GTK_WINDOW (window));
  g_assert_false (window_is_open (window));
  g_object_unref (window);

  config_teardown (&config);
}

/* Quitting the application (Ctrl+Q) goes through the same question, and the application does
 * not end under it: it ends with its last window, once the user has chosen. */
typedef struct
{
  GtkApplication *app;
  char           *uuid;
  gboolean        asked;
  gboolean        answered;
} QuitTest;

static gboolean
quit_answer_cb (gpointer data)
{
  QuitTest *test = data;
  GtkWindow *window = gtk_application_get_active_window (test->app);
  AdwMessageDialog *dialog;

  /* Reached only if the application is still running after app.quit. */
  g_assert_nonnull (window);
  dialog = find_dialog (DOCTOR_WINDOW (window));
  g_assert_nonnull (dialog);
  click_response (dialog, "_Discard");
  test->answered = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
quit_ask_cb (gpointer data)
{
  QuitTest *test = data;
  GtkWindow *window = gtk_application_get_active_window (test->app);
  DoctorProfileStore *store;
  g_autoptr(DoctorProfile) profile = doctor_profile_new ("Quitting");
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (window);
  wait_idle (DOCTOR_WINDOW (window));
  store = doctor_window_get_profile_store (DOCTOR_WINDOW (window));
  profile->host = g_strdup ("smtp.quit.example");
  g_assert_true (doctor_profile_store_put (store, profile, &error));
  g_assert_true (doctor_profile_store_save (store, &error));
  g_assert_no_error (error);
  test->uuid = g_strdup (profile->uuid);
  switch_profile (DOCTOR_WINDOW (window), profile->uuid);
  set_entry (DOCTOR_WINDOW (window), "host_row", "smtp.unsaved.example");

  g_action_group_activate_action (G_ACTION_GROUP (test->app), "quit", NULL);
  wait_dialog (DOCTOR_WINDOW (window), "Save Changes to “Quitting”?");
  test->asked = TRUE;
  g_timeout_add (300, quit_answer_cb, test);
  return G_SOURCE_REMOVE;
}

static void
test_quit_unsaved (void)
{
  g_autoptr(GSettings) settings = app_settings ();
  g_autoptr(DoctorApplication) app = doctor_application_new ();
  g_autofree char *path = g_build_filename (g_get_user_config_dir (), "smtp-doctor",
                                            "profiles.json", NULL);
  g_autofree char *text = NULL;
  char *argv[] = { (char *) "smtp-doctor", NULL };
  QuitTest test = { GTK_APPLICATION (app), NULL, FALSE, FALSE };

  g_settings_reset (settings, "last-profile");
  g_application_set_flags (G_APPLICATION (app),
                           G_APPLICATION_HANDLES_COMMAND_LINE | G_APPLICATION_NON_UNIQUE);
  g_idle_add (quit_ask_cb, &test);
  g_assert_cmpint (g_application_run (G_APPLICATION (app), 1, argv), ==, 0);

  g_assert_true (test.asked);
  g_assert_true (test.answered);
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_null (strstr (text, "smtp.unsaved.example"));

  g_settings_reset (settings, "last-profile");
  g_unlink (path);
  g_free (test.uuid);
}

static void
test_profile_rename_duplicate (void)
{
  Config config;
  DoctorWindow *window;
  AdwMessageDialog *dialog;
  g_autofree char *alpha = NULL;
  g_autofree char *text = NULL;
  g_autoptr(DoctorKeyringSecret) copied = NULL;
  const DoctorProfile *copy;

  config_setup (&config);
  alpha = seed_profile (&config, "Alpha", "smtp.alpha.example", "alice", "pw-alpha");
  window = new_profile_window (&config);
  switch_profile (window, alpha);
  wait_password (window, "pw-alpha");

  gtk_widget_activate_action (GTK_WIDGET (window), "win.profile-rename", NULL);
  dialog = wait_dialog (window, "Rename Profile");
  g_assert_cmpstr (gtk_editable_get_text (dialog_entry (dialog)), ==, "Alpha");
  gtk_editable_set_text (dialog_entry (dialog), "Relay");
  click_response (dialog, "_Rename");
  g_assert_cmpstr (form_subtitle (window), ==, "Relay");
  g_assert_cmpstr (doctor_window_get_profile (window)->uuid, ==, alpha);
  text = read_profiles_file (&config);
  g_assert_nonnull (strstr (text, "\"Relay\""));
  g_assert_null (strstr (text, "\"Alpha\""));

  /* The copy opens, under a name of its own, with the password in the keyring for it too. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.profile-duplicate", NULL);
  copy = doctor_window_get_profile (window);
  g_assert_nonnull (copy);
  g_assert_cmpstr (copy->name, ==, "Relay (Copy)");
  g_assert_cmpstr (copy->uuid, !=, alpha);
  g_assert_cmpstr (get_entry (window, "host_row"), ==, "smtp.alpha.example");
  g_assert_cmpstr (get_entry (window, "password_row"), ==, "pw-alpha");
  wait_idle (window);
  copied = keyring_password (copy->uuid);
  g_assert_cmpstr (copied, ==, "pw-alpha");
  g_assert_cmpuint (g_menu_model_get_n_items (child (window, "profiles_section")), ==, 2);

  destroy_window (window);
  config_teardown (&config);
}

static void
test_profile_delete_undo (void)
{
  Config config;
  DoctorWindow *window;
  g_autofree char *alpha = NULL;
  g_autofree char *text = NULL;
  g_autofree char *state = NULL;
  g_autoptr(DoctorKeyringSecret) kept = NULL;

  config_setup (&config);
  alpha = seed_profile (&config, "Alpha", "smtp.alpha.example", "alice", "pw-alpha");
  window = new_profile_window (&config);
  switch_profile (window, alpha);
  wait_password (window, "pw-alpha");

  /* Deleted from the file at once; the keyring item waits for the undo toast. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.profile-delete", NULL);
  g_assert_null (doctor_window_get_profile (window));
  g_assert_cmpstr (form_subtitle (window), ==, "");
  text = read_profiles_file (&config);
  g_assert_null (strstr (text, "Alpha"));
  g_clear_pointer (&text, g_free);
  g_assert_cmpuint (g_menu_model_get_n_items (child (window, "profiles_section")), ==, 0);
  wait_idle (window);
  kept = keyring_password (alpha);
  g_assert_cmpstr (kept, ==, "pw-alpha");

  /* Undo brings it back, and opens it again. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.profile-undo-delete", "s", alpha);
  text = read_profiles_file (&config);
  g_assert_nonnull (strstr (text, "Alpha"));
  g_clear_pointer (&text, g_free);
  g_assert_nonnull (doctor_window_get_profile (window));
  g_assert_cmpstr (form_subtitle (window), ==, "Alpha");
  state = open_uuid (window);
  g_assert_cmpstr (state, ==, alpha);
  g_assert_cmpuint (g_menu_model_get_n_items (child (window, "profiles_section")), ==, 1);

  /* Deleted again, and the window closes before the toast is gone: the keyring item goes. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.profile-delete", NULL);
  destroy_window (window);
  g_assert_true (doctor_test_wait_until (keyring_has_none, alpha, 10000));

  config_teardown (&config);
}

static void
test_profile_damaged (void)
{
  static const char damaged[] = "{\"version\": 1, \"profiles\": [{\"uuid\": ";
  Config config;
  DoctorWindow *window;
  AdwMessageDialog *dialog;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = NULL;
  g_autofree char *profiles_dir = NULL;
  g_autofree char *kept = NULL;
  const char *name;
  const char *body;

  config_setup (&config);
  profiles_dir = g_path_get_dirname (config.path);
  g_assert_cmpint (g_mkdir_with_parents (profiles_dir, 0700), ==, 0);
  g_file_set_contents (config.path, damaged, -1, &error);
  g_assert_no_error (error);

  window = new_profile_window (&config);
  dialog = wait_dialog (window, "Saved Profiles Could Not Be Read");
  body = adw_message_dialog_get_body (dialog);
  g_assert_nonnull (strstr (body, "profiles.json.corrupt-"));
  click_response (dialog, "_Close");

  /* Nothing is lost: the bytes are kept beside, and the next save writes a new file. */
  dir = g_dir_open (profiles_dir, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      if (g_str_has_prefix (name, "profiles.json.corrupt-"))
        {
          g_autofree char *path = g_build_filename (profiles_dir, name, NULL);

          g_file_get_contents (path, &kept, NULL, &error);
          g_assert_no_error (error);
        }
    }
  g_assert_cmpstr (kept, ==, damaged);

  set_entry (window, "host_row", "smtp.example.com");
  save_as (window, "Fresh");
  g_assert_cmpstr (form_subtitle (window), ==, "Fresh");

  destroy_window (window);
  config_teardown (&config);
}

/* Root (or a process with CAP_DAC_OVERRIDE, as in many containers) ignores permissions. With
 * @on FALSE these capabilities leave the main thread's effective set (they stay permitted, so
 * TRUE puts them back), and permissions bind the window's file operations as they bind any
 * user; for a process without them this changes nothing.
 */
static void
set_permission_override (gboolean on)
{
  static const int caps[] = { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH };
  struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { { 0 } };

  g_assert_cmpint (syscall (SYS_capget, &header, data), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (caps); i++)
    {
      guint32 bit = 1u << (caps[i] % 32);
      struct __user_cap_data_struct *word = &data[caps[i] / 32];

      if (on)
        word->effective |= word->permitted & bit;
      else
        word->effective &= ~bit;
    }
  g_assert_cmpint (syscall (SYS_capset, &header, data), ==, 0);
}

/* A profiles file that cannot be read is reported at start, and never replaced by the empty
 * list the window is left with: a save says why it cannot be made.
 */
static void
test_profile_unreadable (void)
{
  Config config;
  DoctorWindow *window;
  AdwMessageDialog *dialog;
  g_autofree char *alpha = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  const char *body;

  config_setup (&config);
  alpha = seed_profile (&config, "Alpha", "smtp.alpha.example", "alice", NULL);
  before = read_profiles_file (&config);
  g_assert_cmpint (g_chmod (config.path, 0), ==, 0);
  set_permission_override (FALSE);
  /* The fault is real, or the test fails. */
  g_assert_cmpint (g_open (config.path, O_RDONLY, 0), ==, -1);
  g_assert_cmpint (errno, ==, EACCES);

  window = new_profile_window (&config);
  dialog = wait_dialog (window, "Saved Profiles Could Not Be Read");
  body = adw_message_dialog_get_body (dialog);
  g_assert_nonnull (strstr (body, config.path));
  g_assert_nonnull (strstr (body, g_strerror (EACCES)));
  click_response (dialog, "_Close");
  g_assert_cmpuint (g_menu_model_get_n_items (child (window, "profiles_section")), ==, 0);

  set_entry (window, "host_row", "smtp.new.example");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.profile-save-as", NULL);
  dialog = wait_dialog (window, "Save Profile");
  gtk_editable_set_text (dialog_entry (dialog), "Fresh");
  click_response (dialog, "_Save");
  dialog = wait_dialog (window, "Profile Not Saved");
  body = adw_message_dialog_get_body (dialog);
  g_assert_true (g_str_has_prefix (body, "Could not"));
  g_assert_nonnull (strstr (body, config.path));
  click_response (dialog, "_Close");
  g_assert_null (doctor_window_get_profile (window));
  /* Not in the menu either: it exists nowhere but in the form. */
  g_assert_cmpuint (g_menu_model_get_n_items (child (window, "profiles_section")), ==, 0);

  set_permission_override (TRUE);
  g_assert_cmpint (g_chmod (config.path, 0600), ==, 0);
  after = read_profiles_file (&config);
  g_assert_cmpstr (after, ==, before);

  destroy_window (window);
  config_teardown (&config);
}

/* A save that fails (here a folder that cannot be written) is a dialog that names the file,
 * the form keeps the changes, and nothing of the failed save is written later behind the
 * user's back: not after they discarded it, when another profile is saved.
 */
static void
test_profile_save_fails (void)
{
  Config config;
  DoctorWindow *window;
  AdwMessageDialog *dialog;
  g_autofree char *alpha = NULL;
  g_autofree char *beta = NULL;
  g_autofree char *profiles_dir = NULL;
  g_autofree char *probe = NULL;
  g_autofree char *before = NULL;
  g_autofree char *text = NULL;
  const char *body;

  config_setup (&config);
  alpha = seed_profile (&config, "Alpha", "smtp.alpha.example", "alice", NULL);
  beta = seed_profile (&config, "Beta", "smtp.beta.example", "bob", NULL);
  before = read_profiles_file (&config);
  window = new_profile_window (&config);
  switch_profile (window, alpha);

  profiles_dir = g_path_get_dirname (config.path);
  g_assert_cmpint (g_chmod (profiles_dir, 0500), ==, 0);
  set_permission_override (FALSE);
  probe = g_build_filename (profiles_dir, "probe", NULL);
  g_assert_cmpint (g_open (probe, O_WRONLY | O_CREAT, 0600), ==, -1);
  g_assert_cmpint (errno, ==, EACCES);

  set_entry (window, "host_row", "smtp.unsaved.example");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.profile-save", NULL);
  dialog = wait_dialog (window, "Profile Not Saved");
  body = adw_message_dialog_get_body (dialog);
  g_assert_true (g_str_has_prefix (body, "Could not save the profiles in "));
  g_assert_nonnull (strstr (body, config.path));
  g_assert_nonnull (strstr (body, g_strerror (EACCES)));
  click_response (dialog, "_Close");
  g_assert_cmpstr (form_subtitle (window), ==, "Alpha (edited)");
  g_assert_cmpstr (get_entry (window, "host_row"), ==, "smtp.unsaved.example");

  /* Rename fails the same way, and the name stays. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.profile-rename", NULL);
  dialog = wait_dialog (window, "Rename Profile");
  gtk_editable_set_text (dialog_entry (dialog), "Relay");
  click_response (dialog, "_Rename");
  dialog = wait_dialog (window, "Profile Not Renamed");
  click_response (dialog, "_Close");
  g_assert_cmpstr (doctor_window_get_profile (window)->name, ==, "Alpha");

  set_permission_override (TRUE);
  g_assert_cmpint (g_chmod (profiles_dir, 0700), ==, 0);
  text = read_profiles_file (&config);
  g_assert_cmpstr (text, ==, before);
  g_clear_pointer (&text, g_free);

  /* The user gives the edit up, then saves another profile: the file gets that one only. */
  switch_profile (window, beta);
  dialog = wait_dialog (window, "Save Changes to “Alpha”?");
  click_response (dialog, "_Discard");
  set_entry (window, "host_row", "smtp.beta2.example");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.profile-save", NULL);
  g_assert_null (find_dialog (window));
  text = read_profiles_file (&config);
  g_assert_nonnull (strstr (text, "smtp.beta2.example"));
  g_assert_nonnull (strstr (text, "smtp.alpha.example"));
  g_assert_null (strstr (text, "smtp.unsaved.example"));
  g_assert_null (strstr (text, "Relay"));

  destroy_window (window);
  config_teardown (&config);
}

/* No usable keyring: the settings are saved, the password is not, and the user is told. */
static void
test_profile_no_keyring (void)
{
  Config config;
  DoctorWindow *window;
  AdwMessageDialog *dialog;
  g_autofree char *text = NULL;

  config_setup (&config);
  /* The core reads SECRET_BACKEND at every call, and refuses one that libsecret does not have
   * without asking libsecret: a keyring that cannot be used, within this process. */
  g_setenv ("SECRET_BACKEND", "no-such-backend", TRUE);
  window = new_profile_window (&config);

  set_entry (window, "host_row", "smtp.example.com");
  set_entry (window, "user_row", "me");
  set_entry (window, "password_row", PASSWORD);
  gtk_switch_set_active (child (window, "remember_switch"), TRUE);
  save_as (window, "Work");

  dialog = wait_dialog (window, "Password Not Saved");
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "session only"));
  click_response (dialog, "_Close");

  g_assert_cmpstr (get_entry (window, "password_row"), ==, PASSWORD);
  g_assert_cmpstr (form_subtitle (window), ==, "Work");
  text = read_profiles_file (&config);
  g_assert_nonnull (strstr (text, "\"Work\""));
  g_assert_null (strstr (text, PASSWORD));

  destroy_window (window);
  g_unsetenv ("SECRET_BACKEND");
  config_teardown (&config);
}

static GFile *
copy_env_file (Config     *config,
               const char *name,
               const char *folder)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *source = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "env", name, NULL);
  g_autofree char *dir = g_build_filename (config->dir, folder, NULL);
  g_autofree char *path = g_build_filename (dir, ".env", NULL);
  g_autofree char *text = NULL;
  gsize length;

  g_file_get_contents (source, &text, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_file_set_contents (path, text, length, &error);
  g_assert_no_error (error);

  return g_file_new_for_path (path);
}

/* Drops @files onto the window, through its drop target's own handler. */
static gboolean
drop_files (DoctorWindow  *window,
            GFile        **files,
            gsize          n_files)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (GTK_WIDGET (window));
  g_auto(GValue) value = G_VALUE_INIT;
  GtkDropTarget *target = NULL;
  gboolean accepted = FALSE;

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GObject) controller = g_list_model_get_item (controllers, i);

      if (GTK_IS_DROP_TARGET (controller))
        target = GTK_DROP_TARGET (controller);
    }
  g_assert_nonnull (target);

  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_take_boxed (&value, gdk_file_list_new_from_array (files, n_files));
  g_signal_emit_by_name (target, "drop", &value, 10.0, 10.0, &accepted);

  return accepted;
}

static void
test_env_import (void)
{
  Config config;
  DoctorWindow *window;
  AdwMessageDialog *dialog;
  GtkWidget *check;
  AdwComboRow *provider;
  GtkStringList *names;
  g_autoptr(GFile) file = NULL;
  g_autofree char *text = NULL;
  g_autofree char *alpha = NULL;

  config_setup (&config);
  alpha = seed_profile (&config, "Alpha", "smtp.alpha.example", "alice", NULL);
  file = copy_env_file (&config, "laravel.env", "shop");
  window = new_profile_window (&config);
  switch_profile (window, alpha);
  set_entry (window, "to_row", "rcpt@example.org");

  /* The recipient was an edit of Alpha: importing asks first. */
  doctor_window_open_env_file (window, file);
  dialog = wait_dialog (window, "Save Changes to “Alpha”?");
  click_response (dialog, "_Discard");

  /* What the drop and the file chooser both lead to: what was found and what was not. */
  dialog = wait_dialog (window, "Import Mail Settings?");
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "Laravel"));
  text = dialog_text (dialog);
  g_assert_nonnull (strstr (text, "Found"));
  g_assert_nonnull (strstr (text, "MAIL_HOST"));
  g_assert_nonnull (strstr (text, "smtp.mailgun.org"));
  g_assert_nonnull (strstr (text, "MAIL_PASSWORD"));
  g_assert_nonnull (strstr (text, "Ignored"));
  g_assert_nonnull (strstr (text, "MAIL_FROM_NAME"));
  g_assert_null (strstr (text, "open sesame"));
  check = find_descendant (GTK_WIDGET (dialog), GTK_TYPE_CHECK_BUTTON,
                           "Also _remember the password");
  g_assert_nonnull (check);
  g_assert_false (gtk_check_button_get_active (GTK_CHECK_BUTTON (check)));
  click_response (dialog, "_Fill the Form");
  g_assert_null (find_dialog (window));

  g_assert_cmpstr (get_entry (window, "host_row"), ==, "smtp.mailgun.org");
  g_assert_cmpstr (get_entry (window, "port_row"), ==, "587");
  g_assert_cmpuint (adw_combo_row_get_selected (child (window, "security_row")), ==, 0);
  g_assert_cmpstr (get_entry (window, "user_row"), ==, "postmaster@mg.example.com");
  g_assert_cmpstr (get_entry (window, "password_row"), ==, "9f3c1a7e-Lv#2 open sesame");
  g_assert_cmpstr (get_entry (window, "from_row"), ==, "hello@example.com");
  g_assert_cmpstr (get_entry (window, "to_row"), ==, "rcpt@example.org");
  g_assert_false (gtk_switch_get_active (child (window, "remember_switch")));
  /* The host is a preset's: the preset is chosen, for its help. */
  provider = child (window, "provider_row");
  names = GTK_STRING_LIST (adw_combo_row_get_model (provider));
  g_assert_nonnull (strstr (gtk_string_list_get_string (names,
                                                        adw_combo_row_get_selected (provider)),
                            "Mailgun"));

  /* The settings are in no profile now; saving offers the app's folder as the name. */
  g_assert_null (doctor_window_get_profile (window));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.profile-save", NULL);
  dialog = wait_dialog (window, "Save Profile");
  g_assert_cmpstr (gtk_editable_get_text (dialog_entry (dialog)), ==, "shop");
  click_response (dialog, "_Cancel");

  /* Dropped onto the window, over them: that asks too, and the password is remembered if the
   * user says so. */
  g_assert_true (drop_files (window, &file, 1));
  dialog = wait_dialog (window, "Save the Settings?");
  click_response (dialog, "_Discard");
  dialog = wait_dialog (window, "Import Mail Settings?");
  check = find_descendant (GTK_WIDGET (dialog), GTK_TYPE_CHECK_BUTTON,
                           "Also _remember the password");
  gtk_check_button_set_active (GTK_CHECK_BUTTON (check), TRUE);
  click_response (dialog, "_Fill the Form");
  g_assert_true (gtk_switch_get_active (child (window, "remember_switch")));

  destroy_window (window);
  config_teardown (&config);
}

static void
test_env_import_errors (void)
{
  Config config;
  DoctorWindow *window;
  AdwMessageDialog *dialog;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GFile) file = NULL;

  config_setup (&config);
  path = g_build_filename (config.dir, "no-mail.env", NULL);
  g_file_set_contents (path, "APP_NAME=<b>Shop</b>\nDB_HOST=127.0.0.1\n", -1, &error);
  g_assert_no_error (error);
  file = g_file_new_for_path (path);
  window = new_profile_window (&config);

  g_assert_true (drop_files (window, &file, 1));
  dialog = wait_dialog (window, "No Settings Imported");
  g_assert_cmpstr (adw_message_dialog_get_body (dialog), !=, "");
  click_response (dialog, "_Close");
  g_assert_cmpstr (get_entry (window, "host_row"), ==, "");

  /* Two files at once are refused: which one would it be? */
  {
    GFile *two[] = { file, file };

    g_assert_false (drop_files (window, two, 2));
    g_assert_null (find_dialog (window));
  }

  destroy_window (window);
  config_teardown (&config);
}

static void
test_copy_env (void)
{
  DoctorWindow *window = new_window ();
  g_autofree char *laravel = NULL;
  g_autofree char *django = NULL;

  set_entry (window, "host_row", "smtp.example.com");
  set_entry (window, "port_row", "2525");
  set_entry (window, "user_row", "me");
  set_entry (window, "password_row", PASSWORD);

  gtk_widget_activate_action (GTK_WIDGET (window), "win.copy-env", "s", "laravel");
  laravel = read_clipboard (GTK_WIDGET (window));
  g_assert_nonnull (strstr (laravel, "MAIL_HOST=smtp.example.com\n"));
  g_assert_nonnull (strstr (laravel, "MAIL_PORT=2525\n"));
  g_assert_nonnull (strstr (laravel, "MAIL_USERNAME=me\n"));
  g_assert_nonnull (strstr (laravel, DOCTOR_ENV_PASSWORD_PLACEHOLDER));
  g_assert_null (strstr (laravel, PASSWORD));

  gtk_widget_activate_action (GTK_WIDGET (window), "win.copy-env", "s", "django");
  django = read_clipboard (GTK_WIDGET (window));
  g_assert_nonnull (strstr (django, "EMAIL_HOST=smtp.example.com\n"));
  g_assert_null (strstr (django, PASSWORD));

  destroy_window (window);
}

static gboolean
is_mapped (gpointer data)
{
  return gtk_widget_get_mapped (GTK_WIDGET (data));
}

static void
test_render_not_blank (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  DoctorWindow *window = new_window ();
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", doctor_test_server_get_port (server));
  g_autoptr(GdkPaintable) paintable = NULL;
  g_autoptr(GtkSnapshot) snapshot = NULL;
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *path = NULL;
  g_autofree guchar *pixels = NULL;
  graphene_rect_t bounds;
  int width, height;
  guint distinct = 0;
  guint32 first;

  doctor_test_script_send (doctor_test_server_get_script (server, 0), "554 go away\r\n");
  g_assert_true (doctor_window_set_target_text (window, target, NULL));
  run_and_wait (window, 10000);
  g_assert_true (doctor_test_wait_until (is_mapped, window, 5000));
  doctor_test_sleep (200);

  width = gtk_widget_get_width (GTK_WIDGET (window));
  height = gtk_widget_get_height (GTK_WIDGET (window));
  g_assert_cmpint (width, >, 300);
  g_assert_cmpint (height, >, 200);

  paintable = gtk_widget_paintable_new (GTK_WIDGET (window));
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  graphene_rect_init (&bounds, 0, 0, width, height);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (window)), node,
                                         &bounds);
  g_assert_nonnull (texture);

  path = g_build_filename (g_get_tmp_dir (), "smtp-doctor-test-window.png", NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));

  /* Not blank: a real window has many colours (text, icons, the red of the failed check). */
  pixels = g_malloc ((gsize) width * height * 4);
  gdk_texture_download (texture, pixels, (gsize) width * 4);
  first = *(guint32 *) pixels;
  for (gsize i = 0; i < (gsize) width * height; i += 7)
    {
      if (((guint32 *) pixels)[i] != first)
        distinct++;
    }
  g_assert_cmpuint (distinct, >, (guint) (width * height / 7 / 50));
  g_unlink (path);

  destroy_window (window);
}

int
main (int   argc,
      char *argv[])
{
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  doctor_app_ensure_resources ();

  g_test_add_func ("/app/templates", test_templates);
  g_test_add_func ("/app/preset-fills-form", test_preset_fills_form);
  g_test_add_func ("/app/port-and-security", test_port_and_security_follow);
  g_test_add_func ("/app/invalid-input", test_invalid_input_marked);
  g_test_add_func ("/app/real-server-run", test_real_server_run);
  g_test_add_func ("/app/failing-run", test_failing_run);
  g_test_add_func ("/app/cancel", test_cancel);
  g_test_add_func ("/app/suggestion", test_suggestion_fills_form);
  g_test_add_func ("/app/server-text-literal", test_server_text_literal);
  g_test_add_func ("/app/server-text-hostile", test_server_text_hostile);
  g_test_add_func ("/app/ca-file-name-literal", test_ca_file_name_literal);
  g_test_add_func ("/app/render", test_render_not_blank);
  g_test_add_func ("/app/ports/on-demand", test_ports_on_demand);
  g_test_add_func ("/app/ports/automatic", test_ports_automatic);
  g_test_add_func ("/app/detect/not-found", test_detect_not_found);
  g_test_add_func ("/app/detect/preset", test_detect_preset);
  g_test_add_func ("/app/profile/save", test_profile_save);
  g_test_add_func ("/app/profile/switch", test_profile_switch);
  g_test_add_func ("/app/profile/unsaved", test_profile_unsaved);
  g_test_add_func ("/app/profile/rename-duplicate", test_profile_rename_duplicate);
  g_test_add_func ("/app/profile/delete-undo", test_profile_delete_undo);
  g_test_add_func ("/app/profile/damaged", test_profile_damaged);
  g_test_add_func ("/app/profile/unreadable", test_profile_unreadable);
  g_test_add_func ("/app/profile/save-fails", test_profile_save_fails);
  g_test_add_func ("/app/profile/close-unsaved", test_profile_close_unsaved);
  g_test_add_func ("/app/profile/quit-unsaved", test_quit_unsaved);
  g_test_add_func ("/app/profile/no-keyring", test_profile_no_keyring);
  g_test_add_func ("/app/env/import", test_env_import);
  g_test_add_func ("/app/env/import-errors", test_env_import_errors);
  g_test_add_func ("/app/env/copy", test_copy_env);

  return g_test_run ();
}
