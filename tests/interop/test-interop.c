/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Interop with unmodified js-libp2p 3 peers over loopback TCP, each way
 * (/interop/js-dials-c/…, /interop/c-dials-js/…): dial and ping on one
 * stream, js's stream-per-ping service, identify, perf with exact byte
 * counts, parallel perf streams, secp256k1 and RSA js identities, and pings
 * past js's 10 s ping-stream limit. `punchline-cli --json` and
 * tests/interop/peer.mjs print the same JSON-lines events
 * (docs/cli-events.md); the /interop/js-js/… cases prove the harness itself.
 * Every peer has its own identity in a temporary folder; children are
 * killed by PID in the teardown, and by the kernel if this program dies.
 *
 * PUNCH_CLI is the CLI to test, PUNCH_INTEROP_DIR the folder holding peer.mjs
 * and node_modules (from `npm ci`).
 */
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#define LISTEN_TIMEOUT_S  30
#define COMMAND_TIMEOUT_S 90
#define EVENT_TIMEOUT_S   20
#define STOP_TIMEOUT_S    10
#define PERF_BYTES        10485760
#define PING_COUNT        5
#define PARALLEL_STREAMS  8
#define PARALLEL_BYTES    2097152

typedef enum
{
  PEER_C,
  PEER_JS,
} PeerKind;

typedef struct
{
  PeerKind listener;
  PeerKind dialer;
} Pair;

/* Every child still running, so that a crash of this program can kill them
 * too; written from the main thread only, read by the signal handler. */
#define MAX_CHILDREN 32
static volatile pid_t live_pids[MAX_CHILDREN];

typedef struct
{
  char             *name;
  PeerKind          kind;
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
  char      *peer_script;
  GPtrArray *children;           /* (element-type Child) */
  gboolean   ready;
} Fixture;

/* --- child bookkeeping ---------------------------------------------------- */

static void
track_pid (pid_t pid)
{
  for (guint i = 0; i < MAX_CHILDREN; i++)
    if (live_pids[i] == 0)
      {
        live_pids[i] = pid;
        return;
      }
}

static void
untrack_pid (pid_t pid)
{
  for (guint i = 0; i < MAX_CHILDREN; i++)
    if (live_pids[i] == pid)
      live_pids[i] = 0;
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
  /* If this test program dies without its teardown, the kernel ends the
   * child as well. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
child_free (Child *c)
{
  if (c->proc != NULL)
    {
      /* By PID, never by name. */
      if (!c->exited && c->pid > 0)
        kill (c->pid, SIGKILL);
      g_subprocess_wait (c->proc, NULL, NULL);
      if (c->pid > 0)
        untrack_pid (c->pid);
    }
  g_clear_object (&c->out);
  g_clear_object (&c->proc);
  g_clear_pointer (&c->events, g_ptr_array_unref);
  g_free (c->stderr_path);
  g_free (c->name);
  g_free (c);
}

static char *
child_describe (Child *c)
{
  GString *s = g_string_new (NULL);
  g_autofree char *err = NULL;

  g_string_append_printf (s, "--- %s (pid %d), %u events on stdout:\n",
                          c->name, (int) c->pid, c->events->len);
  for (guint i = 0; i < c->events->len; i++)
    {
      g_autofree char *line = json_to_string (g_ptr_array_index (c->events, i), FALSE);
      g_string_append_printf (s, "  %s\n", line);
    }
  if (g_file_get_contents (c->stderr_path, &err, NULL, NULL) && err[0] != '\0')
    {
      gsize len = strlen (err);
      /* Keep the end: that is where the error is. */
      const char *tail = len > 6000 ? err + len - 6000 : err;
      g_string_append_printf (s, "--- %s stderr%s:\n%s\n", c->name,
                              len > 6000 ? " (last 6000 bytes)" : "", tail);
    }
  return g_string_free (s, FALSE);
}

static void
fixture_dump (Fixture *f)
{
  for (guint i = 0; i < f->children->len; i++)
    {
      g_autofree char *d = child_describe (g_ptr_array_index (f->children, i));
      g_test_message ("%s", d);
    }
}

