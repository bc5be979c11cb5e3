/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PunchNode between real hosts on loopback: a relay, a friend reserved on
 * it, and us connecting through the relay and then directly; the timeline,
 * RTT series and the diagnostics export that follow. */
#include <glib/gstdio.h>
#include <string.h>

#include "../host/host-test-util.h"
#include "punch-diagnostics.h"
#include "punch-error.h"
#include "punch-hole-punch-private.h"
#include "punch-node.h"
#include "punch-relay-service.h"

/* A resolver that answers TXT lookups from a table and fails the rest, so
 * that /dnsaddr relays resolve without leaving loopback. */
typedef struct
{
  GResolver   parent_instance;
  GHashTable *zone;  /* name → TXT text */
} MockResolver;

typedef GResolverClass MockResolverClass;

static GType mock_resolver_get_type (void);
G_DEFINE_TYPE (MockResolver, mock_resolver, G_TYPE_RESOLVER)

static void
mock_lookup_records_async (GResolver *resolver, const char *rrname, GResolverRecordType type,
                           GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  MockResolver *self = (MockResolver *) resolver;
  g_autoptr (GTask) task = g_task_new (resolver, cancellable, callback, user_data);
  const char *text = g_hash_table_lookup (self->zone, rrname);
  GList *records;

  if (type != G_RESOLVER_RECORD_TXT || text == NULL)
    {
      g_task_return_new_error (task, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "no TXT record for %s", rrname);
      return;
    }
  {
    const char *strv[] = { text, NULL };
    records = g_list_append (NULL, g_variant_ref_sink (g_variant_new ("(^as)", strv)));
  }
  g_task_return_pointer (task, records, (GDestroyNotify) NULL);
}

