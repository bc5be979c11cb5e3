/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-state-strip.h"

#include <glib/gi18n-lib.h>

struct _PunchStateStrip
{
  GtkWidget parent_instance;

  PunchNodePeer *peer;
  guint          tick;
  char          *summary;
};

G_DEFINE_FINAL_TYPE (PunchStateStrip, punch_state_strip, GTK_TYPE_WIDGET)

static const GdkRGBA path_colors[] = {
  { 0.55, 0.55, 0.55, 0.35 },  /* none */
  { 0.90, 0.55, 0.10, 1.0 },   /* relayed */
  { 0.21, 0.52, 0.89, 1.0 },   /* punching */
  { 0.20, 0.72, 0.35, 1.0 },   /* direct */
};

static PunchPeerPath
path_from_string (const char *text)
{
  if (g_strcmp0 (text, "relayed") == 0)
    return PUNCH_PEER_PATH_RELAYED;
  if (g_strcmp0 (text, "punching") == 0)
    return PUNCH_PEER_PATH_PUNCHING;
  if (g_strcmp0 (text, "direct") == 0)
    return PUNCH_PEER_PATH_DIRECT;
  return PUNCH_PEER_PATH_NONE;
}

static char *
format_duration (gint64 us)
{
  gint64 s = us / G_USEC_PER_SEC;

  if (s < 60)
    return g_strdup_printf (_("%d s"), (int) s);
  if (s < 3600)
    return g_strdup_printf (_("%d min %d s"), (int) (s / 60), (int) (s % 60));
  return g_strdup_printf (_("%d h %d min"), (int) (s / 3600), (int) ((s / 60) % 60));
}

static void
update_summary (PunchStateStrip *self)
{
  gint64 direct, relayed;
  g_autofree char *d = NULL;
  g_autofree char *r = NULL;
  guint pct;

  g_clear_pointer (&self->summary, g_free);
  if (self->peer == NULL)
    {
      self->summary = g_strdup ("");
      return;
    }
  punch_node_peer_get_path_times (self->peer, &direct, &relayed);
  d = format_duration (direct);
  r = format_duration (relayed);
  pct = direct + relayed > 0 ? (guint) (100 * direct / (direct + relayed)) : 0;
  self->summary = g_strdup_printf (_("Direct %s, relayed %s (%u%% direct); %u punch attempts%s%s"), d, r, pct,
                                   punch_node_peer_get_punch_attempts (self->peer),
                                   punch_node_peer_get_punch_outcome (self->peer) ? _(", last outcome: ") : "",
                                   punch_node_peer_get_punch_outcome (self->peer) ? punch_node_peer_get_punch_outcome (self->peer) : "");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, self->summary, -1);
}

static void
punch_state_strip_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  PunchStateStrip *self = PUNCH_STATE_STRIP (widget);
  float width = gtk_widget_get_width (widget);
  GListModel *events;
  guint n;
  gint64 start = 0, now = g_get_real_time ();
  gint64 seg_start = 0;
  PunchPeerPath current = PUNCH_PEER_PATH_NONE;
  const float bar_y = 8, bar_h = 18;
  GdkRGBA fg;

  if (self->peer == NULL || width < 40)
    return;
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &fg);
  G_GNUC_END_IGNORE_DEPRECATIONS

  events = G_LIST_MODEL (punch_node_peer_get_timeline (self->peer));
  n = g_list_model_get_n_items (events);
  if (n == 0)
    return;
  {
    g_autoptr (PunchTimelineEvent) first = g_list_model_get_item (events, 0);
    start = punch_timeline_event_get_time (first);
  }
  if (now <= start)
    now = start + 1;
  seg_start = start;

