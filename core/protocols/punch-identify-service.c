/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-identify-service.h"

#include "identify.pb-c.h"
#include "punch-error.h"
#include "punch-framing.h"
#include "punch-identify-private.h"
#include "punch-protocols-private.h"

/* go-libp2p's default identify timeout. */
#define IDENTIFY_TIMEOUT_MS 5000

struct _PunchIdentifyService
{
  GObject       parent_instance;

  PunchHost    *host;
  GPtrArray    *extra_addrs;  /* PunchMultiaddr */
  /* PunchConnection → IdentifyRequest: at most one identify in flight per
   * connection; later callers wait for the same answer. */
  GHashTable   *requests;
  /* Cancelled in dispose; inbound handlers hold it to learn that we are gone. */
  GCancellable *cancellable;
  gulong        connection_opened_id;
  gulong        listen_addrs_changed_id;
};

G_DEFINE_FINAL_TYPE (PunchIdentifyService, punch_identify_service, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_HOST,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_IDENTIFIED,
  SIGNAL_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* The peer ID in the message must be the one the secure channel
 * authenticated: otherwise anyone could make us store another peer's key. */
static gboolean
identify_data_check (PunchIdentifyData *data,
                     PunchConnection   *connection,
                     GError           **error)
{
  PunchPeerId *expected = punch_connection_get_peer_id (connection);
  PunchPeerId *claimed;

  if (data->public_key == NULL)
    return TRUE;

  claimed = punch_public_key_get_peer_id (data->public_key);
  if (claimed == NULL || expected == NULL || !punch_peer_id_equal (claimed, expected))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_PEER_ID_MISMATCH,
                   "Identify public key belongs to %s, not to the connected peer %s",
                   claimed != NULL ? punch_peer_id_to_string (claimed) : "(none)",
                   expected != NULL ? punch_peer_id_to_string (expected) : "(unknown)");
      return FALSE;
    }

  return TRUE;
}

/* A full identify replaces what we knew; a push (@partial) only changes what
 * it carries. */
static PunchPeerInfo *
identify_data_apply (PunchIdentifyService *self,
                     PunchIdentifyData    *data,
                     PunchConnection      *connection,
                     gboolean              partial)
{
  PunchPeerStore *store = punch_host_get_peer_store (self->host);
  PunchPeerInfo *info = punch_peer_store_ensure (store, punch_connection_get_peer_id (connection));

  if (data->public_key != NULL)
    punch_peer_info_set_public_key (info, data->public_key);
  else if (punch_peer_info_get_public_key (info) == NULL &&
           punch_connection_get_remote_public_key (connection) != NULL)
    punch_peer_info_set_public_key (info, punch_connection_get_remote_public_key (connection));

  if (data->agent_version != NULL || !partial)
    punch_peer_info_set_agent_version (info, data->agent_version);
  if (data->protocol_version != NULL || !partial)
    punch_peer_info_set_protocol_version (info, data->protocol_version);

  if (data->protocols != NULL)
    punch_peer_info_set_protocols (info, (const char * const *) data->protocols->pdata);
  else if (!partial)
    {
      const char *none[] = { NULL };

      punch_peer_info_set_protocols (info, none);
    }

  if (data->listen_addrs != NULL)
    punch_peer_info_set_addrs (info, data->listen_addrs);
  else if (!partial)
    {
      g_autoptr (GPtrArray) none = g_ptr_array_new ();

      punch_peer_info_set_addrs (info, none);
    }

  if (data->observed_addr != NULL)
    punch_connection_set_observed_addr (connection, data->observed_addr);

  return g_object_ref (info);
}

/* Our own Identify message as seen by @connection's peer, at most
 * PUNCH_IDENTIFY_MAX_SEND bytes: listen addresses, then protocols, are
 * trimmed from the end when it would be longer. */
