// Unix-socket, TCP and TLS transports. Boost.Asio resolves names, connects with a deadline and owns
// the sockets; I/O after connecting is non-blocking with poll(2), so that every call has a deadline,
// cancel() can wake a blocked call through an eventfd, and one thread can read while another writes.
// TLS is OpenSSL driven directly over the socket (not asio::ssl) for two reasons: the verification
// result and alerts must be turned into precise messages, and a read and a write on one TLS
// connection must be able to wait at the same time (interactive exec); both take a mutex around the
// SSL object and wait outside it.
#include <fmt/core.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#if defined(__SANITIZE_THREAD__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
// Asio's scheduler uses std::atomic_thread_fence, which GCC 12 warns ThreadSanitizer does not model
// (-Wtsan). berth drives each io_context from one thread only, so the tsan build may ignore it.
#pragma GCC diagnostic ignored "-Wtsan"
#endif
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "engine/endpoint.h"
#include "engine/engine.h"
#include "engine/transport/internal.h"
#include "pki/digest.h"

namespace berth::engine::transport {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// ---------------------------------------------------------------------------------------------
// Waiting with a deadline and a cancel signal.

class Waiter {
 public:
  Waiter() : cancelFd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~Waiter() {
    if (cancelFd_ >= 0) ::close(cancelFd_);
  }
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  bool valid() const { return cancelFd_ >= 0; }
  bool cancelled() const { return cancelled_.load(); }
  void cancel() {
    cancelled_ = true;
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(cancelFd_, &one, sizeof one);
  }

  // Returns when `fd` is ready for `events` (or failed: the next I/O call reports how), when
  // `wakeFd` (if >= 0) is readable, on cancel() (Cancelled) or at the deadline (DeadlineExceeded).
  Status wait(int fd, short events, Deadline deadline, const std::string& address, int wakeFd = -1) {
    pollfd fds[3] = {{fd, events, 0}, {cancelFd_, POLLIN, 0}, {wakeFd, POLLIN, 0}};
    const nfds_t count = wakeFd >= 0 ? 3 : 2;
    while (true) {
      const int r = ::poll(fds, count, pollTimeoutMs(deadline));
      if (r < 0) {
        if (errno == EINTR) continue;
        return fail(ErrorCode::Internal, fmt::format("poll: {}", std::strerror(errno)));
      }
      if (fds[1].revents != 0 || cancelled()) return cancelledError();
      if (r == 0) {
        return fail(ErrorCode::DeadlineExceeded, fmt::format("timed out waiting for {}", address));
      }
      return ok();
    }
  }

  static Unexpected cancelledError() { return fail(ErrorCode::Cancelled, "cancelled"); }

 private:
  int cancelFd_;
  std::atomic<bool> cancelled_{false};
};

// Whether a would-block error: try again after waiting.
bool wouldBlock(const error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

// Runs `ioc` until `done` or the deadline; on timeout closes via `abort` and drains the handlers.
template <class Abort>
bool runUntil(asio::io_context& ioc, const bool& done, Deadline deadline, Abort abort) {
  ioc.restart();
  while (!done) {
    if (deadline == kNoDeadline) {
      ioc.run_one();
    } else {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero() || ioc.run_one_for(left) == 0) break;
    }
  }
  if (done) return true;
  abort();
  ioc.restart();
  ioc.run();
  return false;
}

// ---------------------------------------------------------------------------------------------
// Plain sockets.

template <class Protocol>
class SocketConnection final : public Connection {
 public:
  using Socket = typename Protocol::socket;

  explicit SocketConnection(std::string address) : socket_(ioc_), address_(std::move(address)) {}

  Socket& socket() { return socket_; }
  asio::io_context& ioc() { return ioc_; }
  bool valid() const { return waiter_.valid(); }

  Result<std::size_t> readSome(std::span<char> buffer, Deadline deadline) override {
    BERTH_CHECK(!buffer.empty());
    while (true) {
      if (waiter_.cancelled()) return Waiter::cancelledError();
      error_code ec;
      const std::size_t n = socket_.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
      if (!ec) return n;
      if (ec == asio::error::eof) return std::size_t{0};
      if (ec == asio::error::interrupted) continue;
      if (wouldBlock(ec)) {
        BERTH_TRY(waiter_.wait(socket_.native_handle(), POLLIN, deadline, address_));
        continue;
      }
      return fail(ErrorCode::Unavailable, fmt::format("connection to {} lost: {}", address_, ec.message()));
    }
  }

