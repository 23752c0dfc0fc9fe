/* doctor-cli-output.c: the checklist on a terminal or in a pipe.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each check is printed the moment it ends. On a terminal the status is a coloured symbol;
 * piped (or with NO_COLOR set) it is a plain word, so that scripts and logs get clean text.
 * All text printed here either comes from the core, where server text was already made safe,
 * or from the user's own validated input.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gi18n.h>

#include "doctor-cli-output.h"
#include "doctor-format.h"
#include "doctor-firewall.h"

struct _DoctorCliOutput
{
  DoctorDiagnosis *diagnosis;
  FILE            *file;
  GPtrArray       *handlers;    /* pairs of (DoctorCheck, handler id) */
  gboolean         color;
  gboolean         symbols;
  gboolean         verbose;
};

#define RESET  "\033[0m"
#define BOLD   "\033[1m"
#define DIM    "\033[2m"
#define RED    "\033[31m"
#define GREEN  "\033[32m"
#define YELLOW "\033[33m"

static const char *
paint (DoctorCliOutput *self,
       const char      *code)
{
  return self->color ? code : "";
}

static void
status_mark (DoctorCliOutput   *self,
             DoctorCheckStatus  status,
             const char       **mark,
             const char       **color)
{
  switch (status)
    {
    case DOCTOR_CHECK_PASS:
      *mark = self->symbols ? "✔" : "PASS";
      *color = GREEN;
      break;
    case DOCTOR_CHECK_WARN:
      *mark = self->symbols ? "⚠" : "WARN";
      *color = YELLOW;
      break;
    case DOCTOR_CHECK_FAIL:
      *mark = self->symbols ? "✘" : "FAIL";
      *color = RED;
      break;
    case DOCTOR_CHECK_SKIPPED:
      *mark = self->symbols ? "–" : "SKIP";
      *color = DIM;
      break;
    case DOCTOR_CHECK_PENDING:
    case DOCTOR_CHECK_RUNNING:
    default:
      *mark = self->symbols ? "…" : "....";
      *color = "";
      break;
    }
}

static void
print_details (DoctorCliOutput *self,
               DoctorCheck     *check)
{
  GPtrArray *details = doctor_check_get_details (check);

  for (guint i = 0; i < details->len; i++)
    {
      DoctorDetail *detail = g_ptr_array_index (details, i);

      g_autofree char *text = doctor_detail_dup_display_text (detail, ", ");
      /* Multi-line values (a reply) are indented under their label. */
      g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

      fprintf (self->file, "      %s%s:%s %s\n", paint (self, DIM), detail->label,
               paint (self, RESET), lines[0] ? lines[0] : "");
      for (guint l = 1; lines[l] != NULL; l++)
        fprintf (self->file, "        %s\n", lines[l]);
    }
}

static void
print_check (DoctorCliOutput *self,
             DoctorCheck     *check)
{
  DoctorCheckStatus status = doctor_check_get_status (check);
  const char *mark, *color;
  const char *summary = doctor_check_get_summary (check);

  status_mark (self, status, &mark, &color);

  if (self->symbols)
    fprintf (self->file, "  %s%s%s %s%-15s%s %s", paint (self, color), mark, paint (self, RESET),
             paint (self, BOLD), doctor_check_get_title (check), paint (self, RESET),
             summary ? summary : "");
  else
    fprintf (self->file, "%s %s: %s", mark, doctor_check_get_title (check), summary ? summary : "");

  if (status != DOCTOR_CHECK_SKIPPED)
    {
      g_autofree char *duration = doctor_format_duration (doctor_check_get_duration_ms (check));

      fprintf (self->file, " %s(%s)%s", paint (self, DIM), duration, paint (self, RESET));
    }
  fputc ('\n', self->file);

  if (self->verbose)
    print_details (self, check);

  fflush (self->file);
}

static void
on_status_changed (DoctorCheck     *check,
                   GParamSpec      *pspec,
                   DoctorCliOutput *self)
{
  if (doctor_check_is_finished (check))
    print_check (self, check);
}

