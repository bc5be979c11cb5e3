/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-multiaddr.h"
#include "punch-peer-id.h"

G_BEGIN_DECLS

/* The DCUtR HolePunch message types (libp2p/specs relay/DCUtR.md). */
typedef enum
{
  PUNCH_DCUTR_CONNECT = 100,
  PUNCH_DCUTR_SYNC = 300,
} PunchDcutrType;

/* Most addresses a message carries and that we look at. */
#define PUNCH_DCUTR_MAX_ADDRS 16

/* A HolePunch message (without the length prefix) with @addrs
 * (element-type PunchMultiaddr, nullable; at most PUNCH_DCUTR_MAX_ADDRS go in). */
GBytes    *punch_dcutr_message_encode (PunchDcutrType type, GPtrArray *addrs);
/* Parses a HolePunch message that must be of type @expected. Addresses that
 * are not valid multiaddrs are skipped; a message with more than
 * PUNCH_DCUTR_MAX_ADDRS keeps the first ones. Returns the addresses
 * (transfer full) (element-type PunchMultiaddr), or NULL with @error set. */
GPtrArray *punch_dcutr_message_decode (const guint8   *data,
                                       gsize           len,
                                       PunchDcutrType  expected,
                                       GError        **error);
/* The addresses of a peer's CONNECT worth a dial: TCP over /ip4, /ip6 or
 * /dns*, not relayed, public, for @peer when they name a peer; reduced to
 * /host/tcp/port, without duplicates. (transfer full) (element-type PunchMultiaddr) */
GPtrArray *punch_dcutr_filter_remote_addrs (GPtrArray *addrs, PunchPeerId *peer);
/* Whether @addr is /ip4|ip6|dns*|/tcp/… and not a /p2p-circuit address. */
gboolean   punch_dcutr_addr_is_dialable_tcp (PunchMultiaddr *addr);

G_END_DECLS
