/* doctor-window-profiles.c: saved profiles in the main window, and their passwords.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The profile menu in the form's header bar lists the profiles of a DoctorProfileStore (the
 * core reads and writes the file, and keeps a damaged one aside) and offers Save, Save As,
 * Rename, Duplicate and Delete. Which profile is open is the state of the "win.profile" action,
 * so the menu shows it as a radio item, and its name is the subtitle of the form's title.
 *
 * The form is compared with what was last opened or saved as a whole (form_state()), so that
 * switching profiles, importing a .env file, duplicating or closing the window asks before
 * unsaved changes are lost (_doctor_window_confirm_discard()). The password is part of a profile only when the profile
 * remembers it, and then it lives in the keyring (doctor-keyring.h), never in profiles.json:
 * it is stored when such a profile is saved, looked up when it is opened, and cleared when the
 * user turns "Remember Password" off or deletes the profile. A keyring that cannot be used
 * leaves the password in the form for this session only, and says why.
 *
 * A deleted profile leaves the file at once; its keyring item stays until the undo toast is
 * gone (or the window closes), so that Undo brings back both.
 *
 * Dialogs never keep the window alive: a response finds the window as the dialog's transient
 * parent, and a dialog is destroyed with its parent.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "doctor-keyring.h"
#include "doctor-window-private.h"

/* Longest profile name the dialog takes, in characters: the core's limit is 256 bytes. */
#define MAX_NAME_CHARS 64

static void open_profile (DoctorWindow        *self,
                          const DoctorProfile *profile,
                          const char          *password);

static gboolean
is_disposed (DoctorWindow *self)
{
  return self->toast_overlay == NULL;
}

/* The form, as it compares ----------------------------------------------------------------- */

/* Every field of the form that a profile keeps, as one string; the password is compared on its
 * own (is_dirty()) because it is kept elsewhere, and not always. */
static char *
form_state (DoctorWindow *self)
{
  g_autofree char *provider = g_strdup_printf ("%u",
                                               adw_combo_row_get_selected (self->provider_row));
  g_autofree char *security = g_strdup_printf ("%u",
                                               adw_combo_row_get_selected (self->security_row));

  /* U+001F, the unit separator: no field can hold it (the entries are single lines, and the
   * core refuses control characters), so two different forms never give the same string. */
  return g_strjoin ("\x1f",
                    provider,
                    gtk_editable_get_text (GTK_EDITABLE (self->host_row)),
                    gtk_editable_get_text (GTK_EDITABLE (self->port_row)),
                    security,
                    gtk_editable_get_text (GTK_EDITABLE (self->user_row)),
                    gtk_switch_get_active (self->remember_switch) ? "1" : "0",
                    gtk_switch_get_active (self->plaintext_switch) ? "1" : "0",
                    self->ca_file != NULL ? self->ca_file : "",
                    gtk_editable_get_text (GTK_EDITABLE (self->timeout_row)),
                    gtk_editable_get_text (GTK_EDITABLE (self->helo_row)),
                    gtk_editable_get_text (GTK_EDITABLE (self->from_row)),
                    gtk_editable_get_text (GTK_EDITABLE (self->to_row)),
                    NULL);
}

static const char *
password_text (DoctorWindow *self)
{
  return gtk_editable_get_text (GTK_EDITABLE (self->password_row));
}

static gboolean
is_dirty (DoctorWindow *self)
{
  g_autofree char *state = NULL;

  if (self->snapshot == NULL)
    return TRUE;

  state = form_state (self);
  if (!g_str_equal (state, self->snapshot))
    return TRUE;

  /* A password is a change only where saving would keep it. */
  if (self->profile != NULL && gtk_switch_get_active (self->remember_switch))
    return g_strcmp0 (password_text (self),
                      self->saved_password != NULL ? self->saved_password : "") != 0;

  return FALSE;
}

static void
take_snapshot (DoctorWindow *self)
{
  g_free (self->snapshot);
  self->snapshot = form_state (self);
}

static void
set_saved_password (DoctorWindow *self,
                    const char   *password)
{
  g_clear_pointer (&self->saved_password, doctor_secret_free);
  self->saved_password = g_strdup (password);
}

/* Called after every change of the form: the subtitle and the actions follow. */
void
_doctor_window_profiles_update (DoctorWindow *self)
{
  gboolean loaded = self->profiles_loaded;
  gboolean open;

  if (is_disposed (self) || self->profile_action == NULL)
    return;

  open = loaded && self->profile != NULL;

  if (self->profile == NULL)
    {
      adw_window_title_set_subtitle (self->form_title, NULL);
    }
  else if (is_dirty (self))
    {
      /* Translators: the subtitle of the settings pane: the open profile's name, when the form
       * has changes that are not saved in it */
      g_autofree char *subtitle = g_strdup_printf (_("%s (edited)"), self->profile->name);

      adw_window_title_set_subtitle (self->form_title, subtitle);
    }
  else
    {
      adw_window_title_set_subtitle (self->form_title, self->profile->name);
    }

  g_simple_action_set_enabled (self->profile_action, loaded);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.profile-save", loaded);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.profile-save-as", loaded);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.profile-rename", open);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.profile-duplicate", open);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.profile-delete", open);
}

static void
set_open_uuid (DoctorWindow *self,
               const char   *uuid)
{
  g_simple_action_set_state (self->profile_action, g_variant_new_string (uuid != NULL ? uuid
                                                                         : ""));

  if (self->settings != NULL)
    g_settings_set_string (self->settings, "last-profile", uuid != NULL ? uuid : "");
}

static void
cancel_lookup (DoctorWindow *self)
{
  if (self->profile_cancellable != NULL)
    g_cancellable_cancel (self->profile_cancellable);
  g_clear_object (&self->profile_cancellable);
}

