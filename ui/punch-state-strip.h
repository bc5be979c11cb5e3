/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "punch-node-peer.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_STATE_STRIP (punch_state_strip_get_type ())
G_DECLARE_FINAL_TYPE (PunchStateStrip, punch_state_strip, PUNCH, STATE_STRIP, GtkWidget)

/**
 * PunchStateStrip:
 *
 * The state timeline of one peer: the path over time as coloured bands
 * (relayed, punching, direct, none) from the first event to now, with a
 * tick for every hole-punch attempt, and the durations in words.
 */
GtkWidget  *punch_state_strip_new (void);
void        punch_state_strip_set_peer (PunchStateStrip *self, PunchNodePeer *peer);
const char *punch_state_strip_get_summary (PunchStateStrip *self);

G_END_DECLS
