/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-cli-commands.h"

#include <glib-unix.h>
#include <signal.h>

#include "punch-autonat-service.h"
#include "punch-cli-output.h"
#include "punch-cli-relay.h"
#include "punch-cli-forward.h"
#include "punch-dcutr-service.h"
#include "punch-host.h"
#include "punch-identify-service.h"
#include "punch-perf-service.h"
#include "punch-ping-service.h"

#define DEFAULT_LISTEN_ADDR   "/ip4/0.0.0.0/tcp/0"
#define DEFAULT_PING_COUNT    5
#define PING_INTERVAL_MS      1000
/* How long teardown may take to let connections say goodbye and every
 * object go away before we exit anyway. */
#define TEARDOWN_TIMEOUT_MS   2000
/* dial: how long a hole punch may take by default (three attempts of a
 * CONNECT exchange and a 5 s simultaneous open fit), and how long the peer
 * gets to start one (it waits for identify first, up to 3 s). */
#define DEFAULT_PUNCH_WAIT_S  30
#define PUNCH_START_WAIT_S    5

/* Options. */

void
punch_cli_add_common_options (GOptionContext  *context,
                              PunchCliOptions *options)
{
  const GOptionEntry entries[] = {
    { "identity", 0, 0, G_OPTION_ARG_FILENAME, &options->identity,
      "Identity key file (default: $XDG_CONFIG_HOME/punchline/identity.key)", "FILE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &options->json,
      "Print one JSON event per line (docs/cli-events.md)", NULL },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &options->timeout,
      "Give up on dial, ping, identify and perf after SECONDS (default 30, 0: never)", "SECONDS" },
    { "security", 0, 0, G_OPTION_ARG_STRING, &options->security,
      "Security protocols to offer, in order (default noise,tls)", "noise,tls|tls,noise|noise|tls" },
    { NULL }
  };

  /* The entries are copied. */
  g_option_context_add_main_entries (context, entries, NULL);
}

gboolean
punch_cli_parse_size (const char *text,
                      guint64    *out)
{
  guint64 value = 0;
  guint64 multiplier = 1;
  const char *p = text;

  if (text == NULL || !g_ascii_isdigit (*p))
    return FALSE;
  for (; g_ascii_isdigit (*p); p++)
    {
      guint digit = *p - '0';

      if (value > (G_MAXUINT64 - digit) / 10)
        return FALSE;
      value = value * 10 + digit;
    }

  switch (g_ascii_toupper (*p))
    {
    case '\0':
      break;
    case 'K':
      multiplier = G_GUINT64_CONSTANT (1) << 10;
      break;
    case 'M':
      multiplier = G_GUINT64_CONSTANT (1) << 20;
      break;
    case 'G':
      multiplier = G_GUINT64_CONSTANT (1) << 30;
      break;
    case 'T':
      multiplier = G_GUINT64_CONSTANT (1) << 40;
      break;
    default:
      return FALSE;
    }
  if (*p != '\0')
    {
      p++;
      /* 10M, 10MB and 10MiB all mean 10 × 2^20. */
      if (*p == 'i')
        p++;
      if (*p == 'B')
        p++;
      if (*p != '\0')
        return FALSE;
    }

  if (value > G_MAXUINT64 / multiplier)
    return FALSE;
  *out = value * multiplier;
  return TRUE;
}

static GOptionContext *
command_context_new (PunchCliOptions    *options,
                     const char         *parameters,
                     const char         *summary,
                     const GOptionEntry *entries)
{
  GOptionContext *context = g_option_context_new (parameters);

  g_option_context_set_summary (context, summary);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  punch_cli_add_common_options (context, options);
  return context;
}

static int
usage_error (GOptionContext *context,
             const char     *format,
             ...) G_GNUC_PRINTF (2, 3);

static int
usage_error (GOptionContext *context,
             const char     *format,
             ...)
{
  g_autofree char *message = NULL;
  g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("%s: %s\n\n%s", g_get_prgname (), message, help);
  return PUNCH_CLI_EXIT_USAGE;
}

/* Parses every string of @texts (may be NULL) into @out. On a bad one,
 * returns FALSE with @message naming it and why. */