  Status writeAll(std::string_view data, Deadline deadline) override {
    while (!data.empty()) {
      if (waiter_.cancelled()) return Waiter::cancelledError();
      error_code ec;
      const std::size_t n = socket_.write_some(asio::buffer(data.data(), data.size()), ec);
      if (!ec) {
        data.remove_prefix(n);
        continue;
      }
      if (ec == asio::error::interrupted) continue;
      if (wouldBlock(ec)) {
        BERTH_TRY(waiter_.wait(socket_.native_handle(), POLLOUT, deadline, address_));
        continue;
      }
      return fail(ErrorCode::Unavailable, fmt::format("connection to {} lost: {}", address_, ec.message()));
    }
    return ok();
  }

  Status shutdownWrite(Deadline) override {
    error_code ec;
    socket_.shutdown(asio::socket_base::shutdown_send, ec);
    if (ec) {
      return fail(ErrorCode::Unavailable, fmt::format("connection to {} lost: {}", address_, ec.message()));
    }
    return ok();
  }

  bool reusable() override {
    if (waiter_.cancelled() || !socket_.is_open()) return false;
    pollfd p{socket_.native_handle(), POLLIN, 0};
    // Readable while idle means end-of-stream, an error, or bytes nobody asked for.
    return ::poll(&p, 1, 0) == 0;
  }

  void cancel() override { waiter_.cancel(); }

 private:
  asio::io_context ioc_;  // outlives socket_
  Socket socket_;
  Waiter waiter_;
  std::string address_;
};

using UnixConnection = SocketConnection<asio::local::stream_protocol>;
using TcpConnection = SocketConnection<asio::ip::tcp>;

Unexpected connectError(const error_code& ec, const std::string& address, bool unixSocket) {
  if (ec == asio::error::connection_refused) {
    return fail(ErrorCode::Unavailable,
                unixSocket
                    ? fmt::format("connection refused by {} (is dockerd running?)", address)
                    : fmt::format("connection refused by {} (is the engine listening there?)", address));
  }
  if (ec == asio::error::no_such_device || ec.value() == ENOENT) {
    return fail(ErrorCode::Unavailable,
                fmt::format("cannot connect to {}: no such socket (is dockerd running?)", address));
  }
  if (ec == asio::error::access_denied || ec.value() == EPERM) {
    return fail(ErrorCode::PermissionDenied, fmt::format("permission denied connecting to {}", address));
  }
  if (ec == asio::error::host_unreachable || ec == asio::error::network_unreachable) {
    return fail(ErrorCode::Unavailable, fmt::format("no route to {}", address));
  }
  if (ec == asio::error::timed_out) {
    return fail(ErrorCode::DeadlineExceeded, fmt::format("timed out connecting to {}", address));
  }
  return fail(ErrorCode::Unavailable, fmt::format("cannot connect to {}: {}", address, ec.message()));
}

Unexpected connectTimeout(const std::string& address) {
  return fail(ErrorCode::DeadlineExceeded, fmt::format("timed out connecting to {}", address));
}

class UnixTransport final : public Transport {
 public:
  explicit UnixTransport(std::string path) : path_(std::move(path)) {}

  Result<std::unique_ptr<Connection>> dial(Deadline deadline) override {
    auto conn = std::make_unique<UnixConnection>(path_);
    if (!conn->valid()) return fail(ErrorCode::Internal, "eventfd: " + std::string(std::strerror(errno)));
    bool done = false;
    error_code result;
    conn->socket().async_connect(asio::local::stream_protocol::endpoint(path_), [&](const error_code& ec) {
      result = ec;
      done = true;
    });
    if (!runUntil(conn->ioc(), done, deadline, [&] {
          error_code ignored;
          conn->socket().close(ignored);
        })) {
      return connectTimeout(path_);
    }
    if (result) return connectError(result, path_, true);
    error_code ec;
    conn->socket().non_blocking(true, ec);
    if (ec) return fail(ErrorCode::Internal, "non-blocking socket: " + ec.message());
    return std::unique_ptr<Connection>(std::move(conn));
  }

