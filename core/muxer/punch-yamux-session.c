/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-yamux-session.h"

#include <string.h>

#include "punch-error.h"
#include "punch-yamux-private.h"

/* Data payloads go straight to their stream, so the read buffer only has to
 * be big for throughput: it starts small (a relay holds thousands of idle
 * sessions), doubles while reads fill it and drops back once a read brings
 * no more than READ_BUFFER_MIN, a second after the last bigger one (the
 * remote stopped streaming). */
#define READ_BUFFER_MIN   256
#define READ_BUFFER_MAX   (256 * 1024)
#define READ_BUSY_US      G_USEC_PER_SEC
/* Stream writes wait once this much is queued behind the write in flight. */
#define OUT_HIGH_WATER    (512 * 1024)
/* How long close waits for the GoAway to leave before closing anyway. */
#define CLOSE_FLUSH_TIMEOUT_S 5
/* Reading stops while this much waits to be written: a remote that sends
 * pings (or opens streams) without reading our answers cannot make the
 * queue grow without bound. */
#define OUT_PAUSE_READ    (2 * 1024 * 1024)

typedef struct
{
  PunchYamuxSession *session;
  guint32 id;
  gint64 start;
  gboolean keepalive;
  GTask *task;
  GSource *cancel;
} PingOp;

typedef struct
{
  PunchYamuxSession *session;
  GTask *task;
  GSource *cancel;
} OpenOp;

struct _PunchYamuxSession
{
  GObject parent_instance;

  GMainContext *context;
  GIOStream *base;
  GInputStream *base_in;
  GOutputStream *base_out;
  gboolean is_client;
  guint keepalive_interval;
  guint max_streams;
  guint accept_backlog;

  gboolean started;
  gboolean closed;
  gboolean go_away_sent;
  gboolean remote_go_away;
  gint64 rtt;

  guint32 next_stream_id;
  GHashTable *streams;        /* id → PunchYamuxStream (owned) */
  guint n_inbound;
  guint n_unacked;
  GQueue pending_opens;       /* OpenOp */

  /* Read side: frames are parsed straight out of rbuf; Data payloads are
   * handed to their stream as they arrive, so no frame is ever buffered
   * whole. */
  guint8 *rbuf;
  gsize rcap;
  gsize rlen;
  gint64 read_busy_until;
  GCancellable *read_cancellable;
  gboolean reading;
  gboolean in_payload;
  guint16 payload_flags;
  guint32 payload_left;
  PunchYamuxStream *payload_stream;   /* owned; NULL discards the payload */
  GPtrArray *deferred_reads;          /* streams whose read completes after the batch */

  /* Write side: frames accumulate in out_pending while out_flight is
   * written, then the two swap, so small frames coalesce. */
  GByteArray *out_pending;
  GByteArray *out_flight;
  gboolean writing;
  gboolean write_failed;
  GCancellable *write_cancellable;
  GQueue writable_waiters;    /* PunchYamuxStream (owned) */

  const PunchYamuxSessionOwner *owner;
  gpointer owner_data;

  guint32 next_ping_id;
  GHashTable *pings;          /* id → PingOp; NULL while none is out */
  gboolean keepalive_outstanding;
  GSource *keepalive;

  gboolean base_closing;
  gboolean base_closed;
  GPtrArray *close_tasks;
  GSource *close_timeout;
};

enum
{
  PROP_0,
  PROP_IS_CLIENT,
  PROP_KEEPALIVE_INTERVAL,
  PROP_MAX_STREAMS,
  PROP_ACCEPT_BACKLOG,
  PROP_RTT,
  PROP_N_STREAMS,
  PROP_CLOSED,
  N_PROPS
};

enum
{
  SIGNAL_STREAM,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PunchYamuxSession, punch_yamux_session, G_TYPE_OBJECT)

static void read_more (PunchYamuxSession *self);
static void maybe_close_base (PunchYamuxSession *self);
static void terminate (PunchYamuxSession *self,
                       GError            *error,
                       int                go_away_code);

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static GSource *
attach_cancel_source (GCancellable *cancellable,
                      GCallback     func,
                      gpointer      data)
{
  GSource *source;

  if (cancellable == NULL)
    return NULL;

  source = g_cancellable_source_new (cancellable);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) func, data, NULL);
  g_source_attach (source, g_main_context_get_thread_default ());
  return source;
}

/* @name: a string literal (not copied: every session has a keepalive). */
static GSource *
add_timeout_seconds (PunchYamuxSession *self,
                     guint              seconds,
                     GSourceFunc        func,
                     const char        *name)
{
  GSource *source = g_timeout_source_new_seconds (seconds);

  g_source_set_callback (source, func, self, NULL);
  g_source_set_static_name (source, name);
  g_source_attach (source, self->context);
  return source;
}

static void
ping_op_free (PingOp *op)
{
  clear_source (&op->cancel);
  if (op->task != NULL)
    {
      g_task_return_new_error (op->task, G_IO_ERROR, G_IO_ERROR_CLOSED, "Yamux session is closed");
      g_clear_object (&op->task);
    }
  g_free (op);
}

static void
write_header (guint8  *p,
              guint8   type,
              guint16  flags,
              guint32  stream_id,
              guint32  length)
{
  p[0] = PUNCH_YAMUX_VERSION;
  p[1] = type;
  p[2] = (guint8) (flags >> 8);
  p[3] = (guint8) flags;
  p[4] = (guint8) (stream_id >> 24);
  p[5] = (guint8) (stream_id >> 16);
  p[6] = (guint8) (stream_id >> 8);
  p[7] = (guint8) stream_id;
  p[8] = (guint8) (length >> 24);
  p[9] = (guint8) (length >> 16);
  p[10] = (guint8) (length >> 8);
  p[11] = (guint8) length;
}

