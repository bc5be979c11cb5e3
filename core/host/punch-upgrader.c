/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-upgrader.h"

#include <string.h>

#include "punch-error.h"
#include "punch-multistream.h"
#include "punch-noise-stream.h"
#include "punch-tls-stream.h"

/* go-libp2p gives an inbound upgrade 15 s; we use the same for both sides. */
#define UPGRADE_TIMEOUT_SECONDS 15

typedef enum
{
  STEP_SECURITY,
  STEP_HANDSHAKE,
  STEP_MUXER,
} UpgradeStep;

typedef struct
{
  GIOStream        *raw;
  gboolean          initiator;
  PunchPrivateKey  *key;
  PunchPeerId      *expected;

  GStrv             security;
  UpgradeStep       step;
  gboolean          tls;
  /* The secured stream: a PunchNoiseStream or a PunchTlsStream. */
  GIOStream        *secured;

  /* Cancelled by the caller's cancellable or by the timeout. */
  GCancellable     *cancellable;
  GCancellable     *caller_cancellable;
  gulong            caller_handler;
  GSource          *timeout;
  gboolean          timed_out;
} UpgradeData;

static void
upgrade_data_free (UpgradeData *data)
{
  /* Not g_cancellable_disconnect(): this may run inside the caller's
   * "cancelled" emission, where that would wait for itself forever. */
  if (data->caller_handler != 0)
    g_signal_handler_disconnect (data->caller_cancellable, data->caller_handler);
  if (data->timeout != NULL)
    g_source_destroy (data->timeout);
  g_clear_pointer (&data->timeout, g_source_unref);
  g_clear_object (&data->caller_cancellable);
  g_clear_object (&data->cancellable);
  g_clear_object (&data->secured);
  g_clear_pointer (&data->security, g_strfreev);
  g_clear_object (&data->raw);
  g_clear_object (&data->key);
  g_clear_pointer (&data->expected, punch_peer_id_unref);
  g_free (data);
}

void
punch_upgrade_free (PunchUpgrade *upgrade)
{
  if (upgrade == NULL)
    return;

  g_clear_pointer (&upgrade->peer_id, punch_peer_id_unref);
  g_clear_object (&upgrade->public_key);
  g_clear_pointer (&upgrade->security, g_free);
  g_clear_pointer (&upgrade->muxer, g_free);
  g_clear_pointer (&upgrade->cipher, g_free);
  g_clear_object (&upgrade->session);
  g_free (upgrade);
}

static const char *
step_to_string (UpgradeData *data)
{
  switch (data->step)
    {
    case STEP_SECURITY:
      return "security negotiation";
    case STEP_HANDSHAKE:
      return data->tls ? "TLS handshake" : "Noise handshake";
    case STEP_MUXER:
      return "muxer negotiation";
    default:
      return "upgrade";
    }
}

static void
fail (GTask  *task,
      GError *error)
{
  UpgradeData *data = g_task_get_task_data (task);
  GIOStream *to_close = data->secured != NULL ? G_IO_STREAM (data->secured) : data->raw;

  /* Whatever the step made of the cancellation, the cause was the clock. */
  if (data->timed_out)
    {
      g_clear_error (&error);
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "connection upgrade timed out after %d s during %s",
                           UPGRADE_TIMEOUT_SECONDS, step_to_string (data));
    }
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      const char *step = step_to_string (data);
      gsize step_len = strlen (step);

      /* Say the step once, even when the layer below named it already. */
      if (g_str_has_prefix (error->message, step) && strncmp (error->message + step_len, ": ", 2) == 0)
        {
          char *rest = g_strdup (error->message + step_len + 2);

          g_free (error->message);
          error->message = rest;
        }
      g_prefix_error (&error, "%s failed: ", step);
    }

  g_debug ("upgrade (%s) failed: %s", data->initiator ? "initiator" : "responder", error->message);

  /* A half-upgraded connection is useless to everyone. */
  if (to_close != NULL && !g_io_stream_is_closed (to_close))
    g_io_stream_close_async (to_close, G_PRIORITY_DEFAULT, NULL, NULL, NULL);

  g_task_return_error (task, error);
}

