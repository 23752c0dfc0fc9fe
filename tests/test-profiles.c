/* test-profiles.c: saved profiles and their file (doctor-profiles.c).
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every test works in a directory of its own under a temporary one, and $XDG_CONFIG_HOME points
 * there too, so nothing touches the user's profiles. Covered: a round trip of every field;
 * unknown members (top level and per profile) and a newer version surviving load and save;
 * passwords dropped and never written; the file's mode 0600 and the directory's 0700; damaged
 * files of many kinds, each moved aside byte for byte and never overwritten; an unreadable
 * file and a read-only directory, where nothing is moved or written (as root too: the test
 * takes the capabilities that let root ignore permissions out of its effective set); the
 * merge of two stores saving in turn, and two processes saving
 * at once (this program, run again with --concurrent-child); put, remove and find.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "doctor-profiles.h"

#define UUID_1 "0f8fad5b-d9cb-469f-a165-70867728950e"
#define UUID_2 "7c9e6679-7425-40de-944b-e07fc1f90ae7"

#define PROFILE_1 \
  "{\"uuid\": \"" UUID_1 "\", \"name\": \"Work\", \"host\": \"smtp.example.com\", " \
  "\"port\": 587, \"security\": \"starttls\"}"

#define PROFILE_2 \
  "{\"uuid\": \"" UUID_2 "\", \"name\": \"Home\", \"host\": \"mail.example.net\", " \
  "\"port\": 465, \"security\": \"tls\"}"

#define DOCUMENT(profiles) "{\"version\": 1, \"profiles\": [" profiles "]}"

/* A profile with more members: FIELDS comes last. */
#define PROFILE_WITH(fields) "{\"uuid\": \"" UUID_1 "\", \"name\": \"Work\", " fields "}"

#define CONCURRENT_PROFILES 50

static char *base_dir;
static guint dir_serial;

/* A fresh directory for one test, and the profiles file in it. */
static char *
new_path (char **dir_out)
{
  char *dir = g_strdup_printf ("%s/test-%u", base_dir, ++dir_serial);
  char *path;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  path = g_build_filename (dir, "profiles.json", NULL);

  if (dir_out != NULL)
    *dir_out = dir;
  else
    g_free (dir);

  return path;
}

static void
write_bytes (const char *path,
             const char *data,
             gsize       length)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, data, length, &error);
  g_assert_no_error (error);
}

static void
assert_file_bytes (const char *path,
                   const char *data,
                   gsize       length)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize contents_length;

  g_file_get_contents (path, &contents, &contents_length, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (contents, contents_length, data, length);
}

static guint
file_mode (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_lstat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

/* The file as json-glib reads it. */
static JsonObject *
parse_file (const char *path)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));

  return json_object_ref (json_node_get_object (root));
}

static DoctorProfileStore *
load_store (const char *path)
{
  DoctorProfileStore *store = doctor_profile_store_new (path);
  g_autoptr(GError) error = NULL;

  doctor_profile_store_load (store, &error);
  g_assert_no_error (error);

  return store;
}

static void
put (DoctorProfileStore  *store,
     const DoctorProfile *profile)
{
  g_autoptr(GError) error = NULL;

  doctor_profile_store_put (store, profile, &error);
  g_assert_no_error (error);
}

static void
save (DoctorProfileStore *store)
{
  g_autoptr(GError) error = NULL;

  doctor_profile_store_save (store, &error);
  g_assert_no_error (error);
}

static void
put_new (DoctorProfileStore *store,
         const char         *name)
{
  g_autoptr(DoctorProfile) profile = doctor_profile_new (name);

  profile->host = g_strdup ("smtp.example.com");
  put (store, profile);
}

static DoctorProfile *
full_profile (void)
{
  DoctorProfile *profile = doctor_profile_new ("Every field ✓");

  profile->provider = g_strdup ("amazon-ses");
  profile->host = g_strdup ("email-smtp.eu-west-1.amazonaws.com");
  profile->port = 2587;
  profile->security = DOCTOR_SECURITY_TLS;
  profile->user = g_strdup ("AKIAEXAMPLE");
  profile->allow_plaintext_auth = TRUE;
  profile->ca_file = g_strdup ("/home/me/certs/ca é.pem");
  profile->timeout_ms = 12345;
  profile->helo_name = g_strdup ("client.example.org");
  profile->mail_from = g_strdup ("me@example.org");
  profile->rcpt_to = g_strdup ("you@example.net");
  profile->remember_password = TRUE;

  return profile;
}

static void
assert_profiles_equal (const DoctorProfile *a,
                       const DoctorProfile *b)
{
  g_assert_cmpstr (a->uuid, ==, b->uuid);
  g_assert_cmpstr (a->name, ==, b->name);
  g_assert_cmpstr (a->provider, ==, b->provider);
  g_assert_cmpstr (a->host, ==, b->host);
  g_assert_cmpuint (a->port, ==, b->port);
  g_assert_cmpint (a->security, ==, b->security);
  g_assert_cmpstr (a->user, ==, b->user);
  g_assert_cmpint (a->allow_plaintext_auth, ==, b->allow_plaintext_auth);
  g_assert_cmpstr (a->ca_file, ==, b->ca_file);
  g_assert_cmpuint (a->timeout_ms, ==, b->timeout_ms);
  g_assert_cmpstr (a->helo_name, ==, b->helo_name);
  g_assert_cmpstr (a->mail_from, ==, b->mail_from);
  g_assert_cmpstr (a->rcpt_to, ==, b->rcpt_to);
  g_assert_cmpint (a->remember_password, ==, b->remember_password);
}

