/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "punch-hole-punch.h"

G_BEGIN_DECLS

PunchHolePunch *punch_hole_punch_new (PunchPeerId        *peer,
                                      PunchHolePunchRole  role,
                                      PunchConnection    *relayed);
void            punch_hole_punch_set_state (PunchHolePunch      *self,
                                            PunchHolePunchState  state,
                                            const char          *detail);
void            punch_hole_punch_begin_attempt (PunchHolePunch *self);
/* The attempt begun last did not get to SYNC and does not count. */
void            punch_hole_punch_retract_attempt (PunchHolePunch *self);
void            punch_hole_punch_set_rtt (PunchHolePunch *self, gint64 rtt_us);
void            punch_hole_punch_set_addrs (PunchHolePunch     *self,
                                            const char * const *local,
                                            const char * const *remote);
void            punch_hole_punch_succeed (PunchHolePunch        *self,
                                          PunchHolePunchOutcome  outcome,
                                          PunchConnection       *direct);
void            punch_hole_punch_fail (PunchHolePunch        *self,
                                       PunchHolePunchOutcome  outcome,
                                       const char            *error);
void            punch_hole_punch_set_error (PunchHolePunch *self, const char *error);

G_END_DECLS
