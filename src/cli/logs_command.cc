// `berth logs`: the output of the project's containers, merged, each line prefixed with its
// container in its service's colour (-f follows, --tail, -t, --since, --until, --no-color,
// --no-log-prefix, --index), as `docker compose logs` prints it.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>

#include "cli/commands.h"
#include "cli/format.h"
#include "cli/global_options.h"
#include "cli/log_stream.h"
#include "cli/project.h"
#include "cli/terminal.h"

namespace berth::cli {
namespace {

struct LogsFlags {
  bool follow = false;
  std::string tail = "all";
  bool timestamps = false;
  std::string since;
  std::string until;
  bool noColor = false;
  bool noLogPrefix = false;
  int index = 0;
  std::vector<std::string> services;
};

int runLogs(const GlobalOptions& global, const LogsFlags& f) {
  auto ctx = openProject(global, {.fileOptional = true});
  if (!ctx) return reportError(ctx.error());
  for (const std::string& s : f.services) {
    if (ctx->hasFile && ctx->project.services.count(s) == 0) {
      return reportError(Error(ErrorCode::InvalidArgument, "no such service: " + s));
    }
  }
  auto observed = observeProject(*ctx, false);
  if (!observed) return reportError(observed.error());
  std::vector<plan::ObservedContainer> containers;
  for (const plan::ObservedContainer& c : observed->containers) {
    if (c.oneOff) continue;
    if (!f.services.empty() && std::find(f.services.begin(), f.services.end(), c.service) == f.services.end())
      continue;
    if (f.index > 0 && c.number != f.index) continue;
    containers.push_back(c);
  }
  LogPrinter printer(ctx->project.name, containers,
                     {.color = !f.noColor && isTerminal(1), .prefix = !f.noLogPrefix});
  engine::LogsOptions o;
  o.follow = f.follow;
  o.tail = f.tail;
  o.timestamps = f.timestamps;
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto since = engineTimestamp(f.since, now);
  if (!since) return reportError(since.error());
  auto until = engineTimestamp(f.until, now);
  if (!until) return reportError(until.error());
  o.since = *since;
  o.until = *until;
  std::stop_source stop;
  InterruptWatcher watcher([&](int) { stop.request_stop(); });
  Status s = streamLogs(*ctx->engine, containers, o, printer, stop.get_token());
  if (!s) return reportError(s.error());
  return stop.stop_requested() ? 130 : 0;
}

}  // namespace

void registerLogsCommand(CLI::App& app, CommandContext& context) {
  auto f = std::make_shared<LogsFlags>();
  CLI::App* logs = app.add_subcommand("logs", "View output from containers");
  logs->add_flag("-f,--follow", f->follow, "Follow log output");
  logs->add_option("-n,--tail", f->tail,
                   "Number of lines to show from the end of the logs for each container")
      ->capture_default_str();
  logs->add_flag("-t,--timestamps", f->timestamps, "Show timestamps");
  logs->add_option(
      "--since", f->since,
      "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)");
  logs->add_option(
      "--until", f->until,
      "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)");
  logs->add_flag("--no-color", f->noColor, "Produce monochrome output");
  logs->add_flag("--no-log-prefix", f->noLogPrefix, "Don't print prefix in logs");
  logs->add_option("--index", f->index, "index of the container if service has multiple replicas");
  logs->add_option("services", f->services, "Services")->type_name("SERVICE");
  logs->callback([&context, f] { context.exitCode = runLogs(context.global, *f); });
}

}  // namespace berth::cli
