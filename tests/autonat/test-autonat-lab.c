/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The diagnosis through real NATs. Each case builds the NAT lab
 * (tests/lab/lab) under a lab ID of its own and ends every process it
 * started by PID (each runs under timeout(1)); the lab comes down in the
 * teardown. Needs root; skipped otherwise.
 *
 * - eim, edm, public: `punchline-cli relay` on "relay" and `listen` on
 *   "pub" (both serve AutoNAT), `punchline-cli diagnose` on a lab host;
 *   its "diagnose" event must say: behind eim → endpoint-independent and
 *   private, behind edm → endpoint-dependent and private, a public host →
 *   no NAT and public (two servers, so --min-confirmations 2).
 * - wan-change: a PunchNode behind eim holds a reservation; router A gets a
 *   new WAN address (`lab wan-addr`); within 10 s the node has reserved
 *   again and its diagnosis shows the new external address, and AutoNAT
 *   answers private again afterwards.
 * - js/…: AutoNAT v1 against js-libp2p's @libp2p/autonat
 *   (tests/interop/autonat-peer.mjs) in both roles; see docs/nat-diagnosis.md
 *   for what js does and why.
 *
 * The /interop/autonat/loopback/… cases need neither root nor a lab (the
 * interop suite runs them, the lab suite skips them): on loopback the wire
 * exchange with js in both roles, ending in refusals (js counts loopback as
 * private; our server dials only the requester's IP). */
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "lab-control.h"
#include "punch-private-key.h"

typedef struct
{
  const char *name;
  const char *nat_a;
  const char *nat_b;
  const char *host;          /* where diagnose runs */
  const char *mapping;
  const char *reachability;
} Case;

static const Case cases[] = {
  { "eim", "eim", "edm", "a", "endpoint-independent", "private" },
  { "edm", "eim", "edm", "b", "endpoint-dependent", "private" },
  { "public", "none", "edm", "a", "none", "public" },
};

typedef struct
{
  char        *lab_id;
  char        *dir;
  gboolean     up;
  GSubprocess *relay;
  GSubprocess *pub;
  GPtrArray   *watched;     /* Watched: long-running processes whose events we read */
} Fixture;

static const char *lab_script;
static char *cli_bin;
static char *build_root;
static char *lab_node_bin;
static char *node_bin;      /* js: tests/interop/node_modules/.bin/node */
static char *js_peer;
static char *js_hook;

static GSubprocess *
spawn (Fixture *f, GSubprocessFlags flags, GError **error, ...)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  va_list ap;

  g_subprocess_launcher_setenv (launcher, "PUNCH_LAB_ID", f->lab_id, TRUE);
  g_subprocess_launcher_setenv (launcher, "PUNCH_BUILD_ROOT", build_root, TRUE);
  va_start (ap, error);
  for (const char *arg = va_arg (ap, const char *); arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  return g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, error);
}

static void
lab (Fixture *f, const char *a, const char *b, const char *c)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = spawn (f, G_SUBPROCESS_FLAGS_NONE, &error, "timeout", "60", lab_script, a, b, c,
                                     NULL);

  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (p, NULL, &error));
  g_assert_no_error (error);
}

static void
lab_wan_addr (Fixture *f, const char *router, const char *addr)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = spawn (f, G_SUBPROCESS_FLAGS_NONE, &error, "timeout", "30", lab_script, "wan-addr",
                                     router, addr, NULL);

  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (p, NULL, &error));
  g_assert_no_error (error);
}

static char *
key_peer_id (Fixture *f, const char *name, char **path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = NULL;

  *path = g_build_filename (f->dir, name, NULL);
  key = punch_private_key_load_or_create (*path, &error);
  g_assert_no_error (error);
  return g_strdup (punch_peer_id_to_string (punch_private_key_get_peer_id (key)));
}

/* Starts a long-running CLI command in namespace @host (NULL: here) and
 * waits for its "listening" event, which @listening (nullable) gets. */
static GSubprocess *
start_server_full (Fixture *f, const char *host, const char *key, const char *command, const char *listen,
                   char **listening)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ns = g_strdup_printf ("pl%s-%s", f->lab_id, host != NULL ? host : "");
  GSubprocess *p = host != NULL
    ? spawn (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "timeout", "150", "ip", "netns", "exec", ns,
             cli_bin, "--json", "--identity", key, command, "--listen", listen, NULL)
    : spawn (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "timeout", "150",
             cli_bin, "--json", "--identity", key, command, "--listen", listen, NULL);
  g_autoptr (GDataInputStream) lines = NULL;

  g_assert_no_error (error);
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (p));
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (line);   /* EOF: it died (see its standard error) */
      if (strstr (line, "\"listening\"") != NULL)
        {
          if (listening != NULL)
            *listening = g_steal_pointer (&line);
          break;
        }
    }
  return p;
}

static GSubprocess *
start_server (Fixture *f, const char *host, const char *key, const char *command, const char *listen)
{
  return start_server_full (f, host, key, command, listen, NULL);
}

