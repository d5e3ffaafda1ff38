#include "hosts/credentials.h"

#include <arpa/inet.h>
#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>

#include "base/files.h"

namespace berth::hosts {
namespace {

namespace fs = std::filesystem;

bool isIp(const std::string& s) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool dnsLike(const std::string& s) {
  if (s.empty() || s.size() > 253 || s.front() == '-' || s.front() == '.' || s.back() == '.') return false;
  for (const unsigned char c : s) {
    if (!std::isalnum(c) && c != '-' && c != '.') return false;
  }
  return true;
}

// Replaces DIR by writing into DIR.new and renaming, so a crash leaves one whole generation.
Status replaceDir(const fs::path& dir, const std::function<Status(const fs::path&)>& fill) {
  const fs::path fresh = dir.string() + ".new";
  const fs::path old = dir.string() + ".old";
  std::error_code ec;
  fs::remove_all(fresh, ec);
  fs::remove_all(old, ec);
  BERTH_TRY(ensurePrivateDir(fresh));
  BERTH_TRY(fill(fresh));
  if (fs::exists(dir, ec)) {
    fs::rename(dir, old, ec);
    if (ec) return fail(ErrorCode::Unavailable, dir.string() + ": " + ec.message());
  }
  fs::rename(fresh, dir, ec);
  if (ec) return fail(ErrorCode::Unavailable, dir.string() + ": " + ec.message());
  fs::remove_all(old, ec);
  return ok();
}

}  // namespace

std::string clientCommonName(std::string_view hostName) { return "berth@" + std::string(hostName); }

void serverNames(const std::string& address, const std::string& hostname, std::vector<std::string>& ips,
                 std::vector<std::string>& dns) {
  for (const std::string& n : {address, hostname}) {
    if (n.empty()) continue;
    if (isIp(n)) {
      if (std::find(ips.begin(), ips.end(), n) == ips.end()) ips.push_back(n);
    } else if (dnsLike(n) && std::find(dns.begin(), dns.end(), n) == dns.end()) {
      dns.push_back(n);
    }
  }
}

Result<HostCredentials> issueProvisionedCredentials(pki::CaStore& ca, const std::string& hostName,
                                                    int generation, const std::string& address,
                                                    const std::string& hostname, const CredentialOptions& o,
                                                    pki::SystemTime now) {
  BERTH_ASSIGN_OR_RETURN(
      pki::Authority clientCa,
      pki::Authority::create({.commonName = fmt::format("berth client CA for {} #{}", hostName, generation),
                              .keyType = o.keyType,
                              .validity = pki::validFor(now, o.clientCaValidity)}));
  pki::CertificateRequest server{.kind = pki::CertificateKind::Server,
                                 .commonName = hostName,
                                 .keyType = o.keyType,
                                 .validity = pki::validFor(now, o.validity)};
  serverNames(address, hostname, server.ipAddresses, server.dnsNames);
  BERTH_ASSIGN_OR_RETURN(pki::Issued serverCert, ca.issue(server));
  BERTH_ASSIGN_OR_RETURN(pki::Issued client, clientCa.issue({.kind = pki::CertificateKind::Client,
                                                             .commonName = clientCommonName(hostName),
                                                             .keyType = o.keyType,
                                                             .validity = pki::validFor(now, o.validity)}));
  return HostCredentials{.generation = generation,
                         .clientCa = std::move(clientCa),
                         .server = std::move(serverCert),
                         .client = std::move(client),
                         .serverCa = ca.authority().certificate()};
}

Result<HostCredentials> issueUrlHostCredentials(pki::CaStore& ca, const std::string& hostName,
                                                const CredentialOptions& o, pki::SystemTime now) {
  BERTH_ASSIGN_OR_RETURN(pki::Issued client, ca.issue({.kind = pki::CertificateKind::Client,
                                                       .commonName = clientCommonName(hostName),
                                                       .keyType = o.keyType,
                                                       .validity = pki::validFor(now, o.validity)}));
  return HostCredentials{.generation = 0,
                         .clientCa = std::nullopt,
                         .server = std::nullopt,
                         .client = std::move(client),
                         .serverCa = ca.authority().certificate()};
}

engine::TlsMaterial clientTlsMaterial(const HostCredentials& creds, const std::string& origin) {
  return engine::TlsMaterial{.caPem = creds.serverCa.toPem(),
                             .certPem = creds.client.certificate.toPem(),
                             .keyPem = creds.client.key.toPem(),
                             .origin = origin};
}

Status saveCredentials(const Inventory& inventory, const std::string& hostName,
                       const HostCredentials& creds) {
  BERTH_TRY(ensurePrivateDir(inventory.directory()));
  BERTH_TRY(ensurePrivateDir(inventory.hostDir(hostName)));
  BERTH_TRY(replaceDir(inventory.clientDir(hostName), [&](const fs::path& dir) {
    return pki::writeBundle(dir, creds.client, creds.serverCa);
  }));
  if (creds.clientCa) {
    const auto fillCa = [&](const fs::path& dir) -> Status {
      BERTH_TRY(creds.clientCa->key().save(dir / "ca-key.pem"));
      return creds.clientCa->certificate().save(dir / "ca.pem");
    };
    BERTH_TRY(replaceDir(inventory.clientCaDir(hostName), fillCa));
  }
  if (creds.server) BERTH_TRY(creds.server->certificate.save(inventory.serverCertPath(hostName)));
  return ok();
}

}  // namespace berth::hosts
