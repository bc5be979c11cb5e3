/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "punch-cli-commands.h"

G_BEGIN_DECLS

/* export DIR [--relay MA]… [--connect MA]… [--listen MA]… [--wait S]: runs
 * a PunchNode for S seconds, then writes the dashboard's diagnostics bundle
 * under DIR; one "export" event (docs/cli-events.md), then the result. */
int punch_cli_command_export (PunchCliOptions *options, int argc, char **argv);

G_END_DECLS
