/* test-app-german.c: the window under a German desktop (LANG=de_DE.UTF-8).
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Meson runs this under Xvfb with LC_ALL=de_DE.UTF-8, a de_DE.UTF-8 locale the build made with
 * localedef (LOCPATH) and the build's own catalogues (SMTP_DOCTOR_LOCALEDIR), the way main.c of
 * the app binds them. The window's labels from the .ui template, the check rows, the verdict
 * with its plural form, the advice and a duration must all be German; a failing run against the
 * in-process scripted server gives them text.
 */
#include "config.h"

#include <locale.h>
#include <string.h>
#include <adwaita.h>
#include <glib/gi18n.h>

#include "doctor-application.h"
#include "doctor-check-row.h"
#include "doctor-test-server.h"
#include "doctor-window.h"

static gpointer
child (DoctorWindow *window,
       const char   *id)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (window), DOCTOR_TYPE_WINDOW, id);

  g_assert_nonnull (object);
  return object;
}

static gboolean
run_finished (gpointer data)
{
  return !doctor_window_is_running (DOCTOR_WINDOW (data));
}

static DoctorCheckRow *
find_row (DoctorWindow *window,
          const char   *id)
{
  GPtrArray *rows = doctor_window_get_check_rows (window);  /* owned by the window */

  for (guint i = 0; i < rows->len; i++)
    {
      DoctorCheckRow *row = g_ptr_array_index (rows, i);

      if (g_str_equal (doctor_check_get_id (doctor_check_row_get_check (row)), id))
        return row;
    }
  g_error ("no check row \"%s\" among %u rows", id, rows->len);
}

static void
test_locale (void)
{
  /* Without these the rest would test English against English. */
  g_assert_cmpstr (setlocale (LC_MESSAGES, NULL), ==, "de_DE.UTF-8");
  g_assert_cmpstr (g_dgettext (GETTEXT_PACKAGE, "Ready to send mail"), ==,
                   "Bereit zum Versenden von E-Mails");
}

static void
test_failing_run_in_german (void)
{
  g_autoptr(DoctorTestServer) server = doctor_test_server_new ();
  DoctorTestScript *script = doctor_test_server_get_script (server, 0);
  DoctorWindow *window = g_object_ref_sink (doctor_window_new (NULL));
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", doctor_test_server_get_port (server));
  DoctorCheck *auth;
  GPtrArray *advice;

  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 760);
  gtk_window_present (GTK_WINDOW (window));

  /* From the .ui template. */
  g_assert_cmpstr (gtk_button_get_label (child (window, "run_button")), ==,
                   "Prüfungen s_tarten");

  doctor_test_script_send (script, "220 test ESMTP\r\n");
  doctor_test_script_expect (script, "EHLO");
  doctor_test_script_send (script, "250-test\r\n250 AUTH PLAIN LOGIN\r\n");
  doctor_test_script_expect (script, "AUTH PLAIN");
  doctor_test_script_send (script, "535 5.7.8 Authentication credentials invalid\r\n");
  doctor_test_script_on_line (script, "QUIT", "221 bye\r\n");

  g_assert_true (doctor_window_set_target_text (window, target, NULL));
  adw_combo_row_set_selected (child (window, "security_row"), 2);
  gtk_switch_set_active (child (window, "plaintext_switch"), TRUE);
  gtk_editable_set_text (child (window, "user_row"), "ich");
  gtk_editable_set_text (child (window, "password_row"), "geheim-Passwort-1");

  doctor_window_run (window);
  g_assert_true (doctor_test_wait_until (run_finished, window, 10000));

  /* The verdict, in its singular form. */
  g_assert_cmpstr (gtk_label_get_text (child (window, "verdict_label")), ==, "1 Problem gefunden");

  /* The check rows: their titles and the failure's summary and advice. */
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (find_row (window, "auth"))),
                   ==, "Anmeldung");
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (find_row (window, "greeting"))),
                   ==, "Begrüßung des Servers");
  auth = doctor_check_row_get_check (find_row (window, "auth"));
  g_assert_cmpstr (doctor_check_get_reason (auth), ==, "auth-failed");
  g_assert_nonnull (strstr (doctor_check_get_summary (auth), "Server"));
  g_assert_null (strstr (doctor_check_get_summary (auth), "The server"));
  advice = doctor_check_get_advice (auth);
  g_assert_cmpuint (advice->len, >, 0);
  for (guint i = 0; i < advice->len; i++)
    {
      DoctorAdvice *item = g_ptr_array_index (advice, i);

      /* English would have "the" somewhere in a sentence of advice; German never. */
      g_assert_null (strstr (item->title, "the "));
      g_assert_null (strstr (item->text, "the "));
    }

  gtk_window_destroy (GTK_WINDOW (window));
  g_object_unref (window);
}

int
main (int   argc,
      char *argv[])
{
  const char *localedir = g_getenv ("SMTP_DOCTOR_LOCALEDIR");

  /* As the app's main.c does. */
  setlocale (LC_ALL, "");
  g_assert_nonnull (localedir);
  bindtextdomain (GETTEXT_PACKAGE, localedir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  doctor_app_ensure_resources ();

  g_test_add_func ("/app-german/locale", test_locale);
  g_test_add_func ("/app-german/failing-run", test_failing_run_in_german);

  return g_test_run ();
}
