/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "punch-error.h"
#include "punch-yamux-private.h"
#include "punch-yamux-session.h"
#include "punch-yamux-stream.h"

#define DEADLINE_S 60

/* Runs the main loop until @cond holds; fails the test at the deadline. A
 * 50 ms tick in every fixture keeps the blocking iteration from sleeping
 * through it. */
#define WAIT_FOR(cond) \
  G_STMT_START { \
    gint64 _deadline = g_get_monotonic_time () + DEADLINE_S * G_USEC_PER_SEC; \
    while (!(cond)) \
      { \
        if (g_get_monotonic_time () > _deadline) \
          g_error ("timed out waiting for %s", #cond); \
        g_main_context_iteration (NULL, TRUE); \
      } \
  } G_STMT_END

static void
spin_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
}

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

static GIOStream *
connection_from_fd (int fd)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

/* Fixture: a client and a server session over a socketpair, or one session
 * ("session") facing a raw socket the test drives frame by frame. */

typedef struct
{
  guint8 version;
  guint8 type;
  guint16 flags;
  guint32 id;
  guint32 length;
  GBytes *payload;
} Frame;

typedef struct
{
  guint tick_id;

  PunchYamuxSession *client;
  PunchYamuxSession *server;
  GPtrArray *client_accepted;
  GPtrArray *server_accepted;
  gboolean client_closed;
  gboolean server_closed;
  guint client_closed_count;
  GError *client_error;
  GError *server_error;

  /* Raw mode: "server" is NULL, raw_fd is the remote end of "client". */
  int raw_fd;
  GByteArray *raw_rx;
  gboolean raw_eof;
} Fixture;

static void
on_stream (PunchYamuxSession *session,
           PunchYamuxStream  *stream,
           gpointer           user_data)
{
  g_ptr_array_add (user_data, g_object_ref (stream));
}

static void
on_client_closed (PunchYamuxSession *session,
                  const GError      *error,
                  gpointer           user_data)
{
  Fixture *f = user_data;

  f->client_closed = TRUE;
  f->client_closed_count++;
  f->client_error = error != NULL ? g_error_copy (error) : NULL;
}

static void
on_server_closed (PunchYamuxSession *session,
                  const GError      *error,
                  gpointer           user_data)
{
  Fixture *f = user_data;

  f->server_closed = TRUE;
  f->server_error = error != NULL ? g_error_copy (error) : NULL;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  f->tick_id = g_timeout_add (50, tick, NULL);
  f->client_accepted = g_ptr_array_new_with_free_func (g_object_unref);
  f->server_accepted = g_ptr_array_new_with_free_func (g_object_unref);
  a = connection_from_fd (fds[0]);
  f->client = punch_yamux_session_new (a, TRUE);
  g_signal_connect (f->client, "stream", G_CALLBACK (on_stream), f->client_accepted);
  g_signal_connect (f->client, "closed", G_CALLBACK (on_client_closed), f);

  if (GPOINTER_TO_INT (data))
    {
      f->raw_fd = fds[1];
      f->raw_rx = g_byte_array_new ();
      return;
    }

  f->raw_fd = -1;
  b = connection_from_fd (fds[1]);
  f->server = punch_yamux_session_new (b, FALSE);
  g_signal_connect (f->server, "stream", G_CALLBACK (on_stream), f->server_accepted);
  g_signal_connect (f->server, "closed", G_CALLBACK (on_server_closed), f);
  punch_yamux_session_start (f->client);
  punch_yamux_session_start (f->server);
}

static void
close_session (PunchYamuxSession *session)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  punch_yamux_session_close_async (session, NULL, store_result, &result);
  WAIT_FOR (result != NULL);
  g_assert_true (punch_yamux_session_close_finish (session, result, &error));
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_ptr_array_unref (f->client_accepted);
  g_ptr_array_unref (f->server_accepted);

  if (f->raw_fd >= 0)
    close (f->raw_fd);
  close_session (f->client);
  if (f->server != NULL)
    close_session (f->server);

  /* No reference cycle may keep a session alive once it is closed. */
  g_object_add_weak_pointer (G_OBJECT (f->client), (gpointer *) &f->client);
  g_object_unref (f->client);
  if (f->server != NULL)
    {
      g_object_add_weak_pointer (G_OBJECT (f->server), (gpointer *) &f->server);
      g_object_unref (f->server);
    }
  WAIT_FOR (f->client == NULL && f->server == NULL);

  g_clear_error (&f->client_error);
  g_clear_error (&f->server_error);
  g_clear_pointer (&f->raw_rx, g_byte_array_unref);
  g_source_remove (f->tick_id);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static PunchYamuxStream *
open_stream (PunchYamuxSession *session)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  PunchYamuxStream *stream;

  punch_yamux_session_open_stream_async (session, NULL, store_result, &result);
  WAIT_FOR (result != NULL);
  stream = punch_yamux_session_open_stream_finish (session, result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (stream);
  return stream;
}

static void
write_all (PunchYamuxStream *stream,
           const void       *data,
           gsize             len)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (stream));

  g_output_stream_write_all_async (out, data, len, G_PRIORITY_DEFAULT, NULL, store_result, &result);
  WAIT_FOR (result != NULL);
  g_assert_true (g_output_stream_write_all_finish (out, result, NULL, &error));
  g_assert_no_error (error);
}

static void
close_output (PunchYamuxStream *stream)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (stream));

  g_output_stream_close_async (out, G_PRIORITY_DEFAULT, NULL, store_result, &result);
  WAIT_FOR (result != NULL);
  g_assert_true (g_output_stream_close_finish (out, result, &error));
  g_assert_no_error (error);
}

/* Reads one chunk; returns its length, 0 at EOF, -1 with @error. */
static gssize
read_some (PunchYamuxStream *stream,
           void             *buf,
           gsize             len,
           GError          **error)
{
  g_autoptr (GAsyncResult) result = NULL;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (stream));

  g_input_stream_read_async (in, buf, len, G_PRIORITY_DEFAULT, NULL, store_result, &result);
  WAIT_FOR (result != NULL);
  return g_input_stream_read_finish (in, result, error);
}

/* Reads until EOF. */
static GBytes *
read_to_end (PunchYamuxStream *stream)
{
  g_autoptr (GByteArray) all = g_byte_array_new ();
  guint8 buf[4096];

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      gssize n = read_some (stream, buf, sizeof buf, &error);

      g_assert_no_error (error);
      g_assert_cmpint (n, >=, 0);
      if (n == 0)
        break;
      g_byte_array_append (all, buf, n);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&all));
}

/* Echo service: reads, writes back, FINs after the remote's FIN. */

typedef struct
{
  PunchYamuxStream *stream;
  guint8 buf[64 * 1024];
  gboolean done;
} Echo;

static void echo_read (Echo *echo);

static void
echo_closed (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Echo *echo = user_data;

  g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, NULL);
  echo->done = TRUE;
}

static void
echo_written (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Echo *echo = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    g_error ("echo write failed: %s", error->message);
  echo_read (echo);
}

static void
echo_got (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Echo *echo = user_data;
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (echo->stream));

  if (n < 0)
    g_error ("echo read failed: %s", error->message);
  if (n == 0)
    {
      g_output_stream_close_async (out, G_PRIORITY_DEFAULT, NULL, echo_closed, echo);
      return;
    }
  g_output_stream_write_all_async (out, echo->buf, n, G_PRIORITY_DEFAULT, NULL, echo_written, echo);
}

static void
echo_read (Echo *echo)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (echo->stream)),
                             echo->buf, sizeof echo->buf, G_PRIORITY_DEFAULT, NULL, echo_got, echo);
}

static void
on_stream_echo (PunchYamuxSession *session,
                PunchYamuxStream  *stream,
                gpointer           user_data)
{
  GPtrArray *echoes = user_data;
  Echo *echo = g_new0 (Echo, 1);

  echo->stream = g_object_ref (stream);
  g_ptr_array_add (echoes, echo);
  echo_read (echo);
}

static void
echo_free (gpointer data)
{
  Echo *echo = data;

  g_object_unref (echo->stream);
  g_free (echo);
}

