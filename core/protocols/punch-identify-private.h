/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "punch-multiaddr.h"
#include "punch-public-key.h"

G_BEGIN_DECLS

/* Longest protocol ID we keep (multistream refuses longer ones anyway). */
#define PUNCH_IDENTIFY_MAX_PROTOCOL_ID_LEN 1024
/* What we keep of one peer's merged messages (80 KiB could carry tens of
 * thousands of tiny addresses): more than any real peer lists. */
#define PUNCH_IDENTIFY_MAX_ADDRS           128
#define PUNCH_IDENTIFY_MAX_PROTOCOLS       256

/*
 * PunchIdentifyData:
 *
 * What one or more Identify messages said, validated and merged as protobuf
 * merges them (last scalar wins, repeated fields concatenate). Absent fields
 * stay NULL, so that a push can tell "unchanged" from "empty".
 */
typedef struct
{
  char           *protocol_version;
  char           *agent_version;
  PunchPublicKey *public_key;
  PunchMultiaddr *observed_addr;
  GPtrArray      *listen_addrs;  /* PunchMultiaddr; NULL when absent */
  GPtrArray      *protocols;     /* char *, NULL-terminated; NULL when absent */
} PunchIdentifyData;

/* Merges one encoded Identify message (without its length prefix) into
 * @data. Malformed addresses and protocol IDs are skipped, as go does; a
 * malformed message or public key fails. */
gboolean punch_identify_data_merge (PunchIdentifyData *data,
                                    const guint8      *message,
                                    gsize              len,
                                    GError           **error);
void     punch_identify_data_clear (PunchIdentifyData *data);

G_END_DECLS
