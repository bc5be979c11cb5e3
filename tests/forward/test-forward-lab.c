/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Port forwarding through real NATs (tests/lab/lab, docs/nat-lab.md):
 * eim/eim with 100 ms per router. "relay" runs `punchline-cli relay` with
 * its limits off (a relay of one's own); "b", behind its NAT, runs a TCP
 * echo target and `listen --relay … --expose echo=… --allow echo:A`; "a",
 * behind the other NAT, runs `forward <b's relayed address> echo`. A client
 * inside "a" (this program, --client) moves bytes through the forwarded
 * port, checked byte for byte, while DCUtR replaces the relayed path with a
 * direct one: the connection opened first stays on the relay and keeps
 * working through the switch and past DCUtR's grace for the relayed
 * connection (it holds that connection until it ends), the ones opened
 * after it go direct to B's router.
 *
 * Needs root and nftables (skipped otherwise). Processes end by PID in the
 * teardown, and die with this program (PR_SET_PDEATHSIG) should it crash;
 * the lab comes down in the teardown or from a signal handler.
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "forward-test-util.h"
#include "lab-control.h"

#define MAX_PROCS 6
#define EVENT_TIMEOUT_S 30
#define ECHO_PORT "7000"
#define LOCAL_PORT "7100"
/* Small enough to sit in the socket buffers and the Yamux window: the
 * client writes all of it before reading the echo. */
#define BLOCK 16384
/* DCUtR's "relay-grace": how long a relayed connection a punch replaced
 * stays open for what runs on it, unless something holds it longer. */
#define RELAY_GRACE_S 5

static char *cli_bin;
static char *self_bin;

typedef struct
{
  char    *dir;
  FwdProc *procs[MAX_PROCS];
  GPid     pids[MAX_PROCS];
  guint    n_procs;
} Lab;

static void
run_lab (const char * const *args)
{
  g_autoptr (GError) error = NULL;

  if (!lab_control_run (args, NULL, &error))
    g_error ("%s", error->message);
}

static void
lab_setup (Lab          *lab,
           gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  memset (lab, 0, sizeof *lab);
  /* Our PID names the lab: runs side by side do not meet. */
  g_test_message ("lab %s (namespaces pl%s-*)", lab_control_id (), lab_control_id ());
  lab->dir = g_dir_make_tmp ("punch-forward-lab-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
lab_teardown (Lab          *lab,
              gconstpointer data)
{
  g_autoptr (GDir) dir = g_dir_open (lab->dir, 0, NULL);
  const char *name;

  for (guint i = 0; i < lab->n_procs; i++)
    {
      lab_control_untrack_pid (lab->pids[i]);
      g_clear_pointer (&lab->procs[i], fwd_proc_free);
    }
  lab_control_down ();
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (lab->dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (lab->dir);
  g_free (lab->dir);
}

/* Runs @args on lab host @host ("lab exec" keeps the PID: it is the
 * command's). */
static FwdProc *
lab_spawn (Lab                *lab,
           const char         *host,
           const char         *name,
           FwdProcFlags        flags,
           const char * const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  FwdProc *p;

  g_assert_cmpuint (lab->n_procs, <, MAX_PROCS);
  g_ptr_array_add (argv, (char *) lab_control_script ());
  g_ptr_array_add (argv, (char *) "exec");
  g_ptr_array_add (argv, (char *) host);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  p = fwd_proc_spawn (name, (const char * const *) argv->pdata, (const char * const *) lab_control_envp (), flags);
  lab->pids[lab->n_procs] = (GPid) g_ascii_strtoll (g_subprocess_get_identifier (p->proc), NULL, 10);
  lab_control_track_pid (lab->pids[lab->n_procs]);
  lab->procs[lab->n_procs++] = p;
  return p;
}

static char *
peer_id_of (Lab        *lab,
            const char *key)
{
  const char *argv[] = { cli_bin, "--json", "--identity", key, "id", NULL };
  g_autoptr (FwdProc) p = fwd_proc_spawn ("id", argv, NULL, FWD_PROC_DEFAULT);

  return g_strdup (fwd_event_str (fwd_proc_wait (p, "id", NULL, NULL, 0, EVENT_TIMEOUT_S), "peer_id"));
}

/* A direct connection to @peer is open on @p (its "connection" events). */
static gboolean
has_direct_connection (FwdProc    *p,
                       const char *peer)
{
  for (guint i = 0; i < p->events->len; i++)
    {
      JsonObject *e = g_ptr_array_index (p->events, i);

      if (g_strcmp0 (fwd_event_str (e, "event"), "connection") == 0
          && g_strcmp0 (fwd_event_str (e, "state"), "open") == 0
          && g_strcmp0 (fwd_event_str (e, "peer_id"), peer) == 0
          && json_object_has_member (e, "relayed")
          && !json_object_get_boolean_member (e, "relayed"))
        return TRUE;
    }
  return FALSE;
}

/* One echo of @size bytes on the client's connection @id. */
static void
client_echo (FwdProc *client,
             guint    id,
             gsize    size,
             guint   *echoes)
{
  g_autofree char *key = g_strdup_printf ("%u", id);
  JsonObject *e;

  fwd_proc_send (client, "echo %u %" G_GSIZE_FORMAT, id, size);
  e = fwd_proc_wait (client, "echoed", "id", key, *echoes, EVENT_TIMEOUT_S);
  g_assert_cmpint (fwd_event_int (e, "bytes"), ==, size);
  (*echoes)++;
}

static void
test_relay_then_direct (Lab          *lab,
                        gconstpointer data)
{
  const char *up[] = { "up", "eim", "eim", "50", "0", NULL };
  g_autofree char *a_key = g_build_filename (lab->dir, "a.key", NULL);
  g_autofree char *b_key = g_build_filename (lab->dir, "b.key", NULL);
  g_autofree char *r_key = g_build_filename (lab->dir, "r.key", NULL);
  g_autofree char *a_id = peer_id_of (lab, a_key);
  g_autofree char *relay_ma = NULL;
  g_autofree char *relayed = NULL;
  g_autofree char *allow = NULL;
  g_autofree char *b_id = NULL;
  FwdProc *relay, *echo, *b, *a, *client;
  JsonObject *e;
  JsonArray *addrs;
  guint echoes1 = 0, echoes2 = 0, during = 0;
  gint64 deadline;

  run_lab (up);

  {
    const char *args[] = { cli_bin, "--json", "--identity", r_key, "relay",
                           "--listen", "/ip4/0.0.0.0/tcp/4001",
                           "--limit-data", "0", "--limit-duration", "0", NULL };

    relay = lab_spawn (lab, "relay", "relay", FWD_PROC_DEFAULT, args);
  }
  e = fwd_proc_wait (relay, "listening", NULL, NULL, 0, EVENT_TIMEOUT_S);
  relay_ma = g_strdup_printf ("/ip4/198.18.0.2/tcp/4001/p2p/%s", fwd_event_str (e, "peer_id"));

  {
    const char *args[] = { self_bin, "--echo-server", "127.0.0.1:" ECHO_PORT, NULL };

    echo = lab_spawn (lab, "b", "b-echo", FWD_PROC_DEFAULT, args);
  }
  fwd_proc_wait (echo, "ready", NULL, NULL, 0, EVENT_TIMEOUT_S);

  allow = g_strdup_printf ("echo:%s", a_id);
  {
    const char *args[] = { cli_bin, "--json", "--identity", b_key, "listen",
                           "--listen", "/ip4/0.0.0.0/tcp/4002", "--relay", relay_ma,
                           "--expose", "echo=127.0.0.1:" ECHO_PORT, "--allow", allow, NULL };

    b = lab_spawn (lab, "b", "b", FWD_PROC_DEFAULT, args);
  }
  b_id = g_strdup (fwd_event_str (fwd_proc_wait (b, "listening", NULL, NULL, 0, EVENT_TIMEOUT_S), "peer_id"));
  e = fwd_proc_wait (b, "reserved", NULL, NULL, 0, EVENT_TIMEOUT_S);
  addrs = json_object_get_array_member (e, "addrs");
  for (guint i = 0; addrs != NULL && i < json_array_get_length (addrs); i++)
    if (g_str_has_prefix (json_array_get_string_element (addrs, i), "/ip4/198.18.0.2/"))
      relayed = g_strdup (json_array_get_string_element (addrs, i));
  g_assert_nonnull (relayed);

  {
    const char *args[] = { cli_bin, "--json", "--identity", a_key, "forward", relayed, "echo",
                           "--local", "127.0.0.1:" LOCAL_PORT, "--listen", "/ip4/0.0.0.0/tcp/4003", NULL };

    a = lab_spawn (lab, "a", "a", FWD_PROC_DEFAULT, args);
  }
  {
    const char *args[] = { self_bin, "--client", "127.0.0.1:" LOCAL_PORT, NULL };

    client = lab_spawn (lab, "a", "a-client", FWD_PROC_STDIN, args);
  }

  /* Before: connection 1 opens over the relay (no limits: it may). The
   * punch takes a few round trips of 200 ms after the relayed connection,
   * the stream two: the client connects as soon as the port listens. */
  fwd_proc_send (client, "open 1");
  e = fwd_proc_wait (a, "forwarding", NULL, NULL, 0, EVENT_TIMEOUT_S);
  g_assert_cmpstr (fwd_event_str (e, "local"), ==, "127.0.0.1:" LOCAL_PORT);
  fwd_proc_wait (client, "opened", "id", "1", 0, EVENT_TIMEOUT_S);
  client_echo (client, 1, BLOCK, &echoes1);
  e = fwd_proc_wait (a, "forward-open", NULL, NULL, 0, EVENT_TIMEOUT_S);
  if (g_strcmp0 (fwd_event_str (e, "path"), "relayed") != 0)
    g_error ("the hole punch finished before the first forwarded connection opened: "
             "nothing to check through the switch (%s)", fwd_event_str (e, "path"));
  g_assert_true (g_str_has_prefix (fwd_event_str (e, "remote"), "/ip4/198.18.0.2/tcp/4001/"));
  e = fwd_proc_wait (b, "forward-open", NULL, NULL, 0, EVENT_TIMEOUT_S);
  g_assert_cmpstr (fwd_event_str (e, "direction"), ==, "inbound");
  g_assert_cmpstr (fwd_event_str (e, "path"), ==, "relayed");

  /* During: bytes keep moving on connection 1 until the direct
   * connection is up ("a"'s events arrive while we wait for the client's). */
  fwd_proc_follow (a);
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (!has_direct_connection (a, b_id))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      client_echo (client, 1, BLOCK, &echoes1);
      during++;
    }
  g_assert_cmpuint (during, >=, 1);

  /* After: a new connection goes direct, to B's router, while the first
   * one stays where it is. */
  fwd_proc_send (client, "open 2");
  fwd_proc_wait (client, "opened", "id", "2", 0, EVENT_TIMEOUT_S);
  client_echo (client, 2, 4 * BLOCK, &echoes2);
  client_echo (client, 2, BLOCK, &echoes2);
  e = fwd_proc_wait (a, "forward-open", NULL, NULL, 1, EVENT_TIMEOUT_S);
  g_assert_cmpstr (fwd_event_str (e, "path"), ==, "direct");
  g_assert_true (g_str_has_prefix (fwd_event_str (e, "remote"), "/ip4/198.18.2.1/tcp/4002"));
  e = fwd_proc_wait (b, "forward-open", NULL, NULL, 1, EVENT_TIMEOUT_S);
  g_assert_cmpstr (fwd_event_str (e, "path"), ==, "direct");
  g_assert_true (g_str_has_prefix (fwd_event_str (e, "remote"), "/ip4/198.18.1.1/"));
  fwd_proc_send (client, "close 2");
  fwd_proc_wait (client, "closed", "id", "2", 0, EVENT_TIMEOUT_S);
  e = fwd_proc_wait (a, "forward", NULL, NULL, 0, EVENT_TIMEOUT_S);
  g_assert_cmpstr (fwd_event_str (e, "outcome"), ==, "ok");
  g_assert_cmpint (fwd_event_int (e, "bytes_out"), ==, 5 * BLOCK);
  g_assert_cmpint (fwd_event_int (e, "bytes_in"), ==, 5 * BLOCK);

  /* The first connection keeps working on the relay well past DCUtR's
   * 5 s grace for the relayed connection: it holds that connection, which
   * closes only once the forwarded connection ends. */
  fwd_proc_follow (relay);
  deadline = g_get_monotonic_time () + (RELAY_GRACE_S + 3) * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    client_echo (client, 1, BLOCK, &echoes1);
  g_assert_null (fwd_proc_find (relay, "circuit", "state", "closed", 0));
  fwd_proc_send (client, "close 1");
  fwd_proc_wait (client, "closed", "id", "1", 0, EVENT_TIMEOUT_S);
  e = fwd_proc_wait (a, "forward", NULL, NULL, 1, EVENT_TIMEOUT_S);
  g_assert_cmpstr (fwd_event_str (e, "outcome"), ==, "ok");
  g_assert_cmpint (fwd_event_int (e, "bytes_out"), ==, (gint64) echoes1 * BLOCK);
  g_assert_cmpint (fwd_event_int (e, "bytes_in"), ==, (gint64) echoes1 * BLOCK);
  e = fwd_proc_find (b, "forward", NULL, NULL, 1) ?: fwd_proc_wait (b, "forward", NULL, NULL, 1, EVENT_TIMEOUT_S);
  g_assert_cmpstr (fwd_event_str (e, "outcome"), ==, "ok");
  g_assert_cmpstr (fwd_event_str (e, "peer_id"), ==, a_id);
  g_assert_cmpint (fwd_event_int (e, "bytes_in"), ==, (gint64) echoes1 * BLOCK);
  g_test_message ("connection 1: %u echoes of %d bytes (%u while the punch ran)", echoes1, BLOCK, during);

  /* The relay carried connection 1 and none of connection 2: its circuit,
   * closed once connection 1 released it, counted connection 1's bytes
   * plus framing, identify and DCUtR (a few KiB), far from connection 2's. */
  e = fwd_proc_wait (relay, "circuit", "state", "closed", 0, EVENT_TIMEOUT_S);
  g_assert_cmpstr (fwd_event_str (e, "src"), ==, a_id);
  g_test_message ("relay circuit: %" G_GINT64_FORMAT " bytes A to B, %" G_GINT64_FORMAT " B to A",
                  fwd_event_int (e, "bytes_to_dst"), fwd_event_int (e, "bytes_to_src"));
  g_assert_cmpint (fwd_event_int (e, "bytes_to_dst"), >=, (gint64) echoes1 * BLOCK);
  g_assert_cmpint (fwd_event_int (e, "bytes_to_dst"), <, (gint64) echoes1 * BLOCK + 2 * BLOCK);
  g_assert_cmpint (fwd_event_int (e, "bytes_to_src"), >=, (gint64) echoes1 * BLOCK);
  g_assert_cmpint (fwd_event_int (e, "bytes_to_src"), <, (gint64) echoes1 * BLOCK + 2 * BLOCK);
}

/* --- helpers run inside the lab ----------------------------------------------- */

static void
print_event (const char *format,
             ...) G_GNUC_PRINTF (1, 2);

static void
print_event (const char *format,
             ...)
{
  va_list args;

  va_start (args, format);
  vprintf (format, args);
  va_end (args);
  putchar ('\n');
  fflush (stdout);
}

/* --echo-server HOST:PORT: a TCP echo target; runs until killed. */
static int
echo_server_main (const char *address)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  GSocketService *service = fwd_echo_start (address, NULL, NULL, &error);

  if (service == NULL)
    g_error ("listening on %s: %s", address, error->message);
  print_event ("{\"event\":\"ready\"}");
  g_main_loop_run (loop);
  fwd_echo_stop (service);
  return 0;
}

/* The bytes of connection @id at @offset: different on every connection. */
static guint8
client_byte (guint   id,
             guint64 offset)
{
  return (guint8) (offset * 7 + (offset >> 9) + id * 101);
}

typedef struct
{
  GSocket *socket;
  guint64  sent;
} ClientConn;

static void
client_conn_free (ClientConn *cc)
{
  g_object_unref (cc->socket);
  g_free (cc);
}

static gboolean
client_send_all (GSocket      *socket,
                 const guint8 *buf,
                 gsize         len,
                 GError      **error)
{
  gsize sent = 0;

  while (sent < len)
    {
      gssize n = g_socket_send (socket, (const char *) buf + sent, len - sent, NULL, error);

      if (n < 0)
        return FALSE;
      sent += n;
    }
  return TRUE;
}

static gboolean
client_recv_all (GSocket *socket,
                 guint8  *buf,
                 gsize    len,
                 GError **error)
{
  gsize got = 0;

  while (got < len)
    {
      gssize n = g_socket_receive (socket, (char *) buf + got, len - got, NULL, error);

      if (n < 0)
        return FALSE;
      if (n == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "EOF after %" G_GSIZE_FORMAT " of %"
                       G_GSIZE_FORMAT " bytes", got, len);
          return FALSE;
        }
      got += n;
    }
  return TRUE;
}

static gboolean
client_command (GHashTable *conns,
                const char *address,
                const char *line,
                GError    **error)
{
  g_auto (GStrv) words = g_strsplit (line, " ", -1);
  guint id;
  ClientConn *cc;

  if (g_strv_length (words) < 2)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad command “%s”", line);
      return FALSE;
    }
  id = (guint) g_ascii_strtoull (words[1], NULL, 10);
  cc = g_hash_table_lookup (conns, GUINT_TO_POINTER (id));
  if (g_str_equal (words[0], "open"))
    {
      g_autoptr (GSocketClient) sc = g_socket_client_new ();
      g_autoptr (GSocketConnection) conn = NULL;

      gint64 deadline = g_get_monotonic_time () + EVENT_TIMEOUT_S * G_USEC_PER_SEC;

      g_socket_client_set_timeout (sc, EVENT_TIMEOUT_S);
      /* The forwarded port may not listen yet: connection 1 is asked for
       * before it does, to open as early as it can. */
      while ((conn = g_socket_client_connect_to_host (sc, address, 0, NULL, error)) == NULL
             && g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED)
             && g_get_monotonic_time () < deadline)
        {
          g_clear_error (error);
          g_usleep (10 * 1000);
        }
      if (conn == NULL)
        return FALSE;
      cc = g_new0 (ClientConn, 1);
      cc->socket = g_object_ref (g_socket_connection_get_socket (conn));
      g_socket_set_timeout (cc->socket, EVENT_TIMEOUT_S);
      g_hash_table_insert (conns, GUINT_TO_POINTER (id), cc);
      print_event ("{\"event\":\"opened\",\"id\":\"%u\"}", id);
      return TRUE;
    }
  if (cc == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no connection %u", id);
      return FALSE;
    }
  if (g_str_equal (words[0], "echo") && words[2] != NULL)
    {
      gsize size = (gsize) g_ascii_strtoull (words[2], NULL, 10);
      g_autofree guint8 *out = NULL;
      g_autofree guint8 *in = NULL;
      gint64 start = g_get_monotonic_time ();

      if (size == 0 || size > 4 * BLOCK)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "echo size %" G_GSIZE_FORMAT, size);
          return FALSE;
        }
      out = g_malloc (size);
      in = g_malloc (size);
      for (gsize i = 0; i < size; i++)
        out[i] = client_byte (id, cc->sent + i);
      if (!client_send_all (cc->socket, out, size, error)
          || !client_recv_all (cc->socket, in, size, error))
        return FALSE;
      if (memcmp (in, out, size) != 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "connection %u: the echo differs", id);
          return FALSE;
        }
      cc->sent += size;
      print_event ("{\"event\":\"echoed\",\"id\":\"%u\",\"bytes\":%" G_GSIZE_FORMAT ",\"ms\":%.1f}",
                   id, size, (g_get_monotonic_time () - start) / 1000.0);
      return TRUE;
    }
  if (g_str_equal (words[0], "close"))
    {
      guint8 extra;
      gssize n;

      /* Half-close, then the target's FIN comes back with nothing before it. */
      if (!g_socket_shutdown (cc->socket, FALSE, TRUE, error))
        return FALSE;
      n = g_socket_receive (cc->socket, (char *) &extra, 1, NULL, error);
      if (n < 0)
        return FALSE;
      if (n > 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "connection %u: bytes after the echo", id);
          return FALSE;
        }
      g_hash_table_remove (conns, GUINT_TO_POINTER (id));
      print_event ("{\"event\":\"closed\",\"id\":\"%u\"}", id);
      return TRUE;
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad command “%s”", line);
  return FALSE;
}

