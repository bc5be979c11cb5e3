/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-forward-service.h"

#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "punch-error.h"
#include "punch-framing.h"
#include "punch-yamux-stream.h"

/* One buffer per direction per forwarded stream: the next chunk is read only
 * once the previous one is written, so memory never grows with a slow
 * reader (the Yamux window and the socket buffers do the rest). A buffer
 * starts at CHUNK_MIN and doubles up to CHUNK_MAX while reads fill it: a
 * bulk transfer then takes a quarter of the reads, writes and main-loop
 * rounds (docs/BENCHMARKS.md, "Port forwarding"), an interactive one
 * stays small. */
#define CHUNK_MIN (64 * 1024)
#define CHUNK_MAX (256 * 1024)
#define HANDSHAKE_TIMEOUT_MS 10000
#define TARGET_CONNECT_TIMEOUT_S 10

typedef struct
{
  char       *name;
  char       *target;
  GHashTable *allowed;  /* PunchPeerId set */
} Exposed;

struct _PunchForwardService
{
  GObject     parent_instance;

  PunchHost  *host;
  GHashTable *exposed;     /* name → Exposed */
  GHashTable *per_peer;    /* peer id string → GUINT count of inbound streams */
  guint       max_per_peer;
  guint       direct_timeout_ms;
  guint       active;
  gboolean    serving;     /* our stream handler is registered */
  GHashTable *live;        /* Fwd set: the streams open now, for their live byte counts */
};

G_DEFINE_FINAL_TYPE (PunchForwardService, punch_forward_service, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_HOST,
  PROP_MAX_STREAMS_PER_PEER,
  PROP_DIRECT_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_EXPOSED,
  SIGNAL_DENIED,
  SIGNAL_STREAM_OPENED,
  SIGNAL_STREAM_FINISHED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef struct
{
  PunchForwardService *self;
  GTask               *task;        /* outbound only */
  PunchPeerId         *peer_id;
  char                *peer;
  char                *service;
  gboolean             inbound;
  gboolean             counted;     /* holds a per-peer slot */
  PunchConnection     *connection;
  gboolean             holding;     /* punch_connection_hold on it */
  GIOStream           *stream;
  GSocketConnection   *local;
  GCancellable        *cancellable;
  gulong               parent_cancel_id;
  GCancellable        *parent_cancellable;
  guint                timeout_id;
  gulong               opened_id;
  gint64               started;
  guint8              *out_buf;     /* local → peer */
  guint8              *in_buf;      /* peer → local */
  gsize                out_size;
  gsize                in_size;
  gsize                in_chunk;    /* the chunk being written to local */
  guint64              bytes_out;
  guint64              bytes_in;
  guint                pumps;
  gboolean             finished;
  gboolean             aborted;     /* reset both ends, not a clean close */
  GError              *error;
  const char          *outcome;
} Fwd;

static void
exposed_free (gpointer data)
{
  Exposed *e = data;

  g_free (e->name);
  g_free (e->target);
  g_hash_table_unref (e->allowed);
  g_free (e);
}

static void
fwd_free (Fwd *fwd)
{
  g_clear_handle_id (&fwd->timeout_id, g_source_remove);
  if (fwd->opened_id != 0)
    g_clear_signal_handler (&fwd->opened_id, fwd->self->host);
  if (fwd->parent_cancellable != NULL)
    g_cancellable_disconnect (fwd->parent_cancellable, fwd->parent_cancel_id);
  g_clear_object (&fwd->parent_cancellable);
  if (fwd->counted)
    {
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (fwd->self->per_peer, fwd->peer));

      if (n <= 1)
        g_hash_table_remove (fwd->self->per_peer, fwd->peer);
      else
        g_hash_table_insert (fwd->self->per_peer, g_strdup (fwd->peer), GUINT_TO_POINTER (n - 1));
    }
  g_clear_pointer (&fwd->peer_id, punch_peer_id_unref);
  g_free (fwd->peer);
  g_free (fwd->service);
  if (fwd->holding)
    punch_connection_release (fwd->connection);
  g_clear_object (&fwd->connection);
  g_clear_object (&fwd->stream);
  g_clear_object (&fwd->local);
  g_clear_object (&fwd->cancellable);
  g_clear_object (&fwd->task);
  g_free (fwd->out_buf);
  g_free (fwd->in_buf);
  g_clear_error (&fwd->error);
  g_clear_object (&fwd->self);
  g_free (fwd);
}

static Fwd *
fwd_new (PunchForwardService *self,
         gboolean             inbound)
{
  Fwd *fwd = g_new0 (Fwd, 1);

  fwd->self = g_object_ref (self);
  fwd->inbound = inbound;
  fwd->cancellable = g_cancellable_new ();
  fwd->started = g_get_monotonic_time ();
  fwd->outcome = "error";
  self->active++;
  g_hash_table_add (self->live, fwd);
  return fwd;
}

