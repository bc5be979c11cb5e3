/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-dcutr-service.h"

#include "dcutr.pb-c.h"
#include "punch-addr-scope.h"
#include "punch-error.h"
#include "punch-framing.h"
#include "punch-hole-punch-private.h"

/* How long B waits for identify before it starts anyway (go: IdentifyWait). */
#define IDENTIFY_WAIT_MS     3000
/* One DCUtR exchange (CONNECT, CONNECT, SYNC) must finish within this. */
#define EXCHANGE_TIMEOUT_S   30
/* Each simultaneous-open attempt (go and rust: 10 s; js: 5 s). */
#define PUNCH_DIAL_TIMEOUT_MS 10000
/* Most addresses we send or try. */
#define MAX_ADDRS            16

struct _PunchDcutrService
{
  GObject parent_instance;

  PunchHost            *host;
  PunchIdentifyService *identify;
  GListStore           *punches;
  GCancellable         *cancellable;
  gulong                opened_id;
  gboolean              enabled;
  guint                 direct_dial_timeout_ms;
  guint                 relay_grace_s;
};

G_DEFINE_FINAL_TYPE (PunchDcutrService, punch_dcutr_service, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_ENABLED,
  PROP_DIRECT_DIAL_TIMEOUT,
  PROP_RELAY_GRACE,
  N_PROPS
};

enum
{
  PUNCH_STARTED,
  PUNCH_FINISHED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* One running exchange, either role. */
typedef struct
{
  PunchDcutrService *self;
  PunchHolePunch    *hp;
  PunchConnection   *relayed;
  GIOStream         *stream;
  GCancellable      *cancellable;
  GPtrArray         *remote;      /* PunchMultiaddr to dial */
  gint64             t0;
  guint              timer_id;
  guint              timeout_id;
  gulong             identified_id;
  gulong             identify_failed_id;
  guint              dials_pending;
  GError            *dial_error;
  gboolean           settled;     /* this exchange produced its result */
} Exchange;

static void b_attempt (Exchange *ex);
static void b_after_identify (Exchange *ex);

static void
exchange_free (Exchange *ex)
{
  g_clear_handle_id (&ex->timer_id, g_source_remove);
  g_clear_handle_id (&ex->timeout_id, g_source_remove);
  if (ex->identified_id != 0)
    g_signal_handler_disconnect (ex->self->identify, ex->identified_id);
  if (ex->identify_failed_id != 0)
    g_signal_handler_disconnect (ex->self->identify, ex->identify_failed_id);
  if (ex->cancellable != NULL)
    g_cancellable_cancel (ex->cancellable);
  if (ex->stream != NULL)
    g_io_stream_close_async (ex->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_clear_object (&ex->stream);
  g_clear_object (&ex->cancellable);
  g_clear_pointer (&ex->remote, g_ptr_array_unref);
  g_clear_error (&ex->dial_error);
  g_clear_object (&ex->relayed);
  g_clear_object (&ex->hp);
  g_clear_object (&ex->self);
  g_free (ex);
}

static Exchange *
exchange_new (PunchDcutrService *self, PunchHolePunch *hp, PunchConnection *relayed)
{
  Exchange *ex = g_new0 (Exchange, 1);

  ex->self = g_object_ref (self);
  ex->hp = g_object_ref (hp);
  ex->relayed = g_object_ref (relayed);
  ex->cancellable = g_cancellable_new ();
  g_signal_connect_object (self->cancellable, "cancelled", G_CALLBACK (g_cancellable_cancel),
                           ex->cancellable, G_CONNECT_SWAPPED);
  return ex;
}

static gboolean
close_relayed_cb (gpointer user_data)
{
  GWeakRef *ref = user_data;
  g_autoptr (PunchConnection) relayed = g_weak_ref_get (ref);

  if (relayed != NULL && punch_connection_get_state (relayed) == PUNCH_CONNECTION_STATE_OPEN)
    {
      g_debug ("closing relayed connection %u: a direct one replaced it", punch_connection_get_id (relayed));
      punch_connection_close (relayed);
    }
  return G_SOURCE_REMOVE;
}

static void
weak_ref_free (GWeakRef *ref)
{
  g_weak_ref_clear (ref);
  g_free (ref);
}

static void
finish_punch (PunchDcutrService *self, PunchHolePunch *hp, PunchConnection *relayed)
{
  if (punch_hole_punch_get_state (hp) == PUNCH_HOLE_PUNCH_STATE_SUCCEEDED && relayed != NULL)
    {
      GWeakRef *ref = g_new0 (GWeakRef, 1);

      /* Streams already open on the relayed connection get time to finish. */
      g_weak_ref_init (ref, relayed);
      g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, self->relay_grace_s, close_relayed_cb, ref,
                                  (GDestroyNotify) weak_ref_free);
    }
  g_signal_emit (self, signals[PUNCH_FINISHED], 0, hp);
}

/* ---- addresses ---- */

static gboolean
is_dialable_tcp (PunchMultiaddr *ma)
{
  PunchMultiaddrComponent host, tcp;

  if (punch_multiaddr_has_protocol (ma, PUNCH_PROTO_P2P_CIRCUIT))
    return FALSE;
  if (!punch_multiaddr_get_component (ma, 0, &host) || !punch_multiaddr_get_component (ma, 1, &tcp))
    return FALSE;
  if (host.code != PUNCH_PROTO_IP4 && host.code != PUNCH_PROTO_IP6 && host.code != PUNCH_PROTO_DNS
      && host.code != PUNCH_PROTO_DNS4 && host.code != PUNCH_PROTO_DNS6)
    return FALSE;
  return tcp.code == PUNCH_PROTO_TCP;
}

/* /host/tcp/port without anything after it. */
static PunchMultiaddr *
transport_part (PunchMultiaddr *ma)
{
  return punch_multiaddr_slice (ma, 0, 2);
}

static void
add_unique (GPtrArray *out, GHashTable *seen, PunchMultiaddr *ma)
{
  g_autoptr (PunchMultiaddr) t = NULL;
  char *text;

  if (!is_dialable_tcp (ma) || out->len >= MAX_ADDRS)
    return;
  t = transport_part (ma);
  text = punch_multiaddr_to_string (t);
  if (g_hash_table_add (seen, text))
    g_ptr_array_add (out, g_steal_pointer (&t));
}

GPtrArray *
punch_dcutr_service_get_candidate_addrs (PunchDcutrService *self)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  GListModel *conns = punch_host_get_connections (self->host);
  g_autoptr (GPtrArray) listen = punch_host_get_listen_addrs (self->host);
  guint n = g_list_model_get_n_items (conns);

