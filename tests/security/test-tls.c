/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libp2p TLS: the spec's certificates, our own certificate through our
 * verifier and OpenSSL's parser, refused certificates of every kind, the
 * handshake over Unix socket pairs (muxers through ALPN, wrong peer,
 * misbehaving peers, a handshake cut half-way) and the record layer (8 MiB
 * both ways, garbage, truncation, close_notify). */
#include <gio/gio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "punch-error.h"
#include "punch-multistream.h"
#include "punch-noise-stream.h"
#include "punch-openssl-private.h"
#include "punch-private-key.h"
#include "punch-tls-cert.h"
#include "punch-tls-engine.h"
#include "punch-tls-stream.h"
#include "punch-upgrader.h"

#define DEADLINE_S 20

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ASN1_OBJECT, ASN1_OBJECT_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ASN1_OCTET_STRING, ASN1_OCTET_STRING_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (X509_EXTENSION, X509_EXTENSION_free)

/* Ed25519 keys (seed || public) with seeds 0x01…, 0x02…, 0x03… and their IDs. */
static const char *const KEY_HEX[] = {
  "0101010101010101010101010101010101010101010101010101010101010101"
  "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
  "0202020202020202020202020202020202020202020202020202020202020202"
  "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394",
  "0303030303030303030303030303030303030303030303030303030303030303"
  "ed4928c628d1c2c6eae90338905995612959273a5c63f93636c14614ac8737d1",
};
static const char *const KEY_ID[] = {
  "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5",
  "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq",
  "12D3KooWRndVhVZPCiQwHBBBdg769GyrPUW13zxwqQyf9r3ANaba",
};

/* libp2p/specs tls/tls.md, "Test vectors". */
typedef struct
{
  const char *name;
  const char *cert_hex;
  const char *peer_id;     /* NULL: must be refused */
} SpecVector;

static const SpecVector SPEC_VECTORS[] = {
  {
    "ed25519",
    "308201ae30820156a0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea37c307a3078060a2b0601040183a25a0101046a3068042408011220a77f1d92fedb59dddaea5a1c4abd1ac2fbde7d7b879ed364501809923d7c11b90440d90d2769db992d5e6195dbb08e706b6651e024fda6cfb8846694a435519941cac215a8207792e42849cccc6cd8136c6e4bde92a58c5e08cfd4206eb5fe0bf909300a06082a8648ce3d0403020346003043021f50f6b6c52711a881778718238f650c9fb48943ae6ee6d28427dc6071ae55e702203625f116a7a454db9c56986c82a25682f7248ea1cb764d322ea983ed36a31b77",
    "12D3KooWM6CgA9iBFZmcYAHA6A2qvbAxqfkmrYiRQuz3XEsk4Ksv",
  },
  {
    "ecdsa",
    "308201f63082019da0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea381c23081bf3081bc060a2b0601040183a25a01010481ad3081aa045f0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004bf30511f909414ebdd3242178fd290f093a551cf75c973155de0bb5a96fedf6cb5d52da7563e794b512f66e60c7f55ba8a3acf3dd72a801980d205e8a1ad29f2044730450220064ea8124774caf8f50e57f436aa62350ce652418c019df5d98a3ac666c9386a022100aa59d704a931b5f72fb9222cb6cc51f954d04a4e2e5450f8805fe8918f71eaae300a06082a8648ce3d04030203470030440220799395b0b6c1e940a7e4484705f610ab51ed376f19ff9d7c16757cfbf61b8d4302206205c03fbb0f95205c779be86581d3e31c01871ad5d1f3435bcf375cb0e5088a",
    "QmfXbAwNjJLXfesgztEHe8HwgVDCMMpZ9Eax1HYq6hn9uE",
  },
  {
    "secp256k1",
    "308201ba3082015fa0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea38184308181307f060a2b0601040183a25a01010471306f0425080212210206dc6968726765b820f050263ececf7f71e4955892776c0970542efd689d2382044630440220145e15a991961f0d08cd15425bb95ec93f6ffa03c5a385eedc34ecf464c7a8ab022026b3109b8a3f40ef833169777eb2aa337cfb6282f188de0666d1bcec2a4690dd300a06082a8648ce3d0403020349003046022100e1a217eeef9ec9204b3f774a08b70849646b6a1e6b8b27f93dc00ed58545d9fe022100b00dafa549d0f03547878338c7b15e7502888f6d45db387e5ae6b5d46899cef0",
    "16Uiu2HAkutTMoTzDw1tCvSRtu6YoixJwS46S1ZFxW8hSx9fWHiPs",
  },
  {
    "invalid",
    "308201f73082019da0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea381c23081bf3081bc060a2b0601040183a25a01010481ad3081aa045f0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004bf30511f909414ebdd3242178fd290f093a551cf75c973155de0bb5a96fedf6cb5d52da7563e794b512f66e60c7f55ba8a3acf3dd72a801980d205e8a1ad29f204473045022100bb6e03577b7cc7a3cd1558df0da2b117dfdcc0399bc2504ebe7de6f65cade72802206de96e2a5be9b6202adba24ee0362e490641ac45c240db71fe955f2c5cf8df6e300a06082a8648ce3d0403020348003045022100e847f267f43717358f850355bdcabbefb2cfbf8a3c043b203a14788a092fe8db022027c1d04a2d41fd6b57a7e8b3989e470325de4406e52e084e34a3fd56eef0d0df",
    NULL,
  },
};

/* ---- helpers ---- */

static GBytes *
hex_bytes (const char *hex)
{
  gsize len = strlen (hex) / 2;
  guint8 *buf = g_malloc (len + 1);

  g_assert_cmpuint (strlen (hex) % 2, ==, 0);
  for (gsize i = 0; i < len; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      g_assert_true (hi >= 0 && lo >= 0);
      buf[i] = (guint8) (hi << 4 | lo);
    }
  return g_bytes_new_take (buf, len);
}

