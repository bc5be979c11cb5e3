/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-forward-message.h"

#include <string.h>

#include "punch-error.h"

#define REQUEST_VERSION 1

G_DEFINE_QUARK (punch-forward-error-quark, punch_forward_error)

const char *
punch_forward_status_to_string (PunchForwardStatus status)
{
  switch (status)
    {
    case PUNCH_FORWARD_STATUS_OK:
      return "ok";
    case PUNCH_FORWARD_STATUS_UNKNOWN_SERVICE:
      return "unknown-service";
    case PUNCH_FORWARD_STATUS_NOT_ALLOWED:
      return "not-allowed";
    case PUNCH_FORWARD_STATUS_TARGET_REFUSED:
      return "target-refused";
    case PUNCH_FORWARD_STATUS_LIMIT:
      return "limit";
    case PUNCH_FORWARD_STATUS_NO_DIRECT_PATH:
      return "no-direct-path";
    default:
      return "error";
    }
}

gboolean
punch_forward_name_is_valid (const char *name,
                             gsize       len)
{
  if (name == NULL || len == 0 || len > PUNCH_FORWARD_MAX_NAME)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      char c = name[i];

      if (!g_ascii_isalnum (c) && c != '.' && c != '_' && c != '-')
        return FALSE;
    }
  return TRUE;
}

/**
 * punch_forward_request_encode:
 * @service: a valid service name
 *
 * Returns: (transfer full): the request body, or NULL for an invalid name
 */
GBytes *
punch_forward_request_encode (const char *service)
{
  gsize len = service != NULL ? strlen (service) : 0;
  guint8 *buf;

  if (!punch_forward_name_is_valid (service, len))
    return NULL;
  buf = g_malloc (len + 1);
  buf[0] = REQUEST_VERSION;
  memcpy (buf + 1, service, len);
  return g_bytes_new_take (buf, len + 1);
}

/**
 * punch_forward_request_parse:
 * @data: the request body
 * @len: its length
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the service name, or NULL with @error set
 */
char *
punch_forward_request_parse (const guint8 *data,
                             gsize         len,
                             GError      **error)
{
  if (len == 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_TRUNCATED,
                           "Forward request is empty");
      return NULL;
    }
  if (len > PUNCH_FORWARD_MAX_REQUEST)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "Forward request of %" G_GSIZE_FORMAT " bytes is over %d",
                   len, PUNCH_FORWARD_MAX_REQUEST);
      return NULL;
    }
  if (data[0] != REQUEST_VERSION)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                   "Forward request version %u is not supported", data[0]);
      return NULL;
    }
  if (!punch_forward_name_is_valid ((const char *) data + 1, len - 1))
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                           "Forward request names no valid service "
                           "(1 to 64 characters of A-Z a-z 0-9 . _ -)");
      return NULL;
    }
  return g_strndup ((const char *) data + 1, len - 1);
}

GBytes *
punch_forward_response_encode (PunchForwardStatus status,
                               const char        *reason)
{
  gsize reason_len = reason != NULL ? strlen (reason) : 0;
  guint8 *buf;

  reason_len = MIN (reason_len, PUNCH_FORWARD_MAX_RESPONSE - 1);
  /* Never cut a UTF-8 sequence in half. */
  while (reason_len > 0 && !g_utf8_validate (reason, reason_len, NULL))
    reason_len--;
  buf = g_malloc (reason_len + 1);
  buf[0] = (guint8) status;
  if (reason_len > 0)
    memcpy (buf + 1, reason, reason_len);
  return g_bytes_new_take (buf, reason_len + 1);
}

gboolean
punch_forward_response_parse (const guint8        *data,
                              gsize                len,
                              PunchForwardStatus  *status,
                              char               **reason,
                              GError             **error)
{
  if (len == 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_TRUNCATED,
                           "Forward response is empty");
      return FALSE;
    }
  if (len > PUNCH_FORWARD_MAX_RESPONSE)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "Forward response of %" G_GSIZE_FORMAT " bytes is over %d",
                   len, PUNCH_FORWARD_MAX_RESPONSE);
      return FALSE;
    }
  switch (data[0])
    {
    case PUNCH_FORWARD_STATUS_OK:
    case PUNCH_FORWARD_STATUS_UNKNOWN_SERVICE:
    case PUNCH_FORWARD_STATUS_NOT_ALLOWED:
    case PUNCH_FORWARD_STATUS_TARGET_REFUSED:
    case PUNCH_FORWARD_STATUS_LIMIT:
      break;
    default:
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                   "Forward response status %u is unknown", data[0]);
      return FALSE;
    }
  if (!g_utf8_validate ((const char *) data + 1, len - 1, NULL))
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                           "Forward response reason is not UTF-8");
      return FALSE;
    }
  if (status != NULL)
    *status = data[0];
  if (reason != NULL)
    *reason = len > 1 ? g_strndup ((const char *) data + 1, len - 1) : NULL;
  return TRUE;
}
