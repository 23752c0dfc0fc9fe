/* doctor-window-network.c: the port table and "Detect Settings" of the main window.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The "Ports" group shows a DoctorPortScan of the server: one row per cell of the port ×
 * security matrix, filled in as each cell ends ("cell-finished"), and the scan's conclusion as
 * the group's description. A scan runs on demand (win.scan-ports, "Find a Working Port") for
 * the form's server, and by itself, as a scan of its own, right after a run whose connection
 * failed (refused, timed out, filtered, unreachable, or a greeting that never came): the run is
 * not slowed down by a scan nobody needs, and the scan answers "then which port works?". Its
 * best cell is offered with the suggestion row when the run has no suggestion of its own.
 *
 * "Detect Settings" (win.detect-settings) asks for an email address, runs a DoctorDiscovery
 * and shows its candidates, their probes and its notes in a dialog, with a spinner and Cancel
 * while it runs. Everything here that comes from a server or DNS is shown as plain text.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "doctor-window-private.h"

/* Cell results ------------------------------------------------------------------------------ */

/* A short word for a cell or probe result, for the status icon's label and tooltip. */
static const char *
result_label (const char *result)
{
  static const struct {
    const char *code;
    const char *label;
  } labels[] = {
    /* Translators: the status of one port and security mode in the port table */
    { "ok", N_("Works") },
    { "mode-mismatch", N_("Speaks the other mode") },
    { "refused", N_("Refused") },
    { "timeout", N_("No answer") },
    { "unreachable", N_("Unreachable") },
    { "filtered", N_("Blocked") },
    { "tls-failed", N_("TLS failed") },
    { "certificate-untrusted", N_("Certificate not trusted") },
    { "greeting-failed", N_("No usable greeting") },
    { "starttls-not-offered", N_("No STARTTLS") },
    { "cancelled", N_("Cancelled") },
    { "not-tried", N_("Not tried") },
  };

  if (result == NULL)
    return _("Checking…");

  for (guint i = 0; i < G_N_ELEMENTS (labels); i++)
    {
      if (g_str_equal (labels[i].code, result))
        return _(labels[i].label);
    }

  return result;
}

static void
set_status_icon (GtkImage   *icon,
                 const char *result)
{
  static const char *classes[] = { "check-pass", "check-warn", "check-fail", "check-skipped" };
  const char *name = "content-loading-symbolic";
  const char *css = NULL;
  const char *label = result_label (result);

  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    gtk_widget_remove_css_class (GTK_WIDGET (icon), classes[i]);

  if (result == NULL)
    ;
  else if (g_str_equal (result, "ok"))
    name = "emblem-ok-symbolic", css = "check-pass";
  else if (g_str_equal (result, "mode-mismatch") || g_str_equal (result, "starttls-not-offered") ||
           g_str_equal (result, "certificate-untrusted"))
    name = "dialog-warning-symbolic", css = "check-warn";
  else if (g_str_equal (result, "cancelled") || g_str_equal (result, "not-tried"))
    name = "process-stop-symbolic", css = "check-skipped";
  else
    name = "dialog-error-symbolic", css = "check-fail";

  gtk_image_set_from_icon_name (icon, name);
  if (css != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (icon), css);
  gtk_widget_set_tooltip_text (GTK_WIDGET (icon), label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (icon), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
}

static GtkImage *
new_status_icon (const char *result)
{
  GtkImage *icon = GTK_IMAGE (gtk_image_new ());

  gtk_widget_set_valign (GTK_WIDGET (icon), GTK_ALIGN_CENTER);
  set_status_icon (icon, result);
  return icon;
}

/* The port table ---------------------------------------------------------------------------- */

static void
set_ports_description (DoctorWindow *self,
                       const char   *text)
{
  /* The group's description is always markup in libadwaita 1.2. */
  g_autofree char *escaped = text != NULL ? g_markup_escape_text (text, -1) : NULL;

  adw_preferences_group_set_description (self->ports_group, escaped);
}

static void
update_port_row (AdwActionRow         *row,
                 const DoctorPortCell *cell)
{
  set_status_icon (g_object_get_data (G_OBJECT (row), "status-icon"), cell->result);
  adw_action_row_set_subtitle (row, cell->summary != NULL ? cell->summary : _("Checking…"));
}

static GtkWidget *
new_port_row (const DoctorPortCell *cell)
{
  GtkWidget *row = adw_action_row_new ();
  GtkImage *icon = new_status_icon (cell->result);
  /* Translators: a row of the port table: the port number and the security mode */
  g_autofree char *title = g_strdup_printf (_("Port %u · %s"), cell->port,
                                            doctor_security_get_label (cell->security));

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 0);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), GTK_WIDGET (icon));
  g_object_set_data (G_OBJECT (row), "status-icon", icon);
  update_port_row (ADW_ACTION_ROW (row), cell);

  return row;
}

