/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define PUNCH_TYPE_TIMELINE_EVENT (punch_timeline_event_get_type ())
G_DECLARE_FINAL_TYPE (PunchTimelineEvent, punch_timeline_event, PUNCH, TIMELINE_EVENT, GObject)

/**
 * PunchTimelineEvent:
 *
 * One state transition, immutable. @kind uses the event names of
 * docs/cli-events.md where one exists ("connection", "identify", "ping",
 * "error") and adds "reservation", "hole_punch", "dial" and "relay".
 *
 * Properties (read-only): "time" (gint64, µs since the UNIX epoch), "kind",
 *   "peer-id" (the peer the event is about, may be NULL), "from", "to" (state
 *   names, may be NULL), "detail" (human text, may be NULL), "connection-id"
 *   (0 when not about one connection), "remote" (multiaddr text or NULL),
 *   "direction" ("inbound"/"outbound" or NULL), "relayed", "attempt" (0 when
 *   not counted).
 */
PunchTimelineEvent *punch_timeline_event_new (gint64      time_us,
                                              const char *kind,
                                              const char *peer_id,
                                              const char *from,
                                              const char *to,
                                              const char *detail);
gint64      punch_timeline_event_get_time (PunchTimelineEvent *self);
const char *punch_timeline_event_get_kind (PunchTimelineEvent *self);
const char *punch_timeline_event_get_peer_id (PunchTimelineEvent *self);
const char *punch_timeline_event_get_from (PunchTimelineEvent *self);
const char *punch_timeline_event_get_to (PunchTimelineEvent *self);
const char *punch_timeline_event_get_detail (PunchTimelineEvent *self);
guint       punch_timeline_event_get_connection_id (PunchTimelineEvent *self);
const char *punch_timeline_event_get_remote (PunchTimelineEvent *self);
const char *punch_timeline_event_get_direction (PunchTimelineEvent *self);
gboolean    punch_timeline_event_get_relayed (PunchTimelineEvent *self);
guint       punch_timeline_event_get_attempt (PunchTimelineEvent *self);

/* Set while building, before the event is added to a timeline. */
void        punch_timeline_event_set_connection (PunchTimelineEvent *self,
                                                 guint               connection_id,
                                                 const char         *remote,
                                                 const char         *direction,
                                                 gboolean            relayed);
void        punch_timeline_event_set_attempt (PunchTimelineEvent *self, guint attempt);

/* "14:03:21.482" in local time (transfer full). */
char       *punch_timeline_event_format_time (PunchTimelineEvent *self);
/* A one-line description for people, e.g. "Connection relayed → direct". */
char       *punch_timeline_event_describe (PunchTimelineEvent *self);

/* ISO 8601 UTC with milliseconds, as docs/cli-events.md (transfer full). */
char       *punch_format_iso_time (gint64 time_us);

G_END_DECLS
