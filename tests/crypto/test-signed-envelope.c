/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-signed-envelope.h"

#include "crypto-test-util.h"
#include "punch-error.h"
#include "punch-key-private.h"

#define RFC8032_KEYPAIR "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60" \
                        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define RFC8032_PUBLIC  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

static const guint8 record_type[] = { 0x03, 0x01 };

/* Made by js-libp2p 3 (@libp2p/peer-record): a PeerRecord (seq 7,
 * /ip4/127.0.0.1/tcp/4001) sealed with RFC 8032's test key 1, and one sealed
 * with a secp256k1 key. */
#define JS_ENVELOPE \
  "0a2408011220d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a120203011a360a260024" \
  "08011220d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a10071a0a0a08047f00000106" \
  "0fa12a4034d4e607b6c88f86e068bfff486a2014999ea9401f0ddd7156ed2b196f1729350a8d649436d4b789c4bd26b3" \
  "e362d91bf1657e2103eb045d830ced507d8ccf02"
#define JS_ENVELOPE_PAYLOAD \
  "0a26002408011220d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a10071a0a0a08047f" \
  "000001060fa1"
#define JS_ENVELOPE_SECP256K1 \
  "0a25080212210200e8332619fb74dec4c86c3102cb9e9d90368a4737df61c0fb0c93cc871e8871120203011a2b0a2700" \
  "25080212210200e8332619fb74dec4c86c3102cb9e9d90368a4737df61c0fb0c93cc871e887110012a473045022100c0" \
  "b5ea28705b484eda958241905776bb15771c2b56224a670bca33058ca96447022061758b27f5d5ef418f0b73345680c6" \
  "c0ef5af8f03f38a34fdeea6e90ea457542"


static PunchPrivateKey *
fixed_key (void)
{
  g_autoptr (GBytes) raw = test_from_hex (RFC8032_KEYPAIR);
  g_autoptr (GBytes) encoded = test_encode_key (1, g_bytes_get_data (raw, NULL), g_bytes_get_size (raw));
  g_autoptr (GError) error = NULL;
  PunchPrivateKey *key = punch_private_key_new_from_protobuf (g_bytes_get_data (encoded, NULL),
                                                              g_bytes_get_size (encoded), &error);

  g_assert_no_error (error);
  return key;
}

static GBytes *
seal (PunchPrivateKey *key, const char *domain, const guint8 *type, gsize type_len, const char *payload)
{
  g_autoptr (GBytes) bytes = g_bytes_new (payload, strlen (payload));
  g_autoptr (GError) error = NULL;
  GBytes *sealed = punch_signed_envelope_seal (key, domain, type, type_len, bytes, &error);

  g_assert_no_error (error);
  g_assert_nonnull (sealed);
  return sealed;
}

static void
assert_open_fails (GBytes *sealed, const char *domain, gint code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchSignedEnvelope) env = NULL;

  env = punch_signed_envelope_open (g_bytes_get_data (sealed, NULL), g_bytes_get_size (sealed),
                                    domain, &error);
  g_assert_null (env);
  g_assert_error (error, PUNCH_ERROR, code);
  g_assert_cmpuint (ERR_peek_error (), ==, 0);
}

static void
test_round_trip (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = punch_private_key_generate (&error);
  g_autoptr (GBytes) sealed = NULL;
  g_autoptr (PunchSignedEnvelope) env = NULL;
  PunchPublicKey *signer;

  g_assert_no_error (error);
  sealed = seal (key, PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, record_type, sizeof record_type, "hello");
  env = punch_signed_envelope_open (g_bytes_get_data (sealed, NULL), g_bytes_get_size (sealed),
                                    PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, &error);
  g_assert_no_error (error);
  g_assert_nonnull (env);

  signer = punch_signed_envelope_get_public_key (env);
  g_assert_true (punch_public_key_equal (signer, punch_private_key_get_public_key (key)));
  g_assert_true (punch_peer_id_equal (punch_public_key_get_peer_id (signer),
                                      punch_private_key_get_peer_id (key)));
  g_assert_cmpmem (g_bytes_get_data (punch_signed_envelope_get_payload_type (env), NULL),
                   g_bytes_get_size (punch_signed_envelope_get_payload_type (env)),
                   record_type, sizeof record_type);
  g_assert_cmpmem (g_bytes_get_data (punch_signed_envelope_get_payload (env), NULL),
                   g_bytes_get_size (punch_signed_envelope_get_payload (env)), "hello", 5);
}