static void
set_scanning (DoctorWindow *self,
              gboolean      scanning)
{
  gtk_widget_set_visible (self->ports_spinner, scanning);
  gtk_spinner_set_spinning (GTK_SPINNER (self->ports_spinner), scanning);
  _doctor_window_update_actions (self);
}

void
_doctor_window_clear_ports (DoctorWindow *self)
{
  if (self->scan_cancellable != NULL)
    g_cancellable_cancel (self->scan_cancellable);
  g_clear_object (&self->scan_cancellable);
  if (self->port_scan != NULL)
    g_signal_handlers_disconnect_by_data (self->port_scan, self);
  g_clear_object (&self->port_scan);
  g_clear_pointer (&self->scan_suggestion, doctor_suggestion_free);

  for (guint i = 0; i < self->port_rows->len; i++)
    adw_preferences_group_remove (self->ports_group, g_ptr_array_index (self->port_rows, i));
  g_ptr_array_set_size (self->port_rows, 0);

  set_ports_description (self, _("Try every mail port and security mode to see which get "
                                 "through to this server"));
  gtk_box_reorder_child_after (self->results_box, GTK_WIDGET (self->ports_group),
                               GTK_WIDGET (self->checklist_group));
  set_scanning (self, FALSE);
}

static void
on_cell_finished (DoctorPortScan       *scan,
                  guint                 index,
                  const DoctorPortCell *cell,
                  DoctorWindow         *self)
{
  if (scan != self->port_scan || index >= self->port_rows->len)
    return;

  update_port_row (g_ptr_array_index (self->port_rows, index), cell);
}

/* The best cell, when it is not what the run already used. */
static void
offer_best (DoctorWindow *self)
{
  const DoctorPortCell *best = doctor_port_scan_get_best (self->port_scan);
  const char *host = doctor_port_scan_get_host (self->port_scan);

  g_clear_pointer (&self->scan_suggestion, doctor_suggestion_free);
  if (best == NULL)
    return;

  if (self->diagnosis != NULL)
    {
      const DoctorTarget *target = doctor_diagnosis_get_target (self->diagnosis);

      if (g_strcmp0 (target->host, host) == 0 && doctor_target_get_port (target) == best->port &&
          target->security == best->security)
        return;
    }

  self->scan_suggestion = g_new0 (DoctorSuggestion, 1);
  self->scan_suggestion->host = g_strdup (host);
  self->scan_suggestion->port = best->port;
  self->scan_suggestion->security = best->security;
  /* Translators: the suggestion from the port table: "Port 465 with SSL/TLS gets through" */
  self->scan_suggestion->summary = g_strdup_printf (_("Port %u with %s gets through"),
                                                    best->port,
                                                    doctor_security_get_label (best->security));
}

static void
on_scan_done (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(DoctorWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  DoctorPortScan *scan = DOCTOR_PORT_SCAN (object);
  g_autofree char *conclusion = NULL;
  GPtrArray *cells;

  doctor_port_scan_run_finish (scan, result, &error);

  /* A newer scan, or a new run, may have replaced this one. */
  if (scan != self->port_scan)
    return;

  g_clear_object (&self->scan_cancellable);

  cells = doctor_port_scan_get_cells (scan);
  for (guint i = 0; i < cells->len && i < self->port_rows->len; i++)
    update_port_row (g_ptr_array_index (self->port_rows, i), g_ptr_array_index (cells, i));

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      set_ports_description (self, _("The port search was cancelled"));
    }
  else if (error != NULL)
    {
      set_ports_description (self, error->message);
    }
  else
    {
      const DoctorPortCell *best = doctor_port_scan_get_best (scan);

      conclusion = doctor_port_scan_get_diagnosis_summary (scan);
      if (conclusion == NULL && best != NULL)
        conclusion = g_strdup_printf (_("Port %u with %s gets through"), best->port,
                                      doctor_security_get_label (best->security));
      else if (conclusion == NULL)
        conclusion = g_strdup (_("No mail port and security mode works"));
      set_ports_description (self, conclusion);
      offer_best (self);
    }

  set_scanning (self, FALSE);
  _doctor_window_update_suggestion (self);
}

