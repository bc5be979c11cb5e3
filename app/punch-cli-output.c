/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-cli-output.h"

#include <math.h>
#include <stdio.h>

struct _PunchCliOutput
{
  gboolean json;
};

PunchCliOutput *
punch_cli_output_new (gboolean json)
{
  PunchCliOutput *self = g_new0 (PunchCliOutput, 1);

  self->json = json;
  return self;
}

void
punch_cli_output_free (PunchCliOutput *self)
{
  g_free (self);
}

gboolean
punch_cli_output_is_json (PunchCliOutput *self)
{
  return self->json;
}

const char *
punch_cli_key_type_to_string (PunchKeyType key_type)
{
  /* The names of the libp2p KeyType enum (keys.proto). */
  switch (key_type)
    {
    case PUNCH_KEY_TYPE_RSA:
      return "RSA";
    case PUNCH_KEY_TYPE_ED25519:
      return "Ed25519";
    case PUNCH_KEY_TYPE_SECP256K1:
      return "secp256k1";
    case PUNCH_KEY_TYPE_ECDSA:
      return "ECDSA";
    default:
      return "unknown";
    }
}

/* UTC, ISO 8601 with milliseconds: 2026-11-26T13:50:00.123Z */
static char *
format_now (void)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *seconds = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");

  return g_strdup_printf ("%s.%03dZ", seconds, g_date_time_get_microsecond (now) / 1000);
}

static JsonObject *
event_new (const char *event)
{
  JsonObject *object = json_object_new ();
  g_autofree char *time = format_now ();

  json_object_set_string_member (object, "time", time);
  json_object_set_string_member (object, "event", event);
  return object;
}

static void append_json (GString *out, JsonNode *node);

/* json-glib writes doubles with 17 significant digits (0.242 comes out as
 * 0.24199999999999999); 15 digits round-trip through text unchanged and
 * read as what was measured. Everything else is json-glib's. */
static void
append_json_object (GString    *out,
                    JsonObject *object)
{
  /* In insertion order ("time" and "event" first), unlike the iterator. */
  g_autoptr (GList) members = json_object_get_members (object);

  g_string_append_c (out, '{');
  for (GList *l = members; l != NULL; l = l->next)
    {
      g_autoptr (JsonNode) name = json_node_init_string (json_node_alloc (), l->data);

      if (l != members)
        g_string_append_c (out, ',');
      append_json (out, name);
      g_string_append_c (out, ':');
      append_json (out, json_object_get_member (object, l->data));
    }
  g_string_append_c (out, '}');
}

static void
append_json (GString  *out,
             JsonNode *node)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    append_json_object (out, json_node_get_object (node));
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      g_string_append_c (out, '[');
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          if (i > 0)
            g_string_append_c (out, ',');
          append_json (out, json_array_get_element (array, i));
        }
      g_string_append_c (out, ']');
    }
  else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_DOUBLE)
    {
      char buffer[G_ASCII_DTOSTR_BUF_SIZE];
      gdouble value = json_node_get_double (node);

      if (!isfinite (value))
        g_string_append (out, "null");
      else
        g_string_append (out, g_ascii_formatd (buffer, sizeof buffer, "%.15g", value));
    }
  else
    {
      g_autofree char *text = json_to_string (node, FALSE);

      g_string_append (out, text);
    }
}

static void
event_print (PunchCliOutput *self,
             JsonObject     *object)
{
  g_autoptr (GString) text = NULL;

  if (!self->json)
    return;
  text = g_string_new (NULL);
  append_json_object (text, object);
  g_string_append_c (text, '\n');
  fputs (text->str, stdout);
  fflush (stdout);
}

static void
human_print (PunchCliOutput *self,
             const char     *format,
             ...) G_GNUC_PRINTF (2, 3);

static void
human_print (PunchCliOutput *self,
             const char     *format,
             ...)
{
  g_autofree char *text = NULL;
  va_list args;

  if (self->json)
    return;
  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  fputs (text, stdout);
  fflush (stdout);
}

JsonObject *
punch_cli_output_event_new (const char *event)
{
  return event_new (event);
}

void
punch_cli_output_emit (PunchCliOutput *self,
                       JsonObject     *event,
                       const char     *human)
{
  event_print (self, event);
  if (human != NULL)
    human_print (self, "%s\n", human);
}

