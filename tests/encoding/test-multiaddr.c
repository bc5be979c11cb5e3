/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-multiaddr.h"

#include <string.h>

#include "punch-error.h"
#include "punch-peer-id.h"

#define ID_ED "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
#define ID_ED_HEX "0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
#define ID_ED_CID "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6"
#define ID_QM "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
#define ID_QM_HEX "12209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9"
/* sha2-256 multihash of "hello" in three multibases */
#define CERTHASH_U "uEiAs8k26X7CjDiboOyrFueKeGxYeXB-nQl5zBDNik4uYJA"
#define CERTHASH_B "bciqcz4snxjp3biyoe3udwkwfxhrj4gywdzob7j2clzzqim3csofzqja"
#define CERTHASH_Z "zQmRN6wdp1S2A5EtjW9A3M1vKSBuQQGcgvuhoMUoEz4iiT5"
#define CERTHASH_HEX "12202cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

static GBytes *
from_hex (const char *hex)
{
  gsize n = 0;
  guint8 *buf = g_malloc (strlen (hex) / 2 + 1);

  for (const char *p = hex; *p;)
    {
      if (*p == ' ')
        {
          p++;
          continue;
        }
      g_assert_true (g_ascii_isxdigit (p[0]) && g_ascii_isxdigit (p[1]));
      buf[n++] = (guint8) (g_ascii_xdigit_value (p[0]) * 16 + g_ascii_xdigit_value (p[1]));
      p += 2;
    }
  return g_bytes_new_take (buf, n);
}

typedef struct
{
  const char *text;
  const char *canonical;   /* NULL: same as text */
  const char *hex;
} GoodCase;

static const GoodCase good_cases[] = {
  { "/ip4/127.0.0.1/tcp/4001", NULL, "04 7f000001 06 0fa1" },
  { "/ip4/0.0.0.0/tcp/0", NULL, "04 00000000 06 0000" },
  { "/ip4/255.255.255.255/udp/65535", NULL, "04 ffffffff 9102 ffff" },
  { "/ip4/127.0.0.1/tcp/4001/", "/ip4/127.0.0.1/tcp/4001", "04 7f000001 06 0fa1" },
  { "/ip4/127.0.0.1/tcp/4001//", "/ip4/127.0.0.1/tcp/4001", "04 7f000001 06 0fa1" },
  { "/ip4/1.2.3.4/tcp/0080", "/ip4/1.2.3.4/tcp/80", "04 01020304 06 0050" },
  { "/ip6/::1/tcp/4001", NULL, "29 00000000000000000000000000000001 06 0fa1" },
  { "/ip6/0:0:0:0:0:0:0:1/tcp/1", "/ip6/::1/tcp/1", "29 00000000000000000000000000000001 06 0001" },
  { "/ip6/::", NULL, "29 00000000000000000000000000000000" },
  { "/ip6/2001:DB8:0:0:1:0:0:1", "/ip6/2001:db8::1:0:0:1", "29 20010db8000000000001000000000001" },
  { "/ip6/1:0:0:2:0:0:3:4", "/ip6/1::2:0:0:3:4", "29 00010000000000020000000000030004" },
  { "/ip6/1:0:0:2:0:0:0:3", "/ip6/1:0:0:2::3", "29 00010000000000020000000000000003" },
  { "/ip6/2001:db8:0:1:1:1:1:1", NULL, "29 20010db8000000010001000100010001" },
  { "/ip6/fe80::", NULL, "29 fe800000000000000000000000000000" },
  { "/ip6/0:1:0:0:0:1:0:0", "/ip6/0:1::1:0:0", "29 00000001000000000000000100000000" },
  { "/ip6/::ffff:1.2.3.4/udp/1", NULL, "29 00000000000000000000ffff01020304 9102 0001" },
  { "/ip6/::1.2.3.4", "/ip6/::102:304", "29 00000000000000000000000001020304" },
  { "/dns4/example.com/tcp/443", NULL, "36 0b 6578616d706c652e636f6d 06 01bb" },
  { "/dns6/a/tcp/1", NULL, "37 01 61 06 0001" },
  { "/dns/x.y/udp/2", NULL, "35 03 782e79 9102 0002" },
  { "/dnsaddr/bootstrap.libp2p.io", NULL, "38 13 626f6f7473747261702e6c69627032702e696f" },
  { "/ip4/1.2.3.4/udp/4001/quic-v1", NULL, "04 01020304 9102 0fa1 cd03" },
  { "/ip4/1.2.3.4/udp/4001/quic", NULL, "04 01020304 9102 0fa1 cc03" },
  { "/ip4/1.2.3.4/tcp/1/tls/sni/example.com/ws", NULL,
    "04 01020304 06 0001 c003 c103 0b 6578616d706c652e636f6d dd03" },
  { "/ip4/1.2.3.4/tcp/1/wss", NULL, "04 01020304 06 0001 de03" },
  { "/ip4/1.2.3.4/tcp/1/noise", NULL, "04 01020304 06 0001 c603" },
  { "/ip4/1.2.3.4/udp/1/webrtc-direct/certhash/" CERTHASH_U, NULL,
    "04 01020304 9102 0001 9802 d203 22 " CERTHASH_HEX },
  { "/ip4/1.2.3.4/udp/1/quic-v1/webtransport/certhash/" CERTHASH_B "/certhash/" CERTHASH_Z,
    "/ip4/1.2.3.4/udp/1/quic-v1/webtransport/certhash/" CERTHASH_U "/certhash/" CERTHASH_U,
    "04 01020304 9102 0001 cd03 d103 d203 22 " CERTHASH_HEX " d203 22 " CERTHASH_HEX },
  { "/webrtc", NULL, "9902" },
  { "/ip6zone/eth0/ip6/fe80::1", NULL, "2a 04 65746830 29 fe800000000000000000000000000001" },
  { "/p2p/" ID_ED, NULL, "a503 26 " ID_ED_HEX },
  { "/ipfs/" ID_ED, "/p2p/" ID_ED, "a503 26 " ID_ED_HEX },
  { "/p2p/" ID_ED_CID, "/p2p/" ID_ED, "a503 26 " ID_ED_HEX },
  { "/ip4/198.51.100.1/tcp/4001/p2p/" ID_ED "/p2p-circuit/p2p/" ID_QM, NULL,
    "04 c6336401 06 0fa1 a503 26 " ID_ED_HEX " a202 a503 22 " ID_QM_HEX },
  { "/dns4/relay.example/tcp/4001/ws/p2p/" ID_QM "/p2p-circuit", NULL,
    "36 0d 72656c61792e6578616d706c65 06 0fa1 dd03 a503 22 " ID_QM_HEX " a202" },
  { "/dns4/h\xc3\xa9llo", NULL, "36 06 68c3a96c6c6f" },
};

