/* SPDX-License-Identifier: GPL-3.0-or-later */
/* AutoNAT v1 between our own hosts on loopback. Loopback is not a public
 * scope, so every service here sets "allow-non-public" (the one place it
 * should be set besides private lab networks); one case checks that
 * without it nothing on loopback is offered or dialled. */
#include <string.h>

#include "../host/host-test-util.h"
#include "punch-autonat-service.h"
#include "punch-error.h"
#include "punch-framing.h"
#include "punch-identify-service.h"
#include "punch-relay-client.h"
#include "punch-relay-service.h"

#define MAX_NODES 6

typedef struct
{
  PunchHost            *host;
  PunchIdentifyService *identify;
  PunchAutonatService  *autonat;
  PunchRelayClient     *relay_client;
  PunchRelayService    *relay_service;
} Node;

typedef struct
{
  Node nodes[MAX_NODES];
  guint n;
} Fixture;

static Node *
node_new (Fixture *f, gboolean listen)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = punch_private_key_generate (&error);
  Node *node;

  g_assert_no_error (error);
  g_assert_cmpuint (f->n, <, MAX_NODES);
  node = &f->nodes[f->n++];
  node->host = punch_host_new (key);
  if (listen)
    {
      g_autoptr (PunchMultiaddr) addr = punch_multiaddr_new_from_string ("/ip4/127.0.0.1/tcp/0", &error);

      g_assert_true (punch_host_listen (node->host, addr, &error));
      g_assert_no_error (error);
    }
  node->identify = punch_identify_service_new (node->host);
  node->autonat = punch_autonat_service_new (node->host, node->identify);
  /* Probes only when a test asks; short dial-backs keep failures quick. */
  g_object_set (node->autonat, "client-enabled", FALSE, "allow-non-public", TRUE, "dial-timeout", 3000, NULL);
  return node;
}

static PunchMultiaddr *
node_addr (Node *node)
{
  g_autoptr (GPtrArray) addrs = punch_host_get_listen_addrs (node->host);
  gsize len;
  const guint8 *id = punch_peer_id_get_bytes (punch_host_get_peer_id (node->host), &len);

  g_assert_cmpuint (addrs->len, >, 0);
  return punch_multiaddr_with_peer_id (g_ptr_array_index (addrs, 0), id, len);
}

static gboolean
identified_autonat (Node *from, Node *to)
{
  PunchPeerInfo *info = punch_peer_store_lookup (punch_host_get_peer_store (from->host),
                                                 punch_host_get_peer_id (to->host));
  PunchConnection *conn = punch_host_get_connection (from->host, punch_host_get_peer_id (to->host));

  return info != NULL && punch_peer_info_supports (info, PUNCH_AUTONAT_PROTOCOL) && conn != NULL
         && punch_connection_get_observed_addr (conn) != NULL;
}

/* @from dials @to and waits until identify told it that @to serves AutoNAT
 * and how @to sees it. Returns the connection (transfer none). */
static PunchConnection *
connect_nodes (Node *from, Node *to)
{
  g_autoptr (PunchMultiaddr) addr = node_addr (to);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConnection) conn = NULL;

  punch_host_dial_async (from->host, addr, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  conn = punch_host_dial_finish (from->host, result, &error);
  g_assert_no_error (error);
  WAIT_UNTIL (identified_autonat (from, to));
  return punch_host_get_connection (from->host, punch_host_get_peer_id (to->host));
}

typedef struct
{
  gboolean        ok;
  int             status;
  PunchMultiaddr *addr;
  char           *text;
  GError         *error;
} Answer;

static void
answer_clear (Answer *a)
{
  g_clear_pointer (&a->addr, punch_multiaddr_unref);
  g_clear_pointer (&a->text, g_free);
  g_clear_error (&a->error);
}

static void
request (Node *client, PunchConnection *conn, GPtrArray *addrs, Answer *out)
{
  g_autoptr (GAsyncResult) result = NULL;

  memset (out, 0, sizeof *out);
  out->status = -1;
  punch_autonat_service_request_async (client->autonat, conn, addrs, NULL, host_test_store_result, &result);
  WAIT_UNTIL_SECONDS (result != NULL, 20);
  out->ok = punch_autonat_service_request_finish (client->autonat, result, &out->status, &out->addr, &out->text,
                                                  &out->error);
}

static GPtrArray *
addr_list (const char *first, ...)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  va_list ap;

  va_start (ap, first);
  for (const char *text = first; text != NULL; text = va_arg (ap, const char *))
    {
      g_autoptr (GError) error = NULL;
      PunchMultiaddr *ma = punch_multiaddr_new_from_string (text, &error);

      g_assert_no_error (error);
      g_ptr_array_add (out, ma);
    }
  va_end (ap);
  return out;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  memset (f, 0, sizeof *f);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  gpointer weak[MAX_NODES] = { NULL };

  /* Let identify finish on the last dial-back connection: closing a
   * connection while identify opens its stream trips a critical in the
   * identify service (stream NULL in on_identify_read). */
  host_test_spin (300);
  for (guint i = 0; i < f->n; i++)
    {
      g_clear_object (&f->nodes[i].autonat);
      g_clear_object (&f->nodes[i].relay_client);
      g_clear_object (&f->nodes[i].relay_service);
      g_clear_object (&f->nodes[i].identify);
      punch_host_close (f->nodes[i].host);
    }
  for (guint i = 0; i < f->n; i++)
    {
      g_set_weak_pointer (&weak[i], f->nodes[i].host);
      g_clear_object (&f->nodes[i].host);
    }
  for (guint i = 0; i < f->n; i++)
    WAIT_UNTIL (weak[i] == NULL);
  host_test_spin (20);
}

