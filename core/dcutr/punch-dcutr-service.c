/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-dcutr-service.h"

#include <string.h>

#include "punch-addr-scope.h"
#include "punch-connection-private.h"
#include "punch-dcutr-message.h"
#include "punch-error.h"
#include "punch-framing.h"
#include "punch-hole-punch-private.h"
#include "punch-host-private.h"
#include "punch-multistream.h"

/* How long B waits for identify before it decides on connection reversal
 * without it (go: IdentifyWait). The CONNECT exchange runs meanwhile. */
#define IDENTIFY_WAIT_MS      3000
/* One DCUtR exchange (CONNECT, CONNECT, SYNC) must finish within this. */
#define EXCHANGE_TIMEOUT_S    15
/* Each simultaneous-open attempt (go and rust: 10 s; js: 5 s). 5 s leaves
 * room for two lost SYNs (retransmitted after 1 s and 3 s). */
#define PUNCH_DIAL_TIMEOUT_MS 5000
/* How long B keeps the DCUtR stream open after a connection reversal. */
#define REVERSED_STREAM_LINGER_S 2
/* How long A waits for B's next attempt after a failed one before it
 * reports the punch as finished. */
#define A_RETRY_WAIT_S        20

struct _PunchDcutrService
{
  GObject parent_instance;

  PunchHost            *host;
  PunchIdentifyService *identify;
  GListStore           *punches;
  GCancellable         *cancellable;
  GPtrArray            *exchanges;     /* the running Exchange (borrowed) */
  GHashTable           *a_waiting;     /* PunchHolePunch (A, between attempts) → source id */
  gulong                opened_id;
  gboolean              enabled;
  guint                 direct_dial_timeout_ms;
  guint                 relay_grace_s;
};

G_DEFINE_FINAL_TYPE (PunchDcutrService, punch_dcutr_service, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_ENABLED,
  PROP_DIRECT_DIAL_TIMEOUT,
  PROP_RELAY_GRACE,
  N_PROPS
};

enum
{
  PUNCH_STARTED,
  PUNCH_FINISHED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

typedef struct _Exchange Exchange;
typedef void (*RoundDone) (Exchange *ex, PunchConnection *direct, GError *error);

/* One hole punch in progress, either role. Every pending operation holds a
 * reference; exchange_end() drops the one the exchange was born with, after
 * which late callbacks only let go of theirs. */
struct _Exchange
{
  guint              ref_count;
  PunchDcutrService *self;
  PunchHolePunch    *hp;
  PunchConnection   *relayed;
  GIOStream         *stream;
  GBytes            *flight;        /* B: what is being written on the stream */
  GCancellable      *cancellable;   /* the whole exchange */
  GCancellable      *round;         /* the dials of one round */
  GPtrArray         *remote;        /* PunchMultiaddr to dial */
  GArray            *expectations;  /* punch_host_expect_inbound() ids */
  gint64             t0;
  guint              timer_id;
  guint              timeout_id;
  gulong             identified_id;
  gulong             identify_failed_id;
  gboolean           identify_done;  /* B: identify answered, failed or timed out */
  gboolean           connect_ready;  /* B: the peer's CONNECT is in, SYNC not sent */
  gboolean           reversal_tried; /* B: connection reversal was considered */
  guint              ms_replies;     /* B: multistream replies read on the stream */
  guint              round_no;
  guint              dials_pending;
  GError            *dial_error;
  RoundDone          round_done;
  gboolean           dialing;       /* a round waits for its first connection */
  gboolean           ended;
};

static void b_attempt (Exchange *ex);
static void b_decide (Exchange *ex);
static void b_send_sync (Exchange *ex);
static void maybe_reversed (PunchDcutrService *self, PunchConnection *conn);
static PunchHolePunch *find_open_punch_a (PunchDcutrService *self, PunchPeerId *peer);

static Exchange *
exchange_ref (Exchange *ex)
{
  ex->ref_count++;
  return ex;
}

static void
exchange_unref (Exchange *ex)
{
  if (--ex->ref_count > 0)
    return;
  if (ex->stream != NULL)
    g_io_stream_close_async (ex->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_clear_object (&ex->stream);
  g_clear_pointer (&ex->flight, g_bytes_unref);
  g_clear_object (&ex->cancellable);
  g_clear_object (&ex->round);
  g_clear_pointer (&ex->remote, g_ptr_array_unref);
  g_clear_pointer (&ex->expectations, g_array_unref);
  g_clear_error (&ex->dial_error);
  g_clear_object (&ex->relayed);
  g_clear_object (&ex->hp);
  g_free (ex);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Exchange, exchange_unref)

static void
forward_cancel (GCancellable *from, GCancellable *to)
{
  g_cancellable_cancel (to);
}

static GCancellable *
child_cancellable (GCancellable *parent)
{
  GCancellable *child = g_cancellable_new ();

  g_signal_connect_object (parent, "cancelled", G_CALLBACK (forward_cancel), child, 0);
  if (g_cancellable_is_cancelled (parent))
    g_cancellable_cancel (child);
  return child;
}

static Exchange *
exchange_new (PunchDcutrService *self, PunchHolePunch *hp, PunchConnection *relayed)
{
  Exchange *ex = g_new0 (Exchange, 1);

  ex->ref_count = 1;
  ex->self = self;   /* borrowed: dispose ends every exchange */
  ex->hp = g_object_ref (hp);
  ex->relayed = g_object_ref (relayed);
  ex->cancellable = child_cancellable (self->cancellable);
  ex->expectations = g_array_new (FALSE, FALSE, sizeof (guint));
  g_ptr_array_add (self->exchanges, ex);
  return ex;
}

static void
clear_expectations (Exchange *ex)
{
  for (guint i = 0; i < ex->expectations->len; i++)
    punch_host_unexpect_inbound (ex->self->host, g_array_index (ex->expectations, guint, i));
  g_array_set_size (ex->expectations, 0);
}

/* Stops everything the exchange still does and drops its own reference. */
static void
exchange_end (Exchange *ex)
{
  PunchDcutrService *self = ex->self;

  if (ex->ended)
    return;
  ex->ended = TRUE;
  ex->dialing = FALSE;
  g_ptr_array_remove_fast (self->exchanges, ex);
  g_clear_handle_id (&ex->timer_id, g_source_remove);
  g_clear_handle_id (&ex->timeout_id, g_source_remove);
  g_clear_signal_handler (&ex->identified_id, self->identify);
  g_clear_signal_handler (&ex->identify_failed_id, self->identify);
  clear_expectations (ex);
  g_cancellable_cancel (ex->cancellable);
  if (ex->round != NULL)
    g_cancellable_cancel (ex->round);
  exchange_unref (ex);
}

static guint
exchange_timeout_add (Exchange *ex, guint ms, GSourceFunc func, const char *name)
{
  guint id = g_timeout_add_full (G_PRIORITY_DEFAULT, ms, func, exchange_ref (ex), (GDestroyNotify) exchange_unref);

  g_source_set_name_by_id (id, name);
  return id;
}

static void
close_superseded (PunchConnection *relayed)
{
  if (punch_connection_get_state (relayed) != PUNCH_CONNECTION_STATE_OPEN)
    return;
  g_debug ("closing relayed connection %u: a direct one replaced it", punch_connection_get_id (relayed));
  punch_connection_close (relayed);
}

static void
on_relayed_held (PunchConnection *relayed,
                 GParamSpec      *pspec,
                 gpointer         user_data)
{
  if (punch_connection_get_held (relayed))
    return;
  g_signal_handlers_disconnect_by_func (relayed, on_relayed_held, user_data);
  close_superseded (relayed);
}

static gboolean
close_relayed_cb (gpointer user_data)
{
  GWeakRef *ref = user_data;
  g_autoptr (PunchConnection) relayed = g_weak_ref_get (ref);

  if (relayed == NULL)
    return G_SOURCE_REMOVE;
  /* A forwarded TCP connection still on it carries on until it ends. */
  if (punch_connection_get_held (relayed))
    {
      g_debug ("relayed connection %u is held: closing it once released", punch_connection_get_id (relayed));
      g_signal_connect (relayed, "notify::held", G_CALLBACK (on_relayed_held), NULL);
      return G_SOURCE_REMOVE;
    }
  close_superseded (relayed);
  return G_SOURCE_REMOVE;
}

static void
weak_ref_free (GWeakRef *ref)
{
  g_weak_ref_clear (ref);
  g_free (ref);
}

static void
finish_punch (PunchDcutrService *self, PunchHolePunch *hp, PunchConnection *relayed)
{
  if (punch_hole_punch_get_state (hp) == PUNCH_HOLE_PUNCH_STATE_SUCCEEDED && relayed != NULL)
    {
      GWeakRef *ref = g_new0 (GWeakRef, 1);
      guint id;

      /* Streams already open on the relayed connection get time to finish. */
      g_weak_ref_init (ref, relayed);
      id = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, self->relay_grace_s, close_relayed_cb, ref,
                                       (GDestroyNotify) weak_ref_free);
      g_source_set_name_by_id (id, "[punchline] dcutr relay grace");
    }
  g_signal_emit (self, signals[PUNCH_FINISHED], 0, hp);
}

/* ---- addresses ---- */

static void
add_unique (GPtrArray *out, GHashTable *seen, PunchMultiaddr *ma)
{
  g_autoptr (PunchMultiaddr) t = NULL;
  char *text;

  if (!punch_dcutr_addr_is_dialable_tcp (ma) || out->len >= PUNCH_DCUTR_MAX_ADDRS)
    return;
  t = punch_multiaddr_slice (ma, 0, 2);
  text = punch_multiaddr_to_string (t);
  if (g_hash_table_add (seen, text))
    g_ptr_array_add (out, g_steal_pointer (&t));
}

GPtrArray *
punch_dcutr_service_get_candidate_addrs (PunchDcutrService *self)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  GListModel *conns;
  g_autoptr (GPtrArray) listen = NULL;
  guint n;

