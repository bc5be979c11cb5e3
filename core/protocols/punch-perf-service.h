/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "punch-host.h"

G_BEGIN_DECLS

#define PUNCH_PERF_PROTOCOL "/perf/1.0.0"

#define PUNCH_TYPE_PERF_SERVICE (punch_perf_service_get_type ())
G_DECLARE_FINAL_TYPE (PunchPerfService, punch_perf_service, PUNCH, PERF_SERVICE, GObject)

typedef struct
{
  guint64 uploaded;
  guint64 downloaded;
  gdouble upload_seconds;
  gdouble download_seconds;
  gdouble total_seconds;
} PunchPerfResult;

/* The server side of /perf/1.0.0 (libp2p/specs perf/perf.md) is registered
 * only when @serve is TRUE: the spec says it should not be on by default.
 *
 * Signals:
 * - "served" (PunchConnection *connection, guint64 received, guint64 sent,
 *   gdouble receive_seconds, gdouble send_seconds): a peer's run completed
 */
PunchPerfService *punch_perf_service_new (PunchHost *host, gboolean serve);

void              punch_perf_service_run_async  (PunchPerfService   *self,
                                                 PunchConnection    *connection,
                                                 guint64             upload_bytes,
                                                 guint64             download_bytes,
                                                 GCancellable       *cancellable,
                                                 GAsyncReadyCallback callback,
                                                 gpointer            user_data);
gboolean          punch_perf_service_run_finish (PunchPerfService *self,
                                                 GAsyncResult     *result,
                                                 PunchPerfResult  *out,
                                                 GError          **error);

G_END_DECLS
