/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-tls-cert.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "punch-error.h"
#include "punch-key-private.h"
#include "punch-openssl-private.h"

/* go-libp2p and js-libp2p: valid from an hour ago (clock skew) for 100 years. */
#define VALID_BEFORE_S (60 * 60)
#define VALID_DAYS     (100 * 365)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ASN1_OBJECT, ASN1_OBJECT_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ASN1_OCTET_STRING, ASN1_OCTET_STRING_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (X509_EXTENSION, X509_EXTENSION_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (X509_NAME, X509_NAME_free)

/* ---- SignedKey ::= SEQUENCE { publicKey OCTET STRING, signature OCTET STRING } ---- */

static void
der_put_header (GByteArray *out,
                guint8      tag,
                gsize       len)
{
  guint8 hdr[4] = { tag };
  guint n;

  g_assert (len <= 0xffff);
  if (len < 0x80)
    {
      hdr[1] = (guint8) len;
      n = 2;
    }
  else if (len <= 0xff)
    {
      hdr[1] = 0x81;
      hdr[2] = (guint8) len;
      n = 3;
    }
  else
    {
      hdr[1] = 0x82;
      hdr[2] = (guint8) (len >> 8);
      hdr[3] = (guint8) len;
      n = 4;
    }
  g_byte_array_append (out, hdr, n);
}

/* Reads one DER element with @tag at *@pos; lengths must use the shortest
 * form (DER) and fit in what is left. */
static gboolean
der_get (const guint8 *data,
         gsize         len,
         gsize        *pos,
         guint8        tag,
         const char   *what,
         const guint8 **value,
         gsize        *value_len,
         GError      **error)
{
  gsize p = *pos;
  gsize n;

  if (len - p < 2)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TRUNCATED,
                   "libp2p TLS SignedKey: %s is truncated", what);
      return FALSE;
    }
  if (data[p] != tag)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "libp2p TLS SignedKey: %s has tag 0x%02x, expected 0x%02x",
                   what, data[p], tag);
      return FALSE;
    }
  n = data[p + 1];
  p += 2;
  if (n == 0x81 || n == 0x82)
    {
      guint bytes = n & 0x7f;

      if (len - p < bytes)
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TRUNCATED,
                       "libp2p TLS SignedKey: length of %s is truncated", what);
          return FALSE;
        }
      n = bytes == 1 ? data[p] : ((gsize) data[p] << 8 | data[p + 1]);
      p += bytes;
      if ((bytes == 1 && n < 0x80) || (bytes == 2 && n < 0x100))
        {
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                       "libp2p TLS SignedKey: length of %s is not in its shortest form", what);
          return FALSE;
        }
    }
  else if (n >= 0x80)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "libp2p TLS SignedKey: length form 0x%02x of %s is not allowed",
                   (guint) n, what);
      return FALSE;
    }
  if (n > len - p)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TRUNCATED,
                   "libp2p TLS SignedKey: %s claims %" G_GSIZE_FORMAT " bytes, %" G_GSIZE_FORMAT " left",
                   what, n, len - p);
      return FALSE;
    }
  *value = data + p;
  *value_len = n;
  *pos = p + n;
  return TRUE;
}

/**
 * punch_tls_signed_key_encode:
 * @public_key: the PublicKey protobuf of the host key
 * @signature: the host key's signature
 *
 * Returns: (transfer full): the DER SignedKey
 */
GBytes *
punch_tls_signed_key_encode (GBytes *public_key,
                             GBytes *signature)
{
  g_autoptr (GByteArray) inner = g_byte_array_new ();
  GByteArray *out = g_byte_array_new ();
  gsize klen, slen;
  const guint8 *k = g_bytes_get_data (public_key, &klen);
  const guint8 *s = g_bytes_get_data (signature, &slen);

  der_put_header (inner, 0x04, klen);
  g_byte_array_append (inner, k, klen);
  der_put_header (inner, 0x04, slen);
  g_byte_array_append (inner, s, slen);
  der_put_header (out, 0x30, inner->len);
  g_byte_array_append (out, inner->data, inner->len);
  return g_byte_array_free_to_bytes (out);
}

