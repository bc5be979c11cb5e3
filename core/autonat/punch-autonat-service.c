/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-autonat-service.h"

#include "punch-addr-scope.h"
#include "punch-error.h"
#include "punch-framing.h"
#include "punch-protocols-private.h"

#include <string.h>

/* A server must answer a request within this much more than its dial-back
 * deadline (go's client waits 30 s in all). */
#define REQUEST_SLACK_MS        15000
/* How long a server waits for the DIAL after the stream opened. */
#define SERVER_READ_TIMEOUT_MS  10000
/* The first probe, once connections had time to open and identify (go: 15 s). */
#define BOOT_DELAY_S            15
/* After a network change, let addresses settle before asking again. */
#define SETTLE_DELAY_S          3
/* Servers asked in one probe. */
#define MAX_SERVERS_PER_PROBE   8
/* A dial-back connection stays open this long after it proved the point,
 * so that the requester's identify of it finishes rather than fails. */
#define DIALBACK_LINGER_MS      2000
/* Observations kept for the mapping classifier. */
#define MAX_OBSERVATIONS        64
/* An OK counts once its dial-back reached us; the dial-back connection may
 * finish its handshake a little after the answer arrives. */
#define DIALBACK_GRACE_MS       1000
/* Inbound connections remembered as possible dial-backs. */
#define MAX_INBOUND_SEEN        32

G_DEFINE_ENUM_TYPE (PunchReachability, punch_reachability,
                    G_DEFINE_ENUM_VALUE (PUNCH_REACHABILITY_UNKNOWN, "unknown"),
                    G_DEFINE_ENUM_VALUE (PUNCH_REACHABILITY_PUBLIC, "public"),
                    G_DEFINE_ENUM_VALUE (PUNCH_REACHABILITY_PRIVATE, "private"))

const char *
punch_reachability_to_string (PunchReachability reachability)
{
  switch (reachability)
    {
    case PUNCH_REACHABILITY_PUBLIC: return "public";
    case PUNCH_REACHABILITY_PRIVATE: return "private";
    case PUNCH_REACHABILITY_UNKNOWN:
    default: return "unknown";
    }
}

struct _PunchAutonatService
{
  GObject parent_instance;

  PunchHost            *host;
  PunchIdentifyService *identify;
  PunchHost            *dialer;        /* dial-backs; created on first use */
  PunchIdentifyService *dialer_identify;
  GCancellable         *cancellable;
  GNetworkMonitor      *monitor;
  gulong                network_changed_id;
  gulong                listen_changed_id;
  gulong                identified_id;
  gulong                opened_id;
  guint                 timer_id;
  gboolean              probing;

  GHashTable           *answers;       /* server peer ID text → GINT (1 = OK, 2 = E_DIAL_ERROR,
                                        * 3 = OK without a dial-back reaching us) */
  GArray               *inbound_seen;  /* InboundSeen: recent inbound direct connections */
  GPtrArray            *observations;  /* PunchNatObservation, oldest first */

  GHashTable           *window_counts; /* client peer ID text → GUINT requests in this window */
  guint                 window_total;
  gint64                window_start;

  PunchReachability     reachability;
  guint                 confidence;
  PunchMultiaddr       *public_addr;
  PunchNatMapping       nat_mapping;

  gboolean              server_enabled;
  gboolean              client_enabled;
  gboolean              allow_non_public;
  guint                 min_confirmations;
  guint                 dial_timeout_ms;
  guint                 max_per_peer;
  guint                 max_requests;
  guint                 rate_window_s;
  guint                 refresh_s;
  guint                 retry_s;
};

G_DEFINE_FINAL_TYPE (PunchAutonatService, punch_autonat_service, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_REACHABILITY,
  PROP_CONFIDENCE,
  PROP_PUBLIC_ADDR,
  PROP_NAT_MAPPING,
  PROP_SERVER_ENABLED,
  PROP_CLIENT_ENABLED,
  PROP_ALLOW_NON_PUBLIC,
  PROP_MIN_CONFIRMATIONS,
  PROP_DIAL_TIMEOUT,
  PROP_MAX_REQUESTS_PER_PEER,
  PROP_MAX_REQUESTS,
  PROP_RATE_WINDOW,
  PROP_REFRESH_INTERVAL,
  PROP_RETRY_INTERVAL,
  N_PROPS
};

enum
{
  ANSWER,
  SERVED,
  OBSERVATION,
  NETWORK_CHANGED,
  PROBED,
  N_SIGNALS
};

typedef struct
{
  gint64 time;        /* monotonic µs */
  guint8 ip[16];
  gsize  ip_len;
} InboundSeen;

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void schedule_probe (PunchAutonatService *self, guint seconds);

/* ---- addresses ---- */

/* /ip4|ip6/X/tcp/P (anything after is ignored), not relayed. */
static gboolean
is_ip_tcp (PunchMultiaddr *addr)
{
  PunchMultiaddrComponent host, tcp;

  if (punch_multiaddr_has_protocol (addr, PUNCH_PROTO_P2P_CIRCUIT))
    return FALSE;
  if (!punch_multiaddr_get_component (addr, 0, &host) || !punch_multiaddr_get_component (addr, 1, &tcp))
    return FALSE;
  if (host.code != PUNCH_PROTO_IP4 && host.code != PUNCH_PROTO_IP6)
    return FALSE;
  return tcp.code == PUNCH_PROTO_TCP && tcp.value_len == 2 && (tcp.value[0] != 0 || tcp.value[1] != 0);
}

static gboolean
scope_allowed (PunchAutonatService *self, PunchMultiaddr *addr)
{
  PunchAddrScope scope = punch_multiaddr_get_scope (addr);

  if (scope == PUNCH_ADDR_SCOPE_PUBLIC)
    return TRUE;
  return self->allow_non_public && scope != PUNCH_ADDR_SCOPE_UNUSABLE;
}

static void
add_unique (GPtrArray *out, GHashTable *seen, PunchMultiaddr *addr)
{
  g_autoptr (PunchMultiaddr) ip_tcp = punch_multiaddr_slice (addr, 0, 2);
  char *text = punch_multiaddr_to_string (ip_tcp);

  if (g_hash_table_add (seen, text))
    g_ptr_array_add (out, g_steal_pointer (&ip_tcp));
}

GPtrArray *
punch_autonat_service_get_candidate_addrs (PunchAutonatService *self)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  g_autoptr (GPtrArray) listen = NULL;
  GListModel *conns;
  guint n;

  g_return_val_if_fail (PUNCH_IS_AUTONAT_SERVICE (self), out);

  conns = punch_host_get_connections (self->host);
  n = g_list_model_get_n_items (conns);
  /* Observed addresses first: behind a NAT they are what a server can
   * reach, if anything. Relayed connections observe the relay, not us. */
  for (guint i = 0; i < n && out->len < PUNCH_AUTONAT_MAX_ADDRS; i++)
    {
      g_autoptr (PunchConnection) conn = g_list_model_get_item (conns, i);
      PunchMultiaddr *observed = punch_connection_get_observed_addr (conn);

      if (observed != NULL && !punch_connection_get_relayed (conn) && is_ip_tcp (observed)
          && scope_allowed (self, observed))
        add_unique (out, seen, observed);
    }
  listen = punch_host_get_listen_addrs (self->host);
  for (guint i = 0; i < listen->len && out->len < PUNCH_AUTONAT_MAX_ADDRS; i++)
    {
      PunchMultiaddr *addr = g_ptr_array_index (listen, i);

      if (is_ip_tcp (addr) && scope_allowed (self, addr))
        add_unique (out, seen, addr);
    }
  return out;
}

