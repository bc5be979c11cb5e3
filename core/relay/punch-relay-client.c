/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-relay-client.h"

#include "circuit.pb-c.h"
#include "punch-connection-private.h"
#include "punch-error.h"
#include "punch-host-private.h"
#include "punch-relay-proto.h"
#include "punch-relay-reservation-private.h"
#include "punch-signed-envelope.h"
#include "punch-upgrader.h"

/* Retry quickly at first (a relay that restarts is back within seconds),
 * then politely: public relays are shared. */
#define RETRY_FAST_ATTEMPTS 10
#define RETRY_FAST_MAX_S    4
#define RETRY_SLOW_S        30
/* Refresh with at least this much time left, so that a slow relay or one
 * failed attempt still leaves room for another before expiry. */
#define REFRESH_SLACK_S     120
/* A reservation request that takes longer than this has failed. */
#define RESERVE_TIMEOUT_S   30

struct _PunchRelayClient
{
  GObject parent_instance;

  PunchHost    *host;
  GListStore   *reservations;
  GHashTable   *entries;      /* PunchPeerId → Entry */
  GCancellable *cancellable;
};

G_DEFINE_FINAL_TYPE (PunchRelayClient, punch_relay_client, G_TYPE_OBJECT)

enum
{
  ADDRS_CHANGED,
  RENEWING,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef struct
{
  PunchRelayClient      *client;      /* unowned: the client owns the entry */
  PunchRelayReservation *reservation;
  GCancellable          *cancellable;
  guint                  timer_id;
  gulong                 closed_id;
  guint                  failures;
} Entry;

static void entry_connect (Entry *entry);
static void entry_reserve (Entry *entry);

static void
entry_disconnect_connection (Entry *entry)
{
  PunchConnection *conn = punch_relay_reservation_get_connection (entry->reservation);

  if (conn != NULL && entry->closed_id != 0)
    g_signal_handler_disconnect (conn, entry->closed_id);
  entry->closed_id = 0;
  punch_relay_reservation_set_connection (entry->reservation, NULL);
}

static void
entry_free (Entry *entry)
{
  g_cancellable_cancel (entry->cancellable);
  g_clear_object (&entry->cancellable);
  g_clear_handle_id (&entry->timer_id, g_source_remove);
  entry_disconnect_connection (entry);
  g_clear_object (&entry->reservation);
  g_free (entry);
}

static Entry *
lookup_entry (PunchRelayClient *self, PunchPeerId *relay)
{
  return g_hash_table_lookup (self->entries, relay);
}

/* Entries outlive async calls only through their cancellable: every callback
 * checks it before touching the entry. */
static gboolean
entry_timer_cb (gpointer user_data)
{
  Entry *entry = user_data;

  entry->timer_id = 0;
  if (punch_relay_reservation_get_connection (entry->reservation) != NULL
      && punch_connection_get_state (punch_relay_reservation_get_connection (entry->reservation))
           == PUNCH_CONNECTION_STATE_OPEN)
    entry_reserve (entry);
  else
    entry_connect (entry);
  return G_SOURCE_REMOVE;
}

static void
entry_schedule (Entry *entry, guint seconds)
{
  g_clear_handle_id (&entry->timer_id, g_source_remove);
  entry->timer_id = g_timeout_add_seconds (seconds, entry_timer_cb, entry);
  g_source_set_name_by_id (entry->timer_id, "[punchline] relay reservation timer");
}

static void
entry_failed (Entry *entry, const char *reason)
{
  gboolean was_active = punch_relay_reservation_is_active (entry->reservation);
  gint64 expire = punch_relay_reservation_get_expire (entry->reservation);
  guint delay;

  entry->failures++;
  punch_relay_reservation_set_attempts (entry->reservation, entry->failures);
  if (expire > 0 && g_get_real_time () / G_USEC_PER_SEC >= expire)
    punch_relay_reservation_set_state (entry->reservation, PUNCH_RESERVATION_STATE_EXPIRED, reason);
  else
    punch_relay_reservation_set_state (entry->reservation, PUNCH_RESERVATION_STATE_FAILED, reason);

  if (entry->failures <= RETRY_FAST_ATTEMPTS)
    delay = MIN (1u << MIN (entry->failures - 1, 5u), (guint) RETRY_FAST_MAX_S);
  else
    delay = RETRY_SLOW_S;
  g_debug ("relay %s: %s; retrying in %u s",
           punch_peer_id_to_string (punch_relay_reservation_get_relay_peer_id (entry->reservation)),
           reason, delay);
  entry_schedule (entry, delay);

  if (was_active)
    g_signal_emit (entry->client, signals[ADDRS_CHANGED], 0);
}

static void
on_relay_connection_closed (PunchConnection *conn, GError *error, gpointer user_data)
{
  Entry *entry = user_data;
  g_autofree char *reason = g_strdup_printf ("connection to the relay closed%s%s",
                                             error ? ": " : "", error ? error->message : "");

  entry_disconnect_connection (entry);
  entry_failed (entry, reason);
}

static void
entry_set_connection (Entry *entry, PunchConnection *conn)
{
  entry_disconnect_connection (entry);
  punch_relay_reservation_set_connection (entry->reservation, conn);
  entry->closed_id = g_signal_connect (conn, "closed", G_CALLBACK (on_relay_connection_closed), entry);
}

/* The relay may omit its addresses (go fills only public ones): then the
 * address we reached it on is the best we have. */
static GPtrArray *
relayed_addrs_from_reservation (Entry *entry, Circuit__Pb__Reservation *rsv)
{
  PunchRelayClient *self = entry->client;
  PunchPeerId *relay = punch_relay_reservation_get_relay_peer_id (entry->reservation);
  PunchPeerId *me = punch_host_get_peer_id (self->host);
  g_autoptr (GPtrArray) addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  g_autoptr (PunchMultiaddr) circuit = punch_multiaddr_new_from_string ("/p2p-circuit", NULL);
  gsize relay_len, me_len;
  const guint8 *relay_bytes = punch_peer_id_get_bytes (relay, &relay_len);
  const guint8 *me_bytes = punch_peer_id_get_bytes (me, &me_len);
  g_autoptr (GPtrArray) bases = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);

