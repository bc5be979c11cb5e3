/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "punch-node.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_SERVICES_PAGE (punch_services_page_get_type ())
G_DECLARE_FINAL_TYPE (PunchServicesPage, punch_services_page, PUNCH, SERVICES_PAGE, AdwPreferencesPage)

/* The Services page of Preferences: our exposed services (the settings'
 * "services" key), add and remove them, and per service a switch for each
 * known peer (the Peers page's) and each peer already allowed. */
GtkWidget *punch_services_page_new (PunchNode *node,
                                    GSettings *settings);

G_END_DECLS
