/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-connection.h"
#include "punch-connection-private.h"

#include "punch-error.h"
#include "punch-multistream.h"

struct _PunchConnection
{
  GObject                    parent_instance;

  guint                      id;
  PunchYamuxSession         *session;
  PunchPeerId               *peer_id;
  PunchPublicKey            *remote_public_key;
  PunchMultiaddr            *local_addr;
  PunchMultiaddr            *remote_addr;
  PunchMultiaddr            *observed_addr;
  PunchDirection             direction;
  PunchConnectionState       state;
  char                      *security;
  char                      *muxer;
  char                      *cipher;
  gboolean                   relayed;
  gboolean                   limited;
  gint64                     rtt;
  GDateTime                 *opened_at;
  GDateTime                 *closed_at;

  PunchConnectionStreamFunc  stream_func;
  gpointer                   stream_func_data;
  GHashTable                *limited_allowlist;
  PunchRelayLimit            relay_limit;
  GDateTime                 *limit_ends_at;
  GIOStream                 *relayed_stream;
  /* The remaining budget is sampled, not followed byte by byte: this
   * timer notifies what changed since the last look. */
  GSource                   *budget_timer;
  guint64                    notified_send;
  guint64                    notified_receive;
  /* Users that want the connection kept (punch_connection_hold). */
  guint                      holds;
};

/* How often "remaining-send" and "remaining-receive" are looked at while
 * data flows. */
#define BUDGET_NOTIFY_INTERVAL_MS 1000

