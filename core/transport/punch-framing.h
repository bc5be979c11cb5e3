/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Unsigned-varint length-prefixed messages on a stream, as multistream,
 * identify, relay, DCUtR and AutoNAT frame them. Reading never consumes a
 * byte past the message (what follows may belong to another protocol), and a
 * length over @max_len fails with PUNCH_ERROR_TOO_LARGE before anything is
 * allocated. A clean EOF before the first byte fails with
 * G_IO_ERROR_CONNECTION_CLOSED, an EOF inside the message with
 * G_IO_ERROR_PARTIAL_INPUT, a non-minimal length with PUNCH_ERROR_MALFORMED. */
void    punch_framing_read_async  (GInputStream       *stream,
                                   gsize               max_len,
                                   GCancellable       *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer            user_data);
GBytes *punch_framing_read_finish (GInputStream *stream,
                                   GAsyncResult *result,
                                   GError      **error);

/* Writes varint(len) || data as one write. */
void     punch_framing_write_async  (GOutputStream      *stream,
                                     GBytes             *message,
                                     GCancellable       *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer            user_data);
gboolean punch_framing_write_finish (GOutputStream *stream,
                                     GAsyncResult  *result,
                                     GError       **error);

/* varint(len) || data appended to @out */
void     punch_framing_append (GByteArray *out, const guint8 *data, gsize len);

G_END_DECLS
