/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "punch-host.h"

G_BEGIN_DECLS

#define PUNCH_TYPE_WINDOW (punch_window_get_type ())
G_DECLARE_FINAL_TYPE (PunchWindow, punch_window, PUNCH, WINDOW, AdwApplicationWindow)

PunchWindow *punch_window_new (AdwApplication *app, PunchHost *host);

G_END_DECLS
