/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libp2p TLS (/tls/1.0.0) against unmodified js-libp2p 3 with @libp2p/tls,
 * over loopback TCP:
 * - a js node offering TLS only dials our listener (ping ×5, identify,
 *   perf 10 MiB each way), and we dial a js listener that speaks TLS only;
 * - both protocols offered, in each order, by each side: the initiator's
 *   first choice must win, and both sides must report it;
 * - relayed: our listener reserved on a js relay, reached by a js dialer
 *   that speaks TLS only, and our dialer reaching a TLS-only js listener
 *   through a js relay (the relayed stream upgraded like a socket).
 * punchline-cli --json and tests/interop/peer.mjs print the same JSON-lines
 * events (docs/cli-events.md). Children are killed by PID in the teardown,
 * and by the kernel if this program dies.
 *
 * PUNCH_CLI is the CLI to test, PUNCH_INTEROP_DIR the folder holding peer.mjs
 * and node_modules (from `npm ci`).
 */
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
#define PERF_BYTES        "10485760"
#define PERF_BYTES_N      10485760
#define PING_COUNT        5

#define TLS   "/tls/1.0.0"
#define NOISE "/noise"

typedef enum
{
  PEER_C,
  PEER_JS,
  PEER_JS_RELAY,     /* relay-peer.mjs: js with circuit relay v2 */
} PeerKind;

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
  char      *peer_script;
  char      *relay_script;
  GPtrArray *children;           /* (element-type Child) */
  gboolean   ready;
  gboolean   cli_has_security;   /* punchline-cli --security exists */
} Fixture;

/* --- children ------------------------------------------------------------ */

static void
child_setup (gpointer user_data)
{
  /* The kernel ends the child if this program dies without its teardown. */
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
      g_autofree char *err = NULL;

      g_test_message ("--- %s (pid %d), %u events:", c->name, (int) c->pid, c->events->len);
      for (guint j = 0; j < c->events->len; j++)
        {
          g_autofree char *line = json_to_string (g_ptr_array_index (c->events, j), FALSE);
          g_test_message ("  %s", line);
        }
      if (g_file_get_contents (c->stderr_path, &err, NULL, NULL) && err[0] != '\0')
        {
          gsize len = strlen (err);
          g_test_message ("--- %s stderr:\n%s", c->name, len > 4000 ? err + len - 4000 : err);
        }
    }
}

/* Marks the test failed with the context of every child; the caller returns. */
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

/* @security: for js, its --security list; for C, its --security list or
 * NULL for the default. */
static Child *
spawn_peer (Fixture    *f,
            PeerKind    kind,
            const char *name,
            const char *identity,
            const char *security,
            GError    **error,
            ...)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *cmdline = NULL;
  Child *c;
  const char *arg;
  va_list ap;

  if (kind == PEER_C)
    {
      g_ptr_array_add (argv, g_strdup (f->cli));
    }
  else
    {
      g_ptr_array_add (argv, g_strdup (f->node));
      g_ptr_array_add (argv, g_strdup (kind == PEER_JS ? f->peer_script : f->relay_script));
    }
  g_ptr_array_add (argv, g_strdup ("--identity"));
  g_ptr_array_add (argv, g_build_filename (f->tmpdir, identity, NULL));
  g_ptr_array_add (argv, g_strdup ("--json"));
  if (security != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("--security"));
      g_ptr_array_add (argv, g_strdup (security));
    }
  va_start (ap, error);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  c = g_new0 (Child, 1);
  c->name = g_strdup_printf ("%s %s", kind == PEER_C ? "C" : "js", name);
  c->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  c->stderr_path = g_strdup_printf ("%s/%u.stderr", f->tmpdir, f->children->len);
  cmdline = g_strjoinv (" ", (char **) argv->pdata);
  g_test_message ("spawn %s: %s", c->name, cmdline);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_stderr_file_path (launcher, c->stderr_path);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  c->proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, error);
  if (c->proc == NULL)
    {
      child_free (c);
      return NULL;
    }
  if (g_subprocess_get_identifier (c->proc) != NULL)
    c->pid = (pid_t) g_ascii_strtoll (g_subprocess_get_identifier (c->proc), NULL, 10);
  c->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (c->proc));
  g_ptr_array_add (f->children, c);
  return c;
}

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

  w->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &w->error);
  w->done = TRUE;
}

