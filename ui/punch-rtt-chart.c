/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-rtt-chart.h"

#include <glib/gi18n-lib.h>
#include <math.h>

struct _PunchRttChart
{
  GtkWidget parent_instance;

  PunchRttSeries *series[PUNCH_RTT_CHART_N_SERIES];
  guint           window_s;
  guint           tick;
  char           *summary;
};

G_DEFINE_FINAL_TYPE (PunchRttChart, punch_rtt_chart, GTK_TYPE_WIDGET)

static const char *const series_labels[PUNCH_RTT_CHART_N_SERIES] = {
  N_("to relay"), N_("through relay"), N_("direct"),
};

/* Fixed hues, readable on light and dark backgrounds (GNOME palette). */
static const GdkRGBA series_colors[PUNCH_RTT_CHART_N_SERIES] = {
  { 0.60, 0.57, 0.65, 1.0 },  /* relay leg: neutral */
  { 0.90, 0.55, 0.10, 1.0 },  /* relayed: orange */
  { 0.20, 0.72, 0.35, 1.0 },  /* direct: green */
};

double
punch_rtt_chart_nice_ceiling (double value)
{
  double exp10, f;

  if (value <= 0 || !isfinite (value))
    return 1;
  exp10 = pow (10, floor (log10 (value)));
  f = value / exp10;
  if (f <= 1.0 + 1e-9)
    return exp10;
  if (f <= 2.0 + 1e-9)
    return 2 * exp10;
  if (f <= 5.0 + 1e-9)
    return 5 * exp10;
  return 10 * exp10;
}

guint
punch_rtt_chart_decimate (double *xs, double *ys, guint n, double width)
{
  guint out = 0, i = 0;

  if (n <= 2 || n <= (guint) (2 * width))
    return n;
  while (i < n)
    {
      double column = floor (xs[i]);
      guint lo = i, hi = i;

      while (i < n && floor (xs[i]) == column)
        {
          if (ys[i] < ys[lo])
            lo = i;
          if (ys[i] > ys[hi])
            hi = i;
          i++;
        }
      /* Keep min and max in their time order so the line stays honest. */
      {
        guint a = MIN (lo, hi), b = MAX (lo, hi);
        double ax = xs[a], ay = ys[a], bx = xs[b], by = ys[b];

        xs[out] = ax;
        ys[out] = ay;
        out++;
        if (a != b)
          {
            xs[out] = bx;
            ys[out] = by;
            out++;
          }
      }
    }
  return out;
}

static void
update_summary (PunchRttChart *self)
{
  GString *out = g_string_new (_("Round-trip times"));
  gboolean any = FALSE;

  for (guint i = 0; i < PUNCH_RTT_CHART_N_SERIES; i++)
    {
      gint64 last;

      if (self->series[i] == NULL || (last = punch_rtt_series_get_last (self->series[i])) < 0)
        continue;
      g_string_append_printf (out, "%s %s %.1f ms (%u samples)", any ? "," : ":", _(series_labels[i]),
                              last / 1000.0, punch_rtt_series_get_n_samples (self->series[i]));
      any = TRUE;
    }
  if (!any)
    g_string_append (out, _(": no samples yet"));
  g_free (self->summary);
  self->summary = g_string_free (out, FALSE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, self->summary, -1);
}

static gboolean
on_tick (gpointer user_data)
{
  PunchRttChart *self = user_data;

  update_summary (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  return G_SOURCE_CONTINUE;
}

static void
punch_rtt_chart_map (GtkWidget *widget)
{
  PunchRttChart *self = PUNCH_RTT_CHART (widget);

  GTK_WIDGET_CLASS (punch_rtt_chart_parent_class)->map (widget);
  /* Time scrolls even without samples: one redraw a second is enough for
   * a 2 s ping interval and keeps thousands of samples cheap. */
  if (self->tick == 0)
    {
      self->tick = g_timeout_add_seconds (1, on_tick, self);
      g_source_set_name_by_id (self->tick, "[punchline] rtt chart");
    }
}

static void
punch_rtt_chart_unmap (GtkWidget *widget)
{
  PunchRttChart *self = PUNCH_RTT_CHART (widget);

  g_clear_handle_id (&self->tick, g_source_remove);
  GTK_WIDGET_CLASS (punch_rtt_chart_parent_class)->unmap (widget);
}

static void
get_fg (GtkWidget *widget, GdkRGBA *fg)
{
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), fg);
  G_GNUC_END_IGNORE_DEPRECATIONS
}

