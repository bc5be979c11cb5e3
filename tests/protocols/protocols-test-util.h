/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Two hosts over loopback for the protocol tests: "server" listens on
 * 127.0.0.1 port 0, "client" dials it. Every wait has a deadline. */

#include <gio/gio.h>

#include "punch-error.h"
#include "punch-host.h"
#include "punch-identify-service.h"
#include "punch-perf-service.h"
#include "punch-ping-service.h"

G_BEGIN_DECLS

static inline gboolean
ptest_wake (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates the default main context until @expr holds; fails the test
 * after @seconds. */
#define PTEST_WAIT_SECONDS(expr, seconds)                                      \
  G_STMT_START                                                                 \
  {                                                                            \
    gint64 _deadline = g_get_monotonic_time () + (seconds) * G_USEC_PER_SEC;   \
    guint _wake = g_timeout_add (20, ptest_wake, NULL);                        \
    while (!(expr))                                                            \
      {                                                                        \
        if (g_get_monotonic_time () > _deadline)                               \
          g_error ("%s:%d: timed out after %d s waiting for: %s",              \
                   __FILE__, __LINE__, (int) (seconds), #expr);                \
        g_main_context_iteration (NULL, TRUE);                                 \
      }                                                                        \
    g_source_remove (_wake);                                                   \
  }                                                                            \
  G_STMT_END

#define PTEST_WAIT(expr) PTEST_WAIT_SECONDS (expr, 15)

static inline void
ptest_spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  guint wake = g_timeout_add (5, ptest_wake, NULL);

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (wake);
}

static inline void
ptest_store_result (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

typedef struct
{
  PunchHost            *server;
  PunchHost            *client;
  PunchMultiaddr       *server_addr;        /* with /p2p */
  PunchConnection      *connection;         /* client → server */
  PunchConnection      *server_connection;  /* the same, on the server */
} PTestPair;

static inline PunchHost *
ptest_host_new (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = punch_private_key_generate (&error);

  g_assert_no_error (error);
  return punch_host_new (key);
}

static inline void
ptest_on_server_connection (PunchHost       *host,
                            PunchConnection *connection,
                            gpointer         user_data)
{
  PTestPair *pair = user_data;

  if (pair->server_connection == NULL)
    pair->server_connection = g_object_ref (connection);
}

/* Creates both hosts; the server listens. Register services and handlers
 * before ptest_pair_connect(). */
static inline void
ptest_pair_init (PTestPair *pair)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) listen = punch_multiaddr_new_from_string ("/ip4/127.0.0.1/tcp/0", &error);
  g_autoptr (GPtrArray) addrs = NULL;
  gsize id_len;
  const guint8 *id;

  g_assert_no_error (error);
  memset (pair, 0, sizeof *pair);
  pair->server = ptest_host_new ();
  pair->client = ptest_host_new ();
  g_signal_connect (pair->server, "connection-opened",
                    G_CALLBACK (ptest_on_server_connection), pair);

  g_assert_true (punch_host_listen (pair->server, listen, &error));
  g_assert_no_error (error);
  addrs = punch_host_get_listen_addrs (pair->server);
  g_assert_cmpuint (addrs->len, ==, 1);
  id = punch_peer_id_get_bytes (punch_host_get_peer_id (pair->server), &id_len);
  pair->server_addr = punch_multiaddr_with_peer_id (g_ptr_array_index (addrs, 0), id, id_len);
}

static inline void
ptest_pair_connect (PTestPair *pair)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  punch_host_dial_async (pair->client, pair->server_addr, NULL, ptest_store_result, &result);
  PTEST_WAIT (result != NULL);
  pair->connection = punch_host_dial_finish (pair->client, result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pair->connection);
  PTEST_WAIT (pair->server_connection != NULL);
}

/* Closes both hosts and lets the closes settle. Unref services first. */
static inline void
ptest_pair_clear (PTestPair *pair)
{
  gpointer server = NULL, client = NULL;

  g_signal_handlers_disconnect_by_data (pair->server, pair);
  punch_host_close (pair->client);
  punch_host_close (pair->server);
  g_clear_object (&pair->connection);
  g_clear_object (&pair->server_connection);
  g_clear_pointer (&pair->server_addr, punch_multiaddr_unref);

  g_set_weak_pointer (&server, pair->server);
  g_set_weak_pointer (&client, pair->client);
  g_clear_object (&pair->server);
  g_clear_object (&pair->client);
  /* Whatever still runs (closing streams, timers) holds references: wait
   * until everything is gone so that leak checkers see a clean exit. */
  PTEST_WAIT (server == NULL && client == NULL);
  ptest_spin (20);
}

/* Writes @data to @stream, then closes it (an inbound handler's life). */
typedef struct
{
  GIOStream *stream;
  GBytes    *data;
} PTestWrite;

static inline void
ptest_on_closed (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  PTestWrite *w = user_data;

  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
  g_object_unref (w->stream);
  g_bytes_unref (w->data);
  g_free (w);
}

static inline void
ptest_on_written (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  PTestWrite *w = user_data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);
  g_io_stream_close_async (w->stream, G_PRIORITY_DEFAULT, NULL, ptest_on_closed, w);
}

static inline void
ptest_write_and_close (GIOStream *stream,
                       GBytes    *data)
{
  PTestWrite *w = g_new0 (PTestWrite, 1);
  gsize len;
  const guint8 *bytes = g_bytes_get_data (data, &len);

  w->stream = g_object_ref (stream);
  w->data = g_bytes_ref (data);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream), bytes, len,
                                   G_PRIORITY_DEFAULT, NULL, ptest_on_written, w);
}

G_END_DECLS