static gboolean
parse_multiaddrs (const char * const *texts,
                  const char         *what,
                  GPtrArray          *out,
                  char              **message)
{
  for (guint i = 0; texts != NULL && texts[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      PunchMultiaddr *addr = punch_multiaddr_new_from_string (texts[i], &error);

      if (addr == NULL)
        {
          *message = g_strdup_printf ("Bad %s “%s”: %s", what, texts[i], error->message);
          return FALSE;
        }
      g_ptr_array_add (out, addr);
    }
  return TRUE;
}

/* Parses @argv and checks that exactly @n_positional arguments remain. */
static gboolean
parse_command_line (GOptionContext  *context,
                    PunchCliOptions *options,
                    int             *argc,
                    char          ***argv,
                    int              n_positional,
                    int             *status)
{
  g_autoptr (GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      *status = usage_error (context, "%s", error->message);
      return FALSE;
    }
  if (options->timeout < 0)
    {
      *status = usage_error (context, "--timeout must not be negative");
      return FALSE;
    }
  /* argv[0] is the command name. */
  if (*argc - 1 != n_positional)
    {
      *status = usage_error (context, "%s expects %d argument%s, got %d", (*argv)[0],
                             n_positional, n_positional == 1 ? "" : "s", *argc - 1);
      return FALSE;
    }
  return TRUE;
}

static PunchPrivateKey *
load_identity (PunchCliOptions *options,
               GError         **error)
{
  g_autofree char *default_path = NULL;
  const char *path = options->identity;

  if (path == NULL)
    path = default_path = punch_private_key_default_path ();
  return punch_private_key_load_or_create (path, error);
}

/* The running command. */

typedef struct _Cli Cli;
typedef void (*CliStep) (Cli *cli);

struct _Cli
{
  PunchCliOptions      *options;
  PunchCliOutput       *out;
  GMainLoop            *loop;
  /* Cancelled by a signal or the timeout: every network call uses it. */
  GCancellable         *cancellable;
  guint                 sigint_id;
  guint                 sigterm_id;
  guint                 timeout_id;
  guint                 interval_id;
  gboolean              listening;   /* listen: a signal is the normal end */
  gboolean              finished;
  GError               *error;
  JsonObject           *result_extra;

  PunchHost            *host;
  PunchIdentifyService *identify;
  PunchPingService     *ping;
  PunchPerfService     *perf;
  gulong                opened_id;
  gulong                closed_id;
  gulong                identified_id;
  gulong                identify_failed_id;
  gulong                served_id;
  /* Every command dials relayed addresses; listen and dial punch holes;
   * relay serves. */
  PunchRelayClient     *relay_client;
  gulong                relay_addrs_id;
  PunchDcutrService    *dcutr;
  PunchRelayService    *relay_service;
  /* listen and relay answer AutoNAT dial-back requests (diagnose asks). */
  PunchAutonatService  *autonat;

  PunchMultiaddr       *target;
  PunchConnection      *connection;
  CliStep               on_connected;

  guint                 ping_count;
  guint                 ping_interval_ms;
  guint                 ping_seq;
  guint                 pings_ok;
  gint64                rtt_min;
  gint64                rtt_max;
  gint64                rtt_sum;
  GError               *last_ping_error;

  guint64               upload;
  guint64               download;

  gboolean              punch_holes;  /* dial: run DCUtR */
  guint                 hold_s;       /* dial: stay connected this long after the pings */
  guint                 hold_id;
  gulong                hold_closed_id;

  /* dial: the path to the peer (docs/cli-events.md, result of dial) */
  GPtrArray            *dial_listen;  /* PunchMultiaddr; dials leave from there */
  gboolean              report_path;
  gboolean              require_direct;
  guint                 punch_wait_s;
  PunchConnection      *relayed;      /* the relayed connection dialled, if it was */
  PunchConnection      *direct;       /* the direct one, dialled or punched */
  PunchHolePunch       *punch;        /* our punch (role A) with the peer */
  gulong                punch_started_id;
  gulong                punch_finished_id;
  guint                 punch_wait_id;
  gboolean              awaiting_punch;
  gint64                rtt_relayed_us;
  gint64                rtt_direct_us;
  char                 *path_reason;
  gboolean              peer_speaks_dcutr;

  /* listen --expose, forward */
  PunchCliForward      *forward;
  char                 *forward_name;
  char                 *forward_local;
};

static void
cli_init (Cli             *cli,
          PunchCliOptions *options)
{
  memset (cli, 0, sizeof *cli);
  cli->options = options;
  cli->out = punch_cli_output_new (options->json);
  cli->loop = g_main_loop_new (NULL, FALSE);
  cli->cancellable = g_cancellable_new ();
  cli->rtt_min = G_MAXINT64;
  cli->rtt_relayed_us = -1;
  cli->rtt_direct_us = -1;
}

/* Ends the command (once): the main loop returns to the command function. */
static void
cli_finish (Cli    *cli,
            GError *error)
{
  if (cli->finished)
    {
      g_clear_error (&error);
      return;
    }
  cli->finished = TRUE;
  cli->error = error;
  g_main_loop_quit (cli->loop);
}

static gboolean
on_signal (gpointer user_data)
{
  Cli *cli = user_data;

  g_cancellable_cancel (cli->cancellable);
  if (cli->listening)
    cli_finish (cli, NULL);
  else
    cli_finish (cli, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Interrupted"));

  return G_SOURCE_CONTINUE;
}

static gboolean
on_timeout (gpointer user_data)
{
  Cli *cli = user_data;

  cli->timeout_id = 0;
  g_cancellable_cancel (cli->cancellable);
  cli_finish (cli, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                "Timed out after %d s", cli->options->timeout));

  return G_SOURCE_REMOVE;
}

static void
cli_arm_signals (Cli *cli)
{
  cli->sigint_id = g_unix_signal_add (SIGINT, on_signal, cli);
  cli->sigterm_id = g_unix_signal_add (SIGTERM, on_signal, cli);
}

/* @extra_ms: time the command spends waiting on purpose (ping intervals),
 * not counted against --timeout. */
static void
cli_arm_timeout (Cli  *cli,
                 guint extra_ms)
{
  guint64 ms;

  if (cli->options->timeout <= 0)
    return;
  ms = (guint64) cli->options->timeout * 1000 + extra_ms;
  cli->timeout_id = g_timeout_add ((guint) MIN (ms, G_MAXUINT), on_timeout, cli);
  g_source_set_name_by_id (cli->timeout_id, "[punchline-cli] command timeout");
}

static void
on_connection_opened (PunchHost       *host,
                      PunchConnection *connection,
                      gpointer         user_data)
{
  Cli *cli = user_data;

  punch_cli_output_connection (cli->out, connection, TRUE, NULL);
}

static void
on_connection_closed (PunchHost       *host,
                      PunchConnection *connection,
                      GError          *error,
                      gpointer         user_data)
{
  Cli *cli = user_data;

  punch_cli_output_connection (cli->out, connection, FALSE, error);
}

static void
on_identified (PunchIdentifyService *identify,
               PunchConnection      *connection,
               PunchPeerInfo        *info,
               gpointer              user_data)
{
  Cli *cli = user_data;

  punch_cli_output_identify (cli->out, connection, info);
}

static void
on_identify_failed (PunchIdentifyService *identify,
                    PunchConnection      *connection,
                    GError               *error,
                    gpointer              user_data)
{
  Cli *cli = user_data;
  PunchPeerId *peer_id = punch_connection_get_peer_id (connection);
  g_autofree char *context = g_strdup_printf ("identify %s",
                                              peer_id != NULL ? punch_peer_id_to_string (peer_id) : "");

  /* A peer that hangs up while we identify it (a short ping, say) is no
   * error worth reporting: its connection event tells the story. */
  if (punch_connection_get_state (connection) != PUNCH_CONNECTION_STATE_OPEN)
    {
      g_debug ("%s: %s", context, error->message);
      return;
    }
  punch_cli_output_error (cli->out, context, error);
}

static void
on_perf_served (PunchPerfService *perf,
                PunchConnection  *connection,
                guint64           received,
                guint64           sent,
                gdouble           receive_seconds,
                gdouble           send_seconds,
                gpointer          user_data)
{
  Cli *cli = user_data;
  PunchPerfResult result = {
    .uploaded = received,
    .downloaded = sent,
    .upload_seconds = receive_seconds,
    .download_seconds = send_seconds,
    .total_seconds = receive_seconds + send_seconds,
  };

  punch_cli_output_perf (cli->out, punch_connection_get_peer_id (connection), "server", &result);
}

/* Peers learn our relayed addresses from identify. */
static void
on_relay_addrs_changed (PunchRelayClient *client,
                        gpointer          user_data)
{
  Cli *cli = user_data;
  g_autoptr (GPtrArray) addrs = punch_relay_client_get_relayed_addrs (client);

  punch_identify_service_set_extra_addrs (cli->identify, addrs);
}

static gboolean
cli_start_host (Cli     *cli,
                gboolean serve_perf,
                GError **error)
{
  g_autoptr (PunchPrivateKey) key = load_identity (cli->options, error);

  if (key == NULL)
    return FALSE;

  cli->host = punch_host_new (key);
  if (cli->options->security != NULL)
    {
      g_auto (GStrv) names = g_strsplit (cli->options->security, ",", -1);
      g_autoptr (GPtrArray) protocols = g_ptr_array_new ();

      /* Short names, or the protocol IDs themselves. */
      for (guint i = 0; names[i] != NULL; i++)
        g_ptr_array_add (protocols, g_str_equal (names[i], "noise") ? "/noise"
                                    : g_str_equal (names[i], "tls") ? "/tls/1.0.0" : names[i]);
      g_ptr_array_add (protocols, NULL);
      if (!punch_host_set_security_protocols (cli->host, (const char * const *) protocols->pdata, error))
        return FALSE;
    }
  cli->identify = punch_identify_service_new (cli->host);
  cli->ping = punch_ping_service_new (cli->host);
  cli->perf = punch_perf_service_new (cli->host, serve_perf);

  cli->opened_id = g_signal_connect (cli->host, "connection-opened",
                                     G_CALLBACK (on_connection_opened), cli);
  punch_cli_relay_watch_budgets (cli->out, cli->host);
  cli->closed_id = g_signal_connect (cli->host, "connection-closed",
                                     G_CALLBACK (on_connection_closed), cli);
  cli->identified_id = g_signal_connect (cli->identify, "identified",
                                         G_CALLBACK (on_identified), cli);
  cli->identify_failed_id = g_signal_connect (cli->identify, "failed",
                                              G_CALLBACK (on_identify_failed), cli);
  cli->served_id = g_signal_connect (cli->perf, "served", G_CALLBACK (on_perf_served), cli);

  cli->relay_client = punch_relay_client_new (cli->host);
  cli->relay_addrs_id = g_signal_connect (cli->relay_client, "addrs-changed",
                                          G_CALLBACK (on_relay_addrs_changed), cli);
  return TRUE;
}

/* Binds every address of @addrs and prints the "listening" event. */
static gboolean
cli_listen (Cli       *cli,
            GPtrArray *addrs,
            GError   **error)
{
  g_autoptr (GPtrArray) bound = NULL;

  for (guint i = 0; i < addrs->len; i++)
    if (!punch_host_listen (cli->host, g_ptr_array_index (addrs, i), error))
      {
        g_autofree char *text = punch_multiaddr_to_string (g_ptr_array_index (addrs, i));

        g_prefix_error (error, "Cannot listen on %s: ", text);
        return FALSE;
      }
  bound = punch_host_get_listen_addrs (cli->host);
  punch_cli_output_listening (cli->out, punch_host_get_peer_id (cli->host), bound);
  return TRUE;
}

/* Serves AutoNAT v1 (dial-backs to public addresses only); probes nothing. */
static void
cli_start_autonat (Cli *cli)
{
  cli->autonat = punch_autonat_service_new (cli->host, cli->identify);
  g_object_set (cli->autonat, "client-enabled", FALSE, NULL);
}

/* Runs DCUtR (both roles) and prints its hole punches. */
static void
cli_start_dcutr (Cli *cli)
{
  cli->dcutr = punch_dcutr_service_new (cli->host, cli->identify);
  punch_cli_relay_watch_dcutr (cli->out, cli->dcutr);
}

static gboolean
on_teardown_timeout (gpointer user_data)
{
  gboolean *expired = user_data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

/* Closes everything and lets the main loop run until the host and the
 * services are gone (so that goodbyes reach the wire and nothing leaks), or
 * until TEARDOWN_TIMEOUT_MS. */
static void
cli_teardown (Cli *cli)
{
  gpointer host = NULL, identify = NULL, ping = NULL, perf = NULL;
  gpointer relay_client = NULL, dcutr = NULL, relay_service = NULL;
  gboolean expired = FALSE;
  guint timer;

  g_clear_handle_id (&cli->sigint_id, g_source_remove);
  g_clear_handle_id (&cli->sigterm_id, g_source_remove);
  g_clear_handle_id (&cli->timeout_id, g_source_remove);
  g_clear_handle_id (&cli->interval_id, g_source_remove);
  g_clear_handle_id (&cli->hold_id, g_source_remove);
  g_clear_handle_id (&cli->punch_wait_id, g_source_remove);
  g_cancellable_cancel (cli->cancellable);

  if (cli->host != NULL)
    {
      /* Events after the end (our own closing) are not reported: the result
       * is the last line. */
      g_clear_signal_handler (&cli->opened_id, cli->host);
      g_clear_signal_handler (&cli->closed_id, cli->host);
      g_clear_signal_handler (&cli->identified_id, cli->identify);
      g_clear_signal_handler (&cli->identify_failed_id, cli->identify);
      g_clear_signal_handler (&cli->served_id, cli->perf);
      g_clear_signal_handler (&cli->relay_addrs_id, cli->relay_client);
      if (cli->dcutr != NULL)
        {
          g_clear_signal_handler (&cli->punch_started_id, cli->dcutr);
          g_clear_signal_handler (&cli->punch_finished_id, cli->dcutr);
        }
      punch_cli_relay_unwatch (cli->out, cli->dcutr);
      punch_cli_relay_unwatch (cli->out, cli->relay_service);
      punch_cli_relay_unwatch (cli->out, cli->host);
      if (cli->relay_client != NULL)
        {
          GListModel *reservations = punch_relay_client_get_reservations (cli->relay_client);

          for (guint i = 0; i < g_list_model_get_n_items (reservations); i++)
            {
              g_autoptr (GObject) rsv = g_list_model_get_item (reservations, i);

              punch_cli_relay_unwatch (cli->out, rsv);
            }
        }
      g_clear_pointer (&cli->forward, punch_cli_forward_free);
      punch_host_close (cli->host);

      g_set_weak_pointer (&host, cli->host);
      g_set_weak_pointer (&identify, cli->identify);
      g_set_weak_pointer (&ping, cli->ping);
      g_set_weak_pointer (&perf, cli->perf);
      g_set_weak_pointer (&relay_client, cli->relay_client);
      g_set_weak_pointer (&dcutr, cli->dcutr);
      g_set_weak_pointer (&relay_service, cli->relay_service);
    }
  if (cli->connection != NULL)
    g_clear_signal_handler (&cli->hold_closed_id, cli->connection);
  g_clear_object (&cli->connection);
  g_clear_object (&cli->autonat);
  g_clear_object (&cli->dcutr);
  g_clear_object (&cli->relay_service);
  g_clear_object (&cli->relay_client);
  g_clear_object (&cli->identify);
  g_clear_object (&cli->ping);
  g_clear_object (&cli->perf);
  g_clear_object (&cli->host);

  timer = g_timeout_add (TEARDOWN_TIMEOUT_MS, on_teardown_timeout, &expired);
  while (!expired && (host != NULL || identify != NULL || ping != NULL || perf != NULL
                      || relay_client != NULL || dcutr != NULL || relay_service != NULL))
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (timer);
  /* Whatever the closing scheduled for right now. */
  while (g_main_context_iteration (NULL, FALSE))
    ;

  if (host != NULL || identify != NULL || ping != NULL || perf != NULL)
    g_debug ("Exiting with the host still referenced");
  g_clear_weak_pointer (&host);
  g_clear_weak_pointer (&identify);
  g_clear_weak_pointer (&ping);
  g_clear_weak_pointer (&perf);
  g_clear_weak_pointer (&relay_client);
  g_clear_weak_pointer (&dcutr);
  g_clear_weak_pointer (&relay_service);
}

static void
cli_clear (Cli *cli)
{
  g_clear_error (&cli->error);
  g_clear_error (&cli->last_ping_error);
  g_clear_pointer (&cli->result_extra, json_object_unref);
  g_clear_pointer (&cli->target, punch_multiaddr_unref);
  g_clear_pointer (&cli->forward_name, g_free);
  g_clear_pointer (&cli->forward_local, g_free);
  g_clear_pointer (&cli->dial_listen, g_ptr_array_unref);
  g_clear_pointer (&cli->path_reason, g_free);
  g_clear_object (&cli->relayed);
  g_clear_object (&cli->direct);
  g_clear_object (&cli->punch);
  g_clear_object (&cli->cancellable);
  g_clear_pointer (&cli->loop, g_main_loop_unref);
  g_clear_pointer (&cli->out, punch_cli_output_free);
}

/* The members every command adds to its result. */
static JsonObject *
cli_result_extra (Cli *cli)
{
  if (cli->result_extra == NULL)
    cli->result_extra = json_object_new ();
  return cli->result_extra;
}

static void
set_ms_or_null (JsonObject *object,
                const char *member,
                gint64      us)
{
  if (us >= 0)
    json_object_set_double_member (object, member, us / 1000.0);
  else
    json_object_set_null_member (object, member);
}

/* dial's result: which path the peer is on, how it got there. */
static void
dial_add_path (Cli *cli)
{
  JsonObject *extra = cli_result_extra (cli);
  PunchConnection *now = cli->direct != NULL ? cli->direct : cli->relayed;
  const char *path = cli->direct != NULL ? "direct" : cli->relayed != NULL ? "relayed" : "failed";
  g_autofree char *remote = NULL;
  const char *reason = cli->path_reason;

  if (now != NULL)
    remote = punch_multiaddr_to_string (punch_connection_get_remote_addr (now));
  if (cli->direct == NULL && reason == NULL && cli->error != NULL)
    reason = cli->error->message;
  json_object_set_string_member (extra, "path", path);
  /* From the relayed connection to the direct one, both as the host saw
   * them open. */
  if (cli->relayed != NULL && cli->direct != NULL)
    set_ms_or_null (extra, "ms_to_direct",
                    g_date_time_difference (punch_connection_get_opened_at (cli->direct),
                                            punch_connection_get_opened_at (cli->relayed)));
  else
    json_object_set_null_member (extra, "ms_to_direct");
  set_ms_or_null (extra, "rtt_relayed_ms", cli->rtt_relayed_us);
  set_ms_or_null (extra, "rtt_direct_ms", cli->rtt_direct_us);
  json_object_set_int_member (extra, "attempts", cli->punch != NULL ? punch_hole_punch_get_attempts (cli->punch) : 0);
  if (remote != NULL)
    json_object_set_string_member (extra, "remote", remote);
  else
    json_object_set_null_member (extra, "remote");
  if (cli->direct == NULL && reason != NULL)
    json_object_set_string_member (extra, "reason", reason);
  else
    json_object_set_null_member (extra, "reason");
  punch_cli_output_path (cli->out, extra);
}

/* Prints the result (unless a listener ended normally) and frees @cli. */
static int
cli_end (Cli *cli)
{
  int status = cli->error == NULL ? PUNCH_CLI_EXIT_OK : PUNCH_CLI_EXIT_FAILED;

  if (cli->report_path)
    dial_add_path (cli);
  if (!cli->listening || cli->error != NULL)
    punch_cli_output_result (cli->out, cli->error, cli->result_extra);
  cli_clear (cli);
  return status;
}

/* Runs the main loop until the command finishes, then cleans up. */
static int
cli_run (Cli *cli)
{
  if (!cli->finished)
    g_main_loop_run (cli->loop);
  cli_teardown (cli);
  return cli_end (cli);
}

/* Dialing, shared by dial, ping, identify and perf. */

static void
on_dialed (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Cli *cli = user_data;
  GError *error = NULL;
  PunchConnection *connection;

  connection = punch_host_dial_finish (PUNCH_HOST (source), result, &error);
  if (cli->finished)
    {
      g_clear_object (&connection);
      g_clear_error (&error);
      return;
    }
  if (connection == NULL)
    {
      cli_finish (cli, error);
      return;
    }

  cli->connection = connection;
  cli->on_connected (cli);
}

static int
cli_run_dial (Cli     *cli,
              CliStep  on_connected,
              guint    extra_ms)
{
  g_autoptr (GError) error = NULL;

  cli_arm_signals (cli);
  if (!cli_start_host (cli, FALSE, &error))
    {
      cli_finish (cli, g_steal_pointer (&error));
      return cli_run (cli);
    }
  /* dial listens so that the peer can punch a hole to it: its dials leave
   * from the listen port, which is what a NAT maps. */
  if (cli->dial_listen != NULL && cli->dial_listen->len > 0 && !cli_listen (cli, cli->dial_listen, &error))
    {
      cli_finish (cli, g_steal_pointer (&error));
      return cli_run (cli);
    }
  if (cli->punch_holes)
    cli_start_dcutr (cli);
  cli_arm_timeout (cli, extra_ms);
  cli->on_connected = on_connected;
  punch_host_dial_async (cli->host, cli->target, cli->cancellable, on_dialed, cli);
  return cli_run (cli);
}

static int
parse_target (GOptionContext *context,
              Cli            *cli,
              const char     *text)
{
  g_autoptr (GError) error = NULL;

  cli->target = punch_multiaddr_new_from_string (text, &error);
  if (cli->target == NULL)
    return usage_error (context, "Bad multiaddr “%s”: %s", text, error->message);
  return PUNCH_CLI_EXIT_OK;
}

/* Pings. */

static void ping_next (Cli *cli);
static void dial_done (Cli *cli);

static gboolean
on_ping_interval (gpointer user_data)
{
  Cli *cli = user_data;

  cli->interval_id = 0;
  ping_next (cli);
  return G_SOURCE_REMOVE;
}

static void
pings_done (Cli *cli)
{
  JsonObject *extra = cli_result_extra (cli);

  json_object_set_int_member (extra, "sent", cli->ping_seq);
  json_object_set_int_member (extra, "received", cli->pings_ok);
  if (cli->pings_ok > 0)
    {
      json_object_set_double_member (extra, "rtt_min_ms", cli->rtt_min / 1000.0);
      json_object_set_double_member (extra, "rtt_avg_ms", cli->rtt_sum / 1000.0 / cli->pings_ok);
      json_object_set_double_member (extra, "rtt_max_ms", cli->rtt_max / 1000.0);
    }
  punch_cli_output_ping_summary (cli->out, cli->ping_seq, cli->pings_ok, cli->rtt_min,
                                 cli->pings_ok > 0 ? cli->rtt_sum / cli->pings_ok : 0,
                                 cli->rtt_max);

  if (cli->pings_ok > 0 && cli->hold_s > 0)
    dial_done (cli);
  else if (cli->pings_ok > 0)
    cli_finish (cli, NULL);
  else
    cli_finish (cli, g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "All %u pings failed: %s",
                                  cli->ping_seq, cli->last_ping_error->message));
}

static void
on_pong (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr (GError) error = NULL;
  gint64 rtt;

  rtt = punch_ping_service_ping_finish (PUNCH_PING_SERVICE (source), result, &error);
  if (cli->finished)
    return;

  if (rtt < 0)
    {
      g_autofree char *context = g_strdup_printf ("ping %u", cli->ping_seq);

      punch_cli_output_error (cli->out, context, error);
      /* Pinging on would only repeat the error. */
      if (punch_connection_get_state (cli->connection) != PUNCH_CONNECTION_STATE_OPEN)
        {
          cli_finish (cli, g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                        "Connection closed after %u of %u pings",
                                        cli->ping_seq, cli->ping_count));
          return;
        }
      g_clear_error (&cli->last_ping_error);
      cli->last_ping_error = g_steal_pointer (&error);
    }
  else
    {
      punch_cli_output_ping (cli->out, punch_connection_get_peer_id (cli->connection),
                             cli->ping_seq, rtt);
      cli->pings_ok++;
      cli->rtt_sum += rtt;
      cli->rtt_min = MIN (cli->rtt_min, rtt);
      cli->rtt_max = MAX (cli->rtt_max, rtt);
    }

  if (cli->ping_seq >= cli->ping_count)
    pings_done (cli);
  else if (cli->ping_interval_ms == 0)
    ping_next (cli);
  else
    {
      cli->interval_id = g_timeout_add (cli->ping_interval_ms, on_ping_interval, cli);
      g_source_set_name_by_id (cli->interval_id, "[punchline-cli] ping interval");
    }
}

