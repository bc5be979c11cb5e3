/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Envelope parsing and signature checking under both libp2p domains. */
#include <stdint.h>
#include <string.h>

#include "punch-error.h"
#include "punch-signed-envelope.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

static void
open_one (const uint8_t *data, size_t size, const char *domain)
{
  g_autoptr (PunchSignedEnvelope) env = NULL;
  g_autoptr (GError) error = NULL;

  env = punch_signed_envelope_open (data, size, domain, &error);
  if (env == NULL)
    {
      g_assert_true (error != NULL && error->domain == PUNCH_ERROR);
      return;
    }
  g_assert_no_error (error);
  g_assert_nonnull (punch_signed_envelope_get_public_key (env));
  g_assert_cmpuint (g_bytes_get_size (punch_signed_envelope_get_payload (env)), <=, size);
  g_assert_cmpuint (g_bytes_get_size (punch_signed_envelope_get_payload_type (env)), <=, size);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  open_one (data, size, PUNCH_ENVELOPE_DOMAIN_PEER_RECORD);
  open_one (data, size, PUNCH_ENVELOPE_DOMAIN_RELAY_RSVP);
  return 0;
}

/* Well-formed envelopes, sealed with the RFC 8032 test key (Ed25519 is
 * deterministic, so these are the same bytes on every run). */
const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static const guint8 keypair[] = {
    0x08, 0x01, 0x12, 0x40,
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
    0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
  };
  static const guint8 record_type[] = { 0x03, 0x01 };
  static const guint8 voucher_type[] = { 0x03, 0x02 };
  static char *seeds[3];
  static gsize seed_lengths[2];

  if (seeds[0] == NULL)
    {
      g_autoptr (PunchPrivateKey) key = punch_private_key_new_from_protobuf (keypair, sizeof keypair, NULL);
      g_autoptr (GBytes) record = g_bytes_new_static ("\x0a\x02\xab\xcd\x10\x07\x1a\x08\x0a\x06\x04\x7f\x00\x00\x01\x06", 16);
      g_autoptr (GBytes) voucher = g_bytes_new_static ("\x0a\x01\x01\x12\x01\x02\x18\x2a", 8);
      g_autoptr (GBytes) a = NULL;
      g_autoptr (GBytes) b = NULL;

      g_assert_nonnull (key);
      a = punch_signed_envelope_seal (key, PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, record_type,
                                      sizeof record_type, record, NULL);
      b = punch_signed_envelope_seal (key, PUNCH_ENVELOPE_DOMAIN_RELAY_RSVP, voucher_type,
                                      sizeof voucher_type, voucher, NULL);
      g_assert_true (a != NULL && b != NULL);
      seeds[0] = g_memdup2 (g_bytes_get_data (a, NULL), g_bytes_get_size (a));
      seed_lengths[0] = g_bytes_get_size (a);
      seeds[1] = g_memdup2 (g_bytes_get_data (b, NULL), g_bytes_get_size (b));
      seed_lengths[1] = g_bytes_get_size (b);
    }
  *lengths = seed_lengths;
  return (const char *const *) seeds;
}