static PunchPrivateKey *
fixed_key (guint i)
{
  g_autoptr (GBytes) raw = hex_bytes (KEY_HEX[i]);
  g_autoptr (GByteArray) pb = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  PunchPrivateKey *key;
  static const guint8 header[] = { 0x08, 0x01, 0x12, 0x40 };

  g_byte_array_append (pb, header, sizeof header);
  g_byte_array_append (pb, g_bytes_get_data (raw, NULL), g_bytes_get_size (raw));
  key = punch_private_key_new_from_protobuf (pb->data, pb->len, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (punch_peer_id_to_string (punch_private_key_get_peer_id (key)), ==, KEY_ID[i]);
  return key;
}

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

static gboolean
on_deadline (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the main context until *@done, failing the test at the deadline. */
static void
await_flag (const gboolean *done)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add_seconds (DEADLINE_S, on_deadline, &expired);

  while (!*done && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  if (!*done)
    g_error ("timed out after %d s", DEADLINE_S);
}

static void
await_result (GAsyncResult **slot)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add_seconds (DEADLINE_S, on_deadline, &expired);

  while (*slot == NULL && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  if (*slot == NULL)
    g_error ("timed out after %d s", DEADLINE_S);
}

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* Lets pending callbacks (closes, deferred task returns) run. */
static void
drain_main_context (void)
{
  for (guint i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

static void
socket_pair (GIOStream **a,
             GIOStream **b,
             GSocket   **raw_a,
             GSocket   **raw_b)
{
  int fds[2];
  g_autoptr (GSocket) sa = NULL;
  g_autoptr (GSocket) sb = NULL;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  sa = g_socket_new_from_fd (fds[0], NULL);
  sb = g_socket_new_from_fd (fds[1], NULL);
  g_assert_nonnull (sa);
  g_assert_nonnull (sb);
  *a = G_IO_STREAM (g_socket_connection_factory_create_connection (sa));
  *b = G_IO_STREAM (g_socket_connection_factory_create_connection (sb));
  if (raw_a != NULL)
    *raw_a = g_object_ref (sa);
  if (raw_b != NULL)
    *raw_b = g_object_ref (sb);
}

typedef struct
{
  PunchTlsStream *initiator;
  PunchTlsStream *responder;
  GError         *initiator_error;
  GError         *responder_error;
} Pair;

static void
pair_clear (Pair *pair)
{
  g_clear_object (&pair->initiator);
  g_clear_object (&pair->responder);
  g_clear_error (&pair->initiator_error);
  g_clear_error (&pair->responder_error);
  drain_main_context ();
}

/* Runs both sides of the handshake over a fresh socket pair. */
static void
handshake_pair (guint               initiator_key,
                guint               responder_key,
                int                 expected_key,
                const char * const *initiator_muxers,
                const char * const *responder_muxers,
                Pair               *pair)
{
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  g_autoptr (PunchPrivateKey) ki = fixed_key (initiator_key);
  g_autoptr (PunchPrivateKey) kr = fixed_key (responder_key);
  g_autoptr (PunchPrivateKey) ke = expected_key >= 0 ? fixed_key ((guint) expected_key) : NULL;
  g_autoptr (GAsyncResult) ri = NULL;
  g_autoptr (GAsyncResult) rr = NULL;

  socket_pair (&a, &b, NULL, NULL);
  punch_tls_stream_handshake_async (a, TRUE, ki, ke ? punch_private_key_get_peer_id (ke) : NULL,
                                    initiator_muxers, NULL, store_result, &ri);
  punch_tls_stream_handshake_async (b, FALSE, kr, NULL, responder_muxers, NULL, store_result, &rr);
  await_result (&ri);
  await_result (&rr);
  pair->initiator = punch_tls_stream_handshake_finish (ri, &pair->initiator_error);
  pair->responder = punch_tls_stream_handshake_finish (rr, &pair->responder_error);
}

/* ---- certificates built to order ---- */

typedef enum
{
  CERT_GOOD = 0,
  CERT_NO_EXTENSION,
  CERT_EXTENSION_TWICE,
  CERT_UNKNOWN_CRITICAL,
  CERT_SIGNED_OTHER_SPKI,     /* host signature over another key's SPKI */
  CERT_BAD_SELF_SIGNATURE,    /* signed by another key than its own */
  CERT_NOT_SELF_ISSUED,       /* issuer differs from subject */
  CERT_GARBAGE_EXTENSION,
  CERT_BAD_HOST_KEY,          /* the publicKey field is no PublicKey */
} CertFlaw;

static void
add_extension (X509         *cert,
               const char   *oid_text,
               gboolean      critical,
               const guint8 *data,
               gsize         len)
{
  g_autoptr (ASN1_OBJECT) oid = OBJ_txt2obj (oid_text, 1);
  g_autoptr (ASN1_OCTET_STRING) value = ASN1_OCTET_STRING_new ();
  g_autoptr (X509_EXTENSION) ext = NULL;

  g_assert_nonnull (oid);
  g_assert_true (ASN1_OCTET_STRING_set (value, data, (int) len));
  ext = X509_EXTENSION_create_by_OBJ (NULL, oid, critical, value);
  g_assert_nonnull (ext);
  g_assert_true (X509_add_ext (cert, ext, -1));
}

static GBytes *
spki_of (EVP_PKEY *key)
{
  unsigned char *der = NULL;
  int len = i2d_PUBKEY (key, &der);
  GBytes *bytes;

  g_assert_cmpint (len, >, 0);
  bytes = g_bytes_new (der, (gsize) len);
  OPENSSL_free (der);
  return bytes;
}

static GBytes *
host_signature (PunchPrivateKey *identity,
                EVP_PKEY        *key)
{
  g_autoptr (GBytes) spki = spki_of (key);
  g_autoptr (GByteArray) data = g_byte_array_new ();

  g_byte_array_append (data, (const guint8 *) PUNCH_TLS_SIGNATURE_PREFIX, strlen (PUNCH_TLS_SIGNATURE_PREFIX));
  g_byte_array_append (data, g_bytes_get_data (spki, NULL), g_bytes_get_size (spki));
  return punch_private_key_sign (identity, data->data, data->len, NULL);
}

/* A certificate like ours, with dates relative to now and one flaw. */
static X509 *
build_cert (PunchPrivateKey *identity,
            gint64           not_before,
            gint64           not_after,
            CertFlaw         flaw,
            EVP_PKEY       **key_out)
{
  g_autoptr (EVP_PKEY) key = EVP_EC_gen ("P-256");
  g_autoptr (EVP_PKEY) other = EVP_EC_gen ("P-256");
  g_autoptr (X509) cert = X509_new ();
  g_autoptr (GBytes) signature = NULL;
  g_autoptr (GBytes) signed_key = NULL;
  X509_NAME *name = X509_NAME_new ();
  X509_NAME *issuer = X509_NAME_new ();

  g_assert_nonnull (key);
  X509_set_version (cert, X509_VERSION_3);
  ASN1_INTEGER_set (X509_get_serialNumber (cert), 1234);
  X509_NAME_add_entry_by_txt (name, "O", MBSTRING_ASC, (const unsigned char *) "punch test", -1, -1, 0);
  X509_NAME_add_entry_by_txt (issuer, "O", MBSTRING_ASC,
                              (const unsigned char *) (flaw == CERT_NOT_SELF_ISSUED ? "someone else" : "punch test"),
                              -1, -1, 0);
  X509_set_subject_name (cert, name);
  X509_set_issuer_name (cert, issuer);
  X509_NAME_free (name);
  X509_NAME_free (issuer);
  X509_gmtime_adj (X509_getm_notBefore (cert), not_before);
  X509_gmtime_adj (X509_getm_notAfter (cert), not_after);
  X509_set_pubkey (cert, key);

  signature = host_signature (identity, flaw == CERT_SIGNED_OTHER_SPKI ? other : key);
  if (flaw == CERT_BAD_HOST_KEY)
    {
      g_autoptr (GBytes) junk = g_bytes_new_static ("\x08\x01\x12\x03" "abc", 7);

      signed_key = punch_tls_signed_key_encode (junk, signature);
    }
  else
    {
      signed_key = punch_tls_signed_key_encode (punch_public_key_get_protobuf (punch_private_key_get_public_key (identity)),
                                                signature);
    }
  if (flaw == CERT_GARBAGE_EXTENSION)
    add_extension (cert, PUNCH_TLS_EXTENSION_OID, TRUE, (const guint8 *) "\x30\x03\x04\x01", 4);
  else if (flaw != CERT_NO_EXTENSION)
    add_extension (cert, PUNCH_TLS_EXTENSION_OID, TRUE,
                   g_bytes_get_data (signed_key, NULL), g_bytes_get_size (signed_key));
  if (flaw == CERT_EXTENSION_TWICE)
    add_extension (cert, PUNCH_TLS_EXTENSION_OID, FALSE,
                   g_bytes_get_data (signed_key, NULL), g_bytes_get_size (signed_key));
  if (flaw == CERT_UNKNOWN_CRITICAL)
    add_extension (cert, "1.3.6.1.4.1.99999.1", TRUE, (const guint8 *) "\x05\x00", 2);
  /* A known non-critical extension is fine anywhere. */
  add_extension (cert, "1.3.6.1.4.1.99999.2", FALSE, (const guint8 *) "\x05\x00", 2);

  g_assert_cmpint (X509_sign (cert, flaw == CERT_BAD_SELF_SIGNATURE ? other : key, EVP_sha256 ()), >, 0);
  if (key_out != NULL)
    *key_out = g_steal_pointer (&key);
  return g_steal_pointer (&cert);
}

/* ---- certificates ---- */

static void
test_cert_spec_vectors (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (SPEC_VECTORS); i++)
    {
      g_autoptr (GBytes) der = hex_bytes (SPEC_VECTORS[i].cert_hex);
      g_autoptr (PunchPublicKey) key = NULL;
      g_autoptr (GError) error = NULL;

      g_test_message ("vector %s", SPEC_VECTORS[i].name);
      key = punch_tls_cert_verify_der (g_bytes_get_data (der, NULL), g_bytes_get_size (der),
                                       now_s (), &error);
      if (SPEC_VECTORS[i].peer_id != NULL)
        {
          g_assert_no_error (error);
          g_assert_nonnull (key);
          g_assert_cmpstr (punch_peer_id_to_string (punch_public_key_get_peer_id (key)), ==,
                           SPEC_VECTORS[i].peer_id);
        }
      else
        {
          g_assert_null (key);
          g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_BAD_SIGNATURE);
          g_assert_nonnull (strstr (error->message, "signature"));
          g_test_message ("  -> %s", error->message);
        }
    }
}

static void
test_cert_round_trip (void)
{
  g_autoptr (PunchPrivateKey) identity = fixed_key (0);
  g_autoptr (EVP_PKEY) cert_key = NULL;
  g_autoptr (EVP_PKEY) cert_key2 = NULL;
  g_autoptr (X509) cert = NULL;
  g_autoptr (X509) cert2 = NULL;
  g_autoptr (X509) parsed = NULL;
  g_autoptr (PunchPublicKey) key = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (ASN1_OBJECT) oid = OBJ_txt2obj (PUNCH_TLS_EXTENSION_OID, 1);
  g_autoptr (GBytes) key_pb = NULL;
  g_autoptr (GBytes) signature = NULL;
  unsigned char *der = NULL;
  const unsigned char *p;
  int len;
  int index;
  X509_EXTENSION *ext;
  const ASN1_OCTET_STRING *value;

  cert = punch_tls_cert_generate (identity, &cert_key, &error);
  g_assert_no_error (error);
  g_assert_nonnull (cert);
  g_assert_nonnull (cert_key);

  /* OpenSSL's parser reads back what we wrote. */
  len = i2d_X509 (cert, &der);
  g_assert_cmpint (len, >, 0);
  g_assert_cmpint (len, <, 1024);
  p = der;
  parsed = d2i_X509 (NULL, &p, len);
  g_assert_nonnull (parsed);
  g_assert_true (p == der + len);
  g_assert_cmpint (X509_get_version (parsed), ==, X509_VERSION_3);
  g_assert_cmpint (X509_verify (parsed, X509_get0_pubkey (parsed)), ==, 1);
  g_assert_cmpint (X509_NAME_cmp (X509_get_issuer_name (parsed), X509_get_subject_name (parsed)), ==, 0);
  g_assert_cmpint (X509_cmp_current_time (X509_get0_notBefore (parsed)), <, 0);
  g_assert_cmpint (X509_cmp_current_time (X509_get0_notAfter (parsed)), >, 0);
  g_assert_cmpint (EVP_PKEY_eq (X509_get0_pubkey (parsed), cert_key), ==, 1);
  g_assert_true (EVP_PKEY_is_a (cert_key, "EC"));
  /* js-libp2p reads the first extension: it must be ours, and critical. */
  g_assert_cmpint (X509_get_ext_count (parsed), ==, 1);
  index = X509_get_ext_by_OBJ (parsed, oid, -1);
  g_assert_cmpint (index, ==, 0);
  ext = X509_get_ext (parsed, index);
  g_assert_true (X509_EXTENSION_get_critical (ext));
  value = X509_EXTENSION_get_data (ext);
  g_assert_true (punch_tls_signed_key_decode (ASN1_STRING_get0_data (value), (gsize) ASN1_STRING_length (value),
                                              &key_pb, &signature, &error));
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (key_pb, punch_public_key_get_protobuf (punch_private_key_get_public_key (identity))));
  g_assert_cmpuint (g_bytes_get_size (signature), ==, 64);

  /* Our verifier accepts it and names our peer. */
  key = punch_tls_cert_verify_der (der, (gsize) len, now_s (), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (punch_peer_id_to_string (punch_public_key_get_peer_id (key)), ==, KEY_ID[0]);
  g_assert_true (punch_public_key_equal (key, punch_private_key_get_public_key (identity)));

  /* ...and only inside its validity: from an hour ago for 100 years. */
  g_clear_object (&key);
  key = punch_tls_cert_verify_der (der, (gsize) len, now_s () - 2 * 3600, &error);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
  g_clear_error (&error);
  key = punch_tls_cert_verify_der (der, (gsize) len, now_s () + (gint64) 101 * 365 * 24 * 3600, &error);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL);
  g_clear_error (&error);
  OPENSSL_free (der);

  /* A fresh key each time. */
  cert2 = punch_tls_cert_generate (identity, &cert_key2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (EVP_PKEY_eq (cert_key, cert_key2), !=, 1);
  g_assert_cmpint (ASN1_INTEGER_cmp (X509_get0_serialNumber (cert), X509_get0_serialNumber (cert2)), !=, 0);
}

typedef struct
{
  const char *name;
  gint64      not_before;
  gint64      not_after;
  CertFlaw    flaw;
  int         code;
  const char *message_part;
} RefusedCase;

static void
test_cert_refused (void)
{
  const RefusedCase cases[] = {
    { "good", -60, 3600, CERT_GOOD, -1, NULL },
    { "expired", -7200, -3600, CERT_GOOD, PUNCH_ERROR_PROTOCOL, "expired" },
    { "not-yet-valid", 3600, 7200, CERT_GOOD, PUNCH_ERROR_PROTOCOL, "not valid yet" },
    { "no-extension", -60, 3600, CERT_NO_EXTENSION, PUNCH_ERROR_PROTOCOL, "lacks the libp2p public key extension" },
    { "extension-twice", -60, 3600, CERT_EXTENSION_TWICE, PUNCH_ERROR_PROTOCOL, "twice" },
    { "unknown-critical", -60, 3600, CERT_UNKNOWN_CRITICAL, PUNCH_ERROR_PROTOCOL, "1.3.6.1.4.1.99999.1" },
    { "signed-other-spki", -60, 3600, CERT_SIGNED_OTHER_SPKI, PUNCH_ERROR_BAD_SIGNATURE, KEY_ID[1] },
    { "bad-self-signature", -60, 3600, CERT_BAD_SELF_SIGNATURE, PUNCH_ERROR_BAD_SIGNATURE, "self-signature" },
    { "not-self-issued", -60, 3600, CERT_NOT_SELF_ISSUED, PUNCH_ERROR_PROTOCOL, "not self-signed" },
    { "garbage-extension", -60, 3600, CERT_GARBAGE_EXTENSION, PUNCH_ERROR_TRUNCATED, "SignedKey" },
    { "bad-host-key", -60, 3600, CERT_BAD_HOST_KEY, -2, "host key" },
  };
  g_autoptr (PunchPrivateKey) identity = fixed_key (1);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (X509) cert = build_cert (identity, cases[i].not_before, cases[i].not_after,
                                          cases[i].flaw, NULL);
      g_autoptr (PunchPublicKey) key = NULL;
      g_autoptr (GError) error = NULL;

      g_test_message ("case %s", cases[i].name);
      key = punch_tls_cert_verify (cert, now_s (), &error);
      if (cases[i].code == -1)
        {
          g_assert_no_error (error);
          g_assert_cmpstr (punch_peer_id_to_string (punch_public_key_get_peer_id (key)), ==, KEY_ID[1]);
          continue;
        }
      g_assert_null (key);
      g_assert_nonnull (error);
      g_test_message ("  -> %s", error->message);
      g_assert_true (error->domain == PUNCH_ERROR);
      if (cases[i].code >= 0)
        g_assert_cmpint (error->code, ==, cases[i].code);
      g_assert_nonnull (strstr (error->message, cases[i].message_part));
    }
}

static void
test_cert_malformed_der (void)
{
  g_autoptr (PunchPrivateKey) identity = fixed_key (0);
  g_autoptr (EVP_PKEY) cert_key = NULL;
  g_autoptr (X509) cert = punch_tls_cert_generate (identity, &cert_key, NULL);
  unsigned char *der = NULL;
  int len = i2d_X509 (cert, &der);
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  PunchPublicKey *key;

  g_assert_cmpint (len, >, 0);

  /* Every truncation. */
  for (int cut = 0; cut < len; cut++)
    {
      key = punch_tls_cert_verify_der (der, (gsize) cut, now_s (), &error);
      g_assert_null (key);
      g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED);
      g_clear_error (&error);
    }
  /* Trailing bytes. */
  g_byte_array_append (buf, der, (guint) len);
  g_byte_array_append (buf, (const guint8 *) "\0", 1);
  key = punch_tls_cert_verify_der (buf->data, buf->len, now_s (), &error);
  g_assert_null (key);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED);
  g_clear_error (&error);
  /* Oversized, refused before parsing. */
  g_byte_array_set_size (buf, PUNCH_TLS_CERT_MAX_LEN + 1);
  key = punch_tls_cert_verify_der (buf->data, buf->len, now_s (), &error);
  g_assert_null (key);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE);
  g_clear_error (&error);
  /* Any single flipped bit of the signed part breaks the self-signature or
   * the parse; flipping bits of the last bytes (the signature) as well. */
  for (int i = 0; i < len; i += 7)
    {
      g_byte_array_set_size (buf, 0);
      g_byte_array_append (buf, der, (guint) len);
      buf->data[i] ^= 0x01;
      key = punch_tls_cert_verify_der (buf->data, buf->len, now_s (), &error);
      if (key != NULL)
        {
          /* Only bits OpenSSL does not cover, e.g. inside the outer tag's
           * unused field, may pass: then it must still be our peer. */
          g_assert_cmpstr (punch_peer_id_to_string (punch_public_key_get_peer_id (key)), ==, KEY_ID[0]);
          g_object_unref (key);
        }
      else
        {
          g_assert_nonnull (error);
          g_assert_true (error->domain == PUNCH_ERROR);
        }
      g_clear_error (&error);
    }
  OPENSSL_free (der);
}

