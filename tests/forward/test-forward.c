/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-forward-service.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <signal.h>

#include "punch-forward-listener.h"
#include "../protocols/protocols-test-util.h"

#define CHUNK 65536

/* --- a local TCP target ---------------------------------------------------- */

typedef enum
{
  TARGET_ECHO,      /* echoes, half-closes after the client's FIN */
  TARGET_BANNER,    /* sends a banner and half-closes first, then reads to EOF */
  TARGET_SILENT,    /* accepts and never reads */
} TargetMode;

typedef struct
{
  GSocketService *service;
  char           *address;
  TargetMode      mode;
  guint           accepted;
  guint64         received;
  GPtrArray      *held;      /* silent connections kept open */
} Target;

typedef struct
{
  Target            *target;
  GSocketConnection *conn;
  guint8             buf[CHUNK];
} TargetConn;

static void target_read (TargetConn *tc);

static void
target_conn_free (TargetConn *tc)
{
  g_io_stream_close (G_IO_STREAM (tc->conn), NULL, NULL);
  g_object_unref (tc->conn);
  g_free (tc);
}

static void
on_target_written (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  TargetConn *tc = user_data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    {
      target_conn_free (tc);
      return;
    }
  target_read (tc);
}

static void
on_target_read (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  TargetConn *tc = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    {
      if (n == 0 && tc->target->mode == TARGET_ECHO)
        g_socket_shutdown (g_socket_connection_get_socket (tc->conn), FALSE, TRUE, NULL);
      target_conn_free (tc);
      return;
    }
  tc->target->received += n;
  if (tc->target->mode == TARGET_ECHO)
    g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (tc->conn)),
                                     tc->buf, n, G_PRIORITY_DEFAULT, NULL, on_target_written, tc);
  else
    target_read (tc);
}

static void
target_read (TargetConn *tc)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (tc->conn)), tc->buf,
                             CHUNK, G_PRIORITY_DEFAULT, NULL, on_target_read, tc);
}

static gboolean
on_target_incoming (GSocketService    *service,
                    GSocketConnection *conn,
                    GObject           *source,
                    gpointer           user_data)
{
  Target *target = user_data;
  TargetConn *tc;

  target->accepted++;
  if (target->mode == TARGET_SILENT)
    {
      g_ptr_array_add (target->held, g_object_ref (conn));
      return TRUE;
    }
  tc = g_new0 (TargetConn, 1);
  tc->target = target;
  tc->conn = g_object_ref (conn);
  if (target->mode == TARGET_BANNER)
    {
      GError *error = NULL;

      g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)),
                                                "banner", 6, NULL, NULL, &error));
      g_assert_no_error (error);
      g_socket_shutdown (g_socket_connection_get_socket (conn), FALSE, TRUE, &error);
      g_assert_no_error (error);
    }
  target_read (tc);
  return TRUE;
}

static void
target_start (Target    *target,
              TargetMode mode)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (GSocketAddress) effective = NULL;

  memset (target, 0, sizeof *target);
  target->mode = mode;
  target->held = g_ptr_array_new_with_free_func (g_object_unref);
  target->service = g_socket_service_new ();
  g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (target->service), addr,
                                                G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                                NULL, &effective, &error));
  g_assert_no_error (error);
  g_signal_connect (target->service, "incoming", G_CALLBACK (on_target_incoming), target);
  target->address = g_strdup_printf ("127.0.0.1:%u",
                                     g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective)));
}

static void
target_stop (Target *target)
{
  g_socket_service_stop (target->service);
  g_socket_listener_close (G_SOCKET_LISTENER (target->service));
  g_signal_handlers_disconnect_by_data (target->service, target);
  g_clear_object (&target->service);
  g_clear_pointer (&target->held, g_ptr_array_unref);
  g_clear_pointer (&target->address, g_free);
}

/* --- fixture ---------------------------------------------------------------- */

typedef struct
{
  PTestPair             pair;
  PunchForwardService  *server_fwd;
  PunchForwardService  *client_fwd;
  PunchForwardListener *listener;
  char                 *local;
  Target                target;
  guint                 finished_server;
  guint                 finished_client;
  guint                 ok_server;
  guint                 denied;
  char                 *last_denied_reason;
  char                 *last_server_outcome;
  guint                 listener_done;
  GError               *listener_error;
  guint                 redials;
  guint                 retry_ms[8];
  guint                 reconnected;
  guint                 opened_server;
  guint                 opened_client;
} Fixture;

static void
on_denied (PunchForwardService *fwd,
           const char          *peer,
           const char          *service,
           const char          *reason,
           gpointer             user_data)
{
  Fixture *f = user_data;

  g_assert_cmpstr (peer, ==, punch_peer_id_to_string (punch_host_get_peer_id (f->pair.client)));
  f->denied++;
  g_free (f->last_denied_reason);
  f->last_denied_reason = g_strdup (reason);
}

