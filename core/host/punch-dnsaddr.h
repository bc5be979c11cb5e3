/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-multiaddr.h"

G_BEGIN_DECLS

/* Bounds on what a DNS zone can make us do. */
#define PUNCH_DNSADDR_MAX_DEPTH   4
#define PUNCH_DNSADDR_MAX_RESULTS 32

/**
 * punch_dnsaddr_resolve_async:
 * @resolver: (nullable): the resolver to use; the default one when NULL
 * @addr: a multiaddr starting with /dnsaddr/<host>
 *
 * Resolves /dnsaddr through TXT records "dnsaddr=<multiaddr>" at
 * _dnsaddr.<host>, recursively (at most %PUNCH_DNSADDR_MAX_DEPTH levels and
 * %PUNCH_DNSADDR_MAX_RESULTS addresses). When @addr ends in /p2p/<id>, only
 * records for that peer are kept.
 */
void       punch_dnsaddr_resolve_async  (GResolver          *resolver,
                                         PunchMultiaddr     *addr,
                                         GCancellable       *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer            user_data);
/* (element-type PunchMultiaddr) (transfer full) */
GPtrArray *punch_dnsaddr_resolve_finish (GAsyncResult *result,
                                         GError      **error);

G_END_DECLS
