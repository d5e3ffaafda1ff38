// -H/--host NAME|URL (and BERTH_HOST): a registered host's name resolves to its engine endpoint with
// the TLS material from the inventory; anything with a scheme is an engine URL, resolved as the
// docker CLI does (engine::resolveEndpoint, with DOCKER_HOST & co.).
//
// Thread-safety: reads files; no shared state.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "engine/endpoint.h"
#include "hosts/inventory.h"
#include "pki/certificate.h"

namespace berth::hosts {

struct ResolvedEngine {
  engine::Endpoint endpoint{};
  std::optional<std::string> hostName{};  // when -H named a registered host
  // Certificates berth is about to use that expire within 30 days (pki/expiry.h), as sentences.
  std::vector<std::string> warnings{};
};

// Errors: NotFound for a name that is not registered ("no host named ..."), InvalidArgument for a
// bad URL, and whatever loading the host's TLS material says.
Result<ResolvedEngine> resolveEngine(const Inventory& inventory, const std::optional<std::string>& hostFlag,
                                     const engine::EnvLookup& env, pki::SystemTime now);
// The same with the default inventory (berthConfigDir()/hosts).
Result<ResolvedEngine> resolveEngine(const std::optional<std::string>& hostFlag,
                                     const engine::EnvLookup& env);

// Expiry warnings for the certificates of a host: berth's client certificate and the CA it checks
// the engine with (from the endpoint's TLS material), and the server certificate berth installed.
std::vector<std::string> certificateWarnings(const Inventory& inventory,
                                             const std::optional<std::string>& hostName,
                                             const engine::Endpoint& endpoint, pki::SystemTime now);

}  // namespace berth::hosts
