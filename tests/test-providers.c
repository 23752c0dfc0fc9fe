/* test-providers.c: the provider presets and their loader (doctor-providers.c).
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Covers the built-in data/providers.json (it loads, every preset is complete, the facts the
 * advice relies on are there), lookup by id, by host, by mail domain and by MX host (the
 * fields of discovery: domains, mx_patterns, https_api), and the loader's defences against
 * bad input: syntax errors, a wrong version, wrong types at every level, deep nesting, an
 * oversized file, trailing data and the leniencies of json-glib 1.6. Unknown fields load.
 */
#include <string.h>
#include <glib.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "doctor-providers.h"

/* The smallest provider that loads, to build test documents around. */
#define MINIMAL_PROVIDER \
  "{\"id\": \"example\", \"name\": \"Example\", \"host\": \"smtp.example.com\", " \
  "\"port\": 587, \"security\": \"starttls\", \"help\": \"Some help.\"}"

#define DOCUMENT(providers) "{\"version\": 1, \"providers\": [" providers "]}"

/* A provider with one member replaced (or added): FIELDS goes first, JSON keeps the last. */
#define PROVIDER_WITH(fields) \
  "{\"id\": \"example\", \"name\": \"Example\", \"host\": \"smtp.example.com\", " \
  "\"port\": 587, \"security\": \"starttls\", \"help\": \"Some help.\", " fields "}"

static const char *const required_ids[] = {
  "gmail", "outlook", "microsoft365", "yahoo", "icloud", "fastmail", "zoho", "proton-bridge",
  "mailtrap", "sendgrid", "mailgun", "amazon-ses", "postmark", "brevo", "local",
};

static const DoctorProvider *
lookup (const char *id)
{
  const DoctorProvider *provider = doctor_providers_lookup (id);

  if (provider == NULL)
    g_error ("No preset %s", id);

  return provider;
}

static gboolean
has_link (const DoctorProvider *provider,
          const char           *url)
{
  for (guint i = 0; i < provider->links->len; i++)
    {
      const DoctorProviderLink *link = g_ptr_array_index (provider->links, i);

      if (g_str_equal (link->url, url))
        return TRUE;
    }

  return FALSE;
}

static GPtrArray *
load_string (const char  *text,
             GError     **error)
{
  return doctor_providers_load_from_data (text, strlen (text), error);
}

static void
test_builtin_loads (void)
{
  GPtrArray *providers = doctor_providers_get_all ();

  g_assert_nonnull (providers);
  g_assert_cmpuint (providers->len, >=, G_N_ELEMENTS (required_ids));

  /* Loaded once and kept. */
  g_assert_true (doctor_providers_get_all () == providers);

  for (guint i = 0; i < G_N_ELEMENTS (required_ids); i++)
    g_assert_nonnull (doctor_providers_lookup (required_ids[i]));
}

static void
test_builtin_complete (void)
{
  GPtrArray *providers = doctor_providers_get_all ();
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < providers->len; i++)
    {
      const DoctorProvider *provider = g_ptr_array_index (providers, i);

      g_test_message ("%s: %s:%u", provider->id, provider->host, provider->port);

      g_assert_nonnull (provider->id);
      g_assert_cmpstr (provider->id, !=, "");
      g_assert_nonnull (provider->name);
      g_assert_cmpstr (provider->name, !=, "");
      g_assert_nonnull (provider->host);
      g_assert_cmpstr (provider->host, !=, "");
      g_assert_nonnull (provider->help);
      g_assert_cmpuint (strlen (provider->help), >, 20);
      g_assert_cmpuint (provider->port, >, 0);
      g_assert_cmpint (provider->security, >=, DOCTOR_SECURITY_STARTTLS);
      g_assert_cmpint (provider->security, <=, DOCTOR_SECURITY_NONE);

      g_assert_false (g_hash_table_contains (ids, provider->id));
      g_hash_table_add (ids, provider->id);

      /* A preset that needs a login says what goes into the user name field. */
      if (provider->login_required)
        g_assert_true (provider->user != NULL || provider->user_hint != NULL);

      g_assert_nonnull (provider->links);
      for (guint j = 0; j < provider->links->len; j++)
        {
          const DoctorProviderLink *link = g_ptr_array_index (provider->links, j);

          g_assert_cmpstr (link->title, !=, "");
          g_assert_true (g_str_has_prefix (link->url, "https://"));
        }

      g_assert_nonnull (provider->expected_issuers);

      g_assert_nonnull (provider->regions);
      for (guint j = 0; j < provider->regions->len; j++)
        {
          const DoctorProviderRegion *region = g_ptr_array_index (provider->regions, j);

          g_assert_cmpstr (region->id, !=, "");
          g_assert_cmpstr (region->name, !=, "");
          g_assert_cmpstr (region->host, !=, "");
          g_assert_true (doctor_providers_match_host (region->host) == provider);
        }

      g_assert_nonnull (provider->alternatives);
      for (guint j = 0; j < provider->alternatives->len; j++)
        {
          const DoctorProviderAlternative *alternative =
            g_ptr_array_index (provider->alternatives, j);

          g_assert_cmpuint (alternative->port, >, 0);
          g_assert_cmpint (alternative->security, <=, DOCTOR_SECURITY_NONE);
          /* An alternative differs from the default. */
          g_assert_false (alternative->port == provider->port &&
                          alternative->security == provider->security);
        }

      /* Discovery: every domain and pattern leads back to this preset, and nowhere else. */
      g_assert_nonnull (provider->domains);
      for (guint j = 0; provider->domains[j] != NULL; j++)
        {
          g_autofree char *lower = g_ascii_strdown (provider->domains[j], -1);

          g_assert_cmpstr (provider->domains[j], ==, lower);
          g_assert_true (doctor_providers_match_domain (provider->domains[j]) == provider);
        }

      g_assert_nonnull (provider->mx_patterns);
      for (guint j = 0; provider->mx_patterns[j] != NULL; j++)
        {
          const char *pattern = provider->mx_patterns[j];
          g_autofree char *host = g_strconcat ("mx1.", pattern[0] == '.' ? pattern + 1 : pattern,
                                               NULL);

          g_assert_true (doctor_providers_match_mx (host) == provider);
          g_assert_nonnull (doctor_provider_match_mx_pattern (provider, host));
        }

      g_assert_true ((provider->https_api_name == NULL) == (provider->https_api_url == NULL));
      if (provider->https_api_url != NULL)
        {
          g_assert_cmpstr (provider->https_api_name, !=, "");
          g_assert_true (g_str_has_prefix (provider->https_api_url, "https://"));
        }
    }
}

