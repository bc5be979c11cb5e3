/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-addr-scope.h"

#include <string.h>

typedef struct
{
  guint8         prefix[16];
  guint          bits;
  PunchAddrScope scope;
} Range;

static const Range ipv4_ranges[] = {
  { { 0 }, 8, PUNCH_ADDR_SCOPE_UNUSABLE },
  { { 10 }, 8, PUNCH_ADDR_SCOPE_PRIVATE },
  { { 100, 64 }, 10, PUNCH_ADDR_SCOPE_PRIVATE },
  { { 127 }, 8, PUNCH_ADDR_SCOPE_LOOPBACK },
  { { 169, 254 }, 16, PUNCH_ADDR_SCOPE_LINK_LOCAL },
  { { 172, 16 }, 12, PUNCH_ADDR_SCOPE_PRIVATE },
  { { 192, 168 }, 16, PUNCH_ADDR_SCOPE_PRIVATE },
  { { 224 }, 4, PUNCH_ADDR_SCOPE_UNUSABLE },
  { { 240 }, 4, PUNCH_ADDR_SCOPE_UNUSABLE },
};

static const Range ipv6_ranges[] = {
  { { 0 }, 128, PUNCH_ADDR_SCOPE_UNUSABLE },
  { { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 128, PUNCH_ADDR_SCOPE_LOOPBACK },
  { { 0xfc }, 7, PUNCH_ADDR_SCOPE_PRIVATE },
  { { 0xfe, 0x80 }, 10, PUNCH_ADDR_SCOPE_LINK_LOCAL },
  { { 0xff }, 8, PUNCH_ADDR_SCOPE_UNUSABLE },
};

static gboolean
prefix_matches (const guint8 *addr, const Range *range)
{
  guint full = range->bits / 8, rest = range->bits % 8;

  if (memcmp (addr, range->prefix, full) != 0)
    return FALSE;
  if (rest == 0)
    return TRUE;
  return (addr[full] & (guint8) (0xff << (8 - rest))) == range->prefix[full];
}

static PunchAddrScope
scope_of_bytes (const guint8 *bytes, gsize len)
{
  const Range *ranges = len == 4 ? ipv4_ranges : ipv6_ranges;
  gsize n = len == 4 ? G_N_ELEMENTS (ipv4_ranges) : G_N_ELEMENTS (ipv6_ranges);
  static const guint8 v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

  if (len == 16 && memcmp (bytes, v4mapped, 12) == 0)
    return scope_of_bytes (bytes + 12, 4);
  if (len == 4 && bytes[0] == 255 && bytes[1] == 255 && bytes[2] == 255 && bytes[3] == 255)
    return PUNCH_ADDR_SCOPE_UNUSABLE;
  for (gsize i = 0; i < n; i++)
    if (prefix_matches (bytes, &ranges[i]))
      return ranges[i].scope;
  return PUNCH_ADDR_SCOPE_PUBLIC;
}

PunchAddrScope
punch_inet_address_get_scope (GInetAddress *address)
{
  g_return_val_if_fail (G_IS_INET_ADDRESS (address), PUNCH_ADDR_SCOPE_UNUSABLE);

  return scope_of_bytes (g_inet_address_to_bytes (address), g_inet_address_get_native_size (address));
}

PunchAddrScope
punch_multiaddr_get_scope (const PunchMultiaddr *addr)
{
  guint n = punch_multiaddr_get_n_components (addr);

  for (guint i = 0; i < n; i++)
    {
      PunchMultiaddrComponent c;

      punch_multiaddr_get_component (addr, i, &c);
      switch (c.code)
        {
        case PUNCH_PROTO_IP4:
        case PUNCH_PROTO_IP6:
          return scope_of_bytes (c.value, c.value_len);
        case PUNCH_PROTO_DNS:
        case PUNCH_PROTO_DNS4:
        case PUNCH_PROTO_DNS6:
        case PUNCH_PROTO_DNSADDR:
          return PUNCH_ADDR_SCOPE_PUBLIC;
        default:
          break;
        }
    }
  return PUNCH_ADDR_SCOPE_UNUSABLE;
}

gboolean
punch_multiaddr_is_public (const PunchMultiaddr *addr)
{
  return punch_multiaddr_get_scope (addr) == PUNCH_ADDR_SCOPE_PUBLIC;
}

const char *
punch_addr_scope_to_string (PunchAddrScope scope)
{
  static const char *const names[] = { "public", "private", "loopback", "link-local", "unusable" };

  g_return_val_if_fail ((guint) scope < G_N_ELEMENTS (names), "unusable");
  return names[scope];
}
