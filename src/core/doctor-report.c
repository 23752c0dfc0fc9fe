/* doctor-report.c: the diagnosis as JSON (version 1 of the report contract) and as Markdown.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Scripts and monitoring read the JSON, so its shape is a promise: fields may be added, none is
 * renamed or removed (see DESIGN.md). Secrets never reach it: the target's secret is not a
 * field, and the transcript is masked where it is recorded.
 *
 * The Markdown is for people: pasted into a support ticket or a forum, it must render as the
 * same document whatever the server said. Server text arrives made safe (no control
 * characters) but may hold any Markdown syntax, HTML and backtick runs, so every piece of text
 * is escaped for the place it goes to: a backslash before syntax in running text and table
 * cells, a fence longer than any backtick run around blocks.
 */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "doctor-report.h"
#include "doctor-firewall.h"
#include "doctor-format.h"

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

static void
add_port_cell (JsonBuilder          *builder,
               const DoctorPortCell *cell,
               gboolean              with_security)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "port");
  json_builder_add_int_value (builder, cell->port);
  if (with_security)
    add_string_or_null (builder, "security", doctor_security_to_string (cell->security));
  add_string_or_null (builder, "result", cell->result);
  add_string_or_null (builder, "summary", cell->summary);
  json_builder_set_member_name (builder, "duration_ms");
  json_builder_add_int_value (builder, cell->duration_ms);
  add_string_or_null (builder, "detail", cell->detail);
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
  if (doctor_diagnosis_get_port_scan (diagnosis) != NULL)
    {
      GPtrArray *cells = doctor_port_scan_get_cells (doctor_diagnosis_get_port_scan (diagnosis));

      for (guint i = 0; i < cells->len; i++)
        add_port_cell (builder, g_ptr_array_index (cells, i), TRUE);
    }
  json_builder_end_array (builder);

  /* Added to version 1: the network as this computer sees it, and what the port matrix (when it
   * ran) says about it as a whole. */
  {
    DoctorPortScan *scan = doctor_diagnosis_get_port_scan (diagnosis);
    const DoctorTarget *t = doctor_diagnosis_get_target (diagnosis);
    g_autofree char *note = doctor_network_describe_for_host (t->host, doctor_target_get_port (t));
    g_autofree char *proxy = doctor_network_get_proxy (t->host, doctor_target_get_port (t));

    json_builder_set_member_name (builder, "network");
    json_builder_begin_object (builder);
    json_builder_set_member_name (builder, "state");
    json_builder_add_string_value (builder,
                                   doctor_network_state_to_string (doctor_network_get_state ()));
    add_string_or_null (builder, "proxy", proxy);
    add_string_or_null (builder, "note", note);
    json_builder_set_member_name (builder, "firewall");
    json_builder_add_string_value (builder, doctor_firewall_to_string (doctor_firewall_detect ()));

    if (scan != NULL)
      {
        const DoctorPortCell *control = doctor_port_scan_get_control (scan);
        g_autofree char *summary = doctor_port_scan_get_diagnosis_summary (scan);

        add_string_or_null (builder, "conclusion", doctor_port_scan_get_diagnosis (scan));
        add_string_or_null (builder, "summary", summary);
        json_builder_set_member_name (builder, "control");
        if (control != NULL)
          add_port_cell (builder, control, FALSE);
        else
          json_builder_add_null_value (builder);
      }
    json_builder_end_object (builder);
  }

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

/* Markdown ----------------------------------------------------------------------------------- */

/* The shortest secret that is masked wherever it appears in the text, should a server echo it;
 * a shorter one would mask ordinary words. Its base64 forms are always masked. */
#define MIN_MASKED_SECRET 4
#define MASK              "****"

/* Characters that Markdown (CommonMark, GitHub's and GitLab's flavours) may read as syntax
 * anywhere in a line: emphasis, code, links, HTML, entities, tables, strikethrough, maths.
 * CommonMark lets a backslash escape any ASCII punctuation, so escaping is always safe. */
#define INLINE_SYNTAX     "\\`*_[]<>|~&$#"

typedef struct
{
  GString   *out;
  GPtrArray *secrets;   /* (element-type utf8): longest first */
} Markdown;

