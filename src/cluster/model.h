// The controller's model of the fleet: what berthd stores (hosts, stacks with their versions,
// services' rollout state, tasks) and what it observes (each host's health and berth's containers
// on it). The scheduler and the reconciler are pure functions over these values.
//
// Desired state vs observation:
//   - ClusterState is desired state and the record of decisions: every change to it is one Store
//     transaction (store.h) committed before berthd acts on it, so that after a crash the store says
//     what berthd had promised and the hosts say what was done.
//   - HostObservation is what berthd saw last; it is rebuilt from the hosts after a restart.
//
// A task is one container's life: created for a slot of a service (`{stack}-{service}-{slot}` on its
// host), it runs until it ends or is replaced, and is never reused — a replacement is a new task
// with a new ID (the container's `io.berth.task` label), so a container always says which decision
// made it.
//
// Plain values; copy freely. Times are wall-clock (they are stored and shown to users).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace berth::cluster {

using WallTime = std::chrono::system_clock::time_point;

// Labels berth puts on the containers it runs for the controller (besides compose's).
namespace labels {
inline constexpr std::string_view kStack = "io.berth.stack";
inline constexpr std::string_view kService = "io.berth.service";
inline constexpr std::string_view kSlot = "io.berth.slot";
inline constexpr std::string_view kTask = "io.berth.task";
inline constexpr std::string_view kGeneration = "io.berth.generation";  // the stack version
}  // namespace labels

// ---- Hosts

enum class Availability { Active, Drain };
std::string_view availabilityName(Availability a);  // "active", "drain"

// What the engine's /info said, kept so that placement works before the first probe after a restart.
struct EngineFacts {
  std::string hostname{};
  std::string engineVersion{};
  int ncpu = 0;
  std::int64_t memoryBytes = 0;
  std::map<std::string, std::string> engineLabels{};  // the engine's own labels (engine.labels.KEY)

  friend bool operator==(const EngineFacts&, const EngineFacts&) = default;
};

struct Host {
  std::string name{};
  std::string id{};  // node.id: 12 hex digits, stable for the host's life in this controller
  int index = 0;     // 1, 2, ...: never reused; a global service's slot on this host
  std::string url{};  // tcp://ADDR:PORT (mutual TLS with berthd's own client certificate)
  std::map<std::string, std::string> labels{};  // node.labels.KEY
  Availability availability = Availability::Active;
  EngineFacts facts{};
  WallTime addedAt{};

  friend bool operator==(const Host&, const Host&) = default;
};

// ---- Stacks and services

struct Stack {
  std::string name{};
  std::int64_t generation = 0;  // the newest version; bumped by every change of the stack's spec
  WallTime createdAt{};
  WallTime updatedAt{};
  // `stack rm`: its tasks are shut down and its containers and networks removed from every host
  // (named volumes too with removeVolumes); the record goes once no host has anything of it.
  bool removing = false;
  bool removeVolumes = false;

  friend bool operator==(const Stack&, const Stack&) = default;
};

// One version of a stack's compose project, as the canonical YAML berth's loader reads back.
struct StackVersion {
  std::string stack{};
  std::int64_t generation = 0;
  std::string project{};

  friend bool operator==(const StackVersion&, const StackVersion&) = default;
};

enum class UpdateState {
  None,              // never updated since deployed
  Updating,          // rolling out specGeneration
  Paused,            // an update failed with failure_action: pause
  Completed,         // the last update finished
  RollingBack,       // rolling back to specGeneration (the previous spec)
  RollbackPaused,    // a rollback failed with failure_action: pause
  RolledBack,        // the last rollback finished
};
std::string_view updateStateName(UpdateState s);  // "updating", "paused", "rollback_completed", ...

struct ServiceRecord {
  std::string stack{};
  std::string name{};
  // The stack version whose definition of this service is in force (older than the stack's newest
  // when the service did not change, or after a rollback).
  std::int64_t specGeneration = 0;
  // The version in force before the last update: what `service rollback` returns to (0: none).
  std::int64_t previousGeneration = 0;
  int forceCounter = 0;                 // bumped by `service update --force`: every task is replaced
  std::optional<int> replicas{};        // `service scale`, over deploy.replicas
  std::string pinnedHost{};             // `service update --force --host H` for volume-bound services
  UpdateState updateState = UpdateState::None;
  std::string updateMessage{};          // why an update paused or rolled back
  WallTime updateStartedAt{};
  WallTime lastBatchAt{};               // when the update last started a batch (update_config.delay)
  int updateFailures = 0;               // tasks of the current update that failed

  friend bool operator==(const ServiceRecord&, const ServiceRecord&) = default;
};

// ---- Tasks

enum class DesiredState { Running, Shutdown };
std::string_view desiredStateName(DesiredState s);  // "running", "shutdown"

