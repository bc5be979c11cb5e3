/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-public-key.h"

#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "crypto-test-util.h"
#include "punch-error.h"
#include "punch-key-private.h"
#include "punch-private-key.h"

#define SPEC_KEY_HEX "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
#define SPEC_ID_B58 "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
#define SPEC_ID_CID "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6"

static const guint8 message[] = "libp2p signs this";

/* Made by js-libp2p 3 (@libp2p/crypto 5.1.23): keys, their peer IDs and
 * signatures over JS_MESSAGE. The Ed25519 key is RFC 8032's test key 1. */
#define JS_MESSAGE "punchline interop vector"
#define JS_ED25519_PUBLIC \
  "08011220d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define JS_ED25519_SIG \
  "2dbd9760fb19f2bbedd86454efde5eb21108fa7cda8696fff8119a670795d16c3297449cd312d1549a3ef20c91d80e32" \
  "8ad60611c90f92ce68e34155e7130f0e"
#define JS_SECP256K1_PUBLIC \
  "08021221026bfcbbc943c0a06e9b822fee57343c7715db564084b498cfc47231cb01c53f84"
#define JS_SECP256K1_SIG \
  "3045022100aeb61d113612431d9f6c52bdd4862c5f8932ed6cc1985d1b44867b120d8291ca02203e2d80309e92c535e9" \
  "5b1d81f43f5faececb1a3beb309eba6c5341167b59ddf4"
#define JS_RSA_PUBLIC \
  "080012a60230820122300d06092a864886f70d01010105000382010f003082010a0282010100af6c88ed0936061f6b14" \
  "28ecf419c1917898ef847ce5d85b283f4c9a3da7700c1d7d3c9777b96e7ce1d44339d13cf6eb956441ee7de130e20ef1" \
  "4bfc881bc99951228d933c9297e0e633ea537fe1ec494fffbf6ffd765548561db63ea0657c9c403260b38b504957ced0" \
  "55b9683d460ef37d1eb0baa497f2f54580ef3eaf1f3496c802c0d1be62871fb7d3357ac1c2ab3f450f6722b14f06c5e8" \
  "907a44db911bc334ea910e8a165542d20e80f52d96b3fd619fe5bd8482e474e3c30c56be1c0c97416398aeeb0a961543" \
  "042c92ea77b3a033386153091c3f1f4c12914bddc143e29f4f68b75ec2c0d6e5a51c1c07f59094e3924cad3b661c3bbb" \
  "6b77d67606f50203010001"
#define JS_RSA_SIG \
  "28cb39e2d460f877310bc03196cee242d697d99eba52c03555fce1ba8a4f7e571fdc7bdc6dde7b8e45440f70fba4ab0c" \
  "3dc2d5a9e035796074869cbbb2fe61e7a79a47e72a474e01417794cccefe99ef86671c5a8ded1ade2eb634aeda075b17" \
  "61226570914b0a877d627fe0a897c4265c0981a1d77e3b67b572fba91e348a85e9b84f7c6599ef2bfdd0e2bbab54b43f" \
  "44852a76280a99408a77c20338d3fd989d06c2e9128c0f350fd30e8ea32acd7530f1803d8e6a7d331beec8dd62619397" \
  "b402d818b71a3647cccca8c8e3200a07f70f787f3208d73b13fb9b9e90feca035348654d992234b5b501158f076de488" \
  "11b22cd05a3d52edf58ce5db69365ae1"
#define JS_ECDSA_P256_PUBLIC \
  "080312573055020101a00a06082a8648ce3d030107a14403420004dd8d6b037cee1b59876a77b7d648114fc786f6761b" \
  "146ba352193752290025ee792803ba6763b526ab5905b963fa5922290f251f753f394e6c0b065b58a008f6"
#define JS_ECDSA_P256_SIG \
  "0ac93a44f6df704fce7009f2afa56181a13212d88e833b0db9e94fe77d2e5b583ff491beeca89600dd0777bfdfe37ee7" \
  "46cb0d57ff158b1d8a88e318e0e57300"
#define JS_ED25519_ID "12D3KooWQK1wnefoLrcVHbbnf5tLzbopUd3K3bFAoJpA7YJgL5pV"
#define JS_SECP256K1_ID "16Uiu2HAm2hD84J2xU4U5iDDctZFf2YKDu27tGSSpU6RJSbfmcvYK"
#define JS_RSA_ID "QmUB81t7KWE37Esm2BB7Zu2aowFt5WsKjQdbEBeTNYm9Qd"


