/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A peer for the NAT lab, printing one JSON object per line on stdout:
 *
 *   punch-lab-peer relay  --listen MA
 *   punch-lab-peer listen --listen MA --relay RELAY_MA
 *   punch-lab-peer dial   --listen MA [--wait S] [--require-direct] TARGET_MA
 *
 * Events: "listening", "reserved" (relayed addresses), "connection" (open /
 * closed), "holepunch" (every transition of a PunchHolePunch), "circuit"
 * (the relay's circuits and their byte counters, every 200 ms while open),
 * "ping", and for dial one final "result" like punchline-cli's. Every event
 * has "t" (ms since start) and "mono" (CLOCK_MONOTONIC, ms). Runs until killed, except dial, which exits
 * after its result (0 when connected; with --require-direct only a direct
 * path counts). */
#include "punch-node.h"

#include "punch-hole-punch.h"
#include "punch-relay-circuit.h"
#include "punch-relay-service.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct
{
  PunchNode         *node;
  PunchRelayService *relay;
  GMainLoop         *loop;
  GPtrArray         *circuits;
  gint64             t0;
  gboolean           reserved;
  int                exit_code;

  /* dial */
  char              *target;
  guint              wait_s;
  gboolean           require_direct;
  PunchConnection   *relayed;
  PunchHolePunch    *punch;
  gint64             t_relayed;
  gint64             t_direct;
  double             rtt_relayed_ms;
  double             rtt_direct_ms;
  double             rtt_relayed_after_ms;
  gboolean           relayed_pings_done;
  guint              pings_left;
  gboolean           finishing;
} Peer;

static Peer peer;

static void
emit (JsonBuilder *b)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;

  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  g_print ("%s\n", text);
  fflush (stdout);
}

static JsonBuilder *
event_new (const char *name)
{
  JsonBuilder *b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "t");
  json_builder_add_int_value (b, (g_get_monotonic_time () - peer.t0) / 1000);
  /* CLOCK_MONOTONIC in ms: comparable between the lab's processes. */
  json_builder_set_member_name (b, "mono");
  json_builder_add_int_value (b, g_get_monotonic_time () / 1000);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, name);
  return b;
}

static void
add_str (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_addr (JsonBuilder *b, const char *name, PunchMultiaddr *addr)
{
  g_autofree char *text = addr != NULL ? punch_multiaddr_to_string (addr) : NULL;

  add_str (b, name, text);
}

static void
add_strv (JsonBuilder *b, const char *name, const char * const *values)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; values != NULL && values[i] != NULL; i++)
    json_builder_add_string_value (b, values[i]);
  json_builder_end_array (b);
}

static void
add_addrs (JsonBuilder *b, const char *name, GPtrArray *addrs)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; addrs != NULL && i < addrs->len; i++)
    {
      g_autofree char *text = punch_multiaddr_to_string (g_ptr_array_index (addrs, i));
      json_builder_add_string_value (b, text);
    }
  json_builder_end_array (b);
}

static void
add_ms (JsonBuilder *b, const char *name, double ms)
{
  json_builder_set_member_name (b, name);
  /* Tenths of a millisecond, without binary fractions in the text. */
  if (ms >= 0)
    json_builder_add_value (b, json_node_init_double (json_node_alloc (), (gint64) (ms * 10 + 0.5) / 10.0));
  else
    json_builder_add_null_value (b);
}

static void
add_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

/* ---- events every role prints ---- */

static void
print_connection (PunchConnection *conn, const char *state)
{
  g_autoptr (JsonBuilder) b = event_new ("connection");

  add_str (b, "state", state);
  add_int (b, "id", punch_connection_get_id (conn));
  add_str (b, "direction", punch_direction_to_string (punch_connection_get_direction (conn)));
  add_addr (b, "remote", punch_connection_get_remote_addr (conn));
  add_addr (b, "local", punch_connection_get_local_addr (conn));
  add_str (b, "peer_id", punch_peer_id_to_string (punch_connection_get_peer_id (conn)));
  json_builder_set_member_name (b, "relayed");
  json_builder_add_boolean_value (b, punch_connection_get_relayed (conn));
  emit (b);
}

static void finish_dial (const char *why);
static void ping_direct (void);
static void ping_relayed_after (void);

static void
on_connection_opened (PunchHost *host, PunchConnection *conn, gpointer user_data)
{
  print_connection (conn, "open");
}

static void
on_connection_closed (PunchHost *host, PunchConnection *conn, gpointer user_data)
{
  print_connection (conn, "closed");
}

