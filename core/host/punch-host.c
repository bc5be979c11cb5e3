/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-host.h"
#include "punch-host-private.h"
#include "punch-dnsaddr.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "punch-connection-private.h"
#include "punch-error.h"
#include "punch-multistream.h"
#include "punch-tcp-transport.h"
#include "punch-upgrader.h"
#include "punch-yamux-stream.h"

/* go-libp2p's default for negotiating the protocol of an inbound stream. */
#define INBOUND_NEGOTIATION_TIMEOUT_SECONDS 10
/* Inbound connections still in their (at most 15 s) upgrade; more are
 * refused, so that a flood of idle sockets cannot pile up. */
#define MAX_PENDING_INBOUND_UPGRADES 64

typedef struct
{
  PunchStreamHandler handler;
  gpointer           user_data;
  GDestroyNotify     destroy;
} HandlerEntry;

struct _PunchHost
{
  GObject            parent_instance;

  PunchPrivateKey   *key;
  PunchPeerId       *peer_id;
  char              *agent_version;
  GStrv              security;

  PunchTcpTransport *transport;
  PunchPeerStore    *peer_store;
  GListStore        *connections;
  /* protocol ID → HandlerEntry */
  GHashTable        *handlers;
  GHashTable        *limited_allowlist;
  gpointer                   circuit_dialer;
  PunchHostCircuitDialFunc   circuit_dial;
  PunchHostCircuitFinishFunc circuit_finish;
  guint              next_connection_id;
  guint              n_pending_inbound;
  /* ExpectedInbound, for hole punches */
  GPtrArray         *expected_inbound;
  guint              next_expectation_id;

  /* Cancels pending upgrades, dials and negotiations on close; replaced by a
   * fresh one afterwards so that the host stays usable. */
  GCancellable      *cancellable;
};

G_DEFINE_FINAL_TYPE (PunchHost, punch_host, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_PRIVATE_KEY,
  PROP_PEER_ID,
  PROP_AGENT_VERSION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_CONNECTION_OPENED,
  SIGNAL_CONNECTION_CLOSED,
  SIGNAL_LISTEN_ADDRS_CHANGED,
  SIGNAL_DIAL_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
forward_cancel (GCancellable *from,
                GCancellable *to)
{
  g_cancellable_cancel (to);
}

/* Cancels @to when @from is cancelled (at once if it is already). A plain
 * signal handler rather than g_cancellable_connect(): its disconnect may run
 * from inside the "cancelled" emission, where g_cancellable_disconnect()
 * would wait for itself forever. */
static gulong
chain_cancellable (GCancellable *from,
                   GCancellable *to)
{
  if (g_cancellable_is_cancelled (from))
    {
      g_cancellable_cancel (to);
      return 0;
    }
  return g_signal_connect (from, "cancelled", G_CALLBACK (forward_cancel), to);
}

static void
unchain_cancellable (GCancellable *from,
                     gulong       *handler)
{
  if (*handler != 0)
    g_signal_handler_disconnect (from, *handler);
  *handler = 0;
}

/* Timers live on the thread-default context, like the rest of our I/O.
 * @name: a string literal (not copied). */
static GSource *
timeout_source_attach (guint        ms,
                       GSourceFunc  func,
                       gpointer     data,
                       const char  *name)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, data, NULL);
  g_source_set_static_name (source, name);
  g_source_attach (source, g_main_context_get_thread_default ());
  return source;
}

static void
timeout_source_clear (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static void on_incoming (PunchTcpTransport *transport,
                         GSocketConnection *connection,
                         PunchHost         *self);

typedef struct
{
  guint           id;
  PunchMultiaddr *remote;
  PunchPeerId    *peer_id;
  gboolean        initiator;
} ExpectedInbound;

static void
expected_inbound_free (ExpectedInbound *expected)
{
  g_clear_pointer (&expected->remote, punch_multiaddr_unref);
  g_clear_pointer (&expected->peer_id, punch_peer_id_unref);
  g_free (expected);
}

static void
handler_entry_free (HandlerEntry *entry)
{
  if (entry->destroy != NULL)
    entry->destroy (entry->user_data);
  g_free (entry);
}

static void
release_connection (PunchHost       *self,
                    PunchConnection *connection)
{
  g_signal_handlers_disconnect_by_data (connection, self);
  punch_connection_set_stream_func (connection, NULL, NULL);
}

static void
punch_host_dispose (GObject *object)
{
  PunchHost *self = PUNCH_HOST (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);

  if (self->transport != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->transport, self);
      punch_tcp_transport_close (self->transport);
    }

  /* Nobody can use the connections any more: end them, quietly. */
  if (self->connections != NULL)
    {
      guint n = g_list_model_get_n_items (G_LIST_MODEL (self->connections));

      for (guint i = 0; i < n; i++)
        {
          g_autoptr(PunchConnection) connection = g_list_model_get_item (G_LIST_MODEL (self->connections), i);

          release_connection (self, connection);
          punch_connection_close (connection);
        }
      g_list_store_remove_all (self->connections);
    }

  g_clear_object (&self->transport);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->handlers, g_hash_table_unref);
  g_clear_pointer (&self->limited_allowlist, g_hash_table_unref);
  g_clear_pointer (&self->expected_inbound, g_ptr_array_unref);

  G_OBJECT_CLASS (punch_host_parent_class)->dispose (object);
}

static void
punch_host_finalize (GObject *object)
{
  PunchHost *self = PUNCH_HOST (object);

  g_clear_object (&self->connections);
  g_clear_object (&self->peer_store);
  g_clear_object (&self->key);
  g_clear_pointer (&self->peer_id, punch_peer_id_unref);
  g_clear_pointer (&self->agent_version, g_free);
  g_clear_pointer (&self->security, g_strfreev);

  G_OBJECT_CLASS (punch_host_parent_class)->finalize (object);
}

