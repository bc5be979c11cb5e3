/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-peer-id.h"

#include <string.h>

#include "punch-error.h"
#include "punch-multibase.h"
#include "punch-multihash.h"
#include "punch-varint.h"

/* The spec inlines keys of at most this many bytes (identity multihash). */
#define IDENTITY_MAX_KEY_LEN 42
/* Multicodec of a CID that names a libp2p public key. */
#define MULTICODEC_LIBP2P_KEY 0x72
/* Longest text worth decoding: a 128-byte ID is under 200 base58 chars. */
#define PEER_ID_MAX_TEXT 512

struct _PunchPeerId
{
  gatomicrefcount  ref_count;
  GBytes          *bytes;
  char            *text;    /* base58btc, computed on first use (atomically) */
};

G_DEFINE_BOXED_TYPE (PunchPeerId, punch_peer_id, punch_peer_id_ref, punch_peer_id_unref)

/* A short, printable rendering of untrusted text for error messages. */
static char *
quote_text (const char *text)
{
  gsize n = strnlen (text, 65);
  g_autofree char *head = g_strndup (text, MIN (n, 64));
  g_autofree char *escaped = g_strescape (head, NULL);

  return g_strdup_printf ("'%s'%s", escaped, n > 64 ? "..." : "");
}

/**
 * punch_peer_id_new_from_bytes:
 * @data: (array length=len): a peer ID in binary form (a multihash)
 * @len: length of @data
 * @error: return location for a #GError
 *
 * Accepts an identity multihash of a key of 1 to 42 bytes or a sha2-256
 * multihash, of at most %PUNCH_PEER_ID_MAX_LEN bytes.
 *
 * Returns: (transfer full) (nullable): the peer ID, or %NULL on error
 */
PunchPeerId *
punch_peer_id_new_from_bytes (const guint8 *data, gsize len, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  PunchMultihashCode code;
  gsize digest_len;
  PunchPeerId *self;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (len > PUNCH_PEER_ID_MAX_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "peer ID of %" G_GSIZE_FORMAT " bytes is longer than %d",
                   len, PUNCH_PEER_ID_MAX_LEN);
      return NULL;
    }
  if (!punch_multihash_parse (data, len, &code, NULL, &digest_len, &local_error))
    {
      g_set_error (error, PUNCH_ERROR, local_error->code,
                   "invalid peer ID: %s", local_error->message);
      return NULL;
    }
  if (code == PUNCH_MULTIHASH_IDENTITY &&
      (digest_len == 0 || digest_len > IDENTITY_MAX_KEY_LEN))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "invalid peer ID: identity multihash of a %" G_GSIZE_FORMAT
                   "-byte key (1 to %d allowed)",
                   digest_len, IDENTITY_MAX_KEY_LEN);
      return NULL;
    }

  self = g_new0 (PunchPeerId, 1);
  g_atomic_ref_count_init (&self->ref_count);
  self->bytes = g_bytes_new (data, len);
  return self;
}

/**
 * punch_peer_id_new_from_multihash:
 * @multihash: a peer ID in binary form
 * @error: return location for a #GError
 *
 * Like punch_peer_id_new_from_bytes().
 *
 * Returns: (transfer full) (nullable): the peer ID, or %NULL on error
 */
PunchPeerId *
punch_peer_id_new_from_multihash (GBytes *multihash, GError **error)
{
  gsize len;
  const guint8 *data;

  g_return_val_if_fail (multihash != NULL, NULL);

  data = g_bytes_get_data (multihash, &len);
  return punch_peer_id_new_from_bytes (data, len, error);
}

/* CIDv1: <varint version = 1> <varint multicodec = 0x72> <multihash>. */
static PunchPeerId *
peer_id_from_cid (const guint8 *data, gsize len, GError **error)
{
  guint64 version, codec;
  gsize n1, n2;

  if (!punch_varint_decode (data, len, &version, &n1, error))
    return NULL;
  if (version != 1)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                   "CID version %" G_GUINT64_FORMAT " is not 1", version);
      return NULL;
    }
  if (!punch_varint_decode (data + n1, len - n1, &codec, &n2, error))
    return NULL;
  if (codec != MULTICODEC_LIBP2P_KEY)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                   "CID multicodec 0x%" G_GINT64_MODIFIER "x is not libp2p-key (0x72)",
                   codec);
      return NULL;
    }
  return punch_peer_id_new_from_bytes (data + n1 + n2, len - n1 - n2, error);
}

/**
 * punch_peer_id_parse:
 * @text: a peer ID as base58btc ("12D3KooW…", "Qm…") or as a CIDv1 in
 *   multibase ("bafz…")
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the peer ID, or %NULL on error
 */
PunchPeerId *
punch_peer_id_parse (const char *text, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autofree char *quoted = NULL;
  PunchPeerId *self = NULL;

  g_return_val_if_fail (text != NULL, NULL);

  if (text[0] == '\0')
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "empty peer ID");
      return NULL;
    }
  if (strnlen (text, PEER_ID_MAX_TEXT + 1) > PEER_ID_MAX_TEXT)
    {
      quoted = quote_text (text);
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "peer ID text %s is longer than %d characters",
                   quoted, PEER_ID_MAX_TEXT);
      return NULL;
    }

  /* The spec's rule: a base58 multihash starts with '1' (identity) or "Qm"
   * (sha2-256); anything else is a multibase CID. */
  if (text[0] == '1' || g_str_has_prefix (text, "Qm"))
    {
      bytes = punch_base58_decode (text, &local_error);
      if (bytes)
        self = punch_peer_id_new_from_multihash (bytes, &local_error);
    }
  else
    {
      bytes = punch_multibase_decode (text, &local_error);
      if (bytes)
        self = peer_id_from_cid (g_bytes_get_data (bytes, NULL),
                                 g_bytes_get_size (bytes), &local_error);
    }

  if (self == NULL)
    {
      const char *message = local_error->message;

      if (g_str_has_prefix (message, "invalid peer ID: "))
        message += strlen ("invalid peer ID: ");
      quoted = quote_text (text);
      g_set_error (error, PUNCH_ERROR, local_error->code,
                   "invalid peer ID %s: %s", quoted, message);
      return NULL;
    }
  return self;
}

