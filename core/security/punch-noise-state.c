/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-noise-state.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "punch-error.h"
#include "punch-openssl-private.h"

struct _PunchNoiseCipher
{
  guint8          key[PUNCH_NOISE_KEY_LEN];
  guint64         n;
};

/* An EVP_CIPHER_CTX for ChaCha20-Poly1305 takes about 1 KiB; a relay holds
 * thousands of connections with two each. Instead every thread keeps one
 * context per direction, keyed again for each message: for ChaCha20 that
 * is copying the key, not a key schedule. */
static GPrivate encrypt_context = G_PRIVATE_INIT ((GDestroyNotify) EVP_CIPHER_CTX_free);
static GPrivate decrypt_context = G_PRIVATE_INIT ((GDestroyNotify) EVP_CIPHER_CTX_free);

/* Noise reserves the all-ones nonce; reaching it ends the session. */
#define NONCE_MAX G_MAXUINT64

static void
nonce_to_iv (guint64 n,
             guint8  iv[12])
{
  memset (iv, 0, 4);
  for (guint i = 0; i < 8; i++)
    iv[4 + i] = (guint8) (n >> (8 * i));
}

PunchNoiseCipher *
punch_noise_cipher_new (const guint8 key[PUNCH_NOISE_KEY_LEN],
                        GError     **error)
{
  PunchNoiseCipher *self = g_new0 (PunchNoiseCipher, 1);

  memcpy (self->key, key, PUNCH_NOISE_KEY_LEN);
  return self;
}

void
punch_noise_cipher_free (PunchNoiseCipher *self)
{
  if (self == NULL)
    return;
  OPENSSL_cleanse (self->key, sizeof self->key);
  g_free (self);
}

guint64
punch_noise_cipher_get_nonce (PunchNoiseCipher *self)
{
  return self->n;
}

/* This thread's context for @encrypt, keyed with @self's key and @iv. */
static EVP_CIPHER_CTX *
cipher_context (PunchNoiseCipher *self,
                gboolean          encrypt,
                const guint8      iv[12],
                GError          **error)
{
  GPrivate *slot = encrypt ? &encrypt_context : &decrypt_context;
  EVP_CIPHER_CTX *ctx = g_private_get (slot);

  if (ctx == NULL)
    {
      g_autoptr (EVP_CIPHER_CTX) fresh = EVP_CIPHER_CTX_new ();

      if (fresh == NULL ||
          EVP_CipherInit_ex (fresh, EVP_chacha20_poly1305 (), NULL, NULL, NULL, encrypt ? 1 : 0) != 1)
        {
          punch_set_openssl_error (error, "Cannot set up ChaCha20-Poly1305");
          return NULL;
        }
      ctx = g_steal_pointer (&fresh);
      g_private_set (slot, ctx);
    }
  if (EVP_CipherInit_ex (ctx, NULL, NULL, self->key, iv, encrypt ? 1 : 0) != 1)
    {
      punch_set_openssl_error (error, "Cannot key ChaCha20-Poly1305");
      return NULL;
    }
  return ctx;
}

gboolean
punch_noise_cipher_encrypt (PunchNoiseCipher *self,
                            const guint8     *ad,
                            gsize             ad_len,
                            const guint8     *plaintext,
                            gsize             len,
                            guint8           *out,
                            GError          **error)
{
  EVP_CIPHER_CTX *ctx;
  guint8 iv[12];
  int outl = 0;
  int finl = 0;

  if (self->n == NONCE_MAX)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_LIMIT, "Noise nonce space exhausted");
      return FALSE;
    }
  if (len > INT_MAX - PUNCH_NOISE_TAG_LEN || ad_len > INT_MAX)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE, "Noise message too large");
      return FALSE;
    }
  nonce_to_iv (self->n, iv);
  ctx = cipher_context (self, TRUE, iv, error);
  if (ctx == NULL)
    return FALSE;

  if ((ad_len > 0 && EVP_EncryptUpdate (ctx, NULL, &outl, ad, (int) ad_len) != 1) ||
      (len > 0 && EVP_EncryptUpdate (ctx, out, &outl, plaintext, (int) len) != 1) ||
      EVP_EncryptFinal_ex (ctx, out + (len > 0 ? outl : 0), &finl) != 1 ||
      EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_AEAD_GET_TAG, PUNCH_NOISE_TAG_LEN, out + len) != 1)
    return punch_set_openssl_error (error, "ChaCha20-Poly1305 encryption failed");

  self->n++;
  return TRUE;
}

