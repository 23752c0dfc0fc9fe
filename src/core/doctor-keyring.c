/* doctor-keyring.c: profile passwords in the system keyring (libsecret).
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The operations run libsecret's simple password API, which picks the backend itself (the
 * Secret Service on the session bus, or the file backend inside Flatpak), and map what comes
 * back to DOCTOR_KEYRING_ERROR. With the Secret Service the session bus is got first, so that
 * "there is no session bus" is told apart from other GIO errors; after that, the D-Bus errors
 * that say nobody owns org.freedesktop.secrets mean UNAVAILABLE too.
 *
 * Two details of GNOME Keyring shape the code:
 *
 * - A collection that has been locked since the daemon loaded it only knows hashed attributes
 *   and not the schema name, so a search that includes xdg:schema finds nothing in it, and
 *   libsecret then neither prompts to unlock nor reports an error: the password looks "not
 *   stored" (gnome-keyring#89, the reason GNOME Calls matches without the name). Items are
 *   written with the schema's name, but they are found by the profile UUID alone, through a
 *   twin of the schema with SECRET_SCHEMA_DONT_MATCH_NAME. A UUID cannot belong to another
 *   application's item.
 * - A lookup whose unlock prompt is dismissed or cannot be shown also returns nothing without
 *   an error. So a lookup that finds nothing searches once more, without unlocking: an item
 *   that exists but could not be read means LOCKED, not "not stored". Likewise a clear that
 *   leaves an item behind.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "doctor-keyring.h"

G_DEFINE_QUARK (doctor-keyring-error-quark, doctor_keyring_error)

typedef enum
{
  OPERATION_STORE,
  OPERATION_LOOKUP,
  OPERATION_CLEAR,
} Operation;

/* Why a keyring is unavailable, for the sentence that says so. */
typedef enum
{
  UNAVAILABLE_NO_SERVICE,
  UNAVAILABLE_NO_COLLECTION,
} UnavailableKind;

typedef struct
{
  Operation  operation;
  char      *profile_uuid;
  char      *host;
  char      *user;
  char      *label;
  char      *password;    /* wiped before it is freed */
  GList     *stale;       /* (element-type GHashTable): items to remove after a store */
} KeyringData;

static void
keyring_data_free (KeyringData *data)
{
  g_free (data->profile_uuid);
  g_free (data->host);
  g_free (data->user);
  g_free (data->label);
  if (data->password != NULL)
    secret_password_wipe (data->password);
  g_free (data->password);
  g_list_free_full (data->stale, (GDestroyNotify)g_hash_table_unref);
  g_free (data);
}

