/* doctor-check-row.c: one check of the checklist, live.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The row follows its DoctorCheck: a spinner while it runs, then a status icon whose accessible
 * label says the status in words (colour is never the only sign), the summary and the
 * duration. Expanded, it shows the details and the advice, with a copy button beside every
 * command. All text comes from the core and is set as plain text: server text is never markup.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "doctor-check-row.h"
#include "doctor-format.h"

struct _DoctorCheckRow
{
  AdwExpanderRow  parent_instance;

  /* Owned */
  DoctorCheck    *check;
  GPtrArray      *children;       /* rows added to the expander */

  /* Borrowed, children of the row */
  GtkImage       *status_icon;
  GtkSpinner     *spinner;
  GtkLabel       *duration_label;

  guint           n_commands;
};

G_DEFINE_FINAL_TYPE (DoctorCheckRow, doctor_check_row, ADW_TYPE_EXPANDER_ROW)

enum {
  PROP_0,
  PROP_CHECK,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const char *
status_icon_name (DoctorCheckStatus status,
                  const char       *reason)
{
  switch (status)
    {
    case DOCTOR_CHECK_PASS:
      return "emblem-ok-symbolic";
    case DOCTOR_CHECK_WARN:
      return "dialog-warning-symbolic";
    case DOCTOR_CHECK_FAIL:
      return "dialog-error-symbolic";
    case DOCTOR_CHECK_SKIPPED:
      return g_strcmp0 (reason, "cancelled") == 0 ? "process-stop-symbolic"
                                                  : "action-unavailable-symbolic";
    case DOCTOR_CHECK_RUNNING:
    case DOCTOR_CHECK_PENDING:
    default:
      return "content-loading-symbolic";
    }
}

static void
clear_children (DoctorCheckRow *self)
{
  for (guint i = 0; i < self->children->len; i++)
    adw_expander_row_remove (ADW_EXPANDER_ROW (self), g_ptr_array_index (self->children, i));
  g_ptr_array_set_size (self->children, 0);
  self->n_commands = 0;
}

static void
add_child (DoctorCheckRow *self,
           GtkWidget      *row)
{
  adw_expander_row_add_row (ADW_EXPANDER_ROW (self), row);
  g_ptr_array_add (self->children, row);
}

static GtkWidget *
make_label (const char *text,
            const char *css_class,
            gboolean    selectable)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_selectable (GTK_LABEL (label), selectable);
  gtk_label_set_use_markup (GTK_LABEL (label), FALSE);
  if (css_class != NULL)
    gtk_widget_add_css_class (label, css_class);

  return label;
}

static GtkWidget *
make_list_row (GtkWidget *child)
{
  GtkWidget *row = gtk_list_box_row_new ();

  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);
  gtk_widget_set_margin_top (child, 9);
  gtk_widget_set_margin_bottom (child, 9);
  gtk_widget_set_margin_start (child, 12);
  gtk_widget_set_margin_end (child, 12);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), child);

  return row;
}

static void
add_details (DoctorCheckRow *self)
{
  GPtrArray *details = doctor_check_get_details (self->check);
  GtkWidget *grid;
  guint shown = 0;

  if (details->len == 0)
    return;

  grid = gtk_grid_new ();
  gtk_grid_set_row_spacing (GTK_GRID (grid), 6);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 12);

  for (guint i = 0; i < details->len; i++)
    {
      DoctorDetail *detail = g_ptr_array_index (details, i);
      g_autofree char *value = NULL;
      GtkWidget *key_label;
      GtkWidget *value_label;

      value = doctor_detail_dup_display_text (detail, "\n");

      if (value == NULL || *value == '\0')
        continue;

      key_label = make_label (detail->label, "detail-key", FALSE);
      gtk_widget_set_valign (key_label, GTK_ALIGN_START);
      gtk_label_set_wrap (GTK_LABEL (key_label), FALSE);
      value_label = make_label (value, NULL, TRUE);
      gtk_widget_set_hexpand (value_label, TRUE);
      gtk_accessible_update_relation (GTK_ACCESSIBLE (value_label),
                                      GTK_ACCESSIBLE_RELATION_LABELLED_BY, key_label, NULL, -1);

      gtk_grid_attach (GTK_GRID (grid), key_label, 0, shown, 1, 1);
      gtk_grid_attach (GTK_GRID (grid), value_label, 1, shown, 1, 1);
      shown++;
    }

  if (shown == 0)
    {
      g_object_ref_sink (grid);
      g_object_unref (grid);
      return;
    }

  add_child (self, make_list_row (grid));
}

static void
on_copy_command_clicked (GtkButton *button,
                         gpointer   user_data)
{
  const char *command = g_object_get_data (G_OBJECT (button), "command");

  gtk_widget_activate_action (GTK_WIDGET (button), "win.copy-text", "s", command);
}

