/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-node-peer.h"

struct _PunchNodePeer
{
  GObject parent_instance;

  char           *peer_id;
  PunchPeerPath   path;
  char           *relay_peer_id;
  char           *relay_addr;
  gint64          rtt;
  char           *agent_version;
  gint64          since;
  char           *direct_addr;
  PunchConnection *relayed_connection;
  guint           punch_attempts;
  char           *punch_outcome;
  gint64          time_direct;
  gint64          time_relayed;

  PunchTimeline  *timeline;
  PunchRttSeries *rtt_relay;
  PunchRttSeries *rtt_relayed;
  PunchRttSeries *rtt_direct;
};

G_DEFINE_FINAL_TYPE (PunchNodePeer, punch_node_peer, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_PEER_ID,
  PROP_PATH,
  PROP_RELAY_PEER_ID,
  PROP_RELAY_ADDR,
  PROP_RTT,
  PROP_AGENT_VERSION,
  PROP_SINCE,
  PROP_DIRECT_ADDR,
  PROP_RELAYED_CONNECTION,
  PROP_PUNCH_ATTEMPTS,
  PROP_PUNCH_OUTCOME,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
punch_node_peer_finalize (GObject *object)
{
  PunchNodePeer *self = PUNCH_NODE_PEER (object);

  g_free (self->peer_id);
  g_free (self->relay_peer_id);
  g_free (self->relay_addr);
  g_free (self->agent_version);
  g_free (self->direct_addr);
  g_clear_object (&self->relayed_connection);
  g_free (self->punch_outcome);
  g_clear_object (&self->timeline);
  g_clear_object (&self->rtt_relay);
  g_clear_object (&self->rtt_relayed);
  g_clear_object (&self->rtt_direct);
  G_OBJECT_CLASS (punch_node_peer_parent_class)->finalize (object);
}

static void
punch_node_peer_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PunchNodePeer *self = PUNCH_NODE_PEER (object);

  switch (prop_id)
    {
    case PROP_PEER_ID:
      g_value_set_string (value, self->peer_id);
      break;
    case PROP_PATH:
      g_value_set_int (value, self->path);
      break;
    case PROP_RELAY_PEER_ID:
      g_value_set_string (value, self->relay_peer_id);
      break;
    case PROP_RELAY_ADDR:
      g_value_set_string (value, self->relay_addr);
      break;
    case PROP_RTT:
      g_value_set_int64 (value, self->rtt);
      break;
    case PROP_AGENT_VERSION:
      g_value_set_string (value, self->agent_version);
      break;
    case PROP_SINCE:
      g_value_set_int64 (value, self->since);
      break;
    case PROP_DIRECT_ADDR:
      g_value_set_string (value, self->direct_addr);
      break;
    case PROP_RELAYED_CONNECTION:
      g_value_set_object (value, self->relayed_connection);
      break;
    case PROP_PUNCH_ATTEMPTS:
      g_value_set_uint (value, self->punch_attempts);
      break;
    case PROP_PUNCH_OUTCOME:
      g_value_set_string (value, self->punch_outcome);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_node_peer_class_init (PunchNodePeerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = punch_node_peer_finalize;
  object_class->get_property = punch_node_peer_get_property;

  properties[PROP_PEER_ID] = g_param_spec_string ("peer-id", NULL, NULL, NULL, ro);
  properties[PROP_PATH] = g_param_spec_int ("path", NULL, NULL, PUNCH_PEER_PATH_NONE, PUNCH_PEER_PATH_DIRECT,
                                            PUNCH_PEER_PATH_NONE, ro);
  properties[PROP_RELAY_PEER_ID] = g_param_spec_string ("relay-peer-id", NULL, NULL, NULL, ro);
  properties[PROP_RELAY_ADDR] = g_param_spec_string ("relay-addr", NULL, NULL, NULL, ro);
  properties[PROP_RTT] = g_param_spec_int64 ("rtt", NULL, NULL, -1, G_MAXINT64, -1, ro);
  properties[PROP_AGENT_VERSION] = g_param_spec_string ("agent-version", NULL, NULL, NULL, ro);
  properties[PROP_SINCE] = g_param_spec_int64 ("since", NULL, NULL, 0, G_MAXINT64, 0, ro);
  properties[PROP_DIRECT_ADDR] = g_param_spec_string ("direct-addr", NULL, NULL, NULL, ro);
  properties[PROP_RELAYED_CONNECTION] = g_param_spec_object ("relayed-connection", NULL, NULL,
                                                             PUNCH_TYPE_CONNECTION, ro);
  properties[PROP_PUNCH_ATTEMPTS] = g_param_spec_uint ("punch-attempts", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_PUNCH_OUTCOME] = g_param_spec_string ("punch-outcome", NULL, NULL, NULL, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
punch_node_peer_init (PunchNodePeer *self)
{
  self->rtt = -1;
  self->since = g_get_real_time ();
  self->timeline = punch_timeline_new (0);
  self->rtt_relay = punch_rtt_series_new ("relay", 0);
  self->rtt_relayed = punch_rtt_series_new ("relayed", 0);
  self->rtt_direct = punch_rtt_series_new ("direct", 0);
}

PunchNodePeer *
punch_node_peer_new (const char *peer_id)
{
  PunchNodePeer *self = g_object_new (PUNCH_TYPE_NODE_PEER, NULL);

  self->peer_id = g_strdup (peer_id);
  return self;
}

const char *
punch_node_peer_get_peer_id (PunchNodePeer *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_PEER (self), NULL);
  return self->peer_id;
}

PunchPeerPath
punch_node_peer_get_path (PunchNodePeer *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_PEER (self), PUNCH_PEER_PATH_NONE);
  return self->path;
}

const char *
punch_node_peer_get_relay_peer_id (PunchNodePeer *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_PEER (self), NULL);
  return self->relay_peer_id;
}

const char *
punch_node_peer_get_relay_addr (PunchNodePeer *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_PEER (self), NULL);
  return self->relay_addr;
}

