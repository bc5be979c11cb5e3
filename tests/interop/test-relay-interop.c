/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Circuit Relay v2 interop with unmodified js-libp2p 3 (@libp2p/circuit-relay-v2
 * as pinned by package-lock.json) over loopback TCP:
 *
 *   /interop/relay/c-listener/js-relay       our listener reserves on a js
 *     relay; a js dialer reaches it: identify, 5 pings, an application
 *     protocol that opts into limited connections, and a refusal (not a
 *     hang) for one that does not
 *   /interop/relay/js-listener/c-relay       a js listener reserves on our
 *     relay; a js dialer and our dialer each reach it
 *   /interop/relay/c-dialer/js-relay         our dialer → js relay → js listener
 *   /interop/relay/limit/data, …/duration    our relay's limits reset the
 *     circuit; both ends see it, the relay says which limit
 *   /interop/relay/restart/js-relay, …/c-relay   a relay restarts on the same
 *     port and key: our listener reserves again within 5 s and the relayed
 *     address it advertised works again for a js dialer
 *
 * `punchline-cli --json` (PUNCH_CLI) and tests/interop/relay-peer.mjs print
 * JSON-lines events (docs/cli-events.md). Every child is killed by PID in
 * the teardown, and by the kernel if this program dies.
 */
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#define EVENT_TIMEOUT_S   20
#define COMMAND_TIMEOUT_S 60
#define STOP_TIMEOUT_S    10
#define REBOOK_DEADLINE_S 5

typedef enum
{
  PEER_C,
  PEER_JS,
} PeerKind;

#define MAX_CHILDREN 32
static volatile pid_t live_pids[MAX_CHILDREN];

typedef struct
{
  char             *name;
  GSubprocess      *proc;
  GDataInputStream *out;
  char             *stderr_path;
  GPtrArray        *events;      /* (element-type JsonNode) */
  gboolean          eof;
  gboolean          exited;
  pid_t             pid;
} Child;

typedef struct
{
  char      *tmpdir;
  char      *cli;
  char      *node;
  char      *script;
  GPtrArray *children;
  gboolean   ready;
} Fixture;

/* --- children ----------------------------------------------------------- */

static void
track_pid (pid_t pid, gboolean add)
{
  for (guint i = 0; i < MAX_CHILDREN; i++)
    if (add ? live_pids[i] == 0 : live_pids[i] == pid)
      {
        live_pids[i] = add ? pid : 0;
        if (add)
          return;
      }
}

static void
on_fatal_signal (int sig)
{
  for (guint i = 0; i < MAX_CHILDREN; i++)
    if (live_pids[i] > 0)
      kill (live_pids[i], SIGKILL);
  signal (sig, SIG_DFL);
  raise (sig);
}

