// berth_fleet_bench: berth's controller (berthd) against Docker Swarm mode on the same three
// namespace hosts (the test harness's TestHosts, each with its own dockerd), in one run, with a raw
// floor: the same container creates and starts issued directly on the three engines through berth's
// engine client. bench/fleet builds and runs it; it needs root and prints a Markdown report on stdout
// (progress on stderr).
//
//   berth_fleet_bench [--rounds N] [--kills N] [--noops N] [--replicas N] [--floor-in-flight N]
//                     [--no-swarm] [--berthd-log PATH]
//
// A part that fails (the floor, berth, Swarm) is reported with its error and skipped from then on;
// the others go on, and the report is printed either way. Exit status 0 when nothing failed, else 1.
//
// What is measured, per tool, every time on a fresh stack of REPLICAS (60) busybox containers
// (`sleep 3600`, stop_signal SIGKILL) over the three hosts:
//   deploy    from the deploy command to REPLICAS containers running, as the three engines list them
//             (the same observer for every tool; it polls every 50 ms). The floor: create+start on
//             all three engines at once, REPLICAS/3 per engine, 8 (--floor-in-flight) in flight per engine
//             (as bench/raw_floor.cc), after creating a bridge network per engine as berth does.
//   no-op     the same deploy command again with nothing changed: its wall time (and a check that no
//             container was replaced).
//   kill      SIGKILL of one replica's container through its engine → a replacement running (again
//             REPLICAS running, the killed one not among them), polled every 20 ms; one victim per
//             host in turn.
//   host loss host 3 drops every packet (TestHost::setReachable(false)) → the replicas it ran are
//             running on hosts 1 and 2 (REPLICAS running there). The host is then restored and the
//             run waits until REPLICAS run in total again and the tool sees the host ready ("settle").
//   remove    the remove command → no container of the stack running, and none left at all, on any
//             engine.
// For Swarm, each round also deploys the same replicas with `docker service create` (no network), to
// show what the stack's overlay network costs its deploy.
//
// Rounds are interleaved (floor, berth, Swarm; the order reversed every other round) so that the
// load other work puts on the machine falls on every tool alike; berthd and the swarm stay up (idle)
// while the other tool is measured. Swarm mode: host 1 is the (only) manager, hosts 2 and 3 join as
// workers; the stack is deployed with `docker stack deploy --resolve-image never` from a compose file
// equivalent to berth's, its image named by ID (every host is given the same busybox image first, so
// no task tries a registry: with a tag, every Swarm task tries to pull first and, with no registry
// reachable, waits out a DNS timeout), restart delay 0s (Swarm's default 5s is measured separately)
// and endpoint_mode dnsrr (this kernel has no IPVS, which Swarm's virtual IPs need).
#include <fmt/core.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "parallel.h"
#include "base/files.h"
#include "base/strings.h"
#include "base/time.h"
#include "engine/endpoint.h"
#include "engine/engine.h"
#include "harness/background_process.h"
#include "harness/subprocess.h"
#include "harness/temp_dir.h"
#include "harness/test_host.h"
#include "pki/ca_store.h"

#ifndef BERTH_BINARY
#error "BERTH_BINARY must name the berth binary (bench/CMakeLists.txt sets it)"
#endif
#ifndef BERTHD_BINARY
#error "BERTHD_BINARY must name the berthd binary (bench/CMakeLists.txt sets it)"
#endif

namespace {

using namespace berth;
using namespace berth::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kHosts = 3;
constexpr int kLost = 2;  // the host that is cut off: host 3, a Swarm worker
constexpr const char* kSwarmPool = "10.250.0.0/16";

struct Flags {
  int rounds = 3;
  int kills = 3;
  int noops = 3;
  int replicas = 60;
  int floorInFlight = 8;  // the floor's engine calls in flight per engine (bench/raw_floor.cc's 8)
  bool swarm = true;
  std::string berthdLog = "/tmp/berth_fleet_bench-berthd.log";
};

// Set by SIGINT, SIGTERM or SIGHUP: every wait stops, the run cleans up (stacks removed, swarm left,
// hosts torn down) and prints what it measured. A second signal kills at once (the hosts' holders
// then clean up on their own, see harness/test_host.h).
std::atomic<bool> gInterrupted{false};

extern "C" void onSignal(int sig) {
  if (gInterrupted.exchange(true)) {
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
}

// Like harness/wait.h's waitFor (ok as soon as `check` is, else the last error at the deadline), but
// it gives up at once when the run is interrupted.
Status poll(std::string_view what, const std::function<Status()>& check, std::chrono::milliseconds timeout,
            std::chrono::milliseconds interval) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (gInterrupted) return fail(ErrorCode::Cancelled, "interrupted while waiting for " + std::string(what));
    Status s = check();
    if (s) return s;
    if (Clock::now() >= deadline) {
      return fail(ErrorCode::DeadlineExceeded,
                  "waiting for " + std::string(what) + ": " + s.error().message());
    }
    std::this_thread::sleep_for(interval);
  }
}

double msSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::string loadAverage() {
  auto text = readFile("/proc/loadavg");
  if (!text) return "?";
  const auto parts = split(*text, ' ');
  return parts.size() >= 3 ? parts[0] + " " + parts[1] + " " + parts[2] : std::string(trim(*text));
}

// "17:46:45.567Z": the clock berthd's log uses, to line the two up.
std::string utcNow() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:02}:{:02}:{:02}.{:03}Z", tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

void progress(const std::string& text) {
  static const auto start = Clock::now();
  std::cerr << fmt::format("[{:7.1f}s {}] {}\n", msSince(start) / 1000, utcNow(), text);
}

// CPU time of every process on the machine, to tell how much of the two cores other work took while
// a tool was measured: processes that descend from this one (the hosts, their dockerds and
// containers, berthd, the commands it runs) are ours, everything else is other work. A process that
// starts and ends between two snapshots is not seen (a short compiler run), so this is a lower bound.
struct ProcessCpu {
  std::string name;
  pid_t parent = 0;
  double seconds = 0;
};
using CpuSnapshot = std::map<pid_t, ProcessCpu>;

CpuSnapshot cpuSnapshot() {
  CpuSnapshot out;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename().string();
    if (pid.empty() || !std::isdigit(static_cast<unsigned char>(pid[0]))) continue;
    auto stat = readFile(entry.path() / "stat");
    if (!stat) continue;
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses; the fields after the last
    // ')' are fixed: state, ppid, ... utime (14th of the line) and stime (15th).
    const auto open = stat->find('(');
    const auto close = stat->rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    const auto fields = split(std::string_view(*stat).substr(close + 2), ' ');
    if (fields.size() < 13) continue;
    ProcessCpu p;
    p.name = stat->substr(open + 1, close - open - 1);
    p.parent = static_cast<pid_t>(std::atol(fields[1].c_str()));
    // utime + stime, and cutime + cstime: the children it has reaped (runc under containerd, a
    // compiler under ninja), which are gone by the next snapshot.
    p.seconds = (std::atof(fields[11].c_str()) + std::atof(fields[12].c_str()) +
                 std::atof(fields[13].c_str()) + std::atof(fields[14].c_str())) /
                tick;
    out[static_cast<pid_t>(std::atol(pid.c_str()))] = std::move(p);
  }
  return out;
}

