/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Circuit Relay v2 between our own hosts over loopback: reservation, relayed
 * dial, limits, refusals, vouchers. Interop with js-libp2p lives in
 * tests/interop. */
#include <string.h>

#include "../host/host-test-util.h"
#include "circuit.pb-c.h"
#include "punch-error.h"
#include "punch-host.h"
#include "punch-relay-client.h"
#include "punch-relay-proto.h"
#include "punch-relay-service.h"
#include "punch-signed-envelope.h"
#include "punch-yamux-stream.h"

#define ECHO_PROTOCOL "/punchline/test/echo/1.0.0"

typedef struct
{
  PunchHost         *relay;
  PunchRelayService *service;
  PunchHost         *b;
  PunchRelayClient  *b_client;
  PunchHost         *a;
  PunchRelayClient  *a_client;
  PunchMultiaddr    *relay_addr;  /* with /p2p */
} Fixture;

static PunchMultiaddr *
full_addr (PunchHost *host)
{
  g_autoptr (GPtrArray) addrs = punch_host_get_listen_addrs (host);
  gsize len;
  const guint8 *id = punch_peer_id_get_bytes (punch_host_get_peer_id (host), &len);

  g_assert_cmpuint (addrs->len, >, 0);
  return punch_multiaddr_with_peer_id (g_ptr_array_index (addrs, 0), id, len);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->relay = host_test_new_listening ();
  f->service = punch_relay_service_new (f->relay);
  f->b = host_test_new_listening ();
  f->b_client = punch_relay_client_new (f->b);
  f->a = host_test_new_listening ();
  f->a_client = punch_relay_client_new (f->a);
  f->relay_addr = full_addr (f->relay);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->a_client);
  g_clear_object (&f->b_client);
  g_clear_object (&f->service);
  punch_host_close (f->a);
  punch_host_close (f->b);
  punch_host_close (f->relay);
  host_test_spin (50);
  g_clear_object (&f->a);
  g_clear_object (&f->b);
  g_clear_object (&f->relay);
  g_clear_pointer (&f->relay_addr, punch_multiaddr_unref);
}

static PunchRelayReservation *
reserve_b (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  PunchRelayReservation *rsv = punch_relay_client_add_relay (f->b_client, f->relay_addr, &error);

  g_assert_no_error (error);
  WAIT_UNTIL (punch_relay_reservation_get_state (rsv) == PUNCH_RESERVATION_STATE_RESERVED
              || punch_relay_reservation_get_state (rsv) == PUNCH_RESERVATION_STATE_FAILED);
  return rsv;
}

static PunchMultiaddr *
b_relayed_addr (Fixture *f)
{
  g_autoptr (GPtrArray) addrs = punch_relay_client_get_relayed_addrs (f->b_client);

  g_assert_cmpuint (addrs->len, ==, 1);
  return punch_multiaddr_ref (g_ptr_array_index (addrs, 0));
}

/* Through the host, as every caller does: it hands /p2p-circuit to the
 * relay client. */