static PunchPublicKey *
parse_ok (GBytes *encoded)
{
  g_autoptr (GError) error = NULL;
  PunchPublicKey *key = punch_public_key_new_from_protobuf (g_bytes_get_data (encoded, NULL),
                                                            g_bytes_get_size (encoded), &error);

  g_assert_no_error (error);
  g_assert_nonnull (key);
  return key;
}

static void
assert_verifies (PunchPublicKey *key, GBytes *signature)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (punch_public_key_verify (key, message, sizeof message,
                                          g_bytes_get_data (signature, NULL),
                                          g_bytes_get_size (signature), &error));
  g_assert_no_error (error);
}

static void
assert_bad_signature (PunchPublicKey *key,
                      const guint8   *data,
                      gsize           len,
                      GBytes         *signature)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (punch_public_key_verify (key, data, len,
                                           g_bytes_get_data (signature, NULL),
                                           g_bytes_get_size (signature), &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_BAD_SIGNATURE);
  /* No OpenSSL error may leak into whatever the caller does next. */
  g_assert_cmpuint (ERR_peek_error (), ==, 0);
}

/* The tampering every key type must catch. */
static void
check_tampering (PunchPublicKey *key, GBytes *signature)
{
  g_autoptr (GBytes) flipped_first = test_flip (signature, 0, 0);
  g_autoptr (GBytes) flipped_last = test_flip (signature, g_bytes_get_size (signature) - 1, 7);
  g_autoptr (GBytes) truncated = g_bytes_new_from_bytes (signature, 0, g_bytes_get_size (signature) - 1);
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  guint8 other[sizeof message];

  memcpy (other, message, sizeof message);
  other[3] ^= 0x20;

  assert_bad_signature (key, other, sizeof other, signature);
  assert_bad_signature (key, message, sizeof message - 1, signature);
  assert_bad_signature (key, message, sizeof message, flipped_first);
  assert_bad_signature (key, message, sizeof message, flipped_last);
  assert_bad_signature (key, message, sizeof message, truncated);
  assert_bad_signature (key, message, sizeof message, empty);

  /* Over PUNCH_SIGNATURE_MAX_LEN: refused without asking OpenSSL. */
  {
    g_autofree guint8 *zeros = g_malloc0 (4096);
    g_autoptr (GBytes) big = g_bytes_new (zeros, 4096);

    assert_bad_signature (key, message, sizeof message, big);
  }
}

static void
test_spec_vector (void)
{
  g_autoptr (GBytes) encoded = test_from_hex (SPEC_KEY_HEX);
  g_autoptr (PunchPublicKey) key = parse_ok (encoded);
  g_autofree char *cid = NULL;
  PunchPeerId *id;

  g_assert_cmpint (punch_public_key_get_key_type (key), ==, PUNCH_KEY_TYPE_ED25519);
  g_assert_true (g_bytes_equal (punch_public_key_get_protobuf (key), encoded));
  id = punch_public_key_get_peer_id (key);
  g_assert_cmpstr (punch_peer_id_to_string (id), ==, SPEC_ID_B58);
  cid = punch_peer_id_to_cid_string (id);
  g_assert_cmpstr (cid, ==, SPEC_ID_CID);
}

static void
test_ed25519_encoding (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) priv = punch_private_key_generate (&error);
  PunchPublicKey *key;
  GBytes *encoded;
  const guint8 *data;
  gsize len;
  gsize id_len;
  const guint8 *id;

  g_assert_no_error (error);
  key = punch_private_key_get_public_key (priv);
  encoded = punch_public_key_get_protobuf (key);
  data = g_bytes_get_data (encoded, &len);
  g_assert_cmpuint (len, ==, 36);
  g_assert_cmpmem (data, 4, "\x08\x01\x12\x20", 4);

  /* Identity multihash: 00 24 <encoded key>. */
  id = punch_peer_id_get_bytes (punch_public_key_get_peer_id (key), &id_len);
  g_assert_cmpuint (id_len, ==, 38);
  g_assert_cmpmem (id, 2, "\x00\x24", 2);
  g_assert_cmpmem (id + 2, 36, data, 36);
  g_assert_true (g_str_has_prefix (punch_peer_id_to_string (punch_public_key_get_peer_id (key)),
                                   "12D3KooW"));
}