typedef struct
{
  const char *name;
  const char *hex;
  int         code;       /* -1: accepted */
} SignedKeyCase;

static void
test_signed_key (void)
{
  static const SignedKeyCase cases[] = {
    { "minimal", "3006040161040162", -1 },
    { "empty-fields", "30040400" "0400", -1 },
    { "empty", "", PUNCH_ERROR_TRUNCATED },
    { "tag-only", "30", PUNCH_ERROR_TRUNCATED },
    { "not-a-sequence", "3106040161040162", PUNCH_ERROR_MALFORMED },
    { "sequence-too-long", "3007040161040162", PUNCH_ERROR_TRUNCATED },
    { "trailing-after-sequence", "300604016104016200", PUNCH_ERROR_MALFORMED },
    { "trailing-in-sequence", "300704016104016200", PUNCH_ERROR_MALFORMED },
    { "one-field", "3003040161", PUNCH_ERROR_TRUNCATED },
    { "three-fields", "3009040161040162040163", PUNCH_ERROR_MALFORMED },
    { "integer-field", "3006020161040162", PUNCH_ERROR_MALFORMED },
    { "non-minimal-length", "308106040161040162", PUNCH_ERROR_MALFORMED },
    { "indefinite-length", "3080040161040162", PUNCH_ERROR_MALFORMED },
    { "four-byte-length", "3084000000060401610401", PUNCH_ERROR_MALFORMED },
    { "field-overruns", "3006040561040162", PUNCH_ERROR_TRUNCATED },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) data = hex_bytes (cases[i].hex);
      g_autoptr (GBytes) key = NULL;
      g_autoptr (GBytes) signature = NULL;
      g_autoptr (GError) error = NULL;
      gboolean ok;

      g_test_message ("case %s", cases[i].name);
      ok = punch_tls_signed_key_decode (g_bytes_get_data (data, NULL), g_bytes_get_size (data),
                                        &key, &signature, &error);
      if (cases[i].code < 0)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_nonnull (key);
          g_assert_nonnull (signature);
        }
      else
        {
          g_assert_false (ok);
          g_assert_error (error, PUNCH_ERROR, cases[i].code);
          g_assert_null (key);
          g_assert_null (signature);
        }
    }

  /* Encoding round-trips for every length form. */
  for (gsize klen = 0; klen < 600; klen += 61)
    {
      g_autofree guint8 *kbuf = g_malloc0 (klen + 1);
      g_autoptr (GBytes) k = g_bytes_new (kbuf, klen);
      g_autoptr (GBytes) s = g_bytes_new_static ("sig", 3);
      g_autoptr (GBytes) encoded = punch_tls_signed_key_encode (k, s);
      g_autoptr (GBytes) k2 = NULL;
      g_autoptr (GBytes) s2 = NULL;
      g_autoptr (GError) error = NULL;

      if (klen > PUNCH_PUBLIC_KEY_MAX_LEN)
        break;
      g_assert_true (punch_tls_signed_key_decode (g_bytes_get_data (encoded, NULL), g_bytes_get_size (encoded),
                                                  &k2, &s2, &error));
      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (k, k2));
      g_assert_true (g_bytes_equal (s, s2));
    }
}

/* ---- handshake ---- */

static void
test_handshake_basic (void)
{
  /* Both directions: key 0 dials key 1, then key 1 dials key 0. */
  for (guint dir = 0; dir < 2; dir++)
    {
      Pair pair = { 0 };
      guint ki = dir == 0 ? 0 : 1;
      guint kr = dir == 0 ? 1 : 0;

      handshake_pair (ki, kr, (int) kr, NULL, NULL, &pair);
      g_assert_no_error (pair.initiator_error);
      g_assert_no_error (pair.responder_error);
      g_assert_cmpstr (punch_peer_id_to_string (punch_tls_stream_get_remote_peer_id (pair.initiator)), ==, KEY_ID[kr]);
      g_assert_cmpstr (punch_peer_id_to_string (punch_tls_stream_get_remote_peer_id (pair.responder)), ==, KEY_ID[ki]);
      g_assert_cmpstr (punch_peer_id_to_string (punch_public_key_get_peer_id (punch_tls_stream_get_remote_public_key (pair.responder))),
                       ==, KEY_ID[ki]);
      g_assert_nonnull (punch_tls_stream_get_cipher (pair.initiator));
      g_assert_true (g_str_has_prefix (punch_tls_stream_get_cipher (pair.initiator), "TLS_"));
      g_assert_cmpstr (punch_tls_stream_get_cipher (pair.initiator), ==, punch_tls_stream_get_cipher (pair.responder));
      g_test_message ("cipher %s", punch_tls_stream_get_cipher (pair.initiator));
      g_assert_null (punch_tls_stream_get_muxer (pair.initiator));
      g_assert_null (punch_tls_stream_get_muxer (pair.responder));
      g_assert_true (G_IS_SOCKET_CONNECTION (punch_tls_stream_get_base_stream (pair.initiator)));
      pair_clear (&pair);
    }
}

