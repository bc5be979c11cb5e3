/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-varint.h"

#include "punch-error.h"

/* Largest value that fits in PUNCH_VARINT_MAX_LEN bytes of 7 bits each. */
#define VARINT_MAX_VALUE G_GUINT64_CONSTANT (0x7fffffffffffffff)

/**
 * punch_varint_size:
 * @value: a value below 2^63
 *
 * Returns: how many bytes punch_varint_encode() writes for @value
 */
gsize
punch_varint_size (guint64 value)
{
  gsize n = 1;

  while (value >= 0x80)
    {
      value >>= 7;
      n++;
    }
  return n;
}

/**
 * punch_varint_encode:
 * @value: a value below 2^63 (libp2p's limit: nine bytes of seven bits)
 * @out: (out caller-allocates): room for %PUNCH_VARINT_MAX_LEN bytes
 *
 * Writes the minimal unsigned LEB128 encoding of @value.
 *
 * Returns: the number of bytes written, or 0 if @value does not fit
 */
gsize
punch_varint_encode (guint64 value, guint8 out[PUNCH_VARINT_MAX_LEN])
{
  gsize n = 0;

  g_return_val_if_fail (value <= VARINT_MAX_VALUE, 0);

  while (value >= 0x80)
    {
      out[n++] = (guint8) (value | 0x80);
      value >>= 7;
    }
  out[n++] = (guint8) value;
  return n;
}

/**
 * punch_varint_decode:
 * @buf: bytes starting with a varint
 * @len: number of bytes available in @buf
 * @value: (out) (optional): the decoded value
 * @consumed: (out) (optional): how many bytes the varint took
 * @error: return location for a #GError
 *
 * Decodes one unsigned varint as libp2p frames them: minimal encoding, at
 * most nine bytes.
 *
 * Returns: %TRUE on success
 */
gboolean
punch_varint_decode (const guint8 *buf,
                     gsize         len,
                     guint64      *value,
                     gsize        *consumed,
                     GError      **error)
{
  guint64 v = 0;

  g_return_val_if_fail (buf != NULL || len == 0, FALSE);

  for (gsize i = 0; i < PUNCH_VARINT_MAX_LEN; i++)
    {
      guint8 b;

      if (i >= len)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TRUNCATED,
                       "varint truncated after %" G_GSIZE_FORMAT " bytes", len);
          return FALSE;
        }
      b = buf[i];
      v |= (guint64) (b & 0x7f) << (7 * i);
      if ((b & 0x80) == 0)
        {
          /* A zero final byte after the first means the same value had a
           * shorter encoding; accepting it would give one value two forms. */
          if (b == 0 && i > 0)
            {
              g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                           "varint is not minimally encoded");
              return FALSE;
            }
          if (value)
            *value = v;
          if (consumed)
            *consumed = i + 1;
          return TRUE;
        }
    }

  g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
               "varint longer than %d bytes", PUNCH_VARINT_MAX_LEN);
  return FALSE;
}

/**
 * punch_varint_append:
 * @array: a byte array
 * @value: a value below 2^63
 *
 * Appends the varint encoding of @value to @array.
 */
void
punch_varint_append (GByteArray *array, guint64 value)
{
  guint8 buf[PUNCH_VARINT_MAX_LEN];
  gsize n;

  g_return_if_fail (array != NULL);

  n = punch_varint_encode (value, buf);
  g_byte_array_append (array, buf, (guint) n);
}
