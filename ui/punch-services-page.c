/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-services-page.h"

#include <glib/gi18n-lib.h>

#include "punch-service-settings.h"
#include "punch-ui-util.h"

struct _PunchServicesPage
{
  AdwPreferencesPage   parent_instance;

  /* Owned references */
  PunchNode           *node;
  GSettings           *settings;
  GPtrArray           *rows;       /* expander rows in services_group */
  GHashTable          *expanded;   /* names of the expanded rows, kept across rebuilds */
  guint                rebuild_id;

  /* Template widgets */
  AdwEntryRow         *name_row;
  AdwEntryRow         *target_row;
  AdwPreferencesGroup *services_group;
};

G_DEFINE_FINAL_TYPE (PunchServicesPage, punch_services_page, ADW_TYPE_PREFERENCES_PAGE)

static void
toast (PunchServicesPage *self,
       const char        *message)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  if (ADW_IS_PREFERENCES_WINDOW (root))
    adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (root), adw_toast_new (message));
}

static void
on_add (PunchServicesPage *self)
{
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_row))));
  g_autofree char *target = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->target_row))));
  g_autoptr (GError) error = NULL;

  if (self->settings == NULL)
    return;
  if (!punch_service_settings_add (self->settings, name, target, &error))
    {
      toast (self, error->message);
      return;
    }
  /* A new service is worth seeing opened: whom to allow is the next step. */
  g_hash_table_add (self->expanded, g_strdup (name));
  gtk_editable_set_text (GTK_EDITABLE (self->name_row), "");
  gtk_editable_set_text (GTK_EDITABLE (self->target_row), "");
}

static void
on_remove_clicked (GtkButton         *button,
                   PunchServicesPage *self)
{
  punch_service_settings_remove (self->settings, g_object_get_data (G_OBJECT (button), "service"));
}

static void
on_allow_toggled (GtkSwitch         *toggle,
                  GParamSpec        *pspec,
                  PunchServicesPage *self)
{
  punch_service_settings_set_allowed (self->settings, g_object_get_data (G_OBJECT (toggle), "service"),
                                      g_object_get_data (G_OBJECT (toggle), "peer"),
                                      gtk_switch_get_active (toggle));
}

static void
on_expanded (AdwExpanderRow    *row,
             GParamSpec        *pspec,
             PunchServicesPage *self)
{
  const char *name = g_object_get_data (G_OBJECT (row), "service");

  if (adw_expander_row_get_expanded (row))
    g_hash_table_add (self->expanded, g_strdup (name));
  else
    g_hash_table_remove (self->expanded, name);
}

static GtkWidget *
peer_row (PunchServicesPage *self,
          const char        *name,
          const char        *peer_id,
          gboolean           allowed)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *toggle = gtk_switch_new ();
  g_autofree char *short_id = punch_ui_short_id (peer_id);
  PunchNodePeer *peer = punch_node_lookup_peer (self->node, peer_id);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), short_id);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row),
                               peer != NULL && punch_node_peer_get_agent_version (peer) != NULL
                               ? punch_node_peer_get_agent_version (peer)
                               : peer != NULL ? _("Known peer") : _("Not in the peers list now"));
  gtk_widget_set_tooltip_text (row, peer_id);
  gtk_widget_set_valign (toggle, GTK_ALIGN_CENTER);
  gtk_switch_set_active (GTK_SWITCH (toggle), allowed);
  g_object_set_data_full (G_OBJECT (toggle), "service", g_strdup (name), g_free);
  g_object_set_data_full (G_OBJECT (toggle), "peer", g_strdup (peer_id), g_free);
  g_signal_connect (toggle, "notify::active", G_CALLBACK (on_allow_toggled), self);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), toggle);
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), toggle);
  return row;
}

/* The peers a service can be shared with: known friends (relays are not
 * friends) and whoever is allowed already. */
static GPtrArray *
candidates (PunchServicesPage  *self,
            const char * const *allowed)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  GListModel *peers = punch_node_get_peers (self->node);

  for (guint i = 0; allowed[i] != NULL; i++)
    g_ptr_array_add (ids, g_strdup (allowed[i]));
  for (guint i = 0; i < g_list_model_get_n_items (peers); i++)
    {
      g_autoptr (PunchNodePeer) peer = g_list_model_get_item (peers, i);
      const char *id = punch_node_peer_get_peer_id (peer);

      if (!punch_node_is_relay (self->node, id)
          && !g_ptr_array_find_with_equal_func (ids, id, g_str_equal, NULL))
        g_ptr_array_add (ids, g_strdup (id));
    }
  return ids;
}

