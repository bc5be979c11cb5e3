/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-peer-store.h"

struct _PunchPeerStore
{
  GObject     parent_instance;

  /* Entries in order of first sight; the list model's items. */
  GPtrArray  *items;
  /* PunchPeerId → PunchPeerInfo (borrowed from @items) */
  GHashTable *by_id;
};

static void punch_peer_store_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PunchPeerStore, punch_peer_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      punch_peer_store_list_model_init))

enum
{
  PROP_0,
  PROP_ITEM_TYPE,
  PROP_N_ITEMS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GType
punch_peer_store_get_item_type (GListModel *model)
{
  return PUNCH_TYPE_PEER_INFO;
}

static guint
punch_peer_store_get_n_items (GListModel *model)
{
  return PUNCH_PEER_STORE (model)->items->len;
}

static gpointer
punch_peer_store_get_item (GListModel *model,
                           guint       position)
{
  PunchPeerStore *self = PUNCH_PEER_STORE (model);

  if (position >= self->items->len)
    return NULL;

  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
punch_peer_store_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = punch_peer_store_get_item_type;
  iface->get_n_items = punch_peer_store_get_n_items;
  iface->get_item = punch_peer_store_get_item;
}

static void
punch_peer_store_finalize (GObject *object)
{
  PunchPeerStore *self = PUNCH_PEER_STORE (object);

  g_clear_pointer (&self->by_id, g_hash_table_unref);
  g_clear_pointer (&self->items, g_ptr_array_unref);

  G_OBJECT_CLASS (punch_peer_store_parent_class)->finalize (object);
}

static void
punch_peer_store_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  PunchPeerStore *self = PUNCH_PEER_STORE (object);

  switch (prop_id)
    {
    case PROP_ITEM_TYPE:
      g_value_set_gtype (value, PUNCH_TYPE_PEER_INFO);
      break;
    case PROP_N_ITEMS:
      g_value_set_uint (value, self->items->len);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_peer_store_class_init (PunchPeerStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = punch_peer_store_finalize;
  object_class->get_property = punch_peer_store_get_property;

  /* The same two properties GListStore has, so that views can bind to them. */
  properties[PROP_ITEM_TYPE] =
    g_param_spec_gtype ("item-type", NULL, NULL, G_TYPE_OBJECT,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
punch_peer_store_init (PunchPeerStore *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  self->by_id = g_hash_table_new (punch_peer_id_hash, punch_peer_id_equal);
}

/**
 * punch_peer_store_new:
 *
 * Returns: (transfer full): an empty store
 */
PunchPeerStore *
punch_peer_store_new (void)
{
  return g_object_new (PUNCH_TYPE_PEER_STORE, NULL);
}

/**
 * punch_peer_store_lookup:
 * @peer_id: the peer to look for
 *
 * Returns: (transfer none) (nullable): the entry for @peer_id
 */
PunchPeerInfo *
punch_peer_store_lookup (PunchPeerStore *self,
                         PunchPeerId    *peer_id)
{
  g_return_val_if_fail (PUNCH_IS_PEER_STORE (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);

  return g_hash_table_lookup (self->by_id, peer_id);
}

/**
 * punch_peer_store_ensure:
 * @peer_id: the peer
 *
 * Returns the entry for @peer_id, appending a new one (and emitting
 * #GListModel::items-changed) when the peer was never seen.
 *
 * Returns: (transfer none): the entry
 */
PunchPeerInfo *
punch_peer_store_ensure (PunchPeerStore *self,
                         PunchPeerId    *peer_id)
{
  PunchPeerInfo *info;
  guint position;

  g_return_val_if_fail (PUNCH_IS_PEER_STORE (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);

  info = g_hash_table_lookup (self->by_id, peer_id);
  if (info != NULL)
    return info;

  info = punch_peer_info_new (peer_id);
  position = self->items->len;
  g_ptr_array_add (self->items, info);
  /* The key is the entry's own peer ID, which lives as long as the entry. */
  g_hash_table_insert (self->by_id, punch_peer_info_get_peer_id (info), info);

  g_list_model_items_changed (G_LIST_MODEL (self), position, 0, 1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);

  return info;
}
