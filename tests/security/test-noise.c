/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Noise: the pure XX state machine against the cacophony test vectors, the
 * libp2p handshake and transport over Unix socket pairs, and bad input of
 * every kind (garbage, truncation, tampering) on both. */
#include <gio/gio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "punch-error.h"
#include "punch-noise-input-stream.h"
#include "punch-noise-output-stream.h"
#include "punch-noise-payload.h"
#include "punch-noise-state.h"
#include "punch-noise-stream.h"
#include "punch-private-key.h"

#define DEADLINE_S 20

/* Ed25519 keys (seed || public) with seeds 0x01…, 0x02…, 0x03… and their IDs. */
static const char *const KEY_HEX[] = {
  "0101010101010101010101010101010101010101010101010101010101010101"
  "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
  "0202020202020202020202020202020202020202020202020202020202020202"
  "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394",
  "0303030303030303030303030303030303030303030303030303030303030303"
  "ed4928c628d1c2c6eae90338905995612959273a5c63f93636c14614ac8737d1",
};
static const char *const KEY_ID[] = {
  "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5",
  "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq",
  "12D3KooWRndVhVZPCiQwHBBBdg769GyrPUW13zxwqQyf9r3ANaba",
};

/* ---- helpers ---- */

static GBytes *
hex_bytes (const char *hex)
{
  gsize len = strlen (hex) / 2;
  guint8 *buf = g_malloc (len + 1);

  g_assert_cmpuint (strlen (hex) % 2, ==, 0);
  for (gsize i = 0; i < len; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      g_assert_true (hi >= 0 && lo >= 0);
      buf[i] = (guint8) (hi << 4 | lo);
    }
  return g_bytes_new_take (buf, len);
}

static PunchPrivateKey *
fixed_key (guint i)
{
  g_autoptr (GBytes) raw = hex_bytes (KEY_HEX[i]);
  g_autoptr (GByteArray) pb = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  PunchPrivateKey *key;
  static const guint8 header[] = { 0x08, 0x01, 0x12, 0x40 };

  g_byte_array_append (pb, header, sizeof header);
  g_byte_array_append (pb, g_bytes_get_data (raw, NULL), g_bytes_get_size (raw));
  key = punch_private_key_new_from_protobuf (pb->data, pb->len, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (punch_peer_id_to_string (punch_private_key_get_peer_id (key)), ==, KEY_ID[i]);
  return key;
}

static gboolean
on_deadline (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the main context until *@done, failing the test at the deadline. */
static void
await_flag (const gboolean *done)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add_seconds (DEADLINE_S, on_deadline, &expired);

  while (!*done && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  if (!*done)
    g_error ("timed out after %d s", DEADLINE_S);
}

static void
await_result (GAsyncResult **slot)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add_seconds (DEADLINE_S, on_deadline, &expired);

  while (*slot == NULL && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  if (*slot == NULL)
    g_error ("timed out after %d s", DEADLINE_S);
}

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static void
socket_pair (GIOStream **a,
             GIOStream **b,
             GSocket   **raw_b)
{
  int fds[2];
  g_autoptr (GSocket) sa = NULL;
  g_autoptr (GSocket) sb = NULL;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  sa = g_socket_new_from_fd (fds[0], NULL);
  sb = g_socket_new_from_fd (fds[1], NULL);
  g_assert_nonnull (sa);
  g_assert_nonnull (sb);
  *a = G_IO_STREAM (g_socket_connection_factory_create_connection (sa));
  *b = G_IO_STREAM (g_socket_connection_factory_create_connection (sb));
  if (raw_b != NULL)
    *raw_b = g_object_ref (sb);
}

typedef struct
{
  PunchNoiseStream *initiator;
  PunchNoiseStream *responder;
  GError           *initiator_error;
  GError           *responder_error;
} Pair;

static void
pair_clear (Pair *pair)
{
  g_clear_object (&pair->initiator);
  g_clear_object (&pair->responder);
  g_clear_error (&pair->initiator_error);
  g_clear_error (&pair->responder_error);
}

/* Runs both sides of the handshake over a fresh socket pair. */
static void
handshake_pair (guint               initiator_key,
                guint               responder_key,
                int                 expected_key,
                const char * const *initiator_muxers,
                const char * const *responder_muxers,
                Pair               *pair)
{
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  g_autoptr (PunchPrivateKey) ki = fixed_key (initiator_key);
  g_autoptr (PunchPrivateKey) kr = fixed_key (responder_key);
  g_autoptr (PunchPrivateKey) ke = expected_key >= 0 ? fixed_key ((guint) expected_key) : NULL;
  g_autoptr (GAsyncResult) ri = NULL;
  g_autoptr (GAsyncResult) rr = NULL;

  socket_pair (&a, &b, NULL);
  punch_noise_stream_handshake_async (a, TRUE, ki, ke ? punch_private_key_get_peer_id (ke) : NULL,
                                      initiator_muxers, NULL, store_result, &ri);
  punch_noise_stream_handshake_async (b, FALSE, kr, NULL, responder_muxers, NULL, store_result, &rr);
  await_result (&ri);
  await_result (&rr);
  pair->initiator = punch_noise_stream_handshake_finish (ri, &pair->initiator_error);
  pair->responder = punch_noise_stream_handshake_finish (rr, &pair->responder_error);
}

/* ---- the state machine against the cacophony vectors ---- */

typedef struct
{
  const char *prologue;
  const char *handshake_hash;     /* NULL when the vector has none */
  const char *ciphertexts[6];
} Vector;

static const char *const VECTOR_PAYLOADS[6] = {
  "4c756477696720766f6e204d69736573",
  "4d757272617920526f746862617264",
  "462e20412e20486179656b",
  "4361726c204d656e676572",
  "4a65616e2d426170746973746520536179",
  "457567656e2042f6686d20766f6e2042617765726b",
};

/* Noise_XX_25519_ChaChaPoly_SHA256 from cacophony.txt (and the noise-c
 * vector set for the second prologue). */
static const Vector VECTORS[] = {
  {
    "4a6f686e2047616c74", NULL,
    {
      "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573",
      "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f276e038c48378ffce2b65285"
      "e08d6b68aaa3629a5a8639392490e5b9bd5269c2f1e4f488ed8831161f19b7815528f8982ffe09be9b5c412f8a0db50f"
      "8814c7194e83f23dbd8d162c9326ad",
      "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a80ae475b9df0f169ae80a89be0865b57f"
      "58c9fea0d4ec82a286427402f113e4b6ae769a1d95941d49b25030",
      "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df",
      "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5",
      "eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3a58502ae3f",
    },
  },
  {
    "50726f6c6f677565313233", "852a28d2146785c54bd8334f4e460c80d7fe4fd0cc5bc0abef2a24a3c4d44d5f",
    {
      "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573",
      "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f276e038c48378ffce2b65285"
      "e08d6b68aaa3629a5a8639392490e5b94a6d8798832d5372f220f161d9c2df035528f8982ffe09be9b5c412f8a0db5d2"
      "1351f20af1370d0bf8ef1a8c59a30e",
      "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a8589981dfbd651e6ff4724a781cc2aa61"
      "58c9fea0d4ec82a286427484c5b8c8123a7a6002b1de9f9775fc97",
      "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df",
      "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5",
      "eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3a58502ae3f",
    },
  },
};

#define INIT_STATIC     "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"
#define INIT_EPHEMERAL  "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a"
#define RESP_STATIC     "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893"
#define RESP_EPHEMERAL  "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b"

static PunchNoiseHandshake *
vector_state (gboolean    initiator,
              GBytes     *prologue)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) s = hex_bytes (initiator ? INIT_STATIC : RESP_STATIC);
  g_autoptr (GBytes) e = hex_bytes (initiator ? INIT_EPHEMERAL : RESP_EPHEMERAL);
  PunchNoiseHandshake *hs;

  hs = punch_noise_handshake_new (initiator, g_bytes_get_data (prologue, NULL),
                                  g_bytes_get_size (prologue), &error);
  g_assert_no_error (error);
  punch_noise_handshake_set_fixed_keys (hs, g_bytes_get_data (s, NULL), g_bytes_get_data (e, NULL), &error);
  g_assert_no_error (error);
  return hs;
}

