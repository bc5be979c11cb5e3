/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-tcp-transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "punch-multistream.h"
#include "test-util.h"

typedef struct
{
  PunchTcpTransport *transport;
  GPtrArray         *incoming;   /* GSocketConnection */
  GInetSocketAddress *address;   /* the first listener's */
} Peer;

static void
on_incoming (PunchTcpTransport *transport, GSocketConnection *connection, gpointer user_data)
{
  Peer *peer = user_data;

  g_ptr_array_add (peer->incoming, g_object_ref (connection));
}

static void
peer_init (Peer *peer)
{
  peer->transport = punch_tcp_transport_new ();
  peer->incoming = g_ptr_array_new_with_free_func (g_object_unref);
  peer->address = NULL;
  g_signal_connect (peer->transport, "incoming", G_CALLBACK (on_incoming), peer);
}

/* Listens on @ip port 0; FALSE (with @error set) if the host cannot. */
static gboolean
peer_listen (Peer *peer, const char *ip, GError **error)
{
  g_autoptr (GInetAddress) addr = g_inet_address_new_from_string (ip);
  g_autoptr (GSocketAddress) want = g_inet_socket_address_new (addr, 0);
  GInetSocketAddress *bound;

  bound = punch_tcp_transport_listen (peer->transport, G_INET_SOCKET_ADDRESS (want), error);
  if (bound == NULL)
    return FALSE;
  g_assert_cmpuint (g_inet_socket_address_get_port (bound), !=, 0);
  if (peer->address == NULL)
    peer->address = bound;
  else
    g_object_unref (bound);
  return TRUE;
}

static void
peer_clear (Peer *peer)
{
  g_clear_object (&peer->transport);
  g_clear_pointer (&peer->incoming, g_ptr_array_unref);
  g_clear_object (&peer->address);
}

static guint16
port_of (GSocketAddress *address)
{
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
}

static guint16
local_port (GSocketConnection *connection)
{
  g_autoptr (GSocketAddress) addr = g_socket_connection_get_local_address (connection, NULL);

  g_assert_nonnull (addr);
  return port_of (addr);
}

static guint16
remote_port (GSocketConnection *connection)
{
  g_autoptr (GSocketAddress) addr = g_socket_connection_get_remote_address (connection, NULL);

  g_assert_nonnull (addr);
  return port_of (addr);
}

static GSocketConnection *
dial (PunchTcpTransport *transport, GInetSocketAddress *remote, guint timeout_ms,
      GCancellable *cancellable, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  punch_tcp_transport_dial_async (transport, remote, timeout_ms, cancellable,
                                  test_store_result, &result);
  test_await_result (&result);
  return punch_tcp_transport_dial_finish (transport, result, error);
}

/* Runs the main loop until @peer has accepted @count connections. */
static void
await_incoming (Peer *peer, guint count)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add_seconds (TEST_DEADLINE_S, test_on_deadline, &expired);

  while (peer->incoming->len < count && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  if (peer->incoming->len < count)
    g_error ("timed out waiting for incoming connection %u", count);
}

static void
assert_option (GSocketConnection *connection, int level, int name, const char *what)
{
  g_autoptr (GError) error = NULL;
  int value = 0;

  g_assert_true (g_socket_get_option (g_socket_connection_get_socket (connection),
                                      level, name, &value, &error));
  g_assert_no_error (error);
  if (value == 0)
    g_error ("%s is not set", what);
}

static void
assert_options (GSocketConnection *connection)
{
  assert_option (connection, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY");
  assert_option (connection, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT");
  assert_option (connection, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR");
}

/* Bytes written on one end arrive on the other. */
static void
assert_connected (GSocketConnection *from, GSocketConnection *to)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (to));
  char buf[4];
  gsize n = 0;

  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (from)),
                                            "ping", 4, NULL, NULL, &error));
  g_assert_no_error (error);
  g_input_stream_read_all_async (in, buf, 4, G_PRIORITY_DEFAULT, NULL, test_store_result, &result);
  test_await_result (&result);
  g_assert_true (g_input_stream_read_all_finish (in, result, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buf, n, "ping", 4);
}

