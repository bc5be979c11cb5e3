/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-cli-export.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>

#include "punch-cli-output.h"
#include "punch-diagnostics.h"
#include "punch-node.h"

#define DEFAULT_WAIT_S 10
/* Bounds --wait: an export is a snapshot, not a daemon. */
#define MAX_WAIT_S     3600

typedef struct
{
  PunchCliOutput *out;
  GMainLoop      *loop;
  GCancellable   *cancellable;
  PunchNode      *node;
  guint           connects_pending;
  guint           wait_id;
  gboolean        writing;
  gboolean        interrupted;
  GFile          *bundle;
  GError         *error;
} Export;

static void
connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Export *e = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConnection) conn = punch_node_connect_finish (PUNCH_NODE (source), result, &error);

  e->connects_pending--;
  /* A friend out of reach is what the bundle is for: report and go on. */
  if (conn == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    punch_cli_output_error (e->out, "connect", error);
}

static void
written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Export *e = user_data;

  e->writing = FALSE;
  e->bundle = punch_diagnostics_write_finish (PUNCH_NODE (source), result, &e->error);
  g_main_loop_quit (e->loop);
}

static void
write_bundle (Export *e, GFile *dir)
{
  if (e->writing || e->bundle != NULL || e->error != NULL)
    return;
  e->writing = TRUE;
  /* Not e->cancellable: an interrupt asks for the bundle now, not for none. */
  punch_diagnostics_write_async (e->node, dir, NULL, written, e);
}

typedef struct
{
  Export *e;
  GFile  *dir;
} WaitData;

static gboolean
wait_done (gpointer user_data)
{
  WaitData *w = user_data;

  w->e->wait_id = 0;
  write_bundle (w->e, w->dir);
  return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer user_data)
{
  WaitData *w = user_data;

  /* The first interrupt writes what we have; a second one gives up. */
  if (w->e->writing || w->e->interrupted)
    {
      g_cancellable_cancel (w->e->cancellable);
      if (w->e->error == NULL)
        w->e->error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Interrupted");
      g_main_loop_quit (w->e->loop);
      return G_SOURCE_CONTINUE;
    }
  w->e->interrupted = TRUE;
  g_clear_handle_id (&w->e->wait_id, g_source_remove);
  write_bundle (w->e, w->dir);
  return G_SOURCE_CONTINUE;
}

static void
emit_export (Export *e)
{
  g_autoptr (JsonObject) event = punch_cli_output_event_new ("export");
  g_autofree char *path = g_file_get_path (e->bundle);
  g_autofree char *human = NULL;
  static const char *const names[] = { "report.json", "rtt.csv", "summary.txt" };
  JsonArray *files = json_array_new ();

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *file = g_build_filename (path, names[i], NULL);

      json_array_add_string_element (files, file);
    }
  json_object_set_string_member (event, "dir", path);
  json_object_set_array_member (event, "files", files);
  json_object_set_string_member (event, "peer_id", punch_node_get_peer_id (e->node));
  json_object_set_string_member (event, "reachability", punch_node_get_reachability (e->node));
  json_object_set_int_member (event, "events",
                              g_list_model_get_n_items (G_LIST_MODEL (punch_node_get_timeline (e->node))));
  human = g_strdup_printf ("Wrote diagnostics to %s (report.json, rtt.csv, summary.txt)", path);
  punch_cli_output_emit (e->out, event, human);
}

static gboolean
drain_wake_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

