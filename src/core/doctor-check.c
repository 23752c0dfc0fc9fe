/* doctor-check.c: one item of the checklist.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "doctor-check.h"

struct _DoctorCheck
{
  GObject            parent_instance;

  char              *id;
  char              *reason;
  char              *summary;
  DoctorCheckStatus  status;
  gint64             started_us;
  gint64             duration_ms;
  GPtrArray         *details;   /* (element-type DoctorDetail) */
  GPtrArray         *advice;    /* (element-type DoctorAdvice) */
};

G_DEFINE_FINAL_TYPE (DoctorCheck, doctor_check, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_TITLE,
  PROP_STATUS,
  PROP_REASON,
  PROP_SUMMARY,
  PROP_DURATION_MS,
  N_PROPS
};

enum {
  CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

void
doctor_advice_free (DoctorAdvice *advice)
{
  if (advice == NULL)
    return;

  g_free (advice->title);
  g_free (advice->text);
  g_strfreev (advice->commands);
  g_free (advice);
}

void
doctor_detail_free (DoctorDetail *detail)
{
  if (detail == NULL)
    return;

  g_free (detail->key);
  g_free (detail->label);
  g_free (detail->value);
  g_strfreev (detail->values);
  g_clear_pointer (&detail->date, g_date_time_unref);
  g_free (detail);
}

const char *
doctor_check_status_to_string (DoctorCheckStatus status)
{
  switch (status)
    {
    case DOCTOR_CHECK_PENDING: return "pending";
    case DOCTOR_CHECK_RUNNING: return "running";
    case DOCTOR_CHECK_PASS:    return "pass";
    case DOCTOR_CHECK_WARN:    return "warn";
    case DOCTOR_CHECK_FAIL:    return "fail";
    case DOCTOR_CHECK_SKIPPED: return "skipped";
    default:                   g_return_val_if_reached ("pending");
    }
}

const char *
doctor_check_status_get_label (DoctorCheckStatus status)
{
  switch (status)
    {
    case DOCTOR_CHECK_PENDING: return _("Waiting");
    case DOCTOR_CHECK_RUNNING: return _("Running");
    case DOCTOR_CHECK_PASS:    return _("Passed");
    case DOCTOR_CHECK_WARN:    return _("Warning");
    case DOCTOR_CHECK_FAIL:    return _("Failed");
    case DOCTOR_CHECK_SKIPPED: return _("Skipped");
    default:                   g_return_val_if_reached ("");
    }
}

const char *
doctor_check_id_get_title (const char *id)
{
  static const struct { const char *id; const char *title; } titles[] = {
    { "dns", N_("DNS lookup") },
    { "connect", N_("Connection") },
    { "tls", N_("TLS handshake") },
    { "greeting", N_("Server greeting") },
    { "ehlo", N_("EHLO") },
    { "starttls", N_("STARTTLS") },
    { "certificate", N_("Certificate") },
    { "auth", N_("Login") },
    { "send", N_("Test message") },
  };

  for (guint i = 0; i < G_N_ELEMENTS (titles); i++)
    {
      if (g_str_equal (titles[i].id, id))
        return _(titles[i].title);
    }

  return id;
}

static void
doctor_check_finalize (GObject *object)
{
  DoctorCheck *self = (DoctorCheck *)object;

  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->reason, g_free);
  g_clear_pointer (&self->summary, g_free);
  g_clear_pointer (&self->details, g_ptr_array_unref);
  g_clear_pointer (&self->advice, g_ptr_array_unref);

  G_OBJECT_CLASS (doctor_check_parent_class)->finalize (object);
}

