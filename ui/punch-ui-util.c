/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-ui-util.h"

#include <adwaita.h>
#include <glib/gi18n-lib.h>

#include "punch-path-diagram.h"
#include "punch-rtt-chart.h"
#include "punch-state-strip.h"

char *
punch_ui_short_id (const char *peer_id)
{
  gsize len = peer_id ? strlen (peer_id) : 0;

  if (len <= 16)
    return g_strdup (peer_id ? peer_id : "");
  return g_strdup_printf ("%.8s…%s", peer_id, peer_id + len - 6);
}

char *
punch_ui_path_badge_text (PunchNodePeer *peer)
{
  g_autofree char *relay = NULL;

  switch (punch_node_peer_get_path (peer))
    {
    case PUNCH_PEER_PATH_DIRECT:
      return g_strdup (_("Direct"));
    case PUNCH_PEER_PATH_PUNCHING:
      return g_strdup (_("Punching…"));
    case PUNCH_PEER_PATH_RELAYED:
      relay = punch_ui_short_id (punch_node_peer_get_relay_peer_id (peer));
      return g_strdup_printf (_("Relayed via %s"), relay && *relay ? relay : _("a relay"));
    case PUNCH_PEER_PATH_NONE:
    default:
      return g_strdup (_("Not connected"));
    }
}

const char *
punch_ui_path_badge_class (PunchNodePeer *peer)
{
  return punch_peer_path_to_string (punch_node_peer_get_path (peer));
}

void
punch_ui_update_badge (GtkLabel *badge, PunchNodePeer *peer)
{
  static const char *const classes[] = { "none", "relayed", "punching", "direct" };
  g_autofree char *text = punch_ui_path_badge_text (peer);

  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    gtk_widget_remove_css_class (GTK_WIDGET (badge), classes[i]);
  gtk_widget_add_css_class (GTK_WIDGET (badge), punch_ui_path_badge_class (peer));
  gtk_label_set_text (badge, text);
}

char *
punch_ui_format_rtt (gint64 rtt_us)
{
  if (rtt_us < 0)
    return g_strdup ("–");
  if (rtt_us < 10000)
    return g_strdup_printf (_("%.2f ms"), rtt_us / 1000.0);
  return g_strdup_printf (_("%.0f ms"), rtt_us / 1000.0);
}

char *
punch_ui_format_clock (gint64 time_us)
{
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (time_us / G_USEC_PER_SEC);
  g_autoptr (GDateTime) local = utc ? g_date_time_to_local (utc) : NULL;

  return local ? g_date_time_format (local, "%H:%M:%S") : g_strdup ("");
}

char *
punch_ui_format_countdown (gint64 seconds)
{
  if (seconds < 0)
    seconds = 0;
  if (seconds >= 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT ":%02d:%02d", seconds / 3600, (int) (seconds / 60 % 60), (int) (seconds % 60));
  return g_strdup_printf ("%d:%02d", (int) (seconds / 60), (int) (seconds % 60));
}

void
punch_ui_copy (GtkWidget *widget, const char *text)
{
  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), text);
}

void
punch_ui_dump_visible (GtkWidget *widget, GString *out)
{
  if (!gtk_widget_get_mapped (widget))
    return;
  if (GTK_IS_LABEL (widget))
    {
      const char *text = gtk_label_get_text (GTK_LABEL (widget));

      if (text != NULL && *text != '\0')
        g_string_append_printf (out, "%s\n", text);
    }
  else if (GTK_IS_EDITABLE (widget) && GTK_IS_ENTRY (widget))
    g_string_append_printf (out, "[entry] %s\n", gtk_editable_get_text (GTK_EDITABLE (widget)));
  else if (PUNCH_IS_RTT_CHART (widget))
    g_string_append_printf (out, "[chart] %s; samples=%u\n", punch_rtt_chart_get_summary (PUNCH_RTT_CHART (widget)),
                            punch_rtt_chart_get_n_samples (PUNCH_RTT_CHART (widget)));
  else if (PUNCH_IS_PATH_DIAGRAM (widget))
    g_string_append_printf (out, "[path] %s\n", punch_path_diagram_get_summary (PUNCH_PATH_DIAGRAM (widget)));
  else if (PUNCH_IS_STATE_STRIP (widget))
    g_string_append_printf (out, "[timeline] %s\n", punch_state_strip_get_summary (PUNCH_STATE_STRIP (widget)));
  else if (GTK_IS_SWITCH (widget))
    g_string_append_printf (out, "[switch] %s\n", gtk_switch_get_active (GTK_SWITCH (widget)) ? "on" : "off");
  if (GTK_IS_BUTTON (widget) && gtk_widget_get_tooltip_text (widget) != NULL)
    g_string_append_printf (out, "[button] %s\n", gtk_widget_get_tooltip_text (widget));

  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL; child = gtk_widget_get_next_sibling (child))
    punch_ui_dump_visible (child, out);
}

char *
punch_ui_format_service_stats (const PunchServiceStats *stats)
{
  g_autofree char *connections = NULL;
  g_autofree char *out = NULL;
  g_autofree char *in = NULL;

  g_autofree char *text = NULL;

  if (stats->total == 0)
    text = g_strdup (_("No connections yet"));
  else
    {
      connections = g_strdup_printf (g_dngettext (NULL, "%u connection", "%u connections", stats->total),
                                     stats->total);
      out = g_format_size_full (stats->bytes_out, G_FORMAT_SIZE_IEC_UNITS);
      in = g_format_size_full (stats->bytes_in, G_FORMAT_SIZE_IEC_UNITS);
      /* TRANSLATORS: connections · how many open · bytes sent · bytes received */
      text = g_strdup_printf (_("%s · %u open · %s sent · %s received"), connections, stats->active, out, in);
    }
  if (stats->refused == 0)
    return g_steal_pointer (&text);
  /* TRANSLATORS: appended to the counts above: attempts that were refused */
  return g_strdup_printf (g_dngettext (NULL, "%s · %u attempt refused", "%s · %u attempts refused", stats->refused),
                          text, stats->refused);
}
