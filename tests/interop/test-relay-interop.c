/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Circuit Relay v2 interop with unmodified js-libp2p 3 (@libp2p/circuit-relay-v2
 * as pinned by package-lock.json) over loopback TCP:
 *
 *   /interop/relay/c-listener/js-relay       our listener reserves on a js
 *     relay; a js dialer reaches it: identify, 5 pings, an application
 *     protocol that opts into limited connections, and a refusal (not a
 *     hang) for one that does not
 *   /interop/relay/js-listener/c-relay       a js listener reserves on our
 *     relay; a js dialer and our dialer each reach it
 *   /interop/relay/c-dialer/js-relay         our dialer → js relay → js listener
 *   /interop/relay/limit/data, …/duration    our relay's limits reset the
 *     circuit; both ends see it, the relay says which limit
 *   /interop/relay/restart/js-relay, …/c-relay   a relay restarts on the same
 *     port and key: our listener reserves again within 5 s and the relayed
 *     address it advertised works again for a js dialer
 *
 * `punchline-cli --json` (PUNCH_CLI) and tests/interop/relay-peer.mjs print
 * JSON-lines events (docs/cli-events.md). Every child is killed by PID in
 * the teardown, and by the kernel if this program dies.
 */
#include <signal.h>
#include <string.h>

#include "interop-harness.h"

#define EVENT_TIMEOUT_S   20
#define COMMAND_TIMEOUT_S 60
#define STOP_TIMEOUT_S    10
#define REBOOK_DEADLINE_S 5

typedef enum
{
  PEER_C,
  PEER_JS,
} PeerKind;

typedef Harness Fixture;