static void
punch_host_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  PunchHost *self = PUNCH_HOST (object);

  switch (prop_id)
    {
    case PROP_PRIVATE_KEY:
      g_value_set_object (value, self->key);
      break;
    case PROP_PEER_ID:
      g_value_set_boxed (value, self->peer_id);
      break;
    case PROP_AGENT_VERSION:
      g_value_set_string (value, self->agent_version);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_host_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  PunchHost *self = PUNCH_HOST (object);

  switch (prop_id)
    {
    case PROP_PRIVATE_KEY:
      self->key = g_value_dup_object (value);
      break;
    case PROP_AGENT_VERSION:
      punch_host_set_agent_version (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_host_constructed (GObject *object)
{
  PunchHost *self = PUNCH_HOST (object);

  G_OBJECT_CLASS (punch_host_parent_class)->constructed (object);

  g_assert (self->key != NULL);
  self->peer_id = punch_peer_id_ref (punch_private_key_get_peer_id (self->key));
}

static void
punch_host_class_init (PunchHostClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = punch_host_constructed;
  object_class->dispose = punch_host_dispose;
  object_class->finalize = punch_host_finalize;
  object_class->get_property = punch_host_get_property;
  object_class->set_property = punch_host_set_property;

  properties[PROP_PRIVATE_KEY] =
    g_param_spec_object ("private-key", NULL, NULL, PUNCH_TYPE_PRIVATE_KEY,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PEER_ID] =
    g_param_spec_boxed ("peer-id", NULL, NULL, PUNCH_TYPE_PEER_ID,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_AGENT_VERSION] =
    g_param_spec_string ("agent-version", NULL, NULL, PUNCH_AGENT_VERSION,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PunchHost::connection-opened:
   * @connection: the new, upgraded connection
   */
  signals[SIGNAL_CONNECTION_OPENED] =
    g_signal_new ("connection-opened", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, PUNCH_TYPE_CONNECTION);

  /**
   * PunchHost::connection-closed:
   * @connection: the connection, already out of the connection list
   * @error: (nullable): why it closed; NULL for a local or clean close
   */
  signals[SIGNAL_CONNECTION_CLOSED] =
    g_signal_new ("connection-closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, PUNCH_TYPE_CONNECTION, G_TYPE_ERROR);

  /**
   * PunchHost::listen-addrs-changed:
   *
   * A listener was added or all were closed.
   */
  signals[SIGNAL_LISTEN_ADDRS_CHANGED] =
    g_signal_new ("listen-addrs-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /**
   * PunchHost::dial-failed:
   * @addr: the address that was dialled
   * @error: what failed
   *
   * A dial failed (not emitted when it was cancelled).
   */
  signals[SIGNAL_DIAL_FAILED] =
    g_signal_new ("dial-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, PUNCH_TYPE_MULTIADDR, G_TYPE_ERROR);
}

static void
punch_host_init (PunchHost *self)
{
  self->agent_version = g_strdup (PUNCH_AGENT_VERSION);
  self->security = g_strdupv ((char **) punch_upgrader_get_default_security ());
  self->transport = punch_tcp_transport_new ();
  self->peer_store = punch_peer_store_new ();
  self->connections = g_list_store_new (PUNCH_TYPE_CONNECTION);
  self->handlers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) handler_entry_free);
  /* What go and js let run on a relay-limited connection: enough to learn
   * about the peer and to punch a hole. Other protocols opt in. */
  self->limited_allowlist = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_add (self->limited_allowlist, g_strdup ("/ipfs/id/1.0.0"));
  g_hash_table_add (self->limited_allowlist, g_strdup ("/ipfs/id/push/1.0.0"));
  g_hash_table_add (self->limited_allowlist, g_strdup ("/ipfs/ping/1.0.0"));
  g_hash_table_add (self->limited_allowlist, g_strdup ("/libp2p/dcutr"));
  self->cancellable = g_cancellable_new ();
  self->expected_inbound = g_ptr_array_new_with_free_func ((GDestroyNotify) expected_inbound_free);

  g_signal_connect (self->transport, "incoming", G_CALLBACK (on_incoming), self);
}

/**
 * punch_host_new:
 * @key: our identity
 *
 * Returns: (transfer full): a host that neither listens nor has connections
 */
PunchHost *
punch_host_new (PunchPrivateKey *key)
{
  g_return_val_if_fail (PUNCH_IS_PRIVATE_KEY (key), NULL);

  return g_object_new (PUNCH_TYPE_HOST, "private-key", key, NULL);
}

PunchPeerId *
punch_host_get_peer_id (PunchHost *self)
{
  g_return_val_if_fail (PUNCH_IS_HOST (self), NULL);

  return self->peer_id;
}

PunchPrivateKey *
punch_host_get_private_key (PunchHost *self)
{
  g_return_val_if_fail (PUNCH_IS_HOST (self), NULL);

  return self->key;
}

/**
 * punch_host_get_peer_store:
 *
 * Returns: (transfer none): what the host knows about peers
 */
PunchPeerStore *
punch_host_get_peer_store (PunchHost *self)
{
  g_return_val_if_fail (PUNCH_IS_HOST (self), NULL);

  return self->peer_store;
}

/**
 * punch_host_get_connections:
 *
 * Returns: (transfer none): the open (and closing) connections, a #GListModel
 *   of #PunchConnection; a connection leaves it when it has closed
 */
GListModel *
punch_host_get_connections (PunchHost *self)
{
  g_return_val_if_fail (PUNCH_IS_HOST (self), NULL);

  return G_LIST_MODEL (self->connections);
}

const char *
punch_host_get_agent_version (PunchHost *self)
{
  g_return_val_if_fail (PUNCH_IS_HOST (self), NULL);

  return self->agent_version;
}

void
punch_host_set_agent_version (PunchHost  *self,
                              const char *agent)
{
  g_return_if_fail (PUNCH_IS_HOST (self));

  if (agent == NULL)
    agent = PUNCH_AGENT_VERSION;
  if (g_strcmp0 (self->agent_version, agent) == 0)
    return;

  g_free (self->agent_version);
  self->agent_version = g_strdup (agent);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AGENT_VERSION]);
}

/**
 * punch_host_set_security_protocols:
 * @self: a #PunchHost
 * @protocols: "/noise" and/or "/tls/1.0.0", in order of preference
 * @error: return location for a #GError
 *
 * Returns: %TRUE when every protocol is known
 */
gboolean
punch_host_set_security_protocols (PunchHost          *self,
                                   const char * const *protocols,
                                   GError            **error)
{
  g_return_val_if_fail (PUNCH_IS_HOST (self), FALSE);

  if (protocols == NULL || protocols[0] == NULL)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                           "at least one security protocol is needed");
      return FALSE;
    }
  for (guint i = 0; protocols[i] != NULL; i++)
    if (!g_strv_contains (punch_upgrader_get_default_security (), protocols[i]))
      {
        g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                     "unknown security protocol %s (known: /noise, /tls/1.0.0)", protocols[i]);
        return FALSE;
      }
  g_strfreev (self->security);
  self->security = g_strdupv ((char **) protocols);
  return TRUE;
}

/**
 * punch_host_get_security_protocols:
 * @self: a #PunchHost
 *
 * Returns: (transfer none): the security protocols in order of preference
 */
const char * const *
punch_host_get_security_protocols (PunchHost *self)
{
  g_return_val_if_fail (PUNCH_IS_HOST (self), NULL);

  return (const char * const *) self->security;
}

/* Inbound streams */

typedef struct
{
  GWeakRef          host;
  PunchConnection  *connection;
  PunchYamuxStream *stream;
  GCancellable     *cancellable;
  gulong            host_handler;
  GCancellable     *host_cancellable;
  GSource          *timeout;
} InboundStream;