DoctorCliOutput *
doctor_cli_output_new (DoctorDiagnosis *diagnosis,
                       FILE            *file,
                       gboolean         verbose)
{
  DoctorCliOutput *self = g_new0 (DoctorCliOutput, 1);
  GListModel *checks = doctor_diagnosis_get_checks (diagnosis);
  guint n = g_list_model_get_n_items (checks);
  gboolean tty = isatty (fileno (file));

  self->diagnosis = g_object_ref (diagnosis);
  self->file = file;
  self->verbose = verbose;
  self->color = tty && g_getenv ("NO_COLOR") == NULL && g_strcmp0 (g_getenv ("TERM"), "dumb") != 0;
  self->symbols = tty && g_get_charset (NULL);
  self->handlers = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < n; i++)
    {
      DoctorCheck *check = g_list_model_get_item (checks, i);

      g_signal_connect (check, "notify::status", G_CALLBACK (on_status_changed), self);
      g_ptr_array_add (self->handlers, check);
    }

  return self;
}

void
doctor_cli_output_free (DoctorCliOutput *self)
{
  if (self == NULL)
    return;

  for (guint i = 0; i < self->handlers->len; i++)
    g_signal_handlers_disconnect_by_data (g_ptr_array_index (self->handlers, i), self);
  g_ptr_array_unref (self->handlers);
  g_object_unref (self->diagnosis);
  g_free (self);
}

void
doctor_cli_output_header (DoctorCliOutput *self)
{
  const DoctorTarget *target = doctor_diagnosis_get_target (self->diagnosis);
  gboolean v6 = strchr (target->host, ':') != NULL;

  /* Translators: "Checking smtp.example.com:587 (STARTTLS)" */
  fprintf (self->file, _("Checking %s%s%s:%u (%s)\n"), v6 ? "[" : "", target->host,
           v6 ? "]" : "", doctor_target_get_port (target),
           doctor_security_get_label (target->security));
  fflush (self->file);
}

static void
print_advice (DoctorCliOutput *self)
{
  GListModel *checks = doctor_diagnosis_get_checks (self->diagnosis);
  guint n = g_list_model_get_n_items (checks);
  gboolean header = FALSE;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(DoctorCheck) check = g_list_model_get_item (checks, i);
      GPtrArray *advice = doctor_check_get_advice (check);

      for (guint a = 0; a < advice->len; a++)
        {
          DoctorAdvice *item = g_ptr_array_index (advice, a);

          if (!header)
            {
              fprintf (self->file, "\n%s%s%s\n", paint (self, BOLD), _("What to do"),
                       paint (self, RESET));
              header = TRUE;
            }

          fprintf (self->file, "  %s%s: %s%s\n", paint (self, BOLD), doctor_check_get_title (check),
                   item->title, paint (self, RESET));
          if (item->text != NULL && *item->text != '\0')
            fprintf (self->file, "    %s\n", item->text);
          for (guint c = 0; item->commands != NULL && item->commands[c] != NULL; c++)
            fprintf (self->file, "    $ %s\n", item->commands[c]);
        }
    }
}

static void
print_transcript (DoctorCliOutput *self)
{
  GPtrArray *transcript = doctor_diagnosis_get_transcript (self->diagnosis);

  if (transcript->len == 0)
    return;

  fprintf (self->file, "\n%s%s%s\n", paint (self, BOLD), _("Transcript"), paint (self, RESET));
  for (guint i = 0; i < transcript->len; i++)
    {
      DoctorTranscriptLine *line = g_ptr_array_index (transcript, i);

      /* As swaks does: "<-" received, "->" sent, "~" over TLS. */
      fprintf (self->file, "  %s %s\n",
               line->from_server ? (line->tls ? "<~" : "<-") : (line->tls ? "~>" : "->"),
               line->text);
    }
}