/* The form no longer shows a profile; with @proposed_name (after an import) it holds settings
 * that are in none, and "Save As" offers that name. */
void
_doctor_window_detach_profile (DoctorWindow *self,
                               const char   *proposed_name)
{
  cancel_lookup (self);
  g_clear_pointer (&self->profile, doctor_profile_free);
  set_saved_password (self, NULL);
  g_clear_pointer (&self->snapshot, g_free);
  g_free (self->proposed_name);
  self->proposed_name = g_strdup (proposed_name);
  set_open_uuid (self, NULL);
  _doctor_window_profiles_update (self);
}

/* Continuations ------------------------------------------------------------------------------ */

/* What to do once the user has decided, through one dialog or several. */
typedef struct
{
  DoctorWindowThen  func;
  gpointer          data;
  GDestroyNotify    destroy;
} Then;

static Then *
then_new (DoctorWindowThen func,
          gpointer         data,
          GDestroyNotify   destroy)
{
  Then *then = g_new0 (Then, 1);

  then->func = func;
  then->data = data;
  then->destroy = destroy;

  return then;
}

static void
then_free (Then *then)
{
  if (then == NULL)
    return;

  if (then->destroy != NULL && then->data != NULL)
    then->destroy (then->data);
  g_free (then);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Then, then_free)

/* Runs @then (if any) and frees it. */
static void
then_run (Then         *then,
          DoctorWindow *self)
{
  if (then == NULL)
    return;

  if (then->func != NULL)
    then->func (self, then->data);
  then_free (then);
}

static DoctorWindow *
dialog_window (gpointer dialog)
{
  GtkWindow *parent = gtk_window_get_transient_for (GTK_WINDOW (dialog));

  if (!DOCTOR_IS_WINDOW (parent) || is_disposed (DOCTOR_WINDOW (parent)))
    return NULL;

  return DOCTOR_WINDOW (parent);
}

/* The keyring -------------------------------------------------------------------------------- */

/* One keyring operation: the window's busy count and the application are held until it ends, so
 * that a password being saved when the last window closes is still saved. */
typedef struct
{
  DoctorWindow *self;
  GApplication *application;
  char         *uuid;
  char         *name;
  gboolean      remembered;
} KeyringOp;

static KeyringOp *
keyring_op_new (DoctorWindow *self,
                const char   *uuid,
                const char   *name)
{
  KeyringOp *op = g_new0 (KeyringOp, 1);
  GtkApplication *application = gtk_window_get_application (GTK_WINDOW (self));

  op->self = g_object_ref (self);
  op->uuid = g_strdup (uuid);
  op->name = g_strdup (name);
  if (application != NULL)
    {
      op->application = g_object_ref (G_APPLICATION (application));
      g_application_hold (op->application);
    }
  self->keyring_busy++;

  return op;
}

static void
keyring_op_free (KeyringOp *op)
{
  op->self->keyring_busy--;
  if (op->application != NULL)
    {
      g_application_release (op->application);
      g_object_unref (op->application);
    }
  g_object_unref (op->self);
  g_free (op->uuid);
  g_free (op->name);
  g_free (op);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KeyringOp, keyring_op_free)

static void
on_password_stored (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(KeyringOp) op = user_data;
  g_autoptr(GError) error = NULL;

  if (doctor_keyring_store_finish (result, &error) || is_disposed (op->self))
    return;

  /* The password stays in the form for this session; the message says so. */
  if (doctor_keyring_error_is_cancelled (error))
    _doctor_window_show_error_toast (op->self, _("The password was not saved in the keyring"),
                                     _("Password Not Saved"), error->message);
  else
    _doctor_window_show_message (op->self, _("Password Not Saved"), error->message);
}

static void
store_password (DoctorWindow        *self,
                const DoctorProfile *profile,
                const char          *password)
{
  /* No cancellable: a password being saved is saved, also when the window closes. */
  doctor_keyring_store_async (profile->uuid,
                              profile->host != NULL ? profile->host : "",
                              profile->user != NULL ? profile->user : "",
                              NULL, password, NULL, on_password_stored,
                              keyring_op_new (self, profile->uuid, profile->name));
}

static void
on_password_cleared (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(KeyringOp) op = user_data;
  g_autoptr(GError) error = NULL;

  if (doctor_keyring_clear_finish (result, &error) || is_disposed (op->self))
    return;

  /* A profile that never remembered its password has nothing to clear that the user knows
   * of: the clear only makes sure, and its failure is no news. */
  if (!op->remembered || doctor_keyring_error_is_cancelled (error))
    return;

  _doctor_window_show_error_toast (op->self, _("The saved password could not be removed"),
                                   _("Password Not Removed"), error->message);
}

static void
clear_password (DoctorWindow *self,
                const char   *uuid,
                const char   *name,
                gboolean      remembered)
{
  KeyringOp *op = keyring_op_new (self, uuid, name);

  op->remembered = remembered;
  doctor_keyring_clear_async (uuid, NULL, on_password_cleared, op);
}

static void
on_password_looked_up (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(KeyringOp) op = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(DoctorKeyringSecret) password = NULL;
  DoctorWindow *self = op->self;

  password = doctor_keyring_lookup_finish (result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || is_disposed (self) ||
      self->profile == NULL || !g_str_equal (self->profile->uuid, op->uuid))
    return;

  if (error != NULL)
    {
      if (!doctor_keyring_error_is_cancelled (error))
        _doctor_window_show_error_toast (self, _("The saved password could not be read"),
                                         _("Password Not Read"), error->message);
      return;
    }

  if (password == NULL)
    return;

  set_saved_password (self, password);

  /* What the user typed meanwhile wins. */
  if (*password_text (self) == '\0')
    gtk_editable_set_text (GTK_EDITABLE (self->password_row), password);

  _doctor_window_profiles_update (self);
}

