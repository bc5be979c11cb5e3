/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-peer-services.h"

#include <glib/gi18n-lib.h>

#include "punch-service-settings.h"
#include "punch-ui-util.h"
#include "punch-window.h"

struct _PunchPeerServices
{
  GtkWidget          parent_instance;

  /* Owned references */
  PunchNodeServices *services;
  GSettings         *settings;
  GSignalGroup      *services_signals;
  char              *peer_id;
  guint              rebuild_id;
  guint              tick_id;

  /* Template widgets */
  GtkWidget         *box;
  GtkLabel          *theirs_note;
  GtkListBox        *theirs_list;
  GtkLabel          *mine_note;
  GtkListBox        *mine_list;
};

G_DEFINE_FINAL_TYPE (PunchPeerServices, punch_peer_services, GTK_TYPE_WIDGET)

static void
clear_list (GtkListBox *list)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (list))) != NULL)
    gtk_list_box_remove (list, child);
}

/* Updates the counts of every row: live while connections are open. */
static void
refresh_stats (PunchPeerServices *self)
{
  GtkListBox *lists[] = { self->theirs_list, self->mine_list };

  if (self->services == NULL || self->peer_id == NULL)
    return;
  for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
    for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (lists[l])); row != NULL;
         row = gtk_widget_get_next_sibling (row))
      {
        const char *name = g_object_get_data (G_OBJECT (row), "service");
        gboolean inbound = lists[l] == self->mine_list;
        PunchServiceStats stats;
        g_autofree char *counts = NULL;
        g_autofree char *subtitle = NULL;

        if (name == NULL)
          continue;
        punch_node_services_get_stats (self->services, self->peer_id, name, inbound, &stats);
        counts = punch_ui_format_service_stats (&stats);
        if (inbound)
          subtitle = g_strdup_printf ("→ %s · %s", punch_node_services_get_target (self->services, name), counts);
        else if (g_object_get_data (G_OBJECT (row), "unshared") != NULL)
          /* TRANSLATORS: a local port is still open to a service the friend no longer shares */
          subtitle = g_strdup_printf (_("No longer shared · %s"), counts);
        /* Once a second: only a change is worth a relayout. */
        if (g_strcmp0 (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), subtitle != NULL ? subtitle : counts) != 0)
          adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle != NULL ? subtitle : counts);
      }
}

static GtkWidget *
action_button (const char *icon,
               const char *label,
               const char *tooltip,
               const char *action,
               const char *name)
{
  GtkWidget *button = icon != NULL ? gtk_button_new_from_icon_name (icon) : gtk_button_new_with_mnemonic (label);

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  if (tooltip != NULL)
    gtk_widget_set_tooltip_text (button, tooltip);
  if (icon != NULL)
    gtk_widget_add_css_class (button, "flat");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), action);
  gtk_actionable_set_action_target (GTK_ACTIONABLE (button), "s", name);
  return button;
}

static GtkWidget *
theirs_row (PunchPeerServices *self,
            const char        *name)
{
  GtkWidget *row = adw_action_row_new ();
  const char *local = punch_node_services_get_local (self->services, self->peer_id, name);

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  g_object_set_data_full (G_OBJECT (row), "service", g_strdup (name), g_free);
  if (local != NULL)
    {
      GtkWidget *address = gtk_label_new (local);

      gtk_label_set_selectable (GTK_LABEL (address), TRUE);
      gtk_widget_add_css_class (address, "monospace");
      gtk_widget_set_tooltip_text (address, _("Connect to this address on this computer: it reaches the service"));
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), address);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                                 action_button ("edit-copy-symbolic", NULL, _("Copy local address"),
                                                "services.copy", name));
      adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                                 action_button ("window-close-symbolic", NULL, _("Close local port"),
                                                "services.close", name));
    }
  else
    adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                               action_button (NULL, _("_Open Local Port"),
                                              _("Listen on a free port of this computer and forward it to this service"),
                                              "services.open", name));
  return row;
}

static void
on_allow_toggled (GtkSwitch         *toggle,
                  GParamSpec        *pspec,
                  PunchPeerServices *self)
{
  const char *name = g_object_get_data (G_OBJECT (toggle), "service");

  if (self->settings != NULL && self->peer_id != NULL)
    punch_service_settings_set_allowed (self->settings, name, self->peer_id, gtk_switch_get_active (toggle));
}

static GtkWidget *
mine_row (PunchPeerServices *self,
          const char        *name)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *toggle = gtk_switch_new ();

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  g_object_set_data_full (G_OBJECT (row), "service", g_strdup (name), g_free);
  gtk_widget_set_valign (toggle, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (toggle, _("Let this peer use the service"));
  gtk_switch_set_active (GTK_SWITCH (toggle), punch_node_services_is_allowed (self->services, name, self->peer_id));
  gtk_widget_set_sensitive (toggle, self->settings != NULL);
  g_object_set_data_full (G_OBJECT (toggle), "service", g_strdup (name), g_free);
  g_signal_connect (toggle, "notify::active", G_CALLBACK (on_allow_toggled), self);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), toggle);
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), toggle);
  return row;
}