const SecretSchema *
doctor_keyring_get_schema (void)
{
  static const SecretSchema schema = {
    DOCTOR_KEYRING_SCHEMA_NAME, SECRET_SCHEMA_NONE,
    {
      { DOCTOR_KEYRING_ATTRIBUTE_PROFILE_UUID, SECRET_SCHEMA_ATTRIBUTE_STRING },
      { DOCTOR_KEYRING_ATTRIBUTE_HOST, SECRET_SCHEMA_ATTRIBUTE_STRING },
      { DOCTOR_KEYRING_ATTRIBUTE_USER, SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    }
  };

  return &schema;
}

/* The same attributes, for finding items: see the top of this file. */
static const SecretSchema *
get_match_schema (void)
{
  static const SecretSchema schema = {
    DOCTOR_KEYRING_SCHEMA_NAME, SECRET_SCHEMA_DONT_MATCH_NAME,
    {
      { DOCTOR_KEYRING_ATTRIBUTE_PROFILE_UUID, SECRET_SCHEMA_ATTRIBUTE_STRING },
      { DOCTOR_KEYRING_ATTRIBUTE_HOST, SECRET_SCHEMA_ATTRIBUTE_STRING },
      { DOCTOR_KEYRING_ATTRIBUTE_USER, SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    }
  };

  return &schema;
}

/* The attribute tables borrow their strings from the task data. */
static GHashTable *
uuid_attributes (KeyringData *data)
{
  GHashTable *attributes = g_hash_table_new (g_str_hash, g_str_equal);

  g_hash_table_insert (attributes, (char *)DOCTOR_KEYRING_ATTRIBUTE_PROFILE_UUID,
                       data->profile_uuid);

  return attributes;
}

static GHashTable *
item_attributes (const char *profile_uuid,
                 const char *host,
                 const char *user)
{
  GHashTable *attributes = g_hash_table_new (g_str_hash, g_str_equal);

  g_hash_table_insert (attributes, (char *)DOCTOR_KEYRING_ATTRIBUTE_PROFILE_UUID,
                       (char *)profile_uuid);
  g_hash_table_insert (attributes, (char *)DOCTOR_KEYRING_ATTRIBUTE_HOST, (char *)host);
  g_hash_table_insert (attributes, (char *)DOCTOR_KEYRING_ATTRIBUTE_USER, (char *)user);

  return attributes;
}

static const char *
unavailable_summary (Operation       operation,
                     UnavailableKind kind)
{
  switch (operation)
    {
    case OPERATION_STORE:
      return kind == UNAVAILABLE_NO_COLLECTION
        ? _("Passwords cannot be saved: the keyring has no collection to keep them in. The "
            "password will be used for this session only.")
        : _("Passwords cannot be saved: no keyring (Secret Service) is running on this "
            "system. The password will be used for this session only.");

    case OPERATION_LOOKUP:
      return kind == UNAVAILABLE_NO_COLLECTION
        ? _("Saved passwords cannot be read: the keyring has no collection to keep them in. "
            "Enter the password to use it for this session.")
        : _("Saved passwords cannot be read: no keyring (Secret Service) is running on this "
            "system. Enter the password to use it for this session.");

    case OPERATION_CLEAR:
      return kind == UNAVAILABLE_NO_COLLECTION
        ? _("The saved password cannot be removed: the keyring has no collection to keep it "
            "in.")
        : _("The saved password cannot be removed: no keyring (Secret Service) is running on "
            "this system.");

    default:
      g_return_val_if_reached ("");
    }
}

static const char *
summary (Operation          operation,
         DoctorKeyringError code,
         UnavailableKind    kind)
{
  if (code == DOCTOR_KEYRING_ERROR_UNAVAILABLE)
    return unavailable_summary (operation, kind);

  switch (operation)
    {
    case OPERATION_STORE:
      switch (code)
        {
        case DOCTOR_KEYRING_ERROR_LOCKED:
          return _("The password was not saved: the keyring is locked and was not unlocked. "
                   "The password will be used for this session only.");
        case DOCTOR_KEYRING_ERROR_CANCELLED:
          return _("The password was not saved because the keyring prompt was dismissed. The "
                   "password will be used for this session only.");
        default:
          return _("The password could not be saved in the keyring. The password will be used "
                   "for this session only.");
        }

    case OPERATION_LOOKUP:
      switch (code)
        {
        case DOCTOR_KEYRING_ERROR_LOCKED:
          return _("The saved password cannot be read: the keyring is locked and was not "
                   "unlocked. Enter the password to use it for this session.");
        case DOCTOR_KEYRING_ERROR_CANCELLED:
          return _("The saved password was not read because the keyring prompt was dismissed. "
                   "Enter the password to use it for this session.");
        default:
          return _("The saved password could not be read from the keyring. Enter the password "
                   "to use it for this session.");
        }

    case OPERATION_CLEAR:
      switch (code)
        {
        case DOCTOR_KEYRING_ERROR_LOCKED:
          return _("The saved password was not removed: the keyring is locked and was not "
                   "unlocked.");
        case DOCTOR_KEYRING_ERROR_CANCELLED:
          return _("The saved password was not removed because the keyring prompt was "
                   "dismissed.");
        default:
          return _("The saved password could not be removed from the keyring.");
        }

    default:
      g_return_val_if_reached ("");
    }
}

/* Which backend libsecret picks (libsecret/secret-backend.c): the file backend inside Flatpak
 * or Snap when the Secret portal is there, otherwise the one SECRET_BACKEND names, "service" by
 * default. Only the Secret Service needs the session bus for certain. */
static gboolean
uses_service_backend (void)
{
  const char *backend = g_getenv ("SECRET_BACKEND");

  if (g_file_test ("/.flatpak-info", G_FILE_TEST_EXISTS) || g_getenv ("SNAP_NAME") != NULL)
    return FALSE;

  return backend == NULL || *backend == '\0' || g_str_equal (backend, "service");
}

/* An error that means nobody provides the Secret Service (or the file backend's key), or the
 * bus went away. */
static gboolean
is_no_service_error (const GError *error)
{
  if (error->domain == G_DBUS_ERROR)
    {
      switch (error->code)
        {
        case G_DBUS_ERROR_SERVICE_UNKNOWN:
        case G_DBUS_ERROR_NAME_HAS_NO_OWNER:
        case G_DBUS_ERROR_NO_SERVER:
        case G_DBUS_ERROR_DISCONNECTED:
        case G_DBUS_ERROR_SPAWN_EXEC_FAILED:
        case G_DBUS_ERROR_SPAWN_FORK_FAILED:
        case G_DBUS_ERROR_SPAWN_CHILD_EXITED:
        case G_DBUS_ERROR_SPAWN_CHILD_SIGNALED:
        case G_DBUS_ERROR_SPAWN_FAILED:
        case G_DBUS_ERROR_SPAWN_SETUP_FAILED:
        case G_DBUS_ERROR_SPAWN_CONFIG_INVALID:
        case G_DBUS_ERROR_SPAWN_SERVICE_INVALID:
        case G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND:
        case G_DBUS_ERROR_SPAWN_PERMISSIONS_INVALID:
        case G_DBUS_ERROR_SPAWN_FILE_INVALID:
        case G_DBUS_ERROR_SPAWN_NO_MEMORY:
          return TRUE;
        default:
          return FALSE;
        }
    }

  /* The bus connection closed under libsecret; or, from the file backend, "master password is
   * not retrievable": neither the Secret portal nor SECRET_FILE_TEST_PASSWORD is there. */
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) ||
         (!uses_service_backend () &&
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT));
}

