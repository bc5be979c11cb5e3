/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The UI tests' world: a relay and a friend reserved on it, real hosts of
 * the core. Prints one line of JSON when ready:
 *   {"relay": MA, "friend": PEER ID, "relayed": MA, "direct": MA}
 * and runs until SIGTERM/SIGINT or until standard input closes.
 *   punch-ui-peers [LISTEN_IP]      default 127.0.0.1 */
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>

#include "punch-node.h"
#include "punch-relay-service.h"

static GMainLoop *loop;
static PunchNode *friend;
static char *relay_addr;
static gboolean printed;

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_stdin (gint fd, GIOCondition condition, gpointer user_data)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
maybe_print (void)
{
  g_auto (GStrv) mine = NULL;
  const char *relayed = NULL, *direct = NULL;

  if (printed)
    return;
  mine = punch_node_get_my_addrs (friend);
  for (guint i = 0; mine[i] != NULL; i++)
    {
      if (relayed == NULL && strstr (mine[i], "/p2p-circuit/") != NULL)
        relayed = mine[i];
      else if (direct == NULL && strstr (mine[i], "/p2p-circuit") == NULL)
        direct = mine[i];
    }
  if (relayed == NULL || direct == NULL)
    return;
  printed = TRUE;
  g_print ("{\"relay\": \"%s\", \"friend\": \"%s\", \"relayed\": \"%s\", \"direct\": \"%s\"}\n", relay_addr,
           punch_node_get_peer_id (friend), relayed, direct);
  fflush (stdout);
}

int
main (int argc, char **argv)
{
  const char *ip = argc > 1 ? argv[1] : "127.0.0.1";
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = punch_private_key_generate (&error);
  g_autofree char *listen_text = g_strdup_printf ("/ip4/%s/tcp/0", ip);
  g_autoptr (PunchMultiaddr) listen = punch_multiaddr_new_from_string (listen_text, &error);
  g_autoptr (PunchHost) relay = NULL;
  g_autoptr (PunchRelayService) service = NULL;
  g_autoptr (PunchIdentifyService) identify = NULL;
  g_autoptr (PunchPingService) ping = NULL;
  g_autoptr (GPtrArray) addrs = NULL;
  g_autofree char *text = NULL;
  g_autoptr (PunchPrivateKey) friend_key = punch_private_key_generate (&error);

  if (key == NULL || listen == NULL || friend_key == NULL)
    {
      g_printerr ("punch-ui-peers: %s\n", error->message);
      return 1;
    }
  relay = punch_host_new (key);
  if (!punch_host_listen (relay, listen, &error))
    {
      g_printerr ("punch-ui-peers: relay listen: %s\n", error->message);
      return 1;
    }
  service = punch_relay_service_new (relay);
  identify = punch_identify_service_new (relay);
  ping = punch_ping_service_new (relay);
  addrs = punch_host_get_listen_addrs (relay);
  text = punch_multiaddr_to_string (g_ptr_array_index (addrs, 0));
  relay_addr = g_strdup_printf ("%s/p2p/%s", text, punch_peer_id_to_string (punch_host_get_peer_id (relay)));

  friend = punch_node_new (friend_key);
  if (!punch_node_listen_on (friend, listen_text, &error) || !punch_node_add_relay (friend, relay_addr, &error))
    {
      g_printerr ("punch-ui-peers: friend: %s\n", error->message);
      return 1;
    }
  g_signal_connect (friend, "addrs-changed", G_CALLBACK (maybe_print), NULL);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_signal, NULL);
  g_unix_signal_add (SIGINT, on_signal, NULL);
  g_unix_fd_add (0, G_IO_HUP | G_IO_ERR, on_stdin, NULL);
  g_main_loop_run (loop);

  punch_node_close (friend);
  punch_host_close (relay);
  g_clear_object (&friend);
  g_main_loop_unref (loop);
  g_free (relay_addr);
  return 0;
}