/* ---- reachability from answers ---- */

static void
set_reachability (PunchAutonatService *self, PunchReachability reachability, guint confidence)
{
  gboolean changed = self->reachability != reachability;

  g_object_freeze_notify (G_OBJECT (self));
  if (changed)
    {
      g_debug ("autonat: reachability %s → %s (%u agreeing answers)",
               punch_reachability_to_string (self->reachability), punch_reachability_to_string (reachability),
               confidence);
      self->reachability = reachability;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REACHABILITY]);
    }
  if (self->confidence != confidence)
    {
      self->confidence = confidence;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONFIDENCE]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

void
punch_autonat_service_get_answer_counts (PunchAutonatService *self,
                                         guint               *n_ok,
                                         guint               *n_failed)
{
  GHashTableIter iter;
  gpointer value;
  guint ok = 0, failed = 0;

  g_return_if_fail (PUNCH_IS_AUTONAT_SERVICE (self));

  g_hash_table_iter_init (&iter, self->answers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      if (GPOINTER_TO_INT (value) == 1)
        ok++;
      else if (GPOINTER_TO_INT (value) == 2)
        failed++;
    }
  if (n_ok != NULL)
    *n_ok = ok;
  if (n_failed != NULL)
    *n_failed = failed;
}

/* A verdict needs min-confirmations distinct servers agreeing and
 * outnumbering those who disagree; anything less stays unknown. */
static void
recompute_reachability (PunchAutonatService *self)
{
  guint ok, failed;

  punch_autonat_service_get_answer_counts (self, &ok, &failed);
  if (ok >= self->min_confirmations && ok > failed)
    set_reachability (self, PUNCH_REACHABILITY_PUBLIC, ok);
  else if (failed >= self->min_confirmations && failed > ok)
    set_reachability (self, PUNCH_REACHABILITY_PRIVATE, failed);
  else
    set_reachability (self, PUNCH_REACHABILITY_UNKNOWN, MAX (ok, failed));
}

guint
punch_autonat_service_get_unverified_count (PunchAutonatService *self)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_return_val_if_fail (PUNCH_IS_AUTONAT_SERVICE (self), 0);

  g_hash_table_iter_init (&iter, self->answers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (GPOINTER_TO_INT (value) == 3)
      n++;
  return n;
}

gboolean
punch_autonat_service_is_answer_verified (PunchAutonatService *self, PunchPeerId *server)
{
  g_return_val_if_fail (PUNCH_IS_AUTONAT_SERVICE (self), FALSE);
  g_return_val_if_fail (server != NULL, FALSE);

  return GPOINTER_TO_INT (g_hash_table_lookup (self->answers, punch_peer_id_to_string (server))) != 3;
}

static void
record_answer (PunchAutonatService *self, PunchPeerId *server, int status, PunchMultiaddr *addr, gboolean verified)
{
  const char *key = punch_peer_id_to_string (server);

  g_debug ("autonat: %s answered %s%s", key, punch_autonat_status_to_string (status),
           verified ? "" : " but no dial-back reached us");
  /* Refusals and errors say nothing about us: only OK and E_DIAL_ERROR
   * count, and a server's latest answer replaces its earlier one. An OK
   * whose dial-back never reached us is a claim we know to be unproven
   * (a server that judges by the connection the request came on, as
   * js-libp2p's does, would say OK behind any port-keeping NAT): kept
   * apart, never counted. */
  if (status == PUNCH_AUTONAT_STATUS_OK)
    g_hash_table_insert (self->answers, g_strdup (key), GINT_TO_POINTER (verified ? 1 : 3));
  else if (status == PUNCH_AUTONAT_STATUS_E_DIAL_ERROR)
    g_hash_table_insert (self->answers, g_strdup (key), GINT_TO_POINTER (2));

  if (status == PUNCH_AUTONAT_STATUS_OK && verified && addr != NULL
      && (self->public_addr == NULL || !punch_multiaddr_equal (self->public_addr, addr)))
    {
      g_clear_pointer (&self->public_addr, punch_multiaddr_unref);
      self->public_addr = punch_multiaddr_ref (addr);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PUBLIC_ADDR]);
    }
  recompute_reachability (self);
  g_signal_emit (self, signals[ANSWER], 0, server, status, addr);
}

/* ---- client: one request ---- */

/* ---- client: did the dial-back reach us? ---- */

static gboolean
ip_of (PunchMultiaddr *addr, guint8 ip[16], gsize *len)
{
  PunchMultiaddrComponent c;

  if (addr == NULL || !punch_multiaddr_get_component (addr, 0, &c)
      || (c.code != PUNCH_PROTO_IP4 && c.code != PUNCH_PROTO_IP6) || c.value_len > 16)
    return FALSE;
  memcpy (ip, c.value, c.value_len);
  *len = c.value_len;
  return TRUE;
}

static void
on_connection_opened (PunchHost *host, PunchConnection *conn, gpointer user_data)
{
  PunchAutonatService *self = user_data;
  InboundSeen seen = { 0 };

  if (punch_connection_get_direction (conn) != PUNCH_DIRECTION_INBOUND || punch_connection_get_relayed (conn)
      || !ip_of (punch_connection_get_remote_addr (conn), seen.ip, &seen.ip_len))
    return;
  seen.time = g_get_monotonic_time ();
  if (self->inbound_seen->len >= MAX_INBOUND_SEEN)
    g_array_remove_index (self->inbound_seen, 0);
  g_array_append_val (self->inbound_seen, seen);
}

/* Whether an inbound direct connection from the IP of @server_addr opened
 * since @since: a server that dialled us back from where it answers. */
static gboolean
dialback_seen (PunchAutonatService *self, PunchMultiaddr *server_addr, gint64 since)
{
  guint8 ip[16];
  gsize len;

  if (!ip_of (server_addr, ip, &len))
    return FALSE;
  for (guint i = 0; i < self->inbound_seen->len; i++)
    {
      InboundSeen *seen = &g_array_index (self->inbound_seen, InboundSeen, i);

      if (seen->time >= since && seen->ip_len == len && memcmp (seen->ip, ip, len) == 0)
        return TRUE;
    }
  return FALSE;
}

typedef struct
{
  PunchConnection *connection;
  PunchPeerId     *server;
  PunchMultiaddr  *server_addr;
  gint64           started;
  GPtrArray       *addrs;
  GIOStream       *stream;
  PunchDeadline   *deadline;
  int              status;
  PunchMultiaddr  *addr;
  char            *text;
} RequestData;