static void
test_handshake_muxers (void)
{
  static const char *const yamux[] = { "/yamux/1.0.0", NULL };
  static const char *const mplex_yamux[] = { "/mplex/6.7.0", "/yamux/1.0.0", NULL };
  static const char *const yamux_mplex[] = { "/yamux/1.0.0", "/mplex/6.7.0", NULL };
  static const char *const other[] = { "/other/1.0.0", NULL };
  static const struct
  {
    const char *const *client;
    const char *const *server;
    const char        *chosen;
  } cases[] = {
    { yamux, yamux, "/yamux/1.0.0" },
    { NULL, yamux, NULL },
    { yamux, NULL, NULL },
    { NULL, NULL, NULL },
    { mplex_yamux, yamux_mplex, "/mplex/6.7.0" },   /* the client's order wins */
    { yamux_mplex, mplex_yamux, "/yamux/1.0.0" },
    { other, yamux, NULL },                          /* falls back to "libp2p" */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Pair pair = { 0 };

      handshake_pair (0, 1, 1, cases[i].client, cases[i].server, &pair);
      g_assert_no_error (pair.initiator_error);
      g_assert_no_error (pair.responder_error);
      g_assert_cmpstr (punch_tls_stream_get_muxer (pair.initiator), ==, cases[i].chosen);
      g_assert_cmpstr (punch_tls_stream_get_muxer (pair.responder), ==, cases[i].chosen);
      pair_clear (&pair);
    }
}

static void
test_handshake_wrong_peer (void)
{
  Pair pair = { 0 };

  /* We dial expecting key 2, key 1 answers. */
  handshake_pair (0, 1, 2, NULL, NULL, &pair);
  g_assert_null (pair.initiator);
  g_assert_error (pair.initiator_error, PUNCH_ERROR, PUNCH_ERROR_PEER_ID_MISMATCH);
  g_assert_nonnull (strstr (pair.initiator_error->message, KEY_ID[2]));
  g_assert_nonnull (strstr (pair.initiator_error->message, KEY_ID[1]));
  g_test_message ("initiator: %s", pair.initiator_error->message);
  /* The responder hears our alert (or the close) instead of a Finished. */
  g_assert_null (pair.responder);
  g_assert_nonnull (pair.responder_error);
  g_test_message ("responder: %s", pair.responder_error->message);
  pair_clear (&pair);
}

/* A peer that runs TLS with a certificate of the test's choosing. */
static PunchTlsEngine *
start_fake_peer (GIOStream     *base,
                 gboolean       initiator,
                 guint          key_index,
                 X509          *cert,
                 EVP_PKEY      *cert_key,
                 X509          *extra,
                 GAsyncResult **slot)
{
  g_autoptr (PunchPrivateKey) identity = fixed_key (key_index);
  g_autoptr (GError) error = NULL;
  PunchTlsEngine *engine;

  engine = punch_tls_engine_new (base, initiator, identity, NULL, NULL, &error);
  g_assert_no_error (error);
  if (cert != NULL)
    {
      punch_tls_engine_use_certificate (engine, cert, cert_key, extra, &error);
      g_assert_no_error (error);
    }
  punch_tls_engine_handshake_async (engine, G_PRIORITY_DEFAULT, NULL, store_result, slot);
  return engine;
}

typedef struct
{
  const char *name;
  gboolean    we_initiate;
  gint64      not_before;
  gint64      not_after;
  CertFlaw    flaw;
  gboolean    two_certs;
  int         code;
  const char *message_part;
} FakePeerCase;

static void
test_handshake_refused_peers (void)
{
  static const FakePeerCase cases[] = {
    { "control-server", TRUE, -60, 3600, CERT_GOOD, FALSE, -1, NULL },
    { "control-client", FALSE, -60, 3600, CERT_GOOD, FALSE, -1, NULL },
    { "expired-server", TRUE, -7200, -3600, CERT_GOOD, FALSE, PUNCH_ERROR_PROTOCOL, "expired" },
    { "expired-client", FALSE, -7200, -3600, CERT_GOOD, FALSE, PUNCH_ERROR_PROTOCOL, "expired" },
    { "two-certs-server", TRUE, -60, 3600, CERT_GOOD, TRUE, PUNCH_ERROR_PROTOCOL, "sent 2 TLS certificates" },
    { "two-certs-client", FALSE, -60, 3600, CERT_GOOD, TRUE, PUNCH_ERROR_PROTOCOL, "sent 2 TLS certificates" },
    { "no-extension", TRUE, -60, 3600, CERT_NO_EXTENSION, FALSE, PUNCH_ERROR_PROTOCOL, "lacks" },
    { "forged-signature", TRUE, -60, 3600, CERT_SIGNED_OTHER_SPKI, FALSE, PUNCH_ERROR_BAD_SIGNATURE, "invalid" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GIOStream) ours = NULL;
      g_autoptr (GIOStream) theirs = NULL;
      g_autoptr (PunchPrivateKey) identity = fixed_key (0);
      g_autoptr (PunchPrivateKey) their_identity = fixed_key (1);
      g_autoptr (EVP_PKEY) cert_key = NULL;
      g_autoptr (EVP_PKEY) extra_key = NULL;
      g_autoptr (X509) cert = NULL;
      g_autoptr (X509) extra = NULL;
      g_autoptr (PunchTlsEngine) fake = NULL;
      g_autoptr (GAsyncResult) our_result = NULL;
      g_autoptr (GAsyncResult) their_result = NULL;
      g_autoptr (PunchTlsStream) stream = NULL;
      g_autoptr (GError) error = NULL;
      g_autoptr (GError) their_error = NULL;

      g_test_message ("case %s", cases[i].name);
      cert = build_cert (their_identity, cases[i].not_before, cases[i].not_after, cases[i].flaw, &cert_key);
      if (cases[i].two_certs)
        extra = build_cert (their_identity, -60, 3600, CERT_GOOD, &extra_key);
      socket_pair (&ours, &theirs, NULL, NULL);
      fake = start_fake_peer (theirs, !cases[i].we_initiate, 1, cert, cert_key, extra, &their_result);
      punch_tls_stream_handshake_async (ours, cases[i].we_initiate, identity, NULL, NULL, NULL,
                                        store_result, &our_result);
      await_result (&our_result);
      stream = punch_tls_stream_handshake_finish (our_result, &error);
      await_result (&their_result);
      punch_tls_engine_handshake_finish (fake, their_result, &their_error);

      if (cases[i].code < 0)
        {
          g_assert_no_error (error);
          g_assert_no_error (their_error);
          g_assert_cmpstr (punch_peer_id_to_string (punch_tls_stream_get_remote_peer_id (stream)), ==, KEY_ID[1]);
        }
      else
        {
          g_assert_null (stream);
          g_assert_error (error, PUNCH_ERROR, cases[i].code);
          g_assert_nonnull (strstr (error->message, cases[i].message_part));
          g_test_message ("  -> ours: %s", error->message);
          /* A refused server hears our alert; a refused client (TLS 1.3)
           * has finished its side and learns on its first read. */
          if (cases[i].we_initiate)
            {
              g_assert_nonnull (their_error);
              g_test_message ("  -> theirs: %s", their_error->message);
            }
        }
      g_io_stream_close (theirs, NULL, NULL);
      g_clear_object (&stream);
      drain_main_context ();
    }
}

/* ---- a proxy that cuts the server's flight ---- */

typedef struct _Proxy Proxy;

typedef struct
{
  Proxy         *proxy;
  GInputStream  *in;
  GOutputStream *out;
  GSocket       *out_socket;
  gsize          limit;          /* G_MAXSIZE: none */
  gboolean       cut_at_record;  /* limit = the end of the first record */
  gsize          forwarded;
  guint8         buf[4096];
  gsize          pending;
  gboolean       done;
  GByteArray    *tap;            /* (nullable): every byte forwarded */
} Leg;

struct _Proxy
{
  GSocket      *sockets[2];      /* the proxy's ends, toward client and server */
  GCancellable *cancellable;
  Leg           legs[2];         /* 0: client to server, 1: server to client */
};

static void leg_read (Leg *leg);

static void
proxy_cut (Proxy *proxy)
{
  g_cancellable_cancel (proxy->cancellable);
  g_socket_shutdown (proxy->sockets[0], TRUE, TRUE, NULL);
  g_socket_shutdown (proxy->sockets[1], TRUE, TRUE, NULL);
}

static void
on_leg_written (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Leg *leg = user_data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    {
      leg->done = TRUE;
      return;
    }
  if (leg->tap != NULL)
    g_byte_array_append (leg->tap, leg->buf, (guint) leg->pending);
  leg->forwarded += leg->pending;
  if (leg->forwarded >= leg->limit)
    {
      leg->done = TRUE;
      proxy_cut (leg->proxy);
      return;
    }
  leg_read (leg);
}

static void
on_leg_read (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Leg *leg = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    {
      if (n == 0)
        g_socket_shutdown (leg->out_socket, FALSE, TRUE, NULL);
      leg->done = TRUE;
      return;
    }
  if (leg->cut_at_record && leg->forwarded == 0)
    {
      g_assert_cmpint (n, >=, 5);
      leg->limit = 5 + ((gsize) leg->buf[3] << 8 | leg->buf[4]);
    }
  leg->pending = MIN ((gsize) n, leg->limit - leg->forwarded);
  if (leg->pending == 0)
    {
      leg->done = TRUE;
      proxy_cut (leg->proxy);
      return;
    }
  g_output_stream_write_all_async (leg->out, leg->buf, leg->pending, G_PRIORITY_DEFAULT,
                                   leg->proxy->cancellable, on_leg_written, leg);
}

static void
leg_read (Leg *leg)
{
  g_input_stream_read_async (leg->in, leg->buf, sizeof leg->buf, G_PRIORITY_DEFAULT,
                             leg->proxy->cancellable, on_leg_read, leg);
}

typedef struct
{
  const char *name;
  gsize       limit;
  gboolean    cut_at_record;
  GQuark      domain;
  int         code;
} CutCase;