// Whether `pid` is one of `roots` or descends from one, by the parents in `snap`.
bool descends(const CpuSnapshot& snap, pid_t pid, const std::set<pid_t>& roots) {
  pid_t at = pid;
  for (int depth = 0; depth < 64 && at > 1; ++depth) {
    if (roots.count(at) != 0) return true;
    auto it = snap.find(at);
    if (it == snap.end()) return false;
    at = it->second.parent;
  }
  return false;
}

// CPU seconds a process used between the snapshots.
double used(const CpuSnapshot& before, pid_t pid, const ProcessCpu& now) {
  auto was = before.find(pid);
  const double d =
      was != before.end() && was->second.name == now.name ? now.seconds - was->second.seconds : now.seconds;
  return std::max(d, 0.0);
}

// CPU seconds that the processes under `roots` used between the snapshots.
double cpuUnder(const CpuSnapshot& before, const CpuSnapshot& after, const std::set<pid_t>& roots) {
  double total = 0;
  for (const auto& [pid, p] : after) {
    if (descends(after, pid, roots)) total += used(before, pid, p);
  }
  return total;
}

// CPU seconds that other work used between the snapshots, by process name: everything that does not
// descend from this process, kernel threads aside (their work is anyone's: softirqs, I/O).
std::map<std::string, double> otherCpu(const CpuSnapshot& before, const CpuSnapshot& after) {
  const std::set<pid_t> self{::getpid()};
  std::map<std::string, double> out;
  for (const auto& [pid, p] : after) {
    if (pid == 2 || p.parent == 2 || descends(after, pid, self)) continue;
    if (const double d = used(before, pid, p); d > 0) out[p.name] += d;
  }
  return out;
}

// ---- results

class Results {
 public:
  void add(const std::string& metric, const std::string& tool, double ms) {
    std::lock_guard lock(mu_);
    samples_[{metric, tool}].push_back(ms);
  }
  std::vector<double> get(const std::string& metric, const std::string& tool) const {
    std::lock_guard lock(mu_);
    auto it = samples_.find({metric, tool});
    return it == samples_.end() ? std::vector<double>{} : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::vector<double>> samples_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string duration(double ms) {
  if (ms < 1000) return fmt::format("{:.0f} ms", ms);
  return fmt::format("{:.2f} s", ms / 1000);
}

// "1.23 s (1.10–1.40, n=3)"
std::string cell(const std::vector<double>& v) {
  if (v.empty()) return "—";
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  if (v.size() == 1) return duration(v[0]) + " (n=1)";
  return fmt::format("{} ({}–{}, n={})", duration(median(v)), duration(*lo), duration(*hi), v.size());
}

std::string ratio(const std::vector<double>& num, const std::vector<double>& den) {
  if (num.empty() || den.empty()) return "—";
  return fmt::format("{:.2f}", median(num) / std::max(median(den), 1.0));
}

// ---- the fleet

struct Census {
  std::array<std::vector<std::string>, kHosts> ids{};  // running, per host
  int stopped = 0;                                     // listed but not running (all: true only)
  int everything() const { return total() + stopped; }
  int total() const {
    int n = 0;
    for (const auto& v : ids) n += static_cast<int>(v.size());
    return n;
  }
  int on(int host) const { return static_cast<int>(ids[static_cast<std::size_t>(host)].size()); }
  bool has(const std::string& id) const {
    for (const auto& v : ids) {
      if (std::find(v.begin(), v.end(), id) != v.end()) return true;
    }
    return false;
  }
  std::string describe() const {
    std::vector<std::string> parts;
    for (int i = 0; i < kHosts; ++i) parts.push_back(fmt::format("h{} {}", i + 1, on(i)));
    return join(parts, ", ");
  }
};

class Bench {
 public:
  explicit Bench(Flags flags) : flags_(std::move(flags)) {}
  ~Bench() { cleanUp(); }

  int run();

 private:
  // Setup.
  Status startFleet();
  Status unifyBusybox();
  Status startBerthd();
  Status addHosts();
  Status waitBerthHostsReady(std::chrono::milliseconds timeout);
  Status swarmInit();
  Status waitSwarmNodesReady(std::chrono::milliseconds timeout);

  // Commands.
  Result<CommandResult> berth(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 300s);
  Result<CommandResult> docker(int host, const std::vector<std::string>& args,
                               std::chrono::milliseconds timeout = 120s);

  // Observation: the running containers with `label` on each engine (all: any state).
  Result<Census> census(const std::string& label, bool all = false);
  Status waitCensus(const std::string& what, const std::string& label, bool all,
                    const std::function<bool(const Census&)>& done, std::chrono::milliseconds timeout,
                    std::chrono::milliseconds interval, Census* last = nullptr);

  // One tool's cycle on a fresh stack.
  Status floorCycle(int round);
  Status berthCycle(int round);
  Status swarmCycle(int round);
  Status swarmDefaultDelay();
  void purgeFloor(const std::string& project);
  void noteDeployCpu(const std::string& tool, const CpuSnapshot& before);
  Result<std::pair<double, double>> startSpread(const std::string& tool, const Census& c,
                                                std::chrono::system_clock::time_point wall0);

  // Shared steps. deployCmd runs while the engines are polled.
  Status timedDeploy(const std::string& tool, const std::string& label,
                     const std::function<Result<CommandResult>()>& deployCmd);
  // The same deploy command again, --noops times: timed, and no container may be replaced.
  Status noopDeploys(const std::string& tool, const std::string& what, const std::string& label,
                     const std::function<Result<CommandResult>()>& deployCmd);
  Status killRounds(const std::string& tool, const std::string& metric, const std::string& label, int kills,
                    int replicas);
  Status hostLoss(const std::string& tool, const std::string& label, const std::function<Status()>& ready);
  Status timedRemove(const std::string& tool, const std::string& label,
                     const std::function<Result<CommandResult>()>& removeCmd);

  void cleanUpBerth();
  void cleanUpSwarm();
  void cleanUp();
  void report();

  Flags flags_;
  Results results_;
  TempDir work_{"berth-fleet-bench-"};
  fs::path configDir_;
  std::vector<std::unique_ptr<TestHost>> hosts_;
  std::vector<std::unique_ptr<engine::Engine>> engines_;
  TestHost* cli_ = nullptr;  // the CLI's engine (the harness's shared engine)
  std::unique_ptr<BackgroundProcess> berthd_;
  std::string busyboxId_;
  bool swarmUp_ = false;
  std::string berthError_;
  std::string swarmError_;
  std::string floorError_;
  std::vector<std::string> notes_;
  std::map<std::string, std::vector<int>> moved_;
  std::atomic<int> stackRmRefused_{0};  // `docker stack rm` refused to remove the network
  int stackRms_ = 0;                    // replicas on host 3 when it was lost, per tool
  std::vector<std::string> loads_;
  struct Busy {
    double wallSeconds = 0;
    double cpuSeconds = 0;  // used by other work meanwhile
    std::map<std::string, double> byName;
  };
  std::map<std::string, Busy> busy_;   // per tool, over its cycles
  std::set<std::string> berthStacks_;  // deployed and not yet removed
  std::set<std::string> swarmStacks_;
  bool cleanedUp_ = false;
  std::string dockerdVersion_;
  std::string dockerCliVersion_;
  std::string berthVersion_;
};

Result<CommandResult> Bench::berth(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> full{"-H", cli_->unixSocketUrl()};
  full.insert(full.end(), args.begin(), args.end());
  return runBinary(BERTH_BINARY, full,
                   {.env = {"XDG_CONFIG_HOME=" + configDir_.string(),
                            "BERTH_CONTROLLER=unix://" + (work_.path() / "berthd.sock").string()},
                    .timeout = timeout,
                    .workingDirectory = work_.path()});
}

Result<CommandResult> Bench::docker(int host, const std::vector<std::string>& args,
                                    std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{"docker", "-H", hosts_.at(static_cast<std::size_t>(host))->unixSocketUrl()};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, {.env = {"DOCKER_CONFIG=" + (work_.path() / "docker-cli").string()},
                           .unsetEnv = {"DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH",
                                        "DOCKER_CONTEXT", "DOCKER_API_VERSION"},
                           .timeout = timeout,
                           .workingDirectory = work_.path()});
}

// A command that must succeed: its output, or an error with the whole story.
Result<std::string> succeeded(const Result<CommandResult>& r, const std::string& what) {
  if (!r) return fail(r.error().withContext(what));
  if (!r->succeeded()) return fail(ErrorCode::Internal, what + ": " + r->describe());
  return r->out;
}

Status Bench::startFleet() {
  progress("starting the CLI's engine and three hosts");
  BERTH_ASSIGN_OR_RETURN(cli_, trySharedEngine());
  configDir_ = work_.path() / "config";
  BERTH_TRY(
      succeeded(runBinary(BERTH_BINARY, {"ca", "init"}, {.env = {"XDG_CONFIG_HOME=" + configDir_.string()}}),
                "berth ca init"));
  BERTH_ASSIGN_OR_RETURN(auto ca, pki::CaStore::open(configDir_ / "berth" / "ca"));
  const pki::Authority authority = ca.authority();
  // In parallel: each host takes a few hundred milliseconds.
  std::array<std::optional<Result<std::unique_ptr<TestHost>>>, kHosts> started;
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < kHosts; ++i) {
      threads.emplace_back([&, i] {
        started[static_cast<std::size_t>(i)] =
            TestHost::start(HostOptions{.hostname = "node-" + std::to_string(i + 1),
                                        .ssh = false,
                                        .tls = true,
                                        .tlsAuthority = authority});
      });
    }
  }
  for (auto& s : started) {
    if (!*s) return fail(s->error().withContext("start a test host"));
    hosts_.push_back(std::move(**s));
  }
  for (const auto& h : hosts_) {
    BERTH_ASSIGN_OR_RETURN(engine::Endpoint endpoint, engine::parseEndpoint(h->unixSocketUrl()));
    BERTH_ASSIGN_OR_RETURN(auto e, engine::makeEngine(endpoint));
    engines_.push_back(std::move(e));
  }
  return unifyBusybox();
}

