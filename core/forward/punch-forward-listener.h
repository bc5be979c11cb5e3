/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-forward-service.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_FORWARD_LISTENER (punch_forward_listener_get_type ())
G_DECLARE_FINAL_TYPE (PunchForwardListener, punch_forward_listener, PUNCH, FORWARD_LISTENER, GObject)

/**
 * PunchForwardListener:
 *
 * A local TCP port whose every accepted connection is forwarded to one
 * peer's service through a #PunchForwardService (which emits
 * "stream-finished" per connection).
 *
 * Signals:
 * - "forward-finished" (guint64 bytes_out, guint64 bytes_in, const GError *error):
 *   one accepted connection ended
 * - "redial" (guint attempt, guint retry_ms, const GError *error): with a
 *   redial address, dial number @attempt failed; the next is in @retry_ms
 * - "reconnected" (PunchConnection *connection): a redial succeeded
 */
PunchForwardListener *punch_forward_listener_new (PunchForwardService *service,
                                                  PunchPeerId         *peer_id,
                                                  const char          *name);
/* Listens on "HOST:PORT" (port 0 picks one; a bare IPv6 address in
 * brackets). Returns the bound address as "HOST:PORT". (transfer full) */
char                 *punch_forward_listener_listen (PunchForwardListener *self,
                                                     const char           *local,
                                                     GError              **error);
/* With @addr (NULL: off), a connection accepted while there is no
 * connection to the peer waits (up to about @wait_ms) while the listener
 * dials @addr, one dial at a time, retrying with a backoff (0.5 s doubling
 * up to 10 s) as long as connections wait. Without it they fail at once. */
void                  punch_forward_listener_set_redial (PunchForwardListener *self,
                                                         PunchMultiaddr       *addr,
                                                         guint                 wait_ms);
/* Stops accepting and resets the connections being forwarded. */
void                  punch_forward_listener_close (PunchForwardListener *self);
/* Connections being forwarded right now. */
guint                 punch_forward_listener_get_active (PunchForwardListener *self);

G_END_DECLS