static GList *
mock_lookup_records_finish (GResolver *resolver, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
mock_resolver_finalize (GObject *object)
{
  g_hash_table_unref (((MockResolver *) object)->zone);
  G_OBJECT_CLASS (mock_resolver_parent_class)->finalize (object);
}

static void
mock_resolver_class_init (MockResolverClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mock_resolver_finalize;
  klass->lookup_records_async = mock_lookup_records_async;
  klass->lookup_records_finish = mock_lookup_records_finish;
}

static void
mock_resolver_init (MockResolver *self)
{
  self->zone = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static MockResolver *mock_resolver;

typedef struct
{
  PunchHost         *relay;
  PunchRelayService *service;
  PunchIdentifyService *relay_identify;
  PunchPingService  *relay_ping;
  char              *relay_addr;
  PunchNode         *friend;
  PunchNode         *me;
} Fixture;

static PunchNode *
new_node (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = punch_private_key_generate (&error);
  PunchNode *node;

  g_assert_no_error (error);
  node = punch_node_new (key);
  g_object_set (node, "ping-interval", 200, NULL);
  g_assert_true (punch_node_listen_on (node, "/ip4/127.0.0.1/tcp/0", &error));
  g_assert_no_error (error);
  return node;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = punch_private_key_generate (&error);
  g_autoptr (PunchMultiaddr) listen = punch_multiaddr_new_from_string ("/ip4/127.0.0.1/tcp/0", NULL);
  g_autoptr (GPtrArray) addrs = NULL;
  g_autofree char *text = NULL;

  f->relay = punch_host_new (key);
  g_assert_true (punch_host_listen (f->relay, listen, &error));
  f->service = punch_relay_service_new (f->relay);
  /* Real relays answer identify (and the identify client of the core
   * mishandles a peer that refuses it: see the report). */
  f->relay_identify = punch_identify_service_new (f->relay);
  f->relay_ping = punch_ping_service_new (f->relay);
  addrs = punch_host_get_listen_addrs (f->relay);
  text = punch_multiaddr_to_string (g_ptr_array_index (addrs, 0));
  f->relay_addr = g_strdup_printf ("%s/p2p/%s", text, punch_peer_id_to_string (punch_host_get_peer_id (f->relay)));
  f->friend = new_node ();
  f->me = new_node ();
  g_hash_table_insert (mock_resolver->zone, g_strdup ("_dnsaddr.relays.test"),
                       g_strdup_printf ("dnsaddr=%s", f->relay_addr));
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  punch_node_close (f->me);
  punch_node_close (f->friend);
  punch_host_close (f->relay);
  host_test_spin (50);
  g_clear_object (&f->me);
  g_clear_object (&f->friend);
  g_clear_object (&f->service);
  g_clear_object (&f->relay_identify);
  g_clear_object (&f->relay_ping);
  g_clear_object (&f->relay);
  g_free (f->relay_addr);
}

static PunchRelayReservation *
reservation_of (PunchNode *node)
{
  GListModel *rsvs = punch_node_get_reservations (node);
  g_autoptr (PunchRelayReservation) rsv = NULL;

  if (g_list_model_get_n_items (rsvs) == 0)
    return NULL;
  rsv = g_list_model_get_item (rsvs, 0);
  return rsv;  /* the model keeps it */
}

static void
reserve_friend (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (punch_node_add_relay (f->friend, f->relay_addr, &error));
  g_assert_no_error (error);
  WAIT_UNTIL (reservation_of (f->friend) != NULL
              && punch_relay_reservation_get_state (reservation_of (f->friend)) == PUNCH_RESERVATION_STATE_RESERVED);
}

static char *
friend_relayed_addr (Fixture *f)
{
  g_auto (GStrv) mine = punch_node_get_my_addrs (f->friend);

  g_assert_nonnull (mine[0]);
  /* No public address on loopback: the relayed address comes first. */
  g_assert_nonnull (strstr (mine[0], "/p2p-circuit/p2p/"));
  return g_strdup (mine[0]);
}

static char *
friend_direct_addr (Fixture *f)
{
  g_auto (GStrv) mine = punch_node_get_my_addrs (f->friend);

  for (guint i = 0; mine[i] != NULL; i++)
    if (strstr (mine[i], "/p2p-circuit") == NULL)
      return g_strdup (mine[i]);
  g_assert_not_reached ();
}

static PunchConnection *
connect_to (PunchNode *node, const char *addr, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  punch_node_connect_async (node, addr, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  return punch_node_connect_finish (node, result, error);
}

static void
test_reservation_events (Fixture *f, gconstpointer data)
{
  PunchTimeline *tl;

  reserve_friend (f);
  tl = punch_node_get_timeline (f->friend);
  /* connecting → reserving → reserved, each a timeline event. */
  g_assert_cmpuint (punch_timeline_count (tl, "reservation", NULL), >=, 3);
  g_assert_cmpuint (punch_node_get_counter (f->friend, "reservations.reserved"), ==, 1);
  g_assert_nonnull (strstr (punch_node_get_reachability (f->friend), "Reachable through 1 relay"));
  /* The relay is not a friend. */
  g_assert_cmpuint (g_list_model_get_n_items (punch_node_get_peers (f->friend)), ==, 0);
}

static void
test_relayed_then_direct (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *relayed = NULL;
  g_autofree char *direct = NULL;
  g_autoptr (PunchConnection) conn = NULL;
  g_autoptr (PunchConnection) conn2 = NULL;
  PunchNodePeer *peer;
  GListModel *events;
  gboolean saw_relayed_open = FALSE, saw_direct_open = FALSE, saw_path_direct = FALSE;
  const char *friend_id;

  reserve_friend (f);
  relayed = friend_relayed_addr (f);
  friend_id = punch_node_get_peer_id (f->friend);

  conn = connect_to (f->me, relayed, &error);
  g_assert_no_error (error);
  g_assert_true (punch_connection_get_relayed (conn));
  peer = punch_node_lookup_peer (f->me, friend_id);
  g_assert_nonnull (peer);
  g_assert_cmpint (punch_node_peer_get_path (peer), !=, PUNCH_PEER_PATH_DIRECT);
  g_assert_cmpint (punch_node_peer_get_path (peer), !=, PUNCH_PEER_PATH_NONE);
  g_assert_cmpstr (punch_node_peer_get_relay_peer_id (peer), ==, punch_peer_id_to_string (punch_host_get_peer_id (f->relay)));
  /* The dashboard's relay budget comes from this connection. */
  g_assert_true (punch_node_peer_get_relayed_connection (peer) == conn);
  g_assert_cmpuint (punch_connection_get_limit_data (conn), ==, 128 * 1024);
  /* Only the friend is a peer; the relay we dialled through is not. */
  g_assert_cmpuint (g_list_model_get_n_items (punch_node_get_peers (f->me)), ==, 1);

  /* The periodic ping fills the relayed series and the relay leg. */
  WAIT_UNTIL (punch_rtt_series_get_n_samples (punch_node_peer_get_rtt_relayed (peer)) >= 2);
  WAIT_UNTIL (punch_rtt_series_get_n_samples (punch_node_peer_get_rtt_relay (peer)) >= 1);
  g_assert_cmpint (punch_node_peer_get_rtt (peer), >, 0);

  /* Loopback is no public address, so DCUtR cannot go direct here: dial
   * the friend's listen address ourselves. */
  direct = friend_direct_addr (f);
  conn2 = connect_to (f->me, direct, &error);
  g_assert_no_error (error);
  g_assert_false (punch_connection_get_relayed (conn2));
  g_assert_cmpint (punch_node_peer_get_path (peer), ==, PUNCH_PEER_PATH_DIRECT);
  g_assert_nonnull (punch_node_peer_get_direct_addr (peer));
  WAIT_UNTIL (punch_rtt_series_get_n_samples (punch_node_peer_get_rtt_direct (peer)) >= 2);

  events = G_LIST_MODEL (punch_node_peer_get_timeline (peer));
  for (guint i = 0; i < g_list_model_get_n_items (events); i++)
    {
      g_autoptr (PunchTimelineEvent) ev = g_list_model_get_item (events, i);
      const char *kind = punch_timeline_event_get_kind (ev);

      if (g_strcmp0 (kind, "connection") == 0 && g_strcmp0 (punch_timeline_event_get_to (ev), "open") == 0)
        {
          if (punch_timeline_event_get_relayed (ev))
            saw_relayed_open = TRUE;
          else if (saw_relayed_open)
            saw_direct_open = TRUE;
          g_assert_cmpuint (punch_timeline_event_get_connection_id (ev), >, 0);
          g_assert_nonnull (punch_timeline_event_get_remote (ev));
        }
      if (g_strcmp0 (kind, "path") == 0 && g_strcmp0 (punch_timeline_event_get_to (ev), "direct") == 0)
        saw_path_direct = TRUE;
    }
  g_assert_true (saw_relayed_open);
  g_assert_true (saw_direct_open);
  g_assert_true (saw_path_direct);

  /* Closing the direct connection falls back to the relayed one. */
  punch_connection_close (conn2);
  WAIT_UNTIL (punch_node_peer_get_path (peer) != PUNCH_PEER_PATH_DIRECT);
  g_assert_true (punch_node_peer_get_relayed_connection (peer) == conn);
  punch_connection_close (conn);
  WAIT_UNTIL (punch_node_peer_get_relayed_connection (peer) == NULL);
  g_assert_cmpuint (punch_timeline_count (punch_node_peer_get_timeline (peer), "connection", NULL), >=, 3);
}

static void
test_bad_addresses (Fixture *f, gconstpointer data)
{
  static const char *const bad[] = {
    "",
    "hello",
    "/ip4/1.2.3.4/tcp/4001",
    "/ip4/999.2.3.4/tcp/4001/p2p/12D3KooWGzh4rN3ha9d2J3gYsECKi6BSD3kRb5uYdiW2rGfJ5BXk",
    "/ip4/1.2.3.4/udp/4001/quic-v1/p2p/12D3KooWGzh4rN3ha9d2J3gYsECKi6BSD3kRb5uYdiW2rGfJ5BXk",
    "/p2p-circuit/p2p/12D3KooWGzh4rN3ha9d2J3gYsECKi6BSD3kRb5uYdiW2rGfJ5BXk",
    "/ip4/1.2.3.4/tcp/1/p2p/notapeerid",
  };
  g_autofree char *own = g_strdup_printf ("/ip4/127.0.0.1/tcp/1/p2p/%s", punch_node_get_peer_id (f->me));

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchMultiaddr) ma = punch_node_parse_friend_addr (f->me, bad[i], &error);

      g_test_message ("%s: %s", bad[i], error ? error->message : "(accepted)");
      g_assert_null (ma);
      g_assert_error (error, PUNCH_ERROR, error->code);
      g_assert_cmpstr (error->message, !=, "");
    }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (PunchMultiaddr) ma = punch_node_parse_friend_addr (f->me, own, &error);

    g_assert_null (ma);
    g_assert_nonnull (strstr (error->message, "own"));
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (PunchConnection) conn = connect_to (f->me, "/ip4/1.2.3.4/tcp/1", &error);

    g_assert_null (conn);
    g_assert_nonnull (error);
    g_assert_cmpuint (g_list_model_get_n_items (punch_host_get_connections (punch_node_get_host (f->me))), ==, 0);
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (PunchMultiaddr) ma = punch_node_parse_friend_addr (f->me, "  /ip4/1.2.3.4/tcp/4001/p2p/12D3KooWGzh4rN3ha9d2J3gYsECKi6BSD3kRb5uYdiW2rGfJ5BXk\n", &error);

    g_assert_no_error (error);
    g_assert_nonnull (ma);
  }
  /* Relay settings: garbage is refused at once, an unresolvable name fails later. */
  {
    g_autoptr (GError) error = NULL;

    g_assert_false (punch_node_add_relay (f->me, "/ip4/1.2.3.4/tcp/1", &error));
    g_assert_nonnull (error);
  }
}

