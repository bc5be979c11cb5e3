/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "punch-connection-private.h"
#include "punch-host.h"
#include "punch-upgrader.h"

G_BEGIN_DECLS

/**
 * punch_host_adopt_connection:
 * @upgrade: an upgraded connection (e.g. over a relayed stream); the host
 *   takes its own references
 * @local_addr: (nullable): our side's address
 * @remote_addr: (nullable): the remote's address (a /p2p-circuit address for
 *   a relayed connection)
 * @relayed: whether it runs over a relay
 * @limit: (nullable): what the relay allows, when it limits the connection
 *   (see punch_connection_set_relay_limit())
 * @relayed_stream: (nullable): the relayed stream the connection runs over,
 *   with @limit
 *
 * Makes an upgrade a connection of the host: it joins the connection list,
 * the peer store learns the peer and "connection-opened" is emitted (with
 * the limit already set).
 *
 * Returns: (transfer none): the connection, alive while it is in the list
 */
PunchConnection *punch_host_adopt_connection (PunchHost             *self,
                                              PunchUpgrade          *upgrade,
                                              PunchMultiaddr        *local_addr,
                                              PunchMultiaddr        *remote_addr,
                                              PunchDirection         direction,
                                              gboolean               relayed,
                                              const PunchRelayLimit *limit,
                                              GIOStream             *relayed_stream);

/* During a hole punch: an inbound TCP connection from @remote
 * ("/ip4|ip6/<addr>/tcp/<port>") is upgraded as the client when @initiator
 * (else as the server) and must authenticate as @peer_id. Returns an ID for
 * punch_host_unexpect_inbound(). */
guint            punch_host_expect_inbound   (PunchHost      *self,
                                              PunchMultiaddr *remote,
                                              PunchPeerId    *peer_id,
                                              gboolean        initiator);
void             punch_host_unexpect_inbound (PunchHost      *self,
                                              guint           id);

/**
 * PunchHostCircuitDialFunc:
 *
 * Dials a /p2p-circuit address for the host (the relay client does). The
 * result is finished with the matching #PunchHostCircuitFinishFunc.
 */
typedef void (*PunchHostCircuitDialFunc) (gpointer            dialer,
                                          PunchMultiaddr     *addr,
                                          GCancellable       *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer            user_data);
typedef PunchConnection *(*PunchHostCircuitFinishFunc) (gpointer       dialer,
                                                        GAsyncResult  *result,
                                                        GError       **error);

/* Lets punch_host_dial_async() reach /p2p-circuit addresses through
 * @dialer (not referenced: unset it before it goes away). NULL unsets. */
void punch_host_set_circuit_dialer (PunchHost                 *self,
                                    gpointer                   dialer,
                                    PunchHostCircuitDialFunc   dial,
                                    PunchHostCircuitFinishFunc finish);

G_END_DECLS
