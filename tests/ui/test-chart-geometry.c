/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The RTT chart's pure geometry, without a display. */
#include "punch-rtt-chart.h"

static void
test_nice_ceiling (void)
{
  static const struct { double in, out; } cases[] = {
    { 0, 1 }, { -3, 1 }, { 0.3, 0.5 }, { 1, 1 }, { 1.01, 2 }, { 2, 2 }, { 2.5, 5 }, { 5, 5 },
    { 7, 10 }, { 10, 10 }, { 11, 20 }, { 99, 100 }, { 120, 200 }, { 480, 500 }, { 501, 1000 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%g → %g", cases[i].in, punch_rtt_chart_nice_ceiling (cases[i].in));
      g_assert_cmpfloat_with_epsilon (punch_rtt_chart_nice_ceiling (cases[i].in), cases[i].out, 1e-9);
    }
}

static void
test_decimate_small (void)
{
  double xs[] = { 0, 1, 2 }, ys[] = { 5, 6, 7 };

  /* Fewer points than pixels: untouched. */
  g_assert_cmpuint (punch_rtt_chart_decimate (xs, ys, 3, 100), ==, 3);
  g_assert_cmpfloat (ys[1], ==, 6);
}

static void
test_decimate_keeps_extremes (void)
{
  guint n = 10000;
  g_autofree double *xs = g_new (double, n);
  g_autofree double *ys = g_new (double, n);
  guint out;
  double lo = G_MAXDOUBLE, hi = -G_MAXDOUBLE;

  /* Ten thousand samples over 100 px, one spike at 7777. */
  for (guint i = 0; i < n; i++)
    {
      xs[i] = 100.0 * i / n;
      ys[i] = 50 + (i % 7);
    }
  ys[7777] = 500;
  ys[1234] = 1;
  out = punch_rtt_chart_decimate (xs, ys, n, 100);
  g_assert_cmpuint (out, <=, 200);
  g_assert_cmpuint (out, >=, 100);
  for (guint i = 0; i < out; i++)
    {
      lo = MIN (lo, ys[i]);
      hi = MAX (hi, ys[i]);
      if (i > 0)
        g_assert_cmpfloat (xs[i], >=, xs[i - 1]);
    }
  g_assert_cmpfloat (hi, ==, 500);
  g_assert_cmpfloat (lo, ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui/chart/nice-ceiling", test_nice_ceiling);
  g_test_add_func ("/ui/chart/decimate-small", test_decimate_small);
  g_test_add_func ("/ui/chart/decimate-keeps-extremes", test_decimate_keeps_extremes);
  return g_test_run ();
}