static void
lookup_password (DoctorWindow        *self,
                 const DoctorProfile *profile)
{
  cancel_lookup (self);
  self->profile_cancellable = g_cancellable_new ();
  doctor_keyring_lookup_async (profile->uuid, self->profile_cancellable, on_password_looked_up,
                               keyring_op_new (self, profile->uuid, profile->name));
}

/* Opening and saving ------------------------------------------------------------------------- */

/* Opens @profile in the form. Its password is @password if the caller knows it, or is looked up
 * in the keyring if the profile remembers it. */
static void
open_profile (DoctorWindow        *self,
              const DoctorProfile *profile,
              const char          *password)
{
  g_autoptr(DoctorTarget) target = doctor_profile_to_target (profile);
  const DoctorProvider *provider = NULL;

  if (profile->provider != NULL)
    provider = doctor_providers_lookup (profile->provider);

  cancel_lookup (self);
  g_clear_pointer (&self->profile, doctor_profile_free);
  self->profile = doctor_profile_copy (profile);
  g_clear_pointer (&self->proposed_name, g_free);
  set_saved_password (self, password);

  if (password != NULL)
    doctor_target_set_secret (target, password);

  _doctor_window_fill_form (self, target, provider, FALSE);
  gtk_switch_set_active (self->remember_switch, profile->remember_password);
  gtk_widget_set_visible (GTK_WIDGET (self->form_error_label), FALSE);
  take_snapshot (self);
  set_open_uuid (self, profile->uuid);

  if (password == NULL && profile->remember_password)
    lookup_password (self, self->profile);

  _doctor_window_profiles_update (self);
}

static void
open_uuid_then (DoctorWindow *self,
                gpointer      data)
{
  const DoctorProfile *profile = doctor_profile_store_find (self->store, data);

  if (profile == NULL)
    {
      _doctor_window_show_toast (self, _("This profile no longer exists"));
      return;
    }

  open_profile (self, profile, NULL);
}

/* Saves the form as the open profile, or with @name as a new one, and opens what was saved. */
/* A put whose save failed is taken back in memory: the store would write it with the next
 * save of any other profile, though by then the user may have discarded the change or chosen
 * another name. @before is the profile as the store had it, or NULL if it had none. The form
 * keeps what the user typed, still unsaved, so nothing of theirs is lost.
 */
static void
take_back (DoctorWindow        *self,
           const char          *uuid,
           const DoctorProfile *before)
{
  if (before != NULL)
    doctor_profile_store_put (self->store, before, NULL);
  else
    doctor_profile_store_remove (self->store, uuid);
}

/* A copy of the profile of @uuid as the store has it, or NULL. */
static DoctorProfile *
stored_copy (DoctorWindow *self,
             const char   *uuid)
{
  const DoctorProfile *stored = doctor_profile_store_find (self->store, uuid);

  return stored != NULL ? doctor_profile_copy (stored) : NULL;
}

static gboolean
save_form (DoctorWindow *self,
           const char   *name,
           gboolean      as_new)
{
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorProfile) profile = NULL;
  g_autoptr(DoctorProfile) before = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  const DoctorProvider *provider;
  const DoctorProfile *stored;
  const DoctorProfile *old = as_new ? NULL : self->profile;
  const char *password = password_text (self);
  gboolean was_remembered = old != NULL && old->remember_password;
  gboolean attributes_changed;

  g_return_val_if_fail (name != NULL || old != NULL, FALSE);

  target = _doctor_window_read_settings (self, &message);
  if (target == NULL)
    {
      _doctor_window_show_form_problem (self, message);
      return FALSE;
    }

  provider = _doctor_window_get_provider (self);
  profile = doctor_profile_new_from_target (name != NULL ? name : old->name, target,
                                            provider != NULL ? provider->id : NULL);
  profile->remember_password = gtk_switch_get_active (self->remember_switch);

  if (old != NULL)
    {
      g_autoptr(DoctorProfile) base = doctor_profile_copy (old);

      /* The same profile: its uuid (and so its keyring item), and the members that a newer
       * version of SMTP Doctor wrote, which this one does not know but keeps. */
      g_free (profile->uuid);
      profile->uuid = g_strdup (old->uuid);
      profile->extra = g_steal_pointer (&base->extra);
    }

  before = stored_copy (self, profile->uuid);
  if (!doctor_profile_store_put (self->store, profile, &error))
    {
      _doctor_window_show_message (self, _("Profile Not Saved"), error->message);
      return FALSE;
    }
  /* The message names the file and says why (a full disk, a read-only folder…); the form
   * keeps the changes, so that Save can be tried again once that is fixed. */
  if (!doctor_profile_store_save (self->store, &error))
    {
      take_back (self, profile->uuid, before);
      _doctor_window_show_message (self, _("Profile Not Saved"), error->message);
      return FALSE;
    }

  attributes_changed = old == NULL || g_strcmp0 (old->host, profile->host) != 0 ||
                       g_strcmp0 (old->user, profile->user) != 0;

  if (profile->remember_password && *password != '\0')
    {
      if (!was_remembered || attributes_changed ||
          g_strcmp0 (password, self->saved_password) != 0)
        store_password (self, profile, password);
      set_saved_password (self, password);
    }
  else if (was_remembered && (!profile->remember_password || self->saved_password != NULL))
    {
      /* Turned off, or emptied by the user; a password that could not be read is not lost
       * by saving the other settings. */
      clear_password (self, profile->uuid, profile->name, TRUE);
      set_saved_password (self, NULL);
    }
  else if (as_new)
    {
      /* What the keyring holds for the profile that was open is not this one's. */
      set_saved_password (self, NULL);
    }

  /* A save merges what other processes saved meanwhile, and may have renamed this one. */
  cancel_lookup (self);
  stored = doctor_profile_store_find (self->store, profile->uuid);
  g_clear_pointer (&self->profile, doctor_profile_free);
  self->profile = doctor_profile_copy (stored != NULL ? stored : profile);
  g_clear_pointer (&self->proposed_name, g_free);
  take_snapshot (self);
  set_open_uuid (self, self->profile->uuid);
  _doctor_window_profiles_update (self);

  {
    /* Translators: a toast; %s is a profile's name */
    g_autofree char *text = g_strdup_printf (_("Profile “%s” saved"), self->profile->name);

    _doctor_window_show_toast (self, text);
  }

  return TRUE;
}

