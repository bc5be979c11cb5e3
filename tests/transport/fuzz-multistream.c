/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Feeds arbitrary bytes to a multistream-select responder and to an
 * initiator, as if they came from the remote. */
#include <gio/gio.h>
#include <stdint.h>
#include <string.h>

#include "punch-multistream.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

static const char *const protocols[] = { "/noise", "/yamux/1.0.0", "/ipfs/id/1.0.0", NULL };
static const char *const proposals[] = { "/tls/1.0.0", "/noise", NULL };

static void
on_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static void
run (const uint8_t *data, size_t size, gboolean initiator)
{
  g_autoptr (GInputStream) in = g_memory_input_stream_new_from_data (data, (gssize) size, NULL);
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr (GIOStream) stream = g_simple_io_stream_new (in, out);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *protocol = NULL;

  if (initiator)
    punch_multistream_select_async (stream, (const char *const *) proposals, NULL, on_done, &result);
  else
    punch_multistream_handle_async (stream, (const char *const *) protocols, NULL, on_done, &result);
  /* Memory streams always complete, and every message read either ends
   * the negotiation or moves it on, so this loop ends. */
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);

  if (initiator)
    protocol = punch_multistream_select_finish (stream, result, &error);
  else
    protocol = punch_multistream_handle_finish (stream, result, &error);
  g_assert ((protocol == NULL) != (error == NULL));
  if (protocol != NULL)
    g_assert (g_strv_contains (initiator ? proposals : protocols, protocol));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  run (data, size, FALSE);
  run (data, size, TRUE);
  return 0;
}

static const char *const seeds[] = {
  "\x13/multistream/1.0.0\n\x07/noise\n",
  "\x13/multistream/1.0.0\n\x03ls\n\x0b/tls/1.0.0\n\x0d/yamux/1.0.0\n",
  "\x13/multistream/1.0.0\n\x03na\n\x07/noise\n",
  NULL,
};

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static gsize lens[G_N_ELEMENTS (seeds)];

  for (gsize i = 0; seeds[i] != NULL; i++)
    lens[i] = strlen (seeds[i]);
  *lengths = lens;
  return seeds;
}