static void
inbound_stream_free (InboundStream *data)
{
  unchain_cancellable (data->host_cancellable, &data->host_handler);
  timeout_source_clear (&data->timeout);
  g_weak_ref_clear (&data->host);
  g_clear_object (&data->host_cancellable);
  g_clear_object (&data->cancellable);
  g_clear_object (&data->connection);
  g_clear_object (&data->stream);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (InboundStream, inbound_stream_free)

static gboolean
inbound_stream_timeout (gpointer user_data)
{
  InboundStream *data = user_data;

  timeout_source_clear (&data->timeout);
  g_cancellable_cancel (data->cancellable);
  return G_SOURCE_REMOVE;
}

static void
inbound_stream_negotiated (GObject      *source,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  g_autoptr(InboundStream) data = user_data;
  g_autoptr(PunchHost) self = g_weak_ref_get (&data->host);
  g_autoptr(GError) error = NULL;
  g_autofree char *protocol = NULL;
  HandlerEntry *entry;

  protocol = punch_multistream_handle_finish (G_IO_STREAM (source), result, &error);
  if (protocol == NULL)
    {
      g_debug ("connection %u: inbound stream %u: %s",
               punch_connection_get_id (data->connection),
               punch_yamux_stream_get_id (data->stream), error->message);
      punch_yamux_stream_reset (data->stream);
      return;
    }

  entry = self != NULL && self->handlers != NULL ? g_hash_table_lookup (self->handlers, protocol) : NULL;
  if (entry == NULL)
    {
      /* The handler went away (or the host did) while we negotiated. */
      punch_yamux_stream_reset (data->stream);
      return;
    }

  g_debug ("connection %u: inbound stream %u speaks %s",
           punch_connection_get_id (data->connection),
           punch_yamux_stream_get_id (data->stream), protocol);
  entry->handler (self, data->connection, G_IO_STREAM (data->stream), protocol, entry->user_data);
}

static void
on_inbound_stream (PunchConnection  *connection,
                   PunchYamuxStream *stream,
                   gpointer          user_data)
{
  PunchHost *self = user_data;
  g_auto(GStrv) protocols = punch_host_get_protocols (self);
  InboundStream *data;

  /* The remote hears "na" for what we do not run (even when we run
   * nothing), a clear refusal rather than a reset. On a limited connection
   * we offer only what may run there. */
  if (punch_connection_get_limited (connection))
    {
      guint kept = 0;

      for (guint i = 0; protocols[i] != NULL; i++)
        {
          if (punch_connection_allows (connection, protocols[i]))
            protocols[kept++] = protocols[i];
          else
            g_free (protocols[i]);
        }
      protocols[kept] = NULL;
    }

  data = g_new0 (InboundStream, 1);
  g_weak_ref_init (&data->host, self);
  data->connection = g_object_ref (connection);
  data->stream = g_object_ref (stream);
  data->cancellable = g_cancellable_new ();
  data->host_cancellable = g_object_ref (self->cancellable);
  data->host_handler = chain_cancellable (self->cancellable, data->cancellable);
  /* A remote that opens streams and never names a protocol must not pin
   * them forever. */
  data->timeout = timeout_source_attach (INBOUND_NEGOTIATION_TIMEOUT_SECONDS * 1000,
                                         inbound_stream_timeout, data,
                                         "[punch] inbound stream negotiation");

  punch_multistream_handle_async (G_IO_STREAM (stream), (const char * const *) protocols,
                                  data->cancellable, inbound_stream_negotiated, data);
}

/* Connections */

static void
on_connection_closed (PunchConnection *connection,
                      const GError    *error,
                      PunchHost       *self)
{
  guint position;

  /* Leaving the list must not finalize it before the signal is out. */
  g_object_ref (connection);
  release_connection (self, connection);
  if (g_list_store_find (self->connections, connection, &position))
    g_list_store_remove (self->connections, position);

  g_signal_emit (self, signals[SIGNAL_CONNECTION_CLOSED], 0, connection, error);
  g_object_unref (connection);
}

static PunchConnection *
add_connection (PunchHost             *self,
                PunchUpgrade          *upgrade,
                PunchMultiaddr        *local_addr,
                PunchMultiaddr        *remote_addr,
                PunchDirection         direction,
                gboolean               relayed,
                const PunchRelayLimit *limit,
                GIOStream             *relayed_stream)
{
  g_autoptr(PunchConnection) connection = NULL;
  PunchPeerInfo *info;

  connection = punch_connection_new (++self->next_connection_id, upgrade,
                                     local_addr, remote_addr, direction);
  punch_connection_set_relayed (connection, relayed);
  punch_connection_set_limited (connection, limit != NULL);
  punch_connection_set_limited_allowlist (connection, self->limited_allowlist);
  if (limit != NULL)
    punch_connection_set_relay_limit (connection, limit, relayed_stream);

  info = punch_peer_store_ensure (self->peer_store, upgrade->peer_id);
  if (upgrade->public_key != NULL)
    punch_peer_info_set_public_key (info, upgrade->public_key);
  punch_peer_info_touch (info);

  g_signal_connect (connection, "closed", G_CALLBACK (on_connection_closed), self);
  punch_connection_set_stream_func (connection, on_inbound_stream, self);
  g_list_store_append (self->connections, connection);

  g_debug ("connection %u %s %s%s", punch_connection_get_id (connection),
           direction == PUNCH_DIRECTION_INBOUND ? "from" : "to",
           punch_peer_id_to_string (upgrade->peer_id), relayed ? " (relayed)" : "");
  g_signal_emit (self, signals[SIGNAL_CONNECTION_OPENED], 0, connection);

  /* Should the muxer have died before we listened to it, go through the
   * normal close so that "connection-closed" still comes. */
  if (punch_yamux_session_is_closed (punch_connection_get_session (connection)))
    punch_connection_close (connection);

  /* The list holds it; the caller borrows it. */
  return connection;
}

static PunchConnection *
add_socket_connection (PunchHost         *self,
                       PunchUpgrade      *upgrade,
                       GSocketConnection *socket,
                       PunchDirection     direction)
{
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocketAddress) remote = NULL;
  g_autoptr(PunchMultiaddr) local_addr = NULL;
  g_autoptr(PunchMultiaddr) remote_addr = NULL;

  local = g_socket_connection_get_local_address (socket, NULL);
  remote = g_socket_connection_get_remote_address (socket, NULL);
  if (local != NULL)
    local_addr = punch_multiaddr_new_from_socket_address (local);
  if (remote != NULL)
    remote_addr = punch_multiaddr_new_from_socket_address (remote);

  return add_connection (self, upgrade, local_addr, remote_addr, direction, FALSE, NULL, NULL);
}

