/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-preferences.h"

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "punch-services-page.h"

typedef struct
{
  GSettings           *settings;
  AdwPreferencesGroup *relays_group;
  GPtrArray           *relay_rows;
  char                *identity_path;
  gulong               changed_id;
} Prefs;

static void
prefs_free (Prefs *p)
{
  if (p->settings != NULL)
    g_clear_signal_handler (&p->changed_id, p->settings);
  g_clear_object (&p->settings);
  g_clear_pointer (&p->relay_rows, g_ptr_array_unref);
  g_free (p->identity_path);
  g_free (p);
}

static void fill_relays (Prefs *p);

static void
on_remove (GtkButton *button, Prefs *p)
{
  const char *addr = g_object_get_data (G_OBJECT (button), "addr");
  g_auto (GStrv) relays = g_settings_get_strv (p->settings, "relays");
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) kept = NULL;

  for (guint i = 0; relays[i] != NULL; i++)
    if (g_strcmp0 (relays[i], addr) != 0)
      g_strv_builder_add (builder, relays[i]);
  kept = g_strv_builder_end (builder);
  g_settings_set_strv (p->settings, "relays", (const char * const *) kept);
}

static void
on_add (AdwEntryRow *row, Prefs *p)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))));
  g_auto (GStrv) relays = g_settings_get_strv (p->settings, "relays");
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr (PunchMultiaddr) ma = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) all = NULL;

  ma = punch_multiaddr_new_from_string (text, &error);
  if (ma == NULL)
    {
      gtk_widget_add_css_class (GTK_WIDGET (row), "error");
      gtk_widget_set_tooltip_text (GTK_WIDGET (row), error->message);
      return;
    }
  gtk_widget_remove_css_class (GTK_WIDGET (row), "error");
  gtk_widget_set_tooltip_text (GTK_WIDGET (row), NULL);
  if (!g_strv_contains ((const char * const *) relays, text))
    {
      g_strv_builder_addv (builder, (const char **) relays);
      g_strv_builder_add (builder, text);
      all = g_strv_builder_end (builder);
      g_settings_set_strv (p->settings, "relays", (const char * const *) all);
    }
  gtk_editable_set_text (GTK_EDITABLE (row), "");
}

static void
fill_relays (Prefs *p)
{
  g_auto (GStrv) relays = g_settings_get_strv (p->settings, "relays");

  for (guint i = 0; i < p->relay_rows->len; i++)
    adw_preferences_group_remove (p->relays_group, g_ptr_array_index (p->relay_rows, i));
  g_ptr_array_set_size (p->relay_rows, 0);
  for (guint i = 0; relays[i] != NULL; i++)
    {
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *remove = gtk_button_new_from_icon_name ("user-trash-symbolic");

      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), relays[i]);
      gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (remove, "flat");
      gtk_widget_set_tooltip_text (remove, _("Remove relay"));
      g_object_set_data_full (G_OBJECT (remove), "addr", g_strdup (relays[i]), g_free);
      g_signal_connect (remove, "clicked", G_CALLBACK (on_remove), p);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), remove);
      adw_preferences_group_add (p->relays_group, row);
      g_ptr_array_add (p->relay_rows, row);
    }
}

static void
on_reset_response (AdwMessageDialog *dialog, const char *response, GtkWindow *window)
{
  Prefs *p = g_object_get_data (G_OBJECT (window), "prefs");

  if (g_strcmp0 (response, "reset") != 0)
    return;
  if (g_unlink (p->identity_path) != 0)
    {
      g_autofree char *msg = g_strdup_printf (_("Could not remove %s: %s"), p->identity_path, g_strerror (errno));
      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (window), adw_toast_new (msg));
      return;
    }
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (window),
                                    adw_toast_new (_("Identity removed: a new one is made at the next start")));
}

static void
on_reset_clicked (GtkButton *button, GtkWindow *window)
{
  GtkWidget *dialog = adw_message_dialog_new (window, _("Reset Identity?"),
                                              _("Your peer ID changes at the next start. Friends who saved your "
                                                "address will no longer reach you."));

  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"), "reset", _("_Reset"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "reset", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect (dialog, "response", G_CALLBACK (on_reset_response), window);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* Export: the key is read and written again with G_FILE_CREATE_PRIVATE, so
 * the copy is 0600 like the original whatever the umask. */
static void
export_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GtkWindow) window = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *msg = NULL;

  if (!g_file_replace_contents_finish (G_FILE (source), result, NULL, &error))
    msg = g_strdup_printf (_("Could not export the identity: %s"), error->message);
  else
    msg = g_strdup (_("Identity exported. Keep it private: it is who you are."));
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (window), adw_toast_new (msg));
}

