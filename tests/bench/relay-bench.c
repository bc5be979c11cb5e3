/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Load for a Circuit Relay v2 relay (ours or js's), driven by
 * tests/bench/relay-bench:
 *
 *   punch-bench-relay reserve RELAY_MA [-n N] [--in-flight K]
 *     N peers, each with its own key and connection, reserve a slot (K
 *     reservations under way at once); prints one JSON line when all are
 *     held, then holds them until stdin closes or SIGTERM, so that the
 *     caller can read the relay's memory.
 *   punch-bench-relay circuits RELAY_MA [-n M] [--bytes B]
 *     one peer reserves and echoes; M peers dial it through the relay at
 *     once and each sends B bytes on /punchline/echo/1.0.0 and reads them
 *     back; prints one JSON line with the aggregate rate.
 *
 * The relay must not limit circuits (or the runs end early) nor cap
 * reservations per IP address (every peer is on 127.0.0.1).
 */
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "punch-host.h"
#include "punch-relay-client.h"

#define ECHO_PROTOCOL "/punchline/echo/1.0.0"
#define CHUNK         65536
/* For filling or moving data, not for holding: js-libp2p's relay takes
 * about ten minutes to take 10,000 reservations. */
#define DEADLINE_S    1800

typedef struct _Bench Bench;

typedef struct
{
  Bench           *bench;
  PunchHost       *host;
  PunchRelayClient *client;
  PunchConnection *connection;
  GIOStream       *stream;
  guint8          *buf;
  guint64          sent;
  guint64          received;
  gsize            pending;  /* bytes of the current chunk still to read back */
} Peer;

struct _Bench
{
  GMainLoop      *loop;
  PunchMultiaddr *relay;
  GPtrArray      *peers;    /* (element-type Peer) */
  guint           n;
  guint           in_flight;
  guint           started;
  guint           reserved;
  guint           failed;
  guint           done;
  guint           deadline_id;
  guint64         bytes;
  gint64          t0;
  char           *relayed_addr;
  GError         *error;
};

static void
peer_free (Peer *p)
{
  g_clear_object (&p->stream);
  g_clear_object (&p->connection);
  g_clear_object (&p->client);
  if (p->host != NULL)
    punch_host_close (p->host);
  g_clear_object (&p->host);
  g_free (p->buf);
  g_free (p);
}

static Peer *
peer_new (Bench *b)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = punch_private_key_generate (&error);
  Peer *p = g_new0 (Peer, 1);

  g_assert_no_error (error);
  p->bench = b;
  p->host = punch_host_new (key);
  p->client = punch_relay_client_new (p->host);
  punch_host_allow_on_limited (p->host, ECHO_PROTOCOL);
  g_ptr_array_add (b->peers, p);
  return p;
}

static void
fail (Bench *b, const char *what, const char *message)
{
  if (b->error == NULL)
    b->error = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", what, message);
  g_main_loop_quit (b->loop);
}

static gboolean
on_deadline (gpointer user_data)
{
  fail (user_data, "deadline", "the run took too long");
  return G_SOURCE_REMOVE;
}

