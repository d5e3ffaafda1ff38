#include "engine/api_version.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>

#include "base/strings.h"

namespace berth::engine {
namespace {

bool parseNumber(std::string_view text, int& out) {
  if (text.empty() || text.size() > 4) return false;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

std::string ApiVersion::toString() const { return fmt::format("{}.{}", major, minor); }

Result<ApiVersion> parseApiVersion(std::string_view text) {
  const auto dot = text.find('.');
  ApiVersion v;
  if (dot == std::string_view::npos || !parseNumber(text.substr(0, dot), v.major) ||
      !parseNumber(text.substr(dot + 1), v.minor)) {
    return fail(
        ErrorCode::InvalidArgument,
        fmt::format("invalid Engine API version {}: expected MAJOR.MINOR such as 1.41", berth::quoted(text)));
  }
  return v;
}

Result<ApiVersion> negotiateApiVersion(std::string_view engineVersion,
                                       const std::optional<ApiVersion>& pinned) {
  const auto tooOld = [](const ApiVersion& v) {
    return fail(ErrorCode::Unavailable,
                fmt::format("the engine speaks Engine API {}; berth needs at least {} (Docker 19.03)",
                            v.toString(), kMinApiVersion.toString()));
  };
  if (pinned) {
    if (*pinned < kMinApiVersion) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("DOCKER_API_VERSION={}: berth speaks Engine API {} to {}", pinned->toString(),
                              kMinApiVersion.toString(), kMaxApiVersion.toString()));
    }
    return std::min(*pinned, kMaxApiVersion);
  }
  if (engineVersion.empty()) {
    // Engines before API 1.25 did not send API-Version; they are far below our minimum.
    return tooOld(ApiVersion{1, 24});
  }
  BERTH_ASSIGN_OR_RETURN(const ApiVersion engine, parseApiVersion(engineVersion));
  if (engine < kMinApiVersion) return tooOld(engine);
  return std::min(engine, kMaxApiVersion);
}

}  // namespace berth::engine