static void watched_free (gpointer data);

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  /* A lab ID of our own: other labs may run at the same time. Should an
   * assertion abort the program, lab-control brings the lab down, and with
   * it everything a case started (each runs in one of its namespaces). */
  f->lab_id = g_strdup (lab_control_id ());
  f->dir = g_dir_make_tmp ("punch-autonat-lab-XXXXXX", &error);
  g_assert_no_error (error);
  f->watched = g_ptr_array_new_with_free_func (watched_free);

}

static void
stop (GSubprocess **p)
{
  if (*p == NULL)
    return;
  g_subprocess_send_signal (*p, SIGTERM);
  g_subprocess_wait (*p, NULL, NULL);
  g_clear_object (p);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  g_clear_pointer (&f->watched, g_ptr_array_unref);
  stop (&f->relay);
  stop (&f->pub);
  if (f->up)
    lab (f, "down", NULL, NULL);
  dir = g_dir_open (f->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->lab_id);
}

static JsonObject *
find_event (const char *output, const char *name, JsonParser **keep)
{
  g_auto (GStrv) lines = g_strsplit (output, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonObject *event;

      if (lines[i][0] == '\0' || !json_parser_load_from_data (parser, lines[i], -1, NULL))
        continue;
      event = json_node_get_object (json_parser_get_root (parser));
      if (g_strcmp0 (json_object_get_string_member_with_default (event, "event", ""), name) == 0)
        {
          *keep = g_steal_pointer (&parser);
          return event;
        }
    }
  return NULL;
}

static void
test_case (Fixture *f, gconstpointer data)
{
  const Case *c = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *relay_key = NULL, *pub_key = NULL, *host_key = NULL;
  g_autofree char *relay_id = key_peer_id (f, "relay.key", &relay_key);
  g_autofree char *pub_id = key_peer_id (f, "pub.key", &pub_key);
  g_autofree char *host_id = key_peer_id (f, "host.key", &host_key);
  g_autofree char *relay_addr = g_strdup_printf ("/ip4/198.18.0.2/tcp/4001/p2p/%s", relay_id);
  g_autofree char *pub_addr = g_strdup_printf ("/ip4/198.18.0.3/tcp/4001/p2p/%s", pub_id);
  g_autofree char *ns = NULL;
  g_autofree char *output = NULL;
  g_autofree char *errors = NULL;
  g_autoptr (GSubprocess) diagnose = NULL;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *event, *nat, *reach;

  lab (f, "up", c->nat_a, c->nat_b);
  f->up = TRUE;
  f->relay = start_server (f, "relay", relay_key, "relay", "/ip4/198.18.0.2/tcp/4001");
  f->pub = start_server (f, "pub", pub_key, "listen", "/ip4/198.18.0.3/tcp/4001");

  ns = g_strdup_printf ("pl%s-%s", f->lab_id, c->host);
  diagnose = spawn (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                    "timeout", "90", "ip", "netns", "exec", ns, cli_bin, "--json", "--identity", host_key,
                    "diagnose", "--relay", relay_addr, "--peer", pub_addr, "--listen", "/ip4/0.0.0.0/tcp/4001",
                    "--wait", "5", "--min-confirmations", "2", NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (diagnose, NULL, NULL, &output, &errors, &error));
  g_assert_no_error (error);
  if (g_subprocess_get_exit_status (diagnose) != 0)
    g_test_message ("diagnose stderr: %s", errors);
  g_assert_cmpint (g_subprocess_get_exit_status (diagnose), ==, 0);

  event = find_event (output, "diagnose", &parser);
  g_assert_nonnull (event);
  g_test_message ("%s: %s", c->name, json_object_get_string_member (event, "verdict"));
  nat = json_object_get_object_member (event, "nat");
  reach = json_object_get_object_member (event, "reachability");
  g_assert_cmpstr (json_object_get_string_member (event, "peer_id"), ==, host_id);
  g_assert_cmpstr (json_object_get_string_member (nat, "mapping"), ==, c->mapping);
  g_assert_cmpint (json_object_get_int_member (nat, "observers"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (reach, "status"), ==, c->reachability);
  g_assert_cmpint (json_object_get_int_member (reach, "confidence"), ==, 2);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (event, "observers")), >=, 2);
}

/* ---- long-running processes whose JSON events we read as they come ---- */

typedef struct
{
  char             *name;
  GSubprocess      *process;
  GDataInputStream *lines;
  GCancellable     *cancellable;
  GPtrArray        *events;   /* JsonNode (objects), in order */
  gboolean          eof;
} Watched;

static void
watched_free (gpointer data)
{
  Watched *w = data;

  g_cancellable_cancel (w->cancellable);
  stop (&w->process);
  /* The cancelled read reports to us: let it, before we go. */
  while (!w->eof)
    g_main_context_iteration (NULL, TRUE);
  g_clear_object (&w->lines);
  g_clear_object (&w->cancellable);
  g_ptr_array_unref (w->events);
  g_free (w->name);
  g_free (w);
}

