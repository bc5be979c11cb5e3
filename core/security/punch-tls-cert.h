/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The libp2p TLS certificate (libp2p/specs tls/tls.md): a self-signed
 * certificate for a throwaway key, carrying the host key and its signature
 * in the libp2p Public Key Extension. Internal to core (OpenSSL types). */

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "punch-private-key.h"
#include "punch-public-key.h"

G_BEGIN_DECLS

#define PUNCH_TLS_EXTENSION_OID "1.3.6.1.4.1.53594.1.1"
#define PUNCH_TLS_SIGNATURE_PREFIX "libp2p-tls-handshake:"
/* Certificates longer than this are refused before parsing; the peer's
 * whole certificate message is bounded by OpenSSL's own limit anyway. */
#define PUNCH_TLS_CERT_MAX_LEN (16 * 1024)

/**
 * punch_tls_cert_generate:
 * @identity: the host key that signs the certificate key
 * @cert_key: (out): the fresh ECDSA P-256 key the certificate is for
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the self-signed certificate, valid
 *   from one hour ago for 100 years, holding only the libp2p extension
 */
X509           *punch_tls_cert_generate (PunchPrivateKey *identity,
                                         EVP_PKEY       **cert_key,
                                         GError         **error);

/**
 * punch_tls_cert_verify:
 * @cert: the one certificate the peer sent
 * @now: the time to check validity against, in seconds since the epoch
 * @error: return location for a #GError
 *
 * Checks the validity dates, the self-signature, the critical extensions and
 * the libp2p extension and its signature.
 *
 * Returns: (transfer full) (nullable): the host key the certificate speaks
 *   for; %NULL with %PUNCH_ERROR_BAD_SIGNATURE, %PUNCH_ERROR_MALFORMED,
 *   %PUNCH_ERROR_PROTOCOL (dates, extensions) or %PUNCH_ERROR_UNSUPPORTED
 */
PunchPublicKey *punch_tls_cert_verify (X509    *cert,
                                       gint64   now,
                                       GError **error);

/* The same on a DER encoding, which must be consumed whole. */
PunchPublicKey *punch_tls_cert_verify_der (const guint8 *der,
                                           gsize         len,
                                           gint64        now,
                                           GError      **error);

/* DER helpers, exposed for the tests and the fuzz target. */
GBytes         *punch_tls_signed_key_encode (GBytes  *public_key,
                                             GBytes  *signature);
gboolean        punch_tls_signed_key_decode (const guint8 *data,
                                             gsize         len,
                                             GBytes      **public_key,
                                             GBytes      **signature,
                                             GError      **error);

G_END_DECLS
