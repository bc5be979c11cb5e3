/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  PUNCH_CLI_EXIT_OK = 0,
  PUNCH_CLI_EXIT_FAILED = 1,
  PUNCH_CLI_EXIT_USAGE = 2,
} PunchCliExit;

/* Options every command accepts, before or after the command name. */
typedef struct
{
  char     *identity;  /* NULL: punch_private_key_default_path () */
  gboolean  json;
  int       timeout;   /* seconds; 0: none */
  char     *security;  /* "noise,tls" (the default), "tls,noise", "tls"… */
} PunchCliOptions;

#define PUNCH_CLI_DEFAULT_TIMEOUT 30

/* Each command parses its own arguments (@argv[0] is the command name) and
 * returns the process exit status. */
typedef int (*PunchCliCommand) (PunchCliOptions *options, int argc, char **argv);

int punch_cli_command_id       (PunchCliOptions *options, int argc, char **argv);
int punch_cli_command_listen   (PunchCliOptions *options, int argc, char **argv);
int punch_cli_command_dial     (PunchCliOptions *options, int argc, char **argv);
int punch_cli_command_ping     (PunchCliOptions *options, int argc, char **argv);
int punch_cli_command_identify (PunchCliOptions *options, int argc, char **argv);
int punch_cli_command_perf     (PunchCliOptions *options, int argc, char **argv);
int punch_cli_command_relay    (PunchCliOptions *options, int argc, char **argv);
int punch_cli_command_forward  (PunchCliOptions *options, int argc, char **argv);

/* Adds --identity, --json, --timeout and --security to @context's main entries,
 * writing into @options. */
void punch_cli_add_common_options (GOptionContext  *context,
                                   PunchCliOptions *options);

/* "123", "64K", "10M", "10MiB", "1G": bytes with an optional binary suffix. */
gboolean punch_cli_parse_size (const char *text,
                               guint64    *out);

G_END_DECLS
