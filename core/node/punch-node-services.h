/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-forward-catalog.h"
#include "punch-forward-listener.h"
#include "punch-forward-service.h"
#include "punch-node.h"

G_BEGIN_DECLS

/**
 * PunchServiceStats:
 * @active: forwarded connections open now
 * @total: forwarded connections so far, open ones included
 * @bytes_out: bytes sent to the peer so far, open connections included
 * @bytes_in: bytes received from the peer so far
 * @refused: attempts refused (not allowed, unknown service, too many
 *   streams): by us for an inbound one, by the peer for ours
 */
typedef struct
{
  guint   active;
  guint   total;
  guint64 bytes_out;
  guint64 bytes_in;
  guint   refused;
} PunchServiceStats;

#define PUNCH_TYPE_NODE_SERVICES (punch_node_services_get_type ())
G_DECLARE_FINAL_TYPE (PunchNodeServices, punch_node_services, PUNCH, NODE_SERVICES, GObject)

/**
 * PunchNodeServices:
 *
 * Port forwarding as the dashboard shows it, for one #PunchNode: the
 * node's #PunchForwardService (with its catalogue served), the services we
 * expose with their allow lists (deny by default), what each friend exposes
 * to us (its catalogue, asked for whenever a connection to it opens), the
 * local ports we opened to friends' services, and counts of forwarded
 * connections and bytes per peer, service and direction.
 *
 * Signals:
 * - "changed": our exposed services or the local ports changed
 * - "catalog-changed" (const char *peer_id): a friend's catalogue arrived
 *   or could not be had
 * - "stream-finished" (const char *peer_id, const char *service,
 *   gboolean inbound): a forwarded connection ended (counts changed)
 */
PunchNodeServices   *punch_node_services_new (PunchNode *node);
PunchForwardService *punch_node_services_get_forward (PunchNodeServices *self);

/* Exposes @name as "HOST:PORT" to exactly the peer IDs of @allowed
 * (replacing target and allow list when it exists). */
gboolean    punch_node_services_set_exposed    (PunchNodeServices  *self,
                                                const char         *name,
                                                const char         *target,
                                                const char * const *allowed,
                                                GError            **error);
void        punch_node_services_remove_exposed (PunchNodeServices  *self,
                                                const char         *name);
/* Our exposed names, sorted. (transfer full) */
GStrv       punch_node_services_list_exposed   (PunchNodeServices  *self);
/* (nullable) */
const char *punch_node_services_get_target     (PunchNodeServices  *self,
                                                const char         *name);
gboolean    punch_node_services_is_allowed     (PunchNodeServices  *self,
                                                const char         *name,
                                                const char         *peer_id);

/* Asks @peer_id again for its catalogue ("catalog-changed" follows). */
void                punch_node_services_refresh_catalog (PunchNodeServices *self,
                                                         const char        *peer_id);
/* What @peer_id lets us use, sorted; NULL while never received. @error_message
 * (optional) is why the last ask failed, or NULL. (transfer none) */
const char * const *punch_node_services_get_catalog     (PunchNodeServices *self,
                                                         const char        *peer_id,
                                                         const char       **error_message);

/* Listens on 127.0.0.1 (a free port) and forwards every connection to
 * @peer_id's @name; returns the address to give to a client, "127.0.0.1:PORT".
 * Opening an open one returns its address. (transfer none) */
const char *punch_node_services_open_local  (PunchNodeServices *self,
                                             const char        *peer_id,
                                             const char        *name,
                                             GError           **error);
/* (nullable) (transfer none) */
const char *punch_node_services_get_local   (PunchNodeServices *self,
                                             const char        *peer_id,
                                             const char        *name);
/* The services of @peer_id we have a local port open to, sorted (a
 * friend may stop sharing one while its port is open). (transfer full) */
GStrv       punch_node_services_list_local  (PunchNodeServices *self,
                                             const char        *peer_id);
/* Stops listening and resets what it still forwards. */
void        punch_node_services_close_local (PunchNodeServices *self,
                                             const char        *peer_id,
                                             const char        *name);

/* Forwarded connections with @peer_id for @name: @inbound to our service,
 * else to the friend's. Live: open connections count as far as they went. */
void        punch_node_services_get_stats   (PunchNodeServices *self,
                                             const char        *peer_id,
                                             const char        *name,
                                             gboolean           inbound,
                                             PunchServiceStats *stats);

/* Stops every local port. */
void        punch_node_services_close       (PunchNodeServices *self);

G_END_DECLS
