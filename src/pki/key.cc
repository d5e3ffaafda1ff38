#include "pki/key.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "base/files.h"
#include "base/strings.h"
#include "pki/openssl_util.h"

namespace berth::pki {
namespace detail {

std::string opensslError(std::string_view what) {
  std::string text(what);
  bool first = true;
  while (const unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    text += first ? ": " : "; ";
    text += buf;
    first = false;
  }
  return text;
}

std::string bioText(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

std::optional<KeyType> keyTypeOf(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) == 1 &&
        (std::string_view(group) == "prime256v1" || std::string_view(group) == "P-256")) {
      return KeyType::EcdsaP256;
    }
    return std::nullopt;
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    switch (EVP_PKEY_get_bits(key)) {
      case 2048:
        return KeyType::Rsa2048;
      case 4096:
        return KeyType::Rsa4096;
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace detail

std::string_view keyTypeName(KeyType type) {
  switch (type) {
    case KeyType::EcdsaP256:
      return "ecdsa-p256";
    case KeyType::Rsa2048:
      return "rsa-2048";
    case KeyType::Rsa4096:
      return "rsa-4096";
  }
  return "?";
}

std::optional<KeyType> parseKeyType(std::string_view name) {
  const std::string n = toLower(name);
  if (n == "ecdsa-p256" || n == "ecdsa" || n == "p256" || n == "p-256" || n == "ec") {
    return KeyType::EcdsaP256;
  }
  if (n == "rsa-2048" || n == "rsa2048") return KeyType::Rsa2048;
  if (n == "rsa-4096" || n == "rsa4096") return KeyType::Rsa4096;
  return std::nullopt;
}

Result<PrivateKey> PrivateKey::generate(KeyType type) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::EcdsaP256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyType::Rsa2048:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048));
      break;
    case KeyType::Rsa4096:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(4096));
      break;
  }
  if (key == nullptr) {
    return fail(ErrorCode::Internal,
                detail::opensslError("generate " + std::string(keyTypeName(type)) + " key"));
  }
  return PrivateKey(key, type);
}

Result<PrivateKey> PrivateKey::fromPem(std::string_view pem) {
  detail::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(ErrorCode::Internal, detail::opensslError("BIO_new_mem_buf"));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    ERR_clear_error();
    return fail(ErrorCode::InvalidArgument, "not a PEM private key");
  }
  const auto type = detail::keyTypeOf(key);
  if (!type) {
    EVP_PKEY_free(key);
    return fail(ErrorCode::InvalidArgument,
                "unsupported private key (berth uses ECDSA P-256, RSA 2048 or RSA 4096)");
  }
  return PrivateKey(key, *type);
}

Result<PrivateKey> PrivateKey::load(const std::filesystem::path& path) {
  BERTH_ASSIGN_OR_RETURN(std::string text, readFile(path));
  auto key = fromPem(text);
  if (!key) return fail(std::move(key).error().withContext(path.string()));
  return key;
}

PrivateKey::PrivateKey(const PrivateKey& other) : key_(other.key_), type_(other.type_) {
  EVP_PKEY_up_ref(key_);
}

PrivateKey& PrivateKey::operator=(const PrivateKey& other) {
  if (this != &other) {
    EVP_PKEY_up_ref(other.key_);
    EVP_PKEY_free(key_);
    key_ = other.key_;
    type_ = other.type_;
  }
  return *this;
}

PrivateKey::PrivateKey(PrivateKey&& other) noexcept : PrivateKey(other) {}

PrivateKey& PrivateKey::operator=(PrivateKey&& other) noexcept { return *this = other; }

PrivateKey::~PrivateKey() { EVP_PKEY_free(key_); }

std::string PrivateKey::toPem() const {
  detail::BioPtr bio(BIO_new(BIO_s_mem()));
  BERTH_CHECK(bio && PEM_write_bio_PrivateKey(bio.get(), key_, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  return detail::bioText(bio.get());
}

std::string PrivateKey::publicKeyPem() const {
  detail::BioPtr bio(BIO_new(BIO_s_mem()));
  BERTH_CHECK(bio && PEM_write_bio_PUBKEY(bio.get(), key_) == 1);
  return detail::bioText(bio.get());
}

Status PrivateKey::save(const std::filesystem::path& path) const {
  return writeFileAtomic(path, toPem(),
                         std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

}  // namespace berth::pki
