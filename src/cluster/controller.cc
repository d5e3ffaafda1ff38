#include "cluster/controller.h"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "base/log.h"
#include "base/memory.h"
#include "base/strings.h"
#include "base/time.h"
#include "cluster/scheduler.h"
#include "engine/endpoint.h"
#include "engine/image_copy.h"
#include "engine/image_reference.h"
#include "hosts/inventory.h"
#include "mesh/address.h"
#include "mesh/agent.h"
#include "plan/apply.h"
#include "plan/diff.h"
#include "plan/observe.h"
#include "spec/loader.h"

namespace berth::cluster {
namespace {

using namespace std::chrono_literals;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr std::string_view kProjectPath = "/berthd/stack.yaml";

// Reads a stored version of a stack back into the compose model.
Result<spec::Project> loadVersion(const std::string& stack, const std::string& yaml) {
  spec::ConfigDetails details;
  details.files = {std::string(kProjectPath)};
  details.workingDir = "/berthd";
  details.projectName = stack;
  details.contents[std::string(kProjectPath)] = yaml;
  spec::LoadOptions options;
  // The canonical text is already interpolated, normalized and resolved: read it as it is.
  options.interpolate = false;
  options.resolvePaths = false;
  options.resolveEnvironment = false;
  return spec::load(details, options);
}

ContainerPhase phaseOf(engine::ContainerStatus s) {
  switch (s) {
    case engine::ContainerStatus::Created:
      return ContainerPhase::Created;
    case engine::ContainerStatus::Running:
    case engine::ContainerStatus::Paused:
    case engine::ContainerStatus::Restarting:
      return ContainerPhase::Running;
    case engine::ContainerStatus::Removing:
    case engine::ContainerStatus::Exited:
    case engine::ContainerStatus::Dead:
    case engine::ContainerStatus::Unknown:
      return ContainerPhase::Exited;
  }
  return ContainerPhase::Exited;
}

// berth's containers as the engine lists them (status text carries health and exit code).
std::vector<ObservedTaskContainer> observedContainers(const std::vector<engine::ContainerSummary>& list) {
  std::vector<ObservedTaskContainer> out;
  out.reserve(list.size());  // kept until the next listing: no room to grow
  for (const engine::ContainerSummary& s : list) {
    auto task = s.labels.find(std::string(labels::kTask));
    if (task == s.labels.end()) continue;
    // Being removed: already gone, as far as its task goes ("Removal In Progress" says nothing of
    // how it ended, and it must not read as its task's exit).
    if (s.state == engine::ContainerStatus::Removing) continue;
    ObservedTaskContainer c;
    c.id = s.id;
    c.task = task->second;
    const auto label = [&](std::string_view k) {
      auto it = s.labels.find(std::string(k));
      return it == s.labels.end() ? std::string() : it->second;
    };
    c.stack = label(labels::kStack);
    c.service = label(labels::kService);
    c.slot = std::atoi(label(labels::kSlot).c_str());
    c.phase = phaseOf(s.state);
    if (s.status.find("(unhealthy)") != std::string::npos) {
      c.health = HealthStatus::Unhealthy;
    } else if (s.status.find("(healthy)") != std::string::npos) {
      c.health = HealthStatus::Healthy;
    } else if (s.status.find("(health: starting)") != std::string::npos) {
      c.health = HealthStatus::Starting;
    }
    for (const auto& [network, endpoint] : s.networks) {
      if (endpoint.ipAddress.empty()) continue;
      if (auto ip = mesh::parseIpv4(endpoint.ipAddress)) c.addresses.emplace_back(network, *ip);
    }
    if (c.phase == ContainerPhase::Exited) {
      const auto open = s.status.find('(');
      const auto close = s.status.find(')', open == std::string::npos ? 0 : open);
      if (open != std::string::npos && close != std::string::npos && startsWith(s.status, "Exited")) {
        c.exitCode = std::atoi(s.status.substr(open + 1, close - open - 1).c_str());
      }
    }
    out.push_back(std::move(c));
  }
  // In a stable order, so that two listings of the same containers compare equal.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.stack, a.service, a.slot, a.task, a.id) < std::tie(b.stack, b.service, b.slot, b.task, b.id);
  });
  return out;
}

Result<std::vector<ObservedTaskContainer>> listBerthContainers(engine::Engine& engine) {
  engine::ListContainersOptions o;
  o.all = true;
  o.filters = {{"label", {std::string(labels::kTask)}}};
  BERTH_ASSIGN_OR_RETURN(auto list, engine.listContainers(o));
  return observedContainers(list);
}

EngineFacts factsOf(const engine::EngineInfo& info) {
  EngineFacts f;
  f.hostname = info.name;
  f.engineVersion = info.serverVersion;
  f.ncpu = info.ncpu;
  f.memoryBytes = info.memTotal;
  for (const std::string& l : info.labels) {
    const auto eq = l.find('=');
    if (eq == std::string::npos) {
      f.engineLabels[l] = "";
    } else {
      f.engineLabels[l.substr(0, eq)] = l.substr(eq + 1);
    }
  }
  return f;
}

std::string randomId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:012x}", rng() & 0xffffffffffffULL);
}

// Collects the containers a plan failed to create or start, for the tasks they belong to.
class JobProgress final : public plan::Progress {
 public:
  explicit JobProgress(const std::function<void(std::string_view)>& crashPoint) : crashPoint_(crashPoint) {}
  void event(const plan::ProgressEvent& e) override {
    if (e.state == plan::ProgressState::Failed && e.kind == "Container") failures[e.name] = e.detail;
    if (crashPoint_) crashPoint_("step " + e.text + " " + e.name);
  }
  std::map<std::string, std::string> failures;

 private:
  const std::function<void(std::string_view)>& crashPoint_;
};

}  // namespace

// ---- the owner's state and the threads around it

struct JobResult {
  HostJob job{};
  bool listed = false;
  std::vector<ObservedTaskContainer> containers{};
  SteadyTime listStarted{};
  std::map<std::string, std::string> taskErrors{};
  std::string error{};
};

class Agent;

struct Controller::Impl {
  Impl(Store& s, EngineProvider& p, Clock& c, ControllerOptions o, EventLog& e)
      : store(s), provider(p), clock(c), options(std::move(o)), events(e) {}

  Store& store;
  EngineProvider& provider;
  Clock& clock;
  ControllerOptions options;
  EventLog& events;
  ReconcileConfig config{};

  // ---- owner thread only
  ClusterState state{};
  Observations obs{};
  DefCatalog defs{};
  std::map<std::pair<std::string, std::int64_t>, std::shared_ptr<const spec::Project>> projects{};
  std::map<std::string, SteadyTime> listedAt{};  // the newest listing's start, per host
  std::set<std::string> busy{};                  // hosts with a job running
  std::set<HostJob> again{};                     // jobs to run once their host is free
  std::set<std::string> rebalancing{};           // stacks being re-spread
  struct JobBackoff {
    int failures = 0;
    SteadyTime retryAt{};
  };
  std::map<HostJob, JobBackoff> backoff{};  // jobs that failed as a whole, until they succeed
  std::optional<WallTime> wakeAt{};
  bool dirty = true;
  bool changedSinceRelease = false;  // a change was committed since the heap last gave memory back
  SteadyTime lastChange{};

  // ---- mailbox
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> mailbox;  // guarded by mu
  bool stopping = false;                      // guarded by mu

  // ---- agents (read by API threads)
  mutable std::mutex agentsMu;
  std::map<std::string, std::unique_ptr<Agent>> agents;  // guarded by agentsMu

  // ---- job pool
  std::mutex jobMu;
  std::condition_variable jobCv;
  std::deque<std::function<void()>> jobQueue;  // guarded by jobMu
  bool jobsStopping = false;                   // guarded by jobMu
  std::vector<std::jthread> workers;
  std::stop_source jobStop;

  // ---- snapshot: a copy of the state, made on the owner thread when a reader asks for one and
  // something changed since the last; it lives as long as readers hold it (a copy kept at every
  // pass would double berthd's memory, and cost a copy per probe answer).
  mutable std::mutex snapMu;
  std::uint64_t stateVersion = 1;               // guarded by snapMu; publish() bumps it
  std::weak_ptr<const Snapshot> snapCache{};    // guarded by snapMu
  std::uint64_t snapCacheVersion = 0;           // guarded by snapMu
  std::shared_ptr<const Snapshot> finalSnap{};  // guarded by snapMu; the state as stop() left it
  std::atomic<bool> ownerStarted{false};
  std::atomic<std::thread::id> ownerId{};  // set by the owner thread itself, first thing

