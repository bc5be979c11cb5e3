/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdint.h>
#include <string.h>

#include "punch-error.h"
#include "punch-peer-id.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *const *punch_fuzz_seeds (gsize **lengths);

/* Every accepted ID survives both text forms unchanged. */
static void
check_round_trip (PunchPeerId *id)
{
  g_autofree char *cid = punch_peer_id_to_cid_string (id);
  g_autoptr (PunchPeerId) from_b58 = punch_peer_id_parse (punch_peer_id_to_string (id), NULL);
  g_autoptr (PunchPeerId) from_cid = punch_peer_id_parse (cid, NULL);
  g_autoptr (GBytes) key = punch_peer_id_get_inlined_public_key (id);

  g_assert_nonnull (from_b58);
  g_assert_nonnull (from_cid);
  g_assert_true (punch_peer_id_equal (id, from_b58));
  g_assert_true (punch_peer_id_equal (id, from_cid));
  if (key)
    g_assert_cmpuint (g_bytes_get_size (key), <=, 42);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (PunchPeerId) id = NULL;
  g_autoptr (PunchPeerId) parsed = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = g_malloc0 (size + 1);

  id = punch_peer_id_new_from_bytes (data, size, &error);
  if (id)
    check_round_trip (id);
  else
    g_assert_true (error->domain == PUNCH_ERROR);
  g_clear_error (&error);

  if (size > 0)
    memcpy (text, data, size);
  parsed = punch_peer_id_parse (text, &error);
  if (parsed)
    check_round_trip (parsed);
  else
    g_assert_true (error->domain == PUNCH_ERROR);
  return 0;
}

const char *const *
punch_fuzz_seeds (gsize **lengths)
{
  static const char *const seeds[] = {
    "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
    "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",
    "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6",
    ("\x00\x24\x08\x01\x12\x20\x1e\xd1\xe8\xfa\xe2\xc4\xa1\x44\xb8\xbe\x8f\xd4\xb4\x7b\xf3\xd3"
     "\xb3\x4b\x87\x1c\x3c\xac\xf6\x01\x0f\x0e\x42\xd4\x74\xfc\xe2\x7e"),
    ("\x12\x20\x9d\xff\x3b\x17\xd7\x4c\xf4\xd3\x8a\x50\xd8\xb6\x38\x3e\x92\xd1\x81\xa1\x03\x95"
     "\xa5\xe7\x3a\x72\x6d\xcc\xcb\xd2\x1b\xf6\xf0\xb9"),
    NULL
  };
  static gsize lens[G_N_ELEMENTS (seeds)] = { 0, 0, 0, 38, 34 };

  for (gsize i = 0; i < 3; i++)
    lens[i] = strlen (seeds[i]);
  *lengths = lens;
  return seeds;
}
