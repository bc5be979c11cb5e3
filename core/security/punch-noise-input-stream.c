/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-noise-input-stream.h"

#include <string.h>

#include "punch-error.h"
#include "punch-noise-stream.h"

#define FRAME_HEADER 2
/* Raw bytes are read from the base stream into one buffer and decrypted in
 * place. An idle connection only ever receives small frames (keepalive
 * pings, short protocol messages), and a relay holds thousands of them: the
 * buffer starts small, grows to hold the whole frame being received (a frame
 * is decrypted in one piece), doubles up to RAW_CAPACITY_MAX while reads keep
 * filling it, and drops back to RAW_CAPACITY_MIN once it is empty after a
 * read no bigger than that, a second after the last bigger one (the peer
 * stopped streaming; a window update alone between two bursts is no
 * reason to shrink). */
#define RAW_CAPACITY_MIN 256
#define RAW_CAPACITY_MAX (256 * 1024)
#define BUSY_US          G_USEC_PER_SEC

G_STATIC_ASSERT (RAW_CAPACITY_MAX >= FRAME_HEADER + PUNCH_NOISE_MAX_MESSAGE);

struct _PunchNoiseInputStream
{
  GInputStream      parent_instance;

  GInputStream     *base;
  /* Set when base is a socket's stream. GIO's read_async on it costs about
   * 1.5 KiB while it waits (a task, a pollable source with a socket source
   * and a cancellable source, their closures); an idle connection always
   * has a read waiting, and a relay has thousands of them. We wait on the
   * socket's own source, and follow the reads' cancellable (Yamux uses one
   * for all its reads) with a single handler for the stream's life rather
   * than a cancellable source per read. */
  GSocket          *socket;
  GSource          *wait;
  GTask            *wait_task;  /* the read that waits on @wait (owned) */
  GCancellable     *watched;
  gulong            watched_id;
  PunchNoiseCipher *cipher;

  guint8           *buf;
  gsize             capacity;
  gboolean          filled;     /* the last base read filled the buffer */
  gint64            busy_until; /* a second after the last read over the minimum */
  gsize             start;      /* first byte of the next undecrypted frame */
  gsize             end;        /* end of the raw bytes read so far */
  const guint8     *plain;      /* decrypted bytes not yet handed out */
  gsize             plain_len;

  /* A protocol failure ends the stream for good; it is reported again to
   * every later read. */
  GError           *error;
  gboolean          eof;
};

G_DEFINE_FINAL_TYPE (PunchNoiseInputStream, punch_noise_input_stream, G_TYPE_INPUT_STREAM)

typedef struct
{
  guint8 *buffer;
  gsize   count;
} ReadData;

/* Copies out pending plaintext and decrypts the complete frames already
 * buffered, until @count bytes are delivered or no whole frame is left.
 * Frames that fit go straight into the caller's buffer. */
static gssize
deliver (PunchNoiseInputStream *self,
         guint8                *dst,
         gsize                  count,
         GError               **error)
{
  gsize done = 0;

  while (done < count && self->error == NULL)
    {
      gsize avail;
      gsize frame_len;
      gsize plain_len;
      guint8 *ciphertext;

      if (self->plain_len > 0)
        {
          gsize n = MIN (self->plain_len, count - done);

          memcpy (dst + done, self->plain, n);
          self->plain += n;
          self->plain_len -= n;
          done += n;
          continue;
        }

      avail = self->end - self->start;
      if (avail < FRAME_HEADER)
        break;
      frame_len = ((gsize) self->buf[self->start] << 8) | self->buf[self->start + 1];
      if (frame_len < PUNCH_NOISE_TAG_LEN)
        {
          g_set_error (&self->error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                       "Noise frame of %" G_GSIZE_FORMAT " bytes is shorter than its authentication tag",
                       frame_len);
          break;
        }
      if (avail < FRAME_HEADER + frame_len)
        break;

      ciphertext = self->buf + self->start + FRAME_HEADER;
      plain_len = frame_len - PUNCH_NOISE_TAG_LEN;
      if (plain_len <= count - done)
        {
          if (!punch_noise_cipher_decrypt (self->cipher, NULL, 0, ciphertext, frame_len,
                                           dst + done, &self->error))
            break;
          done += plain_len;
        }
      else
        {
          if (!punch_noise_cipher_decrypt (self->cipher, NULL, 0, ciphertext, frame_len,
                                           ciphertext, &self->error))
            break;
          self->plain = ciphertext;
          self->plain_len = plain_len;
        }
      self->start += FRAME_HEADER + frame_len;
    }

  /* Bytes already delivered go out first; the error comes with the next read. */
  if (done > 0)
    return (gssize) done;
  if (self->error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->error));
      return -1;
    }
  return 0;
}

