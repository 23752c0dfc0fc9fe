/* doctor-window.c: the main window.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The form on the left becomes a DoctorTarget, a DoctorDiagnosis runs it, and the checklist on
 * the right follows the checks as they change. There is no protocol logic and no advice text
 * here: both come from the core, so the window and the command line always agree. Input that
 * cannot be used is marked on its row as it is typed, and a run with such input does not start.
 * Saved profiles and .env files are in doctor-window-profiles.c and doctor-window-env.c; see
 * doctor-window-private.h.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "doctor-check-row.h"
#include "doctor-report.h"
#include "doctor-transcript-window.h"
#include "doctor-window-private.h"

/* SMTP_DOCTOR_BENCH=1 (bench/bench.py, off otherwise): the window prints on standard output
 * "smtp-doctor-bench: WHAT MICROSECONDS" with g_get_monotonic_time() when its first frame has
 * been painted (first-frame), when the first check of a run ends (first-check) and when the run
 * ends (run-finished), so that the benchmark can time start-up from outside. */
static gboolean
bench_enabled (void)
{
  static int enabled = -1;

  if (enabled < 0)
    enabled = g_strcmp0 (g_getenv ("SMTP_DOCTOR_BENCH"), "1") == 0;

  return enabled;
}

static void
bench_mark (const char *what)
{
  g_print ("smtp-doctor-bench: %s %" G_GINT64_FORMAT "\n", what, g_get_monotonic_time ());
  fflush (stdout);
}

static void
on_bench_after_paint (GdkFrameClock *clock,
                      gpointer       user_data)
{
  bench_mark ("first-frame");
  g_signal_handlers_disconnect_by_func (clock, on_bench_after_paint, user_data);
}

static void
on_bench_realize (GtkWidget *widget)
{
  g_signal_connect (gtk_widget_get_frame_clock (widget), "after-paint",
                    G_CALLBACK (on_bench_after_paint), NULL);
}

static void
on_bench_check_status (DoctorCheck *check,
                       GParamSpec  *pspec,
                       gpointer     user_data)
{
  GListModel *checks = user_data;

  if (!doctor_check_is_finished (check))
    return;

  bench_mark ("first-check");
  for (guint i = 0; i < g_list_model_get_n_items (checks); i++)
    {
      g_autoptr(DoctorCheck) other = g_list_model_get_item (checks, i);

      g_signal_handlers_disconnect_by_func (other, on_bench_check_status, user_data);
    }
}

G_DEFINE_FINAL_TYPE (DoctorWindow, doctor_window, ADW_TYPE_APPLICATION_WINDOW)

enum {
  PROP_0,
  PROP_PROFILE_STORE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void update_actions (DoctorWindow *self);
static gboolean has_report (DoctorWindow *self);
static void select_provider (DoctorWindow         *self,
                             const DoctorProvider *provider);

/* Form -------------------------------------------------------------------------------------- */

static const char *
entry_text (AdwEntryRow *row)
{
  return gtk_editable_get_text (GTK_EDITABLE (row));
}

static char *
entry_text_stripped (AdwEntryRow *row)
{
  return g_strstrip (g_strdup (entry_text (row)));
}

static void
mark_row (gpointer row,
          gboolean valid)
{
  if (valid)
    gtk_widget_remove_css_class (GTK_WIDGET (row), "error");
  else
    gtk_widget_add_css_class (GTK_WIDGET (row), "error");

  gtk_accessible_update_state (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_STATE_INVALID,
                               valid ? GTK_ACCESSIBLE_INVALID_FALSE : GTK_ACCESSIBLE_INVALID_TRUE,
                               -1);
}

static const DoctorProvider *
selected_provider (DoctorWindow *self)
{
  guint selected = adw_combo_row_get_selected (self->provider_row);

  if (selected == 0 || selected == GTK_INVALID_LIST_POSITION || selected > self->providers->len)
    return NULL;

  return g_ptr_array_index (self->providers, selected - 1);
}

static DoctorSecurity
selected_security (DoctorWindow *self)
{
  switch (adw_combo_row_get_selected (self->security_row))
    {
    case 1:
      return DOCTOR_SECURITY_TLS;
    case 2:
      return DOCTOR_SECURITY_NONE;
    case 0:
    default:
      return DOCTOR_SECURITY_STARTTLS;
    }
}

static void
select_security (DoctorWindow   *self,
                 DoctorSecurity  security)
{
  guint position = security == DOCTOR_SECURITY_TLS ? 1 : security == DOCTOR_SECURITY_NONE ? 2 : 0;

  self->security = security;
  adw_combo_row_set_selected (self->security_row, position);
}

static void
set_port (DoctorWindow *self,
          guint16       port)
{
  g_autofree char *text = g_strdup_printf ("%u", port);

  gtk_editable_set_text (GTK_EDITABLE (self->port_row), text);
}

static gboolean
parse_port (const char *text,
            guint16    *port)
{
  guint64 value;

  if (*text == '\0')
    {
      *port = 0;
      return TRUE;
    }

  if (!g_ascii_string_to_unsigned (text, 10, 1, 65535, &value, NULL))
    return FALSE;

  *port = (guint16) value;
  return TRUE;
}

static gboolean
parse_timeout (const char *text,
               guint      *timeout_ms)
{
  char *end = NULL;
  double value;

  if (*text == '\0')
    {
      *timeout_ms = 0;
      return TRUE;
    }

  value = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || !(value > 0) || value > 3600)
    return FALSE;

  *timeout_ms = (guint) (value * 1000 + 0.5);
  return *timeout_ms > 0;
}

static gboolean
looks_like_mailbox (const char *text)
{
  const char *at = strrchr (text, '@');

  return at != NULL && at != text && at[1] != '\0' && strpbrk (text, " <>\t\r\n") == NULL;
}