  for (gsize i = 0; rsv != NULL && i < rsv->n_addrs; i++)
    {
      g_autoptr (GError) error = NULL;
      PunchMultiaddr *ma = punch_multiaddr_new_from_bytes (rsv->addrs[i].data, rsv->addrs[i].len, &error);

      if (ma == NULL)
        {
          g_debug ("ignoring a relay address that does not parse: %s", error->message);
          continue;
        }
      g_ptr_array_add (bases, ma);
    }
  if (bases->len == 0)
    g_ptr_array_add (bases, punch_multiaddr_ref (punch_relay_reservation_get_relay_addr (entry->reservation)));

  for (guint i = 0; i < bases->len; i++)
    {
      PunchMultiaddr *base = g_ptr_array_index (bases, i);
      g_autoptr (GBytes) id = punch_multiaddr_get_peer_id_bytes (base);
      g_autoptr (PunchMultiaddr) with_relay = NULL;
      g_autoptr (PunchMultiaddr) with_circuit = NULL;

      if (punch_multiaddr_has_protocol (base, PUNCH_PROTO_P2P_CIRCUIT))
        continue;
      if (id == NULL)
        with_relay = punch_multiaddr_with_peer_id (base, relay_bytes, relay_len);
      else if (g_bytes_get_size (id) == relay_len
               && memcmp (g_bytes_get_data (id, NULL), relay_bytes, relay_len) == 0)
        with_relay = punch_multiaddr_ref (base);
      else
        continue;
      with_circuit = punch_multiaddr_concat (with_relay, circuit);
      g_ptr_array_add (addrs, punch_multiaddr_with_peer_id (with_circuit, me_bytes, me_len));
    }
  return g_steal_pointer (&addrs);
}

gboolean
punch_relay_verify_voucher (const guint8 *voucher,
                            gsize         len,
                            PunchPeerId  *relay,
                            PunchPeerId  *peer,
                            guint64       expire,
                            GError      **error)
{
  g_autoptr (PunchSignedEnvelope) env = NULL;
  GBytes *type;
  GBytes *payload;
  PunchPeerId *signer;
  Circuit__Pb__ReservationVoucher *v;
  gsize relay_len, peer_len;
  const guint8 *relay_bytes = punch_peer_id_get_bytes (relay, &relay_len);
  const guint8 *peer_bytes = punch_peer_id_get_bytes (peer, &peer_len);
  gboolean ok = FALSE;

  env = punch_signed_envelope_open (voucher, len, PUNCH_ENVELOPE_DOMAIN_RELAY_RSVP, error);
  if (env == NULL)
    return FALSE;

  type = punch_signed_envelope_get_payload_type (env);
  if (g_bytes_get_size (type) != 2 || memcmp (g_bytes_get_data (type, NULL), PUNCH_RELAY_VOUCHER_PAYLOAD_TYPE, 2) != 0)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "voucher has payload type %s, expected 0x0302",
                   g_bytes_get_size (type) == 2 ? "other" : "of a wrong length");
      return FALSE;
    }

  signer = punch_public_key_get_peer_id (punch_signed_envelope_get_public_key (env));
  if (!punch_peer_id_equal (signer, relay))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_BAD_SIGNATURE,
                   "voucher is signed by %s, not by the relay %s",
                   punch_peer_id_to_string (signer), punch_peer_id_to_string (relay));
      return FALSE;
    }

  payload = punch_signed_envelope_get_payload (env);
  v = circuit__pb__reservation_voucher__unpack (NULL, g_bytes_get_size (payload),
                                                g_bytes_get_data (payload, NULL));
  if (v == NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "voucher payload does not parse");
      return FALSE;
    }

  if (!v->has_relay || v->relay.len != relay_len || memcmp (v->relay.data, relay_bytes, relay_len) != 0)
    g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "voucher names another relay");
  else if (!v->has_peer || v->peer.len != peer_len || memcmp (v->peer.data, peer_bytes, peer_len) != 0)
    g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "voucher names another peer than us");
  else if (!v->has_expiration || v->expiration != expire)
    g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                 "voucher expiration %" G_GUINT64_FORMAT " differs from the reservation's %" G_GUINT64_FORMAT,
                 v->has_expiration ? v->expiration : 0, expire);
  else
    ok = TRUE;

  circuit__pb__reservation_voucher__free_unpacked (v, NULL);
  return ok;
}