static void
assert_bytes_equal (const guint8 *data,
                    gsize         len,
                    GBytes       *expected)
{
  g_assert_cmpmem (data, len, g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
}

static void
test_vectors (void)
{
  for (guint v = 0; v < G_N_ELEMENTS (VECTORS); v++)
    {
      g_autoptr (GBytes) prologue = hex_bytes (VECTORS[v].prologue);
      g_autoptr (PunchNoiseHandshake) hi = vector_state (TRUE, prologue);
      g_autoptr (PunchNoiseHandshake) hr = vector_state (FALSE, prologue);
      g_autoptr (PunchNoiseCipher) i_send = NULL;
      g_autoptr (PunchNoiseCipher) i_recv = NULL;
      g_autoptr (PunchNoiseCipher) r_send = NULL;
      g_autoptr (PunchNoiseCipher) r_recv = NULL;
      g_autoptr (GError) error = NULL;

      for (guint m = 0; m < 6; m++)
        {
          g_autoptr (GBytes) payload = hex_bytes (VECTOR_PAYLOADS[m]);
          g_autoptr (GBytes) expected = hex_bytes (VECTORS[v].ciphertexts[m]);
          g_autoptr (GByteArray) wire = g_byte_array_new ();
          g_autoptr (GByteArray) back = g_byte_array_new ();
          gboolean from_initiator = m % 2 == 0;

          if (m < 3)
            {
              PunchNoiseHandshake *writer = from_initiator ? hi : hr;
              PunchNoiseHandshake *reader = from_initiator ? hr : hi;

              g_assert_true (punch_noise_handshake_is_write_turn (writer));
              g_assert_false (punch_noise_handshake_is_write_turn (reader));
              punch_noise_handshake_write_message (writer, g_bytes_get_data (payload, NULL),
                                                   g_bytes_get_size (payload), wire, &error);
              g_assert_no_error (error);
              punch_noise_handshake_read_message (reader, wire->data, wire->len, back, &error);
              g_assert_no_error (error);
            }
          else
            {
              PunchNoiseCipher *sender = from_initiator ? i_send : r_send;
              PunchNoiseCipher *receiver = from_initiator ? r_recv : i_recv;

              g_byte_array_set_size (wire, g_bytes_get_size (payload) + PUNCH_NOISE_TAG_LEN);
              punch_noise_cipher_encrypt (sender, NULL, 0, g_bytes_get_data (payload, NULL),
                                          g_bytes_get_size (payload), wire->data, &error);
              g_assert_no_error (error);
              g_byte_array_set_size (back, wire->len - PUNCH_NOISE_TAG_LEN);
              punch_noise_cipher_decrypt (receiver, NULL, 0, wire->data, wire->len, back->data, &error);
              g_assert_no_error (error);
            }
          assert_bytes_equal (wire->data, wire->len, expected);
          assert_bytes_equal (back->data, back->len, payload);

          if (m == 2)
            {
              g_assert_true (punch_noise_handshake_is_finished (hi));
              g_assert_true (punch_noise_handshake_is_finished (hr));
              g_assert_cmpmem (punch_noise_handshake_get_hash (hi), PUNCH_NOISE_HASH_LEN,
                               punch_noise_handshake_get_hash (hr), PUNCH_NOISE_HASH_LEN);
              if (VECTORS[v].handshake_hash != NULL)
                {
                  g_autoptr (GBytes) h = hex_bytes (VECTORS[v].handshake_hash);

                  assert_bytes_equal (punch_noise_handshake_get_hash (hi), PUNCH_NOISE_HASH_LEN, h);
                }
              g_assert_cmpmem (punch_noise_handshake_get_remote_static (hr), PUNCH_NOISE_DH_LEN,
                               punch_noise_handshake_get_local_static (hi), PUNCH_NOISE_DH_LEN);
              punch_noise_handshake_split (hi, &i_send, &i_recv, &error);
              g_assert_no_error (error);
              punch_noise_handshake_split (hr, &r_send, &r_recv, &error);
              g_assert_no_error (error);
            }
        }
    }
}

static void
test_state_misuse (void)
{
  g_autoptr (PunchNoiseHandshake) hi = punch_noise_handshake_new (TRUE, NULL, 0, NULL);
  g_autoptr (PunchNoiseHandshake) hr = punch_noise_handshake_new (FALSE, NULL, 0, NULL);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (GByteArray) payload = g_byte_array_new ();
  g_autoptr (PunchNoiseCipher) send = NULL;
  g_autoptr (PunchNoiseCipher) recv = NULL;
  g_autoptr (GError) error = NULL;
  guint8 junk[32] = { 0 };

  /* The responder cannot speak first, nor the initiator listen first. */
  g_assert_false (punch_noise_handshake_write_message (hr, NULL, 0, out, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
  g_clear_error (&error);
  g_assert_false (punch_noise_handshake_read_message (hi, junk, sizeof junk, payload, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
  g_clear_error (&error);
  g_assert_false (punch_noise_handshake_split (hi, &send, &recv, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
  g_clear_error (&error);

  /* libp2p's first message: just the 32-byte ephemeral key. */
  g_assert_true (punch_noise_handshake_write_message (hi, NULL, 0, out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out->len, ==, 32);

  /* A first message shorter than a key is refused. */
  g_assert_false (punch_noise_handshake_read_message (hr, out->data, 31, payload, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
  g_clear_error (&error);
  /* and a failed handshake stays failed */
  g_assert_false (punch_noise_handshake_read_message (hr, out->data, out->len, payload, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
}

/* A message 2 whose encrypted static key was altered fails authentication. */
static void
test_state_tampered_message (void)
{
  for (gsize flip = 0; flip < 96; flip += 7)
    {
      g_autoptr (PunchNoiseHandshake) hi = punch_noise_handshake_new (TRUE, NULL, 0, NULL);
      g_autoptr (PunchNoiseHandshake) hr = punch_noise_handshake_new (FALSE, NULL, 0, NULL);
      g_autoptr (GByteArray) m1 = g_byte_array_new ();
      g_autoptr (GByteArray) m2 = g_byte_array_new ();
      g_autoptr (GByteArray) payload = g_byte_array_new ();
      g_autoptr (GError) error = NULL;

      punch_noise_handshake_write_message (hi, NULL, 0, m1, &error);
      g_assert_no_error (error);
      punch_noise_handshake_read_message (hr, m1->data, m1->len, payload, &error);
      g_assert_no_error (error);
      punch_noise_handshake_write_message (hr, (const guint8 *) "hi", 2, m2, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (m2->len, ==, 32 + 48 + 2 + 16);
      m2->data[flip] ^= 0x01;
      g_assert_false (punch_noise_handshake_read_message (hi, m2->data, m2->len, payload, &error));
      g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
      g_assert_cmpuint (payload->len, ==, 0);
    }
}

/* ---- the libp2p handshake over sockets ---- */

static void
test_handshake_basic (void)
{
  Pair pair = { 0 };

  handshake_pair (0, 1, 1, NULL, NULL, &pair);
  g_assert_no_error (pair.initiator_error);
  g_assert_no_error (pair.responder_error);
  g_assert_cmpstr (punch_peer_id_to_string (punch_noise_stream_get_remote_peer_id (pair.initiator)), ==, KEY_ID[1]);
  g_assert_cmpstr (punch_peer_id_to_string (punch_noise_stream_get_remote_peer_id (pair.responder)), ==, KEY_ID[0]);
  g_assert_cmpstr (punch_peer_id_to_string (punch_public_key_get_peer_id (
                     punch_noise_stream_get_remote_public_key (pair.responder))), ==, KEY_ID[0]);
  g_assert_null (punch_noise_stream_get_muxer (pair.initiator));
  g_assert_null (punch_noise_stream_get_muxer (pair.responder));
  g_assert_true (G_IS_SOCKET_CONNECTION (punch_noise_stream_get_base_stream (pair.initiator)));
  pair_clear (&pair);
}

static void
test_handshake_wrong_peer (void)
{
  Pair pair = { 0 };

  /* We dial key 2's peer, but key 1 answers. */
  handshake_pair (0, 1, 2, NULL, NULL, &pair);
  g_assert_error (pair.initiator_error, PUNCH_ERROR, PUNCH_ERROR_PEER_ID_MISMATCH);
  g_assert_nonnull (strstr (pair.initiator_error->message, KEY_ID[2]));
  g_assert_nonnull (strstr (pair.initiator_error->message, KEY_ID[1]));
  g_assert_true (strstr (pair.initiator_error->message, KEY_ID[2]) <
                 strstr (pair.initiator_error->message, KEY_ID[1]));
  g_assert_null (pair.initiator);
  /* The initiator hung up instead of sending message 3. */
  g_assert_null (pair.responder);
  g_assert_nonnull (pair.responder_error);
  pair_clear (&pair);
}

typedef struct
{
  const char *initiator[4];
  const char *responder[4];
  const char *chosen;
} MuxerCase;

static void
test_handshake_muxers (void)
{
  static const MuxerCase cases[] = {
    { { "/yamux/1.0.0", NULL }, { "/yamux/1.0.0", NULL }, "/yamux/1.0.0" },
    /* the initiator's order wins */
    { { "/yamux/1.0.0", "/mplex/6.7.0", NULL }, { "/mplex/6.7.0", "/yamux/1.0.0", NULL }, "/yamux/1.0.0" },
    { { "/mplex/6.7.0", "/yamux/1.0.0", NULL }, { "/yamux/1.0.0", "/mplex/6.7.0", NULL }, "/mplex/6.7.0" },
    { { "/a", "/b", "/c", NULL }, { "/c", "/b", NULL }, "/b" },
    /* no overlap, or one side silent: multistream decides later */
    { { "/yamux/1.0.0", NULL }, { "/mplex/6.7.0", NULL }, NULL },
    { { NULL }, { "/yamux/1.0.0", NULL }, NULL },
    { { "/yamux/1.0.0", NULL }, { NULL }, NULL },
    { { NULL }, { NULL }, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Pair pair = { 0 };

      handshake_pair (0, 1, -1, cases[i].initiator, cases[i].responder, &pair);
      g_assert_no_error (pair.initiator_error);
      g_assert_no_error (pair.responder_error);
      g_assert_cmpstr (punch_noise_stream_get_muxer (pair.initiator), ==, cases[i].chosen);
      g_assert_cmpstr (punch_noise_stream_get_muxer (pair.responder), ==, cases[i].chosen);
      pair_clear (&pair);
    }

  /* The same rule, directly. */
  {
    const char *const init[] = { "/x", "/y", NULL };
    const char *const resp[] = { "/y", "/x", NULL };
    g_autofree char *chosen = punch_noise_payload_choose_muxer (init, resp);

    g_assert_cmpstr (chosen, ==, "/x");
  }
}

/* A scripted remote: whatever bytes it sends in place of the real peer's
 * handshake messages, our side must fail cleanly with a clear error. */
typedef struct
{
  const char *name;
  gboolean    we_initiate;
  const char *script_hex;          /* bytes the remote sends */
  gboolean    then_eof;
  GQuark      domain;
  int         code;
} GarbageCase;

static void
test_handshake_garbage (void)
{
  GarbageCase cases[] = {
    { "eof-before-msg2", TRUE, "", TRUE, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED },
    { "half-length-prefix", TRUE, "00", TRUE, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT },
    { "max-length-then-eof", TRUE, "ffff0102030405", TRUE, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT },
    { "empty-msg2", TRUE, "0000", FALSE, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL },
    { "short-msg2", TRUE, "000a00112233445566778899", FALSE, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL },
    { "garbage-msg2", TRUE,
      "0060"
      "1111111111111111111111111111111111111111111111111111111111111111"
      "2222222222222222222222222222222222222222222222222222222222222222"
      "3333333333333333333333333333333333333333333333333333333333333333",
      FALSE, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL },
    /* an all-zero ephemeral key is a low-order point */
    { "zero-key-msg2", TRUE,
      "0060"
      "0000000000000000000000000000000000000000000000000000000000000000"
      "2222222222222222222222222222222222222222222222222222222222222222"
      "3333333333333333333333333333333333333333333333333333333333333333",
      FALSE, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL },
    { "eof-before-msg1", FALSE, "", TRUE, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED },
    { "short-msg1", FALSE, "0005aabbccddee", FALSE, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL },
    { "truncated-msg1", FALSE, "0020aabbccdd", TRUE, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GIOStream) ours = NULL;
      g_autoptr (GIOStream) theirs = NULL;
      g_autoptr (GSocket) their_socket = NULL;
      g_autoptr (PunchPrivateKey) key = fixed_key (0);
      g_autoptr (GBytes) script = hex_bytes (cases[i].script_hex);
      g_autoptr (GAsyncResult) result = NULL;
      g_autoptr (PunchNoiseStream) stream = NULL;
      g_autoptr (GError) error = NULL;

      g_test_message ("case %s", cases[i].name);
      socket_pair (&ours, &theirs, &their_socket);
      /* The scripted side uses blocking calls: bound them. */
      g_socket_set_timeout (their_socket, DEADLINE_S);
      g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (theirs),
                                                g_bytes_get_data (script, NULL), g_bytes_get_size (script),
                                                NULL, NULL, &error));
      g_assert_no_error (error);
      if (cases[i].then_eof)
        {
          g_socket_shutdown (their_socket, FALSE, TRUE, &error);
          g_assert_no_error (error);
        }

      punch_noise_stream_handshake_async (ours, cases[i].we_initiate, key, NULL, NULL, NULL,
                                          store_result, &result);
      await_result (&result);
      stream = punch_noise_stream_handshake_finish (result, &error);
      g_assert_null (stream);
      g_assert_error (error, cases[i].domain, cases[i].code);
      g_test_message ("  -> %s", error->message);

      if (cases[i].we_initiate)
        {
          guint8 msg1[64];
          gsize got = 0;

          /* Our message 1 went out first: 2-byte length 32 and the key; then
           * we closed the connection. */
          g_clear_error (&error);
          g_assert_true (g_input_stream_read_all (g_io_stream_get_input_stream (theirs), msg1, sizeof msg1,
                                                  &got, NULL, &error));
          g_assert_no_error (error);
          g_assert_cmpuint (got, ==, 34);
          g_assert_cmpuint (msg1[0], ==, 0);
          g_assert_cmpuint (msg1[1], ==, 32);
        }
    }
}

typedef enum
{
  FORGE_SIGNED_OTHER_STATIC,   /* identity signature over another static key */
  FORGE_NOT_PROTOBUF,          /* payload bytes that are no protobuf */
  FORGE_NO_IDENTITY,           /* an empty payload */
} Forgery;

/* A responder that follows Noise but lies in its libp2p payload: the
 * initiator must refuse it before sending message 3. */
static void
test_handshake_forged_payload (void)
{
  static const struct {
    Forgery forgery;
    int     code;
  } cases[] = {
    { FORGE_SIGNED_OTHER_STATIC, PUNCH_ERROR_BAD_SIGNATURE },
    { FORGE_NOT_PROTOBUF, PUNCH_ERROR_MALFORMED },
    { FORGE_NO_IDENTITY, PUNCH_ERROR_PROTOCOL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GIOStream) ours = NULL;
      g_autoptr (GIOStream) theirs = NULL;
      g_autoptr (GSocket) their_socket = NULL;
      g_autoptr (PunchPrivateKey) our_key = fixed_key (0);
      g_autoptr (PunchPrivateKey) their_key = fixed_key (1);
      g_autoptr (PunchNoiseHandshake) responder = punch_noise_handshake_new (FALSE, NULL, 0, NULL);
      g_autoptr (GByteArray) ignored = g_byte_array_new ();
      g_autoptr (GByteArray) msg2 = g_byte_array_new ();
      g_autoptr (GBytes) payload = NULL;
      g_autoptr (GAsyncResult) result = NULL;
      g_autoptr (PunchNoiseStream) stream = NULL;
      g_autoptr (GError) error = NULL;
      guint8 msg1[34];
      guint8 other_static[32];
      guint8 rest[16];
      gsize got = 0;

      socket_pair (&ours, &theirs, &their_socket);
      g_socket_set_timeout (their_socket, DEADLINE_S);
      punch_noise_stream_handshake_async (ours, TRUE, our_key, punch_private_key_get_peer_id (their_key),
                                          NULL, NULL, store_result, &result);
      /* Message 1 is written as the handshake starts; this blocking read
       * is bounded by the socket timeout. */
      g_assert_true (g_input_stream_read_all (g_io_stream_get_input_stream (theirs), msg1, sizeof msg1,
                                              &got, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (got, ==, sizeof msg1);
      g_assert_true (punch_noise_handshake_read_message (responder, msg1 + 2, 32, ignored, &error));

      memset (other_static, 0x77, sizeof other_static);
      switch (cases[i].forgery)
        {
        case FORGE_SIGNED_OTHER_STATIC:
          payload = punch_noise_payload_build (their_key, other_static, NULL, &error);
          break;
        case FORGE_NOT_PROTOBUF:
          payload = g_bytes_new_static ("\xff\xff\xff\xff", 4);
          break;
        case FORGE_NO_IDENTITY:
          payload = g_bytes_new_static ("", 0);
          break;
        default:
          g_assert_not_reached ();
        }
      g_assert_no_error (error);
      g_byte_array_set_size (msg2, 2);
      g_assert_true (punch_noise_handshake_write_message (responder, g_bytes_get_data (payload, NULL),
                                                         g_bytes_get_size (payload), msg2, &error));
      msg2->data[0] = (guint8) ((msg2->len - 2) >> 8);
      msg2->data[1] = (guint8) (msg2->len - 2);
      g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (theirs), msg2->data, msg2->len,
                                                NULL, NULL, &error));

      await_result (&result);
      stream = punch_noise_stream_handshake_finish (result, &error);
      g_assert_null (stream);
      g_assert_error (error, PUNCH_ERROR, cases[i].code);
      g_test_message ("%s", error->message);
      g_clear_error (&error);

      /* No message 3 followed: the initiator hung up. */
      g_assert_true (g_input_stream_read_all (g_io_stream_get_input_stream (theirs), rest, sizeof rest,
                                              &got, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (got, ==, 0);
    }
}

static void
test_handshake_cancelled (void)
{
  g_autoptr (GIOStream) ours = NULL;
  g_autoptr (GIOStream) theirs = NULL;
  g_autoptr (PunchPrivateKey) key = fixed_key (0);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PunchNoiseStream) stream = NULL;
  g_autoptr (GError) error = NULL;

  /* The remote never answers: cancelling must end the wait. */
  socket_pair (&ours, &theirs, NULL);
  punch_noise_stream_handshake_async (ours, TRUE, key, NULL, NULL, cancellable, store_result, &result);
  g_main_context_iteration (NULL, FALSE);
  g_cancellable_cancel (cancellable);
  await_result (&result);
  stream = punch_noise_stream_handshake_finish (result, &error);
  g_assert_null (stream);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* ---- transport ---- */

typedef struct
{
  GInputStream  *in;
  GOutputStream *out;
  GBytes        *to_send;
  gsize          sent;
  GBytes        *expected_data;    /* what the peer sends */
  gsize          received;
  guint8        *read_buf;
  gsize          read_size;
  gboolean       write_done;
  gboolean       read_done;
  GError        *error;
  guint         *remaining;
} Pump;

static void pump_write (Pump *pump);
static void pump_read (Pump *pump);

static void
pump_finish_part (Pump     *pump,
                  gboolean *flag)
{
  *flag = TRUE;
  (*pump->remaining)--;
}

static void
on_pump_written (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Pump *pump = user_data;
  gssize n = g_output_stream_write_finish (G_OUTPUT_STREAM (source), result, &pump->error);

  if (n <= 0)
    {
      g_assert_nonnull (pump->error);
      pump_finish_part (pump, &pump->write_done);
      return;
    }
  g_assert_cmpint (n, <=, PUNCH_NOISE_MAX_WRITE);
  pump->sent += (gsize) n;
  pump_write (pump);
}

static void
pump_write (Pump *pump)
{
  gsize total = g_bytes_get_size (pump->to_send);
  const guint8 *data = g_bytes_get_data (pump->to_send, NULL);

  if (pump->sent == total)
    {
      pump_finish_part (pump, &pump->write_done);
      return;
    }
  /* Odd sizes, up to 1 MiB, to exercise splitting into frames. */
  g_output_stream_write_async (pump->out, data + pump->sent, MIN (total - pump->sent, 1000003),
                               G_PRIORITY_DEFAULT, NULL, on_pump_written, pump);
}

static void
on_pump_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Pump *pump = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &pump->error);

  if (n <= 0)
    {
      if (n == 0)
        g_set_error_literal (&pump->error, G_IO_ERROR, G_IO_ERROR_CLOSED, "unexpected end of stream");
      pump_finish_part (pump, &pump->read_done);
      return;
    }
  /* Checked as it arrives, byte for byte, without storing it all. */
  if ((gsize) n > g_bytes_get_size (pump->expected_data) - pump->received ||
      memcmp (pump->read_buf, (const guint8 *) g_bytes_get_data (pump->expected_data, NULL) + pump->received,
              (gsize) n) != 0)
    {
      g_set_error (&pump->error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "received bytes differ from those sent, at offset %" G_GSIZE_FORMAT, pump->received);
      pump_finish_part (pump, &pump->read_done);
      return;
    }
  pump->received += (gsize) n;
  pump_read (pump);
}

static void
pump_read (Pump *pump)
{
  if (pump->received == g_bytes_get_size (pump->expected_data))
    {
      pump_finish_part (pump, &pump->read_done);
      return;
    }
  g_input_stream_read_async (pump->in, pump->read_buf, pump->read_size, G_PRIORITY_DEFAULT, NULL,
                             on_pump_read, pump);
}

static GBytes *
random_bytes (gsize   len,
              guint32 seed)
{
  guint64 x = 0x9e3779b97f4a7c15ull * (seed + 1);
  guint8 *buf = g_malloc (len + 8);

  /* xorshift64: fast enough for hundreds of MiB, reproducible per seed */
  for (gsize i = 0; i < len; i += 8)
    {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      memcpy (buf + i, &x, 8);
    }
  return g_bytes_new_take (buf, len);
}

static void
pump_init (Pump        *pump,
           GIOStream   *stream,
           GBytes      *to_send,
           GBytes      *expected,
           gsize        read_size,
           guint       *remaining)
{
  pump->in = g_io_stream_get_input_stream (stream);
  pump->out = g_io_stream_get_output_stream (stream);
  pump->to_send = g_bytes_ref (to_send);
  pump->expected_data = g_bytes_ref (expected);
  pump->read_size = read_size;
  pump->read_buf = g_malloc (read_size);
  pump->remaining = remaining;
}

static void
pump_clear (Pump *pump)
{
  g_clear_pointer (&pump->to_send, g_bytes_unref);
  g_clear_pointer (&pump->expected_data, g_bytes_unref);
  g_clear_pointer (&pump->read_buf, g_free);
  g_clear_error (&pump->error);
}

static double
transfer_both_ways (gpointer a,
                    gpointer b,
                    gsize    size,
                    gsize    read_size)
{
  g_autoptr (GBytes) a_data = random_bytes (size, 1);
  g_autoptr (GBytes) b_data = random_bytes (size, 2);
  Pump pa = { 0 };
  Pump pb = { 0 };
  guint remaining = 4;
  gboolean done = FALSE;
  gint64 start;
  clock_t cpu_start;
  double seconds;

  pump_init (&pa, G_IO_STREAM (a), a_data, b_data, read_size, &remaining);
  pump_init (&pb, G_IO_STREAM (b), b_data, a_data, read_size, &remaining);

  start = g_get_monotonic_time ();
  cpu_start = clock ();
  /* Reads go pending first, as a muxer's would, then the writes start. */
  pump_read (&pa);
  pump_read (&pb);
  pump_write (&pa);
  pump_write (&pb);
  {
    gboolean expired = FALSE;
    guint id = g_timeout_add_seconds (DEADLINE_S, on_deadline, &expired);

    while (remaining > 0 && !expired)
      g_main_context_iteration (NULL, TRUE);
    if (!expired)
      g_source_remove (id);
    done = remaining == 0;
  }
  seconds = (g_get_monotonic_time () - start) / 1e6;
  g_test_message ("transfer: %.3f s wall, %.3f s CPU", seconds,
                  (double) (clock () - cpu_start) / CLOCKS_PER_SEC);
  g_assert_true (done);

  g_assert_no_error (pa.error);
  g_assert_no_error (pb.error);
  g_assert_cmpuint (pa.sent, ==, size);
  g_assert_cmpuint (pb.sent, ==, size);
  g_assert_cmpuint (pa.received, ==, size);
  g_assert_cmpuint (pb.received, ==, size);

  pump_clear (&pa);
  pump_clear (&pb);
  return seconds;
}

static void
test_transfer (void)
{
  Pair pair = { 0 };
  const gsize size = 8 * 1024 * 1024;
  double seconds;

  handshake_pair (0, 1, 1, NULL, NULL, &pair);
  g_assert_no_error (pair.initiator_error);
  g_assert_no_error (pair.responder_error);

  seconds = transfer_both_ways (pair.initiator, pair.responder, size, 256 * 1024);
  g_test_message ("8 MiB each way in %.3f s: %.0f MB/s per direction",
                  seconds, size / seconds / 1e6);

  /* Small reads (a muxer reading 12-byte headers) split frames across calls. */
  seconds = transfer_both_ways (pair.initiator, pair.responder, 1024 * 1024 + 7, 12);
  g_test_message ("1 MiB each way in 12-byte reads: %.3f s", seconds);
  pair_clear (&pair);
}

static void
test_throughput (void)
{
  Pair pair = { 0 };
  g_autoptr (GIOStream) raw_a = NULL;
  g_autoptr (GIOStream) raw_b = NULL;
  const gsize size = 256 * 1024 * 1024;
  double seconds;
  double raw_seconds;

  if (!g_test_perf ())
    {
      g_test_skip ("throughput runs with -m perf");
      return;
    }
  /* The same pumps over the bare socket pair, for comparison. */
  socket_pair (&raw_a, &raw_b, NULL);
  raw_seconds = transfer_both_ways (raw_a, raw_b, size, 256 * 1024);

  handshake_pair (0, 1, 1, NULL, NULL, &pair);
  g_assert_no_error (pair.initiator_error);
  seconds = transfer_both_ways (pair.initiator, pair.responder, size, 256 * 1024);
  g_test_message ("raw socket pair: %.0f MB/s per direction", size / raw_seconds / 1e6);
  g_test_minimized_result (seconds, "256 MiB each way over Noise: %.0f MB/s per direction (%.0f%% of raw)",
                           size / seconds / 1e6, 100 * raw_seconds / seconds);
  pair_clear (&pair);
}

static void
test_write_limit (void)
{
  Pair pair = { 0 };
  g_autoptr (GBytes) data = random_bytes (4 * 1024 * 1024, 3);
  g_autoptr (GBytes) first = g_bytes_new_from_bytes (data, 0, PUNCH_NOISE_MAX_WRITE);
  g_autoptr (GBytes) nothing = g_bytes_new_static ("", 0);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  GOutputStream *out;
  Pump drain_pump = { 0 };
  guint remaining = 2;
  gboolean drained = FALSE;
  gssize n;

  handshake_pair (0, 1, 1, NULL, NULL, &pair);
  g_assert_no_error (pair.initiator_error);
  out = g_io_stream_get_output_stream (G_IO_STREAM (pair.initiator));

  /* The remote reads (and checks) what one write can carry, so the socket
   * buffer never stalls the write. */
  pump_init (&drain_pump, G_IO_STREAM (pair.responder), nothing, first, 65536, &remaining);
  pump_read (&drain_pump);
  pump_write (&drain_pump);

  g_output_stream_write_async (out, g_bytes_get_data (data, NULL), g_bytes_get_size (data),
                               G_PRIORITY_DEFAULT, NULL, store_result, &result);
  await_result (&result);
  n = g_output_stream_write_finish (out, result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, PUNCH_NOISE_MAX_WRITE);
  {
    gboolean expired = FALSE;
    guint id = g_timeout_add_seconds (DEADLINE_S, on_deadline, &expired);

    while (remaining > 0 && !expired)
      g_main_context_iteration (NULL, TRUE);
    if (!expired)
      g_source_remove (id);
    drained = remaining == 0;
  }
  g_assert_true (drained);
  g_assert_no_error (drain_pump.error);
  g_assert_cmpuint (drain_pump.received, ==, PUNCH_NOISE_MAX_WRITE);
  pump_clear (&drain_pump);

  /* Blocking writes are refused rather than run in a thread. */
  n = g_output_stream_write (out, "x", 1, NULL, &error);
  g_assert_cmpint (n, ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  pair_clear (&pair);
}

/* Raw bytes written under the Noise layer: the reader must fail with an
 * authentication error, not crash or hang. */
static void
test_transport_garbage (void)
{
  Pair pair = { 0 };
  GIOStream *base;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  guint8 frame[2 + 40];
  guint8 buf[64];
  gssize n;

  handshake_pair (0, 1, 1, NULL, NULL, &pair);
  g_assert_no_error (pair.initiator_error);
  base = punch_noise_stream_get_base_stream (pair.initiator);
  memset (frame, 0x5a, sizeof frame);
  frame[0] = 0;
  frame[1] = 40;
  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (base), frame, sizeof frame,
                                            NULL, NULL, &error));
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (pair.responder)), buf, sizeof buf,
                             G_PRIORITY_DEFAULT, NULL, store_result, &result);
  await_result (&result);
  n = g_input_stream_read_finish (g_io_stream_get_input_stream (G_IO_STREAM (pair.responder)), result, &error);
  g_assert_cmpint (n, ==, -1);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
  g_assert_cmpstr (error->message, ==, "Noise frame failed authentication");
  pair_clear (&pair);
}

static void
on_close_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (g_io_stream_close_finish (G_IO_STREAM (source), result, &error));
  g_assert_no_error (error);
  *(gboolean *) user_data = TRUE;
}

/* Closing with a read pending (as a muxer keeps one) ends the read with an
 * error; the remote sees the end of the stream. */
static void
test_close_pending_read (void)
{
  Pair pair = { 0 };
  g_autoptr (GAsyncResult) read_result = NULL;
  g_autoptr (GAsyncResult) remote_result = NULL;
  g_autoptr (GError) error = NULL;
  gboolean closed = FALSE;
  guint8 buf[16];
  guint8 remote_buf[16];
  gssize n;

  handshake_pair (0, 1, 1, NULL, NULL, &pair);
  g_assert_no_error (pair.initiator_error);
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (pair.initiator)), buf, sizeof buf,
                             G_PRIORITY_DEFAULT, NULL, store_result, &read_result);
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (pair.responder)),
                             remote_buf, sizeof remote_buf,
                             G_PRIORITY_DEFAULT, NULL, store_result, &remote_result);
  g_main_context_iteration (NULL, FALSE);
  g_io_stream_close_async (G_IO_STREAM (pair.initiator), G_PRIORITY_DEFAULT, NULL, on_close_done, &closed);
  await_flag (&closed);
  await_result (&read_result);
  n = g_input_stream_read_finish (g_io_stream_get_input_stream (G_IO_STREAM (pair.initiator)),
                                  read_result, &error);
  g_assert_cmpint (n, <=, 0);
  g_test_message ("pending read after close: %s", error ? error->message : "end of stream");
  g_clear_error (&error);

  await_result (&remote_result);
  n = g_input_stream_read_finish (g_io_stream_get_input_stream (G_IO_STREAM (pair.responder)),
                                  remote_result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 0);

  /* The idle half was closed along with the stream. */
  g_assert_true (g_output_stream_is_closed (g_io_stream_get_output_stream (G_IO_STREAM (pair.initiator))));
  g_assert_true (g_io_stream_is_closed (punch_noise_stream_get_base_stream (pair.initiator)));
  pair_clear (&pair);
}

/* Over a socket the input stream waits on the socket itself and follows the
 * read's cancellable: a cancelled read ends at once with
 * G_IO_ERROR_CANCELLED, and the next read (another cancellable) still gets
 * the data. */
static void
test_cancel_pending_read (void)
{
  Pair pair = { 0 };
  g_autoptr (GCancellable) first = g_cancellable_new ();
  g_autoptr (GCancellable) second = g_cancellable_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GAsyncResult) written = NULL;
  g_autoptr (GError) error = NULL;
  GInputStream *in;
  guint8 buf[16];
  gssize n;

  handshake_pair (0, 1, 1, NULL, NULL, &pair);
  g_assert_no_error (pair.initiator_error);
  g_assert_no_error (pair.responder_error);
  in = g_io_stream_get_input_stream (G_IO_STREAM (pair.initiator));

  g_input_stream_read_async (in, buf, sizeof buf, G_PRIORITY_DEFAULT, first, store_result, &result);
  for (guint i = 0; i < 3; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_null (result);
  g_cancellable_cancel (first);
  await_result (&result);
  n = g_input_stream_read_finish (in, result, &error);
  g_assert_cmpint (n, ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);

  g_input_stream_read_async (in, buf, sizeof buf, G_PRIORITY_DEFAULT, second, store_result, &result);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (pair.responder)), "hello", 5,
                                   G_PRIORITY_DEFAULT, NULL, store_result, &written);
  await_result (&written);
  await_result (&result);
  n = g_input_stream_read_finish (in, result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 5);
  g_assert_cmpmem (buf, 5, "hello", 5);
  pair_clear (&pair);
}

/* ---- the input stream against crafted frame sequences ---- */

static void
cipher_pair (PunchNoiseCipher **send,
             PunchNoiseCipher **recv)
{
  g_autoptr (PunchNoiseHandshake) hi = punch_noise_handshake_new (TRUE, NULL, 0, NULL);
  g_autoptr (PunchNoiseHandshake) hr = punch_noise_handshake_new (FALSE, NULL, 0, NULL);
  g_autoptr (PunchNoiseCipher) unused_a = NULL;
  g_autoptr (PunchNoiseCipher) unused_b = NULL;
  g_autoptr (GError) error = NULL;

  for (guint m = 0; m < 3; m++)
    {
      g_autoptr (GByteArray) wire = g_byte_array_new ();
      g_autoptr (GByteArray) payload = g_byte_array_new ();
      PunchNoiseHandshake *writer = m % 2 == 0 ? hi : hr;
      PunchNoiseHandshake *reader = m % 2 == 0 ? hr : hi;

      punch_noise_handshake_write_message (writer, NULL, 0, wire, &error);
      g_assert_no_error (error);
      punch_noise_handshake_read_message (reader, wire->data, wire->len, payload, &error);
      g_assert_no_error (error);
    }
  punch_noise_handshake_split (hi, send, &unused_a, &error);
  g_assert_no_error (error);
  punch_noise_handshake_split (hr, &unused_b, recv, &error);
  g_assert_no_error (error);
}

static void
append_frame (GByteArray       *wire,
              PunchNoiseCipher *send,
              const char       *text)
{
  gsize len = strlen (text);
  guint offset = wire->len;

  g_byte_array_set_size (wire, offset + 2 + len + PUNCH_NOISE_TAG_LEN);
  wire->data[offset] = (guint8) ((len + PUNCH_NOISE_TAG_LEN) >> 8);
  wire->data[offset + 1] = (guint8) (len + PUNCH_NOISE_TAG_LEN);
  g_assert_true (punch_noise_cipher_encrypt (send, NULL, 0, (const guint8 *) text, len,
                                             wire->data + offset + 2, NULL));
}

/* Reads @stream to its end or first error; returns what was delivered. */
static GByteArray *
drain (GInputStream *stream,
       gsize         chunk,
       GError      **error)
{
  GByteArray *all = g_byte_array_new ();
  g_autofree guint8 *buf = g_malloc (chunk);

  for (;;)
    {
      g_autoptr (GAsyncResult) result = NULL;
      gssize n;

      g_input_stream_read_async (stream, buf, chunk, G_PRIORITY_DEFAULT, NULL, store_result, &result);
      await_result (&result);
      n = g_input_stream_read_finish (stream, result, error);
      if (n <= 0)
        return all;
      g_byte_array_append (all, buf, (guint) n);
    }
}

typedef enum
{
  EDIT_NONE,
  EDIT_FLIP_CIPHERTEXT,     /* flip a bit in the last frame's ciphertext */
  EDIT_FLIP_TAG,            /* flip a bit in the last frame's tag */
  EDIT_DUPLICATE_LAST,      /* replay the last frame */
  EDIT_TRUNCATE_3,          /* cut 3 bytes off the end */
  EDIT_APPEND_HEX,          /* append raw bytes */
} Edit;

typedef struct
{
  const char *name;
  const char *frames[4];
  Edit        edit;
  const char *append_hex;
  const char *delivered;
  GQuark      domain;         /* 0 for a clean end of stream */
  int         code;
} FrameCase;

static void
test_frames (void)
{
  const FrameCase cases[] = {
    { "clean", { "hello, ", "world", NULL }, EDIT_NONE, NULL, "hello, world", 0, 0 },
    { "empty-frames-skipped", { "", "a", "", "b", }, EDIT_NONE, NULL, "ab", 0, 0 },
    { "flipped-ciphertext", { "first", "second", NULL }, EDIT_FLIP_CIPHERTEXT, NULL, "first",
      PUNCH_ERROR, PUNCH_ERROR_PROTOCOL },
    { "flipped-tag", { "first", "second", NULL }, EDIT_FLIP_TAG, NULL, "first",
      PUNCH_ERROR, PUNCH_ERROR_PROTOCOL },
    { "replayed-frame", { "once", NULL }, EDIT_DUPLICATE_LAST, NULL, "once",
      PUNCH_ERROR, PUNCH_ERROR_PROTOCOL },
    { "truncated-frame", { "whole", "cut short", NULL }, EDIT_TRUNCATE_3, NULL, "whole",
      G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT },
    { "max-length-then-eof", { "x", NULL }, EDIT_APPEND_HEX, "ffff00112233", "x",
      G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT },
    { "half-length-prefix", { "x", NULL }, EDIT_APPEND_HEX, "00", "x",
      G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT },
    { "shorter-than-tag", { "x", NULL }, EDIT_APPEND_HEX, "0005aabbccddee", "x",
      PUNCH_ERROR, PUNCH_ERROR_PROTOCOL },
    { "zero-length", { NULL }, EDIT_APPEND_HEX, "0000", "",
      PUNCH_ERROR, PUNCH_ERROR_PROTOCOL },
    { "garbage-frame", { "ok", NULL }, EDIT_APPEND_HEX,
      "00205a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a", "ok",
      PUNCH_ERROR, PUNCH_ERROR_PROTOCOL },
  };
  const gsize chunks[] = { 1, 3, 4096 };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    for (guint c = 0; c < G_N_ELEMENTS (chunks); c++)
      {
        g_autoptr (PunchNoiseCipher) send = NULL;
        g_autoptr (PunchNoiseCipher) recv = NULL;
        g_autoptr (GByteArray) wire = g_byte_array_new ();
        g_autoptr (GInputStream) memory = NULL;
        g_autoptr (PunchNoiseInputStream) stream = NULL;
        g_autoptr (GByteArray) got = NULL;
        g_autoptr (GError) error = NULL;
        guint last = 0;

        g_test_message ("case %s, reads of %" G_GSIZE_FORMAT, cases[i].name, chunks[c]);
        cipher_pair (&send, &recv);
        for (guint f = 0; f < G_N_ELEMENTS (cases[i].frames) && cases[i].frames[f] != NULL; f++)
          {
            last = wire->len;
            append_frame (wire, send, cases[i].frames[f]);
          }
        switch (cases[i].edit)
          {
          case EDIT_NONE:
            break;
          case EDIT_FLIP_CIPHERTEXT:
            wire->data[last + 2] ^= 0x80;
            break;
          case EDIT_FLIP_TAG:
            wire->data[wire->len - 1] ^= 0x01;
            break;
          case EDIT_DUPLICATE_LAST:
            {
              guint len = wire->len - last;
              g_autofree guint8 *copy = g_memdup2 (wire->data + last, len);

              g_byte_array_append (wire, copy, len);
            }
            break;
          case EDIT_TRUNCATE_3:
            g_byte_array_set_size (wire, wire->len - 3);
            break;
          case EDIT_APPEND_HEX:
            {
              g_autoptr (GBytes) extra = hex_bytes (cases[i].append_hex);

              g_byte_array_append (wire, g_bytes_get_data (extra, NULL), g_bytes_get_size (extra));
            }
            break;
          default:
            g_assert_not_reached ();
          }

        memory = g_memory_input_stream_new_from_data (g_memdup2 (wire->data, wire->len), wire->len, g_free);
        stream = punch_noise_input_stream_new (memory, NULL, g_steal_pointer (&recv));
        got = drain (G_INPUT_STREAM (stream), chunks[c], &error);
        g_assert_cmpmem (got->data, got->len, cases[i].delivered, strlen (cases[i].delivered));
        if (cases[i].domain == 0)
          g_assert_no_error (error);
        else
          g_assert_error (error, cases[i].domain, cases[i].code);
        if (error != NULL && cases[i].domain == PUNCH_ERROR && cases[i].edit != EDIT_APPEND_HEX)
          g_assert_cmpstr (error->message, ==, "Noise frame failed authentication");

        /* A failed stream keeps failing. */
        if (cases[i].domain == PUNCH_ERROR)
          {
            g_autoptr (GByteArray) again = NULL;

            g_clear_error (&error);
            again = drain (G_INPUT_STREAM (stream), chunks[c], &error);
            g_assert_cmpuint (again->len, ==, 0);
            g_assert_error (error, cases[i].domain, cases[i].code);
          }
      }
}

/* The output stream's frames are what the input stream expects, byte for
 * byte: lengths, splitting at 65519 bytes, nonces. */
static void
test_output_framing (void)
{
  g_autoptr (PunchNoiseCipher) send = NULL;
  g_autoptr (PunchNoiseCipher) recv = NULL;
  g_autoptr (GOutputStream) memory = g_memory_output_stream_new_resizable ();
  g_autoptr (PunchNoiseOutputStream) out = NULL;
  g_autoptr (GBytes) data = random_bytes (PUNCH_NOISE_MAX_PLAINTEXT * 2 + 100, 9);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) wire = NULL;
  const guint8 *w;
  gsize offset = 0;
  gsize plain_offset = 0;
  gssize n;
  guint frames = 0;

  cipher_pair (&send, &recv);
  out = punch_noise_output_stream_new (memory, g_steal_pointer (&send));
  g_output_stream_write_async (G_OUTPUT_STREAM (out), g_bytes_get_data (data, NULL), g_bytes_get_size (data),
                               G_PRIORITY_DEFAULT, NULL, store_result, &result);
  await_result (&result);
  n = g_output_stream_write_finish (G_OUTPUT_STREAM (out), result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, (gssize) g_bytes_get_size (data));

  g_output_stream_close (memory, NULL, NULL);
  wire = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (memory));
  w = g_bytes_get_data (wire, NULL);
  while (offset < g_bytes_get_size (wire))
    {
      gsize len = (gsize) w[offset] << 8 | w[offset + 1];
      g_autofree guint8 *plain = g_malloc (len);

      g_assert_cmpuint (len, <=, PUNCH_NOISE_MAX_MESSAGE);
      g_assert_true (punch_noise_cipher_decrypt (recv, NULL, 0, w + offset + 2, len, plain, &error));
      g_assert_no_error (error);
      g_assert_cmpmem (plain, len - PUNCH_NOISE_TAG_LEN,
                       (const guint8 *) g_bytes_get_data (data, NULL) + plain_offset, len - PUNCH_NOISE_TAG_LEN);
      plain_offset += len - PUNCH_NOISE_TAG_LEN;
      offset += 2 + len;
      frames++;
    }
  g_assert_cmpuint (frames, ==, 3);
  g_assert_cmpuint (plain_offset, ==, g_bytes_get_size (data));
  g_assert_cmpuint ((gsize) w[0] << 8 | w[1], ==, PUNCH_NOISE_MAX_MESSAGE);
}

