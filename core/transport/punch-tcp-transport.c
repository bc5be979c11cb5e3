/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-tcp-transport.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define DEFAULT_DIAL_TIMEOUT_MS 10000
#define LISTEN_BACKLOG 128
/* After an accept error such as EMFILE the socket stays readable; pausing
 * the listener keeps it from spinning. */
#define ACCEPT_PAUSE_MS 100

typedef struct
{
  PunchTcpTransport  *transport;  /* not owned; the listener dies first */
  GSocket            *socket;
  GInetSocketAddress *address;
  GSource            *source;
  GSource            *pause_source;
  gboolean            closed;
} Listener;

struct _PunchTcpTransport
{
  GObject    parent_instance;

  GPtrArray *listeners;  /* Listener, refcounted with g_rc_box */
  gboolean   reuse_port;
};

G_DEFINE_FINAL_TYPE (PunchTcpTransport, punch_tcp_transport, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_REUSE_PORT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_INCOMING,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static GSocketFamily
family_of (GInetSocketAddress *address)
{
  return g_socket_address_get_family (G_SOCKET_ADDRESS (address));
}

static char *
address_to_string (GInetSocketAddress *address)
{
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (address));

  if (family_of (address) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]:%u", ip, g_inet_socket_address_get_port (address));
  return g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (address));
}

static gboolean
set_common_options (GSocket *socket, GError **error)
{
  if (!g_socket_set_option (socket, SOL_SOCKET, SO_REUSEADDR, 1, error) ||
      !g_socket_set_option (socket, SOL_SOCKET, SO_REUSEPORT, 1, error))
    {
      g_prefix_error (error, "setting SO_REUSEADDR/SO_REUSEPORT: ");
      return FALSE;
    }
  return TRUE;
}

static gboolean
set_nodelay (GSocket *socket, GError **error)
{
  if (!g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, error))
    {
      g_prefix_error (error, "setting TCP_NODELAY: ");
      return FALSE;
    }
  return TRUE;
}

