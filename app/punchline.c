/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <adwaita.h>
#include <glib/gi18n.h>
#include <locale.h>

#include "punch-node.h"
#include "punch-node-services.h"
#include "punch-preferences.h"
#include "punch-service-settings.h"
#include "punch-window.h"

/* The GUI entry point: one PunchNode per app instance, on the GTK main
 * loop. A second `punchline …` invocation hands its options to the running
 * instance over D-Bus, which is how the UI tests drive it. */

typedef struct
{
  PunchNode *node;
  PunchNodeServices *services;
  GSettings *settings;
  char      *identity_path;
  GPtrArray *session_relays;   /* from --relay: not saved */
  gboolean   use_saved_relays;
} App;

static App app_state;

static GSettings *
settings_new_if_installed (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr (GSettingsSchema) schema = source ? g_settings_schema_source_lookup (source, APP_ID, TRUE) : NULL;

  if (schema == NULL)
    {
      g_warning ("GSettings schema %s is not installed: settings will not be kept", APP_ID);
      return NULL;
    }
  return g_settings_new (APP_ID);
}

/* Keeps the node's relays in step with the settings (plus --relay ones). */
static void
sync_relays (void)
{
  g_auto (GStrv) saved = NULL;
  GListModel *entries;
  g_autoptr (GPtrArray) remove = g_ptr_array_new_with_free_func (g_free);

  if (app_state.settings == NULL || !app_state.use_saved_relays)
    return;
  saved = g_settings_get_strv (app_state.settings, "relays");
  for (guint i = 0; saved[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;

      if (!punch_node_add_relay (app_state.node, saved[i], &error))
        g_message ("Ignoring saved relay %s: %s", saved[i], error->message);
    }
  entries = punch_node_get_relay_entries (app_state.node);
  for (guint i = 0; i < g_list_model_get_n_items (entries); i++)
    {
      g_autoptr (PunchRelayEntry) entry = g_list_model_get_item (entries, i);
      const char *addr = punch_relay_entry_get_addr (entry);

      if (!g_strv_contains ((const char * const *) saved, addr)
          && !g_ptr_array_find_with_equal_func (app_state.session_relays, addr, g_str_equal, NULL))
        g_ptr_array_add (remove, g_strdup (addr));
    }
  for (guint i = 0; i < remove->len; i++)
    punch_node_remove_relay (app_state.node, g_ptr_array_index (remove, i));
}

static void
sync_security (void)
{
  g_auto (GStrv) order = g_settings_get_strv (app_state.settings, "security");
  g_autoptr (GError) error = NULL;

  if (!punch_host_set_security_protocols (punch_node_get_host (app_state.node), (const char * const *) order, &error))
    g_warning ("Ignoring the security protocols in the settings: %s", error->message);
}

static void
sync_services (void)
{
  punch_service_settings_apply (app_state.settings, app_state.services);
}

static gboolean
start_node (const char *identity, const char * const *listen, GError **error)
{
  app_state.identity_path = identity ? g_strdup (identity) : punch_private_key_default_path ();
  app_state.node = punch_node_new_from_identity (app_state.identity_path, error);
  if (app_state.node == NULL)
    return FALSE;

  if (listen != NULL && listen[0] != NULL)
    {
      for (guint i = 0; listen[i] != NULL; i++)
        if (!punch_node_listen_on (app_state.node, listen[i], error))
          return FALSE;
    }
  else
    {
      guint16 port = 0;
      g_autoptr (GError) local_error = NULL;

      if (app_state.settings != NULL)
        g_settings_get (app_state.settings, "listen-port", "q", &port);
      /* A taken port is no reason not to start: any port will do. */
      if (!punch_node_listen (app_state.node, port, &local_error))
        {
          g_message ("Cannot listen on port %u (%s); using a free port", port, local_error->message);
          if (!punch_node_listen (app_state.node, 0, error))
            return FALSE;
        }
    }
  /* Exposed services (deny by default) come from the settings. */
  app_state.services = punch_node_services_new (app_state.node);
  if (app_state.settings != NULL)
    {
      sync_services ();
      g_signal_connect (app_state.settings, "changed::services", G_CALLBACK (sync_services), NULL);
      g_signal_connect (app_state.settings, "changed::relays", G_CALLBACK (sync_relays), NULL);
      sync_security ();
      g_signal_connect (app_state.settings, "changed::security", G_CALLBACK (sync_security), NULL);
    }
  return TRUE;
}

static PunchWindow *
ensure_window (GApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  /* An existing window is not raised: a second invocation that only reads
   * or exports must not hide an open dialog. */
  if (window != NULL && !PUNCH_IS_WINDOW (window))
    window = gtk_window_get_transient_for (window);
  if (window == NULL || !PUNCH_IS_WINDOW (window))
    {
      window = GTK_WINDOW (punch_window_new (ADW_APPLICATION (app), app_state.node, app_state.settings));
      punch_window_set_services (PUNCH_WINDOW (window), app_state.services);
      gtk_window_present (window);
    }
  return PUNCH_WINDOW (window);
}

static void
on_activate (GApplication *app)
{
  if (app_state.node != NULL)
    gtk_window_present (GTK_WINDOW (ensure_window (app)));
}

static int
on_command_line (GApplication *app, GApplicationCommandLine *cmdline)
{
  GVariantDict *options = g_application_command_line_get_options_dict (cmdline);
  g_autofree char *identity = NULL;
  g_autofree char **listen = NULL;
  g_autofree char **relays = NULL;
  g_autofree char *connect = NULL;
  g_autofree char *export_dir = NULL;
  g_autofree char *page = NULL;
  g_autofree char *peer = NULL;
  g_autofree char *dump = NULL;
  gboolean no_saved = FALSE, quit = FALSE;
  PunchWindow *window;

  g_variant_dict_lookup (options, "identity", "^ay", &identity);
  g_variant_dict_lookup (options, "listen", "^as", &listen);
  g_variant_dict_lookup (options, "relay", "^as", &relays);
  g_variant_dict_lookup (options, "connect", "s", &connect);
  g_variant_dict_lookup (options, "export", "^ay", &export_dir);
  g_variant_dict_lookup (options, "page", "s", &page);
  g_variant_dict_lookup (options, "peer", "s", &peer);
  g_variant_dict_lookup (options, "dump", "^ay", &dump);
  g_variant_dict_lookup (options, "no-saved-relays", "b", &no_saved);
  g_variant_dict_lookup (options, "quit", "b", &quit);

  if (quit)
    {
      g_application_quit (app);
      return 0;
    }

  if (app_state.node == NULL)
    {
      g_autoptr (GError) error = NULL;

      app_state.use_saved_relays = !no_saved;
      if (!start_node (identity, (const char * const *) listen, &error))
        {
          g_application_command_line_printerr (cmdline, "punchline: cannot start the peer: %s\n", error->message);
          return 1;
        }
      window = ensure_window (app);
      sync_relays ();
    }
  else
    window = ensure_window (app);

  for (guint i = 0; relays != NULL && relays[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;

      g_ptr_array_add (app_state.session_relays, g_strdup (relays[i]));
      if (!punch_node_add_relay (app_state.node, relays[i], &error))
        {
          g_autofree char *message = g_strdup_printf (_("Relay %s: %s"), relays[i], error->message);
          punch_window_toast (window, message);
          g_application_command_line_printerr (cmdline, "punchline: %s\n", message);
        }
    }
  if (g_strcmp0 (page, "services") == 0)
    {
      /* The Services page of Preferences: what we expose, to whom. */
      GtkWindow *prefs = punch_preferences_new (GTK_WINDOW (window), app_state.node, app_state.settings,
                                                app_state.identity_path);

      adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (prefs), "services");
      gtk_window_present (prefs);
    }
  else if (page != NULL)
    punch_window_set_page (window, page);
  if (peer != NULL)
    punch_window_select_peer (window, peer);
  if (connect != NULL)
    punch_window_open_connect (window, connect);
  if (export_dir != NULL)
    {
      g_autoptr (GFile) dir = g_application_command_line_create_file_for_arg (cmdline, export_dir);
      punch_window_export (window, dir);
    }
  if (dump != NULL)
    {
      g_autofree char *text = punch_window_dump (window);
      g_autoptr (GFile) file = g_application_command_line_create_file_for_arg (cmdline, dump);
      g_autoptr (GError) error = NULL;

      if (!g_file_replace_contents (file, text, strlen (text), NULL, FALSE, G_FILE_CREATE_NONE, NULL, NULL, &error))
        g_application_command_line_printerr (cmdline, "punchline: %s\n", error->message);
    }
  return 0;
}

static void
preferences_action (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (user_data));

  if (app_state.node == NULL)
    return;
  gtk_window_present (punch_preferences_new (parent, app_state.node, app_state.settings, app_state.identity_path));
}