/* ---- the codec ---- */

static void
test_message_roundtrip (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = punch_private_key_generate (&error);
  PunchPeerId *id = punch_private_key_get_peer_id (key);
  g_autoptr (GPtrArray) addrs = addr_list ("/ip4/198.18.1.1/tcp/4001", "/ip6/2001:db8::1/tcp/4001", NULL);
  g_autoptr (GBytes) dial = punch_autonat_dial_encode (id, addrs);
  g_autoptr (PunchPeerId) peer = NULL;
  g_autoptr (GPtrArray) decoded = NULL;
  g_autoptr (GBytes) response = NULL;
  g_autoptr (PunchMultiaddr) addr = NULL;
  g_autofree char *text = NULL;
  int status = -1;

  g_assert_true (punch_autonat_dial_decode (g_bytes_get_data (dial, NULL), g_bytes_get_size (dial), &peer, &decoded,
                                            &error));
  g_assert_no_error (error);
  g_assert_true (punch_peer_id_equal (peer, id));
  g_assert_cmpuint (decoded->len, ==, 2);
  g_assert_true (punch_multiaddr_equal (g_ptr_array_index (decoded, 1), g_ptr_array_index (addrs, 1)));

  response = punch_autonat_response_encode (PUNCH_AUTONAT_STATUS_E_DIAL_ERROR, "no luck", g_ptr_array_index (addrs, 0));
  g_assert_true (punch_autonat_response_decode (g_bytes_get_data (response, NULL), g_bytes_get_size (response),
                                                &status, &text, &addr, &error));
  g_assert_cmpint (status, ==, PUNCH_AUTONAT_STATUS_E_DIAL_ERROR);
  g_assert_cmpstr (text, ==, "no luck");
  g_assert_true (punch_multiaddr_equal (addr, g_ptr_array_index (addrs, 0)));

  /* Each parser refuses the other's message. */
  g_assert_false (punch_autonat_dial_decode (g_bytes_get_data (response, NULL), g_bytes_get_size (response), NULL,
                                             NULL, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
  g_clear_error (&error);
  g_assert_false (punch_autonat_response_decode (g_bytes_get_data (dial, NULL), g_bytes_get_size (dial), NULL, NULL,
                                                 NULL, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
}

static void
test_message_bad (Fixture *f, gconstpointer data)
{
  static const struct
  {
    const char *name;
    const char *bytes;
    gsize       len;
    int         code;
  } table[] = {
    { "empty", "", 0, PUNCH_ERROR_PROTOCOL },                       /* no type */
    { "garbage", "\xff\xff\xff", 3, PUNCH_ERROR_MALFORMED },
    { "truncated", "\x08\x01\x1a\x05\x08", 5, PUNCH_ERROR_MALFORMED },
    { "unknown-type", "\x08\x07", 2, PUNCH_ERROR_PROTOCOL },
    { "no-response", "\x08\x01", 2, PUNCH_ERROR_MALFORMED },
    { "no-status", "\x08\x01\x1a\x00", 4, PUNCH_ERROR_MALFORMED },
  };
  g_autofree guint8 *big = g_malloc0 (PUNCH_AUTONAT_MAX_MESSAGE + 1);
  g_autoptr (GError) error = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (table); i++)
    {
      g_test_message ("%s", table[i].name);
      g_assert_false (punch_autonat_response_decode ((const guint8 *) table[i].bytes, table[i].len, NULL, NULL, NULL,
                                                     &error));
      g_assert_error (error, PUNCH_ERROR, table[i].code);
      g_clear_error (&error);
    }
  g_assert_false (punch_autonat_dial_decode (big, PUNCH_AUTONAT_MAX_MESSAGE + 1, NULL, NULL, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
  g_clear_error (&error);
  /* A DIAL whose peer ID is not one. */
  g_assert_false (punch_autonat_dial_decode ((const guint8 *) "\x08\x00\x12\x05\x0a\x03\x0a\x01\x00", 9, NULL,
                                             NULL, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED);
}

static void
test_message_text (Fixture *f, gconstpointer data)
{
  g_autoptr (GString) long_text = g_string_new (NULL);
  g_autoptr (GBytes) response = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *bad_text = NULL;
  int status = -1;
  /* status 42 (unknown), statusText "a\xffb" (invalid UTF-8) */
  static const guint8 odd[] = { 0x08, 0x01, 0x1a, 0x07, 0x08, 0x2a, 0x12, 0x03, 'a', 0xff, 'b' };

  for (guint i = 0; i < 200; i++)
    g_string_append (long_text, "é");   /* two bytes each */
  response = punch_autonat_response_encode (PUNCH_AUTONAT_STATUS_OK, long_text->str, NULL);
  g_assert_true (punch_autonat_response_decode (g_bytes_get_data (response, NULL), g_bytes_get_size (response),
                                                &status, &text, NULL, &error));
  g_assert_cmpuint (strlen (text), ==, PUNCH_AUTONAT_MAX_TEXT);
  g_assert_true (g_utf8_validate (text, -1, NULL));

  g_assert_true (punch_autonat_response_decode (odd, sizeof odd, &status, &bad_text, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 42);
  g_assert_cmpstr (punch_autonat_status_to_string (status), ==, "unknown");
  g_assert_true (g_utf8_validate (bad_text, -1, NULL));
}

/* ---- one request ---- */

static void
test_request_ok (Fixture *f, gconstpointer data)
{
  Node *server = node_new (f, TRUE);
  Node *client = node_new (f, TRUE);
  PunchConnection *conn = connect_nodes (client, server);
  g_autoptr (GPtrArray) listen = punch_host_get_listen_addrs (client->host);
  g_autofree char *expected = punch_multiaddr_to_string (g_ptr_array_index (listen, 0));
  g_autofree char *reached = NULL;
  Answer a;

  request (client, conn, NULL, &a);
  g_assert_no_error (a.error);
  g_assert_true (a.ok);
  g_assert_cmpint (a.status, ==, PUNCH_AUTONAT_STATUS_OK);
  g_assert_nonnull (a.addr);
  reached = punch_multiaddr_to_string (a.addr);
  g_assert_cmpstr (reached, ==, expected);
  /* One answer is not a verdict. */
  g_assert_cmpint (punch_autonat_service_get_reachability (client->autonat), ==, PUNCH_REACHABILITY_UNKNOWN);
  g_assert_cmpuint (punch_autonat_service_get_confidence (client->autonat), ==, 1);
  g_assert_true (punch_multiaddr_equal (punch_autonat_service_get_public_addr (client->autonat), a.addr));
  answer_clear (&a);
}

static void
test_request_dial_error (Fixture *f, gconstpointer data)
{
  Node *server = node_new (f, TRUE);
  /* No listener: its observed address is an ephemeral port nobody accepts on. */
  Node *client = node_new (f, FALSE);
  PunchConnection *conn = connect_nodes (client, server);
  g_autoptr (GPtrArray) candidates = punch_autonat_service_get_candidate_addrs (client->autonat);
  gint64 t0 = g_get_monotonic_time ();
  Answer a;

  g_assert_cmpuint (candidates->len, ==, 1);
  request (client, conn, NULL, &a);
  g_assert_no_error (a.error);
  g_assert_cmpint (a.status, ==, PUNCH_AUTONAT_STATUS_E_DIAL_ERROR);
  g_assert_null (a.addr);
  g_assert_nonnull (a.text);
  /* Bounded by the server's dial-timeout (3 s here), with room for load. */
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 10 * G_USEC_PER_SEC);
  answer_clear (&a);
}

static void
count_accept (GSocketService *service, GSocketConnection *connection, GObject *source, gpointer user_data)
{
  guint *n = user_data;

  (*n)++;
}

static void
test_request_third_party_refused (Fixture *f, gconstpointer data)
{
  Node *server = node_new (f, TRUE);
  Node *client = node_new (f, TRUE);
  PunchConnection *conn = connect_nodes (client, server);
  g_autoptr (GSocketService) victim = g_socket_service_new ();
  g_autoptr (GInetAddress) victim_ip = g_inet_address_new_from_string ("127.0.0.2");
  g_autoptr (GSocketAddress) victim_any = g_inet_socket_address_new (victim_ip, 0);
  g_autoptr (GSocketAddress) victim_bound = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) addrs = NULL;
  g_autofree char *victim_ma = NULL;
  guint accepted = 0;
  Answer a;

  /* A third party the client would like the server to hit. */
  g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (victim), victim_any, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, NULL, &victim_bound, &error));
  g_assert_no_error (error);
  g_signal_connect (victim, "incoming", G_CALLBACK (count_accept), &accepted);
  victim_ma = g_strdup_printf ("/ip4/127.0.0.2/tcp/%u",
                               g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (victim_bound)));
  addrs = addr_list (victim_ma, "/ip4/192.0.2.1/tcp/80", "/ip6/::1/tcp/80",
                     "/dns4/localhost/tcp/80", NULL);

  request (client, conn, addrs, &a);
  g_assert_no_error (a.error);
  g_assert_cmpint (a.status, ==, PUNCH_AUTONAT_STATUS_E_DIAL_REFUSED);
  g_assert_nonnull (strstr (a.text, "observed IP"));
  host_test_spin (200);
  g_assert_cmpuint (accepted, ==, 0);
  g_socket_service_stop (victim);
  g_socket_listener_close (G_SOCKET_LISTENER (victim));
  answer_clear (&a);
}

static void
test_request_non_public (Fixture *f, gconstpointer data)
{
  Node *server = node_new (f, TRUE);
  Node *client = node_new (f, TRUE);
  PunchConnection *conn = connect_nodes (client, server);
  g_autoptr (GPtrArray) listen = punch_host_get_listen_addrs (client->host);
  g_autoptr (GPtrArray) candidates = NULL;
  Answer a;

  /* Without the test switch a server dials no loopback address... */
  g_object_set (server->autonat, "allow-non-public", FALSE, NULL);
  request (client, conn, listen, &a);
  g_assert_no_error (a.error);
  g_assert_cmpint (a.status, ==, PUNCH_AUTONAT_STATUS_E_DIAL_REFUSED);
  answer_clear (&a);

  /* ...and a client offers none. */
  g_object_set (client->autonat, "allow-non-public", FALSE, NULL);
  candidates = punch_autonat_service_get_candidate_addrs (client->autonat);
  g_assert_cmpuint (candidates->len, ==, 0);
  request (client, conn, NULL, &a);
  g_assert_false (a.ok);
  g_assert_error (a.error, PUNCH_ERROR, PUNCH_ERROR_NO_ADDRESSES);
  answer_clear (&a);
}

/* ---- rate limits ---- */

static void
test_rate_limit_per_peer (Fixture *f, gconstpointer data)
{
  Node *server = node_new (f, TRUE);
  Node *client = node_new (f, TRUE);
  PunchConnection *conn = connect_nodes (client, server);
  Answer a;

  g_object_set (server->autonat, "max-requests-per-peer", 2, NULL);
  for (guint i = 0; i < 2; i++)
    {
      request (client, conn, NULL, &a);
      g_assert_cmpint (a.status, ==, PUNCH_AUTONAT_STATUS_OK);
      answer_clear (&a);
    }
  request (client, conn, NULL, &a);
  g_assert_no_error (a.error);
  g_assert_cmpint (a.status, ==, PUNCH_AUTONAT_STATUS_E_DIAL_REFUSED);
  g_assert_nonnull (strstr (a.text, "too many"));
  answer_clear (&a);

  /* A refusal says nothing about us: the earlier OK still counts, once. */
  {
    guint ok, failed;

    punch_autonat_service_get_answer_counts (client->autonat, &ok, &failed);
    g_assert_cmpuint (ok, ==, 1);
    g_assert_cmpuint (failed, ==, 0);
  }
}

static void
test_rate_limit_window (Fixture *f, gconstpointer data)
{
  Node *server = node_new (f, TRUE);
  Node *client = node_new (f, TRUE);
  PunchConnection *conn = connect_nodes (client, server);
  Answer a;

  /* 3 s: room for a slow first request under sanitizers and load. */
  g_object_set (server->autonat, "max-requests-per-peer", 1, "rate-window", 3, NULL);
  request (client, conn, NULL, &a);
  g_assert_cmpint (a.status, ==, PUNCH_AUTONAT_STATUS_OK);
  answer_clear (&a);
  request (client, conn, NULL, &a);
  g_assert_cmpint (a.status, ==, PUNCH_AUTONAT_STATUS_E_DIAL_REFUSED);
  answer_clear (&a);
  /* A new window admits the peer again. */
  host_test_spin (3100);
  request (client, conn, NULL, &a);
  g_assert_cmpint (a.status, ==, PUNCH_AUTONAT_STATUS_OK);
  answer_clear (&a);
}

static void
test_rate_limit_global (Fixture *f, gconstpointer data)
{
  Node *server = node_new (f, TRUE);
  Node *c1 = node_new (f, TRUE);
  Node *c2 = node_new (f, TRUE);
  PunchConnection *conn1 = connect_nodes (c1, server);
  PunchConnection *conn2 = connect_nodes (c2, server);
  Answer a;

  g_object_set (server->autonat, "max-requests", 2, NULL);
  for (guint i = 0; i < 2; i++)
    {
      request (c1, conn1, NULL, &a);
      g_assert_cmpint (a.status, ==, PUNCH_AUTONAT_STATUS_OK);
      answer_clear (&a);
    }
  request (c2, conn2, NULL, &a);
  g_assert_cmpint (a.status, ==, PUNCH_AUTONAT_STATUS_E_DIAL_REFUSED);
  answer_clear (&a);
}

/* ---- relayed connections ---- */

static void
test_relayed_refused (Fixture *f, gconstpointer data)
{
  Node *relay = node_new (f, TRUE);
  Node *server = node_new (f, TRUE);
  Node *client = node_new (f, TRUE);
  g_autoptr (PunchMultiaddr) relay_addr = node_addr (relay);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) relayed = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PunchConnection) conn = NULL;
  g_autoptr (GPtrArray) listen = punch_host_get_listen_addrs (client->host);
  PunchRelayReservation *rsv;
  Answer a;

  /* An unlimited relay, so the host lets AutoNAT run over the circuit and
   * the refusal is the service's own. */
  relay->relay_service = punch_relay_service_new (relay->host);
  g_object_set (relay->relay_service, "limit-duration", 0, "limit-data", (guint64) 0, NULL);
  server->relay_client = punch_relay_client_new (server->host);
  client->relay_client = punch_relay_client_new (client->host);
  rsv = punch_relay_client_add_relay (server->relay_client, relay_addr, &error);
  g_assert_no_error (error);
  WAIT_UNTIL (punch_relay_reservation_get_state (rsv) == PUNCH_RESERVATION_STATE_RESERVED);
  relayed = punch_relay_client_get_relayed_addrs (server->relay_client);
  g_assert_cmpuint (relayed->len, ==, 1);

  punch_host_dial_async (client->host, g_ptr_array_index (relayed, 0), NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  conn = punch_host_dial_finish (client->host, result, &error);
  g_assert_no_error (error);
  g_assert_true (punch_connection_get_relayed (conn));
  g_assert_false (punch_connection_get_limited (conn));

  request (client, conn, listen, &a);
  g_assert_no_error (a.error);
  g_assert_cmpint (a.status, ==, PUNCH_AUTONAT_STATUS_E_DIAL_REFUSED);
  g_assert_nonnull (strstr (a.text, "relayed"));
  answer_clear (&a);
}

/* ---- malformed requests ---- */

typedef struct
{
  GIOStream *stream;
  GBytes    *reply;
  GError    *error;
  gboolean   done;
} RawExchange;

static void
raw_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RawExchange *x = user_data;

  x->reply = punch_framing_read_finish (G_INPUT_STREAM (source), result, &x->error);
  x->done = TRUE;
}