/* Marks the test failed with the context of every child; the caller returns. */
#define CHECK(f, cond, ...) \
  G_STMT_START { \
    if (!(cond)) \
      { \
        g_autofree char *check_msg_ = g_strdup_printf (__VA_ARGS__); \
        fixture_dump (f); \
        g_test_fail_printf ("%s:%d: %s (failed: %s)", __FILE__, __LINE__, \
                            check_msg_, #cond); \
        return; \
      } \
  } G_STMT_END

/* --- spawning --------------------------------------------------------------- */

static Child *
spawn_peer (Fixture    *f,
            PeerKind    kind,
            const char *name,
            const char *identity,
            GError    **error,
            ...)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *id_path = g_build_filename (f->tmpdir, identity, NULL);
  Child *c;
  const char *arg;
  va_list ap;

  if (kind == PEER_C)
    {
      g_ptr_array_add (argv, g_strdup (f->cli));
      g_ptr_array_add (argv, g_strdup ("--identity"));
      g_ptr_array_add (argv, g_strdup (id_path));
      g_ptr_array_add (argv, g_strdup ("--json"));
    }
  else
    {
      g_ptr_array_add (argv, g_strdup (f->node));
      g_ptr_array_add (argv, g_strdup (f->peer_script));
      g_ptr_array_add (argv, g_strdup ("--identity"));
      g_ptr_array_add (argv, g_strdup (id_path));
      g_ptr_array_add (argv, g_strdup ("--json"));
    }
  va_start (ap, error);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  c = g_new0 (Child, 1);
  c->kind = kind;
  c->name = g_strdup_printf ("%s %s", kind == PEER_C ? "C" : "js", name);
  c->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  c->stderr_path = g_strdup_printf ("%s/%s-%u.stderr", f->tmpdir,
                                    kind == PEER_C ? "c" : "js", f->children->len);

  {
    g_autofree char *cmdline = g_strjoinv (" ", (char **) argv->pdata);
    g_test_message ("spawn %s: %s", c->name, cmdline);
  }

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_stderr_file_path (launcher, c->stderr_path);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  c->proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, error);
  if (c->proc == NULL)
    {
      child_free (c);
      return NULL;
    }
  /* No identifier when it has already exited (and been reaped). */
  if (g_subprocess_get_identifier (c->proc) != NULL)
    {
      c->pid = (pid_t) g_ascii_strtoll (g_subprocess_get_identifier (c->proc), NULL, 10);
      track_pid (c->pid);
    }
  c->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (c->proc));
  g_ptr_array_add (f->children, c);
  return c;
}

/* --- reading events with deadlines ----------------------------------------- */

typedef struct
{
  gboolean  done;
  gboolean  timed_out;
  char     *line;
  GError   *error;
} LineWait;

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  LineWait *w = user_data;

  w->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source),
                                                       result, NULL, &w->error);
  w->done = TRUE;
}

static gboolean
on_line_timeout (gpointer user_data)
{
  LineWait *w = user_data;

  w->timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* The next event of @c, or NULL with @error set (timeout, bad JSON) or with
 * no error at the end of its output. (transfer none) */
static JsonObject *
child_next_event (Child   *c,
                  gint64   deadline,
                  GError **error)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(JsonParser) parser = NULL;
  LineWait w = { 0 };
  gint64 remaining_ms = (deadline - g_get_monotonic_time ()) / 1000;
  guint timeout_id;
  JsonNode *root;

  if (c->eof)
    return NULL;

  g_data_input_stream_read_line_async (c->out, G_PRIORITY_DEFAULT, cancellable, on_line, &w);
  timeout_id = g_timeout_add ((guint) MAX (remaining_ms, 1), on_line_timeout, &w);
  while (!w.done && !w.timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!w.done)
    {
      g_cancellable_cancel (cancellable);
      while (!w.done)
        g_main_context_iteration (NULL, TRUE);
      g_clear_error (&w.error);
      g_free (w.line);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "%s: no output line before the deadline", c->name);
      return NULL;
    }
  if (!w.timed_out)
    g_source_remove (timeout_id);

  if (w.error != NULL)
    {
      g_propagate_prefixed_error (error, w.error, "%s: reading stdout: ", c->name);
      return NULL;
    }
  if (w.line == NULL)
    {
      c->eof = TRUE;
      return NULL;
    }

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, w.line, -1, error) ||
      (root = json_parser_get_root (parser)) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (root) ||
      !json_object_has_member (json_node_get_object (root), "event"))
    {
      g_clear_error (error);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: stdout line is not a JSON event: %s", c->name, w.line);
      g_free (w.line);
      return NULL;
    }
  g_free (w.line);
  g_ptr_array_add (c->events, json_node_ref (root));
  return json_node_get_object (root);
}

static const char *
event_name (JsonObject *o)
{
  return json_object_get_string_member_with_default (o, "event", "");
}

/* Reads until an event called @name. (transfer none) */
static JsonObject *
child_wait_event (Child      *c,
                  const char *name,
                  int         timeout_s,
                  GError    **error)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  /* An event already read counts once: the caller asks for the next one. */
  for (;;)
    {
      JsonObject *o = child_next_event (c, deadline, error);

      if (o == NULL)
        {
          if (error == NULL || *error == NULL)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                         "%s: output ended before a \"%s\" event", c->name, name);
          return NULL;
        }
      if (g_str_equal (event_name (o), name))
        return o;
    }
}

typedef struct
{
  gboolean done;
  gboolean timed_out;
} ExitWait;

static void
on_child_exit (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  ExitWait *w = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  w->done = TRUE;
}

static gboolean
on_exit_timeout (gpointer user_data)
{
  ExitWait *w = user_data;

  w->timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* Waits for @c to exit; returns its exit status, 128+signal, or -1 on timeout. */
static int
child_wait_exit (Child *c,
                 int    timeout_s)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  ExitWait w = { 0 };
  guint timeout_id;

  g_subprocess_wait_async (c->proc, cancellable, on_child_exit, &w);
  timeout_id = g_timeout_add_seconds ((guint) timeout_s, on_exit_timeout, &w);
  while (!w.done && !w.timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!w.done)
    {
      g_cancellable_cancel (cancellable);
      while (!w.done)
        g_main_context_iteration (NULL, TRUE);
      return -1;
    }
  if (!w.timed_out)
    g_source_remove (timeout_id);
  c->exited = TRUE;
  untrack_pid (c->pid);
  if (g_subprocess_get_if_exited (c->proc))
    return g_subprocess_get_exit_status (c->proc);
  return 128 + g_subprocess_get_term_sig (c->proc);
}

