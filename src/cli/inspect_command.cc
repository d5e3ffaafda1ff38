// Read-only views of the project's containers: `top` (their processes), `images` (the images they
// run) and `port` (the public address of a published port), as `docker compose` prints them.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "base/strings.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/global_options.h"
#include "cli/project.h"

namespace berth::cli {
namespace {

struct InspectFlags {
  std::vector<std::string> services;
  std::string format = "table";
  bool quiet = false;
  std::string protocol = "tcp";
  int index = 0;
  std::string service;
  int port = 0;
};

Result<std::vector<plan::ObservedContainer>> selectedContainers(ProjectContext& ctx,
                                                                const std::vector<std::string>& services,
                                                                bool runningOnly) {
  for (const std::string& s : services) {
    if (ctx.hasFile && ctx.project.services.count(s) == 0) {
      return fail(ErrorCode::InvalidArgument, "no such service: " + s);
    }
  }
  BERTH_ASSIGN_OR_RETURN(const plan::Observed observed, observeProject(ctx, false));
  std::vector<plan::ObservedContainer> out;
  for (const plan::ObservedContainer& c : observed.containers) {
    if (!services.empty() && std::find(services.begin(), services.end(), c.service) == services.end())
      continue;
    if (runningOnly && c.state != engine::ContainerStatus::Running) continue;
    out.push_back(c);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

int runTop(const GlobalOptions& global, const InspectFlags& f) {
  auto ctx = openProject(global, {.fileOptional = true});
  if (!ctx) return reportError(ctx.error());
  auto containers = selectedContainers(*ctx, f.services, true);
  if (!containers) return reportError(containers.error());
  std::string out;
  for (const plan::ObservedContainer& c : *containers) {
    auto top = ctx->engine->topContainer(c.id, "");
    if (!top) return reportError(top.error());
    std::vector<std::vector<std::string>> rows = {top->titles};
    for (const auto& p : top->processes) rows.push_back(p);
    out += c.name + "\n" + table(rows) + "\n";
  }
  std::cout << out;
  return 0;
}

int runImages(const GlobalOptions& global, const InspectFlags& f) {
  auto ctx = openProject(global, {.fileOptional = true});
  if (!ctx) return reportError(ctx.error());
  auto containers = selectedContainers(*ctx, f.services, false);
  if (!containers) return reportError(containers.error());
  engine::ListImagesOptions lo;
  auto images = ctx->engine->listImages(lo);
  if (!images) return reportError(images.error());
  std::map<std::string, const engine::ImageSummary*> byId;
  for (const engine::ImageSummary& i : *images) byId[i.id] = &i;
  if (f.quiet) {
    std::set<std::string> ids;
    for (const auto& c : *containers) {
      if (ids.insert(c.imageId).second) std::cout << c.imageId.substr(c.imageId.find(':') + 1, 12) << "\n";
    }
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"}};
  nlohmann::json list = nlohmann::json::array();
  for (const auto& c : *containers) {
    std::string repo = c.image;
    std::string tag = "latest";
    const auto colon = c.image.rfind(':');
    if (colon != std::string::npos && c.image.find('/', colon) == std::string::npos) {
      repo = c.image.substr(0, colon);
      tag = c.image.substr(colon + 1);
    }
    std::int64_t size = 0;
    if (auto it = byId.find(c.imageId); it != byId.end()) size = it->second->size;
    const std::string shortId = c.imageId.substr(c.imageId.find(':') + 1, 12);
    rows.push_back({c.name, repo, tag, shortId, humanSize(size)});
    list.push_back(
        {{"ContainerName", c.name}, {"Repository", repo}, {"Tag", tag}, {"ID", c.imageId}, {"Size", size}});
  }
  if (f.format == "json") {
    std::cout << list.dump(2) << "\n";
  } else {
    std::cout << table(rows);
  }
  return 0;
}

int runPort(const GlobalOptions& global, const InspectFlags& f) {
  auto ctx = openProject(global, {.fileOptional = true});
  if (!ctx) return reportError(ctx.error());
  auto observed = observeProject(*ctx, false);
  if (!observed) return reportError(observed.error());
  auto container =
      serviceContainer(*observed, f.service, f.index > 0 ? std::optional<int>(f.index) : std::nullopt);
  if (!container) return reportError(container.error());
  auto inspect = ctx->engine->inspectContainer(container->id);
  if (!inspect) return reportError(inspect.error());
  const std::string key = std::to_string(f.port) + "/" + f.protocol;
  auto it = inspect->networkSettings.ports.find(key);
  if (it == inspect->networkSettings.ports.end() || it->second.empty()) {
    return reportError(
        Error(ErrorCode::NotFound, fmt::format("no port {} for container {}", key, container->name)));
  }
  const engine::PortBinding& b = it->second.front();
  std::cout << (b.hostIp.empty() ? "0.0.0.0" : b.hostIp) << ":" << b.hostPort << "\n";
  return 0;
}

}  // namespace

void registerInspectCommands(CLI::App& app, CommandContext& context) {
  auto t = std::make_shared<InspectFlags>();
  CLI::App* top = app.add_subcommand("top", "Display the running processes");
  top->add_option("services", t->services, "Services")->type_name("SERVICE");
  top->callback([&context, t] { context.exitCode = runTop(context.global, *t); });

  auto i = std::make_shared<InspectFlags>();
  CLI::App* images = app.add_subcommand("images", "List images used by the created containers");
  images->add_option("--format", i->format, "Format the output: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  images->add_flag("-q,--quiet", i->quiet, "Only display IDs");
  images->add_option("services", i->services, "Services")->type_name("SERVICE");
  images->callback([&context, i] { context.exitCode = runImages(context.global, *i); });

  auto p = std::make_shared<InspectFlags>();
  CLI::App* port = app.add_subcommand("port", "Print the public port for a port binding");
  port->add_option("--protocol", p->protocol, "tcp or udp")
      ->check(CLI::IsMember({"tcp", "udp"}))
      ->capture_default_str();
  port->add_option("--index", p->index, "Index of the container if service has multiple replicas");
  port->add_option("service", p->service, "Service")->required()->type_name("SERVICE");
  port->add_option("private_port", p->port, "Private port")->required()->type_name("PRIVATE_PORT");
  port->callback([&context, p] { context.exitCode = runPort(context.global, *p); });
}

}  // namespace berth::cli