static guint
refresh_delay (gint64 expire)
{
  gint64 remaining = expire - g_get_real_time () / G_USEC_PER_SEC;

  if (remaining <= 2)
    return 1;
  if (remaining > 4 * REFRESH_SLACK_S)
    return (guint) (remaining - MAX (REFRESH_SLACK_S, remaining / 4));
  return (guint) (remaining / 2);
}

typedef struct
{
  Entry        *entry;
  GCancellable *cancellable;
  /* The entry's cancellable when the op started: punch_relay_client_renew()
   * replaces the entry's, and a stale op must not count as a failure. */
  GCancellable *entry_cancellable;
  GIOStream    *stream;
  guint         timeout_id;
} ReserveOp;

static void
reserve_op_free (ReserveOp *op)
{
  g_clear_handle_id (&op->timeout_id, g_source_remove);
  if (op->stream != NULL)
    g_io_stream_close_async (op->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_clear_object (&op->stream);
  g_clear_object (&op->cancellable);
  g_clear_object (&op->entry_cancellable);
  g_free (op);
}

static gboolean
reserve_timeout_cb (gpointer user_data)
{
  ReserveOp *op = user_data;

  op->timeout_id = 0;
  g_cancellable_cancel (op->cancellable);
  return G_SOURCE_REMOVE;
}

static void
reserve_fail (ReserveOp *op, GError *error)
{
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
      || !g_cancellable_is_cancelled (op->entry_cancellable))
    {
      g_autofree char *reason = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        reason = g_strdup_printf ("the relay did not answer the reservation within %d s", RESERVE_TIMEOUT_S);
      else
        reason = g_strdup (error->message);
      entry_failed (op->entry, reason);
    }
  reserve_op_free (op);
}

static void
reserve_read_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ReserveOp *op = user_data;
  Entry *entry = op->entry;
  g_autoptr (GError) error = NULL;
  g_autoptr (Circuit__Pb__HopMessage) msg = punch_relay_read_hop_finish (G_IO_STREAM (source), result, &error);
  g_autoptr (GPtrArray) addrs = NULL;
  guint64 expire;

  if (msg == NULL)
    {
      g_prefix_error (&error, "reading the reservation reply: ");
      reserve_fail (op, g_steal_pointer (&error));
      return;
    }
  if (!msg->has_type || msg->type != CIRCUIT__PB__HOP_MESSAGE__TYPE__STATUS)
    {
      reserve_fail (op, g_error_new (PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                                     "the relay answered RESERVE with a message that is not STATUS"));
      return;
    }
  if (!msg->has_status || msg->status != CIRCUIT__PB__STATUS__OK)
    {
      punch_relay_set_status_error (&error, msg->has_status ? msg->status : CIRCUIT__PB__STATUS__UNUSED,
                                    "reservation refused");
      reserve_fail (op, g_steal_pointer (&error));
      return;
    }
  if (msg->reservation == NULL || !msg->reservation->has_expire)
    {
      reserve_fail (op, g_error_new (PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                                     "the relay accepted the reservation but sent no expiry"));
      return;
    }

  expire = msg->reservation->expire;
  if (msg->reservation->has_voucher && msg->reservation->voucher.len > 0)
    {
      g_autoptr (GError) verror = NULL;

      if (punch_relay_verify_voucher (msg->reservation->voucher.data, msg->reservation->voucher.len,
                                      punch_relay_reservation_get_relay_peer_id (entry->reservation),
                                      punch_host_get_peer_id (entry->client->host), expire, &verror))
        punch_relay_reservation_set_voucher (entry->reservation, PUNCH_VOUCHER_VALID, NULL);
      else
        {
          g_warning ("relay %s sent an invalid voucher: %s",
                     punch_peer_id_to_string (punch_relay_reservation_get_relay_peer_id (entry->reservation)),
                     verror->message);
          punch_relay_reservation_set_voucher (entry->reservation, PUNCH_VOUCHER_INVALID, verror->message);
        }
    }
  else
    punch_relay_reservation_set_voucher (entry->reservation, PUNCH_VOUCHER_NONE, NULL);

  addrs = relayed_addrs_from_reservation (entry, msg->reservation);
  entry->failures = 0;
  punch_relay_reservation_set_reserved (entry->reservation, (gint64) MIN (expire, (guint64) G_MAXINT64),
                                        msg->limit && msg->limit->has_duration ? msg->limit->duration : 0,
                                        msg->limit && msg->limit->has_data ? msg->limit->data : 0,
                                        addrs);
  entry_schedule (entry, refresh_delay ((gint64) MIN (expire, (guint64) G_MAXINT64)));
  reserve_op_free (op);
  g_signal_emit (entry->client, signals[ADDRS_CHANGED], 0);
}

static void
reserve_write_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ReserveOp *op = user_data;
  GError *error = NULL;

  if (!punch_relay_write_finish (G_IO_STREAM (source), result, &error))
    {
      g_prefix_error (&error, "sending RESERVE: ");
      reserve_fail (op, error);
      return;
    }
  punch_relay_read_hop_async (op->stream, op->cancellable, reserve_read_done, op);
}