static void
test_round_trip (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (good_cases); i++)
    {
      const GoodCase *c = &good_cases[i];
      const char *canonical = c->canonical ? c->canonical : c->text;
      g_autoptr (GBytes) expected = from_hex (c->hex);
      g_autoptr (PunchMultiaddr) ma = NULL;
      g_autoptr (PunchMultiaddr) back = NULL;
      g_autoptr (PunchMultiaddr) again = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree char *text = NULL;
      const guint8 *bytes;
      gsize len;

      {
        /* Bad-input cases may hold bytes that are not UTF-8: TAP wants text. */
        g_autofree char *printable = g_strescape (c->text, NULL);
        g_test_message ("case %s", printable);
      }
      ma = punch_multiaddr_new_from_string (c->text, &error);
      g_assert_no_error (error);
      bytes = punch_multiaddr_get_bytes (ma, &len);
      g_assert_cmpmem (bytes, len, g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));

      text = punch_multiaddr_to_string (ma);
      g_assert_cmpstr (text, ==, canonical);

      back = punch_multiaddr_new_from_bytes (bytes, len, &error);
      g_assert_no_error (error);
      g_assert_true (punch_multiaddr_equal (ma, back));
      g_assert_cmpuint (punch_multiaddr_hash (ma), ==, punch_multiaddr_hash (back));

      /* The canonical text parses to the same bytes. */
      again = punch_multiaddr_new_from_string (text, &error);
      g_assert_no_error (error);
      g_assert_true (punch_multiaddr_equal (ma, again));
    }
}

typedef struct
{
  const char *text;
  int         code;
  const char *message;
} BadText;

