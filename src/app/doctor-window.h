/* doctor-window.h: the main window.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "doctor-diagnosis.h"
#include "doctor-discovery.h"
#include "doctor-profiles.h"

G_BEGIN_DECLS

#define DOCTOR_TYPE_WINDOW (doctor_window_get_type ())

G_DECLARE_FINAL_TYPE (DoctorWindow, doctor_window, DOCTOR, WINDOW, AdwApplicationWindow)

DoctorWindow        *doctor_window_new                (AdwApplication     *application);
DoctorWindow        *doctor_window_new_with_store     (AdwApplication     *application,
                                                       DoctorProfileStore *store);
gboolean             doctor_window_set_target_text    (DoctorWindow       *self,
                                                       const char         *text,
                                                       GError            **error);
void                 doctor_window_set_ca_file        (DoctorWindow       *self,
                                                       const char         *path);
void                 doctor_window_run                (DoctorWindow       *self);
void                 doctor_window_cancel             (DoctorWindow       *self);
gboolean             doctor_window_is_running         (DoctorWindow       *self);
DoctorDiagnosis     *doctor_window_get_diagnosis      (DoctorWindow       *self);
GPtrArray           *doctor_window_get_check_rows     (DoctorWindow       *self);

void                 doctor_window_scan_ports         (DoctorWindow       *self);
gboolean             doctor_window_is_scanning        (DoctorWindow       *self);
DoctorPortScan      *doctor_window_get_port_scan      (DoctorWindow       *self);
GPtrArray           *doctor_window_get_port_rows      (DoctorWindow       *self);
void                 doctor_window_detect_settings    (DoctorWindow       *self,
                                                       const char         *address);
gboolean             doctor_window_is_detecting       (DoctorWindow       *self);
DoctorDiscovery     *doctor_window_get_discovery      (DoctorWindow       *self);

void                 doctor_window_open_env_file      (DoctorWindow       *self,
                                                       GFile              *file);
DoctorProfileStore  *doctor_window_get_profile_store  (DoctorWindow       *self);
const DoctorProfile *doctor_window_get_profile        (DoctorWindow       *self);
gboolean             doctor_window_is_busy            (DoctorWindow       *self);

G_END_DECLS
