// TestHost: one machine of a test fleet, made of namespaces on this one. Integration tests start
// real Docker engines (and sshd) in TestHosts; they never touch an engine the user runs.
//
// A host is a holder process that is PID 1 of its own PID, mount, network, UTS and IPC namespaces
// (what `unshare --mount --net --uts --ipc --pid --fork --mount-proc --propagation private` makes),
// with
//   - a veth pair to the root namespace: the host is ADDRESS = 10.213.N.2/24, the root side
//     10.213.N.1 (its default gateway); hosts reach each other through the root namespace, and the
//     test process reaches every host's address (published ports are reached at address()).
//   - its own hostname, private tmpfs on /run and /etc/docker, and its own /etc/hosts,
//     /etc/hostname, /etc/init.d/docker (scripts/test-host/docker.init) and /etc/default/docker
//     (bind mounts), so the engine's socket, pidfile, containerd and daemon.json are its own;
//   - its own dockerd (own bridge 10.214.N.1/24, address pool 10.(140+N).0.0/16, iptables, cgroup
//     parent /berth-test-N, data-root on a tmpfs that lives only in the host's mount namespace),
//     configured by /etc/docker/daemon.json and started with the host's SysV init script, as
//     provisioning code will find it; it listens on unix:///var/run/docker.sock inside the host and
//     on directory()/docker.sock, a path the test process sees;
//   - optionally TLS on tcp://ADDRESS:2376 (--tlsverify, certificates from src/pki) and sshd on
//     ADDRESS:22 accepting the harness's test key.
// Daemons run inside the host's namespaces (entered with nsenter), so several hosts and several test
// binaries run side by side without sharing bridges, iptables or sockets.
//
// Uniqueness: the index N (1..kMaxHosts) is claimed by binding the abstract unix socket
// "berth-test-host-N", held by the test process and the holder; everything else (directory
// /tmp/berth-test/hosts/N, veth bthN, subnets, cgroup parent) derives from N.
//
// Clean-up: the holder watches a "lifeline" pipe whose only write end the test process holds. When
// it closes — stop(), the destructor, normal exit, a crash, SIGKILL of the test binary — the holder
// kills everything in the host's PID namespace, which takes the network and mount namespaces (veth,
// tmpfs, overlay mounts) with it, then removes the host's root-namespace iptables rules, cgroups and
// directory, and exits; only then is N free again. SIGINT/SIGTERM/SIGHUP to the test binary wait for
// that clean-up before the process dies (installTerminationHandlers).
//
// Thread-safety: distinct hosts may be started and used from different threads at once; a single
// host's methods may be called concurrently except stop()/destruction against anything else.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "harness/subprocess.h"
#include "harness/tls_material.h"
#include "pki/authority.h"

namespace berth::testing {

inline constexpr int kMaxHosts = 64;
inline constexpr int kTlsPort = 2376;
inline constexpr int kSshPort = 22;

struct HostOptions {
  // Default "berth-host-N".
  std::string hostname{};
  // Start the host's dockerd (false: a bare host, e.g. for provisioning to set up).
  bool engine = true;
  // Import busybox:latest once the engine answers.
  bool loadBusybox = true;
  // Run sshd on ADDRESS:22, accepting sshIdentity() for root.
  bool ssh = false;
  // Also listen on tcp://ADDRESS:2376 with --tlsverify: a server certificate for the host and a
  // client bundle, both from the harness CA (or tlsAuthority).
  bool tls = false;
  // The names the server certificate carries (IPs and DNS names); default {address, hostname}.
  // Give other names to test a certificate that does not name the address dialled.
  std::vector<std::string> serverCertNames{};
  // The CA that issues the server certificate and that the engine trusts for client certificates;
  // default harnessAuthority() (e.g. give the CA of a `berth ca init` to test berth's own CA).
  std::optional<pki::Authority> tlsAuthority{};
  // How long each start-up step (engine, TLS port, sshd) may take before start() fails.
  std::chrono::seconds startTimeout{60};
};

class TestHost {
 public:
  // Starts a host and blocks until everything asked for answers (engine /_ping, busybox imported,
  // sshd banner). Errors name the host and the step, with the tail of the engine's log.
  static Result<std::unique_ptr<TestHost>> start(const HostOptions& options = {});

  TestHost(const TestHost&) = delete;
  TestHost& operator=(const TestHost&) = delete;
  ~TestHost();  // stop()