static void
abort_local (GSocketConnection *local)
{
  GSocket *socket;
  struct linger lin = { 1, 0 };

  if (local == NULL)
    return;
  socket = g_socket_connection_get_socket (local);
  /* Linger 0: the close sends RST, so the TCP peer sees the reset the
   * stream had. */
  if (!g_socket_is_closed (socket))
    setsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
  g_io_stream_close (G_IO_STREAM (local), NULL, NULL);
}

static void
close_local (GSocketConnection *local)
{
  if (local != NULL)
    g_io_stream_close (G_IO_STREAM (local), NULL, NULL);
}

static void
abort_stream (GIOStream *stream)
{
  if (stream == NULL)
    return;
  if (PUNCH_IS_YAMUX_STREAM (stream))
    punch_yamux_stream_reset (PUNCH_YAMUX_STREAM (stream));
  else if (!g_io_stream_is_closed (stream))
    g_io_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
}

/* Ends a forward: emits "stream-finished", completes the task, frees. */
static void
fwd_finish (Fwd *fwd)
{
  PunchForwardService *self = fwd->self;
  gdouble seconds = (g_get_monotonic_time () - fwd->started) / (gdouble) G_USEC_PER_SEC;

  g_assert (!fwd->finished);
  fwd->finished = TRUE;
  g_clear_handle_id (&fwd->timeout_id, g_source_remove);
  if (fwd->aborted)
    {
      abort_stream (fwd->stream);
      abort_local (fwd->local);
    }
  else
    {
      if (fwd->stream != NULL && !g_io_stream_is_closed (fwd->stream))
        g_io_stream_close_async (fwd->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      close_local (fwd->local);
    }
  self->active--;
  g_hash_table_remove (self->live, fwd);
  g_debug ("forward %s %s %s: %s, %" G_GUINT64_FORMAT " out, %" G_GUINT64_FORMAT " in",
           fwd->inbound ? "from" : "to", fwd->peer ? fwd->peer : "?",
           fwd->service ? fwd->service : "?", fwd->outcome, fwd->bytes_out, fwd->bytes_in);
  g_signal_emit (self, signals[SIGNAL_STREAM_FINISHED], 0,
                 fwd->peer, fwd->service, fwd->inbound, fwd->bytes_out, fwd->bytes_in,
                 seconds, fwd->outcome, fwd->error);
  if (fwd->task != NULL)
    {
      GTask *task = g_steal_pointer (&fwd->task);
      guint64 *counts = g_new (guint64, 2);

      counts[0] = fwd->bytes_out;
      counts[1] = fwd->bytes_in;
      g_task_set_task_data (task, counts, g_free);
      if (fwd->error != NULL)
        g_task_return_error (task, g_error_copy (fwd->error));
      else
        g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
  fwd_free (fwd);
}

/* Records the first failure and stops both directions. */
static void
fwd_fail (Fwd        *fwd,
          GError     *error,
          const char *outcome)
{
  if (fwd->error == NULL)
    {
      fwd->error = error;
      fwd->outcome = outcome;
    }
  else
    g_error_free (error);
  fwd->aborted = TRUE;
  g_cancellable_cancel (fwd->cancellable);
}

/* --- the splice --------------------------------------------------------- */

static void pump_out_read (Fwd *fwd);
static void pump_in_read (Fwd *fwd);

/* A read that filled the buffer (and was written): a bulk transfer, read
 * more at once next time. */
static void
maybe_grow (guint8 **buf,
            gsize   *size,
            gsize    filled)
{
  if (filled < *size || *size >= CHUNK_MAX)
    return;
  *size *= 2;
  g_free (*buf);
  *buf = g_malloc (*size);
}

static void
pump_done (Fwd *fwd)
{
  g_assert (fwd->pumps > 0);
  if (--fwd->pumps > 0)
    return;
  if (fwd->error == NULL)
    fwd->outcome = "ok";
  fwd_finish (fwd);
}

/* Local → peer. After each chunk went into the stream, the local socket is
 * read at once if it has data: a main-loop round (a GTask) only when it has
 * none. */

static void on_out_written (GObject *source, GAsyncResult *result, gpointer user_data);

static void
on_out_fin (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Fwd *fwd = user_data;
  GError *error = NULL;

  if (!g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, &error))
    fwd_fail (fwd, error, "reset");
  pump_done (fwd);
}

/* @n bytes (or EOF, or @error) came from the local connection. */
static void
out_got (Fwd    *fwd,
         gssize  n,
         GError *error)
{
  if (n < 0)
    {
      fwd_fail (fwd, error, "reset");
      pump_done (fwd);
      return;
    }
  if (n == 0)
    {
      /* The local client half-closed: FIN on the stream. */
      g_output_stream_close_async (g_io_stream_get_output_stream (fwd->stream),
                                   G_PRIORITY_DEFAULT, fwd->cancellable, on_out_fin, fwd);
      return;
    }
  g_output_stream_write_all_async (g_io_stream_get_output_stream (fwd->stream),
                                   fwd->out_buf, n, G_PRIORITY_DEFAULT, fwd->cancellable,
                                   on_out_written, fwd);
}

static void
on_out_read (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  GError *error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  out_got (user_data, n, error);
}

static void
pump_out_read (Fwd *fwd)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (fwd->local)),
                             fwd->out_buf, fwd->out_size, G_PRIORITY_DEFAULT, fwd->cancellable,
                             on_out_read, fwd);
}

