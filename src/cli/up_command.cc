// `berth up` and `berth create`: converge the project on the engine (observe → images → diff →
// apply), then, for an attached `up`, follow the containers' merged output until they exit or
// Ctrl-C stops the stack. The flags mirror `docker compose up` / `create`.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <iostream>

#include "base/strings.h"
#include "cli/commands.h"
#include "cli/global_options.h"
#include "cli/log_stream.h"
#include "cli/project.h"
#include "cli/terminal.h"
#include "plan/observe.h"

namespace berth::cli {
namespace {

struct UpFlags {
  bool detach = false;
  bool wait = false;
  int waitTimeout = 0;
  std::vector<std::string> scale;
  bool forceRecreate = false;
  bool noRecreate = false;
  bool noDeps = false;
  bool removeOrphans = false;
  bool noStart = false;
  bool build = false;
  bool noBuild = false;
  std::string pull;
  std::optional<int> timeout;
  bool noColor = false;
  bool noLogPrefix = false;
  bool timestamps = false;
  bool abortOnContainerExit = false;
  std::vector<std::string> services;
};

Result<plan::UpOptions> upOptions(const UpFlags& f) {
  if (f.forceRecreate && f.noRecreate) {
    return fail(ErrorCode::InvalidArgument, "--force-recreate and --no-recreate are incompatible");
  }
  if (f.build && f.noBuild) return fail(ErrorCode::InvalidArgument, "--build and --no-build are incompatible");
  if (f.detach && f.abortOnContainerExit) {
    return fail(ErrorCode::InvalidArgument, "--abort-on-container-exit and --detach are incompatible");
  }
  plan::UpOptions u;
  u.services = f.services;
  u.noDeps = f.noDeps;
  u.recreate = f.forceRecreate ? plan::RecreatePolicy::Force
                               : (f.noRecreate ? plan::RecreatePolicy::Never : plan::RecreatePolicy::Diverged);
  u.removeOrphans = f.removeOrphans;
  u.noStart = f.noStart;
  u.build = f.build ? plan::BuildPolicy::Always : (f.noBuild ? plan::BuildPolicy::Never : plan::BuildPolicy::Missing);
  u.pull = f.pull;
  u.wait = f.wait && !f.noStart;
  u.timeout = f.timeout;
  u.version = clientVersion();
  for (const std::string& s : f.scale) {
    const auto eq = s.find('=');
    int n = -1;
    if (eq != std::string::npos) {
      try {
        std::size_t used = 0;
        n = std::stoi(s.substr(eq + 1), &used);
        if (used != s.size() - eq - 1) n = -1;
      } catch (...) {
        n = -1;
      }
    }
    if (eq == std::string::npos || eq == 0 || n < 0) {
      return fail(ErrorCode::InvalidArgument, "--scale " + berth::quoted(s) + ": expected SERVICE=NUMBER");
    }
    u.scale[s.substr(0, eq)] = n;
  }
  return u;
}

// Converges; returns the observation it started from (for attaching) or the error.
Status converge(ProjectContext& ctx, const GlobalOptions& global, const plan::UpOptions& u, int waitTimeout,
                std::stop_token stop) {
  BERTH_ASSIGN_OR_RETURN(plan::Observed observed, observeProject(ctx, true));
  // Images first (builds, pulls), then diff against the images as they now are, so that a rebuilt
  // image recreates exactly the containers whose image changed.
  BERTH_ASSIGN_OR_RETURN(const plan::Plan images, plan::imagePlan(ctx.project, observed, u));
  if (!images.empty()) {
    BERTH_TRY(runPlan(ctx, global, images, "Building", stop));
    BERTH_ASSIGN_OR_RETURN(observed.images, plan::observeImages(*ctx.engine, projectImages(ctx.project)));
  }
  plan::UpOptions rest = u;
  rest.build = plan::BuildPolicy::Never;
  if (rest.pull == "always" || rest.pull == "build") rest.pull = "missing";
  BERTH_ASSIGN_OR_RETURN(const plan::Plan plan, plan::diff(ctx.project, observed, rest));
  plan::ApplyOptions options = defaultApplyOptions();
  if (waitTimeout > 0) options.waitTimeout = std::chrono::seconds(waitTimeout);
  return runPlan(ctx, global, plan, "Running", stop, &options);
}

int runUp(const GlobalOptions& global, const UpFlags& f, bool createOnly) {
  auto u = upOptions(f);
  if (!u) return reportError(u.error());
  if (createOnly) {
    u->noStart = true;
    u->wait = false;
  }
  auto ctx = openProject(global, {.services = f.services});
  if (!ctx) return reportError(ctx.error());

  std::stop_source cancel;
  const auto since = std::chrono::system_clock::now();
  {
    InterruptWatcher watcher([&](int) { cancel.request_stop(); });
    Status s = converge(*ctx, global, *u, f.waitTimeout, cancel.get_token());
    if (!s) return reportError(s.error());
  }
  if (f.detach || f.wait || u->noStart) return 0;

  // Attached: follow every container of the services in scope until they all exit or Ctrl-C.
  auto observed = observeProject(*ctx, false);
  if (!observed) return reportError(observed.error());
  std::vector<plan::ObservedContainer> containers;
  std::set<std::string> scope(f.services.begin(), f.services.end());
  for (const plan::ObservedContainer& c : observed->containers) {
    if (c.oneOff || ctx->project.services.count(c.service) == 0) continue;
    if (!scope.empty() && scope.count(c.service) == 0) continue;  // dependencies run unattached
    containers.push_back(c);
  }
  std::cout << "Attaching to " << [&] {
    std::vector<std::string> names;
    for (const auto& c : containers) names.push_back(shortContainerName(ctx->project.name, c.name));
    return join(names, ", ");
  }() << std::endl;

  LogPrinter printer(ctx->project.name, containers, {.color = !f.noColor && isTerminal(1), .prefix = !f.noLogPrefix});
  engine::LogsOptions lo;
  lo.follow = true;
  lo.timestamps = f.timestamps;
  lo.since = fmt::format("{:.3f}", std::chrono::duration<double>(since.time_since_epoch()).count() - 1.0);
  // The logs stream on their own thread; this one waits for them to end (every container exited),
  // for a container to exit (--abort-on-container-exit) or for Ctrl-C, and then stops the stack
  // while the output keeps flowing, so what containers print on their way out is shown too.
  std::stop_source logs;
  std::mutex mu;
  std::condition_variable cv;
  bool streamsEnded = false;
  bool oneExited = false;
  int interrupts = 0;
  InterruptWatcher watcher([&](int n) {
    std::lock_guard lock(mu);
    interrupts = n;
    if (n == 1) std::cerr << "Gracefully stopping... (press Ctrl+C again to force)" << std::endl;
    if (n >= 2) cancel.request_stop();
    cv.notify_all();
  });
  std::optional<Error> streamError;
  std::jthread streaming([&] {
    std::vector<std::jthread> each;
    for (const plan::ObservedContainer& c : containers) {
      each.emplace_back([&, c] {
        Status s = streamLogs(*ctx->engine, {c}, lo, printer, logs.get_token(), true);
        std::lock_guard lock(mu);
        if (!s && !streamError) streamError = s.error();
        oneExited = true;
        cv.notify_all();
      });
    }
    each.clear();  // joins
    std::lock_guard lock(mu);
    streamsEnded = true;
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return streamsEnded || interrupts > 0 || (f.abortOnContainerExit && oneExited); });
    if (streamsEnded && interrupts == 0) {
      lock.unlock();
      streaming.join();
      if (streamError) return reportError(*streamError);
      return 0;
    }
    if (interrupts == 0) std::cerr << "Aborting on container exit..." << std::endl;
  }
  // Stop the stack (Ctrl-C, or a container exited with --abort-on-container-exit).
  const bool interrupted = [&] {
    std::lock_guard lock(mu);
    return interrupts > 0;
  }();
  auto now = observeProject(*ctx, false);
  if (!now) return reportError(now.error());
  plan::Selection sel;
  sel.services = f.noDeps ? f.services : std::vector<std::string>{};
  auto stopPlan = plan::planStop(ctx->project, *now, sel, f.timeout);
  if (!stopPlan) return reportError(stopPlan.error());
  Status s = runPlan(*ctx, global, *stopPlan, "Stopping", cancel.get_token());
  if (cancel.stop_requested()) {
    // Ctrl-C again: kill what is still running.
    auto again = observeProject(*ctx, false);
    if (again) {
      auto killPlan = plan::planKill(ctx->project, *again, sel, "SIGKILL");
      if (killPlan) (void)runPlan(*ctx, global, *killPlan, "Killing");
    }
  }
  logs.request_stop();
  streaming.join();
  if (!s && s.error().code() != ErrorCode::Cancelled) return reportError(s.error());
  return interrupted ? 130 : 0;
}

void addConvergeFlags(CLI::App* cmd, UpFlags& f) {
  cmd->add_flag("--force-recreate", f.forceRecreate,
                "Recreate containers even if their configuration and image haven't changed");
  cmd->add_flag("--no-recreate", f.noRecreate, "If containers already exist, don't recreate them");
  cmd->add_flag("--build", f.build, "Build images before starting containers");
  cmd->add_flag("--no-build", f.noBuild, "Don't build an image, even if it's missing");
  cmd->add_option("--pull", f.pull, "Pull image before running (\"always\"|\"missing\"|\"never\"|\"build\")")
      ->check(CLI::IsMember({"always", "missing", "never", "build"}));
  cmd->add_flag("--remove-orphans", f.removeOrphans, "Remove containers for services not defined in the Compose file");
  cmd->add_option("--scale", f.scale, "Scale SERVICE to NUM instances (overrides scale in the file)")
      ->type_name("SERVICE=NUM")->allow_extra_args(false);
  cmd->add_option("services", f.services, "Services (default: all)")->type_name("SERVICE");
}

}  // namespace