/**
 * punch_peer_id_ref:
 * @self: a peer ID
 *
 * Returns: (transfer full): @self
 */
PunchPeerId *
punch_peer_id_ref (PunchPeerId *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

/**
 * punch_peer_id_unref:
 * @self: (transfer full): a peer ID
 */
void
punch_peer_id_unref (PunchPeerId *self)
{
  g_return_if_fail (self != NULL);

  if (g_atomic_ref_count_dec (&self->ref_count))
    {
      g_bytes_unref (self->bytes);
      g_free (self->text);
      g_free (self);
    }
}

/**
 * punch_peer_id_get_bytes:
 * @self: a peer ID
 * @len: (out) (optional): the length of the returned bytes
 *
 * Returns: (transfer none) (array length=len): the binary peer ID (a multihash)
 */
const guint8 *
punch_peer_id_get_bytes (const PunchPeerId *self, gsize *len)
{
  g_return_val_if_fail (self != NULL, NULL);

  return g_bytes_get_data (self->bytes, len);
}

/**
 * punch_peer_id_to_bytes:
 * @self: a peer ID
 *
 * Returns: (transfer full): the binary peer ID (a multihash)
 */
GBytes *
punch_peer_id_to_bytes (const PunchPeerId *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return g_bytes_ref (self->bytes);
}

/**
 * punch_peer_id_to_string:
 * @self: a peer ID
 *
 * Returns: (transfer none): the base58btc form, owned by @self
 */
const char *
punch_peer_id_to_string (const PunchPeerId *self)
{
  PunchPeerId *mutable_self = (PunchPeerId *) self;
  char *text;

  g_return_val_if_fail (self != NULL, NULL);

  /* Lazily, since most IDs are parsed only to be validated or compared; the
   * compare-and-exchange keeps a racing second caller's copy from leaking. */
  text = g_atomic_pointer_get (&mutable_self->text);
  if (text == NULL)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (self->bytes, &len);

      text = punch_base58_encode (data, len);
      if (!g_atomic_pointer_compare_and_exchange (&mutable_self->text, NULL, text))
        {
          g_free (text);
          text = g_atomic_pointer_get (&mutable_self->text);
        }
    }
  return text;
}

/**
 * punch_peer_id_to_cid_string:
 * @self: a peer ID
 *
 * Returns: (transfer full): the CIDv1 form (libp2p-key, base32: "bafz…")
 */
char *
punch_peer_id_to_cid_string (const PunchPeerId *self)
{
  g_autoptr (GByteArray) cid = g_byte_array_new ();
  gsize len;
  const guint8 *data;

  g_return_val_if_fail (self != NULL, NULL);

  data = g_bytes_get_data (self->bytes, &len);
  punch_varint_append (cid, 1);
  punch_varint_append (cid, MULTICODEC_LIBP2P_KEY);
  g_byte_array_append (cid, data, (guint) len);
  return punch_multibase_encode ('b', cid->data, cid->len);
}

/**
 * punch_peer_id_get_inlined_public_key:
 * @self: a peer ID
 *
 * Returns: (transfer full) (nullable): the encoded PublicKey protobuf that an
 *   identity peer ID carries, or %NULL for a hashed (sha2-256) one
 */
GBytes *
punch_peer_id_get_inlined_public_key (const PunchPeerId *self)
{
  PunchMultihashCode code;
  const guint8 *data, *digest;
  gsize len, digest_len;

  g_return_val_if_fail (self != NULL, NULL);

  data = g_bytes_get_data (self->bytes, &len);
  if (!punch_multihash_parse (data, len, &code, &digest, &digest_len, NULL))
    g_return_val_if_reached (NULL);
  if (code != PUNCH_MULTIHASH_IDENTITY)
    return NULL;
  return g_bytes_new_from_bytes (self->bytes, (gsize) (digest - data), digest_len);
}

/**
 * punch_peer_id_equal:
 * @a: (type PunchPeerId): a peer ID
 * @b: (type PunchPeerId): another
 *
 * Returns: whether @a and @b are the same peer ID; usable as #GEqualFunc
 */
gboolean
punch_peer_id_equal (gconstpointer a, gconstpointer b)
{
  const PunchPeerId *pa = a, *pb = b;

  g_return_val_if_fail (pa != NULL && pb != NULL, FALSE);

  return pa == pb || g_bytes_equal (pa->bytes, pb->bytes);
}

/**
 * punch_peer_id_hash:
 * @self: (type PunchPeerId): a peer ID
 *
 * Returns: a hash of @self; usable as #GHashFunc
 */
guint
punch_peer_id_hash (gconstpointer self)
{
  const PunchPeerId *id = self;

  g_return_val_if_fail (id != NULL, 0);

  return g_bytes_hash (id->bytes);
}