static gboolean
rebuild (gpointer user_data)
{
  PunchPeerServices *self = user_data;
  const char * const *theirs;
  const char *error_message = NULL;
  g_auto (GStrv) mine = NULL;
  g_auto (GStrv) locals = NULL;

  self->rebuild_id = 0;
  clear_list (self->theirs_list);
  clear_list (self->mine_list);
  if (self->services == NULL || self->peer_id == NULL)
    return G_SOURCE_REMOVE;

  theirs = punch_node_services_get_catalog (self->services, self->peer_id, &error_message);
  if (error_message != NULL)
    {
      g_autofree char *text = g_strdup_printf (_("Could not ask this peer what it shares: %s"), error_message);
      gtk_label_set_text (self->theirs_note, text);
    }
  else if (theirs == NULL)
    gtk_label_set_text (self->theirs_note, _("Asking this peer what it shares…"));
  else if (theirs[0] == NULL)
    gtk_label_set_text (self->theirs_note, _("This peer shares no services with you."));
  gtk_widget_set_visible (GTK_WIDGET (self->theirs_note), theirs == NULL || theirs[0] == NULL || error_message != NULL);
  for (guint i = 0; theirs != NULL && theirs[i] != NULL; i++)
    gtk_list_box_append (self->theirs_list, theirs_row (self, theirs[i]));
  /* A port opened to a service the friend stopped sharing stays listed,
   * so that it can still be seen and closed. */
  locals = punch_node_services_list_local (self->services, self->peer_id);
  for (guint i = 0; locals[i] != NULL; i++)
    if (theirs == NULL || !g_strv_contains (theirs, locals[i]))
      {
        GtkWidget *row = theirs_row (self, locals[i]);

        g_object_set_data (G_OBJECT (row), "unshared", GINT_TO_POINTER (TRUE));
        gtk_list_box_append (self->theirs_list, row);
      }
  gtk_widget_set_visible (GTK_WIDGET (self->theirs_list),
                          gtk_widget_get_first_child (GTK_WIDGET (self->theirs_list)) != NULL);

  mine = punch_node_services_list_exposed (self->services);
  gtk_label_set_text (self->mine_note, mine[0] == NULL ? _("You expose no services. Add one in Preferences → Services.")
                                                       : _("Switch a service on to let this peer reach it; nobody else can."));
  for (guint i = 0; mine[i] != NULL; i++)
    gtk_list_box_append (self->mine_list, mine_row (self, mine[i]));
  gtk_widget_set_visible (GTK_WIDGET (self->mine_list), mine[0] != NULL);
  refresh_stats (self);
  return G_SOURCE_REMOVE;
}

/* Rebuilding from an idle: a switch that changed the settings is not
 * destroyed inside its own signal. */
static void
queue_rebuild (PunchPeerServices *self)
{
  if (self->rebuild_id == 0)
    self->rebuild_id = g_idle_add (rebuild, self);
}

static void
on_catalog_changed (PunchPeerServices *self,
                    const char        *peer_id)
{
  if (g_strcmp0 (peer_id, self->peer_id) == 0)
    queue_rebuild (self);
}

static void
on_stream_finished (PunchPeerServices *self,
                    const char        *peer_id)
{
  if (g_strcmp0 (peer_id, self->peer_id) == 0)
    refresh_stats (self);
}

static gboolean
on_tick (gpointer user_data)
{
  refresh_stats (user_data);
  return G_SOURCE_CONTINUE;
}

static void
toast (PunchPeerServices *self,
       const char        *message)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  if (PUNCH_IS_WINDOW (root))
    punch_window_toast (PUNCH_WINDOW (root), message);
}

void
punch_peer_services_open_local (PunchPeerServices *self,
                                const char        *name)
{
  g_autoptr (GError) error = NULL;

  g_return_if_fail (PUNCH_IS_PEER_SERVICES (self));
  if (self->services == NULL || self->peer_id == NULL)
    return;
  if (punch_node_services_open_local (self->services, self->peer_id, name, &error) == NULL)
    {
      g_autofree char *message = g_strdup_printf (_("Could not open a local port: %s"), error->message);
      toast (self, message);
    }
}

static void
open_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *param)
{
  punch_peer_services_open_local (PUNCH_PEER_SERVICES (widget), g_variant_get_string (param, NULL));
}

static void
close_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *param)
{
  PunchPeerServices *self = PUNCH_PEER_SERVICES (widget);

  if (self->services != NULL && self->peer_id != NULL)
    punch_node_services_close_local (self->services, self->peer_id, g_variant_get_string (param, NULL));
}

