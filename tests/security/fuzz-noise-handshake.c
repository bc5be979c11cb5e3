/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Feeds each input to an initiator as Noise message 2 (after its own
 * message 1), and a decrypted payload on to the libp2p payload check. The
 * keys are fixed, so the seeds (real messages 2) stay valid across runs. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "punch-noise-payload.h"
#include "punch-noise-state.h"
#include "punch-private-key.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

static const guint8 INIT_STATIC[32] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 1 };
static const guint8 INIT_EPHEMERAL[32] = { 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 2 };
static const guint8 RESP_STATIC[32] = { 0x31, 0x42, 0x53, 0x64, 0x75, 0x86, 0x97, 0xa8, 3 };
static const guint8 RESP_EPHEMERAL[32] = { 0x41, 0x52, 0x63, 0x74, 0x85, 0x96, 0xa7, 0xb8, 4 };

static PunchNoiseHandshake *
fixed_state (gboolean initiator)
{
  PunchNoiseHandshake *hs = punch_noise_handshake_new (initiator, NULL, 0, NULL);

  g_assert_nonnull (hs);
  g_assert_true (punch_noise_handshake_set_fixed_keys (hs,
                                                       initiator ? INIT_STATIC : RESP_STATIC,
                                                       initiator ? INIT_EPHEMERAL : RESP_EPHEMERAL,
                                                       NULL));
  return hs;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr (PunchNoiseHandshake) hs = fixed_state (TRUE);
  g_autoptr (GByteArray) msg1 = g_byte_array_new ();
  g_autoptr (GByteArray) payload = g_byte_array_new ();
  g_autoptr (PunchPublicKey) key = NULL;
  g_auto (GStrv) muxers = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (punch_noise_handshake_write_message (hs, NULL, 0, msg1, NULL));
  if (size > 65535)
    return 0;
  if (!punch_noise_handshake_read_message (hs, data, size, payload, &error))
    {
      g_assert_nonnull (error);
      return 0;
    }
  if (!punch_noise_payload_check (payload->data, payload->len,
                                  punch_noise_handshake_get_remote_static (hs),
                                  NULL, &key, &muxers, &error))
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
  /* An Ed25519 identity (seed 0x01…): PrivateKey protobuf. */
  static const char key_hex[] =
    "080112400101010101010101010101010101010101010101010101010101010101010101"
    "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";
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
      g_autoptr (PunchNoiseHandshake) hi = fixed_state (TRUE);
      g_autoptr (PunchNoiseHandshake) hr = fixed_state (FALSE);
      g_autoptr (GByteArray) msg1 = g_byte_array_new ();
      g_autoptr (GByteArray) ignored = g_byte_array_new ();
      g_autoptr (GBytes) payload = NULL;
      GByteArray *msg2 = g_byte_array_new ();
      gsize len;

      g_assert_true (punch_noise_handshake_write_message (hi, NULL, 0, msg1, NULL));
      g_assert_true (punch_noise_handshake_read_message (hr, msg1->data, msg1->len, ignored, NULL));
      payload = punch_noise_payload_build (identity, punch_noise_handshake_get_local_static (hr),
                                           muxer_lists[i], NULL);
      g_assert_nonnull (payload);
      g_assert_true (punch_noise_handshake_write_message (hr, g_bytes_get_data (payload, NULL),
                                                         g_bytes_get_size (payload), msg2, NULL));
      len = msg2->len;
      g_array_append_val (lens, len);
      g_ptr_array_add (seeds, g_byte_array_free (msg2, FALSE));
    }
  g_ptr_array_add (seeds, NULL);

out:
  *lengths = (gsize *) (gpointer) lens->data;
  return (const char *const *) seeds->pdata;
}