/* A service that is there but has no collection (or not the interfaces) to use: GNOME Keyring
 * without a login keyring, whose prompt to create one could not be shown, answers with an
 * object that does not exist. */
static gboolean
is_no_collection_error (Operation     operation,
                        const GError *error)
{
  return g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD) ||
         (operation == OPERATION_STORE &&
          g_error_matches (error, SECRET_ERROR, SECRET_ERROR_NO_SUCH_OBJECT));
}

/* A DOCTOR_KEYRING_ERROR for CAUSE, whose message it keeps after the sentence for people.
 * CONNECTING says that CAUSE came from getting the session bus: then there is no usable
 * keyring, whatever the cause. */
static GError *
keyring_error_new (Operation     operation,
                   const GError *cause,
                   gboolean      connecting)
{
  DoctorKeyringError code = DOCTOR_KEYRING_ERROR_FAILED;
  UnavailableKind kind = UNAVAILABLE_NO_SERVICE;
  g_autoptr(GError) stripped = g_error_copy (cause);
  GError *error;

  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    code = DOCTOR_KEYRING_ERROR_CANCELLED;
  else if (connecting || is_no_service_error (cause))
    code = DOCTOR_KEYRING_ERROR_UNAVAILABLE;
  else if (is_no_collection_error (operation, cause))
    {
      code = DOCTOR_KEYRING_ERROR_UNAVAILABLE;
      kind = UNAVAILABLE_NO_COLLECTION;
    }
  else if (g_error_matches (cause, SECRET_ERROR, SECRET_ERROR_IS_LOCKED))
    code = DOCTOR_KEYRING_ERROR_LOCKED;

  g_dbus_error_strip_remote_error (stripped);
  error = g_error_new_literal (DOCTOR_KEYRING_ERROR, code, stripped->message);
  g_prefix_error (&error, "%s ", summary (operation, code, kind));

  return error;
}

/* Takes ERROR. A cancel through the caller's cancellable stays G_IO_ERROR_CANCELLED; a cancel
 * that the caller did not ask for is a dismissed prompt. */
