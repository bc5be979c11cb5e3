/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-host.h"
#include "punch-relay-reservation.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_RELAY_CLIENT (punch_relay_client_get_type ())
G_DECLARE_FINAL_TYPE (PunchRelayClient, punch_relay_client, PUNCH, RELAY_CLIENT, GObject)

/**
 * PunchRelayClient:
 *
 * The Circuit Relay v2 client side of a host: keeps a reservation on every
 * configured relay (reserve, refresh well before expiry, reconnect with
 * backoff), accepts circuits from those relays (the stop protocol), and dials
 * peers through relays. A #GListModel of #PunchRelayReservation via
 * punch_relay_client_get_reservations().
 *
 * Signals:
 * - "addrs-changed": the set of relayed addresses we can advertise changed
 * - "renewing" (const char *reason): punch_relay_client_renew() dropped
 *   stale state and reserves again on every relay
 */
PunchRelayClient      *punch_relay_client_new (PunchHost *host);
/* @relay_addr must end in /p2p/<relay id>. Returns the reservation (transfer none). */
PunchRelayReservation *punch_relay_client_add_relay (PunchRelayClient *self,
                                                     PunchMultiaddr   *relay_addr,
                                                     GError          **error);
void                   punch_relay_client_remove_relay (PunchRelayClient *self,
                                                        PunchPeerId      *relay_peer_id);
/* After a network change: drop stale connections and state, reserve again
 * on every relay now. */
void                   punch_relay_client_renew (PunchRelayClient *self,
                                                 const char       *reason);
/* (element-type PunchRelayReservation) */
GListModel            *punch_relay_client_get_reservations (PunchRelayClient *self);
/* Our addresses through every active reservation:
 * <relay addr>/p2p/<relay>/p2p-circuit/p2p/<us>. (element-type PunchMultiaddr) (transfer container) */
GPtrArray             *punch_relay_client_get_relayed_addrs (PunchRelayClient *self);

/* Dials <relay addr>/p2p/<relay>/p2p-circuit/p2p/<peer>: CONNECT on hop, then
 * the hop stream is upgraded like a socket (we are the security initiator). */
void                   punch_relay_client_dial_async  (PunchRelayClient   *self,
                                                       PunchMultiaddr     *addr,
                                                       GCancellable       *cancellable,
                                                       GAsyncReadyCallback callback,
                                                       gpointer            user_data);
PunchConnection       *punch_relay_client_dial_finish (PunchRelayClient *self,
                                                       GAsyncResult     *result,
                                                       GError          **error);

/* Checks a reservation voucher (signed envelope, domain libp2p-relay-rsvp,
 * payload type 0x0302) against the relay, us and the expiry. */
gboolean               punch_relay_verify_voucher (const guint8 *voucher,
                                                   gsize         len,
                                                   PunchPeerId  *relay,
                                                   PunchPeerId  *peer,
                                                   guint64       expire,
                                                   GError      **error);

G_END_DECLS
