/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-framing.h"

#include "punch-error.h"
#include "punch-varint.h"

typedef struct
{
  guint8  prefix[PUNCH_VARINT_MAX_LEN];
  gsize   prefix_len;
  gsize   max_len;
  gsize   body_len;
  guint8 *body;
} ReadState;

static void
read_state_free (ReadState *state)
{
  g_free (state->body);
  g_free (state);
}

static void read_prefix_byte (GTask *task);

static void
on_body_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  ReadState *state = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  gsize n_read = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &n_read, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (n_read < state->body_len)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                               "connection closed after %" G_GSIZE_FORMAT
                               " of %" G_GSIZE_FORMAT " message bytes",
                               n_read, state->body_len);
      return;
    }

  g_task_return_pointer (task,
                         g_bytes_new_take (g_steal_pointer (&state->body), state->body_len),
                         (GDestroyNotify) g_bytes_unref);
}

/* Called once the last prefix byte (no continuation bit) is in; does not
 * take the caller's reference to @task. */
static void
prefix_complete (GTask *task)
{
  ReadState *state = g_task_get_task_data (task);
  GInputStream *stream = g_task_get_source_object (task);
  g_autoptr (GError) error = NULL;
  guint64 len = 0;

  if (!punch_varint_decode (state->prefix, state->prefix_len, &len, NULL, &error))
    {
      g_prefix_error (&error, "bad message length: ");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* Checked before allocating: the length is the remote's word only. */
  if (len > state->max_len)
    {
      g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                               "message of %" G_GUINT64_FORMAT " bytes is over the limit of %"
                               G_GSIZE_FORMAT, len, state->max_len);
      return;
    }
  if (len == 0)
    {
      g_task_return_pointer (task, g_bytes_new (NULL, 0), (GDestroyNotify) g_bytes_unref);
      return;
    }

  state->body_len = (gsize) len;
  state->body = g_malloc (state->body_len);
  g_input_stream_read_all_async (stream, state->body, state->body_len,
                                 g_task_get_priority (task),
                                 g_task_get_cancellable (task),
                                 on_body_read, g_object_ref (task));
}

static void
on_prefix_byte_read (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  ReadState *state = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (n == 0)
    {
      if (state->prefix_len == 0)
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                 "connection closed");
      else
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                                 "connection closed inside a message length prefix");
      return;
    }

  state->prefix_len++;
  if ((state->prefix[state->prefix_len - 1] & 0x80) == 0)
    {
      prefix_complete (task);
      return;
    }
  if (state->prefix_len == PUNCH_VARINT_MAX_LEN)
    {
      g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                               "message length prefix longer than %d bytes",
                               PUNCH_VARINT_MAX_LEN);
      return;
    }
  read_prefix_byte (g_steal_pointer (&task));
}

/* One byte at a time: a buffered read could swallow the start of whatever
 * protocol follows the message on this stream. */
static void
read_prefix_byte (GTask *task)
{
  ReadState *state = g_task_get_task_data (task);

  g_input_stream_read_async (g_task_get_source_object (task),
                             &state->prefix[state->prefix_len], 1,
                             g_task_get_priority (task),
                             g_task_get_cancellable (task),
                             on_prefix_byte_read, task);
}

/**
 * punch_framing_read_async:
 * @stream: the stream to read from
 * @max_len: the largest message accepted
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the message is read or reading failed
 * @user_data: data for @callback
 *
 * Reads one unsigned-varint length-prefixed message, consuming no byte past
 * its end. A length over @max_len fails with %PUNCH_ERROR_TOO_LARGE before
 * anything is allocated; a clean EOF before the first byte fails with
 * %G_IO_ERROR_CONNECTION_CLOSED and an EOF inside the message with
 * %G_IO_ERROR_PARTIAL_INPUT.
 */
void
punch_framing_read_async (GInputStream       *stream,
                          gsize               max_len,
                          GCancellable       *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer            user_data)
{
  GTask *task;
  ReadState *state;

  g_return_if_fail (G_IS_INPUT_STREAM (stream));

  task = g_task_new (stream, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_framing_read_async);
  state = g_new0 (ReadState, 1);
  state->max_len = max_len;
  g_task_set_task_data (task, state, (GDestroyNotify) read_state_free);
  read_prefix_byte (task);
}

/**
 * punch_framing_read_finish:
 * @stream: the stream passed to punch_framing_read_async()
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the message without its length prefix, or %NULL
 */
GBytes *
punch_framing_read_finish (GInputStream *stream,
                           GAsyncResult *result,
                           GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == punch_framing_read_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * punch_framing_append:
 * @out: the array to append to
 * @data: (array length=len): the message
 * @len: the length of @data
 *
 * Appends varint(@len) || @data to @out.
 */
void
punch_framing_append (GByteArray *out, const guint8 *data, gsize len)
{
  g_return_if_fail (out != NULL);
  g_return_if_fail (data != NULL || len == 0);

  punch_varint_append (out, len);
  if (len > 0)
    g_byte_array_append (out, data, (guint) len);
}

static void
on_written (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * punch_framing_write_async:
 * @stream: the stream to write to
 * @message: the message
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the message is written
 * @user_data: data for @callback
 *
 * Writes varint(length) || @message as a single write, so that small
 * messages leave in one TCP segment.
 */
void
punch_framing_write_async (GOutputStream      *stream,
                           GBytes             *message,
                           GCancellable       *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer            user_data)
{
  GTask *task;
  GByteArray *buf;
  gsize len = 0;
  const guint8 *data;

  g_return_if_fail (G_IS_OUTPUT_STREAM (stream));
  g_return_if_fail (message != NULL);

  task = g_task_new (stream, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_framing_write_async);

  data = g_bytes_get_data (message, &len);
  buf = g_byte_array_sized_new ((guint) (len + PUNCH_VARINT_MAX_LEN));
  punch_framing_append (buf, data, len);
  g_task_set_task_data (task, buf, (GDestroyNotify) g_byte_array_unref);

  g_output_stream_write_all_async (stream, buf->data, buf->len,
                                   G_PRIORITY_DEFAULT, cancellable,
                                   on_written, task);
}

/**
 * punch_framing_write_finish:
 * @stream: the stream passed to punch_framing_write_async()
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: %TRUE if the whole message was written
 */
gboolean
punch_framing_write_finish (GOutputStream *stream,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == punch_framing_write_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
