/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Runs the built punchline-cli (PUNCH_CLI) as subprocesses: a listener on
 * 127.0.0.1 port 0 and the commands against it, with --json, checking the
 * events of docs/cli-events.md and the exit statuses.
 */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>

#include "protocols-test-util.h"

#define RUN_TIMEOUT_S    60
#define EVENT_TIMEOUT_S  20

typedef struct
{
  const char *cli;
  char       *dir;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr (GError) error = NULL;

  f->cli = g_getenv ("PUNCH_CLI");
  f->dir = g_dir_make_tmp ("punch-cli-test-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
}

static gboolean
have_cli (Fixture *f)
{
  if (f->cli == NULL)
    {
      g_test_skip ("PUNCH_CLI is not set (run with meson test)");
      return FALSE;
    }
  return TRUE;
}

static char *
key_path (Fixture    *f,
          const char *name)
{
  return g_build_filename (f->dir, name, NULL);
}

/* Every stdout line is an event: an object with "time" (UTC, ms) and "event". */
static JsonObject *
parse_event (const char *line)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonNode *root;
  JsonObject *object;
  const char *time;

  if (!json_parser_load_from_data (parser, line, -1, &error))
    g_error ("stdout line is not JSON (%s): %s", error->message, line);
  root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  object = json_node_get_object (root);
  g_assert_true (json_object_has_member (object, "event"));
  /* "time" and "event" lead, for people reading the stream. */
  {
    g_autoptr (GList) members = json_object_get_members (object);

    g_assert_cmpstr (members->data, ==, "time");
    g_assert_cmpstr (members->next->data, ==, "event");
  }
  time = json_object_get_string_member_with_default (object, "time", "");
  g_assert_true (g_regex_match_simple ("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
                                       time, 0, 0));
  return json_object_ref (object);
}

static const char *
event_name (JsonObject *event)
{
  return json_object_get_string_member (event, "event");
}

/* A command run to its end. */
typedef struct
{
  int        status;
  char      *out;
  char      *err;
  GPtrArray *events;  /* JsonObject */
} Run;

static void
run_free (Run *run)
{
  g_free (run->out);
  g_free (run->err);
  g_clear_pointer (&run->events, g_ptr_array_unref);
  g_free (run);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Run, run_free)

static GPtrArray *
argv_new (Fixture    *f,
          const char *identity,
          gboolean    json)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (argv, g_strdup (f->cli));
  if (identity != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("--identity"));
      g_ptr_array_add (argv, key_path (f, identity));
    }
  if (json)
    g_ptr_array_add (argv, g_strdup ("--json"));
  return argv;
}

static void
argv_add_va (GPtrArray *argv,
             va_list    args)
{
  const char *arg;

  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  g_ptr_array_add (argv, NULL);
}

