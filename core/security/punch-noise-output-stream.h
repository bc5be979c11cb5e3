/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The encrypting half of a PunchNoiseStream; private to core/security. */

#include <gio/gio.h>

#include "punch-noise-state.h"
#include "punch-noise-stream.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_NOISE_OUTPUT_STREAM (punch_noise_output_stream_get_type ())
G_DECLARE_FINAL_TYPE (PunchNoiseOutputStream, punch_noise_output_stream, PUNCH, NOISE_OUTPUT_STREAM, GOutputStream)

/* Most plaintext one write accepts: four full frames, sent with one write
 * to the base stream. */
#define PUNCH_NOISE_MAX_WRITE (16 * PUNCH_NOISE_MAX_PLAINTEXT)

/* Takes ownership of @cipher. */
PunchNoiseOutputStream *punch_noise_output_stream_new (GOutputStream    *base,
                                                       PunchNoiseCipher *cipher);

G_END_DECLS
