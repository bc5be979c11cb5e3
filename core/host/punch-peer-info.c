/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-peer-info.h"

struct _PunchPeerInfo
{
  GObject         parent_instance;

  PunchPeerId    *peer_id;
  PunchPublicKey *public_key;
  char           *agent_version;
  char           *protocol_version;
  GStrv           protocols;
  GPtrArray      *addrs;
  GDateTime      *last_seen;
};

G_DEFINE_FINAL_TYPE (PunchPeerInfo, punch_peer_info, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_PEER_ID,
  PROP_PUBLIC_KEY,
  PROP_AGENT_VERSION,
  PROP_PROTOCOL_VERSION,
  PROP_PROTOCOLS,
  PROP_ADDRS,
  PROP_LAST_SEEN,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* g_set_str() is GLib 2.76. */
static gboolean
set_str (char       **field,
         const char  *value)
{
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

static gpointer
copy_addr (gconstpointer src,
           gpointer      user_data)
{
  return punch_multiaddr_ref ((PunchMultiaddr *) src);
}

static void
punch_peer_info_finalize (GObject *object)
{
  PunchPeerInfo *self = PUNCH_PEER_INFO (object);

  g_clear_pointer (&self->peer_id, punch_peer_id_unref);
  g_clear_object (&self->public_key);
  g_clear_pointer (&self->agent_version, g_free);
  g_clear_pointer (&self->protocol_version, g_free);
  g_clear_pointer (&self->protocols, g_strfreev);
  g_clear_pointer (&self->addrs, g_ptr_array_unref);
  g_clear_pointer (&self->last_seen, g_date_time_unref);

  G_OBJECT_CLASS (punch_peer_info_parent_class)->finalize (object);
}

static void
punch_peer_info_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  PunchPeerInfo *self = PUNCH_PEER_INFO (object);

  switch (prop_id)
    {
    case PROP_PEER_ID:
      g_value_set_boxed (value, self->peer_id);
      break;
    case PROP_PUBLIC_KEY:
      g_value_set_object (value, self->public_key);
      break;
    case PROP_AGENT_VERSION:
      g_value_set_string (value, self->agent_version);
      break;
    case PROP_PROTOCOL_VERSION:
      g_value_set_string (value, self->protocol_version);
      break;
    case PROP_PROTOCOLS:
      g_value_set_boxed (value, self->protocols);
      break;
    case PROP_ADDRS:
      g_value_set_boxed (value, self->addrs);
      break;
    case PROP_LAST_SEEN:
      g_value_set_boxed (value, self->last_seen);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_peer_info_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  PunchPeerInfo *self = PUNCH_PEER_INFO (object);

  switch (prop_id)
    {
    case PROP_PEER_ID:
      self->peer_id = g_value_dup_boxed (value);
      break;
    case PROP_PUBLIC_KEY:
      punch_peer_info_set_public_key (self, g_value_get_object (value));
      break;
    case PROP_AGENT_VERSION:
      punch_peer_info_set_agent_version (self, g_value_get_string (value));
      break;
    case PROP_PROTOCOL_VERSION:
      punch_peer_info_set_protocol_version (self, g_value_get_string (value));
      break;
    case PROP_PROTOCOLS:
      punch_peer_info_set_protocols (self, g_value_get_boxed (value));
      break;
    case PROP_ADDRS:
      punch_peer_info_set_addrs (self, g_value_get_boxed (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_peer_info_class_init (PunchPeerInfoClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = punch_peer_info_finalize;
  object_class->get_property = punch_peer_info_get_property;
  object_class->set_property = punch_peer_info_set_property;

  properties[PROP_PEER_ID] =
    g_param_spec_boxed ("peer-id", NULL, NULL, PUNCH_TYPE_PEER_ID,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PUBLIC_KEY] =
    g_param_spec_object ("public-key", NULL, NULL, PUNCH_TYPE_PUBLIC_KEY,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_AGENT_VERSION] =
    g_param_spec_string ("agent-version", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PROTOCOL_VERSION] =
    g_param_spec_string ("protocol-version", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PROTOCOLS] =
    g_param_spec_boxed ("protocols", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ADDRS] =
    g_param_spec_boxed ("addrs", NULL, NULL, G_TYPE_PTR_ARRAY,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LAST_SEEN] =
    g_param_spec_boxed ("last-seen", NULL, NULL, G_TYPE_DATE_TIME,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
punch_peer_info_init (PunchPeerInfo *self)
{
  self->addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
}

/**
 * punch_peer_info_new:
 * @peer_id: the peer this entry describes
 *
 * Returns: (transfer full): a new, otherwise empty entry
 */
PunchPeerInfo *
punch_peer_info_new (PunchPeerId *peer_id)
{
  g_return_val_if_fail (peer_id != NULL, NULL);

  return g_object_new (PUNCH_TYPE_PEER_INFO, "peer-id", peer_id, NULL);
}

PunchPeerId *
punch_peer_info_get_peer_id (PunchPeerInfo *self)
{
  g_return_val_if_fail (PUNCH_IS_PEER_INFO (self), NULL);

  return self->peer_id;
}

PunchPublicKey *
punch_peer_info_get_public_key (PunchPeerInfo *self)
{
  g_return_val_if_fail (PUNCH_IS_PEER_INFO (self), NULL);

  return self->public_key;
}

void
punch_peer_info_set_public_key (PunchPeerInfo  *self,
                                PunchPublicKey *key)
{
  g_return_if_fail (PUNCH_IS_PEER_INFO (self));
  g_return_if_fail (key == NULL || PUNCH_IS_PUBLIC_KEY (key));

  if (self->public_key == key
      || (self->public_key != NULL && key != NULL && punch_public_key_equal (self->public_key, key)))
    return;

  g_set_object (&self->public_key, key);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PUBLIC_KEY]);
}

const char *
punch_peer_info_get_agent_version (PunchPeerInfo *self)
{
  g_return_val_if_fail (PUNCH_IS_PEER_INFO (self), NULL);

  return self->agent_version;
}

void
punch_peer_info_set_agent_version (PunchPeerInfo *self,
                                   const char    *agent)
{
  g_return_if_fail (PUNCH_IS_PEER_INFO (self));

  if (set_str (&self->agent_version, agent))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AGENT_VERSION]);
}

const char *
punch_peer_info_get_protocol_version (PunchPeerInfo *self)
{
  g_return_val_if_fail (PUNCH_IS_PEER_INFO (self), NULL);

  return self->protocol_version;
}

void
punch_peer_info_set_protocol_version (PunchPeerInfo *self,
                                      const char    *version)
{
  g_return_if_fail (PUNCH_IS_PEER_INFO (self));

  if (set_str (&self->protocol_version, version))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROTOCOL_VERSION]);
}

/**
 * punch_peer_info_get_protocols:
 *
 * Returns: (transfer none) (nullable): the protocols the peer announced
 */
const char * const *
punch_peer_info_get_protocols (PunchPeerInfo *self)
{
  g_return_val_if_fail (PUNCH_IS_PEER_INFO (self), NULL);

  return (const char * const *) self->protocols;
}

void
punch_peer_info_set_protocols (PunchPeerInfo      *self,
                               const char * const *protocols)
{
  g_return_if_fail (PUNCH_IS_PEER_INFO (self));

  if (self->protocols == NULL && protocols == NULL)
    return;
  if (self->protocols != NULL && protocols != NULL
      && g_strv_equal ((const char * const *) self->protocols, protocols))
    return;

  g_clear_pointer (&self->protocols, g_strfreev);
  self->protocols = g_strdupv ((char **) protocols);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROTOCOLS]);
}