static void
reserve_stream_opened (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ReserveOp *op = user_data;
  GError *error = NULL;
  Circuit__Pb__HopMessage msg = CIRCUIT__PB__HOP_MESSAGE__INIT;

  op->stream = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result, NULL, &error);
  if (op->stream == NULL)
    {
      g_prefix_error (&error, "opening the relay's hop protocol: ");
      reserve_fail (op, error);
      return;
    }

  msg.has_type = TRUE;
  msg.type = CIRCUIT__PB__HOP_MESSAGE__TYPE__RESERVE;
  punch_relay_write_async (op->stream, &msg.base, op->cancellable, reserve_write_done, op);
}

static void
entry_reserve (Entry *entry)
{
  PunchConnection *conn = punch_relay_reservation_get_connection (entry->reservation);
  const char *protocols[] = { PUNCH_RELAY_HOP_PROTOCOL, NULL };
  ReserveOp *op = g_new0 (ReserveOp, 1);

  op->entry = entry;
  op->cancellable = g_cancellable_new ();
  op->entry_cancellable = g_object_ref (entry->cancellable);
  g_signal_connect_object (entry->cancellable, "cancelled", G_CALLBACK (g_cancellable_cancel),
                           op->cancellable, G_CONNECT_SWAPPED);
  op->timeout_id = g_timeout_add_seconds (RESERVE_TIMEOUT_S, reserve_timeout_cb, op);

  punch_relay_reservation_set_state (entry->reservation,
                                     punch_relay_reservation_is_active (entry->reservation)
                                       ? PUNCH_RESERVATION_STATE_REFRESHING
                                       : PUNCH_RESERVATION_STATE_RESERVING,
                                     NULL);
  punch_connection_open_stream_async (conn, protocols, op->cancellable, reserve_stream_opened, op);
}

static void
entry_dial_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Entry *entry = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConnection) conn = punch_host_dial_finish (PUNCH_HOST (source), result, &error);

  if (conn == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        entry_failed (entry, error->message);
      return;
    }
  entry_set_connection (entry, conn);
  entry_reserve (entry);
}

static void
entry_connect (Entry *entry)
{
  PunchRelayClient *self = entry->client;
  PunchConnection *conn;

  punch_relay_reservation_set_state (entry->reservation, PUNCH_RESERVATION_STATE_CONNECTING, NULL);
  conn = punch_host_get_connection (self->host, punch_relay_reservation_get_relay_peer_id (entry->reservation));
  if (conn != NULL && !punch_connection_get_relayed (conn))
    {
      entry_set_connection (entry, conn);
      entry_reserve (entry);
      return;
    }
  punch_host_dial_async (self->host, punch_relay_reservation_get_relay_addr (entry->reservation),
                         entry->cancellable, entry_dial_done, entry);
}

/* ---- stop: circuits the relay opens to us ---- */

typedef struct
{
  PunchRelayClient *client;
  PunchConnection  *relay_conn;
  GIOStream        *stream;
  PunchPeerId      *src;
  gboolean          limited;
  PunchRelayLimit   limit;
} StopOp;

static void
stop_op_free (StopOp *op)
{
  g_clear_object (&op->client);
  g_clear_object (&op->relay_conn);
  g_clear_object (&op->stream);
  g_clear_pointer (&op->src, punch_peer_id_unref);
  g_free (op);
}

static PunchMultiaddr *
circuit_addr (PunchConnection *relay_conn, PunchPeerId *peer)
{
  PunchMultiaddr *base = punch_connection_get_remote_addr (relay_conn);
  g_autoptr (PunchMultiaddr) no_p2p = NULL;
  g_autoptr (PunchMultiaddr) with_relay = NULL;
  g_autoptr (PunchMultiaddr) circuit = punch_multiaddr_new_from_string ("/p2p-circuit", NULL);
  g_autoptr (PunchMultiaddr) with_circuit = NULL;
  gsize len;
  const guint8 *relay = punch_peer_id_get_bytes (punch_connection_get_peer_id (relay_conn), &len);
  const guint8 *peer_bytes;
  int p2p = punch_multiaddr_find_first (base, PUNCH_PROTO_P2P);

  no_p2p = p2p >= 0 ? punch_multiaddr_slice (base, 0, p2p) : punch_multiaddr_ref (base);
  with_relay = punch_multiaddr_with_peer_id (no_p2p, relay, len);
  with_circuit = punch_multiaddr_concat (with_relay, circuit);
  if (peer == NULL)
    return g_steal_pointer (&with_circuit);
  peer_bytes = punch_peer_id_get_bytes (peer, &len);
  return punch_multiaddr_with_peer_id (with_circuit, peer_bytes, len);
}

static void
stop_upgraded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  StopOp *op = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchUpgrade) upgrade = punch_upgrader_upgrade_finish (result, &error);
  g_autoptr (PunchMultiaddr) remote = NULL;
  PunchConnection *conn;

  if (upgrade == NULL)
    {
      g_debug ("relayed connection from %s failed to upgrade: %s",
               punch_peer_id_to_string (op->src), error->message);
      stop_op_free (op);
      return;
    }
  remote = circuit_addr (op->relay_conn, upgrade->peer_id);
  conn = punch_host_adopt_connection (op->client->host, upgrade,
                                      punch_connection_get_local_addr (op->relay_conn), remote,
                                      PUNCH_DIRECTION_INBOUND, TRUE, op->limited ? &op->limit : NULL, op->stream);
  g_debug ("accepted relayed connection %u from %s", punch_connection_get_id (conn),
           punch_peer_id_to_string (upgrade->peer_id));
  stop_op_free (op);
}

