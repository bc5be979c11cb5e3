/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-yamux-stream.h"

#include <string.h>

#include "punch-yamux-private.h"

/* A single write hands at most this much to the session at once, so one
 * fast writer cannot monopolise the outgoing queue. */
#define MAX_WRITE_CHUNK (256 * 1024)
/* A drained receive buffer bigger than this is freed rather than kept. */
#define RECV_BUFFER_KEEP (1024 * 1024)

/* The input and output halves only forward to the PunchYamuxStream; they
 * hold a plain pointer to it, cleared when it is disposed. */
#define PUNCH_TYPE_YAMUX_INPUT (punch_yamux_input_get_type ())
G_DECLARE_FINAL_TYPE (PunchYamuxInput, punch_yamux_input, PUNCH, YAMUX_INPUT, GInputStream)

struct _PunchYamuxInput
{
  GInputStream parent_instance;
  PunchYamuxStream *stream;
};

G_DEFINE_TYPE (PunchYamuxInput, punch_yamux_input, G_TYPE_INPUT_STREAM)

#define PUNCH_TYPE_YAMUX_OUTPUT (punch_yamux_output_get_type ())
G_DECLARE_FINAL_TYPE (PunchYamuxOutput, punch_yamux_output, PUNCH, YAMUX_OUTPUT, GOutputStream)

struct _PunchYamuxOutput
{
  GOutputStream parent_instance;
  PunchYamuxStream *stream;
};

G_DEFINE_TYPE (PunchYamuxOutput, punch_yamux_output, G_TYPE_OUTPUT_STREAM)

G_DEFINE_TYPE (PunchYamuxStream, punch_yamux_stream, G_TYPE_IO_STREAM)

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

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

gsize
punch_yamux_stream_buffered (PunchYamuxStream *self)
{
  return self->recv_buf->len - self->recv_off;
}

/* Grants the remote more window once the application has read half of it,
 * growing the window (go-yamux's rule) when grants come faster than four
 * round trips apart: the reader keeps up, the window is the bottleneck. */
static void
maybe_grant_window (PunchYamuxStream *self)
{
  PunchYamuxSession *session = self->session;
  guint32 old_max = self->recv_window_max;
  guint32 delta;
  gint64 now;
  gint64 rtt;

  if (session == NULL || self->remote_fin || self->reset || self->input_closed)
    return;
  if (self->consumed < self->recv_window_max / 2)
    return;

  now = g_get_monotonic_time ();
  rtt = punch_yamux_session_get_rtt (session);
  if (self->recv_window_max < PUNCH_YAMUX_MAX_WINDOW &&
      (rtt <= 0 || now - self->epoch_start < 4 * rtt))
    self->recv_window_max = MIN ((guint64) self->recv_window_max * 2, PUNCH_YAMUX_MAX_WINDOW);

  delta = self->consumed + (self->recv_window_max - old_max);
  self->consumed = 0;
  self->recv_window += delta;
  self->epoch_start = now;
  punch_yamux_session_queue_frame (session, PUNCH_YAMUX_TYPE_WINDOW_UPDATE, 0,
                                   self->id, delta, NULL);
  punch_yamux_session_flush (session);
}

static gsize
copy_out (PunchYamuxStream *self,
          guint8           *buffer,
          gsize             count)
{
  gsize n = MIN (punch_yamux_stream_buffered (self), count);

  memcpy (buffer, self->recv_buf->data + self->recv_off, n);
  self->recv_off += n;
  if (self->recv_off == self->recv_buf->len)
    {
      /* An idle stream should not keep a backlog-sized allocation. */
      if (self->recv_buf->len > RECV_BUFFER_KEEP)
        {
          g_byte_array_unref (self->recv_buf);
          self->recv_buf = g_byte_array_new ();
        }
      else
        g_byte_array_set_size (self->recv_buf, 0);
      self->recv_off = 0;
    }
  self->consumed += n;
  maybe_grant_window (self);
  return n;
}

static void
drop_buffer (PunchYamuxStream *self)
{
  g_byte_array_set_size (self->recv_buf, 0);
  self->recv_off = 0;
}

