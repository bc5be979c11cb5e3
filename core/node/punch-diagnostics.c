/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-diagnostics.h"

#include <openssl/crypto.h>
#include <string.h>
#include <sys/utsname.h>

#include "punch-addr-scope.h"

#ifndef PUNCH_VERSION
#define PUNCH_VERSION "unknown"
#endif

static void
add_time (JsonBuilder *b, const char *member, gint64 time_us)
{
  g_autofree char *text = NULL;

  json_builder_set_member_name (b, member);
  if (time_us <= 0)
    {
      json_builder_add_null_value (b);
      return;
    }
  text = punch_format_iso_time (time_us);
  json_builder_add_string_value (b, text);
}

static void
add_date_time (JsonBuilder *b, const char *member, GDateTime *dt)
{
  add_time (b, member, dt ? g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt) : 0);
}

static void
add_string (JsonBuilder *b, const char *member, const char *value)
{
  json_builder_set_member_name (b, member);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_ms (JsonBuilder *b, const char *member, gint64 us)
{
  json_builder_set_member_name (b, member);
  if (us < 0)
    json_builder_add_null_value (b);
  else
    json_builder_add_double_value (b, us / 1000.0);
}

/* What the relay still allows on a limited relayed connection. */
static void
add_relay_budget (JsonBuilder *b, PunchConnection *conn)
{
  GDateTime *ends = punch_connection_get_limit_ends_at (conn);
  guint64 data = punch_connection_get_limit_data (conn);

  json_builder_set_member_name (b, "relay_limit");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "duration_s");
  json_builder_add_int_value (b, punch_connection_get_limit_duration (conn));
  json_builder_set_member_name (b, "data_bytes");
  json_builder_add_int_value (b, (gint64) data);
  add_time (b, "ends_at",
            ends != NULL ? g_date_time_to_unix (ends) * G_USEC_PER_SEC + g_date_time_get_microsecond (ends) : 0);
  json_builder_set_member_name (b, "remaining_send_bytes");
  if (data > 0)
    json_builder_add_int_value (b, (gint64) punch_connection_get_remaining_send (conn));
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "remaining_receive_bytes");
  if (data > 0)
    json_builder_add_int_value (b, (gint64) punch_connection_get_remaining_receive (conn));
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
}

static void
add_strv (JsonBuilder *b, const char *member, const char * const *values)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (guint i = 0; values != NULL && values[i] != NULL; i++)
    json_builder_add_string_value (b, values[i]);
  json_builder_end_array (b);
}

static void
add_addr_array (JsonBuilder *b, const char *member, GPtrArray *addrs)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (guint i = 0; addrs != NULL && i < addrs->len; i++)
    {
      g_autofree char *text = punch_multiaddr_to_string (g_ptr_array_index (addrs, i));
      json_builder_add_string_value (b, text);
    }
  json_builder_end_array (b);
}

static void
add_series_stats (JsonBuilder *b, const char *member, PunchRttSeries *series)
{
  gint64 min, max, mean;

  json_builder_set_member_name (b, member);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "samples");
  json_builder_add_int_value (b, punch_rtt_series_get_n_samples (series));
  if (punch_rtt_series_get_stats (series, 0, &min, &max, &mean))
    {
      add_ms (b, "min_ms", min);
      add_ms (b, "mean_ms", mean);
      add_ms (b, "max_ms", max);
      add_ms (b, "last_ms", punch_rtt_series_get_last (series));
    }
  json_builder_end_object (b);
}

