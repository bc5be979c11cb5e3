/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-peer-detail.h"

#include <adwaita.h>
#include <glib/gi18n-lib.h>

#include "punch-path-diagram.h"
#include "punch-peer-services.h"
#include "punch-rtt-chart.h"
#include "punch-state-strip.h"
#include "punch-ui-util.h"

struct _PunchPeerDetail
{
  GtkWidget parent_instance;

  /* Owned references */
  PunchNodePeer *peer;
  GSignalGroup  *peer_signals;
  GSignalGroup  *relayed_signals;  /* the peer's relayed PunchConnection */

  /* Children */
  GtkWidget     *stack;
  GtkLabel      *title;
  GtkLabel      *badge;
  GtkLabel      *info;
  GtkWidget     *diagram;
  GtkWidget     *services;
  GtkWidget     *chart;
  GtkWidget     *strip;
  GtkLabel      *strip_summary;
  GtkListBox    *events;
};

G_DEFINE_FINAL_TYPE (PunchPeerDetail, punch_peer_detail, GTK_TYPE_WIDGET)

static GtkWidget *
heading (const char *text)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "heading");
  gtk_widget_set_margin_top (label, 12);
  return label;
}

static GtkWidget *
card (GtkWidget *child)
{
  GtkWidget *frame = gtk_frame_new (NULL);

  gtk_widget_add_css_class (frame, "view");
  gtk_widget_set_margin_top (child, 8);
  gtk_widget_set_margin_bottom (child, 8);
  gtk_widget_set_margin_start (child, 8);
  gtk_widget_set_margin_end (child, 8);
  gtk_frame_set_child (GTK_FRAME (frame), child);
  return frame;
}