gint64
punch_node_peer_get_rtt (PunchNodePeer *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_PEER (self), -1);
  return self->rtt;
}

const char *
punch_node_peer_get_agent_version (PunchNodePeer *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_PEER (self), NULL);
  return self->agent_version;
}

gint64
punch_node_peer_get_since (PunchNodePeer *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_PEER (self), 0);
  return self->since;
}

const char *
punch_node_peer_get_direct_addr (PunchNodePeer *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_PEER (self), NULL);
  return self->direct_addr;
}

guint
punch_node_peer_get_punch_attempts (PunchNodePeer *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_PEER (self), 0);
  return self->punch_attempts;
}

const char *
punch_node_peer_get_punch_outcome (PunchNodePeer *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_PEER (self), NULL);
  return self->punch_outcome;
}

void
punch_node_peer_get_path_times (PunchNodePeer *self, gint64 *direct_us, gint64 *relayed_us)
{
  gint64 d, r, running;

  g_return_if_fail (PUNCH_IS_NODE_PEER (self));

  d = self->time_direct;
  r = self->time_relayed;
  running = g_get_real_time () - self->since;
  if (self->path == PUNCH_PEER_PATH_DIRECT)
    d += running;
  else if (self->path == PUNCH_PEER_PATH_RELAYED || self->path == PUNCH_PEER_PATH_PUNCHING)
    r += running;
  if (direct_us != NULL)
    *direct_us = d;
  if (relayed_us != NULL)
    *relayed_us = r;
}

PunchTimeline *
punch_node_peer_get_timeline (PunchNodePeer *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_PEER (self), NULL);
  return self->timeline;
}

PunchRttSeries *
punch_node_peer_get_rtt_relay (PunchNodePeer *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_PEER (self), NULL);
  return self->rtt_relay;
}

PunchRttSeries *
punch_node_peer_get_rtt_relayed (PunchNodePeer *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_PEER (self), NULL);
  return self->rtt_relayed;
}