/* Reads every event up to the end of @c's output, then waits for it to exit.
 * Returns the exit status, or -1 with @error set. */
static int
child_run (Child   *c,
           int      timeout_s,
           GError **error)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  int status;

  while (child_next_event (c, deadline, error) != NULL)
    ;
  if (error != NULL && *error != NULL)
    return -1;
  status = child_wait_exit (c, MAX (1, (int) ((deadline - g_get_monotonic_time ()) / G_USEC_PER_SEC)));
  if (status < 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                 "%s: closed its output but did not exit", c->name);
  return status;
}

/* SIGTERM, as a user's Ctrl-C would; the exit status, or -1. */
static int
child_stop (Child *c)
{
  if (!c->exited)
    g_subprocess_send_signal (c->proc, SIGTERM);
  /* Read what it printed on the way out, for the failure report. */
  {
    gint64 deadline = g_get_monotonic_time () + STOP_TIMEOUT_S * G_USEC_PER_SEC;
    g_autoptr(GError) error = NULL;

    while (child_next_event (c, deadline, &error) != NULL)
      ;
  }
  return child_wait_exit (c, STOP_TIMEOUT_S);
}

static JsonObject *
child_find_event (Child      *c,
                  const char *name,
                  guint       nth)
{
  for (guint i = 0; i < c->events->len; i++)
    {
      JsonObject *o = json_node_get_object (g_ptr_array_index (c->events, i));

      if (g_str_equal (event_name (o), name) && nth-- == 0)
        return o;
    }
  return NULL;
}

static guint
child_count_events (Child      *c,
                    const char *name)
{
  guint n = 0;

  for (guint i = 0; i < c->events->len; i++)
    if (g_str_equal (event_name (json_node_get_object (g_ptr_array_index (c->events, i))), name))
      n++;
  return n;
}

/* --- JSON helpers ------------------------------------------------------------ */

static const char *
get_str (JsonObject *o,
         const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

/* A JSON number (integer or not), or NAN when missing. */
static double
get_num (JsonObject *o,
         const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n))
    return NAN;
  if (json_node_get_value_type (n) == G_TYPE_INT64)
    return (double) json_node_get_int (n);
  if (json_node_get_value_type (n) == G_TYPE_DOUBLE)
    return json_node_get_double (n);
  return NAN;
}

static gboolean
get_bool (JsonObject *o,
          const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  return n != NULL && JSON_NODE_HOLDS_VALUE (n) &&
         json_node_get_value_type (n) == G_TYPE_BOOLEAN && json_node_get_boolean (n);
}

static gboolean
array_has_string (JsonObject *o,
                  const char *member,
                  const char *value)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;
  JsonArray *a;

  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    return FALSE;
  a = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *e = json_array_get_element (a, i);

      if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING &&
          g_str_equal (json_node_get_string (e), value))
        return TRUE;
    }
  return FALSE;
}

static guint
array_length (JsonObject *o,
              const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  return n != NULL && JSON_NODE_HOLDS_ARRAY (n) ? json_array_get_length (json_node_get_array (n)) : 0;
}

/* The first listen address with @prefix (e.g. "/ip4/127.0.0.1/tcp/") and a
 * /p2p suffix of a "listening" event. */
static char *
loopback_addr (JsonObject *listening,
               const char *prefix)
{
  JsonNode *n = json_object_get_member (listening, "addrs");
  JsonArray *a;

  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    return NULL;
  a = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      const char *s = json_array_get_string_element (a, i);

      if (s != NULL && g_str_has_prefix (s, prefix) && strstr (s, "/p2p/") != NULL)
        return g_strdup (s);
    }
  return NULL;
}

/* --- fixture ----------------------------------------------------------------- */

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  const Pair *pair = data;
  g_autoptr(GError) error = NULL;
  const char *dir = g_getenv ("PUNCH_INTEROP_DIR");
  const char *cli = g_getenv ("PUNCH_CLI");

  f->children = g_ptr_array_new_with_free_func ((GDestroyNotify) child_free);
  f->tmpdir = g_dir_make_tmp ("punch-interop-XXXXXX", &error);
  g_assert_no_error (error);

  if (dir == NULL || cli == NULL)
    {
      g_test_fail_printf ("PUNCH_INTEROP_DIR and PUNCH_CLI must be set (run it with meson test)");
      return;
    }
  f->cli = g_strdup (cli);
  f->peer_script = g_build_filename (dir, "peer.mjs", NULL);
  f->node = g_build_filename (dir, "node_modules", ".bin", "node", NULL);
  if (!g_file_test (f->node, G_FILE_TEST_IS_EXECUTABLE) ||
      !g_file_test (f->peer_script, G_FILE_TEST_EXISTS))
    {
      g_test_fail_printf ("the js-libp2p test peers are not installed: %s is missing. "
                          "Run `npm ci` in %s (or .ci/deps, which does it).", f->node, dir);
      return;
    }
  if ((pair->listener == PEER_C || pair->dialer == PEER_C) &&
      !g_file_test (f->cli, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_fail_printf ("%s is not an executable", f->cli);
      return;
    }
  f->ready = TRUE;
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  /* Kills, by PID, every child still running. */
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
  g_free (f->peer_script);
}