/* Names -------------------------------------------------------------------------------------- */

static gboolean
name_taken (DoctorWindow *self,
            const char   *name,
            const char   *except_uuid)
{
  GPtrArray *profiles = doctor_profile_store_get_profiles (self->store);

  for (guint i = 0; i < profiles->len; i++)
    {
      const DoctorProfile *profile = g_ptr_array_index (profiles, i);

      if (g_str_equal (profile->name, name) && g_strcmp0 (profile->uuid, except_uuid) != 0)
        return TRUE;
    }

  return FALSE;
}

/* @name, or "@name (2)", "@name (3)" … whichever no profile has. */
static char *
unique_name (DoctorWindow *self,
             const char   *name)
{
  if (!name_taken (self, name, NULL))
    return g_strdup (name);

  for (guint n = 2; ; n++)
    {
      /* Translators: a profile's name made unique, such as "Work (2)" */
      g_autofree char *candidate = g_strdup_printf (_("%s (%u)"), name, n);

      if (!name_taken (self, candidate, NULL))
        return g_steal_pointer (&candidate);
    }
}

typedef void (*NameFunc) (DoctorWindow *self,
                          const char   *name,
                          Then         *then);

typedef struct
{
  GtkEditable *entry;
  GtkLabel    *problem;
  char        *except_uuid;   /* the profile being renamed, which may keep its name */
  NameFunc     func;
  Then        *then;
} NameRequest;

static void
name_request_free (NameRequest *request)
{
  g_free (request->except_uuid);
  then_free (request->then);
  g_free (request);
}

static char *
request_name (NameRequest *request)
{
  return g_strstrip (g_strdup (gtk_editable_get_text (request->entry)));
}

static void
on_name_changed (AdwMessageDialog *dialog)
{
  NameRequest *request = g_object_get_data (G_OBJECT (dialog), "request");
  DoctorWindow *self = dialog_window (dialog);
  g_autofree char *name = request_name (request);
  gboolean taken;

  if (self == NULL)
    return;

  taken = *name != '\0' && name_taken (self, name, request->except_uuid);
  adw_message_dialog_set_response_enabled (dialog, "ok", *name != '\0' && !taken);
  gtk_widget_set_visible (GTK_WIDGET (request->problem), taken);
  if (taken)
    {
      g_autofree char *text = g_strdup_printf (_("A profile named “%s” already exists"), name);

      gtk_label_set_text (request->problem, text);
      gtk_widget_add_css_class (GTK_WIDGET (request->entry), "error");
    }
  else
    {
      gtk_widget_remove_css_class (GTK_WIDGET (request->entry), "error");
    }
  gtk_accessible_update_state (GTK_ACCESSIBLE (request->entry), GTK_ACCESSIBLE_STATE_INVALID,
                               taken ? GTK_ACCESSIBLE_INVALID_TRUE : GTK_ACCESSIBLE_INVALID_FALSE,
                               -1);
}

static void
on_name_response (AdwMessageDialog *dialog,
                  const char       *response)
{
  NameRequest *request = g_object_get_data (G_OBJECT (dialog), "request");
  DoctorWindow *self = dialog_window (dialog);
  g_autofree char *name = request_name (request);

  if (self == NULL || !g_str_equal (response, "ok") || *name == '\0' ||
      name_taken (self, name, request->except_uuid))
    return;

  request->func (self, name, g_steal_pointer (&request->then));
}

/* Asks for a profile's name, then calls @func with it and @then. */
static void
ask_name (DoctorWindow *self,
          const char   *heading,
          const char   *body,
          const char   *response_label,
          const char   *initial,
          const char   *except_uuid,
          NameFunc      func,
          Then         *then)
{
  GtkWidget *dialog = adw_message_dialog_new (GTK_WINDOW (self), heading, body);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *entry = gtk_entry_new ();
  GtkWidget *problem = gtk_label_new (NULL);
  NameRequest *request = g_new0 (NameRequest, 1);

  request->entry = GTK_EDITABLE (entry);
  request->problem = GTK_LABEL (problem);
  request->except_uuid = g_strdup (except_uuid);
  request->func = func;
  request->then = then;

  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  gtk_entry_set_max_length (GTK_ENTRY (entry), MAX_NAME_CHARS);
  gtk_editable_set_text (GTK_EDITABLE (entry), initial != NULL ? initial : "");
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Profile name"), -1);
  gtk_accessible_update_relation (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_RELATION_DESCRIBED_BY,
                                  problem, NULL, -1);
  gtk_label_set_wrap (GTK_LABEL (problem), TRUE);
  gtk_label_set_xalign (GTK_LABEL (problem), 0);
  gtk_widget_add_css_class (problem, "error");
  gtk_widget_set_visible (problem, FALSE);
  gtk_box_append (GTK_BOX (box), entry);
  gtk_box_append (GTK_BOX (box), problem);

  adw_message_dialog_set_body_use_markup (ADW_MESSAGE_DIALOG (dialog), FALSE);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), box);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "ok", response_label,
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "ok",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "ok");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  gtk_window_set_destroy_with_parent (GTK_WINDOW (dialog), TRUE);

  g_object_set_data_full (G_OBJECT (dialog), "request", request,
                          (GDestroyNotify) name_request_free);
  g_signal_connect_object (entry, "changed", G_CALLBACK (on_name_changed), dialog,
                           G_CONNECT_SWAPPED);
  g_signal_connect (dialog, "response", G_CALLBACK (on_name_response), NULL);
  on_name_changed (ADW_MESSAGE_DIALOG (dialog));

  gtk_window_present (GTK_WINDOW (dialog));
}

