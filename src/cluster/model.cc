#include "cluster/model.h"

#include <fmt/core.h>

#include <algorithm>
#include <iterator>

namespace berth::cluster {

std::string_view availabilityName(Availability a) {
  switch (a) {
    case Availability::Active:
      return "active";
    case Availability::Drain:
      return "drain";
  }
  return "?";
}

std::string_view updateStateName(UpdateState s) {
  switch (s) {
    case UpdateState::None:
      return "";
    case UpdateState::Updating:
      return "updating";
    case UpdateState::Paused:
      return "paused";
    case UpdateState::Completed:
      return "completed";
    case UpdateState::RollingBack:
      return "rollback_started";
    case UpdateState::RollbackPaused:
      return "rollback_paused";
    case UpdateState::RolledBack:
      return "rollback_completed";
  }
  return "?";
}

std::string_view desiredStateName(DesiredState s) {
  switch (s) {
    case DesiredState::Running:
      return "running";
    case DesiredState::Shutdown:
      return "shutdown";
  }
  return "?";
}

std::string_view taskStateName(TaskState s) {
  switch (s) {
    case TaskState::Pending:
      return "pending";
    case TaskState::Assigned:
      return "assigned";
    case TaskState::Starting:
      return "starting";
    case TaskState::Running:
      return "running";
    case TaskState::Complete:
      return "complete";
    case TaskState::Failed:
      return "failed";
    case TaskState::Shutdown:
      return "shutdown";
    case TaskState::Orphaned:
      return "orphaned";
    case TaskState::Waiting:
      return "waiting";
  }
  return "?";
}

std::string_view hostHealthName(HostHealth h) {
  switch (h) {
    case HostHealth::Unknown:
      return "unknown";
    case HostHealth::Ready:
      return "ready";
    case HostHealth::Down:
      return "down";
  }
  return "?";
}

std::string containerName(std::string_view stack, std::string_view service, int slot) {
  return fmt::format("{}-{}-{}", stack, service, slot);
}

bool changesObservation(std::string_view action) {
  if (action.starts_with("exec_")) return false;
  static constexpr std::string_view kUnchanging[] = {
      "attach", "detach", "resize", "top", "copy", "archive-path", "extract-to-dir", "export", "commit"};
  return std::find(std::begin(kUnchanging), std::end(kUnchanging), action) == std::end(kUnchanging);
}

std::string taskName(const Task& task) { return fmt::format("{}.{}", task.service, task.slot); }

}  // namespace berth::cluster
