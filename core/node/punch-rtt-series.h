/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* One hour of samples at the node's 2 s ping interval, with room to spare. */
#define PUNCH_RTT_SERIES_DEFAULT_CAPACITY 3600

#define PUNCH_TYPE_RTT_SERIES (punch_rtt_series_get_type ())
G_DECLARE_FINAL_TYPE (PunchRttSeries, punch_rtt_series, PUNCH, RTT_SERIES, GObject)

/**
 * PunchRttSeries:
 *
 * A ring buffer of round-trip-time samples (wall-clock time in µs since the
 * UNIX epoch, RTT in µs), oldest first. When full, a new sample replaces the
 * oldest one. Charts and the diagnostics read it; nothing here draws.
 *
 * Properties: "name" (construct-only), "capacity" (construct-only),
 *   "n-samples" (notify), "last" (µs, -1 when empty; notify).
 * Signals:
 * - "changed": samples were added or cleared
 */
PunchRttSeries *punch_rtt_series_new (const char *name, guint capacity);
const char     *punch_rtt_series_get_name (PunchRttSeries *self);
guint           punch_rtt_series_get_capacity (PunchRttSeries *self);
guint           punch_rtt_series_get_n_samples (PunchRttSeries *self);
void            punch_rtt_series_add (PunchRttSeries *self, gint64 time_us, gint64 rtt_us);
/* @index 0 is the oldest sample still held. */
gboolean        punch_rtt_series_get_sample (PunchRttSeries *self,
                                             guint           index,
                                             gint64         *time_us,
                                             gint64         *rtt_us);
gint64          punch_rtt_series_get_last (PunchRttSeries *self);
/* Minimum, maximum and mean RTT of the samples with time ≥ @since_us
 * (0: all). Returns FALSE when there is none. */
gboolean        punch_rtt_series_get_stats (PunchRttSeries *self,
                                            gint64          since_us,
                                            gint64         *min_us,
                                            gint64         *max_us,
                                            gint64         *mean_us);
void            punch_rtt_series_clear (PunchRttSeries *self);

G_END_DECLS