static GtkWidget *
create_event_row (gpointer item, gpointer user_data)
{
  PunchTimelineEvent *ev = item;
  g_autofree char *when = punch_timeline_event_format_time (ev);
  g_autofree char *what = punch_timeline_event_describe (ev);
  const char *detail = punch_timeline_event_get_detail (ev);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *time_label = gtk_label_new (when);
  GtkWidget *what_label = gtk_label_new (NULL);
  g_autofree char *text = detail ? g_strdup_printf ("%s — %s", what, detail) : g_strdup (what);

  gtk_widget_add_css_class (time_label, "dim-label");
  gtk_widget_add_css_class (time_label, "numeric");
  gtk_label_set_text (GTK_LABEL (what_label), text);
  gtk_label_set_xalign (GTK_LABEL (what_label), 0);
  gtk_label_set_wrap (GTK_LABEL (what_label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (what_label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_selectable (GTK_LABEL (what_label), TRUE);
  gtk_widget_set_hexpand (what_label, TRUE);
  gtk_widget_set_margin_top (box, 4);
  gtk_widget_set_margin_bottom (box, 4);
  gtk_widget_set_margin_start (box, 8);
  gtk_widget_set_margin_end (box, 8);
  gtk_box_append (GTK_BOX (box), time_label);
  gtk_box_append (GTK_BOX (box), what_label);
  return box;
}

/* What the relay still allows on a limited relayed connection, or NULL. */
static char *
format_relay_budget (PunchConnection *conn)
{
  GDateTime *ends = conn != NULL ? punch_connection_get_limit_ends_at (conn) : NULL;
  g_autofree char *until = NULL;
  g_autofree char *left = NULL;

  if (conn == NULL || !punch_connection_get_limited (conn))
    return NULL;
  if (ends != NULL)
    until = punch_ui_format_clock (g_date_time_to_unix (ends) * G_USEC_PER_SEC);
  if (punch_connection_get_limit_data (conn) > 0)
    left = g_format_size_full (MIN (punch_connection_get_remaining_send (conn),
                                    punch_connection_get_remaining_receive (conn)),
                               G_FORMAT_SIZE_IEC_UNITS);
  if (until != NULL && left != NULL)
    /* Translators: the relay's limit on this connection: bytes left, then a clock time. */
    return g_strdup_printf (_("the relay allows %s more each way, until %s"), left, until);
  if (left != NULL)
    return g_strdup_printf (_("the relay allows %s more each way"), left);
  if (until != NULL)
    return g_strdup_printf (_("the relay allows it until %s"), until);
  return NULL;
}

static void
refresh (PunchPeerDetail *self)
{
  g_autofree char *rtt = NULL;
  g_autofree char *since = NULL;
  g_autofree char *info = NULL;
  g_autofree char *budget = NULL;
  PunchConnection *relayed;

  if (self->peer == NULL)
    return;
  relayed = punch_node_peer_get_relayed_connection (self->peer);
  g_signal_group_set_target (self->relayed_signals, relayed);
  /* Only while the friend is reached through the relay. */
  if (punch_node_peer_get_path (self->peer) != PUNCH_PEER_PATH_DIRECT)
    budget = format_relay_budget (relayed);
  punch_ui_update_badge (self->badge, self->peer);
  rtt = punch_ui_format_rtt (punch_node_peer_get_rtt (self->peer));
  since = punch_ui_format_clock (punch_node_peer_get_since (self->peer));
  info = g_strdup_printf (_("RTT %s · %s · on this path since %s"), rtt,
                          punch_node_peer_get_agent_version (self->peer) ? punch_node_peer_get_agent_version (self->peer)
                                                                         : _("unknown agent"),
                          since);
  if (budget != NULL)
    {
      char *with_budget = g_strdup_printf ("%s · %s", info, budget);

      g_free (info);
      info = with_budget;
    }
  gtk_label_set_text (self->info, info);
  gtk_label_set_text (self->strip_summary, punch_state_strip_get_summary (PUNCH_STATE_STRIP (self->strip)));
}

static void
punch_peer_detail_dispose (GObject *object)
{
  PunchPeerDetail *self = PUNCH_PEER_DETAIL (object);

  g_signal_group_set_target (self->peer_signals, NULL);
  g_clear_object (&self->peer_signals);
  g_signal_group_set_target (self->relayed_signals, NULL);
  g_clear_object (&self->relayed_signals);
  g_clear_object (&self->peer);
  g_clear_pointer (&self->stack, gtk_widget_unparent);
  G_OBJECT_CLASS (punch_peer_detail_parent_class)->dispose (object);
}

static void
punch_peer_detail_class_init (PunchPeerDetailClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = punch_peer_detail_dispose;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "peerdetail");
}

static void
punch_peer_detail_init (PunchPeerDetail *self)
{
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkWidget *clamp = adw_clamp_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *badge_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *strip_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *empty = adw_status_page_new ();

  self->stack = gtk_stack_new ();
  gtk_widget_set_parent (self->stack, GTK_WIDGET (self));

  adw_status_page_set_icon_name (ADW_STATUS_PAGE (empty), "system-users-symbolic");
  adw_status_page_set_title (ADW_STATUS_PAGE (empty), _("No Peer Selected"));
  adw_status_page_set_description (ADW_STATUS_PAGE (empty), _("Connect to a friend, then pick them in the list."));
  gtk_stack_add_named (GTK_STACK (self->stack), empty, "empty");

  adw_clamp_set_maximum_size (ADW_CLAMP (clamp), 900);
  gtk_widget_set_margin_start (box, 18);
  gtk_widget_set_margin_end (box, 18);
  gtk_widget_set_margin_top (box, 18);
  gtk_widget_set_margin_bottom (box, 18);

  self->title = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_selectable (self->title, TRUE);
  gtk_label_set_wrap (self->title, TRUE);
  gtk_label_set_wrap_mode (self->title, PANGO_WRAP_CHAR);
  gtk_label_set_xalign (self->title, 0);
  gtk_widget_add_css_class (GTK_WIDGET (self->title), "title-4");
  gtk_widget_add_css_class (GTK_WIDGET (self->title), "monospace");
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->title));

  self->badge = GTK_LABEL (gtk_label_new (NULL));
  gtk_widget_add_css_class (GTK_WIDGET (self->badge), "path-badge");
  gtk_widget_set_valign (GTK_WIDGET (self->badge), GTK_ALIGN_CENTER);
  self->info = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->info, 0);
  gtk_label_set_wrap (self->info, TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->info), "dim-label");
  gtk_box_append (GTK_BOX (badge_box), GTK_WIDGET (self->badge));
  gtk_box_append (GTK_BOX (badge_box), GTK_WIDGET (self->info));
  gtk_box_append (GTK_BOX (box), badge_box);

  gtk_box_append (GTK_BOX (box), heading (_("Path")));
  self->diagram = punch_path_diagram_new ();
  gtk_box_append (GTK_BOX (box), card (self->diagram));

  gtk_box_append (GTK_BOX (box), heading (_("Services")));
  self->services = punch_peer_services_new ();
  gtk_box_append (GTK_BOX (box), self->services);

  gtk_box_append (GTK_BOX (box), heading (_("Round-Trip Times")));
  self->chart = punch_rtt_chart_new ();
  gtk_box_append (GTK_BOX (box), card (self->chart));

  gtk_box_append (GTK_BOX (box), heading (_("Timeline")));
  self->strip = punch_state_strip_new ();
  self->strip_summary = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->strip_summary, 0);
  gtk_label_set_wrap (self->strip_summary, TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->strip_summary), "dim-label");
  gtk_box_append (GTK_BOX (strip_box), self->strip);
  gtk_box_append (GTK_BOX (strip_box), GTK_WIDGET (self->strip_summary));
  gtk_box_append (GTK_BOX (box), card (strip_box));

  gtk_box_append (GTK_BOX (box), heading (_("Events")));
  self->events = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (self->events, GTK_SELECTION_NONE);
  gtk_widget_add_css_class (GTK_WIDGET (self->events), "boxed-list");
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->events));

  adw_clamp_set_child (ADW_CLAMP (clamp), box);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), clamp);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_stack_add_named (GTK_STACK (self->stack), scrolled, "peer");
  gtk_stack_set_visible_child_name (GTK_STACK (self->stack), "empty");

  self->peer_signals = g_signal_group_new (PUNCH_TYPE_NODE_PEER);
  g_signal_group_connect_swapped (self->peer_signals, "notify", G_CALLBACK (refresh), self);
  /* The relay's remaining budget is notified at most once a second. */
  self->relayed_signals = g_signal_group_new (PUNCH_TYPE_CONNECTION);
  g_signal_group_connect_swapped (self->relayed_signals, "notify::remaining-send", G_CALLBACK (refresh), self);
  g_signal_group_connect_swapped (self->relayed_signals, "notify::remaining-receive", G_CALLBACK (refresh), self);
  g_signal_group_connect_swapped (self->relayed_signals, "notify::limit-ends-at", G_CALLBACK (refresh), self);
}