/* Replaces the table with a scan of @target's host; @failed puts the table above the
 * checklist, where the answer to a failed connection belongs. */
static void
start_scan (DoctorWindow       *self,
            const DoctorTarget *target,
            gboolean            failed)
{
  g_autoptr(GTlsDatabase) ca = NULL;
  g_autofree char *where = NULL;
  GPtrArray *cells;

  _doctor_window_clear_ports (self);

  if (target->ca_file != NULL)
    ca = g_tls_file_database_new (target->ca_file, NULL);

  self->port_scan = doctor_port_scan_new (target->host, NULL, doctor_target_get_timeout_ms (target),
                                          ca);
  if (target->helo_name != NULL)
    doctor_port_scan_set_helo_name (self->port_scan, target->helo_name);
  self->scan_cancellable = g_cancellable_new ();
  g_signal_connect_object (self->port_scan, "cell-finished", G_CALLBACK (on_cell_finished), self,
                           0);

  /* Every row exists before the first cell ends: the table never jumps. */
  cells = doctor_port_scan_get_cells (self->port_scan);
  for (guint i = 0; i < cells->len; i++)
    {
      GtkWidget *row = new_port_row (g_ptr_array_index (cells, i));

      adw_preferences_group_add (self->ports_group, row);
      g_ptr_array_add (self->port_rows, row);
    }

  /* Translators: the description of the port table while it fills in */
  where = g_strdup_printf (_("Trying every mail port of %s…"), target->host);
  set_ports_description (self, where);
  if (failed)
    gtk_box_reorder_child_after (self->results_box, GTK_WIDGET (self->ports_group),
                                 self->suggestion_group);
  set_scanning (self, TRUE);

  doctor_port_scan_run_async (self->port_scan, self->scan_cancellable, on_scan_done,
                              g_object_ref (self));
}

static gboolean
connection_failed (DoctorDiagnosis *diagnosis)
{
  static const char *reasons[] = {
    "connection-timeout", "connection-refused", "connection-filtered", "host-unreachable",
    "network-unreachable", NULL
  };
  DoctorCheck *connect = doctor_diagnosis_get_check (diagnosis, "connect");
  DoctorCheck *greeting = doctor_diagnosis_get_check (diagnosis, "greeting");

  if (connect != NULL && doctor_check_get_status (connect) == DOCTOR_CHECK_FAIL &&
      g_strv_contains (reasons, doctor_check_get_reason (connect)))
    return TRUE;

  return greeting != NULL && doctor_check_get_status (greeting) == DOCTOR_CHECK_FAIL &&
         g_strcmp0 (doctor_check_get_reason (greeting), "greeting-timeout") == 0;
}

/* A run ended: when it could not reach the server, find out which port can. */
void
_doctor_window_run_finished (DoctorWindow *self)
{
  if (self->diagnosis == NULL || !doctor_diagnosis_is_finished (self->diagnosis) ||
      !connection_failed (self->diagnosis))
    return;

  start_scan (self, doctor_diagnosis_get_target (self->diagnosis), TRUE);
}

void
doctor_window_scan_ports (DoctorWindow *self)
{
  g_autoptr(DoctorTarget) target = NULL;
  g_autofree char *message = NULL;
  const DoctorTarget *shown = NULL;

  g_return_if_fail (DOCTOR_IS_WINDOW (self));

  if (doctor_window_is_running (self))
    return;

  target = _doctor_window_read_settings (self, &message);
  if (target == NULL)
    {
      _doctor_window_show_form_problem (self, message);
      return;
    }

  /* The results of a run against another server do not go with this table. */
  if (self->diagnosis != NULL)
    shown = doctor_diagnosis_get_target (self->diagnosis);
  if (shown == NULL || g_strcmp0 (shown->host, target->host) != 0)
    {
      gtk_widget_set_visible (self->verdict_box, FALSE);
      gtk_widget_set_visible (GTK_WIDGET (self->checklist_group), FALSE);
      gtk_widget_set_visible (self->suggestion_group, FALSE);
      adw_window_title_set_subtitle (self->results_title, target->host);
    }

  start_scan (self, target, FALSE);
  gtk_stack_set_visible_child_name (self->results_stack, "results");
  adw_leaflet_set_visible_child (self->leaflet, self->results_pane);
}