/* The same TCP connection seen from both ends. */
static gboolean
mirrored (GSocketConnection *a, GSocketConnection *b)
{
  g_autoptr (GSocketAddress) al = g_socket_connection_get_local_address (a, NULL);
  g_autoptr (GSocketAddress) ar = g_socket_connection_get_remote_address (a, NULL);
  g_autoptr (GSocketAddress) bl = g_socket_connection_get_local_address (b, NULL);
  g_autoptr (GSocketAddress) br = g_socket_connection_get_remote_address (b, NULL);
  GInetSocketAddress *ial, *iar, *ibl, *ibr;

  if (al == NULL || ar == NULL || bl == NULL || br == NULL)
    return FALSE;
  ial = G_INET_SOCKET_ADDRESS (al);
  iar = G_INET_SOCKET_ADDRESS (ar);
  ibl = G_INET_SOCKET_ADDRESS (bl);
  ibr = G_INET_SOCKET_ADDRESS (br);
  return g_inet_socket_address_get_port (ial) == g_inet_socket_address_get_port (ibr) &&
         g_inet_socket_address_get_port (iar) == g_inet_socket_address_get_port (ibl) &&
         g_inet_address_equal (g_inet_socket_address_get_address (ial),
                               g_inet_socket_address_get_address (ibr)) &&
         g_inet_address_equal (g_inet_socket_address_get_address (iar),
                               g_inet_socket_address_get_address (ibl));
}

/* ------------------------------------------------------------------------ */

static void
test_dial (gconstpointer data)
{
  const char *ip = data;
  Peer a, b;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) conn = NULL;
  GSocketConnection *accepted;

  peer_init (&a);
  peer_init (&b);
  if (!peer_listen (&a, ip, &error))
    {
      g_autofree char *reason = g_strdup_printf ("cannot listen on %s: %s", ip, error->message);
      g_test_skip (reason);
      peer_clear (&a);
      peer_clear (&b);
      return;
    }
  g_assert_true (peer_listen (&b, ip, &error));
  g_assert_no_error (error);

  conn = dial (a.transport, b.address, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (conn);
  await_incoming (&b, 1);
  accepted = g_ptr_array_index (b.incoming, 0);

  /* The dial left from A's listen port. */
  g_assert_cmpuint (local_port (conn), ==, g_inet_socket_address_get_port (a.address));
  g_assert_cmpuint (remote_port (accepted), ==, g_inet_socket_address_get_port (a.address));
  g_assert_cmpuint (remote_port (conn), ==, g_inet_socket_address_get_port (b.address));
  g_assert_true (mirrored (conn, accepted));
  g_assert_cmpuint (a.incoming->len, ==, 0);

  assert_options (conn);
  assert_options (accepted);
  assert_connected (conn, accepted);
  assert_connected (accepted, conn);

  peer_clear (&a);
  peer_clear (&b);
}

static void
test_reuse_port_off (void)
{
  Peer a, b;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) conn = NULL;
  gboolean reuse = TRUE;

  peer_init (&a);
  peer_init (&b);
  g_assert_true (peer_listen (&a, "127.0.0.1", &error));
  g_assert_true (peer_listen (&b, "127.0.0.1", &error));
  punch_tcp_transport_set_reuse_port (a.transport, FALSE);
  g_object_get (a.transport, "reuse-port", &reuse, NULL);
  g_assert_false (reuse);

  conn = dial (a.transport, b.address, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (local_port (conn), !=, g_inet_socket_address_get_port (a.address));
  await_incoming (&b, 1);
  assert_options (conn);

  peer_clear (&a);
  peer_clear (&b);
}

/* A second dial to the same remote cannot reuse the 4-tuple; it falls back
 * to an ephemeral port instead of failing. */
