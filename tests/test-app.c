/* test-app.c: the desktop app's window, driven in process under Xvfb.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The window runs real diagnoses: against Debian's aiosmtpd (tests/smtp-server.py) for the
 * passing run and the report, and against the in-process scripted server for failures, a
 * cancelled run and a security mismatch. Widgets are found by their template ids, the way a
 * user finds them by their labels.
 */
#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>

#include "doctor-application.h"
#include "doctor-check-row.h"
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
  g_test_add_func ("/app/render", test_render_not_blank);

  return g_test_run ();
}
