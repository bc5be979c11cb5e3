/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-connection.h"

G_BEGIN_DECLS

/**
 * PunchHolePunchRole:
 * @PUNCH_HOLE_PUNCH_ROLE_A: we dialled through the relay; we answer the
 *   DCUtR stream and, on SYNC, dial at once as the client
 * @PUNCH_HOLE_PUNCH_ROLE_B: we accepted the relayed connection; we open the
 *   DCUtR stream, measure the RTT and dial after RTT/2 as the server
 */
typedef enum
{
  PUNCH_HOLE_PUNCH_ROLE_A,
  PUNCH_HOLE_PUNCH_ROLE_B,
} PunchHolePunchRole;

typedef enum
{
  PUNCH_HOLE_PUNCH_STATE_WAITING,      /* the relayed connection just opened */
  PUNCH_HOLE_PUNCH_STATE_REVERSING,    /* B dials A's public addresses directly (after the first CONNECTs) */
  PUNCH_HOLE_PUNCH_STATE_EXCHANGING,   /* CONNECT messages (B: beside identify on the first attempt) */
  PUNCH_HOLE_PUNCH_STATE_SYNCING,      /* B waits RTT/2 after SYNC */
  PUNCH_HOLE_PUNCH_STATE_DIALING,      /* the simultaneous open */
  PUNCH_HOLE_PUNCH_STATE_SUCCEEDED,
  PUNCH_HOLE_PUNCH_STATE_FAILED,
} PunchHolePunchState;

/* The vocabulary of libp2p's hole-punching measurements (punchr), so that
 * exported data compares with published success rates. */
typedef enum
{
  PUNCH_HOLE_PUNCH_OUTCOME_UNKNOWN,
  PUNCH_HOLE_PUNCH_OUTCOME_SUCCESS,
  PUNCH_HOLE_PUNCH_OUTCOME_CONNECTION_REVERSED,
  PUNCH_HOLE_PUNCH_OUTCOME_FAILED,
  PUNCH_HOLE_PUNCH_OUTCOME_NO_STREAM,
  PUNCH_HOLE_PUNCH_OUTCOME_NO_CONNECTION,
  PUNCH_HOLE_PUNCH_OUTCOME_CANCELLED,
} PunchHolePunchOutcome;

#define PUNCH_TYPE_HOLE_PUNCH (punch_hole_punch_get_type ())
G_DECLARE_FINAL_TYPE (PunchHolePunch, punch_hole_punch, PUNCH, HOLE_PUNCH, GObject)

/**
 * PunchHolePunch:
 *
 * One hole punch with one peer, from the relayed connection to a direct one
 * or to giving up, as the peer detail's timeline shows it.
 *
 * Properties (all notify): "peer-id", "role", "state", "outcome",
 *   "attempts", "rtt" (µs of the last CONNECT round trip, -1 when none),
 *   "remote-addrs" and "local-addrs" (GStrv of the last CONNECT exchange),
 *   "error" (the last failure, NULL when none), "started-at", "ended-at"
 *   (GDateTime), "relayed-connection", "direct-connection".
 * Signals:
 * - "transition" (PunchHolePunchState from, PunchHolePunchState to, const char *detail)
 */
PunchPeerId          *punch_hole_punch_get_peer_id (PunchHolePunch *self);
PunchHolePunchRole    punch_hole_punch_get_role (PunchHolePunch *self);
PunchHolePunchState   punch_hole_punch_get_state (PunchHolePunch *self);
PunchHolePunchOutcome punch_hole_punch_get_outcome (PunchHolePunch *self);
guint                 punch_hole_punch_get_attempts (PunchHolePunch *self);
gint64                punch_hole_punch_get_rtt (PunchHolePunch *self);
const char * const   *punch_hole_punch_get_remote_addrs (PunchHolePunch *self);
const char * const   *punch_hole_punch_get_local_addrs (PunchHolePunch *self);
const char           *punch_hole_punch_get_error (PunchHolePunch *self);
GDateTime            *punch_hole_punch_get_started_at (PunchHolePunch *self);
GDateTime            *punch_hole_punch_get_ended_at (PunchHolePunch *self);
PunchConnection      *punch_hole_punch_get_direct_connection (PunchHolePunch *self);
gboolean              punch_hole_punch_is_finished (PunchHolePunch *self);

const char           *punch_hole_punch_state_to_string (PunchHolePunchState state);
const char           *punch_hole_punch_outcome_to_string (PunchHolePunchOutcome outcome);
const char           *punch_hole_punch_role_to_string (PunchHolePunchRole role);

G_END_DECLS
