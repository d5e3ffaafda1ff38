#include "base/time.h"

#include <fmt/core.h>

#include <charconv>
#include <cstdint>

namespace berth {
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

std::optional<SystemNanos> parseRfc3339(std::string_view text) {
  using namespace std::chrono;
  const auto year = digits(text, 0, 4);
  const auto month = digits(text, 5, 2);
  const auto day = digits(text, 8, 2);
  const auto hour = digits(text, 11, 2);
  const auto minute = digits(text, 14, 2);
  const auto second = digits(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  const year_month_day date{std::chrono::year(*year), std::chrono::month(static_cast<unsigned>(*month)),
                            std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok() || *hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  std::size_t pos = 19;
  std::int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    std::int64_t scale = 100000000;
    const std::size_t first = ++pos;
    for (; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos) {
      nanos += (text[pos] - '0') * scale;
      scale /= 10;
    }
    if (pos == first) return std::nullopt;
  }
  minutes offset{0};
  if (pos + 1 == text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    // UTC
  } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-') && text[pos + 3] == ':') {
    const auto oh = digits(text, pos + 1, 2);
    const auto om = digits(text, pos + 4, 2);
    if (!oh || !om || *oh > 23 || *om > 59) return std::nullopt;
    offset = hours(*oh) + minutes(*om);
    if (text[pos] == '-') offset = -offset;
  } else {
    return std::nullopt;
  }
  // Local time = UTC + offset.
  return SystemNanos(sys_days(date) + hours(*hour) + minutes(*minute) + seconds(*second) - offset) +
         nanoseconds(nanos);
}

std::string unixSecondsText(SystemNanos instant) {
  const std::int64_t total = instant.time_since_epoch().count();
  // Floor division, so that instants before 1970 stay right too.
  std::int64_t secs = total / 1000000000;
  std::int64_t nanos = total % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --secs;
  }
  return fmt::format("{}.{:09d}", secs, nanos);
}

}  // namespace berth
