/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-ping-service.h"

#include "protocols-test-util.h"

typedef struct
{
  PTestPair         pair;
  PunchPingService *server_ping;
  PunchPingService *client_ping;
  guint             rtt_samples;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  ptest_pair_init (&f->pair);
  f->server_ping = punch_ping_service_new (f->pair.server);
  f->client_ping = punch_ping_service_new (f->pair.client);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->server_ping);
  g_clear_object (&f->client_ping);
  ptest_pair_clear (&f->pair);
}

static void
on_rtt_sample (PunchConnection *connection,
               gint64           rtt,
               gpointer         user_data)
{
  Fixture *f = user_data;

  g_assert_cmpint (rtt, >, 0);
  f->rtt_samples++;
}

static gint64
ping (Fixture *f,
      GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  punch_ping_service_ping_async (f->client_ping, f->pair.connection, NULL,
                                 ptest_store_result, &result);
  PTEST_WAIT (result != NULL);
  return punch_ping_service_ping_finish (f->client_ping, result, error);
}

static void
test_ping_rtt (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  gint64 rtt = -1;

  ptest_pair_connect (&f->pair);
  g_signal_connect (f->pair.connection, "rtt-sample", G_CALLBACK (on_rtt_sample), f);
  for (guint i = 0; i < 3; i++)
    {
      rtt = ping (f, &error);
      g_assert_no_error (error);
      g_assert_cmpint (rtt, >, 0);
      /* Loopback: far below a second. */
      g_assert_cmpint (rtt, <, G_USEC_PER_SEC);
    }
  /* Yamux keepalive pings may add samples of their own. */
  g_assert_cmpuint (f->rtt_samples, >=, 3);
  g_assert_cmpint (punch_connection_get_rtt (f->pair.connection), >, 0);
  g_signal_handlers_disconnect_by_data (f->pair.connection, f);
}

/* Pings asked for at once run one after the other on the one stream. */
static void
test_ping_concurrent (Fixture       *f,
                      gconstpointer  data)
{
  GAsyncResult *results[5] = { NULL, };

  ptest_pair_connect (&f->pair);
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    punch_ping_service_ping_async (f->client_ping, f->pair.connection, NULL,
                                   ptest_store_result, &results[i]);
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_autoptr (GError) error = NULL;

      PTEST_WAIT (results[i] != NULL);
      g_assert_cmpint (punch_ping_service_ping_finish (f->client_ping, results[i], &error), >, 0);
      g_assert_no_error (error);
      g_clear_object (&results[i]);
    }
}

/* A callback may close the connection, or ping again and then close it. */
typedef struct
{
  Fixture      *f;
  gboolean      ping_again;
  guint         done;
  GAsyncResult *again;
} CloseInCallback;

static void
on_pong_close (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  CloseInCallback *c = user_data;
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (punch_ping_service_ping_finish (PUNCH_PING_SERVICE (source), result, &error), >, 0);
  g_assert_no_error (error);
  if (c->ping_again)
    punch_ping_service_ping_async (c->f->client_ping, c->f->pair.connection, NULL,
                                   ptest_store_result, &c->again);
  punch_connection_close (c->f->pair.connection);
  c->done++;
}

static void
test_ping_close_in_callback (Fixture       *f,
                             gconstpointer  data)
{
  CloseInCallback c = { f, GPOINTER_TO_INT (data), 0, NULL };

  ptest_pair_connect (&f->pair);
  /* A first ping so that the second one's callback runs outside the
   * iteration that started it (synchronously from g_task_return_*()). */
  punch_ping_service_ping_async (f->client_ping, f->pair.connection, NULL, on_pong_close, &c);
  PTEST_WAIT (c.done == 1);
  if (c.ping_again)
    {
      g_autoptr (GError) error = NULL;

      PTEST_WAIT (c.again != NULL);
      g_assert_cmpint (punch_ping_service_ping_finish (f->client_ping, c.again, &error), ==, -1);
      g_assert_nonnull (error);
      g_clear_object (&c.again);
    }
  ptest_spin (50);
}

/* A server answering each ping with the payload's bits flipped. */
typedef struct
{
  GIOStream *stream;
  guint8     buffer[PUNCH_PING_SIZE];
} BadEcho;

static void bad_echo_read (BadEcho *echo);

static void
on_bad_echo_written (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  BadEcho *echo = user_data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    {
      g_object_unref (echo->stream);
      g_free (echo);
      return;
    }
  bad_echo_read (echo);
}

static void
on_bad_echo_read (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  BadEcho *echo = user_data;
  gsize n = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &n, NULL) ||
      n < PUNCH_PING_SIZE)
    {
      g_io_stream_close_async (echo->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      g_object_unref (echo->stream);
      g_free (echo);
      return;
    }
  echo->buffer[7] ^= 0x01;
  g_output_stream_write_all_async (g_io_stream_get_output_stream (echo->stream),
                                   echo->buffer, PUNCH_PING_SIZE, G_PRIORITY_DEFAULT, NULL,
                                   on_bad_echo_written, echo);
}