static void
test_dnsaddr_failure_shown (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchRelayEntry) entry = NULL;

  g_assert_true (punch_node_add_relay (f->me, "/dnsaddr/relay.invalid", &error));
  g_assert_no_error (error);
  entry = g_list_model_get_item (punch_node_get_relay_entries (f->me), 0);
  WAIT_UNTIL_SECONDS (punch_relay_entry_get_status (entry) == PUNCH_RELAY_ENTRY_FAILED, 30);
  g_assert_nonnull (punch_relay_entry_get_error (entry));
  /* A name that does not resolve now may later: the node tries again. */
  g_assert_nonnull (strstr (punch_relay_entry_get_error (entry), "retrying in 30 s"));
  g_assert_true (punch_node_remove_relay (f->me, "/dnsaddr/relay.invalid"));
  g_assert_cmpuint (g_list_model_get_n_items (punch_node_get_relay_entries (f->me)), ==, 0);
}

static void
test_dnsaddr_relay (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchRelayEntry) entry = NULL;

  g_assert_true (punch_node_add_relay (f->friend, "/dnsaddr/relays.test", &error));
  g_assert_no_error (error);
  entry = g_list_model_get_item (punch_node_get_relay_entries (f->friend), 0);
  WAIT_UNTIL (punch_relay_entry_get_status (entry) != PUNCH_RELAY_ENTRY_RESOLVING);
  g_assert_cmpint (punch_relay_entry_get_status (entry), ==, PUNCH_RELAY_ENTRY_ACTIVE);
  g_assert_cmpuint (punch_relay_entry_get_n_relays (entry), ==, 1);
  WAIT_UNTIL (reservation_of (f->friend) != NULL
              && punch_relay_reservation_get_state (reservation_of (f->friend)) == PUNCH_RESERVATION_STATE_RESERVED);
  /* Adding the same name again changes nothing. */
  g_assert_true (punch_node_add_relay (f->friend, "/dnsaddr/relays.test", NULL));
  g_assert_cmpuint (g_list_model_get_n_items (punch_node_get_relay_entries (f->friend)), ==, 1);
}