  g_return_val_if_fail (PUNCH_IS_DCUTR_SERVICE (self), out);

  conns = punch_host_get_connections (self->host);
  listen = punch_host_get_listen_addrs (self->host);
  n = g_list_model_get_n_items (conns);

  /* What others observe of us comes first: behind a NAT that is the
   * mapping a punch can reuse (dials leave from our listen port). Relayed
   * connections observe the relay, never us. */
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchConnection) conn = g_list_model_get_item (conns, i);
      PunchMultiaddr *observed = punch_connection_get_observed_addr (conn);

      if (observed != NULL && !punch_connection_get_relayed (conn) && punch_multiaddr_is_public (observed))
        add_unique (out, seen, observed);
    }
  for (guint i = 0; i < listen->len; i++)
    if (punch_multiaddr_is_public (g_ptr_array_index (listen, i)))
      add_unique (out, seen, g_ptr_array_index (listen, i));
  return out;
}

static GStrv
addrs_to_strv (GPtrArray *addrs)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; addrs != NULL && i < addrs->len; i++)
    {
      g_autofree char *text = punch_multiaddr_to_string (g_ptr_array_index (addrs, i));
      g_strv_builder_add (builder, text);
    }
  return g_strv_builder_end (builder);
}

/* ---- messages ---- */

static void
write_message (Exchange *ex, PunchDcutrType type, GPtrArray *addrs, GAsyncReadyCallback callback)
{
  g_autoptr (GBytes) bytes = punch_dcutr_message_encode (type, addrs);

  punch_framing_write_async (g_io_stream_get_output_stream (ex->stream), bytes, ex->cancellable, callback,
                             exchange_ref (ex));
}

static void
read_message (Exchange *ex, GAsyncReadyCallback callback)
{
  punch_framing_read_async (g_io_stream_get_input_stream (ex->stream), PUNCH_DCUTR_MAX_MESSAGE, ex->cancellable,
                            callback, exchange_ref (ex));
}

/* The dialable addresses of the peer's message, or NULL with @error set. */
static GPtrArray *
read_message_finish (Exchange *ex, GAsyncResult *result, PunchDcutrType expected, GError **error)
{
  g_autoptr (GBytes) bytes = punch_framing_read_finish (g_io_stream_get_input_stream (ex->stream), result, error);
  g_autoptr (GPtrArray) addrs = NULL;

  if (bytes == NULL)
    return NULL;
  addrs = punch_dcutr_message_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), expected, error);
  if (addrs == NULL)
    return NULL;
  return punch_dcutr_filter_remote_addrs (addrs, punch_hole_punch_get_peer_id (ex->hp));
}

