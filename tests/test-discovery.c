/* test-discovery.c: runs one DoctorDiscovery and prints what it found as JSON.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The driver of tests/test-discovery.py, which runs it inside a network namespace of its own,
 * whose DNS server is a dnsmasq of the test's and whose mail servers are the test's too:
 *
 *   test-discovery [--timeout MS] [--ca-file FILE] [--helo NAME] [--cancel-after MS] ADDRESS
 *
 * Standard output: {"elapsed_ms", "error", "error_code", "domain", "finished", "candidates":
 * [...], "best", "notes": [...]}; each candidate as {"host", "port", "security", "source",
 * "detail", "provider", "probe_result", "probe_summary", "probe_detail", "probe_duration_ms"};
 * "error_code" is the DoctorDiscoveryError code (or -1 for another domain), "provider" a preset
 * id. Exit status 0 when the discovery ran (whatever it found), 2 for a usage error.
 */
#include "config.h"

#include <stdio.h>
#include <json-glib/json-glib.h>

#include "doctor-discovery.h"

typedef struct
{
  GMainLoop *loop;
  GError    *error;
  gboolean   done;
} Run;

static void
add_string (JsonBuilder *builder,
            const char  *member,
            const char  *value)
{
  json_builder_set_member_name (builder, member);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
add_candidate (JsonBuilder           *builder,
               const DoctorCandidate *candidate)
{
  if (candidate == NULL)
    {
      json_builder_add_null_value (builder);
      return;
    }

  json_builder_begin_object (builder);
  add_string (builder, "host", candidate->host);
  json_builder_set_member_name (builder, "port");
  json_builder_add_int_value (builder, candidate->port);
  add_string (builder, "security", doctor_security_to_string (candidate->security));
  add_string (builder, "source", candidate->source);
  add_string (builder, "detail", candidate->detail);
  add_string (builder, "provider", candidate->provider != NULL ? candidate->provider->id : NULL);
  add_string (builder, "probe_result", candidate->probe_result);
  add_string (builder, "probe_summary", candidate->probe_summary);
  add_string (builder, "probe_detail", candidate->probe_detail);
  json_builder_set_member_name (builder, "probe_duration_ms");
  json_builder_add_int_value (builder, candidate->probe_duration_ms);
  json_builder_end_object (builder);
}

static void
on_finished (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Run *run = user_data;

  doctor_discovery_run_finish (DOCTOR_DISCOVERY (object), result, &run->error);
  run->done = TRUE;
  g_main_loop_quit (run->loop);
}

static gboolean
on_cancel_timer (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
  return G_SOURCE_REMOVE;
}

static gboolean
on_linger (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

int
main (int    argc,
      char **argv)
{
  int timeout_ms = 2000;
  int cancel_after = 0;
  g_autofree char *ca_file = NULL;
  g_autofree char *helo = NULL;
  GOptionEntry entries[] = {
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_ms, "Deadline of each lookup and probe", "MS" },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &ca_file, "Also trust these CAs", "FILE" },
    { "helo", 0, 0, G_OPTION_ARG_STRING, &helo, "EHLO name", "NAME" },
    { "cancel-after", 0, 0, G_OPTION_ARG_INT, &cancel_after, "Cancel the discovery", "MS" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("ADDRESS");
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsDatabase) database = NULL;
  g_autoptr(DoctorDiscovery) discovery = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonGenerator) generator = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  GPtrArray *candidates;
  GPtrArray *notes;
  gint64 started_us;
  Run run = { 0 };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 2 || timeout_ms < 0)
    {
      g_printerr ("usage: %s [OPTION…] ADDRESS%s%s\n", g_get_prgname (),
                  error != NULL ? ": " : "", error != NULL ? error->message : "");
      return 2;
    }

  if (ca_file != NULL && (database = g_tls_file_database_new (ca_file, &error)) == NULL)
    {
      g_printerr ("%s: %s\n", ca_file, error->message);
      return 2;
    }

  loop = g_main_loop_new (NULL, FALSE);
  run.loop = loop;

  discovery = doctor_discovery_new (argv[1], (guint) timeout_ms, database);
  if (helo != NULL)
    doctor_discovery_set_helo_name (discovery, helo);

  g_assert_false (doctor_discovery_is_finished (discovery));
  g_assert_cmpuint (doctor_discovery_get_candidates (discovery)->len, ==, 0);
  g_assert_null (doctor_discovery_get_best (discovery));

  started_us = g_get_monotonic_time ();
  doctor_discovery_run_async (discovery, cancellable, on_finished, &run);
  if (cancel_after > 0)
    g_timeout_add (cancel_after, on_cancel_timer, cancellable);
  while (!run.done)
    g_main_loop_run (loop);

  g_assert_true (doctor_discovery_is_finished (discovery));

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "elapsed_ms");
  json_builder_add_int_value (builder, (g_get_monotonic_time () - started_us) / 1000);
  add_string (builder, "error", run.error != NULL ? run.error->message : NULL);
  json_builder_set_member_name (builder, "error_code");
  if (run.error == NULL)
    json_builder_add_null_value (builder);
  else if (run.error->domain == DOCTOR_DISCOVERY_ERROR)
    json_builder_add_int_value (builder, run.error->code);
  else
    json_builder_add_int_value (builder, -1);
  add_string (builder, "domain", doctor_discovery_get_domain (discovery));
  json_builder_set_member_name (builder, "finished");
  json_builder_add_boolean_value (builder, doctor_discovery_is_finished (discovery));

  candidates = doctor_discovery_get_candidates (discovery);
  json_builder_set_member_name (builder, "candidates");
  json_builder_begin_array (builder);
  for (guint i = 0; i < candidates->len; i++)
    {
      const DoctorCandidate *candidate = g_ptr_array_index (candidates, i);
      g_autoptr(DoctorCandidate) copy = doctor_candidate_copy (candidate);

      /* A copy says the same. */
      g_assert_cmpstr (copy->host, ==, candidate->host);
      g_assert_cmpstr (copy->probe_summary, ==, candidate->probe_summary);
      add_candidate (builder, candidate);
    }
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "best");
  add_candidate (builder, doctor_discovery_get_best (discovery));

  notes = doctor_discovery_get_notes (discovery);
  json_builder_set_member_name (builder, "notes");
  json_builder_begin_array (builder);
  for (guint i = 0; i < notes->len; i++)
    json_builder_add_string_value (builder, g_ptr_array_index (notes, i));
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  generator = json_generator_new ();
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  printf ("%s\n", text);
  fflush (stdout);

  /* A moment for the QUITs in flight, so that the servers see the conversations end. */
  g_timeout_add (200, on_linger, loop);
  g_main_loop_run (loop);

  g_clear_error (&run.error);
  return 0;
}