static void
test_round_trip (void)
{
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) store = doctor_profile_store_new (path);
  g_autoptr(DoctorProfileStore) again = NULL;
  g_autoptr(DoctorProfile) profile = full_profile ();
  g_autoptr(DoctorProfile) defaults = doctor_profile_new ("Defaults");
  g_autoptr(DoctorProfile) copy = NULL;
  const DoctorProfile *loaded;
  GPtrArray *profiles;

  g_assert_true (g_uuid_string_is_valid (profile->uuid));
  g_assert_cmpstr (doctor_profile_store_get_path (store), ==, path);

  put (store, profile);
  put (store, defaults);
  save (store);

  again = load_store (path);
  profiles = doctor_profile_store_get_profiles (again);
  g_assert_cmpuint (profiles->len, ==, 2);
  /* In the order they were added. */
  assert_profiles_equal (g_ptr_array_index (profiles, 0), profile);
  assert_profiles_equal (g_ptr_array_index (profiles, 1), defaults);

  loaded = doctor_profile_store_find (again, profile->uuid);
  g_assert_nonnull (loaded);
  g_assert_null (loaded->extra);

  copy = doctor_profile_copy (loaded);
  assert_profiles_equal (copy, profile);

  /* The defaults: STARTTLS, port 0 (the usual one), no strings. */
  loaded = doctor_profile_store_find (again, "Defaults");
  g_assert_nonnull (loaded);
  g_assert_cmpint (loaded->security, ==, DOCTOR_SECURITY_STARTTLS);
  g_assert_cmpuint (loaded->port, ==, 0);
  g_assert_null (loaded->host);
  g_assert_false (loaded->remember_password);

  /* A uuid is made once: a second new profile of the same name has another. */
  {
    g_autoptr(DoctorProfile) other = doctor_profile_new ("Every field ✓");

    g_assert_cmpstr (other->uuid, !=, profile->uuid);
  }
}

static void
test_target (void)
{
  g_autoptr(DoctorProfile) profile = full_profile ();
  g_autoptr(DoctorTarget) target = doctor_profile_to_target (profile);
  g_autoptr(DoctorProfile) back = NULL;

  g_assert_cmpstr (target->host, ==, profile->host);
  g_assert_cmpuint (target->port, ==, profile->port);
  g_assert_cmpint (target->security, ==, profile->security);
  g_assert_cmpstr (target->user, ==, profile->user);
  g_assert_null (target->secret);
  g_assert_true (target->allow_plaintext_auth);
  g_assert_cmpstr (target->ca_file, ==, profile->ca_file);
  g_assert_cmpuint (target->timeout_ms, ==, profile->timeout_ms);
  g_assert_cmpstr (target->helo_name, ==, profile->helo_name);
  g_assert_cmpstr (target->mail_from, ==, profile->mail_from);
  g_assert_cmpstr (target->rcpt_to, ==, profile->rcpt_to);

  /* The secret stays behind. */
  doctor_target_set_secret (target, "hunter2");
  back = doctor_profile_new_from_target ("Back", target, "amazon-ses");
  g_assert_true (g_uuid_string_is_valid (back->uuid));
  g_assert_cmpstr (back->uuid, !=, profile->uuid);
  g_assert_cmpstr (back->name, ==, "Back");
  g_assert_cmpstr (back->provider, ==, "amazon-ses");
  g_assert_cmpstr (back->host, ==, profile->host);
  g_assert_cmpuint (back->port, ==, profile->port);
  g_assert_cmpint (back->security, ==, profile->security);
  g_assert_cmpstr (back->user, ==, profile->user);
  g_assert_cmpstr (back->ca_file, ==, profile->ca_file);
  g_assert_cmpuint (back->timeout_ms, ==, profile->timeout_ms);
  g_assert_cmpstr (back->helo_name, ==, profile->helo_name);
  g_assert_cmpstr (back->mail_from, ==, profile->mail_from);
  g_assert_cmpstr (back->rcpt_to, ==, profile->rcpt_to);
  g_assert_false (back->remember_password);
}

static void
test_unknown_fields (void)
{
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) store = NULL;
  g_autoptr(JsonObject) root = NULL;
  const DoctorProfile *work;
  JsonObject *object;
  JsonArray *array;
  const char *text =
    "{\"version\": 1, \"future\": {\"sync\": [1, 2.5, \"three\", null, true]}, \"profiles\": ["
    "{\"uuid\": \"" UUID_1 "\", \"name\": \"Work\", \"host\": \"smtp.example.com\", "
    "\"colour\": \"blue\", \"oauth\": {\"client\": \"abc\", \"scopes\": [\"mail\"]}}, "
    PROFILE_2 "]}";

  write_bytes (path, text, strlen (text));
  store = load_store (path);

  work = doctor_profile_store_find (store, "Work");
  g_assert_nonnull (work);
  g_assert_nonnull (work->extra);
  g_assert_cmpuint (json_object_get_size (work->extra), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (work->extra, "colour"), ==, "blue");

  /* A change to the other profile, and a save. */
  {
    g_autoptr(DoctorProfile) home = doctor_profile_copy (doctor_profile_store_find (store,
                                                                                    "Home"));

    g_free (home->user);
    home->user = g_strdup ("me");
    put (store, home);
  }
  save (store);

  root = parse_file (path);
  g_assert_cmpint (json_object_get_int_member (root, "version"), ==, 1);
  object = json_object_get_object_member (root, "future");
  g_assert_nonnull (object);
  array = json_object_get_array_member (object, "sync");
  g_assert_cmpuint (json_array_get_length (array), ==, 5);
  g_assert_cmpfloat (json_array_get_double_element (array, 1), ==, 2.5);
  g_assert_cmpstr (json_array_get_string_element (array, 2), ==, "three");

  array = json_object_get_array_member (root, "profiles");
  g_assert_cmpuint (json_array_get_length (array), ==, 2);
  object = json_array_get_object_element (array, 0);
  g_assert_cmpstr (json_object_get_string_member (object, "colour"), ==, "blue");
  object = json_object_get_object_member (object, "oauth");
  g_assert_cmpstr (json_object_get_string_member (object, "client"), ==, "abc");
  object = json_array_get_object_element (array, 1);
  g_assert_cmpstr (json_object_get_string_member (object, "user"), ==, "me");

  /* And through a second store, and a copy of a profile. */
  {
    g_autoptr(DoctorProfileStore) again = load_store (path);
    g_autoptr(DoctorProfile) copy = NULL;

    work = doctor_profile_store_find (again, UUID_1);
    g_assert_nonnull (work);
    copy = doctor_profile_copy (work);
    g_assert_cmpstr (json_object_get_string_member (copy->extra, "colour"), ==, "blue");
  }
}

static void
test_newer_version (void)
{
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) store = NULL;
  g_autoptr(JsonObject) root = NULL;
  const DoctorProfile *work;
  const char *text =
    "{\"version\": 3, \"profiles\": [" PROFILE_WITH ("\"dane\": true") "], \"groups\": []}";

  write_bytes (path, text, strlen (text));
  store = load_store (path);
  work = doctor_profile_store_find (store, "Work");
  g_assert_nonnull (work);
  g_assert_true (json_object_get_boolean_member (work->extra, "dane"));

  put_new (store, "New");
  save (store);

  /* The file stays marked as the newer version's, with its fields. */
  root = parse_file (path);
  g_assert_cmpint (json_object_get_int_member (root, "version"), ==, 3);
  g_assert_true (json_object_has_member (root, "groups"));
  g_assert_true (json_object_get_boolean_member (
    json_array_get_object_element (json_object_get_array_member (root, "profiles"), 0), "dane"));
}

