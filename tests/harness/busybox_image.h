// The busybox image every test engine gets: no registry is reachable, so it is made offline from
// Debian's busybox-static — a root filesystem holding /bin/busybox and a symlink per applet (sh,
// httpd, wget, nc, sleep, cat, hostname, env, id, ls, ps, ...), /tmp, /etc/passwd and /etc/group,
// imported as `busybox:latest` with CMD ["sh"] and the usual PATH, like the image on Docker Hub.
//
// Thread-safety: both functions may be called from any thread; the archive is built once.
#pragma once

#include <string>

#include "base/result.h"

namespace berth::testing {

inline constexpr const char* kBusyboxImage = "busybox:latest";

// The root filesystem as a tar archive (built on first use from /bin/busybox).
Result<std::string> busyboxRootfsTar();

// Imports the archive into the engine listening on the unix socket `socketPath` as busybox:latest.
Status loadBusyboxImage(const std::string& socketPath);

}  // namespace berth::testing
