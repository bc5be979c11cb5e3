/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-hole-punch.h"
#include "punch-hole-punch-private.h"

struct _PunchHolePunch
{
  GObject parent_instance;

  PunchPeerId           *peer_id;
  PunchHolePunchRole     role;
  PunchHolePunchState    state;
  PunchHolePunchOutcome  outcome;
  guint                  attempts;
  gint64                 rtt;
  GStrv                  remote_addrs;
  GStrv                  local_addrs;
  char                  *error;
  GDateTime             *started_at;
  GDateTime             *ended_at;
  GWeakRef               relayed;
  PunchConnection       *direct;
};

G_DEFINE_FINAL_TYPE (PunchHolePunch, punch_hole_punch, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_PEER_ID,
  PROP_ROLE,
  PROP_STATE,
  PROP_OUTCOME,
  PROP_ATTEMPTS,
  PROP_RTT,
  PROP_REMOTE_ADDRS,
  PROP_LOCAL_ADDRS,
  PROP_ERROR,
  PROP_STARTED_AT,
  PROP_ENDED_AT,
  PROP_RELAYED_CONNECTION,
  PROP_DIRECT_CONNECTION,
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
punch_hole_punch_finalize (GObject *object)
{
  PunchHolePunch *self = PUNCH_HOLE_PUNCH (object);

  g_clear_pointer (&self->peer_id, punch_peer_id_unref);
  g_clear_pointer (&self->remote_addrs, g_strfreev);
  g_clear_pointer (&self->local_addrs, g_strfreev);
  g_clear_pointer (&self->error, g_free);
  g_clear_pointer (&self->started_at, g_date_time_unref);
  g_clear_pointer (&self->ended_at, g_date_time_unref);
  g_weak_ref_clear (&self->relayed);
  g_clear_object (&self->direct);

  G_OBJECT_CLASS (punch_hole_punch_parent_class)->finalize (object);
}

static void
punch_hole_punch_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PunchHolePunch *self = PUNCH_HOLE_PUNCH (object);

  switch (prop_id)
    {
    case PROP_PEER_ID: g_value_set_boxed (value, self->peer_id); break;
    case PROP_ROLE: g_value_set_int (value, self->role); break;
    case PROP_STATE: g_value_set_int (value, self->state); break;
    case PROP_OUTCOME: g_value_set_int (value, self->outcome); break;
    case PROP_ATTEMPTS: g_value_set_uint (value, self->attempts); break;
    case PROP_RTT: g_value_set_int64 (value, self->rtt); break;
    case PROP_REMOTE_ADDRS: g_value_set_boxed (value, self->remote_addrs); break;
    case PROP_LOCAL_ADDRS: g_value_set_boxed (value, self->local_addrs); break;
    case PROP_ERROR: g_value_set_string (value, self->error); break;
    case PROP_STARTED_AT: g_value_set_boxed (value, self->started_at); break;
    case PROP_ENDED_AT: g_value_set_boxed (value, self->ended_at); break;
    case PROP_RELAYED_CONNECTION: g_value_take_object (value, g_weak_ref_get (&self->relayed)); break;
    case PROP_DIRECT_CONNECTION: g_value_set_object (value, self->direct); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_hole_punch_class_init (PunchHolePunchClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = punch_hole_punch_finalize;
  object_class->get_property = punch_hole_punch_get_property;

  properties[PROP_PEER_ID] = g_param_spec_boxed ("peer-id", NULL, NULL, PUNCH_TYPE_PEER_ID, ro);
  properties[PROP_ROLE] = g_param_spec_int ("role", NULL, NULL, 0, PUNCH_HOLE_PUNCH_ROLE_B, 0, ro);
  properties[PROP_STATE] = g_param_spec_int ("state", NULL, NULL, 0, PUNCH_HOLE_PUNCH_STATE_FAILED, 0, ro);
  properties[PROP_OUTCOME] = g_param_spec_int ("outcome", NULL, NULL, 0, PUNCH_HOLE_PUNCH_OUTCOME_CANCELLED, 0, ro);
  properties[PROP_ATTEMPTS] = g_param_spec_uint ("attempts", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_RTT] = g_param_spec_int64 ("rtt", NULL, NULL, -1, G_MAXINT64, -1, ro);
  properties[PROP_REMOTE_ADDRS] = g_param_spec_boxed ("remote-addrs", NULL, NULL, G_TYPE_STRV, ro);
  properties[PROP_LOCAL_ADDRS] = g_param_spec_boxed ("local-addrs", NULL, NULL, G_TYPE_STRV, ro);
  properties[PROP_ERROR] = g_param_spec_string ("error", NULL, NULL, NULL, ro);
  properties[PROP_STARTED_AT] = g_param_spec_boxed ("started-at", NULL, NULL, G_TYPE_DATE_TIME, ro);
  properties[PROP_ENDED_AT] = g_param_spec_boxed ("ended-at", NULL, NULL, G_TYPE_DATE_TIME, ro);
  properties[PROP_RELAYED_CONNECTION] = g_param_spec_object ("relayed-connection", NULL, NULL, PUNCH_TYPE_CONNECTION, ro);
  properties[PROP_DIRECT_CONNECTION] = g_param_spec_object ("direct-connection", NULL, NULL, PUNCH_TYPE_CONNECTION, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PunchHolePunch::transition:
   * @from: the previous #PunchHolePunchState
   * @to: the new state
   * @detail: (nullable): e.g. the error of a failed attempt
   */
  signals[TRANSITION] = g_signal_new ("transition", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                      NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_INT, G_TYPE_INT, G_TYPE_STRING);
}

static void
punch_hole_punch_init (PunchHolePunch *self)
{
  self->rtt = -1;
  self->started_at = g_date_time_new_now_utc ();
  g_weak_ref_init (&self->relayed, NULL);
}

PunchHolePunch *
punch_hole_punch_new (PunchPeerId *peer, PunchHolePunchRole role, PunchConnection *relayed)
{
  PunchHolePunch *self = g_object_new (PUNCH_TYPE_HOLE_PUNCH, NULL);

  self->peer_id = punch_peer_id_ref (peer);
  self->role = role;
  g_weak_ref_set (&self->relayed, relayed);
  return self;
}

void
punch_hole_punch_set_state (PunchHolePunch *self, PunchHolePunchState state, const char *detail)
{
  PunchHolePunchState from = self->state;

  if (from == state)
    return;
  self->state = state;
  if (state == PUNCH_HOLE_PUNCH_STATE_SUCCEEDED || state == PUNCH_HOLE_PUNCH_STATE_FAILED)
    {
      g_clear_pointer (&self->ended_at, g_date_time_unref);
      self->ended_at = g_date_time_new_now_utc ();
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENDED_AT]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  g_debug ("hole punch with %s (role %s): %s → %s%s%s", punch_peer_id_to_string (self->peer_id),
           punch_hole_punch_role_to_string (self->role), punch_hole_punch_state_to_string (from),
           punch_hole_punch_state_to_string (state), detail ? ": " : "", detail ? detail : "");
  g_signal_emit (self, signals[TRANSITION], 0, (int) from, (int) state, detail);
}

void
punch_hole_punch_begin_attempt (PunchHolePunch *self)
{
  self->attempts++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ATTEMPTS]);
}

void
punch_hole_punch_retract_attempt (PunchHolePunch *self)
{
  g_return_if_fail (self->attempts > 0);
  self->attempts--;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ATTEMPTS]);
}

