/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-tls-engine.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>

#include "punch-error.h"
#include "punch-openssl-private.h"
#include "punch-tls-cert.h"

#define ALPN_LIBP2P "libp2p"
#define RECORD_HEADER 5
/* TLS 1.3 ciphertext limit: 2^14 plus at most 256 bytes of expansion. */
#define RECORD_MAX_CIPHERTEXT (16384 + 256)
/* One base read. OpenSSL only asks for more once it holds less than a
 * record, so the memory BIO never holds more than this plus one record. */
#define READ_CHUNK (64 * 1024)
#define SHUTDOWN_TIMEOUT_S 5

typedef struct
{
  GTask   *task;
  guint64  target;      /* done once this many ciphertext bytes were sent */
  gssize   result;
  GError  *error;       /* reported once the bytes before it went out */
  gboolean shutdown;    /* completes even when the write failed */
  gboolean handshake;   /* the handshake's own task */
} Waiter;

typedef struct
{
  guint8 *buffer;
  gsize   count;
} ReadOp;

struct _PunchTlsEngine
{
  GIOStream       *base;
  gboolean         initiator;
  PunchPrivateKey *identity;
  PunchPeerId     *expected;
  GStrv            muxers;

  SSL             *ssl;
  BIO             *rbio;        /* owned by ssl */
  BIO             *wbio;        /* owned by ssl */

  /* Record boundaries of the incoming bytes, to refuse garbage before
   * OpenSSL sees it and to tell a clean end from a cut one. */
  guint8           rec_hdr[RECORD_HEADER];
  guint            rec_hdr_len;
  gsize            rec_left;

  guint8          *rbuf;
  gboolean         reading;
  gboolean         eof;
  GError          *read_error;  /* sticky, except cancellation */
  GTask           *read_task;
  GTask           *handshake_task;
  /* While the handshake runs (its last flight or alert included), its
   * cancellable also stops the writes, so that a peer that reads nothing
   * cannot hold it. */
  GCancellable    *handshake_cancellable;
  gulong           handshake_cancel_id;
  gboolean         handshake_done;
  gboolean         shutdown_sent;

  GByteArray      *out;         /* ciphertext waiting for the base stream */
  GByteArray      *inflight;    /* ciphertext being written */
  gboolean         writing;
  guint64          queued;
  guint64          sent;
  GError          *write_error;
  GCancellable    *write_cancellable;
  GQueue           waiters;
  guint            shutdown_timeout_id;

  GError          *verify_error;
  PunchPublicKey  *remote_key;
  char            *muxer;
  const char      *cipher;
};

static void progress (PunchTlsEngine *self);
static void pump_write (PunchTlsEngine *self);

/* ---- errors ---- */

/* OpenSSL's error queue as a protocol error; a remote alert shows up here as
 * e.g. "tlsv13 alert certificate required". */
static GError *
ssl_error (const char *what)
{
  unsigned long code = ERR_get_error ();
  char reason[256] = "unknown TLS error";

  if (code != 0)
    ERR_error_string_n (code, reason, sizeof reason);
  ERR_clear_error ();
  return g_error_new (PUNCH_ERROR, PUNCH_ERROR_PROTOCOL, "%s: %s", what, reason);
}

/* ---- writing ---- */

static void
handshake_over (PunchTlsEngine *self)
{
  /* Not g_cancellable_disconnect(): this may run inside the "cancelled"
   * emission, where that would wait for itself. */
  if (self->handshake_cancel_id != 0)
    g_signal_handler_disconnect (self->handshake_cancellable, self->handshake_cancel_id);
  self->handshake_cancel_id = 0;
  g_clear_object (&self->handshake_cancellable);
}

static void
waiter_finish (Waiter *w)
{
  if (w->error != NULL)
    g_task_return_error (w->task, g_steal_pointer (&w->error));
  else
    g_task_return_int (w->task, w->result);
  g_object_unref (w->task);
  g_free (w);
}

