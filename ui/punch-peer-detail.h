/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "punch-node-peer.h"
#include "punch-node-services.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_PEER_DETAIL (punch_peer_detail_get_type ())
G_DECLARE_FINAL_TYPE (PunchPeerDetail, punch_peer_detail, PUNCH, PEER_DETAIL, GtkWidget)

/**
 * PunchPeerDetail:
 *
 * Everything about one friend: path badge, path diagram, live RTT chart,
 * the services shared both ways, the state timeline with durations and
 * attempts, and the event log.
 * Follows whatever peer is set, NULL for none.
 */
GtkWidget     *punch_peer_detail_new (void);
void           punch_peer_detail_set_peer (PunchPeerDetail *self, PunchNodePeer *peer);
PunchNodePeer *punch_peer_detail_get_peer (PunchPeerDetail *self);
/* The model of the Services section; @settings (nullable) keeps allow lists. */
void           punch_peer_detail_set_services (PunchPeerDetail   *self,
                                               PunchNodeServices *services,
                                               GSettings         *settings);
/* "Open Local Port" for the shown peer's service @name. */
void           punch_peer_detail_open_local_port (PunchPeerDetail *self,
                                                  const char      *name);

G_END_DECLS