static void
add_advice (DoctorCheckRow *self)
{
  GPtrArray *advice = doctor_check_get_advice (self->check);

  for (guint i = 0; i < advice->len; i++)
    {
      DoctorAdvice *item = g_ptr_array_index (advice, i);
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
      GtkWidget *title = make_label (item->title, "heading", FALSE);

      gtk_box_append (GTK_BOX (box), title);
      if (item->text != NULL && *item->text != '\0')
        gtk_box_append (GTK_BOX (box), make_label (item->text, NULL, TRUE));

      for (guint c = 0; item->commands != NULL && item->commands[c] != NULL; c++)
        {
          GtkWidget *line = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
          GtkWidget *command = make_label (item->commands[c], "command", TRUE);
          GtkWidget *copy = gtk_button_new_from_icon_name ("edit-copy-symbolic");

          gtk_widget_set_hexpand (command, TRUE);
          gtk_widget_set_valign (copy, GTK_ALIGN_CENTER);
          gtk_widget_add_css_class (copy, "flat");
          gtk_widget_set_tooltip_text (copy, _("Copy Command"));
          gtk_accessible_update_property (GTK_ACCESSIBLE (copy),
                                          GTK_ACCESSIBLE_PROPERTY_LABEL, _("Copy command"),
                                          -1);
          g_object_set_data_full (G_OBJECT (copy), "command", g_strdup (item->commands[c]),
                                  g_free);
          g_signal_connect (copy, "clicked", G_CALLBACK (on_copy_command_clicked), NULL);

          gtk_box_append (GTK_BOX (line), command);
          gtk_box_append (GTK_BOX (line), copy);
          gtk_box_append (GTK_BOX (box), line);
          self->n_commands++;
        }

      add_child (self, make_list_row (box));
    }
}

static void
update (DoctorCheckRow *self)
{
  DoctorCheckStatus status = doctor_check_get_status (self->check);
  const char *reason = doctor_check_get_reason (self->check);
  const char *summary = doctor_check_get_summary (self->check);
  const char *label = doctor_check_status_get_label (status);
  static const char *classes[] = { "check-pass", "check-warn", "check-fail", "check-skipped" };
  g_autofree char *accessible = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    gtk_widget_remove_css_class (GTK_WIDGET (self->status_icon), classes[i]);
  gtk_widget_remove_css_class (GTK_WIDGET (self), "check-skipped");

  gtk_image_set_from_icon_name (self->status_icon, status_icon_name (status, reason));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->status_icon),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->status_icon), label);

  switch (status)
    {
    case DOCTOR_CHECK_PASS:
      gtk_widget_add_css_class (GTK_WIDGET (self->status_icon), "check-pass");
      break;
    case DOCTOR_CHECK_WARN:
      gtk_widget_add_css_class (GTK_WIDGET (self->status_icon), "check-warn");
      break;
    case DOCTOR_CHECK_FAIL:
      gtk_widget_add_css_class (GTK_WIDGET (self->status_icon), "check-fail");
      break;
    case DOCTOR_CHECK_SKIPPED:
      gtk_widget_add_css_class (GTK_WIDGET (self->status_icon), "check-skipped");
      gtk_widget_add_css_class (GTK_WIDGET (self), "check-skipped");
      break;
    case DOCTOR_CHECK_PENDING:
    case DOCTOR_CHECK_RUNNING:
    default:
      break;
    }

  gtk_widget_set_visible (GTK_WIDGET (self->spinner), status == DOCTOR_CHECK_RUNNING);
  gtk_spinner_set_spinning (self->spinner, status == DOCTOR_CHECK_RUNNING);
  gtk_widget_set_visible (GTK_WIDGET (self->status_icon), status != DOCTOR_CHECK_RUNNING);

  if (status == DOCTOR_CHECK_RUNNING)
    adw_expander_row_set_subtitle (ADW_EXPANDER_ROW (self), _("Checking…"));
  else if (status == DOCTOR_CHECK_PENDING)
    adw_expander_row_set_subtitle (ADW_EXPANDER_ROW (self), _("Waiting"));
  else
    adw_expander_row_set_subtitle (ADW_EXPANDER_ROW (self), summary ? summary : "");

  if (doctor_check_is_finished (self->check) && status != DOCTOR_CHECK_SKIPPED)
    {
      g_autofree char *text = doctor_format_duration (doctor_check_get_duration_ms (self->check));
      gtk_label_set_text (self->duration_label, text);
    }
  else
    {
      gtk_label_set_text (self->duration_label, "");
    }

  /* Screen readers hear "Certificate, Failed: …" as one sentence. */
  accessible = g_strdup_printf ("%s, %s", doctor_check_get_title (self->check), label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  accessible, -1);

  clear_children (self);
  if (doctor_check_is_finished (self->check))
    {
      add_details (self);
      add_advice (self);
    }
  {
    gboolean expanded = adw_expander_row_get_expanded (ADW_EXPANDER_ROW (self));

    /* Enabling expansion also expands the row; only a failure should open by itself, because
     * its advice is what the user came for. */
    adw_expander_row_set_enable_expansion (ADW_EXPANDER_ROW (self), self->children->len > 0);
    adw_expander_row_set_expanded (ADW_EXPANDER_ROW (self),
                                   self->children->len > 0 &&
                                   (expanded || status == DOCTOR_CHECK_FAIL));
  }
}