static GBytes *
build_identify_message (PunchIdentifyService *self,
                        PunchConnection      *connection)
{
  Identify__Pb__Identify msg = IDENTIFY__PB__IDENTIFY__INIT;
  PunchPrivateKey *key = punch_host_get_private_key (self->host);
  GBytes *public_key;
  g_autoptr (GPtrArray) listen_addrs = punch_host_get_listen_addrs (self->host);
  g_autoptr (GPtrArray) addrs = g_ptr_array_new ();
  g_autoptr (GArray) addr_data = g_array_new (FALSE, TRUE, sizeof (ProtobufCBinaryData));
  g_auto (GStrv) protocols = punch_host_get_protocols (self->host);
  PunchMultiaddr *observed = punch_connection_get_remote_addr (connection);
  gsize size;
  guint8 *out;

  msg.protocolversion = (char *) PUNCH_PROTOCOL_VERSION;
  msg.agentversion = (char *) punch_host_get_agent_version (self->host);

  public_key = punch_public_key_get_protobuf (punch_private_key_get_public_key (key));
  msg.has_publickey = TRUE;
  msg.publickey.data = (guint8 *) g_bytes_get_data (public_key, &msg.publickey.len);

  for (guint i = 0; listen_addrs != NULL && i < listen_addrs->len; i++)
    g_ptr_array_add (addrs, g_ptr_array_index (listen_addrs, i));
  for (guint i = 0; self->extra_addrs != NULL && i < self->extra_addrs->len; i++)
    g_ptr_array_add (addrs, g_ptr_array_index (self->extra_addrs, i));
  for (guint i = 0; i < addrs->len; i++)
    {
      ProtobufCBinaryData item;

      item.data = (guint8 *) punch_multiaddr_get_bytes (g_ptr_array_index (addrs, i), &item.len);
      g_array_append_val (addr_data, item);
    }
  msg.n_listenaddrs = addr_data->len;
  msg.listenaddrs = (ProtobufCBinaryData *) (gpointer) addr_data->data;

  if (observed != NULL)
    {
      msg.has_observedaddr = TRUE;
      msg.observedaddr.data = (guint8 *) punch_multiaddr_get_bytes (observed, &msg.observedaddr.len);
    }

  msg.protocols = protocols;
  msg.n_protocols = protocols != NULL ? g_strv_length (protocols) : 0;

  size = identify__pb__identify__get_packed_size (&msg);
  while (size > PUNCH_IDENTIFY_MAX_SEND && msg.n_listenaddrs > 0)
    {
      msg.n_listenaddrs--;
      size = identify__pb__identify__get_packed_size (&msg);
    }
  while (size > PUNCH_IDENTIFY_MAX_SEND && msg.n_protocols > 0)
    {
      msg.n_protocols--;
      size = identify__pb__identify__get_packed_size (&msg);
    }
  if (msg.n_listenaddrs < addr_data->len || (protocols != NULL && msg.n_protocols < g_strv_length (protocols)))
    g_debug ("Identify message trimmed to %zu addresses and %zu protocols to fit %d bytes",
             msg.n_listenaddrs, msg.n_protocols, PUNCH_IDENTIFY_MAX_SEND);

  out = g_malloc (size);
  identify__pb__identify__pack (&msg, out);

  return g_bytes_new_take (out, size);
}

/* Sending: one message, then close (identify answers and pushes alike). */

typedef struct
{
  GIOStream *stream;
  GBytes    *message;
} SendOp;

static void
send_op_free (SendOp *op)
{
  g_clear_object (&op->stream);
  g_clear_pointer (&op->message, g_bytes_unref);
  g_free (op);
}

static void
on_message_written (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  SendOp *op = user_data;
  g_autoptr (GError) error = NULL;

  if (punch_framing_write_finish (G_OUTPUT_STREAM (source), result, &error))
    punch_protocol_close_stream (op->stream);
  else
    {
      g_debug ("Could not send identify: %s", error->message);
      punch_protocol_abort_stream (op->stream);
    }

  send_op_free (op);
}