/* The buffer size that holds the frame being received (its header may not
 * be here yet) and, after a read that filled the buffer, twice as much. */
static gsize
wanted_capacity (PunchNoiseInputStream *self,
                 gsize                  pending)
{
  gsize want = RAW_CAPACITY_MIN;

  if (pending >= FRAME_HEADER)
    {
      const guint8 *header = self->buf + self->start;

      want = FRAME_HEADER + (((gsize) header[0] << 8) | header[1]);
    }
  if (self->filled)
    want = MAX (want, self->capacity * 2);
  else if (pending > 0 || g_get_monotonic_time () < self->busy_until)
    want = MAX (want, self->capacity);
  return MIN (want, RAW_CAPACITY_MAX);
}

/* Makes room at the end of the buffer once all plaintext is handed out
 * (nothing points into the buffer then, so it may also move). */
static void
compact (PunchNoiseInputStream *self)
{
  gsize pending = self->end - self->start;
  gsize capacity;

  g_assert (self->plain_len == 0);
  if (self->buf == NULL)
    {
      self->capacity = RAW_CAPACITY_MIN;
      self->buf = g_malloc (self->capacity);
    }

  capacity = wanted_capacity (self, pending);
  self->filled = FALSE;
  if (capacity > self->capacity)
    {
      /* Only the pending bytes matter: a fresh block, not a realloc that
       * would copy the whole old one. */
      guint8 *buf = g_malloc (capacity);

      memcpy (buf, self->buf + self->start, pending);
      g_free (self->buf);
      self->buf = buf;
      self->capacity = capacity;
    }
  else if (capacity < self->capacity)
    {
      /* Nothing is pending here (see wanted_capacity()). */
      g_free (self->buf);
      self->buf = g_malloc (capacity);
      self->capacity = capacity;
    }
  else if (self->start > 0)
    {
      memmove (self->buf, self->buf + self->start, pending);
    }
  self->start = 0;
  self->end = pending;
}

static gboolean
check_end_of_stream (PunchNoiseInputStream *self,
                     GError               **error)
{
  if (self->end > self->start)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                   "Noise stream ended in the middle of a frame (%" G_GSIZE_FORMAT " bytes pending)",
                   self->end - self->start);
      return FALSE;
    }
  return TRUE;
}

static void read_more (GTask *task);

/* Takes the task's reference; @n and @error as a read of the base stream
 * returns them. */
static void
base_read_done (GTask  *task,
                gssize  n,
                GError *error)
{
  g_autoptr (GTask) owned = task;
  PunchNoiseInputStream *self = g_task_get_source_object (task);
  ReadData *data = g_task_get_task_data (task);

  if (n < 0)
    {
      g_task_return_error (task, error);
      return;
    }
  if (n == 0)
    {
      self->eof = TRUE;
      if (!check_end_of_stream (self, &error))
        g_task_return_error (task, error);
      else
        g_task_return_int (task, 0);
      return;
    }

  self->end += (gsize) n;
  if ((gsize) n > RAW_CAPACITY_MIN)
    self->busy_until = g_get_monotonic_time () + BUSY_US;
  self->filled = self->end == self->capacity;
  n = deliver (self, data->buffer, data->count, &error);
  if (n < 0)
    g_task_return_error (task, error);
  else if (n > 0)
    g_task_return_int (task, n);
  else
    read_more (g_steal_pointer (&owned));
}

static void
on_base_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GError *error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  base_read_done (user_data, n, error);
}

