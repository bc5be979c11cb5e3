/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the interop tests share: child peers (punchline-cli, or a js-libp2p
 * script run by the pinned Node) that print JSON-lines events
 * (docs/cli-events.md), read with deadlines; children killed by PID in the
 * teardown, and by the kernel if the test program dies.
 *
 * PUNCH_CLI is the CLI to test, PUNCH_INTEROP_DIR the folder holding the js
 * scripts and node_modules (from `npm ci`).
 */
#pragma once

#include <sys/types.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* `dial` listens too (to be punched to), by default on every interface:
 * the tests keep every peer on loopback, so nothing learns or dials an
 * address of this machine outside it. js peers ignore it when dialling. */
#define LOOPBACK_LISTEN "--listen", "/ip4/127.0.0.1/tcp/0"

typedef struct
{
  char             *name;
  GSubprocess      *proc;
  GDataInputStream *out;
  char             *stderr_path;
  GPtrArray        *events;      /* (element-type JsonNode) */
  gboolean          eof;
  gboolean          exited;
  pid_t             pid;
} Child;

typedef struct
{
  char      *tmpdir;
  char      *cli;
  char      *node;
  char      *dir;                /* PUNCH_INTEROP_DIR */
  GPtrArray *children;           /* (element-type Child) */
  gboolean   ready;
} Harness;

/* Kills every child on a fatal signal; SIGPIPE ignored. Call from main(). */
void        harness_install_signal_handlers (void);

/* Fails the test (and leaves @h not ready) when the CLI or one of the js
 * files @required (NULL-terminated, relative to PUNCH_INTEROP_DIR, e.g.
 * "peer.mjs") is missing. */
void        harness_setup    (Harness    *h,
                              const char *tmp_template,
                              ...) G_GNUC_NULL_TERMINATED;
void        harness_teardown (Harness    *h);
/* Every child's events and the end of its stderr, as test messages. */
void        harness_dump     (Harness    *h);

/* Spawns `CLI` (@script NULL) or `node SCRIPT` with `--identity
 * TMPDIR/IDENTITY --json`, then @extra (may be NULL), then the
 * NULL-terminated arguments. */
Child      *harness_spawn    (Harness            *h,
                              const char         *script,
                              const char         *name,
                              const char         *identity,
                              const char * const *extra,
                              GError            **error,
                              ...) G_GNUC_NULL_TERMINATED;
Child      *harness_spawnv   (Harness            *h,
                              const char         *script,
                              const char         *name,
                              const char         *identity,
                              const char * const *extra,
                              va_list             args,
                              GError            **error);

/* The next event, or NULL with @error set (timeout, bad JSON) or without
 * (end of output). (transfer none) */
JsonObject *child_next_event  (Child      *c,
                               gint64      deadline,
                               GError    **error);
/* Reads until an @event whose string @member is @value (when @member is
 * given). Events already read do not count. (transfer none) */
JsonObject *child_wait_event  (Child      *c,
                               const char *event,
                               const char *member,
                               const char *value,
                               int         timeout_s,
                               GError    **error);
/* The first matching event already read, else the next one to come. */
JsonObject *child_find_or_wait_event (Child      *c,
                                      const char *event,
                                      const char *member,
                                      const char *value,
                                      int         timeout_s,
                                      GError    **error);
/* The @nth event already read that matches. (transfer none) */
JsonObject *child_find_event  (Child      *c,
                               const char *event,
                               const char *member,
                               const char *value,
                               guint       nth);
guint       child_count_events (Child      *c,
                                const char *event);
/* The exit status, 128 + signal, or -1 on timeout. */
int         child_wait_exit   (Child      *c,
                               int         timeout_s);
/* Reads to the end of the output, then waits for the exit (-1: @error set). */
int         child_run         (Child      *c,
                               int         timeout_s,
                               GError    **error);
/* Sends @sig, reads what it prints on the way out; the exit status or -1. */
int         child_stop        (Child      *c,
                               int         sig);

const char *json_get_str      (JsonObject *o,
                               const char *member);
/* A number (integer or not), or @fallback when missing. */
double      json_get_num      (JsonObject *o,
                               const char *member,
                               double      fallback);
/* An integer (a fraction truncated), or -1 when missing. */
gint64      json_get_int      (JsonObject *o,
                               const char *member);
gboolean    json_get_bool     (JsonObject *o,
                               const char *member);
/* @o is an @event whose string @member (when given) is @value. */
gboolean    json_event_is     (JsonObject *o,
                               const char *event,
                               const char *member,
                               const char *value);
gboolean    json_array_has    (JsonObject *o,
                               const char *member,
                               const char *value);
guint       json_array_len    (JsonObject *o,
                               const char *member);
/* The first string of @member (e.g. "addrs") starting with @prefix and
 * holding a /p2p/ part. */
char       *json_addr_with_prefix (JsonObject *o,
                                   const char *member,
                                   const char *prefix);

/* Marks the test failed with every child's context; the caller returns. */
#define CHECK(h, cond, ...) \
  G_STMT_START { \
    if (!(cond)) \
      { \
        g_autofree char *check_msg_ = g_strdup_printf (__VA_ARGS__); \
        harness_dump (h); \
        g_test_fail_printf ("%s:%d: %s (failed: %s)", __FILE__, __LINE__, check_msg_, #cond); \
        return; \
      } \
  } G_STMT_END

#define CHECK_NO_ERROR(h, error) CHECK (h, (error) == NULL, "%s", (error) != NULL ? (error)->message : "")

/* A finished command: exit 0 and a {"event":"result","ok":true}. */
#define CHECK_COMMAND_OK(h, c, status, error) \
  G_STMT_START { \
    JsonObject *result_ = child_find_event ((c), "result", NULL, NULL, 0); \
    CHECK ((h), (error) == NULL, "%s: %s", (c)->name, (error) != NULL ? (error)->message : ""); \
    CHECK ((h), result_ != NULL, "%s printed no result event", (c)->name); \
    CHECK ((h), json_get_bool (result_, "ok"), "%s failed: %s", (c)->name, \
           json_get_str (result_, "error") != NULL ? json_get_str (result_, "error") : "(no error text)"); \
    CHECK ((h), (status) == 0, "%s exited with status %d", (c)->name, (status)); \
  } G_STMT_END

G_END_DECLS
