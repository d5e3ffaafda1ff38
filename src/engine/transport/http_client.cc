#include "engine/transport/http_client.h"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <vector>

#include "base/log.h"

namespace berth::engine::transport {
namespace {

// The read buffer starts small and grows while reads fill it, up to a TLS record's size: an event
// stream, which berthd keeps open to every host and which brings an event of a kilobyte now and
// then, holds 4 KiB; an image or a log in bulk reads 16 KiB at a time.
constexpr std::size_t kFirstReadBuffer = 4 * 1024;
constexpr std::size_t kReadBuffer = 16 * 1024;
// An upload's piece up to this size is copied behind its chunk header and written at once (one
// syscall, one TLS record); a larger one is written in place, framing separately.
constexpr std::size_t kCoalescedPiece = 64 * 1024;
constexpr std::string_view kLastChunk = "0\r\n\r\n";
// Of an error answer's body (a message), streaming and upgrading calls keep this much.
constexpr std::size_t kMaxErrorBody = 1024 * 1024;

Deadline deadlineFor(Timeout timeout) {
  if (timeout == kNoTimeout) return kNoDeadline;
  return deadlineAfter(timeout);
}

// What to do with decoded body bytes: consume (and clear) them, or fail.
using BodySink = std::function<Status(std::string& body)>;

// Where an exchange failed, for the retry decision and messages.
enum class Phase { Write, Header, Body };

Error timeoutError(Phase phase, Timeout timeout) {
  switch (phase) {
    case Phase::Write:
      return Error(ErrorCode::DeadlineExceeded,
                   fmt::format("timed out sending the request (timeout {})", formatDuration(timeout)));
    case Phase::Header:
      return Error(ErrorCode::DeadlineExceeded, fmt::format("no answer within {}", formatDuration(timeout)));
    case Phase::Body:
      return Error(ErrorCode::DeadlineExceeded,
                   fmt::format("the answer did not finish within {}", formatDuration(timeout)));
  }
  return Error(ErrorCode::DeadlineExceeded, "timed out");
}

// Writes `bytes` and reads the answer into `parser`, handing body bytes to `sink`. Stops early
// (successfully) when `stopped` becomes true. `onIdle` (may be empty): see IdleFn.
Result<bool> exchange(Connection& conn, std::string_view bytes, ResponseParser& parser,
                      Deadline headerDeadline, Deadline bodyDeadline, const BodySink& sink,
                      const bool& stopped, Phase& phase, const IdleFn& onIdle = {}) {
  phase = Phase::Write;
  BERTH_TRY(conn.writeAll(bytes, std::min(headerDeadline, bodyDeadline)));
  std::vector<char> buffer(kFirstReadBuffer);
  std::string body;
  Deadline idleAt = onIdle ? onIdle() : kNoDeadline;
  // A piece arrived since onIdle was last called: call it as soon as nothing more is waiting (a
  // burst is read whole first: one call for it, not one per piece).
  bool owed = false;
  while (!parser.done() && !stopped) {
    phase = parser.headerDone() ? Phase::Body : Phase::Header;
    const Deadline d = parser.headerDone() ? bodyDeadline : std::min(headerDeadline, bodyDeadline);
    const Deadline wake = owed ? std::min(idleAt, std::chrono::steady_clock::now()) : idleAt;
    auto read = conn.readSome(buffer, std::min(d, wake));
    if (!read && read.error().code() == ErrorCode::DeadlineExceeded && wake < d && expired(wake)) {
      owed = false;
      idleAt = onIdle();  // a timed-out wait leaves the connection as it was: wait on
      continue;
    }
    BERTH_ASSIGN_OR_RETURN(const std::size_t n, std::move(read));
    if (n == 0) {
      BERTH_TRY(parser.feedEof(body));
      if (!body.empty()) BERTH_TRY(sink(body));
      return true;
    }
    BERTH_TRY(parser.feed(std::string_view(buffer.data(), n), body));
    if (!body.empty()) BERTH_TRY(sink(body));
    if (onIdle && !stopped) {
      owed = true;
      if (expired(idleAt)) {  // a stream that never pauses still gets its calls on time
        owed = false;
        idleAt = onIdle();
      }
    }
    if (n == buffer.size() && buffer.size() < kReadBuffer) {
      buffer.resize(std::min(kReadBuffer, 2 * buffer.size()));
    } else if (n < buffer.size() && buffer.size() > kFirstReadBuffer) {
      std::vector<char>(kFirstReadBuffer).swap(buffer);  // caught up: the burst is over
    }
    // The sink has taken the body: a burst's worth of capacity is not kept for the quiet after it.
    if (body.empty() && body.capacity() > kFirstReadBuffer) std::string().swap(body);
  }
  return !stopped;
}

// An exchange read to the end within one deadline (send, upgrade); a missed deadline says in which
// phase, against the call's `timeout`.
Status exchangeWithin(Connection& conn, std::string_view bytes, ResponseParser& parser, Deadline deadline,
                      Timeout timeout, const BodySink& sink) {
  const bool never = false;
  Phase phase = Phase::Write;
  auto done = exchange(conn, bytes, parser, deadline, deadline, sink, never, phase);
  if (done) return ok();
  Error e = std::move(done).error();
  if (e.code() == ErrorCode::DeadlineExceeded) return fail(timeoutError(phase, timeout));
  return fail(std::move(e));
}

Error cancelledError() { return Error(ErrorCode::Cancelled, "cancelled"); }

}  // namespace

// --- BodyUpload

BodyUpload::BodyUpload(HttpClient& client, std::unique_ptr<Connection> connection, Deadline deadline,
                       Timeout timeout)
    : client_(client), deadline_(deadline), timeout_(timeout), connection_(std::move(connection)) {}

BodyUpload::~BodyUpload() = default;

void BodyUpload::cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  if (connection_) connection_->cancel();
}

