/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PublicKey parsing, then verification of garbage signatures with whatever
 * key survived. */
#include <stdint.h>
#include <string.h>

#include "punch-error.h"
#include "punch-public-key.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (PunchPublicKey) key = NULL;
  g_autoptr (PunchPublicKey) again = NULL;
  g_autoptr (GError) error = NULL;
  GBytes *encoded;
  gboolean ok;

  key = punch_public_key_new_from_protobuf (data, size, &error);
  if (key == NULL)
    {
      g_assert_true (error != NULL && error->domain == PUNCH_ERROR);
      return 0;
    }
  g_assert_no_error (error);

  /* The canonical encoding parses back to the same key and peer ID. */
  encoded = punch_public_key_get_protobuf (key);
  again = punch_public_key_new_from_protobuf (g_bytes_get_data (encoded, NULL),
                                              g_bytes_get_size (encoded), &error);
  g_assert_no_error (error);
  g_assert_true (punch_public_key_equal (key, again));
  g_assert_true (punch_peer_id_equal (punch_public_key_get_peer_id (key),
                                      punch_public_key_get_peer_id (again)));
  g_assert_nonnull (punch_peer_id_to_string (punch_public_key_get_peer_id (key)));

  /* The input doubles as message and as signature: it must be refused
   * cleanly, whatever its shape. */
  ok = punch_public_key_verify (key, data, size, data, size, &error);
  g_assert_false (ok);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);
  if (size > 8)
    {
      ok = punch_public_key_verify (key, data, 8, data + 8, size - 8, &error);
      g_assert_false (ok);
      g_assert_true (error != NULL && error->domain == PUNCH_ERROR);
    }
  return 0;
}

static const char *const seed_hex[] = {
  /* The spec's Ed25519 key. */
  "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
  /* secp256k1, compressed. */
  "0802122103c5b6f46d21a22807ef86555ba489f33f4f1698286bc48ddc6a5106e095631734",
  /* ECDSA P-256, PKIX. */
  "0803125b3059301306072a8648ce3d020106082a8648ce3d030107034200048377c7c1572995ae4929de798ef730e6bc37b5"
  "891edad426933c32582743329ba7fa4a321fedecfdd800a8a4c8bc3d33a1458a028397c6305b428a96e92a12a8",
  /* RSA-2048, PKIX. */
  "080012a60230820122300d06092a864886f70d01010105000382010f003082010a0282010100f16b03fadd451ef7c9d95a72"
  "51630ce67b898d2b39bf6ab710ced86278eba4aa7d549ecb7ace52d2524d52d974ffd009bc4c5af6e56b94cb7ee038b553c5"
  "c039df5892c271cba63f0cf95fe572b45777a320b55d4cc3013f1e688fc3133b9de5c4a92681c67abcb0b1664acfb35f8220"
  "1b1b1089a916ee979698a7be064c86dab5bba75850567aecab3fa9ddfbd66e5a3f8a2dd32176bc479fc086adfcc1a81993c3"
  "916de81327780f20ea980879210fea362c01d8e7d767f37ae130f8048dda721df6a028845262c5c174dd7ba9d37ab3887b4d"
  "eb2e7e59642d6f1b88bee2b3afc4c485c9bdf3ff90361d22f79de11d21f00259e42879f5814afdf5630d10b30203010001",
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
