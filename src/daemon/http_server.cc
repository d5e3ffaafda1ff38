// berthd's HTTP/1.1 server. How it is built, and why:
//
// - Sockets are non-blocking and every wait is a poll(2) on the socket plus one eventfd that stop()
//   writes once: so every read and write has a deadline (asio's synchronous calls have none) and
//   stop() ends all of them at once without touching another thread's socket object.
// - TLS is OpenSSL driven directly over the socket, as in the engine's TLS transport: the
//   verification result must be turned into a precise reason for the log ("client certificate
//   CN=alice expired at ..."), which asio::ssl hides behind an error code.
// - Boost.Beast parses requests (header limits, Content-Length and chunked framing, smuggling
//   checks); answers are simple enough to write by hand.
// - A connection's thread runs the handler. While a handler holds a clientGone() token, a watcher
//   thread polls the socket for the peer's FIN (POLLRDHUP), which a handler blocked on an event queue
//   could not notice otherwise.
// - Threads that write to sockets block SIGPIPE for themselves: OpenSSL writes with write(2), which
//   would otherwise kill the daemon when a client goes away; a blocked, thread-directed SIGPIPE only
//   stays pending and the write fails with EPIPE. The process-wide disposition is left alone.
//
// Beast 1.74's chunk parser asserts on input it then handles correctly (see engine/transport/
// http_codec.cc, found by fuzzing); request bodies can be chunked too, so its assertions are off here
// as there.
#define BOOST_DISABLE_ASSERTS
#include "daemon/http_server.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#if defined(__SANITIZE_THREAD__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
// Asio's scheduler uses std::atomic_thread_fence, which GCC 12 warns ThreadSanitizer does not model
// (-Wtsan). The only io_context here resolves and binds in start(), on one thread.
#pragma GCC diagnostic ignored "-Wtsan"
#endif
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <exception>
#include <limits>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <system_error>
#include <thread>

#include "base/log.h"
#include "base/strings.h"