/* Not g_socket_bind(): it resets SO_REUSEPORT on stream sockets. */
static gboolean
bind_socket (GSocket *socket, GInetSocketAddress *address, GError **error)
{
  struct sockaddr_storage native;
  gssize len = g_socket_address_get_native_size (G_SOCKET_ADDRESS (address));

  if (len < 0 || (gsize) len > sizeof native ||
      !g_socket_address_to_native (G_SOCKET_ADDRESS (address), &native, sizeof native, error))
    {
      g_prefix_error (error, "binding: ");
      return FALSE;
    }
  if (bind (g_socket_get_fd (socket), (struct sockaddr *) &native, (socklen_t) len) != 0)
    {
      int errsv = errno;
      g_autofree char *where = address_to_string (address);

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "cannot bind to %s: %s", where, g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

static GSocket *
new_tcp_socket (GSocketFamily family, GError **error)
{
  g_autoptr (GSocket) socket = NULL;

  socket = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return NULL;
  if (!set_common_options (socket, error))
    return NULL;
  return g_steal_pointer (&socket);
}

/* Listener lifetime ------------------------------------------------------ */

static void
listener_clear (Listener *listener)
{
  listener->closed = TRUE;
  if (listener->source != NULL)
    {
      g_source_destroy (listener->source);
      g_clear_pointer (&listener->source, g_source_unref);
    }
  if (listener->pause_source != NULL)
    {
      g_source_destroy (listener->pause_source);
      g_clear_pointer (&listener->pause_source, g_source_unref);
    }
  if (listener->socket != NULL)
    g_socket_close (listener->socket, NULL);
  g_clear_object (&listener->socket);
  g_clear_object (&listener->address);
}

static void
listener_release (Listener *listener)
{
  g_rc_box_release_full (listener, (GDestroyNotify) listener_clear);
}

static void
listener_close (Listener *listener)
{
  listener->closed = TRUE;
  listener_release (listener);
}

static void listener_watch (Listener *listener);

static gboolean
on_accept_resume (gpointer user_data)
{
  Listener *listener = user_data;

  g_clear_pointer (&listener->pause_source, g_source_unref);
  if (!listener->closed)
    listener_watch (listener);
  return G_SOURCE_REMOVE;
}

static gboolean
on_acceptable (GSocket      *socket,
               GIOCondition  condition,
               gpointer      user_data)
{
  Listener *listener = g_rc_box_acquire ((Listener *) user_data);
  g_autoptr (PunchTcpTransport) self = g_object_ref (listener->transport);
  gboolean keep = G_SOURCE_CONTINUE;

  /* A handler of "incoming" may close the transport; the references above
   * keep both alive until this loop has seen listener->closed. */
  while (!listener->closed)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GSocket) peer = NULL;
      g_autoptr (GSocketConnection) connection = NULL;

      peer = g_socket_accept (socket, NULL, &error);
      if (peer == NULL)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            break;
          g_debug ("tcp: accept failed, pausing listener for %d ms: %s",
                   ACCEPT_PAUSE_MS, error->message);
          g_clear_pointer (&listener->source, g_source_unref);
          listener->pause_source = g_timeout_source_new (ACCEPT_PAUSE_MS);
          g_source_set_static_name (listener->pause_source, "punch-tcp-accept-pause");
          g_source_set_callback (listener->pause_source, on_accept_resume, listener, NULL);
          g_source_attach (listener->pause_source, g_main_context_get_thread_default ());
          keep = G_SOURCE_REMOVE;
          break;
        }

      if (!set_nodelay (peer, &error) || !set_common_options (peer, &error))
        {
          g_debug ("tcp: dropping accepted connection: %s", error->message);
          continue;
        }

      connection = g_socket_connection_factory_create_connection (peer);
      {
        g_autoptr (GSocketAddress) remote = g_socket_get_remote_address (peer, NULL);

        if (G_IS_INET_SOCKET_ADDRESS (remote))
          {
            g_autofree char *str = address_to_string (G_INET_SOCKET_ADDRESS (remote));
            g_debug ("tcp: accepted connection from %s", str);
          }
      }
      g_signal_emit (self, signals[SIGNAL_INCOMING], 0, connection);
    }

  if (listener->closed)
    keep = G_SOURCE_REMOVE;
  listener_release (listener);
  return keep;
}

static void
listener_watch (Listener *listener)
{
  listener->source = g_socket_create_source (listener->socket, G_IO_IN, NULL);
  g_source_set_static_name (listener->source, "punch-tcp-accept");
  g_source_set_callback (listener->source, (GSourceFunc) (void (*) (void)) on_acceptable,
                         listener, NULL);
  g_source_attach (listener->source, g_main_context_get_thread_default ());
}

/* GObject ---------------------------------------------------------------- */

static void
punch_tcp_transport_dispose (GObject *object)
{
  PunchTcpTransport *self = PUNCH_TCP_TRANSPORT (object);

  punch_tcp_transport_close (self);

  G_OBJECT_CLASS (punch_tcp_transport_parent_class)->dispose (object);
}

static void
punch_tcp_transport_finalize (GObject *object)
{
  PunchTcpTransport *self = PUNCH_TCP_TRANSPORT (object);

  g_ptr_array_unref (self->listeners);

  G_OBJECT_CLASS (punch_tcp_transport_parent_class)->finalize (object);
}