/* Reads the form into a target. Every row with unusable input is marked; a row left empty only
 * counts when @complete (the user pressed Run): until then a test message may have only one of
 * its addresses, as a profile or a .env file may keep it. Returns NULL when a run must not
 * start, with the reason in @message. */
static DoctorTarget *
read_form (DoctorWindow  *self,
           gboolean       complete,
           char         **message)
{
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorTarget) checked = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *host_text = entry_text_stripped (self->host_row);
  g_autofree char *host = NULL;
  g_autofree char *user = entry_text_stripped (self->user_row);
  g_autofree char *helo = entry_text_stripped (self->helo_row);
  g_autofree char *from = entry_text_stripped (self->from_row);
  g_autofree char *to = entry_text_stripped (self->to_row);
  g_autofree char *port_text = entry_text_stripped (self->port_row);
  g_autofree char *timeout_text = entry_text_stripped (self->timeout_row);
  const char *password = entry_text (ADW_ENTRY_ROW (self->password_row));
  gboolean valid = TRUE;
  gboolean host_ok, port_ok, timeout_ok, from_ok, to_ok, helo_ok;
  guint16 port = 0, host_port = 0;
  guint timeout = 0;

  *message = NULL;

  host_ok = *host_text != '\0' && doctor_parse_host_port (host_text, &host, &host_port, NULL);
  if (host_ok)
    {
      g_autoptr(DoctorTarget) probe = doctor_target_new (host, 0, DOCTOR_SECURITY_STARTTLS);

      host_ok = doctor_target_validate (probe, NULL);
    }
  mark_row (self->host_row, host_ok || (*host_text == '\0' && !complete));
  if (!host_ok && *message == NULL)
    *message = g_strdup (*host_text == '\0' ? _("Enter the server’s name, such as smtp.example.com")
                                            : _("The server name is not valid"));
  valid &= host_ok;

  port_ok = parse_port (port_text, &port);
  mark_row (self->port_row, port_ok);
  if (!port_ok && *message == NULL)
    *message = g_strdup (_("The port must be a number from 1 to 65535"));
  valid &= port_ok;

  timeout_ok = parse_timeout (timeout_text, &timeout);
  mark_row (self->timeout_row, timeout_ok);
  if (!timeout_ok && *message == NULL)
    *message = g_strdup (_("The timeout must be a number of seconds, at most 3600"));
  valid &= timeout_ok;

  helo_ok = *helo == '\0' || (strpbrk (helo, " \t\r\n") == NULL && g_utf8_validate (helo, -1, NULL));
  mark_row (self->helo_row, helo_ok);
  if (!helo_ok && *message == NULL)
    *message = g_strdup (_("The EHLO name must be a single word, such as a host name"));
  valid &= helo_ok;

  from_ok = (*from == '\0' && (*to == '\0' || !complete)) || looks_like_mailbox (from);
  to_ok = (*to == '\0' && (*from == '\0' || !complete)) || looks_like_mailbox (to);
  mark_row (self->from_row, from_ok);
  mark_row (self->to_row, to_ok);
  if ((!from_ok || !to_ok) && *message == NULL)
    *message = g_strdup (_("A test message needs a valid sender and recipient address"));
  valid &= from_ok && to_ok;

  mark_row (self->user_row, TRUE);
  mark_row (self->password_row, TRUE);
  if (complete && *user != '\0' && *password == '\0')
    {
      mark_row (self->password_row, FALSE);
      if (*message == NULL)
        *message = g_strdup (_("Enter the password for this user name, or leave the user name "
                               "empty"));
      valid = FALSE;
    }

  if (!valid)
    return NULL;

  if (port == 0)
    port = host_port;

  target = doctor_target_new (host, port, selected_security (self));
  target->user = *user != '\0' ? g_strdup (user) : NULL;
  if (target->user != NULL)
    doctor_target_set_secret (target, password);
  target->allow_plaintext_auth = gtk_switch_get_active (self->plaintext_switch);
  target->ca_file = g_strdup (self->ca_file);
  target->timeout_ms = timeout;
  target->helo_name = *helo != '\0' ? g_strdup (helo) : NULL;
  target->mail_from = *from != '\0' ? g_strdup (from) : NULL;
  target->rcpt_to = *to != '\0' ? g_strdup (to) : NULL;

  /* The core checks what goes on the wire (line breaks, control characters); a lone address
   * is checked as if it were both. */
  checked = doctor_target_copy (target);
  if (!complete && checked->mail_from == NULL)
    checked->mail_from = g_strdup (checked->rcpt_to);
  if (!complete && checked->rcpt_to == NULL)
    checked->rcpt_to = g_strdup (checked->mail_from);
  if (!doctor_target_validate (checked, &error))
    {
      *message = g_strdup (error->message);
      return NULL;
    }

  return g_steal_pointer (&target);
}

/* The form's settings as a profile or a .env file keeps them. */
DoctorTarget *
_doctor_window_read_settings (DoctorWindow  *self,
                              char         **message)
{
  return read_form (self, FALSE, message);
}

static void
validate_live (DoctorWindow *self)
{
  g_autoptr(DoctorTarget) target = NULL;
  g_autofree char *message = NULL;

  target = read_form (self, FALSE, &message);
  if (target == NULL && message != NULL && *entry_text (self->host_row) != '\0')
    {
      gtk_label_set_text (self->form_error_label, message);
      gtk_widget_set_visible (GTK_WIDGET (self->form_error_label), TRUE);
    }
  else
    {
      gtk_widget_set_visible (GTK_WIDGET (self->form_error_label), FALSE);
    }
}

