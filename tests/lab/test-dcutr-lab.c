/* SPDX-License-Identifier: GPL-3.0-or-later */
/* DCUtR through real NATs: each case builds the NAT lab (tests/lab/lab) in
 * its own namespaces, runs our relay on "relay", a listener reserving on it
 * on "b" and a dialer on "a" dialling b's relayed address, and judges the
 * JSON events of tests/lab/punch-lab-peer. Needs root (CI runs as root);
 * skipped otherwise. Processes end by PID and the lab comes down in the
 * teardown, and from a signal handler should a case crash. */
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab-control.h"

#define MAX_PROCS 3

typedef struct
{
  const char       *name;
  GPid              pid;
  GPtrArray        *events;    /* JsonObject */
  GDataInputStream *out;
  GCancellable     *cancellable;
  gboolean          reading;   /* a line read is pending */
  gboolean          orphaned;  /* the test is over: the pending read frees us */
  gboolean          eof;
  int               status;
  gboolean          exited;
} Proc;

typedef struct
{
  Proc *procs[MAX_PROCS];
  guint n_procs;
  gboolean up;
} Lab;

typedef struct
{
  const char *nat_a;
  const char *nat_b;   /* NULL for hairpin */
  guint       delay_ms;  /* one way, on each router's WAN link */
  guint       loss;
  gboolean    js_a;      /* the dialer is js-libp2p (tests/lab/lab-peer.mjs) */
  gboolean    js_b;      /* the listener is */
  gboolean    cli;       /* relay and listener are punchline-cli */
  gboolean    cli_a;     /* the dialer is punchline-cli dial --json --require-direct */
} Scenario;

static char *peer_bin;
static char *node_bin;
static char *cli_bin;
static char *tmp_dir;
static char *js_hook;
static char *js_peer;

static void
lab_setup (Lab *lab, gconstpointer data)
{
  memset (lab, 0, sizeof *lab);
}

static void
proc_end (Proc *proc)
{
  if (proc->pid <= 0)
    return;
  if (!proc->exited)
    {
      kill (proc->pid, SIGTERM);
      for (guint i = 0; i < 40; i++)
        {
          if (waitpid (proc->pid, &proc->status, WNOHANG) == proc->pid)
            {
              proc->exited = TRUE;
              break;
            }
          g_usleep (50 * 1000);
        }
      if (!proc->exited)
        {
          kill (proc->pid, SIGKILL);
          waitpid (proc->pid, &proc->status, 0);
        }
    }
  g_spawn_close_pid (proc->pid);
  proc->pid = 0;
}

static void
proc_free (Proc *proc)
{
  g_clear_object (&proc->out);
  g_clear_object (&proc->cancellable);
  g_clear_pointer (&proc->events, g_ptr_array_unref);
  g_free (proc);
}

static void
lab_teardown (Lab *lab, gconstpointer data)
{
  for (guint i = 0; i < lab->n_procs; i++)
    {
      Proc *proc = lab->procs[i];

      proc_end (proc);
      lab_control_untrack_pid (proc->pid);
      g_cancellable_cancel (proc->cancellable);
      if (proc->reading)
        proc->orphaned = TRUE;
      else
        proc_free (proc);
    }
  lab_control_down ();
}

static void read_next_line (Proc *proc);

static void
line_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Proc *proc = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);
  g_autoptr (JsonParser) parser = NULL;

  proc->reading = FALSE;
  if (proc->orphaned)
    {
      proc_free (proc);
      return;
    }
  if (line == NULL)
    {
      proc->eof = TRUE;
      return;
    }
  parser = json_parser_new ();
  if (json_parser_load_from_data (parser, line, -1, NULL) && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      JsonObject *ev = json_node_get_object (json_parser_get_root (parser));

      g_test_message ("%s: %s", proc->name, line);
      /* When we read it (CLOCK_MONOTONIC, ms): punchline-cli's events carry
       * only wall-clock times, the relay's counters carry "mono". */
      json_object_set_int_member (ev, "recv_mono", g_get_monotonic_time () / 1000);
      g_ptr_array_add (proc->events, json_object_ref (ev));
    }
  read_next_line (proc);
}