static void
send_message (GIOStream *stream,
              GBytes    *message)
{
  SendOp *op = g_new0 (SendOp, 1);

  op->stream = g_object_ref (stream);
  op->message = g_bytes_ref (message);
  /* Bounded by the peer's flow control and the connection's life; nothing
   * here waits on the peer beyond that. */
  punch_framing_write_async (g_io_stream_get_output_stream (stream), message, NULL,
                             on_message_written, op);
}

static void
handle_identify (PunchHost       *host,
                 PunchConnection *connection,
                 GIOStream       *stream,
                 const char      *protocol,
                 gpointer         user_data)
{
  PunchIdentifyService *self = user_data;
  g_autoptr (GBytes) message = build_identify_message (self, connection);

  send_message (stream, message);
}

/* Reading: up to PUNCH_IDENTIFY_MAX_MESSAGES messages until EOF. */

typedef struct
{
  PunchConnection   *connection;
  GIOStream         *stream;
  PunchDeadline     *deadline;
  PunchIdentifyData  data;
  guint              n_messages;
} ReadOp;

static void
read_op_free (ReadOp *op)
{
  g_clear_object (&op->connection);
  g_clear_object (&op->stream);
  g_clear_pointer (&op->deadline, punch_deadline_free);
  punch_identify_data_clear (&op->data);
  g_free (op);
}

static void read_next_message (GTask *task);

