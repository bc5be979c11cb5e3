/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "punch-connection.h"
#include "punch-peer-info.h"
#include "punch-perf-service.h"
#include "punch-public-key.h"

G_BEGIN_DECLS

/*
 * PunchCliOutput:
 *
 * Prints the CLI's events (docs/cli-events.md): one JSON object per line on
 * standard output with --json, else one or a few lines of human text.
 * Standard output is flushed after every event so that a reader on a pipe
 * sees each one when it happens.
 */
typedef struct _PunchCliOutput PunchCliOutput;

PunchCliOutput *punch_cli_output_new (gboolean json);
void            punch_cli_output_free (PunchCliOutput *self);
gboolean        punch_cli_output_is_json (PunchCliOutput *self);

void punch_cli_output_id         (PunchCliOutput  *self,
                                  PunchPeerId     *peer_id,
                                  PunchKeyType     key_type);
/* @addrs: (element-type PunchMultiaddr): listen addresses without /p2p */
void punch_cli_output_listening  (PunchCliOutput  *self,
                                  PunchPeerId     *peer_id,
                                  GPtrArray       *addrs);
void punch_cli_output_connection (PunchCliOutput  *self,
                                  PunchConnection *connection,
                                  gboolean         open,
                                  const GError    *error);
void punch_cli_output_identify   (PunchCliOutput  *self,
                                  PunchConnection *connection,
                                  PunchPeerInfo   *info);
void punch_cli_output_ping       (PunchCliOutput  *self,
                                  PunchPeerId     *peer_id,
                                  guint            seq,
                                  gint64           rtt_us);
/* @role: "client" (we measured) or "server" (a peer measured against us) */
void punch_cli_output_perf       (PunchCliOutput        *self,
                                  PunchPeerId           *peer_id,
                                  const char            *role,
                                  const PunchPerfResult *result);
/* Human text only: the same figures go in the result's members. */
void punch_cli_output_ping_summary (PunchCliOutput *self,
                                    guint           sent,
                                    guint           received,
                                    gint64          rtt_min_us,
                                    gint64          rtt_avg_us,
                                    gint64          rtt_max_us);
/* Human text only: dial's path (@path holds the result's "path",
 * "ms_to_direct", "rtt_relayed_ms", "rtt_direct_ms", "attempts", "remote"
 * and "reason" members). */
void punch_cli_output_path       (PunchCliOutput  *self,
                                  JsonObject      *path);
void punch_cli_output_error      (PunchCliOutput  *self,
                                  const char      *context,
                                  const GError    *error);
/* @error: NULL for success. @extra: (nullable) (transfer none): more members
 * for the result object. */
void punch_cli_output_result     (PunchCliOutput  *self,
                                  const GError    *error,
                                  JsonObject      *extra);

/* For events printed by other files (punch-cli-relay.c): a new object with
 * "time" and "event" members. (transfer full) */
JsonObject *punch_cli_output_event_new (const char     *event);
/* Prints @event with --json, else @human as one line (nothing when NULL). */
void        punch_cli_output_emit      (PunchCliOutput *self,
                                        JsonObject     *event,
                                        const char     *human);

const char *punch_cli_key_type_to_string (PunchKeyType key_type);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchCliOutput, punch_cli_output_free)

G_END_DECLS
