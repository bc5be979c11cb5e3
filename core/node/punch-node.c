/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-node.h"

#include "punch-addr-scope.h"
#include "punch-dnsaddr.h"
#include "punch-error.h"
#include "punch-protocols-private.h"

#include <string.h>

struct _PunchNode
{
  GObject parent_instance;

  PunchHost            *host;
  PunchIdentifyService *identify;
  PunchPingService     *ping;
  PunchRelayClient     *relay_client;
  PunchDcutrService    *dcutr;
  PunchAutonatService  *autonat;
  char                 *peer_id;

  GListStore           *relay_entries;   /* of PunchRelayEntry */
  GHashTable           *relay_rtt;       /* relay peer id → PunchRttSeries */
  GListStore           *peers;           /* of PunchNodePeer */
  GHashTable           *peers_by_id;     /* peer id → PunchNodePeer (borrowed) */
  PunchTimeline        *timeline;
  GHashTable           *counters;        /* name → count */
  GHashTable           *pinging;         /* PunchConnection * set (borrowed keys) */
  GHashTable           *known_relays;    /* relay peer ids seen in circuit addresses */

  char                 *reachability;
  char                 *renew_reason;
  guint                 renew_source;
  guint                 ping_interval_ms;
  guint                 ping_source;
  GCancellable         *cancellable;
  gint64                started_at;
  gboolean              closed;
};

G_DEFINE_FINAL_TYPE (PunchNode, punch_node, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_HOST,
  PROP_REACHABILITY,
  PROP_PING_INTERVAL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  ADDRS_CHANGED,
  CONNECT_PROGRESS,
  NETWORK_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void update_addrs (PunchNode *self);
static void restart_ping_timer (PunchNode *self);

/* ---- helpers ---- */

static void
count (PunchNode *self, const char *name)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (self->counters, name));

  g_hash_table_insert (self->counters, g_strdup (name), GUINT_TO_POINTER (n + 1));
}

static char *
peer_id_string_from_bytes (GBytes *bytes)
{
  g_autoptr (PunchPeerId) id = NULL;

  if (bytes == NULL)
    return NULL;
  id = punch_peer_id_new_from_bytes (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), NULL);
  return id ? g_strdup (punch_peer_id_to_string (id)) : NULL;
}

/* For a relayed connection's remote address <relay>/p2p/<R>/p2p-circuit[/…]:
 * the relay's address (with /p2p/<R>) and its peer ID. */
static gboolean
relay_of_circuit_addr (PunchMultiaddr *addr, char **relay_addr, char **relay_id)
{
  g_autoptr (PunchMultiaddr) relay = NULL;
  g_autoptr (GBytes) id = NULL;
  int circuit;

  if (addr == NULL)
    return FALSE;
  circuit = punch_multiaddr_find_first (addr, PUNCH_PROTO_P2P_CIRCUIT);
  if (circuit <= 0)
    return FALSE;
  relay = punch_multiaddr_slice (addr, 0, circuit);
  if (relay == NULL)
    return FALSE;
  id = punch_multiaddr_get_peer_id_bytes (relay);
  *relay_id = peer_id_string_from_bytes (id);
  *relay_addr = punch_multiaddr_to_string (relay);
  return *relay_id != NULL;
}

static PunchTimelineEvent *
add_event_full (PunchNode *self, PunchNodePeer *peer, const char *kind, const char *peer_id,
                const char *from, const char *to, const char *detail, PunchConnection *conn, guint attempt)
{
  g_autoptr (PunchTimelineEvent) event = punch_timeline_event_new (g_get_real_time (), kind, peer_id,
                                                                  from, to, detail);

  /* Complete before it is appended: views build their rows at once. */
  if (conn != NULL)
    {
      g_autofree char *remote = punch_multiaddr_to_string (punch_connection_get_remote_addr (conn));

      punch_timeline_event_set_connection (event, punch_connection_get_id (conn), remote,
                                           punch_direction_to_string (punch_connection_get_direction (conn)),
                                           punch_connection_get_relayed (conn));
    }
  if (attempt > 0)
    punch_timeline_event_set_attempt (event, attempt);
  punch_timeline_append (self->timeline, event);
  if (peer != NULL)
    punch_timeline_append (punch_node_peer_get_timeline (peer), event);
  return event;
}

static PunchTimelineEvent *
add_event (PunchNode *self, PunchNodePeer *peer, const char *kind, const char *peer_id,
           const char *from, const char *to, const char *detail)
{
  return add_event_full (self, peer, kind, peer_id, from, to, detail, NULL, 0);
}

gboolean
punch_node_is_relay (PunchNode *self, const char *peer_id)
{
  GListModel *rsvs;
  guint n;

  g_return_val_if_fail (PUNCH_IS_NODE (self), FALSE);

  if (peer_id == NULL)
    return FALSE;
  if (g_hash_table_contains (self->known_relays, peer_id))
    return TRUE;
  rsvs = punch_relay_client_get_reservations (self->relay_client);
  n = g_list_model_get_n_items (rsvs);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchRelayReservation) rsv = g_list_model_get_item (rsvs, i);

      if (g_strcmp0 (punch_peer_id_to_string (punch_relay_reservation_get_relay_peer_id (rsv)), peer_id) == 0)
        return TRUE;
    }
  return FALSE;
}

static PunchNodePeer *
ensure_peer (PunchNode *self, const char *peer_id)
{
  PunchNodePeer *peer = g_hash_table_lookup (self->peers_by_id, peer_id);

  if (peer == NULL)
    {
      g_autoptr (PunchNodePeer) created = punch_node_peer_new (peer_id);

      peer = created;
      g_hash_table_insert (self->peers_by_id, g_strdup (peer_id), peer);
      g_list_store_append (self->peers, created);
    }
  return peer;
}

/* A peer that relays for us is infrastructure, not a friend: it leaves the
 * peers list. */
static void
note_relay (PunchNode *self, const char *relay_id)
{
  PunchNodePeer *peer;
  guint position;

  if (relay_id == NULL || !g_hash_table_add (self->known_relays, g_strdup (relay_id)))
    return;
  peer = g_hash_table_lookup (self->peers_by_id, relay_id);
  if (peer != NULL && g_list_store_find (self->peers, peer, &position))
    {
      g_hash_table_remove (self->peers_by_id, relay_id);
      g_list_store_remove (self->peers, position);
    }
}

static PunchRttSeries *
ensure_relay_rtt (PunchNode *self, const char *relay_id)
{
  PunchRttSeries *series = g_hash_table_lookup (self->relay_rtt, relay_id);

  if (series == NULL)
    {
      series = punch_rtt_series_new ("relay", 0);
      g_hash_table_insert (self->relay_rtt, g_strdup (relay_id), series);
    }
  return series;
}