/* An event in the vocabulary of docs/cli-events.md: time and event first. */
static void
add_event (JsonBuilder *b, PunchTimelineEvent *event)
{
  const char *kind = punch_timeline_event_get_kind (event);

  json_builder_begin_object (b);
  add_time (b, "time", punch_timeline_event_get_time (event));
  add_string (b, "event", kind);
  add_string (b, "peer_id", punch_timeline_event_get_peer_id (event));
  if (g_strcmp0 (kind, "connection") == 0)
    {
      add_string (b, "state", punch_timeline_event_get_to (event));
      add_string (b, "direction", punch_timeline_event_get_direction (event));
      add_string (b, "remote", punch_timeline_event_get_remote (event));
      json_builder_set_member_name (b, "relayed");
      json_builder_add_boolean_value (b, punch_timeline_event_get_relayed (event));
      json_builder_set_member_name (b, "connection_id");
      json_builder_add_int_value (b, punch_timeline_event_get_connection_id (event));
      if (punch_timeline_event_get_detail (event) != NULL)
        add_string (b, "error", punch_timeline_event_get_detail (event));
    }
  else if (g_strcmp0 (kind, "error") == 0)
    {
      g_autofree char *message = g_strdup_printf ("%s: %s", punch_timeline_event_get_to (event),
                                                  punch_timeline_event_get_detail (event));
      add_string (b, "message", message);
    }
  else
    {
      add_string (b, "from", punch_timeline_event_get_from (event));
      add_string (b, "to", punch_timeline_event_get_to (event));
      add_string (b, "detail", punch_timeline_event_get_detail (event));
      if (punch_timeline_event_get_attempt (event) > 0)
        {
          json_builder_set_member_name (b, "attempt");
          json_builder_add_int_value (b, punch_timeline_event_get_attempt (event));
        }
    }
  json_builder_end_object (b);
}

static void
add_versions (JsonBuilder *b)
{
  struct utsname un;
  g_autofree char *glib = g_strdup_printf ("%u.%u.%u", glib_major_version, glib_minor_version, glib_micro_version);
  g_autofree char *os = NULL;

  json_builder_set_member_name (b, "versions");
  json_builder_begin_object (b);
  add_string (b, "punchline", PUNCH_VERSION);
  add_string (b, "glib", glib);
  add_string (b, "openssl", OpenSSL_version (OPENSSL_VERSION));
  add_string (b, "json_glib", JSON_VERSION_S);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "platform");
  json_builder_begin_object (b);
  if (uname (&un) == 0)
    {
      add_string (b, "system", un.sysname);
      add_string (b, "release", un.release);
      add_string (b, "machine", un.machine);
    }
  os = g_get_os_info (G_OS_INFO_KEY_PRETTY_NAME);
  add_string (b, "os", os);
  json_builder_end_object (b);
}

static void
add_uint (JsonBuilder *b, const char *member, guint value)
{
  json_builder_set_member_name (b, member);
  json_builder_add_int_value (b, value);
}

static void
add_addr (JsonBuilder *b, const char *member, PunchMultiaddr *addr)
{
  g_autofree char *text = addr != NULL ? punch_multiaddr_to_string (addr) : NULL;

  add_string (b, member, text);
}

/* The classifier's verdict with its evidence, and AutoNAT's answers: a
 * maintainer must see how strongly each conclusion is supported. */
