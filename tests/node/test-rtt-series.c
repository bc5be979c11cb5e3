/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The RTT ring buffer and the bounded timeline model. */
#include "punch-rtt-series.h"
#include "punch-timeline.h"

static void
on_changed (PunchRttSeries *series, guint *count)
{
  (*count)++;
}

static void
test_fill (void)
{
  g_autoptr (PunchRttSeries) s = punch_rtt_series_new ("direct", 4);
  guint changed = 0;
  gint64 t, rtt, min, max, mean;

  g_signal_connect (s, "changed", G_CALLBACK (on_changed), &changed);
  g_assert_cmpuint (punch_rtt_series_get_n_samples (s), ==, 0);
  g_assert_cmpint (punch_rtt_series_get_last (s), ==, -1);
  g_assert_false (punch_rtt_series_get_sample (s, 0, &t, &rtt));
  g_assert_false (punch_rtt_series_get_stats (s, 0, &min, &max, &mean));

  punch_rtt_series_add (s, 100, 1000);
  punch_rtt_series_add (s, 200, 3000);
  g_assert_cmpuint (changed, ==, 2);
  g_assert_cmpuint (punch_rtt_series_get_n_samples (s), ==, 2);
  g_assert_true (punch_rtt_series_get_sample (s, 0, &t, &rtt));
  g_assert_cmpint (t, ==, 100);
  g_assert_cmpint (rtt, ==, 1000);
  g_assert_cmpint (punch_rtt_series_get_last (s), ==, 3000);
  g_assert_true (punch_rtt_series_get_stats (s, 0, &min, &max, &mean));
  g_assert_cmpint (min, ==, 1000);
  g_assert_cmpint (max, ==, 3000);
  g_assert_cmpint (mean, ==, 2000);
  g_assert_true (punch_rtt_series_get_stats (s, 150, &min, &max, &mean));
  g_assert_cmpint (min, ==, 3000);
  g_assert_false (punch_rtt_series_get_stats (s, 201, NULL, NULL, NULL));

  /* Negative RTTs are no samples. */
  punch_rtt_series_add (s, 300, -1);
  g_assert_cmpuint (punch_rtt_series_get_n_samples (s), ==, 2);
  g_assert_cmpuint (changed, ==, 2);
}

static void
test_wrap (void)
{
  g_autoptr (PunchRttSeries) s = punch_rtt_series_new ("relay", 3);
  gint64 t, rtt;

  for (gint64 i = 1; i <= 10; i++)
    punch_rtt_series_add (s, i * 10, i * 100);
  g_assert_cmpuint (punch_rtt_series_get_n_samples (s), ==, 3);
  g_assert_cmpuint (punch_rtt_series_get_capacity (s), ==, 3);
  /* Oldest first: 8, 9, 10. */
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (punch_rtt_series_get_sample (s, i, &t, &rtt));
      g_assert_cmpint (t, ==, (8 + (gint64) i) * 10);
      g_assert_cmpint (rtt, ==, (8 + (gint64) i) * 100);
    }
  g_assert_false (punch_rtt_series_get_sample (s, 3, &t, &rtt));
  g_assert_cmpint (punch_rtt_series_get_last (s), ==, 1000);

  punch_rtt_series_clear (s);
  g_assert_cmpuint (punch_rtt_series_get_n_samples (s), ==, 0);
  punch_rtt_series_add (s, 1, 5);
  g_assert_true (punch_rtt_series_get_sample (s, 0, &t, &rtt));
  g_assert_cmpint (rtt, ==, 5);
}

static void
test_default_capacity (void)
{
  g_autoptr (PunchRttSeries) s = punch_rtt_series_new ("x", 0);

  g_assert_cmpuint (punch_rtt_series_get_capacity (s), ==, PUNCH_RTT_SERIES_DEFAULT_CAPACITY);
  for (guint i = 0; i < PUNCH_RTT_SERIES_DEFAULT_CAPACITY + 10; i++)
    punch_rtt_series_add (s, i, i);
  g_assert_cmpuint (punch_rtt_series_get_n_samples (s), ==, PUNCH_RTT_SERIES_DEFAULT_CAPACITY);
  g_assert_cmpint (punch_rtt_series_get_last (s), ==, PUNCH_RTT_SERIES_DEFAULT_CAPACITY + 9);
}

static void
on_items_changed (GListModel *model, guint position, guint removed, guint added, GString *log)
{
  g_string_append_printf (log, "%u-%u+%u;", position, removed, added);
}

static void
test_timeline_bounded (void)
{
  g_autoptr (PunchTimeline) tl = punch_timeline_new (3);
  g_autoptr (GString) log = g_string_new (NULL);
  g_autoptr (PunchTimelineEvent) first = NULL;
  g_autoptr (PunchTimelineEvent) last = NULL;

  g_signal_connect (tl, "items-changed", G_CALLBACK (on_items_changed), log);
  g_assert_true (g_list_model_get_item_type (G_LIST_MODEL (tl)) == PUNCH_TYPE_TIMELINE_EVENT);
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *detail = g_strdup_printf ("%u", i);
      punch_timeline_add (tl, i % 2 ? "connection" : "reservation", "peer", "a", "b", detail);
    }
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (tl)), ==, 3);
  g_assert_cmpuint (punch_timeline_get_n_dropped (tl), ==, 2);
  g_assert_cmpstr (log->str, ==, "0-0+1;1-0+1;2-0+1;0-1+0;2-0+1;0-1+0;2-0+1;");
  first = g_list_model_get_item (G_LIST_MODEL (tl), 0);
  last = g_list_model_get_item (G_LIST_MODEL (tl), 2);
  g_assert_cmpstr (punch_timeline_event_get_detail (first), ==, "2");
  g_assert_cmpstr (punch_timeline_event_get_detail (last), ==, "4");
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (tl), 3));
  g_assert_cmpuint (punch_timeline_count (tl, "connection", NULL), ==, 1);
  g_assert_cmpuint (punch_timeline_count (tl, NULL, "peer"), ==, 3);
  g_assert_cmpuint (punch_timeline_count (tl, NULL, "other"), ==, 0);
}

static void
test_iso_time (void)
{
  g_autofree char *text = punch_format_iso_time (1764165000123456);

  g_assert_cmpstr (text, ==, "2025-11-26T13:50:00.123Z");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/rtt-series/fill", test_fill);
  g_test_add_func ("/core/rtt-series/wrap", test_wrap);
  g_test_add_func ("/core/rtt-series/default-capacity", test_default_capacity);
  g_test_add_func ("/core/timeline/bounded", test_timeline_bounded);
  g_test_add_func ("/core/timeline/iso-time", test_iso_time);
  return g_test_run ();
}