PunchConnection *
punch_host_adopt_connection (PunchHost             *self,
                             PunchUpgrade          *upgrade,
                             PunchMultiaddr        *local_addr,
                             PunchMultiaddr        *remote_addr,
                             PunchDirection         direction,
                             gboolean               relayed,
                             const PunchRelayLimit *limit,
                             GIOStream             *relayed_stream)
{
  g_return_val_if_fail (PUNCH_IS_HOST (self), NULL);
  g_return_val_if_fail (upgrade != NULL, NULL);

  return add_connection (self, upgrade, local_addr, remote_addr, direction, relayed, limit, relayed_stream);
}

/* Inbound connections */

typedef struct
{
  GWeakRef           host;
  GSocketConnection *socket;
} InboundConnection;

static void
inbound_connection_free (InboundConnection *data)
{
  g_weak_ref_clear (&data->host);
  g_clear_object (&data->socket);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (InboundConnection, inbound_connection_free)

static void
inbound_upgraded (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(InboundConnection) data = user_data;
  g_autoptr(PunchHost) self = g_weak_ref_get (&data->host);
  g_autoptr(PunchUpgrade) upgrade = NULL;
  g_autoptr(GError) error = NULL;

  if (self != NULL)
    self->n_pending_inbound--;

  upgrade = punch_upgrader_upgrade_finish (result, &error);
  if (upgrade == NULL)
    {
      g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (data->socket, NULL);
      g_autoptr(PunchMultiaddr) addr = remote != NULL ? punch_multiaddr_new_from_socket_address (remote) : NULL;
      g_autofree char *text = addr != NULL ? punch_multiaddr_to_string (addr) : g_strdup ("?");

      g_debug ("inbound connection from %s: %s", text, error->message);
      return;
    }

  if (self == NULL || self->cancellable == NULL)
    {
      punch_yamux_session_close_async (upgrade->session, NULL, NULL, NULL);
      return;
    }

  add_socket_connection (self, upgrade, data->socket, PUNCH_DIRECTION_INBOUND);
}

static void
on_incoming (PunchTcpTransport *transport,
             GSocketConnection *socket,
             PunchHost         *self)
{
  InboundConnection *data;
  ExpectedInbound *expected = NULL;

  if (self->expected_inbound->len > 0)
    {
      g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (socket, NULL);
      g_autoptr(PunchMultiaddr) remote_addr = remote != NULL ? punch_multiaddr_new_from_socket_address (remote) : NULL;

      for (guint i = 0; remote_addr != NULL && i < self->expected_inbound->len; i++)
        {
          ExpectedInbound *candidate = g_ptr_array_index (self->expected_inbound, i);

          if (punch_multiaddr_equal (candidate->remote, remote_addr))
            {
              expected = candidate;
              break;
            }
        }
    }

  if (expected != NULL)
    {
      g_debug ("inbound connection from an expected hole-punch peer %s: upgrading as %s",
               punch_peer_id_to_string (expected->peer_id), expected->initiator ? "client" : "server");
    }
  else if (self->n_pending_inbound >= MAX_PENDING_INBOUND_UPGRADES)
    {
      g_debug ("refusing an inbound connection: %u upgrades in progress", self->n_pending_inbound);
      g_io_stream_close_async (G_IO_STREAM (socket), G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      return;
    }
  self->n_pending_inbound++;

  data = g_new0 (InboundConnection, 1);
  g_weak_ref_init (&data->host, self);
  data->socket = g_object_ref (socket);

  punch_upgrader_upgrade_full_async (G_IO_STREAM (socket),
                                     expected != NULL && expected->initiator,
                                     self->key,
                                     expected != NULL ? expected->peer_id : NULL,
                                     (const char * const *) self->security,
                                     self->cancellable, inbound_upgraded, data);
}

/**
 * punch_host_expect_inbound:
 * @remote: "/ip4|ip6/<addr>/tcp/<port>", where the peer's packets come from
 * @peer_id: who must be at the other end
 * @initiator: whether we upgrade as the client
 *
 * During a TCP hole punch one side's SYN may reach the other's listener
 * instead of its connecting socket; the accepted connection must then take
 * the role DCUtR gave us, not the accept role, or both sides wait for each
 * other. Until removed, an inbound connection from @remote is upgraded as
 * @initiator says, and must authenticate as @peer_id.
 *
 * Returns: an ID for punch_host_unexpect_inbound()
 */
guint
punch_host_expect_inbound (PunchHost      *self,
                           PunchMultiaddr *remote,
                           PunchPeerId    *peer_id,
                           gboolean        initiator)
{
  ExpectedInbound *expected;

  g_return_val_if_fail (PUNCH_IS_HOST (self), 0);
  g_return_val_if_fail (remote != NULL, 0);
  g_return_val_if_fail (peer_id != NULL, 0);

  expected = g_new0 (ExpectedInbound, 1);
  expected->id = ++self->next_expectation_id;
  expected->remote = punch_multiaddr_slice (remote, 0, 2);
  expected->peer_id = punch_peer_id_ref (peer_id);
  expected->initiator = !!initiator;
  g_ptr_array_add (self->expected_inbound, expected);

  return expected->id;
}

void
punch_host_unexpect_inbound (PunchHost *self,
                             guint      id)
{
  g_return_if_fail (PUNCH_IS_HOST (self));

  for (guint i = 0; self->expected_inbound != NULL && i < self->expected_inbound->len; i++)
    {
      ExpectedInbound *expected = g_ptr_array_index (self->expected_inbound, i);

      if (expected->id == id)
        {
          g_ptr_array_remove_index (self->expected_inbound, i);
          return;
        }
    }
}

/* Listening */

static gboolean
is_tcp_listen_addr (PunchMultiaddr *addr)
{
  PunchMultiaddrComponent first, second;

  if (punch_multiaddr_get_n_components (addr) != 2
      || !punch_multiaddr_get_component (addr, 0, &first)
      || !punch_multiaddr_get_component (addr, 1, &second))
    return FALSE;

  return (first.code == PUNCH_PROTO_IP4 || first.code == PUNCH_PROTO_IP6)
         && second.code == PUNCH_PROTO_TCP;
}

/**
 * punch_host_listen:
 * @addr: "/ip4|ip6/<addr>/tcp/<port>"; port 0 picks one
 *
 * Starts listening; emits "listen-addrs-changed".
 *
 * Returns: whether the listener is up
 */
gboolean
punch_host_listen (PunchHost       *self,
                   PunchMultiaddr  *addr,
                   GError         **error)
{
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GInetSocketAddress) bound = NULL;
  g_autofree char *text = NULL;

  g_return_val_if_fail (PUNCH_IS_HOST (self), FALSE);
  g_return_val_if_fail (addr != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  text = punch_multiaddr_to_string (addr);
  if (!is_tcp_listen_addr (addr))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "cannot listen on %s: only /ip4|ip6/<address>/tcp/<port> is supported", text);
      return FALSE;
    }

  address = punch_multiaddr_to_socket_address (addr, error);
  if (address == NULL)
    {
      g_prefix_error (error, "listen %s: ", text);
      return FALSE;
    }

  bound = punch_tcp_transport_listen (self->transport, G_INET_SOCKET_ADDRESS (address), error);
  if (bound == NULL)
    {
      g_prefix_error (error, "listen %s: ", text);
      return FALSE;
    }

  g_debug ("listening on %s (port %u)", text, g_inet_socket_address_get_port (bound));
  g_signal_emit (self, signals[SIGNAL_LISTEN_ADDRS_CHANGED], 0);

  return TRUE;
}

