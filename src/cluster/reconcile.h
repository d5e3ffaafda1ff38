// The reconciler's decisions: one pure function from (desired state, what the hosts showed, the
// service definitions, the time) to what must change. berthd calls it after every event, job result,
// probe and API change; it never does I/O, so every rule below is tested from values.
//
// In one pass, in this order:
//   1. Hosts: ready while probes answer; down once none answered for `downAfter` (a shorter blip
//      changes nothing). Events "host down" / "host up".
//   2. Tasks from observation (ready hosts whose containers were listed): a task's container
//      running (healthy, when it has a healthcheck) makes it Running; exited, unhealthy or gone makes
//      it Failed (or Complete, exit 0), and the task is over (desired Shutdown).
//   3. Lost hosts: live tasks on a down host are Orphaned and replaced elsewhere — except tasks of a
//      service that mounts a named local volume (they Wait for the host, the data is there) and
//      global tasks (one per host by definition).
//   4. Start-first replacements (updates with order start-first, drained hosts): the old task is
//      shut down once its replacement runs.
//   5. Services: every slot (1..replicas, or one per eligible host for global services) gets a live
//      task — a slot whose last task failed or completed gets a new one as deploy.restart_policy
//      says (condition, delay, max_attempts within window); slots beyond the replicas are shut down;
//      pending tasks are placed when a host fits. A service whose tasks run an older definition is
//      rolled as its update_config (rollback_config) says, batch by batch, each batch gated on the
//      previous one running (healthy) for `monitor`, failures handled by failure_action.
//   6. Drained hosts: each task gets a replacement elsewhere first; the old one stops after.
//   7. Removed stacks: their tasks shut down; the record goes once no ready host has anything of it.
//   8. History: the newest `historyPerSlot` ended tasks of a slot are kept (service ps shows them).
//   9. Jobs: every (host, stack) whose containers differ from its tasks, for hostWork() + apply.
// Tasks are never edited back to life: a replacement is always a new task with a new ID.
#pragma once

#include <chrono>
#include <compare>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/model.h"
#include "cluster/service_def.h"
#include "cluster/store.h"
#include "plan/diff.h"

namespace berth::cluster {

struct ReconcileConfig {
  std::chrono::milliseconds downAfter{5000};
  // berthd's start: a host that never answered since is down once downAfter has passed.
  WallTime startedAt{};
  int historyPerSlot = 5;
};

// What the controller reports (`berth events --controller`).
struct ControllerEvent {
  std::uint64_t seq = 0;  // assigned by the event log
  WallTime time{};
  std::string type{};    // "task", "host", "service", "stack"
  std::string action{};  // "placed", "running", "failed", "replaced", "down", "up", "update", ...
  std::string stack{};
  std::string service{};
  std::string task{};  // task ID
  std::string name{};  // what it is about: "web.2", a host's name, a service's name
  std::string host{};
  std::string message{};

  friend bool operator==(const ControllerEvent&, const ControllerEvent&) = default;
};
// "task web.2 running on h1", "host h3 down: no answer for 5s".
std::string describe(const ControllerEvent& event);

// One host's containers of one stack to converge (hostWork tells what they should be).
struct HostJob {
  std::string host{};
  std::string stack{};
  friend auto operator<=>(const HostJob&, const HostJob&) = default;
};

struct Decisions {
  Change change{};
  std::vector<ControllerEvent> events{};
  std::map<std::string, HostHealth> health{};  // hosts whose health changed
  std::set<HostJob> jobs{};
  std::optional<WallTime> wakeAt{};  // when a timed decision (restart delay, update delay) is due

  bool empty() const { return change.empty() && events.empty() && health.empty() && jobs.empty(); }
};

using IdSource = std::function<std::string()>;

// `defs` must hold the definition of every (stack, service, generation) that a service record or
// a task refers to (the controller loads them from the stack versions).
Decisions reconcile(const ClusterState& state, const Observations& observations, const DefCatalog& defs,
                    const ReconcileConfig& config, WallTime now, const IdSource& newId);

// What one host should have of one stack, as plan::diff's slots (UpOptions::slots).
struct HostWork {
  std::string host{};
  std::string stack{};
  // The stack is removed: everything of it goes from the host (named volumes with removeVolumes).
  bool remove = false;
  bool removeVolumes = false;
  std::int64_t generation = 0;                             // the stack version for networks and volumes
  std::map<std::string, std::int64_t> serviceGenerations{};  // each service's definition in force
  std::map<std::string, std::vector<plan::Slot>> slots{};    // every service (empty: none here)
  std::vector<std::string> images{};                       // what the host must have, by reference
  std::map<std::string, std::string> containerTask{};      // container name → task ID (for errors)
};

// The labels of a task's container (besides compose's): stack, service, slot, task, generation.
engine::Labels taskLabels(const Task& task);

HostWork hostWork(const ClusterState& state, const DefCatalog& defs, const std::string& host,
                  const std::string& stack, WallTime now);

}  // namespace berth::cluster
