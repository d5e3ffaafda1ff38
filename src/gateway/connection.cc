#include "gateway/connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "base/files.h"
#include "base/log.h"
#include "base/strings.h"
#include "gateway/login.h"
#include "trust/delivery.h"

namespace berth::gateway::internal {
namespace {

using Clock = std::chrono::steady_clock;

// Exec output waiting for the client's SSH window; the engine reader waits beyond this.
constexpr std::size_t kMaxQueuedOutput = 1 << 20;
constexpr std::size_t kForwardChunk = 32 * 1024;
// Failed key offers before the connection is dropped (OpenSSH's MaxAuthTries is 6).
constexpr int kMaxAuthAttempts = 10;
constexpr auto kForwardConnectTimeout = std::chrono::seconds(5);
// How long a finished session waits for the client to close its side.
constexpr auto kCloseGrace = std::chrono::seconds(10);

// Exec output, handed from the thread that reads it off the engine to the connection's thread. The
// reader blocks while too much is queued, so a slow client slows the process down instead of
// filling memory.
class OutputQueue {
 public:
  OutputQueue() : wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~OutputQueue() {
    if (wake_ >= 0) ::close(wake_);
  }
  OutputQueue(const OutputQueue&) = delete;
  OutputQueue& operator=(const OutputQueue&) = delete;

  int wakeFd() const { return wake_; }

  // false once close() was called: the reader stops.
  bool push(engine::OutputChunk chunk) {
    std::unique_lock lock(mu_);
    roomCv_.wait(lock, [&] { return closed_ || bytes_ < kMaxQueuedOutput; });
    if (closed_) return false;
    bytes_ += chunk.data.size();
    chunks_.push_back(std::move(chunk));
    lock.unlock();
    wake();
    return true;
  }

  void finish(std::optional<Error> error) {
    {
      std::lock_guard lock(mu_);
      finished_ = true;
      error_ = std::move(error);
    }
    wake();
  }

  std::optional<engine::OutputChunk> pop() {
    std::lock_guard lock(mu_);
    if (chunks_.empty()) return std::nullopt;
    engine::OutputChunk c = std::move(chunks_.front());
    chunks_.pop_front();
    bytes_ -= c.data.size();
    roomCv_.notify_all();
    return c;
  }

  // Everything was read off the engine and popped.
  bool drained() const {
    std::lock_guard lock(mu_);
    return finished_ && chunks_.empty();
  }
  std::optional<Error> error() const {
    std::lock_guard lock(mu_);
    return error_;
  }

  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    roomCv_.notify_all();
  }

  // Reads the eventfd empty (called on the connection's thread when it fires).
  void clearWake() const {
    eventfd_t value = 0;
    (void)eventfd_read(wake_, &value);
  }

 private:
  void wake() const { (void)eventfd_write(wake_, 1); }