static JsonNode *
parse_json (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static void
check_report (Fixture *f, JsonNode *root)
{
  JsonObject *obj = json_node_get_object (root);
  JsonObject *node = json_object_get_object_member (obj, "node");
  JsonArray *conns = json_object_get_array_member (obj, "connections");
  JsonArray *peers = json_object_get_array_member (obj, "peers");
  JsonArray *rsvs = json_object_get_array_member (obj, "reservations");
  JsonArray *events = json_object_get_array_member (obj, "events");
  gboolean relayed_conn = FALSE;

  g_assert_cmpstr (json_object_get_string_member (obj, "schema"), ==, PUNCH_DIAGNOSTICS_SCHEMA);
  g_assert_true (json_object_has_member (json_object_get_object_member (obj, "versions"), "punchline"));
  g_assert_cmpstr (json_object_get_string_member (node, "peer_id"), ==, punch_node_get_peer_id (f->me));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (node, "listen_addrs")), >=, 1);
  g_assert_true (json_object_has_member (json_object_get_object_member (obj, "nat"), "summary"));
  g_assert_cmpuint (json_array_get_length (rsvs), ==, 0);
  g_assert_cmpuint (json_array_get_length (peers), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (peers, 0), "path"), ==, "relayed");
  g_assert_cmpuint (json_array_get_length (conns), >=, 2);  /* relay + relayed friend */
  for (guint i = 0; i < json_array_get_length (conns); i++)
    {
      JsonObject *c = json_array_get_object_element (conns, i);
      JsonArray *tl = json_object_get_array_member (c, "timeline");
      JsonObject *first = json_array_get_object_element (tl, 0);

      g_assert_cmpuint (json_array_get_length (tl), >=, 1);
      g_assert_cmpstr (json_object_get_string_member (first, "from"), ==, "none");
      g_assert_cmpstr (json_object_get_string_member (first, "to"), ==, "open");
      g_assert_true (g_str_has_suffix (json_object_get_string_member (first, "when"), "Z"));
      if (json_object_get_boolean_member (c, "relayed")
          && g_strcmp0 (json_object_get_string_member (c, "state"), "open") == 0)
        {
          /* The relay's default limits (2 min, 128 KiB each way) and what
           * identify and the test's pings left of them. */
          JsonObject *limit = json_object_get_object_member (c, "relay_limit");

          g_assert_nonnull (limit);
          g_assert_cmpint (json_object_get_int_member (limit, "duration_s"), ==, 120);
          g_assert_cmpint (json_object_get_int_member (limit, "data_bytes"), ==, 128 * 1024);
          g_assert_true (g_str_has_suffix (json_object_get_string_member (limit, "ends_at"), "Z"));
          g_assert_cmpint (json_object_get_int_member (limit, "remaining_send_bytes"), <, 128 * 1024);
          g_assert_cmpint (json_object_get_int_member (limit, "remaining_send_bytes"), >, 64 * 1024);
          g_assert_cmpint (json_object_get_int_member (limit, "remaining_receive_bytes"), <, 128 * 1024);
          g_assert_cmpint (json_object_get_int_member (limit, "remaining_receive_bytes"), >, 64 * 1024);
          relayed_conn = TRUE;
        }
      else
        g_assert_false (json_object_has_member (c, "relay_limit"));
    }
  g_assert_true (relayed_conn);
  g_assert_cmpuint (json_array_get_length (events), >=, 3);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (events, 0), "event"), !=, NULL);
  g_assert_true (json_object_has_member (obj, "counters"));
  g_assert_true (json_object_has_member (obj, "errors"));
  g_assert_true (json_object_has_member (obj, "hole_punches"));
}

