/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-tls-stream.h"
#include "punch-secure-stream-private.h"

#include "punch-error.h"
#include "punch-tls-engine.h"
#include "punch-tls-input-stream.h"
#include "punch-tls-output-stream.h"

struct _PunchTlsStream
{
  GIOStream             parent_instance;

  PunchTlsEngine       *engine;
  PunchTlsInputStream  *input;
  PunchTlsOutputStream *output;
};

G_DEFINE_FINAL_TYPE (PunchTlsStream, punch_tls_stream, G_TYPE_IO_STREAM)

enum {
  PROP_0,
  PROP_BASE_STREAM,
  PROP_REMOTE_PEER_ID,
  PROP_MUXER,
  PROP_CIPHER,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GInputStream *
punch_tls_stream_get_input_stream (GIOStream *stream)
{
  return G_INPUT_STREAM (PUNCH_TLS_STREAM (stream)->input);
}

static GOutputStream *
punch_tls_stream_get_output_stream (GIOStream *stream)
{
  return G_OUTPUT_STREAM (PUNCH_TLS_STREAM (stream)->output);
}

/* Without a main loop there is no waiting for close_notify to go out: the
 * connection is just closed. */
static gboolean
punch_tls_stream_close_fn (GIOStream    *stream,
                           GCancellable *cancellable,
                           GError      **error)
{
  PunchTlsStream *self = PUNCH_TLS_STREAM (stream);

  punch_secure_stream_close_idle_halves (G_INPUT_STREAM (self->input), G_OUTPUT_STREAM (self->output));
  return self->engine == NULL ||
         g_io_stream_close (punch_tls_engine_get_base (self->engine), cancellable, error);
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
on_shutdown (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  GTask *task = user_data;
  PunchTlsStream *self = g_task_get_source_object (task);

  punch_tls_engine_shutdown_finish (self->engine, result);
  g_io_stream_close_async (punch_tls_engine_get_base (self->engine), g_task_get_priority (task),
                           g_task_get_cancellable (task), on_base_closed, task);
}

static void
punch_tls_stream_close_async (GIOStream          *stream,
                              int                 io_priority,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  PunchTlsStream *self = PUNCH_TLS_STREAM (stream);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, punch_tls_stream_close_async);
  g_task_set_priority (task, io_priority);
  punch_secure_stream_close_idle_halves (G_INPUT_STREAM (self->input), G_OUTPUT_STREAM (self->output));
  punch_tls_engine_shutdown_async (self->engine, io_priority, on_shutdown, task);
}

static gboolean
punch_tls_stream_close_finish (GIOStream    *stream,
                               GAsyncResult *result,
                               GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
punch_tls_stream_dispose (GObject *object)
{
  PunchTlsStream *self = PUNCH_TLS_STREAM (object);

  /* GIOStream would close us in its own dispose, after the engine is gone. */
  if (self->engine != NULL && !g_io_stream_is_closed (G_IO_STREAM (self)))
    g_io_stream_close (G_IO_STREAM (self), NULL, NULL);

  g_clear_object (&self->input);
  g_clear_object (&self->output);
  g_clear_pointer (&self->engine, punch_tls_engine_unref);

  G_OBJECT_CLASS (punch_tls_stream_parent_class)->dispose (object);
}

static void
punch_tls_stream_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  PunchTlsStream *self = PUNCH_TLS_STREAM (object);

  switch (prop_id)
    {
    case PROP_BASE_STREAM:
      g_value_set_object (value, punch_tls_stream_get_base_stream (self));
      break;

    case PROP_REMOTE_PEER_ID:
      g_value_set_boxed (value, punch_tls_stream_get_remote_peer_id (self));
      break;

    case PROP_MUXER:
      g_value_set_string (value, punch_tls_stream_get_muxer (self));
      break;

    case PROP_CIPHER:
      g_value_set_string (value, punch_tls_stream_get_cipher (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_tls_stream_class_init (PunchTlsStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  object_class->dispose = punch_tls_stream_dispose;
  object_class->get_property = punch_tls_stream_get_property;

  stream_class->get_input_stream = punch_tls_stream_get_input_stream;
  stream_class->get_output_stream = punch_tls_stream_get_output_stream;
  stream_class->close_fn = punch_tls_stream_close_fn;
  stream_class->close_async = punch_tls_stream_close_async;
  stream_class->close_finish = punch_tls_stream_close_finish;

  /**
   * PunchTlsStream:base-stream:
   *
   * The connection carrying the TLS records.
   */
  properties[PROP_BASE_STREAM] =
    g_param_spec_object ("base-stream", NULL, NULL,
                         G_TYPE_IO_STREAM,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * PunchTlsStream:remote-peer-id:
   *
   * The peer the remote's certificate authenticated.
   */
  properties[PROP_REMOTE_PEER_ID] =
    g_param_spec_boxed ("remote-peer-id", NULL, NULL,
                        PUNCH_TYPE_PEER_ID,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * PunchTlsStream:muxer:
   *
   * The stream muxer chosen through ALPN, or %NULL.
   */
  properties[PROP_MUXER] =
    g_param_spec_string ("muxer", NULL, NULL,
                         NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * PunchTlsStream:cipher:
   *
   * The negotiated cipher suite, in OpenSSL's (IANA) naming.
   */
  properties[PROP_CIPHER] =
    g_param_spec_string ("cipher", NULL, NULL,
                         NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
punch_tls_stream_init (PunchTlsStream *self)
{
}

/**
 * punch_tls_stream_get_remote_peer_id:
 * @self: a #PunchTlsStream
 *
 * Returns: (transfer none): the authenticated remote peer
 */
PunchPeerId *
punch_tls_stream_get_remote_peer_id (PunchTlsStream *self)
{
  PunchPublicKey *key;

  g_return_val_if_fail (PUNCH_IS_TLS_STREAM (self), NULL);

  key = self->engine != NULL ? punch_tls_engine_get_remote_key (self->engine) : NULL;
  return key != NULL ? punch_public_key_get_peer_id (key) : NULL;
}

/**
 * punch_tls_stream_get_remote_public_key:
 * @self: a #PunchTlsStream
 *
 * Returns: (transfer none): the remote's host key, from its certificate
 */
PunchPublicKey *
punch_tls_stream_get_remote_public_key (PunchTlsStream *self)
{
  g_return_val_if_fail (PUNCH_IS_TLS_STREAM (self), NULL);

  return self->engine != NULL ? punch_tls_engine_get_remote_key (self->engine) : NULL;
}

/**
 * punch_tls_stream_get_muxer:
 * @self: a #PunchTlsStream
 *
 * Returns: (nullable): the muxer chosen through ALPN, or %NULL when
 *   multistream has to negotiate one
 */
const char *
punch_tls_stream_get_muxer (PunchTlsStream *self)
{
  g_return_val_if_fail (PUNCH_IS_TLS_STREAM (self), NULL);

  return self->engine != NULL ? punch_tls_engine_get_muxer (self->engine) : NULL;
}

/**
 * punch_tls_stream_get_cipher:
 * @self: a #PunchTlsStream
 *
 * Returns: the negotiated cipher suite, e.g. "TLS_AES_256_GCM_SHA384"
 */
const char *
punch_tls_stream_get_cipher (PunchTlsStream *self)
{
  g_return_val_if_fail (PUNCH_IS_TLS_STREAM (self), NULL);

  return self->engine != NULL ? punch_tls_engine_get_cipher (self->engine) : NULL;
}

/**
 * punch_tls_stream_get_base_stream:
 * @self: a #PunchTlsStream
 *
 * Returns: (transfer none): the connection under the encryption
 */
GIOStream *
punch_tls_stream_get_base_stream (PunchTlsStream *self)
{
  g_return_val_if_fail (PUNCH_IS_TLS_STREAM (self), NULL);

  return self->engine != NULL ? punch_tls_engine_get_base (self->engine) : NULL;
}

/* ---- the handshake ---- */

static void
on_handshake (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  PunchTlsEngine *engine = g_task_get_task_data (task);
  g_autoptr (PunchTlsStream) self = NULL;
  GError *error = NULL;

  if (!punch_tls_engine_handshake_finish (engine, result, &error))
    {
      /* The engine waited for its alert to go out. */
      g_io_stream_close_async (punch_tls_engine_get_base (engine), G_PRIORITY_DEFAULT,
                               NULL, NULL, NULL);
      g_task_return_error (task, error);
      return;
    }

  self = g_object_new (PUNCH_TYPE_TLS_STREAM, NULL);
  self->engine = punch_tls_engine_ref (engine);
  self->input = punch_tls_input_stream_new (engine);
  self->output = punch_tls_output_stream_new (engine);
  g_task_return_pointer (task, g_steal_pointer (&self), g_object_unref);
}

void
punch_tls_stream_handshake_async (GIOStream          *base,
                                  gboolean            initiator,
                                  PunchPrivateKey    *identity,
                                  PunchPeerId        *expected,
                                  const char * const *muxers,
                                  GCancellable       *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer            user_data)
{
  g_autoptr (GTask) task = NULL;
  PunchTlsEngine *engine;
  GError *error = NULL;

  g_return_if_fail (G_IS_IO_STREAM (base));
  g_return_if_fail (PUNCH_IS_PRIVATE_KEY (identity));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_tls_stream_handshake_async);

  engine = punch_tls_engine_new (base, initiator, identity, expected, muxers, &error);
  if (engine == NULL)
    {
      g_io_stream_close_async (base, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      g_task_return_error (task, error);
      return;
    }
  g_task_set_task_data (task, engine, (GDestroyNotify) punch_tls_engine_unref);
  punch_tls_engine_handshake_async (engine, G_PRIORITY_DEFAULT, cancellable,
                                    on_handshake, g_steal_pointer (&task));
}

/**
 * punch_tls_stream_handshake_finish:
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the secured stream, or %NULL with
 *   @error set: %G_IO_ERROR for transport failures (a connection closed in
 *   the middle of the handshake gives %G_IO_ERROR_CONNECTION_CLOSED or
 *   %G_IO_ERROR_PARTIAL_INPUT), %PUNCH_ERROR for protocol failures
 *   (%PUNCH_ERROR_PEER_ID_MISMATCH, %PUNCH_ERROR_BAD_SIGNATURE,
 *   %PUNCH_ERROR_PROTOCOL for refused certificates and alerts). The base
 *   stream is closed when the handshake fails.
 */
PunchTlsStream *
punch_tls_stream_handshake_finish (GAsyncResult *result,
                                   GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == punch_tls_stream_handshake_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