  g_return_val_if_fail (PUNCH_IS_DCUTR_SERVICE (self), out);

  /* What others observe of us comes first: behind a NAT that is the
   * mapping a punch can reuse (dials leave from our listen port). Relayed
   * connections observe the relay, never us. */
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchConnection) conn = g_list_model_get_item (conns, i);
      PunchMultiaddr *observed = punch_connection_get_observed_addr (conn);

      if (observed != NULL && !punch_connection_get_relayed (conn) && punch_multiaddr_is_public (observed))
        add_unique (out, seen, observed);
    }
  for (guint i = 0; i < listen->len; i++)
    if (punch_multiaddr_is_public (g_ptr_array_index (listen, i)))
      add_unique (out, seen, g_ptr_array_index (listen, i));
  return out;
}

static GStrv
addrs_to_strv (GPtrArray *addrs)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; i < addrs->len; i++)
    {
      g_autofree char *text = punch_multiaddr_to_string (g_ptr_array_index (addrs, i));
      g_strv_builder_add (builder, text);
    }
  return g_strv_builder_end (builder);
}

/* The addresses in a peer's CONNECT that we can dial, for that peer. */
static GPtrArray *
parse_remote_addrs (Holepunch__Pb__HolePunch *msg, PunchPeerId *peer)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  gsize peer_len;
  const guint8 *peer_bytes = punch_peer_id_get_bytes (peer, &peer_len);

  for (gsize i = 0; i < msg->n_obsaddrs; i++)
    {
      g_autoptr (PunchMultiaddr) ma = punch_multiaddr_new_from_bytes (msg->obsaddrs[i].data, msg->obsaddrs[i].len, NULL);
      g_autoptr (GBytes) id = NULL;

      if (ma == NULL)
        continue;
      id = punch_multiaddr_get_peer_id_bytes (ma);
      if (id != NULL && (g_bytes_get_size (id) != peer_len || memcmp (g_bytes_get_data (id, NULL), peer_bytes, peer_len) != 0))
        continue;
      if (punch_multiaddr_get_scope (ma) == PUNCH_ADDR_SCOPE_LOOPBACK
          || punch_multiaddr_get_scope (ma) == PUNCH_ADDR_SCOPE_UNUSABLE)
        continue;
      add_unique (out, seen, ma);
    }
  return out;
}