static const BadText bad_texts[] = {
  { "", PUNCH_ERROR_MALFORMED, "empty multiaddr" },
  { "/", PUNCH_ERROR_MALFORMED, "empty multiaddr" },
  { "///", PUNCH_ERROR_MALFORMED, "empty multiaddr" },
  { "ip4/1.2.3.4", PUNCH_ERROR_MALFORMED, "does not start with '/'" },
  { "//ip4/1.2.3.4", PUNCH_ERROR_MALFORMED, "empty protocol name" },
  { "/ip4/1.2.3.4//tcp/1", PUNCH_ERROR_MALFORMED, "empty protocol name" },
  { "/foo", PUNCH_ERROR_UNSUPPORTED, "unknown multiaddr protocol 'foo'" },
  { "/ip4/1.2.3.4/foo/1", PUNCH_ERROR_UNSUPPORTED, "unknown multiaddr protocol 'foo'" },
  { "/IP4/1.2.3.4", PUNCH_ERROR_UNSUPPORTED, "unknown multiaddr protocol 'IP4'" },
  { "/ip4/1.2.3/tcp/1", PUNCH_ERROR_MALFORMED, "invalid ip4 address '1.2.3' in /ip4/1.2.3/tcp/1" },
  { "/ip4", PUNCH_ERROR_MALFORMED, "multiaddr protocol 'ip4' needs a value" },
  { "/ip4/1.2.3.4/tcp", PUNCH_ERROR_MALFORMED, "multiaddr protocol 'tcp' needs a value" },
  { "/ip4/1.2.3.4/tcp/", PUNCH_ERROR_MALFORMED, "multiaddr protocol 'tcp' needs a value" },
  { "/ip4//tcp/1", PUNCH_ERROR_MALFORMED, "invalid ip4 address ''" },
  { "/ip4/256.1.1.1", PUNCH_ERROR_MALFORMED, "invalid ip4 address '256.1.1.1'" },
  { "/ip4/01.2.3.4", PUNCH_ERROR_MALFORMED, "invalid ip4 address" },
  { "/ip4/1.2.3.4.5", PUNCH_ERROR_MALFORMED, "invalid ip4 address" },
  { "/ip4/1..3.4", PUNCH_ERROR_MALFORMED, "invalid ip4 address" },
  { "/ip4/1.2.3.4 ", PUNCH_ERROR_MALFORMED, "invalid ip4 address" },
  { "/ip4/1.2.3.0004", PUNCH_ERROR_MALFORMED, "invalid ip4 address" },
  { "/ip4/::1", PUNCH_ERROR_MALFORMED, "invalid ip4 address" },
  { "/ip6/1.2.3.4", PUNCH_ERROR_MALFORMED, "invalid ip6 address '1.2.3.4'" },
  { "/ip6/::g", PUNCH_ERROR_MALFORMED, "invalid ip6 address" },
  { "/ip6/1:2:3:4:5:6:7:8:9", PUNCH_ERROR_MALFORMED, "invalid ip6 address" },
  { "/ip6/fe80::1%eth0", PUNCH_ERROR_MALFORMED, "invalid ip6 address" },
  { "/ip4/1.2.3.4/tcp/70000", PUNCH_ERROR_MALFORMED, "tcp port '70000' out of range" },
  { "/ip4/1.2.3.4/udp/65536", PUNCH_ERROR_MALFORMED, "udp port '65536' out of range" },
  { "/ip4/1.2.3.4/tcp/99999999999999999999999", PUNCH_ERROR_MALFORMED, "out of range" },
  { "/ip4/1.2.3.4/tcp/-1", PUNCH_ERROR_MALFORMED, "invalid tcp port '-1'" },
  { "/ip4/1.2.3.4/tcp/+1", PUNCH_ERROR_MALFORMED, "invalid tcp port '+1'" },
  { "/ip4/1.2.3.4/tcp/0x10", PUNCH_ERROR_MALFORMED, "invalid tcp port" },
  { "/ip4/1.2.3.4/tcp/99999x", PUNCH_ERROR_MALFORMED, "invalid tcp port" },
  { "/p2p/notapeer", PUNCH_ERROR_UNSUPPORTED, "invalid p2p value 'notapeer'" },
  { "/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3p0", PUNCH_ERROR_MALFORMED, "invalid p2p value" },
  { "/p2p/bafyaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6", PUNCH_ERROR_UNSUPPORTED,
    "not libp2p-key" },
  { "/certhash/xyz", PUNCH_ERROR_UNSUPPORTED, "unsupported multibase prefix 'x'" },
  { "/certhash/uEiA", PUNCH_ERROR_MALFORMED, "invalid certhash" },
  { "/certhash/u", PUNCH_ERROR_MALFORMED, "invalid certhash" },
  { "/certhash/u!!", PUNCH_ERROR_MALFORMED, "base64url character '!'" },
  { "/dns4/a\x01", -1, "\\001" },
  { "/dns4/\xff", PUNCH_ERROR_MALFORMED, "invalid dns4 value" },
  { "/sni/", PUNCH_ERROR_MALFORMED, "needs a value" },
};

