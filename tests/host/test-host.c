/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-host.h"

#include <string.h>

#include "host-test-util.h"
#include "punch-connection-private.h"
#include "punch-error.h"
#include "punch-host-private.h"
#include "punch-upgrader.h"
#include "punch-yamux-session.h"
#include "punch-yamux-stream.h"

#define ECHO_PROTOCOL "/punch-test/echo/1.0.0"

typedef struct
{
  PunchHost      *server;
  PunchHost      *client;
  /* The server's first listen address with /p2p/<server id>. */
  PunchMultiaddr *server_addr;
  PunchMultiaddr *server_addr_no_id;

  GPtrArray      *server_opened;
  GPtrArray      *client_opened;
  GPtrArray      *server_closed;
  GPtrArray      *client_closed;
  GPtrArray      *client_dial_failed;
  guint           server_listen_changed;
} Fixture;

static PunchHost *
new_host (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PunchPrivateKey) key = punch_private_key_generate (&error);

  g_assert_no_error (error);
  return punch_host_new (key);
}

static void
on_opened (PunchHost       *host,
           PunchConnection *connection,
           GPtrArray       *list)
{
  g_assert_true (PUNCH_IS_CONNECTION (connection));
  g_ptr_array_add (list, g_object_ref (connection));
}

static void
on_closed (PunchHost       *host,
           PunchConnection *connection,
           const GError    *error,
           GPtrArray       *list)
{
  g_assert_true (PUNCH_IS_CONNECTION (connection));
  g_assert_cmpint (punch_connection_get_state (connection), ==, PUNCH_CONNECTION_STATE_CLOSED);
  g_ptr_array_add (list, g_object_ref (connection));
}

static void
on_dial_failed (PunchHost      *host,
                PunchMultiaddr *addr,
                const GError   *error,
                GPtrArray      *list)
{
  g_assert_nonnull (addr);
  g_assert_nonnull (error);
  g_ptr_array_add (list, g_error_copy (error));
}

static void
on_listen_changed (PunchHost *host,
                   guint     *count)
{
  (*count)++;
}

static PunchMultiaddr *
listen_loopback (PunchHost *host)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PunchMultiaddr) any = punch_multiaddr_new_from_string ("/ip4/127.0.0.1/tcp/0", &error);
  g_autoptr(GPtrArray) addrs = NULL;

  g_assert_no_error (error);
  g_assert_true (punch_host_listen (host, any, &error));
  g_assert_no_error (error);

  addrs = punch_host_get_listen_addrs (host);
  g_assert_cmpuint (addrs->len, ==, 1);
  return punch_multiaddr_ref (g_ptr_array_index (addrs, 0));
}

static PunchMultiaddr *
with_id (PunchMultiaddr *addr,
         PunchPeerId    *peer_id)
{
  gsize len;
  const guint8 *bytes = punch_peer_id_get_bytes (peer_id, &len);

  return punch_multiaddr_with_peer_id (addr, bytes, len);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->server = new_host ();
  f->client = new_host ();
  f->server_opened = g_ptr_array_new_with_free_func (g_object_unref);
  f->client_opened = g_ptr_array_new_with_free_func (g_object_unref);
  f->server_closed = g_ptr_array_new_with_free_func (g_object_unref);
  f->client_closed = g_ptr_array_new_with_free_func (g_object_unref);
  f->client_dial_failed = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);

  g_signal_connect (f->server, "connection-opened", G_CALLBACK (on_opened), f->server_opened);
  g_signal_connect (f->client, "connection-opened", G_CALLBACK (on_opened), f->client_opened);
  g_signal_connect (f->server, "connection-closed", G_CALLBACK (on_closed), f->server_closed);
  g_signal_connect (f->client, "connection-closed", G_CALLBACK (on_closed), f->client_closed);
  g_signal_connect (f->client, "dial-failed", G_CALLBACK (on_dial_failed), f->client_dial_failed);
  g_signal_connect (f->server, "listen-addrs-changed", G_CALLBACK (on_listen_changed),
                    &f->server_listen_changed);

  f->server_addr_no_id = listen_loopback (f->server);
  f->server_addr = with_id (f->server_addr_no_id, punch_host_get_peer_id (f->server));
  g_assert_cmpuint (f->server_listen_changed, ==, 1);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  punch_host_close (f->client);
  punch_host_close (f->server);
  WAIT_UNTIL (g_list_model_get_n_items (punch_host_get_connections (f->client)) == 0
              && g_list_model_get_n_items (punch_host_get_connections (f->server)) == 0);
  /* Let the muxers finish closing their sockets. */
  host_test_spin (50);

  g_signal_handlers_disconnect_by_data (f->server, f->server_opened);
  g_signal_handlers_disconnect_by_data (f->client, f->client_opened);
  g_signal_handlers_disconnect_by_data (f->server, f->server_closed);
  g_signal_handlers_disconnect_by_data (f->client, f->client_closed);
  g_signal_handlers_disconnect_by_data (f->client, f->client_dial_failed);
  g_signal_handlers_disconnect_by_data (f->server, &f->server_listen_changed);

  g_clear_object (&f->server);
  g_clear_object (&f->client);
  host_test_spin (20);

  g_clear_pointer (&f->server_addr, punch_multiaddr_unref);
  g_clear_pointer (&f->server_addr_no_id, punch_multiaddr_unref);
  g_clear_pointer (&f->server_opened, g_ptr_array_unref);
  g_clear_pointer (&f->client_opened, g_ptr_array_unref);
  g_clear_pointer (&f->server_closed, g_ptr_array_unref);
  g_clear_pointer (&f->client_closed, g_ptr_array_unref);
  g_clear_pointer (&f->client_dial_failed, g_ptr_array_unref);
}

static PunchConnection *
dial (PunchHost       *host,
      PunchMultiaddr  *addr,
      GCancellable    *cancellable,
      GError         **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  punch_host_dial_async (host, addr, cancellable, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  return punch_host_dial_finish (host, result, error);
}

static PunchConnection *
connect_fixture (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PunchConnection) connection = dial (f->client, f->server_addr, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (connection);
  WAIT_UNTIL (f->server_opened->len == 1);
  return g_steal_pointer (&connection);
}

/* Echo protocol: every byte read goes back; EOF closes the stream. */

typedef struct
{
  GIOStream *stream;
  guint8     buf[65536];
} EchoServer;

static void echo_server_read (EchoServer *echo);

static void
echo_server_free (EchoServer *echo)
{
  g_clear_object (&echo->stream);
  g_free (echo);
}

static void
echo_server_closed (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
  echo_server_free (user_data);
}

static void
echo_server_written (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  EchoServer *echo = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      g_test_message ("echo server write: %s", error->message);
      echo_server_free (echo);
      return;
    }
  echo_server_read (echo);
}