static Child *
spawn (Fixture    *f,
       PeerKind    kind,
       const char *name,
       const char *identity,
       ...)
{
  g_autoptr (GError) error = NULL;
  Child *c;
  va_list ap;

  va_start (ap, identity);
  c = harness_spawnv (f, kind == PEER_C ? NULL : "relay-peer.mjs", name, identity, NULL, ap, &error);
  va_end (ap);
  g_assert_no_error (error);
  return c;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  harness_setup (f, "punch-relay-interop-XXXXXX", "relay-peer.mjs", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  harness_teardown (f);
}

/* A relay on 127.0.0.1 (extra arguments after "relay"); its address with /p2p. */
static Child *
start_relay (Fixture *f, PeerKind kind, const char *identity, char **addr, GError **error,
             const char *arg1, const char *arg2, const char *arg3, const char *arg4)
{
  Child *c = spawn (f, kind, "relay", identity, "relay", "--listen", "/ip4/127.0.0.1/tcp/0",
                    arg1, arg2, arg3, arg4, NULL);
  JsonObject *o = child_wait_event (c, "listening", NULL, NULL, EVENT_TIMEOUT_S, error);

  if (o == NULL)
    return NULL;
  *addr = json_addr_with_prefix (o, "addrs", "/ip4/127.0.0.1/tcp/");
  if (*addr == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: no loopback address", c->name);
  return c;
}

/* A listener reserved on @relay; its relayed address. */
static Child *
start_relayed_listener (Fixture *f, PeerKind kind, const char *relay, char **addr, GError **error)
{
  Child *c;
  JsonObject *o;

  if (kind == PEER_C)
    c = spawn (f, kind, "listener", "listener.key", "listen", "--listen", "/ip4/127.0.0.1/tcp/0",
               "--echo", "--perf", "--relay", relay, NULL);
  else
    c = spawn (f, kind, "listener", "listener.key", "listen", "--relay", relay, NULL);
  o = child_wait_event (c, "reserved", NULL, NULL, EVENT_TIMEOUT_S, error);
  if (o == NULL)
    return NULL;
  *addr = g_strdup (json_get_str (o, "addr"));
  if (*addr == NULL || strstr (*addr, "/p2p-circuit/p2p/") == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: reserved without a relayed address", c->name);
  return c;
}

/* A relayed connection event with @state already read. (transfer none) */
static JsonObject *
find_relayed (Child *c, const char *state)
{
  for (guint i = 0; i < c->events->len; i++)
    {
      JsonObject *o = json_node_get_object (g_ptr_array_index (c->events, i));

      if (json_event_is (o, "connection", "state", state) && json_get_bool (o, "relayed"))
        return o;
    }
  return NULL;
}

/* Reads until a relayed connection event with @state. (transfer none) */
static JsonObject *
wait_relayed (Child *c, const char *state, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + EVENT_TIMEOUT_S * G_USEC_PER_SEC;
  JsonObject *o = find_relayed (c, state);

  while (o == NULL)
    {
      o = child_next_event (c, deadline, error);
      if (o == NULL)
        {
          if (*error == NULL)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s: ended", c->name);
          return NULL;
        }
      if (!json_event_is (o, "connection", "state", state) || !json_get_bool (o, "relayed"))
        o = NULL;
    }
  return o;
}

/* Checks a finished C dial --ping N. */
static gboolean
c_dial_ok (Child *c, guint pings)
{
  JsonObject *result = child_find_event (c, "result", NULL, NULL, 0);
  JsonObject *conn = find_relayed (c, "open");

  return json_get_bool (result, "ok") && json_get_int (result, "received") == (gint64) pings
         && json_get_bool (conn, "relayed") && json_get_bool (conn, "limited");
}

/* --- cases --------------------------------------------------------------- */

static void
test_c_listener_js_relay (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *relay_addr = NULL;
  g_autofree char *addr = NULL;
  Child *listener, *dialer;
  JsonObject *o;
  int status;

  if (!f->ready)
    return;
  start_relay (f, PEER_JS, "relay.key", &relay_addr, &error, NULL, NULL, NULL, NULL);
  CHECK_NO_ERROR (f, error);
  listener = start_relayed_listener (f, PEER_C, relay_addr, &addr, &error);
  CHECK_NO_ERROR (f, error);
  o = child_find_event (listener, "reserved", NULL, NULL, 0);
  /* js signs its vouchers as the spec says, and limits circuits by default. */
  CHECK (f, g_strcmp0 (json_get_str (o, "voucher"), "valid") == 0, "js relay's voucher: %s", json_get_str (o, "voucher"));
  CHECK (f, json_object_get_member (o, "limit") != NULL && JSON_NODE_HOLDS_OBJECT (json_object_get_member (o, "limit")),
         "the js relay sets a limit");

  dialer = spawn (f, PEER_JS, "dialer", "dialer.key", "dial", addr, LOOPBACK_LISTEN, "--ping", "5", "--echo", "5", "--perf", "4096", NULL);
  status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, status == 0, "js dialer exit status %d", status);
  o = child_find_event (dialer, "result", NULL, NULL, 0);
  CHECK (f, json_get_bool (o, "ok") && json_get_bool (o, "relayed") && json_get_bool (o, "limited"), "relayed, limited, ok");
  CHECK (f, child_count_events (dialer, "ping") == 5, "5 pings");
  CHECK (f, child_find_event (dialer, "identify", "agent_version", "punchline/0.1.0", 0) != NULL, "identify of the C listener");
  o = child_find_event (dialer, "echo", NULL, NULL, 0);
  CHECK (f, json_get_int (o, "bytes") == 5 * 64, "the opted-in protocol ran on the limited connection");
  /* perf did not opt in: refused at once, not a hang. */
  o = child_find_event (dialer, "error", NULL, NULL, 0);
  CHECK (f, o != NULL && strstr (json_get_str (o, "message"), "/perf/1.0.0") != NULL && json_get_int (o, "after_ms") < 5000,
         "perf refused on the limited connection: %s", json_get_str (o, "message"));

  o = wait_relayed (listener, "open", &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, o != NULL && json_get_bool (o, "limited") && g_strcmp0 (json_get_str (o, "direction"), "inbound") == 0,
         "the C listener saw an inbound relayed, limited connection");
  status = child_stop (listener, SIGTERM);
  CHECK (f, status == 0, "listener exit status %d", status);
}

static void
test_js_listener_c_relay (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *relay_addr = NULL;
  g_autofree char *addr = NULL;
  Child *relay, *js_dialer, *c_dialer;
  JsonObject *o;
  int status;

  if (!f->ready)
    return;
  relay = start_relay (f, PEER_C, "relay.key", &relay_addr, &error, NULL, NULL, NULL, NULL);
  CHECK_NO_ERROR (f, error);
  start_relayed_listener (f, PEER_JS, relay_addr, &addr, &error);
  CHECK_NO_ERROR (f, error);
  o = child_wait_event (relay, "reservation", "state", "opened", EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);

  js_dialer = spawn (f, PEER_JS, "dialer", "js-dialer.key", "dial", addr, LOOPBACK_LISTEN, "--ping", "5", NULL);
  status = child_run (js_dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  o = child_find_event (js_dialer, "result", NULL, NULL, 0);
  CHECK (f, status == 0 && json_get_bool (o, "ok") && json_get_bool (o, "relayed") && json_get_bool (o, "limited"),
         "js dialer through our relay");
  CHECK (f, child_count_events (js_dialer, "ping") == 5, "5 pings");

  c_dialer = spawn (f, PEER_C, "dialer", "c-dialer.key", "--timeout", "30", "dial", addr, LOOPBACK_LISTEN, "--ping", "5", NULL);
  status = child_run (c_dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, status == 0 && c_dial_ok (c_dialer, 5), "C dialer through our relay");
  CHECK (f, child_find_event (c_dialer, "identify", NULL, NULL, 1) != NULL, "identify of the js listener");

  /* One circuit each. */
  for (guint i = 0; i < 2; i++)
    {
      o = child_wait_event (relay, "circuit", "state", "opened", EVENT_TIMEOUT_S, &error);
      CHECK_NO_ERROR (f, error);
      CHECK (f, g_strcmp0 (json_get_str (o, "dst"), json_get_str (child_find_event (relay, "reservation", "state", "opened", 0),
                                                         "peer_id")) == 0, "a circuit to the js listener");
    }
  status = child_stop (relay, SIGTERM);
  CHECK (f, status == 0, "C relay exit status %d", status);
}

/* Ours end to end, and the events the NAT lab reads: reservation
 * transitions, reserved, circuit, and a holepunch per side (on loopback
 * there is no public address, so each ends failed with a reason). */
static void
test_c_only (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *relay_addr = NULL;
  g_autofree char *addr = NULL;
  Child *relay, *listener, *dialer;
  JsonObject *o;
  int status;

  if (!f->ready)
    return;
  relay = start_relay (f, PEER_C, "relay.key", &relay_addr, &error, NULL, NULL, NULL, NULL);
  CHECK_NO_ERROR (f, error);
  o = child_wait_event (relay, "relay", NULL, NULL, EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, json_get_int (o, "reservation_ttl") == 3600 && json_get_int (o, "max_reservations") == 128,
         "relay settings: go's defaults");
  listener = start_relayed_listener (f, PEER_C, relay_addr, &addr, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, child_find_event (listener, "reservation", "state", "reserving", 0) != NULL, "reserving before reserved");
  o = child_find_event (listener, "reserved", NULL, NULL, 0);
  CHECK (f, g_strcmp0 (json_get_str (o, "voucher"), "valid") == 0 && json_get_int (o, "expires_in") > 3500,
         "our voucher checks out, one hour");

  dialer = spawn (f, PEER_C, "dialer", "dialer.key", "--timeout", "30", "dial", addr, LOOPBACK_LISTEN, "--ping", "3", "--hold", "3", NULL);
  status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, status == 0 && c_dial_ok (dialer, 3), "C → C relay → C");
  o = child_find_event (dialer, "holepunch", "role", "A", 0);
  CHECK (f, o != NULL && json_object_has_member (o, "state") && json_object_has_member (o, "attempt")
            && json_object_has_member (o, "rtt_ms") && json_object_has_member (o, "outcome")
            && json_object_has_member (o, "error"), "a holepunch event as documented on the dialer");

  wait_relayed (listener, "open", &error);
  CHECK_NO_ERROR (f, error);
  o = child_wait_event (listener, "holepunch", "state", "failed", EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, g_strcmp0 (json_get_str (o, "role"), "B") == 0 && json_get_str (o, "error") != NULL
            && g_strcmp0 (json_get_str (o, "outcome"), "unknown") != 0, "the listener's punch ended with a reason");
  o = child_wait_event (relay, "circuit", "state", "closed", EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, json_get_int (o, "bytes_to_dst") > 0 && json_get_int (o, "bytes_to_src") > 0, "byte counts");
  status = child_stop (listener, SIGTERM);
  CHECK (f, status == 0, "listener exit status %d", status);
  status = child_stop (relay, SIGTERM);
  CHECK (f, status == 0, "relay exit status %d", status);
}

static void
test_c_dialer_js_relay (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *relay_addr = NULL;
  g_autofree char *addr = NULL;
  Child *dialer;
  int status;

  if (!f->ready)
    return;
  start_relay (f, PEER_JS, "relay.key", &relay_addr, &error, NULL, NULL, NULL, NULL);
  CHECK_NO_ERROR (f, error);
  start_relayed_listener (f, PEER_JS, relay_addr, &addr, &error);
  CHECK_NO_ERROR (f, error);
  dialer = spawn (f, PEER_C, "dialer", "dialer.key", "--timeout", "30", "dial", addr, LOOPBACK_LISTEN, "--ping", "5", NULL);
  status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, status == 0 && c_dial_ok (dialer, 5), "C dialer → js relay → js listener");
}

static void
test_limit_data (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *relay_addr = NULL;
  g_autofree char *addr = NULL;
  Child *relay, *listener, *dialer;
  JsonObject *o;
  int status;

  if (!f->ready)
    return;
  relay = start_relay (f, PEER_C, "relay.key", &relay_addr, &error, "--limit-data", "16K", NULL, NULL);
  CHECK_NO_ERROR (f, error);
  listener = start_relayed_listener (f, PEER_JS, relay_addr, &addr, &error);
  CHECK_NO_ERROR (f, error);

  /* ~60 bytes per ping each way once secured: the budget goes before 2000. */
  dialer = spawn (f, PEER_C, "dialer", "dialer.key", "--timeout", "30", "dial", addr, LOOPBACK_LISTEN, "--ping", "2000", NULL);
  status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  o = child_find_event (dialer, "result", NULL, NULL, 0);
  CHECK (f, status == 1 && !json_get_bool (o, "ok") && json_get_int (o, "received") < 2000, "the circuit was cut");
  o = find_relayed (dialer, "closed");
  CHECK (f, o != NULL && json_get_str (o, "error") != NULL,
         "our dialer saw its relayed connection reset");
  /* Its relay budget: the whole limit at first, one direction spent at the end. */
  {
    guint n = child_count_events (dialer, "relay_budget");
    JsonObject *first = child_find_event (dialer, "relay_budget", NULL, NULL, 0);
    JsonObject *last = child_find_event (dialer, "relay_budget", NULL, NULL, MAX (n, 1) - 1);

    CHECK (f, n >= 2, "%u relay_budget events", n);
    CHECK (f, g_strcmp0 (json_get_str (first, "state"), "open") == 0 && json_get_int (first, "remaining_send") > 0
              && json_get_int (first, "remaining_send") <= 16384,
           "the first budget event: %s, %" G_GINT64_FORMAT " bytes left to send", json_get_str (first, "state"),
           json_get_int (first, "remaining_send"));
    CHECK (f, g_strcmp0 (json_get_str (last, "state"), "closed") == 0
              && MIN (json_get_int (last, "remaining_send"), json_get_int (last, "remaining_receive")) == 0,
           "the last budget event: %s, %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT " bytes left",
           json_get_str (last, "state"), json_get_int (last, "remaining_send"),
           json_get_int (last, "remaining_receive"));
  }

  o = child_wait_event (relay, "circuit", "state", "closed", EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, g_strcmp0 (json_get_str (o, "limit_hit"), "data") == 0, "the relay says: %s", json_get_str (o, "reason"));
  CHECK (f, json_get_int (o, "bytes_to_dst") <= 16384 && json_get_int (o, "bytes_to_src") <= 16384
            && MAX (json_get_int (o, "bytes_to_dst"), json_get_int (o, "bytes_to_src")) == 16384,
         "exactly the budget relayed: %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT,
         json_get_int (o, "bytes_to_dst"), json_get_int (o, "bytes_to_src"));
  wait_relayed (listener, "closed", &error);
  CHECK_NO_ERROR (f, error);
  status = child_stop (relay, SIGTERM);
  CHECK (f, status == 0, "C relay exit status %d", status);
}

static void
test_limit_duration (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *relay_addr = NULL;
  g_autofree char *addr = NULL;
  Child *relay, *listener, *dialer, *js_dialer;
  JsonObject *o;
  int status;
  gint64 t0;

  if (!f->ready)
    return;
  relay = start_relay (f, PEER_C, "relay.key", &relay_addr, &error, "--limit-duration", "2", "--limit-data", "0");
  CHECK_NO_ERROR (f, error);
  listener = start_relayed_listener (f, PEER_JS, relay_addr, &addr, &error);
  CHECK_NO_ERROR (f, error);

  t0 = g_get_monotonic_time ();
  dialer = spawn (f, PEER_C, "dialer", "dialer.key", "--timeout", "30", "dial", addr, LOOPBACK_LISTEN, "--ping", "1", "--hold", "20", NULL);
  status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  o = child_find_event (dialer, "result", NULL, NULL, 0);
  CHECK (f, status == 1 && strstr (json_get_str (o, "error"), "closed while holding") != NULL, "our dialer saw the reset");
  CHECK (f, g_get_monotonic_time () - t0 < 15 * G_USEC_PER_SEC, "the reset came with the 2 s limit, not the hold");
  o = child_wait_event (relay, "circuit", "state", "closed", EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, g_strcmp0 (json_get_str (o, "limit_hit"), "duration") == 0, "the relay says: %s", json_get_str (o, "reason"));
  wait_relayed (listener, "closed", &error);
  CHECK_NO_ERROR (f, error);

  /* A js dialer's circuit ends the same way. */
  js_dialer = spawn (f, PEER_JS, "dialer", "js-dialer.key", "dial", addr, LOOPBACK_LISTEN, "--ping", "1", "--hold", "20", NULL);
  status = child_run (js_dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  o = child_find_event (js_dialer, "result", NULL, NULL, 0);
  CHECK (f, status == 0 && json_get_bool (o, "closed"), "the js dialer saw its relayed connection end");
  o = child_wait_event (relay, "circuit", "state", "closed", EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, g_strcmp0 (json_get_str (o, "limit_hit"), "duration") == 0, "the relay says: %s", json_get_str (o, "reason"));
  status = child_stop (relay, SIGTERM);
  CHECK (f, status == 0, "C relay exit status %d", status);
}

static void
test_relay_restart (Fixture *f, gconstpointer data)
{
  PeerKind kind = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autofree char *relay_addr = NULL;
  g_autofree char *relay_addr2 = NULL;
  g_autofree char *addr = NULL;
  g_autofree char *listen_at = NULL;
  Child *relay, *listener, *dialer;
  JsonObject *o;
  const char *tail;
  gint64 back;
  int status;

  if (!f->ready)
    return;
  relay = start_relay (f, kind, "relay.key", &relay_addr, &error, NULL, NULL, NULL, NULL);
  CHECK_NO_ERROR (f, error);
  listener = start_relayed_listener (f, PEER_C, relay_addr, &addr, &error);
  CHECK_NO_ERROR (f, error);

  /* The relay goes away: the reservation fails and is retried. */
  child_stop (relay, SIGKILL);
  o = child_wait_event (listener, "reservation", "state", "failed", EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  CHECK (f, json_get_str (o, "reason") != NULL, "a failure has a reason");

  /* Back on the same port with the same key. */
  tail = strstr (relay_addr, "/p2p/");
  CHECK (f, tail != NULL, "relay address with /p2p");
  listen_at = g_strndup (relay_addr, tail - relay_addr);
  relay = spawn (f, kind, "relay again", "relay.key", "relay", "--listen", listen_at, NULL);
  o = child_wait_event (relay, "listening", NULL, NULL, EVENT_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  back = g_get_monotonic_time ();
  relay_addr2 = json_addr_with_prefix (o, "addrs", "/ip4/127.0.0.1/tcp/");
  CHECK (f, g_strcmp0 (relay_addr, relay_addr2) == 0, "same address: %s", relay_addr2);

  o = child_wait_event (listener, "reserved", NULL, NULL, REBOOK_DEADLINE_S + 2, &error);
  CHECK_NO_ERROR (f, error);
  g_test_message ("reserved again %.2f s after the relay was back", (g_get_monotonic_time () - back) / 1e6);
  CHECK (f, g_get_monotonic_time () - back <= REBOOK_DEADLINE_S * G_USEC_PER_SEC,
         "reserved again %.1f s after the relay was back", (g_get_monotonic_time () - back) / 1e6);
  CHECK (f, g_strcmp0 (json_get_str (o, "addr"), addr) == 0, "same relayed address: %s", json_get_str (o, "addr"));

  dialer = spawn (f, PEER_JS, "dialer", "dialer.key", "dial", addr, LOOPBACK_LISTEN, "--ping", "1", "--echo", "1", NULL);
  status = child_run (dialer, COMMAND_TIMEOUT_S, &error);
  CHECK_NO_ERROR (f, error);
  o = child_find_event (dialer, "result", NULL, NULL, 0);
  CHECK (f, status == 0 && json_get_bool (o, "ok") && child_find_event (dialer, "echo", NULL, NULL, 0) != NULL,
         "the advertised relayed address works again");
}

int
main (int argc, char **argv)
{
  harness_install_signal_handlers ();
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/interop/relay/c-listener/js-relay", test_c_listener_js_relay);
  ADD ("/interop/relay/js-listener/c-relay", test_js_listener_c_relay);
  ADD ("/interop/relay/c-dialer/js-relay", test_c_dialer_js_relay);
  ADD ("/interop/relay/c-only", test_c_only);
  ADD ("/interop/relay/limit/data", test_limit_data);
  ADD ("/interop/relay/limit/duration", test_limit_duration);
#undef ADD
  g_test_add ("/interop/relay/restart/js-relay", Fixture, GINT_TO_POINTER (PEER_JS), fixture_setup,
              test_relay_restart, fixture_teardown);
  g_test_add ("/interop/relay/restart/c-relay", Fixture, GINT_TO_POINTER (PEER_C), fixture_setup,
              test_relay_restart, fixture_teardown);

  return g_test_run ();
}
