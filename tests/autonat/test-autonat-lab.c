/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The diagnosis through real NATs: each case builds the NAT lab
 * (tests/lab/lab) under a lab ID of its own, runs `punchline-cli relay` on
 * "relay" and `punchline-cli listen` on "pub" (both serve AutoNAT), then
 * `punchline-cli diagnose` on a lab host, and judges its "diagnose" event:
 * behind eim → endpoint-independent and private, behind edm →
 * endpoint-dependent and private, a public host → no NAT and public. Two
 * AutoNAT servers exist in the lab, so --min-confirmations 2. Needs root;
 * skipped otherwise. Every process runs under timeout(1) and ends by PID;
 * the lab comes down in the teardown. */
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

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
} Fixture;

static char *lab_script;
static char *cli_bin;
static char *build_root;

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

/* Starts a long-running CLI command in namespace @host and waits for its
 * "listening" event. */
static GSubprocess *
start_server (Fixture *f, const char *host, const char *key, const char *command, const char *listen)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ns = g_strdup_printf ("pl%s-%s", f->lab_id, host);
  GSubprocess *p = spawn (f, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "timeout", "150", "ip", "netns", "exec", ns,
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
        break;
    }
  return p;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  /* A lab ID of our own: other labs may run at the same time. */
  f->lab_id = g_strdup_printf ("%u", (guint) getpid () % 100000);
  f->dir = g_dir_make_tmp ("punch-autonat-lab-XXXXXX", &error);
  g_assert_no_error (error);
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

static const char *skip_reason;

static void
skip (void)
{
  g_test_skip (skip_reason);
}

int
main (int argc, char **argv)
{
  const char *source_root = g_getenv ("PUNCH_SOURCE_ROOT");
  g_autofree char *nft = g_find_program_in_path ("nft");

  g_test_init (&argc, &argv, NULL);
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
      lab_script = g_build_filename (source_root, "tests", "lab", "lab", NULL);
      cli_bin = g_build_filename (build_root, "app", "punchline-cli", NULL);
    }
  return g_test_run ();
}
