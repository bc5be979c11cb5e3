/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-host.h"
#include "punch-relay-circuit.h"

G_BEGIN_DECLS

/* go-libp2p's relay defaults (p2p/protocol/circuitv2/relay/resources.go). */
#define PUNCH_RELAY_DEFAULT_TTL              3600
#define PUNCH_RELAY_DEFAULT_LIMIT_DURATION   120
#define PUNCH_RELAY_DEFAULT_LIMIT_DATA       (128 * 1024)
#define PUNCH_RELAY_DEFAULT_MAX_RESERVATIONS 128
#define PUNCH_RELAY_DEFAULT_MAX_PER_IP       8
#define PUNCH_RELAY_DEFAULT_MAX_CIRCUITS     16

#define PUNCH_TYPE_RELAY_SERVICE (punch_relay_service_get_type ())
G_DECLARE_FINAL_TYPE (PunchRelayService, punch_relay_service, PUNCH, RELAY_SERVICE, GObject)

/**
 * PunchRelayService:
 *
 * A Circuit Relay v2 server (the hop protocol): grants reservations with a
 * TTL and a signed voucher, connects peers to reserved peers through the
 * stop protocol, and bridges the two streams within the per-circuit limits.
 *
 * Properties (read-write): "reservation-ttl" (s), "limit-duration" (s, 0 =
 *   none), "limit-data" (bytes per direction, 0 = none), "max-reservations",
 *   "max-reservations-per-ip", "max-circuits-per-peer"; read-only
 *   "n-reservations", "n-circuits".
 * Signals:
 * - "reservation" (PunchPeerId *peer, const char *event, gint64 expire, const char *reason):
 *   event is "opened", "refreshed", "refused", "expired" or "closed"
 * - "circuit" (PunchRelayCircuit *circuit, const char *event, const char *reason):
 *   event is "opened", "refused" (circuit NULL: see reason) or "closed"
 */
PunchRelayService *punch_relay_service_new (PunchHost *host);
/* The addresses reservations carry (Reservation.addrs); the host's listen
 * addresses when none are set. (element-type PunchMultiaddr) */
void               punch_relay_service_set_announce_addrs (PunchRelayService *self, GPtrArray *addrs);
guint              punch_relay_service_get_n_reservations (PunchRelayService *self);
guint              punch_relay_service_get_n_circuits (PunchRelayService *self);

G_END_DECLS
