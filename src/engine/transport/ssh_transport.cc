// ssh:// transport (libssh lives here, in ssh_session.cc and in src/hosts/ssh_remote.cc only).
//
// Each connection is its own SSH connection: connect, check the host key against known_hosts
// (unknown and changed keys are refused with the fingerprint in the message), authenticate with
// ssh-agent or key files (all three in ssh_session.cc), then open a direct-streamlocal channel to the
// engine's socket on the remote host — the remote side needs sshd, not a docker CLI.
//
// libssh is not thread-safe per session, and the HTTP layer wants a byte stream with deadlines,
// cancellation and concurrent read/write. So after the handshake a pump thread becomes the only
// owner of the session: it shuttles bytes between the channel and one end of a socketpair, and the
// Connection handed out is the plain socket connection on the other end. Half-close maps to
// channel EOF in both directions; when the pump fails, its error replaces the socket's
// end-of-stream.
#include <fmt/core.h>
#include <libssh/libssh.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/endpoint.h"
#include "engine/transport/internal.h"
#include "engine/transport/ssh_session.h"

namespace berth::engine::transport {
namespace {

struct ChannelFree {
  void operator()(ssh_channel c) const { ssh_channel_free(c); }
};
using ChannelPtr = std::unique_ptr<ssh_channel_struct, ChannelFree>;

// The pump: sole owner of the session after the handshake (see the file comment).
class Pump {
 public:
  Pump(SshSessionPtr session, ChannelPtr channel, int localFd, int stopFd, std::string address)
      : session_(std::move(session)),
        channel_(std::move(channel)),
        fd_(localFd),
        stopFd_(stopFd),
        address_(std::move(address)) {}
  ~Pump() {
    ::close(fd_);
    ::close(stopFd_);
  }

  void stop() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(stopFd_, &one, sizeof one);
  }

  std::optional<Error> error() {
    std::lock_guard lock(mu_);
    return error_;
  }

  void run() {
    const Status result = loop();
    if (!result) {
      std::lock_guard lock(mu_);
      error_ = result.error();
    }
    // Wake the reader: it sees end-of-stream and then asks error().
    ::shutdown(fd_, SHUT_RDWR);
    ssh_channel_close(channel_.get());
  }

 private:
  Unexpected lost(std::string_view what) {
    return fail(ErrorCode::Unavailable, fmt::format("ssh connection to {} lost: {}: {}", address_, what,
                                                    ssh_get_error(session_.get())));
  }

  Status loop() {
    constexpr std::size_t kMaxBuffered = 256 * 1024;
    char buf[32 * 1024];
    std::string toLocal, toChannel;
    bool channelEof = false, localEof = false, localShut = false, sentEof = false;
    ssh_channel ch = channel_.get();
    while (true) {
      bool progress = false;
      // Engine → berth.
      if (!channelEof && toLocal.size() < kMaxBuffered) {
        const int n = ssh_channel_read_nonblocking(ch, buf, sizeof buf, 0);
        if (n == SSH_ERROR) return lost("read");
        if (n > 0) {
          toLocal.append(buf, static_cast<std::size_t>(n));
          progress = true;
        } else if (ssh_channel_is_eof(ch) != 0 || ssh_channel_is_closed(ch) != 0) {
          channelEof = true;
          progress = true;
        }
      } else {
        // Still let libssh process incoming packets (window adjustments) and flush its output.
        if (ssh_channel_poll(ch, 0) == SSH_ERROR) return lost("read");
      }
      if (!toLocal.empty()) {
        const ssize_t w = ::send(fd_, toLocal.data(), toLocal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
          toLocal.erase(0, static_cast<std::size_t>(w));
          progress = true;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
          return ok();  // berth closed its end: done
        }
      }
      if (channelEof && toLocal.empty() && !localShut) {
        ::shutdown(fd_, SHUT_WR);
        localShut = true;
      }
      // Berth → engine.
      if (toChannel.empty() && !localEof) {
        const ssize_t r = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0) {
          toChannel.assign(buf, static_cast<std::size_t>(r));
          progress = true;
        } else if (r == 0) {
          localEof = true;
          progress = true;
        } else if (errno != EAGAIN && errno != EINTR) {
          return ok();
        }
      }
      if (!toChannel.empty() && ssh_channel_is_closed(ch) == 0) {
        const std::uint32_t window = ssh_channel_window_size(ch);
        if (window > 0) {
          const auto len =
              static_cast<std::uint32_t>(std::min<std::size_t>({toChannel.size(), window, 32768}));
          const int w = ssh_channel_write(ch, toChannel.data(), len);
          if (w == SSH_ERROR) return lost("write");
          if (w > 0) {
            toChannel.erase(0, static_cast<std::size_t>(w));
            progress = true;
          }
        }
      }
      if (localEof && toChannel.empty() && !sentEof && ssh_channel_is_closed(ch) == 0) {
        if (ssh_channel_send_eof(ch) == SSH_ERROR) return lost("send EOF");
        sentEof = true;
      }
      const bool channelGone = channelEof && (ssh_channel_is_closed(ch) != 0 || localEof);
      if (channelGone && toLocal.empty()) return ok();
      if (localEof && channelEof && toLocal.empty() && toChannel.empty()) return ok();
      if (progress) continue;

      short localEvents = 0;
      if (toChannel.empty() && !localEof) localEvents |= POLLIN;
      if (!toLocal.empty()) localEvents |= POLLOUT;
      short sshEvents = POLLIN;
      if ((ssh_get_poll_flags(session_.get()) & SSH_WRITE_PENDING) != 0) sshEvents |= POLLOUT;
      pollfd fds[3] = {
          {fd_, localEvents, 0}, {ssh_get_fd(session_.get()), sshEvents, 0}, {stopFd_, POLLIN, 0}};
      // The cap covers data libssh buffered internally without the socket becoming readable.
      const int r = ::poll(fds, 3, toChannel.empty() ? 1000 : 20);
      if (r < 0 && errno != EINTR)
        return fail(ErrorCode::Internal, fmt::format("poll: {}", std::strerror(errno)));
      if (fds[2].revents != 0) return ok();
      if ((fds[0].revents & (POLLERR | POLLNVAL)) != 0) return ok();
    }
  }