static void
test_bad_text (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_texts); i++)
    {
      const BadText *c = &bad_texts[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchMultiaddr) ma = NULL;

      {
        /* Bad-input cases may hold bytes that are not UTF-8: TAP wants text. */
        g_autofree char *printable = g_strescape (c->text, NULL);
        g_test_message ("case %s", printable);
      }
      ma = punch_multiaddr_new_from_string (c->text, &error);
      g_assert_null (ma);
      g_assert_nonnull (error);
      g_test_message ("  -> %s", error->message);
      g_assert_true (error->domain == PUNCH_ERROR);
      if (c->code >= 0)
        g_assert_error (error, PUNCH_ERROR, c->code);
      if (strstr (error->message, c->message) == NULL)
        g_error ("'%s': message '%s' lacks '%s'", c->text, error->message, c->message);
    }
}

static void
test_text_limits (void)
{
  g_autoptr (GString) many = g_string_new (NULL);
  g_autoptr (GString) long_name = g_string_new ("/dns4/");
  g_autoptr (GString) max_name = g_string_new ("/dns4/");
  g_autofree char *huge = g_strnfill (100000, 'a');
  g_autoptr (PunchMultiaddr) ma = NULL;
  g_autoptr (GError) error = NULL;

  /* 600 two-byte components: 1200 bytes, over the binary limit. */
  for (int i = 0; i < 600; i++)
    g_string_append (many, "/ws");
  ma = punch_multiaddr_new_from_string (many->str, &error);
  g_assert_null (ma);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
  g_clear_error (&error);

  huge[0] = '/';
  ma = punch_multiaddr_new_from_string (huge, &error);
  g_assert_null (ma);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
  g_assert_cmpuint (strlen (error->message), <, 400);
  g_clear_error (&error);

  for (int i = 0; i < 256; i++)
    g_string_append_c (long_name, 'a');
  ma = punch_multiaddr_new_from_string (long_name->str, &error);
  g_assert_null (ma);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
  g_clear_error (&error);

  for (int i = 0; i < 255; i++)
    g_string_append_c (max_name, 'a');
  ma = punch_multiaddr_new_from_string (max_name->str, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ma);
}

typedef struct
{
  const char *hex;
  int         code;
  const char *message;
} BadBytes;

static const BadBytes bad_bytes[] = {
  { "", PUNCH_ERROR_MALFORMED, "empty multiaddr" },
  { "04 7f0000", PUNCH_ERROR_TRUNCATED, "truncated in ip4 value" },
  { "04 7f000001 06 0f", PUNCH_ERROR_TRUNCATED, "truncated in tcp value" },
  { "29 0000", PUNCH_ERROR_TRUNCATED, "truncated in ip6" },
  { "04 7f000001 06 0fa1 ff", PUNCH_ERROR_TRUNCATED, "protocol code at byte 8" },
  { "04 7f000001 06 0fa1 00", PUNCH_ERROR_UNSUPPORTED, "unknown multiaddr protocol code 0 at byte 8" },
  { "04 7f000001 06 0fa1 07", PUNCH_ERROR_UNSUPPORTED, "unknown multiaddr protocol code 7" },
  { "8000", PUNCH_ERROR_MALFORMED, "not minimally encoded" },
  { "8400", PUNCH_ERROR_MALFORMED, "not minimally encoded" },
  { "ffffffffffffffffff01", PUNCH_ERROR_TOO_LARGE, "varint" },
  { "a5", PUNCH_ERROR_TRUNCATED, "" },
  { "a503", PUNCH_ERROR_TRUNCATED, "p2p value length" },
  { "a503 00", PUNCH_ERROR_MALFORMED, "invalid multiaddr component /p2p" },
  { "a503 02 1220", PUNCH_ERROR_MALFORMED, "invalid multiaddr component /p2p" },
  { "a503 04 0001aabb", PUNCH_ERROR_MALFORMED, "invalid multiaddr component /p2p" },
  { "a503 22 1320" "0000000000000000000000000000000000000000000000000000000000000000",
    PUNCH_ERROR_UNSUPPORTED, "/p2p" },
  { "a503 27 " ID_ED_HEX "00", PUNCH_ERROR_MALFORMED, "trailing" },
  { "a503 26 " ID_ED_HEX "00", PUNCH_ERROR_UNSUPPORTED, "unknown multiaddr protocol code 0" },
  { "a503 ffffffff0f", PUNCH_ERROR_TRUNCATED, "4294967295 bytes expected" },
  { "a503 8000", PUNCH_ERROR_MALFORMED, "invalid p2p value length" },
  { "36 00", PUNCH_ERROR_MALFORMED, "empty dns4 value" },
  { "36 03 612f62", PUNCH_ERROR_MALFORMED, "invalid dns4 value 'a/b'" },
  { "36 03 610062", PUNCH_ERROR_MALFORMED, "invalid dns4 value" },
  { "36 02 fffe", PUNCH_ERROR_MALFORMED, "invalid dns4 value" },
  { "36 05 6162", PUNCH_ERROR_TRUNCATED, "truncated in dns4 value" },
  { "d203 03 122001", PUNCH_ERROR_MALFORMED, "invalid certhash" },
  { "d203 00", PUNCH_ERROR_MALFORMED, "invalid certhash" },
  { "d203 01 80", PUNCH_ERROR_MALFORMED, "invalid certhash" },
};

