/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-multiaddr.h"

#include <arpa/inet.h>
#include <string.h>

#include "punch-error.h"
#include "punch-multibase.h"
#include "punch-peer-id.h"
#include "punch-varint.h"

/* Text forms are longer than binary ones ("/webtransport" is 13 characters
 * for 2 bytes); past this the binary form would be over its limit anyway. */
#define MULTIADDR_MAX_TEXT (8 * PUNCH_MULTIADDR_MAX_LEN)
/* DNS names (RFC 1035) and other host-name values. */
#define NAME_MAX_LEN 255
/* The longest component value we print in an error message. */
#define QUOTE_MAX 200

typedef enum
{
  VALUE_NONE,
  VALUE_IP4,
  VALUE_IP6,
  VALUE_PORT,
  VALUE_NAME,      /* dns*, sni, ip6zone: UTF-8 text without '/' */
  VALUE_PEER_ID,
  VALUE_CERTHASH,
} ValueKind;

typedef struct
{
  guint32     code;
  const char *name;
  ValueKind   kind;
} Protocol;

static const Protocol protocols[] = {
  { PUNCH_PROTO_IP4, "ip4", VALUE_IP4 },
  { PUNCH_PROTO_TCP, "tcp", VALUE_PORT },
  { PUNCH_PROTO_IP6, "ip6", VALUE_IP6 },
  { PUNCH_PROTO_IP6ZONE, "ip6zone", VALUE_NAME },
  { PUNCH_PROTO_DNS, "dns", VALUE_NAME },
  { PUNCH_PROTO_DNS4, "dns4", VALUE_NAME },
  { PUNCH_PROTO_DNS6, "dns6", VALUE_NAME },
  { PUNCH_PROTO_DNSADDR, "dnsaddr", VALUE_NAME },
  { PUNCH_PROTO_UDP, "udp", VALUE_PORT },
  { PUNCH_PROTO_WEBRTC_DIRECT, "webrtc-direct", VALUE_NONE },
  { PUNCH_PROTO_WEBRTC, "webrtc", VALUE_NONE },
  { PUNCH_PROTO_P2P_CIRCUIT, "p2p-circuit", VALUE_NONE },
  { PUNCH_PROTO_P2P, "p2p", VALUE_PEER_ID },
  { PUNCH_PROTO_HTTPS, "https", VALUE_NONE },
  { PUNCH_PROTO_TLS, "tls", VALUE_NONE },
  { PUNCH_PROTO_SNI, "sni", VALUE_NAME },
  { PUNCH_PROTO_NOISE, "noise", VALUE_NONE },
  { PUNCH_PROTO_QUIC, "quic", VALUE_NONE },
  { PUNCH_PROTO_QUIC_V1, "quic-v1", VALUE_NONE },
  { PUNCH_PROTO_WEBTRANSPORT, "webtransport", VALUE_NONE },
  { PUNCH_PROTO_CERTHASH, "certhash", VALUE_CERTHASH },
  { PUNCH_PROTO_WS, "ws", VALUE_NONE },
  { PUNCH_PROTO_WSS, "wss", VALUE_NONE },
  { PUNCH_PROTO_HTTP, "http", VALUE_NONE },
};

typedef struct
{
  const Protocol *protocol;
  gsize           offset;      /* of the component's code */
  gsize           value_offset;
  gsize           value_len;
} Component;

struct _PunchMultiaddr
{
  gatomicrefcount  ref_count;
  GBytes          *bytes;
  Component       *components;
  guint            n_components;
};

G_DEFINE_BOXED_TYPE (PunchMultiaddr, punch_multiaddr, punch_multiaddr_ref, punch_multiaddr_unref)

static const Protocol *
protocol_by_code (guint64 code)
{
  for (gsize i = 0; i < G_N_ELEMENTS (protocols); i++)
    if (protocols[i].code == code)
      return &protocols[i];
  return NULL;
}

static const Protocol *
protocol_by_name (const char *name)
{
  /* go-multiaddr's old name for p2p; printed as p2p. */
  if (strcmp (name, "ipfs") == 0)
    return protocol_by_code (PUNCH_PROTO_P2P);
  for (gsize i = 0; i < G_N_ELEMENTS (protocols); i++)
    if (strcmp (protocols[i].name, name) == 0)
      return &protocols[i];
  return NULL;
}

