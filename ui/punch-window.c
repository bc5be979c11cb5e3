/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-window.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "punch-addr-scope.h"
#include "punch-connect-dialog.h"
#include "punch-diagnostics.h"
#include "punch-peer-detail.h"
#include "punch-qr-code.h"
#include "punch-ui-util.h"

struct _PunchWindow
{
  AdwApplicationWindow parent_instance;

  /* Owned references */
  PunchNode        *node;
  GSettings        *settings;
  GCancellable     *cancellable;  /* cancelled when the window goes */
  GtkWidget        *connect_dialog;  /* weak: one at a time */
  guint             tick;

  /* Template widgets */
  AdwToastOverlay  *toast_overlay;
  AdwViewStack     *stack;
  GtkListBox       *identity_list;
  GtkLabel         *summary_label;
  GtkListBox       *addrs_list;
  GtkListBox       *reservations_list;
  GtkListBox       *relay_entries_list;
  GtkEntry         *relay_entry;
  GtkLabel         *relay_error_label;
  GtkLabel         *peers_header;
  GtkListBox       *peers_list;
  PunchPeerDetail  *detail;
};

G_DEFINE_FINAL_TYPE (PunchWindow, punch_window, ADW_TYPE_APPLICATION_WINDOW)

/* ---- small helpers ---- */

static GtkWidget *
copy_button (const char *text, const char *tooltip)
{
  GtkWidget *button = gtk_button_new_from_icon_name ("edit-copy-symbolic");

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (button, tooltip);
  gtk_widget_add_css_class (button, "flat");
  g_object_set_data_full (G_OBJECT (button), "copy-text", g_strdup (text), g_free);
  return button;
}

static void
on_copy_clicked (GtkButton *button, PunchWindow *self)
{
  punch_ui_copy (GTK_WIDGET (button), g_object_get_data (G_OBJECT (button), "copy-text"));
  punch_window_toast (self, _("Copied to the clipboard"));
}

void
punch_window_toast (PunchWindow *self, const char *message)
{
  AdwToast *toast = adw_toast_new (message);

  adw_toast_set_timeout (toast, 3);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

/* ---- Overview ---- */

static const char *
describe_addr (const char *addr)
{
  g_autoptr (PunchMultiaddr) ma = punch_multiaddr_new_from_string (addr, NULL);

  if (strstr (addr, "/p2p-circuit") != NULL)
    return _("Relayed: works from anywhere while the reservation lasts");
  if (ma == NULL)
    return "";
  switch (punch_multiaddr_get_scope (ma))
    {
    case PUNCH_ADDR_SCOPE_PUBLIC:
      return _("Public: direct, if no firewall is in the way");
    case PUNCH_ADDR_SCOPE_PRIVATE:
      return _("Local network only");
    case PUNCH_ADDR_SCOPE_LOOPBACK:
      return _("This computer only");
    case PUNCH_ADDR_SCOPE_LINK_LOCAL:
    case PUNCH_ADDR_SCOPE_UNUSABLE:
    default:
      return _("Link-local");
    }
}

static void
refresh_overview (PunchWindow *self)
{
  g_auto (GStrv) addrs = punch_node_get_my_addrs (self->node);
  GtkWidget *child;

  gtk_label_set_text (self->summary_label, punch_node_get_reachability (self->node));
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->addrs_list))) != NULL)
    gtk_list_box_remove (self->addrs_list, child);
  for (guint i = 0; addrs[i] != NULL; i++)
    {
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *button = copy_button (addrs[i], _("Copy address"));

      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), addrs[i]);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), describe_addr (addrs[i]));
      adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 3);
      gtk_widget_add_css_class (row, "monospace-title");
      g_signal_connect (button, "clicked", G_CALLBACK (on_copy_clicked), self);
      if (punch_qr_code_is_supported ())
        {
          /* For a friend holding a phone up to the screen. */
          GtkWidget *qr_button = gtk_menu_button_new ();
          GtkWidget *popover = gtk_popover_new ();
          GtkWidget *qr = punch_qr_code_new (addrs[i]);

          gtk_widget_set_size_request (qr, 280, 280);
          gtk_popover_set_child (GTK_POPOVER (popover), qr);
          gtk_menu_button_set_icon_name (GTK_MENU_BUTTON (qr_button), "qr-code-symbolic");
          gtk_menu_button_set_popover (GTK_MENU_BUTTON (qr_button), popover);
          gtk_widget_set_tooltip_text (qr_button, _("Show as QR code"));
          gtk_widget_set_valign (qr_button, GTK_ALIGN_CENTER);
          gtk_widget_add_css_class (qr_button, "flat");
          adw_action_row_add_suffix (ADW_ACTION_ROW (row), qr_button);
        }
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
      adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), button);
      gtk_list_box_append (self->addrs_list, row);
    }
  if (addrs[0] == NULL)
    {
      GtkWidget *row = adw_action_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("No addresses yet"));
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _("Not listening, and no relay reservation"));
      gtk_list_box_append (self->addrs_list, row);
    }
}

