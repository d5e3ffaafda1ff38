// TarReader: checks and describes a tar stream as it arrives — an archive copied out of a
// container, or one about to be sent — without holding it: pieces of any size go to feed(), each
// entry is handed to a callback as soon as its header is read, and the data itself is only
// skipped, so memory stays a few blocks whatever the archive's size. It reads what Docker's
// archive API produces (Go's archive/tar, PAX format) and what GNU tar writes: ustar, GNU long
// names ('L', 'K') and PAX extended headers ('x'; global ones, 'g', are skipped).
//
// Everything wrong with the stream is an ErrorCode::InvalidArgument whose message says what and at
// which byte offset. The first error (or the callback's) stops the reader: later calls return it.
//
// Invariants: feed() is not called after finish().
// Thread-safety: one owner.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace berth {

struct TarEntry {
  std::string path;  // with the ustar prefix, GNU long name or PAX "path" applied
  char type = '0';   // the header's type flag: '0' (or '\0') file, '1' hard link, '2' symlink, '5' dir...
  std::uint64_t size = 0;  // bytes of data that follow in the stream (0 for links, dirs, devices, FIFOs)
  // As the header gives it: Docker includes the file-type bits (0100644), so permissions are
  // mode & 07777.
  std::uint32_t mode = 0;
  std::uint64_t uid = 0;
  std::uint64_t gid = 0;
  std::string linkTarget;  // hard and symbolic links
  std::int64_t mtime = 0;  // seconds since the epoch (a PAX fraction is dropped)
};

class TarReader {
 public:
  using EntryCallback = std::function<Status(const TarEntry&)>;

  // `onEntry` is called once per entry, in archive order, before its data is read; its error stops
  // the reader and is what feed() returns. It may be empty (only checking and counting).
  explicit TarReader(EntryCallback onEntry = {});

  // The next bytes of the stream, split anywhere.
  Status feed(std::string_view piece);
  // The stream has ended: fails if it stopped inside a header or an entry's data, or before the
  // end-of-archive marker (one zero block is enough, as GNU tar accepts).
  Status finish();

  // Entries handed to the callback (extended headers are not entries).
  std::uint64_t entries() const { return entries_; }
  // Sum of those entries' sizes.
  std::uint64_t dataBytes() const { return dataBytes_; }
  // Bytes consumed so far: everything fed, unless an error stopped the reader inside a piece.
  std::uint64_t bytesFed() const { return bytesFed_; }

 private:
  enum class State {
    Header,     // collecting a 512-byte header
    SparseMap,  // collecting an old-GNU sparse entry's extension blocks
    Data,       // skipping (or, for extended headers, collecting) an entry's data, then its padding
    End,        // after the end-of-archive marker: only zero padding may follow
  };
  // What the bytes of the current Data state are, for handling them and for truncation messages.
  enum class DataKind { Entry, PaxHeader, PaxGlobalHeader, LongName, LongLink };

  Status onBlock();
  Status onHeader();
  Status onSparseBlock();
  Status onDataRead();
  Status startEntry(std::uint64_t offset, std::uint64_t size);
  Status startData(DataKind kind, std::uint64_t size);
  Status parsePaxRecords(std::string_view records);
  Status stop(Status status);
  std::string dataSubject() const;
  std::string quotedField(std::size_t at, std::size_t width) const;

  EntryCallback onEntry_;
  State state_ = State::Header;
  char block_[512] = {};
  std::size_t blockFill_ = 0;
  int zeroBlocks_ = 0;  // consecutive zero blocks seen where a header was expected
  std::uint64_t zeroBlockOffset_ = 0;

  // The entry (or extended header) whose data is being read.
  DataKind dataKind_ = DataKind::Entry;
  std::uint64_t dataOffset_ = 0;  // where its header started
  std::string dataPath_;          // the last entry's path, also after its data
  std::uint64_t dataSize_ = 0;
  std::uint64_t dataLeft_ = 0;
  std::uint64_t padLeft_ = 0;
  std::string extended_;  // the data of a PAX header or GNU long name/link being collected

  // Overrides for the next entry, from PAX extended headers and GNU long names/links.
  bool overridesPending_ = false;      // an extended header was read and no entry has used it yet
  std::uint64_t overridesOffset_ = 0;  // where the first of them started, for messages
  std::optional<std::string> longName_;
  std::optional<std::string> longLink_;
  std::optional<std::string> paxPath_;
  std::optional<std::string> paxLinkpath_;
  std::optional<std::uint64_t> paxSize_;
  std::optional<std::uint64_t> paxUid_;
  std::optional<std::uint64_t> paxGid_;
  std::optional<std::int64_t> paxMtime_;

  std::optional<Error> error_;
  bool finished_ = false;
  std::uint64_t entries_ = 0;
  std::uint64_t dataBytes_ = 0;
  std::uint64_t bytesFed_ = 0;
};

}  // namespace berth
