/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <locale.h>

#include "punch-cli-commands.h"
#include "punch-cli-diagnose.h"
#include "punch-cli-export.h"

static const struct
{
  const char      *name;
  PunchCliCommand  run;
  const char      *synopsis;
} commands[] = {
  { "id", punch_cli_command_id, "id" },
  { "listen", punch_cli_command_listen, "listen [--listen MA]… [--perf] [--relay MA]… [--expose NAME=HOST:PORT --allow PEER_ID]…" },
  { "dial", punch_cli_command_dial, "dial MA [--listen MA]… [--require-direct] [--punch-wait S] [--ping N] [--hold S]" },
  { "ping", punch_cli_command_ping, "ping MA [-c N]" },
  { "identify", punch_cli_command_identify, "identify MA" },
  { "perf", punch_cli_command_perf, "perf MA --upload BYTES --download BYTES" },
  { "relay", punch_cli_command_relay,
    "relay [--listen MA]… [--announce MA]… [--limit-data BYTES] [--limit-duration S] [--max-reservations N]" },
  { "forward", punch_cli_command_forward, "forward MA NAME [--local HOST:PORT]" },
  { "diagnose", punch_cli_command_diagnose,
    "diagnose [--relay MA]… [--peer MA]… [--listen MA]… [--wait S] [--min-confirmations N] [--allow-private]" },
  { "export", punch_cli_command_export, "export DIR [--relay MA]… [--connect MA]… [--listen MA]… [--wait S]" },
};

static char *
commands_description (void)
{
  GString *text = g_string_new ("Commands:\n");

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (text, "  %s\n", commands[i].synopsis);
  g_string_append (text, "\n“punchline-cli COMMAND --help” describes a command's options.\n"
                   "Exit status: 0 success, 1 failure, 2 bad arguments.");
  return g_string_free (text, FALSE);
}

static int
usage (GOptionContext *context,
       const char     *message)
{
  g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

  g_printerr ("punchline-cli: %s\n\n%s", message, help);
  return PUNCH_CLI_EXIT_USAGE;
}

/* Parses the options before the command name, then runs the command. */
static int
run (PunchCliOptions *options,
     int              argc,
     char           **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *description = commands_description ();
  g_autofree char *message = NULL;
  g_autofree char *prgname = NULL;

  context = g_option_context_new ("COMMAND [ARGUMENTS…]");
  g_option_context_set_summary (context, "A libp2p peer without a window.");
  g_option_context_set_description (context, description);
  /* Stop at the command name: what follows is the command's. */
  g_option_context_set_strict_posix (context, TRUE);
  punch_cli_add_common_options (context, options);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage (context, error->message);
  if (argc < 2)
    return usage (context, "no command given");

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      if (g_strcmp0 (argv[1], commands[i].name) != 0)
        continue;

      prgname = g_strdup_printf ("punchline-cli %s", commands[i].name);
      g_set_prgname (prgname);
      return commands[i].run (options, argc - 1, argv + 1);
    }

  message = g_strdup_printf ("unknown command “%s”", argv[1]);
  return usage (context, message);
}

int
main (int    argc,
      char **argv)
{
  PunchCliOptions options = { NULL, FALSE, PUNCH_CLI_DEFAULT_TIMEOUT };
  int status;

  setlocale (LC_ALL, "");
  /* Standard output carries the events only: logs of every level go to
   * standard error. */
  g_log_writer_default_set_use_stderr (TRUE);

  status = run (&options, argc, argv);
  /* Whatever the path out, the option strings GOption filled are ours. */
  g_free (options.identity);
  g_free (options.security);
  return status;
}
