/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-forward-service.h"

G_BEGIN_DECLS

#define PUNCH_FORWARD_CATALOG_PROTOCOL "/punchline/forward/catalog/1.0.0"

/* Wire limits (docs/forward-protocol.md, "Catalogue"). */
#define PUNCH_FORWARD_CATALOG_MAX_NAMES   48
#define PUNCH_FORWARD_CATALOG_MAX_MESSAGE 4096

/* The catalogue body (without its varint length prefix): version byte 1,
 * then per name one length byte and the name. At most
 * PUNCH_FORWARD_CATALOG_MAX_NAMES names are encoded (the first ones);
 * invalid names are skipped. */
GBytes *punch_forward_catalog_encode (const char * const *names);
/* Every name valid, no duplicates, at most MAX_NAMES; else
 * PUNCH_ERROR_MALFORMED saying what is wrong. (transfer full) */
GStrv   punch_forward_catalog_parse  (const guint8 *data,
                                      gsize         len,
                                      GError      **error);

#define PUNCH_TYPE_FORWARD_CATALOG (punch_forward_catalog_get_type ())
G_DECLARE_FINAL_TYPE (PunchForwardCatalog, punch_forward_catalog, PUNCH, FORWARD_CATALOG, GObject)

/**
 * PunchForwardCatalog:
 *
 * Answers /punchline/forward/catalog/1.0.0 for a #PunchForwardService: a
 * peer that asks learns the names of the services it is allowed to use,
 * never others (an unknown peer gets an empty list). Runs on relay-limited
 * connections too: the answer is a few bytes.
 */
PunchForwardCatalog *punch_forward_catalog_new (PunchForwardService *service);
/* Serves the catalogue of @service for as long as @service lives. */
void                 punch_forward_catalog_serve (PunchForwardService *service);

/**
 * punch_forward_catalog_fetch_async:
 * @host: our host
 * @peer_id: a peer we have a connection to
 * @cancellable: (nullable): a #GCancellable
 *
 * Asks @peer_id which of its services we may use. Fails with
 * G_IO_ERROR_NOT_CONNECTED without a connection, G_IO_ERROR_TIMED_OUT after
 * 10 s, PUNCH_ERROR_NEGOTIATION_FAILED when the peer does not speak the
 * protocol, PUNCH_ERROR_MALFORMED or PUNCH_ERROR_TOO_LARGE on a bad answer.
 */
void  punch_forward_catalog_fetch_async  (PunchHost          *host,
                                          PunchPeerId        *peer_id,
                                          GCancellable       *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer            user_data);
/* The names, sorted as the peer sent them. (transfer full) */
GStrv punch_forward_catalog_fetch_finish (PunchHost    *host,
                                          GAsyncResult *result,
                                          GError      **error);

G_END_DECLS