namespace berth::daemon {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using namespace std::chrono_literals;

std::string_view listenerKindName(ListenerKind kind) {
  switch (kind) {
    case ListenerKind::Unix:
      return "unix";
    case ListenerKind::MutualTls:
      return "mutual-tls";
    case ListenerKind::PlainHttp:
      return "plain-http";
  }
  return "?";
}

std::string Request::header(std::string_view name) const {
  const std::string wanted = toLower(name);
  for (const auto& [n, v] : headers) {
    if (n.size() == wanted.size() && toLower(n) == wanted) return v;
  }
  return {};
}

namespace {

using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;
constexpr Deadline kNever = Deadline::max();

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kPieceSize = 64 * 1024;
// How long a closing connection keeps reading (and discarding) what the client still sends, so that
// our last answer is not destroyed by a TCP reset (a 413 while the client is still uploading).
constexpr auto kLinger = 2s;
constexpr int kListenBacklog = 128;

Deadline after(std::chrono::milliseconds d) {
  const auto now = SteadyClock::now();
  if (d >= std::chrono::duration_cast<std::chrono::milliseconds>(kNever - now)) return kNever;
  return now + d;
}

int pollTimeout(Deadline deadline) {
  if (deadline == kNever) return -1;
  const auto left = deadline - SteadyClock::now();
  if (left <= SteadyClock::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<long long>(ms, INT_MAX));
}

// "Address already in use" → "address already in use", to read well after "listen URL: ".
std::string lowerFirst(std::string text) {
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
  return text;
}
std::string errnoText(int err) { return lowerFirst(std::strerror(err)); }

std::string formatDurationMs(std::chrono::milliseconds d) {
  if (d.count() % 60000 == 0) return fmt::format("{}m", d.count() / 60000);
  if (d.count() % 1000 == 0) return fmt::format("{}s", d.count() / 1000);
  return fmt::format("{}ms", d.count());
}

void blockSigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::string jsonMessage(std::string_view message) {
  return nlohmann::json{{"message", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

// ---------------------------------------------------------------------------------------------
// The stop signal: an eventfd every wait polls, written once by stop().

class StopSignal {
 public:
  StopSignal() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~StopSignal() {
    if (fd_ >= 0) ::close(fd_);
  }
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  bool triggered() const { return triggered_.load(); }
  void trigger() {
    triggered_ = true;
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(fd_, &one, sizeof one);  // never read: stays readable
  }

 private:
  int fd_;
  std::atomic<bool> triggered_{false};
};

Unexpected stopping() { return fail(ErrorCode::Cancelled, "the server is stopping"); }

// ---------------------------------------------------------------------------------------------
// OpenSSL helpers.

struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// The reasons in OpenSSL's error queue, emptying it.
std::string opensslErrors() {
  std::string out;
  while (const unsigned long err = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(err);
    if (!out.empty()) out += "; ";
    out += reason ? reason : fmt::format("error {:#x}", err);
  }
  return out.empty() ? "unknown error" : out;
}

BioPtr memBio(std::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(std::min<std::size_t>(text.size(), INT_MAX))));
}

std::vector<X509Ptr> readCertificates(std::string_view pem) {
  std::vector<X509Ptr> out;
  BioPtr bio = memBio(pem);
  if (!bio) return out;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(cert);
  ERR_clear_error();  // the read that ended the loop
  return out;
}

std::string nameText(const X509_NAME* name) {
  if (name == nullptr) return "?";
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "?";
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string commonName(X509* cert) {
  if (cert == nullptr) return {};
  const X509_NAME* name = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return {};
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return {};
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::string asn1TimeText(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  char buffer[32];
  const std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buffer, n);
}

// What the verify callback saw of the first certificate it rejected, for the log.
struct HandshakeNotes {
  bool failed = false;
  int error = X509_V_OK;
  std::string subject;
  std::string issuer;
  std::string notBefore;
  std::string notAfter;
};

int notesIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int noteVerifyFailure(int preverifyOk, X509_STORE_CTX* store) {
  if (preverifyOk == 1) return 1;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* notes = ssl ? static_cast<HandshakeNotes*>(SSL_get_ex_data(ssl, notesIndex())) : nullptr;
  if (notes != nullptr && !notes->failed) {
    notes->failed = true;
    notes->error = X509_STORE_CTX_get_error(store);
    if (X509* cert = X509_STORE_CTX_get_current_cert(store)) {
      notes->subject = nameText(X509_get_subject_name(cert));
      notes->issuer = nameText(X509_get_issuer_name(cert));
      notes->notBefore = asn1TimeText(X509_get0_notBefore(cert));
      notes->notAfter = asn1TimeText(X509_get0_notAfter(cert));
    }
  }
  return 0;  // refuse at the first problem
}

// Why a client's handshake failed, in words.
std::string explainRefusal(const HandshakeNotes& notes, unsigned long err, int savedErrno) {
  if (notes.failed) {
    const std::string who = "client certificate " + (notes.subject.empty() ? "?" : notes.subject);
    switch (notes.error) {
      case X509_V_ERR_CERT_HAS_EXPIRED:
        return fmt::format("{} expired at {}", who, notes.notAfter);
      case X509_V_ERR_CERT_NOT_YET_VALID:
        return fmt::format("{} is not valid before {}", who, notes.notBefore);
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        return fmt::format("{} is not issued by the client CA of this listener (issuer {})", who,
                           notes.issuer);
      case X509_V_ERR_INVALID_PURPOSE:
        return fmt::format("{} is not meant for client authentication", who);
      default:
        return fmt::format("{} rejected: {}", who, X509_verify_cert_error_string(notes.error));
    }
  }
  if (err == 0) {
    if (savedErrno != 0) return "the connection failed during the handshake: " + errnoText(savedErrno);
    return "the client closed the connection during the handshake";
  }
  const int reason = ERR_GET_REASON(err);
  const char* text = ERR_reason_error_string(err);
  const std::string what = text ? text : fmt::format("error {:#x}", err);
  switch (reason) {
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      return "the client presented no certificate";
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
      return "the client does not speak TLS (plain HTTP on a TLS port?)";
    case SSL_R_UNSUPPORTED_PROTOCOL:
      return "the client offered no TLS version this server accepts (TLS 1.2 or later)";
    case SSL_R_NO_SHARED_CIPHER:
      return "no cipher in common with the client";
    default:
      break;
  }
  // Alerts the client sent arrive as reasons SSL_AD_REASON_OFFSET + alert ("tlsv1 alert unknown ca":
  // the client does not trust this server's certificate).
  if (reason >= SSL_AD_REASON_OFFSET) return "the client ended the handshake: " + what;
  return "TLS handshake failed: " + what;
}

Result<SslCtxPtr> makeServerContext(const ServerTls& tls) {
  auto bad = [](std::string message) { return fail(ErrorCode::InvalidArgument, std::move(message)); };
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return fail(ErrorCode::Internal, "SSL_CTX_new: " + opensslErrors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // No resumption: every connection presents (and has verified) its client certificate afresh.
  // No renegotiation: nothing needs it, and it lets a client make the server work for free.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                                     SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  auto chain = readCertificates(tls.certPem);
  if (chain.empty()) return bad("server certificate: no PEM certificate");
  if (SSL_CTX_use_certificate(ctx.get(), chain.front().get()) != 1) {
    return bad("server certificate: " + opensslErrors());
  }
  for (std::size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx.get(), chain[i].get()) != 1) {
      return bad("server certificate chain: " + opensslErrors());
    }
  }
  BioPtr keyBio = memBio(tls.keyPem);
  PkeyPtr key(keyBio ? PEM_read_bio_PrivateKey(keyBio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) {
    ERR_clear_error();
    return bad("server key: no PEM private key");
  }
  // Checked first: SSL_CTX_use_PrivateKey would only say "key values mismatch".
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    ERR_clear_error();
    return bad("server key does not belong to the server certificate");
  }
  if (SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1) return bad("server key: " + opensslErrors());

  auto cas = readCertificates(tls.clientCaPem);
  if (cas.empty()) return bad("client CA: no PEM certificate");
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
  for (const auto& ca : cas) {
    if (X509_STORE_add_cert(store, ca.get()) != 1) return bad("client CA: " + opensslErrors());
    // Named in the CertificateRequest, so that a client holding several certificates picks ours.
    if (SSL_CTX_add_client_CA(ctx.get(), ca.get()) != 1) return bad("client CA: " + opensslErrors());
  }
  if (SSL_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT) != 1) {
    return fail(ErrorCode::Internal, "SSL_CTX_set_purpose: " + opensslErrors());
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, noteVerifyFailure);
  return ctx;
}

// ---------------------------------------------------------------------------------------------
// Byte streams over an accepted socket: plain or TLS. Used by one thread (the connection's); the
// clientGone watcher only polls the descriptor.

class Stream {
 public:
  Stream(int fd, const StopSignal& stop) : fd_(fd), stop_(stop) {}
  virtual ~Stream() { ::close(fd_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  int fd() const { return fd_; }
  // Blocks until at least one byte arrived; 0 at the end of the stream.
  virtual Result<std::size_t> readSome(char* data, std::size_t size, Deadline deadline) = 0;
  virtual Status writeAll(std::string_view data, Deadline deadline) = 0;
  // Tells the client that nothing more comes (TLS: close_notify first), without waiting.
  virtual void closeWrite() { ::shutdown(fd_, SHUT_WR); }

  // Reads and discards what the client still sends until it closes, kLinger passes or the server
  // stops. Plain bytes: after closeWrite() even a TLS stream has nothing more to decrypt.
  void drain() {
    const Deadline deadline = SteadyClock::now() + kLinger;
    char buffer[16 * 1024];
    while (!stop_.triggered()) {
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n == 0) return;
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return;
        if (!wait(POLLIN, deadline)) return;
      }
    }
  }

 protected:
  // Waits until the socket is ready for `events`. Cancelled when the server stops,
  // DeadlineExceeded at the deadline.
  Status wait(short events, Deadline deadline) const {
    pollfd fds[2] = {{fd_, events, 0}, {stop_.fd(), POLLIN, 0}};
    while (true) {
      const int r = ::poll(fds, 2, pollTimeout(deadline));
      if (r < 0) {
        if (errno == EINTR) continue;
        return fail(ErrorCode::Internal, "poll: " + errnoText(errno));
      }
      if (fds[1].revents != 0) return stopping();
      if (r == 0) return fail(ErrorCode::DeadlineExceeded, "timed out");
      return ok();
    }
  }

  const int fd_;
  const StopSignal& stop_;
};

Unexpected connectionLost(int err) {
  if (err == EPIPE || err == ECONNRESET) return fail(ErrorCode::Unavailable, "the client went away");
  return fail(ErrorCode::Unavailable, "connection lost: " + errnoText(err));
}

class PlainStream final : public Stream {
 public:
  using Stream::Stream;

  Result<std::size_t> readSome(char* data, std::size_t size, Deadline deadline) override {
    while (true) {
      if (stop_.triggered()) return stopping();
      const ssize_t n = ::recv(fd_, data, size, 0);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        BERTH_TRY(wait(POLLIN, deadline));
        continue;
      }
      return connectionLost(errno);
    }
  }

  Status writeAll(std::string_view data, Deadline deadline) override {
    while (!data.empty()) {
      if (stop_.triggered()) return stopping();
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n >= 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        BERTH_TRY(wait(POLLOUT, deadline));
        continue;
      }
      return connectionLost(errno);
    }
    return ok();
  }
};

