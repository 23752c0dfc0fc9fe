/* doctor-window-env.c: .env files in the main window: import, drop, and "Copy as .env".
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A .env file comes from "Import from .env…" (a file chooser) or is dropped onto the window;
 * both end in doctor_window_open_env_file(). The core reads the file and says which framework's
 * mail settings it holds (doctor-env.h); the window then asks before unsaved changes are lost,
 * and shows what was found, what was ignored and what is wrong in the file before anything
 * changes. Filling the form leaves the profile that was open: the imported settings are in no
 * profile until the user saves them, and their password goes to the keyring only if the user
 * ticks "Also remember the password" and then saves.
 *
 * Everything shown comes from the file, so it is set as plain text: the dialog's body never
 * uses markup, and the lists are labels without markup. The core never puts the password into
 * those lists.
 *
 * "Copy as .env" writes the form as the lines one framework reads, with a placeholder for the
 * password.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "doctor-env.h"
#include "doctor-window-private.h"

/* Beyond this the lists scroll, so that the dialog's buttons stay on a small screen. */
#define LISTS_MAX_HEIGHT 320

typedef struct
{
  DoctorEnvImport *import;
  GPtrArray       *warnings;       /* (element-type utf8) */
  char            *display_name;   /* of the file */
  char            *proposed_name;  /* for "Save As": the name of the file's folder */
  GtkCheckButton  *remember_check; /* in the dialog, or NULL */
} EnvImport;

static void
env_import_free (EnvImport *data)
{
  g_clear_pointer (&data->import, doctor_env_import_free);
  g_clear_pointer (&data->warnings, g_ptr_array_unref);
  g_free (data->display_name);
  g_free (data->proposed_name);
  g_free (data);
}

/* Moves what @data holds into a new one, for the dialog to own. */
static EnvImport *
env_import_steal (EnvImport *data)
{
  EnvImport *copy = g_new0 (EnvImport, 1);

  copy->import = g_steal_pointer (&data->import);
  copy->warnings = g_steal_pointer (&data->warnings);
  copy->display_name = g_steal_pointer (&data->display_name);
  copy->proposed_name = g_steal_pointer (&data->proposed_name);

  return copy;
}

static void
fill_from_import (DoctorWindow *self,
                  EnvImport    *data,
                  gboolean      remember)
{
  const DoctorTarget *target = data->import->target;
  const char *framework = doctor_env_framework_get_label (data->import->framework);
  g_autofree char *text = NULL;

  _doctor_window_detach_profile (self, data->proposed_name);
  _doctor_window_fill_form (self, target, doctor_providers_match_host (target->host), TRUE);
  gtk_switch_set_active (self->remember_switch, remember && target->secret != NULL);
  _doctor_window_profiles_update (self);

  /* Translators: a toast; %s is a web framework, such as Laravel */
  text = g_strdup_printf (_("%s settings imported"), framework);
  _doctor_window_show_toast (self, text);
}

static void
on_import_response (AdwMessageDialog *dialog,
                    const char       *response)
{
  GtkWindow *parent = gtk_window_get_transient_for (GTK_WINDOW (dialog));
  EnvImport *data = g_object_get_data (G_OBJECT (dialog), "import");
  gboolean remember;

  if (!DOCTOR_IS_WINDOW (parent) || DOCTOR_WINDOW (parent)->toast_overlay == NULL ||
      !g_str_equal (response, "fill"))
    return;

  remember = data->remember_check != NULL && gtk_check_button_get_active (data->remember_check);
  fill_from_import (DOCTOR_WINDOW (parent), data, remember);
}

/* A heading and a boxed list of lines of plain text. */
static void
add_list (GtkBox     *box,
          const char *heading,
          GPtrArray  *lines,
          gboolean    dim)
{
  GtkWidget *label;
  GtkWidget *list;

  if (lines == NULL || lines->len == 0)
    return;

  label = gtk_label_new (heading);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "heading");
  gtk_box_append (box, label);

  list = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
  gtk_widget_add_css_class (list, "boxed-list");
  gtk_accessible_update_relation (GTK_ACCESSIBLE (list), GTK_ACCESSIBLE_RELATION_LABELLED_BY,
                                  label, NULL, -1);

  for (guint i = 0; i < lines->len; i++)
    {
      GtkWidget *line = gtk_label_new (g_ptr_array_index (lines, i));

      gtk_label_set_use_markup (GTK_LABEL (line), FALSE);
      gtk_label_set_wrap (GTK_LABEL (line), TRUE);
      gtk_label_set_wrap_mode (GTK_LABEL (line), PANGO_WRAP_WORD_CHAR);
      gtk_label_set_xalign (GTK_LABEL (line), 0);
      gtk_widget_set_margin_top (line, 8);
      gtk_widget_set_margin_bottom (line, 8);
      gtk_widget_set_margin_start (line, 12);
      gtk_widget_set_margin_end (line, 12);
      if (dim)
        gtk_widget_add_css_class (line, "dim-label");
      gtk_list_box_append (GTK_LIST_BOX (list), line);
      gtk_list_box_row_set_activatable (gtk_list_box_get_row_at_index (GTK_LIST_BOX (list), i),
                                        FALSE);
    }

  gtk_box_append (box, list);
}