static void
test_builtin_facts (void)
{
  const DoctorProvider *gmail = lookup ("gmail");
  const DoctorProvider *microsoft = lookup ("microsoft365");
  const DoctorProvider *sendgrid = lookup ("sendgrid");
  const DoctorProvider *ses = lookup ("amazon-ses");
  const DoctorProvider *local = lookup ("local");
  const DoctorProvider *bridge = lookup ("proton-bridge");
  const DoctorProvider *mailtrap = lookup ("mailtrap");
  const DoctorProvider *mailgun = lookup ("mailgun");

  g_assert_cmpstr (gmail->host, ==, "smtp.gmail.com");
  g_assert_cmpuint (gmail->port, ==, 587);
  g_assert_cmpint (gmail->security, ==, DOCTOR_SECURITY_STARTTLS);
  g_assert_nonnull (strstr (gmail->help, "https://myaccount.google.com/apppasswords"));
  g_assert_nonnull (strstr (gmail->help, "2-Step Verification"));
  g_assert_true (has_link (gmail, "https://myaccount.google.com/apppasswords"));
  g_assert_true (g_strv_contains ((const char *const *) gmail->expected_issuers,
                                  "Google Trust Services"));

  g_assert_cmpstr (microsoft->host, ==, "smtp.office365.com");
  g_assert_nonnull (strstr (microsoft->help, "SMTP AUTH"));
  g_assert_true (has_link (microsoft, "https://learn.microsoft.com/exchange/"
                           "clients-and-mobile-in-exchange-online/"
                           "authenticated-client-smtp-submission"));

  g_assert_cmpstr (lookup ("yahoo")->host, ==, "smtp.mail.yahoo.com");
  g_assert_cmpuint (lookup ("yahoo")->port, ==, 465);
  g_assert_cmpint (lookup ("yahoo")->security, ==, DOCTOR_SECURITY_TLS);

  /* SendGrid's user name is literally "apikey". */
  g_assert_cmpstr (sendgrid->host, ==, "smtp.sendgrid.net");
  g_assert_cmpstr (sendgrid->user, ==, "apikey");
  g_assert_nonnull (strstr (sendgrid->user_hint, "apikey"));
  g_assert_cmpstr (mailtrap->user, ==, "api");

  g_assert_cmpuint (ses->regions->len, >=, 5);
  for (guint i = 0; i < ses->regions->len; i++)
    {
      const DoctorProviderRegion *region = g_ptr_array_index (ses->regions, i);
      g_autofree char *host = g_strdup_printf ("email-smtp.%s.amazonaws.com", region->id);

      g_assert_true (g_pattern_match_simple ("email-smtp.*.amazonaws.com", region->host));
      g_assert_cmpstr (region->host, ==, host);
    }
  g_assert_nonnull (doctor_provider_find_region (ses, ses->host));

  g_assert_nonnull (doctor_provider_find_region (mailgun, "smtp.eu.mailgun.org"));

  g_assert_cmpstr (local->host, ==, "localhost");
  g_assert_cmpuint (local->port, ==, 1025);
  g_assert_cmpint (local->security, ==, DOCTOR_SECURITY_NONE);
  g_assert_false (local->login_required);

  g_assert_cmpstr (bridge->host, ==, "127.0.0.1");
  g_assert_nonnull (strstr (bridge->help, "--ca-file"));

  /* Discovery. */
  g_assert_true (g_strv_contains ((const char *const *) gmail->domains, "gmail.com"));
  g_assert_true (g_strv_contains ((const char *const *) gmail->domains, "googlemail.com"));
  g_assert_true (g_strv_contains ((const char *const *) gmail->mx_patterns, ".google.com"));
  g_assert_true (g_strv_contains ((const char *const *) microsoft->mx_patterns,
                                  ".mail.protection.outlook.com"));
  g_assert_cmpuint (g_strv_length (microsoft->domains), ==, 0);
  g_assert_true (g_strv_contains ((const char *const *) bridge->domains, "proton.me"));
  g_assert_cmpuint (g_strv_length (local->domains), ==, 0);
  g_assert_cmpuint (g_strv_length (local->mx_patterns), ==, 0);

  /* The way out of a network that blocks every SMTP port (issue 5, item 3). */
  {
    static const char *const with_api[] = {
      "sendgrid", "mailgun", "amazon-ses", "postmark", "brevo", "mailtrap", "microsoft365",
      "gmail",
    };

    for (guint i = 0; i < G_N_ELEMENTS (with_api); i++)
      {
        g_assert_nonnull (lookup (with_api[i])->https_api_name);
        g_assert_nonnull (lookup (with_api[i])->https_api_url);
      }
  }
  g_assert_nonnull (strstr (sendgrid->https_api_name, "Mail Send"));
  g_assert_nonnull (strstr (microsoft->https_api_name, "Graph"));
  g_assert_null (local->https_api_name);
  g_assert_null (local->https_api_url);
  g_assert_null (bridge->https_api_url);
}

static void
test_lookup (void)
{
  g_assert_cmpstr (doctor_providers_lookup ("gmail")->host, ==, "smtp.gmail.com");
  g_assert_null (doctor_providers_lookup ("no-such-provider"));
  g_assert_null (doctor_providers_lookup (""));
  /* Ids are exact. */
  g_assert_null (doctor_providers_lookup ("GMAIL"));
}

static void
test_match_host (void)
{
  const DoctorProvider *ses = lookup ("amazon-ses");
  const DoctorProvider *provider;
  const DoctorProviderRegion *region;

  g_assert_true (doctor_providers_match_host ("smtp.gmail.com") == lookup ("gmail"));
  g_assert_true (doctor_providers_match_host ("SMTP.Gmail.COM") == lookup ("gmail"));
  g_assert_true (doctor_providers_match_host ("smtp.gmail.com.") == lookup ("gmail"));
  g_assert_true (doctor_providers_match_host ("smtp.office365.com") == lookup ("microsoft365"));
  g_assert_true (doctor_providers_match_host ("smtp.sendgrid.net") == lookup ("sendgrid"));

  /* A region host, in mixed case. */
  provider = doctor_providers_match_host ("Email-SMTP.EU-West-1.AmazonAWS.com");
  g_assert_true (provider == ses);
  region = doctor_provider_find_region (provider, "Email-SMTP.EU-West-1.AmazonAWS.com");
  g_assert_nonnull (region);
  g_assert_cmpstr (region->id, ==, "eu-west-1");
  g_assert_true (doctor_providers_match_host ("SMTP.EU.mailgun.org") == lookup ("mailgun"));
  g_assert_true (doctor_providers_match_host ("smtp.zoho.eu") == lookup ("zoho"));
  g_assert_true (doctor_providers_match_host ("sandbox.smtp.mailtrap.io") == lookup ("mailtrap"));

  /* Only whole host names match. */
  g_assert_null (doctor_providers_match_host ("gmail.com"));
  g_assert_null (doctor_providers_match_host ("xsmtp.gmail.com"));
  g_assert_null (doctor_providers_match_host ("smtp.gmail.com.evil.example"));
  g_assert_null (doctor_providers_match_host ("smtp.gmail.co"));
  g_assert_null (doctor_providers_match_host ("mail.example.org"));
  g_assert_null (doctor_providers_match_host (""));
  g_assert_null (doctor_providers_match_host ("."));

  /* A local address names a machine, not a provider. */
  g_assert_null (doctor_providers_match_host ("localhost"));
  g_assert_null (doctor_providers_match_host ("LocalHost."));
  g_assert_null (doctor_providers_match_host ("127.0.0.1"));
  g_assert_null (doctor_providers_match_host ("::1"));

  g_assert_true (doctor_provider_has_host (ses, "email-smtp.us-west-2.amazonaws.com"));
  g_assert_false (doctor_provider_has_host (ses, "smtp.gmail.com"));
}

