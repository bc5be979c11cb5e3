/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-forward-listener.h"

#include <string.h>

#include "punch-error.h"

struct _PunchForwardListener
{
  GObject              parent_instance;

  PunchForwardService *service;
  PunchPeerId         *peer_id;
  char                *name;
  GSocketService      *listener;
  GCancellable        *cancellable;
  guint                active;
};

G_DEFINE_FINAL_TYPE (PunchForwardListener, punch_forward_listener, G_TYPE_OBJECT)

enum
{
  SIGNAL_FORWARD_FINISHED,
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

static gboolean
on_incoming (GSocketService    *listener,
             GSocketConnection *connection,
             GObject           *source_object,
             gpointer           user_data)
{
  PunchForwardListener *self = user_data;

  self->active++;
  punch_forward_service_forward_async (self->service, self->peer_id, self->name, connection,
                                       self->cancellable, on_forwarded, g_object_ref (self));
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
}

static void
punch_forward_listener_init (PunchForwardListener *self)
{
  self->cancellable = g_cancellable_new ();
}