static gboolean
is_link_local6 (const guint8 *bytes)
{
  return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80;
}

/* The interface addresses of @family, for a wildcard listener on @port. */
static void
add_interface_addrs (GPtrArray     *out,
                     GSocketFamily  family,
                     guint16        port)
{
  struct ifaddrs *ifaddrs = NULL;

  if (getifaddrs (&ifaddrs) != 0)
    {
      g_debug ("getifaddrs: %s", g_strerror (errno));
      return;
    }

  for (struct ifaddrs *ifa = ifaddrs; ifa != NULL; ifa = ifa->ifa_next)
    {
      g_autoptr(GInetAddress) inet = NULL;
      g_autoptr(GSocketAddress) sockaddr = NULL;
      PunchMultiaddr *addr;

      if (ifa->ifa_addr == NULL)
        continue;

      if (family == G_SOCKET_FAMILY_IPV4 && ifa->ifa_addr->sa_family == AF_INET)
        {
          const struct sockaddr_in *sin = (const struct sockaddr_in *) (gconstpointer) ifa->ifa_addr;

          inet = g_inet_address_new_from_bytes ((const guint8 *) &sin->sin_addr, G_SOCKET_FAMILY_IPV4);
        }
      else if (family == G_SOCKET_FAMILY_IPV6 && ifa->ifa_addr->sa_family == AF_INET6)
        {
          const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) (gconstpointer) ifa->ifa_addr;

          /* A multiaddr has no room for the scope a link-local address needs. */
          if (is_link_local6 ((const guint8 *) &sin6->sin6_addr))
            continue;
          inet = g_inet_address_new_from_bytes ((const guint8 *) &sin6->sin6_addr, G_SOCKET_FAMILY_IPV6);
        }
      else
        continue;

      sockaddr = g_inet_socket_address_new (inet, port);
      addr = punch_multiaddr_new_from_socket_address (sockaddr);
      if (addr == NULL)
        continue;
      if (g_ptr_array_find_with_equal_func (out, addr, punch_multiaddr_equal, NULL))
        punch_multiaddr_unref (addr);
      else
        g_ptr_array_add (out, addr);
    }

  freeifaddrs (ifaddrs);
}

/**
 * punch_host_get_listen_addrs:
 *
 * The bound listen addresses, without a /p2p suffix. A wildcard listener
 * (0.0.0.0 or ::) is replaced by the addresses of the machine's interfaces
 * of its family, loopback included.
 *
 * Returns: (transfer container) (element-type PunchMultiaddr): the addresses
 */
GPtrArray *
punch_host_get_listen_addrs (PunchHost *self)
{
  g_autoptr(GPtrArray) bound = NULL;
  GPtrArray *out;

  g_return_val_if_fail (PUNCH_IS_HOST (self), NULL);

  out = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  if (self->transport == NULL)
    return out;

  bound = punch_tcp_transport_get_listen_addresses (self->transport);
  for (guint i = 0; bound != NULL && i < bound->len; i++)
    {
      GInetSocketAddress *address = g_ptr_array_index (bound, i);
      GInetAddress *inet = g_inet_socket_address_get_address (address);
      PunchMultiaddr *addr;

      if (g_inet_address_get_is_any (inet))
        {
          add_interface_addrs (out, g_inet_address_get_family (inet),
                               g_inet_socket_address_get_port (address));
          continue;
        }

      addr = punch_multiaddr_new_from_socket_address (G_SOCKET_ADDRESS (address));
      if (addr == NULL)
        continue;
      if (g_ptr_array_find_with_equal_func (out, addr, punch_multiaddr_equal, NULL))
        punch_multiaddr_unref (addr);
      else
        g_ptr_array_add (out, addr);
    }

  return out;
}

/* Dialling */

typedef struct
{
  PunchMultiaddr    *addr;
  char              *addr_text;
  PunchPeerId       *expected;
  guint32            host_code;
  char              *dns_name;
  guint16            port;

  PunchDialFlags     flags;
  guint              timeout_ms;
  GSource           *timeout;
  gboolean           timed_out;
  const char        *step;

  GList             *candidates;    /* GInetSocketAddress, owned */
  GList             *next;
  GError            *last_error;
  GSocketConnection *socket;

  /* Cancelled by the caller's cancellable or by punch_host_close(). */
  GCancellable      *cancellable;
  GCancellable      *caller_cancellable;
  gulong             caller_handler;
  GCancellable      *host_cancellable;
  gulong             host_handler;
} DialData;

static void
dial_data_free (DialData *data)
{
  timeout_source_clear (&data->timeout);
  unchain_cancellable (data->caller_cancellable, &data->caller_handler);
  unchain_cancellable (data->host_cancellable, &data->host_handler);
  g_clear_object (&data->caller_cancellable);
  g_clear_object (&data->host_cancellable);
  g_clear_object (&data->cancellable);
  g_clear_pointer (&data->addr, punch_multiaddr_unref);
  g_clear_pointer (&data->addr_text, g_free);
  g_clear_pointer (&data->expected, punch_peer_id_unref);
  g_clear_pointer (&data->dns_name, g_free);
  g_list_free_full (data->candidates, g_object_unref);
  g_clear_error (&data->last_error);
  g_clear_object (&data->socket);
  g_free (data);
}

static void
dial_fail (GTask  *task,
           GError *error)
{
  PunchHost *self = g_task_get_source_object (task);
  DialData *data = g_task_get_task_data (task);

  timeout_source_clear (&data->timeout);

  /* Whatever the step made of the cancellation, the cause was the clock. */
  if (data->timed_out)
    {
      g_clear_error (&error);
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "timed out after %u ms during %s",
                           data->timeout_ms, data->step);
    }

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_prefix_error (&error, "dial %s: ", data->addr_text);
      g_debug ("%s", error->message);
      g_signal_emit (self, signals[SIGNAL_DIAL_FAILED], 0, data->addr, error);
    }

  g_task_return_error (task, error);
}

static void dial_next_candidate (GTask *task);