static void
echo_server_got (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  EchoServer *echo = user_data;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      g_test_message ("echo server read: %s", error->message);
      echo_server_free (echo);
      return;
    }
  if (n == 0)
    {
      g_io_stream_close_async (echo->stream, G_PRIORITY_DEFAULT, NULL, echo_server_closed, echo);
      return;
    }
  g_output_stream_write_all_async (g_io_stream_get_output_stream (echo->stream), echo->buf, n,
                                   G_PRIORITY_DEFAULT, NULL, echo_server_written, echo);
}

static void
echo_server_read (EchoServer *echo)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (echo->stream), echo->buf,
                             sizeof echo->buf, G_PRIORITY_DEFAULT, NULL, echo_server_got, echo);
}

static void
echo_handler (PunchHost       *host,
              PunchConnection *connection,
              GIOStream       *stream,
              const char      *protocol,
              gpointer         user_data)
{
  EchoServer *echo = g_new0 (EchoServer, 1);
  guint *count = user_data;

  g_assert_cmpstr (protocol, ==, ECHO_PROTOCOL);
  g_assert_true (PUNCH_IS_YAMUX_STREAM (stream));
  (*count)++;
  echo->stream = g_object_ref (stream);
  echo_server_read (echo);
}

/* Tests */

static void
test_dial (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(PunchConnection) connection = connect_fixture (f);
  PunchConnection *server_side;
  PunchPeerInfo *info;
  PunchPeerId *client_id = punch_host_get_peer_id (f->client);
  PunchPeerId *server_id = punch_host_get_peer_id (f->server);

  g_assert_cmpuint (f->client_opened->len, ==, 1);
  g_assert_true (g_ptr_array_index (f->client_opened, 0) == connection);

  /* The client's view */
  g_assert_true (punch_peer_id_equal (punch_connection_get_peer_id (connection), server_id));
  g_assert_cmpint (punch_connection_get_direction (connection), ==, PUNCH_DIRECTION_OUTBOUND);
  g_assert_cmpstr (punch_connection_get_security (connection), ==, "/noise");
  g_assert_cmpstr (punch_connection_get_muxer (connection), ==, "/yamux/1.0.0");
  g_assert_cmpint (punch_connection_get_state (connection), ==, PUNCH_CONNECTION_STATE_OPEN);
  g_assert_false (punch_connection_get_relayed (connection));
  g_assert_false (punch_connection_get_limited (connection));
  g_assert_nonnull (punch_connection_get_opened_at (connection));
  g_assert_null (punch_connection_get_closed_at (connection));
  g_assert_cmpint (punch_connection_get_rtt (connection), ==, -1);
  g_assert_true (punch_multiaddr_equal (punch_connection_get_remote_addr (connection),
                                        f->server_addr_no_id));
  g_assert_true (punch_public_key_get_peer_id (punch_connection_get_remote_public_key (connection)) != NULL);
  g_assert_true (punch_peer_id_equal (punch_public_key_get_peer_id (punch_connection_get_remote_public_key (connection)),
                                      server_id));

  /* The server's view */
  server_side = g_ptr_array_index (f->server_opened, 0);
  g_assert_true (punch_peer_id_equal (punch_connection_get_peer_id (server_side), client_id));
  g_assert_cmpint (punch_connection_get_direction (server_side), ==, PUNCH_DIRECTION_INBOUND);
  g_assert_cmpstr (punch_connection_get_security (server_side), ==, "/noise");
  g_assert_cmpstr (punch_connection_get_muxer (server_side), ==, "/yamux/1.0.0");
  g_assert_true (punch_multiaddr_equal (punch_connection_get_local_addr (server_side),
                                        f->server_addr_no_id));
  g_assert_true (punch_multiaddr_equal (punch_connection_get_remote_addr (server_side),
                                        punch_connection_get_local_addr (connection)));

  /* Lists, lookups and peer stores */
  g_assert_cmpuint (g_list_model_get_n_items (punch_host_get_connections (f->client)), ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (punch_host_get_connections (f->server)), ==, 1);
  g_assert_true (punch_host_get_connection (f->client, server_id) == connection);
  g_assert_true (punch_host_get_connection (f->server, client_id) == server_side);
  g_assert_null (punch_host_get_connection (f->client, client_id));
  g_assert_cmpuint (punch_connection_get_id (connection), >, 0);

  info = punch_peer_store_lookup (punch_host_get_peer_store (f->client), server_id);
  g_assert_nonnull (info);
  g_assert_true (punch_public_key_equal (punch_peer_info_get_public_key (info),
                                         punch_connection_get_remote_public_key (connection)));
  g_assert_nonnull (punch_peer_info_get_last_seen (info));
  info = punch_peer_store_lookup (punch_host_get_peer_store (f->server), client_id);
  g_assert_nonnull (info);
  g_assert_nonnull (punch_peer_info_get_public_key (info));
}

static void
test_connection_ids (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PunchConnection) first = connect_fixture (f);
  g_autoptr(PunchConnection) second = dial (f->client, f->server_addr, NULL, &error);

  g_assert_no_error (error);
  WAIT_UNTIL (f->server_opened->len == 2);
  g_assert_cmpuint (punch_connection_get_id (first), !=, punch_connection_get_id (second));
  g_assert_cmpuint (punch_connection_get_id (g_ptr_array_index (f->server_opened, 0)), !=,
                    punch_connection_get_id (g_ptr_array_index (f->server_opened, 1)));
  g_assert_cmpuint (g_list_model_get_n_items (punch_host_get_connections (f->client)), ==, 2);
  /* One peer-store entry per peer, however many connections. */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (punch_host_get_peer_store (f->client))), ==, 1);
}

static void
test_dial_wrong_peer_id (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(PunchHost) other = new_host ();
  g_autoptr(PunchMultiaddr) wrong = with_id (f->server_addr_no_id, punch_host_get_peer_id (other));
  g_autoptr(PunchConnection) connection = NULL;
  g_autoptr(GError) error = NULL;

  connection = dial (f->client, wrong, NULL, &error);
  g_assert_null (connection);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PEER_ID_MISMATCH);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, punch_peer_id_to_string (punch_host_get_peer_id (other))));
  g_assert_nonnull (strstr (error->message, punch_peer_id_to_string (punch_host_get_peer_id (f->server))));
  g_assert_true (g_str_has_prefix (error->message, "dial /ip4/127.0.0.1/tcp/"));
  g_assert_cmpuint (f->client_dial_failed->len, ==, 1);

  /* Nothing stays open on either side. */
  host_test_spin (100);
  g_assert_cmpuint (g_list_model_get_n_items (punch_host_get_connections (f->client)), ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (punch_host_get_connections (f->server)), ==, 0);
  g_assert_cmpuint (f->client_opened->len, ==, 0);
  g_assert_cmpuint (f->server_opened->len, ==, 0);
}

