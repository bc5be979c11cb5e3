/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-varint.h"

#include <string.h>

#include "punch-error.h"

typedef struct
{
  guint64     value;
  const char *hex;
} VarintCase;

static const VarintCase good_cases[] = {
  { 0, "00" },
  { 1, "01" },
  { 127, "7f" },
  { 128, "8001" },
  { 255, "ff01" },
  { 300, "ac02" },
  { 16384, "808001" },
  { 421, "a503" },
  { 461, "cd03" },
  { G_GUINT64_CONSTANT (0x7fffffffffffffff), "ffffffffffffffff7f" },
};

static GBytes *
from_hex (const char *hex)
{
  gsize n = strlen (hex) / 2;
  guint8 *buf = g_malloc (n + 1);

  for (gsize i = 0; i < n; i++)
    buf[i] = (guint8) (g_ascii_xdigit_value (hex[2 * i]) * 16 +
                       g_ascii_xdigit_value (hex[2 * i + 1]));
  return g_bytes_new_take (buf, n);
}

static void
test_round_trip (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (good_cases); i++)
    {
      const VarintCase *c = &good_cases[i];
      g_autoptr (GBytes) expected = from_hex (c->hex);
      g_autoptr (GByteArray) array = g_byte_array_new ();
      g_autoptr (GError) error = NULL;
      guint8 out[PUNCH_VARINT_MAX_LEN];
      gsize n, consumed = 0;
      guint64 value = 0;

      n = punch_varint_encode (c->value, out);
      g_assert_cmpmem (out, n, g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
      g_assert_cmpuint (punch_varint_size (c->value), ==, n);

      punch_varint_append (array, c->value);
      g_assert_cmpmem (array->data, array->len, out, n);

      /* Trailing bytes after the varint are left for the caller. */
      g_byte_array_append (array, (const guint8 *) "\x80\x80", 2);
      g_assert_true (punch_varint_decode (array->data, array->len, &value, &consumed, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (value, ==, c->value);
      g_assert_cmpuint (consumed, ==, n);
    }
}

typedef struct
{
  const char *hex;
  int         code;
} BadCase;

static const BadCase bad_cases[] = {
  { "", PUNCH_ERROR_TRUNCATED },
  { "80", PUNCH_ERROR_TRUNCATED },
  { "ff80", PUNCH_ERROR_TRUNCATED },
  { "ffffffffffffffff", PUNCH_ERROR_TRUNCATED },
  { "8000", PUNCH_ERROR_MALFORMED },         /* 0 in two bytes */
  { "ff00", PUNCH_ERROR_MALFORMED },         /* 127 in two bytes */
  { "808000", PUNCH_ERROR_MALFORMED },
  { "ffffffffffffffff80", PUNCH_ERROR_TOO_LARGE },
  { "ffffffffffffffffff01", PUNCH_ERROR_TOO_LARGE },  /* 2^63..2^64 need 10 bytes */
  { "80808080808080808001", PUNCH_ERROR_TOO_LARGE },
};

static void
test_bad (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autoptr (GBytes) bytes = from_hex (bad_cases[i].hex);
      g_autoptr (GError) error = NULL;
      guint64 value = 42;
      gsize consumed = 42;

      g_test_message ("case %s", bad_cases[i].hex);
      g_assert_false (punch_varint_decode (g_bytes_get_data (bytes, NULL),
                                           g_bytes_get_size (bytes),
                                           &value, &consumed, &error));
      g_assert_error (error, PUNCH_ERROR, bad_cases[i].code);
      g_assert_nonnull (error->message);
      g_assert_cmpuint (value, ==, 42);
      g_assert_cmpuint (consumed, ==, 42);
    }
}

static void
test_every_size (void)
{
  /* Each boundary 2^(7k) - 1 / 2^(7k) switches the length by one. */
  for (guint k = 1; k < 9; k++)
    {
      guint64 v = G_GUINT64_CONSTANT (1) << (7 * k);
      guint8 out[PUNCH_VARINT_MAX_LEN];
      guint64 back = 0;
      gsize consumed = 0;

      g_assert_cmpuint (punch_varint_encode (v - 1, out), ==, k);
      g_assert_cmpuint (punch_varint_encode (v, out), ==, k + 1);
      g_assert_true (punch_varint_decode (out, k + 1, &back, &consumed, NULL));
      g_assert_cmpuint (back, ==, v);
      g_assert_cmpuint (consumed, ==, k + 1);
      /* Every strict prefix is truncated. */
      for (gsize cut = 0; cut <= k; cut++)
        {
          g_autoptr (GError) error = NULL;

          g_assert_false (punch_varint_decode (out, cut, NULL, NULL, &error));
          g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TRUNCATED);
        }
    }
}

static void
test_encode_too_large (void)
{
  if (g_test_subprocess ())
    {
      guint8 out[PUNCH_VARINT_MAX_LEN];

      punch_varint_encode (G_GUINT64_CONSTANT (1) << 63, out);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*value <= VARINT_MAX_VALUE*");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/varint/round-trip", test_round_trip);
  g_test_add_func ("/core/varint/bad", test_bad);
  g_test_add_func ("/core/varint/every-size", test_every_size);
  g_test_add_func ("/core/varint/encode-too-large", test_encode_too_large);

  return g_test_run ();
}
