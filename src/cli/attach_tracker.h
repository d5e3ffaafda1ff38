// AttachTracker: what attached `up` does about each container it follows, as a pure state machine.
// It is fed what the engine reports about the project's containers in scope (created, started,
// died, gone) and the ends of log sessions, and answers with what to do: start a log session,
// report an exit, or nothing; allExited() says when `up` is done.
//
// Invariants:
//  - a container has at most one log session at a time. A start reported while its session still
//    runs (a restart the session has not seen end yet) makes the session go on once it ends, from
//    where it stopped, so every run's output is shown, and shown once;
//  - an exit is reported after the session that showed the run's last lines ended;
//  - a container is alive from its creation or start until it dies without restarting or is
//    removed; `up` is done when no container is alive or expected to start and no session runs.
// Containers never reported as created or started (another project's, one-offs, old ones) are
// ignored.
//
// Thread-safety: none; the owner serializes calls.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace berth::cli {

struct TrackedContainer {
  std::string id;
  std::string name;
  std::string service;
};

struct ContainerExit {
  TrackedContainer container;
  int exitCode = 0;
  bool restarting = false;  // its restart policy starts it again
};

class AttachTracker {
 public:
  // The container exists and will start: it keeps `up` attached until it has run.
  void created(const TrackedContainer& container);
  // A container of this name started (the convergence started it): until its start is reported,
  // `up` is not done.
  void expectStarted(const std::string& name);
  // The container started (or runs already when attaching). True: start a log session for it now.
  [[nodiscard]] bool started(const TrackedContainer& container);
  // The container died. Returns the exit to report now, or nullopt when its session still runs
  // (sessionEnded reports it) or the container is not tracked.
  [[nodiscard]] std::optional<ContainerExit> died(const std::string& id, int exitCode, bool restarting);
  // The container was removed, or stopped while waiting to restart: no longer alive.
  void gone(const std::string& id);

  struct SessionEnd {
    std::vector<ContainerExit> exits;  // to report now, in order
    bool followAgain = false;          // the container started again: a new session, right away
  };
  // The log session of container `id` ended (the container stopped, or the stream broke).
  [[nodiscard]] SessionEnd sessionEnded(const std::string& id);

  // Whether the container was reported created or started.
  bool tracks(const std::string& id) const { return containers_.count(id) != 0; }
  // No container is alive or expected to start and no session runs (also when none was ever
  // tracked).
  bool allExited() const;

 private:
  struct State {
    TrackedContainer container;
    bool alive = false;
    bool following = false;
    bool startedAgain = false;                // a start arrived while following
    std::vector<ContainerExit> pendingExits;  // died while following
  };
  State& track(const TrackedContainer& container);

  std::map<std::string, State> containers_;  // by ID
  std::set<std::string> startedNames_;       // of every container reported started
  std::set<std::string> expected_;           // names expected to start, not reported yet
};

}  // namespace berth::cli
