/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-multistream.h"

#include <string.h>

#include "punch-error.h"
#include "punch-framing.h"
#include "punch-varint.h"

/* go-multistream's responder gives up after this many proposals too. */
#define MAX_PROPOSALS 32
/* How much of a bad message an error message quotes. */
#define EXCERPT_LEN 48

typedef struct
{
  gboolean    initiator;
  GStrv       protocols;    /* proposals in order, or the supported set */
  guint       index;        /* initiator: the proposal awaiting its reply */
  guint       attempts;     /* responder: proposals seen */
  gboolean    header_seen;
  GByteArray *outbox;       /* queued while a write is in flight */
  GByteArray *in_flight;
  gboolean    writing;
  gboolean    reading;
  GError     *write_error;  /* held while a read may explain it better */
  char       *result;       /* negotiated; returned once writes drained */
  gboolean    returned;
} Negotiation;

static void
negotiation_free (Negotiation *n)
{
  g_strfreev (n->protocols);
  g_clear_pointer (&n->outbox, g_byte_array_unref);
  g_clear_pointer (&n->in_flight, g_byte_array_unref);
  g_clear_error (&n->write_error);
  g_free (n->result);
  g_free (n);
}

/* A printable, bounded quote of remote bytes for error messages. */
static char *
excerpt (const guint8 *data, gsize len)
{
  GString *s = g_string_new ("\"");

  for (gsize i = 0; i < len && i < EXCERPT_LEN; i++)
    {
      if (data[i] >= 0x20 && data[i] < 0x7f && data[i] != '"' && data[i] != '\\')
        g_string_append_c (s, (char) data[i]);
      else if (data[i] == '\n')
        g_string_append (s, "\\n");
      else
        g_string_append_printf (s, "\\x%02x", data[i]);
    }
  g_string_append_c (s, '"');
  if (len > EXCERPT_LEN)
    g_string_append_printf (s, "… (%" G_GSIZE_FORMAT " bytes)", len);
  return g_string_free (s, FALSE);
}

static gboolean
token_equals (const guint8 *token, gsize len, const char *str)
{
  return strlen (str) == len && memcmp (token, str, len) == 0;
}

static void
append_message (GByteArray *out, const char *msg)
{
  gsize len = strlen (msg);

  punch_varint_append (out, len + 1);
  g_byte_array_append (out, (const guint8 *) msg, (guint) len);
  g_byte_array_append (out, (const guint8 *) "\n", 1);
}

static void
fail (GTask *task, GError *error)
{
  Negotiation *n = g_task_get_task_data (task);

  if (n->returned)
    {
      g_error_free (error);
      return;
    }
  n->returned = TRUE;
  g_task_return_error (task, error);
}

/* Success waits for our writes to drain, so that the caller can write the
 * next protocol's bytes without hitting G_IO_ERROR_PENDING. */
static void
maybe_succeed (GTask *task)
{
  Negotiation *n = g_task_get_task_data (task);

  if (n->returned || n->result == NULL || n->writing || n->outbox->len > 0 ||
      n->write_error != NULL)
    return;
  n->returned = TRUE;
  g_task_return_pointer (task, g_steal_pointer (&n->result), g_free);
}

static void flush (GTask *task);

static void
on_written (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  Negotiation *n = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  n->writing = FALSE;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      g_prefix_error (&error, "multistream-select: ");
      /* A remote that hung up makes the pending read fail too, with a
       * clearer message ("connection closed"); report that one. */
      if (n->reading)
        n->write_error = g_steal_pointer (&error);
      else
        fail (task, g_steal_pointer (&error));
      return;
    }
  if (n->returned)
    return;
  if (n->outbox->len > 0)
    flush (task);
  else
    maybe_succeed (task);
}

static void
flush (GTask *task)
{
  Negotiation *n = g_task_get_task_data (task);
  GIOStream *stream = g_task_get_source_object (task);
  GByteArray *tmp;

  if (n->writing || n->outbox->len == 0)
    return;

  tmp = n->in_flight;
  n->in_flight = n->outbox;
  n->outbox = tmp;
  g_byte_array_set_size (n->outbox, 0);

  n->writing = TRUE;
  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream),
                                   n->in_flight->data, n->in_flight->len,
                                   G_PRIORITY_DEFAULT, g_task_get_cancellable (task),
                                   on_written, g_object_ref (task));
}

static void
queue_message (GTask *task, const char *msg)
{
  Negotiation *n = g_task_get_task_data (task);

  append_message (n->outbox, msg);
  flush (task);
}

static void on_message (GObject *source, GAsyncResult *result, gpointer user_data);

