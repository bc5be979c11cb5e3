/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-multistream.h"

#include <string.h>

#include "punch-error.h"
#include "punch-varint.h"
#include "test-util.h"

/* Appends one multistream message: uvarint(len + 1) || msg || '\n'. */
static void
append_msg (GByteArray *out, const char *msg)
{
  punch_varint_append (out, strlen (msg) + 1);
  g_byte_array_append (out, (const guint8 *) msg, (guint) strlen (msg));
  g_byte_array_append (out, (const guint8 *) "\n", 1);
}

static void
raw_write (GIOStream *stream, const guint8 *data, gsize len)
{
  g_autoptr (GError) error = NULL;

  /* Small writes to a local socket never block. */
  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (stream),
                                            data, len, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
raw_write_array (GIOStream *stream, GByteArray *data)
{
  raw_write (stream, data->data, data->len);
}

/* Reads exactly @len bytes, running the main loop meanwhile. */
static GBytes *
raw_read (GIOStream *stream, gsize len)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  guint8 *buf = g_malloc (len + 1);
  gsize n = 0;

  g_input_stream_read_all_async (g_io_stream_get_input_stream (stream), buf, len,
                                 G_PRIORITY_DEFAULT, NULL, test_store_result, &result);
  test_await_result (&result);
  g_assert_true (g_input_stream_read_all_finish (g_io_stream_get_input_stream (stream),
                                                 result, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, len);
  return g_bytes_new_take (buf, len);
}

static void
assert_bytes (GBytes *got, GByteArray *expected)
{
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got),
                   expected->data, expected->len);
}

/* A clean EOF. Closing outright would make the kernel reset the connection
 * when our side has unread data, e.g. the responder's header. */
static void
raw_close (GIOStream *stream)
{
  GSocket *socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream));

  g_assert_true (g_socket_shutdown (socket, FALSE, TRUE, NULL));
}

static char *
select_finish (GIOStream *stream, GAsyncResult **result, GError **error)
{
  test_await_result (result);
  return punch_multistream_select_finish (stream, *result, error);
}

static char *
handle_finish (GIOStream *stream, GAsyncResult **result, GError **error)
{
  test_await_result (result);
  return punch_multistream_handle_finish (stream, *result, error);
}

static void
assert_message_contains (const GError *error, const char *part)
{
  g_assert_nonnull (error);
  if (strstr (error->message, part) == NULL)
    g_error ("error \"%s\" does not mention \"%s\"", error->message, part);
}

/* Both ends ours ----------------------------------------------------------- */

typedef struct
{
  const char *name;
  const char *proposals[4];
  const char *supported[4];
  const char *expected;     /* NULL: no common protocol */
} PairCase;