static gboolean
on_timeout_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* The next event of @c, or NULL: with @error set on timeout or bad output,
 * without at the end of its output. (transfer none) */
static JsonObject *
child_next_event (Child   *c,
                  gint64   deadline,
                  GError **error)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  gint64 remaining_ms = (deadline - g_get_monotonic_time ()) / 1000;
  LineWait w = { 0 };
  guint timeout_id;
  JsonNode *root;

  if (c->eof)
    return NULL;
  g_data_input_stream_read_line_async (c->out, G_PRIORITY_DEFAULT, cancellable, on_line, &w);
  timeout_id = g_timeout_add ((guint) MAX (remaining_ms, 1), on_timeout_flag, &w.timed_out);
  while (!w.done && !w.timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!w.done)
    {
      g_cancellable_cancel (cancellable);
      while (!w.done)
        g_main_context_iteration (NULL, TRUE);
      g_clear_error (&w.error);
      g_free (w.line);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: no output before the deadline", c->name);
      return NULL;
    }
  if (!w.timed_out)
    g_source_remove (timeout_id);
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
  if (!json_parser_load_from_data (parser, w.line, -1, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
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
get_str (JsonObject *o,
         const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

static gint64
get_int (JsonObject *o,
         const char *member)
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
get_bool (JsonObject *o,
          const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  return n != NULL && JSON_NODE_HOLDS_VALUE (n) &&
         json_node_get_value_type (n) == G_TYPE_BOOLEAN && json_node_get_boolean (n);
}

static JsonObject *
child_find_event (Child      *c,
                  const char *name,
                  guint       nth)
{
  for (guint i = 0; i < c->events->len; i++)
    {
      JsonObject *o = json_node_get_object (g_ptr_array_index (c->events, i));

      if (g_strcmp0 (get_str (o, "event"), name) == 0 && nth-- == 0)
        return o;
    }
  return NULL;
}

static guint
child_count_events (Child      *c,
                    const char *name)
{
  guint n = 0;

  while (child_find_event (c, name, n) != NULL)
    n++;
  return n;
}

/* The first already-read or future event called @name whose @member is
 * @value (any when @member is NULL). (transfer none) */
static JsonObject *
child_wait_event (Child      *c,
                  const char *name,
                  const char *member,
                  const char *value,
                  GError    **error)
{
  gint64 deadline = g_get_monotonic_time () + EVENT_TIMEOUT_S * G_USEC_PER_SEC;
  JsonObject *o;

  for (guint i = 0; (o = child_find_event (c, name, i)) != NULL; i++)
    if (member == NULL || g_strcmp0 (get_str (o, member), value) == 0)
      return o;
  while ((o = child_next_event (c, deadline, error)) != NULL)
    if (g_strcmp0 (get_str (o, "event"), name) == 0 &&
        (member == NULL || g_strcmp0 (get_str (o, member), value) == 0))
      return o;
  if (error != NULL && *error == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s: output ended before a \"%s\" event", c->name, name);
  return NULL;
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

/* The exit status, 128+signal, or -1 on timeout. */
static int
child_wait_exit (Child *c,
                 int    timeout_s)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  ExitWait w = { 0 };
  guint timeout_id;

  g_subprocess_wait_async (c->proc, cancellable, on_child_exit, &w);
  timeout_id = g_timeout_add_seconds ((guint) timeout_s, on_timeout_flag, &w.timed_out);
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
  if (g_subprocess_get_if_exited (c->proc))
    return g_subprocess_get_exit_status (c->proc);
  return 128 + g_subprocess_get_term_sig (c->proc);
}

/* Reads all of @c's output, then waits for it to exit. */
static int
child_run (Child   *c,
           GError **error)
{
  gint64 deadline = g_get_monotonic_time () + COMMAND_TIMEOUT_S * G_USEC_PER_SEC;

  while (child_next_event (c, deadline, error) != NULL)
    ;
  if (error != NULL && *error != NULL)
    return -1;
  return child_wait_exit (c, MAX (1, (int) ((deadline - g_get_monotonic_time ()) / G_USEC_PER_SEC)));
}

static int
child_stop (Child *c)
{
  gint64 deadline = g_get_monotonic_time () + STOP_TIMEOUT_S * G_USEC_PER_SEC;

  if (!c->exited)
    g_subprocess_send_signal (c->proc, SIGTERM);
  while (child_next_event (c, deadline, NULL) != NULL)
    ;
  return child_wait_exit (c, STOP_TIMEOUT_S);
}

/* --- fixture -------------------------------------------------------------- */

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *help = NULL;
  g_autofree char *tls_module = NULL;
  const char *dir = g_getenv ("PUNCH_INTEROP_DIR");
  const char *cli = g_getenv ("PUNCH_CLI");

  f->children = g_ptr_array_new_with_free_func ((GDestroyNotify) child_free);
  f->tmpdir = g_dir_make_tmp ("punch-tls-interop-XXXXXX", &error);
  g_assert_no_error (error);
  if (dir == NULL || cli == NULL)
    {
      g_test_fail_printf ("PUNCH_INTEROP_DIR and PUNCH_CLI must be set (run it with meson test)");
      return;
    }
  f->cli = g_strdup (cli);
  f->peer_script = g_build_filename (dir, "peer.mjs", NULL);
  f->relay_script = g_build_filename (dir, "relay-peer.mjs", NULL);
  f->node = g_build_filename (dir, "node_modules", ".bin", "node", NULL);
  tls_module = g_build_filename (dir, "node_modules", "@libp2p", "tls", "package.json", NULL);
  if (!g_file_test (f->node, G_FILE_TEST_IS_EXECUTABLE) || !g_file_test (tls_module, G_FILE_TEST_EXISTS))
    {
      g_test_fail_printf ("the js-libp2p test peers are not installed (%s or %s is missing). "
                          "Run `npm ci` in %s.", f->node, tls_module, dir);
      return;
    }
  if (!g_file_test (f->cli, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_fail_printf ("%s is not an executable", f->cli);
      return;
    }
  /* The CLI's --security option decides whether our dialer can put TLS
   * first; without it we dial with the default order (Noise, then TLS). */
  {
    const char *argv[] = { f->cli, "--help", NULL };

    if (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                      &help, NULL, NULL, NULL))
      f->cli_has_security = strstr (help, "--security") != NULL;
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
  g_free (f->relay_script);
}

/* A listener on 127.0.0.1 port 0 serving perf; its address in @addr. */
static Child *
start_listener (Fixture    *f,
                PeerKind    kind,
                const char *security,
                char      **addr,
                GError    **error)
{
  Child *c = spawn_peer (f, kind, "listen", "listener.key", security, error,
                         "listen", "--listen", "/ip4/127.0.0.1/tcp/0", "--perf", NULL);
  JsonObject *o;
  JsonArray *addrs;

  if (c == NULL)
    return NULL;
  o = child_wait_event (c, "listening", NULL, NULL, error);
  if (o == NULL)
    return NULL;
  addrs = json_object_get_array_member (o, "addrs");
  for (guint i = 0; addrs != NULL && i < json_array_get_length (addrs); i++)
    {
      const char *a = json_array_get_string_element (addrs, i);

      if (a != NULL && g_str_has_prefix (a, "/ip4/127.0.0.1/tcp/") && strstr (a, "/p2p/") != NULL)
        {
          *addr = g_strdup (a);
          return c;
        }
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: no loopback address", c->name);
  return NULL;
}

/* Exit 0 and a final {"event":"result","ok":true}. */
#define CHECK_COMMAND_OK(f, c, status, error) \
  G_STMT_START { \
    JsonObject *result_ = child_find_event ((c), "result", 0); \
    CHECK ((f), (error) == NULL, "%s: %s", (c)->name, (error) != NULL ? (error)->message : ""); \
    CHECK ((f), result_ != NULL, "%s printed no result event", (c)->name); \
    CHECK ((f), get_bool (result_, "ok"), "%s failed: %s", (c)->name, \
           get_str (result_, "error") != NULL ? get_str (result_, "error") : "(no error text)"); \
    CHECK ((f), (status) == 0, "%s exited with status %d", (c)->name, (status)); \
  } G_STMT_END

/* --- the cases -------------------------------------------------------------- */

typedef struct
{
  PeerKind    listener;
  const char *listener_security;   /* NULL: the default */
  const char *dialer_security;
  const char *expected;            /* the protocol both must report */
  gboolean    full;                /* identify and perf too */
  const char *js_key_type;         /* the js dialer's host key: NULL for Ed25519 */
} Case;

/* js with @libp2p/tls only dials our listener (which offers both). */
static const Case js_tls_dials_c = { PEER_C, NULL, "tls", TLS, TRUE };
/* We dial a js listener that speaks TLS only: multistream falls back from
 * /noise to /tls/1.0.0. */
static const Case c_dials_js_tls = { PEER_JS, "tls", NULL, TLS, TRUE };
/* Both offered: the dialer's first choice wins. */
static const Case js_tls_noise_dials_c = { PEER_C, NULL, "tls,noise", TLS, FALSE };
static const Case js_noise_tls_dials_c = { PEER_C, NULL, "noise,tls", NOISE, FALSE };
static const Case c_noise_tls_dials_js = { PEER_JS, "tls,noise", "noise,tls", NOISE, FALSE };
static const Case c_tls_noise_dials_js = { PEER_JS, "noise,tls", "tls,noise", TLS, FALSE };
/* Ours is the listener that only speaks TLS. */
static const Case js_both_dials_c_tls = { PEER_C, "tls", "noise,tls", TLS, FALSE };
/* Our verifier on js certificates for other host key types. (js-libp2p
 * 3.3.11 cannot run TLS with an ECDSA host key at all, js to js included:
 * "UnsupportedKeyTypeError"; ECDSA is covered by the spec's certificate.) */
static const Case js_secp256k1_dials_c = { PEER_C, NULL, "tls", TLS, FALSE, "secp256k1" };
static const Case js_rsa_dials_c = { PEER_C, NULL, "tls", TLS, FALSE, "rsa" };

static void
check_connection (Fixture    *f,
                  Child      *c,
                  const char *direction,
                  const char *expected)
{
  g_autoptr(GError) error = NULL;
  JsonObject *conn = child_wait_event (c, "connection", "state", "open", &error);

  CHECK (f, conn != NULL, "%s: %s", c->name, error != NULL ? error->message : "");
  CHECK (f, g_strcmp0 (get_str (conn, "direction"), direction) == 0,
         "%s: direction %s", c->name, get_str (conn, "direction"));
  CHECK (f, g_strcmp0 (get_str (conn, "security"), expected) == 0,
         "%s: security %s, expected %s", c->name, get_str (conn, "security"), expected);
  CHECK (f, g_strcmp0 (get_str (conn, "muxer"), "/yamux/1.0.0") == 0,
         "%s: muxer %s", c->name, get_str (conn, "muxer"));
  /* Our events name the cipher too: the TLS 1.3 suite, or Noise's. */
  if (g_str_has_prefix (c->name, "C "))
    CHECK (f, g_str_has_prefix (get_str (conn, "cipher") ?: "", g_str_equal (expected, TLS) ? "TLS_" : "ChaChaPoly"),
           "%s: cipher %s", c->name, get_str (conn, "cipher"));
  g_test_message ("%s: %s connection secured by %s (%s)", c->name, direction, expected,
                  get_str (conn, "cipher") ?: "cipher not reported");
}

static void
test_case (Fixture       *f,
           gconstpointer  data)
{
  const Case *tc = data;
  PeerKind dialer_kind = tc->listener == PEER_C ? PEER_JS : PEER_C;
  const char *dialer_security = tc->dialer_security;
  g_autoptr(GError) error = NULL;
  g_autofree char *addr = NULL;
  char count[16];
  Child *listener;
  Child *dialer;
  int status;

  if (!f->ready)
    return;
  if (dialer_kind == PEER_C && dialer_security != NULL && !f->cli_has_security)
    {
      if (!g_str_has_prefix (dialer_security, "noise"))
        {
          g_test_skip ("punchline-cli has no --security option to put TLS first");
          return;
        }
      /* Noise then TLS is the default order. */
      dialer_security = NULL;
    }
  if (tc->listener == PEER_C && tc->listener_security != NULL && !f->cli_has_security)
    {
      g_test_skip ("punchline-cli has no --security option to listen with TLS only");
      return;
    }
  g_snprintf (count, sizeof count, "%d", PING_COUNT);

  listener = start_listener (f, tc->listener, tc->listener_security, &addr, &error);
  CHECK (f, listener != NULL, "listener: %s", error->message);

  if (tc->js_key_type != NULL)
    dialer = spawn_peer (f, dialer_kind, "dial --ping", "dialer.key", dialer_security, &error,
                         "--key-type", tc->js_key_type, "dial", addr, "--ping", count, NULL);
  else
    dialer = spawn_peer (f, dialer_kind, "dial --ping", "dialer.key", dialer_security, &error,
                         "dial", addr, "--ping", count, NULL);
  CHECK (f, dialer != NULL, "spawn: %s", error->message);
  status = child_run (dialer, &error);
  CHECK_COMMAND_OK (f, dialer, status, error);
  CHECK (f, child_count_events (dialer, "ping") == PING_COUNT,
         "%s: %u pings, expected %d", dialer->name, child_count_events (dialer, "ping"), PING_COUNT);
  check_connection (f, dialer, "outbound", tc->expected);
  if (g_test_failed ())
    return;
  check_connection (f, listener, "inbound", tc->expected);
  if (g_test_failed ())
    return;

  if (tc->full)
    {
      JsonObject *ident;
      JsonObject *perf;

      dialer = spawn_peer (f, dialer_kind, "identify", "dialer.key", dialer_security, &error,
                           "identify", addr, NULL);
      CHECK (f, dialer != NULL, "spawn: %s", error->message);
      status = child_run (dialer, &error);
      CHECK_COMMAND_OK (f, dialer, status, error);
      ident = child_find_event (dialer, "identify", 0);
      CHECK (f, ident != NULL, "%s: no identify event", dialer->name);
      CHECK (f, g_str_has_prefix (get_str (ident, "agent_version") ?: "",
                                  tc->listener == PEER_C ? "punchline/" : "js-libp2p/"),
             "%s: agent %s", dialer->name, get_str (ident, "agent_version"));
      CHECK (f, g_strcmp0 (get_str (ident, "peer_id"), strstr (addr, "/p2p/") + 5) == 0,
             "%s: identified %s", dialer->name, get_str (ident, "peer_id"));
      check_connection (f, dialer, "outbound", tc->expected);
      if (g_test_failed ())
        return;

      dialer = spawn_peer (f, dialer_kind, "perf", "dialer.key", dialer_security, &error,
                           "perf", addr, "--upload", PERF_BYTES, "--download", PERF_BYTES, NULL);
      CHECK (f, dialer != NULL, "spawn: %s", error->message);
      status = child_run (dialer, &error);
      CHECK_COMMAND_OK (f, dialer, status, error);
      perf = child_find_event (dialer, "perf", 0);
      CHECK (f, perf != NULL, "%s: no perf event", dialer->name);
      CHECK (f, get_int (perf, "uploaded") == PERF_BYTES_N && get_int (perf, "downloaded") == PERF_BYTES_N,
             "%s: uploaded %" G_GINT64_FORMAT ", downloaded %" G_GINT64_FORMAT, dialer->name,
             get_int (perf, "uploaded"), get_int (perf, "downloaded"));
      check_connection (f, dialer, "outbound", tc->expected);
      if (g_test_failed ())
        return;
      g_test_message ("perf over %s: 10 MiB up in %.3f s, down in %.3f s", tc->expected,
                      json_object_get_double_member_with_default (perf, "upload_seconds", -1),
                      json_object_get_double_member_with_default (perf, "download_seconds", -1));
    }

  status = child_stop (listener);
  CHECK (f, status == 0, "%s: exit status %d after SIGTERM", listener->name, status);
}

/* --- relayed ----------------------------------------------------------------- */

/* The first event called @name with a string member @member; its value. */
static char *
wait_string (Fixture    *f,
             Child      *c,
             const char *name,
             const char *member,
             GError    **error)
{
  JsonObject *o = child_wait_event (c, name, NULL, NULL, error);

  if (o == NULL)
    return NULL;
  if (get_str (o, member) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s event without %s", c->name, name, member);
      return NULL;
    }
  return g_strdup (get_str (o, member));
}

/* A js relay (both protocols) on 127.0.0.1; its address with /p2p. */
static Child *
start_js_relay (Fixture *f,
                char   **addr,
                GError **error)
{
  Child *c = spawn_peer (f, PEER_JS_RELAY, "relay", "relay.key", "noise,tls", error,
                         "relay", "--listen", "/ip4/127.0.0.1/tcp/0", NULL);
  JsonObject *o;
  JsonArray *addrs;

  if (c == NULL || (o = child_wait_event (c, "listening", NULL, NULL, error)) == NULL)
    return NULL;
  addrs = json_object_get_array_member (o, "addrs");
  for (guint i = 0; addrs != NULL && i < json_array_get_length (addrs); i++)
    {
      const char *a = json_array_get_string_element (addrs, i);

      if (a != NULL && g_str_has_prefix (a, "/ip4/127.0.0.1/tcp/") && strstr (a, "/p2p/") != NULL)
        {
          *addr = g_strdup (a);
          return c;
        }
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: no loopback address", c->name);
  return NULL;
}

/* The relayed connection event (open) of @c. */
static void
check_relayed (Fixture    *f,
               Child      *c,
               const char *expected)
{
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + EVENT_TIMEOUT_S * G_USEC_PER_SEC;
  JsonObject *conn = NULL;

  for (guint i = 0; conn == NULL && i < c->events->len; i++)
    {
      JsonObject *o = json_node_get_object (g_ptr_array_index (c->events, i));

      if (g_strcmp0 (get_str (o, "event"), "connection") == 0 && g_strcmp0 (get_str (o, "state"), "open") == 0 &&
          get_bool (o, "relayed"))
        conn = o;
    }
  while (conn == NULL)
    {
      JsonObject *o = child_next_event (c, deadline, &error);

      CHECK (f, o != NULL, "%s: no relayed connection: %s", c->name, error != NULL ? error->message : "output ended");
      if (g_strcmp0 (get_str (o, "event"), "connection") == 0 && g_strcmp0 (get_str (o, "state"), "open") == 0 &&
          get_bool (o, "relayed"))
        conn = o;
    }
  CHECK (f, g_strcmp0 (get_str (conn, "security"), expected) == 0,
         "%s: relayed connection secured by %s, expected %s", c->name, get_str (conn, "security"), expected);
  CHECK (f, g_strcmp0 (get_str (conn, "muxer"), "/yamux/1.0.0") == 0,
         "%s: relayed muxer %s", c->name, get_str (conn, "muxer"));
  g_test_message ("%s: relayed %s connection secured by %s", c->name, get_str (conn, "direction"), expected);
}

/* Our listener, reserved on a js relay, reached by a js dialer that speaks
 * TLS only (to the relay as well). */
static void
test_relayed_js_dials_c (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *relay_addr = NULL;
  g_autofree char *addr = NULL;
  Child *listener;
  Child *dialer;
  int status;

  if (!f->ready)
    return;
  CHECK (f, start_js_relay (f, &relay_addr, &error) != NULL, "relay: %s", error->message);
  listener = spawn_peer (f, PEER_C, "listen --relay", "listener.key", NULL, &error,
                         "listen", "--listen", "/ip4/127.0.0.1/tcp/0", "--relay", relay_addr, NULL);
  CHECK (f, listener != NULL, "spawn: %s", error->message);
  addr = wait_string (f, listener, "reserved", "addr", &error);
  CHECK (f, addr != NULL && strstr (addr, "/p2p-circuit/p2p/") != NULL, "reservation: %s",
         error != NULL ? error->message : addr);

  dialer = spawn_peer (f, PEER_JS_RELAY, "dial (relayed)", "dialer.key", "tls", &error,
                       "dial", addr, "--ping", "3", NULL);
  CHECK (f, dialer != NULL, "spawn: %s", error->message);
  status = child_run (dialer, &error);
  CHECK_COMMAND_OK (f, dialer, status, error);
  CHECK (f, child_count_events (dialer, "ping") == 3, "%s: %u pings", dialer->name, child_count_events (dialer, "ping"));
  check_relayed (f, dialer, TLS);
  if (g_test_failed ())
    return;
  check_relayed (f, listener, TLS);
}

/* Our dialer reaches a js listener that speaks TLS only through a js relay:
 * we offer Noise first on the relayed stream and fall back to TLS. */
static void
test_relayed_c_dials_js (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *relay_addr = NULL;
  g_autofree char *addr = NULL;
  Child *listener;
  Child *dialer;
  int status;

  if (!f->ready)
    return;
  CHECK (f, start_js_relay (f, &relay_addr, &error) != NULL, "relay: %s", error->message);
  listener = spawn_peer (f, PEER_JS_RELAY, "listen --relay", "listener.key", "tls", &error,
                         "listen", "--relay", relay_addr, NULL);
  CHECK (f, listener != NULL, "spawn: %s", error->message);
  addr = wait_string (f, listener, "reserved", "addr", &error);
  CHECK (f, addr != NULL && strstr (addr, "/p2p-circuit/p2p/") != NULL, "reservation: %s",
         error != NULL ? error->message : addr);

  dialer = spawn_peer (f, PEER_C, "dial (relayed)", "dialer.key", NULL, &error,
                       "dial", addr, "--ping", "3", NULL);
  CHECK (f, dialer != NULL, "spawn: %s", error->message);
  status = child_run (dialer, &error);
  CHECK_COMMAND_OK (f, dialer, status, error);
  CHECK (f, child_count_events (dialer, "ping") == 3, "%s: %u pings", dialer->name, child_count_events (dialer, "ping"));
  check_relayed (f, dialer, TLS);
  if (g_test_failed ())
    return;
  check_relayed (f, listener, TLS);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, tc) \
  g_test_add ("/interop/tls/" path, Fixture, &(tc), fixture_setup, test_case, fixture_teardown)
  ADD ("js-dials-c/tls-only", js_tls_dials_c);
  ADD ("c-dials-js/tls-only", c_dials_js_tls);
  ADD ("js-dials-c/tls-then-noise", js_tls_noise_dials_c);
  ADD ("js-dials-c/noise-then-tls", js_noise_tls_dials_c);
  ADD ("c-dials-js/noise-then-tls", c_noise_tls_dials_js);
  ADD ("c-dials-js/tls-then-noise", c_tls_noise_dials_js);
  ADD ("js-dials-c/c-listens-tls-only", js_both_dials_c_tls);
  ADD ("js-dials-c/secp256k1-host-key", js_secp256k1_dials_c);
  ADD ("js-dials-c/rsa-host-key", js_rsa_dials_c);
#undef ADD
  g_test_add ("/interop/tls/relayed/js-dials-c", Fixture, NULL, fixture_setup, test_relayed_js_dials_c, fixture_teardown);
  g_test_add ("/interop/tls/relayed/c-dials-js", Fixture, NULL, fixture_setup, test_relayed_c_dials_js, fixture_teardown);

  return g_test_run ();
}
