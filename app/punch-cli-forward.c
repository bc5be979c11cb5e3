/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-cli-forward.h"

#include <string.h>

#include "punch-error.h"

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
      g_autoptr (PunchPeerId) peer = punch_peer_id_parse (allow[i], error);

      if (peer == NULL)
        {
          g_prefix_error (error, "--allow “%s”: ", allow[i]);
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
          g_autoptr (PunchPeerId) peer = punch_peer_id_parse (allow[j], error);

          if (peer == NULL
              || !punch_forward_service_allow (self->service, name, peer, error))
            return FALSE;
          json_array_add_string_element (allowed, punch_peer_id_to_string (peer));
          g_string_append_printf (human, " %s", punch_peer_id_to_string (peer));
        }
      if (allow == NULL || allow[0] == NULL)
        g_string_append (human, " nobody (add --allow PEER_ID)");
      json_object_set_string_member (event, "service", name);
      json_object_set_string_member (event, "target", target);
      json_object_set_array_member (event, "allowed", g_steal_pointer (&allowed));
      json_object_set_string_member (event, "protocol", PUNCH_FORWARD_PROTOCOL);
      punch_cli_output_emit (self->out, event, human->str);
    }
  return TRUE;
}

gboolean
punch_cli_forward_open (PunchCliForward *self,
                        PunchPeerId     *peer_id,
                        const char      *name,
                        const char      *local,
                        GError         **error)
{
  g_autofree char *bound = NULL;
  g_autoptr (JsonObject) event = NULL;
  g_autofree char *human = NULL;

  g_return_val_if_fail (self->listener == NULL, FALSE);
  self->listener = punch_forward_listener_new (self->service, peer_id, name);
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
    punch_forward_listener_close (self->listener);
  g_clear_object (&self->listener);
  g_clear_object (&self->service);
  g_clear_object (&self->host);
  g_free (self);
}
