/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * punchline-cli (PUNCH_CLI) as a user runs it: `listen --expose --allow` and
 * `forward … --local 127.0.0.1:0` as subprocesses, a TCP echo target and a
 * TCP client in this process.
 */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "forward-test-util.h"
#include "../protocols/protocols-test-util.h"

#define EVENT_TIMEOUT_S 20
#define CHUNK 65536

typedef struct
{
  const char     *cli;
  char           *dir;
  GSocketService *echo;
  char           *echo_addr;
  guint           echo_accepted;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr (GError) error = NULL;

  f->cli = g_getenv ("PUNCH_CLI");
  f->dir = g_dir_make_tmp ("punch-forward-cli-XXXXXX", &error);
  g_assert_no_error (error);
  f->echo = fwd_echo_start ("127.0.0.1:0", &f->echo_accepted, &f->echo_addr, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;

  g_clear_pointer (&f->echo, fwd_echo_stop);
  g_free (f->echo_addr);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
}

/* --- subprocesses --------------------------------------------------------- */

static FwdProc *
proc_start (Fixture *f,
            ...) G_GNUC_NULL_TERMINATED;

/* punchline-cli --json ARGS… */
static FwdProc *
proc_start (Fixture *f,
            ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const char *arg;
  va_list args;

  g_ptr_array_add (argv, (gpointer) f->cli);
  g_ptr_array_add (argv, "--json");
  va_start (args, f);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  return fwd_proc_spawn ("cli", (const char * const *) argv->pdata, NULL, FWD_PROC_DEFAULT);
}

static JsonObject *
proc_wait_event (FwdProc    *p,
                 const char *name,
                 guint       nth)
{
  return fwd_proc_wait (p, name, NULL, NULL, nth, EVENT_TIMEOUT_S);
}

static void
proc_interrupt (FwdProc *p)
{
  fwd_proc_interrupt (p, EVENT_TIMEOUT_S);
}

static char *
peer_id_of (Fixture    *f,
            const char *key)
{
  g_autoptr (FwdProc) p = proc_start (f, "--identity", key, "id", NULL);
  JsonObject *id = proc_wait_event (p, "id", 0);

  return g_strdup (json_object_get_string_member (id, "peer_id"));
}

/* Connects to @local, sends @size bytes, half-closes and reads to EOF. */
static GByteArray *
exchange (const char *local,
          gsize       size)
{
  g_autoptr (GSocketClient) sc = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *data = g_malloc (size);
  GByteArray *received = g_byte_array_new ();
  guint8 buf[CHUNK];
  gsize written = 0;
  gboolean eof = FALSE;
  GSocket *sock;

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) (i * 7 + (i >> 11));
  g_socket_client_connect_to_host_async (sc, local, 0, NULL, ptest_store_result, &result);
  PTEST_WAIT (result != NULL);
  conn = g_socket_client_connect_to_host_finish (sc, result, &error);
  g_assert_no_error (error);
  sock = g_socket_connection_get_socket (conn);
  g_socket_set_blocking (sock, FALSE);
  /* Interleaved non-blocking writes and reads, so that neither side's
   * buffers fill up while the other waits. */
  {
    gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

    while (!eof)
      {
        gssize n;

        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        if (written < size)
          {
            n = g_socket_send (sock, (const char *) data + written, MIN (CHUNK, size - written), NULL, NULL);
            if (n > 0)
              {
                written += n;
                if (written == size)
                  g_assert_true (g_socket_shutdown (sock, FALSE, TRUE, NULL));
              }
          }
        n = g_socket_receive (sock, (char *) buf, sizeof buf, NULL, &error);
        if (n > 0)
          g_byte_array_append (received, buf, n);
        else if (n == 0)
          eof = TRUE;
        else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
          {
            g_clear_error (&error);
            g_main_context_iteration (NULL, FALSE);
            g_usleep (200);
          }
        else
          g_error ("receive: %s", error->message);
      }
  }
  if (size > 0 && received->len == size)
    g_assert_cmpmem (received->data, received->len, data, size);
  return received;
}

