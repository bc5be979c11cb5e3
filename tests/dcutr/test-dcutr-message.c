/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-dcutr-message.h"

#include "punch-error.h"

#include <string.h>

/* Two peer IDs (Ed25519 identity multihashes) for the /p2p filter. */
#define PEER_A "12D3KooWQa9nWDfaAYMe6d3Q1U66hvQffF1bXBHre4jSvNxB3ap1"
#define PEER_B "12D3KooWH1BLxwZR371fWxKcMR6Z2HLxkrZFuQrF9Na1UT9DUjLS"

static GPtrArray *
addrs_new (const char * const *texts)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);

  for (guint i = 0; texts[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      PunchMultiaddr *ma = punch_multiaddr_new_from_string (texts[i], &error);

      g_assert_no_error (error);
      g_ptr_array_add (out, ma);
    }
  return out;
}

static char *
addrs_join (GPtrArray *addrs)
{
  g_autoptr (GString) s = g_string_new (NULL);

  for (guint i = 0; i < addrs->len; i++)
    {
      g_autofree char *text = punch_multiaddr_to_string (g_ptr_array_index (addrs, i));
      g_string_append_printf (s, "%s%s", i ? " " : "", text);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* The spec's bytes: field 1 varint type, field 2 bytes per address. */
static void
test_wire (void)
{
  static const guint8 connect[] = { 0x08, 0x64, 0x12, 0x08, 0x04, 0x01, 0x02, 0x03, 0x04, 0x06, 0x0f, 0xa1 };
  static const guint8 sync[] = { 0x08, 0xac, 0x02 };
  const char *one[] = { "/ip4/1.2.3.4/tcp/4001", NULL };
  g_autoptr (GPtrArray) addrs = addrs_new (one);
  g_autoptr (GBytes) c = punch_dcutr_message_encode (PUNCH_DCUTR_CONNECT, addrs);
  g_autoptr (GBytes) s = punch_dcutr_message_encode (PUNCH_DCUTR_SYNC, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) back = NULL;
  g_autoptr (GPtrArray) none = NULL;
  g_autofree char *text = NULL;

  g_assert_cmpmem (g_bytes_get_data (c, NULL), g_bytes_get_size (c), connect, sizeof connect);
  g_assert_cmpmem (g_bytes_get_data (s, NULL), g_bytes_get_size (s), sync, sizeof sync);

  back = punch_dcutr_message_decode (connect, sizeof connect, PUNCH_DCUTR_CONNECT, &error);
  g_assert_no_error (error);
  text = addrs_join (back);
  g_assert_cmpstr (text, ==, "/ip4/1.2.3.4/tcp/4001");
  none = punch_dcutr_message_decode (sync, sizeof sync, PUNCH_DCUTR_SYNC, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->len, ==, 0);
}

static void
test_round_trip (void)
{
  const char *texts[] = { "/ip4/198.18.2.1/tcp/4002", "/ip6/2001:db8::1/tcp/1", "/dns4/example.com/tcp/443",
                          "/ip4/198.18.0.2/tcp/4001/p2p/" PEER_A "/p2p-circuit", NULL };
  g_autoptr (GPtrArray) addrs = addrs_new (texts);
  g_autoptr (GBytes) bytes = punch_dcutr_message_encode (PUNCH_DCUTR_CONNECT, addrs);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) back = punch_dcutr_message_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                                           PUNCH_DCUTR_CONNECT, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (back->len, ==, addrs->len);
  for (guint i = 0; i < back->len; i++)
    g_assert_true (punch_multiaddr_equal (g_ptr_array_index (back, i), g_ptr_array_index (addrs, i)));
}

/* Encoding keeps at most PUNCH_DCUTR_MAX_ADDRS; decoding looks at no more. */
static void
test_many_addrs (void)
{
  g_autoptr (GPtrArray) addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  g_autoptr (GByteArray) raw = g_byte_array_new ();
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GPtrArray) back = NULL;
  g_autoptr (GError) error = NULL;
  static const guint8 type[] = { 0x08, 0x64 };

  for (guint i = 0; i < 40; i++)
    {
      g_autofree char *text = g_strdup_printf ("/ip4/198.18.0.%u/tcp/%u", i + 1, 1000 + i);
      g_ptr_array_add (addrs, punch_multiaddr_new_from_string (text, NULL));
    }
  bytes = punch_dcutr_message_encode (PUNCH_DCUTR_CONNECT, addrs);
  back = punch_dcutr_message_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), PUNCH_DCUTR_CONNECT, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (back->len, ==, PUNCH_DCUTR_MAX_ADDRS);
  g_clear_pointer (&back, g_ptr_array_unref);

  /* A peer's message with 40 addresses (under 4 KiB): the first 16 count. */
  g_byte_array_append (raw, type, sizeof type);
  for (guint i = 0; i < 40; i++)
    {
      gsize len;
      const guint8 *ma = punch_multiaddr_get_bytes (g_ptr_array_index (addrs, i), &len);
      guint8 head[] = { 0x12, (guint8) len };

      g_byte_array_append (raw, head, sizeof head);
      g_byte_array_append (raw, ma, len);
    }
  back = punch_dcutr_message_decode (raw->data, raw->len, PUNCH_DCUTR_CONNECT, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (back->len, ==, PUNCH_DCUTR_MAX_ADDRS);
}