gboolean
punch_noise_cipher_decrypt (PunchNoiseCipher *self,
                            const guint8     *ad,
                            gsize             ad_len,
                            const guint8     *ciphertext,
                            gsize             len,
                            guint8           *out,
                            GError          **error)
{
  EVP_CIPHER_CTX *ctx;
  guint8 iv[12];
  guint8 tag[PUNCH_NOISE_TAG_LEN];
  gsize plain_len;
  int outl = 0;
  int finl = 0;

  if (len < PUNCH_NOISE_TAG_LEN)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                           "Noise message shorter than its authentication tag");
      return FALSE;
    }
  if (self->n == NONCE_MAX)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_LIMIT, "Noise nonce space exhausted");
      return FALSE;
    }
  if (len > INT_MAX || ad_len > INT_MAX)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE, "Noise message too large");
      return FALSE;
    }
  nonce_to_iv (self->n, iv);
  ctx = cipher_context (self, FALSE, iv, error);
  if (ctx == NULL)
    return FALSE;

  plain_len = len - PUNCH_NOISE_TAG_LEN;
  /* Copied first: decrypting in place may overwrite nothing past plain_len,
   * but @out need not be @ciphertext. */
  memcpy (tag, ciphertext + plain_len, PUNCH_NOISE_TAG_LEN);
  if (EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_AEAD_SET_TAG, PUNCH_NOISE_TAG_LEN, tag) != 1 ||
      (ad_len > 0 && EVP_DecryptUpdate (ctx, NULL, &outl, ad, (int) ad_len) != 1) ||
      (plain_len > 0 && EVP_DecryptUpdate (ctx, out, &outl, ciphertext, (int) plain_len) != 1))
    return punch_set_openssl_error (error, "ChaCha20-Poly1305 decryption failed");

  if (EVP_DecryptFinal_ex (ctx, out + (plain_len > 0 ? outl : 0), &finl) != 1)
    {
      /* Never hand out plaintext that did not authenticate. */
      if (plain_len > 0)
        OPENSSL_cleanse (out, plain_len);
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                           "Noise frame failed authentication");
      return FALSE;
    }

  self->n++;
  return TRUE;
}

/* ---- X25519 ---- */

static EVP_PKEY *
x25519_generate (GError **error)
{
  EVP_PKEY *pkey = EVP_PKEY_Q_keygen (NULL, NULL, "X25519");

  if (pkey == NULL)
    punch_set_openssl_error (error, "Cannot generate an X25519 key");
  return pkey;
}

static EVP_PKEY *
x25519_from_private (const guint8 *raw,
                     GError      **error)
{
  EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key (EVP_PKEY_X25519, NULL, raw, PUNCH_NOISE_DH_LEN);

  if (pkey == NULL)
    punch_set_openssl_error (error, "Invalid X25519 private key");
  return pkey;
}

static gboolean
x25519_public (EVP_PKEY *pkey,
               guint8    out[PUNCH_NOISE_DH_LEN],
               GError  **error)
{
  size_t len = PUNCH_NOISE_DH_LEN;

  if (EVP_PKEY_get_raw_public_key (pkey, out, &len) != 1 || len != PUNCH_NOISE_DH_LEN)
    return punch_set_openssl_error (error, "Cannot export an X25519 public key");
  return TRUE;
}