static void
test_export (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *relayed = NULL;
  g_autoptr (PunchConnection) conn = NULL;
  g_autoptr (JsonNode) built = NULL;
  g_autoptr (JsonNode) parsed = NULL;
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("punch-diag-XXXXXX", &error);
  g_autoptr (GFile) dir = NULL;
  g_autoptr (GFile) bundle = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *report = NULL;
  g_autofree char *csv = NULL;
  g_autofree char *summary = NULL;
  g_autofree char *bundle_path = NULL;
  g_autofree char *key_b64 = NULL;
  GBytes *key_pb;

  g_assert_no_error (error);
  reserve_friend (f);
  relayed = friend_relayed_addr (f);
  conn = connect_to (f->me, relayed, &error);
  g_assert_no_error (error);
  WAIT_UNTIL (punch_rtt_series_get_n_samples (punch_node_peer_get_rtt_relayed (
                punch_node_lookup_peer (f->me, punch_node_get_peer_id (f->friend)))) >= 2);

  built = punch_diagnostics_build_report (f->me);
  json_generator_set_root (gen, built);
  text = json_generator_to_data (gen, NULL);
  parsed = parse_json (text);
  check_report (f, parsed);

  dir = g_file_new_for_path (tmp);
  punch_diagnostics_write_async (f->me, dir, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  bundle = punch_diagnostics_write_finish (f->me, result, &error);
  g_assert_no_error (error);
  bundle_path = g_file_get_path (bundle);
  {
    g_autofree char *p1 = g_build_filename (bundle_path, "report.json", NULL);
    g_autofree char *p2 = g_build_filename (bundle_path, "rtt.csv", NULL);
    g_autofree char *p3 = g_build_filename (bundle_path, "summary.txt", NULL);
    g_autoptr (JsonNode) from_file = NULL;

    g_assert_true (g_file_get_contents (p1, &report, NULL, &error));
    g_assert_true (g_file_get_contents (p2, &csv, NULL, &error));
    g_assert_true (g_file_get_contents (p3, &summary, NULL, &error));
    from_file = parse_json (report);
    check_report (f, from_file);
    g_assert_true (g_str_has_prefix (csv, "series,peer_id,relay_peer_id,time,time_unix_us,rtt_ms\n"));
    g_assert_nonnull (strstr (csv, "\npeer_relayed,"));
    g_assert_nonnull (strstr (summary, punch_node_get_peer_id (f->me)));
    g_assert_nonnull (strstr (summary, "Timeline:"));
    g_unlink (p1);
    g_unlink (p2);
    g_unlink (p3);
  }
  /* Never the private key, in any encoding we might have used. */
  key_pb = punch_private_key_get_protobuf (punch_host_get_private_key (punch_node_get_host (f->me)));
  key_b64 = g_base64_encode (g_bytes_get_data (key_pb, NULL), g_bytes_get_size (key_pb));
  g_assert_null (strstr (report, key_b64));
  g_assert_null (strstr (summary, key_b64));
  g_rmdir (bundle_path);
  g_rmdir (tmp);
}

/* An outbound direct connection from local 192.168.1.2:4001 to
 * @observer_ip:@observer_port that saw us as @observed. */
static void
observe (PunchNode *node, const char *observer, const char *observer_ip, guint observer_port, const char *observed)
{
  g_autofree char *remote_text = g_strdup_printf ("/ip4/%s/tcp/%u", observer_ip, observer_port);
  g_autoptr (PunchMultiaddr) remote = punch_multiaddr_new_from_string (remote_text, NULL);
  g_autoptr (PunchMultiaddr) local = punch_multiaddr_new_from_string ("/ip4/192.168.1.2/tcp/4001", NULL);
  g_autoptr (PunchMultiaddr) seen = punch_multiaddr_new_from_string (observed, NULL);
  g_autoptr (PunchNatObservation) obs = NULL;

  g_assert_nonnull (remote);
  g_assert_nonnull (seen);
  obs = punch_nat_observation_new (observer, remote, local, seen, TRUE);
  punch_autonat_service_add_observation (punch_node_get_autonat (node), obs);
}

static JsonObject *
nat_section (JsonNode *report)
{
  return json_object_get_object_member (json_node_get_object (report), "nat");
}

static void
on_notify_count (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  (*(guint *) user_data)++;
}

static void
test_nat_summary (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonNode) report = NULL;
  g_autoptr (PunchNatReport) nat = NULL;
  JsonObject *section;
  JsonArray *external;
  guint notified = 0;

  g_signal_connect (f->me, "notify::reachability", G_CALLBACK (on_notify_count), &notified);

  /* Nothing observed: unknown, and said so. */
  g_assert_nonnull (strstr (punch_node_get_reachability (f->me), "direct connections: unknown NAT ("));
  report = punch_diagnostics_build_report (f->me);
  section = nat_section (report);
  g_assert_cmpstr (json_object_get_string_member (section, "mapping"), ==, "unknown");
  g_assert_cmpint (json_object_get_int_member (section, "mapping_observers"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (section, "autonat"), "reachability"),
                   ==, "unknown");
  g_clear_pointer (&report, json_node_unref);

  /* One observer cannot tell the mapping: still unknown, never a guess. */
  observe (f->me, "observer-a", "203.0.113.5", 4001, "/ip4/198.51.100.7/tcp/4001");
  g_assert_null (strstr (punch_node_get_reachability (f->me), "likely"));
  g_assert_nonnull (strstr (punch_node_get_reachability (f->me), "1 observer"));
  nat = punch_node_get_nat_report (f->me);
  g_assert_cmpint (nat->mapping, ==, PUNCH_NAT_MAPPING_UNKNOWN);
  g_clear_pointer (&nat, punch_nat_report_free);

  /* A second observer elsewhere sees the same external port. */
  observe (f->me, "observer-b", "203.0.113.77", 4001, "/ip4/198.51.100.7/tcp/4001");
  g_assert_cmpuint (notified, >=, 2);
  g_assert_nonnull (strstr (punch_node_get_reachability (f->me),
                            "direct connections likely (endpoint-independent NAT, 2 observers agree)"));
  report = punch_diagnostics_build_report (f->me);
  section = nat_section (report);
  g_assert_cmpstr (json_object_get_string_member (section, "mapping"), ==, "endpoint-independent");
  g_assert_cmpint (json_object_get_int_member (section, "mapping_observers"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (section, "port_preservation"), ==, "preserved");
  g_assert_nonnull (strstr (json_object_get_string_member (section, "verdict"), "endpoint-independent"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (section, "observations")), ==, 2);
  external = json_object_get_array_member (section, "external_addrs");
  g_assert_cmpuint (json_array_get_length (external), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (external, 0), "addr"), ==,
                   "/ip4/198.51.100.7/tcp/4001");
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (external, 0), "observers"), ==, 2);
  g_clear_pointer (&report, json_node_unref);

  /* Endpoint-dependent on the friend: each observer saw another port. */
  observe (f->friend, "observer-a", "203.0.113.5", 4001, "/ip4/198.51.100.8/tcp/50001");
  observe (f->friend, "observer-b", "203.0.113.77", 4001, "/ip4/198.51.100.8/tcp/50002");
  g_assert_nonnull (strstr (punch_node_get_reachability (f->friend),
                            "direct connections unlikely (endpoint-dependent NAT, 2 observers"));
  report = punch_diagnostics_build_report (f->friend);
  g_assert_cmpstr (json_object_get_string_member (nat_section (report), "mapping"), ==, "endpoint-dependent");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (nat_section (report), "external_addrs")),
                    ==, 2);
}

