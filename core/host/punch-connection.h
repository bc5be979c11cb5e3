/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-multiaddr.h"
#include "punch-peer-id.h"
#include "punch-public-key.h"

G_BEGIN_DECLS

typedef enum
{
  PUNCH_CONNECTION_STATE_OPEN,
  PUNCH_CONNECTION_STATE_CLOSING,
  PUNCH_CONNECTION_STATE_CLOSED,
} PunchConnectionState;

typedef enum
{
  PUNCH_DIRECTION_INBOUND,
  PUNCH_DIRECTION_OUTBOUND,
} PunchDirection;

#define PUNCH_TYPE_CONNECTION_STATE (punch_connection_state_get_type ())
GType punch_connection_state_get_type (void) G_GNUC_CONST;
#define PUNCH_TYPE_DIRECTION (punch_direction_get_type ())
GType punch_direction_get_type (void) G_GNUC_CONST;

#define PUNCH_TYPE_CONNECTION (punch_connection_get_type ())
G_DECLARE_FINAL_TYPE (PunchConnection, punch_connection, PUNCH, CONNECTION, GObject)

/**
 * PunchConnection:
 *
 * One upgraded (secured + multiplexed) connection to a peer, as the dashboard
 * and the diagnostics see it. Created by the host after a successful upgrade.
 *
 * Properties (all notify): "id" (guint, unique per host), "peer-id",
 *   "remote-public-key", "local-addr", "remote-addr" (PunchMultiaddr),
 *   "direction", "state", "security" ("/noise", "/tls/1.0.0"), "cipher"
 *   ("ChaChaPoly", "TLS_AES_256_GCM_SHA384"…), "muxer" ("/yamux/1.0.0"),
 *   "relayed", "limited", "observed-addr" (how the remote sees us, from
 *   identify; may be NULL), "rtt" (µs, last ping sample, -1 when none),
 *   "opened-at" (GDateTime), "closed-at".
 *   Relayed connections a relay limits: "limit-duration" (s) and
 *   "limit-data" (bytes per direction), 0 for none; "remaining-send" and
 *   "remaining-receive" (bytes left of the data limit each way, G_MAXUINT64
 *   without one; notified at most once a second while data flows, and when
 *   the connection closes); "limit-ends-at" (GDateTime, NULL without a
 *   duration limit).
 *   "held" (TRUE while punch_connection_hold() users remain).
 * Signals:
 * - "rtt-sample" (gint64 rtt_us): a new RTT measurement (ping, yamux keepalive)
 * - "closed" (GError *error): the connection ended; NULL error for a local close
 */

guint                 punch_connection_get_id (PunchConnection *self);
PunchPeerId          *punch_connection_get_peer_id (PunchConnection *self);
PunchPublicKey       *punch_connection_get_remote_public_key (PunchConnection *self);
PunchMultiaddr       *punch_connection_get_local_addr (PunchConnection *self);
PunchMultiaddr       *punch_connection_get_remote_addr (PunchConnection *self);
PunchDirection        punch_connection_get_direction (PunchConnection *self);
PunchConnectionState  punch_connection_get_state (PunchConnection *self);
const char           *punch_connection_get_security (PunchConnection *self);
const char           *punch_connection_get_muxer (PunchConnection *self);
const char           *punch_connection_get_cipher (PunchConnection *self);
gboolean              punch_connection_get_relayed (PunchConnection *self);
gboolean              punch_connection_get_limited (PunchConnection *self);
PunchMultiaddr       *punch_connection_get_observed_addr (PunchConnection *self);
void                  punch_connection_set_observed_addr (PunchConnection *self, PunchMultiaddr *addr);
gint64                punch_connection_get_rtt (PunchConnection *self);
/* Records an RTT sample: updates "rtt" and emits "rtt-sample". */
void                  punch_connection_add_rtt_sample (PunchConnection *self, gint64 rtt_us);
GDateTime            *punch_connection_get_opened_at (PunchConnection *self);
/* NULL while the connection is open. */
GDateTime            *punch_connection_get_closed_at (PunchConnection *self);
guint32               punch_connection_get_limit_duration (PunchConnection *self);
guint64               punch_connection_get_limit_data (PunchConnection *self);
guint64               punch_connection_get_remaining_send (PunchConnection *self);
guint64               punch_connection_get_remaining_receive (PunchConnection *self);
GDateTime            *punch_connection_get_limit_ends_at (PunchConnection *self);
/* A long-lived user keeps the connection from being closed as superseded
 * ("held"); each hold is undone by one release. */
void                  punch_connection_hold (PunchConnection *self);
void                  punch_connection_release (PunchConnection *self);
gboolean              punch_connection_get_held (PunchConnection *self);

/* Opens a muxed stream and negotiates one of @protocols with multistream-select. */
void                  punch_connection_open_stream_async  (PunchConnection    *self,
                                                           const char * const *protocols,
                                                           GCancellable       *cancellable,
                                                           GAsyncReadyCallback callback,
                                                           gpointer            user_data);
GIOStream            *punch_connection_open_stream_finish (PunchConnection *self,
                                                           GAsyncResult    *result,
                                                           char           **protocol,
                                                           GError         **error);

/* Closes the muxer (GoAway) and the underlying stream. */
void                  punch_connection_close (PunchConnection *self);

const char           *punch_connection_state_to_string (PunchConnectionState state);
const char           *punch_direction_to_string (PunchDirection direction);

G_END_DECLS