void
punch_yamux_session_queue_frame (PunchYamuxSession *self,
                                 PunchYamuxType     type,
                                 guint16            flags,
                                 guint32            stream_id,
                                 guint32            length,
                                 const guint8      *payload)
{
  gsize payload_len = type == PUNCH_YAMUX_TYPE_DATA ? length : 0;
  gsize old = self->out_pending->len;

  if (self->write_failed || self->base_closing)
    return;

  g_byte_array_set_size (self->out_pending, old + PUNCH_YAMUX_HEADER_SIZE + payload_len);
  write_header (self->out_pending->data + old, type, flags, stream_id, length);
  if (payload_len > 0)
    memcpy (self->out_pending->data + old + PUNCH_YAMUX_HEADER_SIZE, payload, payload_len);
}

static void
wake_writers (PunchYamuxSession *self)
{
  while (!g_queue_is_empty (&self->writable_waiters) &&
         self->out_pending->len < OUT_HIGH_WATER &&
         !self->write_failed)
    {
      g_autoptr (PunchYamuxStream) stream = g_queue_pop_head (&self->writable_waiters);

      stream->waiting_writable = FALSE;
      if (stream->session == self)
        punch_yamux_stream_try_write (stream);
    }
}

static void
on_written (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr (PunchYamuxSession) self = user_data;
  GError *error = NULL;

  self->writing = FALSE;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      self->write_failed = TRUE;
      g_byte_array_set_size (self->out_pending, 0);
      g_byte_array_set_size (self->out_flight, 0);
      g_prefix_error (&error, "Yamux write failed: ");
      terminate (self, error, -1);
      maybe_close_base (self);
      return;
    }

  g_byte_array_set_size (self->out_flight, 0);
  punch_yamux_session_flush (self);
  if (!self->writing)
    {
      /* Nothing left to send: an idle session keeps no write buffers. */
      g_free (g_byte_array_steal (self->out_flight, NULL));
      g_free (g_byte_array_steal (self->out_pending, NULL));
    }
  wake_writers (self);
  read_more (self);
  maybe_close_base (self);
}

void
punch_yamux_session_flush (PunchYamuxSession *self)
{
  GByteArray *tmp;

  if (self->writing || self->write_failed || self->base_closing || self->out_pending->len == 0)
    return;

  tmp = self->out_flight;
  self->out_flight = self->out_pending;
  self->out_pending = tmp;
  self->writing = TRUE;
  g_output_stream_write_all_async (self->base_out, self->out_flight->data, self->out_flight->len,
                                   G_PRIORITY_DEFAULT, self->write_cancellable,
                                   on_written, g_object_ref (self));
}

gboolean
punch_yamux_session_reserve_write (PunchYamuxSession *self,
                                   PunchYamuxStream  *stream)
{
  if (self->out_pending->len < OUT_HIGH_WATER)
    return TRUE;
  if (!stream->waiting_writable)
    {
      stream->waiting_writable = TRUE;
      g_queue_push_tail (&self->writable_waiters, g_object_ref (stream));
    }
  return FALSE;
}

void
punch_yamux_session_cancel_wait (PunchYamuxSession *self,
                                 PunchYamuxStream  *stream)
{
  if (g_queue_remove (&self->writable_waiters, stream))
    g_object_unref (stream);
  stream->waiting_writable = FALSE;
}

/* Opening streams */

static void open_op_free (OpenOp *op);

static PunchYamuxStream *
open_now (PunchYamuxSession *self,
          GError           **error)
{
  PunchYamuxStream *stream;
  guint32 id;

  if (self->closed)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "Yamux session is closed");
      return NULL;
    }
  if (self->remote_go_away)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                           "Yamux: the remote sent GoAway and accepts no new streams");
      return NULL;
    }
  if (self->go_away_sent)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "Yamux session is closing");
      return NULL;
    }
  if (self->next_stream_id > G_MAXUINT32 - 2)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_LIMIT, "Yamux stream IDs exhausted");
      return NULL;
    }

  id = self->next_stream_id;
  self->next_stream_id += 2;
  stream = punch_yamux_stream_new_internal (self, id, TRUE);
  g_hash_table_insert (self->streams, GUINT_TO_POINTER (id), g_object_ref (stream));
  self->n_unacked++;
  /* Our window is the default one, so the SYN carries a zero delta. */
  punch_yamux_session_queue_frame (self, PUNCH_YAMUX_TYPE_WINDOW_UPDATE, PUNCH_YAMUX_FLAG_SYN,
                                   id, stream->recv_window_max - PUNCH_YAMUX_INITIAL_WINDOW, NULL);
  punch_yamux_session_flush (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_STREAMS]);
  return stream;
}

static void
open_op_complete (OpenOp *op)
{
  GError *error = NULL;
  PunchYamuxStream *stream = open_now (op->session, &error);

  if (stream != NULL)
    g_task_return_pointer (op->task, stream, g_object_unref);
  else
    g_task_return_error (op->task, error);
  open_op_free (op);
}

static void
open_op_free (OpenOp *op)
{
  clear_source (&op->cancel);
  g_clear_object (&op->task);
  g_free (op);
}

static void
wake_opens (PunchYamuxSession *self)
{
  g_autoptr (PunchYamuxSession) hold G_GNUC_UNUSED = g_object_ref (self);

  while (!g_queue_is_empty (&self->pending_opens) &&
         (self->closed || self->remote_go_away || self->go_away_sent ||
          self->n_unacked < self->accept_backlog))
    open_op_complete (g_queue_pop_head (&self->pending_opens));
}

