/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PUNCH_TYPE_TCP_TRANSPORT (punch_tcp_transport_get_type ())
G_DECLARE_FINAL_TYPE (PunchTcpTransport, punch_tcp_transport, PUNCH, TCP_TRANSPORT, GObject)

/**
 * PunchTcpTransport:
 *
 * TCP listen and dial on GIO. Every socket sets SO_REUSEADDR and SO_REUSEPORT
 * and TCP_NODELAY; outbound dials bind to the port of a listener of the same
 * family, so the remote observes our listen port and a NAT mapping made by a
 * dial can be reused by a hole punch.
 *
 * Signals:
 * - "incoming" (GSocketConnection *connection): a peer connected to a listener.
 */
PunchTcpTransport *punch_tcp_transport_new (void);

/* Binds and listens (port 0 picks one). Returns the bound address. */
GInetSocketAddress *punch_tcp_transport_listen (PunchTcpTransport  *self,
                                                GInetSocketAddress *address,
                                                GError            **error);
/* The bound addresses of all listeners (GInetSocketAddress). */
GPtrArray          *punch_tcp_transport_get_listen_addresses (PunchTcpTransport *self);
void                punch_tcp_transport_close (PunchTcpTransport *self);

/* Whether dials bind to the listen port (default TRUE). */
void                punch_tcp_transport_set_reuse_port (PunchTcpTransport *self, gboolean reuse);

/* Connects to @remote within @timeout_ms (0 = default 10 s). */
void                punch_tcp_transport_dial_async  (PunchTcpTransport  *self,
                                                     GInetSocketAddress *remote,
                                                     guint               timeout_ms,
                                                     GCancellable       *cancellable,
                                                     GAsyncReadyCallback callback,
                                                     gpointer            user_data);
GSocketConnection  *punch_tcp_transport_dial_finish (PunchTcpTransport *self,
                                                     GAsyncResult      *result,
                                                     GError           **error);

G_END_DECLS