 private:
  std::string path_;
};

void tuneTcp(asio::ip::tcp::socket& socket) {
  error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  socket.set_option(asio::socket_base::keep_alive(true), ec);
  // Notice a dead peer on an idle stream (events, followed logs) within about a minute.
  const int fd = socket.native_handle();
  const int idle = 30, interval = 10, count = 3;
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

std::string hostPort(const std::string& host, std::uint16_t port) {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                             : fmt::format("{}:{}", host, port);
}

// host:port's addresses. An IP address needs no lookup. A name is looked up on an io_context of its
// own: Asio's resolver runs getaddrinfo on a thread that lives as long as its io_context, and the
// connection's lives as long as the connection (berthd keeps hundreds open: one idle thread each).
Result<asio::ip::tcp::resolver::results_type> resolveTcp(const std::string& host, std::uint16_t port,
                                                         Deadline deadline) {
  error_code result;
  const asio::ip::address ip = asio::ip::make_address(host, result);
  if (!result) {
    return asio::ip::tcp::resolver::results_type::create(asio::ip::tcp::endpoint(ip, port), host,
                                                         std::to_string(port));
  }
  asio::io_context lookup;
  asio::ip::tcp::resolver resolver(lookup);
  bool done = false;
  asio::ip::tcp::resolver::results_type endpoints;
  resolver.async_resolve(host, std::to_string(port), asio::ip::resolver_base::numeric_service,
                         [&](const error_code& ec, asio::ip::tcp::resolver::results_type r) {
                           result = ec;
                           endpoints = std::move(r);
                           done = true;
                         });
  if (!runUntil(lookup, done, deadline, [&] { resolver.cancel(); })) {
    return fail(ErrorCode::DeadlineExceeded, fmt::format("timed out resolving {}", host));
  }
  if (result) {
    return fail(ErrorCode::Unavailable, fmt::format("cannot resolve {}: {}", host, result.message()));
  }
  return endpoints;
}

// Connects a TCP socket to host:port before the deadline.
Result<std::unique_ptr<TcpConnection>> dialTcp(const std::string& host, std::uint16_t port,
                                               Deadline deadline) {
  const std::string address = hostPort(host, port);
  auto conn = std::make_unique<TcpConnection>(address);
  if (!conn->valid()) return fail(ErrorCode::Internal, "eventfd: " + std::string(std::strerror(errno)));
  BERTH_ASSIGN_OR_RETURN(const auto endpoints, resolveTcp(host, port, deadline));
  bool done = false;
  error_code result;
  asio::async_connect(conn->socket(), endpoints, [&](const error_code& ec, const asio::ip::tcp::endpoint&) {
    result = ec;
    done = true;
  });
  if (!runUntil(conn->ioc(), done, deadline, [&] {
        error_code ignored;
        conn->socket().close(ignored);
      })) {
    return connectTimeout(address);
  }
  if (result) return connectError(result, address, false);
  tuneTcp(conn->socket());
  error_code ec;
  conn->socket().non_blocking(true, ec);
  if (ec) return fail(ErrorCode::Internal, "non-blocking socket: " + ec.message());
  return conn;
}

class TcpTransport final : public Transport {
 public:
  TcpTransport(std::string host, std::uint16_t port) : host_(std::move(host)), port_(port) {}

  Result<std::unique_ptr<Connection>> dial(Deadline deadline) override {
    BERTH_ASSIGN_OR_RETURN(auto conn, dialTcp(host_, port_, deadline));
    return std::unique_ptr<Connection>(std::move(conn));
  }

 private:
  std::string host_;
  std::uint16_t port_;
};

// ---------------------------------------------------------------------------------------------
// TLS.

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string opensslErrors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

BioPtr memBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::vector<X509Ptr> readCertificates(const std::string& pem) {
  std::vector<X509Ptr> certs;
  BioPtr bio = memBio(pem);
  if (!bio) return certs;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(x);
  ERR_clear_error();  // the read that ends the loop leaves "no start line" behind
  return certs;
}

// The engine's own certificate, kept from verification so that a failure can say what it names
// and when it expired (OpenSSL does not keep the peer certificate of a failed TLS 1.3 handshake).
void freeLeaf(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { X509_free(static_cast<X509*>(ptr)); }

int leafIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, freeLeaf);
  return index;
}

int rememberLeaf(int preverifyOk, X509_STORE_CTX* store) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl != nullptr && SSL_get_ex_data(ssl, leafIndex()) == nullptr) {
    if (X509* leaf = X509_STORE_CTX_get0_cert(store); leaf != nullptr && X509_up_ref(leaf) == 1) {
      SSL_set_ex_data(ssl, leafIndex(), leaf);
    }
  }
  return preverifyOk;
}