static PunchConnection *
dial_through_relay (Fixture *f, PunchMultiaddr *addr, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  punch_host_dial_async (f->a, addr, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  return punch_host_dial_finish (f->a, result, error);
}

static void
test_reservation (Fixture *f, gconstpointer data)
{
  PunchRelayReservation *rsv = reserve_b (f);
  g_autoptr (PunchMultiaddr) addr = NULL;
  g_autofree char *text = NULL;
  g_autofree char *expected_suffix = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  g_assert_cmpint (punch_relay_reservation_get_state (rsv), ==, PUNCH_RESERVATION_STATE_RESERVED);
  g_assert_cmpint (punch_relay_reservation_get_expire (rsv), >=, now + PUNCH_RELAY_DEFAULT_TTL - 5);
  g_assert_cmpuint (punch_relay_reservation_get_limit_duration (rsv), ==, PUNCH_RELAY_DEFAULT_LIMIT_DURATION);
  g_assert_cmpuint (punch_relay_reservation_get_limit_data (rsv), ==, PUNCH_RELAY_DEFAULT_LIMIT_DATA);
  g_assert_cmpint (punch_relay_reservation_get_voucher_state (rsv), ==, PUNCH_VOUCHER_VALID);
  g_assert_cmpuint (punch_relay_service_get_n_reservations (f->service), ==, 1);

  addr = b_relayed_addr (f);
  text = punch_multiaddr_to_string (addr);
  expected_suffix = g_strdup_printf ("/p2p/%s/p2p-circuit/p2p/%s",
                                     punch_peer_id_to_string (punch_host_get_peer_id (f->relay)),
                                     punch_peer_id_to_string (punch_host_get_peer_id (f->b)));
  g_assert_true (g_str_has_prefix (text, "/ip4/127.0.0.1/tcp/"));
  g_assert_true (g_str_has_suffix (text, expected_suffix));
}

static void
test_refresh (Fixture *f, gconstpointer data)
{
  PunchRelayReservation *rsv;
  gint64 first;

  /* A 3 s TTL makes the client refresh after about half of it. */
  g_object_set (f->service, "reservation-ttl", 3, NULL);
  rsv = reserve_b (f);
  g_assert_cmpint (punch_relay_reservation_get_state (rsv), ==, PUNCH_RESERVATION_STATE_RESERVED);
  first = punch_relay_reservation_get_expire (rsv);
  WAIT_UNTIL (punch_relay_reservation_get_refreshes (rsv) >= 1
              && punch_relay_reservation_get_state (rsv) == PUNCH_RESERVATION_STATE_RESERVED);
  g_assert_cmpint (punch_relay_reservation_get_expire (rsv), >, first);
}

/* Echoes everything back, then closes. */
typedef struct
{
  GIOStream *stream;
  guint8     buf[16384];
} Echo;

static void echo_read (Echo *echo);

static void
echo_free (Echo *echo)
{
  g_clear_object (&echo->stream);
  g_free (echo);
}

static void
echo_wrote (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Echo *echo = user_data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    {
      echo_free (echo);
      return;
    }
  echo_read (echo);
}

static void
echo_got (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Echo *echo = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    {
      g_io_stream_close_async (echo->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      echo_free (echo);
      return;
    }
  g_output_stream_write_all_async (g_io_stream_get_output_stream (echo->stream), echo->buf, n,
                                   G_PRIORITY_DEFAULT, NULL, echo_wrote, echo);
}

static void
echo_read (Echo *echo)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (echo->stream), echo->buf, sizeof echo->buf,
                             G_PRIORITY_DEFAULT, NULL, echo_got, echo);
}

static void
echo_handler (PunchHost *host, PunchConnection *conn, GIOStream *stream, const char *protocol, gpointer data)
{
  Echo *echo = g_new0 (Echo, 1);

  echo->stream = g_object_ref (stream);
  echo_read (echo);
}

/* Sends @len bytes on a new echo stream and reads them back; returns the
 * error that ended it, if any. */
static gboolean
echo_roundtrip (PunchConnection *conn, gsize len, GError **error)
{
  const char *protocols[] = { ECHO_PROTOCOL, NULL };
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GIOStream) stream = NULL;
  g_autofree guint8 *out = g_malloc (len);
  g_autofree guint8 *in = g_malloc0 (len);
  gsize got = 0;
  gboolean read_done = FALSE, write_done = FALSE;
  GError *read_error = NULL, *write_error = NULL;

  for (gsize i = 0; i < len; i++)
    out[i] = (guint8) (i * 7 + 3);

  punch_connection_open_stream_async (conn, protocols, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  stream = punch_connection_open_stream_finish (conn, result, NULL, error);
  if (stream == NULL)
    return FALSE;
  g_clear_object (&result);

  {
    g_autoptr (GAsyncResult) wres = NULL;

    g_output_stream_write_all_async (g_io_stream_get_output_stream (stream), out, len, G_PRIORITY_DEFAULT,
                                     NULL, host_test_store_result, &wres);
    while (!read_done || !write_done)
      {
        if (!write_done && wres != NULL)
          {
            write_done = TRUE;
            if (g_output_stream_write_all_finish (g_io_stream_get_output_stream (stream), wres, NULL, &write_error))
              g_output_stream_close (g_io_stream_get_output_stream (stream), NULL, NULL);
          }
        if (!read_done)
          {
            g_autoptr (GAsyncResult) rres = NULL;
            gssize n;

            g_input_stream_read_async (g_io_stream_get_input_stream (stream), in + got, len - got > 0 ? len - got : 1,
                                       G_PRIORITY_DEFAULT, NULL, host_test_store_result, &rres);
            WAIT_UNTIL (rres != NULL);
            n = g_input_stream_read_finish (g_io_stream_get_input_stream (stream), rres, &read_error);
            if (n <= 0)
              read_done = TRUE;
            else
              got += (gsize) n;
            if (got == len)
              read_done = TRUE;
          }
        else
          WAIT_UNTIL (wres != NULL);
      }
  }

  if (read_error != NULL || write_error != NULL)
    {
      g_propagate_error (error, read_error ? read_error : write_error);
      g_clear_error (read_error ? &write_error : &read_error);
      return FALSE;
    }
  if (got != len)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT, "echo returned %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes", got, len);
      return FALSE;
    }
  g_assert_cmpmem (in, len, out, len);
  return TRUE;
}

