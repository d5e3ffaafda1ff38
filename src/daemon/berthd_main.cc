// berthd: the controller daemon. Wiring only: flags, the data directory, the store, the engine
// provider, the controller and the API server; SIGTERM/SIGINT stop it cleanly (containers are never
// touched when it stops).
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "base/clock.h"
#include "base/files.h"
#include "base/log.h"
#include "base/memory.h"
#include "base/strings.h"
#include "cluster/controller.h"
#include "cluster/sqlite_store.h"
#include "daemon/api.h"
#include "daemon/data_dir.h"
#include "daemon/http_server.h"
#include "mesh/address.h"
#include "pki/certificate.h"

namespace {

using namespace berth;
namespace fs = std::filesystem;

struct Flags {
  std::string dataDir = "/var/lib/berthd";
  std::vector<std::string> listen{};
  std::string tlsDir{};
  std::string metricsListen{};
  std::string logLevel = "info";
  double downAfter = 5;
  double probeInterval = 1;
  bool noMesh = false;
  std::string meshRange = "10.210.0.0/16";
  int meshHostPrefix = 24;
  int meshNetworkPrefix = 27;
  int meshPort = 51820;
  std::string ingressTls{};
  int crashAt = 0;  // hidden, for crash tests: SIGKILL itself at the N-th crash point
};

int fatal(const std::string& message) {
  std::cerr << "berthd: " << message << "\n";
  return 1;
}

Result<daemon::ServerTls> serverTls(const fs::path& dir) {
  daemon::ServerTls tls;
  const auto read = [&](const char* file, std::string& into) -> Status {
    auto text = readFile(dir / file);
    if (!text) {
      return fail(ErrorCode::NotFound,
                  fmt::format("no {} in {} (a tcp:// listener needs berthd's server certificate: `berth ca issue "
                              "server berthd --ip ADDRESS --out {}`)",
                              file, dir.string(), dir.string()));
    }
    into = std::move(*text);
    return ok();
  };
  BERTH_TRY(read("cert.pem", tls.certPem));
  BERTH_TRY(read("key.pem", tls.keyPem));
  BERTH_TRY(read("ca.pem", tls.clientCaPem));
  return tls;
}

int run(const Flags& flags) {
  auto level = log::parseLevel(flags.logLevel);
  if (!level) return fatal("--log-level " + flags.logLevel + ": expected debug, info, warn or error");
  log::setLevel(*level);
  log::setDaemonFormat();
  if (flags.listen.empty()) return fatal("give at least one --listen unix:///PATH.sock or tcp://ADDR:PORT");

  auto dir = daemon::DataDir::open(flags.dataDir);
  if (!dir) return fatal("data directory: " + dir.error().message());
  // One berthd per data directory: a second one would race the first on the store and the hosts.
  const fs::path lockPath = dir->root() / "berthd.lock";
  const int lockFd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lockFd < 0 || ::flock(lockFd, LOCK_EX | LOCK_NB) != 0) {
    return fatal("another berthd is using " + dir->root().string() + " (" + lockPath.string() + " is locked)");
  }

  std::vector<daemon::Listener> listeners;
  const fs::path tlsDir = flags.tlsDir.empty() ? dir->tlsDir() : fs::path(flags.tlsDir);
  for (const std::string& url : flags.listen) {
    daemon::Listener l;
    l.url = url;
    if (url.rfind("tcp://", 0) == 0) {
      auto tls = serverTls(tlsDir);
      if (!tls) return fatal("--listen " + url + ": " + tls.error().message());
      l.tls = std::move(*tls);
    } else if (url.rfind("unix://", 0) != 0) {
      return fatal("--listen " + url + ": expected unix:///PATH.sock or tcp://ADDR:PORT");
    }
    listeners.push_back(std::move(l));
  }
  if (!flags.metricsListen.empty()) {
    daemon::Listener l;
    l.url = flags.metricsListen.rfind("tcp://", 0) == 0 ? flags.metricsListen : "tcp://" + flags.metricsListen;
    l.plainHttp = true;
    listeners.push_back(std::move(l));
  }

