// `berth ps`: the project's containers, as `docker compose ps` lists them — a table (running ones
// unless -a), JSON lines (--format json), service names (--services) or IDs (-q). One list call.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "base/strings.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/global_options.h"
#include "cli/project.h"
#include "plan/observe.h"

namespace berth::cli {
namespace {

struct PsFlags {
  bool all = false;
  bool quiet = false;
  bool services = false;
  bool noTrunc = false;
  std::string format = "table";
  std::vector<std::string> status;
  std::vector<std::string> filter;
  std::vector<std::string> selected;
};

std::string health(const std::string& status) {
  for (const char* h : {"healthy", "unhealthy", "health: starting"}) {
    if (status.find(std::string("(") + h + ")") != std::string::npos) {
      return std::string(h) == "health: starting" ? "starting" : h;
    }
  }
  return "";
}

int exitCodeOf(const plan::ObservedContainer& c) {
  const auto open = c.status.find("Exited (");
  if (open == std::string::npos) return 0;
  try {
    return std::stoi(c.status.substr(open + 8));
  } catch (...) {
    return 0;
  }
}

nlohmann::json jsonOf(const plan::ObservedContainer& c, const std::string& project, std::int64_t now) {
  nlohmann::json j;
  j["ID"] = c.id;
  j["Name"] = c.name;
  j["Names"] = c.name;
  j["Image"] = c.image;
  j["Command"] = c.command;
  j["Project"] = project;
  j["Service"] = c.service;
  j["CreatedAt"] = c.created;
  j["RunningFor"] = humanDuration(now - c.created) + " ago";
  j["State"] = std::string(engine::containerStatusName(c.state));
  j["Status"] = c.status;
  j["Health"] = health(c.status);
  j["ExitCode"] = exitCodeOf(c);
  nlohmann::json publishers = nlohmann::json::array();
  for (const auto& p : c.ports) {
    publishers.push_back({{"URL", p.ip},
                          {"TargetPort", p.privatePort},
                          {"PublishedPort", p.publicPort},
                          {"Protocol", p.type}});
  }
  j["Publishers"] = publishers;
  j["Ports"] = portsText(c.ports);
  std::vector<std::string> labels;
  for (const auto& [k, v] : c.labels) labels.push_back(k + "=" + v);
  j["Labels"] = join(labels, ",");
  j["Networks"] = join(c.networks, ",");
  std::vector<std::string> mounts;
  int local = 0;
  for (const auto& m : c.mounts) {
    mounts.push_back(m.name.empty() ? m.source : m.name);
    if (m.type == "volume") ++local;
  }
  j["Mounts"] = join(mounts, ",");
  j["LocalVolumes"] = std::to_string(local);
  return j;
}

int runPs(const GlobalOptions& global, const PsFlags& f) {
  std::set<std::string> statuses(f.status.begin(), f.status.end());
  for (const std::string& filter : f.filter) {
    if (!startsWith(filter, "status=")) {
      std::cerr << "berth: --filter " << berth::quoted(filter) << ": only status=STATUS is supported\n";
      return 1;
    }
    statuses.insert(filter.substr(7));
  }
  for (const std::string& s : statuses) {
    static const std::set<std::string> known = {"paused", "restarting", "removing", "running",
                                                "dead",   "created",    "exited"};
    if (known.count(s) == 0) {
      std::cerr << "berth: invalid status " << berth::quoted(s)
                << " (paused, restarting, removing, running, dead, created, exited)\n";
      return 1;
    }
  }
  auto ctx = openProject(global, {.fileOptional = true});
  if (!ctx) return reportError(ctx.error());
  for (const std::string& s : f.selected) {
    if (ctx->hasFile && ctx->project.services.count(s) == 0) {
      return reportError(Error(ErrorCode::InvalidArgument, "no such service: " + s));
    }
  }
  plan::ObserveOptions o;
  o.networks = false;
  o.volumes = false;
  o.stoppedContainers = f.all || !statuses.empty();
  auto observed = plan::observe(*ctx->engine, ctx->project.name, o);
  if (!observed) return reportError(observed.error());

  std::vector<const plan::ObservedContainer*> list;
  for (const plan::ObservedContainer& c : observed->containers) {
    if (!f.selected.empty() && std::find(f.selected.begin(), f.selected.end(), c.service) == f.selected.end())
      continue;
    if (!statuses.empty() && statuses.count(std::string(engine::containerStatusName(c.state))) == 0) continue;
    list.push_back(&c);
  }
  std::sort(list.begin(), list.end(), [](const auto* a, const auto* b) { return a->name < b->name; });
  std::string out;
  if (f.quiet) {
    for (const auto* c : list) out += (f.noTrunc ? c->id : c->id.substr(0, 12)) + "\n";
  } else if (f.services) {
    std::set<std::string> seen;
    for (const auto* c : list) {
      if (seen.insert(c->service).second) out += c->service + "\n";
    }
  } else {
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    if (f.format == "json") {
      for (const auto* c : list) out += jsonOf(*c, ctx->project.name, now).dump() + "\n";
    } else {
      std::vector<std::vector<std::string>> rows = {
          {"NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"}};
      for (const auto* c : list) {
        std::string command = c->command;
        if (!f.noTrunc && command.size() > 20) command = command.substr(0, 19) + "…";
        rows.push_back({c->name, c->image, "\"" + command + "\"", c->service,
                        humanDuration(now - c->created) + " ago", c->status, portsText(c->ports)});
      }
      out = table(rows);
    }
  }
  std::cout << out;
  return 0;
}

}  // namespace

void registerPsCommand(CLI::App& app, CommandContext& context) {
  auto f = std::make_shared<PsFlags>();
  CLI::App* ps = app.add_subcommand("ps", "List containers");
  ps->add_flag("-a,--all", f->all,
               "Show all stopped containers (including those created by the run command)");
  ps->add_flag("-q,--quiet", f->quiet, "Only display IDs");
  ps->add_flag("--services", f->services, "Display services");
  ps->add_flag("--no-trunc", f->noTrunc, "Don't truncate output");
  ps->add_option("--format", f->format, "Format the output: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  ps->add_option("--status", f->status,
                 "Filter services by status: paused, restarting, removing, running, dead, created, exited")
      ->type_name("STATUS")
      ->allow_extra_args(false);
  ps->add_option("--filter", f->filter, "Filter services by a property (status=STATUS)")
      ->type_name("FILTER")
      ->allow_extra_args(false);
  ps->add_option("services", f->selected, "Services")->type_name("SERVICE");
  ps->callback([&context, f] { context.exitCode = runPs(context.global, *f); });
}

}  // namespace berth::cli
