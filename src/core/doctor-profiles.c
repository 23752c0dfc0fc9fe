/* doctor-profiles.c: saved profiles, read and written safely.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The file is the user's data, so every rule below is about never losing it.
 *
 * Reading. The size is capped (DOCTOR_PROFILES_MAX_BYTES) before anything is read into memory,
 * the text must be valid UTF-8, and the strict lexical scan of doctor-json-private.c caps the
 * nesting depth and lets only JSON through that json-glib reads as written (it has no depth
 * limit in 1.6, and is lenient). Then every member this code knows is type-checked, with its
 * range, at every level; uuids and names must be unique in the file. A "password" or "secret"
 * member (in any case, at any level) is dropped; every other unknown member is kept.
 *
 * Damage. One bad field makes the whole file damaged: loading the other profiles would be
 * possible, but the next save would then write the file without the bad one, and that one is
 * the user's data too. So a damaged file (empty, truncated, not UTF-8, not strict JSON, too
 * deep, too large, wrong types or ranges, a version whose structure this code cannot read, a
 * directory or anything else that is not a regular file in its place) is renamed, never
 * copied or rewritten, to "profiles.json.corrupt-YYYYMMDD-HHMMSS" (with "-2", "-3" … if that
 * exists; the rename never replaces a file), the store is left empty, and the caller gets
 * DOCTOR_PROFILES_ERROR_DAMAGED with a message that names the kept file. A missing file is
 * simply no profiles. An error that says nothing about the content (permission denied, an I/O
 * error) moves nothing: the store is left empty and every save fails until the file can be
 * read, so the empty list never replaces it.
 *
 * Writing. Saving takes an advisory lock (flock() on "profiles.json.lock" beside the file),
 * reads the file again, merges (below), checks that the text it is about to write reads back
 * with the reader above, and writes it as g_file_set_contents_full() does with CONSISTENT and
 * DURABLE, but under a temporary name of its own, "profiles.json.tmp-XXXXXX": a new file in
 * the same directory with mode 0600, written, fsync()ed and closed, then rename()d over the
 * old one (and the directory fsync()ed), so that after a crash or a SIGKILL at any point the
 * file holds the old or the new profiles, whole, never a mix, and always mode 0600 whatever
 * the old one had. Any failure (a full disk, a read-only or closed folder, an I/O error)
 * removes the temporary file, leaves the old file as it was, and is an error that begins
 * "Could not save the profiles in FILE:" and says why. A writer that died leaves its
 * temporary file behind; it is never read as profiles, and since a writer holds the lock
 * while its temporary file exists, the next save (under the lock) removes every file of that
 * exact name pattern. The directory is created with mode 0700 if it is missing (an existing
 * one is left as it is).
 *
 * Symbolic links. A link in place of the file is followed when reading, and never written
 * through: a save renames the new file over the link itself, so the link becomes a regular
 * file holding every profile (those read through it and the new ones), and whatever it
 * pointed to is left exactly as it was. Writing through it could replace a file that is not
 * ours (a link to ~/.bashrc, say) or one in a folder whose rules we do not know; the cost is
 * that a profiles file kept elsewhere (dotfiles) and linked here stops being updated, while
 * nothing is lost. A link to something that is not a profiles file makes the file damaged, and
 * the link (not its target) is what is moved aside; a dangling link is a missing file (the
 * save creates nothing where it pointed); a loop is an error that stops every save. A linked
 * folder (~/.config/smtp-doctor pointing elsewhere) is simply where the files are.
 *
 * Merging. Each store remembers the uuids it last saw in the file, the profiles it has put
 * and the ones it has removed since. When it saves, the profiles in the file now are merged
 * with its own, so that two windows or the CLI and a window can save in turn without undoing
 * each other:
 *  - a profile this store put since then is written as this store has it (the last writer
 *    wins), even if another process changed or removed it meanwhile;
 *  - a profile this store removed is not written;
 *  - any other profile in the file is written as it is in the file: one that another process
 *    added or changed is kept;
 *  - a profile that this store has not touched and that is no longer in the file was removed
 *    by another process, and stays removed;
 *  - if the file is missing, nothing is known about it, and every profile of this store is
 *    written;
 *  - if a profile this store put has the name of a different profile in the file, another
 *    process saved that name first; this store's profile is renamed "Name (2)" (and so on),
 *    so that both are kept.
 * The order is that of the file, then this store's new profiles. The top-level members other
 * than "profiles" come from the file as it is now, and the version written is the higher of 1
 * and the file's: a newer version's file stays marked as its own. After a save the store holds
 * what it wrote, and "changed" is emitted if that differs from what it held.
 *
 * If the file is found damaged when saving, it is moved aside as when loading, nothing is
 * written, and the save fails with DOCTOR_PROFILES_ERROR_DAMAGED; the next save writes.
 */
#define _GNU_SOURCE   /* renameat2() */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "doctor-json-private.h"
#include "doctor-profiles.h"

#define MAX_ID_BYTES    64
#define MAX_NAME_BYTES  256
#define MAX_HOST_BYTES  255
#define MAX_TEXT_BYTES  1024
#define MAX_PATH_BYTES  4096

#define MAX_CORRUPT_NAMES 1000

/* The members of a profile that this version reads; every other one goes into extra. */
static const char *const profile_members[] = {
  "uuid", "name", "provider", "host", "port", "security", "user", "allow_plaintext_auth",
  "ca_file", "timeout_ms", "helo_name", "mail_from", "rcpt_to", "remember_password", NULL,
};

static const char *const document_members[] = { "version", "profiles", NULL };

G_DEFINE_QUARK (doctor-profiles-error-quark, doctor_profiles_error)

G_DEFINE_BOXED_TYPE (DoctorProfile, doctor_profile, doctor_profile_copy, doctor_profile_free)

/* Unknown members, copied without secrets. */

static gboolean
is_secret_name (const char *name)
{
  return g_ascii_strcasecmp (name, "password") == 0 || g_ascii_strcasecmp (name, "secret") == 0;
}

static JsonNode *copy_without_secrets (JsonNode *node);

/* A deep copy of @object without secrets and without the members named in @skip. The depth
 * of anything read from the file is capped by the scan, so the recursion is bounded.
 */
static JsonObject *
copy_object_without_secrets (JsonObject         *object,
                             const char * const *skip)
{
  JsonObject *copy = json_object_new ();
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &name, &member))
    {
      if (is_secret_name (name) || (skip != NULL && g_strv_contains (skip, name)))
        continue;

      json_object_set_member (copy, name, copy_without_secrets (member));
    }

  return copy;
}