static void
punch_tcp_transport_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  PunchTcpTransport *self = PUNCH_TCP_TRANSPORT (object);

  switch (prop_id)
    {
    case PROP_REUSE_PORT:
      g_value_set_boolean (value, self->reuse_port);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_tcp_transport_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  PunchTcpTransport *self = PUNCH_TCP_TRANSPORT (object);

  switch (prop_id)
    {
    case PROP_REUSE_PORT:
      punch_tcp_transport_set_reuse_port (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_tcp_transport_class_init (PunchTcpTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = punch_tcp_transport_dispose;
  object_class->finalize = punch_tcp_transport_finalize;
  object_class->get_property = punch_tcp_transport_get_property;
  object_class->set_property = punch_tcp_transport_set_property;

  /**
   * PunchTcpTransport:reuse-port:
   *
   * Whether outbound dials bind to the port of a listener of the same
   * family. Hole punching needs it: the NAT mapping of the listen port is
   * the one the remote learned about.
   */
  properties[PROP_REUSE_PORT] =
    g_param_spec_boolean ("reuse-port", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PunchTcpTransport::incoming:
   * @self: the transport
   * @connection: the accepted #GSocketConnection
   *
   * A remote connected to one of the listeners. Take a reference to keep
   * the connection; it is closed when the last reference goes.
   */
  signals[SIGNAL_INCOMING] =
    g_signal_new ("incoming",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_SOCKET_CONNECTION);
}

static void
punch_tcp_transport_init (PunchTcpTransport *self)
{
  self->listeners = g_ptr_array_new_with_free_func ((GDestroyNotify) listener_close);
  self->reuse_port = TRUE;
}

/**
 * punch_tcp_transport_new:
 *
 * Returns: (transfer full): a transport with no listeners
 */
PunchTcpTransport *
punch_tcp_transport_new (void)
{
  return g_object_new (PUNCH_TYPE_TCP_TRANSPORT, NULL);
}

/**
 * punch_tcp_transport_set_reuse_port:
 * @self: a #PunchTcpTransport
 * @reuse: whether dials bind to the listen port
 *
 * Sets #PunchTcpTransport:reuse-port.
 */
void
punch_tcp_transport_set_reuse_port (PunchTcpTransport *self, gboolean reuse)
{
  g_return_if_fail (PUNCH_IS_TCP_TRANSPORT (self));

  reuse = !!reuse;
  if (self->reuse_port == reuse)
    return;
  self->reuse_port = reuse;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REUSE_PORT]);
}

/**
 * punch_tcp_transport_listen:
 * @self: a #PunchTcpTransport
 * @address: the address to bind; port 0 picks a free one
 * @error: return location for a #GError
 *
 * Binds a listening socket with SO_REUSEADDR and SO_REUSEPORT (and
 * IPV6_V6ONLY for IPv6, so that an IPv4 and an IPv6 listener can share a
 * port) and starts emitting #PunchTcpTransport::incoming on the thread-default
 * main context.
 *
 * Returns: (transfer full): the bound address, or %NULL
 */
GInetSocketAddress *
punch_tcp_transport_listen (PunchTcpTransport  *self,
                            GInetSocketAddress *address,
                            GError            **error)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) bound = NULL;
  g_autofree char *where = NULL;
  GSocketFamily family;
  Listener *listener;

  g_return_val_if_fail (PUNCH_IS_TCP_TRANSPORT (self), NULL);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (address), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  where = address_to_string (address);
  family = family_of (address);
  socket = new_tcp_socket (family, error);
  if (socket == NULL)
    {
      g_prefix_error (error, "listening on %s: ", where);
      return NULL;
    }
  /* GSocket makes IPv6 sockets dual-stack; that would take the IPv4 port. */
  if (family == G_SOCKET_FAMILY_IPV6 &&
      !g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, 1, error))
    {
      g_prefix_error (error, "listening on %s: setting IPV6_V6ONLY: ", where);
      return NULL;
    }
  g_socket_set_blocking (socket, FALSE);
  g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
  if (!bind_socket (socket, address, error))
    return NULL;
  if (!g_socket_listen (socket, error))
    {
      g_prefix_error (error, "listening on %s: ", where);
      return NULL;
    }
  bound = g_socket_get_local_address (socket, error);
  if (bound == NULL)
    return NULL;

  listener = g_rc_box_new0 (Listener);
  listener->transport = self;
  listener->socket = g_steal_pointer (&socket);
  listener->address = G_INET_SOCKET_ADDRESS (g_object_ref (bound));
  listener_watch (listener);
  g_ptr_array_add (self->listeners, listener);

  g_clear_pointer (&where, g_free);
  where = address_to_string (listener->address);
  g_debug ("tcp: listening on %s", where);

  return G_INET_SOCKET_ADDRESS (g_steal_pointer (&bound));
}