static void
on_message_read (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  ReadOp *op = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) message = NULL;

  message = punch_framing_read_finish (G_INPUT_STREAM (source), result, &error);
  if (message == NULL)
    {
      if (op->n_messages > 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
        {
          g_task_return_boolean (task, TRUE);
          return;
        }
      punch_deadline_adjust_error (op->deadline, &error, "Identify");
      if (op->n_messages == 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
        {
          g_clear_error (&error);
          g_set_error (&error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                       "Identify stream closed without a message");
        }
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (!punch_identify_data_merge (&op->data, g_bytes_get_data (message, NULL),
                                  g_bytes_get_size (message), &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  op->n_messages++;
  if (op->n_messages >= PUNCH_IDENTIFY_MAX_MESSAGES)
    {
      /* Enough: whatever else the peer wants to say is not read. */
      g_task_return_boolean (task, TRUE);
      return;
    }

  read_next_message (g_steal_pointer (&task));
}

static void
read_next_message (GTask *task)
{
  ReadOp *op = g_task_get_task_data (task);

  punch_framing_read_async (g_io_stream_get_input_stream (op->stream),
                            PUNCH_IDENTIFY_MAX_MESSAGE,
                            punch_deadline_get_cancellable (op->deadline),
                            on_message_read, task);
}

/* Identify requests we make. */

typedef struct
{
  /* Owned: the identify goes on (bounded by its timeout) even when every
   * waiter has left. */
  PunchIdentifyService *self;
  PunchConnection      *connection;
  GList                *waiters;    /* Waiter */
  GCancellable         *cancellable;
} IdentifyRequest;

typedef struct
{
  IdentifyRequest *request;
  GTask           *task;
  GSource         *cancel_source;
} Waiter;

static void
waiter_free (Waiter *waiter)
{
  if (waiter->cancel_source != NULL)
    {
      g_source_destroy (waiter->cancel_source);
      g_source_unref (waiter->cancel_source);
    }
  g_clear_object (&waiter->task);
  g_free (waiter);
}

static void
identify_request_free (IdentifyRequest *request)
{
  g_list_free_full (request->waiters, (GDestroyNotify) waiter_free);
  g_clear_object (&request->connection);
  g_clear_object (&request->cancellable);
  g_clear_object (&request->self);
  g_free (request);
}

/* A waiter whose caller cancelled leaves; the identify itself goes on for
 * the others (and for the peer store). */
static gboolean
on_waiter_cancelled (GCancellable *cancellable,
                     gpointer      user_data)
{
  Waiter *waiter = user_data;
  IdentifyRequest *request = waiter->request;

  request->waiters = g_list_remove (request->waiters, waiter);
  g_clear_pointer (&waiter->cancel_source, g_source_unref);
  g_task_return_new_error (waiter->task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                           "Operation was cancelled");
  waiter_free (waiter);

  return G_SOURCE_REMOVE;
}

static void
identify_request_finish (IdentifyRequest *request,
                         PunchPeerInfo   *info,
                         const GError    *error)
{
  PunchIdentifyService *self = request->self;
  GList *waiters = g_steal_pointer (&request->waiters);

  g_hash_table_steal (self->requests, request->connection);

  if (info != NULL)
    g_signal_emit (self, signals[SIGNAL_IDENTIFIED], 0, request->connection, info);
  else
    g_signal_emit (self, signals[SIGNAL_FAILED], 0, request->connection, error);

  for (GList *l = waiters; l != NULL; l = l->next)
    {
      Waiter *waiter = l->data;

      if (info != NULL)
        g_task_return_pointer (waiter->task, g_object_ref (info), g_object_unref);
      else
        g_task_return_error (waiter->task, g_error_copy (error));
    }
  g_list_free_full (waiters, (GDestroyNotify) waiter_free);

  identify_request_free (request);
}

static void
on_identify_read (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  IdentifyRequest *request = user_data;
  ReadOp *op = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerInfo) info = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    punch_protocol_abort_stream (op->stream);
  else
    {
      punch_protocol_close_stream (op->stream);
      if (identify_data_check (&op->data, request->connection, &error))
        info = identify_data_apply (request->self, &op->data, request->connection, FALSE);
    }

  if (error != NULL)
    g_debug ("Identify of %s failed: %s",
             punch_peer_id_to_string (punch_connection_get_peer_id (request->connection)),
             error->message);

  identify_request_finish (request, info, error);
}

static void
on_identify_stream_opened (GObject      *source,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  ReadOp *op = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  op->stream = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result, NULL, &error);
  if (op->stream == NULL)
    {
      punch_deadline_adjust_error (op->deadline, &error, "Identify");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  read_next_message (g_steal_pointer (&task));
}

static void
identify_request_start (IdentifyRequest *request)
{
  static const char * const protocols[] = { PUNCH_IDENTIFY_PROTOCOL, NULL };
  ReadOp *op = g_new0 (ReadOp, 1);
  GTask *task;

  op->connection = g_object_ref (request->connection);
  op->deadline = punch_deadline_new (request->cancellable, IDENTIFY_TIMEOUT_MS);
  task = g_task_new (NULL, NULL, on_identify_read, request);
  g_task_set_source_tag (task, identify_request_start);
  g_task_set_task_data (task, op, (GDestroyNotify) read_op_free);

  punch_connection_open_stream_async (request->connection, protocols,
                                      punch_deadline_get_cancellable (op->deadline),
                                      on_identify_stream_opened, task);
}

/**
 * punch_identify_service_identify_async:
 * @self: the service
 * @connection: an open connection
 * @cancellable: (nullable): cancels this caller's wait
 * @callback: called with the result
 * @user_data: for @callback
 *
 * Asks the peer of @connection who it is (/ipfs/id/1.0.0), checks that its
 * public key matches the authenticated peer ID, and records the answer in the
 * peer store and on the connection. Joins an identify already in flight on
 * the connection. Gives up after 5 seconds.
 */
void
punch_identify_service_identify_async (PunchIdentifyService *self,
                                       PunchConnection      *connection,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data)
{
  IdentifyRequest *request;
  Waiter *waiter;
  gboolean start = FALSE;

  g_return_if_fail (PUNCH_IS_IDENTIFY_SERVICE (self));
  g_return_if_fail (PUNCH_IS_CONNECTION (connection));

  request = g_hash_table_lookup (self->requests, connection);
  if (request == NULL)
    {
      request = g_new0 (IdentifyRequest, 1);
      request->self = g_object_ref (self);
      request->connection = g_object_ref (connection);
      request->cancellable = g_object_ref (self->cancellable);
      g_hash_table_insert (self->requests, connection, request);
      start = TRUE;
    }

  waiter = g_new0 (Waiter, 1);
  waiter->request = request;
  waiter->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (waiter->task, punch_identify_service_identify_async);
  if (cancellable != NULL)
    {
      waiter->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_static_name (waiter->cancel_source, "[punchline] identify waiter cancelled");
      g_source_set_callback (waiter->cancel_source, G_SOURCE_FUNC (on_waiter_cancelled),
                             waiter, NULL);
      g_source_attach (waiter->cancel_source, g_main_context_get_thread_default ());
    }
  request->waiters = g_list_append (request->waiters, waiter);

  if (start)
    identify_request_start (request);
}

/**
 * punch_identify_service_identify_finish:
 * @self: the service
 * @result: the result passed to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full): the peer's entry in the peer store, or %NULL
 */
PunchPeerInfo *
punch_identify_service_identify_finish (PunchIdentifyService *self,
                                        GAsyncResult         *result,
                                        GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Identify push received. */

typedef struct
{
  PunchIdentifyService *self;         /* not owned: valid while cancellable is not cancelled */
  GCancellable         *cancellable;  /* the service's */
} PushContext;

static void
on_push_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  PushContext *ctx = user_data;
  ReadOp *op = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;

  if (g_task_propagate_boolean (G_TASK (result), &error))
    punch_protocol_close_stream (op->stream);
  else
    punch_protocol_abort_stream (op->stream);

  if (!g_cancellable_is_cancelled (ctx->cancellable))
    {
      if (error == NULL && identify_data_check (&op->data, op->connection, &error))
        {
          g_autoptr (PunchPeerInfo) info = identify_data_apply (ctx->self, &op->data,
                                                                op->connection, TRUE);

          g_signal_emit (ctx->self, signals[SIGNAL_IDENTIFIED], 0, op->connection, info);
        }
      if (error != NULL)
        g_debug ("Ignoring identify push: %s", error->message);
    }

  g_object_unref (ctx->cancellable);
  g_free (ctx);
}

static void
handle_identify_push (PunchHost       *host,
                      PunchConnection *connection,
                      GIOStream       *stream,
                      const char      *protocol,
                      gpointer         user_data)
{
  PunchIdentifyService *self = user_data;
  PushContext *ctx = g_new0 (PushContext, 1);
  ReadOp *op = g_new0 (ReadOp, 1);
  GTask *task;

  ctx->self = self;
  ctx->cancellable = g_object_ref (self->cancellable);

  op->connection = g_object_ref (connection);
  op->stream = g_object_ref (stream);
  op->deadline = punch_deadline_new (self->cancellable, IDENTIFY_TIMEOUT_MS);
  task = g_task_new (NULL, NULL, on_push_read, ctx);
  g_task_set_source_tag (task, handle_identify_push);
  g_task_set_task_data (task, op, (GDestroyNotify) read_op_free);

  read_next_message (task);
}

/* Identify push sent. */

typedef struct
{
  GBytes        *message;
  PunchDeadline *deadline;
} PushOp;

static void
on_push_stream_opened (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  PushOp *op = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GIOStream) stream = NULL;

  stream = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result, NULL, &error);
  if (stream != NULL)
    send_message (stream, op->message);
  else
    g_debug ("Could not open an identify push stream: %s", error->message);

  g_bytes_unref (op->message);
  punch_deadline_free (op->deadline);
  g_free (op);
}

static void
push_to_connection (PunchIdentifyService *self,
                    PunchConnection      *connection)
{
  static const char * const protocols[] = { PUNCH_IDENTIFY_PUSH_PROTOCOL, NULL };
  PunchPeerStore *store = punch_host_get_peer_store (self->host);
  PunchPeerInfo *info = punch_peer_store_lookup (store, punch_connection_get_peer_id (connection));
  PushOp *op;

  if (punch_connection_get_state (connection) != PUNCH_CONNECTION_STATE_OPEN)
    return;
  /* A peer that told us what it speaks and left push out does not want it. */
  if (info != NULL && punch_peer_info_get_protocols (info) != NULL &&
      punch_peer_info_get_protocols (info)[0] != NULL &&
      !punch_peer_info_supports (info, PUNCH_IDENTIFY_PUSH_PROTOCOL))
    return;

  op = g_new0 (PushOp, 1);
  op->message = build_identify_message (self, connection);
  op->deadline = punch_deadline_new (self->cancellable, IDENTIFY_TIMEOUT_MS);
  punch_connection_open_stream_async (connection, protocols,
                                      punch_deadline_get_cancellable (op->deadline),
                                      on_push_stream_opened, op);
}

/**
 * punch_identify_service_push:
 * @self: the service
 *
 * Sends our current identify to every connected peer that accepts
 * /ipfs/id/push/1.0.0.
 */
void
punch_identify_service_push (PunchIdentifyService *self)
{
  GListModel *connections;
  guint n;

  g_return_if_fail (PUNCH_IS_IDENTIFY_SERVICE (self));

  connections = punch_host_get_connections (self->host);
  n = g_list_model_get_n_items (connections);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchConnection) connection = g_list_model_get_item (connections, i);

      push_to_connection (self, connection);
    }
}