static gboolean
x25519_dh (EVP_PKEY     *priv,
           const guint8 *remote_public,
           guint8        out[PUNCH_NOISE_DH_LEN],
           GError      **error)
{
  g_autoptr (EVP_PKEY) peer = NULL;
  g_autoptr (EVP_PKEY_CTX) ctx = NULL;
  size_t len = PUNCH_NOISE_DH_LEN;

  peer = EVP_PKEY_new_raw_public_key (EVP_PKEY_X25519, NULL, remote_public, PUNCH_NOISE_DH_LEN);
  if (peer == NULL)
    return punch_set_openssl_error (error, "Invalid X25519 public key");
  ctx = EVP_PKEY_CTX_new (priv, NULL);
  if (ctx == NULL || EVP_PKEY_derive_init (ctx) != 1)
    return punch_set_openssl_error (error, "Cannot set up X25519");
  /* OpenSSL refuses low-order points (all-zero shared secret): the remote
   * sent a key that contributes nothing, which we treat as a protocol error. */
  if (EVP_PKEY_derive_set_peer (ctx, peer) != 1 ||
      EVP_PKEY_derive (ctx, out, &len) != 1 || len != PUNCH_NOISE_DH_LEN)
    {
      g_autoptr (GError) local = NULL;

      punch_set_openssl_error (&local, "X25519");
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                   "Noise key agreement failed (unusable remote X25519 key): %s", local->message);
      return FALSE;
    }
  return TRUE;
}

/* ---- SymmetricState and HandshakeState ---- */

struct _PunchNoiseHandshake
{
  gboolean          initiator;
  guint             index;
  gboolean          failed;

  guint8            ck[PUNCH_NOISE_HASH_LEN];
  guint8            h[PUNCH_NOISE_HASH_LEN];
  PunchNoiseCipher *cs;                   /* NULL until the first MixKey */

  EVP_PKEY         *s;
  guint8            s_pub[PUNCH_NOISE_DH_LEN];
  EVP_PKEY         *e;
  guint8            e_pub[PUNCH_NOISE_DH_LEN];
  guint8            rs[PUNCH_NOISE_DH_LEN];
  gboolean          has_rs;
  guint8            re[PUNCH_NOISE_DH_LEN];
};

static gboolean
mix_hash (PunchNoiseHandshake *self,
          const guint8        *data,
          gsize                len,
          GError             **error)
{
  g_autoptr (EVP_MD_CTX) ctx = EVP_MD_CTX_new ();
  unsigned int out_len = 0;

  if (ctx == NULL ||
      EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL) != 1 ||
      EVP_DigestUpdate (ctx, self->h, sizeof self->h) != 1 ||
      (len > 0 && EVP_DigestUpdate (ctx, data, len) != 1) ||
      EVP_DigestFinal_ex (ctx, self->h, &out_len) != 1)
    return punch_set_openssl_error (error, "SHA-256 failed");
  return TRUE;
}

static gboolean
hmac_sha256 (const guint8 *key,
             const guint8 *data,
             gsize         len,
             guint8        out[PUNCH_NOISE_HASH_LEN],
             GError      **error)
{
  unsigned int out_len = PUNCH_NOISE_HASH_LEN;

  if (HMAC (EVP_sha256 (), key, PUNCH_NOISE_HASH_LEN, data, len, out, &out_len) == NULL ||
      out_len != PUNCH_NOISE_HASH_LEN)
    return punch_set_openssl_error (error, "HMAC-SHA256 failed");
  return TRUE;
}

/* HKDF as the Noise spec defines it, with two outputs. */
static gboolean
noise_hkdf (const guint8 *chaining_key,
            const guint8 *ikm,
            gsize         ikm_len,
            guint8        out1[PUNCH_NOISE_HASH_LEN],
            guint8        out2[PUNCH_NOISE_HASH_LEN],
            GError      **error)
{
  guint8 temp_key[PUNCH_NOISE_HASH_LEN];
  guint8 buf[PUNCH_NOISE_HASH_LEN + 1];
  gboolean ok;
  static const guint8 one = 0x01;

  ok = hmac_sha256 (chaining_key, ikm, ikm_len, temp_key, error) &&
       hmac_sha256 (temp_key, &one, 1, out1, error);
  if (ok)
    {
      memcpy (buf, out1, PUNCH_NOISE_HASH_LEN);
      buf[PUNCH_NOISE_HASH_LEN] = 0x02;
      ok = hmac_sha256 (temp_key, buf, sizeof buf, out2, error);
    }
  OPENSSL_cleanse (temp_key, sizeof temp_key);
  OPENSSL_cleanse (buf, sizeof buf);
  return ok;
}

