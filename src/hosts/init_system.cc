#include "hosts/init_system.h"

#include <fmt/core.h>

#include "base/strings.h"

namespace berth::hosts {

std::string initProbeScript() {
  return "yn() { if \"$@\" >/dev/null 2>&1; then echo yes; else echo no; fi; }\n"
         "PATH=\"$PATH:/usr/sbin:/sbin:/usr/local/sbin\"\n"
         "echo \"systemd-booted=$(yn test -d /run/systemd/system)\"\n"
         "echo \"systemctl=$(yn command -v systemctl)\"\n"
         "echo \"init-script=$(yn test -x /etc/init.d/docker)\"\n"
         "echo \"service=$(yn command -v service)\"\n"
         "echo \"dockerd=$(yn command -v dockerd)\"\n";
}

Result<InitProbe> parseInitProbe(std::string_view output) {
  InitProbe p;
  int seen = 0;
  for (const std::string& raw : split(output, '\n')) {
    const std::string_view line = trim(raw);
    if (line.empty()) continue;
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      return fail(ErrorCode::InvalidArgument, fmt::format("unexpected probe output {}", berth::quoted(line)));
    }
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    if (value != "yes" && value != "no") {
      return fail(ErrorCode::InvalidArgument, fmt::format("unexpected probe output {}", berth::quoted(line)));
    }
    const bool yes = value == "yes";
    if (key == "systemd-booted") {
      p.systemdBooted = yes;
    } else if (key == "systemctl") {
      p.systemctl = yes;
    } else if (key == "init-script") {
      p.initScript = yes;
    } else if (key == "service") {
      p.service = yes;
    } else if (key == "dockerd") {
      p.dockerd = yes;
    } else {
      continue;
    }
    ++seen;
  }
  if (seen < 5)
    return fail(ErrorCode::InvalidArgument, fmt::format("incomplete probe output {}", berth::quoted(output)));
  return p;
}

Result<InitSystem> detectInitSystem(const InitProbe& p) {
  if (!p.dockerd) {
    return fail(ErrorCode::InvalidArgument,
                "the host has no dockerd on its PATH (install Docker Engine first, e.g. `apt-get install "
                "docker.io`)");
  }
  if (p.systemdBooted) {
    if (!p.systemctl) {
      return fail(ErrorCode::InvalidArgument,
                  "the host runs systemd (/run/systemd/system exists) but has no systemctl");
    }
    return InitSystem::Systemd;
  }
  if (p.initScript) return InitSystem::SysV;
  return fail(ErrorCode::InvalidArgument,
              "cannot tell how the host runs its engine: it was not booted with systemd (no "
              "/run/systemd/system) and has no /etc/init.d/docker");
}

std::string restartEngineCommand(InitSystem system, const InitProbe& p) {
  switch (system) {
    case InitSystem::Systemd:
      return "systemctl daemon-reload && systemctl restart docker.service";
    case InitSystem::SysV:
      return p.service ? "service docker restart" : "/etc/init.d/docker restart";
  }
  return "false";
}

std::string engineStatusCommand(InitSystem system, const InitProbe& p) {
  switch (system) {
    case InitSystem::Systemd:
      return "systemctl is-active docker.service";
    case InitSystem::SysV:
      return p.service ? "service docker status" : "/etc/init.d/docker status";
  }
  return "false";
}

}  // namespace berth::hosts
