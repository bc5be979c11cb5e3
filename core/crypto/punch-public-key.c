/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-public-key.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "keys.pb-c.h"
#include "punch-error.h"
#include "punch-key-private.h"
#include "punch-multihash.h"
#include "punch-openssl-private.h"

PUNCH_DEFINE_PROTOBUF_CLEANUP (Crypto__Pb__PublicKey, crypto__pb__public_key)

#define ED25519_PUBLIC_KEY_LEN 32
#define SECP256K1_COMPRESSED_LEN 33
/* Identity-multihash threshold for peer IDs (specs: peer-ids.md). */
#define PEER_ID_INLINE_MAX 42
/* go-libp2p's bounds (core/crypto/rsa_common.go). */
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192
#define RSA_MAX_EXPONENT_BITS 31

struct _PunchPublicKey
{
  GObject      parent_instance;

  PunchKeyType type;
  GBytes      *data;      /* the PublicKey message's Data field */
  GBytes      *protobuf;  /* deterministic encoding of the whole message */
  EVP_PKEY    *pkey;
  PunchPeerId *peer_id;
};

G_DEFINE_FINAL_TYPE (PunchPublicKey, punch_public_key, G_TYPE_OBJECT)

static void
punch_public_key_finalize (GObject *object)
{
  PunchPublicKey *self = PUNCH_PUBLIC_KEY (object);

  g_clear_pointer (&self->data, g_bytes_unref);
  g_clear_pointer (&self->protobuf, g_bytes_unref);
  g_clear_pointer (&self->pkey, EVP_PKEY_free);
  g_clear_pointer (&self->peer_id, punch_peer_id_unref);

  G_OBJECT_CLASS (punch_public_key_parent_class)->finalize (object);
}

static void
punch_public_key_class_init (PunchPublicKeyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = punch_public_key_finalize;
}

static void
punch_public_key_init (PunchPublicKey *self)
{
}

static const char *
key_type_name (PunchKeyType type)
{
  switch (type)
    {
    case PUNCH_KEY_TYPE_RSA:
      return "RSA";
    case PUNCH_KEY_TYPE_ED25519:
      return "Ed25519";
    case PUNCH_KEY_TYPE_SECP256K1:
      return "secp256k1";
    case PUNCH_KEY_TYPE_ECDSA:
      return "ECDSA";
    default:
      return "unknown";
    }
}

static EVP_PKEY *
load_ed25519 (const guint8 *data, gsize len, GError **error)
{
  EVP_PKEY *pkey;

  if (len != ED25519_PUBLIC_KEY_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "Ed25519 public key is %" G_GSIZE_FORMAT " bytes, expected %d",
                   len, ED25519_PUBLIC_KEY_LEN);
      return NULL;
    }
  pkey = EVP_PKEY_new_raw_public_key (EVP_PKEY_ED25519, NULL, data, len);
  if (pkey == NULL)
    punch_set_openssl_error (error, "loading an Ed25519 public key");
  return pkey;
}

static EVP_PKEY *
load_secp256k1 (const guint8 *data, gsize len, GError **error)
{
  g_autoptr (EVP_PKEY_CTX) ctx = NULL;
  EVP_PKEY *pkey = NULL;
  char group[] = "secp256k1";
  OSSL_PARAM params[3];

  /* The spec fixes the compressed form; accepting others would give one key
   * several encodings, hence several peer IDs. */
  if (len != SECP256K1_COMPRESSED_LEN || (data[0] != 0x02 && data[0] != 0x03))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "secp256k1 public key must be a %d-byte compressed point (got %" G_GSIZE_FORMAT " bytes)",
                   SECP256K1_COMPRESSED_LEN, len);
      return NULL;
    }

  params[0] = OSSL_PARAM_construct_utf8_string (OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
  params[1] = OSSL_PARAM_construct_octet_string (OSSL_PKEY_PARAM_PUB_KEY, (void *) data, len);
  params[2] = OSSL_PARAM_construct_end ();

  ctx = EVP_PKEY_CTX_new_from_name (NULL, "EC", NULL);
  if (ctx == NULL || EVP_PKEY_fromdata_init (ctx) != 1)
    {
      punch_set_openssl_error (error, "preparing a secp256k1 key");
      return NULL;
    }
  /* Decoding the point checks that it lies on the curve. */
  if (EVP_PKEY_fromdata (ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
      ERR_clear_error ();
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                           "secp256k1 public key is not a point on the curve");
      return NULL;
    }
  return pkey;
}