/* The path a friend is on, from what is open and what is under way. */
static void
update_path (PunchNode *self, PunchNodePeer *peer)
{
  GListModel *conns = punch_host_get_connections (self->host);
  GListModel *punches = punch_dcutr_service_get_punches (self->dcutr);
  const char *id = punch_node_peer_get_peer_id (peer);
  gboolean direct = FALSE, relayed = FALSE, punching = FALSE;
  g_autoptr (PunchConnection) relayed_conn = NULL;
  gint64 rtt = -1;
  guint n;

  n = g_list_model_get_n_items (conns);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchConnection) conn = g_list_model_get_item (conns, i);

      if (punch_connection_get_state (conn) != PUNCH_CONNECTION_STATE_OPEN
          || g_strcmp0 (punch_peer_id_to_string (punch_connection_get_peer_id (conn)), id) != 0)
        continue;
      if (punch_connection_get_relayed (conn))
        {
          relayed = TRUE;
          if (relayed_conn == NULL)
            relayed_conn = g_object_ref (conn);
          if (!direct)
            rtt = punch_connection_get_rtt (conn);
        }
      else
        {
          g_autofree char *remote = punch_multiaddr_to_string (punch_connection_get_remote_addr (conn));

          direct = TRUE;
          rtt = punch_connection_get_rtt (conn);
          punch_node_peer_set_direct_addr (peer, remote);
        }
    }
  n = g_list_model_get_n_items (punches);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchHolePunch) hp = g_list_model_get_item (punches, i);

      if (!punch_hole_punch_is_finished (hp)
          && g_strcmp0 (punch_peer_id_to_string (punch_hole_punch_get_peer_id (hp)), id) == 0)
        punching = TRUE;
    }

  if (direct)
    punch_node_peer_set_path (peer, PUNCH_PEER_PATH_DIRECT);
  else if (relayed && punching)
    punch_node_peer_set_path (peer, PUNCH_PEER_PATH_PUNCHING);
  else if (relayed)
    punch_node_peer_set_path (peer, PUNCH_PEER_PATH_RELAYED);
  else
    punch_node_peer_set_path (peer, PUNCH_PEER_PATH_NONE);
  punch_node_peer_set_rtt (peer, rtt);
  punch_node_peer_set_relayed_connection (peer, relayed_conn);
}

/* ---- connections ---- */

static void
on_rtt_sample (PunchConnection *conn, gint64 rtt_us, gpointer user_data)
{
  PunchNode *self = user_data;
  const char *id = punch_peer_id_to_string (punch_connection_get_peer_id (conn));
  gint64 now = g_get_real_time ();
  PunchNodePeer *peer;

  if (punch_node_is_relay (self, id) && !punch_connection_get_relayed (conn))
    {
      guint n = g_list_model_get_n_items (G_LIST_MODEL (self->peers));

      punch_rtt_series_add (ensure_relay_rtt (self, id), now, rtt_us);
      /* Every friend reached through this relay gets the sample too, so
       * its chart shows the relay leg beside the end-to-end RTT. */
      for (guint i = 0; i < n; i++)
        {
          g_autoptr (PunchNodePeer) p = g_list_model_get_item (G_LIST_MODEL (self->peers), i);

          if (g_strcmp0 (punch_node_peer_get_relay_peer_id (p), id) == 0)
            punch_rtt_series_add (punch_node_peer_get_rtt_relay (p), now, rtt_us);
        }
      return;
    }
  peer = g_hash_table_lookup (self->peers_by_id, id);
  if (peer == NULL)
    return;
  if (punch_connection_get_relayed (conn))
    punch_rtt_series_add (punch_node_peer_get_rtt_relayed (peer), now, rtt_us);
  else
    punch_rtt_series_add (punch_node_peer_get_rtt_direct (peer), now, rtt_us);
  update_path (self, peer);
}

static void
on_connection_opened (PunchHost *host, PunchConnection *conn, gpointer user_data)
{
  PunchNode *self = user_data;
  const char *id = punch_peer_id_to_string (punch_connection_get_peer_id (conn));
  gboolean relayed = punch_connection_get_relayed (conn);
  PunchNodePeer *peer = NULL;

  g_signal_connect_object (conn, "rtt-sample", G_CALLBACK (on_rtt_sample), self, 0);
  count (self, relayed ? "connections.relayed" : "connections.direct");

  if (!punch_node_is_relay (self, id) || relayed)
    {
      peer = ensure_peer (self, id);
      if (relayed)
        {
          g_autofree char *relay_addr = NULL;
          g_autofree char *relay_id = NULL;

          if (relay_of_circuit_addr (punch_connection_get_remote_addr (conn), &relay_addr, &relay_id))
            {
              punch_node_peer_set_relay (peer, relay_id, relay_addr);
              note_relay (self, relay_id);
            }
        }
    }
  add_event_full (self, peer, "connection", id, NULL, "open", NULL, conn, 0);
  if (peer != NULL)
    update_path (self, peer);
  update_addrs (self);
}

static void
on_connection_closed (PunchHost *host, PunchConnection *conn, GError *error, gpointer user_data)
{
  PunchNode *self = user_data;
  const char *id = punch_peer_id_to_string (punch_connection_get_peer_id (conn));
  PunchNodePeer *peer = g_hash_table_lookup (self->peers_by_id, id);

  g_hash_table_remove (self->pinging, conn);
  add_event_full (self, peer, "connection", id, "open", "closed", error ? error->message : NULL, conn, 0);
  if (peer != NULL)
    update_path (self, peer);
  update_addrs (self);
}

static void
on_dial_failed (PunchHost *host, PunchMultiaddr *addr, GError *error, gpointer user_data)
{
  PunchNode *self = user_data;
  g_autofree char *text = punch_multiaddr_to_string (addr);
  g_autofree char *detail = g_strdup_printf ("%s: %s", text, error ? error->message : "failed");

  count (self, "dials.failed");
  add_event (self, NULL, "error", NULL, NULL, "dial failed", detail);
}

static void
on_identified (PunchIdentifyService *identify, PunchConnection *conn, PunchPeerInfo *info, gpointer user_data)
{
  PunchNode *self = user_data;
  const char *id = punch_peer_id_to_string (punch_connection_get_peer_id (conn));
  PunchNodePeer *peer = g_hash_table_lookup (self->peers_by_id, id);
  PunchMultiaddr *observed = punch_connection_get_observed_addr (conn);
  g_autofree char *observed_text = observed ? punch_multiaddr_to_string (observed) : NULL;

  if (peer != NULL)
    {
      punch_node_peer_set_agent_version (peer, punch_peer_info_get_agent_version (info));
      add_event (self, peer, "identify", id, NULL, punch_peer_info_get_agent_version (info), observed_text);
    }
  update_addrs (self);
}

/* ---- hole punches ---- */

static void
on_punch_transition (PunchHolePunch *hp, int from, int to, const char *detail, gpointer user_data)
{
  PunchNode *self = user_data;
  const char *id = punch_peer_id_to_string (punch_hole_punch_get_peer_id (hp));
  PunchNodePeer *peer = ensure_peer (self, id);

  add_event_full (self, peer, "hole_punch", id, punch_hole_punch_state_to_string (from),
                  punch_hole_punch_state_to_string (to), detail, NULL, punch_hole_punch_get_attempts (hp));
  punch_node_peer_set_punch (peer, punch_hole_punch_get_attempts (hp), punch_node_peer_get_punch_outcome (peer));
  update_path (self, peer);
}

/* The prediction rides on the punch object, offset by one so that 0 means
 * "none recorded"; whether it held likewise (-1, 0, 1 → 1, 2, 3). */
#define PREDICTION_KEY "punch-node-nat-prediction"
#define PREDICTION_HELD_KEY "punch-node-nat-prediction-held"

static void
predict (PunchNode *self, PunchNodePeer *peer, PunchHolePunch *hp, const char *id)
{
  g_autoptr (PunchNatReport) nat = punch_autonat_service_get_nat_report (self->autonat);
  g_autofree char *explanation = NULL;
  PunchPunchPrediction prediction;

  /* We know our own mapping only: the peer's stays unknown, so only "no
   * NAT here" (likely) or "endpoint-dependent here" (unlikely) commit. */
  prediction = punch_nat_predict_punch (nat->mapping, PUNCH_NAT_MAPPING_UNKNOWN, &explanation);
  g_object_set_data (G_OBJECT (hp), PREDICTION_KEY, GINT_TO_POINTER (prediction + 1));
  add_event (self, peer, "nat_prediction", id, NULL, punch_punch_prediction_to_string (prediction), explanation);
}