gboolean
doctor_window_is_scanning (DoctorWindow *self)
{
  g_return_val_if_fail (DOCTOR_IS_WINDOW (self), FALSE);

  return self->port_scan != NULL && self->scan_cancellable != NULL;
}

DoctorPortScan *
doctor_window_get_port_scan (DoctorWindow *self)
{
  g_return_val_if_fail (DOCTOR_IS_WINDOW (self), NULL);

  return self->port_scan;
}

/* The rows of the port table, in the order of the scan's cells (for tests). */
GPtrArray *
doctor_window_get_port_rows (DoctorWindow *self)
{
  g_return_val_if_fail (DOCTOR_IS_WINDOW (self), NULL);

  return self->port_rows;
}

static void
scan_ports_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  doctor_window_scan_ports (DOCTOR_WINDOW (widget));
}

/* Detect Settings ---------------------------------------------------------------------------- */

static const char *
source_label (const char *source)
{
  if (g_strcmp0 (source, "srv") == 0)
    /* Translators: where a detected setting comes from */
    return _("SRV record");
  if (g_strcmp0 (source, "preset") == 0)
    return _("Built-in preset");
  if (g_strcmp0 (source, "mx") == 0)
    return _("MX record");
  return source;
}

/* The first candidate whose probe works, or else the first one: the likeliest, unverified. */
static const DoctorCandidate *
likeliest_candidate (DoctorDiscovery *discovery)
{
  const DoctorCandidate *best = doctor_discovery_get_best (discovery);
  GPtrArray *candidates = doctor_discovery_get_candidates (discovery);

  if (best == NULL && candidates != NULL && candidates->len > 0)
    best = g_ptr_array_index (candidates, 0);

  return best;
}

static GtkWidget *
new_candidate_row (const DoctorCandidate *candidate)
{
  GtkWidget *row = adw_action_row_new ();
  GtkImage *icon = new_status_icon (candidate->probe_result);
  g_autofree char *title = g_strdup_printf ("%s:%u", candidate->host, candidate->port);
  g_autofree char *subtitle = NULL;

  /* Translators: a detected setting: the security mode, where it comes from, its probe */
  subtitle = g_strdup_printf (_("%s · from the %s\n%s"),
                              doctor_security_get_label (candidate->security),
                              source_label (candidate->source),
                              candidate->probe_summary != NULL ? candidate->probe_summary
                                                               : result_label (NULL));
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 0);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), GTK_WIDGET (icon));
  g_object_set_data (G_OBJECT (row), "status-icon", icon);

  return row;
}

static GtkWidget *
new_note_label (const char *text)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "dim-label");
  return label;
}

/* The candidates and notes of the finished discovery, for the dialog's extra child. */
static GtkWidget *
new_discovery_results (DoctorDiscovery *discovery)
{
  GPtrArray *candidates = doctor_discovery_get_candidates (discovery);
  GPtrArray *notes = doctor_discovery_get_notes (discovery);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkWidget *scrolled = gtk_scrolled_window_new ();

  if (candidates != NULL && candidates->len > 0)
    {
      GtkWidget *list = gtk_list_box_new ();

      gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
      gtk_widget_add_css_class (list, "boxed-list");
      gtk_accessible_update_property (GTK_ACCESSIBLE (list), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _("Detected settings"), -1);
      for (guint i = 0; i < candidates->len; i++)
        gtk_list_box_append (GTK_LIST_BOX (list),
                             new_candidate_row (g_ptr_array_index (candidates, i)));
      gtk_box_append (GTK_BOX (box), list);
    }

  for (guint i = 0; notes != NULL && i < notes->len; i++)
    gtk_box_append (GTK_BOX (box), new_note_label (g_ptr_array_index (notes, i)));

  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (scrolled), TRUE);
  gtk_scrolled_window_set_max_content_height (GTK_SCROLLED_WINDOW (scrolled), 360);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), box);

  return scrolled;
}

