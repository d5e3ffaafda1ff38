// The scheduler: which host a task runs on. Pure functions over values (no I/O, no clock), so every
// placement rule is tested from text.
//
// Rules, in the order they are checked for each host (the first that fails is the reason given):
//   1. the host is ready (not down, not unknown) and active (not draining);
//   2. deploy.placement.constraints: node.hostname, node.id, node.labels.KEY, engine.labels.KEY,
//      with == or != (a missing label is "" for ==, and satisfies !=);
//   3. deploy.placement.max_replicas_per_node;
//   4. published host ports: a port another live task publishes on the host is taken;
//   5. deploy.resources.reservations: cpus and memory against the engine's NCPU and MemTotal minus
//      what the live tasks placed there reserve.
// Among the hosts that fit, spread: with `spread: node.labels.KEY` preferences, first the value of
// KEY with the fewest replicas of the service; then the host with the fewest replicas of the
// service, then the fewest tasks in all, then the name — deterministic for the same inputs.
//
// When nothing fits, the reason names every host:
//   "no host fits web.2: h1 fails node.labels.zone==eu, h2 has 0.5 of 2 CPUs free, h3 is draining"
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "base/result.h"
#include "cluster/model.h"

namespace berth::cluster {

struct Constraint {
  enum class Field { Hostname, NodeId, NodeLabel, EngineLabel };
  Field field = Field::Hostname;
  std::string key{};  // the label's key for NodeLabel / EngineLabel
  bool equal = true;  // == (true) or !=
  std::string value{};
  std::string text{};  // as written, without spaces: "node.labels.zone==eu"

  friend bool operator==(const Constraint&, const Constraint&) = default;
};

// Parses "node.labels.zone == eu". InvalidArgument naming the expression and what is wrong.
Result<Constraint> parseConstraint(std::string_view text);

// What a service asks of the hosts its tasks run on.
struct PlacementSpec {
  std::string stack{};
  std::string service{};
  std::vector<Constraint> constraints{};
  std::vector<std::string> spreadLabels{};  // node.labels keys, in preference order
  int maxPerHost = 0;                       // 0: no limit
  double cpus = 0;                          // reservations
  std::int64_t memory = 0;
  // Tasks that mount a named local volume stay where the volume is: when set, only this host.
  std::string pinnedHost{};
  // Host ports its containers publish ("8080/tcp"): two tasks publishing the same port cannot share
  // a host.
  std::vector<std::string> hostPorts{};

  friend bool operator==(const PlacementSpec&, const PlacementSpec&) = default;
};

// A host as the scheduler sees it, with what already runs there (live tasks). place() updates it
// when it places a task, so a batch of placements spreads.
struct HostCandidate {
  const Host* host = nullptr;
  HostHealth health = HostHealth::Unknown;
  int tasks = 0;                                // live tasks of every service
  std::map<std::string, int> perService{};      // "stack/service" → live tasks
  double cpusReserved = 0;
  std::int64_t memoryReserved = 0;
  std::map<std::string, std::string> ports{};  // "8080/tcp" → "stack/service" publishing it
};

// The candidates for a cluster: every host, with the load of every live task that has one.
// `exclude` (a task ID) is not counted (the task being re-placed).
std::vector<HostCandidate> candidates(const ClusterState& state, const Observations& observations,
                                      const std::map<std::string, PlacementSpec>& specs);

// Places one task (named `taskName` in messages, e.g. "web.2") on the best host and records it in
// `hosts`; `avoid` is a host not to use unless nothing else fits (e.g. the one a task failed on).
// Errors: Unavailable "no host fits web.2: ..." naming every host's reason.
Result<std::string> place(const PlacementSpec& spec, const std::string& taskName,
                          std::vector<HostCandidate>& hosts, const std::string& avoid = {});

// Whether `host` may run a task of `spec` at all, ignoring load (constraints and availability):
// global services run one task on every such host. Fills `why` when not.
bool eligible(const PlacementSpec& spec, const HostCandidate& host, std::string* why = nullptr);

// Records a live task of `spec` on `host` in `hosts` (what place() does after choosing).
void addLoad(std::vector<HostCandidate>& hosts, const std::string& host, const PlacementSpec& spec);
// Removes it again (a task that stops counting: shut down, or re-placed).
void removeLoad(std::vector<HostCandidate>& hosts, const std::string& host, const PlacementSpec& spec);

// The hosts and their load through one reconcile pass: place(), add() and remove() decide and
// record exactly what the functions above do on the same vector, but a deploy of T tasks on H hosts
// costs about T log H instead of T x H. For each placement spec it is asked to place, it keeps the
// hosts that may run it (eligible: fixed through a pass) and have room for one more (fits), ordered
// by rank (replicas of the service on the host, tasks on the host, name) in groups of hosts that share
// their spread labels' values (a few groups: zones, racks); the best host is the first of the group
// whose spread counts are lowest. A change of load on a host re-ranks that host in each of them.
// Pinned specs (one host) are decided on that host alone; when nothing fits, the linear walk spells
// out every host's reason.
class Placer {
 public:
  explicit Placer(std::vector<HostCandidate> hosts = {});
  ~Placer();
  Placer(Placer&&) noexcept;
  Placer& operator=(Placer&&) noexcept;

  Result<std::string> place(const PlacementSpec& spec, const std::string& taskName, const std::string& avoid = {});
  void add(const std::string& host, const PlacementSpec& spec);
  void remove(const std::string& host, const PlacementSpec& spec);

  // Every host, ordered by name.
  const std::vector<HostCandidate>& hosts() const { return hosts_; }
  const HostCandidate* find(const std::string& host) const;

 private:
  struct View;
  std::size_t indexOf(const std::string& host) const;  // hosts_.size() when unknown
  View& viewFor(const PlacementSpec& spec);
  void changed(std::size_t host);  // re-ranks the host in every view

  std::vector<HostCandidate> hosts_;
  std::vector<std::unique_ptr<View>> views_;
};

// "0.5" / "2" for CPU counts and "512MiB" / "1.5GiB" for memory, as reasons print them.
std::string formatCpus(double cpus);
std::string formatBytes(std::int64_t bytes);

}  // namespace berth::cluster
