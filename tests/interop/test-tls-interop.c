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

#include "interop-harness.h"

#define COMMAND_TIMEOUT_S 90
#define EVENT_TIMEOUT_S   20
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

typedef Harness Fixture;

/* punchline-cli --security exists. */
static gboolean cli_has_security;

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
  const char *extra[] = { "--security", security, NULL };
  const char *script = kind == PEER_C ? NULL : kind == PEER_JS ? "peer.mjs" : "relay-peer.mjs";
  Child *c;
  va_list ap;

  va_start (ap, error);
  c = harness_spawnv (f, script, name, identity, security != NULL ? extra : NULL, ap, error);
  va_end (ap);
  return c;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *help = NULL;
  const char *argv[] = { NULL, "--help", NULL };

  harness_setup (f, "punch-tls-interop-XXXXXX", "peer.mjs", "relay-peer.mjs",
                 "node_modules/@libp2p/tls/package.json", NULL);
  if (!f->ready)
    return;
  /* The CLI's --security option decides whether our dialer can put TLS
   * first; without it we dial with the default order (Noise, then TLS). */
  argv[0] = f->cli;
  if (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &help, NULL, NULL, NULL))
    cli_has_security = strstr (help, "--security") != NULL;
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  harness_teardown (f);
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
  o = child_find_or_wait_event (c, "listening", NULL, NULL, EVENT_TIMEOUT_S, error);
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
  JsonObject *conn = child_find_or_wait_event (c, "connection", "state", "open", EVENT_TIMEOUT_S, &error);

  CHECK (f, conn != NULL, "%s: %s", c->name, error != NULL ? error->message : "");
  CHECK (f, g_strcmp0 (json_get_str (conn, "direction"), direction) == 0,
         "%s: direction %s", c->name, json_get_str (conn, "direction"));
  CHECK (f, g_strcmp0 (json_get_str (conn, "security"), expected) == 0,
         "%s: security %s, expected %s", c->name, json_get_str (conn, "security"), expected);
  CHECK (f, g_strcmp0 (json_get_str (conn, "muxer"), "/yamux/1.0.0") == 0,
         "%s: muxer %s", c->name, json_get_str (conn, "muxer"));
  /* Our events name the cipher too: the TLS 1.3 suite, or Noise's. */
  if (g_str_has_prefix (c->name, "C "))
    CHECK (f, g_str_has_prefix (json_get_str (conn, "cipher") ?: "", g_str_equal (expected, TLS) ? "TLS_" : "ChaChaPoly"),
           "%s: cipher %s", c->name, json_get_str (conn, "cipher"));
  g_test_message ("%s: %s connection secured by %s (%s)", c->name, direction, expected,
                  json_get_str (conn, "cipher") ?: "cipher not reported");
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
  if (dialer_kind == PEER_C && dialer_security != NULL && !cli_has_security)
    {
      if (!g_str_has_prefix (dialer_security, "noise"))
        {
          g_test_skip ("punchline-cli has no --security option to put TLS first");
          return;
        }
      /* Noise then TLS is the default order. */
      dialer_security = NULL;
    }
  if (tc->listener == PEER_C && tc->listener_security != NULL && !cli_has_security)
    {
      g_test_skip ("punchline-cli has no --security option to listen with TLS only");
      return;
    }
  g_snprintf (count, sizeof count, "%d", PING_COUNT);

  listener = start_listener (f, tc->listener, tc->listener_security, &addr, &error);
  CHECK (f, listener != NULL, "listener: %s", error->message);

  if (tc->js_key_type != NULL)
    dialer = spawn_peer (f, dialer_kind, "dial --ping", "dialer.key", dialer_security, &error,
                         "--key-type", tc->js_key_type, "dial", addr, LOOPBACK_LISTEN, "--ping", count, NULL);
  else
    dialer = spawn_peer (f, dialer_kind, "dial --ping", "dialer.key", dialer_security, &error,
                         "dial", addr, LOOPBACK_LISTEN, "--ping", count, NULL);
  CHECK (f, dialer != NULL, "spawn: %s", error->message);
  status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
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
      status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
      CHECK_COMMAND_OK (f, dialer, status, error);
      ident = child_find_event (dialer, "identify", NULL, NULL, 0);
      CHECK (f, ident != NULL, "%s: no identify event", dialer->name);
      CHECK (f, g_str_has_prefix (json_get_str (ident, "agent_version") ?: "",
                                  tc->listener == PEER_C ? "punchline/" : "js-libp2p/"),
             "%s: agent %s", dialer->name, json_get_str (ident, "agent_version"));
      CHECK (f, g_strcmp0 (json_get_str (ident, "peer_id"), strstr (addr, "/p2p/") + 5) == 0,
             "%s: identified %s", dialer->name, json_get_str (ident, "peer_id"));
      check_connection (f, dialer, "outbound", tc->expected);
      if (g_test_failed ())
        return;

      dialer = spawn_peer (f, dialer_kind, "perf", "dialer.key", dialer_security, &error,
                           "perf", addr, "--upload", PERF_BYTES, "--download", PERF_BYTES, NULL);
      CHECK (f, dialer != NULL, "spawn: %s", error->message);
      status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
      CHECK_COMMAND_OK (f, dialer, status, error);
      perf = child_find_event (dialer, "perf", NULL, NULL, 0);
      CHECK (f, perf != NULL, "%s: no perf event", dialer->name);
      CHECK (f, json_get_int (perf, "uploaded") == PERF_BYTES_N && json_get_int (perf, "downloaded") == PERF_BYTES_N,
             "%s: uploaded %" G_GINT64_FORMAT ", downloaded %" G_GINT64_FORMAT, dialer->name,
             json_get_int (perf, "uploaded"), json_get_int (perf, "downloaded"));
      check_connection (f, dialer, "outbound", tc->expected);
      if (g_test_failed ())
        return;
      g_test_message ("perf over %s: 10 MiB up in %.3f s, down in %.3f s", tc->expected,
                      json_object_get_double_member_with_default (perf, "upload_seconds", -1),
                      json_object_get_double_member_with_default (perf, "download_seconds", -1));
    }

  status = child_stop (listener, SIGTERM);
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
  JsonObject *o = child_find_or_wait_event (c, name, NULL, NULL, EVENT_TIMEOUT_S, error);

  if (o == NULL)
    return NULL;
  if (json_get_str (o, member) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s event without %s", c->name, name, member);
      return NULL;
    }
  return g_strdup (json_get_str (o, member));
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

  if (c == NULL || (o = child_find_or_wait_event (c, "listening", NULL, NULL, EVENT_TIMEOUT_S, error)) == NULL)
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

      if (g_strcmp0 (json_get_str (o, "event"), "connection") == 0 && g_strcmp0 (json_get_str (o, "state"), "open") == 0 &&
          json_get_bool (o, "relayed"))
        conn = o;
    }
  while (conn == NULL)
    {
      JsonObject *o = child_next_event (c, deadline, &error);

      CHECK (f, o != NULL, "%s: no relayed connection: %s", c->name, error != NULL ? error->message : "output ended");
      if (g_strcmp0 (json_get_str (o, "event"), "connection") == 0 && g_strcmp0 (json_get_str (o, "state"), "open") == 0 &&
          json_get_bool (o, "relayed"))
        conn = o;
    }
  CHECK (f, g_strcmp0 (json_get_str (conn, "security"), expected) == 0,
         "%s: relayed connection secured by %s, expected %s", c->name, json_get_str (conn, "security"), expected);
  CHECK (f, g_strcmp0 (json_get_str (conn, "muxer"), "/yamux/1.0.0") == 0,
         "%s: relayed muxer %s", c->name, json_get_str (conn, "muxer"));
  g_test_message ("%s: relayed %s connection secured by %s", c->name, json_get_str (conn, "direction"), expected);
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
                       "dial", addr, LOOPBACK_LISTEN, "--ping", "3", NULL);
  CHECK (f, dialer != NULL, "spawn: %s", error->message);
  status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
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
                       "dial", addr, LOOPBACK_LISTEN, "--ping", "3", NULL);
  CHECK (f, dialer != NULL, "spawn: %s", error->message);
  status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
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
  harness_install_signal_handlers ();

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
