/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-upgrader.h"

#include <string.h>
#include <sys/socket.h>

#include "host-test-util.h"
#include "punch-error.h"
#include "punch-multistream.h"
#include "punch-noise-stream.h"

typedef struct
{
  GIOStream       *a;
  GIOStream       *b;
  PunchPrivateKey *key_a;
  PunchPrivateKey *key_b;
} Fixture;

static GIOStream *
wrap_fd (int fd)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  f->a = wrap_fd (fds[0]);
  f->b = wrap_fd (fds[1]);
  f->key_a = punch_private_key_generate (&error);
  g_assert_no_error (error);
  f->key_b = punch_private_key_generate (&error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_io_stream_close (f->a, NULL, NULL);
  g_io_stream_close (f->b, NULL, NULL);
  host_test_spin (20);
  g_clear_object (&f->a);
  g_clear_object (&f->b);
  g_clear_object (&f->key_a);
  g_clear_object (&f->key_b);
}

static void
close_session (PunchUpgrade *upgrade)
{
  g_autoptr(GAsyncResult) result = NULL;

  punch_yamux_session_close_async (upgrade->session, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  punch_yamux_session_close_finish (upgrade->session, result, NULL);
}

static void
test_both_sides (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GAsyncResult) result_a = NULL;
  g_autoptr(GAsyncResult) result_b = NULL;
  g_autoptr(PunchUpgrade) up_a = NULL;
  g_autoptr(PunchUpgrade) up_b = NULL;
  g_autoptr(GError) error = NULL;

  punch_upgrader_upgrade_async (f->a, TRUE, f->key_a, punch_private_key_get_peer_id (f->key_b),
                                NULL, host_test_store_result, &result_a);
  punch_upgrader_upgrade_async (f->b, FALSE, f->key_b, NULL, NULL, host_test_store_result, &result_b);
  WAIT_UNTIL (result_a != NULL && result_b != NULL);

  up_a = punch_upgrader_upgrade_finish (result_a, &error);
  g_assert_no_error (error);
  up_b = punch_upgrader_upgrade_finish (result_b, &error);
  g_assert_no_error (error);

  g_assert_true (punch_peer_id_equal (up_a->peer_id, punch_private_key_get_peer_id (f->key_b)));
  g_assert_true (punch_peer_id_equal (up_b->peer_id, punch_private_key_get_peer_id (f->key_a)));
  g_assert_true (punch_public_key_equal (up_a->public_key, punch_private_key_get_public_key (f->key_b)));
  g_assert_cmpstr (up_a->security, ==, "/noise");
  g_assert_cmpstr (up_b->security, ==, "/noise");
  g_assert_cmpstr (up_a->muxer, ==, "/yamux/1.0.0");
  g_assert_cmpstr (up_b->muxer, ==, "/yamux/1.0.0");
  g_assert_true (punch_yamux_session_get_is_client (up_a->session));
  g_assert_false (punch_yamux_session_get_is_client (up_b->session));

  close_session (up_a);
  close_session (up_b);
}

/* A peer that does not offer muxers in the Noise extensions (older go and
 * js): the muxer is negotiated with multistream inside the Noise channel. */

typedef struct
{
  Fixture          *f;
  gboolean          initiator;
  PunchNoiseStream *noise;
  char             *muxer;
  GError           *error;
  gboolean          done;
} ManualPeer;

static void
manual_muxer_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  ManualPeer *peer = user_data;

  if (peer->initiator)
    peer->muxer = punch_multistream_select_finish (G_IO_STREAM (source), result, &peer->error);
  else
    peer->muxer = punch_multistream_handle_finish (G_IO_STREAM (source), result, &peer->error);
  peer->done = TRUE;
}

static void
manual_handshake_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  static const char * const muxers[] = { "/yamux/1.0.0", NULL };
  ManualPeer *peer = user_data;

  peer->noise = punch_noise_stream_handshake_finish (result, &peer->error);
  if (peer->noise == NULL)
    {
      peer->done = TRUE;
      return;
    }
  g_assert_null (punch_noise_stream_get_muxer (peer->noise));
  if (peer->initiator)
    punch_multistream_select_async (G_IO_STREAM (peer->noise), muxers, NULL, manual_muxer_cb, peer);
  else
    punch_multistream_handle_async (G_IO_STREAM (peer->noise), muxers, NULL, manual_muxer_cb, peer);
}

static void
manual_security_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  ManualPeer *peer = user_data;
  g_autofree char *security = NULL;

  if (peer->initiator)
    security = punch_multistream_select_finish (G_IO_STREAM (source), result, &peer->error);
  else
    security = punch_multistream_handle_finish (G_IO_STREAM (source), result, &peer->error);
  if (security == NULL)
    {
      peer->done = TRUE;
      return;
    }
  /* No muxers in our extensions. */
  punch_noise_stream_handshake_async (G_IO_STREAM (source), peer->initiator,
                                      peer->initiator ? peer->f->key_a : peer->f->key_b,
                                      NULL, NULL, NULL, manual_handshake_cb, peer);
}

static void
manual_peer_start (ManualPeer *peer,
                   GIOStream  *raw)
{
  static const char * const security[] = { "/noise", NULL };

  if (peer->initiator)
    punch_multistream_select_async (raw, security, NULL, manual_security_cb, peer);
  else
    punch_multistream_handle_async (raw, security, NULL, manual_security_cb, peer);
}

