/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-cli-forward.h"

#include <string.h>

#include "punch-error.h"
#include "punch-forward-catalog.h"

/* How long a local connection waits for a redial to the peer. */
#define REDIAL_WAIT_MS 30000

struct _PunchCliForward
{
  PunchCliOutput       *out;
  PunchHost            *host;
  PunchForwardService  *service;
  PunchForwardListener *listener;
};

static gboolean
split_expose (const char *text,
              char      **name,
              char      **target,
              GError    **error)
{
  const char *eq = strchr (text, '=');
  g_autoptr (GSocketConnectable) addr = NULL;

  if (eq == NULL || !punch_forward_name_is_valid (text, eq - text))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "--expose “%s” is not NAME=HOST:PORT (NAME: 1 to 64 of A-Z a-z 0-9 . _ -)", text);
      return FALSE;
    }
  addr = g_network_address_parse (eq + 1, 0, NULL);
  if (addr == NULL || g_network_address_get_port (G_NETWORK_ADDRESS (addr)) == 0)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "--expose “%s”: “%s” is not HOST:PORT", text, eq + 1);
      return FALSE;
    }
  if (name != NULL)
    *name = g_strndup (text, eq - text);
  if (target != NULL)
    *target = g_strdup (eq + 1);
  return TRUE;
}

/* An --allow value: "PEER_ID" (every exposed service) or "NAME:PEER_ID"
 * (that service only; peer IDs have no ':'). @name is NULL for the first. */
static PunchPeerId *
split_allow (const char *text,
             char      **name,
             GError    **error)
{
  const char *colon = strchr (text, ':');
  PunchPeerId *peer;

  if (colon != NULL && !punch_forward_name_is_valid (text, colon - text))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "--allow “%s” is not PEER_ID or NAME:PEER_ID", text);
      return NULL;
    }
  peer = punch_peer_id_parse (colon != NULL ? colon + 1 : text, error);
  if (peer == NULL)
    {
      g_prefix_error (error, "--allow “%s”: ", text);
      return NULL;
    }
  *name = colon != NULL ? g_strndup (text, colon - text) : NULL;
  return peer;
}

static gboolean
is_exposed (const char * const *expose,
            const char         *name)
{
  gsize len = strlen (name);

  for (guint i = 0; expose != NULL && expose[i] != NULL; i++)
    if (strncmp (expose[i], name, len) == 0 && expose[i][len] == '=')
      return TRUE;
  return FALSE;
}

gboolean
punch_cli_forward_check_args (const char * const *expose,
                              const char * const *allow,
                              GError            **error)
{
  for (guint i = 0; expose != NULL && expose[i] != NULL; i++)
    if (!split_expose (expose[i], NULL, NULL, error))
      return FALSE;
  for (guint i = 0; allow != NULL && allow[i] != NULL; i++)
    {
      g_autofree char *name = NULL;
      g_autoptr (PunchPeerId) peer = split_allow (allow[i], &name, error);

      if (peer == NULL)
        return FALSE;
      if (name != NULL && !is_exposed (expose, name))
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                       "--allow “%s”: no --expose %s=HOST:PORT", allow[i], name);
          return FALSE;
        }
    }
  if (allow != NULL && allow[0] != NULL && (expose == NULL || expose[0] == NULL))
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                           "--allow needs at least one --expose");
      return FALSE;
    }
  return TRUE;
}

static const char *
path_of (PunchConnection *connection)
{
  return punch_connection_get_relayed (connection) ? "relayed" : "direct";
}

/* The path a forwarded stream takes, fixed for its life: after a hole
 * punch, new streams go direct while older ones stay relayed. */
