/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The pure Noise_XX_25519_ChaChaPoly_SHA256 machinery (CipherState,
 * SymmetricState, HandshakeState of the Noise spec, rev 34), with no I/O.
 * Private to core/security; the test program and the fuzz targets use it
 * directly to check the state machine against published test vectors. */

#include <glib.h>

G_BEGIN_DECLS

#define PUNCH_NOISE_PROTOCOL_NAME "Noise_XX_25519_ChaChaPoly_SHA256"
#define PUNCH_NOISE_KEY_LEN  32
#define PUNCH_NOISE_HASH_LEN 32
#define PUNCH_NOISE_DH_LEN   32
#define PUNCH_NOISE_TAG_LEN  16

/* CipherState: a ChaCha20-Poly1305 key and a 64-bit nonce counter. The
 * OpenSSL contexts are keyed once; each message only sets the IV. */
typedef struct _PunchNoiseCipher PunchNoiseCipher;

PunchNoiseCipher *punch_noise_cipher_new (const guint8 key[PUNCH_NOISE_KEY_LEN],
                                          GError     **error);
void              punch_noise_cipher_free (PunchNoiseCipher *self);
guint64           punch_noise_cipher_get_nonce (PunchNoiseCipher *self);
/* Writes @len + 16 bytes to @out, which may be @plaintext itself. */
gboolean          punch_noise_cipher_encrypt (PunchNoiseCipher *self,
                                              const guint8     *ad,
                                              gsize             ad_len,
                                              const guint8     *plaintext,
                                              gsize             len,
                                              guint8           *out,
                                              GError          **error);
/* @len includes the tag (>= 16); writes @len - 16 bytes to @out, which may
 * be @ciphertext itself. Fails with PUNCH_ERROR_PROTOCOL when the tag does
 * not verify; the nonce then stays where it was. */
gboolean          punch_noise_cipher_decrypt (PunchNoiseCipher *self,
                                              const guint8     *ad,
                                              gsize             ad_len,
                                              const guint8     *ciphertext,
                                              gsize             len,
                                              guint8           *out,
                                              GError          **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchNoiseCipher, punch_noise_cipher_free)

/* HandshakeState for the XX pattern:
 *   -> e
 *   <- e, ee, s, es
 *   -> s, se
 */
typedef struct _PunchNoiseHandshake PunchNoiseHandshake;

/* Generates a fresh static X25519 key; the ephemeral key is generated when
 * it is first needed. */
PunchNoiseHandshake *punch_noise_handshake_new (gboolean      initiator,
                                                const guint8 *prologue,
                                                gsize         prologue_len,
                                                GError      **error);
void                 punch_noise_handshake_free (PunchNoiseHandshake *self);

/* Test vectors only: replaces the static key and fixes the ephemeral key
 * (raw 32-byte X25519 private keys). Call before the first message. */
gboolean             punch_noise_handshake_set_fixed_keys (PunchNoiseHandshake *self,
                                                           const guint8        *static_private,
                                                           const guint8        *ephemeral_private,
                                                           GError             **error);

const guint8        *punch_noise_handshake_get_local_static (PunchNoiseHandshake *self);
/* The remote static public key, or NULL before the message carrying it. */
const guint8        *punch_noise_handshake_get_remote_static (PunchNoiseHandshake *self);
/* The handshake hash h (channel binding value once finished). */
const guint8        *punch_noise_handshake_get_hash (PunchNoiseHandshake *self);
/* 0, 1 or 2 for the next message; 3 once finished. */
guint                punch_noise_handshake_get_message_index (PunchNoiseHandshake *self);
gboolean             punch_noise_handshake_is_write_turn (PunchNoiseHandshake *self);
gboolean             punch_noise_handshake_is_finished (PunchNoiseHandshake *self);

/* Appends the next handshake message (without the libp2p length prefix)
 * carrying @payload to @out. */
gboolean             punch_noise_handshake_write_message (PunchNoiseHandshake *self,
                                                          const guint8        *payload,
                                                          gsize                payload_len,
                                                          GByteArray          *out,
                                                          GError             **error);
/* Processes the next handshake message from the remote and appends its
 * decrypted payload to @payload. On failure the handshake is unusable. */
gboolean             punch_noise_handshake_read_message (PunchNoiseHandshake *self,
                                                         const guint8        *message,
                                                         gsize                len,
                                                         GByteArray          *payload,
                                                         GError             **error);
/* After the third message: the transport ciphers for our direction (send)
 * and the remote's (recv). */
gboolean             punch_noise_handshake_split (PunchNoiseHandshake *self,
                                                  PunchNoiseCipher   **send,
                                                  PunchNoiseCipher   **recv,
                                                  GError             **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchNoiseHandshake, punch_noise_handshake_free)

G_END_DECLS
