/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-private-key.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "crypto-test-util.h"
#include "punch-error.h"
#include "punch-key-private.h"

/* RFC 8032 section 7.1, tests 1 and 2. */
typedef struct
{
  const char *seed;
  const char *public_key;
  const char *message;
  const char *signature;
} Rfc8032Vector;

static const Rfc8032Vector rfc8032[] = {
  {
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "",
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    "72",
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
};

static GBytes *
encode_hex_key (guint type, const char *hex)
{
  g_autoptr (GBytes) raw = test_from_hex (hex);

  return test_encode_key (type, g_bytes_get_data (raw, NULL), g_bytes_get_size (raw));
}

static PunchPrivateKey *
parse_ok (GBytes *encoded)
{
  g_autoptr (GError) error = NULL;
  PunchPrivateKey *key = punch_private_key_new_from_protobuf (g_bytes_get_data (encoded, NULL),
                                                              g_bytes_get_size (encoded), &error);

  g_assert_no_error (error);
  g_assert_nonnull (key);
  return key;
}

static void
test_rfc8032 (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (rfc8032); i++)
    {
      g_autofree char *keypair = g_strconcat (rfc8032[i].seed, rfc8032[i].public_key, NULL);
      g_autofree char *public_key = g_strconcat ("08011220", rfc8032[i].public_key, NULL);
      g_autoptr (GBytes) encoded = encode_hex_key (1, keypair);
      g_autoptr (GBytes) expected_public = test_from_hex (public_key);
      g_autoptr (GBytes) msg = test_from_hex (rfc8032[i].message);
      g_autoptr (GBytes) expected_sig = test_from_hex (rfc8032[i].signature);
      g_autoptr (PunchPrivateKey) key = parse_ok (encoded);
      g_autoptr (GBytes) sig = NULL;
      g_autoptr (GError) error = NULL;

      g_assert_true (g_bytes_equal (punch_private_key_get_protobuf (key), encoded));
      g_assert_true (g_bytes_equal (punch_public_key_get_protobuf (punch_private_key_get_public_key (key)),
                                    expected_public));
      sig = punch_private_key_sign (key, g_bytes_get_data (msg, NULL), g_bytes_get_size (msg), &error);
      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (sig, expected_sig));
      g_assert_true (punch_public_key_verify (punch_private_key_get_public_key (key),
                                              g_bytes_get_data (msg, NULL), g_bytes_get_size (msg),
                                              g_bytes_get_data (sig, NULL), g_bytes_get_size (sig),
                                              &error));
      g_assert_no_error (error);
    }
}

static void
test_generate (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) a = punch_private_key_generate (&error);
  g_autoptr (PunchPrivateKey) b = punch_private_key_generate (&error);
  g_autoptr (PunchPrivateKey) reparsed = NULL;
  g_autoptr (GBytes) sig = NULL;
  GBytes *encoded;
  const guint8 *data;
  gsize len;
  const guint8 *pub;
  gsize pub_len;

  g_assert_no_error (error);
  g_assert_false (punch_peer_id_equal (punch_private_key_get_peer_id (a),
                                       punch_private_key_get_peer_id (b)));

  /* 08 01 12 40 seed(32) pub(32) */
  encoded = punch_private_key_get_protobuf (a);
  data = g_bytes_get_data (encoded, &len);
  g_assert_cmpuint (len, ==, 68);
  g_assert_cmpmem (data, 4, "\x08\x01\x12\x40", 4);
  pub = g_bytes_get_data (punch_public_key_get_protobuf (punch_private_key_get_public_key (a)), &pub_len);
  g_assert_cmpmem (data + 36, 32, pub + 4, 32);

  reparsed = parse_ok (encoded);
  g_assert_true (g_bytes_equal (punch_private_key_get_protobuf (reparsed), encoded));
  g_assert_true (punch_peer_id_equal (punch_private_key_get_peer_id (a),
                                      punch_private_key_get_peer_id (reparsed)));

  sig = punch_private_key_sign (a, (const guint8 *) "x", 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (sig), ==, 64);
  g_assert_true (punch_public_key_verify (punch_private_key_get_public_key (reparsed), (const guint8 *) "x", 1,
                                          g_bytes_get_data (sig, NULL), 64, &error));
  g_assert_false (punch_public_key_verify (punch_private_key_get_public_key (b), (const guint8 *) "x", 1,
                                           g_bytes_get_data (sig, NULL), 64, &error));
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_BAD_SIGNATURE);

  /* The EVP key is the private one (the TLS layer signs with it). */
  g_assert_true (EVP_PKEY_is_a (punch_private_key_get_evp (a), "ED25519"));
  {
    guint8 seed[32];
    size_t seed_len = sizeof seed;

    g_assert_cmpint (EVP_PKEY_get_raw_private_key (punch_private_key_get_evp (a), seed, &seed_len), ==, 1);
    g_assert_cmpmem (seed, 32, data + 4, 32);
  }
}