static void
test_dial_without_peer_id (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PunchConnection) connection = dial (f->client, f->server_addr_no_id, NULL, &error);

  g_assert_no_error (error);
  g_assert_true (punch_peer_id_equal (punch_connection_get_peer_id (connection),
                                      punch_host_get_peer_id (f->server)));
}

static void
test_dial_refused (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) bind_addr = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(PunchMultiaddr) addr = NULL;
  g_autoptr(PunchConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *prefix = NULL;
  g_autofree char *lower = NULL;

  /* A port that was free a moment ago and has no listener now. */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, bind_addr, FALSE, &error));
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  addr = punch_multiaddr_new_from_socket_address (bound);
  g_socket_close (socket, NULL);

  connection = dial (f->client, addr, NULL, &error);
  g_assert_null (connection);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_test_message ("%s", error->message);
  text = punch_multiaddr_to_string (addr);
  prefix = g_strdup_printf ("dial %s: ", text);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  lower = g_ascii_strdown (error->message, -1);
  g_assert_nonnull (strstr (lower, "refused"));
  g_assert_cmpuint (f->client_dial_failed->len, ==, 1);
}

static void
test_dial_unsupported (Fixture       *f,
                       gconstpointer  data)
{
  static const char * const addrs[] = {
    "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq/p2p-circuit/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",
    "/ip4/127.0.0.1/udp/4001/quic-v1",
    "/ip4/127.0.0.1/tcp/4001/ws",
    "/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
  };

  for (guint i = 0; i < G_N_ELEMENTS (addrs); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PunchMultiaddr) addr = punch_multiaddr_new_from_string (addrs[i], &error);
      g_autoptr(PunchConnection) connection = NULL;

      g_assert_no_error (error);
      connection = dial (f->client, addr, NULL, &error);
      g_assert_null (connection);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
      g_test_message ("%s", error->message);
      g_assert_true (g_str_has_prefix (error->message, "dial /"));
      if (i == 0)
        g_assert_nonnull (strstr (error->message, "relay client"));
    }
}

static void
test_dial_self (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PunchConnection) connection = dial (f->server, f->server_addr, NULL, &error);

  g_assert_null (connection);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static void
test_dial_dns (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GSocketAddress) sockaddr = NULL;
  g_autoptr(PunchMultiaddr) addr = NULL;
  g_autoptr(PunchConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  guint16 port;

  sockaddr = punch_multiaddr_to_socket_address (f->server_addr_no_id, &error);
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sockaddr));

  /* /dns4 must not try ::1 (nothing listens there). */
  text = g_strdup_printf ("/dns4/localhost/tcp/%u/p2p/%s", port,
                          punch_peer_id_to_string (punch_host_get_peer_id (f->server)));
  addr = punch_multiaddr_new_from_string (text, &error);
  g_assert_no_error (error);

  connection = dial (f->client, addr, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (punch_peer_id_equal (punch_connection_get_peer_id (connection),
                                      punch_host_get_peer_id (f->server)));
  g_assert_true (punch_multiaddr_equal (punch_connection_get_remote_addr (connection),
                                        f->server_addr_no_id));
}

/* /dns resolves to every address; those that refuse are skipped. */
static void
test_dial_dns_any (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GSocketAddress) sockaddr = NULL;
  g_autoptr(PunchMultiaddr) addr = NULL;
  g_autoptr(PunchConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  sockaddr = punch_multiaddr_to_socket_address (f->server_addr_no_id, &error);
  g_assert_no_error (error);
  text = g_strdup_printf ("/dns/localhost/tcp/%u/p2p/%s",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sockaddr)),
                          punch_peer_id_to_string (punch_host_get_peer_id (f->server)));
  addr = punch_multiaddr_new_from_string (text, &error);
  g_assert_no_error (error);

  connection = dial (f->client, addr, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (punch_multiaddr_equal (punch_connection_get_remote_addr (connection),
                                        f->server_addr_no_id));
  g_assert_cmpuint (f->client_dial_failed->len, ==, 0);
}

static void
test_dial_dns_unknown (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(PunchMultiaddr) addr = NULL;
  g_autoptr(PunchConnection) connection = NULL;
  g_autoptr(GError) error = NULL;

  /* RFC 6761: .invalid never resolves. */
  addr = punch_multiaddr_new_from_string ("/dns4/punchline.invalid/tcp/4001", &error);
  g_assert_no_error (error);
  connection = dial (f->client, addr, NULL, &error);
  g_assert_null (connection);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, "dial /dns4/punchline.invalid/tcp/4001: "));
  g_assert_cmpuint (f->client_dial_failed->len, ==, 1);
}

static void
test_dial_cancel (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GSocketListener) silent = g_socket_listener_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(PunchMultiaddr) addr = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(PunchConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  guint16 port;
  gint64 start;

  /* Accepts the TCP connection (the kernel does) and never says a word. */
  port = g_socket_listener_add_any_inet_port (silent, NULL, &error);
  g_assert_no_error (error);
  text = g_strdup_printf ("/ip4/127.0.0.1/tcp/%u", port);
  addr = punch_multiaddr_new_from_string (text, &error);
  g_assert_no_error (error);

  punch_host_dial_async (f->client, addr, cancellable, host_test_store_result, &result);
  host_test_spin (200);
  g_assert_null (result);
  start = g_get_monotonic_time ();
  g_cancellable_cancel (cancellable);
  WAIT_UNTIL (result != NULL);
  /* Prompt, with slack for a loaded test machine. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);

  connection = punch_host_dial_finish (f->client, result, &error);
  g_assert_null (connection);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* A cancelled dial is not a failure to report. */
  g_assert_cmpuint (f->client_dial_failed->len, ==, 0);
  g_socket_listener_close (silent);
}

static void
test_dial_cancel_by_close (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GSocketListener) silent = g_socket_listener_new ();
  g_autoptr(PunchMultiaddr) addr = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(PunchConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  guint16 port;

  port = g_socket_listener_add_any_inet_port (silent, NULL, &error);
  g_assert_no_error (error);
  text = g_strdup_printf ("/ip4/127.0.0.1/tcp/%u", port);
  addr = punch_multiaddr_new_from_string (text, &error);
  g_assert_no_error (error);

  punch_host_dial_async (f->client, addr, NULL, host_test_store_result, &result);
  host_test_spin (100);
  punch_host_close (f->client);
  WAIT_UNTIL (result != NULL);
  connection = punch_host_dial_finish (f->client, result, &error);
  g_assert_null (connection);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_socket_listener_close (silent);
}

