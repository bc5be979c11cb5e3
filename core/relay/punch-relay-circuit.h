/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-peer-id.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_RELAY_CIRCUIT (punch_relay_circuit_get_type ())
G_DECLARE_FINAL_TYPE (PunchRelayCircuit, punch_relay_circuit, PUNCH, RELAY_CIRCUIT, GObject)

/**
 * PunchRelayCircuit:
 *
 * One circuit our relay bridges: bytes flow between the source's hop stream
 * and the destination's stop stream through bounded buffers, counted per
 * direction. When a limit is hit both streams are reset.
 *
 * Properties: "src", "dst" (PunchPeerId), "bytes-to-dst", "bytes-to-src",
 *   "closed" (gboolean), "reason" (why it ended, NULL while open).
 * Signals:
 * - "finished" (const char *reason): both directions ended (reason NULL for a
 *   clean close on both sides)
 */
/**
 * PunchRelayTapFunc:
 * @to_dst: the direction the bytes travel
 *
 * Sees every chunk the circuit forwards, as the relay sees it: for tests
 * that show a relay carries only ciphertext, and for byte-level debugging.
 */
typedef void (*PunchRelayTapFunc) (PunchRelayCircuit *circuit,
                                   gboolean           to_dst,
                                   const guint8      *data,
                                   gsize              len,
                                   gpointer           user_data);

PunchRelayCircuit *punch_relay_circuit_new (PunchPeerId *src,
                                            GIOStream   *src_stream,
                                            PunchPeerId *dst,
                                            GIOStream   *dst_stream,
                                            guint32      limit_duration,
                                            guint64      limit_data);
void               punch_relay_circuit_start (PunchRelayCircuit *self);
/* Set before punch_relay_circuit_start(), e.g. from the service's "circuit"
 * signal with event "opened". */
void               punch_relay_circuit_set_tap (PunchRelayCircuit *self,
                                                PunchRelayTapFunc  func,
                                                gpointer           user_data);
/* Resets both streams, with @reason. */
void               punch_relay_circuit_abort (PunchRelayCircuit *self, const char *reason);

PunchPeerId       *punch_relay_circuit_get_src (PunchRelayCircuit *self);
PunchPeerId       *punch_relay_circuit_get_dst (PunchRelayCircuit *self);
guint64            punch_relay_circuit_get_bytes_to_dst (PunchRelayCircuit *self);
guint64            punch_relay_circuit_get_bytes_to_src (PunchRelayCircuit *self);
gboolean           punch_relay_circuit_get_closed (PunchRelayCircuit *self);
const char        *punch_relay_circuit_get_reason (PunchRelayCircuit *self);

G_END_DECLS
