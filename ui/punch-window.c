/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-window.h"

#include <glib/gi18n-lib.h>

struct _PunchWindow
{
  AdwApplicationWindow parent_instance;

  PunchHost *host;

  AdwStatusPage *status_page;
  GtkLabel      *peer_id_label;
  GtkListBox    *addrs_list;
};

G_DEFINE_FINAL_TYPE (PunchWindow, punch_window, ADW_TYPE_APPLICATION_WINDOW)

enum
{
  PROP_0,
  PROP_HOST,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
punch_window_refresh_addrs (PunchWindow *self)
{
  g_autoptr (GPtrArray) addrs = NULL;
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->addrs_list))) != NULL)
    gtk_list_box_remove (self->addrs_list, child);

  if (self->host == NULL)
    return;

  addrs = punch_host_get_listen_addrs (self->host);
  for (guint i = 0; i < addrs->len; i++)
    {
      g_autofree char *text = punch_multiaddr_to_string (g_ptr_array_index (addrs, i));
      g_autofree char *full = g_strdup_printf ("%s/p2p/%s", text,
                                               punch_peer_id_to_string (punch_host_get_peer_id (self->host)));
      GtkWidget *row = adw_action_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), full);
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      gtk_widget_add_css_class (row, "monospace");
      gtk_list_box_append (self->addrs_list, row);
    }
}

static void
punch_window_constructed (GObject *object)
{
  PunchWindow *self = PUNCH_WINDOW (object);

  G_OBJECT_CLASS (punch_window_parent_class)->constructed (object);

  if (self->host != NULL)
    {
      gtk_label_set_text (self->peer_id_label,
                          punch_peer_id_to_string (punch_host_get_peer_id (self->host)));
      g_signal_connect_object (self->host, "listen-addrs-changed",
                               G_CALLBACK (punch_window_refresh_addrs), self, G_CONNECT_SWAPPED);
    }
  punch_window_refresh_addrs (self);
}

static void
punch_window_dispose (GObject *object)
{
  PunchWindow *self = PUNCH_WINDOW (object);

  g_clear_object (&self->host);
  gtk_widget_dispose_template (GTK_WIDGET (self), PUNCH_TYPE_WINDOW);

  G_OBJECT_CLASS (punch_window_parent_class)->dispose (object);
}

static void
punch_window_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  PunchWindow *self = PUNCH_WINDOW (object);

  switch (prop_id)
    {
    case PROP_HOST:
      self->host = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_window_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  PunchWindow *self = PUNCH_WINDOW (object);

  switch (prop_id)
    {
    case PROP_HOST:
      g_value_set_object (value, self->host);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_window_class_init (PunchWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = punch_window_constructed;
  object_class->dispose = punch_window_dispose;
  object_class->set_property = punch_window_set_property;
  object_class->get_property = punch_window_get_property;

  properties[PROP_HOST] =
    g_param_spec_object ("host", NULL, NULL, PUNCH_TYPE_HOST,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/punchline/Punchline/punch-window.ui");
  gtk_widget_class_bind_template_child (widget_class, PunchWindow, status_page);
  gtk_widget_class_bind_template_child (widget_class, PunchWindow, peer_id_label);
  gtk_widget_class_bind_template_child (widget_class, PunchWindow, addrs_list);
}

static void
punch_window_init (PunchWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

PunchWindow *
punch_window_new (AdwApplication *app, PunchHost *host)
{
  return g_object_new (PUNCH_TYPE_WINDOW, "application", app, "host", host, NULL);
}
