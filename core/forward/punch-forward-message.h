/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PUNCH_FORWARD_PROTOCOL "/punchline/forward/1.0.0"

/* Wire limits (docs/forward-protocol.md). */
#define PUNCH_FORWARD_MAX_NAME     64
#define PUNCH_FORWARD_MAX_REQUEST  128
#define PUNCH_FORWARD_MAX_RESPONSE 256

/**
 * PUNCH_FORWARD_ERROR:
 *
 * Why a forwarded stream did not open: the exposing side's answer, or our
 * own refusal to use a limited relayed connection.
 */
#define PUNCH_FORWARD_ERROR (punch_forward_error_quark ())

/**
 * PunchForwardStatus:
 * @PUNCH_FORWARD_STATUS_OK: the target is connected; bytes flow
 * @PUNCH_FORWARD_STATUS_UNKNOWN_SERVICE: no service of that name
 * @PUNCH_FORWARD_STATUS_NOT_ALLOWED: the peer is not on the service's allow list
 * @PUNCH_FORWARD_STATUS_TARGET_REFUSED: the exposing side could not connect to the target
 * @PUNCH_FORWARD_STATUS_LIMIT: too many forwarded streams from this peer
 * @PUNCH_FORWARD_STATUS_NO_DIRECT_PATH: (local only) the only connection is a
 *   limited relayed one and no direct one came up in time
 *
 * The status byte of a response, also the codes of %PUNCH_FORWARD_ERROR.
 */
typedef enum
{
  PUNCH_FORWARD_STATUS_OK = 0,
  PUNCH_FORWARD_STATUS_UNKNOWN_SERVICE = 1,
  PUNCH_FORWARD_STATUS_NOT_ALLOWED = 2,
  PUNCH_FORWARD_STATUS_TARGET_REFUSED = 3,
  PUNCH_FORWARD_STATUS_LIMIT = 4,
  PUNCH_FORWARD_STATUS_NO_DIRECT_PATH = 100,
} PunchForwardStatus;

GQuark       punch_forward_error_quark (void);

/* "ok", "unknown-service", "not-allowed", "target-refused", "limit",
 * "no-direct-path"; "error" for anything else. */
const char  *punch_forward_status_to_string (PunchForwardStatus status);

/* A service name: 1..PUNCH_FORWARD_MAX_NAME bytes of [A-Za-z0-9._-]. */
gboolean     punch_forward_name_is_valid (const char *name, gsize len);

/* The request body (without its varint length prefix): version byte 1,
 * then the service name. */
GBytes      *punch_forward_request_encode (const char *service);
char        *punch_forward_request_parse (const guint8 *data,
                                          gsize         len,
                                          GError      **error);

/* The response body: the status byte, then an optional UTF-8 reason. */
GBytes      *punch_forward_response_encode (PunchForwardStatus status,
                                            const char        *reason);
gboolean     punch_forward_response_parse (const guint8        *data,
                                           gsize                len,
                                           PunchForwardStatus  *status,
                                           char               **reason,
                                           GError             **error);

G_END_DECLS