/* Returns bytes read, 0 at EOF, -1 on error, -2 when the read has to wait. */
static gssize
try_read (PunchYamuxStream *self,
          guint8           *buffer,
          gsize             count,
          GError          **error)
{
  if (count == 0)
    return 0;
  if (self->input_closed)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "Stream input is closed");
      return -1;
    }
  if (punch_yamux_stream_buffered (self) > 0)
    return copy_out (self, buffer, count);
  if (self->reset && self->error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->error));
      return -1;
    }
  if (self->remote_fin)
    return 0;
  if (self->error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->error));
      return -1;
    }
  if (self->session == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "Stream is closed");
      return -1;
    }
  return -2;
}

static void
finish_read (PunchYamuxStream *self,
             gssize            n,
             GError           *error)
{
  g_autoptr (GTask) task = g_steal_pointer (&self->read_task);

  self->read_buf = NULL;
  self->read_count = 0;
  self->read_filled = 0;
  clear_source (&self->read_cancel);
  if (n >= 0)
    g_task_return_int (task, n);
  else
    g_task_return_error (task, error);
}

static void
complete_read (PunchYamuxStream *self)
{
  GError *error = NULL;
  gssize n;

  if (self->read_task == NULL)
    return;

  /* Bytes already in the caller's buffer go first, whatever else happened. */
  if (self->read_filled > 0)
    n = self->read_filled;
  else
    n = try_read (self, self->read_buf, self->read_count, &error);
  if (n == -2)
    return;
  finish_read (self, n, error);
}

void
punch_yamux_stream_complete_read (PunchYamuxStream *self)
{
  self->read_deferred = FALSE;
  complete_read (self);
}

static void
fail_read (PunchYamuxStream *self,
           GError           *error)
{
  if (self->read_task == NULL)
    {
      g_error_free (error);
      return;
    }
  finish_read (self, -1, error);
}

static void
fail_write (PunchYamuxStream *self,
            GError           *error)
{
  g_autoptr (GTask) task = g_steal_pointer (&self->write_task);

  if (self->waiting_writable && self->session != NULL)
    punch_yamux_session_cancel_wait (self->session, self);
  self->waiting_writable = FALSE;
  if (task == NULL)
    {
      g_error_free (error);
      return;
    }
  self->write_buf = NULL;
  self->write_count = 0;
  clear_source (&self->write_cancel);
  g_task_return_error (task, error);
}

void
punch_yamux_stream_push_data (PunchYamuxStream *self,
                              const guint8     *data,
                              gsize             len)
{
  self->bytes_received += len;
  if (self->reset || self->input_closed)
    return;

  /* A waiting reader gets the bytes directly, without the extra copy
   * through the receive buffer. */
  if (self->read_task != NULL && punch_yamux_stream_buffered (self) == 0 &&
      self->read_filled < self->read_count)
    {
      gsize n = MIN (len, self->read_count - self->read_filled);

      memcpy (self->read_buf + self->read_filled, data, n);
      self->read_filled += n;
      data += n;
      len -= n;
      self->consumed += n;
      if (!self->read_deferred && self->session != NULL)
        {
          self->read_deferred = TRUE;
          punch_yamux_session_defer_read (self->session, self);
        }
    }

  if (len > 0)
    {
      if (self->recv_off > 0 && self->recv_off >= self->recv_buf->len / 2)
        {
          g_byte_array_remove_range (self->recv_buf, 0, self->recv_off);
          self->recv_off = 0;
        }
      g_byte_array_append (self->recv_buf, data, len);
    }
  maybe_grant_window (self);
}

void
punch_yamux_stream_remote_fin (PunchYamuxStream *self)
{
  g_autoptr (PunchYamuxStream) hold G_GNUC_UNUSED = g_object_ref (self);

  self->remote_fin = TRUE;
  complete_read (self);
  if (self->session != NULL)
    punch_yamux_session_stream_update (self->session, self);
}

static void
mark_reset (PunchYamuxStream *self,
            const char       *message)
{
  self->reset = TRUE;
  drop_buffer (self);
  g_clear_error (&self->error);
  self->error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, message);
  fail_read (self, g_error_copy (self->error));
  fail_write (self, g_error_copy (self->error));
}

void
punch_yamux_stream_remote_reset (PunchYamuxStream *self)
{
  g_autoptr (PunchYamuxStream) hold G_GNUC_UNUSED = g_object_ref (self);

  if (self->reset)
    return;
  mark_reset (self, "Stream reset by the remote");
  if (self->session != NULL)
    punch_yamux_session_stream_update (self->session, self);
}

