/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-private-key.h"

G_BEGIN_DECLS

#define PUNCH_NOISE_PROTOCOL "/noise"
/* Largest Noise message (ciphertext incl. the 16-byte tag) and plaintext per frame. */
#define PUNCH_NOISE_MAX_MESSAGE   65535
#define PUNCH_NOISE_MAX_PLAINTEXT (65535 - 16)

#define PUNCH_TYPE_NOISE_STREAM (punch_noise_stream_get_type ())
G_DECLARE_FINAL_TYPE (PunchNoiseStream, punch_noise_stream, PUNCH, NOISE_STREAM, GIOStream)

/**
 * punch_noise_stream_handshake_async:
 * @base: the raw connection (a TCP socket or a relayed stream); owned by the
 *   result from now on
 * @initiator: whether we run the initiator side of XX
 * @identity: our host key, which signs the static Noise key
 * @expected: (nullable): the peer we dialled; a remote that authenticates as
 *   another peer fails with PUNCH_ERROR_PEER_ID_MISMATCH naming both IDs
 * @muxers: (nullable): stream muxers to offer inline (NoiseExtensions.stream_muxers)
 *
 * Runs Noise_XX_25519_ChaChaPoly_SHA256 with the libp2p handshake payload.
 * The result is a #GIOStream carrying plaintext: writes are split into
 * frames of at most 65519 bytes and encrypted; reads decrypt. A failed
 * handshake closes @base.
 */
void              punch_noise_stream_handshake_async  (GIOStream          *base,
                                                       gboolean            initiator,
                                                       PunchPrivateKey    *identity,
                                                       PunchPeerId        *expected,
                                                       const char * const *muxers,
                                                       GCancellable       *cancellable,
                                                       GAsyncReadyCallback callback,
                                                       gpointer            user_data);
PunchNoiseStream *punch_noise_stream_handshake_finish (GAsyncResult *result,
                                                       GError      **error);

PunchPeerId      *punch_noise_stream_get_remote_peer_id (PunchNoiseStream *self);
PunchPublicKey   *punch_noise_stream_get_remote_public_key (PunchNoiseStream *self);
/* The muxer chosen by inlined negotiation (first of the initiator's list the
 * responder also offered), or NULL when multistream must choose it. */
const char       *punch_noise_stream_get_muxer (PunchNoiseStream *self);
GIOStream        *punch_noise_stream_get_base_stream (PunchNoiseStream *self);

G_END_DECLS