// Every harness host imports busybox from a tar of its own, so each has a different image ID; give
// the three hosts the CLI engine's image, so that berth sends nothing (every host has the deployed
// image) and Swarm can name it by ID (no registry lookup).
Status Bench::unifyBusybox() {
  BERTH_ASSIGN_OR_RETURN(engine::Endpoint endpoint, engine::parseEndpoint(cli_->unixSocketUrl()));
  BERTH_ASSIGN_OR_RETURN(auto cli, engine::makeEngine(endpoint));
  BERTH_ASSIGN_OR_RETURN(engine::ImageInspect image, cli->inspectImage("busybox:latest"));
  BERTH_ASSIGN_OR_RETURN(std::string tar, cli->saveImages({"busybox:latest"}));
  for (int i = 0; i < kHosts; ++i) {
    engine::Engine& e = *engines_[static_cast<std::size_t>(i)];
    BERTH_TRY(e.loadImage(tar));
    BERTH_ASSIGN_OR_RETURN(engine::ImageInspect loaded, e.inspectImage("busybox:latest"));
    if (loaded.id != image.id) {
      return fail(ErrorCode::Internal,
                  fmt::format("host {}: busybox:latest is {} after loading {}", i + 1, loaded.id, image.id));
    }
  }
  busyboxId_ = image.id;
  return ok();
}

Status Bench::startBerthd() {
  progress("starting berthd");
  const fs::path data = work_.path() / "data";
  BERTH_ASSIGN_OR_RETURN(
      berthd_,
      BackgroundProcess::start({BERTHD_BINARY, "--data-dir", data.string(), "--listen",
                                "unix://" + (work_.path() / "berthd.sock").string(), "--log-level", "info"}));
  if (!berthd_->waitForOutput("ready:", 30s))
    return fail(ErrorCode::Unavailable, "berthd: " + berthd_->describe());
  return ok();
}

Status Bench::addHosts() {
  for (int i = 0; i < kHosts; ++i) {
    BERTH_TRY(succeeded(berth({"host", "add", fmt::format("h{}", i + 1), "--url",
                               hosts_[static_cast<std::size_t>(i)]->tlsUrl()}),
                        fmt::format("berth host add h{}", i + 1)));
  }
  return waitBerthHostsReady(30s);
}

Status Bench::waitBerthHostsReady(std::chrono::milliseconds timeout) {
  return poll(
      "every host ready in berth",
      [&]() -> Status {
        BERTH_ASSIGN_OR_RETURN(std::string out, succeeded(berth({"host", "ls"}, 30s), "berth host ls"));
        for (int i = 0; i < kHosts; ++i) {
          if (out.find(fmt::format("h{} ", i + 1)) == std::string::npos)
            return fail(ErrorCode::NotFound, out);
        }
        if (out.find("down") != std::string::npos || out.find("unknown") != std::string::npos)
          return fail(ErrorCode::Unavailable, out);
        return ok();
      },
      timeout, 200ms);
}

Status Bench::swarmInit() {
  progress("swarm init on host 1, hosts 2 and 3 join");
  const std::string a0 = hosts_[0]->address();
  BERTH_TRY(succeeded(docker(0, {"swarm", "init", "--advertise-addr", a0, "--listen-addr", a0 + ":2377",
                                 "--default-addr-pool", kSwarmPool}),
                      "docker swarm init (host 1)"));
  swarmUp_ = true;
  BERTH_ASSIGN_OR_RETURN(std::string token, succeeded(docker(0, {"swarm", "join-token", "-q", "worker"}),
                                                      "docker swarm join-token"));
  token = std::string(trim(token));
  for (int i = 1; i < kHosts; ++i) {
    const std::string a = hosts_[static_cast<std::size_t>(i)]->address();
    BERTH_TRY(succeeded(docker(i, {"swarm", "join", "--token", token, "--advertise-addr", a, "--listen-addr",
                                   a + ":2377", a0 + ":2377"}),
                        fmt::format("docker swarm join (host {})", i + 1)));
  }
  return waitSwarmNodesReady(60s);
}

Status Bench::waitSwarmNodesReady(std::chrono::milliseconds timeout) {
  return poll(
      "every swarm node ready",
      [&]() -> Status {
        BERTH_ASSIGN_OR_RETURN(
            std::string out,
            succeeded(docker(0, {"node", "ls", "--format", "{{.Status}} {{.Availability}}"}, 30s),
                      "docker node ls"));
        int ready = 0;
        for (const std::string& line : split(out, '\n')) {
          if (trim(line) == "Ready Active") ++ready;
        }
        if (ready != kHosts) return fail(ErrorCode::Unavailable, out);
        return ok();
      },
      timeout, 200ms);
}