static gboolean
on_quit (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

/* --- reserve --------------------------------------------------------------- */

static void start_reservation (Bench *b);

static void
on_transition (PunchRelayReservation *rsv, int from, int to, const char *reason, gpointer user_data)
{
  Bench *b = user_data;

  if (to == PUNCH_RESERVATION_STATE_RESERVED && from == PUNCH_RESERVATION_STATE_RESERVING)
    {
      b->reserved++;
      start_reservation (b);
      if (b->reserved == b->n)
        g_main_loop_quit (b->loop);
    }
  /* A failed attempt is retried (the client reconnects with backoff); only
   * a relay that keeps failing ends the run. js-libp2p's, busy with
   * thousands of connections on one thread, lets some handshakes time out. */
  else if (to == PUNCH_RESERVATION_STATE_FAILED && ++b->failed > b->n / 10 + 10)
    fail (b, "reservation", reason != NULL ? reason : "failed");
}

static void
start_reservation (Bench *b)
{
  Peer *p;
  PunchRelayReservation *rsv;
  g_autoptr (GError) error = NULL;

  if (b->started == b->n)
    return;
  b->started++;
  p = peer_new (b);
  rsv = punch_relay_client_add_relay (p->client, b->relay, &error);
  g_assert_no_error (error);
  g_signal_connect (rsv, "transition", G_CALLBACK (on_transition), b);
}

static gboolean
on_stdin (gint fd, GIOCondition condition, gpointer user_data)
{
  char buf[64];

  if (read (fd, buf, sizeof buf) <= 0)
    {
      g_main_loop_quit (user_data);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static int
run_reserve (Bench *b)
{
  for (guint i = 0; i < b->in_flight; i++)
    start_reservation (b);
  g_main_loop_run (b->loop);
  if (b->error != NULL)
    {
      printf ("{\"event\":\"result\",\"ok\":false,\"error\":\"%s\",\"reserved\":%u}\n", b->error->message, b->reserved);
      return 1;
    }
  printf ("{\"event\":\"reserved\",\"n\":%u,\"failed_attempts\":%u,\"seconds\":%.3f}\n", b->reserved, b->failed,
          (g_get_monotonic_time () - b->t0) / 1e6);
  fflush (stdout);
  /* Hold them until told, however long the relay is measured. */
  g_clear_handle_id (&b->deadline_id, g_source_remove);
  g_unix_fd_add (0, G_IO_IN | G_IO_HUP, on_stdin, b->loop);
  g_main_loop_run (b->loop);
  return 0;
}

/* --- circuits -------------------------------------------------------------- */

static void echo_server_read (Peer *p);

static void
echo_server_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Peer *p = user_data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    return;
  echo_server_read (p);
}

static void
echo_server_got (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Peer *p = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    {
      g_io_stream_close_async (p->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      return;
    }
  g_output_stream_write_all_async (g_io_stream_get_output_stream (p->stream), p->buf, n, G_PRIORITY_DEFAULT,
                                   NULL, echo_server_written, p);
}

static void
echo_server_read (Peer *p)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (p->stream), p->buf, CHUNK, G_PRIORITY_DEFAULT,
                             NULL, echo_server_got, p);
}

/* Each inbound echo stream gets its own buffer (a Peer without a host). */
static void
echo_handler (PunchHost *host, PunchConnection *connection, GIOStream *stream, const char *protocol,
              gpointer user_data)
{
  Bench *b = user_data;
  Peer *p = g_new0 (Peer, 1);

  p->bench = b;
  p->stream = g_object_ref (stream);
  p->buf = g_malloc (CHUNK);
  g_ptr_array_add (b->peers, p);
  echo_server_read (p);
}

static void client_send (Peer *p);

static void
client_got (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Peer *p = user_data;
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n <= 0)
    {
      fail (p->bench, "reading the echo", n < 0 ? error->message : "end of stream");
      return;
    }
  p->received += n;
  p->pending -= n;
  if (p->pending > 0)
    {
      g_input_stream_read_async (g_io_stream_get_input_stream (p->stream), p->buf, p->pending,
                                 G_PRIORITY_DEFAULT, NULL, client_got, p);
      return;
    }
  client_send (p);
}

static void
client_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Peer *p = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      fail (p->bench, "sending", error->message);
      return;
    }
  g_input_stream_read_async (g_io_stream_get_input_stream (p->stream), p->buf, p->pending, G_PRIORITY_DEFAULT,
                             NULL, client_got, p);
}

static void
client_send (Peer *p)
{
  Bench *b = p->bench;
  gsize n = (gsize) MIN ((guint64) CHUNK, b->bytes - p->sent);

  if (n == 0)
    {
      g_io_stream_close_async (p->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      if (++b->done == b->n)
        g_main_loop_quit (b->loop);
      return;
    }
  p->sent += n;
  p->pending = n;
  g_output_stream_write_all_async (g_io_stream_get_output_stream (p->stream), p->buf, n, G_PRIORITY_DEFAULT,
                                   NULL, client_sent, p);
}

static void
client_stream_opened (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Peer *p = user_data;
  g_autoptr (GError) error = NULL;

  p->stream = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result, NULL, &error);
  if (p->stream == NULL)
    {
      fail (p->bench, "opening the echo stream", error->message);
      return;
    }
  client_send (p);
}

static void
client_dialed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Peer *p = user_data;
  g_autoptr (GError) error = NULL;
  const char *protocols[] = { ECHO_PROTOCOL, NULL };

  p->connection = punch_host_dial_finish (PUNCH_HOST (source), result, &error);
  if (p->connection == NULL)
    {
      fail (p->bench, "dialing through the relay", error->message);
      return;
    }
  /* Every circuit first, then the data on all of them at once. */
  if (++p->bench->reserved < p->bench->n)
    return;
  p->bench->t0 = g_get_monotonic_time ();
  for (guint i = 1; i <= p->bench->n; i++)
    {
      Peer *dialer = g_ptr_array_index (p->bench->peers, i);

      punch_connection_open_stream_async (dialer->connection, protocols, NULL, client_stream_opened, dialer);
    }
}