static void
on_transition (PunchHolePunch *hp, int from, int to, const char *detail, gpointer user_data)
{
  g_autoptr (JsonBuilder) b = event_new ("holepunch");
  PunchConnection *direct = punch_hole_punch_get_direct_connection (hp);

  add_str (b, "role", punch_hole_punch_role_to_string (punch_hole_punch_get_role (hp)));
  add_str (b, "state", punch_hole_punch_state_to_string (to));
  add_str (b, "detail", detail);
  add_int (b, "attempt", punch_hole_punch_get_attempts (hp));
  add_ms (b, "rtt_ms", punch_hole_punch_get_rtt (hp) >= 0 ? punch_hole_punch_get_rtt (hp) / 1000.0 : -1);
  add_strv (b, "local_addrs", punch_hole_punch_get_local_addrs (hp));
  add_strv (b, "remote_addrs", punch_hole_punch_get_remote_addrs (hp));
  add_str (b, "outcome", punch_hole_punch_outcome_to_string (punch_hole_punch_get_outcome (hp)));
  add_str (b, "error", punch_hole_punch_get_error (hp));
  add_addr (b, "direct_remote", direct != NULL ? punch_connection_get_remote_addr (direct) : NULL);
  emit (b);
}

static void
on_punch_started (PunchDcutrService *dcutr, PunchHolePunch *hp, gpointer user_data)
{
  g_signal_connect (hp, "transition", G_CALLBACK (on_transition), NULL);
  /* dial talks to one peer: its first punch is the one. */
  if (peer.target != NULL && peer.punch == NULL)
    peer.punch = g_object_ref (hp);
}

static void
on_punch_finished (PunchDcutrService *dcutr, PunchHolePunch *hp, gpointer user_data)
{
  if (hp != peer.punch || peer.finishing)
    return;
  if (punch_hole_punch_get_state (hp) == PUNCH_HOLE_PUNCH_STATE_SUCCEEDED)
    {
      peer.t_direct = g_get_monotonic_time ();
      /* Not while the relayed pings run: the relay's counters must show
       * the direct pings passing it by. */
      if (peer.relayed_pings_done)
        ping_direct ();
    }
  else if (peer.relayed_pings_done)
    ping_relayed_after ();
}

/* ---- relay ---- */

static void
print_circuit (PunchRelayCircuit *circuit, const char *state)
{
  g_autoptr (JsonBuilder) b = event_new ("circuit");
  g_autoptr (PunchPeerId) src = NULL;
  g_autoptr (PunchPeerId) dst = NULL;

  g_object_get (circuit, "src", &src, "dst", &dst, NULL);
  add_str (b, "state", state);
  add_str (b, "src", src ? punch_peer_id_to_string (src) : NULL);
  add_str (b, "dst", dst ? punch_peer_id_to_string (dst) : NULL);
  add_int (b, "bytes_to_dst", (gint64) punch_relay_circuit_get_bytes_to_dst (circuit));
  add_int (b, "bytes_to_src", (gint64) punch_relay_circuit_get_bytes_to_src (circuit));
  emit (b);
}

static void
on_circuit (PunchRelayService *relay, PunchRelayCircuit *circuit, const char *event, const char *reason,
            gpointer user_data)
{
  if (circuit == NULL)
    {
      g_autoptr (JsonBuilder) b = event_new ("circuit");
      add_str (b, "state", event);
      add_str (b, "reason", reason);
      emit (b);
      return;
    }
  print_circuit (circuit, event);
  if (g_str_equal (event, "opened"))
    g_ptr_array_add (peer.circuits, g_object_ref (circuit));
  else if (g_str_equal (event, "closed"))
    g_ptr_array_remove (peer.circuits, circuit);
}

static void
on_reservation (PunchRelayService *relay, PunchPeerId *who, const char *event, gint64 expire, const char *reason,
                gpointer user_data)
{
  g_autoptr (JsonBuilder) b = event_new ("reservation");

  add_str (b, "peer_id", punch_peer_id_to_string (who));
  add_str (b, "state", event);
  add_str (b, "reason", reason);
  emit (b);
}

static gboolean
circuit_tick (gpointer user_data)
{
  for (guint i = 0; i < peer.circuits->len; i++)
    print_circuit (g_ptr_array_index (peer.circuits, i), "open");
  return G_SOURCE_CONTINUE;
}

/* ---- listen ---- */

static gboolean
reservation_tick (gpointer user_data)
{
  g_autoptr (GPtrArray) addrs = punch_relay_client_get_relayed_addrs (punch_node_get_relay_client (peer.node));

  if (addrs->len > 0 && !peer.reserved)
    {
      g_autoptr (JsonBuilder) b = event_new ("reserved");

      peer.reserved = TRUE;
      add_addrs (b, "addrs", addrs);
      emit (b);
    }
  return G_SOURCE_CONTINUE;
}

/* ---- dial ---- */

