// Docker Engine API versions and their negotiation.
//
// berth speaks Engine API 1.40 (Docker 19.03) to 1.41 (Docker 20.10, Debian 12's docker.io): every
// request and response shape in engine/types.h is the 1.41 one. Against a newer engine berth asks for
// 1.41 (engines keep serving old versions); against an older one it uses the engine's version, down
// to 1.40. DOCKER_API_VERSION pins the version instead of negotiating, like the docker CLI.
//
// Thread-safety: plain values.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::engine {

struct ApiVersion {
  int major = 1;
  int minor = 0;

  friend auto operator<=>(const ApiVersion&, const ApiVersion&) = default;
  // "1.41"
  std::string toString() const;
};

inline constexpr ApiVersion kMinApiVersion{1, 40};
inline constexpr ApiVersion kMaxApiVersion{1, 41};

// Parses "1.41". InvalidArgument otherwise.
Result<ApiVersion> parseApiVersion(std::string_view text);

// The version to use with an engine whose /_ping said `engineVersion` (its API-Version header; empty
// when the engine sent none). `pinned` (DOCKER_API_VERSION) skips negotiation but is still capped at
// kMaxApiVersion. Fails with Unavailable when the engine is older than kMinApiVersion.
Result<ApiVersion> negotiateApiVersion(std::string_view engineVersion,
                                       const std::optional<ApiVersion>& pinned);

}  // namespace berth::engine