/* The peer ID an identity file gives, from the `id` command. */
static char *
peer_id_of (Fixture    *f,
            PeerKind    kind,
            const char *identity,
            GError    **error)
{
  Child *c = spawn_peer (f, kind, "id", identity, error, "id", NULL);
  JsonObject *o;
  int status;

  if (c == NULL)
    return NULL;
  status = child_run (c, COMMAND_TIMEOUT_S, error);
  if (status != 0)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: exit status %d", c->name, status);
      return NULL;
    }
  o = child_find_event (c, "id", 0);
  if (get_str (o, "peer_id") == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: no id event with a peer_id", c->name);
      return NULL;
    }
  return g_strdup (get_str (o, "peer_id"));
}

/* Starts a listener on 127.0.0.1 port 0 serving perf; returns its address. */
static Child *
start_listener_full (Fixture    *f,
                     PeerKind    kind,
                     const char *listen_addr,
                     const char *js_key_type,
                     char      **addr,
                     GError    **error)
{
  g_autofree char *prefix = g_strndup (listen_addr, strlen (listen_addr) - 1);
  Child *c = spawn_peer (f, kind, "listen", kind == PEER_C ? "listener-c.key" : "listener-js.key",
                         error, "listen", "--listen", listen_addr, "--perf",
                         js_key_type != NULL ? "--key-type" : NULL, js_key_type, NULL);
  JsonObject *o;

  if (c == NULL)
    return NULL;
  o = child_wait_event (c, "listening", LISTEN_TIMEOUT_S, error);
  if (o == NULL)
    return NULL;
  *addr = loopback_addr (o, prefix);
  if (*addr == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "%s: no %s.../p2p/... address in its listening event", c->name, prefix);
      return NULL;
    }
  return c;
}

static Child *
start_listener_with_key (Fixture    *f,
                         PeerKind    kind,
                         const char *js_key_type,
                         char      **addr,
                         GError    **error)
{
  return start_listener_full (f, kind, "/ip4/127.0.0.1/tcp/0", js_key_type, addr, error);
}

static Child *
start_listener (Fixture    *f,
                PeerKind    kind,
                char      **addr,
                GError    **error)
{
  return start_listener_with_key (f, kind, NULL, addr, error);
}

/* Checks a finished command: exit 0 and a final {"event":"result","ok":true}. */
#define CHECK_COMMAND_OK(f, c, status, error) \
  G_STMT_START { \
    JsonObject *result_ = child_find_event ((c), "result", 0); \
    CHECK ((f), (error) == NULL, "%s: %s", (c)->name, (error) != NULL ? (error)->message : ""); \
    CHECK ((f), result_ != NULL, "%s printed no result event", (c)->name); \
    CHECK ((f), get_bool (result_, "ok"), "%s failed: %s", (c)->name, \
           get_str (result_, "error") != NULL ? get_str (result_, "error") : "(no error text)"); \
    CHECK ((f), (status) == 0, "%s exited with status %d", (c)->name, (status)); \
  } G_STMT_END

/* --- the cases ----------------------------------------------------------------- */

static const Pair js_dials_c = { PEER_C, PEER_JS };
static const Pair c_dials_js = { PEER_JS, PEER_C };
static const Pair js_dials_js = { PEER_JS, PEER_JS };

static const char *
agent_prefix (PeerKind kind)
{
  return kind == PEER_C ? "punchline/" : "js-libp2p/";
}

/* The listener saw the dialer: an inbound connection from the dialer's peer
 * ID, secured by Noise and multiplexed by Yamux, and identified it. */
static void
check_listener_saw (Fixture    *f,
                    Child      *listener,
                    PeerKind    dialer_kind,
                    const char *dialer_id)
{
  g_autoptr(GError) error = NULL;
  JsonObject *conn = NULL;
  JsonObject *ident = NULL;
  gboolean closed = FALSE;

  /* The listener's events may still be on their way. */
  for (guint i = 0; (conn = child_find_event (listener, "connection", i)) != NULL; i++)
    if (g_strcmp0 (get_str (conn, "peer_id"), dialer_id) == 0)
      break;
  if (conn == NULL)
    {
      conn = child_wait_event (listener, "connection", EVENT_TIMEOUT_S, &error);
      CHECK (f, conn != NULL, "%s: %s", listener->name, error->message);
    }
  CHECK (f, g_strcmp0 (get_str (conn, "peer_id"), dialer_id) == 0,
         "%s: connection from %s, expected %s", listener->name, get_str (conn, "peer_id"), dialer_id);
  CHECK (f, g_strcmp0 (get_str (conn, "direction"), "inbound") == 0,
         "%s: direction %s", listener->name, get_str (conn, "direction"));
  CHECK (f, g_strcmp0 (get_str (conn, "state"), "open") == 0,
         "%s: first connection event is %s", listener->name, get_str (conn, "state"));
  CHECK (f, g_strcmp0 (get_str (conn, "security"), "/noise") == 0,
         "%s: security %s", listener->name, get_str (conn, "security"));
  CHECK (f, g_strcmp0 (get_str (conn, "muxer"), "/yamux/1.0.0") == 0,
         "%s: muxer %s", listener->name, get_str (conn, "muxer"));

  /* The listener identifies the dialer in the background; a dialer that is
   * done may close the connection first, which is fine (each side's
   * identify is checked by the identify cases). */
  for (guint i = 0; i < listener->events->len && ident == NULL && !closed; i++)
    {
      JsonObject *o = json_node_get_object (g_ptr_array_index (listener->events, i));

      if (g_strcmp0 (get_str (o, "peer_id"), dialer_id) != 0)
        continue;
      if (g_str_equal (event_name (o), "identify"))
        ident = o;
      else if (g_str_equal (event_name (o), "connection") && g_strcmp0 (get_str (o, "state"), "closed") == 0)
        closed = TRUE;
    }
  while (ident == NULL && !closed)
    {
      gint64 deadline = g_get_monotonic_time () + EVENT_TIMEOUT_S * G_USEC_PER_SEC;
      JsonObject *o = child_next_event (listener, deadline, &error);

      CHECK (f, o != NULL, "%s: neither an identify of the dialer nor its connection's end: %s",
             listener->name, error != NULL ? error->message : "output ended");
      if (g_strcmp0 (get_str (o, "peer_id"), dialer_id) != 0)
        continue;
      if (g_str_equal (event_name (o), "identify"))
        ident = o;
      else if (g_str_equal (event_name (o), "connection") && g_strcmp0 (get_str (o, "state"), "closed") == 0)
        closed = TRUE;
    }
  if (ident == NULL)
    {
      g_test_message ("%s: the dialer closed before the listener's identify of it ended", listener->name);
      return;
    }
  CHECK (f, g_str_has_prefix (get_str (ident, "agent_version") ?: "", agent_prefix (dialer_kind)),
         "%s: dialer's agent is %s", listener->name, get_str (ident, "agent_version"));
  CHECK (f, array_has_string (ident, "protocols", "/ipfs/id/1.0.0"),
         "%s: dialer's protocols lack /ipfs/id/1.0.0", listener->name);
}

