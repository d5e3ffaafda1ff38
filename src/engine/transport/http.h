// HTTP/1.1 messages and the response parser: Boost.Beast's parser fed from a buffer, so the same
// codec runs over every transport (Unix socket, TCP, TLS, an SSH channel). Beast stays inside
// http_codec.cc.
//
// The parser is strict about framing (Content-Length, chunked encoding, end-of-stream bodies) and
// reports truncated and malformed input as errors; it never throws and never buffers more than the
// unparsed part of what it was fed. Decoded body bytes are handed out as they arrive, so streamed
// bodies (events, logs, build progress) need no buffering.
//
// Thread-safety: plain values; a ResponseParser belongs to one thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::engine::transport {

struct HttpHeader {
  std::string name;
  std::string value;
};

struct HttpRequest {
  std::string method = "GET";
  std::string target;  // "/v1.41/containers/json?all=1"
  // Besides Host, User-Agent and Content-Length or Transfer-Encoding, which serializeRequest adds.
  std::vector<HttpHeader> headers;
  std::string body;
  // The body follows the head in chunks (HttpClient::beginUpload): serializeRequest then sends
  // "Transfer-Encoding: chunked" instead of a Content-Length, and `body` must be empty.
  bool chunked = false;
};

struct HttpResponseHead {
  int status = 0;
  std::string reason;
  std::vector<HttpHeader> headers;
  bool keepAlive = false;

  // The first header called `name` (case-insensitive); empty when absent.
  std::string header(std::string_view name) const;
};

struct HttpResponse {
  HttpResponseHead head;
  std::string body;
};

// The bytes of `request` as HTTP/1.1: request line, Host, User-Agent, the request's own headers,
// Content-Length (whenever there is a body, and for POST and PUT), then the body. A chunked request
// is only its head, ending with "Transfer-Encoding: chunked" and no Content-Length (a message with
// both is malformed, RFC 9112 6.3); its chunks are the caller's to write.
std::string serializeRequest(const HttpRequest& request, std::string_view host);

class ResponseParser {
 public:
  enum class Mode {
    Normal,
    Bodyless,  // the response to a HEAD request: headers only, whatever Content-Length says
    // A request that hijacks the connection (exec/attach): a 1xx or 2xx response ends with its
    // header and the rest is a raw stream (takeRemaining); any other status has an ordinary body.
    Upgrade,
  };

  explicit ResponseParser(Mode mode = Mode::Normal);
  ~ResponseParser();
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Parses `input`, appending decoded body bytes to `body`. Input beyond the end of the response is
  // kept (see takeRemaining). Fails with Internal on malformed input, naming what is wrong.
  Status feed(std::string_view input, std::string& body);
  // The peer closed the stream: completes a body that runs to end-of-stream, otherwise fails with
  // Unavailable ("closed the connection in the middle of the response ...").
  Status feedEof(std::string& body);

  bool headerDone() const;
  // The whole response was parsed (for an upgrade that succeeded: its header was).
  bool done() const;
  // An upgrade that succeeded: the bytes after the header are the raw stream.
  bool upgraded() const;
  // Valid once headerDone().
  const HttpResponseHead& head() const;
  // Bytes fed but not part of the response: the start of the raw stream after an upgrade, or stray
  // bytes after a complete response (the connection must then not be reused).
  std::string takeRemaining();
  // Whether any byte was fed at all (to tell "closed before answering" from a truncated answer).
  bool receivedAny() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::engine::transport
