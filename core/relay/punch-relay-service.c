/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-relay-service.h"

#include "circuit.pb-c.h"
#include "punch-error.h"
#include "punch-relay-proto.h"
#include "punch-signed-envelope.h"

/* A client that opens hop and says nothing is dropped after this long. */
#define REQUEST_TIMEOUT_S 30
/* How often expired reservations are swept. */
#define SWEEP_INTERVAL_S  10

typedef struct
{
  PunchPeerId *peer;
  gint64       expire;     /* UNIX seconds */
  char        *ip;         /* the client's IP, for the per-IP cap */
  guint        conn_id;    /* the connection the reservation lives on */
} Reservation;

struct _PunchRelayService
{
  GObject parent_instance;

  PunchHost    *host;
  GHashTable   *reservations;  /* PunchPeerId → Reservation */
  GHashTable   *circuit_count; /* PunchPeerId → count, as source or destination */
  GPtrArray    *circuits;      /* PunchRelayCircuit */
  GPtrArray    *announce;      /* PunchMultiaddr */
  GCancellable *cancellable;
  guint         sweep_id;
  gulong        closed_id;

  guint         ttl;
  guint         limit_duration;
  guint64       limit_data;
  guint         max_reservations;
  guint         max_per_ip;
  guint         max_circuits;
};

G_DEFINE_FINAL_TYPE (PunchRelayService, punch_relay_service, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_RESERVATION_TTL,
  PROP_LIMIT_DURATION,
  PROP_LIMIT_DATA,
  PROP_MAX_RESERVATIONS,
  PROP_MAX_RESERVATIONS_PER_IP,
  PROP_MAX_CIRCUITS_PER_PEER,
  PROP_N_RESERVATIONS,
  PROP_N_CIRCUITS,
  N_PROPS
};

enum
{
  RESERVATION,
  CIRCUIT,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
reservation_free (Reservation *rsv)
{
  g_clear_pointer (&rsv->peer, punch_peer_id_unref);
  g_free (rsv->ip);
  g_free (rsv);
}

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

/* The client's IP from its connection's remote multiaddr (/ip4/X/... or /ip6/X/...). */
static char *
connection_ip (PunchConnection *conn)
{
  PunchMultiaddr *remote = punch_connection_get_remote_addr (conn);
  PunchMultiaddrComponent c;

  if (remote == NULL || !punch_multiaddr_get_component (remote, 0, &c))
    return g_strdup ("?");
  if (c.code == PUNCH_PROTO_IP4 && c.value_len == 4)
    return g_strdup_printf ("%u.%u.%u.%u", c.value[0], c.value[1], c.value[2], c.value[3]);
  if (c.code == PUNCH_PROTO_IP6 && c.value_len == 16)
    {
      g_autoptr (GInetAddress) addr = g_inet_address_new_from_bytes (c.value, G_SOCKET_FAMILY_IPV6);
      return g_inet_address_to_string (addr);
    }
  return g_strdup ("?");
}

static void
emit_reservation (PunchRelayService *self, PunchPeerId *peer, const char *event, gint64 expire, const char *reason)
{
  g_debug ("reservation %s for %s%s%s", event, punch_peer_id_to_string (peer),
           reason ? ": " : "", reason ? reason : "");
  g_signal_emit (self, signals[RESERVATION], 0, peer, event, expire, reason);
}

static void
drop_reservation (PunchRelayService *self, PunchPeerId *peer, const char *event, const char *reason)
{
  Reservation *rsv = g_hash_table_lookup (self->reservations, peer);
  g_autoptr (PunchPeerId) id = NULL;
  gint64 expire;

  if (rsv == NULL)
    return;
  id = punch_peer_id_ref (rsv->peer);
  expire = rsv->expire;
  g_hash_table_remove (self->reservations, peer);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_RESERVATIONS]);
  emit_reservation (self, id, event, expire, reason);
}

