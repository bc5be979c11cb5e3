/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "punch-forward-message.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL;
  g_autofree char *reason = NULL;
  PunchForwardStatus status;

  name = punch_forward_request_parse (data, size, &error);
  if (name != NULL)
    {
      g_autoptr (GBytes) again = punch_forward_request_encode (name);

      /* What parses re-encodes to the same bytes. */
      g_assert_nonnull (again);
      g_assert_cmpmem (g_bytes_get_data (again, NULL), g_bytes_get_size (again), data, size);
    }
  else
    g_assert_nonnull (error);
  g_clear_error (&error);

  if (punch_forward_response_parse (data, size, &status, &reason, &error))
    g_assert_true (reason == NULL || g_utf8_validate (reason, -1, NULL));
  else
    g_assert_nonnull (error);
  return 0;
}

static const char seed_request[] = "\x01" "ssh";
static const char seed_ok[] = "\x00";
static const char seed_refused[] = "\x02" "not allowed";
static const char seed_bad[] = "\x07" "\xff\xfe";

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static const char *const seeds[] = { seed_request, seed_ok, seed_refused, seed_bad, NULL };
  static gsize lens[] = { sizeof seed_request - 1, 1, sizeof seed_refused - 1,
                          sizeof seed_bad - 1 };

  *lengths = lens;
  return seeds;
}
