// CaStore: a certificate authority on disk that records what it issues — berth's own CA, in berth's
// config directory, and each provisioned host's client CA (hosts/NAME/client-ca, same layout):
//   $XDG_CONFIG_HOME/berth/ca/          (0700)
//     ca.pem        the CA certificate (0644)
//     ca-key.pem    the CA key (0600; it never leaves this directory)
//     index         one line per issued certificate (what `berth ca ls` lists)
//     issued/SERIAL.pem  a copy of every issued certificate (never its key)
// Issued keys are returned to the caller, who decides where they go (writeBundle).
//
// Thread-safety: one CaStore per thread; several processes may issue at once (the index is updated
// under an flock on index.lock).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/result.h"
#include "pki/authority.h"

namespace berth::pki {

struct IssuedRecord {
  std::string serial;
  CertificateKind kind = CertificateKind::Client;
  std::string name;
  SystemTime notBefore;
  SystemTime notAfter;
  std::string sha256Fingerprint;
};

class CaStore {
 public:
  // berthConfigDir()/ca.
  static Result<std::filesystem::path> defaultDirectory();
  // Creates a CA in `dir`. Errors: AlreadyExists when dir already holds one (it is never replaced),
  // InvalidArgument, Unavailable (file system).
  static Result<CaStore> init(const std::filesystem::path& dir, const CaRequest& request);
  // Opens the CA in `dir`. Errors: NotFound ("no CA in DIR (run `berth ca init`)"),
  // InvalidArgument when its files are damaged or the key does not match.
  static Result<CaStore> open(const std::filesystem::path& dir);

  const std::filesystem::path& directory() const { return dir_; }
  const Authority& authority() const { return authority_; }

  // Issues a certificate and records it in the index.
  Result<Issued> issue(const CertificateRequest& request);
  // Every recorded certificate, oldest first. Errors name the index file and line.
  Result<std::vector<IssuedRecord>> list() const;

 private:
  CaStore(std::filesystem::path dir, Authority authority)
      : dir_(std::move(dir)), authority_(std::move(authority)) {}
  std::filesystem::path dir_;
  Authority authority_;
};

// Writes a certificate, its key and the CA certificate into `dir` the way Docker expects them
// (DOCKER_CERT_PATH for a client; --tlscert/--tlskey/--tlscacert for a server):
// dir/ca.pem (0644), dir/cert.pem (0644), dir/key.pem (0600). `dir` is created 0700 if needed.
Status writeBundle(const std::filesystem::path& dir, const Issued& issued, const Certificate& ca);

}  // namespace berth::pki