static void socket_read (GTask *task);

static gboolean
on_socket_ready (GSocket      *socket,
                 GIOCondition  condition,
                 gpointer      user_data)
{
  PunchNoiseInputStream *self = user_data;

  g_clear_pointer (&self->wait, g_source_unref);
  socket_read (g_steal_pointer (&self->wait_task));
  return G_SOURCE_REMOVE;
}

static gboolean
on_cancelled_idle (gpointer user_data)
{
  socket_read (g_object_ref (user_data));
  return G_SOURCE_REMOVE;
}

/* Runs inside g_cancellable_cancel(): the waiting read ends from the main
 * loop, where it finds the cancellation. (Not by making the socket source
 * ready: GSocket would take that for a time-out of the socket.) */
static void
on_read_cancelled (GCancellable *cancellable,
                   gpointer      user_data)
{
  PunchNoiseInputStream *self = user_data;
  GTask *task = g_steal_pointer (&self->wait_task);
  GSource *idle;

  if (task == NULL)
    return;
  g_source_destroy (self->wait);
  g_clear_pointer (&self->wait, g_source_unref);
  idle = g_idle_source_new ();
  g_source_set_static_name (idle, "[punchline] noise read cancelled");
  g_source_set_priority (idle, g_task_get_priority (task));
  g_source_set_callback (idle, on_cancelled_idle, task, g_object_unref);
  g_source_attach (idle, g_task_get_context (task));
  g_source_unref (idle);
}

static void
watch_cancellable (PunchNoiseInputStream *self,
                   GCancellable          *cancellable)
{
  if (cancellable == self->watched)
    return;
  g_clear_signal_handler (&self->watched_id, self->watched);
  g_set_object (&self->watched, cancellable);
  if (cancellable != NULL)
    self->watched_id = g_cancellable_connect (cancellable, G_CALLBACK (on_read_cancelled), self, NULL);
}

/* Takes the task's reference. Reads what the socket has, or waits until it
 * has something (or the read is cancelled). */
static void
socket_read (GTask *task)
{
  PunchNoiseInputStream *self = g_task_get_source_object (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;
  gssize n;

  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      base_read_done (task, -1, error);
      return;
    }
  n = g_socket_receive_with_blocking (self->socket, (char *) self->buf + self->end, self->capacity - self->end,
                                      FALSE, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    {
      g_clear_error (&error);
      watch_cancellable (self, cancellable);
      self->wait_task = task;
      self->wait = g_socket_create_source (self->socket, G_IO_IN, NULL);
      g_source_set_static_name (self->wait, "[punchline] noise read");
      g_source_set_priority (self->wait, g_task_get_priority (task));
      g_source_set_callback (self->wait, (GSourceFunc) (void (*) (void)) on_socket_ready, self, NULL);
      g_source_attach (self->wait, g_task_get_context (task));
      return;
    }
  base_read_done (task, n, error);
}

/* Takes the task's reference. */
static void
read_more (GTask *task)
{
  PunchNoiseInputStream *self = g_task_get_source_object (task);

  compact (self);
  if (self->socket != NULL)
    {
      socket_read (task);
      return;
    }
  g_input_stream_read_async (self->base,
                             self->buf + self->end,
                             self->capacity - self->end,
                             g_task_get_priority (task),
                             g_task_get_cancellable (task),
                             on_base_read,
                             task);
}

static void
punch_noise_input_stream_read_async (GInputStream       *stream,
                                     void               *buffer,
                                     gsize               count,
                                     int                 io_priority,
                                     GCancellable       *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer            user_data)
{
  PunchNoiseInputStream *self = PUNCH_NOISE_INPUT_STREAM (stream);
  g_autoptr (GTask) task = NULL;
  GError *error = NULL;
  ReadData *data;
  gssize n;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_noise_input_stream_read_async);
  g_task_set_priority (task, io_priority);
  /* Plaintext already decrypted into @buffer must not be lost to a late
   * cancellation: only the base read observes the cancellable. */
  g_task_set_check_cancellable (task, FALSE);

  n = deliver (self, buffer, count, &error);
  if (n < 0)
    {
      g_task_return_error (task, error);
      return;
    }
  if (n > 0 || count == 0)
    {
      g_task_return_int (task, n);
      return;
    }
  if (self->eof)
    {
      if (!check_end_of_stream (self, &error))
        g_task_return_error (task, error);
      else
        g_task_return_int (task, 0);
      return;
    }

  data = g_new0 (ReadData, 1);
  data->buffer = buffer;
  data->count = count;
  g_task_set_task_data (task, data, g_free);
  read_more (g_steal_pointer (&task));
}

