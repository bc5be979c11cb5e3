/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-private-key.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "keys.pb-c.h"
#include "punch-error.h"
#include "punch-key-private.h"
#include "punch-openssl-private.h"

PUNCH_DEFINE_PROTOBUF_CLEANUP (Crypto__Pb__PrivateKey, crypto__pb__private_key)

#define ED25519_SEED_LEN 32
#define ED25519_PUBLIC_LEN 32
#define ED25519_SIGNATURE_LEN 64
/* Room for any libp2p PrivateKey we might meet (RSA-4096 PKCS#1 is ~2.4 KB),
 * though only Ed25519 is accepted. */
#define PRIVATE_KEY_MAX_LEN 8192

struct _PunchPrivateKey
{
  GObject         parent_instance;

  EVP_PKEY       *pkey;
  PunchPublicKey *public_key;
  GBytes         *protobuf;  /* secret: wiped when freed */
};

G_DEFINE_FINAL_TYPE (PunchPrivateKey, punch_private_key, G_TYPE_OBJECT)

static void
punch_private_key_finalize (GObject *object)
{
  PunchPrivateKey *self = PUNCH_PRIVATE_KEY (object);

  g_clear_pointer (&self->pkey, EVP_PKEY_free);
  g_clear_object (&self->public_key);
  g_clear_pointer (&self->protobuf, g_bytes_unref);

  G_OBJECT_CLASS (punch_private_key_parent_class)->finalize (object);
}

static void
punch_private_key_class_init (PunchPrivateKeyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = punch_private_key_finalize;
}

static void
punch_private_key_init (PunchPrivateKey *self)
{
}

typedef struct
{
  gsize  len;
  guint8 data[];
} Secret;

static void
secret_free (gpointer data)
{
  Secret *secret = data;

  OPENSSL_cleanse (secret->data, secret->len);
  g_free (secret);
}

/* GBytes whose memory is wiped before it is released. */
static GBytes *
secret_bytes_new (const guint8 *data, gsize len)
{
  Secret *secret = g_malloc (sizeof (Secret) + len);

  secret->len = len;
  memcpy (secret->data, data, len);
  return g_bytes_new_with_free_func (secret->data, len, secret_free, secret);
}

/* Fills in the public half and the encoding; consumes @pkey. */
static PunchPrivateKey *
private_key_new_take (EVP_PKEY *pkey, GError **error)
{
  g_autoptr (PunchPrivateKey) self = g_object_new (PUNCH_TYPE_PRIVATE_KEY, NULL);
  Crypto__Pb__PrivateKey msg = CRYPTO__PB__PRIVATE_KEY__INIT;
  guint8 keypair[ED25519_SEED_LEN + ED25519_PUBLIC_LEN];
  guint8 packed[2 * (ED25519_SEED_LEN + ED25519_PUBLIC_LEN)];
  size_t seed_len = ED25519_SEED_LEN;
  size_t pub_len = ED25519_PUBLIC_LEN;
  gsize packed_len;

  self->pkey = pkey;
  if (EVP_PKEY_get_raw_private_key (pkey, keypair, &seed_len) != 1 ||
      EVP_PKEY_get_raw_public_key (pkey, keypair + ED25519_SEED_LEN, &pub_len) != 1 ||
      seed_len != ED25519_SEED_LEN || pub_len != ED25519_PUBLIC_LEN)
    {
      OPENSSL_cleanse (keypair, sizeof keypair);
      punch_set_openssl_error (error, "exporting an Ed25519 key");
      return NULL;
    }

  self->public_key = punch_public_key_new_from_data (PUNCH_KEY_TYPE_ED25519,
                                                     keypair + ED25519_SEED_LEN,
                                                     ED25519_PUBLIC_LEN, error);
  if (self->public_key == NULL)
    {
      OPENSSL_cleanse (keypair, sizeof keypair);
      return NULL;
    }

  msg.type = CRYPTO__PB__KEY_TYPE__Ed25519;
  msg.data.data = keypair;
  msg.data.len = sizeof keypair;
  packed_len = crypto__pb__private_key__get_packed_size (&msg);
  g_assert (packed_len <= sizeof packed);
  crypto__pb__private_key__pack (&msg, packed);
  self->protobuf = secret_bytes_new (packed, packed_len);

  OPENSSL_cleanse (keypair, sizeof keypair);
  OPENSSL_cleanse (packed, sizeof packed);
  return g_steal_pointer (&self);
}

/**
 * punch_private_key_generate:
 * @error: return location for a #GError
 *
 * Generates a new Ed25519 identity key.
 *
 * Returns: (transfer full) (nullable): the key, or %NULL with %PUNCH_ERROR_CRYPTO
 */