static void
watched_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Watched *w = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL,
                                                                     &error);
  g_autoptr (JsonParser) parser = json_parser_new ();

  if (line == NULL)
    {
      w->eof = TRUE;
      return;
    }
  if (line[0] == '{' && json_parser_load_from_data (parser, line, -1, NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    g_ptr_array_add (w->events, json_node_copy (json_parser_get_root (parser)));
  g_data_input_stream_read_line_async (w->lines, G_PRIORITY_DEFAULT, w->cancellable, watched_read, w);
}

/* Starts @argv (NULL-terminated) in lab namespace @host (NULL: here) under
 * timeout(1). */
static Watched *
watch_start (Fixture *f, const char *name, const char *host, const char * const *argv)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GPtrArray) full = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  Watched *w = g_new0 (Watched, 1);

  g_subprocess_launcher_setenv (launcher, "PUNCH_LAB_ID", f->lab_id, TRUE);
  /* Our JSON only on stdout: GLib prints debug messages there too. */
  g_subprocess_launcher_unsetenv (launcher, "G_MESSAGES_DEBUG");
  g_ptr_array_add (full, g_strdup ("timeout"));
  g_ptr_array_add (full, g_strdup ("150"));
  if (host != NULL)
    {
      g_ptr_array_add (full, g_strdup ("ip"));
      g_ptr_array_add (full, g_strdup ("netns"));
      g_ptr_array_add (full, g_strdup ("exec"));
      g_ptr_array_add (full, g_strdup_printf ("pl%s-%s", f->lab_id, host));
    }
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (full, g_strdup (argv[i]));
  g_ptr_array_add (full, NULL);

  w->name = g_strdup (name);
  w->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  w->cancellable = g_cancellable_new ();
  w->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) full->pdata, &error);
  g_assert_no_error (error);
  w->lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (w->process));
  g_data_input_stream_read_line_async (w->lines, G_PRIORITY_DEFAULT, w->cancellable, watched_read, w);
  g_ptr_array_add (f->watched, w);
  return w;
}

typedef gboolean (*EventMatch) (JsonObject *event, gconstpointer data);

static JsonObject *
find_watched (Watched *w, guint from, const char *name, EventMatch match, gconstpointer data, guint *index)
{
  for (guint i = from; i < w->events->len; i++)
    {
      JsonObject *event = json_node_get_object (g_ptr_array_index (w->events, i));

      if (g_strcmp0 (json_object_get_string_member_with_default (event, "event", ""), name) == 0
          && (match == NULL || match (event, data)))
        {
          if (index != NULL)
            *index = i;
          return event;
        }
    }
  return NULL;
}

/* The first @name event from index @from on that @match accepts, waiting
 * until the monotonic time @deadline_us; NULL if none came. */
static JsonObject *
wait_event (Watched *w, guint from, const char *name, EventMatch match, gconstpointer data, gint64 deadline_us,
            guint *index)
{
  JsonObject *event;

  while ((event = find_watched (w, from, name, match, data, index)) == NULL && !w->eof
         && g_get_monotonic_time () < deadline_us)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (20000);
    }
  if (event == NULL)
    {
      g_test_message ("%s: no %s event (%u events%s)", w->name, name, w->events->len, w->eof ? ", ended" : "");
      for (guint i = 0; i < w->events->len; i++)
        {
          g_autofree char *text = json_to_string (g_ptr_array_index (w->events, i), FALSE);

          g_test_message ("  %s", text);
        }
    }
  return event;
}

static gint64
deadline_in (guint seconds)
{
  return g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;
}

static const char *
peer_id_of (Watched *w)
{
  JsonObject *listening = wait_event (w, 0, "listening", NULL, NULL, deadline_in (20), NULL);

  g_assert_nonnull (listening);
  return json_object_get_string_member (listening, "peer_id");
}

/* ---- a router's new WAN address ---- */

static gboolean
match_reserved (JsonObject *event, gconstpointer data)
{
  return g_strcmp0 (json_object_get_string_member_with_default (event, "to", ""), "reserved") == 0;
}

static gboolean
match_what (JsonObject *event, gconstpointer data)
{
  return g_strcmp0 (json_object_get_string_member_with_default (event, "what", ""), data) == 0;
}

/* A diagnosis whose external addresses hold @data. */
static gboolean
match_external (JsonObject *event, gconstpointer data)
{
  JsonArray *external = json_object_get_array_member (json_object_get_object_member (event, "nat"),
                                                      "external_addrs");

  for (guint i = 0; i < json_array_get_length (external); i++)
    if (g_strcmp0 (json_object_get_string_member (json_array_get_object_element (external, i), "addr"), data) == 0)
      return TRUE;
  return FALSE;
}

/* A diagnosis with no external address at all (what was learnt is gone). */
static gboolean
match_no_external (JsonObject *event, gconstpointer data)
{
  JsonArray *external = json_object_get_array_member (json_object_get_object_member (event, "nat"),
                                                      "external_addrs");

  return json_array_get_length (external) == 0;
}

/* A diagnosis where AutoNAT answered @data with at least one answer. */
static gboolean
match_reachability (JsonObject *event, gconstpointer data)
{
  JsonObject *autonat = json_object_get_object_member (json_object_get_object_member (event, "nat"), "autonat");

  return g_strcmp0 (json_object_get_string_member (autonat, "reachability"), data) == 0
         && json_object_get_int_member (autonat, "confidence") >= 1;
}

