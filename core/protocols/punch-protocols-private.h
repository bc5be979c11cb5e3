/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * PunchDeadline:
 *
 * A cancellable that fires when @parent is cancelled or when a timer runs
 * out, so one operation can honour both its caller's cancellable and its own
 * protocol timeout. Errors caused by the timer are reported as
 * G_IO_ERROR_TIMED_OUT rather than as a cancellation nobody asked for.
 */
typedef struct _PunchDeadline PunchDeadline;

PunchDeadline *punch_deadline_new             (GCancellable  *parent,
                                               guint          timeout_ms);
GCancellable  *punch_deadline_get_cancellable (PunchDeadline *self);
gboolean       punch_deadline_expired         (PunchDeadline *self);
/* Re-arms the timer (idle timeouts); no effect once expired. */
void           punch_deadline_restart         (PunchDeadline *self);
/* When @error is a cancellation caused by the timer, replaces it with
 * G_IO_ERROR_TIMED_OUT mentioning @what. */
void           punch_deadline_adjust_error    (PunchDeadline *self,
                                               GError       **error,
                                               const char    *what);
void           punch_deadline_free            (PunchDeadline *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchDeadline, punch_deadline_free)

/* Ends a stream we give up on: a Yamux reset when possible (the peer learns
 * at once that we stopped), a close otherwise. Never blocks. */
void punch_protocol_abort_stream (GIOStream *stream);
/* Closes both directions in the background. */
void punch_protocol_close_stream (GIOStream *stream);

/* A zero-filled block for bulk writes and a scratch block for reads whose
 * content is thrown away (perf): both static, shared and never freed. */
#define PUNCH_PROTOCOL_BLOCK_SIZE (256 * 1024)
const guint8 *punch_protocol_zero_block    (void);
guint8       *punch_protocol_discard_block (void);

G_END_DECLS