static void
test_ping (Fixture       *f,
           gconstpointer  data)
{
  const Pair *pair = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *addr = NULL;
  g_autofree char *dialer_id = NULL;
  char count[16];
  Child *listener;
  Child *dialer;
  int status;

  if (!f->ready)
    return;
  g_snprintf (count, sizeof count, "%d", PING_COUNT);

  dialer_id = peer_id_of (f, pair->dialer, "dialer.key", &error);
  CHECK (f, dialer_id != NULL, "dialer id: %s", error->message);
  listener = start_listener (f, pair->listener, &addr, &error);
  CHECK (f, listener != NULL, "listener: %s", error->message);

  dialer = spawn_peer (f, pair->dialer, "dial --ping", "dialer.key", &error,
                       "dial", addr, "--ping", count, NULL);
  CHECK (f, dialer != NULL, "spawn: %s", error->message);
  status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_COMMAND_OK (f, dialer, status, error);

  CHECK (f, child_count_events (dialer, "ping") == PING_COUNT,
         "%s: %u ping events, expected %d", dialer->name, child_count_events (dialer, "ping"), PING_COUNT);
  for (guint i = 0; i < PING_COUNT; i++)
    {
      JsonObject *p = child_find_event (dialer, "ping", i);
      double rtt = get_num (p, "rtt_ms");

      CHECK (f, get_num (p, "seq") == i + 1, "%s: ping %u has seq %g", dialer->name, i, get_num (p, "seq"));
      CHECK (f, rtt >= 0 && rtt < 5000, "%s: ping %u rtt_ms %g", dialer->name, i, rtt);
      CHECK (f, g_strcmp0 (get_str (p, "peer_id"), strstr (addr, "/p2p/") + 5) == 0,
             "%s: ping from %s", dialer->name, get_str (p, "peer_id"));
    }
  {
    JsonObject *conn = child_find_event (dialer, "connection", 0);

    CHECK (f, conn != NULL, "%s: no connection event", dialer->name);
    CHECK (f, g_strcmp0 (get_str (conn, "direction"), "outbound") == 0,
           "%s: direction %s", dialer->name, get_str (conn, "direction"));
    CHECK (f, g_strcmp0 (get_str (conn, "security"), "/noise") == 0,
           "%s: security %s", dialer->name, get_str (conn, "security"));
    CHECK (f, g_strcmp0 (get_str (conn, "muxer"), "/yamux/1.0.0") == 0,
           "%s: muxer %s", dialer->name, get_str (conn, "muxer"));
  }

  check_listener_saw (f, listener, pair->dialer, dialer_id);
  if (g_test_failed ())
    return;
  status = child_stop (listener);
  CHECK (f, status == 0, "%s: exit status %d after SIGTERM", listener->name, status);
}

/* The `ping` command: js's own ping service opens a stream per ping. */
static void
test_ping_command (Fixture       *f,
                   gconstpointer  data)
{
  const Pair *pair = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *addr = NULL;
  char count[16];
  Child *listener;
  Child *dialer;
  int status;

  if (!f->ready)
    return;
  g_snprintf (count, sizeof count, "%d", PING_COUNT);

  listener = start_listener (f, pair->listener, &addr, &error);
  CHECK (f, listener != NULL, "listener: %s", error->message);
  dialer = spawn_peer (f, pair->dialer, "ping -c", "dialer.key", &error,
                       "ping", addr, "-c", count, NULL);
  CHECK (f, dialer != NULL, "spawn: %s", error->message);
  status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_COMMAND_OK (f, dialer, status, error);
  CHECK (f, child_count_events (dialer, "ping") == PING_COUNT,
         "%s: %u ping events, expected %d", dialer->name, child_count_events (dialer, "ping"), PING_COUNT);
  CHECK (f, child_count_events (dialer, "error") == 0, "%s: error events", dialer->name);
  for (guint i = 0; i < PING_COUNT; i++)
    {
      double rtt = get_num (child_find_event (dialer, "ping", i), "rtt_ms");

      CHECK (f, rtt >= 0 && rtt < 5000, "%s: ping %u rtt_ms %g", dialer->name, i, rtt);
    }
  status = child_stop (listener);
  CHECK (f, status == 0, "%s: exit status %d after SIGTERM", listener->name, status);
}

