/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Helpers for the crypto tests: keys made and signed with OpenSSL directly,
 * and PublicKey messages encoded by hand, so the code under test is checked
 * against something it did not produce itself. */

#include <string.h>

#include <glib.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "punch-openssl-private.h"

static inline GBytes *
test_from_hex (const char *hex)
{
  gsize n = strlen (hex) / 2;
  guint8 *buf = g_malloc (n + 1);

  g_assert_cmpuint (strlen (hex) % 2, ==, 0);
  for (gsize i = 0; i < n; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      g_assert_true (hi >= 0 && lo >= 0);
      buf[i] = (guint8) (hi * 16 + lo);
    }
  return g_bytes_new_take (buf, n);
}

static inline void
test_append_varint (GByteArray *buf, guint64 value)
{
  while (value >= 0x80)
    {
      guint8 b = (guint8) (value | 0x80);

      g_byte_array_append (buf, &b, 1);
      value >>= 7;
    }
  {
    guint8 b = (guint8) value;

    g_byte_array_append (buf, &b, 1);
  }
}

/* A PublicKey (or PrivateKey) message: 08 <type> 12 <len> <data>. */
static inline GBytes *
test_encode_key (guint type, const guint8 *data, gsize len)
{
  GByteArray *buf = g_byte_array_new ();
  guint8 tag_type = 0x08, tag_data = 0x12;

  g_byte_array_append (buf, &tag_type, 1);
  test_append_varint (buf, type);
  g_byte_array_append (buf, &tag_data, 1);
  test_append_varint (buf, len);
  g_byte_array_append (buf, data, (guint) len);
  return g_byte_array_free_to_bytes (buf);
}

static inline EVP_PKEY *
test_keygen_rsa (size_t bits)
{
  EVP_PKEY *pkey = EVP_PKEY_Q_keygen (NULL, NULL, "RSA", bits);

  g_assert_nonnull (pkey);
  return pkey;
}

static inline EVP_PKEY *
test_keygen_ec (const char *curve)
{
  EVP_PKEY *pkey = EVP_PKEY_Q_keygen (NULL, NULL, "EC", curve);

  g_assert_nonnull (pkey);
  return pkey;
}

/* DER SubjectPublicKeyInfo of @pkey. */
static inline GBytes *
test_pkix (EVP_PKEY *pkey)
{
  unsigned char *der = NULL;
  int len = i2d_PUBKEY (pkey, &der);
  GBytes *bytes;

  g_assert_cmpint (len, >, 0);
  bytes = g_bytes_new (der, (gsize) len);
  OPENSSL_free (der);
  return bytes;
}

/* The 33-byte compressed point of a secp256k1 key, compressed by hand. */
static inline GBytes *
test_secp256k1_compressed (EVP_PKEY *pkey)
{
  guint8 point[65];
  guint8 out[33];
  size_t len = 0;

  g_assert_cmpint (EVP_PKEY_get_octet_string_param (pkey, OSSL_PKEY_PARAM_PUB_KEY,
                                                    point, sizeof point, &len), ==, 1);
  if (len == 33)
    return g_bytes_new (point, len);
  g_assert_cmpuint (len, ==, 65);
  g_assert_cmpuint (point[0], ==, 4);
  out[0] = 0x02 | (point[64] & 1);
  memcpy (out + 1, point + 1, 32);
  return g_bytes_new (out, sizeof out);
}

/* Signs as libp2p does for the key's type: SHA-256 for RSA and EC, none for
 * Ed25519. */
static inline GBytes *
test_openssl_sign (EVP_PKEY *pkey, const guint8 *data, gsize len)
{
  g_autoptr (EVP_MD_CTX) ctx = EVP_MD_CTX_new ();
  const EVP_MD *md = EVP_PKEY_is_a (pkey, "ED25519") ? NULL : EVP_sha256 ();
  size_t sig_len = 0;
  guint8 *sig;

  g_assert_cmpint (EVP_DigestSignInit (ctx, NULL, md, NULL, pkey), ==, 1);
  g_assert_cmpint (EVP_DigestSign (ctx, NULL, &sig_len, data, len), ==, 1);
  sig = g_malloc (sig_len);
  g_assert_cmpint (EVP_DigestSign (ctx, sig, &sig_len, data, len), ==, 1);
  return g_bytes_new_take (sig, sig_len);
}

/* A copy of @bytes with bit @bit of byte @index flipped. */
static inline GBytes *
test_flip (GBytes *bytes, gsize index, guint bit)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  guint8 *copy = g_memdup2 (data, len);

  g_assert_cmpuint (index, <, len);
  copy[index] ^= (guint8) (1u << bit);
  return g_bytes_new_take (copy, len);
}
