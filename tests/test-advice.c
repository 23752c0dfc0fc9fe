/* test-advice.c: every reason code gets advice, and the commands name the right server.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "doctor-advice.h"

/* The reason codes of the engine spec, in its order. */
static const char *const expected_reasons[] = {
  "invalid-input", "dns-not-found", "dns-temporary-failure", "connection-refused",
  "connection-timeout", "host-unreachable", "network-unreachable", "connection-filtered",
  "greeting-timeout", "greeting-rejected", "server-busy", "security-mismatch", "protocol-error",
  "line-too-long", "connection-closed", "ehlo-rejected", "starttls-not-offered",
  "starttls-rejected", "starttls-injection", "tls-handshake-failed", "tls-protocol-outdated",
  "certificate-untrusted", "certificate-expired", "certificate-not-yet-valid",
  "certificate-hostname-mismatch", "certificate-revoked", "certificate-insecure",
  "certificate-expires-soon", "auth-not-offered", "auth-mechanism-unsupported", "auth-failed",
  "auth-app-password-required", "auth-basic-disabled", "auth-requires-tls",
  "auth-temporary-failure", "auth-skipped-untrusted", "auth-plaintext-refused",
  "auth-unencrypted", "ipv6-broken", "certificate-intercepted", "ipv4-broken",
  "sender-rejected", "recipient-rejected", "relay-denied", "message-rejected", "not-reached",
  "cancelled", "not-applicable", "not-requested", "reply-timeout", "bare-lf",
};

static const char *const quiet_reasons[] = {
  "not-reached", "not-applicable", "not-requested", "cancelled",
};

static const char *const check_ids[] = {
  "dns", "connect", "greeting", "ehlo", "starttls", "tls", "certificate", "auth", "send",
};

static gboolean
array_contains (const char *const *array,
                gsize              length,
                const char        *string)
{
  for (gsize i = 0; i < length; i++)
    {
      if (g_str_equal (array[i], string))
        return TRUE;
    }

  return FALSE;
}

static gboolean
is_quiet (const char *reason)
{
  return array_contains (quiet_reasons, G_N_ELEMENTS (quiet_reasons), reason);
}

/* A command that opens a connection to the server. */
static gboolean
is_connection_command (const char *command)
{
  return g_str_has_prefix (command, "nc ") || strstr (command, "s_client") != NULL;
}

static DoctorCheck *
advise (const char         *id,
        const char         *reason,
        const DoctorTarget *target,
        const DoctorReply  *reply)
{
  DoctorCheck *check = doctor_check_new (id);

  doctor_advice_add (check, reason, target, reply);
  return check;
}

/* Whether any title or text of @check contains @needle. */
static gboolean
advice_mentions (DoctorCheck *check,
                 const char  *needle)
{
  GPtrArray *advice = doctor_check_get_advice (check);

  for (guint i = 0; i < advice->len; i++)
    {
      DoctorAdvice *item = g_ptr_array_index (advice, i);

      if (strstr (item->title, needle) != NULL || strstr (item->text, needle) != NULL)
        return TRUE;
    }

  return FALSE;
}

static gboolean
commands_contain (DoctorCheck *check,
                  const char  *needle)
{
  GPtrArray *advice = doctor_check_get_advice (check);

  for (guint i = 0; i < advice->len; i++)
    {
      DoctorAdvice *item = g_ptr_array_index (advice, i);

      for (guint j = 0; item->commands[j] != NULL; j++)
        {
          if (strstr (item->commands[j], needle) != NULL)
            return TRUE;
        }
    }

  return FALSE;
}

/* Checks every item of every reason at every step for @target. @s_client_address is how an
 * openssl command names the target ("host:port", "[v6]:port"), @nc_address how nc does. */
