#include "plan/plan.h"

#include "base/check.h"
#include "base/strings.h"

namespace berth::plan {

std::string_view serviceConditionName(ServiceCondition c) {
  switch (c) {
    case ServiceCondition::Started:
      return "started";
    case ServiceCondition::Healthy:
      return "healthy";
    case ServiceCondition::CompletedSuccessfully:
      return "completed successfully";
    case ServiceCondition::RunningOrHealthy:
      return "running or healthy";
  }
  return "started";
}

std::size_t Plan::add(Action action) {
  for (const std::size_t a : action.after) BERTH_CHECK(a < actions.size());
  actions.push_back(std::move(action));
  return actions.size() - 1;
}

std::string shortName(const Action& a) {
  if (a.kind == ActionKind::WaitForService)
    return a.target + " " + std::string(serviceConditionName(a.condition));
  return a.target;
}

std::string describe(const Action& a) {
  std::string line;
  switch (a.kind) {
    case ActionKind::CreateNetwork:
      line = "create network " + a.target;
      break;
    case ActionKind::CreateVolume:
      line = "create volume " + a.target;
      break;
    case ActionKind::BuildImage:
      line = "build image " + a.target;
      break;
    case ActionKind::PullImage:
      line = "pull image " + a.target;
      break;
    case ActionKind::CreateContainer:
      line = "create " + a.target;
      if (!a.start) line += " (not started)";
      break;
    case ActionKind::RecreateContainer:
      line = "recreate " + a.target;
      break;
    case ActionKind::StartContainer:
      line = "start " + a.target;
      break;
    case ActionKind::RenameContainer:
      line = "rename " + a.containerId.substr(0, 12) + " to " + a.target;
      if (a.start) line += " and start it";
      break;
    case ActionKind::RestartContainer:
      line = "restart " + a.target;
      break;
    case ActionKind::WaitForService:
      line = "wait for " + a.target + " " + std::string(serviceConditionName(a.condition));
      break;
    case ActionKind::StopContainer:
      line = "stop " + a.target;
      break;
    case ActionKind::KillContainer:
      line = "kill " + a.target;
      if (!a.signal.empty()) line += " with " + a.signal;
      break;
    case ActionKind::PauseContainer:
      line = "pause " + a.target;
      break;
    case ActionKind::UnpauseContainer:
      line = "unpause " + a.target;
      break;
    case ActionKind::RemoveContainer:
      line = "remove " + a.target;
      break;
    case ActionKind::RemoveNetwork:
      line = "remove network " + a.target;
      break;
    case ActionKind::RemoveVolume:
      line = "remove volume " + a.target;
      break;
    case ActionKind::RemoveImage:
      line = "remove image " + a.target;
      break;
  }
  if (!a.reason.empty()) line += " (" + a.reason + ")";
  return line;
}

std::string describe(const Plan& plan, const DescribeOptions& options) {
  std::string out;
  for (const Action& a : plan.actions) {
    if (!out.empty()) out += "\n";
    out += describe(a);
    if (options.order && !a.after.empty()) {
      std::vector<std::string> names;
      for (const std::size_t i : a.after) names.push_back(shortName(plan.actions[i]));
      out += " [after " + join(names, ", ") + "]";
    }
  }
  return out;
}

}  // namespace berth::plan