// The trust half of a client's TLS setup: the CAs it accepts engines from. An SSL_CTX costs
// OpenSSL 3 over 100 KiB, so connections that trust the same CAs share one (berthd talks to every
// host through the same CA with a client certificate per host: one context, not two per host).
Result<std::shared_ptr<SSL_CTX>> makeTrustContext(const std::vector<X509Ptr>& cas) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return fail(ErrorCode::Internal, "SSL_CTX_new: " + opensslErrors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // Idle connections (a pool's, an event stream between events) give their record buffers back:
  // 17 KiB more per connection otherwise, and berthd keeps two or more per host.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
  for (const auto& ca : cas) {
    if (X509_STORE_add_cert(store, ca.get()) != 1) {
      return fail(ErrorCode::InvalidArgument, "a CA certificate: " + opensslErrors());
    }
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, rememberLeaf);
  return std::shared_ptr<SSL_CTX>(ctx.release(), SslCtxFree{});
}

// Objects shared by everyone who asks with the same key for as long as anyone holds one (the map
// keeps none alive).
template <class T>
class SharedByKey {
 public:
  // The object for `key`, made by `make` (a Result<std::shared_ptr<T>>()) when nobody holds one.
  template <class Make>
  Result<std::shared_ptr<T>> get(const std::string& key, Make make) {
    std::lock_guard lock(mu_);
    std::erase_if(objects_, [](const auto& entry) { return entry.second.expired(); });
    if (auto it = objects_.find(key); it != objects_.end()) {
      if (auto shared = it->second.lock()) return shared;
    }
    BERTH_ASSIGN_OR_RETURN(std::shared_ptr<T> made, make());
    objects_[key] = made;
    return made;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::weak_ptr<T>> objects_;  // guarded by mu_
};

Result<std::shared_ptr<SSL_CTX>> sharedTrustContext(const std::string& caPem, const std::vector<X509Ptr>& cas) {
  static SharedByKey<SSL_CTX> contexts;  // by the CAs' PEM
  return contexts.get(caPem, [&] { return makeTrustContext(cas); });
}

// A client certificate (with the chain above it) and its key, kept as the PEM text they came in and
// parsed for each handshake: the connection drops them once the handshake is done (see
// TlsTransport::dial). Parsed, a certificate and an EC key cost OpenSSL 3 about 10 KiB, and berthd
// holds a client identity per host for as long as it runs, while it handshakes only when it opens a
// connection.
struct ClientIdentity {
  ClientIdentity(std::string cert, std::string key) : certPem(std::move(cert)), keyPem(std::move(key)) {}
  ClientIdentity(const ClientIdentity&) = delete;
  ClientIdentity& operator=(const ClientIdentity&) = delete;
  ~ClientIdentity() { OPENSSL_cleanse(keyPem.data(), keyPem.size()); }

