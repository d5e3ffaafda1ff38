// `berth ssh rotate [PROJECT]`: new SSH keys for x-berth-ssh trust between a project's services
// (src/trust). Every key berth minted for the project is forgotten and new ones are delivered into
// its containers; the targets' running containers are restarted so that sshd serves its new host
// key. Old caller keys stop working at once: the targets' authorized_keys hold only the new ones.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.h"
#include "cli/global_options.h"
#include "cli/project.h"
#include "plan/observe.h"
#include "trust/delivery.h"
#include "trust/trust_store.h"

namespace berth::cli {
namespace {

int runRotate(GlobalOptions global, const std::string& project) {
  if (!project.empty()) global.projectName = project;
  auto ctx = openProject(global);
  if (!ctx) return reportError(ctx.error());
  const trust::TrustLinks links = trust::linksOf(ctx->project);
  if (links.empty()) {
    return reportError(Error(ErrorCode::InvalidArgument, "project " + ctx->project.name +
                                                             " has no x-berth-ssh `to:` between its services: "
                                                             "there are no keys to rotate"));
  }
  auto store = trust::TrustStore::open(ctx->project.name);
  if (!store) return reportError(store.error());
  if (auto s = store->rotate(); !s) return reportError(s.error());
  if (auto s = deliverTrust(*ctx); !s) return reportError(s.error());
  // sshd reads its host key when it starts.
  plan::ObserveOptions o;
  o.networks = false;
  o.volumes = false;
  auto observed = plan::observe(*ctx->engine, ctx->project.name, o);
  if (!observed) return reportError(observed.error());
  int restarted = 0;
  for (const plan::ObservedContainer& c : observed->containers) {
    if (c.oneOff || links.targets.count(c.service) == 0 || !c.running()) continue;
    if (auto s = ctx->engine->restartContainer(c.id, std::nullopt); !s) return reportError(s.error());
    ++restarted;
  }
  std::cout << "rotated the SSH keys of " << ctx->project.name << ": " << links.callers.size() << " calling "
            << (links.callers.size() == 1 ? "service" : "services") << ", " << restarted
            << " target " << (restarted == 1 ? "container" : "containers") << " restarted\n";
  return 0;
}

}  // namespace

void registerSshCommands(CLI::App& app, CommandContext& context) {
  CLI::App* ssh = app.add_subcommand("ssh", "SSH trust between a project's services (x-berth-ssh)");
  ssh->require_subcommand(1);
  auto project = std::make_shared<std::string>();
  CLI::App* rotate = ssh->add_subcommand("rotate", "Mint new SSH keys for the project and deliver them");
  rotate->add_option("project", *project, "The project (default: -p or the compose file's)");
  rotate->callback([&context, project] { context.exitCode = runRotate(context.global, *project); });
}

}  // namespace berth::cli