static void
on_finished (PunchForwardService *fwd,
             const char          *peer,
             const char          *service,
             gboolean             inbound,
             guint64              bytes_out,
             guint64              bytes_in,
             gdouble              seconds,
             const char          *outcome,
             const GError        *error,
             gpointer             user_data)
{
  Fixture *f = user_data;

  g_assert_cmpfloat (seconds, >=, 0);
  if (fwd == f->server_fwd)
    {
      g_assert_true (inbound);
      f->finished_server++;
      if (g_strcmp0 (outcome, "ok") == 0)
        f->ok_server++;
      g_free (f->last_server_outcome);
      f->last_server_outcome = g_strdup (outcome);
    }
  else
    {
      g_assert_false (inbound);
      f->finished_client++;
    }
}

static void
on_opened (PunchForwardService *fwd,
           const char          *peer,
           const char          *service,
           gboolean             inbound,
           PunchConnection     *connection,
           gpointer             user_data)
{
  Fixture *f = user_data;

  g_assert_true (PUNCH_IS_CONNECTION (connection));
  g_assert_false (punch_connection_get_relayed (connection));
  g_assert_cmpstr (peer, ==, punch_peer_id_to_string (punch_connection_get_peer_id (connection)));
  if (fwd == f->server_fwd)
    f->opened_server++;
  else
    f->opened_client++;
}

static void
on_redial (PunchForwardListener *listener,
           guint                 attempt,
           guint                 retry_ms,
           const GError         *error,
           gpointer              user_data)
{
  Fixture *f = user_data;

  g_assert_nonnull (error);
  g_assert_cmpuint (attempt, ==, f->redials + 1);
  if (f->redials < G_N_ELEMENTS (f->retry_ms))
    f->retry_ms[f->redials] = retry_ms;
  f->redials++;
}

static void
on_reconnected (PunchForwardListener *listener,
                PunchConnection      *connection,
                gpointer              user_data)
{
  Fixture *f = user_data;

  g_assert_true (punch_peer_id_equal (punch_connection_get_peer_id (connection),
                                      punch_host_get_peer_id (f->pair.server)));
  f->reconnected++;
}

static void
on_listener_done (PunchForwardListener *listener,
                  guint64               out,
                  guint64               in,
                  const GError         *error,
                  gpointer              user_data)
{
  Fixture *f = user_data;

  f->listener_done++;
  if (error != NULL && f->listener_error == NULL)
    f->listener_error = g_error_copy (error);
}

static void
fixture_setup_mode (Fixture   *f,
                    TargetMode mode,
                    gboolean   allow)
{
  g_autoptr (GError) error = NULL;

  ptest_pair_init (&f->pair);
  target_start (&f->target, mode);
  f->server_fwd = punch_forward_service_new (f->pair.server);
  f->client_fwd = punch_forward_service_new (f->pair.client);
  g_signal_connect (f->server_fwd, "denied", G_CALLBACK (on_denied), f);
  g_signal_connect (f->server_fwd, "stream-finished", G_CALLBACK (on_finished), f);
  g_signal_connect (f->client_fwd, "stream-finished", G_CALLBACK (on_finished), f);
  g_signal_connect (f->server_fwd, "stream-opened", G_CALLBACK (on_opened), f);
  g_signal_connect (f->client_fwd, "stream-opened", G_CALLBACK (on_opened), f);
  g_assert_true (punch_forward_service_expose (f->server_fwd, "svc", f->target.address, &error));
  g_assert_no_error (error);
  if (allow)
    {
      g_assert_true (punch_forward_service_allow (f->server_fwd, "svc",
                                                  punch_host_get_peer_id (f->pair.client), &error));
      g_assert_no_error (error);
    }
  ptest_pair_connect (&f->pair);
}

static void
fixture_listen (Fixture    *f,
                const char *name)
{
  g_autoptr (GError) error = NULL;

  f->listener = punch_forward_listener_new (f->client_fwd, punch_host_get_peer_id (f->pair.server), name);
  g_signal_connect (f->listener, "forward-finished", G_CALLBACK (on_listener_done), f);
  g_signal_connect (f->listener, "redial", G_CALLBACK (on_redial), f);
  g_signal_connect (f->listener, "reconnected", G_CALLBACK (on_reconnected), f);
  f->local = punch_forward_listener_listen (f->listener, "127.0.0.1:0", &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (f->local, "127.0.0.1:"));
  g_assert_cmpstr (f->local, !=, "127.0.0.1:0");
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->listener != NULL)
    {
      punch_forward_listener_close (f->listener);
      PTEST_WAIT (punch_forward_listener_get_active (f->listener) == 0);
    }
  g_clear_object (&f->listener);
  target_stop (&f->target);
  PTEST_WAIT (punch_forward_service_get_active (f->server_fwd) == 0
              && punch_forward_service_get_active (f->client_fwd) == 0);
  g_clear_object (&f->server_fwd);
  g_clear_object (&f->client_fwd);
  ptest_pair_clear (&f->pair);
  g_free (f->local);
  g_free (f->last_denied_reason);
  g_free (f->last_server_outcome);
  g_clear_error (&f->listener_error);
}

