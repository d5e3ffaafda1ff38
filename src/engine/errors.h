// How engine failures read. Every message starts with the engine and what berth asked it:
//
//   engine unix:///run/x.sock: create container web-1: No such image: web:latest (404)
//   engine tcp://10.0.0.2:2376: start container web-1: connection refused by 10.0.0.2:2376 (...)
//   host web-1 (tcp://10.0.0.2:2376): start container web-1: ...      (reached with -H web-1)
//
// `engine` below is that first part, as Endpoint::describe() gives it.
//
// The engine's own words come from its JSON error body ({"message": ...}); a body that is not JSON
// is quoted as text (trimmed), and an empty one falls back to the HTTP reason phrase.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::engine {

// 400 InvalidArgument, 401/403 PermissionDenied, 404 NotFound, 409 Conflict, 408/504
// DeadlineExceeded, 502/503 Unavailable, everything else Internal.
ErrorCode errorCodeForStatus(int status);

// What the engine said: "No such image: web:latest (404)".
std::string engineAnswerText(int status, std::string_view reason, std::string_view body);

// The engine answered `status` with `body` to `what`.
Error engineAnswerError(std::string_view engine, std::string_view what, int status, std::string_view reason,
                        std::string_view body);

// The call `what` failed before the engine answered (connection, TLS, timeout, malformed answer).
Error engineCallError(std::string_view engine, std::string_view what, const Error& cause);

}  // namespace berth::engine
