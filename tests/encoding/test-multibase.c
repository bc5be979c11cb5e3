/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-multibase.h"

#include <string.h>

#include "punch-error.h"

typedef struct
{
  const char *data;
  gsize       len;
  const char *text;
} CodecCase;

#define S(x) x, sizeof x - 1

static const CodecCase base58_cases[] = {
  { S (""), "" },
  { S ("\0"), "1" },
  { S ("\0\0\x01"), "112" },
  { S ("hello world"), "StV1DL6CwTryKyV" },
  { S ("yes mani !"), "7paNL19xttacUY" },
  { S ("\xff"), "5Q" },
  { S ("\0\0\0\x01\x02\xff"), "111LiA" },
};

static const CodecCase base32_cases[] = {
  { S (""), "" },
  { S ("f"), "my" },
  { S ("fo"), "mzxq" },
  { S ("foo"), "mzxw6" },
  { S ("foob"), "mzxw6yq" },
  { S ("fooba"), "mzxw6ytb" },
  { S ("foobar"), "mzxw6ytboi" },
  { S ("yes mani !"), "pfsxgidnmfxgsibb" },
  { S ("\0\0\x01\x02\xff"), "aaaacax7" },
};

static void
check_bytes (GBytes *bytes, const char *data, gsize len)
{
  g_assert_nonnull (bytes);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), data, len);
}

static void
test_base58 (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (base58_cases); i++)
    {
      const CodecCase *c = &base58_cases[i];
      g_autofree char *text = punch_base58_encode ((const guint8 *) c->data, c->len);
      g_autoptr (GBytes) back = NULL;
      g_autoptr (GError) error = NULL;

      g_assert_cmpstr (text, ==, c->text);
      back = punch_base58_decode (c->text, &error);
      g_assert_no_error (error);
      check_bytes (back, c->data, c->len);
    }
}

/* Longer inputs, where the carry runs across many digits (vectors computed
 * with arbitrary-precision integers). */
static void
test_base58_long (void)
{
  static const struct { guint8 first, step; gsize len, zeros; const char *text; } cases[] = {
    { 0, 1, 64, 0, "1GMkH3brNXiNNs1tiFZHu4yZSRrzJwxi5wB9bHFtMinfCXNnR1adh8Vo8NTheK4evneedH4qmvjeqcBBNAefgS" },
    { 255, 0, 40, 0, "Dim4mzb29eRsQ3xpMX5gQMZVuoZq3cJdytGuo3uFm75w8eWwCihZEdc" },
    { 200, 1, 55, 2, "112ETKLzjBE7Hj4MDknCGTByPAj7vvGvD7WuyHJgwnEACcmoi9evrh9e1nbGA9ir77qL6iZzQxzvaR" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint8 data[80] = { 0 };
      g_autofree char *text = NULL;
      g_autoptr (GBytes) back = NULL;
      g_autoptr (GError) error = NULL;
      gsize n = cases[i].zeros + cases[i].len;

      for (gsize j = 0; j < cases[i].len; j++)
        data[cases[i].zeros + j] = (guint8) (cases[i].first + cases[i].step * j);
      text = punch_base58_encode (data, n);
      g_assert_cmpstr (text, ==, cases[i].text);
      back = punch_base58_decode (cases[i].text, &error);
      g_assert_no_error (error);
      check_bytes (back, (const char *) data, n);
    }
}

static void
test_base32 (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (base32_cases); i++)
    {
      const CodecCase *c = &base32_cases[i];
      g_autofree char *text = punch_base32_encode ((const guint8 *) c->data, c->len);
      g_autoptr (GBytes) back = NULL;
      g_autoptr (GError) error = NULL;

      g_assert_cmpstr (text, ==, c->text);
      back = punch_base32_decode (c->text, &error);
      g_assert_no_error (error);
      check_bytes (back, c->data, c->len);
    }
}