static void
on_form_changed (DoctorWindow *self)
{
  if (self->updating)
    return;

  validate_live (self);
}

static void
on_host_changed (DoctorWindow *self)
{
  const DoctorProvider *provider;
  g_autofree char *host = NULL;

  if (self->updating)
    return;

  /* A pasted URI fills the port, the security and the user name. */
  host = entry_text_stripped (self->host_row);
  if (strstr (host, "://") != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (doctor_window_set_target_text (self, host, &error))
        return;
    }

  /* Typing another server leaves the preset. */
  provider = selected_provider (self);
  if (provider != NULL && *host != '\0' && !doctor_provider_has_host (provider, host))
    select_provider (self, NULL);

  validate_live (self);
}

static void
on_port_changed (DoctorWindow *self)
{
  guint16 port;

  if (self->updating)
    return;

  /* The usual port of the other mode offers that mode (RFC 8314: 465 is implicit TLS). */
  if (parse_port (entry_text (self->port_row), &port))
    {
      self->updating = TRUE;
      if (port == 465 && selected_security (self) == DOCTOR_SECURITY_STARTTLS)
        select_security (self, DOCTOR_SECURITY_TLS);
      else if (port == 587 && selected_security (self) == DOCTOR_SECURITY_TLS)
        select_security (self, DOCTOR_SECURITY_STARTTLS);
      self->updating = FALSE;
    }

  validate_live (self);
}

static void
on_security_changed (DoctorWindow *self)
{
  DoctorSecurity previous = self->security;
  DoctorSecurity security = selected_security (self);
  guint16 port;

  self->security = security;
  if (self->updating || previous == security)
    return;

  /* The port follows the mode when it was the usual one of the old mode, or empty. */
  if (parse_port (entry_text (self->port_row), &port) &&
      (port == 0 || port == doctor_security_default_port (previous) ||
       (previous == DOCTOR_SECURITY_STARTTLS && port == 25)))
    {
      self->updating = TRUE;
      set_port (self, doctor_security_default_port (security));
      self->updating = FALSE;
    }

  validate_live (self);
}

/* What goes into the login fields for @provider, under the Login heading. */
static void
set_login_hint (DoctorWindow         *self,
                const DoctorProvider *provider)
{
  const char *hint;
  g_autofree char *escaped = NULL;

  if (provider == NULL)
    hint = _("Leave empty to check the server without logging in");
  else if (provider->user_hint != NULL)
    hint = provider->user_hint;
  else if (!provider->login_required)
    hint = _("This server takes no login");
  else
    hint = NULL;

  /* The group's description is always markup in libadwaita 1.2. */
  escaped = hint != NULL ? g_markup_escape_text (hint, -1) : NULL;
  adw_preferences_group_set_description (self->login_group, escaped);
}

/* Selects @provider's preset (or "Other Server") without filling the form from it. */
static void
select_provider (DoctorWindow         *self,
                 const DoctorProvider *provider)
{
  guint position = 0;
  gboolean updating;

  for (guint i = 0; provider != NULL && i < self->providers->len; i++)
    {
      if (g_ptr_array_index (self->providers, i) == provider)
        position = i + 1;
    }

  updating = self->updating;
  self->updating = TRUE;
  adw_combo_row_set_selected (self->provider_row, position);
  self->updating = updating;
  set_login_hint (self, provider);
}

static void
apply_provider (DoctorWindow         *self,
                const DoctorProvider *provider)
{
  self->updating = TRUE;

  if (provider != NULL)
    {
      gtk_editable_set_text (GTK_EDITABLE (self->host_row), provider->host);
      set_port (self, provider->port);
      select_security (self, provider->security);
      if (provider->user != NULL)
        gtk_editable_set_text (GTK_EDITABLE (self->user_row), provider->user);
    }
  set_login_hint (self, provider);

  self->updating = FALSE;
  validate_live (self);
}

static void
on_provider_selected (DoctorWindow *self)
{
  if (self->updating)
    return;

  apply_provider (self, selected_provider (self));
}

static void
set_ca_file (DoctorWindow *self,
             const char   *path)
{
  g_clear_pointer (&self->ca_file, g_free);
  self->ca_file = g_strdup (path);

  if (path != NULL)
    {
      g_autofree char *display = g_filename_display_basename (path);

      adw_action_row_set_subtitle (self->ca_row, display);
    }
  else
    {
      adw_action_row_set_subtitle (self->ca_row, _("Only the system’s certificates are trusted"));
    }

  gtk_widget_set_visible (self->ca_clear_button, path != NULL);
  _doctor_window_profiles_update (self);
}

static void
on_ca_chooser_response (DoctorWindow         *self,
                        int                   response,
                        GtkFileChooserNative *chooser)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = g_file_get_path (file);

      if (path != NULL)
        set_ca_file (self, path);
    }

  g_clear_object (&self->chooser);
}

static void
on_ca_choose_clicked (DoctorWindow *self)
{
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("Certificates (PEM)"));
  gtk_file_filter_add_pattern (filter, "*.pem");
  gtk_file_filter_add_pattern (filter, "*.crt");
  gtk_file_filter_add_pattern (filter, "*.cer");
  gtk_file_filter_add_mime_type (filter, "application/x-x509-ca-cert");

  g_clear_object (&self->chooser);
  self->chooser = gtk_file_chooser_native_new (_("Choose a CA Certificate"), GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_OPEN, _("_Choose"),
                                               _("_Cancel"));
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), filter);
  g_signal_connect_object (self->chooser, "response", G_CALLBACK (on_ca_chooser_response), self,
                           G_CONNECT_SWAPPED);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
on_ca_clear_clicked (DoctorWindow *self)
{
  set_ca_file (self, NULL);
}

