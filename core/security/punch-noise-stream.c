/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-noise-stream.h"

#include <string.h>

#include "noise.pb-c.h"
#include "punch-error.h"
#include "punch-key-private.h"
#include "punch-noise-input-stream.h"
#include "punch-noise-output-stream.h"
#include "punch-noise-state.h"
#include "punch-openssl-private.h"

PUNCH_DEFINE_PROTOBUF_CLEANUP (Noise__Pb__NoiseHandshakePayload, noise__pb__noise_handshake_payload)

/* libp2p binds the X25519 static key to the identity key by signing it with
 * this prefix (noise/README.md, "Static Key Authentication"). */
#define STATIC_KEY_SIG_PREFIX "noise-libp2p-static-key:"
#define FRAME_HEADER 2
/* Muxer names past these limits are ignored when matching, not rejected. */
#define MAX_MUXERS 32
#define MAX_MUXER_LEN 256

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

/* Closing does not go through the two halves: one may have an operation
 * pending (a muxer keeps a read outstanding), which closing the base ends. */
static gboolean
punch_noise_stream_close_fn (GIOStream    *stream,
                             GCancellable *cancellable,
                             GError      **error)
{
  PunchNoiseStream *self = PUNCH_NOISE_STREAM (stream);

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

static guint8 *
build_payload (Handshake *data,
               gsize     *len,
               GError   **error)
{
  Noise__Pb__NoiseHandshakePayload payload = NOISE__PB__NOISE_HANDSHAKE_PAYLOAD__INIT;
  Noise__Pb__NoiseExtensions extensions = NOISE__PB__NOISE_EXTENSIONS__INIT;
  PunchPublicKey *public_key = punch_private_key_get_public_key (data->identity);
  GBytes *key_bytes = punch_public_key_get_protobuf (public_key);
  guint8 to_sign[sizeof STATIC_KEY_SIG_PREFIX - 1 + PUNCH_NOISE_DH_LEN];
  g_autoptr (GBytes) signature = NULL;
  gsize key_len = 0;
  gsize sig_len = 0;
  guint8 *buf;

  memcpy (to_sign, STATIC_KEY_SIG_PREFIX, sizeof STATIC_KEY_SIG_PREFIX - 1);
  memcpy (to_sign + sizeof STATIC_KEY_SIG_PREFIX - 1,
          punch_noise_handshake_get_local_static (data->hs), PUNCH_NOISE_DH_LEN);
  signature = punch_private_key_sign (data->identity, to_sign, sizeof to_sign, error);
  if (signature == NULL)
    return NULL;

  payload.has_identity_key = TRUE;
  payload.identity_key.data = (uint8_t *) g_bytes_get_data (key_bytes, &key_len);
  payload.identity_key.len = key_len;
  payload.has_identity_sig = TRUE;
  payload.identity_sig.data = (uint8_t *) g_bytes_get_data (signature, &sig_len);
  payload.identity_sig.len = sig_len;
  if (data->muxers != NULL && data->muxers[0] != NULL)
    {
      extensions.n_stream_muxers = g_strv_length (data->muxers);
      extensions.stream_muxers = data->muxers;
      payload.extensions = &extensions;
    }

  *len = noise__pb__noise_handshake_payload__get_packed_size (&payload);
  buf = g_malloc (*len + 1);
  noise__pb__noise_handshake_payload__pack (&payload, buf);
  return buf;
}

static gboolean
check_payload (Handshake    *data,
               const guint8 *bytes,
               gsize         len,
               GError      **error)
{
  g_autoptr (Noise__Pb__NoiseHandshakePayload) payload = NULL;
  g_autoptr (PunchPublicKey) key = NULL;
  g_autoptr (GError) local = NULL;
  guint8 signed_data[sizeof STATIC_KEY_SIG_PREFIX - 1 + PUNCH_NOISE_DH_LEN];
  const guint8 *remote_static = punch_noise_handshake_get_remote_static (data->hs);
  PunchPeerId *remote_id;

  g_assert (remote_static != NULL);

  payload = noise__pb__noise_handshake_payload__unpack (NULL, len, bytes);
  if (payload == NULL)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                           "Noise handshake payload is not a valid NoiseHandshakePayload");
      return FALSE;
    }
  if (!payload->has_identity_key || payload->identity_key.len == 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                           "Noise handshake payload carries no identity key");
      return FALSE;
    }
  if (payload->identity_key.len > PUNCH_PUBLIC_KEY_MAX_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "Noise handshake identity key of %" G_GSIZE_FORMAT " bytes exceeds %d",
                   (gsize) payload->identity_key.len, PUNCH_PUBLIC_KEY_MAX_LEN);
      return FALSE;
    }
  if (!payload->has_identity_sig || payload->identity_sig.len == 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_BAD_SIGNATURE,
                           "Noise handshake payload carries no identity signature");
      return FALSE;
    }
  if (payload->identity_sig.len > PUNCH_SIGNATURE_MAX_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "Noise handshake signature of %" G_GSIZE_FORMAT " bytes exceeds %d",
                   (gsize) payload->identity_sig.len, PUNCH_SIGNATURE_MAX_LEN);
      return FALSE;
    }

  key = punch_public_key_new_from_protobuf (payload->identity_key.data,
                                            payload->identity_key.len, &local);
  if (key == NULL)
    {
      g_set_error (error, local->domain, local->code,
                   "Noise handshake identity key: %s", local->message);
      return FALSE;
    }

  memcpy (signed_data, STATIC_KEY_SIG_PREFIX, sizeof STATIC_KEY_SIG_PREFIX - 1);
  memcpy (signed_data + sizeof STATIC_KEY_SIG_PREFIX - 1, remote_static, PUNCH_NOISE_DH_LEN);
  if (!punch_public_key_verify (key, signed_data, sizeof signed_data,
                                payload->identity_sig.data, payload->identity_sig.len, &local))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_BAD_SIGNATURE,
                   "Noise handshake: the remote's signature over its static key does not verify: %s",
                   local->message);
      return FALSE;
    }

  remote_id = punch_public_key_get_peer_id (key);
  if (data->expected != NULL && !punch_peer_id_equal (data->expected, remote_id))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_PEER_ID_MISMATCH,
                   "Noise handshake: expected peer %s but the remote authenticated as %s",
                   punch_peer_id_to_string (data->expected),
                   punch_peer_id_to_string (remote_id));
      return FALSE;
    }

  if (payload->extensions != NULL && payload->extensions->n_stream_muxers > 0)
    {
      g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
      gsize n = MIN (payload->extensions->n_stream_muxers, MAX_MUXERS);

      for (gsize i = 0; i < n; i++)
        {
          const char *name = payload->extensions->stream_muxers[i];

          if (name != NULL && strlen (name) <= MAX_MUXER_LEN)
            g_strv_builder_add (builder, name);
        }
      data->remote_muxers = g_strv_builder_end (builder);
    }

  data->remote_key = g_steal_pointer (&key);
  return TRUE;
}

