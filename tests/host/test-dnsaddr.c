/* SPDX-License-Identifier: GPL-3.0-or-later */
/* /dnsaddr resolution against a resolver the test controls. */
#include <string.h>

#include "host-test-util.h"
#include "punch-dnsaddr.h"
#include "punch-error.h"
#include "punch-host.h"

#define RELAY1 "QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN"
#define RELAY2 "QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa"

/* A GResolver that answers TXT lookups from a table. */
typedef struct
{
  GResolver   parent_instance;
  GHashTable *zone;  /* name → NULL-terminated strv of TXT strings */
  guint       lookups;
} MockResolver;

typedef GResolverClass MockResolverClass;

static GType mock_resolver_get_type (void);
G_DEFINE_TYPE (MockResolver, mock_resolver, G_TYPE_RESOLVER)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MockResolver, g_object_unref)

static void
mock_lookup_records_async (GResolver           *resolver,
                           const char          *rrname,
                           GResolverRecordType  type,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  MockResolver *self = (MockResolver *) resolver;
  GTask *task = g_task_new (resolver, cancellable, callback, user_data);
  const char *const *txt = g_hash_table_lookup (self->zone, rrname);
  GList *records = NULL;

  self->lookups++;
  g_assert_cmpint (type, ==, G_RESOLVER_RECORD_TXT);
  if (txt == NULL)
    {
      g_task_return_new_error (task, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "no TXT for %s", rrname);
      g_object_unref (task);
      return;
    }
  for (guint i = 0; txt[i] != NULL; i++)
    {
      const char *one[] = { txt[i], NULL };
      records = g_list_prepend (records, g_variant_ref_sink (g_variant_new ("(^as)", one)));
    }
  g_task_return_pointer (task, g_list_reverse (records), NULL);
  g_object_unref (task);
}

static GList *
mock_lookup_records_finish (GResolver *resolver, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
mock_resolver_finalize (GObject *object)
{
  g_hash_table_unref (((MockResolver *) object)->zone);
  G_OBJECT_CLASS (mock_resolver_parent_class)->finalize (object);
}

static void
mock_resolver_class_init (MockResolverClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mock_resolver_finalize;
  klass->lookup_records_async = mock_lookup_records_async;
  klass->lookup_records_finish = mock_lookup_records_finish;
}

static void
mock_resolver_init (MockResolver *self)
{
  self->zone = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_strfreev);
}

static void
zone_add (MockResolver *mock, const char *name, ...)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  va_list ap;
  const char *s;

  va_start (ap, name);
  while ((s = va_arg (ap, const char *)) != NULL)
    g_strv_builder_add (builder, s);
  va_end (ap);
  g_hash_table_insert (mock->zone, g_strdup (name), g_strv_builder_end (builder));
}

