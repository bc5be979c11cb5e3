/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Our TLS handshake, either side, against a peer that sends arbitrary bytes
 * and hangs up: it must end with a GError, never crash, hang or succeed.
 * The first input byte picks the side; the rest is what the peer sends. */
#include <gio/gio.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "punch-private-key.h"
#include "punch-tls-stream.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

#define SCRIPT_MAX (64 * 1024)

static PunchPrivateKey *
identity (void)
{
  static PunchPrivateKey *key;

  /* One key (and so one TLS context) for the whole run. */
  if (key == NULL)
    key = punch_private_key_generate (NULL);
  g_assert_nonnull (key);
  return key;
}

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static void
socket_pair (GIOStream **ours,
             GSocket   **theirs)
{
  int fds[2];
  g_autoptr (GSocket) a = NULL;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  a = g_socket_new_from_fd (fds[0], NULL);
  *theirs = g_socket_new_from_fd (fds[1], NULL);
  g_assert_nonnull (a);
  g_assert_nonnull (*theirs);
  *ours = G_IO_STREAM (g_socket_connection_factory_create_connection (a));
}

/* Runs one handshake on @ours; returns what our side wrote first. */
static GBytes *
run (GIOStream    *ours,
     GSocket      *theirs,
     gboolean      initiator,
     const guint8 *script,
     gsize         len)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PunchTlsStream) stream = NULL;
  g_autoptr (GError) error = NULL;
  guint8 first[4096];
  gssize n;

  /* The script fits the socket buffer: written before the handshake starts. */
  if (len > 0)
    g_assert_cmpint (g_socket_send (theirs, (const char *) script, len, NULL, NULL), ==, (gssize) len);
  g_socket_shutdown (theirs, FALSE, TRUE, NULL);

  punch_tls_stream_handshake_async (ours, initiator, identity (), NULL, NULL, NULL, store_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  stream = punch_tls_stream_handshake_finish (result, &error);
  /* A peer that only hangs up can never authenticate. */
  g_assert_null (stream);
  g_assert_nonnull (error);

  g_socket_set_blocking (theirs, FALSE);
  n = g_socket_receive (theirs, (char *) first, sizeof first, NULL, NULL);
  return n > 0 ? g_bytes_new (first, (gsize) n) : NULL;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr (GIOStream) ours = NULL;
  g_autoptr (GSocket) theirs = NULL;
  g_autoptr (GBytes) first = NULL;

  if (size == 0 || size > SCRIPT_MAX)
    return 0;
  socket_pair (&ours, &theirs);
  first = run (ours, theirs, data[0] & 1, data + 1, size - 1);
  /* Let the close of the failed connection finish. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return 0;
}

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static GPtrArray *seeds;
  static GArray *lens;

  if (seeds == NULL)
    {
      g_autoptr (GIOStream) ours = NULL;
      g_autoptr (GSocket) theirs = NULL;
      g_autoptr (GBytes) hello = NULL;
      static const guint8 server_hello_start[] = {
        0x00, 0x16, 0x03, 0x03, 0x00, 0x5a, 0x02, 0x00, 0x00, 0x56, 0x03, 0x03,
      };
      guint8 *seed;
      gsize len;

      seeds = g_ptr_array_new ();
      lens = g_array_new (FALSE, FALSE, sizeof (gsize));

      /* Our own ClientHello, as a server would receive it. */
      socket_pair (&ours, &theirs);
      hello = run (ours, theirs, TRUE, NULL, 0);
      g_assert_nonnull (hello);
      len = g_bytes_get_size (hello) + 1;
      seed = g_malloc (len);
      seed[0] = 0;  /* we are the server */
      memcpy (seed + 1, g_bytes_get_data (hello, NULL), len - 1);
      g_ptr_array_add (seeds, seed);
      g_array_append_val (lens, len);

      /* The start of a ServerHello, for the client side. */
      len = sizeof server_hello_start;
      seed = g_memdup2 (server_hello_start, len);
      seed[0] = 1;
      g_ptr_array_add (seeds, seed);
      g_array_append_val (lens, len);

      g_ptr_array_add (seeds, NULL);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  *lengths = (gsize *) (void *) lens->data;
  return (const char *const *) seeds->pdata;
}