/* The multibase spec's "yes mani !" in every base we read. */
static const struct
{
  char        prefix;
  const char *text;
} multibase_cases[] = {
  { 'z', "z7paNL19xttacUY" },
  { 'b', "bpfsxgidnmfxgsibb" },
  { 'B', "BPFSXGIDNMFXGSIBB" },
  { 'c', "cpfsxgidnmfxgsibb" },
  { 'C', "CPFSXGIDNMFXGSIBB" },
  { 'f', "f796573206d616e692021" },
  { 'F', "F796573206D616E692021" },
  { 'm', "meWVzIG1hbmkgIQ" },
  { 'M', "MeWVzIG1hbmkgIQ==" },
  { 'u', "ueWVzIG1hbmkgIQ" },
  { 'U', "UeWVzIG1hbmkgIQ==" },
};

static void
test_multibase (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (multibase_cases); i++)
    {
      g_autofree char *text = NULL;
      g_autoptr (GBytes) back = NULL;
      g_autoptr (GError) error = NULL;

      g_test_message ("prefix %c", multibase_cases[i].prefix);
      text = punch_multibase_encode (multibase_cases[i].prefix, (const guint8 *) S ("yes mani !"));
      g_assert_cmpstr (text, ==, multibase_cases[i].text);
      back = punch_multibase_decode (multibase_cases[i].text, &error);
      g_assert_no_error (error);
      check_bytes (back, S ("yes mani !"));
    }
}

/* Padded forms of every remainder, and the base64url alphabet's own chars. */
static void
test_padding (void)
{
  static const struct { const char *text; const char *data; gsize len; } cases[] = {
    { "MZg==", S ("f") },
    { "MZm8=", S ("fo") },
    { "MZm9v", S ("foo") },
    { "cmy======", S ("f") },
    { "cmzxq====", S ("fo") },
    { "cmzxw6===", S ("foo") },
    { "cmzxw6yq=", S ("foob") },
    { "cmzxw6ytb", S ("fooba") },
    { "u-__8", S ("\xfb\xff\xfc") },
    { "u--8", S ("\xfb\xef") },
    { "m+//8", S ("\xfb\xff\xfc") },
    { "u", S ("") },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) back = NULL;
      g_autoptr (GError) error = NULL;

      g_test_message ("case %s", cases[i].text);
      back = punch_multibase_decode (cases[i].text, &error);
      g_assert_no_error (error);
      check_bytes (back, cases[i].data, cases[i].len);
    }
}

typedef struct
{
  const char *text;
  int         code;
  const char *message;  /* a substring of the error message */
} BadCase;

static const BadCase bad_multibase[] = {
  { "", PUNCH_ERROR_MALFORMED, "empty" },
  { "x123", PUNCH_ERROR_UNSUPPORTED, "'x'" },
  { "\x01" "abc", PUNCH_ERROR_UNSUPPORTED, "0x01" },
  { "z0OIl", PUNCH_ERROR_MALFORMED, "base58 character '0'" },
  { "z12+", PUNCH_ERROR_MALFORMED, "'+' at offset 2" },
  { "bMZXW6", PUNCH_ERROR_MALFORMED, "base32 character 'M'" },
  { "bmzxw6y=", PUNCH_ERROR_MALFORMED, "base32 character '='" },
  { "bm", PUNCH_ERROR_MALFORMED, "length" },
  { "bmzx", PUNCH_ERROR_MALFORMED, "length" },
  { "bmzxw6y", PUNCH_ERROR_MALFORMED, "length" },
  { "bmz", PUNCH_ERROR_MALFORMED, "trailing bits" },   /* "my" is canonical */
  { "f0", PUNCH_ERROR_MALFORMED, "length" },
  { "fzz", PUNCH_ERROR_MALFORMED, "base16 character 'z'" },
  { "fAB", PUNCH_ERROR_MALFORMED, "character 'A'" },
  { "uZh", PUNCH_ERROR_MALFORMED, "trailing bits" },
  { "uZ", PUNCH_ERROR_MALFORMED, "length" },
  { "u+/8", PUNCH_ERROR_MALFORMED, "'+'" },
  { "m-_8", PUNCH_ERROR_MALFORMED, "'-'" },
  { "ueWVzIG1hbmkgIQ==", PUNCH_ERROR_MALFORMED, "'='" },
  { "MZg=", PUNCH_ERROR_MALFORMED, "padding" },
  { "MZg===", PUNCH_ERROR_MALFORMED, "padding" },
  { "M====", PUNCH_ERROR_MALFORMED, "padding" },
  { "MZ=g=", PUNCH_ERROR_MALFORMED, "'='" },
  { "cmy=====", PUNCH_ERROR_MALFORMED, "padding" },
};