static void
check_all_reasons (const DoctorTarget *target,
                   const char         *s_client_address,
                   const char         *nc_address)
{
  const char *const *reasons = doctor_reason_list ();

  for (guint r = 0; reasons[r] != NULL; r++)
    {
      if (is_quiet (reasons[r]))
        continue;

      for (guint c = 0; c < G_N_ELEMENTS (check_ids); c++)
        {
          g_autoptr(DoctorCheck) check = advise (check_ids[c], reasons[r], target, NULL);
          GPtrArray *advice = doctor_check_get_advice (check);
          gboolean connects = FALSE;
          gboolean names_port = FALSE;

          if (advice->len == 0)
            g_test_message ("no advice for %s at %s", reasons[r], check_ids[c]);
          g_assert_cmpuint (advice->len, >=, 1);

          for (guint i = 0; i < advice->len; i++)
            {
              DoctorAdvice *item = g_ptr_array_index (advice, i);

              g_assert_nonnull (item->title);
              g_assert_nonnull (item->text);
              g_assert_cmpstr (item->title, !=, "");
              g_assert_cmpstr (item->text, !=, "");
              g_assert_true (g_utf8_validate (item->title, -1, NULL));
              g_assert_true (g_utf8_validate (item->text, -1, NULL));
              g_assert_null (strchr (item->title, '\n'));
              g_assert_nonnull (item->commands);

              for (guint j = 0; item->commands[j] != NULL; j++)
                {
                  const char *command = item->commands[j];

                  g_assert_cmpstr (command, !=, "");
                  g_assert_true (g_utf8_validate (command, -1, NULL));
                  g_assert_null (strchr (command, '\n'));

                  if (!is_connection_command (command))
                    continue;

                  connects = TRUE;
                  if (strstr (command, "s_client") != NULL)
                    {
                      g_autofree char *connect = g_strconcat ("-connect ", s_client_address,
                                                              NULL);

                      if (strstr (command, connect) != NULL)
                        names_port = TRUE;
                    }
                  else if (strstr (command, nc_address) != NULL)
                    {
                      names_port = TRUE;
                    }

                  /* Other ports may be suggested, but always on the same server. */
                  g_assert_nonnull (strstr (command, target->host));
                }
            }

          /* Some connection command tests the port that was given. */
          if (connects)
            g_assert_true (names_port);
        }
    }
}

static void
test_reason_list (void)
{
  const char *const *reasons = doctor_reason_list ();
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  g_assert_nonnull (reasons);
  g_assert_true (reasons == doctor_reason_list ());

  for (guint i = 0; reasons[i] != NULL; i++)
    {
      g_assert_true (array_contains (expected_reasons, G_N_ELEMENTS (expected_reasons),
                                     reasons[i]));
      g_assert_true (g_hash_table_add (seen, (gpointer) reasons[i]));
      g_assert_true (doctor_reason_is_known (reasons[i]));
    }

  g_assert_cmpuint (g_strv_length ((GStrv) reasons), ==, G_N_ELEMENTS (expected_reasons));
  for (guint i = 0; i < G_N_ELEMENTS (expected_reasons); i++)
    g_assert_true (doctor_reason_is_known (expected_reasons[i]));

  g_assert_false (doctor_reason_is_known (NULL));
  g_assert_false (doctor_reason_is_known (""));
  g_assert_false (doctor_reason_is_known ("no-such-reason"));
  g_assert_false (doctor_reason_is_known ("AUTH-FAILED"));
}

static void
test_every_reason_starttls (void)
{
  g_autoptr(DoctorTarget) target = doctor_target_new ("smtp.example.com", 587,
                                                      DOCTOR_SECURITY_STARTTLS);

  check_all_reasons (target, "smtp.example.com:587", "smtp.example.com 587");
}

static void
test_every_reason_ipv6 (void)
{
  g_autoptr(DoctorTarget) target = doctor_target_new ("::1", 465, DOCTOR_SECURITY_TLS);
  const char *const reasons[] = {
    "connection-refused", "tls-handshake-failed", "certificate-untrusted",
    "certificate-hostname-mismatch", "certificate-expired", "security-mismatch",
  };

  check_all_reasons (target, "[::1]:465", "::1 465");

  for (guint i = 0; i < G_N_ELEMENTS (reasons); i++)
    {
      g_autoptr(DoctorCheck) check = advise ("tls", reasons[i], target, NULL);

      g_assert_true (commands_contain (check, "[::1]:465") || commands_contain (check, "::1 465"));
      g_assert_false (commands_contain (check, " ::1:"));
      /* SNI carries names only. */
      g_assert_false (commands_contain (check, "-servername"));
    }

  {
    g_autoptr(DoctorCheck) check = advise ("certificate", "certificate-untrusted", target, NULL);

    g_assert_true (commands_contain (check, "openssl s_client -connect [::1]:465"));
    g_assert_true (commands_contain (check, "-showcerts"));
    g_assert_false (commands_contain (check, "-starttls"));
  }
}

