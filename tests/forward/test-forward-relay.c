/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Forwarding when the only connection is relayed: a limited relay makes
 * the opener wait for a direct connection (or give up), an unlimited one
 * carries the stream. */
#include <string.h>

#include "../host/host-test-util.h"
#include "punch-forward-listener.h"
#include "punch-forward-service.h"
#include "punch-relay-client.h"
#include "punch-relay-service.h"

typedef struct
{
  PunchHost           *relay;
  PunchRelayService   *service;
  PunchHost           *b;
  PunchRelayClient    *b_client;
  PunchForwardService *b_fwd;
  PunchHost           *a;
  PunchRelayClient    *a_client;
  PunchForwardService *a_fwd;
  GSocketService      *target;
  guint                target_accepted;
} Fixture;

static PunchMultiaddr *
full_addr (PunchHost *host)
{
  g_autoptr (GPtrArray) addrs = punch_host_get_listen_addrs (host);
  gsize len;
  const guint8 *id = punch_peer_id_get_bytes (punch_host_get_peer_id (host), &len);

  return punch_multiaddr_with_peer_id (g_ptr_array_index (addrs, 0), id, len);
}

/* The target answers "hi" and closes. */
static gboolean
on_target_incoming (GSocketService    *service,
                    GSocketConnection *conn,
                    GObject           *source,
                    gpointer           user_data)
{
  Fixture *f = user_data;

  f->target_accepted++;
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), "hi", 2, NULL, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  return TRUE;
}

static void
fixture_setup (Fixture      *f,
               gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (GSocketAddress) effective = NULL;
  g_autofree char *target = NULL;
  g_autoptr (PunchMultiaddr) relay_addr = NULL;
  PunchRelayReservation *rsv;

  f->relay = host_test_new_listening ();
  f->service = punch_relay_service_new (f->relay);
  if (GPOINTER_TO_INT (data))
    g_object_set (f->service, "limit-duration", 0, "limit-data", (guint64) 0, NULL);
  f->b = host_test_new_listening ();
  f->b_client = punch_relay_client_new (f->b);
  f->a = host_test_new_listening ();
  f->a_client = punch_relay_client_new (f->a);

  f->target = g_socket_service_new ();
  g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (f->target), addr, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error));
  g_signal_connect (f->target, "incoming", G_CALLBACK (on_target_incoming), f);
  target = g_strdup_printf ("127.0.0.1:%u", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective)));

  f->b_fwd = punch_forward_service_new (f->b);
  g_assert_true (punch_forward_service_expose (f->b_fwd, "svc", target, &error));
  g_assert_true (punch_forward_service_allow (f->b_fwd, "svc", punch_host_get_peer_id (f->a), &error));
  g_assert_no_error (error);
  f->a_fwd = punch_forward_service_new (f->a);
  punch_forward_service_set_direct_timeout (f->a_fwd, 1000);

  relay_addr = full_addr (f->relay);
  rsv = punch_relay_client_add_relay (f->b_client, relay_addr, &error);
  g_assert_no_error (error);
  WAIT_UNTIL (punch_relay_reservation_get_state (rsv) == PUNCH_RESERVATION_STATE_RESERVED);
}

static void
fixture_teardown (Fixture      *f,
                  gconstpointer data)
{
  g_socket_service_stop (f->target);
  g_socket_listener_close (G_SOCKET_LISTENER (f->target));
  g_signal_handlers_disconnect_by_data (f->target, f);
  g_clear_object (&f->target);
  g_clear_object (&f->a_fwd);
  g_clear_object (&f->b_fwd);
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
}

static PunchConnection *
dial (Fixture        *f,
      PunchMultiaddr *addr)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  PunchConnection *conn;

  punch_host_dial_async (f->a, addr, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  conn = punch_host_dial_finish (f->a, result, &error);
  g_assert_no_error (error);
  return conn;
}

static PunchConnection *
dial_relayed (Fixture *f)
{
  g_autoptr (GPtrArray) addrs = punch_relay_client_get_relayed_addrs (f->b_client);

  g_assert_cmpuint (addrs->len, ==, 1);
  return dial (f, g_ptr_array_index (addrs, 0));
}

typedef struct
{
  GAsyncResult      *result;
  GSocketConnection *remote;   /* the test's end of the local connection */
} Forward;