static gboolean
sweep_cb (gpointer user_data)
{
  PunchRelayService *self = user_data;
  g_autoptr (GPtrArray) expired = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_peer_id_unref);
  GHashTableIter iter;
  Reservation *rsv;
  gint64 now = now_s ();

  g_hash_table_iter_init (&iter, self->reservations);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &rsv))
    if (rsv->expire <= now)
      g_ptr_array_add (expired, punch_peer_id_ref (rsv->peer));
  for (guint i = 0; i < expired->len; i++)
    drop_reservation (self, g_ptr_array_index (expired, i), "expired", "not refreshed before its expiry");
  return G_SOURCE_CONTINUE;
}

/* A reservation is valid only while its connection stays up (spec). */
static void
on_connection_closed (PunchHost *host, PunchConnection *conn, GError *error, gpointer user_data)
{
  PunchRelayService *self = user_data;
  Reservation *rsv = g_hash_table_lookup (self->reservations, punch_connection_get_peer_id (conn));

  if (rsv != NULL && rsv->conn_id == punch_connection_get_id (conn))
    drop_reservation (self, rsv->peer, "closed", "the reserving peer disconnected");
}

static guint
count_ip (PunchRelayService *self, const char *ip)
{
  GHashTableIter iter;
  Reservation *rsv;
  guint n = 0;

  g_hash_table_iter_init (&iter, self->reservations);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &rsv))
    if (g_strcmp0 (rsv->ip, ip) == 0)
      n++;
  return n;
}

static guint
circuits_of (PunchRelayService *self, PunchPeerId *peer)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (self->circuit_count, peer));
}

static void
circuits_add (PunchRelayService *self, PunchPeerId *peer, int delta)
{
  guint n = circuits_of (self, peer);

  n = (guint) ((int) n + delta);
  if (n == 0)
    g_hash_table_remove (self->circuit_count, peer);
  else
    g_hash_table_replace (self->circuit_count, punch_peer_id_ref (peer), GUINT_TO_POINTER (n));
}

/* ---- one hop request ---- */

typedef struct
{
  PunchRelayService *self;
  PunchConnection   *conn;
  GIOStream         *stream;       /* the requester's hop stream */
  PunchPeerId       *dst;
  PunchConnection   *dst_conn;
  GIOStream         *dst_stream;   /* the stop stream to the destination */
  guint              timeout_id;
  GCancellable      *cancellable;
  gboolean           bridged;
} Request;

static void
request_free (Request *req)
{
  g_clear_handle_id (&req->timeout_id, g_source_remove);
  if (!req->bridged)
    {
      if (req->stream != NULL)
        g_io_stream_close_async (req->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      if (req->dst_stream != NULL)
        g_io_stream_close_async (req->dst_stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
    }
  g_clear_object (&req->self);
  g_clear_object (&req->conn);
  g_clear_object (&req->stream);
  g_clear_pointer (&req->dst, punch_peer_id_unref);
  g_clear_object (&req->dst_conn);
  g_clear_object (&req->dst_stream);
  g_clear_object (&req->cancellable);
  g_free (req);
}

static gboolean
request_timeout_cb (gpointer user_data)
{
  Request *req = user_data;

  req->timeout_id = 0;
  g_cancellable_cancel (req->cancellable);
  return G_SOURCE_REMOVE;
}

static void
reply_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *req = user_data;
  g_autoptr (GError) error = NULL;

  if (!punch_relay_write_finish (G_IO_STREAM (source), result, &error))
    g_debug ("hop reply: %s", error->message);
  request_free (req);
}

static Circuit__Pb__Limit *
fill_limit (PunchRelayService *self, Circuit__Pb__Limit *limit)
{
  if (self->limit_duration == 0 && self->limit_data == 0)
    return NULL;
  circuit__pb__limit__init (limit);
  if (self->limit_duration > 0)
    {
      limit->has_duration = TRUE;
      limit->duration = self->limit_duration;
    }
  if (self->limit_data > 0)
    {
      limit->has_data = TRUE;
      limit->data = self->limit_data;
    }
  return limit;
}

static void
reply_status (Request *req, Circuit__Pb__Status status, const char *why)
{
  Circuit__Pb__HopMessage msg = CIRCUIT__PB__HOP_MESSAGE__INIT;

  if (status != CIRCUIT__PB__STATUS__OK)
    g_debug ("hop from %s refused: %s (%s)", punch_peer_id_to_string (punch_connection_get_peer_id (req->conn)),
             punch_relay_status_to_string (status), why ? why : "");
  msg.has_type = TRUE;
  msg.type = CIRCUIT__PB__HOP_MESSAGE__TYPE__STATUS;
  msg.has_status = TRUE;
  msg.status = status;
  punch_relay_write_async (req->stream, &msg.base, req->self->cancellable, reply_written, req);
}

static GPtrArray *
reservation_addrs (PunchRelayService *self)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  g_autoptr (GPtrArray) listen = NULL;
  GPtrArray *base = self->announce;
  gsize len;
  const guint8 *me = punch_peer_id_get_bytes (punch_host_get_peer_id (self->host), &len);

  if (base->len == 0)
    base = listen = punch_host_get_listen_addrs (self->host);
  for (guint i = 0; i < base->len; i++)
    {
      PunchMultiaddr *ma = g_ptr_array_index (base, i);

      if (punch_multiaddr_has_protocol (ma, PUNCH_PROTO_P2P))
        g_ptr_array_add (out, punch_multiaddr_ref (ma));
      else
        g_ptr_array_add (out, punch_multiaddr_with_peer_id (ma, me, len));
    }
  return out;
}