PunchPrivateKey *
punch_private_key_generate (GError **error)
{
  EVP_PKEY *pkey = EVP_PKEY_Q_keygen (NULL, NULL, "ED25519");

  if (pkey == NULL)
    {
      punch_set_openssl_error (error, "generating an Ed25519 key");
      return NULL;
    }
  return private_key_new_take (pkey, error);
}

/**
 * punch_private_key_new_from_protobuf:
 * @data: (array length=len): an encoded libp2p PrivateKey message
 * @len: length of @data
 * @error: return location for a #GError
 *
 * Parses an Ed25519 PrivateKey: Data is seed(32) || public key(32), or the
 * legacy seed || public key || public key. The public halves must match the
 * seed.
 *
 * Returns: (transfer full) (nullable): the key, or %NULL with
 *   %PUNCH_ERROR_MALFORMED, %PUNCH_ERROR_UNSUPPORTED or %PUNCH_ERROR_TOO_LARGE
 */
PunchPrivateKey *
punch_private_key_new_from_protobuf (const guint8 *data, gsize len, GError **error)
{
  g_autoptr (Crypto__Pb__PrivateKey) msg = NULL;
  g_autoptr (PunchPrivateKey) self = NULL;
  EVP_PKEY *pkey;
  guint8 *raw;
  gsize raw_len;
  gconstpointer derived;
  gsize derived_len;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (len > PRIVATE_KEY_MAX_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                   "PrivateKey message of %" G_GSIZE_FORMAT " bytes is over the %d-byte limit",
                   len, PRIVATE_KEY_MAX_LEN);
      return NULL;
    }
  msg = crypto__pb__private_key__unpack (NULL, len, data);
  if (msg == NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "malformed PrivateKey message (%" G_GSIZE_FORMAT " bytes)", len);
      return NULL;
    }
  raw = msg->data.data;
  raw_len = msg->data.len;

  if (msg->type != CRYPTO__PB__KEY_TYPE__Ed25519)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_UNSUPPORTED,
                   "private key of type %d: only Ed25519 identity keys are supported",
                   (int) msg->type);
      OPENSSL_cleanse (raw, raw_len);
      return NULL;
    }

  if (raw_len == ED25519_SEED_LEN + 2 * ED25519_PUBLIC_LEN &&
      CRYPTO_memcmp (raw + ED25519_SEED_LEN, raw + ED25519_SEED_LEN + ED25519_PUBLIC_LEN,
                     ED25519_PUBLIC_LEN) != 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                           "legacy 96-byte Ed25519 private key has two different public keys");
      OPENSSL_cleanse (raw, raw_len);
      return NULL;
    }
  if (raw_len != ED25519_SEED_LEN + ED25519_PUBLIC_LEN &&
      raw_len != ED25519_SEED_LEN + 2 * ED25519_PUBLIC_LEN)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                   "Ed25519 private key is %" G_GSIZE_FORMAT " bytes, expected 64 (or legacy 96)",
                   raw_len);
      OPENSSL_cleanse (raw, raw_len);
      return NULL;
    }

  pkey = EVP_PKEY_new_raw_private_key (EVP_PKEY_ED25519, NULL, raw, ED25519_SEED_LEN);
  if (pkey == NULL)
    {
      OPENSSL_cleanse (raw, raw_len);
      punch_set_openssl_error (error, "loading an Ed25519 private key");
      return NULL;
    }
  self = private_key_new_take (pkey, error);
  if (self == NULL)
    {
      OPENSSL_cleanse (raw, raw_len);
      return NULL;
    }

  /* A stored public half that does not belong to the seed would make every
   * signature fail at the peers; refuse it here instead. */
  derived = g_bytes_get_data (punch_public_key_get_protobuf (self->public_key), &derived_len);
  if (derived_len < ED25519_PUBLIC_LEN ||
      CRYPTO_memcmp ((const guint8 *) derived + derived_len - ED25519_PUBLIC_LEN,
                     raw + ED25519_SEED_LEN, ED25519_PUBLIC_LEN) != 0)
    {
      g_set_error_literal (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED,
                           "Ed25519 private key's public half does not match its seed");
      OPENSSL_cleanse (raw, raw_len);
      return NULL;
    }

  OPENSSL_cleanse (raw, raw_len);
  return g_steal_pointer (&self);
}

/**
 * punch_private_key_get_protobuf:
 * @self: a #PunchPrivateKey
 *
 * Returns: (transfer none): the PrivateKey encoding (seed || public key),
 *   owned by @self. It is secret.
 */
