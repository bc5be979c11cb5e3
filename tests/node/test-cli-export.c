/* SPDX-License-Identifier: GPL-3.0-or-later */
/* `punchline-cli export` as a user runs it (PUNCH_CLI): against a relay and
 * a friend reserved on it, both in this process on loopback, the bundle it
 * writes parses and holds the timeline of the relayed connection. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "../host/host-test-util.h"
#include "punch-diagnostics.h"
#include "punch-node.h"
#include "punch-relay-service.h"

#define RUN_TIMEOUT_S 60

typedef struct
{
  const char           *cli;
  char                 *dir;
  PunchHost            *relay;
  PunchRelayService    *service;
  PunchIdentifyService *relay_identify;
  PunchPingService     *relay_ping;
  char                 *relay_addr;
  PunchNode            *friend;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = punch_private_key_generate (&error);
  g_autoptr (PunchPrivateKey) friend_key = punch_private_key_generate (&error);
  g_autoptr (PunchMultiaddr) listen = punch_multiaddr_new_from_string ("/ip4/127.0.0.1/tcp/0", NULL);
  g_autoptr (GPtrArray) addrs = NULL;
  g_autofree char *text = NULL;

  f->cli = g_getenv ("PUNCH_CLI");
  f->dir = g_dir_make_tmp ("punch-export-test-XXXXXX", &error);
  g_assert_no_error (error);
  f->relay = punch_host_new (key);
  g_assert_true (punch_host_listen (f->relay, listen, &error));
  f->service = punch_relay_service_new (f->relay);
  f->relay_identify = punch_identify_service_new (f->relay);
  f->relay_ping = punch_ping_service_new (f->relay);
  addrs = punch_host_get_listen_addrs (f->relay);
  text = punch_multiaddr_to_string (g_ptr_array_index (addrs, 0));
  f->relay_addr = g_strdup_printf ("%s/p2p/%s", text, punch_peer_id_to_string (punch_host_get_peer_id (f->relay)));
  f->friend = punch_node_new (friend_key);
  g_assert_true (punch_node_listen_on (f->friend, "/ip4/127.0.0.1/tcp/0", &error));
  g_assert_no_error (error);
}

/* Removes @path and everything under it (the test's own temporary tree). */
static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  punch_node_close (f->friend);
  punch_host_close (f->relay);
  host_test_spin (50);
  g_clear_object (&f->friend);
  g_clear_object (&f->service);
  g_clear_object (&f->relay_identify);
  g_clear_object (&f->relay_ping);
  g_clear_object (&f->relay);
  g_free (f->relay_addr);
  remove_tree (f->dir);
  g_free (f->dir);
}

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

static JsonNode *
parse_json (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  if (!json_parser_load_from_data (parser, text, -1, &error))
    g_error ("not JSON (%s): %s", error->message, text);
  return json_node_ref (json_parser_get_root (parser));
}

/* Runs punchline-cli --identity <dir>/me.key --json ARGS… to its end while
 * this main loop serves the relay and the friend. */