static void
build_identity (PunchWindow *self)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *button = copy_button (punch_node_get_peer_id (self->node), _("Copy peer ID"));

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), punch_node_get_peer_id (self->node));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _("Who you are to other peers: derived from your key, which never leaves this computer"));
  gtk_widget_add_css_class (row, "monospace-title");
  g_signal_connect (button, "clicked", G_CALLBACK (on_copy_clicked), self);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
  gtk_list_box_append (self->identity_list, row);
}

/* ---- Relays ---- */

static const char *
reservation_state_label (PunchReservationState state)
{
  switch (state)
    {
    case PUNCH_RESERVATION_STATE_CONNECTING:
      return _("Connecting");
    case PUNCH_RESERVATION_STATE_RESERVING:
      return _("Reserving");
    case PUNCH_RESERVATION_STATE_RESERVED:
      return _("Reserved");
    case PUNCH_RESERVATION_STATE_REFRESHING:
      return _("Refreshing");
    case PUNCH_RESERVATION_STATE_EXPIRED:
      return _("Expired");
    case PUNCH_RESERVATION_STATE_FAILED:
    default:
      return _("Failed");
    }
}

static char *
format_bytes (guint64 bytes)
{
  return g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
}

static void
refresh_reservation_row (PunchWindow *self, GtkWidget *row)
{
  PunchRelayReservation *rsv = g_object_get_data (G_OBJECT (row), "reservation");
  GtkLabel *badge = g_object_get_data (G_OBJECT (row), "badge");
  PunchReservationState state = punch_relay_reservation_get_state (rsv);
  g_autoptr (GString) sub = g_string_new (NULL);
  gint64 expire = punch_relay_reservation_get_expire (rsv);
  gint64 left = expire - g_get_real_time () / G_USEC_PER_SEC;
  guint32 limit_s = punch_relay_reservation_get_limit_duration (rsv);
  guint64 limit_b = punch_relay_reservation_get_limit_data (rsv);
  PunchRttSeries *rtt = punch_node_get_relay_rtt (self->node, punch_peer_id_to_string (punch_relay_reservation_get_relay_peer_id (rsv)));
  g_autofree char *rtt_text = punch_ui_format_rtt (rtt ? punch_rtt_series_get_last (rtt) : -1);
  static const char *const state_classes[] = { "relayed", "punching", "direct", "none", "error" };

  gtk_label_set_text (badge, reservation_state_label (state));
  for (guint i = 0; i < G_N_ELEMENTS (state_classes); i++)
    gtk_widget_remove_css_class (GTK_WIDGET (badge), state_classes[i]);
  gtk_widget_add_css_class (GTK_WIDGET (badge),
                            state == PUNCH_RESERVATION_STATE_RESERVED || state == PUNCH_RESERVATION_STATE_REFRESHING ? "direct"
                            : state == PUNCH_RESERVATION_STATE_FAILED || state == PUNCH_RESERVATION_STATE_EXPIRED ? "error"
                            : "punching");

  g_string_append_printf (sub, _("RTT %s"), rtt_text);
  if (punch_relay_reservation_is_active (rsv) && expire > 0)
    {
      g_autofree char *countdown = punch_ui_format_countdown (left);
      g_string_append_printf (sub, _(" · expires in %s"), countdown);
    }
  if (limit_s > 0 || limit_b > 0)
    {
      g_autofree char *data = limit_b > 0 ? format_bytes (limit_b) : g_strdup (_("no data limit"));
      g_autofree char *dur = limit_s > 0 ? (limit_s % 60 == 0 ? g_strdup_printf (_("%u min"), limit_s / 60) : g_strdup_printf (_("%u min %u s"), limit_s / 60, limit_s % 60)) : g_strdup (_("no time limit"));

      g_string_append_printf (sub, _(" · circuits limited to %s and %s each way"), dur, data);
    }
  else if (punch_relay_reservation_is_active (rsv))
    g_string_append (sub, _(" · circuits unlimited"));
  switch (punch_relay_reservation_get_voucher_state (rsv))
    {
    case PUNCH_VOUCHER_VALID:
      g_string_append (sub, _(" · voucher valid"));
      break;
    case PUNCH_VOUCHER_INVALID:
      g_string_append_printf (sub, _(" · voucher INVALID: %s"), punch_relay_reservation_get_voucher_error (rsv));
      break;
    case PUNCH_VOUCHER_NONE:
    default:
      if (punch_relay_reservation_is_active (rsv))
        g_string_append (sub, _(" · no voucher"));
      break;
    }
  if (punch_relay_reservation_get_reason (rsv) != NULL && !punch_relay_reservation_is_active (rsv))
    g_string_append_printf (sub, " · %s", punch_relay_reservation_get_reason (rsv));
  if (punch_relay_reservation_get_attempts (rsv) > 1 && !punch_relay_reservation_is_active (rsv))
    g_string_append_printf (sub, _(" · attempt %u"), punch_relay_reservation_get_attempts (rsv));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), sub->str);
}

