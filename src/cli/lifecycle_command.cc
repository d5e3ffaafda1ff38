// The container lifecycle commands: start, stop, restart, kill, rm, pause, unpause and wait, each
// over the project's containers (optionally of some services), in dependency order, through the
// same plan/apply machinery as `up` (progress view, bounded parallelism). Flags as `docker compose`.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "base/strings.h"
#include "cli/commands.h"
#include "cli/global_options.h"
#include "cli/project.h"
#include "cli/terminal.h"

namespace berth::cli {
namespace {

struct LifecycleFlags {
  std::vector<std::string> services;
  std::optional<int> timeout;
  std::string signal = "SIGKILL";
  bool force = false;
  bool stopFirst = false;
  bool volumes = false;
  bool removeOrphans = false;
  bool downProject = false;
};

enum class Verb { Start, Stop, Restart, Kill, Remove, Pause, Unpause };

int runLifecycle(const GlobalOptions& global, const LifecycleFlags& f, Verb verb) {
  auto ctx = openProject(global, {.fileOptional = true, .services = {}});
  if (!ctx) return reportError(ctx.error());
  auto observed = observeProject(*ctx, false);
  if (!observed) return reportError(observed.error());
  plan::Selection sel;
  sel.services = f.services;
  Result<plan::Plan> p = plan::Plan{};
  std::string title = "Running";
  switch (verb) {
    case Verb::Start:
      p = plan::planStart(ctx->project, *observed, sel);
      if (p && p->empty()) {
        for (const std::string& s : f.services) {
          if (observed->serviceContainers(s).empty()) {
            return reportError(Error(ErrorCode::NotFound, "service \"" + s + "\" has no container to start"));
          }
        }
      }
      break;
    case Verb::Stop:
      p = plan::planStop(ctx->project, *observed, sel, f.timeout);
      title = "Stopping";
      break;
    case Verb::Restart:
      p = plan::planRestart(ctx->project, *observed, sel, f.timeout);
      title = "Restarting";
      break;
    case Verb::Kill:
      p = plan::planKill(ctx->project, *observed, sel, f.signal);
      title = "Killing";
      if (p && f.removeOrphans) {
        for (const plan::ObservedContainer& c : observed->containers) {
          if (c.oneOff || !ctx->hasFile || ctx->project.services.count(c.service) != 0 ||
              ctx->project.disabledServices.count(c.service) != 0) {
            continue;
          }
          plan::Action a;
          a.kind = plan::ActionKind::RemoveContainer;
          a.target = c.name;
          a.service = c.service;
          a.containerId = c.id;
          a.force = true;
          a.reason = "orphan";
          p->add(std::move(a));
        }
      }
      break;
    case Verb::Remove: {
      sel.includeOneOff = true;
      p = plan::planRemove(ctx->project, *observed, sel, f.stopFirst, f.volumes);
      title = "Removing";
      if (p && p->empty()) {
        std::cerr << "No stopped containers\n";
        return 0;
      }
      if (p && !f.force && isTerminal(0)) {
        std::vector<std::string> names;
        for (const plan::Action& a : p->actions) names.push_back(a.target);
        std::cerr << "Going to remove " << join(names, ", ") << "\nAre you sure? [yN] " << std::flush;
        std::string answer;
        std::getline(std::cin, answer);
        if (answer != "y" && answer != "Y" && answer != "yes") return 0;
      }
      break;
    }
    case Verb::Pause:
      p = plan::planPause(ctx->project, *observed, sel);
      title = "Pausing";
      break;
    case Verb::Unpause:
      p = plan::planUnpause(ctx->project, *observed, sel);
      title = "Unpausing";
      break;
  }
  if (!p) return reportError(p.error());
  std::stop_source cancel;
  InterruptWatcher watcher([&](int) { cancel.request_stop(); });
  Status s = runPlan(*ctx, global, *p, title, cancel.get_token());
  return s ? 0 : reportError(s.error());
}

// `wait SERVICE...`: blocks until the services' containers stop; exits with the first one's code.
int runWait(const GlobalOptions& global, const LifecycleFlags& f) {
  auto ctx = openProject(global, {.fileOptional = true});
  if (!ctx) return reportError(ctx.error());
  auto observed = observeProject(*ctx, false);
  if (!observed) return reportError(observed.error());
  std::vector<plan::ObservedContainer> containers;
  for (const std::string& s : f.services) {
    if (ctx->hasFile && ctx->project.services.count(s) == 0) {
      return reportError(Error(ErrorCode::InvalidArgument, "no such service: " + s));
    }
    for (const plan::ObservedContainer* c : observed->serviceContainers(s)) containers.push_back(*c);
  }
  if (containers.empty())
    return reportError(Error(ErrorCode::NotFound, "no containers for the given services"));
  // Poll with one list call per round rather than one blocking wait per container, so that Ctrl-C
  // and the first exit end the command at once.
  std::stop_source cancel;
  InterruptWatcher watcher([&](int) { cancel.request_stop(); });
  std::optional<int> code;
  while (!code) {
    if (cancel.stop_requested()) return 130;
    engine::ListContainersOptions lo;
    lo.all = true;
    lo.filters["label"] = {"com.docker.compose.project=" + ctx->project.name};
    auto list = ctx->engine->listContainers(lo);
    if (!list) return reportError(list.error());
    for (const plan::ObservedContainer& c : containers) {
      bool running = false;
      for (const engine::ContainerSummary& s : *list) {
        if (s.id == c.id)
          running =
              s.state == engine::ContainerStatus::Running || s.state == engine::ContainerStatus::Paused ||
              s.state == engine::ContainerStatus::Restarting || s.state == engine::ContainerStatus::Created;
      }
      if (running) continue;
      auto inspect = ctx->engine->inspectContainer(c.id);
      code = inspect ? inspect->state.exitCode : 0;
      std::cout << c.name << " exited with code " << *code << std::endl;
      break;
    }
    if (!code) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (f.downProject) {
    plan::DownOptions o;
    auto now = observeProject(*ctx, false);
    if (!now) return reportError(now.error());
    Status s = runPlan(*ctx, global, plan::planDown(ctx->project, *now, o), "Running");
    if (!s) return reportError(s.error());
  }
  return *code;
}

}  // namespace

void registerLifecycleCommands(CLI::App& app, CommandContext& context) {
  const auto add = [&](const char* name, const char* help, Verb verb) {
    auto f = std::make_shared<LifecycleFlags>();
    CLI::App* cmd = app.add_subcommand(name, help);
    cmd->add_option("services", f->services, "Services")->type_name("SERVICE");
    switch (verb) {
      case Verb::Stop:
      case Verb::Restart:
        cmd->add_option("-t,--timeout", f->timeout, "Specify a shutdown timeout in seconds")
            ->type_name("SECONDS");
        break;
      case Verb::Kill:
        cmd->add_option("-s,--signal", f->signal, "SIGNAL to send to the container")->capture_default_str();
        cmd->add_flag("--remove-orphans", f->removeOrphans,
                      "Remove containers for services not defined in the Compose file");
        break;
      case Verb::Remove:
        cmd->add_flag("-f,--force", f->force, "Don't ask to confirm removal");
        cmd->add_flag("-s,--stop", f->stopFirst, "Stop the containers, if required, before removing");
        cmd->add_flag("-v,--volumes", f->volumes, "Remove any anonymous volumes attached to containers");
        break;
      case Verb::Start:
      case Verb::Pause:
      case Verb::Unpause:
        break;
    }
    cmd->callback([&context, f, verb] { context.exitCode = runLifecycle(context.global, *f, verb); });
  };
  add("start", "Start services", Verb::Start);
  add("stop", "Stop services", Verb::Stop);
  add("restart", "Restart service containers", Verb::Restart);
  add("kill", "Force stop service containers", Verb::Kill);
  add("rm", "Removes stopped service containers", Verb::Remove);
  add("pause", "Pause services", Verb::Pause);
  add("unpause", "Unpause services", Verb::Unpause);

  auto w = std::make_shared<LifecycleFlags>();
  CLI::App* wait = app.add_subcommand("wait", "Block until the first service container stops");
  wait->add_option("services", w->services, "Services")->required()->type_name("SERVICE");
  wait->add_flag("--down-project", w->downProject, "Drops project when the first container stops");
  wait->callback([&context, w] { context.exitCode = runWait(context.global, *w); });
}

}  // namespace berth::cli