static void
test_ed25519_verify (void)
{
  g_autoptr (EVP_PKEY) pkey = EVP_PKEY_Q_keygen (NULL, NULL, "ED25519");
  guint8 raw[32];
  size_t raw_len = sizeof raw;
  g_autoptr (GBytes) encoded = NULL;
  g_autoptr (GBytes) signature = NULL;
  g_autoptr (PunchPublicKey) key = NULL;

  g_assert_nonnull (pkey);
  g_assert_cmpint (EVP_PKEY_get_raw_public_key (pkey, raw, &raw_len), ==, 1);
  encoded = test_encode_key (1, raw, raw_len);
  key = parse_ok (encoded);
  signature = test_openssl_sign (pkey, message, sizeof message);
  g_assert_cmpuint (g_bytes_get_size (signature), ==, 64);
  assert_verifies (key, signature);
  check_tampering (key, signature);
}

static void
test_rsa_verify (void)
{
  g_autoptr (EVP_PKEY) pkey = test_keygen_rsa (2048);
  g_autoptr (GBytes) der = test_pkix (pkey);
  g_autoptr (GBytes) encoded = test_encode_key (0, g_bytes_get_data (der, NULL), g_bytes_get_size (der));
  g_autoptr (PunchPublicKey) key = parse_ok (encoded);
  g_autoptr (GBytes) signature = test_openssl_sign (pkey, message, sizeof message);
  guint8 digest[SHA256_DIGEST_LENGTH];
  const guint8 *id;
  gsize id_len;

  g_assert_cmpint (punch_public_key_get_key_type (key), ==, PUNCH_KEY_TYPE_RSA);
  g_assert_true (g_bytes_equal (punch_public_key_get_protobuf (key), encoded));
  assert_verifies (key, signature);
  check_tampering (key, signature);

  /* Over 42 bytes: the ID is the sha2-256 multihash, printed Qm… */
  SHA256 (g_bytes_get_data (encoded, NULL), g_bytes_get_size (encoded), digest);
  id = punch_peer_id_get_bytes (punch_public_key_get_peer_id (key), &id_len);
  g_assert_cmpuint (id_len, ==, 34);
  g_assert_cmpmem (id, 2, "\x12\x20", 2);
  g_assert_cmpmem (id + 2, 32, digest, 32);
  g_assert_true (g_str_has_prefix (punch_peer_id_to_string (punch_public_key_get_peer_id (key)), "Qm"));
}

static void
test_rsa_too_small (void)
{
  g_autoptr (EVP_PKEY) pkey = test_keygen_rsa (1024);
  g_autoptr (GBytes) der = test_pkix (pkey);
  g_autoptr (GBytes) encoded = test_encode_key (0, g_bytes_get_data (der, NULL), g_bytes_get_size (der));
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPublicKey) key = NULL;
  g_autoptr (PunchPublicKey) from_evp = NULL;

  key = punch_public_key_new_from_protobuf (g_bytes_get_data (encoded, NULL),
                                            g_bytes_get_size (encoded), &error);
  g_assert_null (key);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "1024"));
  g_assert_nonnull (strstr (error->message, "2048"));
  g_clear_error (&error);

  from_evp = punch_public_key_new_from_evp (pkey, &error);
  g_assert_null (from_evp);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED);
}

/* e = 2^32 + 1 is a valid RSA exponent, but makes verification costly; go
 * refuses anything over 31 bits, and so do we. */
static void
test_rsa_huge_exponent (void)
{
  g_autoptr (EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_name (NULL, "RSA", NULL);
  g_autoptr (BIGNUM) e = BN_new ();
  g_autoptr (EVP_PKEY) pkey = NULL;
  g_autoptr (GBytes) der = NULL;
  g_autoptr (GBytes) encoded = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPublicKey) key = NULL;

  g_assert_cmpint (BN_set_word (e, G_GUINT64_CONSTANT (0x100000001)), ==, 1);
  g_assert_cmpint (EVP_PKEY_keygen_init (ctx), ==, 1);
  g_assert_cmpint (EVP_PKEY_CTX_set_rsa_keygen_bits (ctx, 2048), ==, 1);
  g_assert_cmpint (EVP_PKEY_CTX_set1_rsa_keygen_pubexp (ctx, e), ==, 1);
  g_assert_cmpint (EVP_PKEY_keygen (ctx, &pkey), ==, 1);

  der = test_pkix (pkey);
  encoded = test_encode_key (0, g_bytes_get_data (der, NULL), g_bytes_get_size (der));
  key = punch_public_key_new_from_protobuf (g_bytes_get_data (encoded, NULL),
                                            g_bytes_get_size (encoded), &error);
  g_assert_null (key);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "exponent"));
}