static void
test_password_dropped (void)
{
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) store = NULL;
  g_autoptr(DoctorProfile) profile = NULL;
  g_autofree char *contents = NULL;
  const DoctorProfile *work;
  const char *text =
    "{\"version\": 1, \"password\": \"top-hunter2\", \"profiles\": [" PROFILE_WITH (
      "\"host\": \"smtp.example.com\", \"password\": \"hunter2\", \"Secret\": \"s3cret\", "
      "\"oauth\": {\"PASSWORD\": \"deep-hunter2\", \"client\": \"abc\"}") "]}";

  write_bytes (path, text, strlen (text));
  store = load_store (path);

  work = doctor_profile_store_find (store, "Work");
  g_assert_nonnull (work);
  g_assert_nonnull (work->extra);
  g_assert_false (json_object_has_member (work->extra, "password"));
  g_assert_false (json_object_has_member (work->extra, "Secret"));
  g_assert_false (json_object_has_member (json_object_get_object_member (work->extra, "oauth"),
                                          "PASSWORD"));

  /* One the program itself puts into extra does not get out either. */
  profile = doctor_profile_new ("Other");
  profile->extra = json_object_new ();
  json_object_set_string_member (profile->extra, "password", "mine-hunter2");
  json_object_set_string_member (profile->extra, "kept", "yes");
  put (store, profile);
  g_assert_false (json_object_has_member (doctor_profile_store_find (store, "Other")->extra,
                                          "password"));
  save (store);

  g_file_get_contents (path, &contents, NULL, NULL);
  g_assert_nonnull (contents);
  g_assert_null (strstr (contents, "hunter2"));
  g_assert_null (strstr (contents, "s3cret"));
  {
    g_autofree char *lower = g_ascii_strdown (contents, -1);

    g_assert_null (strstr (lower, "\"password\""));
    g_assert_null (strstr (lower, "\"secret\""));
  }
  g_assert_nonnull (strstr (contents, "\"client\""));
  g_assert_nonnull (strstr (contents, "\"kept\""));
}

static void
test_mode (void)
{
  g_autofree char *path = new_path (NULL);
  g_autofree char *lock_path = g_strconcat (path, ".lock", NULL);
  g_autoptr(DoctorProfileStore) store = NULL;
  const char *text = DOCUMENT (PROFILE_1);

  /* An existing file of mode 0644 ends up 0600. */
  write_bytes (path, text, strlen (text));
  g_assert_cmpint (g_chmod (path, 0644), ==, 0);
  store = load_store (path);
  save (store);
  g_assert_cmpuint (file_mode (path), ==, 0600);
  g_assert_cmpuint (file_mode (lock_path), ==, 0600);

  /* And after a second save. */
  g_assert_cmpint (g_chmod (path, 0666), ==, 0);
  put_new (store, "Second");
  save (store);
  g_assert_cmpuint (file_mode (path), ==, 0600);
}

