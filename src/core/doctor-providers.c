/* doctor-providers.c: loading the provider presets from the core's GResource.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The built-in file is read once, on first use, and kept for the life of the process. The same
 * parser reads any other data through doctor_providers_load_from_data(), for the tests and for
 * fuzzing, so it is written for hostile input:
 *
 *  1. the size is capped (DOCTOR_PROVIDERS_MAX_BYTES) and the text must be valid UTF-8;
 *  2. a lexical scan (doctor-json-private.c) lets only strict JSON through and caps the
 *     nesting depth. json-glib 1.6 has no depth limit (it recurses once per level) and is
 *     lenient where JSON is not: it takes comments, single-quoted strings, hexadecimal
 *     numbers, raw control characters in strings and a second document after the first. None
 *     of that can reach it;
 *  3. JsonParser builds the tree, and every member the code uses is type-checked, at every
 *     level, with its range (ports 1–65535, ids of [a-z0-9-], https links, hosts, mail domains
 *     and MX patterns claimed by one provider only). Any error refuses the whole file, naming
 *     the member ("providers[3] (gmail).port: …"). Those messages are for whoever edits the
 *     file, so are not translated.
 *
 * The user-visible strings are translated here, when loaded, with g_dgettext() in the
 * application's domain: the front ends set the locale before they first ask for a preset.
 */
#include "config.h"

#include <string.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "doctor-core-resources.h"
#include "doctor-json-private.h"
#include "doctor-providers.h"

#define MAX_ID_BYTES    64
#define MAX_NAME_BYTES  256
#define MAX_HOST_BYTES  253
#define MAX_URL_BYTES   2048
#define MAX_TEXT_BYTES  4096

typedef enum
{
  STRING_REQUIRED  = 1 << 0,
  STRING_MULTILINE = 1 << 1,   /* line feeds allowed (help text) */
  STRING_TRANSLATE = 1 << 2,
} StringFlags;

G_DEFINE_QUARK (doctor-providers-error-quark, doctor_providers_error)

static void
doctor_provider_link_free (DoctorProviderLink *link)
{
  g_free (link->title);
  g_free (link->url);
  g_free (link);
}

static void
doctor_provider_region_free (DoctorProviderRegion *region)
{
  g_free (region->id);
  g_free (region->name);
  g_free (region->host);
  g_free (region);
}

void
doctor_provider_free (DoctorProvider *provider)
{
  if (provider == NULL)
    return;

  g_free (provider->id);
  g_free (provider->name);
  g_free (provider->host);
  g_free (provider->user);
  g_free (provider->user_hint);
  g_free (provider->help);
  g_clear_pointer (&provider->links, g_ptr_array_unref);
  g_clear_pointer (&provider->expected_issuers, g_strfreev);
  g_clear_pointer (&provider->regions, g_ptr_array_unref);
  g_clear_pointer (&provider->alternatives, g_ptr_array_unref);
  g_clear_pointer (&provider->domains, g_strfreev);
  g_clear_pointer (&provider->mx_patterns, g_strfreev);
  g_free (provider->https_api_name);
  g_free (provider->https_api_url);
  g_free (provider);
}

static gboolean
syntax_error (GError     **error,
              gsize        offset,
              const char  *what)
{
  g_set_error (error, DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_SYNTAX,
               "Not strict JSON at byte %" G_GSIZE_FORMAT ": %s", offset, what);
  return FALSE;
}

/* Type-checked reading (step 3 above). */

static gboolean
invalid (GError     **error,
         const char  *path,
         const char  *member,
         const char  *what)
{
  g_set_error (error, DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_INVALID,
               "%s%s%s: %s", path, member ? "." : "", member ? member : "", what);
  return FALSE;
}

static gboolean
text_is_clean (const char *text,
               gboolean    multiline)
{
  for (const char *p = text; *p != '\0'; p++)
    {
      guchar c = *p;

      if (c == '\n' && multiline)
        continue;
      if (c < 0x20 || c == 0x7f)
        return FALSE;
    }

  return TRUE;
}

