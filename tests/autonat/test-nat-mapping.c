/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The mapping-behaviour classifier on recorded observations: what identify
 * reported in the NAT lab (198.18.0.0/15 is its internet, 10.0.x.y the LANs
 * behind the routers), plus the contradictory and too-few cases that must
 * come out as "unknown". */
#include <string.h>

#include "punch-nat-mapping.h"

#define MAX_ROWS 6

typedef struct
{
  const char *observer;
  const char *observer_addr;
  const char *local;
  const char *observed;
  gboolean    outbound;
} Row;

typedef struct
{
  const char              *name;
  Row                      rows[MAX_ROWS];
  PunchNatMapping          mapping;
  guint                    mapping_support;
  PunchNatPortPreservation preservation;
  guint                    preservation_support;
  guint                    n_external;
  const char              *first_external;   /* most supported, NULL when none */
  guint                    first_support;
  const char              *reason_has;       /* a substring of the reason */
} Case;

#define OUT TRUE
#define IN  FALSE
#define LAN "/ip4/10.0.1.2/tcp/4001"

static const Case cases[] = {
  { "eim-preserving",
    { { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT },
      { "peer1", "/ip4/198.18.0.20/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT },
      { "peer2", "/ip4/198.18.0.30/tcp/5000", LAN, "/ip4/198.18.1.1/tcp/4001", OUT } },
    PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT, 3, PUNCH_NAT_PORT_PRESERVED, 3,
    1, "/ip4/198.18.1.1/tcp/4001", 3, "3 observers see local port 4001 as the same external port 4001" },
  { "eim-not-preserving",
    { { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/61000", OUT },
      { "peer1", "/ip4/198.18.0.20/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/61000", OUT } },
    PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT, 2, PUNCH_NAT_PORT_NOT_PRESERVED, 2,
    1, "/ip4/198.18.1.1/tcp/61000", 2, "same external port 61000" },
  { "edm",
    { { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/40001", OUT },
      { "peer1", "/ip4/198.18.0.20/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/40002", OUT },
      { "peer2", "/ip4/198.18.0.30/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/40003", OUT } },
    PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT, 3, PUNCH_NAT_PORT_NOT_PRESERVED, 3,
    3, NULL, 1, "3 different external addresses" },
  /* A NAT that keeps the port for its first mapping only. */
  { "edm-first-preserved",
    { { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT },
      { "peer1", "/ip4/198.18.0.20/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/40002", OUT } },
    PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT, 2, PUNCH_NAT_PORT_UNKNOWN, 0,
    2, NULL, 1, "2 different external addresses" },
  /* Different external IPs per destination count as dependent too. */
  { "edm-address-pooling",
    { { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT },
      { "peer1", "/ip4/198.18.0.20/tcp/4001", LAN, "/ip4/198.18.1.2/tcp/4001", OUT } },
    PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT, 2, PUNCH_NAT_PORT_PRESERVED, 2,
    2, NULL, 1, "different external addresses" },
  { "no-nat",
    { { "relay", "/ip4/198.18.0.10/tcp/4001", "/ip4/198.18.0.40/tcp/4001", "/ip4/198.18.0.40/tcp/4001", OUT },
      { "peer1", "/ip4/198.18.0.20/tcp/4001", "/ip4/198.18.0.40/tcp/4001", "/ip4/198.18.0.40/tcp/4001", OUT } },
    PUNCH_NAT_MAPPING_NONE, 2, PUNCH_NAT_PORT_UNKNOWN, 0,
    1, "/ip4/198.18.0.40/tcp/4001", 2, "untranslated" },
  { "too-few-one-observer",
    { { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT } },
    PUNCH_NAT_MAPPING_UNKNOWN, 0, PUNCH_NAT_PORT_UNKNOWN, 0,
    1, "/ip4/198.18.1.1/tcp/4001", 1, "at least 2 needed" },
  { "too-few-none",
    { { NULL } },
    PUNCH_NAT_MAPPING_UNKNOWN, 0, PUNCH_NAT_PORT_UNKNOWN, 0,
    0, NULL, 0, "no observations" },
  /* The same observer twice is one observer, however often it reports. */
  { "too-few-same-observer-twice",
    { { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT },
      { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT } },
    PUNCH_NAT_MAPPING_UNKNOWN, 0, PUNCH_NAT_PORT_UNKNOWN, 0,
    1, "/ip4/198.18.1.1/tcp/4001", 1, "at least 2 needed" },
  { "contradictory-two-agree-one-differs",
    { { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT },
      { "peer1", "/ip4/198.18.0.20/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT },
      { "peer2", "/ip4/198.18.0.30/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/40002", OUT } },
    PUNCH_NAT_MAPPING_UNKNOWN, 0, PUNCH_NAT_PORT_UNKNOWN, 0,
    2, "/ip4/198.18.1.1/tcp/4001", 2, "contradictory observations: for local port 4001, 2 of 3 observers agree" },
  { "contradictory-translated-and-not",
    { { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, LAN, OUT },
      { "peer1", "/ip4/198.18.0.20/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT } },
    PUNCH_NAT_MAPPING_UNKNOWN, 0, PUNCH_NAT_PORT_UNKNOWN, 0,
    2, NULL, 1, "1 of 2 observers see it untranslated" },
  { "contradictory-local-ports-disagree",
    { { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT },
      { "peer1", "/ip4/198.18.0.20/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT },
      { "relay", "/ip4/198.18.0.10/tcp/4002", "/ip4/10.0.1.2/tcp/5001", "/ip4/198.18.1.1/tcp/50001", OUT },
      { "peer1", "/ip4/198.18.0.20/tcp/4002", "/ip4/10.0.1.2/tcp/5001", "/ip4/198.18.1.1/tcp/50002", OUT } },
    PUNCH_NAT_MAPPING_UNKNOWN, 0, PUNCH_NAT_PORT_UNKNOWN, 0,
    3, "/ip4/198.18.1.1/tcp/4001", 2, "different local ports show different mappings" },
  /* A mapping that changed (expired, router restarted): the latest counts. */
  { "remapped-latest-wins",
    { { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/40001", OUT },
      { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/40005", OUT },
      { "peer1", "/ip4/198.18.0.20/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/40005", OUT } },
    PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT, 2, PUNCH_NAT_PORT_NOT_PRESERVED, 2,
    1, "/ip4/198.18.1.1/tcp/40005", 2, "same external port 40005" },
  /* Inbound connections create no mapping: external address, no verdict. */
  { "inbound-only",
    { { "peer1", "/ip4/198.18.0.20/tcp/51000", LAN, "/ip4/198.18.1.1/tcp/4001", IN },
      { "peer2", "/ip4/198.18.0.30/tcp/52000", LAN, "/ip4/198.18.1.1/tcp/4001", IN } },
    PUNCH_NAT_MAPPING_UNKNOWN, 0, PUNCH_NAT_PORT_UNKNOWN, 0,
    1, "/ip4/198.18.1.1/tcp/4001", 2, "no observations from connections we opened" },
  /* Relayed or non-TCP observations are not about our NAT. */
  { "unusable-addresses",
    { { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, "/p2p-circuit", OUT },
      { "peer1", "/ip4/198.18.0.20/tcp/4001", LAN, "/ip4/198.18.1.1/udp/4001", OUT },
      { "peer2", "/ip4/198.18.0.30/tcp/4001", LAN, "/ip6/2001:db8::1/tcp/4001", OUT } },
    PUNCH_NAT_MAPPING_UNKNOWN, 0, PUNCH_NAT_PORT_UNKNOWN, 0,
    0, NULL, 0, "no observations" },
  /* IPv4 decides when present; a lone IPv6 observation does not spoil it. */
  { "ipv4-preferred",
    { { "v6peer", "/ip6/2001:db8::20/tcp/4001", "/ip6/2001:db8::2/tcp/4001", "/ip6/2001:db8::2/tcp/4001", OUT },
      { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT },
      { "peer1", "/ip4/198.18.0.20/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT } },
    PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT, 2, PUNCH_NAT_PORT_PRESERVED, 2,
    2, "/ip4/198.18.1.1/tcp/4001", 2, "2 observers" },
  /* Connections before we listened leave from ephemeral ports: singletons
   * that neither help nor hurt the listen port's verdict. */
  { "ephemeral-singletons-ignored",
    { { "relay", "/ip4/198.18.0.10/tcp/4001", "/ip4/10.0.1.2/tcp/33001", "/ip4/198.18.1.1/tcp/50001", OUT },
      { "peer1", "/ip4/198.18.0.20/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT },
      { "peer2", "/ip4/198.18.0.30/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT } },
    PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT, 2, PUNCH_NAT_PORT_UNKNOWN, 0,
    2, "/ip4/198.18.1.1/tcp/4001", 2, "2 observers see local port 4001" },
};

static PunchMultiaddr *
ma (const char *text)
{
  g_autoptr (GError) error = NULL;
  PunchMultiaddr *addr;

  if (text == NULL)
    return NULL;
  addr = punch_multiaddr_new_from_string (text, &error);
  g_assert_no_error (error);
  return addr;
}

static PunchNatReport *
classify_rows (const Row *rows)
{
  g_autoptr (GPtrArray) obs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_nat_observation_free);

  for (guint i = 0; i < MAX_ROWS && rows[i].observer != NULL; i++)
    {
      g_autoptr (PunchMultiaddr) observer_addr = ma (rows[i].observer_addr);
      g_autoptr (PunchMultiaddr) local = ma (rows[i].local);
      g_autoptr (PunchMultiaddr) observed = ma (rows[i].observed);

      g_ptr_array_add (obs, punch_nat_observation_new (rows[i].observer, observer_addr, local, observed,
                                                       rows[i].outbound));
    }
  return punch_nat_classify ((const PunchNatObservation * const *) obs->pdata, obs->len);
}

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  g_autoptr (PunchNatReport) report = classify_rows (c->rows);

  g_test_message ("%s: %s / %s", c->name, report->reason, report->verdict);
  g_assert_cmpstr (punch_nat_mapping_to_string (report->mapping), ==, punch_nat_mapping_to_string (c->mapping));
  g_assert_cmpuint (report->mapping_support, ==, c->mapping_support);
  g_assert_cmpstr (punch_nat_port_preservation_to_string (report->port_preservation), ==,
                   punch_nat_port_preservation_to_string (c->preservation));
  g_assert_cmpuint (report->preservation_support, ==, c->preservation_support);
  g_assert_cmpuint (report->external_addrs->len, ==, c->n_external);
  g_assert_cmpuint (report->external_support->len, ==, c->n_external);
  if (c->n_external > 0)
    g_assert_cmpuint (g_array_index (report->external_support, guint, 0), ==, c->first_support);
  if (c->first_external != NULL)
    {
      g_autofree char *first = punch_multiaddr_to_string (g_ptr_array_index (report->external_addrs, 0));

      g_assert_cmpstr (first, ==, c->first_external);
    }
  g_assert_nonnull (strstr (report->reason, c->reason_has));
  g_assert_nonnull (report->verdict);
  /* An unknown is said as such, never dressed up as a finding. */
  if (c->mapping == PUNCH_NAT_MAPPING_UNKNOWN)
    g_assert_true (g_str_has_prefix (report->verdict, "NAT behaviour unknown: "));
  else
    g_assert_null (strstr (report->verdict, "unknown"));
}

static void
test_verdict_words (void)
{
  const Row eim[] = {
    { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT },
    { "peer1", "/ip4/198.18.0.20/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/4001", OUT },
    { NULL },
  };
  const Row edm[] = {
    { "relay", "/ip4/198.18.0.10/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/40001", OUT },
    { "peer1", "/ip4/198.18.0.20/tcp/4001", LAN, "/ip4/198.18.1.1/tcp/40002", OUT },
    { NULL },
  };
  g_autoptr (PunchNatReport) a = classify_rows (eim);
  g_autoptr (PunchNatReport) b = classify_rows (edm);

  g_assert_cmpstr (a->verdict, ==, "Behind an endpoint-independent NAT (2 observers agree): direct connections to "
                   "most peers should work.");
  g_assert_true (g_str_has_prefix (b->verdict, "Behind an endpoint-dependent (\"symmetric\") NAT (2 observers"));
}

static void
test_null_and_incomplete (void)
{
  g_autoptr (PunchMultiaddr) observed = ma ("/ip4/198.18.1.1/tcp/4001");
  g_autoptr (PunchNatObservation) no_local = punch_nat_observation_new ("x", NULL, NULL, observed, TRUE);
  const PunchNatObservation *list[] = { NULL, no_local };
  g_autoptr (PunchNatReport) report = punch_nat_classify (list, G_N_ELEMENTS (list));
  g_autoptr (PunchNatReport) empty = punch_nat_classify (NULL, 0);

  g_assert_cmpint (report->mapping, ==, PUNCH_NAT_MAPPING_UNKNOWN);
  g_assert_cmpuint (report->n_observers, ==, 0);
  g_assert_cmpint (empty->mapping, ==, PUNCH_NAT_MAPPING_UNKNOWN);
}

static void
test_predictions (void)
{
  static const struct
  {
    PunchNatMapping      ours, theirs;
    PunchPunchPrediction expected;
    const char          *words;
  } table[] = {
    { PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT, PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT, PUNCH_PUNCH_PREDICTION_LIKELY,
      "direct connections should work" },
    { PUNCH_NAT_MAPPING_NONE, PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT, PUNCH_PUNCH_PREDICTION_LIKELY,
      "direct connections should work" },
    { PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT, PUNCH_NAT_MAPPING_UNKNOWN, PUNCH_PUNCH_PREDICTION_UNLIKELY,
      "unlikely: we are behind an endpoint-dependent NAT" },
    { PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT, PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT, PUNCH_PUNCH_PREDICTION_UNLIKELY,
      "unlikely: the peer is behind an endpoint-dependent NAT" },
    { PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT, PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT, PUNCH_PUNCH_PREDICTION_UNLIKELY,
      "unlikely: both sides" },
    { PUNCH_NAT_MAPPING_UNKNOWN, PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT, PUNCH_PUNCH_PREDICTION_UNKNOWN,
      "unknown" },
    { PUNCH_NAT_MAPPING_UNKNOWN, PUNCH_NAT_MAPPING_UNKNOWN, PUNCH_PUNCH_PREDICTION_UNKNOWN, "unknown" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (table); i++)
    {
      g_autofree char *text = NULL;

      g_assert_cmpint (punch_nat_predict_punch (table[i].ours, table[i].theirs, &text), ==, table[i].expected);
      g_assert_true (g_str_has_prefix (text, table[i].words));
    }
  g_assert_cmpint (punch_nat_prediction_held (PUNCH_PUNCH_PREDICTION_LIKELY, TRUE), ==, 1);
  g_assert_cmpint (punch_nat_prediction_held (PUNCH_PUNCH_PREDICTION_LIKELY, FALSE), ==, 0);
  g_assert_cmpint (punch_nat_prediction_held (PUNCH_PUNCH_PREDICTION_UNLIKELY, TRUE), ==, 0);
  g_assert_cmpint (punch_nat_prediction_held (PUNCH_PUNCH_PREDICTION_UNLIKELY, FALSE), ==, 1);
  g_assert_cmpint (punch_nat_prediction_held (PUNCH_PUNCH_PREDICTION_UNKNOWN, TRUE), ==, -1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/core/nat-mapping/classify/%s", cases[i].name);

      g_test_add_data_func (path, &cases[i], test_case);
    }
  g_test_add_func ("/core/nat-mapping/verdict-words", test_verdict_words);
  g_test_add_func ("/core/nat-mapping/null-and-incomplete", test_null_and_incomplete);
  g_test_add_func ("/core/nat-mapping/predictions", test_predictions);
  return g_test_run ();
}