  // ---- the mesh (options.mesh)
  std::unique_ptr<MeshSync> meshSync{};
  std::string meshFingerprint{};  // owner thread: what meshSync was last told
  // Owner thread: each host's engine for the mesh's calls (Role::Mesh), made when the host first
  // joins the mesh.
  std::map<std::string, std::shared_ptr<engine::Engine>> meshEngines{};

  // ---- stats
  mutable std::mutex statsMu;
  ReconcileStats stats{};

  std::jthread owner;

  void post(std::function<void()> fn) {
    {
      std::lock_guard lock(mu);
      mailbox.push_back(std::move(fn));
    }
    cv.notify_one();
  }

  // Runs `fn` on the owner thread and waits for its result (a Result<T> or Status).
  template <class R>
  R call(std::function<R()> fn) {
    auto promise = std::make_shared<std::promise<R>>();
    auto future = promise->get_future();
    {
      std::lock_guard lock(mu);
      if (stopping) return fail(ErrorCode::Unavailable, "berthd is stopping");
      // Readers see the change as soon as the caller has its answer: publish before answering.
      mailbox.push_back([this, promise, fn = std::move(fn)] {
        R result = fn();
        (void)ensureDefs();
        publish();
        promise->set_value(std::move(result));
      });
    }
    cv.notify_one();
    return future.get();
  }

  void submitJob(std::function<void()> fn) {
    {
      std::lock_guard lock(jobMu);
      jobQueue.push_back(std::move(fn));
    }
    jobCv.notify_one();
  }

  void loop(std::stop_token stop);
  void pass();
  void dispatch(const HostJob& job);
  void jobDone(JobResult result);
  void noteError(const std::string& host);
  Status ensureDefs();
  Result<std::shared_ptr<const spec::Project>> project(const std::string& stack, std::int64_t generation);
  Result<std::shared_ptr<const spec::Project>> projectFor(const HostWork& work);
  void startAgent(const Host& host);
  void stopAgent(const std::string& name);
  void publish();  // readers' next snapshot is made afresh
  std::shared_ptr<const Snapshot> buildSnapshot();  // owner thread (or no owner running)
  Status commit(const Change& change);
  std::string newTaskId();
  void rebalanceStep();
  void updateMesh();
};

// One host: probes, listings and the engine's events, on one thread and one connection. While the
// host answers, the thread alternates a probe (and, when due, a listing) with a window of the
// engine's event stream that lasts until the next probe is due (`until`; the next window starts
// where this one ended, `since`): an open event stream would hold a second connection for good,
// 21 KiB of OpenSSL's per host. An event in a window asks for a listing at once, made on a second
// connection that is closed again once the host has been quiet for a while. While the host does
// not answer, the thread waits for the next probe.
class Agent {
 public:
  Agent(Controller::Impl& impl, Host host, std::shared_ptr<engine::Engine> probe,
        std::shared_ptr<engine::Engine> work)
      : impl_(impl), host_(std::move(host)), probe_(std::move(probe)), work_(std::move(work)) {
    thread_ = std::jthread([this](std::stop_token st) { run(st); });
  }
  ~Agent() { stop(); }