static void
child_setup (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
child_free (Child *c)
{
  if (c->proc != NULL)
    {
      if (!c->exited && c->pid > 0)
        kill (c->pid, SIGKILL);
      g_subprocess_wait (c->proc, NULL, NULL);
      if (c->pid > 0)
        track_pid (c->pid, FALSE);
    }
  g_clear_object (&c->out);
  g_clear_object (&c->proc);
  g_clear_pointer (&c->events, g_ptr_array_unref);
  g_free (c->stderr_path);
  g_free (c->name);
  g_free (c);
}

static void
fixture_dump (Fixture *f)
{
  for (guint i = 0; i < f->children->len; i++)
    {
      Child *c = g_ptr_array_index (f->children, i);
      g_autoptr (GString) s = g_string_new (NULL);
      g_autofree char *err = NULL;

      g_string_append_printf (s, "--- %s (pid %d), %u events:\n", c->name, (int) c->pid, c->events->len);
      for (guint j = 0; j < c->events->len; j++)
        {
          g_autofree char *line = json_to_string (g_ptr_array_index (c->events, j), FALSE);
          g_string_append_printf (s, "  %s\n", line);
        }
      if (g_file_get_contents (c->stderr_path, &err, NULL, NULL) && err[0] != '\0')
        {
          gsize len = strlen (err);
          g_string_append_printf (s, "--- %s stderr (end):\n%s\n", c->name, len > 4000 ? err + len - 4000 : err);
        }
      g_test_message ("%s", s->str);
    }
}

#define CHECK(f, cond, ...) \
  G_STMT_START { \
    if (!(cond)) \
      { \
        g_autofree char *check_msg_ = g_strdup_printf (__VA_ARGS__); \
        fixture_dump (f); \
        g_test_fail_printf ("%s:%d: %s (failed: %s)", __FILE__, __LINE__, check_msg_, #cond); \
        return; \
      } \
  } G_STMT_END

#define CHECK_NO_ERROR(f, error) CHECK (f, (error) == NULL, "%s", (error) != NULL ? (error)->message : "")

static Child *
spawn (Fixture    *f,
       PeerKind    kind,
       const char *name,
       const char *identity,
       ...)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  Child *c;
  const char *arg;
  va_list ap;

  if (kind == PEER_C)
    g_ptr_array_add (argv, g_strdup (f->cli));
  else
    {
      g_ptr_array_add (argv, g_strdup (f->node));
      g_ptr_array_add (argv, g_strdup (f->script));
    }
  g_ptr_array_add (argv, g_strdup ("--identity"));
  g_ptr_array_add (argv, g_build_filename (f->tmpdir, identity, NULL));
  g_ptr_array_add (argv, g_strdup ("--json"));
  va_start (ap, identity);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  c = g_new0 (Child, 1);
  c->name = g_strdup_printf ("%s %s", kind == PEER_C ? "C" : "js", name);
  c->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  c->stderr_path = g_strdup_printf ("%s/child-%u.stderr", f->tmpdir, f->children->len);
  {
    g_autofree char *cmdline = g_strjoinv (" ", (char **) argv->pdata);
    g_test_message ("spawn %s: %s", c->name, cmdline);
  }
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_stderr_file_path (launcher, c->stderr_path);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  c->proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  if (g_subprocess_get_identifier (c->proc) != NULL)
    {
      c->pid = (pid_t) g_ascii_strtoll (g_subprocess_get_identifier (c->proc), NULL, 10);
      track_pid (c->pid, TRUE);
    }
  c->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (c->proc));
  g_ptr_array_add (f->children, c);
  return c;
}

/* --- events --------------------------------------------------------------- */

typedef struct
{
  gboolean  done;
  gboolean  timed_out;
  char     *line;
  GError   *error;
} LineWait;

static void
on_line (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LineWait *w = user_data;

  w->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &w->error);
  w->done = TRUE;
}

static gboolean
on_wait_timeout (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* The next event, or NULL (error set on timeout; not set at the end). */
static JsonObject *
next_event (Child *c, gint64 deadline, GError **error)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (JsonParser) parser = json_parser_new ();
  LineWait w = { 0 };
  gint64 ms = (deadline - g_get_monotonic_time ()) / 1000;
  guint timer;
  JsonNode *root;

  if (c->eof)
    return NULL;
  g_data_input_stream_read_line_async (c->out, G_PRIORITY_DEFAULT, cancellable, on_line, &w);
  timer = g_timeout_add ((guint) MAX (ms, 1), on_wait_timeout, &w.timed_out);
  while (!w.done && !w.timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!w.done)
    {
      g_cancellable_cancel (cancellable);
      while (!w.done)
        g_main_context_iteration (NULL, TRUE);
      g_clear_error (&w.error);
      g_free (w.line);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: no event before the deadline", c->name);
      return NULL;
    }
  if (!w.timed_out)
    g_source_remove (timer);
  if (w.error != NULL)
    {
      g_propagate_error (error, w.error);
      return NULL;
    }
  if (w.line == NULL)
    {
      c->eof = TRUE;
      return NULL;
    }
  if (!json_parser_load_from_data (parser, w.line, -1, NULL) || (root = json_parser_get_root (parser)) == NULL
      || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not a JSON event: %s", c->name, w.line);
      g_free (w.line);
      return NULL;
    }
  g_free (w.line);
  g_ptr_array_add (c->events, json_node_ref (root));
  return json_node_get_object (root);
}