static void
copy_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *param)
{
  PunchPeerServices *self = PUNCH_PEER_SERVICES (widget);
  const char *local;

  if (self->services == NULL || self->peer_id == NULL)
    return;
  local = punch_node_services_get_local (self->services, self->peer_id, g_variant_get_string (param, NULL));
  if (local == NULL)
    return;
  punch_ui_copy (widget, local);
  toast (self, _("Copied to the clipboard"));
}

static void
refresh_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *param)
{
  PunchPeerServices *self = PUNCH_PEER_SERVICES (widget);

  if (self->services == NULL || self->peer_id == NULL)
    return;
  punch_node_services_refresh_catalog (self->services, self->peer_id);
}

static void
punch_peer_services_map (GtkWidget *widget)
{
  PunchPeerServices *self = PUNCH_PEER_SERVICES (widget);

  GTK_WIDGET_CLASS (punch_peer_services_parent_class)->map (widget);
  refresh_stats (self);
  if (self->tick_id == 0)
    {
      self->tick_id = g_timeout_add_seconds (1, on_tick, self);
      g_source_set_name_by_id (self->tick_id, "[punchline] services tick");
    }
}

static void
punch_peer_services_unmap (GtkWidget *widget)
{
  PunchPeerServices *self = PUNCH_PEER_SERVICES (widget);

  g_clear_handle_id (&self->tick_id, g_source_remove);
  GTK_WIDGET_CLASS (punch_peer_services_parent_class)->unmap (widget);
}

static void
punch_peer_services_dispose (GObject *object)
{
  PunchPeerServices *self = PUNCH_PEER_SERVICES (object);

  g_clear_handle_id (&self->rebuild_id, g_source_remove);
  g_clear_handle_id (&self->tick_id, g_source_remove);
  if (self->services_signals != NULL)
    g_signal_group_set_target (self->services_signals, NULL);
  g_clear_object (&self->services_signals);
  g_clear_object (&self->services);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->peer_id, g_free);
  gtk_widget_dispose_template (GTK_WIDGET (self), PUNCH_TYPE_PEER_SERVICES);
  G_OBJECT_CLASS (punch_peer_services_parent_class)->dispose (object);
}

static void
punch_peer_services_class_init (PunchPeerServicesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = punch_peer_services_dispose;
  widget_class->map = punch_peer_services_map;
  widget_class->unmap = punch_peer_services_unmap;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "peerservices");
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/punchline/Punchline/punch-peer-services.ui");
  gtk_widget_class_bind_template_child (widget_class, PunchPeerServices, box);
  gtk_widget_class_bind_template_child (widget_class, PunchPeerServices, theirs_note);
  gtk_widget_class_bind_template_child (widget_class, PunchPeerServices, theirs_list);
  gtk_widget_class_bind_template_child (widget_class, PunchPeerServices, mine_note);
  gtk_widget_class_bind_template_child (widget_class, PunchPeerServices, mine_list);
  gtk_widget_class_install_action (widget_class, "services.open", "s", open_action);
  gtk_widget_class_install_action (widget_class, "services.close", "s", close_action);
  gtk_widget_class_install_action (widget_class, "services.copy", "s", copy_action);
  gtk_widget_class_install_action (widget_class, "services.refresh", NULL, refresh_action);
}

static void
punch_peer_services_init (PunchPeerServices *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->services_signals = g_signal_group_new (PUNCH_TYPE_NODE_SERVICES);
  g_signal_group_connect_swapped (self->services_signals, "changed", G_CALLBACK (queue_rebuild), self);
  g_signal_group_connect_swapped (self->services_signals, "catalog-changed", G_CALLBACK (on_catalog_changed), self);
  g_signal_group_connect_swapped (self->services_signals, "stream-finished", G_CALLBACK (on_stream_finished), self);
}

GtkWidget *
punch_peer_services_new (void)
{
  return g_object_new (PUNCH_TYPE_PEER_SERVICES, NULL);
}

void
punch_peer_services_set_model (PunchPeerServices *self,
                               PunchNodeServices *services,
                               GSettings         *settings)
{
  g_return_if_fail (PUNCH_IS_PEER_SERVICES (self));
  g_set_object (&self->services, services);
  g_set_object (&self->settings, settings);
  g_signal_group_set_target (self->services_signals, services);
  queue_rebuild (self);
}

void
punch_peer_services_set_peer_id (PunchPeerServices *self,
                                 const char        *peer_id)
{
  g_return_if_fail (PUNCH_IS_PEER_SERVICES (self));
  if (g_strcmp0 (self->peer_id, peer_id) == 0)
    return;
  g_free (self->peer_id);
  self->peer_id = g_strdup (peer_id);
  /* At once: what follows the selection must not show the previous peer. */
  g_clear_handle_id (&self->rebuild_id, g_source_remove);
  rebuild (self);
}