static void
record_prediction_held (PunchNode *self, PunchNodePeer *peer, PunchHolePunch *hp, const char *id)
{
  int stored = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (hp), PREDICTION_KEY));
  PunchHolePunchOutcome outcome = punch_hole_punch_get_outcome (hp);
  gboolean direct;
  int held;

  /* A cancelled punch (we closed) or one without outcome tells nothing. */
  if (stored == 0 || outcome == PUNCH_HOLE_PUNCH_OUTCOME_CANCELLED || outcome == PUNCH_HOLE_PUNCH_OUTCOME_UNKNOWN)
    return;
  /* The prediction is about whether a direct connection forms, however. */
  direct = outcome == PUNCH_HOLE_PUNCH_OUTCOME_SUCCESS || outcome == PUNCH_HOLE_PUNCH_OUTCOME_CONNECTION_REVERSED;
  held = punch_nat_prediction_held ((PunchPunchPrediction) (stored - 1), direct);
  g_object_set_data (G_OBJECT (hp), PREDICTION_HELD_KEY, GINT_TO_POINTER (held + 2));
  if (held < 0)
    {
      count (self, "predictions.unknown");
      return;
    }
  count (self, held ? "predictions.held" : "predictions.failed");
  add_event (self, peer, "nat_prediction", id, punch_punch_prediction_to_string ((PunchPunchPrediction) (stored - 1)),
             held ? "held" : "did not hold", punch_hole_punch_outcome_to_string (outcome));
}

/**
 * punch_node_get_punch_prediction:
 * @self: the node
 * @hp: a hole punch of our DCUtR service
 * @held: (out) (optional): 1 when the prediction held, 0 when it did not,
 *   -1 while the punch runs, when it was cancelled or the prediction unknown
 *
 * Returns: what we predicted from our NAT mapping when @hp started
 */
PunchPunchPrediction
punch_node_get_punch_prediction (PunchNode *self, PunchHolePunch *hp, int *held)
{
  int stored, stored_held;

  g_return_val_if_fail (PUNCH_IS_NODE (self), PUNCH_PUNCH_PREDICTION_UNKNOWN);
  g_return_val_if_fail (PUNCH_IS_HOLE_PUNCH (hp), PUNCH_PUNCH_PREDICTION_UNKNOWN);

  stored = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (hp), PREDICTION_KEY));
  stored_held = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (hp), PREDICTION_HELD_KEY));
  if (held != NULL)
    *held = stored_held == 0 ? -1 : stored_held - 2;
  return stored == 0 ? PUNCH_PUNCH_PREDICTION_UNKNOWN : (PunchPunchPrediction) (stored - 1);
}

static void
on_punch_started (PunchDcutrService *dcutr, PunchHolePunch *hp, gpointer user_data)
{
  PunchNode *self = user_data;
  const char *id = punch_peer_id_to_string (punch_hole_punch_get_peer_id (hp));
  PunchNodePeer *peer = ensure_peer (self, id);

  count (self, "punches.started");
  predict (self, peer, hp, id);
  g_signal_connect_object (hp, "transition", G_CALLBACK (on_punch_transition), self, 0);
  add_event (self, peer, "hole_punch", id, NULL, punch_hole_punch_state_to_string (punch_hole_punch_get_state (hp)),
             punch_hole_punch_role_to_string (punch_hole_punch_get_role (hp)));
  update_path (self, peer);
}

static void
on_punch_finished (PunchDcutrService *dcutr, PunchHolePunch *hp, gpointer user_data)
{
  PunchNode *self = user_data;
  const char *id = punch_peer_id_to_string (punch_hole_punch_get_peer_id (hp));
  PunchNodePeer *peer = ensure_peer (self, id);
  const char *outcome = punch_hole_punch_outcome_to_string (punch_hole_punch_get_outcome (hp));
  g_autofree char *name = g_strdup_printf ("punches.%s", outcome);

  count (self, name);
  add_event_full (self, peer, "hole_punch_outcome", id, NULL, outcome, punch_hole_punch_get_error (hp), NULL,
                  punch_hole_punch_get_attempts (hp));
  punch_node_peer_set_punch (peer, punch_hole_punch_get_attempts (hp), outcome);
  record_prediction_held (self, peer, hp, id);
  update_path (self, peer);
}

/* ---- reservations ---- */

static void
on_reservation_transition (PunchRelayReservation *rsv, int from, int to, const char *reason, gpointer user_data)
{
  PunchNode *self = user_data;
  const char *relay = punch_peer_id_to_string (punch_relay_reservation_get_relay_peer_id (rsv));
  g_autofree char *name = g_strdup_printf ("reservations.%s", punch_reservation_state_to_string (to));

  count (self, name);
  add_event (self, NULL, "reservation", relay, punch_reservation_state_to_string (from),
             punch_reservation_state_to_string (to), reason);
  update_addrs (self);
}

static void
on_reservations_changed (GListModel *model, guint position, guint removed, guint added, gpointer user_data)
{
  PunchNode *self = user_data;

  for (guint i = position; i < position + added; i++)
    {
      g_autoptr (PunchRelayReservation) rsv = g_list_model_get_item (model, i);

      g_signal_connect_object (rsv, "transition", G_CALLBACK (on_reservation_transition), self, 0);
      note_relay (self, punch_peer_id_to_string (punch_relay_reservation_get_relay_peer_id (rsv)));
      add_event (self, NULL, "reservation", punch_peer_id_to_string (punch_relay_reservation_get_relay_peer_id (rsv)),
                 NULL, punch_reservation_state_to_string (punch_relay_reservation_get_state (rsv)), NULL);
    }
  update_addrs (self);
}

/* ---- addresses and reachability ---- */

static GPtrArray *
observed_public (PunchNode *self)
{
  GListModel *conns = punch_host_get_connections (self->host);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  guint n = g_list_model_get_n_items (conns);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchConnection) conn = g_list_model_get_item (conns, i);
      PunchMultiaddr *observed = punch_connection_get_observed_addr (conn);
      g_autofree char *text = NULL;

      if (observed == NULL || punch_connection_get_relayed (conn) || !punch_multiaddr_is_public (observed))
        continue;
      text = punch_multiaddr_to_string (observed);
      if (!g_ptr_array_find_with_equal_func (out, text, g_str_equal, NULL))
        g_ptr_array_add (out, g_steal_pointer (&text));
    }
  return out;
}

GStrv
punch_node_get_observed_addrs (PunchNode *self)
{
  g_autoptr (GPtrArray) observed = NULL;

  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);

  observed = observed_public (self);
  g_ptr_array_add (observed, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&observed), FALSE);
}

static guint
count_active_reservations (PunchNode *self)
{
  GListModel *rsvs = punch_relay_client_get_reservations (self->relay_client);
  guint n = g_list_model_get_n_items (rsvs), active = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchRelayReservation) rsv = g_list_model_get_item (rsvs, i);

      if (punch_relay_reservation_is_active (rsv))
        active++;
    }
  return active;
}

static gboolean
has_public_listen_addr (PunchNode *self)
{
  g_autoptr (GPtrArray) listen = punch_host_get_listen_addrs (self->host);

  for (guint i = 0; i < listen->len; i++)
    if (punch_multiaddr_is_public (g_ptr_array_index (listen, i)))
      return TRUE;
  return FALSE;
}

static void
append_direct_words (GString *out, const PunchNatReport *nat)
{
  switch (nat->mapping)
    {
    case PUNCH_NAT_MAPPING_NONE:
      g_string_append_printf (out, "direct connections likely (no NAT: %u observer%s see%s our own address)",
                              nat->mapping_support, nat->mapping_support == 1 ? "" : "s",
                              nat->mapping_support == 1 ? "s" : "");
      break;
    case PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT:
      g_string_append_printf (out, "direct connections likely (endpoint-independent NAT, %u observers agree)",
                              nat->mapping_support);
      break;
    case PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT:
      g_string_append_printf (out, "direct connections unlikely (endpoint-dependent NAT, %u observers saw "
                              "different ports)", nat->mapping_support);
      break;
    case PUNCH_NAT_MAPPING_UNKNOWN:
    default:
      /* Too little or contradictory evidence: say so rather than guess. */
      g_string_append_printf (out, "direct connections: unknown NAT (%s)", nat->reason);
      break;
    }
}