static void
request_data_free (RequestData *data)
{
  if (data->stream != NULL)
    punch_protocol_abort_stream (data->stream);
  g_clear_object (&data->stream);
  g_clear_object (&data->connection);
  g_clear_pointer (&data->server, punch_peer_id_unref);
  g_clear_pointer (&data->server_addr, punch_multiaddr_unref);
  g_clear_pointer (&data->addrs, g_ptr_array_unref);
  g_clear_pointer (&data->deadline, punch_deadline_free);
  g_clear_pointer (&data->addr, punch_multiaddr_unref);
  g_free (data->text);
  g_free (data);
}

static void
request_fail (GTask *task, GError *error)
{
  RequestData *data = g_task_get_task_data (task);

  punch_deadline_adjust_error (data->deadline, &error, "AutoNAT request");
  g_task_return_error (task, error);
}

/* An OK came before any dial-back we saw: give its connection a moment. */
static gboolean
request_grace_cb (gpointer user_data)
{
  GTask *task = user_data;
  PunchAutonatService *self = g_task_get_source_object (task);
  RequestData *data = g_task_get_task_data (task);

  record_answer (self, data->server, data->status, data->addr,
                 dialback_seen (self, data->server_addr, data->started));
  g_task_return_boolean (task, TRUE);
  return G_SOURCE_REMOVE;
}

static void
request_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PunchAutonatService *self = g_task_get_source_object (task);
  RequestData *data = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (GBytes) bytes = punch_framing_read_finish (G_INPUT_STREAM (source), result, &error);

  if (bytes == NULL)
    {
      request_fail (task, error);
      return;
    }
  if (!punch_autonat_response_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &data->status,
                                      &data->text, &data->addr, &error))
    {
      request_fail (task, error);
      return;
    }
  /* The exchange is over: close our side politely rather than reset. */
  punch_protocol_close_stream (data->stream);
  g_clear_object (&data->stream);
  if (data->status == PUNCH_AUTONAT_STATUS_OK && !dialback_seen (self, data->server_addr, data->started))
    {
      guint id = g_timeout_add_full (G_PRIORITY_DEFAULT, DIALBACK_GRACE_MS, request_grace_cb,
                                     g_steal_pointer (&task), g_object_unref);

      g_source_set_name_by_id (id, "[punchline] autonat dial-back grace");
      return;
    }
  record_answer (self, data->server, data->status, data->addr, TRUE);
  g_task_return_boolean (task, TRUE);
}

static void
request_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  RequestData *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (!punch_framing_write_finish (G_OUTPUT_STREAM (source), result, &error))
    {
      request_fail (task, error);
      return;
    }
  punch_framing_read_async (g_io_stream_get_input_stream (data->stream), PUNCH_AUTONAT_MAX_MESSAGE,
                            punch_deadline_get_cancellable (data->deadline), request_read, g_steal_pointer (&task));
}

static void
request_opened (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PunchAutonatService *self = g_task_get_source_object (task);
  RequestData *data = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (GBytes) message = NULL;

  data->stream = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result, NULL, &error);
  if (data->stream == NULL)
    {
      request_fail (task, error);
      return;
    }
  message = punch_autonat_dial_encode (punch_host_get_peer_id (self->host), data->addrs);
  punch_framing_write_async (g_io_stream_get_output_stream (data->stream), message,
                             punch_deadline_get_cancellable (data->deadline), request_written,
                             g_steal_pointer (&task));
}

/**
 * punch_autonat_service_request_async:
 * @connection: a direct connection to the server
 * @addrs: (nullable) (element-type PunchMultiaddr): what to dial; NULL for
 *   punch_autonat_service_get_candidate_addrs()
 *
 * Sends one DIAL and waits for the DIAL_RESPONSE, for at most the
 * "dial-timeout" plus 15 s.
 */
void
punch_autonat_service_request_async (PunchAutonatService *self,
                                     PunchConnection     *connection,
                                     GPtrArray           *addrs,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  static const char *const protocols[] = { PUNCH_AUTONAT_PROTOCOL, NULL };
  g_autoptr (GTask) task = NULL;
  RequestData *data;

  g_return_if_fail (PUNCH_IS_AUTONAT_SERVICE (self));
  g_return_if_fail (PUNCH_IS_CONNECTION (connection));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_autonat_service_request_async);
  data = g_new0 (RequestData, 1);
  data->connection = g_object_ref (connection);
  data->server = punch_peer_id_ref (punch_connection_get_peer_id (connection));
  data->server_addr = punch_connection_get_remote_addr (connection) != NULL
                        ? punch_multiaddr_ref (punch_connection_get_remote_addr (connection)) : NULL;
  data->started = g_get_monotonic_time ();
  data->addrs = addrs != NULL ? g_ptr_array_ref (addrs) : punch_autonat_service_get_candidate_addrs (self);
  data->deadline = punch_deadline_new (cancellable, self->dial_timeout_ms + REQUEST_SLACK_MS);
  g_task_set_task_data (task, data, (GDestroyNotify) request_data_free);

  if (data->addrs->len == 0)
    {
      g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_NO_ADDRESSES,
                               "AutoNAT: no candidate address to have dialled back");
      return;
    }
  punch_connection_open_stream_async (connection, protocols, punch_deadline_get_cancellable (data->deadline),
                                      request_opened, g_steal_pointer (&task));
}

gboolean
punch_autonat_service_request_finish (PunchAutonatService *self,
                                      GAsyncResult        *result,
                                      int                 *status,
                                      PunchMultiaddr     **addr,
                                      char               **text,
                                      GError             **error)
{
  RequestData *data;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  data = g_task_get_task_data (G_TASK (result));
  if (status != NULL)
    *status = data->status;
  if (addr != NULL)
    *addr = data->addr != NULL ? punch_multiaddr_ref (data->addr) : NULL;
  if (text != NULL)
    *text = g_strdup (data->text);
  return TRUE;
}

/* ---- client: a probe over every suitable server ---- */

typedef struct
{
  guint pending;
  guint answered;
} ProbeData;

static void
probe_one_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PunchAutonatService *self = PUNCH_AUTONAT_SERVICE (source);
  ProbeData *data = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  if (punch_autonat_service_request_finish (self, result, NULL, NULL, NULL, &error))
    data->answered++;
  else
    g_debug ("autonat: request failed: %s", error->message);
  if (--data->pending > 0)
    return;
  self->probing = FALSE;
  g_signal_emit (self, signals[PROBED], 0, (int) self->reachability);
  g_task_return_int (task, self->reachability);
}

static gboolean
connection_is_server (PunchAutonatService *self, PunchConnection *conn)
{
  PunchPeerInfo *info;

  if (punch_connection_get_state (conn) != PUNCH_CONNECTION_STATE_OPEN || punch_connection_get_relayed (conn))
    return FALSE;
  info = punch_peer_store_lookup (punch_host_get_peer_store (self->host), punch_connection_get_peer_id (conn));
  return info != NULL && punch_peer_info_supports (info, PUNCH_AUTONAT_PROTOCOL);
}

