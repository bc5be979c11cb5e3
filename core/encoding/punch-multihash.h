/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  PUNCH_MULTIHASH_IDENTITY = 0x00,
  PUNCH_MULTIHASH_SHA2_256 = 0x12,
} PunchMultihashCode;

GBytes  *punch_multihash_identity (const guint8 *data, gsize len);
GBytes  *punch_multihash_sha2_256 (const guint8 *data, gsize len);
/* Parses and validates a multihash that must span exactly @len bytes.
 * Identity digests are capped at 42 bytes' worth of key (as peer IDs are) only
 * by callers; here the digest length must match the header. */
gboolean punch_multihash_parse (const guint8        *data,
                                gsize                len,
                                PunchMultihashCode  *code,
                                const guint8       **digest,
                                gsize               *digest_len,
                                GError             **error);

G_END_DECLS
