/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "punch-node.h"
#include "punch-node-services.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_WINDOW (punch_window_get_type ())
G_DECLARE_FINAL_TYPE (PunchWindow, punch_window, PUNCH, WINDOW, AdwApplicationWindow)

/**
 * PunchWindow:
 *
 * The dashboard: Overview (peer ID, addresses to share, reachability),
 * Relays (reservations, configured relays), Peers (list and detail).
 * Observes a #PunchNode; never touches sockets. Relays added or removed
 * in the Relays page are written to @settings' "relays" key when given.
 */
PunchWindow *punch_window_new (AdwApplication *app, PunchNode *node, GSettings *settings);
PunchNode   *punch_window_get_node (PunchWindow *self);
/* Port forwarding: the Services section of the peer detail. */
void         punch_window_set_services (PunchWindow *self, PunchNodeServices *services);
/* Shows @peer_id in the Peers page (when known). */
void         punch_window_select_peer (PunchWindow *self, const char *peer_id);
/* What "Open Local Port" does for @peer_id's @name, showing that peer. */
void         punch_window_open_local_port (PunchWindow *self, const char *peer_id, const char *name);
/* "overview", "relays" or "peers" */
void         punch_window_set_page (PunchWindow *self, const char *name);
/* Opens the connect dialog; with @addr it is filled in and, when valid,
 * the connection starts at once. */
void         punch_window_open_connect (PunchWindow *self, const char *addr);
void         punch_window_export (PunchWindow *self, GFile *directory);
void         punch_window_toast (PunchWindow *self, const char *message);
/* What a person sees now, as text (UI tests). (transfer full) */
char        *punch_window_dump (PunchWindow *self);

G_END_DECLS