/**
 * punch_tls_signed_key_decode:
 * @data: the extension's value
 * @len: its length
 * @public_key: (out): the PublicKey protobuf
 * @signature: (out): the signature
 * @error: return location for a #GError
 *
 * Returns: %TRUE when @data is exactly one DER SignedKey
 */
gboolean
punch_tls_signed_key_decode (const guint8 *data,
                             gsize         len,
                             GBytes      **public_key,
                             GBytes      **signature,
                             GError      **error)
{
  const guint8 *seq, *k, *s;
  gsize seq_len, klen, slen;
  gsize pos = 0, inner = 0;

  if (!der_get (data, len, &pos, 0x30, "the SEQUENCE", &seq, &seq_len, error))
    return FALSE;
  if (pos != len)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "libp2p TLS SignedKey: %" G_GSIZE_FORMAT " bytes after the SEQUENCE", len - pos);
      return FALSE;
    }
  if (!der_get (seq, seq_len, &inner, 0x04, "publicKey", &k, &klen, error) ||
      !der_get (seq, seq_len, &inner, 0x04, "signature", &s, &slen, error))
    return FALSE;
  if (inner != seq_len)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "libp2p TLS SignedKey: %" G_GSIZE_FORMAT " bytes after the signature",
                   seq_len - inner);
      return FALSE;
    }
  if (klen > PUNCH_PUBLIC_KEY_MAX_LEN || slen > PUNCH_SIGNATURE_MAX_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "libp2p TLS SignedKey: key of %" G_GSIZE_FORMAT " or signature of %"
                   G_GSIZE_FORMAT " bytes is over the limit", klen, slen);
      return FALSE;
    }
  *public_key = g_bytes_new (k, klen);
  *signature = g_bytes_new (s, slen);
  return TRUE;
}

/* ---- generation ---- */

static GBytes *
spki_der (X509 *cert)
{
  unsigned char *der = NULL;
  int len = i2d_X509_PUBKEY (X509_get_X509_PUBKEY (cert), &der);
  GBytes *bytes;

  if (len <= 0)
    return NULL;
  bytes = g_bytes_new (der, (gsize) len);
  OPENSSL_free (der);
  return bytes;
}

static GBytes *
signed_data (GBytes *spki)
{
  GByteArray *data = g_byte_array_new ();

  g_byte_array_append (data, (const guint8 *) PUNCH_TLS_SIGNATURE_PREFIX,
                       strlen (PUNCH_TLS_SIGNATURE_PREFIX));
  g_byte_array_append (data, g_bytes_get_data (spki, NULL), g_bytes_get_size (spki));
  return g_byte_array_free_to_bytes (data);
}

