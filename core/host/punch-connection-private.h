/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "punch-connection.h"
#include "punch-upgrader.h"
#include "punch-yamux-session.h"

G_BEGIN_DECLS

/**
 * PunchConnectionStreamFunc:
 * @connection: the connection
 * @stream: (transfer none): a stream the remote opened, not negotiated yet
 * @user_data: the data given with the function
 *
 * Receives inbound streams; take a reference to keep @stream.
 */
typedef void (*PunchConnectionStreamFunc) (PunchConnection  *connection,
                                           PunchYamuxStream *stream,
                                           gpointer          user_data);

/* Wraps an upgraded connection (takes a reference on @upgrade's session, peer
 * ID and key; copies the protocol names). The state starts OPEN, "opened-at"
 * now. */
PunchConnection   *punch_connection_new (guint           id,
                                         PunchUpgrade   *upgrade,
                                         PunchMultiaddr *local_addr,
                                         PunchMultiaddr *remote_addr,
                                         PunchDirection  direction);

/* Where inbound streams go; without a function they are reset. NULL clears. */
void               punch_connection_set_stream_func (PunchConnection           *self,
                                                     PunchConnectionStreamFunc  func,
                                                     gpointer                   user_data);

void               punch_connection_set_relayed (PunchConnection *self, gboolean relayed);
/* The protocols that may run while the connection is limited (a set of
 * strings shared with the host; referenced, not copied). */
void               punch_connection_set_limited_allowlist (PunchConnection *self,
                                                           GHashTable      *allowed);
/**
 * PunchRelayLimit:
 * @duration_s: the relay's duration limit, 0 for none
 * @data_bytes: the relay's data limit per direction, 0 for none
 * @started_us: when the relay started counting (g_get_real_time()): once
 *   the CONNECT/STOP status exchange was over
 * @sent_before: bytes the relayed stream had sent by then
 * @received_before: bytes it had received by then
 *
 * What a relay allows a circuit, and where its count starts.
 */
typedef struct
{
  guint32 duration_s;
  guint64 data_bytes;
  gint64  started_us;
  guint64 sent_before;
  guint64 received_before;
} PunchRelayLimit;

/* Marks the start of the relay's count on @relayed_stream: now, and the
 * bytes it carried so far (those of the status exchange). */
void               punch_relay_limit_mark_start (PunchRelayLimit *limit,
                                                 GIOStream       *relayed_stream);

/* The limit a relay set on a limited connection, and the relayed stream it
 * runs over (to count what crossed the relay): the remaining budget becomes
 * observable ("remaining-send", "remaining-receive", "limit-ends-at"), and
 * a reset that matches the limit is reported as the limit, not as a bare
 * reset. */
void               punch_connection_set_relay_limit (PunchConnection       *self,
                                                     const PunchRelayLimit *limit,
                                                     GIOStream             *relayed_stream);
gboolean           punch_connection_allows (PunchConnection *self,
                                            const char      *protocol);
void               punch_connection_set_limited (PunchConnection *self, gboolean limited);
PunchYamuxSession *punch_connection_get_session (PunchConnection *self);

G_END_DECLS
