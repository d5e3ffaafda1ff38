// berthd's data directory, and how berthd reaches hosts with credentials of its own.
//
//   DATA/                       (0700)
//     state.db                  desired state (SQLite, WAL; cluster/sqlite_store.h)
//     tls/                      the API's server certificate: ca.pem (the CA whose client
//                               certificates are accepted: berth's), cert.pem, key.pem (0600)
//     hosts/NAME/               berthd's own client credentials for host NAME's engine: key.pem
//                               (0600, made here and never sent anywhere), cert.pem (issued for it
//                               by the CA the engine trusts, through a CSR), ca.pem (checks the
//                               engine's server certificate)
//     pending/NAME/key.pem      a key whose CSR is out for signing (`berth host add`)
//
// Thread-safety: the functions touch only files; concurrent calls for the same host name race
// (the last one wins), which the API prevents by registering a host once.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "base/result.h"
#include "cluster/controller.h"
#include "engine/endpoint.h"

namespace berth::daemon {

class DataDir {
 public:
  // Creates the directory (0700) if needed.
  static Result<DataDir> open(std::filesystem::path root);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path stateDb() const { return root_ / "state.db"; }
  std::filesystem::path tlsDir() const { return root_ / "tls"; }
  std::filesystem::path hostDir(const std::string& name) const { return root_ / "hosts" / name; }

  // Makes a fresh key for reaching host `name` and returns a CSR for it (CN "berthd@NAME"); the
  // key waits in pending/ until installHost().
  Result<std::string> newHostKey(const std::string& name) const;
  // Installs the certificate issued for the pending key, with the CA that checks the engine.
  // Errors: FailedPrecondition-like Conflict when no key is pending, InvalidArgument when the
  // certificate is not for that key or not PEM.
  Status installHost(const std::string& name, const std::string& caPem, const std::string& certPem) const;
  // Moves a host's credentials back to pending (the host could not be registered after all).
  void forgetHost(const std::string& name) const;
  // The endpoint for a host's engine: its URL with berthd's material for it.
  Result<engine::Endpoint> hostEndpoint(const std::string& name, const std::string& url) const;

 private:
  explicit DataDir(std::filesystem::path root) : root_(std::move(root)) {}
  std::filesystem::path root_;
};

// The engine provider of the real daemon: TLS to each host with berthd's credentials from the data
// directory; probes with short deadlines (a dead host is noticed within a probe interval).
std::unique_ptr<cluster::EngineProvider> makeTlsEngineProvider(const DataDir& dir);

}  // namespace berth::daemon
