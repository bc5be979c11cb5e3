/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-forward-catalog.h"

#include <string.h>

#include "punch-framing.h"
#include "../protocols/protocols-test-util.h"

/* --- codec ------------------------------------------------------------------ */

static void
test_codec_roundtrip (void)
{
  const char *names[] = { "ssh", "web-1", "a", "x.y_z", NULL };
  const char *none[] = { NULL };
  g_autoptr (GBytes) body = punch_forward_catalog_encode (names);
  g_autoptr (GBytes) empty = punch_forward_catalog_encode (none);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) parsed = NULL;
  g_auto (GStrv) parsed_empty = NULL;
  static const guint8 expected[] = { 1, 3, 's', 's', 'h', 5, 'w', 'e', 'b', '-', '1', 1, 'a',
                                     5, 'x', '.', 'y', '_', 'z' };

  g_assert_cmpmem (g_bytes_get_data (body, NULL), g_bytes_get_size (body), expected, sizeof expected);
  parsed = punch_forward_catalog_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), &error);
  g_assert_no_error (error);
  g_assert_true (g_strv_equal ((const char * const *) parsed, names));

  g_assert_cmpuint (g_bytes_get_size (empty), ==, 1);
  parsed_empty = punch_forward_catalog_parse (g_bytes_get_data (empty, NULL), 1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (parsed_empty);
  g_assert_null (parsed_empty[0]);
}

static void
test_codec_encode_limits (void)
{
  g_autoptr (GPtrArray) many = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) parsed = NULL;
  g_autofree char *too_long = g_strnfill (PUNCH_FORWARD_MAX_NAME + 1, 'a');
  g_autofree char *longest = g_strnfill (PUNCH_FORWARD_MAX_NAME, 'b');
  const char *mixed[] = { "ok", "not ok", "", too_long, longest, NULL };

  /* Invalid names are never sent. */
  body = punch_forward_catalog_encode (mixed);
  parsed = punch_forward_catalog_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (parsed), ==, 2);
  g_assert_cmpstr (parsed[0], ==, "ok");
  g_assert_cmpstr (parsed[1], ==, longest);
  g_clear_pointer (&body, g_bytes_unref);
  g_clear_pointer (&parsed, g_strfreev);

  /* At most MAX_NAMES go out, of the longest kind, within MAX_MESSAGE. */
  for (guint i = 0; i < PUNCH_FORWARD_CATALOG_MAX_NAMES + 10; i++)
    g_ptr_array_add (many, g_strdup_printf ("%0*u", PUNCH_FORWARD_MAX_NAME, i));
  g_ptr_array_add (many, NULL);
  body = punch_forward_catalog_encode ((const char * const *) many->pdata);
  g_assert_cmpuint (g_bytes_get_size (body), <=, PUNCH_FORWARD_CATALOG_MAX_MESSAGE);
  parsed = punch_forward_catalog_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (parsed), ==, PUNCH_FORWARD_CATALOG_MAX_NAMES);
}

static void
test_codec_bad (void)
{
  static const struct
  {
    const char *what;
    const char *data;
    gsize       len;
    int         code;
    const char *message_part;
  } cases[] = {
    { "empty", "", 0, PUNCH_ERROR_MALFORMED, "Empty" },
    { "version 2", "\x02", 1, PUNCH_ERROR_MALFORMED, "version 2" },
    { "version 0", "\x00\x03ssh", 5, PUNCH_ERROR_MALFORMED, "version 0" },
    { "name past the end", "\x01\x05ssh", 5, PUNCH_ERROR_MALFORMED, "runs past the end" },
    { "length byte alone", "\x01\x01", 2, PUNCH_ERROR_MALFORMED, "runs past the end" },
    { "zero-length name", "\x01\x00\x03ssh", 6, PUNCH_ERROR_MALFORMED, "is not 1 to 64" },
    { "space in a name", "\x01\x03s h", 5, PUNCH_ERROR_MALFORMED, "is not 1 to 64" },
    { "NUL in a name", "\x01\x03s\x00h", 5, PUNCH_ERROR_MALFORMED, "is not 1 to 64" },
    { "slash in a name", "\x01\x04../x", 6, PUNCH_ERROR_MALFORMED, "is not 1 to 64" },
    { "name of 65", "\x01\x41" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 67,
      PUNCH_ERROR_MALFORMED, "is not 1 to 64" },
    { "duplicate", "\x01\x03ssh\x01x\x03ssh", 11, PUNCH_ERROR_MALFORMED, "twice" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_auto (GStrv) names = punch_forward_catalog_parse ((const guint8 *) cases[i].data, cases[i].len, &error);

      g_test_message ("case %u: %s", i, cases[i].what);
      g_assert_null (names);
      g_assert_error (error, PUNCH_ERROR, cases[i].code);
      g_assert_nonnull (strstr (error->message, cases[i].message_part));
    }
}

static void
test_codec_bad_limits (void)
{
  g_autoptr (GByteArray) msg = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = NULL;
  guint8 version = 1;

  /* One name too many (short names: under the size limit). */
  g_byte_array_append (msg, &version, 1);
  for (guint i = 0; i <= PUNCH_FORWARD_CATALOG_MAX_NAMES; i++)
    {
      g_autofree char *name = g_strdup_printf ("s%u", i);
      guint8 len = strlen (name);

      g_byte_array_append (msg, &len, 1);
      g_byte_array_append (msg, (const guint8 *) name, len);
    }
  names = punch_forward_catalog_parse (msg->data, msg->len, &error);
  g_assert_null (names);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED);
  g_assert_nonnull (strstr (error->message, "more than 48"));
  g_clear_error (&error);

  /* Over the size limit. */
  g_byte_array_set_size (msg, PUNCH_FORWARD_CATALOG_MAX_MESSAGE + 1);
  names = punch_forward_catalog_parse (msg->data, msg->len, &error);
  g_assert_null (names);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
}

