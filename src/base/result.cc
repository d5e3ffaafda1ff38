#include "base/result.h"

#include <cstdio>
#include <cstdlib>

namespace berth {

std::string_view errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument:
      return "invalid argument";
    case ErrorCode::NotFound:
      return "not found";
    case ErrorCode::AlreadyExists:
      return "already exists";
    case ErrorCode::Conflict:
      return "conflict";
    case ErrorCode::Unavailable:
      return "unavailable";
    case ErrorCode::DeadlineExceeded:
      return "deadline exceeded";
    case ErrorCode::PermissionDenied:
      return "permission denied";
    case ErrorCode::Internal:
      return "internal";
    case ErrorCode::Cancelled:
      return "cancelled";
  }
  return "unknown";
}

namespace detail {
void checkFailed(const char* file, int line, std::string_view condition, std::string_view message) {
  std::fprintf(stderr, "berth: internal error at %s:%d: check failed: %.*s%s%.*s\n", file, line,
               static_cast<int>(condition.size()), condition.data(), message.empty() ? "" : ": ",
               static_cast<int>(message.size()), message.data());
  std::abort();
}
}  // namespace detail

}  // namespace berth
