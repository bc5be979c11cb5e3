/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-connection.h"
#include "punch-rtt-series.h"
#include "punch-timeline.h"

G_BEGIN_DECLS

/**
 * PunchPeerPath:
 * @PUNCH_PEER_PATH_NONE: no open connection
 * @PUNCH_PEER_PATH_RELAYED: only relayed connections are open
 * @PUNCH_PEER_PATH_PUNCHING: relayed, and a hole punch is under way
 * @PUNCH_PEER_PATH_DIRECT: a direct (not relayed) connection is open
 */
typedef enum
{
  PUNCH_PEER_PATH_NONE,
  PUNCH_PEER_PATH_RELAYED,
  PUNCH_PEER_PATH_PUNCHING,
  PUNCH_PEER_PATH_DIRECT,
} PunchPeerPath;

#define PUNCH_TYPE_NODE_PEER (punch_node_peer_get_type ())
G_DECLARE_FINAL_TYPE (PunchNodePeer, punch_node_peer, PUNCH, NODE_PEER, GObject)

/**
 * PunchNodePeer:
 *
 * A friend as the dashboard shows it: the path we reach it by, the relay
 * in between, live RTTs, and the timeline of its connections and punches.
 * Maintained by #PunchNode.
 *
 * Properties (read-only, all notify): "peer-id" (string), "path"
 *   (#PunchPeerPath as int), "relay-peer-id" (string, the relay of the last
 *   relayed connection, or NULL), "relay-addr" (string, that relay's address),
 *   "rtt" (µs on the current path, -1 when unknown), "agent-version",
 *   "since" (gint64 µs: when the current path began), "direct-addr" (remote
 *   address of the direct connection), "relayed-connection" (the open
 *   relayed #PunchConnection, whose relay limit and remaining budget the
 *   dashboard shows; NULL when none), "punch-attempts", "punch-outcome"
 *   (punchr vocabulary of the last punch, or NULL), "time-direct" and
 *   "time-relayed" (µs spent on each path, for the ratio).
 */
PunchNodePeer  *punch_node_peer_new (const char *peer_id);
const char     *punch_node_peer_get_peer_id (PunchNodePeer *self);
PunchPeerPath   punch_node_peer_get_path (PunchNodePeer *self);
const char     *punch_node_peer_get_relay_peer_id (PunchNodePeer *self);
const char     *punch_node_peer_get_relay_addr (PunchNodePeer *self);
gint64          punch_node_peer_get_rtt (PunchNodePeer *self);
const char     *punch_node_peer_get_agent_version (PunchNodePeer *self);
gint64          punch_node_peer_get_since (PunchNodePeer *self);
const char     *punch_node_peer_get_direct_addr (PunchNodePeer *self);
PunchConnection *punch_node_peer_get_relayed_connection (PunchNodePeer *self);
guint           punch_node_peer_get_punch_attempts (PunchNodePeer *self);
const char     *punch_node_peer_get_punch_outcome (PunchNodePeer *self);
/* µs spent direct and relayed so far, counting the current path up to now. */
void            punch_node_peer_get_path_times (PunchNodePeer *self,
                                                gint64        *direct_us,
                                                gint64        *relayed_us);
PunchTimeline  *punch_node_peer_get_timeline (PunchNodePeer *self);
/* The three RTT series: to the relay, to the peer through the relay, to the
 * peer directly. (transfer none) */
PunchRttSeries *punch_node_peer_get_rtt_relay (PunchNodePeer *self);
PunchRttSeries *punch_node_peer_get_rtt_relayed (PunchNodePeer *self);
PunchRttSeries *punch_node_peer_get_rtt_direct (PunchNodePeer *self);

/* For #PunchNode. */
void            punch_node_peer_set_path (PunchNodePeer *self, PunchPeerPath path);
void            punch_node_peer_set_relay (PunchNodePeer *self, const char *relay_peer_id, const char *relay_addr);
void            punch_node_peer_set_rtt (PunchNodePeer *self, gint64 rtt_us);
void            punch_node_peer_set_agent_version (PunchNodePeer *self, const char *agent);
void            punch_node_peer_set_direct_addr (PunchNodePeer *self, const char *addr);
void            punch_node_peer_set_relayed_connection (PunchNodePeer *self, PunchConnection *connection);
void            punch_node_peer_set_punch (PunchNodePeer *self, guint attempts, const char *outcome);

const char     *punch_peer_path_to_string (PunchPeerPath path);

G_END_DECLS