/* Fills the form from "host", "host:port" or a smtp://, smtps://, submission:// URI. */
gboolean
doctor_window_set_target_text (DoctorWindow  *self,
                               const char    *text,
                               GError       **error)
{
  g_autofree char *host = NULL;
  g_autofree char *user = NULL;
  DoctorSecurity security;
  gboolean security_given;
  guint16 port;
  const DoctorProvider *provider;

  g_return_val_if_fail (DOCTOR_IS_WINDOW (self), FALSE);

  if (!doctor_parse_target (text, &host, &port, &security, &security_given, &user, error))
    return FALSE;

  self->updating = TRUE;

  gtk_editable_set_text (GTK_EDITABLE (self->host_row), host);
  if (port == 0)
    port = doctor_security_default_port (security);
  set_port (self, port);
  if (!security_given)
    security = port == 465 ? DOCTOR_SECURITY_TLS : DOCTOR_SECURITY_STARTTLS;
  select_security (self, security);
  if (user != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->user_row), user);

  /* A known provider's host selects its preset, for its help. */
  provider = doctor_providers_match_host (host);
  select_provider (self, provider);

  self->updating = FALSE;
  validate_live (self);

  return TRUE;
}

void
doctor_window_set_ca_file (DoctorWindow *self,
                           const char   *path)
{
  g_autofree char *absolute = NULL;

  g_return_if_fail (DOCTOR_IS_WINDOW (self));

  absolute = path != NULL ? g_canonicalize_filename (path, NULL) : NULL;
  set_ca_file (self, absolute);
  if (path != NULL)
    adw_expander_row_set_expanded (self->advanced_row, TRUE);
}

/* Fills every field from @target, selecting @provider's preset without applying it. The
 * recipient stays when @keep_recipient: a .env file never names one, and the user's own stays.
 */
void
_doctor_window_fill_form (DoctorWindow         *self,
                          const DoctorTarget   *target,
                          const DoctorProvider *provider,
                          gboolean              keep_recipient)
{
  char timeout[G_ASCII_DTOSTR_BUF_SIZE];

  self->updating = TRUE;

  gtk_editable_set_text (GTK_EDITABLE (self->host_row), target->host != NULL ? target->host : "");
  select_security (self, target->security);
  set_port (self, doctor_target_get_port (target));
  select_provider (self, provider);
  gtk_editable_set_text (GTK_EDITABLE (self->user_row), target->user != NULL ? target->user : "");
  gtk_editable_set_text (GTK_EDITABLE (self->password_row),
                         target->secret != NULL ? target->secret : "");
  gtk_switch_set_active (self->plaintext_switch, target->allow_plaintext_auth);
  set_ca_file (self, target->ca_file);
  g_ascii_formatd (timeout, sizeof timeout, "%g", doctor_target_get_timeout_ms (target) / 1000.0);
  gtk_editable_set_text (GTK_EDITABLE (self->timeout_row), timeout);
  gtk_editable_set_text (GTK_EDITABLE (self->helo_row),
                         target->helo_name != NULL ? target->helo_name : "");
  gtk_editable_set_text (GTK_EDITABLE (self->from_row),
                         target->mail_from != NULL ? target->mail_from : "");
  if (!keep_recipient)
    gtk_editable_set_text (GTK_EDITABLE (self->to_row),
                           target->rcpt_to != NULL ? target->rcpt_to : "");

  self->updating = FALSE;
  validate_live (self);
  _doctor_window_profiles_update (self);
}

const DoctorProvider *
_doctor_window_get_provider (DoctorWindow *self)
{
  return selected_provider (self);
}

/* Puts a server's host, port and security into the form, as "Use These Settings" does. */
void
_doctor_window_use_server (DoctorWindow   *self,
                           const char     *host,
                           guint16         port,
                           DoctorSecurity  security)
{
  self->updating = TRUE;
  gtk_editable_set_text (GTK_EDITABLE (self->host_row), host);
  set_port (self, port);
  select_security (self, security);
  self->updating = FALSE;

  /* A known provider's host selects its preset, for its help. */
  select_provider (self, doctor_providers_match_host (host));
  validate_live (self);
  _doctor_window_profiles_update (self);
}

/* The form's timeout, 0 for the default (or when it is not a usable number). */
guint
_doctor_window_get_timeout_ms (DoctorWindow *self)
{
  g_autofree char *text = entry_text_stripped (self->timeout_row);
  guint timeout_ms = 0;

  if (!parse_timeout (text, &timeout_ms))
    return 0;

  return timeout_ms;
}

/* Messages ----------------------------------------------------------------------------------- */

static void
show_toast (DoctorWindow *self,
            const char   *title)
{
  AdwToast *toast = adw_toast_new (title);

  adw_toast_set_timeout (toast, 3);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

void
_doctor_window_show_toast (DoctorWindow *self,
                           const char   *title)
{
  show_toast (self, title);
}

/* A dialog of plain text (never markup: @body may hold text from a file, the keyring or a
 * server) with a Close button.
 */
void
_doctor_window_show_message (DoctorWindow *self,
                             const char   *heading,
                             const char   *body)
{
  GtkWidget *dialog = adw_message_dialog_new (GTK_WINDOW (self), heading, body);

  adw_message_dialog_set_body_use_markup (ADW_MESSAGE_DIALOG (dialog), FALSE);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "close");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "close");
  gtk_window_set_destroy_with_parent (GTK_WINDOW (dialog), TRUE);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_error_details_clicked (AdwToast *toast,
                          gpointer  user_data)
{
  DoctorWindow *self = DOCTOR_WINDOW (gtk_widget_get_ancestor (user_data,
                                                               DOCTOR_TYPE_WINDOW));
  const char *heading = g_object_get_data (G_OBJECT (toast), "heading");
  const char *message = g_object_get_data (G_OBJECT (toast), "message");

  if (self != NULL)
    _doctor_window_show_message (self, heading, message);
}