void
punch_yamux_stream_add_send_window (PunchYamuxStream *self,
                                    guint32           delta)
{
  /* Clamp rather than trust a remote that overflows 32 bits. */
  self->send_window = MIN (self->send_window + delta, G_MAXUINT32);
  punch_yamux_stream_try_write (self);
}

void
punch_yamux_stream_detach (PunchYamuxStream *self,
                           const GError     *error)
{
  g_autoptr (PunchYamuxStream) hold G_GNUC_UNUSED = g_object_ref (self);

  self->waiting_writable = FALSE;
  self->session = NULL;
  if (error != NULL && self->error == NULL)
    self->error = g_error_copy (error);
  complete_read (self);
  if (self->write_task != NULL)
    fail_write (self, self->error != NULL
                        ? g_error_copy (self->error)
                        : g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "Stream is closed"));
}

void
punch_yamux_stream_try_write (PunchYamuxStream *self)
{
  g_autoptr (GTask) task = NULL;
  PunchYamuxSession *session = self->session;
  gsize total = 0;

  if (self->write_task == NULL)
    return;

  if (self->error != NULL)
    {
      fail_write (self, g_error_copy (self->error));
      return;
    }
  if (self->local_fin || session == NULL)
    {
      fail_write (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "Stream is closed"));
      return;
    }

  if (self->write_count > 0)
    {
      if (self->send_window == 0)
        return;
      if (!punch_yamux_session_reserve_write (session, self))
        return;

      while (total < self->write_count && self->send_window > 0 && total < MAX_WRITE_CHUNK)
        {
          gsize n = MIN (self->write_count - total, PUNCH_YAMUX_MAX_FRAME);

          n = MIN (n, self->send_window);
          punch_yamux_session_queue_frame (session, PUNCH_YAMUX_TYPE_DATA, 0, self->id,
                                           (guint32) n, self->write_buf + total);
          total += n;
          self->send_window -= n;
        }
      self->bytes_sent += total;
      punch_yamux_session_flush (session);
    }

  task = g_steal_pointer (&self->write_task);
  self->write_buf = NULL;
  self->write_count = 0;
  clear_source (&self->write_cancel);
  g_task_return_int (task, total);
}

static void
close_output (PunchYamuxStream *self)
{
  g_autoptr (PunchYamuxStream) hold G_GNUC_UNUSED = g_object_ref (self);

  if (self->local_fin)
    return;
  self->local_fin = TRUE;
  if (self->session != NULL && !self->reset)
    {
      punch_yamux_session_queue_frame (self->session, PUNCH_YAMUX_TYPE_WINDOW_UPDATE,
                                       PUNCH_YAMUX_FLAG_FIN, self->id, 0, NULL);
      punch_yamux_session_flush (self->session);
    }
  if (self->write_task != NULL)
    fail_write (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "Stream is closed"));
  if (self->session != NULL)
    punch_yamux_session_stream_update (self->session, self);
}

static void
close_input (PunchYamuxStream *self)
{
  g_autoptr (PunchYamuxStream) hold G_GNUC_UNUSED = g_object_ref (self);

  if (self->input_closed)
    return;
  self->input_closed = TRUE;
  drop_buffer (self);
  if (self->read_task != NULL)
    fail_read (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "Stream is closed"));
  if (self->session != NULL)
    punch_yamux_session_stream_update (self->session, self);
}

/* Input half */

static gboolean
input_on_cancelled (GCancellable *cancellable,
                    gpointer      data)
{
  PunchYamuxStream *self = data;

  /* Bytes already copied into the caller's buffer are not lost. */
  if (self->read_filled > 0)
    complete_read (self);
  else
    fail_read (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled"));
  return G_SOURCE_REMOVE;
}

static gssize
input_read_fn (GInputStream *stream,
               void         *buffer,
               gsize         count,
               GCancellable *cancellable,
               GError      **error)
{
  PunchYamuxStream *self = PUNCH_YAMUX_INPUT (stream)->stream;
  gssize n;

  if (self == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "Stream is closed");
      return -1;
    }
  /* Only what is already buffered can be read without blocking. */
  n = try_read (self, buffer, count, error);
  if (n == -2)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "Yamux streams only support asynchronous reads");
      return -1;
    }
  return n;
}

