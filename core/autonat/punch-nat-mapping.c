/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-nat-mapping.h"

#include <string.h>

G_DEFINE_ENUM_TYPE (PunchNatMapping, punch_nat_mapping,
                    G_DEFINE_ENUM_VALUE (PUNCH_NAT_MAPPING_UNKNOWN, "unknown"),
                    G_DEFINE_ENUM_VALUE (PUNCH_NAT_MAPPING_NONE, "none"),
                    G_DEFINE_ENUM_VALUE (PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT, "endpoint-independent"),
                    G_DEFINE_ENUM_VALUE (PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT, "endpoint-dependent"))

PunchNatObservation *
punch_nat_observation_new (const char     *observer,
                           PunchMultiaddr *observer_addr,
                           PunchMultiaddr *local_addr,
                           PunchMultiaddr *observed_addr,
                           gboolean        outbound)
{
  PunchNatObservation *self = g_new0 (PunchNatObservation, 1);

  self->observer = g_strdup (observer);
  self->observer_addr = observer_addr != NULL ? punch_multiaddr_ref (observer_addr) : NULL;
  self->local_addr = local_addr != NULL ? punch_multiaddr_ref (local_addr) : NULL;
  self->observed_addr = observed_addr != NULL ? punch_multiaddr_ref (observed_addr) : NULL;
  self->outbound = outbound;
  return self;
}

PunchNatObservation *
punch_nat_observation_copy (const PunchNatObservation *self)
{
  return punch_nat_observation_new (self->observer, self->observer_addr, self->local_addr,
                                    self->observed_addr, self->outbound);
}

void
punch_nat_observation_free (PunchNatObservation *self)
{
  if (self == NULL)
    return;
  g_free (self->observer);
  g_clear_pointer (&self->observer_addr, punch_multiaddr_unref);
  g_clear_pointer (&self->local_addr, punch_multiaddr_unref);
  g_clear_pointer (&self->observed_addr, punch_multiaddr_unref);
  g_free (self);
}

void
punch_nat_report_free (PunchNatReport *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->external_addrs, g_ptr_array_unref);
  g_clear_pointer (&self->external_support, g_array_unref);
  g_free (self->reason);
  g_free (self->verdict);
  g_free (self);
}

/* An address reduced to what a NAT maps: family, IP and TCP port. */
typedef struct
{
  guint32 family;     /* PUNCH_PROTO_IP4 or PUNCH_PROTO_IP6 */
  guint8  ip[16];
  gsize   ip_len;
  guint16 port;
} Endpoint;

static gboolean
endpoint_from_multiaddr (const PunchMultiaddr *ma, Endpoint *out)
{
  PunchMultiaddrComponent host, tcp;

  memset (out, 0, sizeof *out);
  if (ma == NULL || !punch_multiaddr_get_component (ma, 0, &host) || !punch_multiaddr_get_component (ma, 1, &tcp))
    return FALSE;
  if ((host.code != PUNCH_PROTO_IP4 && host.code != PUNCH_PROTO_IP6) || tcp.code != PUNCH_PROTO_TCP
      || tcp.value_len != 2 || host.value_len > sizeof out->ip)
    return FALSE;
  out->family = host.code;
  memcpy (out->ip, host.value, host.value_len);
  out->ip_len = host.value_len;
  out->port = (guint16) ((tcp.value[0] << 8) | tcp.value[1]);
  return out->port != 0;
}

static gboolean
endpoint_same_ip (const Endpoint *a, const Endpoint *b)
{
  return a->family == b->family && a->ip_len == b->ip_len && memcmp (a->ip, b->ip, a->ip_len) == 0;
}

static gboolean
endpoint_equal (const Endpoint *a, const Endpoint *b)
{
  return endpoint_same_ip (a, b) && a->port == b->port;
}

/* One usable observation, after the latest-per-observer reduction. */
typedef struct
{
  const PunchNatObservation *obs;
  Endpoint                   local;
  Endpoint                   observed;
} Usable;

/* A distinct external endpoint and how many observers saw it. */
typedef struct
{
  Endpoint        endpoint;
  PunchMultiaddr *addr;      /* borrowed from an observation */
  guint           count;
} Tally;

static void
tally_add (GArray *tallies, const Endpoint *ep, PunchMultiaddr *addr)
{
  for (guint i = 0; i < tallies->len; i++)
    {
      Tally *t = &g_array_index (tallies, Tally, i);

      if (endpoint_equal (&t->endpoint, ep))
        {
          t->count++;
          return;
        }
    }
  {
    Tally t = { *ep, addr, 1 };

    g_array_append_val (tallies, t);
  }
}

