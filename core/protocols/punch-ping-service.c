/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-ping-service.h"

#include "punch-error.h"
#include "punch-protocols-private.h"

/* The spec's limits: one outbound stream per peer (we keep one per
 * connection), at most two inbound. */
#define MAX_INBOUND_STREAMS_PER_PEER 2
/* go closes an inbound ping stream after 10 s without a ping; js times out
 * after 10 s too. */
#define INBOUND_IDLE_TIMEOUT_MS      10000
/* go's ping stream deadline. */
#define PING_TIMEOUT_MS              30000

struct _PunchPingService
{
  GObject       parent_instance;

  PunchHost    *host;
  /* Cancelled in dispose; inbound echo loops hold it to learn that we are
   * gone and that the counters below must not be touched. */
  GCancellable *cancellable;
  GHashTable   *inbound;   /* PunchPeerId → number of inbound streams */
  GHashTable   *outbound;  /* PunchConnection → PingClient */
  gulong        connection_closed_id;
};

G_DEFINE_FINAL_TYPE (PunchPingService, punch_ping_service, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_HOST,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Inbound: echo every 32 bytes until EOF, error or 10 s of silence. */

typedef struct
{
  PunchPingService *self;         /* not owned: valid while service_cancellable is not cancelled */
  GCancellable     *service_cancellable;
  PunchPeerId      *peer_id;
  GIOStream        *stream;
  PunchDeadline    *idle;
  guint8            payload[PUNCH_PING_SIZE];
} EchoOp;

static void echo_read_next (EchoOp *op);

static void
echo_op_finish (EchoOp *op,
                gboolean failed)
{
  if (failed)
    punch_protocol_abort_stream (op->stream);
  else
    punch_protocol_close_stream (op->stream);

  if (!g_cancellable_is_cancelled (op->service_cancellable))
    {
      guint count = GPOINTER_TO_UINT (g_hash_table_lookup (op->self->inbound, op->peer_id));

      if (count <= 1)
        g_hash_table_remove (op->self->inbound, op->peer_id);
      else
        g_hash_table_insert (op->self->inbound, punch_peer_id_ref (op->peer_id),
                             GUINT_TO_POINTER (count - 1));
    }

  g_clear_object (&op->service_cancellable);
  g_clear_pointer (&op->peer_id, punch_peer_id_unref);
  g_clear_object (&op->stream);
  g_clear_pointer (&op->idle, punch_deadline_free);
  g_free (op);
}

static void
on_echo_written (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  EchoOp *op = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      g_debug ("Ping echo failed: %s", error->message);
      echo_op_finish (op, TRUE);
      return;
    }

  echo_read_next (op);
}

static void
on_echo_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  EchoOp *op = user_data;
  g_autoptr (GError) error = NULL;
  gsize n_read = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &n_read, &error))
    {
      punch_deadline_adjust_error (op->idle, &error, "Idle ping stream");
      g_debug ("Inbound ping stream ends: %s", error->message);
      echo_op_finish (op, TRUE);
      return;
    }
  if (n_read == 0)
    {
      echo_op_finish (op, FALSE);
      return;
    }
  if (n_read < PUNCH_PING_SIZE)
    {
      g_debug ("Inbound ping stream ended in the middle of a ping (%zu bytes)", n_read);
      echo_op_finish (op, TRUE);
      return;
    }

  g_output_stream_write_all_async (g_io_stream_get_output_stream (op->stream),
                                   op->payload, PUNCH_PING_SIZE, G_PRIORITY_DEFAULT,
                                   punch_deadline_get_cancellable (op->idle),
                                   on_echo_written, op);
}

static void
echo_read_next (EchoOp *op)
{
  punch_deadline_restart (op->idle);
  g_input_stream_read_all_async (g_io_stream_get_input_stream (op->stream),
                                 op->payload, PUNCH_PING_SIZE, G_PRIORITY_DEFAULT,
                                 punch_deadline_get_cancellable (op->idle),
                                 on_echo_read, op);
}