int
punch_cli_command_export (PunchCliOptions *options, int argc, char **argv)
{
  g_auto (GStrv) relays = NULL;
  g_auto (GStrv) peers = NULL;
  g_auto (GStrv) listens = NULL;
  int wait_s = DEFAULT_WAIT_S;
  const GOptionEntry entries[] = {
    { "relay", 0, 0, G_OPTION_ARG_STRING_ARRAY, &relays, "A relay to reserve on (…/p2p/<id> or /dnsaddr/…)", "MA" },
    { "connect", 0, 0, G_OPTION_ARG_STRING_ARRAY, &peers, "A friend to connect to (direct or relayed address)", "MA" },
    { "listen", 0, 0, G_OPTION_ARG_STRING_ARRAY, &listens,
      "Listen address (default: /ip4/0.0.0.0/tcp/0 and /ip6/::/tcp/0)", "MA" },
    { "wait", 0, 0, G_OPTION_ARG_INT, &wait_s, "Seconds to run before writing the bundle (default 10)", "S" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("DIR");
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchCliOutput) out = NULL;
  g_autoptr (GFile) dir = NULL;
  Export e = { 0 };
  WaitData w = { 0 };
  guint sigint_id, sigterm_id;
  gint64 drain_deadline;
  guint drain_wake;

  g_option_context_set_summary (context, "Runs the peer for a while with the given relays and friends, then "
                                "writes the dashboard's diagnostics bundle (report.json, rtt.csv, summary.txt) "
                                "into a new directory under DIR. See docs/diagnostics.md.");
  g_option_context_add_main_entries (context, entries, NULL);
  punch_cli_add_common_options (context, options);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 2 || wait_s < 0 || wait_s > MAX_WAIT_S)
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

      g_printerr ("%s: %s\n\n%s", g_get_prgname (),
                  error != NULL ? error->message : argc != 2 ? "export takes one directory"
                                                             : "--wait out of range (0–3600)", help);
      return PUNCH_CLI_EXIT_USAGE;
    }

  out = punch_cli_output_new (options->json);
  e.out = out;
  if (g_mkdir_with_parents (argv[1], 0700) != 0)
    {
      int saved = errno;

      error = g_error_new (G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s", argv[1],
                           g_strerror (saved));
      punch_cli_output_result (out, error, NULL);
      return PUNCH_CLI_EXIT_FAILED;
    }
  dir = g_file_new_for_commandline_arg (argv[1]);

  e.node = punch_node_new_from_identity (options->identity, &error);
  if (e.node == NULL)
    {
      punch_cli_output_result (out, error, NULL);
      return PUNCH_CLI_EXIT_FAILED;
    }
  e.loop = g_main_loop_new (NULL, FALSE);
  e.cancellable = g_cancellable_new ();
  if (options->security != NULL)
    {
      g_auto (GStrv) names = g_strsplit (options->security, ",", -1);
      g_autoptr (GPtrArray) protocols = g_ptr_array_new ();

      for (guint i = 0; names[i] != NULL; i++)
        g_ptr_array_add (protocols, g_str_equal (names[i], "noise") ? "/noise"
                                    : g_str_equal (names[i], "tls") ? "/tls/1.0.0" : names[i]);
      g_ptr_array_add (protocols, NULL);
      if (!punch_host_set_security_protocols (punch_node_get_host (e.node), (const char * const *) protocols->pdata,
                                              &error))
        goto out;
    }

  if (listens == NULL)
    {
      if (!punch_node_listen (e.node, 0, &error))
        goto out;
    }
  else
    for (guint i = 0; listens[i] != NULL; i++)
      if (!punch_node_listen_on (e.node, listens[i], &error))
        goto out;
  for (guint i = 0; relays != NULL && relays[i] != NULL; i++)
    if (!punch_node_add_relay (e.node, relays[i], &error))
      goto out;
  /* Check every friend address before dialling any: a typo is a usage
   * mistake, not something to export. */
  for (guint i = 0; peers != NULL && peers[i] != NULL; i++)
    {
      g_autoptr (PunchMultiaddr) ma = punch_node_parse_friend_addr (e.node, peers[i], &error);

      if (ma == NULL)
        {
          g_prefix_error (&error, "%s: ", peers[i]);
          goto out;
        }
    }
  for (guint i = 0; peers != NULL && peers[i] != NULL; i++)
    {
      e.connects_pending++;
      punch_node_connect_async (e.node, peers[i], e.cancellable, connected, &e);
    }

  w.e = &e;
  w.dir = dir;
  e.wait_id = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, (guint) wait_s, wait_done, &w, NULL);
  g_source_set_name_by_id (e.wait_id, "[punchline] export wait");
  sigint_id = g_unix_signal_add (SIGINT, on_signal, &w);
  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, &w);
  g_main_loop_run (e.loop);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  if (e.error != NULL)
    error = g_steal_pointer (&e.error);
  else if (e.bundle != NULL)
    emit_export (&e);

out:
  g_clear_handle_id (&e.wait_id, g_source_remove);
  g_cancellable_cancel (e.cancellable);
  punch_cli_output_result (out, error, NULL);
  punch_node_close (e.node);
  /* Cancelled operations still call back into @e, which lives on this
   * stack: let them finish (they do at once, but never wait forever). */
  drain_deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  drain_wake = g_timeout_add (50, drain_wake_cb, NULL);
  while ((e.connects_pending > 0 || e.writing) && g_get_monotonic_time () < drain_deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (drain_wake);
  g_clear_object (&e.node);
  g_clear_object (&e.bundle);
  g_clear_object (&e.cancellable);
  g_clear_pointer (&e.loop, g_main_loop_unref);
  return error == NULL ? PUNCH_CLI_EXIT_OK : PUNCH_CLI_EXIT_FAILED;
}
