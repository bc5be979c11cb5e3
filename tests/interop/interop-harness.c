/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "interop-harness.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <glib/gstdio.h>

/* Every child still running, so that a crash of the test program can kill
 * them too; written from the main thread only, read by the signal handler. */
#define MAX_CHILDREN 32
static volatile pid_t live_pids[MAX_CHILDREN];

#define STOP_TIMEOUT_S 10

static void
track_pid (pid_t    pid,
           gboolean add)
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

void
harness_install_signal_handlers (void)
{
  struct sigaction sa = { 0 };

  sa.sa_handler = on_fatal_signal;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGABRT, &sa, NULL);
  sigaction (SIGSEGV, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  /* A child that dies while we write to it must not kill us. */
  signal (SIGPIPE, SIG_IGN);
}

static void
child_setup (gpointer user_data)
{
  /* If the test program dies without its teardown, the kernel ends the
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
        track_pid (c->pid, FALSE);
    }
  g_clear_object (&c->out);
  g_clear_object (&c->proc);
  g_clear_pointer (&c->events, g_ptr_array_unref);
  g_free (c->stderr_path);
  g_free (c->name);
  g_free (c);
}

void
harness_setup (Harness    *h,
               const char *tmp_template,
               ...)
{
  g_autoptr (GError) error = NULL;
  const char *dir = g_getenv ("PUNCH_INTEROP_DIR");
  const char *cli = g_getenv ("PUNCH_CLI");
  const char *file;
  va_list ap;

  memset (h, 0, sizeof *h);
  h->children = g_ptr_array_new_with_free_func ((GDestroyNotify) child_free);
  h->tmpdir = g_dir_make_tmp (tmp_template, &error);
  g_assert_no_error (error);
  if (dir == NULL || cli == NULL)
    {
      g_test_fail_printf ("PUNCH_INTEROP_DIR and PUNCH_CLI must be set (run it with meson test)");
      return;
    }
  h->dir = g_strdup (dir);
  h->cli = g_strdup (cli);
  h->node = g_build_filename (dir, "node_modules", ".bin", "node", NULL);
  if (!g_file_test (h->cli, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_fail_printf ("%s is not an executable", h->cli);
      return;
    }
  if (!g_file_test (h->node, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_fail_printf ("the js-libp2p test peers are not installed: %s is missing. "
                          "Run `npm ci` in %s (or .ci/deps, which does it).", h->node, dir);
      return;
    }
  va_start (ap, tmp_template);
  while ((file = va_arg (ap, const char *)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, file, NULL);

      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        {
          g_test_fail_printf ("%s is missing. Run `npm ci` in %s.", path, dir);
          va_end (ap);
          return;
        }
    }
  va_end (ap);
  h->ready = TRUE;
}

void
harness_teardown (Harness *h)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  /* Kills, by PID, every child still running. */
  g_clear_pointer (&h->children, g_ptr_array_unref);
  dir = h->tmpdir != NULL ? g_dir_open (h->tmpdir, 0, NULL) : NULL;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (h->tmpdir, name, NULL);

      g_unlink (path);
    }
  if (h->tmpdir != NULL)
    g_rmdir (h->tmpdir);
  g_clear_pointer (&h->tmpdir, g_free);
  g_clear_pointer (&h->cli, g_free);
  g_clear_pointer (&h->node, g_free);
  g_clear_pointer (&h->dir, g_free);
}

void
harness_dump (Harness *h)
{
  for (guint i = 0; i < h->children->len; i++)
    {
      Child *c = g_ptr_array_index (h->children, i);
      g_autoptr (GString) s = g_string_new (NULL);
      g_autofree char *err = NULL;

      g_string_append_printf (s, "--- %s (pid %d), %u events on stdout:\n", c->name, (int) c->pid,
                              c->events->len);
      for (guint j = 0; j < c->events->len; j++)
        {
          g_autofree char *line = json_to_string (g_ptr_array_index (c->events, j), FALSE);

          g_string_append_printf (s, "  %s\n", line);
        }
      if (g_file_get_contents (c->stderr_path, &err, NULL, NULL) && err[0] != '\0')
        {
          gsize len = strlen (err);

          /* Keep the end: that is where the error is. */
          g_string_append_printf (s, "--- %s stderr%s:\n%s\n", c->name, len > 6000 ? " (last 6000 bytes)" : "",
                                  len > 6000 ? err + len - 6000 : err);
        }
      g_test_message ("%s", s->str);
    }
}

