#include "cli/log_cursor.h"

#include <fmt/core.h>

#include <charconv>
#include <ctime>

namespace berth::cli {
namespace {

// Digits of `text` at [pos, pos + n) as a number, or nullopt.
std::optional<int> digits(std::string_view text, std::size_t pos, std::size_t n) {
  if (pos + n > text.size()) return std::nullopt;
  int value = 0;
  const char* end = text.data() + pos + n;
  const auto r = std::from_chars(text.data() + pos, end, value);
  if (r.ec != std::errc() || r.ptr != end) return std::nullopt;
  return value;
}

}  // namespace

std::optional<LogCursor::Timestamp> LogCursor::parseTimestamp(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction]Z
  const auto year = digits(text, 0, 4);
  const auto month = digits(text, 5, 2);
  const auto day = digits(text, 8, 2);
  const auto hour = digits(text, 11, 2);
  const auto minute = digits(text, 14, 2);
  const auto second = digits(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second || text[4] != '-' || text[7] != '-' ||
      text[10] != 'T' || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    std::int64_t scale = 100000000;
    for (++pos; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos) {
      nanos += (text[pos] - '0') * scale;
      scale /= 10;
    }
  }
  if (pos + 1 != text.size() || text[pos] != 'Z') return std::nullopt;
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  return Timestamp{static_cast<std::int64_t>(timegm(&tm)), nanos};
}

std::string LogCursor::since() const {
  if (!last_) return since_;
  return fmt::format("{}.{:09d}", last_->seconds, last_->nanos);
}

std::optional<std::string_view> LogCursor::accept(std::string_view line, bool keepTimestamp) {
  const std::size_t space = line.find(' ');
  const auto stamp = parseTimestamp(line.substr(0, space));
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
