/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers shared by the transport tests: waiting with a deadline, and
 * connected stream pairs. */
#pragma once

#include <gio/gio.h>
#include <sys/socket.h>

#define TEST_DEADLINE_S 10

static inline gboolean
test_on_deadline (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the thread-default main context until *@done is TRUE, failing the
 * test after TEST_DEADLINE_S seconds. */
static inline void
test_await_flag (const gboolean *done)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add_seconds (TEST_DEADLINE_S, test_on_deadline, &expired);

  while (!*done && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  if (!*done)
    g_error ("timed out after %d s waiting for an async result", TEST_DEADLINE_S);
}

/* Runs the main context until @slot is filled by test_store_result(). */
static inline void
test_await_result (GAsyncResult **slot)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add_seconds (TEST_DEADLINE_S, test_on_deadline, &expired);

  while (*slot == NULL && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  if (*slot == NULL)
    g_error ("timed out after %d s waiting for an async result", TEST_DEADLINE_S);
}

static inline void
test_store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* A connected pair of Unix stream sockets as GIOStreams. */
static inline void
test_socket_pair (GIOStream **a, GIOStream **b)
{
  int fds[2];
  g_autoptr (GSocket) sa = NULL;
  g_autoptr (GSocket) sb = NULL;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  sa = g_socket_new_from_fd (fds[0], NULL);
  sb = g_socket_new_from_fd (fds[1], NULL);
  g_assert_nonnull (sa);
  g_assert_nonnull (sb);
  *a = G_IO_STREAM (g_socket_connection_factory_create_connection (sa));
  *b = G_IO_STREAM (g_socket_connection_factory_create_connection (sb));
}