/* RSA and ECDSA keys travel as DER SubjectPublicKeyInfo. */
static EVP_PKEY *
load_pkix (PunchKeyType type, const guint8 *data, gsize len, GError **error)
{
  const unsigned char *p = data;
  g_autoptr (EVP_PKEY) pkey = NULL;

  if (len == 0 || len > G_MAXLONG)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "%s public key is empty", key_type_name (type));
      return NULL;
    }
  pkey = d2i_PUBKEY (NULL, &p, (long) len);
  if (pkey == NULL || p != data + len)
    {
      ERR_clear_error ();
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "%s public key is not a DER SubjectPublicKeyInfo", key_type_name (type));
      return NULL;
    }

  if (type == PUNCH_KEY_TYPE_RSA)
    {
      g_autoptr (BIGNUM) e = NULL;
      int bits;

      if (!EVP_PKEY_is_a (pkey, "RSA"))
        {
          g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                               "RSA public key holds another algorithm");
          return NULL;
        }
      bits = EVP_PKEY_get_bits (pkey);
      if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                       "RSA key of %d bits refused: libp2p accepts %d to %d bits",
                       bits, RSA_MIN_BITS, RSA_MAX_BITS);
          return NULL;
        }
      /* A huge public exponent turns each verification into a private-key
       * sized computation; go refuses exponents beyond 31 bits. */
      if (EVP_PKEY_get_bn_param (pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1 ||
          BN_num_bits (e) > RSA_MAX_EXPONENT_BITS || !BN_is_odd (e) || BN_is_one (e))
        {
          ERR_clear_error ();
          g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                               "RSA public exponent must be odd, above 1 and at most 31 bits");
          return NULL;
        }
    }
  else
    {
      char curve[64] = "";
      char format[32] = "";
      char encoding[32] = "";

      if (!EVP_PKEY_is_a (pkey, "EC"))
        {
          g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                               "ECDSA public key holds another algorithm");
          return NULL;
        }
      /* Named NIST curves only, as go's x509 parser (which go-libp2p uses).
       * OpenSSL names well-known explicit parameters too, hence both checks. */
      if (EVP_PKEY_get_utf8_string_param (pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                          curve, sizeof curve, NULL) != 1 ||
          EVP_PKEY_get_utf8_string_param (pkey, OSSL_PKEY_PARAM_EC_ENCODING,
                                          encoding, sizeof encoding, NULL) != 1 ||
          strcmp (encoding, OSSL_PKEY_EC_ENCODING_GROUP) != 0)
        {
          ERR_clear_error ();
          g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                               "ECDSA public key has no named curve");
          return NULL;
        }
      if (strcmp (curve, "prime256v1") != 0 &&
          strcmp (curve, "secp384r1") != 0 &&
          strcmp (curve, "secp521r1") != 0)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                       "ECDSA curve %s is not supported (P-256, P-384, P-521 are)", curve);
          return NULL;
        }
      /* OpenSSL would re-encode a compressed point compressed; go accepts
       * only uncompressed ones, so that is the one encoding. */
      if (EVP_PKEY_get_utf8_string_param (pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                          format, sizeof format, NULL) != 1 ||
          strcmp (format, OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 0)
        {
          ERR_clear_error ();
          g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                               "ECDSA public key point must be uncompressed");
          return NULL;
        }
    }

  /* Peer IDs hash these bytes: one key must have one encoding, and go's
   * strict DER parser gives the same rule. */
  {
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY (pkey, &der);
    gboolean canonical = der_len > 0 && (gsize) der_len == len && memcmp (der, data, len) == 0;

    OPENSSL_free (der);
    ERR_clear_error ();
    if (!canonical)
      {
        g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                     "%s public key is not in canonical DER form (uncompressed point, "
                     "minimal lengths)", key_type_name (type));
        return NULL;
      }
  }
  return g_steal_pointer (&pkey);
}

/**
 * punch_public_key_new_from_data:
 * @type: the key type
 * @data: (array length=len): the PublicKey message's Data field
 * @len: length of @data
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the key, or %NULL with
 *   %PUNCH_ERROR_MALFORMED, %PUNCH_ERROR_UNSUPPORTED or %PUNCH_ERROR_TOO_LARGE
 */