void
punch_hole_punch_set_rtt (PunchHolePunch *self, gint64 rtt_us)
{
  self->rtt = rtt_us;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RTT]);
}

void
punch_hole_punch_set_addrs (PunchHolePunch *self, const char * const *local, const char * const *remote)
{
  if (local != NULL)
    {
      g_strfreev (self->local_addrs);
      self->local_addrs = g_strdupv ((char **) local);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOCAL_ADDRS]);
    }
  if (remote != NULL)
    {
      g_strfreev (self->remote_addrs);
      self->remote_addrs = g_strdupv ((char **) remote);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REMOTE_ADDRS]);
    }
}

void
punch_hole_punch_set_error (PunchHolePunch *self, const char *error)
{
  g_free (self->error);
  self->error = g_strdup (error);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
}

void
punch_hole_punch_succeed (PunchHolePunch *self, PunchHolePunchOutcome outcome, PunchConnection *direct)
{
  g_set_object (&self->direct, direct);
  self->outcome = outcome;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DIRECT_CONNECTION]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OUTCOME]);
  punch_hole_punch_set_state (self, PUNCH_HOLE_PUNCH_STATE_SUCCEEDED, punch_hole_punch_outcome_to_string (outcome));
}

void
punch_hole_punch_fail (PunchHolePunch *self, PunchHolePunchOutcome outcome, const char *error)
{
  self->outcome = outcome;
  if (error != NULL)
    punch_hole_punch_set_error (self, error);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OUTCOME]);
  punch_hole_punch_set_state (self, PUNCH_HOLE_PUNCH_STATE_FAILED, error);
}

