/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-perf-service.h"

#include "punch-error.h"
#include "punch-protocols-private.h"

/* Bulk data goes from and into static blocks: nothing is allocated or
 * copied per byte on our side, so the measure is the stack's, not ours. */
#define PERF_BLOCK_SIZE PUNCH_PROTOCOL_BLOCK_SIZE
/* A peer that stops sending or reading for this long loses its stream:
 * inbound runs must not pin streams forever. */
#define SERVE_IDLE_TIMEOUT_MS 30000
/* Concurrent inbound runs, all peers together (js allows 8 per peer and
 * connection): each is a full-speed stream, and perf serves measures, not
 * crowds. */
#define MAX_INBOUND_RUNS 16

struct _PunchPerfService
{
  GObject       parent_instance;

  PunchHost    *host;
  gboolean      serve;
  GCancellable *cancellable;  /* cancelled in dispose: ends inbound runs */
  guint         n_inbound;
};

G_DEFINE_FINAL_TYPE (PunchPerfService, punch_perf_service, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_HOST,
  PROP_SERVE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_SERVED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static inline guint64
read_be64 (const guint8 *p)
{
  guint64 v = 0;

  for (guint i = 0; i < 8; i++)
    v = (v << 8) | p[i];
  return v;
}

static inline void
write_be64 (guint8 *p, guint64 v)
{
  for (guint i = 0; i < 8; i++)
    p[i] = (guint8) (v >> (56 - 8 * i));
}

static inline gsize
block_for (guint64 remaining)
{
  return (gsize) MIN (remaining, (guint64) PERF_BLOCK_SIZE);
}

/* Server side: read the size, drain until EOF, then send that many bytes. */

typedef struct
{
  PunchPerfService *self;                 /* not owned: valid while service_cancellable is not cancelled */
  GCancellable     *service_cancellable;
  PunchConnection  *connection;
  GIOStream        *stream;
  PunchDeadline    *idle;
  guint8            header[8];
  guint64           requested;
  guint64           to_send;
  guint64           drained;
  gint64            started;
  gint64            drained_at;
} ServeOp;

static void
serve_op_finish (ServeOp      *op,
                 const GError *error)
{
  if (error != NULL)
    {
      g_autoptr (GError) reported = g_error_copy (error);

      punch_deadline_adjust_error (op->idle, &reported, "Idle perf stream");
      g_debug ("Perf run from a peer failed: %s", reported->message);
      punch_protocol_abort_stream (op->stream);
    }
  else
    {
      gint64 now = g_get_monotonic_time ();

      punch_protocol_close_stream (op->stream);
      if (!g_cancellable_is_cancelled (op->service_cancellable))
        g_signal_emit (op->self, signals[SIGNAL_SERVED], 0, op->connection,
                       op->drained, op->requested,
                       (op->drained_at - op->started) / (gdouble) G_USEC_PER_SEC,
                       (now - op->drained_at) / (gdouble) G_USEC_PER_SEC);
    }

  if (!g_cancellable_is_cancelled (op->service_cancellable))
    op->self->n_inbound--;

  g_clear_object (&op->stream);
  g_clear_object (&op->connection);
  g_clear_object (&op->service_cancellable);
  g_clear_pointer (&op->idle, punch_deadline_free);
  g_free (op);
}

static void serve_send_next (ServeOp *op);

static void
on_serve_written (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  ServeOp *op = user_data;
  g_autoptr (GError) error = NULL;
  gssize n;

  n = g_output_stream_write_finish (G_OUTPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      serve_op_finish (op, error);
      return;
    }

  op->to_send -= (guint64) n;
  serve_send_next (op);
}

static void
serve_send_next (ServeOp *op)
{
  if (op->to_send == 0)
    {
      serve_op_finish (op, NULL);
      return;
    }

  punch_deadline_restart (op->idle);
  g_output_stream_write_async (g_io_stream_get_output_stream (op->stream),
                               punch_protocol_zero_block (), block_for (op->to_send),
                               G_PRIORITY_DEFAULT, punch_deadline_get_cancellable (op->idle),
                               on_serve_written, op);
}

static void serve_drain_next (ServeOp *op);

static void
on_serve_drained (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  ServeOp *op = user_data;
  g_autoptr (GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      serve_op_finish (op, error);
      return;
    }
  if (n == 0)
    {
      op->drained_at = g_get_monotonic_time ();
      g_debug ("Perf: received %" G_GUINT64_FORMAT " bytes, sending %" G_GUINT64_FORMAT,
               op->drained, op->to_send);
      serve_send_next (op);
      return;
    }

  op->drained += (guint64) n;
  serve_drain_next (op);
}

static void
serve_drain_next (ServeOp *op)
{
  punch_deadline_restart (op->idle);
  g_input_stream_read_async (g_io_stream_get_input_stream (op->stream),
                             punch_protocol_discard_block (), PERF_BLOCK_SIZE,
                             G_PRIORITY_DEFAULT, punch_deadline_get_cancellable (op->idle),
                             on_serve_drained, op);
}

static void
on_serve_header (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  ServeOp *op = user_data;
  g_autoptr (GError) error = NULL;
  gsize n_read = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &n_read, &error))
    {
      serve_op_finish (op, error);
      return;
    }
  if (n_read < sizeof op->header)
    {
      g_set_error (&error, PUNCH_ERROR, PUNCH_ERROR_TRUNCATED,
                   "Perf request ended after %zu of 8 size bytes", n_read);
      serve_op_finish (op, error);
      return;
    }

  /* Any size is fine: it is streamed from a static block, never buffered. */
  op->requested = op->to_send = read_be64 (op->header);
  serve_drain_next (op);
}

