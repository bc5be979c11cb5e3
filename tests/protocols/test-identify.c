/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-identify-service.h"

#include "identify.pb-c.h"
#include "protocols-test-util.h"
#include "punch-framing.h"
#include "punch-openssl-private.h"

PUNCH_DEFINE_PROTOBUF_CLEANUP (Identify__Pb__Identify, identify__pb__identify)

typedef struct
{
  PTestPair             pair;
  PunchIdentifyService *server_identify;
  PunchIdentifyService *client_identify;
  GBytes               *fake_answer;     /* what the fake server handler sends */
  guint                 client_identified;
  guint                 server_identified;
} Fixture;

static void
on_client_identified (PunchIdentifyService *service,
                      PunchConnection      *connection,
                      PunchPeerInfo        *info,
                      gpointer              user_data)
{
  Fixture *f = user_data;

  f->client_identified++;
}

static void
on_server_identified (PunchIdentifyService *service,
                      PunchConnection      *connection,
                      PunchPeerInfo        *info,
                      gpointer              user_data)
{
  Fixture *f = user_data;

  f->server_identified++;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  ptest_pair_init (&f->pair);
  f->server_identify = punch_identify_service_new (f->pair.server);
  f->client_identify = punch_identify_service_new (f->pair.client);
  g_signal_connect (f->client_identify, "identified", G_CALLBACK (on_client_identified), f);
  g_signal_connect (f->server_identify, "identified", G_CALLBACK (on_server_identified), f);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->server_identify);
  g_clear_object (&f->client_identify);
  g_clear_pointer (&f->fake_answer, g_bytes_unref);
  ptest_pair_clear (&f->pair);
}

static PunchPeerInfo *
identify (Fixture *f,
          GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  punch_identify_service_identify_async (f->client_identify, f->pair.connection, NULL,
                                         ptest_store_result, &result);
  PTEST_WAIT (result != NULL);
  return punch_identify_service_identify_finish (f->client_identify, result, error);
}

static gboolean
addrs_contain (GPtrArray      *addrs,
               PunchMultiaddr *addr)
{
  return addrs != NULL && g_ptr_array_find_with_equal_func (addrs, addr, punch_multiaddr_equal, NULL);
}

static void
test_identify_fills_peer_store (Fixture       *f,
                                gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerInfo) info = NULL;
  g_autoptr (PunchMultiaddr) bare = NULL;
  PunchPeerId *server_id = punch_host_get_peer_id (f->pair.server);
  PunchPeerInfo *stored;
  PunchMultiaddr *observed;

  ptest_pair_connect (&f->pair);
  info = identify (f, &error);
  g_assert_no_error (error);
  g_assert_nonnull (info);

  stored = punch_peer_store_lookup (punch_host_get_peer_store (f->pair.client), server_id);
  g_assert_true (stored == info);
  g_assert_true (punch_peer_id_equal (punch_peer_info_get_peer_id (info), server_id));
  g_assert_cmpstr (punch_peer_info_get_agent_version (info), ==,
                   punch_host_get_agent_version (f->pair.server));
  g_assert_cmpstr (punch_peer_info_get_protocol_version (info), ==, "ipfs/0.1.0");
  g_assert_true (punch_peer_info_supports (info, PUNCH_IDENTIFY_PROTOCOL));
  g_assert_true (punch_peer_info_supports (info, PUNCH_IDENTIFY_PUSH_PROTOCOL));
  g_assert_false (punch_peer_info_supports (info, PUNCH_PERF_PROTOCOL));
  g_assert_nonnull (punch_peer_info_get_public_key (info));
  g_assert_true (punch_public_key_equal (punch_peer_info_get_public_key (info),
                                         punch_private_key_get_public_key (
                                           punch_host_get_private_key (f->pair.server))));

  bare = punch_multiaddr_slice (f->pair.server_addr, 0,
                                punch_multiaddr_find_last (f->pair.server_addr, PUNCH_PROTO_P2P));
  g_assert_true (addrs_contain (punch_peer_info_get_addrs (info), bare));

  /* The server saw us from the address our socket is bound to. */
  observed = punch_connection_get_observed_addr (f->pair.connection);
  g_assert_nonnull (observed);
  g_assert_true (punch_multiaddr_equal (observed, punch_connection_get_local_addr (f->pair.connection)));

  /* The server identified us too (on "connection-opened"). */
  PTEST_WAIT (f->server_identified > 0);
  stored = punch_peer_store_lookup (punch_host_get_peer_store (f->pair.server),
                                    punch_host_get_peer_id (f->pair.client));
  g_assert_nonnull (stored);
  g_assert_cmpstr (punch_peer_info_get_agent_version (stored), ==, PUNCH_AGENT_VERSION);
  g_assert_nonnull (punch_connection_get_observed_addr (f->pair.server_connection));
  g_assert_true (punch_multiaddr_equal (punch_connection_get_observed_addr (f->pair.server_connection),
                                        punch_connection_get_local_addr (f->pair.server_connection)));
}