static void
on_reservation_notify (GtkWidget *row)
{
  PunchWindow *self = PUNCH_WINDOW (gtk_widget_get_root (row));

  if (PUNCH_IS_WINDOW (self))
    refresh_reservation_row (self, row);
}

static GtkWidget *
create_reservation_row (gpointer item, gpointer user_data)
{
  PunchWindow *self = user_data;
  PunchRelayReservation *rsv = item;
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *badge = gtk_label_new (NULL);
  g_autofree char *addr = punch_multiaddr_to_string (punch_relay_reservation_get_relay_addr (rsv));

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), addr);
  adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 2);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 3);
  gtk_widget_add_css_class (badge, "path-badge");
  gtk_widget_set_valign (badge, GTK_ALIGN_CENTER);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), badge);
  g_object_set_data_full (G_OBJECT (row), "reservation", g_object_ref (rsv), g_object_unref);
  g_object_set_data (G_OBJECT (row), "badge", badge);
  g_signal_connect_object (rsv, "notify", G_CALLBACK (on_reservation_notify), row, G_CONNECT_SWAPPED);
  refresh_reservation_row (self, row);
  return row;
}

static void
on_remove_relay (GtkButton *button, PunchWindow *self)
{
  const char *addr = g_object_get_data (G_OBJECT (button), "relay-addr");
  g_autofree char *copy = g_strdup (addr);

  punch_node_remove_relay (self->node, copy);
  if (self->settings != NULL)
    {
      g_auto (GStrv) relays = g_settings_get_strv (self->settings, "relays");
      g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
      g_auto (GStrv) kept = NULL;

      for (guint i = 0; relays[i] != NULL; i++)
        if (g_strcmp0 (relays[i], copy) != 0)
          g_strv_builder_add (builder, relays[i]);
      kept = g_strv_builder_end (builder);
      g_settings_set_strv (self->settings, "relays", (const char * const *) kept);
    }
}

