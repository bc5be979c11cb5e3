/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-cli-relay.h"

static void
set_string_or_null (JsonObject *object,
                    const char *member,
                    const char *value)
{
  if (value != NULL)
    json_object_set_string_member (object, member, value);
  else
    json_object_set_null_member (object, member);
}

static void
set_multiaddr (JsonObject     *object,
               const char     *member,
               PunchMultiaddr *addr)
{
  g_autofree char *text = addr != NULL ? punch_multiaddr_to_string (addr) : NULL;

  set_string_or_null (object, member, text);
}

/* 0 means "none" on the wire: null in the event. */
static void
set_limit (JsonObject *object,
           guint32     duration,
           guint64     data)
{
  JsonObject *limit;

  if (duration == 0 && data == 0)
    {
      json_object_set_null_member (object, "limit");
      return;
    }
  limit = json_object_new ();
  json_object_set_int_member (limit, "duration", duration);
  json_object_set_int_member (limit, "data", (gint64) MIN (data, (guint64) G_MAXINT64));
  json_object_set_object_member (object, "limit", limit);
}

static void
set_addr_array (JsonObject *object,
                const char *member,
                GPtrArray  *addrs)
{
  JsonArray *array = json_array_new ();

  for (guint i = 0; addrs != NULL && i < addrs->len; i++)
    {
      g_autofree char *text = punch_multiaddr_to_string (g_ptr_array_index (addrs, i));

      json_array_add_string_element (array, text);
    }
  json_object_set_array_member (object, member, array);
}

static void
set_strv (JsonObject         *object,
          const char         *member,
          const char * const *strv)
{
  JsonArray *array = json_array_new ();

  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    json_array_add_string_element (array, strv[i]);
  json_object_set_array_member (object, member, array);
}

/* Our reservations on relays. */

static void
print_reserved (PunchCliOutput        *out,
                PunchRelayReservation *rsv,
                gboolean               refresh)
{
  g_autoptr (JsonObject) event = punch_cli_output_event_new ("reserved");
  GPtrArray *addrs = punch_relay_reservation_get_addrs (rsv);
  gint64 expire = punch_relay_reservation_get_expire (rsv);
  PunchVoucherState voucher = punch_relay_reservation_get_voucher_state (rsv);
  g_autofree char *first = addrs != NULL && addrs->len > 0
                           ? punch_multiaddr_to_string (g_ptr_array_index (addrs, 0)) : NULL;
  g_autofree char *human = NULL;

  set_multiaddr (event, "relay", punch_relay_reservation_get_relay_addr (rsv));
  json_object_set_string_member (event, "relay_peer_id",
                                 punch_peer_id_to_string (punch_relay_reservation_get_relay_peer_id (rsv)));
  set_string_or_null (event, "addr", first);
  set_addr_array (event, "addrs", addrs);
  json_object_set_int_member (event, "expire", expire);
  json_object_set_int_member (event, "expires_in", MAX (0, expire - g_get_real_time () / G_USEC_PER_SEC));
  set_limit (event, punch_relay_reservation_get_limit_duration (rsv),
             punch_relay_reservation_get_limit_data (rsv));
  json_object_set_string_member (event, "voucher", punch_voucher_state_to_string (voucher));
  set_string_or_null (event, "voucher_error", punch_relay_reservation_get_voucher_error (rsv));
  json_object_set_boolean_member (event, "refresh", refresh);

  human = g_strdup_printf ("%s on relay %s: %s (expires in %" G_GINT64_FORMAT " s, limit %u s / %" G_GUINT64_FORMAT
                           " bytes, voucher %s)", refresh ? "Reservation refreshed" : "Reserved",
                           punch_peer_id_to_string (punch_relay_reservation_get_relay_peer_id (rsv)),
                           first != NULL ? first : "?",
                           MAX (0, expire - g_get_real_time () / G_USEC_PER_SEC),
                           punch_relay_reservation_get_limit_duration (rsv),
                           punch_relay_reservation_get_limit_data (rsv),
                           punch_voucher_state_to_string (voucher));
  punch_cli_output_emit (out, event, human);
}