static void
test_identify_joins_in_flight (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr (GAsyncResult) r1 = NULL;
  g_autoptr (GAsyncResult) r2 = NULL;
  g_autoptr (PunchPeerInfo) i1 = NULL;
  g_autoptr (PunchPeerInfo) i2 = NULL;
  g_autoptr (GError) error = NULL;
  guint before;

  ptest_pair_connect (&f->pair);
  /* Let the automatic identify end, then ask twice at once. */
  PTEST_WAIT (f->client_identified > 0);
  before = f->client_identified;
  punch_identify_service_identify_async (f->client_identify, f->pair.connection, NULL,
                                         ptest_store_result, &r1);
  punch_identify_service_identify_async (f->client_identify, f->pair.connection, NULL,
                                         ptest_store_result, &r2);
  PTEST_WAIT (r1 != NULL && r2 != NULL);
  i1 = punch_identify_service_identify_finish (f->client_identify, r1, &error);
  g_assert_no_error (error);
  i2 = punch_identify_service_identify_finish (f->client_identify, r2, &error);
  g_assert_no_error (error);
  g_assert_true (i1 == i2);
  /* One identify, one signal. */
  g_assert_cmpuint (f->client_identified, ==, before + 1);
}

static void
test_identify_cancelled_waiter (Fixture       *f,
                                gconstpointer  data)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerInfo) info = NULL;

  ptest_pair_connect (&f->pair);
  punch_identify_service_identify_async (f->client_identify, f->pair.connection, cancellable,
                                         ptest_store_result, &result);
  g_cancellable_cancel (cancellable);
  PTEST_WAIT (result != NULL);
  info = punch_identify_service_identify_finish (f->client_identify, result, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (info);
  /* The identify itself went on for the peer store. */
  PTEST_WAIT (f->client_identified > 0);
}

/* A server answering identify with f->fake_answer, raw. */
static void
handle_fake_identify (PunchHost       *host,
                      PunchConnection *connection,
                      GIOStream       *stream,
                      const char      *protocol,
                      gpointer         user_data)
{
  Fixture *f = user_data;

  ptest_write_and_close (stream, f->fake_answer);
}

