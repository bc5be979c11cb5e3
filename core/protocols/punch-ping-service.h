/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "punch-host.h"

G_BEGIN_DECLS

#define PUNCH_PING_PROTOCOL "/ipfs/ping/1.0.0"
#define PUNCH_PING_SIZE     32

#define PUNCH_TYPE_PING_SERVICE (punch_ping_service_get_type ())
G_DECLARE_FINAL_TYPE (PunchPingService, punch_ping_service, PUNCH, PING_SERVICE, GObject)

/**
 * PunchPingService:
 *
 * Echoes /ipfs/ping/1.0.0 (at most 2 inbound ping streams per peer, closed
 * after 10 s idle) and measures RTTs: each sample is recorded on the
 * connection (punch_connection_add_rtt_sample()).
 */
PunchPingService *punch_ping_service_new (PunchHost *host);

/* One ping on @connection (reusing one outbound stream per connection).
 * Returns the RTT in µs. */
void              punch_ping_service_ping_async  (PunchPingService   *self,
                                                  PunchConnection    *connection,
                                                  GCancellable       *cancellable,
                                                  GAsyncReadyCallback callback,
                                                  gpointer            user_data);
gint64            punch_ping_service_ping_finish (PunchPingService *self,
                                                  GAsyncResult     *result,
                                                  GError          **error);

G_END_DECLS