static void
save_as_named (DoctorWindow *self,
               const char   *name,
               Then         *then)
{
  g_autoptr(Then) owned = then;

  if (save_form (self, name, TRUE))
    then_run (g_steal_pointer (&owned), self);
}

static void
ask_save_as (DoctorWindow *self,
             Then         *then)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->host_row));
  g_autofree char *host = g_strstrip (g_strdup (text));
  g_autofree char *initial = NULL;
  const DoctorProvider *provider = _doctor_window_get_provider (self);

  /* A name the user is likely to keep: where the settings came from. */
  if (self->profile != NULL)
    initial = unique_name (self, self->profile->name);
  else if (self->proposed_name != NULL)
    initial = unique_name (self, self->proposed_name);
  else if (provider != NULL)
    initial = unique_name (self, provider->name);
  else if (*host != '\0')
    initial = unique_name (self, host);

  ask_name (self, _("Save Profile"),
            _("The settings are saved under this name, and the password in the keyring if it "
              "is remembered"),
            _("_Save"), initial, NULL, save_as_named, then);
}

/* Unsaved changes ---------------------------------------------------------------------------- */

static void
on_discard_response (AdwMessageDialog *dialog,
                     const char       *response)
{
  DoctorWindow *self = dialog_window (dialog);
  Then *then = g_object_steal_data (G_OBJECT (dialog), "then");

  if (self == NULL || g_str_equal (response, "cancel"))
    {
      then_free (then);
    }
  else if (g_str_equal (response, "discard"))
    {
      then_run (then, self);
    }
  else if (self->profile != NULL)
    {
      if (save_form (self, NULL, FALSE))
        then_run (then, self);
      else
        then_free (then);
    }
  else
    {
      ask_save_as (self, then);
    }
}

/* Runs @then now if the form holds nothing that would be lost, or else once the user has chosen
 * to discard the changes or to save them. */
void
_doctor_window_confirm_discard (DoctorWindow     *self,
                                DoctorWindowThen  func,
                                gpointer          data,
                                GDestroyNotify    destroy)
{
  Then *then = then_new (func, data, destroy);
  GtkWidget *dialog;

  if (!is_dirty (self))
    {
      then_run (then, self);
      return;
    }

  if (self->profile != NULL)
    {
      dialog = adw_message_dialog_new (GTK_WINDOW (self), NULL,
                                       _("The form has changes that are not saved in the "
                                         "profile. Without saving, they are lost."));
      /* Translators: a dialog's heading; %s is a profile's name */
      adw_message_dialog_format_heading (ADW_MESSAGE_DIALOG (dialog),
                                         _("Save Changes to “%s”?"), self->profile->name);
    }
  else
    {
      dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Save the Settings?"),
                                       _("The settings in the form are not saved in a profile. "
                                         "Without saving, they are lost."));
    }

  adw_message_dialog_set_body_use_markup (ADW_MESSAGE_DIALOG (dialog), FALSE);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "discard", _("_Discard"),
                                    "save", _("_Save"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "discard",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "save",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "save");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  gtk_window_set_destroy_with_parent (GTK_WINDOW (dialog), TRUE);
  g_object_set_data_full (G_OBJECT (dialog), "then", then, (GDestroyNotify) then_free);
  g_signal_connect (dialog, "response", G_CALLBACK (on_discard_response), NULL);

  gtk_window_present (GTK_WINDOW (dialog));
}

/* Closing ------------------------------------------------------------------------------------ */

static gboolean
close_idle_cb (gpointer data)
{
  gtk_window_close (GTK_WINDOW (data));
  return G_SOURCE_REMOVE;
}

static void
close_then (DoctorWindow *self,
            gpointer      data)
{
  self->close_confirmed = TRUE;
  /* From an idle: the dialog that asked is still emitting its response, and goes with the
   * window. */
  g_idle_add_full (G_PRIORITY_DEFAULT, close_idle_cb, g_object_ref (self), g_object_unref);
}

/* The window's close-request: %TRUE if it must not close yet, because the open profile has
 * unsaved changes and the user is asked (Save, Discard, Cancel); it closes once they chose
 * Save (and the save worked) or Discard. Settings that are in no profile do not ask: most runs
 * are one-off checks, and asking at every close would teach the user to click it away.
 */
gboolean
_doctor_window_profiles_close_request (DoctorWindow *self)
{
  if (self->close_confirmed || self->profile == NULL || !is_dirty (self))
    return FALSE;

  _doctor_window_confirm_discard (self, close_then, NULL, NULL);
  return TRUE;
}

/* Actions ------------------------------------------------------------------------------------ */

