/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "punch-peer-id.h"

G_BEGIN_DECLS

typedef enum
{
  PUNCH_KEY_TYPE_RSA = 0,
  PUNCH_KEY_TYPE_ED25519 = 1,
  PUNCH_KEY_TYPE_SECP256K1 = 2,
  PUNCH_KEY_TYPE_ECDSA = 3,
} PunchKeyType;

/* Encoded PublicKey protobufs longer than this are refused (RSA-8192 fits). */
#define PUNCH_PUBLIC_KEY_MAX_LEN 2048

#define PUNCH_TYPE_PUBLIC_KEY (punch_public_key_get_type ())
G_DECLARE_FINAL_TYPE (PunchPublicKey, punch_public_key, PUNCH, PUBLIC_KEY, GObject)

/* Parses a libp2p PublicKey protobuf; Ed25519, RSA, secp256k1 and ECDSA. */
PunchPublicKey *punch_public_key_new_from_protobuf (const guint8 *data, gsize len, GError **error);
/* The deterministic PublicKey protobuf encoding. Getters return (transfer
 * none) values owned by the key: take a ref to keep them. */
GBytes         *punch_public_key_get_protobuf (PunchPublicKey *self);
PunchKeyType    punch_public_key_get_key_type (PunchPublicKey *self);
PunchPeerId    *punch_public_key_get_peer_id (PunchPublicKey *self);
/* FALSE with PUNCH_ERROR_BAD_SIGNATURE when the signature does not verify. */
gboolean        punch_public_key_verify (PunchPublicKey *self,
                                         const guint8   *data,
                                         gsize           data_len,
                                         const guint8   *signature,
                                         gsize           signature_len,
                                         GError        **error);
gboolean        punch_public_key_equal (PunchPublicKey *a, PunchPublicKey *b);

G_END_DECLS
