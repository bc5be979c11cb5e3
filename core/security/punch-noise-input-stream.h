/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The decrypting half of a PunchNoiseStream; private to core/security. */

#include <gio/gio.h>

#include "punch-noise-state.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_NOISE_INPUT_STREAM (punch_noise_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (PunchNoiseInputStream, punch_noise_input_stream, PUNCH, NOISE_INPUT_STREAM, GInputStream)

/* Takes ownership of @cipher. */
PunchNoiseInputStream *punch_noise_input_stream_new (GInputStream     *base,
                                                     PunchNoiseCipher *cipher);

G_END_DECLS
