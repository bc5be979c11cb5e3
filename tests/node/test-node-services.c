/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-node-services.h"

#include <string.h>

#include "../protocols/protocols-test-util.h"

/* A node (as the dashboard runs it) and a friend host with a forward
 * service, over loopback; the friend's target is an echo server. */
typedef struct
{
  PunchNode           *node;
  PunchNodeServices   *services;
  PunchHost           *friend;
  PunchForwardService *friend_fwd;
  GSocketService      *echo;
  char                *echo_addr;
  char                *friend_id;
  guint                catalogs;
  guint                finished;
} Fixture;

static void
on_echo_spliced (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_output_stream_splice_finish (G_OUTPUT_STREAM (source), result, NULL);
}

static gboolean
on_echo_incoming (GSocketService    *service,
                  GSocketConnection *conn,
                  GObject           *source,
                  gpointer           user_data)
{
  /* Echo until EOF, then close both ways. */
  g_output_stream_splice_async (g_io_stream_get_output_stream (G_IO_STREAM (conn)),
                                g_io_stream_get_input_stream (G_IO_STREAM (conn)),
                                G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE | G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                                G_PRIORITY_DEFAULT, NULL, on_echo_spliced, NULL);
  return FALSE;
}

static void
on_catalog_changed (PunchNodeServices *services,
                    const char        *peer_id,
                    gpointer           user_data)
{
  Fixture *f = user_data;

  if (g_strcmp0 (peer_id, f->friend_id) == 0)
    f->catalogs++;
}

static void
on_finished (PunchNodeServices *services,
             const char        *peer_id,
             const char        *name,
             gboolean           inbound,
             gpointer           user_data)
{
  Fixture *f = user_data;

  f->finished++;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = punch_private_key_generate (&error);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_assert_no_error (error);
  f->node = punch_node_new (key);
  g_assert_true (punch_node_listen_on (f->node, "/ip4/127.0.0.1/tcp/0", &error));
  g_assert_no_error (error);
  f->services = punch_node_services_new (f->node);
  g_signal_connect (f->services, "catalog-changed", G_CALLBACK (on_catalog_changed), f);
  g_signal_connect (f->services, "stream-finished", G_CALLBACK (on_finished), f);

  f->echo = g_socket_service_new ();
  g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (f->echo), any, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error));
  g_assert_no_error (error);
  g_signal_connect (f->echo, "incoming", G_CALLBACK (on_echo_incoming), NULL);
  f->echo_addr = g_strdup_printf ("127.0.0.1:%u", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

  f->friend = ptest_host_new ();
  f->friend_id = g_strdup (punch_peer_id_to_string (punch_host_get_peer_id (f->friend)));
  f->friend_fwd = punch_forward_service_new (f->friend);
  punch_forward_catalog_serve (f->friend_fwd);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  gpointer node = NULL;

  punch_node_services_close (f->services);
  PTEST_WAIT (punch_forward_service_get_active (punch_node_services_get_forward (f->services)) == 0
              && punch_forward_service_get_active (f->friend_fwd) == 0);
  g_clear_object (&f->services);
  g_clear_object (&f->friend_fwd);
  punch_host_close (f->friend);
  punch_node_close (f->node);
  g_socket_service_stop (f->echo);
  g_socket_listener_close (G_SOCKET_LISTENER (f->echo));
  g_clear_object (&f->echo);
  g_set_weak_pointer (&node, f->node);
  g_clear_object (&f->node);
  g_clear_object (&f->friend);
  PTEST_WAIT (node == NULL);
  ptest_spin (20);
  g_free (f->echo_addr);
  g_free (f->friend_id);
}

/* The node dials the friend (which starts the catalogue ask). */
static void
connect_to_friend (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) listen = punch_multiaddr_new_from_string ("/ip4/127.0.0.1/tcp/0", &error);
  g_autoptr (GPtrArray) addrs = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PunchConnection) connection = NULL;
  g_autofree char *addr = NULL;
  g_autofree char *full = NULL;

  g_assert_true (punch_host_listen (f->friend, listen, &error));
  g_assert_no_error (error);
  addrs = punch_host_get_listen_addrs (f->friend);
  addr = punch_multiaddr_to_string (g_ptr_array_index (addrs, 0));
  full = g_strdup_printf ("%s/p2p/%s", addr, f->friend_id);
  punch_node_connect_async (f->node, full, NULL, ptest_store_result, &result);
  PTEST_WAIT (result != NULL);
  connection = punch_node_connect_finish (f->node, result, &error);
  g_assert_no_error (error);
}

