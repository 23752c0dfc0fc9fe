/* test-keyring.c: profile passwords in the system keyring (doctor-keyring.c).
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * meson runs this program through run-with-keyring.sh, so the main cases talk to a real,
 * unlocked gnome-keyring-daemon on a private session bus, with HOME in a temporary directory.
 * They store, look up, replace and clear passwords, and check what the keyring holds with
 * libsecret's own search and with secret-tool: one item per profile, the schema's name, and the
 * password in no attribute.
 *
 * The cases where there is no keyring run this program again as a child, with
 * DOCTOR_KEYRING_TEST_CHILD saying what to check, in surroundings made for it: a session bus
 * whose configuration has no service directories (so that nothing can be activated, not even
 * gnome-keyring through its .service file), no session bus at all, a SECRET_BACKEND that does
 * not exist, the file backend without its key; and, through run-with-keyring.sh again, a keyring
 * whose collection is locked and cannot be unlocked. Each child gets an empty HOME, which must
 * still be empty (or hold no file) afterwards.
 */
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

#include "doctor-keyring.h"

#define PASSWORD       "correct horse battery staple \xe2\x9c\x93 42"
#define OTHER_PASSWORD "Tr0ub4dor&3"
#define HOST           "smtp.example.com"
#define USER           "alice@example.com"

/* Every operation must end within this, also when there is no keyring. */
#define OPERATION_MAX_US (5 * G_USEC_PER_SEC)
#define CHILD_MAX_US     (60 * G_USEC_PER_SEC)

#define CHILD_ENV "DOCTOR_KEYRING_TEST_CHILD"

static GMainContext *context;

/* EXPR is TRUE, and ERROR (in scope) unset: the error's message shows when it is not. */
#define assert_ok(expr) \
  G_STMT_START { \
    gboolean ok_ = (expr); \
    g_assert_no_error (error); \
    g_assert_true (ok_); \
  } G_STMT_END

/* Iterates the test's main context until *RESULT is set, failing after OPERATION_MAX_US. */
static void
wait_for (GAsyncResult **result)
{
  gint64 deadline = g_get_monotonic_time () + OPERATION_MAX_US;

  while (*result == NULL)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("A keyring operation took more than %d s",
                 (int)(OPERATION_MAX_US / G_USEC_PER_SEC));
      g_main_context_iteration (context, FALSE);
      if (*result == NULL)
        g_usleep (1000);
    }
}

static void
on_done (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  *slot = g_object_ref (result);
}

static gboolean
store (const char    *uuid,
       const char    *host,
       const char    *user,
       const char    *password,
       GCancellable  *cancellable,
       GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  doctor_keyring_store_async (uuid, host, user, NULL, password, cancellable, on_done, &result);
  wait_for (&result);

  return doctor_keyring_store_finish (result, error);
}

static char *
lookup (const char  *uuid,
        GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  doctor_keyring_lookup_async (uuid, NULL, on_done, &result);
  wait_for (&result);

  return doctor_keyring_lookup_finish (result, error);
}

static gboolean
clear (const char  *uuid,
       GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  doctor_keyring_clear_async (uuid, NULL, on_done, &result);
  wait_for (&result);

  return doctor_keyring_clear_finish (result, error);
}

/* The items of a profile as the keyring has them, found with the schema's name. Not with
 * secret_password_search_sync(), which drops its private main context before GDBus has freed
 * what the proxies of the items found subscribed with: LeakSanitizer reports that. */
static GList *
items_for (const char *uuid)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GList *items;

  secret_password_search (doctor_keyring_get_schema (), SECRET_SEARCH_ALL, NULL, on_done, &result,
                          DOCTOR_KEYRING_ATTRIBUTE_PROFILE_UUID, uuid,
                          NULL);
  wait_for (&result);
  items = secret_password_search_finish (result, &error);
  g_assert_no_error (error);

  return items;
}

static void
assert_no_items (const char *uuid)
{
  GList *items = items_for (uuid);

  g_assert_cmpuint (g_list_length (items), ==, 0);
  g_list_free_full (items, g_object_unref);
}

/* Checks that UUID has exactly one item, for HOST and USER, and that no attribute nor the
 * label holds PASSWORD or a part of it that gives it away. */