static void
test_secp256k1_verify (void)
{
  g_autoptr (EVP_PKEY) pkey = test_keygen_ec ("secp256k1");
  g_autoptr (GBytes) point = test_secp256k1_compressed (pkey);
  g_autoptr (GBytes) encoded = test_encode_key (2, g_bytes_get_data (point, NULL), g_bytes_get_size (point));
  g_autoptr (PunchPublicKey) key = parse_ok (encoded);
  g_autoptr (GBytes) signature = test_openssl_sign (pkey, message, sizeof message);
  const guint8 *id;
  gsize id_len;

  g_assert_cmpint (punch_public_key_get_key_type (key), ==, PUNCH_KEY_TYPE_SECP256K1);
  g_assert_cmpuint (g_bytes_get_size (encoded), ==, 37);
  g_assert_true (g_bytes_equal (punch_public_key_get_protobuf (key), encoded));
  assert_verifies (key, signature);
  check_tampering (key, signature);

  /* 37 bytes encoded: inlined in an identity multihash ("16Uiu2…"). */
  id = punch_peer_id_get_bytes (punch_public_key_get_peer_id (key), &id_len);
  g_assert_cmpuint (id_len, ==, 39);
  g_assert_cmpmem (id, 2, "\x00\x25", 2);
  g_assert_true (g_str_has_prefix (punch_peer_id_to_string (punch_public_key_get_peer_id (key)), "16Uiu2"));
}

static void
test_ecdsa_verify (void)
{
  static const char *const curves[] = { "P-256", "P-384", "P-521" };

  for (guint i = 0; i < G_N_ELEMENTS (curves); i++)
    {
      g_autoptr (EVP_PKEY) pkey = test_keygen_ec (curves[i]);
      g_autoptr (GBytes) der = test_pkix (pkey);
      g_autoptr (GBytes) encoded = test_encode_key (3, g_bytes_get_data (der, NULL), g_bytes_get_size (der));
      g_autoptr (PunchPublicKey) key = parse_ok (encoded);
      g_autoptr (GBytes) signature = test_openssl_sign (pkey, message, sizeof message);

      g_test_message ("curve %s", curves[i]);
      g_assert_cmpint (punch_public_key_get_key_type (key), ==, PUNCH_KEY_TYPE_ECDSA);
      g_assert_true (g_bytes_equal (punch_public_key_get_protobuf (key), encoded));
      assert_verifies (key, signature);
      check_tampering (key, signature);
      g_assert_true (g_str_has_prefix (punch_peer_id_to_string (punch_public_key_get_peer_id (key)), "Qm"));
    }
}

/* A signature by one key never verifies under another of the same type. */
static void
test_wrong_key (void)
{
  g_autoptr (EVP_PKEY) a = test_keygen_ec ("P-256");
  g_autoptr (EVP_PKEY) b = test_keygen_ec ("P-256");
  g_autoptr (PunchPublicKey) key_b = NULL;
  g_autoptr (GBytes) signature = test_openssl_sign (a, message, sizeof message);
  g_autoptr (GError) error = NULL;

  key_b = punch_public_key_new_from_evp (b, &error);
  g_assert_no_error (error);
  assert_bad_signature (key_b, message, sizeof message, signature);
}

