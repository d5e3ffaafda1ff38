// One convergence of a project at a time on this machine. Two `berth up` of the same project that
// overlap (systemd starts the units of a project's services together, and a unit waits for its
// dependencies with another `up`) would otherwise both observe "no network yet" and both create
// it: the engine's duplicate check is not atomic, and the second network makes the name ambiguous.
//
// An advisory lock (flock) on a file per project, in /run/berth/locks when berth runs as root,
// else $XDG_RUNTIME_DIR/berth/locks or /tmp/berth-UID/locks. Held from observing to the end of
// applying; released on destruction (or when the process dies).
#pragma once

#include <string>

#include "base/result.h"

namespace berth::cli {

class ProjectLock {
 public:
  // Blocks until the lock is ours. Errors only when the lock file cannot be made.
  static Result<ProjectLock> acquire(const std::string& project);
  ProjectLock(ProjectLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  ProjectLock& operator=(ProjectLock&& other) noexcept;
  ProjectLock(const ProjectLock&) = delete;
  ProjectLock& operator=(const ProjectLock&) = delete;
  ~ProjectLock();

  void release();

 private:
  explicit ProjectLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace berth::cli