static void
dial_upgraded (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PunchHost *self = g_task_get_source_object (task);
  DialData *data = g_task_get_task_data (task);
  g_autoptr(PunchUpgrade) upgrade = NULL;
  PunchConnection *connection;
  GError *error = NULL;

  upgrade = punch_upgrader_upgrade_finish (result, &error);
  if (upgrade == NULL)
    {
      dial_fail (task, error);
      return;
    }

  if (g_cancellable_is_cancelled (data->cancellable))
    {
      punch_yamux_session_close_async (upgrade->session, NULL, NULL, NULL);
      dial_fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "dial %s: cancelled",
                                    data->addr_text));
      return;
    }
  timeout_source_clear (&data->timeout);

  connection = add_socket_connection (self, upgrade, data->socket, PUNCH_DIRECTION_OUTBOUND);
  g_task_return_pointer (task, g_object_ref (connection), g_object_unref);
}

static void
dial_connected (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PunchHost *self = g_task_get_source_object (task);
  DialData *data = g_task_get_task_data (task);
  GError *error = NULL;

  data->socket = punch_tcp_transport_dial_finish (PUNCH_TCP_TRANSPORT (source), result, &error);
  if (data->socket == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          dial_fail (task, error);
          return;
        }
      g_clear_error (&data->last_error);
      data->last_error = error;
      dial_next_candidate (g_steal_pointer (&task));
      return;
    }

  data->step = "the upgrade";
  punch_upgrader_upgrade_full_async (G_IO_STREAM (data->socket),
                                     !(data->flags & PUNCH_DIAL_FLAGS_AS_SERVER),
                                     self->key, data->expected,
                                     (const char * const *) self->security,
                                     data->cancellable, dial_upgraded, g_steal_pointer (&task));
}

/* Tries the resolved addresses one after the other; the error of the last
 * one is the dial's error. */
static void
dial_next_candidate (GTask *task)
{
  PunchHost *self = g_task_get_source_object (task);
  DialData *data = g_task_get_task_data (task);
  GInetSocketAddress *remote;

  if (data->next == NULL)
    {
      GError *error = g_steal_pointer (&data->last_error);

      if (error == NULL)
        error = g_error_new (PUNCH_ERROR, PUNCH_ERROR_NO_ADDRESSES,
                             "%s resolved to no usable address", data->dns_name);
      dial_fail (task, error);
      g_object_unref (task);
      return;
    }

  remote = data->next->data;
  data->next = data->next->next;

  if (self->transport == NULL)
    {
      dial_fail (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "the host is disposed"));
      g_object_unref (task);
      return;
    }

  data->step = "the TCP connect";
  punch_tcp_transport_dial_async (self->transport, remote, data->timeout_ms, data->cancellable,
                                  dial_connected, task);
}

static void
dial_resolved (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  DialData *data = g_task_get_task_data (task);
  GError *error = NULL;
  GList *addresses;

  addresses = g_resolver_lookup_by_name_with_flags_finish (G_RESOLVER (source), result, &error);
  if (addresses == NULL && error != NULL)
    {
      dial_fail (task, error);
      return;
    }

  for (GList *l = addresses; l != NULL; l = l->next)
    {
      GInetAddress *inet = l->data;
      GSocketFamily family = g_inet_address_get_family (inet);

      /* The resolver flags already filter; this guards /dns4 and /dns6
       * against resolvers that ignore them. */
      if ((data->host_code == PUNCH_PROTO_DNS4 && family != G_SOCKET_FAMILY_IPV4)
          || (data->host_code == PUNCH_PROTO_DNS6 && family != G_SOCKET_FAMILY_IPV6))
        continue;
      data->candidates = g_list_append (data->candidates,
                                        g_inet_socket_address_new (inet, data->port));
    }
  g_resolver_free_addresses (addresses);

  g_debug ("dial %s: %s resolved to %u address(es)", data->addr_text, data->dns_name,
           g_list_length (data->candidates));
  data->next = data->candidates;
  dial_next_candidate (g_steal_pointer (&task));
}

/* Splits "/<host>/tcp/<port>[/p2p/<id>]" into its parts. */
static gboolean
parse_dial_addr (DialData  *data,
                 GError   **error)
{
  PunchMultiaddrComponent host, tcp, p2p;
  guint n = punch_multiaddr_get_n_components (data->addr);

  if (n < 2 || n > 3
      || !punch_multiaddr_get_component (data->addr, 0, &host)
      || !punch_multiaddr_get_component (data->addr, 1, &tcp)
      || tcp.code != PUNCH_PROTO_TCP || tcp.value_len != 2
      || (n == 3 && (!punch_multiaddr_get_component (data->addr, 2, &p2p) || p2p.code != PUNCH_PROTO_P2P)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "only /ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>[/p2p/<peer id>] can be dialled");
      return FALSE;
    }

  switch (host.code)
    {
    case PUNCH_PROTO_IP4:
    case PUNCH_PROTO_IP6:
      break;
    case PUNCH_PROTO_DNS:
    case PUNCH_PROTO_DNS4:
    case PUNCH_PROTO_DNS6:
      if (host.value == NULL || host.value_len == 0 || host.value_len > 255
          || memchr (host.value, '\0', host.value_len) != NULL)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "bad DNS name");
          return FALSE;
        }
      data->dns_name = g_strndup ((const char *) host.value, host.value_len);
      break;
    default:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "cannot dial over /%s: only /ip4, /ip6, /dns, /dns4 and /dns6 with /tcp", host.name);
      return FALSE;
    }

  data->host_code = host.code;
  data->port = (guint16) ((tcp.value[0] << 8) | tcp.value[1]);

  if (n == 3)
    {
      data->expected = punch_peer_id_new_from_bytes (p2p.value, p2p.value_len, error);
      if (data->expected == NULL)
        return FALSE;
    }

  return TRUE;
}

/**
 * punch_host_dial_async:
 * @addr: "/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>[/p2p/<id>]"
 * @cancellable: (nullable): cancels the dial (resolution, TCP, upgrade)
 *
 * Resolves DNS names (/dns4 to IPv4 only, /dns6 to IPv6 only), connects
 * over TCP and upgrades as the initiator. With a /p2p suffix the remote must
 * authenticate as that peer. Errors start with "dial <addr>: " and say what
 * failed; "dial-failed" is emitted for every failure but cancellation.
 */
void
punch_host_dial_async (PunchHost          *self,
                       PunchMultiaddr     *addr,
                       GCancellable       *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer            user_data)
{
  punch_host_dial_full_async (self, addr, PUNCH_DIAL_FLAGS_NONE, 0, cancellable, callback, user_data);
}

static gboolean
dial_timed_out (gpointer user_data)
{
  DialData *data = user_data;

  timeout_source_clear (&data->timeout);
  data->timed_out = TRUE;
  g_cancellable_cancel (data->cancellable);
  return G_SOURCE_REMOVE;
}

/* Addresses the host reaches through something else first: /p2p-circuit
 * through the relay client, /dnsaddr through its TXT records. */

