/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-protocols-private.h"

#include "punch-yamux-stream.h"

struct _PunchDeadline
{
  GCancellable *cancellable;
  GCancellable *parent;
  gulong        parent_handler;
  GSource      *timer;
  guint         timeout_ms;
  gboolean      expired;
};

static void
on_parent_cancelled (GCancellable *parent,
                     gpointer      user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static gboolean
on_deadline_timer (gpointer user_data)
{
  PunchDeadline *self = user_data;

  self->expired = TRUE;
  g_clear_pointer (&self->timer, g_source_unref);
  g_cancellable_cancel (self->cancellable);

  return G_SOURCE_REMOVE;
}

static void
punch_deadline_arm (PunchDeadline *self)
{
  if (self->timeout_ms == 0)
    return;

  self->timer = g_timeout_source_new (self->timeout_ms);
  g_source_set_static_name (self->timer, "[punchline] protocol deadline");
  g_source_set_callback (self->timer, on_deadline_timer, self, NULL);
  g_source_attach (self->timer, g_main_context_get_thread_default ());
}

static void
punch_deadline_disarm (PunchDeadline *self)
{
  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
}

/*
 * punch_deadline_new:
 * @parent: (nullable): the caller's cancellable
 * @timeout_ms: the timeout; 0 for none
 */
PunchDeadline *
punch_deadline_new (GCancellable *parent,
                    guint         timeout_ms)
{
  PunchDeadline *self = g_new0 (PunchDeadline, 1);

  self->cancellable = g_cancellable_new ();
  self->timeout_ms = timeout_ms;
  if (parent != NULL)
    {
      self->parent = g_object_ref (parent);
      /* Calls on_parent_cancelled at once when @parent already is. */
      self->parent_handler = g_cancellable_connect (parent,
                                                    G_CALLBACK (on_parent_cancelled),
                                                    g_object_ref (self->cancellable),
                                                    g_object_unref);
    }
  punch_deadline_arm (self);

  return self;
}

GCancellable *
punch_deadline_get_cancellable (PunchDeadline *self)
{
  return self->cancellable;
}

gboolean
punch_deadline_expired (PunchDeadline *self)
{
  return self->expired;
}

void
punch_deadline_restart (PunchDeadline *self)
{
  if (self->expired)
    return;

  punch_deadline_disarm (self);
  punch_deadline_arm (self);
}

void
punch_deadline_adjust_error (PunchDeadline *self,
                             GError       **error,
                             const char    *what)
{
  if (error == NULL || *error == NULL || !self->expired)
    return;
  if (!g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  g_clear_error (error);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
               "%s timed out after %u ms", what, self->timeout_ms);
}

void
punch_deadline_free (PunchDeadline *self)
{
  if (self == NULL)
    return;

  punch_deadline_disarm (self);
  if (self->parent != NULL)
    {
      g_cancellable_disconnect (self->parent, self->parent_handler);
      g_clear_object (&self->parent);
    }
  g_clear_object (&self->cancellable);
  g_free (self);
}

void
punch_protocol_abort_stream (GIOStream *stream)
{
  /* A stream that never opened has nothing to abort. */
  if (stream == NULL)
    return;
  if (PUNCH_IS_YAMUX_STREAM (stream))
    punch_yamux_stream_reset (PUNCH_YAMUX_STREAM (stream));
  else
    punch_protocol_close_stream (stream);
}

void
punch_protocol_close_stream (GIOStream *stream)
{
  if (stream != NULL && !g_io_stream_is_closed (stream))
    g_io_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
}

static const guint8 zero_block[PUNCH_PROTOCOL_BLOCK_SIZE];
static guint8 discard_block[PUNCH_PROTOCOL_BLOCK_SIZE];

const guint8 *
punch_protocol_zero_block (void)
{
  return zero_block;
}

guint8 *
punch_protocol_discard_block (void)
{
  return discard_block;
}
