// The engine configuration that provisioning writes, as pure text transformations (unit-tested
// without a host):
//   - /etc/docker/daemon.json merged with TLS settings and a TCP listener, keeping everything else
//     (data-root, cgroup-parent, other listeners, unknown keys) as it was;
//   - on systemd hosts, a drop-in for docker.service whose ExecStart is the packaged one without
//     -H/--host flags (dockerd refuses "hosts" in daemon.json when a flag also sets it);
//   - on SysV hosts, a check that DOCKER_OPTS in /etc/default/docker sets no -H/--host or TLS flag
//     (berth does not rewrite that file: it stops with an explanation instead).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::hosts {

// Where provisioning puts the engine's TLS files on the host.
inline constexpr std::string_view kRemoteTlsDir = "/etc/docker/berth";
inline constexpr std::string_view kRemoteDaemonJson = "/etc/docker/daemon.json";
inline constexpr std::string_view kSystemdDropIn = "/etc/systemd/system/docker.service.d/berth.conf";
inline constexpr std::string_view kDefaultUnixHost = "unix:///var/run/docker.sock";

struct TlsListenConfig {
  std::uint16_t port = 2376;
  std::string caCert{};      // the engine's --tlscacert (which clients it accepts)
  std::string serverCert{};  // --tlscert
  std::string serverKey{};   // --tlskey
};
// The files in kRemoteTlsDir.
TlsListenConfig defaultTlsListenConfig(std::uint16_t port);

// `existing` is daemon.json's text (empty or absent: {}). Sets tlsverify, tlscacert, tlscert and
// tlskey, removes "tls": false, and makes "hosts" hold tcp://0.0.0.0:PORT next to the listeners it
// had (without one: next to unix:///var/run/docker.sock, the engine's default, so local clients keep
// working); a tcp:// listener on the same port is replaced. Keys keep their order. Errors:
// InvalidArgument when the text is not a JSON object or "hosts" is neither a string nor an array of
// strings.
Result<std::string> mergeDaemonJson(std::string_view existing, const TlsListenConfig& config);

// dockerd's -H/--host, --tlsverify, --tlscacert, --tlscert, --tlskey and --tls flags in a command
// line ("-H fd:// --containerd=..."), as written: flags that conflict with daemon.json settings.
std::vector<std::string> conflictingDaemonFlags(std::string_view commandLine);

// The value of DOCKER_OPTS in an /etc/default/docker text ("" when unset), quotes removed.
std::string dockerOptsOf(std::string_view defaultsFile);

// ExecStart of `systemctl cat docker.service` output (the last ExecStart= that is not empty), or
// nullopt when there is none.
std::optional<std::string> execStartOf(std::string_view unitText);
// The command line without its -H/--host flags (and their values).
std::string withoutHostFlags(std::string_view commandLine);
// The drop-in that replaces ExecStart with `execStart`.
std::string systemdDropIn(std::string_view execStart);

}  // namespace berth::hosts