static void
test_relayed_dial (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) addr = NULL;
  g_autoptr (PunchConnection) conn = NULL;
  PunchConnection *inbound;

  /* A relay of one's own without limits: a full tunnel. */
  g_object_set (f->service, "limit-duration", 0, "limit-data", (guint64) 0, NULL);
  punch_host_set_stream_handler (f->b, ECHO_PROTOCOL, echo_handler, NULL, NULL);
  reserve_b (f);
  addr = b_relayed_addr (f);

  conn = dial_through_relay (f, addr, &error);
  g_assert_no_error (error);
  g_assert_true (punch_peer_id_equal (punch_connection_get_peer_id (conn), punch_host_get_peer_id (f->b)));
  g_assert_true (punch_connection_get_relayed (conn));
  g_assert_false (punch_connection_get_limited (conn));
  g_assert_cmpstr (punch_connection_get_security (conn), ==, "/noise");
  g_assert_cmpint (punch_connection_get_direction (conn), ==, PUNCH_DIRECTION_OUTBOUND);

  WAIT_UNTIL ((inbound = punch_host_get_connection (f->b, punch_host_get_peer_id (f->a))) != NULL);
  g_assert_true (punch_connection_get_relayed (inbound));
  g_assert_cmpint (punch_connection_get_direction (inbound), ==, PUNCH_DIRECTION_INBOUND);

  g_assert_true (echo_roundtrip (conn, 1024 * 1024, &error));
  g_assert_no_error (error);
  WAIT_UNTIL (punch_relay_service_get_n_circuits (f->service) == 1);
}

static void
on_circuit_event (PunchRelayService *service, PunchRelayCircuit *circuit, const char *event,
                  const char *reason, gpointer user_data)
{
  char **out = user_data;

  if (g_strcmp0 (event, "closed") == 0)
    {
      g_free (*out);
      *out = g_strdup (reason ? reason : "clean");
    }
}

static void
on_connection_closed_reason (PunchConnection *conn, GError *error, gpointer user_data)
{
  char **out = user_data;

  g_free (*out);
  *out = g_strdup (error ? error->message : "clean");
}

static void
test_data_limit (Fixture *f, gconstpointer data)
{
  g_autofree char *a_reason = NULL;
  g_autofree char *b_reason = NULL;
  PunchConnection *inbound;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) addr = NULL;
  g_autoptr (PunchConnection) conn = NULL;
  g_autofree char *reason = NULL;

  g_object_set (f->service, "limit-duration", 0, "limit-data", (guint64) 64 * 1024, NULL);
  g_signal_connect (f->service, "circuit", G_CALLBACK (on_circuit_event), &reason);
  punch_host_set_stream_handler (f->b, ECHO_PROTOCOL, echo_handler, NULL, NULL);
  /* The echo protocol opts into limited connections on both sides. */
  punch_host_allow_on_limited (f->a, ECHO_PROTOCOL);
  punch_host_allow_on_limited (f->b, ECHO_PROTOCOL);
  reserve_b (f);
  addr = b_relayed_addr (f);
  conn = dial_through_relay (f, addr, &error);
  g_assert_no_error (error);
  g_assert_true (punch_connection_get_limited (conn));

  g_signal_connect (conn, "closed", G_CALLBACK (on_connection_closed_reason), &a_reason);
  WAIT_UNTIL ((inbound = punch_host_get_connection (f->b, punch_host_get_peer_id (f->a))) != NULL);
  g_signal_connect (inbound, "closed", G_CALLBACK (on_connection_closed_reason), &b_reason);

  /* More than the limit: the relay resets the circuit and both ends see it,
   * with the reason. */
  g_assert_false (echo_roundtrip (conn, 1024 * 1024, &error));
  g_assert_nonnull (error);
  WAIT_UNTIL (punch_connection_get_state (conn) == PUNCH_CONNECTION_STATE_CLOSED);
  WAIT_UNTIL (a_reason != NULL && b_reason != NULL);
  g_test_message ("dialer: %s; listener: %s", a_reason, b_reason);
  g_assert_nonnull (strstr (a_reason, "data limit of 65536 bytes"));
  g_assert_nonnull (strstr (b_reason, "data limit of 65536 bytes"));
  WAIT_UNTIL (reason != NULL);
  g_test_message ("circuit closed: %s", reason);
  g_assert_nonnull (strstr (reason, "data limit of 65536 bytes"));
  g_assert_cmpuint (punch_relay_service_get_n_circuits (f->service), ==, 0);
  g_signal_handlers_disconnect_by_data (f->service, &reason);
}

