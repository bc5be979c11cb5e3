/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "punch-node-peer.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_PATH_DIAGRAM (punch_path_diagram_get_type ())
G_DECLARE_FINAL_TYPE (PunchPathDiagram, punch_path_diagram, PUNCH, PATH_DIAGRAM, GtkWidget)

/**
 * PunchPathDiagram:
 *
 * Me → relay → friend, and the direct edge me → friend once punched; each
 * edge with its latest RTT. The active path is drawn solid, the others
 * dashed.
 */
GtkWidget  *punch_path_diagram_new (void);
void        punch_path_diagram_set_peer (PunchPathDiagram *self, PunchNodePeer *peer);
const char *punch_path_diagram_get_summary (PunchPathDiagram *self);

G_END_DECLS