static JsonNode *
copy_without_secrets (JsonNode *node)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autoptr(JsonObject) copy = copy_object_without_secrets (json_node_get_object (node), NULL);

      return json_node_init_object (json_node_alloc (), copy);
    }

  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      g_autoptr(JsonArray) copy = json_array_sized_new (json_array_get_length (array));

      for (guint i = 0; i < json_array_get_length (array); i++)
        json_array_add_element (copy, copy_without_secrets (json_array_get_element (array, i)));

      return json_node_init_array (json_node_alloc (), copy);
    }

  return json_node_copy (node);
}

/* The unknown members of @object, or NULL if it has none. */
static JsonObject *
extract_extra (JsonObject         *object,
               const char * const *known)
{
  JsonObject *extra = copy_object_without_secrets (object, known);

  if (json_object_get_size (extra) == 0)
    g_clear_pointer (&extra, json_object_unref);

  return extra;
}

/* DoctorProfile */

DoctorProfile *
doctor_profile_new (const char *name)
{
  DoctorProfile *profile = g_new0 (DoctorProfile, 1);

  profile->uuid = g_uuid_string_random ();
  profile->name = g_strdup (name);
  profile->security = DOCTOR_SECURITY_STARTTLS;

  return profile;
}

/**
 * doctor_profile_new_from_target:
 * @name: the profile's name
 * @target: the settings
 * @provider: (nullable): the preset they came from
 *
 * Returns: (transfer full): a new profile, with a new uuid, of every setting of @target except
 *   its secret.
 */
DoctorProfile *
doctor_profile_new_from_target (const char         *name,
                                const DoctorTarget *target,
                                const char         *provider)
{
  DoctorProfile *profile;

  g_return_val_if_fail (target != NULL, NULL);

  profile = doctor_profile_new (name);
  profile->provider = g_strdup (provider);
  profile->host = g_strdup (target->host);
  profile->port = target->port;
  profile->security = target->security;
  profile->user = g_strdup (target->user);
  profile->allow_plaintext_auth = target->allow_plaintext_auth;
  profile->ca_file = g_strdup (target->ca_file);
  profile->timeout_ms = target->timeout_ms;
  profile->helo_name = g_strdup (target->helo_name);
  profile->mail_from = g_strdup (target->mail_from);
  profile->rcpt_to = g_strdup (target->rcpt_to);

  return profile;
}

DoctorProfile *
doctor_profile_copy (const DoctorProfile *profile)
{
  DoctorProfile *copy;

  g_return_val_if_fail (profile != NULL, NULL);

  copy = g_new0 (DoctorProfile, 1);
  copy->uuid = g_strdup (profile->uuid);
  copy->name = g_strdup (profile->name);
  copy->provider = g_strdup (profile->provider);
  copy->host = g_strdup (profile->host);
  copy->port = profile->port;
  copy->security = profile->security;
  copy->user = g_strdup (profile->user);
  copy->allow_plaintext_auth = profile->allow_plaintext_auth;
  copy->ca_file = g_strdup (profile->ca_file);
  copy->timeout_ms = profile->timeout_ms;
  copy->helo_name = g_strdup (profile->helo_name);
  copy->mail_from = g_strdup (profile->mail_from);
  copy->rcpt_to = g_strdup (profile->rcpt_to);
  copy->remember_password = profile->remember_password;
  if (profile->extra != NULL)
    copy->extra = copy_object_without_secrets (profile->extra, NULL);

  return copy;
}

void
doctor_profile_free (DoctorProfile *profile)
{
  if (profile == NULL)
    return;

  g_free (profile->uuid);
  g_free (profile->name);
  g_free (profile->provider);
  g_free (profile->host);
  g_free (profile->user);
  g_free (profile->ca_file);
  g_free (profile->helo_name);
  g_free (profile->mail_from);
  g_free (profile->rcpt_to);
  g_clear_pointer (&profile->extra, json_object_unref);
  g_free (profile);
}

/**
 * doctor_profile_to_target:
 * @profile: a profile
 *
 * Returns: (transfer full): a target of the profile's settings, with no secret: the password
 *   comes from the keyring or from the user.
 */
DoctorTarget *
doctor_profile_to_target (const DoctorProfile *profile)
{
  DoctorTarget *target;

  g_return_val_if_fail (profile != NULL, NULL);

  target = doctor_target_new (profile->host, profile->port, profile->security);
  target->user = g_strdup (profile->user);
  target->allow_plaintext_auth = profile->allow_plaintext_auth;
  target->ca_file = g_strdup (profile->ca_file);
  target->timeout_ms = profile->timeout_ms;
  target->helo_name = g_strdup (profile->helo_name);
  target->mail_from = g_strdup (profile->mail_from);
  target->rcpt_to = g_strdup (profile->rcpt_to);

  return target;
}

/* Writing a profile as JSON. Empty strings are written as absent members. */

static void
set_string (JsonObject *object,
            const char *member,
            const char *value)
{
  if (value != NULL && value[0] != '\0')
    json_object_set_string_member (object, member, value);
}

static JsonNode *
profile_to_node (const DoctorProfile *profile)
{
  g_autoptr(JsonObject) object = json_object_new ();

  set_string (object, "uuid", profile->uuid);
  set_string (object, "name", profile->name);
  set_string (object, "provider", profile->provider);
  set_string (object, "host", profile->host);
  json_object_set_int_member (object, "port", profile->port);
  json_object_set_string_member (object, "security",
                                 doctor_security_to_string (profile->security));
  set_string (object, "user", profile->user);
  json_object_set_boolean_member (object, "allow_plaintext_auth",
                                  profile->allow_plaintext_auth);
  set_string (object, "ca_file", profile->ca_file);
  json_object_set_int_member (object, "timeout_ms", profile->timeout_ms);
  set_string (object, "helo_name", profile->helo_name);
  set_string (object, "mail_from", profile->mail_from);
  set_string (object, "rcpt_to", profile->rcpt_to);
  json_object_set_boolean_member (object, "remember_password", profile->remember_password);

  if (profile->extra != NULL)
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *member;

      /* Known members win over an extra of the same name, and secrets never get out. */
      json_object_iter_init_ordered (&iter, profile->extra);
      while (json_object_iter_next_ordered (&iter, &name, &member))
        {
          if (!is_secret_name (name) && !g_strv_contains (profile_members, name))
            json_object_set_member (object, name, copy_without_secrets (member));
        }
    }

  return json_node_init_object (json_node_alloc (), object);
}

static char *
profile_to_string (const DoctorProfile *profile)
{
  g_autoptr(JsonNode) node = profile_to_node (profile);

  return json_to_string (node, FALSE);
}

/* Type-checked reading. These messages are details for whoever looks at the file, not
 * translated; the store puts them into a translated sentence.
 */

static gboolean
invalid (GError     **error,
         const char  *path,
         const char  *member,
         const char  *what)
{
  g_set_error (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_INVALID,
               "%s%s%s: %s", path, member ? "." : "", member ? member : "", what);
  return FALSE;
}

