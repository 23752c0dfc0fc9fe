/* doctor-check.h: one item of the checklist.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A check is created pending, becomes running, then ends in pass, warn, fail or skipped. It
 * carries a stable reason code, a one-sentence summary, ordered details (key, label, value or
 * list of values) and advice. Front ends watch notify::status and the "changed" signal; only
 * the diagnosis, on the main context, changes a check.
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum
{
  DOCTOR_CHECK_PENDING,
  DOCTOR_CHECK_RUNNING,
  DOCTOR_CHECK_PASS,
  DOCTOR_CHECK_WARN,
  DOCTOR_CHECK_FAIL,
  DOCTOR_CHECK_SKIPPED,
} DoctorCheckStatus;

typedef struct
{
  char   *key;        /* stable, for JSON: "address", "capabilities" */
  char   *label;      /* translated, for people */
  char      *value;   /* NULL when values is set; ISO 8601 when date is set */
  GStrv      values;
  GDateTime *date;    /* set for a date, which people see in their locale's form */
} DoctorDetail;

typedef struct
{
  char   *title;
  char   *text;
  GStrv   commands;   /* copyable commands, may be empty */
} DoctorAdvice;

#define DOCTOR_TYPE_CHECK (doctor_check_get_type ())

G_DECLARE_FINAL_TYPE (DoctorCheck, doctor_check, DOCTOR, CHECK, GObject)

DoctorCheck       *doctor_check_new             (const char        *id);
const char        *doctor_check_get_id          (DoctorCheck       *self);
const char        *doctor_check_get_title       (DoctorCheck       *self);
DoctorCheckStatus  doctor_check_get_status      (DoctorCheck       *self);
const char        *doctor_check_get_reason      (DoctorCheck       *self);
const char        *doctor_check_get_summary     (DoctorCheck       *self);
gint64             doctor_check_get_duration_ms (DoctorCheck       *self);
GPtrArray         *doctor_check_get_details     (DoctorCheck       *self);
const char        *doctor_check_get_detail      (DoctorCheck       *self,
                                                 const char        *key);
GStrv              doctor_check_get_detail_list (DoctorCheck       *self,
                                                 const char        *key);
GPtrArray         *doctor_check_get_advice      (DoctorCheck       *self);
gboolean           doctor_check_is_finished     (DoctorCheck       *self);

/* Used by the engine. */
void               doctor_check_start           (DoctorCheck       *self);
void               doctor_check_finish          (DoctorCheck       *self,
                                                 DoctorCheckStatus  status,
                                                 const char        *reason,
                                                 const char        *summary);
void               doctor_check_set_detail      (DoctorCheck       *self,
                                                 const char        *key,
                                                 const char        *label,
                                                 const char        *value);
void               doctor_check_set_detail_date (DoctorCheck       *self,
                                                 const char        *key,
                                                 const char        *label,
                                                 GDateTime         *date);
void               doctor_check_set_detail_list (DoctorCheck       *self,
                                                 const char        *key,
                                                 const char        *label,
                                                 const char *const *values);
void               doctor_check_add_advice      (DoctorCheck       *self,
                                                 const char        *title,
                                                 const char        *text,
                                                 const char *const *commands);

const char        *doctor_check_status_to_string (DoctorCheckStatus status);
const char        *doctor_check_status_get_label (DoctorCheckStatus status);
const char        *doctor_check_id_get_title     (const char       *id);

void               doctor_advice_free           (DoctorAdvice      *advice);
void               doctor_detail_free           (DoctorDetail      *detail);

G_END_DECLS
