/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "punch-node.h"

G_BEGIN_DECLS

#define PUNCH_DIAGNOSTICS_SCHEMA "punchline-diagnostics/1"

/*
 * The support bundle a maintainer reads (schema: docs/diagnostics.md):
 * report.json, rtt.csv and summary.txt in a new directory
 * punchline-diagnostics-<UTC time> under the chosen one. It holds our peer
 * ID and public key material never: no private key.
 */

/* (transfer full) */
JsonNode *punch_diagnostics_build_report  (PunchNode *node);
/* "series,peer_id,relay_peer_id,time,time_unix_us,rtt_ms" rows. (transfer full) */
char     *punch_diagnostics_build_csv     (PunchNode *node);
/* (transfer full) */
char     *punch_diagnostics_build_summary (PunchNode *node);

void      punch_diagnostics_write_async  (PunchNode          *node,
                                          GFile              *directory,
                                          GCancellable       *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer            user_data);
/* Returns the bundle's directory (transfer full). */
GFile    *punch_diagnostics_write_finish (PunchNode    *node,
                                          GAsyncResult *result,
                                          GError      **error);

G_END_DECLS
