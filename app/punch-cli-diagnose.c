/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-cli-diagnose.h"

#include <glib-unix.h>
#include <signal.h>
#include <string.h>

#include "punch-addr-scope.h"
#include "punch-autonat-service.h"
#include "punch-cli-output.h"
#include "punch-host.h"
#include "punch-identify-service.h"
#include "punch-nat-mapping.h"
#include "punch-ping-service.h"
#include "punch-relay-client.h"

/* How long observers get to connect, reserve and identify by default. */
#define DEFAULT_WAIT_S  10
/* Once everything settled, identify answers still in flight get this long. */
#define SETTLE_MS       1000
#define POLL_MS         200

typedef struct
{
  PunchCliOptions      *options;
  PunchCliOutput       *out;
  GMainLoop            *loop;
  GCancellable         *cancellable;
  PunchHost            *host;
  PunchIdentifyService *identify;
  PunchPingService     *ping;
  PunchAutonatService  *autonat;
  PunchRelayClient     *relay_client;
  GHashTable           *rtts;          /* peer ID text → gint64 * (µs) */
  GHashTable           *relay_ids;     /* peer ID text of --relay peers */
  guint                 dials_pending;
  guint                 pings_pending;
  guint                 poll_id;
  gint64                deadline;
  gint64                settled_at;
  gboolean              done;
  gboolean              probing;
  char                 *probe_error;
  JsonArray            *answers;       /* what each AutoNAT server said */
} Diagnose;

static gboolean
reservation_settled (PunchRelayReservation *rsv)
{
  switch (punch_relay_reservation_get_state (rsv))
    {
    case PUNCH_RESERVATION_STATE_CONNECTING:
    case PUNCH_RESERVATION_STATE_RESERVING:
      return FALSE;
    default:
      return TRUE;
    }
}

static gboolean
all_settled (Diagnose *d)
{
  GListModel *rsvs = punch_relay_client_get_reservations (d->relay_client);
  guint n = g_list_model_get_n_items (rsvs);

  if (d->dials_pending > 0)
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchRelayReservation) rsv = g_list_model_get_item (rsvs, i);

      if (!reservation_settled (rsv))
        return FALSE;
    }
  return TRUE;
}

/* ---- the report ---- */

static void
set_addr (JsonObject *object, const char *member, PunchMultiaddr *addr)
{
  g_autofree char *text = addr != NULL ? punch_multiaddr_to_string (addr) : NULL;

  if (text != NULL)
    json_object_set_string_member (object, member, text);
  else
    json_object_set_null_member (object, member);
}

static void
set_rtt (Diagnose *d, JsonObject *object, PunchPeerId *peer)
{
  gint64 *rtt = g_hash_table_lookup (d->rtts, punch_peer_id_to_string (peer));

  if (rtt != NULL)
    json_object_set_double_member (object, "rtt_ms", *rtt / 1000.0);
  else
    json_object_set_null_member (object, "rtt_ms");
}

static const char *
reservation_state_name (PunchReservationState state)
{
  switch (state)
    {
    case PUNCH_RESERVATION_STATE_CONNECTING: return "connecting";
    case PUNCH_RESERVATION_STATE_RESERVING: return "reserving";
    case PUNCH_RESERVATION_STATE_RESERVED: return "reserved";
    case PUNCH_RESERVATION_STATE_REFRESHING: return "refreshing";
    case PUNCH_RESERVATION_STATE_EXPIRED: return "expired";
    case PUNCH_RESERVATION_STATE_FAILED: return "failed";
    default: return "unknown";
    }
}

static void
note_family (PunchMultiaddr *addr, gboolean *v4, gboolean *v6)
{
  PunchMultiaddrComponent c;
  PunchAddrScope scope = punch_multiaddr_get_scope (addr);

  if (scope == PUNCH_ADDR_SCOPE_LOOPBACK || scope == PUNCH_ADDR_SCOPE_UNUSABLE
      || !punch_multiaddr_get_component (addr, 0, &c))
    return;
  if (c.code == PUNCH_PROTO_IP4)
    *v4 = TRUE;
  else if (c.code == PUNCH_PROTO_IP6)
    *v6 = TRUE;
}

