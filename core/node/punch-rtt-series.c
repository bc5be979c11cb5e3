/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-rtt-series.h"

typedef struct
{
  gint64 time_us;
  gint64 rtt_us;
} Sample;

struct _PunchRttSeries
{
  GObject parent_instance;

  char   *name;
  guint   capacity;
  Sample *samples;
  guint   head;      /* index of the oldest sample */
  guint   n;
};

G_DEFINE_FINAL_TYPE (PunchRttSeries, punch_rtt_series, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_NAME,
  PROP_CAPACITY,
  PROP_N_SAMPLES,
  PROP_LAST,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
punch_rtt_series_constructed (GObject *object)
{
  PunchRttSeries *self = PUNCH_RTT_SERIES (object);

  G_OBJECT_CLASS (punch_rtt_series_parent_class)->constructed (object);
  self->samples = g_new0 (Sample, self->capacity);
}

static void
punch_rtt_series_finalize (GObject *object)
{
  PunchRttSeries *self = PUNCH_RTT_SERIES (object);

  g_free (self->name);
  g_free (self->samples);
  G_OBJECT_CLASS (punch_rtt_series_parent_class)->finalize (object);
}

static void
punch_rtt_series_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PunchRttSeries *self = PUNCH_RTT_SERIES (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_CAPACITY:
      g_value_set_uint (value, self->capacity);
      break;
    case PROP_N_SAMPLES:
      g_value_set_uint (value, self->n);
      break;
    case PROP_LAST:
      g_value_set_int64 (value, punch_rtt_series_get_last (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_rtt_series_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PunchRttSeries *self = PUNCH_RTT_SERIES (object);

  switch (prop_id)
    {
    case PROP_NAME:
      self->name = g_value_dup_string (value);
      break;
    case PROP_CAPACITY:
      self->capacity = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_rtt_series_class_init (PunchRttSeriesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = punch_rtt_series_constructed;
  object_class->finalize = punch_rtt_series_finalize;
  object_class->get_property = punch_rtt_series_get_property;
  object_class->set_property = punch_rtt_series_set_property;

  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CAPACITY] =
    g_param_spec_uint ("capacity", NULL, NULL, 1, 1 << 20, PUNCH_RTT_SERIES_DEFAULT_CAPACITY,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_N_SAMPLES] =
    g_param_spec_uint ("n-samples", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LAST] =
    g_param_spec_int64 ("last", NULL, NULL, -1, G_MAXINT64, -1,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PunchRttSeries::changed:
   *
   * Samples were added or the series was cleared. Widgets should redraw
   * on their own clock rather than on every emission.
   */
  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                   NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
punch_rtt_series_init (PunchRttSeries *self)
{
  self->capacity = PUNCH_RTT_SERIES_DEFAULT_CAPACITY;
}

/**
 * punch_rtt_series_new:
 * @name: a short name ("relay", "relayed", "direct")
 * @capacity: how many samples to keep; 0 for the default
 *
 * Returns: (transfer full): an empty series
 */
PunchRttSeries *
punch_rtt_series_new (const char *name, guint capacity)
{
  return g_object_new (PUNCH_TYPE_RTT_SERIES,
                       "name", name,
                       "capacity", capacity ? capacity : PUNCH_RTT_SERIES_DEFAULT_CAPACITY,
                       NULL);
}

const char *
punch_rtt_series_get_name (PunchRttSeries *self)
{
  g_return_val_if_fail (PUNCH_IS_RTT_SERIES (self), NULL);
  return self->name;
}

guint
punch_rtt_series_get_capacity (PunchRttSeries *self)
{
  g_return_val_if_fail (PUNCH_IS_RTT_SERIES (self), 0);
  return self->capacity;
}

guint
punch_rtt_series_get_n_samples (PunchRttSeries *self)
{
  g_return_val_if_fail (PUNCH_IS_RTT_SERIES (self), 0);
  return self->n;
}

/**
 * punch_rtt_series_add:
 * @time_us: when the sample was taken (g_get_real_time())
 * @rtt_us: the round-trip time; negative values are ignored
 *
 * Appends a sample, dropping the oldest one when the series is full.
 */
void
punch_rtt_series_add (PunchRttSeries *self, gint64 time_us, gint64 rtt_us)
{
  guint slot;

  g_return_if_fail (PUNCH_IS_RTT_SERIES (self));

  if (rtt_us < 0)
    return;
  if (self->n < self->capacity)
    {
      slot = (self->head + self->n) % self->capacity;
      self->n++;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_SAMPLES]);
    }
  else
    {
      slot = self->head;
      self->head = (self->head + 1) % self->capacity;
    }
  self->samples[slot].time_us = time_us;
  self->samples[slot].rtt_us = rtt_us;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST]);
  g_signal_emit (self, signals[CHANGED], 0);
}

gboolean
punch_rtt_series_get_sample (PunchRttSeries *self, guint index, gint64 *time_us, gint64 *rtt_us)
{
  const Sample *s;

  g_return_val_if_fail (PUNCH_IS_RTT_SERIES (self), FALSE);

  if (index >= self->n)
    return FALSE;
  s = &self->samples[(self->head + index) % self->capacity];
  if (time_us != NULL)
    *time_us = s->time_us;
  if (rtt_us != NULL)
    *rtt_us = s->rtt_us;
  return TRUE;
}

gint64
punch_rtt_series_get_last (PunchRttSeries *self)
{
  gint64 rtt;

  g_return_val_if_fail (PUNCH_IS_RTT_SERIES (self), -1);

  if (self->n == 0 || !punch_rtt_series_get_sample (self, self->n - 1, NULL, &rtt))
    return -1;
  return rtt;
}

gboolean
punch_rtt_series_get_stats (PunchRttSeries *self, gint64 since_us, gint64 *min_us, gint64 *max_us, gint64 *mean_us)
{
  gint64 lo = G_MAXINT64, hi = 0;
  double sum = 0;
  guint count = 0;

  g_return_val_if_fail (PUNCH_IS_RTT_SERIES (self), FALSE);

  for (guint i = 0; i < self->n; i++)
    {
      const Sample *s = &self->samples[(self->head + i) % self->capacity];

      if (s->time_us < since_us)
        continue;
      lo = MIN (lo, s->rtt_us);
      hi = MAX (hi, s->rtt_us);
      sum += (double) s->rtt_us;
      count++;
    }
  if (count == 0)
    return FALSE;
  if (min_us != NULL)
    *min_us = lo;
  if (max_us != NULL)
    *max_us = hi;
  if (mean_us != NULL)
    *mean_us = (gint64) (sum / count);
  return TRUE;
}

void
punch_rtt_series_clear (PunchRttSeries *self)
{
  g_return_if_fail (PUNCH_IS_RTT_SERIES (self));

  if (self->n == 0)
    return;
  self->head = 0;
  self->n = 0;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_SAMPLES]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST]);
  g_signal_emit (self, signals[CHANGED], 0);
}
