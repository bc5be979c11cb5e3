/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "punch-rtt-series.h"

G_BEGIN_DECLS

#define PUNCH_RTT_CHART_N_SERIES 3

#define PUNCH_TYPE_RTT_CHART (punch_rtt_chart_get_type ())
G_DECLARE_FINAL_TYPE (PunchRttChart, punch_rtt_chart, PUNCH, RTT_CHART, GtkWidget)

/**
 * PunchRttChart:
 *
 * A live line chart of up to three #PunchRttSeries over the last
 * "window-seconds": to the relay, to the friend through the relay, to the
 * friend directly. Redraws once a second while mapped, never per sample.
 */
GtkWidget  *punch_rtt_chart_new (void);
/* Any may be NULL. */
void        punch_rtt_chart_set_series (PunchRttChart  *self,
                                        PunchRttSeries *relay,
                                        PunchRttSeries *relayed,
                                        PunchRttSeries *direct);
void        punch_rtt_chart_set_window (PunchRttChart *self, guint seconds);
/* What the chart shows, in words (also its accessible description). */
const char *punch_rtt_chart_get_summary (PunchRttChart *self);
guint       punch_rtt_chart_get_n_samples (PunchRttChart *self);

/* Geometry helpers, pure, unit-tested without a display. */
/* The smallest "nice" value (1, 2, 5 × 10^k) ≥ @value. */
double      punch_rtt_chart_nice_ceiling (double value);
/* Reduces @n (x, y) points to at most two per pixel column of @width
 * (min and max), in place; returns the new count. x must be ascending. */
guint       punch_rtt_chart_decimate (double *xs, double *ys, guint n, double width);

G_END_DECLS