/* --- a local TCP client ---------------------------------------------------- */

typedef struct
{
  GSocketConnection *conn;
  GBytes            *send;
  GByteArray        *received;
  guint8             buf[CHUNK];
  gboolean           sent;
  gboolean           eof;
  GError            *error;
} Client;

static guint8 *
pattern (gsize size,
         guint seed)
{
  guint8 *data = g_malloc (size);
  guint32 x = seed * 2654435761u + 1;

  for (gsize i = 0; i < size; i++)
    {
      x = x * 1103515245u + 12345u;
      data[i] = x >> 24;
    }
  return data;
}

static GSocketConnection *
connect_local (const char *address)
{
  g_autoptr (GSocketClient) sc = g_socket_client_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  GSocketConnection *conn;

  g_socket_client_connect_to_host_async (sc, address, 0, NULL, ptest_store_result, &result);
  PTEST_WAIT (result != NULL);
  conn = g_socket_client_connect_to_host_finish (sc, result, &error);
  g_assert_no_error (error);
  return conn;
}

static void client_read (Client *c);

static void
on_client_read (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Client *c = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &c->error);

  if (n < 0)
    {
      c->eof = TRUE;
      return;
    }
  if (n == 0)
    {
      c->eof = TRUE;
      return;
    }
  g_byte_array_append (c->received, c->buf, n);
  client_read (c);
}

static void
client_read (Client *c)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (c->conn)), c->buf, CHUNK,
                             G_PRIORITY_DEFAULT, NULL, on_client_read, c);
}

static void
on_client_sent (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Client *c = user_data;
  g_autoptr (GError) error = NULL;

  /* A refused forward may close the connection before our write ends:
   * "sent" stays FALSE then, which the tests that expect data check. */
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    return;
  /* Half-close: the echo target answers with its own FIN after the echo. */
  if (!g_socket_shutdown (g_socket_connection_get_socket (c->conn), FALSE, TRUE, &error))
    return;
  c->sent = TRUE;
}

static Client *
client_start (const char *address,
              GBytes     *send)
{
  Client *c = g_new0 (Client, 1);
  gsize len;
  const guint8 *data = g_bytes_get_data (send, &len);

  c->conn = connect_local (address);
  c->send = g_bytes_ref (send);
  c->received = g_byte_array_new ();
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (c->conn)), data, len,
                                   G_PRIORITY_DEFAULT, NULL, on_client_sent, c);
  client_read (c);
  return c;
}

static void
client_free (Client *c)
{
  g_io_stream_close (G_IO_STREAM (c->conn), NULL, NULL);
  g_object_unref (c->conn);
  g_bytes_unref (c->send);
  g_byte_array_unref (c->received);
  g_clear_error (&c->error);
  g_free (c);
}

/* --- tests ------------------------------------------------------------------ */

static void
test_echo (Fixture       *f,
           gconstpointer  data)
{
  const guint n = 8;
  const gsize size = 2 * 1024 * 1024;
  Client *clients[8];

  fixture_setup_mode (f, TARGET_ECHO, TRUE);
  fixture_listen (f, "svc");
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GBytes) send = g_bytes_new_take (pattern (size, i), size);

      clients[i] = client_start (f->local, send);
    }
  for (guint i = 0; i < n; i++)
    {
      PTEST_WAIT_SECONDS (clients[i]->eof, 90);
      g_assert_no_error (clients[i]->error);
      g_assert_true (clients[i]->sent);
      g_assert_cmpmem (clients[i]->received->data, clients[i]->received->len,
                       g_bytes_get_data (clients[i]->send, NULL), size);
    }
  PTEST_WAIT (f->finished_server == n && f->finished_client == n && f->listener_done == n);
  g_assert_cmpuint (f->ok_server, ==, n);
  g_assert_cmpuint (f->opened_server, ==, n);
  g_assert_cmpuint (f->opened_client, ==, n);
  g_assert_no_error (f->listener_error);
  g_assert_cmpuint (f->target.accepted, ==, n);
  g_assert_cmpuint (f->target.received, ==, n * size);
  g_assert_cmpuint (f->denied, ==, 0);
  for (guint i = 0; i < n; i++)
    client_free (clients[i]);
}

/* A refused forward: the local connection closes without a byte, the
 * listener reports @code, the target never sees a connection. */