Status BodyUpload::failWith(Error error) {
  if (!failed_) failed_ = std::move(error);
  return fail(*failed_);
}

Status BodyUpload::takeEarlyAnswer() {
  std::array<char, 4096> buffer;
  while (!parser_.done()) {
    // A deadline already passed: reads what is there, never waits.
    auto n = connection_->readSome(buffer, Deadline{});
    if (!n) {
      if (n.error().code() == ErrorCode::DeadlineExceeded) return ok();
      return fail(std::move(n).error());
    }
    if (*n == 0) {
      BERTH_TRY(parser_.feedEof(answerBody_));
      break;
    }
    BERTH_TRY(parser_.feed(std::string_view(buffer.data(), *n), answerBody_));
    if (answerBody_.size() > client_.options_.maxBufferedBody) {
      return fail(ErrorCode::Internal, fmt::format("the engine's answer is larger than {} bytes",
                                                   client_.options_.maxBufferedBody));
    }
  }
  answered_ = parser_.done();
  return ok();
}

Status BodyUpload::write(std::string_view piece) {
  BERTH_CHECK(!finished_);
  if (failed_) return fail(*failed_);
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return failWith(cancelledError());
  }
  if (piece.empty()) return ok();
  // An engine that refuses the request answers at once and stops reading; noticing that before each
  // piece ends the upload with its answer rather than with a broken pipe or a write that waits for
  // the deadline.
  if (auto early = takeEarlyAnswer(); !early) {
    if (early.error().code() == ErrorCode::Cancelled) return failWith(cancelledError());
    return failWith(std::move(early).error());
  }
  const auto answeredEarly = [&] {
    return failWith(Error(ErrorCode::Unavailable,
                          fmt::format("the engine answered before the end of the request body (HTTP {})",
                                      parser_.head().status)));
  };
  if (answered_) return answeredEarly();
  const std::string header = fmt::format("{:x}\r\n", piece.size());
  Status written;
  if (piece.size() <= kCoalescedPiece) {
    frame_.clear();
    frame_ += header;
    frame_ += piece;
    frame_ += "\r\n";
    written = connection_->writeAll(frame_, deadline_);
  } else {
    written = connection_->writeAll(header, deadline_);
    if (written) written = connection_->writeAll(piece, deadline_);
    if (written) written = connection_->writeAll("\r\n", deadline_);
  }
  if (written) return ok();
  Error e = std::move(written).error();
  if (e.code() == ErrorCode::Cancelled) return failWith(cancelledError());
  if (e.code() == ErrorCode::DeadlineExceeded) return failWith(timeoutError(Phase::Write, timeout_));
  // The engine may have answered, or hung up, before it closed the connection: either says more
  // than the broken pipe does.
  auto early = takeEarlyAnswer();
  if (early && answered_) return answeredEarly();
  if (!early && early.error().code() == ErrorCode::Unavailable) return failWith(std::move(early).error());
  return failWith(std::move(e));
}

Result<HttpResponse> BodyUpload::finish() { return finish(nullptr); }

