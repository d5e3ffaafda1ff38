// The trust berth sets up for a host (see docs/fleet.md, "Trust model"):
//
//   berth's CA (CaStore)  ──issues──▶  the host's server certificate   (clients check the engine)
//   the host's client CA, generation N (self-signed, one per host and rotation, key in the
//   inventory)  ──issues──▶  berth's client certificate for the host   (the engine checks clients)
//
// A provisioned engine's --tlscacert is its own client CA, not berth's CA: `rotate-certs` installs
// generation N+1 and re-issues berth's client certificate from it, and every client certificate of
// generation N — copied, leaked or handed out — stops being accepted. A host registered with --url
// trusts berth's CA itself (set up by hand); its client certificate comes from berth's CA.
//
// Thread-safety: functions on values; saving writes files of one host.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "engine/endpoint.h"
#include "hosts/inventory.h"
#include "pki/authority.h"
#include "pki/ca_store.h"

namespace berth::hosts {

struct CredentialOptions {
  std::chrono::hours validity = std::chrono::hours(24 * 365);  // server and client certificates
  std::chrono::hours clientCaValidity = std::chrono::hours(24 * 3650);
  pki::KeyType keyType = pki::KeyType::EcdsaP256;
};

struct HostCredentials {
  int generation = 0;
  std::optional<pki::Authority> clientCa{};  // provisioned hosts
  std::optional<pki::Issued> server{};       // provisioned hosts
  pki::Issued client;
  pki::Certificate serverCa;  // what berth checks the engine's certificate against (berth's CA)
};

// The common name of berth's client certificate for a host: "berth@NAME".
std::string clientCommonName(std::string_view hostName);
// Server certificate names for `address` and the host's own name: IPs go to IP SANs, the rest to
// DNS SANs; names that cannot be DNS names are left out.
void serverNames(const std::string& address, const std::string& hostname, std::vector<std::string>& ips,
                 std::vector<std::string>& dns);

// A new generation for a provisioned host: a fresh client CA, a server certificate from berth's CA
// naming `address` and `hostname`, and berth's client certificate from the new client CA. The
// server certificate is recorded in berth's CA index.
Result<HostCredentials> issueProvisionedCredentials(pki::CaStore& ca, const std::string& hostName,
                                                    int generation, const std::string& address,
                                                    const std::string& hostname,
                                                    const CredentialOptions& options, pki::SystemTime now);
// Berth's client certificate from berth's CA, for a host registered with --url.
Result<HostCredentials> issueUrlHostCredentials(pki::CaStore& ca, const std::string& hostName,
                                                const CredentialOptions& options, pki::SystemTime now);

// berth's client bundle as TLS material (for verifying before anything is saved).
engine::TlsMaterial clientTlsMaterial(const HostCredentials& creds, const std::string& origin);

// Writes client/ (ca.pem = berth's CA, cert.pem, key.pem 0600), client-ca/ and server.pem into the
// host's inventory directory, replacing what the previous generation left there.
Status saveCredentials(const Inventory& inventory, const std::string& hostName, const HostCredentials& creds);

}  // namespace berth::hosts
