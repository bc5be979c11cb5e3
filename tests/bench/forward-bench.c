/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The two ends of the port-forwarding benchmark (tests/bench/forward-bench):
 *
 *   punch-bench-forward serve
 *       a TCP target on 127.0.0.1 (a free port, printed as
 *       {"event":"serving","port":N}); each connection's first byte picks
 *       its job: 'S' reads to EOF, then answers with the 8-byte count it
 *       read (so that the sender's clock stops when every byte arrived, not
 *       when the forwarders buffered them); 'E' echoes until EOF. One
 *       process per connection (fork). Runs until killed.
 *   punch-bench-forward throughput HOST:PORT BYTES
 *       sends BYTES to 'S' and waits for its count: one JSON line.
 *   punch-bench-forward latency HOST:PORT N
 *       N round trips of one byte with 'E' on one connection (TCP_NODELAY):
 *       one JSON line with the median, 90th percentile and minimum.
 *
 * Direct to the target, these are the plain-TCP figures; through a
 * forwarded port (punchline-cli forward, ssh -L) they include the
 * forwarders.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#define CHUNK (128 * 1024)

static void
die (const char *what)
{
  fprintf (stderr, "punch-bench-forward: %s: %s\n", what, strerror (errno));
  exit (1);
}

static void
write_all (int         fd,
           const void *data,
           size_t      len)
{
  const char *p = data;

  while (len > 0)
    {
      ssize_t w = write (fd, p, len);

      if (w < 0)
        {
          if (errno == EINTR)
            continue;
          die ("write");
        }
      p += w;
      len -= (size_t) w;
    }
}

/* Reads exactly @len bytes; FALSE on EOF before. */
static gboolean
read_exactly (int    fd,
              void  *data,
              size_t len)
{
  char *p = data;

  while (len > 0)
    {
      ssize_t r = read (fd, p, len);

      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          die ("read");
        }
      if (r == 0)
        return FALSE;
      p += r;
      len -= (size_t) r;
    }
  return TRUE;
}

static void
serve_connection (int fd)
{
  g_autofree char *buf = g_malloc (CHUNK);
  guint64 count = 0;
  char job;

  if (!read_exactly (fd, &job, 1))
    return;
  for (;;)
    {
      ssize_t r = read (fd, buf, CHUNK);

      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          die ("read");
        }
      if (r == 0)
        break;
      if (job == 'E')
        write_all (fd, buf, (size_t) r);
      count += (guint64) r;
    }
  if (job == 'S')
    {
      guint64 be = GUINT64_TO_BE (count);

      write_all (fd, &be, sizeof be);
    }
}

static int
serve (void)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  int one = 1;
  int lfd;

  /* Children are reaped by the kernel. */
  signal (SIGCHLD, SIG_IGN);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  lfd = socket (AF_INET, SOCK_STREAM, 0);
  if (lfd < 0)
    die ("socket");
  setsockopt (lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind (lfd, (struct sockaddr *) &addr, sizeof addr) < 0 || listen (lfd, 64) < 0)
    die ("bind/listen");
  if (getsockname (lfd, (struct sockaddr *) &addr, &len) < 0)
    die ("getsockname");
  printf ("{\"event\":\"serving\",\"port\":%u}\n", ntohs (addr.sin_port));
  fflush (stdout);
  for (;;)
    {
      int fd = accept (lfd, NULL, NULL);
      pid_t pid;

      if (fd < 0)
        {
          if (errno == EINTR)
            continue;
          die ("accept");
        }
      setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      pid = fork ();
      if (pid < 0)
        die ("fork");
      if (pid == 0)
        {
          close (lfd);
          serve_connection (fd);
          close (fd);
          _exit (0);
        }
      close (fd);
    }
}

static int
connect_to (const char *hostport)
{
  g_autofree char *host = NULL;
  const char *colon = strrchr (hostport, ':');
  struct addrinfo hints = { 0 }, *res = NULL;
  int one = 1;
  int fd;

  if (colon == NULL)
    {
      fprintf (stderr, "punch-bench-forward: “%s” is not HOST:PORT\n", hostport);
      exit (2);
    }
  host = g_strndup (hostport, colon - hostport);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo (host, colon + 1, &hints, &res) != 0)
    die ("getaddrinfo");
  fd = socket (AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect (fd, res->ai_addr, res->ai_addrlen) < 0)
    die ("connect");
  freeaddrinfo (res);
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static int
throughput (const char *hostport,
            guint64     bytes)
{
  g_autofree char *buf = g_malloc0 (CHUNK);
  guint64 left = bytes, count;
  gint64 t0, t1;
  int fd = connect_to (hostport);

  write_all (fd, "S", 1);
  t0 = g_get_monotonic_time ();
  while (left > 0)
    {
      size_t n = left < CHUNK ? (size_t) left : CHUNK;

      write_all (fd, buf, n);
      left -= n;
    }
  if (shutdown (fd, SHUT_WR) < 0)
    die ("shutdown");
  if (!read_exactly (fd, &count, sizeof count))
    {
      fprintf (stderr, "punch-bench-forward: the target's count never came\n");
      return 1;
    }
  t1 = g_get_monotonic_time ();
  close (fd);
  count = GUINT64_FROM_BE (count);
  if (count != bytes)
    {
      fprintf (stderr, "punch-bench-forward: the target read %" G_GUINT64_FORMAT " of %"
               G_GUINT64_FORMAT " bytes\n", count, bytes);
      return 1;
    }
  printf ("{\"event\":\"throughput\",\"bytes\":%" G_GUINT64_FORMAT ",\"seconds\":%.6f,"
          "\"bytes_per_second\":%.0f}\n", bytes, (t1 - t0) / 1e6, bytes / ((t1 - t0) / 1e6));
  return 0;
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static int
latency (const char *hostport,
         guint       n)
{
  g_autofree gint64 *samples = g_new (gint64, n);
  int fd = connect_to (hostport);
  char byte = 'x';

  write_all (fd, "E", 1);
  /* A first round trip, not counted: the forward's stream opens lazily. */
  write_all (fd, &byte, 1);
  if (!read_exactly (fd, &byte, 1))
    return 1;
  for (guint i = 0; i < n; i++)
    {
      gint64 t0 = g_get_monotonic_time ();

      write_all (fd, &byte, 1);
      if (!read_exactly (fd, &byte, 1))
        {
          fprintf (stderr, "punch-bench-forward: the echo ended\n");
          return 1;
        }
      samples[i] = g_get_monotonic_time () - t0;
    }
  close (fd);
  qsort (samples, n, sizeof *samples, compare_gint64);
  printf ("{\"event\":\"latency\",\"n\":%u,\"median_us\":%" G_GINT64_FORMAT ",\"p90_us\":%" G_GINT64_FORMAT
          ",\"min_us\":%" G_GINT64_FORMAT "}\n", n, samples[n / 2], samples[n * 9 / 10], samples[0]);
  return 0;
}

int
main (int    argc,
      char **argv)
{
  if (argc == 2 && g_str_equal (argv[1], "serve"))
    return serve ();
  if (argc == 4 && g_str_equal (argv[1], "throughput"))
    return throughput (argv[2], g_ascii_strtoull (argv[3], NULL, 10));
  if (argc == 4 && g_str_equal (argv[1], "latency") && g_ascii_strtoull (argv[3], NULL, 10) > 0)
    return latency (argv[2], (guint) MIN (g_ascii_strtoull (argv[3], NULL, 10), 1000000));
  fprintf (stderr, "usage: punch-bench-forward serve | throughput HOST:PORT BYTES | latency HOST:PORT N\n");
  return 2;
}
