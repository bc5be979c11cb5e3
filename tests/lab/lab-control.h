/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The NAT lab (tests/lab/lab) as the lab tests drive it: one lab at a time
 * per test program, named after its PID so that runs side by side never
 * meet, with PUNCH_LAB_LINK pointing at the delay forwarder. Should the
 * program die on a signal (a failed assertion aborts it before any
 * teardown), the handler kills the processes it was told of and runs `lab
 * down` (fork and execve are async-signal-safe), so nothing is left behind.
 */

/* Paths from PUNCH_SOURCE_ROOT / PUNCH_BUILD_ROOT; installs the handler
 * (SIGABRT, SIGSEGV, SIGBUS, SIGTRAP, SIGTERM, SIGINT). */
void         lab_control_init       (void);
/* Root, nftables and the lab script: without them the lab cases skip. */
gboolean     lab_control_available  (void);
const char  *lab_control_script     (void);
/* The lab's ID (PUNCH_LAB_ID) and the environment its commands run with. */
const char  *lab_control_id         (void);
char       **lab_control_envp       (void);
/* Runs `lab ARGS…` (NULL-terminated); its standard output in @out. */
gboolean     lab_control_run        (const char * const *args,
                                     char              **out,
                                     GError            **error);
/* `lab down`, for a teardown; failures are reported as test messages. */
void         lab_control_down       (void);
/* Processes the crash handler kills before `lab down`. */
void         lab_control_track_pid   (GPid pid);
void         lab_control_untrack_pid (GPid pid);

G_END_DECLS
