// ContainerFollower: the output of a project's containers as attached `up` shows it, following
// every container of the services in scope that starts while `up` is attached — late starters
// (after a dependency became healthy), containers restarted by their restart policy, containers
// recreated meanwhile — as `docker compose up` does by watching the engine's events.
//
// It first catches up on the project's container events since `since` (what started and exited
// while `up` converged), then attaches to the containers running already (left alone by the
// convergence, so they start no event), then follows live events. Each container's output goes
// through a LogPrinter, one log session at a time (AttachTracker decides), each session starting
// after the last line shown (LogCursor), so nothing is lost or printed twice across restarts.
// "web-1 exited with code N" is printed after a run's last line.
//
// Thread-safety: start(), stop() and expectStarted() from the owner's thread, allExited() and
// logError() from any. The listener's functions are called from the follower's threads, without its
// locks held; they may call allExited(), not stop().
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "cli/attach_tracker.h"
#include "cli/log_cursor.h"
#include "cli/log_stream.h"
#include "engine/engine.h"

namespace berth::cli {

struct FollowOptions {
  std::string project;
  std::set<std::string> services;  // whose (non one-off) containers are followed
  bool timestamps = false;         // keep the engine's timestamp before each line
  // Output and events from this time on, in the engine's clock (a little before `up` began).
  SystemNanos since{};
  // How far the engine's clock is ahead of berth's (engineClockAhead), to turn "now" into the
  // engine's time for the events' `until`.
  std::chrono::nanoseconds engineClockAhead{0};
  // Containers (IDs) not to follow: those the convergence is about to replace or remove.
  std::set<std::string> ignored;
};

// How far the engine's clock is ahead of this machine's (negative: behind): /info's SystemTime
// against the middle of the call. `since`/`until` of logs and events are in the engine's clock; a
// skew unaccounted for would drop the first lines of output (engine behind) or hold the events
// back until the engine's clock caught up. Zero when the engine does not say or cannot be asked
// (the events stream then reports the engine's error).
std::chrono::nanoseconds engineClockAhead(engine::Engine& engine);

struct FollowListener {
  std::function<void(const ContainerExit&)> exited;  // each exit, after the run's last line
  std::function<void()> changed;                     // allExited() may have changed
  std::function<void(const Error&)> failed;          // the events stream broke: nothing more comes
};

class ContainerFollower {
 public:
  ContainerFollower(engine::Engine& engine, LogPrinter& printer, FollowOptions options,
                    FollowListener listener);
  ~ContainerFollower();  // stop()
  ContainerFollower(const ContainerFollower&) = delete;
  ContainerFollower& operator=(const ContainerFollower&) = delete;

  // Starts following on a thread of its own; returns at once.
  void start();
  // Ends the event and log streams and waits for their threads. Idempotent.
  void stop();
  // The convergence started containers with these names: allExited() is false until their starts
  // came through the events (and then until they exited).
  void expectStarted(const std::vector<std::string>& names);
  // Every container followed exited (none running, restarting or expected to start) and its output
  // was printed; false until the follower caught up with what happened before start().
  bool allExited() const;
  // The first error of a log session (printing stopped for that container), if any.
  std::optional<Error> logError() const;

 private:
  void watchEvents(std::stop_token stop);
  bool onEvent(const engine::Event& event);
  std::optional<TrackedContainer> inScope(const std::string& id,
                                          const std::map<std::string, std::string>& labels,
                                          std::string name) const;
  void startSession(const TrackedContainer& container);
  void followLogs(const TrackedContainer& container, std::stop_token stop);
  // For a container whose logging driver keeps nothing to read (`logging: none`, syslog, ...): its
  // output from now on, through the attach API, until it exits.
  Status attachOutput(const TrackedContainer& container, LineSplitter& lines, std::stop_token stop);
  void report(const ContainerExit& exit);
  void changed();

  engine::Engine& engine_;
  LogPrinter& printer_;
  const FollowOptions options_;
  const FollowListener listener_;
  const std::string since_;  // options_.since as the engine's Unix time text

  mutable std::mutex mu_;
  AttachTracker tracker_;                         // guarded by mu_
  std::map<std::string, LogCursor> cursors_;      // by container ID; guarded by mu_
  std::map<std::string, std::jthread> sessions_;  // by container ID; guarded by mu_
  bool caughtUp_ = false;                         // guarded by mu_: allExited may be decided
  std::optional<Error> logError_;                 // guarded by mu_
  std::jthread events_;
};

}  // namespace berth::cli
