#include "plan/apply.h"

#include <fmt/core.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "base/strings.h"
#include "engine/build_context.h"

namespace berth::plan {
namespace {

using engine::ContainerStatus;

enum class State { Pending, Running, Done, Failed, Skipped };

std::string kindOf(const Action& a) {
  switch (a.kind) {
    case ActionKind::CreateNetwork:
    case ActionKind::RemoveNetwork:
      return "Network";
    case ActionKind::CreateVolume:
    case ActionKind::RemoveVolume:
      return "Volume";
    case ActionKind::BuildImage:
    case ActionKind::PullImage:
    case ActionKind::RemoveImage:
      return "Image";
    case ActionKind::WaitForService:
      return "Container";
    case ActionKind::CreateContainer:
    case ActionKind::RecreateContainer:
    case ActionKind::StartContainer:
    case ActionKind::RenameContainer:
    case ActionKind::RestartContainer:
    case ActionKind::StopContainer:
    case ActionKind::KillContainer:
    case ActionKind::PauseContainer:
    case ActionKind::UnpauseContainer:
    case ActionKind::RemoveContainer:
      return "Container";
  }
  return "Container";
}

std::string indent(std::string_view text, std::string_view prefix) {
  std::string out;
  for (const std::string& line : split(text, '\n')) {
    if (line.empty()) continue;
    out += "\n";
    out += prefix;
    out += line;
  }
  return out;
}

class Runner {
 public:
  Runner(const Plan& plan, engine::Engine& engine, Progress& progress, Clock& clock,
         const ApplyOptions& options, std::stop_token stop)
      : plan_(plan),
        engine_(engine),
        progress_(progress),
        clock_(clock),
        options_(options),
        stop_(std::move(stop)),
        state_(plan.actions.size(), State::Pending),
        waiting_(plan.actions.size(), 0),
        dependants_(plan.actions.size()) {
    for (std::size_t i = 0; i < plan.actions.size(); ++i) {
      waiting_[i] = plan.actions[i].after.size();
      for (const std::size_t d : plan.actions[i].after) dependants_[d].push_back(i);
      if (waiting_[i] == 0) ready_.push_back(i);
    }
  }

  Status run() {
    const std::size_t n = plan_.actions.size();
    if (n == 0) return ok();
    const std::size_t workers =
        std::min<std::size_t>(n, static_cast<std::size_t>(std::max(1, options_.parallelism)));
    {
      std::stop_callback wake(stop_, [this] {
        std::lock_guard lock(mu_);
        cv_.notify_all();
      });
      std::vector<std::jthread> pool;
      pool.reserve(workers);
      for (std::size_t i = 0; i < workers; ++i) pool.emplace_back([this] { work(); });
    }  // joins the workers, then drops the callback
    if (!errors_.empty()) {
      std::vector<std::string> messages;
      for (const Error& e : errors_) messages.push_back(e.message());
      return fail(errors_.front().code(), join(messages, "\n"));
    }
    if (cancelled_ || finished_ < n) return fail(ErrorCode::Cancelled, "cancelled");
    return ok();
  }