static gboolean
open_on_cancelled (GCancellable *cancellable,
                   gpointer      data)
{
  OpenOp *op = data;

  g_queue_remove (&op->session->pending_opens, op);
  g_task_return_new_error (op->task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
  open_op_free (op);
  return G_SOURCE_REMOVE;
}

/* Streams leaving the session */

static void
remove_stream (PunchYamuxSession *self,
               PunchYamuxStream  *stream,
               const GError      *error)
{
  g_autoptr (PunchYamuxStream) hold G_GNUC_UNUSED = g_object_ref (stream);
  gboolean was_unacked = FALSE;

  if (!g_hash_table_steal (self->streams, GUINT_TO_POINTER (stream->id)))
    return;

  if (!stream->outbound)
    self->n_inbound--;
  else if (!stream->acked)
    {
      self->n_unacked--;
      was_unacked = TRUE;
    }
  if (stream->waiting_writable)
    punch_yamux_session_cancel_wait (self, stream);
  if (self->payload_stream == stream)
    g_clear_object (&self->payload_stream);
  punch_yamux_stream_detach (stream, error);
  g_object_unref (stream);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_STREAMS]);
  if (was_unacked)
    wake_opens (self);
}

void
punch_yamux_session_stream_update (PunchYamuxSession *self,
                                   PunchYamuxStream  *stream)
{
  if (stream->session != self)
    return;
  if (stream->reset || (stream->local_fin && (stream->remote_fin || stream->input_closed)))
    remove_stream (self, stream, NULL);
}

/* Pings */

static gboolean
ping_on_cancelled (GCancellable *cancellable,
                   gpointer      data)
{
  PingOp *op = data;
  GTask *task = g_steal_pointer (&op->task);

  /* Keep the entry so a late answer is recognised and ignored. */
  clear_source (&op->cancel);
  g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

static PingOp *
send_ping (PunchYamuxSession *self,
           GTask             *task,
           gboolean           keepalive)
{
  PingOp *op = g_new0 (PingOp, 1);

  op->session = self;
  op->id = self->next_ping_id++;
  op->start = g_get_monotonic_time ();
  op->keepalive = keepalive;
  op->task = task != NULL ? g_object_ref (task) : NULL;
  /* Pings are rare (one at start, then keepalives): the table exists only
   * while one is out, so an idle session does not carry it. */
  if (self->pings == NULL)
    self->pings = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) ping_op_free);
  g_hash_table_replace (self->pings, GUINT_TO_POINTER (op->id), op);
  punch_yamux_session_queue_frame (self, PUNCH_YAMUX_TYPE_PING, PUNCH_YAMUX_FLAG_SYN, 0, op->id, NULL);
  punch_yamux_session_flush (self);
  return op;
}

static void
handle_pong (PunchYamuxSession *self,
             guint32            id)
{
  PingOp *op = self->pings != NULL ? g_hash_table_lookup (self->pings, GUINT_TO_POINTER (id)) : NULL;
  g_autoptr (GTask) task = NULL;
  gint64 rtt;

  if (op == NULL)
    return;

  rtt = MAX (1, g_get_monotonic_time () - op->start);
  self->rtt = rtt;
  if (op->keepalive)
    self->keepalive_outstanding = FALSE;
  task = g_steal_pointer (&op->task);
  g_hash_table_remove (self->pings, GUINT_TO_POINTER (id));
  if (g_hash_table_size (self->pings) == 0)
    g_clear_pointer (&self->pings, g_hash_table_unref);
  if (self->owner != NULL && self->owner->rtt != NULL)
    self->owner->rtt (self, rtt, self->owner_data);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RTT]);
  if (task != NULL)
    g_task_return_int (task, rtt);
}

static gboolean
on_keepalive (gpointer data)
{
  PunchYamuxSession *self = data;

  if (self->keepalive_outstanding)
    {
      clear_source (&self->keepalive);
      terminate (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                            "Yamux keepalive ping timed out"), -1);
      return G_SOURCE_REMOVE;
    }
  self->keepalive_outstanding = TRUE;
  send_ping (self, NULL, TRUE);
  return G_SOURCE_CONTINUE;
}

static void
arm_keepalive (PunchYamuxSession *self)
{
  clear_source (&self->keepalive);
  self->keepalive_outstanding = FALSE;
  if (self->started && !self->closed && self->keepalive_interval > 0)
    self->keepalive = add_timeout_seconds (self, self->keepalive_interval, on_keepalive,
                                           "[punchline] yamux keepalive");
}

/* Ending the session */

static void
on_base_closed (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (PunchYamuxSession) self = user_data;
  g_autoptr (GPtrArray) tasks = NULL;

  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
  self->base_closed = TRUE;
  clear_source (&self->close_timeout);
  tasks = g_steal_pointer (&self->close_tasks);
  self->close_tasks = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < tasks->len; i++)
    g_task_return_boolean (g_ptr_array_index (tasks, i), TRUE);
}

static void
maybe_close_base (PunchYamuxSession *self)
{
  if (!self->closed || self->base_closing || self->writing)
    return;
  if (self->out_pending->len > 0 && !self->write_failed)
    return;

  self->base_closing = TRUE;
  g_io_stream_close_async (self->base, G_PRIORITY_DEFAULT, NULL, on_base_closed, g_object_ref (self));
}

static gboolean
on_close_timeout (gpointer data)
{
  PunchYamuxSession *self = data;

  /* The remote stopped reading: give up on the GoAway. */
  clear_source (&self->close_timeout);
  g_cancellable_cancel (self->write_cancellable);
  return G_SOURCE_REMOVE;
}