static GSocketConnection *
dial_local (const char *address)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GError) error = NULL;
  GSocketConnection *conn = g_socket_client_connect_to_host (client, address, 0, NULL, &error);

  g_assert_no_error (error);
  return conn;
}

/* Writes @out and reads back as much, checking the echo. */
static void
echo_round (GSocketConnection *conn,
            const guint8      *out,
            guint8            *in,
            gsize              len)
{
  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  g_autoptr (GError) error = NULL;
  gsize got = 0;

  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), out,
                                            len, NULL, NULL, &error));
  g_assert_no_error (error);
  memset (in, 0, len);
  while (got < len)
    {
      gssize n;

      /* Blocking reads would stall the main loop the forward runs on. */
      PTEST_WAIT (g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (input)));
      n = g_input_stream_read (input, in + got, len - got, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      got += n;
    }
  g_assert_cmpmem (in, len, out, len);
}

static void
test_catalog_and_local_port (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerId) node_id = punch_peer_id_parse (punch_node_get_peer_id (f->node), &error);
  g_autoptr (GSocketConnection) conn = NULL;
  const char * const *catalog;
  const char *message = NULL;
  const char *address;
  guint8 out[4096], in[4096];
  PunchServiceStats stats;

  g_assert_true (punch_forward_service_expose (f->friend_fwd, "echo", f->echo_addr, &error));
  g_assert_true (punch_forward_service_expose (f->friend_fwd, "secret", f->echo_addr, &error));
  g_assert_true (punch_forward_service_allow (f->friend_fwd, "echo", node_id, &error));
  g_assert_no_error (error);

  g_assert_null (punch_node_services_get_catalog (f->services, f->friend_id, NULL));
  connect_to_friend (f);
  PTEST_WAIT (f->catalogs > 0);
  catalog = punch_node_services_get_catalog (f->services, f->friend_id, &message);
  g_assert_null (message);
  g_assert_nonnull (catalog);
  g_assert_cmpstrv (catalog, ((const char *[]) { "echo", NULL }));

  address = punch_node_services_open_local (f->services, f->friend_id, "echo", &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (address, "127.0.0.1:"));
  g_assert_cmpstr (punch_node_services_get_local (f->services, f->friend_id, "echo"), ==, address);
  g_assert_true (punch_node_services_open_local (f->services, f->friend_id, "echo", NULL) == address);
  {
    g_auto (GStrv) locals = punch_node_services_list_local (f->services, f->friend_id);
    g_auto (GStrv) none = punch_node_services_list_local (f->services, "12D3KooWOther");

    g_assert_cmpstrv (locals, ((const char *[]) { "echo", NULL }));
    g_assert_cmpuint (g_strv_length (none), ==, 0);
  }

  /* Bytes through the port count while the connection is open... */
  for (guint i = 0; i < sizeof out; i++)
    out[i] = (guint8) (i * 7);
  conn = dial_local (address);
  echo_round (conn, out, in, sizeof out);
  /* The count follows each completed write, a main-loop turn after the
   * bytes reached the socket. */
  PTEST_WAIT ((punch_node_services_get_stats (f->services, f->friend_id, "echo", FALSE, &stats),
               stats.bytes_in == sizeof in));
  g_assert_cmpuint (stats.active, ==, 1);
  g_assert_cmpuint (stats.total, ==, 1);
  g_assert_cmpuint (stats.bytes_out, ==, sizeof out);
  g_assert_cmpuint (stats.bytes_in, ==, sizeof in);

  /* An idle connection stays up past the target's 10 s connect timeout
   * (an SSH session may be quiet for long). */
  ptest_spin (11000);
  echo_round (conn, out, in, sizeof out);
  PTEST_WAIT ((punch_node_services_get_stats (f->services, f->friend_id, "echo", FALSE, &stats),
               stats.bytes_in == 2 * sizeof in));
  g_assert_cmpuint (stats.active, ==, 1);
  g_assert_cmpuint (stats.bytes_out, ==, 2 * sizeof out);

  /* ...and stay counted once it ended. */
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  PTEST_WAIT (f->finished > 0);
  punch_node_services_get_stats (f->services, f->friend_id, "echo", FALSE, &stats);
  g_assert_cmpuint (stats.active, ==, 0);
  g_assert_cmpuint (stats.total, ==, 1);
  g_assert_cmpuint (stats.bytes_out, ==, 2 * sizeof out);
  g_assert_cmpuint (stats.bytes_in, ==, 2 * sizeof in);
  punch_node_services_get_stats (f->services, f->friend_id, "echo", TRUE, &stats);
  g_assert_cmpuint (stats.total, ==, 0);

  punch_node_services_close_local (f->services, f->friend_id, "echo");
  g_assert_null (punch_node_services_get_local (f->services, f->friend_id, "echo"));
  {
    g_auto (GStrv) locals = punch_node_services_list_local (f->services, f->friend_id);

    g_assert_cmpuint (g_strv_length (locals), ==, 0);
  }
}