static gint
tally_compare (gconstpointer a, gconstpointer b)
{
  const Tally *ta = a, *tb = b;

  return (ta->count < tb->count) - (ta->count > tb->count);
}

static char *
observer_key (const PunchNatObservation *obs)
{
  if (obs->observer_addr != NULL)
    {
      g_autoptr (PunchMultiaddr) ip_tcp = punch_multiaddr_slice (obs->observer_addr, 0, 2);

      return punch_multiaddr_to_string (ip_tcp);
    }
  return g_strdup (obs->observer != NULL ? obs->observer : "");
}

typedef enum
{
  GROUP_TOO_FEW,
  GROUP_CONTRADICTORY,
  GROUP_CONCLUSIVE,
} GroupOutcome;

/* The mapping one local port shows. */
static GroupOutcome
classify_group (GArray *group, PunchNatMapping *mapping, guint *support, GString *why)
{
  g_autoptr (GArray) tallies = g_array_new (FALSE, FALSE, sizeof (Tally));
  guint untranslated = 0;
  guint n = group->len;
  guint16 port = g_array_index (group, Usable, 0).local.port;

  for (guint i = 0; i < n; i++)
    {
      Usable *u = &g_array_index (group, Usable, i);

      if (endpoint_equal (&u->local, &u->observed))
        untranslated++;
      tally_add (tallies, &u->observed, u->obs->observed_addr);
    }
  g_array_sort (tallies, tally_compare);

  if (n < PUNCH_NAT_MIN_OBSERVERS)
    {
      g_string_append_printf (why, "%u observer for local port %u (at least %d needed)", n, port,
                              PUNCH_NAT_MIN_OBSERVERS);
      return GROUP_TOO_FEW;
    }
  if (untranslated == n)
    {
      *mapping = PUNCH_NAT_MAPPING_NONE;
      *support = n;
      g_string_append_printf (why, "%u observers see local port %u untranslated", n, port);
      return GROUP_CONCLUSIVE;
    }
  if (untranslated > 0)
    {
      g_string_append_printf (why, "for local port %u, %u of %u observers see it untranslated and the others do not",
                              port, untranslated, n);
      return GROUP_CONTRADICTORY;
    }
  if (tallies->len == 1)
    {
      *mapping = PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT;
      *support = n;
      g_string_append_printf (why, "%u observers see local port %u as the same external port %u", n, port,
                              g_array_index (tallies, Tally, 0).endpoint.port);
      return GROUP_CONCLUSIVE;
    }
  if (tallies->len == n)
    {
      *mapping = PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT;
      *support = n;
      g_string_append_printf (why, "%u observers see local port %u as %u different external addresses", n, port, n);
      return GROUP_CONCLUSIVE;
    }
  g_string_append_printf (why, "for local port %u, %u of %u observers agree on external port %u and the others "
                          "saw other ports", port, g_array_index (tallies, Tally, 0).count, n,
                          g_array_index (tallies, Tally, 0).endpoint.port);
  return GROUP_CONTRADICTORY;
}

static gint
port_compare (gconstpointer a, gconstpointer b)
{
  guint pa = GPOINTER_TO_UINT (a), pb = GPOINTER_TO_UINT (b);

  return (pa > pb) - (pa < pb);
}

static char *
make_verdict (const PunchNatReport *report)
{
  switch (report->mapping)
    {
    case PUNCH_NAT_MAPPING_NONE:
      return g_strdup_printf ("Not behind a NAT (%u observers see our own address): direct connections should work "
                              "unless a firewall blocks them.", report->mapping_support);
    case PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT:
      return g_strdup_printf ("Behind an endpoint-independent NAT (%u observers agree): direct connections to most "
                              "peers should work.", report->mapping_support);
    case PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT:
      return g_strdup_printf ("Behind an endpoint-dependent (\"symmetric\") NAT (%u observers saw different mappings): "
                              "hole punching is unlikely to work; expect relayed connections.",
                              report->mapping_support);
    case PUNCH_NAT_MAPPING_UNKNOWN:
    default:
      return g_strdup_printf ("NAT behaviour unknown: %s.", report->reason);
    }
}

