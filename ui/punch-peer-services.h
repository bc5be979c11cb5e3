/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "punch-node-services.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_PEER_SERVICES (punch_peer_services_get_type ())
G_DECLARE_FINAL_TYPE (PunchPeerServices, punch_peer_services, PUNCH, PEER_SERVICES, GtkWidget)

/* The Services section of a peer's detail: what the peer shares with us
 * (with "Open Local Port" and the address to copy) and which of our
 * services it may use (a switch each), with live counts of forwarded
 * connections and bytes. Actions: services.open, services.close,
 * services.copy (a service name), services.refresh. */
GtkWidget  *punch_peer_services_new (void);
/* @settings (nullable) keeps the allow lists: without it the switches are
 * insensitive. */
void        punch_peer_services_set_model (PunchPeerServices *self,
                                           PunchNodeServices *services,
                                           GSettings         *settings);
void        punch_peer_services_set_peer_id (PunchPeerServices *self,
                                             const char        *peer_id);
/* What "Open Local Port" does for the peer's @name (a toast on failure). */
void        punch_peer_services_open_local (PunchPeerServices *self,
                                            const char        *name);

G_END_DECLS