/* ---- messages ---- */

static void
write_message (Exchange *ex, Holepunch__Pb__HolePunch__Type type, GPtrArray *addrs,
               GAsyncReadyCallback callback)
{
  Holepunch__Pb__HolePunch msg = HOLEPUNCH__PB__HOLE_PUNCH__INIT;
  g_autofree ProtobufCBinaryData *data = NULL;
  g_autoptr (GBytes) bytes = NULL;
  guint n = addrs ? addrs->len : 0;
  gsize len;
  guint8 *buf;

  msg.type = type;
  if (n > 0)
    {
      data = g_new0 (ProtobufCBinaryData, n);
      for (guint i = 0; i < n; i++)
        data[i].data = (guint8 *) punch_multiaddr_get_bytes (g_ptr_array_index (addrs, i), &data[i].len);
      msg.n_obsaddrs = n;
      msg.obsaddrs = data;
    }
  len = holepunch__pb__hole_punch__get_packed_size (&msg);
  buf = g_malloc (len);
  holepunch__pb__hole_punch__pack (&msg, buf);
  bytes = g_bytes_new_take (buf, len);
  punch_framing_write_async (g_io_stream_get_output_stream (ex->stream), bytes, ex->cancellable, callback, ex);
}

static Holepunch__Pb__HolePunch *
read_message_finish (GAsyncResult *result, GInputStream *in, Holepunch__Pb__HolePunch__Type expected, GError **error)
{
  g_autoptr (GBytes) bytes = punch_framing_read_finish (in, result, error);
  Holepunch__Pb__HolePunch *msg;

  if (bytes == NULL)
    return NULL;
  msg = holepunch__pb__hole_punch__unpack (NULL, g_bytes_get_size (bytes), g_bytes_get_data (bytes, NULL));
  if (msg == NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "malformed DCUtR message");
      return NULL;
    }
  if (msg->type != expected)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL, "expected a DCUtR %s message, got type %d",
                   expected == HOLEPUNCH__PB__HOLE_PUNCH__TYPE__CONNECT ? "CONNECT" : "SYNC", (int) msg->type);
      holepunch__pb__hole_punch__free_unpacked (msg, NULL);
      return NULL;
    }
  return msg;
}

/* ---- the simultaneous open: dial every candidate, first one wins ---- */

typedef void (*DialDone) (Exchange *ex, PunchConnection *direct, GError *error);

typedef struct
{
  Exchange *ex;
  DialDone  done;
} DialRace;