static void
test_match_domain (void)
{
  g_assert_true (doctor_providers_match_domain ("gmail.com") == lookup ("gmail"));
  g_assert_true (doctor_providers_match_domain ("GMail.COM.") == lookup ("gmail"));
  g_assert_true (doctor_providers_match_domain ("googlemail.com") == lookup ("gmail"));
  g_assert_true (doctor_providers_match_domain ("hotmail.com") == lookup ("outlook"));
  g_assert_true (doctor_providers_match_domain ("outlook.com") == lookup ("outlook"));
  g_assert_true (doctor_providers_match_domain ("live.com") == lookup ("outlook"));
  g_assert_true (doctor_providers_match_domain ("msn.com") == lookup ("outlook"));
  g_assert_true (doctor_providers_match_domain ("ymail.com") == lookup ("yahoo"));
  g_assert_true (doctor_providers_match_domain ("yahoo.co.uk") == lookup ("yahoo"));
  g_assert_true (doctor_providers_match_domain ("me.com") == lookup ("icloud"));
  g_assert_true (doctor_providers_match_domain ("mac.com") == lookup ("icloud"));
  g_assert_true (doctor_providers_match_domain ("fastmail.fm") == lookup ("fastmail"));
  g_assert_true (doctor_providers_match_domain ("zohomail.com") == lookup ("zoho"));
  g_assert_true (doctor_providers_match_domain ("protonmail.com") == lookup ("proton-bridge"));

  /* Whole domains only: a subdomain is another domain. */
  g_assert_null (doctor_providers_match_domain ("mail.gmail.com"));
  g_assert_null (doctor_providers_match_domain ("xgmail.com"));
  g_assert_null (doctor_providers_match_domain ("gmail.co"));
  g_assert_null (doctor_providers_match_domain ("gmail.com.evil.example"));
  g_assert_null (doctor_providers_match_domain ("example.com"));
  g_assert_null (doctor_providers_match_domain (""));
  g_assert_null (doctor_providers_match_domain ("."));
  /* A host of a preset is not a mail domain. */
  g_assert_null (doctor_providers_match_domain ("smtp.gmail.com"));
}

static void
test_match_mx (void)
{
  const DoctorProvider *gmail = lookup ("gmail");
  const DoctorProvider *zoho = lookup ("zoho");

  g_assert_true (doctor_providers_match_mx ("aspmx.l.google.com") == gmail);
  g_assert_true (doctor_providers_match_mx ("ALT1.ASPMX.L.Google.com.") == gmail);
  g_assert_true (doctor_providers_match_mx ("smtp.google.com") == gmail);
  g_assert_true (doctor_providers_match_mx ("gmail-smtp-in.l.google.com") == gmail);
  g_assert_true (doctor_providers_match_mx ("aspmx2.googlemail.com") == gmail);
  g_assert_true (doctor_providers_match_mx ("example-com.mail.protection.outlook.com") ==
                 lookup ("microsoft365"));
  g_assert_true (doctor_providers_match_mx ("hotmail-com.olc.protection.outlook.com") ==
                 lookup ("outlook"));
  g_assert_true (doctor_providers_match_mx ("in1-smtp.messagingengine.com") ==
                 lookup ("fastmail"));
  g_assert_true (doctor_providers_match_mx ("mx01.mail.icloud.com") == lookup ("icloud"));
  g_assert_true (doctor_providers_match_mx ("mta5.am0.yahoodns.net") == lookup ("yahoo"));
  g_assert_true (doctor_providers_match_mx ("mail.protonmail.ch") == lookup ("proton-bridge"));
  g_assert_true (doctor_providers_match_mx ("mx.zoho.eu") == zoho);
  g_assert_true (doctor_providers_match_mx ("mx2.zoho.com.au") == zoho);

  /* The pattern that matched, the longest of the provider's. */
  g_assert_cmpstr (doctor_provider_match_mx_pattern (gmail, "aspmx.l.google.com"), ==,
                   "aspmx.l.google.com");
  g_assert_cmpstr (doctor_provider_match_mx_pattern (gmail, "alt2.aspmx.l.google.com"), ==,
                   "aspmx.l.google.com");
  g_assert_cmpstr (doctor_provider_match_mx_pattern (gmail, "smtp.google.com"), ==,
                   ".google.com");
  g_assert_cmpstr (doctor_provider_match_mx_pattern (zoho, "mx.zoho.eu"), ==, ".zoho.eu");
  g_assert_cmpstr (doctor_provider_match_mx_pattern (zoho, "mx.zoho.com.au"), ==,
                   ".zoho.com.au");
  g_assert_null (doctor_provider_match_mx_pattern (zoho, "aspmx.l.google.com"));

  /* Only at a dot: these are not Google's. */
  g_assert_null (doctor_providers_match_mx ("xgoogle.com"));
  g_assert_null (doctor_providers_match_mx ("notgooglemail.com"));
  g_assert_null (doctor_providers_match_mx ("google.com.evil.example"));
  g_assert_null (doctor_providers_match_mx ("protection.outlook.com"));
  g_assert_null (doctor_providers_match_mx ("outlook.com"));
  g_assert_null (doctor_providers_match_mx ("mx.example.org"));
  g_assert_null (doctor_providers_match_mx (""));
  g_assert_null (doctor_providers_match_mx ("."));
}