PunchPublicKey *
punch_public_key_new_from_data (PunchKeyType  type,
                                const guint8 *data,
                                gsize         len,
                                GError      **error)
{
  g_autoptr (PunchPublicKey) self = NULL;
  g_autoptr (EVP_PKEY) pkey = NULL;
  g_autoptr (GBytes) multihash = NULL;
  Crypto__Pb__PublicKey msg = CRYPTO__PB__PUBLIC_KEY__INIT;
  const guint8 *encoded;
  guint8 *buf;
  gsize packed_len;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (len > PUNCH_PUBLIC_KEY_MAX_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "public key of %" G_GSIZE_FORMAT " bytes is over the %d-byte limit",
                   len, PUNCH_PUBLIC_KEY_MAX_LEN);
      return NULL;
    }

  switch ((int) type)
    {
    case PUNCH_KEY_TYPE_ED25519:
      pkey = load_ed25519 (data, len, error);
      break;
    case PUNCH_KEY_TYPE_SECP256K1:
      pkey = load_secp256k1 (data, len, error);
      break;
    case PUNCH_KEY_TYPE_RSA:
    case PUNCH_KEY_TYPE_ECDSA:
      pkey = load_pkix (type, data, len, error);
      break;
    default:
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                   "unknown public key type %d", (int) type);
      return NULL;
    }
  if (pkey == NULL)
    return NULL;

  self = g_object_new (PUNCH_TYPE_PUBLIC_KEY, NULL);
  self->type = type;
  self->pkey = g_steal_pointer (&pkey);
  self->data = g_bytes_new (data, len);

  /* Peer IDs hash this encoding, so it is always rebuilt from the two fields
   * (both required, written in tag order) and never echoed from the wire. */
  msg.type = (Crypto__Pb__KeyType) type;
  msg.data.data = (guint8 *) data;
  msg.data.len = len;
  packed_len = crypto__pb__public_key__get_packed_size (&msg);
  buf = g_malloc (packed_len);
  crypto__pb__public_key__pack (&msg, buf);
  self->protobuf = g_bytes_new_take (buf, packed_len);

  encoded = g_bytes_get_data (self->protobuf, &packed_len);
  if (packed_len <= PEER_ID_INLINE_MAX)
    multihash = punch_multihash_identity (encoded, packed_len);
  else
    multihash = punch_multihash_sha2_256 (encoded, packed_len);
  self->peer_id = punch_peer_id_new_from_multihash (multihash, error);
  if (self->peer_id == NULL)
    return NULL;

  return g_steal_pointer (&self);
}

/**
 * punch_public_key_new_from_protobuf:
 * @data: (array length=len): an encoded libp2p PublicKey message
 * @len: length of @data, at most %PUNCH_PUBLIC_KEY_MAX_LEN
 * @error: return location for a #GError
 *
 * Parses a remote peer's public key: Ed25519, RSA (2048 to 8192 bits),
 * secp256k1 (compressed point) or ECDSA (P-256, P-384, P-521).
 *
 * Returns: (transfer full) (nullable): the key, or %NULL with
 *   %PUNCH_ERROR_TOO_LARGE, %PUNCH_ERROR_MALFORMED or %PUNCH_ERROR_UNSUPPORTED
 */
PunchPublicKey *
punch_public_key_new_from_protobuf (const guint8 *data, gsize len, GError **error)
{
  g_autoptr (Crypto__Pb__PublicKey) msg = NULL;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (len > PUNCH_PUBLIC_KEY_MAX_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "PublicKey message of %" G_GSIZE_FORMAT " bytes is over the %d-byte limit",
                   len, PUNCH_PUBLIC_KEY_MAX_LEN);
      return NULL;
    }
  msg = crypto__pb__public_key__unpack (NULL, len, data);
  if (msg == NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "malformed PublicKey message (%" G_GSIZE_FORMAT " bytes)", len);
      return NULL;
    }
  return punch_public_key_new_from_data ((PunchKeyType) msg->type,
                                         msg->data.data, msg->data.len, error);
}

/* The compressed SEC1 form of an uncompressed (04 || x || y) point. */
static gboolean
compress_point (const guint8 *point, gsize len, guint8 *out, gsize out_len)
{
  gsize coord = (len - 1) / 2;

  if (len < 3 || point[0] != 0x04 || (len - 1) % 2 != 0 || out_len != coord + 1)
    return FALSE;
  out[0] = 0x02 | (point[len - 1] & 1);
  memcpy (out + 1, point + 1, coord);
  return TRUE;
}

/**
 * punch_public_key_new_from_evp:
 * @pkey: an OpenSSL key (public or private)
 * @error: return location for a #GError
 *
 * Wraps the public half of @pkey, e.g. the key of a TLS certificate. @pkey is
 * not kept: the result holds a public-only copy.
 *
 * Returns: (transfer full) (nullable): the key, or %NULL with
 *   %PUNCH_ERROR_UNSUPPORTED for other algorithms and curves
 */