static void
read_message (GTask *task)
{
  GIOStream *stream = g_task_get_source_object (task);
  Negotiation *n = g_task_get_task_data (task);

  n->reading = TRUE;
  punch_framing_read_async (g_io_stream_get_input_stream (stream),
                            PUNCH_MULTISTREAM_MAX_MESSAGE,
                            g_task_get_cancellable (task),
                            on_message, g_object_ref (task));
}

static char *
join_protocols (const char * const *protocols)
{
  return g_strjoinv (", ", (char **) protocols);
}

static void
handle_reply (GTask *task, const guint8 *token, gsize len)
{
  Negotiation *n = g_task_get_task_data (task);
  const char *proposed = n->protocols[n->index];

  if (token_equals (token, len, proposed))
    {
      g_debug ("multistream: remote accepted %s", proposed);
      n->result = g_strdup (proposed);
      maybe_succeed (task);
      return;
    }
  if (token_equals (token, len, "na"))
    {
      g_debug ("multistream: remote refused %s", proposed);
      n->index++;
      if (n->protocols[n->index] == NULL)
        {
          g_autofree char *list = join_protocols ((const char * const *) n->protocols);

          fail (task, g_error_new (PUNCH_ERROR, PUNCH_ERROR_NEGOTIATION_FAILED,
                                   "remote supports none of the protocols proposed: %s", list));
          return;
        }
      queue_message (task, n->protocols[n->index]);
      read_message (task);
      return;
    }

  {
    g_autofree char *got = excerpt (token, len);

    fail (task, g_error_new (PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                             "unexpected reply to proposal %s: %s", proposed, got));
  }
}

static void
queue_ls_reply (GTask *task)
{
  Negotiation *n = g_task_get_task_data (task);
  g_autoptr (GByteArray) list = g_byte_array_new ();

  /* As go-multistream answered "ls": one message whose body is the
   * protocols, each itself a multistream message. */
  for (guint i = 0; n->protocols[i] != NULL; i++)
    append_message (list, n->protocols[i]);
  punch_varint_append (n->outbox, list->len + 1);
  g_byte_array_append (n->outbox, list->data, list->len);
  g_byte_array_append (n->outbox, (const guint8 *) "\n", 1);
  flush (task);
}

static void
handle_proposal (GTask *task, const guint8 *token, gsize len)
{
  Negotiation *n = g_task_get_task_data (task);

  n->attempts++;

  if (token_equals (token, len, "ls"))
    {
      queue_ls_reply (task);
    }
  else
    {
      for (guint i = 0; n->protocols[i] != NULL; i++)
        {
          if (token_equals (token, len, n->protocols[i]))
            {
              g_debug ("multistream: accepting %s", n->protocols[i]);
              queue_message (task, n->protocols[i]);
              n->result = g_strdup (n->protocols[i]);
              maybe_succeed (task);
              return;
            }
        }
      queue_message (task, "na");
    }

  if (n->attempts >= MAX_PROPOSALS)
    {
      fail (task, g_error_new (PUNCH_ERROR, PUNCH_ERROR_NEGOTIATION_FAILED,
                               "remote proposed %u protocols without a supported one; giving up",
                               n->attempts));
      return;
    }
  read_message (task);
}

static void
on_message (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  Negotiation *n = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) message = NULL;
  const guint8 *data;
  gsize len = 0;

  message = punch_framing_read_finish (G_INPUT_STREAM (source), result, &error);
  n->reading = FALSE;
  if (n->returned)
    return;
  if (message == NULL)
    {
      if (!n->header_seen && g_error_matches (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED))
        {
          fail (task, g_error_new (PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                                   "remote does not speak multistream-select 1.0 (%s)",
                                   error->message));
          return;
        }
      if (!n->header_seen)
        g_prefix_error (&error, "reading multistream-select header: ");
      else if (n->initiator)
        g_prefix_error (&error, "reading reply to proposal %s: ", n->protocols[n->index]);
      else
        g_prefix_error (&error, "reading multistream-select proposal: ");
      fail (task, g_steal_pointer (&error));
      return;
    }

  if (n->write_error != NULL)
    {
      fail (task, g_steal_pointer (&n->write_error));
      return;
    }

  data = g_bytes_get_data (message, &len);
  if (len == 0 || data[len - 1] != '\n')
    {
      g_autofree char *got = excerpt (data, len);

      if (!n->header_seen)
        fail (task, g_error_new (PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                                 "remote does not speak multistream-select 1.0 (got %s)", got));
      else
        fail (task, g_error_new (PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                                 "multistream-select message does not end in a newline: %s", got));
      return;
    }
  len--;

  if (!n->header_seen)
    {
      if (!token_equals (data, len, PUNCH_MULTISTREAM_PROTOCOL))
        {
          g_autofree char *got = excerpt (data, len);

          fail (task, g_error_new (PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                                   "remote does not speak multistream-select 1.0 (got %s)", got));
          return;
        }
      n->header_seen = TRUE;
      read_message (task);
      return;
    }

  if (n->initiator)
    handle_reply (task, data, len);
  else
    handle_proposal (task, data, len);
}