/* The built-in file, read through the public loader: the same result as the cached copy. */
static void
test_builtin_through_loader (void)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GPtrArray) providers = NULL;
  g_autoptr(GError) error = NULL;
  const char *data;
  gsize length;

  doctor_providers_get_all ();
  bytes = g_resources_lookup_data (DOCTOR_PROVIDERS_RESOURCE, G_RESOURCE_LOOKUP_FLAGS_NONE,
                                   &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (bytes, &length);
  g_assert_cmpuint (length, <, DOCTOR_PROVIDERS_MAX_BYTES / 4);

  providers = doctor_providers_load_from_data (data, length, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (providers->len, ==, doctor_providers_get_all ()->len);
}

/* Every prefix of the built-in file is refused cleanly, never a crash or a partial list. */
static void
test_truncated (void)
{
  g_autoptr(GBytes) bytes = NULL;
  const char *data;
  gsize length;

  doctor_providers_get_all ();
  bytes = g_resources_lookup_data (DOCTOR_PROVIDERS_RESOURCE, G_RESOURCE_LOOKUP_FLAGS_NONE,
                                   NULL);
  data = g_bytes_get_data (bytes, &length);

  /* The final newline is whitespace, so stop before the closing brace. */
  while (length > 0 && data[length - 1] != '}')
    length--;

  for (gsize cut = 0; cut < length; cut += (g_test_thorough () ? 1 : 7))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) providers = NULL;
      g_autofree char *copy = g_strndup (data, cut);

      providers = doctor_providers_load_from_data (copy, cut, &error);
      g_assert_null (providers);
      g_assert_nonnull (error);
    }
}

typedef enum
{
  EXPECT_SYNTAX,      /* DOCTOR_PROVIDERS_ERROR_SYNTAX, or json-glib's own parse error */
  EXPECT_VERSION,
  EXPECT_INVALID,
  EXPECT_TOO_DEEP,
} Expectation;

typedef struct
{
  const char  *name;
  const char  *json;
  Expectation  expect;
} BadCase;

