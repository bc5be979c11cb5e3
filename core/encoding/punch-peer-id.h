/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * PunchPeerId:
 *
 * An immutable, reference-counted libp2p peer ID: the multihash of an encoded
 * PublicKey (identity multihash when that is at most 42 bytes, sha2-256
 * otherwise). Prints as base58btc ("12D3KooW…", "Qm…"); parses that and the
 * CIDv1 form ("bafz…", multicodec libp2p-key 0x72).
 *
 * Deriving an ID from a key lives with the keys (punch_public_key_get_peer_id()).
 */
typedef struct _PunchPeerId PunchPeerId;

#define PUNCH_TYPE_PEER_ID (punch_peer_id_get_type ())
GType punch_peer_id_get_type (void) G_GNUC_CONST;

/* Peer ID bytes longer than this are refused (sha2-256 IDs are 34 bytes,
 * identity Ed25519/secp256k1 IDs up to 44). */
#define PUNCH_PEER_ID_MAX_LEN 128

PunchPeerId  *punch_peer_id_new_from_bytes (const guint8 *data, gsize len, GError **error);
PunchPeerId  *punch_peer_id_new_from_multihash (GBytes *multihash, GError **error);
PunchPeerId  *punch_peer_id_parse (const char *text, GError **error);

PunchPeerId  *punch_peer_id_ref   (PunchPeerId *self);
void          punch_peer_id_unref (PunchPeerId *self);

const guint8 *punch_peer_id_get_bytes (const PunchPeerId *self, gsize *len);
GBytes       *punch_peer_id_to_bytes  (const PunchPeerId *self);
/* base58btc; the returned string belongs to @self */
const char   *punch_peer_id_to_string (const PunchPeerId *self);
char         *punch_peer_id_to_cid_string (const PunchPeerId *self);
/* The encoded PublicKey protobuf inlined in an identity multihash, or NULL
 * for hashed (Qm…) IDs. */
GBytes       *punch_peer_id_get_inlined_public_key (const PunchPeerId *self);

gboolean      punch_peer_id_equal (gconstpointer a, gconstpointer b);
guint         punch_peer_id_hash  (gconstpointer self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchPeerId, punch_peer_id_unref)

G_END_DECLS