  void stop() {
    thread_.request_stop();
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  std::shared_ptr<engine::Engine> work() const {
    std::lock_guard lock(mu_);
    return work_;
  }

 private:
  using Time = std::chrono::steady_clock::time_point;

  void requestList() {
    std::lock_guard lock(mu_);
    listRequested_ = true;
  }

  // Also lists a moment later: the engine reports a container's death before its listing shows
  // the container exited (a listing made right after the "die" event can still say running).
  void requestListSoon(std::chrono::milliseconds after) {
    std::lock_guard lock(mu_);
    const auto at = std::chrono::steady_clock::now() + after;
    if (!listSoon_ || at < *listSoon_) listSoon_ = at;
  }

  void run(std::stop_token stop) {
    while (!stop.stop_requested()) {
      Time next = step(stop, false);
      if (up_) {
        const Time end = nextProbe_;
        watchEvents(end, stop);
        if (stop.stop_requested()) return;
        closeExtraConnectionWhenQuiet();
        // A window that ran its course is followed at once by the probe that is now due; one that
        // ended early (the connection failed, or the engine's clock is off) is not followed by
        // another before that probe.
        if (std::chrono::steady_clock::now() + kWindowSlack >= end) continue;
        next = std::min(next, end);
      }
      std::unique_lock lock(mu_);
      wake_.wait_until(lock, stop, next, [] { return false; });
    }
  }

  // Follows the engine's events until `end` (a window: the engine ends its answer then, by its own
  // clock), or until the window fails or `stop` ends it. Event-requested listings are made in the
  // stream's idle calls, on a second connection.
  void watchEvents(Time end, std::stop_token stop) {
    const auto engineClock = [&](Time t) {
      return std::chrono::time_point_cast<std::chrono::nanoseconds>(impl_.clock.wallNow() + engineOffset_ +
                                                                    (t - std::chrono::steady_clock::now()));
    };
    engine::EventsOptions o;
    // Task containers and the network agent: the engine ANDs label filters, so the labels are
    // told apart here (a host's other containers are few, and their events are dropped unread).
    o.filters = {{"type", {"container"}}};
    // From where the last window ended, a moment back: an event the engine stamped just before a
    // window's end but delivered after it comes again in the next window, rather than never (a
    // repeated event only asks for one more listing; the periodic listing would find what it
    // says, but seconds later).
    if (windowEnd_) o.since = unixSecondsText(*windowEnd_ - kWindowOverlap);
    const SystemNanos until = engineClock(end);
    o.until = unixSecondsText(until);
    // The engine must have ended its answer by a probe's deadline after the window's end (a window
    // already over by now, after a slow probe, is answered at once: its events are all past).
    const auto left = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()),
                               std::chrono::milliseconds(0));
    o.timeout = left + EngineProvider::optionsFor(EngineProvider::Role::Probe).requestTimeout;
    o.idle = [this, &stop] { return step(stop, true); };
    auto s = probe_->events(
        o,
        [&](const engine::Event& e) {
          if (e.attributes.count(std::string(mesh::kAgentLabel)) != 0) {
            // Stopped or removed by hand (a crash is the engine's to restart): the mesh starts
            // it again.
            if ((e.action == "stop" || e.action == "destroy") && impl_.meshSync)
              impl_.meshSync->agentGone(host_.name);
            return !stop.stop_requested();
          }
          if (e.attributes.count(std::string(labels::kTask)) == 0) return !stop.stop_requested();
          log::debug("host {}: event {} {}", host_.name, e.action, e.actorId.substr(0, 12));
          if (!changesObservation(e.action)) return !stop.stop_requested();
          requestList();
          if (e.action == "die" || e.action == "oom" || startsWith(e.action, "health_status")) {
            requestListSoon(std::chrono::milliseconds(100));
          }
          return !stop.stop_requested();
        },
        stop);
    if (s) {
      windowEnd_ = until;
      // Ended well before its time (the engine's clock is ahead of what berthd thought): the
      // next probe reads the engine's clock again.
      if (std::chrono::steady_clock::now() + kWindowSlack < end) checkClock_ = true;
    } else if (!stop.stop_requested()) {
      log::debug("host {}: event window ended: {}", host_.name, s.error().message());
      windowEnd_.reset();  // the next window starts from its own start; a listing covers the gap
      requestList();
      // Not ended in time (the engine's clock may be behind), or failed: read it again.
      checkClock_ = true;
    }
  }

  // After a listing made during a window (on a second connection), once the host has had no such
  // listing for a while: its pooled connections close, and the next probe opens one.
  void closeExtraConnectionWhenQuiet() {
    if (!extraSince_ || std::chrono::steady_clock::now() - *extraSince_ < kExtraConnectionIdle) return;
    extraSince_.reset();
    probe_->closeIdleConnections();
  }

  // The timed work that is due: a probe every probeInterval, a listing when asked for (by an event,
  // or by the host coming up) or every relistInterval. Returns when the next is due. In an event
  // window (`inWindow`) the window's connection is busy: only a listing an event asked for is made
  // there (on a second connection); the probe and the periodic listing wait for the window's end.
  Time step(std::stop_token stop, bool inWindow) {
    const std::string& name = host_.name;
    const Time now = std::chrono::steady_clock::now();
    bool worked = false;
    if (!inWindow && now >= nextProbe_ && !stop.stop_requested()) {
      nextProbe_ = now + impl_.options.probeInterval;
      probe();
      worked = true;
    }
    bool list = false;
    {
      std::lock_guard lock(mu_);
      const bool soon = listSoon_ && std::chrono::steady_clock::now() >= *listSoon_;
      if (soon) listSoon_.reset();
      list = listRequested_ || soon || (!inWindow && now >= nextList_);
      listRequested_ = false;
    }
    if (list && up_ && !stop.stop_requested()) {
      worked = true;
      if (inWindow) extraSince_ = now;
      nextList_ = std::chrono::steady_clock::now() + impl_.options.relistInterval;
      const SteadyTime started = std::chrono::steady_clock::now();
      // Listed with the probe's short deadlines: a host that stops answering must not hold up
      // the probes behind it.
      auto listed = listBerthContainers(*probe_);
      if (listed) {
        impl_.post([&impl = impl_, name, started, containers = std::move(*listed)]() mutable {
          auto& last = impl.listedAt[name];
          if (started < last) {
            log::debug("host {}: listing dropped (a newer one arrived first)", name);
            return;
          }
          last = started;
          HostObservation& o = impl.obs[name];
          const bool changed = !o.listed || o.containers != containers;
          log::debug("host {}: listed {} containers{}", name, containers.size(), changed ? " (changed)" : "");
          if (changed) impl.dirty = true;
          o.listed = true;
          o.containers = std::move(containers);
        });
      }
    }
    // The probe and the listing went deep (TLS, JSON), and so did the window's request and its
    // events (called in a window, this runs once they are handled); the thread now waits.
    if (worked) engine::releaseThreadTlsState();
    if (worked || inWindow) memory::releaseStackBelowCaller();
    // A listing asked for by an event is made once the stream has no more events waiting (the
    // stream calls again then), so that a burst of events costs one listing.
    std::lock_guard lock(mu_);
    // In a window, the probe and the periodic listing come after it ends (the window's own
    // deadline): a time of theirs gone by must not call this again at once, over and over.
    Time next = inWindow ? Time::max() : std::min(nextProbe_, nextList_);
    if (listSoon_) next = std::min(next, *listSoon_);
    return next;
  }

  // The engine's clock against berthd's, from its /info (taken halfway through the call): an event
  // window's `since` and `until` are in the engine's clock, which need not agree with berthd's.
  void noteEngineClock(const engine::EngineInfo& info, WallTime before, WallTime after) {
    checkClock_ = false;
    if (!info.systemTime) return;
    const auto halfway = std::chrono::time_point_cast<std::chrono::nanoseconds>(before + (after - before) / 2);
    engineOffset_ = *info.systemTime - halfway;
  }

  void probe() {
    const std::string& name = host_.name;
    auto ping = probe_->ping();
    const WallTime at = impl_.clock.wallNow();
    if (ping) {
      std::optional<EngineFacts> facts;
      if (!up_ || checkClock_) {
        const WallTime before = impl_.clock.wallNow();
        if (auto info = probe_->info()) {
          facts = factsOf(*info);
          noteEngineClock(*info, before, impl_.clock.wallNow());
        }
        if (!up_) requestList();
      }
      up_ = true;
      impl_.post([&impl = impl_, name, at, facts] {
        HostObservation& o = impl.obs[name];
        if (o.lastSeen == WallTime{} || !o.error.empty()) impl.dirty = true;
        o.lastSeen = at;
        o.error.clear();
        if (facts) {
          auto h = impl.state.hosts.find(name);
          if (h != impl.state.hosts.end() && !(h->second.facts == *facts)) {
            Host updated = h->second;
            updated.facts = *facts;
            Change c;
            c.putHosts.push_back(updated);
            if (impl.commit(c)) impl.dirty = true;
          }
        }
      });
      return;
    }
    if (up_) {
      // Connections kept from before are suspect (a host that dropped packets leaves them open and
      // silent): work uses fresh connections. (No event window is open: windows and probes take
      // turns on this thread.)
      reconnect();
    }
    up_ = false;
    const std::string why = ping.error().message();
    impl_.post([&impl = impl_, name, why] {
      HostObservation& o = impl.obs[name];
      if (o.error.empty()) impl.noteError(name);
      o.error = why;
      o.listed = false;  // when it answers again, a fresh listing comes before any decision
    });
  }

  // Replaces the work engine (and so its pooled connections).
  void reconnect() {
    auto fresh = impl_.provider.connect(host_, EngineProvider::Role::Work);
    std::lock_guard lock(mu_);
    if (fresh) work_ = std::move(*fresh);
  }

  // A window that ends this close to its planned end ran its course.
  static constexpr std::chrono::milliseconds kWindowSlack{100};
  // How far back a window reaches into the one before it.
  static constexpr std::chrono::milliseconds kWindowOverlap{50};
  // How long the second connection (for listings asked for by events in a window) stays open after
  // its last use.
  static constexpr std::chrono::seconds kExtraConnectionIdle{10};

  Controller::Impl& impl_;
  const Host host_;
  const std::shared_ptr<engine::Engine> probe_;
  std::shared_ptr<engine::Engine> work_;  // guarded by mu_
  // The agent thread's own:
  bool up_ = false;  // the last probe was answered
  std::chrono::nanoseconds engineOffset_{0};  // the engine's clock minus berthd's
  bool checkClock_ = false;                   // read the engine's clock at the next probe
  std::optional<SystemNanos> windowEnd_;      // the last event window's `until`, in the engine's clock
  std::optional<Time> extraSince_;            // a listing was made in a window (second connection)
  Time nextProbe_{};
  Time nextList_{};
  mutable std::mutex mu_;
  std::condition_variable_any wake_;
  bool listRequested_ = true;                                       // guarded by mu_
  std::optional<std::chrono::steady_clock::time_point> listSoon_;  // guarded by mu_
  std::jthread thread_;
};

// ---- owner thread

void Controller::Impl::loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    std::deque<std::function<void()>> batch;
    {
      std::unique_lock lock(mu);
      const auto tick = std::chrono::steady_clock::now() + 1s;
      auto until = tick;
      if (wakeAt) {
        const auto left = *wakeAt - clock.wallNow();
        until = std::min(until, std::chrono::steady_clock::now() +
                                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(left));
      }
      cv.wait_until(lock, until, [&] { return !mailbox.empty() || stopping; });
      if (stopping) return;
      batch.swap(mailbox);
    }
    for (auto& fn : batch) fn();
    const bool due = !wakeAt || clock.wallNow() >= *wakeAt;
    if (dirty || due || batch.empty()) pass();
    // After a burst of changes (a deploy, a host lost), once things have been quiet for a moment,
    // the connections the burst opened to hosts close and the heap gives back what the burst
    // freed: berthd's size is its steady state's, not its busiest moment's.
    if (changedSinceRelease && std::chrono::steady_clock::now() - lastChange >= 2s) {
      changedSinceRelease = false;
      {
        std::lock_guard lock(agentsMu);
        for (const auto& [name, agent] : agents) {
          if (!busy.contains(name)) agent->work()->closeIdleConnections();
        }
      }
      memory::releaseFree();
    }
  }
}

engine::EngineOptions EngineProvider::optionsFor(Role role) {
  engine::EngineOptions options;
  switch (role) {
    case Role::Probe:
      options.connectTimeout = 1s;
      options.requestTimeout = 2s;
      break;
    case Role::Work:
      options.connectTimeout = 3s;
      options.requestTimeout = 60s;
      break;
    case Role::Mesh:
      // The agent's slowest call, its script starting wireguard-go, DNS servers and HAProxy,
      // takes a few seconds on a loaded host.
      options.connectTimeout = 2s;
      options.requestTimeout = 15s;
      break;
  }
  return options;
}

Status Controller::Impl::commit(const Change& change) {
  if (change.empty()) return ok();
  if (Status s = store.commit(change); !s) {
    log::error("store {}: {}", store.describe(), s.error().message());
    return s;
  }
  if (options.crashPoint) options.crashPoint("commit");
  applyChange(state, change);
  changedSinceRelease = true;
  lastChange = std::chrono::steady_clock::now();
  return ok();
}

std::string Controller::Impl::newTaskId() {
  while (true) {
    std::string id = randomId();
    if (state.tasks.count(id) == 0) return id;
  }
}

void Controller::Impl::noteError(const std::string& host) {
  std::lock_guard lock(statsMu);
  ++stats.engineErrors[host];
}

