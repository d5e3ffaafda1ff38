#include "hosts/resolve.h"

#include <fmt/core.h>

#include "base/files.h"
#include "base/strings.h"
#include "pki/expiry.h"

namespace berth::hosts {

std::vector<std::string> certificateWarnings(const Inventory& inventory,
                                             const std::optional<std::string>& hostName,
                                             const engine::Endpoint& endpoint, pki::SystemTime now) {
  std::vector<std::string> out;
  const std::string whose = hostName ? fmt::format("host {}'s", *hostName) : std::string("the");
  const std::string hint =
      hostName ? fmt::format("; renew it with `berth host rotate-certs {}`", *hostName) : "";
  if (endpoint.tls) {
    if (auto w = pki::expiryWarningForPem(endpoint.tls->certPem, whose + " client certificate", now)) {
      out.push_back(*w + hint);
    }
    if (auto w = pki::expiryWarningForPem(endpoint.tls->caPem, "the CA certificate", now)) out.push_back(*w);
  }
  if (hostName) {
    if (auto pem = readFile(inventory.serverCertPath(*hostName))) {
      if (auto w = pki::expiryWarningForPem(*pem, whose + " server certificate", now))
        out.push_back(*w + hint);
    }
  }
  return out;
}

Result<ResolvedEngine> resolveEngine(const Inventory& inventory, const std::optional<std::string>& hostFlag,
                                     const engine::EnvLookup& env, pki::SystemTime now) {
  ResolvedEngine out;
  if (hostFlag && !hostFlag->empty() && hostFlag->find("://") == std::string::npos) {
    const std::string& name = *hostFlag;
    auto record = inventory.get(name);
    if (!record) {
      if (record.error().code() != ErrorCode::NotFound) return fail(record.error());
      return fail(ErrorCode::NotFound,
                  record.error().message() +
                      "; an engine URL needs a scheme: tcp://HOST:PORT, unix:///PATH or ssh://USER@HOST");
    }
    BERTH_ASSIGN_OR_RETURN(out.endpoint, inventory.endpoint(*record));
    if (auto pinned = env("DOCKER_API_VERSION"); pinned && !pinned->empty()) {
      auto v = engine::parseApiVersion(*pinned);
      if (!v) return fail(std::move(v).error().withContext("DOCKER_API_VERSION"));
      out.endpoint.pinnedApiVersion = *v;
    }
    out.hostName = name;
    out.endpoint.hostName = name;  // engine errors say "host NAME (URL)": the name the user typed
  } else {
    BERTH_ASSIGN_OR_RETURN(out.endpoint, engine::resolveEndpoint(hostFlag, env));
  }
  out.warnings = certificateWarnings(inventory, out.hostName, out.endpoint, now);
  return out;
}

Result<ResolvedEngine> resolveEngine(const std::optional<std::string>& hostFlag,
                                     const engine::EnvLookup& env) {
  auto inventory = Inventory::openDefault();
  // Without a config directory there are no registered hosts, but URLs still work.
  if (!inventory) {
    if (hostFlag && !hostFlag->empty() && hostFlag->find("://") == std::string::npos) {
      return fail(inventory.error());
    }
    inventory = Inventory(std::filesystem::path());
  }
  return resolveEngine(*inventory, hostFlag, env, std::chrono::system_clock::now());
}

}  // namespace berth::hosts
