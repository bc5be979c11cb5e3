/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-tls-output-stream.h"

struct _PunchTlsOutputStream
{
  GOutputStream   parent_instance;

  PunchTlsEngine *engine;
};

G_DEFINE_FINAL_TYPE (PunchTlsOutputStream, punch_tls_output_stream, G_TYPE_OUTPUT_STREAM)

static void
on_engine_written (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  PunchTlsOutputStream *self = g_task_get_source_object (task);
  GError *error = NULL;
  gssize n;

  n = punch_tls_engine_write_finish (self->engine, result, &error);
  if (n < 0)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, n);
}

static void
punch_tls_output_stream_write_async (GOutputStream      *stream,
                                     const void         *buffer,
                                     gsize               count,
                                     int                 io_priority,
                                     GCancellable       *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer            user_data)
{
  PunchTlsOutputStream *self = PUNCH_TLS_OUTPUT_STREAM (stream);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, punch_tls_output_stream_write_async);
  g_task_set_check_cancellable (task, FALSE);
  punch_tls_engine_write_async (self->engine, buffer, count, io_priority, cancellable,
                                on_engine_written, task);
}

static gssize
punch_tls_output_stream_write_finish (GOutputStream *stream,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), -1);

  return g_task_propagate_int (G_TASK (result), error);
}

static gssize
punch_tls_output_stream_write_fn (GOutputStream *stream,
                                  const void    *buffer,
                                  gsize          count,
                                  GCancellable  *cancellable,
                                  GError       **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "TLS streams only support asynchronous writes");
  return -1;
}

/* A write completes once its records reached the base stream: nothing is
 * left to flush here, and the base is not flushed either, since a socket
 * stream's default flush_async would spawn a thread for nothing. */
static gboolean
punch_tls_output_stream_flush (GOutputStream *stream,
                               GCancellable  *cancellable,
                               GError       **error)
{
  return TRUE;
}

static void
punch_tls_output_stream_flush_async (GOutputStream      *stream,
                                     int                 io_priority,
                                     GCancellable       *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, punch_tls_output_stream_flush_async);
  g_task_return_boolean (task, TRUE);
}

static gboolean
punch_tls_output_stream_flush_finish (GOutputStream *stream,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Only marks this direction closed: close_notify ends both directions in
 * practice (peers close on it), so the GIOStream sends it. */
static gboolean
punch_tls_output_stream_close_fn (GOutputStream *stream,
                                  GCancellable  *cancellable,
                                  GError       **error)
{
  return TRUE;
}

static void
punch_tls_output_stream_close_async (GOutputStream      *stream,
                                     int                 io_priority,
                                     GCancellable       *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, punch_tls_output_stream_close_async);
  g_task_return_boolean (task, TRUE);
}

static gboolean
punch_tls_output_stream_close_finish (GOutputStream *stream,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
punch_tls_output_stream_finalize (GObject *object)
{
  PunchTlsOutputStream *self = PUNCH_TLS_OUTPUT_STREAM (object);

  g_clear_pointer (&self->engine, punch_tls_engine_unref);

  G_OBJECT_CLASS (punch_tls_output_stream_parent_class)->finalize (object);
}

static void
punch_tls_output_stream_class_init (PunchTlsOutputStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GOutputStreamClass *stream_class = G_OUTPUT_STREAM_CLASS (klass);

  object_class->finalize = punch_tls_output_stream_finalize;

  stream_class->write_fn = punch_tls_output_stream_write_fn;
  stream_class->write_async = punch_tls_output_stream_write_async;
  stream_class->write_finish = punch_tls_output_stream_write_finish;
  stream_class->flush = punch_tls_output_stream_flush;
  stream_class->flush_async = punch_tls_output_stream_flush_async;
  stream_class->flush_finish = punch_tls_output_stream_flush_finish;
  stream_class->close_fn = punch_tls_output_stream_close_fn;
  stream_class->close_async = punch_tls_output_stream_close_async;
  stream_class->close_finish = punch_tls_output_stream_close_finish;
}

static void
punch_tls_output_stream_init (PunchTlsOutputStream *self)
{
}

PunchTlsOutputStream *
punch_tls_output_stream_new (PunchTlsEngine *engine)
{
  PunchTlsOutputStream *self = g_object_new (PUNCH_TYPE_TLS_OUTPUT_STREAM, NULL);

  self->engine = punch_tls_engine_ref (engine);
  return self;
}
