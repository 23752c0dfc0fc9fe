/* standalone-main.c: runs a fuzz target over files without libFuzzer.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Used when the build is not a fuzzing one (gcc, the normal and CI builds): every argument is
 * a file, or a directory whose files are each given to LLVMFuzzerTestOneInput() in name order
 * (subdirectories are not entered). A crash, a sanitizer report or an assertion ends the
 * process; otherwise it exits 0 once every input ran, and 1 if an input could not be read.
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"

static gboolean
run_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (!g_file_get_contents (path, &contents, &length, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return FALSE;
    }
  /* A copy of exactly the file's size, so that a read past the end is caught by ASan. */
  g_autofree guint8 *copy = g_malloc (MAX (length, 1));

  memcpy (copy, contents, length);
  LLVMFuzzerTestOneInput (copy, length);
  return TRUE;
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static gboolean
run_directory (const char *path,
               guint      *count)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open (path, 0, &error);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  gboolean ok = TRUE;
  const char *name;

  if (dir == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return FALSE;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_build_filename (path, name, NULL));
  g_ptr_array_sort (names, compare_names);

  for (guint i = 0; i < names->len; i++)
    {
      const char *file = g_ptr_array_index (names, i);

      if (!g_file_test (file, G_FILE_TEST_IS_REGULAR))
        continue;
      ok = run_file (file) && ok;
      (*count)++;
    }
  return ok;
}

int
main (int   argc,
      char *argv[])
{
  gboolean ok = TRUE;
  guint count = 0;

  for (int i = 1; i < argc; i++)
    {
      if (g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        ok = run_directory (argv[i], &count) && ok;
      else
        {
          ok = run_file (argv[i]) && ok;
          count++;
        }
    }
  printf ("%s: ran %u inputs\n", argc > 0 ? argv[0] : "fuzz", count);
  return ok ? 0 : 1;
}
