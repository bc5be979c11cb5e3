/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-noise-stream.h"
#include "punch-secure-stream-private.h"

#include <string.h>

#include "punch-error.h"
#include "punch-noise-input-stream.h"
#include "punch-noise-output-stream.h"
#include "punch-noise-payload.h"
#include "punch-noise-state.h"

#define FRAME_HEADER 2

struct _PunchNoiseStream
{
  GIOStream               parent_instance;

  GIOStream              *base;
  PunchNoiseInputStream  *input;
  PunchNoiseOutputStream *output;
  PunchPublicKey         *remote_key;
  char                   *muxer;
};

G_DEFINE_FINAL_TYPE (PunchNoiseStream, punch_noise_stream, G_TYPE_IO_STREAM)

enum {
  PROP_0,
  PROP_BASE_STREAM,
  PROP_REMOTE_PEER_ID,
  PROP_MUXER,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ---- the GIOStream ---- */

static GInputStream *
punch_noise_stream_get_input_stream (GIOStream *stream)
{
  return G_INPUT_STREAM (PUNCH_NOISE_STREAM (stream)->input);
}

static GOutputStream *
punch_noise_stream_get_output_stream (GIOStream *stream)
{
  return G_OUTPUT_STREAM (PUNCH_NOISE_STREAM (stream)->output);
}

static gboolean
punch_noise_stream_close_fn (GIOStream    *stream,
                             GCancellable *cancellable,
                             GError      **error)
{
  PunchNoiseStream *self = PUNCH_NOISE_STREAM (stream);

  punch_secure_stream_close_idle_halves (G_INPUT_STREAM (self->input), G_OUTPUT_STREAM (self->output));
  return self->base == NULL || g_io_stream_close (self->base, cancellable, error);
}

static void
on_base_closed (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (!g_io_stream_close_finish (G_IO_STREAM (source), result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
punch_noise_stream_close_async (GIOStream          *stream,
                                int                 io_priority,
                                GCancellable       *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer            user_data)
{
  PunchNoiseStream *self = PUNCH_NOISE_STREAM (stream);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, punch_noise_stream_close_async);
  punch_secure_stream_close_idle_halves (G_INPUT_STREAM (self->input), G_OUTPUT_STREAM (self->output));
  g_io_stream_close_async (self->base, io_priority, cancellable, on_base_closed, task);
}

static gboolean
punch_noise_stream_close_finish (GIOStream    *stream,
                                 GAsyncResult *result,
                                 GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
punch_noise_stream_dispose (GObject *object)
{
  PunchNoiseStream *self = PUNCH_NOISE_STREAM (object);

  /* GIOStream would close us in its own dispose, after the base is gone. */
  if (self->base != NULL && !g_io_stream_is_closed (G_IO_STREAM (self)))
    g_io_stream_close (G_IO_STREAM (self), NULL, NULL);

  g_clear_object (&self->input);
  g_clear_object (&self->output);
  g_clear_object (&self->base);
  g_clear_object (&self->remote_key);

  G_OBJECT_CLASS (punch_noise_stream_parent_class)->dispose (object);
}

static void
punch_noise_stream_finalize (GObject *object)
{
  PunchNoiseStream *self = PUNCH_NOISE_STREAM (object);

  g_clear_pointer (&self->muxer, g_free);

  G_OBJECT_CLASS (punch_noise_stream_parent_class)->finalize (object);
}

static void
punch_noise_stream_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  PunchNoiseStream *self = PUNCH_NOISE_STREAM (object);

  switch (prop_id)
    {
    case PROP_BASE_STREAM:
      g_value_set_object (value, self->base);
      break;

    case PROP_REMOTE_PEER_ID:
      g_value_set_boxed (value, punch_noise_stream_get_remote_peer_id (self));
      break;

    case PROP_MUXER:
      g_value_set_string (value, self->muxer);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_noise_stream_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  PunchNoiseStream *self = PUNCH_NOISE_STREAM (object);

  switch (prop_id)
    {
    case PROP_BASE_STREAM:
      self->base = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_noise_stream_class_init (PunchNoiseStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  object_class->dispose = punch_noise_stream_dispose;
  object_class->finalize = punch_noise_stream_finalize;
  object_class->get_property = punch_noise_stream_get_property;
  object_class->set_property = punch_noise_stream_set_property;

  stream_class->get_input_stream = punch_noise_stream_get_input_stream;
  stream_class->get_output_stream = punch_noise_stream_get_output_stream;
  stream_class->close_fn = punch_noise_stream_close_fn;
  stream_class->close_async = punch_noise_stream_close_async;
  stream_class->close_finish = punch_noise_stream_close_finish;

  /**
   * PunchNoiseStream:base-stream:
   *
   * The connection carrying the encrypted frames.
   */
  properties[PROP_BASE_STREAM] =
    g_param_spec_object ("base-stream", NULL, NULL,
                         G_TYPE_IO_STREAM,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * PunchNoiseStream:remote-peer-id:
   *
   * The peer the remote authenticated as during the handshake.
   */
  properties[PROP_REMOTE_PEER_ID] =
    g_param_spec_boxed ("remote-peer-id", NULL, NULL,
                        PUNCH_TYPE_PEER_ID,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * PunchNoiseStream:muxer:
   *
   * The stream muxer chosen by inlined negotiation, or %NULL.
   */
  properties[PROP_MUXER] =
    g_param_spec_string ("muxer", NULL, NULL,
                         NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
punch_noise_stream_init (PunchNoiseStream *self)
{
}

/**
 * punch_noise_stream_get_remote_peer_id:
 * @self: a #PunchNoiseStream
 *
 * Returns: (transfer none): the authenticated remote peer
 */
PunchPeerId *
punch_noise_stream_get_remote_peer_id (PunchNoiseStream *self)
{
  g_return_val_if_fail (PUNCH_IS_NOISE_STREAM (self), NULL);

  return self->remote_key != NULL ? punch_public_key_get_peer_id (self->remote_key) : NULL;
}

/**
 * punch_noise_stream_get_remote_public_key:
 * @self: a #PunchNoiseStream
 *
 * Returns: (transfer none): the remote's identity key, as sent in its
 *   handshake payload
 */
PunchPublicKey *
punch_noise_stream_get_remote_public_key (PunchNoiseStream *self)
{
  g_return_val_if_fail (PUNCH_IS_NOISE_STREAM (self), NULL);

  return self->remote_key;
}

/**
 * punch_noise_stream_get_muxer:
 * @self: a #PunchNoiseStream
 *
 * Returns: (nullable): the muxer chosen inline, or %NULL when multistream
 *   has to negotiate one
 */
const char *
punch_noise_stream_get_muxer (PunchNoiseStream *self)
{
  g_return_val_if_fail (PUNCH_IS_NOISE_STREAM (self), NULL);

  return self->muxer;
}

/**
 * punch_noise_stream_get_base_stream:
 * @self: a #PunchNoiseStream
 *
 * Returns: (transfer none): the connection under the encryption
 */
GIOStream *
punch_noise_stream_get_base_stream (PunchNoiseStream *self)
{
  g_return_val_if_fail (PUNCH_IS_NOISE_STREAM (self), NULL);

  return self->base;
}

/* ---- the handshake ---- */

typedef struct
{
  GIOStream           *base;
  gboolean             initiator;
  PunchPrivateKey     *identity;
  PunchPeerId         *expected;
  GStrv                muxers;

  PunchNoiseHandshake *hs;
  guint8               header[FRAME_HEADER];
  guint8              *message;        /* PUNCH_NOISE_MAX_MESSAGE bytes */
  gsize                message_len;
  GByteArray          *out;

  PunchPublicKey      *remote_key;
  GStrv                remote_muxers;
} Handshake;

static void
handshake_free (Handshake *data)
{
  g_clear_object (&data->base);
  g_clear_object (&data->identity);
  g_clear_pointer (&data->expected, punch_peer_id_unref);
  g_clear_pointer (&data->muxers, g_strfreev);
  g_clear_pointer (&data->hs, punch_noise_handshake_free);
  g_clear_pointer (&data->message, g_free);
  g_clear_pointer (&data->out, g_byte_array_unref);
  g_clear_object (&data->remote_key);
  g_clear_pointer (&data->remote_muxers, g_strfreev);
  g_free (data);
}

/* Takes @error. The connection is unusable after a failed handshake, so it
 * is closed here for the remote to notice at once. */
static void
handshake_fail (GTask  *task,
                GError *error)
{
  Handshake *data = g_task_get_task_data (task);

  g_debug ("Noise handshake (%s) failed: %s",
           data->initiator ? "initiator" : "responder", error->message);
  g_io_stream_close_async (data->base, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_task_return_error (task, error);
}

static void
handshake_complete (GTask *task)
{
  Handshake *data = g_task_get_task_data (task);
  g_autoptr (PunchNoiseCipher) send = NULL;
  g_autoptr (PunchNoiseCipher) recv = NULL;
  g_autoptr (PunchNoiseStream) self = NULL;
  GError *error = NULL;

  if (!punch_noise_handshake_split (data->hs, &send, &recv, &error))
    {
      handshake_fail (task, error);
      return;
    }

  self = g_object_new (PUNCH_TYPE_NOISE_STREAM, "base-stream", data->base, NULL);
  self->input = punch_noise_input_stream_new (g_io_stream_get_input_stream (data->base),
                                              G_IS_SOCKET_CONNECTION (data->base)
                                              ? g_socket_connection_get_socket (G_SOCKET_CONNECTION (data->base))
                                              : NULL,
                                              g_steal_pointer (&recv));
  self->output = punch_noise_output_stream_new (g_io_stream_get_output_stream (data->base),
                                                g_steal_pointer (&send));
  self->remote_key = g_steal_pointer (&data->remote_key);
  if (data->initiator)
    self->muxer = punch_noise_payload_choose_muxer ((const char * const *) data->muxers,
                                                    (const char * const *) data->remote_muxers);
  else
    self->muxer = punch_noise_payload_choose_muxer ((const char * const *) data->remote_muxers,
                                                    (const char * const *) data->muxers);

  g_debug ("Noise handshake (%s) done with %s, muxer %s",
           data->initiator ? "initiator" : "responder",
           punch_peer_id_to_string (punch_noise_stream_get_remote_peer_id (self)),
           self->muxer ? self->muxer : "(multistream)");
  g_task_return_pointer (task, g_steal_pointer (&self), g_object_unref);
}

static void handshake_step (GTask *task);

static void
on_message_written (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      handshake_fail (task, error);
      return;
    }
  handshake_step (g_steal_pointer (&task));
}

static void
on_body_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  Handshake *data = g_task_get_task_data (task);
  g_autoptr (GByteArray) payload = g_byte_array_new ();
  guint index = punch_noise_handshake_get_message_index (data->hs);
  GError *error = NULL;
  gsize got = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &got, &error))
    {
      handshake_fail (task, error);
      return;
    }
  if (got < data->message_len)
    {
      handshake_fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                                         "Connection closed in the middle of Noise handshake message %u "
                                         "(%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes)",
                                         index + 1, got, data->message_len));
      return;
    }

  if (!punch_noise_handshake_read_message (data->hs, data->message, data->message_len,
                                           payload, &error))
    {
      handshake_fail (task, error);
      return;
    }
  /* Message 1 has no payload to check; messages 2 and 3 authenticate. */
  if (index > 0 &&
      !punch_noise_payload_check (payload->data, payload->len,
                                  punch_noise_handshake_get_remote_static (data->hs),
                                  data->expected, &data->remote_key, &data->remote_muxers,
                                  &error))
    {
      handshake_fail (task, error);
      return;
    }
  handshake_step (g_steal_pointer (&task));
}

static void
on_header_read (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  Handshake *data = g_task_get_task_data (task);
  guint index = punch_noise_handshake_get_message_index (data->hs);
  GError *error = NULL;
  gsize got = 0;
  GCancellable *cancellable;
  int priority;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &got, &error))
    {
      handshake_fail (task, error);
      return;
    }
  if (got == 0)
    {
      handshake_fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                         "Connection closed before Noise handshake message %u",
                                         index + 1));
      return;
    }
  if (got < FRAME_HEADER)
    {
      handshake_fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                                         "Connection closed in the length prefix of Noise handshake message %u",
                                         index + 1));
      return;
    }

  /* A 16-bit length never exceeds PUNCH_NOISE_MAX_MESSAGE, the buffer size. */
  data->message_len = ((gsize) data->header[0] << 8) | data->header[1];
  if (data->message_len == 0)
    {
      handshake_fail (task, g_error_new (PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                                         "Noise handshake message %u is empty", index + 1));
      return;
    }
  /* The evaluation order of arguments is unspecified: read the task before
   * the call that steals it. */
  priority = g_task_get_priority (task);
  cancellable = g_task_get_cancellable (task);
  g_input_stream_read_all_async (g_io_stream_get_input_stream (data->base),
                                 data->message, data->message_len,
                                 priority, cancellable, on_body_read, g_steal_pointer (&task));
}

