/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-path-diagram.h"

#include <glib/gi18n-lib.h>
#include <math.h>

struct _PunchPathDiagram
{
  GtkWidget parent_instance;

  PunchNodePeer *peer;
  guint          tick;
  char          *summary;
};

G_DEFINE_FINAL_TYPE (PunchPathDiagram, punch_path_diagram, GTK_TYPE_WIDGET)

static const GdkRGBA relayed_color = { 0.90, 0.55, 0.10, 1.0 };
static const GdkRGBA direct_color = { 0.20, 0.72, 0.35, 1.0 };

static char *
rtt_text (PunchRttSeries *series)
{
  gint64 last = series ? punch_rtt_series_get_last (series) : -1;

  if (last < 0)
    return g_strdup ("–");
  return g_strdup_printf ("%.1f ms", last / 1000.0);
}

static void
update_summary (PunchPathDiagram *self)
{
  g_autofree char *relay = NULL;
  g_autofree char *relayed = NULL;
  g_autofree char *direct = NULL;
  PunchPeerPath path;

  g_clear_pointer (&self->summary, g_free);
  if (self->peer == NULL)
    {
      self->summary = g_strdup (_("No peer selected"));
      return;
    }
  relay = rtt_text (punch_node_peer_get_rtt_relay (self->peer));
  relayed = rtt_text (punch_node_peer_get_rtt_relayed (self->peer));
  direct = rtt_text (punch_node_peer_get_rtt_direct (self->peer));
  path = punch_node_peer_get_path (self->peer);
  self->summary = g_strdup_printf (_("Path: %s. Me to relay %s, through relay %s, direct %s"),
                                   path == PUNCH_PEER_PATH_DIRECT ? _("direct")
                                   : path == PUNCH_PEER_PATH_PUNCHING ? _("relayed, punching")
                                   : path == PUNCH_PEER_PATH_RELAYED ? _("relayed")
                                   : _("not connected"),
                                   relay, relayed, direct);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, self->summary, -1);
}

static void
get_fg (GtkWidget *widget, GdkRGBA *fg)
{
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), fg);
  G_GNUC_END_IGNORE_DEPRECATIONS
}

static void
draw_label (GtkSnapshot *snapshot, GtkWidget *widget, const char *text, float cx, float cy, const GdkRGBA *color,
            gboolean bold)
{
  g_autoptr (PangoLayout) layout = gtk_widget_create_pango_layout (widget, NULL);
  int w, h;

  if (bold)
    {
      g_autofree char *markup = g_markup_printf_escaped ("<b>%s</b>", text);
      pango_layout_set_markup (layout, markup, -1);
    }
  else
    pango_layout_set_text (layout, text, -1);
  pango_layout_get_pixel_size (layout, &w, &h);
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (cx - w / 2.0f, cy - h / 2.0f));
  gtk_snapshot_append_layout (snapshot, layout, color);
  gtk_snapshot_restore (snapshot);
}

static void
edge (cairo_t *cr, double x1, double y1, double x2, double y2, const GdkRGBA *color, gboolean active)
{
  static const double dash[] = { 6, 5 };

  gdk_cairo_set_source_rgba (cr, color);
  cairo_set_line_width (cr, active ? 3 : 1.5);
  cairo_set_dash (cr, dash, active ? 0 : 2, 0);
  cairo_move_to (cr, x1, y1);
  cairo_line_to (cr, x2, y2);
  cairo_stroke (cr);
}

static void
node (cairo_t *cr, double x, double y, const GdkRGBA *color)
{
  cairo_set_dash (cr, NULL, 0, 0);
  cairo_arc (cr, x, y, 18, 0, 2 * G_PI);
  gdk_cairo_set_source_rgba (cr, color);
  cairo_fill (cr);
}