G_DEFINE_FINAL_TYPE (PunchConnection, punch_connection, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (PunchConnectionState, punch_connection_state,
                    G_DEFINE_ENUM_VALUE (PUNCH_CONNECTION_STATE_OPEN, "open"),
                    G_DEFINE_ENUM_VALUE (PUNCH_CONNECTION_STATE_CLOSING, "closing"),
                    G_DEFINE_ENUM_VALUE (PUNCH_CONNECTION_STATE_CLOSED, "closed"))

G_DEFINE_ENUM_TYPE (PunchDirection, punch_direction,
                    G_DEFINE_ENUM_VALUE (PUNCH_DIRECTION_INBOUND, "inbound"),
                    G_DEFINE_ENUM_VALUE (PUNCH_DIRECTION_OUTBOUND, "outbound"))

enum
{
  PROP_0,
  PROP_ID,
  PROP_PEER_ID,
  PROP_REMOTE_PUBLIC_KEY,
  PROP_LOCAL_ADDR,
  PROP_REMOTE_ADDR,
  PROP_DIRECTION,
  PROP_STATE,
  PROP_SECURITY,
  PROP_MUXER,
  PROP_CIPHER,
  PROP_RELAYED,
  PROP_LIMITED,
  PROP_OBSERVED_ADDR,
  PROP_RTT,
  PROP_OPENED_AT,
  PROP_CLOSED_AT,
  PROP_LIMIT_DURATION,
  PROP_LIMIT_DATA,
  PROP_REMAINING_SEND,
  PROP_REMAINING_RECEIVE,
  PROP_LIMIT_ENDS_AT,
  PROP_HELD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_RTT_SAMPLE,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
stop_budget_timer (PunchConnection *self)
{
  if (self->budget_timer != NULL)
    {
      g_source_destroy (self->budget_timer);
      g_clear_pointer (&self->budget_timer, g_source_unref);
    }
}

static void
punch_connection_dispose (GObject *object)
{
  PunchConnection *self = PUNCH_CONNECTION (object);

  self->stream_func = NULL;
  self->stream_func_data = NULL;
  stop_budget_timer (self);

  if (self->session != NULL)
    {
      punch_yamux_session_set_owner (self->session, NULL, NULL);
      /* Nobody can reach the session any more: do not leave it running. */
      if (!punch_yamux_session_is_closed (self->session))
        punch_yamux_session_close_async (self->session, NULL, NULL, NULL);
    }
  g_clear_object (&self->session);

  G_OBJECT_CLASS (punch_connection_parent_class)->dispose (object);
}

static void
punch_connection_finalize (GObject *object)
{
  PunchConnection *self = PUNCH_CONNECTION (object);

  g_clear_pointer (&self->peer_id, punch_peer_id_unref);
  g_clear_object (&self->remote_public_key);
  g_clear_pointer (&self->local_addr, punch_multiaddr_unref);
  g_clear_pointer (&self->remote_addr, punch_multiaddr_unref);
  g_clear_pointer (&self->observed_addr, punch_multiaddr_unref);
  g_clear_pointer (&self->security, g_free);
  g_clear_pointer (&self->muxer, g_free);
  g_clear_pointer (&self->cipher, g_free);
  g_clear_pointer (&self->opened_at, g_date_time_unref);
  g_clear_pointer (&self->closed_at, g_date_time_unref);
  g_clear_pointer (&self->limit_ends_at, g_date_time_unref);
  g_clear_pointer (&self->limited_allowlist, g_hash_table_unref);
  g_clear_object (&self->relayed_stream);

  G_OBJECT_CLASS (punch_connection_parent_class)->finalize (object);
}

static void
punch_connection_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  PunchConnection *self = PUNCH_CONNECTION (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_uint (value, self->id);
      break;
    case PROP_PEER_ID:
      g_value_set_boxed (value, self->peer_id);
      break;
    case PROP_REMOTE_PUBLIC_KEY:
      g_value_set_object (value, self->remote_public_key);
      break;
    case PROP_LOCAL_ADDR:
      g_value_set_boxed (value, self->local_addr);
      break;
    case PROP_REMOTE_ADDR:
      g_value_set_boxed (value, self->remote_addr);
      break;
    case PROP_DIRECTION:
      g_value_set_enum (value, self->direction);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_SECURITY:
      g_value_set_string (value, self->security);
      break;
    case PROP_MUXER:
      g_value_set_string (value, self->muxer);
      break;
    case PROP_CIPHER:
      g_value_set_string (value, self->cipher);
      break;
    case PROP_RELAYED:
      g_value_set_boolean (value, self->relayed);
      break;
    case PROP_LIMITED:
      g_value_set_boolean (value, self->limited);
      break;
    case PROP_OBSERVED_ADDR:
      g_value_set_boxed (value, self->observed_addr);
      break;
    case PROP_RTT:
      g_value_set_int64 (value, self->rtt);
      break;
    case PROP_OPENED_AT:
      g_value_set_boxed (value, self->opened_at);
      break;
    case PROP_CLOSED_AT:
      g_value_set_boxed (value, self->closed_at);
      break;
    case PROP_LIMIT_DURATION:
      g_value_set_uint (value, self->relay_limit.duration_s);
      break;
    case PROP_LIMIT_DATA:
      g_value_set_uint64 (value, self->relay_limit.data_bytes);
      break;
    case PROP_REMAINING_SEND:
      g_value_set_uint64 (value, punch_connection_get_remaining_send (self));
      break;
    case PROP_REMAINING_RECEIVE:
      g_value_set_uint64 (value, punch_connection_get_remaining_receive (self));
      break;
    case PROP_LIMIT_ENDS_AT:
      g_value_set_boxed (value, self->limit_ends_at);
      break;
    case PROP_HELD:
      g_value_set_boolean (value, self->holds > 0);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_connection_class_init (PunchConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = punch_connection_dispose;
  object_class->finalize = punch_connection_finalize;
  object_class->get_property = punch_connection_get_property;

  properties[PROP_ID] =
    g_param_spec_uint ("id", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_PEER_ID] =
    g_param_spec_boxed ("peer-id", NULL, NULL, PUNCH_TYPE_PEER_ID, ro);
  properties[PROP_REMOTE_PUBLIC_KEY] =
    g_param_spec_object ("remote-public-key", NULL, NULL, PUNCH_TYPE_PUBLIC_KEY, ro);
  properties[PROP_LOCAL_ADDR] =
    g_param_spec_boxed ("local-addr", NULL, NULL, PUNCH_TYPE_MULTIADDR, ro);
  properties[PROP_REMOTE_ADDR] =
    g_param_spec_boxed ("remote-addr", NULL, NULL, PUNCH_TYPE_MULTIADDR, ro);
  properties[PROP_DIRECTION] =
    g_param_spec_enum ("direction", NULL, NULL, PUNCH_TYPE_DIRECTION, PUNCH_DIRECTION_INBOUND, ro);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, PUNCH_TYPE_CONNECTION_STATE, PUNCH_CONNECTION_STATE_OPEN, ro);
  properties[PROP_SECURITY] =
    g_param_spec_string ("security", NULL, NULL, NULL, ro);
  properties[PROP_MUXER] =
    g_param_spec_string ("muxer", NULL, NULL, NULL, ro);
  properties[PROP_CIPHER] =
    g_param_spec_string ("cipher", NULL, NULL, NULL, ro);
  properties[PROP_RELAYED] =
    g_param_spec_boolean ("relayed", NULL, NULL, FALSE, ro);
  properties[PROP_LIMITED] =
    g_param_spec_boolean ("limited", NULL, NULL, FALSE, ro);
  properties[PROP_OBSERVED_ADDR] =
    g_param_spec_boxed ("observed-addr", NULL, NULL, PUNCH_TYPE_MULTIADDR, ro);
  properties[PROP_RTT] =
    g_param_spec_int64 ("rtt", NULL, NULL, -1, G_MAXINT64, -1, ro);
  properties[PROP_OPENED_AT] =
    g_param_spec_boxed ("opened-at", NULL, NULL, G_TYPE_DATE_TIME, ro);
  properties[PROP_CLOSED_AT] =
    g_param_spec_boxed ("closed-at", NULL, NULL, G_TYPE_DATE_TIME, ro);

  /**
   * PunchConnection:limit-duration:
   *
   * The relay's duration limit on this relayed connection, in seconds; 0
   * for none (a direct connection, or a relay without one).
   */
  /**
   * PunchConnection:held:
   *
   * Something still uses this connection (punch_connection_hold()), e.g.
   * a forwarded TCP connection on a relayed connection that a hole punch
   * replaced: whoever would close it as superseded waits until it is not.
   */
  properties[PROP_HELD] =
    g_param_spec_boolean ("held", NULL, NULL, FALSE, ro);

  properties[PROP_LIMIT_DURATION] =
    g_param_spec_uint ("limit-duration", NULL, NULL, 0, G_MAXUINT32, 0, ro);
  /**
   * PunchConnection:limit-data:
   *
   * The relay's data limit on this relayed connection, in bytes per
   * direction; 0 for none.
   */
  properties[PROP_LIMIT_DATA] =
    g_param_spec_uint64 ("limit-data", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * PunchConnection:remaining-send:
   *
   * Bytes we may still send through the relay before it resets the
   * circuit: the data limit minus what crossed it since the relay started
   * counting (Noise and Yamux framing included, as the relay counts them).
   * G_MAXUINT64 without a data limit. Reading it is always current; its
   * notify comes at most once a second while data flows, and once more
   * when the connection closes.
   */
  properties[PROP_REMAINING_SEND] =
    g_param_spec_uint64 ("remaining-send", NULL, NULL, 0, G_MAXUINT64, G_MAXUINT64, ro);
  /**
   * PunchConnection:remaining-receive:
   *
   * As #PunchConnection:remaining-send, for the bytes the relay may still
   * bring us.
   */
  properties[PROP_REMAINING_RECEIVE] =
    g_param_spec_uint64 ("remaining-receive", NULL, NULL, 0, G_MAXUINT64, G_MAXUINT64, ro);
  /**
   * PunchConnection:limit-ends-at:
   *
   * When the relay's duration limit ends the circuit (its count starts at
   * the CONNECT/STOP exchange, a little before "opened-at"); NULL without
   * a duration limit.
   */
  properties[PROP_LIMIT_ENDS_AT] =
    g_param_spec_boxed ("limit-ends-at", NULL, NULL, G_TYPE_DATE_TIME, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PunchConnection::rtt-sample:
   * @rtt_us: the round-trip time in microseconds
   *
   * A new RTT measurement (ping, Yamux keepalive).
   */
  signals[SIGNAL_RTT_SAMPLE] =
    g_signal_new ("rtt-sample", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);

  /**
   * PunchConnection::closed:
   * @error: (nullable): why; NULL after a local or clean close
   *
   * The connection ended. Emitted once; "state" is already CLOSED.
   */
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
punch_connection_init (PunchConnection *self)
{
  self->rtt = -1;
  self->state = PUNCH_CONNECTION_STATE_OPEN;
  self->notified_send = G_MAXUINT64;
  self->notified_receive = G_MAXUINT64;
}

static void
set_state (PunchConnection      *self,
           PunchConnectionState  state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* The bytes that crossed the relay each way since it started counting. */
static void
relayed_counts (PunchConnection *self,
                guint64         *sent,
                guint64         *received)
{
  guint64 s = 0, r = 0;

  if (PUNCH_IS_YAMUX_STREAM (self->relayed_stream))
    {
      s = punch_yamux_stream_get_bytes_sent (PUNCH_YAMUX_STREAM (self->relayed_stream));
      r = punch_yamux_stream_get_bytes_received (PUNCH_YAMUX_STREAM (self->relayed_stream));
    }
  *sent = s > self->relay_limit.sent_before ? s - self->relay_limit.sent_before : 0;
  *received = r > self->relay_limit.received_before ? r - self->relay_limit.received_before : 0;
}

static guint64
remaining (guint64 limit,
           guint64 used)
{
  if (limit == 0)
    return G_MAXUINT64;
  return used >= limit ? 0 : limit - used;
}

/* Notifies the remaining budget that changed since the last notify. */
static void
update_budget (PunchConnection *self)
{
  guint64 send = punch_connection_get_remaining_send (self);
  guint64 receive = punch_connection_get_remaining_receive (self);

  g_object_freeze_notify (G_OBJECT (self));
  if (send != self->notified_send)
    {
      self->notified_send = send;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REMAINING_SEND]);
    }
  if (receive != self->notified_receive)
    {
      self->notified_receive = receive;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REMAINING_RECEIVE]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

static gboolean
on_budget_timer (gpointer user_data)
{
  update_budget (PUNCH_CONNECTION (user_data));
  return G_SOURCE_CONTINUE;
}

static void
mark_closed (PunchConnection *self,
             const GError    *error)
{
  g_autoptr(PunchConnection) hold = NULL;

  if (self->state == PUNCH_CONNECTION_STATE_CLOSED)
    return;

  /* Handlers of "closed" often drop the last reference. */
  hold = g_object_ref (self);

  /* A close we asked for is a clean close, whatever the muxer saw last. */
  if (self->state == PUNCH_CONNECTION_STATE_CLOSING)
    error = NULL;

  g_debug ("connection %u to %s closed%s%s", self->id,
           punch_peer_id_to_string (self->peer_id),
           error != NULL ? ": " : "", error != NULL ? error->message : "");

  self->stream_func = NULL;
  self->stream_func_data = NULL;
  self->closed_at = g_date_time_new_now_utc ();
  /* The last word on the budget: what was spent when the circuit ended. */
  stop_budget_timer (self);

  g_object_freeze_notify (G_OBJECT (self));
  if (self->relay_limit.data_bytes > 0)
    update_budget (self);
  set_state (self, PUNCH_CONNECTION_STATE_CLOSED);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLOSED_AT]);
  g_object_thaw_notify (G_OBJECT (self));

  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);
}

/* Which of the relay's limits a connection that just failed has reached,
 * or NULL: a relay resets both ends without saying why (spec). */
static char *
relay_limit_reached (PunchConnection *self)
{
  const PunchRelayLimit *limit = &self->relay_limit;
  gint64 elapsed_s = (g_get_real_time () - limit->started_us) / G_USEC_PER_SEC;
  guint64 sent, received;

  relayed_counts (self, &sent, &received);
  if (limit->data_bytes > 0 && (sent >= limit->data_bytes || received >= limit->data_bytes))
    return g_strdup_printf ("the relay's data limit of %" G_GUINT64_FORMAT " bytes per direction was reached "
                            "(%" G_GUINT64_FORMAT " sent, %" G_GUINT64_FORMAT " received)",
                            limit->data_bytes, sent, received);
  /* The relay's clock started a little before ours. */
  if (limit->duration_s > 0 && elapsed_s + 1 >= limit->duration_s)
    return g_strdup_printf ("the relay's duration limit of %u s was reached", limit->duration_s);
  return NULL;
}

static void
on_session_closed (PunchYamuxSession *session,
                   const GError      *error,
                   gpointer           user_data)
{
  PunchConnection *self = user_data;
  g_autofree char *limit = NULL;

  if (error != NULL && self->limited && self->state == PUNCH_CONNECTION_STATE_OPEN
      && (limit = relay_limit_reached (self)) != NULL)
    {
      g_autoptr(GError) reason = g_error_new (PUNCH_ERROR, PUNCH_ERROR_LIMIT, "%s: %s", limit, error->message);

      mark_closed (self, reason);
      return;
    }
  mark_closed (self, error);
}

static void
on_session_stream (PunchYamuxSession *session,
                   PunchYamuxStream  *stream,
                   gpointer           user_data)
{
  PunchConnection *self = user_data;

  if (self->stream_func == NULL || self->state != PUNCH_CONNECTION_STATE_OPEN)
    {
      g_debug ("connection %u: refusing inbound stream %u", self->id,
               punch_yamux_stream_get_id (stream));
      punch_yamux_stream_reset (stream);
      return;
    }

  self->stream_func (self, stream, self->stream_func_data);
}

static void
on_session_rtt (PunchYamuxSession *session,
                gint64             rtt,
                gpointer           user_data)
{
  if (rtt >= 0)
    punch_connection_add_rtt_sample (PUNCH_CONNECTION (user_data), rtt);
}

static const PunchYamuxSessionOwner session_owner = {
  .stream = on_session_stream,
  .closed = on_session_closed,
  .rtt = on_session_rtt,
};

PunchConnection *
punch_connection_new (guint           id,
                      PunchUpgrade   *upgrade,
                      PunchMultiaddr *local_addr,
                      PunchMultiaddr *remote_addr,
                      PunchDirection  direction)
{
  PunchConnection *self;

  g_return_val_if_fail (upgrade != NULL, NULL);
  g_return_val_if_fail (PUNCH_IS_YAMUX_SESSION (upgrade->session), NULL);
  g_return_val_if_fail (upgrade->peer_id != NULL, NULL);

  self = g_object_new (PUNCH_TYPE_CONNECTION, NULL);
  self->id = id;
  self->session = g_object_ref (upgrade->session);
  self->peer_id = punch_peer_id_ref (upgrade->peer_id);
  self->remote_public_key = upgrade->public_key != NULL ? g_object_ref (upgrade->public_key) : NULL;
  self->local_addr = local_addr != NULL ? punch_multiaddr_ref (local_addr) : NULL;
  self->remote_addr = remote_addr != NULL ? punch_multiaddr_ref (remote_addr) : NULL;
  self->direction = direction;
  self->security = g_strdup (upgrade->security);
  self->muxer = g_strdup (upgrade->muxer);
  self->cipher = g_strdup (upgrade->cipher);
  self->opened_at = g_date_time_new_now_utc ();

  punch_yamux_session_set_owner (self->session, &session_owner, self);

  return self;
}

void
punch_connection_set_stream_func (PunchConnection           *self,
                                  PunchConnectionStreamFunc  func,
                                  gpointer                   user_data)
{
  g_return_if_fail (PUNCH_IS_CONNECTION (self));

  self->stream_func = func;
  self->stream_func_data = func != NULL ? user_data : NULL;
}

void
punch_connection_set_relayed (PunchConnection *self,
                              gboolean         relayed)
{
  g_return_if_fail (PUNCH_IS_CONNECTION (self));

  relayed = !!relayed;
  if (self->relayed == relayed)
    return;
  self->relayed = relayed;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RELAYED]);
}