static void
handle_reserve (Request *req)
{
  PunchRelayService *self = req->self;
  PunchPeerId *peer = punch_connection_get_peer_id (req->conn);
  Reservation *rsv = g_hash_table_lookup (self->reservations, peer);
  g_autofree char *ip = connection_ip (req->conn);
  Circuit__Pb__HopMessage msg = CIRCUIT__PB__HOP_MESSAGE__INIT;
  Circuit__Pb__Reservation r = CIRCUIT__PB__RESERVATION__INIT;
  Circuit__Pb__ReservationVoucher v = CIRCUIT__PB__RESERVATION_VOUCHER__INIT;
  Circuit__Pb__Limit limit;
  g_autoptr (GPtrArray) addrs = NULL;
  g_autofree ProtobufCBinaryData *addr_data = NULL;
  g_autoptr (GBytes) voucher = NULL;
  g_autoptr (GBytes) payload = NULL;
  g_autoptr (GError) error = NULL;
  gboolean refresh = rsv != NULL;
  gsize len, relay_len;
  guint8 *payload_buf;

  if (!refresh && g_hash_table_size (self->reservations) >= self->max_reservations)
    {
      emit_reservation (self, peer, "refused", 0, "the relay holds its maximum of reservations");
      /* go and js answer a full relay with RESERVATION_REFUSED. */
      reply_status (req, CIRCUIT__PB__STATUS__RESERVATION_REFUSED, "max reservations");
      return;
    }
  /* count_ip() walks every reservation: not when there is no cap. */
  if (!refresh && self->max_per_ip < G_MAXUINT && count_ip (self, ip) >= self->max_per_ip)
    {
      emit_reservation (self, peer, "refused", 0, "too many reservations from this IP address");
      reply_status (req, CIRCUIT__PB__STATUS__RESERVATION_REFUSED, "max per IP");
      return;
    }

  if (rsv == NULL)
    {
      rsv = g_new0 (Reservation, 1);
      rsv->peer = punch_peer_id_ref (peer);
      g_hash_table_insert (self->reservations, rsv->peer, rsv);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_RESERVATIONS]);
    }
  g_free (rsv->ip);
  rsv->ip = g_steal_pointer (&ip);
  rsv->expire = now_s () + self->ttl;
  rsv->conn_id = punch_connection_get_id (req->conn);

  /* The voucher: relay, peer and expiration, signed by us. */
  v.has_relay = TRUE;
  v.relay.data = (guint8 *) punch_peer_id_get_bytes (punch_host_get_peer_id (self->host), &relay_len);
  v.relay.len = relay_len;
  v.has_peer = TRUE;
  v.peer.data = (guint8 *) punch_peer_id_get_bytes (peer, &len);
  v.peer.len = len;
  v.has_expiration = TRUE;
  v.expiration = (guint64) rsv->expire;
  len = circuit__pb__reservation_voucher__get_packed_size (&v);
  payload_buf = g_malloc (len);
  circuit__pb__reservation_voucher__pack (&v, payload_buf);
  payload = g_bytes_new_take (payload_buf, len);
  voucher = punch_signed_envelope_seal (punch_host_get_private_key (self->host), PUNCH_ENVELOPE_DOMAIN_RELAY_RSVP,
                                        PUNCH_RELAY_VOUCHER_PAYLOAD_TYPE, 2, payload, &error);
  if (voucher == NULL)
    g_warning ("could not sign a reservation voucher: %s", error->message);

  addrs = reservation_addrs (self);
  addr_data = g_new0 (ProtobufCBinaryData, MAX (addrs->len, 1));
  for (guint i = 0; i < addrs->len; i++)
    addr_data[i].data = (guint8 *) punch_multiaddr_get_bytes (g_ptr_array_index (addrs, i), &addr_data[i].len);

  r.has_expire = TRUE;
  r.expire = (guint64) rsv->expire;
  r.n_addrs = addrs->len;
  r.addrs = addr_data;
  if (voucher != NULL)
    {
      r.has_voucher = TRUE;
      r.voucher.data = (guint8 *) g_bytes_get_data (voucher, &r.voucher.len);
    }
  msg.has_type = TRUE;
  msg.type = CIRCUIT__PB__HOP_MESSAGE__TYPE__STATUS;
  msg.has_status = TRUE;
  msg.status = CIRCUIT__PB__STATUS__OK;
  msg.reservation = &r;
  msg.limit = fill_limit (self, &limit);

  emit_reservation (self, peer, refresh ? "refreshed" : "opened", rsv->expire, NULL);
  /* The message is packed before this returns: stack data is fine. */
  punch_relay_write_async (req->stream, &msg.base, self->cancellable, reply_written, req);
}