  const std::string certPem;
  std::string keyPem;  // wiped when freed
};

struct ParsedIdentity {
  std::vector<X509Ptr> chain;  // leaf first
  PkeyPtr key;
};

struct ClientTls {
  std::shared_ptr<SSL_CTX> ctx;
  std::unique_ptr<const ClientIdentity> identity;  // none: berth presents no client certificate
};

// Unusable TLS material: what is wrong, without the material itself; `origin` says where it came
// from.
Unexpected badMaterial(const std::string& origin, std::string_view what) {
  ERR_clear_error();
  return fail(ErrorCode::InvalidArgument,
              fmt::format("TLS material from {}: {}", origin.empty() ? "memory" : origin, what));
}

// The identity's certificates and key, checked to belong together.
Result<ParsedIdentity> parseIdentity(const std::string& certPem, const std::string& keyPem,
                                     const std::string& origin) {
  const auto bad = [&](std::string_view what) { return badMaterial(origin, what); };
  ParsedIdentity identity;
  identity.chain = readCertificates(certPem);
  if (identity.chain.empty()) return bad("cert.pem holds no PEM certificate");
  BioPtr keyBio = memBio(keyPem);
  identity.key.reset(keyBio ? PEM_read_bio_PrivateKey(keyBio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!identity.key) return bad("key.pem holds no PEM private key");
  if (X509_check_private_key(identity.chain.front().get(), identity.key.get()) != 1) {
    return bad("key.pem does not belong to cert.pem");
  }
  return identity;
}

Result<ClientTls> parseClientTls(const TlsMaterial& tls) {
  auto cas = readCertificates(tls.caPem);
  if (cas.empty()) return badMaterial(tls.origin, "ca.pem holds no PEM certificate");
  ClientTls out;
  BERTH_ASSIGN_OR_RETURN(out.ctx, sharedTrustContext(tls.caPem, cas));
  if (tls.certPem.empty() && tls.keyPem.empty()) return out;  // no client certificate
  // Parsed once here so that bad material is refused when the engine client is made, not at its
  // first connection; each handshake parses it again.
  BERTH_TRY(parseIdentity(tls.certPem, tls.keyPem, tls.origin));
  out.identity = std::make_unique<const ClientIdentity>(tls.certPem, tls.keyPem);
  return out;
}

// The checked material, shared by every transport made from the same PEM texts (berthd makes two
// engine clients per host from one set of files).
Result<std::shared_ptr<const ClientTls>> loadClientTls(const TlsMaterial& tls) {
  static SharedByKey<const ClientTls> loaded;  // by a digest of the material
  // Keyed by a digest, so that no copy of the private key stays in the map.
  pki::Sha256 digest;
  for (const std::string* part : {&tls.caPem, &tls.certPem, &tls.keyPem}) {
    digest.update(*part);
    digest.update(std::string_view("\0", 1));
  }
  return loaded.get(digest.hex(), [&]() -> Result<std::shared_ptr<const ClientTls>> {
    BERTH_ASSIGN_OR_RETURN(ClientTls parsed, parseClientTls(tls));
    return std::make_shared<const ClientTls>(std::move(parsed));
  });
}

// Puts the client certificate on one connection (the shared context carries none). The connection
// holds its own references: `identity` may go once this returns.
Status useIdentity(SSL* ssl, const ParsedIdentity& identity) {
  if (SSL_use_certificate(ssl, identity.chain.front().get()) != 1) {
    return fail(ErrorCode::Internal, "SSL_use_certificate: " + opensslErrors());
  }
  for (std::size_t i = 1; i < identity.chain.size(); ++i) {
    if (SSL_add1_chain_cert(ssl, identity.chain[i].get()) != 1) {
      return fail(ErrorCode::Internal, "SSL_add1_chain_cert: " + opensslErrors());
    }
  }
  if (SSL_use_PrivateKey(ssl, identity.key.get()) != 1) {
    return fail(ErrorCode::Internal, "SSL_use_PrivateKey: " + opensslErrors());
  }
  return ok();
}

std::string asn1Time(const ASN1_TIME* t) {
  if (t == nullptr) return "?";
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || ASN1_TIME_print(bio.get(), t) != 1) return "?";
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

// "DNS:engine-1, IP Address:10.0.0.2" from the subject alternative names.
std::string namesOf(X509* cert) {
  if (cert == nullptr) return "";
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return "no subject alternative names";
  std::string out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    std::string one;
    if (name->type == GEN_DNS) {
      const auto* s = name->d.dNSName;
      one = "DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                 static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (name->type == GEN_IPADD) {
      const auto* s = name->d.iPAddress;
      const unsigned char* d = ASN1_STRING_get0_data(s);
      if (ASN1_STRING_length(s) == 4) {
        asio::ip::address_v4::bytes_type b;
        std::memcpy(b.data(), d, 4);
        one = "IP:" + asio::ip::address_v4(b).to_string();
      } else if (ASN1_STRING_length(s) == 16) {
        asio::ip::address_v6::bytes_type b;
        std::memcpy(b.data(), d, 16);
        one = "IP:" + asio::ip::address_v6(b).to_string();
      }
    }
    if (one.empty()) continue;
    if (!out.empty()) out += ", ";
    out += one;
  }
  GENERAL_NAMES_free(names);
  return out.empty() ? "no DNS or IP names" : out;
}

// Explains a failed certificate verification (the engine's certificate, checked by us).
std::string verifyFailure(long result, SSL* ssl, const std::string& host, const std::string& caOrigin) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer == nullptr) peer = static_cast<X509*>(SSL_get_ex_data(ssl, leafIndex()));
  switch (result) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return fmt::format("the engine's certificate does not name {} (it names {})", host, namesOf(peer));
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return fmt::format("the engine's certificate has expired (valid until {})",
                         peer ? asn1Time(X509_get0_notAfter(peer)) : "?");
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return fmt::format("the engine's certificate is not valid yet (valid from {})",
                         peer ? asn1Time(X509_get0_notBefore(peer)) : "?");
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return fmt::format("the engine's certificate is not signed by the CA berth trusts (ca.pem from {})",
                         caOrigin.empty() ? "memory" : caOrigin);
    default:
      return fmt::format("the engine's certificate was rejected: {}", X509_verify_cert_error_string(result));
  }
}