static void
test_directory_created (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *parent = NULL;
  g_autofree char *path = NULL;
  g_autoptr(DoctorProfileStore) store = NULL;
  g_autoptr(GError) error = NULL;

  g_free (new_path (&dir));
  parent = g_build_filename (dir, "config", NULL);
  path = g_build_filename (parent, "smtp-doctor", "profiles.json", NULL);

  /* Loading creates nothing. */
  store = doctor_profile_store_new (path);
  g_assert_true (doctor_profile_store_load (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (doctor_profile_store_get_profiles (store)->len, ==, 0);
  g_assert_false (g_file_test (parent, G_FILE_TEST_EXISTS));

  put_new (store, "First");
  save (store);
  g_assert_cmpuint (file_mode (parent), ==, 0700);
  {
    g_autofree char *smtp_doctor = g_path_get_dirname (path);

    g_assert_cmpuint (file_mode (smtp_doctor), ==, 0700);
  }
  g_assert_cmpuint (file_mode (path), ==, 0600);
}

static void
test_default_path (void)
{
  g_autofree char *expected = g_build_filename (base_dir, "config", "smtp-doctor",
                                                "profiles.json", NULL);
  g_autofree char *config = g_build_filename (base_dir, "config", NULL);
  g_autoptr(DoctorProfileStore) store = doctor_profile_store_new (NULL);
  g_autoptr(DoctorProfileStore) again = NULL;
  g_autofree char *dir = g_path_get_dirname (expected);

  g_assert_cmpstr (g_get_user_config_dir (), ==, config);
  g_assert_cmpstr (doctor_profile_store_get_path (store), ==, expected);

  put_new (store, "Default");
  save (store);
  g_assert_true (g_file_test (expected, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (file_mode (dir), ==, 0700);
  g_assert_cmpuint (file_mode (expected), ==, 0600);

  again = load_store (NULL);
  g_assert_nonnull (doctor_profile_store_find (again, "Default"));
}

/* Damaged files: each is loaded, must be refused as a whole, moved aside byte for byte, and
 * survive the next save.
 */

typedef struct
{
  const char *name;
  const char *data;
  gssize      length;   /* -1: strlen */
} DamagedCase;

#define NUL_TEXT "{\"version\": 1,\0 \"profiles\": []}"

static const DamagedCase damaged_cases[] = {
  { "truncated", "{\"version\": 1, \"profiles\": [{\"uuid\": \"" UUID_1 "\", \"na", -1 },
  { "truncated-object", "{\"version\": 1, \"profiles\": [" PROFILE_1, -1 },
  { "invalid-utf8", DOCUMENT (PROFILE_WITH ("\"host\": \"smtp.\xc3\x28.com\"")), -1 },
  { "latin1", DOCUMENT (PROFILE_WITH ("\"user\": \"j\xe9r\xf4me\"")), -1 },
  { "trailing-garbage", DOCUMENT (PROFILE_1) "\n}garbage", -1 },
  { "second-document", DOCUMENT (PROFILE_1) DOCUMENT (PROFILE_2), -1 },
  { "empty", "", 0 },
  { "whitespace", "  \n\t\n", -1 },
  { "nul-byte", NUL_TEXT, sizeof (NUL_TEXT) - 1 },
  { "port-587x", DOCUMENT (PROFILE_WITH ("\"port\": \"587x\"")), -1 },
  { "port-string", DOCUMENT (PROFILE_WITH ("\"port\": \"587\"")), -1 },
  { "port-float", DOCUMENT (PROFILE_WITH ("\"port\": 587.0")), -1 },
  { "port-range", DOCUMENT (PROFILE_WITH ("\"port\": 65536")), -1 },
  { "port-negative", DOCUMENT (PROFILE_WITH ("\"port\": -1")), -1 },
  { "port-huge", DOCUMENT (PROFILE_WITH ("\"port\": 99999999999999999999")), -1 },
  { "number-infinite", DOCUMENT (PROFILE_WITH ("\"later\": 1e400")), -1 },
  { "number-leading-zero", DOCUMENT (PROFILE_WITH ("\"port\": 0587")), -1 },
  { "timeout-negative", DOCUMENT (PROFILE_WITH ("\"timeout_ms\": -5")), -1 },
  { "security-number", DOCUMENT (PROFILE_WITH ("\"security\": 1")), -1 },
  { "security-unknown", DOCUMENT (PROFILE_WITH ("\"security\": \"ssl\"")), -1 },
  { "name-number", "{\"version\": 1, \"profiles\": [{\"uuid\": \"" UUID_1 "\", \"name\": 3}]}",
    -1 },
  { "name-missing", "{\"version\": 1, \"profiles\": [{\"uuid\": \"" UUID_1 "\"}]}", -1 },
  { "name-empty", "{\"version\": 1, \"profiles\": [{\"uuid\": \"" UUID_1 "\", \"name\": \"\"}]}",
    -1 },
  { "name-newline",
    "{\"version\": 1, \"profiles\": [{\"uuid\": \"" UUID_1 "\", \"name\": \"a\\nb\"}]}", -1 },
  { "uuid-missing", "{\"version\": 1, \"profiles\": [{\"name\": \"Work\"}]}", -1 },
  { "uuid-invalid", "{\"version\": 1, \"profiles\": [{\"uuid\": \"123\", \"name\": \"W\"}]}", -1 },
  { "host-array", DOCUMENT (PROFILE_WITH ("\"host\": [\"smtp.example.com\"]")), -1 },
  { "plaintext-string", DOCUMENT (PROFILE_WITH ("\"allow_plaintext_auth\": \"yes\"")), -1 },
  { "remember-number", DOCUMENT (PROFILE_WITH ("\"remember_password\": 1")), -1 },
  { "provider-invalid", DOCUMENT (PROFILE_WITH ("\"provider\": \"Gmail!\"")), -1 },
  { "duplicate-key", DOCUMENT (PROFILE_WITH ("\"port\": 587, \"port\": 25")), -1 },
  { "duplicate-key-escaped", DOCUMENT (PROFILE_WITH ("\"port\": 587, \"p\\u006frt\": 25")), -1 },
  { "duplicate-uuid",
    "{\"version\": 1, \"profiles\": [" PROFILE_1 ", {\"uuid\": \"" UUID_1 "\", \"name\": \"B\"}]}",
    -1 },
  { "duplicate-name",
    "{\"version\": 1, \"profiles\": [" PROFILE_1 ", "
    "{\"uuid\": \"" UUID_2 "\", \"name\": \"Work\"}]}", -1 },
  { "lone-surrogate", DOCUMENT (PROFILE_WITH ("\"later\": \"\\udc00\"")), -1 },
  { "comment", "{\"version\": 1, /* mine */ \"profiles\": []}", -1 },
  { "single-quotes", "{'version': 1, 'profiles': []}", -1 },
  { "trailing-comma", "{\"version\": 1, \"profiles\": [],}", -1 },
  { "literal", "{\"version\": 1, \"profiles\": [], \"x\": tru}", -1 },
  { "root-array", "[" PROFILE_1 "]", -1 },
  { "root-string", "\"profiles\"", -1 },
  { "version-missing", "{\"profiles\": []}", -1 },
  { "version-string", "{\"version\": \"1\", \"profiles\": []}", -1 },
  { "version-zero", "{\"version\": 0, \"profiles\": []}", -1 },
  { "profiles-missing", "{\"version\": 1}", -1 },
  { "profiles-object", "{\"version\": 1, \"profiles\": {\"Work\": " PROFILE_1 "}}", -1 },
  { "profile-string", "{\"version\": 1, \"profiles\": [\"Work\"]}", -1 },
  { "newer-unreadable", "{\"version\": 2, \"profiles\": {\"by-uuid\": {}}}", -1 },
  { "newer-unreadable-profile", "{\"version\": 2, \"profiles\": [[\"" UUID_1 "\", \"Work\"]]}",
    -1 },
};

static void
count_signal (guint *count)
{
  (*count)++;
}

/* Checks the error, the store left empty, and the original bytes at the recovered path. */
static char *
assert_moved_aside (DoctorProfileStore *store,
                    const GError       *error,
                    const char         *path,
                    const char         *data,
                    gsize               length)
{
  const char *recovered = doctor_profile_store_get_recovered_path (store);
  g_autofree char *prefix = g_strconcat (path, ".corrupt-", NULL);

  g_assert_error (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_DAMAGED);
  g_test_message ("%s", error->message);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_nonnull (recovered);
  g_assert_true (g_str_has_prefix (recovered, prefix));
  g_assert_nonnull (strstr (error->message, recovered));
  g_assert_cmpuint (doctor_profile_store_get_profiles (store)->len, ==, 0);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  assert_file_bytes (recovered, data, length);

  return g_strdup (recovered);
}

/* A save after the damage writes a good file, and the kept copy stays as it was. */
static void
assert_save_after_damage (DoctorProfileStore *store,
                          const char         *path,
                          const char         *recovered,
                          const char         *data,
                          gsize               length)
{
  g_autoptr(DoctorProfileStore) again = NULL;

  put_new (store, "After the damage");
  save (store);
  assert_file_bytes (recovered, data, length);

  again = load_store (path);
  g_assert_cmpuint (doctor_profile_store_get_profiles (again)->len, ==, 1);
  g_assert_nonnull (doctor_profile_store_find (again, "After the damage"));
  g_assert_cmpuint (file_mode (path), ==, 0600);
}

static void
test_damaged (gconstpointer user_data)
{
  const DamagedCase *damaged = user_data;
  gsize length = damaged->length < 0 ? strlen (damaged->data) : (gsize) damaged->length;
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) store = doctor_profile_store_new (path);
  g_autoptr(GError) error = NULL;
  g_autofree char *recovered = NULL;
  guint changed = 0;

  write_bytes (path, damaged->data, length);
  g_signal_connect_swapped (store, "changed", G_CALLBACK (count_signal), &changed);

  g_assert_false (doctor_profile_store_load (store, &error));
  recovered = assert_moved_aside (store, error, path, damaged->data, length);
  g_assert_cmpuint (changed, ==, 1);

  assert_save_after_damage (store, path, recovered, damaged->data, length);
}

static GString *
deep_text (guint levels)
{
  GString *text = g_string_sized_new (levels);

  for (guint i = 0; i < levels; i++)
    g_string_append_c (text, '[');

  return text;
}

static void
test_damaged_deep (void)
{
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) store = doctor_profile_store_new (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) text = deep_text (100000);
  g_autofree char *recovered = NULL;
  gint64 start;

  write_bytes (path, text->str, text->len);

  start = g_get_monotonic_time ();
  g_assert_false (doctor_profile_store_load (store, &error));
  /* Refused by the scan, long before json-glib could recurse. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);

  recovered = assert_moved_aside (store, error, path, text->str, text->len);
  assert_save_after_damage (store, path, recovered, text->str, text->len);

  /* The same inside a document that is good up to there. */
  g_clear_error (&error);
  g_clear_pointer (&recovered, g_free);
  g_string_assign (text, "{\"version\": 1, \"profiles\": [], \"later\": ");
  for (guint i = 0; i < 100000; i++)
    g_string_append (text, "{\"a\":[");
  write_bytes (path, text->str, text->len);
  g_assert_false (doctor_profile_store_load (store, &error));
  recovered = assert_moved_aside (store, error, path, text->str, text->len);
}

static void
test_damaged_large (void)
{
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) store = doctor_profile_store_new (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) text = g_string_new ("{\"version\": 1, \"profiles\": [], \"pad\": \"");
  g_autofree char *recovered = NULL;

  /* Good JSON, one byte over the cap. */
  while (text->len < DOCTOR_PROFILES_MAX_BYTES - 1)
    g_string_append_c (text, 'a');
  g_string_append (text, "\"}");
  g_assert_cmpuint (text->len, ==, DOCTOR_PROFILES_MAX_BYTES + 1);
  write_bytes (path, text->str, text->len);

  g_assert_false (doctor_profile_store_load (store, &error));
  recovered = assert_moved_aside (store, error, path, text->str, text->len);
  assert_save_after_damage (store, path, recovered, text->str, text->len);
}

static void
test_damaged_directory (void)
{
  g_autofree char *path = new_path (NULL);
  g_autofree char *inside = g_build_filename (path, "kept.txt", NULL);
  g_autoptr(DoctorProfileStore) store = doctor_profile_store_new (path);
  g_autoptr(GError) error = NULL;
  g_autofree char *recovered = NULL;
  g_autofree char *recovered_inside = NULL;
  const char *text = "a file in the directory";

  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  write_bytes (inside, text, strlen (text));

  g_assert_false (doctor_profile_store_load (store, &error));
  g_assert_error (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_DAMAGED);
  recovered = g_strdup (doctor_profile_store_get_recovered_path (store));
  g_assert_nonnull (recovered);
  g_assert_true (g_file_test (recovered, G_FILE_TEST_IS_DIR));
  recovered_inside = g_build_filename (recovered, "kept.txt", NULL);
  assert_file_bytes (recovered_inside, text, strlen (text));

  put_new (store, "After the damage");
  save (store);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  assert_file_bytes (recovered_inside, text, strlen (text));
}

/* Two damaged files in the same second get names of their own. */
static void
test_damaged_twice (void)
{
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) store = doctor_profile_store_new (path);
  g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *text = g_strdup_printf ("{\"version\": 1, \"damage\": %u", i);

      write_bytes (path, text, strlen (text));
      g_assert_false (doctor_profile_store_load (store, &error));
      g_ptr_array_add (kept, assert_moved_aside (store, error, path, text, strlen (text)));
    }

  g_assert_cmpstr (g_ptr_array_index (kept, 0), !=, g_ptr_array_index (kept, 1));
  g_assert_cmpstr (g_ptr_array_index (kept, 1), !=, g_ptr_array_index (kept, 2));
  g_assert_cmpstr (g_ptr_array_index (kept, 0), !=, g_ptr_array_index (kept, 2));

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *text = g_strdup_printf ("{\"version\": 1, \"damage\": %u", i);

      assert_file_bytes (g_ptr_array_index (kept, i), text, strlen (text));
    }
}

