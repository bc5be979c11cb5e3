/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-peer-store.h"

#include "punch-private-key.h"

static PunchPeerId *
new_peer_id (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PunchPrivateKey) key = punch_private_key_generate (&error);

  g_assert_no_error (error);
  return punch_peer_id_ref (punch_private_key_get_peer_id (key));
}

static PunchPublicKey *
new_public_key (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PunchPrivateKey) key = punch_private_key_generate (&error);

  g_assert_no_error (error);
  return g_object_ref (punch_private_key_get_public_key (key));
}

static PunchMultiaddr *
addr (const char *text)
{
  g_autoptr(GError) error = NULL;
  PunchMultiaddr *ma = punch_multiaddr_new_from_string (text, &error);

  g_assert_no_error (error);
  return ma;
}

typedef struct
{
  guint position;
  guint removed;
  guint added;
  guint count;
} ItemsChanged;

static void
on_items_changed (GListModel   *model,
                  guint         position,
                  guint         removed,
                  guint         added,
                  ItemsChanged *out)
{
  out->position = position;
  out->removed = removed;
  out->added = added;
  out->count++;
}

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           GPtrArray  *names)
{
  g_ptr_array_add (names, g_strdup (pspec->name));
}

static void
test_store_order_and_lookup (void)
{
  g_autoptr(PunchPeerStore) store = punch_peer_store_new ();
  GListModel *model = G_LIST_MODEL (store);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_peer_id_unref);
  ItemsChanged changed = { 0 };

  g_assert_true (g_list_model_get_item_type (model) == PUNCH_TYPE_PEER_INFO);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 0);
  g_assert_null (g_list_model_get_item (model, 0));
  g_signal_connect (store, "items-changed", G_CALLBACK (on_items_changed), &changed);

  for (guint i = 0; i < 5; i++)
    {
      PunchPeerId *id = new_peer_id ();
      PunchPeerInfo *info;

      g_ptr_array_add (ids, id);
      g_assert_null (punch_peer_store_lookup (store, id));
      info = punch_peer_store_ensure (store, id);
      g_assert_nonnull (info);
      g_assert_true (punch_peer_id_equal (punch_peer_info_get_peer_id (info), id));
      g_assert_cmpuint (changed.count, ==, i + 1);
      g_assert_cmpuint (changed.position, ==, i);
      g_assert_cmpuint (changed.removed, ==, 0);
      g_assert_cmpuint (changed.added, ==, 1);
    }

  /* ensure() on a known peer changes nothing; lookup with an equal (not the
   * same) ID finds the entry. */
  for (guint i = 0; i < ids->len; i++)
    {
      PunchPeerId *id = g_ptr_array_index (ids, i);
      gsize len;
      const guint8 *bytes = punch_peer_id_get_bytes (id, &len);
      g_autoptr(PunchPeerId) copy = punch_peer_id_new_from_bytes (bytes, len, NULL);
      g_autoptr(PunchPeerInfo) item = g_list_model_get_item (model, i);

      g_assert_true (punch_peer_store_ensure (store, id) == item);
      g_assert_true (punch_peer_store_lookup (store, copy) == item);
    }
  g_assert_cmpuint (changed.count, ==, 5);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 5);
  g_assert_null (g_list_model_get_item (model, 5));
}