static void
return_error (GTask    *task,
              GError   *error,
              gboolean  connecting)
{
  KeyringData *data = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
      g_cancellable_is_cancelled (cancellable))
    {
      g_task_return_error (task, error);
      return;
    }

  g_task_return_error (task, keyring_error_new (data->operation, error, connecting));
  g_error_free (error);
}

/* libsecret warns and never completes when SECRET_BACKEND names a backend it does not have, so
 * that is checked first. Inside Flatpak the variable only counts when the portal is missing. */
static gboolean
check_backend_setting (GError **error)
{
  const char *backend = g_getenv ("SECRET_BACKEND");

  if (backend == NULL || *backend == '\0' ||
      g_str_equal (backend, "service") || g_str_equal (backend, "file"))
    return TRUE;

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "SECRET_BACKEND is “%s”; libsecret knows “service” and “file”", backend);
  return FALSE;
}

static GTask *
keyring_task_new (Operation            operation,
                  const char          *profile_uuid,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data,
                  gpointer             source_tag)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  KeyringData *data = g_new0 (KeyringData, 1);

  data->operation = operation;
  data->profile_uuid = g_strdup (profile_uuid);
  g_task_set_task_data (task, data, (GDestroyNotify)keyring_data_free);
  g_task_set_source_tag (task, source_tag);

  return task;
}

/* Store: store the new item, then remove the profile's items with another host or user. */

static void clear_next_stale (GTask *task);

static void
on_stale_cleared (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  /* The new password is stored, so this is no failure of the store. An old item left behind
   * (it would have to be in another collection, locked now) goes at the next store. */
  if (!secret_password_clear_finish (result, &error) && error != NULL)
    g_debug ("Could not remove an old keyring item: %s", error->message);

  clear_next_stale (g_steal_pointer (&task));
}

/* Takes TASK. */
static void
clear_next_stale (GTask *task)
{
  KeyringData *data = g_task_get_task_data (task);
  GHashTable *attributes;

  if (data->stale == NULL)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }

  attributes = data->stale->data;
  data->stale = g_list_delete_link (data->stale, data->stale);

  secret_password_clearv (get_match_schema (), attributes, g_task_get_cancellable (task),
                          on_stale_cleared, task);
  g_hash_table_unref (attributes);
}

static void
on_store_searched (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  KeyringData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GList *items;

  items = secret_password_search_finish (result, &error);
  if (error != NULL)
    g_debug ("Could not look for old keyring items: %s", error->message);

  for (GList *l = items; l != NULL; l = l->next)
    {
      g_autoptr(GHashTable) found = secret_retrievable_get_attributes (l->data);
      const char *host = g_hash_table_lookup (found, DOCTOR_KEYRING_ATTRIBUTE_HOST);
      const char *user = g_hash_table_lookup (found, DOCTOR_KEYRING_ATTRIBUTE_USER);
      GHashTable *stale;

      /* The new item itself stays. So does one whose attributes a locked collection hides
       * (only hashed ones are shown): it cannot be told apart from the new item. */
      if (host == NULL || user == NULL ||
          (g_str_equal (host, data->host) && g_str_equal (user, data->user)))
        continue;

      /* Only the schema's attributes: libsecret checks them against the schema. */
      stale = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
      g_hash_table_insert (stale, (char *)DOCTOR_KEYRING_ATTRIBUTE_PROFILE_UUID,
                           g_strdup (data->profile_uuid));
      g_hash_table_insert (stale, (char *)DOCTOR_KEYRING_ATTRIBUTE_HOST, g_strdup (host));
      g_hash_table_insert (stale, (char *)DOCTOR_KEYRING_ATTRIBUTE_USER, g_strdup (user));
      data->stale = g_list_prepend (data->stale, stale);
    }
  g_list_free_full (items, g_object_unref);

  clear_next_stale (g_steal_pointer (&task));
}

static void
on_stored (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  KeyringData *data = g_task_get_task_data (task);
  g_autoptr(GHashTable) attributes = uuid_attributes (data);
  GCancellable *cancellable;
  GError *error = NULL;

  if (!secret_password_store_finish (result, &error))
    {
      return_error (task, error, FALSE);
      return;
    }

  /* From here on the password is stored, and a cancel cannot make that untrue. */
  g_task_set_check_cancellable (task, FALSE);

  cancellable = g_task_get_cancellable (task);
  secret_password_searchv (get_match_schema (), attributes, SECRET_SEARCH_ALL, cancellable,
                           on_store_searched, g_steal_pointer (&task));
}