static void
read_next_line (Proc *proc)
{
  proc->reading = TRUE;
  g_data_input_stream_read_line_async (proc->out, G_PRIORITY_DEFAULT, proc->cancellable, line_read, proc);
}

typedef enum
{
  PEER_C,    /* tests/lab/punch-lab-peer */
  PEER_JS,   /* tests/lab/lab-peer.mjs */
  PEER_CLI,  /* punchline-cli --json */
} PeerKind;

static Proc *
lab_spawn_full (Lab *lab, const char *host, PeerKind kind, const char * const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *identity = g_strdup_printf ("%s/%s-%s.key", tmp_dir, lab_control_id (), host);
  Proc *proc = g_new0 (Proc, 1);
  int out_fd;
  g_autoptr (GInputStream) raw = NULL;

  g_assert_cmpuint (lab->n_procs, <, MAX_PROCS);
  g_ptr_array_add (argv, (char *) lab_control_script ());
  g_ptr_array_add (argv, (char *) "exec");
  g_ptr_array_add (argv, (char *) host);
  if (kind == PEER_CLI)
    {
      g_ptr_array_add (argv, cli_bin);
      g_ptr_array_add (argv, (char *) "--json");
      g_ptr_array_add (argv, (char *) "--identity");
      g_ptr_array_add (argv, identity);
    }
  else if (kind == PEER_JS)
    {
      g_ptr_array_add (argv, node_bin);
      g_ptr_array_add (argv, (char *) "--import");
      g_ptr_array_add (argv, js_hook);
      g_ptr_array_add (argv, js_peer);
    }
  else
    g_ptr_array_add (argv, peer_bin);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  /* "lab exec" ends in exec: the PID is the peer's. */
  if (!g_spawn_async_with_pipes (NULL, (char **) argv->pdata, lab_control_envp (), G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                 &proc->pid, NULL, &out_fd, NULL, &error))
    {
      g_test_fail_printf ("spawning %s on %s: %s", args[0], host, error->message);
      g_free (proc);
      return NULL;
    }
  lab->procs[lab->n_procs++] = proc;
  proc->cancellable = g_cancellable_new ();
  lab_control_track_pid (proc->pid);
  proc->name = host;
  proc->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  raw = g_unix_input_stream_new (out_fd, TRUE);
  proc->out = g_data_input_stream_new (raw);
  read_next_line (proc);
  return proc;
}

static gboolean
wake (gpointer user_data)
{
  return G_SOURCE_REMOVE;
}

static const char *
event_str (JsonObject *ev, const char *member)
{
  JsonNode *node = json_object_get_member (ev, member);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING
             ? json_node_get_string (node) : NULL;
}

static double
event_num (JsonObject *ev, const char *member)
{
  JsonNode *node = json_object_get_member (ev, member);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) ? json_node_get_double (node) : -1;
}

static gboolean
event_matches (JsonObject *ev, const char *name, const char *key, const char *value)
{
  const char *got;

  if (g_strcmp0 (event_str (ev, "event"), name) != 0)
    return FALSE;
  if (key == NULL)
    return TRUE;
  got = event_str (ev, key);
  return got != NULL && g_str_equal (got, value);
}

/* The first event @name (with @key = @value) of @proc, waiting up to
 * @timeout_ms for it; NULL (and a failed test) when it does not come. */