void registerUpCommand(CLI::App& app, CommandContext& context) {
  auto f = std::make_shared<UpFlags>();
  CLI::App* up = app.add_subcommand("up", "Create and start containers");
  up->add_flag("-d,--detach", f->detach, "Detached mode: run containers in the background");
  up->add_flag("--wait", f->wait, "Wait for services to be running|healthy. Implies detached mode.");
  up->add_option("--wait-timeout", f->waitTimeout, "Maximum duration to wait for the project to be running|healthy")
      ->type_name("SECONDS");
  up->add_flag("--no-deps", f->noDeps, "Don't start linked services");
  up->add_flag("--no-start", f->noStart, "Don't start the services after creating them");
  up->add_option("-t,--timeout", f->timeout, "Shutdown timeout in seconds (when stopping or recreating)")
      ->type_name("SECONDS");
  up->add_flag("--no-color", f->noColor, "Produce monochrome output");
  up->add_flag("--no-log-prefix", f->noLogPrefix, "Don't print prefix in logs");
  up->add_flag("--timestamps", f->timestamps, "Show timestamps");
  up->add_flag("--abort-on-container-exit", f->abortOnContainerExit,
               "Stops all containers if any container was stopped. Incompatible with -d");
  addConvergeFlags(up, *f);
  up->callback([&context, f] { context.exitCode = runUp(context.global, *f, false); });

  auto c = std::make_shared<UpFlags>();
  CLI::App* create = app.add_subcommand("create", "Creates containers for a service");
  addConvergeFlags(create, *c);
  create->callback([&context, c] { context.exitCode = runUp(context.global, *c, true); });
}

}  // namespace berth::cli
