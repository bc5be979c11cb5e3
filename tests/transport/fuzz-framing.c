/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reads length-prefixed messages from arbitrary bytes until an error. */
#include <gio/gio.h>
#include <stdint.h>

#include "punch-framing.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GInputStream) in = g_memory_input_stream_new_from_data (data, (gssize) size, NULL);
  gsize total = 0;

  for (;;)
    {
      g_autoptr (GAsyncResult) result = NULL;
      g_autoptr (GBytes) msg = NULL;
      g_autoptr (GError) error = NULL;

      punch_framing_read_async (in, 4096, NULL, on_read, &result);
      /* Memory streams always complete, so this loop ends. */
      while (result == NULL)
        g_main_context_iteration (NULL, TRUE);
      msg = punch_framing_read_finish (in, result, &error);
      if (msg == NULL)
        {
          g_assert (error != NULL);
          break;
        }
      g_assert (g_bytes_get_size (msg) <= 4096);
      total += g_bytes_get_size (msg) + 1;
      g_assert (total <= size);
    }
  return 0;
}

static const char *const seeds[] = {
  "\x03" "abc" "\x00" "\x05" "hello",
  "\x80\x01",
  "\xac\x02" "xyz",
  NULL,
};

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static gsize lens[] = { 11, 2, 5 };

  *lengths = lens;
  return seeds;
}
