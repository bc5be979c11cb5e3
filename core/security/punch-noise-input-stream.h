/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The decrypting half of a PunchNoiseStream; private to core/security. */

#include <gio/gio.h>

#include "punch-noise-state.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_NOISE_INPUT_STREAM (punch_noise_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (PunchNoiseInputStream, punch_noise_input_stream, PUNCH, NOISE_INPUT_STREAM, GInputStream)

/* Takes ownership of @cipher. @socket: (nullable): the socket under @base
 * when @base is a plain socket stream: raw reads then wait on the socket
 * directly (see punch-noise-input-stream.c). */
PunchNoiseInputStream *punch_noise_input_stream_new (GInputStream     *base,
                                                     GSocket          *socket,
                                                     PunchNoiseCipher *cipher);

G_END_DECLS
