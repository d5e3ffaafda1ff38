// RemoteShell over SSH with libssh (which stays in this file and in src/engine's ssh transport).
// A session per connection, set up (host key, authentication) as the engine's ssh:// transport does
// it (engine/transport/ssh_session.h); one exec channel per command, fed its stdin, read until it
// closes.
#include <fmt/core.h>
#include <libssh/libssh.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/files.h"
#include "base/strings.h"
#include "engine/transport/ssh_session.h"
#include "hosts/remote.h"

namespace berth::hosts {
namespace {

struct ChannelFree {
  void operator()(ssh_channel c) const {
    ssh_channel_close(c);
    ssh_channel_free(c);
  }
};
using ChannelPtr = std::unique_ptr<ssh_channel_struct, ChannelFree>;

class SshShell final : public RemoteShell {
 public:
  SshShell(engine::transport::SshSessionPtr session, std::string target, bool sudo)
      : session_(std::move(session)), target_(std::move(target)), sudo_(sudo) {}

  const std::string& describe() const override { return target_; }

  Result<RemoteResult> run(std::string_view command, std::string_view input,
                           std::chrono::milliseconds timeout) override {
    ssh_session s = session_.get();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const auto lost = [&](std::string_view what) {
      return fail(ErrorCode::Unavailable, fmt::format("ssh {}: {}: {}", target_, what, ssh_get_error(s)));
    };
    ChannelPtr ch(ssh_channel_new(s));
    if (!ch) return lost("new channel");
    if (ssh_channel_open_session(ch.get()) != SSH_OK) return lost("open a session channel");
    const std::string full = sudo_ ? "sudo -n sh -c " + shellQuote(command) : std::string(command);
    if (ssh_channel_request_exec(ch.get(), full.c_str()) != SSH_OK) return lost("run a command");
    std::size_t written = 0;
    while (written < input.size()) {
      const auto chunk = static_cast<std::uint32_t>(std::min<std::size_t>(input.size() - written, 32768));
      const int n = ssh_channel_write(ch.get(), input.data() + written, chunk);
      if (n == SSH_ERROR) return lost("send input");
      written += static_cast<std::size_t>(n);
    }
    if (ssh_channel_send_eof(ch.get()) != SSH_OK) return lost("send end of input");
    RemoteResult result;
    char buf[16384];
    while (true) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return fail(ErrorCode::DeadlineExceeded,
                    fmt::format("ssh {}: command did not finish within {}s", target_,
                                std::chrono::duration_cast<std::chrono::seconds>(timeout).count()));
      }
      bool progress = false;
      for (const int stderrStream : {0, 1}) {
        const int n = ssh_channel_read_nonblocking(ch.get(), buf, sizeof buf, stderrStream);
        if (n == SSH_ERROR) return lost("read output");
        if (n > 0) {
          (stderrStream != 0 ? result.err : result.out).append(buf, static_cast<std::size_t>(n));
          progress = true;
        }
      }
      if (progress) continue;
      if (ssh_channel_is_eof(ch.get()) != 0 || ssh_channel_is_closed(ch.get()) != 0) break;
      // Wait for more data (up to 100 ms, so the deadline is checked).
      const int r = ssh_channel_poll_timeout(ch.get(), 100, 0);
      if (r == SSH_ERROR) return lost("read output");
    }
    // Drain what came with the EOF.
    for (const int stderrStream : {0, 1}) {
      while (true) {
        const int n = ssh_channel_read_nonblocking(ch.get(), buf, sizeof buf, stderrStream);
        if (n <= 0) break;
        (stderrStream != 0 ? result.err : result.out).append(buf, static_cast<std::size_t>(n));
      }
    }
    result.exitCode = ssh_channel_get_exit_status(ch.get());
    return result;
  }

 private:
  engine::transport::SshSessionPtr session_;
  std::string target_;
  bool sudo_;
};

}  // namespace

Result<std::string> parseHostKey(std::string_view text) {
  std::string content(trim(text));
  std::error_code ec;
  if (!content.empty() && content.find(' ') == std::string::npos && std::filesystem::exists(content, ec)) {
    BERTH_ASSIGN_OR_RETURN(content, readFile(content));
  }
  for (const std::string& line : split(content, '\n')) {
    const std::vector<std::string> fields = split(std::string(trim(line)), ' ');
    for (std::size_t i = 0; i + 1 < fields.size(); ++i) {
      const std::string& t = fields[i];
      if (startsWith(t, "ssh-") || startsWith(t, "ecdsa-sha2-") || startsWith(t, "sk-")) {
        if (fields[i + 1].size() >= 16) return t + " " + fields[i + 1];
      }
    }
  }
  return fail(
      ErrorCode::InvalidArgument,
      fmt::format("host key {}: expected \"ssh-ed25519 AAAA...\" (a public key or known_hosts line) or a "
                  "file holding one",
                  berth::quoted(text.substr(0, 60))));
}

Result<SshConnection> connectSsh(const SshConnectOptions& o) {
  std::string pinned;
  if (!o.expectedHostKey.empty()) {
    BERTH_ASSIGN_OR_RETURN(pinned, parseHostKey(o.expectedHostKey));
  }
  std::vector<std::string> identities;
  if (!o.identityFile.empty()) identities.push_back(o.identityFile);
  BERTH_ASSIGN_OR_RETURN(engine::transport::SshSession opened,
                         engine::transport::openSshSession(
                             {.user = o.user,
                              .host = o.address,
                              .port = o.port,
                              .knownHostsFile = o.knownHostsFile,
                              .pinnedHostKey = pinned,
                              .acceptUnknownHostKey = o.acceptUnknownHostKey,
                              .unknownHostHint = [](std::uint16_t) -> std::string {
                                return "If that is its key, give it with --ssh-host-key or accept it with "
                                       "--accept-unknown-host-key";
                              },
                              .identityFiles = identities,
                              .noKeyHint = "give one with --identity",
                              .connectTimeout = o.connectTimeout}));
  SshConnection out;
  out.shell = std::make_unique<SshShell>(std::move(opened.session), opened.target, opened.user != "root");
  out.hostKey = opened.hostKey.line;
  out.hostKeyFingerprint = opened.hostKey.fingerprint;
  return out;
}

}  // namespace berth::hosts