Result<Census> Bench::census(const std::string& label, bool all) {
  Census c;
  for (int i = 0; i < kHosts; ++i) {
    engine::ListContainersOptions o;
    o.all = all;
    o.filters = {{"label", {label}}};
    BERTH_ASSIGN_OR_RETURN(auto list, engines_[static_cast<std::size_t>(i)]->listContainers(o));
    for (const auto& s : list) {
      if (s.state == engine::ContainerStatus::Running) {
        c.ids[static_cast<std::size_t>(i)].push_back(s.id);
      } else if (all) {
        ++c.stopped;
      }
    }
    std::sort(c.ids[static_cast<std::size_t>(i)].begin(), c.ids[static_cast<std::size_t>(i)].end());
  }
  return c;
}

Status Bench::waitCensus(const std::string& what, const std::string& label, bool all,
                         const std::function<bool(const Census&)>& done, std::chrono::milliseconds timeout,
                         std::chrono::milliseconds interval, Census* last) {
  Census seen;
  Status s = poll(
      what,
      [&]() -> Status {
        BERTH_ASSIGN_OR_RETURN(seen, census(label, all));
        if (done(seen)) return ok();
        return fail(ErrorCode::NotFound, seen.describe());
      },
      timeout, interval);
  if (last != nullptr) *last = seen;
  return s;
}

// ---- shared steps

// The CPU that the three hosts (dockerd, containerd, shims, runc; Swarm's manager and agents) and
// berthd used from `before` until now, recorded (in CPU milliseconds) as "cpu-engines" and
// "cpu-berthd".
void Bench::noteDeployCpu(const std::string& tool, const CpuSnapshot& before) {
  const CpuSnapshot after = cpuSnapshot();
  std::set<pid_t> holders;
  for (const auto& h : hosts_) holders.insert(h->holderPid());
  results_.add("cpu-engines", tool, 1000 * cpuUnder(before, after, holders));
  if (tool == "berth" && berthd_)
    results_.add("cpu-berthd", tool, 1000 * cpuUnder(before, after, {berthd_->pid()}));
}

// When the containers of a deploy started, as their engines recorded it (State.StartedAt), from the
// deploy's start: the first and the last, recorded as "first-start" and "last-start". Untimed.
Result<std::pair<double, double>> Bench::startSpread(const std::string& tool, const Census& c,
                                                     std::chrono::system_clock::time_point wall0) {
  std::optional<double> first;
  std::optional<double> last;
  for (int i = 0; i < kHosts; ++i) {
    for (const std::string& id : c.ids[static_cast<std::size_t>(i)]) {
      BERTH_ASSIGN_OR_RETURN(engine::ContainerInspect inspect,
                             engines_[static_cast<std::size_t>(i)]->inspectContainer(id));
      const auto started = parseRfc3339(inspect.state.startedAt);
      if (!started) {
        return fail(ErrorCode::Internal, "container " + id + ": StartedAt " + inspect.state.startedAt);
      }
      const double ms = std::chrono::duration<double, std::milli>(*started - wall0).count();
      first = std::min(first.value_or(ms), ms);
      last = std::max(last.value_or(ms), ms);
    }
  }
  if (!first || !last) return fail(ErrorCode::NotFound, tool + ": no container to inspect");
  results_.add("first-start", tool, *first);
  results_.add("last-start", tool, *last);
  return std::make_pair(*first, *last);
}

Status Bench::noopDeploys(const std::string& tool, const std::string& what, const std::string& label,
                          const std::function<Result<CommandResult>()>& deployCmd) {
  BERTH_ASSIGN_OR_RETURN(Census before, census(label));
  for (int i = 0; i < flags_.noops; ++i) {
    const auto t0 = Clock::now();
    BERTH_TRY(succeeded(deployCmd(), what));
    results_.add("noop", tool, msSince(t0));
  }
  BERTH_ASSIGN_OR_RETURN(Census after, census(label));
  if (after.ids != before.ids) {
    notes_.push_back(fmt::format("{}: a no-op re-deploy replaced containers ({})", tool == "swarm" ? "Swarm" : tool,
                                 after.describe()));
  }
  return ok();
}

Status Bench::timedDeploy(const std::string& tool, const std::string& label,
                          const std::function<Result<CommandResult>()>& deployCmd) {
  const int n = flags_.replicas;
  std::optional<Result<CommandResult>> cmd;
  std::atomic<double> cmdMs{0};
  std::atomic<bool> cmdFailed{false};  // stop polling: the command has already failed
  const CpuSnapshot cpu0 = cpuSnapshot();
  const auto wall0 = std::chrono::system_clock::now();
  const auto t0 = Clock::now();
  double runningMs = 0;
  Status waited = ok();
  {
    std::jthread runner([&] {
      cmd = deployCmd();
      cmdMs = msSince(t0);
      cmdFailed = !*cmd || !(*cmd)->succeeded();
    });
    waited = waitCensus(
        fmt::format("{} running", n), label, false,
        [&](const Census& c) { return cmdFailed || c.total() >= n; }, 300s, 50ms);
    runningMs = msSince(t0);
  }
  if (!*cmd) return fail(cmd->error().withContext(tool + " deploy"));
  if (!(*cmd)->succeeded()) return fail(ErrorCode::Internal, tool + " deploy: " + (*cmd)->describe());
  BERTH_TRY(waited);
  results_.add("deploy", tool, runningMs);
  results_.add("deploy-cmd", tool, cmdMs);
  noteDeployCpu(tool, cpu0);
  BERTH_ASSIGN_OR_RETURN(Census c, census(label));
  BERTH_ASSIGN_OR_RETURN(auto spread, startSpread(tool, c, wall0));
  progress(fmt::format("{}: {} running after {} (command {}); {}; started from {} to {}", tool, n,
                       duration(runningMs), duration(cmdMs), c.describe(), duration(spread.first),
                       duration(spread.second)));
  return ok();
}

Status Bench::killRounds(const std::string& tool, const std::string& metric, const std::string& label,
                         int kills, int replicas) {
  for (int k = 0; k < kills; ++k) {
    BERTH_ASSIGN_OR_RETURN(Census before, census(label));
    // Victims on each host in turn (skipping a host with none).
    int host = k % kHosts;
    for (int tries = 0; tries < kHosts && before.on(host) == 0; ++tries) host = (host + 1) % kHosts;
    if (before.on(host) == 0) return fail(ErrorCode::NotFound, tool + ": no running replica to kill");
    const std::string victim = before.ids[static_cast<std::size_t>(host)].front();
    const auto t0 = Clock::now();
    BERTH_TRY(engines_[static_cast<std::size_t>(host)]->killContainer(victim, "KILL"));
    Status replaced = waitCensus(
        "a replacement of " + victim.substr(0, 12) + " running", label, false,
        [&](const Census& c) { return c.total() >= replicas && !c.has(victim); }, 60s, 20ms);
    if (!replaced) return fail(replaced.error().withContext(tool + " kill"));
    const double ms = msSince(t0);
    results_.add(metric, tool, ms);
    progress(fmt::format("{}: killed a container on h{}, replacement running after {}", tool, host + 1,
                         duration(ms)));
  }
  return ok();
}