/* A short @title in a toast, with a button that shows the whole @message: for problems that
 * are worth knowing but not worth stopping for, such as a keyring that could not be read.
 */
void
_doctor_window_show_error_toast (DoctorWindow *self,
                                 const char   *title,
                                 const char   *heading,
                                 const char   *message)
{
  AdwToast *toast = adw_toast_new (title);

  adw_toast_set_timeout (toast, 10);
  adw_toast_set_priority (toast, ADW_TOAST_PRIORITY_HIGH);
  /* Translators: the button of a toast that tells of a problem, to read all of it */
  adw_toast_set_button_label (toast, _("_Details"));
  g_object_set_data_full (G_OBJECT (toast), "heading", g_strdup (heading), g_free);
  g_object_set_data_full (G_OBJECT (toast), "message", g_strdup (message), g_free);
  g_signal_connect_object (toast, "button-clicked", G_CALLBACK (on_error_details_clicked),
                           self->toast_overlay, 0);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

/* The run ------------------------------------------------------------------------------------ */

static void
clear_checklist (DoctorWindow *self)
{
  for (guint i = 0; i < self->check_rows->len; i++)
    adw_preferences_group_remove (self->checklist_group, g_ptr_array_index (self->check_rows, i));
  g_ptr_array_set_size (self->check_rows, 0);
}

static void
set_verdict (DoctorWindow *self)
{
  static const char *classes[] = { "pass", "warn", "fail" };
  g_autofree char *text = NULL;
  const char *detail = NULL;
  const char *icon;
  const char *css = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    gtk_widget_remove_css_class (GTK_WIDGET (self->verdict_icon), classes[i]);

  if (self->diagnosis == NULL)
    return;

  if (!doctor_diagnosis_is_finished (self->diagnosis))
    {
      const DoctorTarget *target = doctor_diagnosis_get_target (self->diagnosis);
      g_autofree char *where = g_strdup_printf ("%s:%u", target->host,
                                                doctor_target_get_port (target));

      gtk_image_set_from_icon_name (self->verdict_icon, "content-loading-symbolic");
      gtk_label_set_text (self->verdict_label, _("Checking…"));
      gtk_label_set_text (self->verdict_detail_label, where);
      gtk_widget_set_visible (self->suggestion_group, FALSE);
      return;
    }

  switch (doctor_diagnosis_get_verdict (self->diagnosis))
    {
    case DOCTOR_CHECK_FAIL:
      icon = "dialog-error-symbolic";
      css = "fail";
      break;
    case DOCTOR_CHECK_WARN:
      icon = "dialog-warning-symbolic";
      css = "warn";
      break;
    case DOCTOR_CHECK_PASS:
    case DOCTOR_CHECK_SKIPPED:
    case DOCTOR_CHECK_PENDING:
    case DOCTOR_CHECK_RUNNING:
    default:
      icon = "emblem-ok-symbolic";
      css = "pass";
      break;
    }

  text = doctor_report_get_verdict_text (self->diagnosis);

  /* The first problem, in a sentence, under the verdict. */
  for (guint i = 0; i < self->check_rows->len && detail == NULL; i++)
    {
      DoctorCheck *check = doctor_check_row_get_check (g_ptr_array_index (self->check_rows, i));

      if (doctor_check_get_status (check) == DOCTOR_CHECK_FAIL)
        detail = doctor_check_get_summary (check);
    }
  for (guint i = 0; i < self->check_rows->len && detail == NULL; i++)
    {
      DoctorCheck *check = doctor_check_row_get_check (g_ptr_array_index (self->check_rows, i));

      if (doctor_check_get_status (check) == DOCTOR_CHECK_WARN)
        detail = doctor_check_get_summary (check);
    }

  gtk_image_set_from_icon_name (self->verdict_icon, icon);
  gtk_widget_add_css_class (GTK_WIDGET (self->verdict_icon), css);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->verdict_icon),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, text, -1);
  gtk_label_set_text (self->verdict_label, text);
  gtk_label_set_text (self->verdict_detail_label, detail != NULL ? detail : "");
  gtk_widget_set_visible (GTK_WIDGET (self->verdict_detail_label), detail != NULL);

  _doctor_window_update_suggestion (self);
}

/* The run's own suggestion, or else the best cell of the port table. */
static const DoctorSuggestion *
current_suggestion (DoctorWindow *self)
{
  const DoctorSuggestion *suggestion = NULL;

  if (has_report (self))
    suggestion = doctor_diagnosis_get_suggestion (self->diagnosis);
  if (suggestion == NULL && (self->diagnosis == NULL || has_report (self)))
    suggestion = self->scan_suggestion;

  return suggestion;
}

void
_doctor_window_update_suggestion (DoctorWindow *self)
{
  const DoctorSuggestion *suggestion = current_suggestion (self);

  gtk_widget_set_visible (self->suggestion_group, suggestion != NULL);
  if (suggestion != NULL)
    adw_action_row_set_subtitle (self->suggestion_row, suggestion->summary);
  update_actions (self);
}

static void
set_running (DoctorWindow *self,
             gboolean      running)
{
  gtk_button_set_label (self->run_button, running ? _("_Cancel") : _("_Run Checks"));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->run_button),
                                  running ? "win.cancel" : "win.run");
  if (running)
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self->run_button), "suggested-action");
      gtk_widget_add_css_class (GTK_WIDGET (self->run_button), "destructive-action");
    }
  else
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self->run_button), "destructive-action");
      gtk_widget_add_css_class (GTK_WIDGET (self->run_button), "suggested-action");
    }

  update_actions (self);
}