static JsonObject *
wait_event (Proc *proc, const char *name, const char *key, const char *value, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;)
    {
      for (guint i = 0; proc->events != NULL && i < proc->events->len; i++)
        if (event_matches (g_ptr_array_index (proc->events, i), name, key, value))
          return g_ptr_array_index (proc->events, i);
      if (proc->eof || g_get_monotonic_time () > deadline)
        break;
      g_timeout_add (50, wake, NULL);
      g_main_context_iteration (NULL, TRUE);
    }
  g_test_fail_printf ("%s: no \"%s\" event%s%s%s within %u ms", proc->name, name, key ? " with " : "",
                      key ? key : "", key ? "" : "", timeout_ms);
  return NULL;
}

static JsonObject *
last_event (Proc *proc, const char *name, const char *key, const char *value)
{
  for (guint i = proc->events->len; i > 0; i--)
    if (event_matches (g_ptr_array_index (proc->events, i - 1), name, key, value))
      return g_ptr_array_index (proc->events, i - 1);
  return NULL;
}

static gboolean
proc_wait_exit (Proc *proc, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!proc->exited && g_get_monotonic_time () < deadline)
    {
      if (waitpid (proc->pid, &proc->status, WNOHANG) == proc->pid)
        proc->exited = TRUE;
      else
        {
          g_timeout_add (50, wake, NULL);
          g_main_context_iteration (NULL, TRUE);
        }
    }
  /* The rest of stdout. */
  while (proc->exited && !proc->eof)
    g_main_context_iteration (NULL, TRUE);
  return proc->exited;
}

typedef struct
{
  Proc       *relay;
  Proc       *b;
  Proc       *a;
  JsonObject *result;
  char       *relayed_addr;
} Run;

static void
run_clear (Run *run)
{
  g_free (run->relayed_addr);
}

/* Brings the lab up and runs relay, listener and dialer to the dialer's
 * result. FALSE (test failed) when any step does not happen. */
static gboolean
run_scenario (Lab *lab, const Scenario *sc, Run *run, const char *dial_wait)
{
  g_autofree char *delay = g_strdup_printf ("%u", sc->delay_ms);
  g_autofree char *loss = g_strdup_printf ("%u", sc->loss);
  const char *up_pair[] = { "up", sc->nat_a, sc->nat_b, delay, loss, NULL };
  const char *up_hairpin[] = { "up", "hairpin", delay, loss, NULL };
  const char *relay_args[] = { "relay", "--listen", "/ip4/0.0.0.0/tcp/4001", NULL };
  g_autofree char *relay_ma = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *ev;
  JsonArray *addrs;

  memset (run, 0, sizeof *run);
  if (!lab_control_run (sc->nat_b != NULL ? up_pair : up_hairpin, NULL, &error))
    {
      g_test_fail_printf ("%s", error->message);
      return FALSE;
    }
  lab->up = TRUE;

  run->relay = lab_spawn_full (lab, "relay", sc->cli ? PEER_CLI : PEER_C, relay_args);
  if (run->relay == NULL || (ev = wait_event (run->relay, "listening", NULL, NULL, 5000)) == NULL)
    return FALSE;
  relay_ma = g_strdup_printf ("/ip4/198.18.0.2/tcp/4001/p2p/%s", event_str (ev, "peer_id"));

  {
    /* js advertises only what AutoNAT confirmed, and the lab has no AutoNAT
     * server: it announces where its listen port shows on the internet
     * (with a port-preserving NAT, as if it reused that port). */
    const char *b_announce = g_strcmp0 (sc->nat_b, "none") == 0 ? "/ip4/198.18.2.2/tcp/4002" : "/ip4/198.18.2.1/tcp/4002";
    const char *b_args[] = { "listen", "--listen", "/ip4/0.0.0.0/tcp/4002", "--relay", relay_ma,
                             sc->js_b ? "--announce" : NULL, b_announce, NULL };

    run->b = lab_spawn_full (lab, "b", sc->js_b ? PEER_JS : sc->cli ? PEER_CLI : PEER_C, b_args);
  }
  if (run->b == NULL || (ev = wait_event (run->b, "reserved", NULL, NULL, 10000)) == NULL)
    return FALSE;
  addrs = json_object_get_array_member (ev, "addrs");
  for (guint i = 0; addrs != NULL && i < json_array_get_length (addrs); i++)
    if (g_str_has_prefix (json_array_get_string_element (addrs, i), "/ip4/198.18.0.2/"))
      run->relayed_addr = g_strdup (json_array_get_string_element (addrs, i));
  if (run->relayed_addr == NULL)
    {
      g_test_fail_printf ("no relayed address on the lab's internet in the reservation");
      return FALSE;
    }

  if (sc->cli_a)
    {
      /* Five pings on the path the punch left, 150 ms apart: the window in
       * which the relay's counters must stand still. */
      const char *a_args[] = { "--timeout", "30", "dial", "--listen", "/ip4/0.0.0.0/tcp/4003", "--require-direct",
                               "--punch-wait", dial_wait, "--ping", "5", "--interval", "150", run->relayed_addr, NULL };

      run->a = lab_spawn_full (lab, "a", PEER_CLI, a_args);
    }
  else
    {
      const char *a_announce = g_strcmp0 (sc->nat_a, "none") == 0 ? "/ip4/198.18.1.2/tcp/4003" : "/ip4/198.18.1.1/tcp/4003";
      const char *a_args[] = { "dial", "--listen", "/ip4/0.0.0.0/tcp/4003", "--wait", dial_wait,
                               sc->js_a ? "--announce" : run->relayed_addr, sc->js_a ? a_announce : NULL,
                               run->relayed_addr, NULL };

      run->a = lab_spawn_full (lab, "a", sc->js_a ? PEER_JS : PEER_C, a_args);
    }
  if (run->a == NULL || (run->result = wait_event (run->a, "result", NULL, NULL, 60000)) == NULL)
    return FALSE;
  proc_wait_exit (run->a, 5000);
  return TRUE;
}

