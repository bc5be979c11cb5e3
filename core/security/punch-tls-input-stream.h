/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The decrypting half of a PunchTlsStream; private to core/security. */

#include <gio/gio.h>

#include "punch-tls-engine.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_TLS_INPUT_STREAM (punch_tls_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (PunchTlsInputStream, punch_tls_input_stream, PUNCH, TLS_INPUT_STREAM, GInputStream)

PunchTlsInputStream *punch_tls_input_stream_new (PunchTlsEngine *engine);

G_END_DECLS