static void
circuit_finished (PunchRelayCircuit *circuit, const char *reason, gpointer user_data)
{
  PunchRelayService *self = user_data;

  circuits_add (self, punch_relay_circuit_get_src (circuit), -1);
  circuits_add (self, punch_relay_circuit_get_dst (circuit), -1);
  g_signal_emit (self, signals[CIRCUIT], 0, circuit, "closed", reason);
  g_signal_handlers_disconnect_by_data (circuit, self);
  g_ptr_array_remove (self->circuits, circuit);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_CIRCUITS]);
}

static void
refuse_circuit (Request *req, Circuit__Pb__Status status, const char *why)
{
  g_autofree char *reason = g_strdup_printf ("%s → %s: %s", punch_peer_id_to_string (punch_connection_get_peer_id (req->conn)),
                                             req->dst ? punch_peer_id_to_string (req->dst) : "?", why);

  g_signal_emit (req->self, signals[CIRCUIT], 0, NULL, "refused", reason);
  reply_status (req, status, why);
}

static void
connect_ok_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *req = user_data;
  PunchRelayService *self = req->self;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchRelayCircuit) circuit = NULL;
  PunchPeerId *src = punch_connection_get_peer_id (req->conn);

  if (!punch_relay_write_finish (G_IO_STREAM (source), result, &error))
    {
      g_debug ("CONNECT reply: %s", error->message);
      request_free (req);
      return;
    }
  g_clear_handle_id (&req->timeout_id, g_source_remove);

  circuit = punch_relay_circuit_new (src, req->stream, req->dst, req->dst_stream,
                                     self->limit_duration, self->limit_data);
  circuits_add (self, src, 1);
  circuits_add (self, req->dst, 1);
  g_ptr_array_add (self->circuits, g_object_ref (circuit));
  g_signal_connect (circuit, "finished", G_CALLBACK (circuit_finished), self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_CIRCUITS]);
  g_signal_emit (self, signals[CIRCUIT], 0, circuit, "opened", NULL);
  req->bridged = TRUE;
  punch_relay_circuit_start (circuit);
  request_free (req);
}