#define X(t) ((float) (width * (double) ((t) - start) / (double) (now - start)))
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchTimelineEvent) ev = g_list_model_get_item (events, i);
      const char *kind = punch_timeline_event_get_kind (ev);
      gint64 t = punch_timeline_event_get_time (ev);

      if (g_strcmp0 (kind, "path") == 0)
        {
          gtk_snapshot_append_color (snapshot, &path_colors[current],
                                     &GRAPHENE_RECT_INIT (X (seg_start), bar_y, MAX (X (t) - X (seg_start), 1), bar_h));
          current = path_from_string (punch_timeline_event_get_to (ev));
          seg_start = t;
        }
      else if (g_strcmp0 (kind, "hole_punch") == 0 && g_strcmp0 (punch_timeline_event_get_to (ev), "dialing") == 0)
        {
          /* One tick per simultaneous-open attempt. */
          gtk_snapshot_append_color (snapshot, &fg, &GRAPHENE_RECT_INIT (X (t), bar_y - 4, 2, bar_h + 8));
        }
    }
  gtk_snapshot_append_color (snapshot, &path_colors[current],
                             &GRAPHENE_RECT_INIT (X (seg_start), bar_y, MAX (X (now) - X (seg_start), 1), bar_h));
#undef X

  /* Legend under the bar. */
  {
    static const char *const names[] = { N_("none"), N_("relayed"), N_("punching"), N_("direct") };
    float x = 0;

    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      {
        g_autoptr (PangoLayout) layout = gtk_widget_create_pango_layout (widget, _(names[i]));
        int w, h;

        pango_layout_get_pixel_size (layout, &w, &h);
        gtk_snapshot_append_color (snapshot, &path_colors[i], &GRAPHENE_RECT_INIT (x, bar_y + bar_h + 10, 12, 12));
        gtk_snapshot_save (snapshot);
        gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (x + 16, bar_y + bar_h + 16 - h / 2.0f));
        gtk_snapshot_append_layout (snapshot, layout, &fg);
        gtk_snapshot_restore (snapshot);
        x += 16 + w + 14;
      }
  }
}

static void
punch_state_strip_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                           int *minimum, int *natural, int *minimum_baseline, int *natural_baseline)
{
  *minimum = orientation == GTK_ORIENTATION_HORIZONTAL ? 200 : 56;
  *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? 480 : 56;
}

static gboolean
on_tick (gpointer user_data)
{
  PunchStateStrip *self = user_data;

  update_summary (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  return G_SOURCE_CONTINUE;
}

static void
punch_state_strip_map (GtkWidget *widget)
{
  PunchStateStrip *self = PUNCH_STATE_STRIP (widget);

  GTK_WIDGET_CLASS (punch_state_strip_parent_class)->map (widget);
  if (self->tick == 0)
    self->tick = g_timeout_add_seconds (1, on_tick, self);
}

static void
punch_state_strip_unmap (GtkWidget *widget)
{
  PunchStateStrip *self = PUNCH_STATE_STRIP (widget);

  g_clear_handle_id (&self->tick, g_source_remove);
  GTK_WIDGET_CLASS (punch_state_strip_parent_class)->unmap (widget);
}

static void
punch_state_strip_dispose (GObject *object)
{
  PunchStateStrip *self = PUNCH_STATE_STRIP (object);

  g_clear_handle_id (&self->tick, g_source_remove);
  g_clear_object (&self->peer);
  g_clear_pointer (&self->summary, g_free);
  G_OBJECT_CLASS (punch_state_strip_parent_class)->dispose (object);
}

static void
punch_state_strip_class_init (PunchStateStripClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = punch_state_strip_dispose;
  widget_class->snapshot = punch_state_strip_snapshot;
  widget_class->measure = punch_state_strip_measure;
  widget_class->map = punch_state_strip_map;
  widget_class->unmap = punch_state_strip_unmap;
  gtk_widget_class_set_css_name (widget_class, "statestrip");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
punch_state_strip_init (PunchStateStrip *self)
{
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Path over time"), -1);
  update_summary (self);
}

GtkWidget *
punch_state_strip_new (void)
{
  return g_object_new (PUNCH_TYPE_STATE_STRIP, NULL);
}

void
punch_state_strip_set_peer (PunchStateStrip *self, PunchNodePeer *peer)
{
  g_return_if_fail (PUNCH_IS_STATE_STRIP (self));

  g_set_object (&self->peer, peer);
  update_summary (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

const char *
punch_state_strip_get_summary (PunchStateStrip *self)
{
  g_return_val_if_fail (PUNCH_IS_STATE_STRIP (self), NULL);
  update_summary (self);
  return self->summary;
}
