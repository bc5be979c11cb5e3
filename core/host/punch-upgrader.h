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
 * multistream-select picks the security protocol (/noise), Noise runs, the
 * muxer comes from the Noise extensions or else from multistream
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

G_END_DECLS
