/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdint.h>
#include <string.h>

#include "punch-error.h"
#include "punch-varint.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  guint64 value;
  gsize consumed;

  if (punch_varint_decode (data, size, &value, &consumed, &error))
    {
      guint8 out[PUNCH_VARINT_MAX_LEN];
      gsize n = punch_varint_encode (value, out);

      /* Only minimal encodings are accepted, so re-encoding is exact. */
      g_assert_cmpuint (n, ==, consumed);
      g_assert_cmpuint (n, <=, size);
      g_assert_true (memcmp (out, data, n) == 0);
    }
  else
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == PUNCH_ERROR);
    }
  return 0;
}

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static const char *const seeds[] = { "\x00", "\x7f", "\xa5\x03", "\xff\xff\xff\xff\xff\xff\xff\xff\x7f", NULL };
  static gsize lens[] = { 1, 1, 2, 9 };

  *lengths = lens;
  return seeds;
}