/* The exact bytes, built by hand: Ed25519 signatures are deterministic, so
 * the whole envelope is too. */
static void
test_encoding (void)
{
  g_autoptr (PunchPrivateKey) key = fixed_key ();
  g_autoptr (GBytes) sealed = seal (key, PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, record_type,
                                    sizeof record_type, "hello");
  g_autoptr (GBytes) keypair = test_from_hex (RFC8032_KEYPAIR);
  g_autoptr (GBytes) public_key = test_from_hex ("0a24" "08011220" RFC8032_PUBLIC);
  g_autoptr (GByteArray) to_sign = g_byte_array_new ();
  g_autoptr (GByteArray) expected = g_byte_array_new ();
  g_autoptr (EVP_PKEY) pkey = NULL;
  g_autoptr (GBytes) signature = NULL;
  const char *domain = PUNCH_ENVELOPE_DOMAIN_PEER_RECORD;

  /* uvarint(len) || domain || uvarint(len) || type || uvarint(len) || payload */
  test_append_varint (to_sign, strlen (domain));
  g_byte_array_append (to_sign, (const guint8 *) domain, (guint) strlen (domain));
  test_append_varint (to_sign, sizeof record_type);
  g_byte_array_append (to_sign, record_type, sizeof record_type);
  test_append_varint (to_sign, 5);
  g_byte_array_append (to_sign, (const guint8 *) "hello", 5);
  g_assert_cmpuint (to_sign->data[0], ==, 18);

  pkey = EVP_PKEY_new_raw_private_key (EVP_PKEY_ED25519, NULL, g_bytes_get_data (keypair, NULL), 32);
  g_assert_nonnull (pkey);
  signature = test_openssl_sign (pkey, to_sign->data, to_sign->len);

  g_byte_array_append (expected, g_bytes_get_data (public_key, NULL), (guint) g_bytes_get_size (public_key));
  g_byte_array_append (expected, (const guint8 *) "\x12\x02\x03\x01", 4);
  g_byte_array_append (expected, (const guint8 *) "\x1a\x05hello", 7);
  g_byte_array_append (expected, (const guint8 *) "\x2a\x40", 2);
  g_byte_array_append (expected, g_bytes_get_data (signature, NULL), 64);

  g_assert_cmpmem (g_bytes_get_data (sealed, NULL), g_bytes_get_size (sealed),
                   expected->data, expected->len);
}

/* proto3 leaves empty fields off the wire; they still take part in the
 * signature as empty strings. */
static void
test_empty_fields (void)
{
  g_autoptr (PunchPrivateKey) key = fixed_key ();
  g_autoptr (GBytes) sealed = seal (key, PUNCH_ENVELOPE_DOMAIN_RELAY_RSVP, NULL, 0, "");
  g_autoptr (PunchSignedEnvelope) env = NULL;
  g_autoptr (GError) error = NULL;
  const guint8 *data;
  gsize len;

  data = g_bytes_get_data (sealed, &len);
  g_assert_cmpuint (len, ==, 38 + 2 + 64);
  g_assert_cmpuint (data[38], ==, 0x2a);

  env = punch_signed_envelope_open (data, len, PUNCH_ENVELOPE_DOMAIN_RELAY_RSVP, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (punch_signed_envelope_get_payload (env)), ==, 0);
  g_assert_cmpuint (g_bytes_get_size (punch_signed_envelope_get_payload_type (env)), ==, 0);
  assert_open_fails (sealed, PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, PUNCH_ERROR_BAD_SIGNATURE);
}