static GBytes *
frame (const Identify__Pb__Identify *msg)
{
  gsize len = identify__pb__identify__get_packed_size (msg);
  g_autofree guint8 *packed = g_malloc (len + 1);
  g_autoptr (GByteArray) out = g_byte_array_new ();

  identify__pb__identify__pack (msg, packed);
  punch_framing_append (out, packed, len);
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static GBytes *
concat (GBytes *a,
        GBytes *b)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  gsize len;
  const guint8 *data = g_bytes_get_data (a, &len);

  g_byte_array_append (out, data, len);
  data = g_bytes_get_data (b, &len);
  g_byte_array_append (out, data, len);
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static void
use_fake_server (Fixture *f,
                 GBytes  *answer)
{
  f->fake_answer = answer;
  punch_host_set_stream_handler (f->pair.server, PUNCH_IDENTIFY_PROTOCOL,
                                 handle_fake_identify, f, NULL);
}

static void
test_identify_forged_key (Fixture       *f,
                          gconstpointer  data)
{
  Identify__Pb__Identify msg = IDENTIFY__PB__IDENTIFY__INIT;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) other = punch_private_key_generate (&error);
  g_autoptr (PunchPeerInfo) info = NULL;
  PunchPeerInfo *stored;
  GBytes *key;

  g_assert_no_error (error);
  key = punch_public_key_get_protobuf (punch_private_key_get_public_key (other));
  msg.agentversion = (char *) "forger/1.0";
  msg.has_publickey = TRUE;
  msg.publickey.data = (guint8 *) g_bytes_get_data (key, &msg.publickey.len);
  use_fake_server (f, frame (&msg));

  ptest_pair_connect (&f->pair);
  info = identify (f, &error);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PEER_ID_MISMATCH);
  g_assert_null (info);

  /* Nothing of the forged message was kept. */
  stored = punch_peer_store_lookup (punch_host_get_peer_store (f->pair.client),
                                    punch_host_get_peer_id (f->pair.server));
  g_assert_true (stored == NULL || punch_peer_info_get_agent_version (stored) == NULL);
  g_assert_cmpuint (f->client_identified, ==, 0);
}

static void
test_identify_oversized (Fixture       *f,
                         gconstpointer  data)
{
  Identify__Pb__Identify msg = IDENTIFY__PB__IDENTIFY__INIT;
  g_autofree char *agent = g_malloc (PUNCH_IDENTIFY_MAX_MESSAGE + 100);
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerInfo) info = NULL;

  memset (agent, 'a', PUNCH_IDENTIFY_MAX_MESSAGE + 99);
  agent[PUNCH_IDENTIFY_MAX_MESSAGE + 99] = '\0';
  msg.agentversion = agent;
  use_fake_server (f, frame (&msg));

  ptest_pair_connect (&f->pair);
  info = identify (f, &error);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
  g_assert_null (info);
}

static void
test_identify_garbage (Fixture       *f,
                       gconstpointer  data)
{
  static const guint8 garbage[] = { 0x05, 0xff, 0xff, 0xff, 0xff, 0xff };
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerInfo) info = NULL;

  use_fake_server (f, g_bytes_new_static (garbage, sizeof garbage));
  ptest_pair_connect (&f->pair);
  info = identify (f, &error);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED);
  g_assert_null (info);
}

static void
test_identify_truncated (Fixture       *f,
                         gconstpointer  data)
{
  /* Announces 100 bytes, sends 3, closes. */
  static const guint8 truncated[] = { 100, 0x2a, 0x01, 0x61 };
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerInfo) info = NULL;

  use_fake_server (f, g_bytes_new_static (truncated, sizeof truncated));
  ptest_pair_connect (&f->pair);
  info = identify (f, &error);
  g_assert_nonnull (error);
  g_assert_null (info);
}

/* A peer without identify: opening the stream fails with a negotiation
 * error, reported as such (and nothing else goes wrong on the way). */
static void
test_identify_peer_without_identify (Fixture       *f,
                                     gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerInfo) info = NULL;

  g_clear_object (&f->server_identify);
  ptest_pair_connect (&f->pair);
  info = identify (f, &error);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_NEGOTIATION_FAILED);
  g_assert_null (info);
}

static void
test_identify_no_message (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerInfo) info = NULL;

  use_fake_server (f, g_bytes_new_static ("", 0));
  ptest_pair_connect (&f->pair);
  info = identify (f, &error);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
  g_assert_null (info);
}