class TlsStream final : public Stream {
 public:
  TlsStream(int fd, const StopSignal& stop, SslPtr ssl) : Stream(fd, stop), ssl_(std::move(ssl)) {
    SSL_set_ex_data(ssl_.get(), notesIndex(), &notes_);
  }
  ~TlsStream() override { SSL_set_ex_data(ssl_.get(), notesIndex(), nullptr); }

  // The server side of the handshake, client certificate verified. Fails with PermissionDenied
  // saying why the client was refused, DeadlineExceeded, or Cancelled.
  Status handshake(Deadline deadline, std::chrono::milliseconds timeout) {
    if (SSL_set_fd(ssl_.get(), fd_) != 1) return fail(ErrorCode::Internal, "SSL_set_fd: " + opensslErrors());
    while (true) {
      if (stop_.triggered()) return stopping();
      ERR_clear_error();
      errno = 0;
      const int r = SSL_accept(ssl_.get());
      if (r == 1) return ok();
      const int e = SSL_get_error(ssl_.get(), r);
      const int savedErrno = errno;
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        const Status waited = wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
        if (!waited && waited.error().code() == ErrorCode::DeadlineExceeded) {
          return fail(ErrorCode::DeadlineExceeded,
                      fmt::format("no TLS handshake within {}", formatDurationMs(timeout)));
        }
        BERTH_TRY(waited);
        continue;
      }
      const unsigned long err = ERR_peek_last_error();
      ERR_clear_error();
      return fail(ErrorCode::PermissionDenied,
                  explainRefusal(notes_, err, e == SSL_ERROR_SYSCALL ? savedErrno : 0));
    }
  }

  std::string peerCommonName() const { return commonName(SSL_get0_peer_certificate(ssl_.get())); }

  Result<std::size_t> readSome(char* data, std::size_t size, Deadline deadline) override {
    const int want = static_cast<int>(std::min<std::size_t>(size, INT_MAX));
    while (true) {
      if (stop_.triggered()) return stopping();
      ERR_clear_error();
      errno = 0;
      const int n = SSL_read(ssl_.get(), data, want);
      if (n > 0) return static_cast<std::size_t>(n);
      const int e = SSL_get_error(ssl_.get(), n);
      switch (e) {
        case SSL_ERROR_ZERO_RETURN:
          return std::size_t{0};
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
          BERTH_TRY(wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline));
          continue;
        case SSL_ERROR_SYSCALL:
          if (errno == 0) return std::size_t{0};
          return connectionLost(errno);
        default:
          return fail(ErrorCode::Unavailable, "TLS error: " + opensslErrors());
      }
    }
  }

  Status writeAll(std::string_view data, Deadline deadline) override {
    while (!data.empty()) {
      if (stop_.triggered()) return stopping();
      const int chunk = static_cast<int>(std::min<std::size_t>(data.size(), 1 << 20));
      ERR_clear_error();
      errno = 0;
      const int n = SSL_write(ssl_.get(), data.data(), chunk);
      if (n > 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      const int e = SSL_get_error(ssl_.get(), n);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        BERTH_TRY(wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline));
        continue;
      }
      if (e == SSL_ERROR_SYSCALL && errno != 0) return connectionLost(errno);
      return fail(ErrorCode::Unavailable, "TLS error: " + opensslErrors());
    }
    return ok();
  }

  void closeWrite() override {
    // One attempt at close_notify; a client that is not reading does not get to hold us up.
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
    Stream::closeWrite();
  }

 private:
  SslPtr ssl_;
  HandshakeNotes notes_;
};

// ---------------------------------------------------------------------------------------------
// Listener URLs.

struct ListenAddress {
  ListenerKind kind = ListenerKind::Unix;
  std::string socketPath;  // unix
  std::string host;        // tcp
  std::uint16_t port = 0;
};

Result<ListenAddress> parseListenUrl(const Listener& listener) {
  const std::string& url = listener.url;
  auto bad = [&](std::string_view what) {
    return fail(ErrorCode::InvalidArgument, fmt::format("listen {}: {}", url, what));
  };
  ListenAddress out;
  if (startsWith(url, "unix://")) {
    out.socketPath = url.substr(7);
    if (out.socketPath.empty()) return bad("no socket path");
    if (listener.tls || listener.plainHttp) return bad("TLS and plainHttp are for tcp:// listeners");
    out.kind = ListenerKind::Unix;
    return out;
  }
  if (!startsWith(url, "tcp://")) return bad("unsupported scheme (expected unix:// or tcp://)");
  const std::string_view rest = std::string_view(url).substr(6);
  std::string_view portText;
  if (startsWith(rest, "[")) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return bad("unterminated [IPv6 address]");
    out.host = std::string(rest.substr(1, close - 1));
    if (rest.substr(close + 1, 1) != ":") return bad("expected ADDR:PORT");
    portText = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad("expected ADDR:PORT");
    out.host = std::string(rest.substr(0, colon));
    if (out.host.find(':') != std::string::npos)
      return bad("an IPv6 address goes in brackets: tcp://[::1]:7443");
    portText = rest.substr(colon + 1);
  }
  if (out.host.empty()) return bad("no address (0.0.0.0 listens on every interface)");
  if (portText.empty() || portText.size() > 5 ||
      !std::all_of(portText.begin(), portText.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return bad(fmt::format("bad port \"{}\"", portText));
  }
  const int port = std::stoi(std::string(portText));
  if (port > 65535) return bad(fmt::format("bad port \"{}\"", portText));
  out.port = static_cast<std::uint16_t>(port);
  if (listener.tls && listener.plainHttp) return bad("both TLS material and plainHttp given");
  if (!listener.tls && !listener.plainHttp) {
    return bad(
        "a tcp:// listener needs TLS material (plain HTTP is for metrics only, and asked for with "
        "plainHttp)");
  }
  out.kind = listener.tls ? ListenerKind::MutualTls : ListenerKind::PlainHttp;
  return out;
}

std::string hostPort(const asio::ip::address& address, std::uint16_t port) {
  if (address.is_v6()) return fmt::format("[{}]:{}", address.to_string(), port);
  return fmt::format("{}:{}", address.to_string(), port);
}

std::string formatSockaddr(const sockaddr_storage& ss, socklen_t len) {
  try {  // asio throws for an impossible length or an address it cannot print
    asio::ip::tcp::endpoint ep;
    if (len > ep.capacity()) return "?";
    std::memcpy(ep.data(), &ss, len);
    ep.resize(len);
    return hostPort(ep.address(), ep.port());
  } catch (const std::exception&) {
    return "?";
  }
}

