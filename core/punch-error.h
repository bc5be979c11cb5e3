/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * PUNCH_ERROR:
 *
 * Error domain for libp2p protocol failures: malformed input from the wire or
 * the user, limits, authentication. Transport conditions (refused, reset,
 * timed out, closed) use %G_IO_ERROR instead.
 */
#define PUNCH_ERROR (punch_error_quark ())

/**
 * PunchError:
 * @PUNCH_ERROR_MALFORMED: input does not follow its encoding
 * @PUNCH_ERROR_TRUNCATED: input ended before a complete value; more bytes may help
 * @PUNCH_ERROR_TOO_LARGE: a length or count is over its limit
 * @PUNCH_ERROR_UNSUPPORTED: a well-formed value we do not implement (unknown code, key type)
 * @PUNCH_ERROR_BAD_SIGNATURE: a signature did not verify
 * @PUNCH_ERROR_PEER_ID_MISMATCH: the remote authenticated as another peer than expected
 * @PUNCH_ERROR_NEGOTIATION_FAILED: multistream-select found no common protocol
 * @PUNCH_ERROR_PROTOCOL: the remote broke a protocol's rules
 * @PUNCH_ERROR_CRYPTO: the crypto library failed
 * @PUNCH_ERROR_KEY_FILE: an identity key file is unusable (permissions, content)
 * @PUNCH_ERROR_LIMIT: a local resource limit was hit (streams, connections, backlog)
 * @PUNCH_ERROR_RELAY: a relay refused; the message carries the status code's meaning
 * @PUNCH_ERROR_NO_ADDRESSES: there is no address to dial or advertise
 */
typedef enum
{
  PUNCH_ERROR_MALFORMED,
  PUNCH_ERROR_TRUNCATED,
  PUNCH_ERROR_TOO_LARGE,
  PUNCH_ERROR_UNSUPPORTED,
  PUNCH_ERROR_BAD_SIGNATURE,
  PUNCH_ERROR_PEER_ID_MISMATCH,
  PUNCH_ERROR_NEGOTIATION_FAILED,
  PUNCH_ERROR_PROTOCOL,
  PUNCH_ERROR_CRYPTO,
  PUNCH_ERROR_KEY_FILE,
  PUNCH_ERROR_LIMIT,
  PUNCH_ERROR_RELAY,
  PUNCH_ERROR_NO_ADDRESSES,
} PunchError;

GQuark punch_error_quark (void);

gboolean punch_set_openssl_error (GError **error, const char *what);

G_END_DECLS