static char *
translate (const char *msgid)
{
  /* Never called with "": gettext would answer with the catalogue's header. */
  return g_strdup (g_dgettext (GETTEXT_PACKAGE, msgid));
}

static gboolean
read_string (JsonObject   *object,
             const char   *path,
             const char   *member,
             StringFlags   flags,
             gsize         max_bytes,
             char        **out,
             GError      **error)
{
  JsonNode *node = json_object_get_member (object, member);
  const char *value;

  if (node == NULL)
    {
      if (flags & STRING_REQUIRED)
        return invalid (error, path, member, "missing");
      return TRUE;
    }

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return invalid (error, path, member, "must be a string");

  value = json_node_get_string (node);
  if (value == NULL || value[0] == '\0')
    return invalid (error, path, member, "must not be empty");
  if (strlen (value) > max_bytes)
    return invalid (error, path, member, "is too long");
  if (!text_is_clean (value, (flags & STRING_MULTILINE) != 0))
    return invalid (error, path, member, "holds a control character");

  *out = (flags & STRING_TRANSLATE) ? translate (value) : g_strdup (value);
  return TRUE;
}

static gboolean
is_valid_id (const char *id)
{
  if (id[0] == '-')
    return FALSE;

  for (const char *p = id; *p != '\0'; p++)
    {
      if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '-')
        return FALSE;
    }

  return TRUE;
}

static gboolean
is_valid_host (const char *host)
{
  if (host[0] == '.' || host[0] == '-')
    return FALSE;

  /* Names in ASCII (IDN hosts would be written as xn--), IPv4 and IPv6 literals. */
  for (const char *p = host; *p != '\0'; p++)
    {
      if (!g_ascii_isalnum (*p) && *p != '.' && *p != '-' && *p != ':')
        return FALSE;
    }

  return TRUE;
}

/* A lower-case DNS name of two labels or more, each of letters, digits and inner hyphens; with
 * @leading_dot, one dot may come first (an MX pattern). */
static gboolean
is_valid_domain (const char *name,
                 gboolean    leading_dot)
{
  const char *p = name;
  guint labels = 0;

  if (leading_dot && *p == '.')
    p++;

  while (TRUE)
    {
      const char *start = p;

      while (g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '-')
        p++;
      if (p == start || p - start > 63 || *start == '-' || p[-1] == '-')
        return FALSE;
      labels++;

      if (*p == '\0')
        break;
      if (*p != '.')
        return FALSE;
      p++;
    }

  return labels >= 2;
}

/* "googlemail.com" and ".googlemail.com" are the same pattern. */
static const char *
pattern_name (const char *pattern)
{
  return pattern[0] == '.' ? pattern + 1 : pattern;
}

static gboolean
is_valid_url (const char *url)
{
  if (!g_str_has_prefix (url, "https://") || url[strlen ("https://")] == '\0')
    return FALSE;

  /* Printable ASCII only: the link is shown and opened, so nothing may hide in it. */
  for (const char *p = url; *p != '\0'; p++)
    {
      guchar c = *p;

      if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\')
        return FALSE;
    }

  return TRUE;
}

static gboolean
read_id (JsonObject  *object,
         const char  *path,
         char       **out,
         GError     **error)
{
  if (!read_string (object, path, "id", STRING_REQUIRED, MAX_ID_BYTES, out, error))
    return FALSE;
  if (!is_valid_id (*out))
    return invalid (error, path, "id", "must be made of a-z, 0-9 and -");
  return TRUE;
}

static gboolean
read_host (JsonObject  *object,
           const char  *path,
           char       **out,
           GError     **error)
{
  if (!read_string (object, path, "host", STRING_REQUIRED, MAX_HOST_BYTES, out, error))
    return FALSE;
  if (!is_valid_host (*out))
    return invalid (error, path, "host", "is not a host name or address");
  return TRUE;
}