static void
on_reservation_transition (PunchRelayReservation *rsv,
                           int                    from,
                           int                    to,
                           const char            *reason,
                           gpointer               user_data)
{
  PunchCliOutput *out = user_data;
  g_autoptr (JsonObject) event = punch_cli_output_event_new ("reservation");
  gint64 expire = punch_relay_reservation_get_expire (rsv);
  const char *relay_id = punch_peer_id_to_string (punch_relay_reservation_get_relay_peer_id (rsv));
  g_autofree char *human = NULL;

  json_object_set_string_member (event, "role", "client");
  set_multiaddr (event, "relay", punch_relay_reservation_get_relay_addr (rsv));
  json_object_set_string_member (event, "relay_peer_id", relay_id);
  json_object_set_string_member (event, "from", punch_reservation_state_to_string (from));
  json_object_set_string_member (event, "state", punch_reservation_state_to_string (to));
  set_string_or_null (event, "reason", reason);
  if (expire > 0)
    json_object_set_int_member (event, "expire", expire);
  else
    json_object_set_null_member (event, "expire");
  json_object_set_int_member (event, "attempts", punch_relay_reservation_get_attempts (rsv));
  json_object_set_int_member (event, "refreshes", punch_relay_reservation_get_refreshes (rsv));

  human = g_strdup_printf ("Reservation on %s: %s → %s%s%s", relay_id,
                           punch_reservation_state_to_string (from), punch_reservation_state_to_string (to),
                           reason != NULL ? ": " : "", reason != NULL ? reason : "");
  /* The reserved event says it all for a success. */
  punch_cli_output_emit (out, event, to == PUNCH_RESERVATION_STATE_RESERVED ? NULL : human);

  if (to == PUNCH_RESERVATION_STATE_RESERVED)
    print_reserved (out, rsv, from == PUNCH_RESERVATION_STATE_REFRESHING);
}

void
punch_cli_relay_watch_reservation (PunchCliOutput        *out,
                                   PunchRelayReservation *reservation)
{
  g_signal_connect (reservation, "transition", G_CALLBACK (on_reservation_transition), out);
}

/* The budget our relayed connections have left (docs/cli-events.md,
 * "relay_budget"). */

/* G_MAXUINT64 (no data limit) is null in the event. */
static void
set_remaining (JsonObject *object,
               const char *member,
               guint64     bytes)
{
  if (bytes == G_MAXUINT64)
    json_object_set_null_member (object, member);
  else
    json_object_set_int_member (object, member, (gint64) MIN (bytes, (guint64) G_MAXINT64));
}

static void
print_budget (PunchCliOutput  *out,
              PunchConnection *connection)
{
  g_autoptr (JsonObject) event = punch_cli_output_event_new ("relay_budget");
  GDateTime *ends_at = punch_connection_get_limit_ends_at (connection);
  g_autofree char *ends_text = NULL;
  guint64 send = punch_connection_get_remaining_send (connection);
  guint64 receive = punch_connection_get_remaining_receive (connection);
  gboolean open = punch_connection_get_state (connection) != PUNCH_CONNECTION_STATE_CLOSED;
  GString *human = g_string_new (NULL);

  /* As "time": UTC with milliseconds. */
  if (ends_at != NULL)
    {
      g_autofree char *seconds = g_date_time_format (ends_at, "%Y-%m-%dT%H:%M:%S");

      ends_text = g_strdup_printf ("%s.%03dZ", seconds, g_date_time_get_microsecond (ends_at) / 1000);
    }
  json_object_set_string_member (event, "state", open ? "open" : "closed");
  json_object_set_string_member (event, "peer_id", punch_peer_id_to_string (punch_connection_get_peer_id (connection)));
  json_object_set_string_member (event, "direction", punch_direction_to_string (punch_connection_get_direction (connection)));
  set_multiaddr (event, "remote", punch_connection_get_remote_addr (connection));
  set_limit (event, punch_connection_get_limit_duration (connection), punch_connection_get_limit_data (connection));
  set_remaining (event, "remaining_send", send);
  set_remaining (event, "remaining_receive", receive);
  set_string_or_null (event, "limit_ends_at", ends_text);

  g_string_append_printf (human, "Relay budget with %s%s:",
                          punch_peer_id_to_string (punch_connection_get_peer_id (connection)),
                          open ? "" : " (closed)");
  if (punch_connection_get_limit_data (connection) > 0)
    g_string_append_printf (human, " %" G_GUINT64_FORMAT " bytes left to send, %" G_GUINT64_FORMAT
                            " to receive (of %" G_GUINT64_FORMAT " each way)",
                            send, receive, punch_connection_get_limit_data (connection));
  if (ends_text != NULL)
    g_string_append_printf (human, " until %s", ends_text);
  punch_cli_output_emit (out, event, human->str);
  g_string_free (human, TRUE);
}