static void
stop_status_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  StopOp *op = user_data;
  g_autoptr (GError) error = NULL;

  if (!punch_relay_write_finish (G_IO_STREAM (source), result, &error) || op->src == NULL)
    {
      if (error != NULL)
        g_debug ("stop: %s", error->message);
      g_io_stream_close_async (op->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      stop_op_free (op);
      return;
    }
  /* The relay counts from our status on; nothing came in since the STOP,
   * so only the sent side and the clock move up to here. */
  {
    guint64 received_before = op->limit.received_before;

    punch_relay_limit_mark_start (&op->limit, op->stream);
    op->limit.received_before = received_before;
  }
  /* The peer that sent CONNECT is the security initiator; we respond. */
  punch_upgrader_upgrade_full_async (op->stream, FALSE, punch_host_get_private_key (op->client->host),
                                     op->src, punch_host_get_security_protocols (op->client->host),
                                     op->client->cancellable, stop_upgraded, op);
}

static void
stop_reply (StopOp *op, Circuit__Pb__Status status)
{
  Circuit__Pb__StopMessage msg = CIRCUIT__PB__STOP_MESSAGE__INIT;

  msg.has_type = TRUE;
  msg.type = CIRCUIT__PB__STOP_MESSAGE__TYPE__STATUS;
  msg.has_status = TRUE;
  msg.status = status;
  if (status != CIRCUIT__PB__STATUS__OK)
    g_clear_pointer (&op->src, punch_peer_id_unref);
  punch_relay_write_async (op->stream, &msg.base, op->client->cancellable, stop_status_written, op);
}

static void
stop_read_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  StopOp *op = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (Circuit__Pb__StopMessage) msg = punch_relay_read_stop_finish (G_IO_STREAM (source), result, &error);
  Entry *entry;

  if (msg == NULL)
    {
      g_debug ("stop: %s", error->message);
      if (g_error_matches (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED))
        {
          stop_reply (op, CIRCUIT__PB__STATUS__MALFORMED_MESSAGE);
          return;
        }
      g_io_stream_close_async (op->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      stop_op_free (op);
      return;
    }
  if (!msg->has_type || msg->type != CIRCUIT__PB__STOP_MESSAGE__TYPE__CONNECT)
    {
      stop_reply (op, CIRCUIT__PB__STATUS__UNEXPECTED_MESSAGE);
      return;
    }
  if (msg->peer == NULL || !msg->peer->has_id
      || (op->src = punch_peer_id_new_from_bytes (msg->peer->id.data, msg->peer->id.len, NULL)) == NULL)
    {
      stop_reply (op, CIRCUIT__PB__STATUS__MALFORMED_MESSAGE);
      return;
    }

  /* Only relays we asked for a slot may bring us circuits. */
  entry = lookup_entry (op->client, punch_connection_get_peer_id (op->relay_conn));
  if (entry == NULL || !punch_relay_reservation_is_active (entry->reservation)
      || punch_connection_get_relayed (op->relay_conn))
    {
      g_debug ("refusing a circuit from %s through %s: no reservation there",
               punch_peer_id_to_string (op->src),
               punch_peer_id_to_string (punch_connection_get_peer_id (op->relay_conn)));
      stop_reply (op, CIRCUIT__PB__STATUS__PERMISSION_DENIED);
      return;
    }

  op->limit.duration_s = msg->limit && msg->limit->has_duration ? msg->limit->duration : 0;
  op->limit.data_bytes = msg->limit && msg->limit->has_data ? msg->limit->data : 0;
  op->limited = op->limit.duration_s > 0 || op->limit.data_bytes > 0;
  /* The relay sends nothing more before our status: what it brought so far
   * is all outside its count. */
  punch_relay_limit_mark_start (&op->limit, op->stream);
  stop_reply (op, CIRCUIT__PB__STATUS__OK);
}

static void
stop_handler (PunchHost       *host,
              PunchConnection *connection,
              GIOStream       *stream,
              const char      *protocol,
              gpointer         user_data)
{
  PunchRelayClient *self = user_data;
  StopOp *op = g_new0 (StopOp, 1);

  op->client = g_object_ref (self);
  op->relay_conn = g_object_ref (connection);
  op->stream = g_object_ref (stream);
  punch_relay_read_stop_async (stream, self->cancellable, stop_read_done, op);
}

/* ---- dial through a relay ---- */

typedef struct
{
  PunchMultiaddr  *relay_addr;
  PunchPeerId     *relay;
  PunchPeerId     *dest;
  PunchConnection *relay_conn;
  GIOStream       *stream;
  gboolean         limited;
  PunchRelayLimit  limit;
} DialOp;

static void
dial_op_free (DialOp *op)
{
  g_clear_pointer (&op->relay_addr, punch_multiaddr_unref);
  g_clear_pointer (&op->relay, punch_peer_id_unref);
  g_clear_pointer (&op->dest, punch_peer_id_unref);
  g_clear_object (&op->relay_conn);
  g_clear_object (&op->stream);
  g_free (op);
}

