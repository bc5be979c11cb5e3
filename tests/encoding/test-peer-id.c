/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-peer-id.h"

#include <string.h>

#include "punch-error.h"

#define SPEC_KEY_HEX "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
#define SPEC_ID_B58 "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
#define SPEC_ID_CID "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6"
#define QM_ID "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
#define QM_HEX "12209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9"
#define QM_CID "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe"

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
test_spec_vector (void)
{
  g_autoptr (GBytes) key = from_hex (SPEC_KEY_HEX);
  g_autoptr (GBytes) expected = from_hex ("0024" SPEC_KEY_HEX);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GBytes) inlined = NULL;
  g_autoptr (PunchPeerId) id = NULL;
  g_autoptr (PunchPeerId) from_cid = NULL;
  g_autoptr (PunchPeerId) from_bytes = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *cid = NULL;

  id = punch_peer_id_parse (SPEC_ID_B58, &error);
  g_assert_no_error (error);
  bytes = punch_peer_id_to_bytes (id);
  g_assert_true (g_bytes_equal (bytes, expected));
  g_assert_cmpstr (punch_peer_id_to_string (id), ==, SPEC_ID_B58);
  cid = punch_peer_id_to_cid_string (id);
  g_assert_cmpstr (cid, ==, SPEC_ID_CID);

  inlined = punch_peer_id_get_inlined_public_key (id);
  g_assert_nonnull (inlined);
  g_assert_true (g_bytes_equal (inlined, key));

  from_cid = punch_peer_id_parse (SPEC_ID_CID, &error);
  g_assert_no_error (error);
  g_assert_true (punch_peer_id_equal (id, from_cid));
  g_assert_cmpuint (punch_peer_id_hash (id), ==, punch_peer_id_hash (from_cid));
  g_assert_cmpstr (punch_peer_id_to_string (from_cid), ==, SPEC_ID_B58);

  from_bytes = punch_peer_id_new_from_multihash (expected, &error);
  g_assert_no_error (error);
  g_assert_true (punch_peer_id_equal (id, from_bytes));
}

static void
test_sha256_id (void)
{
  g_autoptr (GBytes) expected = from_hex (QM_HEX);
  g_autoptr (PunchPeerId) id = NULL;
  g_autoptr (PunchPeerId) from_cid = NULL;
  g_autoptr (PunchPeerId) spec = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *cid = NULL;
  const guint8 *data;
  gsize len;

  id = punch_peer_id_parse (QM_ID, &error);
  g_assert_no_error (error);
  data = punch_peer_id_get_bytes (id, &len);
  g_assert_cmpmem (data, len, g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
  g_assert_cmpstr (punch_peer_id_to_string (id), ==, QM_ID);
  g_assert_null (punch_peer_id_get_inlined_public_key (id));

  cid = punch_peer_id_to_cid_string (id);
  g_assert_cmpstr (cid, ==, QM_CID);
  from_cid = punch_peer_id_parse (cid, &error);
  g_assert_no_error (error);
  g_assert_true (punch_peer_id_equal (id, from_cid));

  spec = punch_peer_id_parse (SPEC_ID_B58, &error);
  g_assert_no_error (error);
  g_assert_false (punch_peer_id_equal (id, spec));
}

static void
test_other_multibase_cid (void)
{
  /* A CID may come in any multibase; base16 and base58 name the same key. */
  static const char *const texts[] = {
    "f01720024" SPEC_KEY_HEX,
    "z5AanNVJCxnGuh8TJu4nye3dE3NbxAd8FB9cr46uVagyFPuibMxok2R",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchPeerId) id = punch_peer_id_parse (texts[i], &error);

      g_assert_no_error (error);
      g_assert_cmpstr (punch_peer_id_to_string (id), ==, SPEC_ID_B58);
    }
}

typedef struct
{
  const char *text;
  int         code;
  const char *message;
} BadText;

static const BadText bad_texts[] = {
  { "", PUNCH_ERROR_MALFORMED, "empty peer ID" },
  /* One base58 character less or more changes every byte, not just the end. */
  { "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3p", -1, "invalid peer ID '12D3KooW" },
  { "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pqq", -1, "invalid peer ID '12D3KooW" },
  { "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3p0", PUNCH_ERROR_MALFORMED, "base58 character '0'" },
  { "QmNLei78zWmzUdbeRB3CiUfAizWUrbeeZh5K1rhAQKCh5", -1, "invalid peer ID 'Qm" },
  /* One byte off the end of the spec ID's bytes, then re-encoded. */
  { "1GsNUph9MmeHfqZnz5gLeBfCATATinkn5Bn2p6xeXwnshWUjc5", PUNCH_ERROR_TRUNCATED, "truncated" },
  { "11", PUNCH_ERROR_MALFORMED, "0-byte key" },
  { "1Eytmi2nT4Gn4T1KMHmA2arNN6NZebFagiE8CVwwyaazB4sAa84MoZbbVpq2o", PUNCH_ERROR_MALFORMED, "43-byte key" },
  { "6PHcid3kVtc7gLcwhNJid8dHhnCfV19XiPg3GbpcfMtb1", PUNCH_ERROR_UNSUPPORTED, "multibase prefix '6'" },
  /* dag-pb CID of the same multihash: not a key */
  { "bafyaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6", PUNCH_ERROR_UNSUPPORTED,
    "CID multicodec 0x70 is not libp2p-key (0x72)" },
  { "bajzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6", PUNCH_ERROR_UNSUPPORTED, "CID version 2" },
  { "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt", PUNCH_ERROR_MALFORMED, "trailing bits" },
  { "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzy", PUNCH_ERROR_MALFORMED, "length" },
  { "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pq", PUNCH_ERROR_TRUNCATED, "truncated" },
  { "bAFZAAJAIAEJCAHWR5D5OFRFBIS4L5D6UWR57HU5TJODRYPFM6YAQ6DSC2R2PZYT6", PUNCH_ERROR_MALFORMED, "base32 character 'A'" },
  { "b", PUNCH_ERROR_TRUNCATED, "" },
  { "hello", PUNCH_ERROR_UNSUPPORTED, "'h'" },
  { "not a peer\x01", PUNCH_ERROR_UNSUPPORTED, "\\001" },
};