/* ---- a round of dials: every candidate at once, the first connection wins ---- */

typedef struct
{
  Exchange *ex;
  guint     round_no;
} RoundDial;

static void
round_settle (Exchange *ex, PunchConnection *direct, GError *error)
{
  RoundDone done = ex->round_done;

  ex->dialing = FALSE;
  ex->round_done = NULL;
  clear_expectations (ex);
  /* The losers of the race stop; the winner is already ours. */
  if (ex->round != NULL)
    g_cancellable_cancel (ex->round);
  done (ex, direct, error);
}

static void
round_dialed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RoundDial *dial = user_data;
  g_autoptr (Exchange) ex = dial->ex;
  guint round_no = dial->round_no;
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchConnection) conn = punch_host_dial_finish (PUNCH_HOST (source), result, &error);

  g_free (dial);
  if (ex->ended || round_no != ex->round_no || !ex->dialing)
    return;
  ex->dials_pending--;
  if (conn != NULL)
    {
      round_settle (ex, conn, NULL);
      return;
    }
  /* The reason worth telling: a real failure over a cancellation. */
  if (ex->dial_error == NULL || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_error (&ex->dial_error);
      ex->dial_error = g_steal_pointer (&error);
    }
  if (ex->dials_pending == 0)
    {
      g_autoptr (GError) last = g_steal_pointer (&ex->dial_error);
      round_settle (ex, NULL, last);
    }
}

/* Dials every address of @addrs (as the server when !@as_client), and
 * expects the peer's SYN to land on our listener instead. */
static void
round_start (Exchange *ex, GPtrArray *addrs, gboolean as_client, guint timeout_ms, RoundDone done)
{
  gsize len;
  const guint8 *peer = punch_peer_id_get_bytes (punch_hole_punch_get_peer_id (ex->hp), &len);

  ex->round_no++;
  ex->dialing = TRUE;
  ex->round_done = done;
  ex->dials_pending = 0;
  g_clear_error (&ex->dial_error);
  g_clear_object (&ex->round);
  ex->round = child_cancellable (ex->cancellable);
  clear_expectations (ex);
  for (guint i = 0; i < addrs->len; i++)
    {
      guint id = punch_host_expect_inbound (ex->self->host, g_ptr_array_index (addrs, i),
                                            punch_hole_punch_get_peer_id (ex->hp), as_client);
      g_array_append_val (ex->expectations, id);
    }
  for (guint i = 0; i < addrs->len; i++)
    {
      g_autoptr (PunchMultiaddr) full = punch_multiaddr_with_peer_id (g_ptr_array_index (addrs, i), peer, len);
      RoundDial *dial = g_new0 (RoundDial, 1);

      dial->ex = exchange_ref (ex);
      dial->round_no = ex->round_no;
      ex->dials_pending++;
      punch_host_dial_full_async (ex->self->host, full, as_client ? PUNCH_DIAL_FLAGS_NONE : PUNCH_DIAL_FLAGS_AS_SERVER,
                                  timeout_ms, ex->round, round_dialed, dial);
    }
  if (addrs->len == 0)
    {
      g_autoptr (GError) error = g_error_new (PUNCH_ERROR, PUNCH_ERROR_NO_ADDRESSES, "no address to dial");
      round_settle (ex, NULL, error);
    }
}

/* A direct connection with the peer of a dialling exchange, however it
 * came (our dial, the peer's SYN on our listener), ends the round. */
static gboolean
direct_connection_opened (PunchDcutrService *self, PunchConnection *conn)
{
  PunchPeerId *peer = punch_connection_get_peer_id (conn);

  for (guint i = 0; i < self->exchanges->len; i++)
    {
      Exchange *ex = g_ptr_array_index (self->exchanges, i);

      if (ex->dialing && punch_peer_id_equal (punch_hole_punch_get_peer_id (ex->hp), peer))
        {
          g_debug ("hole punch with %s: direct connection %u (%s)", punch_peer_id_to_string (peer),
                   punch_connection_get_id (conn),
                   punch_connection_get_direction (conn) == PUNCH_DIRECTION_INBOUND ? "inbound" : "outbound");
          /* Settling may end the exchange: keep it until we are done. */
          exchange_ref (ex);
          round_settle (ex, conn, NULL);
          exchange_unref (ex);
          return TRUE;
        }
    }
  return FALSE;
}

/* ---- role B: we accepted the relayed connection ---- */

static void
b_end (Exchange *ex, PunchHolePunchOutcome outcome, const char *why)
{
  punch_hole_punch_fail (ex->hp, outcome, why);
  finish_punch (ex->self, ex->hp, ex->relayed);
  exchange_end (ex);
}