static void
race_dialed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DialRace *race = user_data;
  Exchange *ex = race->ex;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConnection) conn = punch_host_dial_finish (PUNCH_HOST (source), result, &error);

  ex->dials_pending--;
  if (conn != NULL && !ex->settled)
    {
      ex->settled = TRUE;
      g_cancellable_cancel (ex->cancellable);
      race->done (ex, conn, NULL);
    }
  else if (conn == NULL && ex->dial_error == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    ex->dial_error = g_steal_pointer (&error);

  if (ex->dials_pending == 0 && !ex->settled)
    {
      ex->settled = TRUE;
      race->done (ex, NULL, ex->dial_error ? g_error_copy (ex->dial_error)
                                           : g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled"));
    }
  else if (ex->dials_pending == 0)
    exchange_free (ex);
  g_free (race);
}

static void
dial_all (Exchange *ex, GPtrArray *addrs, PunchDialFlags flags, guint timeout_ms, DialDone done)
{
  gsize len;
  const guint8 *peer = punch_peer_id_get_bytes (punch_hole_punch_get_peer_id (ex->hp), &len);

  ex->settled = FALSE;
  g_clear_error (&ex->dial_error);
  g_clear_object (&ex->cancellable);
  ex->cancellable = g_cancellable_new ();
  g_signal_connect_object (ex->self->cancellable, "cancelled", G_CALLBACK (g_cancellable_cancel),
                           ex->cancellable, G_CONNECT_SWAPPED);
  for (guint i = 0; i < addrs->len; i++)
    {
      g_autoptr (PunchMultiaddr) full = punch_multiaddr_with_peer_id (g_ptr_array_index (addrs, i), peer, len);
      DialRace *race = g_new0 (DialRace, 1);

      race->ex = ex;
      race->done = done;
      ex->dials_pending++;
      punch_host_dial_full_async (ex->self->host, full, flags, timeout_ms, ex->cancellable, race_dialed, race);
    }
}

/* ---- role B: we accepted the relayed connection ---- */

static void
b_give_up_or_retry (Exchange *ex, const char *why)
{
  punch_hole_punch_set_error (ex->hp, why);
  if (punch_hole_punch_get_attempts (ex->hp) < PUNCH_DCUTR_MAX_ATTEMPTS
      && punch_connection_get_state (ex->relayed) == PUNCH_CONNECTION_STATE_OPEN)
    {
      if (ex->stream != NULL)
        g_io_stream_close_async (ex->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      g_clear_object (&ex->stream);
      b_attempt (ex);
      return;
    }
  punch_hole_punch_fail (ex->hp, PUNCH_HOLE_PUNCH_OUTCOME_FAILED, why);
  finish_punch (ex->self, ex->hp, ex->relayed);
  exchange_free (ex);
}

static void
b_punch_done (Exchange *ex, PunchConnection *direct, GError *error)
{
  if (direct != NULL)
    {
      punch_hole_punch_succeed (ex->hp, PUNCH_HOLE_PUNCH_OUTCOME_SUCCESS, direct);
      finish_punch (ex->self, ex->hp, ex->relayed);
      if (ex->dials_pending == 0)
        exchange_free (ex);
      return;
    }
  {
    g_autofree char *why = g_strdup_printf ("attempt %u: %s", punch_hole_punch_get_attempts (ex->hp), error->message);

    g_error_free (error);
    b_give_up_or_retry (ex, why);
  }
}

static gboolean
b_sync_timer_cb (gpointer user_data)
{
  Exchange *ex = user_data;

  ex->timer_id = 0;
  punch_hole_punch_set_state (ex->hp, PUNCH_HOLE_PUNCH_STATE_DIALING, NULL);
  /* B is the server of the connection the simultaneous open makes. */
  dial_all (ex, ex->remote, PUNCH_DIAL_FLAGS_AS_SERVER, PUNCH_DIAL_TIMEOUT_MS, b_punch_done);
  return G_SOURCE_REMOVE;
}

static void
b_sync_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Exchange *ex = user_data;
  g_autoptr (GError) error = NULL;
  gint64 rtt = punch_hole_punch_get_rtt (ex->hp);

  if (!punch_framing_write_finish (G_OUTPUT_STREAM (source), result, &error))
    {
      g_autofree char *why = g_strdup_printf ("sending SYNC: %s", error->message);
      b_give_up_or_retry (ex, why);
      return;
    }
  g_clear_handle_id (&ex->timeout_id, g_source_remove);
  punch_hole_punch_set_state (ex->hp, PUNCH_HOLE_PUNCH_STATE_SYNCING, NULL);
  /* A dials when SYNC arrives, half an RTT from now: dialing then makes the
   * two SYNs cross. */
  ex->timer_id = g_timeout_add ((guint) MAX (rtt / 2000, 0), b_sync_timer_cb, ex);
  g_source_set_name_by_id (ex->timer_id, "[punchline] dcutr rtt/2");
}

static void
b_connect_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Exchange *ex = user_data;
  g_autoptr (GError) error = NULL;
  Holepunch__Pb__HolePunch *msg = read_message_finish (result, G_INPUT_STREAM (source),
                                                       HOLEPUNCH__PB__HOLE_PUNCH__TYPE__CONNECT, &error);
  g_auto (GStrv) remote = NULL;

  if (msg == NULL)
    {
      g_autofree char *why = g_strdup_printf ("waiting for the peer's CONNECT: %s", error->message);
      b_give_up_or_retry (ex, why);
      return;
    }
  punch_hole_punch_set_rtt (ex->hp, g_get_monotonic_time () - ex->t0);
  g_clear_pointer (&ex->remote, g_ptr_array_unref);
  ex->remote = parse_remote_addrs (msg, punch_hole_punch_get_peer_id (ex->hp));
  holepunch__pb__hole_punch__free_unpacked (msg, NULL);
  remote = addrs_to_strv (ex->remote);
  punch_hole_punch_set_addrs (ex->hp, NULL, (const char * const *) remote);
  if (ex->remote->len == 0)
    {
      b_give_up_or_retry (ex, "the peer's CONNECT carried no address we can dial");
      return;
    }
  write_message (ex, HOLEPUNCH__PB__HOLE_PUNCH__TYPE__SYNC, NULL, b_sync_written);
}