static void
assert_one_item (const char *uuid,
                 const char *host,
                 const char *user,
                 const char *password)
{
  GList *items = items_for (uuid);
  g_autoptr(GHashTable) attributes = NULL;
  g_autofree char *label = NULL;
  g_autofree char *head = g_strndup (password, 8);
  GHashTableIter iter;
  gpointer key, value;

  g_assert_cmpuint (g_list_length (items), ==, 1);
  attributes = secret_retrievable_get_attributes (items->data);
  label = secret_retrievable_get_label (items->data);
  g_list_free_full (items, g_object_unref);

  g_assert_cmpstr (g_hash_table_lookup (attributes, "xdg:schema"), ==,
                   "io.github.smtpdoctor.SmtpDoctor.Password");
  g_assert_cmpstr (g_hash_table_lookup (attributes, "profile-uuid"), ==, uuid);
  g_assert_cmpstr (g_hash_table_lookup (attributes, "host"), ==, host);
  g_assert_cmpstr (g_hash_table_lookup (attributes, "user"), ==, user);
  g_assert_cmpuint (g_hash_table_size (attributes), ==, 4);

  g_hash_table_iter_init (&iter, attributes);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_assert_null (strstr (key, head));
      g_assert_null (strstr (value, head));
    }

  g_assert_nonnull (strstr (label, host));
  g_assert_null (strstr (label, head));
}

static char *
new_uuid (void)
{
  return g_uuid_string_random ();
}

static void
test_schema (void)
{
  const SecretSchema *schema = doctor_keyring_get_schema ();

  g_assert_true (schema == doctor_keyring_get_schema ());
  g_assert_cmpstr (schema->name, ==, "io.github.smtpdoctor.SmtpDoctor.Password");
  g_assert_cmpstr (schema->name, ==, DOCTOR_KEYRING_SCHEMA_NAME);
  g_assert_cmpint (schema->flags, ==, SECRET_SCHEMA_NONE);

  g_assert_cmpstr (schema->attributes[0].name, ==, "profile-uuid");
  g_assert_cmpstr (schema->attributes[1].name, ==, "host");
  g_assert_cmpstr (schema->attributes[2].name, ==, "user");
  for (guint i = 0; i < 3; i++)
    g_assert_cmpint (schema->attributes[i].type, ==, SECRET_SCHEMA_ATTRIBUTE_STRING);
  g_assert_null (schema->attributes[3].name);
}

static void
test_store_lookup (void)
{
  g_autofree char *uuid = new_uuid ();
  g_autoptr(GError) error = NULL;
  g_autoptr(DoctorKeyringSecret) password = NULL;

  assert_ok (store (uuid, HOST, USER, PASSWORD, NULL, &error));

  password = lookup (uuid, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, PASSWORD);

  assert_one_item (uuid, HOST, USER, PASSWORD);

  assert_ok (clear (uuid, &error));
}

/* The same view of the item from outside: secret-tool, through the daemon. It prints the
 * secret too, on its own line; no attribute line may hold it. */
static void
test_secret_tool (void)
{
  g_autofree char *secret_tool = g_find_program_in_path ("secret-tool");
  g_autofree char *uuid = new_uuid ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *both = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) error = NULL;
  guint n_attributes = 0;
  gboolean seen_secret = FALSE;
  int status;

  /* dev.sh and .ci/run install libsecret-tools: without it the suite is broken. */
  g_assert_nonnull (secret_tool);

  assert_ok (store (uuid, HOST, USER, PASSWORD, NULL, &error));

  {
    const char *argv[] = { secret_tool, "search", "--all", "profile-uuid", uuid, NULL };

    g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                  &error);
    g_assert_no_error (error);
    g_assert_true (g_spawn_check_wait_status (status, &error));
    g_assert_no_error (error);
  }

  /* Whichever of stdout and stderr secret-tool writes each line to. */
  both = g_strconcat (out, "\n", err, NULL);
  lines = g_strsplit (both, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "secret = "))
        {
          g_assert_cmpstr (lines[i] + strlen ("secret = "), ==, PASSWORD);
          seen_secret = TRUE;
        }
      else if (g_str_has_prefix (lines[i], "attribute."))
        {
          n_attributes++;
          g_assert_null (strstr (lines[i], PASSWORD));
          g_assert_null (strstr (lines[i], "correct horse"));
        }
      else if (g_str_has_prefix (lines[i], "schema = "))
        g_assert_cmpstr (lines[i], ==, "schema = io.github.smtpdoctor.SmtpDoctor.Password");
    }
  g_assert_true (seen_secret);
  g_assert_cmpuint (n_attributes, ==, 3);

  assert_ok (clear (uuid, &error));
}