static void
test_wan_change (Fixture *f, gconstpointer data)
{
  g_autofree char *relay_key = NULL;
  g_autofree char *relay_id = key_peer_id (f, "relay.key", &relay_key);
  g_autofree char *relay_addr = g_strdup_printf ("/ip4/198.18.0.2/tcp/4001/p2p/%s", relay_id);
  const char *node_argv[] = { lab_node_bin, "--listen", "/ip4/0.0.0.0/tcp/4001", "--relay", relay_addr,
                              "--min-confirmations", "1", NULL };
  Watched *node;
  JsonObject *event;
  guint mark = 0, at = 0;
  gint64 changed_at, deadline;

  lab (f, "up", "eim", "none");
  f->up = TRUE;
  f->relay = start_server (f, "relay", relay_key, "relay", "/ip4/198.18.0.2/tcp/4001");
  node = watch_start (f, "node", "a", node_argv);
  peer_id_of (node);
  g_assert_nonnull (wait_event (node, 0, "reservation", match_reserved, NULL, deadline_in (20), NULL));
  g_assert_nonnull (wait_event (node, 0, "diagnosis", match_external, "/ip4/198.18.1.1/tcp/4001",
                                deadline_in (20), NULL));
  mark = node->events->len;

  /* The ISP hands router A a new address; a's own interfaces stay as they
   * were, so only the core's own checks can notice. */
  changed_at = g_get_monotonic_time ();
  lab_wan_addr (f, "ra", "198.18.1.9");
  deadline = changed_at + 10 * G_USEC_PER_SEC;
  event = wait_event (node, mark, "reservation", match_reserved, NULL, deadline, &at);
  g_assert_nonnull (event);
  g_test_message ("reserved again %.1f s after the change",
                  (json_object_get_int_member (event, "mono") * 1000 - changed_at) / 1e6);
  g_assert_nonnull (wait_event (node, mark, "network", match_what, "external-address", deadline, NULL));
  event = wait_event (node, mark, "diagnosis", match_external, "/ip4/198.18.1.9/tcp/4001", deadline, &at);
  g_assert_nonnull (event);
  g_test_message ("diagnosed the new external address %.1f s after the change",
                  (json_object_get_int_member (event, "mono") * 1000 - changed_at) / 1e6);
  /* The old address is forgotten, not kept beside the new one. */
  g_assert_false (match_external (event, "/ip4/198.18.1.1/tcp/4001"));
  /* AutoNAT asks again: the relay's dial-back to the new address meets
   * the router's drop (15 s dial timeout). */
  g_assert_nonnull (wait_event (node, at, "diagnosis", match_reachability, "private", deadline_in (40), NULL));
}

/* IPv6 coming up on a's interface: a link-local address and route appear a
 * second later, GNetworkMonitor reports a change, and nothing we use
 * changed. The node must keep its relay connection and its reservation
 * (it used to drop them), and AutoNAT what it learnt. */
static gboolean
match_any (JsonObject *event, gconstpointer data)
{
  return TRUE;
}

static void
test_link_local_route (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) sysctl = NULL;
  g_autofree char *relay_key = NULL;
  g_autofree char *relay_id = key_peer_id (f, "relay.key", &relay_key);
  g_autofree char *relay_addr = g_strdup_printf ("/ip4/198.18.0.2/tcp/4001/p2p/%s", relay_id);
  const char *node_argv[] = { lab_node_bin, "--listen", "/ip4/0.0.0.0/tcp/4001", "--relay", relay_addr, NULL };
  Watched *node;
  JsonObject *network;
  guint mark, at = 0;

  lab (f, "up", "eim", "none");
  f->up = TRUE;
  f->relay = start_server (f, "relay", relay_key, "relay", "/ip4/198.18.0.2/tcp/4001");
  node = watch_start (f, "node", "a", node_argv);
  peer_id_of (node);
  g_assert_nonnull (wait_event (node, 0, "reservation", match_reserved, NULL, deadline_in (20), NULL));
  g_assert_nonnull (wait_event (node, 0, "diagnosis", match_external, "/ip4/198.18.1.1/tcp/4001",
                                deadline_in (20), NULL));
  mark = node->events->len;

  sysctl = spawn (f, G_SUBPROCESS_FLAGS_NONE, &error, "timeout", "30", lab_script, "exec", "a", "sysctl", "-qw",
                  "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.default.disable_ipv6=0",
                  "net.ipv6.conf.eth0.disable_ipv6=0", NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (sysctl, NULL, &error));
  g_assert_no_error (error);
  network = wait_event (node, mark, "network", match_any, NULL, deadline_in (15), &at);
  g_assert_nonnull (network);
  g_assert_cmpstr (json_object_get_string_member (network, "what"), ==, "routes");
  /* The check runs 1 s after the last change and pings: it has 6 s to
   * drop something, should it wrongly want to. */
  for (gint64 until = deadline_in (6); g_get_monotonic_time () < until;)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (20000);
    }
  g_assert_null (find_watched (node, at, "stale", NULL, NULL, NULL));
  g_assert_null (find_watched (node, mark, "reservation", NULL, NULL, NULL));
  g_assert_null (find_watched (node, mark, "network", match_what, "interfaces", NULL));
  /* What AutoNAT learnt is still there. */
  g_assert_null (find_watched (node, mark, "diagnosis", match_no_external, NULL, NULL));
}

