// TempDir: a fresh directory under /tmp that is removed (recursively) when the object goes away.
// Creation failure aborts the test binary with the reason: a test cannot run without its directory.
//
// Thread-safety: one owner; distinct TempDirs are independent.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace berth::testing {

class TempDir {
 public:
  // Creates /tmp/<prefix>XXXXXX (mode 0700).
  explicit TempDir(std::string_view prefix = "berth-test-");
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& rel) const { return path_ / rel; }
  // Writes `content` to path()/rel (creating parent directories) and returns the full path. Aborts
  // on failure, like the constructor.
  std::filesystem::path write(const std::filesystem::path& rel, std::string_view content) const;

 private:
  std::filesystem::path path_;
};

}  // namespace berth::testing