PunchPublicKey *
punch_public_key_new_from_evp (EVP_PKEY *pkey, GError **error)
{
  g_return_val_if_fail (pkey != NULL, NULL);

  if (EVP_PKEY_is_a (pkey, "ED25519"))
    {
      guint8 raw[ED25519_PUBLIC_KEY_LEN];
      size_t raw_len = sizeof raw;

      if (EVP_PKEY_get_raw_public_key (pkey, raw, &raw_len) != 1)
        {
          punch_set_openssl_error (error, "exporting an Ed25519 public key");
          return NULL;
        }
      return punch_public_key_new_from_data (PUNCH_KEY_TYPE_ED25519, raw, raw_len, error);
    }

  if (EVP_PKEY_is_a (pkey, "EC"))
    {
      char curve[64] = "";

      if (EVP_PKEY_get_utf8_string_param (pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                          curve, sizeof curve, NULL) == 1 &&
          strcmp (curve, "secp256k1") == 0)
        {
          guint8 point[65];
          guint8 compressed[SECP256K1_COMPRESSED_LEN];
          size_t point_len = 0;

          if (EVP_PKEY_get_octet_string_param (pkey, OSSL_PKEY_PARAM_PUB_KEY,
                                               point, sizeof point, &point_len) != 1)
            {
              punch_set_openssl_error (error, "exporting a secp256k1 public key");
              return NULL;
            }
          if (point_len == SECP256K1_COMPRESSED_LEN)
            return punch_public_key_new_from_data (PUNCH_KEY_TYPE_SECP256K1, point, point_len, error);
          if (!compress_point (point, point_len, compressed, sizeof compressed))
            {
              g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                                   "secp256k1 public key has an unexpected encoding");
              return NULL;
            }
          return punch_public_key_new_from_data (PUNCH_KEY_TYPE_SECP256K1, compressed,
                                                 sizeof compressed, error);
        }
      ERR_clear_error ();
    }

  if (EVP_PKEY_is_a (pkey, "EC") || EVP_PKEY_is_a (pkey, "RSA"))
    {
      PunchKeyType type = EVP_PKEY_is_a (pkey, "RSA") ? PUNCH_KEY_TYPE_RSA : PUNCH_KEY_TYPE_ECDSA;
      g_autoptr (EVP_PKEY) copy = NULL;
      unsigned char *der = NULL;
      int der_len;
      PunchPublicKey *key;

      /* The caller's key may prefer compressed points or explicit curve
       * parameters; the wire form is named curve and uncompressed point, so
       * encode from a copy set that way. */
      if (type == PUNCH_KEY_TYPE_ECDSA)
        {
          copy = EVP_PKEY_dup (pkey);
          if (copy == NULL ||
              EVP_PKEY_set_utf8_string_param (copy, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                              OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1 ||
              EVP_PKEY_set_utf8_string_param (copy, OSSL_PKEY_PARAM_EC_ENCODING,
                                              OSSL_PKEY_EC_ENCODING_GROUP) != 1)
            {
              punch_set_openssl_error (error, "copying an ECDSA key");
              return NULL;
            }
        }
      der_len = i2d_PUBKEY (copy != NULL ? copy : pkey, &der);
      if (der_len <= 0)
        {
          punch_set_openssl_error (error, "encoding a public key");
          return NULL;
        }
      key = punch_public_key_new_from_data (type, der, (gsize) der_len, error);
      OPENSSL_free (der);
      return key;
    }

  g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
               "%s keys are not supported", EVP_PKEY_get0_type_name (pkey));
  return NULL;
}

/**
 * punch_public_key_get_protobuf:
 * @self: a #PunchPublicKey
 *
 * Returns: (transfer none): the deterministic PublicKey encoding, owned by @self
 */
GBytes *
punch_public_key_get_protobuf (PunchPublicKey *self)
{
  g_return_val_if_fail (PUNCH_IS_PUBLIC_KEY (self), NULL);

  return self->protobuf;
}

/**
 * punch_public_key_get_key_type:
 * @self: a #PunchPublicKey
 *
 * Returns: the key's algorithm
 */
PunchKeyType
punch_public_key_get_key_type (PunchPublicKey *self)
{
  g_return_val_if_fail (PUNCH_IS_PUBLIC_KEY (self), PUNCH_KEY_TYPE_ED25519);

  return self->type;
}