static void
b_give_up_or_retry (Exchange *ex, const char *why)
{
  g_debug ("hole punch with %s: %s", punch_peer_id_to_string (punch_hole_punch_get_peer_id (ex->hp)), why);
  punch_hole_punch_set_error (ex->hp, why);
  if (ex->stream != NULL)
    g_io_stream_close_async (ex->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_clear_object (&ex->stream);
  if (punch_hole_punch_get_attempts (ex->hp) < PUNCH_DCUTR_MAX_ATTEMPTS
      && punch_connection_get_state (ex->relayed) == PUNCH_CONNECTION_STATE_OPEN)
    {
      b_attempt (ex);
      return;
    }
  if (punch_connection_get_state (ex->relayed) != PUNCH_CONNECTION_STATE_OPEN)
    b_end (ex, PUNCH_HOLE_PUNCH_OUTCOME_NO_CONNECTION, why);
  else
    b_end (ex, PUNCH_HOLE_PUNCH_OUTCOME_FAILED, why);
}

static void
b_punch_done (Exchange *ex, PunchConnection *direct, GError *error)
{
  g_autofree char *why = NULL;

  if (direct != NULL)
    {
      punch_hole_punch_succeed (ex->hp, PUNCH_HOLE_PUNCH_OUTCOME_SUCCESS, direct);
      finish_punch (ex->self, ex->hp, ex->relayed);
      exchange_end (ex);
      return;
    }
  why = g_strdup_printf ("attempt %u: %s", punch_hole_punch_get_attempts (ex->hp), error->message);
  b_give_up_or_retry (ex, why);
}

static gboolean
b_sync_timer_cb (gpointer user_data)
{
  Exchange *ex = user_data;
  /* The last attempt dials as the client, for peers with the roles the
   * wrong way round (go-libp2p before v0.41; go v0.48 does the same). */
  gboolean as_client = punch_hole_punch_get_attempts (ex->hp) >= PUNCH_DCUTR_MAX_ATTEMPTS;
  g_autofree char *detail = g_strdup_printf ("attempt %u as %s", punch_hole_punch_get_attempts (ex->hp),
                                             as_client ? "client" : "server");

  ex->timer_id = 0;
  punch_hole_punch_set_state (ex->hp, PUNCH_HOLE_PUNCH_STATE_DIALING, detail);
  round_start (ex, ex->remote, as_client, PUNCH_DIAL_TIMEOUT_MS, b_punch_done);
  return G_SOURCE_REMOVE;
}

static void
b_sync_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Exchange) ex = user_data;
  g_autoptr (GError) error = NULL;
  gint64 rtt = punch_hole_punch_get_rtt (ex->hp);

  if (!punch_framing_write_finish (G_OUTPUT_STREAM (source), result, &error) || ex->ended)
    {
      g_autofree char *why = NULL;

      if (ex->ended)
        return;
      why = g_strdup_printf ("sending SYNC: %s", error->message);
      b_give_up_or_retry (ex, why);
      return;
    }
  g_clear_handle_id (&ex->timeout_id, g_source_remove);
  punch_hole_punch_set_state (ex->hp, PUNCH_HOLE_PUNCH_STATE_SYNCING, NULL);
  /* A dials when SYNC arrives, half an RTT from now: dialling then makes
   * the two SYNs cross. */
  ex->timer_id = exchange_timeout_add (ex, (guint) MAX (rtt / 2000, 0), b_sync_timer_cb, "[punchline] dcutr rtt/2");
}

static void
b_connect_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Exchange) ex = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) remote = NULL;
  g_auto (GStrv) remote_text = NULL;

  if (ex->ended)
    return;
  remote = read_message_finish (ex, result, PUNCH_DCUTR_CONNECT, &error);
  if (remote == NULL)
    {
      g_autofree char *why = g_strdup_printf ("waiting for the peer's CONNECT: %s", error->message);
      b_give_up_or_retry (ex, why);
      return;
    }
  punch_hole_punch_set_rtt (ex->hp, g_get_monotonic_time () - ex->t0);
  remote_text = addrs_to_strv (remote);
  punch_hole_punch_set_addrs (ex->hp, NULL, (const char * const *) remote_text);
  g_clear_pointer (&ex->remote, g_ptr_array_unref);
  ex->remote = g_steal_pointer (&remote);
  if (ex->remote->len == 0)
    {
      b_give_up_or_retry (ex, "the peer's CONNECT carried no public TCP address");
      return;
    }
  /* SYNC waits for identify, which tells whether a plain dial to the peer
   * (connection reversal) comes first. Both ran in parallel. */
  ex->connect_ready = TRUE;
  if (ex->identify_done)
    b_decide (ex);
}

static gboolean
token_is (GBytes *message, const char *expected)
{
  gsize len;
  const char *data = g_bytes_get_data (message, &len);

  return len == strlen (expected) && memcmp (data, expected, len) == 0;
}

/* The peer's two multistream replies to our optimistic proposal: its
 * header, then our protocol echoed (or "na": it does not speak DCUtR). */
static void
b_negotiation_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Exchange) ex = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) reply = punch_framing_read_finish (G_INPUT_STREAM (source), result, &error);
  const char *expected = ex->ms_replies == 0 ? PUNCH_MULTISTREAM_PROTOCOL "\n" : PUNCH_DCUTR_PROTOCOL "\n";

  if (ex->ended)
    return;
  if (reply == NULL)
    {
      g_autofree char *why = g_strdup_printf ("opening %s: %s", PUNCH_DCUTR_PROTOCOL, error->message);

      b_give_up_or_retry (ex, why);
      return;
    }
  if (!token_is (reply, expected))
    {
      gsize len = g_bytes_get_size (reply);
      const guint8 *bytes = g_bytes_get_data (reply, NULL);
      char quote[65];
      g_autofree char *why = NULL;

      /* Quoted without its newline, printable ASCII only, bounded: the
       * bytes are the remote's. */
      if (len > 0 && bytes[len - 1] == '\n')
        len--;
      len = MIN (len, sizeof quote - 1);
      for (gsize i = 0; i < len; i++)
        quote[i] = bytes[i] >= 0x20 && bytes[i] < 0x7f ? (char) bytes[i] : '?';
      quote[len] = '\0';
      why = g_strdup_printf ("opening %s: the peer answered “%s”", PUNCH_DCUTR_PROTOCOL, quote);

      /* A peer that does not speak DCUtR will not on the next try. */
      if (ex->ms_replies == 1 && token_is (reply, "na\n"))
        b_end (ex, PUNCH_HOLE_PUNCH_OUTCOME_NO_STREAM, why);
      else
        b_give_up_or_retry (ex, why);
      return;
    }
  if (++ex->ms_replies < 2)
    {
      punch_framing_read_async (G_INPUT_STREAM (source), PUNCH_MULTISTREAM_MAX_MESSAGE, ex->cancellable,
                                b_negotiation_read, exchange_ref (ex));
      return;
    }
  read_message (ex, b_connect_read);
}

static void
b_connect_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Exchange) ex = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error) || ex->ended)
    {
      g_autofree char *why = NULL;

      if (ex->ended)
        return;
      why = g_strdup_printf ("sending CONNECT: %s", error->message);
      b_give_up_or_retry (ex, why);
      return;
    }
  ex->ms_replies = 0;
  punch_framing_read_async (g_io_stream_get_input_stream (ex->stream), PUNCH_MULTISTREAM_MAX_MESSAGE,
                            ex->cancellable, b_negotiation_read, exchange_ref (ex));
}