static void
b_connect_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Exchange *ex = user_data;
  g_autoptr (GError) error = NULL;

  if (!punch_framing_write_finish (G_OUTPUT_STREAM (source), result, &error))
    {
      g_autofree char *why = g_strdup_printf ("sending CONNECT: %s", error->message);
      b_give_up_or_retry (ex, why);
      return;
    }
  punch_framing_read_async (g_io_stream_get_input_stream (ex->stream), PUNCH_DCUTR_MAX_MESSAGE, ex->cancellable,
                            b_connect_read, ex);
}

static gboolean
exchange_timeout_cb (gpointer user_data)
{
  Exchange *ex = user_data;

  ex->timeout_id = 0;
  g_cancellable_cancel (ex->cancellable);
  return G_SOURCE_REMOVE;
}

static void
b_stream_opened (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Exchange *ex = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) ours = NULL;
  g_auto (GStrv) local = NULL;

  ex->stream = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result, NULL, &error);
  if (ex->stream == NULL)
    {
      g_autofree char *why = g_strdup_printf ("opening %s: %s", PUNCH_DCUTR_PROTOCOL, error->message);

      if (punch_hole_punch_get_attempts (ex->hp) == 1)
        {
          punch_hole_punch_fail (ex->hp, PUNCH_HOLE_PUNCH_OUTCOME_NO_STREAM, why);
          finish_punch (ex->self, ex->hp, ex->relayed);
          exchange_free (ex);
          return;
        }
      b_give_up_or_retry (ex, why);
      return;
    }

  ours = punch_dcutr_service_get_candidate_addrs (ex->self);
  local = addrs_to_strv (ours);
  punch_hole_punch_set_addrs (ex->hp, (const char * const *) local, NULL);
  ex->t0 = g_get_monotonic_time ();
  write_message (ex, HOLEPUNCH__PB__HOLE_PUNCH__TYPE__CONNECT, ours, b_connect_written);
}

static void
b_attempt (Exchange *ex)
{
  const char *protocols[] = { PUNCH_DCUTR_PROTOCOL, NULL };

  g_clear_handle_id (&ex->timeout_id, g_source_remove);
  g_clear_object (&ex->cancellable);
  ex->cancellable = g_cancellable_new ();
  g_signal_connect_object (ex->self->cancellable, "cancelled", G_CALLBACK (g_cancellable_cancel),
                           ex->cancellable, G_CONNECT_SWAPPED);
  ex->timeout_id = g_timeout_add_seconds (EXCHANGE_TIMEOUT_S, exchange_timeout_cb, ex);
  punch_hole_punch_begin_attempt (ex->hp);
  punch_hole_punch_set_state (ex->hp, PUNCH_HOLE_PUNCH_STATE_EXCHANGING, NULL);
  punch_connection_open_stream_async (ex->relayed, protocols, ex->cancellable, b_stream_opened, ex);
}

static void
b_reverse_done (Exchange *ex, PunchConnection *direct, GError *error)
{
  if (direct != NULL)
    {
      punch_hole_punch_succeed (ex->hp, PUNCH_HOLE_PUNCH_OUTCOME_CONNECTION_REVERSED, direct);
      finish_punch (ex->self, ex->hp, ex->relayed);
      if (ex->dials_pending == 0)
        exchange_free (ex);
      return;
    }
  g_debug ("direct dial to %s failed (%s); hole punching", punch_peer_id_to_string (punch_hole_punch_get_peer_id (ex->hp)),
           error->message);
  g_error_free (error);
  b_attempt (ex);
}

static void
b_after_identify (Exchange *ex)
{
  PunchPeerStore *store = punch_host_get_peer_store (ex->self->host);
  PunchPeerInfo *info = punch_peer_store_lookup (store, punch_hole_punch_get_peer_id (ex->hp));
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) direct = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  GPtrArray *addrs = info ? punch_peer_info_get_addrs (info) : NULL;

  g_clear_handle_id (&ex->timer_id, g_source_remove);
  if (ex->identified_id != 0)
    g_clear_signal_handler (&ex->identified_id, ex->self->identify);
  if (ex->identify_failed_id != 0)
    g_clear_signal_handler (&ex->identify_failed_id, ex->self->identify);

  /* A peer that says it is publicly reachable gets a plain dial first
   * ("connection reversal"): no punch needed when it works. */
  for (guint i = 0; addrs != NULL && i < addrs->len; i++)
    if (punch_multiaddr_is_public (g_ptr_array_index (addrs, i)))
      add_unique (direct, seen, g_ptr_array_index (addrs, i));
  if (direct->len > 0)
    {
      punch_hole_punch_set_state (ex->hp, PUNCH_HOLE_PUNCH_STATE_REVERSING, NULL);
      dial_all (ex, direct, PUNCH_DIAL_FLAGS_NONE, ex->self->direct_dial_timeout_ms, b_reverse_done);
      return;
    }
  b_attempt (ex);
}