static gboolean
addrs_equal (GPtrArray *a,
             GPtrArray *b)
{
  guint a_len = a != NULL ? a->len : 0;
  guint b_len = b != NULL ? b->len : 0;

  if (a_len != b_len)
    return FALSE;
  for (guint i = 0; i < a_len; i++)
    if (!punch_multiaddr_equal (g_ptr_array_index (a, i), g_ptr_array_index (b, i)))
      return FALSE;
  return TRUE;
}

/**
 * punch_identify_service_set_extra_addrs:
 * @self: the service
 * @addrs: (nullable) (element-type PunchMultiaddr): addresses to advertise
 *   besides the listen addresses
 *
 * Connected peers learn a change by an identify push.
 */
void
punch_identify_service_set_extra_addrs (PunchIdentifyService *self,
                                        GPtrArray            *addrs)
{
  g_return_if_fail (PUNCH_IS_IDENTIFY_SERVICE (self));

  /* Relay reservations refresh with the same addresses: no news, no push. */
  if (addrs_equal (self->extra_addrs, addrs))
    return;

  g_clear_pointer (&self->extra_addrs, g_ptr_array_unref);
  self->extra_addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  for (guint i = 0; addrs != NULL && i < addrs->len; i++)
    g_ptr_array_add (self->extra_addrs, punch_multiaddr_ref (g_ptr_array_index (addrs, i)));

  punch_identify_service_push (self);
}