/* ---- AutoNAT against js-libp2p ---- */

static gboolean
match_what_role (JsonObject *event, gconstpointer data)
{
  g_autofree char *role_what = g_strdup_printf ("%s/%s", json_object_get_string_member_with_default (event, "role", ""),
                                                json_object_get_string_member_with_default (event, "what", ""));

  return g_strcmp0 (role_what, data) == 0;
}

static Watched *
start_js (Fixture *f, const char *name, const char *host, const char *listen, const char *map, const char *dial)
{
  const char *argv[] = { node_bin, "--import", js_hook, js_peer, "--listen", listen, NULL, NULL, NULL, NULL, NULL };
  guint n = 6;

  if (map != NULL)
    {
      argv[n++] = "--map";
      argv[n++] = map;
    }
  if (dial != NULL)
    {
      argv[n++] = "--dial";
      argv[n++] = dial;
    }
  return watch_start (f, name, host, argv);
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* Waits for @diagnose (while js's events keep arriving on our main
 * context), checks that it succeeded and returns its "diagnose" event
 * (kept alive by @parser). */
static JsonObject *
diagnose_event (GSubprocess *diagnose, JsonParser **parser)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *output = NULL, *errors = NULL;
  JsonObject *event;

  g_subprocess_communicate_utf8_async (diagnose, NULL, NULL, store_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (g_subprocess_communicate_utf8_finish (diagnose, result, &output, &errors, &error));
  g_assert_no_error (error);
  if (g_subprocess_get_exit_status (diagnose) != 0)
    g_test_message ("diagnose stderr: %s", errors);
  g_assert_cmpint (g_subprocess_get_exit_status (diagnose), ==, 0);
  event = find_event (output, "diagnose", parser);
  g_assert_nonnull (event);
  g_test_message ("%s", json_object_get_string_member (event, "verdict"));
  return event;
}

/* Runs diagnose on @host with the js server on "pub" and one of ours on
 * "relay", and returns its "diagnose" event (kept alive by @parser). */
static JsonObject *
diagnose_with_js_server (Fixture *f, const char *host, const char *js_id, JsonParser **parser)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ours_key = NULL, *host_key = NULL;
  g_autofree char *ours_id = key_peer_id (f, "ours.key", &ours_key);
  g_autofree char *host_id = key_peer_id (f, "host.key", &host_key);
  g_autofree char *ours_addr = g_strdup_printf ("/ip4/198.18.0.2/tcp/4001/p2p/%s", ours_id);
  g_autofree char *js_addr = g_strdup_printf ("/ip4/198.18.0.3/tcp/4001/p2p/%s", js_id);
  g_autofree char *ns = g_strdup_printf ("pl%s-%s", f->lab_id, host);
  g_autoptr (GSubprocess) diagnose = NULL;
  JsonObject *event;

  f->relay = start_server (f, "relay", ours_key, "listen", "/ip4/198.18.0.2/tcp/4001");
  diagnose = spawn (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                    "timeout", "90", "ip", "netns", "exec", ns, cli_bin, "--json", "--identity", host_key,
                    "diagnose", "--peer", js_addr, "--peer", ours_addr, "--listen", "/ip4/0.0.0.0/tcp/4001",
                    "--wait", "3", "--min-confirmations", "1", NULL);
  g_assert_no_error (error);
  event = diagnose_event (diagnose, parser);
  g_assert_cmpstr (json_object_get_string_member (event, "peer_id"), ==, host_id);
  return event;
}

/* What each AutoNAT server answered, by peer ID. */
static JsonObject *
answer_of (JsonObject *diagnose, const char *peer_id)
{
  JsonArray *answers = json_object_get_array_member (json_object_get_object_member (diagnose, "reachability"),
                                                     "answers");

  for (guint i = 0; i < json_array_get_length (answers); i++)
    {
      JsonObject *answer = json_array_get_object_element (answers, i);

      if (g_strcmp0 (json_object_get_string_member (answer, "peer_id"), peer_id) == 0)
        return answer;
    }
  return NULL;
}

typedef struct
{
  const char *name;
  const char *nat_a;         /* our client on "a" */
  const char *reachability;  /* what our client concludes */
  const char *ours_status;   /* our server's answer */
} JsServerCase;

static const JsServerCase js_server_cases[] = {
  { "js/server/client-behind-eim", "eim", "private", "E_DIAL_ERROR" },
  { "js/server/client-public", "none", "public", "OK" },
};

static gboolean
match_closed_by (JsonObject *event, gconstpointer data)
{
  return g_strcmp0 (json_object_get_string_member_with_default (event, "state", ""), "closed") == 0
         && g_strcmp0 (json_object_get_string_member_with_default (event, "peer_id", ""), data) == 0;
}