static void
stop_status_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *req = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (Circuit__Pb__StopMessage) reply = punch_relay_read_stop_finish (G_IO_STREAM (source), result, &error);
  Circuit__Pb__HopMessage msg = CIRCUIT__PB__HOP_MESSAGE__INIT;
  Circuit__Pb__Limit limit;

  if (reply == NULL)
    {
      g_autofree char *why = g_strdup_printf ("the destination did not answer: %s", error->message);
      refuse_circuit (req, CIRCUIT__PB__STATUS__CONNECTION_FAILED, why);
      return;
    }
  if (!reply->has_type || reply->type != CIRCUIT__PB__STOP_MESSAGE__TYPE__STATUS
      || !reply->has_status || reply->status != CIRCUIT__PB__STATUS__OK)
    {
      g_autofree char *why = g_strdup_printf ("the destination refused (%s)",
                                              punch_relay_status_to_string (reply->has_status ? reply->status : 0));
      refuse_circuit (req, CIRCUIT__PB__STATUS__CONNECTION_FAILED, why);
      return;
    }

  msg.has_type = TRUE;
  msg.type = CIRCUIT__PB__HOP_MESSAGE__TYPE__STATUS;
  msg.has_status = TRUE;
  msg.status = CIRCUIT__PB__STATUS__OK;
  msg.limit = fill_limit (req->self, &limit);
  punch_relay_write_async (req->stream, &msg.base, req->cancellable, connect_ok_written, req);
}

static void
stop_connect_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *req = user_data;
  g_autoptr (GError) error = NULL;

  if (!punch_relay_write_finish (G_IO_STREAM (source), result, &error))
    {
      g_autofree char *why = g_strdup_printf ("could not reach the destination: %s", error->message);
      refuse_circuit (req, CIRCUIT__PB__STATUS__CONNECTION_FAILED, why);
      return;
    }
  punch_relay_read_stop_async (req->dst_stream, req->cancellable, stop_status_read, req);
}

static void
stop_opened (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *req = user_data;
  g_autoptr (GError) error = NULL;
  Circuit__Pb__StopMessage msg = CIRCUIT__PB__STOP_MESSAGE__INIT;
  Circuit__Pb__Peer peer = CIRCUIT__PB__PEER__INIT;
  Circuit__Pb__Limit limit;
  gsize len;

  req->dst_stream = punch_connection_open_stream_finish (PUNCH_CONNECTION (source), result, NULL, &error);
  if (req->dst_stream == NULL)
    {
      g_autofree char *why = g_strdup_printf ("could not open the stop protocol on the destination: %s",
                                              error->message);
      refuse_circuit (req, CIRCUIT__PB__STATUS__CONNECTION_FAILED, why);
      return;
    }
  peer.has_id = TRUE;
  peer.id.data = (guint8 *) punch_peer_id_get_bytes (punch_connection_get_peer_id (req->conn), &len);
  peer.id.len = len;
  msg.has_type = TRUE;
  msg.type = CIRCUIT__PB__STOP_MESSAGE__TYPE__CONNECT;
  msg.peer = &peer;
  msg.limit = fill_limit (req->self, &limit);
  punch_relay_write_async (req->dst_stream, &msg.base, req->cancellable, stop_connect_written, req);
}