static void
test_dial_timeout (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GSocketListener) silent = g_socket_listener_new ();
  g_autoptr(PunchMultiaddr) addr = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(PunchConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  guint16 port;
  gint64 start = g_get_monotonic_time ();

  port = g_socket_listener_add_any_inet_port (silent, NULL, &error);
  g_assert_no_error (error);
  text = g_strdup_printf ("/ip4/127.0.0.1/tcp/%u", port);
  addr = punch_multiaddr_new_from_string (text, &error);
  g_assert_no_error (error);

  punch_host_dial_full_async (f->client, addr, PUNCH_DIAL_FLAGS_NONE, 300, NULL,
                              host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  connection = punch_host_dial_finish (f->client, result, &error);
  g_assert_null (connection);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "upgrade"));
  g_assert_cmpuint (f->client_dial_failed->len, ==, 1);
  g_socket_listener_close (silent);
}

/* Hole punch, DCUtR role A: the peer's SYN reached our listener, and the
 * accepted connection must take our DCUtR role (client), since the peer
 * upgrades as the server. */
static void
test_expected_inbound (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(PunchMultiaddr) client_listen = listen_loopback (f->client);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(PunchConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  PunchConnection *server_side;
  guint id;

  /* The client's dials leave from its listen port. */
  id = punch_host_expect_inbound (f->server, client_listen, punch_host_get_peer_id (f->client), TRUE);
  g_assert_cmpuint (id, >, 0);

  punch_host_dial_full_async (f->client, f->server_addr, PUNCH_DIAL_FLAGS_AS_SERVER, 5000, NULL,
                              host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  connection = punch_host_dial_finish (f->client, result, &error);
  g_assert_no_error (error);
  WAIT_UNTIL (f->server_opened->len == 1);
  server_side = g_ptr_array_index (f->server_opened, 0);

  g_assert_cmpint (punch_connection_get_direction (server_side), ==, PUNCH_DIRECTION_INBOUND);
  g_assert_true (punch_yamux_session_get_is_client (punch_connection_get_session (server_side)));
  g_assert_false (punch_yamux_session_get_is_client (punch_connection_get_session (connection)));
  g_assert_true (punch_multiaddr_equal (punch_connection_get_remote_addr (server_side), client_listen));

  /* Once the punch is over, inbound connections get the accept role again. */
  punch_host_unexpect_inbound (f->server, id);
  g_clear_object (&connection);
  connection = dial (f->client, f->server_addr, NULL, &error);
  g_assert_no_error (error);
  WAIT_UNTIL (f->server_opened->len == 2);
  g_assert_false (punch_yamux_session_get_is_client (
    punch_connection_get_session (g_ptr_array_index (f->server_opened, 1))));
}

/* DCUtR role B: we connect, the remote runs the client side of every layer. */

typedef struct
{
  PunchPrivateKey *key;
  PunchUpgrade    *upgrade;
  GError          *error;
} ReversePeer;

static void
reverse_upgraded (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  ReversePeer *peer = user_data;

  peer->upgrade = punch_upgrader_upgrade_finish (result, &peer->error);
  if (peer->upgrade == NULL)
    g_assert_nonnull (peer->error);
}

static void
reverse_accepted (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  ReversePeer *peer = user_data;
  g_autoptr(GSocketConnection) socket = NULL;

  socket = g_socket_listener_accept_finish (G_SOCKET_LISTENER (source), result, NULL, &peer->error);
  g_assert_no_error (peer->error);
  punch_upgrader_upgrade_async (G_IO_STREAM (socket), TRUE, peer->key, NULL, NULL, reverse_upgraded, peer);
}

static void
test_dial_as_server (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(PunchMultiaddr) addr = NULL;
  g_autoptr(PunchMultiaddr) addr_with_id = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(PunchConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  ReversePeer peer = { NULL, NULL, NULL };
  guint16 port;

  peer.key = punch_private_key_generate (&error);
  g_assert_no_error (error);
  port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  g_assert_no_error (error);
  text = g_strdup_printf ("/ip4/127.0.0.1/tcp/%u", port);
  addr = punch_multiaddr_new_from_string (text, &error);
  g_assert_no_error (error);
  addr_with_id = with_id (addr, punch_private_key_get_peer_id (peer.key));

  g_socket_listener_accept_async (listener, NULL, reverse_accepted, &peer);
  punch_host_dial_full_async (f->client, addr_with_id, PUNCH_DIAL_FLAGS_AS_SERVER, 5000, NULL,
                              host_test_store_result, &result);
  WAIT_UNTIL (result != NULL && (peer.upgrade != NULL || peer.error != NULL));

  connection = punch_host_dial_finish (f->client, result, &error);
  g_assert_no_error (error);
  g_assert_no_error (peer.error);
  g_assert_cmpint (punch_connection_get_direction (connection), ==, PUNCH_DIRECTION_OUTBOUND);
  g_assert_true (punch_peer_id_equal (punch_connection_get_peer_id (connection),
                                      punch_private_key_get_peer_id (peer.key)));
  /* We are the Yamux server (even stream IDs), the remote the client. */
  g_assert_false (punch_yamux_session_get_is_client (punch_connection_get_session (connection)));
  g_assert_true (punch_yamux_session_get_is_client (peer.upgrade->session));
  g_assert_true (punch_peer_id_equal (peer.upgrade->peer_id, punch_host_get_peer_id (f->client)));

  punch_connection_close (connection);
  WAIT_UNTIL (f->client_closed->len == 1);
  g_clear_pointer (&peer.upgrade, punch_upgrade_free);
  g_clear_object (&peer.key);
  g_socket_listener_close (listener);
}

static void
test_echo (Fixture       *f,
           gconstpointer  data)
{
  static const char * const protocols[] = { "/punch-test/missing/1.0.0", ECHO_PROTOCOL, NULL };
  static const char message[] = "hello, punchline";
  g_autoptr(PunchConnection) connection = connect_fixture (f);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *protocol = NULL;
  g_auto(GStrv) registered = NULL;
  guint served = 0;
  gsize n = 0;
  char buf[64] = { 0 };

  punch_host_set_stream_handler (f->server, ECHO_PROTOCOL, echo_handler, &served, NULL);
  registered = punch_host_get_protocols (f->server);
  g_assert_cmpuint (g_strv_length (registered), ==, 1);
  g_assert_cmpstr (registered[0], ==, ECHO_PROTOCOL);

  /* The first proposal is refused, the second accepted. */
  punch_connection_open_stream_async (connection, protocols, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  stream = punch_connection_open_stream_finish (connection, result, &protocol, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (protocol, ==, ECHO_PROTOCOL);
  g_clear_object (&result);

  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream), message, sizeof message,
                                   G_PRIORITY_DEFAULT, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  g_assert_true (g_output_stream_write_all_finish (g_io_stream_get_output_stream (stream), result, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&result);

  g_output_stream_close_async (g_io_stream_get_output_stream (stream), G_PRIORITY_DEFAULT, NULL,
                               host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  g_assert_true (g_output_stream_close_finish (g_io_stream_get_output_stream (stream), result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);

  g_input_stream_read_all_async (g_io_stream_get_input_stream (stream), buf, sizeof buf,
                                 G_PRIORITY_DEFAULT, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  g_assert_true (g_input_stream_read_all_finish (g_io_stream_get_input_stream (stream), result, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buf, n, message, sizeof message);
  g_assert_cmpuint (served, ==, 1);
}

static void
test_unknown_protocol (Fixture       *f,
                       gconstpointer  data)
{
  static const char * const protocols[] = { "/punch-test/nobody-speaks-this/1.0.0", NULL };
  g_autoptr(PunchConnection) connection = connect_fixture (f);
  PunchConnection *server_side = g_ptr_array_index (f->server_opened, 0);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  guint served = 0;

  punch_host_set_stream_handler (f->server, ECHO_PROTOCOL, echo_handler, &served, NULL);

  for (guint i = 0; i < 5; i++)
    {
      punch_connection_open_stream_async (connection, protocols, NULL, host_test_store_result, &result);
      WAIT_UNTIL (result != NULL);
      stream = punch_connection_open_stream_finish (connection, result, NULL, &error);
      g_assert_null (stream);
      g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_NEGOTIATION_FAILED);
      g_clear_error (&error);
      g_clear_object (&result);
    }

  /* Neither side keeps the refused streams. */
  WAIT_UNTIL (punch_yamux_session_get_n_streams (punch_connection_get_session (connection)) == 0
              && punch_yamux_session_get_n_streams (punch_connection_get_session (server_side)) == 0);
  g_assert_cmpuint (served, ==, 0);

  /* And the connection is still fine. */
  g_assert_cmpint (punch_connection_get_state (connection), ==, PUNCH_CONNECTION_STATE_OPEN);
  punch_host_remove_stream_handler (f->server, ECHO_PROTOCOL);
  {
    g_auto(GStrv) registered = punch_host_get_protocols (f->server);

    g_assert_cmpuint (g_strv_length (registered), ==, 0);
  }
}

/* A remote that opens a stream and never names a protocol loses it after
 * 10 s; the connection stays. */
static void
test_inbound_negotiation_timeout (Fixture       *f,
                                  gconstpointer  data)
{
  g_autoptr(PunchConnection) connection = connect_fixture (f);
  PunchConnection *server_side = g_ptr_array_index (f->server_opened, 0);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(PunchYamuxStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  guint served = 0;
  gint64 start;

  punch_host_set_stream_handler (f->server, ECHO_PROTOCOL, echo_handler, &served, NULL);
  punch_yamux_session_open_stream_async (punch_connection_get_session (connection), NULL,
                                         host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  stream = punch_yamux_session_open_stream_finish (punch_connection_get_session (connection), result, &error);
  g_assert_no_error (error);
  start = g_get_monotonic_time ();

  WAIT_UNTIL (punch_yamux_session_get_n_streams (punch_connection_get_session (server_side)) == 1);
  WAIT_UNTIL_SECONDS (punch_yamux_session_get_n_streams (punch_connection_get_session (server_side)) == 0, 15);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 9 * G_USEC_PER_SEC);
  g_assert_cmpuint (served, ==, 0);
  g_assert_cmpint (punch_connection_get_state (server_side), ==, PUNCH_CONNECTION_STATE_OPEN);
}

static void
test_open_stream_after_close (Fixture       *f,
                              gconstpointer  data)
{
  static const char * const protocols[] = { ECHO_PROTOCOL, NULL };
  g_autoptr(PunchConnection) connection = connect_fixture (f);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GError) error = NULL;

  punch_connection_close (connection);
  g_assert_cmpint (punch_connection_get_state (connection), !=, PUNCH_CONNECTION_STATE_OPEN);
  punch_connection_open_stream_async (connection, protocols, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  stream = punch_connection_open_stream_finish (connection, result, NULL, &error);
  g_assert_null (stream);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  WAIT_UNTIL (f->client_closed->len == 1 && f->server_closed->len == 1);
}

static void
on_state_notify (PunchConnection *connection,
                 GParamSpec      *pspec,
                 GArray          *states)
{
  PunchConnectionState state = punch_connection_get_state (connection);

  g_array_append_val (states, state);
}

static void
test_close_host (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(PunchConnection) connection = connect_fixture (f);
  PunchConnection *server_side = g_ptr_array_index (f->server_opened, 0);
  g_autoptr(GArray) server_states = g_array_new (FALSE, FALSE, sizeof (PunchConnectionState));
  g_autoptr(GPtrArray) addrs = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PunchConnection) again = NULL;

  g_signal_connect (server_side, "notify::state", G_CALLBACK (on_state_notify), server_states);

  punch_host_close (f->server);
  g_assert_cmpuint (f->server_listen_changed, ==, 2);
  addrs = punch_host_get_listen_addrs (f->server);
  g_assert_cmpuint (addrs->len, ==, 0);

  /* The remote notices. */
  WAIT_UNTIL (f->client_closed->len == 1 && f->server_closed->len == 1);
  g_assert_true (g_ptr_array_index (f->client_closed, 0) == connection);
  g_assert_cmpint (punch_connection_get_state (connection), ==, PUNCH_CONNECTION_STATE_CLOSED);
  g_assert_nonnull (punch_connection_get_closed_at (connection));
  g_assert_cmpuint (g_list_model_get_n_items (punch_host_get_connections (f->client)), ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (punch_host_get_connections (f->server)), ==, 0);
  g_assert_null (punch_host_get_connection (f->client, punch_host_get_peer_id (f->server)));

  /* OPEN → CLOSING → CLOSED on the side that closed. */
  g_assert_cmpuint (server_states->len, ==, 2);
  g_assert_cmpint (g_array_index (server_states, PunchConnectionState, 0), ==, PUNCH_CONNECTION_STATE_CLOSING);
  g_assert_cmpint (g_array_index (server_states, PunchConnectionState, 1), ==, PUNCH_CONNECTION_STATE_CLOSED);
  g_signal_handlers_disconnect_by_data (server_side, server_states);

  /* Nobody listens there any more. */
  again = dial (f->client, f->server_addr, NULL, &error);
  g_assert_null (again);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

/* Closing the host while it negotiates an inbound stream ends both. */
static void
test_close_during_negotiation (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(PunchConnection) connection = connect_fixture (f);
  PunchConnection *server_side = g_ptr_array_index (f->server_opened, 0);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(PunchYamuxStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  guint served = 0;

  punch_host_set_stream_handler (f->server, ECHO_PROTOCOL, echo_handler, &served, NULL);
  punch_yamux_session_open_stream_async (punch_connection_get_session (connection), NULL,
                                         host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  stream = punch_yamux_session_open_stream_finish (punch_connection_get_session (connection), result, &error);
  g_assert_no_error (error);
  WAIT_UNTIL (punch_yamux_session_get_n_streams (punch_connection_get_session (server_side)) == 1);

  punch_host_close (f->server);
  WAIT_UNTIL (f->server_closed->len == 1 && f->client_closed->len == 1);
  g_assert_cmpuint (served, ==, 0);
}

static void
test_close_connection (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(PunchConnection) connection = connect_fixture (f);
  PunchConnection *server_side = g_ptr_array_index (f->server_opened, 0);

  punch_connection_close (punch_host_get_connection (f->server, punch_host_get_peer_id (f->client)));
  WAIT_UNTIL (f->client_closed->len == 1 && f->server_closed->len == 1);
  g_assert_cmpint (punch_connection_get_state (server_side), ==, PUNCH_CONNECTION_STATE_CLOSED);
  g_assert_cmpint (punch_connection_get_state (connection), ==, PUNCH_CONNECTION_STATE_CLOSED);
}

static void
test_listen_wildcard (void)
{
  g_autoptr(PunchHost) host = new_host ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PunchMultiaddr) any = punch_multiaddr_new_from_string ("/ip4/0.0.0.0/tcp/0", &error);
  g_autoptr(PunchMultiaddr) dns = punch_multiaddr_new_from_string ("/dns4/localhost/tcp/0", &error);
  g_autoptr(GPtrArray) addrs = NULL;
  gboolean has_loopback = FALSE;
  guint changed = 0;

  g_assert_no_error (error);
  g_signal_connect (host, "listen-addrs-changed", G_CALLBACK (on_listen_changed), &changed);

  g_assert_false (punch_host_listen (host, dns, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_cmpuint (changed, ==, 0);

  g_assert_true (punch_host_listen (host, any, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (changed, ==, 1);

  addrs = punch_host_get_listen_addrs (host);
  g_assert_cmpuint (addrs->len, >=, 1);
  for (guint i = 0; i < addrs->len; i++)
    {
      g_autofree char *text = punch_multiaddr_to_string (g_ptr_array_index (addrs, i));

      g_test_message ("listen addr: %s", text);
      g_assert_true (g_str_has_prefix (text, "/ip4/"));
      g_assert_false (g_str_has_prefix (text, "/ip4/0.0.0.0/"));
      g_assert_false (g_str_has_suffix (text, "/tcp/0"));
      g_assert_false (punch_multiaddr_has_protocol (g_ptr_array_index (addrs, i), PUNCH_PROTO_P2P));
      if (g_str_has_prefix (text, "/ip4/127.0.0.1/tcp/"))
        has_loopback = TRUE;
    }
  g_assert_true (has_loopback);

  punch_host_close (host);
  g_assert_cmpuint (changed, ==, 2);
}

/* Silent sockets hold at most 64 upgrades; the others are hung up on at
 * once, and the host serves real peers again when the silent ones go. */

#define N_SILENT 70

typedef struct
{
  GSocketConnection *sockets[N_SILENT];
  guint              n_connected;
  guint              n_eof;
  guint8             buf[N_SILENT][64];
} Silent;

static void
silent_read_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Silent *silent = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  /* Our own close at the end cancels the reads that are still out. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED)
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  /* The multistream header the host may send first; read on to the end. */
  if (n > 0)
    {
      g_input_stream_read_async (G_INPUT_STREAM (source), silent->buf[0], sizeof silent->buf[0],
                                 G_PRIORITY_DEFAULT, NULL, silent_read_cb, silent);
      return;
    }
  silent->n_eof++;
}

static void
silent_connected (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Silent *silent = user_data;
  g_autoptr(GError) error = NULL;
  GSocketConnection *socket = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  guint i;

  g_assert_no_error (error);
  i = silent->n_connected++;
  silent->sockets[i] = socket;
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (socket)), silent->buf[i],
                             sizeof silent->buf[i], G_PRIORITY_DEFAULT, NULL, silent_read_cb, silent);
}

static void
test_inbound_flood (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PunchConnection) connection = NULL;
  Silent *silent = g_new0 (Silent, 1);

  address = punch_multiaddr_to_socket_address (f->server_addr_no_id, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < N_SILENT; i++)
    g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), NULL, silent_connected, silent);
  WAIT_UNTIL (silent->n_connected == N_SILENT);
  WAIT_UNTIL (silent->n_eof == N_SILENT - 64);
  host_test_spin (200);
  g_assert_cmpuint (silent->n_eof, ==, N_SILENT - 64);

  for (guint i = 0; i < N_SILENT; i++)
    g_io_stream_close (G_IO_STREAM (silent->sockets[i]), NULL, NULL);
  host_test_spin (100);

  connection = dial (f->client, f->server_addr, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (connection);

  for (guint i = 0; i < N_SILENT; i++)
    g_clear_object (&silent->sockets[i]);
  g_free (silent);
}

static void
test_ipv6 (void)
{
  g_autoptr(PunchHost) server = new_host ();
  g_autoptr(PunchHost) client = new_host ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PunchMultiaddr) loopback6 = punch_multiaddr_new_from_string ("/ip6/::1/tcp/0", &error);
  g_autoptr(GPtrArray) addrs = NULL;
  g_autoptr(PunchMultiaddr) addr = NULL;
  g_autoptr(PunchConnection) connection = NULL;
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  if (!punch_host_listen (server, loopback6, &error))
    {
      g_autofree char *reason = g_strdup_printf ("no IPv6 loopback here: %s", error->message);

      g_test_skip (reason);
      return;
    }

  addrs = punch_host_get_listen_addrs (server);
  g_assert_cmpuint (addrs->len, ==, 1);
  text = punch_multiaddr_to_string (g_ptr_array_index (addrs, 0));
  g_assert_true (g_str_has_prefix (text, "/ip6/::1/tcp/"));
  addr = with_id (g_ptr_array_index (addrs, 0), punch_host_get_peer_id (server));

  connection = dial (client, addr, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (punch_multiaddr_equal (punch_connection_get_remote_addr (connection),
                                        g_ptr_array_index (addrs, 0)));

  punch_host_close (client);
  punch_host_close (server);
  WAIT_UNTIL (g_list_model_get_n_items (punch_host_get_connections (client)) == 0
              && g_list_model_get_n_items (punch_host_get_connections (server)) == 0);
}

static void
test_peer_store_on_connect (Fixture       *f,
                            gconstpointer  data)
{
  GListModel *store = G_LIST_MODEL (punch_host_get_peer_store (f->server));
  g_autoptr(PunchConnection) connection = NULL;
  g_autoptr(PunchPeerInfo) info = NULL;

  g_assert_cmpuint (g_list_model_get_n_items (store), ==, 0);
  connection = connect_fixture (f);
  g_assert_cmpuint (g_list_model_get_n_items (store), ==, 1);
  info = g_list_model_get_item (store, 0);
  g_assert_true (punch_peer_id_equal (punch_peer_info_get_peer_id (info), punch_host_get_peer_id (f->client)));
  g_assert_nonnull (punch_peer_info_get_public_key (info));
}

/* 50 concurrent streams × 4 MiB, echoed and checked byte for byte. */

#define N_STREAMS   50
#define STREAM_SIZE (4 * 1024 * 1024)
#define CHUNK       (64 * 1024)

typedef struct
{
  guint      n_done;
  guint      n_failed;
  GString   *failures;
} EchoRun;

typedef struct
{
  EchoRun   *run;
  guint      index;
  guint64    seed;
  GIOStream *stream;
  gsize      sent;
  gsize      received;
  gboolean   write_done;
  gboolean   read_done;
  gboolean   failed;
  guint8     wbuf[CHUNK];
  guint8     rbuf[CHUNK];
} EchoClient;

static guint64
splitmix64 (guint64 x)
{
  x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return x ^ (x >> 31);
}

/* The stream's pseudo-random content at @offset, so that the checker needs
 * no copy of what was sent. */
static void
fill_expected (guint64  seed,
               gsize    offset,
               guint8  *buf,
               gsize    len)
{
  gsize i = 0;

  while (i < len)
    {
      gsize pos = offset + i;
      guint64 word = splitmix64 (seed ^ (pos / 8));

      if (pos % 8 == 0 && len - i >= 8)
        {
          /* Byte b of a word is bits 8b..8b+7: little-endian order. */
          guint64 le = GUINT64_TO_LE (word);

          memcpy (buf + i, &le, 8);
          i += 8;
          continue;
        }
      for (guint b = pos % 8; b < 8 && i < len; b++, i++)
        buf[i] = (guint8) (word >> (8 * b));
    }
}

static void
echo_client_finish (EchoClient   *client,
                    const char   *what,
                    const GError *error)
{
  if (what != NULL)
    {
      client->failed = TRUE;
      client->run->n_failed++;
      g_string_append_printf (client->run->failures, "stream %u: %s%s%s\n", client->index, what,
                              error != NULL ? ": " : "", error != NULL ? error->message : "");
    }
  if ((client->write_done && client->read_done) || what != NULL)
    {
      client->run->n_done++;
      /* A failed stream may still have an operation out; the stream object
       * outlives it through that operation's own reference. */
      g_clear_object (&client->stream);
    }
}

static void echo_client_write (EchoClient *client);
static void echo_client_read (EchoClient *client);

static void
echo_client_output_closed (GObject      *source,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  EchoClient *client = user_data;
  g_autoptr(GError) error = NULL;

  if (client->failed)
    return;
  if (!g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, &error))
    {
      echo_client_finish (client, "closing output", error);
      return;
    }
  client->write_done = TRUE;
  echo_client_finish (client, NULL, NULL);
}

static void
echo_client_written (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  EchoClient *client = user_data;
  g_autoptr(GError) error = NULL;
  gsize n = 0;

  if (client->failed)
    return;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &n, &error))
    {
      echo_client_finish (client, "write", error);
      return;
    }
  client->sent += n;
  echo_client_write (client);
}

static void
echo_client_write (EchoClient *client)
{
  GOutputStream *out = g_io_stream_get_output_stream (client->stream);
  gsize len = MIN (CHUNK, STREAM_SIZE - client->sent);

  if (len == 0)
    {
      g_output_stream_close_async (out, G_PRIORITY_DEFAULT, NULL, echo_client_output_closed, client);
      return;
    }
  fill_expected (client->seed, client->sent, client->wbuf, len);
  g_output_stream_write_all_async (out, client->wbuf, len, G_PRIORITY_DEFAULT, NULL,
                                   echo_client_written, client);
}

static void
echo_client_got (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  EchoClient *client = user_data;
  g_autoptr(GError) error = NULL;
  guint8 expected[CHUNK];
  gssize n;

  if (client->failed)
    return;
  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      echo_client_finish (client, "read", error);
      return;
    }
  if (n == 0)
    {
      if (client->received != STREAM_SIZE)
        {
          g_autofree char *what = g_strdup_printf ("EOF after %" G_GSIZE_FORMAT " bytes", client->received);

          echo_client_finish (client, what, NULL);
          return;
        }
      client->read_done = TRUE;
      echo_client_finish (client, NULL, NULL);
      return;
    }
  if (client->received + n > STREAM_SIZE)
    {
      echo_client_finish (client, "more bytes than sent", NULL);
      return;
    }
  fill_expected (client->seed, client->received, expected, n);
  if (memcmp (expected, client->rbuf, n) != 0)
    {
      g_autofree char *what = g_strdup_printf ("mismatch in %" G_GSSIZE_FORMAT " bytes at offset %" G_GSIZE_FORMAT,
                                               n, client->received);

      echo_client_finish (client, what, NULL);
      return;
    }
  client->received += n;
  echo_client_read (client);
}

static void
echo_client_read (EchoClient *client)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (client->stream), client->rbuf,
                             sizeof client->rbuf, G_PRIORITY_DEFAULT, NULL, echo_client_got, client);
}

static void
echo_client_opened (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  EchoClient *client = user_data;
  g_autoptr(GError) error = NULL;

  client->stream = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result, NULL, &error);
  if (client->stream == NULL)
    {
      echo_client_finish (client, "open", error);
      return;
    }
  /* Read while writing: the echo comes back before we are done sending,
   * and flow control would stall both sides otherwise. */
  echo_client_read (client);
  echo_client_write (client);
}

static void
test_echo_concurrent (Fixture       *f,
                      gconstpointer  data)
{
  static const char * const protocols[] = { ECHO_PROTOCOL, NULL };
  g_autoptr(PunchConnection) connection = connect_fixture (f);
  EchoRun run = { 0, 0, g_string_new (NULL) };
  EchoClient *clients = g_new0 (EchoClient, N_STREAMS);
  guint served = 0;
  gint64 start, elapsed;

  punch_host_set_stream_handler (f->server, ECHO_PROTOCOL, echo_handler, &served, NULL);

  start = g_get_monotonic_time ();
  for (guint i = 0; i < N_STREAMS; i++)
    {
      clients[i].run = &run;
      clients[i].index = i;
      clients[i].seed = splitmix64 (i + 1);
      punch_connection_open_stream_async (connection, protocols, NULL, echo_client_opened, &clients[i]);
    }

  WAIT_UNTIL_SECONDS (run.n_done == N_STREAMS, 100);
  elapsed = g_get_monotonic_time () - start;

  if (run.n_failed > 0)
    g_test_message ("%s", run.failures->str);
  g_assert_cmpuint (run.n_failed, ==, 0);
  g_assert_cmpuint (served, ==, N_STREAMS);
  for (guint i = 0; i < N_STREAMS; i++)
    {
      g_assert_cmpuint (clients[i].sent, ==, STREAM_SIZE);
      g_assert_cmpuint (clients[i].received, ==, STREAM_SIZE);
    }
  g_test_message ("%d streams x %d MiB echoed in %.2f s (%.1f MiB/s each way)",
                  N_STREAMS, STREAM_SIZE >> 20, elapsed / 1e6,
                  (double) N_STREAMS * (STREAM_SIZE >> 20) / (elapsed / 1e6));

  /* All streams end on both sides. */
  WAIT_UNTIL (punch_yamux_session_get_n_streams (punch_connection_get_session (connection)) == 0);

  g_free (clients);
  g_string_free (run.failures, TRUE);
}

/* Nothing outlives its use: hosts, connections and muxer sessions are
 * finalized once the hosts are closed (or just dropped) and unreferenced. */
static void
test_lifecycle (gconstpointer data)
{
  static const char * const echo[] = { ECHO_PROTOCOL, NULL };
  static const char * const unknown[] = { "/punch-test/unknown/1.0.0", NULL };
  gboolean close_first = GPOINTER_TO_INT (data);
  PunchHost *server = new_host ();
  PunchHost *client = new_host ();
  g_autoptr(GPtrArray) server_opened = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(PunchMultiaddr) listen_addr = listen_loopback (server);
  g_autoptr(PunchMultiaddr) addr = with_id (listen_addr, punch_host_get_peer_id (server));
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  PunchConnection *connection;
  PunchConnection *server_side;
  PunchYamuxSession *client_session;
  PunchYamuxSession *server_session;
  GIOStream *stream;
  guint served = 0;

  g_signal_connect (server, "connection-opened", G_CALLBACK (on_opened), server_opened);
  punch_host_set_stream_handler (server, ECHO_PROTOCOL, echo_handler, &served, NULL);

  connection = dial (client, addr, NULL, &error);
  g_assert_no_error (error);
  WAIT_UNTIL (server_opened->len == 1);
  server_side = g_ptr_array_steal_index (server_opened, 0);
  client_session = punch_connection_get_session (connection);
  server_session = punch_connection_get_session (server_side);
  g_object_add_weak_pointer (G_OBJECT (server), (gpointer *) &server);
  g_object_add_weak_pointer (G_OBJECT (client), (gpointer *) &client);
  g_object_add_weak_pointer (G_OBJECT (connection), (gpointer *) &connection);
  g_object_add_weak_pointer (G_OBJECT (server_side), (gpointer *) &server_side);
  g_object_add_weak_pointer (G_OBJECT (client_session), (gpointer *) &client_session);
  g_object_add_weak_pointer (G_OBJECT (server_session), (gpointer *) &server_session);

  /* One stream left open, one refused. */
  punch_connection_open_stream_async (connection, echo, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  stream = punch_connection_open_stream_finish (connection, result, NULL, &error);
  g_assert_no_error (error);
  g_object_add_weak_pointer (G_OBJECT (stream), (gpointer *) &stream);
  g_clear_object (&result);
  punch_connection_open_stream_async (connection, unknown, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  g_assert_null (punch_connection_open_stream_finish (connection, result, NULL, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_NEGOTIATION_FAILED);
  g_clear_error (&error);
  g_clear_object (&result);
  WAIT_UNTIL (served == 1);

  if (close_first)
    {
      punch_host_close (server);
      WAIT_UNTIL (punch_connection_get_state (connection) == PUNCH_CONNECTION_STATE_CLOSED);
    }

  /* The server goes away without a close: the client still hears of it. */
  g_object_unref (server_side);
  g_object_unref (server);
  WAIT_UNTIL (server == NULL && server_side == NULL && server_session == NULL);
  WAIT_UNTIL (g_list_model_get_n_items (punch_host_get_connections (client)) == 0);

  g_object_unref (stream);
  g_object_unref (connection);
  g_object_unref (client);
  WAIT_UNTIL (client == NULL && connection == NULL && client_session == NULL && stream == NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/core/host/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("dial", test_dial);
  ADD ("dial/without-peer-id", test_dial_without_peer_id);
  ADD ("dial/wrong-peer-id", test_dial_wrong_peer_id);
  ADD ("dial/refused", test_dial_refused);
  ADD ("dial/unsupported", test_dial_unsupported);
  ADD ("dial/self", test_dial_self);
  ADD ("dial/dns4", test_dial_dns);
  ADD ("dial/dns-any", test_dial_dns_any);
  ADD ("dial/dns-unknown", test_dial_dns_unknown);
  ADD ("dial/cancel", test_dial_cancel);
  ADD ("dial/cancel-by-close", test_dial_cancel_by_close);
  ADD ("dial/timeout", test_dial_timeout);
  ADD ("dial/as-server", test_dial_as_server);
  ADD ("dial/expected-inbound", test_expected_inbound);
  ADD ("connection-ids", test_connection_ids);
  ADD ("inbound-flood", test_inbound_flood);
  ADD ("peer-store", test_peer_store_on_connect);
  ADD ("echo", test_echo);
  ADD ("echo/50-streams-4MiB", test_echo_concurrent);
  ADD ("unknown-protocol", test_unknown_protocol);
  ADD ("inbound-negotiation-timeout", test_inbound_negotiation_timeout);
  ADD ("open-stream-after-close", test_open_stream_after_close);
  ADD ("close/host", test_close_host);
  ADD ("close/connection", test_close_connection);
  ADD ("close/during-negotiation", test_close_during_negotiation);
  g_test_add_func ("/core/host/listen/wildcard", test_listen_wildcard);
  g_test_add_func ("/core/host/ipv6", test_ipv6);
  g_test_add_data_func ("/core/host/lifecycle/close-then-drop", GINT_TO_POINTER (TRUE), test_lifecycle);
  g_test_add_data_func ("/core/host/lifecycle/drop", GINT_TO_POINTER (FALSE), test_lifecycle);

#undef ADD

  return g_test_run ();
}
