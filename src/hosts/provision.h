// Provisioning: making a host's Docker engine listen on TCP with mutual TLS, over a RemoteShell, in
// steps that either all take effect or leave the host as it was.
//
//   1. probe      how the host runs its engine (init_system.h), its hostname, and flags in
//                 /etc/default/docker or docker.service that would conflict with daemon.json
//   2. issue      the caller's certificates for the host (a callback: it may need the hostname)
//   3. backup     the current daemon.json, TLS files and systemd drop-in (in memory)
//   4. install    the engine's CA (which clients it accepts), server certificate and key (0600)
//                 into /etc/docker/berth
//   5. configure  daemon.json merged (daemon_config.h), plus the systemd drop-in where needed
//   6. restart    through systemctl or the SysV init script
//   7. verify     berth connects with its client certificate over TLS (retrying while the engine
//                 comes up), within ProvisionOptions::engineTimeout
// A failure in steps 4-7 restores every file from step 3 (or removes it if it did not exist),
// restarts the engine as it was, and returns an error that names the step, what went wrong, and
// whether the restore worked. Steps 1-3 change nothing.
//
// Thread-safety: one provisioning per RemoteShell at a time.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "engine/endpoint.h"
#include "hosts/init_system.h"
#include "hosts/inventory.h"
#include "hosts/remote.h"

namespace berth::hosts {

enum class ProvisionStep { Probe, Issue, Backup, Install, Configure, Restart, Verify };
// "probe the host", "issue certificates", ...
std::string_view provisionStepName(ProvisionStep step);

// What step 1 found.
struct HostFacts {
  InitSystem initSystem = InitSystem::SysV;
  InitProbe probe{};
  std::string hostname{};
  // systemd only: ExecStart without -H flags, when the drop-in is needed (nullopt: it is not).
  std::optional<std::string> dropInExecStart{};
};

// What the engine gets, as PEM.
struct EngineTlsFiles {
  std::string clientCaPem{};     // --tlscacert: the CA whose client certificates the engine accepts
  std::string serverCertPem{};   // --tlscert
  std::string serverKeyPem{};    // --tlskey
  engine::TlsMaterial client{};  // berth's client bundle, used to verify the result
};

struct ProvisionOptions {
  std::string hostName{};  // for messages: "host web-1"
  std::string address{};   // where berth reaches the engine (the SSH address)
  std::uint16_t port = 2376;
  std::chrono::milliseconds engineTimeout = std::chrono::seconds(60);  // restart and verify
  std::chrono::milliseconds commandTimeout = std::chrono::seconds(120);
  // For tests of the restore path: fail with Internal right after this step succeeded.
  std::optional<ProvisionStep> failAfter{};
};

struct ProvisionResult {
  HostFacts facts{};
  std::string url{};            // tcp://ADDRESS:PORT
  std::string engineVersion{};  // what the engine answered over TLS
};

using IssueFn = std::function<Result<EngineTlsFiles>(const HostFacts& facts)>;
// Proves that the engine answers at `endpoint`; retried while it fails with Unavailable or
// DeadlineExceeded until the deadline. Returns the engine's version.
using VerifyFn = std::function<Result<std::string>(const engine::Endpoint& endpoint)>;
using ProgressFn = std::function<void(std::string_view line)>;

// The real verification: an engine client with short timeouts, /_ping then /version.
VerifyFn engineVerifier();

// Runs the steps above. Errors read
//   "provision host web-1 (root@10.0.0.2:22): step 6 (restart the engine) failed: ...;
//    the previous engine configuration was restored and the engine restarted"
Result<ProvisionResult> provisionEngineTls(RemoteShell& shell, const ProvisionOptions& options,
                                           const IssueFn& issue, const VerifyFn& verify,
                                           const ProgressFn& progress);

}  // namespace berth::hosts