typedef struct
{
  guint   notifies;
  guint64 last;
} BudgetWatch;

static void
on_remaining_send (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  BudgetWatch *watch = user_data;

  watch->notifies++;
  watch->last = punch_connection_get_remaining_send (PUNCH_CONNECTION (object));
}

static void
on_remaining_receive (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  BudgetWatch *watch = user_data;

  watch->notifies++;
  watch->last = punch_connection_get_remaining_receive (PUNCH_CONNECTION (object));
}

static void
test_remaining_budget (Fixture *f, gconstpointer data)
{
  const guint64 limit = 64 * 1024;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) addr = NULL;
  g_autoptr (PunchConnection) conn = NULL;
  g_autoptr (PunchConnection) inbound = NULL;
  PunchConnection *found;
  BudgetWatch a_send = { 0, 0 }, b_receive = { 0, 0 };
  guint64 a_send0, a_receive0, b_receive0, value = 0;
  gboolean a_to_b_spent, b_to_a_spent;

  g_object_set (f->service, "limit-duration", 0, "limit-data", limit, NULL);
  punch_host_set_stream_handler (f->b, ECHO_PROTOCOL, echo_handler, NULL, NULL);
  punch_host_allow_on_limited (f->a, ECHO_PROTOCOL);
  punch_host_allow_on_limited (f->b, ECHO_PROTOCOL);
  reserve_b (f);
  addr = b_relayed_addr (f);
  conn = dial_through_relay (f, addr, &error);
  g_assert_no_error (error);
  WAIT_UNTIL ((found = punch_host_get_connection (f->b, punch_host_get_peer_id (f->a))) != NULL);
  /* The host lets go of it once it is closed; we look at it after that. */
  inbound = g_object_ref (found);

  /* Both ends know the relay's limit. */
  g_assert_cmpuint (punch_connection_get_limit_data (conn), ==, limit);
  g_assert_cmpuint (punch_connection_get_limit_data (inbound), ==, limit);
  g_assert_cmpuint (punch_connection_get_limit_duration (conn), ==, 0);
  g_assert_null (punch_connection_get_limit_ends_at (conn));
  g_assert_null (punch_connection_get_limit_ends_at (inbound));
  g_signal_connect (conn, "notify::remaining-send", G_CALLBACK (on_remaining_send), &a_send);
  g_signal_connect (inbound, "notify::remaining-receive", G_CALLBACK (on_remaining_receive), &b_receive);

  /* The handshakes spent some of it, far from all. */
  a_send0 = punch_connection_get_remaining_send (conn);
  a_receive0 = punch_connection_get_remaining_receive (conn);
  b_receive0 = punch_connection_get_remaining_receive (inbound);
  g_test_message ("after the handshakes: %" G_GUINT64_FORMAT " bytes left to send, %" G_GUINT64_FORMAT
                  " to receive", a_send0, a_receive0);
  g_assert_cmpuint (a_send0, <, limit);
  g_assert_cmpuint (a_send0, >, limit / 2);
  g_assert_cmpuint (a_receive0, <, limit);

  /* A small echo spends at least its own bytes each way. */
  g_assert_true (echo_roundtrip (conn, 4096, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (punch_connection_get_remaining_send (conn), <=, a_send0 - 4096);
  g_assert_cmpuint (punch_connection_get_remaining_receive (conn), <=, a_receive0 - 4096);
  g_assert_cmpuint (punch_connection_get_remaining_receive (inbound), <=, b_receive0 - 4096);
  /* Both ends count from where the relay starts: once quiet, what one end
   * sent is what the other received. */
  WAIT_UNTIL (punch_connection_get_remaining_send (conn) == punch_connection_get_remaining_receive (inbound)
              && punch_connection_get_remaining_receive (conn) == punch_connection_get_remaining_send (inbound));
  g_object_get (conn, "remaining-send", &value, NULL);
  g_assert_cmpuint (value, ==, punch_connection_get_remaining_send (conn));

  /* Past the limit: the relay resets the circuit, and the direction that
   * ran out has nothing left at both ends. */
  g_assert_false (echo_roundtrip (conn, 1024 * 1024, &error));
  g_assert_nonnull (error);
  WAIT_UNTIL (punch_connection_get_state (conn) == PUNCH_CONNECTION_STATE_CLOSED
              && punch_connection_get_state (inbound) == PUNCH_CONNECTION_STATE_CLOSED);
  a_to_b_spent = punch_connection_get_remaining_send (conn) == 0
                 && punch_connection_get_remaining_receive (inbound) == 0;
  b_to_a_spent = punch_connection_get_remaining_receive (conn) == 0
                 && punch_connection_get_remaining_send (inbound) == 0;
  g_test_message ("at the reset: dialer %" G_GUINT64_FORMAT " / %" G_GUINT64_FORMAT ", listener %"
                  G_GUINT64_FORMAT " / %" G_GUINT64_FORMAT " bytes left to send / receive",
                  punch_connection_get_remaining_send (conn), punch_connection_get_remaining_receive (conn),
                  punch_connection_get_remaining_send (inbound), punch_connection_get_remaining_receive (inbound));
  g_assert_true (a_to_b_spent || b_to_a_spent);

  /* The notifies told the story up to the end: the last one carries the
   * final value. */
  g_assert_cmpuint (a_send.notifies, >=, 1);
  g_assert_cmpuint (b_receive.notifies, >=, 1);
  g_assert_cmpuint (a_send.last, ==, punch_connection_get_remaining_send (conn));
  g_assert_cmpuint (b_receive.last, ==, punch_connection_get_remaining_receive (inbound));
  g_signal_handlers_disconnect_by_data (conn, &a_send);
  g_signal_handlers_disconnect_by_data (inbound, &b_receive);
}

static void
test_duration_limit (Fixture *f, gconstpointer data)
{
  g_autofree char *a_reason = NULL;
  g_autofree char *b_reason = NULL;
  g_autofree char *relay_reason = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) addr = NULL;
  g_autoptr (PunchConnection) conn = NULL;
  PunchConnection *inbound;

  g_object_set (f->service, "limit-duration", 2, "limit-data", (guint64) 0, NULL);
  g_signal_connect (f->service, "circuit", G_CALLBACK (on_circuit_event), &relay_reason);
  reserve_b (f);
  addr = b_relayed_addr (f);
  conn = dial_through_relay (f, addr, &error);
  g_assert_no_error (error);
  g_signal_connect (conn, "closed", G_CALLBACK (on_connection_closed_reason), &a_reason);
  WAIT_UNTIL ((inbound = punch_host_get_connection (f->b, punch_host_get_peer_id (f->a))) != NULL);
  g_signal_connect (inbound, "closed", G_CALLBACK (on_connection_closed_reason), &b_reason);

  /* The end of the circuit is known from the start: 2 s after the relay's
   * count began, which was before the connection was up. */
  g_assert_cmpuint (punch_connection_get_limit_duration (conn), ==, 2);
  g_assert_cmpuint (punch_connection_get_remaining_send (conn), ==, G_MAXUINT64);
  g_assert_cmpuint (punch_connection_get_remaining_receive (inbound), ==, G_MAXUINT64);
  g_assert_nonnull (punch_connection_get_limit_ends_at (conn));
  g_assert_nonnull (punch_connection_get_limit_ends_at (inbound));
  g_assert_cmpint (g_date_time_difference (punch_connection_get_limit_ends_at (conn),
                                           punch_connection_get_opened_at (conn)), <=, 2 * G_TIME_SPAN_SECOND);
  g_assert_cmpint (g_date_time_difference (punch_connection_get_limit_ends_at (conn),
                                           punch_connection_get_opened_at (conn)), >, 0);

  WAIT_UNTIL (a_reason != NULL && b_reason != NULL && relay_reason != NULL);
  g_test_message ("relay: %s; dialer: %s; listener: %s", relay_reason, a_reason, b_reason);
  g_assert_nonnull (strstr (relay_reason, "duration limit of 2 s"));
  g_assert_nonnull (strstr (a_reason, "duration limit of 2 s"));
  g_assert_nonnull (strstr (b_reason, "duration limit of 2 s"));
  g_signal_handlers_disconnect_by_data (f->service, &relay_reason);
}