typedef struct
{
  PunchDialFlags  flags;
  guint           timeout_ms;
  char           *addr_text;
  GPtrArray      *candidates;  /* PunchMultiaddr */
  guint           next;
  GError         *last_error;
} IndirectDial;

static void
indirect_dial_free (IndirectDial *data)
{
  g_free (data->addr_text);
  g_clear_pointer (&data->candidates, g_ptr_array_unref);
  g_clear_error (&data->last_error);
  g_free (data);
}

static void
circuit_dialed (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PunchHost *self = g_task_get_source_object (task);
  GError *error = NULL;
  PunchConnection *connection = NULL;

  if (self->circuit_finish != NULL)
    connection = self->circuit_finish (self->circuit_dialer, result, &error);
  else
    error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "the relay client went away");
  if (connection == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, connection, g_object_unref);
}

static void dnsaddr_try_next (GTask *task);

static void
dnsaddr_candidate_done (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  IndirectDial *data = g_task_get_task_data (task);
  GError *error = NULL;
  PunchConnection *connection = punch_host_dial_finish (PUNCH_HOST (source), result, &error);

  if (connection != NULL)
    {
      g_task_return_pointer (task, connection, g_object_unref);
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, error);
      return;
    }
  g_clear_error (&data->last_error);
  data->last_error = error;
  dnsaddr_try_next (g_steal_pointer (&task));
}

/* Takes the task's reference. */
static void
dnsaddr_try_next (GTask *task)
{
  PunchHost *self = g_task_get_source_object (task);
  IndirectDial *data = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  PunchMultiaddr *next;

  if (data->next >= data->candidates->len)
    {
      GError *error = g_steal_pointer (&data->last_error);

      if (error == NULL)
        error = g_error_new (PUNCH_ERROR, PUNCH_ERROR_NO_ADDRESSES,
                             "dial %s: its dnsaddr records list no TCP address", data->addr_text);
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  next = g_ptr_array_index (data->candidates, data->next++);
  punch_host_dial_full_async (self, next, data->flags, data->timeout_ms, cancellable,
                              dnsaddr_candidate_done, task);
}

static gboolean
is_tcp_addr (PunchMultiaddr *addr)
{
  PunchMultiaddrComponent tcp;

  return !punch_multiaddr_has_protocol (addr, PUNCH_PROTO_P2P_CIRCUIT)
         && punch_multiaddr_get_component (addr, 1, &tcp) && tcp.code == PUNCH_PROTO_TCP
         && punch_multiaddr_get_n_components (addr) <= 3;
}

static void
dnsaddr_resolved (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  GTask *task = user_data;
  IndirectDial *data = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GPtrArray) addrs = punch_dnsaddr_resolve_finish (result, &error);

  if (addrs == NULL)
    {
      g_prefix_error (&error, "dial %s: ", data->addr_text);
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  data->candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  for (guint i = 0; i < addrs->len; i++)
    if (is_tcp_addr (g_ptr_array_index (addrs, i)))
      g_ptr_array_add (data->candidates, punch_multiaddr_ref (g_ptr_array_index (addrs, i)));
  g_debug ("dial %s: %u TCP address(es) of %u records", data->addr_text, data->candidates->len, addrs->len);
  dnsaddr_try_next (task);
}

/* Returns TRUE when @addr was an indirect address and the dial started. */
static gboolean
dial_indirect (PunchHost          *self,
               PunchMultiaddr     *addr,
               PunchDialFlags      flags,
               guint               timeout_ms,
               GCancellable       *cancellable,
               GAsyncReadyCallback callback,
               gpointer            user_data)
{
  PunchMultiaddrComponent first;
  gboolean circuit = punch_multiaddr_has_protocol (addr, PUNCH_PROTO_P2P_CIRCUIT);
  gboolean dnsaddr = punch_multiaddr_get_component (addr, 0, &first) && first.code == PUNCH_PROTO_DNSADDR;
  IndirectDial *data;
  GTask *task;

  if (!circuit && !dnsaddr)
    return FALSE;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_host_dial_async);
  data = g_new0 (IndirectDial, 1);
  data->flags = flags;
  data->timeout_ms = timeout_ms;
  data->addr_text = punch_multiaddr_to_string (addr);
  g_task_set_task_data (task, data, (GDestroyNotify) indirect_dial_free);

  if (circuit)
    {
      if (self->circuit_dial == NULL)
        {
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                   "dial %s: relayed addresses need a relay client on this host",
                                   data->addr_text);
          g_object_unref (task);
          return TRUE;
        }
      self->circuit_dial (self->circuit_dialer, addr, cancellable, circuit_dialed, task);
      return TRUE;
    }

  punch_dnsaddr_resolve_async (NULL, addr, cancellable, dnsaddr_resolved, task);
  return TRUE;
}

void
punch_host_set_circuit_dialer (PunchHost                 *self,
                               gpointer                   dialer,
                               PunchHostCircuitDialFunc   dial,
                               PunchHostCircuitFinishFunc finish)
{
  g_return_if_fail (PUNCH_IS_HOST (self));

  self->circuit_dialer = dialer;
  self->circuit_dial = dialer ? dial : NULL;
  self->circuit_finish = dialer ? finish : NULL;
}

/**
 * punch_host_dial_full_async:
 * @addr: "/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>[/p2p/<id>]"
 * @flags: %PUNCH_DIAL_FLAGS_AS_SERVER to upgrade as the server
 * @timeout_ms: a deadline for the whole dial; 0 for the defaults
 * @cancellable: (nullable): cancels the dial
 *
 * punch_host_dial_async() with options; a dial past its deadline fails with
 * %G_IO_ERROR_TIMED_OUT naming the step it was in. The connection is
 * outbound whatever the role of the upgrade.
 */