/* Takes TASK. */
static void
start_store (GTask *task)
{
  KeyringData *data = g_task_get_task_data (task);
  g_autoptr(GHashTable) attributes = item_attributes (data->profile_uuid, data->host,
                                                      data->user);

  secret_password_storev (doctor_keyring_get_schema (), attributes, SECRET_COLLECTION_DEFAULT,
                          data->label, data->password, g_task_get_cancellable (task),
                          on_stored, task);
}

/* Lookup: a NULL password with no error is "not stored" only if no item is there at all. */

static void
on_lookup_searched (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  GList *items;

  items = secret_password_search_finish (result, &error);
  if (error != NULL)
    {
      return_error (task, error, FALSE);
      return;
    }

  if (items != NULL)
    {
      g_list_free_full (items, g_object_unref);
      return_error (task, g_error_new_literal (SECRET_ERROR, SECRET_ERROR_IS_LOCKED,
                                               "The item is in a locked collection"),
                    FALSE);
      return;
    }

  g_task_return_pointer (task, NULL, NULL);
}

static void
on_looked_up (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  KeyringData *data = g_task_get_task_data (task);
  g_autoptr(GHashTable) attributes = uuid_attributes (data);
  GCancellable *cancellable;
  GError *error = NULL;
  char *password;

  password = secret_password_lookup_finish (result, &error);
  if (error != NULL)
    {
      return_error (task, error, FALSE);
      return;
    }

  if (password != NULL)
    {
      g_task_return_pointer (task, password, (GDestroyNotify)secret_password_free);
      return;
    }

  cancellable = g_task_get_cancellable (task);
  secret_password_searchv (get_match_schema (), attributes, SECRET_SEARCH_ALL, cancellable,
                           on_lookup_searched, g_steal_pointer (&task));
}

/* Takes TASK. */
static void
start_lookup (GTask *task)
{
  KeyringData *data = g_task_get_task_data (task);
  g_autoptr(GHashTable) attributes = uuid_attributes (data);

  secret_password_lookupv (get_match_schema (), attributes, g_task_get_cancellable (task),
                           on_looked_up, task);
}

/* Clear: done when no item of the profile is left. */

static void
on_clear_searched (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  GList *items;

  items = secret_password_search_finish (result, &error);
  if (error != NULL)
    {
      return_error (task, error, FALSE);
      return;
    }

  if (items != NULL)
    {
      g_list_free_full (items, g_object_unref);
      return_error (task, g_error_new_literal (SECRET_ERROR, SECRET_ERROR_IS_LOCKED,
                                               "The item is in a locked collection"),
                    FALSE);
      return;
    }

  g_task_return_boolean (task, TRUE);
}

static void
on_cleared (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  KeyringData *data = g_task_get_task_data (task);
  g_autoptr(GHashTable) attributes = uuid_attributes (data);
  GCancellable *cancellable;
  GError *error = NULL;

  /* FALSE without an error: nothing was deleted, which the search below explains. */
  if (!secret_password_clear_finish (result, &error) && error != NULL)
    {
      return_error (task, error, FALSE);
      return;
    }

  cancellable = g_task_get_cancellable (task);
  secret_password_searchv (get_match_schema (), attributes, SECRET_SEARCH_ALL, cancellable,
                           on_clear_searched, g_steal_pointer (&task));
}

/* Takes TASK. */
static void
start_clear (GTask *task)
{
  KeyringData *data = g_task_get_task_data (task);
  g_autoptr(GHashTable) attributes = uuid_attributes (data);

  secret_password_clearv (get_match_schema (), attributes, g_task_get_cancellable (task),
                          on_cleared, task);
}