static void
test_bad_text (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_texts); i++)
    {
      const BadText *c = &bad_texts[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchPeerId) id = NULL;

      g_test_message ("case '%s'", c->text);
      id = punch_peer_id_parse (c->text, &error);
      g_assert_null (id);
      g_assert_nonnull (error);
      g_assert_true (error->domain == PUNCH_ERROR);
      if (c->code >= 0)
        g_assert_error (error, PUNCH_ERROR, c->code);
      g_test_message ("  -> %s", error->message);
      if (strstr (error->message, c->message) == NULL)
        g_error ("'%s': message '%s' lacks '%s'", c->text, error->message, c->message);
    }
}

/* "BAFZ…" is the same CID in multibase base32upper; only a lower-case 'b'
 * prefix with upper-case text (above) is refused. */
static void
test_upper_cid (void)
{
  g_autofree char *upper = g_ascii_strup (SPEC_ID_CID, -1);
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerId) id = punch_peer_id_parse (upper, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (punch_peer_id_to_string (id), ==, SPEC_ID_B58);
}

static void
test_bad_bytes (void)
{
  static const struct { const char *hex; int code; } cases[] = {
    { "", PUNCH_ERROR_TRUNCATED },
    { "00", PUNCH_ERROR_TRUNCATED },
    { "0000", PUNCH_ERROR_MALFORMED },
    { "1220aa", PUNCH_ERROR_TRUNCATED },
    { "1320aa", PUNCH_ERROR_UNSUPPORTED },
    { "0001aabb", PUNCH_ERROR_MALFORMED },
  };
  guint8 big[PUNCH_PEER_ID_MAX_LEN + 1] = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerId) id = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) bytes = from_hex (cases[i].hex);
      g_autoptr (GError) local_error = NULL;

      id = punch_peer_id_new_from_bytes (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                         &local_error);
      g_assert_null (id);
      g_assert_error (local_error, PUNCH_ERROR, cases[i].code);
      g_assert_true (g_str_has_prefix (local_error->message, "invalid peer ID"));
    }

  /* Identity with a 42-byte key is the largest inlined form. */
  big[0] = 0x00;
  big[1] = 42;
  id = punch_peer_id_new_from_bytes (big, 44, &error);
  g_assert_no_error (error);
  g_assert_nonnull (id);
  g_clear_pointer (&id, punch_peer_id_unref);

  big[1] = 43;
  id = punch_peer_id_new_from_bytes (big, 45, &error);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED);
  g_assert_null (id);
  g_clear_error (&error);

  id = punch_peer_id_new_from_bytes (big, sizeof big, &error);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
  g_assert_null (id);
}

static void
test_too_long_text (void)
{
  g_autofree char *text = g_strnfill (10000, '1');
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerId) id = punch_peer_id_parse (text, &error);

  g_assert_null (id);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
  /* The message quotes a bounded prefix, not the whole input. */
  g_assert_cmpuint (strlen (error->message), <, 200);
}

static void
test_boxed (void)
{
  g_autoptr (GError) error = NULL;
  PunchPeerId *id = punch_peer_id_parse (QM_ID, &error);
  PunchPeerId *copy;
  g_auto (GValue) value = G_VALUE_INIT;

  g_assert_no_error (error);
  g_assert_true (G_TYPE_IS_BOXED (PUNCH_TYPE_PEER_ID));
  copy = g_boxed_copy (PUNCH_TYPE_PEER_ID, id);
  g_assert_true (copy == id);
  g_boxed_free (PUNCH_TYPE_PEER_ID, copy);

  g_value_init (&value, PUNCH_TYPE_PEER_ID);
  g_value_take_boxed (&value, id);
  g_assert_cmpstr (punch_peer_id_to_string (g_value_get_boxed (&value)), ==, QM_ID);
}

static void
test_hash_table (void)
{
  g_autoptr (GHashTable) table = g_hash_table_new_full (punch_peer_id_hash, punch_peer_id_equal,
                                                        (GDestroyNotify) punch_peer_id_unref, NULL);
  g_autoptr (PunchPeerId) a = punch_peer_id_parse (SPEC_ID_CID, NULL);
  g_autoptr (PunchPeerId) b = punch_peer_id_parse (SPEC_ID_B58, NULL);

  g_hash_table_add (table, punch_peer_id_ref (a));
  g_assert_true (g_hash_table_contains (table, b));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/peer-id/spec-vector", test_spec_vector);
  g_test_add_func ("/core/peer-id/sha2-256", test_sha256_id);
  g_test_add_func ("/core/peer-id/other-multibase-cid", test_other_multibase_cid);
  g_test_add_func ("/core/peer-id/upper-cid", test_upper_cid);
  g_test_add_func ("/core/peer-id/bad-text", test_bad_text);
  g_test_add_func ("/core/peer-id/bad-bytes", test_bad_bytes);
  g_test_add_func ("/core/peer-id/too-long-text", test_too_long_text);
  g_test_add_func ("/core/peer-id/boxed", test_boxed);
  g_test_add_func ("/core/peer-id/hash-table", test_hash_table);

  return g_test_run ();
}