/* js-libp2p 3.3.11's server does not dial back a requester it is connected
 * to (it always is): openConnection() hands it the requester's own
 * connection, "success" means that connection's remote address equals the
 * one asked about, and it then closes that connection before writing any
 * answer. So js answers nothing; our client must not be misled or hang,
 * and our own server's real dial-back decides. */
static void
test_js_server (Fixture *f, gconstpointer data)
{
  const JsServerCase *c = data;
  g_autoptr (JsonParser) parser = NULL;
  Watched *js;
  const char *js_id;
  const char *host_id;
  JsonObject *event, *reach, *answer;
  JsonArray *answers;

  lab (f, "up", c->nat_a, "edm");
  f->up = TRUE;
  js = start_js (f, "js", "pub", "/ip4/198.18.0.3/tcp/4001", NULL, NULL);
  js_id = peer_id_of (js);
  event = diagnose_with_js_server (f, "a", js_id, &parser);
  host_id = json_object_get_string_member (event, "peer_id");

  /* js itself says what it did. */
  g_assert_nonnull (wait_event (js, 0, "autonat", match_what_role, "server/request", deadline_in (5), NULL));
  g_assert_nonnull (wait_event (js, 0, "autonat", match_what_role, "server/reused", deadline_in (5), NULL));
  g_assert_nonnull (wait_event (js, 0, "connection", match_closed_by, host_id, deadline_in (5), NULL));

  reach = json_object_get_object_member (event, "reachability");
  {
    g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), reach);
    g_autofree char *text = json_to_string (node, FALSE);

    g_test_message ("reachability: %s", text);
  }
  /* No answer from js; ours, verified by its dial-back (or its failure),
   * is the only one that counts. */
  g_assert_null (answer_of (event, js_id));
  answers = json_object_get_array_member (reach, "answers");
  g_assert_cmpint (json_array_get_length (answers), ==, 1);
  answer = json_array_get_object_element (answers, 0);
  g_assert_cmpstr (json_object_get_string_member (answer, "status"), ==, c->ours_status);
  g_assert_true (json_object_get_boolean_member (answer, "verified"));
  g_assert_cmpint (json_object_get_int_member (reach, "unverified"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (reach, "status"), ==, c->reachability);
  g_assert_cmpint (json_object_get_int_member (reach, "confidence"), ==, 1);
}

typedef struct
{
  const char *name;
  const char *nat_a;     /* js on "a" */
  const char *listen;
  const char *map;       /* what @libp2p/upnp-nat would add behind a NAT */
  const char *asked;     /* the address js asks our server to dial */
  const char *status;    /* our answer, as js logs it */
  gboolean    confirmed; /* js then advertises @asked */
} JsClientCase;

static const JsClientCase js_client_cases[] = {
  { "js/client/public", "none", "/ip4/198.18.1.2/tcp/4002", NULL, "/ip4/198.18.1.2/tcp/4002", "OK", TRUE },
  { "js/client/behind-eim", "eim", "/ip4/10.0.1.2/tcp/4002", "10.0.1.2,4002,198.18.1.1",
    "/ip4/198.18.1.1/tcp/4002", "E_DIAL_ERROR", FALSE },
};

static gboolean
match_addr (JsonObject *event, gconstpointer data)
{
  return g_strcmp0 (json_object_get_string_member_with_default (event, "addr", ""), data) == 0;
}

static gboolean
addrs_hold (JsonObject *event, const char *member, const char *prefix)
{
  JsonArray *addrs;

  if (!json_object_has_member (event, member) || JSON_NODE_HOLDS_NULL (json_object_get_member (event, member)))
    return FALSE;
  addrs = json_object_get_array_member (event, member);
  for (guint i = 0; i < json_array_get_length (addrs); i++)
    if (g_str_has_prefix (json_array_get_string_element (addrs, i), prefix))
      return TRUE;
  return FALSE;
}