static void
on_out_written (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Fwd *fwd = user_data;
  GError *error = NULL;
  gsize written = 0;
  GInputStream *in;
  gssize n;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &written, &error))
    {
      fwd_fail (fwd, error, "reset");
      pump_done (fwd);
      return;
    }
  fwd->bytes_out += written;
  maybe_grow (&fwd->out_buf, &fwd->out_size, written);
  in = g_io_stream_get_input_stream (G_IO_STREAM (fwd->local));
  if (!G_IS_POLLABLE_INPUT_STREAM (in))
    {
      pump_out_read (fwd);
      return;
    }
  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (in), fwd->out_buf,
                                                fwd->out_size, fwd->cancellable, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    {
      g_clear_error (&error);
      pump_out_read (fwd);
      return;
    }
  out_got (fwd, n, error);
}

/* Peer → local. Local writes seldom block: each chunk is written at once,
 * only what did not fit waits (a GTask), and the next read of the stream
 * is pending right after, which lets Yamux fill our buffer in place. */

static void
in_chunk_done (Fwd *fwd)
{
  maybe_grow (&fwd->in_buf, &fwd->in_size, fwd->in_chunk);
  pump_in_read (fwd);
}

static void
on_in_written (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Fwd *fwd = user_data;
  GError *error = NULL;
  gsize written = 0;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &written, &error))
    {
      fwd_fail (fwd, error, "reset");
      pump_done (fwd);
      return;
    }
  fwd->bytes_in += written;
  in_chunk_done (fwd);
}

static void
on_in_read (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Fwd *fwd = user_data;
  GError *error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  GOutputStream *out;
  gssize w = 0;

  if (n < 0)
    {
      fwd_fail (fwd, error, "reset");
      pump_done (fwd);
      return;
    }
  if (n == 0)
    {
      /* The peer half-closed: half-close the TCP connection too. */
      g_socket_shutdown (g_socket_connection_get_socket (fwd->local), FALSE, TRUE, NULL);
      pump_done (fwd);
      return;
    }
  fwd->in_chunk = n;
  out = g_io_stream_get_output_stream (G_IO_STREAM (fwd->local));
  if (G_IS_POLLABLE_OUTPUT_STREAM (out))
    {
      w = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (out), fwd->in_buf, n,
                                                      fwd->cancellable, &error);
      if (w < 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          fwd_fail (fwd, error, "reset");
          pump_done (fwd);
          return;
        }
      if (w < 0)
        {
          g_clear_error (&error);
          w = 0;
        }
      fwd->bytes_in += w;
      if (w == n)
        {
          in_chunk_done (fwd);
          return;
        }
    }
  g_output_stream_write_all_async (out, fwd->in_buf + w, n - w, G_PRIORITY_DEFAULT, fwd->cancellable,
                                   on_in_written, fwd);
}

static void
pump_in_read (Fwd *fwd)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (fwd->stream),
                             fwd->in_buf, fwd->in_size, G_PRIORITY_DEFAULT, fwd->cancellable,
                             on_in_read, fwd);
}