PunchNatReport *
punch_nat_classify (const PunchNatObservation * const *observations,
                    guint                              n_observations)
{
  PunchNatReport *report = g_new0 (PunchNatReport, 1);
  g_autoptr (GHashTable) latest = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GArray) usable = g_array_new (FALSE, FALSE, sizeof (Usable));
  g_autoptr (GArray) tallies = g_array_new (FALSE, FALSE, sizeof (Tally));
  g_autoptr (GHashTable) groups = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                                         (GDestroyNotify) g_array_unref);
  g_autoptr (GString) why = g_string_new (NULL);
  g_autoptr (GList) keys = NULL;
  guint32 family = 0;
  guint n_conclusive = 0, n_contradictory = 0;
  guint preserved = 0, translated = 0;
  gboolean disagree = FALSE;

  report->external_addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  report->external_support = g_array_new (FALSE, FALSE, sizeof (guint));

  /* The latest report per observer endpoint: a NAT may have remapped since
   * an earlier one, which is no contradiction. */
  for (guint i = 0; i < n_observations; i++)
    if (observations[i] != NULL)
      g_hash_table_insert (latest, observer_key (observations[i]), GUINT_TO_POINTER (i + 1));
  for (guint i = 0; i < n_observations; i++)
    {
      const PunchNatObservation *obs = observations[i];
      g_autofree char *key = NULL;
      Usable u = { obs, { 0 }, { 0 } };

      if (obs == NULL)
        continue;
      key = observer_key (obs);
      if (GPOINTER_TO_UINT (g_hash_table_lookup (latest, key)) != i + 1)
        continue;
      if (!endpoint_from_multiaddr (obs->local_addr, &u.local)
          || !endpoint_from_multiaddr (obs->observed_addr, &u.observed)
          || u.local.family != u.observed.family)
        continue;
      g_array_append_val (usable, u);
      tally_add (tallies, &u.observed, obs->observed_addr);
    }
  report->n_observers = usable->len;

  g_array_sort (tallies, tally_compare);
  for (guint i = 0; i < tallies->len; i++)
    {
      Tally *t = &g_array_index (tallies, Tally, i);

      g_ptr_array_add (report->external_addrs, punch_multiaddr_slice (t->addr, 0, 2));
      g_array_append_val (report->external_support, t->count);
    }

  /* Mapping behaviour from outbound connections only, of one family: IPv4
   * when there is any (that is where NATs are), else IPv6. */
  for (guint i = 0; i < usable->len; i++)
    {
      Usable *u = &g_array_index (usable, Usable, i);

      if (u->obs->outbound && (family == 0 || u->local.family == PUNCH_PROTO_IP4))
        family = u->local.family;
    }
  for (guint i = 0; i < usable->len; i++)
    {
      Usable *u = &g_array_index (usable, Usable, i);
      GArray *group;

      if (!u->obs->outbound || u->local.family != family)
        continue;
      group = g_hash_table_lookup (groups, GUINT_TO_POINTER (u->local.port));
      if (group == NULL)
        {
          group = g_array_new (FALSE, FALSE, sizeof (Usable));
          g_hash_table_insert (groups, GUINT_TO_POINTER (u->local.port), group);
        }
      g_array_append_val (group, *u);
      if (!endpoint_equal (&u->local, &u->observed))
        {
          translated++;
          if (u->observed.port == u->local.port)
            preserved++;
        }
    }

  report->mapping = PUNCH_NAT_MAPPING_UNKNOWN;
  keys = g_list_sort (g_hash_table_get_keys (groups), port_compare);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      GArray *group = g_hash_table_lookup (groups, l->data);
      g_autoptr (GString) group_why = g_string_new (NULL);
      PunchNatMapping mapping = PUNCH_NAT_MAPPING_UNKNOWN;
      guint support = 0;

      switch (classify_group (group, &mapping, &support, group_why))
        {
        case GROUP_TOO_FEW:
          if (n_conclusive == 0 && n_contradictory == 0)
            {
              g_string_truncate (why, 0);
              g_string_append (why, group_why->str);
            }
          break;
        case GROUP_CONTRADICTORY:
          if (n_contradictory++ == 0)
            {
              g_string_truncate (why, 0);
              g_string_append_printf (why, "contradictory observations: %s", group_why->str);
            }
          break;
        case GROUP_CONCLUSIVE:
          if (n_conclusive++ == 0)
            {
              report->mapping = mapping;
              report->mapping_support = support;
              if (n_contradictory == 0)
                {
                  g_string_truncate (why, 0);
                  g_string_append (why, group_why->str);
                }
            }
          else if (mapping != report->mapping)
            disagree = TRUE;
          else
            report->mapping_support += support;
          break;
        }
    }

  if (family == 0)
    g_string_assign (why, "no observations from connections we opened");
  else if (disagree)
    {
      g_string_assign (why, "contradictory observations: different local ports show different mappings");
      report->mapping = PUNCH_NAT_MAPPING_UNKNOWN;
    }
  if (n_contradictory > 0)
    report->mapping = PUNCH_NAT_MAPPING_UNKNOWN;
  if (report->mapping == PUNCH_NAT_MAPPING_UNKNOWN)
    report->mapping_support = 0;

  /* Port preservation needs as many translated observations as a mapping
   * conclusion does, and all of them agreeing. */
  report->port_preservation = PUNCH_NAT_PORT_UNKNOWN;
  if (translated >= PUNCH_NAT_MIN_OBSERVERS && preserved == translated)
    {
      report->port_preservation = PUNCH_NAT_PORT_PRESERVED;
      report->preservation_support = preserved;
    }
  else if (translated >= PUNCH_NAT_MIN_OBSERVERS && preserved == 0)
    {
      report->port_preservation = PUNCH_NAT_PORT_NOT_PRESERVED;
      report->preservation_support = translated;
    }

  report->reason = g_string_free (g_steal_pointer (&why), FALSE);
  report->verdict = make_verdict (report);
  return report;
}