void
punch_autonat_service_probe_async (PunchAutonatService *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GPtrArray) candidates = NULL;
  g_autoptr (GPtrArray) servers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GHashTable) seen = g_hash_table_new (punch_peer_id_hash, punch_peer_id_equal);
  GListModel *conns;
  ProbeData *data;
  guint n;

  g_return_if_fail (PUNCH_IS_AUTONAT_SERVICE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_autonat_service_probe_async);
  candidates = punch_autonat_service_get_candidate_addrs (self);
  if (candidates->len == 0)
    {
      g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_NO_ADDRESSES,
                               "AutoNAT: no candidate address to have dialled back");
      return;
    }
  conns = punch_host_get_connections (self->host);
  n = g_list_model_get_n_items (conns);
  for (guint i = 0; i < n && servers->len < MAX_SERVERS_PER_PROBE; i++)
    {
      g_autoptr (PunchConnection) conn = g_list_model_get_item (conns, i);

      if (connection_is_server (self, conn) && g_hash_table_add (seen, punch_connection_get_peer_id (conn)))
        g_ptr_array_add (servers, g_steal_pointer (&conn));
    }
  if (servers->len == 0)
    {
      g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_LIMIT,
                               "AutoNAT: no connected peer supports %s", PUNCH_AUTONAT_PROTOCOL);
      return;
    }
  data = g_new0 (ProbeData, 1);
  data->pending = servers->len;
  g_task_set_task_data (task, data, g_free);
  self->probing = TRUE;
  g_debug ("autonat: asking %u servers to dial %u addresses", servers->len, candidates->len);
  for (guint i = 0; i < servers->len; i++)
    punch_autonat_service_request_async (self, g_ptr_array_index (servers, i), candidates, cancellable,
                                         probe_one_done, g_object_ref (task));
}

PunchReachability
punch_autonat_service_probe_finish (PunchAutonatService *self,
                                    GAsyncResult        *result,
                                    GError             **error)
{
  GError *local_error = NULL;
  gssize value;

  g_return_val_if_fail (g_task_is_valid (result, self), PUNCH_REACHABILITY_UNKNOWN);

  value = g_task_propagate_int (G_TASK (result), &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return PUNCH_REACHABILITY_UNKNOWN;
    }
  return (PunchReachability) value;
}

/* ---- client: when to probe ---- */

static void
auto_probe_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PunchAutonatService *self = PUNCH_AUTONAT_SERVICE (source);
  g_autoptr (GError) error = NULL;

  punch_autonat_service_probe_finish (self, result, &error);
  if (error != NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_debug ("autonat: probe: %s", error->message);
    }
  schedule_probe (self, self->reachability == PUNCH_REACHABILITY_UNKNOWN ? self->retry_s : self->refresh_s);
}

static gboolean
probe_timer_cb (gpointer user_data)
{
  PunchAutonatService *self = user_data;

  self->timer_id = 0;
  if (self->probing)
    schedule_probe (self, self->retry_s);
  else
    punch_autonat_service_probe_async (self, self->cancellable, auto_probe_done, NULL);
  return G_SOURCE_REMOVE;
}

static void
schedule_probe (PunchAutonatService *self, guint seconds)
{
  g_clear_handle_id (&self->timer_id, g_source_remove);
  if (!self->client_enabled)
    return;
  self->timer_id = g_timeout_add_seconds (seconds, probe_timer_cb, self);
  g_source_set_name_by_id (self->timer_id, "[punchline] autonat probe");
}

void
punch_autonat_service_reset (PunchAutonatService *self)
{
  g_return_if_fail (PUNCH_IS_AUTONAT_SERVICE (self));

  g_hash_table_remove_all (self->answers);
  g_ptr_array_set_size (self->observations, 0);
  if (self->public_addr != NULL)
    {
      g_clear_pointer (&self->public_addr, punch_multiaddr_unref);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PUBLIC_ADDR]);
    }
  if (self->nat_mapping != PUNCH_NAT_MAPPING_UNKNOWN)
    {
      self->nat_mapping = PUNCH_NAT_MAPPING_UNKNOWN;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAT_MAPPING]);
    }
  recompute_reachability (self);
}

/**
 * punch_local_addr_present:
 * @addr: an /ip4|ip6/… multiaddr (anything after the IP is ignored)
 *
 * Whether the IP of @addr is still one of this machine's: binding a UDP
 * socket to it (port 0) fails once no interface holds it. Wildcard and
 * unparsable addresses count as present: nothing says they went away.
 */
gboolean
punch_local_addr_present (PunchMultiaddr *addr)
{
  g_autoptr (GInetAddress) inet = NULL;
  g_autoptr (GSocketAddress) sockaddr = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GError) error = NULL;
  PunchMultiaddrComponent c;

  if (addr == NULL || !punch_multiaddr_get_component (addr, 0, &c)
      || !((c.code == PUNCH_PROTO_IP4 && c.value_len == 4) || (c.code == PUNCH_PROTO_IP6 && c.value_len == 16)))
    return TRUE;
  inet = g_inet_address_new_from_bytes (c.value, c.code == PUNCH_PROTO_IP4 ? G_SOCKET_FAMILY_IPV4
                                                                         : G_SOCKET_FAMILY_IPV6);
  if (g_inet_address_get_is_any (inet))
    return TRUE;
  sockaddr = g_inet_socket_address_new (inet, 0);
  socket = g_socket_new (g_inet_address_get_family (inet), G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  if (socket == NULL)
    return TRUE;
  /* EADDRNOTAVAIL: no interface has it any more. */
  return g_socket_bind (socket, sockaddr, FALSE, &error)
         || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
}

/* Drops the observations made from local addresses that are gone; TRUE
 * when there were any. */
static gboolean
drop_vanished_observations (PunchAutonatService *self)
{
  gboolean dropped = FALSE;

  for (guint i = self->observations->len; i > 0; i--)
    {
      PunchNatObservation *obs = g_ptr_array_index (self->observations, i - 1);

      if (!punch_local_addr_present (obs->local_addr))
        {
          g_ptr_array_remove_index (self->observations, i - 1);
          dropped = TRUE;
        }
    }
  return dropped;
}

/* GNetworkMonitor reports every change of routes or addresses, also ones
 * that change nothing for us (a link-local route appearing). Only when an
 * address we were seen from went away (or the network went away) is what
 * we learnt stale; otherwise we ask again and keep it until answers say
 * otherwise. */
static void
on_network_changed (GNetworkMonitor *monitor, gboolean available, gpointer user_data)
{
  PunchAutonatService *self = user_data;

  if (!available || drop_vanished_observations (self))
    {
      g_debug ("autonat: the network changed; answers and observations are stale");
      punch_autonat_service_reset (self);
      schedule_probe (self, SETTLE_DELAY_S);
      g_signal_emit (self, signals[NETWORK_CHANGED], 0, "interfaces");
      return;
    }
  g_debug ("autonat: the network changed, our addresses did not; checking again");
  schedule_probe (self, SETTLE_DELAY_S);
  g_signal_emit (self, signals[NETWORK_CHANGED], 0, "routes");
}