/**
 * punch_tcp_transport_get_listen_addresses:
 * @self: a #PunchTcpTransport
 *
 * Returns: (transfer container) (element-type GInetSocketAddress): the bound
 *   addresses of all listeners
 */
GPtrArray *
punch_tcp_transport_get_listen_addresses (PunchTcpTransport *self)
{
  GPtrArray *out;

  g_return_val_if_fail (PUNCH_IS_TCP_TRANSPORT (self), NULL);

  out = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < self->listeners->len; i++)
    {
      Listener *listener = g_ptr_array_index (self->listeners, i);
      g_ptr_array_add (out, g_object_ref (listener->address));
    }
  return out;
}

/**
 * punch_tcp_transport_close:
 * @self: a #PunchTcpTransport
 *
 * Closes all listeners. Connections already made are not affected, nor are
 * dials in progress (they stop binding to a listen port from now on).
 */
void
punch_tcp_transport_close (PunchTcpTransport *self)
{
  g_return_if_fail (PUNCH_IS_TCP_TRANSPORT (self));

  g_ptr_array_set_size (self->listeners, 0);
}

/* Dialing ---------------------------------------------------------------- */

typedef struct
{
  GSocket            *socket;
  GInetSocketAddress *remote;
  char               *remote_str;
  guint               timeout_ms;
  guint16             local_port;   /* 0 when not bound to a listen port */
  GSource            *connect_source;
  GSource            *timeout_source;
  gboolean            done;
} Dial;

static void
dial_stop_sources (Dial *dial)
{
  if (dial->connect_source != NULL)
    {
      g_source_destroy (dial->connect_source);
      g_clear_pointer (&dial->connect_source, g_source_unref);
    }
  if (dial->timeout_source != NULL)
    {
      g_source_destroy (dial->timeout_source);
      g_clear_pointer (&dial->timeout_source, g_source_unref);
    }
}

static void
dial_free (Dial *dial)
{
  dial_stop_sources (dial);
  g_clear_object (&dial->socket);
  g_clear_object (&dial->remote);
  g_free (dial->remote_str);
  g_free (dial);
}

/* Called exactly once per dial, with either an error or success. */
static void
dial_complete (GTask *task, GError *error)
{
  Dial *dial = g_task_get_task_data (task);
  GSocketConnection *connection;

  dial->done = TRUE;
  dial_stop_sources (dial);

  if (error != NULL)
    {
      g_debug ("tcp: %s", error->message);
      if (dial->socket != NULL)
        g_socket_close (dial->socket, NULL);
      g_task_return_error (task, error);
      return;
    }

  /* Blocking is GIO's default for a connected socket; async stream calls
   * do not depend on it. */
  g_socket_set_blocking (dial->socket, TRUE);
  connection = g_socket_connection_factory_create_connection (dial->socket);
  {
    g_autoptr (GSocketAddress) local = g_socket_get_local_address (dial->socket, NULL);

    g_debug ("tcp: connected to %s from port %u (%s)", dial->remote_str,
             G_IS_INET_SOCKET_ADDRESS (local) ?
               g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)) : 0,
             dial->local_port != 0 ? "the listen port" : "ephemeral");
  }
  g_task_return_pointer (task, connection, g_object_unref);
}

static GError *
connect_error (Dial *dial, const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    return g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED,
                        "connection to %s refused", dial->remote_str);
  return g_error_new (error->domain, error->code, "connecting to %s: %s",
                      dial->remote_str, error->message);
}