static void
ping_next (Cli *cli)
{
  cli->ping_seq++;
  punch_ping_service_ping_async (cli->ping, cli->connection, cli->cancellable, on_pong, cli);
}

static guint
ping_waiting_ms (guint count,
                 guint interval_ms)
{
  guint64 ms = count > 1 ? (guint64) (count - 1) * interval_ms : 0;

  return (guint) MIN (ms, (guint64) G_MAXUINT / 2);
}

/* Commands. */

int
punch_cli_command_id (PunchCliOptions *options,
                      int              argc,
                      char           **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (PunchCliOutput) out = NULL;
  g_autoptr (PunchPrivateKey) key = NULL;
  g_autoptr (GError) error = NULL;
  PunchPublicKey *public_key;
  int status;

  context = command_context_new (options, "", "Prints the peer ID of the identity key "
                                 "(creating the key file when missing).", NULL);
  if (!parse_command_line (context, options, &argc, &argv, 0, &status))
    return status;

  out = punch_cli_output_new (options->json);
  key = load_identity (options, &error);
  if (key == NULL)
    {
      punch_cli_output_result (out, error, NULL);
      return PUNCH_CLI_EXIT_FAILED;
    }

  public_key = punch_private_key_get_public_key (key);
  punch_cli_output_id (out, punch_private_key_get_peer_id (key),
                       punch_public_key_get_key_type (public_key));
  punch_cli_output_result (out, NULL, NULL);
  return PUNCH_CLI_EXIT_OK;
}

