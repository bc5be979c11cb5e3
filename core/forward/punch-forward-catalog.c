/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-forward-catalog.h"

#include <string.h>

#include "punch-error.h"
#include "punch-framing.h"

#define CATALOG_VERSION  1
#define FETCH_TIMEOUT_MS 10000

/* --- codec ------------------------------------------------------------------ */

/**
 * punch_forward_catalog_encode:
 * @names: (nullable): service names
 *
 * Returns: (transfer full): the catalogue body
 */
GBytes *
punch_forward_catalog_encode (const char * const *names)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  guint8 version = CATALOG_VERSION;
  guint n = 0;

  g_byte_array_append (out, &version, 1);
  for (guint i = 0; names != NULL && names[i] != NULL && n < PUNCH_FORWARD_CATALOG_MAX_NAMES; i++)
    {
      gsize len = strlen (names[i]);
      guint8 len_byte = (guint8) len;

      if (!punch_forward_name_is_valid (names[i], len))
        continue;
      g_byte_array_append (out, &len_byte, 1);
      g_byte_array_append (out, (const guint8 *) names[i], len);
      n++;
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

GStrv
punch_forward_catalog_parse (const guint8 *data,
                             gsize         len,
                             GError      **error)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  gsize pos = 1;

  if (len == 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "Empty service catalogue");
      return NULL;
    }
  if (len > PUNCH_FORWARD_CATALOG_MAX_MESSAGE)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "Service catalogue of %" G_GSIZE_FORMAT " bytes (at most %u)",
                   len, PUNCH_FORWARD_CATALOG_MAX_MESSAGE);
      return NULL;
    }
  if (data[0] != CATALOG_VERSION)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "Service catalogue version %u (only %u is known)", data[0], CATALOG_VERSION);
      return NULL;
    }
  while (pos < len)
    {
      gsize name_len = data[pos];
      const char *name = (const char *) data + pos + 1;

      if (names->len == PUNCH_FORWARD_CATALOG_MAX_NAMES)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                       "Service catalogue lists more than %u names", PUNCH_FORWARD_CATALOG_MAX_NAMES);
          return NULL;
        }
      if (name_len > len - pos - 1)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                       "Service catalogue: a name of %" G_GSIZE_FORMAT " bytes at offset %"
                       G_GSIZE_FORMAT " runs past the end", name_len, pos);
          return NULL;
        }
      if (!punch_forward_name_is_valid (name, name_len))
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                       "Service catalogue: the name at offset %" G_GSIZE_FORMAT " is not 1 to %u "
                       "characters of A-Z a-z 0-9 . _ -", pos, PUNCH_FORWARD_MAX_NAME);
          return NULL;
        }
      for (guint i = 0; i < names->len; i++)
        if (strlen (g_ptr_array_index (names, i)) == name_len
            && memcmp (g_ptr_array_index (names, i), name, name_len) == 0)
          {
            g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                         "Service catalogue lists “%.*s” twice", (int) name_len, name);
            return NULL;
          }
      g_ptr_array_add (names, g_strndup (name, name_len));
      pos += 1 + name_len;
    }
  g_ptr_array_add (names, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

/* --- the answering side ------------------------------------------------------ */

struct _PunchForwardCatalog
{
  GObject    parent_instance;

  PunchHost *host;
  GWeakRef   service;  /* weak: the service may own us (punch_forward_catalog_serve) */
};

G_DEFINE_FINAL_TYPE (PunchForwardCatalog, punch_forward_catalog, G_TYPE_OBJECT)

static void
on_answer_written (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr (GIOStream) stream = user_data;
  g_autoptr (GError) error = NULL;

  if (!punch_framing_write_finish (G_OUTPUT_STREAM (source), result, &error))
    g_debug ("catalogue answer not delivered: %s", error->message);
  if (!g_io_stream_is_closed (stream))
    g_io_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
}

static void
handle_stream (PunchHost       *host,
               PunchConnection *connection,
               GIOStream       *stream,
               const char      *protocol,
               gpointer         user_data)
{
  PunchForwardCatalog *self = user_data;
  g_autoptr (PunchForwardService) service = g_weak_ref_get (&self->service);
  g_auto (GStrv) names = NULL;
  g_autoptr (GBytes) answer = NULL;

  /* Only what this peer may use: the allow lists decide, not the asking. */
  if (service != NULL)
    names = punch_forward_service_list_allowed (service, punch_connection_get_peer_id (connection));
  answer = punch_forward_catalog_encode ((const char * const *) names);
  punch_framing_write_async (g_io_stream_get_output_stream (stream), answer, NULL,
                             on_answer_written, g_object_ref (stream));
}

/**
 * punch_forward_catalog_new:
 * @service: the service whose allow lists answer
 *
 * Registers the catalogue protocol on @service's host until disposed.
 *
 * Returns: (transfer full): the catalogue
 */
PunchForwardCatalog *
punch_forward_catalog_new (PunchForwardService *service)
{
  PunchForwardCatalog *self;

  g_return_val_if_fail (PUNCH_IS_FORWARD_SERVICE (service), NULL);
  self = g_object_new (PUNCH_TYPE_FORWARD_CATALOG, NULL);
  g_weak_ref_set (&self->service, service);
  g_object_get (service, "host", &self->host, NULL);
  punch_host_set_stream_handler (self->host, PUNCH_FORWARD_CATALOG_PROTOCOL, handle_stream, self, NULL);
  punch_host_allow_on_limited (self->host, PUNCH_FORWARD_CATALOG_PROTOCOL);
  return self;
}

void
punch_forward_catalog_serve (PunchForwardService *service)
{
  g_return_if_fail (PUNCH_IS_FORWARD_SERVICE (service));
  g_object_set_data_full (G_OBJECT (service), "punch-forward-catalog",
                          punch_forward_catalog_new (service), g_object_unref);
}

static void
punch_forward_catalog_dispose (GObject *object)
{
  PunchForwardCatalog *self = PUNCH_FORWARD_CATALOG (object);

  if (self->host != NULL)
    punch_host_remove_stream_handler (self->host, PUNCH_FORWARD_CATALOG_PROTOCOL);
  g_clear_object (&self->host);
  G_OBJECT_CLASS (punch_forward_catalog_parent_class)->dispose (object);
}

static void
punch_forward_catalog_finalize (GObject *object)
{
  PunchForwardCatalog *self = PUNCH_FORWARD_CATALOG (object);

  g_weak_ref_clear (&self->service);
  G_OBJECT_CLASS (punch_forward_catalog_parent_class)->finalize (object);
}

static void
punch_forward_catalog_class_init (PunchForwardCatalogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = punch_forward_catalog_dispose;
  object_class->finalize = punch_forward_catalog_finalize;
}

static void
punch_forward_catalog_init (PunchForwardCatalog *self)
{
  g_weak_ref_init (&self->service, NULL);
}

/* --- the asking side --------------------------------------------------------- */

typedef struct
{
  GIOStream    *stream;
  GCancellable *cancellable;   /* ours: cancelled by the caller's or the timeout */
  GCancellable *parent;
  gulong        parent_id;
  guint         timeout_id;
  gboolean      timed_out;
} Fetch;

static void
fetch_free (gpointer data)
{
  Fetch *fetch = data;

  g_clear_handle_id (&fetch->timeout_id, g_source_remove);
  if (fetch->parent != NULL)
    g_cancellable_disconnect (fetch->parent, fetch->parent_id);
  g_clear_object (&fetch->parent);
  if (fetch->stream != NULL && !g_io_stream_is_closed (fetch->stream))
    g_io_stream_close_async (fetch->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_clear_object (&fetch->stream);
  g_clear_object (&fetch->cancellable);
  g_free (fetch);
}

static void
fetch_fail (GTask  *task,
            GError *error)
{
  Fetch *fetch = g_task_get_task_data (task);

  if (fetch->timed_out && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_error_free (error);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               "The peer did not send its service catalogue within %u s",
                               FETCH_TIMEOUT_MS / 1000);
      return;
    }
  g_task_return_error (task, error);
}

static void
on_catalog_read (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;
  g_autoptr (GBytes) message = punch_framing_read_finish (G_INPUT_STREAM (source), result, &error);
  GStrv names;

  if (message == NULL)
    {
      fetch_fail (task, error);
      return;
    }
  names = punch_forward_catalog_parse (g_bytes_get_data (message, NULL), g_bytes_get_size (message), &error);
  if (names == NULL)
    {
      fetch_fail (task, error);
      return;
    }
  g_task_return_pointer (task, names, (GDestroyNotify) g_strfreev);
}

static void
on_stream_opened (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  Fetch *fetch = g_task_get_task_data (task);
  GError *error = NULL;

  fetch->stream = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result, NULL, &error);
  if (fetch->stream == NULL)
    {
      fetch_fail (task, error);
      return;
    }
  punch_framing_read_async (g_io_stream_get_input_stream (fetch->stream), PUNCH_FORWARD_CATALOG_MAX_MESSAGE,
                            fetch->cancellable, on_catalog_read, g_steal_pointer (&task));
}