static const BadCase bad_cases[] = {
  /* Not JSON at all, or not strict JSON (json-glib 1.6 would take several of these). */
  { "empty", "", EXPECT_SYNTAX },
  { "blank", "  \n ", EXPECT_SYNTAX },
  { "garbage", "providers", EXPECT_SYNTAX },
  { "unclosed", "{\"version\": 1, \"providers\": [", EXPECT_SYNTAX },
  { "unclosed-string", "{\"version\": 1, \"providers\": [\"abc", EXPECT_SYNTAX },
  { "missing-comma", "{\"version\": 1 \"providers\": []}", EXPECT_SYNTAX },
  { "trailing-comma", "{\"version\": 1, \"providers\": [],}", EXPECT_SYNTAX },
  { "unbalanced", "{\"version\": 1, \"providers\": [}]", EXPECT_SYNTAX },
  { "trailing-garbage", DOCUMENT (MINIMAL_PROVIDER) " x", EXPECT_SYNTAX },
  { "trailing-document", DOCUMENT (MINIMAL_PROVIDER) " {}", EXPECT_SYNTAX },
  { "trailing-bracket", DOCUMENT (MINIMAL_PROVIDER) "]", EXPECT_SYNTAX },
  { "comment", "/* presets */ " DOCUMENT (MINIMAL_PROVIDER), EXPECT_SYNTAX },
  { "single-quotes", "{\"version\": 1, \"providers\": ['x']}", EXPECT_SYNTAX },
  { "hex-number", "{\"version\": 0x1, \"providers\": []}", EXPECT_SYNTAX },
  { "raw-newline-in-string",
    DOCUMENT (PROVIDER_WITH ("\"name\": \"Exa\nmple\"")), EXPECT_SYNTAX },
  { "invalid-escape", DOCUMENT (PROVIDER_WITH ("\"name\": \"Exa\\qmple\"")), EXPECT_SYNTAX },
  { "nul-escape", DOCUMENT (PROVIDER_WITH ("\"name\": \"Exa\\u0000mple\"")), EXPECT_SYNTAX },
  { "invalid-utf8", DOCUMENT (PROVIDER_WITH ("\"name\": \"Exa\xff" "mple\"")), EXPECT_SYNTAX },
  { "scalar-root", "1", EXPECT_SYNTAX },
  { "string-root", "\"providers\"", EXPECT_SYNTAX },

  /* The version. */
  { "no-version", "{\"providers\": [" MINIMAL_PROVIDER "]}", EXPECT_VERSION },
  { "version-2", "{\"version\": 2, \"providers\": [" MINIMAL_PROVIDER "]}", EXPECT_VERSION },
  { "version-0", "{\"version\": 0, \"providers\": []}", EXPECT_VERSION },
  { "version-string", "{\"version\": \"1\", \"providers\": []}", EXPECT_VERSION },
  { "version-float", "{\"version\": 1.0, \"providers\": []}", EXPECT_VERSION },
  { "version-null", "{\"version\": null, \"providers\": []}", EXPECT_VERSION },

  /* Wrong types and values, level by level. */
  { "root-array", "[]", EXPECT_INVALID },
  { "no-providers", "{\"version\": 1}", EXPECT_INVALID },
  { "providers-object", "{\"version\": 1, \"providers\": {}}", EXPECT_INVALID },
  { "providers-string", "{\"version\": 1, \"providers\": \"gmail\"}", EXPECT_INVALID },
  { "providers-null", "{\"version\": 1, \"providers\": null}", EXPECT_INVALID },
  { "provider-string", DOCUMENT ("\"gmail\""), EXPECT_INVALID },
  { "provider-array", DOCUMENT ("[]"), EXPECT_INVALID },
  { "provider-null", DOCUMENT ("null"), EXPECT_INVALID },
  { "second-provider-number", DOCUMENT (MINIMAL_PROVIDER ", 5"), EXPECT_INVALID },
  { "no-id", DOCUMENT ("{\"name\": \"Example\", \"host\": \"smtp.example.com\", \"port\": 587, "
                       "\"security\": \"starttls\", \"help\": \"Some help.\"}"), EXPECT_INVALID },
  { "id-number", DOCUMENT (PROVIDER_WITH ("\"id\": 5")), EXPECT_INVALID },
  { "id-empty", DOCUMENT (PROVIDER_WITH ("\"id\": \"\"")), EXPECT_INVALID },
  { "id-upper-case", DOCUMENT (PROVIDER_WITH ("\"id\": \"Example\"")), EXPECT_INVALID },
  { "id-space", DOCUMENT (PROVIDER_WITH ("\"id\": \"ex ample\"")), EXPECT_INVALID },
  { "duplicate-id", DOCUMENT (MINIMAL_PROVIDER ", "
                              PROVIDER_WITH ("\"host\": \"smtp2.example.com\"")),
    EXPECT_INVALID },
  { "duplicate-host", DOCUMENT (MINIMAL_PROVIDER ", " PROVIDER_WITH ("\"id\": \"other\"")),
    EXPECT_INVALID },
  { "name-number", DOCUMENT (PROVIDER_WITH ("\"name\": 1")), EXPECT_INVALID },
  { "name-empty", DOCUMENT (PROVIDER_WITH ("\"name\": \"\"")), EXPECT_INVALID },
  { "name-control", DOCUMENT (PROVIDER_WITH ("\"name\": \"Exa\\u001bmple\"")), EXPECT_INVALID },
  { "name-newline", DOCUMENT (PROVIDER_WITH ("\"name\": \"Exa\\nmple\"")), EXPECT_INVALID },
  { "host-array", DOCUMENT (PROVIDER_WITH ("\"host\": [\"smtp.example.com\"]")),
    EXPECT_INVALID },
  { "host-space", DOCUMENT (PROVIDER_WITH ("\"host\": \"smtp example.com\"")), EXPECT_INVALID },
  { "host-crlf", DOCUMENT (PROVIDER_WITH ("\"host\": \"smtp.example.com\\r\\n\"")),
    EXPECT_INVALID },
  { "port-string", DOCUMENT (PROVIDER_WITH ("\"port\": \"587x\"")), EXPECT_INVALID },
  { "port-numeric-string", DOCUMENT (PROVIDER_WITH ("\"port\": \"587\"")), EXPECT_INVALID },
  { "port-float", DOCUMENT (PROVIDER_WITH ("\"port\": 587.5")), EXPECT_INVALID },
  { "port-zero", DOCUMENT (PROVIDER_WITH ("\"port\": 0")), EXPECT_INVALID },
  { "port-negative", DOCUMENT (PROVIDER_WITH ("\"port\": -25")), EXPECT_INVALID },
  { "port-too-big", DOCUMENT (PROVIDER_WITH ("\"port\": 65536")), EXPECT_INVALID },
  { "port-huge", DOCUMENT (PROVIDER_WITH ("\"port\": 99999999999999999999")), EXPECT_INVALID },
  { "port-bool", DOCUMENT (PROVIDER_WITH ("\"port\": true")), EXPECT_INVALID },
  { "security-unknown", DOCUMENT (PROVIDER_WITH ("\"security\": \"ssl3\"")), EXPECT_INVALID },
  { "security-alias", DOCUMENT (PROVIDER_WITH ("\"security\": \"ssl\"")), EXPECT_INVALID },
  { "security-upper", DOCUMENT (PROVIDER_WITH ("\"security\": \"STARTTLS\"")), EXPECT_INVALID },
  { "security-number", DOCUMENT (PROVIDER_WITH ("\"security\": 1")), EXPECT_INVALID },
  { "no-help", DOCUMENT ("{\"id\": \"example\", \"name\": \"Example\", "
                         "\"host\": \"smtp.example.com\", \"port\": 587, "
                         "\"security\": \"starttls\"}"), EXPECT_INVALID },
  { "help-object", DOCUMENT (PROVIDER_WITH ("\"help\": {}")), EXPECT_INVALID },
  { "user-number", DOCUMENT (PROVIDER_WITH ("\"user\": 1")), EXPECT_INVALID },
  { "user-hint-null", DOCUMENT (PROVIDER_WITH ("\"user_hint\": null")), EXPECT_INVALID },
  { "login-required-string", DOCUMENT (PROVIDER_WITH ("\"login_required\": \"no\"")),
    EXPECT_INVALID },
  { "links-string", DOCUMENT (PROVIDER_WITH ("\"links\": \"https://example.com\"")),
    EXPECT_INVALID },
  { "link-string", DOCUMENT (PROVIDER_WITH ("\"links\": [\"https://example.com\"]")),
    EXPECT_INVALID },
  { "link-title-number",
    DOCUMENT (PROVIDER_WITH ("\"links\": [{\"title\": 1, \"url\": \"https://example.com\"}]")),
    EXPECT_INVALID },
  { "link-no-url", DOCUMENT (PROVIDER_WITH ("\"links\": [{\"title\": \"Help\"}]")),
    EXPECT_INVALID },
  { "link-http",
    DOCUMENT (PROVIDER_WITH ("\"links\": [{\"title\": \"Help\", "
                             "\"url\": \"http://example.com\"}]")),
    EXPECT_INVALID },
  { "link-javascript",
    DOCUMENT (PROVIDER_WITH ("\"links\": [{\"title\": \"Help\", \"url\": \"javascript:x\"}]")),
    EXPECT_INVALID },
  { "link-space",
    DOCUMENT (PROVIDER_WITH ("\"links\": [{\"title\": \"Help\", "
                             "\"url\": \"https://example.com/a b\"}]")),
    EXPECT_INVALID },
  { "issuers-string", DOCUMENT (PROVIDER_WITH ("\"expected_issuers\": \"GTS\"")),
    EXPECT_INVALID },
  { "issuer-number", DOCUMENT (PROVIDER_WITH ("\"expected_issuers\": [\"GTS\", 2]")),
    EXPECT_INVALID },
  { "issuer-empty", DOCUMENT (PROVIDER_WITH ("\"expected_issuers\": [\"\"]")), EXPECT_INVALID },
  { "regions-object", DOCUMENT (PROVIDER_WITH ("\"regions\": {}")), EXPECT_INVALID },
  { "region-string", DOCUMENT (PROVIDER_WITH ("\"regions\": [\"eu\"]")), EXPECT_INVALID },
  { "region-host-number",
    DOCUMENT (PROVIDER_WITH ("\"regions\": [{\"id\": \"eu\", \"name\": \"Europe\", "
                             "\"host\": 1}]")),
    EXPECT_INVALID },
  { "region-no-name",
    DOCUMENT (PROVIDER_WITH ("\"regions\": [{\"id\": \"eu\", \"host\": \"smtp.example.eu\"}]")),
    EXPECT_INVALID },
  { "region-port-string",
    DOCUMENT (PROVIDER_WITH ("\"regions\": [{\"id\": \"eu\", \"name\": \"Europe\", "
                             "\"host\": \"smtp.example.eu\", \"port\": \"25\"}]")),
    EXPECT_INVALID },
  { "region-duplicate-id",
    DOCUMENT (PROVIDER_WITH ("\"regions\": ["
                             "{\"id\": \"eu\", \"name\": \"Europe\", \"host\": \"a.example.eu\"},"
                             "{\"id\": \"eu\", \"name\": \"Europe\", \"host\": \"b.example.eu\"}"
                             "]")),
    EXPECT_INVALID },
  { "region-host-of-other-provider",
    DOCUMENT (MINIMAL_PROVIDER ", "
              "{\"id\": \"other\", \"name\": \"Other\", \"host\": \"smtp.other.example\", "
              "\"port\": 587, \"security\": \"starttls\", \"help\": \"Help.\", "
              "\"regions\": [{\"id\": \"x\", \"name\": \"X\", \"host\": \"SMTP.example.com\"}]}"),
    EXPECT_INVALID },
  { "alternatives-number", DOCUMENT (PROVIDER_WITH ("\"alternatives\": 465")), EXPECT_INVALID },
  { "alternative-number", DOCUMENT (PROVIDER_WITH ("\"alternatives\": [465]")), EXPECT_INVALID },
  { "alternative-no-port",
    DOCUMENT (PROVIDER_WITH ("\"alternatives\": [{\"security\": \"tls\"}]")), EXPECT_INVALID },
  { "alternative-bad-security",
    DOCUMENT (PROVIDER_WITH ("\"alternatives\": [{\"port\": 465, \"security\": \"yes\"}]")),
    EXPECT_INVALID },

  /* Discovery: domains, mx_patterns and https_api. */
  { "domains-string", DOCUMENT (PROVIDER_WITH ("\"domains\": \"example.com\"")), EXPECT_INVALID },
  { "domains-object", DOCUMENT (PROVIDER_WITH ("\"domains\": {}")), EXPECT_INVALID },
  { "domain-number", DOCUMENT (PROVIDER_WITH ("\"domains\": [1]")), EXPECT_INVALID },
  { "domain-null", DOCUMENT (PROVIDER_WITH ("\"domains\": [null]")), EXPECT_INVALID },
  { "domain-empty", DOCUMENT (PROVIDER_WITH ("\"domains\": [\"\"]")), EXPECT_INVALID },
  { "domain-upper-case", DOCUMENT (PROVIDER_WITH ("\"domains\": [\"Example.com\"]")),
    EXPECT_INVALID },
  { "domain-single-label", DOCUMENT (PROVIDER_WITH ("\"domains\": [\"localhost\"]")),
    EXPECT_INVALID },
  { "domain-leading-dot", DOCUMENT (PROVIDER_WITH ("\"domains\": [\".example.com\"]")),
    EXPECT_INVALID },
  { "domain-trailing-dot", DOCUMENT (PROVIDER_WITH ("\"domains\": [\"example.com.\"]")),
    EXPECT_INVALID },
  { "domain-empty-label", DOCUMENT (PROVIDER_WITH ("\"domains\": [\"example..com\"]")),
    EXPECT_INVALID },
  { "domain-space", DOCUMENT (PROVIDER_WITH ("\"domains\": [\"exa mple.com\"]")),
    EXPECT_INVALID },
  { "domain-underscore", DOCUMENT (PROVIDER_WITH ("\"domains\": [\"ex_ample.com\"]")),
    EXPECT_INVALID },
  { "domain-hyphen-first", DOCUMENT (PROVIDER_WITH ("\"domains\": [\"-example.com\"]")),
    EXPECT_INVALID },
  { "domain-hyphen-last", DOCUMENT (PROVIDER_WITH ("\"domains\": [\"example-.com\"]")),
    EXPECT_INVALID },
  { "domain-label-too-long",
    DOCUMENT (PROVIDER_WITH ("\"domains\": [\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                             "aaaaaaaaaaaa.com\"]")),
    EXPECT_INVALID },
  { "domain-twice", DOCUMENT (PROVIDER_WITH ("\"domains\": [\"example.com\", \"example.com\"]")),
    EXPECT_INVALID },
  { "domain-of-other-provider",
    DOCUMENT (PROVIDER_WITH ("\"domains\": [\"example.com\"]") ", "
              "{\"id\": \"other\", \"name\": \"Other\", \"host\": \"smtp.other.example\", "
              "\"port\": 587, \"security\": \"starttls\", \"help\": \"Help.\", "
              "\"domains\": [\"other.example\", \"example.com\"]}"),
    EXPECT_INVALID },
  { "mx-patterns-string", DOCUMENT (PROVIDER_WITH ("\"mx_patterns\": \".example.com\"")),
    EXPECT_INVALID },
  { "mx-pattern-number", DOCUMENT (PROVIDER_WITH ("\"mx_patterns\": [25]")), EXPECT_INVALID },
  { "mx-pattern-tld", DOCUMENT (PROVIDER_WITH ("\"mx_patterns\": [\".com\"]")), EXPECT_INVALID },
  { "mx-pattern-dot", DOCUMENT (PROVIDER_WITH ("\"mx_patterns\": [\".\"]")), EXPECT_INVALID },
  { "mx-pattern-two-dots", DOCUMENT (PROVIDER_WITH ("\"mx_patterns\": [\"..example.com\"]")),
    EXPECT_INVALID },
  { "mx-pattern-wildcard", DOCUMENT (PROVIDER_WITH ("\"mx_patterns\": [\"*.example.com\"]")),
    EXPECT_INVALID },
  { "mx-pattern-upper-case", DOCUMENT (PROVIDER_WITH ("\"mx_patterns\": [\".Example.com\"]")),
    EXPECT_INVALID },
  { "mx-pattern-twice",
    DOCUMENT (PROVIDER_WITH ("\"mx_patterns\": [\"example.com\", \".example.com\"]")),
    EXPECT_INVALID },
  { "mx-pattern-of-other-provider",
    DOCUMENT (PROVIDER_WITH ("\"mx_patterns\": [\".mx.example.com\"]") ", "
              "{\"id\": \"other\", \"name\": \"Other\", \"host\": \"smtp.other.example\", "
              "\"port\": 587, \"security\": \"starttls\", \"help\": \"Help.\", "
              "\"mx_patterns\": [\"mx.example.com\"]}"),
    EXPECT_INVALID },
  { "https-api-string", DOCUMENT (PROVIDER_WITH ("\"https_api\": \"https://api.example.com\"")),
    EXPECT_INVALID },
  { "https-api-array",
    DOCUMENT (PROVIDER_WITH ("\"https_api\": [{\"name\": \"API\", "
                             "\"url\": \"https://example.com/api\"}]")),
    EXPECT_INVALID },
  { "https-api-null", DOCUMENT (PROVIDER_WITH ("\"https_api\": null")), EXPECT_INVALID },
  { "https-api-no-url", DOCUMENT (PROVIDER_WITH ("\"https_api\": {\"name\": \"API\"}")),
    EXPECT_INVALID },
  { "https-api-no-name",
    DOCUMENT (PROVIDER_WITH ("\"https_api\": {\"url\": \"https://example.com/api\"}")),
    EXPECT_INVALID },
  { "https-api-name-number",
    DOCUMENT (PROVIDER_WITH ("\"https_api\": {\"name\": 3, \"url\": \"https://example.com\"}")),
    EXPECT_INVALID },
  { "https-api-name-control",
    DOCUMENT (PROVIDER_WITH ("\"https_api\": {\"name\": \"A\\u0007PI\", "
                             "\"url\": \"https://example.com/api\"}")),
    EXPECT_INVALID },
  { "https-api-http",
    DOCUMENT (PROVIDER_WITH ("\"https_api\": {\"name\": \"API\", "
                             "\"url\": \"http://example.com/api\"}")),
    EXPECT_INVALID },
  { "https-api-url-space",
    DOCUMENT (PROVIDER_WITH ("\"https_api\": {\"name\": \"API\", "
                             "\"url\": \"https://example.com/a pi\"}")),
    EXPECT_INVALID },
};