/* Fixed value sizes; -1 for length-prefixed values. */
static gssize
value_size (ValueKind kind)
{
  switch (kind)
    {
    case VALUE_NONE:
      return 0;
    case VALUE_IP4:
      return 4;
    case VALUE_IP6:
      return 16;
    case VALUE_PORT:
      return 2;
    case VALUE_NAME:
    case VALUE_PEER_ID:
    case VALUE_CERTHASH:
    default:
      return -1;
    }
}

/* Untrusted text in error messages: bounded, with control bytes escaped. */
static char *
quote (const char *text, gsize len)
{
  g_autofree char *head = g_strndup (text, MIN (len, QUOTE_MAX));
  g_autofree char *escaped = g_strescape (head, NULL);

  return g_strdup_printf ("%s%s", escaped, len > QUOTE_MAX ? "..." : "");
}

/* Binary validation ------------------------------------------------------ */

static gboolean
has_control (const guint8 *value, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if (value[i] < 0x20 || value[i] == 0x7f)
      return TRUE;
  return FALSE;
}

static gboolean
check_name (const Protocol *protocol, const guint8 *value, gsize len, GError **error)
{
  if (len == 0)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "empty %s value", protocol->name);
      return FALSE;
    }
  if (len > NAME_MAX_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "%s value of %" G_GSIZE_FORMAT " bytes is longer than %d",
                   protocol->name, len, NAME_MAX_LEN);
      return FALSE;
    }
  /* '/' would break the text form; control bytes and invalid UTF-8 would
   * break everything that prints it (logs, the UI, JSON events). */
  if (!g_utf8_validate ((const char *) value, (gssize) len, NULL) ||
      memchr (value, '/', len) != NULL || has_control (value, len))
    {
      g_autofree char *quoted = quote ((const char *) value, len);

      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "invalid %s value '%s'", protocol->name, quoted);
      return FALSE;
    }
  return TRUE;
}

/* A certhash is a multihash of any hash function: check its framing only. */
static gboolean
check_certhash (const guint8 *value, gsize len, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  guint64 fn, digest_len;
  gsize n1 = 0, n2 = 0;

  if (!punch_varint_decode (value, len, &fn, &n1, &local_error) ||
      !punch_varint_decode (value + n1, len - n1, &digest_len, &n2, &local_error))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "invalid certhash multihash: %s", local_error->message);
      return FALSE;
    }
  if (digest_len != len - n1 - n2)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "invalid certhash multihash: digest of %" G_GUINT64_FORMAT
                   " bytes in %" G_GSIZE_FORMAT,
                   digest_len, len - n1 - n2);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_value (const Protocol *protocol, const guint8 *value, gsize len, GError **error)
{
  switch (protocol->kind)
    {
    case VALUE_NAME:
      return check_name (protocol, value, len, error);
    case VALUE_PEER_ID:
      {
        g_autoptr (PunchPeerId) id = punch_peer_id_new_from_bytes (value, len, error);

        return id != NULL;
      }
    case VALUE_CERTHASH:
      return check_certhash (value, len, error);
    case VALUE_NONE:
    case VALUE_IP4:
    case VALUE_IP6:
    case VALUE_PORT:
    default:
      return TRUE;
    }
}

/* Takes @bytes: the one place that decides what a valid multiaddr is. Only
 * composition (an empty slice) may build one without components. */