static char *
multiaddr_string_or_null (PunchMultiaddr *addr)
{
  return addr != NULL ? punch_multiaddr_to_string (addr) : NULL;
}

/* Sets @member to @value, or to null when @value is NULL. */
static void
set_string_or_null (JsonObject *object,
                    const char *member,
                    const char *value)
{
  if (value != NULL)
    json_object_set_string_member (object, member, value);
  else
    json_object_set_null_member (object, member);
}

void
punch_cli_output_id (PunchCliOutput *self,
                     PunchPeerId    *peer_id,
                     PunchKeyType    key_type)
{
  g_autoptr (JsonObject) event = event_new ("id");

  json_object_set_string_member (event, "peer_id", punch_peer_id_to_string (peer_id));
  json_object_set_string_member (event, "key_type", punch_cli_key_type_to_string (key_type));
  event_print (self, event);
  human_print (self, "Peer ID: %s (%s key)\n", punch_peer_id_to_string (peer_id),
               punch_cli_key_type_to_string (key_type));
}

void
punch_cli_output_listening (PunchCliOutput *self,
                            PunchPeerId    *peer_id,
                            GPtrArray      *addrs)
{
  g_autoptr (JsonObject) event = event_new ("listening");
  JsonArray *array = json_array_new ();
  gsize id_len;
  const guint8 *id_bytes = punch_peer_id_get_bytes (peer_id, &id_len);

  json_object_set_string_member (event, "peer_id", punch_peer_id_to_string (peer_id));
  human_print (self, "Listening as %s on:\n", punch_peer_id_to_string (peer_id));
  for (guint i = 0; addrs != NULL && i < addrs->len; i++)
    {
      g_autoptr (PunchMultiaddr) full = punch_multiaddr_with_peer_id (g_ptr_array_index (addrs, i),
                                                                      id_bytes, id_len);
      g_autofree char *text = punch_multiaddr_to_string (full);

      json_array_add_string_element (array, text);
      human_print (self, "  %s\n", text);
    }
  json_object_set_array_member (event, "addrs", array);
  event_print (self, event);
}