static void
complete_waiters (PunchTlsEngine *self)
{
  Waiter *w;

  while ((w = g_queue_peek_head (&self->waiters)) != NULL)
    {
      if (self->write_error == NULL && w->target > self->sent)
        break;
      g_queue_pop_head (&self->waiters);
      if (w->target > self->sent && w->error == NULL && !w->shutdown)
        w->error = g_error_copy (self->write_error);
      if (w->shutdown && !w->handshake)
        g_clear_handle_id (&self->shutdown_timeout_id, g_source_remove);
      if (w->handshake)
        handshake_over (self);
      waiter_finish (w);
    }
}

/* Takes @task and @error. */
static void
add_waiter (PunchTlsEngine *self,
            GTask          *task,
            gssize          result,
            GError         *error,
            gboolean        shutdown)
{
  Waiter *w = g_new0 (Waiter, 1);

  w->task = task;
  w->target = self->queued;
  w->result = result;
  w->error = error;
  w->shutdown = shutdown;
  w->handshake = g_task_get_source_tag (task) == punch_tls_engine_handshake_async;
  g_queue_push_tail (&self->waiters, w);
  complete_waiters (self);
}

static void
on_base_written (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr (PunchTlsEngine) self = user_data;
  GError *error = NULL;

  self->writing = FALSE;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      g_debug ("TLS: writing to the connection failed: %s", error->message);
      if (self->write_error == NULL)
        self->write_error = error;
      else
        g_error_free (error);
      g_byte_array_set_size (self->out, 0);
    }
  else
    {
      self->sent += self->inflight->len;
    }
  g_byte_array_set_size (self->inflight, 0);
  complete_waiters (self);
  pump_write (self);
}

static void
pump_write (PunchTlsEngine *self)
{
  GByteArray *swap;

  if (self->writing || self->out->len == 0)
    return;
  if (self->write_error != NULL)
    {
      g_byte_array_set_size (self->out, 0);
      return;
    }
  swap = self->inflight;
  self->inflight = self->out;
  self->out = swap;
  self->writing = TRUE;
  g_output_stream_write_all_async (g_io_stream_get_output_stream (self->base),
                                   self->inflight->data, self->inflight->len,
                                   G_PRIORITY_DEFAULT, self->write_cancellable,
                                   on_base_written, punch_tls_engine_ref (self));
}

/* Moves whatever OpenSSL produced (records, alerts) to the write queue. */
static void
flush_wbio (PunchTlsEngine *self)
{
  size_t pending = BIO_ctrl_pending (self->wbio);
  guint old = self->out->len;
  int n;

  if (pending == 0)
    return;
  g_byte_array_set_size (self->out, old + pending);
  n = BIO_read (self->wbio, self->out->data + old, (int) pending);
  g_byte_array_set_size (self->out, old + MAX (n, 0));
  self->queued += MAX (n, 0);
  pump_write (self);
}

/* ---- reading ---- */

static gboolean
mid_record (PunchTlsEngine *self)
{
  return self->rec_hdr_len > 0 || self->rec_left > 0;
}

/* Checks record framing of @n incoming bytes and hands them to OpenSSL. */
static gboolean
feed (PunchTlsEngine *self,
      const guint8   *data,
      gsize           n,
      GError        **error)
{
  gsize i = 0;

  while (i < n)
    {
      if (self->rec_left > 0)
        {
          gsize take = MIN (self->rec_left, n - i);

          self->rec_left -= take;
          i += take;
          continue;
        }
      while (self->rec_hdr_len < RECORD_HEADER && i < n)
        self->rec_hdr[self->rec_hdr_len++] = data[i++];
      if (self->rec_hdr_len == RECORD_HEADER)
        {
          guint8 type = self->rec_hdr[0];
          gsize len = (gsize) self->rec_hdr[3] << 8 | self->rec_hdr[4];

          if (type < 20 || type > 23 || self->rec_hdr[1] != 3)
            {
              g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                           "Not a TLS record: content type 0x%02x, version 0x%02x%02x",
                           type, self->rec_hdr[1], self->rec_hdr[2]);
              return FALSE;
            }
          if (len > RECORD_MAX_CIPHERTEXT)
            {
              g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_TOO_LARGE,
                           "TLS record of %" G_GSIZE_FORMAT " bytes is over the %d byte limit",
                           len, RECORD_MAX_CIPHERTEXT);
              return FALSE;
            }
          self->rec_left = len;
          self->rec_hdr_len = 0;
        }
    }

  if (BIO_write (self->rbio, data, (int) n) != (int) n)
    {
      *error = ssl_error ("TLS: buffering incoming bytes");
      return FALSE;
    }
  return TRUE;
}