static void
test_redial_fallback (void)
{
  Peer a, b;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) first = NULL;
  g_autoptr (GSocketConnection) second = NULL;

  peer_init (&a);
  peer_init (&b);
  g_assert_true (peer_listen (&a, "127.0.0.1", &error));
  g_assert_true (peer_listen (&b, "127.0.0.1", &error));

  first = dial (a.transport, b.address, 0, NULL, &error);
  g_assert_no_error (error);
  second = dial (a.transport, b.address, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (local_port (first), ==, g_inet_socket_address_get_port (a.address));
  g_assert_cmpuint (local_port (second), !=, g_inet_socket_address_get_port (a.address));
  await_incoming (&b, 2);
  assert_connected (second, g_ptr_array_index (b.incoming, 1));

  peer_clear (&a);
  peer_clear (&b);
}

static void
test_refused (void)
{
  g_autoptr (PunchTcpTransport) transport = punch_tcp_transport_new ();
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocket) holder = NULL;
  g_autoptr (GSocketAddress) closed = NULL;
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *expected = NULL;

  /* Bound but not listening: the port stays ours and every SYN is reset. */
  holder = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (holder, any_port, FALSE, &error));
  closed = g_socket_get_local_address (holder, &error);
  g_assert_no_error (error);

  conn = dial (transport, G_INET_SOCKET_ADDRESS (closed), 0, NULL, &error);
  g_assert_null (conn);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  expected = g_strdup_printf ("connection to 127.0.0.1:%u refused", port_of (closed));
  g_assert_cmpstr (error->message, ==, expected);
}

/* A loopback listener that accepts nothing: once its accept queue is full,
 * Linux drops further SYNs and a connect stays pending. */
typedef struct
{
  GSocket   *listener;
  GSocketAddress *address;
  GPtrArray *fillers;
} Stall;

static gboolean
stall_init (Stall *stall, PunchTcpTransport *transport)
{
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (lo, 0);
  g_autoptr (GError) error = NULL;

  stall->fillers = g_ptr_array_new_with_free_func (g_object_unref);
  stall->listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                  G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_set_listen_backlog (stall->listener, 0);
  g_assert_true (g_socket_bind (stall->listener, any_port, FALSE, &error));
  g_assert_true (g_socket_listen (stall->listener, &error));
  stall->address = g_socket_get_local_address (stall->listener, &error);
  g_assert_no_error (error);

  for (int i = 0; i < 16; i++)
    {
      g_autoptr (GSocketConnection) conn = NULL;

      conn = dial (transport, G_INET_SOCKET_ADDRESS (stall->address), 200, NULL, &error);
      if (conn == NULL)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
          return TRUE;
        }
      g_ptr_array_add (stall->fillers, g_steal_pointer (&conn));
    }
  return FALSE;
}

static void
stall_clear (Stall *stall)
{
  g_clear_pointer (&stall->fillers, g_ptr_array_unref);
  g_clear_object (&stall->address);
  g_clear_object (&stall->listener);
}

static void
test_timeout (void)
{
  g_autoptr (PunchTcpTransport) transport = punch_tcp_transport_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *expected = NULL;
  Stall stall;
  gint64 start;

  if (!stall_init (&stall, transport))
    {
      g_test_skip ("loopback accepted every connection; cannot make a connect pend");
      stall_clear (&stall);
      return;
    }

  start = g_get_monotonic_time ();
  conn = dial (transport, G_INET_SOCKET_ADDRESS (stall.address), 250, NULL, &error);
  g_assert_null (conn);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 240 * 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  expected = g_strdup_printf ("timed out after 250 ms connecting to 127.0.0.1:%u",
                              port_of (stall.address));
  g_assert_cmpstr (error->message, ==, expected);

  /* Whole seconds read as seconds. */
  g_clear_error (&error);
  g_clear_pointer (&expected, g_free);
  conn = dial (transport, G_INET_SOCKET_ADDRESS (stall.address), 1000, NULL, &error);
  g_assert_null (conn);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  expected = g_strdup_printf ("timed out after 1 s connecting to 127.0.0.1:%u",
                              port_of (stall.address));
  g_assert_cmpstr (error->message, ==, expected);

  stall_clear (&stall);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (void)
{
  g_autoptr (PunchTcpTransport) transport = punch_tcp_transport_new ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GCancellable) precancelled = g_cancellable_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GError) error = NULL;
  Stall stall;
  gint64 start;

  /* Cancelled before it starts: no socket is even made. */
  g_cancellable_cancel (precancelled);
  {
    g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (lo, 9);

    conn = dial (transport, G_INET_SOCKET_ADDRESS (addr), 0, precancelled, &error);
    g_assert_null (conn);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&error);
  }

  if (!stall_init (&stall, transport))
    {
      g_test_skip ("loopback accepted every connection; cannot make a connect pend");
      stall_clear (&stall);
      return;
    }

  start = g_get_monotonic_time ();
  g_timeout_add (50, cancel_cb, cancellable);
  conn = dial (transport, G_INET_SOCKET_ADDRESS (stall.address), 5000, cancellable, &error);
  g_assert_null (conn);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);

  stall_clear (&stall);
}