static void
handle_perf (PunchHost       *host,
             PunchConnection *connection,
             GIOStream       *stream,
             const char      *protocol,
             gpointer         user_data)
{
  PunchPerfService *self = user_data;
  ServeOp *op;

  /* A limited (relayed) connection has a data budget a perf run would
   * only exhaust; js does not serve perf there either. */
  if (punch_connection_get_limited (connection))
    {
      g_debug ("Refusing a perf run on a limited connection");
      punch_protocol_abort_stream (stream);
      return;
    }
  if (self->n_inbound >= MAX_INBOUND_RUNS)
    {
      g_debug ("Refusing a perf run: %u already running", self->n_inbound);
      punch_protocol_abort_stream (stream);
      return;
    }
  self->n_inbound++;

  op = g_new0 (ServeOp, 1);
  op->self = self;
  op->service_cancellable = g_object_ref (self->cancellable);
  op->connection = g_object_ref (connection);
  op->started = g_get_monotonic_time ();
  op->stream = g_object_ref (stream);
  op->idle = punch_deadline_new (self->cancellable, SERVE_IDLE_TIMEOUT_MS);
  g_input_stream_read_all_async (g_io_stream_get_input_stream (stream),
                                 op->header, sizeof op->header, G_PRIORITY_DEFAULT,
                                 punch_deadline_get_cancellable (op->idle), on_serve_header, op);
}

/* Client side. */

typedef struct
{
  GIOStream      *stream;
  guint8          header[8];
  guint64         upload_total;
  guint64         download_total;
  PunchPerfResult result;
  gint64          started;
  /* The server answers only once it has drained our upload, so its first
   * byte (or its EOF, for an empty download) marks the end of the upload
   * as the server saw it; our FIN leaving says little with buffers in
   * between. */
  gint64          first_byte;
} RunOp;

static void
run_op_free (RunOp *op)
{
  g_clear_object (&op->stream);
  g_free (op);
}

static void
run_fail (GTask  *task,
          GError *error)
{
  RunOp *op = g_task_get_task_data (task);

  if (op->stream != NULL)
    punch_protocol_abort_stream (op->stream);
  g_task_return_error (task, error);
}

static void run_download_next (GTask *task);