static void
expect_refused (Fixture *f,
                int      code,
                guint    accepted)
{
  g_autoptr (GBytes) send = g_bytes_new_static ("hello", 5);
  Client *c;

  fixture_listen (f, "svc");
  c = client_start (f->local, send);
  PTEST_WAIT (c->eof && f->listener_done == 1);
  g_assert_cmpuint (c->received->len, ==, 0);
  g_assert_error (f->listener_error, PUNCH_FORWARD_ERROR, code);
  PTEST_WAIT (f->finished_server == 1 && f->finished_client == 1);
  g_assert_cmpuint (f->ok_server, ==, 0);
  g_assert_cmpuint (f->opened_server + f->opened_client, ==, 0);
  g_assert_cmpuint (f->target.accepted, ==, accepted);
  g_assert_cmpuint (f->target.received, ==, 0);
  client_free (c);
}

static void
test_not_allowed (Fixture       *f,
                  gconstpointer  data)
{
  fixture_setup_mode (f, TARGET_ECHO, FALSE);
  expect_refused (f, PUNCH_FORWARD_STATUS_NOT_ALLOWED, 0);
  g_assert_cmpuint (f->denied, ==, 1);
  g_assert_cmpstr (f->last_denied_reason, ==, "not-allowed");
  g_assert_cmpstr (f->last_server_outcome, ==, "not-allowed");
}

static void
test_unknown_service (Fixture       *f,
                      gconstpointer  data)
{
  fixture_setup_mode (f, TARGET_ECHO, TRUE);
  punch_forward_service_unexpose (f->server_fwd, "svc");
  expect_refused (f, PUNCH_FORWARD_STATUS_UNKNOWN_SERVICE, 0);
  g_assert_cmpuint (f->denied, ==, 1);
  g_assert_cmpstr (f->last_denied_reason, ==, "unknown-service");
}

static void
test_target_refused (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *closed = NULL;
  g_autoptr (GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (GSocketAddress) bound = NULL;

  /* A port nobody listens on: bound, not listening. */
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (sock, any, TRUE, &error));
  bound = g_socket_get_local_address (sock, &error);
  g_assert_no_error (error);
  closed = g_strdup_printf ("127.0.0.1:%u", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

  fixture_setup_mode (f, TARGET_ECHO, TRUE);
  g_assert_true (punch_forward_service_expose (f->server_fwd, "svc", closed, &error));
  g_assert_no_error (error);
  expect_refused (f, PUNCH_FORWARD_STATUS_TARGET_REFUSED, 0);
  g_assert_cmpuint (f->denied, ==, 0);
  g_assert_cmpstr (f->last_server_outcome, ==, "target-refused");
}

static void
test_limit (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr (GBytes) send = g_bytes_new_static ("x", 1);
  GSocketConnection *held;
  Client *second;

  /* One stream per peer: the first holds its slot (the target keeps it
   * open), the second is refused with "limit". */
  fixture_setup_mode (f, TARGET_SILENT, TRUE);
  punch_forward_service_set_max_streams_per_peer (f->server_fwd, 1);
  fixture_listen (f, "svc");
  held = connect_local (f->local);
  PTEST_WAIT (f->target.accepted == 1);
  second = client_start (f->local, send);
  PTEST_WAIT (second->eof && f->listener_done == 1);
  g_assert_cmpuint (second->received->len, ==, 0);
  g_assert_error (f->listener_error, PUNCH_FORWARD_ERROR, PUNCH_FORWARD_STATUS_LIMIT);
  g_assert_cmpuint (f->denied, ==, 1);
  g_assert_cmpstr (f->last_denied_reason, ==, "limit");
  g_assert_cmpuint (f->target.accepted, ==, 1);
  g_io_stream_close (G_IO_STREAM (held), NULL, NULL);
  g_object_unref (held);
  client_free (second);
}

static void
test_half_close_reverse (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr (GBytes) send = g_bytes_new_static ("after-banner", 12);
  Client *c;

  /* The target sends and half-closes first; the client still gets its
   * bytes through after reading the target's EOF. */
  fixture_setup_mode (f, TARGET_BANNER, TRUE);
  fixture_listen (f, "svc");
  c = client_start (f->local, send);
  PTEST_WAIT (c->eof && c->sent);
  g_assert_no_error (c->error);
  g_assert_cmpmem (c->received->data, c->received->len, "banner", 6);
  PTEST_WAIT (f->target.received == 12);
  PTEST_WAIT (f->finished_server == 1 && f->finished_client == 1);
  g_assert_cmpuint (f->ok_server, ==, 1);
  client_free (c);
}

static void
test_half_close_echo (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr (GBytes) send = g_bytes_new_static ("ping", 4);
  Client *c;

  /* The client half-closes after writing; the echo still comes back. */
  fixture_setup_mode (f, TARGET_ECHO, TRUE);
  fixture_listen (f, "svc");
  c = client_start (f->local, send);
  PTEST_WAIT (c->eof);
  g_assert_true (c->sent);
  g_assert_no_error (c->error);
  g_assert_cmpmem (c->received->data, c->received->len, "ping", 4);
  client_free (c);
}

typedef struct
{
  GOutputStream *out;
  guint64        written;
  gint64         last_progress;
  guint8        *block;
} Flood;

static gboolean
flood_step (gpointer user_data)
{
  Flood *fl = user_data;

  for (int i = 0; i < 64; i++)
    {
      gssize n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (fl->out),
                                                             fl->block, CHUNK, NULL, NULL);

      if (n <= 0)
        break;
      fl->written += n;
      fl->last_progress = g_get_monotonic_time ();
    }
  return G_SOURCE_CONTINUE;
}

