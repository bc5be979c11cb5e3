/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-public-key.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_PRIVATE_KEY (punch_private_key_get_type ())
G_DECLARE_FINAL_TYPE (PunchPrivateKey, punch_private_key, PUNCH, PRIVATE_KEY, GObject)

/* Our own keys are Ed25519. */
PunchPrivateKey *punch_private_key_generate (GError **error);
/* Parses a libp2p PrivateKey protobuf (Ed25519 only; 64-byte and legacy 96-byte forms). */
PunchPrivateKey *punch_private_key_new_from_protobuf (const guint8 *data, gsize len, GError **error);
/* Getters return (transfer none) values owned by the key. */
GBytes          *punch_private_key_get_protobuf (PunchPrivateKey *self);
PunchPublicKey  *punch_private_key_get_public_key (PunchPrivateKey *self);
PunchPeerId     *punch_private_key_get_peer_id (PunchPrivateKey *self);
/* (transfer full): a 64-byte Ed25519 signature */
GBytes          *punch_private_key_sign (PunchPrivateKey *self,
                                         const guint8    *data,
                                         gsize            len,
                                         GError         **error);

/* The identity file: a PrivateKey protobuf, mode 0600. Created (with its
 * folder, 0700) when missing; refused with PUNCH_ERROR_KEY_FILE when group or
 * others can read it, or when it does not parse. */
PunchPrivateKey *punch_private_key_load_or_create (const char *path, GError **error);
/* $XDG_CONFIG_HOME/punchline/identity.key */
char            *punch_private_key_default_path (void);

G_END_DECLS
