/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-autonat-message.h"
#include "punch-host.h"
#include "punch-identify-service.h"
#include "punch-nat-mapping.h"

G_BEGIN_DECLS

#define PUNCH_AUTONAT_PROTOCOL "/libp2p/autonat/1.0.0"

/**
 * PunchReachability:
 * @PUNCH_REACHABILITY_UNKNOWN: not enough agreeing answers (yet)
 * @PUNCH_REACHABILITY_PUBLIC: peers can dial us
 * @PUNCH_REACHABILITY_PRIVATE: peers cannot dial us (NAT or firewall)
 */
typedef enum
{
  PUNCH_REACHABILITY_UNKNOWN,
  PUNCH_REACHABILITY_PUBLIC,
  PUNCH_REACHABILITY_PRIVATE,
} PunchReachability;

#define PUNCH_TYPE_REACHABILITY (punch_reachability_get_type ())
GType       punch_reachability_get_type (void) G_GNUC_CONST;
const char *punch_reachability_to_string (PunchReachability reachability);

#define PUNCH_TYPE_AUTONAT_SERVICE (punch_autonat_service_get_type ())
G_DECLARE_FINAL_TYPE (PunchAutonatService, punch_autonat_service, PUNCH, AUTONAT_SERVICE, GObject)

/**
 * PunchAutonatService:
 *
 * AutoNAT v1 (libp2p/specs autonat/autonat-v1.md) in both roles, and the
 * NAT mapping observations identify brings.
 *
 * Server: answers DIAL requests by dialling back, from a separate dialer
 * host with an identity of its own (so the dial never reuses or collides
 * with the requester's connection), only addresses on the IP the request
 * came from, TCP only, at most 16, within "dial-timeout". Requests over
 * relayed connections, beyond the rate limits ("max-requests-per-peer" and
 * "max-requests" per "rate-window"), or without a usable address are
 * answered E_DIAL_REFUSED; malformed ones E_BAD_REQUEST.
 *
 * Client: asks connected peers whose identify lists the protocol (over
 * direct connections) to dial back our candidate addresses (observed and
 * listen addresses, TCP, public). The reachability is public or private
 * once at least "min-confirmations" distinct peers agree and outnumber the
 * others (the spec: more than 3); otherwise unknown. Re-checked every
 * "refresh-interval" seconds ("retry-interval" while unknown) and a few
 * seconds after #GNetworkMonitor or the host's listen addresses change,
 * when earlier answers and observations are dropped as stale.
 *
 * Addresses that are not public (loopback, RFC 1918…) are neither offered
 * nor dialled back unless "allow-non-public" is set: tests on loopback and
 * private lab networks set it; nothing else should.
 *
 * Properties: "reachability" (PunchReachability, read-only), "confidence"
 *   (agreeing answers behind it, read-only), "public-addr" (the address a
 *   server last reached, read-only, nullable), "nat-mapping"
 *   (PunchNatMapping from the observations, read-only), "server-enabled",
 *   "client-enabled", "allow-non-public", "min-confirmations" (default 4),
 *   "dial-timeout" (ms, default 15000), "max-requests-per-peer" (default 3),
 *   "max-requests" (default 30), "rate-window" (s, default 60),
 *   "refresh-interval" (s, default 900), "retry-interval" (s, default 90).
 * Signals:
 * - "answer" (PunchPeerId *server, int status, PunchMultiaddr *addr): a
 *   server answered one of our requests (addr nullable)
 * - "served" (PunchPeerId *client, int status, const char *text): we
 *   answered a request
 * - "observation" (PunchNatObservation *): identify reported how a peer
 *   sees us on a direct connection; "nat-mapping" is updated after it
 * - "network-changed" (const char *what): "interfaces" (#GNetworkMonitor,
 *   while "client-enabled", and an address we were observed from is gone),
 *   "routes" (#GNetworkMonitor, our addresses are all still there: nothing
 *   was dropped, a probe is due) or "external-address" (an observer at the
 *   same IP now sees us on another public IP: a router's WAN address
 *   changed); except for "routes", answers and older observations were
 *   dropped and a probe is due
 * - "probed" (int reachability): a probe got all its answers
 *
 * An OK answer counts only when the server's dial-back reached us (an
 * inbound connection from the server's IP during the request, or within
 * a second of the answer). A server that does not dial but judges by the
 * connection the request came on (js-libp2p's reuses it: docs/nat-diagnosis.md)
 * would say OK behind any NAT that keeps our port; such answers are kept
 * apart (punch_autonat_service_get_unverified_count()).
 */