/* The file is damaged between a load and a save (by hand, or by another program). */
static void
test_damaged_on_save (void)
{
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *recovered = NULL;
  const char *good = DOCUMENT (PROFILE_1);
  const char *bad = "{\"version\": 1, \"profiles\": [" PROFILE_1;

  write_bytes (path, good, strlen (good));
  store = load_store (path);
  put_new (store, "Mine");
  write_bytes (path, bad, strlen (bad));

  /* Moved aside, nothing written, the store as it was. */
  g_assert_false (doctor_profile_store_save (store, &error));
  g_assert_error (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_DAMAGED);
  recovered = g_strdup (doctor_profile_store_get_recovered_path (store));
  g_assert_nonnull (recovered);
  assert_file_bytes (recovered, bad, strlen (bad));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (doctor_profile_store_get_profiles (store)->len, ==, 2);

  /* The next save writes what the store holds. */
  save (store);
  {
    g_autoptr(DoctorProfileStore) again = load_store (path);

    g_assert_nonnull (doctor_profile_store_find (again, "Work"));
    g_assert_nonnull (doctor_profile_store_find (again, "Mine"));
  }
  assert_file_bytes (recovered, bad, strlen (bad));
}

/* Root (and a process with CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH, as in many containers)
 * ignores file permissions. With @on FALSE they leave this thread's effective set (they stay
 * permitted, so TRUE puts them back), and permissions bind it as they bind any user; for a
 * process without them this changes nothing. The store's calls are made on this thread.
 */
