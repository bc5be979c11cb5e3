/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The DCUtR service between our own hosts over loopback, through our relay.
 * Loopback is no public address, so no punch can succeed here (the NAT lab,
 * tests/lab, has those): these cases check how the exchange ends. */
#include <string.h>

#include "../host/host-test-util.h"
#include "punch-dcutr-service.h"
#include "punch-hole-punch.h"
#include "punch-host.h"
#include "punch-identify-service.h"
#include "punch-relay-client.h"
#include "punch-relay-service.h"

typedef struct
{
  PunchHost            *relay;
  PunchRelayService    *service;
  PunchHost            *b;
  PunchIdentifyService *b_identify;
  PunchRelayClient     *b_client;
  PunchDcutrService    *b_dcutr;
  PunchHost            *a;
  PunchIdentifyService *a_identify;
  PunchRelayClient     *a_client;
  PunchDcutrService    *a_dcutr;   /* NULL when A does not speak DCUtR */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  gboolean a_speaks_dcutr = GPOINTER_TO_INT (data);

  f->relay = host_test_new_listening ();
  f->service = punch_relay_service_new (f->relay);
  f->b = host_test_new_listening ();
  f->b_identify = punch_identify_service_new (f->b);
  f->b_client = punch_relay_client_new (f->b);
  f->b_dcutr = punch_dcutr_service_new (f->b, f->b_identify);
  f->a = host_test_new_listening ();
  f->a_identify = punch_identify_service_new (f->a);
  f->a_client = punch_relay_client_new (f->a);
  if (a_speaks_dcutr)
    f->a_dcutr = punch_dcutr_service_new (f->a, f->a_identify);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->a_dcutr);
  g_clear_object (&f->b_dcutr);
  g_clear_object (&f->a_client);
  g_clear_object (&f->b_client);
  g_clear_object (&f->a_identify);
  g_clear_object (&f->b_identify);
  g_clear_object (&f->service);
  punch_host_close (f->a);
  punch_host_close (f->b);
  punch_host_close (f->relay);
  host_test_spin (50);
  g_clear_object (&f->a);
  g_clear_object (&f->b);
  g_clear_object (&f->relay);
}

/* A dials B's relayed address; returns B's first punch once it ended. */
static PunchHolePunch *
relay_and_wait_punch (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchMultiaddr) relay_addr = NULL;
  g_autoptr (GPtrArray) relay_listen = punch_host_get_listen_addrs (f->relay);
  g_autoptr (GPtrArray) relayed = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PunchConnection) conn = NULL;
  GListModel *punches = punch_dcutr_service_get_punches (f->b_dcutr);
  PunchRelayReservation *rsv;
  gsize len;
  const guint8 *id = punch_peer_id_get_bytes (punch_host_get_peer_id (f->relay), &len);
  PunchHolePunch *hp;

  relay_addr = punch_multiaddr_with_peer_id (g_ptr_array_index (relay_listen, 0), id, len);
  rsv = punch_relay_client_add_relay (f->b_client, relay_addr, &error);
  g_assert_no_error (error);
  WAIT_UNTIL (punch_relay_reservation_get_state (rsv) == PUNCH_RESERVATION_STATE_RESERVED);
  relayed = punch_relay_client_get_relayed_addrs (f->b_client);
  g_assert_cmpuint (relayed->len, ==, 1);

  punch_host_dial_async (f->a, g_ptr_array_index (relayed, 0), NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  conn = punch_host_dial_finish (f->a, result, &error);
  g_assert_no_error (error);
  g_assert_true (punch_connection_get_relayed (conn));

  /* B holds the inbound relayed connection: its punch starts at once. */
  WAIT_UNTIL (g_list_model_get_n_items (punches) == 1);
  hp = g_list_model_get_item (punches, 0);
  g_assert_cmpint (punch_hole_punch_get_role (hp), ==, PUNCH_HOLE_PUNCH_ROLE_B);
  WAIT_UNTIL (punch_hole_punch_is_finished (hp));
  return hp;
}

/* A does not speak /libp2p/dcutr: the optimistic proposal (sent with
 * CONNECT) comes back "na", and B gives up at once, not three times. */
static void
test_peer_without_dcutr (Fixture *f, gconstpointer data)
{
  g_autoptr (PunchHolePunch) hp = relay_and_wait_punch (f);

  g_assert_cmpint (punch_hole_punch_get_state (hp), ==, PUNCH_HOLE_PUNCH_STATE_FAILED);
  g_assert_cmpint (punch_hole_punch_get_outcome (hp), ==, PUNCH_HOLE_PUNCH_OUTCOME_NO_STREAM);
  g_assert_cmpuint (punch_hole_punch_get_attempts (hp), ==, 1);
  g_assert_nonnull (punch_hole_punch_get_error (hp));
  g_assert_nonnull (strstr (punch_hole_punch_get_error (hp), "na"));
  g_assert_null (punch_hole_punch_get_direct_connection (hp));
}

/* Both speak DCUtR but neither has a public address: every exchange ends
 * on the empty CONNECT, three times, and both sides' punches end failed
 * (A's with the third, without waiting for a fourth). */
static void
test_no_public_address (Fixture *f, gconstpointer data)
{
  g_autoptr (PunchHolePunch) hp = relay_and_wait_punch (f);
  GListModel *a_punches = punch_dcutr_service_get_punches (f->a_dcutr);
  g_autoptr (PunchHolePunch) a_hp = NULL;

  g_assert_cmpint (punch_hole_punch_get_state (hp), ==, PUNCH_HOLE_PUNCH_STATE_FAILED);
  g_assert_cmpint (punch_hole_punch_get_outcome (hp), ==, PUNCH_HOLE_PUNCH_OUTCOME_FAILED);
  g_assert_cmpuint (punch_hole_punch_get_attempts (hp), ==, PUNCH_DCUTR_MAX_ATTEMPTS);
  g_assert_nonnull (punch_hole_punch_get_error (hp));

  WAIT_UNTIL (g_list_model_get_n_items (a_punches) >= 1);
  g_assert_cmpuint (g_list_model_get_n_items (a_punches), ==, 1);
  a_hp = g_list_model_get_item (a_punches, 0);
  g_assert_cmpint (punch_hole_punch_get_role (a_hp), ==, PUNCH_HOLE_PUNCH_ROLE_A);
  WAIT_UNTIL (punch_hole_punch_is_finished (a_hp));
  g_assert_cmpint (punch_hole_punch_get_state (a_hp), ==, PUNCH_HOLE_PUNCH_STATE_FAILED);
  g_assert_cmpuint (punch_hole_punch_get_attempts (a_hp), ==, PUNCH_DCUTR_MAX_ATTEMPTS);
  g_assert_nonnull (strstr (punch_hole_punch_get_error (a_hp), "no public TCP address"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/core/dcutr-service/peer-without-dcutr", Fixture, GINT_TO_POINTER (FALSE), fixture_setup,
              test_peer_without_dcutr, fixture_teardown);
  g_test_add ("/core/dcutr-service/no-public-address", Fixture, GINT_TO_POINTER (TRUE), fixture_setup,
              test_no_public_address, fixture_teardown);
  return g_test_run ();
}