static void
handle_connect (Request *req, Circuit__Pb__HopMessage *msg)
{
  PunchRelayService *self = req->self;
  PunchPeerId *src = punch_connection_get_peer_id (req->conn);
  Reservation *rsv;
  const char *protocols[] = { PUNCH_RELAY_STOP_PROTOCOL, NULL };

  if (msg->peer == NULL || !msg->peer->has_id
      || (req->dst = punch_peer_id_new_from_bytes (msg->peer->id.data, msg->peer->id.len, NULL)) == NULL)
    {
      refuse_circuit (req, CIRCUIT__PB__STATUS__MALFORMED_MESSAGE, "CONNECT without a valid peer ID");
      return;
    }
  rsv = g_hash_table_lookup (self->reservations, req->dst);
  if (rsv == NULL || rsv->expire <= now_s ())
    {
      refuse_circuit (req, CIRCUIT__PB__STATUS__NO_RESERVATION, "the destination holds no reservation");
      return;
    }
  if (circuits_of (self, src) >= self->max_circuits || circuits_of (self, req->dst) >= self->max_circuits)
    {
      refuse_circuit (req, CIRCUIT__PB__STATUS__RESOURCE_LIMIT_EXCEEDED, "too many circuits for this peer");
      return;
    }
  req->dst_conn = punch_host_get_connection (self->host, req->dst);
  if (req->dst_conn == NULL || punch_connection_get_relayed (req->dst_conn))
    {
      req->dst_conn = NULL;
      refuse_circuit (req, CIRCUIT__PB__STATUS__CONNECTION_FAILED, "the destination is not connected");
      return;
    }
  g_object_ref (req->dst_conn);
  punch_connection_open_stream_async (req->dst_conn, protocols, req->cancellable, stop_opened, req);
}

static void
hop_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *req = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (Circuit__Pb__HopMessage) msg = punch_relay_read_hop_finish (G_IO_STREAM (source), result, &error);

  if (msg == NULL)
    {
      if (g_error_matches (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED)
          || g_error_matches (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE))
        {
          reply_status (req, CIRCUIT__PB__STATUS__MALFORMED_MESSAGE, error->message);
          return;
        }
      g_debug ("hop request: %s", error->message);
      request_free (req);
      return;
    }

  /* Relayed connections never carry reservations or circuits (spec). */
  if (punch_connection_get_relayed (req->conn))
    {
      reply_status (req, CIRCUIT__PB__STATUS__PERMISSION_DENIED, "request over a relayed connection");
      return;
    }

  if (!msg->has_type)
    reply_status (req, CIRCUIT__PB__STATUS__MALFORMED_MESSAGE, "no message type");
  else if (msg->type == CIRCUIT__PB__HOP_MESSAGE__TYPE__RESERVE)
    handle_reserve (req);
  else if (msg->type == CIRCUIT__PB__HOP_MESSAGE__TYPE__CONNECT)
    handle_connect (req, msg);
  else
    reply_status (req, CIRCUIT__PB__STATUS__UNEXPECTED_MESSAGE, "STATUS is not a request");
}

static void
hop_handler (PunchHost       *host,
             PunchConnection *connection,
             GIOStream       *stream,
             const char      *protocol,
             gpointer         user_data)
{
  PunchRelayService *self = user_data;
  Request *req = g_new0 (Request, 1);

  req->self = g_object_ref (self);
  req->conn = g_object_ref (connection);
  req->stream = g_object_ref (stream);
  req->cancellable = g_cancellable_new ();
  g_signal_connect_object (self->cancellable, "cancelled", G_CALLBACK (g_cancellable_cancel),
                           req->cancellable, G_CONNECT_SWAPPED);
  req->timeout_id = g_timeout_add_seconds (REQUEST_TIMEOUT_S, request_timeout_cb, req);
  punch_relay_read_hop_async (stream, req->cancellable, hop_read, req);
}

void
punch_relay_service_set_announce_addrs (PunchRelayService *self, GPtrArray *addrs)
{
  g_return_if_fail (PUNCH_IS_RELAY_SERVICE (self));

  g_ptr_array_set_size (self->announce, 0);
  for (guint i = 0; addrs != NULL && i < addrs->len; i++)
    g_ptr_array_add (self->announce, punch_multiaddr_ref (g_ptr_array_index (addrs, i)));
}