static void
test_muxer_fallback (Fixture       *f,
                     gconstpointer  data)
{
  gboolean we_initiate = GPOINTER_TO_INT (data);
  ManualPeer peer = { f, !we_initiate, NULL, NULL, NULL, FALSE };
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(PunchUpgrade) upgrade = NULL;
  g_autoptr(GError) error = NULL;

  if (we_initiate)
    {
      punch_upgrader_upgrade_async (f->a, TRUE, f->key_a, NULL, NULL, host_test_store_result, &result);
      manual_peer_start (&peer, f->b);
    }
  else
    {
      manual_peer_start (&peer, f->a);
      punch_upgrader_upgrade_async (f->b, FALSE, f->key_b, NULL, NULL, host_test_store_result, &result);
    }
  WAIT_UNTIL (result != NULL && peer.done);

  g_assert_no_error (peer.error);
  g_assert_cmpstr (peer.muxer, ==, "/yamux/1.0.0");
  upgrade = punch_upgrader_upgrade_finish (result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (upgrade->muxer, ==, "/yamux/1.0.0");
  g_assert_true (punch_peer_id_equal (upgrade->peer_id,
                                      punch_private_key_get_peer_id (we_initiate ? f->key_b : f->key_a)));
  g_assert_cmpint (punch_yamux_session_get_is_client (upgrade->session), ==, we_initiate);

  close_session (upgrade);
  g_clear_object (&peer.noise);
  g_free (peer.muxer);
}

static void
handle_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GError **error = user_data;
  g_autofree char *protocol = punch_multistream_handle_finish (G_IO_STREAM (source), result, error);

  g_assert_null (protocol);
}

static void
test_no_common_security (Fixture       *f,
                         gconstpointer  data)
{
  /* We offer /noise and /tls/1.0.0; the peer speaks neither. */
  static const char * const secio_only[] = { "/secio/1.0.0", NULL };
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(PunchUpgrade) upgrade = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) peer_error = NULL;

  punch_multistream_handle_async (f->b, secio_only, NULL, handle_cb, &peer_error);
  punch_upgrader_upgrade_async (f->a, TRUE, f->key_a, NULL, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);

  upgrade = punch_upgrader_upgrade_finish (result, &error);
  g_assert_null (upgrade);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_NEGOTIATION_FAILED);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, "security negotiation failed: "));
  /* We hang up: the peer's negotiation ends too. */
  WAIT_UNTIL (peer_error != NULL);
}

static void
test_garbage (Fixture       *f,
              gconstpointer  data)
{
  /* A first Noise message of 16 bytes cannot hold the 32-byte ephemeral key. */
  static const guint8 garbage[] = "\x13/multistream/1.0.0\n\x07/noise\n\x00\x10" "0123456789abcdef";
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(PunchUpgrade) upgrade = NULL;
  g_autoptr(GError) error = NULL;
  gsize written = 0;

  punch_upgrader_upgrade_async (f->b, FALSE, f->key_b, NULL, NULL, host_test_store_result, &result);
  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (f->a), garbage, sizeof garbage - 1,
                                            &written, NULL, &error));
  g_assert_no_error (error);
  WAIT_UNTIL (result != NULL);

  upgrade = punch_upgrader_upgrade_finish (result, &error);
  g_assert_null (upgrade);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, "Noise handshake failed: "));
}

static void
test_cancel (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(PunchUpgrade) upgrade = NULL;
  g_autoptr(GError) error = NULL;

  punch_upgrader_upgrade_async (f->a, TRUE, f->key_a, NULL, cancellable, host_test_store_result, &result);
  host_test_spin (50);
  g_assert_null (result);
  g_cancellable_cancel (cancellable);
  WAIT_UNTIL (result != NULL);
  upgrade = punch_upgrader_upgrade_finish (result, &error);
  g_assert_null (upgrade);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_timeout (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(PunchUpgrade) upgrade = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed;
  g_autoptr(GAsyncResult) read_result = NULL;
  g_autoptr(GError) read_error = NULL;
  gsize n = 0;
  guint8 buf[256];

  /* The remote never answers. */
  punch_upgrader_upgrade_async (f->a, TRUE, f->key_a, NULL, NULL, host_test_store_result, &result);
  WAIT_UNTIL_SECONDS (result != NULL, 30);
  elapsed = g_get_monotonic_time () - start;

  upgrade = punch_upgrader_upgrade_finish (result, &error);
  g_assert_null (upgrade);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_test_message ("%s after %.1f s", error->message, elapsed / 1e6);
  g_assert_nonnull (strstr (error->message, "security negotiation"));
  g_assert_cmpint (elapsed, >=, 14 * G_USEC_PER_SEC);
  /* Slack for a loaded test machine. */
  g_assert_cmpint (elapsed, <=, 20 * G_USEC_PER_SEC);

  /* The connection was hung up: the peer reads our proposal, then EOF. */
  g_input_stream_read_all_async (g_io_stream_get_input_stream (f->b), buf, sizeof buf,
                                 G_PRIORITY_DEFAULT, NULL, host_test_store_result, &read_result);
  WAIT_UNTIL (read_result != NULL);
  g_assert_true (g_input_stream_read_all_finish (g_io_stream_get_input_stream (f->b), read_result, &n, &read_error));
  g_assert_no_error (read_error);
  g_assert_cmpuint (n, >, 0);
  g_assert_cmpuint (n, <, sizeof buf);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, data, func) \
  g_test_add ("/core/upgrader/" path, Fixture, data, fixture_setup, func, fixture_teardown)

  ADD ("both-sides", NULL, test_both_sides);
  ADD ("muxer-fallback/initiator", GINT_TO_POINTER (TRUE), test_muxer_fallback);
  ADD ("muxer-fallback/responder", GINT_TO_POINTER (FALSE), test_muxer_fallback);
  ADD ("no-common-security", NULL, test_no_common_security);
  ADD ("garbage", NULL, test_garbage);
  ADD ("cancel", NULL, test_cancel);
  ADD ("timeout", NULL, test_timeout);

#undef ADD

  return g_test_run ();
}