static void
test_identify (Fixture       *f,
               gconstpointer  data)
{
  const Pair *pair = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *addr = NULL;
  g_autofree char *dialer_id = NULL;
  const char *listener_id;
  JsonObject *ident;
  Child *listener;
  Child *dialer;
  int status;

  if (!f->ready)
    return;

  dialer_id = peer_id_of (f, pair->dialer, "dialer.key", &error);
  CHECK (f, dialer_id != NULL, "dialer id: %s", error->message);
  listener = start_listener (f, pair->listener, &addr, &error);
  CHECK (f, listener != NULL, "listener: %s", error->message);
  listener_id = strstr (addr, "/p2p/") + 5;

  dialer = spawn_peer (f, pair->dialer, "identify", "dialer.key", &error, "identify", addr, NULL);
  CHECK (f, dialer != NULL, "spawn: %s", error->message);
  status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_COMMAND_OK (f, dialer, status, error);

  ident = child_find_event (dialer, "identify", 0);
  CHECK (f, ident != NULL, "%s: no identify event", dialer->name);
  CHECK (f, g_strcmp0 (get_str (ident, "peer_id"), listener_id) == 0,
         "%s: identified %s, expected %s", dialer->name, get_str (ident, "peer_id"), listener_id);
  CHECK (f, g_str_has_prefix (get_str (ident, "agent_version") ?: "", agent_prefix (pair->listener)),
         "%s: agent_version %s, expected %s...", dialer->name,
         get_str (ident, "agent_version"), agent_prefix (pair->listener));
  CHECK (f, g_strcmp0 (get_str (ident, "protocol_version"), "ipfs/0.1.0") == 0,
         "%s: protocol_version %s", dialer->name, get_str (ident, "protocol_version"));
  CHECK (f, array_has_string (ident, "protocols", "/ipfs/id/1.0.0"), "%s: no /ipfs/id/1.0.0", dialer->name);
  CHECK (f, array_has_string (ident, "protocols", "/ipfs/ping/1.0.0"), "%s: no /ipfs/ping/1.0.0", dialer->name);
  CHECK (f, array_has_string (ident, "protocols", "/perf/1.0.0"), "%s: no /perf/1.0.0", dialer->name);
  CHECK (f, array_length (ident, "listen_addrs") > 0, "%s: no listen_addrs", dialer->name);
  {
    /* The listen address, without /p2p, must be among those advertised. */
    g_autofree char *bare = g_strndup (addr, strstr (addr, "/p2p/") - addr);

    CHECK (f, array_has_string (ident, "listen_addrs", bare),
           "%s: listen_addrs lack %s", dialer->name, bare);
  }
  CHECK (f, g_str_has_prefix (get_str (ident, "observed_addr") ?: "", "/ip4/127.0.0.1/tcp/"),
         "%s: observed_addr %s", dialer->name, get_str (ident, "observed_addr"));

  check_listener_saw (f, listener, pair->dialer, dialer_id);
  if (g_test_failed ())
    return;
  status = child_stop (listener);
  CHECK (f, status == 0, "%s: exit status %d after SIGTERM", listener->name, status);
}

/* Waits for @n "perf" events with role "server" from @listener, each with
 * exactly @bytes each way. */
static gboolean
check_served (Child   *listener,
              guint    n,
              double   bytes,
              GError **error)
{
  while (child_count_events (listener, "perf") < n)
    if (child_wait_event (listener, "perf", EVENT_TIMEOUT_S, error) == NULL)
      {
        g_prefix_error (error, "%u of %u served perf runs: ", child_count_events (listener, "perf"), n);
        return FALSE;
      }
  for (guint i = 0; i < n; i++)
    {
      JsonObject *served = child_find_event (listener, "perf", i);

      if (g_strcmp0 (get_str (served, "role"), "server") != 0 ||
          get_num (served, "uploaded") != bytes || get_num (served, "downloaded") != bytes)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "%s: served run %u: role %s, received %.0f, sent %.0f, expected %.0f",
                       listener->name, i, get_str (served, "role"),
                       get_num (served, "uploaded"), get_num (served, "downloaded"), bytes);
          return FALSE;
        }
    }
  return TRUE;
}

