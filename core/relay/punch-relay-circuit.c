/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-relay-circuit.h"

#include "punch-yamux-stream.h"

/* go relays 2 KiB at a time; a little more keeps syscalls down while the
 * memory per circuit stays bounded. */
#define PUMP_BUFFER 16384

typedef struct
{
  PunchRelayCircuit *circuit;   /* unowned; the circuit owns its pumps */
  GIOStream         *from;
  GIOStream         *to;
  guint8             buf[PUMP_BUFFER];
  guint64            moved;
  gboolean           done;
  gboolean           at_limit;   /* the last write spends the data budget */
} Pump;

struct _PunchRelayCircuit
{
  GObject parent_instance;

  PunchPeerId  *src;
  PunchPeerId  *dst;
  guint32       limit_duration;
  guint64       limit_data;
  Pump          to_dst;
  Pump          to_src;
  GCancellable *cancellable;
  guint         duration_id;
  gboolean      closed;
  char         *reason;
  PunchRelayTapFunc tap;
  gpointer          tap_data;
};

G_DEFINE_FINAL_TYPE (PunchRelayCircuit, punch_relay_circuit, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_SRC,
  PROP_DST,
  PROP_BYTES_TO_DST,
  PROP_BYTES_TO_SRC,
  PROP_CLOSED,
  PROP_REASON,
  N_PROPS
};

enum
{
  FINISHED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void pump_read (Pump *pump);

static void
reset_stream (GIOStream *stream)
{
  if (PUNCH_IS_YAMUX_STREAM (stream))
    punch_yamux_stream_reset (PUNCH_YAMUX_STREAM (stream));
  else
    g_io_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
}

static void
circuit_finish (PunchRelayCircuit *self, const char *reason)
{
  g_autoptr (PunchRelayCircuit) keep = NULL;

  if (self->closed)
    return;

  /* Observers may drop their last reference from "finished". */
  keep = g_object_ref (self);
  self->closed = TRUE;
  self->reason = g_strdup (reason);
  g_clear_handle_id (&self->duration_id, g_source_remove);
  g_cancellable_cancel (self->cancellable);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_TO_DST]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_TO_SRC]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REASON]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLOSED]);
  g_signal_emit (self, signals[FINISHED], 0, reason);
}

/**
 * punch_relay_circuit_abort:
 * @self: a circuit
 * @reason: why, e.g. "data limit of 131072 bytes reached"
 *
 * Resets both ends: a limit was hit or the relay is shutting down.
 */
void
punch_relay_circuit_abort (PunchRelayCircuit *self, const char *reason)
{
  g_autoptr (PunchRelayCircuit) keep = NULL;

  g_return_if_fail (PUNCH_IS_RELAY_CIRCUIT (self));

  if (self->closed)
    return;
  keep = g_object_ref (self);
  /* Finish first: resetting completes the pending reads at once, and they
   * must see a closed circuit rather than report the reset as the cause. */
  circuit_finish (self, reason);
  reset_stream (self->to_dst.from);
  reset_stream (self->to_dst.to);
}

static void
abort_at_data_limit (PunchRelayCircuit *self)
{
  g_autofree char *reason = g_strdup_printf ("data limit of %" G_GUINT64_FORMAT " bytes per direction reached",
                                             self->limit_data);

  punch_relay_circuit_abort (self, reason);
}

static void
pump_done (Pump *pump)
{
  PunchRelayCircuit *self = pump->circuit;

  pump->done = TRUE;
  if (self->to_dst.done && self->to_src.done)
    {
      g_io_stream_close_async (self->to_dst.from, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      g_io_stream_close_async (self->to_dst.to, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      circuit_finish (self, NULL);
    }
}

/* Every pending operation holds a reference on the circuit, so a circuit
 * lives exactly as long as something may still call back into it. */
static void
pump_wrote (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pump *pump = user_data;
  g_autoptr (PunchRelayCircuit) self = pump->circuit;
  g_autoptr (GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (!self->closed)
        {
          g_autofree char *reason = g_strdup_printf ("forwarding failed: %s", error->message);
          punch_relay_circuit_abort (self, reason);
        }
      return;
    }
  if (pump->at_limit)
    {
      if (!self->closed)
        abort_at_data_limit (self);
      return;
    }
  pump_read (pump);
}

static void
pump_half_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pump *pump = user_data;
  g_autoptr (PunchRelayCircuit) self = pump->circuit;

  g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, NULL);
  if (!self->closed)
    pump_done (pump);
}

