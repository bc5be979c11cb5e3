/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The OpenSSL side of a PunchTlsStream, private to core/security: an SSL
 * object over two memory BIOs, pumped to and from the base GIOStream on the
 * main loop. Reference counted, shared by the GIOStream and its two halves.
 * At most one handshake or read, one write and one shutdown are pending at
 * a time (GIO's pending flags guarantee it for the halves). */

#include <gio/gio.h>
#include <openssl/x509.h>

#include "punch-private-key.h"

G_BEGIN_DECLS

typedef struct _PunchTlsEngine PunchTlsEngine;

/* Largest plaintext one write accepts: four full records. */
#define PUNCH_TLS_MAX_WRITE (4 * 16384)

PunchTlsEngine *punch_tls_engine_new   (GIOStream          *base,
                                        gboolean            initiator,
                                        PunchPrivateKey    *identity,
                                        PunchPeerId        *expected,
                                        const char * const *muxers,
                                        GError            **error);
/* Replaces the generated certificate, before the handshake: for tests that
 * play a misbehaving peer (expired certificate, a chain of two). */
gboolean        punch_tls_engine_use_certificate (PunchTlsEngine *self,
                                                  X509           *cert,
                                                  EVP_PKEY       *key,
                                                  X509           *extra,
                                                  GError        **error);
PunchTlsEngine *punch_tls_engine_ref   (PunchTlsEngine *self);
void            punch_tls_engine_unref (PunchTlsEngine *self);

void            punch_tls_engine_handshake_async  (PunchTlsEngine     *self,
                                                   int                 io_priority,
                                                   GCancellable       *cancellable,
                                                   GAsyncReadyCallback callback,
                                                   gpointer            user_data);
gboolean        punch_tls_engine_handshake_finish (PunchTlsEngine *self,
                                                   GAsyncResult   *result,
                                                   GError        **error);

void            punch_tls_engine_read_async  (PunchTlsEngine     *self,
                                              void               *buffer,
                                              gsize               count,
                                              int                 io_priority,
                                              GCancellable       *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer            user_data);
gssize          punch_tls_engine_read_finish (PunchTlsEngine *self,
                                              GAsyncResult   *result,
                                              GError        **error);
/* Serves already decrypted bytes without waiting; 0 with no error when it
 * would have to wait (check punch_tls_engine_at_eof()). */
gssize          punch_tls_engine_read_nonblocking (PunchTlsEngine *self,
                                                   void           *buffer,
                                                   gsize           count,
                                                   gboolean       *would_block,
                                                   GError        **error);

void            punch_tls_engine_write_async  (PunchTlsEngine     *self,
                                               const void         *buffer,
                                               gsize               count,
                                               int                 io_priority,
                                               GCancellable       *cancellable,
                                               GAsyncReadyCallback callback,
                                               gpointer            user_data);
gssize          punch_tls_engine_write_finish (PunchTlsEngine *self,
                                               GAsyncResult   *result,
                                               GError        **error);

/* Sends close_notify (once the handshake is done) and waits, up to a few
 * seconds, until everything queued reached the base stream. Never fails. */
void            punch_tls_engine_shutdown_async  (PunchTlsEngine     *self,
                                                  int                 io_priority,
                                                  GAsyncReadyCallback callback,
                                                  gpointer            user_data);
void            punch_tls_engine_shutdown_finish (PunchTlsEngine *self,
                                                  GAsyncResult   *result);

GIOStream      *punch_tls_engine_get_base (PunchTlsEngine *self);
/* Valid after a successful handshake. (transfer none) */
PunchPublicKey *punch_tls_engine_get_remote_key (PunchTlsEngine *self);
const char     *punch_tls_engine_get_muxer (PunchTlsEngine *self);
const char     *punch_tls_engine_get_cipher (PunchTlsEngine *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchTlsEngine, punch_tls_engine_unref)

G_END_DECLS
