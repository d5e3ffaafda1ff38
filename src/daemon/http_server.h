// The HTTP/1.1 server of berthd: the transport under the JSON API that the `berth` CLI talks to,
// and under the Prometheus metrics endpoint. API handlers plug in through one Handler function; this
// file knows nothing of routes or JSON.
//
// Listeners (any number, all served by one HttpServer):
//   unix:///run/berth/berthd.sock   a Unix socket, mode 0660. A stale socket file left by a dead
//                                  server is replaced; a live one (something accepts on it), or a
//                                  path that is not a socket, is an error. Removed again by stop().
//   tcp://ADDR:PORT + tls           HTTPS with mutual TLS (TLS 1.2 or later): the client must present
//                                  a certificate issued by `tls.clientCaPem`, valid now and meant for
//                                  client authentication. Anything else is refused during the
//                                  handshake, before a byte of a request is read; the refusal is
//                                  logged at info level with the peer address and the reason.
//   tcp://ADDR:PORT + plainHttp     plain HTTP, for a metrics scraper only: requests that come
//                                  through it say so (ListenerKind::PlainHttp) and carry no identity.
// Port 0 binds an ephemeral port; urls() reports what was actually bound.
//
// Model: one accept thread per listener and one thread per connection; the handler runs on the
// connection's thread and may block for as long as it likes (event and log streams run for hours).
// Connections are kept alive between requests. Every wait on a socket has a bound (HttpServerOptions)
// and ends when the server stops. Request headers are limited to kMaxHeaderBytes (431 beyond);
// a body read whole is limited by the handler (413 beyond, kDefaultBodyLimit by default).
//
// Answers the server writes itself (a JSON {"message": ...} body, and the connection is closed):
//   400 malformed request or body; 413 body over the handler's limit; 431 header too large;
//   500 the handler returned without answering, or threw (a bug, logged at error level; the
//   process and the other connections go on).
//
// Thread-safety: start(), urls() and stop() may be called from any thread; the Handler is called
// concurrently from many connection threads. A Request, RequestBody and Responder live for the one
// call of the handler they are passed to. Their methods may also be called from threads the handler
// starts, one call at a time (the handler serialises them) and only until the handler returns;
// threads started from the handler inherit its blocked SIGPIPE, which a TLS write needs (see the .cc).
// Responder::clientGone()'s token may be watched from anywhere until the handler returns.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace berth::daemon {

inline constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
inline constexpr std::size_t kDefaultBodyLimit = 64 * 1024 * 1024;

enum class ListenerKind {
  Unix,       // the local socket; access is controlled by its file mode and group
  MutualTls,  // tcp:// with client certificates; Request::peer is the certificate's CN
  PlainHttp,  // tcp:// without TLS (metrics); no identity: handlers must serve nothing private here
};
std::string_view listenerKindName(ListenerKind kind);  // "unix", "mutual-tls", "plain-http"

// PEM text for a mutual-TLS listener.
struct ServerTls {
  std::string certPem{};      // the server certificate, optionally followed by intermediates
  std::string keyPem{};       // its private key
  std::string clientCaPem{};  // the CA certificate(s) whose client certificates are accepted
};

struct Listener {
  std::string url{};               // unix:///path.sock or tcp://ADDR:PORT (ADDR: IPv4, [IPv6] or a name)
  std::optional<ServerTls> tls{};  // tcp://: required unless plainHttp
  bool plainHttp = false;          // tcp:// without TLS; must be asked for explicitly
};

struct Request {
  std::string method;  // "GET", as sent
  std::string target;  // as sent, still encoded: "/v1/services?filter=web%201"
  std::string path;    // the target's path, percent-decoded: "/v1/services"
  // The query string, decoded ('+' is a space); of a repeated key, the first value.
  std::map<std::string, std::string> query;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
  ListenerKind listener = ListenerKind::Unix;
  // Who is asking: "unix" on the Unix socket, the client certificate's common name on a mutual-TLS
  // listener, the peer's address ("10.0.0.5:41234") on a plain-HTTP one.
  std::string peer;
  std::string remoteAddress;     // for logs: "unix", or ADDR:PORT of the TCP peer
  std::uint64_t connection = 0;  // serial number of the connection it came on (1, 2, ...), for logs

  // The first header called `name` (case-insensitive); empty when absent.
  std::string header(std::string_view name) const;
};

