/* doctor-application.c: the SMTP Doctor application.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One instance per session: a second `smtp-doctor smtp://host:port --run` hands its command
 * line to the first, which fills its window and raises it. The command line takes an optional
 * target (HOST[:PORT] or an smtp://, smtps://, submission:// URI), --ca-file and --run.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "doctor-app-resources.h"
#include "doctor-application.h"
#include "doctor-window.h"

struct _DoctorApplication
{
  AdwApplication parent_instance;
};

G_DEFINE_FINAL_TYPE (DoctorApplication, doctor_application, ADW_TYPE_APPLICATION)

/* The app's resources are registered by hand (--manual-register): a static library would
 * otherwise drop the object file that registers them. */
void
doctor_app_ensure_resources (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once))
    {
      doctor_app_register_resource ();
      g_once_init_leave (&once, 1);
    }
}

static DoctorWindow *
get_window (DoctorApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    window = GTK_WINDOW (doctor_window_new (ADW_APPLICATION (self)));

  return DOCTOR_WINDOW (window);
}

static void
doctor_application_activate (GApplication *app)
{
  gtk_window_present (GTK_WINDOW (get_window (DOCTOR_APPLICATION (app))));
}

static int
doctor_application_command_line (GApplication            *app,
                                 GApplicationCommandLine *command_line)
{
  DoctorApplication *self = DOCTOR_APPLICATION (app);
  GVariantDict *options = g_application_command_line_get_options_dict (command_line);
  g_autofree const char **targets = NULL;
  g_autofree char *ca_file = NULL;
  gboolean run = FALSE;
  DoctorWindow *window;

  g_variant_dict_lookup (options, G_OPTION_REMAINING, "^a&ay", &targets);
  g_variant_dict_lookup (options, "ca-file", "^ay", &ca_file);
  g_variant_dict_lookup (options, "run", "b", &run);

  if (targets != NULL && targets[0] != NULL && targets[1] != NULL)
    {
      g_application_command_line_printerr (command_line, "%s\n",
                                           _("Only one server can be given"));
      return 3;
    }

  window = get_window (self);

  if (targets != NULL && targets[0] != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!doctor_window_set_target_text (window, targets[0], &error))
        {
          g_application_command_line_printerr (command_line, "%s\n", error->message);
          gtk_window_present (GTK_WINDOW (window));
          return 3;
        }
    }

  if (ca_file != NULL)
    {
      g_autoptr(GFile) file = g_application_command_line_create_file_for_arg (command_line,
                                                                               ca_file);
      g_autofree char *path = g_file_get_path (file);

      doctor_window_set_ca_file (window, path);
    }

  gtk_window_present (GTK_WINDOW (window));

  if (run)
    doctor_window_run (window);

  return 0;
}

static void
about_action (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       user_data)
{
  DoctorApplication *self = user_data;
  static const char *developers[] = { "The SMTP Doctor developers", NULL };
  GtkWidget *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", gtk_application_get_active_window (GTK_APPLICATION (self)),
                        "application-name", _("SMTP Doctor"),
                        "application-icon", APPLICATION_ID,
                        "developer-name", _("The SMTP Doctor developers"),
                        "version", PACKAGE_VERSION,
                        "comments", _("Find out why mail will not send, and what to do about it."),
                        "website", "https://github.com/smtpdoctor/smtp-doctor",
                        "issue-url", "https://github.com/smtpdoctor/smtp-doctor/issues",
                        "developers", developers,
                        "copyright", _("© 2026 The SMTP Doctor developers"),
                        "license-type", GTK_LICENSE_GPL_3_0,
                        /* Translators: replace with your name(s), one per line */
                        "translator-credits", _("translator-credits"),
                        NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static gpointer
ref_object (gconstpointer object,
            gpointer      user_data)
{
  return g_object_ref ((gpointer) object);
}

static void
quit_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       user_data)
{
  DoctorApplication *self = user_data;
  /* A copy: a window that closes leaves the application's list. */
  GList *windows = g_list_copy_deep (gtk_application_get_windows (GTK_APPLICATION (self)),
                                     ref_object, NULL);

  /* Through close-request, so that the window saves its size and cancels a run. */
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_close (l->data);
  g_list_free_full (windows, g_object_unref);

  /* A window that asks about unsaved changes stays open until the user has chosen; the
   * application ends with its last window. */
  if (gtk_application_get_windows (GTK_APPLICATION (self)) == NULL)
    g_application_quit (G_APPLICATION (self));
}

static void
doctor_application_startup (GApplication *app)
{
  static const GActionEntry entries[] = {
    { "about", about_action },
    { "quit", quit_action },
  };
  static const char *quit_accels[] = { "<Control>q", NULL };
  g_autoptr(GtkCssProvider) css = gtk_css_provider_new ();

  G_APPLICATION_CLASS (doctor_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (app), entries, G_N_ELEMENTS (entries), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);

  gtk_css_provider_load_from_resource (css, "/io/github/smtpdoctor/SmtpDoctor/style.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (),
                                              GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
}

static void
doctor_application_class_init (DoctorApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  app_class->activate = doctor_application_activate;
  app_class->command_line = doctor_application_command_line;
  app_class->startup = doctor_application_startup;
}

static void
doctor_application_init (DoctorApplication *self)
{
  static const GOptionEntry options[] = {
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, NULL,
      N_("Also trust the CA certificates in FILE (PEM)"), N_("FILE") },
    { "run", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Run the checks at once"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Show the version and exit"), NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, NULL, NULL,
      N_("[HOST[:PORT] | smtp://[USER@]HOST[:PORT]]") },
    { NULL }
  };

  g_application_add_main_option_entries (G_APPLICATION (self), options);
  g_application_set_option_context_parameter_string (G_APPLICATION (self),
                                                     _("— find out why mail will not send"));
}

static int
on_handle_local_options (GApplication *app,
                         GVariantDict *options,
                         gpointer      user_data)
{
  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("smtp-doctor %s\n", PACKAGE_VERSION);
      return 0;
    }

  return -1;
}

DoctorApplication *
doctor_application_new (void)
{
  DoctorApplication *self;

  doctor_app_ensure_resources ();

  self = g_object_new (DOCTOR_TYPE_APPLICATION,
                       "application-id", APPLICATION_ID,
                       "flags", G_APPLICATION_HANDLES_COMMAND_LINE,
                       "resource-base-path", "/io/github/smtpdoctor/SmtpDoctor",
                       NULL);
  g_signal_connect (self, "handle-local-options", G_CALLBACK (on_handle_local_options), NULL);

  return self;
}