Status Bench::hostLoss(const std::string& tool, const std::string& label,
                       const std::function<Status()>& ready) {
  const int n = flags_.replicas;
  BERTH_ASSIGN_OR_RETURN(Census before, census(label));
  const int moved = before.on(kLost);
  if (moved == 0)
    return fail(ErrorCode::NotFound, tool + ": no replica on host 3 to lose: " + before.describe());
  TestHost& lost = *hosts_[kLost];
  const auto t0 = Clock::now();
  BERTH_TRY(lost.setReachable(false));
  Census after;
  Status s = waitCensus(
      "host 3's replicas running on hosts 1 and 2", label, false,
      [&](const Census& c) { return c.on(0) + c.on(1) >= n; }, 180s, 100ms, &after);
  const double ms = msSince(t0);
  // Restore it whatever happened, then wait until things settle.
  const auto t1 = Clock::now();
  Status restored = lost.setReachable(true);
  if (!s) return fail(s.error().withContext(tool + " host loss"));
  BERTH_TRY(restored);
  results_.add("hostloss", tool, ms);
  progress(fmt::format("{}: host 3 lost with {} replicas; running elsewhere after {} ({})", tool, moved,
                       duration(ms), after.describe()));
  moved_[tool].push_back(moved);
  BERTH_TRY(ready());
  Census settled;
  Status back = waitCensus(
      fmt::format("exactly {} running after host 3 returned", n), label, false,
      [&](const Census& c) { return c.total() == n; }, 180s, 100ms, &settled);
  if (!back) return fail(back.error().withContext(tool + " after host 3 returned"));
  const double settle = msSince(t1);
  results_.add("settle", tool, settle);
  progress(fmt::format("{}: host 3 back; {} running again after {} ({})", tool, n, duration(settle),
                       settled.describe()));
  return ok();
}

Status Bench::timedRemove(const std::string& tool, const std::string& label,
                          const std::function<Result<CommandResult>()>& removeCmd) {
  const auto t0 = Clock::now();
  std::optional<Result<CommandResult>> cmd;
  Status gone = ok();
  double ms = 0;
  std::optional<double> stoppedMs;
  std::atomic<bool> cmdFailed{false};
  {
    std::jthread runner([&] {
      cmd = removeCmd();
      cmdFailed = !*cmd || !(*cmd)->succeeded();
    });
    gone = waitCensus(
        "no container left", label, true,
        [&](const Census& c) {
          if (c.total() == 0 && !stoppedMs) stoppedMs = msSince(t0);
          return cmdFailed || c.everything() == 0;
        },
        180s, 50ms);
    ms = msSince(t0);
  }
  if (!*cmd) return fail(cmd->error().withContext(tool + " remove"));
  if (!(*cmd)->succeeded()) return fail(ErrorCode::Internal, tool + " remove: " + (*cmd)->describe());
  BERTH_TRY(gone);
  results_.add("remove-stopped", tool, stoppedMs.value_or(ms));
  results_.add("remove", tool, ms);
  progress(fmt::format("{}: none running after {}, none left after {}", tool,
                       duration(stoppedMs.value_or(ms)), duration(ms)));
  return ok();
}

// ---- the raw floor

Status Bench::floorCycle(int round) {
  const std::string project = fmt::format("floor{}", round);
  const std::string label = "bench.floor=" + project;
  const int perHost = flags_.replicas / kHosts;
  std::array<Status, kHosts> status{ok(), ok(), ok()};
  const CpuSnapshot cpu0 = cpuSnapshot();
  const auto wall0 = std::chrono::system_clock::now();
  const auto t0 = Clock::now();
  {
    std::vector<std::jthread> threads;
    for (int h = 0; h < kHosts; ++h) {
      threads.emplace_back([&, h] {
        engine::Engine& e = *engines_[static_cast<std::size_t>(h)];
        engine::NetworkCreate net;
        net.name = project + "_default";
        net.labels = {{"bench.floor", project}};
        if (auto r = e.createNetwork(net); !r) {
          status[static_cast<std::size_t>(h)] = fail(r.error());
          return;
        }
        status[static_cast<std::size_t>(h)] =
            bench::parallel(perHost, flags_.floorInFlight, [&](int i) -> Status {
              engine::ContainerCreate c;
              c.name = fmt::format("{}-s-{}", project, h * perHost + i + 1);
              c.config.image = "busybox:latest";
              c.config.cmd = std::vector<std::string>{"sleep", "3600"};
              c.config.stopSignal = "SIGKILL";
              c.config.labels = {{"bench.floor", project}};
              c.hostConfig.networkMode = net.name;
              c.networks[net.name].aliases = {c.name, "s"};
              BERTH_ASSIGN_OR_RETURN(auto created, e.createContainer(c));
              return e.startContainer(created.id);
            });
      });
    }
  }
  const double ms = msSince(t0);
  for (const Status& s : status) {
    if (!s) {
      purgeFloor(project);
      return fail(s.error().withContext("raw floor"));
    }
  }
  BERTH_ASSIGN_OR_RETURN(Census c, census(label));
  if (c.total() != perHost * kHosts) {
    purgeFloor(project);
    return fail(ErrorCode::Internal, "raw floor: running " + c.describe());
  }
  const std::string suffix = round == 0 ? "-preswarm" : "";
  results_.add("deploy" + suffix, "floor", ms);
  noteDeployCpu("floor" + suffix, cpu0);
  BERTH_ASSIGN_OR_RETURN(auto spread, startSpread("floor" + suffix, c, wall0));
  progress(fmt::format("floor: {} running after {} ({}); started from {} to {}", c.total(), duration(ms),
                       c.describe(), duration(spread.first), duration(spread.second)));
  // Teardown (timed too: force-remove, 8 in flight per engine, and the network).
  const auto t1 = Clock::now();
  {
    std::vector<std::jthread> threads;
    for (int h = 0; h < kHosts; ++h) {
      threads.emplace_back([&, h] {
        engine::Engine& e = *engines_[static_cast<std::size_t>(h)];
        const auto& ids = c.ids[static_cast<std::size_t>(h)];
        status[static_cast<std::size_t>(h)] =
            bench::parallel(static_cast<int>(ids.size()), 8, [&](int i) -> Status {
              return e.removeContainer(ids[static_cast<std::size_t>(i)], {.force = true});
            });
        if (status[static_cast<std::size_t>(h)])
          status[static_cast<std::size_t>(h)] = e.removeNetwork(project + "_default");
      });
    }
  }
  const double rm = msSince(t1);
  for (const Status& s : status) {
    if (!s) {
      purgeFloor(project);
      return fail(s.error().withContext("raw floor teardown"));
    }
  }
  results_.add("remove" + suffix, "floor", rm);
  return ok();
}

// After a failure: whatever the floor left, so that it does not weigh on the other tools' rounds.
void Bench::purgeFloor(const std::string& project) {
  for (auto& e : engines_) {
    engine::ListContainersOptions o;
    o.all = true;
    o.filters = {{"label", {"bench.floor=" + project}}};
    if (auto list = e->listContainers(o)) {
      for (const auto& c : *list) (void)e->removeContainer(c.id, {.force = true});
    }
    (void)e->removeNetwork(project + "_default");
  }
}

// ---- berth