PunchPeerId *
punch_hole_punch_get_peer_id (PunchHolePunch *self)
{
  g_return_val_if_fail (PUNCH_IS_HOLE_PUNCH (self), NULL);
  return self->peer_id;
}

PunchHolePunchRole
punch_hole_punch_get_role (PunchHolePunch *self)
{
  g_return_val_if_fail (PUNCH_IS_HOLE_PUNCH (self), 0);
  return self->role;
}

PunchHolePunchState
punch_hole_punch_get_state (PunchHolePunch *self)
{
  g_return_val_if_fail (PUNCH_IS_HOLE_PUNCH (self), 0);
  return self->state;
}

PunchHolePunchOutcome
punch_hole_punch_get_outcome (PunchHolePunch *self)
{
  g_return_val_if_fail (PUNCH_IS_HOLE_PUNCH (self), 0);
  return self->outcome;
}

guint
punch_hole_punch_get_attempts (PunchHolePunch *self)
{
  g_return_val_if_fail (PUNCH_IS_HOLE_PUNCH (self), 0);
  return self->attempts;
}

gint64
punch_hole_punch_get_rtt (PunchHolePunch *self)
{
  g_return_val_if_fail (PUNCH_IS_HOLE_PUNCH (self), -1);
  return self->rtt;
}

const char * const *
punch_hole_punch_get_remote_addrs (PunchHolePunch *self)
{
  g_return_val_if_fail (PUNCH_IS_HOLE_PUNCH (self), NULL);
  return (const char * const *) self->remote_addrs;
}

const char * const *
punch_hole_punch_get_local_addrs (PunchHolePunch *self)
{
  g_return_val_if_fail (PUNCH_IS_HOLE_PUNCH (self), NULL);
  return (const char * const *) self->local_addrs;
}

const char *
punch_hole_punch_get_error (PunchHolePunch *self)
{
  g_return_val_if_fail (PUNCH_IS_HOLE_PUNCH (self), NULL);
  return self->error;
}

GDateTime *
punch_hole_punch_get_started_at (PunchHolePunch *self)
{
  g_return_val_if_fail (PUNCH_IS_HOLE_PUNCH (self), NULL);
  return self->started_at;
}

GDateTime *
punch_hole_punch_get_ended_at (PunchHolePunch *self)
{
  g_return_val_if_fail (PUNCH_IS_HOLE_PUNCH (self), NULL);
  return self->ended_at;
}

PunchConnection *
punch_hole_punch_get_direct_connection (PunchHolePunch *self)
{
  g_return_val_if_fail (PUNCH_IS_HOLE_PUNCH (self), NULL);
  return self->direct;
}

gboolean
punch_hole_punch_is_finished (PunchHolePunch *self)
{
  g_return_val_if_fail (PUNCH_IS_HOLE_PUNCH (self), TRUE);
  return self->state == PUNCH_HOLE_PUNCH_STATE_SUCCEEDED || self->state == PUNCH_HOLE_PUNCH_STATE_FAILED;
}

const char *
punch_hole_punch_state_to_string (PunchHolePunchState state)
{
  static const char *const names[] = {
    "waiting", "reversing", "exchanging", "syncing", "dialing", "succeeded", "failed",
  };

  g_return_val_if_fail ((guint) state < G_N_ELEMENTS (names), "unknown");
  return names[state];
}

const char *
punch_hole_punch_outcome_to_string (PunchHolePunchOutcome outcome)
{
  static const char *const names[] = {
    "unknown", "success", "connection reversed", "failed", "no DCUtR stream", "no connection", "cancelled",
  };

  g_return_val_if_fail ((guint) outcome < G_N_ELEMENTS (names), "unknown");
  return names[outcome];
}

const char *
punch_hole_punch_role_to_string (PunchHolePunchRole role)
{
  return role == PUNCH_HOLE_PUNCH_ROLE_A ? "A" : "B";
}
