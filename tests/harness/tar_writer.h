// TarWriter: builds a POSIX ustar archive in memory — image root filesystems and build contexts for
// tests. Entries are written in the order added, owned by root, with a fixed mtime so archives are
// reproducible.
//
// Invariants: names are relative ("bin/sh", not "/bin/sh"); a name longer than ustar allows
// (100 bytes, or 155 + 100 split at a '/') is a BERTH_CHECK failure (test data is ours).
// Thread-safety: one owner.
#pragma once

#include <string>
#include <string_view>

namespace berth::testing {

class TarWriter {
 public:
  void addDirectory(std::string_view name, unsigned mode = 0755);
  void addFile(std::string_view name, std::string_view content, unsigned mode = 0644);
  void addSymlink(std::string_view name, std::string_view target);
  // The archive with its two terminating zero blocks. The writer is empty afterwards.
  std::string finish();

 private:
  void header(std::string_view name, char type, std::size_t size, unsigned mode,
              std::string_view linkTarget);
  std::string data_;
};

}  // namespace berth::testing