static char *
compute_reachability (PunchNode *self)
{
  guint relays = count_active_reservations (self);
  g_autoptr (PunchNatReport) nat = punch_autonat_service_get_nat_report (self->autonat);
  g_autoptr (GString) out = g_string_new (NULL);
  PunchReachability reach = punch_autonat_service_get_reachability (self->autonat);

  if (relays == 0)
    g_string_append (out, "Not reachable through a relay yet");
  else
    g_string_append_printf (out, relays == 1 ? "Reachable through %u relay" : "Reachable through %u relays", relays);
  g_string_append (out, "; ");
  if (has_public_listen_addr (self) && nat->mapping == PUNCH_NAT_MAPPING_UNKNOWN)
    g_string_append (out, "direct connections likely (a public address is on this machine)");
  else
    append_direct_words (out, nat);
  if (reach != PUNCH_REACHABILITY_UNKNOWN)
    g_string_append_printf (out, "; AutoNAT: %s (%u peers agree)", punch_reachability_to_string (reach),
                            punch_autonat_service_get_confidence (self->autonat));
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static char *
with_our_id (PunchNode *self, const char *addr)
{
  if (strstr (addr, "/p2p/") != NULL && g_str_has_suffix (addr, self->peer_id))
    return g_strdup (addr);
  return g_strdup_printf ("%s/p2p/%s", addr, self->peer_id);
}

GStrv
punch_node_get_my_addrs (PunchNode *self)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) relayed = NULL;
  g_autoptr (GPtrArray) observed = NULL;
  g_autoptr (GPtrArray) listen = NULL;
  g_autoptr (GPtrArray) direct = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) loopback = g_ptr_array_new_with_free_func (g_free);
  gboolean public_known;

  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);

  relayed = punch_relay_client_get_relayed_addrs (self->relay_client);
  observed = observed_public (self);
  listen = punch_host_get_listen_addrs (self->host);
  public_known = observed->len > 0 || has_public_listen_addr (self);

  for (guint i = 0; i < observed->len; i++)
    g_ptr_array_add (direct, with_our_id (self, g_ptr_array_index (observed, i)));
  for (guint i = 0; i < listen->len; i++)
    {
      PunchMultiaddr *ma = g_ptr_array_index (listen, i);
      g_autofree char *text = punch_multiaddr_to_string (ma);

      if (punch_multiaddr_get_scope (ma) == PUNCH_ADDR_SCOPE_LOOPBACK)
        g_ptr_array_add (loopback, with_our_id (self, text));
      else
        g_ptr_array_add (direct, with_our_id (self, text));
    }

  /* Behind a NAT, only the relayed addresses work for a stranger, so they
   * come first; once we know a public address, it leads. */
  if (public_known)
    for (guint i = 0; i < direct->len; i++)
      if (g_hash_table_add (seen, g_strdup (g_ptr_array_index (direct, i))))
        g_strv_builder_add (builder, g_ptr_array_index (direct, i));
  for (guint i = 0; i < relayed->len; i++)
    {
      g_autofree char *text = punch_multiaddr_to_string (g_ptr_array_index (relayed, i));

      if (g_hash_table_add (seen, g_strdup (text)))
        g_strv_builder_add (builder, text);
    }
  for (guint i = 0; i < direct->len; i++)
    if (g_hash_table_add (seen, g_strdup (g_ptr_array_index (direct, i))))
      g_strv_builder_add (builder, g_ptr_array_index (direct, i));
  for (guint i = 0; i < loopback->len; i++)
    if (g_hash_table_add (seen, g_strdup (g_ptr_array_index (loopback, i))))
      g_strv_builder_add (builder, g_ptr_array_index (loopback, i));
  return g_strv_builder_end (builder);
}

static void
update_addrs (PunchNode *self)
{
  g_autofree char *summary = NULL;

  if (self->closed)
    return;
  summary = compute_reachability (self);
  if (g_strcmp0 (summary, self->reachability) != 0)
    {
      g_free (self->reachability);
      self->reachability = g_steal_pointer (&summary);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REACHABILITY]);
    }
  g_signal_emit (self, signals[ADDRS_CHANGED], 0);
}

static void
on_relay_addrs_changed (PunchRelayClient *client, gpointer user_data)
{
  PunchNode *self = user_data;
  g_autoptr (GPtrArray) relayed = punch_relay_client_get_relayed_addrs (client);

  /* Friends learn our relayed addresses through identify. */
  punch_identify_service_set_extra_addrs (self->identify, relayed);
  update_addrs (self);
}

/* Interface changes come in bursts (an address, then routes): check our
 * connections once the network has been quiet this long. */
#define RENEW_SETTLE_MS 1000
/* After a change of network, a connection that does not answer a ping
 * within this rides a path that is gone. */
#define LIVENESS_TIMEOUT_MS 3000

typedef struct
{
  PunchNode       *self;
  PunchConnection *conn;
  PunchDeadline   *deadline;
} LivenessOp;

static void
drop_stale (PunchNode *self, PunchConnection *conn, const char *why)
{
  const char *id = punch_peer_id_to_string (punch_connection_get_peer_id (conn));
  g_autofree char *detail = g_strdup_printf ("connection %u: %s", punch_connection_get_id (conn), why);

  g_debug ("network: dropping %s", detail);
  count (self, "network.stale_connections");
  add_event (self, g_hash_table_lookup (self->peers_by_id, id), "network", id, NULL, "stale connection", detail);
  /* The relay client reconnects and reserves again on its own. */
  punch_connection_close (conn);
}

static void
liveness_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LivenessOp *op = user_data;
  g_autoptr (GError) error = NULL;

  punch_ping_service_ping_finish (PUNCH_PING_SERVICE (source), result, &error);
  if (error != NULL)
    punch_deadline_adjust_error (op->deadline, &error, "Ping after a change of network");
  if (error != NULL && !op->self->closed && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
      && punch_connection_get_state (op->conn) == PUNCH_CONNECTION_STATE_OPEN)
    drop_stale (op->self, op->conn, error->message);
  punch_deadline_free (op->deadline);
  g_object_unref (op->conn);
  g_object_unref (op->self);
  g_free (op);
}

static void
check_liveness (PunchNode *self, PunchConnection *conn)
{
  LivenessOp *op = g_new0 (LivenessOp, 1);

  op->self = g_object_ref (self);
  op->conn = g_object_ref (conn);
  op->deadline = punch_deadline_new (self->cancellable, LIVENESS_TIMEOUT_MS);
  punch_ping_service_ping_async (self->ping, conn, punch_deadline_get_cancellable (op->deadline), liveness_done, op);
}

/* Whether @conn was seen on a public IP that is none of our external
 * addresses now: its NAT mapping belongs to an address we lost. */
static gboolean
observed_on_old_ip (PunchConnection *conn, const PunchNatReport *nat)
{
  PunchMultiaddr *observed = punch_connection_get_observed_addr (conn);

  if (observed == NULL || !punch_multiaddr_is_public (observed) || nat->external_addrs->len == 0)
    return FALSE;
  for (guint i = 0; i < nat->external_addrs->len; i++)
    if (punch_nat_same_ip (observed, g_ptr_array_index (nat->external_addrs, i)))
      return FALSE;
  return TRUE;
}

/* Relays we hold no reservation on and are not busy reserving wait out a
 * backoff; a new network is a reason to try them at once. */
