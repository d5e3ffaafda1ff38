#include "daemon/data_dir.h"

#include <fmt/core.h>

#include "base/files.h"
#include "pki/authority.h"
#include "pki/certificate.h"
#include "pki/key.h"

namespace berth::daemon {
namespace {

namespace fs = std::filesystem;

class TlsEngineProvider final : public cluster::EngineProvider {
 public:
  explicit TlsEngineProvider(DataDir dir) : dir_(std::move(dir)) {}

  Result<std::shared_ptr<engine::Engine>> connect(const cluster::Host& host, Role role) override {
    BERTH_ASSIGN_OR_RETURN(engine::Endpoint endpoint, dir_.hostEndpoint(host.name, host.url));
    BERTH_ASSIGN_OR_RETURN(auto e, engine::makeSocketEngine(endpoint, optionsFor(role)));
    return std::shared_ptr<engine::Engine>(std::move(e));
  }

 private:
  DataDir dir_;
};

}  // namespace

Result<DataDir> DataDir::open(fs::path root) {
  std::error_code ec;
  root = fs::absolute(root, ec);
  BERTH_TRY(ensurePrivateDir(root));
  return DataDir(root);
}

Result<std::string> DataDir::newHostKey(const std::string& name) const {
  const fs::path dir = root_ / "pending" / name;
  BERTH_TRY(ensurePrivateDir(root_ / "pending"));
  BERTH_TRY(ensurePrivateDir(dir));
  BERTH_ASSIGN_OR_RETURN(pki::PrivateKey key, pki::PrivateKey::generate(pki::KeyType::EcdsaP256));
  BERTH_TRY(key.save(dir / "key.pem"));
  return pki::certificateSigningRequest(key, "berthd@" + name);
}

Status DataDir::installHost(const std::string& name, const std::string& caPem, const std::string& certPem) const {
  const fs::path pending = root_ / "pending" / name / "key.pem";
  auto key = pki::PrivateKey::load(pending);
  if (!key) {
    return fail(ErrorCode::Conflict,
                fmt::format("no key of berthd's is waiting for a certificate for host {} (ask for a CSR first)", name));
  }
  BERTH_ASSIGN_OR_RETURN(pki::Certificate cert, pki::Certificate::fromPem(certPem));
  if (!cert.matches(*key)) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("the certificate for host {} is not for berthd's key (it was issued for another CSR)", name));
  }
  BERTH_ASSIGN_OR_RETURN(pki::Certificate ca, pki::Certificate::fromPem(caPem));
  (void)ca;
  const fs::path dir = hostDir(name);
  BERTH_TRY(ensurePrivateDir(root_ / "hosts"));
  BERTH_TRY(ensurePrivateDir(dir));
  BERTH_TRY(key->save(dir / "key.pem"));
  BERTH_TRY(writeFileAtomic(dir / "cert.pem", certPem, fs::perms(0644)));
  BERTH_TRY(writeFileAtomic(dir / "ca.pem", caPem, fs::perms(0644)));
  std::error_code ec;
  fs::remove_all(root_ / "pending" / name, ec);
  return ok();
}

void DataDir::forgetHost(const std::string& name) const {
  std::error_code ec;
  fs::remove_all(hostDir(name), ec);
}

Result<engine::Endpoint> DataDir::hostEndpoint(const std::string& name, const std::string& url) const {
  BERTH_ASSIGN_OR_RETURN(engine::Endpoint endpoint, engine::parseEndpoint(url, true));
  if (endpoint.scheme != engine::Scheme::Tcp) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("host {}: berthd reaches engines over tcp:// with mutual TLS, not {}", name, url));
  }
  const fs::path dir = hostDir(name);
  engine::TlsMaterial tls;
  BERTH_ASSIGN_OR_RETURN(tls.caPem, readFile(dir / "ca.pem"));
  BERTH_ASSIGN_OR_RETURN(tls.certPem, readFile(dir / "cert.pem"));
  BERTH_ASSIGN_OR_RETURN(tls.keyPem, readFile(dir / "key.pem"));
  tls.origin = "berthd's credentials for host " + name + " (" + dir.string() + ")";
  endpoint.tls = std::move(tls);
  endpoint.hostName = name;
  return endpoint;
}

std::unique_ptr<cluster::EngineProvider> makeTlsEngineProvider(const DataDir& dir) {
  return std::make_unique<TlsEngineProvider>(dir);
}

}  // namespace berth::daemon