static void
test_openssl_modes (void)
{
  g_autoptr(DoctorTarget) starttls = doctor_target_new ("smtp.example.com", 587,
                                                        DOCTOR_SECURITY_STARTTLS);
  g_autoptr(DoctorTarget) tls = doctor_target_new ("smtp.example.com", 465, DOCTOR_SECURITY_TLS);
  g_autoptr(DoctorCheck) a = advise ("certificate", "certificate-untrusted", starttls, NULL);
  g_autoptr(DoctorCheck) b = advise ("certificate", "certificate-untrusted", tls, NULL);
  g_autoptr(DoctorCheck) c = advise ("connect", "connection-timeout", starttls, NULL);
  g_autoptr(DoctorCheck) d = advise ("dns", "dns-not-found", starttls, NULL);
  g_autoptr(DoctorCheck) e = advise ("certificate", "certificate-not-yet-valid", starttls, NULL);
  g_autoptr(DoctorCheck) f = advise ("greeting", "security-mismatch", starttls, NULL);
  g_autoptr(DoctorCheck) g = advise ("tls", "security-mismatch", tls, NULL);

  g_assert_true (commands_contain (a, "openssl s_client -starttls smtp -connect "
                                      "smtp.example.com:587 -servername smtp.example.com"));
  g_assert_true (commands_contain (a, "-showcerts"));
  g_assert_true (commands_contain (b, "openssl s_client -connect smtp.example.com:465 "
                                      "-servername smtp.example.com"));
  g_assert_false (commands_contain (b, "-starttls"));
  g_assert_true (commands_contain (c, "nc -zv smtp.example.com 587"));
  g_assert_true (commands_contain (c, "nc -zv smtp.example.com 465"));
  g_assert_true (commands_contain (c, "nc -zv smtp.example.com 2525"));
  g_assert_true (commands_contain (d, "getent ahosts smtp.example.com"));
  g_assert_true (commands_contain (d, "resolvectl query smtp.example.com"));
  g_assert_true (commands_contain (e, "timedatectl"));
  g_assert_true (commands_contain (e, "date"));

  /* A silent port wants TLS; a port that greets in clear wants STARTTLS. */
  g_assert_true (advice_mentions (f, "SSL/TLS"));
  g_assert_true (commands_contain (f, "openssl s_client -connect smtp.example.com:587"));
  g_assert_true (advice_mentions (g, "STARTTLS"));
  g_assert_true (commands_contain (g, "-starttls smtp -connect smtp.example.com:465"));
  g_assert_true (advice_mentions (f, "465") && advice_mentions (f, "587"));
}

static void
test_quiet_reasons (void)
{
  g_autoptr(DoctorTarget) target = doctor_target_new ("smtp.example.com", 587,
                                                      DOCTOR_SECURITY_STARTTLS);
  g_autoptr(DoctorReply) reply = doctor_reply_new (550);

  g_ptr_array_add (reply->lines, g_strdup ("nope"));

  for (guint i = 0; i < G_N_ELEMENTS (quiet_reasons); i++)
    {
      for (guint c = 0; c < G_N_ELEMENTS (check_ids); c++)
        {
          g_autoptr(DoctorCheck) check = advise (check_ids[c], quiet_reasons[i], target, reply);

          g_assert_true (doctor_reason_is_known (quiet_reasons[i]));
          g_assert_cmpuint (doctor_check_get_advice (check)->len, ==, 0);
        }
    }

  {
    g_autoptr(DoctorCheck) none = advise ("auth", NULL, target, reply);
    g_autoptr(DoctorCheck) unknown = advise ("auth", "no-such-reason", target, reply);

    g_assert_cmpuint (doctor_check_get_advice (none)->len, ==, 0);
    g_assert_cmpuint (doctor_check_get_advice (unknown)->len, ==, 0);
  }
}

static void
test_provider_advice (void)
{
  g_autoptr(DoctorTarget) target = doctor_target_new ("smtp.example.com", 587,
                                                      DOCTOR_SECURITY_STARTTLS);
  g_autoptr(DoctorCheck) app = advise ("auth", "auth-app-password-required", target, NULL);
  g_autoptr(DoctorCheck) basic = advise ("auth", "auth-basic-disabled", target, NULL);
  g_autoptr(DoctorCheck) failed = advise ("auth", "auth-failed", target, NULL);
  g_autoptr(DoctorCheck) relay = advise ("send", "relay-denied", target, NULL);
  g_autoptr(DoctorCheck) stripped = advise ("starttls", "starttls-not-offered", target, NULL);
  g_autoptr(DoctorCheck) plain = advise ("auth", "auth-plaintext-refused", target, NULL);

  g_assert_true (advice_mentions (app, "https://myaccount.google.com/apppasswords"));
  g_assert_true (advice_mentions (app, "2-Step Verification"));
  g_assert_true (advice_mentions (basic, "https://learn.microsoft.com/exchange/"
                                         "clients-and-mobile-in-exchange-online/"
                                         "authenticated-client-smtp-submission"));
  g_assert_true (advice_mentions (basic, "OAuth 2.0"));
  g_assert_true (advice_mentions (failed, "apikey"));
  g_assert_true (advice_mentions (failed, "app password"));
  g_assert_true (advice_mentions (relay, "Log in"));
  g_assert_true (advice_mentions (stripped, "downgrade"));
  g_assert_true (advice_mentions (plain, "--allow-plaintext-auth"));
}

