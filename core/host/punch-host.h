/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-connection.h"
#include "punch-peer-store.h"
#include "punch-private-key.h"

G_BEGIN_DECLS

#define PUNCH_AGENT_VERSION "punchline/" PUNCH_VERSION
#define PUNCH_PROTOCOL_VERSION "ipfs/0.1.0"

#define PUNCH_TYPE_HOST (punch_host_get_type ())
G_DECLARE_FINAL_TYPE (PunchHost, punch_host, PUNCH, HOST, GObject)

/**
 * PunchStreamHandler:
 * @host: the host
 * @connection: the connection the stream arrived on
 * @stream: (transfer none): the negotiated stream; take a reference to keep it
 * @protocol: the negotiated protocol ID
 *
 * Called for every inbound stream whose protocol was negotiated to a
 * registered handler. The handler owns the stream's life from here.
 */
typedef void (*PunchStreamHandler) (PunchHost       *host,
                                    PunchConnection *connection,
                                    GIOStream       *stream,
                                    const char      *protocol,
                                    gpointer         user_data);

/**
 * PunchHost:
 *
 * The libp2p host: listens and dials over TCP, upgrades every connection
 * (multistream → Noise → Yamux), keeps the connections (a #GListModel of
 * #PunchConnection via punch_host_get_connections()) and a peer store, and
 * dispatches inbound streams to registered protocol handlers.
 *
 * Properties: "private-key", "peer-id", "agent-version".
 * Signals:
 * - "connection-opened" (PunchConnection *)
 * - "connection-closed" (PunchConnection *, GError *error)
 * - "listen-addrs-changed"
 * - "dial-failed" (PunchMultiaddr *addr, GError *error)
 */
PunchHost        *punch_host_new (PunchPrivateKey *key);
PunchPeerId      *punch_host_get_peer_id (PunchHost *self);
PunchPrivateKey  *punch_host_get_private_key (PunchHost *self);
PunchPeerStore   *punch_host_get_peer_store (PunchHost *self);
/* (element-type PunchConnection) */
GListModel       *punch_host_get_connections (PunchHost *self);
const char       *punch_host_get_agent_version (PunchHost *self);
void              punch_host_set_agent_version (PunchHost *self, const char *agent);
/* Security protocols ("/noise", "/tls/1.0.0") in the order dials offer
 * them; inbound connections accept any of them. Default: Noise, then TLS.
 * Unknown names or an empty list fail with PUNCH_ERROR_UNSUPPORTED. */
gboolean            punch_host_set_security_protocols (PunchHost          *self,
                                                       const char * const *protocols,
                                                       GError            **error);
const char * const *punch_host_get_security_protocols (PunchHost *self);

/* Listens on "/ip4|ip6/<addr>/tcp/<port>". */
gboolean          punch_host_listen (PunchHost *self, PunchMultiaddr *addr, GError **error);
/* The bound listen addresses (no /p2p suffix); 0.0.0.0 / :: expanded to
 * the interfaces' addresses. (element-type PunchMultiaddr) (transfer container) */
GPtrArray        *punch_host_get_listen_addrs (PunchHost *self);

/* Dials "/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>[/p2p/<id>]". With a /p2p
 * suffix the remote must authenticate as that peer. */
void              punch_host_dial_async  (PunchHost          *self,
                                          PunchMultiaddr     *addr,
                                          GCancellable       *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer            user_data);
PunchConnection  *punch_host_dial_finish (PunchHost    *self,
                                          GAsyncResult *result,
                                          GError      **error);

/**
 * PunchDialFlags:
 * @PUNCH_DIAL_FLAGS_NONE: an ordinary dial: we are the client of every layer
 * @PUNCH_DIAL_FLAGS_AS_SERVER: we connect, but upgrade as the server
 *   (multistream listener, Noise responder, Yamux server), as DCUtR's role B
 *   does in a TCP simultaneous open
 */
typedef enum
{
  PUNCH_DIAL_FLAGS_NONE = 0,
  PUNCH_DIAL_FLAGS_AS_SERVER = 1 << 0,
} PunchDialFlags;

/* punch_host_dial_async() with flags and a deadline for the whole dial
 * (resolution, TCP and upgrade; 0 = the defaults: 10 s for TCP, 15 s for
 * the upgrade). Finish with punch_host_dial_finish(). */
void              punch_host_dial_full_async (PunchHost          *self,
                                              PunchMultiaddr     *addr,
                                              PunchDialFlags      flags,
                                              guint               timeout_ms,
                                              GCancellable       *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer            user_data);

/* An open connection to @peer_id (preferring direct over relayed), or NULL. */
PunchConnection  *punch_host_get_connection (PunchHost *self, PunchPeerId *peer_id);

void              punch_host_set_stream_handler (PunchHost         *self,
                                                 const char        *protocol,
                                                 PunchStreamHandler handler,
                                                 gpointer           user_data,
                                                 GDestroyNotify     destroy);
void              punch_host_remove_stream_handler (PunchHost *self, const char *protocol);
/* Lets @protocol run on relay-limited connections (identify, ping and DCUtR
 * always may). */
void              punch_host_allow_on_limited (PunchHost *self, const char *protocol);
/* The protocols we accept inbound, sorted. (transfer full) */
GStrv             punch_host_get_protocols (PunchHost *self);

/* Closes all connections and listeners. */
void              punch_host_close (PunchHost *self);

G_END_DECLS