static void
on_identified (PunchIdentifyService *identify, PunchConnection *conn, gpointer info, gpointer user_data)
{
  Exchange *ex = user_data;

  if (conn == ex->relayed)
    b_after_identify (ex);
}

static void
on_identify_failed (PunchIdentifyService *identify, PunchConnection *conn, GError *error, gpointer user_data)
{
  Exchange *ex = user_data;

  if (conn == ex->relayed)
    b_after_identify (ex);
}

static gboolean
identify_wait_cb (gpointer user_data)
{
  Exchange *ex = user_data;

  ex->timer_id = 0;
  b_after_identify (ex);
  return G_SOURCE_REMOVE;
}

static void
on_connection_opened (PunchHost *host, PunchConnection *conn, gpointer user_data)
{
  PunchDcutrService *self = user_data;
  g_autoptr (PunchHolePunch) hp = NULL;
  Exchange *ex;

  /* B is the side that accepted the relayed connection. */
  if (!self->enabled || !punch_connection_get_relayed (conn)
      || punch_connection_get_direction (conn) != PUNCH_DIRECTION_INBOUND)
    return;

  hp = punch_hole_punch_new (punch_connection_get_peer_id (conn), PUNCH_HOLE_PUNCH_ROLE_B, conn);
  g_list_store_append (self->punches, hp);
  g_signal_emit (self, signals[PUNCH_STARTED], 0, hp);

  ex = exchange_new (self, hp, conn);
  ex->identified_id = g_signal_connect (self->identify, "identified", G_CALLBACK (on_identified), ex);
  ex->identify_failed_id = g_signal_connect (self->identify, "failed", G_CALLBACK (on_identify_failed), ex);
  ex->timer_id = g_timeout_add (IDENTIFY_WAIT_MS, identify_wait_cb, ex);
}

/* ---- role A: we dialled through the relay and answer ---- */

static PunchHolePunch *
find_open_punch_a (PunchDcutrService *self, PunchPeerId *peer)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->punches));

  for (guint i = n; i > 0; i--)
    {
      g_autoptr (PunchHolePunch) hp = g_list_model_get_item (G_LIST_MODEL (self->punches), i - 1);

      if (punch_hole_punch_get_role (hp) == PUNCH_HOLE_PUNCH_ROLE_A
          && punch_peer_id_equal (punch_hole_punch_get_peer_id (hp), peer)
          && punch_hole_punch_get_state (hp) != PUNCH_HOLE_PUNCH_STATE_SUCCEEDED
          && punch_hole_punch_get_attempts (hp) < PUNCH_DCUTR_MAX_ATTEMPTS)
        return g_steal_pointer (&hp);
    }
  return NULL;
}

static void
a_punch_done (Exchange *ex, PunchConnection *direct, GError *error)
{
  if (direct != NULL)
    {
      punch_hole_punch_succeed (ex->hp, PUNCH_HOLE_PUNCH_OUTCOME_SUCCESS, direct);
      finish_punch (ex->self, ex->hp, ex->relayed);
    }
  else
    {
      g_autofree char *why = g_strdup_printf ("attempt %u: %s", punch_hole_punch_get_attempts (ex->hp), error->message);

      g_error_free (error);
      punch_hole_punch_fail (ex->hp, PUNCH_HOLE_PUNCH_OUTCOME_FAILED, why);
      /* B may try again; the last failure is the final one. */
      if (punch_hole_punch_get_attempts (ex->hp) >= PUNCH_DCUTR_MAX_ATTEMPTS)
        finish_punch (ex->self, ex->hp, ex->relayed);
    }
  if (ex->dials_pending == 0)
    exchange_free (ex);
}

static void
a_fail (Exchange *ex, const char *what, GError *error)
{
  g_autofree char *why = g_strdup_printf ("%s: %s", what, error->message);

  punch_hole_punch_fail (ex->hp, PUNCH_HOLE_PUNCH_OUTCOME_FAILED, why);
  exchange_free (ex);
}