static void
show_import_dialog (DoctorWindow *self,
                    gpointer      user_data)
{
  EnvImport *data = env_import_steal (user_data);
  const DoctorEnvImport *import = data->import;
  GtkWidget *dialog;
  GtkWidget *content = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkWidget *lists = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *scrolled = gtk_scrolled_window_new ();

  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Import Mail Settings?"), NULL);
  adw_message_dialog_set_body_use_markup (ADW_MESSAGE_DIALOG (dialog), FALSE);
  adw_message_dialog_format_body (ADW_MESSAGE_DIALOG (dialog),
                                  /* Translators: the first %s is a web framework, such as
                                   * Laravel; the second the file's name */
                                  _("The %s mail settings in “%s” will fill the form. The "
                                    "recipient of the test message stays as it is."),
                                  doctor_env_framework_get_label (import->framework),
                                  data->display_name);

  /* Translators: the heading of the list of settings read from a .env file */
  add_list (GTK_BOX (lists), _("Found"), import->found, FALSE);
  /* Translators: the heading of the list of keys of a .env file that were not used */
  add_list (GTK_BOX (lists), _("Ignored"), import->ignored, TRUE);
  add_list (GTK_BOX (lists), _("Problems in the File"), data->warnings, FALSE);

  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (scrolled), TRUE);
  gtk_scrolled_window_set_max_content_height (GTK_SCROLLED_WINDOW (scrolled), LISTS_MAX_HEIGHT);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), lists);
  gtk_box_append (GTK_BOX (content), scrolled);

  /* Off unless the user asks: a password found in a file is not put in the keyring unasked. */
  if (import->target->secret != NULL)
    {
      GtkWidget *check = gtk_check_button_new_with_mnemonic (_("Also _remember the password"));
      GtkWidget *caption = gtk_label_new (_("It goes to the keyring when these settings are "
                                            "saved as a profile"));

      gtk_label_set_wrap (GTK_LABEL (caption), TRUE);
      gtk_label_set_xalign (GTK_LABEL (caption), 0);
      gtk_widget_set_margin_start (caption, 28);
      gtk_widget_add_css_class (caption, "dim-label");
      gtk_widget_add_css_class (caption, "caption");
      gtk_accessible_update_relation (GTK_ACCESSIBLE (check),
                                      GTK_ACCESSIBLE_RELATION_DESCRIBED_BY, caption, NULL, -1);

      gtk_box_append (GTK_BOX (content), check);
      gtk_box_append (GTK_BOX (content), caption);
      data->remember_check = GTK_CHECK_BUTTON (check);
    }

  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), content);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "fill", _("_Fill the Form"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "fill",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "fill");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  gtk_window_set_destroy_with_parent (GTK_WINDOW (dialog), TRUE);
  g_object_set_data_full (G_OBJECT (dialog), "import", data, (GDestroyNotify) env_import_free);
  g_signal_connect (dialog, "response", G_CALLBACK (on_import_response), NULL);

  gtk_window_present (GTK_WINDOW (dialog));
}

/* The name a profile of these settings would likely have: the app's folder ("shop" for
 * /srv/shop/.env). */
static char *
propose_name (GFile              *file,
              DoctorEnvFramework  framework)
{
  g_autoptr(GFile) parent = g_file_get_parent (file);
  g_autoptr(GFile) grandparent = parent != NULL ? g_file_get_parent (parent) : NULL;
  g_autofree char *basename = NULL;

  if (grandparent == NULL)
    return g_strdup (doctor_env_framework_get_label (framework));

  basename = g_file_get_basename (parent);
  return g_filename_display_name (basename);
}

/**
 * doctor_window_open_env_file:
 * @self: a window
 * @file: a .env file
 *
 * Reads @file, and shows what it holds before the form is filled with it: what the file
 * chooser of "Import from .env…" and a drop onto the window both do.
 */