// The request's body (Content-Length or chunked), read by the handler, whole or in pieces. Reads
// block until bytes arrive (at most HttpServerOptions::ioTimeout without progress).
// Errors: InvalidArgument when the body is larger than asked for or malformed (the server then
// answers 413 or 400 if the handler does not answer itself), Unavailable when the client went away,
// DeadlineExceeded, Cancelled when the server stops.
// A body the handler leaves unread is not an error; the connection is then not reused.
class RequestBody {
 public:
  virtual ~RequestBody() = default;

  // The announced size; nullopt for a chunked body.
  virtual std::optional<std::uint64_t> contentLength() const = 0;
  // The rest of the body. Fails at once, without reading, when Content-Length exceeds `limit`.
  virtual Result<std::string> readAll(std::size_t limit = kDefaultBodyLimit) = 0;
  // The next piece as it arrives (at most 64 KiB); nullopt at the end of the body.
  virtual Result<std::optional<std::string>> readPiece() = 0;
};

// The answer: exactly one of send(), or beginStream() + write()* + endStream(). A second answer, or
// a write() outside a stream, fails with Internal (a bug in the handler). Writes block until the
// bytes are handed to the kernel (at most HttpServerOptions::ioTimeout without progress) and fail
// with Unavailable when the client went away and Cancelled when the server stops.
class Responder {
 public:
  virtual ~Responder() = default;

  // An extra header for the answer (before send or beginStream). Fails with InvalidArgument for a
  // name or value that is not a valid header (CR, LF, ...).
  virtual Status addHeader(std::string_view name, std::string_view value) = 0;
  // A whole answer with Content-Length (`contentType` may be empty for none).
  virtual Status send(int status, std::string_view contentType, std::string_view body) = 0;
  // Starts a chunked answer; each write() is one chunk, flushed at once. A handler that returns
  // without endStream() gets its stream ended for it; one that throws gets the connection closed
  // without the final chunk, so the client sees the answer was cut short.
  virtual Status beginStream(int status, std::string_view contentType) = 0;
  virtual Status write(std::string_view piece) = 0;
  virtual Status endStream() = 0;
  // Requested when the client closed the connection (or shut down its sending side) or the server
  // is stopping, so that a handler blocked on something other than the socket (an event queue) can
  // end. A handler that blocks for long must watch this token: stop() waits for every handler.
  virtual std::stop_token clientGone() = 0;
  // Whether an answer was started (send or beginStream).
  virtual bool answered() const = 0;
};

using Handler = std::function<void(const Request&, RequestBody&, Responder&)>;

// A TLS handshake the server refused, for metrics and tests.
struct RefusedConnection {
  std::string listenerUrl;    // tcp://127.0.0.1:7443
  std::string remoteAddress;  // 127.0.0.1:41234
  std::string reason;         // "the client presented no certificate"
};

struct HttpServerOptions {
  std::chrono::milliseconds handshakeTimeout = std::chrono::seconds(10);
  // From the first byte of a request to the end of its header.
  std::chrono::milliseconds headerTimeout = std::chrono::seconds(30);
  // A kept-alive connection waiting for its next request is closed after this long.
  std::chrono::milliseconds idleTimeout = std::chrono::seconds(120);
  // A body read or an answer write that makes no progress for this long fails (a client that
  // stopped reading an event stream is dropped).
  std::chrono::milliseconds ioTimeout = std::chrono::seconds(120);
  // Beyond this many open connections, new ones are closed at once (and logged).
  std::size_t maxConnections = 512;
  // Called on the connection's thread after each refused TLS handshake; must not block.
  std::function<void(const RefusedConnection&)> onRefused;
};

class HttpServer {
 public:
  // Binds every listener, then starts serving. Nothing is left listening on failure. Errors name
  // the listener: "listen tcp://0.0.0.0:7443: address already in use" (AlreadyExists), a bad URL
  // (InvalidArgument), TLS material that does not load (InvalidArgument), a path that is not a
  // socket or a socket file that cannot be replaced (AlreadyExists, PermissionDenied).
  static Result<std::unique_ptr<HttpServer>> start(std::vector<Listener> listeners, Handler handler,
                                                   HttpServerOptions options = {});

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();  // stop()

  // The bound URLs, in the order of the listeners: "unix:///run/berth/berthd.sock",
  // "tcp://127.0.0.1:40123" (the real port when 0 was asked for), "tcp://[::1]:7443".
  std::vector<std::string> urls() const;

  // Stops accepting, closes idle connections, makes blocked reads and writes of active ones fail,
  // requests every clientGone() token, waits for every handler to return and every thread to end,
  // and removes the Unix socket files. Blocks until then; idempotent. Not from a handler (it would
  // wait for itself).
  void stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::daemon
