// The output streams of logs, attach and exec.
//
// Without a TTY the engine multiplexes stdout and stderr into frames:
//   [stream type: 1 byte][0 0 0][payload size: 4 bytes, big-endian][payload]
// with stream type 0 (stdin, echoed), 1 (stdout), 2 (stderr) or 3 (an engine-side error, API >= 1.41
// for some endpoints). With a TTY the stream is raw: everything is stdout.
//
// StreamDemux decodes either form incrementally: payload bytes are delivered as they arrive (a large
// frame is not buffered), a header split over several reads is reassembled, and at the end of the
// stream a truncated frame or a malformed header is an error naming the offset.
//
// Thread-safety: one thread per decoder.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string_view>

#include "base/result.h"
#include "engine/types.h"

namespace berth::engine::transport {

class StreamDemux {
 public:
  using Sink = std::function<void(OutputStream stream, std::string_view data)>;

  // `multiplexed`: frames (no TTY); false: a raw TTY stream, all stdout.
  explicit StreamDemux(bool multiplexed) : multiplexed_(multiplexed) {}

  // Decodes `data`, calling `sink` for each piece of payload (never with empty data). Fails with
  // Internal on a malformed frame header; the decoder must not be fed after a failure.
  Status feed(std::string_view data, const Sink& sink);
  // The stream ended: fails with Internal if it ended inside a frame.
  Status finish() const;

 private:
  bool multiplexed_;
  std::array<unsigned char, 8> header_{};
  std::size_t headerFill_ = 0;
  std::uint32_t remaining_ = 0;  // payload bytes left in the current frame
  OutputStream current_ = OutputStream::Stdout;
  std::uint64_t offset_ = 0;  // bytes consumed so far, for messages
  bool failed_ = false;
};

}  // namespace berth::engine::transport