static GPtrArray *
take_streams (PunchYamuxSession *self)
{
  GPtrArray *streams = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->streams);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (streams, value);
  g_hash_table_steal_all (self->streams);
  self->n_inbound = 0;
  self->n_unacked = 0;
  return streams;
}

/* Takes @error (NULL for a clean end). go_away_code < 0 sends no GoAway. */
static void
terminate (PunchYamuxSession *self,
           GError            *error,
           int                go_away_code)
{
  g_autoptr (PunchYamuxSession) hold G_GNUC_UNUSED = g_object_ref (self);
  g_autoptr (GError) owned_error G_GNUC_UNUSED = error;
  g_autoptr (GError) stream_error = NULL;
  g_autoptr (GPtrArray) streams = NULL;

  if (self->closed)
    return;
  self->closed = TRUE;

  if (error != NULL)
    g_debug ("yamux session %p ends: %s", self, error->message);

  if (go_away_code >= 0 && !self->go_away_sent)
    {
      self->go_away_sent = TRUE;
      punch_yamux_session_queue_frame (self, PUNCH_YAMUX_TYPE_GO_AWAY, 0, 0, (guint32) go_away_code, NULL);
      punch_yamux_session_flush (self);
    }
  clear_source (&self->keepalive);
  g_cancellable_cancel (self->read_cancellable);
  g_clear_object (&self->payload_stream);
  self->in_payload = FALSE;

  if (error != NULL)
    stream_error = g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                "Yamux session closed: %s", error->message);
  else
    stream_error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "Yamux session closed");

  while (!g_queue_is_empty (&self->writable_waiters))
    {
      PunchYamuxStream *stream = g_queue_pop_head (&self->writable_waiters);

      stream->waiting_writable = FALSE;
      g_object_unref (stream);
    }
  streams = take_streams (self);
  for (guint i = 0; i < streams->len; i++)
    punch_yamux_stream_detach (g_ptr_array_index (streams, i), stream_error);

  wake_opens (self);
  g_clear_pointer (&self->pings, g_hash_table_unref);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_STREAMS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLOSED]);
  if (self->owner != NULL && self->owner->closed != NULL)
    self->owner->closed (self, error, self->owner_data);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);

  if (self->writing && self->close_timeout == NULL)
    self->close_timeout = add_timeout_seconds (self, CLOSE_FLUSH_TIMEOUT_S, on_close_timeout,
                                               "[punchline] yamux close flush");
  maybe_close_base (self);
}

static void protocol_error (PunchYamuxSession *self,
                            const char        *format,
                            ...) G_GNUC_PRINTF (2, 3);

static void
protocol_error (PunchYamuxSession *self,
                const char        *format,
                ...)
{
  va_list args;
  GError *error;

  va_start (args, format);
  error = g_error_new_valist (PUNCH_ERROR, PUNCH_ERROR_PROTOCOL, format, args);
  va_end (args);
  terminate (self, error, PUNCH_YAMUX_GO_AWAY_PROTOCOL_ERROR);
}

/* Reading frames */

static void
start_payload (PunchYamuxSession *self,
               PunchYamuxStream  *stream,
               guint16            flags,
               guint32            length)
{
  if (length == 0)
    return;
  self->in_payload = TRUE;
  self->payload_left = length;
  self->payload_flags = flags;
  g_set_object (&self->payload_stream, stream);
}

void
punch_yamux_session_defer_read (PunchYamuxSession *self,
                                PunchYamuxStream  *stream)
{
  g_ptr_array_add (self->deferred_reads, g_object_ref (stream));
}

static void
complete_deferred_reads (PunchYamuxSession *self)
{
  g_autoptr (GPtrArray) streams = NULL;

  if (self->deferred_reads->len == 0)
    return;
  streams = g_steal_pointer (&self->deferred_reads);
  self->deferred_reads = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < streams->len; i++)
    punch_yamux_stream_complete_read (g_ptr_array_index (streams, i));
}