static PunchMultiaddr *
multiaddr_new_take (GBytes *bytes, gboolean allow_empty, GError **error)
{
  g_autoptr (GBytes) owned = bytes;
  g_autoptr (GArray) components = g_array_new (FALSE, FALSE, sizeof (Component));
  g_autoptr (GError) local_error = NULL;
  PunchMultiaddr *self;
  const guint8 *data;
  gsize len, pos = 0;

  data = g_bytes_get_data (owned, &len);
  if (len == 0 && !allow_empty)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "empty multiaddr");
      return NULL;
    }
  if (len > PUNCH_MULTIADDR_MAX_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "multiaddr of %" G_GSIZE_FORMAT " bytes is longer than %d",
                   len, PUNCH_MULTIADDR_MAX_LEN);
      return NULL;
    }

  while (pos < len)
    {
      Component c = { NULL, pos, 0, 0 };
      guint64 code, vlen;
      gssize size;
      gsize n;

      if (!punch_varint_decode (data + pos, len - pos, &code, &n, &local_error))
        {
          g_set_error (error, PUNCH_ERROR, local_error->code,
                       "invalid multiaddr protocol code at byte %" G_GSIZE_FORMAT ": %s",
                       pos, local_error->message);
          return NULL;
        }
      c.protocol = protocol_by_code (code);
      if (c.protocol == NULL)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                       "unknown multiaddr protocol code %" G_GUINT64_FORMAT
                       " at byte %" G_GSIZE_FORMAT, code, pos);
          return NULL;
        }
      pos += n;

      size = value_size (c.protocol->kind);
      if (size >= 0)
        vlen = (guint64) size;
      else if (!punch_varint_decode (data + pos, len - pos, &vlen, &n, &local_error))
        {
          g_set_error (error, PUNCH_ERROR, local_error->code,
                       "invalid %s value length: %s",
                       c.protocol->name, local_error->message);
          return NULL;
        }
      else
        pos += n;

      if (vlen > len - pos)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TRUNCATED,
                       "multiaddr truncated in %s value: %" G_GUINT64_FORMAT
                       " bytes expected, %" G_GSIZE_FORMAT " present",
                       c.protocol->name, vlen, len - pos);
          return NULL;
        }
      c.value_offset = pos;
      c.value_len = (gsize) vlen;
      if (!check_value (c.protocol, data + pos, c.value_len, &local_error))
        {
          /* The value's length is known, so a value too short for what it
           * encodes is malformed: more bytes would not help. */
          g_set_error (error, PUNCH_ERROR,
                       local_error->code == PUNCH_ERROR_TRUNCATED
                       ? PUNCH_ERROR_MALFORMED : local_error->code,
                       "invalid multiaddr component /%s: %s",
                       c.protocol->name, local_error->message);
          return NULL;
        }
      pos += c.value_len;
      g_array_append_val (components, c);
    }

  self = g_new0 (PunchMultiaddr, 1);
  g_atomic_ref_count_init (&self->ref_count);
  self->bytes = g_steal_pointer (&owned);
  self->n_components = components->len;
  self->components = (Component *) (void *) g_array_free (g_steal_pointer (&components), FALSE);
  return self;
}

/**
 * punch_multiaddr_new_from_bytes:
 * @data: (array length=len): a binary multiaddr
 * @len: its length, at most %PUNCH_MULTIADDR_MAX_LEN
 * @error: return location for a #GError
 *
 * Parses and checks every component: unknown protocol codes, truncated or
 * trailing values, invalid peer IDs and host names are errors.
 *
 * Returns: (transfer full) (nullable): the multiaddr, or %NULL on error
 */
PunchMultiaddr *
punch_multiaddr_new_from_bytes (const guint8 *data, gsize len, GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);

  /* Refuse before copying an attacker-sized buffer. */
  if (len > PUNCH_MULTIADDR_MAX_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "multiaddr of %" G_GSIZE_FORMAT " bytes is longer than %d",
                   len, PUNCH_MULTIADDR_MAX_LEN);
      return NULL;
    }
  return multiaddr_new_take (g_bytes_new (data, len), FALSE, error);
}

/* Text parsing ----------------------------------------------------------- */

/* Quotes @text into *@slot on first use: only error paths pay for it. */
static const char *
lazy_quote (char **slot, const char *text)
{
  if (*slot == NULL)
    *slot = quote (text, strnlen (text, MULTIADDR_MAX_TEXT + 1));
  return *slot;
}

static gboolean
parse_ip4 (const char *s, guint8 out[4])
{
  for (int i = 0; i < 4; i++)
    {
      guint v = 0;
      int digits = 0;

      if (i > 0 && *s++ != '.')
        return FALSE;
      /* No leading zeros: "010" is octal to some parsers, decimal to others. */
      if (s[0] == '0' && g_ascii_isdigit (s[1]))
        return FALSE;
      while (g_ascii_isdigit (*s) && digits < 3)
        {
          v = v * 10 + (guint) (*s++ - '0');
          digits++;
        }
      if (digits == 0 || v > 255)
        return FALSE;
      out[i] = (guint8) v;
    }
  return *s == '\0';
}

static gboolean
parse_port (const char *s, guint16 *out, gboolean *out_of_range)
{
  guint v = 0;

  *out_of_range = FALSE;
  if (*s == '\0')
    return FALSE;
  for (; *s; s++)
    {
      if (!g_ascii_isdigit (*s))
        return FALSE;
      v = v * 10 + (guint) (*s - '0');
      if (v > 65535)
        {
          *out_of_range = TRUE;
          while (g_ascii_isdigit (s[1]))
            s++;
          if (s[1] != '\0')
            *out_of_range = FALSE;
          return FALSE;
        }
    }
  *out = (guint16) v;
  return TRUE;
}