static void
test_slow_reader (Fixture       *f,
                  gconstpointer  data)
{
  const guint64 bound = 48 * 1024 * 1024;
  GSocketConnection *conn;
  Flood fl = { 0, };
  guint source;

  /* The target never reads: what the client can write is bounded by socket
   * buffers and the Yamux window, never by a growing queue. */
  fixture_setup_mode (f, TARGET_SILENT, TRUE);
  fixture_listen (f, "svc");
  conn = connect_local (f->local);
  PTEST_WAIT (f->target.accepted == 1);
  fl.out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  fl.block = g_malloc0 (CHUNK);
  fl.last_progress = g_get_monotonic_time ();
  source = g_timeout_add (1, flood_step, &fl);
  PTEST_WAIT_SECONDS (g_get_monotonic_time () - fl.last_progress > G_USEC_PER_SEC
                      || fl.written > bound, 60);
  g_source_remove (source);
  g_test_message ("a non-reading target absorbed %" G_GUINT64_FORMAT " bytes", fl.written);
  g_assert_cmpuint (fl.written, >, 0);
  g_assert_cmpuint (fl.written, <, bound);
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  g_object_unref (conn);
  g_free (fl.block);
}

/* Many concurrent connections, each checked byte for byte. */
static void
test_many (Fixture       *f,
           gconstpointer  data)
{
  const guint n = 100;
  const gsize size = 1024 * 1024;
  Client **clients = g_new0 (Client *, n);

  fixture_setup_mode (f, TARGET_ECHO, TRUE);
  fixture_listen (f, "svc");
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GBytes) send = g_bytes_new_take (pattern (size, i + 100), size);

      clients[i] = client_start (f->local, send);
    }
  for (guint i = 0; i < n; i++)
    {
      PTEST_WAIT_SECONDS (clients[i]->eof, 100);
      g_assert_no_error (clients[i]->error);
      g_assert_cmpmem (clients[i]->received->data, clients[i]->received->len,
                       g_bytes_get_data (clients[i]->send, NULL), size);
      client_free (clients[i]);
    }
  PTEST_WAIT (f->ok_server == n && f->finished_client == n);
  g_assert_cmpuint (f->target.received, ==, (guint64) n * size);
  g_free (clients);
}

/* One long transfer streamed through the echo, compared by SHA-256. */
typedef struct
{
  GSocketConnection *conn;
  guint64            total;
  guint64            sent;
  guint64            received;
  GChecksum         *sent_sum;
  GChecksum         *received_sum;
  GRand             *rand;
  guint8             out[CHUNK];
  guint8             in[CHUNK];
  gboolean           done;
  GError            *error;
} Stream;

static void stream_write (Stream *st);
static void stream_read (Stream *st);

static void
on_stream_written (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Stream *st = user_data;
  gsize n = 0;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &n, &st->error))
    {
      st->done = TRUE;
      return;
    }
  st->sent += n;
  stream_write (st);
}

static void
stream_write (Stream *st)
{
  gsize n = (gsize) MIN ((guint64) CHUNK, st->total - st->sent);

  if (n == 0)
    {
      g_socket_shutdown (g_socket_connection_get_socket (st->conn), FALSE, TRUE, NULL);
      return;
    }
  for (gsize i = 0; i < n; i += 4)
    {
      guint32 r = g_rand_int (st->rand);

      memcpy (st->out + i, &r, MIN (4, n - i));
    }
  g_checksum_update (st->sent_sum, st->out, n);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (st->conn)), st->out, n,
                                   G_PRIORITY_DEFAULT, NULL, on_stream_written, st);
}

static void
on_stream_read (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Stream *st = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &st->error);

  if (n <= 0)
    {
      st->done = TRUE;
      return;
    }
  g_checksum_update (st->received_sum, st->in, n);
  st->received += n;
  stream_read (st);
}

static void
stream_read (Stream *st)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (st->conn)), st->in, CHUNK,
                             G_PRIORITY_DEFAULT, NULL, on_stream_read, st);
}