/* Both remaining-* notifies of one look at the budget print one event. */
typedef struct
{
  guint64 send;
  guint64 receive;
} PrintedBudget;

#define PRINTED_BUDGET_KEY "punch-cli-printed-budget"

static void
on_budget_notify (PunchConnection *connection,
                  GParamSpec      *pspec,
                  gpointer         user_data)
{
  PrintedBudget *printed = g_object_get_data (G_OBJECT (connection), PRINTED_BUDGET_KEY);
  guint64 send = punch_connection_get_remaining_send (connection);
  guint64 receive = punch_connection_get_remaining_receive (connection);

  /* The closing figures come with the "closed" handler. */
  if (printed == NULL || punch_connection_get_state (connection) == PUNCH_CONNECTION_STATE_CLOSED
      || (printed->send == send && printed->receive == receive))
    return;
  printed->send = send;
  printed->receive = receive;
  print_budget (user_data, connection);
}

static void
on_budget_closed (PunchConnection *connection,
                  GError          *error,
                  gpointer         user_data)
{
  print_budget (user_data, connection);
  g_signal_handlers_disconnect_by_data (connection, user_data);
}

static void
watch_budget (PunchCliOutput  *out,
              PunchConnection *connection)
{
  PrintedBudget *printed;

  if (!punch_connection_get_limited (connection)
      || punch_connection_get_state (connection) == PUNCH_CONNECTION_STATE_CLOSED)
    return;
  printed = g_new0 (PrintedBudget, 1);
  printed->send = punch_connection_get_remaining_send (connection);
  printed->receive = punch_connection_get_remaining_receive (connection);
  g_object_set_data_full (G_OBJECT (connection), PRINTED_BUDGET_KEY, printed, g_free);
  g_signal_connect (connection, "notify::remaining-send", G_CALLBACK (on_budget_notify), out);
  g_signal_connect (connection, "notify::remaining-receive", G_CALLBACK (on_budget_notify), out);
  g_signal_connect (connection, "closed", G_CALLBACK (on_budget_closed), out);
  print_budget (out, connection);
}

static void
on_host_connection_opened (PunchHost       *host,
                           PunchConnection *connection,
                           gpointer         user_data)
{
  watch_budget (user_data, connection);
}

void
punch_cli_relay_watch_budgets (PunchCliOutput *out,
                               PunchHost      *host)
{
  GListModel *connections = punch_host_get_connections (host);

  for (guint i = 0; i < g_list_model_get_n_items (connections); i++)
    {
      g_autoptr (PunchConnection) connection = g_list_model_get_item (connections, i);

      watch_budget (out, connection);
    }
  g_signal_connect (host, "connection-opened", G_CALLBACK (on_host_connection_opened), out);
}

/* The relay we serve. */