Child *
harness_spawnv (Harness            *h,
                const char         *script,
                const char         *name,
                const char         *identity,
                const char * const *extra,
                va_list             args,
                GError            **error)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *cmdline = NULL;
  Child *c;
  const char *arg;

  if (script == NULL)
    g_ptr_array_add (argv, g_strdup (h->cli));
  else
    {
      g_ptr_array_add (argv, g_strdup (h->node));
      g_ptr_array_add (argv, g_build_filename (h->dir, script, NULL));
    }
  g_ptr_array_add (argv, g_strdup ("--identity"));
  g_ptr_array_add (argv, g_build_filename (h->tmpdir, identity, NULL));
  g_ptr_array_add (argv, g_strdup ("--json"));
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (extra[i]));
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  g_ptr_array_add (argv, NULL);

  c = g_new0 (Child, 1);
  c->name = g_strdup_printf ("%s %s", script == NULL ? "C" : "js", name);
  c->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  c->stderr_path = g_strdup_printf ("%s/child-%u.stderr", h->tmpdir, h->children->len);
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
  /* No identifier when it has already exited (and been reaped). */
  if (g_subprocess_get_identifier (c->proc) != NULL)
    {
      c->pid = (pid_t) g_ascii_strtoll (g_subprocess_get_identifier (c->proc), NULL, 10);
      track_pid (c->pid, TRUE);
    }
  c->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (c->proc));
  g_ptr_array_add (h->children, c);
  return c;
}

Child *
harness_spawn (Harness            *h,
               const char         *script,
               const char         *name,
               const char         *identity,
               const char * const *extra,
               GError            **error,
               ...)
{
  Child *c;
  va_list ap;

  va_start (ap, error);
  c = harness_spawnv (h, script, name, identity, extra, ap, error);
  va_end (ap);
  return c;
}

/* --- reading events with deadlines ---------------------------------------- */

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
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

JsonObject *
child_next_event (Child   *c,
                  gint64   deadline,
                  GError **error)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *line = NULL;
  LineWait w = { 0 };
  gint64 remaining_ms = (deadline - g_get_monotonic_time ()) / 1000;
  guint timeout_id;
  JsonNode *root;

  if (c->eof)
    return NULL;
  g_data_input_stream_read_line_async (c->out, G_PRIORITY_DEFAULT, cancellable, on_line, &w);
  timeout_id = g_timeout_add ((guint) CLAMP (remaining_ms, 1, G_MAXINT), on_timeout_flag, &w.timed_out);
  while (!w.done && !w.timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!w.done)
    {
      g_cancellable_cancel (cancellable);
      while (!w.done)
        g_main_context_iteration (NULL, TRUE);
      g_clear_error (&w.error);
      g_free (w.line);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: no output line before the deadline", c->name);
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
  line = w.line;
  if (!json_parser_load_from_data (parser, line, -1, NULL) || (root = json_parser_get_root (parser)) == NULL
      || !JSON_NODE_HOLDS_OBJECT (root) || !json_object_has_member (json_node_get_object (root), "event"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: stdout line is not a JSON event: %s", c->name,
                   line);
      return NULL;
    }
  g_ptr_array_add (c->events, json_node_ref (root));
  return json_node_get_object (root);
}

gboolean
json_event_is (JsonObject *o,
               const char *event,
               const char *member,
               const char *value)
{
  if (g_strcmp0 (json_get_str (o, "event"), event) != 0)
    return FALSE;
  return member == NULL || g_strcmp0 (json_get_str (o, member), value) == 0;
}

JsonObject *
child_wait_event (Child      *c,
                  const char *event,
                  const char *member,
                  const char *value,
                  int         timeout_s,
                  GError    **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  g_autoptr (GError) local_error = NULL;

  for (;;)
    {
      JsonObject *o = child_next_event (c, deadline, &local_error);

      if (o == NULL)
        {
          if (local_error != NULL)
            g_propagate_error (error, g_steal_pointer (&local_error));
          else
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s: output ended before a \"%s\" event", c->name,
                         event);
          return NULL;
        }
      if (json_event_is (o, event, member, value))
        return o;
    }
}

JsonObject *
child_find_event (Child      *c,
                  const char *event,
                  const char *member,
                  const char *value,
                  guint       nth)
{
  for (guint i = 0; i < c->events->len; i++)
    {
      JsonObject *o = json_node_get_object (g_ptr_array_index (c->events, i));

      if (json_event_is (o, event, member, value) && nth-- == 0)
        return o;
    }
  return NULL;
}