int
punch_cli_command_listen (PunchCliOptions *options,
                          int              argc,
                          char           **argv)
{
  g_auto (GStrv) listen = NULL;
  g_auto (GStrv) relays = NULL;
  g_autofree char *bad = NULL;
  g_auto (GStrv) allow_limited = NULL;
  g_auto (GStrv) expose = NULL;
  g_auto (GStrv) allow = NULL;
  gboolean perf = FALSE;
  gboolean echo = FALSE;
  const GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &listen,
      "Listen on MA (repeatable; default " DEFAULT_LISTEN_ADDR ")", "MA" },
    { "expose", 0, 0, G_OPTION_ARG_STRING_ARRAY, &expose,
      "Expose the TCP service HOST:PORT as NAME to --allow peers (repeatable)", "NAME=HOST:PORT" },
    { "allow", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allow,
      "Let PEER_ID use the exposed services, or only NAME's (repeatable; default: nobody)", "[NAME:]PEER_ID" },
    { "perf", 0, 0, G_OPTION_ARG_NONE, &perf, "Serve /perf/1.0.0", NULL },
    { "echo", 0, 0, G_OPTION_ARG_NONE, &echo,
      "Serve " PUNCH_CLI_ECHO_PROTOCOL " (allowed on relay-limited connections)", NULL },
    { "relay", 0, 0, G_OPTION_ARG_STRING_ARRAY, &relays,
      "Reserve a slot on the relay at MA (ending in /p2p/<relay id>; repeatable)", "MA" },
    { "allow-limited", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allow_limited,
      "Let PROTOCOL run on relay-limited connections (repeatable)", "PROTOCOL" },
    { NULL }
  };
  g_autoptr (GPtrArray) relay_addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GPtrArray) addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  g_autoptr (GError) error = NULL;
  const char * const default_listen[] = { DEFAULT_LISTEN_ADDR, NULL };
  const char * const *texts;
  int status;
  Cli cli;

  context = command_context_new (options, "",
                                 "Listens for peers, answers identify and ping (and perf with "
                                 "--perf), and prints connection and identify events until "
                                 "SIGINT or SIGTERM.", entries);
  if (!parse_command_line (context, options, &argc, &argv, 0, &status))
    return status;

  texts = listen != NULL ? (const char * const *) listen : default_listen;
  if (!parse_multiaddrs (texts, "multiaddr", addrs, &bad)
      || !parse_multiaddrs ((const char * const *) relays, "relay multiaddr", relay_addrs, &bad))
    return usage_error (context, "%s", bad);
  if (!punch_cli_forward_check_args ((const char * const *) expose, (const char * const *) allow, &error))
    return usage_error (context, "%s", error->message);

  cli_init (&cli, options);
  cli.listening = TRUE;
  cli_arm_signals (&cli);
  if (!cli_start_host (&cli, perf, &error))
    {
      cli_finish (&cli, g_steal_pointer (&error));
      return cli_run (&cli);
    }
  if (!cli_listen (&cli, addrs, &error))
    {
      cli_finish (&cli, g_steal_pointer (&error));
      return cli_run (&cli);
    }

  for (guint i = 0; allow_limited != NULL && allow_limited[i] != NULL; i++)
    punch_host_allow_on_limited (cli.host, allow_limited[i]);
  if (echo)
    punch_cli_relay_serve_echo (cli.host);
  if (expose != NULL)
    {
      cli.forward = punch_cli_forward_new (cli.out, cli.host);
      if (!punch_cli_forward_expose (cli.forward, (const char * const *) expose,
                                     (const char * const *) allow, &error))
        {
          cli_finish (&cli, g_steal_pointer (&error));
          return cli_run (&cli);
        }
    }
  cli_start_dcutr (&cli);
  cli_start_autonat (&cli);
  for (guint i = 0; i < relay_addrs->len; i++)
    {
      PunchRelayReservation *rsv;

      rsv = punch_relay_client_add_relay (cli.relay_client, g_ptr_array_index (relay_addrs, i), &error);
      if (rsv == NULL)
        {
          cli_finish (&cli, g_steal_pointer (&error));
          return cli_run (&cli);
        }
      punch_cli_relay_watch_reservation (cli.out, rsv);
    }
  return cli_run (&cli);
}

