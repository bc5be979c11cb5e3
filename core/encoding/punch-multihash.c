/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-multihash.h"

#include "punch-error.h"
#include "punch-varint.h"

#define SHA2_256_LEN 32

static GBytes *
multihash_build (PunchMultihashCode code, const guint8 *digest, gsize len)
{
  GByteArray *array = g_byte_array_sized_new ((guint) len + 2 * PUNCH_VARINT_MAX_LEN);

  punch_varint_append (array, code);
  punch_varint_append (array, len);
  g_byte_array_append (array, digest, (guint) len);
  return g_byte_array_free_to_bytes (array);
}

/**
 * punch_multihash_identity:
 * @data: (array length=len): the bytes to inline
 * @len: length of @data
 *
 * Returns: (transfer full): `0x00 <varint len> <data>`
 */
GBytes *
punch_multihash_identity (const guint8 *data, gsize len)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (len <= G_MAXUINT32 / 2, NULL);

  return multihash_build (PUNCH_MULTIHASH_IDENTITY, data, len);
}

/**
 * punch_multihash_sha2_256:
 * @data: (array length=len): the bytes to hash
 * @len: length of @data
 *
 * Returns: (transfer full): `0x12 0x20 <sha256(data)>`
 */
GBytes *
punch_multihash_sha2_256 (const guint8 *data, gsize len)
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[SHA2_256_LEN];
  gsize digest_len = sizeof digest;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  /* g_checksum_update() takes a gssize; feed huge inputs in pieces. */
  while (len > 0)
    {
      gsize chunk = MIN (len, (gsize) G_MAXINT32);

      g_checksum_update (checksum, data, (gssize) chunk);
      data += chunk;
      len -= chunk;
    }
  g_checksum_get_digest (checksum, digest, &digest_len);
  return multihash_build (PUNCH_MULTIHASH_SHA2_256, digest, digest_len);
}

/**
 * punch_multihash_parse:
 * @data: (array length=len): a multihash
 * @len: its exact length
 * @code: (out) (optional): the hash function
 * @digest: (out) (optional) (transfer none): the digest, inside @data
 * @digest_len: (out) (optional): the digest's length
 * @error: return location for a #GError
 *
 * Accepts identity and sha2-256 multihashes (the two peer IDs use); any other
 * hash function fails with %PUNCH_ERROR_UNSUPPORTED.
 *
 * Returns: %TRUE if @data is exactly one valid multihash
 */
gboolean
punch_multihash_parse (const guint8        *data,
                       gsize                len,
                       PunchMultihashCode  *code,
                       const guint8       **digest,
                       gsize               *digest_len,
                       GError             **error)
{
  guint64 fn, dlen;
  gsize n1, n2;
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  if (!punch_varint_decode (data, len, &fn, &n1, &local_error) ||
      !punch_varint_decode (data + n1, len - n1, &dlen, &n2, &local_error))
    {
      g_set_error (error, PUNCH_ERROR, local_error->code,
                   "invalid multihash: %s", local_error->message);
      return FALSE;
    }

  if (fn != PUNCH_MULTIHASH_IDENTITY && fn != PUNCH_MULTIHASH_SHA2_256)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                   "unsupported multihash function 0x%" G_GINT64_MODIFIER "x", fn);
      return FALSE;
    }
  if (fn == PUNCH_MULTIHASH_SHA2_256 && dlen != SHA2_256_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "sha2-256 multihash with a %" G_GUINT64_FORMAT "-byte digest",
                   dlen);
      return FALSE;
    }
  if (dlen > len - n1 - n2)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TRUNCATED,
                   "multihash truncated: digest of %" G_GUINT64_FORMAT
                   " bytes, %" G_GSIZE_FORMAT " present",
                   dlen, len - n1 - n2);
      return FALSE;
    }
  if (dlen < len - n1 - n2)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "%" G_GSIZE_FORMAT " trailing bytes after multihash",
                   (gsize) (len - n1 - n2 - dlen));
      return FALSE;
    }

  if (code)
    *code = (PunchMultihashCode) fn;
  if (digest)
    *digest = data + n1 + n2;
  if (digest_len)
    *digest_len = (gsize) dlen;
  return TRUE;
}
