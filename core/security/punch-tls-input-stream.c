/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-tls-input-stream.h"

struct _PunchTlsInputStream
{
  GInputStream    parent_instance;

  PunchTlsEngine *engine;
};

G_DEFINE_FINAL_TYPE (PunchTlsInputStream, punch_tls_input_stream, G_TYPE_INPUT_STREAM)

static void
on_engine_read (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  PunchTlsInputStream *self = g_task_get_source_object (task);
  GError *error = NULL;
  gssize n;

  n = punch_tls_engine_read_finish (self->engine, result, &error);
  if (n < 0)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, n);
}

static void
punch_tls_input_stream_read_async (GInputStream       *stream,
                                   void               *buffer,
                                   gsize               count,
                                   int                 io_priority,
                                   GCancellable       *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer            user_data)
{
  PunchTlsInputStream *self = PUNCH_TLS_INPUT_STREAM (stream);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, punch_tls_input_stream_read_async);
  g_task_set_check_cancellable (task, FALSE);
  punch_tls_engine_read_async (self->engine, buffer, count, io_priority, cancellable,
                               on_engine_read, task);
}

static gssize
punch_tls_input_stream_read_finish (GInputStream *stream,
                                    GAsyncResult *result,
                                    GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), -1);

  return g_task_propagate_int (G_TASK (result), error);
}

/* Blocking reads are not offered: whatever is already decrypted is served,
 * anything else must go through read_async. */
static gssize
punch_tls_input_stream_read_fn (GInputStream *stream,
                                void         *buffer,
                                gsize         count,
                                GCancellable *cancellable,
                                GError      **error)
{
  PunchTlsInputStream *self = PUNCH_TLS_INPUT_STREAM (stream);
  gboolean would_block = FALSE;
  gssize n;

  n = punch_tls_engine_read_nonblocking (self->engine, buffer, count, &would_block, error);
  if (n == 0 && would_block)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "TLS streams only support asynchronous reads");
      return -1;
    }
  return n;
}

/* One direction closing leaves the connection alone: the GIOStream sends
 * close_notify and closes the base. */
static gboolean
punch_tls_input_stream_close_fn (GInputStream *stream,
                                 GCancellable *cancellable,
                                 GError      **error)
{
  return TRUE;
}

static void
punch_tls_input_stream_close_async (GInputStream       *stream,
                                    int                 io_priority,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, punch_tls_input_stream_close_async);
  g_task_return_boolean (task, TRUE);
}

static gboolean
punch_tls_input_stream_close_finish (GInputStream *stream,
                                     GAsyncResult *result,
                                     GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
punch_tls_input_stream_finalize (GObject *object)
{
  PunchTlsInputStream *self = PUNCH_TLS_INPUT_STREAM (object);

  g_clear_pointer (&self->engine, punch_tls_engine_unref);

  G_OBJECT_CLASS (punch_tls_input_stream_parent_class)->finalize (object);
}

static void
punch_tls_input_stream_class_init (PunchTlsInputStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  object_class->finalize = punch_tls_input_stream_finalize;

  stream_class->read_fn = punch_tls_input_stream_read_fn;
  stream_class->read_async = punch_tls_input_stream_read_async;
  stream_class->read_finish = punch_tls_input_stream_read_finish;
  stream_class->close_fn = punch_tls_input_stream_close_fn;
  stream_class->close_async = punch_tls_input_stream_close_async;
  stream_class->close_finish = punch_tls_input_stream_close_finish;
}

static void
punch_tls_input_stream_init (PunchTlsInputStream *self)
{
}

PunchTlsInputStream *
punch_tls_input_stream_new (PunchTlsEngine *engine)
{
  PunchTlsInputStream *self = g_object_new (PUNCH_TYPE_TLS_INPUT_STREAM, NULL);

  self->engine = punch_tls_engine_ref (engine);
  return self;
}