static void
raw_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RawExchange *x = user_data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &x->error))
    {
      x->done = TRUE;
      return;
    }
  punch_framing_read_async (g_io_stream_get_input_stream (x->stream), PUNCH_AUTONAT_MAX_MESSAGE, NULL, raw_read, x);
}

/* Sends @wire as it is (length prefix included) and returns the status
 * the server answered, or -1 when it answered nothing. */
static int
raw_request (PunchConnection *conn, const guint8 *wire, gsize len, char **text)
{
  static const char *const protocols[] = { PUNCH_AUTONAT_PROTOCOL, NULL };
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  RawExchange x = { NULL };
  int status = -1;

  punch_connection_open_stream_async (conn, protocols, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  x.stream = punch_connection_open_stream_finish (conn, result, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (x.stream), wire, len, G_PRIORITY_DEFAULT, NULL,
                                   raw_written, &x);
  WAIT_UNTIL (x.done);
  if (x.reply != NULL)
    {
      g_assert_true (punch_autonat_response_decode (g_bytes_get_data (x.reply, NULL), g_bytes_get_size (x.reply),
                                                    &status, text, NULL, &error));
      g_assert_no_error (error);
    }
  g_clear_pointer (&x.reply, g_bytes_unref);
  g_clear_error (&x.error);
  g_io_stream_close_async (x.stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_clear_object (&x.stream);
  return status;
}

static int
raw_message (PunchConnection *conn, GBytes *message, char **text)
{
  g_autoptr (GByteArray) wire = g_byte_array_new ();

  punch_framing_append (wire, g_bytes_get_data (message, NULL), g_bytes_get_size (message));
  return raw_request (conn, wire->data, wire->len, text);
}

static void
test_malformed (Fixture *f, gconstpointer data)
{
  Node *server = node_new (f, TRUE);
  Node *client = node_new (f, TRUE);
  Node *other = node_new (f, FALSE);
  PunchConnection *conn = connect_nodes (client, server);
  g_autoptr (GPtrArray) listen = punch_host_get_listen_addrs (client->host);
  static const guint8 garbage[] = { 0x05, 0xff, 0xff, 0xff, 0xff, 0xff };
  static const guint8 no_peer[] = { 0x02, 0x08, 0x00 };
  /* A length of 5000: over the limit before any body arrives. */
  static const guint8 oversized[] = { 0x88, 0x27, 0x08, 0x00 };
  g_autoptr (GBytes) response = punch_autonat_response_encode (PUNCH_AUTONAT_STATUS_OK, NULL, NULL);
  g_autoptr (GBytes) someone_else = punch_autonat_dial_encode (punch_host_get_peer_id (other->host), listen);
  g_autoptr (GBytes) good = punch_autonat_dial_encode (punch_host_get_peer_id (client->host), listen);
  char *text = NULL;

  g_object_set (server->autonat, "max-requests-per-peer", 100, NULL);

  g_assert_cmpint (raw_request (conn, garbage, sizeof garbage, &text), ==, PUNCH_AUTONAT_STATUS_E_BAD_REQUEST);
  g_clear_pointer (&text, g_free);
  g_assert_cmpint (raw_request (conn, no_peer, sizeof no_peer, &text), ==, PUNCH_AUTONAT_STATUS_E_BAD_REQUEST);
  g_assert_nonnull (strstr (text, "peer ID"));
  g_clear_pointer (&text, g_free);
  g_assert_cmpint (raw_request (conn, oversized, sizeof oversized, &text), ==, PUNCH_AUTONAT_STATUS_E_BAD_REQUEST);
  g_clear_pointer (&text, g_free);
  g_assert_cmpint (raw_message (conn, response, &text), ==, PUNCH_AUTONAT_STATUS_E_BAD_REQUEST);
  g_clear_pointer (&text, g_free);
  g_assert_cmpint (raw_message (conn, someone_else, &text), ==, PUNCH_AUTONAT_STATUS_E_BAD_REQUEST);
  g_assert_nonnull (strstr (text, "does not match"));
  g_clear_pointer (&text, g_free);
  /* The service is still fine afterwards. */
  g_assert_cmpint (raw_message (conn, good, &text), ==, PUNCH_AUTONAT_STATUS_OK);
  g_clear_pointer (&text, g_free);
}

/* A server that answers garbage: the client reports an error, no verdict. */
static void
bad_server_handler (PunchHost *host, PunchConnection *conn, GIOStream *stream, const char *protocol,
                    gpointer user_data)
{
  static const guint8 reply[] = { 0x03, 0x08, 0x01, 0x1a };   /* DIAL_RESPONSE with a cut dialResponse */

  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream), reply, sizeof reply,
                                   G_PRIORITY_DEFAULT, NULL, NULL, NULL);
}

