/* doctor-window-private.h: what the parts of the main window share.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The window is one class in three files, as gnome-text-editor splits EditorWindow:
 * doctor-window.c has the form and the run, doctor-window-profiles.c the saved profiles and
 * their passwords in the keyring, doctor-window-env.c the .env import and "Copy as .env". The
 * struct is here so that each part reads the form's widgets directly.
 */
#pragma once

#include "doctor-discovery.h"
#include "doctor-port-scan.h"
#include "doctor-profiles.h"
#include "doctor-providers.h"
#include "doctor-window.h"

G_BEGIN_DECLS

struct _DoctorWindow
{
  AdwApplicationWindow  parent_instance;

  /* Template widgets */
  AdwToastOverlay      *toast_overlay;
  AdwLeaflet           *leaflet;
  GtkWidget            *form_pane;
  GtkWidget            *results_pane;
  AdwWindowTitle       *form_title;
  GtkMenuButton        *profile_button;
  GMenu                *profiles_section;
  AdwComboRow          *provider_row;
  AdwEntryRow          *host_row;
  AdwEntryRow          *port_row;
  AdwComboRow          *security_row;
  AdwPreferencesGroup  *login_group;
  AdwEntryRow          *user_row;
  AdwPasswordEntryRow  *password_row;
  GtkSwitch            *remember_switch;
  AdwExpanderRow       *advanced_row;
  AdwEntryRow          *timeout_row;
  AdwActionRow         *ca_row;
  GtkWidget            *ca_clear_button;
  AdwEntryRow          *helo_row;
  GtkSwitch            *plaintext_switch;
  AdwEntryRow          *from_row;
  AdwEntryRow          *to_row;
  GtkLabel             *form_error_label;
  GtkButton            *run_button;
  GtkStack             *results_stack;
  AdwWindowTitle       *results_title;
  GtkImage             *verdict_icon;
  GtkLabel             *verdict_label;
  GtkLabel             *verdict_detail_label;
  GtkWidget            *suggestion_group;
  AdwActionRow         *suggestion_row;
  AdwPreferencesGroup  *checklist_group;
  GtkBox               *results_box;
  GtkWidget            *verdict_box;
  AdwPreferencesGroup  *ports_group;
  GtkWidget            *ports_spinner;

  /* Owned */
  GSettings            *settings;
  DoctorDiagnosis      *diagnosis;
  GCancellable         *cancellable;
  GPtrArray            *check_rows;
  GtkFileChooserNative *chooser;
  char                 *ca_file;

  /* Owned: profiles (doctor-window-profiles.c) */
  DoctorProfileStore   *store;
  DoctorProfile        *profile;          /* the open profile as it was saved, or NULL */
  char                 *snapshot;         /* the form when it was last opened or saved; NULL:
                                           * it holds settings that are in no profile */
  char                 *saved_password;   /* what the keyring holds for the open profile, or
                                           * NULL if unknown; wiped when freed */
  char                 *proposed_name;    /* for "Save As", after an import */
  GCancellable         *profile_cancellable;
  GPtrArray            *pending_deletes;  /* deleted profiles whose undo toast is up */
  guint                 load_source;
  guint                 keyring_busy;     /* keyring operations of this window in flight */

  /* Owned: the port table and "Detect Settings" (doctor-window-network.c) */
  DoctorPortScan       *port_scan;
  GCancellable         *scan_cancellable;
  GPtrArray            *port_rows;        /* one AdwActionRow per cell, in the scan's order */
  DoctorSuggestion     *scan_suggestion;  /* the scan's best cell, offered when the run has
                                           * no suggestion of its own */
  DoctorDiscovery      *discovery;
  GCancellable         *discovery_cancellable;
  AdwMessageDialog     *discovery_dialog; /* borrowed: destroyed with the window */

  /* Borrowed: the presets are loaded once for the process */
  GPtrArray            *providers;
  GSimpleAction        *profile_action;   /* "win.profile", in the window's action map */

  DoctorSecurity        security;
  guint                 updating : 1;
  guint                 profiles_loaded : 1;
  guint                 close_confirmed : 1;  /* the user chose Save or Discard on closing */
};

/* doctor-window.c */
DoctorTarget         *_doctor_window_read_settings      (DoctorWindow         *self,
                                                         char                **message);
void                  _doctor_window_show_form_problem  (DoctorWindow         *self,
                                                         const char           *message);
void                  _doctor_window_fill_form          (DoctorWindow         *self,
                                                         const DoctorTarget   *target,
                                                         const DoctorProvider *provider,
                                                         gboolean              keep_recipient);
const DoctorProvider *_doctor_window_get_provider       (DoctorWindow         *self);
void                  _doctor_window_show_toast         (DoctorWindow         *self,
                                                         const char           *title);
void                  _doctor_window_show_error_toast   (DoctorWindow         *self,
                                                         const char           *title,
                                                         const char           *heading,
                                                         const char           *message);
void                  _doctor_window_show_message       (DoctorWindow         *self,
                                                         const char           *heading,
                                                         const char           *body);
void                  _doctor_window_update_actions     (DoctorWindow         *self);
void                  _doctor_window_update_suggestion  (DoctorWindow         *self);
void                  _doctor_window_use_server         (DoctorWindow         *self,
                                                         const char           *host,
                                                         guint16               port,
                                                         DoctorSecurity        security);
guint                 _doctor_window_get_timeout_ms     (DoctorWindow         *self);

/* doctor-window-profiles.c */
typedef void (*DoctorWindowThen) (DoctorWindow *self,
                                  gpointer      data);

void                  _doctor_window_profiles_class_init (GtkWidgetClass      *widget_class);
void                  _doctor_window_profiles_init       (DoctorWindow        *self);
void                  _doctor_window_profiles_dispose    (DoctorWindow        *self);
void                  _doctor_window_profiles_update     (DoctorWindow        *self);
void                  _doctor_window_confirm_discard     (DoctorWindow        *self,
                                                          DoctorWindowThen     then,
                                                          gpointer             data,
                                                          GDestroyNotify       destroy);
void                  _doctor_window_detach_profile      (DoctorWindow        *self,
                                                          const char          *proposed_name);
gboolean              _doctor_window_profiles_close_request (DoctorWindow     *self);

/* doctor-window-env.c */
void                  _doctor_window_env_class_init      (GtkWidgetClass      *widget_class);
void                  _doctor_window_env_init            (DoctorWindow        *self);

/* doctor-window-network.c */
void                  _doctor_window_network_class_init  (GtkWidgetClass      *widget_class);
void                  _doctor_window_network_init        (DoctorWindow        *self);
void                  _doctor_window_network_dispose     (DoctorWindow        *self);
void                  _doctor_window_network_cancel      (DoctorWindow        *self);
void                  _doctor_window_clear_ports         (DoctorWindow        *self);
void                  _doctor_window_run_finished        (DoctorWindow        *self);

G_END_DECLS
