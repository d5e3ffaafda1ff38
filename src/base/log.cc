#include "base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>

#include "base/strings.h"

namespace berth::log {
namespace {

std::atomic<Level> g_level{Level::Warn};

spdlog::logger& logger() {
  // Built on first use so that programs which never log pay nothing at start-up.
  static auto instance = [] {
    auto l =
        std::make_shared<spdlog::logger>("berth", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    l->set_pattern("%^%l%$ %v");
    l->set_level(spdlog::level::trace);
    return l;
  }();
  return *instance;
}

}  // namespace

std::optional<Level> parseLevel(std::string_view text) {
  const std::string t = toLower(text);
  if (t == "debug" || t == "trace") return Level::Debug;
  if (t == "info") return Level::Info;
  if (t == "warn" || t == "warning") return Level::Warn;
  if (t == "error" || t == "fatal" || t == "critical") return Level::Error;
  return std::nullopt;
}

void setLevel(Level level) { g_level = level; }

void setDaemonFormat() {
  // A daemon's log is read later, next to other machines' logs: UTC time to the millisecond, the
  // level, the message.
  logger().set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
}

bool enabled(Level level) { return static_cast<int>(level) >= static_cast<int>(g_level.load()); }

void write(Level level, std::string_view message) {
  switch (level) {
    case Level::Debug:
      logger().debug("{}", message);
      return;
    case Level::Info:
      logger().info("{}", message);
      return;
    case Level::Warn:
      logger().warn("{}", message);
      return;
    case Level::Error:
      logger().error("{}", message);
      return;
  }
}

}  // namespace berth::log
