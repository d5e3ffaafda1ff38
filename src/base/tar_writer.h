// TarWriter: builds a POSIX tar archive in memory — build contexts sent to the engine, files copied
// into containers. Names longer than ustar allows and long link targets get a PAX extended header,
// so any path works. Entries are written in the order added; owner and mtime are fixed (root, a
// constant) unless given (setOwner), so the same input gives the same bytes.
//
// Invariants: names are relative ("bin/sh", not "/bin/sh"; a leading "/" is dropped).
// Thread-safety: one owner.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace berth {

class TarWriter {
 public:
  void addDirectory(std::string_view name, unsigned mode = 0755);
  void addFile(std::string_view name, std::string_view content, unsigned mode = 0644);
  void addSymlink(std::string_view name, std::string_view target);
  // Entries added from now on belong to uid:gid (numeric, no names: the engine extracts by number).
  void setOwner(unsigned uid, unsigned gid) {
    uid_ = uid;
    gid_ = gid;
  }
  // A file whose content is too large to hold: its header now, then the content written by the
  // caller straight after what take() returns, exactly `size` bytes, then endFile(size).
  void beginFile(std::string_view name, std::uint64_t size, unsigned mode = 0644);
  void endFile(std::uint64_t size);
  // The bytes written so far, handed over (a stream writes them out and goes on).
  std::string take();
  // The archive so far is this many bytes (without the end-of-archive blocks).
  std::size_t size() const { return data_.size(); }
  // The archive with its two terminating zero blocks. The writer is empty afterwards.
  std::string finish();

 private:
  void entry(std::string_view name, char type, std::size_t size, unsigned mode, std::string_view linkTarget);
  void header(std::string_view name, char type, std::size_t size, unsigned mode, std::string_view linkTarget,
              std::string_view prefix);
  std::string data_;
  unsigned uid_ = 0;
  unsigned gid_ = 0;
};

}  // namespace berth
