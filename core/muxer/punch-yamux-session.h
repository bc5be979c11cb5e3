/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-yamux-stream.h"

G_BEGIN_DECLS

#define PUNCH_YAMUX_PROTOCOL "/yamux/1.0.0"
#define PUNCH_YAMUX_INITIAL_WINDOW (256 * 1024)
#define PUNCH_YAMUX_MAX_WINDOW     (16 * 1024 * 1024)

#define PUNCH_TYPE_YAMUX_SESSION (punch_yamux_session_get_type ())
G_DECLARE_FINAL_TYPE (PunchYamuxSession, punch_yamux_session, PUNCH, YAMUX_SESSION, GObject)

/**
 * PunchYamuxSession:
 *
 * Yamux over any #GIOStream (normally a secured connection). The client uses
 * odd stream IDs, the server even ones. Flow control per stream: 256 KiB
 * initial window, grown up to 16 MiB while the reader keeps up; a slow reader
 * stops the sender, never grows our memory.
 *
 * Properties: "is-client", "keepalive-interval" (seconds, 0 = off, default 30),
 *   "max-streams" (inbound, default 1000), "accept-backlog" (unacknowledged
 *   outbound streams, default 256), "rtt" (last keepalive/ping RTT in µs),
 *   "n-streams", "closed".
 * Signals:
 * - "stream" (PunchYamuxStream *stream): the remote opened a stream; the
 *   handler takes a reference. Unhandled streams are reset.
 * - "closed" (GError *error): the session ended (GoAway, EOF or error; NULL
 *   error for a clean GoAway/close).
 *
 * Lifetime: once started, the session keeps itself alive until it ends
 * (punch_yamux_session_close_async(), the remote, or an error). It holds each
 * stream until both directions are closed or the stream is reset, so close
 * or reset the streams you are done with. After a GoAway from the remote,
 * opening fails with G_IO_ERROR_CONNECTION_CLOSED and existing streams go
 * on. Protocol violations end the session with a PUNCH_ERROR_PROTOCOL error
 * after sending GoAway (protocol error).
 */
PunchYamuxSession *punch_yamux_session_new (GIOStream *base, gboolean is_client);

/**
 * PunchYamuxSessionOwner:
 * @stream: as the "stream" signal, called just before it
 * @closed: as the "closed" signal, called just before it
 * @rtt: a new "rtt" value, called just before its notify
 *
 * Direct callbacks for the one object that owns a session (the host's
 * connection). Three signal handlers cost about 450 bytes per session,
 * which a relay holding ten thousand connections feels; these cost none.
 */
typedef struct
{
  void (*stream) (PunchYamuxSession *session, PunchYamuxStream *stream, gpointer user_data);
  void (*closed) (PunchYamuxSession *session, const GError *error, gpointer user_data);
  void (*rtt)    (PunchYamuxSession *session, gint64 rtt, gpointer user_data);
} PunchYamuxSessionOwner;

/* Sets or (with NULL) clears the owner; @owner must outlive the session
 * (a static table). */
void               punch_yamux_session_set_owner (PunchYamuxSession            *self,
                                                  const PunchYamuxSessionOwner *owner,
                                                  gpointer                      user_data);
/* Starts reading frames; signals fire from the thread-default main context. */
void               punch_yamux_session_start (PunchYamuxSession *self);

void               punch_yamux_session_open_stream_async  (PunchYamuxSession  *self,
                                                           GCancellable       *cancellable,
                                                           GAsyncReadyCallback callback,
                                                           gpointer            user_data);
PunchYamuxStream  *punch_yamux_session_open_stream_finish (PunchYamuxSession *self,
                                                           GAsyncResult      *result,
                                                           GError           **error);

/* Sends a Ping and returns the round-trip time in microseconds. */
void               punch_yamux_session_ping_async  (PunchYamuxSession  *self,
                                                    GCancellable       *cancellable,
                                                    GAsyncReadyCallback callback,
                                                    gpointer            user_data);
gint64             punch_yamux_session_ping_finish (PunchYamuxSession *self,
                                                    GAsyncResult      *result,
                                                    GError           **error);

/* Sends GoAway (normal), resets open streams, closes the base stream. */
void               punch_yamux_session_close_async  (PunchYamuxSession  *self,
                                                     GCancellable       *cancellable,
                                                     GAsyncReadyCallback callback,
                                                     gpointer            user_data);
gboolean           punch_yamux_session_close_finish (PunchYamuxSession *self,
                                                     GAsyncResult      *result,
                                                     GError           **error);

gboolean           punch_yamux_session_is_closed (PunchYamuxSession *self);
gboolean           punch_yamux_session_get_is_client (PunchYamuxSession *self);
gint64             punch_yamux_session_get_rtt (PunchYamuxSession *self);
guint              punch_yamux_session_get_n_streams (PunchYamuxSession *self);

G_END_DECLS