PunchAutonatService *punch_autonat_service_new (PunchHost *host, PunchIdentifyService *identify);

PunchReachability    punch_autonat_service_get_reachability (PunchAutonatService *self);
guint                punch_autonat_service_get_confidence (PunchAutonatService *self);
/* (transfer none) (nullable) */
PunchMultiaddr      *punch_autonat_service_get_public_addr (PunchAutonatService *self);
/* Answers that count, per distinct server: OK and E_DIAL_ERROR. */
void                 punch_autonat_service_get_answer_counts (PunchAutonatService *self,
                                                              guint               *n_ok,
                                                              guint               *n_failed);
/* OK answers whose dial-back never reached us (not counted). */
guint                punch_autonat_service_get_unverified_count (PunchAutonatService *self);
/* FALSE when @server's latest answer was such an OK. */
gboolean             punch_autonat_service_is_answer_verified (PunchAutonatService *self,
                                                               PunchPeerId         *server);
/* The addresses we ask servers to dial: observed (direct connections) and
 * listen addresses, /ip4|ip6/…/tcp, public unless "allow-non-public".
 * (transfer full) (element-type PunchMultiaddr) */
GPtrArray           *punch_autonat_service_get_candidate_addrs (PunchAutonatService *self);

/* One request to the peer at the other end of @connection, asking it to
 * dial @addrs (element-type PunchMultiaddr; NULL: the candidates). Returns
 * FALSE with @error when there was no answer (stream, timeout, malformed);
 * otherwise the server's status (a PunchAutonatStatus or an unknown value),
 * @addr the address it reached (nullable) and @text its statusText. The
 * answer also counts towards the reachability. */
void                 punch_autonat_service_request_async  (PunchAutonatService *self,
                                                           PunchConnection     *connection,
                                                           GPtrArray           *addrs,
                                                           GCancellable        *cancellable,
                                                           GAsyncReadyCallback  callback,
                                                           gpointer             user_data);
gboolean             punch_autonat_service_request_finish (PunchAutonatService *self,
                                                           GAsyncResult        *result,
                                                           int                 *status,
                                                           PunchMultiaddr     **addr,
                                                           char               **text,
                                                           GError             **error);

/* Asks every suitable connected peer (at most 8) at once and returns the
 * reachability after their answers. Fails with PUNCH_ERROR_NO_ADDRESSES
 * when there is no candidate address, PUNCH_ERROR_LIMIT when no connected
 * peer supports AutoNAT. */
void                 punch_autonat_service_probe_async  (PunchAutonatService *self,
                                                         GCancellable        *cancellable,
                                                         GAsyncReadyCallback  callback,
                                                         gpointer             user_data);
PunchReachability    punch_autonat_service_probe_finish (PunchAutonatService *self,
                                                         GAsyncResult        *result,
                                                         GError             **error);

/* Forgets answers and observations (the network changed); the
 * reachability and mapping become unknown. */
void                 punch_autonat_service_reset (PunchAutonatService *self);

/* Whether the IP of @addr is still on one of this machine's interfaces. */
gboolean             punch_local_addr_present (PunchMultiaddr *addr);
/* Whether @a and @b (nullable) have the same IP (their first component). */
gboolean             punch_nat_same_ip (PunchMultiaddr *a, PunchMultiaddr *b);

PunchNatMapping      punch_autonat_service_get_nat_mapping (PunchAutonatService *self);
/* The observations kept (oldest first, at most 64).
 * (transfer container) (element-type PunchNatObservation) */
GPtrArray           *punch_autonat_service_get_observations (PunchAutonatService *self);
/* Classifies the observations kept. (transfer full) */
PunchNatReport      *punch_autonat_service_get_nat_report (PunchAutonatService *self);
/* Records an observation as identify would (tests, other observers). */
void                 punch_autonat_service_add_observation (PunchAutonatService       *self,
                                                            const PunchNatObservation *observation);

G_END_DECLS