static void
fwd_splice (Fwd *fwd)
{
  g_clear_handle_id (&fwd->timeout_id, g_source_remove);
  /* The path is fixed from here: the stream lives on this connection. */
  g_signal_emit (fwd->self, signals[SIGNAL_STREAM_OPENED], 0,
                 fwd->peer, fwd->service, fwd->inbound, fwd->connection);
  /* A hole punch that replaces a relayed connection leaves it open until
   * this TCP connection ends: new ones take the direct path. */
  punch_connection_hold (fwd->connection);
  fwd->holding = TRUE;
  /* Bytes leave as they came: no Nagle delay on top of the peer's (an
   * interactive session over the forward would otherwise wait for ACKs). */
  g_socket_set_option (g_socket_connection_get_socket (fwd->local), IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  fwd->out_size = fwd->in_size = CHUNK_MIN;
  fwd->out_buf = g_malloc (CHUNK_MIN);
  fwd->in_buf = g_malloc (CHUNK_MIN);
  fwd->pumps = 2;
  pump_out_read (fwd);
  pump_in_read (fwd);
}

static gboolean
on_handshake_timeout (gpointer user_data)
{
  Fwd *fwd = user_data;

  fwd->timeout_id = 0;
  g_cancellable_cancel (fwd->cancellable);
  return G_SOURCE_REMOVE;
}

/* --- the exposing side ----------------------------------------------------- */

static void
on_refusal_written (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Fwd *fwd = user_data;

  /* The refusal is delivered (or not); either way the stream ends cleanly. */
  punch_framing_write_finish (G_OUTPUT_STREAM (source), result, NULL);
  if (fwd->stream != NULL && !g_io_stream_is_closed (fwd->stream))
    g_io_stream_close_async (fwd->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_clear_object (&fwd->stream);
  fwd_finish (fwd);
}

static void
refuse (Fwd               *fwd,
        PunchForwardStatus status,
        const char        *reason)
{
  g_autoptr (GBytes) response = punch_forward_response_encode (status, reason);

  fwd->outcome = punch_forward_status_to_string (status);
  fwd->error = g_error_new_literal (PUNCH_FORWARD_ERROR, status, reason);
  if (status != PUNCH_FORWARD_STATUS_TARGET_REFUSED)
    g_signal_emit (fwd->self, signals[SIGNAL_DENIED], 0, fwd->peer, fwd->service, fwd->outcome);
  punch_framing_write_async (g_io_stream_get_output_stream (fwd->stream), response,
                             fwd->cancellable, on_refusal_written, fwd);
}

static void
on_ok_written (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Fwd *fwd = user_data;
  GError *error = NULL;

  if (!punch_framing_write_finish (G_OUTPUT_STREAM (source), result, &error))
    {
      fwd_fail (fwd, error, "reset");
      fwd_finish (fwd);
      return;
    }
  fwd_splice (fwd);
}

static void
on_target_connected (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Fwd *fwd = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) ok = NULL;
  g_autofree char *reason = NULL;

  fwd->local = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), result, &error);
  if (fwd->local == NULL)
    {
      if (g_cancellable_is_cancelled (fwd->cancellable))
        {
          fwd_fail (fwd, g_steal_pointer (&error), "error");
          fwd_finish (fwd);
          return;
        }
      reason = g_strdup_printf ("target refused: %s", error->message);
      refuse (fwd, PUNCH_FORWARD_STATUS_TARGET_REFUSED, reason);
      return;
    }
  /* The client's connect timeout stays on the socket as an I/O timeout:
   * an idle forwarded connection (an SSH session) must not end after it. */
  g_socket_set_timeout (g_socket_connection_get_socket (fwd->local), 0);
  ok = punch_forward_response_encode (PUNCH_FORWARD_STATUS_OK, NULL);
  punch_framing_write_async (g_io_stream_get_output_stream (fwd->stream), ok,
                             fwd->cancellable, on_ok_written, fwd);
}

static void
on_request_read (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Fwd *fwd = user_data;
  PunchForwardService *self = fwd->self;
  GError *error = NULL;
  g_autoptr (GBytes) request = punch_framing_read_finish (G_INPUT_STREAM (source), result, &error);
  g_autoptr (GSocketClient) client = NULL;
  Exposed *e;
  guint n;

  if (request == NULL)
    {
      fwd_fail (fwd, error, "error");
      fwd_finish (fwd);
      return;
    }
  fwd->service = punch_forward_request_parse (g_bytes_get_data (request, NULL),
                                              g_bytes_get_size (request), &error);
  if (fwd->service == NULL)
    {
      fwd_fail (fwd, error, "error");
      fwd_finish (fwd);
      return;
    }
  e = g_hash_table_lookup (self->exposed, fwd->service);
  if (e == NULL)
    {
      refuse (fwd, PUNCH_FORWARD_STATUS_UNKNOWN_SERVICE, "unknown service");
      return;
    }
  if (!g_hash_table_contains (e->allowed, fwd->peer_id))
    {
      refuse (fwd, PUNCH_FORWARD_STATUS_NOT_ALLOWED, "not allowed");
      return;
    }
  n = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_peer, fwd->peer));
  if (n >= self->max_per_peer)
    {
      refuse (fwd, PUNCH_FORWARD_STATUS_LIMIT, "too many forwarded streams from this peer");
      return;
    }
  g_hash_table_insert (self->per_peer, g_strdup (fwd->peer), GUINT_TO_POINTER (n + 1));
  fwd->counted = TRUE;

  client = g_socket_client_new ();
  g_socket_client_set_timeout (client, TARGET_CONNECT_TIMEOUT_S);
  g_socket_client_connect_to_host_async (client, e->target, 0, fwd->cancellable,
                                         on_target_connected, fwd);
}

