/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The identify reader's parsing: length-prefixed Identify messages, each at
 * most PUNCH_IDENTIFY_MAX_MESSAGE bytes, at most PUNCH_IDENTIFY_MAX_MESSAGES
 * of them, merged. */
#include <stdint.h>

#include "identify.pb-c.h"
#include "punch-identify-private.h"
#include "punch-identify-service.h"
#include "punch-varint.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  PunchIdentifyData merged = { NULL, };
  gsize offset = 0;

  for (guint n = 0; n < PUNCH_IDENTIFY_MAX_MESSAGES && offset < size; n++)
    {
      g_autoptr (GError) error = NULL;
      guint64 len;
      gsize consumed;

      if (!punch_varint_decode (data + offset, size - offset, &len, &consumed, &error))
        break;
      offset += consumed;
      if (len > PUNCH_IDENTIFY_MAX_MESSAGE || len > size - offset)
        break;
      if (!punch_identify_data_merge (&merged, data + offset, len, &error))
        {
          g_assert_nonnull (error);
          break;
        }
      offset += len;
    }

  /* What was kept is well-formed and bounded. */
  if (merged.listen_addrs != NULL)
    g_assert_cmpuint (merged.listen_addrs->len, <=, PUNCH_IDENTIFY_MAX_ADDRS);
  if (merged.protocols != NULL)
    g_assert_cmpuint (merged.protocols->len, <=, PUNCH_IDENTIFY_MAX_PROTOCOLS + 1);
  if (merged.protocols != NULL)
    {
      g_assert_null (g_ptr_array_index (merged.protocols, merged.protocols->len - 1));
      for (guint i = 0; i + 1 < merged.protocols->len; i++)
        g_assert_true (g_utf8_validate (g_ptr_array_index (merged.protocols, i), -1, NULL));
    }
  if (merged.agent_version != NULL)
    g_assert_true (g_utf8_validate (merged.agent_version, -1, NULL));

  punch_identify_data_clear (&merged);
  return 0;
}

static GBytes *
seed_message (gboolean with_key)
{
  Identify__Pb__Identify msg = IDENTIFY__PB__IDENTIFY__INIT;
  static const guint8 addr[] = { 0x04, 127, 0, 0, 1, 0x06, 0x0f, 0xa1 };
  /* An Ed25519 PublicKey protobuf (type 1, 32 key bytes). */
  static const guint8 key[] = {
    0x08, 0x01, 0x12, 0x20,
    0x1e, 0xd0, 0x3f, 0x5b, 0x5c, 0xe1, 0x6c, 0x75, 0x9c, 0x4f, 0x0e, 0x6b, 0x42, 0x1b, 0x6a, 0x8e,
    0x27, 0x4b, 0x37, 0x84, 0x5b, 0x93, 0x0a, 0x0a, 0xa3, 0x69, 0x4d, 0x3c, 0x1a, 0x5c, 0x68, 0x14,
  };
  char *protocols[] = { (char *) "/ipfs/id/1.0.0", (char *) "/ipfs/ping/1.0.0" };
  ProtobufCBinaryData addrs[1];
  g_autoptr (GByteArray) out = g_byte_array_new ();
  gsize len;
  guint8 *packed;

  addrs[0].data = (guint8 *) addr;
  addrs[0].len = sizeof addr;
  msg.protocolversion = (char *) "ipfs/0.1.0";
  msg.agentversion = (char *) "seed/1.0";
  msg.listenaddrs = addrs;
  msg.n_listenaddrs = 1;
  msg.has_observedaddr = TRUE;
  msg.observedaddr = addrs[0];
  msg.protocols = protocols;
  msg.n_protocols = G_N_ELEMENTS (protocols);
  if (with_key)
    {
      msg.has_publickey = TRUE;
      msg.publickey.data = (guint8 *) key;
      msg.publickey.len = sizeof key;
    }
  len = identify__pb__identify__get_packed_size (&msg);
  packed = g_malloc (len);
  identify__pb__identify__pack (&msg, packed);
  punch_varint_append (out, len);
  g_byte_array_append (out, packed, len);
  g_free (packed);
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  /* Kept for the life of the process, as the driver expects. */
  static GBytes *messages[2];
  static const char *seeds[3];
  static gsize sizes[3];

  if (seeds[0] == NULL)
    {
      messages[0] = seed_message (TRUE);
      messages[1] = seed_message (FALSE);
      seeds[0] = g_bytes_get_data (messages[0], &sizes[0]);
      seeds[1] = g_bytes_get_data (messages[1], &sizes[1]);
    }
  *lengths = sizes;
  return seeds;
}