static gboolean
read_port (JsonObject  *object,
           const char  *path,
           gboolean     required,
           guint16     *out,
           GError     **error)
{
  JsonNode *node = json_object_get_member (object, "port");
  gint64 value;

  if (node == NULL)
    {
      if (required)
        return invalid (error, path, "port", "missing");
      return TRUE;
    }

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return invalid (error, path, "port", "must be an integer");

  value = json_node_get_int (node);
  if (value < 1 || value > G_MAXUINT16)
    return invalid (error, path, "port", "must be from 1 to 65535");

  *out = (guint16) value;
  return TRUE;
}

static gboolean
read_security (JsonObject      *object,
               const char      *path,
               DoctorSecurity  *out,
               GError         **error)
{
  g_autofree char *value = NULL;

  if (!read_string (object, path, "security", STRING_REQUIRED, MAX_ID_BYTES, &value, error))
    return FALSE;

  /* Only the canonical names: the parser of user input also takes "ssl" and "plain". */
  if (!doctor_security_from_string (value, out) ||
      !g_str_equal (value, doctor_security_to_string (*out)))
    return invalid (error, path, "security", "must be \"starttls\", \"tls\" or \"none\"");

  return TRUE;
}

static gboolean
read_boolean (JsonObject  *object,
              const char  *path,
              const char  *member,
              gboolean    *out,
              GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL)
    return TRUE;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return invalid (error, path, member, "must be true or false");

  *out = json_node_get_boolean (node);
  return TRUE;
}

/* An optional array: *out stays NULL when the member is absent. */
static gboolean
read_array (JsonObject  *object,
            const char  *path,
            const char  *member,
            JsonArray  **out,
            GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL)
    return TRUE;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    return invalid (error, path, member, "must be an array");

  *out = json_node_get_array (node);
  return TRUE;
}

static JsonObject *
element_object (JsonArray   *array,
                guint        index,
                const char  *path,
                const char  *member,
                char       **element_path,
                GError     **error)
{
  JsonNode *node = json_array_get_element (array, index);

  *element_path = g_strdup_printf ("%s.%s[%u]", path, member, index);

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      invalid (error, *element_path, NULL, "must be an object");
      return NULL;
    }

  return json_node_get_object (node);
}

static gboolean
read_links (JsonObject      *object,
            const char      *path,
            DoctorProvider  *provider,
            GError         **error)
{
  JsonArray *array = NULL;

  if (!read_array (object, path, "links", &array, error))
    return FALSE;
  if (array == NULL)
    return TRUE;

  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      g_autofree char *element_path = NULL;
      DoctorProviderLink *link;
      JsonObject *element;

      if (!(element = element_object (array, i, path, "links", &element_path, error)))
        return FALSE;

      link = g_new0 (DoctorProviderLink, 1);
      g_ptr_array_add (provider->links, link);

      if (!read_string (element, element_path, "title", STRING_REQUIRED | STRING_TRANSLATE,
                        MAX_NAME_BYTES, &link->title, error) ||
          !read_string (element, element_path, "url", STRING_REQUIRED,
                        MAX_URL_BYTES, &link->url, error))
        return FALSE;

      if (!is_valid_url (link->url))
        return invalid (error, element_path, "url", "must be an https:// address");
    }

  return TRUE;
}

static gboolean
read_expected_issuers (JsonObject      *object,
                       const char      *path,
                       DoctorProvider  *provider,
                       GError         **error)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  JsonArray *array = NULL;

  if (!read_array (object, path, "expected_issuers", &array, error))
    return FALSE;

  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      const char *value;

      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        return invalid (error, path, "expected_issuers", "must be an array of strings");

      value = json_node_get_string (node);
      if (value == NULL || value[0] == '\0' || strlen (value) > MAX_NAME_BYTES ||
          !text_is_clean (value, FALSE))
        return invalid (error, path, "expected_issuers", "holds an empty or invalid name");

      g_strv_builder_add (builder, value);
    }

  g_strfreev (provider->expected_issuers);
  provider->expected_issuers = g_strv_builder_end (builder);
  return TRUE;
}

