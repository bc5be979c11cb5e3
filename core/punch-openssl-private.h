/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Cleanups for OpenSSL and protobuf-c types, defined once for the whole core. */

#include <glib.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/ssl.h>
#include <protobuf-c/protobuf-c.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY_CTX, EVP_PKEY_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_MD_CTX, EVP_MD_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (X509, X509_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BIO, BIO_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BIGNUM, BN_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SSL_CTX, SSL_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SSL, SSL_free)

/* Declares an autoptr cleanup for a protobuf-c message type, e.g.
 * PUNCH_DEFINE_PROTOBUF_CLEANUP (Crypto__Pb__PublicKey, crypto__pb__public_key)
 * lets you write g_autoptr (Crypto__Pb__PublicKey) msg = crypto__pb__public_key__unpack (...). */
#define PUNCH_DEFINE_PROTOBUF_CLEANUP(Type, prefix) \
  static inline void prefix##__autofree (Type *msg) { prefix##__free_unpacked (msg, NULL); } \
  G_DEFINE_AUTOPTR_CLEANUP_FUNC (Type, prefix##__autofree)
