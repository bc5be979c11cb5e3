/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-perf-service.h"

#include "protocols-test-util.h"

typedef struct
{
  PTestPair         pair;
  PunchPerfService *server_perf;
  PunchPerfService *client_perf;
  guint             served;
  guint64           served_received;
  guint64           served_sent;
} Fixture;

static void
on_served (PunchPerfService *perf,
           PunchConnection  *connection,
           guint64           received,
           guint64           sent,
           gdouble           receive_seconds,
           gdouble           send_seconds,
           gpointer          user_data)
{
  Fixture *f = user_data;

  g_assert_true (connection == f->pair.server_connection);
  g_assert_cmpfloat (receive_seconds, >=, 0);
  g_assert_cmpfloat (send_seconds, >=, 0);
  f->served++;
  f->served_received = received;
  f->served_sent = sent;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  gboolean serve = GPOINTER_TO_INT (data);

  ptest_pair_init (&f->pair);
  f->server_perf = punch_perf_service_new (f->pair.server, serve);
  f->client_perf = punch_perf_service_new (f->pair.client, FALSE);
  g_signal_connect (f->server_perf, "served", G_CALLBACK (on_served), f);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->server_perf);
  g_clear_object (&f->client_perf);
  ptest_pair_clear (&f->pair);
}

static gboolean
run (Fixture         *f,
     guint64          upload,
     guint64          download,
     PunchPerfResult *out,
     GError         **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  punch_perf_service_run_async (f->client_perf, f->pair.connection, upload, download, NULL,
                                ptest_store_result, &result);
  PTEST_WAIT_SECONDS (result != NULL, 60);
  return punch_perf_service_run_finish (f->client_perf, result, out, error);
}

