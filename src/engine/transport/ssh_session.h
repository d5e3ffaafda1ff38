// An authenticated SSH session: connect, check the host's key, log in with keys. Shared by the
// ssh:// engine transport (ssh_transport.cc) and provisioning's RemoteShell (src/hosts), so that both
// trust hosts by the same rules and say so in the same words:
//
//   - the host key must equal a pinned key when one is given, else be the one known_hosts names for
//     the host; a changed key is refused ("host key mismatch ... berth refuses to connect"), and so
//     is a host known_hosts does not name, unless the caller accepts unknown hosts (it then pins the
//     key itself);
//   - authentication is by public key only: the given identity files in order, else ssh-agent and
//     the default identities.
//
// libssh stays out of this header: callers that use the session (channels) include
// <libssh/libssh.h> in their .cc file.
//
// Thread-safety: openSshSession is reentrant; a session is used by one thread at a time (libssh).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"

struct ssh_session_struct;  // libssh's session (ssh_session is a pointer to it)

namespace berth::engine::transport {

// Disconnects and frees.
struct SshSessionFree {
  void operator()(ssh_session_struct* session) const;
};
using SshSessionPtr = std::unique_ptr<ssh_session_struct, SshSessionFree>;

struct SshSessionOptions {
  std::string user{};            // empty: ~/.ssh/config's, else the local user name
  std::string host{};            // name or address (IPv6 without brackets)
  std::uint16_t port = 0;        // 0: ~/.ssh/config's Port for the host, else 22
  std::string sshDir{};          // for known_hosts and the default identities; empty: ~/.ssh
  std::string knownHostsFile{};  // empty: <sshDir>/known_hosts
  // "ssh-ed25519 AAAA...": the host must present exactly this key; known_hosts is not read.
  std::string pinnedHostKey{};
  // Let a host that known_hosts does not name through (the caller pins what hostKey says).
  bool acceptUnknownHostKey = false;
  // Appended to the refusal of an unknown host: how to trust it from where the user is. Given the
  // port berth dialled (the options' or ~/.ssh/config's).
  std::function<std::string(std::uint16_t port)> unknownHostHint{};
  std::vector<std::string> identityFiles{};  // tried in order; empty: ssh-agent, then default identities
  // Appended when neither ssh-agent nor the default identities had a key the host accepts.
  std::string noKeyHint{};
  std::chrono::milliseconds connectTimeout = std::chrono::seconds(10);
};

struct SshHostKey {
  std::string line{};         // "ssh-ed25519 AAAA..."
  std::string fingerprint{};  // "SHA256:..."
};

struct SshSession {
  SshSessionPtr session{};
  std::string target{};  // "root@10.0.0.2:22" (the port dialled), how messages name the host
  std::string user{};    // who berth logged in as (after ~/.ssh/config)
  SshHostKey hostKey{};  // what the host presented
};

// Connects to options.host (honouring ~/.ssh/config; options given here win), checks the host key
// and authenticates. Blocks up to connectTimeout for the connection. Errors start with
// "ssh TARGET: ": DeadlineExceeded or Unavailable (cannot connect), PermissionDenied (host key
// mismatch or unknown host, no key accepted), InvalidArgument (bad options, unreadable identity).
Result<SshSession> openSshSession(const SshSessionOptions& options);

}  // namespace berth::engine::transport