static void
on_identify_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr (PunchPeerInfo) info = NULL;

  /* Failures were reported by the "failed" signal. */
  info = punch_identify_service_identify_finish (PUNCH_IDENTIFY_SERVICE (source), result, NULL);
}

static void
on_connection_opened (PunchHost       *host,
                      PunchConnection *connection,
                      gpointer         user_data)
{
  PunchIdentifyService *self = user_data;

  punch_identify_service_identify_async (self, connection, NULL, on_identify_done, NULL);
}

static void
on_listen_addrs_changed (PunchHost *host,
                         gpointer   user_data)
{
  punch_identify_service_push (PUNCH_IDENTIFY_SERVICE (user_data));
}

static void
punch_identify_service_constructed (GObject *object)
{
  PunchIdentifyService *self = PUNCH_IDENTIFY_SERVICE (object);

  G_OBJECT_CLASS (punch_identify_service_parent_class)->constructed (object);

  g_assert (self->host != NULL);
  punch_host_set_stream_handler (self->host, PUNCH_IDENTIFY_PROTOCOL,
                                 handle_identify, self, NULL);
  punch_host_set_stream_handler (self->host, PUNCH_IDENTIFY_PUSH_PROTOCOL,
                                 handle_identify_push, self, NULL);
  self->connection_opened_id = g_signal_connect (self->host, "connection-opened",
                                                 G_CALLBACK (on_connection_opened), self);
  self->listen_addrs_changed_id = g_signal_connect (self->host, "listen-addrs-changed",
                                                    G_CALLBACK (on_listen_addrs_changed), self);

  /* Connections that opened before we existed get identified too; the
   * answers come after new() returns, once "identified" has listeners. */
  {
    GListModel *connections = punch_host_get_connections (self->host);
    guint n = g_list_model_get_n_items (connections);

    for (guint i = 0; i < n; i++)
      {
        g_autoptr (PunchConnection) connection = g_list_model_get_item (connections, i);

        if (punch_connection_get_state (connection) == PUNCH_CONNECTION_STATE_OPEN)
          on_connection_opened (self->host, connection, self);
      }
  }
}

