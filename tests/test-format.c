/* test-format.c: durations and dates for people, under C and under German.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * meson runs this with LOCPATH at a de_DE.UTF-8 made by localedef in the build tree, TZ=UTC
 * and SMTP_DOCTOR_LOCALEDIR at the build tree's po/, so the German cases need neither root
 * nor an installed copy. A locale that cannot be set is a failure, not a skip. (With LOCPATH
 * set, glibc finds only the locales there, so the English cases use "C".)
 */
#include "config.h"

#include <locale.h>
#include <glib/gi18n-lib.h>

#include "doctor-check.h"
#include "doctor-format.h"

static void
use_locale (const char *name)
{
  g_assert_nonnull (setlocale (LC_ALL, name));
}

static GDateTime *
sample_date (void)
{
  /* 4 March 2027, 05:06:07 UTC: day, month and hour all differ, so their order shows. */
  return g_date_time_new_utc (2027, 3, 4, 5, 6, 7);
}

static void
test_duration_c (void)
{
  g_autofree char *zero = NULL;
  g_autofree char *ms = NULL;
  g_autofree char *s = NULL;
  g_autofree char *long_one = NULL;

  use_locale ("C");
  zero = doctor_format_duration (0);
  ms = doctor_format_duration (999);
  s = doctor_format_duration (1500);
  long_one = doctor_format_duration (120000);
  g_assert_cmpstr (zero, ==, "0 ms");
  g_assert_cmpstr (ms, ==, "999 ms");
  g_assert_cmpstr (s, ==, "1.5 s");
  g_assert_cmpstr (long_one, ==, "120.0 s");
}

static void
test_date_c (void)
{
  g_autoptr(GDateTime) date = sample_date ();
  g_autofree char *text = NULL;

  use_locale ("C");
  text = doctor_format_date_time (date);
  g_assert_cmpstr (text, ==, "2027-03-04 05:06 UTC");
}

static void
test_duration_de (void)
{
  g_autofree char *ms = NULL;
  g_autofree char *s = NULL;

  use_locale ("de_DE.UTF-8");
  ms = doctor_format_duration (120);
  s = doctor_format_duration (1500);
  g_assert_cmpstr (ms, ==, "120 ms");
  /* The German decimal comma. */
  g_assert_cmpstr (s, ==, "1,5 s");
  use_locale ("C");
}

static void
test_date_de (void)
{
  g_autoptr(GDateTime) date = sample_date ();
  g_autofree char *text = NULL;

  use_locale ("de_DE.UTF-8");
  text = doctor_format_date_time (date);
  g_assert_cmpstr (text, ==, "04.03.2027, 05:06 UTC");
  use_locale ("C");
}

/* A date detail: ISO 8601 for the JSON report whatever the language, the locale's form for
 * people. */
static void
test_date_detail (void)
{
  g_autoptr(GDateTime) date = sample_date ();
  g_autoptr(DoctorCheck) check = doctor_check_new ("certificate");
  GPtrArray *details;
  DoctorDetail *detail;
  g_autofree char *german = NULL;
  g_autofree char *english = NULL;

  use_locale ("de_DE.UTF-8");
  doctor_check_set_detail_date (check, "not-valid-after", "Valid until", date);
  details = doctor_check_get_details (check);
  g_assert_cmpuint (details->len, ==, 1);
  detail = g_ptr_array_index (details, 0);
  g_assert_cmpstr (detail->value, ==, "2027-03-04T05:06:07Z");
  g_assert_cmpstr (doctor_check_get_detail (check, "not-valid-after"), ==,
                   "2027-03-04T05:06:07Z");
  german = doctor_detail_dup_display_text (detail, ", ");
  g_assert_cmpstr (german, ==, "04.03.2027, 05:06 UTC");

  use_locale ("C");
  english = doctor_detail_dup_display_text (detail, ", ");
  g_assert_cmpstr (english, ==, "2027-03-04 05:06 UTC");

  /* Set again as text, the detail is no date any more. */
  doctor_check_set_detail (check, "not-valid-after", "Valid until", "soon");
  g_assert_null (detail->date);
}

static void
test_list_detail (void)
{
  g_autoptr(DoctorCheck) check = doctor_check_new ("dns");
  const char *const values[] = { "192.0.2.1", "2001:db8::1", NULL };
  DoctorDetail *detail;
  g_autofree char *text = NULL;

  doctor_check_set_detail_list (check, "addresses", "Addresses", values);
  detail = g_ptr_array_index (doctor_check_get_details (check), 0);
  text = doctor_detail_dup_display_text (detail, "\n");
  g_assert_cmpstr (text, ==, "192.0.2.1\n2001:db8::1");
}

/* The stable words of "ipv4-result"/"ipv6-result" stay in the JSON report; people read them in
 * their language, and a word the table does not know is shown as it is. */
static void
test_connect_result_detail (void)
{
  static const struct { const char *token, *c, *de; } cases[] = {
    { "connected", "connected", "verbunden" },
    { "refused", "refused", "abgewiesen" },
    { "timeout", "no answer", "keine Antwort" },
    { "filtered", "blocked by a firewall", NULL },
    { "not-tried", "not tried", "nicht versucht" },
    { "something-new", "something-new", "something-new" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(DoctorCheck) check = doctor_check_new ("connect");
      DoctorDetail *detail;
      g_autofree char *c = NULL;
      g_autofree char *de = NULL;

      doctor_check_set_detail (check, "ipv6-result", "IPv6", cases[i].token);
      detail = g_ptr_array_index (doctor_check_get_details (check), 0);
      g_assert_cmpstr (detail->value, ==, cases[i].token);

      use_locale ("C.UTF-8");
      c = doctor_detail_dup_display_text (detail, ", ");
      use_locale ("de_DE.UTF-8");
      de = doctor_detail_dup_display_text (detail, ", ");
      g_assert_cmpstr (c, ==, cases[i].c);
      if (cases[i].de != NULL)
        g_assert_cmpstr (de, ==, cases[i].de);
      else
        g_assert_cmpstr (de, !=, c);
    }
  /* Other details keep their value as it is, whatever it says. */
  {
    g_autoptr(DoctorCheck) check = doctor_check_new ("connect");
    g_autofree char *text = NULL;

    doctor_check_set_detail (check, "address", "Address", "refused");
    text = doctor_detail_dup_display_text (g_ptr_array_index (doctor_check_get_details (check), 0),
                                           ", ");
    g_assert_cmpstr (text, ==, "refused");
  }
}

int
main (int   argc,
      char *argv[])
{
  const char *localedir = g_getenv ("SMTP_DOCTOR_LOCALEDIR");

  g_test_init (&argc, &argv, NULL);
  g_assert_nonnull (localedir);
  bindtextdomain (GETTEXT_PACKAGE, localedir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  /* What the front ends do: the environment's locale; each case then sets its own. */
  setlocale (LC_ALL, "");

  g_test_add_func ("/format/duration/c", test_duration_c);
  g_test_add_func ("/format/date/c", test_date_c);
  g_test_add_func ("/format/duration/de", test_duration_de);
  g_test_add_func ("/format/date/de", test_date_de);
  g_test_add_func ("/format/detail/date", test_date_detail);
  g_test_add_func ("/format/detail/list", test_list_detail);
  g_test_add_func ("/format/detail/connect-result", test_connect_result_detail);

  return g_test_run ();
}