/* Two peers dial each other's listen port from their own listen port at the
 * same moment, as a DCUtR hole punch does. Over loopback the kernel may make
 * one connection by simultaneous open, or one dial wins and the other falls
 * back to an ephemeral port; either way both sides end up connected, and
 * every connection one side holds is the mirror of one the other holds. */
static void
test_simultaneous_open (void)
{
  Peer a, b;
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) ra = NULL;
  g_autoptr (GAsyncResult) rb = NULL;
  g_autoptr (GSocketConnection) ca = NULL;
  g_autoptr (GSocketConnection) cb = NULL;
  g_autoptr (GPtrArray) side_a = g_ptr_array_new ();
  g_autoptr (GPtrArray) side_b = g_ptr_array_new ();
  gboolean expired = FALSE;
  guint deadline;

  peer_init (&a);
  peer_init (&b);
  g_assert_true (peer_listen (&a, "127.0.0.1", &error));
  g_assert_true (peer_listen (&b, "127.0.0.1", &error));

  punch_tcp_transport_dial_async (a.transport, b.address, 0, NULL, test_store_result, &ra);
  punch_tcp_transport_dial_async (b.transport, a.address, 0, NULL, test_store_result, &rb);
  test_await_result (&ra);
  test_await_result (&rb);
  ca = punch_tcp_transport_dial_finish (a.transport, ra, &error);
  g_assert_no_error (error);
  cb = punch_tcp_transport_dial_finish (b.transport, rb, &error);
  g_assert_no_error (error);

  if (mirrored (ca, cb))
    {
      g_test_message ("simultaneous open: one connection, both dials got it");
      g_assert_cmpuint (local_port (ca), ==, g_inet_socket_address_get_port (a.address));
      g_assert_cmpuint (local_port (cb), ==, g_inet_socket_address_get_port (b.address));
    }
  else
    {
      g_test_message ("no simultaneous open: each dial reached the other's listener");
    }

  /* Wait until each dialed connection's other end has been seen. */
  deadline = g_timeout_add_seconds (TEST_DEADLINE_S, test_on_deadline, &expired);
  for (;;)
    {
      gboolean a_ok = FALSE, b_ok = FALSE;

      g_ptr_array_set_size (side_a, 0);
      g_ptr_array_set_size (side_b, 0);
      g_ptr_array_add (side_a, ca);
      g_ptr_array_extend (side_a, a.incoming, NULL, NULL);
      g_ptr_array_add (side_b, cb);
      g_ptr_array_extend (side_b, b.incoming, NULL, NULL);

      for (guint i = 0; i < side_b->len; i++)
        a_ok |= mirrored (ca, g_ptr_array_index (side_b, i));
      for (guint i = 0; i < side_a->len; i++)
        b_ok |= mirrored (cb, g_ptr_array_index (side_a, i));
      if ((a_ok && b_ok) || expired)
        break;
      g_main_context_iteration (NULL, TRUE);
    }
  if (!expired)
    g_source_remove (deadline);
  g_assert_false (expired);

  /* Nothing unmatched on either side. */
  for (guint i = 0; i < side_a->len; i++)
    {
      gboolean found = FALSE;

      for (guint j = 0; j < side_b->len; j++)
        found |= mirrored (g_ptr_array_index (side_a, i), g_ptr_array_index (side_b, j));
      g_assert_true (found);
    }
  g_test_message ("A holds %u connection(s), B holds %u", side_a->len, side_b->len);
  for (guint j = 0; j < side_b->len; j++)
    if (mirrored (ca, g_ptr_array_index (side_b, j)))
      assert_connected (ca, g_ptr_array_index (side_b, j));

  peer_clear (&a);
  peer_clear (&b);
}