static void
test_perf_exact_counts (Fixture       *f,
                        gconstpointer  data)
{
  const guint64 size = 8 * 1024 * 1024;
  g_autoptr (GError) error = NULL;
  PunchPerfResult result = { 0, };

  ptest_pair_connect (&f->pair);
  g_assert_true (run (f, size, size, &result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (result.uploaded, ==, size);
  g_assert_cmpuint (result.downloaded, ==, size);
  g_assert_cmpfloat (result.upload_seconds, >, 0);
  g_assert_cmpfloat (result.download_seconds, >, 0);
  g_assert_cmpfloat (result.total_seconds, >=, result.upload_seconds + result.download_seconds - 1e-6);
  g_test_message ("8 MiB each way: up %.0f MB/s, down %.0f MB/s",
                  size / result.upload_seconds / 1e6, size / result.download_seconds / 1e6);

  /* The server counted the same. */
  PTEST_WAIT (f->served == 1);
  g_assert_cmpuint (f->served_received, ==, size);
  g_assert_cmpuint (f->served_sent, ==, size);
}

/* Odd sizes: not multiples of the block size, and one direction empty. */
static void
test_perf_odd_sizes (Fixture       *f,
                     gconstpointer  data)
{
  static const guint64 sizes[][2] = {
    { 0, 0 },
    { 1, 0 },
    { 0, 1 },
    { 300001, 77 },
    { 77, 300001 },
  };

  ptest_pair_connect (&f->pair);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr (GError) error = NULL;
      PunchPerfResult result = { 0, };

      g_assert_true (run (f, sizes[i][0], sizes[i][1], &result, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (result.uploaded, ==, sizes[i][0]);
      g_assert_cmpuint (result.downloaded, ==, sizes[i][1]);
      PTEST_WAIT (f->served == i + 1);
      g_assert_cmpuint (f->served_received, ==, sizes[i][0]);
      g_assert_cmpuint (f->served_sent, ==, sizes[i][1]);
    }
}

/* A server that reads the size and sends back fewer bytes. */
static void
handle_short_perf (PunchHost       *host,
                   PunchConnection *connection,
                   GIOStream       *stream,
                   const char      *protocol,
                   gpointer         user_data)
{
  ptest_write_and_close (stream, g_bytes_new_static ("only-this", 9));
}

static void
test_perf_not_served (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) protocols = NULL;

  /* Off by default: the server does not even list it. */
  protocols = punch_host_get_protocols (f->pair.server);
  g_assert_false (g_strv_contains ((const char * const *) protocols, PUNCH_PERF_PROTOCOL));

  /* The server speaks something, just not perf. */
  punch_host_set_stream_handler (f->pair.server, "/test/other/1.0.0", handle_short_perf, NULL, NULL);
  ptest_pair_connect (&f->pair);
  g_assert_false (run (f, 10, 10, NULL, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_NEGOTIATION_FAILED);
}

static void
test_perf_short_download (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr (GError) error = NULL;

  punch_host_set_stream_handler (f->pair.server, PUNCH_PERF_PROTOCOL, handle_short_perf, NULL, NULL);
  ptest_pair_connect (&f->pair);
  g_assert_false (run (f, 0, 1000, NULL, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
}

static void
test_perf_long_download (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr (GError) error = NULL;

  punch_host_set_stream_handler (f->pair.server, PUNCH_PERF_PROTOCOL, handle_short_perf, NULL, NULL);
  ptest_pair_connect (&f->pair);
  g_assert_false (run (f, 0, 3, NULL, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
}

/* A truncated size from a client: the server gives up on the stream. */
static void
on_truncated_read (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  gboolean *done = user_data;
  g_autoptr (GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  /* Either a clean close without data or a reset: never bytes. */
  g_assert_cmpint (n, <=, 0);
  *done = TRUE;
}

static void
on_truncated_opened (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  GIOStream **out = user_data;
  g_autoptr (GError) error = NULL;

  *out = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result, NULL, &error);
  g_assert_no_error (error);
}

static void
on_truncated_written (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr (GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_close_async (G_OUTPUT_STREAM (source), G_PRIORITY_DEFAULT, NULL, NULL, NULL);
}

static void
test_perf_truncated_request (Fixture       *f,
                             gconstpointer  data)
{
  static const char * const protocols[] = { PUNCH_PERF_PROTOCOL, NULL };
  static guint8 buffer[16];
  g_autoptr (GIOStream) stream = NULL;
  gboolean done = FALSE;

  ptest_pair_connect (&f->pair);
  punch_connection_open_stream_async (f->pair.connection, protocols, NULL, on_truncated_opened, &stream);
  PTEST_WAIT (stream != NULL);
  /* Three of the eight size bytes, then FIN: our side stays open to read. */
  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream), "\0\0\0", 3,
                                   G_PRIORITY_DEFAULT, NULL, on_truncated_written, NULL);
  g_input_stream_read_async (g_io_stream_get_input_stream (stream), buffer, sizeof buffer,
                             G_PRIORITY_DEFAULT, NULL, on_truncated_read, &done);
  PTEST_WAIT (done);
}

/* At most 16 runs at once: quiet streams hold the slots. */
static void
test_perf_inbound_limit (Fixture       *f,
                         gconstpointer  data)
{
  static const char * const protocols[] = { PUNCH_PERF_PROTOCOL, NULL };
  GIOStream *held[16] = { NULL, };
  g_autoptr (GError) error = NULL;
  PunchPerfResult result;

  ptest_pair_connect (&f->pair);
  for (guint i = 0; i < G_N_ELEMENTS (held); i++)
    {
      punch_connection_open_stream_async (f->pair.connection, protocols, NULL, on_truncated_opened, &held[i]);
      PTEST_WAIT (held[i] != NULL);
    }
  /* Let the server take them all. */
  ptest_spin (100);

  g_assert_false (run (f, 10, 10, NULL, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  /* One slot frees: runs go through again. */
  g_io_stream_close_async (held[0], G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  ptest_spin (100);
  g_assert_true (run (f, 10, 10, &result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (result.downloaded, ==, 10);

  for (guint i = 0; i < G_N_ELEMENTS (held); i++)
    g_clear_object (&held[i]);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/core/perf/exact-counts", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_perf_exact_counts, fixture_teardown);
  g_test_add ("/core/perf/odd-sizes", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_perf_odd_sizes, fixture_teardown);
  g_test_add ("/core/perf/not-served", Fixture, GINT_TO_POINTER (FALSE),
              fixture_setup, test_perf_not_served, fixture_teardown);
  g_test_add ("/core/perf/short-download", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_perf_short_download, fixture_teardown);
  g_test_add ("/core/perf/long-download", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_perf_long_download, fixture_teardown);
  g_test_add ("/core/perf/truncated-request", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_perf_truncated_request, fixture_teardown);
  g_test_add ("/core/perf/inbound-limit", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_perf_inbound_limit, fixture_teardown);

  return g_test_run ();
}
