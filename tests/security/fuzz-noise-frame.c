/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Transport frames: each input is the whole byte stream a Noise input
 * stream reads (length prefixes and ciphertexts) under a fixed key. */
#include <gio/gio.h>
#include <stdint.h>
#include <string.h>

#include "punch-noise-input-stream.h"
#include "punch-noise-state.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

static const guint8 KEY[PUNCH_NOISE_KEY_LEN] = { 7, 7, 7, 7, 7, 7, 7, 7, 9 };

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr (GInputStream) memory = NULL;
  g_autoptr (PunchNoiseInputStream) stream = NULL;
  guint8 buf[1000];
  gsize total = 0;

  memory = g_memory_input_stream_new_from_data (g_memdup2 (data, size), (gssize) size, g_free);
  stream = punch_noise_input_stream_new (memory, NULL, punch_noise_cipher_new (KEY, NULL));

  /* Every read ends: each consumes input or returns 0/an error. */
  for (guint reads = 0; reads <= size + 1; reads++)
    {
      g_autoptr (GAsyncResult) result = NULL;
      g_autoptr (GError) error = NULL;
      gssize n;

      g_input_stream_read_async (G_INPUT_STREAM (stream), buf, sizeof buf, G_PRIORITY_DEFAULT, NULL,
                                 store_result, &result);
      while (result == NULL)
        g_main_context_iteration (NULL, TRUE);
      n = g_input_stream_read_finish (G_INPUT_STREAM (stream), result, &error);
      if (n <= 0)
        {
          g_assert_true ((n == 0) == (error == NULL));
          return 0;
        }
      total += (gsize) n;
      /* Plaintext never exceeds the ciphertext it came from. */
      g_assert_cmpuint (total, <=, size);
    }
  g_assert_not_reached ();
}

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static GPtrArray *seeds;
  static GArray *lens;
  static const char *const texts[][4] = {
    { "hello", NULL },
    { "", "a", "", NULL },
    { "first frame", "second frame", "third", NULL },
  };

  if (seeds != NULL)
    goto out;

  seeds = g_ptr_array_new ();
  lens = g_array_new (FALSE, FALSE, sizeof (gsize));
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr (PunchNoiseCipher) cipher = punch_noise_cipher_new (KEY, NULL);
      GByteArray *wire = g_byte_array_new ();
      gsize wire_len;

      for (guint f = 0; texts[i][f] != NULL; f++)
        {
          gsize len = strlen (texts[i][f]);
          guint offset = wire->len;

          g_byte_array_set_size (wire, offset + 2 + len + PUNCH_NOISE_TAG_LEN);
          wire->data[offset] = (guint8) ((len + PUNCH_NOISE_TAG_LEN) >> 8);
          wire->data[offset + 1] = (guint8) (len + PUNCH_NOISE_TAG_LEN);
          g_assert_true (punch_noise_cipher_encrypt (cipher, NULL, 0, (const guint8 *) texts[i][f], len,
                                                     wire->data + offset + 2, NULL));
        }
      wire_len = wire->len;
      g_array_append_val (lens, wire_len);
      g_ptr_array_add (seeds, g_byte_array_free (wire, FALSE));
    }
  g_ptr_array_add (seeds, NULL);

out:
  *lengths = (gsize *) (gpointer) lens->data;
  return (const char *const *) seeds->pdata;
}
