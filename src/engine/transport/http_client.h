// HTTP/1.1 over a Transport, with a keep-alive pool: the engine client's only way to the engine.
//
// Each call has a time budget: the connection (dial and handshake) within connectTimeout, the whole
// exchange within the call's timeout, and a streaming call can be stopped through a stop_token.
// Idle connections are kept (up to maxIdle, for idleTimeout) and checked before reuse; a request that
// fails on a reused connection before any byte of the answer arrived is retried once on a fresh one
// (the engine closed the idle connection before reading it). A request body can be whole (send) or
// produced piece by piece and sent chunked (beginUpload, BodyUpload), never retried.
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
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engine/transport/http.h"
#include "engine/transport/transport.h"

namespace berth::engine::transport {

using Timeout = std::chrono::milliseconds;
inline constexpr Timeout kNoTimeout = Timeout::max();

// For a stream that sits idle for long stretches: called on the reading thread right after the
// request went out, when the stream has waited until the time the previous call returned, and once
// body that arrived has been read to the last byte waiting (a burst costs one call; a stream that
// never pauses still gets its calls at the times asked for). Returns when it wants to be called
// next. Lets one thread follow a stream and do timed work beside it.
using IdleFn = std::function<Deadline()>;

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

class HttpClient;

// A request whose body is sent piece by piece as it is produced (Transfer-Encoding: chunked), made
// by HttpClient::beginUpload: write() each piece, then finish() for the answer. Nothing is buffered
// beyond the piece being written.
//
// One deadline bounds the whole upload, from beginUpload to the end of the answer. The connection
// goes back to the pool only after an upload that finished cleanly; one that failed, was cancelled,
// or is destroyed before finish() is closed (the server then sees a truncated body and must discard
// the request).
//
// Thread-safety: write() and finish() from one thread at a time; cancel() from any thread. Must not
// outlive the HttpClient that made it.
class BodyUpload {
 public:
  ~BodyUpload();
  BodyUpload(const BodyUpload&) = delete;
  BodyUpload& operator=(const BodyUpload&) = delete;

  // Sends `piece` as one chunk (an empty piece sends nothing: an empty chunk would end the body).
  // Blocks until it was handed to the peer, at most until the upload's deadline. Errors: the
  // transport's, DeadlineExceeded, Cancelled; Unavailable ("the engine answered before the end of
  // the request body") when the server answered early, typically refusing the request, whose answer
  // finish() then returns. After a failure every later write fails the same way.
  Status write(std::string_view piece);

  // Ends the body (the terminating chunk) and reads the whole answer, which is returned whatever its
  // status (as HttpClient::send does). After a failed write it sends nothing: it returns the answer
  // the server sent before it stopped reading, if a whole one arrived, else the write's error.
  // Call once.
  Result<HttpResponse> finish();
  // The same, handing a successful (status < 400) answer's body to `onBody` piece by piece as it
  // arrives instead of keeping it (the response's body is then empty); an error of onBody stops the
  // reading and is returned.
  Result<HttpResponse> finish(const std::function<Status(std::string_view piece)>& onBody);

  // Makes a blocked write() or finish() and every later one fail with Cancelled. Never blocks; safe
  // from any thread, also after finish().
  void cancel();

 private:
  friend class HttpClient;
  BodyUpload(HttpClient& client, std::unique_ptr<Connection> connection, Deadline deadline, Timeout timeout);
  // Reads, without waiting, whatever answer the server already sent (before a write; after a failed
  // one). Sets answered_ when a whole answer is in.
  Status takeEarlyAnswer();
  Status failWith(Error error);

  HttpClient& client_;
  Deadline deadline_;
  Timeout timeout_;
  ResponseParser parser_;
  std::string answerBody_;  // decoded body of the answer, as it arrives
  std::string frame_;       // a small piece with its chunk framing, written at once
  std::optional<Error> failed_;
  bool answered_ = false;
  bool finished_ = false;
  std::mutex mu_;  // guards connection_ against cancel() while finish() hands it back to the pool
  std::unique_ptr<Connection> connection_;
  bool cancelled_ = false;  // guarded by mu_
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
  // `onIdle` (optional): see IdleFn.
  Result<HttpResponse> stream(const HttpRequest& request, Timeout headerTimeout, Timeout bodyTimeout,
                              const BodyFn& onBody, std::stop_token stop = {}, const IdleFn& onIdle = {});

  // Sends a request that hijacks the connection (with Connection: Upgrade / Upgrade: tcp).
  Result<Upgraded> upgrade(const HttpRequest& request, Timeout timeout);

  // Sends the head of `head` (whose body must be empty) with Transfer-Encoding: chunked and returns
  // the upload that streams its body; `timeout` bounds the whole upload, answer included. Always on
  // a new connection: a pooled one may have been closed by the engine, and a body already streamed
  // could not be sent again on a retry. Errors: the transport's (dialling, writing the head).
  Result<std::unique_ptr<BodyUpload>> beginUpload(const HttpRequest& head, Timeout timeout);

  // Closes the pooled idle connections now (the next request dials). For a client that will be
  // quiet for a while: an idle TLS connection holds about 40 KiB.
  void closeIdle();

 private:
  friend class BodyUpload;
  struct Lease {
    std::unique_ptr<Connection> connection;
    bool reused = false;
  };
  Result<Lease> acquire(Deadline requestDeadline, bool fresh);
  void release(std::unique_ptr<Connection> connection);
  // Takes the idle connections older than idleTimeout out of the pool (the caller closes them
  // outside the lock).
  std::vector<std::unique_ptr<Connection>> takeExpired(std::chrono::steady_clock::time_point now);

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
