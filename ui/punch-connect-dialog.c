/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-connect-dialog.h"

#include <glib/gi18n-lib.h>

struct _PunchConnectDialog
{
  AdwWindow parent_instance;

  /* Owned references */
  PunchNode    *node;
  GCancellable *cancellable;

  /* Children */
  GtkEntry     *entry;
  GtkLabel     *error_label;
  GtkSpinner   *spinner;
  GtkLabel     *progress_label;
  GtkWidget    *connect_button;
  gboolean      busy;
};

G_DEFINE_FINAL_TYPE (PunchConnectDialog, punch_connect_dialog, ADW_TYPE_WINDOW)

enum
{
  CONNECTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static gboolean
validate (PunchConnectDialog *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->entry));
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) ma = punch_node_parse_friend_addr (self->node, text, &error);
  gboolean empty = text == NULL || *text == '\0';

  /* An empty field is not an error yet: nothing has been typed. */
  gtk_label_set_text (self->error_label, ma == NULL && !empty ? error->message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), ma == NULL && !empty);
  if (ma == NULL && !empty)
    gtk_widget_add_css_class (GTK_WIDGET (self->entry), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->entry), "error");
  gtk_widget_set_sensitive (self->connect_button, ma != NULL && !self->busy);
  return ma != NULL;
}

static void
on_progress (PunchConnectDialog *self, const char *addr, const char *message)
{
  if (self->busy)
    gtk_label_set_text (self->progress_label, message);
}

static void
connect_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PunchConnectDialog) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConnection) conn = punch_node_connect_finish (PUNCH_NODE (source), result, &error);

  /* Closed meanwhile: the children are gone. */
  if (self->cancellable == NULL || g_cancellable_is_cancelled (self->cancellable))
    return;
  self->busy = FALSE;
  gtk_spinner_stop (self->spinner);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), FALSE);
  gtk_editable_set_editable (GTK_EDITABLE (self->entry), TRUE);
  if (conn == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      gtk_label_set_text (self->progress_label, "");
      gtk_label_set_text (self->error_label, error->message);
      gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
      validate (self);
      gtk_label_set_text (self->error_label, error->message);
      gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
      return;
    }
  gtk_label_set_text (self->progress_label, punch_connection_get_relayed (conn)
                                              ? _("Connected through the relay. Punching a hole for a direct path…")
                                              : _("Connected directly."));
  g_signal_emit (self, signals[CONNECTED], 0, punch_peer_id_to_string (punch_connection_get_peer_id (conn)));
  gtk_window_close (GTK_WINDOW (self));
}

gboolean
punch_connect_dialog_connect (PunchConnectDialog *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECT_DIALOG (self), FALSE);

  if (self->busy || !validate (self))
    return FALSE;
  self->busy = TRUE;
  gtk_widget_set_sensitive (self->connect_button, FALSE);
  gtk_editable_set_editable (GTK_EDITABLE (self->entry), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), TRUE);
  gtk_spinner_start (self->spinner);
  gtk_label_set_text (self->progress_label, _("Connecting…"));
  punch_node_connect_async (self->node, gtk_editable_get_text (GTK_EDITABLE (self->entry)), self->cancellable,
                            connect_done, g_object_ref (self));
  return TRUE;
}

void
punch_connect_dialog_set_address (PunchConnectDialog *self, const char *text)
{
  g_return_if_fail (PUNCH_IS_CONNECT_DIALOG (self));
  gtk_editable_set_text (GTK_EDITABLE (self->entry), text ? text : "");
  validate (self);
}

static void
on_connect_clicked (PunchConnectDialog *self)
{
  punch_connect_dialog_connect (self);
}

static gboolean
on_close_request (GtkWindow *window)
{
  PunchConnectDialog *self = PUNCH_CONNECT_DIALOG (window);

  g_cancellable_cancel (self->cancellable);
  return FALSE;
}

static void
punch_connect_dialog_dispose (GObject *object)
{
  PunchConnectDialog *self = PUNCH_CONNECT_DIALOG (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->node != NULL)
    g_signal_handlers_disconnect_by_data (self->node, self);
  g_clear_object (&self->node);
  G_OBJECT_CLASS (punch_connect_dialog_parent_class)->dispose (object);
}

