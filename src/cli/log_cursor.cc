#include "cli/log_cursor.h"

namespace berth::cli {

std::string LogCursor::since() const {
  if (!last_) return since_;
  return unixSecondsText(*last_);
}

std::optional<std::string_view> LogCursor::accept(std::string_view line, bool keepTimestamp) {
  const std::size_t space = line.find(' ');
  const auto stamp = parseRfc3339(line.substr(0, space));
  if (!stamp) return line;
  const std::string_view text = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  if (last_ && *stamp < *last_) return std::nullopt;
  if (last_ && *stamp == *last_) {
    if (skip_ > 0) {
      --skip_;
      return std::nullopt;
    }
    ++shownAtLast_;
  } else {
    last_ = *stamp;
    shownAtLast_ = 1;
    skip_ = 0;
  }
  return keepTimestamp ? line : text;
}

}  // namespace berth::cli