static void
punch_path_diagram_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  PunchPathDiagram *self = PUNCH_PATH_DIAGRAM (widget);
  float width = gtk_widget_get_width (widget);
  float height = gtk_widget_get_height (widget);
  double mx = 60, my = height - 40, fx = width - 60, fy = height - 40, rx = width / 2.0, ry = 36;
  PunchPeerPath path = self->peer ? punch_node_peer_get_path (self->peer) : PUNCH_PEER_PATH_NONE;
  gboolean relayed_active = path == PUNCH_PEER_PATH_RELAYED || path == PUNCH_PEER_PATH_PUNCHING;
  gboolean direct_active = path == PUNCH_PEER_PATH_DIRECT;
  GdkRGBA fg, dim, node_color;
  g_autofree char *relay_rtt = NULL;
  g_autofree char *relayed_rtt = NULL;
  g_autofree char *direct_rtt = NULL;
  cairo_t *cr;

  if (width < 120 || height < 100)
    return;
  get_fg (widget, &fg);
  dim = fg;
  dim.alpha = 0.35f;
  node_color = fg;
  node_color.alpha = 0.15f;

  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  edge (cr, mx, my, rx, ry, relayed_active ? &relayed_color : &dim, relayed_active);
  edge (cr, rx, ry, fx, fy, relayed_active ? &relayed_color : &dim, relayed_active);
  edge (cr, mx, my, fx, fy, direct_active ? &direct_color : &dim, direct_active);
  node (cr, mx, my, &node_color);
  node (cr, rx, ry, &node_color);
  node (cr, fx, fy, &node_color);
  cairo_destroy (cr);

  draw_label (snapshot, widget, _("Me"), mx, my, &fg, TRUE);
  draw_label (snapshot, widget, _("Relay"), rx, ry, &fg, TRUE);
  draw_label (snapshot, widget, _("Friend"), fx, fy, &fg, TRUE);

  if (self->peer != NULL)
    {
      relay_rtt = rtt_text (punch_node_peer_get_rtt_relay (self->peer));
      relayed_rtt = rtt_text (punch_node_peer_get_rtt_relayed (self->peer));
      direct_rtt = rtt_text (punch_node_peer_get_rtt_direct (self->peer));
      draw_label (snapshot, widget, relay_rtt, (mx + rx) / 2 - 40, (my + ry) / 2, &fg, FALSE);
      {
        g_autofree char *through = g_strdup_printf (_("%s end to end"), relayed_rtt);
        draw_label (snapshot, widget, through, (rx + fx) / 2 + 56, (ry + fy) / 2, &fg, FALSE);
      }
      {
        const char *state = direct_active ? _("direct") : path == PUNCH_PEER_PATH_PUNCHING ? _("punching…") : _("no direct path");
        g_autofree char *label = g_strdup_printf ("%s · %s", state, direct_rtt);
        draw_label (snapshot, widget, label, (mx + fx) / 2, my + 22, direct_active ? &fg : &dim, FALSE);
      }
    }
}

static void
punch_path_diagram_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                            int *minimum, int *natural, int *minimum_baseline, int *natural_baseline)
{
  *minimum = orientation == GTK_ORIENTATION_HORIZONTAL ? 280 : 150;
  *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? 480 : 170;
}

static gboolean
on_tick (gpointer user_data)
{
  PunchPathDiagram *self = user_data;

  update_summary (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  return G_SOURCE_CONTINUE;
}

static void
punch_path_diagram_map (GtkWidget *widget)
{
  PunchPathDiagram *self = PUNCH_PATH_DIAGRAM (widget);

  GTK_WIDGET_CLASS (punch_path_diagram_parent_class)->map (widget);
  if (self->tick == 0)
    self->tick = g_timeout_add_seconds (1, on_tick, self);
}

static void
punch_path_diagram_unmap (GtkWidget *widget)
{
  PunchPathDiagram *self = PUNCH_PATH_DIAGRAM (widget);

  g_clear_handle_id (&self->tick, g_source_remove);
  GTK_WIDGET_CLASS (punch_path_diagram_parent_class)->unmap (widget);
}

static void
punch_path_diagram_dispose (GObject *object)
{
  PunchPathDiagram *self = PUNCH_PATH_DIAGRAM (object);

  g_clear_handle_id (&self->tick, g_source_remove);
  if (self->peer != NULL)
    g_signal_handlers_disconnect_by_data (self->peer, self);
  g_clear_object (&self->peer);
  g_clear_pointer (&self->summary, g_free);
  G_OBJECT_CLASS (punch_path_diagram_parent_class)->dispose (object);
}

static void
punch_path_diagram_class_init (PunchPathDiagramClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = punch_path_diagram_dispose;
  widget_class->snapshot = punch_path_diagram_snapshot;
  widget_class->measure = punch_path_diagram_measure;
  widget_class->map = punch_path_diagram_map;
  widget_class->unmap = punch_path_diagram_unmap;
  gtk_widget_class_set_css_name (widget_class, "pathdiagram");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
punch_path_diagram_init (PunchPathDiagram *self)
{
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Connection path"), -1);
  update_summary (self);
}

GtkWidget *
punch_path_diagram_new (void)
{
  return g_object_new (PUNCH_TYPE_PATH_DIAGRAM, NULL);
}

static void
on_peer_notify (PunchPathDiagram *self)
{
  update_summary (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
punch_path_diagram_set_peer (PunchPathDiagram *self, PunchNodePeer *peer)
{
  g_return_if_fail (PUNCH_IS_PATH_DIAGRAM (self));

  if (self->peer == peer)
    return;
  if (self->peer != NULL)
    g_signal_handlers_disconnect_by_data (self->peer, self);
  g_set_object (&self->peer, peer);
  if (peer != NULL)
    g_signal_connect_swapped (peer, "notify::path", G_CALLBACK (on_peer_notify), self);
  on_peer_notify (self);
}

const char *
punch_path_diagram_get_summary (PunchPathDiagram *self)
{
  g_return_val_if_fail (PUNCH_IS_PATH_DIAGRAM (self), NULL);
  update_summary (self);
  return self->summary;
}