static void
on_listen_addrs_changed (PunchHost *host, gpointer user_data)
{
  PunchAutonatService *self = user_data;

  schedule_probe (self, SETTLE_DELAY_S);
}

static void
watch (PunchAutonatService *self, gboolean enable)
{
  if (enable && self->network_changed_id == 0)
    {
      self->monitor = g_object_ref (g_network_monitor_get_default ());
      self->network_changed_id = g_signal_connect (self->monitor, "network-changed",
                                                   G_CALLBACK (on_network_changed), self);
      self->listen_changed_id = g_signal_connect (self->host, "listen-addrs-changed",
                                                  G_CALLBACK (on_listen_addrs_changed), self);
      schedule_probe (self, BOOT_DELAY_S);
    }
  else if (!enable)
    {
      if (self->monitor != NULL)
        g_clear_signal_handler (&self->network_changed_id, self->monitor);
      g_clear_object (&self->monitor);
      if (self->host != NULL)
        g_clear_signal_handler (&self->listen_changed_id, self->host);
      g_clear_handle_id (&self->timer_id, g_source_remove);
    }
}

/* ---- mapping observations ---- */

/**
 * punch_nat_same_ip:
 *
 * Whether @a and @b (nullable) start with the same /ip4 or /ip6 address.
 */
gboolean
punch_nat_same_ip (PunchMultiaddr *a, PunchMultiaddr *b)
{
  PunchMultiaddrComponent ca, cb;

  if (a == NULL || b == NULL || !punch_multiaddr_get_component (a, 0, &ca) || !punch_multiaddr_get_component (b, 0, &cb))
    return FALSE;
  return (ca.code == PUNCH_PROTO_IP4 || ca.code == PUNCH_PROTO_IP6) && ca.code == cb.code
         && ca.value_len == cb.value_len && memcmp (ca.value, cb.value, ca.value_len) == 0;
}

/* Only the IP counts: behind an endpoint-dependent NAT every new
 * connection has another port, which is no change of network. */
static gboolean
external_ip_changed (PunchAutonatService *self, const PunchNatObservation *obs)
{
  for (guint i = self->observations->len; i > 0; i--)
    {
      PunchNatObservation *old = g_ptr_array_index (self->observations, i - 1);

      if (!punch_nat_same_ip (old->observer_addr, obs->observer_addr))
        continue;
      /* The latest report from that observer decides. */
      return !punch_nat_same_ip (old->observed_addr, obs->observed_addr)
             && punch_multiaddr_get_scope (old->observed_addr) == PUNCH_ADDR_SCOPE_PUBLIC
             && punch_multiaddr_get_scope (obs->observed_addr) == PUNCH_ADDR_SCOPE_PUBLIC;
    }
  return FALSE;
}

PunchNatReport *
punch_autonat_service_get_nat_report (PunchAutonatService *self)
{
  g_return_val_if_fail (PUNCH_IS_AUTONAT_SERVICE (self), NULL);

  return punch_nat_classify ((const PunchNatObservation * const *) self->observations->pdata,
                             self->observations->len);
}

void
punch_autonat_service_add_observation (PunchAutonatService       *self,
                                       const PunchNatObservation *observation)
{
  g_autoptr (PunchNatReport) report = NULL;
  PunchNatObservation *copy;
  gboolean changed = FALSE;

  g_return_if_fail (PUNCH_IS_AUTONAT_SERVICE (self));
  g_return_if_fail (observation != NULL);

  /* The same observer endpoint seeing us on another IP: our external
   * address changed (a router's new WAN address, another uplink), which
   * our own interfaces may not show. Everything learnt before is stale. */
  if (external_ip_changed (self, observation))
    {
      g_debug ("autonat: an observer sees us on a new IP; answers and observations are stale");
      punch_autonat_service_reset (self);
      schedule_probe (self, SETTLE_DELAY_S);
      changed = TRUE;
    }
  copy = punch_nat_observation_copy (observation);
  g_ptr_array_add (self->observations, copy);
  if (self->observations->len > MAX_OBSERVATIONS)
    g_ptr_array_remove_index (self->observations, 0);
  report = punch_autonat_service_get_nat_report (self);
  if (report->mapping != self->nat_mapping)
    {
      g_debug ("autonat: NAT mapping %s: %s", punch_nat_mapping_to_string (report->mapping), report->reason);
      self->nat_mapping = report->mapping;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAT_MAPPING]);
    }
  g_signal_emit (self, signals[OBSERVATION], 0, copy);
  if (changed)
    g_signal_emit (self, signals[NETWORK_CHANGED], 0, "external-address");
}

GPtrArray *
punch_autonat_service_get_observations (PunchAutonatService *self)
{
  GPtrArray *out;

  g_return_val_if_fail (PUNCH_IS_AUTONAT_SERVICE (self), NULL);

  out = g_ptr_array_new_full (self->observations->len, NULL);
  for (guint i = 0; i < self->observations->len; i++)
    g_ptr_array_add (out, g_ptr_array_index (self->observations, i));
  return out;
}

PunchNatMapping
punch_autonat_service_get_nat_mapping (PunchAutonatService *self)
{
  g_return_val_if_fail (PUNCH_IS_AUTONAT_SERVICE (self), PUNCH_NAT_MAPPING_UNKNOWN);
  return self->nat_mapping;
}

static void
on_identified (PunchIdentifyService *identify, PunchConnection *conn, PunchPeerInfo *info, gpointer user_data)
{
  PunchAutonatService *self = user_data;
  PunchMultiaddr *observed = punch_connection_get_observed_addr (conn);
  g_autoptr (PunchNatObservation) obs = NULL;

  /* Over a relay the observer sees the relay, never our NAT. */
  if (observed == NULL || punch_connection_get_relayed (conn))
    return;
  obs = punch_nat_observation_new (punch_peer_id_to_string (punch_connection_get_peer_id (conn)),
                                   punch_connection_get_remote_addr (conn), punch_connection_get_local_addr (conn),
                                   observed, punch_connection_get_direction (conn) == PUNCH_DIRECTION_OUTBOUND);
  punch_autonat_service_add_observation (self, obs);
}

/* ---- server ---- */

typedef struct
{
  PunchAutonatService *self;
  PunchConnection     *connection;
  GIOStream           *stream;
  PunchPeerId         *peer;
  PunchDeadline       *deadline;
  GCancellable        *dials;
  PunchMultiaddr      *reached;
  char                *first_error;
  guint                pending;
  gboolean             responded;
} ServerRequest;

static void
server_request_free (ServerRequest *req)
{
  if (req->stream != NULL)
    punch_protocol_abort_stream (req->stream);
  g_clear_object (&req->stream);
  g_clear_object (&req->connection);
  g_clear_pointer (&req->peer, punch_peer_id_unref);
  g_clear_pointer (&req->deadline, punch_deadline_free);
  g_clear_object (&req->dials);
  g_clear_pointer (&req->reached, punch_multiaddr_unref);
  g_free (req->first_error);
  g_clear_object (&req->self);
  g_free (req);
}