/* A member, or NULL if it is absent or null: null is how JSON says "not set". */
static JsonNode *
get_member (JsonObject *object,
            const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node != NULL && JSON_NODE_HOLDS_NULL (node))
    return NULL;

  return node;
}

static gboolean
text_is_clean (const char *text)
{
  if (!g_utf8_validate (text, -1, NULL))
    return FALSE;

  for (const char *p = text; *p != '\0'; p++)
    {
      guchar c = *p;

      if (c < 0x20 || c == 0x7f)
        return FALSE;
    }

  return TRUE;
}

static gboolean
read_string (JsonObject  *object,
             const char  *path,
             const char  *member,
             gboolean     required,
             gsize        max_bytes,
             char       **out,
             GError     **error)
{
  JsonNode *node = get_member (object, member);
  const char *value;

  if (node == NULL)
    {
      if (required)
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
  if (!text_is_clean (value))
    return invalid (error, path, member, "holds a control character");

  *out = g_strdup (value);
  return TRUE;
}

static gboolean
read_integer (JsonObject  *object,
              const char  *path,
              const char  *member,
              gint64       max,
              gint64      *out,
              GError     **error)
{
  JsonNode *node = get_member (object, member);
  gint64 value;

  if (node == NULL)
    return TRUE;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return invalid (error, path, member, "must be an integer");

  value = json_node_get_int (node);
  if (value < 0 || value > max)
    {
      g_autofree char *what = g_strdup_printf ("must be from 0 to %" G_GINT64_FORMAT, max);

      return invalid (error, path, member, what);
    }

  *out = value;
  return TRUE;
}

static gboolean
read_boolean (JsonObject  *object,
              const char  *path,
              const char  *member,
              gboolean    *out,
              GError     **error)
{
  JsonNode *node = get_member (object, member);

  if (node == NULL)
    return TRUE;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return invalid (error, path, member, "must be true or false");

  *out = json_node_get_boolean (node);
  return TRUE;
}

static gboolean
read_security (JsonObject      *object,
               const char      *path,
               DoctorSecurity  *out,
               GError         **error)
{
  g_autofree char *value = NULL;

  if (!read_string (object, path, "security", FALSE, MAX_ID_BYTES, &value, error))
    return FALSE;
  if (value == NULL)
    return TRUE;

  /* Only the canonical names, as written: the parser of user input also takes "ssl". */
  if (!doctor_security_from_string (value, out) ||
      !g_str_equal (value, doctor_security_to_string (*out)))
    return invalid (error, path, "security", "must be \"starttls\", \"tls\" or \"none\"");

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

static DoctorProfile *
read_profile (JsonNode    *node,
              const char  *path,
              GError     **error)
{
  g_autoptr(DoctorProfile) profile = NULL;
  JsonObject *object;
  gint64 port = 0;
  gint64 timeout_ms = 0;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      invalid (error, path, NULL, "must be an object");
      return NULL;
    }
  object = json_node_get_object (node);

  profile = g_new0 (DoctorProfile, 1);
  profile->security = DOCTOR_SECURITY_STARTTLS;

  if (!read_string (object, path, "uuid", TRUE, MAX_ID_BYTES, &profile->uuid, error) ||
      !read_string (object, path, "name", TRUE, MAX_NAME_BYTES, &profile->name, error) ||
      !read_string (object, path, "provider", FALSE, MAX_ID_BYTES, &profile->provider, error) ||
      !read_string (object, path, "host", FALSE, MAX_HOST_BYTES, &profile->host, error) ||
      !read_integer (object, path, "port", G_MAXUINT16, &port, error) ||
      !read_security (object, path, &profile->security, error) ||
      !read_string (object, path, "user", FALSE, MAX_TEXT_BYTES, &profile->user, error) ||
      !read_boolean (object, path, "allow_plaintext_auth", &profile->allow_plaintext_auth,
                     error) ||
      !read_string (object, path, "ca_file", FALSE, MAX_PATH_BYTES, &profile->ca_file, error) ||
      !read_integer (object, path, "timeout_ms", G_MAXUINT32, &timeout_ms, error) ||
      !read_string (object, path, "helo_name", FALSE, MAX_HOST_BYTES, &profile->helo_name,
                    error) ||
      !read_string (object, path, "mail_from", FALSE, MAX_TEXT_BYTES, &profile->mail_from,
                    error) ||
      !read_string (object, path, "rcpt_to", FALSE, MAX_TEXT_BYTES, &profile->rcpt_to, error) ||
      !read_boolean (object, path, "remember_password", &profile->remember_password, error))
    return NULL;

  if (!g_uuid_string_is_valid (profile->uuid))
    {
      invalid (error, path, "uuid", "is not a UUID");
      return NULL;
    }
  /* One spelling, so that uuids compare as strings. */
  {
    char *lower = g_ascii_strdown (profile->uuid, -1);

    g_free (profile->uuid);
    profile->uuid = lower;
  }

  if (profile->provider != NULL && !is_valid_id (profile->provider))
    {
      invalid (error, path, "provider", "must be made of a-z, 0-9 and -");
      return NULL;
    }

  profile->port = (guint16) port;
  profile->timeout_ms = (guint) timeout_ms;
  profile->extra = extract_extra (object, profile_members);

  return g_steal_pointer (&profile);
}

/* A whole file. */

typedef struct
{
  gint64      version;
  GPtrArray  *profiles;   /* (element-type DoctorProfile) */
  JsonObject *extra;      /* the unknown top-level members, or NULL */
} Document;

static void
document_clear (Document *document)
{
  g_clear_pointer (&document->profiles, g_ptr_array_unref);
  g_clear_pointer (&document->extra, json_object_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Document, document_clear)

static gboolean
read_document (const char  *data,
               gsize        length,
               Document    *document,
               GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GPtrArray) profiles = NULL;
  g_autoptr(GHashTable) uuids = NULL;
  g_autoptr(GHashTable) names = NULL;
  JsonObject *root_object;
  JsonArray *array;
  JsonNode *root;
  JsonNode *node;

  if (length > DOCTOR_PROFILES_MAX_BYTES)
    return invalid (error, "(file)", NULL, "larger than 1 MiB");
  if (length == 0)
    return invalid (error, "(file)", NULL, "empty");
  /* This also refuses NUL bytes. */
  if (!g_utf8_validate_len (data, length, NULL))
    return invalid (error, "(file)", NULL, "not valid UTF-8");

  if (!doctor_json_scan (data, length, DOCTOR_PROFILES_MAX_DEPTH, DOCTOR_JSON_SCAN_STRICT,
                         DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_INVALID,
                         DOCTOR_PROFILES_ERROR_INVALID, error))
    return FALSE;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, length, error))
    return FALSE;

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return invalid (error, "(top level)", NULL, "must be an object");
  root_object = json_node_get_object (root);

  /* A newer version loads if it reads as this one does; its fields are kept. */
  node = json_object_get_member (root_object, "version");
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64 || json_node_get_int (node) < 1)
    return invalid (error, "version", NULL, "must be an integer from 1");

  node = json_object_get_member (root_object, "profiles");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return invalid (error, "profiles", NULL, "must be an array");
  array = json_node_get_array (node);

  profiles = g_ptr_array_new_with_free_func ((GDestroyNotify) doctor_profile_free);
  uuids = g_hash_table_new (g_str_hash, g_str_equal);
  names = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      g_autofree char *path = g_strdup_printf ("profiles[%u]", i);
      DoctorProfile *profile = read_profile (json_array_get_element (array, i), path, error);

      if (profile == NULL)
        return FALSE;

      g_ptr_array_add (profiles, profile);

      if (!g_hash_table_add (uuids, profile->uuid))
        return invalid (error, path, "uuid", "is used by another profile");
      if (!g_hash_table_add (names, profile->name))
        return invalid (error, path, "name", "is used by another profile");
    }

  document->version = json_node_get_int (json_object_get_member (root_object, "version"));
  document->profiles = g_steal_pointer (&profiles);
  document->extra = extract_extra (root_object, document_members);

  return TRUE;
}

