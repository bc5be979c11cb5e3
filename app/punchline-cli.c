/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>

int
main (int argc, char **argv)
{
  g_printerr ("usage: punchline-cli COMMAND [OPTIONS]\n");
  return 2;
}