/* --- over a connection ------------------------------------------------------- */

typedef struct
{
  PTestPair            pair;
  PunchForwardService *server_fwd;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  ptest_pair_init (&f->pair);
  f->server_fwd = punch_forward_service_new (f->pair.server);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->server_fwd);
  ptest_pair_clear (&f->pair);
}

static GStrv
fetch (PunchHost   *host,
       PunchPeerId *peer,
       GError     **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  punch_forward_catalog_fetch_async (host, peer, NULL, ptest_store_result, &result);
  PTEST_WAIT (result != NULL);
  return punch_forward_catalog_fetch_finish (host, result, error);
}

static void
expose (PunchForwardService *fwd,
        const char          *name)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (punch_forward_service_expose (fwd, name, "127.0.0.1:9", &error));
  g_assert_no_error (error);
}

static void
allow (PunchForwardService *fwd,
       const char          *name,
       PunchHost           *host)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (punch_forward_service_allow (fwd, name, punch_host_get_peer_id (host), &error));
  g_assert_no_error (error);
}

static void
test_fetch_allowed_only (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr (PunchHost) stranger = ptest_host_new ();
  g_autoptr (GAsyncResult) dialed = NULL;
  g_autoptr (PunchConnection) stranger_conn = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = NULL;
  const char *expected[] = { "a", "c", NULL };

  punch_forward_catalog_serve (f->server_fwd);
  expose (f->server_fwd, "c");
  expose (f->server_fwd, "a");
  expose (f->server_fwd, "b");
  expose (f->server_fwd, "d");
  allow (f->server_fwd, "a", f->pair.client);
  allow (f->server_fwd, "c", f->pair.client);
  allow (f->server_fwd, "d", stranger);
  ptest_pair_connect (&f->pair);

  /* The client learns what it may use, sorted, and nothing else. */
  names = fetch (f->pair.client, punch_host_get_peer_id (f->pair.server), &error);
  g_assert_no_error (error);
  g_assert_true (g_strv_equal ((const char * const *) names, expected));
  g_clear_pointer (&names, g_strfreev);

  /* An allow list that shrinks shows at the next ask. */
  punch_forward_service_disallow (f->server_fwd, "c", punch_host_get_peer_id (f->pair.client));
  punch_forward_service_unexpose (f->server_fwd, "a");
  names = fetch (f->pair.client, punch_host_get_peer_id (f->pair.server), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 0);
  g_clear_pointer (&names, g_strfreev);

  /* Another peer sees only its own. */
  punch_host_dial_async (stranger, f->pair.server_addr, NULL, ptest_store_result, &dialed);
  PTEST_WAIT (dialed != NULL);
  stranger_conn = punch_host_dial_finish (stranger, dialed, &error);
  g_assert_no_error (error);
  names = fetch (stranger, punch_host_get_peer_id (f->pair.server), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 1);
  g_assert_cmpstr (names[0], ==, "d");
  punch_host_close (stranger);
}

static void
test_fetch_gone_service (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr (PunchForwardCatalog) catalog = punch_forward_catalog_new (f->server_fwd);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = NULL;

  g_assert_true (PUNCH_IS_FORWARD_CATALOG (catalog));
  expose (f->server_fwd, "a");
  allow (f->server_fwd, "a", f->pair.client);
  ptest_pair_connect (&f->pair);
  /* The catalogue outliving its service answers an empty list. */
  g_clear_object (&f->server_fwd);
  names = fetch (f->pair.client, punch_host_get_peer_id (f->pair.server), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 0);
}

