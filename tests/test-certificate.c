/* test-certificate.c: certificate facts and the meaning of verification flags.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The certificates come from make-certs.sh ($DOCTOR_TEST_CERTS); the fingerprint is compared
 * with what openssl computes for the same file.
 */
#include "config.h"

#include <string.h>
#include <gio/gio.h>

#include "doctor-certificate-private.h"

static GTlsCertificate *
load (const char *name)
{
  g_autofree char *path = g_build_filename (g_getenv ("DOCTOR_TEST_CERTS"), name, NULL);
  g_autoptr(GError) error = NULL;
  GTlsCertificate *certificate = g_tls_certificate_new_from_file (path, &error);

  g_assert_no_error (error);
  return certificate;
}

static void
test_fingerprint_matches_openssl (void)
{
  g_autoptr(GTlsCertificate) certificate = load ("good.pem");
  g_autofree char *path = g_build_filename (g_getenv ("DOCTOR_TEST_CERTS"), "good.pem", NULL);
  g_autofree char *ours = doctor_certificate_get_sha256 (certificate);
  g_autofree char *out = NULL;
  g_autofree char *command = g_strdup_printf ("openssl x509 -noout -fingerprint -sha256 -in %s",
                                              path);
  g_autoptr(GError) error = NULL;
  const char *theirs;
  int status;

  g_spawn_command_line_sync (command, &out, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
  g_strstrip (out);
  theirs = strchr (out, '=');
  g_assert_nonnull (theirs);
  g_assert_cmpstr (ours, ==, theirs + 1);
  g_assert_cmpuint (strlen (ours), ==, 32 * 3 - 1);
}

static void
test_days_left (void)
{
  g_autoptr(GTlsCertificate) good = load ("good.pem");
  g_autoptr(GTlsCertificate) soon = load ("soon.pem");
  g_autoptr(GTlsCertificate) expired = load ("expired.pem");

  g_assert_cmpint (doctor_certificate_get_days_left (good), >=, 363);
  g_assert_cmpint (doctor_certificate_get_days_left (good), <=, 366);
  g_assert_cmpint (doctor_certificate_get_days_left (soon), >=, 2);
  g_assert_cmpint (doctor_certificate_get_days_left (soon), <=, 3);
  g_assert_cmpint (doctor_certificate_get_days_left (soon), <=, DOCTOR_CERTIFICATE_WARN_DAYS);
  g_assert_cmpint (doctor_certificate_get_days_left (expired), <, 0);
}

static void
test_every_flag_listed (void)
{
  GTlsCertificateFlags all = G_TLS_CERTIFICATE_UNKNOWN_CA | G_TLS_CERTIFICATE_BAD_IDENTITY |
                             G_TLS_CERTIFICATE_NOT_ACTIVATED | G_TLS_CERTIFICATE_EXPIRED |
                             G_TLS_CERTIFICATE_REVOKED | G_TLS_CERTIFICATE_INSECURE |
                             G_TLS_CERTIFICATE_GENERIC_ERROR;
  g_auto(GStrv) every = doctor_certificate_flags_to_strv (all);
  g_auto(GStrv) unknown = doctor_certificate_flags_to_strv (1 << 12);
  g_auto(GStrv) none = doctor_certificate_flags_to_strv (0);
  g_autofree char *summary = doctor_certificate_flags_summary (G_TLS_CERTIFICATE_EXPIRED |
                                                               G_TLS_CERTIFICATE_BAD_IDENTITY);

  /* Seven bits, seven distinct lines: a combination never collapses into one message. */
  g_assert_cmpuint (g_strv_length (every), ==, 7);
  for (guint i = 0; every[i]; i++)
    for (guint j = i + 1; every[j]; j++)
      g_assert_cmpstr (every[i], !=, every[j]);

  /* A flag from a newer GLib still shows. */
  g_assert_cmpuint (g_strv_length (unknown), ==, 1);
  g_assert_nonnull (strstr (unknown[0], "0x1000"));

  g_assert_cmpuint (g_strv_length (none), ==, 0);
  g_assert_nonnull (strstr (summary, "expired"));
  g_assert_nonnull (strstr (summary, "does not name"));
}

static void
test_reason_order (void)
{
  g_assert_null (doctor_certificate_flags_reason (0));
  g_assert_cmpstr (doctor_certificate_flags_reason (G_TLS_CERTIFICATE_UNKNOWN_CA), ==,
                   "certificate-untrusted");
  g_assert_cmpstr (doctor_certificate_flags_reason (G_TLS_CERTIFICATE_GENERIC_ERROR), ==,
                   "certificate-untrusted");
  g_assert_cmpstr (doctor_certificate_flags_reason (G_TLS_CERTIFICATE_INSECURE), ==,
                   "certificate-insecure");
  g_assert_cmpstr (doctor_certificate_flags_reason (G_TLS_CERTIFICATE_UNKNOWN_CA |
                                                    G_TLS_CERTIFICATE_BAD_IDENTITY), ==,
                   "certificate-hostname-mismatch");
  g_assert_cmpstr (doctor_certificate_flags_reason (G_TLS_CERTIFICATE_BAD_IDENTITY |
                                                    G_TLS_CERTIFICATE_EXPIRED), ==,
                   "certificate-expired");
  g_assert_cmpstr (doctor_certificate_flags_reason (G_TLS_CERTIFICATE_NOT_ACTIVATED |
                                                    G_TLS_CERTIFICATE_UNKNOWN_CA), ==,
                   "certificate-not-yet-valid");
  g_assert_cmpstr (doctor_certificate_flags_reason (G_TLS_CERTIFICATE_REVOKED |
                                                    G_TLS_CERTIFICATE_EXPIRED), ==,
                   "certificate-revoked");
  g_assert_cmpstr (doctor_certificate_flags_reason (1 << 12), ==, "certificate-untrusted");
}

static void
test_describe (void)
{
  g_autoptr(GTlsCertificate) certificate = load ("good.pem");
  g_autoptr(DoctorCheck) check = doctor_check_new ("certificate");
  GStrv names;

  doctor_certificate_describe (certificate, check);

  g_assert_nonnull (strstr (doctor_check_get_detail (check, "subject"), "CN=localhost"));
  g_assert_nonnull (strstr (doctor_check_get_detail (check, "issuer"), "SMTP Doctor Test CA"));
  names = doctor_check_get_detail_list (check, "names");
  g_assert_nonnull (names);
  g_assert_true (g_strv_contains ((const char *const *) names, "localhost"));
  g_assert_true (g_strv_contains ((const char *const *) names, "127.0.0.1"));
  g_assert_true (g_strv_contains ((const char *const *) names, "::1"));
  g_assert_nonnull (doctor_check_get_detail (check, "not-valid-before"));
  g_assert_nonnull (doctor_check_get_detail (check, "not-valid-after"));
  g_assert_nonnull (doctor_check_get_detail (check, "days-left"));
  g_assert_nonnull (doctor_check_get_detail (check, "sha256-fingerprint"));
  g_assert_finalize_object (g_steal_pointer (&check));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/certificate/fingerprint", test_fingerprint_matches_openssl);
  g_test_add_func ("/certificate/days-left", test_days_left);
  g_test_add_func ("/certificate/every-flag", test_every_flag_listed);
  g_test_add_func ("/certificate/reason-order", test_reason_order);
  g_test_add_func ("/certificate/describe", test_describe);

  return g_test_run ();
}
