/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-connection.h"
#include "punch-multiaddr.h"
#include "punch-peer-id.h"

G_BEGIN_DECLS

typedef enum
{
  PUNCH_RESERVATION_STATE_CONNECTING,
  PUNCH_RESERVATION_STATE_RESERVING,
  PUNCH_RESERVATION_STATE_RESERVED,
  PUNCH_RESERVATION_STATE_REFRESHING,
  PUNCH_RESERVATION_STATE_EXPIRED,
  PUNCH_RESERVATION_STATE_FAILED,
} PunchReservationState;

typedef enum
{
  PUNCH_VOUCHER_NONE,     /* the relay sent no voucher (allowed) */
  PUNCH_VOUCHER_VALID,
  PUNCH_VOUCHER_INVALID,  /* present but forged or not matching: reported */
} PunchVoucherState;

#define PUNCH_TYPE_RELAY_RESERVATION (punch_relay_reservation_get_type ())
G_DECLARE_FINAL_TYPE (PunchRelayReservation, punch_relay_reservation, PUNCH, RELAY_RESERVATION, GObject)

/**
 * PunchRelayReservation:
 *
 * Our reservation on one relay, as the relay panel shows it: a state machine
 * connecting → reserving → reserved → refreshing → reserved … ending in
 * expired or failed (with a reason), then retried with backoff.
 *
 * Properties (all notify): "relay-addr" (PunchMultiaddr, with /p2p/<relay>),
 *   "relay-peer-id", "state", "state-since" (GDateTime), "reason" (why the last
 *   failure happened, NULL when none), "expire" (gint64 UNIX seconds, 0 when
 *   none), "limit-duration" (seconds, 0 = none), "limit-data" (bytes per
 *   direction, 0 = none), "voucher-state", "voucher-error", "attempts" (since
 *   the last success), "refreshes", "connection" (PunchConnection to the relay
 *   or NULL), "addrs" (GPtrArray of our relayed PunchMultiaddrs).
 * Signals:
 * - "transition" (PunchReservationState from, PunchReservationState to, const char *reason)
 */
PunchMultiaddr        *punch_relay_reservation_get_relay_addr (PunchRelayReservation *self);
PunchPeerId           *punch_relay_reservation_get_relay_peer_id (PunchRelayReservation *self);
PunchReservationState  punch_relay_reservation_get_state (PunchRelayReservation *self);
GDateTime             *punch_relay_reservation_get_state_since (PunchRelayReservation *self);
const char            *punch_relay_reservation_get_reason (PunchRelayReservation *self);
gint64                 punch_relay_reservation_get_expire (PunchRelayReservation *self);
guint32                punch_relay_reservation_get_limit_duration (PunchRelayReservation *self);
guint64                punch_relay_reservation_get_limit_data (PunchRelayReservation *self);
PunchVoucherState      punch_relay_reservation_get_voucher_state (PunchRelayReservation *self);
const char            *punch_relay_reservation_get_voucher_error (PunchRelayReservation *self);
guint                  punch_relay_reservation_get_attempts (PunchRelayReservation *self);
guint                  punch_relay_reservation_get_refreshes (PunchRelayReservation *self);
PunchConnection       *punch_relay_reservation_get_connection (PunchRelayReservation *self);
/* (element-type PunchMultiaddr) (transfer none) */
GPtrArray             *punch_relay_reservation_get_addrs (PunchRelayReservation *self);
gboolean               punch_relay_reservation_is_active (PunchRelayReservation *self);

const char            *punch_reservation_state_to_string (PunchReservationState state);
const char            *punch_voucher_state_to_string (PunchVoucherState state);

G_END_DECLS