static gssize
punch_noise_input_stream_read_finish (GInputStream *stream,
                                      GAsyncResult *result,
                                      GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), -1);

  return g_task_propagate_int (G_TASK (result), error);
}

/* Blocking reads are not offered: whatever is already decrypted is served,
 * anything else must go through read_async. */
static gssize
punch_noise_input_stream_read_fn (GInputStream *stream,
                                  void         *buffer,
                                  gsize         count,
                                  GCancellable *cancellable,
                                  GError      **error)
{
  PunchNoiseInputStream *self = PUNCH_NOISE_INPUT_STREAM (stream);
  gssize n;

  n = deliver (self, buffer, count, error);
  if (n != 0 || count == 0)
    return n;
  if (self->eof)
    return check_end_of_stream (self, error) ? 0 : -1;

  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "Noise streams only support asynchronous reads");
  return -1;
}

/* Closing one direction leaves the base stream alone: the other direction
 * may still be in use, and the GIOStream closes the base. */
static gboolean
punch_noise_input_stream_close_fn (GInputStream *stream,
                                   GCancellable *cancellable,
                                   GError      **error)
{
  return TRUE;
}

static void
punch_noise_input_stream_close_async (GInputStream       *stream,
                                      int                 io_priority,
                                      GCancellable       *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, punch_noise_input_stream_close_async);
  g_task_return_boolean (task, TRUE);
}

static gboolean
punch_noise_input_stream_close_finish (GInputStream *stream,
                                       GAsyncResult *result,
                                       GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
punch_noise_input_stream_finalize (GObject *object)
{
  PunchNoiseInputStream *self = PUNCH_NOISE_INPUT_STREAM (object);

  g_clear_object (&self->base);
  g_clear_object (&self->socket);
  /* Not g_cancellable_disconnect(): nothing here runs inside a
   * cancellation (a waiting read keeps the stream alive), and it would
   * wait for one. */
  g_clear_signal_handler (&self->watched_id, self->watched);
  g_clear_object (&self->watched);
  g_clear_pointer (&self->cipher, punch_noise_cipher_free);
  g_clear_pointer (&self->buf, g_free);
  g_clear_error (&self->error);

  G_OBJECT_CLASS (punch_noise_input_stream_parent_class)->finalize (object);
}

static void
punch_noise_input_stream_class_init (PunchNoiseInputStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  object_class->finalize = punch_noise_input_stream_finalize;

  stream_class->read_fn = punch_noise_input_stream_read_fn;
  stream_class->read_async = punch_noise_input_stream_read_async;
  stream_class->read_finish = punch_noise_input_stream_read_finish;
  stream_class->close_fn = punch_noise_input_stream_close_fn;
  stream_class->close_async = punch_noise_input_stream_close_async;
  stream_class->close_finish = punch_noise_input_stream_close_finish;
}

static void
punch_noise_input_stream_init (PunchNoiseInputStream *self)
{
}

PunchNoiseInputStream *
punch_noise_input_stream_new (GInputStream     *base,
                              GSocket          *socket,
                              PunchNoiseCipher *cipher)
{
  PunchNoiseInputStream *self;

  g_return_val_if_fail (G_IS_INPUT_STREAM (base), NULL);
  g_return_val_if_fail (cipher != NULL, NULL);

  self = g_object_new (PUNCH_TYPE_NOISE_INPUT_STREAM, NULL);
  self->base = g_object_ref (base);
  self->socket = socket != NULL ? g_object_ref (socket) : NULL;
  self->cipher = cipher;
  return self;
}
