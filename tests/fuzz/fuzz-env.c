/* fuzz-env.c: the .env parser, the import of its mail settings, and the export back.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Any bytes go to doctor_env_file_parse(); a file that parses is read back key by key and
 * imported; an import is exported for every framework, with and without the password.
 */
#include <glib.h>

#include "doctor-env.h"
#include "fuzz.h"

static void
export_all (const DoctorEnvImport *import)
{
  for (guint f = 0; f < DOCTOR_ENV_N_FRAMEWORKS; f++)
    {
      for (int with_password = 0; with_password < 2; with_password++)
        {
          g_autofree char *text = doctor_env_export (import->target, f, with_password);

          g_assert_nonnull (text);
          g_assert_true (g_utf8_validate (text, -1, NULL));
        }
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DoctorEnvFile) env = NULL;
  g_autoptr(DoctorEnvImport) import = NULL;
  const char * const *keys;
  GPtrArray *warnings;

  env = doctor_env_file_parse ((const char *) data, size, &error);
  if (env == NULL)
    {
      g_assert_nonnull (error);
      return 0;
    }
  g_assert_no_error (error);

  keys = doctor_env_file_get_keys (env);
  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      g_assert_nonnull (doctor_env_file_get (env, keys[i]));
      (void) doctor_env_file_get_line (env, keys[i]);
    }
  g_assert_null (doctor_env_file_get (env, "SMTP_DOCTOR_FUZZ_NO_SUCH_KEY"));
  warnings = doctor_env_file_get_warnings (env);
  if (warnings != NULL)
    g_assert_cmpuint (warnings->len, <=, DOCTOR_ENV_MAX_WARNINGS + 1);

  import = doctor_env_import (env, &error);
  if (import == NULL)
    {
      g_assert_nonnull (error);
      return 0;
    }
  g_assert_no_error (error);
  g_assert_nonnull (import->target);
  g_assert_nonnull (import->target->host);
  g_assert_nonnull (doctor_env_framework_to_string (import->framework));
  export_all (import);

  return 0;
}