static void
handle_stream (PunchHost       *host,
               PunchConnection *connection,
               GIOStream       *stream,
               const char      *protocol,
               gpointer         user_data)
{
  PunchForwardService *self = user_data;
  Fwd *fwd = fwd_new (self, TRUE);

  fwd->connection = g_object_ref (connection);
  fwd->stream = g_object_ref (stream);
  fwd->peer_id = punch_peer_id_ref (punch_connection_get_peer_id (connection));
  fwd->peer = g_strdup (punch_peer_id_to_string (fwd->peer_id));
  /* A peer that opens a stream and never asks must not hold it forever. */
  fwd->timeout_id = g_timeout_add (HANDSHAKE_TIMEOUT_MS, on_handshake_timeout, fwd);
  punch_framing_read_async (g_io_stream_get_input_stream (stream), PUNCH_FORWARD_MAX_REQUEST,
                            fwd->cancellable, on_request_read, fwd);
}

/* --- the opening side ----------------------------------------------------- */

static void
on_response_read (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Fwd *fwd = user_data;
  GError *error = NULL;
  g_autoptr (GBytes) response = punch_framing_read_finish (G_INPUT_STREAM (source), result, &error);
  g_autofree char *reason = NULL;
  PunchForwardStatus status;

  if (response == NULL
      || !punch_forward_response_parse (g_bytes_get_data (response, NULL),
                                        g_bytes_get_size (response), &status, &reason, &error))
    {
      fwd_fail (fwd, error, "error");
      fwd_finish (fwd);
      return;
    }
  if (status != PUNCH_FORWARD_STATUS_OK)
    {
      fwd->outcome = punch_forward_status_to_string (status);
      fwd->error = g_error_new (PUNCH_FORWARD_ERROR, status, "%s refused %s: %s",
                                fwd->peer, fwd->service,
                                reason != NULL ? reason : fwd->outcome);
      /* A clean end of the stream; the local client sees its connection close. */
      if (!g_io_stream_is_closed (fwd->stream))
        g_io_stream_close_async (fwd->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      g_clear_object (&fwd->stream);
      fwd_finish (fwd);
      return;
    }
  fwd_splice (fwd);
}

static void
on_request_written (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Fwd *fwd = user_data;
  GError *error = NULL;

  if (!punch_framing_write_finish (G_OUTPUT_STREAM (source), result, &error))
    {
      fwd_fail (fwd, error, "error");
      fwd_finish (fwd);
      return;
    }
  punch_framing_read_async (g_io_stream_get_input_stream (fwd->stream), PUNCH_FORWARD_MAX_RESPONSE,
                            fwd->cancellable, on_response_read, fwd);
}

static void
on_stream_opened (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Fwd *fwd = user_data;
  GError *error = NULL;
  g_autoptr (GBytes) request = NULL;

  fwd->stream = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result, NULL, &error);
  if (fwd->stream == NULL)
    {
      fwd_fail (fwd, error, "error");
      fwd_finish (fwd);
      return;
    }
  request = punch_forward_request_encode (fwd->service);
  punch_framing_write_async (g_io_stream_get_output_stream (fwd->stream), request,
                             fwd->cancellable, on_request_written, fwd);
}

static void
open_on (Fwd             *fwd,
         PunchConnection *connection)
{
  const char *protocols[] = { PUNCH_FORWARD_PROTOCOL, NULL };

  if (fwd->opened_id != 0)
    g_clear_signal_handler (&fwd->opened_id, fwd->self->host);
  g_clear_handle_id (&fwd->timeout_id, g_source_remove);
  g_set_object (&fwd->connection, connection);
  fwd->timeout_id = g_timeout_add (HANDSHAKE_TIMEOUT_MS, on_handshake_timeout, fwd);
  punch_connection_open_stream_async (connection, protocols, fwd->cancellable,
                                      on_stream_opened, fwd);
}

static void
on_connection_opened (PunchHost       *host,
                      PunchConnection *connection,
                      gpointer         user_data)
{
  Fwd *fwd = user_data;

  if (punch_connection_get_limited (connection)
      || !punch_peer_id_equal (punch_connection_get_peer_id (connection), fwd->peer_id))
    return;
  open_on (fwd, connection);
}

static gboolean
on_direct_timeout (gpointer user_data)
{
  Fwd *fwd = user_data;

  fwd->timeout_id = 0;
  g_clear_signal_handler (&fwd->opened_id, fwd->self->host);
  fwd->outcome = punch_forward_status_to_string (PUNCH_FORWARD_STATUS_NO_DIRECT_PATH);
  fwd->error = g_error_new (PUNCH_FORWARD_ERROR, PUNCH_FORWARD_STATUS_NO_DIRECT_PATH,
                            "The only connection to %s is a limited relayed one and no "
                            "direct connection came up within %u ms",
                            fwd->peer, fwd->self->direct_timeout_ms);
  fwd_finish (fwd);
  return G_SOURCE_REMOVE;
}

