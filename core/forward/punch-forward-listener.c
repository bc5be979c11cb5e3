/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-forward-listener.h"

#include <string.h>

#include "punch-error.h"

/* Redial backoff: the first dial at once, then 0.5 s doubling up to 10 s. */
#define REDIAL_FIRST_MS 500
#define REDIAL_MAX_MS   10000

typedef struct
{
  GSocketConnection *conn;
  gint64             deadline;  /* monotonic µs */
} Waiting;

struct _PunchForwardListener
{
  GObject              parent_instance;

  PunchForwardService *service;
  PunchPeerId         *peer_id;
  char                *name;
  GSocketService      *listener;
  GCancellable        *cancellable;
  guint                active;

  /* Redialing: accepted connections wait here while there is no
   * connection to the peer. */
  PunchMultiaddr      *dial_addr;
  guint                wait_ms;
  GQueue               waiting;   /* Waiting */
  gboolean             dialing;
  guint                attempt;
  guint                retry_id;
};

G_DEFINE_FINAL_TYPE (PunchForwardListener, punch_forward_listener, G_TYPE_OBJECT)

enum
{
  SIGNAL_FORWARD_FINISHED,
  SIGNAL_REDIAL,
  SIGNAL_RECONNECTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
on_forwarded (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (PunchForwardListener) self = user_data;
  g_autoptr (GError) error = NULL;
  guint64 out = 0, in = 0;

  punch_forward_service_forward_finish (PUNCH_FORWARD_SERVICE (source), result, &out, &in, &error);
  self->active--;
  g_signal_emit (self, signals[SIGNAL_FORWARD_FINISHED], 0, out, in, error);
}

static void
start_forward (PunchForwardListener *self,
               GSocketConnection    *connection)
{
  punch_forward_service_forward_async (self->service, self->peer_id, self->name, connection,
                                       self->cancellable, on_forwarded, g_object_ref (self));
}

static void
waiting_free (Waiting *w)
{
  g_object_unref (w->conn);
  g_free (w);
}

static gboolean
have_connection (PunchForwardListener *self)
{
  return punch_host_get_connection (punch_forward_service_get_host (self->service), self->peer_id) != NULL;
}

/* Forwards the waiting connections (all of them, or those past their
 * deadline, which then fail as "not connected"). */
static void
flush_waiting (PunchForwardListener *self,
               gboolean              expired_only)
{
  gint64 now = g_get_monotonic_time ();
  GList *l = self->waiting.head;

  while (l != NULL)
    {
      GList *next = l->next;
      Waiting *w = l->data;

      if (!expired_only || now >= w->deadline)
        {
          g_queue_delete_link (&self->waiting, l);
          start_forward (self, w->conn);
          waiting_free (w);
        }
      l = next;
    }
}

static void redial (PunchForwardListener *self);

static gboolean
on_retry (gpointer user_data)
{
  PunchForwardListener *self = user_data;

  self->retry_id = 0;
  if (have_connection (self))
    {
      self->attempt = 0;
      flush_waiting (self, FALSE);
      return G_SOURCE_REMOVE;
    }
  flush_waiting (self, TRUE);
  /* Nobody waits any more: the next accepted connection dials afresh. */
  if (g_queue_is_empty (&self->waiting))
    self->attempt = 0;
  else
    redial (self);
  return G_SOURCE_REMOVE;
}

static void
on_redialed (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (PunchForwardListener) self = user_data;
  g_autoptr (PunchConnection) connection = NULL;
  g_autoptr (GError) error = NULL;
  guint delay;

  connection = punch_host_dial_finish (PUNCH_HOST (source), result, &error);
  self->dialing = FALSE;
  if (g_cancellable_is_cancelled (self->cancellable))
    return;
  if (connection != NULL && !punch_peer_id_equal (punch_connection_get_peer_id (connection), self->peer_id))
    {
      g_set_error (&error, PUNCH_ERROR, PUNCH_ERROR_PEER_ID_MISMATCH,
                   "%s answered at the forward's address, not %s",
                   punch_peer_id_to_string (punch_connection_get_peer_id (connection)),
                   punch_peer_id_to_string (self->peer_id));
      g_clear_object (&connection);
    }
  if (connection != NULL || have_connection (self))
    {
      self->attempt = 0;
      if (connection != NULL)
        g_signal_emit (self, signals[SIGNAL_RECONNECTED], 0, connection);
      flush_waiting (self, FALSE);
      return;
    }
  flush_waiting (self, TRUE);
  if (g_queue_is_empty (&self->waiting))
    {
      self->attempt = 0;
      return;
    }
  delay = REDIAL_FIRST_MS << MIN (self->attempt - 1, 5);
  delay = MIN (delay, REDIAL_MAX_MS);
  g_signal_emit (self, signals[SIGNAL_REDIAL], 0, self->attempt, delay, error);
  self->retry_id = g_timeout_add (delay, on_retry, self);
  g_source_set_name_by_id (self->retry_id, "[punchline] forward redial");
}

static void
redial (PunchForwardListener *self)
{
  g_autofree char *text = punch_multiaddr_to_string (self->dial_addr);

  self->dialing = TRUE;
  self->attempt++;
  g_debug ("forward %s: no connection to %s, dialing %s (attempt %u)",
           self->name, punch_peer_id_to_string (self->peer_id), text, self->attempt);
  punch_host_dial_async (punch_forward_service_get_host (self->service), self->dial_addr,
                         self->cancellable, on_redialed, g_object_ref (self));
}

static gboolean
on_incoming (GSocketService    *listener,
             GSocketConnection *connection,
             GObject           *source_object,
             gpointer           user_data)
{
  PunchForwardListener *self = user_data;
  Waiting *w;

  self->active++;
  if (self->dial_addr == NULL || have_connection (self))
    {
      start_forward (self, connection);
      return TRUE;
    }
  w = g_new0 (Waiting, 1);
  w->conn = g_object_ref (connection);
  w->deadline = g_get_monotonic_time () + (gint64) self->wait_ms * 1000;
  g_queue_push_tail (&self->waiting, w);
  /* One dial at a time; during a backoff the timer dials. */
  if (!self->dialing && self->retry_id == 0)
    redial (self);
  return TRUE;
}

static gboolean
split_host_port (const char *local,
                 char      **host,
                 guint16    *port,
                 GError    **error)
{
  const char *colon = local != NULL ? strrchr (local, ':') : NULL;
  g_autofree char *h = NULL;
  guint64 p;
  char *end = NULL;

  if (colon == NULL || colon == local || colon[1] == '\0')
    goto bad;
  p = g_ascii_strtoull (colon + 1, &end, 10);
  if (*end != '\0' || p > 65535)
    goto bad;
  h = g_strndup (local, colon - local);
  if (h[0] == '[' && h[strlen (h) - 1] == ']')
    {
      char *inner = g_strndup (h + 1, strlen (h) - 2);

      g_free (h);
      h = inner;
    }
  *host = g_steal_pointer (&h);
  *port = (guint16) p;
  return TRUE;

bad:
  g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
               "“%s” is not HOST:PORT", local ? local : "");
  return FALSE;
}

