/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PUNCH_TYPE_YAMUX_STREAM (punch_yamux_stream_get_type ())
G_DECLARE_FINAL_TYPE (PunchYamuxStream, punch_yamux_stream, PUNCH, YAMUX_STREAM, GIOStream)

/**
 * PunchYamuxStream:
 *
 * One Yamux stream as a #GIOStream: async reads return buffered data (EOF
 * after the remote's FIN); async writes wait for send window. Closing the
 * output stream sends FIN (half-close); closing the #GIOStream closes both
 * directions. punch_yamux_stream_reset() sends RST; a stream reset by the
 * remote fails reads and writes with G_IO_ERROR_CONNECTION_CLOSED and a
 * message saying it was reset.
 *
 * Only the async read/write/close entry points are supported: the streams
 * live on the main loop and never block.
 */
guint32  punch_yamux_stream_get_id (PunchYamuxStream *self);
void     punch_yamux_stream_reset (PunchYamuxStream *self);
/* Bytes received and sent on this stream so far. */
guint64  punch_yamux_stream_get_bytes_received (PunchYamuxStream *self);
guint64  punch_yamux_stream_get_bytes_sent (PunchYamuxStream *self);

G_END_DECLS