static void
dial_upgraded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PunchRelayClient *self = g_task_get_source_object (task);
  DialOp *op = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (PunchUpgrade) upgrade = punch_upgrader_upgrade_finish (result, &error);
  g_autoptr (PunchMultiaddr) remote = NULL;
  PunchConnection *conn;

  if (upgrade == NULL)
    {
      g_prefix_error (&error, "securing the relayed connection: ");
      g_task_return_error (task, error);
      return;
    }
  remote = circuit_addr (op->relay_conn, op->dest);
  conn = punch_host_adopt_connection (self->host, upgrade, punch_connection_get_local_addr (op->relay_conn),
                                      remote, PUNCH_DIRECTION_OUTBOUND, TRUE, op->limited ? &op->limit : NULL,
                                      op->stream);
  g_task_return_pointer (task, g_object_ref (conn), g_object_unref);
}

static void
dial_status_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PunchRelayClient *self = g_task_get_source_object (task);
  DialOp *op = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;
  g_autoptr (Circuit__Pb__HopMessage) msg = punch_relay_read_hop_finish (G_IO_STREAM (source), result, &error);

  if (msg == NULL)
    {
      g_prefix_error (&error, "waiting for the relay's answer to CONNECT: ");
      g_task_return_error (task, error);
      return;
    }
  if (!msg->has_type || msg->type != CIRCUIT__PB__HOP_MESSAGE__TYPE__STATUS)
    {
      g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                               "the relay answered CONNECT with a message that is not STATUS");
      return;
    }
  if (!msg->has_status || msg->status != CIRCUIT__PB__STATUS__OK)
    {
      g_autofree char *what = g_strdup_printf ("relay %s could not connect us to %s",
                                               punch_peer_id_to_string (op->relay),
                                               punch_peer_id_to_string (op->dest));

      punch_relay_set_status_error (&error, msg->has_status ? msg->status : CIRCUIT__PB__STATUS__UNUSED, what);
      g_task_return_error (task, error);
      return;
    }
  op->limit.duration_s = msg->limit && msg->limit->has_duration ? msg->limit->duration : 0;
  op->limit.data_bytes = msg->limit && msg->limit->has_data ? msg->limit->data : 0;
  op->limited = op->limit.duration_s > 0 || op->limit.data_bytes > 0;
  /* The relay counts from its status on; the listener says nothing before
   * our first handshake message. */
  punch_relay_limit_mark_start (&op->limit, op->stream);
  /* We sent CONNECT, so we are the security initiator. */
  punch_upgrader_upgrade_full_async (op->stream, TRUE, punch_host_get_private_key (self->host), op->dest,
                                     punch_host_get_security_protocols (self->host), cancellable, dial_upgraded,
                                     g_steal_pointer (&task));
}

static void
dial_connect_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  DialOp *op = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;

  if (!punch_relay_write_finish (G_IO_STREAM (source), result, &error))
    {
      g_prefix_error (&error, "sending CONNECT to the relay: ");
      g_task_return_error (task, error);
      return;
    }
  punch_relay_read_hop_async (op->stream, cancellable, dial_status_read, g_steal_pointer (&task));
}

static void
dial_hop_opened (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  DialOp *op = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;
  Circuit__Pb__HopMessage msg = CIRCUIT__PB__HOP_MESSAGE__INIT;
  Circuit__Pb__Peer peer = CIRCUIT__PB__PEER__INIT;
  gsize len;
  const guint8 *id;

  op->stream = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result, NULL, &error);
  if (op->stream == NULL)
    {
      g_prefix_error (&error, "opening the relay's hop protocol: ");
      g_task_return_error (task, error);
      return;
    }
  id = punch_peer_id_get_bytes (op->dest, &len);
  peer.has_id = TRUE;
  peer.id.data = (guint8 *) id;
  peer.id.len = len;
  msg.has_type = TRUE;
  msg.type = CIRCUIT__PB__HOP_MESSAGE__TYPE__CONNECT;
  msg.peer = &peer;
  punch_relay_write_async (op->stream, &msg.base, cancellable, dial_connect_written, g_steal_pointer (&task));
}

static void
dial_with_relay_conn (GTask *task)
{
  DialOp *op = g_task_get_task_data (task);
  const char *protocols[] = { PUNCH_RELAY_HOP_PROTOCOL, NULL };

  if (punch_connection_get_relayed (op->relay_conn))
    {
      g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                               "refusing to open a circuit over a relayed connection");
      g_object_unref (task);
      return;
    }
  punch_connection_open_stream_async (op->relay_conn, protocols, g_task_get_cancellable (task),
                                      dial_hop_opened, task);
}

static void
dial_relay_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  DialOp *op = g_task_get_task_data (task);
  GError *error = NULL;

  op->relay_conn = punch_host_dial_finish (PUNCH_HOST (source), result, &error);
  if (op->relay_conn == NULL)
    {
      g_prefix_error (&error, "reaching the relay: ");
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  dial_with_relay_conn (task);
}

