/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-relay-proto.h"

#include "punch-error.h"
#include "punch-framing.h"

const char *
punch_relay_status_to_string (Circuit__Pb__Status status)
{
  switch (status)
    {
    case CIRCUIT__PB__STATUS__OK: return "OK";
    case CIRCUIT__PB__STATUS__RESERVATION_REFUSED: return "RESERVATION_REFUSED";
    case CIRCUIT__PB__STATUS__RESOURCE_LIMIT_EXCEEDED: return "RESOURCE_LIMIT_EXCEEDED";
    case CIRCUIT__PB__STATUS__PERMISSION_DENIED: return "PERMISSION_DENIED";
    case CIRCUIT__PB__STATUS__CONNECTION_FAILED: return "CONNECTION_FAILED";
    case CIRCUIT__PB__STATUS__NO_RESERVATION: return "NO_RESERVATION";
    case CIRCUIT__PB__STATUS__MALFORMED_MESSAGE: return "MALFORMED_MESSAGE";
    case CIRCUIT__PB__STATUS__UNEXPECTED_MESSAGE: return "UNEXPECTED_MESSAGE";
    case CIRCUIT__PB__STATUS__UNUSED:
    default: return "UNUSED";
    }
}

/**
 * punch_relay_status_describe:
 * @status: a Circuit Relay v2 status code
 *
 * Returns: what the status means for a user, in plain words.
 */
const char *
punch_relay_status_describe (Circuit__Pb__Status status)
{
  switch (status)
    {
    case CIRCUIT__PB__STATUS__OK:
      return "accepted";
    case CIRCUIT__PB__STATUS__RESERVATION_REFUSED:
      return "the relay refused the reservation (it may be full or not serve this peer)";
    case CIRCUIT__PB__STATUS__RESOURCE_LIMIT_EXCEEDED:
      return "the relay is at its limit of reservations or circuits";
    case CIRCUIT__PB__STATUS__PERMISSION_DENIED:
      return "the relay does not allow this (e.g. a request over a relayed connection)";
    case CIRCUIT__PB__STATUS__CONNECTION_FAILED:
      return "the relay could not reach the other peer";
    case CIRCUIT__PB__STATUS__NO_RESERVATION:
      return "the other peer holds no reservation on this relay";
    case CIRCUIT__PB__STATUS__MALFORMED_MESSAGE:
      return "the relay could not parse our request";
    case CIRCUIT__PB__STATUS__UNEXPECTED_MESSAGE:
      return "the relay did not expect this request";
    case CIRCUIT__PB__STATUS__UNUSED:
    default:
      return "the relay answered without a valid status";
    }
}

void
punch_relay_set_status_error (GError            **error,
                              Circuit__Pb__Status status,
                              const char         *what)
{
  g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_RELAY, "%s: %s (%s, %d)",
               what, punch_relay_status_describe (status),
               punch_relay_status_to_string (status), (int) status);
}

static void
protobuf_c_message_free_unpacked_default (ProtobufCMessage *msg)
{
  protobuf_c_message_free_unpacked (msg, NULL);
}

static void
read_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;
  g_autoptr (GBytes) bytes = punch_framing_read_finish (G_INPUT_STREAM (source), result, &error);
  const ProtobufCMessageDescriptor *desc = g_task_get_task_data (task);
  ProtobufCMessage *msg;
  gsize len;
  const guint8 *data;

  if (bytes == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  data = g_bytes_get_data (bytes, &len);
  msg = protobuf_c_message_unpack (desc, NULL, len, data);
  if (msg == NULL)
    {
      g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                               "malformed %s from the relay peer (%" G_GSIZE_FORMAT " bytes)",
                               desc->short_name, len);
      return;
    }
  g_task_return_pointer (task, msg, (GDestroyNotify) protobuf_c_message_free_unpacked_default);
}

static void
read_message_async (GIOStream                        *stream,
                    const ProtobufCMessageDescriptor *desc,
                    gpointer                          tag,
                    GCancellable                     *cancellable,
                    GAsyncReadyCallback               callback,
                    gpointer                          user_data)
{
  GTask *task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, (gpointer) desc, NULL);
  punch_framing_read_async (g_io_stream_get_input_stream (stream), PUNCH_RELAY_MAX_MESSAGE,
                            cancellable, read_done, task);
}

void
punch_relay_read_hop_async (GIOStream          *stream,
                            GCancellable       *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer            user_data)
{
  read_message_async (stream, &circuit__pb__hop_message__descriptor, punch_relay_read_hop_async,
                      cancellable, callback, user_data);
}

Circuit__Pb__HopMessage *
punch_relay_read_hop_finish (GIOStream *stream, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
punch_relay_read_stop_async (GIOStream          *stream,
                             GCancellable       *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer            user_data)
{
  read_message_async (stream, &circuit__pb__stop_message__descriptor, punch_relay_read_stop_async,
                      cancellable, callback, user_data);
}

Circuit__Pb__StopMessage *
punch_relay_read_stop_finish (GIOStream *stream, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
write_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (!punch_framing_write_finish (G_OUTPUT_STREAM (source), result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
punch_relay_write_async (GIOStream              *stream,
                         const ProtobufCMessage *message,
                         GCancellable           *cancellable,
                         GAsyncReadyCallback     callback,
                         gpointer                user_data)
{
  GTask *task = g_task_new (stream, cancellable, callback, user_data);
  gsize len = protobuf_c_message_get_packed_size (message);
  guint8 *buf = g_malloc (len);
  g_autoptr (GBytes) bytes = NULL;

  g_task_set_source_tag (task, punch_relay_write_async);
  protobuf_c_message_pack (message, buf);
  bytes = g_bytes_new_take (buf, len);
  punch_framing_write_async (g_io_stream_get_output_stream (stream), bytes, cancellable,
                             write_done, task);
}

gboolean
punch_relay_write_finish (GIOStream *stream, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