/* domains or mx_patterns: an optional array of distinct names; *out is never NULL after it. */
static gboolean
read_names (JsonObject   *object,
            const char   *path,
            const char   *member,
            gboolean      patterns,
            GStrv        *out,
            GError      **error)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  JsonArray *array = NULL;

  if (!read_array (object, path, member, &array, error))
    return FALSE;

  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      const char *value;

      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        return invalid (error, path, member, "must be an array of strings");

      value = json_node_get_string (node);
      if (value == NULL || strlen (value) > MAX_HOST_BYTES || !is_valid_domain (value, patterns))
        return invalid (error, path, member,
                        patterns ? "holds a pattern that is not a lower-case DNS name of two "
                                   "labels or more, with an optional leading dot"
                                 : "holds a name that is not a lower-case DNS name of two "
                                   "labels or more");

      if (!g_hash_table_add (seen, (gpointer) (patterns ? pattern_name (value) : value)))
        return invalid (error, path, member, "holds the same name twice");

      g_strv_builder_add (builder, value);
    }

  g_strfreev (*out);
  *out = g_strv_builder_end (builder);
  return TRUE;
}

static gboolean
read_https_api (JsonObject      *object,
                const char      *path,
                DoctorProvider  *provider,
                GError         **error)
{
  JsonNode *node = json_object_get_member (object, "https_api");
  g_autofree char *api_path = NULL;
  JsonObject *api;

  if (node == NULL)
    return TRUE;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return invalid (error, path, "https_api", "must be an object");

  api = json_node_get_object (node);
  api_path = g_strdup_printf ("%s.https_api", path);

  /* The name is a product name ("SendGrid v3 Mail Send API"): not translated. */
  if (!read_string (api, api_path, "name", STRING_REQUIRED, MAX_NAME_BYTES,
                    &provider->https_api_name, error) ||
      !read_string (api, api_path, "url", STRING_REQUIRED, MAX_URL_BYTES,
                    &provider->https_api_url, error))
    return FALSE;

  if (!is_valid_url (provider->https_api_url))
    return invalid (error, api_path, "url", "must be an https:// address");

  return TRUE;
}

static gboolean
read_regions (JsonObject      *object,
              const char      *path,
              DoctorProvider  *provider,
              GError         **error)
{
  JsonArray *array = NULL;

  if (!read_array (object, path, "regions", &array, error))
    return FALSE;
  if (array == NULL)
    return TRUE;

  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      g_autofree char *element_path = NULL;
      DoctorProviderRegion *region;
      JsonObject *element;

      if (!(element = element_object (array, i, path, "regions", &element_path, error)))
        return FALSE;

      region = g_new0 (DoctorProviderRegion, 1);
      g_ptr_array_add (provider->regions, region);

      if (!read_id (element, element_path, &region->id, error) ||
          !read_string (element, element_path, "name", STRING_REQUIRED | STRING_TRANSLATE,
                        MAX_NAME_BYTES, &region->name, error) ||
          !read_host (element, element_path, &region->host, error) ||
          !read_port (element, element_path, FALSE, &region->port, error))
        return FALSE;

      for (guint j = 0; j < i; j++)
        {
          const DoctorProviderRegion *other = g_ptr_array_index (provider->regions, j);

          if (g_str_equal (other->id, region->id))
            return invalid (error, element_path, "id", "is used by another region");
          if (g_ascii_strcasecmp (other->host, region->host) == 0)
            return invalid (error, element_path, "host", "is used by another region");
        }
    }

  return TRUE;
}

static gboolean
read_alternatives (JsonObject      *object,
                   const char      *path,
                   DoctorProvider  *provider,
                   GError         **error)
{
  JsonArray *array = NULL;

  if (!read_array (object, path, "alternatives", &array, error))
    return FALSE;
  if (array == NULL)
    return TRUE;

  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      g_autofree char *element_path = NULL;
      DoctorProviderAlternative *alternative;
      JsonObject *element;

      if (!(element = element_object (array, i, path, "alternatives", &element_path, error)))
        return FALSE;

      alternative = g_new0 (DoctorProviderAlternative, 1);
      g_ptr_array_add (provider->alternatives, alternative);

      if (!read_port (element, element_path, TRUE, &alternative->port, error) ||
          !read_security (element, element_path, &alternative->security, error))
        return FALSE;
    }

  return TRUE;
}

