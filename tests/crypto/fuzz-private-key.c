/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PrivateKey parsing; every key that parses must sign verifiably and
 * re-encode to something that parses to the same key. */
#include <stdint.h>
#include <string.h>

#include "punch-error.h"
#include "punch-private-key.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (PunchPrivateKey) key = NULL;
  g_autoptr (PunchPrivateKey) again = NULL;
  g_autoptr (GBytes) signature = NULL;
  g_autoptr (GError) error = NULL;
  GBytes *encoded;

  key = punch_private_key_new_from_protobuf (data, size, &error);
  if (key == NULL)
    {
      g_assert_true (error != NULL && error->domain == PUNCH_ERROR);
      return 0;
    }
  g_assert_no_error (error);

  encoded = punch_private_key_get_protobuf (key);
  again = punch_private_key_new_from_protobuf (g_bytes_get_data (encoded, NULL),
                                               g_bytes_get_size (encoded), &error);
  g_assert_no_error (error);
  g_assert_true (punch_public_key_equal (punch_private_key_get_public_key (key),
                                         punch_private_key_get_public_key (again)));

  signature = punch_private_key_sign (key, data, size, &error);
  g_assert_no_error (error);
  g_assert_true (punch_public_key_verify (punch_private_key_get_public_key (again), data, size,
                                          g_bytes_get_data (signature, NULL),
                                          g_bytes_get_size (signature), &error));
  g_assert_no_error (error);
  return 0;
}

#define SEED "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
#define PUB  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

static const char *const seed_hex[] = {
  "08011240" SEED PUB,
  "08011260" SEED PUB PUB,
};

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static char *seeds[G_N_ELEMENTS (seed_hex) + 1];
  static gsize seed_lengths[G_N_ELEMENTS (seed_hex)];

  if (seeds[0] == NULL)
    {
      for (guint i = 0; i < G_N_ELEMENTS (seed_hex); i++)
        {
          gsize n = strlen (seed_hex[i]) / 2;

          seeds[i] = g_malloc (n + 1);
          for (gsize j = 0; j < n; j++)
            seeds[i][j] = (char) (g_ascii_xdigit_value (seed_hex[i][2 * j]) * 16 +
                                  g_ascii_xdigit_value (seed_hex[i][2 * j + 1]));
          seeds[i][n] = '\0';
          seed_lengths[i] = n;
        }
    }
  *lengths = seed_lengths;
  return (const char *const *) seeds;
}
