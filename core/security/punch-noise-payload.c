/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-noise-payload.h"

#include <string.h>

#include "noise.pb-c.h"
#include "punch-error.h"
#include "punch-key-private.h"
#include "punch-openssl-private.h"

PUNCH_DEFINE_PROTOBUF_CLEANUP (Noise__Pb__NoiseHandshakePayload, noise__pb__noise_handshake_payload)

#define PREFIX_LEN (sizeof PUNCH_NOISE_STATIC_KEY_SIG_PREFIX - 1)
/* Muxer names past these limits are ignored when matching, not rejected. */
#define MAX_MUXERS 32
#define MAX_MUXER_LEN 256

static void
signed_data (const guint8 *static_key,
             guint8        out[PREFIX_LEN + PUNCH_NOISE_DH_LEN])
{
  memcpy (out, PUNCH_NOISE_STATIC_KEY_SIG_PREFIX, PREFIX_LEN);
  memcpy (out + PREFIX_LEN, static_key, PUNCH_NOISE_DH_LEN);
}

GBytes *
punch_noise_payload_build (PunchPrivateKey    *identity,
                           const guint8       *local_static,
                           const char * const *muxers,
                           GError            **error)
{
  Noise__Pb__NoiseHandshakePayload payload = NOISE__PB__NOISE_HANDSHAKE_PAYLOAD__INIT;
  Noise__Pb__NoiseExtensions extensions = NOISE__PB__NOISE_EXTENSIONS__INIT;
  GBytes *key_bytes = punch_public_key_get_protobuf (punch_private_key_get_public_key (identity));
  guint8 to_sign[PREFIX_LEN + PUNCH_NOISE_DH_LEN];
  g_autoptr (GBytes) signature = NULL;
  gsize key_len = 0;
  gsize sig_len = 0;
  gsize len;
  guint8 *buf;

  signed_data (local_static, to_sign);
  signature = punch_private_key_sign (identity, to_sign, sizeof to_sign, error);
  if (signature == NULL)
    return NULL;

  payload.has_identity_key = TRUE;
  payload.identity_key.data = (uint8_t *) g_bytes_get_data (key_bytes, &key_len);
  payload.identity_key.len = key_len;
  payload.has_identity_sig = TRUE;
  payload.identity_sig.data = (uint8_t *) g_bytes_get_data (signature, &sig_len);
  payload.identity_sig.len = sig_len;
  if (muxers != NULL && muxers[0] != NULL)
    {
      extensions.n_stream_muxers = g_strv_length ((char **) muxers);
      extensions.stream_muxers = (char **) muxers;
      payload.extensions = &extensions;
    }

  len = noise__pb__noise_handshake_payload__get_packed_size (&payload);
  buf = g_malloc (len + 1);
  noise__pb__noise_handshake_payload__pack (&payload, buf);
  return g_bytes_new_take (buf, len);
}

gboolean
punch_noise_payload_check (const guint8    *bytes,
                           gsize            len,
                           const guint8    *remote_static,
                           PunchPeerId     *expected,
                           PunchPublicKey **remote_key,
                           GStrv           *remote_muxers,
                           GError         **error)
{
  g_autoptr (Noise__Pb__NoiseHandshakePayload) payload = NULL;
  g_autoptr (PunchPublicKey) key = NULL;
  g_autoptr (GError) local = NULL;
  guint8 to_verify[PREFIX_LEN + PUNCH_NOISE_DH_LEN];
  PunchPeerId *remote_id;

  g_return_val_if_fail (remote_static != NULL, FALSE);
  g_return_val_if_fail (remote_key != NULL, FALSE);

  /* The whole payload came in one Noise message, so it is at most 64 KiB:
   * that bounds what protobuf-c allocates. */
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

  signed_data (remote_static, to_verify);
  if (!punch_public_key_verify (key, to_verify, sizeof to_verify,
                                payload->identity_sig.data, payload->identity_sig.len, &local))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_BAD_SIGNATURE,
                   "Noise handshake: the remote's signature over its static key does not verify (%s)",
                   local->message);
      return FALSE;
    }

  remote_id = punch_public_key_get_peer_id (key);
  if (expected != NULL && !punch_peer_id_equal (expected, remote_id))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_PEER_ID_MISMATCH,
                   "Noise handshake: expected peer %s but the remote authenticated as %s",
                   punch_peer_id_to_string (expected),
                   punch_peer_id_to_string (remote_id));
      return FALSE;
    }

  if (remote_muxers != NULL)
    {
      *remote_muxers = NULL;
      if (payload->extensions != NULL && payload->extensions->n_stream_muxers > 0)
        {
          g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
          gsize n = MIN (payload->extensions->n_stream_muxers, MAX_MUXERS);

          for (gsize i = 0; i < n; i++)
            {
              const char *name = payload->extensions->stream_muxers[i];

              if (name != NULL && name[0] != '\0' && strlen (name) <= MAX_MUXER_LEN)
                g_strv_builder_add (builder, name);
            }
          *remote_muxers = g_strv_builder_end (builder);
        }
    }

  *remote_key = g_steal_pointer (&key);
  return TRUE;
}

char *
punch_noise_payload_choose_muxer (const char * const *initiator_muxers,
                                  const char * const *responder_muxers)
{
  if (initiator_muxers == NULL || responder_muxers == NULL)
    return NULL;
  for (guint i = 0; initiator_muxers[i] != NULL; i++)
    {
      if (g_strv_contains (responder_muxers, initiator_muxers[i]))
        return g_strdup (initiator_muxers[i]);
    }
  return NULL;
}