static void
test_fetch_unsupported (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = NULL;

  ptest_pair_connect (&f->pair);
  names = fetch (f->pair.client, punch_host_get_peer_id (f->pair.server), &error);
  g_assert_null (names);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_NEGOTIATION_FAILED);
}

static void
test_fetch_not_connected (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = fetch (f->pair.client, punch_host_get_peer_id (f->pair.server), &error);

  g_assert_null (names);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
}

/* A peer that answers with @data (already framed). */
static void
raw_answer (PunchHost       *host,
            PunchConnection *connection,
            GIOStream       *stream,
            const char      *protocol,
            gpointer         user_data)
{
  ptest_write_and_close (stream, user_data);
}

static void
check_bad_answer (Fixture      *f,
                  const guint8 *data,
                  gsize         len,
                  int           code)
{
  g_autoptr (GBytes) bytes = g_bytes_new (data, len);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = NULL;

  punch_host_set_stream_handler (f->pair.server, PUNCH_FORWARD_CATALOG_PROTOCOL, raw_answer,
                                 g_bytes_ref (bytes), (GDestroyNotify) g_bytes_unref);
  names = fetch (f->pair.client, punch_host_get_peer_id (f->pair.server), &error);
  g_assert_null (names);
  g_assert_error (error, PUNCH_ERROR, code);
}

static void
test_fetch_bad_answer (Fixture       *f,
                       gconstpointer  data)
{
  static const guint8 bad_name[] = { 5, 1, 3, 's', ' ', 'h' };
  static const guint8 too_large[] = { 0x81, 0x20 };  /* varint 4097, nothing after */
  static const guint8 truncated[] = { 9, 1, 3, 's' };

  ptest_pair_connect (&f->pair);
  check_bad_answer (f, bad_name, sizeof bad_name, PUNCH_ERROR_MALFORMED);
  check_bad_answer (f, too_large, sizeof too_large, PUNCH_ERROR_TOO_LARGE);
  {
    g_autoptr (GBytes) bytes = g_bytes_new (truncated, sizeof truncated);
    g_autoptr (GError) error = NULL;
    g_auto (GStrv) names = NULL;

    punch_host_set_stream_handler (f->pair.server, PUNCH_FORWARD_CATALOG_PROTOCOL, raw_answer,
                                   g_bytes_ref (bytes), (GDestroyNotify) g_bytes_unref);
    names = fetch (f->pair.client, punch_host_get_peer_id (f->pair.server), &error);
    g_assert_null (names);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
  }
}

static void
test_fetch_cancelled (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = NULL;

  punch_forward_catalog_serve (f->server_fwd);
  ptest_pair_connect (&f->pair);
  g_cancellable_cancel (cancellable);
  punch_forward_catalog_fetch_async (f->pair.client, punch_host_get_peer_id (f->pair.server), cancellable,
                                     ptest_store_result, &result);
  PTEST_WAIT (result != NULL);
  names = punch_forward_catalog_fetch_finish (f->pair.client, result, &error);
  g_assert_null (names);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/forward-catalog/codec/roundtrip", test_codec_roundtrip);
  g_test_add_func ("/core/forward-catalog/codec/encode-limits", test_codec_encode_limits);
  g_test_add_func ("/core/forward-catalog/codec/bad", test_codec_bad);
  g_test_add_func ("/core/forward-catalog/codec/bad-limits", test_codec_bad_limits);
  g_test_add ("/core/forward-catalog/fetch/allowed-only", Fixture, NULL, fixture_setup,
              test_fetch_allowed_only, fixture_teardown);
  g_test_add ("/core/forward-catalog/fetch/service-gone", Fixture, NULL, fixture_setup,
              test_fetch_gone_service, fixture_teardown);
  g_test_add ("/core/forward-catalog/fetch/unsupported", Fixture, NULL, fixture_setup,
              test_fetch_unsupported, fixture_teardown);
  g_test_add ("/core/forward-catalog/fetch/not-connected", Fixture, NULL, fixture_setup,
              test_fetch_not_connected, fixture_teardown);
  g_test_add ("/core/forward-catalog/fetch/bad-answer", Fixture, NULL, fixture_setup,
              test_fetch_bad_answer, fixture_teardown);
  g_test_add ("/core/forward-catalog/fetch/cancelled", Fixture, NULL, fixture_setup,
              test_fetch_cancelled, fixture_teardown);
  return g_test_run ();
}