static void
on_parent_cancelled (GCancellable *parent,
                     gpointer      user_data)
{
  Fwd *fwd = user_data;

  g_cancellable_cancel (fwd->cancellable);
}

static gboolean
on_cancelled_waiting (gpointer user_data)
{
  Fwd *fwd = user_data;

  fwd->timeout_id = 0;
  g_clear_signal_handler (&fwd->opened_id, fwd->self->host);
  fwd->error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Forward cancelled");
  fwd_finish (fwd);
  return G_SOURCE_REMOVE;
}

static void
on_cancelled_while_waiting (GCancellable *cancellable,
                            gpointer      user_data)
{
  Fwd *fwd = user_data;

  /* Only while waiting for a direct connection is nothing pending that
   * would notice the cancellation itself. */
  if (fwd->opened_id != 0)
    {
      g_clear_handle_id (&fwd->timeout_id, g_source_remove);
      fwd->timeout_id = g_idle_add (on_cancelled_waiting, fwd);
    }
}

void
punch_forward_service_forward_async (PunchForwardService *self,
                                     PunchPeerId         *peer_id,
                                     const char          *service,
                                     GSocketConnection   *local,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  Fwd *fwd;
  PunchConnection *connection;

  g_return_if_fail (PUNCH_IS_FORWARD_SERVICE (self));
  g_return_if_fail (peer_id != NULL);
  g_return_if_fail (G_IS_SOCKET_CONNECTION (local));

  fwd = fwd_new (self, FALSE);
  fwd->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (fwd->task, punch_forward_service_forward_async);
  fwd->peer_id = punch_peer_id_ref (peer_id);
  fwd->peer = g_strdup (punch_peer_id_to_string (peer_id));
  fwd->service = g_strdup (service);
  fwd->local = g_object_ref (local);
  if (cancellable != NULL)
    {
      fwd->parent_cancellable = g_object_ref (cancellable);
      fwd->parent_cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_parent_cancelled),
                                                     fwd, NULL);
    }

  if (service == NULL || !punch_forward_name_is_valid (service, strlen (service)))
    {
      fwd->error = g_error_new (PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                                "“%s” is not a valid service name", service ? service : "");
      fwd_finish (fwd);
      return;
    }
  connection = punch_host_get_connection (self->host, peer_id);
  if (connection == NULL)
    {
      fwd->error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                                "No connection to %s", fwd->peer);
      fwd_finish (fwd);
      return;
    }
  if (!punch_connection_get_limited (connection))
    {
      open_on (fwd, connection);
      return;
    }
  /* A limited relay would cut the transfer short: wait for the direct path
   * (DCUtR or a dial) instead. */
  g_debug ("forward to %s waits for a direct connection", fwd->peer);
  fwd->opened_id = g_signal_connect (self->host, "connection-opened",
                                     G_CALLBACK (on_connection_opened), fwd);
  fwd->timeout_id = g_timeout_add (self->direct_timeout_ms, on_direct_timeout, fwd);
  g_cancellable_connect (fwd->cancellable, G_CALLBACK (on_cancelled_while_waiting), fwd, NULL);
}

gboolean
punch_forward_service_forward_finish (PunchForwardService *self,
                                      GAsyncResult        *result,
                                      guint64             *bytes_out,
                                      guint64             *bytes_in,
                                      GError             **error)
{
  guint64 *counts;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  counts = g_task_get_task_data (G_TASK (result));
  if (bytes_out != NULL)
    *bytes_out = counts != NULL ? counts[0] : 0;
  if (bytes_in != NULL)
    *bytes_in = counts != NULL ? counts[1] : 0;
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --- services ------------------------------------------------------------- */

/**
 * punch_forward_service_expose:
 * @self: the service
 * @name: the service name
 * @target: "HOST:PORT" the exposing side connects to for each stream
 * @error: return location for a #GError
 *
 * Returns: TRUE when exposed; nobody may use it until allowed
 */
gboolean
punch_forward_service_expose (PunchForwardService *self,
                              const char          *name,
                              const char          *target,
                              GError             **error)
{
  g_autoptr (GSocketConnectable) connectable = NULL;
  Exposed *e;

  g_return_val_if_fail (PUNCH_IS_FORWARD_SERVICE (self), FALSE);
  if (name == NULL || !punch_forward_name_is_valid (name, strlen (name)))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "“%s” is not a valid service name (1 to 64 characters of "
                   "A-Z a-z 0-9 . _ -)", name ? name : "");
      return FALSE;
    }
  connectable = g_network_address_parse (target != NULL ? target : "", 0, error);
  if (connectable == NULL)
    return FALSE;
  if (g_network_address_get_port (G_NETWORK_ADDRESS (connectable)) == 0)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "Target “%s” has no port", target);
      return FALSE;
    }
  if (!self->serving)
    {
      /* Only a peer that exposes something speaks the protocol inbound;
       * not allowed on limited connections: the opener waits for a direct one. */
      punch_host_set_stream_handler (self->host, PUNCH_FORWARD_PROTOCOL, handle_stream, self, NULL);
      self->serving = TRUE;
    }
  e = g_hash_table_lookup (self->exposed, name);
  if (e == NULL)
    {
      e = g_new0 (Exposed, 1);
      e->name = g_strdup (name);
      e->allowed = g_hash_table_new_full (punch_peer_id_hash, punch_peer_id_equal,
                                          (GDestroyNotify) punch_peer_id_unref, NULL);
      g_hash_table_insert (self->exposed, e->name, e);
    }
  g_free (e->target);
  e->target = g_strdup (target);
  g_signal_emit (self, signals[SIGNAL_EXPOSED], 0, name, target);
  return TRUE;
}