static const char *
get_str (JsonObject *o, const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

static gint64
get_int (JsonObject *o, const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n))
    return -1;
  if (json_node_get_value_type (n) == G_TYPE_INT64)
    return json_node_get_int (n);
  if (json_node_get_value_type (n) == G_TYPE_DOUBLE)
    return (gint64) json_node_get_double (n);
  return -1;
}

static gboolean
get_bool (JsonObject *o, const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN
         && json_node_get_boolean (n);
}

static gboolean
matches (JsonObject *o, const char *event, const char *member, const char *value)
{
  if (g_strcmp0 (get_str (o, "event"), event) != 0)
    return FALSE;
  return member == NULL || g_strcmp0 (get_str (o, member), value) == 0;
}

/* Reads until an @event (whose @member is @value, when given). (transfer none) */
static JsonObject *
wait_event (Child *c, const char *event, const char *member, const char *value, int timeout_s, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;

  for (;;)
    {
      JsonObject *o = next_event (c, deadline, error);

      if (o == NULL)
        {
          if (*error == NULL)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s: output ended before a %s event", c->name, event);
          return NULL;
        }
      if (matches (o, event, member, value))
        return o;
    }
}

/* An event already read. (transfer none) */
static JsonObject *
find_event (Child *c, const char *event, const char *member, const char *value, guint nth)
{
  for (guint i = 0; i < c->events->len; i++)
    {
      JsonObject *o = json_node_get_object (g_ptr_array_index (c->events, i));

      if (matches (o, event, member, value) && nth-- == 0)
        return o;
    }
  return NULL;
}

static guint
count_events (Child *c, const char *event)
{
  guint n = 0;

  for (guint i = 0; i < c->events->len; i++)
    if (matches (json_node_get_object (g_ptr_array_index (c->events, i)), event, NULL, NULL))
      n++;
  return n;
}

static void
on_exited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  gboolean *done = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *done = TRUE;
}

/* The exit status, 128 + signal, or -1 on timeout. */
static int
wait_exit (Child *c, int timeout_s)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  gboolean done = FALSE, timed_out = FALSE;
  guint timer;

  g_subprocess_wait_async (c->proc, cancellable, on_exited, &done);
  timer = g_timeout_add_seconds ((guint) timeout_s, on_wait_timeout, &timed_out);
  while (!done && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!done)
    {
      g_cancellable_cancel (cancellable);
      while (!done)
        g_main_context_iteration (NULL, TRUE);
      return -1;
    }
  if (!timed_out)
    g_source_remove (timer);
  c->exited = TRUE;
  track_pid (c->pid, FALSE);
  if (g_subprocess_get_if_exited (c->proc))
    return g_subprocess_get_exit_status (c->proc);
  return 128 + g_subprocess_get_term_sig (c->proc);
}

/* Reads everything up to the end, then the exit status (-1: error set). */
static int
run_to_end (Child *c, int timeout_s, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  int status;

  while (next_event (c, deadline, error) != NULL)
    ;
  if (*error != NULL)
    return -1;
  status = wait_exit (c, MAX (1, (int) ((deadline - g_get_monotonic_time ()) / G_USEC_PER_SEC)));
  if (status < 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: did not exit", c->name);
  return status;
}

/* Stops @c with @sig and reads what it printed on the way out. */
static int
stop_child (Child *c, int sig)
{
  gint64 deadline = g_get_monotonic_time () + STOP_TIMEOUT_S * G_USEC_PER_SEC;
  g_autoptr (GError) error = NULL;

  if (!c->exited)
    g_subprocess_send_signal (c->proc, sig);
  while (next_event (c, deadline, &error) != NULL)
    ;
  return wait_exit (c, STOP_TIMEOUT_S);
}

/* The first loopback address of a listening event. */
static char *
loopback_addr (JsonObject *listening)
{
  JsonNode *n = json_object_get_member (listening, "addrs");
  JsonArray *a;

  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    return NULL;
  a = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      const char *s = json_array_get_string_element (a, i);

      if (s != NULL && g_str_has_prefix (s, "/ip4/127.0.0.1/tcp/"))
        return g_strdup (s);
    }
  return NULL;
}