static void
test_from_evp (void)
{
  EVP_PKEY *pkeys[] = {
    EVP_PKEY_Q_keygen (NULL, NULL, "ED25519"),
    test_keygen_ec ("secp256k1"),
    test_keygen_ec ("P-256"),
    test_keygen_rsa (2048),
  };
  const PunchKeyType types[] = {
    PUNCH_KEY_TYPE_ED25519, PUNCH_KEY_TYPE_SECP256K1, PUNCH_KEY_TYPE_ECDSA, PUNCH_KEY_TYPE_RSA,
  };

  for (guint i = 0; i < G_N_ELEMENTS (pkeys); i++)
    {
      g_autoptr (EVP_PKEY) pkey = pkeys[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchPublicKey) key = punch_public_key_new_from_evp (pkey, &error);
      g_autoptr (PunchPublicKey) reparsed = NULL;
      g_autoptr (GBytes) signature = test_openssl_sign (pkey, message, sizeof message);
      GBytes *encoded;

      g_assert_no_error (error);
      g_assert_cmpint (punch_public_key_get_key_type (key), ==, types[i]);
      assert_verifies (key, signature);
      g_assert_true (punch_public_key_get_evp (key) != pkey);
      g_assert_true (EVP_PKEY_eq (punch_public_key_get_evp (key), pkey) == 1);

      encoded = punch_public_key_get_protobuf (key);
      reparsed = parse_ok (encoded);
      g_assert_true (punch_public_key_equal (key, reparsed));
      g_assert_true (punch_peer_id_equal (punch_public_key_get_peer_id (key),
                                          punch_public_key_get_peer_id (reparsed)));
    }

  /* A secp256k1 key that already prefers compressed points. */
  {
    g_autoptr (EVP_PKEY) k1 = test_keygen_ec ("secp256k1");
    g_autoptr (GBytes) point = test_secp256k1_compressed (k1);
    g_autoptr (GBytes) expected = test_encode_key (2, g_bytes_get_data (point, NULL), g_bytes_get_size (point));
    g_autoptr (GError) error = NULL;
    g_autoptr (PunchPublicKey) key = NULL;

    g_assert_cmpint (EVP_PKEY_set_utf8_string_param (k1, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                                     "compressed"), ==, 1);
    key = punch_public_key_new_from_evp (k1, &error);
    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (punch_public_key_get_protobuf (key), expected));
  }

  {
    g_autoptr (EVP_PKEY) x25519 = EVP_PKEY_Q_keygen (NULL, NULL, "X25519");
    g_autoptr (EVP_PKEY) p224 = test_keygen_ec ("P-224");
    g_autoptr (GError) error = NULL;
    g_autoptr (PunchPublicKey) key = punch_public_key_new_from_evp (x25519, &error);

    g_assert_null (key);
    g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED);
    g_clear_error (&error);
    key = punch_public_key_new_from_evp (p224, &error);
    g_assert_null (key);
    g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED);
  }
}

static void
test_equal (void)
{
  g_autoptr (GBytes) spec = test_from_hex (SPEC_KEY_HEX);
  g_autoptr (GBytes) other = test_flip (spec, 10, 1);
  g_autoptr (PunchPublicKey) a = parse_ok (spec);
  g_autoptr (PunchPublicKey) b = parse_ok (spec);
  g_autoptr (PunchPublicKey) c = parse_ok (other);

  g_assert_true (punch_public_key_equal (a, b));
  g_assert_false (punch_public_key_equal (a, c));
  g_assert_false (punch_peer_id_equal (punch_public_key_get_peer_id (a),
                                       punch_public_key_get_peer_id (c)));
}

/* Other field orders and unknown fields parse, but the encoding peers hash
 * is always the canonical one. */
static void
test_canonical_reencoding (void)
{
  g_autoptr (GBytes) canonical = test_from_hex (SPEC_KEY_HEX);
  g_autoptr (GBytes) reversed = test_from_hex ("12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e0801");
  g_autoptr (GBytes) extra = test_from_hex (SPEC_KEY_HEX "1805");
  g_autoptr (PunchPublicKey) a = parse_ok (reversed);
  g_autoptr (PunchPublicKey) b = parse_ok (extra);

  g_assert_true (g_bytes_equal (punch_public_key_get_protobuf (a), canonical));
  g_assert_true (g_bytes_equal (punch_public_key_get_protobuf (b), canonical));
  g_assert_cmpstr (punch_peer_id_to_string (punch_public_key_get_peer_id (b)), ==, SPEC_ID_B58);
}

typedef struct
{
  const char *name;
  const char *hex;
  gint        code;
} BadCase;