static gboolean
exchange_timeout_cb (gpointer user_data)
{
  Exchange *ex = user_data;

  ex->timeout_id = 0;
  /* The pending read or write fails with CANCELLED and the step that
   * waited for it decides. */
  g_cancellable_cancel (ex->cancellable);
  return G_SOURCE_REMOVE;
}

static void
b_stream_opened (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Exchange) ex = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) ours = NULL;
  g_auto (GStrv) local = NULL;
  GIOStream *stream = (GIOStream *) punch_yamux_session_open_stream_finish (PUNCH_YAMUX_SESSION (source), result,
                                                                            &error);
  g_autoptr (GByteArray) flight = NULL;
  g_autoptr (GBytes) connect = NULL;

  if (ex->ended)
    {
      if (stream != NULL)
        {
          g_io_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
          g_object_unref (stream);
        }
      return;
    }
  if (stream == NULL)
    {
      g_autofree char *why = g_strdup_printf ("opening %s: %s", PUNCH_DCUTR_PROTOCOL, error->message);

      b_give_up_or_retry (ex, why);
      return;
    }
  ex->stream = stream;
  ours = punch_dcutr_service_get_candidate_addrs (ex->self);
  local = addrs_to_strv (ours);
  punch_hole_punch_set_addrs (ex->hp, (const char * const *) local, NULL);
  /* Optimistic multistream-select (as go-libp2p opens streams lazily): the
   * header, the proposal and CONNECT leave in one flight, so the exchange
   * costs one relayed round trip, not two. The replies are checked before
   * the peer's CONNECT is read. */
  flight = g_byte_array_new ();
  punch_framing_append (flight, (const guint8 *) PUNCH_MULTISTREAM_PROTOCOL "\n",
                        strlen (PUNCH_MULTISTREAM_PROTOCOL "\n"));
  punch_framing_append (flight, (const guint8 *) PUNCH_DCUTR_PROTOCOL "\n", strlen (PUNCH_DCUTR_PROTOCOL "\n"));
  connect = punch_dcutr_message_encode (PUNCH_DCUTR_CONNECT, ours);
  punch_framing_append (flight, g_bytes_get_data (connect, NULL), g_bytes_get_size (connect));
  /* The previous attempt's write has completed: its callback started the
   * reads that failed into this attempt. */
  g_clear_pointer (&ex->flight, g_bytes_unref);
  ex->flight = g_byte_array_free_to_bytes (g_steal_pointer (&flight));
  ex->t0 = g_get_monotonic_time ();
  g_output_stream_write_all_async (g_io_stream_get_output_stream (ex->stream), g_bytes_get_data (ex->flight, NULL),
                                   g_bytes_get_size (ex->flight), G_PRIORITY_DEFAULT, ex->cancellable,
                                   b_connect_written, exchange_ref (ex));
}

static void
b_attempt (Exchange *ex)
{
  /* Each attempt gets a fresh budget and a fresh cancellable: the previous
   * one may have been cancelled by its timeout. */
  g_clear_handle_id (&ex->timeout_id, g_source_remove);
  g_clear_object (&ex->cancellable);
  ex->cancellable = child_cancellable (ex->self->cancellable);
  ex->timeout_id = exchange_timeout_add (ex, EXCHANGE_TIMEOUT_S * 1000, exchange_timeout_cb, "[punchline] dcutr exchange");
  punch_hole_punch_begin_attempt (ex->hp);
  punch_hole_punch_set_state (ex->hp, PUNCH_HOLE_PUNCH_STATE_EXCHANGING, NULL);
  if (punch_connection_get_state (ex->relayed) != PUNCH_CONNECTION_STATE_OPEN)
    {
      b_end (ex, PUNCH_HOLE_PUNCH_OUTCOME_NO_CONNECTION, "the relayed connection closed");
      return;
    }
  punch_yamux_session_open_stream_async (punch_connection_get_session (ex->relayed), ex->cancellable,
                                         b_stream_opened, exchange_ref (ex));
}

static gboolean
close_stream_cb (gpointer user_data)
{
  g_io_stream_close_async (user_data, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  return G_SOURCE_REMOVE;
}

static void
b_reverse_done (Exchange *ex, PunchConnection *direct, GError *error)
{
  if (direct != NULL)
    {
      guint id;

      /* The peer waits for SYNC on the stream: closed now, it could reach
       * the peer before our direct connection does and read as a failed
       * punch. It goes a little later (or with the relayed connection). */
      if (ex->stream != NULL)
        {
          id = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, REVERSED_STREAM_LINGER_S, close_stream_cb,
                                           g_steal_pointer (&ex->stream), g_object_unref);
          g_source_set_name_by_id (id, "[punchline] dcutr stream linger");
        }
      punch_hole_punch_succeed (ex->hp, PUNCH_HOLE_PUNCH_OUTCOME_CONNECTION_REVERSED, direct);
      finish_punch (ex->self, ex->hp, ex->relayed);
      exchange_end (ex);
      return;
    }
  g_debug ("direct dial to %s failed (%s); hole punching", punch_peer_id_to_string (punch_hole_punch_get_peer_id (ex->hp)),
           error->message);
  /* The CONNECT exchange that ran beside identify has waited out the dial:
   * the peer may have given up on it (js-libp2p waits 5 s for SYNC). A
   * fresh one starts the punch proper, with all its attempts. */
  if (ex->stream != NULL)
    g_io_stream_close_async (ex->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_clear_object (&ex->stream);
  punch_hole_punch_retract_attempt (ex->hp);
  b_attempt (ex);
}

static void
b_send_sync (Exchange *ex)
{
  write_message (ex, PUNCH_DCUTR_SYNC, NULL, b_sync_written);
}

/* Identify answered (or failed, or took too long): the reversal decision
 * can be taken once the peer's CONNECT is in too. */
static void
b_identify_done (Exchange *ex)
{
  g_clear_handle_id (&ex->timer_id, g_source_remove);
  g_clear_signal_handler (&ex->identified_id, ex->self->identify);
  g_clear_signal_handler (&ex->identify_failed_id, ex->self->identify);
  ex->identify_done = TRUE;
  if (ex->connect_ready)
    b_decide (ex);
}

/* Both CONNECTs are exchanged and identify is done: a peer that says it is
 * publicly reachable first gets a plain dial ("connection reversal", once),
 * and the punch goes on with SYNC when that fails. */
static void
b_decide (Exchange *ex)
{
  PunchPeerStore *store = punch_host_get_peer_store (ex->self->host);
  PunchPeerInfo *info = punch_peer_store_lookup (store, punch_hole_punch_get_peer_id (ex->hp));
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) direct = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  GPtrArray *addrs = info ? punch_peer_info_get_addrs (info) : NULL;

  ex->connect_ready = FALSE;
  if (!ex->reversal_tried)
    {
      ex->reversal_tried = TRUE;
      for (guint i = 0; addrs != NULL && i < addrs->len; i++)
        if (punch_multiaddr_is_public (g_ptr_array_index (addrs, i)))
          add_unique (direct, seen, g_ptr_array_index (addrs, i));
    }
  if (direct->len > 0)
    {
      punch_hole_punch_set_state (ex->hp, PUNCH_HOLE_PUNCH_STATE_REVERSING, NULL);
      round_start (ex, direct, TRUE, ex->self->direct_dial_timeout_ms, b_reverse_done);
      return;
    }
  b_send_sync (ex);
}