static void
test_perf (Fixture       *f,
           gconstpointer  data)
{
  const Pair *pair = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *addr = NULL;
  char bytes[32];
  JsonObject *perf;
  Child *listener;
  Child *dialer;
  int status;

  if (!f->ready)
    return;
  g_snprintf (bytes, sizeof bytes, "%d", PERF_BYTES);

  listener = start_listener (f, pair->listener, &addr, &error);
  CHECK (f, listener != NULL, "listener: %s", error->message);
  dialer = spawn_peer (f, pair->dialer, "perf", "dialer.key", &error,
                       "perf", addr, "--upload", bytes, "--download", bytes, NULL);
  CHECK (f, dialer != NULL, "spawn: %s", error->message);
  status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_COMMAND_OK (f, dialer, status, error);

  perf = child_find_event (dialer, "perf", 0);
  CHECK (f, perf != NULL, "%s: no perf event", dialer->name);
  CHECK (f, get_num (perf, "uploaded") == PERF_BYTES, "%s: uploaded %.0f", dialer->name, get_num (perf, "uploaded"));
  CHECK (f, get_num (perf, "downloaded") == PERF_BYTES, "%s: downloaded %.0f", dialer->name, get_num (perf, "downloaded"));
  CHECK (f, get_num (perf, "seconds") > 0, "%s: seconds %g", dialer->name, get_num (perf, "seconds"));
  g_test_message ("%s -> %s perf, 10 MiB each way: up %.1f MB/s, down %.1f MB/s",
                  dialer->name, listener->name,
                  get_num (perf, "upload_bytes_per_second") / 1e6,
                  get_num (perf, "download_bytes_per_second") / 1e6);

  /* Both servers report each run they served (role "server", counts from
   * the client's point of view): exact counts on that side too. */
  CHECK (f, check_served (listener, 1, PERF_BYTES, &error), "%s", error->message);
  status = child_stop (listener);
  CHECK (f, status == 0, "%s: exit status %d after SIGTERM", listener->name, status);
}

/* Several perf streams at once on one connection (js dialers only): the
 * muxer's per-stream windows and the scheduling of many streams. */
static void
test_perf_parallel (Fixture       *f,
                    gconstpointer  data)
{
  const Pair *pair = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *addr = NULL;
  char bytes[32];
  char streams[16];
  Child *listener;
  Child *dialer;
  int status;

  if (!f->ready)
    return;
  g_assert (pair->dialer == PEER_JS);
  g_snprintf (bytes, sizeof bytes, "%d", PARALLEL_BYTES);
  g_snprintf (streams, sizeof streams, "%d", PARALLEL_STREAMS);

  listener = start_listener (f, pair->listener, &addr, &error);
  CHECK (f, listener != NULL, "listener: %s", error->message);
  dialer = spawn_peer (f, pair->dialer, "perf --parallel", "dialer.key", &error,
                       "perf", addr, "--upload", bytes, "--download", bytes,
                       "--parallel", streams, NULL);
  CHECK (f, dialer != NULL, "spawn: %s", error->message);
  status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_COMMAND_OK (f, dialer, status, error);

  CHECK (f, child_count_events (dialer, "perf") == PARALLEL_STREAMS,
         "%s: %u perf events, expected %d", dialer->name, child_count_events (dialer, "perf"),
         PARALLEL_STREAMS);
  CHECK (f, check_served (listener, PARALLEL_STREAMS, PARALLEL_BYTES, &error), "%s", error->message);
  for (guint i = 0; i < PARALLEL_STREAMS; i++)
    {
      JsonObject *perf = child_find_event (dialer, "perf", i);

      CHECK (f, get_num (perf, "uploaded") == PARALLEL_BYTES,
             "%s: stream %u uploaded %.0f", dialer->name, i, get_num (perf, "uploaded"));
      CHECK (f, get_num (perf, "downloaded") == PARALLEL_BYTES,
             "%s: stream %u downloaded %.0f", dialer->name, i, get_num (perf, "downloaded"));
    }
  status = child_stop (listener);
  CHECK (f, status == 0, "%s: exit status %d after SIGTERM", listener->name, status);
}

/* More than 10 s of pings, one a second: js's ping handler aborts every
 * inbound ping stream 10 s after it opened (AbortSignal.timeout(10000) in
 * @libp2p/ping's handlePing), so a client that keeps one stream for all its
 * pings, as ours does, must open a new one then without losing a ping
 * (fixed in c1fa4da, "ping: retry once on a new stream"). */
static void
test_ping_long (Fixture       *f,
                gconstpointer  data)
{
  const Pair *pair = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *addr = NULL;
  Child *listener;
  Child *dialer;
  guint n_pings, n_errors;
  int status;

  if (!f->ready)
    return;

  listener = start_listener (f, pair->listener, &addr, &error);
  CHECK (f, listener != NULL, "listener: %s", error->message);
  if (pair->dialer == PEER_C)
    dialer = spawn_peer (f, PEER_C, "ping -c 13", "dialer.key", &error,
                         "ping", addr, "-c", "13", "--interval", "1000", NULL);
  else
    dialer = spawn_peer (f, PEER_JS, "dial --ping 13", "dialer.key", &error,
                         "dial", addr, "--ping", "13", "--interval", "1000", NULL);
  CHECK (f, dialer != NULL, "spawn: %s", error->message);
  status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_COMMAND_OK (f, dialer, status, error);
  n_pings = child_count_events (dialer, "ping");
  n_errors = child_count_events (dialer, "error");
  CHECK (f, n_pings == 13 && n_errors == 0, "%s: %u pings, %u errors", dialer->name,
         n_pings, n_errors);
  status = child_stop (listener);
  CHECK (f, status == 0, "%s: exit status %d after SIGTERM", listener->name, status);
}