static void
draw_text (GtkSnapshot *snapshot, GtkWidget *widget, const char *text, float x, float y, const GdkRGBA *color,
           gboolean right_align)
{
  g_autoptr (PangoLayout) layout = gtk_widget_create_pango_layout (widget, text);
  int w, h;

  pango_layout_get_pixel_size (layout, &w, &h);
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (right_align ? x - w : x, y - h / 2.0f));
  gtk_snapshot_append_layout (snapshot, layout, color);
  gtk_snapshot_restore (snapshot);
}

static void
punch_rtt_chart_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  PunchRttChart *self = PUNCH_RTT_CHART (widget);
  float width = gtk_widget_get_width (widget);
  float height = gtk_widget_get_height (widget);
  const float left = 56, right = 12, top = 28, bottom = 24;
  float pw = width - left - right, ph = height - top - bottom;
  gint64 now = g_get_real_time ();
  gint64 start = now - (gint64) self->window_s * G_USEC_PER_SEC;
  double max_ms = 0, y_top;
  GdkRGBA fg, grid, dim;
  float legend_x = left;

  if (pw < 20 || ph < 20)
    return;
  get_fg (widget, &fg);
  grid = fg;
  grid.alpha = 0.12f;
  dim = fg;
  dim.alpha = 0.6f;

  for (guint s = 0; s < PUNCH_RTT_CHART_N_SERIES; s++)
    {
      gint64 max_us;

      if (self->series[s] != NULL && punch_rtt_series_get_stats (self->series[s], start, NULL, &max_us, NULL))
        max_ms = MAX (max_ms, max_us / 1000.0);
    }
  y_top = punch_rtt_chart_nice_ceiling (MAX (max_ms * 1.1, 1.0));

  /* Grid: four horizontal lines with their values, time labels below. */
  for (int i = 0; i <= 4; i++)
    {
      float y = top + ph - ph * i / 4.0f;
      g_autofree char *label = g_strdup_printf ("%g ms", y_top * i / 4.0);

      gtk_snapshot_append_color (snapshot, &grid, &GRAPHENE_RECT_INIT (left, roundf (y), pw, 1));
      draw_text (snapshot, widget, label, left - 6, y, &dim, TRUE);
    }
  {
    g_autofree char *ago = g_strdup_printf (_("%u s ago"), self->window_s);

    draw_text (snapshot, widget, ago, left, top + ph + bottom / 2.0f, &dim, FALSE);
    draw_text (snapshot, widget, _("now"), left + pw, top + ph + bottom / 2.0f, &dim, TRUE);
  }

  /* Legend. */
  for (guint s = 0; s < PUNCH_RTT_CHART_N_SERIES; s++)
    {
      g_autoptr (PangoLayout) layout = gtk_widget_create_pango_layout (widget, _(series_labels[s]));
      int w, h;

      pango_layout_get_pixel_size (layout, &w, &h);
      gtk_snapshot_append_color (snapshot, &series_colors[s], &GRAPHENE_RECT_INIT (legend_x, 10, 14, 3));
      draw_text (snapshot, widget, _(series_labels[s]), legend_x + 18, 11, &fg, FALSE);
      legend_x += 18 + w + 16;
    }

  for (guint s = 0; s < PUNCH_RTT_CHART_N_SERIES; s++)
    {
      PunchRttSeries *series = self->series[s];
      guint n = series ? punch_rtt_series_get_n_samples (series) : 0;
      g_autofree double *xs = NULL;
      g_autofree double *ys = NULL;
      guint count = 0;
      cairo_t *cr;

      if (n == 0)
        continue;
      xs = g_new (double, n);
      ys = g_new (double, n);
      /* Normalise first, then only scale and stroke. */
      for (guint i = 0; i < n; i++)
        {
          gint64 t, rtt;

          punch_rtt_series_get_sample (series, i, &t, &rtt);
          if (t < start)
            continue;
          xs[count] = left + pw * (double) (t - start) / (double) (now - start);
          ys[count] = top + ph - ph * MIN (rtt / 1000.0 / y_top, 1.0);
          count++;
        }
      count = punch_rtt_chart_decimate (xs, ys, count, pw);
      if (count == 0)
        continue;
      cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (left, top - 4, pw, ph + 8));
      gdk_cairo_set_source_rgba (cr, &series_colors[s]);
      cairo_set_line_width (cr, 2);
      cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
      cairo_move_to (cr, xs[0], ys[0]);
      for (guint i = 1; i < count; i++)
        cairo_line_to (cr, xs[i], ys[i]);
      cairo_stroke (cr);
      /* The latest sample as a dot, so a single sample is visible too. */
      cairo_arc (cr, xs[count - 1], ys[count - 1], 3, 0, 2 * G_PI);
      cairo_fill (cr);
      cairo_destroy (cr);
    }
}