/* "Open Local Port" of a friend's service, as the peer detail's button
 * does it; an app action so that it can be driven from outside (tests). */
static void
open_local_port_action (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  const char *peer_id, *name;

  if (app_state.node == NULL)
    return;
  g_variant_get (param, "(&s&s)", &peer_id, &name);
  punch_window_open_local_port (ensure_window (G_APPLICATION (user_data)), peer_id, name);
}

/* Exposes NAME → HOST:PORT to the peer IDs given, as Preferences does. */
static void
expose_service_action (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  const char *name, *target;
  g_autofree const char **allowed = NULL;
  g_autoptr (GError) error = NULL;

  if (app_state.node == NULL || app_state.settings == NULL)
    return;
  g_variant_get (param, "(&s&s^a&s)", &name, &target, &allowed);
  if (!punch_service_settings_add (app_state.settings, name, target, &error))
    {
      punch_window_toast (ensure_window (G_APPLICATION (user_data)), error->message);
      return;
    }
  for (guint i = 0; allowed[i] != NULL; i++)
    punch_service_settings_set_allowed (app_state.settings, name, allowed[i], TRUE);
}

static void
about_action (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (user_data));
  const char *developers[] = { "The Punchline developers", NULL };

  adw_show_about_window (parent,
                         "application-name", _("Punchline"),
                         "application-icon", APP_ID,
                         "version", PUNCH_VERSION,
                         "developer-name", "The Punchline developers",
                         "developers", developers,
                         "comments", _("Reach a friend's computer behind NAT through a relay, punch a direct path, and see how it went."),
                         "website", "https://github.com/punchline/punchline",
                         "license-type", GTK_LICENSE_GPL_3_0,
                         "translator-credits", _("translator-credits"),
                         NULL);
}

