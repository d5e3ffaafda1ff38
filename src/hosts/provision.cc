#include "hosts/provision.h"

#include <fmt/core.h>

#include <thread>
#include <vector>

#include "base/strings.h"
#include "engine/engine.h"
#include "hosts/daemon_config.h"

namespace berth::hosts {
namespace {

using namespace std::chrono_literals;

struct RemoteFile {
  std::string path{};
  bool existed = false;
  std::string content{};
  std::string mode{};  // octal, as stat prints it
};

class Steps {
 public:
  Steps(RemoteShell& shell, const ProvisionOptions& options) : shell_(shell), o_(options) {}

  Result<RemoteResult> run(std::string_view command, std::string_view input = {}) {
    return shell_.run(command, input, o_.commandTimeout);
  }
  // Runs a command that must succeed; its stderr (else stdout) explains a failure.
  Result<RemoteResult> runOk(std::string_view what, std::string_view command, std::string_view input = {}) {
    BERTH_ASSIGN_OR_RETURN(RemoteResult r, run(command, input));
    if (r.exitCode != 0) {
      std::string why(trim(r.err.empty() ? r.out : r.err));
      if (why.empty()) why = "no output";
      return fail(ErrorCode::Internal,
                  fmt::format("{}: `{}` exited with {}: {}", what, command, r.exitCode, why));
    }
    return r;
  }

  Result<RemoteFile> read(const std::string& path) {
    const std::string q = shellQuote(path);
    BERTH_ASSIGN_OR_RETURN(
        RemoteResult r,
        runOk("read " + path,
              fmt::format("if [ -e {0} ]; then stat -c %a {0} && cat {0}; else echo absent; fi", q)));
    RemoteFile f{.path = path};
    const auto nl = r.out.find('\n');
    const std::string first = r.out.substr(0, nl);
    if (first == "absent") return f;
    f.existed = true;
    f.mode = first;
    f.content = nl == std::string::npos ? "" : r.out.substr(nl + 1);
    return f;
  }

  Status write(const std::string& path, std::string_view content, std::string_view mode) {
    const auto slash = path.rfind('/');
    const std::string dir = path.substr(0, slash);
    const std::string tmp = path + ".berth-new";
    BERTH_TRY(runOk("write " + path,
                    fmt::format("umask 077 && mkdir -p {0} && cat > {1} && chmod {2} {1} && mv -f {1} {3}",
                                shellQuote(dir), shellQuote(tmp), mode, shellQuote(path)),
                    content));
    return ok();
  }

  Status restore(const RemoteFile& f) {
    if (f.existed) return write(f.path, f.content, f.mode);
    BERTH_TRY(runOk("remove " + f.path, "rm -f " + shellQuote(f.path)));
    return ok();
  }