static void
on_stream_opened (PunchForwardService *service,
                  const char          *peer,
                  const char          *name,
                  gboolean             inbound,
                  PunchConnection     *connection,
                  gpointer             user_data)
{
  PunchCliForward *self = user_data;
  g_autoptr (JsonObject) event = punch_cli_output_event_new ("forward-open");
  g_autofree char *remote = punch_multiaddr_to_string (punch_connection_get_remote_addr (connection));
  g_autofree char *human = NULL;

  json_object_set_string_member (event, "peer_id", peer);
  json_object_set_string_member (event, "service", name);
  json_object_set_string_member (event, "direction", inbound ? "inbound" : "outbound");
  json_object_set_string_member (event, "path", path_of (connection));
  json_object_set_string_member (event, "remote", remote);
  json_object_set_int_member (event, "connection", punch_connection_get_id (connection));
  human = g_strdup_printf ("Forward %s %s %s open, %s via %s", name, inbound ? "from" : "to", peer,
                           path_of (connection), remote);
  punch_cli_output_emit (self->out, event, human);
}

static void
on_stream_finished (PunchForwardService *service,
                    const char          *peer,
                    const char          *name,
                    gboolean             inbound,
                    guint64              bytes_out,
                    guint64              bytes_in,
                    gdouble              seconds,
                    const char          *outcome,
                    const GError        *error,
                    gpointer             user_data)
{
  PunchCliForward *self = user_data;
  g_autoptr (JsonObject) event = punch_cli_output_event_new ("forward");
  g_autofree char *human = NULL;

  json_object_set_string_member (event, "peer_id", peer);
  if (name != NULL)
    json_object_set_string_member (event, "service", name);
  else
    json_object_set_null_member (event, "service");
  json_object_set_string_member (event, "direction", inbound ? "inbound" : "outbound");
  json_object_set_int_member (event, "bytes_out", (gint64) bytes_out);
  json_object_set_int_member (event, "bytes_in", (gint64) bytes_in);
  json_object_set_double_member (event, "seconds", seconds);
  json_object_set_string_member (event, "outcome", outcome);
  if (error != NULL)
    json_object_set_string_member (event, "error", error->message);
  else
    json_object_set_null_member (event, "error");

  human = g_strdup_printf ("Forward %s %s %s: %s, %" G_GUINT64_FORMAT " bytes out, %"
                           G_GUINT64_FORMAT " bytes in, %.3f s%s%s",
                           name != NULL ? name : "?", inbound ? "from" : "to", peer, outcome,
                           bytes_out, bytes_in, seconds,
                           error != NULL ? ": " : "", error != NULL ? error->message : "");
  punch_cli_output_emit (self->out, event, human);
}

PunchCliForward *
punch_cli_forward_new (PunchCliOutput *out,
                       PunchHost      *host)
{
  PunchCliForward *self = g_new0 (PunchCliForward, 1);

  self->out = out;
  self->host = g_object_ref (host);
  self->service = punch_forward_service_new (host);
  punch_forward_catalog_serve (self->service);
  g_signal_connect (self->service, "stream-opened", G_CALLBACK (on_stream_opened), self);
  g_signal_connect (self->service, "stream-finished", G_CALLBACK (on_stream_finished), self);
  return self;
}

gboolean
punch_cli_forward_expose (PunchCliForward    *self,
                          const char * const *expose,
                          const char * const *allow,
                          GError            **error)
{
  for (guint i = 0; expose != NULL && expose[i] != NULL; i++)
    {
      g_autofree char *name = NULL;
      g_autofree char *target = NULL;
      g_autoptr (JsonObject) event = punch_cli_output_event_new ("expose");
      g_autoptr (JsonArray) allowed = json_array_new ();
      g_autoptr (GString) human = NULL;

      if (!split_expose (expose[i], &name, &target, error)
          || !punch_forward_service_expose (self->service, name, target, error))
        return FALSE;
      human = g_string_new (NULL);
      g_string_printf (human, "Exposing %s → %s to", name, target);
      for (guint j = 0; allow != NULL && allow[j] != NULL; j++)
        {
          g_autofree char *only = NULL;
          g_autoptr (PunchPeerId) peer = split_allow (allow[j], &only, error);

          if (peer == NULL)
            return FALSE;
          if (only != NULL && !g_str_equal (only, name))
            continue;
          if (!punch_forward_service_allow (self->service, name, peer, error))
            return FALSE;
          json_array_add_string_element (allowed, punch_peer_id_to_string (peer));
          g_string_append_printf (human, " %s", punch_peer_id_to_string (peer));
        }
      if (json_array_get_length (allowed) == 0)
        g_string_append (human, " nobody (add --allow PEER_ID or --allow NAME:PEER_ID)");
      json_object_set_string_member (event, "service", name);
      json_object_set_string_member (event, "target", target);
      json_object_set_array_member (event, "allowed", g_steal_pointer (&allowed));
      json_object_set_string_member (event, "protocol", PUNCH_FORWARD_PROTOCOL);
      punch_cli_output_emit (self->out, event, human->str);
    }
  return TRUE;
}