static DoctorProvider *
read_provider (JsonArray  *providers,
               guint       index,
               GError    **error)
{
  g_autoptr(DoctorProvider) provider = NULL;
  g_autofree char *path = g_strdup_printf ("providers[%u]", index);
  JsonNode *node = json_array_get_element (providers, index);
  JsonObject *object;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      invalid (error, path, NULL, "must be an object");
      return NULL;
    }
  object = json_node_get_object (node);

  provider = g_new0 (DoctorProvider, 1);
  provider->login_required = TRUE;
  provider->links = g_ptr_array_new_with_free_func ((GDestroyNotify) doctor_provider_link_free);
  provider->expected_issuers = g_new0 (char *, 1);
  provider->regions =
    g_ptr_array_new_with_free_func ((GDestroyNotify) doctor_provider_region_free);
  provider->alternatives = g_ptr_array_new_with_free_func (g_free);
  provider->domains = g_new0 (char *, 1);
  provider->mx_patterns = g_new0 (char *, 1);

  if (!read_id (object, path, &provider->id, error))
    return NULL;

  /* From here on the messages name the provider too. */
  g_free (path);
  path = g_strdup_printf ("providers[%u] (%s)", index, provider->id);

  if (!read_string (object, path, "name", STRING_REQUIRED | STRING_TRANSLATE, MAX_NAME_BYTES,
                    &provider->name, error) ||
      !read_host (object, path, &provider->host, error) ||
      !read_port (object, path, TRUE, &provider->port, error) ||
      !read_security (object, path, &provider->security, error) ||
      !read_boolean (object, path, "login_required", &provider->login_required, error) ||
      !read_string (object, path, "user", 0, MAX_NAME_BYTES, &provider->user, error) ||
      !read_string (object, path, "user_hint", STRING_TRANSLATE, MAX_NAME_BYTES,
                    &provider->user_hint, error) ||
      !read_string (object, path, "help", STRING_REQUIRED | STRING_MULTILINE | STRING_TRANSLATE,
                    MAX_TEXT_BYTES, &provider->help, error) ||
      !read_links (object, path, provider, error) ||
      !read_expected_issuers (object, path, provider, error) ||
      !read_regions (object, path, provider, error) ||
      !read_alternatives (object, path, provider, error) ||
      !read_names (object, path, "domains", FALSE, &provider->domains, error) ||
      !read_names (object, path, "mx_patterns", TRUE, &provider->mx_patterns, error) ||
      !read_https_api (object, path, provider, error))
    return NULL;

  return g_steal_pointer (&provider);
}

/* Each host belongs to one provider, so that doctor_providers_match_host() is unambiguous. */
static gboolean
claim_hosts (GHashTable            *owners,
             const DoctorProvider  *provider,
             GError               **error)
{
  for (guint i = 0; i <= provider->regions->len; i++)
    {
      const char *host;
      const char *owner;
      char *key;

      if (i == provider->regions->len)
        host = provider->host;
      else
        host = ((DoctorProviderRegion *) g_ptr_array_index (provider->regions, i))->host;

      key = g_ascii_strdown (host, -1);
      owner = g_hash_table_lookup (owners, key);

      if (owner != NULL && !g_str_equal (owner, provider->id))
        {
          g_set_error (error, DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_INVALID,
                       "%s: host %s is already used by %s", provider->id, host, owner);
          g_free (key);
          return FALSE;
        }

      g_hash_table_replace (owners, key, provider->id);
    }

  return TRUE;
}

/* Each mail domain and each MX pattern belongs to one provider, so that
 * doctor_providers_match_domain() and doctor_providers_match_mx() are unambiguous. */
static gboolean
claim_names (GHashTable            *owners,
             const DoctorProvider  *provider,
             const char            *member,
             const char *const     *names,
             gboolean               patterns,
             GError               **error)
{
  for (guint i = 0; names[i] != NULL; i++)
    {
      const char *name = patterns ? pattern_name (names[i]) : names[i];
      const char *owner = g_hash_table_lookup (owners, name);

      if (owner != NULL && !g_str_equal (owner, provider->id))
        {
          g_set_error (error, DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_INVALID,
                       "%s: %s %s is already claimed by %s", provider->id, member, names[i],
                       owner);
          return FALSE;
        }

      g_hash_table_replace (owners, (gpointer) name, provider->id);
    }

  return TRUE;
}