static void
test_bad (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_multibase); i++)
    {
      const BadCase *c = &bad_multibase[i];
      g_autoptr (GBytes) bytes = NULL;
      g_autoptr (GError) error = NULL;

      g_test_message ("case %s", c->text);
      bytes = punch_multibase_decode (c->text, &error);
      g_assert_null (bytes);
      g_assert_error (error, PUNCH_ERROR, c->code);
      if (strstr (error->message, c->message) == NULL)
        g_error ("'%s': message '%s' lacks '%s'", c->text, error->message, c->message);
    }
}

static void
test_bad_plain (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;

  bytes = punch_base58_decode ("I", &error);
  g_assert_null (bytes);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED);
  g_clear_error (&error);

  bytes = punch_base32_decode ("MY", &error);
  g_assert_null (bytes);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED);
}

static void
test_too_long (void)
{
  g_autofree char *ok = g_strnfill (PUNCH_MULTIBASE_MAX_INPUT, '2');
  g_autofree char *too_long = g_strnfill (PUNCH_MULTIBASE_MAX_INPUT + 1, 'a');
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;

  /* The largest accepted input still decodes (and quickly: it is quadratic). */
  bytes = punch_base58_decode (ok, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (bytes), <=, PUNCH_MULTIBASE_MAX_INPUT * 733 / 1000 + 1);
  g_clear_pointer (&bytes, g_bytes_unref);

  bytes = punch_base58_decode (too_long, &error);
  g_assert_null (bytes);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
  g_clear_error (&error);

  bytes = punch_base32_decode (too_long, &error);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
  g_clear_error (&error);

  too_long[0] = 'z';
  bytes = punch_multibase_decode (too_long, &error);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
}

/* Encoding then decoding random data gives it back in every base. */
static void
test_random_round_trip (void)
{
  static const char prefixes[] = "zbBcCfFmMuU";
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);

  for (guint iter = 0; iter < 500; iter++)
    {
      guint8 data[64];
      gsize len = (gsize) g_rand_int_range (rand, 0, sizeof data);

      for (gsize i = 0; i < len; i++)
        data[i] = (guint8) (iter % 3 == 0 && i < 4 ? 0 : g_rand_int_range (rand, 0, 256));

      for (const char *p = prefixes; *p; p++)
        {
          g_autofree char *text = punch_multibase_encode (*p, data, len);
          g_autoptr (GBytes) back = NULL;
          g_autoptr (GError) error = NULL;

          back = punch_multibase_decode (text, &error);
          g_assert_no_error (error);
          check_bytes (back, (const char *) data, len);
        }
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/multibase/base58", test_base58);
  g_test_add_func ("/core/multibase/base58-long", test_base58_long);
  g_test_add_func ("/core/multibase/base32", test_base32);
  g_test_add_func ("/core/multibase/multibase", test_multibase);
  g_test_add_func ("/core/multibase/padding", test_padding);
  g_test_add_func ("/core/multibase/bad", test_bad);
  g_test_add_func ("/core/multibase/bad-plain", test_bad_plain);
  g_test_add_func ("/core/multibase/too-long", test_too_long);
  g_test_add_func ("/core/multibase/random-round-trip", test_random_round_trip);

  return g_test_run ();
}