static void
test_user_hints (void)
{
  g_autoptr(DoctorTarget) sendgrid = doctor_target_new ("smtp.sendgrid.net", 587,
                                                        DOCTOR_SECURITY_STARTTLS);
  g_autoptr(DoctorTarget) ms = doctor_target_new ("smtp.office365.com", 587,
                                                  DOCTOR_SECURITY_STARTTLS);

  sendgrid->user = g_strdup ("me");
  ms->user = g_strdup ("me@example.com");

  {
    g_autoptr(DoctorCheck) check = advise ("auth", "auth-failed", sendgrid, NULL);

    /* "me" is neither an address nor "apikey": both hints, then SendGrid's own help. */
    g_assert_cmpuint (doctor_check_get_advice (check)->len, ==, 4);
    g_assert_true (advice_mentions (check, "What SendGrid"));
    g_assert_true (advice_mentions (check, "“me”"));
  }

  {
    g_autoptr(DoctorCheck) check = advise ("auth", "auth-basic-disabled", ms, NULL);

    g_assert_true (commands_contain (check, "Set-CASMailbox -Identity me@example.com"));
  }
}

static void
test_ca_file (void)
{
  g_autoptr(DoctorTarget) target = doctor_target_new ("smtp.example.com", 587,
                                                      DOCTOR_SECURITY_STARTTLS);
  g_autoptr(DoctorCheck) without = advise ("certificate", "certificate-untrusted", target, NULL);
  g_autoptr(DoctorCheck) with = NULL;

  g_assert_true (advice_mentions (without, "--ca-file"));
  g_assert_false (commands_contain (without, "openssl x509 -noout -text -in"));

  target->ca_file = g_strdup ("/tmp/my certs/ca.pem");
  with = advise ("certificate", "certificate-untrusted", target, NULL);

  g_assert_true (commands_contain (with, "openssl x509 -noout -text -in '/tmp/my certs/ca.pem'"));
  g_assert_true (commands_contain (with, "-CAfile '/tmp/my certs/ca.pem'"));
}

static void
test_idn_host (void)
{
  g_autoptr(DoctorTarget) target = doctor_target_new ("bücher.example", 587,
                                                      DOCTOR_SECURITY_STARTTLS);
  g_autoptr(DoctorCheck) check = advise ("certificate", "certificate-expired", target, NULL);
  g_autoptr(DoctorCheck) dns = advise ("dns", "dns-not-found", target, NULL);
  GPtrArray *advice = doctor_check_get_advice (check);

  g_assert_true (commands_contain (check, "-connect xn--bcher-kva.example:587"));
  g_assert_true (commands_contain (dns, "getent ahosts xn--bcher-kva.example"));
  /* The texts use the name as the user wrote it. */
  g_assert_true (advice_mentions (dns, "bücher.example"));

  for (guint i = 0; i < advice->len; i++)
    {
      DoctorAdvice *item = g_ptr_array_index (advice, i);

      for (guint j = 0; item->commands[j] != NULL; j++)
        {
          for (const char *p = item->commands[j]; *p; p++)
            g_assert_true (g_ascii_isprint (*p));
        }
    }
}