static void
server_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ServerRequest *req = user_data;
  g_autoptr (GError) error = NULL;

  if (punch_framing_write_finish (G_OUTPUT_STREAM (source), result, &error))
    {
      punch_protocol_close_stream (req->stream);
      g_clear_object (&req->stream);
    }
  else
    g_debug ("autonat: writing the response: %s", error->message);
  server_request_free (req);
}

/* Answers and, once written, frees @req. */
static void
server_respond (ServerRequest *req, PunchAutonatStatus status, const char *text, PunchMultiaddr *addr)
{
  g_autoptr (GBytes) message = punch_autonat_response_encode (status, text, addr);

  req->responded = TRUE;
  g_debug ("autonat: answering %s to %s (%s)", punch_autonat_status_to_string (status),
           req->peer != NULL ? punch_peer_id_to_string (req->peer) : "?", text != NULL ? text : "");
  g_signal_emit (req->self, signals[SERVED], 0,
                 req->peer != NULL ? req->peer : punch_connection_get_peer_id (req->connection), (int) status, text);
  punch_framing_write_async (g_io_stream_get_output_stream (req->stream), message,
                             punch_deadline_get_cancellable (req->deadline), server_written, req);
}

/* Counts the request; FALSE when it is over a limit. */
static gboolean
rate_limit_admit (PunchAutonatService *self, PunchPeerId *peer)
{
  gint64 now = g_get_monotonic_time ();
  const char *key = punch_peer_id_to_string (peer);
  guint count;

  if (now - self->window_start >= (gint64) self->rate_window_s * G_USEC_PER_SEC)
    {
      self->window_start = now;
      self->window_total = 0;
      g_hash_table_remove_all (self->window_counts);
    }
  count = GPOINTER_TO_UINT (g_hash_table_lookup (self->window_counts, key));
  if (count >= self->max_per_peer || self->window_total >= self->max_requests)
    return FALSE;
  g_hash_table_insert (self->window_counts, g_strdup (key), GUINT_TO_POINTER (count + 1));
  self->window_total++;
  return TRUE;
}

/* The requested addresses we may dial: on the IP the request came from
 * (never a third party), TCP, public unless allowed otherwise, for the
 * requester when they name a peer. */
static GPtrArray *
server_filter_addrs (PunchAutonatService *self, ServerRequest *req, GPtrArray *requested)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  PunchMultiaddr *remote = punch_connection_get_remote_addr (req->connection);
  gsize peer_len;
  const guint8 *peer_bytes = punch_peer_id_get_bytes (req->peer, &peer_len);

  for (guint i = 0; i < requested->len; i++)
    {
      PunchMultiaddr *addr = g_ptr_array_index (requested, i);
      g_autoptr (GBytes) id = NULL;

      if (!is_ip_tcp (addr) || !punch_nat_same_ip (addr, remote))
        continue;
      if (!scope_allowed (self, addr))
        continue;
      id = punch_multiaddr_get_peer_id_bytes (addr);
      if (id != NULL && (g_bytes_get_size (id) != peer_len
                         || memcmp (g_bytes_get_data (id, NULL), peer_bytes, peer_len) != 0))
        continue;
      add_unique (out, seen, addr);
    }
  return out;
}

static gboolean
close_dialback_cb (gpointer user_data)
{
  punch_connection_close (user_data);
  return G_SOURCE_REMOVE;
}

static void
server_dialed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ServerRequest *req = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConnection) conn = punch_host_dial_finish (PUNCH_HOST (source), result, &error);

  if (conn != NULL)
    {
      /* The dial-back proved the point; the connection has no other use. */
      PunchMultiaddr *remote = punch_connection_get_remote_addr (conn);
      guint id = g_timeout_add_full (G_PRIORITY_DEFAULT, DIALBACK_LINGER_MS, close_dialback_cb,
                                     g_object_ref (conn), g_object_unref);

      g_source_set_name_by_id (id, "[punchline] autonat dial-back linger");
      if (req->reached == NULL && remote != NULL)
        {
          req->reached = punch_multiaddr_slice (remote, 0, 2);
          g_cancellable_cancel (req->dials);
        }
    }
  else if (req->first_error == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    req->first_error = g_strdup (error->message);

  if (--req->pending > 0)
    return;
  if (req->reached != NULL)
    server_respond (req, PUNCH_AUTONAT_STATUS_OK, "dial successful", req->reached);
  else
    server_respond (req, PUNCH_AUTONAT_STATUS_E_DIAL_ERROR,
                    req->first_error != NULL ? req->first_error : "dial failed", NULL);
}

static void
forward_cancel (GCancellable *from, GCancellable *to)
{
  g_cancellable_cancel (to);
}

static PunchHost *
ensure_dialer (PunchAutonatService *self, GError **error)
{
  g_autoptr (PunchPrivateKey) key = NULL;

  if (self->dialer != NULL)
    return self->dialer;
  key = punch_private_key_generate (error);
  if (key == NULL)
    return NULL;
  self->dialer = punch_host_new (key);
  /* The requester identifies every connection; a dialer that answers is
   * an ordinary peer to it rather than a failed identify. */
  self->dialer_identify = punch_identify_service_new (self->dialer);
  return self->dialer;
}

static void
server_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ServerRequest *req = user_data;
  PunchAutonatService *self = req->self;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = punch_framing_read_finish (G_INPUT_STREAM (source), result, &error);
  g_autoptr (GPtrArray) requested = NULL;
  g_autoptr (GPtrArray) dialable = NULL;
  g_autoptr (PunchPeerId) peer = NULL;
  g_autofree char *text = NULL;
  PunchHost *dialer;

  if (bytes == NULL)
    {
      /* An oversized or badly framed message still deserves an answer; a
       * vanished stream does not. */
      if (error->domain == PUNCH_ERROR)
        {
          text = g_strdup_printf ("bad request: %s", error->message);
          server_respond (req, PUNCH_AUTONAT_STATUS_E_BAD_REQUEST, text, NULL);
        }
      else
        {
          g_debug ("autonat: reading a request: %s", error->message);
          server_request_free (req);
        }
      return;
    }
  if (!punch_autonat_dial_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &peer, &requested,
                                  &error))
    {
      text = g_strdup_printf ("bad request: %s", error->message);
      server_respond (req, PUNCH_AUTONAT_STATUS_E_BAD_REQUEST, text, NULL);
      return;
    }
  if (!punch_peer_id_equal (peer, punch_connection_get_peer_id (req->connection)))
    {
      server_respond (req, PUNCH_AUTONAT_STATUS_E_BAD_REQUEST, "peer ID does not match the connection", NULL);
      return;
    }
  req->peer = g_steal_pointer (&peer);
  if (!rate_limit_admit (self, req->peer))
    {
      server_respond (req, PUNCH_AUTONAT_STATUS_E_DIAL_REFUSED, "too many dial requests", NULL);
      return;
    }
  dialable = server_filter_addrs (self, req, requested);
  if (dialable->len == 0)
    {
      server_respond (req, PUNCH_AUTONAT_STATUS_E_DIAL_REFUSED, "no dialable address on the observed IP", NULL);
      return;
    }
  dialer = ensure_dialer (self, &error);
  if (dialer == NULL)
    {
      server_respond (req, PUNCH_AUTONAT_STATUS_E_INTERNAL_ERROR, "internal error", NULL);
      return;
    }

  /* Its own cancellable (the first success stops the others) that the
   * request's deadline and the service's end also stop. */
  req->dials = g_cancellable_new ();
  g_signal_connect_object (punch_deadline_get_cancellable (req->deadline), "cancelled",
                           G_CALLBACK (forward_cancel), req->dials, 0);
  req->pending = dialable->len;
  for (guint i = 0; i < dialable->len; i++)
    {
      gsize id_len;
      const guint8 *id = punch_peer_id_get_bytes (req->peer, &id_len);
      g_autoptr (PunchMultiaddr) target = punch_multiaddr_with_peer_id (g_ptr_array_index (dialable, i), id, id_len);
      g_autofree char *target_text = punch_multiaddr_to_string (g_ptr_array_index (dialable, i));

      g_debug ("autonat: dialling back %s", target_text);
      /* The /p2p suffix makes the dial authenticate the requester. */
      punch_host_dial_full_async (dialer, target, PUNCH_DIAL_FLAGS_NONE, self->dial_timeout_ms, req->dials,
                                  server_dialed, req);
    }
}

