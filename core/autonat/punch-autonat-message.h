/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-multiaddr.h"
#include "punch-peer-id.h"

G_BEGIN_DECLS

/* AutoNAT v1 (libp2p/specs autonat/autonat-v1.md): one uvarint-delimited
 * Message each way, at most 4 KiB (go's and rust's limit). */
#define PUNCH_AUTONAT_MAX_MESSAGE 4096
/* Most addresses of a DIAL we look at; go's server tries at most 16 too. */
#define PUNCH_AUTONAT_MAX_ADDRS   16
/* A statusText longer than this is cut (it is only shown to people). */
#define PUNCH_AUTONAT_MAX_TEXT    256

/**
 * PunchAutonatStatus:
 * @PUNCH_AUTONAT_STATUS_OK: the server reached one of our addresses
 * @PUNCH_AUTONAT_STATUS_E_DIAL_ERROR: every dial-back failed
 * @PUNCH_AUTONAT_STATUS_E_DIAL_REFUSED: the server would not dial (rate
 *   limit, relayed connection, no address on our observed IP)
 * @PUNCH_AUTONAT_STATUS_E_BAD_REQUEST: the request was malformed
 * @PUNCH_AUTONAT_STATUS_E_INTERNAL_ERROR: the server failed
 *
 * The wire values of Message.ResponseStatus. Only OK and E_DIAL_ERROR say
 * anything about our reachability.
 */
typedef enum
{
  PUNCH_AUTONAT_STATUS_OK = 0,
  PUNCH_AUTONAT_STATUS_E_DIAL_ERROR = 100,
  PUNCH_AUTONAT_STATUS_E_DIAL_REFUSED = 101,
  PUNCH_AUTONAT_STATUS_E_BAD_REQUEST = 200,
  PUNCH_AUTONAT_STATUS_E_INTERNAL_ERROR = 300,
} PunchAutonatStatus;

const char *punch_autonat_status_to_string (int status);

/* A DIAL message for @peer with @addrs (element-type PunchMultiaddr,
 * nullable; at most PUNCH_AUTONAT_MAX_ADDRS go in), without the prefix. */
GBytes   *punch_autonat_dial_encode (PunchPeerId *peer, GPtrArray *addrs);
/* Parses a DIAL. The peer ID must be present and valid; addresses that are
 * not valid multiaddrs are skipped and only the first
 * PUNCH_AUTONAT_MAX_ADDRS valid ones are kept. Fails with PUNCH_ERROR
 * (MALFORMED, TOO_LARGE, PROTOCOL for another message type). */
gboolean  punch_autonat_dial_decode (const guint8  *data,
                                     gsize          len,
                                     PunchPeerId  **peer,
                                     GPtrArray    **addrs,
                                     GError       **error);

/* A DIAL_RESPONSE; @text and @addr are nullable. */
GBytes   *punch_autonat_response_encode (PunchAutonatStatus  status,
                                         const char         *text,
                                         PunchMultiaddr     *addr);
/* Parses a DIAL_RESPONSE. The status must be present; an unknown status
 * value is returned as it is (callers treat it as no information). @text
 * comes back valid UTF-8 and at most PUNCH_AUTONAT_MAX_TEXT bytes; an
 * invalid address comes back as NULL. */
gboolean  punch_autonat_response_decode (const guint8     *data,
                                         gsize             len,
                                         int              *status,
                                         char            **text,
                                         PunchMultiaddr  **addr,
                                         GError          **error);

G_END_DECLS