static void
test_bad_bytes (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_bytes); i++)
    {
      const BadBytes *c = &bad_bytes[i];
      g_autoptr (GBytes) bytes = from_hex (c->hex);
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchMultiaddr) ma = NULL;

      g_test_message ("case %s", c->hex);
      ma = punch_multiaddr_new_from_bytes (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &error);
      g_assert_null (ma);
      g_assert_nonnull (error);
      g_test_message ("  -> %s", error->message);
      g_assert_error (error, PUNCH_ERROR, c->code);
      if (strstr (error->message, c->message) == NULL)
        g_error ("'%s': message '%s' lacks '%s'", c->hex, error->message, c->message);
    }
}

static void
test_bytes_limit (void)
{
  g_autoptr (GByteArray) array = g_byte_array_new ();
  g_autoptr (PunchMultiaddr) ma = NULL;
  g_autoptr (GError) error = NULL;

  /* 512 /ws components: exactly the limit, accepted. */
  for (int i = 0; i < PUNCH_MULTIADDR_MAX_LEN / 2; i++)
    g_byte_array_append (array, (const guint8 *) "\xdd\x03", 2);
  ma = punch_multiaddr_new_from_bytes (array->data, array->len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (punch_multiaddr_get_n_components (ma), ==, PUNCH_MULTIADDR_MAX_LEN / 2);
  g_clear_pointer (&ma, punch_multiaddr_unref);

  g_byte_array_append (array, (const guint8 *) "\xdd\x03", 2);
  ma = punch_multiaddr_new_from_bytes (array->data, array->len, &error);
  g_assert_null (ma);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
}

/* Every strict prefix of a valid binary multiaddr fails cleanly, and
 * none is accepted unless it ends on a component boundary. */
static void
test_every_prefix (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) ma = punch_multiaddr_new_from_string (
      "/ip4/198.51.100.1/tcp/4001/p2p/" ID_ED "/p2p-circuit/p2p/" ID_QM, &error);
  const guint8 *bytes;
  gsize len;
  guint accepted = 0;

  g_assert_no_error (error);
  bytes = punch_multiaddr_get_bytes (ma, &len);
  for (gsize cut = 0; cut < len; cut++)
    {
      g_autoptr (PunchMultiaddr) prefix = NULL;
      g_autoptr (GError) local_error = NULL;

      prefix = punch_multiaddr_new_from_bytes (bytes, cut, &local_error);
      if (prefix)
        accepted++;
      else
        g_assert_true (local_error->domain == PUNCH_ERROR);
    }
  /* /ip4, /ip4/tcp, /ip4/tcp/p2p, /ip4/tcp/p2p/p2p-circuit */
  g_assert_cmpuint (accepted, ==, 4);
}

static void
test_components (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) ma = punch_multiaddr_new_from_string (
      "/ip4/198.51.100.1/tcp/4001/p2p/" ID_ED "/p2p-circuit/p2p/" ID_QM, &error);
  g_autoptr (GBytes) target = NULL;
  g_autoptr (GBytes) relay_hex = from_hex (ID_ED_HEX);
  g_autoptr (GBytes) target_hex = from_hex (ID_QM_HEX);
  PunchMultiaddrComponent c;

  g_assert_no_error (error);
  g_assert_cmpuint (punch_multiaddr_get_n_components (ma), ==, 5);

  g_assert_true (punch_multiaddr_get_component (ma, 0, &c));
  g_assert_cmpuint (c.code, ==, PUNCH_PROTO_IP4);
  g_assert_cmpstr (c.name, ==, "ip4");
  g_assert_cmpmem (c.value, c.value_len, "\xc6\x33\x64\x01", 4);

  g_assert_true (punch_multiaddr_get_component (ma, 2, &c));
  g_assert_cmpstr (c.name, ==, "p2p");
  g_assert_cmpmem (c.value, c.value_len, g_bytes_get_data (relay_hex, NULL), g_bytes_get_size (relay_hex));

  g_assert_true (punch_multiaddr_get_component (ma, 3, &c));
  g_assert_cmpuint (c.code, ==, PUNCH_PROTO_P2P_CIRCUIT);
  g_assert_null (c.value);
  g_assert_cmpuint (c.value_len, ==, 0);

  g_assert_false (punch_multiaddr_get_component (ma, 5, &c));

  g_assert_cmpint (punch_multiaddr_find_first (ma, PUNCH_PROTO_P2P), ==, 2);
  g_assert_cmpint (punch_multiaddr_find_last (ma, PUNCH_PROTO_P2P), ==, 4);
  g_assert_cmpint (punch_multiaddr_find_first (ma, PUNCH_PROTO_UDP), ==, -1);
  g_assert_cmpint (punch_multiaddr_find_last (ma, PUNCH_PROTO_UDP), ==, -1);
  g_assert_true (punch_multiaddr_has_protocol (ma, PUNCH_PROTO_P2P_CIRCUIT));
  g_assert_false (punch_multiaddr_has_protocol (ma, PUNCH_PROTO_QUIC_V1));

  target = punch_multiaddr_get_peer_id_bytes (ma);
  g_assert_true (g_bytes_equal (target, target_hex));
}