static void
on_identified (PunchIdentifyService *identify, PunchConnection *conn, gpointer info, gpointer user_data)
{
  Exchange *ex = user_data;

  if (conn == ex->relayed)
    {
      exchange_ref (ex);
      b_identify_done (ex);
      exchange_unref (ex);
    }
}

static void
on_identify_failed (PunchIdentifyService *identify, PunchConnection *conn, GError *error, gpointer user_data)
{
  Exchange *ex = user_data;

  if (conn == ex->relayed)
    {
      exchange_ref (ex);
      b_identify_done (ex);
      exchange_unref (ex);
    }
}

static gboolean
identify_wait_cb (gpointer user_data)
{
  Exchange *ex = user_data;

  ex->timer_id = 0;
  b_identify_done (ex);
  return G_SOURCE_REMOVE;
}

static PunchConnection *
find_direct_connection (PunchDcutrService *self, PunchPeerId *peer)
{
  GListModel *conns = punch_host_get_connections (self->host);
  guint n = g_list_model_get_n_items (conns);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PunchConnection) conn = g_list_model_get_item (conns, i);

      if (!punch_connection_get_relayed (conn) && punch_peer_id_equal (punch_connection_get_peer_id (conn), peer)
          && punch_connection_get_state (conn) == PUNCH_CONNECTION_STATE_OPEN)
        return conn;
    }
  return NULL;
}

static void
on_connection_opened (PunchHost *host, PunchConnection *conn, gpointer user_data)
{
  PunchDcutrService *self = user_data;
  g_autoptr (PunchHolePunch) hp = NULL;
  Exchange *ex;

  if (!punch_connection_get_relayed (conn))
    {
      if (!direct_connection_opened (self, conn))
        maybe_reversed (self, conn);
      return;
    }
  /* B is the side that accepted the relayed connection. */
  if (!self->enabled || punch_connection_get_direction (conn) != PUNCH_DIRECTION_INBOUND)
    return;
  if (find_direct_connection (self, punch_connection_get_peer_id (conn)) != NULL)
    {
      g_debug ("no hole punch with %s: already connected directly",
               punch_peer_id_to_string (punch_connection_get_peer_id (conn)));
      return;
    }

  hp = punch_hole_punch_new (punch_connection_get_peer_id (conn), PUNCH_HOLE_PUNCH_ROLE_B, conn);
  g_list_store_append (self->punches, hp);
  g_signal_emit (self, signals[PUNCH_STARTED], 0, hp);

  ex = exchange_new (self, hp, conn);
  ex->identified_id = g_signal_connect (self->identify, "identified", G_CALLBACK (on_identified), ex);
  ex->identify_failed_id = g_signal_connect (self->identify, "failed", G_CALLBACK (on_identify_failed), ex);
  ex->timer_id = exchange_timeout_add (ex, IDENTIFY_WAIT_MS, identify_wait_cb, "[punchline] dcutr identify wait");
  /* CONNECT goes out at once, beside identify: waiting for identify first
   * would add a relayed round trip to every punch. */
  b_attempt (ex);
}

/* ---- role A: we dialled through the relay and answer ---- */

/* The peer we reached through a relay dialled us directly (connection
 * reversal: B found a public address of ours): the punch A never had to
 * answer, recorded as such. */
static void
maybe_reversed (PunchDcutrService *self, PunchConnection *conn)
{
  PunchPeerId *peer = punch_connection_get_peer_id (conn);
  GListModel *conns = punch_host_get_connections (self->host);
  guint n = g_list_model_get_n_items (conns);
  g_autoptr (PunchConnection) relayed = NULL;
  g_autoptr (PunchHolePunch) hp = NULL;

  if (punch_connection_get_direction (conn) != PUNCH_DIRECTION_INBOUND)
    return;
  for (guint i = 0; i < n && relayed == NULL; i++)
    {
      g_autoptr (PunchConnection) c = g_list_model_get_item (conns, i);

      if (punch_connection_get_relayed (c) && punch_connection_get_direction (c) == PUNCH_DIRECTION_OUTBOUND
          && punch_connection_get_state (c) == PUNCH_CONNECTION_STATE_OPEN
          && punch_peer_id_equal (punch_connection_get_peer_id (c), peer))
        relayed = g_steal_pointer (&c);
    }
  if (relayed == NULL)
    return;
  /* B may dial us while our side of its CONNECT exchange waits for SYNC
   * (it sends CONNECT beside identify, then decides on reversal): that
   * punch ends here, reversed. */
  for (guint i = 0; i < self->exchanges->len; i++)
    {
      Exchange *ex = g_ptr_array_index (self->exchanges, i);

      if (punch_hole_punch_get_role (ex->hp) == PUNCH_HOLE_PUNCH_ROLE_A
          && punch_peer_id_equal (punch_hole_punch_get_peer_id (ex->hp), peer))
        {
          punch_hole_punch_succeed (ex->hp, PUNCH_HOLE_PUNCH_OUTCOME_CONNECTION_REVERSED, conn);
          finish_punch (self, ex->hp, ex->relayed);
          exchange_end (ex);
          return;
        }
    }
  hp = find_open_punch_a (self, peer);
  if (hp != NULL)
    g_hash_table_remove (self->a_waiting, hp);
  else
    {
      hp = punch_hole_punch_new (peer, PUNCH_HOLE_PUNCH_ROLE_A, relayed);
      g_list_store_append (self->punches, hp);
      g_signal_emit (self, signals[PUNCH_STARTED], 0, hp);
    }
  punch_hole_punch_succeed (hp, PUNCH_HOLE_PUNCH_OUTCOME_CONNECTION_REVERSED, conn);
  finish_punch (self, hp, relayed);
}