/* go sends the signed peer record in a second message when the whole is
 * over 2 KiB: messages are merged as protobuf merges them. */
static void
test_identify_merges_messages (Fixture       *f,
                               gconstpointer  data)
{
  Identify__Pb__Identify first = IDENTIFY__PB__IDENTIFY__INIT;
  Identify__Pb__Identify second = IDENTIFY__PB__IDENTIFY__INIT;
  char *first_protocols[] = { (char *) "/a/1.0.0" };
  char *second_protocols[] = { (char *) "/b/1.0.0", (char *) "" };
  g_autoptr (GBytes) a = NULL;
  g_autoptr (GBytes) b = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerInfo) info = NULL;

  first.agentversion = (char *) "first";
  first.protocolversion = (char *) "ipfs/0.1.0";
  first.protocols = first_protocols;
  first.n_protocols = G_N_ELEMENTS (first_protocols);
  second.agentversion = (char *) "second";
  second.protocols = second_protocols;
  second.n_protocols = G_N_ELEMENTS (second_protocols);
  a = frame (&first);
  b = frame (&second);
  use_fake_server (f, concat (a, b));

  ptest_pair_connect (&f->pair);
  info = identify (f, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (punch_peer_info_get_agent_version (info), ==, "second");
  g_assert_cmpstr (punch_peer_info_get_protocol_version (info), ==, "ipfs/0.1.0");
  g_assert_true (punch_peer_info_supports (info, "/a/1.0.0"));
  g_assert_true (punch_peer_info_supports (info, "/b/1.0.0"));
  /* The empty protocol ID was dropped. */
  g_assert_cmpuint (g_strv_length ((GStrv) punch_peer_info_get_protocols (info)), ==, 2);
  /* Without a key in the message, the one from the handshake is kept. */
  g_assert_nonnull (punch_peer_info_get_public_key (info));
}

/* More than PUNCH_IDENTIFY_MAX_MESSAGES: the rest is not read. */
static void
test_identify_message_count_bounded (Fixture       *f,
                                     gconstpointer  data)
{
  g_autoptr (GByteArray) all = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerInfo) info = NULL;

  for (guint i = 0; i < PUNCH_IDENTIFY_MAX_MESSAGES + 5; i++)
    {
      Identify__Pb__Identify msg = IDENTIFY__PB__IDENTIFY__INIT;
      g_autofree char *agent = g_strdup_printf ("agent-%u", i);
      g_autoptr (GBytes) framed = NULL;
      gsize len;
      const guint8 *bytes;

      msg.agentversion = agent;
      framed = frame (&msg);
      bytes = g_bytes_get_data (framed, &len);
      g_byte_array_append (all, bytes, len);
    }
  use_fake_server (f, g_byte_array_free_to_bytes (g_steal_pointer (&all)));

  ptest_pair_connect (&f->pair);
  info = identify (f, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (punch_peer_info_get_agent_version (info), ==, "agent-9");
}

/* A full identify keeps a malformed address out and the others in. */
static void
test_identify_skips_bad_addrs (Fixture       *f,
                               gconstpointer  data)
{
  Identify__Pb__Identify msg = IDENTIFY__PB__IDENTIFY__INIT;
  g_autoptr (PunchMultiaddr) good = punch_multiaddr_new_from_string ("/ip4/192.0.2.1/tcp/4001", NULL);
  static guint8 bad[] = { 0x04, 0x01 };
  ProtobufCBinaryData addrs[2];
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerInfo) info = NULL;
  GPtrArray *stored;

  addrs[0].data = bad;
  addrs[0].len = sizeof bad;
  addrs[1].data = (guint8 *) punch_multiaddr_get_bytes (good, &addrs[1].len);
  msg.listenaddrs = addrs;
  msg.n_listenaddrs = 2;
  msg.has_observedaddr = TRUE;
  msg.observedaddr.data = bad;
  msg.observedaddr.len = sizeof bad;
  use_fake_server (f, frame (&msg));

  ptest_pair_connect (&f->pair);
  info = identify (f, &error);
  g_assert_no_error (error);
  stored = punch_peer_info_get_addrs (info);
  g_assert_cmpuint (stored->len, ==, 1);
  g_assert_true (punch_multiaddr_equal (g_ptr_array_index (stored, 0), good));
  g_assert_null (punch_connection_get_observed_addr (f->pair.connection));
}