static void
test_wrong_domain (void)
{
  g_autoptr (PunchPrivateKey) key = fixed_key ();
  g_autoptr (GBytes) sealed = seal (key, PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, record_type,
                                    sizeof record_type, "hello");

  assert_open_fails (sealed, PUNCH_ENVELOPE_DOMAIN_RELAY_RSVP, PUNCH_ERROR_BAD_SIGNATURE);
  assert_open_fails (sealed, "", PUNCH_ERROR_BAD_SIGNATURE);
  assert_open_fails (sealed, "libp2p-peer-recorD", PUNCH_ERROR_BAD_SIGNATURE);
}

/* Flips one bit in each region of the envelope. */
static void
test_tampered (void)
{
  g_autoptr (PunchPrivateKey) key = fixed_key ();
  g_autoptr (GBytes) sealed = seal (key, PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, record_type,
                                    sizeof record_type, "hello");
  struct
  {
    const char *what;
    gsize       offset;
    gint        code;
  } cases[] = {
    { "public key", 10, PUNCH_ERROR_BAD_SIGNATURE },
    { "payload type", 41, PUNCH_ERROR_BAD_SIGNATURE },
    { "payload", 46, PUNCH_ERROR_BAD_SIGNATURE },
    { "signature start", 51, PUNCH_ERROR_BAD_SIGNATURE },
    { "signature end", 114, PUNCH_ERROR_BAD_SIGNATURE },
    { "key type", 3, PUNCH_ERROR_MALFORMED },
  };

  g_assert_cmpuint (g_bytes_get_size (sealed), ==, 115);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) bad = test_flip (sealed, cases[i].offset, 0);

      g_test_message ("tampered %s", cases[i].what);
      assert_open_fails (bad, PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, cases[i].code);
    }
}

/* Another peer's key substituted: the signature no longer matches. */
static void
test_substituted_key (void)
{
  g_autoptr (PunchPrivateKey) key = fixed_key ();
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) other = punch_private_key_generate (&error);
  g_autoptr (GBytes) sealed = seal (key, PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, record_type,
                                    sizeof record_type, "hello");
  GBytes *other_pub = punch_public_key_get_protobuf (punch_private_key_get_public_key (other));
  guint8 *copy = g_memdup2 (g_bytes_get_data (sealed, NULL), g_bytes_get_size (sealed));
  g_autoptr (GBytes) bad = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (other_pub), ==, 36);
  memcpy (copy + 2, g_bytes_get_data (other_pub, NULL), 36);
  bad = g_bytes_new_take (copy, g_bytes_get_size (sealed));
  assert_open_fails (bad, PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, PUNCH_ERROR_BAD_SIGNATURE);
}

