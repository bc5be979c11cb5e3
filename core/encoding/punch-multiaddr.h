/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Multiaddr protocol codes (multiformats/multiaddr protocols.csv). */
typedef enum
{
  PUNCH_PROTO_IP4 = 4,
  PUNCH_PROTO_TCP = 6,
  PUNCH_PROTO_IP6 = 41,
  PUNCH_PROTO_IP6ZONE = 42,
  PUNCH_PROTO_DNS = 53,
  PUNCH_PROTO_DNS4 = 54,
  PUNCH_PROTO_DNS6 = 55,
  PUNCH_PROTO_DNSADDR = 56,
  PUNCH_PROTO_UDP = 273,
  PUNCH_PROTO_WEBRTC_DIRECT = 280,
  PUNCH_PROTO_WEBRTC = 281,
  PUNCH_PROTO_P2P_CIRCUIT = 290,
  PUNCH_PROTO_P2P = 421,
  PUNCH_PROTO_HTTPS = 443,
  PUNCH_PROTO_TLS = 448,
  PUNCH_PROTO_SNI = 449,
  PUNCH_PROTO_NOISE = 454,
  PUNCH_PROTO_QUIC = 460,
  PUNCH_PROTO_QUIC_V1 = 461,
  PUNCH_PROTO_WEBTRANSPORT = 465,
  PUNCH_PROTO_CERTHASH = 466,
  PUNCH_PROTO_WS = 477,
  PUNCH_PROTO_WSS = 478,
  PUNCH_PROTO_HTTP = 480,
} PunchProtoCode;

/* Binary multiaddrs longer than this are refused. */
#define PUNCH_MULTIADDR_MAX_LEN 1024

/**
 * PunchMultiaddr:
 *
 * An immutable, reference-counted multiaddr held in its binary form. It is
 * always valid: constructors parse and check every component.
 */
typedef struct _PunchMultiaddr PunchMultiaddr;

typedef struct
{
  guint32       code;
  const char   *name;      /* static, e.g. "tcp" */
  const guint8 *value;     /* points into the multiaddr's bytes; NULL if none */
  gsize         value_len;
} PunchMultiaddrComponent;

#define PUNCH_TYPE_MULTIADDR (punch_multiaddr_get_type ())
GType punch_multiaddr_get_type (void) G_GNUC_CONST;

PunchMultiaddr *punch_multiaddr_new_from_string (const char *text, GError **error);
PunchMultiaddr *punch_multiaddr_new_from_bytes  (const guint8 *data, gsize len, GError **error);
/* /ip4|ip6/<addr>/tcp/<port> from a socket address */
PunchMultiaddr *punch_multiaddr_new_from_socket_address (GSocketAddress *address);

PunchMultiaddr *punch_multiaddr_ref   (PunchMultiaddr *self);
void            punch_multiaddr_unref (PunchMultiaddr *self);

char           *punch_multiaddr_to_string (const PunchMultiaddr *self);
const guint8   *punch_multiaddr_get_bytes (const PunchMultiaddr *self, gsize *len);
guint           punch_multiaddr_get_n_components (const PunchMultiaddr *self);
gboolean        punch_multiaddr_get_component (const PunchMultiaddr   *self,
                                               guint                   index,
                                               PunchMultiaddrComponent *out);
/* Index of the first/last component with @code, or -1. */
int             punch_multiaddr_find_first (const PunchMultiaddr *self, guint32 code);
int             punch_multiaddr_find_last  (const PunchMultiaddr *self, guint32 code);
gboolean        punch_multiaddr_has_protocol (const PunchMultiaddr *self, guint32 code);

/* A new multiaddr of components [@start, @end) (end = -1: to the end;
 * indices past the end are clamped). An empty range gives a multiaddr with no
 * components (printed as ""), never NULL; parsers never produce one. */
PunchMultiaddr *punch_multiaddr_slice (const PunchMultiaddr *self, int start, int end);
/* NULL if the result would exceed PUNCH_MULTIADDR_MAX_LEN. */
PunchMultiaddr *punch_multiaddr_concat (const PunchMultiaddr *a, const PunchMultiaddr *b);
/* @self with "/p2p/<peer id bytes>" appended (NULL if too long). */
PunchMultiaddr *punch_multiaddr_with_peer_id (const PunchMultiaddr *self,
                                              const guint8         *peer_id,
                                              gsize                 peer_id_len);

/* The value of the last /p2p component (binary peer ID), or NULL. */
GBytes         *punch_multiaddr_get_peer_id_bytes (const PunchMultiaddr *self);

/* For "/ip4|ip6/X/tcp/P[/p2p/...]": the socket address. Fails with
 * G_IO_ERROR_NOT_SUPPORTED for anything else (DNS names need resolving first). */
GSocketAddress *punch_multiaddr_to_socket_address (const PunchMultiaddr *self, GError **error);

gboolean        punch_multiaddr_equal (gconstpointer a, gconstpointer b);
guint           punch_multiaddr_hash  (gconstpointer self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchMultiaddr, punch_multiaddr_unref)

G_END_DECLS
