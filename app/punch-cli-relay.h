/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "punch-cli-output.h"
#include "punch-dcutr-service.h"
#include "punch-relay-client.h"
#include "punch-relay-service.h"

G_BEGIN_DECLS

/*
 * The CLI's relay and hole-punch events (docs/cli-events.md): "reservation"
 * and "reserved" for our reservations on relays, "relay_budget" for what our
 * relayed connections may still send and receive, "reservation" and
 * "circuit" for the relay we serve, "holepunch" for every DCUtR transition.
 *
 * Each watch connects handlers with @out as their data; call
 * punch_cli_relay_unwatch() on the same object before @out goes away.
 */
void punch_cli_relay_watch_reservation (PunchCliOutput        *out,
                                        PunchRelayReservation *reservation);
void punch_cli_relay_watch_service     (PunchCliOutput        *out,
                                        PunchRelayService     *service);
void punch_cli_relay_watch_dcutr       (PunchCliOutput        *out,
                                        PunchDcutrService     *dcutr);
/* A "relay_budget" event when a relay-limited connection of @host opens,
 * whenever its remaining budget changes (at most once a second) and when it
 * closes. */
void punch_cli_relay_watch_budgets     (PunchCliOutput        *out,
                                        PunchHost             *host);
/* Disconnects every handler of @out from @object (and, for a
 * #PunchDcutrService, from its hole punches; for a #PunchHost, from its
 * connections). */
void punch_cli_relay_unwatch           (PunchCliOutput        *out,
                                        gpointer               object);

/* A "relay" event with the settings the relay runs with. */
void punch_cli_relay_print_settings    (PunchCliOutput        *out,
                                        PunchRelayService     *service,
                                        GPtrArray             *announce);

/* An application protocol that opts into relay-limited connections, for
 * tests of relayed connections: echoes every byte until the peer closes. */
#define PUNCH_CLI_ECHO_PROTOCOL "/punchline/echo/1.0.0"
void punch_cli_relay_serve_echo        (PunchHost             *host);

G_END_DECLS
