/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "forward-test-util.h"

#include <signal.h>
#include <sys/prctl.h>

#define ECHO_CHUNK 65536

/* A failed test aborts: its children must not outlive it. */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

FwdProc *
fwd_proc_spawn (const char         *name,
                const char * const *argv,
                const char * const *env,
                FwdProcFlags        flags)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *cmdline = g_strjoinv (" ", (char **) argv);
  FwdProc *p = g_new0 (FwdProc, 1);
  GSubprocessFlags sflags = G_SUBPROCESS_FLAGS_STDOUT_PIPE;

  if (flags & FWD_PROC_STDIN)
    sflags |= G_SUBPROCESS_FLAGS_STDIN_PIPE;
  launcher = g_subprocess_launcher_new (sflags);
  if (env != NULL)
    g_subprocess_launcher_set_environ (launcher, (char **) env);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  g_test_message ("%s: running %s", name, cmdline);
  p->proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  p->name = g_strdup (name);
  p->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (p->proc));
  if (flags & FWD_PROC_STDIN)
    p->in = g_object_ref (g_subprocess_get_stdin_pipe (p->proc));
  p->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  return p;
}

const char *
fwd_event_str (JsonObject *event,
               const char *member)
{
  JsonNode *node = event != NULL ? json_object_get_member (event, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

gint64
fwd_event_int (JsonObject *event,
               const char *member)
{
  JsonNode *node = event != NULL ? json_object_get_member (event, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return -1;
  return json_node_get_int (node);
}

static void on_line (GObject *source, GAsyncResult *result, gpointer user_data);

static void
start_read (FwdProc *p)
{
  if (p->reading || p->eof)
    return;
  p->reading = TRUE;
  g_data_input_stream_read_line_async (p->out, G_PRIORITY_DEFAULT, NULL, on_line, p);
}

void
fwd_proc_follow (FwdProc *p)
{
  p->follow = TRUE;
  start_read (p);
}

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  FwdProc *p = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);
  p->reading = FALSE;
  if (p->orphaned)
    {
      fwd_proc_free (p);
      return;
    }
  g_assert_no_error (error);
  if (line == NULL)
    {
      p->eof = TRUE;
      return;
    }
  g_test_message ("%s: %s", p->name, line);
  if (!json_parser_load_from_data (parser, line, -1, &error))
    g_error ("%s: stdout line is not JSON (%s): %s", p->name, error->message, line);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  g_ptr_array_add (p->events, json_object_ref (json_node_get_object (json_parser_get_root (parser))));
  if (p->follow)
    start_read (p);
}

JsonObject *
fwd_proc_find (FwdProc    *p,
               const char *event,
               const char *key,
               const char *value,
               guint       nth)
{
  for (guint i = 0; i < p->events->len; i++)
    {
      JsonObject *e = g_ptr_array_index (p->events, i);

      if (g_strcmp0 (fwd_event_str (e, "event"), event) != 0)
        continue;
      if (key != NULL && g_strcmp0 (fwd_event_str (e, key), value) != 0)
        continue;
      if (nth-- == 0)
        return e;
    }
  return NULL;
}

static gboolean
wake (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Reads one more line (or the end), waiting until @deadline (monotonic µs). */
static void
read_one (FwdProc    *p,
          gint64      deadline,
          const char *waiting_for)
{
  guint tick = g_timeout_add (50, wake, NULL);
  guint n = p->events->len;

  start_read (p);
  while (p->events->len == n && !p->eof)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("%s: timed out waiting for %s", p->name, waiting_for);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (tick);
}

JsonObject *
fwd_proc_wait (FwdProc    *p,
               const char *event,
               const char *key,
               const char *value,
               guint       nth,
               guint       timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  JsonObject *e;

  while ((e = fwd_proc_find (p, event, key, value, nth)) == NULL)
    {
      if (p->eof)
        g_error ("%s ended without a %s event", p->name, event);
      read_one (p, deadline, event);
    }
  return e;
}

void
fwd_proc_send (FwdProc    *p,
               const char *format,
               ...)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  va_list args;

  g_assert_nonnull (p->in);
  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  g_test_message ("%s ← %s", p->name, line);
  g_assert_true (g_output_stream_write_all (p->in, line, strlen (line), NULL, NULL, &error)
                 && g_output_stream_write_all (p->in, "\n", 1, NULL, NULL, &error)
                 && g_output_stream_flush (p->in, NULL, &error));
  g_assert_no_error (error);
}

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static void
proc_reap (FwdProc *p,
           guint    timeout_s)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  guint tick = g_timeout_add (50, wake, NULL);

  g_subprocess_wait_async (p->proc, NULL, store_result, &result);
  while (result == NULL)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("%s did not exit", p->name);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (tick);
  g_assert_true (g_subprocess_wait_finish (p->proc, result, &error));
  p->waited = TRUE;
}