static char *
slice_string (PunchMultiaddr *ma, int start, int end)
{
  g_autoptr (PunchMultiaddr) slice = punch_multiaddr_slice (ma, start, end);

  return punch_multiaddr_to_string (slice);
}

static void
test_slice_concat (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) ma = punch_multiaddr_new_from_string (
      "/ip4/198.51.100.1/tcp/4001/p2p/" ID_ED "/p2p-circuit/p2p/" ID_QM, &error);
  g_autoptr (PunchMultiaddr) head = NULL;
  g_autoptr (PunchMultiaddr) tail = NULL;
  g_autoptr (PunchMultiaddr) joined = NULL;
  g_autoptr (PunchMultiaddr) relay = NULL;
  g_autoptr (PunchMultiaddr) with_id = NULL;
  g_autoptr (GBytes) id_bytes = from_hex (ID_QM_HEX);
  g_autofree char *s = NULL;
  int last;

  g_assert_no_error (error);

  s = slice_string (ma, 0, 2);
  g_assert_cmpstr (s, ==, "/ip4/198.51.100.1/tcp/4001");
  g_clear_pointer (&s, g_free);
  s = slice_string (ma, 3, -1);
  g_assert_cmpstr (s, ==, "/p2p-circuit/p2p/" ID_QM);
  g_clear_pointer (&s, g_free);
  s = slice_string (ma, 0, -1);
  g_assert_cmpstr (s, ==, "/ip4/198.51.100.1/tcp/4001/p2p/" ID_ED "/p2p-circuit/p2p/" ID_QM);
  g_clear_pointer (&s, g_free);
  s = slice_string (ma, 1, 99);
  g_assert_cmpstr (s, ==, "/tcp/4001/p2p/" ID_ED "/p2p-circuit/p2p/" ID_QM);
  g_clear_pointer (&s, g_free);

  /* The relay's own address: everything before /p2p-circuit. */
  relay = punch_multiaddr_slice (ma, 0, punch_multiaddr_find_first (ma, PUNCH_PROTO_P2P_CIRCUIT));
  s = punch_multiaddr_to_string (relay);
  g_assert_cmpstr (s, ==, "/ip4/198.51.100.1/tcp/4001/p2p/" ID_ED);
  g_clear_pointer (&s, g_free);

  /* Dropping the trailing /p2p, and find_last() of -1 keeping everything. */
  last = punch_multiaddr_find_last (relay, PUNCH_PROTO_P2P);
  head = punch_multiaddr_slice (relay, 0, last);
  s = punch_multiaddr_to_string (head);
  g_assert_cmpstr (s, ==, "/ip4/198.51.100.1/tcp/4001");
  g_clear_pointer (&s, g_free);
  g_clear_pointer (&relay, punch_multiaddr_unref);
  relay = punch_multiaddr_slice (head, 0, punch_multiaddr_find_last (head, PUNCH_PROTO_P2P));
  g_assert_true (punch_multiaddr_equal (relay, head));

  tail = punch_multiaddr_slice (ma, 2, -1);
  joined = punch_multiaddr_concat (head, tail);
  g_assert_true (punch_multiaddr_equal (joined, ma));
  g_assert_cmpuint (punch_multiaddr_hash (joined), ==, punch_multiaddr_hash (ma));
  g_assert_cmpuint (punch_multiaddr_get_n_components (joined), ==, 5);
  g_assert_false (punch_multiaddr_equal (joined, head));

  with_id = punch_multiaddr_with_peer_id (head, g_bytes_get_data (id_bytes, NULL), g_bytes_get_size (id_bytes));
  s = punch_multiaddr_to_string (with_id);
  g_assert_cmpstr (s, ==, "/ip4/198.51.100.1/tcp/4001/p2p/" ID_QM);
}

/* An empty range gives a multiaddr without components that every accessor
 * copes with, so "before /p2p-circuit" of "/p2p-circuit/…" is safe to use. */
