/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The libp2p NoiseHandshakePayload check on arbitrary bytes. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "punch-noise-payload.h"
#include "punch-private-key.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

static const guint8 REMOTE_STATIC[32] = { 0x5a, 0x5a, 0x5a, 0x5a, 1, 2, 3, 4 };

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr (PunchPublicKey) key = NULL;
  g_auto (GStrv) muxers = NULL;
  g_autoptr (GError) error = NULL;

  if (size > 65535)
    return 0;
  if (!punch_noise_payload_check (data, size, REMOTE_STATIC, NULL, &key, &muxers, &error))
    g_assert_nonnull (error);
  else
    g_assert_nonnull (key);
  return 0;
}

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static GPtrArray *seeds;
  static GArray *lens;
  static const char *const muxer_lists[][3] = {
    { "/yamux/1.0.0", NULL },
    { "/yamux/1.0.0", "/mplex/6.7.0", NULL },
    { NULL },
  };
  static const char key_hex[] =
    "080112400202020202020202020202020202020202020202020202020202020202020202"
    "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394";
  g_autoptr (PunchPrivateKey) identity = NULL;
  guint8 key_pb[68];

  if (seeds != NULL)
    goto out;

  for (gsize i = 0; i < sizeof key_pb; i++)
    key_pb[i] = (guint8) (g_ascii_xdigit_value (key_hex[2 * i]) << 4 | g_ascii_xdigit_value (key_hex[2 * i + 1]));
  identity = punch_private_key_new_from_protobuf (key_pb, sizeof key_pb, NULL);
  g_assert_nonnull (identity);

  seeds = g_ptr_array_new ();
  lens = g_array_new (FALSE, FALSE, sizeof (gsize));
  for (guint i = 0; i < G_N_ELEMENTS (muxer_lists); i++)
    {
      g_autoptr (GBytes) payload = punch_noise_payload_build (identity, REMOTE_STATIC, muxer_lists[i], NULL);
      gsize len = 0;
      gconstpointer bytes = g_bytes_get_data (payload, &len);

      g_array_append_val (lens, len);
      g_ptr_array_add (seeds, g_memdup2 (bytes, len));
    }
  g_ptr_array_add (seeds, NULL);

out:
  *lengths = (gsize *) (gpointer) lens->data;
  return (const char *const *) seeds->pdata;
}