static void
test_pair (gconstpointer data)
{
  const PairCase *c = data;
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  g_autoptr (GAsyncResult) sres = NULL;
  g_autoptr (GAsyncResult) hres = NULL;
  g_autoptr (GError) serror = NULL;
  g_autoptr (GError) herror = NULL;
  g_autofree char *selected = NULL;
  g_autofree char *handled = NULL;

  test_socket_pair (&a, &b);
  punch_multistream_select_async (a, c->proposals, NULL, test_store_result, &sres);
  punch_multistream_handle_async (b, c->supported, NULL, test_store_result, &hres);

  selected = select_finish (a, &sres, &serror);
  if (c->expected != NULL)
    {
      g_assert_no_error (serror);
      g_assert_cmpstr (selected, ==, c->expected);
      handled = handle_finish (b, &hres, &herror);
      g_assert_no_error (herror);
      g_assert_cmpstr (handled, ==, c->expected);
      return;
    }

  g_assert_null (selected);
  g_assert_error (serror, PUNCH_ERROR, PUNCH_ERROR_NEGOTIATION_FAILED);
  assert_message_contains (serror, c->proposals[0]);
  assert_message_contains (serror, c->proposals[1]);
  /* The initiator hangs up; the responder must not wait forever. */
  raw_close (a);
  handled = handle_finish (b, &hres, &herror);
  g_assert_null (handled);
  g_assert_error (herror, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
}

static const PairCase pair_cases[] = {
  { "pipelined", { "/noise", NULL }, { "/tls/1.0.0", "/noise", NULL }, "/noise" },
  { "na-then-second", { "/tls/1.0.0", "/noise", NULL }, { "/noise", NULL }, "/noise" },
  { "third-choice", { "/a", "/b", "/yamux/1.0.0", NULL }, { "/yamux/1.0.0", "/c", NULL }, "/yamux/1.0.0" },
  { "no-common", { "/a", "/b", NULL }, { "/c", NULL }, NULL },
};

/* Byte-exact wire ------------------------------------------------------- */

static void
test_transcript (void)
{
  static const guint8 first_write[] = {
    0x13, 0x2f, 0x6d, 0x75, 0x6c, 0x74, 0x69, 0x73, 0x74, 0x72, 0x65, 0x61, 0x6d,
    0x2f, 0x31, 0x2e, 0x30, 0x2e, 0x30, 0x0a,                              /* /multistream/1.0.0\n */
    0x07, 0x2f, 0x6e, 0x6f, 0x69, 0x73, 0x65, 0x0a,                        /* /noise\n */
  };
  static const char *const protocols[] = { "/noise", NULL };
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  g_autoptr (GSocket) sa = NULL;
  g_autoptr (GSocket) sb = NULL;
  g_autoptr (GAsyncResult) sres = NULL;
  g_autoptr (GAsyncResult) rres = NULL;
  g_autoptr (GByteArray) reply = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *selected = NULL;
  g_autoptr (GBytes) after = NULL;
  guint8 buf[256];
  gssize n;
  int fds[2];

  /* SEQPACKET keeps write boundaries: one read returning everything proves
   * the header and the proposal left in one write. */
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_SEQPACKET, 0, fds), ==, 0);
  sa = g_socket_new_from_fd (fds[0], NULL);
  sb = g_socket_new_from_fd (fds[1], NULL);
  a = G_IO_STREAM (g_socket_connection_factory_create_connection (sa));
  b = G_IO_STREAM (g_socket_connection_factory_create_connection (sb));

  punch_multistream_select_async (a, protocols, NULL, test_store_result, &sres);
  g_input_stream_read_async (g_io_stream_get_input_stream (b), buf, sizeof buf,
                             G_PRIORITY_DEFAULT, NULL, test_store_result, &rres);
  test_await_result (&rres);
  n = g_input_stream_read_finish (g_io_stream_get_input_stream (b), rres, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (buf, n, first_write, sizeof first_write);

  /* Header, echo and the first bytes of the next protocol: the initiator
   * must leave the latter unread. One record per byte, since a SEQPACKET
   * read drops what does not fit its buffer. */
  append_msg (reply, "/multistream/1.0.0");
  append_msg (reply, "/noise");
  g_byte_array_append (reply, (const guint8 *) "NEXT", 4);
  for (guint i = 0; i < reply->len; i++)
    raw_write (b, &reply->data[i], 1);

  selected = select_finish (a, &sres, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (selected, ==, "/noise");

  after = raw_read (a, 4);
  g_assert_cmpmem (g_bytes_get_data (after, NULL), 4, "NEXT", 4);
}

static void
test_responder_transcript (void)
{
  static const char *const supported[] = { "/noise", NULL };
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  g_autoptr (GAsyncResult) hres = NULL;
  g_autoptr (GByteArray) proposal = g_byte_array_new ();
  g_autoptr (GByteArray) expected = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *handled = NULL;
  g_autoptr (GBytes) got = NULL;
  g_autoptr (GBytes) after = NULL;

  test_socket_pair (&a, &b);
  punch_multistream_handle_async (b, supported, NULL, test_store_result, &hres);

  /* A 0-RTT initiator sends header, proposal and its first Noise message
   * back to back. */
  append_msg (proposal, "/multistream/1.0.0");
  append_msg (proposal, "/tls/1.0.0");
  append_msg (proposal, "/noise");
  g_byte_array_append (proposal, (const guint8 *) "\x00\x20NOISE", 7);
  raw_write_array (a, proposal);

  handled = handle_finish (b, &hres, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (handled, ==, "/noise");

  append_msg (expected, "/multistream/1.0.0");
  append_msg (expected, "na");
  append_msg (expected, "/noise");
  got = raw_read (a, expected->len);
  assert_bytes (got, expected);

  after = raw_read (b, 7);
  g_assert_cmpmem (g_bytes_get_data (after, NULL), 7, "\x00\x20NOISE", 7);
}

static void
test_ls (void)
{
  static const char *const supported[] = { "/noise", "/yamux/1.0.0", NULL };
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  g_autoptr (GAsyncResult) hres = NULL;
  g_autoptr (GByteArray) request = g_byte_array_new ();
  g_autoptr (GByteArray) expected = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *handled = NULL;
  g_autoptr (GBytes) got = NULL;
  static const guint8 ls_reply[] = {
    0x17,                                                   /* 22 + '\n' */
    0x07, '/', 'n', 'o', 'i', 's', 'e', '\n',
    0x0d, '/', 'y', 'a', 'm', 'u', 'x', '/', '1', '.', '0', '.', '0', '\n',
    '\n',
  };

  test_socket_pair (&a, &b);
  punch_multistream_handle_async (b, supported, NULL, test_store_result, &hres);

  append_msg (request, "/multistream/1.0.0");
  append_msg (request, "ls");
  raw_write_array (a, request);

  append_msg (expected, "/multistream/1.0.0");
  g_byte_array_append (expected, ls_reply, sizeof ls_reply);
  got = raw_read (a, expected->len);
  assert_bytes (got, expected);

  /* "ls" does not end the negotiation. */
  g_byte_array_set_size (request, 0);
  append_msg (request, "/yamux/1.0.0");
  raw_write_array (a, request);
  handled = handle_finish (b, &hres, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (handled, ==, "/yamux/1.0.0");
}

/* Bad input to the responder --------------------------------------------- */

typedef struct
{
  const char   *name;
  const guint8 *input;
  gsize         len;
  gboolean      close_after;   /* hang up after writing */
  gboolean      with_header;   /* prepend a valid header */
  GQuark      (*domain) (void);
  int           code;
  const char   *message_part;
} BadCase;

static GQuark
io_error (void)
{
  return G_IO_ERROR;
}

#define BYTES(s) ((const guint8 *) (s)), (sizeof (s) - 1)

static void
run_bad_responder (const BadCase *c)
{
  static const char *const supported[] = { "/noise", NULL };
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  g_autoptr (GAsyncResult) hres = NULL;
  g_autoptr (GByteArray) input = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *handled = NULL;

  g_test_message ("responder case %s", c->name);
  test_socket_pair (&a, &b);
  punch_multistream_handle_async (b, supported, NULL, test_store_result, &hres);
  if (c->with_header)
    append_msg (input, "/multistream/1.0.0");
  g_byte_array_append (input, c->input, (guint) c->len);
  raw_write_array (a, input);
  if (c->close_after)
    raw_close (a);

  handled = handle_finish (b, &hres, &error);
  g_assert_null (handled);
  g_assert_error (error, c->domain (), c->code);
  assert_message_contains (error, c->message_part);
}

static void
test_bad_responder (void)
{
  g_autoptr (GByteArray) too_large = g_byte_array_new ();
  g_autoptr (GByteArray) max_ok = g_byte_array_new ();
  g_autoptr (GByteArray) many = g_byte_array_new ();
  g_autofree char *long_id = g_strnfill (1023, 'p');
  const char *http = "GET / HTTP/1.1\r\nHost: example\r\nUser-Agent: curl/7.88.1\r\n"
                     "Accept: */*\r\nConnection: close\r\n\r\n";

  /* 1025 bytes: one over the limit, refused from the prefix alone. */
  punch_varint_append (too_large, 1025);
  /* 1023 + '\n' = 1024 is allowed (answered "na"), then a close. */
  append_msg (max_ok, long_id);
  for (int i = 0; i < 32; i++)
    append_msg (many, "/unsupported");

  {
    const BadCase cases[] = {
      { "wrong-version", BYTES ("\x13/multistream/2.0.0\n"), FALSE, FALSE,
        punch_error_quark, PUNCH_ERROR_PROTOCOL, "does not speak multistream-select 1.0 (got \"/multistream/2.0.0\")" },
      { "http", (const guint8 *) http, strlen (http), FALSE, FALSE,
        punch_error_quark, PUNCH_ERROR_PROTOCOL, "(got \"ET / HTTP/1.1\\x0d\\nHost" },
      { "proposal-first", BYTES ("\x07/noise\n"), FALSE, FALSE,
        punch_error_quark, PUNCH_ERROR_PROTOCOL, "got \"/noise\"" },
      { "header-non-minimal-varint", BYTES ("\x80\x00"), FALSE, FALSE,
        punch_error_quark, PUNCH_ERROR_PROTOCOL, "does not speak" },
      { "closed-before-header", BYTES (""), TRUE, FALSE,
        io_error, G_IO_ERROR_CONNECTION_CLOSED, "header" },
      { "too-large", too_large->data, too_large->len, FALSE, TRUE,
        punch_error_quark, PUNCH_ERROR_TOO_LARGE, "1025" },
      { "max-then-eof", max_ok->data, max_ok->len, TRUE, TRUE,
        io_error, G_IO_ERROR_CONNECTION_CLOSED, "proposal" },
      { "missing-newline", BYTES ("\x07/noiseX"), FALSE, TRUE,
        punch_error_quark, PUNCH_ERROR_MALFORMED, "\"/noiseX\"" },
      { "empty-message", BYTES ("\x00"), FALSE, TRUE,
        punch_error_quark, PUNCH_ERROR_MALFORMED, "newline" },
      { "eof-mid-message", BYTES ("\x07/noi"), TRUE, TRUE,
        io_error, G_IO_ERROR_PARTIAL_INPUT, "4 of 7" },
      { "eof-mid-prefix", BYTES ("\x87"), TRUE, TRUE,
        io_error, G_IO_ERROR_PARTIAL_INPUT, "length prefix" },
      { "too-many-proposals", many->data, many->len, FALSE, TRUE,
        punch_error_quark, PUNCH_ERROR_NEGOTIATION_FAILED, "32" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
      run_bad_responder (&cases[i]);
  }
}

/* Bad answers to the initiator ------------------------------------------- */

static void
run_bad_initiator (const char *name, GByteArray *answer, gboolean close_after,
                   GQuark domain, int code, const char *part)
{
  static const char *const protocols[] = { "/noise", NULL };
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  g_autoptr (GAsyncResult) sres = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *selected = NULL;

  g_test_message ("initiator case %s", name);
  test_socket_pair (&a, &b);
  punch_multistream_select_async (a, protocols, NULL, test_store_result, &sres);
  raw_write_array (b, answer);
  if (close_after)
    raw_close (b);
  selected = select_finish (a, &sres, &error);
  g_assert_null (selected);
  g_assert_error (error, domain, code);
  assert_message_contains (error, part);
}

static void
test_bad_initiator (void)
{
  g_autoptr (GByteArray) wrong_header = g_byte_array_new ();
  g_autoptr (GByteArray) wrong_reply = g_byte_array_new ();
  g_autoptr (GByteArray) no_reply = g_byte_array_new ();
  g_autoptr (GByteArray) binary = g_byte_array_new ();
  g_autoptr (GByteArray) too_large = g_byte_array_new ();

  append_msg (wrong_header, "/multistream/2.0.0");
  run_bad_initiator ("wrong-header", wrong_header, FALSE, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                     "remote does not speak multistream-select 1.0 (got \"/multistream/2.0.0\")");

  g_byte_array_append (binary, (const guint8 *) "\x05\x01\x02\xff\x00\n", 6);
  run_bad_initiator ("binary-header", binary, FALSE, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                     "(got \"\\x01\\x02\\xff\\x00\")");

  append_msg (wrong_reply, "/multistream/1.0.0");
  append_msg (wrong_reply, "/tls/1.0.0");
  run_bad_initiator ("wrong-reply", wrong_reply, FALSE, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                     "unexpected reply to proposal /noise: \"/tls/1.0.0\"");

  append_msg (no_reply, "/multistream/1.0.0");
  run_bad_initiator ("closed-before-reply", no_reply, TRUE, G_IO_ERROR,
                     G_IO_ERROR_CONNECTION_CLOSED, "reading reply to proposal /noise");

  append_msg (too_large, "/multistream/1.0.0");
  punch_varint_append (too_large, 100000);
  run_bad_initiator ("too-large-reply", too_large, FALSE, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                     "100000");
}

static void
test_cancelled (void)
{
  static const char *const protocols[] = { "/noise", NULL };
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) sres = NULL;
  g_autoptr (GAsyncResult) hres = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *selected = NULL;
  g_autofree char *handled = NULL;

  test_socket_pair (&a, &b);
  /* Nobody answers: only the cancellation can end these. */
  punch_multistream_select_async (a, protocols, cancellable, test_store_result, &sres);
  punch_multistream_handle_async (b, protocols, cancellable, test_store_result, &hres);
  g_cancellable_cancel (cancellable);

  selected = select_finish (a, &sres, &error);
  g_assert_null (selected);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  handled = handle_finish (b, &hres, &error);
  g_assert_null (handled);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_oversized_protocol_id (void)
{
  g_autofree char *long_id = g_strnfill (1024, 'p');
  const char *protocols[] = { long_id, NULL };
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  g_autoptr (GAsyncResult) sres = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *selected = NULL;

  test_socket_pair (&a, &b);
  punch_multistream_select_async (a, protocols, NULL, test_store_result, &sres);
  selected = select_finish (a, &sres, &error);
  g_assert_null (selected);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (pair_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/core/multistream/pair/%s", pair_cases[i].name);
      g_test_add_data_func (path, &pair_cases[i], test_pair);
    }
  g_test_add_func ("/core/multistream/transcript/initiator", test_transcript);
  g_test_add_func ("/core/multistream/transcript/responder", test_responder_transcript);
  g_test_add_func ("/core/multistream/ls", test_ls);
  g_test_add_func ("/core/multistream/bad/responder", test_bad_responder);
  g_test_add_func ("/core/multistream/bad/initiator", test_bad_initiator);
  g_test_add_func ("/core/multistream/bad/oversized-protocol-id", test_oversized_protocol_id);
  g_test_add_func ("/core/multistream/cancelled", test_cancelled);

  return g_test_run ();
}