  auto store = cluster::SqliteStore::open(dir->stateDb());
  if (!store) return fatal(store.error().message());
  auto provider = daemon::makeTlsEngineProvider(*dir);
  SystemClock clock;
  cluster::ControllerOptions options;
  options.downAfter = std::chrono::milliseconds(static_cast<long long>(flags.downAfter * 1000));
  options.probeInterval = std::chrono::milliseconds(static_cast<long long>(flags.probeInterval * 1000));
  options.version = BERTH_VERSION;
  if (!flags.noMesh) {
    auto range = mesh::parseIpv4Net(flags.meshRange);
    if (!range) return fatal("--mesh-range: " + range.error().message());
    cluster::MeshOptions mesh;
    mesh.layout.range = *range;
    mesh.layout.hostPrefix = flags.meshHostPrefix;
    mesh.layout.networkPrefix = flags.meshNetworkPrefix;
    if (Status s = mesh.layout.validate(); !s) return fatal(s.error().message());
    if (flags.meshPort < 1 || flags.meshPort > 65535) return fatal("--mesh-port must be 1 to 65535");
    mesh.listenPort = flags.meshPort;
    mesh.tlsDir = flags.ingressTls;
    options.mesh = mesh;
  }
  if (flags.crashAt > 0) {
    // The crash tests' seam: die at the N-th commit or engine step, as a power cut would.
    auto seen = std::make_shared<std::atomic<int>>(0);
    options.crashPoint = [seen, n = flags.crashAt](std::string_view what) {
      if (++*seen == n) {
        log::warn("crash point {} ({}): SIGKILL", n, what);
        ::kill(::getpid(), SIGKILL);
      }
    };
  }
  cluster::Controller controller(**store, *provider, clock, options);

  // Signals are taken by a sigwait below, not by handlers: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  if (Status s = controller.start(); !s) return fatal(s.error().message());
  daemon::Api api(controller, *dir,
                  daemon::ApiInfo{BERTH_VERSION, (*store)->describe(), pki::formatTime(clock.wallNow())});
  daemon::HttpServerOptions serverOptions;
  auto server = daemon::HttpServer::start(
      listeners,
      [&api](const daemon::Request& req, daemon::RequestBody& body, daemon::Responder& r) {
        log::debug("{} {} {} from {}", req.method, req.target, daemon::listenerKindName(req.listener), req.peer);
        api.handle(req, body, r);
      },
      serverOptions);
  if (!server) {
    controller.stop();
    return fatal(server.error().message());
  }
  for (const std::string& url : (*server)->urls()) log::info("listening on {}", url);
  std::cout << "berthd " << BERTH_VERSION << " ready: " << berth::join((*server)->urls(), ", ") << std::endl;

  int sig = 0;
  while (sigwait(&signals, &sig) == 0) {
    if (sig == SIGHUP) continue;
    break;
  }
  log::info("signal {}: stopping (containers keep running)", sig);
  (*server)->stop();
  controller.stop();
  log::info("stopped");
  return 0;
}

}  // namespace

// jemalloc's settings (read before the first allocation when berthd is linked with it; see memory.h).
extern "C" {
const char* malloc_conf = berth::memory::kJemallocConf;
}

int main(int argc, char** argv) {
  berth::memory::tuneForManyThreads(argv);  // first: it may re-execute berthd (see memory.h)
  Flags flags;
  CLI::App app{"berthd: the berth controller — one desired state for a fleet of Docker hosts"};
  app.add_option("--data-dir", flags.dataDir, "Where berthd keeps its state and credentials")
      ->capture_default_str();
  app.add_option("--listen", flags.listen,
                 "unix:///PATH.sock (local administration, mode 0660) or tcp://ADDR:PORT (mutual TLS); repeatable");
  app.add_option("--tls-dir", flags.tlsDir,
                 "ca.pem, cert.pem, key.pem for tcp:// listeners (default DATA_DIR/tls)");
  app.add_option("--metrics-listen", flags.metricsListen, "ADDR:PORT: plain-HTTP /metrics for Prometheus");
  app.add_option("--log-level", flags.logLevel, "debug, info, warn or error")->capture_default_str();
  app.add_option("--down-after", flags.downAfter, "Seconds without an answer before a host is down")
      ->capture_default_str();
  app.add_option("--probe-interval", flags.probeInterval, "Seconds between probes of each host")
      ->capture_default_str();
  app.add_flag("--no-mesh", flags.noMesh,
               "Leave each host's networks to itself: no WireGuard mesh, cross-host DNS or ingress");
  app.add_option("--mesh-range", flags.meshRange, "The cluster's address range; each host gets a subnet of it")
      ->capture_default_str();
  app.add_option("--mesh-host-prefix", flags.meshHostPrefix, "Prefix length of each host's subnet")
      ->capture_default_str();
  app.add_option("--mesh-network-prefix", flags.meshNetworkPrefix,
                 "Prefix length of a network's subnet on a host (slice 0 is the host's own)")
      ->capture_default_str();
  app.add_option("--mesh-port", flags.meshPort, "The UDP port WireGuard listens on, on every host")
      ->capture_default_str();
  app.add_option("--ingress-tls", flags.ingressTls,
                 "DIR of *.pem (certificate chain and key): the HTTP ingress serves TLS on :443 with them");
  app.add_option("--crash-at", flags.crashAt, "")->group("");  // tests: SIGKILL at the N-th commit or step
  app.set_version_flag("--version", std::string("berthd ") + BERTH_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (flags.downAfter <= 0 || flags.probeInterval <= 0) return fatal("--down-after and --probe-interval must be positive");
  return run(flags);
}