/* ---- payload ---- */

static void
test_payload (void)
{
  g_autoptr (PunchPrivateKey) key = fixed_key (0);
  g_autoptr (PunchPrivateKey) other = fixed_key (1);
  const char *const muxers[] = { "/yamux/1.0.0", "/mplex/6.7.0", NULL };
  guint8 static_key[32];
  guint8 wrong_static[32];
  g_autoptr (GBytes) payload = NULL;
  g_autoptr (PunchPublicKey) remote = NULL;
  g_auto (GStrv) remote_muxers = NULL;
  g_autoptr (GError) error = NULL;
  const guint8 *p;
  gsize len;

  memset (static_key, 0x42, sizeof static_key);
  memset (wrong_static, 0x43, sizeof wrong_static);
  payload = punch_noise_payload_build (key, static_key, muxers, &error);
  g_assert_no_error (error);
  p = g_bytes_get_data (payload, &len);

  g_assert_true (punch_noise_payload_check (p, len, static_key, punch_private_key_get_peer_id (key),
                                            &remote, &remote_muxers, &error));
  g_assert_no_error (error);
  g_assert_true (punch_public_key_equal (remote, punch_private_key_get_public_key (key)));
  g_assert_cmpstrv (remote_muxers, muxers);
  g_clear_object (&remote);
  g_clear_pointer (&remote_muxers, g_strfreev);

  /* signed for another static key */
  g_assert_false (punch_noise_payload_check (p, len, wrong_static, NULL, &remote, NULL, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);

  /* another peer than expected */
  g_assert_false (punch_noise_payload_check (p, len, static_key, punch_private_key_get_peer_id (other),
                                             &remote, NULL, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PEER_ID_MISMATCH);
  g_assert_nonnull (strstr (error->message, KEY_ID[0]));
  g_assert_nonnull (strstr (error->message, KEY_ID[1]));
  g_clear_error (&error);

  /* truncated at every length (without extensions, no prefix is whole) */
  g_clear_pointer (&payload, g_bytes_unref);
  payload = punch_noise_payload_build (key, static_key, NULL, &error);
  g_assert_no_error (error);
  p = g_bytes_get_data (payload, &len);
  for (gsize cut = 0; cut < len; cut++)
    {
      gboolean ok = punch_noise_payload_check (p, cut, static_key, NULL, &remote, NULL, &error);

      g_assert_false (ok);
      g_assert_nonnull (error);
      g_clear_error (&error);
    }
  g_assert_true (punch_noise_payload_check (p, len, static_key, NULL, &remote, &remote_muxers, &error));
  g_assert_null (remote_muxers);
  g_clear_object (&remote);

  /* fields missing or oversized */
  {
    static const char *const bad[] = {
      "",                                 /* nothing: no identity key */
      "0a00",                             /* empty identity key */
      "0a0408011200",                     /* key but no signature */
      "0a24080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c1200",
      "0a0508011201001201aa",          /* malformed Ed25519 key */
      "0a84ff",                           /* overlong length */
    };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr (GBytes) b = hex_bytes (bad[i]);

        g_assert_false (punch_noise_payload_check (g_bytes_get_data (b, NULL), g_bytes_get_size (b),
                                                   static_key, NULL, &remote, NULL, &error));
        g_assert_true (error->domain == PUNCH_ERROR);
        g_clear_error (&error);
      }
  }
  {
    /* a 3000-byte identity key is refused before parsing */
    g_autoptr (GByteArray) big = g_byte_array_new ();
    static const guint8 head[] = { 0x0a, 0xb8, 0x17 };
    g_autofree guint8 *filler = g_malloc0 (3000);

    g_byte_array_append (big, head, sizeof head);
    g_byte_array_append (big, filler, 3000);
    g_assert_false (punch_noise_payload_check (big->data, big->len, static_key, NULL, &remote, NULL, &error));
    g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/noise/state/vectors", test_vectors);
  g_test_add_func ("/core/noise/state/misuse", test_state_misuse);
  g_test_add_func ("/core/noise/state/tampered-message", test_state_tampered_message);
  g_test_add_func ("/core/noise/payload", test_payload);
  g_test_add_func ("/core/noise/handshake/basic", test_handshake_basic);
  g_test_add_func ("/core/noise/handshake/wrong-peer-id", test_handshake_wrong_peer);
  g_test_add_func ("/core/noise/handshake/muxers", test_handshake_muxers);
  g_test_add_func ("/core/noise/handshake/garbage", test_handshake_garbage);
  g_test_add_func ("/core/noise/handshake/forged-payload", test_handshake_forged_payload);
  g_test_add_func ("/core/noise/handshake/cancelled", test_handshake_cancelled);
  g_test_add_func ("/core/noise/transport/frames", test_frames);
  g_test_add_func ("/core/noise/transport/output-framing", test_output_framing);
  g_test_add_func ("/core/noise/transport/transfer", test_transfer);
  g_test_add_func ("/core/noise/transport/write-limit", test_write_limit);
  g_test_add_func ("/core/noise/transport/garbage", test_transport_garbage);
  g_test_add_func ("/core/noise/transport/close-pending-read", test_close_pending_read);
  g_test_add_func ("/core/noise/transport/cancel-pending-read", test_cancel_pending_read);
  g_test_add_func ("/core/noise/transport/throughput", test_throughput);

  return g_test_run ();
}