X509 *
punch_tls_cert_generate (PunchPrivateKey *identity,
                         EVP_PKEY       **cert_key,
                         GError         **error)
{
  g_autoptr (EVP_PKEY) key = NULL;
  g_autoptr (X509) cert = NULL;
  g_autoptr (BIGNUM) serial = NULL;
  g_autoptr (X509_NAME) name = NULL;
  g_autoptr (GBytes) spki = NULL;
  g_autoptr (GBytes) to_sign = NULL;
  g_autoptr (GBytes) signature = NULL;
  g_autoptr (GBytes) signed_key = NULL;
  g_autoptr (ASN1_OBJECT) oid = NULL;
  g_autoptr (ASN1_OCTET_STRING) value = NULL;
  g_autoptr (X509_EXTENSION) ext = NULL;
  char *serial_text;
  int ok;

  g_return_val_if_fail (PUNCH_IS_PRIVATE_KEY (identity), NULL);
  g_return_val_if_fail (cert_key != NULL, NULL);

  key = EVP_EC_gen ("P-256");
  cert = X509_new ();
  serial = BN_new ();
  name = X509_NAME_new ();
  if (key == NULL || cert == NULL || serial == NULL || name == NULL)
    {
      punch_set_openssl_error (error, "TLS certificate key generation");
      return NULL;
    }

  /* A random positive 63-bit serial, also used as the subject, as go does. */
  if (!BN_rand (serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
      BN_to_ASN1_INTEGER (serial, X509_get_serialNumber (cert)) == NULL ||
      (serial_text = BN_bn2dec (serial)) == NULL)
    {
      punch_set_openssl_error (error, "TLS certificate serial");
      return NULL;
    }
  ok = X509_NAME_add_entry_by_txt (name, "serialNumber", MBSTRING_ASC,
                                   (const unsigned char *) serial_text, -1, -1, 0);
  OPENSSL_free (serial_text);
  if (!ok ||
      !X509_set_version (cert, X509_VERSION_3) ||
      !X509_set_subject_name (cert, name) ||
      !X509_set_issuer_name (cert, name) ||
      X509_gmtime_adj (X509_getm_notBefore (cert), -VALID_BEFORE_S) == NULL ||
      X509_time_adj_ex (X509_getm_notAfter (cert), VALID_DAYS, 0, NULL) == NULL ||
      !X509_set_pubkey (cert, key))
    {
      punch_set_openssl_error (error, "TLS certificate fields");
      return NULL;
    }

  spki = spki_der (cert);
  if (spki == NULL)
    {
      punch_set_openssl_error (error, "TLS certificate key encoding");
      return NULL;
    }
  to_sign = signed_data (spki);
  signature = punch_private_key_sign (identity, g_bytes_get_data (to_sign, NULL),
                                      g_bytes_get_size (to_sign), error);
  if (signature == NULL)
    return NULL;
  signed_key = punch_tls_signed_key_encode (punch_public_key_get_protobuf (punch_private_key_get_public_key (identity)),
                                            signature);

  /* js-libp2p looks for the libp2p extension first in the list: it is the
   * only one. Critical, as go and js mark it. */
  oid = OBJ_txt2obj (PUNCH_TLS_EXTENSION_OID, 1);
  value = ASN1_OCTET_STRING_new ();
  if (oid == NULL || value == NULL ||
      !ASN1_OCTET_STRING_set (value, g_bytes_get_data (signed_key, NULL),
                              (int) g_bytes_get_size (signed_key)) ||
      (ext = X509_EXTENSION_create_by_OBJ (NULL, oid, 1, value)) == NULL ||
      !X509_add_ext (cert, ext, -1) ||
      X509_sign (cert, key, EVP_sha256 ()) <= 0)
    {
      punch_set_openssl_error (error, "TLS certificate signing");
      return NULL;
    }

  *cert_key = g_steal_pointer (&key);
  return g_steal_pointer (&cert);
}

/* ---- verification ---- */

PunchPublicKey *
punch_tls_cert_verify (X509    *cert,
                       gint64   now,
                       GError **error)
{
  time_t t = (time_t) now;
  const ASN1_BIT_STRING *issuer_uid = NULL;
  const ASN1_BIT_STRING *subject_uid = NULL;
  g_autoptr (ASN1_OBJECT) oid = NULL;
  X509_EXTENSION *found = NULL;
  const ASN1_OCTET_STRING *value;
  g_autoptr (GBytes) key_pb = NULL;
  g_autoptr (GBytes) signature = NULL;
  g_autoptr (PunchPublicKey) key = NULL;
  g_autoptr (GBytes) spki = NULL;
  g_autoptr (GBytes) to_verify = NULL;
  g_autoptr (GError) local_error = NULL;
  EVP_PKEY *cert_key;
  int cmp;

  g_return_val_if_fail (cert != NULL, NULL);

  cmp = X509_cmp_time (X509_get0_notBefore (cert), &t);
  if (cmp == 0)
    {
      ERR_clear_error ();
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                           "The peer's TLS certificate has a malformed notBefore date");
      return NULL;
    }
  if (cmp > 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                           "The peer's TLS certificate is not valid yet (notBefore is in the future)");
      return NULL;
    }
  cmp = X509_cmp_time (X509_get0_notAfter (cert), &t);
  if (cmp == 0)
    {
      ERR_clear_error ();
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                           "The peer's TLS certificate has a malformed notAfter date");
      return NULL;
    }
  if (cmp < 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                           "The peer's TLS certificate has expired (notAfter is in the past)");
      return NULL;
    }

  cert_key = X509_get0_pubkey (cert);
  if (cert_key == NULL)
    {
      ERR_clear_error ();
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                           "The peer's TLS certificate has a key type we cannot use");
      return NULL;
    }
  if (X509_NAME_cmp (X509_get_issuer_name (cert), X509_get_subject_name (cert)) != 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                           "The peer's TLS certificate is not self-signed (issuer differs from subject)");
      return NULL;
    }
  if (X509_verify (cert, cert_key) != 1)
    {
      ERR_clear_error ();
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_BAD_SIGNATURE,
                           "The peer's TLS certificate has an invalid self-signature");
      return NULL;
    }
  X509_get0_uids (cert, &issuer_uid, &subject_uid);
  if (issuer_uid != NULL || subject_uid != NULL)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                           "The peer's TLS certificate has the deprecated issuerUniqueID or subjectUniqueID");
      return NULL;
    }

  oid = OBJ_txt2obj (PUNCH_TLS_EXTENSION_OID, 1);
  if (oid == NULL)
    {
      punch_set_openssl_error (error, "OID parsing");
      return NULL;
    }
  for (int i = 0; i < X509_get_ext_count (cert); i++)
    {
      X509_EXTENSION *ext = X509_get_ext (cert, i);
      ASN1_OBJECT *ext_oid = X509_EXTENSION_get_object (ext);

      if (OBJ_cmp (ext_oid, oid) == 0)
        {
          if (found != NULL)
            {
              g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                                   "The peer's TLS certificate has the libp2p extension twice");
              return NULL;
            }
          found = ext;
        }
      else if (X509_EXTENSION_get_critical (ext) && !X509_supported_extension (ext))
        {
          char text[80];

          OBJ_obj2txt (text, sizeof text, ext_oid, 1);
          g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                       "The peer's TLS certificate has an unknown critical extension %s", text);
          return NULL;
        }
    }
  if (found == NULL)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                           "The peer's TLS certificate lacks the libp2p public key extension ("
                           PUNCH_TLS_EXTENSION_OID ")");
      return NULL;
    }

  value = X509_EXTENSION_get_data (found);
  if (!punch_tls_signed_key_decode (ASN1_STRING_get0_data (value),
                                    (gsize) ASN1_STRING_length (value),
                                    &key_pb, &signature, error))
    return NULL;
  key = punch_public_key_new_from_protobuf (g_bytes_get_data (key_pb, NULL),
                                            g_bytes_get_size (key_pb), &local_error);
  if (key == NULL)
    {
      g_set_error (error, local_error->domain, local_error->code,
                   "The host key in the peer's TLS certificate is unusable: %s",
                   local_error->message);
      return NULL;
    }

  spki = spki_der (cert);
  if (spki == NULL)
    {
      punch_set_openssl_error (error, "TLS certificate key encoding");
      return NULL;
    }
  to_verify = signed_data (spki);
  if (!punch_public_key_verify (key, g_bytes_get_data (to_verify, NULL), g_bytes_get_size (to_verify),
                                g_bytes_get_data (signature, NULL), g_bytes_get_size (signature),
                                &local_error))
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_BAD_SIGNATURE,
                   "The host key's signature in the peer's TLS certificate (peer %s) is invalid: %s",
                   punch_peer_id_to_string (punch_public_key_get_peer_id (key)),
                   local_error->message);
      return NULL;
    }
  return g_steal_pointer (&key);
}

PunchPublicKey *
punch_tls_cert_verify_der (const guint8 *der,
                           gsize         len,
                           gint64        now,
                           GError      **error)
{
  const unsigned char *p = der;
  g_autoptr (X509) cert = NULL;

  if (len > PUNCH_TLS_CERT_MAX_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "TLS certificate of %" G_GSIZE_FORMAT " bytes is over the %d byte limit",
                   len, PUNCH_TLS_CERT_MAX_LEN);
      return NULL;
    }
  cert = d2i_X509 (NULL, &p, (long) len);
  if (cert == NULL)
    {
      ERR_clear_error ();
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                           "Not a DER X.509 certificate");
      return NULL;
    }
  if (p != der + len)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "%" G_GSIZE_FORMAT " bytes after the DER X.509 certificate",
                   (gsize) (der + len - p));
      return NULL;
    }
  return punch_tls_cert_verify (cert, now, error);
}