static void
autonat_handler (PunchHost       *host,
                 PunchConnection *conn,
                 GIOStream       *stream,
                 const char      *protocol,
                 gpointer         user_data)
{
  PunchAutonatService *self = user_data;
  ServerRequest *req = g_new0 (ServerRequest, 1);

  req->self = g_object_ref (self);
  req->connection = g_object_ref (conn);
  req->stream = g_object_ref (stream);
  /* Reading, dialling and answering: bounded all together. */
  req->deadline = punch_deadline_new (self->cancellable,
                                      SERVER_READ_TIMEOUT_MS + self->dial_timeout_ms + REQUEST_SLACK_MS);

  /* Over a relay the requester's IP is unknown: any address could be a
   * third party's (spec: MUST NOT accept). */
  if (punch_connection_get_relayed (conn))
    {
      server_respond (req, PUNCH_AUTONAT_STATUS_E_DIAL_REFUSED, "refusing to dial back over a relayed connection",
                      NULL);
      return;
    }
  punch_framing_read_async (g_io_stream_get_input_stream (stream), PUNCH_AUTONAT_MAX_MESSAGE,
                            punch_deadline_get_cancellable (req->deadline), server_read, req);
}

static void
set_server_enabled (PunchAutonatService *self, gboolean enabled)
{
  self->server_enabled = enabled;
  if (self->host == NULL)
    return;
  if (enabled)
    punch_host_set_stream_handler (self->host, PUNCH_AUTONAT_PROTOCOL, autonat_handler, self, NULL);
  else
    punch_host_remove_stream_handler (self->host, PUNCH_AUTONAT_PROTOCOL);
}

/* ---- the object ---- */

PunchReachability
punch_autonat_service_get_reachability (PunchAutonatService *self)
{
  g_return_val_if_fail (PUNCH_IS_AUTONAT_SERVICE (self), PUNCH_REACHABILITY_UNKNOWN);
  return self->reachability;
}

guint
punch_autonat_service_get_confidence (PunchAutonatService *self)
{
  g_return_val_if_fail (PUNCH_IS_AUTONAT_SERVICE (self), 0);
  return self->confidence;
}

PunchMultiaddr *
punch_autonat_service_get_public_addr (PunchAutonatService *self)
{
  g_return_val_if_fail (PUNCH_IS_AUTONAT_SERVICE (self), NULL);
  return self->public_addr;
}

static void
punch_autonat_service_dispose (GObject *object)
{
  PunchAutonatService *self = PUNCH_AUTONAT_SERVICE (object);

  g_cancellable_cancel (self->cancellable);
  watch (self, FALSE);
  if (self->host != NULL && self->server_enabled)
    punch_host_remove_stream_handler (self->host, PUNCH_AUTONAT_PROTOCOL);
  if (self->identify != NULL)
    g_clear_signal_handler (&self->identified_id, self->identify);
  if (self->host != NULL)
    g_clear_signal_handler (&self->opened_id, self->host);
  g_clear_object (&self->dialer_identify);
  if (self->dialer != NULL)
    punch_host_close (self->dialer);
  g_clear_object (&self->dialer);
  g_clear_object (&self->host);
  g_clear_object (&self->identify);

  G_OBJECT_CLASS (punch_autonat_service_parent_class)->dispose (object);
}

static void
punch_autonat_service_finalize (GObject *object)
{
  PunchAutonatService *self = PUNCH_AUTONAT_SERVICE (object);

  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->answers, g_hash_table_unref);
  g_clear_pointer (&self->inbound_seen, g_array_unref);
  g_clear_pointer (&self->observations, g_ptr_array_unref);
  g_clear_pointer (&self->window_counts, g_hash_table_unref);
  g_clear_pointer (&self->public_addr, punch_multiaddr_unref);

  G_OBJECT_CLASS (punch_autonat_service_parent_class)->finalize (object);
}

static void
punch_autonat_service_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PunchAutonatService *self = PUNCH_AUTONAT_SERVICE (object);

  switch (prop_id)
    {
    case PROP_REACHABILITY: g_value_set_enum (value, self->reachability); break;
    case PROP_CONFIDENCE: g_value_set_uint (value, self->confidence); break;
    case PROP_PUBLIC_ADDR: g_value_set_boxed (value, self->public_addr); break;
    case PROP_NAT_MAPPING: g_value_set_enum (value, self->nat_mapping); break;
    case PROP_SERVER_ENABLED: g_value_set_boolean (value, self->server_enabled); break;
    case PROP_CLIENT_ENABLED: g_value_set_boolean (value, self->client_enabled); break;
    case PROP_ALLOW_NON_PUBLIC: g_value_set_boolean (value, self->allow_non_public); break;
    case PROP_MIN_CONFIRMATIONS: g_value_set_uint (value, self->min_confirmations); break;
    case PROP_DIAL_TIMEOUT: g_value_set_uint (value, self->dial_timeout_ms); break;
    case PROP_MAX_REQUESTS_PER_PEER: g_value_set_uint (value, self->max_per_peer); break;
    case PROP_MAX_REQUESTS: g_value_set_uint (value, self->max_requests); break;
    case PROP_RATE_WINDOW: g_value_set_uint (value, self->rate_window_s); break;
    case PROP_REFRESH_INTERVAL: g_value_set_uint (value, self->refresh_s); break;
    case PROP_RETRY_INTERVAL: g_value_set_uint (value, self->retry_s); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_autonat_service_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PunchAutonatService *self = PUNCH_AUTONAT_SERVICE (object);

  switch (prop_id)
    {
    case PROP_SERVER_ENABLED:
      if (self->server_enabled == g_value_get_boolean (value))
        return;
      set_server_enabled (self, g_value_get_boolean (value));
      break;
    case PROP_CLIENT_ENABLED:
      if (self->client_enabled == g_value_get_boolean (value))
        return;
      self->client_enabled = g_value_get_boolean (value);
      if (self->host != NULL)
        watch (self, self->client_enabled);
      break;
    case PROP_ALLOW_NON_PUBLIC: self->allow_non_public = g_value_get_boolean (value); break;
    case PROP_MIN_CONFIRMATIONS:
      self->min_confirmations = g_value_get_uint (value);
      recompute_reachability (self);
      break;
    case PROP_DIAL_TIMEOUT: self->dial_timeout_ms = g_value_get_uint (value); break;
    case PROP_MAX_REQUESTS_PER_PEER: self->max_per_peer = g_value_get_uint (value); break;
    case PROP_MAX_REQUESTS: self->max_requests = g_value_get_uint (value); break;
    case PROP_RATE_WINDOW: self->rate_window_s = g_value_get_uint (value); break;
    case PROP_REFRESH_INTERVAL: self->refresh_s = g_value_get_uint (value); break;
    case PROP_RETRY_INTERVAL: self->retry_s = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); return;
    }
  g_object_notify_by_pspec (object, pspec);
}