GtkWidget *
punch_peer_detail_new (void)
{
  return g_object_new (PUNCH_TYPE_PEER_DETAIL, NULL);
}

void
punch_peer_detail_set_peer (PunchPeerDetail *self, PunchNodePeer *peer)
{
  g_return_if_fail (PUNCH_IS_PEER_DETAIL (self));

  if (!g_set_object (&self->peer, peer))
    return;
  g_signal_group_set_target (self->peer_signals, peer);
  punch_path_diagram_set_peer (PUNCH_PATH_DIAGRAM (self->diagram), peer);
  punch_state_strip_set_peer (PUNCH_STATE_STRIP (self->strip), peer);
  punch_peer_services_set_peer_id (PUNCH_PEER_SERVICES (self->services),
                                   peer != NULL ? punch_node_peer_get_peer_id (peer) : NULL);
  if (peer == NULL)
    {
      g_signal_group_set_target (self->relayed_signals, NULL);
      punch_rtt_chart_set_series (PUNCH_RTT_CHART (self->chart), NULL, NULL, NULL);
      gtk_list_box_bind_model (self->events, NULL, NULL, NULL, NULL);
      gtk_stack_set_visible_child_name (GTK_STACK (self->stack), "empty");
      return;
    }
  gtk_label_set_text (self->title, punch_node_peer_get_peer_id (peer));
  punch_rtt_chart_set_series (PUNCH_RTT_CHART (self->chart), punch_node_peer_get_rtt_relay (peer),
                              punch_node_peer_get_rtt_relayed (peer), punch_node_peer_get_rtt_direct (peer));
  gtk_list_box_bind_model (self->events, G_LIST_MODEL (punch_node_peer_get_timeline (peer)), create_event_row, NULL, NULL);
  gtk_stack_set_visible_child_name (GTK_STACK (self->stack), "peer");
  refresh (self);
}

PunchNodePeer *
punch_peer_detail_get_peer (PunchPeerDetail *self)
{
  g_return_val_if_fail (PUNCH_IS_PEER_DETAIL (self), NULL);
  return self->peer;
}

void
punch_peer_detail_set_services (PunchPeerDetail   *self,
                                PunchNodeServices *services,
                                GSettings         *settings)
{
  g_return_if_fail (PUNCH_IS_PEER_DETAIL (self));
  punch_peer_services_set_model (PUNCH_PEER_SERVICES (self->services), services, settings);
}

void
punch_peer_detail_open_local_port (PunchPeerDetail *self,
                                   const char      *name)
{
  g_return_if_fail (PUNCH_IS_PEER_DETAIL (self));
  punch_peer_services_open_local (PUNCH_PEER_SERVICES (self->services), name);
}