static GError *
eof_error (PunchTlsEngine *self,
           const char     *during)
{
  if (mid_record (self))
    return g_error_new (G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                        "TLS connection closed in the middle of a record, %s", during);
  return g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                      "TLS connection closed %s", during);
}

static void
on_base_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (PunchTlsEngine) self = user_data;
  GError *error = NULL;
  gssize n;

  self->reading = FALSE;
  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      /* A cancelled read lost nothing: only the operation that asked fails. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          GTask *task = self->read_task != NULL ? g_steal_pointer (&self->read_task)
                                                : g_steal_pointer (&self->handshake_task);

          if (task != NULL)
            {
              if (g_task_get_source_tag (task) == punch_tls_engine_handshake_async)
                handshake_over (self);
              g_task_return_error (task, error);
              g_object_unref (task);
            }
          else
            g_error_free (error);
          progress (self);
          return;
        }
      if (self->read_error == NULL)
        self->read_error = error;
      else
        g_error_free (error);
    }
  else if (n == 0)
    {
      self->eof = TRUE;
    }
  else if (!feed (self, self->rbuf, (gsize) n, &error))
    {
      g_debug ("TLS: %s", error->message);
      if (self->read_error == NULL)
        self->read_error = error;
      else
        g_error_free (error);
    }
  progress (self);
}

static void
start_base_read (PunchTlsEngine *self)
{
  GTask *task = self->read_task != NULL ? self->read_task : self->handshake_task;

  if (self->reading || self->eof || self->read_error != NULL || task == NULL)
    return;
  if (self->rbuf == NULL)
    self->rbuf = g_malloc (READ_CHUNK);
  self->reading = TRUE;
  g_input_stream_read_async (g_io_stream_get_input_stream (self->base),
                             self->rbuf, READ_CHUNK,
                             g_task_get_priority (task), g_task_get_cancellable (task),
                             on_base_read, punch_tls_engine_ref (self));
}

/* ---- handshake ---- */

static int
verify_peer (X509_STORE_CTX *store,
             void           *arg)
{
  SSL *ssl = X509_STORE_CTX_get_ex_data (store, SSL_get_ex_data_X509_STORE_CTX_idx ());
  PunchTlsEngine *self = SSL_get_app_data (ssl);
  STACK_OF (X509) *chain = X509_STORE_CTX_get0_untrusted (store);
  X509 *leaf = X509_STORE_CTX_get0_cert (store);
  int count = chain != NULL ? sk_X509_num (chain) : (leaf != NULL ? 1 : 0);
  g_autoptr (PunchPublicKey) key = NULL;
  GError *error = NULL;

  g_clear_error (&self->verify_error);
  if (count != 1 || leaf == NULL)
    {
      g_set_error (&error, PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                   "The peer sent %d TLS certificates; libp2p allows exactly one", count);
      goto fail;
    }
  key = punch_tls_cert_verify (leaf, g_get_real_time () / G_USEC_PER_SEC, &error);
  if (key == NULL)
    goto fail;
  if (self->expected != NULL &&
      !punch_peer_id_equal (self->expected, punch_public_key_get_peer_id (key)))
    {
      g_set_error (&error, PUNCH_ERROR, PUNCH_ERROR_PEER_ID_MISMATCH,
                   "TLS handshake: expected peer %s but the remote authenticated as %s",
                   punch_peer_id_to_string (self->expected),
                   punch_peer_id_to_string (punch_public_key_get_peer_id (key)));
      goto fail;
    }
  g_set_object (&self->remote_key, key);
  return 1;

fail:
  /* A refused certificate gets a bad_certificate alert; the wrong peer a
   * handshake_failure. */
  X509_STORE_CTX_set_error (store, g_error_matches (error, PUNCH_ERROR, PUNCH_ERROR_PEER_ID_MISMATCH)
                                   ? X509_V_ERR_APPLICATION_VERIFICATION : X509_V_ERR_CERT_REJECTED);
  self->verify_error = error;
  return 0;
}