static void
on_discovery_done (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(DoctorWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  DoctorDiscovery *discovery = DOCTOR_DISCOVERY (object);
  AdwMessageDialog *dialog = self->discovery_dialog;
  const DoctorCandidate *best;

  doctor_discovery_run_finish (discovery, result, &error);

  if (discovery != self->discovery)
    return;

  g_clear_object (&self->discovery_cancellable);
  if (dialog == NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  best = error == NULL ? likeliest_candidate (discovery) : NULL;
  adw_message_dialog_set_response_label (dialog, "cancel", _("_Close"));
  adw_message_dialog_set_extra_child (dialog, new_discovery_results (discovery));

  if (best == NULL)
    {
      adw_message_dialog_set_heading (dialog, _("No Settings Found"));
      adw_message_dialog_set_body (dialog, error != NULL ? error->message
                                                         : _("No server could be found for "
                                                             "this address"));
      adw_message_dialog_set_default_response (dialog, "cancel");
      return;
    }

  if (g_strcmp0 (best->probe_result, "ok") == 0)
    {
      g_autofree char *body = g_strdup_printf (_("%s, port %u with %s, answers as a mail "
                                                 "server"),
                                               best->host, best->port,
                                               doctor_security_get_label (best->security));

      adw_message_dialog_set_heading (dialog, _("Settings Found"));
      adw_message_dialog_set_body (dialog, body);
    }
  else
    {
      g_autofree char *body = g_strdup_printf (_("The likeliest setting is %s, port %u with %s, "
                                                 "but it did not answer as a mail server from "
                                                 "here"),
                                               best->host, best->port,
                                               doctor_security_get_label (best->security));

      adw_message_dialog_set_heading (dialog, _("Settings Not Verified"));
      adw_message_dialog_set_body (dialog, body);
    }
  adw_message_dialog_set_response_enabled (dialog, "use", TRUE);
  adw_message_dialog_set_default_response (dialog, "use");
}

static void
on_discovery_response (AdwMessageDialog *dialog,
                       const char       *response,
                       DoctorWindow     *self)
{
  const DoctorCandidate *best;

  if (self->discovery_cancellable != NULL)
    g_cancellable_cancel (self->discovery_cancellable);

  if (g_strcmp0 (response, "use") != 0 || self->discovery == NULL ||
      !doctor_discovery_is_finished (self->discovery) ||
      (best = likeliest_candidate (self->discovery)) == NULL)
    return;

  _doctor_window_use_server (self, best->host, best->port, best->security);
  if (*gtk_editable_get_text (GTK_EDITABLE (self->user_row)) == '\0' &&
      strchr (doctor_discovery_get_address (self->discovery), '@') != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->user_row),
                           doctor_discovery_get_address (self->discovery));

  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
  _doctor_window_show_toast (self, _("Settings filled in; run the checks to try them"));
}

/* Looks up the settings of @address, in a dialog that follows the lookup. */
void
doctor_window_detect_settings (DoctorWindow *self,
                               const char   *address)
{
  g_autoptr(GTlsDatabase) ca = NULL;
  g_autofree char *body = NULL;
  GtkWidget *dialog;
  GtkWidget *box;
  GtkWidget *spinner;

  g_return_if_fail (DOCTOR_IS_WINDOW (self));
  g_return_if_fail (address != NULL);

  if (self->discovery_cancellable != NULL)
    g_cancellable_cancel (self->discovery_cancellable);
  g_clear_object (&self->discovery_cancellable);
  g_clear_object (&self->discovery);
  if (self->discovery_dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->discovery_dialog));

  if (self->ca_file != NULL)
    ca = g_tls_file_database_new (self->ca_file, NULL);
  self->discovery = doctor_discovery_new (address, _doctor_window_get_timeout_ms (self), ca);
  self->discovery_cancellable = g_cancellable_new ();

  /* Translators: the body of the dialog while the settings of an address are looked up */
  body = g_strdup_printf (_("Looking up the mail server of %s and trying it"), address);
  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Detecting Settings…"), body);
  adw_message_dialog_set_body_use_markup (ADW_MESSAGE_DIALOG (dialog), FALSE);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "use", _("_Use These Settings"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "use",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (dialog), "use", FALSE);
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");

  box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);
  gtk_widget_set_halign (box, GTK_ALIGN_CENTER);
  spinner = gtk_spinner_new ();
  gtk_spinner_set_spinning (GTK_SPINNER (spinner), TRUE);
  gtk_widget_set_size_request (spinner, 32, 32);
  gtk_accessible_update_property (GTK_ACCESSIBLE (spinner), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Looking up the settings"), -1);
  gtk_box_append (GTK_BOX (box), spinner);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), box);

  gtk_window_set_destroy_with_parent (GTK_WINDOW (dialog), TRUE);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_discovery_response), self, 0);
  self->discovery_dialog = ADW_MESSAGE_DIALOG (dialog);
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->discovery_dialog);
  gtk_window_present (GTK_WINDOW (dialog));

  doctor_discovery_run_async (self->discovery, self->discovery_cancellable, on_discovery_done,
                              g_object_ref (self));
}