void
punch_connection_set_limited (PunchConnection *self,
                              gboolean         limited)
{
  g_return_if_fail (PUNCH_IS_CONNECTION (self));

  limited = !!limited;
  if (self->limited == limited)
    return;
  self->limited = limited;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LIMITED]);
}

PunchYamuxSession *
punch_connection_get_session (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), NULL);

  return self->session;
}

guint
punch_connection_get_id (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), 0);

  return self->id;
}

PunchPeerId *
punch_connection_get_peer_id (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), NULL);

  return self->peer_id;
}

PunchPublicKey *
punch_connection_get_remote_public_key (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), NULL);

  return self->remote_public_key;
}

PunchMultiaddr *
punch_connection_get_local_addr (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), NULL);

  return self->local_addr;
}

PunchMultiaddr *
punch_connection_get_remote_addr (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), NULL);

  return self->remote_addr;
}

PunchDirection
punch_connection_get_direction (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), PUNCH_DIRECTION_INBOUND);

  return self->direction;
}

PunchConnectionState
punch_connection_get_state (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), PUNCH_CONNECTION_STATE_CLOSED);

  return self->state;
}

const char *
punch_connection_get_security (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), NULL);

  return self->security;
}

const char *
punch_connection_get_muxer (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), NULL);

  return self->muxer;
}