static char *
write_document (gint64       version,
                GPtrArray   *profiles,
                JsonObject  *extra,
                gsize       *length)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonObject) root_object = json_object_new ();
  g_autoptr(JsonArray) array = json_array_sized_new (profiles->len);
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  char *data;

  json_object_set_int_member (root_object, "version", MAX (version, DOCTOR_PROFILES_VERSION));

  for (guint i = 0; i < profiles->len; i++)
    json_array_add_element (array, profile_to_node (g_ptr_array_index (profiles, i)));
  json_object_set_array_member (root_object, "profiles", g_steal_pointer (&array));

  if (extra != NULL)
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *member;

      json_object_iter_init_ordered (&iter, extra);
      while (json_object_iter_next_ordered (&iter, &name, &member))
        {
          if (!is_secret_name (name) && !g_strv_contains (document_members, name))
            json_object_set_member (root_object, name, copy_without_secrets (member));
        }
    }

  root = json_node_init_object (json_node_alloc (), root_object);
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  json_generator_set_root (generator, root);

  text = json_generator_to_data (generator, NULL);
  data = g_strconcat (text, "\n", NULL);
  *length = strlen (data);

  return data;
}

/* The file. */

typedef enum
{
  FILE_MISSING,
  FILE_READ,
  FILE_DAMAGED,     /* the content is bad: move it aside */
  FILE_ERROR,       /* it could not be read: leave it alone */
} FileState;

static FileState file_error (GError     **error,
                             int          saved_errno,
                             const char  *format,
                             ...) G_GNUC_PRINTF (3, 4);

/* An error of the system's in G_FILE_ERROR, with a message made of @format. */
static FileState
file_error (GError     **error,
            int          saved_errno,
            const char  *format,
            ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error_literal (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno), message);
  return FILE_ERROR;
}

static FileState
read_file (const char  *path,
           Document    *document,
           GError     **error)
{
  g_autofree char *display_name = g_filename_display_name (path);
  g_autofree char *data = NULL;
  struct stat st;
  gsize length = 0;
  int saved_errno;
  int fd;

  /* O_NONBLOCK: a FIFO in place of the file must not hang the open. */
  do
    fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
  while (fd < 0 && errno == EINTR);

  if (fd < 0)
    {
      saved_errno = errno;
      if (saved_errno == ENOENT)
        return FILE_MISSING;

      /* Translators: the first %s is a file name, the second the system's error message. */
      return file_error (error, saved_errno, _("Could not open %s: %s"),
                         display_name, g_strerror (saved_errno));
    }

  if (fstat (fd, &st) != 0)
    {
      saved_errno = errno;
      g_close (fd, NULL);
      /* Translators: the first %s is a file name, the second the system's error message. */
      return file_error (error, saved_errno, _("Could not open %s: %s"),
                         display_name, g_strerror (saved_errno));
    }

  if (!S_ISREG (st.st_mode))
    {
      g_close (fd, NULL);
      invalid (error, "(file)", NULL,
               S_ISDIR (st.st_mode) ? "a directory, not a file" : "not a regular file");
      return FILE_DAMAGED;
    }

  if (st.st_size > DOCTOR_PROFILES_MAX_BYTES)
    {
      g_close (fd, NULL);
      invalid (error, "(file)", NULL, "larger than 1 MiB");
      return FILE_DAMAGED;
    }

  /* One byte more than the cap: the file may have grown since fstat(). */
  data = g_malloc (DOCTOR_PROFILES_MAX_BYTES + 1);
  while (length < DOCTOR_PROFILES_MAX_BYTES + 1)
    {
      gssize count = read (fd, data + length, DOCTOR_PROFILES_MAX_BYTES + 1 - length);

      if (count < 0 && errno == EINTR)
        continue;
      if (count < 0)
        {
          saved_errno = errno;
          g_close (fd, NULL);
          /* Translators: the first %s is a file name, the second the system's error message. */
          return file_error (error, saved_errno, _("Could not read %s: %s"),
                             display_name, g_strerror (saved_errno));
        }
      if (count == 0)
        break;
      length += count;
    }
  g_close (fd, NULL);

  if (!read_document (data, length, document, error))
    return FILE_DAMAGED;

  return FILE_READ;
}

