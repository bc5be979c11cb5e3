/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-peer-info.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_PEER_STORE (punch_peer_store_get_type ())
G_DECLARE_FINAL_TYPE (PunchPeerStore, punch_peer_store, PUNCH, PEER_STORE, GObject)

/**
 * PunchPeerStore:
 *
 * What the host knows about peers, one #PunchPeerInfo per peer ID. A
 * #GListModel of #PunchPeerInfo, in order of first sight.
 */
PunchPeerStore *punch_peer_store_new (void);
/* Returns the entry for @peer_id (transfer none), or NULL. */
PunchPeerInfo  *punch_peer_store_lookup (PunchPeerStore *self, PunchPeerId *peer_id);
/* Returns the entry for @peer_id, creating it when missing (transfer none). */
PunchPeerInfo  *punch_peer_store_ensure (PunchPeerStore *self, PunchPeerId *peer_id);

G_END_DECLS