static void
refresh_entry_row (GtkWidget *row)
{
  PunchRelayEntry *entry = g_object_get_data (G_OBJECT (row), "entry");
  g_autofree char *text = NULL;

  switch (punch_relay_entry_get_status (entry))
    {
    case PUNCH_RELAY_ENTRY_RESOLVING:
      text = g_strdup (_("Looking up the relays behind this name…"));
      break;
    case PUNCH_RELAY_ENTRY_ACTIVE:
      text = g_strdup_printf (g_dngettext (NULL, "%u relay in use", "%u relays in use", punch_relay_entry_get_n_relays (entry)),
                              punch_relay_entry_get_n_relays (entry));
      break;
    case PUNCH_RELAY_ENTRY_FAILED:
    default:
      text = g_strdup_printf (_("Failed: %s"), punch_relay_entry_get_error (entry));
      break;
    }
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), text);
}

static GtkWidget *
create_entry_row (gpointer item, gpointer user_data)
{
  PunchWindow *self = user_data;
  PunchRelayEntry *entry = item;
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *remove = gtk_button_new_from_icon_name ("user-trash-symbolic");

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), punch_relay_entry_get_addr (entry));
  adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 2);
  gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (remove, "flat");
  gtk_widget_set_tooltip_text (remove, _("Remove relay"));
  g_object_set_data_full (G_OBJECT (remove), "relay-addr", g_strdup (punch_relay_entry_get_addr (entry)), g_free);
  g_signal_connect (remove, "clicked", G_CALLBACK (on_remove_relay), self);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), remove);
  g_object_set_data_full (G_OBJECT (row), "entry", g_object_ref (entry), g_object_unref);
  g_signal_connect_object (entry, "notify", G_CALLBACK (refresh_entry_row), row, G_CONNECT_SWAPPED);
  refresh_entry_row (row);
  return row;
}

static void
on_add_relay (PunchWindow *self)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->relay_entry))));
  g_autoptr (GError) error = NULL;

  if (*text == '\0')
    return;
  if (!punch_node_add_relay (self->node, text, &error))
    {
      gtk_label_set_text (self->relay_error_label, error->message);
      gtk_widget_set_visible (GTK_WIDGET (self->relay_error_label), TRUE);
      gtk_widget_add_css_class (GTK_WIDGET (self->relay_entry), "error");
      return;
    }
  gtk_widget_set_visible (GTK_WIDGET (self->relay_error_label), FALSE);
  gtk_widget_remove_css_class (GTK_WIDGET (self->relay_entry), "error");
  gtk_editable_set_text (GTK_EDITABLE (self->relay_entry), "");
  if (self->settings != NULL)
    {
      g_auto (GStrv) relays = g_settings_get_strv (self->settings, "relays");

      if (!g_strv_contains ((const char * const *) relays, text))
        {
          g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
          g_auto (GStrv) all = NULL;

          g_strv_builder_addv (builder, (const char **) relays);
          g_strv_builder_add (builder, text);
          all = g_strv_builder_end (builder);
          g_settings_set_strv (self->settings, "relays", (const char * const *) all);
        }
    }
}

/* ---- Peers ---- */

static void
refresh_peer_row (GtkWidget *row)
{
  PunchNodePeer *peer = g_object_get_data (G_OBJECT (row), "peer");
  GtkLabel *badge = g_object_get_data (G_OBJECT (row), "badge");
  g_autofree char *rtt = punch_ui_format_rtt (punch_node_peer_get_rtt (peer));
  g_autofree char *since = punch_ui_format_clock (punch_node_peer_get_since (peer));
  g_autofree char *sub = g_strdup_printf (_("RTT %s · %s · since %s"), rtt,
                                          punch_node_peer_get_agent_version (peer) ? punch_node_peer_get_agent_version (peer)
                                                                                   : _("unknown agent"),
                                          since);

  punch_ui_update_badge (badge, peer);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), sub);
}

static void
refresh_peers_header (PunchWindow *self)
{
  GListModel *peers = punch_node_get_peers (self->node);
  guint n = g_list_model_get_n_items (peers), direct = 0;
  g_autofree char *text = NULL;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchNodePeer) peer = g_list_model_get_item (peers, i);

      if (punch_node_peer_get_path (peer) == PUNCH_PEER_PATH_DIRECT)
        direct++;
    }
  if (n == 0)
    text = g_strdup (_("No peers yet"));
  else
    text = g_strdup_printf (g_dngettext (NULL, "%u of %u peer direct", "%u of %u peers direct", n), direct, n);
  gtk_label_set_text (self->peers_header, text);
}