// Explains an OpenSSL failure with the error queue's last reason (alerts the engine sent, or
// protocol mismatches). `handshake`: during the handshake rather than after it.
Unexpected tlsFailure(unsigned long err, int sslError, int savedErrno, const std::string& address,
                      bool handshake, bool clientCert) {
  const std::string prefix = handshake ? fmt::format("TLS handshake with {} failed: ", address)
                                       : fmt::format("TLS connection to {} failed: ", address);
  if (err == 0) {
    if (sslError == SSL_ERROR_SYSCALL && savedErrno != 0) {
      return fail(ErrorCode::Unavailable, prefix + std::strerror(savedErrno));
    }
    return fail(ErrorCode::Unavailable, prefix + "the engine closed the connection");
  }
  const int reason = ERR_GET_REASON(err);
  const char* text = ERR_reason_error_string(err);
  const std::string alert = text ? text : "unknown";
  switch (reason) {
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
      if (!clientCert) {
        return fail(ErrorCode::PermissionDenied,
                    prefix + fmt::format("the engine requires a client certificate and berth has none "
                                         "(TLS alert: {})",
                                         alert));
      }
      return fail(
          ErrorCode::PermissionDenied,
          prefix + fmt::format("the engine refused berth's client certificate (TLS alert: {})", alert));
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
      return fail(ErrorCode::PermissionDenied,
                  prefix + fmt::format("the engine ended the handshake (TLS alert: {}); it may not accept "
                                       "berth's client certificate",
                                       alert));
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_RECORD_LENGTH_MISMATCH:
      return fail(ErrorCode::Unavailable,
                  prefix + fmt::format("{} does not speak TLS (for an engine on plain TCP, unset "
                                       "DOCKER_TLS_VERIFY)",
                                       address));
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
      return fail(ErrorCode::Unavailable, prefix + "the engine closed the connection");
    default:
      return fail(handshake ? ErrorCode::PermissionDenied : ErrorCode::Unavailable, prefix + alert);
  }
}

class TlsConnection final : public Connection {
 public:
  TlsConnection(std::unique_ptr<TcpConnection> tcp, SslPtr ssl, std::string address, bool clientCert)
      : tcp_(std::move(tcp)),
        ssl_(std::move(ssl)),
        address_(std::move(address)),
        clientCert_(clientCert),
        activityFd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~TlsConnection() override {
    if (activityFd_ >= 0) ::close(activityFd_);
  }

  int fd() { return tcp_->socket().native_handle(); }
  bool valid() const { return activityFd_ >= 0 && waiter_.valid(); }