static void
report (Diagnose *d)
{
  g_autoptr (JsonObject) event = punch_cli_output_event_new ("diagnose");
  g_autoptr (PunchNatReport) nat = punch_autonat_service_get_nat_report (d->autonat);
  g_autoptr (GPtrArray) listen = punch_host_get_listen_addrs (d->host);
  g_autoptr (GPtrArray) observations = punch_autonat_service_get_observations (d->autonat);
  g_autoptr (GString) human = g_string_new (NULL);
  g_autofree char *verdict = NULL;
  g_autofree char *reach_words = NULL;
  GListModel *rsvs = punch_relay_client_get_reservations (d->relay_client);
  JsonArray *array;
  JsonObject *object;
  PunchReachability reachability = punch_autonat_service_get_reachability (d->autonat);
  guint ok = 0, failed = 0, needed = 0;
  gboolean v4 = FALSE, v6 = FALSE;

  json_object_set_string_member (event, "peer_id", punch_peer_id_to_string (punch_host_get_peer_id (d->host)));
  g_string_append_printf (human, "Peer ID: %s\nListen addresses:\n",
                          punch_peer_id_to_string (punch_host_get_peer_id (d->host)));
  array = json_array_new ();
  for (guint i = 0; i < listen->len; i++)
    {
      g_autofree char *text = punch_multiaddr_to_string (g_ptr_array_index (listen, i));

      json_array_add_string_element (array, text);
      g_string_append_printf (human, "  %s\n", text);
      note_family (g_ptr_array_index (listen, i), &v4, &v6);
    }
  json_object_set_array_member (event, "listen_addrs", array);

  g_string_append (human, "Observed by:\n");
  array = json_array_new ();
  for (guint i = 0; i < observations->len; i++)
    {
      PunchNatObservation *obs = g_ptr_array_index (observations, i);
      g_autoptr (PunchPeerId) peer = punch_peer_id_parse (obs->observer, NULL);
      g_autofree char *observed = punch_multiaddr_to_string (obs->observed_addr);
      g_autofree char *remote = obs->observer_addr != NULL ? punch_multiaddr_to_string (obs->observer_addr) : NULL;
      gboolean is_relay = g_hash_table_contains (d->relay_ids, obs->observer);

      object = json_object_new ();
      json_object_set_string_member (object, "peer_id", obs->observer);
      set_addr (object, "addr", obs->observer_addr);
      set_addr (object, "local_addr", obs->local_addr);
      json_object_set_string_member (object, "observed_addr", observed);
      json_object_set_string_member (object, "direction", obs->outbound ? "outbound" : "inbound");
      json_object_set_boolean_member (object, "relay", is_relay);
      if (peer != NULL)
        set_rtt (d, object, peer);
      json_array_add_object_element (array, object);
      note_family (obs->observed_addr, &v4, &v6);
      g_string_append_printf (human, "  %s%s (%s) sees us as %s\n", is_relay ? "relay " : "", obs->observer,
                              remote != NULL ? remote : "?", observed);
    }
  json_object_set_array_member (event, "observers", array);

  array = json_array_new ();
  for (guint i = 0; i < nat->external_addrs->len; i++)
    {
      object = json_object_new ();
      set_addr (object, "addr", g_ptr_array_index (nat->external_addrs, i));
      json_object_set_int_member (object, "observers", g_array_index (nat->external_support, guint, i));
      json_array_add_object_element (array, object);
    }
  json_object_set_array_member (event, "external_addrs", array);

  object = json_object_new ();
  json_object_set_string_member (object, "mapping", punch_nat_mapping_to_string (nat->mapping));
  json_object_set_int_member (object, "observers", nat->mapping_support);
  json_object_set_string_member (object, "port_preservation",
                                 punch_nat_port_preservation_to_string (nat->port_preservation));
  json_object_set_int_member (object, "preservation_observers", nat->preservation_support);
  json_object_set_string_member (object, "reason", nat->reason);
  json_object_set_object_member (event, "nat", object);
  g_string_append_printf (human, "NAT mapping: %s (%s)\nPort preservation: %s\n",
                          punch_nat_mapping_to_string (nat->mapping), nat->reason,
                          punch_nat_port_preservation_to_string (nat->port_preservation));

  punch_autonat_service_get_answer_counts (d->autonat, &ok, &failed);
  g_object_get (d->autonat, "min-confirmations", &needed, NULL);
  object = json_object_new ();
  json_object_set_string_member (object, "status", punch_reachability_to_string (reachability));
  json_object_set_int_member (object, "confidence", punch_autonat_service_get_confidence (d->autonat));
  json_object_set_int_member (object, "ok", ok);
  json_object_set_int_member (object, "failed", failed);
  json_object_set_int_member (object, "unverified", punch_autonat_service_get_unverified_count (d->autonat));
  json_object_set_int_member (object, "needed", needed);
  set_addr (object, "public_addr", punch_autonat_service_get_public_addr (d->autonat));
  json_object_set_array_member (object, "answers", json_array_ref (d->answers));
  if (d->probe_error != NULL)
    json_object_set_string_member (object, "error", d->probe_error);
  else
    json_object_set_null_member (object, "error");
  json_object_set_object_member (event, "reachability", object);
  if (reachability == PUNCH_REACHABILITY_UNKNOWN)
    reach_words = g_strdup_printf ("Reachability unknown: %u peer%s dialled us back, %u could not, %u agreeing "
                                   "answers needed%s%s.", ok, ok == 1 ? "" : "s", failed, needed,
                                   d->probe_error != NULL ? "; " : "",
                                   d->probe_error != NULL ? d->probe_error : "");
  else
    reach_words = g_strdup_printf ("Reachability %s: %u peers agree.", punch_reachability_to_string (reachability),
                                   punch_autonat_service_get_confidence (d->autonat));
  g_string_append_printf (human, "%s\n", reach_words);
  for (guint i = 0; i < json_array_get_length (d->answers); i++)
    {
      JsonObject *answer = json_array_get_object_element (d->answers, i);

      g_string_append_printf (human, "  AutoNAT %s: %s%s\n", json_object_get_string_member (answer, "peer_id"),
                              json_object_get_string_member (answer, "status"),
                              json_object_get_boolean_member (answer, "verified")
                                ? "" : " (no dial-back reached us: not counted)");
    }

  array = json_array_new ();
  for (guint i = 0; i < g_list_model_get_n_items (rsvs); i++)
    {
      g_autoptr (PunchRelayReservation) rsv = g_list_model_get_item (rsvs, i);
      PunchPeerId *relay = punch_relay_reservation_get_relay_peer_id (rsv);
      const char *reason = punch_relay_reservation_get_reason (rsv);
      guint32 duration = punch_relay_reservation_get_limit_duration (rsv);
      guint64 data = punch_relay_reservation_get_limit_data (rsv);

      object = json_object_new ();
      set_addr (object, "relay", punch_relay_reservation_get_relay_addr (rsv));
      json_object_set_string_member (object, "relay_peer_id", punch_peer_id_to_string (relay));
      json_object_set_string_member (object, "state", reservation_state_name (punch_relay_reservation_get_state (rsv)));
      if (reason != NULL)
        json_object_set_string_member (object, "reason", reason);
      else
        json_object_set_null_member (object, "reason");
      set_rtt (d, object, relay);
      if (duration == 0 && data == 0)
        json_object_set_null_member (object, "limit");
      else
        {
          JsonObject *limit = json_object_new ();

          json_object_set_int_member (limit, "duration", duration);
          json_object_set_int_member (limit, "data", (gint64) MIN (data, (guint64) G_MAXINT64));
          json_object_set_object_member (object, "limit", limit);
        }
      json_object_set_int_member (object, "expire", punch_relay_reservation_get_expire (rsv));
      json_array_add_object_element (array, object);
      g_string_append_printf (human, "Relay %s: %s%s%s\n", punch_peer_id_to_string (relay),
                              reservation_state_name (punch_relay_reservation_get_state (rsv)),
                              reason != NULL ? ", " : "", reason != NULL ? reason : "");
    }
  json_object_set_array_member (event, "relays", array);

  json_object_set_boolean_member (event, "ipv4", v4);
  json_object_set_boolean_member (event, "ipv6", v6);
  g_string_append_printf (human, "IPv4: %s, IPv6: %s\n", v4 ? "yes" : "no", v6 ? "yes" : "no");

  verdict = g_strdup_printf ("%s %s", nat->verdict, reach_words);
  json_object_set_string_member (event, "verdict", verdict);
  g_string_append_printf (human, "Verdict: %s", verdict);
  punch_cli_output_emit (d->out, event, human->str);
}

