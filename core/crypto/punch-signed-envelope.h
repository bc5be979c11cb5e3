/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "punch-private-key.h"

G_BEGIN_DECLS

/* Signed envelopes (RFC 0002): relay reservation vouchers and peer records. */
#define PUNCH_ENVELOPE_DOMAIN_PEER_RECORD "libp2p-peer-record"
#define PUNCH_ENVELOPE_DOMAIN_RELAY_RSVP  "libp2p-relay-rsvp"

#define PUNCH_ENVELOPE_MAX_LEN 8192

#define PUNCH_TYPE_SIGNED_ENVELOPE (punch_signed_envelope_get_type ())
G_DECLARE_FINAL_TYPE (PunchSignedEnvelope, punch_signed_envelope, PUNCH, SIGNED_ENVELOPE, GObject)

/* Parses an Envelope and verifies its signature under @domain. */
PunchSignedEnvelope *punch_signed_envelope_open (const guint8 *data,
                                                 gsize         len,
                                                 const char   *domain,
                                                 GError      **error);
/* Signs @payload and returns the encoded Envelope. */
GBytes              *punch_signed_envelope_seal (PunchPrivateKey *key,
                                                 const char      *domain,
                                                 const guint8    *payload_type,
                                                 gsize            payload_type_len,
                                                 GBytes          *payload,
                                                 GError         **error);
/* (transfer none) */
PunchPublicKey      *punch_signed_envelope_get_public_key (PunchSignedEnvelope *self);
GBytes              *punch_signed_envelope_get_payload_type (PunchSignedEnvelope *self);
GBytes              *punch_signed_envelope_get_payload (PunchSignedEnvelope *self);

G_END_DECLS