char *
punch_forward_listener_listen (PunchForwardListener *self,
                               const char           *local,
                               GError              **error)
{
  g_autofree char *host = NULL;
  g_autoptr (GSocketAddress) address = NULL;
  g_autoptr (GSocketAddress) effective = NULL;
  g_autofree char *ip = NULL;
  guint16 port;

  g_return_val_if_fail (PUNCH_IS_FORWARD_LISTENER (self), NULL);
  g_return_val_if_fail (self->listener == NULL, NULL);

  if (!split_host_port (local, &host, &port, error))
    return NULL;
  if (g_strcmp0 (host, "localhost") == 0)
    {
      g_free (host);
      host = g_strdup ("127.0.0.1");
    }
  address = g_inet_socket_address_new_from_string (host, port);
  if (address == NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "“%s” is not an IP address", host);
      return NULL;
    }
  self->listener = g_socket_service_new ();
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->listener), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &effective, error))
    {
      g_clear_object (&self->listener);
      return NULL;
    }
  g_signal_connect (self->listener, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->listener);
  ip = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (effective)));
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  if (strchr (ip, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", ip, port);
  return g_strdup_printf ("%s:%u", ip, port);
}

void
punch_forward_listener_close (PunchForwardListener *self)
{
  g_return_if_fail (PUNCH_IS_FORWARD_LISTENER (self));
  if (self->listener != NULL)
    {
      g_socket_service_stop (self->listener);
      g_socket_listener_close (G_SOCKET_LISTENER (self->listener));
      g_signal_handlers_disconnect_by_data (self->listener, self);
      g_clear_object (&self->listener);
    }
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  /* Cancelled: each fails at once and reports it. */
  flush_waiting (self, FALSE);
}

void
punch_forward_listener_set_redial (PunchForwardListener *self,
                                   PunchMultiaddr       *addr,
                                   guint                 wait_ms)
{
  g_return_if_fail (PUNCH_IS_FORWARD_LISTENER (self));
  g_clear_pointer (&self->dial_addr, punch_multiaddr_unref);
  if (addr != NULL)
    self->dial_addr = punch_multiaddr_ref (addr);
  self->wait_ms = wait_ms;
}

guint
punch_forward_listener_get_active (PunchForwardListener *self)
{
  g_return_val_if_fail (PUNCH_IS_FORWARD_LISTENER (self), 0);
  return self->active;
}

PunchForwardListener *
punch_forward_listener_new (PunchForwardService *service,
                            PunchPeerId         *peer_id,
                            const char          *name)
{
  PunchForwardListener *self;

  g_return_val_if_fail (PUNCH_IS_FORWARD_SERVICE (service), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  self = g_object_new (PUNCH_TYPE_FORWARD_LISTENER, NULL);
  self->service = g_object_ref (service);
  self->peer_id = punch_peer_id_ref (peer_id);
  self->name = g_strdup (name);
  return self;
}

static void
punch_forward_listener_dispose (GObject *object)
{
  PunchForwardListener *self = PUNCH_FORWARD_LISTENER (object);

  punch_forward_listener_close (self);
  g_clear_object (&self->service);
  G_OBJECT_CLASS (punch_forward_listener_parent_class)->dispose (object);
}

static void
punch_forward_listener_finalize (GObject *object)
{
  PunchForwardListener *self = PUNCH_FORWARD_LISTENER (object);

  g_clear_pointer (&self->peer_id, punch_peer_id_unref);
  g_clear_pointer (&self->dial_addr, punch_multiaddr_unref);
  g_free (self->name);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (punch_forward_listener_parent_class)->finalize (object);
}

static void
punch_forward_listener_class_init (PunchForwardListenerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = punch_forward_listener_dispose;
  object_class->finalize = punch_forward_listener_finalize;

  signals[SIGNAL_FORWARD_FINISHED] =
    g_signal_new ("forward-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_UINT64, G_TYPE_UINT64, G_TYPE_ERROR);
  signals[SIGNAL_REDIAL] =
    g_signal_new ("redial", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_UINT, G_TYPE_UINT, G_TYPE_ERROR);
  signals[SIGNAL_RECONNECTED] =
    g_signal_new ("reconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, PUNCH_TYPE_CONNECTION);
}

static void
punch_forward_listener_init (PunchForwardListener *self)
{
  self->cancellable = g_cancellable_new ();
  g_queue_init (&self->waiting);
}