static void
punch_connect_dialog_class_init (PunchConnectDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = punch_connect_dialog_dispose;
  window_class->close_request = on_close_request;
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);

  /**
   * PunchConnectDialog::connected:
   * @peer_id: the friend we are now connected to
   */
  signals[CONNECTED] = g_signal_new ("connected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                     NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
punch_connect_dialog_init (PunchConnectDialog *self)
{
  GtkWidget *content = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *cancel = gtk_button_new_with_mnemonic (_("_Cancel"));
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkWidget *intro = gtk_label_new (_("Paste the address your friend shared. A relayed address "
                                      "(…/p2p-circuit/p2p/…) works behind any NAT; Punchline then tries "
                                      "to punch a direct path."));
  GtkWidget *progress_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);

  self->cancellable = g_cancellable_new ();
  gtk_window_set_title (GTK_WINDOW (self), _("Connect to a Friend"));
  gtk_window_set_default_size (GTK_WINDOW (self), 560, -1);
  gtk_window_set_modal (GTK_WINDOW (self), TRUE);

  adw_header_bar_set_show_end_title_buttons (ADW_HEADER_BAR (header), FALSE);
  adw_header_bar_set_show_start_title_buttons (ADW_HEADER_BAR (header), FALSE);
  self->connect_button = gtk_button_new_with_mnemonic (_("C_onnect"));
  gtk_widget_add_css_class (self->connect_button, "suggested-action");
  gtk_widget_set_sensitive (self->connect_button, FALSE);
  g_signal_connect_swapped (cancel, "clicked", G_CALLBACK (gtk_window_close), self);
  g_signal_connect_swapped (self->connect_button, "clicked", G_CALLBACK (on_connect_clicked), self);
  adw_header_bar_pack_start (ADW_HEADER_BAR (header), cancel);
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), self->connect_button);
  gtk_box_append (GTK_BOX (content), header);

  gtk_widget_set_margin_start (box, 18);
  gtk_widget_set_margin_end (box, 18);
  gtk_widget_set_margin_top (box, 12);
  gtk_widget_set_margin_bottom (box, 18);
  gtk_label_set_wrap (GTK_LABEL (intro), TRUE);
  gtk_label_set_xalign (GTK_LABEL (intro), 0);
  gtk_label_set_max_width_chars (GTK_LABEL (intro), 60);
  gtk_box_append (GTK_BOX (box), intro);

  self->entry = GTK_ENTRY (gtk_entry_new ());
  gtk_entry_set_placeholder_text (self->entry, "/ip4/203.0.113.5/tcp/4001/p2p/12D3KooW…");
  gtk_widget_add_css_class (GTK_WIDGET (self->entry), "monospace");
  gtk_entry_set_activates_default (self->entry, FALSE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->entry), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Friend's address"), -1);
  g_signal_connect_swapped (self->entry, "changed", G_CALLBACK (validate), self);
  g_signal_connect_swapped (self->entry, "activate", G_CALLBACK (on_connect_clicked), self);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->entry));

  self->error_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->error_label, TRUE);
  gtk_label_set_xalign (self->error_label, 0);
  gtk_widget_add_css_class (GTK_WIDGET (self->error_label), "error");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->error_label));

  self->spinner = GTK_SPINNER (gtk_spinner_new ());
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), FALSE);
  self->progress_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->progress_label, TRUE);
  gtk_label_set_xalign (self->progress_label, 0);
  gtk_box_append (GTK_BOX (progress_box), GTK_WIDGET (self->spinner));
  gtk_box_append (GTK_BOX (progress_box), GTK_WIDGET (self->progress_label));
  gtk_box_append (GTK_BOX (box), progress_box);

  gtk_box_append (GTK_BOX (content), box);
  adw_window_set_content (ADW_WINDOW (self), content);
}

PunchConnectDialog *
punch_connect_dialog_new (GtkWindow *parent, PunchNode *node)
{
  PunchConnectDialog *self = g_object_new (PUNCH_TYPE_CONNECT_DIALOG, "transient-for", parent, NULL);

  self->node = g_object_ref (node);
  g_signal_connect_object (node, "connect-progress", G_CALLBACK (on_progress), self, G_CONNECT_SWAPPED);
  return self;
}