  const int wake_;
  mutable std::mutex mu_;
  std::condition_variable roomCv_;
  std::deque<engine::OutputChunk> chunks_;
  std::size_t bytes_ = 0;
  bool finished_ = false;
  bool closed_ = false;
  std::optional<Error> error_;
};

// Connects to ADDRESS:PORT within the timeout; the socket (blocking again) or the reason.
Result<int> connectTcp(const std::string& address, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    return fail(ErrorCode::InvalidArgument, std::string(gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, freeaddrinfo);
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return fail(ErrorCode::Unavailable, std::string(strerror(errno)));
  if (::connect(fd, found->ai_addr, found->ai_addrlen) != 0 && errno != EINPROGRESS) {
    const int e = errno;
    ::close(fd);
    return fail(ErrorCode::Unavailable, std::string(strerror(e)));
  }
  pollfd p{fd, POLLOUT, 0};
  const int ready =
      ::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kForwardConnectTimeout).count()));
  int err = 0;
  socklen_t len = sizeof err;
  if (ready <= 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    ::close(fd);
    return fail(ErrorCode::Unavailable, ready <= 0 ? "timed out" : std::string(strerror(err)));
  }
  const int flags = ::fcntl(fd, F_GETFL);
  (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

bool isLoopbackName(const std::string& host) {
  return host == "localhost" || host == "127.0.0.1" || host == "::1" || host == "ip6-localhost";
}

class Connection;

// One `ssh -L` channel: bytes between the client's channel and a TCP connection to the container.
struct Forward {
  Connection* connection = nullptr;
  ssh_channel channel = nullptr;
  int fd = -1;
  std::string destination;  // "ADDRESS:PORT", for the log
  bool registered = false;  // fd is in the event's poll set
  bool readable = false;    // poll said so; cleared when recv would block
  bool socketEof = false;
  bool clientEof = false;
  bool closed = false;
  ssh_channel_callbacks_struct callbacks{};
};

class Connection {
 public:
  Connection(engine::Engine& engine, ssh_session session, const ConnectionSettings& settings,
             const std::atomic<bool>& stopping)
      : engine_(engine), session_(session), settings_(settings), stopping_(stopping) {}

  ~Connection() {
    stopExec();
    closeAgentSocket();
    for (auto& f : forwards_) closeForward(*f);
    if (event_ != nullptr) {
      ssh_event_remove_fd(event_, output_.wakeFd());
      ssh_event_remove_session(event_, session_);
      ssh_event_free(event_);
    }
    ssh_blocking_flush(session_, 5000);
    ssh_disconnect(session_);
    ssh_free(session_);
  }

  void run() {
    log::info("connection {} from {}", settings_.id, settings_.peer);
    ssh_set_auth_methods(session_, SSH_AUTH_METHOD_PUBLICKEY);
    server_.userdata = this;
    server_.auth_pubkey_function = &Connection::onAuthPubkey;
    server_.channel_open_request_session_function = &Connection::onSessionChannel;
    ssh_callbacks_init(&server_);
    ssh_set_server_callbacks(session_, &server_);
    // Everything the callbacks do not handle (passwords, remote forwarding, agent and X11
    // requests...) reaches this one, which refuses it; without it libssh would queue such requests
    // unanswered and the client would wait forever.
    ssh_set_message_callback(session_, &Connection::onMessage, this);
    if (ssh_handle_key_exchange(session_) != SSH_OK) {
      log::info("connection {}: key exchange failed: {}", settings_.id, ssh_get_error(session_));
      return;
    }
    event_ = ssh_event_new();
    if (event_ == nullptr || ssh_event_add_session(event_, session_) != SSH_OK ||
        ssh_event_add_fd(event_, output_.wakeFd(), POLLIN, &Connection::onWake, this) != SSH_OK) {
      log::error("connection {}: cannot poll the session", settings_.id);
      return;
    }
    const auto loginDeadline = Clock::now() + settings_.loginGraceTime;
    while (true) {
      if (stopping_.load()) {
        endSession("the gateway is stopping");
        break;
      }
      if (!authenticated_ && (Clock::now() > loginDeadline || authAttempts_ > kMaxAuthAttempts)) {
        log::info("connection {}: no successful login{}; disconnecting", settings_.id,
                  authAttempts_ > kMaxAuthAttempts ? " after too many keys" : " in time");
        break;
      }
      const bool busy = waitingOutput() || !forwards_.empty();
      if (ssh_event_dopoll(event_, busy ? 20 : 250) == SSH_ERROR) break;
      if (ssh_is_connected(session_) == 0) break;
      pumpExec();
      pumpAgent();
      pumpForwards();
      // Done once the client closed its side of the session too (or failed to within a while):
      // leaving earlier could cut off output libssh still holds for the socket.
      if (sessionDone_ && forwards_.empty() && (clientClosed_ || Clock::now() > doneAt_ + kCloseGrace)) break;
    }
    if (started_ && !sessionDone_) endSession("the client left");
    log::info("connection {} closed", settings_.id);
  }

 private:
  // ---- authentication -------------------------------------------------------------------------

  static int onAuthPubkey(ssh_session, const char* user, ssh_key_struct* key, char state, void* self) {
    return static_cast<Connection*>(self)->authPubkey(user, key, state);
  }

  int authPubkey(const char* user, ssh_key_struct* key, char state) {
    const std::string login = user == nullptr ? "" : user;
    const std::string fingerprint = fingerprintOf(key);
    if (++authAttempts_ > kMaxAuthAttempts) return SSH_AUTH_DENIED;
    const LoginTarget* target = targetFor(login);
    std::optional<std::string> comment;
    if (target != nullptr) comment = keys_->match(key);
    if (!comment) {
      // One line per key and login, not one per probe and signature.
      if (refusedLogged_.insert(login + " " + fingerprint).second) {
        log::info("connection {}: refused key {} for {}: {}", settings_.id, fingerprint, berth::quoted(login),
                  target == nullptr ? lookupFailure_ : "the key is not in its x-berth-ssh authorized_keys");
      }
      return SSH_AUTH_DENIED;
    }
    // A key offered without a signature asks "would this key do?"; the answer is yes.
    if (state == SSH_PUBLICKEY_STATE_NONE) return SSH_AUTH_SUCCESS;
    if (state != SSH_PUBLICKEY_STATE_VALID) return SSH_AUTH_DENIED;
    authenticated_ = true;
    fingerprint_ = fingerprint;
    keyComment_ = *comment;
    log::info("connection {}: {} ({}) logged in to {} as {}", settings_.id, fingerprint_,
              keyComment_.empty() ? "no comment" : keyComment_, target_->name, userInContainer());
    return SSH_AUTH_SUCCESS;
  }

  // The container a login names, looked up once per login name per connection (the client may try
  // several keys for it).
  const LoginTarget* targetFor(const std::string& login) {
    if (target_ && lookedUp_ == login) return &*target_;
    if (lookedUp_ == login) return nullptr;
    lookedUp_ = login;
    target_.reset();
    keys_.reset();
    auto name = parseLoginName(login);
    if (!name) {
      lookupFailure_ = name.error().message();
      return nullptr;
    }
    auto target = findLoginTarget(engine_, *name);
    if (!target) {
      lookupFailure_ = target.error().code() == ErrorCode::NotFound
                           ? "no container by that name has x-berth-ssh access"
                           : target.error().message();
      return nullptr;
    }
    target_ = std::move(*target);
    keys_.emplace(target_->access.authorizedKeys);
    return &*target_;
  }

  std::string userInContainer() const {
    return target_ && !target_->access.user.empty() ? target_->access.user : "root";
  }

  // ---- requests nothing else handles ----------------------------------------------------------

  static int onMessage(ssh_session, ssh_message message, void* self) {
    return static_cast<Connection*>(self)->handleMessage(message);
  }

  // 0: handled (answered here); 1: libssh answers with its default refusal.
  int handleMessage(ssh_message message) {
    const int type = ssh_message_type(message);
    const int subtype = ssh_message_subtype(message);
    if (type == SSH_REQUEST_CHANNEL_OPEN && subtype == SSH_CHANNEL_DIRECT_TCPIP) {
      return openForward(message) ? 0 : 1;
    }
    if (!authenticated_) return 1;
    if (type == SSH_REQUEST_GLOBAL && subtype == SSH_GLOBAL_REQUEST_TCPIP_FORWARD) {
      log::info("connection {}: refused remote forwarding (ssh -R): the gateway never listens for a container",
                settings_.id);
    } else if (type == SSH_REQUEST_CHANNEL && subtype == SSH_CHANNEL_REQUEST_UNKNOWN) {
      log::info("connection {}: refused a channel request the gateway does not serve", settings_.id);
    } else if (type == SSH_REQUEST_CHANNEL && subtype == SSH_CHANNEL_REQUEST_X11) {
      log::info("connection {}: refused X11 forwarding", settings_.id);
    } else if (type == SSH_REQUEST_CHANNEL_OPEN) {
      log::info("connection {}: refused a channel of a kind the gateway does not serve", settings_.id);
    }
    return 1;
  }

  // ---- the session channel --------------------------------------------------------------------

  static ssh_channel onSessionChannel(ssh_session, void* self) {
    return static_cast<Connection*>(self)->openSession();
  }

  ssh_channel openSession() {
    // One session per connection: the container's process is the session.
    if (!authenticated_ || channel_ != nullptr) return nullptr;
    channel_ = ssh_channel_new(session_);
    if (channel_ == nullptr) return nullptr;
    channelCb_.userdata = this;
    channelCb_.channel_pty_request_function = &Connection::onPty;
    channelCb_.channel_shell_request_function = &Connection::onShell;
    channelCb_.channel_exec_request_function = &Connection::onExec;
    channelCb_.channel_pty_window_change_function = &Connection::onWindowChange;
    channelCb_.channel_data_function = &Connection::onData;
    channelCb_.channel_eof_function = &Connection::onEof;
    channelCb_.channel_close_function = &Connection::onClose;
    channelCb_.channel_env_request_function = &Connection::onEnv;
    channelCb_.channel_subsystem_request_function = &Connection::onSubsystem;
    channelCb_.channel_auth_agent_req_function = &Connection::onAgentRequest;
    ssh_callbacks_init(&channelCb_);
    ssh_set_channel_callbacks(channel_, &channelCb_);
    return channel_;
  }

  static int onPty(ssh_session, ssh_channel, const char* term, int width, int height, int, int, void* self) {
    auto* c = static_cast<Connection*>(self);
    if (c->started_) return SSH_ERROR;
    c->pty_ = true;
    c->term_ = term == nullptr ? "" : term;
    c->columns_ = width;
    c->rows_ = height;
    return SSH_OK;
  }

  static int onShell(ssh_session, ssh_channel, void* self) {
    return static_cast<Connection*>(self)->startExec(std::nullopt);
  }

  static int onExec(ssh_session, ssh_channel, const char* command, void* self) {
    return static_cast<Connection*>(self)->startExec(std::string(command == nullptr ? "" : command));
  }

  static int onWindowChange(ssh_session, ssh_channel, int width, int height, int, int, void* self) {
    auto* c = static_cast<Connection*>(self);
    c->columns_ = width;
    c->rows_ = height;
    if (!c->execId_.empty() && c->pty_) (void)c->engine_.resizeExecTty(c->execId_, height, width);
    return SSH_OK;
  }

  static int onData(ssh_session, ssh_channel, void* data, uint32_t length, int, void* self) {
    auto* c = static_cast<Connection*>(self);
    if (c->stream_ != nullptr && !c->stdinBroken_) {
      Status s = c->stream_->writeStdin(std::string_view(static_cast<const char*>(data), length));
      if (!s) {
        c->stdinBroken_ = true;
        log::debug("connection {}: stdin: {}", c->settings_.id, s.error().message());
      }
    }
    return static_cast<int>(length);
  }

  static void onEof(ssh_session, ssh_channel, void* self) {
    auto* c = static_cast<Connection*>(self);
    if (c->stream_ != nullptr) (void)c->stream_->closeStdin();
  }

  static void onClose(ssh_session, ssh_channel, void* self) {
    auto* c = static_cast<Connection*>(self);
    c->clientClosed_ = true;
    if (!c->started_) c->markDone();
  }

  // Environment variables from the client are not passed in (they would let a client choose
  // LD_PRELOAD and the like inside the container).
  static int onEnv(ssh_session, ssh_channel, const char*, const char*, void*) { return SSH_ERROR; }
  static int onSubsystem(ssh_session, ssh_channel, const char* name, void* self) {
    auto* c = static_cast<Connection*>(self);
    log::info("connection {}: refused subsystem {}", c->settings_.id, berth::quoted(name == nullptr ? "" : name));
    return SSH_ERROR;
  }

  // `ssh -A` (OpenSSH asks without wanting a reply): served only when the service allows
  // forwarding; otherwise nothing is set up and the session has no SSH_AUTH_SOCK.
  static void onAgentRequest(ssh_session, ssh_channel, void* self) {
    auto* c = static_cast<Connection*>(self);
    if (c->target_ && c->target_->access.allowForwarding) {
      c->agentRequested_ = true;
    } else {
      log::info("connection {}: refused agent forwarding: {} does not allow it (x-berth-ssh allow_forwarding)",
                c->settings_.id, c->target_ ? c->target_->name : std::string("the container"));
    }
  }

  // A forwarded agent is a unix socket inside the container that the gateway listens on, reached
  // through /proc/PID/root of the container's main process: no process runs in the container or on
  // the host for it, but the gateway must run on the engine's own host (and see its processes).
  // Each connection to it becomes an auth-agent channel to the client. Returns the socket's path
  // inside the container.
  Result<std::string> openAgentSocket(const std::string& user) {
    BERTH_ASSIGN_OR_RETURN(engine::ContainerInspect inspect, engine_.inspectContainer(target_->id));
    if (inspect.state.pid <= 0) return fail(ErrorCode::Unavailable, "the container is not running");
    const std::string root = "/proc/" + std::to_string(inspect.state.pid) + "/root";
    if (::access((root + "/tmp").c_str(), W_OK) != 0) {
      return fail(ErrorCode::Unavailable, "it needs the gateway on the engine's own host (cannot reach " + root +
                                              "/tmp: " + std::strerror(errno) + ")");
    }
    unsigned uid = 0;
    unsigned gid = 0;
    const std::string name = user.substr(0, user.find(':'));
    if (!name.empty() && name != "root") {
      auto passwd = readFile(root + "/etc/passwd");
      const auto accounts = trust::parsePasswd(passwd ? *passwd : "");
      const trust::Account* account = trust::findAccount(accounts, name);
      if (account == nullptr) {
        return fail(ErrorCode::NotFound, "user " + berth::quoted(name) + " is not in the container's /etc/passwd");
      }
      uid = account->uid;
      gid = account->gid;
    }
    std::random_device random;
    const std::string inside = fmt::format("/tmp/berth-agent-{:08x}", random());
    const std::string dir = root + inside;
    if (::mkdir(dir.c_str(), 0700) != 0 || ::chown(dir.c_str(), uid, gid) != 0) {
      return fail(ErrorCode::Unavailable, "cannot make " + inside + " in the container: " + std::strerror(errno));
    }
    agentDir_ = dir;
    const std::string path = dir + "/agent";
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return fail(ErrorCode::Unavailable, "the socket's path is too long");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return fail(ErrorCode::Unavailable, std::string("socket: ") + std::strerror(errno));
    agentListen_ = fd;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 8) != 0 ||
        ::chown(path.c_str(), uid, gid) != 0 || ::chmod(path.c_str(), 0600) != 0) {
      return fail(ErrorCode::Unavailable, "cannot listen on " + inside + "/agent: " + std::strerror(errno));
    }
    if (ssh_event_add_fd(event_, fd, POLLIN, &Connection::onAgentConnection, this) != SSH_OK) {
      return fail(ErrorCode::Internal, "cannot poll the agent socket");
    }
    agentRegistered_ = true;
    return inside + "/agent";
  }

  static int onAgentConnection(socket_t, int, void* self) {
    static_cast<Connection*>(self)->agentPending_ = true;
    return 0;
  }

  // Each process in the container that connects to the agent socket gets a channel to the client's
  // agent, relayed like a forwarding.
  void pumpAgent() {
    if (!agentPending_ || agentListen_ < 0) return;
    agentPending_ = false;
    while (true) {
      const int fd = ::accept4(agentListen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      ssh_channel channel = ssh_channel_new(session_);
      if (channel == nullptr || ssh_channel_open_auth_agent(channel) != SSH_OK) {
        log::info("connection {}: the client refused an agent channel", settings_.id);
        if (channel != nullptr) ssh_channel_free(channel);
        ::close(fd);
        continue;
      }
      log::info("connection {}: agent connection from {}", settings_.id, target_->name);
      relay(channel, fd, "the forwarded agent");
    }
  }

  void closeAgentSocket() {
    if (agentRegistered_) ssh_event_remove_fd(event_, agentListen_);
    agentRegistered_ = false;
    if (agentListen_ >= 0) ::close(agentListen_);
    agentListen_ = -1;
    if (!agentDir_.empty()) {
      ::unlink((agentDir_ + "/agent").c_str());
      ::rmdir(agentDir_.c_str());
      agentDir_.clear();
    }
  }

  int startExec(std::optional<std::string> command) {
    if (started_ || !target_) return SSH_ERROR;
    started_ = true;
    startedAt_ = Clock::now();
    engine::ExecCreate spec;
    spec.cmd = command ? std::vector<std::string>{"/bin/sh", "-c", *command} : std::vector<std::string>{"/bin/sh"};
    spec.user = userInContainer();
    spec.tty = pty_;
    if (pty_ && !term_.empty()) spec.env.push_back("TERM=" + term_);
    spec.attachStdin = true;
    spec.attachStdout = true;
    spec.attachStderr = true;
    if (agentRequested_) {
      auto agent = openAgentSocket(spec.user);
      if (agent) {
        spec.env.push_back("SSH_AUTH_SOCK=" + *agent);
      } else {
        closeAgentSocket();
        log::info("session {}: no agent forwarding: {}", settings_.id, agent.error().message());
        const std::string text = "berth gateway: agent forwarding unavailable: " + agent.error().message() + "\n";
        ssh_channel_write_stderr(channel_, text.data(), static_cast<uint32_t>(text.size()));
      }
    }
    const std::string what = command ? "command " + berth::quoted(*command) : std::string("shell");
    log::info("session {}: {} ({}) on {} as {}: {}{}", settings_.id, fingerprint_,
              keyComment_.empty() ? "no comment" : keyComment_, target_->name, spec.user, what,
              pty_ ? fmt::format(" with a PTY ({} {}x{})", term_, columns_, rows_) : std::string());
    auto id = engine_.createExec(target_->id, spec);
    if (!id) return failSession(id.error());
    execId_ = *id;
    auto stream = engine_.startExecAttached(execId_, spec.tty);
    if (!stream) return failSession(stream.error());
    stream_ = std::move(*stream);
    if (pty_ && rows_ > 0 && columns_ > 0) (void)engine_.resizeExecTty(execId_, rows_, columns_);
    reader_ = std::thread([this] {
      while (true) {
        auto chunk = stream_->readOutput();
        if (!chunk) {
          output_.finish(chunk.error());
          return;
        }
        if (!*chunk) {
          output_.finish(std::nullopt);
          return;
        }
        if (!output_.push(std::move(**chunk))) return;
      }
    });
    return SSH_OK;
  }

  // The request is answered (the client sees why on stderr and exit status 1); the session ends.
  int failSession(const Error& error) {
    log::info("session {}: cannot start in {}: {}", settings_.id, target_->name, error.message());
    const std::string text = "berth gateway: " + error.message() + "\n";
    ssh_channel_write_stderr(channel_, text.data(), static_cast<uint32_t>(text.size()));
    finishChannel(1);
    return SSH_OK;
  }

  static int onWake(socket_t, int, void* self) {
    static_cast<Connection*>(self)->output_.clearWake();
    return 0;
  }

  void markDone() {
    sessionDone_ = true;
    doneAt_ = Clock::now();
    closeAgentSocket();  // the session's processes are gone (or cut off): no new agent users
  }

  bool waitingOutput() const { return partial_.has_value(); }

  // Moves exec output to the client as its window allows; once all of it is there, the exit status.
  void pumpExec() {
    if (!started_ || sessionDone_ || stream_ == nullptr) return;
    if (clientClosed_) {
      endSession("the client closed the session");
      return;
    }
    while (true) {
      if (!partial_) partial_ = output_.pop();
      if (!partial_) break;
      const uint32_t window = ssh_channel_window_size(channel_);
      if (window == 0) return;
      const auto n = static_cast<uint32_t>(std::min<std::size_t>(window, partial_->data.size()));
      const int written = partial_->stream == engine::OutputStream::Stderr && !pty_
                              ? ssh_channel_write_stderr(channel_, partial_->data.data(), n)
                              : ssh_channel_write(channel_, partial_->data.data(), n);
      if (written == SSH_ERROR) {
        endSession("writing to the client failed");
        return;
      }
      partial_->data.erase(0, static_cast<std::size_t>(written));
      if (partial_->data.empty()) partial_.reset();
    }
    if (!output_.drained()) return;
    if (auto error = output_.error()) {
      log::info("session {}: the engine's stream ended: {}", settings_.id, error->message());
    }
    finishChannel(exitCode());
  }

  // The exit code once the engine noticed the process is gone (the output ends a moment before).
  std::optional<int> exitCode() {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
      auto inspect = engine_.inspectExec(execId_);
      if (!inspect) return std::nullopt;
      if (!inspect->running && inspect->exitCode) return *inspect->exitCode;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }

  void finishChannel(std::optional<int> status) {
    if (status) ssh_channel_request_send_exit_status(channel_, *status);
    ssh_channel_send_eof(channel_);
    ssh_channel_close(channel_);
    markDone();
    const auto seconds = std::chrono::duration<double>(Clock::now() - startedAt_).count();
    log::info("session {} ended after {:.1f} s: {}", settings_.id, seconds,
              status ? "exit status " + std::to_string(*status) : std::string("no exit status"));
  }

  // Ends a session the process has not ended: the process gets end-of-file on stdin, and the
  // engine's stream to it is closed.
  void endSession(const std::string& why) {
    if (!started_ || sessionDone_) return;
    markDone();
    stopExec();
    const auto seconds = std::chrono::duration<double>(Clock::now() - startedAt_).count();
    log::info("session {} ended after {:.1f} s: {}", settings_.id, seconds, why);
  }

  void stopExec() {
    if (stream_ != nullptr) {
      (void)stream_->closeStdin();
      stream_->cancel();
    }
    output_.close();
    if (reader_.joinable()) reader_.join();
  }

  // ---- port forwarding ------------------------------------------------------------------------

  bool openForward(ssh_message message) {
    if (!authenticated_ || !target_) return false;
    const std::string host = ssh_message_channel_request_open_destination(message);
    const int port = ssh_message_channel_request_open_destination_port(message);
    const std::string asked = host + ":" + std::to_string(port);
    if (!target_->access.allowForwarding) {
      log::info("connection {}: refused forwarding to {}: {} does not allow it (x-berth-ssh allow_forwarding)",
                settings_.id, asked, target_->name);
      return false;
    }
    const bool own = std::find(target_->addresses.begin(), target_->addresses.end(), host) !=
                     target_->addresses.end();
    if (!own && !isLoopbackName(host)) {
      log::info("connection {}: refused forwarding to {}: only {} itself is reachable", settings_.id, asked,
                target_->name);
      return false;
    }
    if (target_->addresses.empty()) {
      log::info("connection {}: refused forwarding to {}: {} has no address on a network", settings_.id, asked,
                target_->name);
      return false;
    }
    const std::string address = own ? host : target_->addresses.front();
    auto fd = connectTcp(address, port);
    if (!fd) {
      log::info("connection {}: forwarding to {} ({}:{}) failed: {}", settings_.id, asked, address, port,
                fd.error().message());
      return false;
    }
    ssh_channel channel = ssh_message_channel_request_open_reply_accept(message);
    if (channel == nullptr) {
      ::close(*fd);
      return false;
    }
    const std::string destination = address + ":" + std::to_string(port);
    log::info("connection {}: forwarding to {} in {}", settings_.id, destination, target_->name);
    relay(channel, *fd, destination);
    return true;
  }

  // Relays bytes between an open channel and a socket (a forwarding, an agent connection) until
  // either side ends; pumpForwards() does the socket-to-channel half.
  void relay(ssh_channel channel, int fd, std::string destination) {
    auto f = std::make_unique<Forward>();
    f->connection = this;
    f->channel = channel;
    f->fd = fd;
    f->destination = std::move(destination);
    f->callbacks.userdata = f.get();
    f->callbacks.channel_data_function = &Connection::onForwardData;
    f->callbacks.channel_eof_function = &Connection::onForwardEof;
    f->callbacks.channel_close_function = &Connection::onForwardClose;
    ssh_callbacks_init(&f->callbacks);
    ssh_set_channel_callbacks(channel, &f->callbacks);
    forwards_.push_back(std::move(f));
  }

  static int onForwardData(ssh_session, ssh_channel, void* data, uint32_t length, int, void* self) {
    auto* f = static_cast<Forward*>(self);
    const char* p = static_cast<const char*>(data);
    std::size_t left = length;
    while (left > 0 && !f->closed) {
      const ssize_t n = ::send(f->fd, p, left, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        f->closed = true;
        break;
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    return static_cast<int>(length);
  }

  static void onForwardEof(ssh_session, ssh_channel, void* self) {
    auto* f = static_cast<Forward*>(self);
    f->clientEof = true;
    ::shutdown(f->fd, SHUT_WR);
  }

  static void onForwardClose(ssh_session, ssh_channel, void* self) { static_cast<Forward*>(self)->closed = true; }

  static int onForwardReadable(socket_t, int, void* self) {
    static_cast<Forward*>(self)->readable = true;
    return 0;
  }

  void pumpForwards() {
    for (auto& f : forwards_) {
      if (f->closed) continue;
      const uint32_t window = ssh_channel_window_size(f->channel);
      if (f->readable && !f->socketEof && window > 0) {
        char buffer[kForwardChunk];
        const ssize_t n = ::recv(f->fd, buffer, std::min<std::size_t>(window, sizeof buffer), MSG_DONTWAIT);
        if (n > 0) {
          if (ssh_channel_write(f->channel, buffer, static_cast<uint32_t>(n)) == SSH_ERROR) f->closed = true;
        } else if (n == 0) {
          f->socketEof = true;
          ssh_channel_send_eof(f->channel);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
          f->readable = false;
        } else if (errno != EINTR) {
          f->closed = true;
        }
      }
      // Watch the socket only while the client can take more: a full window stops the reading
      // rather than the loop spinning on a readable socket.
      const bool want = !f->closed && !f->socketEof && ssh_channel_window_size(f->channel) > 0;
      if (want && !f->registered) {
        f->registered = ssh_event_add_fd(event_, f->fd, POLLIN, &Connection::onForwardReadable, f.get()) == SSH_OK;
      } else if (!want && f->registered) {
        ssh_event_remove_fd(event_, f->fd);
        f->registered = false;
      }
      if (f->socketEof && f->clientEof) f->closed = true;
    }
    for (auto it = forwards_.begin(); it != forwards_.end();) {
      if ((*it)->closed) {
        closeForward(**it);
        it = forwards_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void closeForward(Forward& f) {
    if (f.registered) ssh_event_remove_fd(event_, f.fd);
    f.registered = false;
    if (f.fd >= 0) ::close(f.fd);
    f.fd = -1;
    if (f.channel != nullptr) {
      ssh_channel_close(f.channel);
      ssh_channel_free(f.channel);
      f.channel = nullptr;
    }
    log::info("connection {}: forwarding to {} closed", settings_.id, f.destination);
  }

  engine::Engine& engine_;
  ssh_session session_;
  const ConnectionSettings settings_;
  const std::atomic<bool>& stopping_;
  ssh_event event_ = nullptr;
  ssh_server_callbacks_struct server_{};
  ssh_channel_callbacks_struct channelCb_{};

  // Authentication.
  int authAttempts_ = 0;
  bool authenticated_ = false;
  std::string lookedUp_;
  std::string lookupFailure_;
  std::optional<LoginTarget> target_;
  std::optional<AuthorizedKeys> keys_;
  std::set<std::string> refusedLogged_;
  std::string fingerprint_;
  std::string keyComment_;

  // The session.
  ssh_channel channel_ = nullptr;
  bool pty_ = false;
  std::string term_;
  int columns_ = 0;
  int rows_ = 0;
  bool started_ = false;
  bool sessionDone_ = false;
  Clock::time_point doneAt_{};
  bool clientClosed_ = false;
  bool stdinBroken_ = false;
  Clock::time_point startedAt_{};
  std::string execId_;
  std::unique_ptr<engine::AttachedStream> stream_;
  OutputQueue output_;
  std::optional<engine::OutputChunk> partial_;
  std::thread reader_;

  std::vector<std::unique_ptr<Forward>> forwards_;

  // Agent forwarding.
  bool agentRequested_ = false;
  bool agentPending_ = false;
  bool agentRegistered_ = false;
  int agentListen_ = -1;
  std::string agentDir_;  // on the gateway's side: /proc/PID/root/tmp/berth-agent-...
};

}  // namespace

void serveConnection(engine::Engine& engine, ssh_session_struct* session, const ConnectionSettings& settings,
                     const std::atomic<bool>& stopping) {
  Connection connection(engine, session, settings, stopping);
  connection.run();
}

}  // namespace berth::gateway::internal
