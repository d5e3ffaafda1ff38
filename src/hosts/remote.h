// RemoteShell: commands on a host, the seam between provisioning logic and SSH. The real
// implementation is an SSH session (libssh, in ssh_remote.cc only); unit tests use a fake that
// keeps the host's files in memory.
//
// Commands run under the login user's shell (`sh -c` semantics); for a user other than root every
// command is run through `sudo -n sh -c '...'`.
//
// Thread-safety: one thread at a time per RemoteShell.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/strings.h"  // shellQuote

namespace berth::hosts {

struct RemoteResult {
  int exitCode = -1;
  std::string out{};
  std::string err{};
};

class RemoteShell {
 public:
  virtual ~RemoteShell() = default;
  // "root@10.0.0.2:22", for messages.
  virtual const std::string& describe() const = 0;
  // Runs `command` with `input` on its stdin; blocks until it exits or `timeout` passes
  // (DeadlineExceeded). A command that runs and fails is a RemoteResult, not an error.
  virtual Result<RemoteResult> run(std::string_view command, std::string_view input,
                                   std::chrono::milliseconds timeout) = 0;
};

struct SshConnectOptions {
  std::string user{};  // empty: the local user name
  std::string address{};
  std::uint16_t port = 22;
  std::string identityFile{};  // empty: ssh-agent, then ~/.ssh's default identities
  // The host key the host must present ("ssh-ed25519 AAAA..."); when set, known_hosts is not used.
  std::string expectedHostKey{};
  std::string knownHostsFile{};  // empty: ~/.ssh/known_hosts
  // Accept a host that known_hosts does not name (its key is then pinned by the caller).
  bool acceptUnknownHostKey = false;
  std::chrono::milliseconds connectTimeout = std::chrono::seconds(10);
};

struct SshConnection {
  std::unique_ptr<RemoteShell> shell{};
  std::string hostKey{};             // what the host presented, "ssh-ed25519 AAAA..."
  std::string hostKeyFingerprint{};  // "SHA256:..."
};

// Connects, checks the host key and authenticates. Errors name the target: Unavailable /
// DeadlineExceeded (cannot reach it), PermissionDenied (host key mismatch or unknown, rejected
// keys), InvalidArgument (unreadable identity file).
Result<SshConnection> connectSsh(const SshConnectOptions& options);

// Parses a host key as given to --ssh-host-key: "ssh-ed25519 AAAA... [comment]", a known_hosts line
// "HOSTS ssh-ed25519 AAAA...", or the name of a file holding either. Returns "TYPE BASE64".
Result<std::string> parseHostKey(std::string_view text);

}  // namespace berth::hosts