/* ---- the steps ---- */

static void
finish (Diagnose *d)
{
  if (d->done)
    return;
  d->done = TRUE;
  g_clear_handle_id (&d->poll_id, g_source_remove);
  report (d);
  g_main_loop_quit (d->loop);
}

static void
probed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Diagnose *d = user_data;
  g_autoptr (GError) error = NULL;

  d->probing = FALSE;
  punch_autonat_service_probe_finish (PUNCH_AUTONAT_SERVICE (source), result, &error);
  if (error != NULL)
    d->probe_error = g_strdup (error->message);
  finish (d);
}

static void
on_answer (PunchAutonatService *autonat, PunchPeerId *server, int status, PunchMultiaddr *addr, gpointer user_data)
{
  Diagnose *d = user_data;
  JsonObject *answer = json_object_new ();

  json_object_set_string_member (answer, "peer_id", punch_peer_id_to_string (server));
  json_object_set_string_member (answer, "status", punch_autonat_status_to_string (status));
  set_addr (answer, "addr", addr);
  /* An OK whose dial-back never reached us does not count (a server that
   * judged by our own connection instead of dialling). */
  json_object_set_boolean_member (answer, "verified",
                                  status != PUNCH_AUTONAT_STATUS_OK
                                  || punch_autonat_service_is_answer_verified (autonat, server));
  json_array_add_object_element (d->answers, answer);
}