static gboolean
a_retry_wait_cb (gpointer user_data)
{
  PunchHolePunch *hp = user_data;
  PunchDcutrService *self = g_object_get_data (G_OBJECT (hp), "punch-dcutr-service");

  /* The peer did not try again: the failure stands. The table's
   * reference keeps @hp alive until the end. */
  g_hash_table_steal (self->a_waiting, hp);
  finish_punch (self, hp, NULL);
  g_object_unref (hp);
  return G_SOURCE_REMOVE;
}

static void
source_remove_notify (gpointer id)
{
  g_source_remove (GPOINTER_TO_UINT (id));
}

static PunchHolePunch *
find_open_punch_a (PunchDcutrService *self, PunchPeerId *peer)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->punches));

  for (guint i = n; i > 0; i--)
    {
      g_autoptr (PunchHolePunch) hp = g_list_model_get_item (G_LIST_MODEL (self->punches), i - 1);

      if (punch_hole_punch_get_role (hp) == PUNCH_HOLE_PUNCH_ROLE_A
          && punch_peer_id_equal (punch_hole_punch_get_peer_id (hp), peer)
          && g_hash_table_contains (self->a_waiting, hp))
        return g_steal_pointer (&hp);
    }
  return NULL;
}

static void
a_round_failed (Exchange *ex, const char *why)
{
  PunchDcutrService *self = ex->self;

  punch_hole_punch_fail (ex->hp, PUNCH_HOLE_PUNCH_OUTCOME_FAILED, why);
  /* B may try again on a new stream; the last failure is the final one. */
  if (punch_hole_punch_get_attempts (ex->hp) >= PUNCH_DCUTR_MAX_ATTEMPTS
      || punch_connection_get_state (ex->relayed) != PUNCH_CONNECTION_STATE_OPEN)
    finish_punch (self, ex->hp, NULL);
  else
    {
      guint id = g_timeout_add_seconds (A_RETRY_WAIT_S, a_retry_wait_cb, ex->hp);

      g_source_set_name_by_id (id, "[punchline] dcutr retry wait");
      g_object_set_data (G_OBJECT (ex->hp), "punch-dcutr-service", self);
      g_hash_table_insert (self->a_waiting, g_object_ref (ex->hp), GUINT_TO_POINTER (id));
    }
  exchange_end (ex);
}

static void
a_punch_done (Exchange *ex, PunchConnection *direct, GError *error)
{
  g_autofree char *why = NULL;

  if (direct != NULL)
    {
      punch_hole_punch_succeed (ex->hp, PUNCH_HOLE_PUNCH_OUTCOME_SUCCESS, direct);
      finish_punch (ex->self, ex->hp, ex->relayed);
      exchange_end (ex);
      return;
    }
  why = g_strdup_printf ("attempt %u: %s", punch_hole_punch_get_attempts (ex->hp), error->message);
  a_round_failed (ex, why);
}

static void
a_fail (Exchange *ex, const char *what, GError *error)
{
  g_autofree char *why = g_strdup_printf ("%s: %s", what, error->message);

  g_debug ("hole punch with %s: %s", punch_peer_id_to_string (punch_hole_punch_get_peer_id (ex->hp)), why);
  a_round_failed (ex, why);
}

static void
a_sync_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Exchange) ex = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) sync = NULL;

  if (ex->ended)
    return;
  sync = read_message_finish (ex, result, PUNCH_DCUTR_SYNC, &error);
  if (sync == NULL)
    {
      a_fail (ex, "waiting for SYNC", error);
      return;
    }
  g_clear_handle_id (&ex->timeout_id, g_source_remove);
  /* A dials at once: B waits half an RTT, so both SYNs leave together. */
  punch_hole_punch_set_state (ex->hp, PUNCH_HOLE_PUNCH_STATE_DIALING, "as client");
  round_start (ex, ex->remote, TRUE, PUNCH_DIAL_TIMEOUT_MS, a_punch_done);
}

static void
a_connect_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Exchange) ex = user_data;
  g_autoptr (GError) error = NULL;

  if (!punch_framing_write_finish (G_OUTPUT_STREAM (source), result, &error) || ex->ended)
    {
      if (!ex->ended)
        a_fail (ex, "sending CONNECT", error);
      return;
    }
  punch_hole_punch_set_state (ex->hp, PUNCH_HOLE_PUNCH_STATE_SYNCING, NULL);
  read_message (ex, a_sync_read);
}

static void
a_connect_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Exchange) ex = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) ours = NULL;
  g_auto (GStrv) local = NULL;
  g_auto (GStrv) remote = NULL;

  if (ex->ended)
    return;
  ex->remote = read_message_finish (ex, result, PUNCH_DCUTR_CONNECT, &error);
  if (ex->remote == NULL)
    {
      a_fail (ex, "waiting for CONNECT", error);
      return;
    }
  ours = punch_dcutr_service_get_candidate_addrs (ex->self);
  local = addrs_to_strv (ours);
  remote = addrs_to_strv (ex->remote);
  punch_hole_punch_set_addrs (ex->hp, (const char * const *) local, (const char * const *) remote);
  if (ex->remote->len == 0)
    {
      g_autoptr (GError) none = g_error_new (PUNCH_ERROR, PUNCH_ERROR_NO_ADDRESSES, "no public TCP address");
      a_fail (ex, "the peer's CONNECT", none);
      return;
    }
  write_message (ex, PUNCH_DCUTR_CONNECT, ours, a_connect_written);
}

