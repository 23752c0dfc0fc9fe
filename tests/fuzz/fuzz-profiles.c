/* fuzz-profiles.c: the profile store's loader (and saver) on any file content.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each process makes one private directory under the temporary one (g_dir_make_tmp()), and
 * points $XDG_CONFIG_HOME into it. Each input is written there as profiles.json and loaded by
 * a DoctorProfileStore; a store that loads is walked and saved back, and must load again. A
 * damaged file is moved aside by the store in the same directory. Everything in the directory
 * is removed after each input, and the directory itself when the process exits: nothing is
 * written anywhere else.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>

#include "doctor-profiles.h"
#include "fuzz.h"

static char *fuzz_dir;
static char *fuzz_path;

static void
empty_directory (void)
{
  g_autoptr(GDir) dir = g_dir_open (fuzz_dir, 0, NULL);
  const char *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fuzz_dir, name, NULL);

      if (g_unlink (path) != 0)
        g_error ("could not remove %s", path);
    }
}

static void
remove_directory (void)
{
  empty_directory ();
  g_rmdir (fuzz_dir);
  g_clear_pointer (&fuzz_dir, g_free);
  g_clear_pointer (&fuzz_path, g_free);
}

static void
set_up_once (void)
{
  g_autoptr(GError) error = NULL;

  if (fuzz_dir != NULL)
    return;

  fuzz_dir = g_dir_make_tmp ("smtp-doctor-fuzz-profiles-XXXXXX", &error);
  if (fuzz_dir == NULL)
    g_error ("%s", error->message);
  fuzz_path = g_build_filename (fuzz_dir, "profiles.json", NULL);
  /* Nothing should read it, but if anything does, it finds the private directory. */
  g_setenv ("XDG_CONFIG_HOME", fuzz_dir, TRUE);
  atexit (remove_directory);
}

static void
walk (DoctorProfileStore *store)
{
  GPtrArray *profiles = doctor_profile_store_get_profiles (store);

  g_assert_nonnull (profiles);
  for (guint i = 0; i < profiles->len; i++)
    {
      const DoctorProfile *profile = g_ptr_array_index (profiles, i);
      g_autoptr(DoctorProfile) copy = NULL;
      g_autoptr(DoctorTarget) target = NULL;

      g_assert_nonnull (profile->uuid);
      g_assert_nonnull (profile->name);
      g_assert_true (doctor_profile_store_find (store, profile->uuid) != NULL);
      g_assert_true (doctor_profile_store_find (store, profile->name) != NULL);
      copy = doctor_profile_copy (profile);
      g_assert_cmpstr (copy->uuid, ==, profile->uuid);
      if (profile->host != NULL)
        target = doctor_profile_to_target (profile);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DoctorProfileStore) store = NULL;
  guint count;

  set_up_once ();
  empty_directory ();
  if (!g_file_set_contents (fuzz_path, (const char *) data, size, &error))
    g_error ("%s", error->message);

  store = doctor_profile_store_new (fuzz_path);
  if (!doctor_profile_store_load (store, &error))
    {
      g_assert_nonnull (error);
      g_assert_cmpuint (doctor_profile_store_get_profiles (store)->len, ==, 0);
      g_clear_object (&store);
      empty_directory ();
      return 0;
    }
  g_assert_no_error (error);
  walk (store);
  count = doctor_profile_store_get_profiles (store)->len;

  if (doctor_profile_store_save (store, &error))
    {
      g_autoptr(DoctorProfileStore) again = doctor_profile_store_new (fuzz_path);

      g_assert_no_error (error);
      if (!doctor_profile_store_load (again, &error))
        g_error ("a saved file does not load again: %s", error->message);
      g_assert_cmpuint (doctor_profile_store_get_profiles (again)->len, ==, count);
      walk (again);
    }
  else
    g_assert_nonnull (error);

  g_clear_object (&store);
  empty_directory ();
  return 0;
}