static void
on_profile_change_state (GSimpleAction *action,
                         GVariant      *value,
                         gpointer       user_data)
{
  DoctorWindow *self = user_data;
  const char *uuid = g_variant_get_string (value, NULL);

  if (*uuid == '\0' || (self->profile != NULL && g_str_equal (self->profile->uuid, uuid)))
    return;

  /* The state changes when the profile is open, so a cancelled switch leaves the menu as it
   * was. */
  _doctor_window_confirm_discard (self, open_uuid_then, g_strdup (uuid), g_free);
}

static void
save_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  DoctorWindow *self = DOCTOR_WINDOW (widget);

  if (self->profile != NULL)
    save_form (self, NULL, FALSE);
  else
    ask_save_as (self, NULL);
}

static void
save_as_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  ask_save_as (DOCTOR_WINDOW (widget), NULL);
}

static void
rename_named (DoctorWindow *self,
              const char   *name,
              Then         *then)
{
  g_autoptr(Then) owned = then;
  g_autoptr(DoctorProfile) renamed = NULL;
  g_autoptr(DoctorProfile) before = NULL;
  g_autoptr(GError) error = NULL;
  const DoctorProfile *stored;

  if (self->profile == NULL || g_str_equal (name, self->profile->name))
    return;

  /* Only the name changes: the form's unsaved changes stay unsaved. */
  stored = doctor_profile_store_find (self->store, self->profile->uuid);
  renamed = doctor_profile_copy (stored != NULL ? stored : self->profile);
  g_free (renamed->name);
  renamed->name = g_strdup (name);

  before = stored_copy (self, renamed->uuid);
  if (!doctor_profile_store_put (self->store, renamed, &error))
    {
      _doctor_window_show_message (self, _("Profile Not Renamed"), error->message);
      return;
    }
  if (!doctor_profile_store_save (self->store, &error))
    {
      take_back (self, renamed->uuid, before);
      _doctor_window_show_message (self, _("Profile Not Renamed"), error->message);
      return;
    }

  stored = doctor_profile_store_find (self->store, renamed->uuid);
  g_free (self->profile->name);
  self->profile->name = g_strdup (stored != NULL ? stored->name : name);
  _doctor_window_profiles_update (self);
}

static void
rename_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  DoctorWindow *self = DOCTOR_WINDOW (widget);

  if (self->profile == NULL)
    return;

  ask_name (self, _("Rename Profile"), NULL, _("_Rename"), self->profile->name,
            self->profile->uuid, rename_named, NULL);
}

static void
duplicate_then (DoctorWindow *self,
                gpointer      data)
{
  g_autoptr(DoctorProfile) copy = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *base = NULL;
  g_autofree char *password = NULL;
  const DoctorProfile *source = doctor_profile_store_find (self->store, data);
  const DoctorProfile *stored;

  if (source == NULL)
    return;

  copy = doctor_profile_copy (source);
  g_free (copy->uuid);
  copy->uuid = g_uuid_string_random ();
  /* Translators: the name of a duplicated profile; %s is the original's name */
  base = g_strdup_printf (_("%s (Copy)"), source->name);
  g_free (copy->name);
  copy->name = unique_name (self, base);

  /* The password goes with the copy when this window knows it. */
  if (self->profile != NULL && g_str_equal (self->profile->uuid, source->uuid))
    password = g_strdup (self->saved_password);

  if (!doctor_profile_store_put (self->store, copy, &error) ||
      !doctor_profile_store_save (self->store, &error))
    {
      /* A new uuid: the store had none of it before. */
      take_back (self, copy->uuid, NULL);
      _doctor_window_show_message (self, _("Profile Not Duplicated"), error->message);
      g_clear_pointer (&password, doctor_secret_free);
      return;
    }

  stored = doctor_profile_store_find (self->store, copy->uuid);
  if (stored == NULL)
    stored = copy;

  if (copy->remember_password && password != NULL)
    store_password (self, stored, password);

  open_profile (self, stored, copy->remember_password ? password : NULL);
  g_clear_pointer (&password, doctor_secret_free);
}

static void
duplicate_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  DoctorWindow *self = DOCTOR_WINDOW (widget);

  if (self->profile == NULL)
    return;

  _doctor_window_confirm_discard (self, duplicate_then, g_strdup (self->profile->uuid), g_free);
}

/* Delete, and undo --------------------------------------------------------------------------- */

typedef struct
{
  DoctorProfile *profile;
  AdwToast      *toast;
} PendingDelete;

static void
pending_delete_free (PendingDelete *pending)
{
  doctor_profile_free (pending->profile);
  g_clear_object (&pending->toast);
  g_free (pending);
}

static PendingDelete *
take_pending_delete (DoctorWindow *self,
                     AdwToast     *toast,
                     const char   *uuid)
{
  for (guint i = 0; self->pending_deletes != NULL && i < self->pending_deletes->len; i++)
    {
      PendingDelete *pending = g_ptr_array_index (self->pending_deletes, i);

      if (pending->toast == toast || (uuid != NULL && g_str_equal (pending->profile->uuid, uuid)))
        return g_ptr_array_steal_index (self->pending_deletes, i);
    }

  return NULL;
}

/* The undo is no longer possible: the keyring item goes too. */
static void
finish_delete (DoctorWindow  *self,
               PendingDelete *pending)
{
  clear_password (self, pending->profile->uuid, pending->profile->name,
                  pending->profile->remember_password);
  pending_delete_free (pending);
}

static void
on_delete_toast_dismissed (DoctorWindow *self,
                           AdwToast     *toast)
{
  PendingDelete *pending = take_pending_delete (self, toast, NULL);

  if (pending != NULL)
    finish_delete (self, pending);
}