static void
punch_rtt_chart_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                         int *minimum, int *natural, int *minimum_baseline, int *natural_baseline)
{
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = 200;
      *natural = 480;
    }
  else
    {
      *minimum = 140;
      *natural = 200;
    }
}

static void
punch_rtt_chart_dispose (GObject *object)
{
  PunchRttChart *self = PUNCH_RTT_CHART (object);

  g_clear_handle_id (&self->tick, g_source_remove);
  for (guint i = 0; i < PUNCH_RTT_CHART_N_SERIES; i++)
    g_clear_object (&self->series[i]);
  g_clear_pointer (&self->summary, g_free);
  G_OBJECT_CLASS (punch_rtt_chart_parent_class)->dispose (object);
}

static void
punch_rtt_chart_class_init (PunchRttChartClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = punch_rtt_chart_dispose;
  widget_class->snapshot = punch_rtt_chart_snapshot;
  widget_class->measure = punch_rtt_chart_measure;
  widget_class->map = punch_rtt_chart_map;
  widget_class->unmap = punch_rtt_chart_unmap;
  gtk_widget_class_set_css_name (widget_class, "rttchart");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
punch_rtt_chart_init (PunchRttChart *self)
{
  self->window_s = 120;
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Round-trip time chart"), -1);
  update_summary (self);
}

GtkWidget *
punch_rtt_chart_new (void)
{
  return g_object_new (PUNCH_TYPE_RTT_CHART, NULL);
}

void
punch_rtt_chart_set_series (PunchRttChart *self, PunchRttSeries *relay, PunchRttSeries *relayed, PunchRttSeries *direct)
{
  PunchRttSeries *in[PUNCH_RTT_CHART_N_SERIES] = { relay, relayed, direct };

  g_return_if_fail (PUNCH_IS_RTT_CHART (self));

  /* No per-sample signal: the chart redraws on its own 1 Hz tick. */
  for (guint i = 0; i < PUNCH_RTT_CHART_N_SERIES; i++)
    g_set_object (&self->series[i], in[i]);
  update_summary (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
punch_rtt_chart_set_window (PunchRttChart *self, guint seconds)
{
  g_return_if_fail (PUNCH_IS_RTT_CHART (self));
  self->window_s = MAX (seconds, 10);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

const char *
punch_rtt_chart_get_summary (PunchRttChart *self)
{
  g_return_val_if_fail (PUNCH_IS_RTT_CHART (self), NULL);
  update_summary (self);
  return self->summary;
}

guint
punch_rtt_chart_get_n_samples (PunchRttChart *self)
{
  guint n = 0;

  g_return_val_if_fail (PUNCH_IS_RTT_CHART (self), 0);
  for (guint i = 0; i < PUNCH_RTT_CHART_N_SERIES; i++)
    if (self->series[i] != NULL)
      n += punch_rtt_series_get_n_samples (self->series[i]);
  return n;
}
