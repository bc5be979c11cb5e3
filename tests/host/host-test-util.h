/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-host.h"

G_BEGIN_DECLS

static inline gboolean
host_test_wake (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates the default main context until @expr holds; aborts the test after
 * @seconds. A 20 ms wake-up keeps the loop from sleeping through a deadline
 * when nothing else happens. */
#define WAIT_UNTIL_SECONDS(expr, seconds)                                      \
  G_STMT_START                                                                 \
  {                                                                            \
    gint64 _deadline = g_get_monotonic_time () + (seconds) * G_USEC_PER_SEC;   \
    guint _wake = g_timeout_add (20, host_test_wake, NULL);                    \
    while (!(expr))                                                            \
      {                                                                        \
        if (g_get_monotonic_time () > _deadline)                               \
          g_error ("%s:%d: timed out after %d s waiting for: %s",              \
                   __FILE__, __LINE__, (int) (seconds), #expr);                \
        g_main_context_iteration (NULL, TRUE);                                 \
      }                                                                        \
    g_source_remove (_wake);                                                   \
  }                                                                            \
  G_STMT_END

#define WAIT_UNTIL(expr) WAIT_UNTIL_SECONDS (expr, 10)

/* Runs the main loop for @ms milliseconds (to let closes settle). */
static inline void
host_test_spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  guint wake = g_timeout_add (5, host_test_wake, NULL);

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (wake);
}

static inline void
host_test_store_result (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

/* A host with a new key, listening on 127.0.0.1 port 0. */
static inline PunchHost *
host_test_new_listening (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = punch_private_key_generate (&error);
  g_autoptr (PunchMultiaddr) listen = punch_multiaddr_new_from_string ("/ip4/127.0.0.1/tcp/0", &error);
  PunchHost *host;

  g_assert_no_error (error);
  host = punch_host_new (key);
  g_assert_true (punch_host_listen (host, listen, &error));
  g_assert_no_error (error);
  return host;
}

G_END_DECLS
