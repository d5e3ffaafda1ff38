// Timestamps as Docker engines write them: RFC 3339 with nanoseconds ("2024-05-01T10:00:00.123456789Z",
// "2024-05-01T12:00:00.5+02:00"), in log lines, events and /info's SystemTime.
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace berth {

using SystemNanos = std::chrono::sys_time<std::chrono::nanoseconds>;

// "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)" as a UTC instant; nullopt for anything else (a date
// without time, missing zone, out-of-range fields, trailing text).
std::optional<SystemNanos> parseRfc3339(std::string_view text);

// The instant as the engine API's `since`/`until` take it: Unix seconds with nanoseconds,
// "1714557600.123456789".
std::string unixSecondsText(SystemNanos instant);

}  // namespace berth
