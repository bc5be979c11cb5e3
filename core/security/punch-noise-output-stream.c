/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-noise-output-stream.h"

#include <string.h>

#include "punch-error.h"

#define FRAME_HEADER 2
#define MAX_FRAMES (PUNCH_NOISE_MAX_WRITE / PUNCH_NOISE_MAX_PLAINTEXT)
#define FRAME_OVERHEAD (FRAME_HEADER + PUNCH_NOISE_TAG_LEN)
/* After a write this small the buffer is let go: a connection that only
 * sends the odd message (most of a relay's thousands) holds none, while a
 * bulk sender keeps its big one. */
#define SMALL_WRITE 4096

G_STATIC_ASSERT (PUNCH_NOISE_MAX_WRITE % PUNCH_NOISE_MAX_PLAINTEXT == 0);

struct _PunchNoiseOutputStream
{
  GOutputStream     parent_instance;

  GOutputStream    *base;
  PunchNoiseCipher *cipher;
  guint8           *buf;          /* the frames of one write, sent at once */
  gsize             capacity;     /* grown to the largest write so far */

  /* Once a write failed, frames and nonces are out of step with the remote:
   * every later write fails too. */
  GError           *error;
};

G_DEFINE_FINAL_TYPE (PunchNoiseOutputStream, punch_noise_output_stream, G_TYPE_OUTPUT_STREAM)

/* Encrypts up to PUNCH_NOISE_MAX_WRITE bytes of @data into self->buf as
 * length-prefixed frames; returns the number of bytes placed in buf. */
static gsize
seal (PunchNoiseOutputStream *self,
      const guint8           *data,
      gsize                   count,
      GError                **error)
{
  gsize out = 0;
  gsize in = 0;
  gsize needed;

  g_assert (count > 0 && count <= PUNCH_NOISE_MAX_WRITE);

  needed = count + FRAME_OVERHEAD * ((count + PUNCH_NOISE_MAX_PLAINTEXT - 1) / PUNCH_NOISE_MAX_PLAINTEXT);
  if (needed > self->capacity)
    {
      /* GIO allows one write at a time: nothing uses the old buffer. */
      g_free (self->buf);
      self->capacity = MAX (needed, MIN (2 * self->capacity,
                                         MAX_FRAMES * (FRAME_OVERHEAD + PUNCH_NOISE_MAX_PLAINTEXT)));
      self->buf = g_malloc (self->capacity);
    }

  while (in < count)
    {
      gsize chunk = MIN (count - in, PUNCH_NOISE_MAX_PLAINTEXT);
      gsize frame_len = chunk + PUNCH_NOISE_TAG_LEN;

      self->buf[out] = (guint8) (frame_len >> 8);
      self->buf[out + 1] = (guint8) frame_len;
      if (!punch_noise_cipher_encrypt (self->cipher, NULL, 0, data + in, chunk,
                                       self->buf + out + FRAME_HEADER, error))
        return 0;
      out += FRAME_HEADER + frame_len;
      in += chunk;
    }
  return out;
}

static void
on_base_written (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  PunchNoiseOutputStream *self = g_task_get_source_object (task);
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (self->error == NULL)
        self->error = g_error_copy (error);
      g_task_return_error (task, error);
      return;
    }
  if (GPOINTER_TO_SIZE (g_task_get_task_data (task)) <= SMALL_WRITE)
    {
      g_clear_pointer (&self->buf, g_free);
      self->capacity = 0;
    }
  g_task_return_int (task, GPOINTER_TO_SIZE (g_task_get_task_data (task)));
}

static void
punch_noise_output_stream_write_async (GOutputStream      *stream,
                                       const void         *buffer,
                                       gsize               count,
                                       int                 io_priority,
                                       GCancellable       *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer            user_data)
{
  PunchNoiseOutputStream *self = PUNCH_NOISE_OUTPUT_STREAM (stream);
  g_autoptr (GTask) task = NULL;
  gsize accepted = MIN (count, PUNCH_NOISE_MAX_WRITE);
  GError *error = NULL;
  gsize sealed;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_noise_output_stream_write_async);
  g_task_set_priority (task, io_priority);
  /* Bytes handed to the base stream are gone: report what happened to
   * them rather than a late cancellation. */
  g_task_set_check_cancellable (task, FALSE);

  if (self->error != NULL)
    {
      g_task_return_error (task, g_error_copy (self->error));
      return;
    }
  if (accepted == 0)
    {
      g_task_return_int (task, 0);
      return;
    }

  sealed = seal (self, buffer, accepted, &error);
  if (sealed == 0)
    {
      self->error = g_error_copy (error);
      g_task_return_error (task, error);
      return;
    }

  g_task_set_task_data (task, GSIZE_TO_POINTER (accepted), NULL);
  g_output_stream_write_all_async (self->base, self->buf, sealed, io_priority, cancellable,
                                   on_base_written, g_steal_pointer (&task));
}