Result<std::shared_ptr<const spec::Project>> Controller::Impl::project(const std::string& stack,
                                                                        std::int64_t generation) {
  const auto key = std::make_pair(stack, generation);
  if (auto it = projects.find(key); it != projects.end()) return it->second;
  auto v = state.versions.find(key);
  if (v == state.versions.end()) {
    return fail(ErrorCode::Internal, fmt::format("stack {} version {} is not stored", stack, generation));
  }
  auto loaded = loadVersion(stack, v->second.project);
  if (!loaded) {
    return fail(ErrorCode::Internal, fmt::format("stack {} version {}: {}", stack, generation,
                                                 loaded.error().message()));
  }
  auto p = std::make_shared<const spec::Project>(std::move(*loaded));
  projects[key] = p;
  return p;
}

Status Controller::Impl::ensureDefs() {
  std::set<std::pair<std::string, std::int64_t>> needed;
  for (const auto& [key, r] : state.services) {
    needed.insert({r.stack, r.specGeneration});
    if (r.previousGeneration != 0) needed.insert({r.stack, r.previousGeneration});
  }
  for (const auto& [id, t] : state.tasks) {
    (void)id;
    if (t.specGeneration != 0) needed.insert({t.stack, t.specGeneration});
  }
  for (const auto& [stack, generation] : needed) {
    bool have = false;
    for (const auto& [key, d] : defs) {
      (void)d;
      if (std::get<0>(key) == stack && std::get<2>(key) == generation) {
        have = true;
        break;
      }
    }
    if (have || state.versions.count({stack, generation}) == 0) continue;
    auto p = project(stack, generation);
    if (!p) {
      log::error("{}", p.error().message());
      continue;
    }
    for (const auto& [name, service] : (*p)->services) {
      auto d = serviceDef(**p, service, generation, options.mesh.has_value());
      if (!d) {
        log::error("stack {} version {}: {}", stack, generation, d.error().message());
        continue;
      }
      defs[DefKey{stack, name, generation}] = std::move(*d);
    }
  }
  // Forget what nothing refers to any more.
  for (auto it = defs.begin(); it != defs.end();) {
    if (needed.count({std::get<0>(it->first), std::get<2>(it->first)}) == 0) {
      it = defs.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = projects.begin(); it != projects.end();) {
    bool used = needed.count(it->first) != 0;
    if (auto s = state.stacks.find(it->first.first); s != state.stacks.end() && s->second.generation == it->first.second)
      used = true;
    it = used ? std::next(it) : projects.erase(it);
  }
  return ok();
}

Result<std::shared_ptr<const spec::Project>> Controller::Impl::projectFor(const HostWork& work) {
  if (work.remove) {
    auto empty = std::make_shared<spec::Project>();
    empty->name = work.stack;
    return std::shared_ptr<const spec::Project>(empty);
  }
  BERTH_ASSIGN_OR_RETURN(auto base, project(work.stack, work.generation));
  auto out = std::make_shared<spec::Project>(*base);
  for (const auto& [service, generation] : work.serviceGenerations) {
    if (generation == work.generation) continue;
    BERTH_ASSIGN_OR_RETURN(auto older, project(work.stack, generation));
    if (auto s = older->services.find(service); s != older->services.end()) out->services[service] = s->second;
  }
  // The controller restarts tasks itself (deploy.restart_policy); an engine restart policy would
  // fight it. depends_on is left to each host's order of nothing: services may be on other hosts.
  for (auto& [name, s] : out->services) {
    (void)name;
    s.restart.clear();
  }
  return std::shared_ptr<const spec::Project>(out);
}

void Controller::Impl::publish() {
  std::lock_guard lock(snapMu);
  ++stateVersion;
}

std::shared_ptr<const Snapshot> Controller::Impl::buildSnapshot() {
  auto s = std::make_shared<Snapshot>();
  s->state = state;
  s->observations = obs;
  s->defs = defs;
  s->at = clock.wallNow();
  std::lock_guard lock(snapMu);
  snapCache = s;
  snapCacheVersion = stateVersion;
  return s;
}

void Controller::Impl::pass() {
  dirty = false;
  for (int round = 0; round < 4; ++round) {
    (void)ensureDefs();
    const auto started = std::chrono::steady_clock::now();
    const WallTime now = clock.wallNow();
    Decisions d = reconcile(state, obs, defs, config, now, [this] { return newTaskId(); });
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    {
      std::lock_guard lock(statsMu);
      ++stats.passes;
      stats.sumSeconds += seconds;
      for (std::size_t i = 0; i < stats.bucketBounds.size(); ++i) {
        if (seconds <= stats.bucketBounds[i]) ++stats.bucketCounts[i];
      }
      for (const ControllerEvent& e : d.events) {
        if (e.type == "task" && e.action == "pending") ++stats.placementFailures;
      }
    }
    if (Status s = commit(d.change); !s) {
      // Nothing of this pass happened; try again shortly.
      wakeAt = now + 1s;
      publish();
      return;
    }
    for (const auto& [host, health] : d.health) {
      obs[host].health = health;
      if (health == HostHealth::Down) obs[host].downSince = now;
    }
    // Errors turned into task failures are consumed.
    for (auto& [name, o] : obs) {
      (void)name;
      o.taskErrors.clear();
    }
    for (const ControllerEvent& e : d.events) log::info("{}", describe(e));
    events.append(std::move(d.events));
    wakeAt = d.wakeAt;
    for (const HostJob& job : d.jobs) dispatch(job);
    if (!rebalancing.empty()) rebalanceStep();
    if (d.change.empty()) break;
  }
  updateMesh();
  publish();
}

void Controller::Impl::updateMesh() {
  if (!meshSync) return;
  MeshInput in;
  std::string fingerprint;
  {
    std::lock_guard lock(agentsMu);
    for (const auto& [name, host] : state.hosts) {
      auto o = obs.find(name);
      auto a = agents.find(name);
      if (o == obs.end() || o->second.health != HostHealth::Ready || a == agents.end()) continue;
      auto endpoint = engine::parseEndpoint(host.url, true);
      if (!endpoint || endpoint->host.empty()) continue;
      auto label = host.labels.find("berth.ingress");
      const bool ingress = label != host.labels.end() && label->second == "true";
      auto e = meshEngines.find(name);
      if (e == meshEngines.end()) {
        auto made = provider.connect(host, EngineProvider::Role::Mesh);
        if (!made) {
          log::warn("host {}: mesh: {}", name, made.error().message());
          continue;
        }
        e = meshEngines.emplace(name, std::move(*made)).first;
      }
      in.hosts.push_back({name, host.index, endpoint->host, ingress, e->second});
      fingerprint += fmt::format("h {} {} {} {}\n", name, host.index, endpoint->host, ingress);
    }
  }
  for (const auto& [name, stack] : state.stacks) {
    (void)stack;
    in.stacks.push_back(name);
    fingerprint += "s " + name + "\n";
  }
  // A replica takes callers (names, the ingress) while it runs, is healthy (or has no healthcheck)
  // and is wanted: one being stopped (replaced, scaled away) takes none while it shuts down.
  const auto live = [&](const ObservedTaskContainer& c) {
    if (c.phase != ContainerPhase::Running) return false;
    if (c.health != HealthStatus::None && c.health != HealthStatus::Healthy) return false;
    if (auto s = state.stacks.find(c.stack); s == state.stacks.end() || s->second.removing) return false;
    auto t = state.tasks.find(c.task);
    return t != state.tasks.end() && t->second.desired == DesiredState::Running;
  };
  for (const MeshHost& h : in.hosts) {
    for (const ObservedTaskContainer& c : obs[h.name].containers) {
      if (!live(c)) continue;
      for (const auto& [network, ip] : c.addresses) {
        in.records[network].push_back({ip, meshNames(c.stack, c.service, c.slot)});
        fingerprint += fmt::format("r {} {} {} {} {}\n", network, ip, c.stack, c.service, c.slot);
      }
      if (c.addresses.size() > 1) in.multiHomed.push_back({h.name, c.addresses});
    }
  }
  // A service's live replicas for the ingress: host and an address (any network of it will do: the
  // ingress reaches it from its own host).
  const auto replicasOf = [&](const ServiceRecord& record) {
    std::vector<std::pair<std::string, std::uint32_t>> out;
    for (const MeshHost& h : in.hosts) {
      for (const ObservedTaskContainer& c : obs[h.name].containers) {
        if (c.stack != record.stack || c.service != record.name || c.addresses.empty() || !live(c)) continue;
        out.emplace_back(h.name, c.addresses.front().second);
        fingerprint += fmt::format("ir {} {}\n", h.name, c.addresses.front().second);
      }
    }
    return out;
  };
  // The ingress: every published port of a service in force, with its live replicas.
  std::map<int, std::string> portOwner;
  std::vector<std::string> unserved;
  for (const auto& [key, record] : state.services) {
    auto def = defs.find(DefKey{record.stack, record.name, record.specGeneration});
    if (def == defs.end()) continue;
    for (const IngressPort& port : def->second.ingress) {
      const std::string service = record.stack + "/" + record.name;
      if (auto [it, fresh] = portOwner.emplace(port.published, service); !fresh) {
        if (it->second != service) {
          unserved.push_back(fmt::format("port {}: published by {} already; {} is not served", port.published,
                                         it->second, service));
          fingerprint += unserved.back() + "\n";
        }
        continue;
      }
      MeshIngress in_;
      in_.stack = record.stack;
      in_.service = record.name;
      in_.published = port.published;
      in_.target = port.target;
      fingerprint += fmt::format("i {} {}\n", port.published, port.target);
      in_.replicas = replicasOf(record);
      in.ingress.push_back(std::move(in_));
    }
  }
  // HTTP routes, each with a relay key: a port number no TCP ingress port uses, from the top down,
  // the same on every host (they are numbered in this fixed order).
  std::set<std::pair<std::string, std::string>> routed;
  int nextKey = 65535;
  for (const auto& [key, record] : state.services) {
    auto def = defs.find(DefKey{record.stack, record.name, record.specGeneration});
    if (def == defs.end()) continue;
    for (const HttpRoute& route : def->second.http) {
      const std::string service = record.stack + "/" + record.name;
      if (!routed.insert({route.host, route.path}).second) {
        unserved.push_back(fmt::format("HTTP route {}{}: served by another service already; {} is not served",
                                       route.host.empty() ? "*" : route.host, route.path, service));
        fingerprint += unserved.back() + "\n";
        continue;
      }
      while (portOwner.count(nextKey) != 0) --nextKey;
      MeshHttp http;
      http.stack = record.stack;
      http.service = record.name;
      http.host = route.host;
      http.path = route.path;
      http.port = route.port;
      http.relayKey = nextKey--;
      fingerprint += fmt::format("w {} {} {} {} {}\n", service, route.host, route.path, route.port, http.relayKey);
      http.replicas = replicasOf(record);
      in.http.push_back(std::move(http));
    }
  }
  if (fingerprint == meshFingerprint) return;
  for (const std::string& u : unserved) log::warn("{}", u);
  meshFingerprint = std::move(fingerprint);
  meshSync->update(std::move(in));
}

void Controller::Impl::dispatch(const HostJob& job) {
  if (busy.count(job.host) != 0) {
    again.insert(job);
    return;
  }
  // A job that failed as a whole (an engine error no task owns) is retried with back-off, not in a
  // tight loop: 250 ms, 500 ms, ... up to 10 s.
  if (auto b = backoff.find(job); b != backoff.end() && std::chrono::steady_clock::now() < b->second.retryAt) {
    const auto left = b->second.retryAt - std::chrono::steady_clock::now();
    const WallTime at = clock.wallNow() + std::chrono::duration_cast<std::chrono::system_clock::duration>(left);
    if (!wakeAt || at < *wakeAt) wakeAt = at;
    return;
  }
  std::shared_ptr<engine::Engine> engine;
  std::map<std::string, std::shared_ptr<engine::Engine>> peers;
  {
    std::lock_guard lock(agentsMu);
    auto it = agents.find(job.host);
    if (it == agents.end()) return;
    engine = it->second->work();
    for (const auto& [name, agent] : agents) {
      if (name == job.host) continue;
      auto o = obs.find(name);
      if (o != obs.end() && o->second.health == HostHealth::Ready) peers[name] = agent->work();
    }
  }
  const HostWork work = hostWork(state, defs, job.host, job.stack, clock.wallNow());
  auto project = projectFor(work);
  if (!project) {
    log::error("host {} stack {}: {}", job.host, job.stack, project.error().message());
    return;
  }
  busy.insert(job.host);
  const std::string version = options.version;
  Clock& clk = clock;
  std::stop_token stop = jobStop.get_token();
  int hostIndex = 0;
  if (auto h = state.hosts.find(job.host); h != state.hosts.end()) hostIndex = h->second.index;
  submitJob([this, job, work, project = *project, engine, peers, version, &clk, stop, hostIndex]() mutable {
    JobResult r;
    r.job = job;
    engine::Engine& e = *engine;
    const bool meshed = options.mesh.has_value() && !work.remove;
    const auto finish = [&] {
      r.listStarted = std::chrono::steady_clock::now();
      if (auto listed = listBerthContainers(e)) {
        r.listed = true;
        r.containers = std::move(*listed);
      }
      post([this, r = std::move(r)]() mutable { jobDone(std::move(r)); });
    };
    if (work.remove) {
      auto observed = plan::observe(e, job.stack);
      if (!observed) {
        r.error = observed.error().message();
        finish();
        return;
      }
      plan::DownOptions down;
      down.removeVolumes = work.removeVolumes;
      plan::Plan p = plan::planDown(*project, *observed, down);
      JobProgress quiet(options.crashPoint);
      if (Status s = plan::apply(p, e, quiet, clk, plan::ApplyOptions{}, stop); !s) r.error = s.error().message();
      finish();
      return;
    }
    // Images first: what the host lacks comes from a host that has it (the very image the stack
    // was deployed with), else from its registry.
    std::map<std::string, std::string> imageErrors;
    for (const std::string& ref : work.images) {
      if (e.inspectImage(ref)) continue;
      bool copied = false;
      std::string tried;
      for (const auto& [peerName, peer] : peers) {
        if (!peer->inspectImage(ref)) continue;
        std::vector<engine::Engine*> to{&e};
        if (Status s = engine::copyImages(*peer, {ref}, to, {}, stop); s) {
          copied = true;
          break;
        } else {
          tried += fmt::format("; copying it from {} failed: {}", peerName, s.error().message());
        }
      }
      if (copied) continue;
      if (Status pulled = e.pullImage(ref, "", {}); pulled) continue;
      else tried += "; pulling it failed: " + pulled.error().message();
      imageErrors[ref] = fmt::format("image {} is on no ready host of the fleet and could not be pulled{} "
                                     "(send it with `berth image push {}`)",
                                     ref, tried, ref);
    }
    if (meshed) {
      auto onMesh = std::make_shared<spec::Project>(*project);
      if (Status s = meshProject(e, *options.mesh, hostIndex, *onMesh); !s) {
        r.error = "mesh: " + s.error().message();
        for (const auto& [container, task] : work.containerTask) r.taskErrors[task] = r.error;
        for (const auto& [service, slots] : work.slots) {
          (void)service;
          for (const plan::Slot& slot : slots) {
            if (auto t = slot.labels.find(std::string(labels::kTask)); t != slot.labels.end()) {
              r.taskErrors[t->second] = r.error;
            }
          }
        }
        finish();
        return;
      }
      project = std::move(onMesh);
    }
    plan::ObserveOptions oo;
    oo.images = work.images;
    auto observed = plan::observe(e, job.stack, oo);
    if (!observed) {
      r.error = observed.error().message();
      finish();
      return;
    }
    plan::UpOptions up;
    for (const auto& [name, s] : project->services) {
      (void)s;
      up.services.push_back(name);
    }
    up.noDeps = true;
    up.ignoreDependsOn = true;
    up.slots = work.slots;
    up.pull = "never";
    up.build = plan::BuildPolicy::Never;
    up.removeOrphans = true;
    up.version = version;
    up.serviceAliases = !meshed;
    // A slot whose image is missing cannot get a new container: its task fails with the reason.
    for (auto& [service, slots] : up.slots) {
      auto s = project->services.find(service);
      if (s == project->services.end()) continue;
      auto missing = imageErrors.find(plan::serviceImage(*project, s->second));
      if (missing == imageErrors.end()) continue;
      std::vector<plan::Slot> keep;
      for (plan::Slot& slot : slots) {
        bool exists = false;
        for (const plan::ObservedContainer* c : observed->serviceContainers(service)) {
          if (c->number == slot.number) exists = true;
        }
        auto task = slot.labels.find(std::string(labels::kTask));
        if (!exists && task != slot.labels.end()) {
          r.taskErrors[task->second] = missing->second;
        } else {
          keep.push_back(std::move(slot));
        }
      }
      slots = std::move(keep);
    }
    auto p = plan::diff(*project, *observed, up);
    if (!p) {
      r.error = p.error().message();
      for (const auto& [container, task] : work.containerTask) r.taskErrors[task] = p.error().message();
      finish();
      return;
    }
    JobProgress progress(options.crashPoint);
    plan::ApplyOptions ao;
    ao.parallelism = 4;
    if (Status s = plan::apply(*p, e, progress, clk, ao, stop); !s) r.error = s.error().message();
    for (const auto& [container, why] : progress.failures) {
      auto task = work.containerTask.find(container);
      if (task != work.containerTask.end()) r.taskErrors[task->second] = why;
    }
    finish();
  });
}

void Controller::Impl::jobDone(JobResult r) {
  busy.erase(r.job.host);
  if (meshSync) meshSync->networksChanged(r.job.host);
  dirty = true;
  HostObservation& o = obs[r.job.host];
  if (!r.error.empty()) {
    noteError(r.job.host);
    log::warn("host {} stack {}: {}", r.job.host, r.job.stack, r.error);
    JobBackoff& b = backoff[r.job];
    b.failures = std::min(b.failures + 1, 6);
    b.retryAt = std::chrono::steady_clock::now() +
                std::min<std::chrono::milliseconds>(std::chrono::milliseconds(250) * (1 << (b.failures - 1)), 10s);
  } else {
    backoff.erase(r.job);
  }
  for (auto& [task, why] : r.taskErrors) o.taskErrors[task] = why;
  if (r.listed) {
    auto& last = listedAt[r.job.host];
    if (r.listStarted >= last) {
      last = r.listStarted;
      o.containers = std::move(r.containers);
      o.listed = true;
    }
  }
  // Jobs deferred while the host was busy are not re-run as they were: the next pass (dirty) decides
  // afresh what the host needs.
  std::erase_if(again, [&](const HostJob& j) { return j.host == r.job.host; });
}

void Controller::Impl::startAgent(const Host& host) {
  auto probe = provider.connect(host, EngineProvider::Role::Probe);
  auto work = provider.connect(host, EngineProvider::Role::Work);
  if (!probe || !work) {
    const std::string why = !probe ? probe.error().message() : work.error().message();
    log::error("host {}: {}", host.name, why);
    obs[host.name].error = why;
    return;
  }
  auto agent = std::make_unique<Agent>(*this, host, std::move(*probe), std::move(*work));
  std::lock_guard lock(agentsMu);
  agents[host.name] = std::move(agent);
}

void Controller::Impl::stopAgent(const std::string& name) {
  std::unique_ptr<Agent> agent;
  {
    std::lock_guard lock(agentsMu);
    auto it = agents.find(name);
    if (it == agents.end()) return;
    agent = std::move(it->second);
    agents.erase(it);
  }
  // Joined here: the agent's threads only post to the mailbox (never wait for the owner), so this
  // ends within one probe or listing.
  agent.reset();
}

void Controller::Impl::rebalanceStep() {
  // One move at a time per stack: while a replacement of the stack is in flight, wait.
  for (auto it = rebalancing.begin(); it != rebalancing.end();) {
    const std::string stack = *it;
    bool inflight = false;
    for (const auto& [id, t] : state.tasks) {
      (void)id;
      if (t.stack == stack && t.live() && !t.replaces.empty()) {
        auto old = state.tasks.find(t.replaces);
        if (old != state.tasks.end() && old->second.live()) inflight = true;
      }
    }
    // ... and until no host runs a container of a task a move replaced: "rebalanced" means the
    // stack's containers are where its tasks are.
    for (const auto& [host, o] : obs) {
      (void)host;
      if (o.health != HostHealth::Ready || !o.listed) continue;  // a lost host's are removed on its return
      for (const ObservedTaskContainer& c : o.containers) {
        if (inflight || c.stack != stack) continue;
        auto t = state.tasks.find(c.task);
        if (t != state.tasks.end() && !t->second.live() && t->second.state == TaskState::Shutdown) inflight = true;
      }
    }
    if (inflight) {
      ++it;
      continue;
    }
    // The most loaded host of some service against the least loaded eligible one.
    std::map<std::string, PlacementSpec> specs;
    for (const auto& [key, record] : state.services) {
      if (auto d = defs.find(DefKey{record.stack, record.name, record.specGeneration}); d != defs.end())
        specs[key.first + "/" + key.second] = d->second.placement;
    }
    auto load = candidates(state, obs, specs);
    std::optional<std::pair<std::string, std::string>> move;  // task ID, target host
    for (const auto& [key, record] : state.services) {
      if (record.stack != stack || move) continue;
      auto d = defs.find(DefKey{record.stack, record.name, record.specGeneration});
      if (d == defs.end() || d->second.global || d->second.volumeBound) continue;
      std::map<std::string, std::vector<const Task*>> byHost;
      for (const auto& [id, t] : state.tasks) {
        (void)id;
        if (t.stack == stack && t.service == record.name && t.live() && t.state == TaskState::Running)
          byHost[t.host].push_back(&t);
      }
      const std::string k = stack + "/" + record.name;
      const HostCandidate* least = nullptr;
      int leastCount = 0;
      for (const HostCandidate& c : load) {
        if (!eligible(d->second.placement, c)) continue;
        const int n = static_cast<int>(byHost[c.host->name].size());
        if (least == nullptr || n < leastCount) {
          least = &c;
          leastCount = n;
        }
      }
      std::string most;
      int mostCount = 0;
      for (const auto& [host, tasks] : byHost) {
        if (static_cast<int>(tasks.size()) > mostCount) {
          most = host;
          mostCount = static_cast<int>(tasks.size());
        }
      }
      if (least == nullptr || mostCount - leastCount <= 1) continue;
      // The target must really fit (reservations, ports): the scheduler decides, pinned to it.
      PlacementSpec only = d->second.placement;
      only.pinnedHost = least->host->name;
      if (!place(only, record.name, load)) continue;
      const Task* victim = byHost[most].back();
      move = std::make_pair(victim->id, least->host->name);
    }
    if (!move) {
      it = rebalancing.erase(it);
      ControllerEvent e;
      e.time = clock.wallNow();
      e.type = "stack";
      e.action = "rebalanced";
      e.stack = stack;
      e.name = stack;
      events.append({e});
      continue;
    }
    const Task& old = state.tasks.at(move->first);
    Task n;
    n.id = newTaskId();
    n.stack = old.stack;
    n.service = old.service;
    n.slot = old.slot;
    n.host = move->second;
    n.desired = DesiredState::Running;
    n.state = TaskState::Assigned;
    n.specGeneration = old.specGeneration;
    n.forceCounter = old.forceCounter;
    n.replaces = old.id;
    n.createdAt = clock.wallNow();
    n.stateSince = n.createdAt;
    Change c;
    c.putTasks.push_back(n);
    if (commit(c)) {
      ControllerEvent e;
      e.time = n.createdAt;
      e.type = "task";
      e.action = "rebalance";
      e.stack = n.stack;
      e.service = n.service;
      e.task = n.id;
      e.name = taskName(n);
      e.host = n.host;
      e.message = fmt::format("moving {} from {} to {}", taskName(old), old.host, n.host);
      events.append({e});
      dispatch({n.host, n.stack});
    }
    ++it;
  }
}

// ---- Controller

Controller::Controller(Store& store, EngineProvider& engines, Clock& clock, ControllerOptions options)
    : impl_(std::make_unique<Impl>(store, engines, clock, std::move(options), events_)) {
  impl_->config.downAfter = impl_->options.downAfter;
  impl_->config.historyPerSlot = impl_->options.historyPerSlot;
  impl_->stats.bucketBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
  impl_->stats.bucketCounts.assign(impl_->stats.bucketBounds.size(), 0);
}

Controller::~Controller() { stop(); }

Status Controller::start() {
  BERTH_ASSIGN_OR_RETURN(impl_->state, impl_->store.load());
  impl_->config.startedAt = impl_->clock.wallNow();
  (void)impl_->ensureDefs();
  // The mesh first: the host agents tell it of its agents' events from their own threads.
  if (impl_->options.mesh) {
    BERTH_TRY(impl_->options.mesh->layout.validate());
    impl_->meshSync = std::make_unique<MeshSync>(*impl_->options.mesh, impl_->events);
  }
  for (const auto& [name, host] : impl_->state.hosts) {
    (void)name;
    impl_->startAgent(host);
  }
  impl_->publish();
  for (int i = 0; i < std::max(1, impl_->options.jobThreads); ++i) {
    impl_->workers.emplace_back([impl = impl_.get()] {
      while (true) {
        std::function<void()> job;
        {
          std::unique_lock lock(impl->jobMu);
          impl->jobCv.wait(lock, [&] { return !impl->jobQueue.empty() || impl->jobsStopping; });
          if (impl->jobQueue.empty()) return;
          job = std::move(impl->jobQueue.front());
          impl->jobQueue.pop_front();
        }
        job();
        memory::releaseStackBelowCaller();  // a job (plan, apply) goes deep; then the worker idles
      }
    });
  }
  impl_->owner = std::jthread([impl = impl_.get()](std::stop_token st) {
    impl->ownerId = std::this_thread::get_id();
    impl->loop(st);
  });
  impl_->ownerStarted = true;
  log::info("controller started: {} hosts, {} stacks, {} tasks ({})", impl_->state.hosts.size(),
            impl_->state.stacks.size(), impl_->state.tasks.size(), impl_->store.describe());
  return ok();
}

void Controller::stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->owner.joinable()) impl_->owner.join();
  {
    // Readers after the stop see the state as it was left; readers that were waiting for the
    // owner's copy are answered with it too (their requests are dropped with the mailbox).
    auto last = impl_->buildSnapshot();
    std::lock_guard lock(impl_->snapMu);
    impl_->finalSnap = std::move(last);
  }
  {
    std::deque<std::function<void()>> dropped;
    std::lock_guard lock(impl_->mu);
    dropped.swap(impl_->mailbox);
  }
  impl_->jobStop.request_stop();
  {
    std::lock_guard lock(impl_->jobMu);
    impl_->jobsStopping = true;
  }
  impl_->jobCv.notify_all();
  impl_->workers.clear();  // joins
  if (impl_->meshSync) impl_->meshSync->stop();
  std::map<std::string, std::unique_ptr<Agent>> agents;
  {
    std::lock_guard lock(impl_->agentsMu);
    agents.swap(impl_->agents);
  }
  agents.clear();  // joins their threads
  events_.close();
}