static void
on_listener_transition (PunchRelayReservation *rsv, int from, int to, const char *reason, gpointer user_data)
{
  Bench *b = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) addr = NULL;
  GPtrArray *addrs;

  if (to == PUNCH_RESERVATION_STATE_FAILED)
    {
      fail (b, "the echo peer's reservation", reason != NULL ? reason : "failed");
      return;
    }
  if (to != PUNCH_RESERVATION_STATE_RESERVED || b->relayed_addr != NULL)
    return;
  addrs = punch_relay_reservation_get_addrs (rsv);
  g_assert (addrs->len > 0);
  b->relayed_addr = punch_multiaddr_to_string (g_ptr_array_index (addrs, 0));
  addr = punch_multiaddr_new_from_string (b->relayed_addr, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < b->n; i++)
    {
      Peer *p = peer_new (b);

      p->buf = g_malloc0 (CHUNK);
      punch_host_dial_async (p->host, addr, NULL, client_dialed, p);
    }
}

static int
run_circuits (Bench *b)
{
  Peer *listener = peer_new (b);
  g_autoptr (GError) error = NULL;
  PunchRelayReservation *rsv;
  double seconds;

  punch_host_set_stream_handler (listener->host, ECHO_PROTOCOL, echo_handler, b, NULL);
  rsv = punch_relay_client_add_relay (listener->client, b->relay, &error);
  g_assert_no_error (error);
  g_signal_connect (rsv, "transition", G_CALLBACK (on_listener_transition), b);
  g_main_loop_run (b->loop);
  if (b->error != NULL)
    {
      printf ("{\"event\":\"result\",\"ok\":false,\"error\":\"%s\"}\n", b->error->message);
      return 1;
    }
  seconds = (g_get_monotonic_time () - b->t0) / 1e6;
  /* Each byte crosses the relay twice (there and back). */
  printf ("{\"event\":\"circuits\",\"n\":%u,\"bytes_each\":%" G_GUINT64_FORMAT ",\"seconds\":%.3f,"
          "\"relayed_bytes_per_second\":%.0f}\n", b->n, b->bytes, seconds, 2.0 * b->n * b->bytes / seconds);
  return 0;
}

int
main (int argc, char **argv)
{
  Bench b = { 0 };
  g_autoptr (GError) error = NULL;
  int status;

  if (argc < 3)
    {
      fprintf (stderr, "usage: %s reserve|circuits RELAY_MA [-n N] [--in-flight K] [--bytes B]\n", argv[0]);
      return 2;
    }
  b.n = g_str_equal (argv[1], "reserve") ? 1000 : 16;
  b.in_flight = 32;
  b.bytes = 16 * 1024 * 1024;
  for (int i = 3; i + 1 < argc; i += 2)
    {
      if (g_str_equal (argv[i], "-n"))
        b.n = (guint) g_ascii_strtoull (argv[i + 1], NULL, 10);
      else if (g_str_equal (argv[i], "--in-flight"))
        b.in_flight = (guint) g_ascii_strtoull (argv[i + 1], NULL, 10);
      else if (g_str_equal (argv[i], "--bytes"))
        b.bytes = g_ascii_strtoull (argv[i + 1], NULL, 10);
    }
  b.relay = punch_multiaddr_new_from_string (argv[2], &error);
  if (b.relay == NULL || b.n == 0 || b.in_flight == 0)
    {
      fprintf (stderr, "bad arguments: %s\n", error != NULL ? error->message : "zero count");
      return 2;
    }
  b.loop = g_main_loop_new (NULL, FALSE);
  b.peers = g_ptr_array_new_with_free_func ((GDestroyNotify) peer_free);
  b.t0 = g_get_monotonic_time ();
  g_unix_signal_add (SIGTERM, on_quit, b.loop);
  g_unix_signal_add (SIGINT, on_quit, b.loop);
  b.deadline_id = g_timeout_add_seconds (DEADLINE_S, on_deadline, &b);

  if (g_str_equal (argv[1], "reserve"))
    status = run_reserve (&b);
  else
    status = run_circuits (&b);

  /* Exit without tearing thousands of hosts down one by one. */
  fflush (stdout);
  _exit (status);
}