static void
on_peer_notify (GtkWidget *row)
{
  PunchWindow *self = PUNCH_WINDOW (gtk_widget_get_root (row));

  refresh_peer_row (row);
  if (PUNCH_IS_WINDOW (self))
    refresh_peers_header (self);
}

static GtkWidget *
create_peer_row (gpointer item, gpointer user_data)
{
  PunchNodePeer *peer = item;
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *badge = gtk_label_new (NULL);
  g_autofree char *short_id = punch_ui_short_id (punch_node_peer_get_peer_id (peer));

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), short_id);
  gtk_widget_set_tooltip_text (row, punch_node_peer_get_peer_id (peer));
  gtk_widget_add_css_class (badge, "path-badge");
  gtk_widget_set_valign (badge, GTK_ALIGN_CENTER);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), badge);
  g_object_set_data_full (G_OBJECT (row), "peer", g_object_ref (peer), g_object_unref);
  g_object_set_data (G_OBJECT (row), "badge", badge);
  g_signal_connect_object (peer, "notify", G_CALLBACK (on_peer_notify), row, G_CONNECT_SWAPPED);
  refresh_peer_row (row);
  return row;
}

static void
on_peer_selected (PunchWindow *self, GtkListBoxRow *row)
{
  punch_peer_detail_set_peer (self->detail, row ? g_object_get_data (G_OBJECT (row), "peer") : NULL);
}

static void
select_peer (PunchWindow *self, const char *peer_id)
{
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->peers_list)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      PunchNodePeer *peer = g_object_get_data (G_OBJECT (child), "peer");

      if (peer != NULL && (peer_id == NULL || g_strcmp0 (punch_node_peer_get_peer_id (peer), peer_id) == 0))
        {
          gtk_list_box_select_row (self->peers_list, GTK_LIST_BOX_ROW (child));
          return;
        }
    }
}

static void
on_peers_changed (PunchWindow *self)
{
  refresh_peers_header (self);
  if (gtk_list_box_get_selected_row (self->peers_list) == NULL)
    select_peer (self, NULL);
}

/* ---- the 1 Hz tick: countdowns, RTTs, "since" ---- */

static gboolean
on_tick (gpointer user_data)
{
  PunchWindow *self = user_data;

  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->reservations_list)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (g_object_get_data (G_OBJECT (child), "reservation") != NULL)
      refresh_reservation_row (self, child);
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->peers_list)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (g_object_get_data (G_OBJECT (child), "peer") != NULL)
      refresh_peer_row (child);
  return G_SOURCE_CONTINUE;
}

/* ---- actions ---- */

static void
on_connected (PunchWindow *self, const char *peer_id)
{
  punch_window_set_page (self, "peers");
  select_peer (self, peer_id);
}

void
punch_window_open_connect (PunchWindow *self, const char *addr)
{
  PunchConnectDialog *dialog;

  if (self->connect_dialog == NULL)
    {
      self->connect_dialog = GTK_WIDGET (punch_connect_dialog_new (GTK_WINDOW (self), self->node));
      g_object_add_weak_pointer (G_OBJECT (self->connect_dialog), (gpointer *) &self->connect_dialog);
      g_signal_connect_object (self->connect_dialog, "connected", G_CALLBACK (on_connected), self, G_CONNECT_SWAPPED);
    }
  dialog = PUNCH_CONNECT_DIALOG (self->connect_dialog);
  gtk_window_present (GTK_WINDOW (dialog));
  if (addr != NULL)
    {
      punch_connect_dialog_set_address (dialog, addr);
      punch_connect_dialog_connect (dialog);
    }
}

static void
connect_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  punch_window_open_connect (PUNCH_WINDOW (widget), NULL);
}