static GPtrArray *
resolve (MockResolver *mock, const char *text, GError **error)
{
  g_autoptr (PunchMultiaddr) addr = punch_multiaddr_new_from_string (text, NULL);
  g_autoptr (GAsyncResult) result = NULL;

  g_assert_nonnull (addr);
  punch_dnsaddr_resolve_async (G_RESOLVER (mock), addr, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  return punch_dnsaddr_resolve_finish (result, error);
}

static char *
addr_at (GPtrArray *addrs, guint i)
{
  return punch_multiaddr_to_string (g_ptr_array_index (addrs, i));
}

static void
test_recursive (void)
{
  g_autoptr (MockResolver) mock = g_object_new (mock_resolver_get_type (), NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) addrs = NULL;
  g_autofree char *a0 = NULL;
  g_autofree char *a1 = NULL;

  zone_add (mock, "_dnsaddr.bootstrap.example",
            "dnsaddr=/dnsaddr/ams.example/p2p/" RELAY1,
            "dnsaddr=/dnsaddr/sjc.example/p2p/" RELAY2, NULL);
  zone_add (mock, "_dnsaddr.ams.example",
            "dnsaddr=/ip4/198.51.100.1/tcp/4001/p2p/" RELAY1,
            "dnsaddr=/ip4/198.51.100.1/udp/4001/quic-v1/p2p/" RELAY1,
            "v=spf1 -all", NULL);
  zone_add (mock, "_dnsaddr.sjc.example", "dnsaddr=/ip6/2001:db8::1/tcp/4001/p2p/" RELAY2, NULL);

  addrs = resolve (mock, "/dnsaddr/bootstrap.example", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (addrs->len, ==, 3);
  g_assert_cmpuint (mock->lookups, ==, 3);
  g_ptr_array_free (g_steal_pointer (&addrs), TRUE);

  /* A /p2p suffix keeps only that peer's records. */
  addrs = resolve (mock, "/dnsaddr/bootstrap.example/p2p/" RELAY2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (addrs->len, ==, 1);
  a0 = addr_at (addrs, 0);
  g_assert_cmpstr (a0, ==, "/ip6/2001:db8::1/tcp/4001/p2p/" RELAY2);
  g_ptr_array_free (g_steal_pointer (&addrs), TRUE);

  addrs = resolve (mock, "/dnsaddr/ams.example", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (addrs->len, ==, 2);
  a1 = addr_at (addrs, 1);
  g_assert_cmpstr (a1, ==, "/ip4/198.51.100.1/udp/4001/quic-v1/p2p/" RELAY1);
}

static void
test_loop_is_bounded (void)
{
  g_autoptr (MockResolver) mock = g_object_new (mock_resolver_get_type (), NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) addrs = NULL;

  /* A zone that points at itself twice must not make us loop or fan out. */
  zone_add (mock, "_dnsaddr.loop.example", "dnsaddr=/dnsaddr/loop.example", "dnsaddr=/dnsaddr/loop.example", NULL);
  addrs = resolve (mock, "/dnsaddr/loop.example", &error);
  g_assert_null (addrs);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_NO_ADDRESSES);
  g_assert_cmpuint (mock->lookups, <=, 1u << PUNCH_DNSADDR_MAX_DEPTH);
}

static void
test_not_found (void)
{
  g_autoptr (MockResolver) mock = g_object_new (mock_resolver_get_type (), NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) addrs = resolve (mock, "/dnsaddr/missing.example", &error);

  g_assert_null (addrs);
  g_assert_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND);
}

static void
test_garbage_records (void)
{
  g_autoptr (MockResolver) mock = g_object_new (mock_resolver_get_type (), NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) addrs = NULL;

  zone_add (mock, "_dnsaddr.bad.example", "dnsaddr=/ip4/999.1.1.1/tcp/1", "dnsaddr=", "dnsaddr=/foo/bar",
            "dnsaddr=/ip4/198.51.100.9/tcp/4001/p2p/" RELAY1, NULL);
  addrs = resolve (mock, "/dnsaddr/bad.example", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (addrs->len, ==, 1);
}

/* The host dials /dnsaddr through the records: the first TCP one that
 * answers wins; others (QUIC, unreachable) are skipped or tried in turn. */
static void
test_host_dial (void)
{
  g_autoptr (MockResolver) mock = g_object_new (mock_resolver_get_type (), NULL);
  g_autoptr (GResolver) previous = g_resolver_get_default ();
  g_autoptr (PunchPrivateKey) key_a = punch_private_key_generate (NULL);
  g_autoptr (PunchPrivateKey) key_b = punch_private_key_generate (NULL);
  g_autoptr (PunchHost) a = punch_host_new (key_a);
  g_autoptr (PunchHost) b = punch_host_new (key_b);
  g_autoptr (PunchMultiaddr) listen = punch_multiaddr_new_from_string ("/ip4/127.0.0.1/tcp/0", NULL);
  g_autoptr (GPtrArray) addrs = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PunchConnection) conn = NULL;
  g_autoptr (PunchMultiaddr) target = NULL;
  g_autofree char *b_addr = NULL;
  g_autofree char *quic = NULL;
  g_autofree char *good = NULL;
  g_autofree char *text = NULL;
  const char *b_id;

  g_assert_true (punch_host_listen (b, listen, &error));
  addrs = punch_host_get_listen_addrs (b);
  b_addr = punch_multiaddr_to_string (g_ptr_array_index (addrs, 0));
  b_id = punch_peer_id_to_string (punch_host_get_peer_id (b));
  quic = g_strdup_printf ("dnsaddr=/ip4/127.0.0.1/udp/4001/quic-v1/p2p/%s", b_id);
  good = g_strdup_printf ("dnsaddr=%s/p2p/%s", b_addr, b_id);
  zone_add (mock, "_dnsaddr.friend.example", quic, good, NULL);

  g_resolver_set_default (G_RESOLVER (mock));
  text = g_strdup_printf ("/dnsaddr/friend.example/p2p/%s", b_id);
  target = punch_multiaddr_new_from_string (text, &error);
  g_assert_no_error (error);
  punch_host_dial_async (a, target, NULL, host_test_store_result, &result);
  WAIT_UNTIL (result != NULL);
  conn = punch_host_dial_finish (a, result, &error);
  g_resolver_set_default (previous);

  g_assert_no_error (error);
  g_assert_true (punch_peer_id_equal (punch_connection_get_peer_id (conn), punch_host_get_peer_id (b)));
  g_assert_cmpuint (mock->lookups, ==, 1);
  punch_host_close (a);
  punch_host_close (b);
  host_test_spin (50);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/dnsaddr/recursive", test_recursive);
  g_test_add_func ("/core/dnsaddr/loop-is-bounded", test_loop_is_bounded);
  g_test_add_func ("/core/dnsaddr/not-found", test_not_found);
  g_test_add_func ("/core/dnsaddr/garbage-records", test_garbage_records);
  g_test_add_func ("/core/dnsaddr/host-dial", test_host_dial);
  return g_test_run ();
}