static gboolean
on_hold_done (gpointer user_data)
{
  Cli *cli = user_data;

  cli->hold_id = 0;
  cli_finish (cli, NULL);
  return G_SOURCE_REMOVE;
}

/* dial --hold: the connection's later transitions (a hole punch, a relay
 * limit) are what the caller wants to see. */
static void
on_hold_connection_closed (PunchConnection *connection,
                           GError          *error,
                           gpointer         user_data)
{
  Cli *cli = user_data;

  if (cli->hold_id == 0 || cli->finished)
    return;
  g_clear_handle_id (&cli->hold_id, g_source_remove);
  /* A relayed connection that a hole punch replaced ended as it should. */
  if (punch_connection_get_relayed (connection)
      && punch_host_get_connection (cli->host, punch_connection_get_peer_id (connection)) != NULL)
    {
      cli_finish (cli, NULL);
      return;
    }
  cli_finish (cli, g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "Connection closed while holding it%s%s",
                                error != NULL ? ": " : "", error != NULL ? error->message : ""));
}

static void
dial_done (Cli *cli)
{
  if (cli->hold_s == 0)
    {
      cli_finish (cli, NULL);
      return;
    }
  if (punch_connection_get_state (cli->connection) != PUNCH_CONNECTION_STATE_OPEN)
    {
      cli_finish (cli, g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "Connection closed"));
      return;
    }
  cli->hold_id = g_timeout_add_seconds (cli->hold_s, on_hold_done, cli);
  g_source_set_name_by_id (cli->hold_id, "[punchline-cli] dial hold");
  cli->hold_closed_id = g_signal_connect (cli->connection, "closed", G_CALLBACK (on_hold_connection_closed), cli);
}

static void
dial_pings_start (Cli *cli)
{
  if (cli->ping_count == 0)
    {
      dial_done (cli);
      return;
    }
  ping_next (cli);
}

/* The path is known (direct, or relayed for good): --require-direct
 * judges it, then the pings and the hold run on it. */
static void
dial_path_settled (Cli *cli)
{
  if (cli->require_direct && cli->direct == NULL)
    {
      cli_finish (cli, g_error_new (G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE, "No direct connection to the peer: %s",
                                    cli->path_reason != NULL ? cli->path_reason : "unknown reason"));
      return;
    }
  dial_pings_start (cli);
}

static void dial_await_punch (Cli *cli);