static void
on_run_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(DoctorWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  DoctorDiagnosis *diagnosis = DOCTOR_DIAGNOSIS (object);

  doctor_diagnosis_run_finish (diagnosis, result, &error);

  /* A newer run may have replaced this one. */
  if (diagnosis != self->diagnosis)
    return;

  g_clear_object (&self->cancellable);
  set_running (self, FALSE);
  set_verdict (self);
  _doctor_window_run_finished (self);
  if (bench_enabled ())
    bench_mark ("run-finished");
}

/* Says what is wrong with the form, on the form, and puts the focus on the first row to fix. */
void
_doctor_window_show_form_problem (DoctorWindow *self,
                                  const char   *message)
{
  GtkWidget *rows[] = {
    GTK_WIDGET (self->host_row), GTK_WIDGET (self->port_row),
    GTK_WIDGET (self->password_row), GTK_WIDGET (self->timeout_row),
    GTK_WIDGET (self->helo_row), GTK_WIDGET (self->from_row), GTK_WIDGET (self->to_row),
  };

  gtk_label_set_text (self->form_error_label, message);
  gtk_widget_set_visible (GTK_WIDGET (self->form_error_label), TRUE);
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
  show_toast (self, message);

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      if (gtk_widget_has_css_class (rows[i], "error"))
        {
          if (rows[i] == GTK_WIDGET (self->timeout_row) ||
              rows[i] == GTK_WIDGET (self->helo_row) ||
              rows[i] == GTK_WIDGET (self->from_row) || rows[i] == GTK_WIDGET (self->to_row))
            adw_expander_row_set_expanded (self->advanced_row, TRUE);
          gtk_widget_grab_focus (rows[i]);
          break;
        }
    }
}

void
doctor_window_run (DoctorWindow *self)
{
  g_autoptr(DoctorTarget) target = NULL;
  g_autofree char *message = NULL;
  GListModel *checks;
  guint n;

  g_return_if_fail (DOCTOR_IS_WINDOW (self));

  if (doctor_window_is_running (self))
    return;

  target = read_form (self, TRUE, &message);
  if (target == NULL)
    {
      _doctor_window_show_form_problem (self, message);
      return;
    }
  gtk_widget_set_visible (GTK_WIDGET (self->form_error_label), FALSE);

  _doctor_window_clear_ports (self);
  clear_checklist (self);
  g_clear_object (&self->diagnosis);
  self->diagnosis = doctor_diagnosis_new (target);
  self->cancellable = g_cancellable_new ();

  /* Every row exists before the first check starts: the list never jumps. */
  checks = doctor_diagnosis_get_checks (self->diagnosis);
  n = g_list_model_get_n_items (checks);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(DoctorCheck) check = g_list_model_get_item (checks, i);
      GtkWidget *row = doctor_check_row_new (check);

      if (bench_enabled ())
        g_signal_connect (check, "notify::status", G_CALLBACK (on_bench_check_status), checks);
      adw_preferences_group_add (self->checklist_group, row);
      g_ptr_array_add (self->check_rows, row);
    }

  {
    g_autofree char *subtitle = g_strdup_printf ("%s:%u", target->host,
                                                 doctor_target_get_port (target));
    adw_window_title_set_subtitle (self->results_title, subtitle);
  }

  gtk_widget_set_visible (self->verdict_box, TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->checklist_group), TRUE);
  gtk_stack_set_visible_child_name (self->results_stack, "results");
  adw_leaflet_set_visible_child (self->leaflet, self->results_pane);

  set_running (self, TRUE);
  set_verdict (self);

  doctor_diagnosis_run_async (self->diagnosis, self->cancellable, on_run_done,
                              g_object_ref (self));
}

void
doctor_window_cancel (DoctorWindow *self)
{
  g_return_if_fail (DOCTOR_IS_WINDOW (self));

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  _doctor_window_network_cancel (self);
}

gboolean
doctor_window_is_running (DoctorWindow *self)
{
  g_return_val_if_fail (DOCTOR_IS_WINDOW (self), FALSE);

  return self->diagnosis != NULL && !doctor_diagnosis_is_finished (self->diagnosis);
}

DoctorDiagnosis *
doctor_window_get_diagnosis (DoctorWindow *self)
{
  g_return_val_if_fail (DOCTOR_IS_WINDOW (self), NULL);

  return self->diagnosis;
}

/* The rows of the checklist, in the order of the checks (for tests). */
GPtrArray *
doctor_window_get_check_rows (DoctorWindow *self)
{
  g_return_val_if_fail (DOCTOR_IS_WINDOW (self), NULL);

  return self->check_rows;
}

/* Actions ------------------------------------------------------------------------------------ */

static gboolean
has_report (DoctorWindow *self)
{
  return self->diagnosis != NULL && doctor_diagnosis_is_finished (self->diagnosis);
}

static void
update_actions (DoctorWindow *self)
{
  gboolean running = doctor_window_is_running (self);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.run", !running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.cancel",
                                 running || doctor_window_is_scanning (self));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.scan-ports",
                                 !running && !doctor_window_is_scanning (self));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.copy-report", has_report (self));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.save-report", has_report (self));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.show-transcript", has_report (self));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.use-suggestion",
                                 current_suggestion (self) != NULL);
}

void
_doctor_window_update_actions (DoctorWindow *self)
{
  update_actions (self);
}

static void
run_action (GtkWidget  *widget,
            const char *action_name,
            GVariant   *parameter)
{
  doctor_window_run (DOCTOR_WINDOW (widget));
}

static void
cancel_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  doctor_window_cancel (DOCTOR_WINDOW (widget));
}

