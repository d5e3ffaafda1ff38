#include "cli/attach_tracker.h"

#include <algorithm>
#include <utility>

namespace berth::cli {

AttachTracker::State& AttachTracker::track(const TrackedContainer& container) {
  State& s = containers_[container.id];
  // Names change once while a container is recreated (created under a temporary name, renamed
  // before it starts): the latest one is the one to print.
  s.container = container;
  return s;
}

void AttachTracker::created(const TrackedContainer& container) { track(container).alive = true; }

void AttachTracker::expectStarted(const std::string& name) {
  if (startedNames_.count(name) == 0) expected_.insert(name);
}

bool AttachTracker::started(const TrackedContainer& container) {
  State& s = track(container);
  s.alive = true;
  startedNames_.insert(container.name);
  expected_.erase(container.name);
  if (s.following) {
    s.startedAgain = true;
    return false;
  }
  s.following = true;
  return true;
}

std::optional<ContainerExit> AttachTracker::died(const std::string& id, int exitCode, bool restarting) {
  auto it = containers_.find(id);
  if (it == containers_.end()) return std::nullopt;
  State& s = it->second;
  s.alive = restarting;
  ContainerExit exit{s.container, exitCode, restarting};
  if (s.following) {
    s.pendingExits.push_back(std::move(exit));
    return std::nullopt;
  }
  return exit;
}

void AttachTracker::gone(const std::string& id) {
  auto it = containers_.find(id);
  if (it != containers_.end()) it->second.alive = false;
}

AttachTracker::SessionEnd AttachTracker::sessionEnded(const std::string& id) {
  SessionEnd end;
  auto it = containers_.find(id);
  if (it == containers_.end()) return end;
  State& s = it->second;
  end.exits = std::exchange(s.pendingExits, {});
  end.followAgain = std::exchange(s.startedAgain, false);
  s.following = end.followAgain;
  return end;
}

bool AttachTracker::allExited() const {
  return expected_.empty() && std::none_of(containers_.begin(), containers_.end(), [](const auto& entry) {
           return entry.second.alive || entry.second.following;
         });
}

}  // namespace berth::cli