static Run *
run_argv (GPtrArray *argv,
          gboolean   json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *cmdline = g_strjoinv (" ", (char **) argv->pdata);
  Run *run = g_new0 (Run, 1);

  g_test_message ("running: %s", cmdline);
  proc = g_subprocess_newv ((const char * const *) argv->pdata,
                            G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (proc, NULL, NULL, ptest_store_result, &result);
  PTEST_WAIT_SECONDS (result != NULL, RUN_TIMEOUT_S);
  g_subprocess_communicate_utf8_finish (proc, result, &run->out, &run->err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  run->status = g_subprocess_get_exit_status (proc);
  if (run->err != NULL && run->err[0] != '\0')
    g_test_message ("stderr: %s", run->err);

  run->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  if (json)
    {
      g_auto (GStrv) lines = g_strsplit (run->out, "\n", -1);

      for (guint i = 0; lines[i] != NULL; i++)
        if (lines[i][0] != '\0')
          g_ptr_array_add (run->events, parse_event (lines[i]));
    }
  return run;
}

static Run *
run_cli (Fixture    *f,
         const char *identity,
         gboolean    json,
         ...) G_GNUC_NULL_TERMINATED;

static Run *
run_cli (Fixture    *f,
         const char *identity,
         gboolean    json,
         ...)
{
  g_autoptr (GPtrArray) argv = argv_new (f, identity, json);
  va_list args;

  va_start (args, json);
  argv_add_va (argv, args);
  va_end (args);
  return run_argv (argv, json);
}

static JsonObject *
find_event (GPtrArray  *events,
            const char *name,
            guint       nth)
{
  for (guint i = 0; i < events->len; i++)
    if (g_strcmp0 (event_name (g_ptr_array_index (events, i)), name) == 0 && nth-- == 0)
      return g_ptr_array_index (events, i);
  return NULL;
}

static guint
count_events (GPtrArray  *events,
              const char *name)
{
  guint n = 0;

  for (guint i = 0; i < events->len; i++)
    if (g_strcmp0 (event_name (g_ptr_array_index (events, i)), name) == 0)
      n++;
  return n;
}

static gboolean
array_has (JsonObject *event,
           const char *member,
           const char *value)
{
  JsonArray *array = json_object_get_array_member (event, member);

  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    if (g_strcmp0 (json_array_get_string_element (array, i), value) == 0)
      return TRUE;
  return FALSE;
}

/* The last line is {"event":"result","ok":...} and the status agrees. */
static void
assert_result (Run     *run,
               gboolean ok)
{
  JsonObject *last;

  g_assert_cmpuint (run->events->len, >, 0);
  last = g_ptr_array_index (run->events, run->events->len - 1);
  g_assert_cmpstr (event_name (last), ==, "result");
  if (ok != json_object_get_boolean_member (last, "ok"))
    g_error ("result ok is %d, expected %d: %s", !ok, ok,
             json_object_get_string_member_with_default (last, "error", "(no error)"));
  if (ok)
    g_assert_cmpint (run->status, ==, 0);
  else
    {
      g_assert_cmpint (run->status, ==, 1);
      g_assert_nonnull (json_object_get_string_member_with_default (last, "error", NULL));
    }
}

/* A listener, reading its events as they come. */
typedef struct
{
  GSubprocess      *proc;
  GDataInputStream *out;
  GPtrArray        *events;
  char             *addr;     /* /ip4/127.0.0.1/tcp/N/p2p/ID */
  char             *peer_id;
  gboolean          reading;
  gboolean          eof;
} Listener;

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Listener *l = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);
  g_assert_no_error (error);
  l->reading = FALSE;
  if (line == NULL)
    l->eof = TRUE;
  else
    g_ptr_array_add (l->events, parse_event (line));
}

/* Reads until the @nth event called @name (counting from 0). */
static JsonObject *
listener_wait_event (Listener   *l,
                     const char *name,
                     guint       nth)
{
  JsonObject *event;

  while ((event = find_event (l->events, name, nth)) == NULL)
    {
      if (l->eof)
        g_error ("listener ended without a %s event", name);
      l->reading = TRUE;
      g_data_input_stream_read_line_async (l->out, G_PRIORITY_DEFAULT, NULL, on_line, l);
      PTEST_WAIT_SECONDS (!l->reading, EVENT_TIMEOUT_S);
    }
  return event;
}

static void
listener_read_to_end (Listener *l)
{
  while (!l->eof)
    {
      l->reading = TRUE;
      g_data_input_stream_read_line_async (l->out, G_PRIORITY_DEFAULT, NULL, on_line, l);
      PTEST_WAIT_SECONDS (!l->reading, EVENT_TIMEOUT_S);
    }
}

static Listener *
listener_start (Fixture    *f,
                const char *identity,
                gboolean    perf)
{
  g_autoptr (GPtrArray) argv = argv_new (f, identity, TRUE);
  g_autoptr (GError) error = NULL;
  Listener *l = g_new0 (Listener, 1);
  JsonObject *listening;
  JsonArray *addrs;

  g_ptr_array_add (argv, g_strdup ("listen"));
  g_ptr_array_add (argv, g_strdup ("--listen"));
  g_ptr_array_add (argv, g_strdup ("/ip4/127.0.0.1/tcp/0"));
  if (perf)
    g_ptr_array_add (argv, g_strdup ("--perf"));
  g_ptr_array_add (argv, NULL);

  l->proc = g_subprocess_newv ((const char * const *) argv->pdata, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  l->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (l->proc));
  l->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);

  listening = listener_wait_event (l, "listening", 0);
  l->peer_id = g_strdup (json_object_get_string_member (listening, "peer_id"));
  addrs = json_object_get_array_member (listening, "addrs");
  g_assert_cmpuint (json_array_get_length (addrs), ==, 1);
  l->addr = g_strdup (json_array_get_string_element (addrs, 0));
  g_assert_true (g_str_has_prefix (l->addr, "/ip4/127.0.0.1/tcp/"));
  g_assert_true (g_str_has_suffix (l->addr, l->peer_id));
  return l;
}