/* One ping that prints nothing: the RTT of each path for the result. */
static void
on_measured (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr (GError) error = NULL;
  gint64 rtt = punch_ping_service_ping_finish (PUNCH_PING_SERVICE (source), result, &error);

  if (cli->finished)
    return;
  if (rtt < 0)
    g_debug ("measuring the RTT: %s", error->message);
  else if (cli->direct != NULL)
    cli->rtt_direct_us = rtt;
  else
    cli->rtt_relayed_us = rtt;
  if (cli->direct != NULL)
    dial_path_settled (cli);
  else
    dial_await_punch (cli);
}

static void
dial_measure (Cli *cli)
{
  punch_ping_service_ping_async (cli->ping, cli->connection, cli->cancellable, on_measured, cli);
}

static void
dial_set_reason (Cli        *cli,
                 const char *reason)
{
  g_free (cli->path_reason);
  cli->path_reason = g_strdup (reason);
}

/* Our punch with the peer ended: on to the direct connection, or stay on
 * the relayed one with the punch's reason. */
static void
dial_punch_over (Cli *cli)
{
  PunchConnection *direct = punch_hole_punch_get_direct_connection (cli->punch);

  cli->awaiting_punch = FALSE;
  g_clear_handle_id (&cli->punch_wait_id, g_source_remove);
  if (punch_hole_punch_get_state (cli->punch) == PUNCH_HOLE_PUNCH_STATE_SUCCEEDED && direct != NULL
      && punch_connection_get_state (direct) == PUNCH_CONNECTION_STATE_OPEN)
    {
      g_set_object (&cli->direct, direct);
      g_set_object (&cli->connection, direct);
      dial_measure (cli);
      return;
    }
  dial_set_reason (cli, punch_hole_punch_get_error (cli->punch) != NULL ? punch_hole_punch_get_error (cli->punch)
                                                                        : "the hole punch failed");
  dial_path_settled (cli);
}

static gboolean
on_punch_wait_expired (gpointer user_data)
{
  Cli *cli = user_data;
  g_autofree char *reason = NULL;

  cli->punch_wait_id = 0;
  cli->awaiting_punch = FALSE;
  if (punch_connection_get_state (cli->relayed) != PUNCH_CONNECTION_STATE_OPEN)
    reason = g_strdup ("the relayed connection closed before a hole punch ended");
  else if (cli->punch == NULL)
    reason = g_strdup_printf ("the peer started no hole punch within %u s", PUNCH_START_WAIT_S);
  else
    reason = g_strdup_printf ("the hole punch did not end within %u s", cli->punch_wait_s);
  dial_set_reason (cli, reason);
  dial_path_settled (cli);
  return G_SOURCE_REMOVE;
}

static void
dial_arm_punch_wait (Cli  *cli,
                     guint seconds)
{
  g_clear_handle_id (&cli->punch_wait_id, g_source_remove);
  cli->punch_wait_id = g_timeout_add_seconds (seconds, on_punch_wait_expired, cli);
  g_source_set_name_by_id (cli->punch_wait_id, "[punchline-cli] dial punch wait");
}

/* Whether @hp is our side (A) of a punch with the peer we dialled. */
static gboolean
dial_is_our_punch (Cli            *cli,
                   PunchHolePunch *hp)
{
  return cli->relayed != NULL && punch_hole_punch_get_role (hp) == PUNCH_HOLE_PUNCH_ROLE_A
         && punch_peer_id_equal (punch_hole_punch_get_peer_id (hp), punch_connection_get_peer_id (cli->relayed));
}

static void
on_dial_punch_started (PunchDcutrService *dcutr,
                       PunchHolePunch    *hp,
                       gpointer           user_data)
{
  Cli *cli = user_data;

  if (cli->punch != NULL || !dial_is_our_punch (cli, hp))
    return;
  cli->punch = g_object_ref (hp);
  /* Now the whole punch gets its time. */
  if (cli->awaiting_punch && !punch_hole_punch_is_finished (hp))
    dial_arm_punch_wait (cli, cli->punch_wait_s);
}

static void
on_dial_punch_finished (PunchDcutrService *dcutr,
                        PunchHolePunch    *hp,
                        gpointer           user_data)
{
  Cli *cli = user_data;

  if (cli->punch == NULL && dial_is_our_punch (cli, hp))
    cli->punch = g_object_ref (hp);
  if (hp == cli->punch && cli->awaiting_punch)
    dial_punch_over (cli);
}

/* The connection is relayed: the peer (B) starts a hole punch after
 * identify; wait for its outcome, bounded. */
static void
dial_await_punch (Cli *cli)
{
  if (cli->punch != NULL && punch_hole_punch_is_finished (cli->punch))
    {
      dial_punch_over (cli);
      return;
    }
  if (cli->punch == NULL && !cli->peer_speaks_dcutr)
    {
      dial_set_reason (cli, "the peer does not speak " PUNCH_DCUTR_PROTOCOL);
      dial_path_settled (cli);
      return;
    }
  cli->awaiting_punch = TRUE;
  dial_arm_punch_wait (cli, cli->punch != NULL ? cli->punch_wait_s : PUNCH_START_WAIT_S);
}

static void
on_dial_identified (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr (PunchPeerInfo) info = NULL;
  GError *error = NULL;
  const char * const *protocols;

  info = punch_identify_service_identify_finish (PUNCH_IDENTIFY_SERVICE (source), result, &error);
  if (cli->finished)
    {
      g_clear_error (&error);
      return;
    }
  if (info == NULL)
    {
      cli_finish (cli, error);
      return;
    }

  /* The identify event was printed by the "identified" handler. */
  protocols = punch_peer_info_get_protocols (info);
  cli->peer_speaks_dcutr = protocols != NULL && g_strv_contains (protocols, PUNCH_DCUTR_PROTOCOL);
  dial_measure (cli);
}

static void
dial_connected (Cli *cli)
{
  if (punch_connection_get_relayed (cli->connection))
    {
      GListModel *punches = punch_dcutr_service_get_punches (cli->dcutr);

      cli->relayed = g_object_ref (cli->connection);
      cli->punch_started_id = g_signal_connect (cli->dcutr, "punch-started", G_CALLBACK (on_dial_punch_started), cli);
      cli->punch_finished_id = g_signal_connect (cli->dcutr, "punch-finished", G_CALLBACK (on_dial_punch_finished),
                                                 cli);
      /* A punch may have begun before the dial returned. */
      for (guint i = 0; i < g_list_model_get_n_items (punches) && cli->punch == NULL; i++)
        {
          g_autoptr (PunchHolePunch) hp = g_list_model_get_item (punches, i);

          if (dial_is_our_punch (cli, hp))
            cli->punch = g_object_ref (hp);
        }
    }
  else
    cli->direct = g_object_ref (cli->connection);
  punch_identify_service_identify_async (cli->identify, cli->connection, cli->cancellable,
                                         on_dial_identified, cli);
}