JsonObject *
child_find_or_wait_event (Child      *c,
                          const char *event,
                          const char *member,
                          const char *value,
                          int         timeout_s,
                          GError    **error)
{
  JsonObject *o = child_find_event (c, event, member, value, 0);

  return o != NULL ? o : child_wait_event (c, event, member, value, timeout_s, error);
}

guint
child_count_events (Child      *c,
                    const char *event)
{
  guint n = 0;

  for (guint i = 0; i < c->events->len; i++)
    if (json_event_is (json_node_get_object (g_ptr_array_index (c->events, i)), event, NULL, NULL))
      n++;
  return n;
}

static void
on_exited (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  gboolean *done = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *done = TRUE;
}

int
child_wait_exit (Child *c,
                 int    timeout_s)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  gboolean done = FALSE;
  gboolean timed_out = FALSE;
  guint timeout_id;

  g_subprocess_wait_async (c->proc, cancellable, on_exited, &done);
  timeout_id = g_timeout_add_seconds ((guint) MAX (timeout_s, 1), on_timeout_flag, &timed_out);
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
    g_source_remove (timeout_id);
  c->exited = TRUE;
  track_pid (c->pid, FALSE);
  if (g_subprocess_get_if_exited (c->proc))
    return g_subprocess_get_exit_status (c->proc);
  return 128 + g_subprocess_get_term_sig (c->proc);
}

int
child_run (Child   *c,
           int      timeout_s,
           GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  g_autoptr (GError) local_error = NULL;
  int status;

  while (child_next_event (c, deadline, &local_error) != NULL)
    ;
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return -1;
    }
  status = child_wait_exit (c, MAX (1, (int) ((deadline - g_get_monotonic_time ()) / G_USEC_PER_SEC)));
  if (status < 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: closed its output but did not exit", c->name);
  return status;
}

int
child_stop (Child *c,
            int    sig)
{
  gint64 deadline = g_get_monotonic_time () + STOP_TIMEOUT_S * G_USEC_PER_SEC;
  g_autoptr (GError) error = NULL;

  if (!c->exited)
    g_subprocess_send_signal (c->proc, sig);
  /* Read what it printed on the way out, for the failure report. */
  while (child_next_event (c, deadline, &error) != NULL)
    ;
  return child_wait_exit (c, STOP_TIMEOUT_S);
}

/* --- JSON ------------------------------------------------------------------- */

const char *
json_get_str (JsonObject *o,
              const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

double
json_get_num (JsonObject *o,
              const char *member,
              double      fallback)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n))
    return fallback;
  if (json_node_get_value_type (n) == G_TYPE_INT64)
    return (double) json_node_get_int (n);
  if (json_node_get_value_type (n) == G_TYPE_DOUBLE)
    return json_node_get_double (n);
  return fallback;
}

gint64
json_get_int (JsonObject *o,
              const char *member)
{
  return (gint64) json_get_num (o, member, -1);
}

gboolean
json_get_bool (JsonObject *o,
               const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN
         && json_node_get_boolean (n);
}

static JsonArray *
get_array (JsonObject *o,
           const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  return n != NULL && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
}

static const char *
array_string (JsonArray *a,
              guint      i)
{
  JsonNode *e = json_array_get_element (a, i);

  if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (e);
}

gboolean
json_array_has (JsonObject *o,
                const char *member,
                const char *value)
{
  JsonArray *a = get_array (o, member);

  for (guint i = 0; a != NULL && i < json_array_get_length (a); i++)
    if (g_strcmp0 (array_string (a, i), value) == 0)
      return TRUE;
  return FALSE;
}

guint
json_array_len (JsonObject *o,
                const char *member)
{
  JsonArray *a = get_array (o, member);

  return a != NULL ? json_array_get_length (a) : 0;
}

char *
json_addr_with_prefix (JsonObject *o,
                       const char *member,
                       const char *prefix)
{
  JsonArray *a = get_array (o, member);

  for (guint i = 0; a != NULL && i < json_array_get_length (a); i++)
    {
      const char *s = array_string (a, i);

      if (s != NULL && g_str_has_prefix (s, prefix) && strstr (s, "/p2p/") != NULL)
        return g_strdup (s);
    }
  return NULL;
}
