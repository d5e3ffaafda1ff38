// `berth up` and `berth create`: converge the project on the engine (observe → images → diff →
// apply), then, for an attached `up`, follow the containers' merged output until they exit or
// Ctrl-C stops the stack. The flags mirror `docker compose up` / `create`.
#include <CLI/CLI.hpp>

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <set>

#include "base/strings.h"
#include "cli/commands.h"
#include "cli/container_follower.h"
#include "cli/global_options.h"
#include "cli/log_stream.h"
#include "cli/progress.h"
#include "cli/project.h"
#include "cli/project_lock.h"
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
  std::string exitCodeFrom;
  std::vector<std::string> services;
};

Result<plan::UpOptions> upOptions(const UpFlags& f) {
  if (f.forceRecreate && f.noRecreate) {
    return fail(ErrorCode::InvalidArgument, "--force-recreate and --no-recreate are incompatible");
  }
  if (f.build && f.noBuild)
    return fail(ErrorCode::InvalidArgument, "--build and --no-build are incompatible");
  if (f.detach && f.abortOnContainerExit) {
    return fail(ErrorCode::InvalidArgument, "--abort-on-container-exit and --detach are incompatible");
  }
  if (f.detach && !f.exitCodeFrom.empty()) {
    return fail(ErrorCode::InvalidArgument, "--exit-code-from and --detach are incompatible");
  }
  plan::UpOptions u;
  u.services = f.services;
  u.noDeps = f.noDeps;
  u.recreate = f.forceRecreate
                   ? plan::RecreatePolicy::Force
                   : (f.noRecreate ? plan::RecreatePolicy::Never : plan::RecreatePolicy::Diverged);
  u.removeOrphans = f.removeOrphans;
  u.noStart = f.noStart;
  u.build = f.build ? plan::BuildPolicy::Always
                    : (f.noBuild ? plan::BuildPolicy::Never : plan::BuildPolicy::Missing);
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

// What the convergence will do once the images are there: the observation it starts from and the
// plan for networks, volumes and containers.
struct Convergence {
  plan::Observed observed;
  plan::Plan plan;
};

// The first step of the convergence: images are built and pulled, then the rest is planned against
// the images as they now are, so that a rebuilt image recreates exactly the containers it changed.
Result<Convergence> prepare(ProjectContext& ctx, const GlobalOptions& global, const plan::UpOptions& u,
                            std::stop_token stop) {
  BERTH_ASSIGN_OR_RETURN(plan::Observed observed, observeProject(ctx, true));
  BERTH_ASSIGN_OR_RETURN(const plan::Plan images, plan::imagePlan(ctx.project, observed, u));
  if (!images.empty()) {
    BERTH_TRY(runPlan(ctx, global, images, "Building", stop));
    BERTH_ASSIGN_OR_RETURN(observed.images, plan::observeImages(*ctx.engine, projectImages(ctx.project)));
  }
  plan::UpOptions rest = u;
  rest.build = plan::BuildPolicy::Never;
  if (rest.pull == "always" || rest.pull == "build") rest.pull = "missing";
  BERTH_ASSIGN_OR_RETURN(plan::Plan plan, plan::diff(ctx.project, observed, rest));
  return Convergence{std::move(observed), std::move(plan)};
}

plan::ApplyOptions applyOptions(const UpFlags& f) {
  plan::ApplyOptions options = defaultApplyOptions();
  if (f.waitTimeout > 0) options.waitTimeout = std::chrono::seconds(f.waitTimeout);
  return options;
}

// Stops the stack after Ctrl-C or an exit with --abort-on-container-exit (dependants first); a
// second Ctrl-C (`cancel`) kills what still runs.
Status stopStack(ProjectContext& ctx, const GlobalOptions& global, const UpFlags& f, std::stop_source& cancel,
                 OutputAboveProgress& output) {
  BERTH_ASSIGN_OR_RETURN(const plan::Observed now, observeProject(ctx, false));
  plan::Selection sel;
  sel.services = f.noDeps ? f.services : std::vector<std::string>{};
  BERTH_ASSIGN_OR_RETURN(const plan::Plan stopPlan, plan::planStop(ctx.project, now, sel, f.timeout));
  Status s = runPlan(ctx, global, stopPlan, "Stopping", cancel.get_token(), nullptr, &output);
  if (cancel.stop_requested()) {
    auto again = observeProject(ctx, false);
    if (again) {
      auto killPlan = plan::planKill(ctx.project, *again, sel, "SIGKILL");
      if (killPlan) (void)runPlan(ctx, global, *killPlan, "Killing", {}, nullptr, &output);
    }
  }
  if (!s && s.error().code() != ErrorCode::Cancelled) return s;
  return ok();
}

// The containers of `scope` as the plan leaves them (those that stay, and those it creates), for
// "Attaching to" and the width of the log prefixes.
std::vector<plan::ObservedContainer> attachedContainers(const Convergence& c,
                                                        const std::set<std::string>& scope) {
  std::map<std::string, plan::ObservedContainer> byName;
  for (const plan::ObservedContainer& o : c.observed.containers) {
    if (!o.oneOff && scope.count(o.service) != 0) byName[o.name] = o;
  }
  for (const plan::Action& a : c.plan.actions) {
    if (scope.count(a.service) == 0) continue;
    if (a.kind == plan::ActionKind::CreateContainer || a.kind == plan::ActionKind::RecreateContainer) {
      plan::ObservedContainer created;
      created.name = a.target;
      created.service = a.service;
      byName[a.target] = created;
    } else if (a.kind == plan::ActionKind::RemoveContainer) {
      byName.erase(a.target);
    }
  }
  std::vector<plan::ObservedContainer> out;
  for (auto& [name, container] : byName) out.push_back(std::move(container));
  return out;
}

// The containers the plan replaces or removes (IDs): attached `up` does not follow them.
std::set<std::string> replacedContainers(const plan::Plan& plan) {
  std::set<std::string> out;
  for (const plan::Action& a : plan.actions) {
    if (a.kind == plan::ActionKind::RecreateContainer || a.kind == plan::ActionKind::RemoveContainer) {
      out.insert(a.containerId);
    }
  }
  return out;
}

// The containers of `scope` the plan starts (names).
std::vector<std::string> startedContainers(const plan::Plan& plan, const std::set<std::string>& scope) {
  std::vector<std::string> out;
  for (const plan::Action& a : plan.actions) {
    if (scope.count(a.service) == 0) continue;
    const bool creates =
        a.kind == plan::ActionKind::CreateContainer || a.kind == plan::ActionKind::RecreateContainer;
    const bool renamesAndStarts = a.kind == plan::ActionKind::RenameContainer && a.start;
    const bool starts = (creates && a.start) || renamesAndStarts ||
                        a.kind == plan::ActionKind::StartContainer ||
                        a.kind == plan::ActionKind::RestartContainer;
    if (starts) out.push_back(a.target);
  }
  return out;
}

// An instant in the engine's clock, and how far that clock is ahead of this machine's.
struct EngineTime {
  SystemNanos at{};
  std::chrono::nanoseconds engineAhead{0};
};

// Attached `up`: the output of the services' containers (the named ones, or all) from the moment
// the convergence starts them — printed above its progress view — and as they restart or get
// replaced, until they all exited, one exited (--abort-on-container-exit, --exit-code-from) or
// Ctrl-C; then the stack is stopped while their output keeps coming. Returns the exit code.
int upAttached(ProjectContext& ctx, const GlobalOptions& global, const UpFlags& f,
               const Convergence& convergence, const EngineTime& since, ProjectLock& projectLock) {
  std::set<std::string> scope(f.services.begin(), f.services.end());  // dependencies run unattached
  if (scope.empty()) {
    for (const auto& [name, service] : ctx.project.services) scope.insert(name);
  }
  const std::vector<plan::ObservedContainer> containers = attachedContainers(convergence, scope);
  std::cout << "Attaching to " << [&] {
    std::vector<std::string> names;
    for (const auto& c : containers) names.push_back(shortContainerName(ctx.project.name, c.name));
    return join(names, ", ");
  }() << std::endl;
  OutputAboveProgress output;
  LogPrinter printer(ctx.project.name, containers,
                     {.color = !f.noColor && isTerminal(1), .prefix = !f.noLogPrefix},
                     [&](std::string_view text) { output.write(1, text); });

  // Set by the follower's threads and the Ctrl-C watcher; this thread waits for them.
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Error> failure;
  std::optional<ContainerExit> firstExit;
  std::optional<int> exitCodeFrom;  // of the first exit of the --exit-code-from service
  int interrupts = 0;
  const bool abortOnExit = f.abortOnContainerExit || !f.exitCodeFrom.empty();
  FollowListener listener;
  listener.exited = [&](const ContainerExit& e) {
    std::lock_guard lock(mu);
    if (!firstExit) firstExit = e;
    if (!exitCodeFrom && e.container.service == f.exitCodeFrom) exitCodeFrom = e.exitCode;
    cv.notify_all();
  };
  listener.changed = [&] {
    std::lock_guard lock(mu);
    cv.notify_all();
  };
  listener.failed = [&](const Error& e) {
    std::lock_guard lock(mu);
    failure = e;
    cv.notify_all();
  };
  // A second before `up` began: the clocks' difference is measured to within the /info call's time.
  ContainerFollower follower(*ctx.engine, printer,
                             {.project = ctx.project.name,
                              .services = scope,
                              .timestamps = f.timestamps,
                              .since = since.at - std::chrono::seconds(1),
                              .engineClockAhead = since.engineAhead,
                              .ignored = replacedContainers(convergence.plan)},
                             listener);
  // The first Ctrl-C ends the convergence (no new action starts) and stops the stack, a second one
  // kills it.
  std::stop_source converging;
  std::stop_source cancel;
  InterruptWatcher watcher([&](int n) {
    std::lock_guard lock(mu);
    interrupts = n;
    if (n == 1) std::cerr << "Gracefully stopping... (press Ctrl+C again to force)" << std::endl;
    converging.request_stop();
    if (n >= 2) cancel.request_stop();
    cv.notify_all();
  });
  follower.start();
  const plan::ApplyOptions options = applyOptions(f);
  Status converged =
      runPlan(ctx, global, convergence.plan, "Running", converging.get_token(), &options, &output);
  projectLock.release();  // converged: following the containers needs no lock
  if (converged) {
    // Their start events may still be on their way: until they came, `up` is not done.
    follower.expectStarted(startedContainers(convergence.plan, scope));
  }
  {
    std::unique_lock lock(mu);
    if (!converged && interrupts == 0) {
      lock.unlock();
      follower.stop();
      return reportError(converged.error());
    }
    cv.wait(lock,
            [&] { return follower.allExited() || failure || interrupts > 0 || (abortOnExit && firstExit); });
    if (failure) {
      const Error error = *failure;
      lock.unlock();
      follower.stop();
      return reportError(error);
    }
    if (interrupts == 0 && !(abortOnExit && firstExit)) {
      lock.unlock();
      follower.stop();
      if (auto e = follower.logError()) return reportError(*e);
      return 0;
    }
    if (interrupts == 0) std::cerr << "Aborting on container exit..." << std::endl;
  }
  Status stopped = stopStack(ctx, global, f, cancel, output);
  {
    // What the containers printed on their way out, and their exits (the stop plan returns when
    // they stopped; their last output and events may still be on their way).
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(5), [&] { return follower.allExited() || failure.has_value(); });
  }
  follower.stop();
  if (!stopped) return reportError(stopped.error());
  std::lock_guard lock(mu);
  if (interrupts > 0) return 130;
  // As docker compose: the exit code of the --exit-code-from service's container, else of the
  // container whose exit stopped the stack.
  if (!f.exitCodeFrom.empty()) return exitCodeFrom.value_or(0);
  return firstExit->exitCode;
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
  if (!f.exitCodeFrom.empty() && ctx->project.services.count(f.exitCodeFrom) == 0) {
    return reportError(
        Error(ErrorCode::InvalidArgument, "--exit-code-from: no such service: " + f.exitCodeFrom));
  }

  const bool attached = !(f.detach || f.wait || u->noStart);
  // Attached: the output from now on, in the engine's clock (logs' and events' `since`).
  EngineTime since;
  if (attached) {
    since.engineAhead = engineClockAhead(*ctx->engine);
    since.at = std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now()) +
               since.engineAhead;
  }
  // Ctrl-C cancels: no new action starts, waits end at once (attached `up` has its own handling
  // once the containers start).
  std::stop_source cancel;
  // From observing to the end of applying, no other `up` of the project on this machine.
  auto lock = ProjectLock::acquire(ctx->project.name);
  if (!lock) return reportError(lock.error());
  auto convergence = [&] {
    InterruptWatcher watcher([&](int) { cancel.request_stop(); });
    return prepare(*ctx, global, *u, cancel.get_token());
  }();
  if (!convergence) return reportError(convergence.error());
  if (attached) return upAttached(*ctx, global, f, *convergence, since, *lock);
  InterruptWatcher watcher([&](int) { cancel.request_stop(); });
  const plan::ApplyOptions options = applyOptions(f);
  Status s = runPlan(*ctx, global, convergence->plan, "Running", cancel.get_token(), &options);
  if (!s) return reportError(s.error());
  return 0;
}