/* An envelope from a peer with a secp256k1 identity, made with OpenSSL alone. */
static void
test_foreign_secp256k1 (void)
{
  g_autoptr (EVP_PKEY) pkey = test_keygen_ec ("secp256k1");
  g_autoptr (GBytes) point = test_secp256k1_compressed (pkey);
  g_autoptr (GBytes) public_key = test_encode_key (2, g_bytes_get_data (point, NULL), g_bytes_get_size (point));
  g_autoptr (GByteArray) to_sign = g_byte_array_new ();
  g_autoptr (GByteArray) envelope = g_byte_array_new ();
  g_autoptr (GBytes) signature = NULL;
  g_autoptr (GBytes) sealed = NULL;
  g_autoptr (PunchSignedEnvelope) env = NULL;
  g_autoptr (GError) error = NULL;
  const char *domain = PUNCH_ENVELOPE_DOMAIN_RELAY_RSVP;
  static const guint8 voucher_type[] = { 0x03, 0x02 };
  static const guint8 payload[] = { 0x0a, 0x02, 0xaa, 0xbb };

  test_append_varint (to_sign, strlen (domain));
  g_byte_array_append (to_sign, (const guint8 *) domain, (guint) strlen (domain));
  test_append_varint (to_sign, sizeof voucher_type);
  g_byte_array_append (to_sign, voucher_type, sizeof voucher_type);
  test_append_varint (to_sign, sizeof payload);
  g_byte_array_append (to_sign, payload, sizeof payload);
  signature = test_openssl_sign (pkey, to_sign->data, to_sign->len);

  g_byte_array_append (envelope, (const guint8 *) "\x0a", 1);
  test_append_varint (envelope, g_bytes_get_size (public_key));
  g_byte_array_append (envelope, g_bytes_get_data (public_key, NULL), (guint) g_bytes_get_size (public_key));
  g_byte_array_append (envelope, (const guint8 *) "\x12\x02", 2);
  g_byte_array_append (envelope, voucher_type, sizeof voucher_type);
  g_byte_array_append (envelope, (const guint8 *) "\x1a", 1);
  test_append_varint (envelope, sizeof payload);
  g_byte_array_append (envelope, payload, sizeof payload);
  g_byte_array_append (envelope, (const guint8 *) "\x2a", 1);
  test_append_varint (envelope, g_bytes_get_size (signature));
  g_byte_array_append (envelope, g_bytes_get_data (signature, NULL), (guint) g_bytes_get_size (signature));
  sealed = g_bytes_new (envelope->data, envelope->len);

  env = punch_signed_envelope_open (envelope->data, envelope->len, domain, &error);
  g_assert_no_error (error);
  g_assert_cmpint (punch_public_key_get_key_type (punch_signed_envelope_get_public_key (env)), ==,
                   PUNCH_KEY_TYPE_SECP256K1);
  g_assert_cmpmem (g_bytes_get_data (punch_signed_envelope_get_payload (env), NULL),
                   g_bytes_get_size (punch_signed_envelope_get_payload (env)), payload, sizeof payload);

  assert_open_fails (sealed, PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, PUNCH_ERROR_BAD_SIGNATURE);
  {
    /* The last payload byte sits right before the signature's tag. */
    gsize payload_end = envelope->len - g_bytes_get_size (signature) - 3;
    g_autoptr (GBytes) bad = test_flip (sealed, payload_end, 3);

    assert_open_fails (bad, domain, PUNCH_ERROR_BAD_SIGNATURE);
  }
}

