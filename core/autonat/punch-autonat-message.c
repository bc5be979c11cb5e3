/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-autonat-message.h"

#include "autonat.pb-c.h"
#include "punch-error.h"

#include <string.h>

G_STATIC_ASSERT ((int) PUNCH_AUTONAT_STATUS_OK == (int) AUTONAT__PB__MESSAGE__RESPONSE_STATUS__OK);
G_STATIC_ASSERT ((int) PUNCH_AUTONAT_STATUS_E_DIAL_ERROR == (int) AUTONAT__PB__MESSAGE__RESPONSE_STATUS__E_DIAL_ERROR);
G_STATIC_ASSERT ((int) PUNCH_AUTONAT_STATUS_E_DIAL_REFUSED == (int) AUTONAT__PB__MESSAGE__RESPONSE_STATUS__E_DIAL_REFUSED);
G_STATIC_ASSERT ((int) PUNCH_AUTONAT_STATUS_E_BAD_REQUEST == (int) AUTONAT__PB__MESSAGE__RESPONSE_STATUS__E_BAD_REQUEST);
G_STATIC_ASSERT ((int) PUNCH_AUTONAT_STATUS_E_INTERNAL_ERROR == (int) AUTONAT__PB__MESSAGE__RESPONSE_STATUS__E_INTERNAL_ERROR);

const char *
punch_autonat_status_to_string (int status)
{
  switch (status)
    {
    case PUNCH_AUTONAT_STATUS_OK: return "OK";
    case PUNCH_AUTONAT_STATUS_E_DIAL_ERROR: return "E_DIAL_ERROR";
    case PUNCH_AUTONAT_STATUS_E_DIAL_REFUSED: return "E_DIAL_REFUSED";
    case PUNCH_AUTONAT_STATUS_E_BAD_REQUEST: return "E_BAD_REQUEST";
    case PUNCH_AUTONAT_STATUS_E_INTERNAL_ERROR: return "E_INTERNAL_ERROR";
    default: return "unknown";
    }
}

static GBytes *
pack (const Autonat__Pb__Message *msg)
{
  gsize len = autonat__pb__message__get_packed_size (msg);
  guint8 *buf = g_malloc (len > 0 ? len : 1);

  autonat__pb__message__pack (msg, buf);
  return g_bytes_new_take (buf, len);
}

GBytes *
punch_autonat_dial_encode (PunchPeerId *peer, GPtrArray *addrs)
{
  Autonat__Pb__Message msg = AUTONAT__PB__MESSAGE__INIT;
  Autonat__Pb__Message__Dial dial = AUTONAT__PB__MESSAGE__DIAL__INIT;
  Autonat__Pb__Message__PeerInfo info = AUTONAT__PB__MESSAGE__PEER_INFO__INIT;
  g_autofree ProtobufCBinaryData *data = NULL;
  guint n = addrs != NULL ? MIN (addrs->len, PUNCH_AUTONAT_MAX_ADDRS) : 0;

  g_return_val_if_fail (peer != NULL, NULL);

  msg.has_type = TRUE;
  msg.type = AUTONAT__PB__MESSAGE__MESSAGE_TYPE__DIAL;
  msg.dial = &dial;
  dial.peer = &info;
  info.has_id = TRUE;
  info.id.data = (guint8 *) punch_peer_id_get_bytes (peer, &info.id.len);
  if (n > 0)
    {
      data = g_new0 (ProtobufCBinaryData, n);
      for (guint i = 0; i < n; i++)
        data[i].data = (guint8 *) punch_multiaddr_get_bytes (g_ptr_array_index (addrs, i), &data[i].len);
      info.n_addrs = n;
      info.addrs = data;
    }
  return pack (&msg);
}

static Autonat__Pb__Message *
unpack (const guint8                      *data,
        gsize                              len,
        Autonat__Pb__Message__MessageType  expected,
        GError                           **error)
{
  Autonat__Pb__Message *msg;

  /* The framing already refuses more; this guards direct callers. */
  if (len > PUNCH_AUTONAT_MAX_MESSAGE)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "AutoNAT message of %" G_GSIZE_FORMAT " bytes (at most %d)", len, PUNCH_AUTONAT_MAX_MESSAGE);
      return NULL;
    }
  msg = autonat__pb__message__unpack (NULL, len, data);
  if (msg == NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "malformed AutoNAT message");
      return NULL;
    }
  if (!msg->has_type || msg->type != expected)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL, "expected an AutoNAT %s, got %s",
                   expected == AUTONAT__PB__MESSAGE__MESSAGE_TYPE__DIAL ? "DIAL" : "DIAL_RESPONSE",
                   !msg->has_type ? "a message without a type"
                   : msg->type == AUTONAT__PB__MESSAGE__MESSAGE_TYPE__DIAL ? "DIAL"
                   : msg->type == AUTONAT__PB__MESSAGE__MESSAGE_TYPE__DIAL_RESPONSE ? "DIAL_RESPONSE"
                   : "an unknown type");
      autonat__pb__message__free_unpacked (msg, NULL);
      return NULL;
    }
  return msg;
}