static void
handle_stream_frame (PunchYamuxSession *self,
                     guint8             type,
                     guint16            flags,
                     guint32            id,
                     guint32            length)
{
  g_autoptr (PunchYamuxStream) stream = NULL;
  gboolean created = FALSE;

  if (id == 0)
    {
      protocol_error (self, "Yamux: %s frame on stream 0",
                      type == PUNCH_YAMUX_TYPE_DATA ? "Data" : "Window Update");
      return;
    }

  stream = g_hash_table_lookup (self->streams, GUINT_TO_POINTER (id));
  if (stream != NULL)
    g_object_ref (stream);

  if (flags & PUNCH_YAMUX_FLAG_SYN)
    {
      if (stream != NULL)
        {
          protocol_error (self, "Yamux: the remote opened stream %u twice", id);
          return;
        }
      if (((id & 1) == 1) == self->is_client)
        {
          protocol_error (self, "Yamux: the remote opened stream %u with our ID parity", id);
          return;
        }
      if (self->go_away_sent || self->n_inbound >= self->max_streams ||
          ((self->owner == NULL || self->owner->stream == NULL) &&
           !g_signal_has_handler_pending (self, signals[SIGNAL_STREAM], 0, FALSE)))
        {
          g_debug ("yamux: refusing inbound stream %u (%u open, limit %u)",
                   id, self->n_inbound, self->max_streams);
          punch_yamux_session_queue_frame (self, PUNCH_YAMUX_TYPE_WINDOW_UPDATE, PUNCH_YAMUX_FLAG_RST,
                                           id, 0, NULL);
          punch_yamux_session_flush (self);
          if (type == PUNCH_YAMUX_TYPE_DATA)
            {
              if (length > PUNCH_YAMUX_INITIAL_WINDOW)
                protocol_error (self, "Yamux: stream %u sent %u bytes, over the initial window", id, length);
              else
                start_payload (self, NULL, flags, length);
            }
          return;
        }

      stream = punch_yamux_stream_new_internal (self, id, FALSE);
      stream->acked = TRUE;
      g_hash_table_insert (self->streams, GUINT_TO_POINTER (id), g_object_ref (stream));
      self->n_inbound++;
      created = TRUE;
      /* Acknowledge right away, as go-yamux does on accept. */
      punch_yamux_session_queue_frame (self, PUNCH_YAMUX_TYPE_WINDOW_UPDATE, PUNCH_YAMUX_FLAG_ACK,
                                       id, 0, NULL);
      punch_yamux_session_flush (self);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_STREAMS]);
    }

  if (stream == NULL)
    {
      /* A stream we already forgot (reset, closed): drop what is in flight. */
      if (type == PUNCH_YAMUX_TYPE_DATA)
        {
          if (length > PUNCH_YAMUX_MAX_WINDOW)
            protocol_error (self, "Yamux: frame of %u bytes on stream %u is over the maximum window",
                            length, id);
          else
            start_payload (self, NULL, flags, length);
        }
      return;
    }

  if ((flags & PUNCH_YAMUX_FLAG_ACK) && stream->outbound && !stream->acked)
    {
      stream->acked = TRUE;
      self->n_unacked--;
      wake_opens (self);
    }

  if (flags & PUNCH_YAMUX_FLAG_RST)
    {
      if (type == PUNCH_YAMUX_TYPE_DATA)
        {
          if (length > stream->recv_window)
            {
              protocol_error (self, "Yamux: stream %u sent %u bytes with %u bytes of window left",
                              id, length, stream->recv_window);
              return;
            }
          start_payload (self, NULL, flags, length);
        }
      punch_yamux_stream_remote_reset (stream);
      return;
    }

  if (type == PUNCH_YAMUX_TYPE_WINDOW_UPDATE)
    {
      if (length > 0)
        punch_yamux_stream_add_send_window (stream, length);
    }
  else
    {
      if (length > stream->recv_window)
        {
          protocol_error (self, "Yamux: stream %u sent %u bytes with %u bytes of window left",
                          id, length, stream->recv_window);
          return;
        }
      stream->recv_window -= length;
      start_payload (self, stream, flags, length);
    }

  if ((flags & PUNCH_YAMUX_FLAG_FIN) && !self->in_payload)
    punch_yamux_stream_remote_fin (stream);

  if (created && !self->closed && self->owner != NULL && self->owner->stream != NULL)
    self->owner->stream (self, stream, self->owner_data);
  if (created && !self->closed)
    g_signal_emit (self, signals[SIGNAL_STREAM], 0, stream);
}

static void
handle_go_away (PunchYamuxSession *self,
                guint32            code)
{
  const char *what;

  if (code == PUNCH_YAMUX_GO_AWAY_NORMAL)
    {
      g_debug ("yamux: the remote sent GoAway");
      self->remote_go_away = TRUE;
      wake_opens (self);
      return;
    }

  if (code == PUNCH_YAMUX_GO_AWAY_PROTOCOL_ERROR)
    what = "protocol error";
  else if (code == PUNCH_YAMUX_GO_AWAY_INTERNAL_ERROR)
    what = "internal error";
  else
    what = "unknown code";
  terminate (self, g_error_new (PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                                "Yamux: the remote sent GoAway (%s, %u)", what, code), -1);
}

static void
handle_header (PunchYamuxSession *self,
               const guint8      *p)
{
  guint8 version = p[0];
  guint8 type = p[1];
  guint16 flags = (guint16) ((p[2] << 8) | p[3]);
  guint32 id = ((guint32) p[4] << 24) | ((guint32) p[5] << 16) | ((guint32) p[6] << 8) | p[7];
  guint32 length = ((guint32) p[8] << 24) | ((guint32) p[9] << 16) | ((guint32) p[10] << 8) | p[11];

  if (version != PUNCH_YAMUX_VERSION)
    {
      protocol_error (self, "Yamux: unsupported protocol version %u", version);
      return;
    }

  switch (type)
    {
    case PUNCH_YAMUX_TYPE_DATA:
    case PUNCH_YAMUX_TYPE_WINDOW_UPDATE:
      handle_stream_frame (self, type, flags, id, length);
      break;

    case PUNCH_YAMUX_TYPE_PING:
      if (flags & PUNCH_YAMUX_FLAG_SYN)
        {
          punch_yamux_session_queue_frame (self, PUNCH_YAMUX_TYPE_PING, PUNCH_YAMUX_FLAG_ACK, 0, length, NULL);
          punch_yamux_session_flush (self);
        }
      else if (flags & PUNCH_YAMUX_FLAG_ACK)
        handle_pong (self, length);
      break;

    case PUNCH_YAMUX_TYPE_GO_AWAY:
      handle_go_away (self, length);
      break;

    default:
      protocol_error (self, "Yamux: unknown frame type %u", type);
      break;
    }
}