static void
test_refuse (gconstpointer data)
{
  const BadCase *bad = data;
  g_autoptr(GPtrArray) providers = NULL;
  g_autoptr(GError) error = NULL;

  providers = load_string (bad->json, &error);
  g_assert_null (providers);
  g_assert_nonnull (error);
  g_test_message ("%s: %s", bad->name, error->message);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));

  switch (bad->expect)
    {
    case EXPECT_SYNTAX:
      if (error->domain != JSON_PARSER_ERROR)
        g_assert_error (error, DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_SYNTAX);
      break;

    case EXPECT_VERSION:
      g_assert_error (error, DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_VERSION);
      break;

    case EXPECT_INVALID:
      g_assert_error (error, DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_INVALID);
      break;

    case EXPECT_TOO_DEEP:
    default:
      g_assert_error (error, DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_TOO_DEEP);
      break;
    }

  /* And without an error to fill in. */
  g_assert_null (load_string (bad->json, NULL));
}

static void
assert_too_deep (const char *text,
                 gsize       length)
{
  g_autoptr(GPtrArray) providers = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  providers = doctor_providers_load_from_data (text, length, &error);
  g_assert_null (providers);
  g_assert_error (error, DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_TOO_DEEP);
  /* Refused by the scan, long before json-glib could recurse. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
}

static void
test_refuse_deep (void)
{
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GString) nested = g_string_new ("{\"version\": 1, \"providers\": [");

  /* 100000 opening brackets; and, inside a real document, as many levels as fit in the size
   * cap (the size is checked first).
   */
  for (guint i = 0; i < 100000; i++)
    g_string_append_c (text, '[');
  assert_too_deep (text->str, text->len);

  for (guint i = 0; i < 40000; i++)
    g_string_append (nested, "{\"a\":[");
  assert_too_deep (nested->str, nested->len);

  /* Brackets inside strings do not count, and the maximum itself passes the scan: refused
   * later only because the provider is an array, not for its depth.
   */
  g_string_assign (text, "{\"version\": 1, \"providers\": [[]], \"x\": \"[[[[[[[[[[[[[[[[[[[[\", "
                   "\"deep\": ");
  for (guint i = 1; i < DOCTOR_PROVIDERS_MAX_DEPTH; i++)
    g_string_append_c (text, '[');
  for (guint i = 1; i < DOCTOR_PROVIDERS_MAX_DEPTH; i++)
    g_string_append_c (text, ']');
  g_string_append_c (text, '}');
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) providers = load_string (text->str, &error);

    g_assert_null (providers);
    g_assert_error (error, DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_INVALID);
  }

  /* One level too many. */
  g_string_truncate (text, 0);
  for (guint i = 0; i <= DOCTOR_PROVIDERS_MAX_DEPTH; i++)
    g_string_append_c (text, '[');
  for (guint i = 0; i <= DOCTOR_PROVIDERS_MAX_DEPTH; i++)
    g_string_append_c (text, ']');
  assert_too_deep (text->str, text->len);
}