static void
on_export_response (GtkNativeDialog *chooser, int response, GtkWindow *window)
{
  Prefs *p = g_object_get_data (G_OBJECT (window), "prefs");
  g_autoptr (GFile) target = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    target = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  g_object_unref (chooser);
  if (target == NULL)
    return;
  /* A key file is a hundred bytes: reading it is no blocking worth a task. */
  if (!g_file_get_contents (p->identity_path, &contents, &len, &error))
    {
      g_autofree char *msg = g_strdup_printf (_("Could not export the identity: %s"), error->message);
      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (window), adw_toast_new (msg));
      return;
    }
  g_file_replace_contents_bytes_async (target, g_bytes_new_take (g_steal_pointer (&contents), len), NULL, FALSE,
                                       G_FILE_CREATE_PRIVATE | G_FILE_CREATE_REPLACE_DESTINATION, NULL,
                                       export_written, g_object_ref (window));
}

static void
on_export_clicked (GtkButton *button, GtkWindow *window)
{
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (_("Export Identity"), window,
                                                               GTK_FILE_CHOOSER_ACTION_SAVE,
                                                               _("_Export"), _("_Cancel"));

  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), "identity.key");
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (on_export_response), window);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* The security orders a person can pick, as the settings store them. */
static const struct
{
  const char *label;
  const char *order[3];
} security_choices[] = {
  { N_("Noise, then TLS"), { "/noise", "/tls/1.0.0", NULL } },
  { N_("TLS, then Noise"), { "/tls/1.0.0", "/noise", NULL } },
  { N_("Noise only"), { "/noise", NULL, NULL } },
  { N_("TLS only"), { "/tls/1.0.0", NULL, NULL } },
};

static void
on_security_selected (AdwComboRow *row, GParamSpec *pspec, GSettings *settings)
{
  guint i = adw_combo_row_get_selected (row);

  if (i < G_N_ELEMENTS (security_choices))
    g_settings_set_strv (settings, "security", security_choices[i].order);
}

static GtkWidget *
security_row_new (GSettings *settings)
{
  GtkWidget *row = adw_combo_row_new ();
  g_autoptr (GtkStringList) labels = gtk_string_list_new (NULL);
  g_auto (GStrv) current = settings ? g_settings_get_strv (settings, "security") : NULL;

  for (guint i = 0; i < G_N_ELEMENTS (security_choices); i++)
    gtk_string_list_append (labels, _(security_choices[i].label));
  adw_combo_row_set_model (ADW_COMBO_ROW (row), G_LIST_MODEL (labels));
  if (current != NULL)
    for (guint i = 0; i < G_N_ELEMENTS (security_choices); i++)
      if (g_strv_equal ((const char * const *) current, security_choices[i].order))
        adw_combo_row_set_selected (ADW_COMBO_ROW (row), i);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("Security protocols"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _("What new connections offer, in order; incoming ones accept either"));
  if (settings != NULL)
    g_signal_connect_object (row, "notify::selected", G_CALLBACK (on_security_selected), settings, 0);
  else
    gtk_widget_set_sensitive (row, FALSE);
  return row;
}

static void
on_copy_id (GtkButton *button, const char *id)
{
  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (button)), id);
}