static void
test_listen_addresses_and_close (void)
{
  Peer a;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) addrs = NULL;
  g_autoptr (GPtrArray) after = NULL;
  g_autoptr (PunchTcpTransport) dialer = punch_tcp_transport_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  gboolean have_ip6;

  peer_init (&a);
  g_assert_true (peer_listen (&a, "127.0.0.1", &error));
  have_ip6 = peer_listen (&a, "::1", NULL);

  addrs = punch_tcp_transport_get_listen_addresses (a.transport);
  g_assert_cmpuint (addrs->len, ==, have_ip6 ? 2 : 1);
  g_assert_cmpuint (port_of (g_ptr_array_index (addrs, 0)), ==,
                    g_inet_socket_address_get_port (a.address));

  punch_tcp_transport_close (a.transport);
  after = punch_tcp_transport_get_listen_addresses (a.transport);
  g_assert_cmpuint (after->len, ==, 0);

  conn = dial (dialer, a.address, 0, NULL, &error);
  g_assert_null (conn);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);

  peer_clear (&a);
}

static GSocket *
reuse_socket (GSocketAddress *bind_to)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GError) error = NULL;
  struct sockaddr_storage native;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_set_option (socket, SOL_SOCKET, SO_REUSEADDR, 1, &error));
  g_assert_true (g_socket_set_option (socket, SOL_SOCKET, SO_REUSEPORT, 1, &error));
  /* bind(2) itself: g_socket_bind() would clear SO_REUSEPORT. */
  g_assert_true (g_socket_address_to_native (bind_to, &native, sizeof native, &error));
  g_assert_cmpint (bind (g_socket_get_fd (socket), (struct sockaddr *) &native,
                         (socklen_t) g_socket_address_get_native_size (bind_to)), ==, 0);
  return g_steal_pointer (&socket);
}

/* A real TCP simultaneous open, made deterministic on loopback: B's
 * listener has a full accept queue, so A's SYN to it is dropped and A's dial
 * stays in SYN_SENT; then B connects from that same port to A's listen port.
 * B's SYN meets A's half-open socket, not A's listener, and both ends get
 * one connection without any accept. This is the DCUtR case. */
static void
test_simultaneous_open_forced (void)
{
  Peer a;
  g_autoptr (PunchTcpTransport) filler = punch_tcp_transport_new ();
  g_autoptr (GPtrArray) fillers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocket) b_listener = NULL;
  g_autoptr (GSocket) b_dialer = NULL;
  g_autoptr (GSocketAddress) b_address = NULL;
  g_autoptr (GSocketConnection) b_conn = NULL;
  g_autoptr (GSocketConnection) a_conn = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  gboolean stalled = FALSE;

  peer_init (&a);
  g_assert_true (peer_listen (&a, "127.0.0.1", &error));

  b_listener = reuse_socket (any_port);
  g_socket_set_listen_backlog (b_listener, 0);
  g_assert_true (g_socket_listen (b_listener, &error));
  b_address = g_socket_get_local_address (b_listener, &error);
  g_assert_no_error (error);
  for (int i = 0; i < 16 && !stalled; i++)
    {
      g_autoptr (GSocketConnection) conn = NULL;
      g_autoptr (GError) local_error = NULL;

      conn = dial (filler, G_INET_SOCKET_ADDRESS (b_address), 200, NULL, &local_error);
      if (conn != NULL)
        g_ptr_array_add (fillers, g_steal_pointer (&conn));
      else
        stalled = g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    }
  if (!stalled)
    {
      g_test_skip ("loopback accepted every connection; cannot hold a SYN");
      peer_clear (&a);
      return;
    }

  punch_tcp_transport_dial_async (a.transport, G_INET_SOCKET_ADDRESS (b_address), 5000, NULL,
                                  test_store_result, &result);

  b_dialer = reuse_socket (b_address);
  g_socket_set_blocking (b_dialer, FALSE);
  if (!g_socket_connect (b_dialer, G_SOCKET_ADDRESS (a.address), NULL, &error))
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
      g_clear_error (&error);
    }

  test_await_result (&result);
  a_conn = punch_tcp_transport_dial_finish (a.transport, result, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_condition_timed_wait (b_dialer, G_IO_OUT, 2 * G_USEC_PER_SEC, NULL, &error));
  g_assert_true (g_socket_check_connect_result (b_dialer, &error));
  g_assert_no_error (error);
  g_socket_set_blocking (b_dialer, TRUE);
  b_conn = g_socket_connection_factory_create_connection (b_dialer);

  g_assert_true (mirrored (a_conn, b_conn));
  g_assert_cmpuint (local_port (a_conn), ==, g_inet_socket_address_get_port (a.address));
  /* Nothing went through A's listener. */
  g_assert_cmpuint (a.incoming->len, ==, 0);
  assert_options (a_conn);
  assert_connected (a_conn, b_conn);
  assert_connected (b_conn, a_conn);

  peer_clear (&a);
}

