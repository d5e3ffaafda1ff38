// Private to src/pki's .cc files: RAII for OpenSSL objects and OpenSSL's error queue as text.
// (The only header that includes OpenSSL; nothing outside src/pki includes it.)
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pki/key.h"

namespace berth::pki::detail {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;

// Drains OpenSSL's error queue for this thread: "what: reason; reason" (or just "what").
std::string opensslError(std::string_view what);

// The KeyType of an OpenSSL key, if it is one berth makes.
std::optional<KeyType> keyTypeOf(EVP_PKEY* key);

// Everything written to a memory BIO, as a string.
std::string bioText(BIO* bio);

}  // namespace berth::pki::detail
