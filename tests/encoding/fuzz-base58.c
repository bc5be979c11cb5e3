/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdint.h>
#include <string.h>

#include "punch-error.h"
#include "punch-multibase.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_malloc0 (size + 1);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;

  if (size > 0)
    memcpy (text, data, size);
  /* Text stops at the first NUL, like any C string a caller would pass. */

  bytes = punch_base58_decode (text, &error);
  if (bytes)
    {
      gsize len;
      const guint8 *raw = g_bytes_get_data (bytes, &len);
      g_autofree char *again = punch_base58_encode (raw, len);

      /* Each leading '1' is one zero byte and the rest is a number without
       * leading zero digits, so the text is canonical. */
      g_assert_cmpstr (again, ==, text);
    }
  else
    {
      g_assert_true (error->domain == PUNCH_ERROR);
    }
  g_clear_pointer (&bytes, g_bytes_unref);
  g_clear_error (&error);

  /* The same text through the multibase front door (its first char a prefix). */
  bytes = punch_multibase_decode (text, &error);
  g_assert_true ((bytes == NULL) == (error != NULL));
  return 0;
}

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static const char *const seeds[] = {
    "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
    "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",
    "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6",
    "uEiB0",
    "MZg==",
    NULL
  };
  static gsize lens[G_N_ELEMENTS (seeds)];

  for (gsize i = 0; seeds[i]; i++)
    lens[i] = strlen (seeds[i]);
  *lengths = lens;
  return seeds;
}