static void
test_bad_input (void)
{
  static const BadCase cases[] = {
    { "empty", "", PUNCH_ERROR_MALFORMED },
    { "type only", "0801", PUNCH_ERROR_MALFORMED },
    { "data only", "12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e", PUNCH_ERROR_MALFORMED },
    { "truncated data", "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce2", PUNCH_ERROR_MALFORMED },
    { "truncated varint", "0881", PUNCH_ERROR_MALFORMED },
    { "length past end", "080112ffffffff0f00", PUNCH_ERROR_MALFORMED },
    { "garbage", "deadbeefdeadbeef", PUNCH_ERROR_MALFORMED },
    { "wrong wire type", "0a0101122000", PUNCH_ERROR_MALFORMED },
    { "ed25519 short", "080112", PUNCH_ERROR_MALFORMED },
    { "ed25519 31 bytes", "0801121f1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce2", PUNCH_ERROR_MALFORMED },
    { "ed25519 33 bytes", "080112211ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e00", PUNCH_ERROR_MALFORMED },
    { "ed25519 empty", "08011200", PUNCH_ERROR_MALFORMED },
    { "unknown type", "080412201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e", PUNCH_ERROR_UNSUPPORTED },
    { "huge type", "08ffffffff0f12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e", PUNCH_ERROR_UNSUPPORTED },
    { "rsa garbage", "080012040a0b0c0d", PUNCH_ERROR_MALFORMED },
    { "rsa empty", "08001200", PUNCH_ERROR_MALFORMED },
    { "ecdsa garbage", "080312040a0b0c0d", PUNCH_ERROR_MALFORMED },
    { "secp256k1 uncompressed prefix", "08021221041ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e", PUNCH_ERROR_MALFORMED },
    { "secp256k1 32 bytes", "080212201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e", PUNCH_ERROR_MALFORMED },
    /* x ≥ p is no coordinate at all. */
    { "secp256k1 off curve", "0802122102ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", PUNCH_ERROR_MALFORMED },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) encoded = test_from_hex (cases[i].hex);
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchPublicKey) key = NULL;

      g_test_message ("case %s", cases[i].name);
      key = punch_public_key_new_from_protobuf (g_bytes_get_data (encoded, NULL),
                                                g_bytes_get_size (encoded), &error);
      g_assert_null (key);
      g_assert_error (error, PUNCH_ERROR, cases[i].code);
      g_assert_cmpuint (ERR_peek_error (), ==, 0);
    }
}

/* Keys in the wrong container: each parser checks the algorithm it got. */
static void
test_type_confusion (void)
{
  g_autoptr (EVP_PKEY) rsa = test_keygen_rsa (2048);
  g_autoptr (EVP_PKEY) k1 = test_keygen_ec ("secp256k1");
  g_autoptr (EVP_PKEY) p256 = test_keygen_ec ("P-256");
  g_autoptr (EVP_PKEY) ed = EVP_PKEY_Q_keygen (NULL, NULL, "ED25519");
  g_autoptr (GBytes) rsa_der = test_pkix (rsa);
  g_autoptr (GBytes) k1_der = test_pkix (k1);
  g_autoptr (GBytes) p256_der = test_pkix (p256);
  g_autoptr (GBytes) ed_der = test_pkix (ed);
  struct
  {
    guint   type;
    GBytes *data;
    gint    code;
  } cases[] = {
    { 3, rsa_der, PUNCH_ERROR_MALFORMED },
    { 0, p256_der, PUNCH_ERROR_MALFORMED },
    { 0, ed_der, PUNCH_ERROR_MALFORMED },
    { 3, ed_der, PUNCH_ERROR_MALFORMED },
    { 3, k1_der, PUNCH_ERROR_UNSUPPORTED },
    { 1, p256_der, PUNCH_ERROR_MALFORMED },
    { 2, p256_der, PUNCH_ERROR_MALFORMED },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) encoded = test_encode_key (cases[i].type,
                                                    g_bytes_get_data (cases[i].data, NULL),
                                                    g_bytes_get_size (cases[i].data));
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchPublicKey) key = NULL;

      g_test_message ("case %u", i);
      key = punch_public_key_new_from_protobuf (g_bytes_get_data (encoded, NULL),
                                                g_bytes_get_size (encoded), &error);
      g_assert_null (key);
      g_assert_error (error, PUNCH_ERROR, cases[i].code);
    }
}

/* Trailing bytes after the DER structure are refused, as go's x509 does. */
static void
test_pkix_trailing_data (void)
{
  g_autoptr (EVP_PKEY) p256 = test_keygen_ec ("P-256");
  g_autoptr (GBytes) der = test_pkix (p256);
  g_autoptr (GByteArray) padded = g_byte_array_new ();
  g_autoptr (GBytes) encoded = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPublicKey) key = NULL;
  guint8 zero = 0;

  g_byte_array_append (padded, g_bytes_get_data (der, NULL), (guint) g_bytes_get_size (der));
  g_byte_array_append (padded, &zero, 1);
  encoded = test_encode_key (3, padded->data, padded->len);
  key = punch_public_key_new_from_protobuf (g_bytes_get_data (encoded, NULL),
                                            g_bytes_get_size (encoded), &error);
  g_assert_null (key);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED);
}

/* One key, one encoding: a compressed point or a long-form length is
 * refused even though OpenSSL could read it. */