static void
add_nat (JsonBuilder *b, PunchNode *node)
{
  PunchAutonatService *autonat = punch_node_get_autonat (node);
  g_autoptr (PunchNatReport) nat = punch_node_get_nat_report (node);
  g_autoptr (GPtrArray) observations = punch_autonat_service_get_observations (autonat);
  guint ok = 0, failed = 0;

  json_builder_set_member_name (b, "nat");
  json_builder_begin_object (b);
  add_string (b, "summary", punch_node_get_reachability (node));
  add_string (b, "mapping", punch_nat_mapping_to_string (nat->mapping));
  add_uint (b, "mapping_observers", nat->mapping_support);
  add_string (b, "port_preservation", punch_nat_port_preservation_to_string (nat->port_preservation));
  add_uint (b, "preservation_observers", nat->preservation_support);
  add_uint (b, "observers", nat->n_observers);
  add_string (b, "reason", nat->reason);
  add_string (b, "verdict", nat->verdict);

  json_builder_set_member_name (b, "external_addrs");
  json_builder_begin_array (b);
  for (guint i = 0; i < nat->external_addrs->len; i++)
    {
      json_builder_begin_object (b);
      add_addr (b, "addr", g_ptr_array_index (nat->external_addrs, i));
      add_uint (b, "observers", g_array_index (nat->external_support, guint, i));
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "observations");
  json_builder_begin_array (b);
  for (guint i = 0; i < observations->len; i++)
    {
      PunchNatObservation *obs = g_ptr_array_index (observations, i);

      json_builder_begin_object (b);
      add_string (b, "observer", obs->observer);
      add_addr (b, "observer_addr", obs->observer_addr);
      add_addr (b, "local_addr", obs->local_addr);
      add_addr (b, "observed_addr", obs->observed_addr);
      add_string (b, "direction", obs->outbound ? "outbound" : "inbound");
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  punch_autonat_service_get_answer_counts (autonat, &ok, &failed);
  json_builder_set_member_name (b, "autonat");
  json_builder_begin_object (b);
  add_string (b, "reachability", punch_reachability_to_string (punch_autonat_service_get_reachability (autonat)));
  add_uint (b, "confidence", punch_autonat_service_get_confidence (autonat));
  add_uint (b, "ok", ok);
  add_uint (b, "failed", failed);
  add_uint (b, "unverified", punch_autonat_service_get_unverified_count (autonat));
  add_addr (b, "public_addr", punch_autonat_service_get_public_addr (autonat));
  json_builder_end_object (b);
  json_builder_end_object (b);
}

static void
add_connections (JsonBuilder *b, PunchNode *node)
{
  PunchTimeline *timeline = punch_node_get_timeline (node);
  GListModel *model = G_LIST_MODEL (timeline);
  GListModel *conns = punch_host_get_connections (punch_node_get_host (node));
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (guint));
  guint n = g_list_model_get_n_items (model);

  /* One entry per connection ever seen, in order of opening. */
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchTimelineEvent) event = g_list_model_get_item (model, i);
      guint id = punch_timeline_event_get_connection_id (event);
      gboolean seen = FALSE;

      if (id == 0)
        continue;
      for (guint j = 0; j < ids->len && !seen; j++)
        seen = g_array_index (ids, guint, j) == id;
      if (!seen)
        g_array_append_val (ids, id);
    }

  json_builder_set_member_name (b, "connections");
  json_builder_begin_array (b);
  for (guint k = 0; k < ids->len; k++)
    {
      guint id = g_array_index (ids, guint, k);
      g_autoptr (PunchConnection) live = NULL;
      gboolean header = FALSE;
      guint nc = g_list_model_get_n_items (conns);

      for (guint j = 0; j < nc && live == NULL; j++)
        {
          g_autoptr (PunchConnection) conn = g_list_model_get_item (conns, j);

          if (punch_connection_get_id (conn) == id)
            live = g_steal_pointer (&conn);
        }

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_int_value (b, id);
      for (guint i = 0; i < n; i++)
        {
          g_autoptr (PunchTimelineEvent) event = g_list_model_get_item (model, i);

          if (punch_timeline_event_get_connection_id (event) != id || header)
            continue;
          add_string (b, "peer_id", punch_timeline_event_get_peer_id (event));
          add_string (b, "direction", punch_timeline_event_get_direction (event));
          add_string (b, "remote", punch_timeline_event_get_remote (event));
          json_builder_set_member_name (b, "relayed");
          json_builder_add_boolean_value (b, punch_timeline_event_get_relayed (event));
          header = TRUE;
        }
      add_string (b, "state", live ? punch_connection_state_to_string (punch_connection_get_state (live)) : "closed");
      if (live != NULL)
        {
          g_autofree char *local = punch_multiaddr_to_string (punch_connection_get_local_addr (live));
          PunchMultiaddr *observed = punch_connection_get_observed_addr (live);
          g_autofree char *observed_text = observed ? punch_multiaddr_to_string (observed) : NULL;

          add_string (b, "local", local);
          add_string (b, "observed_addr", observed_text);
          add_string (b, "security", punch_connection_get_security (live));
          add_string (b, "muxer", punch_connection_get_muxer (live));
          add_ms (b, "rtt_ms", punch_connection_get_rtt (live));
          if (punch_connection_get_limited (live))
            add_relay_budget (b, live);
        }
      json_builder_set_member_name (b, "timeline");
      json_builder_begin_array (b);
      for (guint i = 0; i < n; i++)
        {
          g_autoptr (PunchTimelineEvent) event = g_list_model_get_item (model, i);

          if (punch_timeline_event_get_connection_id (event) != id)
            continue;
          json_builder_begin_object (b);
          add_string (b, "from", punch_timeline_event_get_from (event) ? punch_timeline_event_get_from (event) : "none");
          add_string (b, "to", punch_timeline_event_get_to (event));
          add_time (b, "when", punch_timeline_event_get_time (event));
          add_string (b, "detail", punch_timeline_event_get_detail (event));
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
add_peer_timeline (JsonBuilder *b, PunchNodePeer *peer)
{
  GListModel *model = G_LIST_MODEL (punch_node_peer_get_timeline (peer));
  guint n = g_list_model_get_n_items (model);

  json_builder_set_member_name (b, "timeline");
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchTimelineEvent) event = g_list_model_get_item (model, i);

      json_builder_begin_object (b);
      add_string (b, "kind", punch_timeline_event_get_kind (event));
      add_string (b, "from", punch_timeline_event_get_from (event));
      add_string (b, "to", punch_timeline_event_get_to (event));
      add_time (b, "when", punch_timeline_event_get_time (event));
      add_string (b, "detail", punch_timeline_event_get_detail (event));
      if (punch_timeline_event_get_connection_id (event) != 0)
        {
          json_builder_set_member_name (b, "connection_id");
          json_builder_add_int_value (b, punch_timeline_event_get_connection_id (event));
        }
      if (punch_timeline_event_get_attempt (event) != 0)
        {
          json_builder_set_member_name (b, "attempt");
          json_builder_add_int_value (b, punch_timeline_event_get_attempt (event));
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

/**
 * punch_diagnostics_build_report:
 * @node: the node to describe
 *
 * Returns: (transfer full): the JSON report described in docs/diagnostics.md
 */
JsonNode *
punch_diagnostics_build_report (PunchNode *node)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  PunchHost *host;
  g_autoptr (GPtrArray) listen = NULL;
  g_auto (GStrv) observed = NULL;
  g_auto (GStrv) mine = NULL;
  GListModel *model;
  guint n;
  GHashTableIter iter;
  gpointer key, value;
  g_autoptr (GList) names = NULL;

  g_return_val_if_fail (PUNCH_IS_NODE (node), NULL);

  host = punch_node_get_host (node);
  listen = punch_host_get_listen_addrs (host);
  observed = punch_node_get_observed_addrs (node);
  mine = punch_node_get_my_addrs (node);

  json_builder_begin_object (b);
  add_string (b, "schema", PUNCH_DIAGNOSTICS_SCHEMA);
  add_time (b, "generated_at", g_get_real_time ());
  add_versions (b);

  json_builder_set_member_name (b, "node");
  json_builder_begin_object (b);
  add_string (b, "peer_id", punch_node_get_peer_id (node));
  add_string (b, "agent_version", punch_host_get_agent_version (host));
  add_time (b, "started_at", punch_node_get_started_at (node));
  add_addr_array (b, "listen_addrs", listen);
  add_strv (b, "observed_addrs", (const char * const *) observed);
  add_strv (b, "shared_addrs", (const char * const *) mine);
  json_builder_end_object (b);

  add_nat (b, node);

  json_builder_set_member_name (b, "relays");
  json_builder_begin_array (b);
  model = punch_node_get_relay_entries (node);
  n = g_list_model_get_n_items (model);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchRelayEntry) entry = g_list_model_get_item (model, i);
      static const char *const status[] = { "resolving", "active", "failed" };

      json_builder_begin_object (b);
      add_string (b, "addr", punch_relay_entry_get_addr (entry));
      add_string (b, "status", status[punch_relay_entry_get_status (entry)]);
      add_string (b, "error", punch_relay_entry_get_error (entry));
      json_builder_set_member_name (b, "n_relays");
      json_builder_add_int_value (b, punch_relay_entry_get_n_relays (entry));
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "reservations");
  json_builder_begin_array (b);
  model = punch_node_get_reservations (node);
  n = g_list_model_get_n_items (model);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchRelayReservation) rsv = g_list_model_get_item (model, i);
      g_autofree char *addr = punch_multiaddr_to_string (punch_relay_reservation_get_relay_addr (rsv));
      const char *relay_id = punch_peer_id_to_string (punch_relay_reservation_get_relay_peer_id (rsv));

      json_builder_begin_object (b);
      add_string (b, "relay_peer_id", relay_id);
      add_string (b, "relay_addr", addr);
      add_string (b, "state", punch_reservation_state_to_string (punch_relay_reservation_get_state (rsv)));
      add_date_time (b, "state_since", punch_relay_reservation_get_state_since (rsv));
      add_string (b, "reason", punch_relay_reservation_get_reason (rsv));
      add_time (b, "expire", punch_relay_reservation_get_expire (rsv) * G_USEC_PER_SEC);
      json_builder_set_member_name (b, "limit_duration_s");
      json_builder_add_int_value (b, punch_relay_reservation_get_limit_duration (rsv));
      json_builder_set_member_name (b, "limit_data_bytes");
      json_builder_add_int_value (b, (gint64) punch_relay_reservation_get_limit_data (rsv));
      add_string (b, "voucher", punch_voucher_state_to_string (punch_relay_reservation_get_voucher_state (rsv)));
      add_string (b, "voucher_error", punch_relay_reservation_get_voucher_error (rsv));
      json_builder_set_member_name (b, "attempts");
      json_builder_add_int_value (b, punch_relay_reservation_get_attempts (rsv));
      json_builder_set_member_name (b, "refreshes");
      json_builder_add_int_value (b, punch_relay_reservation_get_refreshes (rsv));
      add_addr_array (b, "addrs", punch_relay_reservation_get_addrs (rsv));
      add_series_stats (b, "rtt", punch_node_get_relay_rtt (node, relay_id));
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "peers");
  json_builder_begin_array (b);
  model = punch_node_get_peers (node);
  n = g_list_model_get_n_items (model);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchNodePeer) peer = g_list_model_get_item (model, i);
      gint64 direct_us, relayed_us;

      punch_node_peer_get_path_times (peer, &direct_us, &relayed_us);
      json_builder_begin_object (b);
      add_string (b, "peer_id", punch_node_peer_get_peer_id (peer));
      add_string (b, "path", punch_peer_path_to_string (punch_node_peer_get_path (peer)));
      add_time (b, "since", punch_node_peer_get_since (peer));
      add_string (b, "agent_version", punch_node_peer_get_agent_version (peer));
      add_string (b, "relay_peer_id", punch_node_peer_get_relay_peer_id (peer));
      add_string (b, "relay_addr", punch_node_peer_get_relay_addr (peer));
      add_string (b, "direct_addr", punch_node_peer_get_direct_addr (peer));
      add_ms (b, "rtt_ms", punch_node_peer_get_rtt (peer));
      json_builder_set_member_name (b, "punch_attempts");
      json_builder_add_int_value (b, punch_node_peer_get_punch_attempts (peer));
      add_string (b, "punch_outcome", punch_node_peer_get_punch_outcome (peer));
      json_builder_set_member_name (b, "seconds_direct");
      json_builder_add_double_value (b, direct_us / 1e6);
      json_builder_set_member_name (b, "seconds_relayed");
      json_builder_add_double_value (b, relayed_us / 1e6);
      json_builder_set_member_name (b, "rtt");
      json_builder_begin_object (b);
      add_series_stats (b, "relay", punch_node_peer_get_rtt_relay (peer));
      add_series_stats (b, "relayed", punch_node_peer_get_rtt_relayed (peer));
      add_series_stats (b, "direct", punch_node_peer_get_rtt_direct (peer));
      json_builder_end_object (b);
      add_peer_timeline (b, peer);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  add_connections (b, node);

  json_builder_set_member_name (b, "hole_punches");
  json_builder_begin_array (b);
  model = punch_dcutr_service_get_punches (punch_node_get_dcutr (node));
  n = g_list_model_get_n_items (model);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchHolePunch) hp = g_list_model_get_item (model, i);

      json_builder_begin_object (b);
      add_string (b, "peer_id", punch_peer_id_to_string (punch_hole_punch_get_peer_id (hp)));
      add_string (b, "role", punch_hole_punch_role_to_string (punch_hole_punch_get_role (hp)));
      add_string (b, "state", punch_hole_punch_state_to_string (punch_hole_punch_get_state (hp)));
      add_string (b, "outcome", punch_hole_punch_outcome_to_string (punch_hole_punch_get_outcome (hp)));
      json_builder_set_member_name (b, "attempts");
      json_builder_add_int_value (b, punch_hole_punch_get_attempts (hp));
      add_ms (b, "rtt_ms", punch_hole_punch_get_rtt (hp));
      add_date_time (b, "started_at", punch_hole_punch_get_started_at (hp));
      add_date_time (b, "ended_at", punch_hole_punch_get_ended_at (hp));
      add_string (b, "error", punch_hole_punch_get_error (hp));
      add_strv (b, "remote_addrs", punch_hole_punch_get_remote_addrs (hp));
      add_strv (b, "local_addrs", punch_hole_punch_get_local_addrs (hp));
      {
        int held = -1;
        PunchPunchPrediction prediction = punch_node_get_punch_prediction (node, hp, &held);

        add_string (b, "prediction", punch_punch_prediction_to_string (prediction));
        json_builder_set_member_name (b, "prediction_held");
        if (held < 0)
          json_builder_add_null_value (b);
        else
          json_builder_add_boolean_value (b, held == 1);
      }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "counters");
  json_builder_begin_object (b);
  g_hash_table_iter_init (&iter, punch_node_get_counters (node));
  while (g_hash_table_iter_next (&iter, &key, &value))
    names = g_list_prepend (names, key);
  names = g_list_sort (names, (GCompareFunc) g_strcmp0);
  for (GList *l = names; l != NULL; l = l->next)
    {
      json_builder_set_member_name (b, l->data);
      json_builder_add_int_value (b, punch_node_get_counter (node, l->data));
    }
  json_builder_end_object (b);

  model = G_LIST_MODEL (punch_node_get_timeline (node));
  n = g_list_model_get_n_items (model);
  json_builder_set_member_name (b, "events");
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchTimelineEvent) event = g_list_model_get_item (model, i);
      add_event (b, event);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "events_dropped");
  json_builder_add_int_value (b, punch_timeline_get_n_dropped (punch_node_get_timeline (node)));

  json_builder_set_member_name (b, "errors");
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchTimelineEvent) event = g_list_model_get_item (model, i);
      const char *kind = punch_timeline_event_get_kind (event);
      const char *detail = punch_timeline_event_get_detail (event);

      /* Errors proper, and every transition that carries a failure. */
      if (g_strcmp0 (kind, "error") != 0
          && !(detail != NULL && (g_strcmp0 (punch_timeline_event_get_to (event), "failed") == 0
                                  || g_strcmp0 (punch_timeline_event_get_to (event), "closed") == 0
                                  || g_strcmp0 (punch_timeline_event_get_to (event), "expired") == 0)))
        continue;
      json_builder_begin_object (b);
      add_time (b, "time", punch_timeline_event_get_time (event));
      add_string (b, "event", kind);
      add_string (b, "peer_id", punch_timeline_event_get_peer_id (event));
      add_string (b, "what", punch_timeline_event_get_to (event));
      add_string (b, "message", detail);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
