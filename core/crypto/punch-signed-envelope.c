/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-signed-envelope.h"

#include <string.h>

#include "envelope.pb-c.h"
#include "punch-error.h"
#include "punch-key-private.h"
#include "punch-openssl-private.h"
#include "punch-varint.h"

PUNCH_DEFINE_PROTOBUF_CLEANUP (Record__Pb__Envelope, record__pb__envelope)

struct _PunchSignedEnvelope
{
  GObject         parent_instance;

  PunchPublicKey *public_key;
  GBytes         *payload_type;
  GBytes         *payload;
};

G_DEFINE_FINAL_TYPE (PunchSignedEnvelope, punch_signed_envelope, G_TYPE_OBJECT)

static void
punch_signed_envelope_finalize (GObject *object)
{
  PunchSignedEnvelope *self = PUNCH_SIGNED_ENVELOPE (object);

  g_clear_object (&self->public_key);
  g_clear_pointer (&self->payload_type, g_bytes_unref);
  g_clear_pointer (&self->payload, g_bytes_unref);

  G_OBJECT_CLASS (punch_signed_envelope_parent_class)->finalize (object);
}

static void
punch_signed_envelope_class_init (PunchSignedEnvelopeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = punch_signed_envelope_finalize;
}

static void
punch_signed_envelope_init (PunchSignedEnvelope *self)
{
}

static void
append_field (GByteArray *buf, const guint8 *data, gsize len)
{
  punch_varint_append (buf, len);
  if (len > 0)
    g_byte_array_append (buf, data, (guint) len);
}

/* What is signed (RFC 0002): each of domain, payload type and payload
 * prefixed with its uvarint length, so no field can bleed into the next. */
static GByteArray *
unsigned_bytes (const char   *domain,
                const guint8 *payload_type,
                gsize         payload_type_len,
                const guint8 *payload,
                gsize         payload_len)
{
  GByteArray *buf = g_byte_array_sized_new ((guint) (strlen (domain) + payload_type_len +
                                                     payload_len + 3 * PUNCH_VARINT_MAX_LEN));

  append_field (buf, (const guint8 *) domain, strlen (domain));
  append_field (buf, payload_type, payload_type_len);
  append_field (buf, payload, payload_len);
  return buf;
}

/**
 * punch_signed_envelope_open:
 * @data: (array length=len): an encoded Envelope
 * @len: length of @data, at most %PUNCH_ENVELOPE_MAX_LEN
 * @domain: the signature domain the caller expects, e.g.
 *   %PUNCH_ENVELOPE_DOMAIN_PEER_RECORD
 * @error: return location for a #GError
 *
 * Parses an Envelope and checks its signature by its own public key under
 * @domain. Whether that key is the one the caller expected (e.g. the relay's)
 * is left to the caller.
 *
 * Returns: (transfer full) (nullable): the envelope, or %NULL with
 *   %PUNCH_ERROR_TOO_LARGE, %PUNCH_ERROR_MALFORMED, %PUNCH_ERROR_UNSUPPORTED
 *   (key type) or %PUNCH_ERROR_BAD_SIGNATURE
 */
PunchSignedEnvelope *
punch_signed_envelope_open (const guint8 *data,
                            gsize         len,
                            const char   *domain,
                            GError      **error)
{
  g_autoptr (Record__Pb__Envelope) msg = NULL;
  g_autoptr (PunchPublicKey) key = NULL;
  g_autoptr (GByteArray) signed_bytes = NULL;
  g_autoptr (GError) local_error = NULL;
  PunchSignedEnvelope *self;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (domain != NULL, NULL);

  if (len > PUNCH_ENVELOPE_MAX_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "signed envelope of %" G_GSIZE_FORMAT " bytes is over the %d-byte limit",
                   len, PUNCH_ENVELOPE_MAX_LEN);
      return NULL;
    }
  msg = record__pb__envelope__unpack (NULL, len, data);
  if (msg == NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "malformed signed envelope (%" G_GSIZE_FORMAT " bytes)", len);
      return NULL;
    }
  if (msg->public_key == NULL)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                           "signed envelope carries no public key");
      return NULL;
    }
  key = punch_public_key_new_from_data ((PunchKeyType) msg->public_key->type,
                                        msg->public_key->data.data,
                                        msg->public_key->data.len, &local_error);
  if (key == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "signed envelope's public key: ");
      return NULL;
    }
  if (!msg->has_signature || msg->signature.len == 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_BAD_SIGNATURE,
                           "signed envelope carries no signature");
      return NULL;
    }

  /* Absent proto3 bytes fields read as empty, as the signer saw them. */
  signed_bytes = unsigned_bytes (domain,
                                 msg->has_payload_type ? msg->payload_type.data : NULL,
                                 msg->has_payload_type ? msg->payload_type.len : 0,
                                 msg->has_payload ? msg->payload.data : NULL,
                                 msg->has_payload ? msg->payload.len : 0);
  if (!punch_public_key_verify (key, signed_bytes->data, signed_bytes->len,
                                msg->signature.data, msg->signature.len, &local_error))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "signed envelope (domain \"%s\"): ", domain);
      return NULL;
    }

  self = g_object_new (PUNCH_TYPE_SIGNED_ENVELOPE, NULL);
  self->public_key = g_steal_pointer (&key);
  self->payload_type = msg->has_payload_type
                         ? g_bytes_new (msg->payload_type.data, msg->payload_type.len)
                         : g_bytes_new (NULL, 0);
  self->payload = msg->has_payload
                    ? g_bytes_new (msg->payload.data, msg->payload.len)
                    : g_bytes_new (NULL, 0);
  return self;
}