/* However many addresses and protocols a peer lists, we keep a bounded
 * number. */
static void
test_identify_caps_lists (Fixture       *f,
                          gconstpointer  data)
{
  Identify__Pb__Identify msg = IDENTIFY__PB__IDENTIFY__INIT;
  g_autoptr (GPtrArray) addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  g_autoptr (GArray) addr_data = g_array_new (FALSE, TRUE, sizeof (ProtobufCBinaryData));
  g_autoptr (GPtrArray) protocols = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerInfo) info = NULL;

  for (guint i = 0; i < 300; i++)
    {
      g_autofree char *text = g_strdup_printf ("/ip4/10.0.%u.%u/tcp/1", i / 250, i % 250);
      PunchMultiaddr *addr = punch_multiaddr_new_from_string (text, NULL);
      ProtobufCBinaryData item;

      g_ptr_array_add (addrs, addr);
      item.data = (guint8 *) punch_multiaddr_get_bytes (addr, &item.len);
      g_array_append_val (addr_data, item);
      g_ptr_array_add (protocols, g_strdup_printf ("/p/%u", i));
    }
  msg.listenaddrs = (ProtobufCBinaryData *) (gpointer) addr_data->data;
  msg.n_listenaddrs = addr_data->len;
  msg.protocols = (char **) protocols->pdata;
  msg.n_protocols = protocols->len;
  use_fake_server (f, frame (&msg));

  ptest_pair_connect (&f->pair);
  info = identify (f, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (punch_peer_info_get_addrs (info)->len, ==, 128);
  g_assert_cmpuint (g_strv_length ((GStrv) punch_peer_info_get_protocols (info)), ==, 256);
  g_assert_true (punch_peer_info_supports (info, "/p/0"));
  g_assert_false (punch_peer_info_supports (info, "/p/299"));
}

static void
test_identify_push (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerInfo) info = NULL;
  g_autoptr (PunchMultiaddr) extra = punch_multiaddr_new_from_string ("/ip4/198.51.100.7/tcp/4242", NULL);
  g_autoptr (GPtrArray) extras = g_ptr_array_new ();
  const char *agent;

  ptest_pair_connect (&f->pair);
  info = identify (f, &error);
  g_assert_no_error (error);
  g_assert_false (addrs_contain (punch_peer_info_get_addrs (info), extra));
  agent = punch_peer_info_get_agent_version (info);
  g_assert_nonnull (agent);
  PTEST_WAIT (f->client_identified > 0);

  g_ptr_array_add (extras, extra);
  f->client_identified = 0;
  punch_identify_service_set_extra_addrs (f->server_identify, extras);
  PTEST_WAIT (f->client_identified > 0);
  g_assert_true (addrs_contain (punch_peer_info_get_addrs (info), extra));
  g_assert_cmpstr (punch_peer_info_get_agent_version (info), ==, agent);

  /* The same addresses again: nothing new, no push. */
  f->client_identified = 0;
  punch_identify_service_set_extra_addrs (f->server_identify, extras);
  ptest_spin (300);
  g_assert_cmpuint (f->client_identified, ==, 0);
}

/* A push carrying only an agent changes only the agent. */
static void
handle_nothing (PunchHost       *host,
                PunchConnection *connection,
                GIOStream       *stream,
                const char      *protocol,
                gpointer         user_data)
{
  g_io_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
}

