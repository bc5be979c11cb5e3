/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-multibase.h"

#include <string.h>

#include "punch-error.h"

static const char base58_alphabet[] =
  "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
static const char base32_lower[] = "abcdefghijklmnopqrstuvwxyz234567";
static const char base32_upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char base64_url[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char base64_std[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char base16_lower[] = "0123456789abcdef";
static const char base16_upper[] = "0123456789ABCDEF";

/* Measures @text without reading past the limit, so that an unterminated or
 * enormous string is refused before any work proportional to it. */
static gboolean
check_input_len (const char *text, const char *what, gsize *len, GError **error)
{
  gsize n = strnlen (text, PUNCH_MULTIBASE_MAX_INPUT + 1);

  if (n > PUNCH_MULTIBASE_MAX_INPUT)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "%s input longer than %d characters", what,
                   PUNCH_MULTIBASE_MAX_INPUT);
      return FALSE;
    }
  *len = n;
  return TRUE;
}

static void
set_bad_char (GError **error, const char *what, char c, gsize offset)
{
  if (g_ascii_isprint (c))
    g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                 "invalid %s character '%c' at offset %" G_GSIZE_FORMAT,
                 what, c, offset);
  else
    g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                 "invalid %s character 0x%02x at offset %" G_GSIZE_FORMAT,
                 what, (guint8) c, offset);
}

/**
 * punch_base58_encode:
 * @data: (array length=len): bytes to encode
 * @len: length of @data
 *
 * Encodes with the Bitcoin alphabet; each leading zero byte becomes a '1'.
 * Quadratic in @len, meant for identifiers.
 *
 * Returns: (transfer full): the base58btc text
 */
char *
punch_base58_encode (const guint8 *data, gsize len)
{
  gsize zeros = 0;
  gsize size, start;
  g_autofree guint8 *digits = NULL;
  GString *out;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  while (zeros < len && data[zeros] == 0)
    zeros++;

  /* log(256) / log(58) < 1.38 */
  size = (len - zeros) * 138 / 100 + 1;
  digits = g_malloc0 (size);
  /* used: how many low-order digits are non-zero so far; the rest of the
   * buffer need not be touched, which halves the work. */
  for (gsize i = zeros, used = 0; i < len; i++)
    {
      guint carry = data[i];
      gsize k = 0;

      for (gsize j = size; j-- > 0 && (carry != 0 || k < used); k++)
        {
          carry += 256u * digits[j];
          digits[j] = (guint8) (carry % 58);
          carry /= 58;
        }
      used = k;
    }

  start = 0;
  while (start < size && digits[start] == 0)
    start++;

  out = g_string_sized_new (zeros + size - start + 1);
  for (gsize i = 0; i < zeros; i++)
    g_string_append_c (out, '1');
  for (gsize i = start; i < size; i++)
    g_string_append_c (out, base58_alphabet[digits[i]]);
  return g_string_free (out, FALSE);
}

static int
base58_value (char c)
{
  /* The alphabet is ASCII in increasing order: binary search it. */
  int lo = 0, hi = (int) sizeof base58_alphabet - 2;

  while (lo <= hi)
    {
      int mid = (lo + hi) / 2;

      if (base58_alphabet[mid] == c)
        return mid;
      if (base58_alphabet[mid] < c)
        lo = mid + 1;
      else
        hi = mid - 1;
    }
  return -1;
}

