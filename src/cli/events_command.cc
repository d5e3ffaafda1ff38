// `berth events`: the engine's events for the project's containers, as they happen, one line each
// (or one JSON object with --json), until Ctrl-C. Format as `docker compose events`.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "cli/commands.h"
#include "cli/controller_client.h"
#include "cli/global_options.h"
#include "cli/project.h"
#include "cli/terminal.h"
#include "plan/labels.h"

namespace berth::cli {
namespace {

struct EventsFlags {
  bool json = false;
  std::vector<std::string> services;
  // --controller[=URL]: the controller's events instead of the engine's (URL, else the global
  // --controller, else BERTH_CONTROLLER).
  std::optional<std::string> controller;
  std::string format;
};

std::string timeText(std::int64_t nanos) {
  const std::time_t secs = static_cast<std::time_t>(nanos / 1000000000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return fmt::format("{}.{:06d}", buf, (nanos % 1000000000) / 1000);
}

CLI::App* events_ = nullptr;  // the subcommand, to ask whether --controller was given without a URL

int runEvents(const GlobalOptions& global, const EventsFlags& f) {
  auto ctx = openProject(global, {.fileOptional = true});
  if (!ctx) return reportError(ctx.error());
  engine::EventsOptions o;
  o.filters["type"] = {"container"};
  o.filters["label"] = {std::string(plan::labels::kProject) + "=" + ctx->project.name};
  std::stop_source stop;
  InterruptWatcher watcher([&](int) { stop.request_stop(); });
  Status s = ctx->engine->events(
      o,
      [&](const engine::Event& e) {
        const auto service = e.attributes.count(std::string(plan::labels::kService)) != 0
                                 ? e.attributes.at(std::string(plan::labels::kService))
                                 : std::string();
        if (!f.services.empty() &&
            std::find(f.services.begin(), f.services.end(), service) == f.services.end()) {
          return true;
        }
        const std::int64_t nanos = e.timeNano != 0 ? e.timeNano : e.time * 1000000000;
        if (f.json) {
          nlohmann::json j;
          j["time"] = timeText(nanos);
          j["type"] = e.type;
          j["action"] = e.action;
          j["id"] = e.actorId;
          j["service"] = service;
          j["attributes"] = e.attributes;
          std::cout << j.dump() << std::endl;
        } else {
          std::vector<std::string> attrs;
          for (const auto& [k, v] : e.attributes) {
            if (startsWith(k, "com.docker.compose.")) continue;
            attrs.push_back(k + "=" + v);
          }
          std::cout << timeText(nanos) << " " << e.type << " " << e.action << " " << e.actorId << " ("
                    << join(attrs, ", ") << ")" << std::endl;
        }
        return true;
      },
      stop.get_token());
  if (!s) return reportError(s.error());
  return 0;
}

}  // namespace

void registerEventsCommand(CLI::App& app, CommandContext& context) {
  auto f = std::make_shared<EventsFlags>();
  CLI::App* events = app.add_subcommand("events", "Receive real time events from containers");
  events_ = events;
  events->add_flag("--json", f->json, "Output events as a stream of json objects");
  events->add_option("--controller", f->controller,
                     "The controller's events (task placed, started, died, replaced; host down/up; update "
                     "progress) instead of the engine's; optionally its URL")
      ->expected(0, 1)
      ->type_name("[URL]");
  events->add_option("--format", f->format, "json: one JSON object per line (as --json)")->type_name("FORMAT");
  events->add_option("services", f->services, "Services")->type_name("SERVICE");
  events->callback([&context, f] {
    if (events_ != nullptr && events_->count("--controller") > 0) {
      std::string url = f->controller.value_or("");
      if (url.empty()) url = selectedController(context.global).value_or("");
      if (url.empty()) {
        std::cerr << "berth: events --controller: no controller selected (give --controller URL or set "
                     "BERTH_CONTROLLER)\n";
        context.exitCode = 2;
        return;
      }
      context.exitCode = runControllerEvents(context.global, url, f->json || f->format == "json");
      return;
    }
    context.exitCode = runEvents(context.global, *f);
  });
}

}  // namespace berth::cli