static void
on_string_signal (gpointer instance, const char *what, gpointer user_data)
{
  GPtrArray *seen = user_data;

  g_ptr_array_add (seen, g_strdup (what ? what : "(null)"));
}

static void
on_rsv_state (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  GPtrArray *states = user_data;

  g_ptr_array_add (states, g_strdup (punch_reservation_state_to_string (
                                       punch_relay_reservation_get_state (PUNCH_RELAY_RESERVATION (object)))));
}

static void
test_network_change_renews (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) node_seen = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) renewing = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) states = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (PunchConnection) old_conn = NULL;
  g_autoptr (PunchMultiaddr) old_public = punch_multiaddr_new_from_string ("/ip4/198.51.100.7/tcp/4001", NULL);
  PunchRelayReservation *rsv;
  PunchConnection *new_conn;

  reserve_friend (f);
  rsv = reservation_of (f->friend);
  old_conn = g_object_ref (punch_relay_reservation_get_connection (rsv));
  g_assert_cmpuint (punch_node_get_counter (f->friend, "reservations.reserved"), ==, 1);
  g_signal_connect (f->friend, "network-changed", G_CALLBACK (on_string_signal), node_seen);
  g_signal_connect (punch_node_get_relay_client (f->friend), "renewing", G_CALLBACK (on_string_signal), renewing);
  g_signal_connect (rsv, "notify::state", G_CALLBACK (on_rsv_state), states);

  /* A change of routes only (GNetworkMonitor fires for a link-local route
   * too): the relay connection answers a ping and stays. */
  g_signal_emit_by_name (g_network_monitor_get_default (), "network-changed", TRUE);
  g_assert_cmpuint (node_seen->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (node_seen, 0), ==, "routes");
  /* The check runs 1 s after the change; its ping takes milliseconds. */
  host_test_spin (2500);
  g_assert_cmpint (punch_connection_get_state (old_conn), ==, PUNCH_CONNECTION_STATE_OPEN);
  g_assert_cmpuint (renewing->len, ==, 0);
  g_assert_cmpuint (states->len, ==, 0);
  g_assert_cmpuint (punch_node_get_counter (f->friend, "network.stale_connections"), ==, 0);

  /* The real path of a router's new WAN address: an observer at one IP
   * sees us on a new public IP. The relay connection was seen on the old
   * one (its mapping is gone): dropped, and the relay client reserves
   * again on its own. */
  punch_connection_set_observed_addr (old_conn, old_public);
  observe (f->friend, "observer-a", "203.0.113.5", 4001, "/ip4/198.51.100.7/tcp/4001");
  g_assert_cmpuint (node_seen->len, ==, 1);
  observe (f->friend, "observer-a", "203.0.113.5", 4001, "/ip4/198.51.100.99/tcp/4001");
  g_assert_cmpuint (node_seen->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (node_seen, 1), ==, "external-address");
  /* A burst of changes is checked once, after the network settled. */
  observe (f->friend, "observer-a", "203.0.113.5", 4001, "/ip4/198.51.100.100/tcp/4001");
  g_assert_cmpuint (node_seen->len, ==, 3);
  g_assert_cmpint (punch_connection_get_state (old_conn), ==, PUNCH_CONNECTION_STATE_OPEN);
  WAIT_UNTIL_SECONDS (punch_connection_get_state (old_conn) != PUNCH_CONNECTION_STATE_OPEN, 5);
  g_assert_cmpuint (punch_node_get_counter (f->friend, "network.stale_connections"), ==, 1);

  WAIT_UNTIL_SECONDS (punch_relay_reservation_get_state (rsv) == PUNCH_RESERVATION_STATE_RESERVED
                      && punch_relay_reservation_get_connection (rsv) != old_conn, 10);
  new_conn = punch_relay_reservation_get_connection (rsv);
  g_assert_nonnull (new_conn);
  g_assert_cmpint (punch_connection_get_state (new_conn), ==, PUNCH_CONNECTION_STATE_OPEN);
  g_assert_cmpuint (states->len, >=, 2);
  g_assert_cmpuint (renewing->len, ==, 0);
  g_assert_cmpuint (punch_node_get_counter (f->friend, "network.changes"), ==, 3);
  g_assert_cmpuint (punch_node_get_counter (f->friend, "reservations.reserved"), ==, 2);
  g_assert_nonnull (strstr (punch_node_get_reachability (f->friend), "Reachable through 1 relay"));
  {
    g_autofree char *relayed = friend_relayed_addr (f);

    g_assert_nonnull (relayed);
  }

  /* An address we were observed from left the machine (192.168.1.2 is on
   * no interface here): what was learnt from it is stale. */
  g_signal_emit_by_name (g_network_monitor_get_default (), "network-changed", TRUE);
  g_assert_cmpuint (node_seen->len, ==, 4);
  g_assert_cmpstr (g_ptr_array_index (node_seen, 3), ==, "interfaces");
  g_signal_handlers_disconnect_by_data (rsv, states);
}