/* Appends the binary value of one component given as text. */
static gboolean
append_value (GByteArray     *out,
              const Protocol *protocol,
              const char     *value,
              const char     *whole,
              GError        **error)
{
  g_autofree char *qvalue = NULL;
  g_autofree char *qwhole = NULL;
  g_autoptr (GError) local_error = NULL;

  switch (protocol->kind)
    {
    case VALUE_IP4:
      {
        guint8 addr[4];

        if (!parse_ip4 (value, addr))
          {
            g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                         "invalid ip4 address '%s' in %s",
                         lazy_quote (&qvalue, value), lazy_quote (&qwhole, whole));
            return FALSE;
          }
        g_byte_array_append (out, addr, 4);
        return TRUE;
      }

    case VALUE_IP6:
      {
        struct in6_addr addr;

        if (strchr (value, ':') == NULL || inet_pton (AF_INET6, value, &addr) != 1)
          {
            g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                         "invalid ip6 address '%s' in %s",
                         lazy_quote (&qvalue, value), lazy_quote (&qwhole, whole));
            return FALSE;
          }
        g_byte_array_append (out, (const guint8 *) &addr, 16);
        return TRUE;
      }

    case VALUE_PORT:
      {
        guint16 port;
        gboolean out_of_range;
        guint8 be[2];

        if (!parse_port (value, &port, &out_of_range))
          {
            if (out_of_range)
              g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                           "%s port '%s' out of range in %s",
                           protocol->name,
                           lazy_quote (&qvalue, value), lazy_quote (&qwhole, whole));
            else
              g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                           "invalid %s port '%s' in %s",
                           protocol->name,
                           lazy_quote (&qvalue, value), lazy_quote (&qwhole, whole));
            return FALSE;
          }
        be[0] = (guint8) (port >> 8);
        be[1] = (guint8) port;
        g_byte_array_append (out, be, 2);
        return TRUE;
      }

    case VALUE_NAME:
      {
        gsize len = strlen (value);

        if (!check_name (protocol, (const guint8 *) value, len, &local_error))
          break;
        punch_varint_append (out, len);
        g_byte_array_append (out, (const guint8 *) value, (guint) len);
        return TRUE;
      }

    case VALUE_PEER_ID:
      {
        g_autoptr (PunchPeerId) id = punch_peer_id_parse (value, &local_error);
        const guint8 *data;
        gsize len;

        if (id == NULL)
          break;
        data = punch_peer_id_get_bytes (id, &len);
        punch_varint_append (out, len);
        g_byte_array_append (out, data, (guint) len);
        return TRUE;
      }

    case VALUE_CERTHASH:
      {
        g_autoptr (GBytes) hash = punch_multibase_decode (value, &local_error);
        const guint8 *data;
        gsize len;

        if (hash == NULL)
          break;
        data = g_bytes_get_data (hash, &len);
        if (!check_certhash (data, len, &local_error))
          break;
        punch_varint_append (out, len);
        g_byte_array_append (out, data, (guint) len);
        return TRUE;
      }

    case VALUE_NONE:
    default:
      g_assert_not_reached ();
    }

  g_set_error (error, PUNCH_ERROR, local_error->code,
               "invalid %s value '%s' in %s: %s",
               protocol->name, lazy_quote (&qvalue, value), lazy_quote (&qwhole, whole),
               local_error->message);
  return FALSE;
}

/**
 * punch_multiaddr_new_from_string:
 * @text: a multiaddr such as "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…"
 * @error: return location for a #GError
 *
 * Accepts `ipfs` as another name for `p2p`, peer IDs in base58 or CID form,
 * certhash values in any multibase we decode, and trailing '/'s.
 *
 * Returns: (transfer full) (nullable): the multiaddr, or %NULL on error
 */