static void
on_push_stream (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Fixture *f = user_data;
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GError) error = NULL;

  stream = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result, NULL, &error);
  g_assert_no_error (error);
  ptest_write_and_close (stream, f->fake_answer);
}

static void
test_identify_partial_push (Fixture       *f,
                            gconstpointer  data)
{
  static const char * const push[] = { PUNCH_IDENTIFY_PUSH_PROTOCOL, NULL };
  Identify__Pb__Identify msg = IDENTIFY__PB__IDENTIFY__INIT;
  PunchPeerInfo *on_server;
  guint n_protocols;

  /* A harmless extra protocol so the client's identify has something to lose. */
  punch_host_set_stream_handler (f->pair.client, "/test/nothing/1.0.0", handle_nothing, NULL, NULL);
  ptest_pair_connect (&f->pair);
  PTEST_WAIT (f->server_identified > 0);
  on_server = punch_peer_store_lookup (punch_host_get_peer_store (f->pair.server),
                                       punch_host_get_peer_id (f->pair.client));
  g_assert_nonnull (on_server);
  n_protocols = g_strv_length ((GStrv) punch_peer_info_get_protocols (on_server));
  g_assert_cmpuint (n_protocols, >, 0);

  msg.agentversion = (char *) "pushed/2.0";
  f->fake_answer = frame (&msg);
  f->server_identified = 0;
  punch_connection_open_stream_async (f->pair.connection, push, NULL, on_push_stream, f);
  PTEST_WAIT (f->server_identified > 0);
  g_assert_cmpstr (punch_peer_info_get_agent_version (on_server), ==, "pushed/2.0");
  g_assert_cmpuint (g_strv_length ((GStrv) punch_peer_info_get_protocols (on_server)), ==, n_protocols);
  g_assert_true (punch_peer_info_supports (on_server, "/test/nothing/1.0.0"));
  punch_host_remove_stream_handler (f->pair.client, "/test/nothing/1.0.0");
}

/* Our own message stays within PUNCH_IDENTIFY_MAX_SEND, whatever we list. */
static void
handle_capture (PunchHost       *host,
                PunchConnection *connection,
                GIOStream       *stream,
                const char      *protocol,
                gpointer         user_data)
{
}

static void
on_own_message (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GBytes **out = user_data;
  g_autoptr (GError) error = NULL;

  *out = punch_framing_read_finish (G_INPUT_STREAM (source), result, &error);
  g_assert_no_error (error);
}

static void
on_identify_stream (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  GIOStream **out = user_data;
  g_autoptr (GError) error = NULL;

  *out = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result, NULL, &error);
  g_assert_no_error (error);
}

static void
test_identify_own_message_bounded (Fixture       *f,
                                   gconstpointer  data)
{
  static const char * const id[] = { PUNCH_IDENTIFY_PROTOCOL, NULL };
  g_autoptr (GPtrArray) extras = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GBytes) message = NULL;
  g_autoptr (Identify__Pb__Identify) msg = NULL;
  g_autofree char *long_protocol = g_strnfill (200, 'p');

  for (guint i = 0; i < 300; i++)
    {
      g_autofree char *text = g_strdup_printf ("/ip4/198.51.100.%u/tcp/%u", i % 250, 1000 + i);

      g_ptr_array_add (extras, punch_multiaddr_new_from_string (text, NULL));
    }
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *name = g_strdup_printf ("/%s/%u", long_protocol, i);

      punch_host_set_stream_handler (f->pair.server, name, handle_capture, NULL, NULL);
    }
  punch_identify_service_set_extra_addrs (f->server_identify, extras);

  ptest_pair_connect (&f->pair);
  punch_connection_open_stream_async (f->pair.connection, id, NULL, on_identify_stream, &stream);
  PTEST_WAIT (stream != NULL);
  punch_framing_read_async (g_io_stream_get_input_stream (stream), PUNCH_IDENTIFY_MAX_MESSAGE,
                            NULL, on_own_message, &message);
  PTEST_WAIT (message != NULL);
  g_assert_cmpuint (g_bytes_get_size (message), <=, PUNCH_IDENTIFY_MAX_SEND);
  msg = identify__pb__identify__unpack (NULL, g_bytes_get_size (message),
                                        g_bytes_get_data (message, NULL));
  g_assert_nonnull (msg);
  g_assert_true (msg->has_publickey);
  g_assert_cmpstr (msg->agentversion, ==, punch_host_get_agent_version (f->pair.server));
  g_assert_cmpuint (msg->n_listenaddrs, >, 0);
  g_assert_cmpuint (msg->n_listenaddrs, <, 301);
}

