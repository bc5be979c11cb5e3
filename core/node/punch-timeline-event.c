/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-timeline-event.h"

#ifndef GETTEXT_PACKAGE
#define GETTEXT_PACKAGE "punchline"
#endif
#include <glib/gi18n-lib.h>

struct _PunchTimelineEvent
{
  GObject parent_instance;

  gint64   time_us;
  char    *kind;
  char    *peer_id;
  char    *from;
  char    *to;
  char    *detail;
  guint    connection_id;
  char    *remote;
  char    *direction;
  gboolean relayed;
  guint    attempt;
};

G_DEFINE_FINAL_TYPE (PunchTimelineEvent, punch_timeline_event, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_TIME,
  PROP_KIND,
  PROP_PEER_ID,
  PROP_FROM,
  PROP_TO,
  PROP_DETAIL,
  PROP_CONNECTION_ID,
  PROP_REMOTE,
  PROP_DIRECTION,
  PROP_RELAYED,
  PROP_ATTEMPT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
punch_timeline_event_finalize (GObject *object)
{
  PunchTimelineEvent *self = PUNCH_TIMELINE_EVENT (object);

  g_free (self->kind);
  g_free (self->peer_id);
  g_free (self->from);
  g_free (self->to);
  g_free (self->detail);
  g_free (self->remote);
  g_free (self->direction);
  G_OBJECT_CLASS (punch_timeline_event_parent_class)->finalize (object);
}

static void
punch_timeline_event_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PunchTimelineEvent *self = PUNCH_TIMELINE_EVENT (object);

  switch (prop_id)
    {
    case PROP_TIME:
      g_value_set_int64 (value, self->time_us);
      break;
    case PROP_KIND:
      g_value_set_string (value, self->kind);
      break;
    case PROP_PEER_ID:
      g_value_set_string (value, self->peer_id);
      break;
    case PROP_FROM:
      g_value_set_string (value, self->from);
      break;
    case PROP_TO:
      g_value_set_string (value, self->to);
      break;
    case PROP_DETAIL:
      g_value_set_string (value, self->detail);
      break;
    case PROP_CONNECTION_ID:
      g_value_set_uint (value, self->connection_id);
      break;
    case PROP_REMOTE:
      g_value_set_string (value, self->remote);
      break;
    case PROP_DIRECTION:
      g_value_set_string (value, self->direction);
      break;
    case PROP_RELAYED:
      g_value_set_boolean (value, self->relayed);
      break;
    case PROP_ATTEMPT:
      g_value_set_uint (value, self->attempt);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_timeline_event_class_init (PunchTimelineEventClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = punch_timeline_event_finalize;
  object_class->get_property = punch_timeline_event_get_property;

  properties[PROP_TIME] = g_param_spec_int64 ("time", NULL, NULL, 0, G_MAXINT64, 0, ro);
  properties[PROP_KIND] = g_param_spec_string ("kind", NULL, NULL, NULL, ro);
  properties[PROP_PEER_ID] = g_param_spec_string ("peer-id", NULL, NULL, NULL, ro);
  properties[PROP_FROM] = g_param_spec_string ("from", NULL, NULL, NULL, ro);
  properties[PROP_TO] = g_param_spec_string ("to", NULL, NULL, NULL, ro);
  properties[PROP_DETAIL] = g_param_spec_string ("detail", NULL, NULL, NULL, ro);
  properties[PROP_CONNECTION_ID] = g_param_spec_uint ("connection-id", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_REMOTE] = g_param_spec_string ("remote", NULL, NULL, NULL, ro);
  properties[PROP_DIRECTION] = g_param_spec_string ("direction", NULL, NULL, NULL, ro);
  properties[PROP_RELAYED] = g_param_spec_boolean ("relayed", NULL, NULL, FALSE, ro);
  properties[PROP_ATTEMPT] = g_param_spec_uint ("attempt", NULL, NULL, 0, G_MAXUINT, 0, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
punch_timeline_event_init (PunchTimelineEvent *self)
{
}

/**
 * punch_timeline_event_new:
 * @time_us: when it happened (g_get_real_time())
 * @kind: the event name
 * @peer_id: (nullable): the peer it is about
 * @from: (nullable): the state left
 * @to: (nullable): the state entered
 * @detail: (nullable): a reason, an address, an error
 *
 * Returns: (transfer full): the event
 */
PunchTimelineEvent *
punch_timeline_event_new (gint64 time_us, const char *kind, const char *peer_id,
                          const char *from, const char *to, const char *detail)
{
  PunchTimelineEvent *self = g_object_new (PUNCH_TYPE_TIMELINE_EVENT, NULL);

  g_return_val_if_fail (kind != NULL, self);

  self->time_us = time_us;
  self->kind = g_strdup (kind);
  self->peer_id = g_strdup (peer_id);
  self->from = g_strdup (from);
  self->to = g_strdup (to);
  self->detail = g_strdup (detail);
  return self;
}

void
punch_timeline_event_set_connection (PunchTimelineEvent *self, guint connection_id, const char *remote,
                                     const char *direction, gboolean relayed)
{
  g_return_if_fail (PUNCH_IS_TIMELINE_EVENT (self));

  self->connection_id = connection_id;
  g_free (self->remote);
  self->remote = g_strdup (remote);
  g_free (self->direction);
  self->direction = g_strdup (direction);
  self->relayed = !!relayed;
}

void
punch_timeline_event_set_attempt (PunchTimelineEvent *self, guint attempt)
{
  g_return_if_fail (PUNCH_IS_TIMELINE_EVENT (self));
  self->attempt = attempt;
}

gint64
punch_timeline_event_get_time (PunchTimelineEvent *self)
{
  g_return_val_if_fail (PUNCH_IS_TIMELINE_EVENT (self), 0);
  return self->time_us;
}

const char *
punch_timeline_event_get_kind (PunchTimelineEvent *self)
{
  g_return_val_if_fail (PUNCH_IS_TIMELINE_EVENT (self), NULL);
  return self->kind;
}

const char *
punch_timeline_event_get_peer_id (PunchTimelineEvent *self)
{
  g_return_val_if_fail (PUNCH_IS_TIMELINE_EVENT (self), NULL);
  return self->peer_id;
}

const char *
punch_timeline_event_get_from (PunchTimelineEvent *self)
{
  g_return_val_if_fail (PUNCH_IS_TIMELINE_EVENT (self), NULL);
  return self->from;
}

const char *
punch_timeline_event_get_to (PunchTimelineEvent *self)
{
  g_return_val_if_fail (PUNCH_IS_TIMELINE_EVENT (self), NULL);
  return self->to;
}

const char *
punch_timeline_event_get_detail (PunchTimelineEvent *self)
{
  g_return_val_if_fail (PUNCH_IS_TIMELINE_EVENT (self), NULL);
  return self->detail;
}

guint
punch_timeline_event_get_connection_id (PunchTimelineEvent *self)
{
  g_return_val_if_fail (PUNCH_IS_TIMELINE_EVENT (self), 0);
  return self->connection_id;
}

const char *
punch_timeline_event_get_remote (PunchTimelineEvent *self)
{
  g_return_val_if_fail (PUNCH_IS_TIMELINE_EVENT (self), NULL);
  return self->remote;
}

const char *
punch_timeline_event_get_direction (PunchTimelineEvent *self)
{
  g_return_val_if_fail (PUNCH_IS_TIMELINE_EVENT (self), NULL);
  return self->direction;
}

gboolean
punch_timeline_event_get_relayed (PunchTimelineEvent *self)
{
  g_return_val_if_fail (PUNCH_IS_TIMELINE_EVENT (self), FALSE);
  return self->relayed;
}

guint
punch_timeline_event_get_attempt (PunchTimelineEvent *self)
{
  g_return_val_if_fail (PUNCH_IS_TIMELINE_EVENT (self), 0);
  return self->attempt;
}

char *
punch_timeline_event_format_time (PunchTimelineEvent *self)
{
  g_autoptr (GDateTime) utc = NULL;
  g_autoptr (GDateTime) local = NULL;
  g_autofree char *hms = NULL;

  g_return_val_if_fail (PUNCH_IS_TIMELINE_EVENT (self), NULL);

  utc = g_date_time_new_from_unix_utc (self->time_us / G_USEC_PER_SEC);
  local = g_date_time_to_local (utc);
  hms = g_date_time_format (local, "%H:%M:%S");
  return g_strdup_printf ("%s.%03d", hms, (int) ((self->time_us % G_USEC_PER_SEC) / 1000));
}

char *
punch_timeline_event_describe (PunchTimelineEvent *self)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (PUNCH_IS_TIMELINE_EVENT (self), NULL);

  if (g_strcmp0 (self->kind, "connection") == 0)
    g_string_append_printf (out, _("Connection %s: %s"), self->relayed ? _("relayed") : _("direct"),
                            self->to ? self->to : "?");
  else if (g_strcmp0 (self->kind, "reservation") == 0)
    g_string_append_printf (out, _("Reservation %s → %s"), self->from ? self->from : "–", self->to ? self->to : "?");
  else if (g_strcmp0 (self->kind, "hole_punch") == 0)
    {
      g_string_append_printf (out, _("Hole punch %s → %s"), self->from ? self->from : "–", self->to ? self->to : "?");
      if (self->attempt > 0)
        g_string_append_printf (out, _(" (attempt %u)"), self->attempt);
    }
  else if (g_strcmp0 (self->kind, "path") == 0)
    g_string_append_printf (out, _("Path %s → %s"), self->from ? self->from : "–", self->to ? self->to : "?");
  else
    {
      g_string_append (out, self->kind);
      if (self->to != NULL)
        g_string_append_printf (out, ": %s", self->to);
    }
  return g_string_free (out, FALSE);
}

char *
punch_format_iso_time (gint64 time_us)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (time_us / G_USEC_PER_SEC);
  g_autofree char *base = NULL;

  if (dt == NULL)
    return g_strdup ("1970-01-01T00:00:00.000Z");
  base = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S");
  return g_strdup_printf ("%s.%03dZ", base, (int) ((time_us % G_USEC_PER_SEC) / 1000));
}