static void
set_permission_override (gboolean on)
{
  static const int caps[] = { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH };
  struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { { 0 } };

  g_assert_cmpint (syscall (SYS_capget, &header, data), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (caps); i++)
    {
      guint32 bit = 1u << (caps[i] % 32);
      struct __user_cap_data_struct *word = &data[caps[i] / 32];

      if (on)
        word->effective |= word->permitted & bit;
      else
        word->effective &= ~bit;
    }
  g_assert_cmpint (syscall (SYS_capset, &header, data), ==, 0);
}

/* A file that cannot be opened says nothing about its content: it is left where it is, and
 * the store refuses to save over it.
 */
static void
test_unreadable (void)
{
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) store = doctor_profile_store_new (path);
  g_autoptr(GError) error = NULL;
  const char *text = DOCUMENT (PROFILE_1);
  int fd;

  write_bytes (path, text, strlen (text));
  g_assert_cmpint (g_chmod (path, 0), ==, 0);

  set_permission_override (FALSE);

  /* The fault is real, or the test fails. */
  fd = g_open (path, O_RDONLY, 0);
  g_assert_cmpint (fd, ==, -1);
  g_assert_cmpint (errno, ==, EACCES);

  g_assert_false (doctor_profile_store_load (store, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_ACCES);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_null (doctor_profile_store_get_recovered_path (store));
  g_clear_error (&error);

  put_new (store, "Mine");
  g_assert_false (doctor_profile_store_save (store, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_ACCES);
  g_clear_error (&error);

  set_permission_override (TRUE);
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  assert_file_bytes (path, text, strlen (text));

  /* Readable again: the store that loaded nothing saves its profile beside the file's, and
   * the empty list it started with never stands for the file. */
  g_assert_true (doctor_profile_store_save (store, &error));
  g_assert_no_error (error);
  g_assert_nonnull (doctor_profile_store_find (store, "Work"));
  g_assert_nonnull (doctor_profile_store_find (store, "Mine"));
}

/* A directory that cannot be written: the profiles load, a save fails and changes nothing. */
static void
test_read_only (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = new_path (&dir);
  g_autoptr(DoctorProfileStore) store = NULL;
  g_autoptr(GError) error = NULL;
  const char *text = DOCUMENT (PROFILE_1);
  g_autofree char *probe = NULL;
  g_autoptr(GDir) listing = NULL;
  const char *name;

  write_bytes (path, text, strlen (text));
  g_assert_cmpint (g_chmod (dir, 0500), ==, 0);

  set_permission_override (FALSE);

  /* The fault is real, or the test fails. */
  probe = g_build_filename (dir, "probe", NULL);
  g_assert_cmpint (g_open (probe, O_WRONLY | O_CREAT, 0600), ==, -1);
  g_assert_cmpint (errno, ==, EACCES);

  store = load_store (path);
  g_assert_nonnull (doctor_profile_store_find (store, "Work"));
  put_new (store, "Mine");
  g_assert_false (doctor_profile_store_save (store, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_ACCES);
  /* The message says what did not happen, and to which file. */
  g_assert_true (g_str_has_prefix (error->message, "Could not save the profiles in "));
  g_assert_nonnull (strstr (error->message, path));

  set_permission_override (TRUE);
  g_assert_cmpint (g_chmod (dir, 0700), ==, 0);
  assert_file_bytes (path, text, strlen (text));

  /* Nothing was left beside it either. */
  listing = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (listing);
  while ((name = g_dir_read_name (listing)) != NULL)
    g_assert_cmpstr (name, ==, "profiles.json");
}

static void
test_missing (void)
{
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) store = doctor_profile_store_new (path);
  g_autoptr(GError) error = NULL;

  g_assert_true (doctor_profile_store_load (store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (doctor_profile_store_get_profiles (store)->len, ==, 0);
  g_assert_null (doctor_profile_store_get_recovered_path (store));
}

/* A symbolic link is followed when reading, and replaced by a file when writing. */
static void
test_symlink (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = new_path (&dir);
  g_autofree char *target = g_build_filename (dir, "elsewhere.json", NULL);
  g_autoptr(DoctorProfileStore) store = NULL;
  const char *text = DOCUMENT (PROFILE_1);

  write_bytes (target, text, strlen (text));
  g_assert_cmpint (symlink (target, path), ==, 0);

  store = load_store (path);
  g_assert_nonnull (doctor_profile_store_find (store, "Work"));
  put_new (store, "Mine");
  save (store);

  g_assert_false (g_file_test (path, G_FILE_TEST_IS_SYMLINK));
  g_assert_cmpuint (file_mode (path), ==, 0600);
  assert_file_bytes (target, text, strlen (text));
}

static void
test_put_duplicate_name (void)
{
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) store = doctor_profile_store_new (path);
  g_autoptr(DoctorProfile) first = doctor_profile_new ("Work");
  g_autoptr(DoctorProfile) second = doctor_profile_new ("Work");
  g_autoptr(DoctorProfile) lower = doctor_profile_new ("work");
  g_autoptr(GError) error = NULL;

  put (store, first);
  g_assert_false (doctor_profile_store_put (store, second, &error));
  g_assert_error (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_NAME_TAKEN);
  g_assert_cmpuint (doctor_profile_store_get_profiles (store)->len, ==, 1);

  /* Names are case-sensitive; and a profile may keep its own name. */
  put (store, lower);
  g_free (first->host);
  first->host = g_strdup ("smtp.example.org");
  put (store, first);
  g_assert_cmpuint (doctor_profile_store_get_profiles (store)->len, ==, 2);
  g_assert_cmpstr (doctor_profile_store_find (store, "Work")->host, ==, "smtp.example.org");

  /* Renaming onto another's name is refused too. */
  g_clear_error (&error);
  g_free (lower->name);
  lower->name = g_strdup ("Work");
  g_assert_false (doctor_profile_store_put (store, lower, &error));
  g_assert_error (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_NAME_TAKEN);
  g_assert_nonnull (doctor_profile_store_find (store, "work"));
}

static void
test_put_invalid (void)
{
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) store = doctor_profile_store_new (path);
  g_autoptr(DoctorProfile) profile = doctor_profile_new ("");
  g_autoptr(GError) error = NULL;

  g_assert_false (doctor_profile_store_put (store, profile, &error));
  g_assert_error (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_INVALID);
  g_clear_error (&error);

  g_free (profile->name);
  profile->name = g_strdup ("Fine");
  profile->host = g_strdup ("smtp.example.com\r\nRSET");
  g_assert_false (doctor_profile_store_put (store, profile, &error));
  g_assert_error (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_INVALID);
  g_clear_error (&error);

  g_free (profile->host);
  profile->host = g_strdup ("smtp.example.com");
  g_free (profile->uuid);
  profile->uuid = g_strdup ("not-a-uuid");
  g_assert_false (doctor_profile_store_put (store, profile, &error));
  g_assert_error (error, DOCTOR_PROFILES_ERROR, DOCTOR_PROFILES_ERROR_INVALID);
  g_assert_cmpuint (doctor_profile_store_get_profiles (store)->len, ==, 0);

  /* Empty strings are stored as absent. */
  g_free (profile->uuid);
  profile->uuid = g_uuid_string_random ();
  profile->user = g_strdup ("");
  put (store, profile);
  g_assert_null (doctor_profile_store_find (store, "Fine")->user);
}

static void
test_remove (void)
{
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) store = NULL;
  g_autoptr(DoctorProfileStore) again = NULL;
  const char *text = DOCUMENT (PROFILE_1 ", " PROFILE_2);

  write_bytes (path, text, strlen (text));
  store = load_store (path);

  g_assert_true (doctor_profile_store_remove (store, UUID_1));
  g_assert_false (doctor_profile_store_remove (store, UUID_1));
  g_assert_false (doctor_profile_store_remove (store, "Home"));
  g_assert_null (doctor_profile_store_find (store, "Work"));
  save (store);

  again = load_store (path);
  g_assert_cmpuint (doctor_profile_store_get_profiles (again)->len, ==, 1);
  g_assert_null (doctor_profile_store_find (again, UUID_1));
  g_assert_nonnull (doctor_profile_store_find (again, UUID_2));

  /* Removing the last one writes an empty list: that is what the user asked for. */
  g_assert_true (doctor_profile_store_remove (again, UUID_2));
  save (again);
  g_clear_object (&store);
  store = load_store (path);
  g_assert_cmpuint (doctor_profile_store_get_profiles (store)->len, ==, 0);
}