static gboolean
reservations_all_waiting (PunchNode *self)
{
  GListModel *rsvs = punch_relay_client_get_reservations (self->relay_client);
  guint n = g_list_model_get_n_items (rsvs);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchRelayReservation) rsv = g_list_model_get_item (rsvs, i);
      PunchReservationState state = punch_relay_reservation_get_state (rsv);

      if (state != PUNCH_RESERVATION_STATE_FAILED && state != PUNCH_RESERVATION_STATE_EXPIRED)
        return FALSE;
    }
  return n > 0;
}

/* Re-checks instead of dropping everything: a change of routes (a
 * link-local route appearing) leaves our connections as good as before.
 * Direct connections whose local address is gone, or that were seen on an
 * external IP we no longer have, are dropped; the others must answer a
 * ping. The relay client reserves again on any relay whose connection
 * went; AutoNAT probes again by itself. */
static gboolean
renew_cb (gpointer user_data)
{
  PunchNode *self = user_data;
  GListModel *conns = punch_host_get_connections (self->host);
  g_autoptr (PunchNatReport) nat = punch_autonat_service_get_nat_report (self->autonat);
  g_autoptr (GPtrArray) snapshot = g_ptr_array_new_with_free_func (g_object_unref);
  guint n = g_list_model_get_n_items (conns);
  /* Before we drop anything: those we drop reconnect by themselves. */
  gboolean waiting = reservations_all_waiting (self);

  self->renew_source = 0;
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (snapshot, g_list_model_get_item (conns, i));
  for (guint i = 0; i < snapshot->len; i++)
    {
      PunchConnection *conn = g_ptr_array_index (snapshot, i);

      if (punch_connection_get_state (conn) != PUNCH_CONNECTION_STATE_OPEN || punch_connection_get_relayed (conn))
        continue;
      if (!punch_local_addr_present (punch_connection_get_local_addr (conn)))
        drop_stale (self, conn, "its local address is gone");
      else if (observed_on_old_ip (conn, nat))
        drop_stale (self, conn, "seen on an external address we no longer have");
      else
        check_liveness (self, conn);
    }
  if (waiting)
    punch_relay_client_renew (self->relay_client, self->renew_reason);
  update_addrs (self);
  return G_SOURCE_REMOVE;
}

static void
on_network_changed (PunchAutonatService *autonat, const char *what, gpointer user_data)
{
  PunchNode *self = user_data;

  if (self->closed)
    return;
  count (self, "network.changes");
  add_event (self, NULL, "network", NULL, NULL, "changed", what);
  g_free (self->renew_reason);
  self->renew_reason = g_strdup_printf ("network changed (%s)", what ? what : "?");
  g_clear_handle_id (&self->renew_source, g_source_remove);
  self->renew_source = g_timeout_add (RENEW_SETTLE_MS, renew_cb, self);
  g_source_set_name_by_id (self->renew_source, "[punchline] check connections");
  update_addrs (self);
  g_signal_emit (self, signals[NETWORK_CHANGED], 0, what);
}

const char *
punch_node_get_reachability (PunchNode *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);
  return self->reachability;
}

/* ---- periodic ping ---- */

typedef struct
{
  PunchNode       *self;
  PunchConnection *conn;
} PingOp;

static void
ping_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PingOp *op = user_data;
  g_autoptr (GError) error = NULL;

  punch_ping_service_ping_finish (PUNCH_PING_SERVICE (source), result, &error);
  if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("ping on connection %u: %s", punch_connection_get_id (op->conn), error->message);
  g_hash_table_remove (op->self->pinging, op->conn);
  g_object_unref (op->self);
  g_object_unref (op->conn);
  g_free (op);
}

static gboolean
ping_tick (gpointer user_data)
{
  PunchNode *self = user_data;
  GListModel *conns = punch_host_get_connections (self->host);
  guint n = g_list_model_get_n_items (conns);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchConnection) conn = g_list_model_get_item (conns, i);
      PingOp *op;

      if (punch_connection_get_state (conn) != PUNCH_CONNECTION_STATE_OPEN
          || g_hash_table_contains (self->pinging, conn))
        continue;
      g_hash_table_add (self->pinging, conn);
      op = g_new0 (PingOp, 1);
      op->self = g_object_ref (self);
      op->conn = g_object_ref (conn);
      punch_ping_service_ping_async (self->ping, conn, self->cancellable, ping_done, op);
    }
  return G_SOURCE_CONTINUE;
}

static void
restart_ping_timer (PunchNode *self)
{
  g_clear_handle_id (&self->ping_source, g_source_remove);
  if (self->closed || self->ping_interval_ms == 0)
    return;
  self->ping_source = g_timeout_add (self->ping_interval_ms, ping_tick, self);
  g_source_set_name_by_id (self->ping_source, "[punchline] node ping");
}

/* ---- relays ---- */

static PunchRelayEntry *
find_entry (PunchNode *self, const char *addr, guint *position)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->relay_entries));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchRelayEntry) entry = g_list_model_get_item (G_LIST_MODEL (self->relay_entries), i);

      if (g_strcmp0 (punch_relay_entry_get_addr (entry), addr) == 0)
        {
          if (position != NULL)
            *position = i;
          return entry;  /* the store keeps it alive */
        }
    }
  return NULL;
}

/* Is @addr something we can reserve on: TCP, with a /p2p suffix. */
static gboolean
usable_relay_addr (PunchMultiaddr *addr)
{
  g_autoptr (GBytes) id = punch_multiaddr_get_peer_id_bytes (addr);

  return id != NULL
         && punch_multiaddr_has_protocol (addr, PUNCH_PROTO_TCP)
         && !punch_multiaddr_has_protocol (addr, PUNCH_PROTO_WS)
         && !punch_multiaddr_has_protocol (addr, PUNCH_PROTO_WSS)
         && !punch_multiaddr_has_protocol (addr, PUNCH_PROTO_TLS)
         && !punch_multiaddr_has_protocol (addr, PUNCH_PROTO_P2P_CIRCUIT);
}

static gboolean
add_resolved_relay (PunchNode *self, PunchMultiaddr *addr, GError **error)
{
  g_autoptr (GBytes) id_bytes = punch_multiaddr_get_peer_id_bytes (addr);
  g_autofree char *id = peer_id_string_from_bytes (id_bytes);
  g_autofree char *text = punch_multiaddr_to_string (addr);

  if (punch_node_is_relay (self, id))
    return TRUE;
  if (punch_relay_client_add_relay (self->relay_client, addr, error) == NULL)
    return FALSE;
  add_event (self, NULL, "relay", id, NULL, "added", text);
  return TRUE;
}

typedef struct
{
  PunchNode       *self;
  PunchRelayEntry *entry;
} ResolveOp;

static void resolve_done (GObject *source, GAsyncResult *result, gpointer user_data);

static void
resolve_op_free (ResolveOp *op)
{
  g_object_unref (op->entry);
  g_object_unref (op->self);
  g_free (op);
}

static gboolean
resolve_retry (gpointer user_data)
{
  ResolveOp *op = user_data;
  g_autoptr (PunchMultiaddr) ma = NULL;
  ResolveOp *again;

  g_object_set_data (G_OBJECT (op->entry), "retry-source", NULL);
  if (op->self->closed || find_entry (op->self, punch_relay_entry_get_addr (op->entry), NULL) != op->entry
      || (ma = punch_multiaddr_new_from_string (punch_relay_entry_get_addr (op->entry), NULL)) == NULL)
    return G_SOURCE_REMOVE;
  again = g_new0 (ResolveOp, 1);
  again->self = g_object_ref (op->self);
  again->entry = g_object_ref (op->entry);
  punch_relay_entry_set_status (op->entry, PUNCH_RELAY_ENTRY_RESOLVING, 0, NULL);
  punch_dnsaddr_resolve_async (NULL, ma, op->self->cancellable, resolve_done, again);
  return G_SOURCE_REMOVE;
}