/* Takes TASK. */
static void
start_operation (GTask *task)
{
  KeyringData *data = g_task_get_task_data (task);

  switch (data->operation)
    {
    case OPERATION_STORE:
      start_store (task);
      break;

    case OPERATION_LOOKUP:
      start_lookup (task);
      break;

    case OPERATION_CLEAR:
      start_clear (task);
      break;

    default:
      g_assert_not_reached ();
    }
}

static void
on_session_bus (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GDBusConnection) bus = NULL;
  GError *error = NULL;

  /* libsecret asks GIO for the same shared connection afterwards. */
  bus = g_bus_get_finish (result, &error);
  if (bus == NULL)
    {
      return_error (task, error, TRUE);
      return;
    }

  start_operation (g_steal_pointer (&task));
}

/* Takes TASK. With the Secret Service, no session bus (none running, no address, one that
 * cannot be autolaunched) is told apart first: libsecret's errors for it are plain GIO errors
 * that could mean anything. */
static void
start (GTask *task)
{
  GError *error = NULL;

  if (!check_backend_setting (&error))
    {
      return_error (task, error, TRUE);
      g_object_unref (task);
      return;
    }

  if (uses_service_backend ())
    g_bus_get (G_BUS_TYPE_SESSION, g_task_get_cancellable (task), on_session_bus, task);
  else
    start_operation (task);
}

/**
 * doctor_keyring_store_async:
 * @profile_uuid: the profile's UUID, which finds the item
 * @host: (not nullable): the server, an attribute of the item ("" if none)
 * @user: (not nullable): the user name, an attribute of the item ("" if none)
 * @label: (nullable): what Seahorse shows, or %NULL for one made of @user and @host
 * @password: the password, the item's secret and nothing else
 *
 * Stores @password in the default collection, replacing what was stored for @profile_uuid,
 * also under another host or user.
 */