/* --client HOST:PORT: TCP connections to the forwarded port, driven by
 * lines on stdin ("open ID", "echo ID BYTES", "close ID"), one JSON line
 * per result. A helper process on its own: blocking I/O with timeouts. */
static int
client_main (const char *address)
{
  g_autoptr (GHashTable) conns = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) client_conn_free);
  char line[256];

  while (fgets (line, sizeof line, stdin) != NULL)
    {
      g_autoptr (GError) error = NULL;

      g_strstrip (line);
      if (line[0] == '\0')
        continue;
      if (!client_command (conns, address, line, &error))
        {
          g_autofree char *escaped = g_strescape (error->message, NULL);

          print_event ("{\"event\":\"error\",\"command\":\"%s\",\"message\":\"%s\"}", line, escaped);
        }
    }
  return 0;
}

static void
skip (gconstpointer reason)
{
  g_test_skip (reason);
}

int
main (int   argc,
      char *argv[])
{
  const char *source_root = g_getenv ("PUNCH_SOURCE_ROOT");
  const char *build_root = g_getenv ("PUNCH_BUILD_ROOT");

  if (argc == 3 && g_str_equal (argv[1], "--echo-server"))
    return echo_server_main (argv[2]);
  if (argc == 3 && g_str_equal (argv[1], "--client"))
    return client_main (argv[2]);

  g_test_init (&argc, &argv, NULL);
  if (source_root == NULL || build_root == NULL)
    {
      g_test_add_data_func ("/lab/forward/relay-then-direct", "PUNCH_SOURCE_ROOT and PUNCH_BUILD_ROOT "
                            "are unset: run under meson test", skip);
      return g_test_run ();
    }
  lab_control_init ();
  cli_bin = g_build_filename (build_root, "app", "punchline-cli", NULL);
  self_bin = g_build_filename (build_root, "tests", "forward", "test-forward-lab", NULL);

  if (!lab_control_available ())
    g_test_add_data_func ("/lab/forward/relay-then-direct", "the NAT lab needs root and nftables", skip);
  else if (!g_file_test (cli_bin, G_FILE_TEST_IS_EXECUTABLE))
    g_test_add_data_func ("/lab/forward/relay-then-direct", "punchline-cli is not built", skip);
  else
    g_test_add ("/lab/forward/relay-then-direct", Lab, NULL, lab_setup, test_relay_then_direct, lab_teardown);
  return g_test_run ();
}