static void
dcutr_handler (PunchHost       *host,
               PunchConnection *conn,
               GIOStream       *stream,
               const char      *protocol,
               gpointer         user_data)
{
  PunchDcutrService *self = user_data;
  g_autoptr (PunchHolePunch) hp = NULL;
  Exchange *ex;

  /* Only the side that dialled through a relay answers (go does the same). */
  if (!punch_connection_get_relayed (conn) || punch_connection_get_direction (conn) != PUNCH_DIRECTION_OUTBOUND)
    {
      g_debug ("refusing DCUtR on connection %u: not an outbound relayed connection", punch_connection_get_id (conn));
      g_io_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      return;
    }

  hp = find_open_punch_a (self, punch_connection_get_peer_id (conn));
  if (hp != NULL)
    g_hash_table_remove (self->a_waiting, hp);
  else
    {
      hp = punch_hole_punch_new (punch_connection_get_peer_id (conn), PUNCH_HOLE_PUNCH_ROLE_A, conn);
      g_list_store_append (self->punches, hp);
      g_signal_emit (self, signals[PUNCH_STARTED], 0, hp);
    }
  punch_hole_punch_begin_attempt (hp);
  punch_hole_punch_set_state (hp, PUNCH_HOLE_PUNCH_STATE_EXCHANGING, NULL);

  ex = exchange_new (self, hp, conn);
  ex->stream = g_object_ref (stream);
  ex->timeout_id = exchange_timeout_add (ex, EXCHANGE_TIMEOUT_S * 1000, exchange_timeout_cb, "[punchline] dcutr exchange");
  read_message (ex, a_connect_read);
}

/* ---- the object ---- */

GListModel *
punch_dcutr_service_get_punches (PunchDcutrService *self)
{
  g_return_val_if_fail (PUNCH_IS_DCUTR_SERVICE (self), NULL);
  return G_LIST_MODEL (self->punches);
}

static void
punch_dcutr_service_dispose (GObject *object)
{
  PunchDcutrService *self = PUNCH_DCUTR_SERVICE (object);

  g_cancellable_cancel (self->cancellable);
  while (self->exchanges->len > 0)
    exchange_end (g_ptr_array_index (self->exchanges, 0));
  g_hash_table_remove_all (self->a_waiting);
  if (self->host != NULL)
    {
      punch_host_remove_stream_handler (self->host, PUNCH_DCUTR_PROTOCOL);
      g_clear_signal_handler (&self->opened_id, self->host);
    }
  g_clear_object (&self->host);
  g_clear_object (&self->identify);

  G_OBJECT_CLASS (punch_dcutr_service_parent_class)->dispose (object);
}

static void
punch_dcutr_service_finalize (GObject *object)
{
  PunchDcutrService *self = PUNCH_DCUTR_SERVICE (object);

  g_clear_object (&self->punches);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->exchanges, g_ptr_array_unref);
  g_clear_pointer (&self->a_waiting, g_hash_table_unref);

  G_OBJECT_CLASS (punch_dcutr_service_parent_class)->finalize (object);
}

static void
punch_dcutr_service_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PunchDcutrService *self = PUNCH_DCUTR_SERVICE (object);

  switch (prop_id)
    {
    case PROP_ENABLED: g_value_set_boolean (value, self->enabled); break;
    case PROP_DIRECT_DIAL_TIMEOUT: g_value_set_uint (value, self->direct_dial_timeout_ms); break;
    case PROP_RELAY_GRACE: g_value_set_uint (value, self->relay_grace_s); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
punch_dcutr_service_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PunchDcutrService *self = PUNCH_DCUTR_SERVICE (object);

  switch (prop_id)
    {
    case PROP_ENABLED: self->enabled = g_value_get_boolean (value); break;
    case PROP_DIRECT_DIAL_TIMEOUT: self->direct_dial_timeout_ms = g_value_get_uint (value); break;
    case PROP_RELAY_GRACE: self->relay_grace_s = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); return;
    }
  g_object_notify_by_pspec (object, pspec);
}

static void
punch_dcutr_service_class_init (PunchDcutrServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = punch_dcutr_service_dispose;
  object_class->finalize = punch_dcutr_service_finalize;
  object_class->get_property = punch_dcutr_service_get_property;
  object_class->set_property = punch_dcutr_service_set_property;

  properties[PROP_ENABLED] = g_param_spec_boolean ("enabled", NULL, NULL, TRUE, rw);
  properties[PROP_DIRECT_DIAL_TIMEOUT] = g_param_spec_uint ("direct-dial-timeout", NULL, NULL, 100, 60000, 5000, rw);
  properties[PROP_RELAY_GRACE] = g_param_spec_uint ("relay-grace", NULL, NULL, 0, 3600, 5, rw);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[PUNCH_STARTED] = g_signal_new ("punch-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, PUNCH_TYPE_HOLE_PUNCH);
  signals[PUNCH_FINISHED] = g_signal_new ("punch-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                          NULL, NULL, NULL, G_TYPE_NONE, 1, PUNCH_TYPE_HOLE_PUNCH);
}

static void
punch_dcutr_service_init (PunchDcutrService *self)
{
  self->punches = g_list_store_new (PUNCH_TYPE_HOLE_PUNCH);
  self->exchanges = g_ptr_array_new ();
  self->a_waiting = g_hash_table_new_full (g_direct_hash, g_direct_equal, g_object_unref, source_remove_notify);
  self->cancellable = g_cancellable_new ();
  self->enabled = TRUE;
  self->direct_dial_timeout_ms = 5000;
  self->relay_grace_s = 5;
}

PunchDcutrService *
punch_dcutr_service_new (PunchHost *host, PunchIdentifyService *identify)
{
  PunchDcutrService *self;

  g_return_val_if_fail (PUNCH_IS_HOST (host), NULL);
  g_return_val_if_fail (PUNCH_IS_IDENTIFY_SERVICE (identify), NULL);

  self = g_object_new (PUNCH_TYPE_DCUTR_SERVICE, NULL);
  self->host = g_object_ref (host);
  self->identify = g_object_ref (identify);
  punch_host_set_stream_handler (host, PUNCH_DCUTR_PROTOCOL, dcutr_handler, self, NULL);
  self->opened_id = g_signal_connect (host, "connection-opened", G_CALLBACK (on_connection_opened), self);
  return self;
}
