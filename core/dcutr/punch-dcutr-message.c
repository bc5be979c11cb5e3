/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-dcutr-message.h"

#include "dcutr.pb-c.h"
#include "punch-addr-scope.h"
#include "punch-error.h"

#include <string.h>

G_STATIC_ASSERT ((int) PUNCH_DCUTR_CONNECT == (int) HOLEPUNCH__PB__HOLE_PUNCH__TYPE__CONNECT);
G_STATIC_ASSERT ((int) PUNCH_DCUTR_SYNC == (int) HOLEPUNCH__PB__HOLE_PUNCH__TYPE__SYNC);

static const char *
type_name (int type)
{
  switch (type)
    {
    case PUNCH_DCUTR_CONNECT: return "CONNECT";
    case PUNCH_DCUTR_SYNC: return "SYNC";
    default: return "unknown";
    }
}

GBytes *
punch_dcutr_message_encode (PunchDcutrType type, GPtrArray *addrs)
{
  Holepunch__Pb__HolePunch msg = HOLEPUNCH__PB__HOLE_PUNCH__INIT;
  g_autofree ProtobufCBinaryData *data = NULL;
  guint n = addrs != NULL ? MIN (addrs->len, PUNCH_DCUTR_MAX_ADDRS) : 0;
  gsize len;
  guint8 *buf;

  msg.type = (Holepunch__Pb__HolePunch__Type) type;
  if (n > 0)
    {
      data = g_new0 (ProtobufCBinaryData, n);
      for (guint i = 0; i < n; i++)
        data[i].data = (guint8 *) punch_multiaddr_get_bytes (g_ptr_array_index (addrs, i), &data[i].len);
      msg.n_obsaddrs = n;
      msg.obsaddrs = data;
    }
  len = holepunch__pb__hole_punch__get_packed_size (&msg);
  buf = g_malloc (len);
  holepunch__pb__hole_punch__pack (&msg, buf);
  return g_bytes_new_take (buf, len);
}

GPtrArray *
punch_dcutr_message_decode (const guint8   *data,
                            gsize           len,
                            PunchDcutrType  expected,
                            GError        **error)
{
  Holepunch__Pb__HolePunch *msg;
  GPtrArray *out;

  /* The framing already refuses more; this guards direct callers. */
  if (len > 4096)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE, "DCUtR message of %" G_GSIZE_FORMAT " bytes (at most 4096)", len);
      return NULL;
    }
  msg = holepunch__pb__hole_punch__unpack (NULL, len, data);
  if (msg == NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "malformed DCUtR message");
      return NULL;
    }
  if ((int) msg->type != (int) expected)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL, "expected a DCUtR %s message, got %s (type %d)",
                   type_name (expected), type_name (msg->type), (int) msg->type);
      holepunch__pb__hole_punch__free_unpacked (msg, NULL);
      return NULL;
    }
  out = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  for (gsize i = 0; i < msg->n_obsaddrs && out->len < PUNCH_DCUTR_MAX_ADDRS; i++)
    {
      PunchMultiaddr *ma = punch_multiaddr_new_from_bytes (msg->obsaddrs[i].data, msg->obsaddrs[i].len, NULL);

      if (ma != NULL)
        g_ptr_array_add (out, ma);
    }
  holepunch__pb__hole_punch__free_unpacked (msg, NULL);
  return out;
}

gboolean
punch_dcutr_addr_is_dialable_tcp (PunchMultiaddr *addr)
{
  PunchMultiaddrComponent host, tcp;

  if (punch_multiaddr_has_protocol (addr, PUNCH_PROTO_P2P_CIRCUIT))
    return FALSE;
  if (!punch_multiaddr_get_component (addr, 0, &host) || !punch_multiaddr_get_component (addr, 1, &tcp))
    return FALSE;
  if (host.code != PUNCH_PROTO_IP4 && host.code != PUNCH_PROTO_IP6 && host.code != PUNCH_PROTO_DNS
      && host.code != PUNCH_PROTO_DNS4 && host.code != PUNCH_PROTO_DNS6)
    return FALSE;
  return tcp.code == PUNCH_PROTO_TCP;
}

GPtrArray *
punch_dcutr_filter_remote_addrs (GPtrArray *addrs, PunchPeerId *peer)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  gsize peer_len = 0;
  const guint8 *peer_bytes = peer != NULL ? punch_peer_id_get_bytes (peer, &peer_len) : NULL;

  for (guint i = 0; addrs != NULL && i < addrs->len && out->len < PUNCH_DCUTR_MAX_ADDRS; i++)
    {
      PunchMultiaddr *ma = g_ptr_array_index (addrs, i);
      g_autoptr (GBytes) id = NULL;
      g_autoptr (PunchMultiaddr) t = NULL;
      char *text;

      if (!punch_dcutr_addr_is_dialable_tcp (ma) || !punch_multiaddr_is_public (ma))
        continue;
      id = punch_multiaddr_get_peer_id_bytes (ma);
      if (id != NULL && peer_bytes != NULL
          && (g_bytes_get_size (id) != peer_len || memcmp (g_bytes_get_data (id, NULL), peer_bytes, peer_len) != 0))
        continue;
      t = punch_multiaddr_slice (ma, 0, 2);
      text = punch_multiaddr_to_string (t);
      if (g_hash_table_add (seen, text))
        g_ptr_array_add (out, g_steal_pointer (&t));
    }
  return out;
}