Status Bench::berthCycle(int round) {
  BERTH_TRY(waitBerthHostsReady(120s));
  const std::string stack = fmt::format("bench{}", round);
  const std::string label = "io.berth.stack=" + stack;
  const fs::path file = work_.path() / "berth.yaml";
  BERTH_TRY(writeFileAtomic(file, fmt::format("services:\n"
                                              "  s:\n"
                                              "    image: busybox\n"
                                              "    command: [sleep, \"3600\"]\n"
                                              "    stop_signal: SIGKILL\n"
                                              "    deploy: {{replicas: {}}}\n",
                                              flags_.replicas)));
  const auto deploy = [&] { return berth({"stack", "deploy", "-c", file.string(), stack}); };
  berthStacks_.insert(stack);
  BERTH_TRY(timedDeploy("berth", label, deploy));
  BERTH_TRY(noopDeploys("berth", "berth no-op deploy", label, deploy));
  BERTH_TRY(killRounds("berth", "kill", label, flags_.kills, flags_.replicas));
  BERTH_TRY(hostLoss("berth", label, [&] { return waitBerthHostsReady(180s); }));
  BERTH_TRY(timedRemove("berth", label, [&] { return berth({"stack", "rm", stack, "--timeout", "120"}); }));
  berthStacks_.erase(stack);
  return ok();
}

// ---- Swarm mode

Status Bench::swarmCycle(int round) {
  BERTH_TRY(waitSwarmNodesReady(120s));
  const std::string stack = fmt::format("swarm{}", round);
  const std::string label = "com.docker.stack.namespace=" + stack;
  const fs::path file = work_.path() / "swarm.yaml";
  BERTH_TRY(writeFileAtomic(file, fmt::format("version: \"3.8\"\n"
                                              "services:\n"
                                              "  s:\n"
                                              "    image: {}\n"
                                              "    command: [sleep, \"3600\"]\n"
                                              "    stop_signal: SIGKILL\n"
                                              "    deploy:\n"
                                              "      replicas: {}\n"
                                              "      endpoint_mode: dnsrr\n"
                                              "      restart_policy: {{condition: any, delay: 0s}}\n",
                                              busyboxId_, flags_.replicas)));
  const auto deploy = [&] {
    return docker(
        0, {"stack", "deploy", "--detach=true", "--resolve-image", "never", "-c", file.string(), stack});
  };
  swarmStacks_.insert(stack);
  BERTH_TRY(timedDeploy("swarm", label, deploy));
  BERTH_TRY(noopDeploys("swarm", "docker stack deploy (no-op)", label, deploy));
  BERTH_TRY(killRounds("swarm", "kill", label, flags_.kills, flags_.replicas));
  BERTH_TRY(hostLoss("swarm", label, [&] { return waitSwarmNodesReady(180s); }));
  // `docker stack rm` removes the services, then at once the network, which Swarm refuses while the
  // services' tasks are still attached ("network ... is in use by task ..."; exit 1): the services go
  // all the same, so time them, and remove the network afterwards.
  BERTH_TRY(timedRemove("swarm", label, [&]() -> Result<CommandResult> {
    auto r = docker(0, {"stack", "rm", stack});
    if (r && !r->succeeded() && r->err.find("is in use by task") != std::string::npos) {
      ++stackRmRefused_;
      r->exitCode = 0;
    }
    return r;
  }));
  ++stackRms_;
  swarmStacks_.erase(stack);
  // The stack's overlay network goes a moment after its containers; wait, untimed, so that the next
  // round starts clean.
  const std::string network = stack + "_default";
  BERTH_TRY(poll(
      "network " + network + " removed",
      [&]() -> Status {
        BERTH_ASSIGN_OR_RETURN(
            std::string out,
            succeeded(docker(0, {"network", "ls", "--format", "{{.Name}}"}), "docker network ls"));
        if (out.find(network) == std::string::npos) return ok();
        auto rm = docker(0, {"network", "rm", network});
        return fail(ErrorCode::Conflict, rm ? rm->describe() : rm.error().message());
      },
      60s, 200ms));

  // The same replicas as a plain service on no network (`docker service create`): what the stack's
  // overlay network costs Swarm's deploy.
  const std::string svc = fmt::format("service{}", round);
  swarmStacks_.insert("service:" + svc);
  BERTH_TRY(timedDeploy("swarm-service", "com.docker.swarm.service.name=" + svc, [&] {
    return docker(0, {"service", "create", "--detach", "--name", svc, "--replicas",
                      std::to_string(flags_.replicas), "--no-resolve-image", "--restart-delay", "0s",
                      "--endpoint-mode", "dnsrr", "--stop-signal", "SIGKILL", busyboxId_, "sleep", "3600"});
  }));
  BERTH_TRY(timedRemove("swarm-service", "com.docker.swarm.service.name=" + svc, [&] {
    return docker(0, {"service", "rm", svc});
  }));
  swarmStacks_.erase("service:" + svc);
  return ok();
}

// Swarm's default restart delay (5 s): a small service with the default restart policy.
Status Bench::swarmDefaultDelay() {
  const std::string name = "delay5";
  const std::string label = "com.docker.swarm.service.name=" + name;
  BERTH_TRY(succeeded(
      docker(0, {"service", "create", "--detach", "--name", name, "--replicas", "3", "--no-resolve-image",
                 "--endpoint-mode", "dnsrr", "--stop-signal", "SIGKILL", busyboxId_, "sleep", "3600"}),
      "docker service create (default restart delay)"));
  swarmStacks_.insert("service:" + name);
  BERTH_TRY(waitCensus(
      "3 running", label, false, [](const Census& c) { return c.total() >= 3; }, 120s, 50ms));
  BERTH_TRY(killRounds("swarm", "kill-default", label, flags_.kills, 3));
  BERTH_TRY(succeeded(docker(0, {"service", "rm", name}), "docker service rm"));
  swarmStacks_.erase("service:" + name);
  return waitCensus(
      "no container left", label, true, [](const Census& c) { return c.total() == 0; }, 120s, 100ms);
}

// ---- clean-up and report

// After a failure of berth's part, and at the end: its stacks go, so that they do not weigh on the
// rounds that follow. Host 3 may still be cut off (setReachable(true) fails when it is not).
void Bench::cleanUpBerth() {
  if (hosts_.size() > kLost) (void)hosts_[kLost]->setReachable(true);
  for (const std::string& stack : berthStacks_) {
    progress("clean-up: berth stack rm " + stack);
    auto r = berth({"stack", "rm", stack, "--timeout", "60"}, 90s);
    if (!r || !r->succeeded())
      progress("berth stack rm " + stack + ": " + (r ? r->describe() : r.error().message()));
  }
  berthStacks_.clear();
}

// After a failure of Swarm's part, and at the end: its stacks and services go, and every node leaves
// the swarm.
void Bench::cleanUpSwarm() {
  if (hosts_.size() > kLost) (void)hosts_[kLost]->setReachable(true);
  if (swarmUp_) {
    for (const std::string& stack : swarmStacks_) {
      progress("clean-up: swarm " + stack);
      if (startsWith(stack, "service:")) {
        (void)docker(0, {"service", "rm", stack.substr(8)}, 60s);
      } else {
        (void)docker(0, {"stack", "rm", stack}, 60s);
      }
    }
    progress("clean-up: docker swarm leave --force on every node");
    for (int i = kHosts - 1; i >= 0; --i) {
      auto r = docker(i, {"swarm", "leave", "--force"}, 60s);
      if (!r || !r->succeeded()) {
        progress(fmt::format("host {}: docker swarm leave --force: {}", i + 1,
                             r ? r->describe() : r.error().message()));
      }
    }
    swarmUp_ = false;
  }
  swarmStacks_.clear();
}