/* A js client asks our server: we dial back, js concludes. */
static void
test_js_client (Fixture *f, gconstpointer data)
{
  const JsClientCase *c = data;
  g_autofree char *ours_key = NULL;
  g_autofree char *ours_id = key_peer_id (f, "ours.key", &ours_key);
  g_autofree char *ours_addr = g_strdup_printf ("/ip4/198.18.0.2/tcp/4001/p2p/%s", ours_id);
  Watched *js;
  JsonObject *response, *last_addrs = NULL;
  guint at = 0;

  lab (f, "up", c->nat_a, "edm");
  f->up = TRUE;
  f->relay = start_server (f, "relay", ours_key, "listen", "/ip4/198.18.0.2/tcp/4001");
  js = start_js (f, "js", "a", c->listen, c->map, ours_addr);
  peer_id_of (js);

  g_assert_nonnull (wait_event (js, 0, "autonat", match_addr, c->asked, deadline_in (20), NULL));
  /* Behind the NAT our dial-back meets the router's drop: 15 s. */
  response = wait_event (js, 0, "autonat", match_what_role, "client/response", deadline_in (40), &at);
  g_assert_nonnull (response);
  g_assert_cmpstr (json_object_get_string_member (response, "addr"), ==, c->asked);
  g_assert_cmpstr (json_object_get_string_member (response, "status"), ==, c->status);
  if (c->confirmed)
    {
      g_assert_nonnull (wait_event (js, at, "autonat", match_what_role, "client/confirmed", deadline_in (5), NULL));
      g_assert_nonnull (wait_event (js, at, "addrs", NULL, NULL, deadline_in (5), NULL));
    }
  else
    {
      JsonObject *tally = wait_event (js, at, "autonat", match_what_role, "client/tally", deadline_in (5), NULL);

      g_assert_nonnull (tally);
      g_assert_cmpint (json_object_get_int_member (tally, "success"), ==, 0);
      g_assert_cmpint (json_object_get_int_member (tally, "failure"), ==, 1);
      /* One failure does not make js unlist an address (it needs 8 from
       * distinct /8 networks); it just stays unverified. */
      g_assert_null (find_watched (js, 0, "autonat", match_what_role, "client/confirmed", NULL));
    }
  /* What js now advertises (node.getMultiaddrs()) and holds as verified. */
  for (guint i = 0; i < js->events->len; i++)
    {
      JsonObject *event = json_node_get_object (g_ptr_array_index (js->events, i));

      if (g_strcmp0 (json_object_get_string_member (event, "event"), "addrs") == 0)
        last_addrs = event;
    }
  g_assert_nonnull (last_addrs);
  g_assert_cmpint (addrs_hold (last_addrs, "addrs", c->asked), ==, c->confirmed);
  g_assert_cmpint (addrs_hold (last_addrs, "verified", c->asked), ==, c->confirmed);
  g_assert_false (addrs_hold (last_addrs, "addrs", "/ip4/198.18.") && !c->confirmed);
}

/* ---- on loopback, no lab ---- */

/* The /ip4/127.0.0.1/… address js listens on, from its "listening" event. */
static const char *
js_loopback_addr (Watched *js)
{
  JsonObject *listening = wait_event (js, 0, "listening", NULL, NULL, deadline_in (20), NULL);
  JsonArray *addrs;

  g_assert_nonnull (listening);
  addrs = json_object_get_array_member (listening, "addrs");
  for (guint i = 0; i < json_array_get_length (addrs); i++)
    if (g_str_has_prefix (json_array_get_string_element (addrs, i), "/ip4/127.0.0.1/tcp/"))
      return json_array_get_string_element (addrs, i);
  g_assert_not_reached ();
}

static gboolean
match_peer_id (JsonObject *event, gconstpointer data)
{
  return g_strcmp0 (json_object_get_string_member_with_default (event, "peer_id", ""), data) == 0;
}

/* Our client asks js: js decodes our DIAL (it names our peer ID), refuses
 * to dial a loopback address, and we decode its DIAL_RESPONSE. */
static void
test_loopback_js_server (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GSubprocess) diagnose = NULL;
  g_autofree char *host_key = NULL;
  g_autofree char *host_id = key_peer_id (f, "host.key", &host_key);
  Watched *js = start_js (f, "js", NULL, "/ip4/127.0.0.1/tcp/0", NULL, NULL);
  const char *js_addr = js_loopback_addr (js);
  const char *js_id = peer_id_of (js);
  JsonObject *event, *reach, *answer;

  diagnose = spawn (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                    "timeout", "60", cli_bin, "--json", "--identity", host_key, "diagnose", "--peer", js_addr,
                    "--listen", "/ip4/127.0.0.1/tcp/0", "--allow-private", "--wait", "2",
                    "--min-confirmations", "1", NULL);
  g_assert_no_error (error);
  event = diagnose_event (diagnose, &parser);

  g_assert_nonnull (wait_event (js, 0, "autonat", match_peer_id, host_id, deadline_in (5), NULL));
  g_assert_nonnull (wait_event (js, 0, "autonat", match_what_role, "server/request", deadline_in (5), NULL));
  g_assert_nonnull (wait_event (js, 0, "autonat", match_what_role, "server/refused", deadline_in (5), NULL));
  reach = json_object_get_object_member (event, "reachability");
  answer = answer_of (event, js_id);
  g_assert_nonnull (answer);
  g_assert_cmpstr (json_object_get_string_member (answer, "status"), ==, "E_DIAL_REFUSED");
  g_assert_cmpstr (json_object_get_string_member (reach, "status"), ==, "unknown");
}

/* js asks our server about an address on another IP than the one its
 * request comes from: we refuse without dialling, and js decodes that. */