csv_series (GString *out, const char *name, const char *peer_id, const char *relay_id, PunchRttSeries *series)
{
  guint n = punch_rtt_series_get_n_samples (series);

  for (guint i = 0; i < n; i++)
    {
      gint64 t, rtt;
      g_autofree char *iso = NULL;
      char ms[G_ASCII_DTOSTR_BUF_SIZE];

      punch_rtt_series_get_sample (series, i, &t, &rtt);
      iso = punch_format_iso_time (t);
      g_ascii_formatd (ms, sizeof ms, "%.3f", rtt / 1000.0);
      g_string_append_printf (out, "%s,%s,%s,%s,%" G_GINT64_FORMAT ",%s\n", name, peer_id ? peer_id : "",
                              relay_id ? relay_id : "", iso, t, ms);
    }
}

char *
punch_diagnostics_build_csv (PunchNode *node)
{
  GString *out = g_string_new ("series,peer_id,relay_peer_id,time,time_unix_us,rtt_ms\n");
  GListModel *model;
  guint n;

  g_return_val_if_fail (PUNCH_IS_NODE (node), g_string_free (out, FALSE));

  model = punch_node_get_reservations (node);
  n = g_list_model_get_n_items (model);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchRelayReservation) rsv = g_list_model_get_item (model, i);
      const char *relay_id = punch_peer_id_to_string (punch_relay_reservation_get_relay_peer_id (rsv));

      csv_series (out, "relay", NULL, relay_id, punch_node_get_relay_rtt (node, relay_id));
    }
  model = punch_node_get_peers (node);
  n = g_list_model_get_n_items (model);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchNodePeer) peer = g_list_model_get_item (model, i);
      const char *id = punch_node_peer_get_peer_id (peer);
      const char *relay = punch_node_peer_get_relay_peer_id (peer);

      csv_series (out, "peer_relay", id, relay, punch_node_peer_get_rtt_relay (peer));
      csv_series (out, "peer_relayed", id, relay, punch_node_peer_get_rtt_relayed (peer));
      csv_series (out, "peer_direct", id, NULL, punch_node_peer_get_rtt_direct (peer));
    }
  return g_string_free (out, FALSE);
}