  // The TLS handshake with certificate and name verification.
  Status handshake(Deadline deadline, const std::string& host, const std::string& caOrigin) {
    while (true) {
      ERR_clear_error();
      const int r = SSL_connect(ssl_.get());
      if (r == 1) return ok();
      const int e = SSL_get_error(ssl_.get(), r);
      const int savedErrno = errno;
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        const Status waited =
            waiter_.wait(fd(), e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, address_);
        if (!waited) {
          if (waited.error().code() == ErrorCode::DeadlineExceeded) {
            return fail(ErrorCode::DeadlineExceeded,
                        fmt::format("timed out in the TLS handshake with {}", address_));
          }
          return waited;
        }
        continue;
      }
      const long verify = SSL_get_verify_result(ssl_.get());
      if (verify != X509_V_OK) {
        ERR_clear_error();
        return fail(ErrorCode::PermissionDenied,
                    fmt::format("TLS handshake with {} failed: {}", address_,
                                verifyFailure(verify, ssl_.get(), host, caOrigin)));
      }
      const unsigned long err = ERR_peek_last_error();
      ERR_clear_error();
      return tlsFailure(err, e, savedErrno, address_, true, clientCert_);
    }
  }

  void forgetIdentity() {
    std::lock_guard lock(mu_);
    SSL_certs_clear(ssl_.get());
  }

  Result<std::size_t> readSome(std::span<char> buffer, Deadline deadline) override {
    BERTH_CHECK(!buffer.empty());
    const int want = static_cast<int>(std::min<std::size_t>(buffer.size(), INT_MAX));
    while (true) {
      if (waiter_.cancelled()) return Waiter::cancelledError();
      drainActivity();
      int n = 0, e = SSL_ERROR_NONE, savedErrno = 0;
      unsigned long err = 0;
      {
        std::lock_guard lock(mu_);
        ERR_clear_error();
        n = SSL_read(ssl_.get(), buffer.data(), want);
        if (n <= 0) {
          e = SSL_get_error(ssl_.get(), n);
          savedErrno = errno;
          err = ERR_peek_last_error();
          ERR_clear_error();
        }
      }
      if (n > 0) return static_cast<std::size_t>(n);
      switch (e) {
        case SSL_ERROR_ZERO_RETURN:
          return std::size_t{0};
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
          BERTH_TRY(waiter_.wait(fd(), e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, address_,
                                 activityFd_));
          continue;
        case SSL_ERROR_SYSCALL:
          if (err == 0 && savedErrno == 0) return std::size_t{0};  // end of stream without close_notify
          return tlsFailure(err, e, savedErrno, address_, false, clientCert_);
        default:
          if (ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING) return std::size_t{0};
          return tlsFailure(err, e, savedErrno, address_, false, clientCert_);
      }
    }
  }

  Status writeAll(std::string_view data, Deadline deadline) override {
    while (!data.empty()) {
      if (waiter_.cancelled()) return Waiter::cancelledError();
      const int chunk = static_cast<int>(std::min<std::size_t>(data.size(), 1 << 20));
      int n = 0, e = SSL_ERROR_NONE, savedErrno = 0;
      unsigned long err = 0;
      {
        std::lock_guard lock(mu_);
        ERR_clear_error();
        n = SSL_write(ssl_.get(), data.data(), chunk);
        if (n <= 0) {
          e = SSL_get_error(ssl_.get(), n);
          savedErrno = errno;
          err = ERR_peek_last_error();
          ERR_clear_error();
        }
      }
      signalActivity();
      if (n > 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        BERTH_TRY(waiter_.wait(fd(), e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, address_));
        continue;
      }
      // With TLS 1.3 the engine checks berth's certificate after the client finished its handshake,
      // so a refusal shows up here as a reset; its alert may already be waiting to be read.
      if (auto alert = pendingAlert()) return fail(std::move(*alert));
      return tlsFailure(err, e, savedErrno, address_, false, clientCert_);
    }
    return ok();
  }

  Status shutdownWrite(Deadline deadline) override {
    // close_notify: the engine reads end-of-stream (Go's tls.Conn.CloseWrite does the same).
    while (true) {
      int r = 0, e = SSL_ERROR_NONE;
      {
        std::lock_guard lock(mu_);
        ERR_clear_error();
        r = SSL_shutdown(ssl_.get());
        if (r < 0) e = SSL_get_error(ssl_.get(), r);
        ERR_clear_error();
      }
      signalActivity();
      if (r >= 0) return ok();
      if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        BERTH_TRY(waiter_.wait(fd(), e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, address_));
        continue;
      }
      return fail(ErrorCode::Unavailable, fmt::format("TLS connection to {} failed to close", address_));
    }
  }

  bool reusable() override {
    if (waiter_.cancelled()) return false;
    std::lock_guard lock(mu_);
    if (SSL_pending(ssl_.get()) > 0) return false;
    pollfd p{fd(), POLLIN, 0};
    if (::poll(&p, 1, 0) == 0) return true;
    // Readable: possibly only a TLS 1.3 session ticket, which is fine; anything else is not.
    char byte;
    ERR_clear_error();
    const int n = SSL_read(ssl_.get(), &byte, 1);
    const int e = n <= 0 ? SSL_get_error(ssl_.get(), n) : SSL_ERROR_NONE;
    ERR_clear_error();
    return n <= 0 && e == SSL_ERROR_WANT_READ;
  }

  void cancel() override { waiter_.cancel(); }

 private:
  // A TLS alert already received, read without blocking.
  std::optional<Error> pendingAlert() {
    char byte;
    std::lock_guard lock(mu_);
    ERR_clear_error();
    const int n = SSL_read(ssl_.get(), &byte, 1);
    if (n > 0) return std::nullopt;
    const int e = SSL_get_error(ssl_.get(), n);
    const unsigned long err = ERR_peek_last_error();
    ERR_clear_error();
    if (e != SSL_ERROR_SSL || err == 0) return std::nullopt;
    return tlsFailure(err, e, 0, address_, false, clientCert_).error;
  }

  void signalActivity() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(activityFd_, &one, sizeof one);
  }
  void drainActivity() {
    std::uint64_t value;
    [[maybe_unused]] const auto n = ::read(activityFd_, &value, sizeof value);
  }

  std::unique_ptr<TcpConnection> tcp_;
  SslPtr ssl_;
  std::string address_;
  bool clientCert_;  // whether berth presents a client certificate (for messages)
  Waiter waiter_;
  std::mutex mu_;   // guards ssl_ calls; waiting happens outside it
  int activityFd_;  // written after every SSL call of a writer, so that a waiting reader retries
};