static void
test_forward_cli (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *a_key = g_build_filename (f->dir, "a.key", NULL);
  g_autofree char *b_key = g_build_filename (f->dir, "b.key", NULL);
  g_autofree char *c_key = g_build_filename (f->dir, "c.key", NULL);
  g_autofree char *b_id = NULL;
  g_autofree char *c_id = NULL;
  g_autofree char *expose = NULL;
  g_autofree char *addr = NULL;
  g_autofree char *local = NULL;
  g_autoptr (FwdProc) a = NULL;
  g_autoptr (FwdProc) b = NULL;
  g_autoptr (FwdProc) c = NULL;
  g_autoptr (GByteArray) echoed = NULL;
  g_autoptr (GByteArray) refused = NULL;
  JsonObject *event;
  const gsize size = 1024 * 1024;

  if (f->cli == NULL)
    {
      g_test_skip ("PUNCH_CLI is not set (run with meson test)");
      return;
    }
  b_id = peer_id_of (f, b_key);
  c_id = peer_id_of (f, c_key);
  expose = g_strdup_printf ("echo=%s", f->echo_addr);
  a = proc_start (f, "--identity", a_key, "listen", "--listen", "/ip4/127.0.0.1/tcp/0",
                  "--expose", expose, "--allow", b_id, NULL);
  event = proc_wait_event (a, "listening", 0);
  addr = g_strdup (json_array_get_string_element (json_object_get_array_member (event, "addrs"), 0));
  event = proc_wait_event (a, "expose", 0);
  g_assert_cmpstr (json_object_get_string_member (event, "service"), ==, "echo");
  g_assert_cmpstr (json_object_get_string_member (event, "target"), ==, f->echo_addr);
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (event, "allowed"), 0), ==, b_id);

  /* The allowed peer: bytes make the round trip. */
  b = proc_start (f, "--identity", b_key, "forward", addr, "echo", "--local", "127.0.0.1:0", NULL);
  event = proc_wait_event (b, "forwarding", 0);
  local = g_strdup (json_object_get_string_member (event, "local"));
  g_assert_true (g_str_has_prefix (local, "127.0.0.1:"));
  g_assert_cmpstr (local, !=, "127.0.0.1:0");
  echoed = exchange (local, size);
  g_assert_cmpuint (echoed->len, ==, size);
  event = proc_wait_event (b, "forward-open", 0);
  g_assert_cmpstr (fwd_event_str (event, "path"), ==, "direct");
  g_assert_cmpstr (fwd_event_str (event, "direction"), ==, "outbound");
  g_assert_true (g_str_has_prefix (fwd_event_str (event, "remote"), "/ip4/127.0.0.1/tcp/"));
  event = proc_wait_event (a, "forward-open", 0);
  g_assert_cmpstr (fwd_event_str (event, "direction"), ==, "inbound");
  g_assert_cmpstr (fwd_event_str (event, "peer_id"), ==, b_id);
  event = proc_wait_event (b, "forward", 0);
  g_assert_cmpstr (json_object_get_string_member (event, "outcome"), ==, "ok");
  g_assert_cmpstr (json_object_get_string_member (event, "direction"), ==, "outbound");
  g_assert_cmpint (json_object_get_int_member (event, "bytes_out"), ==, size);
  g_assert_cmpint (json_object_get_int_member (event, "bytes_in"), ==, size);
  event = proc_wait_event (a, "forward", 0);
  g_assert_cmpstr (json_object_get_string_member (event, "outcome"), ==, "ok");
  g_assert_cmpstr (json_object_get_string_member (event, "peer_id"), ==, b_id);
  g_assert_cmpuint (f->echo_accepted, ==, 1);
  proc_interrupt (b);

  /* A peer not on the allow list: refused on both sides, nothing reaches the target. */
  c = proc_start (f, "--identity", c_key, "forward", addr, "echo", NULL);
  event = proc_wait_event (c, "forwarding", 0);
  g_free (local);
  local = g_strdup (json_object_get_string_member (event, "local"));
  refused = exchange (local, 0);
  g_assert_cmpuint (refused->len, ==, 0);
  event = proc_wait_event (c, "forward", 0);
  g_assert_cmpstr (json_object_get_string_member (event, "outcome"), ==, "not-allowed");
  /* A refused stream never opened: no path to report. */
  g_assert_null (fwd_proc_find (c, "forward-open", NULL, NULL, 0));
  event = proc_wait_event (a, "forward", 1);
  g_assert_cmpstr (json_object_get_string_member (event, "outcome"), ==, "not-allowed");
  g_assert_cmpstr (json_object_get_string_member (event, "peer_id"), ==, c_id);
  g_assert_cmpuint (f->echo_accepted, ==, 1);
  proc_interrupt (c);
  proc_interrupt (a);
}

/* --allow NAME:PEER_ID lets that peer use that service only; the expose
 * events list who may use each. */