static void
test_empty_slice (void)
{
  g_autoptr (PunchMultiaddr) ma = punch_multiaddr_new_from_string ("/p2p-circuit/p2p/" ID_QM, NULL);
  g_autoptr (PunchMultiaddr) empty = punch_multiaddr_slice (ma, 0, 0);
  g_autoptr (PunchMultiaddr) past_end = punch_multiaddr_slice (ma, 7, -1);
  g_autoptr (PunchMultiaddr) joined = NULL;
  g_autoptr (PunchMultiaddr) with_id = NULL;
  g_autoptr (GBytes) id_bytes = from_hex (ID_QM_HEX);
  g_autoptr (GSocketAddress) sa = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  PunchMultiaddrComponent c;
  gsize len = 99;

  g_assert_nonnull (empty);
  g_assert_cmpuint (punch_multiaddr_get_n_components (empty), ==, 0);
  g_assert_true (punch_multiaddr_equal (empty, past_end));
  text = punch_multiaddr_to_string (empty);
  g_assert_cmpstr (text, ==, "");
  punch_multiaddr_get_bytes (empty, &len);
  g_assert_cmpuint (len, ==, 0);
  g_assert_false (punch_multiaddr_get_component (empty, 0, &c));
  g_assert_cmpint (punch_multiaddr_find_first (empty, PUNCH_PROTO_P2P), ==, -1);
  g_assert_null (punch_multiaddr_get_peer_id_bytes (empty));
  sa = punch_multiaddr_to_socket_address (empty, &error);
  g_assert_null (sa);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);

  joined = punch_multiaddr_concat (empty, ma);
  g_assert_true (punch_multiaddr_equal (joined, ma));
  with_id = punch_multiaddr_with_peer_id (empty, g_bytes_get_data (id_bytes, NULL), g_bytes_get_size (id_bytes));
  g_clear_pointer (&text, g_free);
  text = punch_multiaddr_to_string (with_id);
  g_assert_cmpstr (text, ==, "/p2p/" ID_QM);
}

static void
test_concat_too_long (void)
{
  g_autoptr (GByteArray) array = g_byte_array_new ();
  g_autoptr (PunchMultiaddr) big = NULL;
  g_autoptr (PunchMultiaddr) joined = NULL;

  for (int i = 0; i < PUNCH_MULTIADDR_MAX_LEN / 2; i++)
    g_byte_array_append (array, (const guint8 *) "\xdd\x03", 2);
  big = punch_multiaddr_new_from_bytes (array->data, array->len, NULL);
  g_assert_nonnull (big);
  joined = punch_multiaddr_concat (big, big);
  g_assert_null (joined);
}

static void
test_with_bad_peer_id (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr (PunchMultiaddr) ma = punch_multiaddr_new_from_string ("/ip4/1.2.3.4/tcp/1", NULL);

      punch_multiaddr_with_peer_id (ma, (const guint8 *) "\x13\x01\x00", 3);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*punch_multiaddr_with_peer_id*unsupported multihash*");
}

typedef struct
{
  const char *address;
  guint16     port;
  const char *expected;
} SocketCase;

static void
test_socket_address (void)
{
  static const SocketCase cases[] = {
    { "127.0.0.1", 4001, "/ip4/127.0.0.1/tcp/4001" },
    { "0.0.0.0", 0, "/ip4/0.0.0.0/tcp/0" },
    { "::1", 65535, "/ip6/::1/tcp/65535" },
    { "2001:db8::5", 443, "/ip6/2001:db8::5/tcp/443" },
    { "::ffff:10.0.0.1", 80, "/ip4/10.0.0.1/tcp/80" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GSocketAddress) sa = g_inet_socket_address_new_from_string (cases[i].address, cases[i].port);
      g_autoptr (PunchMultiaddr) ma = punch_multiaddr_new_from_socket_address (sa);
      g_autoptr (GSocketAddress) back = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree char *text = punch_multiaddr_to_string (ma);
      g_autofree char *ip = NULL;

      g_assert_cmpstr (text, ==, cases[i].expected);
      back = punch_multiaddr_to_socket_address (ma, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (back)), ==, cases[i].port);
      ip = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (back)));
      if (i < 4)
        g_assert_cmpstr (ip, ==, cases[i].address);
      else
        g_assert_cmpstr (ip, ==, "10.0.0.1");
    }
}