static void
test_expose (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PunchPeerId) node_id = punch_peer_id_parse (punch_node_get_peer_id (f->node), &error);
  const char *allowed[] = { f->friend_id, NULL };
  const char *bad[] = { "not-a-peer-id", NULL };
  g_auto (GStrv) names = NULL;
  g_auto (GStrv) exposed = NULL;

  g_assert_true (punch_node_services_set_exposed (f->services, "web", f->echo_addr, allowed, &error));
  g_assert_no_error (error);
  g_assert_true (punch_node_services_set_exposed (f->services, "ssh", "127.0.0.1:22", NULL, &error));
  g_assert_no_error (error);
  g_assert_true (punch_node_services_is_allowed (f->services, "web", f->friend_id));
  g_assert_false (punch_node_services_is_allowed (f->services, "ssh", f->friend_id));
  g_assert_cmpstr (punch_node_services_get_target (f->services, "web"), ==, f->echo_addr);
  exposed = punch_node_services_list_exposed (f->services);
  g_assert_cmpstrv (exposed, ((const char *[]) { "ssh", "web", NULL }));

  /* A bad peer ID changes nothing. */
  g_assert_false (punch_node_services_set_exposed (f->services, "web", "127.0.0.1:1", bad, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_cmpstr (punch_node_services_get_target (f->services, "web"), ==, f->echo_addr);
  g_assert_true (punch_node_services_is_allowed (f->services, "web", f->friend_id));

  /* The friend asks: it sees web (deny by default hides ssh). */
  connect_to_friend (f);
  PTEST_WAIT (punch_host_get_connection (f->friend, node_id) != NULL);
  punch_forward_catalog_fetch_async (f->friend, node_id, NULL, ptest_store_result, &result);
  PTEST_WAIT (result != NULL);
  names = punch_forward_catalog_fetch_finish (f->friend, result, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (names, ((const char *[]) { "web", NULL }));
  g_clear_object (&result);
  g_clear_pointer (&names, g_strfreev);

  /* An emptied allow list takes effect. */
  g_assert_true (punch_node_services_set_exposed (f->services, "web", f->echo_addr, NULL, &error));
  g_assert_false (punch_node_services_is_allowed (f->services, "web", f->friend_id));
  punch_forward_catalog_fetch_async (f->friend, node_id, NULL, ptest_store_result, &result);
  PTEST_WAIT (result != NULL);
  names = punch_forward_catalog_fetch_finish (f->friend, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 0);
  g_clear_object (&result);

  /* The friend tries it anyway: refused, and counted as such (no
   * connection, no bytes). */
  {
    PunchServiceStats stats;
    GSocketConnection *local = dial_local (f->echo_addr);

    punch_forward_service_forward_async (f->friend_fwd, node_id, "web", local, NULL, ptest_store_result, &result);
    g_object_unref (local);
    PTEST_WAIT (result != NULL);
    g_assert_false (punch_forward_service_forward_finish (f->friend_fwd, result, NULL, NULL, &error));
    g_assert_error (error, PUNCH_FORWARD_ERROR, PUNCH_FORWARD_STATUS_NOT_ALLOWED);
    g_clear_error (&error);
    PTEST_WAIT ((punch_node_services_get_stats (f->services, f->friend_id, "web", TRUE, &stats), stats.refused == 1));
    g_assert_cmpuint (stats.total, ==, 0);
    g_assert_cmpuint (stats.bytes_in, ==, 0);
  }

  punch_node_services_remove_exposed (f->services, "web");
  g_assert_null (punch_node_services_get_target (f->services, "web"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/core/node-services/catalog-and-local-port", Fixture, NULL, fixture_setup,
              test_catalog_and_local_port, fixture_teardown);
  g_test_add ("/core/node-services/expose", Fixture, NULL, fixture_setup, test_expose, fixture_teardown);
  return g_test_run ();
}