static void
test_handshake_cut (void)
{
  CutCase cases[] = {
    { "before-server-hello", 0, FALSE, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED },
    { "in-record-header", 3, FALSE, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT },
    { "in-server-hello", 60, FALSE, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT },
    { "after-server-hello", 0, TRUE, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED },
    { "in-certificate", 400, FALSE, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GIOStream) client = NULL;
      g_autoptr (GIOStream) proxy_c = NULL;
      g_autoptr (GIOStream) proxy_s = NULL;
      g_autoptr (GIOStream) server = NULL;
      g_autoptr (PunchPrivateKey) kc = fixed_key (0);
      g_autoptr (PunchPrivateKey) ks = fixed_key (1);
      g_autoptr (GAsyncResult) rc = NULL;
      g_autoptr (GAsyncResult) rs = NULL;
      g_autoptr (PunchTlsStream) sc = NULL;
      g_autoptr (PunchTlsStream) ss = NULL;
      g_autoptr (GError) client_error = NULL;
      g_autoptr (GError) server_error = NULL;
      Proxy proxy = { 0 };

      g_test_message ("case %s", cases[i].name);
      socket_pair (&client, &proxy_c, NULL, &proxy.sockets[0]);
      socket_pair (&proxy_s, &server, &proxy.sockets[1], NULL);
      proxy.cancellable = g_cancellable_new ();
      proxy.legs[0] = (Leg) { &proxy, g_io_stream_get_input_stream (proxy_c), g_io_stream_get_output_stream (proxy_s),
                              proxy.sockets[1], G_MAXSIZE, FALSE };
      proxy.legs[1] = (Leg) { &proxy, g_io_stream_get_input_stream (proxy_s), g_io_stream_get_output_stream (proxy_c),
                              proxy.sockets[0], cases[i].limit, cases[i].cut_at_record };
      if (cases[i].cut_at_record)
        proxy.legs[1].limit = G_MAXSIZE;
      leg_read (&proxy.legs[0]);
      leg_read (&proxy.legs[1]);

      punch_tls_stream_handshake_async (client, TRUE, kc, NULL, NULL, NULL, store_result, &rc);
      punch_tls_stream_handshake_async (server, FALSE, ks, NULL, NULL, NULL, store_result, &rs);
      await_result (&rc);
      await_result (&rs);
      sc = punch_tls_stream_handshake_finish (rc, &client_error);
      ss = punch_tls_stream_handshake_finish (rs, &server_error);
      g_assert_null (sc);
      g_assert_error (client_error, cases[i].domain, cases[i].code);
      g_test_message ("  -> client: %s", client_error->message);
      g_assert_null (ss);
      g_assert_nonnull (server_error);
      g_test_message ("  -> server: %s", server_error->message);

      await_flag (&proxy.legs[0].done);
      await_flag (&proxy.legs[1].done);
      g_clear_object (&proxy.cancellable);
      g_clear_object (&proxy.sockets[0]);
      g_clear_object (&proxy.sockets[1]);
      drain_main_context ();
    }
}

/* A relay in the middle (the proxy) sees only ciphertext: a marker sent
 * both ways over TLS and over Noise appears nowhere in what it forwarded,
 * while over the bare connection it does (so the check can fail). */
typedef enum
{
  SECURE_NONE,
  SECURE_TLS,
  SECURE_NOISE,
} Secure;

static gssize read_once (GIOStream *stream, guint8 *buf, gsize size, GError **error);
static void   write_all (GIOStream *stream, const void *data, gsize len);

static gboolean
contains (const GByteArray *haystack,
          const char       *needle)
{
  gsize n = strlen (needle);

  for (gsize i = 0; i + n <= haystack->len; i++)
    if (memcmp (haystack->data + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

static void
secure_through_proxy (Secure   secure,
                      gboolean expect_marker)
{
  static const char marker[] = "PUNCHLINE-PLAINTEXT-MARKER-0123456789";
  g_autoptr (GIOStream) client = NULL;
  g_autoptr (GIOStream) proxy_c = NULL;
  g_autoptr (GIOStream) proxy_s = NULL;
  g_autoptr (GIOStream) server = NULL;
  g_autoptr (PunchPrivateKey) kc = fixed_key (0);
  g_autoptr (PunchPrivateKey) ks = fixed_key (1);
  g_autoptr (GAsyncResult) rc = NULL;
  g_autoptr (GAsyncResult) rs = NULL;
  g_autoptr (GIOStream) sc = NULL;
  g_autoptr (GIOStream) ss = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GByteArray) tap_cs = g_byte_array_new ();
  g_autoptr (GByteArray) tap_sc = g_byte_array_new ();
  Proxy proxy = { 0 };
  guint8 buf[sizeof marker];
  gsize got;

  socket_pair (&client, &proxy_c, NULL, &proxy.sockets[0]);
  socket_pair (&proxy_s, &server, &proxy.sockets[1], NULL);
  proxy.cancellable = g_cancellable_new ();
  proxy.legs[0] = (Leg) { &proxy, g_io_stream_get_input_stream (proxy_c), g_io_stream_get_output_stream (proxy_s),
                          proxy.sockets[1], G_MAXSIZE, FALSE };
  proxy.legs[1] = (Leg) { &proxy, g_io_stream_get_input_stream (proxy_s), g_io_stream_get_output_stream (proxy_c),
                          proxy.sockets[0], G_MAXSIZE, FALSE };
  proxy.legs[0].tap = tap_cs;
  proxy.legs[1].tap = tap_sc;
  leg_read (&proxy.legs[0]);
  leg_read (&proxy.legs[1]);

  switch (secure)
    {
    case SECURE_NONE:
      sc = g_object_ref (client);
      ss = g_object_ref (server);
      break;
    case SECURE_TLS:
      punch_tls_stream_handshake_async (client, TRUE, kc, punch_private_key_get_peer_id (ks), NULL, NULL,
                                        store_result, &rc);
      punch_tls_stream_handshake_async (server, FALSE, ks, NULL, NULL, NULL, store_result, &rs);
      await_result (&rc);
      await_result (&rs);
      sc = G_IO_STREAM (punch_tls_stream_handshake_finish (rc, &error));
      g_assert_no_error (error);
      ss = G_IO_STREAM (punch_tls_stream_handshake_finish (rs, &error));
      g_assert_no_error (error);
      break;
    case SECURE_NOISE:
      punch_noise_stream_handshake_async (client, TRUE, kc, punch_private_key_get_peer_id (ks), NULL, NULL,
                                          store_result, &rc);
      punch_noise_stream_handshake_async (server, FALSE, ks, NULL, NULL, NULL, store_result, &rs);
      await_result (&rc);
      await_result (&rs);
      sc = G_IO_STREAM (punch_noise_stream_handshake_finish (rc, &error));
      g_assert_no_error (error);
      ss = G_IO_STREAM (punch_noise_stream_handshake_finish (rs, &error));
      g_assert_no_error (error);
      break;
    }

  /* The marker goes each way; each side reads exactly what the other sent. */
  write_all (sc, marker, sizeof marker);
  for (got = 0; got < sizeof marker;)
    {
      gssize n = read_once (ss, buf + got, sizeof marker - got, &error);

      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      got += (gsize) n;
    }
  g_assert_cmpmem (buf, sizeof marker, marker, sizeof marker);
  write_all (ss, marker, sizeof marker);
  for (got = 0; got < sizeof marker;)
    {
      gssize n = read_once (sc, buf + got, sizeof marker - got, &error);

      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      got += (gsize) n;
    }
  g_assert_cmpmem (buf, sizeof marker, marker, sizeof marker);

  g_test_message ("%s: the relay forwarded %u bytes one way, %u the other",
                  secure == SECURE_TLS ? "TLS" : secure == SECURE_NOISE ? "Noise" : "plain",
                  tap_cs->len, tap_sc->len);
  g_assert_cmpuint (tap_cs->len, >=, sizeof marker);
  g_assert_cmpuint (tap_sc->len, >=, sizeof marker);
  g_assert_cmpint (contains (tap_cs, marker), ==, expect_marker);
  g_assert_cmpint (contains (tap_sc, marker), ==, expect_marker);

  g_io_stream_close (sc, NULL, NULL);
  g_io_stream_close (ss, NULL, NULL);
  proxy_cut (&proxy);
  await_flag (&proxy.legs[0].done);
  await_flag (&proxy.legs[1].done);
  g_clear_object (&proxy.cancellable);
  g_clear_object (&proxy.sockets[0]);
  g_clear_object (&proxy.sockets[1]);
  drain_main_context ();
}

static void
test_relay_sees_ciphertext (void)
{
  secure_through_proxy (SECURE_NONE, TRUE);
  secure_through_proxy (SECURE_TLS, FALSE);
  secure_through_proxy (SECURE_NOISE, FALSE);
}

typedef struct
{
  const char *name;
  gboolean    we_initiate;
  const char *script;     /* bytes the peer sends, then EOF */
  gsize       len;        /* 0: strlen (script) */
  GQuark      domain;
  int         code;
  const char *message_part;
} GarbageCase;

static void
test_handshake_garbage (void)
{
  GarbageCase cases[] = {
    { "eof-as-server", TRUE, "", 0, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "during the TLS handshake" },
    { "eof-as-client", FALSE, "", 0, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "during the TLS handshake" },
    { "multistream", TRUE, "\x13/multistream/1.0.0\n", 0, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL, "Not a TLS record" },
    { "http", FALSE, "GET / HTTP/1.1\r\n\r\n", 0, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL, "Not a TLS record" },
    { "oversized-record", TRUE, "\x16\x03\x03\xff\xff", 5, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE, "over the" },
    { "truncated-hello", FALSE, "\x16\x03\x01\x00\x40\x01\x00", 7, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT, "middle of a record" },
    /* a well-framed record that is no ServerHello */
    { "garbage-hello", TRUE, "\x16\x03\x03\x00\x04\x02\x00\x00\x00", 9, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL, "TLS handshake failed" },
    { "alert", TRUE, "\x15\x03\x03\x00\x02\x02\x28", 7, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL, "alert" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GIOStream) ours = NULL;
      g_autoptr (GIOStream) theirs = NULL;
      g_autoptr (GSocket) their_socket = NULL;
      g_autoptr (PunchPrivateKey) key = fixed_key (0);
      g_autoptr (GAsyncResult) result = NULL;
      g_autoptr (PunchTlsStream) stream = NULL;
      g_autoptr (GError) error = NULL;
      gsize len = cases[i].len > 0 ? cases[i].len : strlen (cases[i].script);

      g_test_message ("case %s", cases[i].name);
      socket_pair (&ours, &theirs, NULL, &their_socket);
      g_socket_set_timeout (their_socket, DEADLINE_S);
      g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (theirs), cases[i].script, len,
                                                NULL, NULL, &error));
      g_assert_no_error (error);
      g_socket_shutdown (their_socket, FALSE, TRUE, &error);
      g_assert_no_error (error);

      punch_tls_stream_handshake_async (ours, cases[i].we_initiate, key, NULL, NULL, NULL,
                                        store_result, &result);
      await_result (&result);
      stream = punch_tls_stream_handshake_finish (result, &error);
      g_assert_null (stream);
      g_assert_error (error, cases[i].domain, cases[i].code);
      g_test_message ("  -> %s", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].message_part));
      drain_main_context ();
    }
}