/* The first of the initiator's muxers that the responder also offered. */
static char *
choose_muxer (Handshake *data)
{
  const char * const *ours = (const char * const *) data->muxers;
  const char * const *theirs = (const char * const *) data->remote_muxers;
  const char * const *initiator_list = data->initiator ? ours : theirs;
  const char * const *responder_list = data->initiator ? theirs : ours;

  if (initiator_list == NULL || responder_list == NULL)
    return NULL;
  for (guint i = 0; initiator_list[i] != NULL; i++)
    {
      if (g_strv_contains (responder_list, initiator_list[i]))
        return g_strdup (initiator_list[i]);
    }
  return NULL;
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
                                              g_steal_pointer (&recv));
  self->output = punch_noise_output_stream_new (g_io_stream_get_output_stream (data->base),
                                                g_steal_pointer (&send));
  self->remote_key = g_steal_pointer (&data->remote_key);
  self->muxer = choose_muxer (data);

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
  if (index > 0 && !check_payload (data, payload->data, payload->len, &error))
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
  g_input_stream_read_all_async (g_io_stream_get_input_stream (data->base),
                                 data->message, data->message_len,
                                 g_task_get_priority (task), g_task_get_cancellable (task),
                                 on_body_read, g_steal_pointer (&task));
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
      g_autofree guint8 *payload = NULL;
      gsize payload_len = 0;
      gsize message_len;

      /* Message 1 carries no payload: nothing in it is encrypted yet. */
      if (punch_noise_handshake_get_message_index (data->hs) > 0)
        {
          payload = build_payload (data, &payload_len, &error);
          if (payload == NULL)
            goto fail;
        }

      g_byte_array_set_size (data->out, FRAME_HEADER);
      if (!punch_noise_handshake_write_message (data->hs, payload, payload_len, data->out, &error))
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
