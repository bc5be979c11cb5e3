/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-node-services.h"

#include <string.h>

#include "punch-error.h"

typedef struct
{
  char  *target;
  GStrv  allowed;  /* peer ID strings, sorted */
} Exposed;

typedef struct
{
  GStrv         names;     /* NULL until received */
  char         *error;
  GCancellable *pending;   /* an ask under way */
} Catalog;

typedef struct
{
  PunchForwardListener *listener;
  char                 *address;
} Local;

typedef struct
{
  guint   total;
  guint   refused;
  guint64 bytes_out;
  guint64 bytes_in;
} Finished;

struct _PunchNodeServices
{
  GObject              parent_instance;

  PunchNode           *node;
  PunchHost           *host;
  PunchForwardService *forward;
  GHashTable          *exposed;    /* name → Exposed */
  GHashTable          *catalogs;   /* peer ID → Catalog */
  GHashTable          *locals;     /* "peer\nname" → Local */
  GHashTable          *finished;   /* "peer\nname\ni|o" → Finished */
  gulong               opened_id;
};

G_DEFINE_FINAL_TYPE (PunchNodeServices, punch_node_services, G_TYPE_OBJECT)

enum
{
  SIGNAL_CHANGED,
  SIGNAL_CATALOG_CHANGED,
  SIGNAL_STREAM_FINISHED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
exposed_free (gpointer data)
{
  Exposed *e = data;

  g_free (e->target);
  g_strfreev (e->allowed);
  g_free (e);
}

static void
catalog_free (gpointer data)
{
  Catalog *c = data;

  if (c->pending != NULL)
    g_cancellable_cancel (c->pending);
  g_clear_object (&c->pending);
  g_strfreev (c->names);
  g_free (c->error);
  g_free (c);
}

static void
local_free (gpointer data)
{
  Local *l = data;

  punch_forward_listener_close (l->listener);
  g_object_unref (l->listener);
  g_free (l->address);
  g_free (l);
}

static char *
local_key (const char *peer_id,
           const char *name)
{
  return g_strdup_printf ("%s\n%s", peer_id, name);
}

static char *
stats_key (const char *peer_id,
           const char *name,
           gboolean    inbound)
{
  return g_strdup_printf ("%s\n%s\n%c", peer_id, name, inbound ? 'i' : 'o');
}

/* --- counts ----------------------------------------------------------------- */

static void
on_stream_finished (PunchForwardService *forward,
                    const char          *peer,
                    const char          *name,
                    gboolean             inbound,
                    guint64              bytes_out,
                    guint64              bytes_in,
                    gdouble              seconds,
                    const char          *outcome,
                    const GError        *error,
                    gpointer             user_data)
{
  PunchNodeServices *self = user_data;
  g_autofree char *key = NULL;
  Finished *f;

  /* A stream that never said which service it wanted is nobody's. */
  if (peer == NULL || name == NULL)
    return;
  key = stats_key (peer, name, inbound);
  f = g_hash_table_lookup (self->finished, key);
  if (f == NULL)
    {
      f = g_new0 (Finished, 1);
      g_hash_table_insert (self->finished, g_steal_pointer (&key), f);
    }
  /* A refused attempt moved no bytes: it is no connection, but the user
   * wants to know of it (a friend trying a service not shared with it). */
  if (g_strcmp0 (outcome, "not-allowed") == 0 || g_strcmp0 (outcome, "unknown-service") == 0
      || g_strcmp0 (outcome, "limit") == 0)
    f->refused++;
  else
    f->total++;
  f->bytes_out += bytes_out;
  f->bytes_in += bytes_in;
  g_signal_emit (self, signals[SIGNAL_STREAM_FINISHED], 0, peer, name, inbound);
}

void
punch_node_services_get_stats (PunchNodeServices *self,
                               const char        *peer_id,
                               const char        *name,
                               gboolean           inbound,
                               PunchServiceStats *stats)
{
  g_autofree char *key = NULL;
  Finished *f;
  guint64 live_out = 0, live_in = 0;

  g_return_if_fail (PUNCH_IS_NODE_SERVICES (self));
  g_return_if_fail (peer_id != NULL && name != NULL && stats != NULL);
  key = stats_key (peer_id, name, inbound);
  f = g_hash_table_lookup (self->finished, key);
  stats->active = punch_forward_service_get_live (self->forward, peer_id, name, inbound, &live_out, &live_in);
  stats->total = stats->active + (f != NULL ? f->total : 0);
  stats->bytes_out = live_out + (f != NULL ? f->bytes_out : 0);
  stats->bytes_in = live_in + (f != NULL ? f->bytes_in : 0);
  stats->refused = f != NULL ? f->refused : 0;
}

/* --- what we expose ------------------------------------------------------------ */

static gint
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

/**
 * punch_node_services_set_exposed:
 * @self: the services
 * @name: a service name
 * @target: "HOST:PORT"
 * @allowed: (nullable): the peer IDs that may use it; invalid ones fail
 * @error: return location for a #GError
 *
 * Returns: TRUE when exposed with exactly that allow list
 */
gboolean
punch_node_services_set_exposed (PunchNodeServices  *self,
                                 const char         *name,
                                 const char         *target,
                                 const char * const *allowed,
                                 GError            **error)
{
  g_autoptr (GPtrArray) peers = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_peer_id_unref);
  g_autoptr (GPtrArray) ids = g_ptr_array_new ();
  Exposed *e;