bool isIpLiteral(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

class TlsTransport final : public Transport {
 public:
  TlsTransport(std::string host, std::uint16_t port, std::shared_ptr<const ClientTls> tls, std::string caOrigin)
      : host_(std::move(host)), port_(port), tls_(std::move(tls)), caOrigin_(std::move(caOrigin)) {}

  Result<std::unique_ptr<Connection>> dial(Deadline deadline) override {
    BERTH_ASSIGN_OR_RETURN(auto tcp, dialTcp(host_, port_, deadline));
    SslPtr ssl(SSL_new(tls_->ctx.get()));
    if (!ssl) return fail(ErrorCode::Internal, "SSL_new: " + opensslErrors());
    if (tls_->identity) {
      BERTH_ASSIGN_OR_RETURN(ParsedIdentity identity,
                             parseIdentity(tls_->identity->certPem, tls_->identity->keyPem, caOrigin_));
      BERTH_TRY(useIdentity(ssl.get(), identity));
    }
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (isIpLiteral(host_)) {
      if (X509_VERIFY_PARAM_set1_ip_asc(param, host_.c_str()) != 1) {
        return fail(ErrorCode::Internal, "X509_VERIFY_PARAM_set1_ip_asc: " + opensslErrors());
      }
    } else {
      if (X509_VERIFY_PARAM_set1_host(param, host_.c_str(), 0) != 1 ||
          SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                   const_cast<char*>(host_.c_str())) != 1) {
        return fail(ErrorCode::Internal, "TLS server name: " + opensslErrors());
      }
    }
    if (SSL_set_fd(ssl.get(), tcp->socket().native_handle()) != 1) {
      return fail(ErrorCode::Internal, "SSL_set_fd: " + opensslErrors());
    }
    const std::string address = hostPort(host_, port_);
    auto conn = std::make_unique<TlsConnection>(std::move(tcp), std::move(ssl), address, tls_->identity != nullptr);
    if (!conn->valid()) return fail(ErrorCode::Internal, "eventfd: " + std::string(std::strerror(errno)));
    BERTH_TRY(conn->handshake(deadline, host_, caOrigin_));
    // The client certificate has been presented: the connection lets go of it and its key (the
    // engine never asks again: dockerd neither renegotiates nor requests post-handshake
    // authentication, which berth does not offer).
    conn->forgetIdentity();
    return std::unique_ptr<Connection>(std::move(conn));
  }

 private:
  std::string host_;
  std::uint16_t port_;
  std::shared_ptr<const ClientTls> tls_;
  std::string caOrigin_;
};

}  // namespace

Result<std::unique_ptr<Transport>> makeUnixTransport(const Endpoint& endpoint) {
  return std::unique_ptr<Transport>(std::make_unique<UnixTransport>(endpoint.socketPath));
}

Result<std::unique_ptr<Transport>> makeTcpTransport(const Endpoint& endpoint) {
  if (!endpoint.tls) {
    return std::unique_ptr<Transport>(std::make_unique<TcpTransport>(endpoint.host, endpoint.port));
  }
  BERTH_ASSIGN_OR_RETURN(auto tls, loadClientTls(*endpoint.tls));
  return std::unique_ptr<Transport>(
      std::make_unique<TlsTransport>(endpoint.host, endpoint.port, std::move(tls), endpoint.tls->origin));
}

Result<std::unique_ptr<Connection>> adoptStreamSocket(int fd, std::string address) {
  auto conn = std::make_unique<UnixConnection>(std::move(address));
  if (!conn->valid()) {
    ::close(fd);
    return fail(ErrorCode::Internal, "eventfd: " + std::string(std::strerror(errno)));
  }
  error_code ec;
  conn->socket().assign(asio::local::stream_protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    return fail(ErrorCode::Internal, "socket: " + ec.message());
  }
  conn->socket().non_blocking(true, ec);
  if (ec) return fail(ErrorCode::Internal, "non-blocking socket: " + ec.message());
  return std::unique_ptr<Connection>(std::move(conn));
}

}  // namespace berth::engine::transport

namespace berth::engine {

void releaseThreadTlsState() { OPENSSL_thread_stop(); }

}  // namespace berth::engine