/* SIGTERM: a listener ends cleanly, with status 0. */
static void
listener_stop (Listener *l)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  g_subprocess_send_signal (l->proc, SIGTERM);
  g_subprocess_wait_async (l->proc, NULL, ptest_store_result, &result);
  PTEST_WAIT_SECONDS (result != NULL, EVENT_TIMEOUT_S);
  g_assert_true (g_subprocess_wait_finish (l->proc, result, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (l->proc));
  g_assert_cmpint (g_subprocess_get_exit_status (l->proc), ==, 0);
}

static void
listener_free (Listener *l)
{
  if (!g_subprocess_get_if_exited (l->proc) && !g_subprocess_get_if_signaled (l->proc))
    g_subprocess_force_exit (l->proc);
  g_clear_object (&l->out);
  g_clear_object (&l->proc);
  g_clear_pointer (&l->events, g_ptr_array_unref);
  g_free (l->addr);
  g_free (l->peer_id);
  g_free (l);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Listener, listener_free)

/* The cases. */

static void
test_cli_usage (Fixture       *f,
                gconstpointer  data)
{
  static const char *cases[][6] = {
    { NULL },
    { "bogus", NULL },
    { "--bogus", "id", NULL },
    { "id", "extra", NULL },
    { "listen", "extra", NULL },
    { "listen", "--listen", "not-a-multiaddr", NULL },
    { "ping", NULL },
    { "ping", "not-a-multiaddr", NULL },
    { "ping", "/ip4/127.0.0.1/tcp/1", "-c", "0", NULL },
    { "ping", "/ip4/127.0.0.1/tcp/1", "--count", "many", NULL },
    { "dial", "/ip4/127.0.0.1/tcp/1", "--ping", "-1", NULL },
    { "identify", "/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/2", NULL },
    { "perf", "/ip4/127.0.0.1/tcp/1", NULL },
    { "perf", "/ip4/127.0.0.1/tcp/1", "--upload", "1X", "--download", "1" },
    { "perf", "/ip4/127.0.0.1/tcp/1", "--upload", "1", "--download", "99999999999999999999" },
    { "perf", "/ip4/127.0.0.1/tcp/1", "--upload", "1", "--download", "17179869184G" },
    { "--timeout", "-1", "identify", "/ip4/127.0.0.1/tcp/1", NULL },
    { "identify", "/ip4/127.0.0.1/tcp/1", "--timeout", "soon", NULL },
  };

  if (!have_cli (f))
    return;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GPtrArray) argv = argv_new (f, "usage.key", TRUE);
      g_autoptr (Run) run = NULL;

      for (guint j = 0; j < G_N_ELEMENTS (cases[i]) && cases[i][j] != NULL; j++)
        g_ptr_array_add (argv, g_strdup (cases[i][j]));
      g_ptr_array_add (argv, NULL);
      run = run_argv (argv, FALSE);
      g_assert_cmpint (run->status, ==, 2);
      g_assert_nonnull (strstr (run->err, "Usage:"));
      /* Nothing on stdout: no event, no result. */
      g_assert_cmpstr (run->out, ==, "");
    }
}

static void
test_cli_id (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr (Run) first = NULL;
  g_autoptr (Run) again = NULL;
  g_autoptr (Run) human = NULL;
  g_autofree char *path = NULL;
  JsonObject *id;
  GStatBuf st;

  if (!have_cli (f))
    return;

  first = run_cli (f, "id.key", TRUE, "id", NULL);
  assert_result (first, TRUE);
  id = find_event (first->events, "id", 0);
  g_assert_nonnull (id);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (id, "peer_id"), "12D3KooW"));
  g_assert_cmpstr (json_object_get_string_member (id, "key_type"), ==, "Ed25519");

  /* The key file was created, private, and is reused. */
  path = key_path (f, "id.key");
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  again = run_cli (f, "id.key", TRUE, "id", NULL);
  assert_result (again, TRUE);
  g_assert_cmpstr (json_object_get_string_member (find_event (again->events, "id", 0), "peer_id"), ==,
                   json_object_get_string_member (id, "peer_id"));

  /* Without --json: text, and the peer ID in it. */
  human = run_cli (f, "id.key", FALSE, "id", NULL);
  g_assert_cmpint (human->status, ==, 0);
  g_assert_nonnull (strstr (human->out, json_object_get_string_member (id, "peer_id")));
  g_assert_null (strstr (human->out, "{"));
}