static void
resolve_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ResolveOp *op = user_data;
  PunchNode *self = op->self;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) addrs = punch_dnsaddr_resolve_finish (result, &error);
  g_autoptr (GHashTable) peers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint added = 0;

  if (self->closed || find_entry (self, punch_relay_entry_get_addr (op->entry), NULL) != op->entry)
    goto out;

  if (addrs == NULL)
    {
      guint attempt = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (op->entry), "attempt")) + 1;
      guint delay = MIN (30u << MIN (attempt - 1, 4u), 300u);
      g_autofree char *message = g_strdup_printf ("%s (retrying in %u s)", error->message, delay);
      ResolveOp *retry = g_new0 (ResolveOp, 1);
      guint retry_id;

      punch_relay_entry_set_status (op->entry, PUNCH_RELAY_ENTRY_FAILED, 0, message);
      count (self, "relays.failed");
      add_event (self, NULL, "error", NULL, NULL, "relay resolution failed", error->message);
      /* Names fail while the network is down: try again, more slowly. */
      g_object_set_data (G_OBJECT (op->entry), "attempt", GUINT_TO_POINTER (attempt));
      retry->self = g_object_ref (self);
      retry->entry = g_object_ref (op->entry);
      retry_id = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, delay, resolve_retry, retry,
                                             (GDestroyNotify) resolve_op_free);
      g_object_set_data (G_OBJECT (op->entry), "retry-source", GUINT_TO_POINTER (retry_id));
      goto out;
    }
  /* One address per relay peer, IPv4 first as most home networks have it. */
  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < addrs->len && g_hash_table_size (peers) < PUNCH_NODE_MAX_RELAYS_PER_NAME; i++)
      {
        PunchMultiaddr *ma = g_ptr_array_index (addrs, i);
        g_autoptr (GBytes) id_bytes = NULL;
        g_autofree char *id = NULL;
        g_autoptr (GError) add_error = NULL;

        if (!usable_relay_addr (ma) || (pass == 0 && !punch_multiaddr_has_protocol (ma, PUNCH_PROTO_IP4)))
          continue;
        id_bytes = punch_multiaddr_get_peer_id_bytes (ma);
        id = peer_id_string_from_bytes (id_bytes);
        if (id == NULL || g_hash_table_contains (peers, id))
          continue;
        if (add_resolved_relay (self, ma, &add_error))
          {
            g_hash_table_add (peers, g_steal_pointer (&id));
            added++;
          }
      }
  if (added == 0)
    punch_relay_entry_set_status (op->entry, PUNCH_RELAY_ENTRY_FAILED, 0,
                                  "the name resolved to no TCP relay address");
  else
    punch_relay_entry_set_status (op->entry, PUNCH_RELAY_ENTRY_ACTIVE, added, NULL);

out:
  g_object_unref (op->entry);
  g_object_unref (op->self);
  g_free (op);
}

/**
 * punch_node_add_relay:
 * @addr: a relay multiaddr ending in /p2p/<relay id>, or /dnsaddr/<name>
 *
 * Starts keeping a reservation on the relay (or on the relays a /dnsaddr
 * name stands for). Adding an address twice does nothing.
 *
 * Returns: FALSE with @error when @addr is not a usable relay address
 */
gboolean
punch_node_add_relay (PunchNode *self, const char *addr, GError **error)
{
  g_autoptr (PunchMultiaddr) ma = NULL;
  g_autoptr (PunchRelayEntry) entry = NULL;
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (PUNCH_IS_NODE (self), FALSE);
  g_return_val_if_fail (addr != NULL, FALSE);

  ma = punch_multiaddr_new_from_string (addr, error);
  if (ma == NULL)
    return FALSE;
  if (find_entry (self, addr, NULL) != NULL)
    return TRUE;

  if (punch_multiaddr_has_protocol (ma, PUNCH_PROTO_DNSADDR))
    {
      ResolveOp *op = g_new0 (ResolveOp, 1);

      entry = punch_relay_entry_new (addr);
      g_list_store_append (self->relay_entries, entry);
      op->self = g_object_ref (self);
      op->entry = g_object_ref (entry);
      punch_dnsaddr_resolve_async (NULL, ma, self->cancellable, resolve_done, op);
      return TRUE;
    }
  if (!usable_relay_addr (ma))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "%s is not a relay address: it must be a TCP address ending in /p2p/<relay peer ID>", addr);
      return FALSE;
    }
  entry = punch_relay_entry_new (addr);
  if (!add_resolved_relay (self, ma, &local_error))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  punch_relay_entry_set_status (entry, PUNCH_RELAY_ENTRY_ACTIVE, 1, NULL);
  g_list_store_append (self->relay_entries, entry);
  return TRUE;
}

gboolean
punch_node_remove_relay (PunchNode *self, const char *addr)
{
  g_autoptr (PunchMultiaddr) ma = NULL;
  g_autoptr (GBytes) id_bytes = NULL;
  PunchRelayEntry *entry;
  guint position, retry_id;

  g_return_val_if_fail (PUNCH_IS_NODE (self), FALSE);

  entry = find_entry (self, addr, &position);
  if (entry == NULL)
    return FALSE;
  retry_id = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (entry), "retry-source"));
  if (retry_id != 0)
    {
      g_object_set_data (G_OBJECT (entry), "retry-source", NULL);
      g_source_remove (retry_id);
    }
  g_list_store_remove (self->relay_entries, position);
  ma = punch_multiaddr_new_from_string (addr, NULL);
  id_bytes = ma ? punch_multiaddr_get_peer_id_bytes (ma) : NULL;
  if (id_bytes != NULL && !punch_multiaddr_has_protocol (ma, PUNCH_PROTO_DNSADDR))
    {
      g_autoptr (PunchPeerId) id = punch_peer_id_new_from_bytes (g_bytes_get_data (id_bytes, NULL),
                                                                 g_bytes_get_size (id_bytes), NULL);

      if (id != NULL)
        {
          punch_relay_client_remove_relay (self->relay_client, id);
          add_event (self, NULL, "relay", punch_peer_id_to_string (id), "added", "removed", addr);
        }
    }
  /* The relays a /dnsaddr name resolved to stay until restart: which
   * reservation came from which name is not worth tracking. */
  update_addrs (self);
  return TRUE;
}

GListModel *
punch_node_get_relay_entries (PunchNode *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);
  return G_LIST_MODEL (self->relay_entries);
}

GListModel *
punch_node_get_reservations (PunchNode *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);
  return punch_relay_client_get_reservations (self->relay_client);
}

PunchRttSeries *
punch_node_get_relay_rtt (PunchNode *self, const char *relay_peer_id)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);
  return relay_peer_id ? ensure_relay_rtt (self, relay_peer_id) : NULL;
}

/* ---- connecting to a friend ---- */

