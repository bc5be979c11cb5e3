/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "lab-control.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TRACKED 16

static char *script;
static char *lab_id;
static char **envp;
/* Read by the signal handler: prepared before anything runs. */
static char *down_argv[3];
static volatile GPid tracked[MAX_TRACKED];

static void
on_fatal_signal (int sig)
{
  pid_t child;

  for (guint i = 0; i < MAX_TRACKED; i++)
    if (tracked[i] > 0)
      kill (tracked[i], SIGKILL);
  if (envp != NULL && (child = fork ()) == 0)
    {
      execve (down_argv[0], down_argv, envp);
      _exit (127);
    }
  else if (envp != NULL && child > 0)
    waitpid (child, NULL, 0);
  signal (sig, SIG_DFL);
  raise (sig);
}

void
lab_control_init (void)
{
  const char *source_root = g_getenv ("PUNCH_SOURCE_ROOT");
  const char *build_root = g_getenv ("PUNCH_BUILD_ROOT");
  g_autofree char *link = NULL;
  const int sigs[] = { SIGABRT, SIGSEGV, SIGBUS, SIGTRAP, SIGTERM, SIGINT };

  g_return_if_fail (script == NULL);
  script = g_build_filename (source_root != NULL ? source_root : ".", "tests", "lab", "lab", NULL);
  link = g_build_filename (build_root != NULL ? build_root : ".", "tests", "lab", "punch-lab-link", NULL);
  lab_id = g_strdup_printf ("%u", (guint) getpid () % 100000);
  envp = g_get_environ ();
  envp = g_environ_setenv (envp, "PUNCH_LAB_ID", lab_id, TRUE);
  envp = g_environ_setenv (envp, "PUNCH_LAB_LINK", link, TRUE);
  down_argv[0] = script;
  down_argv[1] = (char *) "down";
  down_argv[2] = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (sigs); i++)
    signal (sigs[i], on_fatal_signal);
}

gboolean
lab_control_available (void)
{
  return geteuid () == 0 && g_file_test ("/usr/sbin/nft", G_FILE_TEST_EXISTS)
         && script != NULL && g_file_test (script, G_FILE_TEST_IS_EXECUTABLE);
}

const char *
lab_control_script (void)
{
  return script;
}

const char *
lab_control_id (void)
{
  return lab_id;
}

char **
lab_control_envp (void)
{
  return envp;
}

gboolean
lab_control_run (const char * const *args,
                 char              **out,
                 GError            **error)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *err = NULL;
  int status;

  g_ptr_array_add (argv, script);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL, out, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, error))
    {
      g_prefix_error (error, "lab %s: %s: ", args[0], err != NULL ? g_strstrip (err) : "");
      return FALSE;
    }
  return TRUE;
}

void
lab_control_down (void)
{
  const char *down[] = { "down", NULL };
  g_autoptr (GError) error = NULL;

  if (!lab_control_run (down, NULL, &error))
    g_test_message ("%s", error->message);
}

void
lab_control_track_pid (GPid pid)
{
  for (guint i = 0; i < MAX_TRACKED; i++)
    if (tracked[i] == 0)
      {
        tracked[i] = pid;
        return;
      }
}

void
lab_control_untrack_pid (GPid pid)
{
  for (guint i = 0; i < MAX_TRACKED; i++)
    if (tracked[i] == pid)
      tracked[i] = 0;
}
