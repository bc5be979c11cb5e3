/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "punch-host.h"

G_BEGIN_DECLS

#define PUNCH_IDENTIFY_PROTOCOL      "/ipfs/id/1.0.0"
#define PUNCH_IDENTIFY_PUSH_PROTOCOL "/ipfs/id/push/1.0.0"
/* We send one message of at most 4 KiB (rust reads only one); we read until
 * EOF, merging up to 10 messages of at most 8 KiB each (as go and js do). */
#define PUNCH_IDENTIFY_MAX_SEND      4096
#define PUNCH_IDENTIFY_MAX_MESSAGE   8192
#define PUNCH_IDENTIFY_MAX_MESSAGES  10

#define PUNCH_TYPE_IDENTIFY_SERVICE (punch_identify_service_get_type ())
G_DECLARE_FINAL_TYPE (PunchIdentifyService, punch_identify_service, PUNCH, IDENTIFY_SERVICE, GObject)

/**
 * PunchIdentifyService:
 *
 * Answers /ipfs/id/1.0.0 and accepts /ipfs/id/push/1.0.0; identifies every
 * new connection of the host (filling the peer store and the connection's
 * observed address) and pushes to connected peers when our addresses or
 * protocols change.
 *
 * Signals:
 * - "identified" (PunchConnection *connection, PunchPeerInfo *info)
 * - "failed" (PunchConnection *connection, GError *error)
 */
PunchIdentifyService *punch_identify_service_new (PunchHost *host);

/* Extra addresses to advertise besides the host's listen addresses (e.g.
 * relayed addresses). (element-type PunchMultiaddr) */
void                  punch_identify_service_set_extra_addrs (PunchIdentifyService *self,
                                                              GPtrArray            *addrs);

void                  punch_identify_service_identify_async  (PunchIdentifyService *self,
                                                              PunchConnection      *connection,
                                                              GCancellable         *cancellable,
                                                              GAsyncReadyCallback   callback,
                                                              gpointer              user_data);
PunchPeerInfo        *punch_identify_service_identify_finish (PunchIdentifyService *self,
                                                              GAsyncResult         *result,
                                                              GError              **error);
/* Sends an identify push to every connected peer. */
void                  punch_identify_service_push (PunchIdentifyService *self);

G_END_DECLS