static void
handle_ping (PunchHost       *host,
             PunchConnection *connection,
             GIOStream       *stream,
             const char      *protocol,
             gpointer         user_data)
{
  PunchPingService *self = user_data;
  PunchPeerId *peer_id = punch_connection_get_peer_id (connection);
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (self->inbound, peer_id));
  EchoOp *op;

  if (count >= MAX_INBOUND_STREAMS_PER_PEER)
    {
      g_debug ("Refusing a ping stream from %s: it already has %u",
               punch_peer_id_to_string (peer_id), count);
      punch_protocol_abort_stream (stream);
      return;
    }
  g_hash_table_insert (self->inbound, punch_peer_id_ref (peer_id), GUINT_TO_POINTER (count + 1));

  op = g_new0 (EchoOp, 1);
  op->self = self;
  op->service_cancellable = g_object_ref (self->cancellable);
  op->peer_id = punch_peer_id_ref (peer_id);
  op->stream = g_object_ref (stream);
  op->idle = punch_deadline_new (self->cancellable, INBOUND_IDLE_TIMEOUT_MS);
  echo_read_next (op);
}

/* Outbound: one stream per connection, pings on it one at a time. */

typedef struct
{
  PunchConnection *connection;
  GIOStream       *stream;    /* NULL until opened, and after a failure */
  GQueue           queue;     /* GTask waiting for their turn */
  GTask           *current;
  /* Set while a ping's callback runs: it may close the connection, which
   * must not free us under our feet. */
  gboolean         completing;
} PingClient;

typedef struct
{
  PingClient    *client;      /* valid while the task is current */
  PunchDeadline *deadline;
  gint64         started;
  gboolean       reused;      /* sent on a stream an earlier ping opened */
  gboolean       retried;
  guint8         sent[PUNCH_PING_SIZE];
  guint8         received[PUNCH_PING_SIZE];
} PingOp;

static void
ping_op_free (PingOp *op)
{
  g_clear_pointer (&op->deadline, punch_deadline_free);
  g_free (op);
}

static void
ping_client_free (PingClient *client)
{
  GTask *task;

  /* Only reached when no ping is current: each holds a service reference. */
  g_assert (client->current == NULL);
  while ((task = g_queue_pop_head (&client->queue)) != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CLOSED, "Connection closed");
      g_object_unref (task);
    }
  if (client->stream != NULL)
    punch_protocol_close_stream (client->stream);
  g_clear_object (&client->stream);
  g_clear_object (&client->connection);
  g_free (client);
}

static void ping_client_run_next (PingClient *client);
static void ping_client_start (PingClient *client);

/* js's ping handler resets every stream 10 s after it opened, busy or not;
 * go's after 10 s of silence. A ping that finds its reused stream gone is
 * retried once on a new one rather than reported as lost. */
static gboolean
ping_should_retry (PingClient   *client,
                   PingOp       *op,
                   const GError *error)
{
  return op->reused && !op->retried &&
         punch_connection_get_state (client->connection) == PUNCH_CONNECTION_STATE_OPEN &&
         (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED));
}

/* Ends the current ping; the stream is dropped after any failure, since it
 * may hold half a ping. */
static void
ping_client_complete (PingClient *client,
                      gint64      rtt,
                      GError     *error)
{
  g_autoptr (GTask) task = NULL;
  PunchPingService *self;
  PingOp *op = g_task_get_task_data (client->current);

  if (error != NULL && ping_should_retry (client, op, error))
    {
      g_debug ("Ping stream to %s went away (%s); retrying on a new one",
               punch_peer_id_to_string (punch_connection_get_peer_id (client->connection)),
               error->message);
      g_error_free (error);
      op->retried = TRUE;
      if (client->stream != NULL)
        punch_protocol_abort_stream (client->stream);
      g_clear_object (&client->stream);
      ping_client_start (client);
      return;
    }

  task = g_steal_pointer (&client->current);
  self = g_task_get_source_object (task);
  op->client = NULL;
  client->completing = TRUE;
  if (error != NULL)
    {
      punch_deadline_adjust_error (op->deadline, &error, "Ping");
      if (client->stream != NULL)
        punch_protocol_abort_stream (client->stream);
      g_clear_object (&client->stream);
      g_task_return_error (task, error);
    }
  else
    g_task_return_int (task, rtt);
  client->completing = FALSE;

  /* The connection may have closed meanwhile and left us unregistered; and a
   * callback run from g_task_return_*() may already have started the next
   * ping. */
  if (g_hash_table_lookup (self->outbound, client->connection) != client)
    {
      /* A ping started by the callback frees us when it completes. */
      if (client->current == NULL)
        ping_client_free (client);
    }
  else if (client->current == NULL)
    ping_client_run_next (client);
}

