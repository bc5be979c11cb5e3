/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The libp2p TLS certificate verifier on arbitrary DER, and the SignedKey
 * decoder on arbitrary extension values. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "punch-private-key.h"
#include "punch-tls-cert.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

/* A fixed time inside the seeds' validity, so a run does not depend on
 * the clock. */
#define FUZZ_NOW 1767225600  /* 2026-01-01 */

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr (PunchPublicKey) key = NULL;
  g_autoptr (GBytes) pk = NULL;
  g_autoptr (GBytes) sig = NULL;
  g_autoptr (GError) error = NULL;

  key = punch_tls_cert_verify_der (data, size, FUZZ_NOW, &error);
  if (key == NULL)
    g_assert_nonnull (error);
  else
    g_assert_nonnull (punch_public_key_get_peer_id (key));
  g_clear_error (&error);

  if (punch_tls_signed_key_decode (data, size, &pk, &sig, &error))
    g_assert_true (g_bytes_get_size (pk) <= size && g_bytes_get_size (sig) <= size);
  else
    g_assert_nonnull (error);
  return 0;
}

static void
add_hex (GPtrArray  *seeds,
         GArray     *lens,
         const char *hex)
{
  gsize len = strlen (hex) / 2;
  guint8 *buf = g_malloc (len);

  for (gsize i = 0; i < len; i++)
    buf[i] = (guint8) (g_ascii_xdigit_value (hex[2 * i]) << 4 | g_ascii_xdigit_value (hex[2 * i + 1]));
  g_ptr_array_add (seeds, buf);
  g_array_append_val (lens, len);
}

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static GPtrArray *seeds;
  static GArray *lens;
  /* libp2p/specs tls/tls.md test vectors 1 (Ed25519) and 3 (secp256k1). */
  static const char *const spec[] = {
    "308201ae30820156a0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea37c307a3078060a2b0601040183a25a0101046a3068042408011220a77f1d92fedb59dddaea5a1c4abd1ac2fbde7d7b879ed364501809923d7c11b90440d90d2769db992d5e6195dbb08e706b6651e024fda6cfb8846694a435519941cac215a8207792e42849cccc6cd8136c6e4bde92a58c5e08cfd4206eb5fe0bf909300a06082a8648ce3d0403020346003043021f50f6b6c52711a881778718238f650c9fb48943ae6ee6d28427dc6071ae55e702203625f116a7a454db9c56986c82a25682f7248ea1cb764d322ea983ed36a31b77",
    "308201ba3082015fa0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea38184308181307f060a2b0601040183a25a01010471306f0425080212210206dc6968726765b820f050263ececf7f71e4955892776c0970542efd689d2382044630440220145e15a991961f0d08cd15425bb95ec93f6ffa03c5a385eedc34ecf464c7a8ab022026b3109b8a3f40ef833169777eb2aa337cfb6282f188de0666d1bcec2a4690dd300a06082a8648ce3d0403020349003046022100e1a217eeef9ec9204b3f774a08b70849646b6a1e6b8b27f93dc00ed58545d9fe022100b00dafa549d0f03547878338c7b15e7502888f6d45db387e5ae6b5d46899cef0",
    /* a SignedKey on its own */
    "3068042408011220a77f1d92fedb59dddaea5a1c4abd1ac2fbde7d7b879ed364501809923d7c11b90440d90d2769db992d5e6195dbb08e706b6651e024fda6cfb8846694a435519941cac215a8207792e42849cccc6cd8136c6e4bde92a58c5e08cfd4206eb5fe0bf909",
  };

  if (seeds == NULL)
    {
      seeds = g_ptr_array_new ();
      lens = g_array_new (FALSE, FALSE, sizeof (gsize));
      for (guint i = 0; i < G_N_ELEMENTS (spec); i++)
        add_hex (seeds, lens, spec[i]);
      g_ptr_array_add (seeds, NULL);
    }
  *lengths = (gsize *) (void *) lens->data;
  return (const char *const *) seeds->pdata;
}