/* A local TCP connection pair, one end handed to forward_async. */
static void
start_forward (Fixture *f,
               Forward *fw)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GAsyncResult) accepted = NULL;
  g_autoptr (GSocketConnection) local = NULL;

  g_assert_true (g_socket_listener_add_address (listener, any, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                                NULL, &bound, &error));
  g_socket_listener_accept_async (listener, NULL, host_test_store_result, &accepted);
  fw->remote = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (bound), NULL, &error);
  g_assert_no_error (error);
  WAIT_UNTIL (accepted != NULL);
  local = g_socket_listener_accept_finish (listener, accepted, NULL, &error);
  g_assert_no_error (error);
  punch_forward_service_forward_async (f->a_fwd, punch_host_get_peer_id (f->b), "svc", local, NULL,
                                       host_test_store_result, &fw->result);
}

/* Reads to EOF without blocking the main loop: "hi" from the target. */
static void
expect_hi (Forward *fw)
{
  char buf[8];
  gsize n = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;

  g_input_stream_read_all_async (g_io_stream_get_input_stream (G_IO_STREAM (fw->remote)), buf, sizeof buf,
                                 G_PRIORITY_DEFAULT, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  g_assert_true (g_input_stream_read_all_finish (g_io_stream_get_input_stream (G_IO_STREAM (fw->remote)),
                                                 result, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buf, n, "hi", 2);
}

static void
test_limited_gives_up (Fixture      *f,
                       gconstpointer data)
{
  g_autoptr (PunchConnection) conn = dial_relayed (f);
  g_autoptr (GError) error = NULL;
  Forward fw = { 0, };
  gint64 start = g_get_monotonic_time ();

  g_assert_true (punch_connection_get_limited (conn));
  start_forward (f, &fw);
  WAIT_UNTIL (fw.result != NULL);
  g_assert_false (punch_forward_service_forward_finish (f->a_fwd, fw.result, NULL, NULL, &error));
  g_assert_error (error, PUNCH_FORWARD_ERROR, PUNCH_FORWARD_STATUS_NO_DIRECT_PATH);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 900 * 1000);
  g_assert_cmpuint (f->target_accepted, ==, 0);
  g_object_unref (fw.result);
  g_object_unref (fw.remote);
}

static void
test_limited_waits_for_direct (Fixture      *f,
                               gconstpointer data)
{
  g_autoptr (PunchConnection) conn = dial_relayed (f);
  g_autoptr (PunchConnection) direct = NULL;
  g_autoptr (PunchMultiaddr) b_addr = full_addr (f->b);
  g_autoptr (GError) error = NULL;
  Forward fw = { 0, };

  g_assert_true (punch_connection_get_limited (conn));
  punch_forward_service_set_direct_timeout (f->a_fwd, 10000);
  start_forward (f, &fw);
  host_test_spin (100);
  g_assert_null (fw.result);
  g_assert_cmpuint (f->target_accepted, ==, 0);
  /* The direct path comes up (as DCUtR would bring it): the forward uses it. */
  direct = dial (f, b_addr);
  g_assert_false (punch_connection_get_relayed (direct));
  expect_hi (&fw);
  /* Our half-close ends the forward (the target already closed its side). */
  g_io_stream_close (G_IO_STREAM (fw.remote), NULL, NULL);
  WAIT_UNTIL (fw.result != NULL);
  g_assert_true (punch_forward_service_forward_finish (f->a_fwd, fw.result, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->target_accepted, ==, 1);
  g_object_unref (fw.result);
  g_object_unref (fw.remote);
}

static void
test_unlimited_relay (Fixture      *f,
                      gconstpointer data)
{
  g_autoptr (PunchConnection) conn = dial_relayed (f);
  g_autoptr (GError) error = NULL;
  Forward fw = { 0, };

  g_assert_true (punch_connection_get_relayed (conn));
  if (punch_connection_get_limited (conn))
    {
      g_test_skip ("the relay client marks every relayed connection limited");
      return;
    }
  start_forward (f, &fw);
  expect_hi (&fw);
  /* Our half-close ends the forward (the target already closed its side). */
  g_io_stream_close (G_IO_STREAM (fw.remote), NULL, NULL);
  WAIT_UNTIL (fw.result != NULL);
  g_assert_true (punch_forward_service_forward_finish (f->a_fwd, fw.result, NULL, NULL, &error));
  g_assert_no_error (error);
  g_object_unref (fw.result);
  g_object_unref (fw.remote);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/core/forward-relay/limited-gives-up", Fixture, GINT_TO_POINTER (FALSE),
              fixture_setup, test_limited_gives_up, fixture_teardown);
  g_test_add ("/core/forward-relay/limited-waits-for-direct", Fixture, GINT_TO_POINTER (FALSE),
              fixture_setup, test_limited_waits_for_direct, fixture_teardown);
  g_test_add ("/core/forward-relay/unlimited-relay", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_unlimited_relay, fixture_teardown);
  return g_test_run ();
}