static void
process_input (PunchYamuxSession *self)
{
  gsize pos = 0;

  while (!self->closed)
    {
      gsize avail = self->rlen - pos;

      if (self->in_payload)
        {
          gsize n = MIN (avail, self->payload_left);
          g_autoptr (PunchYamuxStream) stream = NULL;

          if (n == 0)
            break;
          if (self->payload_stream != NULL)
            stream = g_object_ref (self->payload_stream);
          self->payload_left -= n;
          if (self->payload_left == 0)
            {
              self->in_payload = FALSE;
              g_clear_object (&self->payload_stream);
            }
          if (stream != NULL && stream->session == self)
            {
              punch_yamux_stream_push_data (stream, self->rbuf + pos, n);
              if (!self->in_payload && (self->payload_flags & PUNCH_YAMUX_FLAG_FIN) && stream->session == self)
                punch_yamux_stream_remote_fin (stream);
            }
          pos += n;
          continue;
        }

      if (avail < PUNCH_YAMUX_HEADER_SIZE)
        break;
      handle_header (self, self->rbuf + pos);
      pos += PUNCH_YAMUX_HEADER_SIZE;
    }

  if (self->closed)
    {
      self->rlen = 0;
      return;
    }
  /* At most a partial header is left over. */
  memmove (self->rbuf, self->rbuf + pos, self->rlen - pos);
  self->rlen -= pos;
}

/* A full buffer means the sender is fast: read more at once next time. Only
 * a partial header is left in the buffer here, so a new block costs no copy
 * worth the name. */
static void
resize_read_buffer (PunchYamuxSession *self,
                    gboolean           full,
                    gsize              last_read)
{
  gsize rcap = self->rcap;
  guint8 *rbuf;

  if (last_read > READ_BUFFER_MIN)
    self->read_busy_until = g_get_monotonic_time () + READ_BUSY_US;
  if (full)
    rcap = MIN (rcap * 2, READ_BUFFER_MAX);
  else if (last_read <= READ_BUFFER_MIN && g_get_monotonic_time () >= self->read_busy_until)
    rcap = READ_BUFFER_MIN;
  if (rcap == self->rcap)
    return;

  g_assert (self->rlen < PUNCH_YAMUX_HEADER_SIZE);
  rbuf = g_malloc (rcap);
  memcpy (rbuf, self->rbuf, self->rlen);
  g_free (self->rbuf);
  self->rbuf = rbuf;
  self->rcap = rcap;
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr (PunchYamuxSession) self = user_data;
  GError *error = NULL;
  gboolean full;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  /* "reading" stays set while rbuf is parsed: nothing may start another
   * read into it until then, even from a nested main loop. */
  if (self->closed)
    {
      self->reading = FALSE;
      g_clear_error (&error);
      return;
    }

  if (n <= 0)
    self->reading = FALSE;
  if (n < 0)
    {
      g_prefix_error (&error, "Yamux read failed: ");
      terminate (self, error, -1);
      return;
    }
  if (n == 0)
    {
      if (self->rlen > 0 || self->in_payload)
        terminate (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                              "Yamux: the connection closed in the middle of a frame"), -1);
      else if (self->remote_go_away)
        terminate (self, NULL, -1);
      else
        terminate (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                              "Yamux: the connection was closed by the remote"), -1);
      return;
    }

  full = self->rlen + (gsize) n == self->rcap;
  self->rlen += n;
  process_input (self);
  if (!self->closed)
    resize_read_buffer (self, full, (gsize) n);
  complete_deferred_reads (self);
  self->reading = FALSE;
  read_more (self);
}

static void
read_more (PunchYamuxSession *self)
{
  if (self->closed || self->reading || !self->started)
    return;
  if (self->out_pending->len + self->out_flight->len >= OUT_PAUSE_READ)
    {
      g_debug ("yamux: %u bytes wait to be written, pausing reads",
               self->out_pending->len + self->out_flight->len);
      return;
    }
  self->reading = TRUE;
  g_input_stream_read_async (self->base_in, self->rbuf + self->rlen, self->rcap - self->rlen,
                             G_PRIORITY_DEFAULT, self->read_cancellable, on_read, g_object_ref (self));
}

/* GObject */

static void
punch_yamux_session_dispose (GObject *object)
{
  PunchYamuxSession *self = PUNCH_YAMUX_SESSION (object);

  if (self->streams != NULL)
    {
      g_autoptr (GPtrArray) streams = take_streams (self);
      g_autoptr (GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED,
                                                      "Yamux session is gone");

      for (guint i = 0; i < streams->len; i++)
        punch_yamux_stream_detach (g_ptr_array_index (streams, i), error);
    }
  while (!g_queue_is_empty (&self->writable_waiters))
    g_object_unref (g_queue_pop_head (&self->writable_waiters));
  g_clear_object (&self->payload_stream);
  if (self->deferred_reads != NULL)
    g_ptr_array_set_size (self->deferred_reads, 0);
  clear_source (&self->keepalive);
  clear_source (&self->close_timeout);
  if (self->pings != NULL)
    g_hash_table_remove_all (self->pings);

  G_OBJECT_CLASS (punch_yamux_session_parent_class)->dispose (object);
}

static void
punch_yamux_session_finalize (GObject *object)
{
  PunchYamuxSession *self = PUNCH_YAMUX_SESSION (object);

  g_clear_pointer (&self->streams, g_hash_table_unref);
  g_clear_pointer (&self->pings, g_hash_table_unref);
  g_clear_pointer (&self->close_tasks, g_ptr_array_unref);
  g_clear_pointer (&self->deferred_reads, g_ptr_array_unref);
  g_clear_pointer (&self->out_pending, g_byte_array_unref);
  g_clear_pointer (&self->out_flight, g_byte_array_unref);
  g_clear_pointer (&self->rbuf, g_free);
  g_clear_object (&self->read_cancellable);
  g_clear_object (&self->write_cancellable);
  g_clear_object (&self->base);
  g_clear_pointer (&self->context, g_main_context_unref);

  G_OBJECT_CLASS (punch_yamux_session_parent_class)->finalize (object);
}