void addConvergeFlags(CLI::App* cmd, UpFlags& f) {
  cmd->add_flag("--force-recreate", f.forceRecreate,
                "Recreate containers even if their configuration and image haven't changed");
  cmd->add_flag("--no-recreate", f.noRecreate, "If containers already exist, don't recreate them");
  cmd->add_flag("--build", f.build, "Build images before starting containers");
  cmd->add_flag("--no-build", f.noBuild, "Don't build an image, even if it's missing");
  cmd->add_option("--pull", f.pull, "Pull image before running (\"always\"|\"missing\"|\"never\"|\"build\")")
      ->check(CLI::IsMember({"always", "missing", "never", "build"}));
  cmd->add_flag("--remove-orphans", f.removeOrphans,
                "Remove containers for services not defined in the Compose file");
  cmd->add_option("--scale", f.scale, "Scale SERVICE to NUM instances (overrides scale in the file)")
      ->type_name("SERVICE=NUM")
      ->allow_extra_args(false);
  cmd->add_option("services", f.services, "Services (default: all)")->type_name("SERVICE");
}

}  // namespace

void registerUpCommand(CLI::App& app, CommandContext& context) {
  auto f = std::make_shared<UpFlags>();
  CLI::App* up = app.add_subcommand("up", "Create and start containers");
  up->add_flag("-d,--detach", f->detach, "Detached mode: run containers in the background");
  up->add_flag("--wait", f->wait, "Wait for services to be running|healthy. Implies detached mode.");
  up->add_option("--wait-timeout", f->waitTimeout,
                 "Maximum duration to wait for the project to be running|healthy")
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
  up->add_option("--exit-code-from", f->exitCodeFrom,
                 "Return the exit code of the selected service container. Implies --abort-on-container-exit")
      ->type_name("SERVICE");
  addConvergeFlags(up, *f);
  up->callback([&context, f] { context.exitCode = runUp(context.global, *f, false); });

  auto c = std::make_shared<UpFlags>();
  CLI::App* create = app.add_subcommand("create", "Creates containers for a service");
  addConvergeFlags(create, *c);
  create->callback([&context, c] { context.exitCode = runUp(context.global, *c, true); });
}

}  // namespace berth::cli