static const struct
{
  const char *name;
  const char *hex;
  int         expected;   /* PunchDcutrType */
  int         code;       /* PUNCH_ERROR_*, -1 for success */
  guint       n_addrs;
} decode_cases[] = {
  { "empty (no type)", "", PUNCH_DCUTR_CONNECT, PUNCH_ERROR_MALFORMED, 0 },
  { "addresses, no type", "1202abcd", PUNCH_DCUTR_CONNECT, PUNCH_ERROR_MALFORMED, 0 },
  { "truncated varint", "08", PUNCH_DCUTR_CONNECT, PUNCH_ERROR_MALFORMED, 0 },
  { "truncated type", "08ac", PUNCH_DCUTR_SYNC, PUNCH_ERROR_MALFORMED, 0 },
  { "truncated address", "0864120804010203", PUNCH_DCUTR_CONNECT, PUNCH_ERROR_MALFORMED, 0 },
  { "overlong length", "086412ffffffff0f00", PUNCH_DCUTR_CONNECT, PUNCH_ERROR_MALFORMED, 0 },
  { "garbage", "ffffffffffffffffffffff", PUNCH_DCUTR_CONNECT, PUNCH_ERROR_MALFORMED, 0 },
  { "SYNC where CONNECT", "08ac02", PUNCH_DCUTR_CONNECT, PUNCH_ERROR_PROTOCOL, 0 },
  { "CONNECT where SYNC", "0864", PUNCH_DCUTR_SYNC, PUNCH_ERROR_PROTOCOL, 0 },
  { "unknown type", "08c801", PUNCH_DCUTR_CONNECT, PUNCH_ERROR_PROTOCOL, 0 },
  { "js UNUSED type 0", "0800", PUNCH_DCUTR_CONNECT, PUNCH_ERROR_PROTOCOL, 0 },
  { "bad multiaddr skipped", "086412030401021208040102030406 0fa1", PUNCH_DCUTR_CONNECT, -1, 1 },
  { "empty address skipped", "08641200", PUNCH_DCUTR_CONNECT, -1, 0 },
  { "unknown field ignored", "0864 1a03616263", PUNCH_DCUTR_CONNECT, -1, 0 },
  { "type last", "120804010203040 60fa1 0864", PUNCH_DCUTR_CONNECT, -1, 1 },
};

static GByteArray *
from_hex (const char *hex)
{
  GByteArray *out = g_byte_array_new ();
  g_autoptr (GString) clean = g_string_new (NULL);

  for (const char *p = hex; *p; p++)
    if (*p != ' ')
      g_string_append_c (clean, *p);
  g_assert_cmpuint (clean->len % 2, ==, 0);
  for (gsize i = 0; i < clean->len; i += 2)
    {
      guint8 b = (guint8) (g_ascii_xdigit_value (clean->str[i]) << 4 | g_ascii_xdigit_value (clean->str[i + 1]));
      g_byte_array_append (out, &b, 1);
    }
  return out;
}