/* rename() that never replaces @to. */
static int
rename_noreplace (const char *from,
                  const char *to)
{
  struct stat st;

  if (renameat2 (AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS)
    return -1;

  /* A file system without RENAME_NOREPLACE. Every process of this program that renames in
   * this directory holds the lock, so looking first is enough.
   */
  if (lstat (to, &st) == 0)
    {
      errno = EEXIST;
      return -1;
    }

  return rename (from, to);
}

/* Moves a damaged file aside, under the lock. Returns the new path. */
static char *
move_aside (const char  *path,
            GError     **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *display_name = g_filename_display_name (path);
  int saved_errno = EEXIST;

  for (guint n = 1; n <= MAX_CORRUPT_NAMES; n++)
    {
      g_autofree char *target = NULL;

      if (n == 1)
        target = g_strdup_printf ("%s.corrupt-%s", path, stamp);
      else
        target = g_strdup_printf ("%s.corrupt-%s-%u", path, stamp, n);

      if (rename_noreplace (path, target) == 0)
        return g_steal_pointer (&target);

      saved_errno = errno;
      if (saved_errno != EEXIST)
        break;
    }

  file_error (error, saved_errno,
              /* Translators: the first %s is a file name, the second the system's error
               * message.
               */
              _("Your saved profiles could not be read, and %s could not be moved aside: %s"),
              display_name, g_strerror (saved_errno));
  return NULL;
}

/* The lock is a file of its own, so that the rename of profiles.json does not drop it. The
 * error is the end of a sentence that the caller begins.
 */
static int
lock_directory (const char  *lock_path,
                GError     **error)
{
  g_autofree char *display_name = g_filename_display_name (lock_path);
  int saved_errno;
  int fd;

  do
    fd = g_open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  while (fd < 0 && errno == EINTR);

  if (fd < 0)
    {
      saved_errno = errno;
      /* Translators: the end of "Could not save the profiles in FILE: …"; the first %s is a
       * file name, the second the system's error message.
       */
      file_error (error, saved_errno, _("could not lock %s: %s"),
                  display_name, g_strerror (saved_errno));
      return -1;
    }

  /* Blocking: the other process holds it for one read and one write of a small file. */
  while (flock (fd, LOCK_EX) != 0)
    {
      saved_errno = errno;
      if (saved_errno == EINTR)
        continue;

      g_close (fd, NULL);
      file_error (error, saved_errno, _("could not lock %s: %s"),
                  display_name, g_strerror (saved_errno));
      return -1;
    }

  return fd;
}

static void
unlock_directory (int fd)
{
  /* Closing the descriptor releases the lock. */
  if (fd >= 0)
    g_close (fd, NULL);
}

/* DoctorProfileStore */

struct _DoctorProfileStore
{
  GObject      parent_instance;

  char        *path;
  char        *dir;
  char        *lock_path;
  char        *recovered_path;

  gint64       version;     /* of the file last read, at least 1 */
  GPtrArray   *profiles;    /* (element-type DoctorProfile) */
  JsonObject  *extra;       /* the file's unknown top-level members, or NULL */

  /* For the merge, since the last load or save: see the top of the file. */
  GHashTable  *known;       /* uuids that were in the file */
  GHashTable  *dirty;       /* uuids put */
  GHashTable  *deleted;     /* uuids removed */
};

G_DEFINE_FINAL_TYPE (DoctorProfileStore, doctor_profile_store, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PATH,
  PROP_RECOVERED_PATH,
  N_PROPS
};

enum {
  CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
doctor_profile_store_constructed (GObject *object)
{
  DoctorProfileStore *self = DOCTOR_PROFILE_STORE (object);

  G_OBJECT_CLASS (doctor_profile_store_parent_class)->constructed (object);

  if (self->path == NULL)
    self->path = g_build_filename (g_get_user_config_dir (), "smtp-doctor", "profiles.json",
                                   NULL);

  self->dir = g_path_get_dirname (self->path);
  self->lock_path = g_strconcat (self->path, ".lock", NULL);
}

static void
doctor_profile_store_finalize (GObject *object)
{
  DoctorProfileStore *self = DOCTOR_PROFILE_STORE (object);

  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->dir, g_free);
  g_clear_pointer (&self->lock_path, g_free);
  g_clear_pointer (&self->recovered_path, g_free);
  g_clear_pointer (&self->profiles, g_ptr_array_unref);
  g_clear_pointer (&self->extra, json_object_unref);
  g_clear_pointer (&self->known, g_hash_table_unref);
  g_clear_pointer (&self->dirty, g_hash_table_unref);
  g_clear_pointer (&self->deleted, g_hash_table_unref);

  G_OBJECT_CLASS (doctor_profile_store_parent_class)->finalize (object);
}

static void
doctor_profile_store_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  DoctorProfileStore *self = DOCTOR_PROFILE_STORE (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;

    case PROP_RECOVERED_PATH:
      g_value_set_string (value, self->recovered_path);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
doctor_profile_store_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  DoctorProfileStore *self = DOCTOR_PROFILE_STORE (object);

  switch (prop_id)
    {
    case PROP_PATH:
      self->path = g_value_dup_string (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
doctor_profile_store_class_init (DoctorProfileStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = doctor_profile_store_constructed;
  object_class->finalize = doctor_profile_store_finalize;
  object_class->get_property = doctor_profile_store_get_property;
  object_class->set_property = doctor_profile_store_set_property;

  /**
   * DoctorProfileStore:path:
   *
   * The file; %NULL at construction means $XDG_CONFIG_HOME/smtp-doctor/profiles.json.
   */
  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * DoctorProfileStore:recovered-path:
   *
   * Where the last damaged file was moved, or %NULL.
   */
  properties[PROP_RECOVERED_PATH] =
    g_param_spec_string ("recovered-path", NULL, NULL,
                         NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * DoctorProfileStore::changed:
   *
   * The list of profiles, or one of them, changed: by put, remove, load, or a save that
   * brought in another process's changes. Pointers from get_profiles() and find() are no
   * longer valid.
   */
  signals[CHANGED] =
    g_signal_new ("changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
}

static void
doctor_profile_store_init (DoctorProfileStore *self)
{
  self->version = DOCTOR_PROFILES_VERSION;
  self->profiles = g_ptr_array_new_with_free_func ((GDestroyNotify) doctor_profile_free);
  self->known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->dirty = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->deleted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/**
 * doctor_profile_store_new:
 * @path: (nullable) (type filename): the file, or %NULL for
 *   $XDG_CONFIG_HOME/smtp-doctor/profiles.json
 *
 * Creates a store of no profiles; doctor_profile_store_load() reads the file.
 *
 * Returns: (transfer full): a new store
 */
DoctorProfileStore *
doctor_profile_store_new (const char *path)
{
  return g_object_new (DOCTOR_TYPE_PROFILE_STORE, "path", path, NULL);
}

const char *
doctor_profile_store_get_path (DoctorProfileStore *self)
{
  g_return_val_if_fail (DOCTOR_IS_PROFILE_STORE (self), NULL);

  return self->path;
}

/**
 * doctor_profile_store_get_recovered_path:
 * @self: a store
 *
 * Returns: (nullable) (type filename): where the last damaged file was moved, or %NULL if
 *   none was.
 */
const char *
doctor_profile_store_get_recovered_path (DoctorProfileStore *self)
{
  g_return_val_if_fail (DOCTOR_IS_PROFILE_STORE (self), NULL);

  return self->recovered_path;
}

static void
set_recovered_path (DoctorProfileStore *self,
                    const char         *path)
{
  if (g_strcmp0 (self->recovered_path, path) == 0)
    return;

  g_free (self->recovered_path);
  self->recovered_path = g_strdup (path);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RECOVERED_PATH]);
}

/* Takes what the file holds (or nothing, if @document is NULL) as the store's state. */
static void
adopt (DoctorProfileStore *self,
       Document           *document)
{
  g_hash_table_remove_all (self->known);
  g_hash_table_remove_all (self->dirty);
  g_hash_table_remove_all (self->deleted);
  g_clear_pointer (&self->extra, json_object_unref);
  g_ptr_array_set_size (self->profiles, 0);
  self->version = DOCTOR_PROFILES_VERSION;

  if (document == NULL)
    return;

  self->version = document->version;
  self->extra = g_steal_pointer (&document->extra);
  g_ptr_array_extend_and_steal (self->profiles, g_steal_pointer (&document->profiles));

  for (guint i = 0; i < self->profiles->len; i++)
    {
      const DoctorProfile *profile = g_ptr_array_index (self->profiles, i);

      g_hash_table_add (self->known, g_strdup (profile->uuid));
    }
}

static void
set_damaged_error (GError     **error,
                   const char  *recovered_path,
                   const char  *detail)
{
  g_autofree char *display_name = g_filename_display_name (recovered_path);

  g_set_error (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_DAMAGED,
               /* Translators: the first %s is a file name, the second says what is wrong in
                * it, in English.
                */
               _("Your saved profiles could not be read; the file was kept as %s (%s)"),
               display_name, detail);
}

/* Reads the file, under the lock if @locked. A damaged file is moved aside if the lock is
 * held, and the error says where.
 */
static FileState
read_and_recover (DoctorProfileStore  *self,
                  gboolean             locked,
                  Document            *document,
                  GError             **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *recovered_path = NULL;
  FileState state;

  state = read_file (self->path, document, &local_error);
  if (state != FILE_DAMAGED)
    {
      if (local_error != NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
      return state;
    }

  if (!locked)
    {
      g_autofree char *display_name = g_filename_display_name (self->path);

      /* Without the lock another process might be replacing the file at this moment, and
       * the rename could take its good file away: leave it, and say so.
       */
      g_set_error (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_DAMAGED,
                   /* Translators: the first %s is a file name, the second says what is wrong
                    * in it, in English.
                    */
                   _("Your saved profiles in %s could not be read, and were left as they are "
                     "(%s)"), display_name, local_error->message);
      return FILE_ERROR;
    }

  recovered_path = move_aside (self->path, error);
  if (recovered_path == NULL)
    return FILE_ERROR;

  set_recovered_path (self, recovered_path);
  set_damaged_error (error, recovered_path, local_error->message);
  return FILE_DAMAGED;
}

/**
 * doctor_profile_store_load:
 * @self: a store
 * @error: return location for an error
 *
 * Reads the file, replacing the store's profiles (and forgetting what was put or removed since
 * the last save). A missing file is no profiles. A damaged one is moved aside (see
 * doctor_profile_store_get_recovered_path()) and the store is left empty; the error, in the
 * DOCTOR_PROFILES_ERROR_DAMAGED case, is a sentence for the user that names the kept file.
 *
 * Returns: %TRUE if the file was read or is missing
 */
gboolean
doctor_profile_store_load (DoctorProfileStore  *self,
                           GError             **error)
{
  g_auto(Document) document = { 0 };
  FileState state = FILE_MISSING;
  int lock_fd = -1;

  g_return_val_if_fail (DOCTOR_IS_PROFILE_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Loading creates nothing: with no directory there is no file, and no lock to take. */
  if (g_file_test (self->dir, G_FILE_TEST_EXISTS))
    {
      /* In a directory that cannot be written there is no lock, but also no writer to race
       * with: read anyway.
       */
      lock_fd = lock_directory (self->lock_path, NULL);
      state = read_and_recover (self, lock_fd >= 0, &document, error);
      unlock_directory (lock_fd);
    }

  adopt (self, state == FILE_READ ? &document : NULL);
  g_signal_emit (self, signals[CHANGED], 0);

  return state == FILE_READ || state == FILE_MISSING;
}

static DoctorProfile *
find_by_uuid (GPtrArray  *profiles,
              const char *uuid,
              guint      *index)
{
  for (guint i = 0; i < profiles->len; i++)
    {
      DoctorProfile *profile = g_ptr_array_index (profiles, i);

      if (g_ascii_strcasecmp (profile->uuid, uuid) == 0)
        {
          if (index != NULL)
            *index = i;
          return profile;
        }
    }

  return NULL;
}

/* @name, made unique among @names with " (2)", " (3)" … within the size cap. */
static char *
unique_name (const char *name,
             GHashTable *names)
{
  for (guint n = 2; ; n++)
    {
      g_autofree char *suffix = g_strdup_printf (" (%u)", n);
      gsize cut = MIN (strlen (name), MAX_NAME_BYTES - strlen (suffix));
      g_autofree char *candidate = NULL;

      /* Not in the middle of a character. */
      while (cut > 0 && ((guchar) name[cut] & 0xc0) == 0x80)
        cut--;

      candidate = g_strdup_printf ("%.*s%s", (int) cut, name, suffix);
      if (!g_hash_table_contains (names, candidate))
        return g_steal_pointer (&candidate);
    }
}

/* The merge rule at the top of the file. @disk is NULL if the file is missing. */
static GPtrArray *
merge (DoctorProfileStore *self,
       GPtrArray          *disk)
{
  g_autoptr(GPtrArray) merged = NULL;
  g_autoptr(GPtrArray) mine = NULL;
  g_autoptr(GHashTable) names = NULL;

  merged = g_ptr_array_new_with_free_func ((GDestroyNotify) doctor_profile_free);

  if (disk == NULL)
    {
      for (guint i = 0; i < self->profiles->len; i++)
        g_ptr_array_add (merged, doctor_profile_copy (g_ptr_array_index (self->profiles, i)));
      return g_steal_pointer (&merged);
    }

  /* The profiles written as this store has them, whose names may have to give way. */
  mine = g_ptr_array_new ();

  for (guint i = 0; i < disk->len; i++)
    {
      const DoctorProfile *theirs = g_ptr_array_index (disk, i);
      const DoctorProfile *ours = find_by_uuid (self->profiles, theirs->uuid, NULL);
      DoctorProfile *copy;

      if (g_hash_table_contains (self->deleted, theirs->uuid))
        continue;

      if (ours != NULL && g_hash_table_contains (self->dirty, ours->uuid))
        {
          copy = doctor_profile_copy (ours);
          g_ptr_array_add (mine, copy);
        }
      else
        copy = doctor_profile_copy (theirs);

      g_ptr_array_add (merged, copy);
    }

  for (guint i = 0; i < self->profiles->len; i++)
    {
      const DoctorProfile *ours = g_ptr_array_index (self->profiles, i);
      DoctorProfile *copy;

      if (find_by_uuid (disk, ours->uuid, NULL) != NULL)
        continue;

      /* Untouched here and gone from the file: another process removed it. */
      if (g_hash_table_contains (self->known, ours->uuid) &&
          !g_hash_table_contains (self->dirty, ours->uuid))
        continue;

      copy = doctor_profile_copy (ours);
      g_ptr_array_add (mine, copy);
      g_ptr_array_add (merged, copy);
    }

  /* The names of the profiles as they are in the file come first. */
  names = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < merged->len; i++)
    {
      DoctorProfile *profile = g_ptr_array_index (merged, i);

      if (!g_ptr_array_find (mine, profile, NULL))
        g_hash_table_add (names, profile->name);
    }

  for (guint i = 0; i < mine->len; i++)
    {
      DoctorProfile *profile = g_ptr_array_index (mine, i);

      if (g_hash_table_contains (names, profile->name))
        {
          char *name = unique_name (profile->name, names);

          g_free (profile->name);
          profile->name = name;
        }
      g_hash_table_add (names, profile->name);
    }

  return g_steal_pointer (&merged);
}

static gboolean
profiles_equal (GPtrArray *a,
                GPtrArray *b)
{
  if (a->len != b->len)
    return FALSE;

  for (guint i = 0; i < a->len; i++)
    {
      g_autofree char *text_a = profile_to_string (g_ptr_array_index (a, i));
      g_autofree char *text_b = profile_to_string (g_ptr_array_index (b, i));

      if (!g_str_equal (text_a, text_b))
        return FALSE;
    }

  return TRUE;
}

/* "profiles.json.tmp-XXXXXX": a name that says whose it is, so that the leftover of a save that
 * was killed can be recognised and removed by the next one (see clean_temporary_files()).
 */
#define TEMP_SUFFIX ".tmp-"
#define TEMP_RANDOM "XXXXXX"

static gboolean
save_error (GError     **error,
            const char  *path,
            int          saved_errno,
            const char  *what)
{
  g_autofree char *display_name = g_filename_display_name (path);

  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
               /* Translators: the first %s is a file name, the second says what failed
                * (e.g. "could not write a temporary file"), the third is the system's error
                * message.
                */
               _("Could not save the profiles in %s: %s: %s"),
               display_name, what, g_strerror (saved_errno));
  return FALSE;
}

/* What g_file_set_contents_full() does with CONSISTENT | DURABLE, under a temporary name of
 * our own: a new file in the same directory, written, fsync()ed and closed (a full disk shows
 * at one of the three), then renamed over the old one, so that after a crash the file holds
 * the old or the new profiles, never a mix. On failure the temporary file is removed, and the
 * old file was never touched.
 */
static gboolean
write_file (DoctorProfileStore  *self,
            const char          *data,
            gsize                length,
            GError             **error)
{
  g_autofree char *temp_path = g_strconcat (self->path, TEMP_SUFFIX TEMP_RANDOM, NULL);
  const char *what;
  gsize written = 0;
  int saved_errno;
  int fd;

  fd = g_mkstemp_full (temp_path, O_RDWR | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0)
    {
      saved_errno = errno;
      return save_error (error, self->path, saved_errno, _("could not create a temporary file"));
    }

  /* The umask can only have made it more private. One that left the owner without write does
   * not stop the next save (it renames), so this is best effort: a file system without modes
   * says no here, and 0600 & ~umask stands.
   */
  (void) fchmod (fd, 0600);

  while (written < length)
    {
      gssize count = write (fd, data + written, length - written);

      if (count < 0 && errno == EINTR)
        continue;
      if (count < 0)
        {
          saved_errno = errno;
          what = _("could not write a temporary file");
          goto fail;
        }
      written += count;
    }

  if (fsync (fd) != 0)
    {
      saved_errno = errno;
      what = _("could not write a temporary file");
      goto fail;
    }

  /* close() can report a late write error, on network file systems above all; on Linux the
   * descriptor is closed even then.
   */
  saved_errno = close (fd) == 0 ? 0 : errno;
  fd = -1;
  if (saved_errno != 0 && saved_errno != EINTR)
    {
      what = _("could not write a temporary file");
      goto fail;
    }

  if (rename (temp_path, self->path) != 0)
    {
      saved_errno = errno;
      what = _("could not replace the file");
      goto fail;
    }

  /* The rename is an entry of the directory: sync that too, so that after a crash the new file
   * is the one there. Best effort: the old or the new one is there either way.
   */
  fd = g_open (self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd >= 0)
    {
      fsync (fd);
      g_close (fd, NULL);
    }

  return TRUE;

fail:
  if (fd >= 0)
    close (fd);
  g_unlink (temp_path);
  return save_error (error, self->path, saved_errno, what);
}

/* Under the lock, every temporary file in the directory belongs to a writer that died (a
 * crash, SIGKILL, a power cut) before its rename: remove them, so that they do not pile up.
 * Only names of exactly our pattern, and only regular files; a failure changes nothing.
 */
static void
clean_temporary_files (DoctorProfileStore *self)
{
  g_autofree char *base = g_path_get_basename (self->path);
  g_autofree char *prefix = g_strconcat (base, TEMP_SUFFIX, NULL);
  gsize prefix_length = strlen (prefix);
  g_autoptr(GDir) dir = g_dir_open (self->dir, 0, NULL);
  const char *name;

  if (dir == NULL)
    return;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      const char *p;
      struct stat st;

      if (!g_str_has_prefix (name, prefix) ||
          strlen (name) != prefix_length + strlen (TEMP_RANDOM))
        continue;
      for (p = name + prefix_length; *p != '\0' && g_ascii_isalnum (*p); p++)
        ;
      if (*p != '\0')
        continue;

      path = g_build_filename (self->dir, name, NULL);
      if (lstat (path, &st) == 0 && S_ISREG (st.st_mode))
        g_unlink (path);
    }
}

/**
 * doctor_profile_store_save:
 * @self: a store
 * @error: return location for an error
 *
 * Writes the profiles, merged with what another process may have saved meanwhile (see the top
 * of doctor-profiles.c). On success the store holds what was written.
 *
 * Returns: %TRUE if the file was written
 */
gboolean
doctor_profile_store_save (DoctorProfileStore  *self,
                           GError             **error)
{
  g_auto(Document) disk = { 0 };
  g_autoptr(GPtrArray) merged = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *data = NULL;
  JsonObject *extra;
  gint64 version;
  gboolean changed;
  FileState state;
  gsize length;
  int lock_fd;

  g_return_val_if_fail (DOCTOR_IS_PROFILE_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (g_mkdir_with_parents (self->dir, 0700) != 0)
    {
      int saved_errno = errno;
      g_autofree char *display_dir = g_filename_display_name (self->dir);
      g_autofree char *what = NULL;

      /* Translators: %s is a folder name */
      what = g_strdup_printf (_("could not create %s"), display_dir);
      return save_error (error, self->path, saved_errno, what);
    }

  lock_fd = lock_directory (self->lock_path, &local_error);
  if (lock_fd < 0)
    {
      g_autofree char *display_name = g_filename_display_name (self->path);

      /* The lock's own message names the lock file; say first what did not happen. */
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  /* Translators: %s is a file name */
                                  _("Could not save the profiles in %s: "), display_name);
      return FALSE;
    }

  clean_temporary_files (self);

  state = read_and_recover (self, TRUE, &disk, error);
  if (state == FILE_DAMAGED || state == FILE_ERROR)
    {
      unlock_directory (lock_fd);
      return FALSE;
    }

  merged = merge (self, state == FILE_READ ? disk.profiles : NULL);
  extra = state == FILE_READ ? disk.extra : self->extra;
  version = MAX (self->version, state == FILE_READ ? disk.version : DOCTOR_PROFILES_VERSION);
  data = write_document (version, merged, extra, &length);

  /* Never write a file that this code would call damaged. */
  if (length > DOCTOR_PROFILES_MAX_BYTES)
    {
      g_set_error_literal (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_TOO_LARGE,
                           _("The profiles are too large to be saved"));
      unlock_directory (lock_fd);
      return FALSE;
    }
  else
    {
      g_auto(Document) check = { 0 };

      if (!read_document (data, length, &check, &local_error))
        {
          g_set_error (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_INVALID,
                       /* Translators: %s says what is wrong, in English. */
                       _("The profiles cannot be saved (%s)"), local_error->message);
          unlock_directory (lock_fd);
          return FALSE;
        }
    }

  if (!write_file (self, data, length, error))
    {
      unlock_directory (lock_fd);
      return FALSE;
    }

  unlock_directory (lock_fd);

  changed = !profiles_equal (self->profiles, merged);
  g_clear_pointer (&disk.profiles, g_ptr_array_unref);
  disk.profiles = g_steal_pointer (&merged);
  disk.version = version;
  if (state != FILE_READ && self->extra != NULL)
    disk.extra = json_object_ref (self->extra);
  adopt (self, &disk);

  if (changed)
    g_signal_emit (self, signals[CHANGED], 0);

  return TRUE;
}

/**
 * doctor_profile_store_get_profiles:
 * @self: a store
 *
 * Returns: (transfer none) (element-type DoctorProfile): the profiles, in the order of the
 *   file; valid until the store changes (see #DoctorProfileStore::changed)
 */
GPtrArray *
doctor_profile_store_get_profiles (DoctorProfileStore *self)
{
  g_return_val_if_fail (DOCTOR_IS_PROFILE_STORE (self), NULL);

  return self->profiles;
}

/**
 * doctor_profile_store_find:
 * @self: a store
 * @name_or_uuid: a profile's uuid, or its name
 *
 * Looks for a profile by uuid first (in any case), then by name (case-sensitive: "Work" and
 * "work" are two profiles).
 *
 * Returns: (nullable) (transfer none): the profile, valid until the store changes
 */
const DoctorProfile *
doctor_profile_store_find (DoctorProfileStore *self,
                           const char         *name_or_uuid)
{
  const DoctorProfile *profile;

  g_return_val_if_fail (DOCTOR_IS_PROFILE_STORE (self), NULL);
  g_return_val_if_fail (name_or_uuid != NULL, NULL);

  profile = find_by_uuid (self->profiles, name_or_uuid, NULL);
  if (profile != NULL)
    return profile;

  for (guint i = 0; i < self->profiles->len; i++)
    {
      profile = g_ptr_array_index (self->profiles, i);

      if (g_str_equal (profile->name, name_or_uuid))
        return profile;
    }

  return NULL;
}

/**
 * doctor_profile_store_put:
 * @self: a store
 * @profile: (transfer none): the profile to add, or to replace the one of its uuid
 * @error: return location for an error
 *
 * Adds a copy of @profile, or replaces the profile of the same uuid with it, in memory;
 * doctor_profile_store_save() writes it. The profile is checked as the file's reader would
 * check it; a name that another profile (of another uuid) has is refused with
 * DOCTOR_PROFILES_ERROR_NAME_TAKEN.
 *
 * Returns: %TRUE if the profile was stored
 */
gboolean
doctor_profile_store_put (DoctorProfileStore   *self,
                          const DoctorProfile  *profile,
                          GError              **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) node = NULL;
  DoctorProfile *copy;
  guint index;

  g_return_val_if_fail (DOCTOR_IS_PROFILE_STORE (self), FALSE);
  g_return_val_if_fail (profile != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (profile->name == NULL || profile->name[0] == '\0')
    {
      g_set_error_literal (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_INVALID,
                           _("A profile needs a name"));
      return FALSE;
    }

  if (profile->security != DOCTOR_SECURITY_STARTTLS &&
      profile->security != DOCTOR_SECURITY_TLS &&
      profile->security != DOCTOR_SECURITY_NONE)
    {
      g_set_error_literal (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_INVALID,
                           _("The profile’s security mode is not one SMTP Doctor knows"));
      return FALSE;
    }

  /* Through the writer and the reader: what is stored is what a load will give back. */
  node = profile_to_node (profile);
  copy = read_profile (node, "profile", &local_error);
  if (copy == NULL)
    {
      g_set_error (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_INVALID,
                   /* Translators: %s says what is wrong, in English. */
                   _("The profile cannot be saved (%s)"), local_error->message);
      return FALSE;
    }

  for (guint i = 0; i < self->profiles->len; i++)
    {
      const DoctorProfile *other = g_ptr_array_index (self->profiles, i);

      if (!g_str_equal (other->uuid, copy->uuid) && g_str_equal (other->name, copy->name))
        {
          g_set_error (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_NAME_TAKEN,
                       _("A profile named “%s” already exists"), copy->name);
          doctor_profile_free (copy);
          return FALSE;
        }
    }

  if (find_by_uuid (self->profiles, copy->uuid, &index) != NULL)
    {
      doctor_profile_free (g_ptr_array_index (self->profiles, index));
      g_ptr_array_index (self->profiles, index) = copy;
    }
  else
    g_ptr_array_add (self->profiles, copy);

  g_hash_table_add (self->dirty, g_strdup (copy->uuid));
  g_hash_table_remove (self->deleted, copy->uuid);
  g_signal_emit (self, signals[CHANGED], 0);

  return TRUE;
}

/**
 * doctor_profile_store_remove:
 * @self: a store
 * @uuid: the uuid of a profile
 *
 * Removes the profile in memory; doctor_profile_store_save() removes it from the file. Its
 * keyring item is the caller's to clear.
 *
 * Returns: %TRUE if there was such a profile
 */
gboolean
doctor_profile_store_remove (DoctorProfileStore *self,
                             const char         *uuid)
{
  g_autofree char *key = NULL;
  guint index;

  g_return_val_if_fail (DOCTOR_IS_PROFILE_STORE (self), FALSE);
  g_return_val_if_fail (uuid != NULL, FALSE);

  if (find_by_uuid (self->profiles, uuid, &index) == NULL)
    return FALSE;

  key = g_ascii_strdown (uuid, -1);
  g_ptr_array_remove_index (self->profiles, index);
  g_hash_table_remove (self->dirty, key);
  g_hash_table_add (self->deleted, g_steal_pointer (&key));
  g_signal_emit (self, signals[CHANGED], 0);

  return TRUE;
}