static gboolean
mix_key (PunchNoiseHandshake *self,
         const guint8        *ikm,
         gsize                ikm_len,
         GError             **error)
{
  guint8 temp_k[PUNCH_NOISE_HASH_LEN];

  if (!noise_hkdf (self->ck, ikm, ikm_len, self->ck, temp_k, error))
    return FALSE;
  g_clear_pointer (&self->cs, punch_noise_cipher_free);
  self->cs = punch_noise_cipher_new (temp_k, error);
  OPENSSL_cleanse (temp_k, sizeof temp_k);
  return self->cs != NULL;
}

static gboolean
mix_dh (PunchNoiseHandshake *self,
        EVP_PKEY            *priv,
        const guint8        *remote_public,
        GError             **error)
{
  guint8 shared[PUNCH_NOISE_DH_LEN];
  gboolean ok;

  ok = x25519_dh (priv, remote_public, shared, error) &&
       mix_key (self, shared, sizeof shared, error);
  OPENSSL_cleanse (shared, sizeof shared);
  return ok;
}

static gboolean
encrypt_and_hash (PunchNoiseHandshake *self,
                  const guint8        *plaintext,
                  gsize                len,
                  GByteArray          *out,
                  GError             **error)
{
  guint offset = out->len;

  if (self->cs == NULL)
    {
      g_byte_array_append (out, plaintext, len);
    }
  else
    {
      g_byte_array_set_size (out, offset + len + PUNCH_NOISE_TAG_LEN);
      if (!punch_noise_cipher_encrypt (self->cs, self->h, sizeof self->h,
                                       plaintext, len, out->data + offset, error))
        {
          g_byte_array_set_size (out, offset);
          return FALSE;
        }
    }
  return mix_hash (self, out->data + offset, out->len - offset, error);
}

static gboolean
decrypt_and_hash (PunchNoiseHandshake *self,
                  const guint8        *ciphertext,
                  gsize                len,
                  guint8              *out,
                  GError             **error)
{
  if (self->cs == NULL)
    {
      if (len > 0)
        memmove (out, ciphertext, len);
    }
  else if (!punch_noise_cipher_decrypt (self->cs, self->h, sizeof self->h,
                                        ciphertext, len, out, error))
    return FALSE;
  return mix_hash (self, ciphertext, len, error);
}

PunchNoiseHandshake *
punch_noise_handshake_new (gboolean      initiator,
                           const guint8 *prologue,
                           gsize         prologue_len,
                           GError      **error)
{
  g_autoptr (PunchNoiseHandshake) self = g_new0 (PunchNoiseHandshake, 1);

  G_STATIC_ASSERT (sizeof PUNCH_NOISE_PROTOCOL_NAME - 1 == PUNCH_NOISE_HASH_LEN);

  self->initiator = initiator;
  /* The protocol name is exactly HASHLEN bytes, so h is the name itself
   * (no padding, no hashing). */
  memcpy (self->h, PUNCH_NOISE_PROTOCOL_NAME, PUNCH_NOISE_HASH_LEN);
  memcpy (self->ck, self->h, PUNCH_NOISE_HASH_LEN);
  if (!mix_hash (self, prologue, prologue_len, error))
    return NULL;

  self->s = x25519_generate (error);
  if (self->s == NULL || !x25519_public (self->s, self->s_pub, error))
    return NULL;

  return g_steal_pointer (&self);
}

void
punch_noise_handshake_free (PunchNoiseHandshake *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->cs, punch_noise_cipher_free);
  g_clear_pointer (&self->s, EVP_PKEY_free);
  g_clear_pointer (&self->e, EVP_PKEY_free);
  OPENSSL_cleanse (self->ck, sizeof self->ck);
  g_free (self);
}

