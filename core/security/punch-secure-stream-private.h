/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* What the Noise and TLS streams share about closing.
 *
 * GIO's default close would close the two halves first, which fails while
 * one has an operation pending (a muxer keeps a read outstanding). Idle
 * halves are marked closed, so later calls fail with G_IO_ERROR_CLOSED at
 * once; a pending one learns of the close from the base. */
static inline void
punch_secure_stream_close_idle_halves (GInputStream  *input,
                                       GOutputStream *output)
{
  if (input != NULL && !g_input_stream_has_pending (input))
    g_input_stream_close (input, NULL, NULL);
  if (output != NULL && !g_output_stream_has_pending (output))
    g_output_stream_close (output, NULL, NULL);
}

G_END_DECLS