static void
input_read_async (GInputStream       *stream,
                  void               *buffer,
                  gsize               count,
                  int                 io_priority,
                  GCancellable       *cancellable,
                  GAsyncReadyCallback callback,
                  gpointer            user_data)
{
  PunchYamuxStream *self = PUNCH_YAMUX_INPUT (stream)->stream;
  g_autoptr (GTask) task = g_task_new (stream, cancellable, callback, user_data);
  GError *error = NULL;
  gssize n;

  g_task_set_source_tag (task, input_read_async);
  if (g_task_return_error_if_cancelled (task))
    return;
  if (self == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CLOSED, "Stream is closed");
      return;
    }

  n = try_read (self, buffer, count, &error);
  if (n >= 0)
    g_task_return_int (task, n);
  else if (n == -1)
    g_task_return_error (task, error);
  else
    {
      self->read_task = g_steal_pointer (&task);
      self->read_buf = buffer;
      self->read_count = count;
      self->read_cancel = attach_cancel_source (cancellable, G_CALLBACK (input_on_cancelled), self);
    }
}

static gssize
input_read_finish (GInputStream *stream,
                   GAsyncResult *result,
                   GError      **error)
{
  return g_task_propagate_int (G_TASK (result), error);
}

static gboolean
input_close_fn (GInputStream *stream,
                GCancellable *cancellable,
                GError      **error)
{
  PunchYamuxStream *self = PUNCH_YAMUX_INPUT (stream)->stream;

  if (self != NULL)
    close_input (self);
  return TRUE;
}

static void
input_close_async (GInputStream       *stream,
                   int                 io_priority,
                   GCancellable       *cancellable,
                   GAsyncReadyCallback callback,
                   gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, input_close_async);
  input_close_fn (stream, cancellable, NULL);
  g_task_return_boolean (task, TRUE);
}

static gboolean
input_close_finish (GInputStream *stream,
                    GAsyncResult *result,
                    GError      **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
punch_yamux_input_class_init (PunchYamuxInputClass *klass)
{
  GInputStreamClass *input_class = G_INPUT_STREAM_CLASS (klass);

  input_class->read_fn = input_read_fn;
  input_class->read_async = input_read_async;
  input_class->read_finish = input_read_finish;
  input_class->close_fn = input_close_fn;
  input_class->close_async = input_close_async;
  input_class->close_finish = input_close_finish;
}

static void
punch_yamux_input_init (PunchYamuxInput *self)
{
}

/* Output half */

static gboolean
output_on_cancelled (GCancellable *cancellable,
                     gpointer      data)
{
  PunchYamuxStream *self = data;

  fail_write (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled"));
  return G_SOURCE_REMOVE;
}

static gssize
output_write_fn (GOutputStream *stream,
                 const void    *buffer,
                 gsize          count,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "Yamux streams only support asynchronous writes");
  return -1;
}

static void
output_write_async (GOutputStream      *stream,
                    const void         *buffer,
                    gsize               count,
                    int                 io_priority,
                    GCancellable       *cancellable,
                    GAsyncReadyCallback callback,
                    gpointer            user_data)
{
  PunchYamuxStream *self = PUNCH_YAMUX_OUTPUT (stream)->stream;
  g_autoptr (GTask) task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, output_write_async);
  if (g_task_return_error_if_cancelled (task))
    return;
  if (self == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CLOSED, "Stream is closed");
      return;
    }

  self->write_task = g_steal_pointer (&task);
  self->write_buf = buffer;
  self->write_count = count;
  self->write_cancel = attach_cancel_source (cancellable, G_CALLBACK (output_on_cancelled), self);
  punch_yamux_stream_try_write (self);
}

static gssize
output_write_finish (GOutputStream *stream,
                     GAsyncResult  *result,
                     GError       **error)
{
  return g_task_propagate_int (G_TASK (result), error);
}

/* GIO's default writev_async runs in a thread; write the first non-empty
 * vector instead, which is what a short write allows. */
static void
output_writev_done (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;
  gssize n = output_write_finish (G_OUTPUT_STREAM (source), result, &error);

  if (n < 0)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, n);
}

static void
output_writev_async (GOutputStream       *stream,
                     const GOutputVector *vectors,
                     gsize                n_vectors,
                     int                  io_priority,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  GTask *task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, output_writev_async);
  for (gsize i = 0; i < n_vectors; i++)
    {
      if (vectors[i].size > 0)
        {
          output_write_async (stream, vectors[i].buffer, vectors[i].size, io_priority,
                              cancellable, output_writev_done, task);
          return;
        }
    }
  g_task_return_int (task, 0);
  g_object_unref (task);
}