static void
a_sync_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Exchange *ex = user_data;
  g_autoptr (GError) error = NULL;
  Holepunch__Pb__HolePunch *msg = read_message_finish (result, G_INPUT_STREAM (source),
                                                       HOLEPUNCH__PB__HOLE_PUNCH__TYPE__SYNC, &error);

  if (msg == NULL)
    {
      a_fail (ex, "waiting for SYNC", error);
      return;
    }
  holepunch__pb__hole_punch__free_unpacked (msg, NULL);
  g_clear_handle_id (&ex->timeout_id, g_source_remove);
  /* A dials at once: B waits half an RTT, so both SYNs leave together. */
  punch_hole_punch_set_state (ex->hp, PUNCH_HOLE_PUNCH_STATE_DIALING, NULL);
  dial_all (ex, ex->remote, PUNCH_DIAL_FLAGS_NONE, PUNCH_DIAL_TIMEOUT_MS, a_punch_done);
}

static void
a_connect_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Exchange *ex = user_data;
  g_autoptr (GError) error = NULL;

  if (!punch_framing_write_finish (G_OUTPUT_STREAM (source), result, &error))
    {
      a_fail (ex, "sending CONNECT", error);
      return;
    }
  punch_hole_punch_set_state (ex->hp, PUNCH_HOLE_PUNCH_STATE_SYNCING, NULL);
  punch_framing_read_async (g_io_stream_get_input_stream (ex->stream), PUNCH_DCUTR_MAX_MESSAGE, ex->cancellable,
                            a_sync_read, ex);
}

static void
a_connect_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Exchange *ex = user_data;
  g_autoptr (GError) error = NULL;
  Holepunch__Pb__HolePunch *msg = read_message_finish (result, G_INPUT_STREAM (source),
                                                       HOLEPUNCH__PB__HOLE_PUNCH__TYPE__CONNECT, &error);
  g_autoptr (GPtrArray) ours = NULL;
  g_auto (GStrv) local = NULL;
  g_auto (GStrv) remote = NULL;

  if (msg == NULL)
    {
      a_fail (ex, "waiting for CONNECT", error);
      return;
    }
  ex->remote = parse_remote_addrs (msg, punch_hole_punch_get_peer_id (ex->hp));
  holepunch__pb__hole_punch__free_unpacked (msg, NULL);
  ours = punch_dcutr_service_get_candidate_addrs (ex->self);
  local = addrs_to_strv (ours);
  remote = addrs_to_strv (ex->remote);
  punch_hole_punch_set_addrs (ex->hp, (const char * const *) local, (const char * const *) remote);
  if (ex->remote->len == 0)
    {
      g_autoptr (GError) none = g_error_new (PUNCH_ERROR, PUNCH_ERROR_NO_ADDRESSES, "no address we can dial");
      a_fail (ex, "the peer's CONNECT", none);
      return;
    }
  write_message (ex, HOLEPUNCH__PB__HOLE_PUNCH__TYPE__CONNECT, ours, a_connect_written);
}

static void
dcutr_handler (PunchHost       *host,
               PunchConnection *conn,
               GIOStream       *stream,
               const char      *protocol,
               gpointer         user_data)
{
  PunchDcutrService *self = user_data;
  g_autoptr (PunchHolePunch) hp = NULL;
  Exchange *ex;

  /* Only the side that dialled through a relay answers (go does the same). */
  if (!punch_connection_get_relayed (conn) || punch_connection_get_direction (conn) != PUNCH_DIRECTION_OUTBOUND)
    {
      g_debug ("refusing DCUtR on connection %u: not an outbound relayed connection", punch_connection_get_id (conn));
      g_io_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      return;
    }

  hp = find_open_punch_a (self, punch_connection_get_peer_id (conn));
  if (hp == NULL)
    {
      hp = punch_hole_punch_new (punch_connection_get_peer_id (conn), PUNCH_HOLE_PUNCH_ROLE_A, conn);
      g_list_store_append (self->punches, hp);
      g_signal_emit (self, signals[PUNCH_STARTED], 0, hp);
    }
  punch_hole_punch_begin_attempt (hp);
  punch_hole_punch_set_state (hp, PUNCH_HOLE_PUNCH_STATE_EXCHANGING, NULL);

  ex = exchange_new (self, hp, conn);
  ex->stream = g_object_ref (stream);
  ex->timeout_id = g_timeout_add_seconds (EXCHANGE_TIMEOUT_S, exchange_timeout_cb, ex);
  punch_framing_read_async (g_io_stream_get_input_stream (stream), PUNCH_DCUTR_MAX_MESSAGE, ex->cancellable,
                            a_connect_read, ex);
}