Unexpected bindError(const std::string& url, int err) {
  const ErrorCode code = err == EADDRINUSE                 ? ErrorCode::AlreadyExists
                         : (err == EACCES || err == EPERM) ? ErrorCode::PermissionDenied
                                                           : ErrorCode::InvalidArgument;
  return fail(code, fmt::format("listen {}: {}", url, errnoText(err)));
}

// A listening TCP socket (non-blocking) and the URL it is bound to.
Result<std::pair<int, std::string>> bindTcp(const std::string& url, const ListenAddress& address) {
  asio::io_context ioc;
  asio::ip::tcp::resolver resolver(ioc);
  error_code ec;
  const auto results =
      resolver.resolve(address.host, std::to_string(address.port),
                       asio::ip::resolver_base::passive | asio::ip::resolver_base::numeric_service, ec);
  if (ec || results.empty()) {
    return fail(ErrorCode::InvalidArgument, fmt::format("listen {}: cannot resolve {}: {}", url, address.host,
                                                        ec ? lowerFirst(ec.message()) : "no address"));
  }
  const asio::ip::tcp::endpoint endpoint = results.begin()->endpoint();
  asio::ip::tcp::acceptor acceptor(ioc);
  if (acceptor.open(endpoint.protocol(), ec)) return bindError(url, ec.value());
  // A restarted berthd must not wait for the previous one's TIME_WAIT connections.
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor.bind(endpoint, ec)) return bindError(url, ec.value());
  if (acceptor.listen(kListenBacklog, ec)) return bindError(url, ec.value());
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(acceptor.native_handle(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return bindError(url, errno);
  }
  const std::string bound = "tcp://" + formatSockaddr(ss, len);
  const int fd = acceptor.release(ec);
  if (ec) return fail(ErrorCode::Internal, fmt::format("listen {}: {}", url, ec.message()));
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return std::pair{fd, bound};
}

// Whether something accepts connections on the Unix socket at `path`.
Result<bool> unixSocketLive(const std::string& url, const sockaddr_un& addr) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return bindError(url, errno);
  const int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int err = errno;
  ::close(fd);
  if (r == 0) return true;
  if (err == ECONNREFUSED || err == ENOENT) return false;
  if (err == EACCES || err == EPERM) {
    return fail(ErrorCode::PermissionDenied,
                fmt::format("listen {}: cannot check the existing socket: {}", url, errnoText(err)));
  }
  return false;
}

struct UnixSocket {
  int fd = -1;
  dev_t device = 0;
  ino_t inode = 0;
};

Result<UnixSocket> bindUnix(const std::string& url, const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("listen {}: socket path longer than {} bytes", url, sizeof addr.sun_path - 1));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return fail(ErrorCode::AlreadyExists,
                  fmt::format("listen {}: {} exists and is not a socket", url, path));
    }
    BERTH_ASSIGN_OR_RETURN(const bool live, unixSocketLive(url, addr));
    if (live) {
      return fail(ErrorCode::AlreadyExists,
                  fmt::format("listen {}: address already in use (another server accepts on it)", url));
    }
    // A stale socket file left by a server that died.
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return fail(ErrorCode::PermissionDenied,
                  fmt::format("listen {}: cannot remove the stale socket: {}", url, errnoText(errno)));
    }
  }

  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return bindError(url, errno);
  auto closeAnd = [&](Unexpected e) {
    ::close(fd);
    return e;
  };
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return closeAnd(bindError(url, errno));
  }
  // Before listen(), so no connection is accepted under the umask's mode. Group-writable: the
  // group that may use berth (root:berth or the like, set by the caller) connects.
  if (::chmod(path.c_str(), 0660) != 0 || ::lstat(path.c_str(), &st) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return closeAnd(
        fail(ErrorCode::PermissionDenied, fmt::format("listen {}: chmod: {}", url, errnoText(err))));
  }
  if (::listen(fd, kListenBacklog) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return closeAnd(bindError(url, err));
  }
  return UnixSocket{fd, st.st_dev, st.st_ino};
}

// ---------------------------------------------------------------------------------------------
// Reading requests: Beast's parser fed from the connection's buffer.

std::optional<std::string> percentDecode(std::string_view text, bool plusIsSpace) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      const char decoded = static_cast<char>(hi * 16 + lo);
      if (decoded == '\0') return std::nullopt;
      out += decoded;
      i += 2;
    } else if (c == '+' && plusIsSpace) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

enum class HeadOutcome { Ready, Closed, TooLarge, Malformed };

class RequestReader {
 public:
  // `pending`: bytes received on the connection and not yet parsed; what this request does not use
  // stays there for the next one (pipelining).
  RequestReader(Stream& stream, std::string& pending) : stream_(stream), pending_(pending) {
    parser_.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
    // Not boost::none: Beast 1.74 compares Content-Length against an empty optional as "over".
    // Limits on bodies are the handler's (RequestBody::readAll).
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser_.eager(false);
  }

  // Reads a request header: waits until `idleDeadline` for its first byte, then `headerTimeout` for
  // the rest. Closed: the client closed the connection (or it timed out) between requests.
  Result<HeadOutcome> readHeader(Deadline idleDeadline, std::chrono::milliseconds headerTimeout) {
    Deadline headerDeadline = kNever;
    while (true) {
      if (!pending_.empty()) {
        if (headerDeadline == kNever) headerDeadline = after(headerTimeout);
        error_code ec;
        const std::size_t used = parser_.put(asio::buffer(pending_.data(), pending_.size()), ec);
        pending_.erase(0, used);
        // Counted here: Beast applies its limit to the start line and the fields separately.
        headerBytes_ += used;
        if (parser_.is_header_done()) {
          if (headerBytes_ > kMaxHeaderBytes) return HeadOutcome::TooLarge;
          parser_.eager(true);
          return HeadOutcome::Ready;
        }
        if (ec == http::error::header_limit) return HeadOutcome::TooLarge;
        if (ec && ec != http::error::need_more) {
          error_ = ec.message();
          return HeadOutcome::Malformed;
        }
        // All of `pending_` belongs to the unfinished header.
        if (headerBytes_ + pending_.size() > kMaxHeaderBytes) return HeadOutcome::TooLarge;
      }
      const bool started = headerDeadline != kNever;
      auto n = stream_.readSome(buffer(), kReadChunk, started ? headerDeadline : idleDeadline);
      if (!n) {
        if (n.error().code() == ErrorCode::DeadlineExceeded && !started) return HeadOutcome::Closed;
        return fail(std::move(n).error());
      }
      if (*n == 0) {
        if (!started) return HeadOutcome::Closed;
        return fail(ErrorCode::Unavailable,
                    "the client closed the connection in the middle of a request header");
      }
      pending_.append(buffer(), *n);
    }
  }