GPtrArray *
doctor_providers_load_from_data (const char  *data,
                                 gsize        length,
                                 GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GPtrArray) providers = NULL;
  g_autoptr(GHashTable) owners = NULL;
  g_autoptr(GHashTable) domain_owners = NULL;
  g_autoptr(GHashTable) pattern_owners = NULL;
  JsonObject *root_object;
  JsonArray *array;
  JsonNode *root;
  JsonNode *node;

  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (length > DOCTOR_PROVIDERS_MAX_BYTES)
    {
      g_set_error (error, DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_TOO_LARGE,
                   "The provider presets are %" G_GSIZE_FORMAT " bytes long, more than %d",
                   length, DOCTOR_PROVIDERS_MAX_BYTES);
      return NULL;
    }

  if (length == 0)
    {
      syntax_error (error, 0, "the text is empty");
      return NULL;
    }

  /* This also refuses NUL bytes. */
  if (!g_utf8_validate_len (data, length, NULL))
    {
      g_set_error_literal (error, DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_SYNTAX,
                           "The provider presets are not valid UTF-8");
      return NULL;
    }

  /* The lexical scan (step 2 above), shared with the saved profiles. */
  if (!doctor_json_scan (data, length, DOCTOR_PROVIDERS_MAX_DEPTH, DOCTOR_JSON_SCAN_DEFAULT,
                         DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_SYNTAX,
                         DOCTOR_PROVIDERS_ERROR_TOO_DEEP, error))
    return NULL;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, length, error))
    {
      g_prefix_error (error, "Provider presets: ");
      return NULL;
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      invalid (error, "(top level)", NULL, "must be an object");
      return NULL;
    }
  root_object = json_node_get_object (root);

  node = json_object_get_member (root_object, "version");
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64 ||
      json_node_get_int (node) != DOCTOR_PROVIDERS_VERSION)
    {
      g_set_error (error, DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_VERSION,
                   "version: must be the integer %d", DOCTOR_PROVIDERS_VERSION);
      return NULL;
    }

  node = json_object_get_member (root_object, "providers");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      invalid (error, "providers", NULL, "must be an array");
      return NULL;
    }
  array = json_node_get_array (node);

  providers = g_ptr_array_new_with_free_func ((GDestroyNotify) doctor_provider_free);
  owners = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* Keys and values belong to the providers, which outlive the tables. */
  domain_owners = g_hash_table_new (g_str_hash, g_str_equal);
  pattern_owners = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      DoctorProvider *provider = read_provider (array, i, error);

      if (provider == NULL)
        return NULL;

      g_ptr_array_add (providers, provider);

      for (guint j = 0; j < i; j++)
        {
          const DoctorProvider *other = g_ptr_array_index (providers, j);

          if (g_str_equal (other->id, provider->id))
            {
              g_set_error (error, DOCTOR_PROVIDERS_ERROR, DOCTOR_PROVIDERS_ERROR_INVALID,
                           "providers[%u]: the id %s is used twice", i, provider->id);
              return NULL;
            }
        }

      if (!claim_hosts (owners, provider, error) ||
          !claim_names (domain_owners, provider, "domain",
                        (const char *const *) provider->domains, FALSE, error) ||
          !claim_names (pattern_owners, provider, "MX pattern",
                        (const char *const *) provider->mx_patterns, TRUE, error))
        return NULL;
    }

  return g_steal_pointer (&providers);
}