static void
test_info_properties (void)
{
  g_autoptr(PunchPeerId) id = new_peer_id ();
  g_autoptr(PunchPeerInfo) info = punch_peer_info_new (id);
  g_autoptr(PunchPublicKey) key = new_public_key ();
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  static const char * const protocols[] = { "/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", NULL };
  g_auto(GStrv) got_protocols = NULL;

  g_signal_connect (info, "notify", G_CALLBACK (on_notify), names);

  g_assert_null (punch_peer_info_get_public_key (info));
  punch_peer_info_set_public_key (info, key);
  punch_peer_info_set_public_key (info, key);
  g_assert_true (punch_peer_info_get_public_key (info) == key);

  punch_peer_info_set_agent_version (info, "go-libp2p/0.48");
  punch_peer_info_set_agent_version (info, "go-libp2p/0.48");
  g_assert_cmpstr (punch_peer_info_get_agent_version (info), ==, "go-libp2p/0.48");

  punch_peer_info_set_protocol_version (info, "ipfs/0.1.0");
  g_assert_cmpstr (punch_peer_info_get_protocol_version (info), ==, "ipfs/0.1.0");

  g_assert_false (punch_peer_info_supports (info, "/ipfs/ping/1.0.0"));
  punch_peer_info_set_protocols (info, protocols);
  punch_peer_info_set_protocols (info, protocols);
  g_assert_true (punch_peer_info_supports (info, "/ipfs/ping/1.0.0"));
  g_assert_false (punch_peer_info_supports (info, "/libp2p/dcutr"));
  g_object_get (info, "protocols", &got_protocols, NULL);
  g_assert_true (g_strv_equal ((const char * const *) got_protocols, protocols));

  punch_peer_info_touch (info);
  g_assert_nonnull (punch_peer_info_get_last_seen (info));

  /* One notification per real change. */
  g_assert_cmpuint (names->len, ==, 5);
  g_assert_cmpstr (g_ptr_array_index (names, 0), ==, "public-key");
  g_assert_cmpstr (g_ptr_array_index (names, 1), ==, "agent-version");
  g_assert_cmpstr (g_ptr_array_index (names, 2), ==, "protocol-version");
  g_assert_cmpstr (g_ptr_array_index (names, 3), ==, "protocols");
  g_assert_cmpstr (g_ptr_array_index (names, 4), ==, "last-seen");
}

static void
test_info_addrs (void)
{
  g_autoptr(PunchPeerId) id = new_peer_id ();
  g_autoptr(PunchPeerInfo) info = punch_peer_info_new (id);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  g_autoptr(PunchMultiaddr) extra = addr ("/ip6/::1/tcp/4001");
  GPtrArray *before;

  g_signal_connect (info, "notify::addrs", G_CALLBACK (on_notify), names);
  g_assert_cmpuint (punch_peer_info_get_addrs (info)->len, ==, 0);

  g_ptr_array_add (addrs, addr ("/ip4/192.0.2.1/tcp/4001"));
  g_ptr_array_add (addrs, addr ("/ip4/198.51.100.7/tcp/4001"));
  g_ptr_array_add (addrs, addr ("/ip4/192.0.2.1/tcp/4001"));
  punch_peer_info_set_addrs (info, addrs);
  /* Duplicates dropped, order kept. */
  g_assert_cmpuint (punch_peer_info_get_addrs (info)->len, ==, 2);
  g_assert_true (punch_multiaddr_equal (g_ptr_array_index (punch_peer_info_get_addrs (info), 1),
                                        g_ptr_array_index (addrs, 1)));
  g_assert_cmpuint (names->len, ==, 1);

  /* The same set again is no change. */
  g_ptr_array_remove_index (addrs, 2);
  punch_peer_info_set_addrs (info, addrs);
  g_assert_cmpuint (names->len, ==, 1);

  before = g_ptr_array_ref (punch_peer_info_get_addrs (info));
  punch_peer_info_add_addr (info, extra);
  punch_peer_info_add_addr (info, extra);
  g_assert_cmpuint (names->len, ==, 2);
  g_assert_cmpuint (punch_peer_info_get_addrs (info)->len, ==, 3);
  /* A caller's reference to the old array is not changed under it. */
  g_assert_cmpuint (before->len, ==, 2);
  g_ptr_array_unref (before);

  punch_peer_info_set_addrs (info, NULL);
  g_assert_cmpuint (punch_peer_info_get_addrs (info)->len, ==, 0);
  g_assert_cmpuint (names->len, ==, 3);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/peer-store/order-and-lookup", test_store_order_and_lookup);
  g_test_add_func ("/core/peer-store/info/properties", test_info_properties);
  g_test_add_func ("/core/peer-store/info/addrs", test_info_addrs);

  return g_test_run ();
}