static void
test_find (void)
{
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) store = NULL;
  g_autofree char *upper = g_ascii_strup (UUID_2, -1);
  const char *text = DOCUMENT (PROFILE_1 ", " PROFILE_2);
  const DoctorProfile *profile;

  write_bytes (path, text, strlen (text));
  store = load_store (path);

  profile = doctor_profile_store_find (store, "Work");
  g_assert_nonnull (profile);
  g_assert_cmpstr (profile->uuid, ==, UUID_1);

  profile = doctor_profile_store_find (store, UUID_2);
  g_assert_nonnull (profile);
  g_assert_cmpstr (profile->name, ==, "Home");
  g_assert_true (doctor_profile_store_find (store, upper) == profile);

  g_assert_null (doctor_profile_store_find (store, "work"));
  g_assert_null (doctor_profile_store_find (store, "Nowhere"));
  g_assert_null (doctor_profile_store_find (store, ""));
}

static void
test_changed (void)
{
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) store = doctor_profile_store_new (path);
  g_autoptr(DoctorProfileStore) other = NULL;
  g_autoptr(DoctorProfile) profile = doctor_profile_new ("Work");
  guint changed = 0;

  g_signal_connect_swapped (store, "changed", G_CALLBACK (count_signal), &changed);

  put (store, profile);
  g_assert_cmpuint (changed, ==, 1);
  save (store);
  g_assert_cmpuint (changed, ==, 1);   /* nothing new came from the file */
  g_assert_true (doctor_profile_store_remove (store, profile->uuid));
  g_assert_cmpuint (changed, ==, 2);
  g_assert_false (doctor_profile_store_remove (store, profile->uuid));
  g_assert_cmpuint (changed, ==, 2);
  g_assert_true (doctor_profile_store_load (store, NULL));
  g_assert_cmpuint (changed, ==, 3);

  /* A save that brings in another store's profile. */
  other = load_store (path);
  put_new (other, "Other");
  save (other);
  put_new (store, "Mine");
  g_assert_cmpuint (changed, ==, 4);
  save (store);
  g_assert_cmpuint (changed, ==, 5);
  g_assert_nonnull (doctor_profile_store_find (store, "Other"));
}

/* Two stores on one file, saving in turn: the merge rule of doctor-profiles.c. */
static void
test_merge (void)
{
  g_autofree char *path = new_path (NULL);
  g_autoptr(DoctorProfileStore) a = NULL;
  g_autoptr(DoctorProfileStore) b = NULL;
  g_autoptr(DoctorProfileStore) check = NULL;
  g_autoptr(DoctorProfile) changed = NULL;
  const char *text = DOCUMENT (PROFILE_1 ", " PROFILE_2);

  write_bytes (path, text, strlen (text));
  a = load_store (path);
  b = load_store (path);

  /* Each adds one: both are kept. */
  put_new (a, "From A");
  save (a);
  put_new (b, "From B");
  save (b);
  g_assert_nonnull (doctor_profile_store_find (b, "From A"));

  /* A changes Work, B has not touched it: B's save keeps A's change. */
  changed = doctor_profile_copy (doctor_profile_store_find (a, "Work"));
  changed->port = 2525;
  put (a, changed);
  save (a);
  put_new (b, "Another from B");
  save (b);
  g_assert_cmpuint (doctor_profile_store_find (b, "Work")->port, ==, 2525);

  /* A removes Home, B has not touched it: it stays removed. */
  g_assert_true (doctor_profile_store_remove (a, UUID_2));
  save (a);
  put_new (b, "Third from B");
  save (b);
  g_assert_null (doctor_profile_store_find (b, "Home"));

  /* Both change Work: the last writer wins. */
  g_clear_pointer (&changed, doctor_profile_free);
  changed = doctor_profile_copy (doctor_profile_store_find (a, "Work"));
  changed->port = 1;
  put (a, changed);
  g_clear_pointer (&changed, doctor_profile_free);
  changed = doctor_profile_copy (doctor_profile_store_find (b, "Work"));
  changed->port = 2;
  put (b, changed);
  save (a);
  save (b);
  g_assert_cmpuint (doctor_profile_store_find (b, "Work")->port, ==, 2);

  /* Both add a profile of the same name: the second one saved gives way, and both are kept. */
  put_new (a, "Same");
  put_new (b, "Same");
  save (a);
  save (b);
  g_assert_nonnull (doctor_profile_store_find (b, "Same"));
  g_assert_nonnull (doctor_profile_store_find (b, "Same (2)"));

  check = load_store (path);
  g_assert_cmpuint (doctor_profile_store_get_profiles (check)->len, ==, 7);
  g_assert_cmpstr (doctor_profile_store_find (check, "Same")->uuid, ==,
                   doctor_profile_store_find (a, "Same")->uuid);
  g_assert_nonnull (doctor_profile_store_find (check, "Same (2)"));

  /* A file deleted by hand: nothing is known, the store writes all it has. */
  g_assert_cmpint (g_unlink (path), ==, 0);
  put_new (a, "After the deletion");
  save (a);
  g_clear_object (&check);
  check = load_store (path);
  g_assert_cmpuint (doctor_profile_store_get_profiles (check)->len, ==,
                    doctor_profile_store_get_profiles (a)->len);
  g_assert_nonnull (doctor_profile_store_find (check, "Work"));
}