static void
test_cli_bad_identity (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autoptr (Run) run = NULL;

  if (!have_cli (f))
    return;

  path = key_path (f, "bad.key");
  g_assert_true (g_file_set_contents (path, "not a key", -1, NULL));
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  run = run_cli (f, "bad.key", TRUE, "id", NULL);
  assert_result (run, FALSE);
}

static void
check_connection_event (JsonObject *event,
                        const char *direction,
                        const char *peer_id)
{
  g_assert_nonnull (event);
  g_assert_cmpstr (json_object_get_string_member (event, "state"), ==, "open");
  g_assert_cmpstr (json_object_get_string_member (event, "direction"), ==, direction);
  g_assert_cmpstr (json_object_get_string_member (event, "security"), ==, "/noise");
  g_assert_cmpstr (json_object_get_string_member (event, "muxer"), ==, "/yamux/1.0.0");
  g_assert_false (json_object_get_boolean_member (event, "relayed"));
  g_assert_true (g_str_has_prefix (json_object_get_string_member (event, "remote"), "/ip4/127.0.0.1/tcp/"));
  if (peer_id != NULL)
    g_assert_cmpstr (json_object_get_string_member (event, "peer_id"), ==, peer_id);
}

/* One listener; ping, identify, perf and dial against it. */
static void
test_cli_against_listener (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr (Listener) l = NULL;
  g_autoptr (Run) id = NULL;
  g_autoptr (Run) ping = NULL;
  g_autoptr (Run) identify = NULL;
  g_autoptr (Run) perf = NULL;
  g_autoptr (Run) dial = NULL;
  g_autofree char *bare = NULL;
  const char *dialer_id;
  JsonObject *event;
  JsonObject *result;
  guint n;

  if (!have_cli (f))
    return;

  id = run_cli (f, "dialer.key", TRUE, "id", NULL);
  assert_result (id, TRUE);
  dialer_id = json_object_get_string_member (find_event (id->events, "id", 0), "peer_id");

  l = listener_start (f, "listener.key", TRUE);
  bare = g_strndup (l->addr, strstr (l->addr, "/p2p/") - l->addr);

  /* ping */
  ping = run_cli (f, "dialer.key", TRUE, "ping", l->addr, "-c", "3", "--interval", "10", NULL);
  assert_result (ping, TRUE);
  check_connection_event (find_event (ping->events, "connection", 0), "outbound", l->peer_id);
  g_assert_cmpuint (count_events (ping->events, "ping"), ==, 3);
  g_assert_cmpuint (count_events (ping->events, "error"), ==, 0);
  for (guint i = 0; i < 3; i++)
    {
      event = find_event (ping->events, "ping", i);
      g_assert_cmpint (json_object_get_int_member (event, "seq"), ==, i + 1);
      g_assert_cmpstr (json_object_get_string_member (event, "peer_id"), ==, l->peer_id);
      g_assert_cmpfloat (json_object_get_double_member (event, "rtt_ms"), >, 0);
      g_assert_cmpfloat (json_object_get_double_member (event, "rtt_ms"), <, 5000);
    }
  result = g_ptr_array_index (ping->events, ping->events->len - 1);
  g_assert_cmpint (json_object_get_int_member (result, "sent"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (result, "received"), ==, 3);

  /* The listener saw us: an inbound connection, then our identify. */
  for (n = 0; (event = listener_wait_event (l, "connection", n)) != NULL; n++)
    if (g_strcmp0 (json_object_get_string_member (event, "state"), "open") == 0)
      break;
  check_connection_event (event, "inbound", dialer_id);
  for (n = 0; (event = listener_wait_event (l, "identify", n)) != NULL; n++)
    if (g_strcmp0 (json_object_get_string_member (event, "peer_id"), dialer_id) == 0)
      break;
  g_assert_true (g_str_has_prefix (json_object_get_string_member (event, "agent_version"), "punchline/"));
  g_assert_true (array_has (event, "protocols", "/ipfs/id/1.0.0"));
  g_assert_true (array_has (event, "protocols", "/ipfs/ping/1.0.0"));

  /* identify */
  identify = run_cli (f, "dialer.key", TRUE, "identify", l->addr, NULL);
  assert_result (identify, TRUE);
  g_assert_cmpuint (count_events (identify->events, "identify"), ==, 1);
  event = find_event (identify->events, "identify", 0);
  g_assert_cmpstr (json_object_get_string_member (event, "peer_id"), ==, l->peer_id);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (event, "agent_version"), "punchline/"));
  g_assert_cmpstr (json_object_get_string_member (event, "protocol_version"), ==, "ipfs/0.1.0");
  g_assert_true (array_has (event, "protocols", "/ipfs/id/1.0.0"));
  g_assert_true (array_has (event, "protocols", "/ipfs/id/push/1.0.0"));
  g_assert_true (array_has (event, "protocols", "/ipfs/ping/1.0.0"));
  g_assert_true (array_has (event, "protocols", "/perf/1.0.0"));
  g_assert_true (array_has (event, "listen_addrs", bare));
  g_assert_true (g_str_has_prefix (json_object_get_string_member (event, "observed_addr"),
                                   "/ip4/127.0.0.1/tcp/"));

  /* perf, with size suffixes */
  perf = run_cli (f, "dialer.key", TRUE, "perf", l->addr, "--upload", "1M", "--download", "3MiB", NULL);
  assert_result (perf, TRUE);
  event = find_event (perf->events, "perf", 0);
  g_assert_nonnull (event);
  g_assert_cmpstr (json_object_get_string_member (event, "peer_id"), ==, l->peer_id);
  g_assert_cmpint (json_object_get_int_member (event, "uploaded"), ==, 1024 * 1024);
  g_assert_cmpint (json_object_get_int_member (event, "downloaded"), ==, 3 * 1024 * 1024);
  g_assert_cmpfloat (json_object_get_double_member (event, "seconds"), >, 0);
  g_assert_cmpfloat (json_object_get_double_member (event, "upload_bytes_per_second"), >, 0);
  g_assert_cmpfloat (json_object_get_double_member (event, "download_bytes_per_second"), >, 0);
  g_assert_true (json_object_has_member (event, "upload_seconds"));
  g_assert_true (json_object_has_member (event, "download_seconds"));
  g_assert_cmpstr (json_object_get_string_member (event, "role"), ==, "client");
  /* The listener reports the run it served, with the same counts. */
  event = listener_wait_event (l, "perf", 0);
  g_assert_cmpstr (json_object_get_string_member (event, "role"), ==, "server");
  g_assert_cmpstr (json_object_get_string_member (event, "peer_id"), ==, dialer_id);
  g_assert_cmpint (json_object_get_int_member (event, "uploaded"), ==, 1024 * 1024);
  g_assert_cmpint (json_object_get_int_member (event, "downloaded"), ==, 3 * 1024 * 1024);

  /* dial: connection, identify, pings */
  dial = run_cli (f, "dialer.key", TRUE, "dial", l->addr, "--listen", "/ip4/127.0.0.1/tcp/0", "--ping", "2", NULL);
  assert_result (dial, TRUE);
  check_connection_event (find_event (dial->events, "connection", 0), "outbound", l->peer_id);
  g_assert_nonnull (find_event (dial->events, "identify", 0));
  g_assert_cmpuint (count_events (dial->events, "ping"), ==, 2);

  listener_stop (l);
  /* Whatever the listener printed is JSON events (checked while parsing),
   * and it printed no result: it did not end by itself. */
  listener_read_to_end (l);
  g_assert_null (find_event (l->events, "result", 0));
}

