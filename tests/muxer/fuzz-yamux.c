/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Feeds arbitrary bytes to a Yamux session as the remote's side of the
 * connection, with a handler that reads and answers on every inbound
 * stream, and runs the main loop until the session has ended. */
#include <gio/gio.h>
#include <stdint.h>

#include "punch-yamux-session.h"
#include "punch-yamux-stream.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

typedef struct
{
  PunchYamuxStream *stream;
  guint8 buf[512];
  gboolean busy;
} Reader;

static void reader_read (Reader *reader);

static void
reader_written (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Reader *reader = user_data;

  if (g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    reader_read (reader);
  else
    reader->busy = FALSE;
}

static void
reader_got (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Reader *reader = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (reader->stream));

  if (n <= 0)
    {
      /* EOF: answer with a half-close, as a protocol handler would. */
      if (n == 0)
        g_output_stream_close (out, NULL, NULL);
      reader->busy = FALSE;
      return;
    }
  g_output_stream_write_all_async (out, reader->buf, n, G_PRIORITY_DEFAULT, NULL, reader_written, reader);
}

static void
reader_read (Reader *reader)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (reader->stream)),
                             reader->buf, sizeof reader->buf, G_PRIORITY_DEFAULT, NULL,
                             reader_got, reader);
}

static void
reader_free (gpointer data)
{
  Reader *reader = data;

  g_object_unref (reader->stream);
  g_free (reader);
}

static void
on_stream (PunchYamuxSession *session,
           PunchYamuxStream  *stream,
           gpointer           user_data)
{
  GPtrArray *readers = user_data;
  Reader *reader = g_new0 (Reader, 1);

  reader->stream = g_object_ref (stream);
  reader->busy = TRUE;
  g_ptr_array_add (readers, reader);
  /* Every third stream is reset at once, to exercise that path too. */
  if (readers->len % 3 == 0)
    {
      punch_yamux_stream_reset (stream);
      reader->busy = FALSE;
      return;
    }
  reader_read (reader);
}

static void
on_closed (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  gboolean *done = user_data;

  punch_yamux_session_close_finish (PUNCH_YAMUX_SESSION (source), result, NULL);
  *done = TRUE;
}

static gboolean
on_timeout (gpointer data)
{
  g_error ("yamux fuzz input did not finish: a hang");
  return G_SOURCE_REMOVE;
}

static gboolean
readers_busy (GPtrArray *readers)
{
  for (guint i = 0; i < readers->len; i++)
    if (((Reader *) readers->pdata[i])->busy)
      return TRUE;
  return FALSE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr (GInputStream) in = g_memory_input_stream_new_from_data (g_memdup2 (data, size), size, g_free);
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr (GIOStream) io = g_simple_io_stream_new (in, out);
  g_autoptr (GPtrArray) readers = g_ptr_array_new_with_free_func (reader_free);
  PunchYamuxSession *session;
  gboolean done = FALSE;
  guint timeout_id;

  /* Take the role the first frame's stream ID suggests, so that inputs
   * get past the parity check and both parities are exercised. */
  session = punch_yamux_session_new (io, size > 7 && (data[7] & 1) == 0);
  g_object_set (session, "keepalive-interval", 0, "max-streams", 16, NULL);
  g_signal_connect (session, "stream", G_CALLBACK (on_stream), readers);
  timeout_id = g_timeout_add_seconds (10, on_timeout, NULL);

  punch_yamux_session_start (session);
  /* The input ends, so the session always ends (EOF or an error). */
  while (!punch_yamux_session_is_closed (session))
    g_main_context_iteration (NULL, TRUE);
  punch_yamux_session_close_async (session, NULL, on_closed, &done);
  while (!done || readers_busy (readers))
    g_main_context_iteration (NULL, TRUE);

  g_ptr_array_set_size (readers, 0);
  g_object_unref (session);
  g_source_remove (timeout_id);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return 0;
}

/* Well-formed sessions for the driver to mutate. */
#define H(type, flags, id, len) \
  "\x00" type "\x00" flags "\x00\x00\x00" id "\x00\x00\x00" len

static const char seed_open_data_fin[] =
  H ("\x01", "\x01", "\x01", "\x00")          /* WindowUpdate SYN stream 1 */
  H ("\x00", "\x00", "\x01", "\x05") "hello"  /* Data */
  H ("\x01", "\x00", "\x01", "\x10")          /* WindowUpdate +16 */
  H ("\x00", "\x04", "\x01", "\x02") "!!";    /* Data FIN */
static const char seed_ping_goaway[] =
  H ("\x02", "\x01", "\x00", "\x07")          /* Ping SYN */
  H ("\x02", "\x02", "\x00", "\x00")          /* Ping ACK (our RTT ping) */
  H ("\x00", "\x01", "\x04", "\x03") "abc"    /* Data SYN stream 4 */
  H ("\x01", "\x08", "\x04", "\x00")          /* RST */
  H ("\x03", "\x00", "\x00", "\x00");         /* GoAway normal */
static const char seed_many_streams[] =
  H ("\x00", "\x01", "\x01", "\x01") "a"
  H ("\x00", "\x01", "\x03", "\x01") "b"
  H ("\x00", "\x01", "\x05", "\x01") "c"
  H ("\x00", "\x01", "\x07", "\x01") "d"
  H ("\x00", "\x01", "\x09", "\x01") "e"
  H ("\x00", "\x01", "\x0b", "\x01") "f"
  H ("\x01", "\x04", "\x01", "\x00")
  H ("\x01", "\x04", "\x03", "\x00")
  H ("\x00", "\x00", "\x05", "\x02") "gh"
  H ("\x01", "\x02", "\x02", "\x00");

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static const char *const seeds[] = { seed_open_data_fin, seed_ping_goaway, seed_many_streams, NULL };
  static gsize lens[] = { sizeof seed_open_data_fin - 1, sizeof seed_ping_goaway - 1,
                          sizeof seed_many_streams - 1 };

  *lengths = lens;
  return seeds;
}