static void
test_decode_cases (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (decode_cases); i++)
    {
      g_autoptr (GByteArray) raw = from_hex (decode_cases[i].hex);
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) addrs = punch_dcutr_message_decode (raw->data, raw->len, decode_cases[i].expected, &error);

      g_test_message ("%s", decode_cases[i].name);
      if (decode_cases[i].code < 0)
        {
          g_assert_no_error (error);
          g_assert_nonnull (addrs);
          g_assert_cmpuint (addrs->len, ==, decode_cases[i].n_addrs);
        }
      else
        {
          g_assert_null (addrs);
          g_assert_error (error, PUNCH_ERROR, decode_cases[i].code);
        }
    }
}

static void
test_oversized (void)
{
  g_autofree guint8 *big = g_malloc0 (4097);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) addrs = NULL;

  big[0] = 0x08;
  big[1] = 0x64;
  addrs = punch_dcutr_message_decode (big, 4097, PUNCH_DCUTR_CONNECT, &error);
  g_assert_null (addrs);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
}

static void
test_filter (void)
{
  const char *in[] = {
    "/ip4/198.18.2.1/tcp/4002",                           /* the lab's internet: public */
    "/ip4/198.18.2.1/tcp/4002/p2p/" PEER_B,                /* the same, for the right peer: a duplicate */
    "/ip4/198.18.2.9/tcp/4002/p2p/" PEER_A,                /* for another peer */
    "/ip4/10.0.2.2/tcp/4002",                             /* private */
    "/ip4/100.64.1.1/tcp/4002",                           /* CGNAT */
    "/ip4/127.0.0.1/tcp/4002",                            /* loopback */
    "/ip4/169.254.1.1/tcp/4002",                          /* link-local */
    "/ip4/0.0.0.0/tcp/4002",                              /* unspecified */
    "/ip4/198.18.0.2/tcp/4001/p2p/" PEER_A "/p2p-circuit", /* relayed */
    "/ip4/198.18.2.1/udp/4002/quic-v1",                   /* not TCP */
    "/ip6/2001:db8::5/tcp/7",                             /* public IPv6 */
    "/ip6/fe80::1/tcp/7",
    "/dns4/peer.example/tcp/9",                           /* names are dialable */
    "/ip4/198.18.2.1/tcp/4003/ws",                        /* reduced to its TCP part */
    NULL,
  };
  g_autoptr (GPtrArray) addrs = addrs_new (in);
  g_autoptr (PunchPeerId) peer = punch_peer_id_parse (PEER_B, NULL);
  g_autoptr (GPtrArray) out = punch_dcutr_filter_remote_addrs (addrs, peer);
  g_autofree char *text = addrs_join (out);

  g_assert_cmpstr (text, ==, "/ip4/198.18.2.1/tcp/4002 /ip6/2001:db8::5/tcp/7 /dns4/peer.example/tcp/9 /ip4/198.18.2.1/tcp/4003");
}

static void
test_filter_empty (void)
{
  g_autoptr (GPtrArray) none = punch_dcutr_filter_remote_addrs (NULL, NULL);
  const char *in[] = { "/ip4/10.0.0.1/tcp/1", "/ip4/192.168.1.1/tcp/1", NULL };
  g_autoptr (GPtrArray) addrs = addrs_new (in);
  g_autoptr (GPtrArray) out = punch_dcutr_filter_remote_addrs (addrs, NULL);

  g_assert_cmpuint (none->len, ==, 0);
  g_assert_cmpuint (out->len, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/dcutr-message/wire", test_wire);
  g_test_add_func ("/core/dcutr-message/round-trip", test_round_trip);
  g_test_add_func ("/core/dcutr-message/many-addrs", test_many_addrs);
  g_test_add_func ("/core/dcutr-message/decode-cases", test_decode_cases);
  g_test_add_func ("/core/dcutr-message/oversized", test_oversized);
  g_test_add_func ("/core/dcutr-message/filter", test_filter);
  g_test_add_func ("/core/dcutr-message/filter-empty", test_filter_empty);
  return g_test_run ();
}