PunchMultiaddr *
punch_multiaddr_new_from_string (const char *text, GError **error)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autofree char *copy = NULL;
  g_autofree char *qwhole = NULL;
  char *cursor;
  gsize len;

  g_return_val_if_fail (text != NULL, NULL);

  len = strnlen (text, MULTIADDR_MAX_TEXT + 1);
  if (len > MULTIADDR_MAX_TEXT)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "multiaddr text longer than %d characters: %s",
                   MULTIADDR_MAX_TEXT, lazy_quote (&qwhole, text));
      return NULL;
    }
  if (text[0] != '/')
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   len == 0 ? "empty multiaddr" : "multiaddr '%s' does not start with '/'",
                   lazy_quote (&qwhole, text));
      return NULL;
    }

  /* Trailing slashes are dropped, as go-multiaddr does. */
  copy = g_strndup (text, len);
  while (len > 1 && copy[len - 1] == '/')
    copy[--len] = '\0';

  cursor = copy + 1;
  if (*cursor == '\0')
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED, "empty multiaddr");
      return NULL;
    }

  while (cursor != NULL)
    {
      char *name = cursor;
      char *value = NULL;
      const Protocol *protocol;

      cursor = strchr (cursor, '/');
      if (cursor)
        *cursor++ = '\0';

      protocol = protocol_by_name (name);
      if (protocol == NULL)
        {
          g_autofree char *qname = quote (name, strlen (name));

          if (*name == '\0')
            g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                         "empty protocol name in %s", lazy_quote (&qwhole, text));
          else
            g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                         "unknown multiaddr protocol '%s' in %s",
                         qname, lazy_quote (&qwhole, text));
          return NULL;
        }

      punch_varint_append (out, protocol->code);
      if (protocol->kind != VALUE_NONE)
        {
          if (cursor == NULL)
            {
              g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                           "multiaddr protocol '%s' needs a value in %s",
                           protocol->name, lazy_quote (&qwhole, text));
              return NULL;
            }
          value = cursor;
          cursor = strchr (cursor, '/');
          if (cursor)
            *cursor++ = '\0';
          if (!append_value (out, protocol, value, text, error))
            return NULL;
        }

      if (out->len > PUNCH_MULTIADDR_MAX_LEN)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                       "multiaddr longer than %d bytes: %s",
                       PUNCH_MULTIADDR_MAX_LEN, lazy_quote (&qwhole, text));
          return NULL;
        }
    }

  return multiaddr_new_take (g_byte_array_free_to_bytes (g_steal_pointer (&out)), FALSE, error);
}

/* Printing --------------------------------------------------------------- */

/* RFC 5952, as go-multiaddr prints: lower-case hex, the longest run (of at
 * least two) of zero groups as "::", IPv4-mapped addresses as ::ffff:a.b.c.d. */