void Bench::cleanUp() {
  if (cleanedUp_) return;
  cleanedUp_ = true;
  cleanUpBerth();
  cleanUpSwarm();
  if (berthd_) {
    berthd_->signal(SIGTERM);
    if (!berthd_->wait(30s)) berthd_->signal(SIGKILL);
    std::ofstream(flags_.berthdLog) << berthd_->out() << berthd_->err();
  }
}

std::string firstLine(const std::string& text) {
  const auto lines = split(text, '\n');
  return lines.empty() ? std::string() : std::string(trim(lines.front()));
}

void Bench::report() {
  struct utsname u {};
  ::uname(&u);
  std::string cpu = "?";
  if (auto info = readFile("/proc/cpuinfo")) {
    for (const std::string& line : split(*info, '\n')) {
      if (startsWith(line, "model name")) {
        cpu = std::string(trim(line.substr(line.find(':') + 1)));
        break;
      }
    }
  }
  std::cout << fmt::format("## berth's controller vs Docker Swarm mode: {} replicas on 3 namespace hosts\n\n",
                           flags_.replicas);
  std::cout << fmt::format(
      "- Machine: {} CPUs ({}), kernel {}; load average (1/5/15 min) at the start and after each round: {} "
      "(mostly this benchmark's own container starts: dozens of runnable runc and dockerd threads while "
      "24 starts are in flight; what other work took is in the notes)\n",
      std::thread::hardware_concurrency(), cpu, u.release, join(loads_, " → "));
  std::cout << fmt::format(
      "- Engines: dockerd {} on every host (the harness's TestHosts: own namespaces, tmpfs data-root); "
      "docker CLI {}; berth {}\n",
      dockerdVersion_, dockerCliVersion_, berthVersion_);
  std::cout << fmt::format(
      "- {} rounds, interleaved (floor, berth, Swarm; reversed every other round); per round and tool: "
      "a fresh stack, {} no-op re-deploys, {} kills (one host after another), host 3 lost once, the "
      "stack removed\n",
      flags_.rounds, flags_.noops, flags_.kills);
  std::cout
      << "- berthd: default `--down-after 5 --probe-interval 1`; Swarm: defaults (host 1 manager, hosts 2-3 "
         "workers), `restart_policy.delay: 0s`, `endpoint_mode: dnsrr`, image by ID, "
         "`docker stack deploy --resolve-image never`\n\n";

  struct Row {
    std::string metric, label;
    bool floor;
    std::string swarmTool = "swarm";
  };
  const std::vector<Row> rows = {
      {"deploy", fmt::format("deploy {} replicas → all running", flags_.replicas), true},
      {"first-start", "… its first container started (the engines' StartedAt)", true},
      {"last-start", "… its last container started", true},
      {"cpu-engines",
       "… CPU the three hosts' engines used meanwhile (dockerd, containerd, shims, runc; Swarm's manager)",
       true},
      {"cpu-berthd", "… CPU berthd used meanwhile", false},
      {"deploy", "… Swarm: `docker service create` on no network (default bridge)", false, "swarm-service"},
      {"deploy-cmd", "… the deploy command's own wall time", false},
      {"noop", "unchanged re-deploy (command wall time)", false},
      {"kill", "container SIGKILLed → replacement running", false},
      {"kill-default", "… Swarm with its default restart delay (5 s)", false},
      {"hostloss", "host lost → its replicas running elsewhere", false},
      {"settle", "host back → exactly the replicas running again", false},
      {"remove-stopped", "stack removed → no container running", false},
      {"remove", "stack removed → no container left", true},
  };
  std::cout << "| metric | raw floor | berth | Swarm mode | berth ÷ floor | Swarm ÷ berth |\n";
  std::cout << "|---|---:|---:|---:|---:|---:|\n";
  for (const Row& r : rows) {
    const auto floor = results_.get(r.metric, "floor");
    const auto b = results_.get(r.metric, "berth");
    auto s = results_.get(r.metric, r.swarmTool);
    std::string swarmRatio = ratio(s, b);
    if (r.metric == "kill-default") swarmRatio = ratio(s, results_.get("kill", "berth"));
    if (r.metric == "deploy-cmd") swarmRatio = "";  // not comparable: Swarm's returns at once
    const bool swarmOnly = r.swarmTool != "swarm" || r.metric == "kill-default";
    const bool berthOnly = r.metric == "cpu-berthd";
    if (berthOnly) swarmRatio = "";
    std::cout << fmt::format("| {} | {} | {} | {} | {} | {} |\n", r.label, r.floor ? cell(floor) : "",
                             swarmOnly ? "" : cell(b), berthOnly ? "" : cell(s),
                             r.floor ? ratio(b, floor) : "", swarmRatio);
  }
  std::cout
      << "\nTimes are median (min–max, n samples). \"Running\" is what the three engines list (polled every "
         "50 ms; every 20 ms after a kill), the same observer for both tools. The floor creates a bridge "
         "network and then creates and starts the containers on all three engines at once, " +
             std::to_string(flags_.replicas / kHosts) + " per engine with " +
             std::to_string(flags_.floorInFlight) +
             " in flight per engine (its \"remove\": force-remove, 8 in flight, and the "
             "network). berth's deploy command waits until the stack has converged; `docker stack deploy "
             "--detach` returns once the service is stored. Swarm's \"settle\" ends when the stale copies "
             "on the returned host have been stopped; berth's when they have been removed. Swarm's "
             "`service create` row is not like for like: its containers join the engine's default bridge (no "
             "stack network, no aliases, no discovery), which costs the engine less per container than the "
             "stack network with aliases that the floor, berth and `docker stack deploy` attach each one "
             "to.\n";
  if (stackRmRefused_ > 0) {
    notes_.push_back(fmt::format(
        "Swarm: `docker stack rm` exited 1 in {} of {} removals, refusing to remove the stack's network "
        "while "
        "the service's tasks were still attached (\"network ... is in use by task ...\"); the services went "
        "all the same, and the run removed the network afterwards",
        stackRmRefused_.load(), stackRms_));
  }
  for (const auto& [tool, counts] : moved_) {
    std::vector<std::string> parts;
    for (int n : counts) parts.push_back(std::to_string(n));
    notes_.push_back(fmt::format("{}: replicas on host 3 when it was lost: {}", tool, join(parts, ", ")));
  }
  {
    // Other work's share of the 2 cores while each tool was measured, and its biggest users.
    std::vector<std::string> parts;
    std::map<std::string, double> names;
    for (const auto& [tool, busy] : busy_) {
      if (busy.wallSeconds <= 0) continue;
      parts.push_back(fmt::format("{} {:.2f}", tool, busy.cpuSeconds / busy.wallSeconds));
      for (const auto& [name, seconds] : busy.byName) names[name] += seconds;
    }
    std::vector<std::pair<double, std::string>> top;
    for (const auto& [name, seconds] : names) top.emplace_back(seconds, name);
    std::sort(top.rbegin(), top.rend());
    std::vector<std::string> topNames;
    for (std::size_t i = 0; i < top.size() && i < 4 && top[i].first >= 1; ++i)
      topNames.push_back(fmt::format("{} {:.0f} s", top[i].second, top[i].first));
    notes_.push_back(fmt::format(
        "CPU that other work on the machine used while each tool was measured (cores, averaged over its "
        "cycles; processes that live between two samples are missed): {}{}",
        join(parts, ", "), topNames.empty() ? "" : "; most of it: " + join(topNames, ", ")));
  }
  if (!notes_.empty()) {
    std::cout << "\nNotes:\n";
    for (const std::string& n : notes_) std::cout << "- " << n << "\n";
  }
  const auto failure = [](const std::string& what, const std::string& error) {
    std::cout << "\n**" << what << "**:\n\n```\n" << trim(error) << "\n```\n";
  };
  if (gInterrupted)
    std::cout << "\n**The run was interrupted**: the numbers cover what was measured before.\n";
  if (!floorError_.empty()) failure("The raw floor failed", floorError_);
  if (!berthError_.empty()) failure("berth's part failed", berthError_);
  if (!flags_.swarm) {
    std::cout << "\nSwarm mode was not measured (--no-swarm).\n";
  } else if (!swarmError_.empty()) {
    failure("Swarm mode's part failed (the numbers above stand; Swarm's stop where it failed)", swarmError_);
  }
  std::cout << "\nberthd's log (--log-level info): `" << flags_.berthdLog << "`\n";
  std::vector<std::string> extra;
  if (flags_.noops != 3) extra.push_back(fmt::format("--noops {}", flags_.noops));
  if (flags_.replicas != 60) extra.push_back(fmt::format("--replicas {}", flags_.replicas));
  if (flags_.floorInFlight != 8) extra.push_back(fmt::format("--floor-in-flight {}", flags_.floorInFlight));
  if (!flags_.swarm) extra.push_back("--no-swarm");
  std::cout << fmt::format(
      "\nReproduce (as root): `ROUNDS={} KILLS={} bench/fleet{}` (builds berth, berthd and "
      "berth_fleet_bench into build/, runs the benchmark, prints this report)\n",
      flags_.rounds, flags_.kills, extra.empty() ? "" : " " + join(extra, " "));
}