/**
 * punch_signed_envelope_seal:
 * @key: the signing identity
 * @domain: the signature domain, e.g. %PUNCH_ENVELOPE_DOMAIN_PEER_RECORD
 * @payload_type: (array length=payload_type_len): the payload's type (a multicodec)
 * @payload_type_len: length of @payload_type
 * @payload: the payload
 * @error: return location for a #GError
 *
 * Signs @payload under @domain and encodes the Envelope as go-libp2p does
 * (fields in tag order, empty fields left out).
 *
 * Returns: (transfer full) (nullable): the encoded Envelope, or %NULL with
 *   %PUNCH_ERROR_TOO_LARGE (over %PUNCH_ENVELOPE_MAX_LEN) or %PUNCH_ERROR_CRYPTO
 */
GBytes *
punch_signed_envelope_seal (PunchPrivateKey *key,
                            const char      *domain,
                            const guint8    *payload_type,
                            gsize            payload_type_len,
                            GBytes          *payload,
                            GError         **error)
{
  Record__Pb__Envelope msg = RECORD__PB__ENVELOPE__INIT;
  Crypto__Pb__PublicKey public_key = CRYPTO__PB__PUBLIC_KEY__INIT;
  PunchPublicKey *ours;
  GBytes *key_data;
  g_autoptr (GByteArray) signed_bytes = NULL;
  g_autoptr (GBytes) signature = NULL;
  const guint8 *payload_data;
  gsize payload_len;
  gsize packed_len;
  guint8 *buf;

  g_return_val_if_fail (PUNCH_IS_PRIVATE_KEY (key), NULL);
  g_return_val_if_fail (domain != NULL, NULL);
  g_return_val_if_fail (payload_type != NULL || payload_type_len == 0, NULL);
  g_return_val_if_fail (payload != NULL, NULL);

  payload_data = g_bytes_get_data (payload, &payload_len);
  /* Refuse early what could never fit, before hashing a huge payload. */
  if (payload_len > PUNCH_ENVELOPE_MAX_LEN || payload_type_len > PUNCH_ENVELOPE_MAX_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "payload of %" G_GSIZE_FORMAT " bytes cannot fit a %d-byte signed envelope",
                   payload_len, PUNCH_ENVELOPE_MAX_LEN);
      return NULL;
    }

  signed_bytes = unsigned_bytes (domain, payload_type, payload_type_len, payload_data, payload_len);
  signature = punch_private_key_sign (key, signed_bytes->data, signed_bytes->len, error);
  if (signature == NULL)
    return NULL;

  ours = punch_private_key_get_public_key (key);
  public_key.type = (Crypto__Pb__KeyType) punch_public_key_get_key_type (ours);
  key_data = punch_public_key_get_data (ours);
  public_key.data.data = (guint8 *) g_bytes_get_data (key_data, NULL);
  public_key.data.len = g_bytes_get_size (key_data);

  msg.public_key = &public_key;
  /* proto3 leaves empty bytes fields off the wire: do the same, so the
   * encoding matches go's and js's byte for byte. */
  msg.has_payload_type = payload_type_len > 0;
  msg.payload_type.data = (guint8 *) payload_type;
  msg.payload_type.len = payload_type_len;
  msg.has_payload = payload_len > 0;
  msg.payload.data = (guint8 *) payload_data;
  msg.payload.len = payload_len;
  msg.has_signature = TRUE;
  msg.signature.data = (guint8 *) g_bytes_get_data (signature, NULL);
  msg.signature.len = g_bytes_get_size (signature);

  packed_len = record__pb__envelope__get_packed_size (&msg);
  if (packed_len > PUNCH_ENVELOPE_MAX_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "signed envelope of %" G_GSIZE_FORMAT " bytes is over the %d-byte limit",
                   packed_len, PUNCH_ENVELOPE_MAX_LEN);
      return NULL;
    }
  buf = g_malloc (packed_len);
  record__pb__envelope__pack (&msg, buf);
  return g_bytes_new_take (buf, packed_len);
}

/**
 * punch_signed_envelope_get_public_key:
 * @self: a #PunchSignedEnvelope
 *
 * Returns: (transfer none): the key that signed the envelope
 */
PunchPublicKey *
punch_signed_envelope_get_public_key (PunchSignedEnvelope *self)
{
  g_return_val_if_fail (PUNCH_IS_SIGNED_ENVELOPE (self), NULL);

  return self->public_key;
}

/**
 * punch_signed_envelope_get_payload_type:
 * @self: a #PunchSignedEnvelope
 *
 * Returns: (transfer none): the payload type (empty when absent)
 */
GBytes *
punch_signed_envelope_get_payload_type (PunchSignedEnvelope *self)
{
  g_return_val_if_fail (PUNCH_IS_SIGNED_ENVELOPE (self), NULL);

  return self->payload_type;
}

/**
 * punch_signed_envelope_get_payload:
 * @self: a #PunchSignedEnvelope
 *
 * Returns: (transfer none): the signed payload (empty when absent)
 */
GBytes *
punch_signed_envelope_get_payload (PunchSignedEnvelope *self)
{
  g_return_val_if_fail (PUNCH_IS_SIGNED_ENVELOPE (self), NULL);

  return self->payload;
}