static void
on_pong_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  PingClient *client = user_data;
  PingOp *op = g_task_get_task_data (client->current);
  GError *error = NULL;
  gsize n_read = 0;
  gint64 rtt;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &n_read, &error))
    {
      ping_client_complete (client, -1, error);
      return;
    }
  if (n_read < PUNCH_PING_SIZE)
    {
      ping_client_complete (client, -1,
                            g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                         "Ping stream closed after %zu of %d bytes",
                                         n_read, PUNCH_PING_SIZE));
      return;
    }

  rtt = g_get_monotonic_time () - op->started;
  if (memcmp (op->sent, op->received, PUNCH_PING_SIZE) != 0)
    {
      ping_client_complete (client, -1,
                            g_error_new (PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                                         "Ping answer does not match the payload sent"));
      return;
    }

  punch_connection_add_rtt_sample (client->connection, rtt);
  ping_client_complete (client, rtt, NULL);
}

static void
on_ping_written (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  PingClient *client = user_data;
  PingOp *op = g_task_get_task_data (client->current);
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      ping_client_complete (client, -1, error);
      return;
    }

  g_input_stream_read_all_async (g_io_stream_get_input_stream (client->stream),
                                 op->received, PUNCH_PING_SIZE, G_PRIORITY_DEFAULT,
                                 punch_deadline_get_cancellable (op->deadline),
                                 on_pong_read, client);
}

static void
ping_client_send (PingClient *client)
{
  PingOp *op = g_task_get_task_data (client->current);

  for (guint i = 0; i < PUNCH_PING_SIZE; i += sizeof (guint32))
    {
      guint32 r = g_random_int ();

      memcpy (op->sent + i, &r, sizeof r);
    }
  op->started = g_get_monotonic_time ();
  g_output_stream_write_all_async (g_io_stream_get_output_stream (client->stream),
                                   op->sent, PUNCH_PING_SIZE, G_PRIORITY_DEFAULT,
                                   punch_deadline_get_cancellable (op->deadline),
                                   on_ping_written, client);
}

static void
on_ping_stream_opened (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  PingClient *client = user_data;
  GError *error = NULL;

  client->stream = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result,
                                                        NULL, &error);
  if (client->stream == NULL)
    {
      ping_client_complete (client, -1, error);
      return;
    }

  ping_client_send (client);
}

static void
ping_client_run_next (PingClient *client)
{
  PingOp *op;

  g_assert (client->current == NULL);
  for (;;)
    {
      client->current = g_queue_pop_head (&client->queue);
      if (client->current == NULL)
        return;
      /* A ping cancelled while it waited must not cost the stream. */
      if (!g_task_return_error_if_cancelled (client->current))
        break;
      g_clear_object (&client->current);
    }

  op = g_task_get_task_data (client->current);
  op->client = client;
  op->deadline = punch_deadline_new (g_task_get_cancellable (client->current), PING_TIMEOUT_MS);
  ping_client_start (client);
}

/* Sends the current ping, on a new stream when there is none. */
static void
ping_client_start (PingClient *client)
{
  static const char * const protocols[] = { PUNCH_PING_PROTOCOL, NULL };
  PingOp *op = g_task_get_task_data (client->current);

  op->reused = client->stream != NULL;
  if (client->stream == NULL)
    punch_connection_open_stream_async (client->connection, protocols,
                                        punch_deadline_get_cancellable (op->deadline),
                                        on_ping_stream_opened, client);
  else
    ping_client_send (client);
}

/**
 * punch_ping_service_ping_async:
 * @self: the service
 * @connection: an open connection
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the result
 * @user_data: for @callback
 *
 * Sends one ping on @connection's ping stream (opened on first use) and
 * records the round trip on the connection. Pings on one connection run one
 * after the other. A wrong echo fails with %PUNCH_ERROR_PROTOCOL; a ping
 * fails with %G_IO_ERROR_TIMED_OUT after 30 seconds.
 */
void
punch_ping_service_ping_async (PunchPingService   *self,
                               PunchConnection    *connection,
                               GCancellable       *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer            user_data)
{
  g_autoptr (GTask) task = NULL;
  PingClient *client;

  g_return_if_fail (PUNCH_IS_PING_SERVICE (self));
  g_return_if_fail (PUNCH_IS_CONNECTION (connection));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_ping_service_ping_async);
  g_task_set_task_data (task, g_new0 (PingOp, 1), (GDestroyNotify) ping_op_free);

  if (punch_connection_get_state (connection) != PUNCH_CONNECTION_STATE_OPEN)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CLOSED,
                               "Connection is not open");
      return;
    }

  client = g_hash_table_lookup (self->outbound, connection);
  if (client == NULL)
    {
      client = g_new0 (PingClient, 1);
      client->connection = g_object_ref (connection);
      g_queue_init (&client->queue);
      g_hash_table_insert (self->outbound, connection, client);
    }

  g_queue_push_tail (&client->queue, g_steal_pointer (&task));
  if (client->current == NULL)
    ping_client_run_next (client);
}

