/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-multiaddr.h"

G_BEGIN_DECLS

/**
 * PunchAddrScope:
 * @PUNCH_ADDR_SCOPE_PUBLIC: reachable across the internet, as far as we know
 * @PUNCH_ADDR_SCOPE_PRIVATE: RFC 1918, RFC 6598 shared space (CGNAT), IPv6 ULA
 * @PUNCH_ADDR_SCOPE_LOOPBACK: 127.0.0.0/8, ::1
 * @PUNCH_ADDR_SCOPE_LINK_LOCAL: 169.254.0.0/16, fe80::/10
 * @PUNCH_ADDR_SCOPE_UNUSABLE: unspecified, multicast, broadcast, 0.0.0.0/8, 240.0.0.0/4
 *
 * Unlike go's manet.IsPublicAddr and js's isPrivate, the benchmarking range
 * 198.18.0.0/15 and the documentation ranges count as public: the NAT lab's
 * internet lives there, and they are not private address space.
 */
typedef enum
{
  PUNCH_ADDR_SCOPE_PUBLIC,
  PUNCH_ADDR_SCOPE_PRIVATE,
  PUNCH_ADDR_SCOPE_LOOPBACK,
  PUNCH_ADDR_SCOPE_LINK_LOCAL,
  PUNCH_ADDR_SCOPE_UNUSABLE,
} PunchAddrScope;

PunchAddrScope punch_inet_address_get_scope (GInetAddress *address);
/* The scope of the multiaddr's first /ip4 or /ip6 component; DNS names
 * count as public, anything else as unusable. */
PunchAddrScope punch_multiaddr_get_scope (const PunchMultiaddr *addr);
gboolean       punch_multiaddr_is_public (const PunchMultiaddr *addr);
const char    *punch_addr_scope_to_string (PunchAddrScope scope);

G_END_DECLS