static const char *
result_path (Run *run)
{
  return event_str (run->result, "path");
}

/* The relay carried (next to) nothing between the direct connection and
 * the end of the dialer's pings on it: five pings over the relay would be
 * five 32-byte pings and their answers in Yamux frames in Noise messages,
 * over 600 bytes; a late control frame (a stream's FIN, a window update) on
 * the relayed connection is 30. */
#define RELAY_STRAY_BYTES 64

static void
assert_relay_idle_after (Run *run, double from_mono, double to_mono)
{
  gint64 first = -1, last = -1;
  guint ticks = 0;

  for (guint i = 0; i < run->relay->events->len; i++)
    {
      JsonObject *ev = g_ptr_array_index (run->relay->events, i);
      double mono = event_num (ev, "mono");
      gint64 bytes;

      if (!event_matches (ev, "circuit", "state", "open") || mono < from_mono || mono > to_mono)
        continue;
      bytes = (gint64) (event_num (ev, "bytes_to_dst") + event_num (ev, "bytes_to_src"));
      if (first < 0)
        first = bytes;
      last = bytes;
      ticks++;
    }
  g_test_message ("relay counters at %u ticks after the punch: %" G_GINT64_FORMAT " then %" G_GINT64_FORMAT " bytes",
                  ticks, first, last);
  g_assert_cmpuint (ticks, >=, 2);
  g_assert_cmpint (last - first, <=, RELAY_STRAY_BYTES);
}

/* The dialer's first ping on the direct connection (punch-lab-peer marks
 * its pings relayed or not; punchline-cli pings only once the path is
 * settled, so after a punch all of its pings are direct). */
static JsonObject *
first_direct_ping (Run *run, gboolean cli)
{
  for (guint i = 0; i < run->a->events->len; i++)
    {
      JsonObject *ev = g_ptr_array_index (run->a->events, i);

      if (event_matches (ev, "ping", NULL, NULL)
          && (cli || !json_object_get_boolean_member_with_default (ev, "relayed", TRUE)))
        return ev;
    }
  return NULL;
}

