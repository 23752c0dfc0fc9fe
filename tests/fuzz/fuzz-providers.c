/* fuzz-providers.c: the provider presets loader on any bytes.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A file either loads as a whole or is refused with an error; every preset that loads is
 * walked through the lookups that the form, the advice and discovery make.
 */
#include <glib.h>

#include "doctor-providers.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) providers = NULL;

  providers = doctor_providers_load_from_data ((const char *) data, size, &error);
  if (providers == NULL)
    {
      g_assert_nonnull (error);
      return 0;
    }
  g_assert_no_error (error);

  for (guint i = 0; i < providers->len; i++)
    {
      const DoctorProvider *p = g_ptr_array_index (providers, i);

      g_assert_nonnull (p->id);
      g_assert_nonnull (p->name);
      g_assert_nonnull (p->host);
      g_assert_nonnull (p->links);
      g_assert_nonnull (p->expected_issuers);
      g_assert_nonnull (p->regions);
      g_assert_nonnull (p->alternatives);
      g_assert_nonnull (p->domains);
      g_assert_nonnull (p->mx_patterns);
      g_assert_true ((p->https_api_name == NULL) == (p->https_api_url == NULL));

      /* A preset's own hosts must be found again, a final dot or not (the reproducer of that
       * bug is in the corpus: region-host-trailing-dot.json). */
      g_assert_true (doctor_provider_has_host (p, p->host));
      for (guint r = 0; r < p->regions->len; r++)
        {
          const DoctorProviderRegion *region = g_ptr_array_index (p->regions, r);

          g_assert_nonnull (region->host);
          g_assert_true (doctor_provider_find_region (p, region->host) != NULL);
        }
      for (guint m = 0; p->mx_patterns[m] != NULL; m++)
        (void) doctor_provider_match_mx_pattern (p, p->mx_patterns[m]);
      (void) doctor_provider_find_region (p, "");
      (void) doctor_provider_match_mx_pattern (p, "");
    }

  return 0;
}