void
punch_forward_service_unexpose (PunchForwardService *self,
                                const char          *name)
{
  g_return_if_fail (PUNCH_IS_FORWARD_SERVICE (self));
  g_hash_table_remove (self->exposed, name);
}

gboolean
punch_forward_service_allow (PunchForwardService *self,
                             const char          *name,
                             PunchPeerId         *peer_id,
                             GError             **error)
{
  Exposed *e;

  g_return_val_if_fail (PUNCH_IS_FORWARD_SERVICE (self), FALSE);
  g_return_val_if_fail (peer_id != NULL, FALSE);
  e = g_hash_table_lookup (self->exposed, name);
  if (e == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "No service “%s” is exposed", name);
      return FALSE;
    }
  g_hash_table_add (e->allowed, punch_peer_id_ref (peer_id));
  return TRUE;
}

void
punch_forward_service_disallow (PunchForwardService *self,
                                const char          *name,
                                PunchPeerId         *peer_id)
{
  Exposed *e;

  g_return_if_fail (PUNCH_IS_FORWARD_SERVICE (self));
  e = g_hash_table_lookup (self->exposed, name);
  if (e != NULL)
    g_hash_table_remove (e->allowed, peer_id);
}

static gint
compare_names (gconstpointer a,
               gconstpointer b,
               gpointer      user_data)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

GStrv
punch_forward_service_list_exposed (PunchForwardService *self)
{
  g_autofree const char **names = NULL;
  guint n;

  g_return_val_if_fail (PUNCH_IS_FORWARD_SERVICE (self), NULL);
  names = (const char **) g_hash_table_get_keys_as_array (self->exposed, &n);
  g_qsort_with_data (names, n, sizeof (char *), compare_names, NULL);
  return g_strdupv ((char **) names);
}

PunchHost *
punch_forward_service_get_host (PunchForwardService *self)
{
  g_return_val_if_fail (PUNCH_IS_FORWARD_SERVICE (self), NULL);
  return self->host;
}

guint
punch_forward_service_get_active (PunchForwardService *self)
{
  g_return_val_if_fail (PUNCH_IS_FORWARD_SERVICE (self), 0);
  return self->active;
}

/**
 * punch_forward_service_list_allowed:
 * @self: the service
 * @peer_id: a peer
 *
 * Returns: (transfer full): the exposed names @peer_id may use, sorted
 */
GStrv
punch_forward_service_list_allowed (PunchForwardService *self,
                                    PunchPeerId         *peer_id)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) names = NULL;

  g_return_val_if_fail (PUNCH_IS_FORWARD_SERVICE (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);
  names = punch_forward_service_list_exposed (self);
  for (guint i = 0; names[i] != NULL; i++)
    {
      Exposed *e = g_hash_table_lookup (self->exposed, names[i]);

      if (g_hash_table_contains (e->allowed, peer_id))
        g_strv_builder_add (builder, names[i]);
    }
  return g_strv_builder_end (builder);
}

/**
 * punch_forward_service_get_live:
 * @self: the service
 * @peer_id: (nullable): only streams with this peer (a peer ID string)
 * @service: (nullable): only streams of this service
 * @inbound: inbound streams (to our services) or outbound ones
 * @bytes_out: (out) (optional): bytes sent to the peer so far by those streams
 * @bytes_in: (out) (optional): bytes received from the peer so far
 *
 * The byte counts of the forwarded streams open right now; a stream's final
 * counts go to "stream-finished" instead once it ends (it is no longer
 * counted here by then), so a running total is the sum of both.
 *
 * Returns: how many such streams are open
 */