/* open-echo */

static void
test_open_echo (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr (GPtrArray) echoes = g_ptr_array_new_with_free_func (echo_free);
  g_autoptr (PunchYamuxStream) stream = NULL;
  g_autoptr (PunchYamuxStream) back = NULL;
  g_autoptr (GBytes) reply = NULL;
  g_autoptr (GBytes) reply2 = NULL;

  g_signal_connect (f->server, "stream", G_CALLBACK (on_stream_echo), echoes);

  stream = open_stream (f->client);
  g_assert_cmpuint (punch_yamux_stream_get_id (stream), ==, 1);
  write_all (stream, "hello yamux", 11);
  close_output (stream);
  reply = read_to_end (stream);
  g_assert_cmpmem (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply), "hello yamux", 11);
  g_assert_cmpuint (punch_yamux_stream_get_bytes_sent (stream), ==, 11);
  g_assert_cmpuint (punch_yamux_stream_get_bytes_received (stream), ==, 11);
  WAIT_FOR (echoes->len == 1 && ((Echo *) echoes->pdata[0])->done);
  /* Both directions are done: the stream left both sessions. */
  WAIT_FOR (punch_yamux_session_get_n_streams (f->client) == 0 &&
            punch_yamux_session_get_n_streams (f->server) == 0);

  /* The server opens with an even ID; the client does not echo (no echo
   * handler there), so the test plays the client side by hand. */
  back = open_stream (f->server);
  g_assert_cmpuint (punch_yamux_stream_get_id (back), ==, 2);
  write_all (back, "x", 1);
  WAIT_FOR (f->client_accepted->len == 1);
  close_output (back);
  reply2 = read_to_end (f->client_accepted->pdata[0]);
  g_assert_cmpmem (g_bytes_get_data (reply2, NULL), g_bytes_get_size (reply2), "x", 1);
  g_assert_cmpuint (punch_yamux_stream_get_id (f->client_accepted->pdata[0]), ==, 2);
}

/* Many concurrent streams, each a byte-exact echo round trip. */

#define PATTERN(k, i) ((guint8) (((i) * 131u + (k) * 7u + ((i) >> 13)) ^ (k)))

typedef struct
{
  PunchYamuxStream *stream;
  guint index;
  gsize total;
  gsize chunk;
  gsize written;
  gsize received;
  guint8 out[64 * 1024];
  guint8 in[48 * 1024];
  gboolean write_done;
  gboolean read_done;
  gboolean mismatch;
} Transfer;

static void transfer_write (Transfer *t);
static void transfer_read (Transfer *t);

static void
transfer_written (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Transfer *t = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    g_error ("transfer write failed: %s", error->message);
  transfer_write (t);
}

static void
transfer_output_closed (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  Transfer *t = user_data;

  g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, NULL);
  t->write_done = TRUE;
}

static void
transfer_write (Transfer *t)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (t->stream));
  gsize n = MIN (t->chunk, t->total - t->written);

  if (n == 0)
    {
      g_output_stream_close_async (out, G_PRIORITY_DEFAULT, NULL, transfer_output_closed, t);
      return;
    }
  for (gsize i = 0; i < n; i++)
    t->out[i] = PATTERN (t->index, t->written + i);
  t->written += n;
  g_output_stream_write_all_async (out, t->out, n, G_PRIORITY_DEFAULT, NULL, transfer_written, t);
}

static void
transfer_got (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Transfer *t = user_data;
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n < 0)
    g_error ("transfer read failed: %s", error->message);
  if (n == 0)
    {
      t->read_done = TRUE;
      return;
    }
  for (gssize i = 0; i < n; i++)
    if (t->in[i] != PATTERN (t->index, t->received + i))
      t->mismatch = TRUE;
  t->received += n;
  transfer_read (t);
}

static void
transfer_read (Transfer *t)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (t->stream)),
                             t->in, sizeof t->in, G_PRIORITY_DEFAULT, NULL, transfer_got, t);
}

static void
test_concurrent (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr (GPtrArray) echoes = g_ptr_array_new_with_free_func (echo_free);
  const guint n_streams = 50;
  const gsize size = 4 * 1024 * 1024;
  Transfer *transfers = g_new0 (Transfer, n_streams);
  gboolean all_done = FALSE;
  gint64 start = g_get_monotonic_time ();

  g_signal_connect (f->server, "stream", G_CALLBACK (on_stream_echo), echoes);
  for (guint k = 0; k < n_streams; k++)
    {
      transfers[k].stream = open_stream (f->client);
      transfers[k].index = k;
      transfers[k].total = size;
      transfers[k].chunk = sizeof transfers[k].out;
      transfer_write (&transfers[k]);
      transfer_read (&transfers[k]);
    }

  while (!all_done)
    {
      all_done = TRUE;
      for (guint k = 0; k < n_streams; k++)
        all_done = all_done && transfers[k].read_done && transfers[k].write_done;
      if (g_get_monotonic_time () - start > 100 * G_USEC_PER_SEC)
        g_error ("concurrent transfers timed out");
      if (!all_done)
        g_main_context_iteration (NULL, TRUE);
    }
  g_test_message ("50 x 4 MiB echoed in %.2f s",
                  (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);

  for (guint k = 0; k < n_streams; k++)
    {
      g_assert_false (transfers[k].mismatch);
      g_assert_cmpuint (transfers[k].received, ==, size);
      g_assert_cmpuint (punch_yamux_stream_get_bytes_sent (transfers[k].stream), ==, size);
      g_object_unref (transfers[k].stream);
    }
  g_assert_cmpuint (echoes->len, ==, n_streams);
  WAIT_FOR (punch_yamux_session_get_n_streams (f->client) == 0 &&
            punch_yamux_session_get_n_streams (f->server) == 0);
  g_free (transfers);
}

/* A sink that reads and counts. */

typedef struct
{
  PunchYamuxStream *stream;
  guint8 buf[64 * 1024];
  gsize received;
  gboolean eof;
  gboolean mismatch;
} Sink;

static void sink_read (Sink *sink);

static void
sink_got (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Sink *sink = user_data;
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n < 0)
    g_error ("sink read failed: %s", error->message);
  if (n == 0)
    {
      sink->eof = TRUE;
      return;
    }
  for (gssize i = 0; i < n; i++)
    if (sink->buf[i] != PATTERN (0, sink->received + i))
      sink->mismatch = TRUE;
  sink->received += n;
  sink_read (sink);
}

static void
sink_read (Sink *sink)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (sink->stream)),
                             sink->buf, sizeof sink->buf, G_PRIORITY_DEFAULT, NULL, sink_got, sink);
}

static void
test_window_growth (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr (PunchYamuxStream) stream = open_stream (f->client);
  Transfer *t = g_new0 (Transfer, 1);
  Sink sink = { 0 };
  const gsize size = 32 * 1024 * 1024;
  gint64 start;
  double secs;

  t->stream = stream;
  t->total = size;
  t->chunk = sizeof t->out;
  start = g_get_monotonic_time ();
  transfer_write (t);
  WAIT_FOR (f->server_accepted->len == 1);
  sink.stream = f->server_accepted->pdata[0];
  sink_read (&sink);
  WAIT_FOR (sink.eof && t->write_done);
  secs = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  g_test_message ("32 MiB in %.3f s (%.0f MiB/s), receive window grew to %u",
                  secs, 32 / secs, sink.stream->recv_window_max);

  g_assert_false (sink.mismatch);
  g_assert_cmpuint (sink.received, ==, size);
  g_assert_cmpuint (sink.stream->recv_window_max, >, PUNCH_YAMUX_INITIAL_WINDOW);
  g_assert_cmpuint (sink.stream->recv_window_max, <=, PUNCH_YAMUX_MAX_WINDOW);
  /* The sender saw the grants: its window went beyond the initial one. */
  g_assert_cmpuint (punch_yamux_stream_get_bytes_sent (stream), ==, size);
  g_free (t);
}

/* Throughput, only with -m perf: the same async copy loop over a raw
 * socketpair and over one Yamux stream, in CPU time and wall time. */