static void
test_large (Fixture       *f,
            gconstpointer  data)
{
  Stream st = { 0, };
  gint64 start;
  gdouble seconds;

  fixture_setup_mode (f, TARGET_ECHO, TRUE);
  fixture_listen (f, "svc");
  st.total = 256 * 1024 * 1024;
  st.sent_sum = g_checksum_new (G_CHECKSUM_SHA256);
  st.received_sum = g_checksum_new (G_CHECKSUM_SHA256);
  st.rand = g_rand_new_with_seed (42);
  st.conn = connect_local (f->local);
  start = g_get_monotonic_time ();
  stream_write (&st);
  stream_read (&st);
  PTEST_WAIT_SECONDS (st.done, 110);
  seconds = (g_get_monotonic_time () - start) / (gdouble) G_USEC_PER_SEC;
  g_test_message ("256 MiB echoed through the forward in %.2f s (%.0f MiB/s each way)",
                  seconds, 256 / seconds);
  g_assert_no_error (st.error);
  g_assert_cmpuint (st.sent, ==, st.total);
  g_assert_cmpuint (st.received, ==, st.total);
  g_assert_cmpstr (g_checksum_get_string (st.received_sum), ==, g_checksum_get_string (st.sent_sum));
  PTEST_WAIT (f->ok_server == 1);
  g_io_stream_close (G_IO_STREAM (st.conn), NULL, NULL);
  g_object_unref (st.conn);
  g_checksum_free (st.sent_sum);
  g_checksum_free (st.received_sum);
  g_rand_free (st.rand);
}

/* A local client that resets its TCP connection resets the stream, and the
 * exposing side resets the target's connection. */