/* Takes the task's reference. */
static void
handshake_step (GTask *task)
{
  Handshake *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (punch_noise_handshake_is_finished (data->hs))
    {
      handshake_complete (task);
      g_object_unref (task);
      return;
    }

  if (punch_noise_handshake_is_write_turn (data->hs))
    {
      g_autoptr (GBytes) payload = NULL;
      gsize message_len;

      /* Message 1 carries no payload: nothing in it is encrypted yet. */
      if (punch_noise_handshake_get_message_index (data->hs) > 0)
        {
          payload = punch_noise_payload_build (data->identity,
                                               punch_noise_handshake_get_local_static (data->hs),
                                               (const char * const *) data->muxers, &error);
          if (payload == NULL)
            goto fail;
        }
      else
        {
          payload = g_bytes_new_static ("", 0);
        }

      g_byte_array_set_size (data->out, FRAME_HEADER);
      if (!punch_noise_handshake_write_message (data->hs,
                                                g_bytes_get_data (payload, NULL),
                                                g_bytes_get_size (payload),
                                                data->out, &error))
        goto fail;
      message_len = data->out->len - FRAME_HEADER;
      if (message_len > PUNCH_NOISE_MAX_MESSAGE)
        {
          g_set_error (&error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                       "Noise handshake message of %" G_GSIZE_FORMAT " bytes exceeds %d",
                       message_len, PUNCH_NOISE_MAX_MESSAGE);
          goto fail;
        }
      data->out->data[0] = (guint8) (message_len >> 8);
      data->out->data[1] = (guint8) message_len;
      g_output_stream_write_all_async (g_io_stream_get_output_stream (data->base),
                                       data->out->data, data->out->len,
                                       g_task_get_priority (task), g_task_get_cancellable (task),
                                       on_message_written, task);
    }
  else
    {
      g_input_stream_read_all_async (g_io_stream_get_input_stream (data->base),
                                     data->header, FRAME_HEADER,
                                     g_task_get_priority (task), g_task_get_cancellable (task),
                                     on_header_read, task);
    }
  return;

fail:
  handshake_fail (task, error);
  g_object_unref (task);
}