/* ---- the object ---- */

GListModel *
punch_dcutr_service_get_punches (PunchDcutrService *self)
{
  g_return_val_if_fail (PUNCH_IS_DCUTR_SERVICE (self), NULL);
  return G_LIST_MODEL (self->punches);
}

static void
punch_dcutr_service_dispose (GObject *object)
{
  PunchDcutrService *self = PUNCH_DCUTR_SERVICE (object);

  g_cancellable_cancel (self->cancellable);
  if (self->host != NULL)
    {
      punch_host_remove_stream_handler (self->host, PUNCH_DCUTR_PROTOCOL);
      g_clear_signal_handler (&self->opened_id, self->host);
    }
  g_clear_object (&self->host);
  g_clear_object (&self->identify);

  G_OBJECT_CLASS (punch_dcutr_service_parent_class)->dispose (object);
}

static void
punch_dcutr_service_finalize (GObject *object)
{
  PunchDcutrService *self = PUNCH_DCUTR_SERVICE (object);

  g_clear_object (&self->punches);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (punch_dcutr_service_parent_class)->finalize (object);
}

static void
punch_dcutr_service_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PunchDcutrService *self = PUNCH_DCUTR_SERVICE (object);

  switch (prop_id)
    {
    case PROP_ENABLED: g_value_set_boolean (value, self->enabled); break;
    case PROP_DIRECT_DIAL_TIMEOUT: g_value_set_uint (value, self->direct_dial_timeout_ms); break;
    case PROP_RELAY_GRACE: g_value_set_uint (value, self->relay_grace_s); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_dcutr_service_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PunchDcutrService *self = PUNCH_DCUTR_SERVICE (object);

  switch (prop_id)
    {
    case PROP_ENABLED: self->enabled = g_value_get_boolean (value); break;
    case PROP_DIRECT_DIAL_TIMEOUT: self->direct_dial_timeout_ms = g_value_get_uint (value); break;
    case PROP_RELAY_GRACE: self->relay_grace_s = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); return;
    }
  g_object_notify_by_pspec (object, pspec);
}

static void
punch_dcutr_service_class_init (PunchDcutrServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = punch_dcutr_service_dispose;
  object_class->finalize = punch_dcutr_service_finalize;
  object_class->get_property = punch_dcutr_service_get_property;
  object_class->set_property = punch_dcutr_service_set_property;

  properties[PROP_ENABLED] = g_param_spec_boolean ("enabled", NULL, NULL, TRUE, rw);
  properties[PROP_DIRECT_DIAL_TIMEOUT] = g_param_spec_uint ("direct-dial-timeout", NULL, NULL, 100, 60000, 5000, rw);
  properties[PROP_RELAY_GRACE] = g_param_spec_uint ("relay-grace", NULL, NULL, 0, 3600, 5, rw);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[PUNCH_STARTED] = g_signal_new ("punch-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, PUNCH_TYPE_HOLE_PUNCH);
  signals[PUNCH_FINISHED] = g_signal_new ("punch-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                          NULL, NULL, NULL, G_TYPE_NONE, 1, PUNCH_TYPE_HOLE_PUNCH);
}

static void
punch_dcutr_service_init (PunchDcutrService *self)
{
  self->punches = g_list_store_new (PUNCH_TYPE_HOLE_PUNCH);
  self->cancellable = g_cancellable_new ();
  self->enabled = TRUE;
  self->direct_dial_timeout_ms = 5000;
  self->relay_grace_s = 5;
}

PunchDcutrService *
punch_dcutr_service_new (PunchHost *host, PunchIdentifyService *identify)
{
  PunchDcutrService *self;

  g_return_val_if_fail (PUNCH_IS_HOST (host), NULL);
  g_return_val_if_fail (PUNCH_IS_IDENTIFY_SERVICE (identify), NULL);

  self = g_object_new (PUNCH_TYPE_DCUTR_SERVICE, NULL);
  self->host = g_object_ref (host);
  self->identify = g_object_ref (identify);
  punch_host_set_stream_handler (host, PUNCH_DCUTR_PROTOCOL, dcutr_handler, self, NULL);
  self->opened_id = g_signal_connect (host, "connection-opened", G_CALLBACK (on_connection_opened), self);
  return self;
}