/**
 * punch_connection_get_cipher:
 * @self: a #PunchConnection
 *
 * Returns: (nullable): the cipher of the security protocol: "ChaChaPoly"
 *   for Noise, the TLS 1.3 suite (e.g. "TLS_AES_256_GCM_SHA384") for TLS
 */
const char *
punch_connection_get_cipher (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), NULL);

  return self->cipher;
}

gboolean
punch_connection_get_relayed (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), FALSE);

  return self->relayed;
}

gboolean
punch_connection_get_limited (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), FALSE);

  return self->limited;
}

PunchMultiaddr *
punch_connection_get_observed_addr (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), NULL);

  return self->observed_addr;
}

/**
 * punch_connection_set_observed_addr:
 * @addr: (nullable): how the remote sees us
 */
void
punch_connection_set_observed_addr (PunchConnection *self,
                                    PunchMultiaddr  *addr)
{
  g_return_if_fail (PUNCH_IS_CONNECTION (self));

  if (self->observed_addr == addr
      || (self->observed_addr != NULL && addr != NULL && punch_multiaddr_equal (self->observed_addr, addr)))
    return;

  g_clear_pointer (&self->observed_addr, punch_multiaddr_unref);
  self->observed_addr = addr != NULL ? punch_multiaddr_ref (addr) : NULL;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OBSERVED_ADDR]);
}