PunchMultiaddr *
punch_node_parse_friend_addr (PunchNode *self, const char *text, GError **error)
{
  g_autoptr (PunchMultiaddr) ma = NULL;
  g_autoptr (GError) parse_error = NULL;
  g_autoptr (GBytes) id_bytes = NULL;
  g_autofree char *trimmed = g_strstrip (g_strdup (text ? text : ""));
  g_autofree char *id = NULL;

  if (*trimmed == '\0')
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "Paste the address your friend shared");
      return NULL;
    }
  if (trimmed[0] != '/')
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "An address starts with “/”, like /ip4/203.0.113.5/tcp/4001/p2p/12D3KooW…");
      return NULL;
    }
  ma = punch_multiaddr_new_from_string (trimmed, &parse_error);
  if (ma == NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "Not a valid address: %s", parse_error->message);
      return NULL;
    }
  id_bytes = punch_multiaddr_get_peer_id_bytes (ma);
  if (id_bytes == NULL || punch_multiaddr_find_last (ma, PUNCH_PROTO_P2P) != (int) punch_multiaddr_get_n_components (ma) - 1)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "The address must end in /p2p/<peer ID>, so that we can check who answers");
      return NULL;
    }
  id = peer_id_string_from_bytes (id_bytes);
  if (self != NULL && g_strcmp0 (id, self->peer_id) == 0)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "That is your own address");
      return NULL;
    }
  if (punch_multiaddr_has_protocol (ma, PUNCH_PROTO_P2P_CIRCUIT))
    {
      int circuit = punch_multiaddr_find_first (ma, PUNCH_PROTO_P2P_CIRCUIT);

      if (circuit < 1 || punch_multiaddr_find_first (ma, PUNCH_PROTO_P2P) != circuit - 1)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                       "A relayed address reads <relay address>/p2p/<relay ID>/p2p-circuit/p2p/<peer ID>");
          return NULL;
        }
      return g_steal_pointer (&ma);
    }
  if (!punch_multiaddr_has_protocol (ma, PUNCH_PROTO_TCP)
      || punch_multiaddr_has_protocol (ma, PUNCH_PROTO_WS)
      || punch_multiaddr_has_protocol (ma, PUNCH_PROTO_WSS)
      || punch_multiaddr_has_protocol (ma, PUNCH_PROTO_QUIC_V1)
      || punch_multiaddr_has_protocol (ma, PUNCH_PROTO_QUIC))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                   "Only TCP addresses are supported (…/tcp/<port>/p2p/<peer ID>)");
      return NULL;
    }
  return g_steal_pointer (&ma);
}

typedef struct
{
  char *addr;
} ConnectOp;

static void
connect_op_free (ConnectOp *op)
{
  g_free (op->addr);
  g_free (op);
}

static void
progress (PunchNode *self, const char *addr, const char *message)
{
  g_signal_emit (self, signals[CONNECT_PROGRESS], 0, addr, message);
}

static void
connect_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PunchNode *self = g_task_get_source_object (task);
  ConnectOp *op = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  PunchConnection *conn;

  if (PUNCH_IS_RELAY_CLIENT (source))
    conn = punch_relay_client_dial_finish (PUNCH_RELAY_CLIENT (source), result, &error);
  else
    conn = punch_host_dial_finish (PUNCH_HOST (source), result, &error);

  if (conn == NULL)
    {
      count (self, "connects.failed");
      add_event (self, NULL, "dial", NULL, "dialing", "failed", error->message);
      progress (self, op->addr, error->message);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  count (self, "connects.succeeded");
  add_event (self, g_hash_table_lookup (self->peers_by_id, punch_peer_id_to_string (punch_connection_get_peer_id (conn))),
             "dial", punch_peer_id_to_string (punch_connection_get_peer_id (conn)), "dialing", "connected",
             punch_connection_get_relayed (conn) ? "relayed" : "direct");
  progress (self, op->addr, punch_connection_get_relayed (conn)
                              ? "Connected through the relay; trying to go direct…"
                              : "Connected directly");
  g_task_return_pointer (task, conn, g_object_unref);
}

/**
 * punch_node_connect_async:
 * @addr: a friend's address: direct (…/tcp/<port>/p2p/<id>) or relayed
 *   (<relay>/p2p/<relay id>/p2p-circuit/p2p/<id>)
 *
 * Connects to a friend, reporting each step through "connect-progress".
 * A relayed connection is then upgraded by DCUtR when the friend starts a
 * hole punch.
 */