static void
export_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PunchWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GFile) dir = punch_diagnostics_write_finish (PUNCH_NODE (source), result, &error);
  g_autofree char *message = NULL;
  g_autofree char *path = NULL;

  if (dir == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          message = g_strdup_printf (_("Could not export diagnostics: %s"), error->message);
          punch_window_toast (self, message);
        }
      return;
    }
  path = g_file_get_path (dir);
  message = g_strdup_printf (_("Diagnostics saved in %s"), path);
  punch_window_toast (self, message);
}

void
punch_window_export (PunchWindow *self, GFile *directory)
{
  punch_diagnostics_write_async (self->node, directory, self->cancellable, export_done, g_object_ref (self));
}

static void
on_export_response (GtkNativeDialog *dialog, int response, PunchWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) dir = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

      if (dir != NULL)
        punch_window_export (self, dir);
    }
  g_object_unref (dialog);
}

static void
export_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  PunchWindow *self = PUNCH_WINDOW (widget);
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (_("Export Diagnostics"), GTK_WINDOW (self),
                                                               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                                               _("_Export Here"), _("_Cancel"));

  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (on_export_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
page_action (GtkWidget *widget, const char *action_name, GVariant *param)
{
  punch_window_set_page (PUNCH_WINDOW (widget), g_variant_get_string (param, NULL));
}

void
punch_window_set_page (PunchWindow *self, const char *name)
{
  g_return_if_fail (PUNCH_IS_WINDOW (self));
  adw_view_stack_set_visible_child_name (self->stack, name);
}

char *
punch_window_dump (PunchWindow *self)
{
  GString *out = g_string_new (NULL);
  GListModel *toplevels = gtk_window_get_toplevels ();
  guint n = g_list_model_get_n_items (toplevels);

  g_string_append_printf (out, "[page] %s\n", adw_view_stack_get_visible_child_name (self->stack));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GtkWidget) toplevel = g_list_model_get_item (toplevels, i);

      if (!gtk_widget_get_mapped (toplevel))
        continue;
      g_string_append_printf (out, "[window] %s\n", G_OBJECT_TYPE_NAME (toplevel));
      punch_ui_dump_visible (toplevel, out);
    }
  return g_string_free (out, FALSE);
}

/* ---- the object ---- */

static void
punch_window_dispose (GObject *object)
{
  PunchWindow *self = PUNCH_WINDOW (object);

  g_clear_handle_id (&self->tick, g_source_remove);
  if (self->connect_dialog != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->connect_dialog), (gpointer *) &self->connect_dialog);
      gtk_window_destroy (GTK_WINDOW (self->connect_dialog));
      self->connect_dialog = NULL;
    }
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), PUNCH_TYPE_WINDOW);
  g_clear_object (&self->node);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (punch_window_parent_class)->dispose (object);
}

static void
punch_window_class_init (PunchWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = punch_window_dispose;

  g_type_ensure (PUNCH_TYPE_PEER_DETAIL);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/punchline/Punchline/punch-window.ui");
  gtk_widget_class_bind_template_child (widget_class, PunchWindow, addrs_list);
  gtk_widget_class_bind_template_child (widget_class, PunchWindow, detail);
  gtk_widget_class_bind_template_child (widget_class, PunchWindow, identity_list);
  gtk_widget_class_bind_template_child (widget_class, PunchWindow, peers_header);
  gtk_widget_class_bind_template_child (widget_class, PunchWindow, peers_list);
  gtk_widget_class_bind_template_child (widget_class, PunchWindow, relay_entries_list);
  gtk_widget_class_bind_template_child (widget_class, PunchWindow, relay_entry);
  gtk_widget_class_bind_template_child (widget_class, PunchWindow, relay_error_label);
  gtk_widget_class_bind_template_child (widget_class, PunchWindow, reservations_list);
  gtk_widget_class_bind_template_child (widget_class, PunchWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, PunchWindow, summary_label);
  gtk_widget_class_bind_template_child (widget_class, PunchWindow, toast_overlay);
  gtk_widget_class_bind_template_callback (widget_class, on_add_relay);
  gtk_widget_class_bind_template_callback (widget_class, on_peer_selected);

  gtk_widget_class_install_action (widget_class, "win.connect", NULL, connect_action);
  gtk_widget_class_install_action (widget_class, "win.export", NULL, export_action);
  gtk_widget_class_install_action (widget_class, "win.page", "s", page_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_n, GDK_CONTROL_MASK, "win.connect", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_e, GDK_CONTROL_MASK, "win.export", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_1, GDK_ALT_MASK, "win.page", "s", "overview");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_2, GDK_ALT_MASK, "win.page", "s", "relays");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_3, GDK_ALT_MASK, "win.page", "s", "peers");
}