static void
test_loopback_js_client (Fixture *f, gconstpointer data)
{
  g_autofree char *ours_key = NULL;
  g_autofree char *ours_id = key_peer_id (f, "ours.key", &ours_key);
  g_autofree char *listening = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *ours_addr = NULL;
  JsonArray *addrs;
  JsonObject *asking, *response;
  Watched *js;

  f->relay = start_server_full (f, NULL, ours_key, "listen", "/ip4/127.0.0.1/tcp/0", &listening);
  g_assert_true (json_parser_load_from_data (parser, listening, -1, NULL));
  addrs = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "addrs");
  g_assert_cmpuint (json_array_get_length (addrs), >, 0);
  ours_addr = g_str_has_suffix (json_array_get_string_element (addrs, 0), ours_id)
                ? g_strdup (json_array_get_string_element (addrs, 0))
                : g_strdup_printf ("%s/p2p/%s", json_array_get_string_element (addrs, 0), ours_id);
  /* 198.18.0.77 is public for js through the lab's hook, and on no
   * interface here: only its text crosses the wire. */
  js = start_js (f, "js", NULL, "/ip4/127.0.0.1/tcp/0", "127.0.0.1,0,198.18.0.77", ours_addr);
  peer_id_of (js);

  asking = wait_event (js, 0, "autonat", match_what_role, "client/asking", deadline_in (20), NULL);
  g_assert_nonnull (asking);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (asking, "addr"), "/ip4/198.18.0.77/tcp/"));
  response = wait_event (js, 0, "autonat", match_what_role, "client/response", deadline_in (20), NULL);
  g_assert_nonnull (response);
  g_assert_cmpstr (json_object_get_string_member (response, "status"), ==, "E_DIAL_REFUSED");
  g_assert_null (find_watched (js, 0, "autonat", match_what_role, "client/confirmed", NULL));
}

static const char *skip_reason;
static const char *js_skip_reason;

static void
skip (void)
{
  g_test_skip (skip_reason != NULL ? skip_reason : js_skip_reason);
}

static void
skip_js (void)
{
  g_test_skip (js_skip_reason);
}

int
main (int argc, char **argv)
{
  const char *source_root = g_getenv ("PUNCH_SOURCE_ROOT");
  g_autofree char *nft = g_find_program_in_path ("nft");

  g_test_init (&argc, &argv, NULL);
  lab_control_init ();
  build_root = (char *) g_getenv ("PUNCH_BUILD_ROOT");
  if (getuid () != 0 || nft == NULL)
    skip_reason = "the NAT lab needs root and nftables";
  else if (source_root == NULL || build_root == NULL)
    skip_reason = "PUNCH_SOURCE_ROOT and PUNCH_BUILD_ROOT are unset: run under meson test";

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/lab/autonat/%s", cases[i].name);

      if (skip_reason != NULL)
        g_test_add_func (path, skip);
      else
        g_test_add (path, Fixture, &cases[i], fixture_setup, test_case, fixture_teardown);
    }
  if (skip_reason == NULL)
    {
      g_test_add ("/lab/autonat/wan-change", Fixture, NULL, fixture_setup, test_wan_change, fixture_teardown);
      g_test_add ("/lab/autonat/link-local-route", Fixture, NULL, fixture_setup, test_link_local_route,
                  fixture_teardown);
    }
  else
    {
      g_test_add_func ("/lab/autonat/wan-change", skip);
      g_test_add_func ("/lab/autonat/link-local-route", skip);
    }

  if (source_root == NULL || build_root == NULL)
    js_skip_reason = "PUNCH_SOURCE_ROOT and PUNCH_BUILD_ROOT are unset: run under meson test";
  else
    {
      g_autofree char *js_autonat = g_build_filename (source_root, "tests", "interop", "node_modules", "@libp2p",
                                                      "autonat", NULL);

      node_bin = g_build_filename (source_root, "tests", "interop", "node_modules", ".bin", "node", NULL);
      js_peer = g_build_filename (source_root, "tests", "interop", "autonat-peer.mjs", NULL);
      js_hook = g_build_filename (source_root, "tests", "lab", "lab-public-hook.mjs", NULL);
      if (!g_file_test (node_bin, G_FILE_TEST_IS_EXECUTABLE) || !g_file_test (js_autonat, G_FILE_TEST_IS_DIR))
        js_skip_reason = "js-libp2p is not installed: run `npm ci` in tests/interop";
    }
  if (js_skip_reason == NULL)
    {
      g_test_add ("/interop/autonat/loopback/js-server", Fixture, NULL, fixture_setup, test_loopback_js_server,
                  fixture_teardown);
      g_test_add ("/interop/autonat/loopback/js-client", Fixture, NULL, fixture_setup, test_loopback_js_client,
                  fixture_teardown);
    }
  else
    {
      g_test_add_func ("/interop/autonat/loopback/js-server", skip_js);
      g_test_add_func ("/interop/autonat/loopback/js-client", skip_js);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (js_server_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/lab/autonat/%s", js_server_cases[i].name);

      if (skip_reason != NULL || js_skip_reason != NULL)
        g_test_add_func (path, skip);
      else
        g_test_add (path, Fixture, &js_server_cases[i], fixture_setup, test_js_server, fixture_teardown);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (js_client_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/lab/autonat/%s", js_client_cases[i].name);

      if (skip_reason != NULL || js_skip_reason != NULL)
        g_test_add_func (path, skip);
      else
        g_test_add (path, Fixture, &js_client_cases[i], fixture_setup, test_js_client, fixture_teardown);
    }
  if (source_root != NULL && build_root != NULL)
    {
      lab_script = lab_control_script ();
      cli_bin = g_build_filename (build_root, "app", "punchline-cli", NULL);
      lab_node_bin = g_build_filename (build_root, "tests", "autonat", "punch-autonat-lab-node", NULL);
    }
  return g_test_run ();
}