static GBytes *
base58_decode_len (const char *text, gsize len, GError **error)
{
  gsize zeros = 0;
  gsize size, start;
  g_autofree guint8 *bytes = NULL;
  guint8 *out;

  while (zeros < len && text[zeros] == '1')
    zeros++;

  /* log(58) / log(256) < 0.733 */
  size = (len - zeros) * 733 / 1000 + 1;
  bytes = g_malloc0 (size);
  for (gsize i = zeros, used = 0; i < len; i++)
    {
      int v = base58_value (text[i]);
      guint carry;
      gsize k = 0;

      if (v < 0)
        {
          set_bad_char (error, "base58", text[i], i);
          return NULL;
        }
      carry = (guint) v;
      for (gsize j = size; j-- > 0 && (carry != 0 || k < used); k++)
        {
          carry += 58u * bytes[j];
          bytes[j] = (guint8) (carry & 0xff);
          carry >>= 8;
        }
      used = k;
    }

  start = 0;
  while (start < size && bytes[start] == 0)
    start++;

  out = g_malloc0 (zeros + size - start + 1);
  memcpy (out + zeros, bytes + start, size - start);
  return g_bytes_new_take (out, zeros + size - start);
}

/**
 * punch_base58_decode:
 * @text: base58btc text, at most %PUNCH_MULTIBASE_MAX_INPUT characters
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the decoded bytes, or %NULL on error
 */
GBytes *
punch_base58_decode (const char *text, GError **error)
{
  gsize len;

  g_return_val_if_fail (text != NULL, NULL);

  if (!check_input_len (text, "base58", &len, error))
    return NULL;
  return base58_decode_len (text, len, error);
}

/* RFC 4648 bases of 2^bits symbols (16, 32, 64), without padding. */
static char *
bits_encode (const char *alphabet, guint bits, const guint8 *data, gsize len)
{
  GString *out = g_string_sized_new (len * 8 / bits + 2);
  guint32 acc = 0;
  guint n = 0;
  guint mask = (1u << bits) - 1;

  for (gsize i = 0; i < len; i++)
    {
      acc = (acc << 8) | data[i];
      n += 8;
      while (n >= bits)
        {
          n -= bits;
          g_string_append_c (out, alphabet[(acc >> n) & mask]);
        }
    }
  if (n > 0)
    g_string_append_c (out, alphabet[(acc << (bits - n)) & mask]);
  return g_string_free (out, FALSE);
}

static GBytes *
bits_decode (const char  *what,
             const char  *alphabet,
             guint        bits,
             const char  *text,
             gsize        len,
             GError     **error)
{
  GByteArray *out;
  guint32 acc = 0;
  guint n = 0;

  /* A final group of fewer than 8 bits must be all padding; a lone
   * character there (e.g. 1 char of base64) could not have come from any
   * byte string. */
  if ((len * bits) % 8 >= bits)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "invalid %s length %" G_GSIZE_FORMAT, what, len);
      return NULL;
    }

  out = g_byte_array_sized_new ((guint) (len * bits / 8 + 1));
  for (gsize i = 0; i < len; i++)
    {
      const char *p = text[i] ? strchr (alphabet, text[i]) : NULL;

      if (p == NULL)
        {
          set_bad_char (error, what, text[i], i);
          g_byte_array_unref (out);
          return NULL;
        }
      acc = (acc << bits) | (guint32) (p - alphabet);
      n += bits;
      if (n >= 8)
        {
          guint8 b;

          n -= 8;
          b = (guint8) (acc >> n);
          g_byte_array_append (out, &b, 1);
        }
      acc &= (1u << n) - 1;
    }

  /* Non-zero leftover bits would let two texts name the same bytes. */
  if (acc != 0)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "non-canonical %s: trailing bits are not zero", what);
      g_byte_array_unref (out);
      return NULL;
    }
  return g_byte_array_free_to_bytes (out);
}

/**
 * punch_base32_encode:
 * @data: (array length=len): bytes to encode
 * @len: length of @data
 *
 * Returns: (transfer full): RFC 4648 base32, lowercase, without padding
 */
char *
punch_base32_encode (const guint8 *data, gsize len)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);

  return bits_encode (base32_lower, 5, data, len);
}

/**
 * punch_base32_decode:
 * @text: lowercase base32 without padding
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the decoded bytes, or %NULL on error
 */
GBytes *
punch_base32_decode (const char *text, GError **error)
{
  gsize len;

  g_return_val_if_fail (text != NULL, NULL);

  if (!check_input_len (text, "base32", &len, error))
    return NULL;
  return bits_decode ("base32", base32_lower, 5, text, len, error);
}

