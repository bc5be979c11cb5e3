/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-identify-private.h"

#include "identify.pb-c.h"
#include "punch-error.h"
#include "punch-openssl-private.h"

PUNCH_DEFINE_PROTOBUF_CLEANUP (Identify__Pb__Identify, identify__pb__identify)

void
punch_identify_data_clear (PunchIdentifyData *data)
{
  g_clear_pointer (&data->protocol_version, g_free);
  g_clear_pointer (&data->agent_version, g_free);
  g_clear_object (&data->public_key);
  g_clear_pointer (&data->observed_addr, punch_multiaddr_unref);
  g_clear_pointer (&data->listen_addrs, g_ptr_array_unref);
  g_clear_pointer (&data->protocols, g_ptr_array_unref);
}

static gboolean
is_valid_protocol_id (const char *id)
{
  gsize len = strlen (id);

  return len > 0 && len <= PUNCH_IDENTIFY_MAX_PROTOCOL_ID_LEN && g_utf8_validate (id, len, NULL);
}

gboolean
punch_identify_data_merge (PunchIdentifyData *data,
                           const guint8      *message,
                           gsize              len,
                           GError           **error)
{
  g_autoptr (Identify__Pb__Identify) msg = NULL;

  msg = identify__pb__identify__unpack (NULL, len, message);
  if (msg == NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "Malformed identify message (%zu bytes)", len);
      return FALSE;
    }

  if (msg->protocolversion != NULL && g_utf8_validate (msg->protocolversion, -1, NULL))
    {
      g_free (data->protocol_version);
      data->protocol_version = g_strdup (msg->protocolversion);
    }
  if (msg->agentversion != NULL && g_utf8_validate (msg->agentversion, -1, NULL))
    {
      g_free (data->agent_version);
      data->agent_version = g_strdup (msg->agentversion);
    }

  if (msg->has_publickey)
    {
      g_autoptr (GError) local_error = NULL;
      PunchPublicKey *key;

      if (msg->publickey.len > PUNCH_PUBLIC_KEY_MAX_LEN)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                       "Identify public key of %zu bytes is over the %d-byte limit",
                       msg->publickey.len, PUNCH_PUBLIC_KEY_MAX_LEN);
          return FALSE;
        }
      key = punch_public_key_new_from_protobuf (msg->publickey.data, msg->publickey.len,
                                                &local_error);
      if (key == NULL)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                       "Bad identify public key: %s", local_error->message);
          return FALSE;
        }
      g_clear_object (&data->public_key);
      data->public_key = key;
    }

  if (msg->has_observedaddr)
    {
      PunchMultiaddr *addr = punch_multiaddr_new_from_bytes (msg->observedaddr.data,
                                                             msg->observedaddr.len, NULL);

      if (addr != NULL)
        {
          g_clear_pointer (&data->observed_addr, punch_multiaddr_unref);
          data->observed_addr = addr;
        }
      else
        g_debug ("Ignoring a malformed observed address");
    }

  if (msg->n_listenaddrs > 0 && data->listen_addrs == NULL)
    data->listen_addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  for (gsize i = 0; i < msg->n_listenaddrs; i++)
    {
      PunchMultiaddr *addr;

      if (data->listen_addrs->len >= PUNCH_IDENTIFY_MAX_ADDRS)
        {
          g_debug ("Ignoring listen addresses beyond %d", PUNCH_IDENTIFY_MAX_ADDRS);
          break;
        }
      addr = punch_multiaddr_new_from_bytes (msg->listenaddrs[i].data,
                                             msg->listenaddrs[i].len, NULL);

      if (addr != NULL)
        g_ptr_array_add (data->listen_addrs, addr);
      else
        g_debug ("Ignoring a malformed listen address");
    }

  if (msg->n_protocols > 0 && data->protocols == NULL)
    {
      data->protocols = g_ptr_array_new_with_free_func (g_free);
      g_ptr_array_add (data->protocols, NULL);
    }
  for (gsize i = 0; i < msg->n_protocols; i++)
    {
      /* The array holds a trailing NULL. */
      if (data->protocols->len > PUNCH_IDENTIFY_MAX_PROTOCOLS)
        {
          g_debug ("Ignoring protocols beyond %d", PUNCH_IDENTIFY_MAX_PROTOCOLS);
          break;
        }
      if (!is_valid_protocol_id (msg->protocols[i]))
        {
          g_debug ("Ignoring a malformed protocol ID");
          continue;
        }
      /* Keep the array NULL-terminated. */
      data->protocols->pdata[data->protocols->len - 1] = g_strdup (msg->protocols[i]);
      g_ptr_array_add (data->protocols, NULL);
    }

  return TRUE;
}