static void
summary_rtt (GString *out, const char *label, PunchRttSeries *series)
{
  gint64 min, max, mean;

  if (!punch_rtt_series_get_stats (series, 0, &min, &max, &mean))
    return;
  g_string_append_printf (out, "    RTT %-16s %u samples, min %.1f ms, mean %.1f ms, max %.1f ms\n", label,
                          punch_rtt_series_get_n_samples (series), min / 1000.0, mean / 1000.0, max / 1000.0);
}

char *
punch_diagnostics_build_summary (PunchNode *node)
{
  GString *out = g_string_new (NULL);
  g_autofree char *now = punch_format_iso_time (g_get_real_time ());
  g_autoptr (GPtrArray) listen = NULL;
  g_auto (GStrv) mine = NULL;
  GListModel *model;
  guint n;

  g_return_val_if_fail (PUNCH_IS_NODE (node), g_string_free (out, FALSE));

  listen = punch_host_get_listen_addrs (punch_node_get_host (node));
  mine = punch_node_get_my_addrs (node);
  g_string_append_printf (out, "Punchline %s diagnostics, %s\n\n", PUNCH_VERSION, now);
  g_string_append_printf (out, "Peer ID: %s\n", punch_node_get_peer_id (node));
  g_string_append_printf (out, "Reachability: %s\n", punch_node_get_reachability (node));
  {
    g_autoptr (PunchNatReport) nat = punch_node_get_nat_report (node);

    g_string_append_printf (out, "NAT: %s\n\n", nat->verdict);
  }
  g_string_append (out, "Addresses to share:\n");
  for (guint i = 0; mine[i] != NULL; i++)
    g_string_append_printf (out, "  %s\n", mine[i]);

  g_string_append (out, "\nRelays:\n");
  model = punch_node_get_relay_entries (node);
  n = g_list_model_get_n_items (model);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchRelayEntry) entry = g_list_model_get_item (model, i);

      g_string_append_printf (out, "  %s%s%s\n", punch_relay_entry_get_addr (entry),
                              punch_relay_entry_get_error (entry) ? ": " : "",
                              punch_relay_entry_get_error (entry) ? punch_relay_entry_get_error (entry) : "");
    }
  model = punch_node_get_reservations (node);
  n = g_list_model_get_n_items (model);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchRelayReservation) rsv = g_list_model_get_item (model, i);
      gint64 expire = punch_relay_reservation_get_expire (rsv);
      gint64 left = expire > 0 ? expire - g_get_real_time () / G_USEC_PER_SEC : 0;

      g_string_append_printf (out, "  reservation on %s: %s", punch_peer_id_to_string (punch_relay_reservation_get_relay_peer_id (rsv)),
                              punch_reservation_state_to_string (punch_relay_reservation_get_state (rsv)));
      if (left > 0)
        g_string_append_printf (out, ", expires in %" G_GINT64_FORMAT " min", left / 60);
      if (punch_relay_reservation_get_reason (rsv) != NULL)
        g_string_append_printf (out, " (%s)", punch_relay_reservation_get_reason (rsv));
      g_string_append_c (out, '\n');
    }

  g_string_append (out, "\nPeers:\n");
  model = punch_node_get_peers (node);
  n = g_list_model_get_n_items (model);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchNodePeer) peer = g_list_model_get_item (model, i);

      g_string_append_printf (out, "  %s: %s", punch_node_peer_get_peer_id (peer),
                              punch_peer_path_to_string (punch_node_peer_get_path (peer)));
      if (punch_node_peer_get_punch_outcome (peer) != NULL)
        g_string_append_printf (out, ", last hole punch: %s after %u attempt(s)", punch_node_peer_get_punch_outcome (peer),
                                punch_node_peer_get_punch_attempts (peer));
      g_string_append_c (out, '\n');
      summary_rtt (out, "to the relay", punch_node_peer_get_rtt_relay (peer));
      summary_rtt (out, "through relay", punch_node_peer_get_rtt_relayed (peer));
      summary_rtt (out, "direct", punch_node_peer_get_rtt_direct (peer));
    }

  g_string_append (out, "\nTimeline:\n");
  model = G_LIST_MODEL (punch_node_get_timeline (node));
  n = g_list_model_get_n_items (model);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchTimelineEvent) event = g_list_model_get_item (model, i);
      g_autofree char *when = punch_format_iso_time (punch_timeline_event_get_time (event));
      g_autofree char *what = punch_timeline_event_describe (event);
      const char *peer = punch_timeline_event_get_peer_id (event);
      const char *detail = punch_timeline_event_get_detail (event);

      g_string_append_printf (out, "  %s  %s%s%.12s%s%s%s\n", when, what, peer ? " [" : "", peer ? peer : "",
                              peer ? "…]" : "", detail ? " — " : "", detail ? detail : "");
    }
  return g_string_free (out, FALSE);
}