static void
bad_echo_read (BadEcho *echo)
{
  g_input_stream_read_all_async (g_io_stream_get_input_stream (echo->stream),
                                 echo->buffer, PUNCH_PING_SIZE, G_PRIORITY_DEFAULT, NULL,
                                 on_bad_echo_read, echo);
}

static void
handle_bad_echo (PunchHost       *host,
                 PunchConnection *connection,
                 GIOStream       *stream,
                 const char      *protocol,
                 gpointer         user_data)
{
  BadEcho *echo = g_new0 (BadEcho, 1);

  echo->stream = g_object_ref (stream);
  bad_echo_read (echo);
}

static void
test_ping_mismatch (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr (GError) error = NULL;

  punch_host_set_stream_handler (f->pair.server, PUNCH_PING_PROTOCOL, handle_bad_echo, NULL, NULL);
  ptest_pair_connect (&f->pair);

  g_assert_cmpint (ping (f, &error), ==, -1);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
  g_clear_error (&error);
  /* The next ping opens a new stream and fails the same way. */
  g_assert_cmpint (ping (f, &error), ==, -1);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
}

/* A server that reads the ping and closes without answering. */
static void
handle_silent_close (PunchHost       *host,
                     PunchConnection *connection,
                     GIOStream       *stream,
                     const char      *protocol,
                     gpointer         user_data)
{
  ptest_write_and_close (stream, g_bytes_new_static ("short", 5));
}

static void
test_ping_short_answer (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr (GError) error = NULL;

  punch_host_set_stream_handler (f->pair.server, PUNCH_PING_PROTOCOL, handle_silent_close, NULL, NULL);
  ptest_pair_connect (&f->pair);
  g_assert_cmpint (ping (f, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
}

static void
test_ping_not_supported (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr (GError) error = NULL;

  g_clear_object (&f->server_ping);
  /* The server speaks something, just not ping. */
  punch_host_set_stream_handler (f->pair.server, "/test/other/1.0.0", handle_silent_close, NULL, NULL);
  ptest_pair_connect (&f->pair);
  g_assert_cmpint (ping (f, &error), ==, -1);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_NEGOTIATION_FAILED);
}

static void
test_ping_cancelled (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  ptest_pair_connect (&f->pair);
  g_cancellable_cancel (cancellable);
  punch_ping_service_ping_async (f->client_ping, f->pair.connection, cancellable,
                                 ptest_store_result, &result);
  PTEST_WAIT (result != NULL);
  g_assert_cmpint (punch_ping_service_ping_finish (f->client_ping, result, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* The service recovers. */
  g_assert_cmpint (ping (f, &error), >, 0);
  g_assert_no_error (error);
}

static void
test_ping_closed_connection (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr (GError) error = NULL;

  ptest_pair_connect (&f->pair);
  g_assert_cmpint (ping (f, &error), >, 0);
  punch_connection_close (f->pair.connection);
  g_assert_cmpint (ping (f, &error), ==, -1);
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_IO_ERROR);
}

/* A server that answers one ping per stream, then closes it (as js's
 * handler resets streams 10 s old): the client retries on a new stream. */
typedef struct
{
  GIOStream *stream;
  guint8     buffer[PUNCH_PING_SIZE];
  guint     *streams;
} OneEcho;

static void
on_one_echo_written (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  OneEcho *echo = user_data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);
  g_io_stream_close_async (echo->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_object_unref (echo->stream);
  g_free (echo);
}

static void
on_one_echo_read (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  OneEcho *echo = user_data;
  gsize n = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &n, NULL) ||
      n < PUNCH_PING_SIZE)
    {
      g_object_unref (echo->stream);
      g_free (echo);
      return;
    }
  g_output_stream_write_all_async (g_io_stream_get_output_stream (echo->stream),
                                   echo->buffer, PUNCH_PING_SIZE, G_PRIORITY_DEFAULT, NULL,
                                   on_one_echo_written, echo);
}

static void
handle_one_echo (PunchHost       *host,
                 PunchConnection *connection,
                 GIOStream       *stream,
                 const char      *protocol,
                 gpointer         user_data)
{
  OneEcho *echo = g_new0 (OneEcho, 1);
  guint *streams = user_data;

  (*streams)++;
  echo->stream = g_object_ref (stream);
  g_input_stream_read_all_async (g_io_stream_get_input_stream (stream), echo->buffer,
                                 PUNCH_PING_SIZE, G_PRIORITY_DEFAULT, NULL, on_one_echo_read, echo);
}

static void
test_ping_retry_after_close (Fixture       *f,
                             gconstpointer  data)
{
  guint streams = 0;

  punch_host_set_stream_handler (f->pair.server, PUNCH_PING_PROTOCOL, handle_one_echo, &streams, NULL);
  ptest_pair_connect (&f->pair);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_cmpint (ping (f, &error), >, 0);
      g_assert_no_error (error);
      /* Let the server's close arrive before the next ping. */
      ptest_spin (50);
    }
  /* One stream per ping: each later ping found its stream closed. */
  g_assert_cmpuint (streams, ==, 3);
}