static void
append_ip6 (GString *s, const guint8 *a)
{
  static const guint8 mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  guint16 groups[8];
  int best_start = -1, best_len = 0;

  if (memcmp (a, mapped_prefix, 12) == 0)
    {
      g_string_append_printf (s, "::ffff:%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
      return;
    }

  for (int i = 0; i < 8; i++)
    groups[i] = (guint16) (a[2 * i] << 8 | a[2 * i + 1]);

  for (int i = 0; i < 8;)
    {
      int j = i;

      while (j < 8 && groups[j] == 0)
        j++;
      if (j - i > best_len && j - i >= 2)
        {
          best_start = i;
          best_len = j - i;
        }
      i = j > i ? j : i + 1;
    }

  for (int i = 0; i < 8; i++)
    {
      if (i == best_start)
        {
          g_string_append (s, "::");
          i += best_len - 1;
          continue;
        }
      if (i > 0 && i != best_start + best_len)
        g_string_append_c (s, ':');
      g_string_append_printf (s, "%x", groups[i]);
    }
}

static void
append_component (GString *s, const Protocol *protocol, const guint8 *v, gsize len)
{
  g_string_append_c (s, '/');
  g_string_append (s, protocol->name);
  if (protocol->kind == VALUE_NONE)
    return;

  g_string_append_c (s, '/');
  switch (protocol->kind)
    {
    case VALUE_IP4:
      g_string_append_printf (s, "%u.%u.%u.%u", v[0], v[1], v[2], v[3]);
      break;
    case VALUE_IP6:
      append_ip6 (s, v);
      break;
    case VALUE_PORT:
      g_string_append_printf (s, "%u", (guint) (v[0] << 8 | v[1]));
      break;
    case VALUE_NAME:
      g_string_append_len (s, (const char *) v, (gssize) len);
      break;
    case VALUE_PEER_ID:
      {
        g_autofree char *text = punch_base58_encode (v, len);

        g_string_append (s, text);
        break;
      }
    case VALUE_CERTHASH:
      {
        g_autofree char *text = punch_multibase_encode ('u', v, len);

        g_string_append (s, text);
        break;
      }
    case VALUE_NONE:
    default:
      g_assert_not_reached ();
    }
}

/**
 * punch_multiaddr_to_string:
 * @self: a multiaddr
 *
 * Peer IDs print as base58btc, certhashes as base64url ('u'), IPv6 addresses
 * in RFC 5952 form.
 *
 * Returns: (transfer full): the text form
 */
char *
punch_multiaddr_to_string (const PunchMultiaddr *self)
{
  GString *s;
  const guint8 *data;

  g_return_val_if_fail (self != NULL, NULL);

  data = g_bytes_get_data (self->bytes, NULL);
  s = g_string_new (NULL);
  for (guint i = 0; i < self->n_components; i++)
    {
      const Component *c = &self->components[i];

      append_component (s, c->protocol, data + c->value_offset, c->value_len);
    }
  return g_string_free (s, FALSE);
}

/* Accessors -------------------------------------------------------------- */

/**
 * punch_multiaddr_ref:
 * @self: a multiaddr
 *
 * Returns: (transfer full): @self
 */
PunchMultiaddr *
punch_multiaddr_ref (PunchMultiaddr *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

/**
 * punch_multiaddr_unref:
 * @self: (transfer full): a multiaddr
 */
void
punch_multiaddr_unref (PunchMultiaddr *self)
{
  g_return_if_fail (self != NULL);

  if (g_atomic_ref_count_dec (&self->ref_count))
    {
      g_bytes_unref (self->bytes);
      g_free (self->components);
      g_free (self);
    }
}

/**
 * punch_multiaddr_get_bytes:
 * @self: a multiaddr
 * @len: (out) (optional): the length of the returned bytes
 *
 * Returns: (transfer none) (array length=len): the binary form
 */
const guint8 *
punch_multiaddr_get_bytes (const PunchMultiaddr *self, gsize *len)
{
  g_return_val_if_fail (self != NULL, NULL);

  return g_bytes_get_data (self->bytes, len);
}

/**
 * punch_multiaddr_get_n_components:
 * @self: a multiaddr
 *
 * Returns: the number of components (at least one, except for an empty
 *   slice)
 */
guint
punch_multiaddr_get_n_components (const PunchMultiaddr *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->n_components;
}

/**
 * punch_multiaddr_get_component:
 * @self: a multiaddr
 * @index: which component
 * @out: (out caller-allocates): the component; its value points into @self
 *
 * Returns: %FALSE if @index is out of range
 */
gboolean
punch_multiaddr_get_component (const PunchMultiaddr    *self,
                               guint                    index,
                               PunchMultiaddrComponent *out)
{
  const Component *c;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (index >= self->n_components)
    return FALSE;
  c = &self->components[index];
  out->code = c->protocol->code;
  out->name = c->protocol->name;
  out->value = c->protocol->kind == VALUE_NONE
    ? NULL
    : (const guint8 *) g_bytes_get_data (self->bytes, NULL) + c->value_offset;
  out->value_len = c->value_len;
  return TRUE;
}

/**
 * punch_multiaddr_find_first:
 * @self: a multiaddr
 * @code: a protocol code
 *
 * Returns: the index of the first component with @code, or -1
 */
int
punch_multiaddr_find_first (const PunchMultiaddr *self, guint32 code)
{
  g_return_val_if_fail (self != NULL, -1);

  for (guint i = 0; i < self->n_components; i++)
    if (self->components[i].protocol->code == code)
      return (int) i;
  return -1;
}

/**
 * punch_multiaddr_find_last:
 * @self: a multiaddr
 * @code: a protocol code
 *
 * Returns: the index of the last component with @code, or -1
 */
int
punch_multiaddr_find_last (const PunchMultiaddr *self, guint32 code)
{
  g_return_val_if_fail (self != NULL, -1);

  for (guint i = self->n_components; i-- > 0;)
    if (self->components[i].protocol->code == code)
      return (int) i;
  return -1;
}

/**
 * punch_multiaddr_has_protocol:
 * @self: a multiaddr
 * @code: a protocol code
 *
 * Returns: whether any component has @code
 */
gboolean
punch_multiaddr_has_protocol (const PunchMultiaddr *self, guint32 code)
{
  return punch_multiaddr_find_first (self, code) >= 0;
}

/* Composition ------------------------------------------------------------ */

/* Components are already valid; only the length limit can fail. */
static PunchMultiaddr *
multiaddr_new_trusted (GBytes *bytes)
{
  g_autoptr (GError) error = NULL;
  PunchMultiaddr *self = multiaddr_new_take (bytes, TRUE, &error);

  if (self == NULL)
    g_debug ("cannot compose multiaddr: %s", error->message);
  return self;
}

/**
 * punch_multiaddr_slice:
 * @self: a multiaddr
 * @start: index of the first component to keep
 * @end: index after the last one, or -1 for the end
 *
 * Indices past the end are clamped, so that
 * `slice (a, 0, punch_multiaddr_find_last (a, PUNCH_PROTO_P2P))` drops a
 * trailing /p2p and keeps everything when there is none.
 *
 * Returns: (transfer full): a multiaddr of components [@start, @end); it has
 *   no components (and prints as "") when that range is empty
 */
PunchMultiaddr *
punch_multiaddr_slice (const PunchMultiaddr *self, int start, int end)
{
  gsize from, to, len;
  guint first, last;
  const guint8 *data;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (start >= 0, NULL);
  g_return_val_if_fail (end >= -1, NULL);

  first = MIN ((guint) start, self->n_components);
  last = end == -1 ? self->n_components : MIN ((guint) end, self->n_components);
  if (first >= last)
    return multiaddr_new_trusted (g_bytes_new (NULL, 0));

  data = g_bytes_get_data (self->bytes, &len);
  from = self->components[first].offset;
  to = last == self->n_components ? len : self->components[last].offset;
  return multiaddr_new_trusted (g_bytes_new (data + from, to - from));
}

/**
 * punch_multiaddr_concat:
 * @a: a multiaddr
 * @b: another
 *
 * Returns: (transfer full) (nullable): @a followed by @b, or %NULL if that
 *   would be longer than %PUNCH_MULTIADDR_MAX_LEN
 */
PunchMultiaddr *
punch_multiaddr_concat (const PunchMultiaddr *a, const PunchMultiaddr *b)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  const guint8 *data;
  gsize len;

  g_return_val_if_fail (a != NULL, NULL);
  g_return_val_if_fail (b != NULL, NULL);

  data = g_bytes_get_data (a->bytes, &len);
  g_byte_array_append (out, data, (guint) len);
  data = g_bytes_get_data (b->bytes, &len);
  g_byte_array_append (out, data, (guint) len);
  return multiaddr_new_trusted (g_byte_array_free_to_bytes (g_steal_pointer (&out)));
}

/**
 * punch_multiaddr_with_peer_id:
 * @self: a multiaddr
 * @peer_id: (array length=peer_id_len): a binary peer ID
 * @peer_id_len: its length
 *
 * Returns: (transfer full) (nullable): @self with "/p2p/<peer id>" appended,
 *   or %NULL if @peer_id is invalid or the result too long
 */
PunchMultiaddr *
punch_multiaddr_with_peer_id (const PunchMultiaddr *self,
                              const guint8         *peer_id,
                              gsize                 peer_id_len)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (PunchPeerId) id = NULL;
  g_autoptr (GError) error = NULL;
  const guint8 *data;
  gsize len;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);

  id = punch_peer_id_new_from_bytes (peer_id, peer_id_len, &error);
  if (id == NULL)
    {
      g_critical ("%s: %s", G_STRFUNC, error->message);
      return NULL;
    }

  data = g_bytes_get_data (self->bytes, &len);
  g_byte_array_append (out, data, (guint) len);
  punch_varint_append (out, PUNCH_PROTO_P2P);
  punch_varint_append (out, peer_id_len);
  g_byte_array_append (out, peer_id, (guint) peer_id_len);
  return multiaddr_new_trusted (g_byte_array_free_to_bytes (g_steal_pointer (&out)));
}