static void
test_forward_cli_per_service (Fixture       *f,
                              gconstpointer  data)
{
  g_autofree char *a_key = g_build_filename (f->dir, "a.key", NULL);
  g_autofree char *b_key = g_build_filename (f->dir, "b.key", NULL);
  g_autofree char *b_id = NULL;
  g_autofree char *expose_echo = NULL;
  g_autofree char *expose_other = NULL;
  g_autofree char *allow = NULL;
  g_autofree char *addr = NULL;
  g_autoptr (FwdProc) a = NULL;
  g_autoptr (FwdProc) b = NULL;
  g_autoptr (FwdProc) b2 = NULL;
  g_autoptr (GByteArray) echoed = NULL;
  g_autoptr (GByteArray) refused = NULL;
  JsonObject *event;
  JsonArray *allowed;

  if (f->cli == NULL)
    {
      g_test_skip ("PUNCH_CLI is not set (run with meson test)");
      return;
    }
  b_id = peer_id_of (f, b_key);
  expose_echo = g_strdup_printf ("echo=%s", f->echo_addr);
  expose_other = g_strdup_printf ("other=%s", f->echo_addr);
  allow = g_strdup_printf ("echo:%s", b_id);
  a = proc_start (f, "--identity", a_key, "listen", "--listen", "/ip4/127.0.0.1/tcp/0",
                  "--expose", expose_echo, "--expose", expose_other, "--allow", allow, NULL);
  event = proc_wait_event (a, "listening", 0);
  addr = g_strdup (json_array_get_string_element (json_object_get_array_member (event, "addrs"), 0));
  event = fwd_proc_wait (a, "expose", "service", "echo", 0, EVENT_TIMEOUT_S);
  allowed = json_object_get_array_member (event, "allowed");
  g_assert_cmpuint (json_array_get_length (allowed), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (allowed, 0), ==, b_id);
  event = fwd_proc_wait (a, "expose", "service", "other", 0, EVENT_TIMEOUT_S);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (event, "allowed")), ==, 0);

  b = proc_start (f, "--identity", b_key, "forward", addr, "echo", NULL);
  event = proc_wait_event (b, "forwarding", 0);
  echoed = exchange (fwd_event_str (event, "local"), 4096);
  g_assert_cmpuint (echoed->len, ==, 4096);
  event = proc_wait_event (b, "forward", 0);
  g_assert_cmpstr (fwd_event_str (event, "outcome"), ==, "ok");

  b2 = proc_start (f, "--identity", b_key, "forward", addr, "other", NULL);
  event = proc_wait_event (b2, "forwarding", 0);
  refused = exchange (fwd_event_str (event, "local"), 0);
  g_assert_cmpuint (refused->len, ==, 0);
  event = proc_wait_event (b2, "forward", 0);
  g_assert_cmpstr (fwd_event_str (event, "outcome"), ==, "not-allowed");
  event = fwd_proc_wait (a, "forward", "service", "other", 0, EVENT_TIMEOUT_S);
  g_assert_cmpstr (fwd_event_str (event, "outcome"), ==, "not-allowed");
  g_assert_cmpuint (f->echo_accepted, ==, 1);
  proc_interrupt (b2);
  proc_interrupt (b);
  proc_interrupt (a);
}

/* The exposing peer restarts: forward dials it again for the next local
 * connection instead of failing it. */
