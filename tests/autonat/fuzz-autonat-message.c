/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Both AutoNAT parsers on arbitrary bytes: a clear error or a bounded
 * result, never a crash. */
#include <stdint.h>
#include <string.h>

#include "punch-autonat-message.h"
#include "punch-error.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPeerId) peer = NULL;
  g_autoptr (GPtrArray) addrs = NULL;
  g_autoptr (PunchMultiaddr) addr = NULL;
  g_autofree char *text = NULL;
  int status = -1;

  if (punch_autonat_dial_decode (data, size, &peer, &addrs, &error))
    {
      g_assert_nonnull (peer);
      g_assert_cmpuint (addrs->len, <=, PUNCH_AUTONAT_MAX_ADDRS);
    }
  else
    g_assert_true (error != NULL && error->domain == PUNCH_ERROR);
  g_clear_error (&error);

  if (punch_autonat_response_decode (data, size, &status, &text, &addr, &error))
    g_assert_true (text == NULL || (strlen (text) <= PUNCH_AUTONAT_MAX_TEXT && g_utf8_validate (text, -1, NULL)));
  else
    g_assert_true (error != NULL && error->domain == PUNCH_ERROR);
  return 0;
}

/* A DIAL with a peer ID and one address; a DIAL_RESPONSE OK with text and
 * address (hand-encoded protobuf). */
static const char dial_seed[] =
  "\x08\x00\x12\x30\x0a\x2e\x0a\x22\x12\x20"
  "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"
  "\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20"
  "\x12\x08\x04\x7f\x00\x00\x01\x06\x0f\xa1";
static const char response_seed[] =
  "\x08\x01\x1a\x0c\x08\x00\x12\x02ok\x1a\x04\x04\x7f\x00\x00";

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static const char *const seeds[] = { dial_seed, response_seed, NULL };
  static gsize lens[] = { sizeof dial_seed - 1, sizeof response_seed - 1 };

  *lengths = lens;
  return seeds;
}