/* The first steps of an upgrade: multistream-select straight on the TCP
 * connection, bytes of the next protocol following the proposal. */
static void
test_multistream_over_tcp (void)
{
  static const char *const proposals[] = { "/tls/1.0.0", "/noise", NULL };
  static const char *const supported[] = { "/noise", NULL };
  Peer a, b;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GAsyncResult) sres = NULL;
  g_autoptr (GAsyncResult) hres = NULL;
  g_autofree char *selected = NULL;
  g_autofree char *handled = NULL;
  GIOStream *accepted;

  peer_init (&a);
  peer_init (&b);
  g_assert_true (peer_listen (&a, "127.0.0.1", &error));
  g_assert_true (peer_listen (&b, "127.0.0.1", &error));
  conn = dial (a.transport, b.address, 0, NULL, &error);
  g_assert_no_error (error);
  await_incoming (&b, 1);
  accepted = g_ptr_array_index (b.incoming, 0);

  punch_multistream_select_async (G_IO_STREAM (conn), proposals, NULL, test_store_result, &sres);
  punch_multistream_handle_async (accepted, supported, NULL, test_store_result, &hres);
  test_await_result (&sres);
  selected = punch_multistream_select_finish (G_IO_STREAM (conn), sres, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (selected, ==, "/noise");
  test_await_result (&hres);
  handled = punch_multistream_handle_finish (accepted, hres, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (handled, ==, "/noise");

  assert_connected (conn, G_SOCKET_CONNECTION (accepted));
  assert_connected (G_SOCKET_CONNECTION (accepted), conn);

  peer_clear (&a);
  peer_clear (&b);
}

static void
test_address_in_use (void)
{
  g_autoptr (PunchTcpTransport) transport = punch_tcp_transport_new ();
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocket) holder = NULL;
  g_autoptr (GSocketAddress) taken = NULL;
  g_autoptr (GInetSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *expected = NULL;

  /* A listener without SO_REUSEPORT keeps the port to itself. */
  holder = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_true (g_socket_bind (holder, any_port, FALSE, &error));
  g_assert_true (g_socket_listen (holder, &error));
  taken = g_socket_get_local_address (holder, &error);
  g_assert_no_error (error);

  bound = punch_tcp_transport_listen (transport, G_INET_SOCKET_ADDRESS (taken), &error);
  g_assert_null (bound);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  expected = g_strdup_printf ("cannot bind to 127.0.0.1:%u", port_of (taken));
  g_assert_true (g_str_has_prefix (error->message, expected));
}

/* Several connections arriving together are all accepted. */
static void
test_burst (void)
{
  Peer a;
  g_autoptr (PunchTcpTransport) dialer = punch_tcp_transport_new ();
  g_autoptr (GPtrArray) results = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GError) error = NULL;
  GAsyncResult *slots[8] = { NULL, };

  peer_init (&a);
  g_assert_true (peer_listen (&a, "127.0.0.1", &error));
  for (guint i = 0; i < G_N_ELEMENTS (slots); i++)
    punch_tcp_transport_dial_async (dialer, a.address, 0, NULL, test_store_result, &slots[i]);
  for (guint i = 0; i < G_N_ELEMENTS (slots); i++)
    {
      g_autoptr (GSocketConnection) conn = NULL;

      test_await_result (&slots[i]);
      conn = punch_tcp_transport_dial_finish (dialer, slots[i], &error);
      g_assert_no_error (error);
      g_ptr_array_add (results, g_steal_pointer (&conn));
      g_clear_object (&slots[i]);
    }
  await_incoming (&a, G_N_ELEMENTS (slots));
  g_assert_cmpuint (a.incoming->len, ==, G_N_ELEMENTS (slots));
  peer_clear (&a);
}