GBytes *
punch_private_key_get_protobuf (PunchPrivateKey *self)
{
  g_return_val_if_fail (PUNCH_IS_PRIVATE_KEY (self), NULL);

  return self->protobuf;
}

/**
 * punch_private_key_get_public_key:
 * @self: a #PunchPrivateKey
 *
 * Returns: (transfer none): the public half, owned by @self
 */
PunchPublicKey *
punch_private_key_get_public_key (PunchPrivateKey *self)
{
  g_return_val_if_fail (PUNCH_IS_PRIVATE_KEY (self), NULL);

  return self->public_key;
}

/**
 * punch_private_key_get_peer_id:
 * @self: a #PunchPrivateKey
 *
 * Returns: (transfer none): our peer ID, owned by @self
 */
PunchPeerId *
punch_private_key_get_peer_id (PunchPrivateKey *self)
{
  g_return_val_if_fail (PUNCH_IS_PRIVATE_KEY (self), NULL);

  return punch_public_key_get_peer_id (self->public_key);
}

/**
 * punch_private_key_get_evp:
 * @self: a #PunchPrivateKey
 *
 * Returns: (transfer none): the OpenSSL key, owned by @self
 */
EVP_PKEY *
punch_private_key_get_evp (PunchPrivateKey *self)
{
  g_return_val_if_fail (PUNCH_IS_PRIVATE_KEY (self), NULL);

  return self->pkey;
}

/**
 * punch_private_key_sign:
 * @self: a #PunchPrivateKey
 * @data: (array length=len): the message
 * @len: length of @data
 * @error: return location for a #GError
 *
 * Signs @data (pure Ed25519, RFC 8032).
 *
 * Returns: (transfer full) (nullable): the 64-byte signature, or %NULL with
 *   %PUNCH_ERROR_CRYPTO
 */
GBytes *
punch_private_key_sign (PunchPrivateKey *self,
                        const guint8    *data,
                        gsize            len,
                        GError         **error)
{
  static const guint8 empty[1] = { 0 };
  g_autoptr (EVP_MD_CTX) ctx = NULL;
  guint8 signature[ED25519_SIGNATURE_LEN];
  size_t signature_len = sizeof signature;

  g_return_val_if_fail (PUNCH_IS_PRIVATE_KEY (self), NULL);
  g_return_val_if_fail (data != NULL || len == 0, NULL);

  ctx = EVP_MD_CTX_new ();
  if (ctx == NULL ||
      EVP_DigestSignInit (ctx, NULL, NULL, NULL, self->pkey) != 1 ||
      EVP_DigestSign (ctx, signature, &signature_len, data != NULL ? data : empty, len) != 1)
    {
      punch_set_openssl_error (error, "signing");
      return NULL;
    }
  return g_bytes_new (signature, signature_len);
}

/**
 * punch_private_key_default_path:
 *
 * Returns: (transfer full): `$XDG_CONFIG_HOME/punchline/identity.key`
 */
char *
punch_private_key_default_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "punchline", "identity.key", NULL);
}

static gboolean
set_io_error (GError **error, int saved_errno, const char *what, const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "%s %s: %s", what, path, g_strerror (saved_errno));
  return FALSE;
}

/* Returns the key, or NULL with *missing set when there is no file. */
static PunchPrivateKey *
load_key_file (const char *path, gboolean *missing, GError **error)
{
  g_autoptr (PunchPrivateKey) key = NULL;
  g_autoptr (GError) local_error = NULL;
  guint8 buf[PRIVATE_KEY_MAX_LEN + 1];
  gsize len = 0;
  struct stat st;
  int fd;

  *missing = FALSE;
  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
  if (fd < 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT)
        {
          *missing = TRUE;
          return NULL;
        }
      set_io_error (error, saved_errno, "Cannot open key file", path);
      return NULL;
    }

  if (fstat (fd, &st) != 0)
    {
      int saved_errno = errno;

      close (fd);
      set_io_error (error, saved_errno, "Cannot stat key file", path);
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_KEY_FILE,
                   "Key file %s is not a regular file", path);
      return NULL;
    }
  if ((st.st_mode & 0077) != 0)
    {
      close (fd);
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_KEY_FILE,
                   "Key file %s has mode %04o: others than its owner may read or "
                   "change this secret key. Fix it with: chmod 600 %s",
                   path, (unsigned) (st.st_mode & 07777), path);
      return NULL;
    }

  /* Read one byte past the limit to notice an oversized file. */
  while (len < sizeof buf)
    {
      ssize_t n = read (fd, buf + len, sizeof buf - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          close (fd);
          OPENSSL_cleanse (buf, len);
          set_io_error (error, saved_errno, "Cannot read key file", path);
          return NULL;
        }
      if (n == 0)
        break;
      len += (gsize) n;
    }
  close (fd);

  if (len > PRIVATE_KEY_MAX_LEN)
    {
      OPENSSL_cleanse (buf, sizeof buf);
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_KEY_FILE,
                   "Key file %s is over %d bytes: not a libp2p private key",
                   path, PRIVATE_KEY_MAX_LEN);
      return NULL;
    }

  key = punch_private_key_new_from_protobuf (buf, len, &local_error);
  OPENSSL_cleanse (buf, len);
  if (key == NULL)
    {
      g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_KEY_FILE,
                   "Key file %s does not hold a usable libp2p private key (%s); "
                   "it was left untouched",
                   path, local_error->message);
      return NULL;
    }
  return g_steal_pointer (&key);
}

