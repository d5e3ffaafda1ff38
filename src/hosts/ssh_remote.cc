// RemoteShell over SSH with libssh (which stays in this file and in src/engine's ssh transport).
// A session per connection; one exec channel per command, fed its stdin, read until it closes.
#include <fmt/core.h>
#include <libssh/libssh.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/files.h"
#include "base/strings.h"
#include "hosts/inventory.h"
#include "hosts/remote.h"

namespace berth::hosts {
namespace {

struct SessionFree {
  void operator()(ssh_session s) const {
    ssh_disconnect(s);
    ssh_free(s);
  }
};
struct ChannelFree {
  void operator()(ssh_channel c) const {
    ssh_channel_close(c);
    ssh_channel_free(c);
  }
};
struct KeyFree {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
using SessionPtr = std::unique_ptr<ssh_session_struct, SessionFree>;
using ChannelPtr = std::unique_ptr<ssh_channel_struct, ChannelFree>;
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyFree>;

struct OfferedKey {
  std::string line;         // "ssh-ed25519 AAAA..."
  std::string fingerprint;  // "SHA256:..."
};

Result<OfferedKey> offeredKey(ssh_session s, const std::string& target) {
  ssh_key raw = nullptr;
  if (ssh_get_server_publickey(s, &raw) != SSH_OK) {
    return fail(ErrorCode::Internal,
                fmt::format("ssh {}: cannot read the host key: {}", target, ssh_get_error(s)));
  }
  KeyPtr key(raw);
  char* b64 = nullptr;
  if (ssh_pki_export_pubkey_base64(key.get(), &b64) != SSH_OK || b64 == nullptr) {
    return fail(ErrorCode::Internal, fmt::format("ssh {}: cannot encode the host key", target));
  }
  OfferedKey out;
  const char* type = ssh_key_type_to_char(ssh_key_type(key.get()));
  out.line = fmt::format("{} {}", type != nullptr ? type : "?", b64);
  ssh_string_free_char(b64);
  unsigned char* hash = nullptr;
  size_t len = 0;
  if (ssh_get_publickey_hash(key.get(), SSH_PUBLICKEY_HASH_SHA256, &hash, &len) == 0) {
    char* fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
    ssh_clean_pubkey_hash(&hash);
    if (fp != nullptr) {
      out.fingerprint = fp;
      ssh_string_free_char(fp);
    }
  }
  return out;
}

class SshShell final : public RemoteShell {
 public:
  SshShell(SessionPtr session, std::string target, bool sudo)
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
  SessionPtr session_;
  std::string target_;
  bool sudo_;
};

Status checkHostKey(ssh_session s, const SshConnectOptions& o, const std::string& target,
                    const OfferedKey& offered) {
  if (!o.expectedHostKey.empty()) {
    BERTH_ASSIGN_OR_RETURN(const std::string expected, parseHostKey(o.expectedHostKey));
    if (expected == offered.line) return ok();
    return fail(ErrorCode::PermissionDenied,
                fmt::format("ssh {}: host key mismatch: the host offered {} ({}), but berth expects {}. "
                            "This can be an attack or a reinstalled host; berth refuses to connect",
                            target, offered.fingerprint, offered.line.substr(0, offered.line.find(' ')),
                            expected.substr(0, 40) + (expected.size() > 40 ? "..." : "")));
  }
  const std::string file = o.knownHostsFile.empty() ? "~/.ssh/known_hosts" : o.knownHostsFile;
  switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK:
      return ok();
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
      return fail(
          ErrorCode::PermissionDenied,
          fmt::format("ssh {}: host key mismatch: the host offered {} ({}), which is not the key "
                      "known_hosts ({}) names for it. This can be an attack or a reinstalled host; "
                      "berth refuses to connect",
                      target, offered.fingerprint, offered.line.substr(0, offered.line.find(' ')), file));
    case SSH_KNOWN_HOSTS_NOT_FOUND:
    case SSH_KNOWN_HOSTS_UNKNOWN:
      if (o.acceptUnknownHostKey) return ok();
      return fail(
          ErrorCode::PermissionDenied,
          fmt::format("ssh {}: the host is not in known_hosts ({}); it offered {} ({}). If that is "
                      "its key, give it with --ssh-host-key or accept it with "
                      "--accept-unknown-host-key",
                      target, file, offered.fingerprint, offered.line.substr(0, offered.line.find(' '))));
    case SSH_KNOWN_HOSTS_ERROR:
      return fail(ErrorCode::PermissionDenied, fmt::format("ssh {}: cannot check the host key against {}: {}",
                                                           target, file, ssh_get_error(s)));
  }
  return fail(ErrorCode::PermissionDenied, fmt::format("ssh {}: unknown host key state", target));
}

Status authenticate(ssh_session s, const SshConnectOptions& o, const std::string& target) {
  if (!o.identityFile.empty()) {
    ssh_key raw = nullptr;
    if (ssh_pki_import_privkey_file(o.identityFile.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("ssh {}: cannot read the private key {}", target, o.identityFile));
    }
    KeyPtr key(raw);
    const int rc = ssh_userauth_publickey(s, nullptr, key.get());
    if (rc == SSH_AUTH_SUCCESS) return ok();
    if (rc == SSH_AUTH_ERROR)
      return fail(ErrorCode::Unavailable, fmt::format("ssh {}: {}", target, ssh_get_error(s)));
    return fail(ErrorCode::PermissionDenied,
                fmt::format("ssh {}: authentication failed: the server did not accept the key {}", target,
                            o.identityFile));
  }
  const int rc = ssh_userauth_publickey_auto(s, nullptr, nullptr);
  if (rc == SSH_AUTH_SUCCESS) return ok();
  if (rc == SSH_AUTH_ERROR)
    return fail(ErrorCode::Unavailable, fmt::format("ssh {}: {}", target, ssh_get_error(s)));
  return fail(ErrorCode::PermissionDenied,
              fmt::format("ssh {}: authentication failed: the server accepted no key from ssh-agent or the "
                          "default identities (give one with --identity)",
                          target));
}

}  // namespace

std::string shellQuote(std::string_view text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

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
  SessionPtr session(ssh_new());
  if (!session) return fail(ErrorCode::Internal, "ssh_new failed");
  ssh_session s = session.get();
  const SshTarget t{.user = o.user, .address = o.address, .port = o.port, .identityFile = {}, .hostKey = {}};
  const std::string target = t.describe();
  const auto setOption = [&](ssh_options_e option, const void* value) -> Status {
    if (ssh_options_set(s, option, value) != SSH_OK) {
      return fail(ErrorCode::InvalidArgument, fmt::format("ssh {}: {}", target, ssh_get_error(s)));
    }
    return ok();
  };
  BERTH_TRY(setOption(SSH_OPTIONS_HOST, o.address.c_str()));
  const unsigned int port = o.port;
  BERTH_TRY(setOption(SSH_OPTIONS_PORT, &port));
  if (!o.user.empty()) BERTH_TRY(setOption(SSH_OPTIONS_USER, o.user.c_str()));
  if (!o.knownHostsFile.empty()) BERTH_TRY(setOption(SSH_OPTIONS_KNOWNHOSTS, o.knownHostsFile.c_str()));
  const long timeoutSeconds = std::max<long>(1, static_cast<long>((o.connectTimeout.count() + 999) / 1000));
  BERTH_TRY(setOption(SSH_OPTIONS_TIMEOUT, &timeoutSeconds));
  if (ssh_options_parse_config(s, nullptr) != SSH_OK) {
    return fail(ErrorCode::InvalidArgument, fmt::format("ssh config: {}", ssh_get_error(s)));
  }
  // Options given here win over ~/.ssh/config.
  BERTH_TRY(setOption(SSH_OPTIONS_PORT, &port));
  if (!o.user.empty()) BERTH_TRY(setOption(SSH_OPTIONS_USER, o.user.c_str()));

  if (ssh_connect(s) != SSH_OK) {
    const std::string why = ssh_get_error(s);
    const bool timedOut =
        why.find("imeout") != std::string::npos || why.find("imed out") != std::string::npos;
    return fail(timedOut ? ErrorCode::DeadlineExceeded : ErrorCode::Unavailable,
                fmt::format("ssh {}: cannot connect: {}", target, why));
  }
  BERTH_ASSIGN_OR_RETURN(OfferedKey offered, offeredKey(s, target));
  BERTH_TRY(checkHostKey(s, o, target, offered));
  BERTH_TRY(authenticate(s, o, target));
  std::string user = o.user;
  if (user.empty()) {
    char* u = nullptr;
    if (ssh_options_get(s, SSH_OPTIONS_USER, &u) == SSH_OK && u != nullptr) {
      user = u;
      ssh_string_free_char(u);
    }
  }
  SshConnection out;
  out.shell = std::make_unique<SshShell>(std::move(session), target, user != "root");
  out.hostKey = offered.line;
  out.hostKeyFingerprint = offered.fingerprint;
  return out;
}

}  // namespace berth::hosts