static void
pump_got (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pump *pump = user_data;
  g_autoptr (PunchRelayCircuit) self = pump->circuit;
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (self->closed)
    return;
  if (n < 0)
    {
      g_autofree char *reason = g_strdup_printf ("%s side failed: %s",
                                                 pump == &self->to_dst ? "source" : "destination",
                                                 error->message);
      punch_relay_circuit_abort (self, reason);
      return;
    }
  if (n == 0)
    {
      /* A FIN from one side travels on as a FIN to the other. */
      g_output_stream_close_async (g_io_stream_get_output_stream (pump->to), G_PRIORITY_DEFAULT,
                                   self->cancellable, pump_half_closed, pump);
      g_object_ref (self);
      return;
    }

  /* As go does: relay exactly the budget, then reset both ends. */
  if (self->limit_data > 0 && (guint64) n >= self->limit_data - pump->moved)
    {
      n = (gssize) (self->limit_data - pump->moved);
      pump->at_limit = TRUE;
      if (n == 0)
        {
          abort_at_data_limit (self);
          return;
        }
    }
  pump->moved += (guint64) n;
  if (self->tap != NULL)
    self->tap (self, pump == &self->to_dst, pump->buf, (gsize) n, self->tap_data);
  g_object_ref (self);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (pump->to), pump->buf, (gsize) n,
                                   G_PRIORITY_DEFAULT, self->cancellable, pump_wrote, pump);
}

static void
pump_read (Pump *pump)
{
  g_object_ref (pump->circuit);
  g_input_stream_read_async (g_io_stream_get_input_stream (pump->from), pump->buf, sizeof pump->buf,
                             G_PRIORITY_DEFAULT, pump->circuit->cancellable, pump_got, pump);
}

static gboolean
duration_cb (gpointer user_data)
{
  PunchRelayCircuit *self = user_data;
  g_autofree char *reason = g_strdup_printf ("duration limit of %u s reached", self->limit_duration);

  self->duration_id = 0;
  punch_relay_circuit_abort (self, reason);
  return G_SOURCE_REMOVE;
}

void
punch_relay_circuit_start (PunchRelayCircuit *self)
{
  g_return_if_fail (PUNCH_IS_RELAY_CIRCUIT (self));

  if (self->limit_duration > 0)
    {
      /* To the millisecond: g_timeout_add_seconds() may fire up to a
       * second early, and peers check the limit they were told. */
      self->duration_id = g_timeout_add ((guint) MIN ((guint64) self->limit_duration * 1000, G_MAXUINT),
                                         duration_cb, self);
      g_source_set_name_by_id (self->duration_id, "[punchline] relay circuit duration limit");
    }
  pump_read (&self->to_dst);
  pump_read (&self->to_src);
}

void
punch_relay_circuit_set_tap (PunchRelayCircuit *self,
                             PunchRelayTapFunc  func,
                             gpointer           user_data)
{
  g_return_if_fail (PUNCH_IS_RELAY_CIRCUIT (self));

  self->tap = func;
  self->tap_data = user_data;
}