static void
assert_direct (Run *run, const char *expected_remote_host, const char *outcome, gboolean relay_ticks)
{
  JsonObject *a_hp, *b_hp, *ping;
  const char *remote = event_str (run->result, "remote");
  double rtt_relayed = event_num (run->result, "rtt_relayed_ms");
  double rtt_direct = event_num (run->result, "rtt_direct_ms");
  /* punchline-cli has no "outcome" in its result nor "mono" in its events. */
  gboolean cli = !json_object_has_member (run->result, "mono");
  const char *clock = cli ? "recv_mono" : "mono";

  g_assert_cmpstr (result_path (run), ==, "direct");
  g_assert_nonnull (remote);
  if (remote == NULL)
    return;
  /* The direct connection runs to the peer's router (or the public peer),
   * not to the relay. */
  g_assert_true (g_str_has_prefix (remote, expected_remote_host));
  g_assert_false (g_str_has_prefix (remote, "/ip4/198.18.0.2/"));
  g_assert_cmpfloat (rtt_relayed, >, 0);
  g_assert_cmpfloat (rtt_direct, >, 0);
  g_test_message ("ms_to_direct %.0f, rtt relayed %.1f ms, direct %.1f ms, attempts %.0f",
                  event_num (run->result, "ms_to_direct"), rtt_relayed, rtt_direct, event_num (run->result, "attempts"));
  if (cli)
    {
      g_assert_true (json_object_get_boolean_member_with_default (run->result, "ok", FALSE));
      g_assert_cmpfloat (event_num (run->result, "attempts"), >=, 1);
      g_assert_cmpfloat (event_num (run->result, "ms_to_direct"), >, 0);
    }
  else
    g_assert_cmpstr (event_str (run->result, "outcome"), ==, outcome);

  a_hp = last_event (run->a, "holepunch", "state", "succeeded");
  if (a_hp != NULL)
    g_assert_cmpstr (event_str (a_hp, "outcome"), ==, outcome);
  b_hp = wait_event (run->b, "holepunch", "state", "succeeded", 5000);
  if (g_strcmp0 (outcome, "success") == 0)
    g_assert_nonnull (a_hp);
  g_assert_nonnull (b_hp);
  if (b_hp != NULL)
    g_assert_cmpstr (event_str (b_hp, "outcome"), ==, outcome);
  ping = first_direct_ping (run, cli);
  g_assert_nonnull (ping);
  if (ping != NULL && relay_ticks)
    assert_relay_idle_after (run, event_num (ping, clock), event_num (run->result, clock));
}