/* Run as a child process: adds CONCURRENT_PROFILES profiles, saving after each. */
static int
concurrent_child (const char *path,
                  const char *prefix)
{
  g_autoptr(DoctorProfileStore) store = doctor_profile_store_new (path);
  g_autoptr(GError) error = NULL;

  if (!doctor_profile_store_load (store, &error))
    {
      g_printerr ("load: %s\n", error->message);
      return 1;
    }

  for (guint i = 0; i < CONCURRENT_PROFILES; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s %u", prefix, i);
      g_autoptr(DoctorProfile) profile = doctor_profile_new (name);

      profile->host = g_strdup ("smtp.example.com");
      if (!doctor_profile_store_put (store, profile, &error) ||
          !doctor_profile_store_save (store, &error))
        {
          g_printerr ("%s: %s\n", name, error->message);
          return 1;
        }
    }

  return 0;
}

static void
test_concurrent (void)
{
  g_autofree char *path = new_path (NULL);
  g_autofree char *self_path = g_file_read_link ("/proc/self/exe", NULL);
  g_autoptr(GSubprocess) first = NULL;
  g_autoptr(GSubprocess) second = NULL;
  g_autoptr(DoctorProfileStore) store = NULL;
  g_autoptr(JsonObject) root = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (self_path);
  first = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error,
                            self_path, "--concurrent-child", path, "First", NULL);
  g_assert_no_error (error);
  second = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error,
                             self_path, "--concurrent-child", path, "Second", NULL);
  g_assert_no_error (error);

  g_subprocess_wait_check (first, NULL, &error);
  g_assert_no_error (error);
  g_subprocess_wait_check (second, NULL, &error);
  g_assert_no_error (error);

  /* Valid JSON to json-glib itself, and to the store. */
  root = parse_file (path);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (root, "profiles")), ==,
                    2 * CONCURRENT_PROFILES);

  store = load_store (path);
  g_assert_cmpuint (doctor_profile_store_get_profiles (store)->len, ==, 2 * CONCURRENT_PROFILES);
  for (guint i = 0; i < CONCURRENT_PROFILES; i++)
    {
      g_autofree char *first_name = g_strdup_printf ("First %u", i);
      g_autofree char *second_name = g_strdup_printf ("Second %u", i);

      g_assert_nonnull (doctor_profile_store_find (store, first_name));
      g_assert_nonnull (doctor_profile_store_find (store, second_name));
    }
  g_assert_cmpuint (file_mode (path), ==, 0600);
}

static void
remove_tree (const char *path)
{
  GDir *dir;

  if (!g_file_test (path, G_FILE_TEST_IS_SYMLINK) && g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      const char *name;

      dir = g_dir_open (path, 0, NULL);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          remove_tree (child);
        }
      g_clear_pointer (&dir, g_dir_close);
      g_rmdir (path);
    }
  else
    {
      g_chmod (path, 0600);
      g_unlink (path);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *config = NULL;
  int status;

  if (argc == 4 && g_str_equal (argv[1], "--concurrent-child"))
    return concurrent_child (argv[2], argv[3]);

  base_dir = g_dir_make_tmp ("test-profiles-XXXXXX", NULL);
  g_assert_nonnull (base_dir);

  /* Before anything asks GLib for it: it keeps the first answer. */
  config = g_build_filename (base_dir, "config", NULL);
  g_setenv ("XDG_CONFIG_HOME", config, TRUE);

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/profiles/round-trip", test_round_trip);
  g_test_add_func ("/profiles/target", test_target);
  g_test_add_func ("/profiles/unknown-fields", test_unknown_fields);
  g_test_add_func ("/profiles/newer-version", test_newer_version);
  g_test_add_func ("/profiles/password-dropped", test_password_dropped);
  g_test_add_func ("/profiles/mode", test_mode);
  g_test_add_func ("/profiles/directory-created", test_directory_created);
  g_test_add_func ("/profiles/default-path", test_default_path);

  for (guint i = 0; i < G_N_ELEMENTS (damaged_cases); i++)
    {
      g_autofree char *test_path = g_strdup_printf ("/profiles/damaged/%s",
                                                    damaged_cases[i].name);

      g_test_add_data_func (test_path, &damaged_cases[i], test_damaged);
    }
  g_test_add_func ("/profiles/damaged/deep", test_damaged_deep);
  g_test_add_func ("/profiles/damaged/large", test_damaged_large);
  g_test_add_func ("/profiles/damaged/directory", test_damaged_directory);
  g_test_add_func ("/profiles/damaged/twice", test_damaged_twice);
  g_test_add_func ("/profiles/damaged/on-save", test_damaged_on_save);

  g_test_add_func ("/profiles/unreadable", test_unreadable);
  g_test_add_func ("/profiles/read-only", test_read_only);
  g_test_add_func ("/profiles/missing", test_missing);
  g_test_add_func ("/profiles/symlink", test_symlink);
  g_test_add_func ("/profiles/put/duplicate-name", test_put_duplicate_name);
  g_test_add_func ("/profiles/put/invalid", test_put_invalid);
  g_test_add_func ("/profiles/remove", test_remove);
  g_test_add_func ("/profiles/find", test_find);
  g_test_add_func ("/profiles/changed", test_changed);
  g_test_add_func ("/profiles/merge", test_merge);
  g_test_add_func ("/profiles/concurrent", test_concurrent);

  status = g_test_run ();

  remove_tree (base_dir);
  g_free (base_dir);

  return status;
}