void
punch_relay_client_dial_async (PunchRelayClient   *self,
                               PunchMultiaddr     *addr,
                               GCancellable       *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer            user_data)
{
  GTask *task;
  DialOp *op;
  int circuit;
  g_autoptr (GBytes) relay_id = NULL;
  g_autoptr (PunchMultiaddr) dest_part = NULL;
  g_autoptr (GBytes) dest_id = NULL;
  PunchConnection *existing;
  g_autofree char *text = NULL;

  g_return_if_fail (PUNCH_IS_RELAY_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_relay_client_dial_async);
  op = g_new0 (DialOp, 1);
  g_task_set_task_data (task, op, (GDestroyNotify) dial_op_free);
  text = punch_multiaddr_to_string (addr);

  circuit = punch_multiaddr_find_first (addr, PUNCH_PROTO_P2P_CIRCUIT);
  if (circuit < 0)
    {
      g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "%s is not a relayed address", text);
      g_object_unref (task);
      return;
    }
  op->relay_addr = punch_multiaddr_slice (addr, 0, circuit);
  dest_part = punch_multiaddr_slice (addr, circuit + 1, -1);
  relay_id = punch_multiaddr_get_peer_id_bytes (op->relay_addr);
  dest_id = punch_multiaddr_get_peer_id_bytes (dest_part);
  if (relay_id == NULL || dest_id == NULL || punch_multiaddr_get_n_components (dest_part) != 1)
    {
      g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                               "%s: a relayed address must read <relay addr>/p2p/<relay id>/p2p-circuit/p2p/<peer id>",
                               text);
      g_object_unref (task);
      return;
    }
  op->relay = punch_peer_id_new_from_bytes (g_bytes_get_data (relay_id, NULL), g_bytes_get_size (relay_id), NULL);
  op->dest = punch_peer_id_new_from_bytes (g_bytes_get_data (dest_id, NULL), g_bytes_get_size (dest_id), NULL);
  g_assert (op->relay != NULL && op->dest != NULL); /* the multiaddr parser validated them */

  existing = punch_host_get_connection (self->host, op->relay);
  if (existing != NULL && !punch_connection_get_relayed (existing))
    {
      op->relay_conn = g_object_ref (existing);
      dial_with_relay_conn (task);
      return;
    }
  if (punch_multiaddr_get_n_components (op->relay_addr) == 1)
    {
      g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_NO_ADDRESSES,
                               "%s names the relay only by its ID and we are not connected to it", text);
      g_object_unref (task);
      return;
    }
  punch_host_dial_async (self->host, op->relay_addr, cancellable, dial_relay_done, task);
}

PunchConnection *
punch_relay_client_dial_finish (PunchRelayClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- the object ---- */

PunchRelayReservation *
punch_relay_client_add_relay (PunchRelayClient *self, PunchMultiaddr *relay_addr, GError **error)
{
  g_autoptr (GBytes) id_bytes = NULL;
  g_autoptr (PunchPeerId) relay = NULL;
  Entry *entry;

  g_return_val_if_fail (PUNCH_IS_RELAY_CLIENT (self), NULL);

  id_bytes = punch_multiaddr_get_peer_id_bytes (relay_addr);
  if (id_bytes == NULL || punch_multiaddr_has_protocol (relay_addr, PUNCH_PROTO_P2P_CIRCUIT))
    {
      g_autofree char *text = punch_multiaddr_to_string (relay_addr);

      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "relay address %s must end in /p2p/<relay id> and not be relayed itself", text);
      return NULL;
    }
  relay = punch_peer_id_new_from_bytes (g_bytes_get_data (id_bytes, NULL), g_bytes_get_size (id_bytes), error);
  if (relay == NULL)
    return NULL;
  if (punch_peer_id_equal (relay, punch_host_get_peer_id (self->host)))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "cannot use ourselves as a relay");
      return NULL;
    }

  entry = lookup_entry (self, relay);
  if (entry != NULL)
    return entry->reservation;

  entry = g_new0 (Entry, 1);
  entry->client = self;
  entry->cancellable = g_cancellable_new ();
  entry->reservation = punch_relay_reservation_new (relay_addr, relay);
  g_hash_table_insert (self->entries, punch_peer_id_ref (relay), entry);
  g_list_store_append (self->reservations, entry->reservation);
  entry_connect (entry);
  return entry->reservation;
}

void
punch_relay_client_remove_relay (PunchRelayClient *self, PunchPeerId *relay_peer_id)
{
  Entry *entry;
  guint pos;
  gboolean was_active;

  g_return_if_fail (PUNCH_IS_RELAY_CLIENT (self));

  entry = lookup_entry (self, relay_peer_id);
  if (entry == NULL)
    return;
  was_active = punch_relay_reservation_is_active (entry->reservation);
  if (g_list_store_find (self->reservations, entry->reservation, &pos))
    g_list_store_remove (self->reservations, pos);
  g_hash_table_remove (self->entries, relay_peer_id);
  if (was_active)
    g_signal_emit (self, signals[ADDRS_CHANGED], 0);
}

/**
 * punch_relay_client_renew:
 * @self: the relay client
 * @reason: (nullable): why, for people and logs (e.g. "network changed")
 *
 * Drops what a network change made stale and reserves again on every
 * relay: pending dials, reservation requests and timers are cancelled, the
 * connections to the relays are closed (their NAT mappings may be gone),
 * and each relay is dialled and asked for a new reservation at once,
 * without backoff. Emits "renewing" first, and "addrs-changed" when
 * relayed addresses went away.
 */
