#include "pki/peer_certificate.h"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pki/openssl_util.h"

namespace berth::pki {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Result<int> connectWithTimeout(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
                               const std::string& where) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list);
  if (rc != 0) return fail(ErrorCode::Unavailable, "cannot resolve " + host + ": " + ::gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(list, &::freeaddrinfo);
  std::string lastError = "no address";
  for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
    Fd s{::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol)};
    if (s.fd < 0) continue;
    if (::connect(s.fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      lastError = std::strerror(errno);
      continue;
    }
    pollfd p{s.fd, POLLOUT, 0};
    const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n == 0) return fail(ErrorCode::DeadlineExceeded, "timed out connecting to " + where);
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (n < 0 || err != 0) {
      lastError = std::strerror(n < 0 ? errno : err);
      continue;
    }
    // Blocking from here on, bounded by socket timeouts.
    ::fcntl(s.fd, F_SETFL, ::fcntl(s.fd, F_GETFL) & ~O_NONBLOCK);
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return std::exchange(s.fd, -1);
  }
  return fail(ErrorCode::Unavailable, "cannot connect to " + where + ": " + lastError);
}

}  // namespace

Result<Certificate> fetchPeerCertificate(const std::string& host, std::uint16_t port,
                                         const std::string& clientCertPem, const std::string& clientKeyPem,
                                         std::chrono::milliseconds timeout) {
  const std::string where =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  BERTH_ASSIGN_OR_RETURN(int fd, connectWithTimeout(host, port, timeout, where));
  Fd socket{fd};
  std::unique_ptr<SSL_CTX, detail::Deleter<SSL_CTX_free>> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return fail(ErrorCode::Internal, detail::opensslError("SSL_CTX_new"));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // fetching, not trusting
  if (!clientCertPem.empty() && !clientKeyPem.empty()) {
    BERTH_ASSIGN_OR_RETURN(Certificate cert, Certificate::fromPem(clientCertPem));
    BERTH_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::fromPem(clientKeyPem));
    if (SSL_CTX_use_certificate(ctx.get(), cert.native()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx.get(), key.native()) != 1) {
      return fail(ErrorCode::InvalidArgument, detail::opensslError("client certificate"));
    }
  }
  std::unique_ptr<SSL, detail::Deleter<SSL_free>> ssl(SSL_new(ctx.get()));
  if (!ssl || SSL_set_fd(ssl.get(), socket.fd) != 1)
    return fail(ErrorCode::Internal, detail::opensslError("SSL_new"));
  const int rc = SSL_connect(ssl.get());
  // The server's certificate arrives before it judges ours, so it is there even if it refused us.
  X509* peer = SSL_get1_peer_certificate(ssl.get());
  if (peer == nullptr) {
    const std::string why = rc == 1 ? "sent no certificate" : detail::opensslError("TLS handshake failed");
    ERR_clear_error();
    return fail(ErrorCode::PermissionDenied, "TLS server " + where + ": " + why);
  }
  ERR_clear_error();
  if (rc == 1) SSL_shutdown(ssl.get());
  return Certificate::adopt(peer);
}

}  // namespace berth::pki
