/* doctor-format.c: numbers, durations and dates for people, in the user's locale.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The text output, the Markdown report and the window show these; the JSON report never does
 * (it keeps milliseconds as integers and dates in ISO 8601, whatever the locale). The front
 * ends call setlocale (LC_ALL, ""), so printf's decimal separator is the locale's, and the
 * date formats are translatable: each language writes dates its own way.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "doctor-format.h"

/**
 * doctor_format_duration:
 * @ms: a duration in milliseconds
 *
 * Returns: (transfer full): "120 ms" under a second, "1.5 s" (with the locale's decimal
 *   separator) from a second on
 */
char *
doctor_format_duration (gint64 ms)
{
  if (ms < 1000)
    /* Translators: a duration under a second; %d is a number of milliseconds. */
    return g_strdup_printf (_("%d ms"), (int) MAX (ms, 0));

  /* Translators: a duration of a second or more, such as “1.5 s”; %.1f is the number of
   * seconds, which printf writes with the decimal separator of the language. */
  return g_strdup_printf (_("%.1f s"), (double) ms / 1000.0);
}

/**
 * doctor_format_date_time:
 * @date: a date and time, in any time zone
 *
 * Returns: (transfer full): @date in the local time zone, written as the language writes
 *   dates (the format is translated)
 */
char *
doctor_format_date_time (GDateTime *date)
{
  g_autoptr(GDateTime) local = NULL;
  char *text;

  g_return_val_if_fail (date != NULL, NULL);

  local = g_date_time_to_local (date);
  /* Translators: a date and time, such as when a certificate expires, in the local time
   * zone. The codes are those of g_date_time_format(): write the date the way your language
   * does, for example “%d.%m.%Y, %H:%M %Z” or “%-d %B %Y, %H:%M %Z”. */
  /* xgettext:no-c-format */
  text = g_date_time_format (local != NULL ? local : date, _("%Y-%m-%d %H:%M %Z"));
  /* Only a broken translation makes this fail: fall back to the untranslated form. */
  if (text == NULL)
    text = g_date_time_format (local != NULL ? local : date, "%Y-%m-%d %H:%M %Z");
  return text;
}

/**
 * doctor_detail_dup_display_text:
 * @detail: a detail of a check
 * @separator: what goes between the values of a list
 *
 * The detail's value as people read it: a date in the locale's form (the JSON report keeps the
 * ISO 8601 value), a list joined with @separator.
 *
 * Returns: (transfer full): the text, "" when there is none
 */
/* How a connection attempt ended: the stable words of the JSON report's "ipv4-result" and
 * "ipv6-result" details, as people read them. */
static const char *
connect_result_text (const char *result)
{
  static const struct { const char *token; const char *text; } results[] = {
    /* Translators: how the connection to the first IPv4 or IPv6 address ended. */
    { "connected", N_("connected") },
    { "refused", N_("refused") },
    { "timeout", N_("no answer") },
    { "filtered", N_("blocked by a firewall") },
    { "network-unreachable", N_("no route to this network") },
    { "host-unreachable", N_("host unreachable") },
    { "abandoned", N_("not needed: another address answered first") },
    { "unfinished", N_("still trying when the diagnosis ended") },
    { "pending", N_("still trying") },
    { "not-tried", N_("not tried") },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (results); i++)
    if (g_strcmp0 (result, results[i].token) == 0)
      return _(results[i].text);
  return result;
}

char *
doctor_detail_dup_display_text (const DoctorDetail *detail,
                                const char         *separator)
{
  g_return_val_if_fail (detail != NULL, NULL);
  g_return_val_if_fail (separator != NULL, NULL);

  if (detail->date != NULL)
    return doctor_format_date_time (detail->date);
  if (detail->value != NULL &&
      (g_strcmp0 (detail->key, "ipv4-result") == 0 || g_strcmp0 (detail->key, "ipv6-result") == 0))
    return g_strdup (connect_result_text (detail->value));
  if (detail->values != NULL)
    return g_strjoinv (separator, detail->values);
  return g_strdup (detail->value != NULL ? detail->value : "");
}