static void
start_probe (Diagnose *d)
{
  d->probing = TRUE;
  punch_autonat_service_probe_async (d->autonat, d->cancellable, probed, d);
}

typedef struct
{
  Diagnose    *d;
  PunchPeerId *peer;
} PingData;

static void
ping_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PingData *pd = user_data;
  Diagnose *d = pd->d;
  g_autoptr (GError) error = NULL;
  gint64 rtt = punch_ping_service_ping_finish (PUNCH_PING_SERVICE (source), result, &error);

  if (rtt >= 0 && error == NULL)
    g_hash_table_insert (d->rtts, g_strdup (punch_peer_id_to_string (pd->peer)), g_memdup2 (&rtt, sizeof rtt));
  punch_peer_id_unref (pd->peer);
  g_free (pd);
  if (--d->pings_pending == 0 && !d->done)
    start_probe (d);
}

/* One ping per directly connected peer: the RTT to each observer. */
static void
start_pings (Diagnose *d)
{
  GListModel *conns = punch_host_get_connections (d->host);
  guint n = g_list_model_get_n_items (conns);

  d->pings_pending = 1;   /* held until every ping started */
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchConnection) conn = g_list_model_get_item (conns, i);
      PingData *pd;

      if (punch_connection_get_relayed (conn) || punch_connection_get_state (conn) != PUNCH_CONNECTION_STATE_OPEN
          || g_hash_table_contains (d->rtts, punch_peer_id_to_string (punch_connection_get_peer_id (conn))))
        continue;
      pd = g_new0 (PingData, 1);
      pd->d = d;
      pd->peer = punch_peer_id_ref (punch_connection_get_peer_id (conn));
      d->pings_pending++;
      punch_ping_service_ping_async (d->ping, conn, d->cancellable, ping_done, pd);
    }
  if (--d->pings_pending == 0)
    start_probe (d);
}

