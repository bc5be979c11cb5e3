/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-hole-punch.h"
#include "punch-host.h"
#include "punch-identify-service.h"

G_BEGIN_DECLS

#define PUNCH_DCUTR_PROTOCOL      "/libp2p/dcutr"
#define PUNCH_DCUTR_MAX_MESSAGE   4096
/* B tries CONNECT/SYNC this many times (spec: retry twice). */
#define PUNCH_DCUTR_MAX_ATTEMPTS  3

#define PUNCH_TYPE_DCUTR_SERVICE (punch_dcutr_service_get_type ())
G_DECLARE_FINAL_TYPE (PunchDcutrService, punch_dcutr_service, PUNCH, DCUTR_SERVICE, GObject)

/**
 * PunchDcutrService:
 *
 * Direct Connection Upgrade through Relay (libp2p/specs relay/DCUtR.md).
 * On every inbound relayed connection (role B) it sends CONNECT at once,
 * beside identify; once both are in, a peer with public addresses first
 * gets a direct dial (connection reversal), then up to three CONNECT/SYNC
 * exchanges end in a TCP simultaneous open. It answers the peer's exchanges on outbound
 * relayed connections (role A). A direct connection replaces the relayed one,
 * which is closed after a grace period.
 *
 * A #GListModel of #PunchHolePunch via punch_dcutr_service_get_punches().
 *
 * Properties: "enabled" (start punches as B; default TRUE), "direct-dial-timeout"
 *   (ms, default 5000), "relay-grace" (s before the relayed connection is
 *   closed after a success, default 5).
 * Signals:
 * - "punch-started" (PunchHolePunch *)
 * - "punch-finished" (PunchHolePunch *)
 */
PunchDcutrService *punch_dcutr_service_new (PunchHost *host, PunchIdentifyService *identify);
/* (element-type PunchHolePunch) */
GListModel        *punch_dcutr_service_get_punches (PunchDcutrService *self);
/* Our candidate addresses for CONNECT: observed and listen addresses that
 * are public, TCP only, not relayed. (transfer full) (element-type PunchMultiaddr) */
GPtrArray         *punch_dcutr_service_get_candidate_addrs (PunchDcutrService *self);

G_END_DECLS