static void
finish_dial (const char *why)
{
  g_autoptr (JsonBuilder) b = event_new ("result");
  PunchConnection *direct = peer.punch ? punch_hole_punch_get_direct_connection (peer.punch) : NULL;
  const char *path = direct != NULL ? "direct" : peer.relayed != NULL ? "relayed" : "failed";

  if (peer.finishing)
    return;
  peer.finishing = TRUE;
  add_str (b, "path", path);
  add_ms (b, "ms_to_direct", direct != NULL ? (peer.t_direct - peer.t_relayed) / 1000.0 : -1);
  add_ms (b, "rtt_relayed_ms", peer.rtt_relayed_ms);
  add_ms (b, "rtt_direct_ms", peer.rtt_direct_ms);
  /* After a failed punch: the relayed connection still carries pings. */
  add_ms (b, "rtt_relayed_after_ms", peer.rtt_relayed_after_ms);
  add_int (b, "attempts", peer.punch ? punch_hole_punch_get_attempts (peer.punch) : 0);
  add_str (b, "outcome", peer.punch ? punch_hole_punch_outcome_to_string (punch_hole_punch_get_outcome (peer.punch)) : NULL);
  add_addr (b, "remote", direct != NULL ? punch_connection_get_remote_addr (direct)
                         : peer.relayed != NULL ? punch_connection_get_remote_addr (peer.relayed) : NULL);
  add_str (b, "reason", why);
  emit (b);

  if (g_str_equal (path, "direct") || (g_str_equal (path, "relayed") && !peer.require_direct))
    peer.exit_code = 0;
  else
    peer.exit_code = 1;
  g_main_loop_quit (peer.loop);
}

typedef struct
{
  PunchConnection *conn;
  double          *out;
  guint            left;
  GSourceFunc      then;
} PingRun;

static void ping_next (gpointer user_data);

static void
pinged (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PingRun *run = user_data;
  g_autoptr (GError) error = NULL;
  gint64 rtt = punch_ping_service_ping_finish (PUNCH_PING_SERVICE (source), result, &error);
  g_autoptr (JsonBuilder) b = event_new ("ping");

  add_int (b, "connection", punch_connection_get_id (run->conn));
  json_builder_set_member_name (b, "relayed");
  json_builder_add_boolean_value (b, punch_connection_get_relayed (run->conn));
  add_ms (b, "rtt_ms", rtt >= 0 ? rtt / 1000.0 : -1);
  add_str (b, "error", error ? error->message : NULL);
  emit (b);
  /* The lowest of a few samples: the path, not the queueing. */
  if (rtt >= 0 && (*run->out < 0 || rtt / 1000.0 < *run->out))
    *run->out = rtt / 1000.0;
  if (--run->left > 0 && error == NULL)
    {
      /* Spread over a while, even on a 0 ms lab. */
      g_timeout_add_once (150, (GSourceOnceFunc) ping_next, run);
      return;
    }
  if (run->then != NULL)
    run->then (NULL);
  g_object_unref (run->conn);
  g_free (run);
}

static void
ping_next (gpointer user_data)
{
  PingRun *run = user_data;

  punch_ping_service_ping_async (punch_node_get_ping (peer.node), run->conn, NULL, pinged, run);
}

static void
ping_run (PunchConnection *conn, double *out, guint n, GSourceFunc then)
{
  PingRun *run = g_new0 (PingRun, 1);

  run->conn = g_object_ref (conn);
  run->out = out;
  run->left = n;
  run->then = then;
  ping_next (run);
}

static gboolean
direct_pinged (gpointer user_data)
{
  finish_dial (NULL);
  return G_SOURCE_REMOVE;
}

static void
ping_direct (void)
{
  /* Long enough for the relay to show its counters standing still. */
  ping_run (punch_hole_punch_get_direct_connection (peer.punch), &peer.rtt_direct_ms, 5, direct_pinged);
}

static gboolean
relayed_after_pinged (gpointer user_data)
{
  finish_dial (punch_hole_punch_get_error (peer.punch));
  return G_SOURCE_REMOVE;
}

static void
ping_relayed_after (void)
{
  if (punch_connection_get_state (peer.relayed) != PUNCH_CONNECTION_STATE_OPEN)
    {
      finish_dial (punch_hole_punch_get_error (peer.punch));
      return;
    }
  ping_run (peer.relayed, &peer.rtt_relayed_after_ms, 2, relayed_after_pinged);
}

static gboolean
relayed_pinged (gpointer user_data)
{
  peer.relayed_pings_done = TRUE;
  /* A punch that ended while we measured the relay goes on here. */
  if (peer.punch != NULL && punch_hole_punch_is_finished (peer.punch))
    {
      if (punch_hole_punch_get_state (peer.punch) == PUNCH_HOLE_PUNCH_STATE_SUCCEEDED)
        ping_direct ();
      else
        ping_relayed_after ();
    }
  return G_SOURCE_REMOVE;
}

