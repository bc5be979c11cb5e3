/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* What PunchYamuxSession and PunchYamuxStream share. Tests may include it to
 * look at flow-control state; nothing else should. */

#include "punch-yamux-session.h"
#include "punch-yamux-stream.h"

G_BEGIN_DECLS

#define PUNCH_YAMUX_HEADER_SIZE   12
#define PUNCH_YAMUX_VERSION       0
/* Largest Data payload we put in one frame (go and js use the same). */
#define PUNCH_YAMUX_MAX_FRAME     (64 * 1024)

typedef enum
{
  PUNCH_YAMUX_TYPE_DATA = 0,
  PUNCH_YAMUX_TYPE_WINDOW_UPDATE = 1,
  PUNCH_YAMUX_TYPE_PING = 2,
  PUNCH_YAMUX_TYPE_GO_AWAY = 3,
} PunchYamuxType;

typedef enum
{
  PUNCH_YAMUX_FLAG_SYN = 0x1,
  PUNCH_YAMUX_FLAG_ACK = 0x2,
  PUNCH_YAMUX_FLAG_FIN = 0x4,
  PUNCH_YAMUX_FLAG_RST = 0x8,
} PunchYamuxFlags;

typedef enum
{
  PUNCH_YAMUX_GO_AWAY_NORMAL = 0,
  PUNCH_YAMUX_GO_AWAY_PROTOCOL_ERROR = 1,
  PUNCH_YAMUX_GO_AWAY_INTERNAL_ERROR = 2,
} PunchYamuxGoAway;

struct _PunchYamuxStream
{
  GIOStream parent_instance;

  /* Not owned: the session holds the stream while it is in its table and
   * clears this pointer when it lets go (both directions done, reset, or the
   * session ended), so there is no reference cycle. */
  PunchYamuxSession *session;
  guint32 id;
  guint outbound : 1;
  guint acked : 1;
  guint local_fin : 1;     /* we sent FIN (our output is closed) */
  guint remote_fin : 1;    /* the remote sent FIN */
  guint input_closed : 1;  /* the application discards further input */
  guint reset : 1;         /* RST sent or received: buffered data dropped */

  GInputStream *input;
  GOutputStream *output;

  /* Failure seen by reads (after the buffer drains) and writes. */
  GError *error;

  /* Receive side. Invariant: recv_window_max == recv_window (credit left to
   * the remote) + bytes received but not yet read + consumed. */
  GByteArray *recv_buf;
  gsize recv_off;
  guint32 recv_window;
  guint32 recv_window_max;
  guint32 consumed;
  gint64 epoch_start;      /* monotonic time of the last window update */

  GTask *read_task;
  guint8 *read_buf;
  gsize read_count;
  gsize read_filled;       /* bytes already copied into read_buf */
  gboolean read_deferred;  /* the session completes the read after its batch */
  GSource *read_cancel;

  /* Send side. */
  guint64 send_window;
  GTask *write_task;
  const guint8 *write_buf;
  gsize write_count;
  GSource *write_cancel;
  gboolean waiting_writable;

  guint64 bytes_received;
  guint64 bytes_sent;
};

/* Stream side, called by the session. */
PunchYamuxStream *punch_yamux_stream_new_internal (PunchYamuxSession *session,
                                                   guint32            id,
                                                   gboolean           outbound);
gsize    punch_yamux_stream_buffered (PunchYamuxStream *self);
/* Payload for the stream. A pending read is filled in place and completed
 * by punch_yamux_stream_complete_read() once the session has parsed all it
 * read, so one read can take several frames without an extra copy. */
void     punch_yamux_stream_push_data (PunchYamuxStream *self,
                                       const guint8     *data,
                                       gsize             len);
void     punch_yamux_stream_complete_read (PunchYamuxStream *self);
void     punch_yamux_stream_remote_fin (PunchYamuxStream *self);
void     punch_yamux_stream_remote_reset (PunchYamuxStream *self);
void     punch_yamux_stream_add_send_window (PunchYamuxStream *self,
                                             guint32           delta);
/* The session stopped holding the stream; @error fails what is pending. */
void     punch_yamux_stream_detach (PunchYamuxStream *self,
                                    const GError     *error);
/* Retry a write that waited for window or for room in the session's queue. */
void     punch_yamux_stream_try_write (PunchYamuxStream *self);

/* Session side, called by streams. */
void     punch_yamux_session_queue_frame (PunchYamuxSession *self,
                                          PunchYamuxType     type,
                                          guint16            flags,
                                          guint32            stream_id,
                                          guint32            length,
                                          const guint8      *payload);
void     punch_yamux_session_flush (PunchYamuxSession *self);
void     punch_yamux_session_defer_read (PunchYamuxSession *self,
                                         PunchYamuxStream  *stream);
/* FALSE when the outgoing queue is full; the stream is then retried once it
 * drains (punch_yamux_stream_try_write()). */
gboolean punch_yamux_session_reserve_write (PunchYamuxSession *self,
                                            PunchYamuxStream  *stream);
void     punch_yamux_session_cancel_wait (PunchYamuxSession *self,
                                          PunchYamuxStream  *stream);
/* Bytes waiting to be written or being written (for tests). */
gsize    punch_yamux_session_get_queued_bytes (PunchYamuxSession *self);
/* Drop the stream from the session if both directions are done or it was
 * reset. */
void     punch_yamux_session_stream_update (PunchYamuxSession *self,
                                            PunchYamuxStream  *stream);

G_END_DECLS
