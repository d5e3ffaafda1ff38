#include "cli/project_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "base/files.h"
#include "base/strings.h"

namespace berth::cli {

namespace fs = std::filesystem;

namespace {

fs::path lockDirectory() {
  if (::geteuid() == 0) return "/run/berth/locks";
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && *runtime != '\0') {
    return fs::path(runtime) / "berth" / "locks";
  }
  return fs::path("/tmp") / ("berth-" + std::to_string(::geteuid())) / "locks";
}

}  // namespace

Result<ProjectLock> ProjectLock::acquire(const std::string& project) {
  const fs::path dir = lockDirectory();
  BERTH_TRY(ensurePrivateDir(dir));
  // Project names are [a-z0-9_-]: a file name as they are.
  const fs::path file = dir / (project.empty() ? std::string("_") : project);
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return fail(ErrorCode::Unavailable, "lock " + file.string() + ": " + std::strerror(errno));
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int e = errno;
    ::close(fd);
    return fail(ErrorCode::Unavailable, "lock " + file.string() + ": " + std::strerror(e));
  }
  return ProjectLock(fd);
}

ProjectLock& ProjectLock::operator=(ProjectLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

ProjectLock::~ProjectLock() { release(); }

void ProjectLock::release() {
  if (fd_ >= 0) ::close(fd_);  // closing drops the flock
  fd_ = -1;
}

}  // namespace berth::cli
