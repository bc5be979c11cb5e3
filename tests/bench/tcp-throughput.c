/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Raw TCP throughput over loopback: the ceiling for any libp2p stack here.
 * A forked sender writes BYTES in CHUNK-sized writes to a receiver that
 * reads until EOF; two processes, as two peers would be. Prints one JSON
 * line. Usage: punch-bench-tcp [BYTES [CHUNK]]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

static void
die (const char *what)
{
  fprintf (stderr, "punch-bench-tcp: %s: %s\n", what, strerror (errno));
  exit (1);
}

static void
send_all (int      fd,
          guint64  bytes,
          gsize    chunk)
{
  g_autofree guint8 *buf = g_malloc0 (chunk);

  while (bytes > 0)
    {
      gsize n = bytes < chunk ? (gsize) bytes : chunk;
      ssize_t w = write (fd, buf, n);

      if (w < 0)
        {
          if (errno == EINTR)
            continue;
          die ("write");
        }
      bytes -= (guint64) w;
    }
}

int
main (int argc, char **argv)
{
  guint64 bytes = argc > 1 ? g_ascii_strtoull (argv[1], NULL, 10) : 1024ull * 1024 * 1024;
  gsize chunk = argc > 2 ? (gsize) g_ascii_strtoull (argv[2], NULL, 10) : 128 * 1024;
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  g_autofree guint8 *buf = NULL;
  guint64 received = 0;
  gint64 t0, t1;
  int one = 1;
  int lfd, fd, status;
  pid_t pid;

  if (bytes == 0 || chunk == 0 || chunk > 64 * 1024 * 1024)
    {
      fprintf (stderr, "usage: punch-bench-tcp [BYTES [CHUNK]]\n");
      return 2;
    }

  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  lfd = socket (AF_INET, SOCK_STREAM, 0);
  if (lfd < 0)
    die ("socket");
  setsockopt (lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind (lfd, (struct sockaddr *) &addr, sizeof addr) < 0 || listen (lfd, 1) < 0)
    die ("bind/listen");
  if (getsockname (lfd, (struct sockaddr *) &addr, &len) < 0)
    die ("getsockname");

  pid = fork ();
  if (pid < 0)
    die ("fork");
  if (pid == 0)
    {
      int cfd = socket (AF_INET, SOCK_STREAM, 0);

      close (lfd);
      if (cfd < 0 || connect (cfd, (struct sockaddr *) &addr, sizeof addr) < 0)
        die ("connect");
      setsockopt (cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      send_all (cfd, bytes, chunk);
      close (cfd);
      _exit (0);
    }

  fd = accept (lfd, NULL, NULL);
  if (fd < 0)
    die ("accept");
  buf = g_malloc (chunk);
  t0 = g_get_monotonic_time ();
  for (;;)
    {
      ssize_t r = read (fd, buf, chunk);

      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          die ("read");
        }
      if (r == 0)
        break;
      received += (guint64) r;
    }
  t1 = g_get_monotonic_time ();
  close (fd);
  close (lfd);
  if (waitpid (pid, &status, 0) < 0 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      fprintf (stderr, "punch-bench-tcp: the sender failed\n");
      return 1;
    }
  if (received != bytes)
    {
      fprintf (stderr, "punch-bench-tcp: received %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes\n",
               received, bytes);
      return 1;
    }
  printf ("{\"event\":\"tcp\",\"bytes\":%" G_GUINT64_FORMAT ",\"chunk\":%" G_GSIZE_FORMAT
          ",\"seconds\":%.6f,\"bytes_per_second\":%.0f}\n",
          received, chunk, (t1 - t0) / 1e6, received / ((t1 - t0) / 1e6));
  return 0;
}
