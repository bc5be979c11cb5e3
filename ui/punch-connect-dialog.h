/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "punch-node.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_CONNECT_DIALOG (punch_connect_dialog_get_type ())
G_DECLARE_FINAL_TYPE (PunchConnectDialog, punch_connect_dialog, PUNCH, CONNECT_DIALOG, AdwWindow)

/**
 * PunchConnectDialog:
 *
 * Takes a pasted address, validates it as you type (with a message that
 * says what is wrong), connects and shows the progress live.
 *
 * Signals:
 * - "connected" (const char *peer_id): the connection is up
 */
PunchConnectDialog *punch_connect_dialog_new (GtkWindow *parent, PunchNode *node);
void                punch_connect_dialog_set_address (PunchConnectDialog *self, const char *text);
/* Starts connecting when the address is valid; returns whether it did. */
gboolean            punch_connect_dialog_connect (PunchConnectDialog *self);

G_END_DECLS