static void
test_legacy_96 (void)
{
  const Rfc8032Vector *v = &rfc8032[0];
  g_autofree char *legacy_hex = g_strconcat (v->seed, v->public_key, v->public_key, NULL);
  g_autofree char *modern_hex = g_strconcat (v->seed, v->public_key, NULL);
  g_autofree char *mismatch_hex = g_strconcat (v->seed, v->public_key, rfc8032[1].public_key, NULL);
  g_autoptr (GBytes) legacy = encode_hex_key (1, legacy_hex);
  g_autoptr (GBytes) modern = encode_hex_key (1, modern_hex);
  g_autoptr (GBytes) mismatch = encode_hex_key (1, mismatch_hex);
  g_autoptr (PunchPrivateKey) key = parse_ok (legacy);
  g_autoptr (PunchPrivateKey) bad = NULL;
  g_autoptr (GError) error = NULL;

  /* Re-encoded in today's 64-byte form. */
  g_assert_true (g_bytes_equal (punch_private_key_get_protobuf (key), modern));

  bad = punch_private_key_new_from_protobuf (g_bytes_get_data (mismatch, NULL),
                                             g_bytes_get_size (mismatch), &error);
  g_assert_null (bad);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_MALFORMED);
}

typedef struct
{
  const char *name;
  GBytes     *encoded;
  gint        code;
} BadCase;

static void
test_bad_input (void)
{
  const Rfc8032Vector *v = &rfc8032[0];
  g_autofree char *keypair = g_strconcat (v->seed, v->public_key, NULL);
  /* A seed paired with another key's public half. */
  g_autofree char *mismatched = g_strconcat (v->seed, rfc8032[1].public_key, NULL);
  g_autofree char *legacy_both_wrong = g_strconcat (v->seed, rfc8032[1].public_key,
                                                    rfc8032[1].public_key, NULL);
  g_autofree guint8 *big = g_malloc0 (9000);
  g_autoptr (GBytes) good = encode_hex_key (1, keypair);
  BadCase cases[] = {
    { "empty", g_bytes_new (NULL, 0), PUNCH_ERROR_MALFORMED },
    { "garbage", test_from_hex ("ffffffffffff"), PUNCH_ERROR_MALFORMED },
    { "truncated", g_bytes_new_from_bytes (good, 0, g_bytes_get_size (good) - 1), PUNCH_ERROR_MALFORMED },
    { "type only", test_from_hex ("0801"), PUNCH_ERROR_MALFORMED },
    { "seed only", encode_hex_key (1, v->seed), PUNCH_ERROR_MALFORMED },
    { "63 bytes", test_encode_key (1, big, 63), PUNCH_ERROR_MALFORMED },
    { "65 bytes", test_encode_key (1, big, 65), PUNCH_ERROR_MALFORMED },
    { "128 bytes", test_encode_key (1, big, 128), PUNCH_ERROR_MALFORMED },
    { "mismatched public half", encode_hex_key (1, mismatched), PUNCH_ERROR_MALFORMED },
    { "legacy, both halves wrong", encode_hex_key (1, legacy_both_wrong), PUNCH_ERROR_MALFORMED },
    { "rsa", encode_hex_key (0, keypair), PUNCH_ERROR_UNSUPPORTED },
    { "secp256k1", encode_hex_key (2, v->seed), PUNCH_ERROR_UNSUPPORTED },
    { "unknown type", encode_hex_key (9, keypair), PUNCH_ERROR_UNSUPPORTED },
    { "oversized", g_bytes_new (big, 9000), PUNCH_ERROR_TOO_LARGE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchPrivateKey) key = NULL;

      g_test_message ("case %s", cases[i].name);
      key = punch_private_key_new_from_protobuf (g_bytes_get_data (cases[i].encoded, NULL),
                                                 g_bytes_get_size (cases[i].encoded), &error);
      g_assert_null (key);
      g_assert_error (error, PUNCH_ERROR, cases[i].code);
      g_assert_cmpuint (ERR_peek_error (), ==, 0);
      g_bytes_unref (cases[i].encoded);
    }
}

