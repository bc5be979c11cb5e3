/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-framing.h"

#include <string.h>

#include "punch-error.h"
#include "test-util.h"

static GBytes *
read_message (GInputStream *in, gsize max_len, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  punch_framing_read_async (in, max_len, NULL, test_store_result, &result);
  test_await_result (&result);
  return punch_framing_read_finish (in, result, error);
}

static GInputStream *
memory_input (const guint8 *data, gsize len)
{
  return g_memory_input_stream_new_from_bytes (g_bytes_new (data, len));
}

/* ------------------------------------------------------------------------ */

typedef struct
{
  gsize       len;
  const char *prefix;  /* hex of the expected varint */
} AppendCase;

static void
test_append (void)
{
  static const AppendCase cases[] = {
    { 0, "00" },
    { 1, "01" },
    { 127, "7f" },
    { 128, "8001" },
    { 300, "ac02" },
    { 16384, "808001" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GByteArray) out = g_byte_array_new ();
      g_autofree guint8 *data = g_malloc (cases[i].len + 1);
      g_autoptr (GString) hex = g_string_new (NULL);
      gsize prefix_len = strlen (cases[i].prefix) / 2;

      memset (data, 0x5a, cases[i].len);
      punch_framing_append (out, data, cases[i].len);
      g_assert_cmpuint (out->len, ==, prefix_len + cases[i].len);
      for (gsize j = 0; j < prefix_len; j++)
        g_string_append_printf (hex, "%02x", out->data[j]);
      g_assert_cmpstr (hex->str, ==, cases[i].prefix);
      if (cases[i].len > 0)
        g_assert_cmpmem (out->data + prefix_len, cases[i].len, data, cases[i].len);
    }
}

static void
test_roundtrip (void)
{
  static const gsize sizes[] = { 0, 1, 127, 128, 300, 4096, 70000 };
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  GOutputStream *out;
  GInputStream *in;

  test_socket_pair (&a, &b);
  out = g_io_stream_get_output_stream (a);
  in = g_io_stream_get_input_stream (b);

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree guint8 *data = g_malloc (sizes[i] + 1);
      g_autoptr (GBytes) msg = NULL;
      g_autoptr (GBytes) got = NULL;
      g_autoptr (GAsyncResult) wres = NULL;
      g_autoptr (GAsyncResult) rres = NULL;
      g_autoptr (GError) error = NULL;

      for (gsize j = 0; j < sizes[i]; j++)
        data[j] = (guint8) (j * 7 + i);
      msg = g_bytes_new (data, sizes[i]);

      /* Write and read concurrently: 70000 bytes do not fit a socket buffer. */
      punch_framing_write_async (out, msg, NULL, test_store_result, &wres);
      punch_framing_read_async (in, 100000, NULL, test_store_result, &rres);
      test_await_result (&wres);
      g_assert_true (punch_framing_write_finish (out, wres, &error));
      g_assert_no_error (error);
      test_await_result (&rres);
      got = punch_framing_read_finish (in, rres, &error);
      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (got, msg));
    }
}

/* The bytes after a message belong to the next protocol: none may be eaten. */
static void
test_no_overread (void)
{
  static const guint8 input[] = { 0x03, 'a', 'b', 'c', 0x02, 'd', 'e', 'X', 'Y', 'Z' };
  g_autoptr (GInputStream) in = memory_input (input, sizeof input);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) first = NULL;
  g_autoptr (GBytes) second = NULL;
  guint8 rest[8];
  gsize n = 0;

  first = read_message (in, 16, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (first, NULL), g_bytes_get_size (first), "abc", 3);
  second = read_message (in, 16, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (second, NULL), g_bytes_get_size (second), "de", 2);

  g_assert_true (g_input_stream_read_all (in, rest, sizeof rest, &n, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (rest, n, "XYZ", 3);
}

static void
test_max_len_exact (void)
{
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  g_autofree guint8 *body = g_malloc0 (1024);
  g_autoptr (GInputStream) in = NULL;
  g_autoptr (GBytes) msg = NULL;
  g_autoptr (GError) error = NULL;

  punch_framing_append (buf, body, 1024);
  in = memory_input (buf->data, buf->len);
  msg = read_message (in, 1024, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (msg), ==, 1024);
}

typedef struct
{
  const char  *name;
  const guint8 input[16];
  gsize        len;
  gsize        max_len;
  GQuark     (*domain) (void);
  int          code;
  const char  *message_part;
  gsize        consumed;    /* bytes the failed read may have taken */
} BadCase;

static GQuark
io_error (void)
{
  return G_IO_ERROR;
}

static void
test_bad_input (void)
{
  static const BadCase cases[] = {
    { "empty", { 0 }, 0, 16, io_error, G_IO_ERROR_CONNECTION_CLOSED, "closed", 0 },
    { "eof-in-prefix", { 0x80 }, 1, 1024, io_error, G_IO_ERROR_PARTIAL_INPUT, "length prefix", 1 },
    { "eof-in-body", { 0x05, 'a', 'b' }, 3, 16, io_error, G_IO_ERROR_PARTIAL_INPUT, "2 of 5", 3 },
    { "non-minimal", { 0x80, 0x00 }, 2, 16, punch_error_quark, PUNCH_ERROR_MALFORMED, "minimal", 2 },
    { "ten-byte-varint", { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 10,
      16, punch_error_quark, PUNCH_ERROR_TOO_LARGE, "longer than 9", 9 },
    { "huge-length", { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, 9,
      1024, punch_error_quark, PUNCH_ERROR_TOO_LARGE, "over the limit of 1024", 9 },
    { "one-over", { 0x81, 0x08, 'x' }, 3, 1024, punch_error_quark, PUNCH_ERROR_TOO_LARGE,
      "1025 bytes", 2 },
    { "over-small-limit", { 0x05, 'a', 'b', 'c', 'd', 'e' }, 6, 4, punch_error_quark,
      PUNCH_ERROR_TOO_LARGE, "5 bytes", 1 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const BadCase *c = &cases[i];
      g_autoptr (GInputStream) in = memory_input (c->input, c->len);
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) msg = NULL;
      guint8 rest[16];
      gsize n = 0;

      g_test_message ("case %s", c->name);
      msg = read_message (in, c->max_len, &error);
      g_assert_null (msg);
      g_assert_error (error, c->domain (), c->code);
      if (strstr (error->message, c->message_part) == NULL)
        g_error ("case %s: \"%s\" does not mention \"%s\"", c->name, error->message, c->message_part);

      g_clear_error (&error);
      g_assert_true (g_input_stream_read_all (in, rest, sizeof rest, &n, NULL, &error));
      g_assert_cmpuint (n, ==, c->len - c->consumed);
    }
}

static void
test_cancelled (void)
{
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) msg = NULL;

  test_socket_pair (&a, &b);
  punch_framing_read_async (g_io_stream_get_input_stream (b), 16, cancellable,
                            test_store_result, &result);
  g_cancellable_cancel (cancellable);
  test_await_result (&result);
  msg = punch_framing_read_finish (g_io_stream_get_input_stream (b), result, &error);
  g_assert_null (msg);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/framing/append", test_append);
  g_test_add_func ("/core/framing/roundtrip", test_roundtrip);
  g_test_add_func ("/core/framing/no-overread", test_no_overread);
  g_test_add_func ("/core/framing/max-len-exact", test_max_len_exact);
  g_test_add_func ("/core/framing/bad-input", test_bad_input);
  g_test_add_func ("/core/framing/cancelled", test_cancelled);

  return g_test_run ();
}
