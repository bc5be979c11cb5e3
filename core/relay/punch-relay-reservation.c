/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-relay-reservation.h"
#include "punch-relay-reservation-private.h"

struct _PunchRelayReservation
{
  GObject parent_instance;

  PunchMultiaddr        *relay_addr;
  PunchPeerId           *relay_peer_id;
  PunchReservationState  state;
  GDateTime             *state_since;
  char                  *reason;
  gint64                 expire;
  guint32                limit_duration;
  guint64                limit_data;
  PunchVoucherState      voucher_state;
  char                  *voucher_error;
  guint                  attempts;
  guint                  refreshes;
  PunchConnection       *connection;
  GPtrArray             *addrs;
};

G_DEFINE_FINAL_TYPE (PunchRelayReservation, punch_relay_reservation, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_RELAY_ADDR,
  PROP_RELAY_PEER_ID,
  PROP_STATE,
  PROP_STATE_SINCE,
  PROP_REASON,
  PROP_EXPIRE,
  PROP_LIMIT_DURATION,
  PROP_LIMIT_DATA,
  PROP_VOUCHER_STATE,
  PROP_VOUCHER_ERROR,
  PROP_ATTEMPTS,
  PROP_REFRESHES,
  PROP_CONNECTION,
  PROP_ADDRS,
  N_PROPS
};

enum
{
  TRANSITION,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
punch_relay_reservation_finalize (GObject *object)
{
  PunchRelayReservation *self = PUNCH_RELAY_RESERVATION (object);

  g_clear_pointer (&self->relay_addr, punch_multiaddr_unref);
  g_clear_pointer (&self->relay_peer_id, punch_peer_id_unref);
  g_clear_pointer (&self->state_since, g_date_time_unref);
  g_clear_pointer (&self->reason, g_free);
  g_clear_pointer (&self->voucher_error, g_free);
  g_clear_object (&self->connection);
  g_clear_pointer (&self->addrs, g_ptr_array_unref);

  G_OBJECT_CLASS (punch_relay_reservation_parent_class)->finalize (object);
}

static void
punch_relay_reservation_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  PunchRelayReservation *self = PUNCH_RELAY_RESERVATION (object);