static gboolean
output_writev_finish (GOutputStream *stream,
                      GAsyncResult  *result,
                      gsize         *bytes_written,
                      GError       **error)
{
  gssize n = g_task_propagate_int (G_TASK (result), error);

  if (bytes_written != NULL)
    *bytes_written = n > 0 ? (gsize) n : 0;
  return n >= 0;
}

static gboolean
output_flush (GOutputStream *stream,
              GCancellable  *cancellable,
              GError       **error)
{
  return TRUE;
}

static void
output_flush_async (GOutputStream      *stream,
                    int                 io_priority,
                    GCancellable       *cancellable,
                    GAsyncReadyCallback callback,
                    gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, output_flush_async);
  g_task_return_boolean (task, TRUE);
}

static gboolean
output_flush_finish (GOutputStream *stream,
                     GAsyncResult  *result,
                     GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
output_close_fn (GOutputStream *stream,
                 GCancellable  *cancellable,
                 GError       **error)
{
  PunchYamuxStream *self = PUNCH_YAMUX_OUTPUT (stream)->stream;

  if (self != NULL)
    close_output (self);
  return TRUE;
}

static void
output_close_async (GOutputStream      *stream,
                    int                 io_priority,
                    GCancellable       *cancellable,
                    GAsyncReadyCallback callback,
                    gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, output_close_async);
  output_close_fn (stream, cancellable, NULL);
  g_task_return_boolean (task, TRUE);
}

static gboolean
output_close_finish (GOutputStream *stream,
                     GAsyncResult  *result,
                     GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
punch_yamux_output_class_init (PunchYamuxOutputClass *klass)
{
  GOutputStreamClass *output_class = G_OUTPUT_STREAM_CLASS (klass);

  output_class->write_fn = output_write_fn;
  output_class->write_async = output_write_async;
  output_class->write_finish = output_write_finish;
  output_class->writev_async = output_writev_async;
  output_class->writev_finish = output_writev_finish;
  output_class->flush = output_flush;
  output_class->flush_async = output_flush_async;
  output_class->flush_finish = output_flush_finish;
  output_class->close_fn = output_close_fn;
  output_class->close_async = output_close_async;
  output_class->close_finish = output_close_finish;
}

static void
punch_yamux_output_init (PunchYamuxOutput *self)
{
}

/* The stream */

static GInputStream *
punch_yamux_stream_get_input_stream (GIOStream *stream)
{
  return PUNCH_YAMUX_STREAM (stream)->input;
}

static GOutputStream *
punch_yamux_stream_get_output_stream (GIOStream *stream)
{
  return PUNCH_YAMUX_STREAM (stream)->output;
}

static gboolean
punch_yamux_stream_close_fn (GIOStream    *stream,
                             GCancellable *cancellable,
                             GError      **error)
{
  PunchYamuxStream *self = PUNCH_YAMUX_STREAM (stream);

  if (self->output == NULL)
    return TRUE;

  close_output (self);
  close_input (self);
  /* Keeps GIO's own closed flags right; fails harmlessly with PENDING when
   * an operation we just failed has not called back yet. */
  g_output_stream_close (self->output, NULL, NULL);
  g_input_stream_close (self->input, NULL, NULL);
  return TRUE;
}

static void
punch_yamux_stream_close_async (GIOStream          *stream,
                                int                 io_priority,
                                GCancellable       *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, punch_yamux_stream_close_async);
  punch_yamux_stream_close_fn (stream, cancellable, NULL);
  g_task_return_boolean (task, TRUE);
}

static gboolean
punch_yamux_stream_close_finish (GIOStream    *stream,
                                 GAsyncResult *result,
                                 GError      **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
punch_yamux_stream_dispose (GObject *object)
{
  PunchYamuxStream *self = PUNCH_YAMUX_STREAM (object);

  /* GIOStream's dispose closes the stream (FIN) through close_fn. */
  G_OBJECT_CLASS (punch_yamux_stream_parent_class)->dispose (object);

  if (self->read_task != NULL)
    fail_read (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "Stream is closed"));
  if (self->write_task != NULL)
    fail_write (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "Stream is closed"));
  if (self->input != NULL)
    PUNCH_YAMUX_INPUT (self->input)->stream = NULL;
  if (self->output != NULL)
    PUNCH_YAMUX_OUTPUT (self->output)->stream = NULL;
  g_clear_object (&self->input);
  g_clear_object (&self->output);
}