static void
test_limited_refuses_app_streams (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) addr = NULL;
  g_autoptr (PunchConnection) conn = NULL;
  PunchConnection *inbound;

  punch_host_set_stream_handler (f->b, ECHO_PROTOCOL, echo_handler, NULL, NULL);
  reserve_b (f);
  addr = b_relayed_addr (f);
  conn = dial_through_relay (f, addr, &error);
  g_assert_no_error (error);
  g_assert_true (punch_connection_get_limited (conn));

  /* Our side refuses before anything goes on the wire… */
  g_assert_false (echo_roundtrip (conn, 16, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_LIMIT);
  g_assert_nonnull (strstr (error->message, ECHO_PROTOCOL));
  g_clear_error (&error);

  /* …and the other side answers "na" when only the opener opted in. */
  punch_host_allow_on_limited (f->a, ECHO_PROTOCOL);
  g_assert_false (echo_roundtrip (conn, 16, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_NEGOTIATION_FAILED);
  g_clear_error (&error);

  /* Identify and ping always run. */
  WAIT_UNTIL ((inbound = punch_host_get_connection (f->b, punch_host_get_peer_id (f->a))) != NULL);
  g_assert_true (punch_connection_get_limited (inbound));
}

/* The relay carries only ciphertext: a marker sent end to end through our
 * relay never shows in the bytes the relay forwards, with either security
 * protocol (the issue asks this of a real relay, not a stand-in). */
static gboolean
contains (GByteArray *haystack, const char *needle, gsize len)
{
  for (gsize i = 0; i + len <= haystack->len; i++)
    if (memcmp (haystack->data + i, needle, len) == 0)
      return TRUE;
  return FALSE;
}

static void
on_tap (PunchRelayCircuit *circuit, gboolean to_dst, const guint8 *data, gsize len, gpointer user_data)
{
  g_byte_array_append (user_data, data, len);
}

static void
on_circuit_tap (PunchRelayService *service, PunchRelayCircuit *circuit, const char *event,
                const char *reason, gpointer user_data)
{
  if (g_strcmp0 (event, "opened") == 0)
    punch_relay_circuit_set_tap (circuit, on_tap, user_data);
}

static void
test_relay_sees_ciphertext (Fixture *f, gconstpointer data)
{
  const char *security = data;
  const char *only[] = { security, NULL };
  static const char marker[] = "PUNCHLINE-PLAINTEXT-MARKER-0123456789";
  const char *protocols[] = { ECHO_PROTOCOL, NULL };
  g_autoptr (GByteArray) seen = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) addr = NULL;
  g_autoptr (PunchConnection) conn = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GIOStream) stream = NULL;
  char echo[sizeof marker] = { 0 };
  gsize got = 0;

  g_assert_true (punch_host_set_security_protocols (f->a, only, &error));
  g_assert_true (punch_host_set_security_protocols (f->b, only, &error));
  g_object_set (f->service, "limit-duration", 0, "limit-data", (guint64) 0, NULL);
  g_signal_connect (f->service, "circuit", G_CALLBACK (on_circuit_tap), seen);
  punch_host_set_stream_handler (f->b, ECHO_PROTOCOL, echo_handler, NULL, NULL);
  reserve_b (f);
  addr = b_relayed_addr (f);
  conn = dial_through_relay (f, addr, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (punch_connection_get_security (conn), ==, security);

  punch_connection_open_stream_async (conn, protocols, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  stream = punch_connection_open_stream_finish (conn, result, NULL, &error);
  g_assert_no_error (error);
  {
    g_autoptr (GAsyncResult) wres = NULL;

    g_output_stream_write_all_async (g_io_stream_get_output_stream (stream), marker, sizeof marker,
                                     G_PRIORITY_DEFAULT, NULL, host_test_store_result, &wres);
    WAIT_UNTIL (wres != NULL);
    g_assert_true (g_output_stream_write_all_finish (g_io_stream_get_output_stream (stream), wres, NULL, &error));
    g_assert_no_error (error);
  }
  while (got < sizeof marker)
    {
      g_autoptr (GAsyncResult) rres = NULL;
      gssize n;

      g_input_stream_read_async (g_io_stream_get_input_stream (stream), echo + got, sizeof marker - got,
                                 G_PRIORITY_DEFAULT, NULL, host_test_store_result, &rres);
      WAIT_UNTIL (rres != NULL);
      n = g_input_stream_read_finish (g_io_stream_get_input_stream (stream), rres, &error);
      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      got += (gsize) n;
    }
  g_assert_cmpmem (echo, sizeof marker, marker, sizeof marker);

  /* The relay forwarded the handshake — whose security negotiation it can
   * read, which shows the tap and the search work — and both copies of
   * the marker… */
  g_assert_cmpuint (seen->len, >, 2 * sizeof marker);
  g_assert_true (contains (seen, security, strlen (security)));
  /* …and never saw it in the clear. */
  g_assert_false (contains (seen, marker, sizeof marker - 1));
  g_signal_handlers_disconnect_by_data (f->service, seen);
}

static void
test_no_reservation (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) addr = NULL;
  g_autoptr (PunchConnection) conn = NULL;
  g_autofree char *text = NULL;
  g_autofree char *relay = punch_multiaddr_to_string (f->relay_addr);

  text = g_strdup_printf ("%s/p2p-circuit/p2p/%s", relay, punch_peer_id_to_string (punch_host_get_peer_id (f->b)));
  addr = punch_multiaddr_new_from_string (text, &error);
  g_assert_no_error (error);
  conn = dial_through_relay (f, addr, &error);
  g_assert_null (conn);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_RELAY);
  g_assert_nonnull (strstr (error->message, "NO_RESERVATION"));
}