typedef struct
{
  GInputStream *in;
  GOutputStream *out;
  gsize total;
  gsize sent;
  gsize received;
  guint8 wbuf[256 * 1024];
  guint8 rbuf[256 * 1024];
  gboolean done;
} Pump;

static void pump_write (Pump *p);
static void pump_read (Pump *p);

static void
pump_written (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Pump *p = user_data;
  gsize n = 0;

  g_assert_true (g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &n, NULL));
  p->sent += n;
  pump_write (p);
}

static void
pump_write (Pump *p)
{
  gsize n = MIN (sizeof p->wbuf, p->total - p->sent);

  if (n > 0)
    g_output_stream_write_all_async (p->out, p->wbuf, n, G_PRIORITY_DEFAULT, NULL, pump_written, p);
}

static void
pump_got (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Pump *p = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  g_assert_cmpint (n, >, 0);
  p->received += n;
  if (p->received == p->total)
    p->done = TRUE;
  else
    pump_read (p);
}

static void
pump_read (Pump *p)
{
  g_input_stream_read_async (p->in, p->rbuf, sizeof p->rbuf, G_PRIORITY_DEFAULT, NULL, pump_got, p);
}

static double
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static void
run_pump (Pump       *p,
          const char *what)
{
  gint64 start = g_get_monotonic_time ();
  double cpu = cpu_seconds ();
  double secs;

  pump_write (p);
  pump_read (p);
  WAIT_FOR (p->done);
  secs = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  cpu = cpu_seconds () - cpu;
  g_test_message ("%s: %zu MiB in %.3f s (%.0f MiB/s), %.3f s CPU (%.0f MiB per CPU second)",
                  what, p->total >> 20, secs, (p->total >> 20) / secs, cpu, (p->total >> 20) / cpu);
}

static void
test_throughput (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree Pump *raw = g_new0 (Pump, 1);
  g_autofree Pump *mux = g_new0 (Pump, 1);
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  g_autoptr (PunchYamuxStream) stream = NULL;
  int fds[2];

  if (!g_test_perf ())
    {
      g_test_skip ("throughput figures only with -m perf");
      return;
    }

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  a = connection_from_fd (fds[0]);
  b = connection_from_fd (fds[1]);
  raw->out = g_io_stream_get_output_stream (a);
  raw->in = g_io_stream_get_input_stream (b);
  raw->total = 1024 * 1024 * 1024;
  run_pump (raw, "raw socketpair");

  stream = open_stream (f->client);
  write_all (stream, "s", 1);
  WAIT_FOR (f->server_accepted->len == 1);
  {
    guint8 byte;
    g_autoptr (GError) error = NULL;

    g_assert_cmpint (read_some (f->server_accepted->pdata[0], &byte, 1, &error), ==, 1);
  }
  mux->out = g_io_stream_get_output_stream (G_IO_STREAM (stream));
  mux->in = g_io_stream_get_input_stream (G_IO_STREAM (f->server_accepted->pdata[0]));
  mux->total = 1024 * 1024 * 1024;
  run_pump (mux, "yamux stream");
}

static void
test_backpressure (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr (PunchYamuxStream) stream = open_stream (f->client);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  const gsize size = 64 * 1024 * 1024;
  g_autofree guint8 *big = g_malloc0 (size);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (stream));
  PunchYamuxStream *remote;
  gsize written = 0;
  guint8 buf[1000];

  g_output_stream_write_all_async (out, big, size, G_PRIORITY_DEFAULT, NULL, store_result, &result);
  WAIT_FOR (f->server_accepted->len == 1);
  remote = f->server_accepted->pdata[0];
  WAIT_FOR (punch_yamux_stream_buffered (remote) == PUNCH_YAMUX_INITIAL_WINDOW);

  /* Nothing more arrives while nobody reads. */
  spin_for (300);
  g_assert_null (result);
  g_assert_cmpuint (punch_yamux_stream_buffered (remote), ==, PUNCH_YAMUX_INITIAL_WINDOW);
  g_assert_cmpuint (punch_yamux_stream_get_bytes_received (remote), ==, PUNCH_YAMUX_INITIAL_WINDOW);
  g_assert_cmpuint (stream->send_window, ==, 0);

  /* Reading a little grants nothing yet (less than half the window)... */
  g_assert_cmpint (read_some (remote, buf, sizeof buf, &error), ==, sizeof buf);
  g_assert_no_error (error);
  spin_for (100);
  g_assert_cmpuint (punch_yamux_stream_get_bytes_received (remote), ==, PUNCH_YAMUX_INITIAL_WINDOW);

  /* ...reading half of it lets the writer go on, still within the window. */
  while (punch_yamux_stream_get_bytes_received (remote) == PUNCH_YAMUX_INITIAL_WINDOW)
    {
      g_assert_cmpint (read_some (remote, buf, sizeof buf, &error), >, 0);
      g_assert_no_error (error);
      g_assert_cmpuint (punch_yamux_stream_buffered (remote), <=, remote->recv_window_max);
      spin_for (1);
    }
  spin_for (100);
  g_assert_cmpuint (punch_yamux_stream_buffered (remote), <=, remote->recv_window_max);
  g_assert_null (result);

  punch_yamux_stream_reset (stream);
  WAIT_FOR (result != NULL);
  g_assert_false (g_output_stream_write_all_finish (out, result, &written, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_cmpuint (written, <, size);
}

static void
test_half_close (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr (PunchYamuxStream) stream = open_stream (f->client);
  g_autoptr (GBytes) request = NULL;
  g_autoptr (GBytes) reply = NULL;
  PunchYamuxStream *remote;

  write_all (stream, "ping", 4);
  close_output (stream);
  WAIT_FOR (f->server_accepted->len == 1);
  remote = f->server_accepted->pdata[0];
  request = read_to_end (remote);
  g_assert_cmpmem (g_bytes_get_data (request, NULL), g_bytes_get_size (request), "ping", 4);

  /* The remote FINed; this direction still works. */
  g_assert_cmpuint (punch_yamux_session_get_n_streams (f->server), ==, 1);
  write_all (remote, "pong", 4);
  write_all (remote, "pong", 4);
  close_output (remote);
  g_assert_cmpuint (punch_yamux_session_get_n_streams (f->server), ==, 0);
  reply = read_to_end (stream);
  g_assert_cmpmem (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply), "pongpong", 8);
  g_assert_cmpuint (punch_yamux_session_get_n_streams (f->client), ==, 0);
}