static void
punch_identify_service_dispose (GObject *object)
{
  PunchIdentifyService *self = PUNCH_IDENTIFY_SERVICE (object);

  g_cancellable_cancel (self->cancellable);
  if (self->host != NULL)
    {
      punch_host_remove_stream_handler (self->host, PUNCH_IDENTIFY_PROTOCOL);
      punch_host_remove_stream_handler (self->host, PUNCH_IDENTIFY_PUSH_PROTOCOL);
      g_clear_signal_handler (&self->connection_opened_id, self->host);
      g_clear_signal_handler (&self->listen_addrs_changed_id, self->host);
      g_clear_object (&self->host);
    }
  g_clear_pointer (&self->extra_addrs, g_ptr_array_unref);

  G_OBJECT_CLASS (punch_identify_service_parent_class)->dispose (object);
}

static void
punch_identify_service_finalize (GObject *object)
{
  PunchIdentifyService *self = PUNCH_IDENTIFY_SERVICE (object);

  /* Every request holds a reference on us. */
  g_assert (g_hash_table_size (self->requests) == 0);
  g_clear_pointer (&self->requests, g_hash_table_unref);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (punch_identify_service_parent_class)->finalize (object);
}

static void
punch_identify_service_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  PunchIdentifyService *self = PUNCH_IDENTIFY_SERVICE (object);

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
punch_identify_service_set_property (GObject      *object,
                                     guint         prop_id,
                                     const GValue *value,
                                     GParamSpec   *pspec)
{
  PunchIdentifyService *self = PUNCH_IDENTIFY_SERVICE (object);

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
punch_identify_service_class_init (PunchIdentifyServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = punch_identify_service_constructed;
  object_class->dispose = punch_identify_service_dispose;
  object_class->finalize = punch_identify_service_finalize;
  object_class->get_property = punch_identify_service_get_property;
  object_class->set_property = punch_identify_service_set_property;

  properties[PROP_HOST] =
    g_param_spec_object ("host", NULL, NULL,
                         PUNCH_TYPE_HOST,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PunchIdentifyService::identified:
   * @self: the service
   * @connection: the connection identified
   * @info: the peer's updated entry in the peer store
   *
   * An identify (or an identify push) from a peer was accepted.
   */
  signals[SIGNAL_IDENTIFIED] =
    g_signal_new ("identified",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, PUNCH_TYPE_CONNECTION, PUNCH_TYPE_PEER_INFO);

  /**
   * PunchIdentifyService::failed:
   * @self: the service
   * @connection: the connection
   * @error: why
   *
   * Identifying the peer of @connection failed.
   */
  signals[SIGNAL_FAILED] =
    g_signal_new ("failed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, PUNCH_TYPE_CONNECTION, G_TYPE_ERROR);
}

static void
punch_identify_service_init (PunchIdentifyService *self)
{
  self->requests = g_hash_table_new (g_direct_hash, g_direct_equal);
  self->cancellable = g_cancellable_new ();
}

/**
 * punch_identify_service_new:
 * @host: the host to serve and identify for
 *
 * Returns: (transfer full): a new service, registered on @host
 */
PunchIdentifyService *
punch_identify_service_new (PunchHost *host)
{
  g_return_val_if_fail (PUNCH_IS_HOST (host), NULL);

  return g_object_new (PUNCH_TYPE_IDENTIFY_SERVICE, "host", host, NULL);
}