static void
quit_action (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static void
on_startup (GApplication *app)
{
  static const GActionEntry entries[] = {
    { .name = "preferences", .activate = preferences_action },
    { .name = "about", .activate = about_action },
    { .name = "open-local-port", .activate = open_local_port_action, .parameter_type = "(ss)" },
    { .name = "expose-service", .activate = expose_service_action, .parameter_type = "(ssas)" },
    { .name = "quit", .activate = quit_action },
  };
  const char *quit_accels[] = { "<Control>q", NULL };
  const char *prefs_accels[] = { "<Control>comma", NULL };

  g_action_map_add_action_entries (G_ACTION_MAP (app), entries, G_N_ELEMENTS (entries), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.preferences", prefs_accels);
  app_state.settings = settings_new_if_installed ();
  app_state.session_relays = g_ptr_array_new_with_free_func (g_free);
}

int
main (int argc, char **argv)
{
  static const GOptionEntry options[] = {
    { "identity", 0, 0, G_OPTION_ARG_FILENAME, NULL, N_("Identity key file (default: $XDG_CONFIG_HOME/punchline/identity.key)"), N_("FILE") },
    { "listen", 0, 0, G_OPTION_ARG_STRING_ARRAY, NULL, N_("Listen on this multiaddr instead of the settings' port (repeatable)"), N_("MA") },
    { "relay", 0, 0, G_OPTION_ARG_STRING_ARRAY, NULL, N_("Also use this relay for this session (repeatable)"), N_("MA") },
    { "no-saved-relays", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Do not use the relays kept in the settings"), NULL },
    { "connect", 0, 0, G_OPTION_ARG_STRING, NULL, N_("Connect to a friend's address"), N_("MA") },
    { "export", 0, 0, G_OPTION_ARG_FILENAME, NULL, N_("Write a diagnostics bundle into this folder"), N_("DIR") },
    { "page", 0, 0, G_OPTION_ARG_STRING, NULL, N_("Show a page: overview, relays, peers, or services (in Preferences)"), N_("PAGE") },
    { "peer", 0, 0, G_OPTION_ARG_STRING, NULL, N_("Show this peer in the Peers page"), N_("PEER_ID") },
    { "dump", 0, 0, G_OPTION_ARG_FILENAME, NULL, N_("Write the text the window shows into a file (for tests)"), N_("FILE") },
    { "quit", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Quit the running instance"), NULL },
    { NULL },
  };
  g_autoptr (AdwApplication) app = NULL;
  int status;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_set_application_name (_("Punchline"));
  app = adw_application_new (APP_ID, G_APPLICATION_HANDLES_COMMAND_LINE);
  g_application_add_main_option_entries (G_APPLICATION (app), options);
  g_signal_connect (app, "startup", G_CALLBACK (on_startup), NULL);
  g_signal_connect (app, "activate", G_CALLBACK (on_activate), NULL);
  g_signal_connect (app, "command-line", G_CALLBACK (on_command_line), NULL);
  status = g_application_run (G_APPLICATION (app), argc, argv);

  if (app_state.services != NULL)
    punch_node_services_close (app_state.services);
  g_clear_object (&app_state.services);
  if (app_state.node != NULL)
    punch_node_close (app_state.node);
  g_clear_object (&app_state.node);
  g_clear_object (&app_state.settings);
  g_clear_pointer (&app_state.session_relays, g_ptr_array_unref);
  g_free (app_state.identity_path);
  return status;
}
