/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-multiaddr.h"
#include "punch-peer-id.h"
#include "punch-public-key.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_PEER_INFO (punch_peer_info_get_type ())
G_DECLARE_FINAL_TYPE (PunchPeerInfo, punch_peer_info, PUNCH, PEER_INFO, GObject)

/**
 * PunchPeerInfo:
 *
 * Properties (all notify): "peer-id", "public-key", "agent-version",
 *   "protocol-version", "protocols" (GStrv), "addrs" (GPtrArray of
 *   PunchMultiaddr, as the peer listens), "last-seen" (GDateTime).
 */
PunchPeerInfo   *punch_peer_info_new (PunchPeerId *peer_id);
PunchPeerId     *punch_peer_info_get_peer_id (PunchPeerInfo *self);
PunchPublicKey  *punch_peer_info_get_public_key (PunchPeerInfo *self);
void             punch_peer_info_set_public_key (PunchPeerInfo *self, PunchPublicKey *key);
const char      *punch_peer_info_get_agent_version (PunchPeerInfo *self);
void             punch_peer_info_set_agent_version (PunchPeerInfo *self, const char *agent);
const char      *punch_peer_info_get_protocol_version (PunchPeerInfo *self);
void             punch_peer_info_set_protocol_version (PunchPeerInfo *self, const char *version);
const char * const *punch_peer_info_get_protocols (PunchPeerInfo *self);
void             punch_peer_info_set_protocols (PunchPeerInfo *self, const char * const *protocols);
gboolean         punch_peer_info_supports (PunchPeerInfo *self, const char *protocol);
/* (element-type PunchMultiaddr) (transfer none) */
GPtrArray       *punch_peer_info_get_addrs (PunchPeerInfo *self);
/* Replaces the listen addresses; takes a reference on each element. */
void             punch_peer_info_set_addrs (PunchPeerInfo *self, GPtrArray *addrs);
void             punch_peer_info_add_addr (PunchPeerInfo *self, PunchMultiaddr *addr);
GDateTime       *punch_peer_info_get_last_seen (PunchPeerInfo *self);
/* Sets "last-seen" to now (a connection opened, identify answered…). */
void             punch_peer_info_touch (PunchPeerInfo *self);

G_END_DECLS