void
punch_cli_output_connection (PunchCliOutput  *self,
                             PunchConnection *connection,
                             gboolean         open,
                             const GError    *error)
{
  g_autoptr (JsonObject) event = event_new ("connection");
  g_autofree char *remote = multiaddr_string_or_null (punch_connection_get_remote_addr (connection));
  PunchPeerId *peer_id = punch_connection_get_peer_id (connection);
  const char *peer = peer_id != NULL ? punch_peer_id_to_string (peer_id) : NULL;
  PunchDirection direction = punch_connection_get_direction (connection);

  json_object_set_string_member (event, "state", open ? "open" : "closed");
  json_object_set_string_member (event, "direction", punch_direction_to_string (direction));
  set_string_or_null (event, "remote", remote);
  set_string_or_null (event, "peer_id", peer);
  set_string_or_null (event, "security", punch_connection_get_security (connection));
  set_string_or_null (event, "cipher", punch_connection_get_cipher (connection));
  set_string_or_null (event, "muxer", punch_connection_get_muxer (connection));
  json_object_set_boolean_member (event, "relayed", punch_connection_get_relayed (connection));
  json_object_set_boolean_member (event, "limited", punch_connection_get_limited (connection));
  if (error != NULL)
    json_object_set_string_member (event, "error", error->message);
  event_print (self, event);

  if (open)
    human_print (self, "Connection open: %s %s %s (%s), %s, %s%s\n",
                 punch_direction_to_string (direction),
                 direction == PUNCH_DIRECTION_INBOUND ? "from" : "to",
                 remote != NULL ? remote : "?", peer != NULL ? peer : "?",
                 punch_connection_get_security (connection),
                 punch_connection_get_muxer (connection),
                 punch_connection_get_relayed (connection) ? ", relayed" : "");
  else
    human_print (self, "Connection closed: %s (%s)%s%s\n",
                 remote != NULL ? remote : "?", peer != NULL ? peer : "?",
                 error != NULL ? ": " : "", error != NULL ? error->message : "");
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

void
punch_cli_output_identify (PunchCliOutput  *self,
                           PunchConnection *connection,
                           PunchPeerInfo   *info)
{
  g_autoptr (JsonObject) event = event_new ("identify");
  const char * const *protocols = punch_peer_info_get_protocols (info);
  GPtrArray *addrs = punch_peer_info_get_addrs (info);
  g_autoptr (GPtrArray) sorted = g_ptr_array_new ();
  g_autofree char *observed = multiaddr_string_or_null (punch_connection_get_observed_addr (connection));
  const char *peer = punch_peer_id_to_string (punch_peer_info_get_peer_id (info));
  const char *agent = punch_peer_info_get_agent_version (info);
  const char *version = punch_peer_info_get_protocol_version (info);
  JsonArray *protocol_array = json_array_new ();
  JsonArray *addr_array = json_array_new ();

  for (guint i = 0; protocols != NULL && protocols[i] != NULL; i++)
    g_ptr_array_add (sorted, (gpointer) protocols[i]);
  g_ptr_array_sort (sorted, compare_strings);

  json_object_set_string_member (event, "peer_id", peer);
  set_string_or_null (event, "agent_version", agent);
  set_string_or_null (event, "protocol_version", version);

  human_print (self, "Identified %s\n  agent: %s\n  protocol version: %s\n  protocols:\n",
               peer, agent != NULL ? agent : "(none)", version != NULL ? version : "(none)");
  for (guint i = 0; i < sorted->len; i++)
    {
      json_array_add_string_element (protocol_array, g_ptr_array_index (sorted, i));
      human_print (self, "    %s\n", (const char *) g_ptr_array_index (sorted, i));
    }
  if (sorted->len == 0)
    human_print (self, "    (none)\n");
  json_object_set_array_member (event, "protocols", protocol_array);

  human_print (self, "  listen addresses:\n");
  for (guint i = 0; addrs != NULL && i < addrs->len; i++)
    {
      g_autofree char *text = punch_multiaddr_to_string (g_ptr_array_index (addrs, i));

      json_array_add_string_element (addr_array, text);
      human_print (self, "    %s\n", text);
    }
  if (addrs == NULL || addrs->len == 0)
    human_print (self, "    (none)\n");
  json_object_set_array_member (event, "listen_addrs", addr_array);

  set_string_or_null (event, "observed_addr", observed);
  human_print (self, "  sees us as: %s\n", observed != NULL ? observed : "(unknown)");
  event_print (self, event);
}

void
punch_cli_output_ping (PunchCliOutput *self,
                       PunchPeerId    *peer_id,
                       guint           seq,
                       gint64          rtt_us)
{
  g_autoptr (JsonObject) event = event_new ("ping");
  gdouble rtt_ms = rtt_us / 1000.0;

  json_object_set_string_member (event, "peer_id", punch_peer_id_to_string (peer_id));
  json_object_set_int_member (event, "seq", seq);
  json_object_set_double_member (event, "rtt_ms", rtt_ms);
  event_print (self, event);
  human_print (self, "Pong from %s: seq=%u time=%.3f ms\n",
               punch_peer_id_to_string (peer_id), seq, rtt_ms);
}

void
punch_cli_output_ping_summary (PunchCliOutput *self,
                               guint           sent,
                               guint           received,
                               gint64          rtt_min_us,
                               gint64          rtt_avg_us,
                               gint64          rtt_max_us)
{
  human_print (self, "%u pings sent, %u received", sent, received);
  if (received > 0)
    human_print (self, ", rtt min/avg/max = %.3f/%.3f/%.3f ms",
                 rtt_min_us / 1000.0, rtt_avg_us / 1000.0, rtt_max_us / 1000.0);
  human_print (self, "\n");
}

static gdouble
rate (guint64 bytes,
      gdouble seconds)
{
  return seconds > 0 ? bytes / seconds : 0;
}

void
punch_cli_output_perf (PunchCliOutput        *self,
                       PunchPeerId           *peer_id,
                       const char            *role,
                       const PunchPerfResult *result)
{
  g_autoptr (JsonObject) event = event_new ("perf");
  gdouble up_rate = rate (result->uploaded, result->upload_seconds);
  gdouble down_rate = rate (result->downloaded, result->download_seconds);

  json_object_set_string_member (event, "peer_id", punch_peer_id_to_string (peer_id));
  json_object_set_string_member (event, "role", role);
  json_object_set_int_member (event, "uploaded", (gint64) result->uploaded);
  json_object_set_int_member (event, "downloaded", (gint64) result->downloaded);
  json_object_set_double_member (event, "upload_seconds", result->upload_seconds);
  json_object_set_double_member (event, "download_seconds", result->download_seconds);
  json_object_set_double_member (event, "seconds", result->total_seconds);
  json_object_set_double_member (event, "upload_bytes_per_second", up_rate);
  json_object_set_double_member (event, "download_bytes_per_second", down_rate);
  event_print (self, event);
  human_print (self,
               "Perf %s %s:\n"
               "  upload:   %" G_GUINT64_FORMAT " bytes in %.3f s (%.1f MB/s)\n"
               "  download: %" G_GUINT64_FORMAT " bytes in %.3f s (%.1f MB/s)\n"
               "  total:    %.3f s\n",
               g_strcmp0 (role, "server") == 0 ? "served to" : "with",
               punch_peer_id_to_string (peer_id),
               result->uploaded, result->upload_seconds, up_rate / 1e6,
               result->downloaded, result->download_seconds, down_rate / 1e6,
               result->total_seconds);
}

static void
append_rtt (GString    *text,
            JsonObject *path,
            const char *member,
            const char *label)
{
  JsonNode *node = json_object_get_member (path, member);

  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    g_string_append_printf (text, "%s%s %.1f ms", text->len > 0 ? ", " : "", label, json_node_get_double (node));
}

void
punch_cli_output_path (PunchCliOutput *self,
                       JsonObject     *path)
{
  const char *kind = json_object_get_string_member_with_default (path, "path", "failed");
  const char *remote = json_object_get_string_member_with_default (path, "remote", NULL);
  const char *reason = json_object_get_string_member_with_default (path, "reason", NULL);
  JsonNode *ms = json_object_get_member (path, "ms_to_direct");
  gint64 attempts = json_object_get_int_member_with_default (path, "attempts", 0);
  g_autoptr (GString) rtts = g_string_new (NULL);

  if (self->json)
    return;
  append_rtt (rtts, path, "rtt_relayed_ms", "RTT relayed");
  append_rtt (rtts, path, "rtt_direct_ms", "RTT direct");
  if (g_str_equal (kind, "direct") && ms != NULL && !JSON_NODE_HOLDS_NULL (ms))
    human_print (self, "Path: direct to %s, %.0f ms after the relayed connection (%" G_GINT64_FORMAT
                 " hole-punch attempt%s)\n", remote != NULL ? remote : "?", json_node_get_double (ms), attempts,
                 attempts == 1 ? "" : "s");
  else if (g_str_equal (kind, "direct"))
    human_print (self, "Path: direct to %s\n", remote != NULL ? remote : "?");
  else if (g_str_equal (kind, "relayed"))
    human_print (self, "Path: relayed via %s (%" G_GINT64_FORMAT " hole-punch attempt%s): %s\n",
                 remote != NULL ? remote : "?", attempts, attempts == 1 ? "" : "s",
                 reason != NULL ? reason : "no reason given");
  else
    human_print (self, "Path: none%s%s\n", reason != NULL ? ": " : "", reason != NULL ? reason : "");
  if (rtts->len > 0)
    human_print (self, "  %s\n", rtts->str);
}

void
punch_cli_output_error (PunchCliOutput *self,
                        const char     *context,
                        const GError   *error)
{
  g_autoptr (JsonObject) event = event_new ("error");
  g_autofree char *message = context != NULL
    ? g_strdup_printf ("%s: %s", context, error->message)
    : g_strdup (error->message);

  json_object_set_string_member (event, "message", message);
  json_object_set_string_member (event, "domain", g_quark_to_string (error->domain));
  json_object_set_int_member (event, "code", error->code);
  event_print (self, event);
  /* Human text for errors goes with the logs. */
  if (!self->json)
    g_printerr ("Error: %s\n", message);
}

void
punch_cli_output_result (PunchCliOutput *self,
                         const GError   *error,
                         JsonObject     *extra)
{
  g_autoptr (JsonObject) event = event_new ("result");

  json_object_set_boolean_member (event, "ok", error == NULL);
  if (error != NULL)
    json_object_set_string_member (event, "error", error->message);
  if (extra != NULL)
    {
      g_autoptr (GList) members = json_object_get_members (extra);

      for (GList *l = members; l != NULL; l = l->next)
        json_object_set_member (event, l->data, json_node_copy (json_object_get_member (extra, l->data)));
    }
  event_print (self, event);
  if (error != NULL && !self->json)
    g_printerr ("Failed: %s\n", error->message);
}