/* The server echoes on at most two streams from one peer. */
typedef struct
{
  GIOStream *stream;
  guint8     out[PUNCH_PING_SIZE];
  guint8     in[PUNCH_PING_SIZE];
  gboolean   done;
  gboolean   ok;
} RawPing;

static void
on_raw_read (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  RawPing *p = user_data;
  gsize n = 0;

  p->ok = g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &n, NULL) &&
          n == PUNCH_PING_SIZE && memcmp (p->in, p->out, PUNCH_PING_SIZE) == 0;
  p->done = TRUE;
}

static void
on_raw_written (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  RawPing *p = user_data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    {
      p->done = TRUE;
      return;
    }
  g_input_stream_read_all_async (g_io_stream_get_input_stream (p->stream), p->in, PUNCH_PING_SIZE,
                                 G_PRIORITY_DEFAULT, NULL, on_raw_read, p);
}

static void
on_raw_opened (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  RawPing *p = user_data;
  g_autoptr (GError) error = NULL;

  p->stream = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result, NULL, &error);
  g_assert_no_error (error);
  memset (p->out, 0x5a, sizeof p->out);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (p->stream), p->out,
                                   PUNCH_PING_SIZE, G_PRIORITY_DEFAULT, NULL, on_raw_written, p);
}

static void
test_ping_inbound_limit (Fixture       *f,
                         gconstpointer  data)
{
  static const char * const protocols[] = { PUNCH_PING_PROTOCOL, NULL };
  RawPing pings[3] = { { NULL, }, };

  ptest_pair_connect (&f->pair);
  /* One at a time, so that the third is the one refused. */
  for (guint i = 0; i < G_N_ELEMENTS (pings); i++)
    {
      punch_connection_open_stream_async (f->pair.connection, protocols, NULL, on_raw_opened, &pings[i]);
      PTEST_WAIT (pings[i].done);
    }
  g_assert_true (pings[0].ok);
  g_assert_true (pings[1].ok);
  g_assert_false (pings[2].ok);

  /* Closing one frees a slot. */
  g_io_stream_close_async (pings[0].stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  ptest_spin (100);
  g_clear_object (&pings[2].stream);
  memset (&pings[2], 0, sizeof pings[2]);
  punch_connection_open_stream_async (f->pair.connection, protocols, NULL, on_raw_opened, &pings[2]);
  PTEST_WAIT (pings[2].done);
  g_assert_true (pings[2].ok);

  for (guint i = 0; i < G_N_ELEMENTS (pings); i++)
    g_clear_object (&pings[i].stream);
}

/* The server closes a ping stream that stays quiet for 10 s. */
static void
on_idle_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  gssize *n = user_data;

  *n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);
}

static void
test_ping_idle_close (Fixture       *f,
                      gconstpointer  data)
{
  static const char * const protocols[] = { PUNCH_PING_PROTOCOL, NULL };
  RawPing p = { NULL, };
  guint8 buffer[8];
  gssize n = 1;
  gint64 started;

  ptest_pair_connect (&f->pair);
  punch_connection_open_stream_async (f->pair.connection, protocols, NULL, on_raw_opened, &p);
  PTEST_WAIT (p.done);
  g_assert_true (p.ok);

  started = g_get_monotonic_time ();
  g_input_stream_read_async (g_io_stream_get_input_stream (p.stream), buffer, sizeof buffer,
                             G_PRIORITY_DEFAULT, NULL, on_idle_read, &n);
  PTEST_WAIT_SECONDS (n <= 0, 15);
  /* Not before the idle time: 10 s, with slack for a loaded machine. */
  g_assert_cmpint (g_get_monotonic_time () - started, >, 9 * G_USEC_PER_SEC);
  g_clear_object (&p.stream);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/core/ping/rtt", test_ping_rtt);
  ADD ("/core/ping/concurrent", test_ping_concurrent);
  ADD ("/core/ping/mismatch", test_ping_mismatch);
  ADD ("/core/ping/short-answer", test_ping_short_answer);
  ADD ("/core/ping/not-supported", test_ping_not_supported);
  ADD ("/core/ping/cancelled", test_ping_cancelled);
  ADD ("/core/ping/closed-connection", test_ping_closed_connection);
  ADD ("/core/ping/inbound-limit", test_ping_inbound_limit);
  ADD ("/core/ping/idle-close", test_ping_idle_close);
  ADD ("/core/ping/retry-after-close", test_ping_retry_after_close);
  g_test_add ("/core/ping/close-in-callback", Fixture, GINT_TO_POINTER (FALSE),
              fixture_setup, test_ping_close_in_callback, fixture_teardown);
  g_test_add ("/core/ping/ping-and-close-in-callback", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_ping_close_in_callback, fixture_teardown);
#undef ADD

  return g_test_run ();
}