  const std::string& error() const { return error_; }
  http::request_parser<http::buffer_body>& parser() { return parser_; }
  bool bodyDone() const { return parser_.is_done(); }

  // Decodes up to `size` body bytes into `out`, waiting for them up to `ioTimeout`; 0 only at the
  // end of the body. InvalidArgument for a malformed (chunked) body.
  Result<std::size_t> readBody(char* out, std::size_t size, std::chrono::milliseconds ioTimeout) {
    while (true) {
      if (parser_.is_done()) return std::size_t{0};
      if (!pending_.empty()) {
        auto& body = parser_.get().body();
        body.data = out;
        body.size = size;
        body.more = true;
        error_code ec;
        const std::size_t used = parser_.put(asio::buffer(pending_.data(), pending_.size()), ec);
        pending_.erase(0, used);
        const std::size_t produced = size - parser_.get().body().size;
        parser_.get().body().data = nullptr;
        if (ec && ec != http::error::need_buffer && ec != http::error::need_more) {
          return fail(ErrorCode::InvalidArgument, "malformed request body: " + ec.message());
        }
        if (produced > 0) return produced;
        if (parser_.is_done()) return std::size_t{0};
        if (ec != http::error::need_more && used > 0) continue;  // framing only (a chunk header)
      }
      auto n = stream_.readSome(buffer(), kReadChunk, after(ioTimeout));
      if (!n) {
        if (n.error().code() == ErrorCode::DeadlineExceeded) {
          return fail(
              ErrorCode::DeadlineExceeded,
              fmt::format("no request body bytes from the client within {}", formatDurationMs(ioTimeout)));
        }
        return fail(std::move(n).error());
      }
      if (*n == 0) {
        return fail(ErrorCode::Unavailable,
                    "the client closed the connection in the middle of the request body");
      }
      pending_.append(buffer(), *n);
    }
  }

 private:
  char* buffer() {
    if (!buffer_) buffer_ = std::make_unique<char[]>(kReadChunk);
    return buffer_.get();
  }

  Stream& stream_;
  std::string& pending_;
  http::request_parser<http::buffer_body> parser_;
  std::unique_ptr<char[]> buffer_;
  std::size_t headerBytes_ = 0;
  std::string error_;
};

// ---------------------------------------------------------------------------------------------
// The handler's view of a request's body and answer.

class BodyImpl final : public RequestBody {
 public:
  enum class Failure { None, TooLarge, Malformed, Transport };

  // `beforeFirstRead` answers "Expect: 100-continue" (the client waits for it before sending).
  BodyImpl(RequestReader& reader, std::chrono::milliseconds ioTimeout,
           std::function<Status()> beforeFirstRead)
      : reader_(reader), ioTimeout_(ioTimeout), beforeFirstRead_(std::move(beforeFirstRead)) {
    const auto length = reader_.parser().content_length();
    if (length) contentLength_ = *length;
  }

  std::optional<std::uint64_t> contentLength() const override { return contentLength_; }

  Result<std::string> readAll(std::size_t limit) override {
    if (failure_ != Failure::None) return fail(*error_);
    if (contentLength_ && *contentLength_ > limit) return failWith(Failure::TooLarge, tooLarge(limit));
    std::string out;
    out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(contentLength_.value_or(0), limit)));
    char* buffer = pieceBuffer();
    while (true) {
      BERTH_ASSIGN_OR_RETURN(const std::size_t n, read(buffer, kPieceSize));
      if (n == 0) return out;
      if (out.size() + n > limit) return failWith(Failure::TooLarge, tooLarge(limit));
      out.append(buffer, n);
    }
  }

  Result<std::optional<std::string>> readPiece() override {
    if (failure_ != Failure::None) return fail(*error_);
    char* buffer = pieceBuffer();
    BERTH_ASSIGN_OR_RETURN(const std::size_t n, read(buffer, kPieceSize));
    if (n == 0) return std::optional<std::string>();
    return std::optional<std::string>(std::string(buffer, n));
  }

  Failure failure() const { return failure_; }
  const std::optional<Error>& error() const { return error_; }
  bool complete() const { return failure_ == Failure::None && reader_.bodyDone(); }

 private:
  static Error tooLarge(std::size_t limit) {
    return Error(ErrorCode::InvalidArgument, fmt::format("request body larger than {} bytes", limit));
  }

  Unexpected failWith(Failure failure, Error error) {
    failure_ = failure;
    error_ = error;
    return fail(std::move(error));
  }

  Result<std::size_t> read(char* buffer, std::size_t size) {
    if (!started_) {
      started_ = true;
      if (!reader_.bodyDone()) {
        if (Status s = beforeFirstRead_(); !s) return failWith(Failure::Transport, std::move(s).error());
      }
    }
    auto n = reader_.readBody(buffer, size, ioTimeout_);
    if (!n) {
      Error e = std::move(n).error();
      return failWith(e.code() == ErrorCode::InvalidArgument ? Failure::Malformed : Failure::Transport,
                      std::move(e));
    }
    return *n;
  }

  char* pieceBuffer() {
    if (!buffer_) buffer_ = std::make_unique<char[]>(kPieceSize);
    return buffer_.get();
  }

  RequestReader& reader_;
  std::chrono::milliseconds ioTimeout_;
  std::function<Status()> beforeFirstRead_;
  std::optional<std::uint64_t> contentLength_;
  bool started_ = false;
  Failure failure_ = Failure::None;
  std::optional<Error> error_;
  std::unique_ptr<char[]> buffer_;
};