/* The target's secret and the forms it goes on the wire in: AUTH PLAIN sends
 * base64 ("\0user\0secret"), AUTH LOGIN base64 (secret). */
static GPtrArray *
collect_secrets (const DoctorTarget *target)
{
  GPtrArray *secrets = g_ptr_array_new_with_free_func ((GDestroyNotify) doctor_secret_free);
  gsize secret_len;

  if (target->secret == NULL || target->secret[0] == '\0')
    return secrets;

  secret_len = strlen (target->secret);

  if (target->user != NULL)
    {
      gsize user_len = strlen (target->user);
      gsize blob_len = user_len + secret_len + 2;
      char *blob = g_malloc0 (blob_len);

      memcpy (blob + 1, target->user, user_len);
      memcpy (blob + 2 + user_len, target->secret, secret_len);
      g_ptr_array_add (secrets, g_base64_encode ((const guchar *) blob, blob_len));
      explicit_bzero (blob, blob_len);
      g_free (blob);
    }

  g_ptr_array_add (secrets, g_base64_encode ((const guchar *) target->secret, secret_len));

  if (secret_len >= MIN_MASKED_SECRET)
    g_ptr_array_add (secrets, g_strdup (target->secret));

  return secrets;
}

static char *
mask_secrets (Markdown   *md,
              const char *text)
{
  GString *str = g_string_new (text != NULL ? text : "");

  for (guint i = 0; i < md->secrets->len; i++)
    g_string_replace (str, g_ptr_array_index (md->secrets, i), MASK, 0);

  return g_string_free (str, FALSE);
}

/* Running text: a paragraph, a heading, a list item or a table cell. A line break becomes a
 * space (in a table cell it would end the row). At the start of a line, what would begin a
 * heading, a list, a quote or a code block is defused as well. */
static void
append_text_full (Markdown   *md,
                  const char *text,
                  gboolean    line_start)
{
  g_autofree char *masked = mask_secrets (md, text);
  const char *p = masked;

  if (line_start)
    {
      const char *digits;

      while (*p == ' ')
        p++;

      if (*p != '\0' && strchr ("+-=", *p) != NULL)
        {
          g_string_append_c (md->out, '\\');
        }
      else
        {
          /* "1." or "1)" starts an ordered list. */
          for (digits = p; g_ascii_isdigit (*digits); digits++)
            ;
          if (digits > p && (*digits == '.' || *digits == ')'))
            {
              g_string_append_len (md->out, p, digits - p);
              g_string_append_c (md->out, '\\');
              p = digits;
            }
        }
    }

  for (; *p != '\0'; p++)
    {
      if (*p == '\n' || *p == '\r')
        g_string_append_c (md->out, ' ');
      else if (*p == '_' && p > masked && g_ascii_isalnum (p[-1]) && g_ascii_isalnum (p[1]))
        /* Inside a word, "_" cannot open or close emphasis: TLS_AES_256_GCM_SHA384 stays
         * readable in the raw text. */
        g_string_append_c (md->out, '_');
      else if (strchr (INLINE_SYNTAX, *p) != NULL)
        g_string_append_printf (md->out, "\\%c", *p);
      else
        g_string_append_c (md->out, *p);
    }
}

static void
append_text (Markdown   *md,
             const char *text)
{
  append_text_full (md, text, FALSE);
}

/* The longest run of backticks in @text. */
static gsize
longest_backtick_run (const char *text)
{
  gsize longest = 0, run = 0;

  for (const char *p = text; *p != '\0'; p++)
    {
      run = *p == '`' ? run + 1 : 0;
      longest = MAX (longest, run);
    }

  return longest;
}

/* A code span, for names that are easier to read set apart (host, user name, reason code). Its
 * delimiter is one backtick longer than any run inside. */
static void
append_code (Markdown   *md,
             const char *text)
{
  g_autofree char *masked = mask_secrets (md, text);
  g_autofree char *delimiter = NULL;
  gsize len = strlen (masked);
  gboolean pad;

  if (len == 0)
    return;

  g_strdelimit (masked, "\r\n", ' ');
  delimiter = g_strnfill (longest_backtick_run (masked) + 1, '`');
  /* CommonMark strips one space from each side when both have one. */
  pad = masked[0] == '`' || masked[len - 1] == '`' || masked[0] == ' ' || masked[len - 1] == ' ';

  g_string_append (md->out, delimiter);
  if (pad)
    g_string_append_c (md->out, ' ');
  g_string_append (md->out, masked);
  if (pad)
    g_string_append_c (md->out, ' ');
  g_string_append (md->out, delimiter);
}