PunchPunchPrediction
punch_nat_predict_punch (PunchNatMapping   ours,
                         PunchNatMapping   theirs,
                         char            **explanation)
{
  PunchPunchPrediction prediction;
  const char *text;

  /* A side without NAT can simply be dialled by the other. */
  if (ours == PUNCH_NAT_MAPPING_NONE || theirs == PUNCH_NAT_MAPPING_NONE)
    {
      prediction = PUNCH_PUNCH_PREDICTION_LIKELY;
      text = "direct connections should work: one side is not behind a NAT";
    }
  else if (ours == PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT || theirs == PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT)
    {
      prediction = PUNCH_PUNCH_PREDICTION_UNLIKELY;
      text = ours == theirs ? "unlikely: both sides are behind endpoint-dependent NATs"
             : ours == PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT ? "unlikely: we are behind an endpoint-dependent NAT"
             : "unlikely: the peer is behind an endpoint-dependent NAT";
    }
  else if (ours == PUNCH_NAT_MAPPING_UNKNOWN || theirs == PUNCH_NAT_MAPPING_UNKNOWN)
    {
      prediction = PUNCH_PUNCH_PREDICTION_UNKNOWN;
      text = "unknown: not enough is known about one side's NAT";
    }
  else
    {
      prediction = PUNCH_PUNCH_PREDICTION_LIKELY;
      text = "direct connections should work: both NATs are endpoint-independent";
    }
  if (explanation != NULL)
    *explanation = g_strdup (text);
  return prediction;
}

int
punch_nat_prediction_held (PunchPunchPrediction prediction,
                           gboolean             punch_succeeded)
{
  switch (prediction)
    {
    case PUNCH_PUNCH_PREDICTION_LIKELY: return punch_succeeded ? 1 : 0;
    case PUNCH_PUNCH_PREDICTION_UNLIKELY: return punch_succeeded ? 0 : 1;
    case PUNCH_PUNCH_PREDICTION_UNKNOWN:
    default: return -1;
    }
}

const char *
punch_nat_mapping_to_string (PunchNatMapping mapping)
{
  switch (mapping)
    {
    case PUNCH_NAT_MAPPING_NONE: return "none";
    case PUNCH_NAT_MAPPING_ENDPOINT_INDEPENDENT: return "endpoint-independent";
    case PUNCH_NAT_MAPPING_ENDPOINT_DEPENDENT: return "endpoint-dependent";
    case PUNCH_NAT_MAPPING_UNKNOWN:
    default: return "unknown";
    }
}

const char *
punch_nat_port_preservation_to_string (PunchNatPortPreservation preservation)
{
  switch (preservation)
    {
    case PUNCH_NAT_PORT_PRESERVED: return "preserved";
    case PUNCH_NAT_PORT_NOT_PRESERVED: return "not-preserved";
    case PUNCH_NAT_PORT_UNKNOWN:
    default: return "unknown";
    }
}

const char *
punch_punch_prediction_to_string (PunchPunchPrediction prediction)
{
  switch (prediction)
    {
    case PUNCH_PUNCH_PREDICTION_LIKELY: return "likely";
    case PUNCH_PUNCH_PREDICTION_UNLIKELY: return "unlikely";
    case PUNCH_PUNCH_PREDICTION_UNKNOWN:
    default: return "unknown";
    }
}
