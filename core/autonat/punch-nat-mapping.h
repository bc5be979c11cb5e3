/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-multiaddr.h"

G_BEGIN_DECLS

/**
 * PunchNatObservation:
 * @observer: who reported it (peer ID text)
 * @observer_addr: (nullable): the observer's end of the connection
 *   (/ip4|ip6/X/tcp/P); mappings are per destination endpoint, so two
 *   connections to different ports of one host count as two observers
 * @local_addr: our end of the connection (/ip4|ip6/X/tcp/P)
 * @observed_addr: how the observer saw us (identify's observedAddr)
 * @outbound: whether we opened the connection; only outbound connections
 *   create a NAT mapping, so only they tell the mapping behaviour
 *
 * One identify answer on a direct (not relayed) connection.
 */
typedef struct
{
  char           *observer;
  PunchMultiaddr *observer_addr;
  PunchMultiaddr *local_addr;
  PunchMultiaddr *observed_addr;
  gboolean        outbound;
} PunchNatObservation;

PunchNatObservation *punch_nat_observation_new  (const char     *observer,
                                                 PunchMultiaddr *observer_addr,
                                                 PunchMultiaddr *local_addr,
                                                 PunchMultiaddr *observed_addr,
                                                 gboolean        outbound);
PunchNatObservation *punch_nat_observation_copy (const PunchNatObservation *self);
void                 punch_nat_observation_free (PunchNatObservation *self);

/**
 * PunchNatMapping:
 * @PUNCH_NAT_MAPPING_UNKNOWN: too few or contradictory observations
 * @PUNCH_NAT_MAPPING_NONE: observers see our own address and port: no NAT
 * @PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT: every observer sees the same
 *   external address and port for one local port (RFC 4787 EIM)
 * @PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT: each observer sees another
 *   external port ("symmetric" NAT)
 */
typedef enum
{
  PUNCH_NAT_MAPPING_UNKNOWN,
  PUNCH_NAT_MAPPING_NONE,
  PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT,
  PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT,
} PunchNatMapping;

#define PUNCH_TYPE_NAT_MAPPING (punch_nat_mapping_get_type ())
GType punch_nat_mapping_get_type (void) G_GNUC_CONST;

/**
 * PunchNatPortPreservation:
 * @PUNCH_NAT_PORT_UNKNOWN: too few translated observations, or mixed ones
 * @PUNCH_NAT_PORT_PRESERVED: the external port is our local port
 * @PUNCH_NAT_PORT_NOT_PRESERVED: the NAT picks other ports
 */
typedef enum
{
  PUNCH_NAT_PORT_UNKNOWN,
  PUNCH_NAT_PORT_PRESERVED,
  PUNCH_NAT_PORT_NOT_PRESERVED,
} PunchNatPortPreservation;

/* Distinct observers a conclusion needs: one observer cannot tell an
 * endpoint-independent mapping from a dependent one. */
#define PUNCH_NAT_MIN_OBSERVERS 2

/**
 * PunchNatReport:
 * @mapping: the mapping behaviour
 * @mapping_support: distinct observers whose reports support @mapping
 * @port_preservation: whether the NAT keeps our port
 * @preservation_support: distinct observers supporting @port_preservation
 * @external_addrs: (element-type PunchMultiaddr): our external
 *   /ip/tcp addresses as observers saw them, most supported first
 * @external_support: (element-type guint): observers per external address
 * @n_observers: distinct observers (endpoints) that were used
 * @reason: why @mapping is what it is, in plain words (the evidence)
 * @verdict: one sentence for people
 *
 * What a set of observations says, and how strongly.
 */
typedef struct
{
  PunchNatMapping          mapping;
  guint                    mapping_support;
  PunchNatPortPreservation port_preservation;
  guint                    preservation_support;
  GPtrArray               *external_addrs;
  GArray                  *external_support;
  guint                    n_observers;
  char                    *reason;
  char                    *verdict;
} PunchNatReport;

/* Classifies observations (oldest first: a later report from the same
 * observer endpoint replaces an earlier one, since mappings expire).
 * Inbound and relayed-looking observations only feed the external
 * addresses. Pure: no I/O, no clock. */
PunchNatReport *punch_nat_classify (const PunchNatObservation * const *observations,
                                    guint                              n_observations);
void            punch_nat_report_free (PunchNatReport *self);

/**
 * PunchPunchPrediction:
 * @PUNCH_PUNCH_PREDICTION_UNKNOWN: one side's NAT is not known well enough
 * @PUNCH_PUNCH_PREDICTION_LIKELY: direct connections should work
 * @PUNCH_PUNCH_PREDICTION_UNLIKELY: an endpoint-dependent NAT stands in the way
 */
typedef enum
{
  PUNCH_PUNCH_PREDICTION_UNKNOWN,
  PUNCH_PUNCH_PREDICTION_LIKELY,
  PUNCH_PUNCH_PREDICTION_UNLIKELY,
} PunchPunchPrediction;

/* Whether a TCP hole punch between a peer behind @ours and one behind
 * @theirs can work; @explanation (nullable) gets a plain-words sentence. */
PunchPunchPrediction punch_nat_predict_punch (PunchNatMapping   ours,
                                              PunchNatMapping   theirs,
                                              char            **explanation);

/* Whether @prediction held, given how the punch went; UNKNOWN predictions
 * neither hold nor fail (returns -1), else 1 or 0. */
int                  punch_nat_prediction_held (PunchPunchPrediction prediction,
                                                gboolean             punch_succeeded);

const char *punch_nat_mapping_to_string (PunchNatMapping mapping);
const char *punch_nat_port_preservation_to_string (PunchNatPortPreservation preservation);
const char *punch_punch_prediction_to_string (PunchPunchPrediction prediction);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchNatObservation, punch_nat_observation_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PunchNatReport, punch_nat_report_free)

G_END_DECLS