/* --- fixture ------------------------------------------------------------- */

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *dir = g_getenv ("PUNCH_INTEROP_DIR");
  const char *cli = g_getenv ("PUNCH_CLI");

  f->children = g_ptr_array_new_with_free_func ((GDestroyNotify) child_free);
  f->tmpdir = g_dir_make_tmp ("punch-relay-interop-XXXXXX", &error);
  g_assert_no_error (error);
  if (dir == NULL || cli == NULL)
    {
      g_test_fail_printf ("PUNCH_INTEROP_DIR and PUNCH_CLI must be set (run it with meson test)");
      return;
    }
  f->cli = g_strdup (cli);
  f->script = g_build_filename (dir, "relay-peer.mjs", NULL);
  f->node = g_build_filename (dir, "node_modules", ".bin", "node", NULL);
  if (!g_file_test (f->node, G_FILE_TEST_IS_EXECUTABLE)
      || !g_file_test (f->script, G_FILE_TEST_EXISTS)
      || !g_file_test (f->cli, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_fail_printf ("missing %s, %s or %s: run `npm ci` in %s", f->node, f->script, f->cli, dir);
      return;
    }
  f->ready = TRUE;
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  g_clear_pointer (&f->children, g_ptr_array_unref);
  dir = g_dir_open (f->tmpdir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->tmpdir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->cli);
  g_free (f->node);
  g_free (f->script);
}