void
fwd_proc_interrupt (FwdProc *p,
                    guint    timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;

  g_subprocess_send_signal (p->proc, SIGINT);
  while (!p->eof)
    read_one (p, deadline, "the end of its output");
  proc_reap (p, timeout_s);
  g_assert_true (g_subprocess_get_if_exited (p->proc));
  g_assert_cmpint (g_subprocess_get_exit_status (p->proc), ==, 0);
}

void
fwd_proc_free (FwdProc *p)
{
  if (p == NULL)
    return;
  if (!p->waited)
    {
      g_subprocess_force_exit (p->proc);
      proc_reap (p, 20);
    }
  if (p->reading)
    {
      /* The read ends with the process's stdout: it frees us then. */
      p->orphaned = TRUE;
      return;
    }
  if (p->in != NULL)
    g_output_stream_close (p->in, NULL, NULL);
  g_clear_object (&p->in);
  g_clear_object (&p->out);
  g_clear_object (&p->proc);
  g_clear_pointer (&p->events, g_ptr_array_unref);
  g_free (p->name);
  g_free (p);
}

/* --- an echo target --------------------------------------------------------- */

typedef struct
{
  GSocketConnection *conn;
  guint8             buf[ECHO_CHUNK];
} Echo;

static void echo_read (Echo *e);

static void
echo_free (Echo *e)
{
  g_io_stream_close (G_IO_STREAM (e->conn), NULL, NULL);
  g_object_unref (e->conn);
  g_free (e);
}

static void
on_echo_written (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    echo_free (user_data);
  else
    echo_read (user_data);
}

static void
on_echo_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Echo *e = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    {
      /* EOF: everything was echoed; our close is the answering FIN. */
      echo_free (e);
      return;
    }
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (e->conn)), e->buf, n,
                                   G_PRIORITY_DEFAULT, NULL, on_echo_written, e);
}

static void
echo_read (Echo *e)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (e->conn)), e->buf, ECHO_CHUNK,
                             G_PRIORITY_DEFAULT, NULL, on_echo_read, e);
}

static gboolean
on_echo_incoming (GSocketService    *service,
                  GSocketConnection *conn,
                  GObject           *source,
                  gpointer           user_data)
{
  guint *accepted = user_data;
  Echo *e = g_new0 (Echo, 1);

  if (accepted != NULL)
    (*accepted)++;
  e->conn = g_object_ref (conn);
  echo_read (e);
  return TRUE;
}

GSocketService *
fwd_echo_start (const char *address,
                guint      *accepted,
                char      **bound,
                GError    **error)
{
  g_autoptr (GSocketService) service = g_socket_service_new ();
  g_autoptr (GSocketConnectable) connectable = g_network_address_parse (address, 0, error);
  g_autoptr (GSocketAddressEnumerator) enumerator = NULL;
  g_autoptr (GSocketAddress) addr = NULL;
  g_autoptr (GSocketAddress) effective = NULL;
  g_autofree char *ip = NULL;

  if (connectable == NULL)
    return NULL;
  enumerator = g_socket_connectable_enumerate (connectable);
  addr = g_socket_address_enumerator_next (enumerator, NULL, error);
  if (addr == NULL
      || !g_socket_listener_add_address (G_SOCKET_LISTENER (service), addr, G_SOCKET_TYPE_STREAM,
                                         G_SOCKET_PROTOCOL_TCP, NULL, &effective, error))
    return NULL;
  g_signal_connect (service, "incoming", G_CALLBACK (on_echo_incoming), accepted);
  if (bound != NULL)
    {
      ip = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (effective)));
      *bound = g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective)));
    }
  return g_steal_pointer (&service);
}

void
fwd_echo_stop (GSocketService *service)
{
  if (service == NULL)
    return;
  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
  g_signal_handlers_disconnect_matched (service, G_SIGNAL_MATCH_FUNC, 0, 0, NULL, on_echo_incoming, NULL);
  g_object_unref (service);
}