static gboolean
dial_deadline (gpointer user_data)
{
  finish_dial ("no hole punch result before the deadline");
  return G_SOURCE_REMOVE;
}

static void
connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConnection) conn = punch_node_connect_finish (PUNCH_NODE (source), result, &error);

  if (conn == NULL)
    {
      finish_dial (error->message);
      return;
    }
  if (!punch_connection_get_relayed (conn))
    {
      peer.relayed = NULL;
      finish_dial ("connected directly, no relay involved");
      return;
    }
  peer.relayed = g_object_ref (conn);
  peer.t_relayed = g_get_monotonic_time ();
  g_timeout_add_seconds (peer.wait_s, dial_deadline, NULL);
  /* Pings ride the relayed connection only while it is the path; the
   * punch has already started on the other side. */
  ping_run (conn, &peer.rtt_relayed_ms, 3, relayed_pinged);
}

static gboolean
start_dial (gpointer user_data)
{
  punch_node_connect_async (peer.node, peer.target, NULL, connected, NULL);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autofree char *listen = NULL;
  g_autofree char *relay = NULL;
  gboolean require_direct = FALSE;
  int wait_s = 30;
  GOptionEntry entries[] = {
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen, "listen address", "MA" },
    { "relay", 0, 0, G_OPTION_ARG_STRING, &relay, "reserve on this relay", "MA" },
    { "wait", 0, 0, G_OPTION_ARG_INT, &wait_s, "dial: seconds to wait for the punch", "S" },
    { "require-direct", 0, 0, G_OPTION_ARG_NONE, &require_direct, "dial: only a direct path counts", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("relay|listen|dial [TARGET]");
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = NULL;
  const char *mode;

  /* stdout carries the JSON events alone. */
  g_log_writer_default_set_use_stderr (TRUE);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc < 2)
    {
      g_printerr ("%s\n", error ? error->message : "usage: punch-lab-peer relay|listen|dial [TARGET]");
      return 2;
    }
  mode = argv[1];
  peer.t0 = g_get_monotonic_time ();
  peer.loop = g_main_loop_new (NULL, FALSE);
  peer.circuits = g_ptr_array_new_with_free_func (g_object_unref);
  peer.rtt_relayed_ms = -1;
  peer.rtt_direct_ms = -1;
  peer.rtt_relayed_after_ms = -1;
  peer.wait_s = (guint) CLAMP (wait_s, 1, 600);
  peer.require_direct = require_direct;

  key = punch_private_key_generate (&error);
  if (key == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  peer.node = punch_node_new (key);
  /* Only our own pings: the relay's counters must show where traffic goes. */
  g_object_set (peer.node, "ping-interval", 0, NULL);
  g_signal_connect (punch_node_get_host (peer.node), "connection-opened", G_CALLBACK (on_connection_opened), NULL);
  g_signal_connect (punch_node_get_host (peer.node), "connection-closed", G_CALLBACK (on_connection_closed), NULL);
  g_signal_connect (punch_node_get_dcutr (peer.node), "punch-started", G_CALLBACK (on_punch_started), NULL);
  g_signal_connect (punch_node_get_dcutr (peer.node), "punch-finished", G_CALLBACK (on_punch_finished), NULL);

  if (!punch_node_listen_on (peer.node, listen ? listen : "/ip4/0.0.0.0/tcp/0", &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  {
    g_autoptr (JsonBuilder) b = event_new ("listening");
    g_autoptr (GPtrArray) addrs = punch_host_get_listen_addrs (punch_node_get_host (peer.node));

    add_str (b, "peer_id", punch_node_get_peer_id (peer.node));
    add_addrs (b, "addrs", addrs);
    emit (b);
  }

  if (g_str_equal (mode, "relay"))
    {
      peer.relay = punch_relay_service_new (punch_node_get_host (peer.node));
      g_signal_connect (peer.relay, "circuit", G_CALLBACK (on_circuit), NULL);
      g_signal_connect (peer.relay, "reservation", G_CALLBACK (on_reservation), NULL);
      g_timeout_add (200, circuit_tick, NULL);
    }
  else if (g_str_equal (mode, "listen"))
    {
      if (relay != NULL && !punch_node_add_relay (peer.node, relay, &error))
        {
          g_printerr ("%s\n", error->message);
          return 1;
        }
      g_timeout_add (50, reservation_tick, NULL);
    }
  else if (g_str_equal (mode, "dial") && argc >= 3)
    {
      peer.target = g_strdup (argv[2]);
      g_idle_add (start_dial, NULL);
    }
  else
    {
      g_printerr ("unknown mode or missing target\n");
      return 2;
    }

  g_main_loop_run (peer.loop);
  punch_node_close (peer.node);
  return peer.exit_code;
}