static void
test_default_path (void)
{
  g_autofree char *path = punch_private_key_default_path ();

  /* main() pointed XDG_CONFIG_HOME here before GLib first read it. */
  g_assert_cmpstr (path, ==, "/nonexistent/punch-config/punchline/identity.key");
}

static char *
make_tmp_dir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("punch-key-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
rm_rf (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          rm_rf (child);
        }
    }
  g_remove (path);
}

static guint
count_entries (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void
test_file_create_and_reload (void)
{
  g_autofree char *root = make_tmp_dir ();
  g_autofree char *folder = g_build_filename (root, "config", "punchline", NULL);
  g_autofree char *path = g_build_filename (folder, "identity.key", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) first = NULL;
  g_autoptr (PunchPrivateKey) second = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;
  struct stat st;
  mode_t old_umask = umask (022);

  first = punch_private_key_load_or_create (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (first);

  g_assert_cmpint (g_stat (folder, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 0777, ==, 0700);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpuint (st.st_mode & 0777, ==, 0600);
  /* Only the key: no temporary file left behind. */
  g_assert_cmpuint (count_entries (folder), ==, 1);

  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_assert_cmpmem (contents, len,
                   g_bytes_get_data (punch_private_key_get_protobuf (first), NULL),
                   g_bytes_get_size (punch_private_key_get_protobuf (first)));

  second = punch_private_key_load_or_create (path, &error);
  g_assert_no_error (error);
  g_assert_true (punch_peer_id_equal (punch_private_key_get_peer_id (first),
                                      punch_private_key_get_peer_id (second)));

  umask (old_umask);
  rm_rf (root);
}

/* A key another program wrote (e.g. go-libp2p's identity in the legacy form)
 * loads unchanged and is not rewritten. */
static void
test_file_existing (void)
{
  g_autofree char *root = make_tmp_dir ();
  g_autofree char *path = g_build_filename (root, "identity.key", NULL);
  const Rfc8032Vector *v = &rfc8032[1];
  g_autofree char *legacy_hex = g_strconcat (v->seed, v->public_key, v->public_key, NULL);
  g_autoptr (GBytes) legacy = encode_hex_key (1, legacy_hex);
  g_autoptr (GBytes) expected_public = NULL;
  g_autoptr (PunchPrivateKey) key = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *public_hex = g_strconcat ("08011220", v->public_key, NULL);
  gsize len = 0;

  g_assert_true (g_file_set_contents_full (path, g_bytes_get_data (legacy, NULL), g_bytes_get_size (legacy),
                                           G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL));
  key = punch_private_key_load_or_create (path, &error);
  g_assert_no_error (error);
  expected_public = test_from_hex (public_hex);
  g_assert_true (g_bytes_equal (punch_public_key_get_protobuf (punch_private_key_get_public_key (key)),
                                expected_public));
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_assert_cmpmem (contents, len, g_bytes_get_data (legacy, NULL), g_bytes_get_size (legacy));

  /* Owner-only modes stricter than 0600 are fine. */
  g_assert_cmpint (g_chmod (path, 0400), ==, 0);
  g_clear_object (&key);
  key = punch_private_key_load_or_create (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (key);

  rm_rf (root);
}

static void
test_file_permissions (void)
{
  static const guint modes[] = { 0644, 0640, 0604, 0620, 0602, 0660, 0666, 0610, 0601 };
  g_autofree char *root = make_tmp_dir ();
  g_autofree char *path = g_build_filename (root, "identity.key", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) created = punch_private_key_load_or_create (path, &error);
  g_autofree char *before = NULL;
  gsize before_len = 0;

  g_assert_no_error (error);
  g_assert_nonnull (created);
  g_assert_true (g_file_get_contents (path, &before, &before_len, NULL));

  for (guint i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      g_autoptr (PunchPrivateKey) key = NULL;
      g_autofree char *mode_text = g_strdup_printf ("%04o", modes[i]);
      g_autofree char *after = NULL;
      gsize after_len = 0;

      g_test_message ("mode %s", mode_text);
      g_assert_cmpint (g_chmod (path, modes[i]), ==, 0);
      key = punch_private_key_load_or_create (path, &error);
      g_assert_null (key);
      g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_KEY_FILE);
      /* The message names the file, the mode and the fix. */
      g_assert_nonnull (strstr (error->message, path));
      g_assert_nonnull (strstr (error->message, mode_text));
      g_assert_nonnull (strstr (error->message, "chmod 600"));
      g_clear_error (&error);

      g_assert_true (g_file_get_contents (path, &after, &after_len, NULL));
      g_assert_cmpmem (after, after_len, before, before_len);
    }

  rm_rf (root);
}

static void
test_file_unparsable (void)
{
  g_autofree char *root = make_tmp_dir ();
  g_autofree char *path = g_build_filename (root, "identity.key", NULL);
  g_autofree guint8 *big = g_malloc0 (10000);
  struct
  {
    const char *name;
    const guint8 *data;
    gsize len;
  } cases[] = {
    { "empty", (const guint8 *) "", 0 },
    { "text", (const guint8 *) "not a key\n", 10 },
    { "truncated", (const guint8 *) "\x08\x01\x12\x40\x01\x02", 6 },
    { "rsa", (const guint8 *) "\x08\x00\x12\x02\x30\x00", 6 },
    { "oversized", big, 10000 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PunchPrivateKey) key = NULL;
      g_autofree char *after = NULL;
      gsize after_len = 0;

      g_test_message ("case %s", cases[i].name);
      g_assert_true (g_file_set_contents_full (path, (const char *) cases[i].data, (gssize) cases[i].len,
                                               G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL));
      key = punch_private_key_load_or_create (path, &error);
      g_assert_null (key);
      g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_KEY_FILE);
      g_assert_nonnull (strstr (error->message, path));

      /* Never overwritten: the user decides what to do with it. */
      g_assert_true (g_file_get_contents (path, &after, &after_len, NULL));
      g_assert_cmpmem (after, after_len, cases[i].data, cases[i].len);
    }

  rm_rf (root);
}

static void
test_file_not_regular (void)
{
  g_autofree char *root = make_tmp_dir ();
  g_autofree char *path = g_build_filename (root, "identity.key", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = NULL;

  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  key = punch_private_key_load_or_create (path, &error);
  g_assert_null (key);
  g_assert_error (error, PUNCH_ERROR, PUNCH_ERROR_KEY_FILE);

  rm_rf (root);
}

/* The folder cannot be made: a plain file stands where it should be. */
static void
test_file_folder_blocked (void)
{
  g_autofree char *root = make_tmp_dir ();
  g_autofree char *blocker = g_build_filename (root, "punchline", NULL);
  g_autofree char *path = g_build_filename (blocker, "identity.key", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = NULL;

  g_assert_true (g_file_set_contents (blocker, "x", 1, NULL));
  key = punch_private_key_load_or_create (path, &error);
  g_assert_null (key);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, blocker));

  rm_rf (root);
}

/* The folder cannot be created: its parent is a dangling symlink. */
static void
test_file_folder_uncreatable (void)
{
  g_autofree char *root = make_tmp_dir ();
  g_autofree char *link = g_build_filename (root, "config", NULL);
  g_autofree char *target = g_build_filename (root, "gone", NULL);
  g_autofree char *path = g_build_filename (link, "punchline", "identity.key", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) key = NULL;

  g_assert_cmpint (symlink (target, link), ==, 0);
  key = punch_private_key_load_or_create (path, &error);
  g_assert_null (key);
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_IO_ERROR);
  g_assert_nonnull (strstr (error->message, "Cannot create folder"));
  g_assert_false (g_file_test (target, G_FILE_TEST_EXISTS));

  rm_rf (root);
}

#define RACERS 8

/* Several processes start at once on a fresh path: whoever creates the file
 * first wins, and every process must end up with that same identity. */
static void
test_file_creation_race (void)
{
  g_autofree char *root = make_tmp_dir ();
  g_autofree char *path = g_build_filename (root, "new", "identity.key", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PunchPrivateKey) final = NULL;
  int go[2], results[2];
  pid_t pids[RACERS];
  char buf[RACERS * 128];
  gsize got = 0;
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  g_auto (GStrv) lines = NULL;
  guint n_lines = 0;

  g_assert_cmpint (pipe (go), ==, 0);
  g_assert_cmpint (pipe (results), ==, 0);
  for (guint i = 0; i < RACERS; i++)
    {
      pids[i] = fork ();
      g_assert_cmpint (pids[i], >=, 0);
      if (pids[i] == 0)
        {
          PunchPrivateKey *key;
          char start;
          char *line;

          close (go[1]);
          close (results[0]);
          /* Wait for the starting gun (EOF when the parent closes its end). */
          if (read (go[0], &start, 1) < 0)
            _exit (2);
          key = punch_private_key_load_or_create (path, NULL);
          line = g_strdup_printf ("%s\n", key != NULL
                                  ? punch_peer_id_to_string (punch_private_key_get_peer_id (key))
                                  : "FAILED");
          /* One short write: atomic on a pipe. */
          if (write (results[1], line, strlen (line)) < 0)
            _exit (2);
          _exit (0);
        }
    }
  close (go[0]);
  close (results[1]);
  close (go[1]);

  for (;;)
    {
      ssize_t n;

      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      n = read (results[0], buf + got, sizeof buf - 1 - got);
      if (n < 0 && errno == EINTR)
        continue;
      g_assert_cmpint (n, >=, 0);
      if (n == 0)
        break;
      got += (gsize) n;
    }
  close (results[0]);
  buf[got] = '\0';

  for (guint i = 0; i < RACERS; i++)
    {
      int status = 0;

      while (waitpid (pids[i], &status, WNOHANG) == 0)
        {
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          g_usleep (1000);
        }
      g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }

  final = punch_private_key_load_or_create (path, &error);
  g_assert_no_error (error);
  lines = g_strsplit (g_strchomp (buf), "\n", -1);
  n_lines = g_strv_length (lines);
  g_assert_cmpuint (n_lines, ==, RACERS);
  for (guint i = 0; i < n_lines; i++)
    g_assert_cmpstr (lines[i], ==, punch_peer_id_to_string (punch_private_key_get_peer_id (final)));
  /* And no temporary file left behind by the losers. */
  {
    g_autofree char *folder = g_path_get_dirname (path);

    g_assert_cmpuint (count_entries (folder), ==, 1);
  }

  rm_rf (root);
}

int
main (int argc, char **argv)
{
  /* Set before anything reads it, so no test can touch the real identity.
   * (G_TEST_OPTION_ISOLATE_DIRS would do more, but leaks under ASan.) */
  g_setenv ("XDG_CONFIG_HOME", "/nonexistent/punch-config", TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/private-key/rfc8032", test_rfc8032);
  g_test_add_func ("/core/private-key/generate", test_generate);
  g_test_add_func ("/core/private-key/legacy-96", test_legacy_96);
  g_test_add_func ("/core/private-key/bad-input", test_bad_input);
  g_test_add_func ("/core/private-key/default-path", test_default_path);
  g_test_add_func ("/core/private-key/file/create-and-reload", test_file_create_and_reload);
  g_test_add_func ("/core/private-key/file/existing", test_file_existing);
  g_test_add_func ("/core/private-key/file/permissions", test_file_permissions);
  g_test_add_func ("/core/private-key/file/unparsable", test_file_unparsable);
  g_test_add_func ("/core/private-key/file/not-regular", test_file_not_regular);
  g_test_add_func ("/core/private-key/file/folder-blocked", test_file_folder_blocked);
  g_test_add_func ("/core/private-key/file/folder-uncreatable", test_file_folder_uncreatable);
  g_test_add_func ("/core/private-key/file/creation-race", test_file_creation_race);

  return g_test_run ();
}