/* A fenced code block holding the lines of @text literally, each line prefixed with @indent (to
 * sit inside a list item). The fence is longer than any backtick run inside, so no line can
 * close it early. */
static void
append_fenced (Markdown   *md,
               const char *indent,
               const char *text)
{
  g_autofree char *masked = mask_secrets (md, text);
  g_autofree char *fence = g_strnfill (MAX (3, longest_backtick_run (masked) + 1), '`');
  g_auto(GStrv) lines = g_strsplit (masked, "\n", -1);

  g_string_append_printf (md->out, "%s%s\n", indent, fence);
  for (guint i = 0; lines[i] != NULL; i++)
    g_string_append_printf (md->out, "%s%s\n", indent, lines[i]);
  g_string_append_printf (md->out, "%s%s\n", indent, fence);
}

static void
append_heading (Markdown   *md,
                guint       level,
                const char *text)
{
  g_autofree char *marks = g_strnfill (level, '#');

  g_string_append_printf (md->out, "%s ", marks);
  append_text (md, text);
  g_string_append (md->out, "\n\n");
}

static void
append_paragraph (Markdown   *md,
                  const char *text)
{
  append_text_full (md, text, TRUE);
  g_string_append (md->out, "\n\n");
}

/* "- **Label:**" for a list item; the value follows. */
static void
append_item_label (Markdown   *md,
                   const char *label)
{
  g_string_append (md->out, "- **");
  append_text (md, label);
  g_string_append (md->out, "**");
}

static void
append_item (Markdown   *md,
             const char *label,
             const char *value)
{
  append_item_label (md, label);
  g_string_append_c (md->out, ' ');
  append_text (md, value);
  g_string_append_c (md->out, '\n');
}

static void
append_code_item (Markdown   *md,
                  const char *label,
                  const char *value)
{
  append_item_label (md, label);
  g_string_append_c (md->out, ' ');
  append_code (md, value);
  g_string_append_c (md->out, '\n');
}

static void
append_target (Markdown           *md,
               const DoctorTarget *target)
{
  g_autofree char *port = g_strdup_printf ("%u", doctor_target_get_port (target));

  append_code_item (md, _("Server:"), target->host);
  append_item (md, _("Port:"), port);
  append_item (md, _("Security:"), doctor_security_get_label (target->security));
  if (target->user != NULL)
    append_code_item (md, _("User name:"), target->user);
  else
    append_item (md, _("User name:"), _("none, no login"));
  if (target->mail_from != NULL)
    append_code_item (md, _("Sender:"), target->mail_from);
  if (target->rcpt_to != NULL)
    append_code_item (md, _("Recipient:"), target->rcpt_to);
  if (target->ca_file != NULL)
    {
      /* The name is enough to tell which file it was. */
      g_autofree char *name = g_path_get_basename (target->ca_file);

      append_code_item (md, _("Custom CA certificate:"), name);
    }
}

static char *
format_duration (DoctorCheck *check)
{
  DoctorCheckStatus status = doctor_check_get_status (check);

  if (status == DOCTOR_CHECK_PENDING || status == DOCTOR_CHECK_SKIPPED)
    return g_strdup ("–");

  return doctor_format_duration (doctor_check_get_duration_ms (check));
}

static void
append_checklist (Markdown   *md,
                  GListModel *checks)
{
  guint n = g_list_model_get_n_items (checks);

  g_string_append (md->out, "| ");
  append_text (md, _("Status"));
  g_string_append (md->out, " | ");
  append_text (md, _("Check"));
  g_string_append (md->out, " | ");
  append_text (md, _("Summary"));
  g_string_append (md->out, " | ");
  append_text (md, _("Duration"));
  g_string_append (md->out, " |\n| --- | --- | --- | ---: |\n");

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(DoctorCheck) check = g_list_model_get_item (checks, i);
      g_autofree char *duration = format_duration (check);

      g_string_append (md->out, "| ");
      append_text (md, doctor_check_status_get_label (doctor_check_get_status (check)));
      g_string_append (md->out, " | ");
      append_text (md, doctor_check_get_title (check));
      g_string_append (md->out, " | ");
      append_text (md, doctor_check_get_summary (check));
      g_string_append (md->out, " | ");
      append_text (md, duration);
      g_string_append (md->out, " |\n");
    }

  g_string_append_c (md->out, '\n');
}

