// `berth down`: stop and remove the project's containers (dependants first), its networks, and
// with -v its volumes (the only command that ever deletes volumes), with --rmi its images.
// Works without a compose file too (`berth -p NAME down`), from the labels.
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/global_options.h"
#include "cli/project.h"
#include "cli/terminal.h"
#include "plan/observe.h"

namespace berth::cli {
namespace {

struct DownFlags {
  bool volumes = false;
  std::string rmi;
  bool removeOrphans = false;
  std::optional<int> timeout;
};

int runDown(const GlobalOptions& global, const DownFlags& f) {
  auto ctx = openProject(global, {.fileOptional = true});
  if (!ctx) return reportError(ctx.error());
  plan::DownOptions o;
  o.removeVolumes = f.volumes;
  o.removeImages = f.rmi == "all" ? plan::RemoveImages::All
                                  : (f.rmi == "local" ? plan::RemoveImages::Local : plan::RemoveImages::None);
  o.removeOrphans = f.removeOrphans;
  o.timeout = f.timeout;
  auto observed = observeProject(*ctx, o.removeImages != plan::RemoveImages::None);
  if (!observed) return reportError(observed.error());
  if (o.removeImages == plan::RemoveImages::All && !ctx->hasFile) {
    std::vector<std::string> refs;
    for (const auto& c : observed->containers) refs.push_back(c.image);
    auto images = plan::observeImages(*ctx->engine, refs);
    if (!images) return reportError(images.error());
    observed->images = *images;
  }
  const plan::Plan plan = plan::planDown(ctx->project, *observed, o);
  std::stop_source cancel;
  InterruptWatcher watcher([&](int) { cancel.request_stop(); });
  Status s = runPlan(*ctx, global, plan, "Running", cancel.get_token());
  if (!s) return reportError(s.error());
  return 0;
}

}  // namespace

void registerDownCommand(CLI::App& app, CommandContext& context) {
  auto f = std::make_shared<DownFlags>();
  CLI::App* down = app.add_subcommand("down", "Stop and remove containers, networks");
  down->add_flag("-v,--volumes", f->volumes,
                 "Remove named volumes declared in the \"volumes\" section of the Compose file and anonymous "
                 "volumes attached to containers");
  down->add_option("--rmi", f->rmi,
                   "Remove images used by services. \"local\" removes only images that don't have a "
                   "custom tag (\"local\"|\"all\")")
      ->check(CLI::IsMember({"local", "all"}));
  down->add_flag("--remove-orphans", f->removeOrphans,
                 "Remove containers for services not defined in the Compose file");
  down->add_option("-t,--timeout", f->timeout, "Specify a shutdown timeout in seconds")->type_name("SECONDS");
  down->callback([&context, f] { context.exitCode = runDown(context.global, *f); });
}

}  // namespace berth::cli