static Run *
run_cli (Fixture *f, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *cmdline = NULL;
  g_auto (GStrv) lines = NULL;
  Run *run = g_new0 (Run, 1);
  const char *arg;
  va_list args;

  g_ptr_array_add (argv, g_strdup (f->cli));
  g_ptr_array_add (argv, g_strdup ("--identity"));
  g_ptr_array_add (argv, g_build_filename (f->dir, "me.key", NULL));
  g_ptr_array_add (argv, g_strdup ("--json"));
  va_start (args, f);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (args);
  g_ptr_array_add (argv, NULL);
  cmdline = g_strjoinv (" ", (char **) argv->pdata);
  g_test_message ("running: %s", cmdline);

  proc = g_subprocess_newv ((const char * const *) argv->pdata,
                            G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (proc, NULL, NULL, host_test_store_result, &result);
  WAIT_UNTIL_SECONDS (result != NULL, RUN_TIMEOUT_S);
  g_subprocess_communicate_utf8_finish (proc, result, &run->out, &run->err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  run->status = g_subprocess_get_exit_status (proc);
  if (run->err != NULL && run->err[0] != '\0')
    g_test_message ("stderr: %s", run->err);
  run->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  lines = g_strsplit (run->out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '\0')
      {
        g_autoptr (JsonNode) node = parse_json (lines[i]);

        g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
        g_ptr_array_add (run->events, json_object_ref (json_node_get_object (node)));
      }
  return run;
}

static JsonObject *
find_event (Run *run, const char *name)
{
  for (guint i = 0; i < run->events->len; i++)
    if (g_strcmp0 (json_object_get_string_member (g_ptr_array_index (run->events, i), "event"), name) == 0)
      return g_ptr_array_index (run->events, i);
  return NULL;
}

static JsonObject *
last_event (Run *run)
{
  g_assert_cmpuint (run->events->len, >, 0);
  return g_ptr_array_index (run->events, run->events->len - 1);
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

static gboolean
first_active (GListModel *rsvs)
{
  g_autoptr (PunchRelayReservation) rsv = NULL;

  if (g_list_model_get_n_items (rsvs) == 0)
    return FALSE;
  rsv = g_list_model_get_item (rsvs, 0);
  return punch_relay_reservation_is_active (rsv);
}

static char *
friend_relayed_addr (Fixture *f)
{
  g_auto (GStrv) mine = NULL;
  g_autoptr (GError) error = NULL;
  GListModel *rsvs = punch_node_get_reservations (f->friend);

  g_assert_true (punch_node_add_relay (f->friend, f->relay_addr, &error));
  g_assert_no_error (error);
  WAIT_UNTIL (first_active (rsvs));
  mine = punch_node_get_my_addrs (f->friend);
  g_assert_nonnull (strstr (mine[0], "/p2p-circuit/p2p/"));
  return g_strdup (mine[0]);
}

static void
test_export_bundle (Fixture *f, gconstpointer data)
{
  g_autofree char *friend_addr = NULL;
  g_autofree char *out_dir = NULL;
  g_autoptr (Run) run = NULL;
  g_autoptr (JsonNode) report = NULL;
  g_autofree char *report_text = NULL;
  g_autofree char *csv = NULL;
  g_autofree char *summary = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *export, *root, *nat, *event;
  JsonArray *files, *events, *rsvs, *conns;
  const char *me;
  gboolean relayed_open = FALSE, reserved = FALSE;

  if (!have_cli (f))
    return;
  friend_addr = friend_relayed_addr (f);
  out_dir = g_build_filename (f->dir, "bundles", NULL);
  run = run_cli (f, "export", out_dir, "--listen", "/ip4/127.0.0.1/tcp/0", "--relay", f->relay_addr,
                 "--connect", friend_addr, "--wait", "3", NULL);
  g_assert_cmpint (run->status, ==, 0);
  g_assert_cmpstr (json_object_get_string_member (last_event (run), "event"), ==, "result");
  g_assert_true (json_object_get_boolean_member (last_event (run), "ok"));
  g_assert_null (find_event (run, "error"));

  export = find_event (run, "export");
  g_assert_nonnull (export);
  me = json_object_get_string_member (export, "peer_id");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (export, "dir"), out_dir));
  files = json_object_get_array_member (export, "files");
  g_assert_cmpuint (json_array_get_length (files), ==, 3);
  g_assert_true (g_str_has_suffix (json_array_get_string_element (files, 0), "/report.json"));
  g_assert_true (g_file_get_contents (json_array_get_string_element (files, 0), &report_text, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (json_array_get_string_element (files, 1), &csv, NULL, &error));
  g_assert_true (g_file_get_contents (json_array_get_string_element (files, 2), &summary, NULL, &error));
  g_assert_no_error (error);

  report = parse_json (report_text);
  root = json_node_get_object (report);
  g_assert_cmpstr (json_object_get_string_member (root, "schema"), ==, PUNCH_DIAGNOSTICS_SCHEMA);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (root, "node"), "peer_id"), ==, me);
  nat = json_object_get_object_member (root, "nat");
  g_assert_true (json_object_has_member (nat, "mapping"));
  g_assert_true (json_object_has_member (nat, "mapping_observers"));
  g_assert_nonnull (strstr (json_object_get_string_member (nat, "summary"), "Reachable through 1 relay"));

  rsvs = json_object_get_array_member (root, "reservations");
  g_assert_cmpuint (json_array_get_length (rsvs), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (rsvs, 0), "state"), ==,
                   "reserved");

  /* The timeline: our reservation going through its states, and the
   * relayed connection to the friend opening. */
  events = json_object_get_array_member (root, "events");
  for (guint i = 0; i < json_array_get_length (events); i++)
    {
      event = json_array_get_object_element (events, i);
      if (g_strcmp0 (json_object_get_string_member (event, "event"), "connection") == 0
          && g_strcmp0 (json_object_get_string_member (event, "peer_id"), punch_node_get_peer_id (f->friend)) == 0
          && g_strcmp0 (json_object_get_string_member (event, "state"), "open") == 0
          && json_object_get_boolean_member (event, "relayed"))
        relayed_open = TRUE;
      if (g_strcmp0 (json_object_get_string_member (event, "event"), "reservation") == 0
          && g_strcmp0 (json_object_get_string_member (event, "to"), "reserved") == 0)
        reserved = TRUE;
    }
  g_assert_true (relayed_open);
  g_assert_true (reserved);
  g_assert_cmpint (json_object_get_int_member (export, "events"), ==, json_array_get_length (events));
  conns = json_object_get_array_member (root, "connections");
  g_assert_cmpuint (json_array_get_length (conns), >=, 2);  /* the relay, the friend through it */

  g_assert_true (g_str_has_prefix (csv, "series,peer_id,relay_peer_id,time,time_unix_us,rtt_ms\n"));
  g_assert_nonnull (strstr (summary, me));
  g_assert_nonnull (strstr (summary, "Timeline:"));
}

static void
test_export_bad_args (Fixture *f, gconstpointer data)
{
  g_autofree char *out_dir = NULL;
  g_autoptr (Run) run = NULL;
  g_autoptr (Run) bad = NULL;
  JsonObject *result;

  if (!have_cli (f))
    return;
  /* No directory: usage, status 2, nothing on stdout. */
  run = run_cli (f, "export", NULL);
  g_assert_cmpint (run->status, ==, 2);
  g_assert_cmpuint (run->events->len, ==, 0);

  /* A friend address that is no address: a failure, and no bundle. */
  out_dir = g_build_filename (f->dir, "bad", NULL);
  bad = run_cli (f, "export", out_dir, "--listen", "/ip4/127.0.0.1/tcp/0", "--connect", "not-an-address",
                 "--wait", "1", NULL);
  g_assert_cmpint (bad->status, ==, 1);
  result = last_event (bad);
  g_assert_cmpstr (json_object_get_string_member (result, "event"), ==, "result");
  g_assert_false (json_object_get_boolean_member (result, "ok"));
  g_assert_nonnull (strstr (json_object_get_string_member (result, "error"), "not-an-address"));
  g_assert_null (find_event (bad, "export"));
  {
    g_autoptr (GDir) dir = g_dir_open (out_dir, 0, NULL);

    g_assert_true (dir == NULL || g_dir_read_name (dir) == NULL);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/core/cli-export/bundle", test_export_bundle);
  ADD ("/core/cli-export/bad-args", test_export_bad_args);
  return g_test_run ();
}