static gboolean
write_all (int fd, const guint8 *data, gsize len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* Writes @key to a fresh 0600 file next to @path, then moves it into place
 * without ever exposing a partial file. Sets *exists when another process
 * created @path meanwhile. */
static gboolean
save_key_file (PunchPrivateKey *key, const char *path, gboolean *exists, GError **error)
{
  g_autofree char *tmp = g_strconcat (path, ".XXXXXX", NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  GBytes *encoded = punch_private_key_get_protobuf (key);
  int fd;
  int dir_fd;

  *exists = FALSE;
  /* g_mkstemp_full() opens with O_CREAT | O_EXCL: the name is ours alone. */
  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    return set_io_error (error, errno, "Cannot create key file next to", path);

  if (!write_all (fd, g_bytes_get_data (encoded, NULL), g_bytes_get_size (encoded)) ||
      fsync (fd) != 0)
    {
      int saved_errno = errno;

      close (fd);
      g_unlink (tmp);
      return set_io_error (error, saved_errno, "Cannot write key file", tmp);
    }
  if (close (fd) != 0)
    {
      int saved_errno = errno;

      g_unlink (tmp);
      return set_io_error (error, saved_errno, "Cannot write key file", tmp);
    }

  /* link() refuses to replace a key another process just created, which
   * rename() would silently do; rename() remains for file systems without
   * hard links. */
  if (link (tmp, path) == 0)
    g_unlink (tmp);
  else if (errno == EEXIST)
    {
      g_unlink (tmp);
      *exists = TRUE;
      return FALSE;
    }
  else if (g_rename (tmp, path) != 0)
    {
      int saved_errno = errno;

      g_unlink (tmp);
      return set_io_error (error, saved_errno, "Cannot create key file", path);
    }

  /* Make the new directory entry durable too; failure here is harmless. */
  dir_fd = g_open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dir_fd >= 0)
    {
      fsync (dir_fd);
      close (dir_fd);
    }
  return TRUE;
}

/**
 * punch_private_key_load_or_create:
 * @path: the identity file, e.g. from punch_private_key_default_path()
 * @error: return location for a #GError
 *
 * Loads the identity key, or on first run generates one and stores it
 * (folder mode 0700, file mode 0600, written atomically). An existing file
 * is never overwritten: when group or others may access it, or it does not
 * parse, this fails with %PUNCH_ERROR_KEY_FILE and a message naming the fix.
 *
 * Returns: (transfer full) (nullable): the key
 */
PunchPrivateKey *
punch_private_key_load_or_create (const char *path, GError **error)
{
  g_autofree char *dir = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  /* Two rounds at most: the second when another process won the creation race. */
  for (int attempt = 0; attempt < 2; attempt++)
    {
      g_autoptr (PunchPrivateKey) key = NULL;
      gboolean missing = FALSE;
      gboolean exists = FALSE;

      key = load_key_file (path, &missing, error);
      if (key != NULL)
        return g_steal_pointer (&key);
      if (!missing)
        return NULL;

      if (dir == NULL)
        {
          dir = g_path_get_dirname (path);
          if (g_mkdir_with_parents (dir, 0700) != 0)
            {
              set_io_error (error, errno, "Cannot create folder", dir);
              return NULL;
            }
        }

      key = punch_private_key_generate (error);
      if (key == NULL)
        return NULL;
      if (save_key_file (key, path, &exists, error))
        {
          g_debug ("Created identity key %s for peer %s", path,
                   punch_peer_id_to_string (punch_private_key_get_peer_id (key)));
          return g_steal_pointer (&key);
        }
      if (!exists)
        return NULL;
    }

  g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_KEY_FILE,
               "Key file %s keeps appearing and vanishing; is another program writing it?",
               path);
  return NULL;
}