void
punch_noise_stream_handshake_async (GIOStream          *base,
                                    gboolean            initiator,
                                    PunchPrivateKey    *identity,
                                    PunchPeerId        *expected,
                                    const char * const *muxers,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data)
{
  g_autoptr (GTask) task = NULL;
  Handshake *data;
  GError *error = NULL;

  g_return_if_fail (G_IS_IO_STREAM (base));
  g_return_if_fail (PUNCH_IS_PRIVATE_KEY (identity));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_noise_stream_handshake_async);

  data = g_new0 (Handshake, 1);
  data->base = g_object_ref (base);
  data->initiator = initiator;
  data->identity = g_object_ref (identity);
  data->expected = expected != NULL ? punch_peer_id_ref (expected) : NULL;
  data->muxers = g_strdupv ((char **) muxers);
  data->message = g_malloc (PUNCH_NOISE_MAX_MESSAGE);
  data->out = g_byte_array_new ();
  g_task_set_task_data (task, data, (GDestroyNotify) handshake_free);

  /* libp2p uses an empty prologue. */
  data->hs = punch_noise_handshake_new (initiator, NULL, 0, &error);
  if (data->hs == NULL)
    {
      handshake_fail (task, error);
      return;
    }

  handshake_step (g_steal_pointer (&task));
}

/**
 * punch_noise_stream_handshake_finish:
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the secured stream, or %NULL with
 *   @error set: %G_IO_ERROR for transport failures (a connection closed in
 *   the middle of the handshake gives %G_IO_ERROR_CONNECTION_CLOSED or
 *   %G_IO_ERROR_PARTIAL_INPUT), %PUNCH_ERROR for protocol failures
 *   (%PUNCH_ERROR_PEER_ID_MISMATCH, %PUNCH_ERROR_BAD_SIGNATURE…). The base
 *   stream is closed when the handshake fails.
 */
PunchNoiseStream *
punch_noise_stream_handshake_finish (GAsyncResult *result,
                                     GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == punch_noise_stream_handshake_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