/* A relay on 127.0.0.1 (extra arguments after "relay"); its address with /p2p. */
static Child *
start_relay (Fixture *f, PeerKind kind, const char *identity, char **addr, GError **error,
             const char *arg1, const char *arg2, const char *arg3, const char *arg4)
{
  Child *c = spawn (f, kind, "relay", identity, "relay", "--listen", "/ip4/127.0.0.1/tcp/0",
                    arg1, arg2, arg3, arg4, NULL);
  JsonObject *o = wait_event (c, "listening", NULL, NULL, EVENT_TIMEOUT_S, error);

  if (o == NULL)
    return NULL;
  *addr = loopback_addr (o);
  if (*addr == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: no loopback address", c->name);
  return c;
}

/* A listener reserved on @relay; its relayed address. */
static Child *
start_relayed_listener (Fixture *f, PeerKind kind, const char *relay, char **addr, GError **error)
{
  Child *c;
  JsonObject *o;

  if (kind == PEER_C)
    c = spawn (f, kind, "listener", "listener.key", "listen", "--listen", "/ip4/127.0.0.1/tcp/0",
               "--echo", "--perf", "--relay", relay, NULL);
  else
    c = spawn (f, kind, "listener", "listener.key", "listen", "--relay", relay, NULL);
  o = wait_event (c, "reserved", NULL, NULL, EVENT_TIMEOUT_S, error);
  if (o == NULL)
    return NULL;
  *addr = g_strdup (get_str (o, "addr"));
  if (*addr == NULL || strstr (*addr, "/p2p-circuit/p2p/") == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: reserved without a relayed address", c->name);
  return c;
}

/* A relayed connection event with @state already read. (transfer none) */
static JsonObject *
find_relayed (Child *c, const char *state)
{
  for (guint i = 0; i < c->events->len; i++)
    {
      JsonObject *o = json_node_get_object (g_ptr_array_index (c->events, i));

      if (matches (o, "connection", "state", state) && get_bool (o, "relayed"))
        return o;
    }
  return NULL;
}

/* Reads until a relayed connection event with @state. (transfer none) */
static JsonObject *
wait_relayed (Child *c, const char *state, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + EVENT_TIMEOUT_S * G_USEC_PER_SEC;
  JsonObject *o = find_relayed (c, state);

  while (o == NULL)
    {
      o = next_event (c, deadline, error);
      if (o == NULL)
        {
          if (*error == NULL)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s: ended", c->name);
          return NULL;
        }
      if (!matches (o, "connection", "state", state) || !get_bool (o, "relayed"))
        o = NULL;
    }
  return o;
}

/* Checks a finished C dial --ping N. */
static gboolean
c_dial_ok (Child *c, guint pings)
{
  JsonObject *result = find_event (c, "result", NULL, NULL, 0);
  JsonObject *conn = find_relayed (c, "open");

  return get_bool (result, "ok") && get_int (result, "received") == (gint64) pings
         && get_bool (conn, "relayed") && get_bool (conn, "limited");
}

/* --- cases --------------------------------------------------------------- */

static void
test_c_listener_js_relay (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *relay_addr = NULL;
  g_autofree char *addr = NULL;
  Child *listener, *dialer;
  JsonObject *o;
  int status;

  if (!f->ready)
    return;
  start_relay (f, PEER_JS, "relay.key", &relay_addr, &error, NULL, NULL, NULL, NULL);
  CHECK_NO_ERROR (f, error);
  listener = start_relayed_listener (f, PEER_C, relay_addr, &addr, &error);
  CHECK_NO_ERROR (f, error);
  o = find_event (listener, "reserved", NULL, NULL, 0);
  /* js signs its vouchers as the spec says, and limits circuits by default. */
  CHECK (f, g_strcmp0 (get_str (o, "voucher"), "valid") == 0, "js relay's voucher: %s", get_str (o, "voucher"));
  CHECK (f, json_object_get_member (o, "limit") != NULL && JSON_NODE_HOLDS_OBJECT (json_object_get_member (o, "limit")),
         "the js relay sets a limit");

  dialer = spawn (f, PEER_JS, "dialer", "dialer.key", "dial", addr, "--ping", "5", "--echo", "5", "--perf", "4096", NULL);
  status = run_to_end (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, status == 0, "js dialer exit status %d", status);
  o = find_event (dialer, "result", NULL, NULL, 0);
  CHECK (f, get_bool (o, "ok") && get_bool (o, "relayed") && get_bool (o, "limited"), "relayed, limited, ok");
  CHECK (f, count_events (dialer, "ping") == 5, "5 pings");
  CHECK (f, find_event (dialer, "identify", "agent_version", "punchline/0.1.0", 0) != NULL, "identify of the C listener");
  o = find_event (dialer, "echo", NULL, NULL, 0);
  CHECK (f, get_int (o, "bytes") == 5 * 64, "the opted-in protocol ran on the limited connection");
  /* perf did not opt in: refused at once, not a hang. */
  o = find_event (dialer, "error", NULL, NULL, 0);
  CHECK (f, o != NULL && strstr (get_str (o, "message"), "/perf/1.0.0") != NULL && get_int (o, "after_ms") < 5000,
         "perf refused on the limited connection: %s", get_str (o, "message"));

  o = wait_relayed (listener, "open", &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, o != NULL && get_bool (o, "limited") && g_strcmp0 (get_str (o, "direction"), "inbound") == 0,
         "the C listener saw an inbound relayed, limited connection");
  status = stop_child (listener, SIGTERM);
  CHECK (f, status == 0, "listener exit status %d", status);
}

static void
test_js_listener_c_relay (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *relay_addr = NULL;
  g_autofree char *addr = NULL;
  Child *relay, *js_dialer, *c_dialer;
  JsonObject *o;
  int status;

  if (!f->ready)
    return;
  relay = start_relay (f, PEER_C, "relay.key", &relay_addr, &error, NULL, NULL, NULL, NULL);
  CHECK_NO_ERROR (f, error);
  start_relayed_listener (f, PEER_JS, relay_addr, &addr, &error);
  CHECK_NO_ERROR (f, error);
  o = wait_event (relay, "reservation", "state", "opened", EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);

  js_dialer = spawn (f, PEER_JS, "dialer", "js-dialer.key", "dial", addr, "--ping", "5", NULL);
  status = run_to_end (js_dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  o = find_event (js_dialer, "result", NULL, NULL, 0);
  CHECK (f, status == 0 && get_bool (o, "ok") && get_bool (o, "relayed") && get_bool (o, "limited"),
         "js dialer through our relay");
  CHECK (f, count_events (js_dialer, "ping") == 5, "5 pings");

  c_dialer = spawn (f, PEER_C, "dialer", "c-dialer.key", "--timeout", "30", "dial", addr, "--ping", "5", NULL);
  status = run_to_end (c_dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, status == 0 && c_dial_ok (c_dialer, 5), "C dialer through our relay");
  CHECK (f, find_event (c_dialer, "identify", NULL, NULL, 1) != NULL, "identify of the js listener");

  /* One circuit each. */
  for (guint i = 0; i < 2; i++)
    {
      o = wait_event (relay, "circuit", "state", "opened", EVENT_TIMEOUT_S, &error);
      CHECK_NO_ERROR (f, error);
      CHECK (f, g_strcmp0 (get_str (o, "dst"), get_str (find_event (relay, "reservation", "state", "opened", 0),
                                                         "peer_id")) == 0, "a circuit to the js listener");
    }
  status = stop_child (relay, SIGTERM);
  CHECK (f, status == 0, "C relay exit status %d", status);
}

/* Ours end to end, and the events the NAT lab reads: reservation
 * transitions, reserved, circuit, and a holepunch per side (on loopback
 * there is no public address, so each ends failed with a reason). */
static void
test_c_only (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *relay_addr = NULL;
  g_autofree char *addr = NULL;
  Child *relay, *listener, *dialer;
  JsonObject *o;
  int status;

  if (!f->ready)
    return;
  relay = start_relay (f, PEER_C, "relay.key", &relay_addr, &error, NULL, NULL, NULL, NULL);
  CHECK_NO_ERROR (f, error);
  o = wait_event (relay, "relay", NULL, NULL, EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, get_int (o, "reservation_ttl") == 3600 && get_int (o, "max_reservations") == 128,
         "relay settings: go's defaults");
  listener = start_relayed_listener (f, PEER_C, relay_addr, &addr, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, find_event (listener, "reservation", "state", "reserving", 0) != NULL, "reserving before reserved");
  o = find_event (listener, "reserved", NULL, NULL, 0);
  CHECK (f, g_strcmp0 (get_str (o, "voucher"), "valid") == 0 && get_int (o, "expires_in") > 3500,
         "our voucher checks out, one hour");

  dialer = spawn (f, PEER_C, "dialer", "dialer.key", "--timeout", "30", "dial", addr, "--ping", "3", "--hold", "3", NULL);
  status = run_to_end (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, status == 0 && c_dial_ok (dialer, 3), "C → C relay → C");
  o = find_event (dialer, "holepunch", "role", "A", 0);
  CHECK (f, o != NULL && json_object_has_member (o, "state") && json_object_has_member (o, "attempt")
            && json_object_has_member (o, "rtt_ms") && json_object_has_member (o, "outcome")
            && json_object_has_member (o, "error"), "a holepunch event as documented on the dialer");

  wait_relayed (listener, "open", &error);
  CHECK_NO_ERROR (f, error);
  o = wait_event (listener, "holepunch", "state", "failed", EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, g_strcmp0 (get_str (o, "role"), "B") == 0 && get_str (o, "error") != NULL
            && g_strcmp0 (get_str (o, "outcome"), "unknown") != 0, "the listener's punch ended with a reason");
  o = wait_event (relay, "circuit", "state", "closed", EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, get_int (o, "bytes_to_dst") > 0 && get_int (o, "bytes_to_src") > 0, "byte counts");
  status = stop_child (listener, SIGTERM);
  CHECK (f, status == 0, "listener exit status %d", status);
  status = stop_child (relay, SIGTERM);
  CHECK (f, status == 0, "relay exit status %d", status);
}

static void
test_c_dialer_js_relay (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *relay_addr = NULL;
  g_autofree char *addr = NULL;
  Child *dialer;
  int status;

  if (!f->ready)
    return;
  start_relay (f, PEER_JS, "relay.key", &relay_addr, &error, NULL, NULL, NULL, NULL);
  CHECK_NO_ERROR (f, error);
  start_relayed_listener (f, PEER_JS, relay_addr, &addr, &error);
  CHECK_NO_ERROR (f, error);
  dialer = spawn (f, PEER_C, "dialer", "dialer.key", "--timeout", "30", "dial", addr, "--ping", "5", NULL);
  status = run_to_end (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, status == 0 && c_dial_ok (dialer, 5), "C dialer → js relay → js listener");
}

static void
test_limit_data (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *relay_addr = NULL;
  g_autofree char *addr = NULL;
  Child *relay, *listener, *dialer;
  JsonObject *o;
  int status;

  if (!f->ready)
    return;
  relay = start_relay (f, PEER_C, "relay.key", &relay_addr, &error, "--limit-data", "16K", NULL, NULL);
  CHECK_NO_ERROR (f, error);
  listener = start_relayed_listener (f, PEER_JS, relay_addr, &addr, &error);
  CHECK_NO_ERROR (f, error);

  /* ~60 bytes per ping each way once secured: the budget goes before 2000. */
  dialer = spawn (f, PEER_C, "dialer", "dialer.key", "--timeout", "30", "dial", addr, "--ping", "2000", NULL);
  status = run_to_end (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  o = find_event (dialer, "result", NULL, NULL, 0);
  CHECK (f, status == 1 && !get_bool (o, "ok") && get_int (o, "received") < 2000, "the circuit was cut");
  o = find_relayed (dialer, "closed");
  CHECK (f, o != NULL && get_str (o, "error") != NULL,
         "our dialer saw its relayed connection reset");

  o = wait_event (relay, "circuit", "state", "closed", EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, g_strcmp0 (get_str (o, "limit_hit"), "data") == 0, "the relay says: %s", get_str (o, "reason"));
  CHECK (f, get_int (o, "bytes_to_dst") <= 16384 && get_int (o, "bytes_to_src") <= 16384
            && MAX (get_int (o, "bytes_to_dst"), get_int (o, "bytes_to_src")) == 16384,
         "exactly the budget relayed: %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT,
         get_int (o, "bytes_to_dst"), get_int (o, "bytes_to_src"));
  wait_relayed (listener, "closed", &error);
  CHECK_NO_ERROR (f, error);
  status = stop_child (relay, SIGTERM);
  CHECK (f, status == 0, "C relay exit status %d", status);
}

static void
test_limit_duration (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *relay_addr = NULL;
  g_autofree char *addr = NULL;
  Child *relay, *listener, *dialer, *js_dialer;
  JsonObject *o;
  int status;
  gint64 t0;

  if (!f->ready)
    return;
  relay = start_relay (f, PEER_C, "relay.key", &relay_addr, &error, "--limit-duration", "2", "--limit-data", "0");
  CHECK_NO_ERROR (f, error);
  listener = start_relayed_listener (f, PEER_JS, relay_addr, &addr, &error);
  CHECK_NO_ERROR (f, error);

  t0 = g_get_monotonic_time ();
  dialer = spawn (f, PEER_C, "dialer", "dialer.key", "--timeout", "30", "dial", addr, "--ping", "1", "--hold", "20", NULL);
  status = run_to_end (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  o = find_event (dialer, "result", NULL, NULL, 0);
  CHECK (f, status == 1 && strstr (get_str (o, "error"), "closed while holding") != NULL, "our dialer saw the reset");
  CHECK (f, g_get_monotonic_time () - t0 < 15 * G_USEC_PER_SEC, "the reset came with the 2 s limit, not the hold");
  o = wait_event (relay, "circuit", "state", "closed", EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, g_strcmp0 (get_str (o, "limit_hit"), "duration") == 0, "the relay says: %s", get_str (o, "reason"));
  wait_relayed (listener, "closed", &error);
  CHECK_NO_ERROR (f, error);

  /* A js dialer's circuit ends the same way. */
  js_dialer = spawn (f, PEER_JS, "dialer", "js-dialer.key", "dial", addr, "--ping", "1", "--hold", "20", NULL);
  status = run_to_end (js_dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  o = find_event (js_dialer, "result", NULL, NULL, 0);
  CHECK (f, status == 0 && get_bool (o, "closed"), "the js dialer saw its relayed connection end");
  o = wait_event (relay, "circuit", "state", "closed", EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, g_strcmp0 (get_str (o, "limit_hit"), "duration") == 0, "the relay says: %s", get_str (o, "reason"));
  status = stop_child (relay, SIGTERM);
  CHECK (f, status == 0, "C relay exit status %d", status);
}

static void
test_relay_restart (Fixture *f, gconstpointer data)
{
  PeerKind kind = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autofree char *relay_addr = NULL;
  g_autofree char *relay_addr2 = NULL;
  g_autofree char *addr = NULL;
  g_autofree char *listen_at = NULL;
  Child *relay, *listener, *dialer;
  JsonObject *o;
  const char *tail;
  gint64 back;
  int status;

  if (!f->ready)
    return;
  relay = start_relay (f, kind, "relay.key", &relay_addr, &error, NULL, NULL, NULL, NULL);
  CHECK_NO_ERROR (f, error);
  listener = start_relayed_listener (f, PEER_C, relay_addr, &addr, &error);
  CHECK_NO_ERROR (f, error);

  /* The relay goes away: the reservation fails and is retried. */
  stop_child (relay, SIGKILL);
  o = wait_event (listener, "reservation", "state", "failed", EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, get_str (o, "reason") != NULL, "a failure has a reason");

  /* Back on the same port with the same key. */
  tail = strstr (relay_addr, "/p2p/");
  CHECK (f, tail != NULL, "relay address with /p2p");
  listen_at = g_strndup (relay_addr, tail - relay_addr);
  relay = spawn (f, kind, "relay again", "relay.key", "relay", "--listen", listen_at, NULL);
  o = wait_event (relay, "listening", NULL, NULL, EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  back = g_get_monotonic_time ();
  relay_addr2 = loopback_addr (o);
  CHECK (f, g_strcmp0 (relay_addr, relay_addr2) == 0, "same address: %s", relay_addr2);

  o = wait_event (listener, "reserved", NULL, NULL, REBOOK_DEADLINE_S + 2, &error);
  CHECK_NO_ERROR (f, error);
  g_test_message ("reserved again %.2f s after the relay was back", (g_get_monotonic_time () - back) / 1e6);
  CHECK (f, g_get_monotonic_time () - back <= REBOOK_DEADLINE_S * G_USEC_PER_SEC,
         "reserved again %.1f s after the relay was back", (g_get_monotonic_time () - back) / 1e6);
  CHECK (f, g_strcmp0 (get_str (o, "addr"), addr) == 0, "same relayed address: %s", get_str (o, "addr"));

  dialer = spawn (f, PEER_JS, "dialer", "dialer.key", "dial", addr, "--ping", "1", "--echo", "1", NULL);
  status = run_to_end (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  o = find_event (dialer, "result", NULL, NULL, 0);
  CHECK (f, status == 0 && get_bool (o, "ok") && find_event (dialer, "echo", NULL, NULL, 0) != NULL,
         "the advertised relayed address works again");
}

int
main (int argc, char **argv)
{
  signal (SIGSEGV, on_fatal_signal);
  signal (SIGABRT, on_fatal_signal);
  signal (SIGTERM, on_fatal_signal);
  signal (SIGINT, on_fatal_signal);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/interop/relay/c-listener/js-relay", test_c_listener_js_relay);
  ADD ("/interop/relay/js-listener/c-relay", test_js_listener_c_relay);
  ADD ("/interop/relay/c-dialer/js-relay", test_c_dialer_js_relay);
  ADD ("/interop/relay/c-only", test_c_only);
  ADD ("/interop/relay/limit/data", test_limit_data);
  ADD ("/interop/relay/limit/duration", test_limit_duration);
#undef ADD
  g_test_add ("/interop/relay/restart/js-relay", Fixture, GINT_TO_POINTER (PEER_JS), fixture_setup,
              test_relay_restart, fixture_teardown);
  g_test_add ("/interop/relay/restart/c-relay", Fixture, GINT_TO_POINTER (PEER_C), fixture_setup,
              test_relay_restart, fixture_teardown);

  return g_test_run ();
}