static void
delete_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  DoctorWindow *self = DOCTOR_WINDOW (widget);
  g_autoptr(DoctorProfile) deleted = NULL;
  g_autoptr(DoctorProfile) open = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *title = NULL;
  const DoctorProfile *stored;
  PendingDelete *pending;
  AdwToast *toast;

  if (self->profile == NULL)
    return;

  stored = doctor_profile_store_find (self->store, self->profile->uuid);
  deleted = doctor_profile_copy (stored != NULL ? stored : self->profile);

  /* Closed first, so that the store's "changed" does not take it for one that another process
   * removed. */
  open = g_steal_pointer (&self->profile);
  doctor_profile_store_remove (self->store, deleted->uuid);
  if (!doctor_profile_store_save (self->store, &error))
    {
      g_autoptr(GError) put_error = NULL;

      /* Back in memory as it was: the file still has it. */
      doctor_profile_store_put (self->store, deleted, &put_error);
      self->profile = g_steal_pointer (&open);
      _doctor_window_profiles_update (self);
      _doctor_window_show_message (self, _("Profile Not Deleted"), error->message);
      return;
    }

  /* The form keeps the settings, in no profile now; nothing of them asks to be saved. */
  cancel_lookup (self);
  set_open_uuid (self, NULL);
  take_snapshot (self);
  _doctor_window_profiles_update (self);

  /* Translators: a toast with an Undo button; %s is a profile's name */
  title = g_strdup_printf (_("Profile “%s” deleted"), deleted->name);
  toast = adw_toast_new (title);
  adw_toast_set_button_label (toast, _("_Undo"));
  adw_toast_set_action_name (toast, "win.profile-undo-delete");
  adw_toast_set_action_target_value (toast, g_variant_new_string (deleted->uuid));
  adw_toast_set_priority (toast, ADW_TOAST_PRIORITY_HIGH);

  pending = g_new0 (PendingDelete, 1);
  pending->profile = g_steal_pointer (&deleted);
  pending->toast = g_object_ref (toast);
  g_ptr_array_add (self->pending_deletes, pending);

  g_signal_connect_object (toast, "dismissed", G_CALLBACK (on_delete_toast_dismissed), self,
                           G_CONNECT_SWAPPED);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void
undo_delete_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  DoctorWindow *self = DOCTOR_WINDOW (widget);
  const char *uuid = g_variant_get_string (parameter, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *state = NULL;
  PendingDelete *pending = take_pending_delete (self, NULL, uuid);
  AdwToast *toast;

  if (pending == NULL)
    return;

  if (!doctor_profile_store_put (self->store, pending->profile, &error) ||
      !doctor_profile_store_save (self->store, &error))
    {
      /* Deleted it stays, in memory too: finish_delete() clears its password, and a later
       * save must not bring the profile back without it. */
      take_back (self, pending->profile->uuid, NULL);
      _doctor_window_show_message (self, _("Profile Not Restored"), error->message);
      finish_delete (self, pending);
      return;
    }

  /* Open again, if the form is still as the delete left it. */
  state = form_state (self);
  if (self->profile == NULL && self->snapshot != NULL && g_str_equal (state, self->snapshot))
    {
      const DoctorProfile *stored = doctor_profile_store_find (self->store, uuid);

      self->profile = doctor_profile_copy (stored != NULL ? stored : pending->profile);
      set_open_uuid (self, self->profile->uuid);
      _doctor_window_profiles_update (self);
    }

  toast = g_steal_pointer (&pending->toast);
  pending_delete_free (pending);
  adw_toast_dismiss (toast);
  g_object_unref (toast);
}

/* The menu, and loading ---------------------------------------------------------------------- */

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  const DoctorProfile *pa = *(const DoctorProfile * const *) a;
  const DoctorProfile *pb = *(const DoctorProfile * const *) b;

  return g_utf8_collate (pa->name, pb->name);
}

static void
rebuild_menu (DoctorWindow *self)
{
  GPtrArray *profiles = doctor_profile_store_get_profiles (self->store);
  g_autoptr(GPtrArray) sorted = g_ptr_array_sized_new (profiles->len);

  for (guint i = 0; i < profiles->len; i++)
    g_ptr_array_add (sorted, g_ptr_array_index (profiles, i));
  g_ptr_array_sort (sorted, compare_names);

  g_menu_remove_all (self->profiles_section);
  for (guint i = 0; i < sorted->len; i++)
    {
      const DoctorProfile *profile = g_ptr_array_index (sorted, i);
      g_auto(GStrv) parts = g_strsplit (profile->name, "_", -1);
      /* Menu labels take "_" for a mnemonic; a name's own is doubled to be shown. */
      g_autofree char *label = g_strjoinv ("__", parts);
      g_autoptr(GMenuItem) item = g_menu_item_new (label, NULL);

      g_menu_item_set_action_and_target_value (item, "win.profile",
                                               g_variant_new_string (profile->uuid));
      g_menu_append_item (self->profiles_section, item);
    }
}

static void
on_store_changed (DoctorWindow *self)
{
  if (is_disposed (self))
    return;

  rebuild_menu (self);

  /* A save brings in what other processes did: the open profile may be renamed or gone. */
  if (self->profile != NULL)
    {
      const DoctorProfile *stored = doctor_profile_store_find (self->store, self->profile->uuid);

      if (stored == NULL)
        {
          g_autofree char *name = g_strdup (self->profile->name);

          _doctor_window_detach_profile (self, name);
        }
      else if (!g_str_equal (stored->name, self->profile->name))
        {
          g_free (self->profile->name);
          self->profile->name = g_strdup (stored->name);
        }
    }

  _doctor_window_profiles_update (self);
}