  switch (prop_id)
    {
    case PROP_RELAY_ADDR:
      g_value_set_boxed (value, self->relay_addr);
      break;
    case PROP_RELAY_PEER_ID:
      g_value_set_boxed (value, self->relay_peer_id);
      break;
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;
    case PROP_STATE_SINCE:
      g_value_set_boxed (value, self->state_since);
      break;
    case PROP_REASON:
      g_value_set_string (value, self->reason);
      break;
    case PROP_EXPIRE:
      g_value_set_int64 (value, self->expire);
      break;
    case PROP_LIMIT_DURATION:
      g_value_set_uint (value, self->limit_duration);
      break;
    case PROP_LIMIT_DATA:
      g_value_set_uint64 (value, self->limit_data);
      break;
    case PROP_VOUCHER_STATE:
      g_value_set_int (value, self->voucher_state);
      break;
    case PROP_VOUCHER_ERROR:
      g_value_set_string (value, self->voucher_error);
      break;
    case PROP_ATTEMPTS:
      g_value_set_uint (value, self->attempts);
      break;
    case PROP_REFRESHES:
      g_value_set_uint (value, self->refreshes);
      break;
    case PROP_CONNECTION:
      g_value_set_object (value, self->connection);
      break;
    case PROP_ADDRS:
      g_value_set_boxed (value, self->addrs);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_relay_reservation_class_init (PunchRelayReservationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = punch_relay_reservation_finalize;
  object_class->get_property = punch_relay_reservation_get_property;

  properties[PROP_RELAY_ADDR] = g_param_spec_boxed ("relay-addr", NULL, NULL, PUNCH_TYPE_MULTIADDR, ro);
  properties[PROP_RELAY_PEER_ID] = g_param_spec_boxed ("relay-peer-id", NULL, NULL, PUNCH_TYPE_PEER_ID, ro);
  properties[PROP_STATE] = g_param_spec_int ("state", NULL, NULL, 0, PUNCH_RESERVATION_STATE_FAILED,
                                             PUNCH_RESERVATION_STATE_CONNECTING, ro);
  properties[PROP_STATE_SINCE] = g_param_spec_boxed ("state-since", NULL, NULL, G_TYPE_DATE_TIME, ro);
  properties[PROP_REASON] = g_param_spec_string ("reason", NULL, NULL, NULL, ro);
  properties[PROP_EXPIRE] = g_param_spec_int64 ("expire", NULL, NULL, 0, G_MAXINT64, 0, ro);
  properties[PROP_LIMIT_DURATION] = g_param_spec_uint ("limit-duration", NULL, NULL, 0, G_MAXUINT32, 0, ro);
  properties[PROP_LIMIT_DATA] = g_param_spec_uint64 ("limit-data", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  properties[PROP_VOUCHER_STATE] = g_param_spec_int ("voucher-state", NULL, NULL, 0, PUNCH_VOUCHER_INVALID,
                                                     PUNCH_VOUCHER_NONE, ro);
  properties[PROP_VOUCHER_ERROR] = g_param_spec_string ("voucher-error", NULL, NULL, NULL, ro);
  properties[PROP_ATTEMPTS] = g_param_spec_uint ("attempts", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_REFRESHES] = g_param_spec_uint ("refreshes", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_CONNECTION] = g_param_spec_object ("connection", NULL, NULL, PUNCH_TYPE_CONNECTION, ro);
  properties[PROP_ADDRS] = g_param_spec_boxed ("addrs", NULL, NULL, G_TYPE_PTR_ARRAY, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PunchRelayReservation::transition:
   * @from: the previous #PunchReservationState
   * @to: the new state
   * @reason: (nullable): why, for failures and expiries
   */
  signals[TRANSITION] = g_signal_new ("transition", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                      0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                                      G_TYPE_INT, G_TYPE_INT, G_TYPE_STRING);
}

static void
punch_relay_reservation_init (PunchRelayReservation *self)
{
  self->state = PUNCH_RESERVATION_STATE_CONNECTING;
  self->state_since = g_date_time_new_now_utc ();
  self->addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
}

PunchRelayReservation *
punch_relay_reservation_new (PunchMultiaddr *relay_addr, PunchPeerId *relay_peer_id)
{
  PunchRelayReservation *self = g_object_new (PUNCH_TYPE_RELAY_RESERVATION, NULL);

  self->relay_addr = punch_multiaddr_ref (relay_addr);
  self->relay_peer_id = punch_peer_id_ref (relay_peer_id);
  return self;
}

void
punch_relay_reservation_set_state (PunchRelayReservation *self,
                                   PunchReservationState  state,
                                   const char            *reason)
{
  PunchReservationState from = self->state;

  g_return_if_fail (PUNCH_IS_RELAY_RESERVATION (self));

  g_object_freeze_notify (G_OBJECT (self));
  if (g_strcmp0 (self->reason, reason) != 0)
    {
      g_free (self->reason);
      self->reason = g_strdup (reason);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REASON]);
    }
  if (from != state)
    {
      self->state = state;
      g_clear_pointer (&self->state_since, g_date_time_unref);
      self->state_since = g_date_time_new_now_utc ();
      if (state == PUNCH_RESERVATION_STATE_REFRESHING)
        {
          self->refreshes++;
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REFRESHES]);
        }
      if (state != PUNCH_RESERVATION_STATE_RESERVED && state != PUNCH_RESERVATION_STATE_REFRESHING
          && self->addrs->len > 0)
        {
          g_ptr_array_set_size (self->addrs, 0);
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ADDRS]);
        }
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE_SINCE]);
    }
  g_object_thaw_notify (G_OBJECT (self));

  if (from != state)
    {
      g_debug ("reservation on %s: %s → %s%s%s", punch_peer_id_to_string (self->relay_peer_id),
               punch_reservation_state_to_string (from), punch_reservation_state_to_string (state),
               reason ? ": " : "", reason ? reason : "");
      g_signal_emit (self, signals[TRANSITION], 0, (int) from, (int) state, reason);
    }
}

void
punch_relay_reservation_set_reserved (PunchRelayReservation *self,
                                      gint64                 expire,
                                      guint32                limit_duration,
                                      guint64                limit_data,
                                      GPtrArray             *addrs)
{
  g_return_if_fail (PUNCH_IS_RELAY_RESERVATION (self));

  g_object_freeze_notify (G_OBJECT (self));
  self->expire = expire;
  self->limit_duration = limit_duration;
  self->limit_data = limit_data;
  g_ptr_array_set_size (self->addrs, 0);
  for (guint i = 0; addrs != NULL && i < addrs->len; i++)
    g_ptr_array_add (self->addrs, punch_multiaddr_ref (g_ptr_array_index (addrs, i)));
  self->attempts = 0;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EXPIRE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LIMIT_DURATION]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LIMIT_DATA]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ADDRS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ATTEMPTS]);
  g_object_thaw_notify (G_OBJECT (self));
  punch_relay_reservation_set_state (self, PUNCH_RESERVATION_STATE_RESERVED, NULL);
}