static gboolean
ipv6_loopback_usable (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);

  return socket != NULL && g_socket_bind (socket, address, FALSE, NULL);
}

/* Over [::1]: IPv6 multiaddrs in listen, identify and observed addresses. */
static void
test_ipv6 (Fixture       *f,
           gconstpointer  data)
{
  const Pair *pair = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *addr = NULL;
  g_autofree char *bare = NULL;
  JsonObject *ident;
  Child *listener;
  Child *dialer;
  int status;

  if (!f->ready)
    return;
  if (!ipv6_loopback_usable ())
    {
      g_test_skip ("no IPv6 loopback here");
      return;
    }

  listener = start_listener_full (f, pair->listener, "/ip6/::1/tcp/0", NULL, &addr, &error);
  CHECK (f, listener != NULL, "listener: %s", error->message);
  dialer = spawn_peer (f, pair->dialer, "identify", "dialer.key", &error, "identify", addr, NULL);
  CHECK (f, dialer != NULL, "spawn: %s", error->message);
  status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_COMMAND_OK (f, dialer, status, error);
  ident = child_find_event (dialer, "identify", 0);
  bare = g_strndup (addr, strstr (addr, "/p2p/") - addr);
  CHECK (f, array_has_string (ident, "listen_addrs", bare), "%s: listen_addrs lack %s",
         dialer->name, bare);
  CHECK (f, g_str_has_prefix (get_str (ident, "observed_addr") ?: "", "/ip6/::1/tcp/"),
         "%s: observed_addr %s", dialer->name, get_str (ident, "observed_addr"));
  status = child_stop (listener);
  CHECK (f, status == 0, "%s: exit status %d after SIGTERM", listener->name, status);
}

/* js peers with secp256k1 and RSA identities (ours are Ed25519): the Noise
 * payload's key and signature, and the peer IDs (16Uiu2…, Qm…). */
static void
test_key_types (Fixture       *f,
                gconstpointer  data)
{
  const Pair *pair = data;
  const char *types[] = { "secp256k1", "rsa" };

  if (!f->ready)
    return;

  for (guint t = 0; t < G_N_ELEMENTS (types); t++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *addr = NULL;
      g_autofree char *key_file = g_strdup_printf ("dialer-%s.key", types[t]);
      const char *js_key = pair->listener == PEER_JS ? types[t] : NULL;
      Child *listener;
      Child *dialer;
      JsonObject *conn;
      int status;

      listener = start_listener_with_key (f, pair->listener, js_key, &addr, &error);
      CHECK (f, listener != NULL, "listener (%s): %s", types[t], error->message);
      if (pair->dialer == PEER_JS)
        dialer = spawn_peer (f, PEER_JS, "dial --ping", key_file, &error,
                             "dial", addr, "--ping", "2", "--key-type", types[t], NULL);
      else
        dialer = spawn_peer (f, PEER_C, "dial --ping", key_file, &error,
                             "dial", addr, "--ping", "2", NULL);
      CHECK (f, dialer != NULL, "spawn: %s", error->message);
      status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
      CHECK_COMMAND_OK (f, dialer, status, error);
      CHECK (f, child_count_events (dialer, "ping") == 2, "%s (%s): %u pings", dialer->name,
             types[t], child_count_events (dialer, "ping"));
      conn = child_find_event (dialer, "connection", 0);
      CHECK (f, g_strcmp0 (get_str (conn, "peer_id"), strstr (addr, "/p2p/") + 5) == 0,
             "%s (%s): connected to %s", dialer->name, types[t], get_str (conn, "peer_id"));
      status = child_stop (listener);
      CHECK (f, status == 0, "%s: exit status %d after SIGTERM", listener->name, status);
    }
}

static void
add_cases (const char *prefix,
           const Pair *pair)
{
  struct { const char *name; void (*fn) (Fixture *, gconstpointer); } cases[] = {
    { "dial-ping", test_ping },
    { "ping", test_ping_command },
    { "identify", test_identify },
    { "perf", test_perf },
    { "key-types", test_key_types },
    { "ping-long", test_ping_long },
    { "ipv6", test_ipv6 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = NULL;

      /* peer.mjs keeps one ping stream too, which js's own server aborts
       * after 10 s: the case is about our client and our server. */
      if (cases[i].fn == test_ping_long && pair->dialer == PEER_JS && pair->listener == PEER_JS)
        continue;
      path = g_strdup_printf ("/interop/%s/%s", prefix, cases[i].name);

      g_test_add (path, Fixture, pair, fixture_setup, cases[i].fn, fixture_teardown);
    }
  if (pair->dialer == PEER_JS)
    {
      g_autofree char *path = g_strdup_printf ("/interop/%s/perf-parallel", prefix);

      g_test_add (path, Fixture, pair, fixture_setup, test_perf_parallel, fixture_teardown);
    }
}

int
main (int argc, char **argv)
{
  struct sigaction sa = { 0 };

  g_test_init (&argc, &argv, NULL);

  sa.sa_handler = on_fatal_signal;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGABRT, &sa, NULL);
  sigaction (SIGSEGV, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  /* A child that dies while we write to it must not kill us. */
  signal (SIGPIPE, SIG_IGN);

  add_cases ("js-js", &js_dials_js);
  add_cases ("js-dials-c", &js_dials_c);
  add_cases ("c-dials-js", &c_dials_js);

  return g_test_run ();
}