static gboolean
cancel_later (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_handshake_cancelled (void)
{
  g_autoptr (GIOStream) ours = NULL;
  g_autoptr (GIOStream) theirs = NULL;
  g_autoptr (PunchPrivateKey) key = fixed_key (0);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PunchTlsStream) stream = NULL;
  g_autoptr (GError) error = NULL;

  /* The peer never answers; the dialler gives up. */
  socket_pair (&ours, &theirs, NULL, NULL);
  punch_tls_stream_handshake_async (ours, TRUE, key, NULL, NULL, cancellable, store_result, &result);
  g_timeout_add_full (G_PRIORITY_DEFAULT, 50, cancel_later, g_object_ref (cancellable), g_object_unref);
  await_result (&result);
  stream = punch_tls_stream_handshake_finish (result, &error);
  g_assert_null (stream);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  drain_main_context ();
}

/* ---- transport ---- */

typedef struct
{
  GInputStream  *in;
  GOutputStream *out;
  GBytes        *to_send;
  gsize          sent;
  GBytes        *expected_data;
  gsize          received;
  guint8        *read_buf;
  gsize          read_size;
  gboolean       write_done;
  gboolean       read_done;
  GError        *error;
  guint         *remaining;
} Pump;

static void pump_write (Pump *pump);
static void pump_read (Pump *pump);

static void
pump_finish_part (Pump     *pump,
                  gboolean *flag)
{
  *flag = TRUE;
  (*pump->remaining)--;
}

static void
on_pump_written (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Pump *pump = user_data;
  gssize n = g_output_stream_write_finish (G_OUTPUT_STREAM (source), result, &pump->error);

  if (n <= 0)
    {
      g_assert_nonnull (pump->error);
      pump_finish_part (pump, &pump->write_done);
      return;
    }
  g_assert_cmpint (n, <=, PUNCH_TLS_MAX_WRITE);
  pump->sent += (gsize) n;
  pump_write (pump);
}

static void
pump_write (Pump *pump)
{
  gsize total = g_bytes_get_size (pump->to_send);
  const guint8 *data = g_bytes_get_data (pump->to_send, NULL);

  if (pump->sent == total)
    {
      pump_finish_part (pump, &pump->write_done);
      return;
    }
  /* Odd sizes to exercise splitting into records. */
  g_output_stream_write_async (pump->out, data + pump->sent, MIN (total - pump->sent, 1000003),
                               G_PRIORITY_DEFAULT, NULL, on_pump_written, pump);
}

static void
on_pump_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Pump *pump = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &pump->error);

  if (n <= 0)
    {
      if (n == 0)
        g_set_error_literal (&pump->error, G_IO_ERROR, G_IO_ERROR_CLOSED, "unexpected end of stream");
      pump_finish_part (pump, &pump->read_done);
      return;
    }
  /* Checked as it arrives, byte for byte. */
  if ((gsize) n > g_bytes_get_size (pump->expected_data) - pump->received ||
      memcmp (pump->read_buf, (const guint8 *) g_bytes_get_data (pump->expected_data, NULL) + pump->received,
              (gsize) n) != 0)
    {
      g_set_error (&pump->error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "received bytes differ from those sent, at offset %" G_GSIZE_FORMAT, pump->received);
      pump_finish_part (pump, &pump->read_done);
      return;
    }
  pump->received += (gsize) n;
  pump_read (pump);
}

static void
pump_read (Pump *pump)
{
  if (pump->received == g_bytes_get_size (pump->expected_data))
    {
      pump_finish_part (pump, &pump->read_done);
      return;
    }
  g_input_stream_read_async (pump->in, pump->read_buf, pump->read_size, G_PRIORITY_DEFAULT, NULL,
                             on_pump_read, pump);
}

static GBytes *
random_bytes (gsize   len,
              guint32 seed)
{
  guint64 x = 0x9e3779b97f4a7c15ull * (seed + 1);
  guint8 *buf = g_malloc (len + 8);

  for (gsize i = 0; i < len; i += 8)
    {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      memcpy (buf + i, &x, 8);
    }
  return g_bytes_new_take (buf, len);
}

static void
pump_init (Pump      *pump,
           GIOStream *stream,
           GBytes    *to_send,
           GBytes    *expected,
           gsize      read_size,
           guint     *remaining)
{
  pump->in = g_io_stream_get_input_stream (stream);
  pump->out = g_io_stream_get_output_stream (stream);
  pump->to_send = g_bytes_ref (to_send);
  pump->expected_data = g_bytes_ref (expected);
  pump->read_size = read_size;
  pump->read_buf = g_malloc (read_size);
  pump->remaining = remaining;
}

static void
pump_clear (Pump *pump)
{
  g_clear_pointer (&pump->to_send, g_bytes_unref);
  g_clear_pointer (&pump->expected_data, g_bytes_unref);
  g_clear_pointer (&pump->read_buf, g_free);
  g_clear_error (&pump->error);
}

static double
transfer_both_ways (gpointer a,
                    gpointer b,
                    gsize    size,
                    gsize    read_size)
{
  g_autoptr (GBytes) a_data = random_bytes (size, 1);
  g_autoptr (GBytes) b_data = random_bytes (size, 2);
  Pump pa = { 0 };
  Pump pb = { 0 };
  guint remaining = 4;
  gboolean expired = FALSE;
  guint id;
  gint64 start;
  double seconds;

  pump_init (&pa, G_IO_STREAM (a), a_data, b_data, read_size, &remaining);
  pump_init (&pb, G_IO_STREAM (b), b_data, a_data, read_size, &remaining);

  start = g_get_monotonic_time ();
  /* Reads go pending first, as a muxer's would, then the writes start. */
  pump_read (&pa);
  pump_read (&pb);
  pump_write (&pa);
  pump_write (&pb);
  id = g_timeout_add_seconds (DEADLINE_S, on_deadline, &expired);
  while (remaining > 0 && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  seconds = (g_get_monotonic_time () - start) / 1e6;
  g_assert_cmpuint (remaining, ==, 0);

  g_assert_no_error (pa.error);
  g_assert_no_error (pb.error);
  g_assert_cmpuint (pa.sent, ==, size);
  g_assert_cmpuint (pb.sent, ==, size);
  g_assert_cmpuint (pa.received, ==, size);
  g_assert_cmpuint (pb.received, ==, size);

  pump_clear (&pa);
  pump_clear (&pb);
  return seconds;
}

static void
test_transfer (void)
{
  Pair pair = { 0 };
  const gsize size = 8 * 1024 * 1024;
  double seconds;

  handshake_pair (0, 1, 1, NULL, NULL, &pair);
  g_assert_no_error (pair.initiator_error);
  g_assert_no_error (pair.responder_error);

  seconds = transfer_both_ways (pair.initiator, pair.responder, size, 256 * 1024);
  g_test_message ("8 MiB each way in %.3f s: %.0f MB/s per direction (%s)",
                  seconds, size / seconds / 1e6, punch_tls_stream_get_cipher (pair.initiator));

  /* Small reads (a muxer reading 12-byte headers) split records across calls. */
  seconds = transfer_both_ways (pair.initiator, pair.responder, 512 * 1024 + 7, 12);
  g_test_message ("512 KiB each way in 12-byte reads: %.3f s", seconds);
  pair_clear (&pair);
}

static void
test_throughput (void)
{
  Pair pair = { 0 };
  const gsize size = 256 * 1024 * 1024;
  double seconds;

  if (!g_test_perf ())
    {
      g_test_skip ("throughput runs with -m perf");
      return;
    }
  handshake_pair (0, 1, 1, NULL, NULL, &pair);
  g_assert_no_error (pair.initiator_error);
  seconds = transfer_both_ways (pair.initiator, pair.responder, size, 256 * 1024);
  g_test_minimized_result (seconds, "256 MiB each way over TLS (%s): %.0f MB/s per direction",
                           punch_tls_stream_get_cipher (pair.initiator), size / seconds / 1e6);
  pair_clear (&pair);
}

/* Reads once from @stream with a deadline. */
static gssize
read_once (GIOStream *stream,
           guint8    *buf,
           gsize      size,
           GError   **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  g_input_stream_read_async (g_io_stream_get_input_stream (stream), buf, size, G_PRIORITY_DEFAULT,
                             NULL, store_result, &result);
  await_result (&result);
  return g_input_stream_read_finish (g_io_stream_get_input_stream (stream), result, error);
}

static void
write_all (GIOStream  *stream,
           const void *data,
           gsize       len)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream), data, len, G_PRIORITY_DEFAULT,
                                   NULL, store_result, &result);
  await_result (&result);
  g_output_stream_write_all_finish (g_io_stream_get_output_stream (stream), result, NULL, &error);
  g_assert_no_error (error);
}

static void
test_close_notify (void)
{
  Pair pair = { 0 };
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  guint8 buf[64];
  gssize n;

  handshake_pair (0, 1, 1, NULL, NULL, &pair);
  g_assert_no_error (pair.initiator_error);

  write_all (G_IO_STREAM (pair.initiator), "hello", 5);
  g_io_stream_close_async (G_IO_STREAM (pair.initiator), G_PRIORITY_DEFAULT, NULL, store_result, &result);
  await_result (&result);
  g_assert_true (g_io_stream_close_finish (G_IO_STREAM (pair.initiator), result, &error));
  g_assert_no_error (error);

  n = read_once (G_IO_STREAM (pair.responder), buf, sizeof buf, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 5);
  g_assert_cmpmem (buf, 5, "hello", 5);
  n = read_once (G_IO_STREAM (pair.responder), buf, sizeof buf, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 0);
  /* Closed means closed, also for the sync calls GIO allows. */
  g_assert_cmpint (g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (pair.initiator)),
                                        buf, sizeof buf, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  pair_clear (&pair);
}

/* Blocking calls are refused instead of blocking; a close with reads
 * pending on both sides ends them: ours with an error, the peer's with the
 * end of the stream (close_notify). */