static void
finish_upgrade (GTask      *task,
                const char *muxer)
{
  UpgradeData *data = g_task_get_task_data (task);
  PunchUpgrade *upgrade;

  /* Cancelled (or timed out) in the very step that succeeded: a started
   * session nobody takes would keep the connection open forever. */
  if (g_cancellable_is_cancelled (data->cancellable))
    {
      fail (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled"));
      return;
    }

  upgrade = g_new0 (PunchUpgrade, 1);
  if (data->tls)
    {
      PunchTlsStream *tls = PUNCH_TLS_STREAM (data->secured);

      upgrade->peer_id = punch_peer_id_ref (punch_tls_stream_get_remote_peer_id (tls));
      upgrade->public_key = g_object_ref (punch_tls_stream_get_remote_public_key (tls));
      upgrade->security = g_strdup (PUNCH_TLS_PROTOCOL);
      upgrade->cipher = g_strdup (punch_tls_stream_get_cipher (tls));
    }
  else
    {
      PunchNoiseStream *noise = PUNCH_NOISE_STREAM (data->secured);

      upgrade->peer_id = punch_peer_id_ref (punch_noise_stream_get_remote_peer_id (noise));
      upgrade->public_key = g_object_ref (punch_noise_stream_get_remote_public_key (noise));
      upgrade->security = g_strdup (PUNCH_NOISE_PROTOCOL);
      /* Noise_XX_25519_ChaChaPoly_SHA256 */
      upgrade->cipher = g_strdup ("ChaChaPoly");
    }
  upgrade->muxer = g_strdup (muxer);
  upgrade->session = punch_yamux_session_new (data->secured, data->initiator);
  /* GTask hands the result over synchronously here (we are in a later main
   * loop iteration than the _async call), so the caller connects to the
   * session's signals before the first frame can be read. */
  punch_yamux_session_start (upgrade->session);

  g_debug ("upgraded %s connection to %s (%s, %s, %s)", data->initiator ? "outbound" : "inbound",
           punch_peer_id_to_string (upgrade->peer_id), upgrade->security, upgrade->cipher,
           upgrade->muxer);

  g_task_return_pointer (task, upgrade, (GDestroyNotify) punch_upgrade_free);
}

static void
muxer_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  UpgradeData *data = g_task_get_task_data (task);
  GError *error = NULL;
  g_autofree char *muxer = NULL;

  if (data->initiator)
    muxer = punch_multistream_select_finish (G_IO_STREAM (source), result, &error);
  else
    muxer = punch_multistream_handle_finish (G_IO_STREAM (source), result, &error);
  if (muxer == NULL)
    {
      fail (task, error);
      return;
    }

  finish_upgrade (task, muxer);
}

static void
handshake_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  UpgradeData *data = g_task_get_task_data (task);
  static const char * const muxers[] = { PUNCH_YAMUX_PROTOCOL, NULL };
  GError *error = NULL;
  const char *inline_muxer;

  if (data->tls)
    {
      data->secured = (GIOStream *) punch_tls_stream_handshake_finish (result, &error);
      inline_muxer = data->secured != NULL ? punch_tls_stream_get_muxer (PUNCH_TLS_STREAM (data->secured)) : NULL;
    }
  else
    {
      data->secured = (GIOStream *) punch_noise_stream_handshake_finish (result, &error);
      inline_muxer = data->secured != NULL ? punch_noise_stream_get_muxer (PUNCH_NOISE_STREAM (data->secured)) : NULL;
    }
  if (data->secured == NULL)
    {
      fail (task, error);
      return;
    }

  data->step = STEP_MUXER;
  if (inline_muxer != NULL)
    {
      if (g_strcmp0 (inline_muxer, PUNCH_YAMUX_PROTOCOL) != 0)
        {
          fail (task, g_error_new (PUNCH_ERROR, PUNCH_ERROR_NEGOTIATION_FAILED,
                                   "the %s chose %s, which we do not speak",
                                   data->tls ? "TLS ALPN" : "Noise extensions", inline_muxer));
          return;
        }
      finish_upgrade (task, inline_muxer);
      return;
    }

  if (data->initiator)
    punch_multistream_select_async (G_IO_STREAM (data->secured), muxers, data->cancellable,
                                    muxer_cb, g_steal_pointer (&task));
  else
    punch_multistream_handle_async (G_IO_STREAM (data->secured), muxers, data->cancellable,
                                    muxer_cb, g_steal_pointer (&task));
}

static void
security_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  UpgradeData *data = g_task_get_task_data (task);
  static const char * const muxers[] = { PUNCH_YAMUX_PROTOCOL, NULL };
  GError *error = NULL;
  g_autofree char *security = NULL;

  if (data->initiator)
    security = punch_multistream_select_finish (G_IO_STREAM (source), result, &error);
  else
    security = punch_multistream_handle_finish (G_IO_STREAM (source), result, &error);
  if (security == NULL)
    {
      fail (task, error);
      return;
    }

  data->step = STEP_HANDSHAKE;
  data->tls = g_str_equal (security, PUNCH_TLS_PROTOCOL);
  if (data->tls)
    punch_tls_stream_handshake_async (data->raw, data->initiator, data->key, data->expected,
                                      muxers, data->cancellable,
                                      handshake_cb, g_steal_pointer (&task));
  else
    punch_noise_stream_handshake_async (data->raw, data->initiator, data->key, data->expected,
                                        muxers, data->cancellable,
                                        handshake_cb, g_steal_pointer (&task));
}