static void
test_malformed_response (Fixture *f, gconstpointer data)
{
  Node *server = node_new (f, TRUE);
  Node *client = node_new (f, TRUE);
  PunchConnection *conn = connect_nodes (client, server);
  Answer a;

  punch_host_set_stream_handler (server->host, PUNCH_AUTONAT_PROTOCOL, bad_server_handler, NULL, NULL);
  request (client, conn, NULL, &a);
  g_assert_false (a.ok);
  g_assert_error (a.error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED);
  g_assert_cmpint (punch_autonat_service_get_confidence (client->autonat), ==, 0);
  answer_clear (&a);
}

/* A server like js-libp2p's: OK over the connection the request came on,
 * comparing addresses, without dialling back. */
static void
lazy_server_handler (PunchHost *host, PunchConnection *conn, GIOStream *stream, const char *protocol,
                     gpointer user_data)
{
  g_autoptr (PunchMultiaddr) addr = punch_multiaddr_slice (punch_connection_get_remote_addr (conn), 0, 2);
  g_autoptr (GBytes) reply = punch_autonat_response_encode (PUNCH_AUTONAT_STATUS_OK, NULL, addr);

  punch_framing_write_async (g_io_stream_get_output_stream (stream), reply, NULL, NULL, NULL);
}

static void
test_request_ok_without_dialback (Fixture *f, gconstpointer data)
{
  Node *server = node_new (f, TRUE);
  Node *client = node_new (f, TRUE);
  PunchConnection *conn = connect_nodes (client, server);
  guint ok = 7, failed = 7;
  Answer a;

  punch_host_set_stream_handler (server->host, PUNCH_AUTONAT_PROTOCOL, lazy_server_handler, NULL, NULL);
  request (client, conn, NULL, &a);
  g_assert_no_error (a.error);
  g_assert_true (a.ok);
  g_assert_cmpint (a.status, ==, PUNCH_AUTONAT_STATUS_OK);
  /* Nothing reached us: the claim is kept apart and proves nothing. */
  g_assert_false (punch_autonat_service_is_answer_verified (client->autonat,
                                                            punch_host_get_peer_id (server->host)));
  g_assert_cmpuint (punch_autonat_service_get_unverified_count (client->autonat), ==, 1);
  punch_autonat_service_get_answer_counts (client->autonat, &ok, &failed);
  g_assert_cmpuint (ok, ==, 0);
  g_assert_cmpuint (failed, ==, 0);
  g_assert_cmpuint (punch_autonat_service_get_confidence (client->autonat), ==, 0);
  g_assert_null (punch_autonat_service_get_public_addr (client->autonat));
  answer_clear (&a);

  /* A real server's OK (its dial-back arrived) is verified. */
  punch_host_remove_stream_handler (server->host, PUNCH_AUTONAT_PROTOCOL);
  g_object_set (server->autonat, "server-enabled", FALSE, NULL);
  g_object_set (server->autonat, "server-enabled", TRUE, NULL);
  request (client, conn, NULL, &a);
  g_assert_true (a.ok);
  g_assert_cmpint (a.status, ==, PUNCH_AUTONAT_STATUS_OK);
  g_assert_true (punch_autonat_service_is_answer_verified (client->autonat,
                                                           punch_host_get_peer_id (server->host)));
  g_assert_cmpuint (punch_autonat_service_get_unverified_count (client->autonat), ==, 0);
  g_assert_cmpuint (punch_autonat_service_get_confidence (client->autonat), ==, 1);
  answer_clear (&a);
}

