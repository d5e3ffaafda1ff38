// zstd compression and decompression of a stream handed over in pieces (a volume's backup written
// to FILE.zst, read back by restore), with libzstd's streaming API: memory stays at libzstd's
// window and buffers whatever the stream's length.
//
// Thread-safety: one object per stream, used from one thread.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "base/result.h"

namespace berth::volumes {

// Where a stream's bytes go: returns an error to stop the stream.
using ByteSink = std::function<Status(std::string_view piece)>;

class ZstdCompressor {
 public:
  // `level`: zstd's level (3 is its default: fast, with most of the gain).
  explicit ZstdCompressor(ByteSink out, int level = 3);
  ~ZstdCompressor();
  ZstdCompressor(const ZstdCompressor&) = delete;
  ZstdCompressor& operator=(const ZstdCompressor&) = delete;

  Status write(std::string_view piece);
  // Ends the frame (its checksum included). Call once.
  Status finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class ZstdDecompressor {
 public:
  explicit ZstdDecompressor(ByteSink out);
  ~ZstdDecompressor();
  ZstdDecompressor(const ZstdDecompressor&) = delete;
  ZstdDecompressor& operator=(const ZstdDecompressor&) = delete;

  // Errors: InvalidArgument for input that is not zstd or is corrupt (checksums are verified).
  Status write(std::string_view piece);
  // Errors: InvalidArgument when the input ended inside a frame (a truncated file).
  Status finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True when `head` (the first bytes of a stream) starts with zstd's frame magic number.
bool looksLikeZstd(std::string_view head);

}  // namespace berth::volumes
