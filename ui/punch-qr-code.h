/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define PUNCH_TYPE_QR_CODE (punch_qr_code_get_type ())
G_DECLARE_FINAL_TYPE (PunchQrCode, punch_qr_code, PUNCH, QR_CODE, GtkWidget)

/**
 * PunchQrCode:
 *
 * A QR code of a text (an address to share), black on white whatever the
 * style so that phone cameras read it. Empty when built without
 * libqrencode: see punch_qr_code_is_supported().
 */
GtkWidget *punch_qr_code_new (const char *text);
gboolean   punch_qr_code_is_supported (void);

G_END_DECLS