bool isTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool validHeaderValue(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

std::string_view reasonPhrase(int status) {
  const auto s = http::int_to_status(static_cast<unsigned>(status));
  if (s == http::status::unknown) return {};
  const auto reason = http::obsolete_reason(s);
  return std::string_view(reason.data(), reason.size());
}

struct RequestFacts {
  bool head = false;       // a HEAD request: answers carry no body
  bool http10 = false;     // no chunked encoding, keep-alive only on request
  bool keepAlive = false;  // what the client asked for
  bool expectContinue = false;
};

class ResponderImpl final : public Responder {
 public:
  ResponderImpl(Stream& stream, const RequestFacts& facts, std::stop_source gone, const StopSignal& stop,
                std::chrono::milliseconds ioTimeout, std::function<bool()> bodyComplete)
      : stream_(stream),
        facts_(facts),
        gone_(std::move(gone)),
        stop_(stop),
        ioTimeout_(ioTimeout),
        bodyComplete_(std::move(bodyComplete)) {}

  ~ResponderImpl() override { stopWatcher(); }

  Status addHeader(std::string_view name, std::string_view value) override {
    if (state_ != State::Fresh) return fail(ErrorCode::Internal, "addHeader after the answer started");
    if (name.empty() || !std::all_of(name.begin(), name.end(), isTokenChar) || !validHeaderValue(value)) {
      return fail(ErrorCode::InvalidArgument, fmt::format("invalid header {}", quoted(name)));
    }
    const std::string lower = toLower(name);
    if (lower == "content-length" || lower == "transfer-encoding" || lower == "connection") {
      return fail(ErrorCode::InvalidArgument, fmt::format("header {} is the server's to set", name));
    }
    extraHeaders_ += fmt::format("{}: {}\r\n", name, value);
    return ok();
  }

  Status send(int status, std::string_view contentType, std::string_view body) override {
    BERTH_TRY(checkStart(status, contentType));
    const bool bodyless = status == 204 || status == 304;
    std::string bytes =
        head(status, contentType, bodyless ? "" : fmt::format("Content-Length: {}\r\n", body.size()));
    if (!facts_.head && !bodyless) bytes += body;
    state_ = State::Sent;
    return put(bytes);
  }

  Status beginStream(int status, std::string_view contentType) override {
    BERTH_TRY(checkStart(status, contentType));
    if (status == 204 || status == 304) {
      return fail(ErrorCode::InvalidArgument, fmt::format("a {} answer has no body to stream", status));
    }
    // HTTP/1.0 knows no chunks: the body runs to the end of the connection.
    chunked_ = !facts_.http10;
    if (!chunked_) closeAfter_ = true;
    const std::string bytes = head(status, contentType, chunked_ ? "Transfer-Encoding: chunked\r\n" : "");
    state_ = State::Streaming;
    return put(bytes);
  }

  Status write(std::string_view piece) override {
    if (state_ == State::Broken) return fail(*broken_);
    if (state_ != State::Streaming) return fail(ErrorCode::Internal, "write() outside a stream");
    if (piece.empty() || facts_.head) return ok();  // an empty chunk would end the stream
    if (!chunked_) return put(piece);
    std::string bytes = fmt::format("{:x}\r\n", piece.size());
    bytes += piece;
    bytes += "\r\n";
    return put(bytes);
  }

  Status endStream() override {
    if (state_ == State::Broken) return fail(*broken_);
    if (state_ != State::Streaming) return fail(ErrorCode::Internal, "endStream() outside a stream");
    state_ = State::Ended;
    if (!chunked_ || facts_.head) return ok();
    return put("0\r\n\r\n");
  }

  std::stop_token clientGone() override {
    if (!watcher_.joinable() && !gone_.stop_requested()) startWatcher();
    return gone_.get_token();
  }

  bool answered() const override { return state_ != State::Fresh; }

  // --- for the connection loop
  bool streaming() const { return state_ == State::Streaming; }
  bool broken() const { return state_ == State::Broken; }
  bool closeAfter() const { return closeAfter_; }
  // Answers "Expect: 100-continue" before the body is read, unless an answer went out already.
  Status continueIfExpected() {
    if (!facts_.expectContinue || state_ != State::Fresh) return ok();
    return stream_.writeAll("HTTP/1.1 100 Continue\r\n\r\n", after(ioTimeout_));
  }
  void stopWatcher() {
    if (!watcher_.joinable()) return;
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wakeFd_, &one, sizeof one);
    watcher_.join();
    ::close(wakeFd_);
    wakeFd_ = -1;
  }

 private:
  enum class State { Fresh, Sent, Streaming, Ended, Broken };

  Status checkStart(int status, std::string_view contentType) {
    if (state_ == State::Broken) return fail(*broken_);
    if (state_ != State::Fresh) return fail(ErrorCode::Internal, "the request was answered already");
    if (status < 200 || status > 599) {
      return fail(ErrorCode::InvalidArgument, fmt::format("status {} is not a final HTTP status", status));
    }
    if (!validHeaderValue(contentType)) return fail(ErrorCode::InvalidArgument, "invalid content type");
    return ok();
  }

  // The status line and headers. The connection is kept only when the client wants it, the body was
  // read to its end (otherwise its rest would be taken for the next request) and the server runs.
  std::string head(int status, std::string_view contentType, std::string_view framing) {
    if (!facts_.keepAlive || !bodyComplete_() || stop_.triggered()) closeAfter_ = true;
    std::string out = fmt::format("HTTP/1.1 {} {}\r\n", status, reasonPhrase(status));
    if (!contentType.empty()) out += fmt::format("Content-Type: {}\r\n", contentType);
    out += framing;
    if (closeAfter_) {
      out += "Connection: close\r\n";
    } else if (facts_.http10) {
      out += "Connection: keep-alive\r\n";
    }
    out += extraHeaders_;
    out += "\r\n";
    return out;
  }

  Status put(std::string_view bytes) {
    Status s = stream_.writeAll(bytes, after(ioTimeout_));
    if (!s) {
      if (s.error().code() == ErrorCode::DeadlineExceeded) {
        s = fail(ErrorCode::DeadlineExceeded,
                 fmt::format("the client read nothing for {}", formatDurationMs(ioTimeout_)));
      }
      state_ = State::Broken;
      broken_ = s.error();
      closeAfter_ = true;
    }
    return s;
  }

  // Polls the socket for the client's FIN (or an error) while the handler holds the token; POLLIN is
  // not asked for, so a pipelined request does not count as going away.
  void startWatcher() {
    wakeFd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wakeFd_ < 0) {
      log::warn("eventfd: {}; clientGone() only reports a stopping server", errnoText(errno));
      return;
    }
    auto watch = [fd = stream_.fd(), stopFd = stop_.fd(), wakeFd = wakeFd_, gone = gone_]() mutable {
      pollfd fds[3] = {{fd, POLLRDHUP, 0}, {stopFd, POLLIN, 0}, {wakeFd, POLLIN, 0}};
      while (::poll(fds, 3, -1) < 0) {
        if (errno != EINTR) return;
      }
      if (fds[2].revents != 0) return;  // the request is over
      gone.request_stop();
    };
    try {
      watcher_ = std::jthread(std::move(watch));
    } catch (const std::system_error& e) {
      log::warn("cannot start a thread ({}); clientGone() only reports a stopping server", e.what());
      ::close(wakeFd_);
      wakeFd_ = -1;
    }
  }

  Stream& stream_;
  RequestFacts facts_;
  std::stop_source gone_;
  const StopSignal& stop_;
  std::chrono::milliseconds ioTimeout_;
  std::function<bool()> bodyComplete_;
  State state_ = State::Fresh;
  std::optional<Error> broken_;
  bool chunked_ = true;
  bool closeAfter_ = false;
  std::string extraHeaders_;
  int wakeFd_ = -1;
  std::jthread watcher_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// The server.

