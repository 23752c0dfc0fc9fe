/* doctor-certificate.c: facts about a server certificate, and what its flags mean.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * GLib promises that a failed verification sets at least one flag, not that it sets all that
 * apply, so no flag is ever masked: every bit set is listed, and the reason code is chosen by a
 * fixed order of severity.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "doctor-certificate-private.h"
#include "doctor-reply.h"

static const struct {
  GTlsCertificateFlags  flag;
  const char           *reason;
  const char           *text;
} flag_info[] = {
  /* The order is the order of severity used to pick the reason code. */
  { G_TLS_CERTIFICATE_REVOKED, "certificate-revoked",
    N_("The certificate has been revoked by its issuer") },
  { G_TLS_CERTIFICATE_EXPIRED, "certificate-expired",
    N_("The certificate has expired") },
  { G_TLS_CERTIFICATE_NOT_ACTIVATED, "certificate-not-yet-valid",
    N_("The certificate is not valid yet") },
  { G_TLS_CERTIFICATE_BAD_IDENTITY, "certificate-hostname-mismatch",
    N_("The certificate does not name the server that was asked for") },
  { G_TLS_CERTIFICATE_UNKNOWN_CA, "certificate-untrusted",
    N_("The certificate is not signed by a trusted authority (or is self-signed)") },
  { G_TLS_CERTIFICATE_INSECURE, "certificate-insecure",
    N_("The certificate uses an insecure algorithm") },
  { G_TLS_CERTIFICATE_GENERIC_ERROR, "certificate-untrusted",
    N_("The certificate could not be verified") },
};

GStrv
doctor_certificate_flags_to_strv (GTlsCertificateFlags flags)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  GTlsCertificateFlags known = 0;

  for (guint i = 0; i < G_N_ELEMENTS (flag_info); i++)
    {
      known |= flag_info[i].flag;
      if (flags & flag_info[i].flag)
        g_strv_builder_add (builder, _(flag_info[i].text));
    }

  /* A bit from a newer GLib is still a failure, and still shown. */
  if (flags & ~known)
    {
      g_autofree char *text = g_strdup_printf (_("Unknown verification problem (flags 0x%x)"),
                                               flags & ~known);
      g_strv_builder_add (builder, text);
    }

  return g_strv_builder_end (builder);
}

const char *
doctor_certificate_flags_reason (GTlsCertificateFlags flags)
{
  if (flags == 0)
    return NULL;

  for (guint i = 0; i < G_N_ELEMENTS (flag_info); i++)
    {
      if (flags & flag_info[i].flag)
        return flag_info[i].reason;
    }

  return "certificate-untrusted";
}

char *
doctor_certificate_flags_summary (GTlsCertificateFlags flags)
{
  g_auto(GStrv) texts = doctor_certificate_flags_to_strv (flags);

  if (texts[0] == NULL)
    return g_strdup (_("The certificate is trusted"));

  return g_strjoinv ("; ", texts);
}

char *
doctor_certificate_get_sha256 (GTlsCertificate *certificate)
{
  g_autoptr(GByteArray) der = NULL;
  g_autofree char *hex = NULL;
  GString *str;

  g_object_get (certificate, "certificate", &der, NULL);
  if (der == NULL)
    return NULL;

  hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, der->data, der->len);
  str = g_string_new (NULL);
  for (guint i = 0; hex[i] != '\0'; i += 2)
    {
      if (i > 0)
        g_string_append_c (str, ':');
      g_string_append_c (str, g_ascii_toupper (hex[i]));
      g_string_append_c (str, g_ascii_toupper (hex[i + 1]));
    }

  return g_string_free (str, FALSE);
}

gint64
doctor_certificate_get_days_left (GTlsCertificate *certificate)
{
  g_autoptr(GDateTime) not_after = g_tls_certificate_get_not_valid_after (certificate);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  GTimeSpan span;

  if (not_after == NULL)
    return G_MAXINT64;

  span = g_date_time_difference (not_after, now);
  /* Rounded down: a certificate that ends in 36 hours has 1 day left. */
  if (span < 0)
    return -((-span + G_TIME_SPAN_DAY - 1) / G_TIME_SPAN_DAY);
  return span / G_TIME_SPAN_DAY;
}

static void
set_safe_detail (DoctorCheck *check,
                 const char  *key,
                 const char  *label,
                 const char  *value)
{
  g_autofree char *safe = NULL;

  if (value == NULL)
    return;

  safe = doctor_text_make_safe (value, -1);
  doctor_check_set_detail (check, key, label, safe);
}

static void
set_date_detail (DoctorCheck *check,
                 const char  *key,
                 const char  *label,
                 GDateTime   *date)
{
  if (date == NULL)
    return;

  doctor_check_set_detail_date (check, key, label, date);
}

/* Sets the certificate's subject, issuer, names, validity, days left and fingerprint as
 * details of @check. Certificate text comes from the server and is made safe like any other. */
void
doctor_certificate_describe (GTlsCertificate *certificate,
                             DoctorCheck     *check)
{
  g_autoptr(GDateTime) not_before = NULL;
  g_autoptr(GDateTime) not_after = NULL;
  g_autoptr(GPtrArray) dns_names = NULL;
  g_autoptr(GPtrArray) ip_addresses = NULL;
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  g_auto(GStrv) names_strv = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *issuer = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *days = NULL;
  GTlsCertificate *link;
  guint chain_length = 0;

  g_return_if_fail (G_IS_TLS_CERTIFICATE (certificate));

  subject = g_tls_certificate_get_subject_name (certificate);
  issuer = g_tls_certificate_get_issuer_name (certificate);
  set_safe_detail (check, "subject", _("Subject"), subject);
  set_safe_detail (check, "issuer", _("Issuer"), issuer);

  dns_names = g_tls_certificate_get_dns_names (certificate);
  for (guint i = 0; dns_names != NULL && i < dns_names->len; i++)
    {
      GBytes *bytes = g_ptr_array_index (dns_names, i);
      gsize size;
      const char *data = g_bytes_get_data (bytes, &size);

      g_autofree char *safe = doctor_text_make_safe (data, size);

      g_strv_builder_add (names, safe);
    }
  ip_addresses = g_tls_certificate_get_ip_addresses (certificate);
  for (guint i = 0; ip_addresses != NULL && i < ip_addresses->len; i++)
    {
      g_autofree char *ip = g_inet_address_to_string (g_ptr_array_index (ip_addresses, i));

      g_strv_builder_add (names, ip);
    }
  names_strv = g_strv_builder_end (names);
  doctor_check_set_detail_list (check, "names", _("Names"), (const char *const *) names_strv);

  not_before = g_tls_certificate_get_not_valid_before (certificate);
  not_after = g_tls_certificate_get_not_valid_after (certificate);
  set_date_detail (check, "not-valid-before", _("Valid from"), not_before);
  set_date_detail (check, "not-valid-after", _("Valid until"), not_after);

  if (not_after != NULL)
    {
      days = g_strdup_printf ("%" G_GINT64_FORMAT, doctor_certificate_get_days_left (certificate));
      doctor_check_set_detail (check, "days-left", _("Days left"), days);
    }

  fingerprint = doctor_certificate_get_sha256 (certificate);
  set_safe_detail (check, "sha256-fingerprint", _("SHA-256 fingerprint"), fingerprint);

  for (link = certificate; link != NULL && chain_length < 32; link = g_tls_certificate_get_issuer (link))
    chain_length++;
  {
    g_autofree char *length = g_strdup_printf ("%u", chain_length);
    doctor_check_set_detail (check, "chain-length", _("Certificates sent"), length);
  }
}
