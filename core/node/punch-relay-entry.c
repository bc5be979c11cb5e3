/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-relay-entry.h"

struct _PunchRelayEntry
{
  GObject parent_instance;

  char                 *addr;
  PunchRelayEntryStatus status;
  char                 *error;
  guint                 n_relays;
};

G_DEFINE_FINAL_TYPE (PunchRelayEntry, punch_relay_entry, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_ADDR,
  PROP_STATUS,
  PROP_ERROR,
  PROP_N_RELAYS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
punch_relay_entry_finalize (GObject *object)
{
  PunchRelayEntry *self = PUNCH_RELAY_ENTRY (object);

  g_free (self->addr);
  g_free (self->error);
  G_OBJECT_CLASS (punch_relay_entry_parent_class)->finalize (object);
}

static void
punch_relay_entry_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PunchRelayEntry *self = PUNCH_RELAY_ENTRY (object);

  switch (prop_id)
    {
    case PROP_ADDR:
      g_value_set_string (value, self->addr);
      break;
    case PROP_STATUS:
      g_value_set_int (value, self->status);
      break;
    case PROP_ERROR:
      g_value_set_string (value, self->error);
      break;
    case PROP_N_RELAYS:
      g_value_set_uint (value, self->n_relays);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_relay_entry_class_init (PunchRelayEntryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = punch_relay_entry_finalize;
  object_class->get_property = punch_relay_entry_get_property;

  properties[PROP_ADDR] = g_param_spec_string ("addr", NULL, NULL, NULL, ro);
  properties[PROP_STATUS] = g_param_spec_int ("status", NULL, NULL, PUNCH_RELAY_ENTRY_RESOLVING,
                                              PUNCH_RELAY_ENTRY_FAILED, PUNCH_RELAY_ENTRY_RESOLVING, ro);
  properties[PROP_ERROR] = g_param_spec_string ("error", NULL, NULL, NULL, ro);
  properties[PROP_N_RELAYS] = g_param_spec_uint ("n-relays", NULL, NULL, 0, G_MAXUINT, 0, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
punch_relay_entry_init (PunchRelayEntry *self)
{
}

PunchRelayEntry *
punch_relay_entry_new (const char *addr)
{
  PunchRelayEntry *self = g_object_new (PUNCH_TYPE_RELAY_ENTRY, NULL);

  self->addr = g_strdup (addr);
  return self;
}

const char *
punch_relay_entry_get_addr (PunchRelayEntry *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_ENTRY (self), NULL);
  return self->addr;
}

PunchRelayEntryStatus
punch_relay_entry_get_status (PunchRelayEntry *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_ENTRY (self), PUNCH_RELAY_ENTRY_FAILED);
  return self->status;
}

const char *
punch_relay_entry_get_error (PunchRelayEntry *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_ENTRY (self), NULL);
  return self->error;
}

guint
punch_relay_entry_get_n_relays (PunchRelayEntry *self)
{
  g_return_val_if_fail (PUNCH_IS_RELAY_ENTRY (self), 0);
  return self->n_relays;
}

void
punch_relay_entry_set_status (PunchRelayEntry *self, PunchRelayEntryStatus status, guint n_relays, const char *error)
{
  g_return_if_fail (PUNCH_IS_RELAY_ENTRY (self));

  if (self->status != status)
    {
      self->status = status;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
    }
  if (self->n_relays != n_relays)
    {
      self->n_relays = n_relays;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_RELAYS]);
    }
  if (g_strcmp0 (self->error, error) != 0)
    {
      g_free (self->error);
      self->error = g_strdup (error);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
    }
}