/* Nothing listens there: failure, status 1, a result with the error. */
static void
test_cli_refused (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) bind_addr = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *addr = NULL;
  g_autoptr (Run) run = NULL;

  if (!have_cli (f))
    return;

  /* A port that was free a moment ago. */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, bind_addr, FALSE, &error));
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  addr = g_strdup_printf ("/ip4/127.0.0.1/tcp/%u",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_socket_close (socket, NULL);

  run = run_cli (f, "dialer.key", TRUE, "ping", addr, "-c", "1", NULL);
  assert_result (run, FALSE);
  g_assert_cmpuint (count_events (run->events, "ping"), ==, 0);
}

/* A TCP listener that never speaks: --timeout ends the command. */
static void
test_cli_timeout (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) bind_addr = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *addr = NULL;
  g_autoptr (Run) run = NULL;
  gint64 started;
  JsonObject *result;

  if (!have_cli (f))
    return;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, bind_addr, FALSE, &error));
  /* The kernel completes the handshakes; nobody ever answers. */
  g_assert_true (g_socket_listen (socket, &error));
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  addr = g_strdup_printf ("/ip4/127.0.0.1/tcp/%u",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

  started = g_get_monotonic_time ();
  run = run_cli (f, "dialer.key", TRUE, "--timeout", "1", "identify", addr, NULL);
  assert_result (run, FALSE);
  result = g_ptr_array_index (run->events, run->events->len - 1);
  g_assert_nonnull (strstr (json_object_get_string_member (result, "error"), "Timed out"));
  g_assert_cmpint (g_get_monotonic_time () - started, <, 10 * G_USEC_PER_SEC);
}