 private:
  RemoteShell& shell_;
  const ProvisionOptions& o_;
};

bool retryable(const Error& e) {
  return e.code() == ErrorCode::Unavailable || e.code() == ErrorCode::DeadlineExceeded;
}

}  // namespace

std::string_view provisionStepName(ProvisionStep step) {
  switch (step) {
    case ProvisionStep::Probe:
      return "probe the host";
    case ProvisionStep::Issue:
      return "issue certificates";
    case ProvisionStep::Backup:
      return "back up the engine's configuration";
    case ProvisionStep::Install:
      return "install certificates";
    case ProvisionStep::Configure:
      return "configure the engine";
    case ProvisionStep::Restart:
      return "restart the engine";
    case ProvisionStep::Verify:
      return "verify TLS";
  }
  return "?";
}

VerifyFn engineVerifier() {
  return [](const engine::Endpoint& endpoint) -> Result<std::string> {
    BERTH_ASSIGN_OR_RETURN(auto eng,
                           engine::makeEngine(endpoint, {.connectTimeout = 3s, .requestTimeout = 10s}));
    BERTH_TRY(eng->ping());
    BERTH_ASSIGN_OR_RETURN(const engine::EngineVersion v, eng->version());
    return v.version;
  };
}

Result<ProvisionResult> provisionEngineTls(RemoteShell& shell, const ProvisionOptions& o,
                                           const IssueFn& issue, const VerifyFn& verify,
                                           const ProgressFn& progress) {
  Steps steps(shell, o);
  const std::string context = fmt::format("provision host {} ({})", o.hostName, shell.describe());
  int number = 0;
  ProvisionStep current = ProvisionStep::Probe;
  const auto begin = [&](ProvisionStep step, std::string_view detail) {
    current = step;
    ++number;
    if (progress) progress(fmt::format("[{}/7] {}{}", number, provisionStepName(step), detail));
  };
  const auto stepError = [&](const Error& e) {
    return Error(e.code(), fmt::format("{}: step {} ({}) failed: {}", context, number,
                                       provisionStepName(current), e.message()));
  };
  const auto injected = [&]() -> Status {
    if (o.failAfter && *o.failAfter == current) {
      return fail(ErrorCode::Internal, "failure injected after this step (ProvisionOptions::failAfter)");
    }
    return ok();
  };

  // 1. Probe.
  begin(ProvisionStep::Probe, "");
  HostFacts facts{};
  {
    auto probed = [&]() -> Status {
      BERTH_ASSIGN_OR_RETURN(RemoteResult p, steps.runOk("probe the init system", initProbeScript()));
      BERTH_ASSIGN_OR_RETURN(facts.probe, parseInitProbe(p.out));
      BERTH_ASSIGN_OR_RETURN(facts.initSystem, detectInitSystem(facts.probe));
      BERTH_ASSIGN_OR_RETURN(RemoteResult h, steps.runOk("read the hostname", "hostname"));
      facts.hostname = std::string(trim(h.out));
      switch (facts.initSystem) {
        case InitSystem::SysV: {
          BERTH_ASSIGN_OR_RETURN(RemoteFile defaults, steps.read("/etc/default/docker"));
          const auto flags = conflictingDaemonFlags(dockerOptsOf(defaults.content));
          if (!flags.empty()) {
            return fail(
                ErrorCode::InvalidArgument,
                fmt::format("DOCKER_OPTS in /etc/default/docker sets {}, which conflicts with the "
                            "listeners and TLS settings berth writes to /etc/docker/daemon.json; remove "
                            "those flags and run again",
                            join(flags, " ")));
          }
          break;
        }
        case InitSystem::Systemd: {
          BERTH_ASSIGN_OR_RETURN(RemoteResult unit,
                                 steps.runOk("read docker.service", "systemctl cat docker.service"));
          const auto execStart = execStartOf(unit.out);
          if (!execStart) return fail(ErrorCode::InvalidArgument, "docker.service has no ExecStart");
          const std::string stripped = withoutHostFlags(*execStart);
          const auto tlsFlags = conflictingDaemonFlags(stripped);
          if (!tlsFlags.empty()) {
            return fail(
                ErrorCode::InvalidArgument,
                fmt::format("docker.service's ExecStart sets {}, which conflicts with the TLS settings "
                            "berth writes to /etc/docker/daemon.json",
                            join(tlsFlags, " ")));
          }
          if (stripped != *execStart) facts.dropInExecStart = stripped;
          break;
        }
      }
      return injected();
    }();
    if (!probed) return fail(stepError(probed.error()));
  }
  if (progress) {
    progress(fmt::format("      {} runs its engine with {}",
                         facts.hostname.empty() ? o.address : facts.hostname,
                         facts.initSystem == InitSystem::Systemd ? "systemd" : "a SysV init script"));
  }

  // 2. Issue.
  begin(ProvisionStep::Issue, "");
  auto issued = issue(facts);
  if (!issued) return fail(stepError(issued.error()));
  if (Status s = injected(); !s) return fail(stepError(s.error()));
  const TlsListenConfig listen = defaultTlsListenConfig(o.port);

  // 3. Backup.
  begin(ProvisionStep::Backup, "");
  std::vector<RemoteFile> backup{};
  {
    std::vector<std::string> paths{std::string(kRemoteDaemonJson), listen.caCert, listen.serverCert,
                                   listen.serverKey};
    if (facts.dropInExecStart) paths.emplace_back(kSystemdDropIn);
    for (const std::string& p : paths) {
      auto f = steps.read(p);
      if (!f) return fail(stepError(f.error()));
      backup.push_back(std::move(*f));
    }
    if (Status s = injected(); !s) return fail(stepError(s.error()));
  }
  auto merged = mergeDaemonJson(backup[0].content, listen);
  if (!merged) return fail(stepError(merged.error()));

  // 4-7. The steps that change the host, undone together on failure.
  const engine::Endpoint endpoint = [&] {
    engine::Endpoint ep;
    ep.scheme = engine::Scheme::Tcp;
    ep.host = o.address;
    ep.port = o.port;
    ep.tls = issued->client;
    return ep;
  }();
  std::string version{};
  const Status changed = [&]() -> Status {
    begin(ProvisionStep::Install, " into " + std::string(kRemoteTlsDir));
    BERTH_TRY(steps.write(listen.caCert, issued->clientCaPem, "644"));
    BERTH_TRY(steps.write(listen.serverCert, issued->serverCertPem, "644"));
    BERTH_TRY(steps.write(listen.serverKey, issued->serverKeyPem, "600"));
    BERTH_TRY(injected());

    begin(ProvisionStep::Configure, " (" + std::string(kRemoteDaemonJson) +
                                        (facts.dropInExecStart ? ", " + std::string(kSystemdDropIn) : "") +
                                        ")");
    BERTH_TRY(
        steps.write(std::string(kRemoteDaemonJson), *merged, backup[0].existed ? backup[0].mode : "644"));
    if (facts.dropInExecStart) {
      BERTH_TRY(steps.write(std::string(kSystemdDropIn), systemdDropIn(*facts.dropInExecStart), "644"));
    }
    BERTH_TRY(injected());

    const std::string restart = restartEngineCommand(facts.initSystem, facts.probe);
    begin(ProvisionStep::Restart, " (" + restart + ")");
    BERTH_TRY(steps.runOk("restart the engine", restart));
    BERTH_TRY(injected());

    begin(ProvisionStep::Verify, " with berth's client certificate at " + endpoint.url());
    const auto deadline = std::chrono::steady_clock::now() + o.engineTimeout;
    while (true) {
      auto v = verify(endpoint);
      if (v) {
        version = std::move(*v);
        break;
      }
      if (!retryable(v.error()) || std::chrono::steady_clock::now() >= deadline) return fail(v.error());
      std::this_thread::sleep_for(200ms);
    }
    return injected();
  }();
  if (changed) {
    return ProvisionResult{
        .facts = std::move(facts), .url = endpoint.url(), .engineVersion = std::move(version)};
  }

  // Put everything back and restart the engine as it was.
  Error failure = stepError(changed.error());
  if (progress) progress("      failed; restoring the previous engine configuration");
  const Status restored = [&]() -> Status {
    // Every file, even when one fails: the more of the old configuration is back, the better.
    std::vector<std::string> failures;
    for (const RemoteFile& f : backup) {
      if (Status s = steps.restore(f); !s) failures.push_back(s.error().message());
    }
    if (auto r = steps.runOk("restart the engine", restartEngineCommand(facts.initSystem, facts.probe)); !r) {
      failures.push_back(r.error().message());
    }
    if (failures.empty()) return ok();
    return fail(ErrorCode::Internal, join(failures, "; "));
  }();
  if (restored) {
    return fail(
        failure.code(),
        failure.message() + "; the previous engine configuration was restored and the engine restarted");
  }
  return fail(failure.code(), failure.message() + "; restoring the previous configuration ALSO failed: " +
                                  restored.error().message() + " — check the host's /etc/docker by hand");
}

}  // namespace berth::hosts