static gboolean
on_timeout (gpointer user_data)
{
  UpgradeData *data = user_data;

  data->timed_out = TRUE;
  g_clear_pointer (&data->timeout, g_source_unref);
  g_cancellable_cancel (data->cancellable);

  return G_SOURCE_REMOVE;
}

static void
on_caller_cancelled (GCancellable *caller,
                     GCancellable *ours)
{
  g_cancellable_cancel (ours);
}

/**
 * punch_upgrader_upgrade_async:
 * @raw: a TCP connection or a relayed stream
 * @initiator: whether we act as the client (multistream initiator, Noise
 *   initiator, Yamux client)
 * @key: our identity
 * @expected: (nullable): the peer we expect
 * @cancellable: (nullable): a #GCancellable
 *
 * multistream-select picks the security protocol (/noise), Noise runs, the
 * muxer comes from the Noise extensions or else from multistream
 * (/yamux/1.0.0), and the Yamux session starts. The whole upgrade gives up
 * after 15 s with %G_IO_ERROR_TIMED_OUT. Errors name the step that failed.
 * On failure @raw is closed.
 */
void
punch_upgrader_upgrade_async (GIOStream          *raw,
                              gboolean            initiator,
                              PunchPrivateKey    *key,
                              PunchPeerId        *expected,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  punch_upgrader_upgrade_full_async (raw, initiator, key, expected, NULL, cancellable,
                                     callback, user_data);
}

/**
 * punch_upgrader_get_default_security:
 *
 * Returns: (transfer none): "/noise" then "/tls/1.0.0"
 */
const char * const *
punch_upgrader_get_default_security (void)
{
  static const char * const security[] = { PUNCH_NOISE_PROTOCOL, PUNCH_TLS_PROTOCOL, NULL };

  return security;
}

/**
 * punch_upgrader_upgrade_full_async:
 * @raw: a TCP connection or a relayed stream
 * @initiator: whether we act as the client
 * @key: our identity
 * @expected: (nullable): the peer we expect
 * @security: (nullable): the security protocols, in our order of preference
 * @cancellable: (nullable): a #GCancellable
 *
 * punch_upgrader_upgrade_async() with a choice of security protocols.
 */
void
punch_upgrader_upgrade_full_async (GIOStream          *raw,
                                   gboolean            initiator,
                                   PunchPrivateKey    *key,
                                   PunchPeerId        *expected,
                                   const char * const *security,
                                   GCancellable       *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer            user_data)
{
  g_autoptr(GTask) task = NULL;
  UpgradeData *data;

  g_return_if_fail (G_IS_IO_STREAM (raw));
  g_return_if_fail (PUNCH_IS_PRIVATE_KEY (key));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_upgrader_upgrade_async);
  /* We report cancellation ourselves, after closing the connection. */
  g_task_set_check_cancellable (task, FALSE);

  data = g_new0 (UpgradeData, 1);
  data->raw = g_object_ref (raw);
  data->initiator = !!initiator;
  data->key = g_object_ref (key);
  data->expected = expected != NULL ? punch_peer_id_ref (expected) : NULL;
  data->security = g_strdupv ((char **) (security != NULL && security[0] != NULL
                                          ? security : punch_upgrader_get_default_security ()));
  data->step = STEP_SECURITY;
  data->cancellable = g_cancellable_new ();
  g_task_set_task_data (task, data, (GDestroyNotify) upgrade_data_free);

  if (cancellable != NULL)
    {
      data->caller_cancellable = g_object_ref (cancellable);
      if (g_cancellable_is_cancelled (cancellable))
        g_cancellable_cancel (data->cancellable);
      else
        data->caller_handler = g_signal_connect (cancellable, "cancelled",
                                                 G_CALLBACK (on_caller_cancelled), data->cancellable);
    }

  data->timeout = g_timeout_source_new_seconds (UPGRADE_TIMEOUT_SECONDS);
  g_source_set_static_name (data->timeout, "[punch] upgrade timeout");
  g_source_set_callback (data->timeout, on_timeout, data, NULL);
  g_source_attach (data->timeout, g_main_context_get_thread_default ());

  if (data->initiator)
    punch_multistream_select_async (raw, (const char * const *) data->security, data->cancellable,
                                    security_cb, g_steal_pointer (&task));
  else
    punch_multistream_handle_async (raw, (const char * const *) data->security, data->cancellable,
                                    security_cb, g_steal_pointer (&task));
}

/**
 * punch_upgrader_upgrade_finish:
 *
 * Returns: (transfer full): the upgrade; free with punch_upgrade_free()
 */
PunchUpgrade *
punch_upgrader_upgrade_finish (GAsyncResult *result,
                               GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