  int index() const { return index_; }
  const std::string& hostname() const { return hostname_; }
  // The host's IPv4 address ("10.213.N.2"), reachable from the test process and from other hosts.
  const std::string& address() const { return address_; }
  // The root namespace's side of the host's link ("10.213.N.1"), the host's default gateway.
  const std::string& gatewayAddress() const { return gateway_; }
  // Per-host directory the test process can read (sockets, logs, keys, certificates).
  const std::filesystem::path& directory() const { return dir_; }
  pid_t holderPid() const { return holder_; }

  // The engine's socket as the test process sees it, and as a DOCKER_HOST URL.
  std::filesystem::path unixSocketPath() const { return dir_ / "docker.sock"; }
  std::string unixSocketUrl() const { return "unix://" + unixSocketPath().string(); }
  // The engine's log file (appended to across restarts).
  std::filesystem::path engineLogPath() const { return dir_ / "dockerd.log"; }

  // TLS (HostOptions::tls): tcp://ADDRESS:2376 and the files for it, all in directory()/tls.
  struct Tls {
    std::filesystem::path caCert;      // the CA certificate the engine trusts (and that signed it)
    std::filesystem::path serverCert;  // the engine's certificate and key
    std::filesystem::path serverKey;
    ClientBundle client;  // a valid client: DOCKER_CERT_PATH=client.dir
  };
  std::string tlsUrl() const { return "tcp://" + address_ + ":" + std::to_string(kTlsPort); }
  const Tls& tls() const { return tls_; }

  // SSH (HostOptions::ssh): root@address():22 with the harness's key.
  int sshPort() const { return kSshPort; }
  std::string sshUser() const { return "root"; }
  // No port in the URL: sshd listens on ssh's default (kSshPort), and tests that set ~/.ssh/config's
  // Port see it apply.
  std::string sshUrl() const { return "ssh://root@" + address_; }
  // Private key (0600) that the host's sshd accepts; the same key for every host of this process.
  std::filesystem::path sshIdentity() const { return dir_ / "ssh" / "id_ed25519"; }
  // A known_hosts file naming this host's key under its address (and "[address]:22").
  std::filesystem::path sshKnownHosts() const { return dir_ / "ssh" / "known_hosts"; }
  // The host key, "ssh-ed25519 AAAA...".
  const std::string& sshHostPublicKey() const { return sshHostKey_; }

  // Runs argv inside the host's namespaces (as root, working directory /) and captures its output.
  // Blocks; fails only if the command could not be started.
  Result<CommandResult> run(const std::vector<std::string>& argv, const CommandOptions& options = {}) const;

  // Engine control through the host's init script, as an operator would do it: stop (SIGTERM to
  // the pid in /var/run/docker.pid, wait, SIGKILL), start (and wait, up to the start timeout, until
  // /_ping answers on unixSocketPath()), restart.
  Status stopEngine();
  Status startEngine();
  Status restartEngine();
  // Blocks until the engine answers /_ping on unixSocketPath(), or fails at the deadline.
  Status waitForEngine(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

  // false: the host drops every packet arriving on its link (a host that went away without a word:
  // connections time out rather than being refused). true restores it.
  Status setReachable(bool reachable);

  // The last lines of the engine's log, for failure messages.
  std::string engineLogTail(int lines = 30) const;

  // Tears the host down and waits until it is gone (namespaces, daemons, veth, iptables rules,
  // cgroups, directory). Idempotent.
  void stop();

 private:
  TestHost() = default;
  Status boot(const HostOptions& options);
  Status startSshd();
  Status prepareTls(const HostOptions& options);

  int index_ = 0;
  std::string hostname_;
  std::string address_;
  std::string gateway_;
  std::string veth_;
  std::filesystem::path dir_;
  std::string sshHostKey_;
  Tls tls_;
  bool tlsEnabled_ = false;
  std::chrono::seconds startTimeout_{60};
  pid_t holder_ = 0;
  int lifeline_ = -1;  // write end; the holder cleans up when it closes
  int lock_ = -1;      // the bound abstract socket that claims index_
  std::mutex stopMu_;
  bool stopped_ = false;
};

// The engine most integration tests use: one TestHost (with busybox) per test binary, started on
// first use and stopped at exit. Aborts the test binary with the reason if it cannot start; use
// trySharedEngine() to handle that yourself.
TestHost& sharedEngine();
Result<TestHost*> trySharedEngine();

// Makes SIGINT, SIGTERM and SIGHUP tear every live host down before the test binary dies (they are
// re-raised afterwards). Called by TestHost::start and by the harness's main(); idempotent. Signals
// that already have a handler are left alone.
void installTerminationHandlers();

}  // namespace berth::testing