static void
test_refuse_large (void)
{
  g_autoptr(GString) text = g_string_new (DOCUMENT (MINIMAL_PROVIDER));
  g_autoptr(GPtrArray) providers = NULL;
  g_autoptr(GError) error = NULL;

  /* Valid JSON padded with whitespace past the cap. */
  while (text->len <= DOCTOR_PROVIDERS_MAX_BYTES)
    g_string_append (text, "                                ");

  providers = doctor_providers_load_from_data (text->str, text->len, &error);
  g_assert_null (providers);
  g_assert_error (error, DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_TOO_LARGE);

  /* The cap counts the length given, not up to a NUL byte. */
  g_clear_error (&error);
  providers = doctor_providers_load_from_data (text->str, DOCTOR_PROVIDERS_MAX_BYTES, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (providers->len, ==, 1);
}

static void
test_refuse_nul (void)
{
  static const char text[] = DOCUMENT (MINIMAL_PROVIDER) "\0 {}";
  g_autoptr(GPtrArray) providers = NULL;
  g_autoptr(GError) error = NULL;

  providers = doctor_providers_load_from_data (text, sizeof text - 1, &error);
  g_assert_null (providers);
  g_assert_error (error, DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_SYNTAX);
}

static void
test_accept_minimal (void)
{
  g_autoptr(GPtrArray) providers = NULL;
  g_autoptr(GError) error = NULL;
  const DoctorProvider *provider;

  providers = load_string (DOCUMENT (MINIMAL_PROVIDER), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (providers->len, ==, 1);

  provider = g_ptr_array_index (providers, 0);
  g_assert_cmpstr (provider->id, ==, "example");
  g_assert_cmpstr (provider->name, ==, "Example");
  g_assert_cmpstr (provider->host, ==, "smtp.example.com");
  g_assert_cmpuint (provider->port, ==, 587);
  g_assert_cmpint (provider->security, ==, DOCTOR_SECURITY_STARTTLS);
  g_assert_true (provider->login_required);
  g_assert_null (provider->user);
  g_assert_null (provider->user_hint);
  g_assert_cmpstr (provider->help, ==, "Some help.");
  g_assert_cmpuint (provider->links->len, ==, 0);
  g_assert_cmpuint (g_strv_length (provider->expected_issuers), ==, 0);
  g_assert_cmpuint (provider->regions->len, ==, 0);
  g_assert_cmpuint (provider->alternatives->len, ==, 0);
  g_assert_nonnull (provider->domains);
  g_assert_cmpuint (g_strv_length (provider->domains), ==, 0);
  g_assert_nonnull (provider->mx_patterns);
  g_assert_cmpuint (g_strv_length (provider->mx_patterns), ==, 0);
  g_assert_null (provider->https_api_name);
  g_assert_null (provider->https_api_url);

  /* No providers at all is a valid, if useless, file. */
  g_clear_pointer (&providers, g_ptr_array_unref);
  providers = load_string ("{\"version\": 1, \"providers\": []}", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (providers->len, ==, 0);
}

/* Fields this code does not know, at every level, are ignored: a newer file still loads. */
static void
test_accept_unknown_fields (void)
{
  static const char text[] =
    "{\"version\": 1, \"generator\": {\"name\": \"hand\", \"list\": [1, 2.5, null, true]},\n"
    " \"providers\": [\n"
    "  {\"id\": \"example\", \"name\": \"Example\", \"host\": \"smtp.example.com\",\n"
    "   \"port\": 465, \"security\": \"tls\", \"help\": \"Line one.\\nLine two \\u00e9\\\"\",\n"
    "   \"user\": \"apikey\", \"user_hint\": \"The word apikey\", \"login_required\": true,\n"
    "   \"oauth\": {\"scopes\": [\"mail\"]}, \"logo\": null, \"rating\": 4.5,\n"
    "   \"links\": [{\"title\": \"Help\", \"url\": \"https://example.com/help?a=1&b=2\",\n"
    "               \"lang\": \"en\"}],\n"
    "   \"expected_issuers\": [\"Example CA\"],\n"
    "   \"regions\": [{\"id\": \"eu-1\", \"name\": \"Europe\", \"host\": \"smtp.eu.example.com\",\n"
    "                 \"port\": 2525, \"legacy\": false}],\n"
    "   \"alternatives\": [{\"port\": 587, \"security\": \"starttls\", \"note\": \"slow\"}]},\n"
    "  {\"id\": \"local-2\", \"name\": \"Local\", \"host\": \"::1\", \"port\": 25,\n"
    "   \"security\": \"none\", \"login_required\": false, \"help\": \"Local.\"}\n"
    " ]}\n";
  g_autoptr(GPtrArray) providers = NULL;
  g_autoptr(GError) error = NULL;
  const DoctorProvider *provider;
  const DoctorProviderRegion *region;
  const DoctorProviderAlternative *alternative;
  const DoctorProviderLink *link;

  providers = load_string (text, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (providers->len, ==, 2);

  provider = g_ptr_array_index (providers, 0);
  g_assert_cmpint (provider->security, ==, DOCTOR_SECURITY_TLS);
  g_assert_cmpstr (provider->help, ==, "Line one.\nLine two \xc3\xa9\"");
  g_assert_cmpstr (provider->user, ==, "apikey");
  g_assert_cmpuint (provider->links->len, ==, 1);
  link = g_ptr_array_index (provider->links, 0);
  g_assert_cmpstr (link->url, ==, "https://example.com/help?a=1&b=2");
  g_assert_cmpstr (provider->expected_issuers[0], ==, "Example CA");
  g_assert_null (provider->expected_issuers[1]);
  region = doctor_provider_find_region (provider, "SMTP.EU.example.com");
  g_assert_nonnull (region);
  g_assert_cmpstr (region->id, ==, "eu-1");
  g_assert_cmpuint (region->port, ==, 2525);
  alternative = g_ptr_array_index (provider->alternatives, 0);
  g_assert_cmpuint (alternative->port, ==, 587);
  g_assert_cmpint (alternative->security, ==, DOCTOR_SECURITY_STARTTLS);

  provider = g_ptr_array_index (providers, 1);
  g_assert_false (provider->login_required);
  g_assert_cmpint (provider->security, ==, DOCTOR_SECURITY_NONE);
}

/* The fields of discovery, read from a document of the test's own. */
static void
test_accept_discovery_fields (void)
{
  static const char text[] =
    "{\"version\": 1, \"providers\": [\n"
    "  {\"id\": \"example\", \"name\": \"Example\", \"host\": \"smtp.example.com\",\n"
    "   \"port\": 587, \"security\": \"starttls\", \"help\": \"Help.\",\n"
    "   \"domains\": [\"example.com\", \"mail.example.net\", \"xn--bcher-kva.example\"],\n"
    "   \"mx_patterns\": [\".mx.example.com\", \"in.example-mail.net\"],\n"
    "   \"https_api\": {\"name\": \"Example Send API\", \"url\": \"https://example.com/api\",\n"
    "                 \"method\": \"POST\"}},\n"
    "  {\"id\": \"other\", \"name\": \"Other\", \"host\": \"smtp.other.example\",\n"
    "   \"port\": 465, \"security\": \"tls\", \"help\": \"Help.\",\n"
    "   \"domains\": [], \"mx_patterns\": [\".example.com\"]}\n"
    " ]}\n";
  g_autoptr(GPtrArray) providers = NULL;
  g_autoptr(GError) error = NULL;
  const DoctorProvider *example, *other;

  providers = load_string (text, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (providers->len, ==, 2);
  example = g_ptr_array_index (providers, 0);
  other = g_ptr_array_index (providers, 1);

  g_assert_cmpuint (g_strv_length (example->domains), ==, 3);
  g_assert_cmpstr (example->domains[2], ==, "xn--bcher-kva.example");
  g_assert_cmpuint (g_strv_length (example->mx_patterns), ==, 2);
  /* Not translated: a product name. */
  g_assert_cmpstr (example->https_api_name, ==, "Example Send API");
  g_assert_cmpstr (example->https_api_url, ==, "https://example.com/api");
  g_assert_cmpuint (g_strv_length (other->domains), ==, 0);
  g_assert_null (other->https_api_name);

  /* Patterns that overlap across providers load: the longer one is the more precise. */
  g_assert_cmpstr (doctor_provider_match_mx_pattern (example, "mx1.mx.example.com"), ==,
                   ".mx.example.com");
  g_assert_cmpstr (doctor_provider_match_mx_pattern (other, "mx1.mx.example.com"), ==,
                   ".example.com");
  g_assert_cmpstr (doctor_provider_match_mx_pattern (example, "IN.Example-Mail.NET."), ==,
                   "in.example-mail.net");
  g_assert_cmpstr (doctor_provider_match_mx_pattern (example, "a.in.example-mail.net"), ==,
                   "in.example-mail.net");
  g_assert_null (doctor_provider_match_mx_pattern (example, "xin.example-mail.net"));
  /* A leading dot or none: the name itself matches too. */
  g_assert_cmpstr (doctor_provider_match_mx_pattern (example, "mx.example.com"), ==,
                   ".mx.example.com");
  g_assert_cmpstr (doctor_provider_match_mx_pattern (other, "example.com"), ==, ".example.com");
  g_assert_null (doctor_provider_match_mx_pattern (other, ""));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/providers/builtin/loads", test_builtin_loads);
  g_test_add_func ("/providers/builtin/complete", test_builtin_complete);
  g_test_add_func ("/providers/builtin/facts", test_builtin_facts);
  g_test_add_func ("/providers/builtin/through-loader", test_builtin_through_loader);
  g_test_add_func ("/providers/builtin/truncated", test_truncated);
  g_test_add_func ("/providers/lookup", test_lookup);
  g_test_add_func ("/providers/match-host", test_match_host);
  g_test_add_func ("/providers/match-domain", test_match_domain);
  g_test_add_func ("/providers/match-mx", test_match_mx);

  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/providers/refuse/%s", bad_cases[i].name);

      g_test_add_data_func (path, &bad_cases[i], test_refuse);
    }

  g_test_add_func ("/providers/refuse/deep", test_refuse_deep);
  g_test_add_func ("/providers/refuse/large", test_refuse_large);
  g_test_add_func ("/providers/refuse/nul-byte", test_refuse_nul);
  g_test_add_func ("/providers/accept/minimal", test_accept_minimal);
  g_test_add_func ("/providers/accept/unknown-fields", test_accept_unknown_fields);
  g_test_add_func ("/providers/accept/discovery-fields", test_accept_discovery_fields);

  return g_test_run ();
}