static gboolean
is_muxer (PunchTlsEngine *self,
          const guint8   *proto,
          gsize           len)
{
  for (guint i = 0; self->muxers != NULL && self->muxers[i] != NULL; i++)
    if (strlen (self->muxers[i]) == len && memcmp (self->muxers[i], proto, len) == 0)
      return TRUE;
  return FALSE;
}

/* The server picks the first of the client's protocols it supports, so the
 * client's order of muxers wins; "libp2p" alone means multistream picks. */
static int
select_alpn (SSL                  *ssl,
             const unsigned char **out,
             unsigned char        *outlen,
             const unsigned char  *in,
             unsigned int          inlen,
             void                 *arg)
{
  PunchTlsEngine *self = SSL_get_app_data (ssl);
  unsigned int i = 0;

  while (i < inlen)
    {
      unsigned int len = in[i];

      if (len == 0 || len > inlen - i - 1)
        break;
      if ((len == strlen (ALPN_LIBP2P) && memcmp (in + i + 1, ALPN_LIBP2P, len) == 0) ||
          is_muxer (self, in + i + 1, len))
        {
          *out = in + i + 1;
          *outlen = (unsigned char) len;
          return SSL_TLSEXT_ERR_OK;
        }
      i += 1 + len;
    }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static void
handshake_succeeded (PunchTlsEngine *self)
{
  const unsigned char *alpn = NULL;
  unsigned int alpn_len = 0;
  GTask *task = g_steal_pointer (&self->handshake_task);
  GError *error = NULL;

  self->handshake_done = TRUE;
  SSL_get0_alpn_selected (self->ssl, &alpn, &alpn_len);
  if (alpn_len > 0 && is_muxer (self, alpn, alpn_len))
    self->muxer = g_strndup ((const char *) alpn, alpn_len);
  self->cipher = SSL_CIPHER_get_name (SSL_get_current_cipher (self->ssl));
  if (self->remote_key == NULL)
    error = g_error_new_literal (PUNCH_ERROR, PUNCH_ERROR_PROTOCOL,
                                 "TLS handshake finished without a verified peer certificate");
  g_debug ("TLS handshake (%s) done with %s, %s, muxer %s",
           self->initiator ? "client" : "server",
           self->remote_key ? punch_peer_id_to_string (punch_public_key_get_peer_id (self->remote_key)) : "?",
           self->cipher, self->muxer ? self->muxer : "(multistream)");
  /* The last flight (the client's Finished) must be out before the
   * connection is handed over. */
  add_waiter (self, task, 1, error, FALSE);
}

/* Returns TRUE when it needs more input. */
static gboolean
step_handshake (PunchTlsEngine *self)
{
  GError *error = NULL;
  int r;

  ERR_clear_error ();
  r = SSL_do_handshake (self->ssl);
  flush_wbio (self);
  if (r == 1)
    {
      handshake_succeeded (self);
      return FALSE;
    }

  switch (SSL_get_error (self->ssl, r))
    {
    case SSL_ERROR_WANT_READ:
      ERR_clear_error ();
      if (self->read_error != NULL)
        error = g_error_copy (self->read_error);
      else if (self->eof)
        error = eof_error (self, "during the TLS handshake");
      else
        return TRUE;
      break;

    default:
      if (self->verify_error != NULL)
        {
          ERR_clear_error ();
          error = g_steal_pointer (&self->verify_error);
        }
      else
        error = ssl_error ("TLS handshake failed");
      break;
    }

  g_debug ("TLS handshake (%s) failed: %s", self->initiator ? "client" : "server", error->message);
  /* The alert OpenSSL queued goes out before the failure is reported, and
   * with it the caller closes the connection. */
  add_waiter (self, g_steal_pointer (&self->handshake_task), -1, error, TRUE);
  return FALSE;
}

/* ---- application data ---- */

/* Returns TRUE when it needs more input. */
static gboolean
step_read (PunchTlsEngine *self)
{
  ReadOp *op = g_task_get_task_data (self->read_task);
  GTask *task;
  gsize done = 0;
  int r = 1;
  int err = SSL_ERROR_NONE;

  if (self->read_error == NULL)
    {
      ERR_clear_error ();
      while (done < op->count)
        {
          size_t n = 0;

          r = SSL_read_ex (self->ssl, op->buffer + done, op->count - done, &n);
          if (r <= 0)
            break;
          done += n;
        }
      if (r <= 0)
        {
          err = SSL_get_error (self->ssl, r);
          if (err == SSL_ERROR_SSL || err == SSL_ERROR_SYSCALL)
            self->read_error = ssl_error ("TLS record layer");
          else
            ERR_clear_error ();
        }
      /* Reading may have queued a reply (KeyUpdate) or an alert. */
      flush_wbio (self);
    }

  task = g_steal_pointer (&self->read_task);
  if (done > 0)
    g_task_return_int (task, (gssize) done);
  else if (err == SSL_ERROR_ZERO_RETURN)
    g_task_return_int (task, 0);
  else if (self->read_error != NULL)
    g_task_return_error (task, g_error_copy (self->read_error));
  else if (self->eof && mid_record (self))
    g_task_return_error (task, eof_error (self, "while reading"));
  else if (self->eof)
    {
      /* A peer that just closes the socket at a record boundary has ended
       * the stream, whether or not it sent close_notify. */
      g_debug ("TLS: connection ended without close_notify");
      g_task_return_int (task, 0);
    }
  else
    {
      self->read_task = task;
      return TRUE;
    }
  g_object_unref (task);
  return FALSE;
}

static void
progress (PunchTlsEngine *self)
{
  gboolean need_input = FALSE;

  /* A completed task's callback may drop the last outside reference. */
  punch_tls_engine_ref (self);
  if (self->handshake_task != NULL && step_handshake (self))
    need_input = TRUE;
  if (self->read_task != NULL && step_read (self))
    need_input = TRUE;
  if (need_input)
    start_base_read (self);
  punch_tls_engine_unref (self);
}

/* ---- public ---- */

static void
engine_clear (PunchTlsEngine *self)
{
  g_assert (g_queue_is_empty (&self->waiters));
  g_assert (self->read_task == NULL && self->handshake_task == NULL);
  g_assert (self->handshake_cancel_id == 0);

  g_clear_object (&self->base);
  g_clear_object (&self->identity);
  g_clear_pointer (&self->expected, punch_peer_id_unref);
  g_clear_pointer (&self->muxers, g_strfreev);
  g_clear_pointer (&self->ssl, SSL_free);
  g_clear_pointer (&self->rbuf, g_free);
  g_clear_pointer (&self->out, g_byte_array_unref);
  g_clear_pointer (&self->inflight, g_byte_array_unref);
  g_clear_error (&self->read_error);
  g_clear_error (&self->write_error);
  g_clear_error (&self->verify_error);
  g_clear_object (&self->write_cancellable);
  g_clear_object (&self->remote_key);
  g_clear_pointer (&self->muxer, g_free);
}

PunchTlsEngine *
punch_tls_engine_ref (PunchTlsEngine *self)
{
  return g_atomic_rc_box_acquire (self);
}

void
punch_tls_engine_unref (PunchTlsEngine *self)
{
  g_atomic_rc_box_release_full (self, (GDestroyNotify) engine_clear);
}

static GBytes *
alpn_wire (const char * const *muxers)
{
  GByteArray *wire = g_byte_array_new ();
  guint8 len;

  for (guint i = 0; muxers != NULL && muxers[i] != NULL; i++)
    {
      gsize n = strlen (muxers[i]);

      if (n == 0 || n > 255)
        continue;
      len = (guint8) n;
      g_byte_array_append (wire, &len, 1);
      g_byte_array_append (wire, (const guint8 *) muxers[i], len);
    }
  len = strlen (ALPN_LIBP2P);
  g_byte_array_append (wire, &len, 1);
  g_byte_array_append (wire, (const guint8 *) ALPN_LIBP2P, len);
  return g_byte_array_free_to_bytes (wire);
}

#define CONTEXT_KEY "punch-tls-context"

/* One context per host key for the whole run, holding the certificate: a
 * fresh certificate key per run, not per connection, as go and js do, which
 * spares every handshake a key generation and two signatures. The callbacks
 * find their engine through the SSL's app data. (transfer none) */
static SSL_CTX *
shared_context (PunchPrivateKey *identity,
                GError         **error)
{
  SSL_CTX *cached = g_object_get_data (G_OBJECT (identity), CONTEXT_KEY);
  g_autoptr (SSL_CTX) ctx = NULL;
  g_autoptr (X509) cert = NULL;
  g_autoptr (EVP_PKEY) cert_key = NULL;

  if (cached != NULL)
    return cached;

  cert = punch_tls_cert_generate (identity, &cert_key, error);
  if (cert == NULL)
    return NULL;

  ERR_clear_error ();
  ctx = SSL_CTX_new (TLS_method ());
  if (ctx == NULL ||
      !SSL_CTX_set_min_proto_version (ctx, TLS1_3_VERSION) ||
      !SSL_CTX_set_max_proto_version (ctx, TLS1_3_VERSION) ||
      SSL_CTX_use_certificate (ctx, cert) != 1 ||
      SSL_CTX_use_PrivateKey (ctx, cert_key) != 1)
    {
      punch_set_openssl_error (error, "TLS context setup");
      return NULL;
    }
  /* Sessions are never resumed: every connection authenticates afresh. */
  SSL_CTX_set_options (ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_num_tickets (ctx, 0);
  SSL_CTX_set_session_cache_mode (ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  SSL_CTX_set_cert_verify_callback (ctx, verify_peer, NULL);
  /* Only servers ask it. */
  SSL_CTX_set_alpn_select_cb (ctx, select_alpn, NULL);

  cached = g_steal_pointer (&ctx);
  g_object_set_data_full (G_OBJECT (identity), CONTEXT_KEY, cached, (GDestroyNotify) SSL_CTX_free);
  return cached;
}

PunchTlsEngine *
punch_tls_engine_new (GIOStream          *base,
                      gboolean            initiator,
                      PunchPrivateKey    *identity,
                      PunchPeerId        *expected,
                      const char * const *muxers,
                      GError            **error)
{
  g_autoptr (PunchTlsEngine) self = NULL;
  SSL_CTX *ctx;

  g_return_val_if_fail (G_IS_IO_STREAM (base), NULL);
  g_return_val_if_fail (PUNCH_IS_PRIVATE_KEY (identity), NULL);

  self = g_atomic_rc_box_new0 (PunchTlsEngine);
  self->base = g_object_ref (base);
  self->initiator = initiator;
  self->identity = g_object_ref (identity);
  self->expected = expected != NULL ? punch_peer_id_ref (expected) : NULL;
  self->muxers = g_strdupv ((char **) muxers);
  self->out = g_byte_array_new ();
  self->inflight = g_byte_array_new ();
  self->write_cancellable = g_cancellable_new ();
  g_queue_init (&self->waiters);

  ctx = shared_context (identity, error);
  if (ctx == NULL)
    return NULL;

  ERR_clear_error ();
  self->ssl = SSL_new (ctx);
  self->rbio = BIO_new (BIO_s_mem ());
  self->wbio = BIO_new (BIO_s_mem ());
  if (self->ssl == NULL || self->rbio == NULL || self->wbio == NULL)
    {
      g_clear_pointer (&self->rbio, BIO_free);
      g_clear_pointer (&self->wbio, BIO_free);
      punch_set_openssl_error (error, "TLS session setup");
      return NULL;
    }
  SSL_set_bio (self->ssl, self->rbio, self->wbio);
  SSL_set_app_data (self->ssl, self);
  /* Read-ahead takes whole chunks of records from the memory BIO at once
   * instead of a header and a body at a time. */
  SSL_set_read_ahead (self->ssl, 1);

  if (initiator)
    {
      /* No SNI: the spec keeps it for future versions. */
      g_autoptr (GBytes) wire = alpn_wire (muxers);

      SSL_set_connect_state (self->ssl);
      if (SSL_set_alpn_protos (self->ssl, g_bytes_get_data (wire, NULL),
                               (unsigned int) g_bytes_get_size (wire)) != 0)
        {
          punch_set_openssl_error (error, "TLS ALPN setup");
          return NULL;
        }
    }
  else
    {
      SSL_set_accept_state (self->ssl);
    }

  return g_steal_pointer (&self);
}

gboolean
punch_tls_engine_use_certificate (PunchTlsEngine *self,
                                  X509           *cert,
                                  EVP_PKEY       *key,
                                  X509           *extra,
                                  GError        **error)
{
  g_return_val_if_fail (self->handshake_task == NULL && !self->handshake_done, FALSE);

  ERR_clear_error ();
  if (SSL_use_certificate (self->ssl, cert) != 1 ||
      SSL_use_PrivateKey (self->ssl, key) != 1 ||
      (extra != NULL && SSL_add1_chain_cert (self->ssl, extra) != 1))
    return punch_set_openssl_error (error, "TLS certificate setup");
  return TRUE;
}

void
punch_tls_engine_handshake_async (PunchTlsEngine     *self,
                                  int                 io_priority,
                                  GCancellable       *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer            user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, punch_tls_engine_handshake_async);
  g_task_set_priority (task, io_priority);
  g_assert (self->handshake_task == NULL && !self->handshake_done);
  self->handshake_task = task;
  if (cancellable != NULL)
    {
      self->handshake_cancellable = g_object_ref (cancellable);
      self->handshake_cancel_id = g_signal_connect_swapped (cancellable, "cancelled",
                                                            G_CALLBACK (g_cancellable_cancel),
                                                            self->write_cancellable);
    }
  progress (self);
}

gboolean
punch_tls_engine_handshake_finish (PunchTlsEngine *self,
                                   GAsyncResult   *result,
                                   GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);

  return g_task_propagate_int (G_TASK (result), error) > 0;
}

void
punch_tls_engine_read_async (PunchTlsEngine     *self,
                             void               *buffer,
                             gsize               count,
                             int                 io_priority,
                             GCancellable       *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer            user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  ReadOp *op;

  g_task_set_source_tag (task, punch_tls_engine_read_async);
  g_task_set_priority (task, io_priority);
  /* Plaintext already decrypted into @buffer must not be lost to a late
   * cancellation: only the base read observes the cancellable. */
  g_task_set_check_cancellable (task, FALSE);
  if (count == 0)
    {
      g_task_return_int (task, 0);
      g_object_unref (task);
      return;
    }
  g_assert (self->read_task == NULL && self->handshake_done);
  op = g_new0 (ReadOp, 1);
  op->buffer = buffer;
  op->count = count;
  g_task_set_task_data (task, op, g_free);
  self->read_task = task;
  progress (self);
}

gssize
punch_tls_engine_read_finish (PunchTlsEngine *self,
                              GAsyncResult   *result,
                              GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), -1);

  return g_task_propagate_int (G_TASK (result), error);
}