struct HttpServer::Impl {
  struct BoundListener {
    std::string url;  // as bound: the real port
    ListenerKind kind = ListenerKind::Unix;
    int fd = -1;
    SslCtxPtr ssl;           // MutualTls
    std::string socketPath;  // Unix
    dev_t device = 0;        // Unix: the socket file we made, so stop() removes only it
    ino_t inode = 0;
    std::jthread acceptor;
  };
  struct Connection {
    std::uint64_t id = 0;
    std::stop_source gone;
    std::atomic<bool> finished{false};
    std::jthread thread;
  };

  Handler handler;
  HttpServerOptions options;
  StopSignal stop;
  std::vector<std::unique_ptr<BoundListener>> listeners;

  std::mutex mu;
  std::list<std::unique_ptr<Connection>> connections;  // guarded by mu
  std::uint64_t nextConnection = 0;                    // guarded by mu
  bool stopping = false;                               // guarded by mu

  std::mutex stopMu;  // serialises stop()
  bool stopped = false;

  void closeListeners() {
    for (auto& l : listeners) {
      if (l->fd >= 0) ::close(l->fd);
      l->fd = -1;
      if (l->kind == ListenerKind::Unix && !l->socketPath.empty()) {
        // Only the file we made: a newer server may have replaced it.
        struct stat st {};
        if (::lstat(l->socketPath.c_str(), &st) == 0 && st.st_dev == l->device && st.st_ino == l->inode) {
          ::unlink(l->socketPath.c_str());
        }
        l->socketPath.clear();
      }
    }
  }

  void acceptLoop(BoundListener& l) {
    blockSigpipe();
    while (true) {
      pollfd fds[2] = {{l.fd, POLLIN, 0}, {stop.fd(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        log::error("listen {}: poll: {}", l.url, errnoText(errno));
        return;
      }
      if (fds[1].revents != 0 || stop.triggered()) return;
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      const int fd = ::accept4(l.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        const int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED || err == EPROTO)
          continue;
        log::warn("listen {}: accept: {}", l.url, errnoText(err));
        if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
          // Out of descriptors or memory: the pending connection stays readable, so back off instead of
          // spinning (the passing of time is the point here), ending early if the server stops.
          pollfd s{stop.fd(), POLLIN, 0};
          ::poll(&s, 1, 100);
        }
        continue;
      }
      std::string remote = "unix";
      if (l.kind != ListenerKind::Unix) {
        remote = formatSockaddr(ss, len);
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
      }
      spawn(l, fd, std::move(remote));
    }
  }