static void
on_check_notify (DoctorCheckRow *self)
{
  update (self);
}

static void
doctor_check_row_constructed (GObject *object)
{
  DoctorCheckRow *self = (DoctorCheckRow *)object;

  G_OBJECT_CLASS (doctor_check_row_parent_class)->constructed (object);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self), doctor_check_get_title (self->check));
  g_signal_connect_object (self->check, "notify::status", G_CALLBACK (on_check_notify), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->check, "changed", G_CALLBACK (on_check_notify), self,
                           G_CONNECT_SWAPPED);
  update (self);
}

static void
doctor_check_row_dispose (GObject *object)
{
  DoctorCheckRow *self = (DoctorCheckRow *)object;

  g_clear_object (&self->check);
  g_clear_pointer (&self->children, g_ptr_array_unref);

  G_OBJECT_CLASS (doctor_check_row_parent_class)->dispose (object);
}

static void
doctor_check_row_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  DoctorCheckRow *self = DOCTOR_CHECK_ROW (object);

  switch (prop_id)
    {
    case PROP_CHECK:
      self->check = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
doctor_check_row_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  DoctorCheckRow *self = DOCTOR_CHECK_ROW (object);

  switch (prop_id)
    {
    case PROP_CHECK:
      g_value_set_object (value, self->check);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
doctor_check_row_class_init (DoctorCheckRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = doctor_check_row_constructed;
  object_class->dispose = doctor_check_row_dispose;
  object_class->set_property = doctor_check_row_set_property;
  object_class->get_property = doctor_check_row_get_property;

  properties[PROP_CHECK] =
    g_param_spec_object ("check", NULL, NULL, DOCTOR_TYPE_CHECK,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
doctor_check_row_init (DoctorCheckRow *self)
{
  GtkWidget *prefix = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);

  self->children = g_ptr_array_new ();

  /* Server text in the summary is shown as it is, never parsed as markup. */
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (self), FALSE);

  self->status_icon = GTK_IMAGE (gtk_image_new ());
  gtk_image_set_icon_size (self->status_icon, GTK_ICON_SIZE_NORMAL);
  self->spinner = GTK_SPINNER (gtk_spinner_new ());
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->spinner),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Running"), -1);
  gtk_box_append (GTK_BOX (prefix), GTK_WIDGET (self->status_icon));
  gtk_box_append (GTK_BOX (prefix), GTK_WIDGET (self->spinner));
  gtk_widget_set_valign (prefix, GTK_ALIGN_CENTER);
  adw_expander_row_add_prefix (ADW_EXPANDER_ROW (self), prefix);

  self->duration_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_widget_add_css_class (GTK_WIDGET (self->duration_label), "dim-label");
  gtk_widget_add_css_class (GTK_WIDGET (self->duration_label), "numeric");
  gtk_widget_set_valign (GTK_WIDGET (self->duration_label), GTK_ALIGN_CENTER);
  adw_expander_row_add_action (ADW_EXPANDER_ROW (self), GTK_WIDGET (self->duration_label));
}

GtkWidget *
doctor_check_row_new (DoctorCheck *check)
{
  g_return_val_if_fail (DOCTOR_IS_CHECK (check), NULL);

  return g_object_new (DOCTOR_TYPE_CHECK_ROW, "check", check, NULL);
}

DoctorCheck *
doctor_check_row_get_check (DoctorCheckRow *self)
{
  g_return_val_if_fail (DOCTOR_IS_CHECK_ROW (self), NULL);
  return self->check;
}

const char *
doctor_check_row_get_icon_name (DoctorCheckRow *self)
{
  g_return_val_if_fail (DOCTOR_IS_CHECK_ROW (self), NULL);
  return gtk_image_get_icon_name (self->status_icon);
}

gboolean
doctor_check_row_is_spinning (DoctorCheckRow *self)
{
  g_return_val_if_fail (DOCTOR_IS_CHECK_ROW (self), FALSE);
  return gtk_widget_get_visible (GTK_WIDGET (self->spinner));
}

guint
doctor_check_row_get_n_commands (DoctorCheckRow *self)
{
  g_return_val_if_fail (DOCTOR_IS_CHECK_ROW (self), 0);
  return self->n_commands;
}