static gboolean
load_profiles_cb (gpointer data)
{
  DoctorWindow *self = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *last = NULL;

  self->load_source = 0;

  /* A damaged file has been moved aside by now, and the message says where. */
  if (!doctor_profile_store_load (self->store, &error))
    _doctor_window_show_message (self, _("Saved Profiles Could Not Be Read"), error->message);

  self->profiles_loaded = TRUE;

  /* The last profile opens again, unless the form already holds something else (a server
   * given on the command line). The key holds a uuid; find() also takes a name. */
  if (self->settings != NULL)
    last = g_settings_get_string (self->settings, "last-profile");
  if (last != NULL && *last != '\0' && self->profile == NULL && !is_dirty (self))
    {
      const DoctorProfile *profile = doctor_profile_store_find (self->store, last);

      if (profile != NULL)
        open_profile (self, profile, NULL);
    }

  _doctor_window_profiles_update (self);

  return G_SOURCE_REMOVE;
}

/* The file is read after the window is shown, so that a slow disk never delays the first
 * frame. */
static void
on_map (DoctorWindow *self)
{
  if (self->profiles_loaded || self->load_source != 0)
    return;

  self->load_source = g_idle_add_full (G_PRIORITY_LOW, load_profiles_cb, self, NULL);
}

void
_doctor_window_profiles_class_init (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "win.profile-save", NULL, save_action);
  gtk_widget_class_install_action (widget_class, "win.profile-save-as", NULL, save_as_action);
  gtk_widget_class_install_action (widget_class, "win.profile-rename", NULL, rename_action);
  gtk_widget_class_install_action (widget_class, "win.profile-duplicate", NULL,
                                   duplicate_action);
  gtk_widget_class_install_action (widget_class, "win.profile-delete", NULL, delete_action);
  gtk_widget_class_install_action (widget_class, "win.profile-undo-delete", "s",
                                   undo_delete_action);

  /* Ctrl+S saves the report; the profile takes the shifted one. */
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_s,
                                       GDK_CONTROL_MASK | GDK_SHIFT_MASK,
                                       "win.profile-save", NULL);
}

void
_doctor_window_profiles_init (DoctorWindow *self)
{
  GtkWidget *rows[] = {
    GTK_WIDGET (self->host_row), GTK_WIDGET (self->port_row), GTK_WIDGET (self->user_row),
    GTK_WIDGET (self->password_row), GTK_WIDGET (self->timeout_row),
    GTK_WIDGET (self->helo_row), GTK_WIDGET (self->from_row), GTK_WIDGET (self->to_row),
  };

  if (self->store == NULL)
    self->store = doctor_profile_store_new (NULL);
  self->pending_deletes = g_ptr_array_new ();

  /* A stateful action, so that the menu shows the open profile as a radio item; widget class
   * actions can only be stateful through a property. */
  self->profile_action = g_simple_action_new_stateful ("profile", G_VARIANT_TYPE_STRING,
                                                       g_variant_new_string (""));
  g_signal_connect_object (self->profile_action, "change-state",
                           G_CALLBACK (on_profile_change_state), self, 0);
  g_action_map_add_action (G_ACTION_MAP (self), G_ACTION (self->profile_action));
  g_object_unref (self->profile_action);

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    g_signal_connect_object (rows[i], "changed", G_CALLBACK (_doctor_window_profiles_update),
                             self, G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  g_signal_connect_object (self->provider_row, "notify::selected",
                           G_CALLBACK (_doctor_window_profiles_update), self,
                           G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  g_signal_connect_object (self->security_row, "notify::selected",
                           G_CALLBACK (_doctor_window_profiles_update), self,
                           G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  g_signal_connect_object (self->remember_switch, "notify::active",
                           G_CALLBACK (_doctor_window_profiles_update), self,
                           G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  g_signal_connect_object (self->plaintext_switch, "notify::active",
                           G_CALLBACK (_doctor_window_profiles_update), self,
                           G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  g_signal_connect_object (self->store, "changed", G_CALLBACK (on_store_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect (self, "map", G_CALLBACK (on_map), NULL);

  take_snapshot (self);
  _doctor_window_profiles_update (self);
}

void
_doctor_window_profiles_dispose (DoctorWindow *self)
{
  g_clear_handle_id (&self->load_source, g_source_remove);
  cancel_lookup (self);

  /* The window closes before the undo toasts expire: the deletes are final now. */
  while (self->pending_deletes != NULL && self->pending_deletes->len > 0)
    finish_delete (self, g_ptr_array_steal_index (self->pending_deletes, 0));
  g_clear_pointer (&self->pending_deletes, g_ptr_array_unref);

  if (self->store != NULL)
    g_signal_handlers_disconnect_by_data (self->store, self);
  g_clear_object (&self->store);
  g_clear_pointer (&self->profile, doctor_profile_free);
  g_clear_pointer (&self->snapshot, g_free);
  g_clear_pointer (&self->saved_password, doctor_secret_free);
  g_clear_pointer (&self->proposed_name, g_free);
  self->profile_action = NULL;
}

/* For tests ---------------------------------------------------------------------------------- */

DoctorProfileStore *
doctor_window_get_profile_store (DoctorWindow *self)
{
  g_return_val_if_fail (DOCTOR_IS_WINDOW (self), NULL);

  return self->store;
}

/**
 * doctor_window_get_profile:
 *
 * Returns: (nullable): the open profile as it was saved
 */
const DoctorProfile *
doctor_window_get_profile (DoctorWindow *self)
{
  g_return_val_if_fail (DOCTOR_IS_WINDOW (self), NULL);

  return self->profile;
}

/* Whether the profiles are still to be read, or a keyring operation is under way. */
gboolean
doctor_window_is_busy (DoctorWindow *self)
{
  g_return_val_if_fail (DOCTOR_IS_WINDOW (self), FALSE);

  return !self->profiles_loaded || self->keyring_busy > 0;
}