guint
punch_relay_service_get_n_reservations (PunchRelayService *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_SERVICE (self), 0);
  return g_hash_table_size (self->reservations);
}

guint
punch_relay_service_get_n_circuits (PunchRelayService *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_SERVICE (self), 0);
  return self->circuits->len;
}

static void
punch_relay_service_dispose (GObject *object)
{
  PunchRelayService *self = PUNCH_RELAY_SERVICE (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  if (self->circuits->len > 0)
    {
      g_autoptr (GPtrArray) open = g_ptr_array_copy (self->circuits, (GCopyFunc) (void (*) (void)) g_object_ref, NULL);

      g_ptr_array_set_free_func (open, g_object_unref);
      for (guint i = 0; i < open->len; i++)
        punch_relay_circuit_abort (g_ptr_array_index (open, i), "the relay is shutting down");
    }
  if (self->host != NULL)
    {
      punch_host_remove_stream_handler (self->host, PUNCH_RELAY_HOP_PROTOCOL);
      g_clear_signal_handler (&self->closed_id, self->host);
    }
  g_clear_object (&self->host);

  G_OBJECT_CLASS (punch_relay_service_parent_class)->dispose (object);
}

static void
punch_relay_service_finalize (GObject *object)
{
  PunchRelayService *self = PUNCH_RELAY_SERVICE (object);

  g_clear_pointer (&self->reservations, g_hash_table_unref);
  g_clear_pointer (&self->circuit_count, g_hash_table_unref);
  g_clear_pointer (&self->circuits, g_ptr_array_unref);
  g_clear_pointer (&self->announce, g_ptr_array_unref);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (punch_relay_service_parent_class)->finalize (object);
}

static void
punch_relay_service_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PunchRelayService *self = PUNCH_RELAY_SERVICE (object);

  switch (prop_id)
    {
    case PROP_RESERVATION_TTL: g_value_set_uint (value, self->ttl); break;
    case PROP_LIMIT_DURATION: g_value_set_uint (value, self->limit_duration); break;
    case PROP_LIMIT_DATA: g_value_set_uint64 (value, self->limit_data); break;
    case PROP_MAX_RESERVATIONS: g_value_set_uint (value, self->max_reservations); break;
    case PROP_MAX_RESERVATIONS_PER_IP: g_value_set_uint (value, self->max_per_ip); break;
    case PROP_MAX_CIRCUITS_PER_PEER: g_value_set_uint (value, self->max_circuits); break;
    case PROP_N_RESERVATIONS: g_value_set_uint (value, g_hash_table_size (self->reservations)); break;
    case PROP_N_CIRCUITS: g_value_set_uint (value, self->circuits->len); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_relay_service_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PunchRelayService *self = PUNCH_RELAY_SERVICE (object);

  switch (prop_id)
    {
    case PROP_RESERVATION_TTL: self->ttl = g_value_get_uint (value); break;
    case PROP_LIMIT_DURATION: self->limit_duration = g_value_get_uint (value); break;
    case PROP_LIMIT_DATA: self->limit_data = g_value_get_uint64 (value); break;
    case PROP_MAX_RESERVATIONS: self->max_reservations = g_value_get_uint (value); break;
    case PROP_MAX_RESERVATIONS_PER_IP: self->max_per_ip = g_value_get_uint (value); break;
    case PROP_MAX_CIRCUITS_PER_PEER: self->max_circuits = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); return;
    }
  g_object_notify_by_pspec (object, pspec);
}