static void
punch_autonat_service_class_init (PunchAutonatServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = punch_autonat_service_dispose;
  object_class->finalize = punch_autonat_service_finalize;
  object_class->get_property = punch_autonat_service_get_property;
  object_class->set_property = punch_autonat_service_set_property;

  properties[PROP_REACHABILITY] = g_param_spec_enum ("reachability", NULL, NULL, PUNCH_TYPE_REACHABILITY,
                                                     PUNCH_REACHABILITY_UNKNOWN, ro);
  properties[PROP_CONFIDENCE] = g_param_spec_uint ("confidence", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_PUBLIC_ADDR] = g_param_spec_boxed ("public-addr", NULL, NULL, PUNCH_TYPE_MULTIADDR, ro);
  properties[PROP_NAT_MAPPING] = g_param_spec_enum ("nat-mapping", NULL, NULL, PUNCH_TYPE_NAT_MAPPING,
                                                    PUNCH_NAT_MAPPING_UNKNOWN, ro);
  properties[PROP_SERVER_ENABLED] = g_param_spec_boolean ("server-enabled", NULL, NULL, TRUE, rw);
  properties[PROP_CLIENT_ENABLED] = g_param_spec_boolean ("client-enabled", NULL, NULL, TRUE, rw);
  properties[PROP_ALLOW_NON_PUBLIC] = g_param_spec_boolean ("allow-non-public", NULL, NULL, FALSE, rw);
  properties[PROP_MIN_CONFIRMATIONS] = g_param_spec_uint ("min-confirmations", NULL, NULL, 1, 64, 4, rw);
  properties[PROP_DIAL_TIMEOUT] = g_param_spec_uint ("dial-timeout", NULL, NULL, 100, 120000, 15000, rw);
  properties[PROP_MAX_REQUESTS_PER_PEER] = g_param_spec_uint ("max-requests-per-peer", NULL, NULL, 0, 1000, 3, rw);
  properties[PROP_MAX_REQUESTS] = g_param_spec_uint ("max-requests", NULL, NULL, 0, 100000, 30, rw);
  properties[PROP_RATE_WINDOW] = g_param_spec_uint ("rate-window", NULL, NULL, 1, 86400, 60, rw);
  properties[PROP_REFRESH_INTERVAL] = g_param_spec_uint ("refresh-interval", NULL, NULL, 1, 86400, 900, rw);
  properties[PROP_RETRY_INTERVAL] = g_param_spec_uint ("retry-interval", NULL, NULL, 1, 86400, 90, rw);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PunchAutonatService::answer:
   * @server: the peer that answered
   * @status: its ResponseStatus
   * @addr: (nullable): the address it reached
   */
  signals[ANSWER] = g_signal_new ("answer", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                  G_TYPE_NONE, 3, PUNCH_TYPE_PEER_ID, G_TYPE_INT, PUNCH_TYPE_MULTIADDR);
  /**
   * PunchAutonatService::served:
   * @client: the requester
   * @status: our ResponseStatus
   * @text: (nullable): our statusText
   */
  signals[SERVED] = g_signal_new ("served", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                  G_TYPE_NONE, 3, PUNCH_TYPE_PEER_ID, G_TYPE_INT, G_TYPE_STRING);
  /**
   * PunchAutonatService::observation:
   * @observation: (type gpointer): a PunchNatObservation, valid during the emission
   */
  signals[OBSERVATION] = g_signal_new ("observation", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                       NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  /**
   * PunchAutonatService::network-changed:
   * @what: "interfaces" (#GNetworkMonitor) or "external-address" (an
   *   observer sees us on a new public IP)
   *
   * Answers and observations were dropped as stale and a probe is due in
   * a few seconds; owners of reservations and listeners should renew them.
   */
  /**
   * PunchAutonatService::probed:
   * @reachability: (type PunchReachability): the reachability after it
   *
   * A probe (punch_autonat_service_probe_async(), or one the service ran
   * itself) got every answer it was going to get.
   */
  signals[PROBED] = g_signal_new ("probed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                  G_TYPE_NONE, 1, G_TYPE_INT);
  signals[NETWORK_CHANGED] = g_signal_new ("network-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                           NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
punch_autonat_service_init (PunchAutonatService *self)
{
  self->cancellable = g_cancellable_new ();
  self->answers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->inbound_seen = g_array_new (FALSE, TRUE, sizeof (InboundSeen));
  self->observations = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_nat_observation_free);
  self->window_counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->window_start = g_get_monotonic_time ();
  self->server_enabled = TRUE;
  self->client_enabled = TRUE;
  self->min_confirmations = 4;
  self->dial_timeout_ms = 15000;
  self->max_per_peer = 3;
  self->max_requests = 30;
  self->rate_window_s = 60;
  self->refresh_s = 900;
  self->retry_s = 90;
}

/**
 * punch_autonat_service_new:
 * @host: the host to serve and probe for
 * @identify: the identify service whose answers tell which peers serve
 *   AutoNAT and how they see us
 *
 * Returns: (transfer full): the service, serving and probing at once
 */
PunchAutonatService *
punch_autonat_service_new (PunchHost *host, PunchIdentifyService *identify)
{
  PunchAutonatService *self;

  g_return_val_if_fail (PUNCH_IS_HOST (host), NULL);
  g_return_val_if_fail (PUNCH_IS_IDENTIFY_SERVICE (identify), NULL);

  self = g_object_new (PUNCH_TYPE_AUTONAT_SERVICE, NULL);
  self->host = g_object_ref (host);
  self->identify = g_object_ref (identify);
  set_server_enabled (self, self->server_enabled);
  self->identified_id = g_signal_connect (identify, "identified", G_CALLBACK (on_identified), self);
  self->opened_id = g_signal_connect (host, "connection-opened", G_CALLBACK (on_connection_opened), self);
  watch (self, self->client_enabled);
  return self;
}