std::shared_ptr<const Snapshot> Controller::snapshot() const {
  Impl& impl = *impl_;
  {
    std::lock_guard lock(impl.snapMu);
    if (impl.finalSnap) return impl.finalSnap;
    if (auto s = impl.snapCache.lock(); s && impl.snapCacheVersion == impl.stateVersion) return s;
  }
  // Before start() nothing else touches the state; on the owner thread it is ours to read.
  if (!impl.ownerStarted || std::this_thread::get_id() == impl.ownerId.load()) return impl.buildSnapshot();
  auto promise = std::make_shared<std::promise<std::shared_ptr<const Snapshot>>>();
  auto future = promise->get_future();
  bool posted = false;
  {
    std::lock_guard lock(impl.mu);
    if (!impl.stopping) {
      impl.mailbox.push_back([&impl, promise] { promise->set_value(impl.buildSnapshot()); });
      posted = true;
    }
  }
  if (posted) {
    impl.cv.notify_one();
    promise.reset();  // the mailbox's copy is the one that answers (or, dropped by stop(), breaks)
    try {
      return future.get();
    } catch (const std::future_error&) {
      // Stopped before the owner got to it: the state stop() left.
    }
  }
  std::lock_guard lock(impl.snapMu);
  return impl.finalSnap != nullptr ? impl.finalSnap : std::make_shared<const Snapshot>();
}

