#include "harness/tls_material.h"

#include <chrono>
#include <mutex>
#include <optional>

#include "pki/ca_store.h"

namespace berth::testing {
namespace {

using namespace std::chrono_literals;
using SysClock = std::chrono::system_clock;

}  // namespace

Result<pki::Authority> harnessAuthority() {
  static std::mutex mu;
  static std::optional<pki::Authority>* ca = nullptr;  // leaked: lives as long as the process
  std::lock_guard lock(mu);
  if (ca == nullptr) {
    BERTH_ASSIGN_OR_RETURN(pki::Authority created,
                           pki::Authority::create({.commonName = "berth test CA",
                                                   .keyType = pki::KeyType::EcdsaP256,
                                                   .validity = pki::validFor(SysClock::now(), 24h * 30)}));
    ca = new std::optional<pki::Authority>(std::move(created));
  }
  return **ca;
}

Result<ClientBundle> writeClientBundle(const std::filesystem::path& dir, const pki::Authority& issuer,
                                       const pki::Certificate& trusted, const std::string& name,
                                       const pki::Validity& validity) {
  BERTH_ASSIGN_OR_RETURN(
      pki::Issued issued,
      issuer.issue({.kind = pki::CertificateKind::Client, .commonName = name, .validity = validity}));
  BERTH_TRY(pki::writeBundle(dir, issued, trusted));
  return ClientBundle{dir};
}

Result<ClientBundle> mintClientCert(const std::filesystem::path& dir, const std::string& name) {
  BERTH_ASSIGN_OR_RETURN(pki::Authority ca, harnessAuthority());
  return writeClientBundle(dir, ca, ca.certificate(), name, pki::validFor(SysClock::now(), 24h));
}

Result<ClientBundle> mintExpiredClientCert(const std::filesystem::path& dir) {
  BERTH_ASSIGN_OR_RETURN(pki::Authority ca, harnessAuthority());
  const auto now = SysClock::now();
  return writeClientBundle(dir, ca, ca.certificate(), "berth-test-expired", {now - 48h, now - 24h});
}

Result<ClientBundle> mintForeignClientCert(const std::filesystem::path& dir) {
  BERTH_ASSIGN_OR_RETURN(pki::Authority ours, harnessAuthority());
  BERTH_ASSIGN_OR_RETURN(pki::Authority foreign,
                         pki::Authority::create({.commonName = "berth test CA",  // same name, other key
                                                 .validity = pki::validFor(SysClock::now(), 24h)}));
  return writeClientBundle(dir, foreign, ours.certificate(), "berth-test-foreign",
                           pki::validFor(SysClock::now(), 24h));
}

}  // namespace berth::testing