guint
punch_forward_service_get_live (PunchForwardService *self,
                                const char          *peer_id,
                                const char          *service,
                                gboolean             inbound,
                                guint64             *bytes_out,
                                guint64             *bytes_in)
{
  GHashTableIter iter;
  gpointer key;
  guint64 out = 0, in = 0;
  guint n = 0;

  g_return_val_if_fail (PUNCH_IS_FORWARD_SERVICE (self), 0);
  g_hash_table_iter_init (&iter, self->live);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      Fwd *fwd = key;

      if (!fwd->inbound != !inbound
          || (peer_id != NULL && g_strcmp0 (fwd->peer, peer_id) != 0)
          || (service != NULL && g_strcmp0 (fwd->service, service) != 0))
        continue;
      n++;
      out += fwd->bytes_out;
      in += fwd->bytes_in;
    }
  if (bytes_out != NULL)
    *bytes_out = out;
  if (bytes_in != NULL)
    *bytes_in = in;
  return n;
}

void
punch_forward_service_set_max_streams_per_peer (PunchForwardService *self,
                                                guint                max)
{
  g_return_if_fail (PUNCH_IS_FORWARD_SERVICE (self));
  if (self->max_per_peer == max)
    return;
  self->max_per_peer = max;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_STREAMS_PER_PEER]);
}

void
punch_forward_service_set_direct_timeout (PunchForwardService *self,
                                          guint                timeout_ms)
{
  g_return_if_fail (PUNCH_IS_FORWARD_SERVICE (self));
  if (self->direct_timeout_ms == timeout_ms)
    return;
  self->direct_timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DIRECT_TIMEOUT]);
}

PunchForwardService *
punch_forward_service_new (PunchHost *host)
{
  g_return_val_if_fail (PUNCH_IS_HOST (host), NULL);
  return g_object_new (PUNCH_TYPE_FORWARD_SERVICE, "host", host, NULL);
}

static void
punch_forward_service_dispose (GObject *object)
{
  PunchForwardService *self = PUNCH_FORWARD_SERVICE (object);

  if (self->host != NULL && self->serving)
    punch_host_remove_stream_handler (self->host, PUNCH_FORWARD_PROTOCOL);
  g_clear_object (&self->host);
  G_OBJECT_CLASS (punch_forward_service_parent_class)->dispose (object);
}

static void
punch_forward_service_finalize (GObject *object)
{
  PunchForwardService *self = PUNCH_FORWARD_SERVICE (object);

  g_hash_table_unref (self->exposed);
  g_hash_table_unref (self->per_peer);
  g_hash_table_unref (self->live);
  G_OBJECT_CLASS (punch_forward_service_parent_class)->finalize (object);
}

static void
punch_forward_service_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  PunchForwardService *self = PUNCH_FORWARD_SERVICE (object);

  switch (prop_id)
    {
    case PROP_HOST:
      g_value_set_object (value, self->host);
      break;
    case PROP_MAX_STREAMS_PER_PEER:
      g_value_set_uint (value, self->max_per_peer);
      break;
    case PROP_DIRECT_TIMEOUT:
      g_value_set_uint (value, self->direct_timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_forward_service_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  PunchForwardService *self = PUNCH_FORWARD_SERVICE (object);

  switch (prop_id)
    {
    case PROP_HOST:
      self->host = g_value_dup_object (value);
      break;
    case PROP_MAX_STREAMS_PER_PEER:
      punch_forward_service_set_max_streams_per_peer (self, g_value_get_uint (value));
      break;
    case PROP_DIRECT_TIMEOUT:
      punch_forward_service_set_direct_timeout (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_forward_service_class_init (PunchForwardServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = punch_forward_service_dispose;
  object_class->finalize = punch_forward_service_finalize;
  object_class->get_property = punch_forward_service_get_property;
  object_class->set_property = punch_forward_service_set_property;

  properties[PROP_HOST] =
    g_param_spec_object ("host", NULL, NULL, PUNCH_TYPE_HOST,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MAX_STREAMS_PER_PEER] =
    g_param_spec_uint ("max-streams-per-peer", NULL, NULL, 1, G_MAXUINT, 128,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_DIRECT_TIMEOUT] =
    g_param_spec_uint ("direct-timeout", NULL, NULL, 0, G_MAXUINT, 30000,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_EXPOSED] =
    g_signal_new ("exposed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_DENIED] =
    g_signal_new ("denied", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_STREAM_OPENED] =
    g_signal_new ("stream-opened", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 4,
                  G_TYPE_STRING, G_TYPE_STRING, G_TYPE_BOOLEAN, PUNCH_TYPE_CONNECTION);
  signals[SIGNAL_STREAM_FINISHED] =
    g_signal_new ("stream-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 8,
                  G_TYPE_STRING, G_TYPE_STRING, G_TYPE_BOOLEAN, G_TYPE_UINT64, G_TYPE_UINT64,
                  G_TYPE_DOUBLE, G_TYPE_STRING, G_TYPE_ERROR);
}

static void
punch_forward_service_init (PunchForwardService *self)
{
  self->exposed = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, exposed_free);
  self->per_peer = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->live = g_hash_table_new (NULL, NULL);
  self->max_per_peer = 128;
  self->direct_timeout_ms = 30000;
}