static void
test_close_pending_read (void)
{
  Pair pair = { 0 };
  g_autoptr (GAsyncResult) ours = NULL;
  g_autoptr (GAsyncResult) theirs = NULL;
  g_autoptr (GAsyncResult) closed = NULL;
  g_autoptr (GError) error = NULL;
  guint8 buf_ours[64];
  guint8 buf_theirs[64];
  gssize n;

  handshake_pair (0, 1, 1, NULL, NULL, &pair);
  g_assert_no_error (pair.initiator_error);

  n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (pair.responder)),
                           buf_theirs, sizeof buf_theirs, NULL, &error);
  g_assert_cmpint (n, ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  n = g_output_stream_write (g_io_stream_get_output_stream (G_IO_STREAM (pair.responder)),
                             "x", 1, NULL, &error);
  g_assert_cmpint (n, ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);

  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (pair.initiator)), buf_ours,
                             sizeof buf_ours, G_PRIORITY_DEFAULT, NULL, store_result, &ours);
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (pair.responder)), buf_theirs,
                             sizeof buf_theirs, G_PRIORITY_DEFAULT, NULL, store_result, &theirs);
  drain_main_context ();
  g_assert_null (ours);
  g_assert_null (theirs);

  g_io_stream_close_async (G_IO_STREAM (pair.initiator), G_PRIORITY_DEFAULT, NULL, store_result, &closed);
  await_result (&closed);
  g_assert_true (g_io_stream_close_finish (G_IO_STREAM (pair.initiator), closed, &error));
  g_assert_no_error (error);

  await_result (&theirs);
  n = g_input_stream_read_finish (g_io_stream_get_input_stream (G_IO_STREAM (pair.responder)), theirs, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 0);

  await_result (&ours);
  n = g_input_stream_read_finish (g_io_stream_get_input_stream (G_IO_STREAM (pair.initiator)), ours, &error);
  g_assert_cmpint (n, ==, -1);
  g_assert_nonnull (error);
  g_test_message ("our pending read: %s", error->message);
  pair_clear (&pair);
}

/* On the wire, a clean close is one more record (the encrypted
 * close_notify alert: 2 bytes, the content type and the 16-byte tag) before
 * the end of the connection. */
static void
test_close_notify_on_wire (void)
{
  Pair pair = { 0 };
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  GIOStream *raw;
  guint8 wire[256];
  gsize pos = 0;

  handshake_pair (0, 1, 1, NULL, NULL, &pair);
  g_assert_no_error (pair.initiator_error);
  write_all (G_IO_STREAM (pair.initiator), "hello", 5);
  g_io_stream_close_async (G_IO_STREAM (pair.initiator), G_PRIORITY_DEFAULT, NULL, store_result, &result);
  await_result (&result);
  g_assert_true (g_io_stream_close_finish (G_IO_STREAM (pair.initiator), result, &error));

  /* Straight off the responder's socket, up to the end of the connection. */
  raw = punch_tls_stream_get_base_stream (pair.responder);
  for (;;)
    {
      gssize n;

      g_clear_object (&result);
      g_input_stream_read_async (g_io_stream_get_input_stream (raw), wire + pos, sizeof wire - pos,
                                 G_PRIORITY_DEFAULT, NULL, store_result, &result);
      await_result (&result);
      n = g_input_stream_read_finish (g_io_stream_get_input_stream (raw), result, &error);
      g_assert_no_error (error);
      if (n == 0)
        break;
      pos += (gsize) n;
      g_assert_cmpuint (pos, <, sizeof wire);
    }
  /* "hello": 5 + 1 + 16 bytes; close_notify: 2 + 1 + 16. */
  g_assert_cmpuint (pos, ==, 5 + 22 + 5 + 19);
  g_assert_cmpuint (wire[0], ==, 23);
  g_assert_cmpuint ((guint) wire[3] << 8 | wire[4], ==, 22);
  g_assert_cmpuint (wire[27], ==, 23);
  g_assert_cmpuint ((guint) wire[30] << 8 | wire[31], ==, 19);
  pair_clear (&pair);
}

/* Raw bytes written under the TLS layer of one side reach the other. */
typedef struct
{
  const char *name;
  const char *raw;
  gsize       len;
  GQuark      domain;
  int         code;
  const char *message_part;
} TransportGarbageCase;

static void
test_transport_garbage (void)
{
  TransportGarbageCase cases[] = {
    { "not-a-record", "\x13/multistream/1.0.0\n", 20, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL, "Not a TLS record" },
    { "oversized", "\x17\x03\x03\x48\x01", 5, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE, "over the" },
    { "forged-record", "\x17\x03\x03\x00\x20" "0123456789abcdef0123456789abcdef", 37,
      PUNCH_ERROR, PUNCH_ERROR_PROTOCOL, "TLS record layer" },
    { "truncated-record", "\x17\x03\x03\x01\x00" "0123456789", 15, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT, "middle of a record" },
    { "truncated-header", "\x17\x03", 2, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT, "middle of a record" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Pair pair = { 0 };
      GIOStream *raw;
      g_autoptr (GError) error = NULL;
      guint8 buf[64];
      gssize n;

      g_test_message ("case %s", cases[i].name);
      handshake_pair (0, 1, 1, NULL, NULL, &pair);
      g_assert_no_error (pair.initiator_error);
      g_assert_no_error (pair.responder_error);
      raw = punch_tls_stream_get_base_stream (pair.initiator);
      g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (raw), cases[i].raw, cases[i].len,
                                                NULL, NULL, &error));
      g_assert_no_error (error);
      g_socket_shutdown (g_socket_connection_get_socket (G_SOCKET_CONNECTION (raw)), FALSE, TRUE, &error);
      g_assert_no_error (error);

      n = read_once (G_IO_STREAM (pair.responder), buf, sizeof buf, &error);
      g_assert_cmpint (n, ==, -1);
      g_assert_error (error, cases[i].domain, cases[i].code);
      g_assert_nonnull (strstr (error->message, cases[i].message_part));
      g_test_message ("  -> %s", error->message);
      /* The failure sticks. */
      g_clear_error (&error);
      n = read_once (G_IO_STREAM (pair.responder), buf, sizeof buf, &error);
      g_assert_cmpint (n, ==, -1);
      g_assert_error (error, cases[i].domain, cases[i].code);
      pair_clear (&pair);
    }
}

static void
test_eof_without_close_notify (void)
{
  Pair pair = { 0 };
  g_autoptr (GError) error = NULL;
  GIOStream *raw;
  guint8 buf[64];
  gssize n;

  handshake_pair (0, 1, 1, NULL, NULL, &pair);
  g_assert_no_error (pair.initiator_error);
  write_all (G_IO_STREAM (pair.initiator), "bye", 3);
  /* A peer that closes its socket at a record boundary ends the stream. */
  raw = punch_tls_stream_get_base_stream (pair.initiator);
  g_socket_shutdown (g_socket_connection_get_socket (G_SOCKET_CONNECTION (raw)), FALSE, TRUE, &error);
  g_assert_no_error (error);
  n = read_once (G_IO_STREAM (pair.responder), buf, sizeof buf, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 3);
  n = read_once (G_IO_STREAM (pair.responder), buf, sizeof buf, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 0);
  pair_clear (&pair);
}

/* Records on the wire stay within 16 KiB of plaintext. */
static void
test_record_size (void)
{
  Pair pair = { 0 };
  g_autoptr (GBytes) data = random_bytes (PUNCH_TLS_MAX_WRITE, 7);
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GByteArray) wire = g_byte_array_new ();
  GIOStream *raw;
  gsize pos = 0;
  guint records = 0;

  handshake_pair (0, 1, 1, NULL, NULL, &pair);
  g_assert_no_error (pair.initiator_error);
  write_all (G_IO_STREAM (pair.initiator), g_bytes_get_data (data, NULL), g_bytes_get_size (data));

  /* Read the ciphertext straight off the responder's socket. */
  raw = punch_tls_stream_get_base_stream (pair.responder);
  g_byte_array_set_size (wire, PUNCH_TLS_MAX_WRITE + 4096);
  while (pos < g_bytes_get_size (data) + 4 * 22)
    {
      gssize n;

      g_clear_object (&result);
      g_input_stream_read_async (g_io_stream_get_input_stream (raw), wire->data + pos, wire->len - pos,
                                 G_PRIORITY_DEFAULT, NULL, store_result, &result);
      await_result (&result);
      n = g_input_stream_read_finish (g_io_stream_get_input_stream (raw), result, &error);
      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      pos += (gsize) n;
    }
  for (gsize p = 0; p + 5 <= pos; records++)
    {
      gsize len = (gsize) wire->data[p + 3] << 8 | wire->data[p + 4];

      g_assert_cmpuint (wire->data[p], ==, 23);
      g_assert_cmpuint (len, <=, 16384 + 256);
      g_assert_cmpuint (len, >, 16384);     /* full records: 16 KiB + type + tag */
      p += 5 + len;
    }
  g_assert_cmpuint (records, ==, 4);
  pair_clear (&pair);
}

/* ---- the upgrader: multistream picks Noise or TLS ---- */

typedef struct
{
  const char        *name;
  const char *const *initiator;
  const char *const *responder;
  const char        *chosen;     /* NULL: no common protocol */
  const char        *cipher_prefix;
} UpgradeCase;

static void
close_upgrade (PunchUpgrade *upgrade)
{
  g_autoptr (GAsyncResult) result = NULL;

  punch_yamux_session_close_async (upgrade->session, NULL, store_result, &result);
  await_result (&result);
  punch_yamux_session_close_finish (upgrade->session, result, NULL);
}

