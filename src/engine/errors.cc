#include "engine/errors.h"

#include <fmt/core.h>

#include "base/strings.h"
#include "engine/json_codec.h"

namespace berth::engine {

ErrorCode errorCodeForStatus(int status) {
  switch (status) {
    case 400:
      return ErrorCode::InvalidArgument;
    case 401:
    case 403:
      return ErrorCode::PermissionDenied;
    case 404:
      return ErrorCode::NotFound;
    case 409:
      return ErrorCode::Conflict;
    case 408:
    case 504:
      return ErrorCode::DeadlineExceeded;
    case 502:
    case 503:
      return ErrorCode::Unavailable;
    default:
      return ErrorCode::Internal;
  }
}

std::string engineAnswerText(int status, std::string_view reason, std::string_view body) {
  std::string said;
  if (auto message = json::errorMessage(body)) {
    said = std::string(trim(*message));
  } else {
    said = std::string(trim(body.substr(0, 500)));
  }
  if (said.empty()) said = reason.empty() ? "no message" : std::string(reason);
  return fmt::format("{} ({})", said, status);
}

Error engineAnswerError(std::string_view engine, std::string_view what, int status, std::string_view reason,
                        std::string_view body) {
  return Error(errorCodeForStatus(status),
               fmt::format("{}: {}: {}", engine, what, engineAnswerText(status, reason, body)));
}

Error engineCallError(std::string_view engine, std::string_view what, const Error& cause) {
  return Error(cause.code(), fmt::format("{}: {}: {}", engine, what, cause.message()));
}

}  // namespace berth::engine
