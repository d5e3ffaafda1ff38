// Logging to stderr for diagnostics (--log-level). User-facing output goes through the CLI's own
// printers, never through here. spdlog stays inside log.cc; callers format with fmt.
//
// Thread-safety: all functions may be called from any thread.
#pragma once

#include <fmt/core.h>

#include <optional>
#include <string_view>

namespace berth::log {

enum class Level { Debug, Info, Warn, Error };

// Parses "debug", "info", "warn"/"warning", "error" (case-insensitive); nullopt otherwise.
std::optional<Level> parseLevel(std::string_view text);
void setLevel(Level level);
// Lines start with the UTC time ("2026-05-01T10:00:00.123Z info ..."): berthd's format.
void setDaemonFormat();
bool enabled(Level level);
void write(Level level, std::string_view message);

template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Debug)) write(Level::Debug, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Info)) write(Level::Info, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Warn)) write(Level::Warn, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Error)) write(Level::Error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace berth::log