static void
test_reservation_refused (Fixture *f, gconstpointer data)
{
  PunchRelayReservation *rsv;

  g_object_set (f->service, "max-reservations", 0, NULL);
  rsv = reserve_b (f);
  g_assert_cmpint (punch_relay_reservation_get_state (rsv), ==, PUNCH_RESERVATION_STATE_FAILED);
  g_assert_nonnull (strstr (punch_relay_reservation_get_reason (rsv), "RESERVATION_REFUSED"));
  g_assert_cmpuint (punch_relay_reservation_get_attempts (rsv), >=, 1);
}

static void
test_relay_restart (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PunchRelayReservation *rsv = reserve_b (f);
  g_autoptr (GPtrArray) addrs = punch_host_get_listen_addrs (f->relay);
  g_autoptr (PunchMultiaddr) listen = punch_multiaddr_ref (g_ptr_array_index (addrs, 0));
  g_autoptr (PunchPrivateKey) key = g_object_ref (punch_host_get_private_key (f->relay));
  gint64 back;

  g_assert_cmpint (punch_relay_reservation_get_state (rsv), ==, PUNCH_RESERVATION_STATE_RESERVED);

  /* The relay goes away … */
  g_clear_object (&f->service);
  punch_host_close (f->relay);
  g_clear_object (&f->relay);
  WAIT_UNTIL (!punch_relay_reservation_is_active (rsv));

  /* … and comes back on the same address with the same key. */
  f->relay = punch_host_new (key);
  g_assert_true (punch_host_listen (f->relay, listen, &error));
  g_assert_no_error (error);
  f->service = punch_relay_service_new (f->relay);
  back = g_get_monotonic_time ();
  WAIT_UNTIL_SECONDS (punch_relay_reservation_get_state (rsv) == PUNCH_RESERVATION_STATE_RESERVED, 10);
  g_assert_cmpint (g_get_monotonic_time () - back, <, 6 * G_USEC_PER_SEC);
}