static void
append_detail (Markdown     *md,
               DoctorDetail *detail)
{
  const char *label = detail->label != NULL ? detail->label : detail->key;
  g_autofree char *label_colon = NULL;

  /* Translators: a label in a list, such as “Server reply:”; %s is the label. */
  label_colon = g_strdup_printf (_("%s:"), label);

  if (detail->values != NULL)
    {
      g_autofree char *joined = g_strjoinv (", ", detail->values);

      append_item (md, label_colon, detail->values[0] != NULL ? joined : _("none"));
    }
  else if (detail->date != NULL)
    {
      g_autofree char *date = doctor_detail_dup_display_text (detail, ", ");

      append_item (md, label_colon, date);
    }
  else if (detail->value != NULL && strchr (detail->value, '\n') != NULL)
    {
      /* A reply of several lines keeps its lines, in a block inside the list item. */
      append_item_label (md, label_colon);
      g_string_append_c (md->out, '\n');
      append_fenced (md, "  ", detail->value);
    }
  else
    {
      append_item (md, label_colon, detail->value);
    }
}

static void
append_advice (Markdown     *md,
               DoctorAdvice *advice)
{
  append_heading (md, 3, advice->title != NULL ? advice->title : _("Advice"));
  if (advice->text != NULL && advice->text[0] != '\0')
    append_paragraph (md, advice->text);

  for (guint c = 0; advice->commands != NULL && advice->commands[c] != NULL; c++)
    {
      append_fenced (md, "", advice->commands[c]);
      g_string_append_c (md->out, '\n');
    }
}

static void
append_check_section (Markdown    *md,
                      DoctorCheck *check)
{
  GPtrArray *details = doctor_check_get_details (check);
  GPtrArray *advice = doctor_check_get_advice (check);
  const char *summary = doctor_check_get_summary (check);
  const char *reason = doctor_check_get_reason (check);

  if (details->len == 0 && advice->len == 0)
    return;

  append_heading (md, 2, doctor_check_get_title (check));

  append_item (md, _("Status:"), doctor_check_status_get_label (doctor_check_get_status (check)));
  if (summary != NULL)
    append_item (md, _("Summary:"), summary);
  if (reason != NULL)
    append_code_item (md, _("Reason code:"), reason);
  for (guint i = 0; i < details->len; i++)
    append_detail (md, g_ptr_array_index (details, i));
  g_string_append_c (md->out, '\n');

  for (guint i = 0; i < advice->len; i++)
    append_advice (md, g_ptr_array_index (advice, i));
}

static void
append_suggestion (Markdown               *md,
                   const DoctorSuggestion *suggestion)
{
  g_autofree char *port = g_strdup_printf ("%u", suggestion->port);

  append_heading (md, 2, _("Suggestion"));
  if (suggestion->summary != NULL)
    append_paragraph (md, suggestion->summary);
  append_code_item (md, _("Server:"), suggestion->host);
  append_item (md, _("Port:"), port);
  append_item (md, _("Security:"), doctor_security_get_label (suggestion->security));
  g_string_append_c (md->out, '\n');
}

/* As swaks shows it: "<-" received, "->" sent, "~" in place of "-" over TLS. */
static void
append_transcript (Markdown  *md,
                   GPtrArray *transcript)
{
  g_autoptr(GString) lines = g_string_new (NULL);

  append_heading (md, 2, _("Transcript"));

  if (transcript->len == 0)
    {
      append_paragraph (md, _("Nothing was sent or received."));
      return;
    }

  for (guint i = 0; i < transcript->len; i++)
    {
      DoctorTranscriptLine *line = g_ptr_array_index (transcript, i);
      g_autofree char *text = g_strdup (line->text != NULL ? line->text : "");

      /* Made safe where it was recorded; kept to one line here whatever happens upstream. */
      g_strdelimit (text, "\r\n", ' ');
      if (i > 0)
        g_string_append_c (lines, '\n');
      g_string_append_printf (lines, "%s %s",
                              line->from_server ? (line->tls ? "<~" : "<-")
                                                : (line->tls ? "~>" : "->"),
                              text);
    }

  append_fenced (md, "", lines->str);
}