static gboolean
on_dial_timeout (gpointer user_data)
{
  GTask *task = user_data;
  Dial *dial = g_task_get_task_data (task);
  GError *error;

  g_clear_pointer (&dial->timeout_source, g_source_unref);
  if (dial->timeout_ms % 1000 == 0)
    error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                         "timed out after %u s connecting to %s",
                         dial->timeout_ms / 1000, dial->remote_str);
  else
    error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                         "timed out after %u ms connecting to %s",
                         dial->timeout_ms, dial->remote_str);
  dial_complete (task, error);
  return G_SOURCE_REMOVE;
}

static gboolean
on_connectable (GSocket      *socket,
                GIOCondition  condition,
                gpointer      user_data)
{
  GTask *task = user_data;
  Dial *dial = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  g_clear_pointer (&dial->connect_source, g_source_unref);

  /* The source also fires on cancellation. */
  if (g_cancellable_set_error_if_cancelled (g_task_get_cancellable (task), &error))
    {
      dial_complete (task, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                        "dial to %s cancelled", dial->remote_str));
      return G_SOURCE_REMOVE;
    }
  if (!g_socket_check_connect_result (socket, &error))
    {
      dial_complete (task, connect_error (dial, error));
      return G_SOURCE_REMOVE;
    }
  if (!set_nodelay (socket, &error))
    {
      dial_complete (task, g_steal_pointer (&error));
      return G_SOURCE_REMOVE;
    }
  dial_complete (task, NULL);
  return G_SOURCE_REMOVE;
}

/* The listen port for dials to @remote: one of a listener of the same
 * family, preferring one whose address scope (loopback or not) matches. */
static guint16
pick_listen_port (PunchTcpTransport *self, GInetSocketAddress *remote)
{
  GInetAddress *remote_ip = g_inet_socket_address_get_address (remote);
  gboolean remote_loopback = g_inet_address_get_is_loopback (remote_ip);
  guint16 fallback = 0;

  for (guint i = 0; i < self->listeners->len; i++)
    {
      Listener *listener = g_ptr_array_index (self->listeners, i);
      GInetAddress *ip = g_inet_socket_address_get_address (listener->address);

      if (family_of (listener->address) !=
          family_of (remote))
        continue;
      if (g_inet_address_get_is_any (ip) ||
          g_inet_address_get_is_loopback (ip) == remote_loopback)
        return g_inet_socket_address_get_port (listener->address);
      if (fallback == 0)
        fallback = g_inet_socket_address_get_port (listener->address);
    }
  return fallback;
}

/* Creates the socket and starts connecting. Returns FALSE when the attempt
 * failed at once; a failure that a fresh ephemeral port could avoid is
 * retried here. */
static gboolean
dial_start (GTask *task, guint16 local_port, GError **error)
{
  Dial *dial = g_task_get_task_data (task);
  GSocketFamily family = family_of (dial->remote);
  g_autoptr (GError) local_error = NULL;

  g_clear_object (&dial->socket);
  dial->local_port = local_port;
  dial->socket = new_tcp_socket (family, error);
  if (dial->socket == NULL)
    return FALSE;
  if (!set_nodelay (dial->socket, error))
    return FALSE;
  g_socket_set_blocking (dial->socket, FALSE);

  if (local_port != 0)
    {
      g_autoptr (GInetAddress) any = g_inet_address_new_any (family);
      g_autoptr (GSocketAddress) local = g_inet_socket_address_new (any, local_port);

      /* With SO_REUSEPORT on the listener and on this socket, Linux lets
       * both hold the port; connect() then fails with EADDRNOTAVAIL if the
       * 4-tuple is taken, e.g. by a connection the remote made to us. An
       * IPv6 wildcard must not also claim the IPv4 port. */
      if (family == G_SOCKET_FAMILY_IPV6 &&
          !g_socket_set_option (dial->socket, IPPROTO_IPV6, IPV6_V6ONLY, 1, &local_error))
        goto retry;
      if (!bind_socket (dial->socket, G_INET_SOCKET_ADDRESS (local), &local_error))
        goto retry;
    }

  if (g_socket_connect (dial->socket, G_SOCKET_ADDRESS (dial->remote),
                        g_task_get_cancellable (task), &local_error))
    {
      dial_complete (task, NULL);
      return TRUE;
    }
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_PENDING))
    {
      dial->connect_source = g_socket_create_source (dial->socket, G_IO_OUT,
                                                     g_task_get_cancellable (task));
      g_source_set_static_name (dial->connect_source, "punch-tcp-connect");
      g_source_set_callback (dial->connect_source,
                             (GSourceFunc) (void (*) (void)) on_connectable,
                             g_object_ref (task), g_object_unref);
      g_source_attach (dial->connect_source, g_task_get_context (task));
      return TRUE;
    }
  if (local_port != 0 &&
      (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE) ||
       g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_FAILED)))
    goto retry;

  g_propagate_error (error, connect_error (dial, local_error));
  return FALSE;