gint64
punch_connection_get_rtt (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), -1);

  return self->rtt;
}

/**
 * punch_connection_add_rtt_sample:
 * @rtt_us: a round-trip time in microseconds
 *
 * Records an RTT sample: updates "rtt" and emits "rtt-sample".
 */
void
punch_connection_add_rtt_sample (PunchConnection *self,
                                 gint64           rtt_us)
{
  g_return_if_fail (PUNCH_IS_CONNECTION (self));
  g_return_if_fail (rtt_us >= 0);

  if (self->rtt != rtt_us)
    {
      self->rtt = rtt_us;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RTT]);
    }
  g_signal_emit (self, signals[SIGNAL_RTT_SAMPLE], 0, rtt_us);
}

GDateTime *
punch_connection_get_opened_at (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), NULL);

  return self->opened_at;
}

GDateTime *
punch_connection_get_closed_at (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), NULL);

  return self->closed_at;
}

typedef struct
{
  PunchYamuxStream *stream;
  GStrv             protocols;
} OpenStreamData;

static void
open_stream_data_free (OpenStreamData *data)
{
  g_clear_object (&data->stream);
  g_clear_pointer (&data->protocols, g_strfreev);
  g_free (data);
}

typedef struct
{
  GIOStream *stream;
  char      *protocol;
} OpenStreamResult;