static void
test_bad_input (void)
{
  g_autoptr (PunchPrivateKey) key = fixed_key ();
  g_autoptr (GBytes) sealed = seal (key, PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, record_type,
                                    sizeof record_type, "hello");
  g_autofree guint8 *big = g_malloc0 (PUNCH_ENVELOPE_MAX_LEN + 1);
  struct
  {
    const char *name;
    GBytes     *data;
    gint        code;
  } cases[] = {
    { "empty", g_bytes_new (NULL, 0), PUNCH_ERROR_MALFORMED },
    { "garbage", test_from_hex ("ffffffffffffffff"), PUNCH_ERROR_MALFORMED },
    { "truncated", g_bytes_new_from_bytes (sealed, 0, g_bytes_get_size (sealed) - 1), PUNCH_ERROR_MALFORMED },
    { "public key only", g_bytes_new_from_bytes (sealed, 0, 38), PUNCH_ERROR_BAD_SIGNATURE },
    { "no public key", g_bytes_new_from_bytes (sealed, 38, g_bytes_get_size (sealed) - 38), PUNCH_ERROR_MALFORMED },
    { "empty public key", test_from_hex ("0a00"), PUNCH_ERROR_MALFORMED },
    { "unknown key type", test_from_hex ("0a0408091200"), PUNCH_ERROR_UNSUPPORTED },
    { "bad ed25519 key", test_from_hex ("0a050801120100"), PUNCH_ERROR_MALFORMED },
    { "empty signature", test_from_hex ("0a24" "08011220" RFC8032_PUBLIC "2a00"), PUNCH_ERROR_BAD_SIGNATURE },
    { "short signature", test_from_hex ("0a24" "08011220" RFC8032_PUBLIC "2a0100"), PUNCH_ERROR_BAD_SIGNATURE },
    { "oversized", g_bytes_new (big, PUNCH_ENVELOPE_MAX_LEN + 1), PUNCH_ERROR_TOO_LARGE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case %s", cases[i].name);
      assert_open_fails (cases[i].data, PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, cases[i].code);
      g_bytes_unref (cases[i].data);
    }
}

/* What we seal we can open: a payload that would not fit is refused. */
static void
test_seal_too_large (void)
{
  g_autoptr (PunchPrivateKey) key = fixed_key ();
  g_autofree guint8 *big = g_malloc0 (PUNCH_ENVELOPE_MAX_LEN);
  g_autoptr (GBytes) payload = g_bytes_new (big, PUNCH_ENVELOPE_MAX_LEN - 50);
  g_autoptr (GBytes) fits = g_bytes_new (big, PUNCH_ENVELOPE_MAX_LEN - 120);
  g_autoptr (GBytes) sealed = NULL;
  g_autoptr (PunchSignedEnvelope) env = NULL;
  g_autoptr (GError) error = NULL;

  sealed = punch_signed_envelope_seal (key, PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, record_type,
                                       sizeof record_type, payload, &error);
  g_assert_null (sealed);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
  g_clear_error (&error);

  sealed = punch_signed_envelope_seal (key, PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, record_type,
                                       sizeof record_type, fits, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (sealed), <=, PUNCH_ENVELOPE_MAX_LEN);
  env = punch_signed_envelope_open (g_bytes_get_data (sealed, NULL), g_bytes_get_size (sealed),
                                    PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (punch_signed_envelope_get_payload (env), fits));
}

static void
test_js_vectors (void)
{
  g_autoptr (GBytes) js = test_from_hex (JS_ENVELOPE);
  g_autoptr (GBytes) js_payload = test_from_hex (JS_ENVELOPE_PAYLOAD);
  g_autoptr (GBytes) js_k1 = test_from_hex (JS_ENVELOPE_SECP256K1);
  g_autoptr (PunchPrivateKey) key = fixed_key ();
  g_autoptr (PunchSignedEnvelope) env = NULL;
  g_autoptr (PunchSignedEnvelope) env_k1 = NULL;
  g_autoptr (GBytes) ours = NULL;
  g_autoptr (GError) error = NULL;

  env = punch_signed_envelope_open (g_bytes_get_data (js, NULL), g_bytes_get_size (js),
                                    PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (punch_signed_envelope_get_payload (env), js_payload));
  g_assert_true (punch_public_key_equal (punch_signed_envelope_get_public_key (env),
                                         punch_private_key_get_public_key (key)));

  /* Same key, same payload: the same bytes as js-libp2p, to the last one. */
  ours = punch_signed_envelope_seal (key, PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, record_type,
                                     sizeof record_type, js_payload, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (ours, NULL), g_bytes_get_size (ours),
                   g_bytes_get_data (js, NULL), g_bytes_get_size (js));

  env_k1 = punch_signed_envelope_open (g_bytes_get_data (js_k1, NULL), g_bytes_get_size (js_k1),
                                       PUNCH_ENVELOPE_DOMAIN_PEER_RECORD, &error);
  g_assert_no_error (error);
  g_assert_cmpint (punch_public_key_get_key_type (punch_signed_envelope_get_public_key (env_k1)), ==,
                   PUNCH_KEY_TYPE_SECP256K1);
  assert_open_fails (js_k1, PUNCH_ENVELOPE_DOMAIN_RELAY_RSVP, PUNCH_ERROR_BAD_SIGNATURE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/signed-envelope/round-trip", test_round_trip);
  g_test_add_func ("/core/signed-envelope/encoding", test_encoding);
  g_test_add_func ("/core/signed-envelope/empty-fields", test_empty_fields);
  g_test_add_func ("/core/signed-envelope/wrong-domain", test_wrong_domain);
  g_test_add_func ("/core/signed-envelope/tampered", test_tampered);
  g_test_add_func ("/core/signed-envelope/substituted-key", test_substituted_key);
  g_test_add_func ("/core/signed-envelope/foreign-secp256k1", test_foreign_secp256k1);
  g_test_add_func ("/core/signed-envelope/bad-input", test_bad_input);
  g_test_add_func ("/core/signed-envelope/seal-too-large", test_seal_too_large);
  g_test_add_func ("/core/signed-envelope/js-libp2p-vectors", test_js_vectors);

  return g_test_run ();
}