gboolean
punch_noise_handshake_set_fixed_keys (PunchNoiseHandshake *self,
                                      const guint8        *static_private,
                                      const guint8        *ephemeral_private,
                                      GError             **error)
{
  g_autoptr (EVP_PKEY) s = NULL;
  g_autoptr (EVP_PKEY) e = NULL;

  g_return_val_if_fail (self->index == 0 && self->e == NULL, FALSE);

  s = x25519_from_private (static_private, error);
  if (s == NULL || !x25519_public (s, self->s_pub, error))
    return FALSE;
  e = x25519_from_private (ephemeral_private, error);
  if (e == NULL || !x25519_public (e, self->e_pub, error))
    return FALSE;

  g_clear_pointer (&self->s, EVP_PKEY_free);
  self->s = g_steal_pointer (&s);
  self->e = g_steal_pointer (&e);
  return TRUE;
}

const guint8 *
punch_noise_handshake_get_local_static (PunchNoiseHandshake *self)
{
  return self->s_pub;
}

const guint8 *
punch_noise_handshake_get_remote_static (PunchNoiseHandshake *self)
{
  return self->has_rs ? self->rs : NULL;
}

const guint8 *
punch_noise_handshake_get_hash (PunchNoiseHandshake *self)
{
  return self->h;
}

guint
punch_noise_handshake_get_message_index (PunchNoiseHandshake *self)
{
  return self->index;
}

gboolean
punch_noise_handshake_is_finished (PunchNoiseHandshake *self)
{
  return self->index >= 3;
}

gboolean
punch_noise_handshake_is_write_turn (PunchNoiseHandshake *self)
{
  /* Messages 0 and 2 go from the initiator, 1 from the responder. */
  return self->index < 3 && ((self->index % 2 == 0) == !!self->initiator);
}

static gboolean
check_usable (PunchNoiseHandshake *self,
              gboolean             writing,
              GError             **error)
{
  if (self->failed)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                           "Noise handshake already failed");
      return FALSE;
    }
  if (self->index >= 3 || punch_noise_handshake_is_write_turn (self) != writing)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                   "Noise handshake: not our turn to %s message %u",
                   writing ? "write" : "read", self->index + 1);
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_tokens (PunchNoiseHandshake *self,
              GByteArray          *out,
              GError             **error)
{
  switch (self->index)
    {
    case 0: /* -> e */
    case 1: /* <- e, ee, s, es */
      if (self->e == NULL)
        {
          self->e = x25519_generate (error);
          if (self->e == NULL || !x25519_public (self->e, self->e_pub, error))
            return FALSE;
        }
      g_byte_array_append (out, self->e_pub, sizeof self->e_pub);
      if (!mix_hash (self, self->e_pub, sizeof self->e_pub, error))
        return FALSE;
      if (self->index == 0)
        return TRUE;
      return mix_dh (self, self->e, self->re, error) &&                 /* ee */
             encrypt_and_hash (self, self->s_pub, sizeof self->s_pub, out, error) &&
             mix_dh (self, self->s, self->re, error);                   /* es */

    case 2: /* -> s, se */
      return encrypt_and_hash (self, self->s_pub, sizeof self->s_pub, out, error) &&
             mix_dh (self, self->s, self->re, error);

    default:
      g_assert_not_reached ();
    }
}

gboolean
punch_noise_handshake_write_message (PunchNoiseHandshake *self,
                                     const guint8        *payload,
                                     gsize                payload_len,
                                     GByteArray          *out,
                                     GError             **error)
{
  guint offset = out->len;

  if (!check_usable (self, TRUE, error))
    return FALSE;

  if (!write_tokens (self, out, error) ||
      !encrypt_and_hash (self, payload, payload_len, out, error))
    {
      g_byte_array_set_size (out, offset);
      self->failed = TRUE;
      return FALSE;
    }
  self->index++;
  return TRUE;
}