/* A handler may drop the transport from within "incoming". */
static void
drop_transport (PunchTcpTransport *transport, GSocketConnection *connection, gpointer user_data)
{
  PunchTcpTransport **slot = user_data;

  g_ptr_array_add (*(GPtrArray **) g_object_get_data (G_OBJECT (transport), "kept"),
                   g_object_ref (connection));
  punch_tcp_transport_close (transport);
  g_clear_object (slot);
}

static void
test_unref_in_handler (void)
{
  PunchTcpTransport *listener = punch_tcp_transport_new ();
  g_autoptr (PunchTcpTransport) dialer = punch_tcp_transport_new ();
  g_autoptr (GPtrArray) kept = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) want = g_inet_socket_address_new (lo, 0);
  g_autoptr (GInetSocketAddress) bound = NULL;
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GError) error = NULL;
  GPtrArray *kept_ptr = kept;
  gboolean expired = FALSE;
  guint deadline;

  bound = punch_tcp_transport_listen (listener, G_INET_SOCKET_ADDRESS (want), &error);
  g_assert_no_error (error);
  g_object_set_data (G_OBJECT (listener), "kept", &kept_ptr);
  g_signal_connect (listener, "incoming", G_CALLBACK (drop_transport), &listener);
  g_object_add_weak_pointer (G_OBJECT (listener), (gpointer *) &listener);

  conn = dial (dialer, bound, 0, NULL, &error);
  g_assert_no_error (error);

  deadline = g_timeout_add_seconds (TEST_DEADLINE_S, test_on_deadline, &expired);
  while (kept->len == 0 && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (deadline);
  g_assert_cmpuint (kept->len, ==, 1);
  g_assert_null (listener);
  assert_connected (conn, g_ptr_array_index (kept, 0));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_data_func ("/core/tcp-transport/dial/ip4", "127.0.0.1", test_dial);
  g_test_add_data_func ("/core/tcp-transport/dial/ip6", "::1", test_dial);
  g_test_add_func ("/core/tcp-transport/dial/reuse-port-off", test_reuse_port_off);
  g_test_add_func ("/core/tcp-transport/dial/redial-fallback", test_redial_fallback);
  g_test_add_func ("/core/tcp-transport/dial/refused", test_refused);
  g_test_add_func ("/core/tcp-transport/dial/timeout", test_timeout);
  g_test_add_func ("/core/tcp-transport/dial/cancel", test_cancel);
  g_test_add_func ("/core/tcp-transport/simultaneous-open/racing", test_simultaneous_open);
  g_test_add_func ("/core/tcp-transport/simultaneous-open/forced", test_simultaneous_open_forced);
  g_test_add_func ("/core/tcp-transport/multistream", test_multistream_over_tcp);
  g_test_add_func ("/core/tcp-transport/listen/addresses-and-close", test_listen_addresses_and_close);
  g_test_add_func ("/core/tcp-transport/listen/unref-in-handler", test_unref_in_handler);
  g_test_add_func ("/core/tcp-transport/listen/address-in-use", test_address_in_use);
  g_test_add_func ("/core/tcp-transport/listen/burst", test_burst);

  return g_test_run ();
}