PunchRttSeries *
punch_node_peer_get_rtt_direct (PunchNodePeer *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_PEER (self), NULL);
  return self->rtt_direct;
}

static void
set_string (PunchNodePeer *self, char **field, const char *value, int prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

void
punch_node_peer_set_path (PunchNodePeer *self, PunchPeerPath path)
{
  gint64 now = g_get_real_time ();
  PunchPeerPath from;

  g_return_if_fail (PUNCH_IS_NODE_PEER (self));

  if (self->path == path)
    return;
  from = self->path;
  if (from == PUNCH_PEER_PATH_DIRECT)
    self->time_direct += now - self->since;
  else if (from != PUNCH_PEER_PATH_NONE)
    self->time_relayed += now - self->since;
  self->path = path;
  /* Punching is a phase of the relayed path, not a new path: keep its start. */
  if (!((from == PUNCH_PEER_PATH_RELAYED && path == PUNCH_PEER_PATH_PUNCHING)
        || (from == PUNCH_PEER_PATH_PUNCHING && path == PUNCH_PEER_PATH_RELAYED)))
    {
      self->since = now;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SINCE]);
    }
  else
    {
      /* The running time was just added; restart the running interval. */
      self->since = now;
    }
  punch_timeline_add (self->timeline, "path", self->peer_id, punch_peer_path_to_string (from),
                      punch_peer_path_to_string (path), NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PATH]);
}

void
punch_node_peer_set_relay (PunchNodePeer *self, const char *relay_peer_id, const char *relay_addr)
{
  g_return_if_fail (PUNCH_IS_NODE_PEER (self));
  set_string (self, &self->relay_peer_id, relay_peer_id, PROP_RELAY_PEER_ID);
  set_string (self, &self->relay_addr, relay_addr, PROP_RELAY_ADDR);
}

void
punch_node_peer_set_rtt (PunchNodePeer *self, gint64 rtt_us)
{
  g_return_if_fail (PUNCH_IS_NODE_PEER (self));
  if (self->rtt == rtt_us)
    return;
  self->rtt = rtt_us;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RTT]);
}

void
punch_node_peer_set_agent_version (PunchNodePeer *self, const char *agent)
{
  g_return_if_fail (PUNCH_IS_NODE_PEER (self));
  set_string (self, &self->agent_version, agent, PROP_AGENT_VERSION);
}

void
punch_node_peer_set_direct_addr (PunchNodePeer *self, const char *addr)
{
  g_return_if_fail (PUNCH_IS_NODE_PEER (self));
  set_string (self, &self->direct_addr, addr, PROP_DIRECT_ADDR);
}

PunchConnection *
punch_node_peer_get_relayed_connection (PunchNodePeer *self)
{
  g_return_val_if_fail (PUNCH_IS_NODE_PEER (self), NULL);
  return self->relayed_connection;
}

void
punch_node_peer_set_relayed_connection (PunchNodePeer *self, PunchConnection *connection)
{
  g_return_if_fail (PUNCH_IS_NODE_PEER (self));
  if (g_set_object (&self->relayed_connection, connection))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RELAYED_CONNECTION]);
}

void
punch_node_peer_set_punch (PunchNodePeer *self, guint attempts, const char *outcome)
{
  g_return_if_fail (PUNCH_IS_NODE_PEER (self));
  if (self->punch_attempts != attempts)
    {
      self->punch_attempts = attempts;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PUNCH_ATTEMPTS]);
    }
  set_string (self, &self->punch_outcome, outcome, PROP_PUNCH_OUTCOME);
}

const char *
punch_peer_path_to_string (PunchPeerPath path)
{
  switch (path)
    {
    case PUNCH_PEER_PATH_NONE:
      return "none";
    case PUNCH_PEER_PATH_RELAYED:
      return "relayed";
    case PUNCH_PEER_PATH_PUNCHING:
      return "punching";
    case PUNCH_PEER_PATH_DIRECT:
      return "direct";
    default:
      return "unknown";
    }
}