void
punch_node_connect_async (PunchNode *self, const char *addr, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (PunchMultiaddr) ma = NULL;
  g_autoptr (GError) error = NULL;
  ConnectOp *op;

  g_return_if_fail (PUNCH_IS_NODE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_node_connect_async);
  ma = punch_node_parse_friend_addr (self, addr, &error);
  if (ma == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  op = g_new0 (ConnectOp, 1);
  op->addr = punch_multiaddr_to_string (ma);
  g_task_set_task_data (task, op, (GDestroyNotify) connect_op_free);
  count (self, "connects.started");
  add_event (self, NULL, "dial", NULL, NULL, "dialing", op->addr);

  if (punch_multiaddr_has_protocol (ma, PUNCH_PROTO_P2P_CIRCUIT))
    {
      g_autofree char *relay_addr = NULL;
      g_autofree char *relay_id = NULL;

      if (relay_of_circuit_addr (ma, &relay_addr, &relay_id))
        note_relay (self, relay_id);
      progress (self, op->addr, "Connecting through the relay…");
      punch_relay_client_dial_async (self->relay_client, ma, cancellable, connect_done, g_steal_pointer (&task));
    }
  else
    {
      progress (self, op->addr, "Connecting directly…");
      punch_host_dial_async (self->host, ma, cancellable, connect_done, g_steal_pointer (&task));
    }
}

PunchConnection *
punch_node_connect_finish (PunchNode *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- the object ---- */

static void
punch_node_dispose (GObject *object)
{
  PunchNode *self = PUNCH_NODE (object);

  punch_node_close (self);
  g_clear_object (&self->autonat);
  g_clear_object (&self->dcutr);
  g_clear_object (&self->relay_client);
  g_clear_object (&self->ping);
  g_clear_object (&self->identify);
  g_clear_object (&self->host);
  g_clear_object (&self->relay_entries);
  g_clear_object (&self->peers);
  g_clear_object (&self->timeline);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (punch_node_parent_class)->dispose (object);
}

static void
punch_node_finalize (GObject *object)
{
  PunchNode *self = PUNCH_NODE (object);

  g_clear_pointer (&self->relay_rtt, g_hash_table_unref);
  g_clear_pointer (&self->peers_by_id, g_hash_table_unref);
  g_clear_pointer (&self->counters, g_hash_table_unref);
  g_clear_pointer (&self->pinging, g_hash_table_unref);
  g_clear_pointer (&self->known_relays, g_hash_table_unref);
  g_free (self->peer_id);
  g_free (self->reachability);
  g_free (self->renew_reason);
  G_OBJECT_CLASS (punch_node_parent_class)->finalize (object);
}

static void
punch_node_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PunchNode *self = PUNCH_NODE (object);

  switch (prop_id)
    {
    case PROP_HOST:
      g_value_set_object (value, self->host);
      break;
    case PROP_REACHABILITY:
      g_value_set_string (value, self->reachability);
      break;
    case PROP_PING_INTERVAL:
      g_value_set_uint (value, self->ping_interval_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_node_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PunchNode *self = PUNCH_NODE (object);

  switch (prop_id)
    {
    case PROP_PING_INTERVAL:
      if (self->ping_interval_ms != g_value_get_uint (value))
        {
          self->ping_interval_ms = g_value_get_uint (value);
          if (self->host != NULL)
            restart_ping_timer (self);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_node_class_init (PunchNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = punch_node_dispose;
  object_class->finalize = punch_node_finalize;
  object_class->get_property = punch_node_get_property;
  object_class->set_property = punch_node_set_property;

  properties[PROP_HOST] =
    g_param_spec_object ("host", NULL, NULL, PUNCH_TYPE_HOST,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_REACHABILITY] =
    g_param_spec_string ("reachability", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PING_INTERVAL] =
    g_param_spec_uint ("ping-interval", NULL, NULL, 0, 3600 * 1000, PUNCH_NODE_DEFAULT_PING_INTERVAL_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PunchNode::addrs-changed:
   *
   * The addresses to share or the reachability summary may have changed.
   */
  signals[ADDRS_CHANGED] = g_signal_new ("addrs-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 0);
  /**
   * PunchNode::connect-progress:
   * @addr: the address being connected to
   * @message: what happens now, for people
   */
  signals[CONNECT_PROGRESS] = g_signal_new ("connect-progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                            NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * PunchNode::network-changed:
   * @what: "interfaces", "routes" or "external-address"
   *
   * AutoNAT saw a change (and dropped stale observations, except for
   * "routes"); the node re-checks its connections once the network has
   * been quiet for 1 s, and relays whose connection went are reserved on
   * again.
   */
  signals[NETWORK_CHANGED] = g_signal_new ("network-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                           NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
punch_node_init (PunchNode *self)
{
  self->relay_entries = g_list_store_new (PUNCH_TYPE_RELAY_ENTRY);
  self->relay_rtt = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->peers = g_list_store_new (PUNCH_TYPE_NODE_PEER);
  self->peers_by_id = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->timeline = punch_timeline_new (0);
  self->counters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->pinging = g_hash_table_new (NULL, NULL);
  self->known_relays = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->ping_interval_ms = PUNCH_NODE_DEFAULT_PING_INTERVAL_MS;
  self->cancellable = g_cancellable_new ();
  self->started_at = g_get_real_time ();
}

/**
 * punch_node_new:
 * @key: our identity
 *
 * Returns: (transfer full): a node that does not listen yet
 */
PunchNode *
punch_node_new (PunchPrivateKey *key)
{
  PunchNode *self = g_object_new (PUNCH_TYPE_NODE, NULL);

  g_return_val_if_fail (PUNCH_IS_PRIVATE_KEY (key), self);

  self->host = punch_host_new (key);
  self->peer_id = g_strdup (punch_peer_id_to_string (punch_host_get_peer_id (self->host)));
  self->identify = punch_identify_service_new (self->host);
  self->ping = punch_ping_service_new (self->host);
  self->relay_client = punch_relay_client_new (self->host);
  self->dcutr = punch_dcutr_service_new (self->host, self->identify);
  self->autonat = punch_autonat_service_new (self->host, self->identify);

  g_signal_connect_object (self->host, "connection-opened", G_CALLBACK (on_connection_opened), self, 0);
  g_signal_connect_object (self->host, "connection-closed", G_CALLBACK (on_connection_closed), self, 0);
  g_signal_connect_object (self->host, "dial-failed", G_CALLBACK (on_dial_failed), self, 0);
  g_signal_connect_object (self->host, "listen-addrs-changed", G_CALLBACK (update_addrs), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->identify, "identified", G_CALLBACK (on_identified), self, 0);
  g_signal_connect_object (self->dcutr, "punch-started", G_CALLBACK (on_punch_started), self, 0);
  g_signal_connect_object (self->dcutr, "punch-finished", G_CALLBACK (on_punch_finished), self, 0);
  g_signal_connect_object (self->relay_client, "addrs-changed", G_CALLBACK (on_relay_addrs_changed), self, 0);
  g_signal_connect_object (punch_relay_client_get_reservations (self->relay_client), "items-changed",
                           G_CALLBACK (on_reservations_changed), self, 0);
  g_signal_connect_object (self->autonat, "observation", G_CALLBACK (update_addrs), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->autonat, "notify::reachability", G_CALLBACK (update_addrs), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->autonat, "notify::nat-mapping", G_CALLBACK (update_addrs), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->autonat, "network-changed", G_CALLBACK (on_network_changed), self, 0);
  self->reachability = compute_reachability (self);
  restart_ping_timer (self);
  return self;
}

PunchNode *
punch_node_new_from_identity (const char *identity_path, GError **error)
{
  g_autofree char *path = identity_path ? g_strdup (identity_path) : punch_private_key_default_path ();
  g_autoptr (PunchPrivateKey) key = punch_private_key_load_or_create (path, error);

  if (key == NULL)
    return NULL;
  return punch_node_new (key);
}

gboolean
punch_node_listen_on (PunchNode *self, const char *addr, GError **error)
{
  g_autoptr (PunchMultiaddr) ma = NULL;

  g_return_val_if_fail (PUNCH_IS_NODE (self), FALSE);

  ma = punch_multiaddr_new_from_string (addr, error);
  if (ma == NULL || !punch_host_listen (self->host, ma, error))
    return FALSE;
  update_addrs (self);
  return TRUE;
}

gboolean
punch_node_listen (PunchNode *self, guint16 port, GError **error)
{
  g_autofree char *ip4 = g_strdup_printf ("/ip4/0.0.0.0/tcp/%u", port);
  g_autofree char *ip6 = g_strdup_printf ("/ip6/::/tcp/%u", port);
  g_autoptr (GError) ip6_error = NULL;

  if (!punch_node_listen_on (self, ip4, error))
    return FALSE;
  /* IPv6 is a bonus: many machines have none. */
  if (!punch_node_listen_on (self, ip6, &ip6_error))
    g_debug ("not listening on IPv6: %s", ip6_error->message);
  return TRUE;
}

void
punch_node_close (PunchNode *self)
{
  g_return_if_fail (PUNCH_IS_NODE (self));

  if (self->closed)
    return;
  self->closed = TRUE;
  g_clear_handle_id (&self->ping_source, g_source_remove);
  g_clear_handle_id (&self->renew_source, g_source_remove);
  /* No more probes or network watching once we are done. */
  if (self->autonat != NULL)
    g_object_set (self->autonat, "client-enabled", FALSE, NULL);
  /* Pending /dnsaddr retries hold references on us. */
  for (guint i = 0; self->relay_entries != NULL && i < g_list_model_get_n_items (G_LIST_MODEL (self->relay_entries)); i++)
    {
      g_autoptr (PunchRelayEntry) entry = g_list_model_get_item (G_LIST_MODEL (self->relay_entries), i);
      guint source = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (entry), "retry-source"));

      if (source != 0)
        {
          g_object_set_data (G_OBJECT (entry), "retry-source", NULL);
          g_source_remove (source);
        }
    }
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  if (self->host != NULL)
    punch_host_close (self->host);
}

PunchAutonatService *
punch_node_get_autonat (PunchNode *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);
  return self->autonat;
}

/**
 * punch_node_get_nat_report:
 * @self: the node
 *
 * Returns: (transfer full): the mapping classifier's report on the
 *   observations AutoNAT keeps (mapping "unknown" while they are too few)
 */
PunchNatReport *
punch_node_get_nat_report (PunchNode *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);
  return punch_autonat_service_get_nat_report (self->autonat);
}

PunchHost *
punch_node_get_host (PunchNode *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);
  return self->host;
}

PunchIdentifyService *
punch_node_get_identify (PunchNode *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);
  return self->identify;
}

PunchPingService *
punch_node_get_ping (PunchNode *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);
  return self->ping;
}

PunchRelayClient *
punch_node_get_relay_client (PunchNode *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);
  return self->relay_client;
}

PunchDcutrService *
punch_node_get_dcutr (PunchNode *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);
  return self->dcutr;
}

const char *
punch_node_get_peer_id (PunchNode *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);
  return self->peer_id;
}

GListModel *
punch_node_get_peers (PunchNode *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);
  return G_LIST_MODEL (self->peers);
}

PunchNodePeer *
punch_node_lookup_peer (PunchNode *self, const char *peer_id)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);
  return peer_id ? g_hash_table_lookup (self->peers_by_id, peer_id) : NULL;
}

PunchTimeline *
punch_node_get_timeline (PunchNode *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);
  return self->timeline;
}

GHashTable *
punch_node_get_counters (PunchNode *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), NULL);
  return self->counters;
}

guint
punch_node_get_counter (PunchNode *self, const char *name)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), 0);
  return GPOINTER_TO_UINT (g_hash_table_lookup (self->counters, name));
}

gint64
punch_node_get_started_at (PunchNode *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE (self), 0);
  return self->started_at;
}