enum class TaskState {
  Pending,   // no host fits it (yet); `error` says why per host
  Assigned,  // placed on a host, its container not created yet
  Starting,  // the container exists and was started; not yet seen running (or healthy)
  Running,   // running (and healthy, when it has a healthcheck)
  Complete,  // exited with status 0 and its restart policy does not restart it
  Failed,    // exited non-zero, unhealthy, or could not be created/started
  Shutdown,  // stopped by berthd (scaled down, updated, stack removed)
  Orphaned,  // its host was lost; the task was started elsewhere
  Waiting,   // its host is down and it cannot move (its volume's data lives there)
};
std::string_view taskStateName(TaskState s);  // "pending", "assigned", ...

struct Task {
  std::string id{};  // 12 hex digits
  std::string stack{};
  std::string service{};
  int slot = 0;  // replicated: 1..replicas; global: the host's index
  std::string host{};  // empty while pending
  DesiredState desired = DesiredState::Running;
  TaskState state = TaskState::Pending;
  std::string error{};  // why it failed, is pending or waiting
  std::optional<int> exitCode{};
  std::string containerId{};
  std::int64_t specGeneration = 0;  // the service definition it runs (a stack version)
  int forceCounter = 0;             // the service's forceCounter when it was made
  // Start-first replacement: the task this one replaces. The old one keeps running until this one
  // is running (and healthy), then it is shut down.
  std::string replaces{};
  // Restart delay: its container is not started before this time.
  WallTime notBefore{};
  WallTime createdAt{};
  WallTime stateSince{};
  // When it reached Running (and healthy): the update monitor's clock.
  WallTime runningSince{};
  // Restart bookkeeping, carried from a slot's task to its replacement (history is pruned, so it
  // cannot be recounted): restarts of the slot under the current definition since windowStart
  // (deploy.restart_policy.max_attempts / window), and how many tasks before this one ended within
  // seconds of starting (the crash-loop back-off).
  int restarts = 0;
  WallTime windowStart{};
  int crashLoop = 0;

  bool live() const { return desired == DesiredState::Running; }
  friend bool operator==(const Task&, const Task&) = default;
};

// Everything desired, as the store holds it. Keyed for direct lookup.
struct ClusterState {
  std::map<std::string, Host> hosts{};                                    // by name
  std::map<std::string, Stack> stacks{};                                  // by name
  std::map<std::pair<std::string, std::int64_t>, StackVersion> versions{};  // (stack, generation)
  std::map<std::pair<std::string, std::string>, ServiceRecord> services{};  // (stack, service)
  std::map<std::string, Task> tasks{};                                    // by ID
  int nextHostIndex = 1;
};

// ---- Observation

enum class HealthStatus { None, Starting, Healthy, Unhealthy };
// Created: never started; Running: running, restarting or paused; Exited: exited or dead.
enum class ContainerPhase { Created, Running, Exited };

// One container of berth's on a host, as listed (found by the io.berth.task label). Only what the
// reconciler and the API read: berthd holds one per container of the fleet.
struct ObservedTaskContainer {
  std::string id{};
  std::string task{};
  std::string stack{};
  std::string service{};
  int slot = 0;
  ContainerPhase phase = ContainerPhase::Created;
  HealthStatus health = HealthStatus::None;
  std::optional<int> exitCode{};  // known for exited containers seen through events or inspect
  // Its IPv4 address on each network it is attached to (engine network name → address, host
  // order), for the mesh's DNS names.
  std::vector<std::pair<std::string, std::uint32_t>> addresses{};

  friend bool operator==(const ObservedTaskContainer&, const ObservedTaskContainer&) = default;
};

enum class HostHealth { Unknown, Ready, Down };
std::string_view hostHealthName(HostHealth h);  // "unknown", "ready", "down"

struct HostObservation {
  HostHealth health = HostHealth::Unknown;
  WallTime lastSeen{};     // last successful probe
  WallTime downSince{};    // when it was declared down
  std::string error{};     // the last probe's error
  // Whether `containers` reflects a listing made since the host was last (re)connected.
  bool listed = false;
  std::vector<ObservedTaskContainer> containers{};
  // Why a task's container could not be created or started on this host (the last job's errors,
  // by task ID), until the reconciler has turned them into task failures.
  std::map<std::string, std::string> taskErrors{};
};

using Observations = std::map<std::string, HostObservation>;  // by host name

// Whether an engine event about a container (its action: "start", "die", "health_status: healthy",
// "exec_start: sh -c ...") may change what a listing of the container shows. A healthcheck's
// exec_create/exec_start/exec_die every few seconds, berth's own execs, attach, resize, copies in
// and out do not: the host agent lists again only for the others.
bool changesObservation(std::string_view action);

// ---- Names

std::string containerName(std::string_view stack, std::string_view service, int slot);
// "web.2" as `service ps` names a task.
std::string taskName(const Task& task);

}  // namespace berth::cluster
