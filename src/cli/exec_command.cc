// `berth exec SERVICE COMMAND...`: runs a command in a running container of the service — with a
// TTY and raw terminal when stdin is one (unless -T), piped otherwise — and exits with the
// command's exit code. -d runs it in the background. Flags as `docker compose exec`.
#include <CLI/CLI.hpp>

#include <chrono>
#include <thread>

#include "cli/commands.h"
#include "cli/global_options.h"
#include "cli/project.h"
#include "plan/observe.h"
#include "cli/session.h"
#include "cli/terminal.h"

namespace berth::cli {
namespace {

struct ExecFlags {
  bool detach = false;
  bool noTty = false;
  bool privileged = false;
  std::vector<std::string> env;
  std::string user;
  std::string workdir;
  int index = 0;
  std::string service;
};

int runExec(const GlobalOptions& global, const ExecFlags& f, const std::vector<std::string>& command) {
  if (command.empty()) return reportError(Error(ErrorCode::InvalidArgument, "exec needs a command to run"));
  auto ctx = openProject(global, {.fileOptional = true});
  if (!ctx) return reportError(ctx.error());
  if (ctx->hasFile && ctx->project.services.count(f.service) == 0) {
    return reportError(Error(ErrorCode::InvalidArgument, "no such service: " + f.service));
  }
  plan::ObserveOptions o;
  o.networks = false;
  o.volumes = false;
  auto observed = plan::observe(*ctx->engine, ctx->project.name, o);
  if (!observed) return reportError(observed.error());
  auto container =
      serviceContainer(*observed, f.service, f.index > 0 ? std::optional<int>(f.index) : std::nullopt);
  if (!container) return reportError(container.error());
  if (!container->running()) {
    return reportError(Error(ErrorCode::Conflict, "container " + container->name + " is not running"));
  }

  engine::ExecCreate spec;
  spec.cmd = command;
  spec.env = f.env;
  spec.user = f.user;
  spec.workingDir = f.workdir;
  spec.privileged = f.privileged;
  spec.tty = !f.noTty && !f.detach && isTerminal(0);
  spec.attachStdin = !f.detach;
  spec.attachStdout = !f.detach;
  spec.attachStderr = !f.detach;
  auto exec = ctx->engine->createExec(container->id, spec);
  if (!exec) return reportError(exec.error());
  if (f.detach) {
    Status s = ctx->engine->startExecDetached(*exec);
    return s ? 0 : reportError(s.error());
  }
  auto stream = ctx->engine->startExecAttached(*exec, spec.tty);
  if (!stream) return reportError(stream.error());
  engine::Engine& engine = *ctx->engine;
  const std::string execId = *exec;
  SessionOptions so;
  so.tty = spec.tty;
  so.resize = [&engine, execId](int rows, int cols) { (void)engine.resizeExecTty(execId, rows, cols); };
  std::stop_source never;
  Status s = pumpSession(**stream, so, never.get_token());
  if (!s) return reportError(s.error());
  // The output ended; the exit code is there once the engine noticed the process is gone.
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto inspect = engine.inspectExec(execId);
    if (!inspect) return reportError(inspect.error());
    if (!inspect->running && inspect->exitCode) return *inspect->exitCode;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return reportError(Error(ErrorCode::DeadlineExceeded, "the command's output ended but it did not exit"));
}

}  // namespace

void registerExecCommand(CLI::App& app, CommandContext& context) {
  auto f = std::make_shared<ExecFlags>();
  CLI::App* exec = app.add_subcommand("exec", "Execute a command in a running container");
  exec->add_flag("-d,--detach", f->detach, "Detached mode: Run command in the background");
  exec->add_flag("-T,--no-TTY", f->noTty,
                 "Disable pseudo-TTY allocation (default: a TTY when stdin is a terminal)");
  exec->add_flag("--privileged", f->privileged, "Give extended privileges to the process");
  exec->add_option("-e,--env", f->env, "Set environment variables")
      ->type_name("KEY=VAL")
      ->allow_extra_args(false);
  exec->add_option("-u,--user", f->user, "Run the command as this user");
  exec->add_option("-w,--workdir", f->workdir, "Path to workdir directory for this command");
  exec->add_option("--index", f->index, "Index of the container if service has multiple replicas");
  exec->add_option("service", f->service, "Service")->required()->type_name("SERVICE");
  // Everything after the service is the command, options included ("sh -c ...").
  exec->prefix_command();
  exec->callback([&context, f, exec] { context.exitCode = runExec(context.global, *f, exec->remaining()); });
}

}  // namespace berth::cli
