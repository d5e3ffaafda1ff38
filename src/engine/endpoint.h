// Where an engine is and how to reach it: the engine URL (unix://, tcp://, ssh://) plus the TLS
// material and SSH settings that go with it, resolved the way the docker CLI does:
//
//   -H/--host URL  >  DOCKER_HOST  >  unix:///var/run/docker.sock
//   tcp:// + DOCKER_TLS_VERIFY (any non-empty value)  →  mutual TLS with DOCKER_CERT_PATH/{ca,cert,key}.pem
//                                                       (DOCKER_CERT_PATH defaults to $HOME/.docker)
//   DOCKER_API_VERSION  →  pins the API version instead of negotiating it
//
// Proxy variables (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY) never apply to engine connections:
// nothing here reads them, and the transports dial the engine directly.
//
// Thread-safety: plain values and pure functions (the environment is read through EnvLookup).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engine/api_version.h"

namespace berth::engine {

enum class Scheme { Unix, Tcp, Ssh };

inline constexpr std::string_view kDefaultEngineUrl = "unix:///var/run/docker.sock";
inline constexpr std::string_view kDefaultEngineSocket = "/var/run/docker.sock";

// PEM text for mutual TLS: the CA that signed the engine's certificate, and berth's client
// certificate (optionally followed by intermediates) and its private key. Without certPem and keyPem
// berth connects without a client certificate (an engine started with --tlsverify refuses that).
struct TlsMaterial {
  std::string caPem;
  std::string certPem;
  std::string keyPem;
  // Where the material came from, for error messages: "/root/.docker" or "host web-1's inventory".
  std::string origin;
};

struct SshOptions {
  // Directory for known_hosts and the default identities (id_ed25519, id_ecdsa, id_rsa); empty:
  // libssh's default (~/.ssh of the user in the password database).
  std::string sshDir;
  // known_hosts file to check the host key against; empty: <sshDir>/known_hosts.
  std::string knownHostsFile;
  // Private keys to offer, in order; empty: ssh-agent (SSH_AUTH_SOCK), then the default identities.
  std::vector<std::string> identityFiles;
};

struct Endpoint {
  Scheme scheme = Scheme::Unix;
  std::string host;  // tcp, ssh: name or IP address (IPv6 without brackets)
  // tcp: always set (2375/2376 by default); ssh: 0 when the URL names none, so that ~/.ssh/config's
  // Port applies as it does for `ssh` (else 22).
  std::uint16_t port = 0;
  std::string user;  // ssh; empty: the local user name (or ~/.ssh/config)
  // unix: the socket; ssh: the engine's socket on the remote host.
  std::string socketPath;
  std::optional<TlsMaterial> tls;  // tcp only: mutual TLS when set
  SshOptions ssh;
  // DOCKER_API_VERSION: used instead of negotiating (still capped at kMaxApiVersion).
  std::optional<ApiVersion> pinnedApiVersion;
  // The registered host this endpoint was resolved from (-H web-1), for messages; empty for a URL.
  // The user chose the engine by this name, so errors must say it, not only an address.
  std::string hostName;

  // Canonical URL: unix:///var/run/docker.sock, tcp://10.0.0.2:2376, tcp://[::1]:2375,
  // ssh://admin@10.0.0.3, ssh://admin@10.0.0.3:2222/run/docker.sock.
  std::string url() const;
  // How messages name the engine: "engine tcp://10.0.0.2:2376", or "host web-1 (tcp://10.0.0.2:2376)"
  // with a hostName.
  std::string describe() const;
};

// Parses an engine URL. `tls` selects the default tcp:// port (2376 with TLS, 2375 without).
// InvalidArgument with the URL and what is wrong.
Result<Endpoint> parseEndpoint(std::string_view url, bool tls = false);

// Reads one environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment.
EnvLookup processEnvironment();

// The endpoint berth uses: `hostFlag` (-H/--host) if given and non-empty, else DOCKER_HOST, else
// unix:///var/run/docker.sock; with TLS material loaded from DOCKER_CERT_PATH when DOCKER_TLS_VERIFY is
// set (tcp:// only), SSH settings from $HOME/.ssh, and DOCKER_API_VERSION. Errors name the variable
// or file at fault.
Result<Endpoint> resolveEndpoint(const std::optional<std::string>& hostFlag, const EnvLookup& env);

// Reads ca.pem, cert.pem and key.pem from `dir` (the DOCKER_CERT_PATH layout); cert.pem and key.pem
// may both be absent.
Result<TlsMaterial> loadTlsDirectory(const std::string& dir);

}  // namespace berth::engine