/* ---- vouchers ---- */

static GBytes *
make_voucher (PunchPrivateKey *signer, PunchPeerId *relay, PunchPeerId *peer, guint64 expiration)
{
  Circuit__Pb__ReservationVoucher v = CIRCUIT__PB__RESERVATION_VOUCHER__INIT;
  g_autoptr (GBytes) payload = NULL;
  g_autoptr (GError) error = NULL;
  GBytes *voucher;
  gsize len;
  guint8 *buf;

  v.has_relay = TRUE;
  v.relay.data = (guint8 *) punch_peer_id_get_bytes (relay, &v.relay.len);
  v.has_peer = TRUE;
  v.peer.data = (guint8 *) punch_peer_id_get_bytes (peer, &v.peer.len);
  v.has_expiration = TRUE;
  v.expiration = expiration;
  len = circuit__pb__reservation_voucher__get_packed_size (&v);
  buf = g_malloc (len);
  circuit__pb__reservation_voucher__pack (&v, buf);
  payload = g_bytes_new_take (buf, len);
  voucher = punch_signed_envelope_seal (signer, PUNCH_ENVELOPE_DOMAIN_RELAY_RSVP,
                                        PUNCH_RELAY_VOUCHER_PAYLOAD_TYPE, 2, payload, &error);
  g_assert_no_error (error);
  return voucher;
}

