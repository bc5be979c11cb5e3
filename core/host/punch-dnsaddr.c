/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-dnsaddr.h"

#include <string.h>

#include "punch-error.h"

typedef struct
{
  GResolver *resolver;
  GBytes    *peer_id;    /* the /p2p the caller asked for, or NULL */
  GPtrArray *results;    /* PunchMultiaddr */
  guint      pending;
  guint      lookups;
  GError    *first_error;
} Resolve;

static void
resolve_free (Resolve *r)
{
  g_clear_object (&r->resolver);
  g_clear_pointer (&r->peer_id, g_bytes_unref);
  g_clear_pointer (&r->results, g_ptr_array_unref);
  g_clear_error (&r->first_error);
  g_free (r);
}

typedef struct
{
  GTask *task;
  guint  depth;
} Lookup;

static void lookup_start (GTask *task, const char *host, guint depth);

static void
lookup_finished (GTask *task)
{
  Resolve *r = g_task_get_task_data (task);

  if (--r->pending > 0)
    return;
  if (r->results->len > 0)
    g_task_return_pointer (task, g_ptr_array_ref (r->results), (GDestroyNotify) g_ptr_array_unref);
  else if (r->first_error != NULL)
    g_task_return_error (task, g_steal_pointer (&r->first_error));
  else
    g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_NO_ADDRESSES,
                             "no dnsaddr records%s", r->peer_id ? " for that peer" : "");
  g_object_unref (task);
}

static gboolean
peer_matches (Resolve *r, PunchMultiaddr *ma)
{
  g_autoptr (GBytes) id = NULL;

  if (r->peer_id == NULL)
    return TRUE;
  id = punch_multiaddr_get_peer_id_bytes (ma);
  return id != NULL && g_bytes_equal (id, r->peer_id);
}

static void
on_records (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Lookup *lookup = user_data;
  GTask *task = lookup->task;
  Resolve *r = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  GList *records = g_resolver_lookup_records_finish (G_RESOLVER (source), result, &error);

  if (error != NULL && r->first_error == NULL)
    r->first_error = g_steal_pointer (&error);

  for (GList *l = records; l != NULL; l = l->next)
    {
      g_autofree const char **strings = NULL;

      g_variant_get (l->data, "(^a&s)", &strings);
      for (guint i = 0; strings != NULL && strings[i] != NULL; i++)
        {
          g_autoptr (GError) parse_error = NULL;
          g_autoptr (PunchMultiaddr) ma = NULL;
          PunchMultiaddrComponent first;

          if (!g_str_has_prefix (strings[i], "dnsaddr="))
            continue;
          ma = punch_multiaddr_new_from_string (strings[i] + strlen ("dnsaddr="), &parse_error);
          if (ma == NULL)
            {
              g_debug ("dnsaddr: skipping a record that does not parse: %s", parse_error->message);
              continue;
            }
          if (!peer_matches (r, ma) || r->results->len >= PUNCH_DNSADDR_MAX_RESULTS)
            continue;
          punch_multiaddr_get_component (ma, 0, &first);
          if (first.code == PUNCH_PROTO_DNSADDR)
            {
              g_autofree char *host = g_strndup ((const char *) first.value, first.value_len);

              if (lookup->depth + 1 < PUNCH_DNSADDR_MAX_DEPTH)
                lookup_start (task, host, lookup->depth + 1);
              else
                g_debug ("dnsaddr: %s nests deeper than %d levels; ignored", host, PUNCH_DNSADDR_MAX_DEPTH);
            }
          else
            g_ptr_array_add (r->results, g_steal_pointer (&ma));
        }
    }
  g_list_free_full (records, (GDestroyNotify) g_variant_unref);
  g_free (lookup);
  lookup_finished (task);
}

static void
lookup_start (GTask *task, const char *host, guint depth)
{
  Resolve *r = g_task_get_task_data (task);
  g_autofree char *name = g_strconcat ("_dnsaddr.", host, NULL);
  Lookup *lookup;

  /* Each branch of the recursion costs one lookup; bound them all. */
  if (r->lookups >= PUNCH_DNSADDR_MAX_RESULTS)
    return;
  r->lookups++;
  r->pending++;
  lookup = g_new0 (Lookup, 1);
  lookup->task = task;
  lookup->depth = depth;
  g_resolver_lookup_records_async (r->resolver, name, G_RESOLVER_RECORD_TXT,
                                   g_task_get_cancellable (task), on_records, lookup);
}

void
punch_dnsaddr_resolve_async (GResolver          *resolver,
                             PunchMultiaddr     *addr,
                             GCancellable       *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer            user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Resolve *r = g_new0 (Resolve, 1);
  PunchMultiaddrComponent first;
  g_autofree char *host = NULL;

  g_task_set_source_tag (task, punch_dnsaddr_resolve_async);
  g_task_set_task_data (task, r, (GDestroyNotify) resolve_free);
  r->resolver = resolver ? g_object_ref (resolver) : g_resolver_get_default ();
  r->results = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  r->peer_id = punch_multiaddr_get_peer_id_bytes (addr);

  if (!punch_multiaddr_get_component (addr, 0, &first) || first.code != PUNCH_PROTO_DNSADDR)
    {
      g_autofree char *text = punch_multiaddr_to_string (addr);

      g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED, "%s does not start with /dnsaddr", text);
      g_object_unref (task);
      return;
    }
  host = g_strndup ((const char *) first.value, first.value_len);

  /* One reference for the recursion as a whole, dropped below; each lookup
   * counts in r->pending. */
  r->pending = 1;
  lookup_start (task, host, 0);
  lookup_finished (task);
}

GPtrArray *
punch_dnsaddr_resolve_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