static void
test_forward_cli_redial (Fixture       *f,
                         gconstpointer  data)
{
  g_autofree char *a_key = g_build_filename (f->dir, "a.key", NULL);
  g_autofree char *b_key = g_build_filename (f->dir, "b.key", NULL);
  g_autofree char *b_id = NULL;
  g_autofree char *expose = NULL;
  g_autofree char *addr = NULL;
  g_autofree char *listen = NULL;
  g_autofree char *local = NULL;
  g_autoptr (FwdProc) a = NULL;
  g_autoptr (FwdProc) a2 = NULL;
  g_autoptr (FwdProc) b = NULL;
  g_autoptr (GByteArray) first = NULL;
  g_autoptr (GByteArray) second = NULL;
  JsonObject *event;
  const gsize size = 256 * 1024;

  if (f->cli == NULL)
    {
      g_test_skip ("PUNCH_CLI is not set (run with meson test)");
      return;
    }
  b_id = peer_id_of (f, b_key);
  expose = g_strdup_printf ("echo=%s", f->echo_addr);
  a = proc_start (f, "--identity", a_key, "listen", "--listen", "/ip4/127.0.0.1/tcp/0",
                  "--expose", expose, "--allow", b_id, NULL);
  event = proc_wait_event (a, "listening", 0);
  addr = g_strdup (json_array_get_string_element (json_object_get_array_member (event, "addrs"), 0));
  g_assert_nonnull (strstr (addr, "/p2p/"));
  listen = g_strndup (addr, strstr (addr, "/p2p/") - addr);

  b = proc_start (f, "--identity", b_key, "forward", addr, "echo", NULL);
  event = proc_wait_event (b, "forwarding", 0);
  local = g_strdup (fwd_event_str (event, "local"));
  first = exchange (local, size);
  g_assert_cmpuint (first->len, ==, size);

  /* The peer goes away; forward stays. */
  proc_interrupt (a);
  fwd_proc_wait (b, "connection", "state", "closed", 0, EVENT_TIMEOUT_S);
  a2 = proc_start (f, "--identity", a_key, "listen", "--listen", listen,
                   "--expose", expose, "--allow", b_id, NULL);
  proc_wait_event (a2, "expose", 0);

  second = exchange (local, size);
  g_assert_cmpuint (second->len, ==, size);
  event = proc_wait_event (b, "reconnected", 0);
  g_assert_cmpstr (fwd_event_str (event, "peer_id"), !=, NULL);
  g_assert_cmpstr (fwd_event_str (event, "path"), ==, "direct");
  event = proc_wait_event (b, "forward", 1);
  g_assert_cmpstr (fwd_event_str (event, "outcome"), ==, "ok");
  g_assert_cmpint (fwd_event_int (event, "bytes_in"), ==, size);
  g_assert_cmpuint (f->echo_accepted, ==, 2);
  proc_interrupt (b);
  proc_interrupt (a2);
}

static void
test_forward_cli_usage (Fixture       *f,
                        gconstpointer  data)
{
  static const char *cases[][6] = {
    { "listen", "--expose", "noequals", NULL },
    { "listen", "--expose", "bad name=127.0.0.1:1", NULL },
    { "listen", "--expose", "x=127.0.0.1", NULL },
    { "listen", "--expose", "x=127.0.0.1:1", "--allow", "not-a-peer", NULL },
    { "listen", "--expose", "x=127.0.0.1:1", "--allow", "y:12D3KooWRLxacLR4YnWdb3kWQp49KHvC1xLtRUf28VzGcyy9Q9Kb", NULL },
    { "listen", "--expose", "x=127.0.0.1:1", "--allow", "bad name:12D3KooWRLxacLR4YnWdb3kWQp49KHvC1xLtRUf28VzGcyy9Q9Kb", NULL },
    { "forward", "/ip4/127.0.0.1/tcp/1", "x", "--listen", "not-a-multiaddr", NULL },
    { "forward", "/ip4/127.0.0.1/tcp/1", NULL },
    { "forward", "/ip4/127.0.0.1/tcp/1", "bad/name", NULL },
  };

  if (f->cli == NULL)
    {
      g_test_skip ("PUNCH_CLI is not set (run with meson test)");
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GPtrArray) argv = g_ptr_array_new ();
      g_autoptr (GSubprocess) proc = NULL;
      g_autoptr (GAsyncResult) result = NULL;
      g_autoptr (GError) error = NULL;

      g_ptr_array_add (argv, (gpointer) f->cli);
      for (guint j = 0; j < G_N_ELEMENTS (cases[i]) && cases[i][j] != NULL; j++)
        g_ptr_array_add (argv, (gpointer) cases[i][j]);
      g_ptr_array_add (argv, NULL);
      proc = g_subprocess_newv ((const char * const *) argv->pdata,
                                G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
      g_assert_no_error (error);
      g_subprocess_wait_async (proc, NULL, ptest_store_result, &result);
      PTEST_WAIT_SECONDS (result != NULL, EVENT_TIMEOUT_S);
      g_assert_true (g_subprocess_get_if_exited (proc));
      if (g_subprocess_get_exit_status (proc) != 2)
        g_error ("case %u (%s %s): status %d, expected 2", i, cases[i][0], cases[i][1],
                 g_subprocess_get_exit_status (proc));
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/core/forward-cli/usage", Fixture, NULL, fixture_setup, test_forward_cli_usage, fixture_teardown);
  g_test_add ("/core/forward-cli/expose-and-forward", Fixture, NULL, fixture_setup, test_forward_cli, fixture_teardown);
  g_test_add ("/core/forward-cli/per-service-allow", Fixture, NULL, fixture_setup, test_forward_cli_per_service, fixture_teardown);
  g_test_add ("/core/forward-cli/redial", Fixture, NULL, fixture_setup, test_forward_cli_redial, fixture_teardown);
  return g_test_run ();
}