static void
punch_window_init (PunchWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
}

PunchWindow *
punch_window_new (AdwApplication *app, PunchNode *node, GSettings *settings)
{
  PunchWindow *self = g_object_new (PUNCH_TYPE_WINDOW, "application", app, NULL);

  self->node = g_object_ref (node);
  self->settings = settings ? g_object_ref (settings) : NULL;

  build_identity (self);
  g_signal_connect_object (node, "addrs-changed", G_CALLBACK (refresh_overview), self, G_CONNECT_SWAPPED);
  refresh_overview (self);

  gtk_list_box_bind_model (self->reservations_list, punch_node_get_reservations (node), create_reservation_row, self, NULL);
  gtk_list_box_bind_model (self->relay_entries_list, punch_node_get_relay_entries (node), create_entry_row, self, NULL);
  gtk_list_box_bind_model (self->peers_list, punch_node_get_peers (node), create_peer_row, self, NULL);
  g_signal_connect_object (punch_node_get_peers (node), "items-changed", G_CALLBACK (on_peers_changed), self,
                           G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  refresh_peers_header (self);
  select_peer (self, NULL);

  {
    GtkWidget *placeholder = gtk_label_new (_("No reservations: add a relay below"));
    GtkWidget *peers_placeholder = gtk_label_new (_("Nobody yet. Use “Connect to a Friend”, or share an address from the Overview."));

    gtk_widget_add_css_class (placeholder, "dim-label");
    gtk_widget_set_margin_top (placeholder, 12);
    gtk_widget_set_margin_bottom (placeholder, 12);
    gtk_list_box_set_placeholder (self->reservations_list, placeholder);
    gtk_label_set_wrap (GTK_LABEL (peers_placeholder), TRUE);
    gtk_widget_add_css_class (peers_placeholder, "dim-label");
    gtk_widget_set_margin_top (peers_placeholder, 24);
    gtk_widget_set_margin_start (peers_placeholder, 12);
    gtk_widget_set_margin_end (peers_placeholder, 12);
    gtk_list_box_set_placeholder (self->peers_list, peers_placeholder);
  }

  self->tick = g_timeout_add_seconds (1, on_tick, self);
  g_source_set_name_by_id (self->tick, "[punchline] window tick");
  return self;
}

PunchNode *
punch_window_get_node (PunchWindow *self)
{
  g_return_val_if_fail (PUNCH_IS_WINDOW (self), NULL);
  return self->node;
}

void
punch_window_set_services (PunchWindow       *self,
                           PunchNodeServices *services)
{
  g_return_if_fail (PUNCH_IS_WINDOW (self));
  punch_peer_detail_set_services (self->detail, services, self->settings);
}

void
punch_window_select_peer (PunchWindow *self,
                          const char  *peer_id)
{
  g_return_if_fail (PUNCH_IS_WINDOW (self));
  punch_window_set_page (self, "peers");
  select_peer (self, peer_id);
}

void
punch_window_open_local_port (PunchWindow *self,
                              const char  *peer_id,
                              const char  *name)
{
  PunchNodePeer *shown;

  g_return_if_fail (PUNCH_IS_WINDOW (self));
  punch_window_select_peer (self, peer_id);
  shown = punch_peer_detail_get_peer (self->detail);
  /* The button of the peer shown, as a click on it would. */
  if (shown != NULL && g_strcmp0 (punch_node_peer_get_peer_id (shown), peer_id) == 0)
    punch_peer_detail_open_local_port (self->detail, name);
}