/**
 * doctor_report_get_verdict_text:
 * @diagnosis: a diagnosis
 *
 * The verdict in words, as the command line and the window show it: “Ready to send mail”,
 * “1 problem found” and so on.
 *
 * Returns: (transfer full): a translated sentence
 */
char *
doctor_report_get_verdict_text (DoctorDiagnosis *diagnosis)
{
  GListModel *checks;
  DoctorCheckStatus verdict;
  guint n, failures = 0, warnings = 0;

  g_return_val_if_fail (DOCTOR_IS_DIAGNOSIS (diagnosis), NULL);

  checks = doctor_diagnosis_get_checks (diagnosis);
  verdict = doctor_diagnosis_get_verdict (diagnosis);
  n = g_list_model_get_n_items (checks);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(DoctorCheck) check = g_list_model_get_item (checks, i);

      if (doctor_check_get_status (check) == DOCTOR_CHECK_FAIL)
        failures++;
      else if (doctor_check_get_status (check) == DOCTOR_CHECK_WARN)
        warnings++;
    }

  if (verdict == DOCTOR_CHECK_FAIL)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u problem found",
                                         "%u problems found", failures), failures);

  if (!doctor_diagnosis_is_finished (diagnosis) || (verdict == DOCTOR_CHECK_WARN && warnings == 0))
    return g_strdup (_("The checks did not finish"));

  if (verdict == DOCTOR_CHECK_WARN)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                         "Ready to send mail, with %u warning",
                                         "Ready to send mail, with %u warnings",
                                         warnings), warnings);

  return g_strdup (_("Ready to send mail"));
}

/**
 * doctor_report_to_markdown:
 * @diagnosis: a diagnosis, usually a finished one
 *
 * The report for people: the target (never its secret), the date, the version, the verdict,
 * the checklist, the details and advice of each check, the suggestion and the transcript, as
 * Markdown that renders the same whatever text the server sent.
 *
 * Returns: (transfer full): UTF-8 Markdown, ending with a line break
 */
char *
doctor_report_to_markdown (DoctorDiagnosis *diagnosis)
{
  const DoctorTarget *target;
  const DoctorSuggestion *suggestion;
  GListModel *checks;
  g_autoptr(GDateTime) now = NULL;
  g_autofree char *date = NULL;
  g_autofree char *verdict = NULL;
  Markdown md;
  guint n;

  g_return_val_if_fail (DOCTOR_IS_DIAGNOSIS (diagnosis), NULL);

  target = doctor_diagnosis_get_target (diagnosis);
  suggestion = doctor_diagnosis_get_suggestion (diagnosis);
  checks = doctor_diagnosis_get_checks (diagnosis);
  n = g_list_model_get_n_items (checks);
  now = g_date_time_new_now_utc ();
  date = doctor_format_date_time (now);
  verdict = doctor_report_get_verdict_text (diagnosis);

  md.out = g_string_new (NULL);
  md.secrets = collect_secrets (target);

  append_heading (&md, 1, _("SMTP Doctor report"));

  append_target (&md, target);
  append_item (&md, _("Date:"), date);
  append_item (&md, _("SMTP Doctor version:"), PACKAGE_VERSION);
  g_string_append_c (md.out, '\n');

  g_string_append (md.out, "**");
  append_text (&md, _("Verdict:"));
  g_string_append (md.out, "** ");
  append_text (&md, verdict);
  g_string_append (md.out, "\n\n");

  append_heading (&md, 2, _("Checklist"));
  append_checklist (&md, checks);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(DoctorCheck) check = g_list_model_get_item (checks, i);

      append_check_section (&md, check);
    }

  if (suggestion != NULL)
    append_suggestion (&md, suggestion);

  append_transcript (&md, doctor_diagnosis_get_transcript (diagnosis));

  g_ptr_array_unref (md.secrets);

  return g_string_free (md.out, FALSE);
}

/* Saving ------------------------------------------------------------------------------------- */