gssize
punch_tls_engine_read_nonblocking (PunchTlsEngine *self,
                                   void           *buffer,
                                   gsize           count,
                                   gboolean       *would_block,
                                   GError        **error)
{
  size_t n = 0;
  int r;

  *would_block = FALSE;
  if (self->read_error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->read_error));
      return -1;
    }
  if (count == 0 || self->read_task != NULL)
    {
      *would_block = count > 0;
      return 0;
    }
  ERR_clear_error ();
  r = SSL_read_ex (self->ssl, buffer, count, &n);
  flush_wbio (self);
  if (r > 0)
    return (gssize) n;
  switch (SSL_get_error (self->ssl, r))
    {
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    case SSL_ERROR_WANT_READ:
      ERR_clear_error ();
      if (self->eof && mid_record (self))
        {
          g_propagate_error (error, eof_error (self, "while reading"));
          return -1;
        }
      *would_block = !self->eof;
      return 0;
    default:
      self->read_error = ssl_error ("TLS record layer");
      g_propagate_error (error, g_error_copy (self->read_error));
      return -1;
    }
}

void
punch_tls_engine_write_async (PunchTlsEngine     *self,
                              const void         *buffer,
                              gsize               count,
                              int                 io_priority,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  gsize accepted = MIN (count, PUNCH_TLS_MAX_WRITE);
  size_t written = 0;

  g_task_set_source_tag (task, punch_tls_engine_write_async);
  g_task_set_priority (task, io_priority);
  /* Bytes handed to OpenSSL are sealed with the next sequence numbers and
   * must go out: report what happened to them, not a late cancellation. */
  g_task_set_check_cancellable (task, FALSE);

  if (self->write_error != NULL)
    {
      g_task_return_error (task, g_error_copy (self->write_error));
      g_object_unref (task);
      return;
    }
  if (accepted == 0 || !self->handshake_done)
    {
      if (accepted == 0)
        g_task_return_int (task, 0);
      else
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                                 "TLS handshake not done");
      g_object_unref (task);
      return;
    }

  ERR_clear_error ();
  if (!SSL_write_ex (self->ssl, buffer, accepted, &written))
    {
      self->write_error = ssl_error ("TLS write");
      g_task_return_error (task, g_error_copy (self->write_error));
      g_object_unref (task);
      return;
    }
  flush_wbio (self);
  add_waiter (self, task, (gssize) written, NULL, FALSE);
}