PunchRelayCircuit *
punch_relay_circuit_new (PunchPeerId *src,
                         GIOStream   *src_stream,
                         PunchPeerId *dst,
                         GIOStream   *dst_stream,
                         guint32      limit_duration,
                         guint64      limit_data)
{
  PunchRelayCircuit *self = g_object_new (PUNCH_TYPE_RELAY_CIRCUIT, NULL);

  self->src = punch_peer_id_ref (src);
  self->dst = punch_peer_id_ref (dst);
  self->limit_duration = limit_duration;
  self->limit_data = limit_data;
  self->to_dst.circuit = self;
  self->to_dst.from = g_object_ref (src_stream);
  self->to_dst.to = g_object_ref (dst_stream);
  self->to_src.circuit = self;
  self->to_src.from = g_object_ref (dst_stream);
  self->to_src.to = g_object_ref (src_stream);
  return self;
}

static void
punch_relay_circuit_finalize (GObject *object)
{
  PunchRelayCircuit *self = PUNCH_RELAY_CIRCUIT (object);

  g_clear_handle_id (&self->duration_id, g_source_remove);
  g_clear_pointer (&self->src, punch_peer_id_unref);
  g_clear_pointer (&self->dst, punch_peer_id_unref);
  g_clear_object (&self->to_dst.from);
  g_clear_object (&self->to_dst.to);
  g_clear_object (&self->to_src.from);
  g_clear_object (&self->to_src.to);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->reason, g_free);

  G_OBJECT_CLASS (punch_relay_circuit_parent_class)->finalize (object);
}

static void
punch_relay_circuit_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PunchRelayCircuit *self = PUNCH_RELAY_CIRCUIT (object);

  switch (prop_id)
    {
    case PROP_SRC:
      g_value_set_boxed (value, self->src);
      break;
    case PROP_DST:
      g_value_set_boxed (value, self->dst);
      break;
    case PROP_BYTES_TO_DST:
      g_value_set_uint64 (value, self->to_dst.moved);
      break;
    case PROP_BYTES_TO_SRC:
      g_value_set_uint64 (value, self->to_src.moved);
      break;
    case PROP_CLOSED:
      g_value_set_boolean (value, self->closed);
      break;
    case PROP_REASON:
      g_value_set_string (value, self->reason);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_relay_circuit_class_init (PunchRelayCircuitClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = punch_relay_circuit_finalize;
  object_class->get_property = punch_relay_circuit_get_property;

  properties[PROP_SRC] = g_param_spec_boxed ("src", NULL, NULL, PUNCH_TYPE_PEER_ID, ro);
  properties[PROP_DST] = g_param_spec_boxed ("dst", NULL, NULL, PUNCH_TYPE_PEER_ID, ro);
  properties[PROP_BYTES_TO_DST] = g_param_spec_uint64 ("bytes-to-dst", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  properties[PROP_BYTES_TO_SRC] = g_param_spec_uint64 ("bytes-to-src", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  properties[PROP_CLOSED] = g_param_spec_boolean ("closed", NULL, NULL, FALSE, ro);
  properties[PROP_REASON] = g_param_spec_string ("reason", NULL, NULL, NULL, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PunchRelayCircuit::finished:
   * @reason: (nullable): why it ended; NULL when both sides closed cleanly
   */
  signals[FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                    0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
punch_relay_circuit_init (PunchRelayCircuit *self)
{
  self->cancellable = g_cancellable_new ();
}

PunchPeerId *
punch_relay_circuit_get_src (PunchRelayCircuit *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_CIRCUIT (self), NULL);
  return self->src;
}

PunchPeerId *
punch_relay_circuit_get_dst (PunchRelayCircuit *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_CIRCUIT (self), NULL);
  return self->dst;
}

guint64
punch_relay_circuit_get_bytes_to_dst (PunchRelayCircuit *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_CIRCUIT (self), 0);
  return self->to_dst.moved;
}

guint64
punch_relay_circuit_get_bytes_to_src (PunchRelayCircuit *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_CIRCUIT (self), 0);
  return self->to_src.moved;
}

gboolean
punch_relay_circuit_get_closed (PunchRelayCircuit *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_CIRCUIT (self), TRUE);
  return self->closed;
}

const char *
punch_relay_circuit_get_reason (PunchRelayCircuit *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_CIRCUIT (self), NULL);
  return self->reason;
}
