/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-timeline-event.h"

G_BEGIN_DECLS

#define PUNCH_TIMELINE_DEFAULT_CAPACITY 10000

#define PUNCH_TYPE_TIMELINE (punch_timeline_get_type ())
G_DECLARE_FINAL_TYPE (PunchTimeline, punch_timeline, PUNCH, TIMELINE, GObject)

/**
 * PunchTimeline:
 *
 * A #GListModel of #PunchTimelineEvent in order of time, bounded: past
 * @capacity events the oldest are dropped (and counted in "n-dropped").
 */
PunchTimeline *punch_timeline_new (guint capacity);
/* Takes a reference on @event. */
void           punch_timeline_append (PunchTimeline *self, PunchTimelineEvent *event);
/* Builds and appends an event stamped now; returns it (transfer none). */
PunchTimelineEvent *punch_timeline_add (PunchTimeline *self,
                                        const char    *kind,
                                        const char    *peer_id,
                                        const char    *from,
                                        const char    *to,
                                        const char    *detail);
guint          punch_timeline_get_n_dropped (PunchTimeline *self);
/* Events of one kind (NULL: any) about one peer (NULL: any), counted. */
guint          punch_timeline_count (PunchTimeline *self, const char *kind, const char *peer_id);

G_END_DECLS