static void
doctor_check_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  DoctorCheck *self = DOCTOR_CHECK (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;

    case PROP_TITLE:
      g_value_set_string (value, doctor_check_get_title (self));
      break;

    case PROP_STATUS:
      g_value_set_int (value, self->status);
      break;

    case PROP_REASON:
      g_value_set_string (value, self->reason);
      break;

    case PROP_SUMMARY:
      g_value_set_string (value, self->summary);
      break;

    case PROP_DURATION_MS:
      g_value_set_int64 (value, self->duration_ms);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
doctor_check_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  DoctorCheck *self = DOCTOR_CHECK (object);

  switch (prop_id)
    {
    case PROP_ID:
      self->id = g_value_dup_string (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
doctor_check_class_init (DoctorCheckClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = doctor_check_finalize;
  object_class->get_property = doctor_check_get_property;
  object_class->set_property = doctor_check_set_property;

  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TITLE] =
    g_param_spec_string ("title", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATUS] =
    g_param_spec_int ("status", NULL, NULL,
                      DOCTOR_CHECK_PENDING, DOCTOR_CHECK_SKIPPED, DOCTOR_CHECK_PENDING,
                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_REASON] =
    g_param_spec_string ("reason", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SUMMARY] =
    g_param_spec_string ("summary", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_DURATION_MS] =
    g_param_spec_int64 ("duration-ms", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * DoctorCheck::changed:
   *
   * Emitted when the details or the advice change.
   */
  signals[CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
doctor_check_init (DoctorCheck *self)
{
  self->details = g_ptr_array_new_with_free_func ((GDestroyNotify) doctor_detail_free);
  self->advice = g_ptr_array_new_with_free_func ((GDestroyNotify) doctor_advice_free);
}

DoctorCheck *
doctor_check_new (const char *id)
{
  return g_object_new (DOCTOR_TYPE_CHECK, "id", id, NULL);
}

const char *
doctor_check_get_id (DoctorCheck *self)
{
  g_return_val_if_fail (DOCTOR_IS_CHECK (self), NULL);
  return self->id;
}

const char *
doctor_check_get_title (DoctorCheck *self)
{
  g_return_val_if_fail (DOCTOR_IS_CHECK (self), NULL);
  return doctor_check_id_get_title (self->id);
}

DoctorCheckStatus
doctor_check_get_status (DoctorCheck *self)
{
  g_return_val_if_fail (DOCTOR_IS_CHECK (self), DOCTOR_CHECK_PENDING);
  return self->status;
}

const char *
doctor_check_get_reason (DoctorCheck *self)
{
  g_return_val_if_fail (DOCTOR_IS_CHECK (self), NULL);
  return self->reason;
}

const char *
doctor_check_get_summary (DoctorCheck *self)
{
  g_return_val_if_fail (DOCTOR_IS_CHECK (self), NULL);
  return self->summary;
}

gint64
doctor_check_get_duration_ms (DoctorCheck *self)
{
  g_return_val_if_fail (DOCTOR_IS_CHECK (self), 0);
  return self->duration_ms;
}

GPtrArray *
doctor_check_get_details (DoctorCheck *self)
{
  g_return_val_if_fail (DOCTOR_IS_CHECK (self), NULL);
  return self->details;
}

GPtrArray *
doctor_check_get_advice (DoctorCheck *self)
{
  g_return_val_if_fail (DOCTOR_IS_CHECK (self), NULL);
  return self->advice;
}

gboolean
doctor_check_is_finished (DoctorCheck *self)
{
  g_return_val_if_fail (DOCTOR_IS_CHECK (self), FALSE);
  return self->status > DOCTOR_CHECK_RUNNING;
}

static DoctorDetail *
find_detail (DoctorCheck *self,
             const char  *key)
{
  for (guint i = 0; i < self->details->len; i++)
    {
      DoctorDetail *detail = g_ptr_array_index (self->details, i);

      if (g_str_equal (detail->key, key))
        return detail;
    }

  return NULL;
}

const char *
doctor_check_get_detail (DoctorCheck *self,
                         const char  *key)
{
  DoctorDetail *detail;

  g_return_val_if_fail (DOCTOR_IS_CHECK (self), NULL);

  detail = find_detail (self, key);
  return detail != NULL ? detail->value : NULL;
}

GStrv
doctor_check_get_detail_list (DoctorCheck *self,
                              const char  *key)
{
  DoctorDetail *detail;

  g_return_val_if_fail (DOCTOR_IS_CHECK (self), NULL);

  detail = find_detail (self, key);
  return detail != NULL ? detail->values : NULL;
}

void
doctor_check_start (DoctorCheck *self)
{
  g_return_if_fail (DOCTOR_IS_CHECK (self));
  g_return_if_fail (self->status == DOCTOR_CHECK_PENDING);

  self->status = DOCTOR_CHECK_RUNNING;
  self->started_us = g_get_monotonic_time ();
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

void
doctor_check_finish (DoctorCheck       *self,
                     DoctorCheckStatus  status,
                     const char        *reason,
                     const char        *summary)
{
  g_return_if_fail (DOCTOR_IS_CHECK (self));
  g_return_if_fail (status > DOCTOR_CHECK_RUNNING);

  if (doctor_check_is_finished (self))
    return;

  g_object_freeze_notify (G_OBJECT (self));

  if (self->started_us != 0)
    {
      self->duration_ms = (g_get_monotonic_time () - self->started_us) / 1000;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DURATION_MS]);
    }

  g_free (self->reason);
  self->reason = g_strdup (reason);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REASON]);

  g_free (self->summary);
  self->summary = g_strdup (summary);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SUMMARY]);

  self->status = status;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);

  g_object_thaw_notify (G_OBJECT (self));
}

