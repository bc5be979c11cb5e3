/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-node-services.h"

G_BEGIN_DECLS

/* The exposed services as the settings keep them: the "services" key,
 * a(ssas) of name, target "HOST:PORT" and the peer IDs allowed (deny by
 * default: a new service allows nobody). Edits go to the settings; the app
 * applies the key to the node's services whenever it changes. */

/* Adds @name → @target, or changes the target of an existing one (its
 * allowed peers stay). The error message is for people. */
gboolean punch_service_settings_add         (GSettings  *settings,
                                             const char *name,
                                             const char *target,
                                             GError    **error);
void     punch_service_settings_remove      (GSettings  *settings,
                                             const char *name);
/* Allows or denies @peer_id the use of @name. */
void     punch_service_settings_set_allowed (GSettings  *settings,
                                             const char *name,
                                             const char *peer_id,
                                             gboolean    allowed);
/* The allowed peer IDs of @name, or NULL when there is no such service.
 * (transfer full) */
GStrv    punch_service_settings_get_allowed (GSettings  *settings,
                                             const char *name);
/* Exposes every service of the key on @services and stops the others. */
void     punch_service_settings_apply       (GSettings         *settings,
                                             PunchNodeServices *services);

G_END_DECLS