static void
print_ports (DoctorCliOutput *self)
{
  DoctorPortScan *scan = doctor_diagnosis_get_port_scan (self->diagnosis);
  g_autofree char *conclusion = NULL;
  GPtrArray *cells;

  if (scan == NULL)
    return;

  cells = doctor_port_scan_get_cells (scan);
  fprintf (self->file, "\n%s%s%s\n", paint (self, BOLD), _("Ports"), paint (self, RESET));
  for (guint i = 0; i < cells->len; i++)
    {
      const DoctorPortCell *cell = g_ptr_array_index (cells, i);
      gboolean ok = g_strcmp0 (cell->result, "ok") == 0;

      fprintf (self->file, "  %5u %-14s %s%-22s%s %s\n", cell->port,
               doctor_security_get_label (cell->security),
               paint (self, ok ? GREEN : DIM), cell->result ? cell->result : "?",
               paint (self, RESET), cell->summary ? cell->summary : "");
    }

  conclusion = doctor_port_scan_get_diagnosis_summary (scan);
  if (conclusion != NULL)
    fprintf (self->file, "  %s\n", conclusion);
}

/* No network, a captive portal, a proxy: said once, because it changes what every failure means. */
static void
print_network_note (DoctorCliOutput *self)
{
  const DoctorTarget *target = doctor_diagnosis_get_target (self->diagnosis);
  g_autofree char *note = NULL;

  if (doctor_diagnosis_get_verdict (self->diagnosis) == DOCTOR_CHECK_PASS)
    return;

  note = doctor_network_describe_for_host (target->host, doctor_target_get_port (target));
  if (note != NULL)
    fprintf (self->file, "\n%s%s%s %s\n", paint (self, BOLD), _("Network:"), paint (self, RESET),
             note);
}

void
doctor_cli_output_finish (DoctorCliOutput *self)
{
  const DoctorSuggestion *suggestion = doctor_diagnosis_get_suggestion (self->diagnosis);
  DoctorCheckStatus verdict = doctor_diagnosis_get_verdict (self->diagnosis);
  GListModel *checks = doctor_diagnosis_get_checks (self->diagnosis);
  guint n = g_list_model_get_n_items (checks);
  guint failures = 0, warnings = 0;
  g_autofree char *verdict_text = NULL;
  const char *color;

  print_ports (self);
  print_network_note (self);
  print_advice (self);

  if (suggestion != NULL)
    {
      fprintf (self->file, "\n%s%s%s %s\n", paint (self, BOLD), _("Suggestion:"),
               paint (self, RESET), suggestion->summary);
      fprintf (self->file, "    $ smtp-doctor-cli --security=%s %s%s%s:%u\n",
               doctor_security_to_string (suggestion->security),
               strchr (suggestion->host, ':') ? "[" : "", suggestion->host,
               strchr (suggestion->host, ':') ? "]" : "", suggestion->port);
    }

  if (self->verbose)
    print_transcript (self);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(DoctorCheck) check = g_list_model_get_item (checks, i);

      if (doctor_check_get_status (check) == DOCTOR_CHECK_FAIL)
        failures++;
      else if (doctor_check_get_status (check) == DOCTOR_CHECK_WARN)
        warnings++;
    }

  if (verdict == DOCTOR_CHECK_FAIL)
    {
      verdict_text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u problem found",
                                                   "%u problems found", failures), failures);
      color = RED;
    }
  else if (verdict == DOCTOR_CHECK_WARN && warnings > 0)
    {
      verdict_text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                   "Ready to send mail, with %u warning",
                                                   "Ready to send mail, with %u warnings",
                                                   warnings), warnings);
      color = YELLOW;
    }
  else if (verdict == DOCTOR_CHECK_WARN)
    {
      verdict_text = g_strdup (_("The checks did not finish"));
      color = YELLOW;
    }
  else
    {
      verdict_text = g_strdup (_("Ready to send mail"));
      color = GREEN;
    }

  fprintf (self->file, "\n%s%s%s %s%s%s\n", paint (self, BOLD), _("Verdict:"), paint (self, RESET),
           paint (self, color), verdict_text, paint (self, RESET));
  fflush (self->file);
}