/* ---- writing ---- */

typedef struct
{
  GFile *dir;
  char  *names[3];
  GBytes *contents[3];
  guint  next;
} WriteOp;

static void
write_op_free (WriteOp *op)
{
  g_clear_object (&op->dir);
  for (guint i = 0; i < G_N_ELEMENTS (op->names); i++)
    {
      g_free (op->names[i]);
      g_clear_pointer (&op->contents[i], g_bytes_unref);
    }
  g_free (op);
}

static void write_next (GTask *task);

static void
file_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_file_replace_contents_finish (G_FILE (source), result, NULL, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  write_next (g_steal_pointer (&task));
}

static void
write_next (GTask *task)
{
  WriteOp *op = g_task_get_task_data (task);
  g_autoptr (GFile) file = NULL;
  GBytes *contents;

  if (op->next == G_N_ELEMENTS (op->names))
    {
      g_task_return_pointer (task, g_object_ref (op->dir), g_object_unref);
      g_object_unref (task);
      return;
    }
  file = g_file_get_child (op->dir, op->names[op->next]);
  contents = op->contents[op->next];
  op->next++;
  g_file_replace_contents_bytes_async (file, contents, NULL, FALSE, G_FILE_CREATE_PRIVATE,
                                       g_task_get_cancellable (task), file_written, task);
}