static void
punch_relay_service_class_init (PunchRelayServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = punch_relay_service_dispose;
  object_class->finalize = punch_relay_service_finalize;
  object_class->get_property = punch_relay_service_get_property;
  object_class->set_property = punch_relay_service_set_property;

  properties[PROP_RESERVATION_TTL] = g_param_spec_uint ("reservation-ttl", NULL, NULL, 1, G_MAXUINT32,
                                                        PUNCH_RELAY_DEFAULT_TTL, rw);
  properties[PROP_LIMIT_DURATION] = g_param_spec_uint ("limit-duration", NULL, NULL, 0, G_MAXUINT32,
                                                       PUNCH_RELAY_DEFAULT_LIMIT_DURATION, rw);
  properties[PROP_LIMIT_DATA] = g_param_spec_uint64 ("limit-data", NULL, NULL, 0, G_MAXUINT64,
                                                     PUNCH_RELAY_DEFAULT_LIMIT_DATA, rw);
  properties[PROP_MAX_RESERVATIONS] = g_param_spec_uint ("max-reservations", NULL, NULL, 0, G_MAXUINT,
                                                         PUNCH_RELAY_DEFAULT_MAX_RESERVATIONS, rw);
  properties[PROP_MAX_RESERVATIONS_PER_IP] = g_param_spec_uint ("max-reservations-per-ip", NULL, NULL, 0, G_MAXUINT,
                                                                PUNCH_RELAY_DEFAULT_MAX_PER_IP, rw);
  properties[PROP_MAX_CIRCUITS_PER_PEER] = g_param_spec_uint ("max-circuits-per-peer", NULL, NULL, 0, G_MAXUINT,
                                                              PUNCH_RELAY_DEFAULT_MAX_CIRCUITS, rw);
  properties[PROP_N_RESERVATIONS] = g_param_spec_uint ("n-reservations", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_N_CIRCUITS] = g_param_spec_uint ("n-circuits", NULL, NULL, 0, G_MAXUINT, 0, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[RESERVATION] = g_signal_new ("reservation", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                       NULL, NULL, NULL, G_TYPE_NONE, 4,
                                       PUNCH_TYPE_PEER_ID, G_TYPE_STRING, G_TYPE_INT64, G_TYPE_STRING);
  signals[CIRCUIT] = g_signal_new ("circuit", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                   NULL, NULL, NULL, G_TYPE_NONE, 3,
                                   PUNCH_TYPE_RELAY_CIRCUIT, G_TYPE_STRING, G_TYPE_STRING);
}

static void
punch_relay_service_init (PunchRelayService *self)
{
  self->reservations = g_hash_table_new_full (punch_peer_id_hash, punch_peer_id_equal, NULL,
                                              (GDestroyNotify) reservation_free);
  self->circuit_count = g_hash_table_new_full (punch_peer_id_hash, punch_peer_id_equal,
                                               (GDestroyNotify) punch_peer_id_unref, NULL);
  self->circuits = g_ptr_array_new_with_free_func (g_object_unref);
  self->announce = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  self->cancellable = g_cancellable_new ();
  self->ttl = PUNCH_RELAY_DEFAULT_TTL;
  self->limit_duration = PUNCH_RELAY_DEFAULT_LIMIT_DURATION;
  self->limit_data = PUNCH_RELAY_DEFAULT_LIMIT_DATA;
  self->max_reservations = PUNCH_RELAY_DEFAULT_MAX_RESERVATIONS;
  self->max_per_ip = PUNCH_RELAY_DEFAULT_MAX_PER_IP;
  self->max_circuits = PUNCH_RELAY_DEFAULT_MAX_CIRCUITS;
}

PunchRelayService *
punch_relay_service_new (PunchHost *host)
{
  PunchRelayService *self;

  g_return_val_if_fail (PUNCH_IS_HOST (host), NULL);

  self = g_object_new (PUNCH_TYPE_RELAY_SERVICE, NULL);
  self->host = g_object_ref (host);
  punch_host_set_stream_handler (host, PUNCH_RELAY_HOP_PROTOCOL, hop_handler, self, NULL);
  self->closed_id = g_signal_connect (host, "connection-closed", G_CALLBACK (on_connection_closed), self);
  self->sweep_id = g_timeout_add_seconds (SWEEP_INTERVAL_S, sweep_cb, self);
  g_source_set_name_by_id (self->sweep_id, "[punchline] relay reservation sweep");
  return self;
}