gssize
punch_tls_engine_write_finish (PunchTlsEngine *self,
                               GAsyncResult   *result,
                               GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), -1);

  return g_task_propagate_int (G_TASK (result), error);
}

static gboolean
on_shutdown_timeout (gpointer user_data)
{
  PunchTlsEngine *self = user_data;

  self->shutdown_timeout_id = 0;
  g_debug ("TLS: close_notify not written after %d s, giving up", SHUTDOWN_TIMEOUT_S);
  g_cancellable_cancel (self->write_cancellable);
  return G_SOURCE_REMOVE;
}

void
punch_tls_engine_shutdown_async (PunchTlsEngine     *self,
                                 int                 io_priority,
                                 GAsyncReadyCallback callback,
                                 gpointer            user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_source_tag (task, punch_tls_engine_shutdown_async);
  if (self->handshake_done && !self->shutdown_sent && self->write_error == NULL)
    {
      self->shutdown_sent = TRUE;
      ERR_clear_error ();
      SSL_shutdown (self->ssl);
      ERR_clear_error ();
      flush_wbio (self);
    }
  /* The waiter removes the timeout when it completes; the timeout only
   * cancels the write, which completes the waiter. */
  if (self->writing && self->shutdown_timeout_id == 0)
    self->shutdown_timeout_id = g_timeout_add_seconds (SHUTDOWN_TIMEOUT_S, on_shutdown_timeout, self);
  add_waiter (self, task, 0, NULL, TRUE);
}

void
punch_tls_engine_shutdown_finish (PunchTlsEngine *self,
                                  GAsyncResult   *result)
{
  g_return_if_fail (g_task_is_valid (result, NULL));

  g_task_propagate_int (G_TASK (result), NULL);
}

GIOStream *
punch_tls_engine_get_base (PunchTlsEngine *self)
{
  return self->base;
}

PunchPublicKey *
punch_tls_engine_get_remote_key (PunchTlsEngine *self)
{
  return self->remote_key;
}

const char *
punch_tls_engine_get_muxer (PunchTlsEngine *self)
{
  return self->muxer;
}

const char *
punch_tls_engine_get_cipher (PunchTlsEngine *self)
{
  return self->cipher;
}