/**
 * punch_ping_service_ping_finish:
 * @self: the service
 * @result: the result passed to the callback
 * @error: return location for an error
 *
 * Returns: the round-trip time in microseconds, or -1 on error
 */
gint64
punch_ping_service_ping_finish (PunchPingService *self,
                                GAsyncResult     *result,
                                GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), -1);

  return g_task_propagate_int (G_TASK (result), error);
}

/* A client whose ping is running (or completing) is freed when that ping
 * completes. */
static gboolean
drop_idle_client (PingClient *client)
{
  if (client->current != NULL || client->completing)
    return FALSE;
  ping_client_free (client);
  return TRUE;
}

static void
on_connection_closed (PunchHost       *host,
                      PunchConnection *connection,
                      GError          *error,
                      gpointer         user_data)
{
  PunchPingService *self = user_data;
  PingClient *client = g_hash_table_lookup (self->outbound, connection);

  if (client == NULL)
    return;

  g_hash_table_steal (self->outbound, connection);
  drop_idle_client (client);
}

static void
punch_ping_service_constructed (GObject *object)
{
  PunchPingService *self = PUNCH_PING_SERVICE (object);

  G_OBJECT_CLASS (punch_ping_service_parent_class)->constructed (object);

  g_assert (self->host != NULL);
  punch_host_set_stream_handler (self->host, PUNCH_PING_PROTOCOL, handle_ping, self, NULL);
  self->connection_closed_id = g_signal_connect (self->host, "connection-closed",
                                                 G_CALLBACK (on_connection_closed), self);
}

static void
punch_ping_service_dispose (GObject *object)
{
  PunchPingService *self = PUNCH_PING_SERVICE (object);
  GHashTableIter iter;
  PingClient *client;

  g_cancellable_cancel (self->cancellable);
  if (self->host != NULL)
    {
      punch_host_remove_stream_handler (self->host, PUNCH_PING_PROTOCOL);
      g_clear_signal_handler (&self->connection_closed_id, self->host);
      g_clear_object (&self->host);
    }

  /* Running pings hold a reference on us, so no client is busy here. */
  g_hash_table_iter_init (&iter, self->outbound);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &client))
    {
      g_hash_table_iter_steal (&iter);
      drop_idle_client (client);
    }
  g_hash_table_remove_all (self->inbound);

  G_OBJECT_CLASS (punch_ping_service_parent_class)->dispose (object);
}

static void
punch_ping_service_finalize (GObject *object)
{
  PunchPingService *self = PUNCH_PING_SERVICE (object);

  g_clear_pointer (&self->inbound, g_hash_table_unref);
  g_clear_pointer (&self->outbound, g_hash_table_unref);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (punch_ping_service_parent_class)->finalize (object);
}

static void
punch_ping_service_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  PunchPingService *self = PUNCH_PING_SERVICE (object);

  switch (prop_id)
    {
    case PROP_HOST:
      g_value_set_object (value, self->host);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_ping_service_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  PunchPingService *self = PUNCH_PING_SERVICE (object);

  switch (prop_id)
    {
    case PROP_HOST:
      self->host = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_ping_service_class_init (PunchPingServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = punch_ping_service_constructed;
  object_class->dispose = punch_ping_service_dispose;
  object_class->finalize = punch_ping_service_finalize;
  object_class->get_property = punch_ping_service_get_property;
  object_class->set_property = punch_ping_service_set_property;

  properties[PROP_HOST] =
    g_param_spec_object ("host", NULL, NULL,
                         PUNCH_TYPE_HOST,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
punch_ping_service_init (PunchPingService *self)
{
  self->cancellable = g_cancellable_new ();
  self->inbound = g_hash_table_new_full (punch_peer_id_hash, punch_peer_id_equal,
                                         (GDestroyNotify) punch_peer_id_unref, NULL);
  self->outbound = g_hash_table_new (g_direct_hash, g_direct_equal);
}

/**
 * punch_ping_service_new:
 * @host: the host to serve and ping for
 *
 * Returns: (transfer full): a new service, answering pings on @host
 */
PunchPingService *
punch_ping_service_new (PunchHost *host)
{
  g_return_val_if_fail (PUNCH_IS_HOST (host), NULL);

  return g_object_new (PUNCH_TYPE_PING_SERVICE, "host", host, NULL);
}
