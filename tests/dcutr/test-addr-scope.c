/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-addr-scope.h"

static const struct
{
  const char    *addr;
  PunchAddrScope scope;
} cases[] = {
  { "/ip4/8.8.8.8/tcp/1", PUNCH_ADDR_SCOPE_PUBLIC },
  { "/ip4/198.18.0.2/tcp/4001", PUNCH_ADDR_SCOPE_PUBLIC },       /* the NAT lab's internet */
  { "/ip4/198.19.255.254/tcp/4001", PUNCH_ADDR_SCOPE_PUBLIC },
  { "/ip4/10.0.1.2/tcp/1", PUNCH_ADDR_SCOPE_PRIVATE },
  { "/ip4/172.16.0.1/tcp/1", PUNCH_ADDR_SCOPE_PRIVATE },
  { "/ip4/172.31.255.255/tcp/1", PUNCH_ADDR_SCOPE_PRIVATE },
  { "/ip4/172.32.0.1/tcp/1", PUNCH_ADDR_SCOPE_PUBLIC },
  { "/ip4/192.168.1.1/tcp/1", PUNCH_ADDR_SCOPE_PRIVATE },
  { "/ip4/100.64.0.1/tcp/1", PUNCH_ADDR_SCOPE_PRIVATE },         /* CGNAT */
  { "/ip4/100.127.255.255/tcp/1", PUNCH_ADDR_SCOPE_PRIVATE },
  { "/ip4/100.128.0.1/tcp/1", PUNCH_ADDR_SCOPE_PUBLIC },
  { "/ip4/127.0.0.1/tcp/1", PUNCH_ADDR_SCOPE_LOOPBACK },
  { "/ip4/169.254.3.4/tcp/1", PUNCH_ADDR_SCOPE_LINK_LOCAL },
  { "/ip4/0.0.0.0/tcp/1", PUNCH_ADDR_SCOPE_UNUSABLE },
  { "/ip4/224.0.0.1/tcp/1", PUNCH_ADDR_SCOPE_UNUSABLE },
  { "/ip4/255.255.255.255/tcp/1", PUNCH_ADDR_SCOPE_UNUSABLE },
  { "/ip6/2001:db8::1/tcp/1", PUNCH_ADDR_SCOPE_PUBLIC },
  { "/ip6/::1/tcp/1", PUNCH_ADDR_SCOPE_LOOPBACK },
  { "/ip6/::/tcp/1", PUNCH_ADDR_SCOPE_UNUSABLE },
  { "/ip6/fd00::1/tcp/1", PUNCH_ADDR_SCOPE_PRIVATE },
  { "/ip6/fe80::1/tcp/1", PUNCH_ADDR_SCOPE_LINK_LOCAL },
  { "/ip6/ff02::1/tcp/1", PUNCH_ADDR_SCOPE_UNUSABLE },
  { "/ip6/::ffff:10.1.2.3/tcp/1", PUNCH_ADDR_SCOPE_PRIVATE },
  { "/dns4/example.com/tcp/1", PUNCH_ADDR_SCOPE_PUBLIC },
  { "/p2p-circuit", PUNCH_ADDR_SCOPE_UNUSABLE },
};

static void
test_scopes (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchMultiaddr) ma = punch_multiaddr_new_from_string (cases[i].addr, &error);

      g_assert_no_error (error);
      g_test_message ("%s", cases[i].addr);
      g_assert_cmpstr (punch_addr_scope_to_string (punch_multiaddr_get_scope (ma)), ==,
                       punch_addr_scope_to_string (cases[i].scope));
    }
}

static void
test_inet (void)
{
  g_autoptr (GInetAddress) lab = g_inet_address_new_from_string ("198.18.1.1");
  g_autoptr (GInetAddress) lan = g_inet_address_new_from_string ("10.0.2.2");

  g_assert_cmpint (punch_inet_address_get_scope (lab), ==, PUNCH_ADDR_SCOPE_PUBLIC);
  g_assert_cmpint (punch_inet_address_get_scope (lan), ==, PUNCH_ADDR_SCOPE_PRIVATE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/addr-scope/table", test_scopes);
  g_test_add_func ("/core/addr-scope/inet", test_inet);
  return g_test_run ();
}
