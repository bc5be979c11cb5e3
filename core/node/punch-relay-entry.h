/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum
{
  PUNCH_RELAY_ENTRY_RESOLVING,  /* /dnsaddr lookup under way */
  PUNCH_RELAY_ENTRY_ACTIVE,     /* handed to the relay client */
  PUNCH_RELAY_ENTRY_FAILED,     /* bad address or resolution failed: see "error" */
} PunchRelayEntryStatus;

#define PUNCH_TYPE_RELAY_ENTRY (punch_relay_entry_get_type ())
G_DECLARE_FINAL_TYPE (PunchRelayEntry, punch_relay_entry, PUNCH, RELAY_ENTRY, GObject)

/**
 * PunchRelayEntry:
 *
 * One relay address as the user configured it (possibly a /dnsaddr name
 * standing for several relays), with what became of it. The reservations
 * themselves live in the relay client.
 *
 * Properties (read-only, notify): "addr", "status" (int), "error" (NULL
 *   unless failed), "n-relays" (relays it resolved to).
 */
PunchRelayEntry       *punch_relay_entry_new (const char *addr);
const char            *punch_relay_entry_get_addr (PunchRelayEntry *self);
PunchRelayEntryStatus  punch_relay_entry_get_status (PunchRelayEntry *self);
const char            *punch_relay_entry_get_error (PunchRelayEntry *self);
guint                  punch_relay_entry_get_n_relays (PunchRelayEntry *self);
void                   punch_relay_entry_set_status (PunchRelayEntry      *self,
                                                     PunchRelayEntryStatus status,
                                                     guint                 n_relays,
                                                     const char           *error);

G_END_DECLS