void
punch_relay_client_renew (PunchRelayClient *self, const char *reason)
{
  g_autoptr (GPtrArray) stale = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GPtrArray) entries = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;
  gboolean was_active = FALSE;

  g_return_if_fail (PUNCH_IS_RELAY_CLIENT (self));

  g_debug ("relay client: reserving again on every relay (%s)", reason ? reason : "asked");
  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Entry *entry = value;
      PunchConnection *conn = punch_relay_reservation_get_connection (entry->reservation);

      was_active |= punch_relay_reservation_is_active (entry->reservation);
      g_cancellable_cancel (entry->cancellable);
      g_clear_object (&entry->cancellable);
      entry->cancellable = g_cancellable_new ();
      g_clear_handle_id (&entry->timer_id, g_source_remove);
      if (conn != NULL)
        g_ptr_array_add (stale, g_object_ref (conn));
      entry_disconnect_connection (entry);
      entry->failures = 0;
      punch_relay_reservation_set_attempts (entry->reservation, 0);
      punch_relay_reservation_set_state (entry->reservation, PUNCH_RESERVATION_STATE_CONNECTING, reason);
      g_ptr_array_add (entries, entry);
    }
  /* Closing marks them closing at once, so entry_connect() dials anew. */
  for (guint i = 0; i < stale->len; i++)
    punch_connection_close (g_ptr_array_index (stale, i));
  g_signal_emit (self, signals[RENEWING], 0, reason);
  if (was_active)
    g_signal_emit (self, signals[ADDRS_CHANGED], 0);
  for (guint i = 0; i < entries->len; i++)
    entry_connect (g_ptr_array_index (entries, i));
}

GListModel *
punch_relay_client_get_reservations (PunchRelayClient *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_CLIENT (self), NULL);
  return G_LIST_MODEL (self->reservations);
}

GPtrArray *
punch_relay_client_get_relayed_addrs (PunchRelayClient *self)
{
  GPtrArray *addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->reservations));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchRelayReservation) rsv = g_list_model_get_item (G_LIST_MODEL (self->reservations), i);
      GPtrArray *ra = punch_relay_reservation_get_addrs (rsv);

      if (!punch_relay_reservation_is_active (rsv))
        continue;
      for (guint j = 0; j < ra->len; j++)
        g_ptr_array_add (addrs, punch_multiaddr_ref (g_ptr_array_index (ra, j)));
    }
  return addrs;
}

static void
punch_relay_client_dispose (GObject *object)
{
  PunchRelayClient *self = PUNCH_RELAY_CLIENT (object);

  g_cancellable_cancel (self->cancellable);
  if (self->host != NULL)
    {
      punch_host_remove_stream_handler (self->host, PUNCH_RELAY_STOP_PROTOCOL);
      punch_host_set_circuit_dialer (self->host, NULL, NULL, NULL);
    }
  g_clear_pointer (&self->entries, g_hash_table_unref);
  if (self->reservations != NULL)
    g_list_store_remove_all (self->reservations);
  g_clear_object (&self->host);

  G_OBJECT_CLASS (punch_relay_client_parent_class)->dispose (object);
}

static void
punch_relay_client_finalize (GObject *object)
{
  PunchRelayClient *self = PUNCH_RELAY_CLIENT (object);

  g_clear_object (&self->reservations);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (punch_relay_client_parent_class)->finalize (object);
}

static void
punch_relay_client_class_init (PunchRelayClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = punch_relay_client_dispose;
  object_class->finalize = punch_relay_client_finalize;

  /**
   * PunchRelayClient::addrs-changed:
   *
   * Our relayed addresses changed: a reservation was made, lost or removed.
   */
  signals[ADDRS_CHANGED] = g_signal_new ("addrs-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /**
   * PunchRelayClient::renewing:
   * @reason: (nullable): why
   *
   * punch_relay_client_renew() dropped every reservation's stale state and
   * is reserving again.
   */
  signals[RENEWING] = g_signal_new ("renewing", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                    0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
punch_relay_client_init (PunchRelayClient *self)
{
  self->reservations = g_list_store_new (PUNCH_TYPE_RELAY_RESERVATION);
  self->entries = g_hash_table_new_full (punch_peer_id_hash, punch_peer_id_equal,
                                         (GDestroyNotify) punch_peer_id_unref, (GDestroyNotify) entry_free);
  self->cancellable = g_cancellable_new ();
}

PunchRelayClient *
punch_relay_client_new (PunchHost *host)
{
  PunchRelayClient *self;

  g_return_val_if_fail (PUNCH_IS_HOST (host), NULL);

  self = g_object_new (PUNCH_TYPE_RELAY_CLIENT, NULL);
  self->host = g_object_ref (host);
  punch_host_set_stream_handler (host, PUNCH_RELAY_STOP_PROTOCOL, stop_handler, self, NULL);
  /* punch_host_dial_async() of a /p2p-circuit address lands here. */
  punch_host_set_circuit_dialer (host, self, (PunchHostCircuitDialFunc) punch_relay_client_dial_async,
                                 (PunchHostCircuitFinishFunc) punch_relay_client_dial_finish);
  return self;
}