/* A server that answers OK first and dials back 300 ms later, from
 * another host on the same IP: within the grace the answer still counts. */
typedef struct
{
  Node           *dialer;
  PunchMultiaddr *target;
  GAsyncResult   *dialed;
} LateDialback;

static gboolean
late_dialback_cb (gpointer user_data)
{
  LateDialback *late = user_data;

  punch_host_dial_async (late->dialer->host, late->target, NULL, host_test_store_result, &late->dialed);
  return G_SOURCE_REMOVE;
}

static void
late_server_handler (PunchHost *host, PunchConnection *conn, GIOStream *stream, const char *protocol,
                     gpointer user_data)
{
  g_autoptr (PunchMultiaddr) addr = punch_multiaddr_slice (punch_connection_get_remote_addr (conn), 0, 2);
  g_autoptr (GBytes) reply = punch_autonat_response_encode (PUNCH_AUTONAT_STATUS_OK, NULL, addr);

  punch_framing_write_async (g_io_stream_get_output_stream (stream), reply, NULL, NULL, NULL);
  g_timeout_add (300, late_dialback_cb, user_data);
}

static void
test_request_ok_late_dialback (Fixture *f, gconstpointer data)
{
  Node *server = node_new (f, TRUE);
  Node *client = node_new (f, TRUE);
  PunchConnection *conn = connect_nodes (client, server);
  LateDialback late = { .dialer = node_new (f, FALSE), .target = node_addr (client) };
  Answer a;

  punch_host_set_stream_handler (server->host, PUNCH_AUTONAT_PROTOCOL, late_server_handler, &late, NULL);
  request (client, conn, NULL, &a);
  g_assert_true (a.ok);
  g_assert_cmpint (a.status, ==, PUNCH_AUTONAT_STATUS_OK);
  g_assert_nonnull (late.dialed);
  g_assert_true (punch_autonat_service_is_answer_verified (client->autonat, punch_host_get_peer_id (server->host)));
  g_assert_cmpuint (punch_autonat_service_get_confidence (client->autonat), ==, 1);
  answer_clear (&a);
  g_clear_object (&late.dialed);
  punch_multiaddr_unref (late.target);
}