GtkWindow *
punch_preferences_new (GtkWindow *parent, PunchNode *node, GSettings *settings, const char *identity_path)
{
  GtkWidget *window = adw_preferences_window_new ();
  GtkWidget *page = adw_preferences_page_new ();
  GtkWidget *network = adw_preferences_group_new ();
  GtkWidget *identity = adw_preferences_group_new ();
  GtkWidget *port_row = adw_action_row_new ();
  GtkWidget *spin = gtk_spin_button_new_with_range (0, 65535, 1);
  GtkWidget *id_row = adw_action_row_new ();
  GtkWidget *copy = gtk_button_new_from_icon_name ("edit-copy-symbolic");
  GtkWidget *file_row = adw_action_row_new ();
  GtkWidget *reset_row = adw_action_row_new ();
  GtkWidget *reset = gtk_button_new_with_mnemonic (_("_Reset…"));
  Prefs *p = g_new0 (Prefs, 1);

  adw_preferences_page_set_title (ADW_PREFERENCES_PAGE (page), _("General"));
  adw_preferences_page_set_icon_name (ADW_PREFERENCES_PAGE (page), "preferences-system-symbolic");
  p->settings = settings ? g_object_ref (settings) : NULL;
  p->relay_rows = g_ptr_array_new ();
  p->identity_path = g_strdup (identity_path);
  g_object_set_data_full (G_OBJECT (window), "prefs", p, (GDestroyNotify) prefs_free);
  gtk_window_set_transient_for (GTK_WINDOW (window), parent);
  gtk_window_set_modal (GTK_WINDOW (window), TRUE);

  p->relays_group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  adw_preferences_group_set_title (p->relays_group, _("Relays"));
  {
    /* The description is markup; the text has angle brackets. */
    g_autofree char *escaped = g_markup_escape_text (_("Circuit Relay v2 servers to keep a reservation on: multiaddrs "
                                                       "ending in /p2p/<relay ID>, or /dnsaddr names."), -1);
    adw_preferences_group_set_description (p->relays_group, escaped);
  }
  if (settings != NULL)
    {
      GtkWidget *add = adw_entry_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (add), _("Add a relay"));
      adw_entry_row_set_show_apply_button (ADW_ENTRY_ROW (add), TRUE);
      g_signal_connect (add, "apply", G_CALLBACK (on_add), p);
      adw_preferences_group_add (p->relays_group, add);
      fill_relays (p);
      p->changed_id = g_signal_connect_swapped (settings, "changed::relays", G_CALLBACK (fill_relays), p);
    }
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), p->relays_group);

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (network), _("Network"));
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (port_row), _("Listen port"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (port_row), _("TCP port for direct connections; 0 picks a free one. Applies at the next start."));
  gtk_widget_set_valign (spin, GTK_ALIGN_CENTER);
  if (settings != NULL)
    g_settings_bind (settings, "listen-port", spin, "value", G_SETTINGS_BIND_DEFAULT);
  else
    gtk_widget_set_sensitive (spin, FALSE);
  adw_action_row_add_suffix (ADW_ACTION_ROW (port_row), spin);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (network), port_row);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (network), security_row_new (settings));
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (network));

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (identity), _("Identity"));
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (id_row), punch_node_get_peer_id (node));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (id_row), _("Peer ID"));
  gtk_widget_add_css_class (id_row, "monospace-title");
  gtk_widget_set_valign (copy, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (copy, "flat");
  gtk_widget_set_tooltip_text (copy, _("Copy peer ID"));
  g_signal_connect_data (copy, "clicked", G_CALLBACK (on_copy_id), g_strdup (punch_node_get_peer_id (node)),
                         (GClosureNotify) (void (*) (void)) g_free, 0);
  adw_action_row_add_suffix (ADW_ACTION_ROW (id_row), copy);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (identity), id_row);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (file_row), identity_path ? identity_path : "");
  adw_action_row_set_subtitle (ADW_ACTION_ROW (file_row), _("Key file (private: back it up to keep your peer ID)"));
  {
    GtkWidget *export = gtk_button_new_with_mnemonic (_("E_xport…"));

    gtk_widget_set_valign (export, GTK_ALIGN_CENTER);
    g_signal_connect (export, "clicked", G_CALLBACK (on_export_clicked), window);
    adw_action_row_add_suffix (ADW_ACTION_ROW (file_row), export);
  }
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (identity), file_row);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (reset_row), _("Reset identity"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (reset_row), _("Make a new key and peer ID at the next start"));
  gtk_widget_set_valign (reset, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (reset, "destructive-action");
  g_signal_connect (reset, "clicked", G_CALLBACK (on_reset_clicked), window);
  adw_action_row_add_suffix (ADW_ACTION_ROW (reset_row), reset);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (identity), reset_row);
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (identity));

  adw_preferences_window_add (ADW_PREFERENCES_WINDOW (window), ADW_PREFERENCES_PAGE (page));
  /* A second page: the window now shows a switcher with the pages' titles. */
  adw_preferences_window_add (ADW_PREFERENCES_WINDOW (window),
                              ADW_PREFERENCES_PAGE (punch_services_page_new (node, settings)));
  return GTK_WINDOW (window);
}
