/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-forward-message.h"
#include "punch-host.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_FORWARD_SERVICE (punch_forward_service_get_type ())
G_DECLARE_FINAL_TYPE (PunchForwardService, punch_forward_service, PUNCH, FORWARD_SERVICE, GObject)

/**
 * PunchForwardService:
 *
 * TCP port forwarding over /punchline/forward/1.0.0: one stream per TCP
 * connection. Services are exposed by name with an allow list of peer IDs
 * (deny by default; the protocol handler is registered on the first expose); forward_async opens one stream to a peer's service and
 * splices it with a local TCP connection, one fixed buffer per direction.
 *
 * Properties: "host", "max-streams-per-peer" (guint, default 128),
 *   "direct-timeout" (guint ms, default 30000: how long forward_async waits
 *   for a direct connection when the only one is a limited relayed one).
 * Signals:
 * - "exposed" (const char *name, const char *target): a service was exposed
 * - "denied" (const char *peer_id, const char *service, const char *reason):
 *   an inbound attempt was refused (unknown service, not allowed, limit)
 * - "stream-opened" (const char *peer_id, const char *service, gboolean inbound,
 *   PunchConnection *connection): a forwarded stream was accepted and bytes
 *   start to flow, on @connection (relayed or direct) until it ends
 * - "stream-finished" (const char *peer_id, const char *service,
 *   gboolean inbound, guint64 bytes_out, guint64 bytes_in, gdouble seconds,
 *   const char *outcome, const GError *error): one forwarded stream ended,
 *   on either side. bytes_out went to the peer, bytes_in came from it;
 *   outcome is a punch_forward_status_to_string() value, "reset" or "error";
 *   @error is NULL for a clean end.
 */
PunchForwardService *punch_forward_service_new (PunchHost *host);

/* Exposes @name as a TCP target "HOST:PORT". Exposing an existing name
 * replaces its target and keeps its allow list. */
gboolean   punch_forward_service_expose   (PunchForwardService *self,
                                           const char          *name,
                                           const char          *target,
                                           GError             **error);
void       punch_forward_service_unexpose (PunchForwardService *self,
                                           const char          *name);
/* Lets @peer_id use @name (which must be exposed). */
gboolean   punch_forward_service_allow    (PunchForwardService *self,
                                           const char          *name,
                                           PunchPeerId         *peer_id,
                                           GError             **error);
void       punch_forward_service_disallow (PunchForwardService *self,
                                           const char          *name,
                                           PunchPeerId         *peer_id);
/* The exposed names, sorted. (transfer full) */
GStrv      punch_forward_service_list_exposed (PunchForwardService *self);
/* (transfer none) */
PunchHost *punch_forward_service_get_host (PunchForwardService *self);
/* Forwarded streams open right now (both directions). */
guint      punch_forward_service_get_active (PunchForwardService *self);
/* The exposed names @peer_id may use, sorted. (transfer full) */
GStrv      punch_forward_service_list_allowed (PunchForwardService *self,
                                               PunchPeerId         *peer_id);
/* Live byte counts of the open streams with @peer_id (NULL: any) for
 * @service (NULL: any) in one direction; returns how many are open. Their
 * final counts come with "stream-finished". */
guint      punch_forward_service_get_live (PunchForwardService *self,
                                           const char          *peer_id,
                                           const char          *service,
                                           gboolean             inbound,
                                           guint64             *bytes_out,
                                           guint64             *bytes_in);

void       punch_forward_service_set_max_streams_per_peer (PunchForwardService *self, guint max);
void       punch_forward_service_set_direct_timeout (PunchForwardService *self, guint timeout_ms);

/**
 * punch_forward_service_forward_async:
 * @self: the service
 * @peer_id: the peer exposing @service; a connection to it must exist
 * @service: the service name
 * @local: a connected local TCP connection (taken over: closed at the end)
 * @cancellable: (nullable): cancels the whole forward (resets the stream)
 *
 * Opens a stream on the best connection to @peer_id (direct first; a limited
 * relayed connection only once a direct one appears within "direct-timeout"),
 * asks for @service and splices. Completes when both directions are done;
 * "stream-finished" is emitted just before.
 */
void       punch_forward_service_forward_async  (PunchForwardService *self,
                                                 PunchPeerId         *peer_id,
                                                 const char          *service,
                                                 GSocketConnection   *local,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
gboolean   punch_forward_service_forward_finish (PunchForwardService *self,
                                                 GAsyncResult        *result,
                                                 guint64             *bytes_out,
                                                 guint64             *bytes_in,
                                                 GError             **error);

G_END_DECLS