Result<HttpResponse> BodyUpload::finish(const std::function<Status(std::string_view piece)>& onBody) {
  BERTH_CHECK(!finished_);
  finished_ = true;
  const auto answer = [&] {
    HttpResponse response;
    response.head = parser_.head();
    response.body = std::move(answerBody_);
    return response;
  };
  if (failed_) {
    if (answered_) return answer();
    return fail(*failed_);
  }
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return fail(cancelledError());
  }
  const BodySink sink = [&](std::string& body) -> Status {
    // A successful answer's body goes to onBody as it arrives (a build's progress); an error's is
    // kept for its message.
    if (onBody && parser_.head().status < 400) {
      Status s = onBody(body);
      body.clear();
      return s;
    }
    if (answerBody_.size() + body.size() > client_.options_.maxBufferedBody) {
      return fail(ErrorCode::Internal, fmt::format("the engine's answer is larger than {} bytes",
                                                   client_.options_.maxBufferedBody));
    }
    answerBody_ += body;
    body.clear();
    return ok();
  };
  if (auto written = connection_->writeAll(kLastChunk, deadline_); !written) {
    Error e = std::move(written).error();
    if (e.code() == ErrorCode::Cancelled) return fail(cancelledError());
    if (e.code() == ErrorCode::DeadlineExceeded) return fail(timeoutError(Phase::Write, timeout_));
    // The engine answered, or hung up, and closed before the last chunk went out.
    auto early = takeEarlyAnswer();
    if (early && answered_) return answer();
    if (!early && early.error().code() == ErrorCode::Unavailable) return fail(std::move(early).error());
    return fail(std::move(e));
  }
  Status done = exchangeWithin(*connection_, "", parser_, deadline_, timeout_, sink);
  if (!done) {
    if (done.error().code() == ErrorCode::Cancelled) return fail(cancelledError());
    return fail(std::move(done).error());
  }
  HttpResponse response = answer();
  if (response.head.keepAlive && parser_.takeRemaining().empty()) {
    std::lock_guard lock(mu_);
    if (!cancelled_) client_.release(std::move(connection_));
  }
  return response;
}

// --- HttpClient

HttpClient::HttpClient(std::unique_ptr<Transport> transport, HttpClientOptions options)
    : transport_(std::move(transport)), options_(std::move(options)) {}

HttpClient::~HttpClient() = default;

std::vector<std::unique_ptr<Connection>> HttpClient::takeExpired(std::chrono::steady_clock::time_point now) {
  std::vector<std::unique_ptr<Connection>> expired;
  std::erase_if(idle_, [&](Idle& idle) {
    if (now - idle.since < options_.idleTimeout) return false;
    expired.push_back(std::move(idle.connection));
    return true;
  });
  return expired;
}

void HttpClient::closeIdle() {
  std::vector<Idle> idle;
  std::lock_guard lock(mu_);
  idle.swap(idle_);
}

Result<HttpClient::Lease> HttpClient::acquire(Deadline requestDeadline, bool fresh) {
  if (!fresh) {
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::unique_ptr<Connection>> expired;
    std::lock_guard lock(mu_);
    // The older ones too, not only those popped: a pool that grew in a burst shrinks after it.
    expired = takeExpired(now);
    while (!idle_.empty()) {
      Idle idle = std::move(idle_.back());
      idle_.pop_back();
      if (idle.connection->reusable()) return Lease{std::move(idle.connection), true};
    }
  }
  const Deadline connectDeadline = std::min(requestDeadline, deadlineFor(options_.connectTimeout));
  auto conn = transport_->dial(connectDeadline);
  if (!conn) {
    Error e = std::move(conn).error();
    if (e.code() == ErrorCode::DeadlineExceeded && connectDeadline != requestDeadline) {
      return fail(ErrorCode::DeadlineExceeded, fmt::format("{} (connect timeout {})", e.message(),
                                                           formatDuration(options_.connectTimeout)));
    }
    return fail(std::move(e));
  }
  return Lease{std::move(conn).value(), false};
}

void HttpClient::release(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(mu_);
  if (idle_.size() >= options_.maxIdle) return;
  idle_.push_back({std::move(connection), std::chrono::steady_clock::now()});
}

Result<HttpResponse> HttpClient::send(const HttpRequest& request, Timeout timeout, bool head) {
  const Deadline deadline = deadlineFor(timeout);
  const std::string bytes = serializeRequest(request, options_.hostHeader);
  for (int attempt = 0;; ++attempt) {
    BERTH_ASSIGN_OR_RETURN(Lease lease, acquire(deadline, attempt > 0));
    ResponseParser parser(head ? ResponseParser::Mode::Bodyless : ResponseParser::Mode::Normal);
    HttpResponse response;
    const BodySink sink = [&](std::string& body) -> Status {
      if (response.body.size() + body.size() > options_.maxBufferedBody) {
        return fail(ErrorCode::Internal,
                    fmt::format("the engine's answer is larger than {} bytes", options_.maxBufferedBody));
      }
      response.body += body;
      body.clear();
      return ok();
    };
    Status done = exchangeWithin(*lease.connection, bytes, parser, deadline, timeout, sink);
    if (!done) {
      Error e = std::move(done).error();
      if (lease.reused && attempt == 0 && !parser.receivedAny() && e.code() == ErrorCode::Unavailable) {
        log::debug("engine closed an idle connection; retrying {} {} on a new one", request.method,
                   request.target);
        continue;
      }
      return fail(std::move(e));
    }
    response.head = parser.head();
    if (response.head.keepAlive && parser.takeRemaining().empty()) release(std::move(lease.connection));
    return response;
  }
}

