/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-dcutr-message.h"

#include "punch-error.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const PunchDcutrType types[] = { PUNCH_DCUTR_CONNECT, PUNCH_DCUTR_SYNC };

  for (guint t = 0; t < G_N_ELEMENTS (types); t++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) addrs = punch_dcutr_message_decode (data, size, types[t], &error);
      g_autoptr (GPtrArray) kept = NULL;
      g_autoptr (GBytes) again = NULL;
      g_autoptr (GPtrArray) back = NULL;

      if (addrs == NULL)
        {
          g_assert_true (error != NULL && error->domain == PUNCH_ERROR);
          continue;
        }
      g_assert_cmpuint (addrs->len, <=, PUNCH_DCUTR_MAX_ADDRS);
      kept = punch_dcutr_filter_remote_addrs (addrs, NULL);
      g_assert_cmpuint (kept->len, <=, addrs->len);
      /* What we decoded encodes and decodes to the same addresses. */
      again = punch_dcutr_message_encode (types[t], addrs);
      back = punch_dcutr_message_decode (g_bytes_get_data (again, NULL), g_bytes_get_size (again), types[t], &error);
      g_assert_no_error (error);
      g_assert_cmpuint (back->len, ==, addrs->len);
      for (guint i = 0; i < back->len; i++)
        g_assert_true (punch_multiaddr_equal (g_ptr_array_index (back, i), g_ptr_array_index (addrs, i)));
    }
  return 0;
}

static const char connect_seed[] = "\x08\x64\x12\x08\x04\xc6\x12\x02\x01\x06\x0f\xa2\x12\x08\x04\x0a\x00\x02\x02\x06\x0f\xa2";
static const char sync_seed[] = "\x08\xac\x02";
static const char circuit_seed[] =
  "\x08\x64\x12\x0b\x04\xc6\x12\x00\x02\x06\x0f\xa1\xa2\x03\x00";

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static const char *const seeds[] = { connect_seed, sync_seed, circuit_seed, NULL };
  static gsize lens[] = { sizeof connect_seed - 1, sizeof sync_seed - 1, sizeof circuit_seed - 1 };

  *lengths = lens;
  return seeds;
}