static void
test_to_socket_address (void)
{
  static const char *const good[] = {
    "/ip4/1.2.3.4/tcp/5",
    ("/ip4/1.2.3.4/tcp/5/p2p/" ID_ED),
    ("/ip6/::1/tcp/5/p2p/" ID_QM),
  };
  static const char *const bad[] = {
    "/ip4/1.2.3.4",
    "/ip4/1.2.3.4/udp/5",
    "/ip4/1.2.3.4/udp/5/quic-v1",
    "/dns4/example.com/tcp/5",
    "/ip4/1.2.3.4/tcp/5/ws",
    ("/ip4/1.2.3.4/tcp/5/p2p/" ID_ED "/p2p-circuit"),
    ("/ip4/1.2.3.4/tcp/5/p2p/" ID_ED "/p2p/" ID_QM),
    ("/p2p/" ID_ED),
    "/tcp/5/ip4/1.2.3.4",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (PunchMultiaddr) ma = punch_multiaddr_new_from_string (good[i], NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (GSocketAddress) sa = punch_multiaddr_to_socket_address (ma, &error);

      g_assert_no_error (error);
      g_assert_true (G_IS_INET_SOCKET_ADDRESS (sa));
      g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa)), ==, 5);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchMultiaddr) ma = punch_multiaddr_new_from_string (bad[i], &error);
      g_autoptr (GSocketAddress) sa = NULL;

      g_assert_no_error (error);
      sa = punch_multiaddr_to_socket_address (ma, &error);
      g_assert_null (sa);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
    }
}

static void
test_equal_hash (void)
{
  g_autoptr (GHashTable) set = g_hash_table_new_full (punch_multiaddr_hash, punch_multiaddr_equal,
                                                      (GDestroyNotify) punch_multiaddr_unref, NULL);
  g_autoptr (PunchMultiaddr) a = punch_multiaddr_new_from_string ("/ip6/0:0::1/tcp/1", NULL);
  g_autoptr (PunchMultiaddr) b = punch_multiaddr_new_from_string ("/ip6/::1/tcp/1/", NULL);
  g_autoptr (PunchMultiaddr) c = punch_multiaddr_new_from_string ("/ip6/::1/tcp/2", NULL);
  g_autoptr (PunchMultiaddr) d = punch_multiaddr_new_from_string ("/ipfs/" ID_ED, NULL);
  g_autoptr (PunchMultiaddr) e = punch_multiaddr_new_from_string ("/p2p/" ID_ED_CID, NULL);

  g_assert_true (punch_multiaddr_equal (a, b));
  g_assert_false (punch_multiaddr_equal (a, c));
  g_assert_true (punch_multiaddr_equal (d, e));
  g_hash_table_add (set, punch_multiaddr_ref (a));
  g_assert_true (g_hash_table_contains (set, b));
  g_assert_false (g_hash_table_contains (set, c));
}

static void
test_boxed (void)
{
  g_auto (GValue) value = G_VALUE_INIT;
  PunchMultiaddr *ma = punch_multiaddr_new_from_string ("/ip4/1.2.3.4/tcp/1", NULL);
  PunchMultiaddr *copy;

  g_assert_true (G_TYPE_IS_BOXED (PUNCH_TYPE_MULTIADDR));
  copy = g_boxed_copy (PUNCH_TYPE_MULTIADDR, ma);
  g_assert_true (copy == ma);
  g_boxed_free (PUNCH_TYPE_MULTIADDR, copy);
  g_value_init (&value, PUNCH_TYPE_MULTIADDR);
  g_value_take_boxed (&value, ma);
  g_assert_true (g_value_get_boxed (&value) == ma);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/multiaddr/round-trip", test_round_trip);
  g_test_add_func ("/core/multiaddr/bad-text", test_bad_text);
  g_test_add_func ("/core/multiaddr/text-limits", test_text_limits);
  g_test_add_func ("/core/multiaddr/bad-bytes", test_bad_bytes);
  g_test_add_func ("/core/multiaddr/bytes-limit", test_bytes_limit);
  g_test_add_func ("/core/multiaddr/every-prefix", test_every_prefix);
  g_test_add_func ("/core/multiaddr/components", test_components);
  g_test_add_func ("/core/multiaddr/slice-concat", test_slice_concat);
  g_test_add_func ("/core/multiaddr/empty-slice", test_empty_slice);
  g_test_add_func ("/core/multiaddr/concat-too-long", test_concat_too_long);
  g_test_add_func ("/core/multiaddr/with-bad-peer-id", test_with_bad_peer_id);
  g_test_add_func ("/core/multiaddr/socket-address", test_socket_address);
  g_test_add_func ("/core/multiaddr/to-socket-address", test_to_socket_address);
  g_test_add_func ("/core/multiaddr/equal-hash", test_equal_hash);
  g_test_add_func ("/core/multiaddr/boxed", test_boxed);

  return g_test_run ();
}
