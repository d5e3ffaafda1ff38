// Private keys for berth's certificate authority and the certificates it issues: ECDSA P-256 (the
// default) or RSA 2048/4096. A PrivateKey is an immutable, cheaply copyable handle (copies share the
// key). PEM output is unencrypted PKCS#8; files holding keys are written 0600.
//
// OpenSSL stays inside src/pki's .cc files; native() hands the key to the TLS transport.
// Thread-safety: const methods may be called from any thread.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace berth::pki {

enum class KeyType { EcdsaP256, Rsa2048, Rsa4096 };

// "ecdsa-p256", "rsa-2048", "rsa-4096".
std::string_view keyTypeName(KeyType type);
// Accepts the names above and the short forms "ecdsa", "p256", "rsa2048", "rsa4096".
std::optional<KeyType> parseKeyType(std::string_view name);

class PrivateKey {
 public:
  // Generates a fresh key. Errors: Internal (OpenSSL failed).
  static Result<PrivateKey> generate(KeyType type);
  // Parses a PEM private key (PKCS#8, SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY").
  // Errors: InvalidArgument for text that is not such a key, or a key of another kind or size.
  static Result<PrivateKey> fromPem(std::string_view pem);
  // Reads and parses a file; errors name the path.
  static Result<PrivateKey> load(const std::filesystem::path& path);

  PrivateKey(const PrivateKey& other);
  PrivateKey& operator=(const PrivateKey& other);
  PrivateKey(PrivateKey&& other) noexcept;
  PrivateKey& operator=(PrivateKey&& other) noexcept;
  ~PrivateKey();

  KeyType type() const { return type_; }
  std::string toPem() const;
  // The public half, as a PEM "PUBLIC KEY" (SubjectPublicKeyInfo).
  std::string publicKeyPem() const;
  // Writes toPem() atomically with mode 0600.
  Status save(const std::filesystem::path& path) const;

  // The OpenSSL key, owned by this object (never null).
  evp_pkey_st* native() const { return key_; }

 private:
  PrivateKey(evp_pkey_st* key, KeyType type) : key_(key), type_(type) {}
  evp_pkey_st* key_;
  KeyType type_;
};

}  // namespace berth::pki
