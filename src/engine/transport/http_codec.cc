// Boost.Beast lives here and nowhere else: request serialization and the buffer-fed response parser.
//
// Beast 1.74's chunk parser asserts that a final chunk ("0\r\n") is re-parsed with at least 5 bytes,
// which a response arriving a byte at a time breaks (found by fuzz/engine_http_fuzz.cc); the code
// after the assertion handles the case, so its assertions are off in this file, as in release builds.
// No other file includes Beast's HTTP parser, so no other instantiation differs.
#define BOOST_DISABLE_ASSERTS
#include <fmt/core.h>

#include <array>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>
#include <limits>
#include <sstream>

#include "base/strings.h"
#include "engine/transport/http.h"

namespace berth::engine::transport {
namespace http = boost::beast::http;

namespace {

constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;
// Body bytes are decoded in pieces of at most this size (on the stack of every thread that reads a
// body, berthd's per-host event streams among them).
constexpr std::size_t kBodyChunk = 8 * 1024;

// Beast 1.74 speaks boost::string_view.
boost::beast::string_view bsv(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace

std::string HttpResponseHead::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (h.name.size() == name.size() && toLower(h.name) == toLower(name)) return h.value;
  }
  return {};
}

std::string serializeRequest(const HttpRequest& request, std::string_view host) {
  http::request<http::empty_body> req;
  req.version(11);
  const http::verb verb = http::string_to_verb(bsv(request.method));
  if (verb == http::verb::unknown) {
    req.method_string(bsv(request.method));
  } else {
    req.method(verb);
  }
  req.target(bsv(request.target));
  req.set(http::field::host, bsv(host));
  req.set(http::field::user_agent, "berth");
  for (const auto& h : request.headers) req.insert(bsv(h.name), bsv(h.value));
  if (request.chunked) {
    BERTH_CHECK(request.body.empty());
    req.set(http::field::transfer_encoding, "chunked");
  } else if (!request.body.empty() || verb == http::verb::post || verb == http::verb::put) {
    req.set(http::field::content_length, std::to_string(request.body.size()));
  }
  std::ostringstream out;
  out << req.base();
  std::string bytes = std::move(out).str();
  bytes += request.body;
  return bytes;
}

struct ResponseParser::Impl {
  explicit Impl(Mode m) : mode(m) {
    parser.header_limit(kMaxHeaderBytes);
    // Not boost::none: Beast 1.74 compares Content-Length against an empty optional as "over".
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser.eager(false);
    if (mode == Mode::Bodyless) parser.skip(true);
  }

  Mode mode;
  http::response_parser<http::buffer_body> parser;
  std::string pending;     // fed but not yet consumed by the parser
  std::size_t offset = 0;  // consumed prefix of `pending`
  bool any = false;
  HttpResponseHead head;
  bool headerDone = false;
  bool upgraded = false;  // Mode::Upgrade with a 1xx/2xx status: stop after the header

  std::string_view unconsumed() const { return std::string_view(pending).substr(offset); }

  // After each feed: keeps only the few bytes the parser left (a chunk header cut in two, say), if
  // any, in a small string. A long-lived stream (events, logs) sits idle most of its life and keeps
  // no burst's buffer, also when its reads end mid-chunk (berthd's event streams held 130 KiB each
  // after a deploy when only a fully consumed buffer was released, and 4 KiB each when buffers of
  // up to 4 KiB were kept: 400 KiB over 100 hosts).
  void compact() {
    const std::size_t left = pending.size() - offset;
    if (pending.capacity() > 256 && left <= 1024) {
      std::string(unconsumed()).swap(pending);
      offset = 0;
    }
  }
  void consume(std::size_t n) {
    offset += n;
    if (offset == pending.size()) {
      pending.clear();  // its capacity goes in compact(), once the feed is parsed
      offset = 0;
    } else if (offset > 64 * 1024 && offset > pending.size() / 2) {
      pending.erase(0, offset);
      offset = 0;
    }
  }

  void captureHead() {
    const auto& msg = parser.get();
    head.status = static_cast<int>(msg.result_int());
    head.reason = std::string(msg.reason());
    for (const auto& field : msg) {
      head.headers.push_back({std::string(field.name_string()), std::string(field.value())});
    }
    head.keepAlive = msg.keep_alive();
    headerDone = true;
    upgraded = mode == Mode::Upgrade && (head.status / 100 == 1 || head.status / 100 == 2);
    if (!upgraded) parser.eager(true);
  }

  static Unexpected malformed(const boost::system::error_code& ec) {
    return fail(ErrorCode::Internal, "malformed HTTP response from the engine: " + ec.message());
  }

  Status run(std::string& body) {
    std::array<char, kBodyChunk> chunk;
    while (!unconsumed().empty()) {
      if (headerDone && (upgraded || parser.is_done())) return ok();
      boost::system::error_code ec;
      const std::string_view input = unconsumed();
      std::size_t produced = 0;
      std::size_t used = 0;
      if (!headerDone) {
        used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
      } else {
        auto& b = parser.get().body();
        b.data = chunk.data();
        b.size = chunk.size();
        b.more = true;
        used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
        produced = chunk.size() - parser.get().body().size;
        body.append(chunk.data(), produced);
      }
      consume(used);
      if (!headerDone && parser.is_header_done()) captureHead();
      if (ec == http::error::need_buffer) continue;
      if (ec == http::error::need_more) return ok();
      if (ec) return malformed(ec);
      if (used == 0 && produced == 0 && !parser.is_done() && !upgraded) {
        return ok();  // the parser wants more input before it can make progress
      }
    }
    return ok();
  }
};

ResponseParser::ResponseParser(Mode mode) : impl_(std::make_unique<Impl>(mode)) {}
ResponseParser::~ResponseParser() = default;

Status ResponseParser::feed(std::string_view input, std::string& body) {
  if (!input.empty()) impl_->any = true;
  impl_->pending.append(input);
  Status status = impl_->run(body);
  impl_->compact();
  return status;
}

Status ResponseParser::feedEof(std::string& body) {
  BERTH_TRY(impl_->run(body));
  if (done()) return ok();
  if (!impl_->any) {
    return fail(ErrorCode::Unavailable, "the engine closed the connection without answering");
  }
  if (!impl_->headerDone) {
    return fail(ErrorCode::Unavailable,
                "the engine closed the connection in the middle of the response header");
  }
  boost::system::error_code ec;
  impl_->parser.put_eof(ec);
  if (ec == http::error::partial_message || (!ec && !impl_->parser.is_done())) {
    return fail(ErrorCode::Unavailable,
                "the engine closed the connection before the end of the response body");
  }
  if (ec) return Impl::malformed(ec);
  return ok();
}

bool ResponseParser::headerDone() const { return impl_->headerDone; }

bool ResponseParser::done() const { return impl_->upgraded || impl_->parser.is_done(); }

bool ResponseParser::upgraded() const { return impl_->upgraded; }

const HttpResponseHead& ResponseParser::head() const {
  BERTH_CHECK(impl_->headerDone);
  return impl_->head;
}

std::string ResponseParser::takeRemaining() {
  std::string rest(impl_->unconsumed());
  impl_->pending.clear();
  impl_->offset = 0;
  return rest;
}

bool ResponseParser::receivedAny() const { return impl_->any; }

}  // namespace berth::engine::transport