gboolean
punch_autonat_dial_decode (const guint8  *data,
                           gsize          len,
                           PunchPeerId  **peer,
                           GPtrArray    **addrs,
                           GError       **error)
{
  Autonat__Pb__Message *msg = unpack (data, len, AUTONAT__PB__MESSAGE__MESSAGE_TYPE__DIAL, error);
  Autonat__Pb__Message__PeerInfo *info;
  g_autoptr (PunchPeerId) id = NULL;
  g_autoptr (GError) local_error = NULL;
  GPtrArray *out;

  if (msg == NULL)
    return FALSE;
  if (msg->dial == NULL || msg->dial->peer == NULL || !msg->dial->peer->has_id)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "AutoNAT DIAL without a peer ID");
      autonat__pb__message__free_unpacked (msg, NULL);
      return FALSE;
    }
  info = msg->dial->peer;
  id = punch_peer_id_new_from_bytes (info->id.data, info->id.len, &local_error);
  if (id == NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "AutoNAT DIAL with an invalid peer ID: %s",
                   local_error->message);
      autonat__pb__message__free_unpacked (msg, NULL);
      return FALSE;
    }
  out = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  for (gsize i = 0; i < info->n_addrs && out->len < PUNCH_AUTONAT_MAX_ADDRS; i++)
    {
      PunchMultiaddr *ma = punch_multiaddr_new_from_bytes (info->addrs[i].data, info->addrs[i].len, NULL);

      if (ma != NULL)
        g_ptr_array_add (out, ma);
    }
  autonat__pb__message__free_unpacked (msg, NULL);
  if (peer != NULL)
    *peer = g_steal_pointer (&id);
  if (addrs != NULL)
    *addrs = out;
  else
    g_ptr_array_unref (out);
  return TRUE;
}

GBytes *
punch_autonat_response_encode (PunchAutonatStatus  status,
                               const char         *text,
                               PunchMultiaddr     *addr)
{
  Autonat__Pb__Message msg = AUTONAT__PB__MESSAGE__INIT;
  Autonat__Pb__Message__DialResponse response = AUTONAT__PB__MESSAGE__DIAL_RESPONSE__INIT;

  msg.has_type = TRUE;
  msg.type = AUTONAT__PB__MESSAGE__MESSAGE_TYPE__DIAL_RESPONSE;
  msg.dialresponse = &response;
  response.has_status = TRUE;
  response.status = (Autonat__Pb__Message__ResponseStatus) status;
  response.statustext = (char *) text;
  if (addr != NULL)
    {
      response.has_addr = TRUE;
      response.addr.data = (guint8 *) punch_multiaddr_get_bytes (addr, &response.addr.len);
    }
  return pack (&msg);
}

gboolean
punch_autonat_response_decode (const guint8     *data,
                               gsize             len,
                               int              *status,
                               char            **text,
                               PunchMultiaddr  **addr,
                               GError          **error)
{
  Autonat__Pb__Message *msg = unpack (data, len, AUTONAT__PB__MESSAGE__MESSAGE_TYPE__DIAL_RESPONSE, error);
  Autonat__Pb__Message__DialResponse *response;

  if (msg == NULL)
    return FALSE;
  response = msg->dialresponse;
  /* A missing status would read as OK (the proto2 default): never guess. */
  if (response == NULL || !response->has_status)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "AutoNAT DIAL_RESPONSE without a status");
      autonat__pb__message__free_unpacked (msg, NULL);
      return FALSE;
    }
  if (status != NULL)
    *status = (int) response->status;
  if (text != NULL)
    {
      *text = NULL;
      if (response->statustext != NULL)
        {
          g_autofree char *valid = g_utf8_make_valid (response->statustext, -1);

          if (strlen (valid) > PUNCH_AUTONAT_MAX_TEXT)
            *text = g_utf8_substring (valid, 0, g_utf8_strlen (valid, PUNCH_AUTONAT_MAX_TEXT));
          else
            *text = g_steal_pointer (&valid);
        }
    }
  if (addr != NULL)
    *addr = response->has_addr ? punch_multiaddr_new_from_bytes (response->addr.data, response->addr.len, NULL)
                               : NULL;
  autonat__pb__message__free_unpacked (msg, NULL);
  return TRUE;
}
