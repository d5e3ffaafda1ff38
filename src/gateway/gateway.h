// berth gateway: an SSH server (libssh) that lands each login straight inside a container, through the
// engine's exec API: `ssh -p PORT CONTAINER@HOST` for a shell with a PTY, `ssh ... CMD` for a command
// with its stdin, stdout, stderr and exit status. No process runs on the host for a session and nothing
// is installed in the container; the gateway needs only the engine.
//
// Who may log in is decided from the container alone: its `io.berth.ssh` label (plan/ssh_access.h),
// which `berth up` writes from the service's x-berth-ssh. Only public-key authentication is offered;
// a key opens only the containers whose label lists it. Port forwarding (direct-tcpip, `ssh -L`) and
// agent forwarding (`ssh -A`: a socket the gateway listens on inside the container, reached through
// /proc/PID/root, so the gateway must run on the engine's host) are served only when the label
// allows them, and forwarding only to the container itself; remote forwarding, X11, environment
// variables and subsystems are always refused.
//
// Every connection and session is logged through base/log: the key's fingerprint and the comment of
// the authorized key it matched, the container, the command, the start, the end and the exit status.
//
// Threads: serve() accepts on the calling thread and runs each connection on a thread of its own
// (at most GatewayOptions::maxConnections at once); every libssh object is used by one thread only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stop_token>
#include <string>

#include "base/result.h"
#include "engine/engine.h"

namespace berth::gateway {

struct GatewayOptions {
  std::string address = "0.0.0.0";  // to listen on
  std::uint16_t port = 2222;         // 0: any free port (see Gateway::port())
  // The gateway's own host key (OpenSSH private key format). Generated (ed25519, 0600) when the file
  // does not exist, so the fingerprint stays the same across restarts.
  std::filesystem::path hostKeyFile{};
  int maxConnections = 64;
  // How long a connection may take to authenticate before it is dropped.
  std::chrono::seconds loginGraceTime{30};
};

class Gateway {
 public:
  // Loads (or generates) the host key and starts listening. Errors name the address or the key file.
  static Result<std::unique_ptr<Gateway>> listen(engine::Engine& engine, const GatewayOptions& options);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  std::uint16_t port() const;
  // "SHA256:..." of the host key, as `ssh` prints it, and the public key line for known_hosts.
  const std::string& hostKeyFingerprint() const;
  const std::string& hostPublicKey() const;
  // True when listen() generated the host key rather than loading it.
  bool generatedHostKey() const;

  // Accepts and serves connections until `stop` is requested; then ends every session (their
  // processes in the containers get end-of-file and a hang-up) and returns once all are gone.
  Status serve(std::stop_token stop);

 private:
  struct State;
  explicit Gateway(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace berth::gateway
