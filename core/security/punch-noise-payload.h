/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The libp2p NoiseHandshakePayload: building ours and checking the remote's.
 * Private to core/security (and its tests and fuzz targets). */

#include <glib.h>

#include "punch-noise-state.h"
#include "punch-private-key.h"

G_BEGIN_DECLS

/* libp2p binds the X25519 static key to the identity key by signing it with
 * this prefix (noise/README.md, "Static Key Authentication"). */
#define PUNCH_NOISE_STATIC_KEY_SIG_PREFIX "noise-libp2p-static-key:"

/* Our payload: identity key, its signature over our static key, and the
 * muxers (omitted when @muxers is NULL or empty). */
GBytes  *punch_noise_payload_build (PunchPrivateKey    *identity,
                                    const guint8       *local_static,
                                    const char * const *muxers,
                                    GError            **error);

/* Parses and authenticates the remote's payload against its static key
 * @remote_static. With @expected, a remote authenticating as another peer
 * fails with PUNCH_ERROR_PEER_ID_MISMATCH naming both. @remote_key gets the
 * identity key; @remote_muxers (nullable) the muxers it offered, or NULL. */
gboolean punch_noise_payload_check (const guint8    *payload,
                                    gsize            len,
                                    const guint8    *remote_static,
                                    PunchPeerId     *expected,
                                    PunchPublicKey **remote_key,
                                    GStrv           *remote_muxers,
                                    GError         **error);

/* The first of the initiator's muxers that the responder also offered, or
 * NULL when either list is empty or they do not overlap. */
char    *punch_noise_payload_choose_muxer (const char * const *initiator_muxers,
                                           const char * const *responder_muxers);

G_END_DECLS