static void
on_service_reservation (PunchRelayService *service,
                        PunchPeerId       *peer,
                        const char        *state,
                        gint64             expire,
                        const char        *reason,
                        gpointer           user_data)
{
  PunchCliOutput *out = user_data;
  g_autoptr (JsonObject) event = punch_cli_output_event_new ("reservation");
  g_autofree char *human = NULL;

  json_object_set_string_member (event, "role", "relay");
  json_object_set_string_member (event, "state", state);
  set_string_or_null (event, "peer_id", peer != NULL ? punch_peer_id_to_string (peer) : NULL);
  if (expire > 0)
    json_object_set_int_member (event, "expire", expire);
  else
    json_object_set_null_member (event, "expire");
  set_string_or_null (event, "reason", reason);
  json_object_set_int_member (event, "reservations", punch_relay_service_get_n_reservations (service));

  human = g_strdup_printf ("Reservation of %s %s%s%s (%u held)", peer != NULL ? punch_peer_id_to_string (peer) : "?",
                           state, reason != NULL ? ": " : "", reason != NULL ? reason : "",
                           punch_relay_service_get_n_reservations (service));
  punch_cli_output_emit (out, event, human);
}

/* The circuit's reasons start with the limit's name (punch-relay-circuit.c). */
static const char *
limit_hit (const char *reason)
{
  if (reason == NULL)
    return NULL;
  if (g_str_has_prefix (reason, "data limit"))
    return "data";
  if (g_str_has_prefix (reason, "duration limit"))
    return "duration";
  return NULL;
}

static void
on_service_circuit (PunchRelayService *service,
                    PunchRelayCircuit *circuit,
                    const char        *state,
                    const char        *reason,
                    gpointer           user_data)
{
  PunchCliOutput *out = user_data;
  g_autoptr (JsonObject) event = punch_cli_output_event_new ("circuit");
  const char *src = circuit != NULL ? punch_peer_id_to_string (punch_relay_circuit_get_src (circuit)) : NULL;
  const char *dst = circuit != NULL ? punch_peer_id_to_string (punch_relay_circuit_get_dst (circuit)) : NULL;
  guint64 to_dst = circuit != NULL ? punch_relay_circuit_get_bytes_to_dst (circuit) : 0;
  guint64 to_src = circuit != NULL ? punch_relay_circuit_get_bytes_to_src (circuit) : 0;
  g_autofree char *human = NULL;

  json_object_set_string_member (event, "state", state);
  set_string_or_null (event, "src", src);
  set_string_or_null (event, "dst", dst);
  json_object_set_int_member (event, "bytes_to_dst", (gint64) MIN (to_dst, (guint64) G_MAXINT64));
  json_object_set_int_member (event, "bytes_to_src", (gint64) MIN (to_src, (guint64) G_MAXINT64));
  set_string_or_null (event, "reason", reason);
  set_string_or_null (event, "limit_hit", limit_hit (reason));
  json_object_set_int_member (event, "circuits", punch_relay_service_get_n_circuits (service));

  if (circuit == NULL)
    human = g_strdup_printf ("Circuit refused: %s", reason != NULL ? reason : "?");
  else
    human = g_strdup_printf ("Circuit %s → %s %s (%" G_GUINT64_FORMAT " bytes →, %" G_GUINT64_FORMAT " bytes ←)%s%s",
                             src, dst, state, to_dst, to_src, reason != NULL ? ": " : "", reason != NULL ? reason : "");
  punch_cli_output_emit (out, event, human);
}

void
punch_cli_relay_watch_service (PunchCliOutput    *out,
                               PunchRelayService *service)
{
  g_signal_connect (service, "reservation", G_CALLBACK (on_service_reservation), out);
  g_signal_connect (service, "circuit", G_CALLBACK (on_service_circuit), out);
}