 private:
  void work() {
    while (true) {
      std::size_t index = 0;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] {
          return !ready_.empty() || finished_ == plan_.actions.size() || stop_.stop_requested();
        });
        if (stop_.stop_requested() || ready_.empty()) {
          cv_.notify_all();
          return;
        }
        index = ready_.front();
        ready_.pop_front();
        state_[index] = State::Running;
      }
      const Action& a = plan_.actions[index];
      Status s = execute(a);
      // Progress is reported after mu_ is released: a Progress may do anything, including
      // requesting a stop, whose callback takes mu_.
      std::vector<ProgressEvent> later;
      {
        std::lock_guard lock(mu_);
        ++finished_;
        if (s) {
          state_[index] = State::Done;
          for (const std::size_t d : dependants_[index]) {
            if (--waiting_[d] == 0 && state_[d] == State::Pending) ready_.push_back(d);
          }
        } else if (a.optional) {
          state_[index] = State::Done;
          later.push_back(
              ProgressEvent{kindOf(a), a.target, ProgressState::Warning, "Skipped", s.error().message()});
          for (const std::size_t d : dependants_[index]) {
            if (--waiting_[d] == 0 && state_[d] == State::Pending) ready_.push_back(d);
          }
        } else {
          state_[index] = State::Failed;
          if (s.error().code() == ErrorCode::Cancelled && stop_.stop_requested()) {
            cancelled_ = true;
          } else {
            errors_.push_back(s.error());
          }
          skipDependants(index, later);
        }
        cv_.notify_all();
      }
      for (const ProgressEvent& e : later) emit(e);
    }
  }

  // Marks everything downstream of a failed action as skipped (mu_ held); the events to report
  // go to `later`.
  void skipDependants(std::size_t failed, std::vector<ProgressEvent>& later) {
    std::vector<std::size_t> todo = dependants_[failed];
    while (!todo.empty()) {
      const std::size_t i = todo.back();
      todo.pop_back();
      if (state_[i] != State::Pending) continue;
      state_[i] = State::Skipped;
      ++finished_;
      const Action& a = plan_.actions[i];
      if (a.kind != ActionKind::WaitForService) {
        later.push_back(ProgressEvent{kindOf(a), a.target, ProgressState::Skipped, "Skipped",
                                      "a step it depends on failed"});
      }
      for (const std::size_t d : dependants_[i]) todo.push_back(d);
    }
  }

  void report(const Action& a, ProgressState state, std::string text, std::string detail = {}) {
    emit(ProgressEvent{kindOf(a), a.target, state, std::move(text), std::move(detail)});
  }
  void emit(const ProgressEvent& e) {
    std::lock_guard lock(progressMu_);
    progress_.event(e);
  }

  Status failed(const Action& a, Error e) {
    report(a, ProgressState::Failed, "Error", e.message());
    return fail(std::move(e));
  }

  // "\n  last output of NAME:\n    ..." or "" when there is none.
  std::string lastLogs(const std::string& container, const std::string& name) {
    if (options_.logLines <= 0) return "";
    engine::LogsOptions o;
    o.tail = std::to_string(options_.logLines);
    std::string text;
    auto s = engine_.containerLogs(
        container, o, [&](engine::OutputStream, std::string_view data) { text += data; }, std::stop_token{});
    if (!s || trim(text).empty()) return "";
    return "\n  last output of " + name + ":" + indent(text, "    ");
  }

  Status execute(const Action& a) {
    if (stop_.stop_requested()) return fail(ErrorCode::Cancelled, "cancelled");
    switch (a.kind) {
      case ActionKind::CreateNetwork:
        return createNetwork(a);
      case ActionKind::CreateVolume: {
        report(a, ProgressState::Working, "Creating");
        auto r = engine_.createVolume(a.volume);
        if (!r) return failed(a, r.error());
        report(a, ProgressState::Done, "Created");
        return ok();
      }
      case ActionKind::BuildImage:
        return buildImage(a);
      case ActionKind::PullImage: {
        report(a, ProgressState::Working, "Pulling");
        auto r = engine_.pullImage(a.target, a.build.options.platform, {});
        if (!r) {
          return failed(
              a, Error(r.error()).withContext(fmt::format("service {}: pull image {}", a.service, a.target)));
        }
        report(a, ProgressState::Done, "Pulled");
        return ok();
      }
      case ActionKind::CreateContainer:
      case ActionKind::RecreateContainer:
        return createContainer(a);
      case ActionKind::StartContainer:
        return start(a, a.target);
      case ActionKind::RenameContainer: {
        report(a, ProgressState::Working, "Renaming");
        if (auto s = engine_.renameContainer(a.containerId, a.target); !s) return failed(a, s.error());
        report(a, ProgressState::Done, "Renamed");
        if (!a.start) return ok();
        return start(a, a.target);
      }
      case ActionKind::RestartContainer: {
        report(a, ProgressState::Working, "Restarting");
        if (auto s = engine_.restartContainer(a.containerId, a.timeout); !s) {
          return failed(a, Error(s.error().code(), s.error().message() + lastLogs(a.containerId, a.target)));
        }
        report(a, ProgressState::Done, "Started");
        return ok();
      }
      case ActionKind::WaitForService:
        return waitForService(a);
      case ActionKind::StopContainer: {
        report(a, ProgressState::Working, "Stopping");
        if (auto s = engine_.stopContainer(a.containerId, a.timeout);
            !s && s.error().code() != ErrorCode::NotFound) {
          return failed(a, s.error());
        }
        report(a, ProgressState::Done, "Stopped");
        return ok();
      }
      case ActionKind::KillContainer: {
        report(a, ProgressState::Working, "Killing");
        if (auto s = engine_.killContainer(a.containerId, a.signal.empty() ? "SIGKILL" : a.signal); !s) {
          return failed(a, s.error());
        }
        report(a, ProgressState::Done, "Killed");
        return ok();
      }
      case ActionKind::PauseContainer: {
        report(a, ProgressState::Working, "Pausing");
        if (auto s = engine_.pauseContainer(a.containerId); !s) return failed(a, s.error());
        report(a, ProgressState::Done, "Paused");
        return ok();
      }
      case ActionKind::UnpauseContainer: {
        report(a, ProgressState::Working, "Unpausing");
        if (auto s = engine_.unpauseContainer(a.containerId); !s) return failed(a, s.error());
        report(a, ProgressState::Done, "Unpaused");
        return ok();
      }
      case ActionKind::RemoveContainer:
        return removeContainer(a);
      case ActionKind::RemoveNetwork:
        return removeNetwork(a);
      case ActionKind::RemoveVolume: {
        report(a, ProgressState::Working, "Removing");
        if (auto s = engine_.removeVolume(a.target, false); !s && s.error().code() != ErrorCode::NotFound) {
          return failed(a, s.error());
        }
        report(a, ProgressState::Done, "Removed");
        return ok();
      }
      case ActionKind::RemoveImage: {
        report(a, ProgressState::Working, "Removing");
        engine::RemoveImageOptions o;
        o.force = a.force;
        if (auto r = engine_.removeImage(a.target, o); !r && r.error().code() != ErrorCode::NotFound) {
          return failed(a, r.error());
        }
        report(a, ProgressState::Done, "Removed");
        return ok();
      }
    }
    return fail(ErrorCode::Internal, "unknown action");
  }

  Status createNetwork(const Action& a) {
    report(a, ProgressState::Working, "Creating");
    auto r = engine_.createNetwork(a.network);
    if (!r) {
      if (r.error().code() != ErrorCode::Conflict) return failed(a, r.error());
      // A network of that name exists without our labels (made by hand or by another tool).
      auto existing = engine_.inspectNetwork(a.network.name);
      if (!existing) return failed(a, r.error());
      const auto want = a.network.labels.find("com.docker.compose.project");
      const auto have = existing->labels.find("com.docker.compose.project");
      if (have != existing->labels.end() && want != a.network.labels.end() && have->second != want->second) {
        return failed(a, Error(ErrorCode::Conflict, fmt::format("network {} exists and belongs to project {}",
                                                                a.network.name, have->second)));
      }
      report(a, ProgressState::Warning, "Exists",
             "a network with this name exists but was not created for this project; using it");
      return ok();
    }
    report(a, ProgressState::Done, "Created");
    return ok();
  }

  Status removeNetwork(const Action& a) {
    report(a, ProgressState::Working, "Removing");
    // dockerd may still count the endpoints of containers it has just removed (it releases them
    // asynchronously under load): "has active endpoints" right after the containers went is retried
    // for a few seconds before it is an error.
    for (int attempt = 0;; ++attempt) {
      Status s = engine_.removeNetwork(a.target);
      if (s || s.error().code() == ErrorCode::NotFound) break;
      const bool busy = s.error().message().find("active endpoints") != std::string::npos;
      if (!busy || stop_.stop_requested()) return failed(a, s.error());
      if (attempt >= 30) return failed(a, explainStaleEndpoints(a.target, s.error()));
      clock_.sleepFor(std::chrono::milliseconds(100));
    }
    report(a, ProgressState::Done, "Removed");
    return ok();
  }

  // Still "active endpoints" with no container on the network: dockerd lost track of an endpoint
  // (seen with 20.10 after many containers went at once) and keeps the network until it restarts.
  Error explainStaleEndpoints(const std::string& network, Error error) {
    auto inspected = engine_.inspectNetwork(network);
    if (!inspected || !inspected->containers.empty()) return error;
    return Error(error.code(),
                 error.message() +
                     "; no container is attached to it: the engine keeps an endpoint of a removed container "
                     "(a dockerd bug that restarting the engine clears); the network is left in place and "
                     "the next `up` uses it");
  }

  Status buildImage(const Action& a) {
    report(a, ProgressState::Working, "Building");
    if (!options_.buildContext) {
      return failed(a, Error(ErrorCode::Internal, "no build context reader was configured"));
    }
    auto context = options_.buildContext(a.build);
    if (!context) {
      return failed(a, Error(context.error()).withContext(fmt::format("service {}: build context", a.service)));
    }
    std::string partial;
    const auto onProgress = [&](std::string_view text) {
      partial += text;
      std::size_t nl;
      while ((nl = partial.find('\n')) != std::string::npos) {
        std::string line = partial.substr(0, nl);
        partial.erase(0, nl + 1);
        if (!trim(line).empty()) report(a, ProgressState::Working, "Building", line);
      }
    };
    engine::BuildOptions o = a.build.options;
    o.dockerfile = context->dockerfile.empty() ? a.build.dockerfile : context->dockerfile;
    auto r = engine_.buildImageStreamed(context->writer, o, onProgress);
    if (!r) {
      return failed(
          a, Error(r.error()).withContext(fmt::format("service {}: build image {}", a.service, a.target)));
    }
    report(a, ProgressState::Done, "Built");
    return ok();
  }

  // Start-first replacement: the new container runs (and is healthy, when it has a healthcheck)
  // before the old one stops; if it never gets there, it goes and the old one keeps running.
  Status replaceStartFirst(const Action& a) {
    report(a, ProgressState::Working, "Recreate");
    engine::ContainerCreate create = a.container.create;
    create.name = a.containerId.substr(0, 12) + "_" + a.target;
    create.config.labels["com.docker.compose.replace"] = a.containerId;
    auto created = engine_.createContainer(create);
    if (!created) return failed(a, created.error());
    const std::string id = created->id;
    const auto discard = [&](Error e) {
      engine::RemoveContainerOptions o;
      o.force = true;
      (void)engine_.removeContainer(id, o);
      return failed(a, std::move(e));
    };
    for (const auto& [network, endpoint] : a.container.connect) {
      if (auto s = engine_.connectNetwork(network, id, endpoint); !s) {
        return discard(Error(s.error()).withContext("connect " + a.target + " to network " + network));
      }
    }
    if (!a.container.files.empty()) {
      if (auto s = engine_.putArchive(id, "/", filesArchive(a.container.files), {}); !s) {
        return discard(Error(s.error()).withContext("copy secrets and configs into " + a.target));
      }
    }
    if (options_.prepareContainer) {
      if (auto s = options_.prepareContainer(engine_, id, a); !s) return discard(s.error());
    }
    report(a, ProgressState::Working, "Starting");
    if (auto s = engine_.startContainer(id); !s) {
      return discard(Error(s.error().code(), s.error().message() + lastLogs(id, a.target)));
    }
    Action gate = a;
    gate.condition = ServiceCondition::RunningOrHealthy;
    if (Status up = waitOne(gate, id, a.startFirstTimeout); !up) {
      if (up.error().code() == ErrorCode::Cancelled) return discard(up.error());
      return discard(Error(up.error().code(), "the new container of " + a.target + " did not come up: " +
                                                  up.error().message() + lastLogs(id, a.target)));
    }
    if (auto s = engine_.stopContainer(a.containerId, a.timeout); !s && s.error().code() != ErrorCode::NotFound) {
      return failed(a, s.error());
    }
    engine::RemoveContainerOptions o;
    if (auto s = engine_.removeContainer(a.containerId, o); !s && s.error().code() != ErrorCode::NotFound) {
      return failed(a, s.error());
    }
    if (auto s = engine_.renameContainer(id, a.target); !s) return failed(a, s.error());
    report(a, ProgressState::Done, "Recreated");
    report(a, ProgressState::Done, "Started");
    return ok();
  }

  Status createContainer(const Action& a) {
    if (a.kind == ActionKind::RecreateContainer && a.startFirst && a.start) return replaceStartFirst(a);
    const bool recreate = a.kind == ActionKind::RecreateContainer;
    report(a, ProgressState::Working, recreate ? "Recreate" : "Creating");
    engine::ContainerCreate create = a.container.create;
    if (recreate) {
      if (auto s = engine_.stopContainer(a.containerId, a.timeout);
          !s && s.error().code() != ErrorCode::NotFound) {
        return failed(a, s.error());
      }
      create.name = a.containerId.substr(0, 12) + "_" + a.target;
      create.config.labels["com.docker.compose.replace"] = a.containerId;
    }
    auto created = engine_.createContainer(create);
    if (!created) return failed(a, created.error());
    const std::string id = created->id;
    for (const auto& [network, endpoint] : a.container.connect) {
      if (auto s = engine_.connectNetwork(network, id, endpoint); !s) {
        return failed(a, Error(s.error()).withContext("connect " + a.target + " to network " + network));
      }
    }
    if (!a.container.files.empty()) {
      if (auto s = engine_.putArchive(id, "/", filesArchive(a.container.files), {}); !s) {
        return failed(a, Error(s.error()).withContext("copy secrets and configs into " + a.target));
      }
    }
    if (options_.prepareContainer) {
      if (auto s = options_.prepareContainer(engine_, id, a); !s) return failed(a, s.error());
    }
    if (recreate) {
      engine::RemoveContainerOptions o;
      if (auto s = engine_.removeContainer(a.containerId, o); !s && s.error().code() != ErrorCode::NotFound) {
        return failed(a, s.error());
      }
      if (auto s = engine_.renameContainer(id, a.target); !s) return failed(a, s.error());
    }
    report(a, ProgressState::Done, recreate ? "Recreated" : "Created");
    if (!a.start) return ok();
    return start(a, a.target);
  }

  // Starts the container by name, so that an engine error names it ("start container p-web-1: ...").
  Status start(const Action& a, const std::string& id) {
    report(a, ProgressState::Working, "Starting");
    if (auto s = engine_.startContainer(id); !s) {
      return failed(a, Error(s.error().code(), s.error().message() + lastLogs(id, a.target)));
    }
    report(a, ProgressState::Done, "Started");
    return ok();
  }

  Status removeContainer(const Action& a) {
    if (!a.force) {
      report(a, ProgressState::Working, "Stopping");
      if (auto s = engine_.stopContainer(a.containerId, a.timeout); !s) {
        if (s.error().code() == ErrorCode::NotFound) {
          report(a, ProgressState::Done, "Removed");
          return ok();
        }
        return failed(a, s.error());
      }
      report(a, ProgressState::Working, "Stopped");
    }
    report(a, ProgressState::Working, "Removing");
    engine::RemoveContainerOptions o;
    o.force = a.force;
    o.volumes = a.removeVolumes;
    if (auto s = engine_.removeContainer(a.containerId, o); !s && s.error().code() != ErrorCode::NotFound) {
      return failed(a, s.error());
    }
    report(a, ProgressState::Done, "Removed");
    return ok();
  }

  // Polls one container until it meets the condition: ok, or why it never will.
  Status waitOne(const Action& a, const std::string& container,
                 std::optional<std::chrono::milliseconds> bound = std::nullopt) {
    if (!bound) bound = options_.waitTimeout;
    const bool bounded = bound.has_value();
    const Clock::TimePoint deadline = clock_.now() + bound.value_or(std::chrono::milliseconds(0));
    emit(ProgressEvent{"Container", container, ProgressState::Working, "Waiting", ""});
    bool seenRunning = false;
    while (true) {
      if (stop_.stop_requested()) return fail(ErrorCode::Cancelled, "cancelled");
      auto c = engine_.inspectContainer(container);
      if (!c) return fail(c.error());
      const engine::ContainerState& st = c->state;
      const bool exited = st.status == ContainerStatus::Exited || st.status == ContainerStatus::Dead;
      const std::string exitText = fmt::format("container {} exited ({})", container, st.exitCode);
      switch (a.condition) {
        case ServiceCondition::Started:
          if (st.running || exited) return ok();
          break;
        case ServiceCondition::Healthy:
          if (!st.health)
            return fail(ErrorCode::Conflict, "container " + container + " has no healthcheck configured");
          if (exited) return fail(ErrorCode::Conflict, exitText);  // (the engine marks it unhealthy too)
          if (st.health->status == engine::HealthStatus::Healthy) {
            emit(ProgressEvent{"Container", container, ProgressState::Done, "Healthy", ""});
            return ok();
          }
          if (st.health->status == engine::HealthStatus::Unhealthy) {
            return fail(ErrorCode::Conflict, "container " + container + " is unhealthy");
          }
          if (exited) return fail(ErrorCode::Conflict, exitText);
          break;
        case ServiceCondition::CompletedSuccessfully:
          if (exited) {
            if (st.exitCode == 0) {
              emit(ProgressEvent{"Container", container, ProgressState::Done, "Exited", ""});
              return ok();
            }
            return fail(ErrorCode::Conflict, exitText);
          }
          break;
        case ServiceCondition::RunningOrHealthy:
          if (exited) return fail(ErrorCode::Conflict, exitText);
          if (st.health) {
            if (st.health->status == engine::HealthStatus::Healthy) {
              emit(ProgressEvent{"Container", container, ProgressState::Done, "Healthy", ""});
              return ok();
            }
            if (st.health->status == engine::HealthStatus::Unhealthy) {
              return fail(ErrorCode::Conflict, "container " + container + " is unhealthy");
            }
          } else if (st.running && !st.restarting) {
            // Running on two looks in a row, so that a container that exits at once is not taken
            // for one that runs.
            if (seenRunning) {
              emit(ProgressEvent{"Container", container, ProgressState::Done, "Running", ""});
              return ok();
            }
            seenRunning = true;
          } else {
            seenRunning = false;
          }
          if (exited) return fail(ErrorCode::Conflict, exitText);
          break;
      }
      if (bounded && clock_.now() >= deadline) {
        return fail(ErrorCode::DeadlineExceeded, fmt::format("container {} was not {} in time", container,
                                                             serviceConditionName(a.condition)));
      }
      clock_.sleepFor(options_.pollInterval);
    }
  }

  Status waitForService(const Action& a) {
    for (const std::string& container : a.containers) {
      Status s = waitOne(a, container);
      if (s) continue;
      if (s.error().code() == ErrorCode::Cancelled) return s;
      std::string message = s.error().message();
      if (!a.waiter.empty()) {
        message = fmt::format("dependency failed to start: {} (service {} depends on {} being {})", message,
                              a.waiter, a.target, serviceConditionName(a.condition));
      }
      message += lastLogs(container, container);
      emit(ProgressEvent{"Container", container, ProgressState::Failed, "Error", s.error().message()});
      return fail(s.error().code(), message);
    }
    return ok();
  }

  const Plan& plan_;
  engine::Engine& engine_;
  Progress& progress_;
  Clock& clock_;
  const ApplyOptions& options_;
  std::stop_token stop_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<State> state_;
  std::vector<std::size_t> waiting_;
  std::vector<std::vector<std::size_t>> dependants_;
  std::deque<std::size_t> ready_;
  std::size_t finished_ = 0;
  bool cancelled_ = false;
  std::vector<Error> errors_;

  std::mutex progressMu_;
};

}  // namespace

Status apply(const Plan& plan, engine::Engine& engine, Progress& progress, Clock& clock,
             const ApplyOptions& options, std::stop_token stop) {
  return Runner(plan, engine, progress, clock, options, std::move(stop)).run();
}

Result<BuildContextStream> openDirectoryBuildContext(const ImageBuild& build) {
  BERTH_ASSIGN_OR_RETURN(auto source, engine::openBuildContext(build.context, build.dockerfile, build.dockerfileInline));
  // Shared: the writer outlives this call and may be copied.
  auto shared = std::make_shared<const engine::BuildContextSource>(std::move(source));
  return BuildContextStream{shared->dockerfile(),
                            [shared](const std::function<Status(std::string_view)>& sink) { return shared->writeTo(sink); }};
}

}  // namespace berth::plan