static void
test_pkix_not_canonical (void)
{
  g_autoptr (EVP_PKEY) p256 = test_keygen_ec ("P-256");
  g_autoptr (GBytes) der = test_pkix (p256);
  g_autoptr (GBytes) compressed_der = NULL;
  g_autoptr (GBytes) explicit_der = NULL;
  g_autoptr (GByteArray) long_form = g_byte_array_new ();
  const guint8 *d;
  gsize d_len;

  d = g_bytes_get_data (der, &d_len);
  /* 30 59 ... → 30 81 59 ...: BER long-form length, not DER. */
  g_assert_cmpuint (d[0], ==, 0x30);
  g_assert_cmpuint (d[1], ==, d_len - 2);
  g_byte_array_append (long_form, (const guint8 *) "\x30\x81", 2);
  g_byte_array_append (long_form, d + 1, (guint) d_len - 1);

  g_assert_cmpint (EVP_PKEY_set_utf8_string_param (p256, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                                   "compressed"), ==, 1);
  compressed_der = test_pkix (p256);
  g_assert_cmpuint (g_bytes_get_size (compressed_der), <, d_len);
  /* Explicit curve parameters, which OpenSSL would still call prime256v1. */
  g_assert_cmpint (EVP_PKEY_set_utf8_string_param (p256, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                                   "uncompressed"), ==, 1);
  g_assert_cmpint (EVP_PKEY_set_utf8_string_param (p256, OSSL_PKEY_PARAM_EC_ENCODING, "explicit"), ==, 1);
  explicit_der = test_pkix (p256);
  g_assert_cmpuint (g_bytes_get_size (explicit_der), >, d_len);
  /* Both at once, for the EVP path below. */
  g_assert_cmpint (EVP_PKEY_set_utf8_string_param (p256, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                                   "compressed"), ==, 1);

  {
    struct
    {
      const char   *name;
      const guint8 *data;
      gsize         len;
      gint          code;
    } cases[] = {
      { "compressed point", g_bytes_get_data (compressed_der, NULL), g_bytes_get_size (compressed_der),
        PUNCH_ERROR_MALFORMED },
      { "long-form length", long_form->data, long_form->len, PUNCH_ERROR_MALFORMED },
      { "explicit parameters", g_bytes_get_data (explicit_der, NULL), g_bytes_get_size (explicit_der),
        PUNCH_ERROR_UNSUPPORTED },
    };

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        g_autoptr (GBytes) encoded = test_encode_key (3, cases[i].data, cases[i].len);
        g_autoptr (GError) error = NULL;
        g_autoptr (PunchPublicKey) key = NULL;

        g_test_message ("case %s", cases[i].name);
        key = punch_public_key_new_from_protobuf (g_bytes_get_data (encoded, NULL),
                                                  g_bytes_get_size (encoded), &error);
        g_assert_null (key);
        g_assert_error (error, PUNCH_ERROR, cases[i].code);
      }
  }

  /* From an EVP key, the canonical form (named curve, uncompressed point)
   * is produced whatever the key's own preferences. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (PunchPublicKey) key = punch_public_key_new_from_evp (p256, &error);
    g_autoptr (GBytes) expected = test_encode_key (3, d, d_len);

    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (punch_public_key_get_protobuf (key), expected));
  }
}

static void
test_too_large (void)
{
  g_autofree guint8 *big = g_malloc0 (PUNCH_PUBLIC_KEY_MAX_LEN + 1);
  g_autoptr (GBytes) encoded = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPublicKey) key = NULL;

  /* A message just over the limit is refused before it is parsed. */
  key = punch_public_key_new_from_protobuf (big, PUNCH_PUBLIC_KEY_MAX_LEN + 1, &error);
  g_assert_null (key);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
  g_clear_error (&error);

  /* A well-formed message whose Data alone nearly fills the limit. */
  encoded = test_encode_key (0, big, PUNCH_PUBLIC_KEY_MAX_LEN - 2);
  g_assert_cmpuint (g_bytes_get_size (encoded), >, PUNCH_PUBLIC_KEY_MAX_LEN);
  key = punch_public_key_new_from_protobuf (g_bytes_get_data (encoded, NULL),
                                            g_bytes_get_size (encoded), &error);
  g_assert_null (key);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
  g_clear_error (&error);

  key = punch_public_key_new_from_data (PUNCH_KEY_TYPE_RSA, big, PUNCH_PUBLIC_KEY_MAX_LEN + 1, &error);
  g_assert_null (key);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
}