void
doctor_window_open_env_file (DoctorWindow *self,
                             GFile        *file)
{
  g_autoptr(DoctorEnvFile) env = NULL;
  g_autoptr(DoctorEnvImport) import = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *warnings;
  EnvImport *data;

  g_return_if_fail (DOCTOR_IS_WINDOW (self));
  g_return_if_fail (G_IS_FILE (file));

  env = doctor_env_file_load (file, &error);
  if (env != NULL)
    import = doctor_env_import (env, &error);
  if (import == NULL)
    {
      _doctor_window_show_message (self, _("No Settings Imported"), error->message);
      return;
    }

  data = g_new0 (EnvImport, 1);
  data->warnings = g_ptr_array_new_with_free_func (g_free);
  warnings = doctor_env_file_get_warnings (env);
  for (guint i = 0; warnings != NULL && i < warnings->len; i++)
    g_ptr_array_add (data->warnings, g_strdup (g_ptr_array_index (warnings, i)));
  data->display_name = g_file_get_parse_name (file);
  data->proposed_name = propose_name (file, import->framework);
  data->import = g_steal_pointer (&import);

  _doctor_window_confirm_discard (self, show_import_dialog, data,
                                  (GDestroyNotify) env_import_free);
}

static void
on_env_chooser_response (DoctorWindow         *self,
                         int                   response,
                         GtkFileChooserNative *chooser)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));

      if (file != NULL)
        doctor_window_open_env_file (self, file);
    }

  g_clear_object (&self->chooser);
}

static void
import_env_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  DoctorWindow *self = DOCTOR_WINDOW (widget);
  g_autoptr(GtkFileFilter) env = gtk_file_filter_new ();
  g_autoptr(GtkFileFilter) all = gtk_file_filter_new ();

  /* ".env" is a hidden file: the chooser shows it after Ctrl+H, and a drop needs no chooser. */
  gtk_file_filter_set_name (env, _("Environment Files"));
  gtk_file_filter_add_pattern (env, ".env");
  gtk_file_filter_add_pattern (env, ".env.*");
  gtk_file_filter_add_pattern (env, "*.env");
  gtk_file_filter_set_name (all, _("All Files"));
  gtk_file_filter_add_pattern (all, "*");

  g_clear_object (&self->chooser);
  self->chooser = gtk_file_chooser_native_new (_("Import from .env"), GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_OPEN, _("_Import"),
                                               _("_Cancel"));
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), env);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), all);
  g_signal_connect_object (self->chooser, "response", G_CALLBACK (on_env_chooser_response), self,
                           G_CONNECT_SWAPPED);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static gboolean
on_drop (DoctorWindow  *self,
         const GValue  *value,
         double         x,
         double         y)
{
  GFile *file = NULL;

  if (G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    {
      GSList *files = gdk_file_list_get_files (g_value_get_boxed (value));

      if (files != NULL && files->next == NULL)
        file = files->data;
      g_slist_free (files);
    }
  else if (G_VALUE_HOLDS (value, G_TYPE_FILE))
    {
      file = g_value_get_object (value);
    }

  if (file == NULL)
    {
      _doctor_window_show_toast (self, _("Drop one .env file to import its mail settings"));
      return FALSE;
    }

  doctor_window_open_env_file (self, file);
  return TRUE;
}

static void
copy_env_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  DoctorWindow *self = DOCTOR_WINDOW (widget);
  g_autoptr(DoctorTarget) target = NULL;
  g_autofree char *message = NULL;
  g_autofree char *text = NULL;
  g_autofree char *toast = NULL;
  DoctorEnvFramework framework;

  if (!doctor_env_framework_from_string (g_variant_get_string (parameter, NULL), &framework))
    return;

  target = _doctor_window_read_settings (self, &message);
  if (target == NULL)
    {
      _doctor_window_show_form_problem (self, message);
      return;
    }

  /* The password stays out: a placeholder takes its place. */
  text = doctor_env_export (target, framework, FALSE);
  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), text);

  /* Translators: a toast; %s is a web framework, such as Laravel */
  toast = g_strdup_printf (_("%s settings copied"), doctor_env_framework_get_label (framework));
  _doctor_window_show_toast (self, toast);
}

void
_doctor_window_env_class_init (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "win.import-env", NULL, import_env_action);
  gtk_widget_class_install_action (widget_class, "win.copy-env", "s", copy_env_action);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o, GDK_CONTROL_MASK,
                                       "win.import-env", NULL);
}

void
_doctor_window_env_init (DoctorWindow *self)
{
  GType types[] = { GDK_TYPE_FILE_LIST, G_TYPE_FILE };
  GtkDropTarget *target = gtk_drop_target_new (G_TYPE_INVALID, GDK_ACTION_COPY);

  gtk_drop_target_set_gtypes (target, types, G_N_ELEMENTS (types));
  g_signal_connect_object (target, "drop", G_CALLBACK (on_drop), self, G_CONNECT_SWAPPED);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (target));
}
