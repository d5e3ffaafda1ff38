#include "gateway/gateway.h"

#include <arpa/inet.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <list>
#include <mutex>
#include <thread>

#include "base/files.h"
#include "base/log.h"
#include "gateway/connection.h"
#include "gateway/login.h"
#include "trust/trust_store.h"

namespace berth::gateway {

namespace fs = std::filesystem;

namespace {

struct KeyFree {
  void operator()(ssh_key_struct* key) const { ssh_key_free(key); }
};
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyFree>;

// Loads the host key, or generates one the first time. A key others can read is refused, as sshd
// refuses it: whoever reads it can impersonate the gateway.
Result<KeyPtr> hostKey(const fs::path& file, bool& generated) {
  std::error_code ec;
  generated = false;
  if (!fs::exists(file, ec)) {
    if (file.has_parent_path() && !fs::exists(file.parent_path(), ec)) {
      BERTH_TRY(ensurePrivateDir(file.parent_path()));
    }
    ssh_key key = nullptr;
    if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) {
      return fail(ErrorCode::Internal, "cannot generate an ed25519 host key");
    }
    KeyPtr owned(key);
    const fs::path partial = file.string() + ".partial";
    const mode_t old = ::umask(077);
    const int rc = ssh_pki_export_privkey_file(key, nullptr, nullptr, nullptr, partial.c_str());
    ::umask(old);
    if (rc != SSH_OK) return fail(ErrorCode::Unavailable, "cannot write the host key to " + partial.string());
    fs::permissions(partial, fs::perms::owner_read | fs::perms::owner_write, ec);
    fs::rename(partial, file, ec);
    if (ec) return fail(ErrorCode::Unavailable, "cannot write the host key to " + file.string() + ": " + ec.message());
    generated = true;
    return owned;
  }
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    return fail(ErrorCode::Unavailable, "host key " + file.string() + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0) {
    return fail(ErrorCode::PermissionDenied,
                fmt::format("host key {} is readable by others (mode {:04o}); chmod 600 it", file.string(),
                            st.st_mode & 07777));
  }
  ssh_key key = nullptr;
  if (ssh_pki_import_privkey_file(file.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK) {
    return fail(ErrorCode::InvalidArgument, "host key " + file.string() + " is not an unencrypted OpenSSH private key");
  }
  return KeyPtr(key);
}

std::string peerOf(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "?";
  char host[NI_MAXHOST];
  char port[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "?";
  }
  return addr.ss_family == AF_INET6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

Result<int> listenSocket(const std::string& address, std::uint16_t port) {
  const std::string where = (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" +
                            std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    return fail(ErrorCode::InvalidArgument, "listen on " + where + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, freeaddrinfo);
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(ErrorCode::Unavailable, "listen on " + where + ": " + std::strerror(errno));
  const int one = 1;
  (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, found->ai_addr, found->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
    const int e = errno;
    ::close(fd);
    return fail(ErrorCode::Unavailable, "listen on " + where + ": " + std::strerror(e));
  }
  return fd;
}

}  // namespace

struct Gateway::State {
  engine::Engine* engine = nullptr;
  GatewayOptions options;
  int listenFd = -1;
  std::uint16_t port = 0;
  ssh_bind bind = nullptr;
  std::string fingerprint;
  std::string publicKey;
  bool generated = false;

  ~State() {
    if (bind != nullptr) ssh_bind_free(bind);
    if (listenFd >= 0) ::close(listenFd);
  }
};

Gateway::Gateway(std::unique_ptr<State> state) : state_(std::move(state)) {}
Gateway::~Gateway() = default;

Result<std::unique_ptr<Gateway>> Gateway::listen(engine::Engine& engine, const GatewayOptions& options) {
  auto state = std::make_unique<State>();
  state->engine = &engine;
  state->options = options;
  BERTH_ASSIGN_OR_RETURN(KeyPtr key, hostKey(options.hostKeyFile, state->generated));
  state->fingerprint = fingerprintOf(key.get());
  state->publicKey = trust::publicKeyLine(key.get());
  BERTH_ASSIGN_OR_RETURN(state->listenFd, listenSocket(options.address, options.port));
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(state->listenFd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    state->port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                                   : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  }
  state->bind = ssh_bind_new();
  if (state->bind == nullptr) return fail(ErrorCode::Internal, "libssh: cannot make a server");
  // The bind owns the key from here on.
  if (ssh_bind_options_set(state->bind, SSH_BIND_OPTIONS_IMPORT_KEY, key.get()) != SSH_OK) {
    return fail(ErrorCode::Internal, std::string("libssh: host key: ") + ssh_get_error(state->bind));
  }
  (void)key.release();
  return std::unique_ptr<Gateway>(new Gateway(std::move(state)));
}

std::uint16_t Gateway::port() const { return state_->port; }
const std::string& Gateway::hostKeyFingerprint() const { return state_->fingerprint; }
const std::string& Gateway::hostPublicKey() const { return state_->publicKey; }
bool Gateway::generatedHostKey() const { return state_->generated; }

Status Gateway::serve(std::stop_token stop) {
  struct Running {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::list<Running> running;
  std::atomic<bool> stopping{false};
  int nextId = 0;
  const auto reap = [&running] {
    running.remove_if([](Running& r) {
      if (!r.done.load()) return false;
      r.thread.join();
      return true;
    });
  };
  while (!stop.stop_requested()) {
    reap();
    pollfd p{state_->listenFd, POLLIN, 0};
    const int ready = ::poll(&p, 1, 200);
    if (ready < 0 && errno != EINTR) return fail(ErrorCode::Unavailable, std::string("poll: ") + std::strerror(errno));
    if (ready <= 0) continue;
    const int fd = ::accept4(state_->listenFd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    const std::string peer = peerOf(fd);
    if (static_cast<int>(running.size()) >= state_->options.maxConnections) {
      log::warn("refused connection from {}: {} connections are open already", peer, running.size());
      ::close(fd);
      continue;
    }
    ssh_session session = ssh_new();
    if (session == nullptr) {
      ::close(fd);
      continue;
    }
    // The key exchange and everything after it happen on the connection's thread.
    if (ssh_bind_accept_fd(state_->bind, session, fd) != SSH_OK) {
      log::info("refused connection from {}: {}", peer, ssh_get_error(state_->bind));
      const bool owned = ssh_get_fd(session) == fd;  // else libssh failed before taking the socket
      ssh_free(session);
      if (!owned) ::close(fd);
      continue;
    }
    internal::ConnectionSettings settings;
    settings.id = ++nextId;
    settings.peer = peer;
    settings.loginGraceTime = state_->options.loginGraceTime;
    Running& r = running.emplace_back();
    r.thread = std::thread([this, session, settings, &stopping, &r] {
      internal::serveConnection(*state_->engine, session, settings, stopping);
      r.done.store(true);
    });
  }
  stopping.store(true);
  for (Running& r : running) r.thread.join();
  return ok();
}

}  // namespace berth::gateway