typedef struct
{
  const char  *name;
  const char  *public_key;
  const char  *signature;
  const char  *peer_id;
  PunchKeyType type;
} JsVector;

static void
test_js_vectors (void)
{
  static const JsVector vectors[] = {
    { "Ed25519", JS_ED25519_PUBLIC, JS_ED25519_SIG, JS_ED25519_ID, PUNCH_KEY_TYPE_ED25519 },
    { "secp256k1", JS_SECP256K1_PUBLIC, JS_SECP256K1_SIG, JS_SECP256K1_ID, PUNCH_KEY_TYPE_SECP256K1 },
    { "RSA", JS_RSA_PUBLIC, JS_RSA_SIG, JS_RSA_ID, PUNCH_KEY_TYPE_RSA },
  };

  for (guint i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      g_autoptr (GBytes) encoded = test_from_hex (vectors[i].public_key);
      g_autoptr (GBytes) signature = test_from_hex (vectors[i].signature);
      g_autoptr (PunchPublicKey) key = parse_ok (encoded);
      g_autoptr (GError) error = NULL;
      const guint8 *msg = (const guint8 *) JS_MESSAGE;
      gsize msg_len = strlen (JS_MESSAGE);
      g_autoptr (GBytes) tampered = test_flip (signature, g_bytes_get_size (signature) / 2, 0);

      g_test_message ("js %s key", vectors[i].name);
      g_assert_cmpint (punch_public_key_get_key_type (key), ==, vectors[i].type);
      g_assert_true (g_bytes_equal (punch_public_key_get_protobuf (key), encoded));
      g_assert_cmpstr (punch_peer_id_to_string (punch_public_key_get_peer_id (key)), ==, vectors[i].peer_id);
      g_assert_true (punch_public_key_verify (key, msg, msg_len, g_bytes_get_data (signature, NULL),
                                              g_bytes_get_size (signature), &error));
      g_assert_no_error (error);
      assert_bad_signature (key, msg, msg_len, tampered);
    }
}

/* js-libp2p encodes ECDSA keys as a SEC1 ECPrivateKey minus the private
 * scalar and signs with raw r||s; go-libp2p and the spec use PKIX and DER.
 * We follow the spec, so such a key is refused with a clear error. */
static void
test_js_ecdsa_refused (void)
{
  g_autoptr (GBytes) encoded = test_from_hex (JS_ECDSA_P256_PUBLIC);
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPublicKey) key = NULL;

  key = punch_public_key_new_from_protobuf (g_bytes_get_data (encoded, NULL),
                                            g_bytes_get_size (encoded), &error);
  g_assert_null (key);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED);
  g_assert_nonnull (strstr (error->message, "SubjectPublicKeyInfo"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/public-key/ed25519/spec-vector", test_spec_vector);
  g_test_add_func ("/core/public-key/ed25519/encoding", test_ed25519_encoding);
  g_test_add_func ("/core/public-key/ed25519/verify", test_ed25519_verify);
  g_test_add_func ("/core/public-key/rsa/verify", test_rsa_verify);
  g_test_add_func ("/core/public-key/rsa/too-small", test_rsa_too_small);
  g_test_add_func ("/core/public-key/rsa/huge-exponent", test_rsa_huge_exponent);
  g_test_add_func ("/core/public-key/secp256k1/verify", test_secp256k1_verify);
  g_test_add_func ("/core/public-key/ecdsa/verify", test_ecdsa_verify);
  g_test_add_func ("/core/public-key/wrong-key", test_wrong_key);
  g_test_add_func ("/core/public-key/from-evp", test_from_evp);
  g_test_add_func ("/core/public-key/equal", test_equal);
  g_test_add_func ("/core/public-key/canonical-reencoding", test_canonical_reencoding);
  g_test_add_func ("/core/public-key/bad-input", test_bad_input);
  g_test_add_func ("/core/public-key/type-confusion", test_type_confusion);
  g_test_add_func ("/core/public-key/pkix-trailing-data", test_pkix_trailing_data);
  g_test_add_func ("/core/public-key/pkix-not-canonical", test_pkix_not_canonical);
  g_test_add_func ("/core/public-key/too-large", test_too_large);
  g_test_add_func ("/core/public-key/js-libp2p/vectors", test_js_vectors);
  g_test_add_func ("/core/public-key/js-libp2p/ecdsa-refused", test_js_ecdsa_refused);

  return g_test_run ();
}