void
punch_cli_relay_print_settings (PunchCliOutput    *out,
                                PunchRelayService *service,
                                GPtrArray         *announce)
{
  g_autoptr (JsonObject) event = punch_cli_output_event_new ("relay");
  guint ttl, duration, max_rsv, per_ip, circuits;
  guint64 data;
  g_autofree char *human = NULL;

  g_object_get (service, "reservation-ttl", &ttl, "limit-duration", &duration, "limit-data", &data,
                "max-reservations", &max_rsv, "max-reservations-per-ip", &per_ip,
                "max-circuits-per-peer", &circuits, NULL);
  set_addr_array (event, "announce", announce);
  json_object_set_int_member (event, "reservation_ttl", ttl);
  set_limit (event, duration, data);
  json_object_set_int_member (event, "max_reservations", max_rsv);
  json_object_set_int_member (event, "max_reservations_per_ip", per_ip);
  json_object_set_int_member (event, "max_circuits_per_peer", circuits);

  human = g_strdup_printf ("Relay: reservations for %u s, circuits limited to %u s and %" G_GUINT64_FORMAT
                           " bytes per direction (0: no limit), at most %u reservations",
                           ttl, duration, data, max_rsv);
  punch_cli_output_emit (out, event, human);
}

/* Hole punches. */

/* Stable names for scripts (the core's are for people). */
static const char *
outcome_name (PunchHolePunchOutcome outcome)
{
  switch (outcome)
    {
    case PUNCH_HOLE_PUNCH_OUTCOME_SUCCESS:
      return "success";
    case PUNCH_HOLE_PUNCH_OUTCOME_CONNECTION_REVERSED:
      return "connection_reversed";
    case PUNCH_HOLE_PUNCH_OUTCOME_FAILED:
      return "failed";
    case PUNCH_HOLE_PUNCH_OUTCOME_NO_STREAM:
      return "no_stream";
    case PUNCH_HOLE_PUNCH_OUTCOME_NO_CONNECTION:
      return "no_connection";
    case PUNCH_HOLE_PUNCH_OUTCOME_CANCELLED:
      return "cancelled";
    case PUNCH_HOLE_PUNCH_OUTCOME_UNKNOWN:
    default:
      return "unknown";
    }
}

static void
on_punch_transition (PunchHolePunch *hp,
                     int             from,
                     int             to,
                     const char     *detail,
                     gpointer        user_data)
{
  PunchCliOutput *out = user_data;
  g_autoptr (JsonObject) event = punch_cli_output_event_new ("holepunch");
  PunchConnection *direct = punch_hole_punch_get_direct_connection (hp);
  gint64 rtt = punch_hole_punch_get_rtt (hp);
  const char *peer = punch_peer_id_to_string (punch_hole_punch_get_peer_id (hp));
  g_autofree char *human = NULL;

  json_object_set_string_member (event, "peer_id", peer);
  json_object_set_string_member (event, "role", punch_hole_punch_role_to_string (punch_hole_punch_get_role (hp)));
  if (from >= 0)
    json_object_set_string_member (event, "from", punch_hole_punch_state_to_string (from));
  else
    json_object_set_null_member (event, "from");
  json_object_set_string_member (event, "state", punch_hole_punch_state_to_string (to));
  set_string_or_null (event, "detail", detail);
  json_object_set_int_member (event, "attempt", punch_hole_punch_get_attempts (hp));
  if (rtt >= 0)
    json_object_set_double_member (event, "rtt_ms", rtt / 1000.0);
  else
    json_object_set_null_member (event, "rtt_ms");
  json_object_set_string_member (event, "outcome", outcome_name (punch_hole_punch_get_outcome (hp)));
  set_string_or_null (event, "error", punch_hole_punch_get_error (hp));
  set_strv (event, "remote_addrs", punch_hole_punch_get_remote_addrs (hp));
  set_strv (event, "local_addrs", punch_hole_punch_get_local_addrs (hp));
  set_multiaddr (event, "direct_addr", direct != NULL ? punch_connection_get_remote_addr (direct) : NULL);

  human = g_strdup_printf ("Hole punch with %s (role %s, attempt %u): %s%s%s", peer,
                           punch_hole_punch_role_to_string (punch_hole_punch_get_role (hp)),
                           punch_hole_punch_get_attempts (hp), punch_hole_punch_state_to_string (to),
                           detail != NULL ? ": " : "", detail != NULL ? detail : "");
  punch_cli_output_emit (out, event, human);

  /* A finished punch has nothing more to say. */
  if (from >= 0 && (to == PUNCH_HOLE_PUNCH_STATE_SUCCEEDED || to == PUNCH_HOLE_PUNCH_STATE_FAILED))
    g_signal_handlers_disconnect_by_data (hp, out);
}

