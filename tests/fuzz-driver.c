/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Runs a libFuzzer-style target without libFuzzer: seeded random inputs and
 * mutations of the target's own seeds, bounded in count, so every parser's
 * fuzz target also runs in the default test suite under the sanitizers.
 * Usage: fuzz-NAME [ITERATIONS] [FILE...] (files are run as given). */
#include <glib.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
/* Optional: a target may offer well-formed seeds to mutate. */
const char *const *punch_fuzz_seeds (gsize **lengths) __attribute__ ((weak));

static void
mutate (GRand *rand, GByteArray *buf)
{
  guint n = g_rand_int_range (rand, 1, 8);

  for (guint i = 0; i < n; i++)
    {
      guint op = g_rand_int_range (rand, 0, 4);
      guint8 byte = (guint8) g_rand_int_range (rand, 0, 256);

      if (op == 0 && buf->len > 0)
        buf->data[g_rand_int_range (rand, 0, buf->len)] ^= (guint8) (1u << g_rand_int_range (rand, 0, 8));
      else if (op == 1 && buf->len > 0)
        buf->data[g_rand_int_range (rand, 0, buf->len)] = byte;
      else if (op == 2 && buf->len < 65536)
        g_byte_array_append (buf, &byte, 1);
      else if (buf->len > 0)
        g_byte_array_set_size (buf, g_rand_int_range (rand, 0, buf->len));
    }
}

int
main (int argc, char **argv)
{
  guint iterations = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 20000;
  g_autoptr (GRand) rand = g_rand_new_with_seed (0x70756e63);
  gsize *lengths = NULL;
  const char *const *seeds = punch_fuzz_seeds ? punch_fuzz_seeds (&lengths) : NULL;
  guint n_seeds = seeds ? g_strv_length ((char **) seeds) : 0;

  for (int i = 2; i < argc; i++)
    {
      g_autofree char *contents = NULL;
      gsize len = 0;

      if (g_file_get_contents (argv[i], &contents, &len, NULL))
        LLVMFuzzerTestOneInput ((const uint8_t *) contents, len);
    }

  for (guint i = 0; i < n_seeds; i++)
    LLVMFuzzerTestOneInput ((const uint8_t *) seeds[i], lengths[i]);

  for (guint i = 0; i < iterations; i++)
    {
      g_autoptr (GByteArray) buf = g_byte_array_new ();

      if (n_seeds > 0 && g_rand_boolean (rand))
        {
          guint s = g_rand_int_range (rand, 0, n_seeds);
          g_byte_array_append (buf, (const guint8 *) seeds[s], lengths[s]);
        }
      else
        {
          guint len = g_rand_int_range (rand, 0, 256);
          for (guint j = 0; j < len; j++)
            {
              guint8 b = (guint8) g_rand_int_range (rand, 0, 256);
              g_byte_array_append (buf, &b, 1);
            }
        }
      mutate (rand, buf);
      LLVMFuzzerTestOneInput (buf->data, buf->len);
    }

  g_print ("%u inputs, no crash\n", iterations + n_seeds);
  return 0;
}
