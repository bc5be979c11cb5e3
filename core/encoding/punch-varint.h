/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* libp2p caps unsigned varints at 9 bytes (63 bits of value). */
#define PUNCH_VARINT_MAX_LEN 9

gsize    punch_varint_encode (guint64 value, guint8 out[PUNCH_VARINT_MAX_LEN]);
gsize    punch_varint_size   (guint64 value);
/* Fails with PUNCH_ERROR_TRUNCATED when @len ends inside the varint,
 * PUNCH_ERROR_MALFORMED for an overlong (non-minimal) encoding and
 * PUNCH_ERROR_TOO_LARGE for more than 9 bytes. */
gboolean punch_varint_decode (const guint8 *buf,
                              gsize         len,
                              guint64      *value,
                              gsize        *consumed,
                              GError      **error);
/* Appends the varint to @array. */
void     punch_varint_append (GByteArray *array, guint64 value);

G_END_DECLS
