/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-private-key.h"

G_BEGIN_DECLS

#define PUNCH_TLS_PROTOCOL "/tls/1.0.0"

#define PUNCH_TYPE_TLS_STREAM (punch_tls_stream_get_type ())
G_DECLARE_FINAL_TYPE (PunchTlsStream, punch_tls_stream, PUNCH, TLS_STREAM, GIOStream)

/**
 * punch_tls_stream_handshake_async:
 * @base: the raw connection (a TCP socket or a relayed stream); owned by the
 *   result from now on
 * @initiator: whether we are the TLS client (the side that dialled)
 * @identity: our host key, which signs the certificate key
 * @expected: (nullable): the peer we dialled; a remote that authenticates as
 *   another peer fails with PUNCH_ERROR_PEER_ID_MISMATCH naming both IDs
 * @muxers: (nullable): stream muxers to offer inline through ALPN, before
 *   "libp2p"
 *
 * Runs the libp2p TLS 1.3 handshake (libp2p/specs tls/tls.md) on OpenSSL:
 * mutual authentication with self-signed certificates carrying the host
 * key, no SNI, ALPN "libp2p". The result is a #GIOStream carrying plaintext
 * in records of at most 16 KiB. A failed handshake sends its alert and
 * closes @base.
 */
void            punch_tls_stream_handshake_async  (GIOStream          *base,
                                                   gboolean            initiator,
                                                   PunchPrivateKey    *identity,
                                                   PunchPeerId        *expected,
                                                   const char * const *muxers,
                                                   GCancellable       *cancellable,
                                                   GAsyncReadyCallback callback,
                                                   gpointer            user_data);
PunchTlsStream *punch_tls_stream_handshake_finish (GAsyncResult *result,
                                                   GError      **error);

PunchPeerId    *punch_tls_stream_get_remote_peer_id (PunchTlsStream *self);
PunchPublicKey *punch_tls_stream_get_remote_public_key (PunchTlsStream *self);
/* The muxer chosen through ALPN, or NULL when multistream must choose it
 * (the server picked "libp2p"). */
const char     *punch_tls_stream_get_muxer (PunchTlsStream *self);
/* The negotiated TLS 1.3 cipher suite, e.g. "TLS_AES_256_GCM_SHA384". */
const char     *punch_tls_stream_get_cipher (PunchTlsStream *self);
GIOStream      *punch_tls_stream_get_base_stream (PunchTlsStream *self);

G_END_DECLS