static gboolean
read_tokens (PunchNoiseHandshake *self,
             const guint8        *message,
             gsize                len,
             gsize               *consumed,
             GError             **error)
{
  gsize need;
  gsize pos = 0;

  /* Message 2 carries e and the encrypted s; message 3 only s. */
  need = self->index == 0 ? PUNCH_NOISE_DH_LEN
       : self->index == 1 ? PUNCH_NOISE_DH_LEN + PUNCH_NOISE_DH_LEN + PUNCH_NOISE_TAG_LEN
       : PUNCH_NOISE_DH_LEN + PUNCH_NOISE_TAG_LEN;
  if (len < need)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                   "Noise handshake message %u too short: %" G_GSIZE_FORMAT " bytes, need at least %" G_GSIZE_FORMAT,
                   self->index + 1, len, need);
      return FALSE;
    }

  if (self->index <= 1) /* e */
    {
      memcpy (self->re, message, PUNCH_NOISE_DH_LEN);
      pos += PUNCH_NOISE_DH_LEN;
      if (!mix_hash (self, self->re, sizeof self->re, error))
        return FALSE;
    }
  if (self->index == 1 && !mix_dh (self, self->e, self->re, error)) /* ee */
    return FALSE;
  if (self->index >= 1) /* s */
    {
      if (!decrypt_and_hash (self, message + pos, PUNCH_NOISE_DH_LEN + PUNCH_NOISE_TAG_LEN,
                             self->rs, error))
        return FALSE;
      pos += PUNCH_NOISE_DH_LEN + PUNCH_NOISE_TAG_LEN;
      self->has_rs = TRUE;
      /* es as the initiator, se as the responder: our ephemeral, their static */
      if (!mix_dh (self, self->e, self->rs, error))
        return FALSE;
    }

  *consumed = pos;
  return TRUE;
}

gboolean
punch_noise_handshake_read_message (PunchNoiseHandshake *self,
                                    const guint8        *message,
                                    gsize                len,
                                    GByteArray          *payload,
                                    GError             **error)
{
  gsize pos = 0;
  gsize rest;
  guint offset = payload->len;

  if (!check_usable (self, FALSE, error))
    return FALSE;

  if (!read_tokens (self, message, len, &pos, error))
    goto fail;

  rest = len - pos;
  if (self->cs != NULL && rest < PUNCH_NOISE_TAG_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                   "Noise handshake message %u too short for its payload tag", self->index + 1);
      goto fail;
    }
  g_byte_array_set_size (payload, offset + rest);
  if (!decrypt_and_hash (self, message + pos, rest, payload->data + offset, error))
    goto fail;
  g_byte_array_set_size (payload, offset + rest - (self->cs != NULL ? PUNCH_NOISE_TAG_LEN : 0));

  self->index++;
  return TRUE;

fail:
  g_byte_array_set_size (payload, offset);
  self->failed = TRUE;
  return FALSE;
}

gboolean
punch_noise_handshake_split (PunchNoiseHandshake *self,
                             PunchNoiseCipher   **send,
                             PunchNoiseCipher   **recv,
                             GError             **error)
{
  guint8 k1[PUNCH_NOISE_HASH_LEN];
  guint8 k2[PUNCH_NOISE_HASH_LEN];
  g_autoptr (PunchNoiseCipher) c1 = NULL;
  g_autoptr (PunchNoiseCipher) c2 = NULL;
  gboolean ok;

  if (self->failed || self->index < 3)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                           "Noise handshake not finished");
      return FALSE;
    }

  ok = noise_hkdf (self->ck, (const guint8 *) "", 0, k1, k2, error);
  if (ok)
    {
      c1 = punch_noise_cipher_new (k1, error);
      c2 = punch_noise_cipher_new (k2, error);
    }
  OPENSSL_cleanse (k1, sizeof k1);
  OPENSSL_cleanse (k2, sizeof k2);
  if (c1 == NULL || c2 == NULL)
    return FALSE;

  /* The initiator sends with the first key, the responder with the second. */
  *send = self->initiator ? g_steal_pointer (&c1) : g_steal_pointer (&c2);
  *recv = self->initiator ? g_steal_pointer (&c2) : g_steal_pointer (&c1);
  return TRUE;
}
