/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-autonat-service.h"
#include "punch-dcutr-service.h"
#include "punch-host.h"
#include "punch-identify-service.h"
#include "punch-node-peer.h"
#include "punch-ping-service.h"
#include "punch-relay-client.h"
#include "punch-relay-entry.h"
#include "punch-rtt-series.h"
#include "punch-timeline.h"

G_BEGIN_DECLS

#define PUNCH_NODE_DEFAULT_PING_INTERVAL_MS 2000
/* A /dnsaddr name may stand for many relays; we reserve on this many. */
#define PUNCH_NODE_MAX_RELAYS_PER_NAME      4

#define PUNCH_TYPE_NODE (punch_node_get_type ())
G_DECLARE_FINAL_TYPE (PunchNode, punch_node, PUNCH, NODE, GObject)

/**
 * PunchNode:
 *
 * The one peer an application runs, and the model the dashboard binds to:
 * a #PunchHost with identify, ping, the relay client and DCUtR, the
 * configured relays, the friends we talk to (a #GListModel of
 * #PunchNodePeer), a node-wide #PunchTimeline of every transition, RTT
 * series, counters, and the addresses to share. Pings every open connection
 * every "ping-interval" ms so that RTTs stay live.
 *
 * Properties: "host", "reachability" (a plain-words summary; notify),
 *   "ping-interval" (ms, read-write).
 * The AutoNAT service (punch_node_get_autonat()) gathers how direct
 * connections see us; the reachability summary and the diagnostics export
 * use its mapping classifier (punch_node_get_nat_report()). When it reports
 * a network change, the node re-checks its direct connections 1 s later:
 * those whose local address is gone, or that were seen on an external IP
 * we no longer have, are closed; the others must answer a ping within 3 s.
 * The relay client reserves again on any relay whose connection closed
 * (timeline "network" events "stale connection", counter
 * network.stale_connections).
 *
 * Signals:
 * - "addrs-changed": punch_node_get_my_addrs() changed
 * - "network-changed" (const char *what): the network changed ("interfaces",
 *   "routes" or "external-address", as AutoNAT says) and is being
 *   re-checked
 * - "connect-progress" (const char *addr, const char *message): what a
 *   punch_node_connect_async() is doing now
 */
PunchNode        *punch_node_new (PunchPrivateKey *key);
/* Loads or creates the identity file (NULL: the default path). */
PunchNode        *punch_node_new_from_identity (const char *identity_path, GError **error);

/* Listens on /ip4/0.0.0.0/tcp/@port and, when the system has IPv6, on
 * /ip6/::/tcp/@port (0: a free port). */
gboolean          punch_node_listen (PunchNode *self, guint16 port, GError **error);
/* Listens on one multiaddr, e.g. "/ip4/127.0.0.1/tcp/0" in tests. */
gboolean          punch_node_listen_on (PunchNode *self, const char *addr, GError **error);
void              punch_node_close (PunchNode *self);

PunchHost            *punch_node_get_host (PunchNode *self);
PunchIdentifyService *punch_node_get_identify (PunchNode *self);
PunchPingService     *punch_node_get_ping (PunchNode *self);
PunchRelayClient     *punch_node_get_relay_client (PunchNode *self);
PunchDcutrService    *punch_node_get_dcutr (PunchNode *self);
PunchAutonatService  *punch_node_get_autonat (PunchNode *self);
/* The mapping classifier's verdict on the observations kept, with its
 * evidence. (transfer full) */
PunchNatReport       *punch_node_get_nat_report (PunchNode *self);
/* What we predicted for a DCUtR punch from our NAT mapping when it started
 * (a "nat_prediction" timeline event), and once it ended whether that held
 * (@held: 1, 0, or -1 while running, cancelled or unknown; counters
 * predictions.held / predictions.failed / predictions.unknown). */
PunchPunchPrediction  punch_node_get_punch_prediction (PunchNode      *self,
                                                       PunchHolePunch *hp,
                                                       int            *held);
const char           *punch_node_get_peer_id (PunchNode *self);

/* Relays: multiaddrs ending in /p2p/<relay>, or /dnsaddr names resolved
 * into up to PUNCH_NODE_MAX_RELAYS_PER_NAME relays. Fails only for text
 * that is not a relay address; network failures show in the entry. */
gboolean          punch_node_add_relay (PunchNode *self, const char *addr, GError **error);
gboolean          punch_node_remove_relay (PunchNode *self, const char *addr);
/* (element-type PunchRelayEntry) */
GListModel       *punch_node_get_relay_entries (PunchNode *self);
/* (element-type PunchRelayReservation) */
GListModel       *punch_node_get_reservations (PunchNode *self);
/* The RTT series of our connection to a relay (transfer none), or NULL. */
PunchRttSeries   *punch_node_get_relay_rtt (PunchNode *self, const char *relay_peer_id);
gboolean          punch_node_is_relay (PunchNode *self, const char *peer_id);

/* Full addresses a friend can dial (…/p2p/<us>): relayed ones first while
 * we know no public address of ours. (transfer full) */
GStrv             punch_node_get_my_addrs (PunchNode *self);
const char       *punch_node_get_reachability (PunchNode *self);
/* Public addresses others observed for us on direct connections. (transfer full) */
GStrv             punch_node_get_observed_addrs (PunchNode *self);

/* Checks a pasted friend address; the error message is for people. */
PunchMultiaddr   *punch_node_parse_friend_addr (PunchNode *self, const char *text, GError **error);
void              punch_node_connect_async  (PunchNode          *self,
                                             const char         *addr,
                                             GCancellable       *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer            user_data);
PunchConnection  *punch_node_connect_finish (PunchNode    *self,
                                             GAsyncResult *result,
                                             GError      **error);

/* (element-type PunchNodePeer) */
GListModel       *punch_node_get_peers (PunchNode *self);
PunchNodePeer    *punch_node_lookup_peer (PunchNode *self, const char *peer_id);
PunchTimeline    *punch_node_get_timeline (PunchNode *self);
/* Counter names → guint (GUINT_TO_POINTER); see docs/diagnostics.md. (transfer none) */
GHashTable       *punch_node_get_counters (PunchNode *self);
guint             punch_node_get_counter (PunchNode *self, const char *name);
gint64            punch_node_get_started_at (PunchNode *self);

G_END_DECLS
