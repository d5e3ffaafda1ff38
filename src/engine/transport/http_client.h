// HTTP/1.1 over a Transport, with a keep-alive pool: the engine client's only way to the engine.
//
// Each call has a time budget: the connection (dial and handshake) within connectTimeout, the whole
// exchange within the call's timeout, and a streaming call can be stopped through a stop_token.
// Idle connections are kept (up to maxIdle, for idleTimeout) and checked before reuse; a request that
// fails on a reused connection before any byte of the answer arrived is retried once on a fresh one
// (the engine closed the idle connection before reading it).
//
// Errors: the transport's (Unavailable, DeadlineExceeded with the time budget in the message,
// PermissionDenied for TLS/SSH trust), Internal for malformed HTTP, Cancelled when stopped. HTTP
// error statuses are not errors here: the caller reads head.status and the body.
//
// Thread-safety: all methods may be called from many threads at once.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "base/result.h"
#include "engine/transport/http.h"
#include "engine/transport/transport.h"

namespace berth::engine::transport {

using Timeout = std::chrono::milliseconds;
inline constexpr Timeout kNoTimeout = Timeout::max();

struct HttpClientOptions {
  std::string hostHeader = "docker";
  Timeout connectTimeout = std::chrono::seconds(10);
  std::size_t maxIdle = 4;
  std::chrono::steady_clock::duration idleTimeout = std::chrono::seconds(60);
  // Bodies read whole (send) fail beyond this size; stream() has no limit.
  std::size_t maxBufferedBody = 256 * 1024 * 1024;
};

// A hijacked connection after an upgrade (exec/attach). `connection` is set when the engine
// switched protocols (101) or started the raw stream (200); otherwise `response` holds the error
// answer with its body.
struct Upgraded {
  HttpResponse response;
  std::unique_ptr<Connection> connection;
  std::string initial;  // raw-stream bytes that arrived with the header
};

class HttpClient {
 public:
  // Called with each piece of a streamed body; returns false to stop reading (the connection is
  // then closed rather than reused).
  using BodyFn = std::function<bool(std::string_view piece)>;

  HttpClient(std::unique_ptr<Transport> transport, HttpClientOptions options);
  ~HttpClient();

  // Sends `request` and reads the whole answer within `timeout`. `head`: the request is a HEAD.
  Result<HttpResponse> send(const HttpRequest& request, Timeout timeout, bool head = false);

  // Sends `request`; for a 2xx answer hands the body to `onBody` as it arrives, for other statuses
  // returns the body in the response. `headerTimeout` bounds the wait for the answer's header,
  // `bodyTimeout` the whole exchange (kNoTimeout: until the body ends, `onBody` stops, or `stop`).
  // When stopped through `stop`, fails with Cancelled.
  Result<HttpResponse> stream(const HttpRequest& request, Timeout headerTimeout, Timeout bodyTimeout,
                              const BodyFn& onBody, std::stop_token stop = {});

  // Sends a request that hijacks the connection (with Connection: Upgrade / Upgrade: tcp).
  Result<Upgraded> upgrade(const HttpRequest& request, Timeout timeout);

 private:
  struct Lease {
    std::unique_ptr<Connection> connection;
    bool reused = false;
  };
  Result<Lease> acquire(Deadline requestDeadline, bool fresh);
  void release(std::unique_ptr<Connection> connection);

  std::unique_ptr<Transport> transport_;
  HttpClientOptions options_;
  std::mutex mu_;
  struct Idle {
    std::unique_ptr<Connection> connection;
    std::chrono::steady_clock::time_point since;
  };
  std::vector<Idle> idle_;  // guarded by mu_
};

}  // namespace berth::engine::transport