/**
 * punch_multiaddr_get_peer_id_bytes:
 * @self: a multiaddr
 *
 * For a relayed address (…/p2p/<relay>/p2p-circuit/p2p/<target>) this is the
 * target.
 *
 * Returns: (transfer full) (nullable): the value of the last /p2p component
 *   (a binary peer ID), or %NULL if there is none
 */
GBytes *
punch_multiaddr_get_peer_id_bytes (const PunchMultiaddr *self)
{
  int i;
  const Component *c;

  g_return_val_if_fail (self != NULL, NULL);

  i = punch_multiaddr_find_last (self, PUNCH_PROTO_P2P);
  if (i < 0)
    return NULL;
  c = &self->components[i];
  return g_bytes_new_from_bytes (self->bytes, c->value_offset, c->value_len);
}

/* Sockets ---------------------------------------------------------------- */

/**
 * punch_multiaddr_new_from_socket_address:
 * @address: a #GInetSocketAddress
 *
 * IPv4-mapped IPv6 addresses (from dual-stack sockets) become /ip4, as
 * go-multiaddr does; an IPv6 scope ID is dropped.
 *
 * Returns: (transfer full): "/ip4|ip6/<address>/tcp/<port>"
 */
PunchMultiaddr *
punch_multiaddr_new_from_socket_address (GSocketAddress *address)
{
  static const guint8 mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  g_autoptr (GByteArray) out = g_byte_array_new ();
  GInetSocketAddress *inet;
  GInetAddress *ip;
  const guint8 *raw;
  guint16 port;
  guint8 be[2];

  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (address), NULL);

  inet = G_INET_SOCKET_ADDRESS (address);
  ip = g_inet_socket_address_get_address (inet);
  port = g_inet_socket_address_get_port (inet);
  raw = g_inet_address_to_bytes (ip);

  if (g_inet_address_get_family (ip) == G_SOCKET_FAMILY_IPV4)
    {
      punch_varint_append (out, PUNCH_PROTO_IP4);
      g_byte_array_append (out, raw, 4);
    }
  else if (memcmp (raw, mapped_prefix, 12) == 0)
    {
      punch_varint_append (out, PUNCH_PROTO_IP4);
      g_byte_array_append (out, raw + 12, 4);
    }
  else
    {
      punch_varint_append (out, PUNCH_PROTO_IP6);
      g_byte_array_append (out, raw, 16);
    }

  punch_varint_append (out, PUNCH_PROTO_TCP);
  be[0] = (guint8) (port >> 8);
  be[1] = (guint8) port;
  g_byte_array_append (out, be, 2);
  return multiaddr_new_trusted (g_byte_array_free_to_bytes (g_steal_pointer (&out)));
}