  SshSessionPtr session_;
  ChannelPtr channel_;
  int fd_;
  int stopFd_;
  std::string address_;
  std::mutex mu_;
  std::optional<Error> error_;
};

class SshConnection final : public Connection {
 public:
  SshConnection(std::unique_ptr<Pump> pump, std::unique_ptr<Connection> local)
      : pump_(std::move(pump)), local_(std::move(local)), thread_([p = pump_.get()] { p->run(); }) {}
  ~SshConnection() override {
    pump_->stop();
    thread_.join();
  }

  Result<std::size_t> readSome(std::span<char> buffer, Deadline deadline) override {
    auto r = local_->readSome(buffer, deadline);
    if ((r && *r == 0) || (!r && r.error().code() == ErrorCode::Unavailable)) {
      if (auto e = pump_->error()) return fail(std::move(*e));
    }
    return r;
  }
  Status writeAll(std::string_view data, Deadline deadline) override {
    auto r = local_->writeAll(data, deadline);
    if (!r && r.error().code() == ErrorCode::Unavailable) {
      if (auto e = pump_->error()) return fail(std::move(*e));
    }
    return r;
  }
  Status shutdownWrite(Deadline deadline) override { return local_->shutdownWrite(deadline); }
  bool reusable() override { return !pump_->error() && local_->reusable(); }
  void cancel() override { local_->cancel(); }

 private:
  std::unique_ptr<Pump> pump_;
  std::unique_ptr<Connection> local_;
  std::thread thread_;  // joined in the destructor, before pump_ goes
};

class SshTransport final : public Transport {
 public:
  explicit SshTransport(const Endpoint& endpoint)
      : host_(endpoint.host),
        port_(endpoint.port),
        user_(endpoint.user),
        socketPath_(endpoint.socketPath),
        options_(endpoint.ssh) {}

  Result<std::unique_ptr<Connection>> dial(Deadline deadline) override {
    BERTH_ASSIGN_OR_RETURN(
        SshSession opened,
        openSshSession({.user = user_,
                        .host = host_,
                        .port = port_,
                        .sshDir = options_.sshDir,
                        .knownHostsFile = options_.knownHostsFile,
                        .unknownHostHint =
                            [&](std::uint16_t port) {
                              return fmt::format(
                                  "If that is right, add it, e.g. with `ssh-keyscan -p {} {} >> {}`", port,
                                  host_, knownHostsForHint());
                            },
                        .identityFiles = options_.identityFiles,
                        .connectTimeout = std::chrono::milliseconds(pollTimeoutMs(deadline))}));
    ssh_session s = opened.session.get();
    const std::string& target = opened.target;

    ChannelPtr channel(ssh_channel_new(s));
    if (!channel) return fail(ErrorCode::Internal, fmt::format("ssh {}: {}", target, ssh_get_error(s)));
    if (ssh_channel_open_forward_unix(channel.get(), socketPath_.c_str(), "127.0.0.1", 0) != SSH_OK) {
      return fail(ErrorCode::Unavailable,
                  fmt::format("sshd on {} did not open a channel to the engine socket {}: {}", target,
                              socketPath_, ssh_get_error(s)));
    }
    ssh_set_blocking(s, 0);

    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      return fail(ErrorCode::Internal, fmt::format("socketpair: {}", std::strerror(errno)));
    }
    const int stopFd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stopFd < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      return fail(ErrorCode::Internal, fmt::format("eventfd: {}", std::strerror(errno)));
    }
    const std::string address = fmt::format("{} ({})", target, socketPath_);
    auto pump =
        std::make_unique<Pump>(std::move(opened.session), std::move(channel), fds[1], stopFd, address);
    BERTH_ASSIGN_OR_RETURN(auto local, adoptStreamSocket(fds[0], address));
    return std::unique_ptr<Connection>(std::make_unique<SshConnection>(std::move(pump), std::move(local)));
  }

 private:
  // The known_hosts file an unknown host should be added to (libssh's default when none is set).
  std::string knownHostsForHint() const {
    if (!options_.knownHostsFile.empty()) return options_.knownHostsFile;
    return (options_.sshDir.empty() ? std::string("~/.ssh") : options_.sshDir) + "/known_hosts";
  }

  std::string host_;
  std::uint16_t port_;
  std::string user_;
  std::string socketPath_;
  SshOptions options_;
};

}  // namespace

Result<std::unique_ptr<Transport>> makeSshTransport(const Endpoint& endpoint) {
  return std::unique_ptr<Transport>(std::make_unique<SshTransport>(endpoint));
}

}  // namespace berth::engine::transport