static void
test_upgrader_orders (void)
{
  static const char *const noise_tls[] = { "/noise", "/tls/1.0.0", NULL };
  static const char *const tls_noise[] = { "/tls/1.0.0", "/noise", NULL };
  static const char *const tls_only[] = { "/tls/1.0.0", NULL };
  static const char *const noise_only[] = { "/noise", NULL };
  const UpgradeCase cases[] = {
    { "default", NULL, NULL, "/noise", "ChaChaPoly" },
    { "tls-first", tls_noise, NULL, "/tls/1.0.0", "TLS_" },
    { "noise-first", noise_tls, tls_noise, "/noise", "ChaChaPoly" },
    { "tls-only-dialer", tls_only, NULL, "/tls/1.0.0", "TLS_" },
    { "tls-only-listener", NULL, tls_only, "/tls/1.0.0", "TLS_" },
    { "nothing-common", noise_only, tls_only, NULL, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GIOStream) a = NULL;
      g_autoptr (GIOStream) b = NULL;
      g_autoptr (PunchPrivateKey) ka = fixed_key (0);
      g_autoptr (PunchPrivateKey) kb = fixed_key (1);
      g_autoptr (GAsyncResult) ra = NULL;
      g_autoptr (GAsyncResult) rb = NULL;
      g_autoptr (PunchUpgrade) ua = NULL;
      g_autoptr (PunchUpgrade) ub = NULL;
      g_autoptr (GError) ea = NULL;
      g_autoptr (GError) eb = NULL;

      g_test_message ("case %s", cases[i].name);
      socket_pair (&a, &b, NULL, NULL);
      punch_upgrader_upgrade_full_async (a, TRUE, ka, punch_private_key_get_peer_id (kb), cases[i].initiator,
                                         NULL, store_result, &ra);
      punch_upgrader_upgrade_full_async (b, FALSE, kb, NULL, cases[i].responder, NULL, store_result, &rb);
      await_result (&ra);
      await_result (&rb);
      ua = punch_upgrader_upgrade_finish (ra, &ea);
      ub = punch_upgrader_upgrade_finish (rb, &eb);
      if (cases[i].chosen == NULL)
        {
          g_assert_null (ua);
          g_assert_error (ea, PUNCH_ERROR, PUNCH_ERROR_NEGOTIATION_FAILED);
          g_assert_null (ub);
          g_assert_nonnull (eb);
          drain_main_context ();
          continue;
        }
      g_assert_no_error (ea);
      g_assert_no_error (eb);
      g_assert_cmpstr (ua->security, ==, cases[i].chosen);
      g_assert_cmpstr (ub->security, ==, cases[i].chosen);
      g_assert_true (g_str_has_prefix (ua->cipher, cases[i].cipher_prefix));
      g_assert_cmpstr (ua->cipher, ==, ub->cipher);
      /* The muxer came inline: Noise extensions or TLS ALPN. */
      g_assert_cmpstr (ua->muxer, ==, "/yamux/1.0.0");
      g_assert_cmpstr (ub->muxer, ==, "/yamux/1.0.0");
      g_assert_cmpstr (punch_peer_id_to_string (ua->peer_id), ==, KEY_ID[1]);
      g_assert_cmpstr (punch_peer_id_to_string (ub->peer_id), ==, KEY_ID[0]);
      g_assert_true (punch_yamux_session_get_is_client (ua->session));
      g_assert_false (punch_yamux_session_get_is_client (ub->session));
      close_upgrade (ua);
      close_upgrade (ub);
      drain_main_context ();
    }
}

/* A peer whose TLS offers no muxer through ALPN (only "libp2p"): the muxer
 * is then negotiated with multistream inside TLS. */
typedef struct
{
  gboolean         initiator;
  PunchPrivateKey *key;
  PunchTlsStream  *tls;
  char            *muxer;
  GError          *error;
  gboolean         done;
} ManualPeer;

static void
manual_muxer_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  ManualPeer *peer = user_data;

  if (peer->initiator)
    peer->muxer = punch_multistream_select_finish (G_IO_STREAM (source), result, &peer->error);
  else
    peer->muxer = punch_multistream_handle_finish (G_IO_STREAM (source), result, &peer->error);
  peer->done = TRUE;
}

static void
manual_handshake_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  static const char *const yamux[] = { "/yamux/1.0.0", NULL };
  ManualPeer *peer = user_data;

  peer->tls = punch_tls_stream_handshake_finish (result, &peer->error);
  if (peer->tls == NULL)
    {
      peer->done = TRUE;
      return;
    }
  g_assert_null (punch_tls_stream_get_muxer (peer->tls));
  if (peer->initiator)
    punch_multistream_select_async (G_IO_STREAM (peer->tls), yamux, NULL, manual_muxer_cb, peer);
  else
    punch_multistream_handle_async (G_IO_STREAM (peer->tls), yamux, NULL, manual_muxer_cb, peer);
}

static void
manual_security_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  ManualPeer *peer = user_data;
  g_autofree char *security = NULL;

  if (peer->initiator)
    security = punch_multistream_select_finish (G_IO_STREAM (source), result, &peer->error);
  else
    security = punch_multistream_handle_finish (G_IO_STREAM (source), result, &peer->error);
  if (security == NULL)
    {
      peer->done = TRUE;
      return;
    }
  g_assert_cmpstr (security, ==, "/tls/1.0.0");
  punch_tls_stream_handshake_async (G_IO_STREAM (source), peer->initiator, peer->key, NULL, NULL, NULL,
                                    manual_handshake_cb, peer);
}

static void
test_upgrader_muxer_fallback (void)
{
  static const char *const tls_only[] = { "/tls/1.0.0", NULL };

  for (guint we_initiate = 0; we_initiate < 2; we_initiate++)
    {
      g_autoptr (GIOStream) ours = NULL;
      g_autoptr (GIOStream) theirs = NULL;
      g_autoptr (PunchPrivateKey) key = fixed_key (0);
      g_autoptr (PunchPrivateKey) their_key = fixed_key (1);
      g_autoptr (GAsyncResult) result = NULL;
      g_autoptr (PunchUpgrade) upgrade = NULL;
      g_autoptr (GError) error = NULL;
      ManualPeer peer = { !we_initiate, their_key };

      socket_pair (&ours, &theirs, NULL, NULL);
      if (peer.initiator)
        punch_multistream_select_async (theirs, tls_only, NULL, manual_security_cb, &peer);
      else
        punch_multistream_handle_async (theirs, tls_only, NULL, manual_security_cb, &peer);
      punch_upgrader_upgrade_full_async (ours, we_initiate, key, NULL, NULL, NULL, store_result, &result);
      await_result (&result);
      await_flag (&peer.done);

      upgrade = punch_upgrader_upgrade_finish (result, &error);
      g_assert_no_error (error);
      g_assert_no_error (peer.error);
      g_assert_cmpstr (upgrade->security, ==, "/tls/1.0.0");
      g_assert_cmpstr (upgrade->muxer, ==, "/yamux/1.0.0");
      g_assert_cmpstr (peer.muxer, ==, "/yamux/1.0.0");
      g_assert_cmpstr (punch_peer_id_to_string (upgrade->peer_id), ==, KEY_ID[1]);
      g_assert_cmpint (punch_yamux_session_get_is_client (upgrade->session), ==, we_initiate);
      close_upgrade (upgrade);
      g_clear_object (&peer.tls);
      g_free (peer.muxer);
      drain_main_context ();
    }
}

/* A TLS dial to the wrong peer fails in the upgrader with both IDs named. */
static void
test_upgrader_wrong_peer (void)
{
  static const char *const tls_only[] = { "/tls/1.0.0", NULL };
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  g_autoptr (PunchPrivateKey) ka = fixed_key (0);
  g_autoptr (PunchPrivateKey) kb = fixed_key (1);
  g_autoptr (PunchPrivateKey) kc = fixed_key (2);
  g_autoptr (GAsyncResult) ra = NULL;
  g_autoptr (GAsyncResult) rb = NULL;
  g_autoptr (PunchUpgrade) ua = NULL;
  g_autoptr (PunchUpgrade) ub = NULL;
  g_autoptr (GError) ea = NULL;
  g_autoptr (GError) eb = NULL;

  socket_pair (&a, &b, NULL, NULL);
  punch_upgrader_upgrade_full_async (a, TRUE, ka, punch_private_key_get_peer_id (kc), tls_only,
                                     NULL, store_result, &ra);
  punch_upgrader_upgrade_full_async (b, FALSE, kb, NULL, NULL, NULL, store_result, &rb);
  await_result (&ra);
  await_result (&rb);
  ua = punch_upgrader_upgrade_finish (ra, &ea);
  ub = punch_upgrader_upgrade_finish (rb, &eb);
  g_assert_null (ua);
  g_assert_error (ea, PUNCH_ERROR, PUNCH_ERROR_PEER_ID_MISMATCH);
  g_assert_true (g_str_has_prefix (ea->message, "TLS handshake failed: "));
  g_assert_nonnull (strstr (ea->message, KEY_ID[1]));
  g_assert_nonnull (strstr (ea->message, KEY_ID[2]));
  g_test_message ("%s", ea->message);
  g_assert_null (ub);
  g_assert_nonnull (eb);
  drain_main_context ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/tls/cert/spec-vectors", test_cert_spec_vectors);
  g_test_add_func ("/core/tls/cert/round-trip", test_cert_round_trip);
  g_test_add_func ("/core/tls/cert/refused", test_cert_refused);
  g_test_add_func ("/core/tls/cert/malformed-der", test_cert_malformed_der);
  g_test_add_func ("/core/tls/cert/signed-key", test_signed_key);
  g_test_add_func ("/core/tls/handshake/basic", test_handshake_basic);
  g_test_add_func ("/core/tls/handshake/muxers", test_handshake_muxers);
  g_test_add_func ("/core/tls/handshake/wrong-peer-id", test_handshake_wrong_peer);
  g_test_add_func ("/core/tls/handshake/refused-peers", test_handshake_refused_peers);
  g_test_add_func ("/core/tls/handshake/cut", test_handshake_cut);
  g_test_add_func ("/core/tls/handshake/garbage", test_handshake_garbage);
  g_test_add_func ("/core/tls/handshake/cancelled", test_handshake_cancelled);
  g_test_add_func ("/core/tls/transport/transfer", test_transfer);
  g_test_add_func ("/core/tls/transport/close-notify", test_close_notify);
  g_test_add_func ("/core/tls/transport/close-notify-on-wire", test_close_notify_on_wire);
  g_test_add_func ("/core/tls/transport/close-pending-read", test_close_pending_read);
  g_test_add_func ("/core/tls/transport/eof-without-close-notify", test_eof_without_close_notify);
  g_test_add_func ("/core/tls/transport/garbage", test_transport_garbage);
  g_test_add_func ("/core/tls/transport/record-size", test_record_size);
  g_test_add_func ("/core/tls/transport/throughput", test_throughput);
  g_test_add_func ("/core/tls/transport/relay-sees-ciphertext", test_relay_sees_ciphertext);
  g_test_add_func ("/core/tls/upgrader/orders", test_upgrader_orders);
  g_test_add_func ("/core/tls/upgrader/wrong-peer-id", test_upgrader_wrong_peer);
  g_test_add_func ("/core/tls/upgrader/muxer-fallback", test_upgrader_muxer_fallback);

  return g_test_run ();
}
