/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-multihash.h"

#include <string.h>

#include "punch-error.h"

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
test_identity (void)
{
  g_autoptr (GBytes) key = from_hex ("080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
  g_autoptr (GBytes) expected = from_hex ("0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
  g_autoptr (GBytes) mh = punch_multihash_identity (g_bytes_get_data (key, NULL), g_bytes_get_size (key));
  g_autoptr (GError) error = NULL;
  PunchMultihashCode code = 99;
  const guint8 *digest = NULL;
  gsize digest_len = 0;

  g_assert_true (g_bytes_equal (mh, expected));
  g_assert_true (punch_multihash_parse (g_bytes_get_data (mh, NULL), g_bytes_get_size (mh),
                                        &code, &digest, &digest_len, &error));
  g_assert_no_error (error);
  g_assert_cmpint (code, ==, PUNCH_MULTIHASH_IDENTITY);
  g_assert_cmpmem (digest, digest_len, g_bytes_get_data (key, NULL), g_bytes_get_size (key));
  g_assert_true (digest == (const guint8 *) g_bytes_get_data (mh, NULL) + 2);
}

static void
test_sha2_256 (void)
{
  /* sha256("hello world") */
  g_autoptr (GBytes) expected = from_hex ("1220b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
  g_autoptr (GBytes) mh = punch_multihash_sha2_256 ((const guint8 *) "hello world", 11);
  g_autoptr (GError) error = NULL;
  PunchMultihashCode code = 99;
  gsize digest_len = 0;

  g_assert_true (g_bytes_equal (mh, expected));
  g_assert_true (punch_multihash_parse (g_bytes_get_data (mh, NULL), g_bytes_get_size (mh),
                                        &code, NULL, &digest_len, &error));
  g_assert_no_error (error);
  g_assert_cmpint (code, ==, PUNCH_MULTIHASH_SHA2_256);
  g_assert_cmpuint (digest_len, ==, 32);
}

static void
test_long_identity (void)
{
  /* A 200-byte identity digest needs a two-byte length varint. */
  guint8 data[200];
  g_autoptr (GBytes) mh = NULL;
  const guint8 *bytes;
  gsize len, digest_len = 0;

  memset (data, 0xab, sizeof data);
  mh = punch_multihash_identity (data, sizeof data);
  bytes = g_bytes_get_data (mh, &len);
  g_assert_cmpuint (len, ==, 203);
  g_assert_cmpmem (bytes, 3, "\x00\xc8\x01", 3);
  g_assert_true (punch_multihash_parse (bytes, len, NULL, NULL, &digest_len, NULL));
  g_assert_cmpuint (digest_len, ==, 200);
}

typedef struct
{
  const char *hex;
  int         code;
} BadCase;

static const BadCase bad_cases[] = {
  { "", PUNCH_ERROR_TRUNCATED },
  { "00", PUNCH_ERROR_TRUNCATED },
  { "0005aabb", PUNCH_ERROR_TRUNCATED },
  { "0002aabbcc", PUNCH_ERROR_MALFORMED },                    /* trailing byte */
  { "1220aabb", PUNCH_ERROR_TRUNCATED },
  { "1210aabbccddeeff00112233445566778899", PUNCH_ERROR_MALFORMED }, /* 16-byte sha2-256 */
  { "1320", PUNCH_ERROR_UNSUPPORTED },                        /* sha2-512 */
  { "b24020", PUNCH_ERROR_UNSUPPORTED },                      /* blake2b-256 */
  { "8000", PUNCH_ERROR_MALFORMED },                          /* overlong code */
  { "0080", PUNCH_ERROR_TRUNCATED },
  { "00ffffffffffffffff7f", PUNCH_ERROR_TRUNCATED },          /* huge length, no alloc */
  { "00ffffffffffffffffff01", PUNCH_ERROR_TOO_LARGE },
};

static void
test_bad (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autoptr (GBytes) bytes = from_hex (bad_cases[i].hex);
      g_autoptr (GError) error = NULL;
      PunchMultihashCode code = 99;

      g_test_message ("case %s", bad_cases[i].hex);
      g_assert_false (punch_multihash_parse (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                             &code, NULL, NULL, &error));
      g_assert_error (error, PUNCH_ERROR, bad_cases[i].code);
      g_assert_true (g_str_has_prefix (error->message, "invalid multihash") ||
                     strstr (error->message, "multihash") != NULL);
      g_assert_cmpint (code, ==, 99);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/multihash/identity", test_identity);
  g_test_add_func ("/core/multihash/sha2-256", test_sha2_256);
  g_test_add_func ("/core/multihash/long-identity", test_long_identity);
  g_test_add_func ("/core/multihash/bad", test_bad);

  return g_test_run ();
}