  g_return_val_if_fail (PUNCH_IS_NODE_SERVICES (self), FALSE);
  /* Every ID is checked before anything changes. */
  for (guint i = 0; allowed != NULL && allowed[i] != NULL; i++)
    {
      PunchPeerId *peer = punch_peer_id_parse (allowed[i], error);

      if (peer == NULL)
        {
          g_prefix_error (error, "Service “%s”: ", name);
          return FALSE;
        }
      g_ptr_array_add (peers, peer);
    }
  if (!punch_forward_service_expose (self->forward, name, target, error))
    return FALSE;
  e = g_hash_table_lookup (self->exposed, name);
  if (e != NULL)
    for (guint i = 0; e->allowed[i] != NULL; i++)
      {
        g_autoptr (PunchPeerId) old = punch_peer_id_parse (e->allowed[i], NULL);

        punch_forward_service_disallow (self->forward, name, old);
      }
  for (guint i = 0; i < peers->len; i++)
    {
      PunchPeerId *peer = g_ptr_array_index (peers, i);

      /* Exposed just above: allowing cannot fail. */
      punch_forward_service_allow (self->forward, name, peer, NULL);
      if (!g_ptr_array_find_with_equal_func (ids, punch_peer_id_to_string (peer), g_str_equal, NULL))
        g_ptr_array_add (ids, (gpointer) punch_peer_id_to_string (peer));
    }
  g_ptr_array_sort (ids, compare_strings);
  g_ptr_array_add (ids, NULL);
  e = g_new0 (Exposed, 1);
  e->target = g_strdup (target);
  e->allowed = g_strdupv ((char **) ids->pdata);
  g_hash_table_insert (self->exposed, g_strdup (name), e);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  return TRUE;
}

void
punch_node_services_remove_exposed (PunchNodeServices *self,
                                    const char        *name)
{
  g_return_if_fail (PUNCH_IS_NODE_SERVICES (self));
  if (!g_hash_table_remove (self->exposed, name))
    return;
  punch_forward_service_unexpose (self->forward, name);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

GStrv
punch_node_services_list_exposed (PunchNodeServices *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_SERVICES (self), NULL);
  return punch_forward_service_list_exposed (self->forward);
}

const char *
punch_node_services_get_target (PunchNodeServices *self,
                                const char        *name)
{
  Exposed *e;

  g_return_val_if_fail (PUNCH_IS_NODE_SERVICES (self), NULL);
  e = g_hash_table_lookup (self->exposed, name);
  return e != NULL ? e->target : NULL;
}

gboolean
punch_node_services_is_allowed (PunchNodeServices *self,
                                const char        *name,
                                const char        *peer_id)
{
  Exposed *e;

  g_return_val_if_fail (PUNCH_IS_NODE_SERVICES (self), FALSE);
  e = g_hash_table_lookup (self->exposed, name);
  return e != NULL && g_strv_contains ((const char * const *) e->allowed, peer_id);
}

/* --- what friends expose to us ------------------------------------------------ */

typedef struct
{
  PunchNodeServices *self;
  char              *peer_id;
  GCancellable      *cancellable;
} Ask;

