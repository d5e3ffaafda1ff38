// What every project command (up, down, ps, logs, exec, run, ...) does first: from the global
// options and the process environment to a loaded compose project and the engine to run it on,
// and the shared steps after that — observing the project, applying a plan with progress output,
// picking containers by service.
//
// openProject is the one place that decides which engine a project command talks to (through
// selectedEngine: -H NAME of a registered host or URL, DOCKER_HOST, the default socket), so fleet
// placement can extend it later.
//
// Thread-safety: functions are called from the command's main thread.
#pragma once

#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "base/result.h"
#include "engine/engine.h"
#include "plan/apply.h"
#include "plan/diff.h"
#include "plan/observed.h"
#include "spec/loader.h"
#include "spec/model.h"

namespace berth::cli {

struct GlobalOptions;
class OutputAboveProgress;

struct ProjectContext {
  spec::Project project;
  // false: no compose file was found and -p named the project; the command works from labels
  // alone (ps, down, logs, stop, ... as `docker compose -p NAME` does).
  bool hasFile = true;
  std::unique_ptr<engine::Engine> engine;
};

struct OpenOptions {
  // Without a compose file, fall back to the -p project (labels only) instead of failing.
  bool fileOptional = false;
  // Without a compose file and without -p either, go on with no project (an empty name): for
  // commands that also work on any engine object by its own name (volume backup, restore, move).
  bool projectOptional = false;
  // Services named on the command line: their profiles are enabled (spec LoadOptions).
  std::vector<std::string> services{};
  bool needEngine = true;
};

Result<ProjectContext> openProject(const GlobalOptions& global, const OpenOptions& options = {});

// How to load the project the global options name (files, -p, --project-directory, --env-file,
// --profile), with the process environment and the current directory. Fails only when the current
// directory cannot be determined.
Result<spec::ProjectOptions> projectOptions(const GlobalOptions& global);

// The project's containers, networks and volumes (and, when asked, the services' images).
Result<plan::Observed> observeProject(ProjectContext& context, bool images);

// The references of the images the project's services run.
std::vector<std::string> projectImages(const spec::Project& project);

// Prints the plan's warnings and applies it with the progress view the global options choose.
// Returns the apply's status (the error was already shown by the progress view). With `output`,
// text written to it meanwhile is printed above the view.
Status runPlan(ProjectContext& context, const GlobalOptions& global, const plan::Plan& plan,
               std::string_view title, std::stop_token stop = {}, const plan::ApplyOptions* options = nullptr,
               OutputAboveProgress* output = nullptr);

// The apply options every command uses (parallelism from COMPOSE_PARALLEL_LIMIT, build contexts
// read from disk).
plan::ApplyOptions defaultApplyOptions();

// Prints "berth: <message>" to stderr and returns 1 (or 130 for Cancelled).
int reportError(const Error& error);

// x-berth-ssh trust between services (src/trust): delivers the keys to every container of the
// project that calls or is called (created, running or stopped). runPlan calls it after a plan that
// made containers; `berth ssh rotate` after forgetting the keys. Nothing without `to:` links.
Status deliverTrust(ProjectContext& context);

// The container of `service` with number `index` (1-based), or the first running one.
Result<plan::ObservedContainer> serviceContainer(const plan::Observed& observed, const std::string& service,
                                                 std::optional<int> index);

// "p-web-1" → "web-1": the name without the project prefix (log prefixes, progress).
std::string shortContainerName(const std::string& project, const std::string& name);

}  // namespace berth::cli