static void
open_stream_result_free (OpenStreamResult *result)
{
  g_clear_object (&result->stream);
  g_clear_pointer (&result->protocol, g_free);
  g_free (result);
}

static void
open_stream_select_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  OpenStreamData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *protocol = NULL;
  OpenStreamResult *ret;

  protocol = punch_multistream_select_finish (G_IO_STREAM (source), result, &error);
  if (protocol == NULL)
    {
      /* The stream is of no use now; a reset frees it on both sides at once. */
      punch_yamux_stream_reset (data->stream);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  ret = g_new0 (OpenStreamResult, 1);
  ret->stream = G_IO_STREAM (g_steal_pointer (&data->stream));
  ret->protocol = g_steal_pointer (&protocol);
  g_task_return_pointer (task, ret, (GDestroyNotify) open_stream_result_free);
}

static void
open_stream_open_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  OpenStreamData *data = g_task_get_task_data (task);
  GError *error = NULL;

  data->stream = punch_yamux_session_open_stream_finish (PUNCH_YAMUX_SESSION (source), result, &error);
  if (data->stream == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  punch_multistream_select_async (G_IO_STREAM (data->stream),
                                  (const char * const *) data->protocols,
                                  g_task_get_cancellable (task),
                                  open_stream_select_cb,
                                  g_object_ref (task));
}

/**
 * punch_connection_open_stream_async:
 * @protocols: the protocol IDs to propose, best first
 *
 * Opens a Yamux stream and negotiates one of @protocols on it with
 * multistream-select. A protocol the remote refuses fails with
 * %PUNCH_ERROR_NEGOTIATION_FAILED and the stream is reset.
 */