gboolean
punch_peer_info_supports (PunchPeerInfo *self,
                          const char    *protocol)
{
  g_return_val_if_fail (PUNCH_IS_PEER_INFO (self), FALSE);
  g_return_val_if_fail (protocol != NULL, FALSE);

  return self->protocols != NULL && g_strv_contains ((const char * const *) self->protocols, protocol);
}

GPtrArray *
punch_peer_info_get_addrs (PunchPeerInfo *self)
{
  g_return_val_if_fail (PUNCH_IS_PEER_INFO (self), NULL);

  return self->addrs;
}

static gboolean
addrs_equal (GPtrArray *a,
             GPtrArray *b)
{
  if (a->len != b->len)
    return FALSE;
  for (guint i = 0; i < a->len; i++)
    if (!punch_multiaddr_equal (g_ptr_array_index (a, i), g_ptr_array_index (b, i)))
      return FALSE;
  return TRUE;
}

/**
 * punch_peer_info_set_addrs:
 * @addrs: (nullable) (element-type PunchMultiaddr): the listen addresses;
 *   NULL clears them
 *
 * Replaces the addresses, dropping duplicates while keeping the order.
 */
void
punch_peer_info_set_addrs (PunchPeerInfo *self,
                           GPtrArray     *addrs)
{
  g_autoptr(GPtrArray) copy = NULL;

  g_return_if_fail (PUNCH_IS_PEER_INFO (self));

  copy = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  for (guint i = 0; addrs != NULL && i < addrs->len; i++)
    {
      PunchMultiaddr *addr = g_ptr_array_index (addrs, i);

      if (!g_ptr_array_find_with_equal_func (copy, addr, punch_multiaddr_equal, NULL))
        g_ptr_array_add (copy, punch_multiaddr_ref (addr));
    }

  if (addrs_equal (self->addrs, copy))
    return;

  g_ptr_array_unref (self->addrs);
  self->addrs = g_steal_pointer (&copy);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ADDRS]);
}

void
punch_peer_info_add_addr (PunchPeerInfo  *self,
                          PunchMultiaddr *addr)
{
  g_autoptr(GPtrArray) copy = NULL;

  g_return_if_fail (PUNCH_IS_PEER_INFO (self));
  g_return_if_fail (addr != NULL);

  if (g_ptr_array_find_with_equal_func (self->addrs, addr, punch_multiaddr_equal, NULL))
    return;

  /* A fresh array, so that a caller holding the old one from "addrs" never
   * sees it change under it. */
  copy = g_ptr_array_copy (self->addrs, copy_addr, NULL);
  g_ptr_array_set_free_func (copy, (GDestroyNotify) punch_multiaddr_unref);
  g_ptr_array_add (copy, punch_multiaddr_ref (addr));
  g_ptr_array_unref (self->addrs);
  self->addrs = g_steal_pointer (&copy);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ADDRS]);
}

/**
 * punch_peer_info_get_last_seen:
 *
 * Returns: (transfer none) (nullable): when the peer was last connected or
 *   heard from
 */
GDateTime *
punch_peer_info_get_last_seen (PunchPeerInfo *self)
{
  g_return_val_if_fail (PUNCH_IS_PEER_INFO (self), NULL);

  return self->last_seen;
}

void
punch_peer_info_touch (PunchPeerInfo *self)
{
  g_return_if_fail (PUNCH_IS_PEER_INFO (self));

  g_clear_pointer (&self->last_seen, g_date_time_unref);
  self->last_seen = g_date_time_new_now_utc ();
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_SEEN]);
}
