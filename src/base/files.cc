#include "base/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace berth {

namespace fs = std::filesystem;

Result<std::string> readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    const ErrorCode code = err == ENOENT   ? ErrorCode::NotFound
                           : err == EACCES ? ErrorCode::PermissionDenied
                                           : ErrorCode::Unavailable;
    return fail(code, path.string() + ": " + std::strerror(err));
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return fail(ErrorCode::Unavailable, path.string() + ": read failed");
  return out.str();
}

Status writeFileAtomic(const fs::path& path, std::string_view content, fs::perms perms) {
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail(ErrorCode::Unavailable, tmp.string() + ": " + std::strerror(errno));
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return fail(ErrorCode::Unavailable, tmp.string() + ": " + std::strerror(err));
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, static_cast<mode_t>(perms)) != 0 || ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail(ErrorCode::Unavailable, tmp.string() + ": " + std::strerror(err));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return fail(ErrorCode::Unavailable, path.string() + ": " + std::strerror(err));
  }
  return ok();
}

Status ensurePrivateDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(ErrorCode::Unavailable, dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return fail(ErrorCode::Unavailable, dir.string() + ": " + ec.message());
  return ok();
}

Result<fs::path> berthConfigDir() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0') {
    return fs::path(xdg) / "berth";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return fs::path(home) / ".config" / "berth";
  }
  return fail(ErrorCode::InvalidArgument,
              "cannot find berth's config directory: neither XDG_CONFIG_HOME nor HOME is set");
}

}  // namespace berth