int Bench::run() {
  loads_.push_back(loadAverage());
  if (Status s = startFleet(); !s) {
    std::cerr << "berth_fleet_bench: " << s.error().message() << "\n";
    return 1;
  }
  if (auto v = engines_[0]->version()) dockerdVersion_ = v->version + " (API " + v->apiVersion + ")";
  if (auto r =
          runCommand({"docker", "version", "--format", "{{.Client.Version}}"}, {.unsetEnv = {"DOCKER_HOST"}});
      r)
    dockerCliVersion_ = firstLine(r->out);
  if (auto r = runBinary(BERTH_BINARY, {"version"}); r) {
    for (const std::string& line : split(r->out, '\n')) {
      if (const auto at = line.find("Version:"); at != std::string::npos && berthVersion_.empty())
        berthVersion_ = std::string(trim(line.substr(at + 8)));
    }
  }
  if (Status s = startBerthd(); !s) {
    std::cerr << "berth_fleet_bench: " << s.error().message() << "\n";
    return 1;
  }
  if (Status s = addHosts(); !s) berthError_ = s.error().message() + "\nberthd:\n" + berthd_->err();

  // The floor once before Swarm mode is on (kept out of the table): whether an idle swarm slows the
  // engines down shows against the floor's numbers of the rounds, taken with the swarm up.
  if (Status s = floorCycle(0); !s) floorError_ = s.error().message();
  if (flags_.swarm) {
    if (Status s = swarmInit(); !s) {
      swarmError_ = s.error().message();
      progress("swarm failed: " + swarmError_);
      cleanUpSwarm();
    }
  }
  if (auto pre = results_.get("deploy-preswarm", "floor"); !pre.empty()) {
    notes_.push_back(
        fmt::format("raw floor before Swarm mode was switched on (round 0, not in the table): deploy {}, "
                    "remove {}",
                    duration(pre.front()), duration(results_.get("remove-preswarm", "floor").front())));
  }

  for (int round = 1; round <= flags_.rounds; ++round) {
    std::vector<std::string> order{"floor", "berth", "swarm"};
    if (round % 2 == 0) std::reverse(order.begin(), order.end());
    for (const std::string& tool : order) {
      if (gInterrupted) break;
      progress(fmt::format("round {}: {} (load average {})", round, tool, loadAverage()));
      const CpuSnapshot before = cpuSnapshot();
      const auto cycleStart = Clock::now();
      if (tool == "floor" && floorError_.empty()) {
        if (Status s = floorCycle(round); !s)
          floorError_ = fmt::format("round {}: {}", round, s.error().message());
      } else if (tool == "berth" && berthError_.empty()) {
        if (Status s = berthCycle(round); !s) {
          berthError_ = fmt::format("round {}: {}", round, s.error().message());
          progress("berth failed: " + berthError_);
          cleanUpBerth();
        }
      } else if (tool == "swarm" && flags_.swarm && swarmError_.empty()) {
        if (Status s = swarmCycle(round); !s) {
          swarmError_ = fmt::format("round {}: {}", round, s.error().message());
          progress("swarm failed: " + swarmError_);
          cleanUpSwarm();
        }
      }
      Busy& busy = busy_[tool];
      busy.wallSeconds += msSince(cycleStart) / 1000;
      for (const auto& [name, seconds] : otherCpu(before, cpuSnapshot())) {
        busy.cpuSeconds += seconds;
        busy.byName[name] += seconds;
      }
    }
    loads_.push_back(loadAverage());
  }
  if (flags_.swarm && swarmError_.empty() && !gInterrupted) {
    progress("Swarm with its default restart delay");
    if (Status s = swarmDefaultDelay(); !s) {
      swarmError_ = "default restart delay: " + s.error().message();
      cleanUpSwarm();
    }
  }
  cleanUp();
  report();
  return berthError_.empty() && floorError_.empty() && (swarmError_.empty() || !flags_.swarm) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "berth_fleet_bench: " << arg << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--rounds") {
      flags.rounds = std::atoi(value().c_str());
    } else if (arg == "--kills") {
      flags.kills = std::atoi(value().c_str());
    } else if (arg == "--noops") {
      flags.noops = std::atoi(value().c_str());
    } else if (arg == "--replicas") {
      flags.replicas = std::atoi(value().c_str());
    } else if (arg == "--floor-in-flight") {
      flags.floorInFlight = std::atoi(value().c_str());
    } else if (arg == "--no-swarm") {
      flags.swarm = false;
    } else if (arg == "--berthd-log") {
      flags.berthdLog = value();
    } else {
      std::cerr << "usage: berth_fleet_bench [--rounds N] [--kills N] [--noops N] [--replicas N] "
                   "[--floor-in-flight N] [--no-swarm] [--berthd-log PATH]\n";
      return 2;
    }
  }
  if (flags.floorInFlight < 1 || flags.rounds < 1 || flags.replicas < kHosts ||
      flags.replicas % kHosts != 0 || flags.kills < 0 || flags.noops < 0) {
    std::cerr << "berth_fleet_bench: --rounds ≥ 1, --replicas a multiple of 3, --kills and --noops ≥ 0\n";
    return 2;
  }
  if (::geteuid() != 0) {
    std::cerr << "berth_fleet_bench: needs root (namespace hosts with their own dockerd)\n";
    return 1;
  }
  // Our own handlers (the harness then leaves these signals alone): an interrupted run still cleans
  // up and reports.
  struct sigaction act {};
  act.sa_handler = onSignal;
  sigemptyset(&act.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &act, nullptr);
  Bench bench(std::move(flags));
  return bench.run();
}
