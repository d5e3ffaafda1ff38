#include "trust/trust_store.h"

#include <libssh/libssh.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <random>

#include "base/files.h"
#include "base/strings.h"

namespace berth::trust {

namespace fs = std::filesystem;

namespace {

struct KeyFree {
  void operator()(ssh_key_struct* key) const { ssh_key_free(key); }
};

Result<KeyPair> generate() {
  ssh_key raw = nullptr;
  if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &raw) != SSH_OK) {
    return fail(ErrorCode::Internal, "cannot generate an ed25519 key");
  }
  std::unique_ptr<ssh_key_struct, KeyFree> key(raw);
  char* privateText = nullptr;
  if (ssh_pki_export_privkey_base64(raw, nullptr, nullptr, nullptr, &privateText) != SSH_OK) {
    return fail(ErrorCode::Internal, "cannot export an ed25519 key");
  }
  KeyPair pair;
  pair.privateKey = privateText;
  ssh_string_free_char(privateText);
  if (!pair.privateKey.empty() && pair.privateKey.back() != '\n') pair.privateKey += '\n';
  pair.publicKey = publicKeyLine(raw);
  if (pair.publicKey.empty()) return fail(ErrorCode::Internal, "cannot export a public key");
  return pair;
}

// The pair of a stored private key (the public half is derived, so there is one file to write).
Result<KeyPair> pairOf(const std::string& privateKey, const fs::path& path) {
  ssh_key raw = nullptr;
  if (ssh_pki_import_privkey_base64(privateKey.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK) {
    return fail(ErrorCode::InvalidArgument, path.string() + " is not an OpenSSH private key; remove it to make a new one");
  }
  std::unique_ptr<ssh_key_struct, KeyFree> key(raw);
  KeyPair pair{privateKey, publicKeyLine(raw)};
  if (pair.publicKey.empty()) return fail(ErrorCode::Internal, "cannot export a public key");
  return pair;
}

// Checks a name used as a file name: service and container names never hold a slash or start with
// a dot, so anything else is a bug or a hostile label, not a key to make.
Status checkName(const std::string& name) {
  if (name.empty() || name.front() == '.' || name.find('/') != std::string::npos || name.find('\0') != std::string::npos) {
    return fail(ErrorCode::InvalidArgument, "not a service or container name: " + berth::quoted(name));
  }
  return ok();
}

}  // namespace

std::string publicKeyLine(ssh_key_struct* key) {
  char* b64 = nullptr;
  if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) return "";
  std::string line = std::string(ssh_key_type_to_char(ssh_key_type(key))) + " " + b64;
  ssh_string_free_char(b64);
  return line;
}

Result<TrustStore> TrustStore::open(const std::string& project) {
  BERTH_TRY(checkName(project));
  BERTH_ASSIGN_OR_RETURN(fs::path config, berthConfigDir());
  return openAt(config / "ssh" / project);
}

Result<TrustStore> TrustStore::openAt(const fs::path& dir) {
  BERTH_TRY(ensurePrivateDir(dir));
  BERTH_TRY(ensurePrivateDir(dir / "callers"));
  BERTH_TRY(ensurePrivateDir(dir / "hosts"));
  return TrustStore(dir);
}

Result<KeyPair> TrustStore::callerKey(const std::string& service) const {
  BERTH_TRY(checkName(service));
  return keyAt(dir_ / "callers" / service);
}

Result<KeyPair> TrustStore::hostKey(const std::string& container) const {
  BERTH_TRY(checkName(container));
  return keyAt(dir_ / "hosts" / container);
}

Result<KeyPair> TrustStore::keyAt(const fs::path& path) const {
  auto existing = readFile(path);
  if (existing) return pairOf(*existing, path);
  if (existing.error().code() != ErrorCode::NotFound) return fail(existing.error());
  BERTH_ASSIGN_OR_RETURN(KeyPair made, generate());
  std::random_device random;
  const fs::path tmp = path.string() + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(random());
  BERTH_TRY(writeFileAtomic(tmp, made.privateKey));
  // link() fails when another process made the key first: then theirs is the key.
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int e = errno;
  std::error_code ec;
  fs::remove(tmp, ec);
  if (linked != 0) {
    if (e != EEXIST) return fail(ErrorCode::Unavailable, "cannot write " + path.string() + ": " + std::strerror(e));
    return keyAt(path);
  }
  return made;
}

Status TrustStore::rotate() const {
  for (const char* sub : {"callers", "hosts"}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_ / sub, ec)) fs::remove(entry.path(), ec);
    if (ec) return fail(ErrorCode::Unavailable, "cannot remove the keys in " + (dir_ / sub).string() + ": " + ec.message());
  }
  return ok();
}

}  // namespace berth::trust
