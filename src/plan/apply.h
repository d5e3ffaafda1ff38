// plan::apply: executes a Plan against one engine — dependency order, a bounded number of engine
// calls in flight, depends_on waits, recreation that keeps volume data, cancellation.
//
// Scheduling: a small pool of worker threads (ApplyOptions::parallelism, each running one action at
// a time, so at most that many engine calls are in flight) takes actions whose dependencies all
// succeeded. An action that fails fails the plan, and every action that depends on it (directly or
// not) is skipped; independent actions still run. When `stop` is requested no new action starts,
// waits end at once, and apply returns Cancelled after the running engine calls return.
//
// Recreation follows compose: stop the old container, create the new one under a temporary name
// with the old one's anonymous volumes mounted again, remove the old one, rename the new one, start
// it. Errors name the container and, when a container failed to start or a dependency failed its
// condition, carry the container's last log lines.
//
// Blocks until the plan is done. Thread-safety: Progress::event is called from the workers, one
// call at a time (apply serializes them).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "engine/engine.h"
#include "plan/plan.h"

namespace berth::plan {

enum class ProgressState { Working, Done, Failed, Skipped, Warning };

// One step of one resource: {"Container", "p-web-1", Working, "Creating"}. `detail` carries build
// output, warnings and error messages.
struct ProgressEvent {
  std::string kind{};  // "Container", "Network", "Volume", "Image", "Service"
  std::string name{};
  ProgressState state = ProgressState::Working;
  std::string text{};  // "Creating", "Created", "Starting", "Started", "Waiting", "Healthy", ...
  std::string detail{};
};

class Progress {
 public:
  virtual ~Progress() = default;
  virtual void event(const ProgressEvent& event) = 0;
};

class NullProgress final : public Progress {
 public:
  void event(const ProgressEvent&) override {}
};

// A build context as sent to the engine: the Dockerfile's path inside it, and its tar written piece
// by piece as the upload goes (never held whole).
struct BuildContextStream {
  std::string dockerfile{};
  engine::ContextWriter writer{};
};
// Opens the build context of an ImageBuild (the CLI walks directories, honouring .dockerignore).
using BuildContextFn = std::function<Result<BuildContextStream>(const ImageBuild& build)>;
// The BuildContextFn for contexts that are directories on this machine (engine::openBuildContext).
Result<BuildContextStream> openDirectoryBuildContext(const ImageBuild& build);

struct ApplyOptions {
  int parallelism = 8;
  std::chrono::milliseconds pollInterval{200};  // health and exit polling of waits
  // Bound on each WaitForService (--wait-timeout); unset: until the condition or a failure.
  std::optional<std::chrono::milliseconds> waitTimeout{};
  int logLines = 10;  // log lines quoted for a container that failed
  BuildContextFn buildContext{};
  // Called for each container created (the new one, for a recreation), after secrets and configs
  // are copied in and before it starts: what the CLI adds to a container that the compose model
  // alone cannot say (x-berth-ssh trust material, src/trust). An error fails the action, as a
  // failed copy does. Called from the workers, possibly for several containers at once.
  std::function<Status(engine::Engine& engine, const std::string& containerId, const Action& action)>
      prepareContainer{};
};

Status apply(const Plan& plan, engine::Engine& engine, Progress& progress, Clock& clock,
             const ApplyOptions& options, std::stop_token stop = {});

}  // namespace berth::plan