static GPtrArray *
load_builtin (void)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *providers;
  const char *data;
  gsize length;

  /* Asking this library's own resource (rather than g_resources_lookup_data()) references its
   * object file, so that the linker keeps it, and the constructor that registers it, when it
   * takes the static library into a program.
   */
  bytes = g_resource_lookup_data (doctor_core_get_resource (), DOCTOR_PROVIDERS_RESOURCE,
                                  G_RESOURCE_LOOKUP_FLAGS_NONE, &error);
  if (bytes != NULL)
    {
      data = g_bytes_get_data (bytes, &length);
      providers = doctor_providers_load_from_data (data, length, &error);
      if (providers != NULL)
        return providers;
    }

  /* Only a broken build gets here; the tests make it fatal. */
  g_critical ("The built-in provider presets cannot be loaded: %s", error->message);
  return g_ptr_array_new_with_free_func ((GDestroyNotify) doctor_provider_free);
}

/**
 * doctor_providers_get_all:
 *
 * Returns: (transfer none) (element-type DoctorProvider): the built-in presets, in the order
 *   of the file, loaded on the first call and kept for the life of the process.
 */
GPtrArray *
doctor_providers_get_all (void)
{
  static GPtrArray *providers = NULL;

  if (g_once_init_enter (&providers))
    g_once_init_leave (&providers, load_builtin ());

  return providers;
}

const DoctorProvider *
doctor_providers_lookup (const char *id)
{
  GPtrArray *providers;

  g_return_val_if_fail (id != NULL, NULL);

  providers = doctor_providers_get_all ();
  for (guint i = 0; i < providers->len; i++)
    {
      const DoctorProvider *provider = g_ptr_array_index (providers, i);

      if (g_str_equal (provider->id, id))
        return provider;
    }

  return NULL;
}

/* Host names compare without regard to case and to one trailing dot ("smtp.gmail.com."). */
static gboolean
host_equal (const char *known,
            const char *host)
{
  gsize length = strlen (host);
  gsize known_length = strlen (known);

  /* "smtp.example.com." and "smtp.example.com" are one name, on either side. */
  if (length > 0 && host[length - 1] == '.')
    length--;
  if (known_length > 0 && known[known_length - 1] == '.')
    known_length--;

  return known_length == length && g_ascii_strncasecmp (known, host, length) == 0;
}

const DoctorProviderRegion *
doctor_provider_find_region (const DoctorProvider *provider,
                             const char           *host)
{
  g_return_val_if_fail (provider != NULL, NULL);
  g_return_val_if_fail (host != NULL, NULL);

  for (guint i = 0; i < provider->regions->len; i++)
    {
      const DoctorProviderRegion *region = g_ptr_array_index (provider->regions, i);

      if (host_equal (region->host, host))
        return region;
    }

  return NULL;
}

gboolean
doctor_provider_has_host (const DoctorProvider *provider,
                          const char           *host)
{
  g_return_val_if_fail (provider != NULL, FALSE);
  g_return_val_if_fail (host != NULL, FALSE);

  return host_equal (provider->host, host) || doctor_provider_find_region (provider, host) != NULL;
}

static gboolean
is_local_host (const char *host)
{
  g_autofree char *name = g_ascii_strdown (host, -1);
  g_autoptr(GInetAddress) address = NULL;
  gsize length = strlen (name);

  if (length > 0 && name[length - 1] == '.')
    name[length - 1] = '\0';

  if (g_str_equal (name, "localhost") || g_str_has_suffix (name, ".localhost"))
    return TRUE;

  address = g_inet_address_new_from_string (name);
  return address != NULL && g_inet_address_get_is_loopback (address);
}

/**
 * doctor_providers_match_host:
 * @host: a host name, as the user typed it
 *
 * Finds the preset whose host, or one of whose region hosts, is @host. A local address
 * (localhost, 127.0.0.1, ::1) matches nothing, although the Proton Mail Bridge and local
 * development presets use one: it says which machine, not which software listens there, and
 * every test server runs on it.
 *
 * Returns: (nullable) (transfer none): the preset, or %NULL.
 */
const DoctorProvider *
doctor_providers_match_host (const char *host)
{
  GPtrArray *providers;

  g_return_val_if_fail (host != NULL, NULL);

  if (host[0] == '\0' || is_local_host (host))
    return NULL;

  providers = doctor_providers_get_all ();
  for (guint i = 0; i < providers->len; i++)
    {
      const DoctorProvider *provider = g_ptr_array_index (providers, i);

      if (doctor_provider_has_host (provider, host))
        return provider;
    }

  return NULL;
}

