#include "engine/transport/stream_demux.h"

#include <fmt/core.h>

#include <algorithm>

namespace berth::engine::transport {

Status StreamDemux::feed(std::string_view data, const Sink& sink) {
  BERTH_CHECK_MSG(!failed_, "StreamDemux fed after a failure");
  if (!multiplexed_) {
    if (!data.empty()) sink(OutputStream::Stdout, data);
    offset_ += data.size();
    return ok();
  }
  while (!data.empty()) {
    if (remaining_ == 0) {
      const std::size_t take = std::min(data.size(), header_.size() - headerFill_);
      std::copy_n(data.begin(), take, header_.begin() + static_cast<std::ptrdiff_t>(headerFill_));
      headerFill_ += take;
      data.remove_prefix(take);
      offset_ += take;
      if (headerFill_ < header_.size()) return ok();
      headerFill_ = 0;
      const std::uint64_t frameStart = offset_ - header_.size();
      if (header_[0] > 3 || header_[1] != 0 || header_[2] != 0 || header_[3] != 0) {
        failed_ = true;
        return fail(ErrorCode::Internal,
                    fmt::format("malformed output stream from the engine: bad frame header "
                                "{:02x} {:02x} {:02x} {:02x} at byte {}",
                                header_[0], header_[1], header_[2], header_[3], frameStart));
      }
      current_ = static_cast<OutputStream>(header_[0]);
      remaining_ = static_cast<std::uint32_t>(header_[4]) << 24 |
                   static_cast<std::uint32_t>(header_[5]) << 16 |
                   static_cast<std::uint32_t>(header_[6]) << 8 | static_cast<std::uint32_t>(header_[7]);
      continue;
    }
    const std::size_t take = std::min<std::size_t>(data.size(), remaining_);
    sink(current_, data.substr(0, take));
    data.remove_prefix(take);
    remaining_ -= static_cast<std::uint32_t>(take);
    offset_ += take;
  }
  return ok();
}

Status StreamDemux::finish() const {
  if (!multiplexed_ || (headerFill_ == 0 && remaining_ == 0)) return ok();
  if (headerFill_ != 0) {
    return fail(ErrorCode::Internal,
                fmt::format("output stream from the engine ended inside a frame header ({} of 8 bytes)",
                            headerFill_));
  }
  return fail(ErrorCode::Internal,
              fmt::format("output stream from the engine ended inside a frame ({} payload bytes missing)",
                          remaining_));
}

}  // namespace berth::engine::transport