static void
test_voucher (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) relay = punch_private_key_generate (NULL);
  g_autoptr (PunchPrivateKey) peer = punch_private_key_generate (NULL);
  g_autoptr (PunchPrivateKey) forger = punch_private_key_generate (NULL);
  PunchPeerId *relay_id = punch_private_key_get_peer_id (relay);
  PunchPeerId *peer_id = punch_private_key_get_peer_id (peer);
  g_autoptr (GBytes) good = make_voucher (relay, relay_id, peer_id, 1000);
  g_autoptr (GBytes) forged = make_voucher (forger, relay_id, peer_id, 1000);
  g_autoptr (GBytes) other_peer = make_voucher (relay, relay_id, relay_id, 1000);
  gsize len;
  const guint8 *data;

  data = g_bytes_get_data (good, &len);
  g_assert_true (punch_relay_verify_voucher (data, len, relay_id, peer_id, 1000, &error));
  g_assert_no_error (error);

  /* The reservation's expiry must match the voucher's. */
  g_assert_false (punch_relay_verify_voucher (data, len, relay_id, peer_id, 2000, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED);
  g_clear_error (&error);

  data = g_bytes_get_data (forged, &len);
  g_assert_false (punch_relay_verify_voucher (data, len, relay_id, peer_id, 1000, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_BAD_SIGNATURE);
  g_clear_error (&error);

  data = g_bytes_get_data (other_peer, &len);
  g_assert_false (punch_relay_verify_voucher (data, len, relay_id, peer_id, 1000, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED);
  g_clear_error (&error);

  /* A tampered byte breaks the signature. */
  {
    g_autofree guint8 *copy = g_memdup2 (g_bytes_get_data (good, &len), len);

    copy[len - 70] ^= 0x01;
    g_assert_false (punch_relay_verify_voucher (copy, len, relay_id, peer_id, 1000, &error));
    g_assert_nonnull (error);
    g_clear_error (&error);
  }

  g_assert_false (punch_relay_verify_voucher ((const guint8 *) "garbage", 7, relay_id, peer_id, 1000, &error));
  g_assert_nonnull (error);
}

static void
test_status_strings (void)
{
  g_autoptr (GError) error = NULL;

  punch_relay_set_status_error (&error, CIRCUIT__PB__STATUS__NO_RESERVATION, "dial");
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_RELAY);
  g_assert_nonnull (strstr (error->message, "NO_RESERVATION"));
  g_assert_nonnull (strstr (error->message, "no reservation"));
  g_assert_cmpstr (punch_relay_status_to_string (9999), ==, "UNUSED");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/core/relay/reservation", test_reservation);
  ADD ("/core/relay/refresh", test_refresh);
  ADD ("/core/relay/relayed-dial", test_relayed_dial);
  ADD ("/core/relay/data-limit", test_data_limit);
  ADD ("/core/relay/duration-limit", test_duration_limit);
  ADD ("/core/relay/remaining-budget", test_remaining_budget);
  ADD ("/core/relay/limited-refuses-app-streams", test_limited_refuses_app_streams);
  ADD ("/core/relay/no-reservation", test_no_reservation);
  g_test_add ("/core/relay/ciphertext-only/noise", Fixture, "/noise", fixture_setup, test_relay_sees_ciphertext,
              fixture_teardown);
  g_test_add ("/core/relay/ciphertext-only/tls", Fixture, "/tls/1.0.0", fixture_setup, test_relay_sees_ciphertext,
              fixture_teardown);
  ADD ("/core/relay/reservation-refused", test_reservation_refused);
  ADD ("/core/relay/relay-restart", test_relay_restart);
#undef ADD
  g_test_add_func ("/core/relay/voucher", test_voucher);
  g_test_add_func ("/core/relay/status-strings", test_status_strings);

  return g_test_run ();
}
