/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The encrypting half of a PunchTlsStream; private to core/security. */

#include <gio/gio.h>

#include "punch-tls-engine.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_TLS_OUTPUT_STREAM (punch_tls_output_stream_get_type ())
G_DECLARE_FINAL_TYPE (PunchTlsOutputStream, punch_tls_output_stream, PUNCH, TLS_OUTPUT_STREAM, GOutputStream)

PunchTlsOutputStream *punch_tls_output_stream_new (PunchTlsEngine *engine);

G_END_DECLS