static void
on_punch_started (PunchDcutrService *dcutr,
                  PunchHolePunch    *hp,
                  gpointer           user_data)
{
  PunchCliOutput *out = user_data;

  /* The state it starts in has had no transition. */
  on_punch_transition (hp, -1, punch_hole_punch_get_state (hp), NULL, out);
  if (!punch_hole_punch_is_finished (hp))
    g_signal_connect (hp, "transition", G_CALLBACK (on_punch_transition), out);
}

void
punch_cli_relay_watch_dcutr (PunchCliOutput    *out,
                             PunchDcutrService *dcutr)
{
  g_signal_connect (dcutr, "punch-started", G_CALLBACK (on_punch_started), out);
}

void
punch_cli_relay_unwatch (PunchCliOutput *out,
                         gpointer        object)
{
  if (object == NULL)
    return;
  if (PUNCH_IS_DCUTR_SERVICE (object))
    {
      GListModel *punches = punch_dcutr_service_get_punches (object);

      for (guint i = 0; i < g_list_model_get_n_items (punches); i++)
        {
          g_autoptr (GObject) hp = g_list_model_get_item (punches, i);

          g_signal_handlers_disconnect_by_data (hp, out);
        }
    }
  if (PUNCH_IS_HOST (object))
    {
      GListModel *connections = punch_host_get_connections (object);

      for (guint i = 0; i < g_list_model_get_n_items (connections); i++)
        {
          g_autoptr (GObject) connection = g_list_model_get_item (connections, i);

          g_signal_handlers_disconnect_by_data (connection, out);
        }
    }
  g_signal_handlers_disconnect_by_data (object, out);
}

/* Echo. */

#define ECHO_BUFFER 4096

typedef struct
{
  GIOStream *stream;
  guint8     buffer[ECHO_BUFFER];
} Echo;

static void echo_read (Echo *echo);

static void
echo_free (Echo *echo)
{
  g_io_stream_close_async (echo->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_object_unref (echo->stream);
  g_free (echo);
}

static void
on_echo_written (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Echo *echo = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      g_debug ("echo: %s", error->message);
      echo_free (echo);
      return;
    }
  echo_read (echo);
}

static void
on_echo_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Echo *echo = user_data;
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n <= 0)
    {
      if (n < 0)
        g_debug ("echo: %s", error->message);
      echo_free (echo);
      return;
    }
  g_output_stream_write_all_async (g_io_stream_get_output_stream (echo->stream), echo->buffer, n,
                                   G_PRIORITY_DEFAULT, NULL, on_echo_written, echo);
}

static void
echo_read (Echo *echo)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (echo->stream), echo->buffer, ECHO_BUFFER,
                             G_PRIORITY_DEFAULT, NULL, on_echo_read, echo);
}

static void
echo_handler (PunchHost       *host,
              PunchConnection *connection,
              GIOStream       *stream,
              const char      *protocol,
              gpointer         user_data)
{
  Echo *echo = g_new0 (Echo, 1);

  echo->stream = g_object_ref (stream);
  echo_read (echo);
}

void
punch_cli_relay_serve_echo (PunchHost *host)
{
  punch_host_set_stream_handler (host, PUNCH_CLI_ECHO_PROTOCOL, echo_handler, NULL, NULL);
  punch_host_allow_on_limited (host, PUNCH_CLI_ECHO_PROTOCOL);
}