/* Padded variants: '=' only at the end, and exactly as many as the
 * unpadded length implies. */
static gboolean
strip_padding (const char *what, guint bits, const char *text, gsize *len, GError **error)
{
  guint block = bits == 6 ? 4 : 8;
  gsize n = *len;

  while (n > 0 && text[n - 1] == '=')
    n--;
  if (*len % block != 0 || (n + block - 1) / block * block != *len)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "invalid %s padding", what);
      return FALSE;
    }
  *len = n;
  return TRUE;
}

typedef struct
{
  char        prefix;
  const char *name;
  const char *alphabet;
  guint       bits;     /* 0: base58 */
  gboolean    padded;
} Base;

static const Base bases[] = {
  { 'z', "base58btc", NULL, 0, FALSE },
  { 'b', "base32", base32_lower, 5, FALSE },
  { 'B', "base32upper", base32_upper, 5, FALSE },
  { 'c', "base32pad", base32_lower, 5, TRUE },
  { 'C', "base32padupper", base32_upper, 5, TRUE },
  { 'f', "base16", base16_lower, 4, FALSE },
  { 'F', "base16upper", base16_upper, 4, FALSE },
  { 'm', "base64", base64_std, 6, FALSE },
  { 'M', "base64pad", base64_std, 6, TRUE },
  { 'u', "base64url", base64_url, 6, FALSE },
  { 'U', "base64urlpad", base64_url, 6, TRUE },
};

static const Base *
find_base (char prefix)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bases); i++)
    if (bases[i].prefix == prefix)
      return &bases[i];
  return NULL;
}

/**
 * punch_multibase_encode:
 * @prefix: the multibase prefix: 'z' (base58btc), 'b'/'B' (base32),
 *   'c'/'C' (padded base32), 'f'/'F' (base16), 'm'/'M' (base64),
 *   'u'/'U' (base64url)
 * @data: (array length=len): bytes to encode
 * @len: length of @data
 *
 * Returns: (transfer full): the prefixed text
 */
char *
punch_multibase_encode (char prefix, const guint8 *data, gsize len)
{
  const Base *base = find_base (prefix);
  g_autofree char *body = NULL;

  g_return_val_if_fail (base != NULL, NULL);
  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (base->bits == 0)
    body = punch_base58_encode (data, len);
  else
    body = bits_encode (base->alphabet, base->bits, data, len);

  if (base->padded)
    {
      guint block = base->bits == 6 ? 4 : 8;
      GString *s = g_string_new (body);

      while (s->len % block != 0)
        g_string_append_c (s, '=');
      g_free (body);
      body = g_string_free (s, FALSE);
    }
  return g_strdup_printf ("%c%s", prefix, body);
}

/**
 * punch_multibase_decode:
 * @text: multibase text (see punch_multibase_encode() for the prefixes
 *   understood), at most %PUNCH_MULTIBASE_MAX_INPUT characters
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the decoded bytes, or %NULL on error
 */
GBytes *
punch_multibase_decode (const char *text, GError **error)
{
  const Base *base;
  gsize len;

  g_return_val_if_fail (text != NULL, NULL);

  if (!check_input_len (text, "multibase", &len, error))
    return NULL;
  if (len == 0)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "empty multibase string");
      return NULL;
    }

  base = find_base (text[0]);
  if (base == NULL)
    {
      if (g_ascii_isprint (text[0]))
        g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                     "unsupported multibase prefix '%c'", text[0]);
      else
        g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                     "unsupported multibase prefix 0x%02x", (guint8) text[0]);
      return NULL;
    }

  text++;
  len--;
  if (base->bits == 0)
    return base58_decode_len (text, len, error);
  if (base->padded && !strip_padding (base->name, base->bits, text, &len, error))
    return NULL;
  return bits_decode (base->name, base->alphabet, base->bits, text, len, error);
}