static void
test_local_addr_present (Fixture *f, gconstpointer data)
{
  static const struct { const char *addr; gboolean present; } cases[] = {
    { "/ip4/127.0.0.1/tcp/4001", TRUE },
    { "/ip4/0.0.0.0/tcp/4001", TRUE },     /* a wildcard never goes away */
    { "/ip4/198.51.100.254", FALSE },       /* TEST-NET-2: on no interface */
    { "/ip6/2001:db8::7/tcp/1", FALSE },    /* documentation prefix */
    { "/dns4/example.com/tcp/1", TRUE },    /* not an IP: nothing says it left */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchMultiaddr) addr = punch_multiaddr_new_from_string (cases[i].addr, &error);

      g_assert_no_error (error);
      g_test_message ("%s", cases[i].addr);
      g_assert_cmpint (punch_local_addr_present (addr), ==, cases[i].present);
    }
  g_assert_true (punch_local_addr_present (NULL));
}

/* ---- reachability from several servers ---- */

static PunchReachability
probe (Node *client, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  punch_autonat_service_probe_async (client->autonat, NULL, host_test_store_result, &result);
  WAIT_UNTIL_SECONDS (result != NULL, 30);
  return punch_autonat_service_probe_finish (client->autonat, result, error);
}

static void
on_notify (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  guint *n = user_data;

  (*n)++;
}