ReconcileStats Controller::stats() const {
  std::lock_guard lock(impl_->statsMu);
  return impl_->stats;
}

std::map<std::string, std::shared_ptr<engine::Engine>> Controller::engines(
    const std::vector<std::string>& hosts) const {
  auto snap = snapshot();
  std::map<std::string, std::shared_ptr<engine::Engine>> out;
  std::lock_guard lock(impl_->agentsMu);
  for (const auto& [name, agent] : impl_->agents) {
    if (!hosts.empty() && std::find(hosts.begin(), hosts.end(), name) == hosts.end()) continue;
    auto o = snap->observations.find(name);
    if (o == snap->observations.end() || o->second.health != HostHealth::Ready) continue;
    out[name] = agent->work();
  }
  return out;
}

Result<Host> Controller::addHost(const HostRegistration& reg) {
  BERTH_TRY(hosts::checkHostName(reg.name));
  Host probeHost;
  probeHost.name = reg.name;
  probeHost.url = reg.url;
  BERTH_ASSIGN_OR_RETURN(auto engine, impl_->provider.connect(probeHost, EngineProvider::Role::Probe));
  auto info = engine->info();
  if (!info) {
    return fail(std::move(info).error().withContext(
        fmt::format("host {} ({}): berthd could not reach the engine with its client certificate", reg.name,
                    reg.url)));
  }
  const EngineFacts facts = factsOf(*info);
  return impl_->call<Result<Host>>([this, reg, facts]() -> Result<Host> {
    Impl& m = *impl_;
    if (m.state.hosts.count(reg.name) != 0) {
      return fail(ErrorCode::AlreadyExists, "host " + reg.name + " is already registered with the controller");
    }
    for (const auto& [name, h] : m.state.hosts) {
      if (h.url == reg.url) {
        return fail(ErrorCode::AlreadyExists,
                    fmt::format("{} is already registered as host {}", reg.url, name));
      }
    }
    Host h;
    h.name = reg.name;
    h.id = randomId();
    h.index = m.state.nextHostIndex;
    h.url = reg.url;
    h.labels = reg.labels;
    h.facts = facts;
    h.addedAt = m.clock.wallNow();
    Change c;
    c.putHosts.push_back(h);
    c.nextHostIndex = h.index + 1;
    BERTH_TRY(m.commit(c));
    m.startAgent(h);
    ControllerEvent e;
    e.time = h.addedAt;
    e.type = "host";
    e.action = "added";
    e.name = h.name;
    e.host = h.name;
    e.message = h.url;
    m.events.append({e});
    m.dirty = true;
    return h;
  });
}

