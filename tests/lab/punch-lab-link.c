/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A wire with delay and loss between two TAP devices, for the NAT lab.
 *
 * These kernels have no netem qdisc, so the lab builds delay itself: this
 * program creates two persistent TAP devices, prints "ready", and forwards
 * every Ethernet frame from one to the other after the one-way delay,
 * dropping the given share at random. The lab script moves each TAP into a
 * namespace (a TAP keeps its open file descriptor when moved) and configures
 * it there. It runs until SIGTERM/SIGINT, then removes both devices.
 *
 * Usage: punch-lab-link TAP_A TAP_B DELAY_MS LOSS_PERCENT
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME  65536
/* Frames in flight per direction; beyond it the wire drops, as a full queue does. */
#define MAX_QUEUED 8192

typedef struct Frame
{
  struct Frame *next;
  int64_t       due_us;
  size_t        len;
  unsigned char data[];
} Frame;

typedef struct
{
  int    from;
  int    to;
  Frame *head;
  Frame *tail;
  size_t queued;
} Direction;

static volatile sig_atomic_t stop;

static void
on_signal (int sig)
{
  (void) sig;
  stop = 1;
}

static int64_t
now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
tap_open (const char *name)
{
  struct ifreq ifr;
  int fd = open ("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

  if (fd < 0)
    {
      perror ("open /dev/net/tun");
      return -1;
    }
  memset (&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  snprintf (ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl (fd, TUNSETIFF, &ifr) < 0)
    {
      fprintf (stderr, "TUNSETIFF %s: %s\n", name, strerror (errno));
      close (fd);
      return -1;
    }
  return fd;
}

static void
tap_remove (int fd)
{
  /* Not persistent: the device goes away with the last descriptor. */
  ioctl (fd, TUNSETPERSIST, 0);
  close (fd);
}

static void
receive (Direction *d, int64_t delay_us, unsigned loss_percent)
{
  unsigned char buf[MAX_FRAME];

  for (;;)
    {
      ssize_t n = read (d->from, buf, sizeof buf);
      Frame *f;

      if (n <= 0)
        return;
      if (loss_percent > 0 && (unsigned) (random () % 100) < loss_percent)
        continue;
      if (d->queued >= MAX_QUEUED)
        continue;
      f = malloc (sizeof *f + (size_t) n);
      if (f == NULL)
        continue;
      f->next = NULL;
      f->due_us = now_us () + delay_us;
      f->len = (size_t) n;
      memcpy (f->data, buf, (size_t) n);
      if (d->tail)
        d->tail->next = f;
      else
        d->head = f;
      d->tail = f;
      d->queued++;
    }
}

static void
deliver (Direction *d, int64_t now)
{
  while (d->head != NULL && d->head->due_us <= now)
    {
      Frame *f = d->head;

      /* A full TAP queue drops the frame, like a full link. */
      if (write (d->to, f->data, f->len) < 0 && errno != EAGAIN)
        perror ("write");
      d->head = f->next;
      if (d->head == NULL)
        d->tail = NULL;
      d->queued--;
      free (f);
    }
}

static int
next_timeout_ms (Direction *dirs, int n, int64_t now)
{
  int64_t best = -1;

  for (int i = 0; i < n; i++)
    if (dirs[i].head != NULL)
      {
        int64_t wait = dirs[i].head->due_us - now;
        if (wait < 0)
          wait = 0;
        if (best < 0 || wait < best)
          best = wait;
      }
  if (best < 0)
    return 1000;
  return (int) ((best + 999) / 1000);
}

int
main (int argc, char **argv)
{
  int a, b;
  int64_t delay_us;
  unsigned loss;
  Direction dirs[2];
  struct sigaction sa;

  if (argc != 5)
    {
      fprintf (stderr, "usage: %s TAP_A TAP_B DELAY_MS LOSS_PERCENT\n", argv[0]);
      return 2;
    }
  delay_us = strtoll (argv[3], NULL, 10) * 1000;
  loss = (unsigned) strtoul (argv[4], NULL, 10);
  if (delay_us < 0 || loss > 100)
    {
      fprintf (stderr, "delay must be ≥ 0 ms and loss between 0 and 100 %%\n");
      return 2;
    }
  srandom ((unsigned) getpid ());

  a = tap_open (argv[1]);
  b = tap_open (argv[2]);
  if (a < 0 || b < 0)
    return 1;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);

  memset (dirs, 0, sizeof dirs);
  dirs[0].from = a;
  dirs[0].to = b;
  dirs[1].from = b;
  dirs[1].to = a;

  printf ("ready\n");
  fflush (stdout);

  while (!stop)
    {
      struct pollfd pfd[2] = { { a, POLLIN, 0 }, { b, POLLIN, 0 } };
      int64_t now = now_us ();
      int timeout = next_timeout_ms (dirs, 2, now);

      if (poll (pfd, 2, timeout) < 0 && errno != EINTR)
        break;
      if (pfd[0].revents & POLLIN)
        receive (&dirs[0], delay_us, loss);
      if (pfd[1].revents & POLLIN)
        receive (&dirs[1], delay_us, loss);
      now = now_us ();
      deliver (&dirs[0], now);
      deliver (&dirs[1], now);
    }

  tap_remove (a);
  tap_remove (b);
  return 0;
}