/* A service created after the connection opened still identifies it. */
static void
test_identify_existing_connections (Fixture       *f,
                                    gconstpointer  data)
{
  PunchPeerInfo *stored;

  g_clear_object (&f->client_identify);
  ptest_pair_connect (&f->pair);
  f->client_identify = punch_identify_service_new (f->pair.client);
  g_signal_connect (f->client_identify, "identified", G_CALLBACK (on_client_identified), f);
  PTEST_WAIT (f->client_identified > 0);
  stored = punch_peer_store_lookup (punch_host_get_peer_store (f->pair.client),
                                    punch_host_get_peer_id (f->pair.server));
  g_assert_nonnull (stored);
  g_assert_cmpstr (punch_peer_info_get_agent_version (stored), ==, PUNCH_AGENT_VERSION);
}

/* A server that takes the stream and never answers: the 5 s timeout ends it. */
static void
handle_silent (PunchHost       *host,
               PunchConnection *connection,
               GIOStream       *stream,
               const char      *protocol,
               gpointer         user_data)
{
  GIOStream **keep = user_data;

  g_set_object (keep, stream);
}

static void
test_identify_timeout (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr (GIOStream) held = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerInfo) info = NULL;
  gint64 started;

  punch_host_set_stream_handler (f->pair.server, PUNCH_IDENTIFY_PROTOCOL, handle_silent, &held, NULL);
  started = g_get_monotonic_time ();
  ptest_pair_connect (&f->pair);
  info = identify (f, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_null (info);
  g_assert_cmpint (g_get_monotonic_time () - started, >=, 4 * G_USEC_PER_SEC);
  g_assert_cmpint (g_get_monotonic_time () - started, <, 10 * G_USEC_PER_SEC);
  g_assert_nonnull (held);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/core/identify/peer-without-identify", test_identify_peer_without_identify);
  ADD ("/core/identify/fills-peer-store", test_identify_fills_peer_store);
  ADD ("/core/identify/joins-in-flight", test_identify_joins_in_flight);
  ADD ("/core/identify/cancelled-waiter", test_identify_cancelled_waiter);
  ADD ("/core/identify/forged-public-key", test_identify_forged_key);
  ADD ("/core/identify/oversized-message", test_identify_oversized);
  ADD ("/core/identify/garbage", test_identify_garbage);
  ADD ("/core/identify/truncated", test_identify_truncated);
  ADD ("/core/identify/no-message", test_identify_no_message);
  ADD ("/core/identify/merges-messages", test_identify_merges_messages);
  ADD ("/core/identify/message-count-bounded", test_identify_message_count_bounded);
  ADD ("/core/identify/skips-bad-addrs", test_identify_skips_bad_addrs);
  ADD ("/core/identify/caps-lists", test_identify_caps_lists);
  ADD ("/core/identify/push", test_identify_push);
  ADD ("/core/identify/partial-push", test_identify_partial_push);
  ADD ("/core/identify/own-message-bounded", test_identify_own_message_bounded);
  ADD ("/core/identify/existing-connections", test_identify_existing_connections);
  ADD ("/core/identify/timeout", test_identify_timeout);
#undef ADD

  return g_test_run ();
}