static void
test_reset (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr (PunchYamuxStream) stream = open_stream (f->client);
  g_autoptr (PunchYamuxStream) other = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  GInputStream *in;
  PunchYamuxStream *remote;
  guint8 buf[16];

  write_all (stream, "a", 1);
  WAIT_FOR (f->server_accepted->len == 1);
  remote = f->server_accepted->pdata[0];
  in = g_io_stream_get_input_stream (G_IO_STREAM (remote));
  g_assert_cmpint (read_some (remote, buf, sizeof buf, &error), ==, 1);

  /* Client resets while the server has a read pending. */
  g_input_stream_read_async (in, buf, sizeof buf, G_PRIORITY_DEFAULT, NULL, store_result, &result);
  spin_for (20);
  g_assert_null (result);
  punch_yamux_stream_reset (stream);
  WAIT_FOR (result != NULL);
  g_assert_cmpint (g_input_stream_read_finish (in, result, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_nonnull (strstr (error->message, "reset by the remote"));
  g_clear_error (&error);
  g_clear_object (&result);
  /* Later writes fail too, and the local side fails its own writes. */
  g_output_stream_write_async (g_io_stream_get_output_stream (G_IO_STREAM (remote)), "b", 1,
                               G_PRIORITY_DEFAULT, NULL, store_result, &result);
  WAIT_FOR (result != NULL);
  g_assert_cmpint (g_output_stream_write_finish (g_io_stream_get_output_stream (G_IO_STREAM (remote)),
                                                 result, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_clear_error (&error);
  g_clear_object (&result);
  g_assert_cmpint (read_some (stream, buf, sizeof buf, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_clear_error (&error);
  WAIT_FOR (punch_yamux_session_get_n_streams (f->server) == 0);
  g_assert_cmpuint (punch_yamux_session_get_n_streams (f->client), ==, 0);

  /* The other way: the server resets, the client's pending read fails. */
  other = open_stream (f->client);
  write_all (other, "c", 1);
  WAIT_FOR (f->server_accepted->len == 2);
  in = g_io_stream_get_input_stream (G_IO_STREAM (other));
  g_input_stream_read_async (in, buf, sizeof buf, G_PRIORITY_DEFAULT, NULL, store_result, &result);
  punch_yamux_stream_reset (f->server_accepted->pdata[1]);
  WAIT_FOR (result != NULL);
  g_assert_cmpint (g_input_stream_read_finish (in, result, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_nonnull (strstr (error->message, "reset by the remote"));
  WAIT_FOR (punch_yamux_session_get_n_streams (f->client) == 0);
  g_assert_false (f->client_closed || f->server_closed);
}

static void
test_cancel (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr (PunchYamuxStream) stream = open_stream (f->client);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) echoed = NULL;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (stream));
  guint8 buf[16];

  g_input_stream_read_async (in, buf, sizeof buf, G_PRIORITY_DEFAULT, cancellable, store_result, &result);
  spin_for (20);
  g_assert_null (result);
  g_cancellable_cancel (cancellable);
  WAIT_FOR (result != NULL);
  g_assert_cmpint (g_input_stream_read_finish (in, result, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* The stream still works afterwards. */
  write_all (stream, "z", 1);
  WAIT_FOR (f->server_accepted->len == 1);
  write_all (f->server_accepted->pdata[0], "y", 1);
  close_output (f->server_accepted->pdata[0]);
  echoed = read_to_end (stream);
  g_assert_cmpmem (g_bytes_get_data (echoed, NULL), g_bytes_get_size (echoed), "y", 1);
}

static void
test_ping (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  gint64 rtt;

  punch_yamux_session_ping_async (f->client, NULL, store_result, &result);
  WAIT_FOR (result != NULL);
  rtt = punch_yamux_session_ping_finish (f->client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (rtt, >, 0);
  g_assert_cmpint (rtt, <, 10 * G_USEC_PER_SEC);
  g_assert_cmpint (punch_yamux_session_get_rtt (f->client), >, 0);
  WAIT_FOR (punch_yamux_session_get_rtt (f->server) > 0);
}

static void
test_cancel_write (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr (PunchYamuxStream) stream = open_stream (f->client);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *big = g_malloc0 (1024 * 1024);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (stream));
  gsize written = 0;

  /* Nobody reads on the server: the write blocks on the window. */
  g_output_stream_write_all_async (out, big, 1024 * 1024, G_PRIORITY_DEFAULT, cancellable,
                                   store_result, &result);
  WAIT_FOR (stream->send_window == 0);
  spin_for (20);
  g_assert_null (result);
  g_cancellable_cancel (cancellable);
  WAIT_FOR (result != NULL);
  g_assert_false (g_output_stream_write_all_finish (out, result, &written, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (written, ==, PUNCH_YAMUX_INITIAL_WINDOW);
  g_assert_false (f->client_closed);

  /* A write pending when the stream is closed fails; closing both ways
   * drops the stream from the session even though the remote never FINed. */
  g_clear_object (&result);
  g_clear_error (&error);
  g_output_stream_write_async (out, big, 10, G_PRIORITY_DEFAULT, NULL, store_result, &result);
  {
    g_autoptr (GAsyncResult) close_result = NULL;

    g_io_stream_close_async (G_IO_STREAM (stream), G_PRIORITY_DEFAULT, NULL, store_result, &close_result);
    WAIT_FOR (close_result != NULL && result != NULL);
    g_assert_true (g_io_stream_close_finish (G_IO_STREAM (stream), close_result, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpint (g_output_stream_write_finish (out, result, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpuint (punch_yamux_session_get_n_streams (f->client), ==, 0);

  /* The server still reads everything that was sent, then EOF. */
  {
    PunchYamuxStream *remote = f->server_accepted->pdata[0];
    g_autoptr (GBytes) all = read_to_end (remote);

    g_assert_cmpuint (g_bytes_get_size (all), ==, PUNCH_YAMUX_INITIAL_WINDOW);
  }
  g_assert_false (f->client_closed || f->server_closed);
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  (*(guint *) user_data)++;
}

static void
test_keepalive (Fixture       *f,
                gconstpointer  data)
{
  guint pongs = 0;

  WAIT_FOR (punch_yamux_session_get_rtt (f->client) > 0);
  g_signal_connect (f->client, "notify::rtt", G_CALLBACK (count_notify), &pongs);
  g_object_set (f->client, "keepalive-interval", 1, NULL);
  g_assert_cmpuint (pongs, ==, 0);
  /* Each keepalive round trip updates the RTT. */
  WAIT_FOR (pongs >= 2);
  g_assert_false (f->client_closed);
  g_signal_handlers_disconnect_by_func (f->client, count_notify, &pongs);
}

static void
test_keepalive_timeout (Fixture       *f,
                        gconstpointer  data)
{
  gint64 start = g_get_monotonic_time ();

  /* The raw peer never answers pings. */
  g_object_set (f->client, "keepalive-interval", 1, NULL);
  punch_yamux_session_start (f->client);
  WAIT_FOR (f->client_closed);
  g_assert_error (f->client_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 1 * G_USEC_PER_SEC);
}

static void
test_max_streams (Fixture       *f,
                  gconstpointer  data)
{
  PunchYamuxStream *streams[5];
  guint n_reset = 0;

  g_object_set (f->server, "max-streams", 3, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (streams); i++)
    {
      streams[i] = open_stream (f->client);
      write_all (streams[i], "x", 1);
    }
  WAIT_FOR (f->server_accepted->len == 3);
  for (guint i = 0; i < G_N_ELEMENTS (streams); i++)
    {
      g_autoptr (GError) error = NULL;
      guint8 buf[4];

      if (i >= 3)
        {
          g_assert_cmpint (read_some (streams[i], buf, sizeof buf, &error), ==, -1);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
          n_reset++;
        }
      g_object_unref (streams[i]);
    }
  g_assert_cmpuint (n_reset, ==, 2);
  g_assert_cmpuint (punch_yamux_session_get_n_streams (f->server), ==, 3);
  spin_for (50);
  g_assert_cmpuint (f->server_accepted->len, ==, 3);
  g_assert_false (f->server_closed);
}

static void
test_close (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr (PunchYamuxStream) stream = open_stream (f->client);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GAsyncResult) open_result = NULL;
  g_autoptr (GError) error = NULL;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (stream));
  guint8 buf[4];

  write_all (stream, "q", 1);
  WAIT_FOR (f->server_accepted->len == 1);
  g_input_stream_read_async (in, buf, sizeof buf, G_PRIORITY_DEFAULT, NULL, store_result, &result);

  /* The server goes away: GoAway then EOF, a clean end for the client. */
  close_session (f->server);
  g_assert_true (f->server_closed);
  g_assert_null (f->server_error);
  WAIT_FOR (f->client_closed);
  g_assert_null (f->client_error);
  g_assert_true (punch_yamux_session_is_closed (f->client));
  WAIT_FOR (result != NULL);
  g_assert_cmpint (g_input_stream_read_finish (in, result, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_clear_error (&error);

  punch_yamux_session_open_stream_async (f->client, NULL, store_result, &open_result);
  WAIT_FOR (open_result != NULL);
  g_assert_null (punch_yamux_session_open_stream_finish (f->client, open_result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpuint (f->client_closed_count, ==, 1);
}

/* Raw peer: the test plays the remote side frame by frame. */

/* Sends without blocking the main loop: the session must keep reading
 * while a large frame goes out. */
static void
raw_send (Fixture    *f,
          const void *data,
          gsize       len)
{
  const guint8 *p = data;
  gint64 deadline = g_get_monotonic_time () + DEADLINE_S * G_USEC_PER_SEC;

  while (len > 0)
    {
      ssize_t n = send (f->raw_fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);

      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        {
          if (g_get_monotonic_time () > deadline)
            g_error ("timed out sending to the session");
          g_main_context_iteration (NULL, FALSE);
          g_usleep (100);
          continue;
        }
      g_assert_cmpint (n, >, 0);
      p += n;
      len -= n;
    }
}

static void
raw_frame (Fixture    *f,
           guint8      type,
           guint16     flags,
           guint32     id,
           guint32     length,
           const void *payload,
           gsize       payload_len)
{
  guint8 h[12] = { 0, type, flags >> 8, flags & 0xff,
                   id >> 24, id >> 16, id >> 8, id,
                   length >> 24, length >> 16, length >> 8, length };

  raw_send (f, h, sizeof h);
  if (payload_len > 0)
    raw_send (f, payload, payload_len);
}

/* Next frame from the session, skipping pings unless @pings; FALSE at EOF. */
static gboolean
raw_next (Fixture *f,
          Frame   *frame,
          gboolean pings)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  for (;;)
    {
      if (f->raw_rx->len >= 12)
        {
          const guint8 *p = f->raw_rx->data;
          gsize need;

          frame->version = p[0];
          frame->type = p[1];
          frame->flags = (p[2] << 8) | p[3];
          frame->id = ((guint32) p[4] << 24) | (p[5] << 16) | (p[6] << 8) | p[7];
          frame->length = ((guint32) p[8] << 24) | (p[9] << 16) | (p[10] << 8) | p[11];
          need = 12 + (frame->type == 0 ? frame->length : 0);
          if (f->raw_rx->len >= need)
            {
              frame->payload = g_bytes_new (p + 12, need - 12);
              g_byte_array_remove_range (f->raw_rx, 0, need);
              if (frame->type == 2 && !pings)
                {
                  g_bytes_unref (frame->payload);
                  continue;
                }
              return TRUE;
            }
        }
      if (f->raw_eof)
        return FALSE;
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out waiting for a frame");

      while (g_main_context_iteration (NULL, FALSE))
        ;
      {
        struct pollfd pfd = { f->raw_fd, POLLIN, 0 };

        if (poll (&pfd, 1, 5) > 0)
          {
            guint8 buf[65536];
            ssize_t n = read (f->raw_fd, buf, sizeof buf);

            if (n <= 0)
              f->raw_eof = TRUE;
            else
              g_byte_array_append (f->raw_rx, buf, n);
          }
      }
    }
}

static void
raw_expect (Fixture *f,
            guint8   type,
            guint16  flags,
            guint32  id,
            guint32  length)
{
  Frame frame;

  g_assert_true (raw_next (f, &frame, type == 2));
  g_bytes_unref (frame.payload);
  g_assert_cmpuint (frame.version, ==, 0);
  g_assert_cmpuint (frame.type, ==, type);
  g_assert_cmpuint (frame.flags, ==, flags);
  g_assert_cmpuint (frame.id, ==, id);
  g_assert_cmpuint (frame.length, ==, length);
}

/* Runs the loop for @ms while collecting what the session sends, then
 * drops ping frames: returns how many bytes of other frames arrived. */
static gsize
raw_collect (Fixture *f,
             guint    ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  gsize pos = 0;

  while (g_get_monotonic_time () < end)
    {
      struct pollfd pfd = { f->raw_fd, POLLIN, 0 };

      while (g_main_context_iteration (NULL, FALSE))
        ;
      if (poll (&pfd, 1, 2) > 0)
        {
          guint8 buf[65536];
          ssize_t n = read (f->raw_fd, buf, sizeof buf);

          if (n <= 0)
            {
              f->raw_eof = TRUE;
              break;
            }
          g_byte_array_append (f->raw_rx, buf, n);
        }
    }

  while (pos + 12 <= f->raw_rx->len)
    {
      const guint8 *p = f->raw_rx->data + pos;
      gsize len = 12 + (p[1] == 0 ? (((gsize) p[8] << 24) | (p[9] << 16) | (p[10] << 8) | p[11]) : 0);

      if (p[1] == 2)
        g_byte_array_remove_range (f->raw_rx, pos, 12);
      else
        pos += len;
    }
  return f->raw_rx->len;
}

static void
test_raw_wire (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr (PunchYamuxStream) stream = NULL;
  g_autoptr (GError) error = NULL;
  Frame frame;
  guint8 buf[8];

  punch_yamux_session_start (f->client);
  /* The first frame is the RTT ping. */
  g_assert_true (raw_next (f, &frame, TRUE));
  g_bytes_unref (frame.payload);
  g_assert_cmpuint (frame.type, ==, 2);
  g_assert_cmpuint (frame.flags, ==, 1);
  g_assert_cmpuint (frame.id, ==, 0);
  raw_frame (f, 2, 2, 0, frame.length, NULL, 0);
  WAIT_FOR (punch_yamux_session_get_rtt (f->client) > 0);

  /* Our pings are answered with the same opaque value. */
  raw_frame (f, 2, 1, 0, 0xdeadbeef, NULL, 0);
  raw_expect (f, 2, 2, 0, 0xdeadbeef);

  /* Opening: WindowUpdate|SYN; data may follow before the ACK. */
  stream = open_stream (f->client);
  raw_expect (f, 1, 1, 1, 0);
  write_all (stream, "hi", 2);
  g_assert_true (raw_next (f, &frame, FALSE));
  g_assert_cmpuint (frame.type, ==, 0);
  g_assert_cmpuint (frame.id, ==, 1);
  g_assert_cmpmem (g_bytes_get_data (frame.payload, NULL), 2, "hi", 2);
  g_bytes_unref (frame.payload);
  raw_frame (f, 1, 2, 1, 0, NULL, 0);
  raw_frame (f, 0, 0, 1, 3, "abc", 3);
  g_assert_cmpint (read_some (stream, buf, sizeof buf, &error), ==, 3);
  g_assert_cmpmem (buf, 3, "abc", 3);

  /* Writes larger than 64 KiB are split into frames of at most 64 KiB. */
  {
    g_autofree guint8 *big = g_malloc0 (200000);
    gsize seen = 0;

    write_all (stream, big, 200000);
    while (seen < 200000)
      {
        g_assert_true (raw_next (f, &frame, FALSE));
        g_assert_cmpuint (frame.type, ==, 0);
        g_assert_cmpuint (frame.length, <=, 65536);
        seen += frame.length;
        g_bytes_unref (frame.payload);
      }
    g_assert_cmpuint (seen, ==, 200000);
  }

  /* Inbound SYN is ACKed at once. */
  raw_frame (f, 1, 1, 2, 0, NULL, 0);
  raw_expect (f, 1, 2, 2, 0);
  WAIT_FOR (f->client_accepted->len == 1);

  /* A remote-opened stream with our parity is a protocol error... tested
   * below; GoAway from the remote stops new streams, old ones go on. */
  raw_frame (f, 3, 0, 0, 0, NULL, 0);
  spin_for (20);
  {
    g_autoptr (GAsyncResult) result = NULL;

    punch_yamux_session_open_stream_async (f->client, NULL, store_result, &result);
    WAIT_FOR (result != NULL);
    g_assert_null (punch_yamux_session_open_stream_finish (f->client, result, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
    g_assert_nonnull (strstr (error->message, "GoAway"));
    g_clear_error (&error);
  }
  raw_frame (f, 0, 0, 1, 2, "ok", 2);
  g_assert_cmpint (read_some (stream, buf, sizeof buf, &error), ==, 2);
  write_all (stream, "still", 5);
  g_assert_true (raw_next (f, &frame, FALSE));
  g_assert_cmpmem (g_bytes_get_data (frame.payload, NULL), g_bytes_get_size (frame.payload), "still", 5);
  g_bytes_unref (frame.payload);
  g_assert_false (f->client_closed);

  /* Half-close is a FIN flag; the remote's RST fails the stream. */
  close_output (stream);
  raw_expect (f, 1, 4, 1, 0);
  raw_frame (f, 1, 8, 1, 0, NULL, 0);
  g_assert_cmpint (read_some (stream, buf, sizeof buf, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_clear_error (&error);

  /* Closing: GoAway normal, then EOF. */
  {
    g_autoptr (GAsyncResult) result = NULL;

    punch_yamux_session_close_async (f->client, NULL, store_result, &result);
    raw_expect (f, 3, 0, 0, 0);
    g_assert_false (raw_next (f, &frame, TRUE));
    WAIT_FOR (result != NULL);
  }
  g_assert_true (f->client_closed);
  g_assert_null (f->client_error);
}

static void
test_cancel_session_ops (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) ping_result = NULL;
  g_autoptr (GAsyncResult) open_result = NULL;
  g_autoptr (GAsyncResult) open_result2 = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchYamuxStream) s1 = NULL;
  Frame frame;

  g_object_set (f->client, "accept-backlog", 1, NULL);
  punch_yamux_session_start (f->client);
  s1 = open_stream (f->client);

  /* The raw peer answers nothing: a ping and an open (backlog full) wait. */
  punch_yamux_session_ping_async (f->client, cancellable, store_result, &ping_result);
  punch_yamux_session_open_stream_async (f->client, cancellable, store_result, &open_result);
  spin_for (30);
  g_assert_null (ping_result);
  g_assert_null (open_result);
  g_cancellable_cancel (cancellable);
  WAIT_FOR (ping_result != NULL && open_result != NULL);
  g_assert_cmpint (punch_yamux_session_ping_finish (f->client, ping_result, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_null (punch_yamux_session_open_stream_finish (f->client, open_result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* A late pong for the cancelled ping is ignored. */
  while (raw_next (f, &frame, TRUE))
    {
      g_bytes_unref (frame.payload);
      if (frame.type == 2 && frame.flags == 1)
        raw_frame (f, 2, 2, 0, frame.length, NULL, 0);
      if (f->raw_rx->len == 0)
        break;
    }
  spin_for (30);

  /* An open still waiting when the session closes fails. */
  punch_yamux_session_open_stream_async (f->client, NULL, store_result, &open_result2);
  spin_for (10);
  g_assert_null (open_result2);
  close_session (f->client);
  WAIT_FOR (open_result2 != NULL);
  g_assert_null (punch_yamux_session_open_stream_finish (f->client, open_result2, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_true (f->client_closed);
  g_assert_null (f->client_error);
}

static void
test_ack_backlog (Fixture       *f,
                  gconstpointer  data)
{
  PunchYamuxStream *s1, *s2;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchYamuxStream) s3 = NULL;

  g_object_set (f->client, "accept-backlog", 2, NULL);
  punch_yamux_session_start (f->client);
  s1 = open_stream (f->client);
  s2 = open_stream (f->client);
  punch_yamux_session_open_stream_async (f->client, NULL, store_result, &result);
  raw_expect (f, 1, 1, 1, 0);
  raw_expect (f, 1, 1, 3, 0);
  spin_for (50);
  g_assert_null (result);
  /* One ACK frees a slot. */
  raw_frame (f, 1, 2, 3, 0, NULL, 0);
  WAIT_FOR (result != NULL);
  s3 = punch_yamux_session_open_stream_finish (f->client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (punch_yamux_stream_get_id (s3), ==, 5);
  raw_expect (f, 1, 1, 5, 0);
  g_object_unref (s1);
  g_object_unref (s2);
}

static void
test_window_violation_send (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr (PunchYamuxStream) stream = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree guint8 *big = g_malloc0 (PUNCH_YAMUX_INITIAL_WINDOW + 1000);
  gsize seen = 0;
  Frame frame;

  /* We never send more than the window the remote granted. */
  punch_yamux_session_start (f->client);
  stream = open_stream (f->client);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (stream)),
                                   big, PUNCH_YAMUX_INITIAL_WINDOW + 1000, G_PRIORITY_DEFAULT,
                                   NULL, store_result, &result);
  raw_expect (f, 1, 1, 1, 0);
  while (seen < PUNCH_YAMUX_INITIAL_WINDOW)
    {
      g_assert_true (raw_next (f, &frame, FALSE));
      seen += frame.length;
      g_bytes_unref (frame.payload);
    }
  g_assert_cmpuint (seen, ==, PUNCH_YAMUX_INITIAL_WINDOW);
  g_assert_cmpuint (raw_collect (f, 50), ==, 0);
  g_assert_null (result);
  raw_frame (f, 1, 0, 1, 1000, NULL, 0);
  WAIT_FOR (result != NULL);
  g_assert_true (raw_next (f, &frame, FALSE));
  g_assert_cmpuint (frame.length, ==, 1000);
  g_bytes_unref (frame.payload);
}

/* Protocol errors: each input must end the session with a clear error and
 * a GoAway(protocol error), never a crash. */

typedef struct
{
  const char *name;
  const guint8 *bytes;
  gsize len;
  const char *message_part;
} BadInput;

static const guint8 bad_version[] = { 1, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0 };
static const guint8 bad_type[] = { 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
static const guint8 over_window[] = {
  0, 1, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0,       /* WindowUpdate SYN stream 2 */
  0, 0, 0, 0, 0, 0, 0, 2, 0, 4, 0, 1,       /* Data 262145 bytes */
};
static const guint8 oversized_syn[] = { 0, 0, 0, 1, 0, 0, 0, 2, 0x7f, 0xff, 0xff, 0xff };
static const guint8 oversized_unknown[] = { 0, 0, 0, 0, 0, 0, 0, 8, 0x7f, 0xff, 0xff, 0xff };
static const guint8 our_parity[] = { 0, 1, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0 };
static const guint8 duplicate_syn[] = {
  0, 1, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0,
  0, 1, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0,
};
static const guint8 data_stream0[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'x' };
static const guint8 go_away_error[] = { 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const char garbage[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";

static const BadInput bad_inputs[] = {
  { "bad-version", bad_version, sizeof bad_version, "version" },
  { "unknown-type", bad_type, sizeof bad_type, "unknown frame type" },
  { "data-over-window", over_window, sizeof over_window, "window" },
  { "oversized-syn", oversized_syn, sizeof oversized_syn, "window" },
  { "oversized-unknown-stream", oversized_unknown, sizeof oversized_unknown, "maximum window" },
  { "our-parity", our_parity, sizeof our_parity, "parity" },
  { "duplicate-syn", duplicate_syn, sizeof duplicate_syn, "twice" },
  { "data-on-stream-0", data_stream0, sizeof data_stream0, "stream 0" },
  { "go-away-error", go_away_error, sizeof go_away_error, "GoAway" },
  { "garbage", (const guint8 *) garbage, sizeof garbage - 1, "version" },
};

static void
test_protocol_error (Fixture       *f,
                     gconstpointer  data)
{
  const BadInput *bad = NULL;
  g_autoptr (PunchYamuxStream) stream = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  guint8 buf[4];
  Frame frame;
  gboolean saw_go_away = FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (bad_inputs); i++)
    if (g_str_has_suffix (g_test_get_path (), bad_inputs[i].name))
      bad = &bad_inputs[i];
  g_assert_nonnull (bad);

  punch_yamux_session_start (f->client);
  stream = open_stream (f->client);
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (stream)), buf, sizeof buf,
                             G_PRIORITY_DEFAULT, NULL, store_result, &result);
  raw_send (f, bad->bytes, bad->len);
  WAIT_FOR (f->client_closed);
  g_assert_nonnull (f->client_error);
  g_test_message ("%s: %s", bad->name, f->client_error->message);
  g_assert_error (f->client_error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (f->client_error->message, bad->message_part));

  /* Pending stream operations fail with the session. */
  WAIT_FOR (result != NULL);
  g_assert_cmpint (g_input_stream_read_finish (g_io_stream_get_input_stream (G_IO_STREAM (stream)),
                                               result, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);

  /* We told the remote why, unless it told us first. */
  while (raw_next (f, &frame, FALSE))
    {
      if (frame.type == 3)
        {
          g_assert_cmpuint (frame.length, ==, 1);
          saw_go_away = TRUE;
        }
      g_bytes_unref (frame.payload);
    }
  g_assert_true (saw_go_away || g_str_equal (bad->name, "go-away-error"));
  g_assert_cmpuint (f->client_closed_count, ==, 1);
}

static void
test_eof_mid_frame (Fixture       *f,
                    gconstpointer  data)
{
  static const guint8 partial[] = {
    0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 100,   /* Data SYN stream 2, 100 bytes */
    'a', 'b', 'c',                          /* ...of which only 3 arrive */
  };
  g_autoptr (GError) error = NULL;
  PunchYamuxStream *remote;
  guint8 buf[16];

  punch_yamux_session_start (f->client);
  raw_send (f, partial, sizeof partial);
  WAIT_FOR (f->client_accepted->len == 1);
  remote = f->client_accepted->pdata[0];
  shutdown (f->raw_fd, SHUT_WR);
  WAIT_FOR (f->client_closed);
  g_assert_error (f->client_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_nonnull (strstr (f->client_error->message, "middle of a frame"));

  /* What arrived is still readable, then the failure shows. */
  g_assert_cmpint (read_some (remote, buf, sizeof buf, &error), ==, 3);
  g_assert_cmpint (read_some (remote, buf, sizeof buf, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
}

static void
test_eof_header (Fixture       *f,
                 gconstpointer  data)
{
  static const guint8 partial[] = { 0, 1, 0, 1, 0, 0 };

  punch_yamux_session_start (f->client);
  raw_send (f, partial, sizeof partial);
  spin_for (20);
  g_assert_false (f->client_closed);
  shutdown (f->raw_fd, SHUT_WR);
  WAIT_FOR (f->client_closed);
  g_assert_error (f->client_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_nonnull (strstr (f->client_error->message, "middle of a frame"));
}

static void
test_ping_flood (Fixture       *f,
                 gconstpointer  data)
{
  const gsize n_pings = 400000;
  g_autofree guint8 *pings = g_malloc (n_pings * 12);
  gsize sent = 0;
  gsize max_queued = 0;
  gint64 last_progress;

  /* The remote sends pings and never reads the answers: once the socket is
   * full, the session stops reading instead of queueing pongs forever. */
  for (gsize i = 0; i < n_pings; i++)
    {
      guint8 *h = pings + i * 12;

      memset (h, 0, 12);
      h[1] = 2;
      h[3] = 1;
      h[11] = (guint8) i;
    }
  g_unix_set_fd_nonblocking (f->raw_fd, TRUE, NULL);
  punch_yamux_session_start (f->client);
  last_progress = g_get_monotonic_time ();
  while (sent < n_pings * 12 && g_get_monotonic_time () - last_progress < 300 * 1000)
    {
      ssize_t n = write (f->raw_fd, pings + sent, n_pings * 12 - sent);

      if (n > 0)
        {
          sent += n;
          last_progress = g_get_monotonic_time ();
        }
      g_main_context_iteration (NULL, FALSE);
      max_queued = MAX (max_queued, punch_yamux_session_get_queued_bytes (f->client));
    }
  g_test_message ("the remote got %zu of %zu bytes of pings in; at most %zu bytes queued",
                  sent, n_pings * 12, max_queued);
  g_assert_cmpuint (sent, <, n_pings * 12);
  g_assert_cmpuint (max_queued, <=, 2 * 1024 * 1024 + 256 * 1024);
  g_assert_false (f->client_closed);
}

static void
test_syn_window_delta (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree guint8 *big = g_malloc0 (4 * 1024 * 1024);
  PunchYamuxStream *stream;
  gsize seen = 0;
  Frame frame;

  /* A remote with a bigger initial window announces it on the SYN. */
  punch_yamux_session_start (f->client);
  raw_frame (f, 1, 1, 2, 1024 * 1024, NULL, 0);
  raw_expect (f, 1, 2, 2, 0);
  WAIT_FOR (f->client_accepted->len == 1);
  stream = f->client_accepted->pdata[0];
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (stream)),
                                   big, 4 * 1024 * 1024, G_PRIORITY_DEFAULT, NULL, store_result, &result);
  while (seen < PUNCH_YAMUX_INITIAL_WINDOW + 1024 * 1024)
    {
      g_assert_true (raw_next (f, &frame, FALSE));
      g_assert_cmpuint (frame.type, ==, 0);
      g_assert_cmpuint (frame.id, ==, 2);
      seen += frame.length;
      g_bytes_unref (frame.payload);
    }
  g_assert_cmpuint (seen, ==, PUNCH_YAMUX_INITIAL_WINDOW + 1024 * 1024);
  g_assert_cmpuint (raw_collect (f, 50), ==, 0);
  g_assert_null (result);
  punch_yamux_stream_reset (stream);
  WAIT_FOR (result != NULL);
}

static void
test_grant_at_half (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree guint8 *chunk = g_malloc0 (PUNCH_YAMUX_MAX_FRAME);
  g_autofree guint8 *buf = g_malloc (PUNCH_YAMUX_INITIAL_WINDOW);
  g_autoptr (GError) error = NULL;
  PunchYamuxStream *stream;
  gsize got = 0;
  Frame frame;

  punch_yamux_session_start (f->client);
  raw_frame (f, 1, 1, 2, 0, NULL, 0);
  raw_expect (f, 1, 2, 2, 0);
  WAIT_FOR (f->client_accepted->len == 1);
  stream = f->client_accepted->pdata[0];
  for (guint i = 0; i < 4; i++)
    raw_frame (f, 0, 0, 2, PUNCH_YAMUX_MAX_FRAME, chunk, PUNCH_YAMUX_MAX_FRAME);
  WAIT_FOR (punch_yamux_stream_get_bytes_received (stream) == PUNCH_YAMUX_INITIAL_WINDOW);

  /* Just under half read: no grant yet. */
  while (got < PUNCH_YAMUX_INITIAL_WINDOW / 2 - 1)
    {
      gssize n = read_some (stream, buf, PUNCH_YAMUX_INITIAL_WINDOW / 2 - 1 - got, &error);

      g_assert_no_error (error);
      got += n;
    }
  g_assert_cmpuint (raw_collect (f, 50), ==, 0);

  /* One more byte reaches half: the remote gets at least what was read. */
  g_assert_cmpint (read_some (stream, buf, 1, &error), ==, 1);
  g_assert_true (raw_next (f, &frame, FALSE));
  g_bytes_unref (frame.payload);
  g_assert_cmpuint (frame.type, ==, 1);
  g_assert_cmpuint (frame.flags, ==, 0);
  g_assert_cmpuint (frame.id, ==, 2);
  /* The RTT is unknown (the raw peer never answered our ping), so the
   * window doubles: the grant is what was read plus the growth. */
  g_assert_cmpint (punch_yamux_session_get_rtt (f->client), ==, 0);
  g_assert_cmpuint (frame.length, ==, PUNCH_YAMUX_INITIAL_WINDOW / 2 + PUNCH_YAMUX_INITIAL_WINDOW);
  g_assert_cmpuint (stream->recv_window_max, ==, 2 * PUNCH_YAMUX_INITIAL_WINDOW);

  /* The remote may now send what it was granted, and no more. */
  {
    gsize allowed = stream->recv_window;

    g_assert_cmpuint (allowed, ==, frame.length);
    raw_frame (f, 0, 0, 2, allowed + 1, NULL, 0);
    WAIT_FOR (f->client_closed);
    g_assert_error (f->client_error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
  }
}

static void
test_grant_no_growth (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree guint8 *chunk = g_malloc0 (PUNCH_YAMUX_MAX_FRAME);
  g_autofree guint8 *buf = g_malloc (PUNCH_YAMUX_INITIAL_WINDOW);
  g_autoptr (GError) error = NULL;
  PunchYamuxStream *stream;
  gsize got = 0;
  gint64 rtt;
  Frame frame;

  /* With a known RTT, a reader slower than 4 RTTs per half window does
   * not grow the window: the grant is exactly what was read. */
  punch_yamux_session_start (f->client);
  g_assert_true (raw_next (f, &frame, TRUE));
  g_bytes_unref (frame.payload);
  g_assert_cmpuint (frame.type, ==, 2);
  raw_frame (f, 2, 2, 0, frame.length, NULL, 0);
  WAIT_FOR (punch_yamux_session_get_rtt (f->client) > 0);
  rtt = punch_yamux_session_get_rtt (f->client);

  raw_frame (f, 1, 1, 2, 0, NULL, 0);
  raw_expect (f, 1, 2, 2, 0);
  WAIT_FOR (f->client_accepted->len == 1);
  stream = f->client_accepted->pdata[0];
  for (guint i = 0; i < 4; i++)
    raw_frame (f, 0, 0, 2, PUNCH_YAMUX_MAX_FRAME, chunk, PUNCH_YAMUX_MAX_FRAME);
  WAIT_FOR (punch_yamux_stream_get_bytes_received (stream) == PUNCH_YAMUX_INITIAL_WINDOW);
  spin_for (MAX (20, 5 * rtt / 1000 + 5));

  while (got < PUNCH_YAMUX_INITIAL_WINDOW / 2)
    {
      gssize n = read_some (stream, buf, PUNCH_YAMUX_INITIAL_WINDOW / 2 - got, &error);

      g_assert_no_error (error);
      got += n;
    }
  g_assert_true (raw_next (f, &frame, FALSE));
  g_bytes_unref (frame.payload);
  g_assert_cmpuint (frame.type, ==, 1);
  g_assert_cmpuint (frame.length, ==, PUNCH_YAMUX_INITIAL_WINDOW / 2);
  g_assert_cmpuint (stream->recv_window_max, ==, PUNCH_YAMUX_INITIAL_WINDOW);
}

static void
test_unhandled_stream (Fixture       *f,
                       gconstpointer  data)
{
  /* With no "stream" handler, inbound streams are refused with RST. */
  g_signal_handlers_disconnect_by_func (f->client, on_stream, f->client_accepted);
  punch_yamux_session_start (f->client);
  raw_frame (f, 0, 1, 2, 5, "hello", 5);
  raw_expect (f, 1, 8, 2, 0);
  /* Late frames for the refused stream are dropped quietly. */
  raw_frame (f, 0, 0, 2, 5, "again", 5);
  raw_frame (f, 1, 4, 2, 0, NULL, 0);
  raw_frame (f, 2, 1, 0, 7, NULL, 0);
  raw_expect (f, 2, 2, 0, 7);
  g_assert_false (f->client_closed);
  g_assert_cmpuint (punch_yamux_session_get_n_streams (f->client), ==, 0);
}

/* Everything happens on the thread-default context the sessions were made
 * in; nothing lands on the global default one. */
static gboolean
default_context_idle (void)
{
  return !g_main_context_pending (g_main_context_default ());
}

#define WAIT_IN(ctx, cond) \
  G_STMT_START { \
    gint64 _deadline = g_get_monotonic_time () + DEADLINE_S * G_USEC_PER_SEC; \
    while (!(cond)) \
      { \
        if (g_get_monotonic_time () > _deadline) \
          g_error ("timed out waiting for %s", #cond); \
        g_main_context_iteration (ctx, FALSE); \
        g_assert_true (default_context_idle ()); \
        g_usleep (100); \
      } \
  } G_STMT_END

static void
test_thread_default_context (void)
{
  g_autoptr (GMainContext) ctx = g_main_context_new ();
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  g_autoptr (PunchYamuxSession) client = NULL;
  g_autoptr (PunchYamuxSession) server = NULL;
  g_autoptr (GPtrArray) accepted = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GAsyncResult) close1 = NULL;
  g_autoptr (GAsyncResult) close2 = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchYamuxStream) stream = NULL;
  int fds[2];

  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_main_context_push_thread_default (ctx);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  a = connection_from_fd (fds[0]);
  b = connection_from_fd (fds[1]);
  client = punch_yamux_session_new (a, TRUE);
  server = punch_yamux_session_new (b, FALSE);
  g_object_set (client, "keepalive-interval", 1, NULL);
  g_signal_connect (server, "stream", G_CALLBACK (on_stream), accepted);
  punch_yamux_session_start (client);
  punch_yamux_session_start (server);

  punch_yamux_session_ping_async (client, NULL, store_result, &result);
  WAIT_IN (ctx, result != NULL);
  g_assert_cmpint (punch_yamux_session_ping_finish (client, result, &error), >, 0);
  g_assert_no_error (error);
  g_clear_object (&result);

  punch_yamux_session_open_stream_async (client, NULL, store_result, &result);
  WAIT_IN (ctx, result != NULL);
  stream = punch_yamux_session_open_stream_finish (client, result, &error);
  g_assert_no_error (error);
  g_clear_object (&result);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (stream)), "ctx", 3,
                                   G_PRIORITY_DEFAULT, NULL, store_result, &result);
  WAIT_IN (ctx, result != NULL && accepted->len == 1);

  /* A keepalive round trip, driven by the session's own context. */
  {
    gint64 before = punch_yamux_session_get_rtt (client);
    gint64 end = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;

    while (punch_yamux_session_get_rtt (client) == before && g_get_monotonic_time () < end)
      {
        g_main_context_iteration (ctx, FALSE);
        g_assert_true (default_context_idle ());
        g_usleep (1000);
      }
    g_assert_cmpint (punch_yamux_session_get_rtt (client), !=, before);
  }

  punch_yamux_session_close_async (client, NULL, store_result, &close1);
  punch_yamux_session_close_async (server, NULL, store_result, &close2);
  WAIT_IN (ctx, close1 != NULL && close2 != NULL);
  g_clear_object (&stream);
  g_ptr_array_set_size (accepted, 0);
  /* The results hold their source objects. */
  g_clear_object (&close1);
  g_clear_object (&close2);
  g_clear_object (&result);
  g_object_add_weak_pointer (G_OBJECT (client), (gpointer *) &client);
  g_object_add_weak_pointer (G_OBJECT (server), (gpointer *) &server);
  g_object_unref (client);
  g_object_unref (server);
  WAIT_IN (ctx, client == NULL && server == NULL);
  while (g_main_context_iteration (ctx, FALSE))
    ;
  g_main_context_pop_thread_default (ctx);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func, raw) \
  g_test_add ("/core/yamux/" path, Fixture, GINT_TO_POINTER (raw), fixture_setup, func, fixture_teardown)

  ADD ("open-echo", test_open_echo, FALSE);
  ADD ("concurrent-50x4MiB", test_concurrent, FALSE);
  ADD ("window-growth", test_window_growth, FALSE);
  ADD ("throughput", test_throughput, FALSE);
  ADD ("backpressure", test_backpressure, FALSE);
  ADD ("half-close", test_half_close, FALSE);
  ADD ("reset", test_reset, FALSE);
  ADD ("cancel", test_cancel, FALSE);
  ADD ("cancel-write", test_cancel_write, FALSE);
  ADD ("cancel-session-ops", test_cancel_session_ops, TRUE);
  ADD ("ping", test_ping, FALSE);
  ADD ("keepalive", test_keepalive, FALSE);
  ADD ("max-streams", test_max_streams, FALSE);
  ADD ("close", test_close, FALSE);
  ADD ("wire", test_raw_wire, TRUE);
  ADD ("ack-backlog", test_ack_backlog, TRUE);
  ADD ("send-window", test_window_violation_send, TRUE);
  ADD ("eof-mid-frame", test_eof_mid_frame, TRUE);
  ADD ("eof-mid-header", test_eof_header, TRUE);
  ADD ("keepalive-timeout", test_keepalive_timeout, TRUE);
  ADD ("unhandled-stream", test_unhandled_stream, TRUE);
  ADD ("ping-flood", test_ping_flood, TRUE);
  ADD ("syn-window-delta", test_syn_window_delta, TRUE);
  ADD ("grant-at-half", test_grant_at_half, TRUE);
  ADD ("grant-no-growth", test_grant_no_growth, TRUE);
  g_test_add_func ("/core/yamux/thread-default-context", test_thread_default_context);
  for (guint i = 0; i < G_N_ELEMENTS (bad_inputs); i++)
    {
      g_autofree char *path = g_strdup_printf ("/core/yamux/protocol-error/%s", bad_inputs[i].name);

      g_test_add (path, Fixture, GINT_TO_POINTER (TRUE), fixture_setup, test_protocol_error, fixture_teardown);
    }

  return g_test_run ();
}
