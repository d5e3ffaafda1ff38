// LogCursor: how far a container's output has been shown, so that the next log session for it —
// after a restart, or when the previous stream ended before the container did — starts with the
// first line not shown yet. It reads the engine's timestamps (the logs are asked for with
// timestamps=true) and keeps the last one shown, and how many lines shown carry it: the engine's
// `since` is inclusive and two lines may share a timestamp.
//
// Lines are as the engine sends them with timestamps: "2024-05-01T10:00:00.123456789Z text"
// (RFC 3339, UTC, nanoseconds). A line without a readable timestamp is shown as it is.
//
// Thread-safety: a value; one owner at a time.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/time.h"

namespace berth::cli {

class LogCursor {
 public:
  // For a container none of whose output was shown: start at `since` (Unix time, "1714557600.5").
  explicit LogCursor(std::string since) : since_(std::move(since)) {}

  // The `since` of the next logs request: the start, or the last timestamp shown.
  std::string since() const;
  // Call before each log session: lines the previous sessions showed will be skipped.
  void beginSession() { skip_ = shownAtLast_; }
  // The text to show for `line` — with its timestamp when `keepTimestamp`, else without — or
  // nullopt when it was shown before.
  std::optional<std::string_view> accept(std::string_view line, bool keepTimestamp);

 private:
  std::string since_;
  std::optional<SystemNanos> last_;  // of the last line shown
  int shownAtLast_ = 0;              // lines shown with timestamp last_
  int skip_ = 0;                     // lines with timestamp last_ this session still skips
};

}  // namespace berth::cli
