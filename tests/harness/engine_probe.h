// A minimal one-shot HTTP/1.1 client over a unix socket, for the harness's own needs: waiting for a
// private dockerd to answer /_ping and loading the busybox image. It is deliberately tiny and
// independent of src/engine (the client under test); tests of berth use berth's own client.
//
// Thread-safety: stateless; each call opens and closes its own connection.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::testing {

struct ProbeResponse {
  int status = 0;
  std::string body;  // de-chunked
};

// Percent-encodes everything but unreserved characters (query values of engine requests).
std::string urlEncode(std::string_view text);

// Sends one request (Connection: close) and reads the whole answer. Blocks up to `timeout` for each
// read or write. Errors: Unavailable when the socket cannot be reached, DeadlineExceeded on timeout,
// Internal when the answer is not HTTP.
Result<ProbeResponse> unixHttpRequest(const std::string& socketPath, std::string_view method,
                                      std::string_view target, std::string_view body = {},
                                      std::string_view contentType = {},
                                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

// ok() when the engine at `socketPath` answers GET /_ping with 200 "OK".
Status pingEngine(const std::string& socketPath);

}  // namespace berth::testing