static void
punch_yamux_stream_finalize (GObject *object)
{
  PunchYamuxStream *self = PUNCH_YAMUX_STREAM (object);

  g_clear_error (&self->error);
  g_clear_pointer (&self->recv_buf, g_byte_array_unref);

  G_OBJECT_CLASS (punch_yamux_stream_parent_class)->finalize (object);
}

static void
punch_yamux_stream_class_init (PunchYamuxStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  object_class->dispose = punch_yamux_stream_dispose;
  object_class->finalize = punch_yamux_stream_finalize;

  stream_class->get_input_stream = punch_yamux_stream_get_input_stream;
  stream_class->get_output_stream = punch_yamux_stream_get_output_stream;
  stream_class->close_fn = punch_yamux_stream_close_fn;
  stream_class->close_async = punch_yamux_stream_close_async;
  stream_class->close_finish = punch_yamux_stream_close_finish;
}

static void
punch_yamux_stream_init (PunchYamuxStream *self)
{
  self->input = g_object_new (PUNCH_TYPE_YAMUX_INPUT, NULL);
  PUNCH_YAMUX_INPUT (self->input)->stream = self;
  self->output = g_object_new (PUNCH_TYPE_YAMUX_OUTPUT, NULL);
  PUNCH_YAMUX_OUTPUT (self->output)->stream = self;
  self->recv_buf = g_byte_array_new ();
  self->recv_window = PUNCH_YAMUX_INITIAL_WINDOW;
  self->recv_window_max = PUNCH_YAMUX_INITIAL_WINDOW;
  self->send_window = PUNCH_YAMUX_INITIAL_WINDOW;
  self->epoch_start = g_get_monotonic_time ();
}

PunchYamuxStream *
punch_yamux_stream_new_internal (PunchYamuxSession *session,
                                 guint32            id,
                                 gboolean           outbound)
{
  PunchYamuxStream *self = g_object_new (PUNCH_TYPE_YAMUX_STREAM, NULL);

  self->session = session;
  self->id = id;
  self->outbound = outbound != FALSE;
  return self;
}

/**
 * punch_yamux_stream_get_id:
 * @self: a #PunchYamuxStream
 *
 * Returns: the Yamux stream ID (odd when the client opened it)
 */
guint32
punch_yamux_stream_get_id (PunchYamuxStream *self)
{
  g_return_val_if_fail (PUNCH_IS_YAMUX_STREAM (self), 0);
  return self->id;
}

/**
 * punch_yamux_stream_reset:
 * @self: a #PunchYamuxStream
 *
 * Aborts the stream in both directions: sends RST, drops buffered input and
 * fails pending and later reads and writes.
 */
void
punch_yamux_stream_reset (PunchYamuxStream *self)
{
  g_autoptr (PunchYamuxStream) hold G_GNUC_UNUSED = NULL;

  g_return_if_fail (PUNCH_IS_YAMUX_STREAM (self));

  if (self->reset)
    return;
  hold = g_object_ref (self);
  if (self->session != NULL)
    {
      punch_yamux_session_queue_frame (self->session, PUNCH_YAMUX_TYPE_WINDOW_UPDATE,
                                       PUNCH_YAMUX_FLAG_RST, self->id, 0, NULL);
      punch_yamux_session_flush (self->session);
    }
  mark_reset (self, "Stream was reset");
  if (self->session != NULL)
    punch_yamux_session_stream_update (self->session, self);
}

/**
 * punch_yamux_stream_get_bytes_received:
 * @self: a #PunchYamuxStream
 *
 * Returns: payload bytes received on this stream so far
 */
guint64
punch_yamux_stream_get_bytes_received (PunchYamuxStream *self)
{
  g_return_val_if_fail (PUNCH_IS_YAMUX_STREAM (self), 0);
  return self->bytes_received;
}

/**
 * punch_yamux_stream_get_bytes_sent:
 * @self: a #PunchYamuxStream
 *
 * Returns: payload bytes sent (queued to the session) on this stream so far
 */
guint64
punch_yamux_stream_get_bytes_sent (PunchYamuxStream *self)
{
  g_return_val_if_fail (PUNCH_IS_YAMUX_STREAM (self), 0);
  return self->bytes_sent;
}
