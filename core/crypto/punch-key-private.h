/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Crypto internals shared with the security layer (TLS needs the EVP_PKEYs
 * to build and check its certificates) and with the envelope code. */

#include <openssl/evp.h>

#include "punch-private-key.h"
#include "punch-public-key.h"

G_BEGIN_DECLS

/* Longest signature any supported key produces (RSA-8192: 1024 bytes). */
#define PUNCH_SIGNATURE_MAX_LEN 1024

/* (transfer none): the key stays owned by @self; do not modify it. */
EVP_PKEY       *punch_public_key_get_evp (PunchPublicKey *self);
EVP_PKEY       *punch_private_key_get_evp (PunchPrivateKey *self);

/* Wraps the public half of an Ed25519, secp256k1, ECDSA (P-256/384/521) or
 * RSA (2048 to 8192 bits) key. @pkey is not kept (the result holds its own
 * public-only copy); the caller keeps ownership. */
PunchPublicKey *punch_public_key_new_from_evp (EVP_PKEY *pkey, GError **error);

/* Builds a key from a PublicKey message's two fields, as found inside an
 * already decoded message (e.g. the Envelope's public_key). */
PunchPublicKey *punch_public_key_new_from_data (PunchKeyType  type,
                                                const guint8 *data,
                                                gsize         len,
                                                GError      **error);

/* (transfer none): the PublicKey message's Data field. */
GBytes         *punch_public_key_get_data (PunchPublicKey *self);

G_END_DECLS