static gboolean
on_fetch_timeout (gpointer user_data)
{
  Fetch *fetch = user_data;

  fetch->timeout_id = 0;
  fetch->timed_out = TRUE;
  g_cancellable_cancel (fetch->cancellable);
  return G_SOURCE_REMOVE;
}

static void
on_parent_cancelled (GCancellable *parent,
                     gpointer      user_data)
{
  GCancellable *ours = user_data;

  g_cancellable_cancel (ours);
}

void
punch_forward_catalog_fetch_async (PunchHost          *host,
                                   PunchPeerId        *peer_id,
                                   GCancellable       *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer            user_data)
{
  g_autoptr (GTask) task = NULL;
  const char *protocols[] = { PUNCH_FORWARD_CATALOG_PROTOCOL, NULL };
  PunchConnection *connection;
  Fetch *fetch;

  g_return_if_fail (PUNCH_IS_HOST (host));
  g_return_if_fail (peer_id != NULL);

  task = g_task_new (host, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_forward_catalog_fetch_async);
  fetch = g_new0 (Fetch, 1);
  fetch->cancellable = g_cancellable_new ();
  g_task_set_task_data (task, fetch, fetch_free);
  if (cancellable != NULL)
    {
      fetch->parent = g_object_ref (cancellable);
      fetch->parent_id = g_cancellable_connect (cancellable, G_CALLBACK (on_parent_cancelled),
                                                fetch->cancellable, NULL);
    }
  connection = punch_host_get_connection (host, peer_id);
  if (connection == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                               "No connection to %s", punch_peer_id_to_string (peer_id));
      return;
    }
  /* The asker's side checks the limited-connection allow list too. */
  punch_host_allow_on_limited (host, PUNCH_FORWARD_CATALOG_PROTOCOL);
  fetch->timeout_id = g_timeout_add (FETCH_TIMEOUT_MS, on_fetch_timeout, fetch);
  g_source_set_name_by_id (fetch->timeout_id, "[punchline] catalogue fetch timeout");
  punch_connection_open_stream_async (connection, protocols, fetch->cancellable, on_stream_opened,
                                      g_steal_pointer (&task));
}

GStrv
punch_forward_catalog_fetch_finish (PunchHost    *host,
                                    GAsyncResult *result,
                                    GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, host), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
