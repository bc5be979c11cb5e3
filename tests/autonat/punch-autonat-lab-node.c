/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A PunchNode for the NAT lab's network-change test, printing one JSON
 * object per line on stdout:
 *
 *   punch-autonat-lab-node --listen MA --relay RELAY_MA [--min-confirmations N]
 *
 * Events:
 * - "listening" {peer_id}
 * - "reservation" {relay, from, to, reason}: every reservation transition
 * - "network" {what}: PunchNode::network-changed
 * - "diagnosis" {reachability, nat}: the "autonat" and "nat" sections of the
 *   diagnostics report (punch_diagnostics_build_report()), each time they
 *   change: after observations, AutoNAT answers and probes
 * - "stale" {detail}: a connection the node dropped after a change
 * Every event has "mono" (CLOCK_MONOTONIC, ms). Runs until SIGTERM. */
#include "punch-diagnostics.h"
#include "punch-node.h"

#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

typedef struct
{
  PunchNode *node;
  GMainLoop *loop;
  char      *last_diagnosis;
} LabNode;

static void
emit (JsonObject *object)
{
  g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *text = NULL;

  json_object_set_int_member (object, "mono", g_get_monotonic_time () / 1000);
  json_node_take_object (root, object);
  text = json_to_string (root, FALSE);
  g_print ("%s\n", text);
  fflush (stdout);
}

static JsonObject *
event_new (const char *name)
{
  JsonObject *object = json_object_new ();

  json_object_set_string_member (object, "event", name);
  return object;
}

static void
maybe_diagnosis (LabNode *lab)
{
  g_autoptr (JsonNode) report = punch_diagnostics_build_report (lab->node);
  JsonObject *nat = json_object_get_object_member (json_node_get_object (report), "nat");
  g_autoptr (JsonNode) nat_node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *text = NULL;
  JsonObject *event;

  json_node_set_object (nat_node, nat);
  text = json_to_string (nat_node, FALSE);
  /* Only changes: addrs-changed fires for much else. */
  if (g_strcmp0 (text, lab->last_diagnosis) == 0)
    return;
  g_free (lab->last_diagnosis);
  lab->last_diagnosis = g_steal_pointer (&text);
  event = event_new ("diagnosis");
  json_object_set_object_member (event, "nat", json_object_ref (nat));
  json_object_set_string_member (event, "summary", punch_node_get_reachability (lab->node));
  emit (event);
}

static void
on_transition (PunchRelayReservation *rsv, int from, int to, const char *reason, gpointer user_data)
{
  JsonObject *event = event_new ("reservation");

  json_object_set_string_member (event, "relay",
                                 punch_peer_id_to_string (punch_relay_reservation_get_relay_peer_id (rsv)));
  json_object_set_string_member (event, "from", punch_reservation_state_to_string (from));
  json_object_set_string_member (event, "to", punch_reservation_state_to_string (to));
  json_object_set_string_member (event, "reason", reason);
  emit (event);
}

static void
on_reservations_changed (GListModel *model, guint position, guint removed, guint added, gpointer user_data)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr (PunchRelayReservation) rsv = g_list_model_get_item (model, i);

      g_signal_connect (rsv, "transition", G_CALLBACK (on_transition), NULL);
    }
}

static void
on_network_changed (PunchNode *node, const char *what, gpointer user_data)
{
  JsonObject *event = event_new ("network");

  json_object_set_string_member (event, "what", what);
  emit (event);
}

static void
on_timeline (GListModel *model, guint position, guint removed, guint added, gpointer user_data)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr (PunchTimelineEvent) item = g_list_model_get_item (model, i);

      if (g_strcmp0 (punch_timeline_event_get_kind (item), "network") == 0
          && g_strcmp0 (punch_timeline_event_get_to (item), "stale connection") == 0)
        {
          JsonObject *event = event_new ("stale");

          json_object_set_string_member (event, "detail", punch_timeline_event_get_detail (item));
          emit (event);
        }
    }
}

static gboolean
on_signal (gpointer user_data)
{
  LabNode *lab = user_data;

  g_main_loop_quit (lab->loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autofree char *listen = NULL;
  g_autofree char *relay = NULL;
  int min_confirmations = 1;
  GOptionEntry entries[] = {
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen, "Listen address", "MA" },
    { "relay", 0, 0, G_OPTION_ARG_STRING, &relay, "Relay address", "MA" },
    { "min-confirmations", 0, 0, G_OPTION_ARG_INT, &min_confirmations, "AutoNAT answers for a verdict", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- a PunchNode in the NAT lab");
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = NULL;
  LabNode lab = { 0 };
  JsonObject *event;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || listen == NULL || relay == NULL
      || min_confirmations < 1)
    {
      g_printerr ("%s\n", error != NULL ? error->message : "--listen and --relay are needed");
      return 2;
    }
  key = punch_private_key_generate (&error);
  if (key == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  lab.node = punch_node_new (key);
  lab.loop = g_main_loop_new (NULL, FALSE);
  g_object_set (punch_node_get_autonat (lab.node), "min-confirmations", (guint) min_confirmations, NULL);
  g_signal_connect (punch_node_get_reservations (lab.node), "items-changed", G_CALLBACK (on_reservations_changed),
                    NULL);
  g_signal_connect (lab.node, "network-changed", G_CALLBACK (on_network_changed), NULL);
  g_signal_connect_swapped (lab.node, "addrs-changed", G_CALLBACK (maybe_diagnosis), &lab);
  g_signal_connect_swapped (punch_node_get_autonat (lab.node), "probed", G_CALLBACK (maybe_diagnosis), &lab);
  g_signal_connect (punch_node_get_timeline (lab.node), "items-changed", G_CALLBACK (on_timeline), NULL);
  if (!punch_node_listen_on (lab.node, listen, &error) || !punch_node_add_relay (lab.node, relay, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  event = event_new ("listening");
  json_object_set_string_member (event, "peer_id", punch_node_get_peer_id (lab.node));
  emit (event);

  g_unix_signal_add (SIGTERM, on_signal, &lab);
  g_unix_signal_add (SIGINT, on_signal, &lab);
  g_main_loop_run (lab.loop);

  punch_node_close (lab.node);
  g_clear_object (&lab.node);
  g_main_loop_unref (lab.loop);
  g_free (lab.last_diagnosis);
  return 0;
}