Status Controller::removeHost(const std::string& name, bool force) {
  return impl_->call<Status>([this, name, force]() -> Status {
    Impl& m = *impl_;
    if (m.state.hosts.count(name) == 0) {
      return fail(ErrorCode::NotFound, "no host named " + berth::quoted(name) + " is registered with the controller");
    }
    int live = 0;
    for (const auto& [id, t] : m.state.tasks) {
      (void)id;
      if (t.live() && t.host == name) ++live;
    }
    if (live > 0 && !force) {
      return fail(ErrorCode::Conflict,
                  fmt::format("host {} runs {} task{}; drain it first (`berth host drain {}`), or remove it "
                              "with --force to start them elsewhere",
                              name, live, live == 1 ? "" : "s", name));
    }
    Change c;
    c.deleteHosts.push_back(name);
    BERTH_TRY(m.commit(c));
    if (m.meshSync) {
      // The host leaves the mesh too: its network agent undoes what it set up there.
      if (auto e = m.meshEngines.find(name); e != m.meshEngines.end()) {
        m.meshSync->leave(name, std::move(e->second));
        m.meshEngines.erase(e);
      }
    }
    m.stopAgent(name);
    m.obs.erase(name);
    ControllerEvent e;
    e.time = m.clock.wallNow();
    e.type = "host";
    e.action = "removed";
    e.name = name;
    e.host = name;
    m.events.append({e});
    m.dirty = true;
    return ok();
  });
}

Status Controller::setHostLabels(const std::string& name, const std::map<std::string, std::string>& set,
                                 const std::vector<std::string>& remove) {
  return impl_->call<Status>([this, name, set, remove]() -> Status {
    Impl& m = *impl_;
    auto it = m.state.hosts.find(name);
    if (it == m.state.hosts.end()) {
      return fail(ErrorCode::NotFound, "no host named " + berth::quoted(name) + " is registered with the controller");
    }
    Host h = it->second;
    for (const auto& [k, v] : set) h.labels[k] = v;
    for (const std::string& k : remove) h.labels.erase(k);
    Change c;
    c.putHosts.push_back(h);
    BERTH_TRY(m.commit(c));
    m.dirty = true;
    return ok();
  });
}

Status Controller::setAvailability(const std::string& name, Availability availability) {
  return impl_->call<Status>([this, name, availability]() -> Status {
    Impl& m = *impl_;
    auto it = m.state.hosts.find(name);
    if (it == m.state.hosts.end()) {
      return fail(ErrorCode::NotFound, "no host named " + berth::quoted(name) + " is registered with the controller");
    }
    if (it->second.availability == availability) return ok();
    Host h = it->second;
    h.availability = availability;
    Change c;
    c.putHosts.push_back(h);
    BERTH_TRY(m.commit(c));
    ControllerEvent e;
    e.time = m.clock.wallNow();
    e.type = "host";
    e.action = availability == Availability::Drain ? "drain" : "activate";
    e.name = name;
    e.host = name;
    m.events.append({e});
    m.dirty = true;
    return ok();
  });
}