static void
on_redial (PunchForwardListener *listener,
           guint                 attempt,
           guint                 retry_ms,
           const GError         *error,
           gpointer              user_data)
{
  PunchCliForward *self = user_data;
  g_autoptr (JsonObject) event = punch_cli_output_event_new ("redial");
  g_autofree char *human = NULL;
  const char *message = error != NULL ? error->message : "no connection";

  json_object_set_int_member (event, "attempt", attempt);
  json_object_set_int_member (event, "retry_ms", retry_ms);
  json_object_set_string_member (event, "error", message);
  human = g_strdup_printf ("Redial %u failed (%s); next in %.1f s", attempt, message, retry_ms / 1000.0);
  punch_cli_output_emit (self->out, event, human);
}

static void
on_reconnected (PunchForwardListener *listener,
                PunchConnection      *connection,
                gpointer              user_data)
{
  PunchCliForward *self = user_data;
  g_autoptr (JsonObject) event = punch_cli_output_event_new ("reconnected");
  g_autofree char *remote = punch_multiaddr_to_string (punch_connection_get_remote_addr (connection));
  g_autofree char *human = NULL;

  json_object_set_string_member (event, "peer_id", punch_peer_id_to_string (punch_connection_get_peer_id (connection)));
  json_object_set_string_member (event, "path", path_of (connection));
  json_object_set_string_member (event, "remote", remote);
  human = g_strdup_printf ("Reconnected to %s (%s via %s)",
                           punch_peer_id_to_string (punch_connection_get_peer_id (connection)),
                           path_of (connection), remote);
  punch_cli_output_emit (self->out, event, human);
}

gboolean
punch_cli_forward_open (PunchCliForward *self,
                        PunchPeerId     *peer_id,
                        const char      *name,
                        const char      *local,
                        PunchMultiaddr  *redial,
                        GError         **error)
{
  g_autofree char *bound = NULL;
  g_autoptr (JsonObject) event = NULL;
  g_autofree char *human = NULL;

  g_return_val_if_fail (self->listener == NULL, FALSE);
  self->listener = punch_forward_listener_new (self->service, peer_id, name);
  if (redial != NULL)
    {
      punch_forward_listener_set_redial (self->listener, redial, REDIAL_WAIT_MS);
      g_signal_connect (self->listener, "redial", G_CALLBACK (on_redial), self);
      g_signal_connect (self->listener, "reconnected", G_CALLBACK (on_reconnected), self);
    }
  bound = punch_forward_listener_listen (self->listener, local, error);
  if (bound == NULL)
    {
      g_prefix_error (error, "Cannot listen on %s: ", local);
      return FALSE;
    }
  event = punch_cli_output_event_new ("forwarding");
  json_object_set_string_member (event, "peer_id", punch_peer_id_to_string (peer_id));
  json_object_set_string_member (event, "service", name);
  json_object_set_string_member (event, "local", bound);
  human = g_strdup_printf ("Forwarding %s → %s of %s", bound, name, punch_peer_id_to_string (peer_id));
  punch_cli_output_emit (self->out, event, human);
  return TRUE;
}

void
punch_cli_forward_free (PunchCliForward *self)
{
  if (self == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->service, self);
  if (self->listener != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->listener, self);
      punch_forward_listener_close (self->listener);
    }
  g_clear_object (&self->listener);
  g_clear_object (&self->service);
  g_clear_object (&self->host);
  g_free (self);
}
