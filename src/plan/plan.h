// Plan: what to do to an engine to make it match the compose model — an ordered DAG of actions,
// each with the reason it is there. plan::diff (diff.h) computes one from the model and an
// observation; plan::apply (apply.h) executes one. A plan is a value: tests print it with
// describe() and compare text that reads like the behaviour it pins:
//
//   create network p_default
//   create p-db-1
//   wait for db healthy
//   recreate p-web-1 (config changed)
//
// Invariants: every index in Action::after is smaller than the action's own index (the list is a
// topological order), and an action runs only after everything it names there succeeded.
// Plain values; copy freely.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "engine/types.h"
#include "plan/translate.h"

namespace berth::plan {

enum class ActionKind {
  CreateNetwork,
  CreateVolume,
  BuildImage,
  PullImage,
  CreateContainer,    // create, connect its other networks, copy files in, start (unless !start)
  RecreateContainer,  // stop the old one, create the new one, remove the old one, start the new one
  StartContainer,
  // Gives a container an interrupted replacement left under a temporary name its own name, and
  // starts it unless !start (the controller's slots: it is already the slot's container).
  RenameContainer,
  RestartContainer,
  WaitForService,  // until the service's containers meet `condition`
  StopContainer,
  KillContainer,
  PauseContainer,
  UnpauseContainer,
  RemoveContainer,  // stops it first when running
  RemoveNetwork,
  RemoveVolume,
  RemoveImage,
};

// What a dependant waits for (depends_on conditions, and --wait).
enum class ServiceCondition {
  Started,                // started (no wait beyond the start itself)
  Healthy,                // healthcheck reports healthy
  CompletedSuccessfully,  // exited with status 0
  RunningOrHealthy,       // healthy when the container has a healthcheck, else running (--wait)
};

std::string_view serviceConditionName(ServiceCondition c);  // "healthy", "completed successfully", ...

struct Action {
  ActionKind kind = ActionKind::CreateContainer;
  // What the action is about: a container, network or volume name, an image reference, or the
  // service a WaitForService waits for.
  std::string target{};
  std::string service{};  // the compose service concerned, when there is one
  std::string reason{};   // "config changed", "scale down", "orphan", ... (may be empty)
  std::vector<std::size_t> after{};

  engine::NetworkCreate network{};  // CreateNetwork
  engine::VolumeCreate volume{};    // CreateVolume
  ImageBuild build{};               // BuildImage
  ContainerSpec container{};        // CreateContainer, RecreateContainer
  bool start = true;                // Create-, Recreate-, RenameContainer: start it once made or named
  // The existing container (ID) for Recreate, Start, Rename, Restart, Stop, Kill, Pause, Unpause,
  // Remove.
  std::string containerId{};
  std::optional<int> timeout{};  // seconds of grace before SIGKILL when stopping
  std::string signal{};          // KillContainer; empty: SIGKILL
  bool removeVolumes = false;    // RemoveContainer: its anonymous volumes too
  bool force = false;            // RemoveContainer: kill instead of stop; RemoveImage: force
  // WaitForService: the containers (names) and the condition; who waits (for messages).
  ServiceCondition condition = ServiceCondition::Started;
  std::vector<std::string> containers{};
  std::string waiter{};
  // A failure is reported but does not fail the plan (pull --ignore-pull-failures).
  bool optional = false;
  // RecreateContainer: start the new container (under a temporary name) and wait until it runs
  // (healthy, when it has a healthcheck) before stopping the old one; the old one keeps running if
  // the new one fails. Bounded by `startFirstTimeout`.
  bool startFirst = false;
  std::chrono::milliseconds startFirstTimeout{std::chrono::minutes(5)};
};

struct Plan {
  std::vector<Action> actions{};
  std::vector<std::string> warnings{};  // e.g. orphan containers left alone

  bool empty() const { return actions.empty(); }
  // Appends and returns the new action's index.
  std::size_t add(Action action);
};

struct DescribeOptions {
  // Append " (after X, Y)" naming what each action waits for.
  bool order = false;
};

// One line per action, in plan order: "create p-a-1", "recreate p-a-1 (config changed)".
std::string describe(const Plan& plan, const DescribeOptions& options = {});
// The action as one line, without dependencies.
std::string describe(const Action& action);
// Short name used in dependency lists: the target, or "db healthy" for a wait.
std::string shortName(const Action& action);

}  // namespace berth::plan
