/* test-port-scan.c: runs one DoctorPortScan and prints what it found as JSON.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The driver of tests/test-port-scan.py, which runs it inside a network namespace of its own
 * against servers and firewall rules in another one:
 *
 *   test-port-scan [--timeout MS] [--ca-file FILE] [--address IP] [--helo NAME]
 *                  [--cancel-after MS] HOST
 *
 * Standard output: {"elapsed_ms", "error", "address", "finished", "cells": [...], "signals":
 * [...], "control", "best", "diagnosis", "diagnosis_summary"}; each cell as {"port",
 * "security", "result", "summary", "duration_ms", "detail"}, each signal as {"index", "at_ms",
 * "port", "security", "result"} in the order the "cell-finished" signals came.
 * Exit status 0 when the scan ran (whatever it found), 2 for a usage error.
 */
#include "config.h"

#include <stdio.h>
#include <json-glib/json-glib.h>

#include "doctor-port-scan.h"

typedef struct
{
  GMainLoop *loop;
  gint64     started_us;
  JsonArray *signals;
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

static JsonNode *
cell_to_json (const DoctorPortCell *cell)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  if (cell == NULL)
    return json_node_new (JSON_NODE_NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "port");
  json_builder_add_int_value (builder, cell->port);
  add_string (builder, "security", doctor_security_to_string (cell->security));
  add_string (builder, "result", cell->result);
  add_string (builder, "summary", cell->summary);
  json_builder_set_member_name (builder, "duration_ms");
  json_builder_add_int_value (builder, cell->duration_ms);
  add_string (builder, "detail", cell->detail);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

static void
on_cell_finished (DoctorPortScan       *scan,
                  guint                 index,
                  const DoctorPortCell *cell,
                  gpointer              user_data)
{
  Run *run = user_data;
  JsonObject *object = json_object_new ();

  /* The cell in the signal is the one in the table, and already has its result. */
  g_assert_true (g_ptr_array_index (doctor_port_scan_get_cells (scan), index) == cell);
  g_assert_nonnull (cell->result);
  g_assert_nonnull (cell->summary);

  json_object_set_int_member (object, "index", index);
  json_object_set_int_member (object, "at_ms", (g_get_monotonic_time () - run->started_us) / 1000);
  json_object_set_int_member (object, "port", cell->port);
  json_object_set_string_member (object, "security", doctor_security_to_string (cell->security));
  json_object_set_string_member (object, "result", cell->result);
  json_array_add_object_element (run->signals, object);
}

static void
on_finished (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Run *run = user_data;

  doctor_port_scan_run_finish (DOCTOR_PORT_SCAN (object), result, &run->error);
  run->done = TRUE;
  g_main_loop_quit (run->loop);
}

static gboolean
on_cancel_timer (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
  return G_SOURCE_REMOVE;
}

int
main (int    argc,
      char **argv)
{
  int timeout_ms = 2000;
  int cancel_after = 0;
  g_autofree char *ca_file = NULL;
  g_autofree char *address_text = NULL;
  g_autofree char *helo = NULL;
  GOptionEntry entries[] = {
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_ms, "Deadline of each cell", "MS" },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &ca_file, "Also trust these CAs", "FILE" },
    { "address", 0, 0, G_OPTION_ARG_STRING, &address_text, "Probe this address", "IP" },
    { "helo", 0, 0, G_OPTION_ARG_STRING, &helo, "EHLO name", "NAME" },
    { "cancel-after", 0, 0, G_OPTION_ARG_INT, &cancel_after, "Cancel the scan", "MS" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("HOST");
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GTlsDatabase) database = NULL;
  g_autoptr(DoctorPortScan) scan = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonGenerator) generator = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *summary = NULL;
  g_autofree char *text = NULL;
  GPtrArray *cells;
  Run run = { 0 };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 2 || timeout_ms < 0)
    {
      g_printerr ("usage: %s [OPTION…] HOST%s%s\n", g_get_prgname (),
                  error != NULL ? ": " : "", error != NULL ? error->message : "");
      return 2;
    }

  if (address_text != NULL && (address = g_inet_address_new_from_string (address_text)) == NULL)
    {
      g_printerr ("not an IP address: %s\n", address_text);
      return 2;
    }

  if (ca_file != NULL)
    {
      g_autofree char *absolute = g_canonicalize_filename (ca_file, NULL);

      database = g_tls_file_database_new (absolute, &error);
      if (database == NULL)
        {
          g_printerr ("%s: %s\n", ca_file, error->message);
          return 2;
        }
    }

  loop = g_main_loop_new (NULL, FALSE);
  run.loop = loop;
  run.signals = json_array_new ();

  scan = doctor_port_scan_new (argv[1], address, timeout_ms, database);
  doctor_port_scan_set_helo_name (scan, helo);
  g_signal_connect (scan, "cell-finished", G_CALLBACK (on_cell_finished), &run);

  cells = doctor_port_scan_get_cells (scan);
  for (guint i = 0; i < cells->len; i++)
    g_assert_null (((DoctorPortCell *) g_ptr_array_index (cells, i))->result);

  if (cancel_after > 0)
    g_timeout_add_full (G_PRIORITY_DEFAULT, cancel_after, on_cancel_timer,
                        g_object_ref (cancellable), g_object_unref);

  run.started_us = g_get_monotonic_time ();
  doctor_port_scan_run_async (scan, cancellable, on_finished, &run);
  if (!run.done)
    g_main_loop_run (loop);
  g_assert_true (doctor_port_scan_is_finished (scan));

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "elapsed_ms");
  json_builder_add_int_value (builder, (g_get_monotonic_time () - run.started_us) / 1000);
  add_string (builder, "error", run.error != NULL ? run.error->message : NULL);
  {
    GInetAddress *probed = doctor_port_scan_get_address (scan);
    g_autofree char *ip = probed != NULL ? g_inet_address_to_string (probed) : NULL;

    add_string (builder, "address", ip);
  }
  json_builder_set_member_name (builder, "finished");
  json_builder_add_boolean_value (builder, doctor_port_scan_is_finished (scan));

  json_builder_set_member_name (builder, "cells");
  json_builder_begin_array (builder);
  for (guint i = 0; i < cells->len; i++)
    json_builder_add_value (builder, cell_to_json (g_ptr_array_index (cells, i)));
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "signals");
  json_builder_add_value (builder, json_node_init_array (json_node_alloc (), run.signals));

  json_builder_set_member_name (builder, "control");
  json_builder_add_value (builder, cell_to_json (doctor_port_scan_get_control (scan)));
  json_builder_set_member_name (builder, "best");
  json_builder_add_value (builder, cell_to_json (doctor_port_scan_get_best (scan)));
  add_string (builder, "diagnosis", doctor_port_scan_get_diagnosis (scan));
  summary = doctor_port_scan_get_diagnosis_summary (scan);
  add_string (builder, "diagnosis_summary", summary);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  generator = json_generator_new ();
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  printf ("%s\n", text);

  json_array_unref (run.signals);
  g_clear_error (&run.error);

  return 0;
}