static gboolean
poll_cb (gpointer user_data)
{
  Diagnose *d = user_data;
  gint64 now = g_get_monotonic_time ();

  if (d->settled_at == 0 && (all_settled (d) || now >= d->deadline))
    d->settled_at = now;
  if (d->settled_at != 0 && now - d->settled_at >= SETTLE_MS * 1000)
    {
      d->poll_id = 0;
      start_pings (d);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
dialed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Diagnose *d = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConnection) conn = punch_host_dial_finish (PUNCH_HOST (source), result, &error);

  if (conn == NULL)
    punch_cli_output_error (d->out, "dial", error);
  d->dials_pending--;
}

static gboolean
on_signal (gpointer user_data)
{
  Diagnose *d = user_data;

  g_cancellable_cancel (d->cancellable);
  d->done = TRUE;
  g_main_loop_quit (d->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
drain_wake_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

int
punch_cli_command_diagnose (PunchCliOptions *options, int argc, char **argv)
{
  g_auto (GStrv) relays = NULL;
  g_auto (GStrv) peers = NULL;
  g_auto (GStrv) listens = NULL;
  int wait_s = DEFAULT_WAIT_S;
  int min_confirmations = 4;
  gboolean allow_private = FALSE;
  const GOptionEntry entries[] = {
    { "relay", 0, 0, G_OPTION_ARG_STRING_ARRAY, &relays, "A relay to reserve on and to be observed by", "MA" },
    { "peer", 0, 0, G_OPTION_ARG_STRING_ARRAY, &peers, "A peer to connect to as an observer", "MA" },
    { "listen", 0, 0, G_OPTION_ARG_STRING_ARRAY, &listens, "Listen address (default /ip4/0.0.0.0/tcp/0)", "MA" },
    { "wait", 0, 0, G_OPTION_ARG_INT, &wait_s, "Seconds observers get to connect and answer (default 10)", "S" },
    { "min-confirmations", 0, 0, G_OPTION_ARG_INT, &min_confirmations,
      "Agreeing AutoNAT answers needed for a verdict (default 4, the spec's \"more than 3\")", "N" },
    { "allow-private", 0, 0, G_OPTION_ARG_NONE, &allow_private,
      "Offer loopback and private addresses for dial-backs (closed test networks only)", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("");
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = NULL;
  g_autoptr (PunchCliOutput) out = NULL;
  g_autofree char *default_path = NULL;
  Diagnose d = { 0 };
  guint sigint_id, sigterm_id;
  gint64 drain_deadline;
  guint drain_wake;

  g_option_context_set_summary (context, "Says what the network does: observed addresses, NAT mapping, "
                                "reachability (AutoNAT), relays. See docs/nat-diagnosis.md.");
  g_option_context_add_main_entries (context, entries, NULL);
  punch_cli_add_common_options (context, options);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 1 || wait_s < 0
      || min_confirmations < 1 || min_confirmations > 64)
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

      g_printerr ("%s: %s\n\n%s", g_get_prgname (),
                  error != NULL ? error->message : argc != 1 ? "diagnose takes no positional argument"
                                                             : "--wait or --min-confirmations out of range", help);
      return PUNCH_CLI_EXIT_USAGE;
    }

  out = punch_cli_output_new (options->json);
  key = punch_private_key_load_or_create (options->identity != NULL ? options->identity
                                          : (default_path = punch_private_key_default_path ()), &error);
  if (key == NULL)
    {
      punch_cli_output_result (out, error, NULL);
      return PUNCH_CLI_EXIT_FAILED;
    }

  d.options = options;
  d.out = out;
  d.loop = g_main_loop_new (NULL, FALSE);
  d.cancellable = g_cancellable_new ();
  d.rtts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  d.relay_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  d.host = punch_host_new (key);
  if (options->security != NULL)
    {
      g_auto (GStrv) names = g_strsplit (options->security, ",", -1);
      g_autoptr (GPtrArray) protocols = g_ptr_array_new ();

      for (guint i = 0; names[i] != NULL; i++)
        g_ptr_array_add (protocols, g_str_equal (names[i], "noise") ? "/noise"
                                    : g_str_equal (names[i], "tls") ? "/tls/1.0.0" : names[i]);
      g_ptr_array_add (protocols, NULL);
      if (!punch_host_set_security_protocols (d.host, (const char * const *) protocols->pdata, &error))
        goto out;
    }
  d.identify = punch_identify_service_new (d.host);
  d.ping = punch_ping_service_new (d.host);
  d.autonat = punch_autonat_service_new (d.host, d.identify);
  /* One probe, when the observers are in; no timers of its own. */
  g_object_set (d.autonat, "client-enabled", FALSE, "server-enabled", FALSE,
                "min-confirmations", (guint) min_confirmations, "allow-non-public", allow_private, NULL);
  d.answers = json_array_new ();
  g_signal_connect (d.autonat, "answer", G_CALLBACK (on_answer), &d);
  d.relay_client = punch_relay_client_new (d.host);

  if (listens == NULL)
    listens = g_strdupv ((char *[]) { (char *) "/ip4/0.0.0.0/tcp/0", NULL });
  for (guint i = 0; listens[i] != NULL; i++)
    {
      g_autoptr (PunchMultiaddr) addr = punch_multiaddr_new_from_string (listens[i], &error);

      if (addr == NULL || !punch_host_listen (d.host, addr, &error))
        goto out;
    }
  for (guint i = 0; relays != NULL && relays[i] != NULL; i++)
    {
      g_autoptr (PunchMultiaddr) addr = punch_multiaddr_new_from_string (relays[i], &error);
      g_autoptr (GBytes) id = NULL;

      if (addr == NULL || punch_relay_client_add_relay (d.relay_client, addr, &error) == NULL)
        goto out;
      id = punch_multiaddr_get_peer_id_bytes (addr);
      if (id != NULL)
        {
          g_autoptr (PunchPeerId) peer = punch_peer_id_new_from_bytes (g_bytes_get_data (id, NULL),
                                                                       g_bytes_get_size (id), NULL);

          if (peer != NULL)
            g_hash_table_add (d.relay_ids, g_strdup (punch_peer_id_to_string (peer)));
        }
    }
  for (guint i = 0; peers != NULL && peers[i] != NULL; i++)
    {
      g_autoptr (PunchMultiaddr) addr = punch_multiaddr_new_from_string (peers[i], &error);

      if (addr == NULL)
        goto out;
      d.dials_pending++;
      punch_host_dial_full_async (d.host, addr, PUNCH_DIAL_FLAGS_NONE,
                                  options->timeout > 0 ? (guint) options->timeout * 1000 : 0, d.cancellable,
                                  dialed, &d);
    }

  d.deadline = g_get_monotonic_time () + (gint64) wait_s * G_USEC_PER_SEC;
  d.poll_id = g_timeout_add (POLL_MS, poll_cb, &d);
  g_source_set_name_by_id (d.poll_id, "[punchline] diagnose poll");
  sigint_id = g_unix_signal_add (SIGINT, on_signal, &d);
  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, &d);
  g_main_loop_run (d.loop);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  if (g_cancellable_is_cancelled (d.cancellable))
    error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Interrupted");

out:
  g_clear_handle_id (&d.poll_id, g_source_remove);
  g_cancellable_cancel (d.cancellable);
  punch_cli_output_result (out, error, NULL);
  g_clear_object (&d.autonat);
  g_clear_object (&d.relay_client);
  g_clear_object (&d.ping);
  g_clear_object (&d.identify);
  if (d.host != NULL)
    punch_host_close (d.host);
  /* Cancelled operations still call back into @d, which lives on this
   * stack: let them finish (they do at once, but never wait forever). */
  drain_deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  drain_wake = g_timeout_add (50, drain_wake_cb, NULL);
  while ((d.dials_pending > 0 || d.pings_pending > 0 || d.probing) && g_get_monotonic_time () < drain_deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (drain_wake);
  g_clear_object (&d.host);
  g_clear_object (&d.cancellable);
  g_clear_pointer (&d.loop, g_main_loop_unref);
  g_clear_pointer (&d.rtts, g_hash_table_unref);
  g_clear_pointer (&d.relay_ids, g_hash_table_unref);
  g_clear_pointer (&d.answers, json_array_unref);
  g_free (d.probe_error);
  return error == NULL ? PUNCH_CLI_EXIT_OK : PUNCH_CLI_EXIT_FAILED;
}