static void
punch_yamux_session_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  PunchYamuxSession *self = PUNCH_YAMUX_SESSION (object);

  switch (prop_id)
    {
    case PROP_IS_CLIENT:
      g_value_set_boolean (value, self->is_client);
      break;
    case PROP_KEEPALIVE_INTERVAL:
      g_value_set_uint (value, self->keepalive_interval);
      break;
    case PROP_MAX_STREAMS:
      g_value_set_uint (value, self->max_streams);
      break;
    case PROP_ACCEPT_BACKLOG:
      g_value_set_uint (value, self->accept_backlog);
      break;
    case PROP_RTT:
      g_value_set_int64 (value, self->rtt);
      break;
    case PROP_N_STREAMS:
      g_value_set_uint (value, punch_yamux_session_get_n_streams (self));
      break;
    case PROP_CLOSED:
      g_value_set_boolean (value, self->closed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_yamux_session_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  PunchYamuxSession *self = PUNCH_YAMUX_SESSION (object);
  guint v;

  switch (prop_id)
    {
    case PROP_IS_CLIENT:
      self->is_client = g_value_get_boolean (value);
      self->next_stream_id = self->is_client ? 1 : 2;
      break;
    case PROP_KEEPALIVE_INTERVAL:
      v = g_value_get_uint (value);
      if (v != self->keepalive_interval)
        {
          self->keepalive_interval = v;
          arm_keepalive (self);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    case PROP_MAX_STREAMS:
      v = g_value_get_uint (value);
      if (v != self->max_streams)
        {
          self->max_streams = v;
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    case PROP_ACCEPT_BACKLOG:
      v = g_value_get_uint (value);
      if (v != self->accept_backlog)
        {
          self->accept_backlog = v;
          g_object_notify_by_pspec (object, pspec);
          wake_opens (self);
        }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_yamux_session_class_init (PunchYamuxSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = punch_yamux_session_dispose;
  object_class->finalize = punch_yamux_session_finalize;
  object_class->get_property = punch_yamux_session_get_property;
  object_class->set_property = punch_yamux_session_set_property;

  properties[PROP_IS_CLIENT] =
    g_param_spec_boolean ("is-client", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_KEEPALIVE_INTERVAL] =
    g_param_spec_uint ("keepalive-interval", NULL, NULL, 0, 24 * 3600, 30,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MAX_STREAMS] =
    g_param_spec_uint ("max-streams", NULL, NULL, 0, G_MAXUINT, 1000,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ACCEPT_BACKLOG] =
    g_param_spec_uint ("accept-backlog", NULL, NULL, 1, G_MAXUINT, 256,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_RTT] =
    g_param_spec_int64 ("rtt", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_N_STREAMS] =
    g_param_spec_uint ("n-streams", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CLOSED] =
    g_param_spec_boolean ("closed", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PunchYamuxSession::stream:
   * @self: the session
   * @stream: the stream the remote opened
   *
   * The remote opened a stream. A handler that wants it takes a reference;
   * with no handler connected, inbound streams are reset.
   */
  signals[SIGNAL_STREAM] =
    g_signal_new ("stream", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, PUNCH_TYPE_YAMUX_STREAM);

  /**
   * PunchYamuxSession::closed:
   * @self: the session
   * @error: (nullable): why it ended, or %NULL for a clean close or GoAway
   *
   * The session ended; emitted once. All streams have failed by then.
   */
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
punch_yamux_session_init (PunchYamuxSession *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->keepalive_interval = 30;
  self->max_streams = 1000;
  self->accept_backlog = 256;
  self->next_stream_id = 2;
  self->streams = g_hash_table_new (g_direct_hash, g_direct_equal);
  self->close_tasks = g_ptr_array_new_with_free_func (g_object_unref);
  self->deferred_reads = g_ptr_array_new_with_free_func (g_object_unref);
  self->out_pending = g_byte_array_new ();
  self->out_flight = g_byte_array_new ();
  self->rcap = READ_BUFFER_MIN;
  self->rbuf = g_malloc (self->rcap);
  self->read_cancellable = g_cancellable_new ();
  self->write_cancellable = g_cancellable_new ();
  g_queue_init (&self->pending_opens);
  g_queue_init (&self->writable_waiters);
}

void
punch_yamux_session_set_owner (PunchYamuxSession            *self,
                               const PunchYamuxSessionOwner *owner,
                               gpointer                      user_data)
{
  g_return_if_fail (PUNCH_IS_YAMUX_SESSION (self));

  self->owner = owner;
  self->owner_data = owner != NULL ? user_data : NULL;
}

/**
 * punch_yamux_session_new:
 * @base: the connection to multiplex (normally a secured one)
 * @is_client: whether we initiated the connection (odd stream IDs)
 *
 * Creates a session; nothing is read or written before
 * punch_yamux_session_start(). The session keeps itself alive while it reads,
 * until it is closed (punch_yamux_session_close_async(), the remote, or an
 * error).
 *
 * Returns: (transfer full): a new #PunchYamuxSession
 */
PunchYamuxSession *
punch_yamux_session_new (GIOStream *base,
                         gboolean   is_client)
{
  PunchYamuxSession *self;

  g_return_val_if_fail (G_IS_IO_STREAM (base), NULL);

  self = g_object_new (PUNCH_TYPE_YAMUX_SESSION, "is-client", is_client, NULL);
  self->base = g_object_ref (base);
  self->base_in = g_io_stream_get_input_stream (base);
  self->base_out = g_io_stream_get_output_stream (base);
  return self;
}

/**
 * punch_yamux_session_start:
 * @self: a #PunchYamuxSession
 *
 * Starts reading frames, measures the RTT with a first ping and arms the
 * keepalive. Signals are emitted from the thread-default main context.
 */
void
punch_yamux_session_start (PunchYamuxSession *self)
{
  g_return_if_fail (PUNCH_IS_YAMUX_SESSION (self));

  if (self->started || self->closed)
    return;
  self->started = TRUE;
  /* Like go-yamux, measure the RTT at once: window auto-tuning uses it. */
  send_ping (self, NULL, FALSE);
  arm_keepalive (self);
  read_more (self);
}

/**
 * punch_yamux_session_open_stream_async:
 * @self: a #PunchYamuxSession
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the stream is open
 * @user_data: data for @callback
 *
 * Opens an outbound stream. The stream is usable at once (data may be sent
 * before the remote acknowledges it); the call only waits while the ACK
 * backlog ("accept-backlog" unacknowledged streams) is full.
 */
void
punch_yamux_session_open_stream_async (PunchYamuxSession  *self,
                                       GCancellable       *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer            user_data)
{
  g_autoptr (GTask) task = NULL;
  OpenOp *op;

  g_return_if_fail (PUNCH_IS_YAMUX_SESSION (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_yamux_session_open_stream_async);
  if (g_task_return_error_if_cancelled (task))
    return;

  op = g_new0 (OpenOp, 1);
  op->session = self;
  op->task = g_steal_pointer (&task);
  if (!self->closed && !self->remote_go_away && !self->go_away_sent &&
      self->n_unacked >= self->accept_backlog)
    {
      op->cancel = attach_cancel_source (cancellable, G_CALLBACK (open_on_cancelled), op);
      g_queue_push_tail (&self->pending_opens, op);
      return;
    }
  open_op_complete (op);
}

/**
 * punch_yamux_session_open_stream_finish:
 * @self: a #PunchYamuxSession
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the new stream, or %NULL with @error set (session
 *   closed, or the remote sent GoAway)
 */
PunchYamuxStream *
punch_yamux_session_open_stream_finish (PunchYamuxSession *self,
                                        GAsyncResult      *result,
                                        GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * punch_yamux_session_ping_async:
 * @self: a #PunchYamuxSession
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * Sends a Yamux Ping and measures the round trip.
 */
void
punch_yamux_session_ping_async (PunchYamuxSession  *self,
                                GCancellable       *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer            user_data)
{
  g_autoptr (GTask) task = NULL;
  PingOp *op;

  g_return_if_fail (PUNCH_IS_YAMUX_SESSION (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_yamux_session_ping_async);
  if (g_task_return_error_if_cancelled (task))
    return;
  if (self->closed)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CLOSED, "Yamux session is closed");
      return;
    }
  op = send_ping (self, task, FALSE);
  op->cancel = attach_cancel_source (cancellable, G_CALLBACK (ping_on_cancelled), op);
}

/**
 * punch_yamux_session_ping_finish:
 * @self: a #PunchYamuxSession
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: the round-trip time in microseconds, or -1 with @error set
 */
gint64
punch_yamux_session_ping_finish (PunchYamuxSession *self,
                                 GAsyncResult      *result,
                                 GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), -1);
  return g_task_propagate_int (G_TASK (result), error);
}

/**
 * punch_yamux_session_close_async:
 * @self: a #PunchYamuxSession
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once the base stream is closed
 * @user_data: data for @callback
 *
 * Sends GoAway (normal), fails the open streams, flushes and closes the base
 * stream. "closed" is emitted with a %NULL error unless the session had
 * already ended.
 */
void
punch_yamux_session_close_async (PunchYamuxSession  *self,
                                 GCancellable       *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer            user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (PUNCH_IS_YAMUX_SESSION (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_yamux_session_close_async);
  if (self->base_closed)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_ptr_array_add (self->close_tasks, g_steal_pointer (&task));
  if (!self->closed)
    terminate (self, NULL, PUNCH_YAMUX_GO_AWAY_NORMAL);
  else
    maybe_close_base (self);
}

/**
 * punch_yamux_session_close_finish:
 * @self: a #PunchYamuxSession
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: %TRUE once closed
 */
gboolean
punch_yamux_session_close_finish (PunchYamuxSession *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
punch_yamux_session_is_closed (PunchYamuxSession *self)
{
  g_return_val_if_fail (PUNCH_IS_YAMUX_SESSION (self), TRUE);
  return self->closed;
}

gboolean
punch_yamux_session_get_is_client (PunchYamuxSession *self)
{
  g_return_val_if_fail (PUNCH_IS_YAMUX_SESSION (self), FALSE);
  return self->is_client;
}

/**
 * punch_yamux_session_get_rtt:
 * @self: a #PunchYamuxSession
 *
 * Returns: the last measured ping round trip in microseconds, 0 if none yet
 */
gint64
punch_yamux_session_get_rtt (PunchYamuxSession *self)
{
  g_return_val_if_fail (PUNCH_IS_YAMUX_SESSION (self), 0);
  return self->rtt;
}

gsize
punch_yamux_session_get_queued_bytes (PunchYamuxSession *self)
{
  return self->out_pending->len + self->out_flight->len;
}

guint
punch_yamux_session_get_n_streams (PunchYamuxSession *self)
{
  g_return_val_if_fail (PUNCH_IS_YAMUX_SESSION (self), 0);
  return self->streams != NULL ? g_hash_table_size (self->streams) : 0;
}