static void
copy_text_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  DoctorWindow *self = DOCTOR_WINDOW (widget);

  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), g_variant_get_string (parameter, NULL));
  show_toast (self, _("Copied"));
}

static void
copy_report_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  DoctorWindow *self = DOCTOR_WINDOW (widget);
  g_autofree char *report = NULL;

  if (!has_report (self))
    return;

  report = doctor_report_to_markdown (self->diagnosis);
  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), report);
  show_toast (self, _("Report copied"));
}

static void
on_report_saved (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(DoctorWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!doctor_report_save_finish (DOCTOR_DIAGNOSIS (object), result, &error))
    {
      g_autofree char *text = g_strdup_printf (_("The report could not be saved: %s"),
                                               error->message);
      show_toast (self, text);
      return;
    }

  show_toast (self, _("Report saved"));
}

static void
on_save_response (DoctorWindow         *self,
                  int                   response,
                  GtkFileChooserNative *chooser)
{
  if (response == GTK_RESPONSE_ACCEPT && has_report (self))
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));

      doctor_report_save_async (self->diagnosis, file, doctor_report_format_for_file (file),
                                NULL, on_report_saved, g_object_ref (self));
    }

  g_clear_object (&self->chooser);
}

static void
save_report_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  DoctorWindow *self = DOCTOR_WINDOW (widget);
  g_autoptr(GtkFileFilter) markdown = gtk_file_filter_new ();
  g_autoptr(GtkFileFilter) json = gtk_file_filter_new ();

  if (!has_report (self))
    return;

  gtk_file_filter_set_name (markdown, _("Markdown Report"));
  gtk_file_filter_add_pattern (markdown, "*.md");
  gtk_file_filter_set_name (json, _("JSON Report"));
  gtk_file_filter_add_pattern (json, "*.json");

  g_clear_object (&self->chooser);
  self->chooser = gtk_file_chooser_native_new (_("Save Report"), GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"),
                                               _("_Cancel"));
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), markdown);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), json);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (self->chooser), "smtp-doctor-report.md");
  g_signal_connect_object (self->chooser, "response", G_CALLBACK (on_save_response), self,
                           G_CONNECT_SWAPPED);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
show_transcript_action (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  DoctorWindow *self = DOCTOR_WINDOW (widget);

  if (!has_report (self))
    return;

  gtk_window_present (GTK_WINDOW (doctor_transcript_window_new (GTK_WINDOW (self),
                                                                self->diagnosis)));
}

static void
use_suggestion_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  DoctorWindow *self = DOCTOR_WINDOW (widget);
  const DoctorSuggestion *suggestion = current_suggestion (self);

  if (suggestion == NULL)
    return;

  _doctor_window_use_server (self, suggestion->host, suggestion->port, suggestion->security);

  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
  show_toast (self, _("Settings changed; run the checks again"));
}

static void
on_back_clicked (DoctorWindow *self)
{
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

/* Window ------------------------------------------------------------------------------------- */

static gboolean
doctor_window_close_request (GtkWindow *window)
{
  DoctorWindow *self = DOCTOR_WINDOW (window);

  /* Unsaved changes to the open profile: the user is asked first. */
  if (_doctor_window_profiles_close_request (self))
    return TRUE;

  if (self->settings != NULL)
    {
      int width, height;

      gtk_window_get_default_size (window, &width, &height);
      g_settings_set_int (self->settings, "window-width", width);
      g_settings_set_int (self->settings, "window-height", height);
      g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));
    }

  doctor_window_cancel (self);

  return GTK_WINDOW_CLASS (doctor_window_parent_class)->close_request (window);
}

static void
doctor_window_dispose (GObject *object)
{
  DoctorWindow *self = (DoctorWindow *)object;

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);

  _doctor_window_profiles_dispose (self);
  _doctor_window_network_dispose (self);

  gtk_widget_dispose_template (GTK_WIDGET (self), DOCTOR_TYPE_WINDOW);

  G_OBJECT_CLASS (doctor_window_parent_class)->dispose (object);
}

static void
doctor_window_finalize (GObject *object)
{
  DoctorWindow *self = (DoctorWindow *)object;

  g_clear_object (&self->settings);
  g_clear_object (&self->diagnosis);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->chooser);
  g_clear_pointer (&self->check_rows, g_ptr_array_unref);
  g_clear_pointer (&self->ca_file, g_free);

  G_OBJECT_CLASS (doctor_window_parent_class)->finalize (object);
}