void
punch_host_dial_full_async (PunchHost          *self,
                            PunchMultiaddr     *addr,
                            PunchDialFlags      flags,
                            guint               timeout_ms,
                            GCancellable       *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer            user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  DialData *data;

  g_return_if_fail (PUNCH_IS_HOST (self));
  g_return_if_fail (addr != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  if (dial_indirect (self, addr, flags, timeout_ms, cancellable, callback, user_data))
    return;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_host_dial_async);

  data = g_new0 (DialData, 1);
  data->addr = punch_multiaddr_ref (addr);
  data->addr_text = punch_multiaddr_to_string (addr);
  data->cancellable = g_cancellable_new ();
  data->flags = flags;
  data->timeout_ms = timeout_ms;
  data->step = "address parsing";
  g_task_set_task_data (task, data, (GDestroyNotify) dial_data_free);

  if (!parse_dial_addr (data, &error))
    {
      dial_fail (task, error);
      return;
    }

  if (data->expected != NULL && punch_peer_id_equal (data->expected, self->peer_id))
    {
      dial_fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                    "refusing to dial ourselves (%s)",
                                    punch_peer_id_to_string (self->peer_id)));
      return;
    }

  if (cancellable != NULL)
    {
      data->caller_cancellable = g_object_ref (cancellable);
      data->caller_handler = chain_cancellable (cancellable, data->cancellable);
    }
  data->host_cancellable = g_object_ref (self->cancellable);
  data->host_handler = chain_cancellable (self->cancellable, data->cancellable);
  if (timeout_ms > 0)
    data->timeout = timeout_source_attach (timeout_ms, dial_timed_out, data, "[punch] dial deadline");

  if (data->dns_name != NULL)
    {
      g_autoptr(GResolver) resolver = g_resolver_get_default ();
      GResolverNameLookupFlags lookup = G_RESOLVER_NAME_LOOKUP_FLAGS_DEFAULT;

      if (data->host_code == PUNCH_PROTO_DNS4)
        lookup = G_RESOLVER_NAME_LOOKUP_FLAGS_IPV4_ONLY;
      else if (data->host_code == PUNCH_PROTO_DNS6)
        lookup = G_RESOLVER_NAME_LOOKUP_FLAGS_IPV6_ONLY;

      data->step = "DNS resolution";
      g_resolver_lookup_by_name_with_flags_async (resolver, data->dns_name, lookup, data->cancellable,
                                                  dial_resolved, g_steal_pointer (&task));
      return;
    }

  {
    g_autoptr(PunchMultiaddr) ip_tcp = punch_multiaddr_slice (addr, 0, 2);
    GSocketAddress *remote = punch_multiaddr_to_socket_address (ip_tcp, &error);

    if (remote == NULL)
      {
        dial_fail (task, error);
        return;
      }
    data->candidates = g_list_append (NULL, remote);
    data->next = data->candidates;
  }

  dial_next_candidate (g_steal_pointer (&task));
}

/**
 * punch_host_dial_finish:
 *
 * Returns: (transfer full): the new outbound connection
 */
PunchConnection *
punch_host_dial_finish (PunchHost     *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (PUNCH_IS_HOST (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * punch_host_get_connection:
 * @peer_id: the peer
 *
 * Returns: (transfer none) (nullable): an open connection to @peer_id,
 *   direct ones preferred over relayed ones
 */
PunchConnection *
punch_host_get_connection (PunchHost   *self,
                           PunchPeerId *peer_id)
{
  PunchConnection *relayed = NULL;
  guint n;

  g_return_val_if_fail (PUNCH_IS_HOST (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);

  n = g_list_model_get_n_items (G_LIST_MODEL (self->connections));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(PunchConnection) connection = g_list_model_get_item (G_LIST_MODEL (self->connections), i);

      if (punch_connection_get_state (connection) != PUNCH_CONNECTION_STATE_OPEN
          || !punch_peer_id_equal (punch_connection_get_peer_id (connection), peer_id))
        continue;
      /* The list store keeps it alive. */
      if (!punch_connection_get_relayed (connection))
        return connection;
      if (relayed == NULL)
        relayed = connection;
    }

  return relayed;
}

/**
 * punch_host_set_stream_handler:
 * @protocol: the protocol ID, e.g. "/ipfs/ping/1.0.0"
 * @handler: called with each negotiated inbound stream
 * @destroy: (nullable): frees @user_data when the handler is replaced or removed
 *
 * Registers (or replaces) the handler of @protocol.
 */
void
punch_host_set_stream_handler (PunchHost          *self,
                               const char         *protocol,
                               PunchStreamHandler  handler,
                               gpointer            user_data,
                               GDestroyNotify      destroy)
{
  HandlerEntry *entry;

  g_return_if_fail (PUNCH_IS_HOST (self));
  g_return_if_fail (protocol != NULL && protocol[0] == '/');
  g_return_if_fail (strlen (protocol) < PUNCH_MULTISTREAM_MAX_MESSAGE);
  g_return_if_fail (handler != NULL);

  entry = g_new0 (HandlerEntry, 1);
  entry->handler = handler;
  entry->user_data = user_data;
  entry->destroy = destroy;
  g_hash_table_replace (self->handlers, g_strdup (protocol), entry);
}

/**
 * punch_host_allow_on_limited:
 * @protocol: a protocol ID
 *
 * Lets @protocol run on connections a relay limits (in duration or data),
 * inbound and outbound, as go's WithAllowLimitedConn and js's
 * runOnLimitedConnection do. Identify, ping and DCUtR always may.
 */
void
punch_host_allow_on_limited (PunchHost  *self,
                             const char *protocol)
{
  g_return_if_fail (PUNCH_IS_HOST (self));
  g_return_if_fail (protocol != NULL && protocol[0] == '/');

  g_hash_table_add (self->limited_allowlist, g_strdup (protocol));
}

void
punch_host_remove_stream_handler (PunchHost  *self,
                                  const char *protocol)
{
  g_return_if_fail (PUNCH_IS_HOST (self));
  g_return_if_fail (protocol != NULL);

  if (self->handlers != NULL)
    g_hash_table_remove (self->handlers, protocol);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/**
 * punch_host_get_protocols:
 *
 * Returns: (transfer full): the protocols we accept inbound, sorted
 */
GStrv
punch_host_get_protocols (PunchHost *self)
{
  GStrv protocols;
  guint n = 0;

  g_return_val_if_fail (PUNCH_IS_HOST (self), NULL);

  if (self->handlers == NULL)
    return g_new0 (char *, 1);

  protocols = (GStrv) g_hash_table_get_keys_as_array (self->handlers, &n);
  for (guint i = 0; i < n; i++)
    protocols[i] = g_strdup (protocols[i]);
  qsort (protocols, n, sizeof (char *), compare_strings);

  return protocols;
}

/**
 * punch_host_close:
 *
 * Closes the listeners and every connection, and cancels pending dials and
 * upgrades. The connections leave the list (with "connection-closed") once
 * their muxer is down. The host can listen and dial again afterwards.
 */
void
punch_host_close (PunchHost *self)
{
  g_autoptr(GPtrArray) listening = NULL;
  g_autoptr(GPtrArray) connections = NULL;
  guint n;

  g_return_if_fail (PUNCH_IS_HOST (self));

  if (self->cancellable == NULL)
    return;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();

  listening = punch_tcp_transport_get_listen_addresses (self->transport);
  punch_tcp_transport_close (self->transport);
  if (listening != NULL && listening->len > 0)
    g_signal_emit (self, signals[SIGNAL_LISTEN_ADDRS_CHANGED], 0);

  /* A snapshot: closing may change the list under us. */
  connections = g_ptr_array_new_with_free_func (g_object_unref);
  n = g_list_model_get_n_items (G_LIST_MODEL (self->connections));
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (connections, g_list_model_get_item (G_LIST_MODEL (self->connections), i));
  for (guint i = 0; i < connections->len; i++)
    punch_connection_close (g_ptr_array_index (connections, i));
}