static void
on_catalog_fetched (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Ask *ask = user_data;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = punch_forward_catalog_fetch_finish (PUNCH_HOST (source), result, &error);
  Catalog *c = g_hash_table_lookup (ask->self->catalogs, ask->peer_id);

  /* A newer ask (or closing) took over: this answer is stale. */
  if (c == NULL || c->pending != ask->cancellable)
    goto out;
  g_clear_object (&c->pending);
  g_clear_pointer (&c->error, g_free);
  if (names != NULL)
    {
      g_strfreev (c->names);
      c->names = g_steal_pointer (&names);
    }
  else if (g_error_matches (error, PUNCH_ERROR, PUNCH_ERROR_NEGOTIATION_FAILED))
    {
      /* A peer without the protocol (another libp2p app) exposes nothing. */
      g_strfreev (c->names);
      c->names = g_new0 (char *, 1);
    }
  else
    c->error = g_strdup (error->message);
  g_debug ("catalogue of %s: %s", ask->peer_id, c->error != NULL ? c->error : "received");
  g_signal_emit (ask->self, signals[SIGNAL_CATALOG_CHANGED], 0, ask->peer_id);

out:
  g_object_unref (ask->self);
  g_free (ask->peer_id);
  g_object_unref (ask->cancellable);
  g_free (ask);
}

void
punch_node_services_refresh_catalog (PunchNodeServices *self,
                                     const char        *peer_id)
{
  g_autoptr (PunchPeerId) peer = NULL;
  Catalog *c;
  Ask *ask;

  g_return_if_fail (PUNCH_IS_NODE_SERVICES (self));
  peer = punch_peer_id_parse (peer_id, NULL);
  if (peer == NULL || self->host == NULL)
    return;
  c = g_hash_table_lookup (self->catalogs, peer_id);
  if (c == NULL)
    {
      c = g_new0 (Catalog, 1);
      g_hash_table_insert (self->catalogs, g_strdup (peer_id), c);
    }
  if (c->pending != NULL)
    g_cancellable_cancel (c->pending);
  g_clear_object (&c->pending);
  c->pending = g_cancellable_new ();
  ask = g_new0 (Ask, 1);
  ask->self = g_object_ref (self);
  ask->peer_id = g_strdup (peer_id);
  ask->cancellable = g_object_ref (c->pending);
  punch_forward_catalog_fetch_async (self->host, peer, c->pending, on_catalog_fetched, ask);
}

const char * const *
punch_node_services_get_catalog (PunchNodeServices *self,
                                 const char        *peer_id,
                                 const char       **error_message)
{
  Catalog *c;

  g_return_val_if_fail (PUNCH_IS_NODE_SERVICES (self), NULL);
  c = g_hash_table_lookup (self->catalogs, peer_id);
  if (error_message != NULL)
    *error_message = c != NULL ? c->error : NULL;
  return c != NULL ? (const char * const *) c->names : NULL;
}

static void
on_connection_opened (PunchHost       *host,
                      PunchConnection *connection,
                      gpointer         user_data)
{
  PunchNodeServices *self = user_data;
  const char *peer_id = punch_peer_id_to_string (punch_connection_get_peer_id (connection));

  /* Relays are infrastructure, not friends with services. */
  if (punch_node_is_relay (self->node, peer_id))
    return;
  punch_node_services_refresh_catalog (self, peer_id);
}

/* --- local ports ------------------------------------------------------------------ */

const char *
punch_node_services_open_local (PunchNodeServices *self,
                                const char        *peer_id,
                                const char        *name,
                                GError           **error)
{
  g_autofree char *key = NULL;
  g_autoptr (PunchPeerId) peer = NULL;
  g_autoptr (PunchForwardListener) listener = NULL;
  Local *l;
  char *address;

  g_return_val_if_fail (PUNCH_IS_NODE_SERVICES (self), NULL);
  key = local_key (peer_id, name);
  l = g_hash_table_lookup (self->locals, key);
  if (l != NULL)
    return l->address;
  if (!punch_forward_name_is_valid (name, name != NULL ? strlen (name) : 0))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "“%s” is not a valid service name",
                   name != NULL ? name : "");
      return NULL;
    }
  peer = punch_peer_id_parse (peer_id, error);
  if (peer == NULL)
    return NULL;
  listener = punch_forward_listener_new (self->forward, peer, name);
  /* Loopback only: the port is for programs on this computer. */
  address = punch_forward_listener_listen (listener, "127.0.0.1:0", error);
  if (address == NULL)
    return NULL;
  l = g_new0 (Local, 1);
  l->listener = g_steal_pointer (&listener);
  l->address = address;
  g_hash_table_insert (self->locals, g_steal_pointer (&key), l);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  return l->address;
}