static void
doctor_window_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  DoctorWindow *self = DOCTOR_WINDOW (object);

  switch (prop_id)
    {
    case PROP_PROFILE_STORE:
      g_value_set_object (value, self->store);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
doctor_window_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  DoctorWindow *self = DOCTOR_WINDOW (object);

  switch (prop_id)
    {
    case PROP_PROFILE_STORE:
      g_set_object (&self->store, g_value_get_object (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
doctor_window_constructed (GObject *object)
{
  DoctorWindow *self = DOCTOR_WINDOW (object);

  G_OBJECT_CLASS (doctor_window_parent_class)->constructed (object);

  _doctor_window_profiles_init (self);
  _doctor_window_env_init (self);
  _doctor_window_network_init (self);
}

static void
doctor_window_class_init (DoctorWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->constructed = doctor_window_constructed;
  object_class->dispose = doctor_window_dispose;
  object_class->finalize = doctor_window_finalize;
  object_class->get_property = doctor_window_get_property;
  object_class->set_property = doctor_window_set_property;
  window_class->close_request = doctor_window_close_request;

  /**
   * DoctorWindow:profile-store:
   *
   * Where the profiles are kept; %NULL at construction means the user's own
   * ($XDG_CONFIG_HOME/smtp-doctor/profiles.json). Tests give a store of their own.
   */
  properties[PROP_PROFILE_STORE] =
    g_param_spec_object ("profile-store", NULL, NULL,
                         DOCTOR_TYPE_PROFILE_STORE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (DOCTOR_TYPE_CHECK_ROW);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/smtpdoctor/SmtpDoctor/doctor-window.ui");
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, form_pane);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, results_pane);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, form_title);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, profile_button);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, profiles_section);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, provider_row);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, host_row);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, port_row);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, security_row);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, login_group);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, user_row);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, password_row);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, remember_switch);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, advanced_row);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, timeout_row);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, ca_row);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, ca_clear_button);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, helo_row);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, plaintext_switch);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, from_row);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, to_row);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, form_error_label);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, run_button);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, results_stack);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, results_title);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, verdict_icon);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, verdict_label);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, verdict_detail_label);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, suggestion_group);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, suggestion_row);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, checklist_group);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, results_box);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, verdict_box);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, ports_group);
  gtk_widget_class_bind_template_child (widget_class, DoctorWindow, ports_spinner);
  gtk_widget_class_bind_template_callback (widget_class, on_ca_choose_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_ca_clear_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_back_clicked);

  gtk_widget_class_install_action (widget_class, "win.run", NULL, run_action);
  gtk_widget_class_install_action (widget_class, "win.cancel", NULL, cancel_action);
  gtk_widget_class_install_action (widget_class, "win.copy-report", NULL, copy_report_action);
  gtk_widget_class_install_action (widget_class, "win.save-report", NULL, save_report_action);
  gtk_widget_class_install_action (widget_class, "win.show-transcript", NULL,
                                   show_transcript_action);
  gtk_widget_class_install_action (widget_class, "win.use-suggestion", NULL,
                                   use_suggestion_action);
  gtk_widget_class_install_action (widget_class, "win.copy-text", "s", copy_text_action);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Return, GDK_CONTROL_MASK,
                                       "win.run", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Enter, GDK_CONTROL_MASK,
                                       "win.run", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "win.cancel", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_c,
                                       GDK_CONTROL_MASK | GDK_SHIFT_MASK,
                                       "win.copy-report", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_s, GDK_CONTROL_MASK,
                                       "win.save-report", NULL);

  _doctor_window_profiles_class_init (widget_class);
  _doctor_window_env_class_init (widget_class);
  _doctor_window_network_class_init (widget_class);
}

static GSettings *
load_settings (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;

  /* Without the installed schema (a build run in place) the window simply does not remember
   * its size; it must not abort. */
  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, APPLICATION_ID, TRUE);
  if (schema == NULL)
    return NULL;

  return g_settings_new_full (schema, NULL, NULL);
}

static void
doctor_window_init (DoctorWindow *self)
{
  g_autoptr(GtkStringList) names = gtk_string_list_new (NULL);

  gtk_widget_init_template (GTK_WIDGET (self));

  self->check_rows = g_ptr_array_new ();
  self->providers = doctor_providers_get_all ();
  self->security = DOCTOR_SECURITY_STARTTLS;

  /* Translators: the provider choice for a server that is not in the list */
  gtk_string_list_append (names, _("Other Server"));
  for (guint i = 0; i < self->providers->len; i++)
    {
      const DoctorProvider *provider = g_ptr_array_index (self->providers, i);

      gtk_string_list_append (names, provider->name);
    }
  adw_combo_row_set_model (self->provider_row, G_LIST_MODEL (names));

  set_port (self, doctor_security_default_port (DOCTOR_SECURITY_STARTTLS));

  g_signal_connect_object (self->provider_row, "notify::selected",
                           G_CALLBACK (on_provider_selected), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->security_row, "notify::selected",
                           G_CALLBACK (on_security_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->host_row, "changed", G_CALLBACK (on_host_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->port_row, "changed", G_CALLBACK (on_port_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->timeout_row, "changed", G_CALLBACK (on_form_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->helo_row, "changed", G_CALLBACK (on_form_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->from_row, "changed", G_CALLBACK (on_form_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->to_row, "changed", G_CALLBACK (on_form_changed), self,
                           G_CONNECT_SWAPPED);

  /* Enter in the form runs the checks. */
  g_signal_connect_object (self->host_row, "entry-activated", G_CALLBACK (doctor_window_run),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->port_row, "entry-activated", G_CALLBACK (doctor_window_run),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->user_row, "entry-activated", G_CALLBACK (doctor_window_run),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->password_row, "entry-activated",
                           G_CALLBACK (doctor_window_run), self, G_CONNECT_SWAPPED);

  self->settings = load_settings ();
  if (self->settings != NULL)
    {
      gtk_window_set_default_size (GTK_WINDOW (self),
                                   g_settings_get_int (self->settings, "window-width"),
                                   g_settings_get_int (self->settings, "window-height"));
      if (g_settings_get_boolean (self->settings, "window-maximized"))
        gtk_window_maximize (GTK_WINDOW (self));
    }

  update_actions (self);

  if (bench_enabled ())
    g_signal_connect (self, "realize", G_CALLBACK (on_bench_realize), NULL);
}

DoctorWindow *
doctor_window_new (AdwApplication *application)
{
  return g_object_new (DOCTOR_TYPE_WINDOW, "application", application, NULL);
}

/**
 * doctor_window_new_with_store:
 * @application: (nullable): the application
 * @store: (nullable): where the profiles are kept, or %NULL for the user's own
 *
 * Returns: (transfer floating): a new window
 */
DoctorWindow *
doctor_window_new_with_store (AdwApplication     *application,
                              DoctorProfileStore *store)
{
  return g_object_new (DOCTOR_TYPE_WINDOW, "application", application, "profile-store", store,
                       NULL);
}