static gssize
punch_noise_output_stream_write_finish (GOutputStream *stream,
                                        GAsyncResult  *result,
                                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), -1);

  return g_task_propagate_int (G_TASK (result), error);
}

static gssize
punch_noise_output_stream_write_fn (GOutputStream *stream,
                                    const void    *buffer,
                                    gsize          count,
                                    GCancellable  *cancellable,
                                    GError       **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "Noise streams only support asynchronous writes");
  return -1;
}

/* Nothing is buffered here: each write is handed to the base stream at
 * once. The base is not flushed either, since a socket stream's default
 * flush_async would spawn a thread for nothing. */
static gboolean
punch_noise_output_stream_flush (GOutputStream *stream,
                                 GCancellable  *cancellable,
                                 GError       **error)
{
  return TRUE;
}

static void
punch_noise_output_stream_flush_async (GOutputStream      *stream,
                                       int                 io_priority,
                                       GCancellable       *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, punch_noise_output_stream_flush_async);
  g_task_return_boolean (task, TRUE);
}

static gboolean
punch_noise_output_stream_flush_finish (GOutputStream *stream,
                                        GAsyncResult  *result,
                                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Noise has no half-close: closing this direction only marks it closed;
 * the GIOStream closes the base. */
static gboolean
punch_noise_output_stream_close_fn (GOutputStream *stream,
                                    GCancellable  *cancellable,
                                    GError       **error)
{
  return TRUE;
}

static void
punch_noise_output_stream_close_async (GOutputStream      *stream,
                                       int                 io_priority,
                                       GCancellable       *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, punch_noise_output_stream_close_async);
  g_task_return_boolean (task, TRUE);
}

static gboolean
punch_noise_output_stream_close_finish (GOutputStream *stream,
                                        GAsyncResult  *result,
                                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
punch_noise_output_stream_finalize (GObject *object)
{
  PunchNoiseOutputStream *self = PUNCH_NOISE_OUTPUT_STREAM (object);

  g_clear_object (&self->base);
  g_clear_pointer (&self->cipher, punch_noise_cipher_free);
  g_clear_pointer (&self->buf, g_free);
  g_clear_error (&self->error);

  G_OBJECT_CLASS (punch_noise_output_stream_parent_class)->finalize (object);
}

static void
punch_noise_output_stream_class_init (PunchNoiseOutputStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GOutputStreamClass *stream_class = G_OUTPUT_STREAM_CLASS (klass);

  object_class->finalize = punch_noise_output_stream_finalize;

  stream_class->write_fn = punch_noise_output_stream_write_fn;
  stream_class->write_async = punch_noise_output_stream_write_async;
  stream_class->write_finish = punch_noise_output_stream_write_finish;
  stream_class->flush = punch_noise_output_stream_flush;
  stream_class->flush_async = punch_noise_output_stream_flush_async;
  stream_class->flush_finish = punch_noise_output_stream_flush_finish;
  stream_class->close_fn = punch_noise_output_stream_close_fn;
  stream_class->close_async = punch_noise_output_stream_close_async;
  stream_class->close_finish = punch_noise_output_stream_close_finish;
}

static void
punch_noise_output_stream_init (PunchNoiseOutputStream *self)
{
}

PunchNoiseOutputStream *
punch_noise_output_stream_new (GOutputStream    *base,
                               PunchNoiseCipher *cipher)
{
  PunchNoiseOutputStream *self;

  g_return_val_if_fail (G_IS_OUTPUT_STREAM (base), NULL);
  g_return_val_if_fail (cipher != NULL, NULL);

  self = g_object_new (PUNCH_TYPE_NOISE_OUTPUT_STREAM, NULL);
  self->base = g_object_ref (base);
  self->cipher = cipher;
  return self;
}
