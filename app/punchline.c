/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <adwaita.h>
#include <glib/gi18n.h>
#include <locale.h>

#include "punch-host.h"
#include "punch-identify-service.h"
#include "punch-ping-service.h"
#include "punch-window.h"

/* The GUI entry point: one host per app instance, on the GTK main loop. */

typedef struct
{
  PunchHost            *host;
  PunchIdentifyService *identify;
  PunchPingService     *ping;
} App;

static App app_state;

static gboolean
start_host (GError **error)
{
  g_autofree char *path = punch_private_key_default_path ();
  g_autoptr (PunchPrivateKey) key = punch_private_key_load_or_create (path, error);
  g_autoptr (PunchMultiaddr) ma4 = NULL;

  if (key == NULL)
    return FALSE;

  app_state.host = punch_host_new (key);
  app_state.identify = punch_identify_service_new (app_state.host);
  app_state.ping = punch_ping_service_new (app_state.host);

  ma4 = punch_multiaddr_new_from_string ("/ip4/0.0.0.0/tcp/0", error);
  if (ma4 == NULL || !punch_host_listen (app_state.host, ma4, error))
    return FALSE;
  return TRUE;
}

static void
on_activate (GApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (window == NULL)
    window = GTK_WINDOW (punch_window_new (ADW_APPLICATION (app), app_state.host));
  gtk_window_present (window);
}

static void
on_startup (GApplication *app)
{
  g_autoptr (GError) error = NULL;

  if (!start_host (&error))
    g_critical ("Could not start the peer: %s", error->message);
}

int
main (int argc, char **argv)
{
  g_autoptr (AdwApplication) app = NULL;
  int status;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_set_application_name (_("Punchline"));
  app = adw_application_new (APP_ID, G_APPLICATION_DEFAULT_FLAGS);
  g_signal_connect (app, "startup", G_CALLBACK (on_startup), NULL);
  g_signal_connect (app, "activate", G_CALLBACK (on_activate), NULL);
  status = g_application_run (G_APPLICATION (app), argc, argv);

  if (app_state.host != NULL)
    punch_host_close (app_state.host);
  g_clear_object (&app_state.ping);
  g_clear_object (&app_state.identify);
  g_clear_object (&app_state.host);
  return status;
}
