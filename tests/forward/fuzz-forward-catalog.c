/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "punch-forward-catalog.h"
#include "punch-error.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = punch_forward_catalog_parse (data, size, &error);

  if (names != NULL)
    {
      g_autoptr (GBytes) again = punch_forward_catalog_encode ((const char * const *) names);

      /* What parses is within the limits and re-encodes to the same bytes. */
      g_assert_cmpuint (g_strv_length (names), <=, PUNCH_FORWARD_CATALOG_MAX_NAMES);
      g_assert_cmpmem (g_bytes_get_data (again, NULL), g_bytes_get_size (again), data, size);
    }
  else
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == PUNCH_ERROR);
    }
  return 0;
}

static const char seed_empty[] = "\x01";
static const char seed_two[] = "\x01" "\x03" "ssh" "\x03" "web";
static const char seed_bad[] = "\x01" "\x04" "a b" "\x00";

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static const char *const seeds[] = { seed_empty, seed_two, seed_bad, NULL };
  static gsize lens[] = { 1, sizeof seed_two - 1, sizeof seed_bad - 1 };

  *lengths = lens;
  return seeds;
}
