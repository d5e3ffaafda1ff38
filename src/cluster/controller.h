// The controller: berthd's running core. It owns the cluster state (one owner thread; everything
// else posts to it), keeps a live view of every host (probes, event streams, listings), runs the
// pure reconciler (reconcile.h) whenever something changed, commits its decisions to the Store
// before acting, and converges hosts through the same plan/diff/apply code as `berth up`.
//
//   API call ─┐                                   ┌─► Store::commit (decisions first)
//   probe    ─┼─► mailbox ─► owner thread ─► reconcile ─► jobs ─► worker pool: images, observe,
//   event    ─┤                    ▲                                   diff (slots), apply
//   job done ─┘                    └──────────── results (containers, errors) ───────┘
//
// Per host, one thread and one connection (an agent): it pings every probeInterval, lists berth's
// containers every relistInterval, and between probes reads the engine's events in windows that
// end at the next probe (any container event of a berth container makes it list at once, on a
// second connection while the window lasts, so a dead container is seen within milliseconds).
// Jobs run on a bounded pool, at most one per host at a time.
//
// Thread-safety: every public method may be called from any thread. Mutating calls post to the
// owner thread and wait for its answer; read calls return an immutable snapshot.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "cluster/events.h"
#include "cluster/mesh.h"
#include "cluster/model.h"
#include "cluster/reconcile.h"
#include "cluster/service_def.h"
#include "cluster/store.h"
#include "engine/engine.h"

namespace berth::cluster {

// How the controller reaches a host's engine. The daemon's implementation uses the host's URL with
// berthd's own client certificate for it; tests use fake engines.
class EngineProvider {
 public:
  // Probes need short deadlines; work (apply, images) long ones; the mesh's calls to a host's
  // network agent short ones too (mesh.h: a host lost in the middle of one holds back the other
  // hosts' updates until it times out).
  enum class Role { Probe, Work, Mesh };
  virtual ~EngineProvider() = default;
  virtual Result<std::shared_ptr<engine::Engine>> connect(const Host& host, Role role) = 0;

  // The engine client's deadlines for a role, for providers that make real engines: a probe must
  // answer within the probe interval, or the host is not answering; work may take a minute.
  static engine::EngineOptions optionsFor(Role role);
};

struct ControllerOptions {
  std::chrono::milliseconds probeInterval{1000};
  std::chrono::milliseconds downAfter{5000};
  std::chrono::milliseconds relistInterval{5000};
  int jobThreads = 8;
  int historyPerSlot = 5;
  std::string version{};  // berth's version, for com.docker.compose.version on containers
  // The cross-host network (docs/network.md); unset: each host's networks stay its own.
  std::optional<MeshOptions> mesh{};
  // Test seam for crash tests: called after every commit ("commit") and at every step a job takes
  // on an engine ("step Creating web-1"); berthd's hidden --crash-at N kills the process there.
  std::function<void(std::string_view what)> crashPoint{};
};

// Everything a reader needs, as of the last reconcile pass.
struct Snapshot {
  ClusterState state{};
  Observations observations{};
  DefCatalog defs{};
  WallTime at{};
};

struct HostRegistration {
  std::string name{};
  std::string url{};
  std::map<std::string, std::string> labels{};
};

struct DeployOutcome {
  std::int64_t generation = 0;
  bool changed = false;                 // false: the same project was deployed before
  std::vector<std::string> updated{};   // services whose containers will be replaced
  std::vector<std::string> removed{};   // services no longer in the file
};

struct ReconcileStats {
  std::uint64_t passes = 0;
  // Histogram of pass durations (Prometheus buckets, seconds).
  std::vector<double> bucketBounds{};
  std::vector<std::uint64_t> bucketCounts{};
  double sumSeconds = 0;
  std::map<std::string, std::uint64_t> engineErrors{};  // by host
  std::uint64_t placementFailures = 0;
};

class Controller {
 public:
  Controller(Store& store, EngineProvider& engines, Clock& clock, ControllerOptions options);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Loads the store and starts the threads. Errors: the store's.
  Status start();
  // Stops every thread (waits for running jobs' engine calls to return). Never touches containers.
  void stop();

  // ---- hosts
  // Registers a host berthd can reach (the caller has put its credentials in place for the engine
  // provider). Errors: AlreadyExists, InvalidArgument (bad name), Unavailable (engine not reachable:
  // nothing is stored).
  Result<Host> addHost(const HostRegistration& registration);
  // Forgets a host. Conflict while live tasks run there, unless `force` (they are moved off).
  Status removeHost(const std::string& name, bool force);
  Status setHostLabels(const std::string& name, const std::map<std::string, std::string>& set,
                       const std::vector<std::string>& remove);
  Status setAvailability(const std::string& name, Availability availability);

  // ---- stacks and services
  // Stores a new version of the stack from its canonical YAML (spec/render.h). Errors
  // (InvalidArgument) for what the controller cannot run, nothing stored.
  Result<DeployOutcome> deploy(const std::string& stack, const std::string& projectYaml);
  Status removeStack(const std::string& stack, bool volumes);
  Status scale(const std::string& stack, const std::string& service, int replicas);
  // Replaces every task of the service (a rolling restart); `host` also pins it there.
  Status forceUpdate(const std::string& stack, const std::string& service, const std::string& host);
  Status rollback(const std::string& stack, const std::string& service);
  // Re-spreads a stack's replicated services: one task at a time moves (start-first) to where the
  // scheduler would put it now, never below the service's replicas. Returns how many moves it
  // started.
  Result<int> rebalance(const std::string& stack);

  // ---- reading
  std::shared_ptr<const Snapshot> snapshot() const;
  EventLog& events() { return events_; }
  ReconcileStats stats() const;
  // The engines of ready hosts (for logs and image uploads), by name; hosts asked for that are not
  // ready are left out.
  std::map<std::string, std::shared_ptr<engine::Engine>> engines(const std::vector<std::string>& hosts) const;

  struct Impl;  // opaque; public so that the host agents in the .cc can name it

 private:
  std::unique_ptr<Impl> impl_;
  EventLog events_;
};

}  // namespace berth::cluster
