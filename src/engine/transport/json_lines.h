// Splits a stream of newline-delimited JSON (the events stream, build and load progress) into lines,
// whatever way the bytes were cut into reads. "\r\n" endings and blank lines are tolerated; a line
// longer than the limit is an error rather than unbounded buffering.
//
// Thread-safety: one thread per splitter.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::engine::transport {

class LineSplitter {
 public:
  // `onLine` returns false to stop: feed then returns without consuming further lines.
  using LineFn = std::function<bool(std::string_view line)>;

  explicit LineSplitter(std::size_t maxLine = 16 * 1024 * 1024) : maxLine_(maxLine) {}

  // Calls `onLine` for each complete, non-blank line (without its line ending). Returns false when
  // `onLine` asked to stop. Fails with Internal when a line exceeds the limit.
  Result<bool> feed(std::string_view data, const LineFn& onLine);
  // End of stream: a last line without a newline is delivered too.
  Result<bool> finish(const LineFn& onLine);

 private:
  std::size_t maxLine_;
  std::string partial_;
};

}  // namespace berth::engine::transport
