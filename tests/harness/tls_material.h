// TLS material for tests, minted with src/pki: the harness's CA (one per test process, in memory),
// and client certificate bundles in Docker's DOCKER_CERT_PATH layout (ca.pem, cert.pem, key.pem 0600)
// — valid, expired, or from a CA no test host trusts — so transport tests can check that engines
// accept the right client and refuse the others.
//
// Thread-safety: all functions may be called from any thread.
#pragma once

#include <filesystem>
#include <string>

#include "base/result.h"
#include "pki/authority.h"

namespace berth::testing {

// The CA that issues every test host's server certificate and that every TLS host trusts for
// clients (unless HostOptions::tlsAuthority names another). Made on first use: ECDSA P-256,
// CN "berth test CA".
Result<pki::Authority> harnessAuthority();

// A client bundle directory: what DOCKER_CERT_PATH points at.
struct ClientBundle {
  std::filesystem::path dir;
  std::filesystem::path ca() const { return dir / "ca.pem"; }
  std::filesystem::path cert() const { return dir / "cert.pem"; }
  std::filesystem::path key() const { return dir / "key.pem"; }
};

// Issues a client certificate (CN `name`) from `issuer` valid for `validity`, and writes it with
// `trusted`'s certificate as ca.pem (the CA the client uses to check the server) into `dir`.
Result<ClientBundle> writeClientBundle(const std::filesystem::path& dir, const pki::Authority& issuer,
                                       const pki::Certificate& trusted, const std::string& name,
                                       const pki::Validity& validity);

// A valid client certificate from the harness CA (valid from an hour ago for a day).
Result<ClientBundle> mintClientCert(const std::filesystem::path& dir,
                                    const std::string& name = "berth-test-client");
// From the harness CA, but expired (valid two days ago until yesterday).
Result<ClientBundle> mintExpiredClientCert(const std::filesystem::path& dir);
// Valid, but issued by a fresh CA that no test host trusts; ca.pem is still the harness CA, so
// the client itself trusts the hosts — only the host's check of the client fails.
Result<ClientBundle> mintForeignClientCert(const std::filesystem::path& dir);

}  // namespace berth::testing
