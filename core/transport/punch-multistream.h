/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PUNCH_MULTISTREAM_PROTOCOL "/multistream/1.0.0"
/* Messages longer than this (protocol IDs included) are refused. */
#define PUNCH_MULTISTREAM_MAX_MESSAGE 1024

/* Initiator: sends the header and the first proposal in one write (0-RTT),
 * then tries the others in order after each "na". Returns the accepted
 * protocol; PUNCH_ERROR_NEGOTIATION_FAILED when none is. */
void   punch_multistream_select_async  (GIOStream          *stream,
                                        const char * const *protocols,
                                        GCancellable       *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer            user_data);
char  *punch_multistream_select_finish (GIOStream    *stream,
                                        GAsyncResult *result,
                                        GError      **error);

/* Responder: answers proposals with "na" until one is in @supported, echoes
 * it and returns it. Also answers "ls" with the supported list. Gives up
 * after 32 proposals. */
void   punch_multistream_handle_async  (GIOStream          *stream,
                                        const char * const *supported,
                                        GCancellable       *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer            user_data);
char  *punch_multistream_handle_finish (GIOStream    *stream,
                                        GAsyncResult *result,
                                        GError      **error);

G_END_DECLS