void
punch_connection_open_stream_async (PunchConnection    *self,
                                    const char * const *protocols,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data)
{
  g_autoptr(GTask) task = NULL;
  OpenStreamData *data;

  g_return_if_fail (PUNCH_IS_CONNECTION (self));
  g_return_if_fail (protocols != NULL && protocols[0] != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, punch_connection_open_stream_async);

  data = g_new0 (OpenStreamData, 1);
  data->protocols = g_strdupv ((char **) protocols);
  g_task_set_task_data (task, data, (GDestroyNotify) open_stream_data_free);

  if (self->state != PUNCH_CONNECTION_STATE_OPEN)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CLOSED,
                               "connection %u to %s is %s", self->id,
                               punch_peer_id_to_string (self->peer_id),
                               punch_connection_state_to_string (self->state));
      return;
    }

  /* A relay's limits are for signalling (identify, ping, DCUtR), not for
   * application data, as in go and js: other protocols must opt in. */
  if (self->limited)
    {
      g_autoptr(GStrvBuilder) allowed = g_strv_builder_new ();
      gboolean any = FALSE;

      for (guint i = 0; protocols[i] != NULL; i++)
        if (self->limited_allowlist != NULL && g_hash_table_contains (self->limited_allowlist, protocols[i]))
          {
            g_strv_builder_add (allowed, protocols[i]);
            any = TRUE;
          }
      if (!any)
        {
          g_task_return_new_error (task, PUNCH_ERROR, PUNCH_ERROR_LIMIT,
                                   "connection %u to %s runs through a relay that limits it; "
                                   "%s does not run on limited connections (wait for a direct connection)",
                                   self->id, punch_peer_id_to_string (self->peer_id), protocols[0]);
          return;
        }
      g_strfreev (data->protocols);
      data->protocols = g_strv_builder_end (allowed);
    }

  punch_yamux_session_open_stream_async (self->session, cancellable,
                                         open_stream_open_cb, g_steal_pointer (&task));
}

/**
 * punch_connection_open_stream_finish:
 * @protocol: (out) (optional): the negotiated protocol ID
 *
 * Returns: (transfer full): the negotiated stream (a #PunchYamuxStream)
 */
GIOStream *
punch_connection_open_stream_finish (PunchConnection *self,
                                     GAsyncResult    *result,
                                     char           **protocol,
                                     GError         **error)
{
  OpenStreamResult *ret;
  GIOStream *stream;

  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  ret = g_task_propagate_pointer (G_TASK (result), error);
  if (ret == NULL)
    return NULL;

  stream = g_steal_pointer (&ret->stream);
  if (protocol != NULL)
    *protocol = g_steal_pointer (&ret->protocol);
  open_stream_result_free (ret);

  return stream;
}

static void
close_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(PunchConnection) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!punch_yamux_session_close_finish (PUNCH_YAMUX_SESSION (source), result, &error))
    g_debug ("connection %u: close: %s", self->id, error->message);

  /* In case the session finished without a "closed" signal. */
  mark_closed (self, NULL);
}

/**
 * punch_connection_close:
 *
 * Closes the muxer (GoAway) and the underlying stream. "state" goes to
 * CLOSING at once, and to CLOSED with "closed" when the session is down.
 */
void
punch_connection_close (PunchConnection *self)
{
  g_return_if_fail (PUNCH_IS_CONNECTION (self));

  if (self->state != PUNCH_CONNECTION_STATE_OPEN)
    return;

  set_state (self, PUNCH_CONNECTION_STATE_CLOSING);
  self->stream_func = NULL;
  self->stream_func_data = NULL;

  punch_yamux_session_close_async (self->session, NULL, close_cb, g_object_ref (self));
}

const char *
punch_connection_state_to_string (PunchConnectionState state)
{
  switch (state)
    {
    case PUNCH_CONNECTION_STATE_OPEN:
      return "open";
    case PUNCH_CONNECTION_STATE_CLOSING:
      return "closing";
    case PUNCH_CONNECTION_STATE_CLOSED:
      return "closed";
    default:
      return "unknown";
    }
}

const char *
punch_direction_to_string (PunchDirection direction)
{
  switch (direction)
    {
    case PUNCH_DIRECTION_INBOUND:
      return "inbound";
    case PUNCH_DIRECTION_OUTBOUND:
      return "outbound";
    default:
      return "unknown";
    }
}

void
punch_connection_set_limited_allowlist (PunchConnection *self,
                                        GHashTable      *allowed)
{
  g_return_if_fail (PUNCH_IS_CONNECTION (self));

  if (allowed != NULL)
    g_hash_table_ref (allowed);
  g_clear_pointer (&self->limited_allowlist, g_hash_table_unref);
  self->limited_allowlist = allowed;
}

/**
 * punch_connection_allows (skip):
 *
 * Whether @protocol may run on this connection now.
 */
gboolean
punch_connection_allows (PunchConnection *self,
                         const char      *protocol)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), FALSE);

  return !self->limited
         || (self->limited_allowlist != NULL && g_hash_table_contains (self->limited_allowlist, protocol));
}