Result<DeployOutcome> Controller::deploy(const std::string& stack, const std::string& projectYaml) {
  if (!spec::isValidProjectName(stack)) {
    return fail(ErrorCode::InvalidArgument,
                "stack name " + berth::quoted(stack) + ": use lower-case letters, digits, '-' and '_', starting with a "
                                                 "letter or digit");
  }
  // Read and check the project outside the owner thread: it is the slow part.
  BERTH_ASSIGN_OR_RETURN(spec::Project project, loadVersion(stack, projectYaml));
  std::vector<std::string> problems;
  std::map<std::string, ServiceDef> defs;
  for (const auto& [name, service] : project.services) {
    auto d = serviceDef(project, service, 0, impl_->options.mesh.has_value());
    if (!d) {
      problems.push_back(d.error().message());
      continue;
    }
    defs[name] = std::move(*d);
  }
  if (!project.secrets.empty()) {
    problems.push_back("secrets are not supported by the controller yet (they need encryption at rest); remove "
                       "them from the stack or deploy it with `berth up`");
  }
  for (const auto& [name, service] : project.services) {
    if (service.ssh && !service.ssh->to.empty()) {
      problems.push_back("service " + name +
                         ": x-berth-ssh `to:` (SSH trust between services) is not supported by the controller "
                         "yet; deploy the project with `berth up`");
    }
  }
  if (project.services.empty()) problems.push_back("the stack has no services");
  if (!problems.empty()) {
    return fail(ErrorCode::InvalidArgument, "stack " + stack + ": " + join(problems, "; "));
  }
  return impl_->call<Result<DeployOutcome>>([this, stack, projectYaml, project, defs]() -> Result<DeployOutcome> {
    Impl& m = *impl_;
    DeployOutcome out;
    Stack s;
    const WallTime now = m.clock.wallNow();
    if (auto it = m.state.stacks.find(stack); it != m.state.stacks.end()) {
      s = it->second;
      if (s.removing) {
        return fail(ErrorCode::Conflict,
                    "stack " + stack + " is being removed; deploy it again once `berth stack ls` no longer lists it");
      }
      auto v = m.state.versions.find({stack, s.generation});
      if (v != m.state.versions.end() && v->second.project == projectYaml) {
        out.generation = s.generation;
        return out;
      }
    } else {
      s.name = stack;
      s.createdAt = now;
    }
    s.generation += 1;
    s.updatedAt = now;
    Change c;
    c.putStacks.push_back(s);
    c.putVersions.push_back(StackVersion{stack, s.generation, projectYaml});
    for (const auto& [name, d] : defs) {
      ServiceRecord r;
      if (auto it = m.state.services.find({stack, name}); it != m.state.services.end()) {
        r = it->second;
        auto old = m.defs.find(DefKey{stack, name, r.specGeneration});
        const bool changed = old == m.defs.end() || old->second.configHash != d.configHash;
        if (changed) {
          r.previousGeneration = r.specGeneration;
          out.updated.push_back(name);
          // A new definition ends whatever update was paused: it rolls out afresh.
          if (r.updateState != UpdateState::Updating) r.updateState = UpdateState::None;
        }
      } else {
        r.stack = stack;
        r.name = name;
      }
      r.specGeneration = s.generation;
      r.replicas.reset();
      c.putServices.push_back(r);
    }
    for (const auto& [key, r] : m.state.services) {
      if (key.first == stack && defs.count(key.second) == 0) {
        c.deleteServices.push_back(key);
        out.removed.push_back(key.second);
      }
    }
    BERTH_TRY(m.commit(c));
    out.generation = s.generation;
    out.changed = true;
    ControllerEvent e;
    e.time = now;
    e.type = "stack";
    e.action = "deploy";
    e.stack = stack;
    e.name = stack;
    e.message = fmt::format("version {}", s.generation);
    m.events.append({e});
    m.dirty = true;
    return out;
  });
}

Status Controller::removeStack(const std::string& stack, bool volumes) {
  return impl_->call<Status>([this, stack, volumes]() -> Status {
    Impl& m = *impl_;
    auto it = m.state.stacks.find(stack);
    if (it == m.state.stacks.end()) return fail(ErrorCode::NotFound, "no stack named " + berth::quoted(stack));
    Stack s = it->second;
    s.removing = true;
    s.removeVolumes = s.removeVolumes || volumes;
    Change c;
    c.putStacks.push_back(s);
    BERTH_TRY(m.commit(c));
    m.dirty = true;
    return ok();
  });
}

namespace {

Result<ServiceRecord> findService(const ClusterState& state, const std::string& stack, const std::string& service) {
  auto it = state.services.find({stack, service});
  if (it == state.services.end()) {
    return fail(ErrorCode::NotFound, fmt::format("no service {} in stack {}", berth::quoted(service), berth::quoted(stack)));
  }
  return it->second;
}

}  // namespace

Status Controller::scale(const std::string& stack, const std::string& service, int replicas) {
  return impl_->call<Status>([=, this]() -> Status {
    Impl& m = *impl_;
    BERTH_ASSIGN_OR_RETURN(ServiceRecord r, findService(m.state, stack, service));
    if (replicas < 0) return fail(ErrorCode::InvalidArgument, "replicas must not be negative");
    auto d = m.defs.find(DefKey{stack, service, r.specGeneration});
    if (d != m.defs.end() && d->second.global) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("service {}_{} is global (one task per host): it cannot be scaled", stack, service));
    }
    r.replicas = replicas;
    Change c;
    c.putServices.push_back(r);
    BERTH_TRY(m.commit(c));
    m.dirty = true;
    return ok();
  });
}

Status Controller::forceUpdate(const std::string& stack, const std::string& service, const std::string& host) {
  return impl_->call<Status>([=, this]() -> Status {
    Impl& m = *impl_;
    BERTH_ASSIGN_OR_RETURN(ServiceRecord r, findService(m.state, stack, service));
    if (!host.empty() && m.state.hosts.count(host) == 0) {
      return fail(ErrorCode::NotFound, "no host named " + berth::quoted(host) + " is registered with the controller");
    }
    if (!host.empty()) {
      // Only a host the service may run on at all (its constraints; availability aside).
      auto d = m.defs.find(DefKey{stack, service, r.specGeneration});
      if (d != m.defs.end()) {
        HostCandidate c;
        c.host = &m.state.hosts.at(host);
        c.health = HostHealth::Ready;
        PlacementSpec spec = d->second.placement;
        std::string why;
        if (!eligible(spec, c, &why)) {
          return fail(ErrorCode::InvalidArgument,
                      fmt::format("service {}_{} cannot run on {}: {} (change the file's placement first)", stack,
                                  service, host, why));
        }
      }
    }
    r.forceCounter += 1;
    if (!host.empty()) r.pinnedHost = host;
    r.updateState = UpdateState::None;
    Change c;
    c.putServices.push_back(r);
    BERTH_TRY(m.commit(c));
    m.dirty = true;
    return ok();
  });
}

Status Controller::rollback(const std::string& stack, const std::string& service) {
  return impl_->call<Status>([=, this]() -> Status {
    Impl& m = *impl_;
    BERTH_ASSIGN_OR_RETURN(ServiceRecord r, findService(m.state, stack, service));
    if (r.previousGeneration == 0) {
      return fail(ErrorCode::Conflict,
                  fmt::format("service {}_{} has no previous definition to roll back to", stack, service));
    }
    std::swap(r.specGeneration, r.previousGeneration);
    r.updateState = UpdateState::RollingBack;
    r.updateStartedAt = m.clock.wallNow();
    r.lastBatchAt = WallTime{};
    r.updateFailures = 0;
    r.updateMessage = "manual rollback";
    Change c;
    c.putServices.push_back(r);
    BERTH_TRY(m.commit(c));
    m.dirty = true;
    return ok();
  });
}

Result<int> Controller::rebalance(const std::string& stack) {
  return impl_->call<Result<int>>([=, this]() -> Result<int> {
    Impl& m = *impl_;
    if (m.state.stacks.count(stack) == 0) return fail(ErrorCode::NotFound, "no stack named " + berth::quoted(stack));
    m.rebalancing.insert(stack);
    m.dirty = true;
    return 1;
  });
}

}  // namespace berth::cluster
