/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-private-key.h"
#include "punch-yamux-session.h"

G_BEGIN_DECLS

/**
 * PunchUpgrade:
 *
 * The outcome of upgrading a raw stream: the authenticated remote, the
 * security and muxer protocols chosen, and the started muxer session.
 */
typedef struct
{
  PunchPeerId       *peer_id;
  PunchPublicKey    *public_key;
  char              *security;
  char              *muxer;
  PunchYamuxSession *session;
  char              *cipher;       /* e.g. "TLS_AES_256_GCM_SHA384", "ChaChaPoly" */
} PunchUpgrade;

void punch_upgrade_free (PunchUpgrade *upgrade);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchUpgrade, punch_upgrade_free)

/**
 * punch_upgrader_upgrade_async:
 * @raw: a TCP connection or a relayed stream
 * @initiator: whether we act as the client (multistream initiator, Noise
 *   initiator, Yamux client)
 * @key: our identity
 * @expected: (nullable): the peer we expect
 *
 * multistream-select picks the security protocol (/noise, else /tls/1.0.0),
 * its handshake runs, the muxer comes from the Noise extensions or TLS's
 * ALPN or else from multistream
 * (/yamux/1.0.0), and the Yamux session starts (connect to its signals in
 * the callback: the first frame is read after it returns).
 *
 * The whole upgrade gives up after 15 s with %G_IO_ERROR_TIMED_OUT; errors
 * name the step ("security negotiation failed: …", "Noise handshake
 * failed: …", "muxer negotiation failed: …"). On any failure, cancellation
 * included, @raw is closed.
 */
void          punch_upgrader_upgrade_async  (GIOStream          *raw,
                                             gboolean            initiator,
                                             PunchPrivateKey    *key,
                                             PunchPeerId        *expected,
                                             GCancellable       *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer            user_data);
PunchUpgrade *punch_upgrader_upgrade_finish (GAsyncResult *result,
                                             GError      **error);

/* "/noise" then "/tls/1.0.0": what punch_upgrader_upgrade_async() offers. */
const char * const *punch_upgrader_get_default_security (void);

/**
 * punch_upgrader_upgrade_full_async:
 * @security: (nullable): security protocols ("/noise", "/tls/1.0.0") in
 *   the order we offer them as initiator; as responder, the ones we accept.
 *   %NULL means punch_upgrader_get_default_security().
 *
 * Like punch_upgrader_upgrade_async(), with a choice of security protocols.
 * TLS negotiates the muxer inline through ALPN when the peer supports it.
 */
void          punch_upgrader_upgrade_full_async (GIOStream          *raw,
                                                 gboolean            initiator,
                                                 PunchPrivateKey    *key,
                                                 PunchPeerId        *expected,
                                                 const char * const *security,
                                                 GCancellable       *cancellable,
                                                 GAsyncReadyCallback callback,
                                                 gpointer            user_data);

G_END_DECLS
