/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-error.h"

#include <openssl/err.h>

G_DEFINE_QUARK (punch-error-quark, punch_error)

/**
 * punch_set_openssl_error:
 * @error: return location for a #GError
 * @what: what was being done, e.g. "signing"
 *
 * Converts OpenSSL's error queue into a %PUNCH_ERROR_CRYPTO error and clears
 * the queue, so that one failure never leaks into the next call's report.
 *
 * Returns: %FALSE, so callers can `return punch_set_openssl_error (...)`
 */
gboolean
punch_set_openssl_error (GError **error, const char *what)
{
  unsigned long code = ERR_get_error ();
  char buf[256] = "unknown error";

  if (code != 0)
    ERR_error_string_n (code, buf, sizeof buf);
  ERR_clear_error ();
  g_set_error (error, PUNCH_ERROR, PUNCH_ERROR_CRYPTO, "%s failed: %s", what, buf);
  return FALSE;
}
