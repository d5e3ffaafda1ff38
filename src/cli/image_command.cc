// `berth build` and `berth pull`: the services' images, built through the engine's build API (a tar
// of the context, honouring .dockerignore) or pulled from their registries, through plan/apply.
// A pull that cannot reach a registry is an error naming the service.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.h"
#include "cli/global_options.h"
#include "cli/project.h"
#include "cli/terminal.h"
#include "plan/translate.h"

namespace berth::cli {
namespace {

struct ImageFlags {
  std::vector<std::string> services;
  bool noCache = false;
  bool pull = false;
  bool quiet = false;
  std::vector<std::string> buildArgs;
  bool ignorePullFailures = false;
  bool includeDeps = false;
};

int runBuild(const GlobalOptions& global, const ImageFlags& f) {
  auto ctx = openProject(global, {.services = f.services});
  if (!ctx) return reportError(ctx.error());
  plan::Plan p;
  std::set<std::string> seen;
  for (const auto& [name, s] : ctx->project.services) {
    if (!f.services.empty() && std::find(f.services.begin(), f.services.end(), name) == f.services.end())
      continue;
    if (!s.build) continue;
    auto b = plan::imageBuild(ctx->project, s);
    if (!b) return reportError(b.error());
    if (!seen.insert(b->image).second) continue;
    b->options.noCache = b->options.noCache || f.noCache;
    b->options.pull = b->options.pull || f.pull;
    for (const std::string& arg : f.buildArgs) {
      const auto eq = arg.find('=');
      if (eq == std::string::npos) {
        if (const char* v = std::getenv(arg.c_str())) b->options.buildArgs[arg] = v;
      } else {
        b->options.buildArgs[arg.substr(0, eq)] = arg.substr(eq + 1);
      }
    }
    plan::Action a;
    a.kind = plan::ActionKind::BuildImage;
    a.target = b->image;
    a.service = name;
    a.build = std::move(*b);
    p.add(std::move(a));
  }
  GlobalOptions g = global;
  if (f.quiet) g.progress = "quiet";
  std::stop_source cancel;
  InterruptWatcher watcher([&](int) { cancel.request_stop(); });
  Status s = runPlan(*ctx, g, p, "Building", cancel.get_token());
  return s ? 0 : reportError(s.error());
}

int runPull(const GlobalOptions& global, const ImageFlags& f) {
  auto ctx = openProject(global, {.services = f.services});
  if (!ctx) return reportError(ctx.error());
  plan::Plan p;
  std::set<std::string> seen;
  for (const auto& [name, s] : ctx->project.services) {
    if (!f.services.empty() && !f.includeDeps &&
        std::find(f.services.begin(), f.services.end(), name) == f.services.end()) {
      continue;
    }
    if (s.image.empty()) continue;  // built, never pulled
    if (!seen.insert(s.image).second) continue;
    plan::Action a;
    a.kind = plan::ActionKind::PullImage;
    a.target = s.image;
    a.service = name;
    // A service that also builds its image may fail to pull it: that is not an error.
    a.optional = f.ignorePullFailures || s.build.has_value();
    p.add(std::move(a));
  }
  GlobalOptions g = global;
  if (f.quiet) g.progress = "quiet";
  std::stop_source cancel;
  InterruptWatcher watcher([&](int) { cancel.request_stop(); });
  Status s = runPlan(*ctx, g, p, "Pulling", cancel.get_token());
  return s ? 0 : reportError(s.error());
}

}  // namespace

void registerImageCommands(CLI::App& app, CommandContext& context) {
  auto b = std::make_shared<ImageFlags>();
  CLI::App* build = app.add_subcommand("build", "Build or rebuild services");
  build->add_flag("--no-cache", b->noCache, "Do not use cache when building the image");
  build->add_flag("--pull", b->pull, "Always attempt to pull a newer version of the image");
  build->add_flag("-q,--quiet", b->quiet, "Don't print anything to STDOUT");
  build->add_option("--build-arg", b->buildArgs, "Set build-time variables for services")
      ->type_name("KEY=VAL")
      ->allow_extra_args(false);
  build->add_option("services", b->services, "Services")->type_name("SERVICE");
  build->callback([&context, b] { context.exitCode = runBuild(context.global, *b); });

  auto p = std::make_shared<ImageFlags>();
  CLI::App* pull = app.add_subcommand("pull", "Pull service images");
  pull->add_flag("--ignore-pull-failures", p->ignorePullFailures,
                 "Pull what it can and ignores images with pull failures");
  pull->add_flag("--include-deps", p->includeDeps, "Also pull services declared as dependencies");
  pull->add_flag("-q,--quiet", p->quiet, "Pull without printing progress information");
  pull->add_option("services", p->services, "Services")->type_name("SERVICE");
  pull->callback([&context, p] { context.exitCode = runPull(context.global, *p); });
}

}  // namespace berth::cli