/**
 * punch_public_key_get_peer_id:
 * @self: a #PunchPublicKey
 *
 * The peer ID: the identity multihash of the encoded key when that is at most
 * 42 bytes (Ed25519, secp256k1), else its sha2-256 multihash (RSA, ECDSA).
 *
 * Returns: (transfer none): the peer ID, owned by @self
 */
PunchPeerId *
punch_public_key_get_peer_id (PunchPublicKey *self)
{
  g_return_val_if_fail (PUNCH_IS_PUBLIC_KEY (self), NULL);

  return self->peer_id;
}

/**
 * punch_public_key_get_data:
 * @self: a #PunchPublicKey
 *
 * Returns: (transfer none): the PublicKey message's Data field, owned by @self
 */
GBytes *
punch_public_key_get_data (PunchPublicKey *self)
{
  g_return_val_if_fail (PUNCH_IS_PUBLIC_KEY (self), NULL);

  return self->data;
}

/**
 * punch_public_key_get_evp:
 * @self: a #PunchPublicKey
 *
 * Returns: (transfer none): the OpenSSL key, owned by @self
 */
EVP_PKEY *
punch_public_key_get_evp (PunchPublicKey *self)
{
  g_return_val_if_fail (PUNCH_IS_PUBLIC_KEY (self), NULL);

  return self->pkey;
}

/**
 * punch_public_key_verify:
 * @self: a #PunchPublicKey
 * @data: (array length=data_len): the signed message
 * @data_len: length of @data
 * @signature: (array length=signature_len): the signature
 * @signature_len: length of @signature
 * @error: return location for a #GError
 *
 * Checks a signature with the key type's libp2p rules: pure Ed25519; RSA
 * PKCS#1 v1.5, secp256k1 and ECDSA over SHA-256 (DER signatures).
 *
 * Returns: %TRUE if it verifies; else %FALSE with %PUNCH_ERROR_BAD_SIGNATURE
 *   (or %PUNCH_ERROR_CRYPTO when OpenSSL itself fails)
 */
gboolean
punch_public_key_verify (PunchPublicKey *self,
                         const guint8   *data,
                         gsize           data_len,
                         const guint8   *signature,
                         gsize           signature_len,
                         GError        **error)
{
  static const guint8 empty[1] = { 0 };
  g_autoptr (EVP_MD_CTX) ctx = NULL;
  const EVP_MD *md;
  int ret;

  g_return_val_if_fail (PUNCH_IS_PUBLIC_KEY (self), FALSE);
  g_return_val_if_fail (data != NULL || data_len == 0, FALSE);
  g_return_val_if_fail (signature != NULL || signature_len == 0, FALSE);

  if (signature_len == 0 || signature_len > PUNCH_SIGNATURE_MAX_LEN ||
      (self->type == PUNCH_KEY_TYPE_ED25519 && signature_len != 64))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_BAD_SIGNATURE,
                   "%s signature has an impossible length (%" G_GSIZE_FORMAT " bytes)",
                   key_type_name (self->type), signature_len);
      return FALSE;
    }

  md = self->type == PUNCH_KEY_TYPE_ED25519 ? NULL : EVP_sha256 ();
  ctx = EVP_MD_CTX_new ();
  if (ctx == NULL || EVP_DigestVerifyInit (ctx, NULL, md, NULL, self->pkey) != 1)
    return punch_set_openssl_error (error, "starting signature verification");

  ret = EVP_DigestVerify (ctx, signature, signature_len,
                          data != NULL ? data : empty, data_len);
  /* A malformed signature (bad DER) fails inside OpenSSL: for the caller it
   * is just as much a bad signature, and the queue must not leak onwards. */
  ERR_clear_error ();
  if (ret != 1)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_BAD_SIGNATURE,
                   "%s signature does not verify", key_type_name (self->type));
      return FALSE;
    }
  return TRUE;
}

/**
 * punch_public_key_equal:
 * @a: a #PunchPublicKey
 * @b: another #PunchPublicKey
 *
 * Returns: %TRUE when both are the same key
 */
gboolean
punch_public_key_equal (PunchPublicKey *a, PunchPublicKey *b)
{
  g_return_val_if_fail (PUNCH_IS_PUBLIC_KEY (a), FALSE);
  g_return_val_if_fail (PUNCH_IS_PUBLIC_KEY (b), FALSE);

  return a->type == b->type && g_bytes_equal (a->data, b->data);
}
