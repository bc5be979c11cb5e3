/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "punch-relay-reservation.h"

G_BEGIN_DECLS

/* What the relay client changes; the UI only reads. */
PunchRelayReservation *punch_relay_reservation_new (PunchMultiaddr *relay_addr,
                                                    PunchPeerId    *relay_peer_id);
void punch_relay_reservation_set_state (PunchRelayReservation *self,
                                        PunchReservationState  state,
                                        const char            *reason);
void punch_relay_reservation_set_reserved (PunchRelayReservation *self,
                                           gint64                 expire,
                                           guint32                limit_duration,
                                           guint64                limit_data,
                                           GPtrArray             *addrs);
void punch_relay_reservation_set_voucher (PunchRelayReservation *self,
                                          PunchVoucherState      state,
                                          const char            *error);
void punch_relay_reservation_set_connection (PunchRelayReservation *self,
                                             PunchConnection       *connection);
void punch_relay_reservation_set_attempts (PunchRelayReservation *self, guint attempts);

G_END_DECLS
