/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Connection set-up time of the C stack as a dialer: from the start of a
 * dial (TCP connect, multistream-select, Noise XX, Yamux) to the first ping
 * reply on the new connection, N times, each over a fresh connection. The
 * js counterpart is `peer.mjs bench-setup`; both print the same result line.
 * Usage: punch-bench-setup MULTIADDR [-n N] [--security /tls/1.0.0,/noise]
 */
#include <stdio.h>
#include <stdlib.h>

#include "punch-host.h"
#include "punch-identify-service.h"
#include "punch-ping-service.h"

#define WARMUP         3
#define ROUND_PAUSE_MS 20
#define DEADLINE_S     120

typedef struct
{
  PunchHost            *host;
  PunchPingService     *ping;
  PunchIdentifyService *identify;
  PunchMultiaddr       *addr;
  PunchConnection      *connection;
  GMainLoop            *loop;
  GArray               *samples;  /* (element-type gdouble) ms */
  GError               *error;
  guint                 rounds;
  guint                 round;
  gint64                t0;
} Bench;

static void start_round (Bench *b);

static gboolean
start_round_cb (gpointer user_data)
{
  start_round (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
close_round_cb (gpointer user_data)
{
  Bench *b = user_data;

  punch_connection_close (b->connection);
  g_clear_object (&b->connection);
  if (++b->round == b->rounds + WARMUP)
    g_main_loop_quit (b->loop);
  else
    /* Let both sides forget the connection before the next dial. */
    g_timeout_add (ROUND_PAUSE_MS, start_round_cb, b);
  return G_SOURCE_REMOVE;
}

static void
ping_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Bench *b = user_data;
  gdouble ms;

  punch_ping_service_ping_finish (b->ping, result, &b->error);
  ms = (g_get_monotonic_time () - b->t0) / 1000.0;
  if (b->error != NULL)
    {
      g_main_loop_quit (b->loop);
      return;
    }
  if (b->round >= WARMUP)
    g_array_append_val (b->samples, ms);
  /* Closed from the main loop, not from inside the ping service's callback. */
  g_idle_add (close_round_cb, b);
}

static void
dial_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Bench *b = user_data;

  b->connection = punch_host_dial_finish (b->host, result, &b->error);
  if (b->connection == NULL)
    {
      g_main_loop_quit (b->loop);
      return;
    }
  punch_ping_service_ping_async (b->ping, b->connection, NULL, ping_cb, b);
}

static void
start_round (Bench *b)
{
  b->t0 = g_get_monotonic_time ();
  punch_host_dial_async (b->host, b->addr, NULL, dial_cb, b);
}

static gboolean
deadline_cb (gpointer user_data)
{
  Bench *b = user_data;

  if (b->error == NULL)
    g_set_error (&b->error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no result within %d s", DEADLINE_S);
  g_main_loop_quit (b->loop);
  return G_SOURCE_REMOVE;
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  gdouble x = *(const gdouble *) a;
  gdouble y = *(const gdouble *) b;

  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PunchPrivateKey) key = NULL;
  g_autoptr(GArray) sorted = NULL;
  g_autoptr(GString) out = NULL;
  Bench b = { 0 };
  g_auto (GStrv) security = NULL;
  int n = 20;

  /* --security LIST (protocol IDs, in the order to offer), at the end. */
  if (argc >= 4 && g_str_equal (argv[argc - 2], "--security"))
    {
      security = g_strsplit (argv[argc - 1], ",", -1);
      argc -= 2;
    }
  if (argc == 4 && g_str_equal (argv[2], "-n"))
    n = atoi (argv[3]);
  if ((argc != 2 && argc != 4) || n <= 0)
    {
      fprintf (stderr, "usage: punch-bench-setup MULTIADDR [-n N] [--security /tls/1.0.0,/noise]\n");
      return 2;
    }

  b.addr = punch_multiaddr_new_from_string (argv[1], &error);
  if (b.addr == NULL)
    {
      fprintf (stderr, "punch-bench-setup: %s\n", error->message);
      return 2;
    }
  key = punch_private_key_generate (&error);
  if (key == NULL)
    {
      fprintf (stderr, "punch-bench-setup: %s\n", error->message);
      return 1;
    }

  b.host = punch_host_new (key);
  if (security != NULL &&
      !punch_host_set_security_protocols (b.host, (const char * const *) security, &error))
    {
      fprintf (stderr, "punch-bench-setup: %s\n", error->message);
      return 2;
    }
  b.ping = punch_ping_service_new (b.host);
  /* Identify runs on every new connection, as in the CLI and in js. */
  b.identify = punch_identify_service_new (b.host);
  b.loop = g_main_loop_new (NULL, FALSE);
  b.samples = g_array_new (FALSE, FALSE, sizeof (gdouble));
  b.rounds = (guint) n;

  start_round (&b);
  g_timeout_add_seconds (DEADLINE_S, deadline_cb, &b);
  g_main_loop_run (b.loop);

  out = g_string_new (NULL);
  if (b.error != NULL)
    {
      g_autofree char *msg = g_strescape (b.error->message, NULL);

      g_string_append_printf (out, "{\"event\":\"result\",\"ok\":false,\"error\":\"%s\"}", msg);
    }
  else
    {
      sorted = g_array_copy (b.samples);
      g_array_sort (sorted, compare_double);
      g_string_append (out, "{\"event\":\"result\",\"ok\":true,\"samples_ms\":[");
      for (guint i = 0; i < b.samples->len; i++)
        g_string_append_printf (out, "%s%.3f", i > 0 ? "," : "", g_array_index (b.samples, gdouble, i));
      g_string_append_printf (out, "],\"median_ms\":%.3f}",
                              g_array_index (sorted, gdouble, sorted->len / 2));
    }
  printf ("%s\n", out->str);

  punch_host_close (b.host);
  g_clear_object (&b.connection);
  g_clear_object (&b.identify);
  g_clear_object (&b.ping);
  g_clear_object (&b.host);
  g_clear_pointer (&b.addr, punch_multiaddr_unref);
  g_clear_pointer (&b.loop, g_main_loop_unref);
  g_clear_pointer (&b.samples, g_array_unref);
  return b.error != NULL ? (g_clear_error (&b.error), 1) : 0;
}