/* eim/eim: a TCP simultaneous open through both NATs. */
static void
test_punch (Lab *lab, gconstpointer data)
{
  const Scenario *sc = data;
  Run run;

  if ((sc->cli || sc->cli_a) && !g_file_test (cli_bin, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("punchline-cli is not built");
      return;
    }
  if (run_scenario (lab, sc, &run, "30"))
    {
      assert_direct (&run, "/ip4/198.18.2.1/tcp/4002", "success", !sc->cli);
      if (sc->delay_ms > 0)
        {
          /* Each router adds 2 × delay to a round trip; the direct path
           * crosses both, as the relayed one does. */
          double expected = 4.0 * sc->delay_ms;

          g_assert_cmpfloat (event_num (run.result, "rtt_direct_ms"), >=, expected);
          g_assert_cmpfloat (event_num (run.result, "rtt_direct_ms"), <, expected + 50);
        }
      g_assert_cmpint (run.a->status, ==, 0);
    }
  run_clear (&run);
}

/* B is public: A dials it... through the relay first; the punch (or B's
 * own dial) gives a direct path to B's own address. */
static void
test_public_b (Lab *lab, gconstpointer data)
{
  Run run;

  if (run_scenario (lab, data, &run, "30"))
    assert_direct (&run, "/ip4/198.18.2.2/tcp/4002", "success", TRUE);
  run_clear (&run);
}

/* A is public: B dials A's advertised address (connection reversal). */
static void
test_public_a (Lab *lab, gconstpointer data)
{
  Run run;

  if (run_scenario (lab, data, &run, "30"))
    {
      JsonObject *reversing = wait_event (run.b, "holepunch", "state", "reversing", 1000);

      g_assert_nonnull (reversing);
      g_assert_cmpstr (result_path (&run), ==, "direct");
      g_assert_cmpstr (event_str (run.result, "outcome"), ==, "connection reversed");
      /* B's CONNECT came before its reversal: A waited for SYNC and took
       * the reversal as the end of that punch, not as a failure first. */
      g_assert_null (last_event (run.a, "holepunch", "state", "failed"));
      /* B dialled from its listen port, through its router. */
      g_assert_true (g_str_has_prefix (event_str (run.result, "remote") ? event_str (run.result, "remote") : "",
                                       "/ip4/198.18.2.1/tcp/4002"));
    }
  run_clear (&run);
}

/* No punch possible: the connection stays relayed, with the reason, and
 * still carries pings. */
static void
test_fallback (Lab *lab, gconstpointer data)
{
  const Scenario *sc = data;
  Run run;

  if (sc->cli_a && !g_file_test (cli_bin, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("punchline-cli is not built");
      return;
    }
  if (run_scenario (lab, sc, &run, "50"))
    {
      JsonObject *failed = wait_event (run.b, "holepunch", "state", "failed", 5000);

      g_assert_cmpstr (result_path (&run), ==, "relayed");
      g_assert_cmpfloat (event_num (run.result, "attempts"), ==, 3);
      g_assert_nonnull (event_str (run.result, "reason"));
      g_test_message ("fallback reason: %s", event_str (run.result, "reason"));
      g_assert_nonnull (failed);
      if (failed != NULL)
        g_assert_cmpstr (event_str (failed, "outcome"), ==, "failed");
      if (sc->cli_a)
        {
          /* punchline-cli dial --require-direct: a relayed path is a
           * failure, exit status 1, with the punch's reason. */
          g_assert_true (WIFEXITED (run.a->status) && WEXITSTATUS (run.a->status) == 1);
          g_assert_false (json_object_get_boolean_member_with_default (run.result, "ok", TRUE));
          g_assert_true (g_str_has_prefix (event_str (run.result, "error") ? event_str (run.result, "error") : "",
                                           "No direct connection to the peer: attempt 3: "));
          g_assert_true (g_str_has_prefix (event_str (run.result, "remote") ? event_str (run.result, "remote") : "",
                                           "/ip4/198.18.0.2/tcp/4001/"));
          g_assert_cmpfloat (event_num (run.result, "rtt_relayed_ms"), >, 0);
        }
      else
        {
          g_assert_cmpint (run.a->status, ==, 0);
          /* The relayed connection still works after the last attempt. */
          g_assert_cmpfloat (event_num (run.result, "rtt_relayed_after_ms"), >, 0);
        }
    }
  run_clear (&run);
}


static gboolean
have_js (void)
{
  if (g_file_test (node_bin, G_FILE_TEST_IS_EXECUTABLE))
    return TRUE;
  g_test_skip ("no Node.js in tests/interop/node_modules (npm ci there)");
  return FALSE;
}

/* A direct path with a js peer: either side's dial reached the other's
 * listener (a public js peer), or ours reached it by connection reversal. */
static void
test_js_direct (Lab *lab, gconstpointer data)
{
  const Scenario *sc = data;
  Run run;

  if (!have_js ())
    return;
  if (run_scenario (lab, sc, &run, "30"))
    {
      const char *remote = event_str (run.result, "remote");
      const char *expected = sc->js_b ? (g_strcmp0 (sc->nat_b, "none") == 0 ? "/ip4/198.18.2.2/tcp/4002" : "/ip4/198.18.2.1/")
                                      : "/ip4/198.18.2.";

      g_test_message ("%s: ms_to_direct %.0f, rtt relayed %.1f ms, direct %.1f ms", remote ? remote : "(none)",
                      event_num (run.result, "ms_to_direct"), event_num (run.result, "rtt_relayed_ms"),
                      event_num (run.result, "rtt_direct_ms"));
      g_assert_cmpstr (result_path (&run), ==, "direct");
      g_assert_nonnull (remote);
      if (remote != NULL)
        {
          g_assert_true (g_str_has_prefix (remote, expected));
          g_assert_false (g_str_has_prefix (remote, "/ip4/198.18.0.2/"));
        }
      g_assert_cmpfloat (event_num (run.result, "rtt_direct_ms"), >, 0);
    }
  run_clear (&run);
}

/* Both behind NATs with a js peer: the DCUtR exchange runs with js in our
 * role's opposite (three CONNECT/SYNC rounds), but js dials from an
 * ephemeral port (no SO_REUSEPORT in Node.js), so no mapping matches and
 * the connection stays relayed. */
static void
test_js_no_reuse (Lab *lab, gconstpointer data)
{
  const Scenario *sc = data;
  Run run;

  if (!have_js ())
    return;
  if (run_scenario (lab, sc, &run, "30"))
    {
      Proc *ours = sc->js_a ? run.b : run.a;
      guint syncs = 0;

      g_assert_cmpstr (result_path (&run), ==, "relayed");
      if (!sc->js_b)
        wait_event (run.b, "holepunch", "state", "failed", 10000);
      for (guint i = 0; i < ours->events->len; i++)
        if (event_matches (g_ptr_array_index (ours->events, i), "holepunch", "state", "dialing"))
          syncs++;
      g_test_message ("CONNECT/SYNC rounds with js: %u", syncs);
      g_assert_cmpuint (syncs, >=, 1);
    }
  run_clear (&run);
}

static void
skip_no_root (void)
{
  g_test_skip ("the NAT lab needs root and nftables");
}

int
main (int argc, char **argv)
{
  /* delay_ms is one way on each router's WAN link: 50 adds 100 ms to each
   * router's round trip. eim/eim (and edm/eim at 0 ms) run punchline-cli
   * dial as A. */
  static const Scenario eim_eim = { "eim", "eim", 50, 0, .cli_a = TRUE };
  static const Scenario eim_eim_0 = { "eim", "eim", 0, 0, .cli_a = TRUE };
  static const Scenario eim_none_0 = { "eim", "none", 0, 0 };
  static const Scenario none_eim_0 = { "none", "eim", 0, 0 };
  /* punchline-cli dial --require-direct as A, where no punch works. */
  static const Scenario edm_eim_0 = { "edm", "eim", 0, 0, .cli_a = TRUE };
  static const Scenario edm_edm_100 = { "edm", "edm", 50, 0 };
  static const Scenario hairpin_100 = { "hairpin", NULL, 50, 0 };
  static const Scenario eim_eim_loss = { "eim", "eim", 50, 5 };
  static const Scenario eim_none = { "eim", "none", 50, 0 };
  static const Scenario none_eim = { "none", "eim", 50, 0 };
  static const Scenario edm_eim = { "edm", "eim", 50, 0 };
  static const Scenario eim_edm = { "eim", "edm", 0, 0 };
  static const Scenario edm_edm = { "edm", "edm", 0, 0 };
  static const Scenario hairpin = { "hairpin", NULL, 0, 0 };
  static const Scenario c_a_js_b_public = { "eim", "none", 50, 0, FALSE, TRUE };
  static const Scenario js_a_public_c_b = { "none", "eim", 50, 0, TRUE, FALSE };
  static const Scenario c_a_js_b = { "eim", "eim", 50, 0, FALSE, TRUE };
  static const Scenario js_a_c_b = { "eim", "eim", 50, 0, TRUE, FALSE };
  static const Scenario cli_eim_eim = { "eim", "eim", 50, 0, FALSE, FALSE, TRUE };
  const char *source_root = g_getenv ("PUNCH_SOURCE_ROOT");
  const char *build_root = g_getenv ("PUNCH_BUILD_ROOT");

  g_test_init (&argc, &argv, NULL);
  /* A failed check must still reach the teardown that removes the lab. */
  g_test_set_nonfatal_assertions ();

  if (source_root == NULL || build_root == NULL)
    {
      g_test_skip ("PUNCH_SOURCE_ROOT and PUNCH_BUILD_ROOT are unset: run under meson test");
      return g_test_run ();
    }
  peer_bin = g_build_filename (build_root, "tests", "lab", "punch-lab-peer", NULL);
  node_bin = g_build_filename (source_root, "tests", "interop", "node_modules", ".bin", "node", NULL);
  cli_bin = g_build_filename (build_root, "app", "punchline-cli", NULL);
  tmp_dir = g_dir_make_tmp ("punch-lab-XXXXXX", NULL);
  js_hook = g_build_filename (source_root, "tests", "lab", "lab-public-hook.mjs", NULL);
  js_peer = g_build_filename (source_root, "tests", "lab", "lab-peer.mjs", NULL);
  lab_control_init ();

  if (!lab_control_available ())
    {
      g_test_add_func ("/lab/dcutr/needs-root", skip_no_root);
    }
  else
    {
#define ADD(path, sc, fn) g_test_add (path, Lab, sc, lab_setup, fn, lab_teardown)
      ADD ("/lab/dcutr/eim-eim", &eim_eim, test_punch);
      ADD ("/lab/dcutr/eim-eim-0ms", &eim_eim_0, test_punch);
      ADD ("/lab/dcutr/eim-eim-loss5", &eim_eim_loss, test_punch);
      ADD ("/lab/dcutr/eim-none", &eim_none, test_public_b);
      ADD ("/lab/dcutr/eim-none-0ms", &eim_none_0, test_public_b);
      ADD ("/lab/dcutr/none-eim", &none_eim, test_public_a);
      ADD ("/lab/dcutr/none-eim-0ms", &none_eim_0, test_public_a);
      ADD ("/lab/dcutr/edm-eim", &edm_eim, test_fallback);
      ADD ("/lab/dcutr/edm-eim-0ms", &edm_eim_0, test_fallback);
      ADD ("/lab/dcutr/eim-edm", &eim_edm, test_fallback);
      ADD ("/lab/dcutr/edm-edm", &edm_edm, test_fallback);
      ADD ("/lab/dcutr/edm-edm-100ms", &edm_edm_100, test_fallback);
      ADD ("/lab/dcutr/hairpin", &hairpin, test_fallback);
      ADD ("/lab/dcutr/hairpin-100ms", &hairpin_100, test_fallback);
      /* punchline-cli as relay and listener: its "relay", "listen --relay"
       * and DCUtR events in the lab, with our dialer. */
      ADD ("/lab/dcutr/cli-relay-listener", &cli_eim_eim, test_punch);
      ADD ("/lab/dcutr/js/c-dialer-js-public", &c_a_js_b_public, test_js_direct);
      ADD ("/lab/dcutr/js/js-public-dialer-c", &js_a_public_c_b, test_js_direct);
      ADD ("/lab/dcutr/js/c-dialer-js-nat", &c_a_js_b, test_js_no_reuse);
      ADD ("/lab/dcutr/js/js-dialer-nat-c", &js_a_c_b, test_js_no_reuse);
#undef ADD
    }
  {
    int status = g_test_run ();
    g_autoptr (GDir) dir = tmp_dir != NULL ? g_dir_open (tmp_dir, 0, NULL) : NULL;
    const char *name;

    /* The CLI's identity files. */
    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *path = g_build_filename (tmp_dir, name, NULL);
        g_unlink (path);
      }
    if (tmp_dir != NULL)
      g_rmdir (tmp_dir);
    return status;
  }
}