retry:
  g_debug ("tcp: cannot dial %s from listen port %u (%s); retrying from an ephemeral port",
           dial->remote_str, local_port, local_error->message);
  g_socket_close (dial->socket, NULL);
  return dial_start (task, 0, error);
}

/**
 * punch_tcp_transport_dial_async:
 * @self: a #PunchTcpTransport
 * @remote: the address to connect to
 * @timeout_ms: how long to wait for the connection, 0 for 10 s
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when connected or failed
 * @user_data: data for @callback
 *
 * Connects to @remote. When #PunchTcpTransport:reuse-port is set and a
 * listener of the same family exists, the socket is bound to the listen port
 * first, so the remote (and any NAT on the way) sees the port it could dial
 * back; if that port cannot be used for this 4-tuple, an ephemeral port is
 * used instead. Fails with %G_IO_ERROR_CONNECTION_REFUSED,
 * %G_IO_ERROR_TIMED_OUT, %G_IO_ERROR_CANCELLED or another %G_IO_ERROR.
 */
void
punch_tcp_transport_dial_async (PunchTcpTransport  *self,
                                GInetSocketAddress *remote,
                                guint               timeout_ms,
                                GCancellable       *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer            user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;
  Dial *dial;

  g_return_if_fail (PUNCH_IS_TCP_TRANSPORT (self));
  g_return_if_fail (G_IS_INET_SOCKET_ADDRESS (remote));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_tcp_transport_dial_async);
  dial = g_new0 (Dial, 1);
  dial->remote = g_object_ref (remote);
  dial->remote_str = address_to_string (remote);
  dial->timeout_ms = timeout_ms != 0 ? timeout_ms : DEFAULT_DIAL_TIMEOUT_MS;
  g_task_set_task_data (task, dial, (GDestroyNotify) dial_free);

  if (g_cancellable_is_cancelled (cancellable))
    {
      dial_complete (task, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                        "dial to %s cancelled", dial->remote_str));
      return;
    }

  if (!dial_start (task, self->reuse_port ? pick_listen_port (self, remote) : 0, &error))
    {
      dial_complete (task, g_steal_pointer (&error));
      return;
    }
  if (dial->done)
    return;

  dial->timeout_source = g_timeout_source_new (dial->timeout_ms);
  g_source_set_static_name (dial->timeout_source, "punch-tcp-dial-timeout");
  /* Each source holds the task until dial_complete() destroys both. */
  g_source_set_callback (dial->timeout_source, on_dial_timeout,
                         g_object_ref (task), g_object_unref);
  g_source_attach (dial->timeout_source, g_task_get_context (task));
}

/**
 * punch_tcp_transport_dial_finish:
 * @self: a #PunchTcpTransport
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the connection, or %NULL
 */
GSocketConnection *
punch_tcp_transport_dial_finish (PunchTcpTransport *self,
                                 GAsyncResult      *result,
                                 GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == punch_tcp_transport_dial_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