Result<HttpResponse> HttpClient::stream(const HttpRequest& request, Timeout headerTimeout,
                                        Timeout bodyTimeout, const BodyFn& onBody, std::stop_token stop,
                                        const IdleFn& onIdle) {
  const Deadline headerDeadline = deadlineFor(headerTimeout);
  const Deadline bodyDeadline = deadlineFor(bodyTimeout);
  const std::string bytes = serializeRequest(request, options_.hostHeader);
  for (int attempt = 0;; ++attempt) {
    if (stop.stop_requested()) return fail(ErrorCode::Cancelled, "stopped");
    BERTH_ASSIGN_OR_RETURN(Lease lease, acquire(std::min(headerDeadline, bodyDeadline), attempt > 0));
    Connection* conn = lease.connection.get();
    ResponseParser parser;
    HttpResponse response;
    bool stopped = false;
    const BodySink sink = [&](std::string& body) -> Status {
      const int status = parser.head().status;
      if (status / 100 == 2) {
        if (!onBody(body)) stopped = true;
      } else if (response.body.size() < kMaxErrorBody) {
        response.body += body;
      }
      body.clear();
      return ok();
    };
    Phase phase = Phase::Write;
    // The stop callback ends with the exchange, before the connection can go back to the pool (where
    // another thread may take and destroy it).
    auto done = [&] {
      std::stop_callback onStop(stop, [conn] { conn->cancel(); });
      return exchange(*conn, bytes, parser, headerDeadline, bodyDeadline, sink, stopped, phase, onIdle);
    }();
    if (!done) {
      Error e = std::move(done).error();
      if (e.code() == ErrorCode::Cancelled || stop.stop_requested()) {
        return fail(ErrorCode::Cancelled, "stopped");
      }
      if (lease.reused && attempt == 0 && !parser.receivedAny() && e.code() == ErrorCode::Unavailable) {
        continue;
      }
      if (e.code() == ErrorCode::DeadlineExceeded) {
        return fail(timeoutError(phase, phase == Phase::Body ? bodyTimeout : headerTimeout));
      }
      return fail(std::move(e));
    }
    response.head = parser.head();
    if (*done && response.head.keepAlive && parser.takeRemaining().empty()) {
      release(std::move(lease.connection));
    }
    return response;
  }
}

Result<Upgraded> HttpClient::upgrade(const HttpRequest& request, Timeout timeout) {
  const Deadline deadline = deadlineFor(timeout);
  HttpRequest req = request;
  req.headers.push_back({"Connection", "Upgrade"});
  req.headers.push_back({"Upgrade", "tcp"});
  const std::string bytes = serializeRequest(req, options_.hostHeader);
  // Never on a pooled connection: a hijacked connection is not given back, and a retry could run an
  // exec twice.
  BERTH_ASSIGN_OR_RETURN(Lease lease, acquire(deadline, true));
  ResponseParser parser(ResponseParser::Mode::Upgrade);
  Upgraded result;
  const BodySink sink = [&](std::string& body) -> Status {
    if (result.response.body.size() < kMaxErrorBody) result.response.body += body;
    body.clear();
    return ok();
  };
  BERTH_TRY(exchangeWithin(*lease.connection, bytes, parser, deadline, timeout, sink));
  result.response.head = parser.head();
  if (parser.upgraded()) {
    result.initial = parser.takeRemaining();
    result.connection = std::move(lease.connection);
  }
  return result;
}

Result<std::unique_ptr<BodyUpload>> HttpClient::beginUpload(const HttpRequest& head, Timeout timeout) {
  BERTH_CHECK(head.body.empty());
  const Deadline deadline = deadlineFor(timeout);
  HttpRequest req = head;
  req.chunked = true;
  const std::string bytes = serializeRequest(req, options_.hostHeader);
  BERTH_ASSIGN_OR_RETURN(Lease lease, acquire(deadline, true));
  if (auto written = lease.connection->writeAll(bytes, deadline); !written) {
    if (written.error().code() == ErrorCode::DeadlineExceeded)
      return fail(timeoutError(Phase::Write, timeout));
    return fail(std::move(written).error());
  }
  return std::unique_ptr<BodyUpload>(new BodyUpload(*this, std::move(lease.connection), deadline, timeout));
}

}  // namespace berth::engine::transport
