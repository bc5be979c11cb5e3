/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-timeline.h"

struct _PunchTimeline
{
  GObject parent_instance;

  GQueue events;     /* of PunchTimelineEvent, owned */
  guint  capacity;
  guint  n_dropped;
  /* A cursor makes sequential get_item() (what list views do) O(1). */
  GList *cursor;
  guint  cursor_pos;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PunchTimeline, punch_timeline, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

enum
{
  PROP_0,
  PROP_N_DROPPED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GType
punch_timeline_get_item_type (GListModel *model)
{
  return PUNCH_TYPE_TIMELINE_EVENT;
}

static guint
punch_timeline_get_n_items (GListModel *model)
{
  return PUNCH_TIMELINE (model)->events.length;
}

static gpointer
punch_timeline_get_item (GListModel *model, guint position)
{
  PunchTimeline *self = PUNCH_TIMELINE (model);

  if (position >= self->events.length)
    return NULL;
  if (self->cursor == NULL || position < self->cursor_pos / 2)
    {
      self->cursor = self->events.head;
      self->cursor_pos = 0;
    }
  while (self->cursor_pos < position)
    {
      self->cursor = self->cursor->next;
      self->cursor_pos++;
    }
  while (self->cursor_pos > position)
    {
      self->cursor = self->cursor->prev;
      self->cursor_pos--;
    }
  return g_object_ref (self->cursor->data);
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = punch_timeline_get_item_type;
  iface->get_n_items = punch_timeline_get_n_items;
  iface->get_item = punch_timeline_get_item;
}

static void
punch_timeline_finalize (GObject *object)
{
  PunchTimeline *self = PUNCH_TIMELINE (object);

  g_queue_clear_full (&self->events, g_object_unref);
  G_OBJECT_CLASS (punch_timeline_parent_class)->finalize (object);
}

static void
punch_timeline_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PunchTimeline *self = PUNCH_TIMELINE (object);

  switch (prop_id)
    {
    case PROP_N_DROPPED:
      g_value_set_uint (value, self->n_dropped);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_timeline_class_init (PunchTimelineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = punch_timeline_finalize;
  object_class->get_property = punch_timeline_get_property;

  properties[PROP_N_DROPPED] =
    g_param_spec_uint ("n-dropped", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
punch_timeline_init (PunchTimeline *self)
{
  g_queue_init (&self->events);
  self->capacity = PUNCH_TIMELINE_DEFAULT_CAPACITY;
}

/**
 * punch_timeline_new:
 * @capacity: the most events kept; 0 for the default
 *
 * Returns: (transfer full): an empty timeline
 */
PunchTimeline *
punch_timeline_new (guint capacity)
{
  PunchTimeline *self = g_object_new (PUNCH_TYPE_TIMELINE, NULL);

  if (capacity > 0)
    self->capacity = capacity;
  return self;
}

void
punch_timeline_append (PunchTimeline *self, PunchTimelineEvent *event)
{
  g_return_if_fail (PUNCH_IS_TIMELINE (self));
  g_return_if_fail (PUNCH_IS_TIMELINE_EVENT (event));

  self->cursor = NULL;
  if (self->events.length >= self->capacity)
    {
      g_object_unref (g_queue_pop_head (&self->events));
      self->n_dropped++;
      g_list_model_items_changed (G_LIST_MODEL (self), 0, 1, 0);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_DROPPED]);
    }
  g_queue_push_tail (&self->events, g_object_ref (event));
  g_list_model_items_changed (G_LIST_MODEL (self), self->events.length - 1, 0, 1);
}

PunchTimelineEvent *
punch_timeline_add (PunchTimeline *self, const char *kind, const char *peer_id,
                    const char *from, const char *to, const char *detail)
{
  g_autoptr (PunchTimelineEvent) event = NULL;

  g_return_val_if_fail (PUNCH_IS_TIMELINE (self), NULL);

  event = punch_timeline_event_new (g_get_real_time (), kind, peer_id, from, to, detail);
  punch_timeline_append (self, event);
  return event;
}

guint
punch_timeline_get_n_dropped (PunchTimeline *self)
{
  g_return_val_if_fail (PUNCH_IS_TIMELINE (self), 0);
  return self->n_dropped;
}

guint
punch_timeline_count (PunchTimeline *self, const char *kind, const char *peer_id)
{
  guint count = 0;

  g_return_val_if_fail (PUNCH_IS_TIMELINE (self), 0);

  for (GList *l = self->events.head; l != NULL; l = l->next)
    {
      PunchTimelineEvent *event = l->data;

      if (kind != NULL && g_strcmp0 (punch_timeline_event_get_kind (event), kind) != 0)
        continue;
      if (peer_id != NULL && g_strcmp0 (punch_timeline_event_get_peer_id (event), peer_id) != 0)
        continue;
      count++;
    }
  return count;
}