static void
test_reset (Fixture       *f,
            gconstpointer  data)
{
  GSocketConnection *conn;
  struct linger lin = { 1, 0 };
  GSocket *sock;

  fixture_setup_mode (f, TARGET_SILENT, TRUE);
  fixture_listen (f, "svc");
  conn = connect_local (f->local);
  PTEST_WAIT (f->target.accepted == 1);
  sock = g_socket_connection_get_socket (conn);
  g_assert_cmpint (setsockopt (g_socket_get_fd (sock), SOL_SOCKET, SO_LINGER, &lin, sizeof lin), ==, 0);
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  g_object_unref (conn);
  PTEST_WAIT (f->finished_client == 1 && f->finished_server == 1);
  g_assert_cmpstr (f->last_server_outcome, ==, "reset");
  g_assert_cmpuint (f->ok_server, ==, 0);
  g_assert_error (f->listener_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
}

static void
test_not_connected (Fixture       *f,
                    gconstpointer  data)
{
  fixture_setup_mode (f, TARGET_ECHO, TRUE);
  punch_host_close (f->pair.client);
  PTEST_WAIT (punch_host_get_connection (f->pair.client, punch_host_get_peer_id (f->pair.server)) == NULL);
  {
    g_autoptr (GBytes) send = g_bytes_new_static ("x", 1);
    Client *c;

    fixture_listen (f, "svc");
    c = client_start (f->local, send);
    PTEST_WAIT (f->listener_done == 1 && c->eof);
    g_assert_error (f->listener_error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
    g_assert_cmpuint (f->target.accepted, ==, 0);
    client_free (c);
  }
}

/* --- redialing ---------------------------------------------------------------- */

/* Drops the client's connection to the server and waits until it is gone. */
static void
drop_connection (Fixture *f)
{
  punch_connection_close (f->pair.connection);
  PTEST_WAIT (punch_host_get_connection (f->pair.client, punch_host_get_peer_id (f->pair.server)) == NULL
              && punch_host_get_connection (f->pair.server, punch_host_get_peer_id (f->pair.client)) == NULL);
}

/* Echoes @size bytes through the listener, byte for byte. */
static void
echo_once (Fixture *f,
           gsize    size,
           guint    seed)
{
  g_autoptr (GBytes) send = g_bytes_new_take (pattern (size, seed), size);
  Client *c = client_start (f->local, send);

  PTEST_WAIT_SECONDS (c->eof, 30);
  g_assert_no_error (c->error);
  g_assert_true (c->sent);
  g_assert_cmpmem (c->received->data, c->received->len, g_bytes_get_data (send, NULL), size);
  client_free (c);
}

/* The connection to the peer dropped: the next local connection dials the
 * peer again and goes through. */
static void
test_redial (Fixture       *f,
             gconstpointer  data)
{
  fixture_setup_mode (f, TARGET_ECHO, TRUE);
  fixture_listen (f, "svc");
  punch_forward_listener_set_redial (f->listener, f->pair.server_addr, 10000);
  echo_once (f, 100000, 1);
  g_assert_cmpuint (f->reconnected, ==, 0);
  drop_connection (f);
  echo_once (f, 100000, 2);
  g_assert_cmpuint (f->reconnected, ==, 1);
  g_assert_cmpuint (f->redials, ==, 0);
  PTEST_WAIT (f->listener_done == 2);
  g_assert_no_error (f->listener_error);
  g_assert_cmpuint (f->target.accepted, ==, 2);
}

/* The peer is away for a while: the listener redials with a growing delay
 * and the waiting connection goes through once the peer is back. */
static void
test_redial_backoff (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (GSocketAddress) effective = NULL;
  g_autoptr (GSocket) probe = NULL;
  g_autoptr (PunchMultiaddr) away = NULL;
  g_autoptr (PunchMultiaddr) listen = NULL;
  g_autofree char *text = NULL;
  g_autoptr (GBytes) send = g_bytes_new_take (pattern (65536, 3), 65536);
  gsize id_len;
  const guint8 *id;
  guint16 port;
  Client *c;

  fixture_setup_mode (f, TARGET_ECHO, TRUE);
  /* A free port: nothing listens there until the peer comes "back". */
  probe = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (probe, any, FALSE, &error));
  effective = g_socket_get_local_address (probe, &error);
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_socket_close (probe, NULL);
  text = g_strdup_printf ("/ip4/127.0.0.1/tcp/%u", port);
  listen = punch_multiaddr_new_from_string (text, &error);
  g_assert_no_error (error);
  id = punch_peer_id_get_bytes (punch_host_get_peer_id (f->pair.server), &id_len);
  away = punch_multiaddr_with_peer_id (listen, id, id_len);

  fixture_listen (f, "svc");
  punch_forward_listener_set_redial (f->listener, away, 20000);
  drop_connection (f);
  c = client_start (f->local, send);
  PTEST_WAIT (f->redials == 2);
  g_assert_cmpuint (f->retry_ms[0], ==, 500);
  g_assert_cmpuint (f->retry_ms[1], ==, 1000);
  g_assert_false (c->eof);
  g_assert_cmpuint (f->target.accepted, ==, 0);
  g_assert_true (punch_host_listen (f->pair.server, listen, &error));
  g_assert_no_error (error);
  PTEST_WAIT_SECONDS (c->eof, 30);
  g_assert_no_error (c->error);
  g_assert_cmpmem (c->received->data, c->received->len, g_bytes_get_data (send, NULL), 65536);
  g_assert_cmpuint (f->reconnected, ==, 1);
  g_assert_cmpuint (f->target.accepted, ==, 1);
  client_free (c);
  PTEST_WAIT (f->listener_done == 1);
  g_assert_no_error (f->listener_error);
}

/* Nobody answers: the waiting connection gives up after its wait. */
static void
test_redial_gives_up (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) nowhere = NULL;
  g_autoptr (GBytes) send = g_bytes_new_static ("x", 1);
  Client *c;

  fixture_setup_mode (f, TARGET_ECHO, TRUE);
  /* Port 1 on loopback: refused at once. */
  nowhere = punch_multiaddr_new_from_string ("/ip4/127.0.0.1/tcp/1", &error);
  g_assert_no_error (error);
  fixture_listen (f, "svc");
  punch_forward_listener_set_redial (f->listener, nowhere, 1200);
  drop_connection (f);
  c = client_start (f->local, send);
  PTEST_WAIT (f->listener_done == 1 && c->eof);
  g_assert_error (f->listener_error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
  g_assert_cmpuint (f->redials, >=, 1);
  g_assert_cmpuint (f->reconnected, ==, 0);
  g_assert_cmpuint (c->received->len, ==, 0);
  g_assert_cmpuint (f->target.accepted, ==, 0);
  client_free (c);
}

/* --- an HTTP server (Python's http.server) ------------------------------------ */

static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* GET @path over a raw HTTP/1.0 request; returns the whole response. */
static GByteArray *
http_get (const char *local,
          const char *path)
{
  g_autofree char *request = g_strdup_printf ("GET %s HTTP/1.0\r\nHost: forwarded\r\n\r\n", path);
  g_autoptr (GBytes) send = g_bytes_new (request, strlen (request));
  Client *c = client_start (local, send);
  GByteArray *response;

  PTEST_WAIT_SECONDS (c->eof, 30);
  g_assert_no_error (c->error);
  response = g_byte_array_ref (c->received);
  client_free (c);
  return response;
}

/* Checks status and body of @response. */
static void
assert_http (GByteArray   *response,
             const char   *status,
             const guint8 *body,
             gsize         body_len)
{
  /* The head has no NUL: the search ends before the body. */
  const guint8 *end = (const guint8 *) g_strstr_len ((const char *) response->data, response->len, "\r\n\r\n");
  g_autofree char *head = NULL;
  g_autofree char *length = NULL;
  gsize head_len;

  g_assert_nonnull (end);
  head_len = end + 4 - response->data;
  head = g_strndup ((const char *) response->data, head_len);
  g_assert_true (g_str_has_prefix (head, status));
  if (body == NULL)
    return;
  length = g_strdup_printf ("\r\nContent-Length: %" G_GSIZE_FORMAT "\r\n", body_len);
  g_assert_nonnull (strstr (head, length));
  g_assert_cmpmem (response->data + head_len, response->len - head_len, body, body_len);
}

/* A web server exposed and fetched through the forward: files byte for
 * byte, a 404, and GETs at once. */
static void
test_http (Fixture       *f,
           gconstpointer  data)
{
  g_autofree char *python = g_find_program_in_path ("python3");
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *big_path = NULL;
  g_autofree char *small_path = NULL;
  g_autofree guint8 *big = pattern (3 * 1024 * 1024 + 17, 42);
  const gsize big_len = 3 * 1024 * 1024 + 17;
  const char *small = "<html><body>hello through the punch</body></html>\n";
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) server = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autofree char *line = NULL;
  g_autofree char *web = NULL;
  GByteArray *responses[4];
  const char *port;

  if (python == NULL)
    {
      g_test_skip ("python3 is not installed");
      return;
    }
  dir = g_dir_make_tmp ("punch-forward-http-XXXXXX", &error);
  g_assert_no_error (error);
  big_path = g_build_filename (dir, "data.bin", NULL);
  small_path = g_build_filename (dir, "index.html", NULL);
  g_assert_true (g_file_set_contents (big_path, (const char *) big, big_len, &error));
  g_assert_true (g_file_set_contents (small_path, small, -1, &error));

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  g_subprocess_launcher_set_cwd (launcher, dir);
  server = g_subprocess_launcher_spawn (launcher, &error, python, "-u", "-m", "http.server",
                                        "--bind", "127.0.0.1", "0", NULL);
  g_assert_no_error (error);
  /* "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..." */
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server));
  line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  port = strstr (line, " port ");
  g_assert_nonnull (port);
  web = g_strdup_printf ("127.0.0.1:%u", (guint) g_ascii_strtoull (port + 6, NULL, 10));
  g_test_message ("http.server (pid %s) on %s", g_subprocess_get_identifier (server), web);

  fixture_setup_mode (f, TARGET_ECHO, TRUE);
  g_assert_true (punch_forward_service_expose (f->server_fwd, "web", web, &error));
  g_assert_true (punch_forward_service_allow (f->server_fwd, "web",
                                              punch_host_get_peer_id (f->pair.client), &error));
  g_assert_no_error (error);
  fixture_listen (f, "web");

  responses[0] = http_get (f->local, "/index.html");
  assert_http (responses[0], "HTTP/1.0 200", (const guint8 *) small, strlen (small));
  responses[1] = http_get (f->local, "/data.bin");
  assert_http (responses[1], "HTTP/1.0 200", big, big_len);
  responses[2] = http_get (f->local, "/missing");
  assert_http (responses[2], "HTTP/1.0 404", NULL, 0);
  for (guint i = 0; i < 3; i++)
    g_byte_array_unref (responses[i]);
  {
    /* Four GETs at once. */
    g_autoptr (GBytes) send = g_bytes_new_static ("GET /data.bin HTTP/1.0\r\n\r\n", 26);
    Client *c[4];

    for (guint i = 0; i < 4; i++)
      c[i] = client_start (f->local, send);
    for (guint i = 0; i < 4; i++)
      {
        PTEST_WAIT_SECONDS (c[i]->eof, 30);
        g_assert_no_error (c[i]->error);
        assert_http (c[i]->received, "HTTP/1.0 200", big, big_len);
        client_free (c[i]);
      }
  }
  PTEST_WAIT (f->listener_done == 7);
  g_assert_no_error (f->listener_error);
  g_assert_cmpuint (f->ok_server, ==, 7);
  /* The echo target exposed next to it saw nothing. */
  g_assert_cmpuint (f->target.accepted, ==, 0);

  g_subprocess_force_exit (server);
  g_assert_true (g_subprocess_wait (server, NULL, &error));
  g_assert_true (g_subprocess_get_if_signaled (server));
  g_unlink (big_path);
  g_unlink (small_path);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, NULL, fn, fixture_teardown)
  ADD ("/core/forward/echo", test_echo);
  ADD ("/core/forward/not-allowed", test_not_allowed);
  ADD ("/core/forward/unknown-service", test_unknown_service);
  ADD ("/core/forward/target-refused", test_target_refused);
  ADD ("/core/forward/limit", test_limit);
  ADD ("/core/forward/half-close-echo", test_half_close_echo);
  ADD ("/core/forward/half-close-reverse", test_half_close_reverse);
  ADD ("/core/forward/slow-reader", test_slow_reader);
  ADD ("/core/forward/many", test_many);
  ADD ("/core/forward/large", test_large);
  ADD ("/core/forward/reset", test_reset);
  ADD ("/core/forward/not-connected", test_not_connected);
  ADD ("/core/forward/redial", test_redial);
  ADD ("/core/forward/redial-backoff", test_redial_backoff);
  ADD ("/core/forward/redial-gives-up", test_redial_gives_up);
  ADD ("/core/forward/http", test_http);
#undef ADD
  return g_test_run ();
}