static void
test_replace (void)
{
  g_autofree char *uuid = new_uuid ();
  g_autoptr(GError) error = NULL;
  char *password;

  assert_ok (store (uuid, HOST, USER, PASSWORD, NULL, &error));
  assert_one_item (uuid, HOST, USER, PASSWORD);

  /* The profile now points at another server and user: one item, with the new attributes. */
  assert_ok (store (uuid, "mail.example.org", "bob", OTHER_PASSWORD, NULL, &error));
  password = lookup (uuid, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, OTHER_PASSWORD);
  doctor_keyring_secret_free (password);
  assert_one_item (uuid, "mail.example.org", "bob", OTHER_PASSWORD);

  /* The same server and user again: still one item. */
  assert_ok (store (uuid, "mail.example.org", "bob", PASSWORD, NULL, &error));
  password = lookup (uuid, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, PASSWORD);
  doctor_keyring_secret_free (password);
  assert_one_item (uuid, "mail.example.org", "bob", PASSWORD);

  assert_ok (clear (uuid, &error));
}

static void
test_clear (void)
{
  g_autofree char *uuid = new_uuid ();
  g_autofree char *other = new_uuid ();
  g_autoptr(GError) error = NULL;
  char *password;

  assert_ok (store (uuid, HOST, USER, PASSWORD, NULL, &error));
  assert_ok (store (other, HOST, USER, OTHER_PASSWORD, NULL, &error));

  assert_ok (clear (uuid, &error));

  password = lookup (uuid, &error);
  g_assert_no_error (error);
  g_assert_null (password);
  assert_no_items (uuid);

  /* Nothing left to clear is no error. */
  assert_ok (clear (uuid, &error));

  /* Another profile on the same server and user keeps its password. */
  password = lookup (other, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, OTHER_PASSWORD);
  doctor_keyring_secret_free (password);

  assert_ok (clear (other, &error));
}

static void
test_unknown (void)
{
  g_autofree char *uuid = new_uuid ();
  g_autoptr(GError) error = NULL;
  char *password;

  password = lookup (uuid, &error);
  g_assert_no_error (error);
  g_assert_null (password);
}