static void
dir_made (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_file_make_directory_finish (G_FILE (source), result, &error)
      && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  write_next (g_steal_pointer (&task));
}

/**
 * punch_diagnostics_write_async:
 * @node: the node to describe
 * @directory: where to create the bundle's directory
 *
 * Snapshots the node now, then writes report.json, rtt.csv and summary.txt
 * into a new directory punchline-diagnostics-<UTC time> under @directory.
 */
void
punch_diagnostics_write_async (PunchNode *node, GFile *directory, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *dirname = g_strdup_printf ("punchline-diagnostics-%s", stamp);
  WriteOp *op;
  char *text;
  gsize len;

  g_return_if_fail (PUNCH_IS_NODE (node));
  g_return_if_fail (G_IS_FILE (directory));

  task = g_task_new (node, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_diagnostics_write_async);
  op = g_new0 (WriteOp, 1);
  op->dir = g_file_get_child (directory, dirname);
  g_task_set_task_data (task, op, (GDestroyNotify) write_op_free);

  root = punch_diagnostics_build_report (node);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  text = json_generator_to_data (gen, &len);
  op->names[0] = g_strdup ("report.json");
  op->contents[0] = g_bytes_new_take (text, len);
  text = punch_diagnostics_build_csv (node);
  op->names[1] = g_strdup ("rtt.csv");
  op->contents[1] = g_bytes_new_take (text, strlen (text));
  text = punch_diagnostics_build_summary (node);
  op->names[2] = g_strdup ("summary.txt");
  op->contents[2] = g_bytes_new_take (text, strlen (text));

  g_file_make_directory_async (op->dir, G_PRIORITY_DEFAULT, cancellable, dir_made, g_steal_pointer (&task));
}

GFile *
punch_diagnostics_write_finish (PunchNode *node, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, node), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