int
punch_cli_command_dial (PunchCliOptions *options,
                        int              argc,
                        char           **argv)
{
  int count = 0;
  int interval = 0;
  int hold = 0;
  int punch_wait = DEFAULT_PUNCH_WAIT_S;
  gboolean require_direct = FALSE;
  g_auto (GStrv) listen = NULL;
  g_autofree char *bad = NULL;
  const GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &listen,
      "Listen on MA, and dial from its port (repeatable; default " DEFAULT_LISTEN_ADDR ")", "MA" },
    { "require-direct", 0, 0, G_OPTION_ARG_NONE, &require_direct,
      "Fail unless the path ends direct (a relayed address must be hole-punched)", NULL },
    { "punch-wait", 0, 0, G_OPTION_ARG_INT, &punch_wait,
      "Wait up to SECONDS for a hole punch over a relayed connection (default 30)", "SECONDS" },
    { "ping", 0, 0, G_OPTION_ARG_INT, &count, "Then ping N times on one stream", "N" },
    { "interval", 0, 0, G_OPTION_ARG_INT, &interval,
      "Wait MS milliseconds between pings (default 0)", "MS" },
    { "hold", 0, 0, G_OPTION_ARG_INT, &hold,
      "Then keep the connection SECONDS longer, printing its events (a hole punch, say)", "SECONDS" },
    { NULL }
  };
  const char * const default_listen[] = { DEFAULT_LISTEN_ADDR, NULL };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GPtrArray) addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  guint64 extra_ms;
  int status;
  Cli cli;

  context = command_context_new (options, "MULTIADDR",
                                 "Connects to a peer, waits for its identify and, over a relay, for a "
                                 "hole punch to a direct connection; optionally pings it. Prints the "
                                 "path it ended on.",
                                 entries);
  if (!parse_command_line (context, options, &argc, &argv, 1, &status))
    return status;
  if (count < 0)
    return usage_error (context, "--ping must not be negative");
  if (interval < 0)
    return usage_error (context, "--interval must not be negative");
  if (hold < 0)
    return usage_error (context, "--hold must not be negative");
  if (punch_wait < 1 || punch_wait > 3600)
    return usage_error (context, "--punch-wait must be between 1 and 3600");
  if (!parse_multiaddrs (listen != NULL ? (const char * const *) listen : default_listen, "multiaddr", addrs, &bad))
    return usage_error (context, "%s", bad);

  cli_init (&cli, options);
  if ((status = parse_target (context, &cli, argv[1])) != PUNCH_CLI_EXIT_OK)
    {
      cli_clear (&cli);
      return status;
    }
  cli.ping_count = count;
  cli.ping_interval_ms = interval;
  cli.punch_holes = TRUE;
  cli.hold_s = hold;
  cli.dial_listen = g_steal_pointer (&addrs);
  cli.report_path = TRUE;
  cli.require_direct = require_direct;
  cli.punch_wait_s = (guint) punch_wait;
  /* Waiting on purpose is not counted against --timeout. */
  extra_ms = ping_waiting_ms (count, interval) + (guint64) hold * 1000 + (guint64) punch_wait * 1000;
  return cli_run_dial (&cli, dial_connected, (guint) MIN (extra_ms, G_MAXUINT / 2));
}

static void
forward_connected (Cli *cli)
{
  GError *error = NULL;

  /* --timeout bounds the connection; forwarding runs until a signal. */
  g_clear_handle_id (&cli->timeout_id, g_source_remove);
  cli->forward = punch_cli_forward_new (cli->out, cli->host);
  if (!punch_cli_forward_open (cli->forward, punch_connection_get_peer_id (cli->connection),
                               cli->forward_name, cli->forward_local, cli->target, &error))
    cli_finish (cli, error);
}