void
punch_relay_limit_mark_start (PunchRelayLimit *limit,
                              GIOStream       *relayed_stream)
{
  g_return_if_fail (limit != NULL);

  limit->started_us = g_get_real_time ();
  limit->sent_before = 0;
  limit->received_before = 0;
  if (PUNCH_IS_YAMUX_STREAM (relayed_stream))
    {
      limit->sent_before = punch_yamux_stream_get_bytes_sent (PUNCH_YAMUX_STREAM (relayed_stream));
      limit->received_before = punch_yamux_stream_get_bytes_received (PUNCH_YAMUX_STREAM (relayed_stream));
    }
}

void
punch_connection_set_relay_limit (PunchConnection       *self,
                                  const PunchRelayLimit *limit,
                                  GIOStream             *relayed_stream)
{
  g_return_if_fail (PUNCH_IS_CONNECTION (self));
  g_return_if_fail (limit != NULL);

  self->relay_limit = *limit;
  g_set_object (&self->relayed_stream, relayed_stream);
  g_clear_pointer (&self->limit_ends_at, g_date_time_unref);
  if (limit->duration_s > 0)
    {
      g_autoptr (GDateTime) start = g_date_time_new_from_unix_utc (limit->started_us / G_USEC_PER_SEC);

      self->limit_ends_at = g_date_time_add (start, limit->started_us % G_USEC_PER_SEC
                                                    + (GTimeSpan) limit->duration_s * G_TIME_SPAN_SECOND);
    }

  stop_budget_timer (self);
  if (self->relay_limit.data_bytes > 0 && self->state == PUNCH_CONNECTION_STATE_OPEN)
    {
      self->budget_timer = g_timeout_source_new (BUDGET_NOTIFY_INTERVAL_MS);
      g_source_set_static_name (self->budget_timer, "[punchline] relay budget");
      /* The connection destroys the source before it goes. */
      g_source_set_callback (self->budget_timer, on_budget_timer, self, NULL);
      g_source_attach (self->budget_timer, g_main_context_get_thread_default ());
    }

  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LIMIT_DURATION]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LIMIT_DATA]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LIMIT_ENDS_AT]);
  update_budget (self);
  g_object_thaw_notify (G_OBJECT (self));
}

/**
 * punch_connection_get_limit_duration:
 *
 * Returns: the relay's duration limit in seconds, 0 for none
 */
guint32
punch_connection_get_limit_duration (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), 0);

  return self->relay_limit.duration_s;
}

/**
 * punch_connection_get_limit_data:
 *
 * Returns: the relay's data limit in bytes per direction, 0 for none
 */
guint64
punch_connection_get_limit_data (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), 0);

  return self->relay_limit.data_bytes;
}

/**
 * punch_connection_get_remaining_send:
 *
 * Returns: the bytes we may still send through the relay before it resets
 *   the circuit, now; G_MAXUINT64 without a data limit
 */
guint64
punch_connection_get_remaining_send (PunchConnection *self)
{
  guint64 sent, received;

  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), G_MAXUINT64);

  relayed_counts (self, &sent, &received);
  return remaining (self->relay_limit.data_bytes, sent);
}

/**
 * punch_connection_get_remaining_receive:
 *
 * Returns: the bytes the relay may still bring us, now; G_MAXUINT64
 *   without a data limit
 */
guint64
punch_connection_get_remaining_receive (PunchConnection *self)
{
  guint64 sent, received;

  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), G_MAXUINT64);

  relayed_counts (self, &sent, &received);
  return remaining (self->relay_limit.data_bytes, received);
}

/**
 * punch_connection_get_limit_ends_at:
 *
 * Returns: (transfer none) (nullable): when the relay's duration limit ends
 *   the circuit, or %NULL without one
 */
GDateTime *
punch_connection_get_limit_ends_at (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), NULL);

  return self->limit_ends_at;
}

/**
 * punch_connection_hold:
 * @self: a connection
 *
 * Marks the connection as in use by a long-lived stream (a forwarded TCP
 * connection, say), so that it is not closed as superseded when a better
 * one appears; the connection can still end for any other reason. Every
 * hold is undone by one punch_connection_release().
 */
void
punch_connection_hold (PunchConnection *self)
{
  g_return_if_fail (PUNCH_IS_CONNECTION (self));

  if (self->holds++ == 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HELD]);
}

void
punch_connection_release (PunchConnection *self)
{
  g_return_if_fail (PUNCH_IS_CONNECTION (self));
  g_return_if_fail (self->holds > 0);

  if (--self->holds == 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HELD]);
}

gboolean
punch_connection_get_held (PunchConnection *self)
{
  g_return_val_if_fail (PUNCH_IS_CONNECTION (self), FALSE);

  return self->holds > 0;
}
