/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "punch-cli-output.h"
#include "punch-forward-listener.h"
#include "punch-forward-service.h"

G_BEGIN_DECLS

/*
 * Port forwarding in the CLI (docs/cli-events.md, docs/forward-protocol.md):
 * `listen --expose NAME=HOST:PORT --allow PEER_ID` and `forward ADDR NAME
 * --local HOST:PORT`. Prints "expose", "forwarding", "forward-open" and
 * "forward" per forwarded stream, "redial" and "reconnected".
 */
typedef struct _PunchCliForward PunchCliForward;

/* Checks --expose and --allow values before anything starts (usage errors). */
gboolean         punch_cli_forward_check_args (const char * const *expose,
                                               const char * const *allow,
                                               GError            **error);

PunchCliForward *punch_cli_forward_new (PunchCliOutput *out,
                                        PunchHost      *host);
/* Exposes each "NAME=HOST:PORT" of @expose to every "PEER_ID" of @allow
 * and to the "NAME:PEER_ID" ones naming it. */
gboolean         punch_cli_forward_expose (PunchCliForward    *self,
                                           const char * const *expose,
                                           const char * const *allow,
                                           GError            **error);
/* Listens on @local ("HOST:PORT", port 0 picks one) and forwards each
 * accepted connection to @peer_id's @name; prints "forwarding". With
 * @redial, a connection accepted while the peer is not connected waits
 * while @redial is dialed again (with a backoff). */
gboolean         punch_cli_forward_open (PunchCliForward *self,
                                         PunchPeerId     *peer_id,
                                         const char      *name,
                                         const char      *local,
                                         PunchMultiaddr  *redial,
                                         GError         **error);
/* Stops listening, resets what is still forwarded, prints nothing more. */
void             punch_cli_forward_free (PunchCliForward *self);

G_END_DECLS
