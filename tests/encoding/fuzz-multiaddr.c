/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdint.h>
#include <string.h>

#include "punch-error.h"
#include "punch-multiaddr.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

/* Whatever was accepted prints, reparses to the same bytes, and survives
 * every accessor. */
static void
check_accepted (PunchMultiaddr *ma)
{
  g_autofree char *text = punch_multiaddr_to_string (ma);
  g_autoptr (PunchMultiaddr) again = NULL;
  g_autoptr (PunchMultiaddr) head = NULL;
  g_autoptr (PunchMultiaddr) tail = NULL;
  g_autoptr (PunchMultiaddr) joined = NULL;
  g_autoptr (GSocketAddress) sa = NULL;
  g_autoptr (GBytes) peer = NULL;
  g_autoptr (GError) error = NULL;
  guint n = punch_multiaddr_get_n_components (ma);
  const guint8 *bytes;
  gsize len;

  again = punch_multiaddr_new_from_string (text, &error);
  if (again == NULL)
    g_error ("'%s' does not reparse: %s", text, error->message);
  g_assert_true (punch_multiaddr_equal (ma, again));
  g_assert_cmpuint (punch_multiaddr_hash (ma), ==, punch_multiaddr_hash (again));

  bytes = punch_multiaddr_get_bytes (ma, &len);
  g_assert_cmpuint (len, <=, PUNCH_MULTIADDR_MAX_LEN);
  g_assert_cmpuint (n, >=, 1);

  for (guint i = 0; i < n; i++)
    {
      PunchMultiaddrComponent c;

      g_assert_true (punch_multiaddr_get_component (ma, i, &c));
      g_assert_nonnull (c.name);
      if (c.value)
        g_assert_true (c.value >= bytes && c.value + c.value_len <= bytes + len);
    }

  head = punch_multiaddr_slice (ma, 0, (int) (n / 2));
  tail = punch_multiaddr_slice (ma, (int) (n / 2), -1);
  joined = punch_multiaddr_concat (head, tail);
  g_assert_true (punch_multiaddr_equal (joined, ma));

  sa = punch_multiaddr_to_socket_address (ma, &error);
  g_assert_true ((sa == NULL) == (error != NULL));
  peer = punch_multiaddr_get_peer_id_bytes (ma);
  g_assert_true ((peer != NULL) == punch_multiaddr_has_protocol (ma, PUNCH_PROTO_P2P));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (PunchMultiaddr) ma = NULL;
  g_autoptr (PunchMultiaddr) parsed = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = g_malloc0 (size + 1);

  ma = punch_multiaddr_new_from_bytes (data, size, &error);
  if (ma)
    check_accepted (ma);
  else
    g_assert_true (error->domain == PUNCH_ERROR);
  g_clear_error (&error);

  if (size > 0)
    memcpy (text, data, size);
  parsed = punch_multiaddr_new_from_string (text, &error);
  if (parsed)
    check_accepted (parsed);
  else
    g_assert_true (error->domain == PUNCH_ERROR);
  return 0;
}

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static const char *const seeds[] = {
    "/ip4/127.0.0.1/tcp/4001",
    ("/ip6/2001:db8::1/udp/4001/quic-v1/webtransport/certhash/"
     "uEiAs8k26X7CjDiboOyrFueKeGxYeXB-nQl5zBDNik4uYJA"),
    ("/ip4/198.51.100.1/tcp/4001/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
     "/p2p-circuit/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"),
    "/dns4/relay.example/tcp/443/tls/sni/relay.example/ws",
    "/ip6zone/eth0/ip6/fe80::1/udp/1/webrtc-direct",
    "\x04\x7f\x00\x00\x01\x06\x0f\xa1",
    "\x29\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x91\x02\x0f\xa1\xcd\x03",
    ("\x04\xc6\x33\x64\x01\x06\x0f\xa1\xa5\x03\x26\x00\x24\x08\x01\x12\x20"
     "\x1e\xd1\xe8\xfa\xe2\xc4\xa1\x44\xb8\xbe\x8f\xd4\xb4\x7b\xf3\xd3\xb3\x4b"
     "\x87\x1c\x3c\xac\xf6\x01\x0f\x0e\x42\xd4\x74\xfc\xe2\x7e\xa2\x02"),
    ("\x36\x0b" "example.com" "\x06\x01\xbb\xdd\x03"),
    NULL
  };
  static gsize lens[G_N_ELEMENTS (seeds)];

  for (gsize i = 0; i < 5; i++)
    lens[i] = strlen (seeds[i]);
  lens[5] = 8;
  lens[6] = 23;
  lens[7] = 51;
  lens[8] = 18;
  *lengths = lens;
  return seeds;
}