static void
run_reachability (Fixture *f, guint n_servers, gboolean client_listens, PunchReachability expected,
                  guint expected_confidence)
{
  Node *client = node_new (f, client_listens);
  g_autoptr (GError) error = NULL;
  guint notified = 0;

  for (guint i = 0; i < n_servers; i++)
    connect_nodes (client, node_new (f, TRUE));
  g_signal_connect (client->autonat, "notify::reachability", G_CALLBACK (on_notify), &notified);
  g_assert_cmpint (probe (client, &error), ==, expected);
  g_assert_no_error (error);
  g_assert_cmpint (punch_autonat_service_get_reachability (client->autonat), ==, expected);
  g_assert_cmpuint (punch_autonat_service_get_confidence (client->autonat), ==, expected_confidence);
  g_assert_cmpuint (notified, ==, expected == PUNCH_REACHABILITY_UNKNOWN ? 0 : 1);

  if (expected != PUNCH_REACHABILITY_UNKNOWN)
    {
      /* The network changed: the answers are stale. */
      punch_autonat_service_reset (client->autonat);
      g_assert_cmpint (punch_autonat_service_get_reachability (client->autonat), ==, PUNCH_REACHABILITY_UNKNOWN);
      g_assert_cmpuint (notified, ==, 2);
    }
}

static void
test_reachability_public (Fixture *f, gconstpointer data)
{
  run_reachability (f, 4, TRUE, PUNCH_REACHABILITY_PUBLIC, 4);
}

static void
test_reachability_private (Fixture *f, gconstpointer data)
{
  run_reachability (f, 4, FALSE, PUNCH_REACHABILITY_PRIVATE, 4);
}

/* The spec wants more than 3 agreeing peers: three are not enough. */
static void
test_reachability_too_few (Fixture *f, gconstpointer data)
{
  run_reachability (f, 3, TRUE, PUNCH_REACHABILITY_UNKNOWN, 3);
}

static void
test_probe_no_servers (Fixture *f, gconstpointer data)
{
  Node *client = node_new (f, TRUE);
  Node *plain = node_new (f, TRUE);
  g_autoptr (GError) error = NULL;

  /* A peer without the server role does not advertise the protocol. */
  g_object_set (plain->autonat, "server-enabled", FALSE, NULL);
  {
    g_autoptr (PunchMultiaddr) addr = node_addr (plain);
    g_autoptr (GAsyncResult) result = NULL;
    g_autoptr (PunchConnection) conn = NULL;

    punch_host_dial_async (client->host, addr, NULL, host_test_store_result, &result);
    WAIT_UNTIL (result != NULL);
    conn = punch_host_dial_finish (client->host, result, &error);
    g_assert_no_error (error);
    WAIT_UNTIL (punch_connection_get_observed_addr (conn) != NULL);
  }
  g_assert_cmpint (probe (client, &error), ==, PUNCH_REACHABILITY_UNKNOWN);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_LIMIT);
}

/* ---- observations from identify ---- */

static guint
n_observations (Node *node)
{
  g_autoptr (GPtrArray) observations = punch_autonat_service_get_observations (node->autonat);

  return observations->len;
}