static void
test_server_reply (void)
{
  g_autoptr(DoctorTarget) target = doctor_target_new ("smtp.example.com", 587,
                                                      DOCTOR_SECURITY_STARTTLS);
  g_autoptr(DoctorReply) reply = doctor_reply_new (535);
  g_autoptr(DoctorReply) bare = doctor_reply_new (550);
  g_autoptr(DoctorReply) positive = doctor_reply_new (250);
  g_autoptr(DoctorReply) huge = doctor_reply_new (554);
  g_autoptr(DoctorCheck) without = advise ("auth", "auth-failed", target, NULL);
  g_autoptr(DoctorCheck) with = NULL;
  g_autoptr(DoctorCheck) with_bare = NULL;
  g_autoptr(DoctorCheck) with_positive = NULL;
  g_autoptr(DoctorCheck) with_huge = NULL;
  g_autoptr(DoctorCheck) not_a_refusal = NULL;
  GPtrArray *advice;

  reply->enhanced = g_strdup ("5.7.8");
  g_ptr_array_add (reply->lines, g_strdup ("5.7.8 Username and Password not accepted."));
  g_ptr_array_add (reply->lines, g_strdup ("5.7.8 Learn more at https://support.example/"));

  /* An enhanced code the text does not start with is still shown. */
  bare->enhanced = g_strdup ("5.7.1");
  g_ptr_array_add (bare->lines, g_strdup ("Relaying denied"));

  g_ptr_array_add (positive->lines, g_strdup ("OK"));

  g_ptr_array_add (huge->lines, g_strnfill (5000, 'x'));

  with = advise ("auth", "auth-failed", target, reply);
  with_bare = advise ("send", "relay-denied", target, bare);
  with_positive = advise ("auth", "auth-failed", target, positive);
  with_huge = advise ("greeting", "greeting-rejected", target, huge);
  not_a_refusal = advise ("greeting", "greeting-timeout", target, reply);

  g_assert_cmpuint (doctor_check_get_advice (with)->len, ==,
                    doctor_check_get_advice (without)->len + 1);
  g_assert_true (advice_mentions (with, "“535 5.7.8 Username and Password not accepted. "
                                        "5.7.8 Learn more at https://support.example/”"));
  g_assert_true (advice_mentions (with_bare, "“550 5.7.1 Relaying denied”"));
  g_assert_cmpuint (doctor_check_get_advice (with_positive)->len, ==,
                    doctor_check_get_advice (without)->len);
  g_assert_false (advice_mentions (not_a_refusal, "535"));

  advice = doctor_check_get_advice (with_huge);
  for (guint i = 0; i < advice->len; i++)
    {
      DoctorAdvice *item = g_ptr_array_index (advice, i);

      g_assert_cmpuint (strlen (item->text), <, 2000);
    }
  g_assert_true (advice_mentions (with_huge, "xxx…"));
}

static void
test_reply_timeout (void)
{
  g_autoptr(DoctorTarget) target = doctor_target_new ("smtp.example.com", 587,
                                                      DOCTOR_SECURITY_STARTTLS);
  g_autoptr(DoctorCheck) check = NULL;

  target->timeout_ms = 10000;
  check = advise ("ehlo", "reply-timeout", target, NULL);

  g_assert_true (advice_mentions (check, "10 seconds"));
  g_assert_true (advice_mentions (check, "--timeout=60"));
}

/* A provider's own help closes the advice for the failures its settings cause. */
static void
test_provider_help (void)
{
  g_autoptr(DoctorTarget) gmail = doctor_target_new ("SMTP.Gmail.com", 587, DOCTOR_SECURITY_STARTTLS);
  g_autoptr(DoctorTarget) other = doctor_target_new ("mail.example.org", 587,
                                                     DOCTOR_SECURITY_STARTTLS);
  g_autoptr(DoctorCheck) auth = advise ("auth", "auth-failed", gmail, NULL);
  g_autoptr(DoctorCheck) plain = advise ("auth", "auth-failed", other, NULL);
  g_autoptr(DoctorCheck) dns = advise ("dns", "dns-not-found", gmail, NULL);

  g_assert_true (advice_mentions (auth, "myaccount.google.com/apppasswords"));
  g_assert_true (advice_mentions (auth, "Gmail"));
  g_assert_false (advice_mentions (plain, "What "));
  /* A typo in the name is not the provider's business. */
  g_assert_false (advice_mentions (dns, "What Gmail"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/advice/reason-list", test_reason_list);
  g_test_add_func ("/advice/every-reason/starttls", test_every_reason_starttls);
  g_test_add_func ("/advice/every-reason/ipv6", test_every_reason_ipv6);
  g_test_add_func ("/advice/openssl-modes", test_openssl_modes);
  g_test_add_func ("/advice/quiet-reasons", test_quiet_reasons);
  g_test_add_func ("/advice/provider", test_provider_advice);
  g_test_add_func ("/advice/user-hints", test_user_hints);
  g_test_add_func ("/advice/ca-file", test_ca_file);
  g_test_add_func ("/advice/idn-host", test_idn_host);
  g_test_add_func ("/advice/server-reply", test_server_reply);
  g_test_add_func ("/advice/reply-timeout", test_reply_timeout);
  g_test_add_func ("/advice/provider-help", test_provider_help);

  return g_test_run ();
}
