/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "punch-node-peer.h"
#include "punch-node-services.h"

G_BEGIN_DECLS

/* "Direct", "Relayed via 12D3…abcd", "Punching…", "Not connected". (transfer full) */
char    *punch_ui_path_badge_text (PunchNodePeer *peer);
/* The CSS class of a path badge: "direct", "relayed", "punching", "none". */
const char *punch_ui_path_badge_class (PunchNodePeer *peer);
/* Updates a badge label's text and class. */
void     punch_ui_update_badge (GtkLabel *badge, PunchNodePeer *peer);
/* 12D3KooW…WxYz (transfer full) */
char    *punch_ui_short_id (const char *peer_id);
/* "1.2 ms" or "–" (transfer full) */
char    *punch_ui_format_rtt (gint64 rtt_us);
/* "14:03:21" local (transfer full) */
char    *punch_ui_format_clock (gint64 time_us);
/* "59:12", "1:02:03" (transfer full) */
char    *punch_ui_format_countdown (gint64 seconds);
/* "No connections yet", or "2 connections · 1 open · 1.2 KiB sent ·
 * 3.4 KiB received". (transfer full) */
char    *punch_ui_format_service_stats (const PunchServiceStats *stats);
/* Copies @text to the clipboard of @widget's display. */
void     punch_ui_copy (GtkWidget *widget, const char *text);
/* Appends the visible text of @widget's mapped descendants to @out, one
 * item a line: what a person sees, for UI tests. */
void     punch_ui_dump_visible (GtkWidget *widget, GString *out);

G_END_DECLS
