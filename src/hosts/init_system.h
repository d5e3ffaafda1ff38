// How a host runs its Docker engine, found out over SSH, and the commands that drive it.
//
// systemd counts only when the host was booted with it — /run/systemd/system exists, the test
// sd_booted(3) makes — because `systemctl` is installed on many machines (and containers) that do
// not run systemd. Otherwise a SysV init script /etc/init.d/docker, through `service docker ...`
// when `service` exists.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "hosts/inventory.h"

namespace berth::hosts {

struct InitProbe {
  bool systemdBooted = false;  // /run/systemd/system is a directory
  bool systemctl = false;      // `systemctl` is on PATH
  bool initScript = false;     // /etc/init.d/docker is executable
  bool service = false;        // `service` is on PATH
  bool dockerd = false;        // `dockerd` is on PATH (or /usr/bin, /usr/sbin)
};

// A POSIX sh script that prints the probe as "key=yes|no" lines.
std::string initProbeScript();
// Parses what initProbeScript printed. InvalidArgument on unexpected output.
Result<InitProbe> parseInitProbe(std::string_view output);

// Which init system drives the engine. FailedPrecondition-like errors (InvalidArgument) say what is
// missing: no dockerd, or neither systemd nor an init script.
Result<InitSystem> detectInitSystem(const InitProbe& probe);

// Shell commands for the engine under `system`.
std::string restartEngineCommand(InitSystem system, const InitProbe& probe);
std::string engineStatusCommand(InitSystem system, const InitProbe& probe);

}  // namespace berth::hosts
