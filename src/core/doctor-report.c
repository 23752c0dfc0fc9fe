/* doctor-report.c: the diagnosis as JSON (version 1 of the report contract).
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Scripts and monitoring read this, so its shape is a promise: fields may be added, none is
 * renamed or removed (see DESIGN.md). Secrets never reach it: the target's secret is not a
 * field, and the transcript is masked where it is recorded.
 */
#include "config.h"

#include "doctor-report.h"

const char *
doctor_verdict_to_string (DoctorCheckStatus verdict)
{
  switch (verdict)
    {
    case DOCTOR_CHECK_FAIL:
      return "fail";
    case DOCTOR_CHECK_WARN:
      return "warn";
    case DOCTOR_CHECK_PASS:
    case DOCTOR_CHECK_SKIPPED:
    case DOCTOR_CHECK_PENDING:
    case DOCTOR_CHECK_RUNNING:
    default:
      return "pass";
    }
}

static void
add_string_or_null (JsonBuilder *builder,
                    const char  *name,
                    const char  *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
add_check (JsonBuilder *builder,
           DoctorCheck *check)
{
  GPtrArray *details = doctor_check_get_details (check);
  GPtrArray *advice = doctor_check_get_advice (check);

  json_builder_begin_object (builder);
  add_string_or_null (builder, "id", doctor_check_get_id (check));
  add_string_or_null (builder, "title", doctor_check_get_title (check));
  add_string_or_null (builder, "status", doctor_check_status_to_string (doctor_check_get_status (check)));
  add_string_or_null (builder, "reason", doctor_check_get_reason (check));
  add_string_or_null (builder, "summary", doctor_check_get_summary (check));
  json_builder_set_member_name (builder, "duration_ms");
  json_builder_add_int_value (builder, doctor_check_get_duration_ms (check));

  json_builder_set_member_name (builder, "details");
  json_builder_begin_object (builder);
  for (guint i = 0; i < details->len; i++)
    {
      DoctorDetail *detail = g_ptr_array_index (details, i);

      json_builder_set_member_name (builder, detail->key);
      if (detail->values != NULL)
        {
          json_builder_begin_array (builder);
          for (guint v = 0; detail->values[v] != NULL; v++)
            json_builder_add_string_value (builder, detail->values[v]);
          json_builder_end_array (builder);
        }
      else
        {
          json_builder_add_string_value (builder, detail->value);
        }
    }
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "advice");
  json_builder_begin_array (builder);
  for (guint i = 0; i < advice->len; i++)
    {
      DoctorAdvice *item = g_ptr_array_index (advice, i);

      json_builder_begin_object (builder);
      add_string_or_null (builder, "title", item->title);
      add_string_or_null (builder, "text", item->text);
      json_builder_set_member_name (builder, "commands");
      json_builder_begin_array (builder);
      for (guint c = 0; item->commands != NULL && item->commands[c] != NULL; c++)
        json_builder_add_string_value (builder, item->commands[c]);
      json_builder_end_array (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);

  json_builder_end_object (builder);
}

JsonNode *
doctor_report_build_json (DoctorDiagnosis *diagnosis)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  const DoctorTarget *target = doctor_diagnosis_get_target (diagnosis);
  const DoctorSuggestion *suggestion = doctor_diagnosis_get_suggestion (diagnosis);
  GListModel *checks = doctor_diagnosis_get_checks (diagnosis);
  GPtrArray *transcript = doctor_diagnosis_get_transcript (diagnosis);
  guint n = g_list_model_get_n_items (checks);

  json_builder_begin_object (builder);

  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, DOCTOR_REPORT_VERSION);

  json_builder_set_member_name (builder, "target");
  json_builder_begin_object (builder);
  add_string_or_null (builder, "host", target->host);
  json_builder_set_member_name (builder, "port");
  json_builder_add_int_value (builder, doctor_target_get_port (target));
  add_string_or_null (builder, "security", doctor_security_to_string (target->security));
  add_string_or_null (builder, "user", target->user);
  json_builder_end_object (builder);

  add_string_or_null (builder, "verdict",
                      doctor_verdict_to_string (doctor_diagnosis_get_verdict (diagnosis)));

  json_builder_set_member_name (builder, "checks");
  json_builder_begin_array (builder);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(DoctorCheck) check = g_list_model_get_item (checks, i);

      add_check (builder, check);
    }
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "suggestion");
  if (suggestion != NULL)
    {
      json_builder_begin_object (builder);
      add_string_or_null (builder, "host", suggestion->host);
      json_builder_set_member_name (builder, "port");
      json_builder_add_int_value (builder, suggestion->port);
      add_string_or_null (builder, "security", doctor_security_to_string (suggestion->security));
      add_string_or_null (builder, "summary", suggestion->summary);
      json_builder_end_object (builder);
    }
  else
    {
      json_builder_add_null_value (builder);
    }

  json_builder_set_member_name (builder, "ports");
  json_builder_begin_array (builder);
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "transcript");
  json_builder_begin_array (builder);
  for (guint i = 0; i < transcript->len; i++)
    {
      DoctorTranscriptLine *line = g_ptr_array_index (transcript, i);

      json_builder_begin_object (builder);
      add_string_or_null (builder, "from", line->from_server ? "server" : "client");
      json_builder_set_member_name (builder, "tls");
      json_builder_add_boolean_value (builder, line->tls);
      add_string_or_null (builder, "text", line->text);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);

  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

char *
doctor_report_to_json (DoctorDiagnosis *diagnosis,
                       gboolean         pretty)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = doctor_report_build_json (diagnosis);

  json_generator_set_pretty (generator, pretty);
  json_generator_set_indent (generator, 2);
  json_generator_set_root (generator, root);

  return json_generator_to_data (generator, NULL);
}