static void
test_observations (Fixture *f, gconstpointer data)
{
  Node *client = node_new (f, TRUE);
  Node *s1 = node_new (f, TRUE);
  Node *s2 = node_new (f, TRUE);
  g_autoptr (PunchNatReport) one = NULL;
  g_autoptr (PunchNatReport) two = NULL;
  g_autoptr (GPtrArray) observations = NULL;

  connect_nodes (client, s1);
  WAIT_UNTIL (n_observations (client) >= 1);
  one = punch_autonat_service_get_nat_report (client->autonat);
  g_assert_cmpint (one->mapping, ==, PUNCH_NAT_MAPPING_UNKNOWN);

  connect_nodes (client, s2);
  /* Outbound dials leave from the listen port and nothing translates
   * loopback: two observers see us as we are. */
  WAIT_UNTIL (punch_autonat_service_get_nat_mapping (client->autonat) == PUNCH_NAT_MAPPING_NONE);
  two = punch_autonat_service_get_nat_report (client->autonat);
  g_assert_cmpuint (two->mapping_support, ==, 2);
  observations = punch_autonat_service_get_observations (client->autonat);
  g_assert_cmpuint (observations->len, >=, 2);

  punch_autonat_service_reset (client->autonat);
  g_assert_cmpint (punch_autonat_service_get_nat_mapping (client->autonat), ==, PUNCH_NAT_MAPPING_UNKNOWN);
}

static void
observe (Node *node, const char *observer_addr, const char *observed)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) remote = punch_multiaddr_new_from_string (observer_addr, &error);
  g_autoptr (PunchMultiaddr) local = punch_multiaddr_new_from_string ("/ip4/10.0.1.2/tcp/4001", &error);
  g_autoptr (PunchMultiaddr) seen = punch_multiaddr_new_from_string (observed, &error);
  g_autoptr (PunchNatObservation) obs = NULL;

  g_assert_no_error (error);
  obs = punch_nat_observation_new (observer_addr, remote, local, seen, TRUE);
  punch_autonat_service_add_observation (node->autonat, obs);
}

static void
on_network_changed (PunchAutonatService *autonat, const char *what, gpointer user_data)
{
  char **out = user_data;

  g_free (*out);
  *out = g_strdup (what);
}

/* A router's WAN address changes: the observers see us on a new IP. */
static void
test_external_address_change (Fixture *f, gconstpointer data)
{
  Node *node = node_new (f, FALSE);
  g_autofree char *changed = NULL;

  g_signal_connect (node->autonat, "network-changed", G_CALLBACK (on_network_changed), &changed);
  observe (node, "/ip4/198.18.0.2/tcp/4001", "/ip4/198.18.1.1/tcp/4001");
  observe (node, "/ip4/198.18.0.3/tcp/4001", "/ip4/198.18.1.1/tcp/4001");
  g_assert_cmpint (punch_autonat_service_get_nat_mapping (node->autonat), ==, PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT);
  /* A new port from the same observer is no new network (EDM does that). */
  observe (node, "/ip4/198.18.0.2/tcp/4002", "/ip4/198.18.1.1/tcp/5555");
  g_assert_null (changed);
  g_assert_cmpuint (n_observations (node), ==, 3);

  observe (node, "/ip4/198.18.0.2/tcp/4001", "/ip4/198.18.7.7/tcp/4001");
  g_assert_cmpstr (changed, ==, "external-address");
  g_assert_cmpuint (n_observations (node), ==, 1);
  g_assert_cmpint (punch_autonat_service_get_nat_mapping (node->autonat), ==, PUNCH_NAT_MAPPING_UNKNOWN);
  g_assert_cmpint (punch_autonat_service_get_reachability (node->autonat), ==, PUNCH_REACHABILITY_UNKNOWN);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/core/autonat/message/roundtrip", test_message_roundtrip);
  ADD ("/core/autonat/message/bad", test_message_bad);
  ADD ("/core/autonat/message/text", test_message_text);
  ADD ("/core/autonat/request/ok", test_request_ok);
  ADD ("/core/autonat/request/dial-error", test_request_dial_error);
  ADD ("/core/autonat/request/ok-without-dialback", test_request_ok_without_dialback);
  ADD ("/core/autonat/request/ok-late-dialback", test_request_ok_late_dialback);
  ADD ("/core/autonat/local-addr-present", test_local_addr_present);
  ADD ("/core/autonat/request/third-party-refused", test_request_third_party_refused);
  ADD ("/core/autonat/request/non-public", test_request_non_public);
  ADD ("/core/autonat/rate-limit/per-peer", test_rate_limit_per_peer);
  ADD ("/core/autonat/rate-limit/window", test_rate_limit_window);
  ADD ("/core/autonat/rate-limit/global", test_rate_limit_global);
  ADD ("/core/autonat/relayed-refused", test_relayed_refused);
  ADD ("/core/autonat/malformed/request", test_malformed);
  ADD ("/core/autonat/malformed/response", test_malformed_response);
  ADD ("/core/autonat/reachability/public", test_reachability_public);
  ADD ("/core/autonat/reachability/private", test_reachability_private);
  ADD ("/core/autonat/reachability/too-few", test_reachability_too_few);
  ADD ("/core/autonat/reachability/no-servers", test_probe_no_servers);
  ADD ("/core/autonat/observations", test_observations);
  ADD ("/core/autonat/external-address-change", test_external_address_change);
  return g_test_run ();
}