int
punch_cli_command_forward (PunchCliOptions *options,
                           int              argc,
                           char           **argv)
{
  g_autofree char *local = NULL;
  g_auto (GStrv) listen = NULL;
  g_autofree char *bad = NULL;
  const GOptionEntry entries[] = {
    { "local", 0, 0, G_OPTION_ARG_STRING, &local,
      "Listen on HOST:PORT (default 127.0.0.1:0: a free port)", "HOST:PORT" },
    { "listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &listen,
      "Also listen for peers on MA, so that dials and hole punches use its port (repeatable)", "MA" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GPtrArray) addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  int status;
  Cli cli;

  context = command_context_new (options, "MULTIADDR NAME",
                                 "Connects to a peer (relayed addresses and hole punching as "
                                 "dial does), listens on a local TCP port and forwards every "
                                 "connection to the peer's service NAME until SIGINT or SIGTERM.",
                                 entries);
  if (!parse_command_line (context, options, &argc, &argv, 2, &status))
    return status;
  if (!punch_forward_name_is_valid (argv[2], strlen (argv[2])))
    return usage_error (context, "“%s” is not a service name (1 to 64 of A-Z a-z 0-9 . _ -)", argv[2]);
  if (!parse_multiaddrs ((const char * const *) listen, "multiaddr", addrs, &bad))
    return usage_error (context, "%s", bad);

  cli_init (&cli, options);
  if ((status = parse_target (context, &cli, argv[1])) != PUNCH_CLI_EXIT_OK)
    {
      cli_clear (&cli);
      return status;
    }
  cli.forward_name = g_strdup (argv[2]);
  cli.forward_local = g_strdup (local != NULL ? local : "127.0.0.1:0");
  cli.dial_listen = g_steal_pointer (&addrs);
  cli.listening = TRUE;
  cli.punch_holes = TRUE;
  return cli_run_dial (&cli, forward_connected, 0);
}

int
punch_cli_command_ping (PunchCliOptions *options,
                        int              argc,
                        char           **argv)
{
  int count = DEFAULT_PING_COUNT;
  int interval = PING_INTERVAL_MS;
  const GOptionEntry entries[] = {
    { "count", 'c', 0, G_OPTION_ARG_INT, &count, "Send N pings (default 5)", "N" },
    { "interval", 0, 0, G_OPTION_ARG_INT, &interval,
      "Wait MS milliseconds between pings (default 1000)", "MS" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = NULL;
  int status;
  Cli cli;

  context = command_context_new (options, "MULTIADDR", "Pings a peer (/ipfs/ping/1.0.0).", entries);
  if (!parse_command_line (context, options, &argc, &argv, 1, &status))
    return status;
  if (count <= 0)
    return usage_error (context, "-c must be at least 1");
  if (interval < 0)
    return usage_error (context, "--interval must not be negative");

  cli_init (&cli, options);
  if ((status = parse_target (context, &cli, argv[1])) != PUNCH_CLI_EXIT_OK)
    {
      cli_clear (&cli);
      return status;
    }
  cli.ping_count = count;
  cli.ping_interval_ms = interval;
  return cli_run_dial (&cli, ping_next, ping_waiting_ms (count, interval));
}

static void
on_identify_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr (PunchPeerInfo) info = NULL;
  GError *error = NULL;

  info = punch_identify_service_identify_finish (PUNCH_IDENTIFY_SERVICE (source), result, &error);
  if (cli->finished)
    {
      g_clear_error (&error);
      return;
    }
  /* On success the "identified" handler printed the identify event. */
  cli_finish (cli, error);
}

static void
identify_connected (Cli *cli)
{
  punch_identify_service_identify_async (cli->identify, cli->connection, cli->cancellable,
                                         on_identify_done, cli);
}

int
punch_cli_command_identify (PunchCliOptions *options,
                            int              argc,
                            char           **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  int status;
  Cli cli;

  context = command_context_new (options, "MULTIADDR",
                                 "Connects to a peer and prints its identify.", NULL);
  if (!parse_command_line (context, options, &argc, &argv, 1, &status))
    return status;

  cli_init (&cli, options);
  if ((status = parse_target (context, &cli, argv[1])) != PUNCH_CLI_EXIT_OK)
    {
      cli_clear (&cli);
      return status;
    }
  return cli_run_dial (&cli, identify_connected, 0);
}

static void
on_perf_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Cli *cli = user_data;
  PunchPerfResult perf;
  GError *error = NULL;

  if (!punch_perf_service_run_finish (PUNCH_PERF_SERVICE (source), result, &perf, &error))
    {
      if (cli->finished)
        g_clear_error (&error);
      else
        cli_finish (cli, error);
      return;
    }
  if (cli->finished)
    return;

  punch_cli_output_perf (cli->out, punch_connection_get_peer_id (cli->connection), "client", &perf);
  cli_finish (cli, NULL);
}

static void
perf_connected (Cli *cli)
{
  punch_perf_service_run_async (cli->perf, cli->connection, cli->upload, cli->download,
                                cli->cancellable, on_perf_done, cli);
}

int
punch_cli_command_perf (PunchCliOptions *options,
                        int              argc,
                        char           **argv)
{
  g_autofree char *upload = NULL;
  g_autofree char *download = NULL;
  const GOptionEntry entries[] = {
    { "upload", 0, 0, G_OPTION_ARG_STRING, &upload,
      "Send BYTES (suffixes K, M, G: powers of 1024)", "BYTES" },
    { "download", 0, 0, G_OPTION_ARG_STRING, &download,
      "Receive BYTES (suffixes K, M, G: powers of 1024)", "BYTES" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = NULL;
  int status;
  Cli cli;

  context = command_context_new (options, "MULTIADDR",
                                 "Measures throughput to a peer serving /perf/1.0.0.", entries);
  if (!parse_command_line (context, options, &argc, &argv, 1, &status))
    return status;

  cli_init (&cli, options);
  if (upload == NULL || download == NULL)
    status = usage_error (context, "perf needs --upload and --download");
  else if (!punch_cli_parse_size (upload, &cli.upload))
    status = usage_error (context, "Bad --upload size “%s”", upload);
  else if (!punch_cli_parse_size (download, &cli.download))
    status = usage_error (context, "Bad --download size “%s”", download);
  else
    status = parse_target (context, &cli, argv[1]);
  if (status != PUNCH_CLI_EXIT_OK)
    {
      cli_clear (&cli);
      return status;
    }
  return cli_run_dial (&cli, perf_connected, 0);
}

/* A count where 0 means "no limit". */
static guint
unlimited_if_zero (int value)
{
  return value == 0 ? G_MAXUINT : (guint) value;
}

int
punch_cli_command_relay (PunchCliOptions *options,
                         int              argc,
                         char           **argv)
{
  g_auto (GStrv) listen = NULL;
  g_auto (GStrv) announce = NULL;
  g_autofree char *bad = NULL;
  g_autofree char *limit_data = NULL;
  int limit_duration = PUNCH_RELAY_DEFAULT_LIMIT_DURATION;
  int max_reservations = PUNCH_RELAY_DEFAULT_MAX_RESERVATIONS;
  int max_per_ip = PUNCH_RELAY_DEFAULT_MAX_PER_IP;
  int max_circuits = PUNCH_RELAY_DEFAULT_MAX_CIRCUITS;
  int ttl = PUNCH_RELAY_DEFAULT_TTL;
  const GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &listen,
      "Listen on MA (repeatable; default " DEFAULT_LISTEN_ADDR ")", "MA" },
    { "announce", 0, 0, G_OPTION_ARG_STRING_ARRAY, &announce,
      "Give MA to reserving peers as our address (repeatable; default: the listen addresses)", "MA" },
    { "limit-data", 0, 0, G_OPTION_ARG_STRING, &limit_data,
      "Reset a circuit after BYTES in one direction (default 128K; 0: no limit)", "BYTES" },
    { "limit-duration", 0, 0, G_OPTION_ARG_INT, &limit_duration,
      "Reset a circuit after SECONDS (default 120; 0: no limit)", "SECONDS" },
    { "max-reservations", 0, 0, G_OPTION_ARG_INT, &max_reservations,
      "Hold at most N reservations (default 128; 0: no limit)", "N" },
    { "max-reservations-per-ip", 0, 0, G_OPTION_ARG_INT, &max_per_ip,
      "Hold at most N reservations from one IP address (default 8; 0: no limit)", "N" },
    { "max-circuits-per-peer", 0, 0, G_OPTION_ARG_INT, &max_circuits,
      "Bridge at most N circuits to or from one peer (default 16; 0: no limit)", "N" },
    { "reservation-ttl", 0, 0, G_OPTION_ARG_INT, &ttl,
      "Grant reservations for SECONDS (default 3600)", "SECONDS" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GPtrArray) addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  g_autoptr (GPtrArray) announce_addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) punch_multiaddr_unref);
  g_autoptr (GPtrArray) bound = NULL;
  g_autoptr (GError) error = NULL;
  const char * const default_listen[] = { DEFAULT_LISTEN_ADDR, NULL };
  const char * const *texts;
  guint64 data = PUNCH_RELAY_DEFAULT_LIMIT_DATA;
  int status;
  Cli cli;

  context = command_context_new (options, "",
                                 "Serves as a Circuit Relay v2 relay: grants reservations and "
                                 "bridges circuits, printing their events until SIGINT or SIGTERM.",
                                 entries);
  if (!parse_command_line (context, options, &argc, &argv, 0, &status))
    return status;
  if (limit_data != NULL && !punch_cli_parse_size (limit_data, &data))
    return usage_error (context, "Bad --limit-data size “%s”", limit_data);
  if (limit_duration < 0 || max_reservations < 0 || max_per_ip < 0 || max_circuits < 0)
    return usage_error (context, "Limits must not be negative");
  if (ttl <= 0)
    return usage_error (context, "--reservation-ttl must be at least 1");

  texts = listen != NULL ? (const char * const *) listen : default_listen;
  if (!parse_multiaddrs (texts, "multiaddr", addrs, &bad)
      || !parse_multiaddrs ((const char * const *) announce, "multiaddr", announce_addrs, &bad))
    return usage_error (context, "%s", bad);

  cli_init (&cli, options);
  cli.listening = TRUE;
  cli_arm_signals (&cli);
  if (!cli_start_host (&cli, FALSE, &error))
    {
      cli_finish (&cli, g_steal_pointer (&error));
      return cli_run (&cli);
    }
  for (guint i = 0; i < addrs->len; i++)
    if (!punch_host_listen (cli.host, g_ptr_array_index (addrs, i), &error))
      {
        g_autofree char *text = punch_multiaddr_to_string (g_ptr_array_index (addrs, i));

        g_prefix_error (&error, "Cannot listen on %s: ", text);
        cli_finish (&cli, g_steal_pointer (&error));
        return cli_run (&cli);
      }

  cli.relay_service = punch_relay_service_new (cli.host);
  cli_start_autonat (&cli);
  g_object_set (cli.relay_service,
                "reservation-ttl", (guint) ttl,
                "limit-duration", (guint) limit_duration,
                "limit-data", data,
                "max-reservations", unlimited_if_zero (max_reservations),
                "max-reservations-per-ip", unlimited_if_zero (max_per_ip),
                "max-circuits-per-peer", unlimited_if_zero (max_circuits),
                NULL);
  if (announce_addrs->len > 0)
    punch_relay_service_set_announce_addrs (cli.relay_service, announce_addrs);
  punch_cli_relay_watch_service (cli.out, cli.relay_service);

  bound = punch_host_get_listen_addrs (cli.host);
  punch_cli_output_listening (cli.out, punch_host_get_peer_id (cli.host), bound);
  punch_cli_relay_print_settings (cli.out, cli.relay_service,
                                  announce_addrs->len > 0 ? announce_addrs : bound);
  return cli_run (&cli);
}