DoctorDiscovery *
doctor_window_get_discovery (DoctorWindow *self)
{
  g_return_val_if_fail (DOCTOR_IS_WINDOW (self), NULL);

  return self->discovery;
}

gboolean
doctor_window_is_detecting (DoctorWindow *self)
{
  g_return_val_if_fail (DOCTOR_IS_WINDOW (self), FALSE);

  return self->discovery_cancellable != NULL;
}

static void
on_address_changed (GtkEditable      *entry,
                    AdwMessageDialog *dialog)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (entry)));

  adw_message_dialog_set_response_enabled (dialog, "detect",
                                           doctor_discovery_parse_domain (text, NULL, NULL));
}

static void
on_address_response (AdwMessageDialog *dialog,
                     const char       *response,
                     DoctorWindow     *self)
{
  GtkEditable *entry = g_object_get_data (G_OBJECT (dialog), "entry");
  g_autofree char *text = NULL;

  if (g_strcmp0 (response, "detect") != 0)
    return;

  text = g_strstrip (g_strdup (gtk_editable_get_text (entry)));
  if (doctor_discovery_parse_domain (text, NULL, NULL))
    doctor_window_detect_settings (self, text);
}

static void
detect_settings_action (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  DoctorWindow *self = DOCTOR_WINDOW (widget);
  const char *user = gtk_editable_get_text (GTK_EDITABLE (self->user_row));
  GtkWidget *dialog;
  GtkWidget *entry;

  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Detect Settings"),
                                   _("Enter an email address to look up the server that sends "
                                     "its mail. No password is sent."));
  adw_message_dialog_set_body_use_markup (ADW_MESSAGE_DIALOG (dialog), FALSE);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "detect", _("_Detect"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "detect",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "detect");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");

  entry = gtk_entry_new ();
  gtk_entry_set_input_purpose (GTK_ENTRY (entry), GTK_INPUT_PURPOSE_EMAIL);
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  /* Translators: the placeholder of the address entry of "Detect Settings" */
  gtk_entry_set_placeholder_text (GTK_ENTRY (entry), _("you@example.com"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Email address"), -1);
  if (strchr (user, '@') != NULL)
    gtk_editable_set_text (GTK_EDITABLE (entry), user);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), entry);
  g_object_set_data (G_OBJECT (dialog), "entry", entry);
  g_signal_connect_object (entry, "changed", G_CALLBACK (on_address_changed), dialog, 0);
  on_address_changed (GTK_EDITABLE (entry), ADW_MESSAGE_DIALOG (dialog));

  g_signal_connect_object (dialog, "response", G_CALLBACK (on_address_response), self, 0);
  gtk_window_set_destroy_with_parent (GTK_WINDOW (dialog), TRUE);
  gtk_window_present (GTK_WINDOW (dialog));
  gtk_widget_grab_focus (entry);
}

/* The window --------------------------------------------------------------------------------- */

void
_doctor_window_network_cancel (DoctorWindow *self)
{
  if (self->scan_cancellable != NULL)
    g_cancellable_cancel (self->scan_cancellable);
}

void
_doctor_window_network_init (DoctorWindow *self)
{
  self->port_rows = g_ptr_array_new ();
  set_scanning (self, FALSE);
}

void
_doctor_window_network_dispose (DoctorWindow *self)
{
  if (self->scan_cancellable != NULL)
    g_cancellable_cancel (self->scan_cancellable);
  g_clear_object (&self->scan_cancellable);
  if (self->port_scan != NULL)
    g_signal_handlers_disconnect_by_data (self->port_scan, self);
  g_clear_object (&self->port_scan);
  g_clear_pointer (&self->scan_suggestion, doctor_suggestion_free);
  g_clear_pointer (&self->port_rows, g_ptr_array_unref);

  if (self->discovery_cancellable != NULL)
    g_cancellable_cancel (self->discovery_cancellable);
  g_clear_object (&self->discovery_cancellable);
  g_clear_object (&self->discovery);
  if (self->discovery_dialog != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->discovery_dialog),
                                    (gpointer *) &self->discovery_dialog);
      gtk_window_destroy (GTK_WINDOW (self->discovery_dialog));
      self->discovery_dialog = NULL;
    }
}

void
_doctor_window_network_class_init (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "win.scan-ports", NULL, scan_ports_action);
  gtk_widget_class_install_action (widget_class, "win.detect-settings", NULL,
                                   detect_settings_action);
}