/* SIGINT during a long ping: a result saying so, status 1. */
static void
test_cli_interrupted (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr (Listener) l = NULL;
  g_autoptr (GPtrArray) argv = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (Listener) pinger = g_new0 (Listener, 1);
  g_autoptr (GAsyncResult) result = NULL;
  JsonObject *last;

  if (!have_cli (f))
    return;

  l = listener_start (f, "listener.key", FALSE);
  argv = argv_new (f, "dialer.key", TRUE);
  g_ptr_array_add (argv, g_strdup ("ping"));
  g_ptr_array_add (argv, g_strdup (l->addr));
  g_ptr_array_add (argv, g_strdup ("-c"));
  g_ptr_array_add (argv, g_strdup ("1000"));
  g_ptr_array_add (argv, NULL);

  pinger->proc = g_subprocess_newv ((const char * const *) argv->pdata, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  pinger->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (pinger->proc));
  pinger->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  listener_wait_event (pinger, "ping", 0);

  g_subprocess_send_signal (pinger->proc, SIGINT);
  listener_wait_event (pinger, "result", 0);
  last = g_ptr_array_index (pinger->events, pinger->events->len - 1);
  g_assert_cmpstr (event_name (last), ==, "result");
  g_assert_false (json_object_get_boolean_member (last, "ok"));
  g_subprocess_wait_async (pinger->proc, NULL, ptest_store_result, &result);
  PTEST_WAIT_SECONDS (result != NULL, EVENT_TIMEOUT_S);
  g_assert_true (g_subprocess_get_if_exited (pinger->proc));
  g_assert_cmpint (g_subprocess_get_exit_status (pinger->proc), ==, 1);

  listener_stop (l);
}

/* The listener goes away during a long ping: the pinger stops at once. */
static void
test_cli_listener_gone (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr (Listener) l = NULL;
  g_autoptr (GPtrArray) argv = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (Listener) pinger = g_new0 (Listener, 1);
  g_autoptr (GAsyncResult) result = NULL;
  JsonObject *last;

  if (!have_cli (f))
    return;

  l = listener_start (f, "listener.key", FALSE);
  argv = argv_new (f, "dialer.key", TRUE);
  g_ptr_array_add (argv, g_strdup ("ping"));
  g_ptr_array_add (argv, g_strdup (l->addr));
  g_ptr_array_add (argv, g_strdup ("-c"));
  g_ptr_array_add (argv, g_strdup ("1000"));
  g_ptr_array_add (argv, g_strdup ("--interval"));
  g_ptr_array_add (argv, g_strdup ("100"));
  g_ptr_array_add (argv, NULL);

  pinger->proc = g_subprocess_newv ((const char * const *) argv->pdata, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  pinger->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (pinger->proc));
  pinger->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  listener_wait_event (pinger, "ping", 1);

  listener_stop (l);
  listener_wait_event (pinger, "result", 0);
  last = g_ptr_array_index (pinger->events, pinger->events->len - 1);
  g_assert_cmpstr (event_name (last), ==, "result");
  g_assert_false (json_object_get_boolean_member (last, "ok"));
  g_assert_nonnull (strstr (json_object_get_string_member (last, "error"), "Connection closed"));
  /* Well before 1000 pings. */
  g_assert_cmpuint (count_events (pinger->events, "ping"), <, 100);
  g_subprocess_wait_async (pinger->proc, NULL, ptest_store_result, &result);
  PTEST_WAIT_SECONDS (result != NULL, EVENT_TIMEOUT_S);
  g_assert_true (g_subprocess_get_if_exited (pinger->proc));
  g_assert_cmpint (g_subprocess_get_exit_status (pinger->proc), ==, 1);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/cli/usage", test_cli_usage);
  ADD ("/cli/id", test_cli_id);
  ADD ("/cli/bad-identity", test_cli_bad_identity);
  ADD ("/cli/against-listener", test_cli_against_listener);
  ADD ("/cli/refused", test_cli_refused);
  ADD ("/cli/timeout", test_cli_timeout);
  ADD ("/cli/interrupted", test_cli_interrupted);
  ADD ("/cli/listener-gone", test_cli_listener_gone);
#undef ADD

  return g_test_run ();
}
