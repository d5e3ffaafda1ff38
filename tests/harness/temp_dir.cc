#include "harness/temp_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "base/check.h"
#include "base/files.h"

namespace berth::testing {

TempDir::TempDir(std::string_view prefix) {
  std::string pattern = "/tmp/" + std::string(prefix) + "XXXXXX";
  BERTH_CHECK_MSG(::mkdtemp(pattern.data()) != nullptr, "mkdtemp " + pattern + ": " + std::strerror(errno));
  path_ = pattern;
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(const std::filesystem::path& rel, std::string_view content) const {
  const auto full = path_ / rel;
  std::error_code ec;
  std::filesystem::create_directories(full.parent_path(), ec);
  BERTH_CHECK_MSG(!ec, full.parent_path().string() + ": " + ec.message());
  const Status written =
      writeFileAtomic(full, content,
                      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                          std::filesystem::perms::group_read | std::filesystem::perms::others_read);
  BERTH_CHECK_MSG(written.has_value(), written.has_value() ? "" : written.error().message());
  return full;
}

}  // namespace berth::testing