static void
test_sync (void)
{
  g_autofree char *uuid = new_uuid ();
  g_autoptr(GError) error = NULL;
  g_autoptr(DoctorKeyringSecret) password = NULL;
  g_autoptr(DoctorKeyringSecret) none = NULL;

  assert_ok (doctor_keyring_store_sync (uuid, HOST, "", "A label", PASSWORD, NULL, &error));

  password = doctor_keyring_lookup_sync (uuid, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, PASSWORD);

  assert_ok (doctor_keyring_clear_sync (uuid, NULL, &error));

  none = doctor_keyring_lookup_sync (uuid, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (none);
}

static void
test_cancelled (void)
{
  g_autofree char *uuid = new_uuid ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;

  g_cancellable_cancel (cancellable);
  g_assert_false (store (uuid, HOST, USER, PASSWORD, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (doctor_keyring_error_is_cancelled (error));
  g_assert_false (doctor_keyring_error_is_unavailable (error));

  assert_no_items (uuid);
}

/* Children. */

static void
assert_error_quickly (GError     *error,
                      gint64      started,
                      int         code,
                      const char *summary_start)
{
  g_assert_error (error, DOCTOR_KEYRING_ERROR, code);
  g_assert_cmpint (g_get_monotonic_time () - started, <, OPERATION_MAX_US);
  g_assert_true (g_str_has_prefix (error->message, summary_start));
  g_test_message ("%s", error->message);
}

/* No Secret Service, no bus or no backend: every operation says UNAVAILABLE, quickly. */
static void
test_child_unavailable (void)
{
  g_autoptr(GError) error = NULL;
  gint64 started;
  char *password;

  started = g_get_monotonic_time ();
  g_assert_false (store ("5c1c3d56-1f0e-4c36-9d3f-c8f6ee7e2d61", HOST, USER, PASSWORD, NULL,
                         &error));
  assert_error_quickly (error, started, DOCTOR_KEYRING_ERROR_UNAVAILABLE,
                        "Passwords cannot be saved: ");
  g_assert_true (doctor_keyring_error_is_unavailable (error));
  g_assert_false (doctor_keyring_error_is_cancelled (error));
  g_assert_null (strstr (error->message, PASSWORD));
  g_clear_error (&error);

  /* Not "not stored": the keyring could not say. */
  started = g_get_monotonic_time ();
  password = lookup ("5c1c3d56-1f0e-4c36-9d3f-c8f6ee7e2d61", &error);
  g_assert_null (password);
  assert_error_quickly (error, started, DOCTOR_KEYRING_ERROR_UNAVAILABLE,
                        "Saved passwords cannot be read: ");
  g_clear_error (&error);

  started = g_get_monotonic_time ();
  g_assert_false (clear ("5c1c3d56-1f0e-4c36-9d3f-c8f6ee7e2d61", &error));
  assert_error_quickly (error, started, DOCTOR_KEYRING_ERROR_UNAVAILABLE,
                        "The saved password cannot be removed: ");
  g_clear_error (&error);

  /* The synchronous wrappers say the same. */
  g_assert_false (doctor_keyring_store_sync ("5c1c3d56-1f0e-4c36-9d3f-c8f6ee7e2d61", HOST, USER,
                                             NULL, PASSWORD, NULL, &error));
  g_assert_error (error, DOCTOR_KEYRING_ERROR, DOCTOR_KEYRING_ERROR_UNAVAILABLE);
}

static void
lock_default_collection (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_autoptr(GVariant) alias = NULL;
  g_autoptr(GVariant) locked = NULL;
  const char *path;
  const char *paths[2] = { NULL, NULL };

  g_assert_no_error (error);
  alias = g_dbus_connection_call_sync (bus, "org.freedesktop.secrets", "/org/freedesktop/secrets",
                                       "org.freedesktop.Secret.Service", "ReadAlias",
                                       g_variant_new ("(s)", "default"), G_VARIANT_TYPE ("(o)"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (alias, "(&o)", &path);
  paths[0] = path;

  locked = g_dbus_connection_call_sync (bus, "org.freedesktop.secrets", "/org/freedesktop/secrets",
                                        "org.freedesktop.Secret.Service", "Lock",
                                        g_variant_new ("(^ao)", paths), G_VARIANT_TYPE ("(aoo)"),
                                        G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
}

/* A locked collection whose unlock prompt cannot be shown (no prompter on this bus): LOCKED,
 * never "not stored", and the stored item is still there afterwards. */
static void
test_child_locked (void)
{
  g_autofree char *uuid = new_uuid ();
  g_autoptr(GError) error = NULL;
  gint64 started;
  char *password;
  GList *items;

  assert_ok (store (uuid, HOST, USER, PASSWORD, NULL, &error));
  lock_default_collection ();

  started = g_get_monotonic_time ();
  password = lookup (uuid, &error);
  g_assert_null (password);
  assert_error_quickly (error, started, DOCTOR_KEYRING_ERROR_LOCKED,
                        "The saved password cannot be read: the keyring is locked");
  g_assert_false (doctor_keyring_error_is_unavailable (error));
  g_clear_error (&error);

  started = g_get_monotonic_time ();
  g_assert_false (store (uuid, HOST, USER, OTHER_PASSWORD, NULL, &error));
  assert_error_quickly (error, started, DOCTOR_KEYRING_ERROR_LOCKED,
                        "The password was not saved: the keyring is locked");
  g_clear_error (&error);

  started = g_get_monotonic_time ();
  g_assert_false (clear (uuid, &error));
  assert_error_quickly (error, started, DOCTOR_KEYRING_ERROR_LOCKED,
                        "The saved password was not removed: the keyring is locked");
  g_clear_error (&error);

  /* Nothing lost. */
  items = items_for (uuid);
  g_assert_cmpuint (g_list_length (items), ==, 1);
  g_list_free_full (items, g_object_unref);
}

/* Fails if anything but (with ALLOW_DIRECTORIES) empty directories is under PATH. */
static void
check_home (const char *path,
            gboolean    allow_directories)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (allow_directories && g_file_test (child, G_FILE_TEST_IS_DIR) &&
          !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        {
          check_home (child, allow_directories);
          continue;
        }

      g_error ("The keyring code wrote %s", child);
    }
}

static void
remove_tree (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileEnumerator) children = NULL;
  GFileInfo *info;

  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                        G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  while (children != NULL &&
         g_file_enumerator_iterate (children, &info, NULL, NULL, NULL) && info != NULL)
    {
      g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);

      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

/* A session bus configuration without service directories: nothing can be activated on it. */
static char *
write_bus_config (const char *dir)
{
  g_autofree char *config = g_strdup_printf (
    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
    "<busconfig>\n"
    "  <type>session</type>\n"
    "  <listen>unix:dir=%s</listen>\n"
    "  <auth>EXTERNAL</auth>\n"
    "  <policy context=\"default\">\n"
    "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
    "    <allow eavesdrop=\"true\"/>\n"
    "    <allow own=\"*\"/>\n"
    "  </policy>\n"
    "</busconfig>\n", dir);
  char *path = g_build_filename (dir, "session.conf", NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, config, -1, &error);
  g_assert_no_error (error);

  return path;
}

typedef enum
{
  CHILD_BUS_PRIVATE,    /* dbus-run-session with write_bus_config () */
  CHILD_BUS_MISSING,    /* DBUS_SESSION_BUS_ADDRESS names a socket that does not exist */
  CHILD_BUS_NONE,       /* no address, no X11 display to autolaunch one */
  CHILD_BUS_KEYRING,    /* run-with-keyring.sh */
} ChildBus;

/* Runs this program again in MODE, on BUS, with ENV_CHANGES ("NAME=value" sets, "NAME"
 * unsets), HOME and the XDG directories in a fresh temporary directory, and checks that it
 * passed and that HOME is as check_home() wants it. */
static void
run_child (const char         *mode,
           ChildBus            bus,
           const char *const  *env_changes,
           gboolean            allow_directories)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("test-keyring-XXXXXX", &error);
  g_autofree char *home = NULL;
  g_autofree char *runtime = NULL;
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *output = NULL;
  g_auto(GStrv) lines = NULL;
  gint64 started;

  g_assert_no_error (error);
  g_assert_nonnull (self);
  home = g_build_filename (tmp, "home", NULL);
  runtime = g_build_filename (tmp, "runtime", NULL);
  g_assert_cmpint (g_mkdir (home, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (runtime, 0700), ==, 0);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_setenv (launcher, CHILD_ENV, mode, TRUE);
  g_subprocess_launcher_setenv (launcher, "HOME", home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", runtime, TRUE);
  {
    g_autofree char *data = g_build_filename (home, ".local", "share", NULL);
    g_autofree char *config = g_build_filename (home, ".config", NULL);
    g_autofree char *cache = g_build_filename (home, ".cache", NULL);

    g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data, TRUE);
    g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", config, TRUE);
    g_subprocess_launcher_setenv (launcher, "XDG_CACHE_HOME", cache, TRUE);
  }
  g_subprocess_launcher_unsetenv (launcher, "SECRET_BACKEND");
  g_subprocess_launcher_unsetenv (launcher, "DISPLAY");
  g_subprocess_launcher_unsetenv (launcher, "WAYLAND_DISPLAY");
  g_subprocess_launcher_unsetenv (launcher, "GNOME_KEYRING_CONTROL");

  switch (bus)
    {
    case CHILD_BUS_PRIVATE:
      {
        g_autofree char *dbus_run_session = g_find_program_in_path ("dbus-run-session");
        g_autofree char *config = write_bus_config (tmp);

        g_assert_nonnull (dbus_run_session);
        g_subprocess_launcher_unsetenv (launcher, "DBUS_SESSION_BUS_ADDRESS");
        g_ptr_array_add (argv, g_steal_pointer (&dbus_run_session));
        g_ptr_array_add (argv, g_strconcat ("--config-file=", config, NULL));
        g_ptr_array_add (argv, g_strdup ("--"));
      }
      break;

    case CHILD_BUS_MISSING:
      {
        g_autofree char *address = g_strdup_printf ("unix:path=%s/no-bus-here", tmp);

        g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS", address, TRUE);
      }
      break;

    case CHILD_BUS_NONE:
      g_subprocess_launcher_unsetenv (launcher, "DBUS_SESSION_BUS_ADDRESS");
      break;

    case CHILD_BUS_KEYRING:
      g_ptr_array_add (argv, g_test_build_filename (G_TEST_DIST, "run-with-keyring.sh", NULL));
      break;

    default:
      g_assert_not_reached ();
    }

  for (guint i = 0; env_changes != NULL && env_changes[i] != NULL; i++)
    {
      const char *eq = strchr (env_changes[i], '=');

      if (eq != NULL)
        {
          g_autofree char *name = g_strndup (env_changes[i], eq - env_changes[i]);

          g_subprocess_launcher_setenv (launcher, name, eq + 1, TRUE);
        }
      else
        g_subprocess_launcher_unsetenv (launcher, env_changes[i]);
    }

  g_ptr_array_add (argv, g_strdup (self));
  g_ptr_array_add (argv, g_strdup ("--tap"));
  g_ptr_array_add (argv, NULL);

  started = g_get_monotonic_time ();
  child = g_subprocess_launcher_spawnv (launcher, (const char *const *)argv->pdata, &error);
  g_assert_no_error (error);

  g_subprocess_communicate_utf8_async (child, NULL, NULL, on_done, &result);
  while (result == NULL)
    {
      if (g_get_monotonic_time () - started > CHILD_MAX_US)
        {
          g_subprocess_force_exit (child);
          g_error ("The %s child did not finish in time", mode);
        }
      g_main_context_iteration (context, FALSE);
      if (result == NULL)
        g_usleep (1000);
    }
  g_subprocess_communicate_utf8_finish (child, result, &output, NULL, &error);
  g_assert_no_error (error);

  lines = g_strsplit (output, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (*lines[i] != '\0')
      g_test_message ("%s child: %s", mode, lines[i]);

  g_assert_true (g_subprocess_get_if_exited (child));
  g_assert_cmpint (g_subprocess_get_exit_status (child), ==, 0);
  g_assert_nonnull (strstr (output, "ok 1 "));
  g_assert_null (strstr (output, "not ok"));

  /* run-with-keyring.sh makes a HOME of its own, and removes it. */
  if (bus != CHILD_BUS_KEYRING)
    check_home (home, allow_directories);
  remove_tree (tmp);
}

static void
test_no_service (void)
{
  run_child ("unavailable", CHILD_BUS_PRIVATE, NULL, FALSE);
}

static void
test_no_bus (void)
{
  run_child ("unavailable", CHILD_BUS_MISSING, NULL, FALSE);
}

static void
test_no_bus_address (void)
{
  run_child ("unavailable", CHILD_BUS_NONE, NULL, FALSE);
}

static void
test_unknown_backend (void)
{
  const char *const env[] = { "SECRET_BACKEND=no-such-backend", NULL };

  run_child ("unavailable", CHILD_BUS_PRIVATE, env, FALSE);
}

/* The file backend without the Secret portal and without a test password: libsecret creates
 * the keyrings directory, but no file may appear. */
static void
test_file_backend_without_key (void)
{
  const char *const env[] = { "SECRET_BACKEND=file", "SECRET_FILE_TEST_PASSWORD",
                              "SECRET_FILE_TEST_PATH", NULL };

  run_child ("unavailable", CHILD_BUS_PRIVATE, env, TRUE);
}

static void
test_locked (void)
{
  run_child ("locked", CHILD_BUS_KEYRING, NULL, FALSE);
}

int
main (int    argc,
      char **argv)
{
  const char *child = g_getenv (CHILD_ENV);
  int ret;

  g_test_init (&argc, &argv, NULL);

  context = g_main_context_new ();
  g_main_context_push_thread_default (context);

  if (g_strcmp0 (child, "unavailable") == 0)
    {
      g_test_add_func ("/keyring/child/unavailable", test_child_unavailable);
    }
  else if (g_strcmp0 (child, "locked") == 0)
    {
      g_test_add_func ("/keyring/child/locked", test_child_locked);
    }
  else
    {
      g_test_add_func ("/keyring/schema", test_schema);
      g_test_add_func ("/keyring/store-lookup", test_store_lookup);
      g_test_add_func ("/keyring/secret-tool", test_secret_tool);
      g_test_add_func ("/keyring/replace", test_replace);
      g_test_add_func ("/keyring/clear", test_clear);
      g_test_add_func ("/keyring/unknown", test_unknown);
      g_test_add_func ("/keyring/sync", test_sync);
      g_test_add_func ("/keyring/cancelled", test_cancelled);
      g_test_add_func ("/keyring/unavailable/no-service", test_no_service);
      g_test_add_func ("/keyring/unavailable/no-bus", test_no_bus);
      g_test_add_func ("/keyring/unavailable/no-bus-address", test_no_bus_address);
      g_test_add_func ("/keyring/unavailable/unknown-backend", test_unknown_backend);
      g_test_add_func ("/keyring/unavailable/file-backend-without-key",
                       test_file_backend_without_key);
      g_test_add_func ("/keyring/locked", test_locked);
    }

  ret = g_test_run ();

  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);

  return ret;
}
