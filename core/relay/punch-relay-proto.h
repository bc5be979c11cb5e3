/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "circuit.pb-c.h"

G_BEGIN_DECLS

#define PUNCH_RELAY_HOP_PROTOCOL  "/libp2p/circuit/relay/0.2.0/hop"
#define PUNCH_RELAY_STOP_PROTOCOL "/libp2p/circuit/relay/0.2.0/stop"
/* go and rust cap relay messages at 4 KiB. */
#define PUNCH_RELAY_MAX_MESSAGE   4096
/* Payload type of a reservation voucher in its signed envelope (multicodec 0x0302). */
#define PUNCH_RELAY_VOUCHER_PAYLOAD_TYPE ((const guint8 *) "\x03\x02")

const char                *punch_relay_status_to_string (Circuit__Pb__Status status);
const char                *punch_relay_status_describe (Circuit__Pb__Status status);
/* A PUNCH_ERROR_RELAY error for a non-OK status, with the status's meaning. */
void                       punch_relay_set_status_error (GError            **error,
                                                         Circuit__Pb__Status status,
                                                         const char         *what);

void                       punch_relay_read_hop_async  (GIOStream          *stream,
                                                        GCancellable       *cancellable,
                                                        GAsyncReadyCallback callback,
                                                        gpointer            user_data);
Circuit__Pb__HopMessage   *punch_relay_read_hop_finish (GIOStream    *stream,
                                                        GAsyncResult *result,
                                                        GError      **error);
void                       punch_relay_read_stop_async  (GIOStream          *stream,
                                                         GCancellable       *cancellable,
                                                         GAsyncReadyCallback callback,
                                                         gpointer            user_data);
Circuit__Pb__StopMessage  *punch_relay_read_stop_finish (GIOStream    *stream,
                                                         GAsyncResult *result,
                                                         GError      **error);

/* Writes any protobuf-c message, varint-length-prefixed. */
void                       punch_relay_write_async  (GIOStream                *stream,
                                                     const ProtobufCMessage   *message,
                                                     GCancellable             *cancellable,
                                                     GAsyncReadyCallback       callback,
                                                     gpointer                  user_data);
gboolean                   punch_relay_write_finish (GIOStream    *stream,
                                                     GAsyncResult *result,
                                                     GError      **error);

static inline void
punch_relay_hop_message_free (Circuit__Pb__HopMessage *msg)
{
  circuit__pb__hop_message__free_unpacked (msg, NULL);
}

static inline void
punch_relay_stop_message_free (Circuit__Pb__StopMessage *msg)
{
  circuit__pb__stop_message__free_unpacked (msg, NULL);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Circuit__Pb__HopMessage, punch_relay_hop_message_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Circuit__Pb__StopMessage, punch_relay_stop_message_free)

G_END_DECLS