static void
on_run_downloaded (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  RunOp *op = g_task_get_task_data (task);
  GError *error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      run_fail (task, error);
      return;
    }
  if (op->first_byte == 0)
    op->first_byte = g_get_monotonic_time ();
  if (n == 0)
    {
      gint64 now;

      punch_protocol_close_stream (op->stream);
      if (op->result.downloaded != op->download_total)
        {
          run_fail (task, g_error_new (PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                                       "Perf peer sent %" G_GUINT64_FORMAT " bytes instead of %"
                                       G_GUINT64_FORMAT, op->result.downloaded, op->download_total));
          return;
        }
      now = g_get_monotonic_time ();
      op->result.upload_seconds = (op->first_byte - op->started) / (gdouble) G_USEC_PER_SEC;
      op->result.download_seconds = (now - op->first_byte) / (gdouble) G_USEC_PER_SEC;
      op->result.total_seconds = (now - op->started) / (gdouble) G_USEC_PER_SEC;
      g_task_return_boolean (task, TRUE);
      return;
    }

  op->result.downloaded += (guint64) n;
  if (op->result.downloaded > op->download_total)
    {
      run_fail (task, g_error_new (PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                                   "Perf peer sent more than the %" G_GUINT64_FORMAT
                                   " bytes asked for", op->download_total));
      return;
    }

  run_download_next (g_steal_pointer (&task));
}

static void
run_download_next (GTask *task)
{
  RunOp *op = g_task_get_task_data (task);

  g_input_stream_read_async (g_io_stream_get_input_stream (op->stream),
                             punch_protocol_discard_block (), PERF_BLOCK_SIZE,
                             G_PRIORITY_DEFAULT, g_task_get_cancellable (task),
                             on_run_downloaded, task);
}

static void
on_run_write_closed (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (!g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, &error))
    {
      run_fail (task, error);
      return;
    }

  run_download_next (g_steal_pointer (&task));
}

static void run_upload_next (GTask *task);

static void
on_run_uploaded (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  RunOp *op = g_task_get_task_data (task);
  GError *error = NULL;
  gssize n;

  n = g_output_stream_write_finish (G_OUTPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      run_fail (task, error);
      return;
    }

  op->result.uploaded += (guint64) n;
  run_upload_next (g_steal_pointer (&task));
}

static void
run_upload_next (GTask *task)
{
  RunOp *op = g_task_get_task_data (task);
  GOutputStream *output = g_io_stream_get_output_stream (op->stream);
  guint64 remaining = op->upload_total - op->result.uploaded;

  if (remaining == 0)
    {
      /* Closing only our write side sends FIN: the server's cue to answer. */
      g_output_stream_close_async (output, G_PRIORITY_DEFAULT, g_task_get_cancellable (task),
                                   on_run_write_closed, task);
      return;
    }

  g_output_stream_write_async (output, punch_protocol_zero_block (), block_for (remaining),
                               G_PRIORITY_DEFAULT, g_task_get_cancellable (task),
                               on_run_uploaded, task);
}

static void
on_run_header_written (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      run_fail (task, error);
      return;
    }

  run_upload_next (g_steal_pointer (&task));
}

static void
on_run_stream_opened (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  RunOp *op = g_task_get_task_data (task);
  GCancellable *cancellable;
  GError *error = NULL;

  op->stream = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result,
                                                    NULL, &error);
  if (op->stream == NULL)
    {
      run_fail (task, error);
      return;
    }

  op->started = g_get_monotonic_time ();
  write_be64 (op->header, op->download_total);
  cancellable = g_task_get_cancellable (task);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (op->stream),
                                   op->header, sizeof op->header, G_PRIORITY_DEFAULT,
                                   cancellable, on_run_header_written, g_steal_pointer (&task));
}

/**
 * punch_perf_service_run_async:
 * @self: the service
 * @connection: an open connection to a peer serving /perf/1.0.0
 * @upload_bytes: how much to send
 * @download_bytes: how much to ask the peer to send back
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the result
 * @user_data: for @callback
 *
 * Runs one perf measure (libp2p/specs perf/perf.md) on a new stream: upload,
 * half-close, then download. Upload time runs from the first byte written to
 * the first byte of the answer (the server sends only after draining the
 * upload); download time from there to the peer's EOF.
 */
void
punch_perf_service_run_async (PunchPerfService   *self,
                              PunchConnection    *connection,
                              guint64             upload_bytes,
                              guint64             download_bytes,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  static const char * const protocols[] = { PUNCH_PERF_PROTOCOL, NULL };
  g_autoptr (GTask) task = NULL;
  RunOp *op;

  g_return_if_fail (PUNCH_IS_PERF_SERVICE (self));
  g_return_if_fail (PUNCH_IS_CONNECTION (connection));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_perf_service_run_async);
  op = g_new0 (RunOp, 1);
  op->upload_total = upload_bytes;
  op->download_total = download_bytes;
  g_task_set_task_data (task, op, (GDestroyNotify) run_op_free);

  punch_connection_open_stream_async (connection, protocols, cancellable,
                                      on_run_stream_opened, g_steal_pointer (&task));
}

