/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-service-settings.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "punch-error.h"

#define KEY "services"

/* Rewrites the key, letting @edit change one entry (or drop it by returning
 * FALSE); @name not found: @add_target, when set, adds it. */
typedef gboolean (*EditFunc) (const char *name, const char **target, GPtrArray *allowed, gpointer data);

static void
rewrite (GSettings  *settings,
         const char *name,
         const char *add_target,
         EditFunc    edit,
         gpointer    data)
{
  g_autoptr (GVariant) value = g_settings_get_value (settings, KEY);
  g_autoptr (GVariantBuilder) builder = g_variant_builder_new (G_VARIANT_TYPE ("a(ssas)"));
  GVariantIter iter;
  const char *entry_name, *target;
  g_autofree const char **allowed = NULL;
  gboolean found = FALSE;

  g_variant_iter_init (&iter, value);
  while (g_variant_iter_next (&iter, "(&s&s^a&s)", &entry_name, &target, &allowed))
    {
      g_autoptr (GPtrArray) list = g_ptr_array_new ();

      for (guint i = 0; allowed[i] != NULL; i++)
        g_ptr_array_add (list, (gpointer) allowed[i]);
      g_clear_pointer (&allowed, g_free);
      if (g_strcmp0 (entry_name, name) == 0)
        {
          found = TRUE;
          if (!edit (entry_name, &target, list, data))
            continue;
        }
      g_ptr_array_add (list, NULL);
      g_variant_builder_add (builder, "(ss^as)", entry_name, target, (const char * const *) list->pdata);
    }
  if (!found && add_target != NULL)
    {
      const char *none[] = { NULL };

      g_variant_builder_add (builder, "(ss^as)", name, add_target, none);
    }
  g_settings_set_value (settings, KEY, g_variant_builder_end (builder));
}

static gboolean
edit_target (const char  *name,
             const char **target,
             GPtrArray   *allowed,
             gpointer     data)
{
  *target = data;
  return TRUE;
}

gboolean
punch_service_settings_add (GSettings  *settings,
                            const char *name,
                            const char *target,
                            GError    **error)
{
  g_autoptr (GSocketConnectable) addr = NULL;

  g_return_val_if_fail (G_IS_SETTINGS (settings), FALSE);
  if (name == NULL || !punch_forward_name_is_valid (name, strlen (name)))
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                           _("A service name is 1 to 64 letters, digits, dots, dashes or underscores"));
      return FALSE;
    }
  addr = g_network_address_parse (target != NULL ? target : "", 0, NULL);
  if (addr == NULL || g_network_address_get_port (G_NETWORK_ADDRESS (addr)) == 0)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   _("“%s” is not a host and port, e.g. 127.0.0.1:22"), target != NULL ? target : "");
      return FALSE;
    }
  rewrite (settings, name, target, edit_target, (gpointer) target);
  return TRUE;
}

static gboolean
edit_drop (const char  *name,
           const char **target,
           GPtrArray   *allowed,
           gpointer     data)
{
  return FALSE;
}

void
punch_service_settings_remove (GSettings  *settings,
                               const char *name)
{
  g_return_if_fail (G_IS_SETTINGS (settings));
  rewrite (settings, name, NULL, edit_drop, NULL);
}

typedef struct
{
  const char *peer_id;
  gboolean    allowed;
} Allow;

static gboolean
edit_allow (const char  *name,
            const char **target,
            GPtrArray   *allowed,
            gpointer     data)
{
  Allow *a = data;
  guint index;
  gboolean present = g_ptr_array_find_with_equal_func (allowed, a->peer_id, g_str_equal, &index);

  if (a->allowed && !present)
    g_ptr_array_add (allowed, (gpointer) a->peer_id);
  else if (!a->allowed && present)
    g_ptr_array_remove_index (allowed, index);
  return TRUE;
}

void
punch_service_settings_set_allowed (GSettings  *settings,
                                    const char *name,
                                    const char *peer_id,
                                    gboolean    allowed)
{
  Allow a = { peer_id, allowed };

  g_return_if_fail (G_IS_SETTINGS (settings));
  rewrite (settings, name, NULL, edit_allow, &a);
}

GStrv
punch_service_settings_get_allowed (GSettings  *settings,
                                    const char *name)
{
  g_autoptr (GVariant) value = g_settings_get_value (settings, KEY);
  GVariantIter iter;
  const char *entry_name, *target;
  g_autofree const char **allowed = NULL;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);
  g_variant_iter_init (&iter, value);
  while (g_variant_iter_next (&iter, "(&s&s^a&s)", &entry_name, &target, &allowed))
    {
      if (g_strcmp0 (entry_name, name) == 0)
        return g_strdupv ((char **) allowed);
      g_clear_pointer (&allowed, g_free);
    }
  return NULL;
}

void
punch_service_settings_apply (GSettings         *settings,
                              PunchNodeServices *services)
{
  g_autoptr (GVariant) value = g_settings_get_value (settings, KEY);
  g_autoptr (GPtrArray) kept = g_ptr_array_new ();
  g_auto (GStrv) exposed = punch_node_services_list_exposed (services);
  GVariantIter iter;
  const char *name, *target;
  g_autofree const char **allowed = NULL;

  g_variant_iter_init (&iter, value);
  while (g_variant_iter_next (&iter, "(&s&s^a&s)", &name, &target, &allowed))
    {
      g_autoptr (GError) error = NULL;

      if (punch_node_services_set_exposed (services, name, target, allowed, &error))
        g_ptr_array_add (kept, (gpointer) name);
      else
        g_message ("Not exposing the saved service %s: %s", name, error->message);
      g_clear_pointer (&allowed, g_free);
    }
  for (guint i = 0; exposed[i] != NULL; i++)
    if (!g_ptr_array_find_with_equal_func (kept, exposed[i], g_str_equal, NULL))
      punch_node_services_remove_exposed (services, exposed[i]);
}
