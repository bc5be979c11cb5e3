/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "punch-cli-commands.h"

G_BEGIN_DECLS

/* diagnose [--relay MA]… [--peer MA]… [--listen MA]… [--wait S]
 * [--min-confirmations N]: one "diagnose" event (docs/cli-events.md,
 * docs/nat-diagnosis.md), then the result. */
int punch_cli_command_diagnose (PunchCliOptions *options, int argc, char **argv);

G_END_DECLS
