// The SSH keys berth mints for trust between a project's services (x-berth-ssh `to:`), kept in
// berth's state rather than in the compose directory:
//
//   $XDG_CONFIG_HOME/berth/ssh/<project>/        0700
//     callers/<service>        the private key a calling service logs in with (0600)
//     hosts/<container>        the host key of one target replica ({project}-{service}-{n}) (0600)
// (public halves are derived from the private keys).
//
// Keys are ed25519, in OpenSSH's formats, made on first use and then stable: recreating a container
// delivers the same keys, so nothing a caller pinned changes behind its back. rotate() forgets them
// all; the next use makes new ones.
//
// Concurrent berth processes may ask for the same key at once: a key is written to a temporary file
// and linked into place, and whoever loses the race reads the winner's.
#pragma once

#include <filesystem>
#include <string>

#include "base/result.h"

struct ssh_key_struct;

namespace berth::trust {

// "TYPE BASE64" (authorized_keys and known_hosts form, no comment) of a libssh key; "" if libssh
// cannot export it.
std::string publicKeyLine(ssh_key_struct* key);

struct KeyPair {
  std::string privateKey{};  // "-----BEGIN OPENSSH PRIVATE KEY-----..."
  std::string publicKey{};   // "ssh-ed25519 AAAA..." (no comment)
};

class TrustStore {
 public:
  // The project's directory under berth's config dir (created 0700 when missing).
  static Result<TrustStore> open(const std::string& project);
  // A store rooted at `dir` (tests).
  static Result<TrustStore> openAt(const std::filesystem::path& dir);

  Result<KeyPair> callerKey(const std::string& service) const;
  Result<KeyPair> hostKey(const std::string& container) const;
  // Forgets every key of the project.
  Status rotate() const;

  const std::filesystem::path& directory() const { return dir_; }

 private:
  explicit TrustStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  Result<KeyPair> keyAt(const std::filesystem::path& path) const;
  std::filesystem::path dir_;
};

}  // namespace berth::trust