/* A relay we hold no reservation on waits out a backoff: a change of
 * network is a reason to try it again at once. */
static void
test_network_change_retries_waiting (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) renewing = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_autofree char *dead = g_strdup_printf ("/ip4/127.0.0.1/tcp/1/p2p/%s",
                                           punch_peer_id_to_string (punch_host_get_peer_id (f->relay)));
  PunchRelayReservation *rsv;

  g_assert_true (punch_node_add_relay (f->me, dead, &error));
  g_assert_no_error (error);
  rsv = reservation_of (f->me);
  /* Two refusals: the next try is 2 s away, far from the check. */
  WAIT_UNTIL (punch_relay_reservation_get_attempts (rsv) >= 2
              && punch_relay_reservation_get_state (rsv) == PUNCH_RESERVATION_STATE_FAILED);
  g_signal_connect (punch_node_get_relay_client (f->me), "renewing", G_CALLBACK (on_string_signal), renewing);
  g_signal_emit_by_name (g_network_monitor_get_default (), "network-changed", TRUE);
  WAIT_UNTIL_SECONDS (renewing->len == 1, 3);
  g_assert_nonnull (strstr (g_ptr_array_index (renewing, 0), "routes"));
  /* It starts over without backoff (and is refused again). */
  g_assert_cmpuint (punch_relay_reservation_get_attempts (rsv), <=, 1);
}

