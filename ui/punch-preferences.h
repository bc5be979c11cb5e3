/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "punch-node.h"

G_BEGIN_DECLS

/* Relays and listen port (from @settings, which may be NULL: then shown
 * read-only), and the identity: peer ID, key file, reset with confirmation. */
GtkWindow *punch_preferences_new (GtkWindow  *parent,
                                  PunchNode  *node,
                                  GSettings  *settings,
                                  const char *identity_path);

G_END_DECLS
