// SSH session set-up with libssh (see ssh_session.h for the rules it enforces).
#include "engine/transport/ssh_session.h"

#include <fmt/core.h>
#include <libssh/libssh.h>

#include <algorithm>

namespace berth::engine::transport {

void SshSessionFree::operator()(ssh_session_struct* session) const {
  ssh_disconnect(session);
  ssh_free(session);
}

namespace {

struct KeyFree {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyFree>;

std::string optionString(ssh_session s, ssh_options_e option) {
  char* value = nullptr;
  if (ssh_options_get(s, option, &value) != SSH_OK || value == nullptr) return {};
  std::string out(value);
  ssh_string_free_char(value);
  return out;
}

// "root@10.0.0.2:22", "root@[fd00::2]:2222".
std::string describeTarget(const SshSessionOptions& o, std::uint16_t port) {
  const std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  return fmt::format("{}{}:{}", o.user.empty() ? "" : o.user + "@", host, port);
}

// The port libssh will dial: the options', else ~/.ssh/config's, else 22.
std::uint16_t effectivePort(ssh_session s, const SshSessionOptions& o) {
  unsigned int port = 0;
  if (ssh_options_get_port(s, &port) != SSH_OK || port == 0 || port > 65535) return o.port == 0 ? 22 : o.port;
  return static_cast<std::uint16_t>(port);
}

Result<SshHostKey> offeredKey(ssh_session s, const std::string& target) {
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
  SshHostKey out;
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

// "SHA256:... (ssh-ed25519)".
std::string describeKey(const SshHostKey& key) {
  return fmt::format("{} ({})", key.fingerprint, key.line.substr(0, key.line.find(' ')));
}

Status checkHostKey(ssh_session s, const SshSessionOptions& o, const std::string& target,
                    const SshHostKey& offered) {
  constexpr std::string_view kRefusal =
      "This can be an attack or a reinstalled host; berth refuses to connect";
  if (!o.pinnedHostKey.empty()) {
    if (o.pinnedHostKey == offered.line) return ok();
    const std::string& pinned = o.pinnedHostKey;
    return fail(ErrorCode::PermissionDenied,
                fmt::format("ssh {}: host key mismatch: the host offered {}, but berth expects {}. {}",
                            target, describeKey(offered),
                            pinned.substr(0, 40) + (pinned.size() > 40 ? "..." : ""), kRefusal));
  }
  std::string file = optionString(s, SSH_OPTIONS_KNOWNHOSTS);
  if (file.empty()) file = "~/.ssh/known_hosts";
  switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK:
      return ok();
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
      return fail(
          ErrorCode::PermissionDenied,
          fmt::format("ssh {}: host key mismatch: the host offered {}, which is not the key known_hosts "
                      "({}) names for it. {}",
                      target, describeKey(offered), file, kRefusal));
    case SSH_KNOWN_HOSTS_NOT_FOUND:
    case SSH_KNOWN_HOSTS_UNKNOWN:
      if (o.acceptUnknownHostKey) return ok();
      return fail(ErrorCode::PermissionDenied,
                  fmt::format("ssh {}: the host is not in known_hosts ({}); it offered {}.{}{}", target, file,
                              describeKey(offered), o.unknownHostHint ? " " : "",
                              o.unknownHostHint ? o.unknownHostHint(effectivePort(s, o)) : ""));
    case SSH_KNOWN_HOSTS_ERROR:
      return fail(ErrorCode::PermissionDenied, fmt::format("ssh {}: cannot check the host key against {}: {}",
                                                           target, file, ssh_get_error(s)));
  }
  return fail(ErrorCode::PermissionDenied, fmt::format("ssh {}: unknown host key state", target));
}

Status authenticate(ssh_session s, const SshSessionOptions& o, const std::string& target) {
  if (!o.identityFiles.empty()) {
    std::string tried;
    for (const std::string& file : o.identityFiles) {
      ssh_key raw = nullptr;
      if (ssh_pki_import_privkey_file(file.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK) {
        return fail(ErrorCode::InvalidArgument,
                    fmt::format("ssh {}: cannot read the private key {}", target, file));
      }
      KeyPtr key(raw);
      const int rc = ssh_userauth_publickey(s, nullptr, key.get());
      if (rc == SSH_AUTH_SUCCESS) return ok();
      if (rc == SSH_AUTH_ERROR) {
        return fail(ErrorCode::Unavailable, fmt::format("ssh {}: {}", target, ssh_get_error(s)));
      }
      tried += (tried.empty() ? "" : ", ") + file;
    }
    return fail(
        ErrorCode::PermissionDenied,
        fmt::format("ssh {}: authentication failed: the server accepted none of the keys {}", target, tried));
  }
  const int rc = ssh_userauth_publickey_auto(s, nullptr, nullptr);
  if (rc == SSH_AUTH_SUCCESS) return ok();
  if (rc == SSH_AUTH_ERROR) {
    return fail(ErrorCode::Unavailable, fmt::format("ssh {}: {}", target, ssh_get_error(s)));
  }
  return fail(ErrorCode::PermissionDenied,
              fmt::format("ssh {}: authentication failed: the server accepted no key from ssh-agent or the "
                          "default identities (id_ed25519, id_ecdsa, id_rsa){}",
                          target, o.noKeyHint.empty() ? "" : "; " + o.noKeyHint));
}

}  // namespace

Result<SshSession> openSshSession(const SshSessionOptions& o) {
  SshSessionPtr session(ssh_new());
  if (!session) return fail(ErrorCode::Internal, "ssh_new failed");
  ssh_session s = session.get();
  // Until ~/.ssh/config is read, errors name the port given (or ssh's default).
  std::string target = describeTarget(o, o.port == 0 ? 22 : o.port);
  const auto setOption = [&](ssh_options_e option, const void* value) -> Status {
    if (ssh_options_set(s, option, value) != SSH_OK) {
      return fail(ErrorCode::InvalidArgument, fmt::format("ssh {}: {}", target, ssh_get_error(s)));
    }
    return ok();
  };
  const unsigned int port = o.port;
  const auto setTarget = [&]() -> Status {
    if (port != 0) BERTH_TRY(setOption(SSH_OPTIONS_PORT, &port));
    if (!o.user.empty()) BERTH_TRY(setOption(SSH_OPTIONS_USER, o.user.c_str()));
    return ok();
  };
  BERTH_TRY(setOption(SSH_OPTIONS_HOST, o.host.c_str()));
  BERTH_TRY(setTarget());
  if (!o.sshDir.empty()) BERTH_TRY(setOption(SSH_OPTIONS_SSH_DIR, o.sshDir.c_str()));
  if (!o.knownHostsFile.empty()) BERTH_TRY(setOption(SSH_OPTIONS_KNOWNHOSTS, o.knownHostsFile.c_str()));
  const long timeoutSeconds = std::max<long>(1, static_cast<long>((o.connectTimeout.count() + 999) / 1000));
  BERTH_TRY(setOption(SSH_OPTIONS_TIMEOUT, &timeoutSeconds));
  // ~/.ssh/config (aliases, Port, ProxyJump, ...) like `ssh` and `docker -H ssh://`; then the port and
  // user given here again, so that they win over it.
  if (ssh_options_parse_config(s, nullptr) != SSH_OK) {
    return fail(ErrorCode::InvalidArgument, fmt::format("ssh config: {}", ssh_get_error(s)));
  }
  BERTH_TRY(setTarget());
  target = describeTarget(o, effectivePort(s, o));

  const auto began = std::chrono::steady_clock::now();
  if (ssh_connect(s) != SSH_OK) {
    const std::string why = ssh_get_error(s);
    const bool timedOut = why.find("imeout") != std::string::npos ||
                          why.find("imed out") != std::string::npos ||
                          std::chrono::steady_clock::now() - began >= o.connectTimeout;
    return fail(timedOut ? ErrorCode::DeadlineExceeded : ErrorCode::Unavailable,
                fmt::format("ssh {}: cannot connect: {}", target, why));
  }
  BERTH_ASSIGN_OR_RETURN(SshHostKey offered, offeredKey(s, target));
  BERTH_TRY(checkHostKey(s, o, target, offered));
  BERTH_TRY(authenticate(s, o, target));
  std::string user = o.user.empty() ? optionString(s, SSH_OPTIONS_USER) : o.user;
  return SshSession{.session = std::move(session),
                    .target = target,
                    .user = std::move(user),
                    .hostKey = std::move(offered)};
}

}  // namespace berth::engine::transport