void
punch_relay_reservation_set_voucher (PunchRelayReservation *self,
                                     PunchVoucherState      state,
                                     const char            *error)
{
  g_return_if_fail (PUNCH_IS_RELAY_RESERVATION (self));

  self->voucher_state = state;
  g_free (self->voucher_error);
  self->voucher_error = g_strdup (error);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VOUCHER_STATE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VOUCHER_ERROR]);
}

void
punch_relay_reservation_set_connection (PunchRelayReservation *self, PunchConnection *connection)
{
  g_return_if_fail (PUNCH_IS_RELAY_RESERVATION (self));

  if (g_set_object (&self->connection, connection))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTION]);
}

void
punch_relay_reservation_set_attempts (PunchRelayReservation *self, guint attempts)
{
  g_return_if_fail (PUNCH_IS_RELAY_RESERVATION (self));

  if (self->attempts != attempts)
    {
      self->attempts = attempts;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ATTEMPTS]);
    }
}

PunchMultiaddr *
punch_relay_reservation_get_relay_addr (PunchRelayReservation *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_RESERVATION (self), NULL);
  return self->relay_addr;
}

PunchPeerId *
punch_relay_reservation_get_relay_peer_id (PunchRelayReservation *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_RESERVATION (self), NULL);
  return self->relay_peer_id;
}

PunchReservationState
punch_relay_reservation_get_state (PunchRelayReservation *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_RESERVATION (self), PUNCH_RESERVATION_STATE_FAILED);
  return self->state;
}

GDateTime *
punch_relay_reservation_get_state_since (PunchRelayReservation *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_RESERVATION (self), NULL);
  return self->state_since;
}

const char *
punch_relay_reservation_get_reason (PunchRelayReservation *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_RESERVATION (self), NULL);
  return self->reason;
}

gint64
punch_relay_reservation_get_expire (PunchRelayReservation *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_RESERVATION (self), 0);
  return self->expire;
}

guint32
punch_relay_reservation_get_limit_duration (PunchRelayReservation *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_RESERVATION (self), 0);
  return self->limit_duration;
}

guint64
punch_relay_reservation_get_limit_data (PunchRelayReservation *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_RESERVATION (self), 0);
  return self->limit_data;
}

PunchVoucherState
punch_relay_reservation_get_voucher_state (PunchRelayReservation *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_RESERVATION (self), PUNCH_VOUCHER_NONE);
  return self->voucher_state;
}

const char *
punch_relay_reservation_get_voucher_error (PunchRelayReservation *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_RESERVATION (self), NULL);
  return self->voucher_error;
}

guint
punch_relay_reservation_get_attempts (PunchRelayReservation *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_RESERVATION (self), 0);
  return self->attempts;
}

guint
punch_relay_reservation_get_refreshes (PunchRelayReservation *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_RESERVATION (self), 0);
  return self->refreshes;
}

PunchConnection *
punch_relay_reservation_get_connection (PunchRelayReservation *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_RESERVATION (self), NULL);
  return self->connection;
}

GPtrArray *
punch_relay_reservation_get_addrs (PunchRelayReservation *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_RESERVATION (self), NULL);
  return self->addrs;
}

/* Whether the relay currently holds a slot for us: circuits may arrive. */
gboolean
punch_relay_reservation_is_active (PunchRelayReservation *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_RESERVATION (self), FALSE);
  return self->state == PUNCH_RESERVATION_STATE_RESERVED
         || self->state == PUNCH_RESERVATION_STATE_REFRESHING;
}

const char *
punch_reservation_state_to_string (PunchReservationState state)
{
  static const char *const names[] = {
    "connecting", "reserving", "reserved", "refreshing", "expired", "failed",
  };

  g_return_val_if_fail ((guint) state < G_N_ELEMENTS (names), "unknown");
  return names[state];
}

const char *
punch_voucher_state_to_string (PunchVoucherState state)
{
  static const char *const names[] = { "none", "valid", "invalid" };

  g_return_val_if_fail ((guint) state < G_N_ELEMENTS (names), "unknown");
  return names[state];
}