  void spawn(BoundListener& l, int fd, std::string remote) {
    std::lock_guard lock(mu);
    for (auto it = connections.begin(); it != connections.end();) {
      if ((*it)->finished.load()) {
        (*it)->thread.join();
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
    if (stopping) {
      ::close(fd);
      return;
    }
    if (connections.size() >= options.maxConnections) {
      log::warn("listen {}: refused a connection from {}: {} connections open already", l.url, remote,
                connections.size());
      ::close(fd);
      return;
    }
    auto conn = std::make_unique<Connection>();
    conn->id = ++nextConnection;
    Connection* c = conn.get();
    try {
      conn->thread = std::jthread([this, &l, c, fd, remote] {
        serve(l, *c, fd, remote);
        c->finished = true;
      });
    } catch (const std::system_error& e) {
      log::warn("listen {}: refused a connection from {}: cannot start a thread: {}", l.url, remote,
                e.what());
      ::close(fd);
      return;
    }
    connections.push_back(std::move(conn));
  }

  void serve(BoundListener& l, Connection& c, int fd, const std::string& remote) {
    blockSigpipe();
    std::unique_ptr<Stream> stream;
    std::string peer;
    switch (l.kind) {
      case ListenerKind::MutualTls: {
        SSL* ssl = SSL_new(l.ssl.get());
        if (ssl == nullptr) {
          log::error("listen {}: SSL_new: {}", l.url, opensslErrors());
          ::close(fd);
          return;
        }
        auto tls = std::make_unique<TlsStream>(fd, stop, SslPtr(ssl));
        if (Status s = tls->handshake(after(options.handshakeTimeout), options.handshakeTimeout); !s) {
          if (s.error().code() == ErrorCode::Cancelled) return;
          log::info("refused TLS connection from {} on {}: {}", remote, l.url, s.error().message());
          if (options.onRefused) options.onRefused({l.url, remote, s.error().message()});
          return;
        }
        peer = tls->peerCommonName();
        stream = std::move(tls);
        break;
      }
      case ListenerKind::Unix:
        stream = std::make_unique<PlainStream>(fd, stop);
        peer = "unix";
        break;
      case ListenerKind::PlainHttp:
        stream = std::make_unique<PlainStream>(fd, stop);
        peer = remote;
        break;
    }
    log::debug("connection {} from {} ({}) on {}", c.id, remote, peer, l.url);
    std::string pending;
    while (serveOne(l, c, *stream, pending, peer, remote)) {
    }
    log::debug("connection {} closed", c.id);
  }

  // Writes an answer of the server's own and closes the connection (reading what the client still
  // sends for a moment, so that the answer reaches it).
  static void answerAndClose(Stream& stream, int status, std::string_view message,
                             std::chrono::milliseconds ioTimeout) {
    const std::string body = jsonMessage(message);
    const std::string bytes = fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: "
        "close\r\n\r\n{}",
        status, reasonPhrase(status), body.size(), body);
    if (stream.writeAll(bytes, after(ioTimeout))) {
      stream.closeWrite();
      stream.drain();
    }
  }

  // Serves one request; false when the connection is to be closed.
  bool serveOne(BoundListener& l, Connection& c, Stream& stream, std::string& pending,
                const std::string& peer, const std::string& remote) {
    RequestReader reader(stream, pending);
    auto outcome = reader.readHeader(after(options.idleTimeout), options.headerTimeout);
    if (!outcome) {
      if (outcome.error().code() != ErrorCode::Cancelled) {
        log::debug("connection {}: {}", c.id, outcome.error().message());
      }
      return false;
    }
    switch (*outcome) {
      case HeadOutcome::Ready:
        break;
      case HeadOutcome::Closed:
        return false;
      case HeadOutcome::TooLarge:
        log::info("connection {} from {}: request header larger than {} bytes", c.id, remote,
                  kMaxHeaderBytes);
        answerAndClose(stream, 431, fmt::format("request header larger than {} bytes", kMaxHeaderBytes),
                       options.ioTimeout);
        return false;
      case HeadOutcome::Malformed:
        log::info("connection {} from {}: malformed request: {}", c.id, remote, reader.error());
        answerAndClose(stream, 400, "malformed request: " + reader.error(), options.ioTimeout);
        return false;
    }

    const auto& message = reader.parser().get();
    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.listener = l.kind;
    request.peer = peer;
    request.remoteAddress = remote;
    request.connection = c.id;
    for (const auto& field : message) {
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    const std::string_view target = request.target;
    const auto question = target.find('?');
    auto path = startsWith(target, "/") ? percentDecode(target.substr(0, question), false) : std::nullopt;
    if (!path) {
      answerAndClose(stream, 400, fmt::format("malformed request target {}", quoted(target)),
                     options.ioTimeout);
      return false;
    }
    request.path = std::move(*path);
    if (question != std::string_view::npos) {
      for (const std::string& pair : split(target.substr(question + 1), '&')) {
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        auto key = percentDecode(std::string_view(pair).substr(0, eq), true);
        auto value = eq == std::string::npos ? std::optional<std::string>("")
                                             : percentDecode(std::string_view(pair).substr(eq + 1), true);
        if (!key || !value) {
          answerAndClose(stream, 400, fmt::format("malformed query in {}", quoted(target)),
                         options.ioTimeout);
          return false;
        }
        request.query.emplace(std::move(*key), std::move(*value));  // the first of a repeated key wins
      }
    }

    RequestFacts facts;
    facts.head = message.method() == http::verb::head;
    facts.http10 = message.version() < 11;
    facts.keepAlive = message.keep_alive();
    facts.expectContinue = !facts.http10 && toLower(request.header("expect")) == "100-continue";

    ResponderImpl* responderPtr = nullptr;
    BodyImpl body(reader, options.ioTimeout, [&responderPtr] { return responderPtr->continueIfExpected(); });
    ResponderImpl responder(stream, facts, c.gone, stop, options.ioTimeout,
                            [&body] { return body.complete(); });
    responderPtr = &responder;

    bool threw = false;
    try {
      handler(request, body, responder);
    } catch (const std::exception& e) {
      threw = true;
      log::error("{} {} from {} (connection {}): the handler threw: {}", request.method, request.target, peer,
                 c.id, e.what());
    } catch (...) {
      threw = true;
      log::error("{} {} from {} (connection {}): the handler threw something that is not an exception",
                 request.method, request.target, peer, c.id);
    }
    responder.stopWatcher();

    if (responder.broken()) return false;
    if (!responder.answered()) {
      switch (body.failure()) {
        case BodyImpl::Failure::TooLarge:
          answerAndClose(stream, 413, body.error()->message(), options.ioTimeout);
          return false;
        case BodyImpl::Failure::Malformed:
          answerAndClose(stream, 400, body.error()->message(), options.ioTimeout);
          return false;
        case BodyImpl::Failure::Transport:
          return false;  // the client went away, or the server is stopping
        case BodyImpl::Failure::None:
          break;
      }
      if (!threw) {
        log::error("{} {} from {} (connection {}): the handler returned without answering", request.method,
                   request.target, peer, c.id);
      }
      answerAndClose(stream, 500, "internal error", options.ioTimeout);
      return false;
    }
    if (responder.streaming()) {
      if (threw) return false;  // cut short: no final chunk, so the client sees the truncation
      if (!responder.endStream()) return false;
    }
    if (responder.closeAfter() || !body.complete() || c.gone.stop_requested()) {
      stream.closeWrite();
      stream.drain();
      return false;
    }
    return true;
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(std::vector<Listener> listeners, Handler handler,
                                                      HttpServerOptions options) {
  BERTH_CHECK(handler != nullptr);
  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);
  impl->options = std::move(options);
  if (!impl->stop.valid()) return fail(ErrorCode::Internal, "eventfd: " + errnoText(errno));

  // Every URL and all TLS material first, so that a mistake in the last listener binds nothing.
  std::vector<ListenAddress> addresses;
  for (const Listener& l : listeners) {
    BERTH_ASSIGN_OR_RETURN(ListenAddress address, parseListenUrl(l));
    auto bound = std::make_unique<Impl::BoundListener>();
    bound->kind = address.kind;
    if (address.kind == ListenerKind::MutualTls) {
      auto ctx = makeServerContext(*l.tls);
      if (!ctx) return fail(std::move(ctx).error().withContext("listen " + l.url));
      bound->ssl = std::move(ctx).value();
    }
    addresses.push_back(std::move(address));
    impl->listeners.push_back(std::move(bound));
  }
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    Impl::BoundListener& bound = *impl->listeners[i];
    const ListenAddress& address = addresses[i];
    switch (address.kind) {
      case ListenerKind::Unix: {
        auto sock = bindUnix(listeners[i].url, address.socketPath);
        if (!sock) {
          impl->closeListeners();
          return fail(std::move(sock).error());
        }
        bound.fd = sock->fd;
        bound.socketPath = address.socketPath;
        bound.device = sock->device;
        bound.inode = sock->inode;
        bound.url = "unix://" + address.socketPath;
        break;
      }
      case ListenerKind::MutualTls:
      case ListenerKind::PlainHttp: {
        auto sock = bindTcp(listeners[i].url, address);
        if (!sock) {
          impl->closeListeners();
          return fail(std::move(sock).error());
        }
        bound.fd = sock->first;
        bound.url = std::move(sock->second);
        break;
      }
    }
  }
  Impl* raw = impl.get();
  auto server = std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
  for (auto& l : raw->listeners) {
    Impl::BoundListener* bound = l.get();
    try {
      bound->acceptor = std::jthread([raw, bound] { raw->acceptLoop(*bound); });
    } catch (const std::system_error& e) {
      server->stop();  // joins the accept threads already started and closes every socket
      return fail(ErrorCode::Internal,
                  fmt::format("listen {}: cannot start a thread: {}", bound->url, e.what()));
    }
    log::info("listening on {} ({})", bound->url, listenerKindName(bound->kind));
  }
  return server;
}

std::vector<std::string> HttpServer::urls() const {
  std::vector<std::string> out;
  for (const auto& l : impl_->listeners) out.push_back(l->url);
  return out;
}

void HttpServer::stop() {
  Impl& s = *impl_;
  std::lock_guard stopLock(s.stopMu);
  if (s.stopped) return;
  s.stop.trigger();
  std::vector<std::stop_source> gone;
  {
    std::lock_guard lock(s.mu);
    s.stopping = true;
    for (const auto& c : s.connections) gone.push_back(c->gone);
  }
  // Outside mu: the handlers' stop callbacks run here.
  for (auto& g : gone) g.request_stop();
  for (auto& l : s.listeners) {
    if (l->acceptor.joinable()) l->acceptor.join();
  }
  std::list<std::unique_ptr<Impl::Connection>> connections;
  {
    std::lock_guard lock(s.mu);
    connections = std::move(s.connections);
  }
  for (auto& c : connections) c->thread.join();
  s.closeListeners();
  s.stopped = true;
}

}  // namespace berth::daemon
