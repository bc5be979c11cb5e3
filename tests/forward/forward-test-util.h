/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * Helpers of the forward tests that run punchline-cli.
 *
 * A child process printing one JSON object per line on stdout (punchline-cli
 * --json, or a test helper), as the forward tests drive them: spawned with
 * PR_SET_PDEATHSIG so that a failed test never leaves one behind, its
 * events collected while the tests wait for them (every wait has a
 * deadline), ended by PID.
 */
typedef struct
{
  char             *name;
  GSubprocess      *proc;
  GDataInputStream *out;
  GOutputStream    *in;       /* with FWD_PROC_STDIN */
  GPtrArray        *events;   /* JsonObject */
  gboolean          reading;   /* a line read is pending */
  gboolean          follow;    /* read on in the background */
  gboolean          orphaned;  /* freed: the pending read frees us */
  gboolean          eof;
  gboolean          waited;
} FwdProc;

typedef enum
{
  FWD_PROC_DEFAULT = 0,
  FWD_PROC_STDIN = 1 << 0,   /* commands on stdin (fwd_proc_send) */
} FwdProcFlags;

/* Spawns @argv (NULL-terminated) with @env (NULL: ours). */
FwdProc    *fwd_proc_spawn (const char         *name,
                            const char * const *argv,
                            const char * const *env,
                            FwdProcFlags        flags);
/* The @nth event @event (with @key equal to @value when @key is set) seen
 * so far, or NULL. */
JsonObject *fwd_proc_find (FwdProc    *p,
                           const char *event,
                           const char *key,
                           const char *value,
                           guint       nth);
/* Reads events until that one comes; the test fails after @timeout_s or
 * when the process ends without it. */
JsonObject *fwd_proc_wait (FwdProc    *p,
                           const char *event,
                           const char *key,
                           const char *value,
                           guint       nth,
                           guint       timeout_s);
/* From now on, events are read whenever the main loop runs (waiting for
 * another process's events, say), not only while waiting for this one's. */
void        fwd_proc_follow (FwdProc *p);
/* Writes one line to the process's stdin. */
void        fwd_proc_send (FwdProc    *p,
                           const char *format,
                           ...) G_GNUC_PRINTF (2, 3);
/* SIGINT, reads the rest, waits: the command must exit with status 0. */
void        fwd_proc_interrupt (FwdProc *p,
                                guint    timeout_s);
/* SIGKILL unless it was waited for, then reaps it. */
void        fwd_proc_free (FwdProc *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwdProc, fwd_proc_free)

/* A TCP echo target (echoes until EOF, then closes) on @address
 * ("HOST:PORT", port 0 picks one), on the default main context. *@accepted
 * (may be NULL) counts its connections; *@bound (may be NULL) is the address
 * it listens on. */
GSocketService *fwd_echo_start (const char *address,
                                guint      *accepted,
                                char      **bound,
                                GError    **error);
void            fwd_echo_stop  (GSocketService *service);

const char *fwd_event_str (JsonObject *event,
                           const char *member);
gint64      fwd_event_int (JsonObject *event,
                           const char *member);

G_END_DECLS