/* Runs a punch with @outcome through @node's handlers as DCUtR would
 * announce it, and returns whether the prediction held. */
static int
fake_punch (PunchNode *node, PunchNode *peer, PunchHolePunchOutcome outcome, PunchPunchPrediction *prediction)
{
  g_autoptr (PunchHolePunch) hp = punch_hole_punch_new (punch_host_get_peer_id (punch_node_get_host (peer)),
                                                        PUNCH_HOLE_PUNCH_ROLE_A, NULL);
  int held = 7;

  g_signal_emit_by_name (punch_node_get_dcutr (node), "punch-started", hp);
  *prediction = punch_node_get_punch_prediction (node, hp, &held);
  g_assert_cmpint (held, ==, -1);  /* still running */
  punch_hole_punch_fail (hp, outcome, "fake");
  g_signal_emit_by_name (punch_node_get_dcutr (node), "punch-finished", hp);
  g_assert_cmpint (punch_node_get_punch_prediction (node, hp, &held), ==, *prediction);
  return held;
}

static void
test_punch_prediction (Fixture *f, gconstpointer data)
{
  PunchPunchPrediction prediction;

  /* Unknown NAT: no prediction to hold or fail. */
  g_assert_cmpint (fake_punch (f->me, f->friend, PUNCH_HOLE_PUNCH_OUTCOME_FAILED, &prediction), ==, -1);
  g_assert_cmpint (prediction, ==, PUNCH_PUNCH_PREDICTION_UNKNOWN);
  g_assert_cmpuint (punch_node_get_counter (f->me, "predictions.unknown"), ==, 1);

  /* No NAT here (two observers see our own address): likely; a failed
   * punch means it did not hold. */
  observe (f->me, "observer-a", "203.0.113.5", 4001, "/ip4/192.168.1.2/tcp/4001");
  observe (f->me, "observer-b", "203.0.113.77", 4001, "/ip4/192.168.1.2/tcp/4001");
  g_assert_cmpint (fake_punch (f->me, f->friend, PUNCH_HOLE_PUNCH_OUTCOME_FAILED, &prediction), ==, 0);
  g_assert_cmpint (prediction, ==, PUNCH_PUNCH_PREDICTION_LIKELY);
  g_assert_cmpuint (punch_node_get_counter (f->me, "predictions.failed"), ==, 1);

  /* Endpoint-dependent here: unlikely, and a failure bears it out; a
   * cancelled punch says nothing. */
  observe (f->friend, "observer-a", "203.0.113.5", 4001, "/ip4/198.51.100.8/tcp/50001");
  observe (f->friend, "observer-b", "203.0.113.77", 4001, "/ip4/198.51.100.8/tcp/50002");
  g_assert_cmpint (fake_punch (f->friend, f->me, PUNCH_HOLE_PUNCH_OUTCOME_NO_CONNECTION, &prediction), ==, 1);
  g_assert_cmpint (prediction, ==, PUNCH_PUNCH_PREDICTION_UNLIKELY);
  g_assert_cmpuint (punch_node_get_counter (f->friend, "predictions.held"), ==, 1);
  g_assert_cmpint (fake_punch (f->friend, f->me, PUNCH_HOLE_PUNCH_OUTCOME_CANCELLED, &prediction), ==, -1);
  g_assert_cmpuint (punch_node_get_counter (f->friend, "predictions.held"), ==, 1);
  g_assert_cmpuint (punch_node_get_counter (f->friend, "predictions.failed"), ==, 0);
  /* Each start says what we expect; each counted end whether it held. */
  g_assert_cmpuint (punch_timeline_count (punch_node_get_timeline (f->friend), "nat_prediction", NULL), ==, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  mock_resolver = g_object_new (mock_resolver_get_type (), NULL);
  g_resolver_set_default (G_RESOLVER (mock_resolver));
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/core/node/reservation-events", test_reservation_events);
  ADD ("/core/node/relayed-then-direct", test_relayed_then_direct);
  ADD ("/core/node/bad-addresses", test_bad_addresses);
  ADD ("/core/node/dnsaddr-failure", test_dnsaddr_failure_shown);
  ADD ("/core/node/dnsaddr-relay", test_dnsaddr_relay);
  ADD ("/core/node/export", test_export);
  ADD ("/core/node/nat-summary", test_nat_summary);
  ADD ("/core/node/network-change-renews", test_network_change_renews);
  ADD ("/core/node/network-change-retries-waiting", test_network_change_retries_waiting);
  ADD ("/core/node/punch-prediction", test_punch_prediction);
  return g_test_run ();
}