/**
 * punch_multiaddr_to_socket_address:
 * @self: a multiaddr
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the socket address of
 *   "/ip4|ip6/X/tcp/P[/p2p/…]", or %NULL with %G_IO_ERROR_NOT_SUPPORTED for
 *   any other shape (DNS names need resolving first)
 */
GSocketAddress *
punch_multiaddr_to_socket_address (const PunchMultiaddr *self, GError **error)
{
  g_autoptr (GInetAddress) ip = NULL;
  const guint8 *data;
  const Component *c;
  guint n;

  g_return_val_if_fail (self != NULL, NULL);

  n = self->n_components;
  if (n == 3 && self->components[2].protocol->code == PUNCH_PROTO_P2P)
    n = 2;
  if (n != 2 ||
      (self->components[0].protocol->code != PUNCH_PROTO_IP4 &&
       self->components[0].protocol->code != PUNCH_PROTO_IP6) ||
      self->components[1].protocol->code != PUNCH_PROTO_TCP)
    {
      g_autofree char *text = punch_multiaddr_to_string (self);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "multiaddr %s is not an /ip4 or /ip6 TCP address", text);
      return NULL;
    }

  data = g_bytes_get_data (self->bytes, NULL);
  c = &self->components[0];
  ip = g_inet_address_new_from_bytes (data + c->value_offset,
                                      c->protocol->code == PUNCH_PROTO_IP4
                                      ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);
  c = &self->components[1];
  return g_inet_socket_address_new (ip, (guint16) (data[c->value_offset] << 8 |
                                                   data[c->value_offset + 1]));
}

/**
 * punch_multiaddr_equal:
 * @a: (type PunchMultiaddr): a multiaddr
 * @b: (type PunchMultiaddr): another
 *
 * Returns: whether the binary forms are equal; usable as #GEqualFunc
 */
gboolean
punch_multiaddr_equal (gconstpointer a, gconstpointer b)
{
  const PunchMultiaddr *ma = a, *mb = b;

  g_return_val_if_fail (ma != NULL && mb != NULL, FALSE);

  return ma == mb || g_bytes_equal (ma->bytes, mb->bytes);
}

/**
 * punch_multiaddr_hash:
 * @self: (type PunchMultiaddr): a multiaddr
 *
 * Returns: a hash of the binary form; usable as #GHashFunc
 */
guint
punch_multiaddr_hash (gconstpointer self)
{
  const PunchMultiaddr *ma = self;

  g_return_val_if_fail (ma != NULL, 0);

  return g_bytes_hash (ma->bytes);
}