void
doctor_keyring_store_async (const char          *profile_uuid,
                            const char          *host,
                            const char          *user,
                            const char          *label,
                            const char          *password,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  GTask *task;
  KeyringData *data;

  g_return_if_fail (profile_uuid != NULL && *profile_uuid != '\0');
  g_return_if_fail (host != NULL);
  g_return_if_fail (user != NULL);
  g_return_if_fail (password != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = keyring_task_new (OPERATION_STORE, profile_uuid, cancellable, callback, user_data,
                           doctor_keyring_store_async);
  data = g_task_get_task_data (task);
  data->host = g_strdup (host);
  data->user = g_strdup (user);
  data->password = g_strdup (password);

  if (label != NULL && *label != '\0')
    data->label = g_strdup (label);
  else if (*user != '\0' && *host != '\0')
    /* Translators: the label of a keyring item, as Seahorse shows it: user, then server. */
    data->label = g_strdup_printf (_("SMTP Doctor password for %s on %s"), user, host);
  else if (*host != '\0')
    data->label = g_strdup_printf (_("SMTP Doctor password for %s"), host);
  else
    data->label = g_strdup (_("SMTP Doctor password"));

  start (task);
}

/**
 * doctor_keyring_store_finish:
 *
 * Returns: %TRUE if the password is stored; otherwise %FALSE with @error set, and nothing of
 *   the password was written anywhere.
 */
gboolean
doctor_keyring_store_finish (GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == doctor_keyring_store_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * doctor_keyring_lookup_async:
 * @profile_uuid: the profile's UUID
 *
 * Reads the password stored for @profile_uuid. The keyring may prompt to unlock a collection.
 */
void
doctor_keyring_lookup_async (const char          *profile_uuid,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (profile_uuid != NULL && *profile_uuid != '\0');
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start (keyring_task_new (OPERATION_LOOKUP, profile_uuid, cancellable, callback, user_data,
                           doctor_keyring_lookup_async));
}

/**
 * doctor_keyring_lookup_finish:
 *
 * Returns: (transfer full) (nullable): the password, to free with doctor_keyring_secret_free();
 *   %NULL with @error unset if none is stored for the profile; %NULL with @error set if the
 *   keyring could not say (unavailable, locked, a prompt dismissed).
 */
char *
doctor_keyring_lookup_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == doctor_keyring_lookup_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * doctor_keyring_clear_async:
 * @profile_uuid: the profile's UUID
 *
 * Removes every item stored for @profile_uuid. Removing nothing is a success.
 */
void
doctor_keyring_clear_async (const char          *profile_uuid,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (profile_uuid != NULL && *profile_uuid != '\0');
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start (keyring_task_new (OPERATION_CLEAR, profile_uuid, cancellable, callback, user_data,
                           doctor_keyring_clear_async));
}

/**
 * doctor_keyring_clear_finish:
 *
 * Returns: %TRUE if no item of the profile is left in the keyring.
 */
gboolean
doctor_keyring_clear_finish (GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == doctor_keyring_clear_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* The synchronous wrappers run the asynchronous code on a private main context, as libsecret's
 * own _sync functions do, so that the command line gets the same errors as the app. */

typedef struct
{
  GMainContext *context;
  GAsyncResult *result;
} SyncClosure;

static void
on_sync_done (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  SyncClosure *closure = user_data;

  closure->result = g_object_ref (result);
  g_main_context_wakeup (closure->context);
}

static void
sync_closure_init (SyncClosure *closure)
{
  closure->context = g_main_context_new ();
  closure->result = NULL;
  g_main_context_push_thread_default (closure->context);
}

static void
sync_closure_wait (SyncClosure *closure)
{
  while (closure->result == NULL)
    g_main_context_iteration (closure->context, TRUE);

  /* GDBus frees what a finished proxy subscribed with in an idle on this context (the proxies
   * of the items found, for one); dropping the context before that would leak it. */
  while (g_main_context_pending (closure->context))
    g_main_context_iteration (closure->context, FALSE);

  g_main_context_pop_thread_default (closure->context);
}

static void
sync_closure_clear (SyncClosure *closure)
{
  g_clear_object (&closure->result);
  g_clear_pointer (&closure->context, g_main_context_unref);
}

gboolean
doctor_keyring_store_sync (const char    *profile_uuid,
                           const char    *host,
                           const char    *user,
                           const char    *label,
                           const char    *password,
                           GCancellable  *cancellable,
                           GError       **error)
{
  SyncClosure closure;
  gboolean ret;

  sync_closure_init (&closure);
  doctor_keyring_store_async (profile_uuid, host, user, label, password, cancellable,
                              on_sync_done, &closure);
  sync_closure_wait (&closure);
  ret = doctor_keyring_store_finish (closure.result, error);
  sync_closure_clear (&closure);

  return ret;
}

char *
doctor_keyring_lookup_sync (const char    *profile_uuid,
                            GCancellable  *cancellable,
                            GError       **error)
{
  SyncClosure closure;
  char *ret;

  sync_closure_init (&closure);
  doctor_keyring_lookup_async (profile_uuid, cancellable, on_sync_done, &closure);
  sync_closure_wait (&closure);
  ret = doctor_keyring_lookup_finish (closure.result, error);
  sync_closure_clear (&closure);

  return ret;
}

gboolean
doctor_keyring_clear_sync (const char    *profile_uuid,
                           GCancellable  *cancellable,
                           GError       **error)
{
  SyncClosure closure;
  gboolean ret;

  sync_closure_init (&closure);
  doctor_keyring_clear_async (profile_uuid, cancellable, on_sync_done, &closure);
  sync_closure_wait (&closure);
  ret = doctor_keyring_clear_finish (closure.result, error);
  sync_closure_clear (&closure);

  return ret;
}

/**
 * doctor_keyring_secret_free:
 * @secret: (nullable): a password from doctor_keyring_lookup_finish()
 *
 * Wipes the memory of @secret and frees it.
 */
void
doctor_keyring_secret_free (char *secret)
{
  secret_password_free (secret);
}

gboolean
doctor_keyring_error_is_unavailable (const GError *error)
{
  return g_error_matches (error, DOCTOR_KEYRING_ERROR, DOCTOR_KEYRING_ERROR_UNAVAILABLE);
}

/* A dismissed prompt, or the caller's own cancel: nothing to report to the user. */
gboolean
doctor_keyring_error_is_cancelled (const GError *error)
{
  return g_error_matches (error, DOCTOR_KEYRING_ERROR, DOCTOR_KEYRING_ERROR_CANCELLED) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}
