/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* base58btc (Bitcoin alphabet) and base32 (RFC 4648, lowercase, no padding),
 * the two encodings libp2p peer IDs are printed with. Decoders bound their
 * input length (@max_input) so that no caller allocates by an attacker's size. */
#define PUNCH_MULTIBASE_MAX_INPUT 4096

char   *punch_base58_encode (const guint8 *data, gsize len);
GBytes *punch_base58_decode (const char *text, GError **error);
char   *punch_base32_encode (const guint8 *data, gsize len);
GBytes *punch_base32_decode (const char *text, GError **error);

/* Multibase: a one-character prefix naming the base: 'z' base58btc, 'b'/'B'
 * base32 (lower/upper), 'c'/'C' padded base32, 'f'/'F' base16, 'm'/'M'
 * base64 (unpadded/padded), 'u'/'U' base64url (unpadded/padded). Decoders are
 * strict: wrong alphabet, bad length or padding, non-zero trailing bits fail
 * with PUNCH_ERROR_MALFORMED; an unknown prefix with PUNCH_ERROR_UNSUPPORTED. */
char   *punch_multibase_encode (char prefix, const guint8 *data, gsize len);
GBytes *punch_multibase_decode (const char *text, GError **error);

G_END_DECLS