static GTask *
negotiation_new (GIOStream          *stream,
                 gboolean            initiator,
                 const char * const *protocols,
                 GCancellable       *cancellable,
                 GAsyncReadyCallback callback,
                 gpointer            user_data,
                 gpointer            source_tag)
{
  GTask *task = g_task_new (stream, cancellable, callback, user_data);
  Negotiation *n = g_new0 (Negotiation, 1);

  g_task_set_source_tag (task, source_tag);
  n->initiator = initiator;
  n->protocols = g_strdupv ((char **) protocols);
  n->outbox = g_byte_array_new ();
  n->in_flight = g_byte_array_new ();
  g_task_set_task_data (task, n, (GDestroyNotify) negotiation_free);
  return task;
}

static gboolean
check_protocols (const char * const *protocols, GError **error)
{
  for (guint i = 0; protocols[i] != NULL; i++)
    {
      gsize len = strlen (protocols[i]);

      if (len == 0 || len + 1 > PUNCH_MULTISTREAM_MAX_MESSAGE)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                       "protocol ID of %" G_GSIZE_FORMAT " bytes does not fit a multistream-select message",
                       len);
          return FALSE;
        }
    }
  return TRUE;
}

/**
 * punch_multistream_select_async:
 * @stream: a stream whose remote end runs a multistream-select responder
 * @protocols: (array zero-terminated=1): the protocols to propose, preferred first
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when a protocol is agreed or negotiation failed
 * @user_data: data for @callback
 *
 * Negotiates as the initiator. The header and the first proposal leave in
 * one write, so a remote that supports it answers within one round trip.
 * Nothing past the remote's answer is read from @stream.
 */
void
punch_multistream_select_async (GIOStream          *stream,
                                const char * const *protocols,
                                GCancellable       *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer            user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;
  Negotiation *n;

  g_return_if_fail (G_IS_IO_STREAM (stream));
  g_return_if_fail (protocols != NULL && protocols[0] != NULL);

  task = negotiation_new (stream, TRUE, protocols, cancellable, callback, user_data,
                          punch_multistream_select_async);
  if (!check_protocols (protocols, &error))
    {
      fail (task, g_steal_pointer (&error));
      return;
    }

  n = g_task_get_task_data (task);
  append_message (n->outbox, PUNCH_MULTISTREAM_PROTOCOL);
  append_message (n->outbox, protocols[0]);
  flush (task);
  read_message (task);
}

/**
 * punch_multistream_select_finish:
 * @stream: the stream passed to punch_multistream_select_async()
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the protocol the remote accepted, or %NULL with
 *   %PUNCH_ERROR_NEGOTIATION_FAILED when it accepted none
 */
char *
punch_multistream_select_finish (GIOStream    *stream,
                                 GAsyncResult *result,
                                 GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == punch_multistream_select_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * punch_multistream_handle_async:
 * @stream: a stream whose remote end runs a multistream-select initiator
 * @supported: (array zero-terminated=1): the protocols we accept
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when a protocol is agreed or negotiation failed
 * @user_data: data for @callback
 *
 * Negotiates as the responder: sends the header without waiting for the
 * remote's, answers "na" to unsupported proposals and the supported list to
 * "ls", and echoes the first supported proposal. Gives up after 32
 * proposals. Nothing past the accepted proposal is read from @stream.
 */
void
punch_multistream_handle_async (GIOStream          *stream,
                                const char * const *supported,
                                GCancellable       *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer            user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;

  g_return_if_fail (G_IS_IO_STREAM (stream));
  g_return_if_fail (supported != NULL);

  task = negotiation_new (stream, FALSE, supported, cancellable, callback, user_data,
                          punch_multistream_handle_async);
  if (!check_protocols (supported, &error))
    {
      fail (task, g_steal_pointer (&error));
      return;
    }

  queue_message (task, PUNCH_MULTISTREAM_PROTOCOL);
  read_message (task);
}

/**
 * punch_multistream_handle_finish:
 * @stream: the stream passed to punch_multistream_handle_async()
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the protocol agreed on, or %NULL
 */
char *
punch_multistream_handle_finish (GIOStream    *stream,
                                 GAsyncResult *result,
                                 GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == punch_multistream_handle_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