/* A name as DNS or the user gives it, in lower case without one trailing dot; NULL for "". */
static char *
normalize_name (const char *name)
{
  g_autofree char *lower = g_ascii_strdown (name, -1);
  gsize length = strlen (lower);

  if (length > 0 && lower[length - 1] == '.')
    lower[--length] = '\0';
  if (length == 0)
    return NULL;

  return g_steal_pointer (&lower);
}

/**
 * doctor_providers_match_domain:
 * @domain: a mail domain, the part of an address after the "@"
 *
 * Finds the preset whose users have addresses in @domain (gmail.com, hotmail.com …), without
 * regard to case and to one trailing dot. Only whole domains match: a subdomain is another
 * domain, with mail settings of its own.
 *
 * Returns: (nullable) (transfer none): the preset, or %NULL.
 */
const DoctorProvider *
doctor_providers_match_domain (const char *domain)
{
  g_autofree char *name = NULL;
  GPtrArray *providers;

  g_return_val_if_fail (domain != NULL, NULL);

  if ((name = normalize_name (domain)) == NULL)
    return NULL;

  providers = doctor_providers_get_all ();
  for (guint i = 0; i < providers->len; i++)
    {
      const DoctorProvider *provider = g_ptr_array_index (providers, i);

      if (g_strv_contains ((const char *const *) provider->domains, name))
        return provider;
    }

  return NULL;
}

/**
 * doctor_provider_match_mx_pattern:
 * @provider: a preset
 * @mx_host: the host name of an MX record
 *
 * Returns: (nullable): the longest of the provider's MX patterns that @mx_host matches (as it
 *   is in the file, with its leading dot if it has one), or %NULL
 */
const char *
doctor_provider_match_mx_pattern (const DoctorProvider *provider,
                                  const char           *mx_host)
{
  g_autofree char *host = NULL;
  const char *best = NULL;
  gsize host_length;

  g_return_val_if_fail (provider != NULL, NULL);
  g_return_val_if_fail (mx_host != NULL, NULL);

  if ((host = normalize_name (mx_host)) == NULL)
    return NULL;
  host_length = strlen (host);

  for (guint i = 0; provider->mx_patterns[i] != NULL; i++)
    {
      const char *pattern = provider->mx_patterns[i];
      const char *name = pattern_name (pattern);
      gsize length = strlen (name);
      gboolean match;

      /* The whole host, or its end after a dot: "xgoogle.com" is not Google's. */
      match = g_str_equal (host, name) ||
              (host_length > length && g_str_has_suffix (host, name) &&
               host[host_length - length - 1] == '.');

      if (match && (best == NULL || length > strlen (pattern_name (best))))
        best = pattern;
    }

  return best;
}

/**
 * doctor_providers_match_mx:
 * @mx_host: the host name of an MX record ("alt1.aspmx.l.google.com.")
 *
 * Finds the preset of the provider that hosts a domain with this MX host, by the presets'
 * mx_patterns, without regard to case and to one trailing dot. Where patterns of several
 * presets match, the longest one wins (".mail.protection.outlook.com" over ".outlook.com").
 *
 * Returns: (nullable) (transfer none): the preset, or %NULL.
 */
const DoctorProvider *
doctor_providers_match_mx (const char *mx_host)
{
  const DoctorProvider *best = NULL;
  gsize best_length = 0;
  GPtrArray *providers;

  g_return_val_if_fail (mx_host != NULL, NULL);

  providers = doctor_providers_get_all ();
  for (guint i = 0; i < providers->len; i++)
    {
      const DoctorProvider *provider = g_ptr_array_index (providers, i);
      const char *pattern = doctor_provider_match_mx_pattern (provider, mx_host);
      gsize length = pattern != NULL ? strlen (pattern_name (pattern)) : 0;

      if (pattern != NULL && length > best_length)
        {
          best = provider;
          best_length = length;
        }
    }

  return best;
}