/**
 * doctor_report_to_string:
 * @diagnosis: a diagnosis
 * @format: Markdown or JSON (pretty-printed)
 *
 * Returns: (transfer full): the report as it is saved, ending with a line break
 */
char *
doctor_report_to_string (DoctorDiagnosis    *diagnosis,
                         DoctorReportFormat  format)
{
  g_autofree char *json = NULL;

  g_return_val_if_fail (DOCTOR_IS_DIAGNOSIS (diagnosis), NULL);

  switch (format)
    {
    case DOCTOR_REPORT_FORMAT_JSON:
      json = doctor_report_to_json (diagnosis, TRUE);
      return g_strconcat (json, "\n", NULL);

    case DOCTOR_REPORT_FORMAT_MARKDOWN:
      return doctor_report_to_markdown (diagnosis);

    default:
      g_return_val_if_reached (NULL);
    }
}

/**
 * doctor_report_format_for_file:
 * @file: where a report is to be saved
 *
 * Returns: JSON for a name ending in “.json” (any case), Markdown otherwise
 */
DoctorReportFormat
doctor_report_format_for_file (GFile *file)
{
  g_autofree char *name = NULL;
  g_autofree char *lower = NULL;

  g_return_val_if_fail (G_IS_FILE (file), DOCTOR_REPORT_FORMAT_MARKDOWN);

  name = g_file_get_basename (file);
  if (name == NULL)
    return DOCTOR_REPORT_FORMAT_MARKDOWN;

  lower = g_ascii_strdown (name, -1);
  if (g_str_has_suffix (lower, ".json"))
    return DOCTOR_REPORT_FORMAT_JSON;

  return DOCTOR_REPORT_FORMAT_MARKDOWN;
}

/**
 * doctor_report_save:
 * @diagnosis: a diagnosis
 * @file: where to write
 * @format: Markdown or JSON
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Writes the report atomically: a reader sees the old file or the whole new one. Blocks; a
 * front end with a main loop uses doctor_report_save_async().
 *
 * Returns: %TRUE when the file was written
 */
gboolean
doctor_report_save (DoctorDiagnosis     *diagnosis,
                    GFile               *file,
                    DoctorReportFormat   format,
                    GCancellable        *cancellable,
                    GError             **error)
{
  g_autofree char *contents = NULL;

  g_return_val_if_fail (DOCTOR_IS_DIAGNOSIS (diagnosis), FALSE);
  g_return_val_if_fail (G_IS_FILE (file), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  contents = doctor_report_to_string (diagnosis, format);

  return g_file_replace_contents (file, contents, strlen (contents), NULL, FALSE,
                                  G_FILE_CREATE_NONE, NULL, cancellable, error);
}

static void
save_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (g_file_replace_contents_finish (G_FILE (object), result, NULL, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/**
 * doctor_report_save_async:
 * @diagnosis: a diagnosis
 * @file: where to write
 * @format: Markdown or JSON
 * @cancellable: (nullable): a #GCancellable
 * @callback: called on the thread-default main context of the caller when done
 * @user_data: data for @callback
 *
 * Like doctor_report_save() without blocking. The report is made at once, so later changes to
 * @diagnosis do not reach the file.
 */
void
doctor_report_save_async (DoctorDiagnosis     *diagnosis,
                          GFile               *file,
                          DoctorReportFormat   format,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GBytes) bytes = NULL;
  char *contents;

  g_return_if_fail (DOCTOR_IS_DIAGNOSIS (diagnosis));
  g_return_if_fail (G_IS_FILE (file));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (diagnosis, cancellable, callback, user_data);
  g_task_set_source_tag (task, doctor_report_save_async);

  contents = doctor_report_to_string (diagnosis, format);
  bytes = g_bytes_new_take (contents, strlen (contents));

  /* The GBytes variant of g_file_replace_contents_async(): the file keeps the data alive. */
  g_file_replace_contents_bytes_async (file, bytes, NULL, FALSE, G_FILE_CREATE_NONE,
                                       cancellable, save_cb, g_steal_pointer (&task));
}

gboolean
doctor_report_save_finish (DoctorDiagnosis  *diagnosis,
                           GAsyncResult     *result,
                           GError          **error)
{
  g_return_val_if_fail (DOCTOR_IS_DIAGNOSIS (diagnosis), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, diagnosis), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, doctor_report_save_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