static GtkWidget *
service_row (PunchServicesPage  *self,
             const char         *name,
             const char         *target,
             const char * const *allowed)
{
  GtkWidget *row = adw_expander_row_new ();
  GtkWidget *remove = gtk_button_new_from_icon_name ("user-trash-symbolic");
  g_autoptr (GPtrArray) ids = candidates (self, allowed);
  guint n = g_strv_length ((char **) allowed);
  g_autofree char *who = n == 0 ? g_strdup (_("nobody may use it yet"))
                                : g_strdup_printf (g_dngettext (NULL, "%u peer allowed", "%u peers allowed", n), n);
  g_autofree char *subtitle = g_strdup_printf ("→ %s · %s", target, who);

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  adw_expander_row_set_subtitle (ADW_EXPANDER_ROW (row), subtitle);
  g_object_set_data_full (G_OBJECT (row), "service", g_strdup (name), g_free);
  gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (remove, "flat");
  gtk_widget_set_tooltip_text (remove, _("Stop exposing this service"));
  g_object_set_data_full (G_OBJECT (remove), "service", g_strdup (name), g_free);
  g_signal_connect (remove, "clicked", G_CALLBACK (on_remove_clicked), self);
  adw_expander_row_add_action (ADW_EXPANDER_ROW (row), remove);
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);

      adw_expander_row_add_row (ADW_EXPANDER_ROW (row),
                                peer_row (self, name, id, g_strv_contains (allowed, id)));
    }
  if (ids->len == 0)
    {
      GtkWidget *none = adw_action_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (none), _("No peers yet: connect to a friend first"));
      adw_expander_row_add_row (ADW_EXPANDER_ROW (row), none);
    }
  adw_expander_row_set_expanded (ADW_EXPANDER_ROW (row), g_hash_table_contains (self->expanded, name));
  g_signal_connect (row, "notify::expanded", G_CALLBACK (on_expanded), self);
  return row;
}

static gboolean
rebuild (gpointer user_data)
{
  PunchServicesPage *self = user_data;
  g_autoptr (GVariant) value = NULL;
  GVariantIter iter;
  const char *name, *target;
  g_autofree const char **allowed = NULL;

  self->rebuild_id = 0;
  for (guint i = 0; i < self->rows->len; i++)
    adw_preferences_group_remove (self->services_group, g_ptr_array_index (self->rows, i));
  g_ptr_array_set_size (self->rows, 0);
  if (self->settings == NULL)
    return G_SOURCE_REMOVE;
  value = g_settings_get_value (self->settings, "services");
  g_variant_iter_init (&iter, value);
  while (g_variant_iter_next (&iter, "(&s&s^a&s)", &name, &target, &allowed))
    {
      GtkWidget *row = service_row (self, name, target, allowed);

      adw_preferences_group_add (self->services_group, row);
      g_ptr_array_add (self->rows, row);
      g_clear_pointer (&allowed, g_free);
    }
  if (self->rows->len == 0)
    {
      GtkWidget *row = adw_action_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("No services exposed"));
      adw_preferences_group_add (self->services_group, row);
      g_ptr_array_add (self->rows, row);
    }
  return G_SOURCE_REMOVE;
}

/* From an idle: a switch that changed the settings is not destroyed
 * inside its own signal. */
static void
queue_rebuild (PunchServicesPage *self)
{
  if (self->rebuild_id == 0)
    self->rebuild_id = g_idle_add (rebuild, self);
}

static void
punch_services_page_dispose (GObject *object)
{
  PunchServicesPage *self = PUNCH_SERVICES_PAGE (object);

  g_clear_handle_id (&self->rebuild_id, g_source_remove);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  if (self->node != NULL)
    g_signal_handlers_disconnect_by_data (punch_node_get_peers (self->node), self);
  g_clear_object (&self->settings);
  g_clear_object (&self->node);
  gtk_widget_dispose_template (GTK_WIDGET (self), PUNCH_TYPE_SERVICES_PAGE);
  G_OBJECT_CLASS (punch_services_page_parent_class)->dispose (object);
}

static void
punch_services_page_finalize (GObject *object)
{
  PunchServicesPage *self = PUNCH_SERVICES_PAGE (object);

  g_ptr_array_unref (self->rows);
  g_hash_table_unref (self->expanded);
  G_OBJECT_CLASS (punch_services_page_parent_class)->finalize (object);
}

static void
punch_services_page_class_init (PunchServicesPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = punch_services_page_dispose;
  object_class->finalize = punch_services_page_finalize;
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/punchline/Punchline/punch-services-page.ui");
  gtk_widget_class_bind_template_child (widget_class, PunchServicesPage, name_row);
  gtk_widget_class_bind_template_child (widget_class, PunchServicesPage, target_row);
  gtk_widget_class_bind_template_child (widget_class, PunchServicesPage, services_group);
  gtk_widget_class_bind_template_callback (widget_class, on_add);
}

static void
punch_services_page_init (PunchServicesPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->rows = g_ptr_array_new ();
  self->expanded = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

GtkWidget *
punch_services_page_new (PunchNode *node,
                         GSettings *settings)
{
  PunchServicesPage *self = g_object_new (PUNCH_TYPE_SERVICES_PAGE, NULL);

  self->node = g_object_ref (node);
  self->settings = settings != NULL ? g_object_ref (settings) : NULL;
  if (settings != NULL)
    g_signal_connect_swapped (settings, "changed::services", G_CALLBACK (queue_rebuild), self);
  else
    gtk_widget_set_sensitive (GTK_WIDGET (self), FALSE);
  g_signal_connect_swapped (punch_node_get_peers (node), "items-changed", G_CALLBACK (queue_rebuild), self);
  rebuild (self);
  return GTK_WIDGET (self);
}