/**
 * punch_perf_service_run_finish:
 * @self: the service
 * @result: the result passed to the callback
 * @out: (out caller-allocates) (optional): the measure
 * @error: return location for an error
 *
 * Returns: %TRUE when the run completed with the exact byte counts
 */
gboolean
punch_perf_service_run_finish (PunchPerfService *self,
                               GAsyncResult     *result,
                               PunchPerfResult  *out,
                               GError          **error)
{
  RunOp *op;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;

  op = g_task_get_task_data (G_TASK (result));
  if (out != NULL)
    *out = op->result;
  return TRUE;
}

static void
punch_perf_service_constructed (GObject *object)
{
  PunchPerfService *self = PUNCH_PERF_SERVICE (object);

  G_OBJECT_CLASS (punch_perf_service_parent_class)->constructed (object);

  g_assert (self->host != NULL);
  if (self->serve)
    punch_host_set_stream_handler (self->host, PUNCH_PERF_PROTOCOL, handle_perf, self, NULL);
}

static void
punch_perf_service_dispose (GObject *object)
{
  PunchPerfService *self = PUNCH_PERF_SERVICE (object);

  g_cancellable_cancel (self->cancellable);
  if (self->host != NULL)
    {
      if (self->serve)
        punch_host_remove_stream_handler (self->host, PUNCH_PERF_PROTOCOL);
      g_clear_object (&self->host);
    }

  G_OBJECT_CLASS (punch_perf_service_parent_class)->dispose (object);
}

static void
punch_perf_service_finalize (GObject *object)
{
  PunchPerfService *self = PUNCH_PERF_SERVICE (object);

  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (punch_perf_service_parent_class)->finalize (object);
}

static void
punch_perf_service_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  PunchPerfService *self = PUNCH_PERF_SERVICE (object);

  switch (prop_id)
    {
    case PROP_HOST:
      g_value_set_object (value, self->host);
      break;

    case PROP_SERVE:
      g_value_set_boolean (value, self->serve);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_perf_service_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  PunchPerfService *self = PUNCH_PERF_SERVICE (object);

  switch (prop_id)
    {
    case PROP_HOST:
      self->host = g_value_dup_object (value);
      break;

    case PROP_SERVE:
      self->serve = g_value_get_boolean (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_perf_service_class_init (PunchPerfServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = punch_perf_service_constructed;
  object_class->dispose = punch_perf_service_dispose;
  object_class->finalize = punch_perf_service_finalize;
  object_class->get_property = punch_perf_service_get_property;
  object_class->set_property = punch_perf_service_set_property;

  properties[PROP_HOST] =
    g_param_spec_object ("host", NULL, NULL,
                         PUNCH_TYPE_HOST,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SERVE] =
    g_param_spec_boolean ("serve", NULL, NULL,
                          FALSE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PunchPerfService::served:
   * @self: the service
   * @connection: the connection the run came on
   * @received: bytes the peer uploaded
   * @sent: bytes we sent back
   * @receive_seconds: from the stream's start to the peer's EOF
   * @send_seconds: from there to our last byte written
   *
   * A peer's perf run completed on our side (only when serving).
   */
  signals[SIGNAL_SERVED] =
    g_signal_new ("served",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 5, PUNCH_TYPE_CONNECTION, G_TYPE_UINT64, G_TYPE_UINT64,
                  G_TYPE_DOUBLE, G_TYPE_DOUBLE);
}

static void
punch_perf_service_init (PunchPerfService *self)
{
  self->cancellable = g_cancellable_new ();
}

/**
 * punch_perf_service_new:
 * @host: the host
 * @serve: whether to answer /perf/1.0.0 from peers
 *
 * Returns: (transfer full): a new service
 */
PunchPerfService *
punch_perf_service_new (PunchHost *host,
                        gboolean   serve)
{
  g_return_val_if_fail (PUNCH_IS_HOST (host), NULL);

  return g_object_new (PUNCH_TYPE_PERF_SERVICE, "host", host, "serve", serve, NULL);
}
