// An image whose PID 1 is a real systemd, for testing what berth asks of systemd (`berth systemd
// install`): no registry is reachable, so it is made offline from this machine's own files —
// /lib/systemd/systemd and systemctl with every library they link, the libraries a given program
// (the berth binary, bind-mounted in at run time) links, busybox for a shell, a handful of targets
// so default dependencies resolve, and a stand-in docker.service (the engine itself is outside: its
// socket is mounted in). CMD is systemd; container=docker tells it where it runs.
//
// Thread-safety: call from one thread.
#pragma once

#include <string>

#include "base/result.h"

namespace berth::testing {

inline constexpr const char* kSystemdImage = "berth-test/systemd:1";

// Builds the root filesystem (with the libraries `programForLibraries` needs) and imports it into
// the engine listening on the unix socket `socketPath` as kSystemdImage.
Status loadSystemdImage(const std::string& socketPath, const std::string& programForLibraries);

// Whether this machine mounts cgroup v2 alone (/sys/fs/cgroup/cgroup.controllers): systemd in a
// container then needs the host's cgroup namespace and a writable /sys/fs/cgroup.
bool unifiedCgroups();

}  // namespace berth::testing