static DoctorDetail *
replace_detail (DoctorCheck *self,
                const char  *key,
                const char  *label)
{
  DoctorDetail *detail = find_detail (self, key);

  if (detail == NULL)
    {
      detail = g_new0 (DoctorDetail, 1);
      detail->key = g_strdup (key);
      g_ptr_array_add (self->details, detail);
    }

  g_free (detail->label);
  detail->label = g_strdup (label);
  g_clear_pointer (&detail->value, g_free);
  g_clear_pointer (&detail->values, g_strfreev);
  g_clear_pointer (&detail->date, g_date_time_unref);

  return detail;
}

void
doctor_check_set_detail (DoctorCheck *self,
                         const char  *key,
                         const char  *label,
                         const char  *value)
{
  g_return_if_fail (DOCTOR_IS_CHECK (self));
  g_return_if_fail (key != NULL);

  replace_detail (self, key, label)->value = g_strdup (value != NULL ? value : "");
  g_signal_emit (self, signals[CHANGED], 0);
}

/* The value is the date in ISO 8601, the form of the JSON report; the front ends show
 * the date itself in the locale's form (doctor_detail_dup_display_text()). */
void
doctor_check_set_detail_date (DoctorCheck *self,
                              const char  *key,
                              const char  *label,
                              GDateTime   *date)
{
  DoctorDetail *detail;

  g_return_if_fail (DOCTOR_IS_CHECK (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (date != NULL);

  detail = replace_detail (self, key, label);
  detail->value = g_date_time_format_iso8601 (date);
  detail->date = g_date_time_ref (date);
  g_signal_emit (self, signals[CHANGED], 0);
}

void
doctor_check_set_detail_list (DoctorCheck       *self,
                              const char        *key,
                              const char        *label,
                              const char *const *values)
{
  const char *const empty[] = { NULL };

  g_return_if_fail (DOCTOR_IS_CHECK (self));
  g_return_if_fail (key != NULL);

  replace_detail (self, key, label)->values = g_strdupv ((GStrv) (values ? values : empty));
  g_signal_emit (self, signals[CHANGED], 0);
}

void
doctor_check_add_advice (DoctorCheck       *self,
                         const char        *title,
                         const char        *text,
                         const char *const *commands)
{
  const char *const empty[] = { NULL };
  DoctorAdvice *advice;

  g_return_if_fail (DOCTOR_IS_CHECK (self));

  advice = g_new0 (DoctorAdvice, 1);
  advice->title = g_strdup (title);
  advice->text = g_strdup (text);
  advice->commands = g_strdupv ((GStrv) (commands ? commands : empty));
  g_ptr_array_add (self->advice, advice);
  g_signal_emit (self, signals[CHANGED], 0);
}