const char *
punch_node_services_get_local (PunchNodeServices *self,
                               const char        *peer_id,
                               const char        *name)
{
  g_autofree char *key = NULL;
  Local *l;

  g_return_val_if_fail (PUNCH_IS_NODE_SERVICES (self), NULL);
  key = local_key (peer_id, name);
  l = g_hash_table_lookup (self->locals, key);
  return l != NULL ? l->address : NULL;
}

GStrv
punch_node_services_list_local (PunchNodeServices *self,
                                const char        *peer_id)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  g_autofree char *prefix = NULL;
  GHashTableIter iter;
  gpointer key;

  g_return_val_if_fail (PUNCH_IS_NODE_SERVICES (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);
  prefix = g_strdup_printf ("%s\n", peer_id);
  g_hash_table_iter_init (&iter, self->locals);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (g_str_has_prefix (key, prefix))
      g_ptr_array_add (names, g_strdup ((const char *) key + strlen (prefix)));
  g_ptr_array_sort (names, compare_strings);
  g_ptr_array_add (names, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

void
punch_node_services_close_local (PunchNodeServices *self,
                                 const char        *peer_id,
                                 const char        *name)
{
  g_autofree char *key = NULL;

  g_return_if_fail (PUNCH_IS_NODE_SERVICES (self));
  key = local_key (peer_id, name);
  if (g_hash_table_remove (self->locals, key))
    g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

void
punch_node_services_close (PunchNodeServices *self)
{
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (PUNCH_IS_NODE_SERVICES (self));
  g_hash_table_remove_all (self->locals);
  g_hash_table_iter_init (&iter, self->catalogs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Catalog *c = value;

      if (c->pending != NULL)
        g_cancellable_cancel (c->pending);
      g_clear_object (&c->pending);
    }
}

/* --- the object ----------------------------------------------------------------------- */

PunchForwardService *
punch_node_services_get_forward (PunchNodeServices *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_SERVICES (self), NULL);
  return self->forward;
}

/**
 * punch_node_services_new:
 * @node: the node whose host serves and forwards
 *
 * Returns: (transfer full): the services of @node
 */
PunchNodeServices *
punch_node_services_new (PunchNode *node)
{
  PunchNodeServices *self;

  g_return_val_if_fail (PUNCH_IS_NODE (node), NULL);
  self = g_object_new (PUNCH_TYPE_NODE_SERVICES, NULL);
  self->node = g_object_ref (node);
  self->host = g_object_ref (punch_node_get_host (node));
  self->forward = punch_forward_service_new (self->host);
  punch_forward_catalog_serve (self->forward);
  g_signal_connect (self->forward, "stream-finished", G_CALLBACK (on_stream_finished), self);
  self->opened_id = g_signal_connect (self->host, "connection-opened", G_CALLBACK (on_connection_opened), self);
  return self;
}

static void
punch_node_services_dispose (GObject *object)
{
  PunchNodeServices *self = PUNCH_NODE_SERVICES (object);

  if (self->host != NULL)
    g_clear_signal_handler (&self->opened_id, self->host);
  if (self->locals != NULL)
    punch_node_services_close (self);
  if (self->forward != NULL)
    g_signal_handlers_disconnect_by_data (self->forward, self);
  g_clear_object (&self->forward);
  g_clear_object (&self->host);
  g_clear_object (&self->node);
  G_OBJECT_CLASS (punch_node_services_parent_class)->dispose (object);
}

static void
punch_node_services_finalize (GObject *object)
{
  PunchNodeServices *self = PUNCH_NODE_SERVICES (object);

  g_hash_table_unref (self->exposed);
  g_hash_table_unref (self->catalogs);
  g_hash_table_unref (self->locals);
  g_hash_table_unref (self->finished);
  G_OBJECT_CLASS (punch_node_services_parent_class)->finalize (object);
}

static void
punch_node_services_class_init (PunchNodeServicesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = punch_node_services_dispose;
  object_class->finalize = punch_node_services_finalize;

  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
  signals[SIGNAL_CATALOG_CHANGED] =
    g_signal_new ("catalog-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_STREAM_FINISHED] =
    g_signal_new ("stream-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_BOOLEAN);
}

static void
punch_node_services_init (PunchNodeServices *self)
{
  self->exposed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, exposed_free);
  self->catalogs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, catalog_free);
  self->locals = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, local_free);
  self->finished = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}
