// The controller's commands, with `docker stack` / `docker service` muscle memory:
//   berth stack deploy -c compose.yaml [-c override.yaml] NAME   build, send images, store, wait
//   berth stack ls | ps NAME | services NAME | rm NAME [--volumes] | rebalance NAME
//   berth service ls | ps SVC | inspect SVC | scale SVC=N... | logs SVC | update --force SVC | rollback SVC
//   berth image push IMAGE [--host H ...]
//   berth events --controller
// SVC is "STACK_SERVICE" as `service ls` names it, or just "SERVICE" when one stack has it.
// Every command talks to the selected controller (controller_client.h).
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "api/messages.h"
#include "base/strings.h"
#include "cli/commands.h"
#include "cli/controller_client.h"
#include "cli/format.h"
#include "cli/global_options.h"
#include "cli/project.h"
#include "cli/terminal.h"
#include "engine/engine.h"
#include "pki/certificate.h"
#include "plan/translate.h"
#include "spec/loader.h"
#include "spec/render.h"

namespace berth::cli {
namespace {

// berthd loads the stack from the canonical YAML alone, on another machine: x-berth-ssh key files
// the CLI read are sent as the keys they hold.
void inlineKeyFiles(spec::Project& project) {
  for (auto& [name, service] : project.services) {
    if (!service.ssh || service.ssh->keyFiles.empty()) continue;
    auto ext = service.extensions.find("x-berth-ssh");
    if (ext == service.extensions.end() || !ext->second.isMapping()) continue;
    std::vector<spec::Value> keys;
    for (const std::string& k : service.ssh->authorizedKeys) keys.push_back(spec::Value::string(k));
    ext->second.set("authorized_keys", spec::Value::sequence(std::move(keys)));
    service.ssh->keyFiles.clear();
  }
}

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int fail1(const Error& e) { return reportError(e); }

// ---- shared helpers

template <class T>
Result<T> getJson(ControllerClient& client, const std::string& target, const std::string& what) {
  BERTH_ASSIGN_OR_RETURN(std::string body, client.get(target, what));
  return api::fromJson<T>(body);
}

// "shop_web" or "web" → (stack, service).
Result<std::pair<std::string, std::string>> resolveService(ControllerClient& client, const std::string& name) {
  BERTH_ASSIGN_OR_RETURN(auto services, getJson<std::vector<api::ServiceView>>(client, "/v1/services", "list services"));
  std::vector<std::pair<std::string, std::string>> matches;
  for (const api::ServiceView& s : services) {
    if (s.fullName == name) return std::make_pair(s.stack, s.name);
  }
  for (const api::ServiceView& s : services) {
    if (s.name == name) matches.emplace_back(s.stack, s.name);
  }
  if (matches.size() == 1) return matches.front();
  if (matches.empty()) {
    std::vector<std::string> names;
    for (const api::ServiceView& s : services) names.push_back(s.fullName);
    std::string message = "no service " + berth::quoted(name);
    if (auto m = nearestMatch(name, names)) message += "; did you mean " + berth::quoted(*m) + "?";
    return fail(ErrorCode::NotFound, message);
  }
  std::vector<std::string> names;
  for (const auto& [stack, service] : matches) names.push_back(stack + "_" + service);
  return fail(ErrorCode::InvalidArgument,
              "service " + berth::quoted(name) + " is in several stacks: name one of " + join(names, ", "));
}

std::string servicePath(const std::string& stack, const std::string& service) {
  return "/v1/services/" + urlEncode(stack) + "/" + urlEncode(service);
}

std::int64_t secondsSince(const std::string& rfc3339) {
  auto t = pki::parseTime(rfc3339);
  if (!t) return 0;
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - *t).count();
}

std::string capitalized(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

// `docker service ps`: the live task of each slot, then its history indented with " \_ ".
std::string tasksTable(std::vector<api::TaskView> tasks, bool noTrunc) {
  std::sort(tasks.begin(), tasks.end(), [](const api::TaskView& a, const api::TaskView& b) {
    if (a.stack != b.stack) return a.stack < b.stack;
    if (a.service != b.service) return a.service < b.service;
    if (a.slot != b.slot) return a.slot < b.slot;
    const bool al = a.desired == "running";
    const bool bl = b.desired == "running";
    if (al != bl) return al;
    return a.createdAt > b.createdAt;
  });
  std::vector<std::vector<std::string>> rows{
      {"ID", "NAME", "IMAGE", "HOST", "DESIRED STATE", "CURRENT STATE", "ERROR"}};
  std::string lastSlot;
  for (const api::TaskView& t : tasks) {
    const std::string slot = t.stack + "/" + t.name;
    const std::string name = slot == lastSlot ? " \\_ " + t.name : t.name;
    lastSlot = slot;
    std::string error = t.error;
    if (!noTrunc && error.size() > 80) error = error.substr(0, 77) + "...";
    const std::string age = t.since.empty() ? "" : " " + humanDuration(secondsSince(t.since)) + " ago";
    rows.push_back({t.id, name, t.image, t.host.empty() ? "-" : t.host, capitalized(t.desired),
                    capitalized(t.state) + age, error});
  }
  return table(rows);
}

Status printTasks(const std::vector<api::TaskView>& tasks, const std::string& format, bool noTrunc) {
  if (format == "json") {
    for (const api::TaskView& t : tasks) std::cout << api::toJson(t) << "\n";
    return ok();
  }
  if (!format.empty() && format != "table") {
    return fail(ErrorCode::InvalidArgument, "--format " + berth::quoted(format) + ": expected table or json");
  }
  std::cout << tasksTable(tasks, noTrunc);
  return ok();
}

std::string servicesTable(const std::vector<api::ServiceView>& services) {
  std::vector<std::vector<std::string>> rows{{"NAME", "MODE", "REPLICAS", "IMAGE", "PORTS", "UPDATE"}};
  for (const api::ServiceView& s : services) {
    std::string update = s.updateState;
    if (!s.updateMessage.empty() && s.updateState != "completed") update += ": " + s.updateMessage;
    rows.push_back({s.fullName, s.mode, fmt::format("{}/{}", s.running, s.desired), s.image, join(s.ports, ", "),
                    update});
  }
  return table(rows);
}

// Waits until the services converge, printing each task's changes; fails (with the reasons) when
// a task cannot be placed, an update pauses or rolls back, or a task of this run fails.
struct WaitOptions {
  std::string stack{};
  std::set<std::string> services{};  // empty: every service of the stack
  std::chrono::seconds timeout{300};
  std::string since{};  // RFC 3339: tasks created since then belong to this run
  std::int64_t sinceMs = 0;  // the same in Unix milliseconds
  bool quiet = false;
  bool tty = false;  // redraw one line per task in place, instead of a line per change
};

// The progress of a wait on a terminal: one line per task of this run, redrawn in place.
class TaskBoard {
 public:
  void draw(const std::vector<std::string>& rows) {
    if (rows == last_) return;
    std::string out;
    if (!last_.empty()) out += fmt::format("\033[{}F", last_.size());  // back to the block's first line
    for (const std::string& row : rows) out += "\033[2K" + row + "\n";
    // Lines of a longer previous block are cleared.
    for (std::size_t i = rows.size(); i < last_.size(); ++i) out += "\033[2K\n";
    if (last_.size() > rows.size()) out += fmt::format("\033[{}F", last_.size() - rows.size());
    std::cerr << out << std::flush;
    last_ = rows;
  }

 private:
  std::vector<std::string> last_;
};

Status waitConverged(ControllerClient& client, const WaitOptions& o) {
  const auto deadline = Clock::now() + o.timeout;
  std::map<std::string, std::string> shown;  // task ID → last printed state
  std::map<std::string, int> pendingSeen;    // task ID → passes seen pending
  const auto startedAt = pki::parseTime(o.since);
  TaskBoard board;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(auto services, getJson<std::vector<api::ServiceView>>(
                                              client, "/v1/services?stack=" + urlEncode(o.stack), "list services"));
    BERTH_ASSIGN_OR_RETURN(auto tasks, getJson<std::vector<api::TaskView>>(
                                           client, "/v1/tasks?stack=" + urlEncode(o.stack), "list tasks"));
    const auto mine = [&](const std::string& service) { return o.services.empty() || o.services.count(service) != 0; };
    // A service being rolled out handles its tasks' failures itself (update_config.failure_action):
    // the deploy reports the outcome (paused, rolled back), not each failure on the way.
    std::set<std::string> rolling;
    for (const api::ServiceView& s : services) {
      if (s.updateState == "updating" || s.updateState == "rollback_started") rolling.insert(s.name);
    }
    std::vector<std::string> problems;
    std::vector<std::string> rows;
    for (const api::TaskView& t : tasks) {
      if (!mine(t.service)) continue;
      const bool thisRun = startedAt && !t.createdAt.empty() && pki::parseTime(t.createdAt) &&
                           *pki::parseTime(t.createdAt) + 1s >= *startedAt;
      if (!thisRun && t.desired != "running") continue;
      std::string line = t.state;
      if (!t.error.empty()) line += ": " + t.error;
      const std::string row = fmt::format("  {:<14} {:<10} {:<9} {}", t.name + " " + t.id.substr(0, 6),
                                          t.host.empty() ? "-" : t.host, t.state, t.error);
      if (t.desired == "running") rows.push_back(row);
      if (shown[t.id] != line) {
        shown[t.id] = line;
        if (!o.quiet && !o.tty) std::cerr << row << "\n";
      }
      if (t.desired == "running" && t.state == "pending") {
        if (++pendingSeen[t.id] >= 4) problems.push_back(t.name + " cannot be placed: " + t.error);
      }
      if (thisRun && t.state == "failed" && rolling.count(t.service) == 0) {
        problems.push_back(fmt::format("{} failed on {}: {}", t.name, t.host, t.error));
      }
    }
    if (o.tty && !o.quiet) {
      std::sort(rows.begin(), rows.end());
      board.draw(rows);
    }
    bool all = !services.empty();
    for (const api::ServiceView& s : services) {
      if (!mine(s.name)) continue;
      if (s.updateState == "paused" || s.updateState == "rollback_paused") {
        return fail(ErrorCode::Conflict, fmt::format("service {}: {}", s.fullName, s.updateMessage));
      }
      // An automatic rollback: wait until the previous definition runs again, then say why.
      if (s.updateState == "rollback_completed" && startsWith(s.updateMessage, "update rolled back") &&
          s.converged && s.updateStartedMs >= o.sinceMs) {
        return fail(ErrorCode::Conflict, fmt::format("service {}: {}", s.fullName, s.updateMessage));
      }
      if (!s.converged) all = false;
    }
    if (all) return ok();
    if (!problems.empty()) {
      std::sort(problems.begin(), problems.end());
      problems.erase(std::unique(problems.begin(), problems.end()), problems.end());
      return fail(ErrorCode::Unavailable, join(problems, "; "));
    }
    if (Clock::now() >= deadline) {
      std::vector<std::string> waiting;
      for (const api::ServiceView& s : services) {
        if (mine(s.name) && !s.converged) waiting.push_back(fmt::format("{} ({}/{})", s.fullName, s.running, s.desired));
      }
      return fail(ErrorCode::DeadlineExceeded,
                  fmt::format("not converged after {}s: {}", o.timeout.count(), join(waiting, ", ")));
    }
    std::this_thread::sleep_for(200ms);
  }
}

std::string nowRfc3339() { return pki::formatTime(std::chrono::system_clock::now()); }
std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- images: from the CLI's engine to the hosts that lack them, through the controller

Status sendImages(ControllerClient& client, engine::Engine& engine, const std::vector<std::string>& refs,
                  const std::vector<std::string>& hosts, bool quiet) {
  api::MissingImagesRequest want;
  want.hosts = hosts;
  std::map<std::string, std::string> ids;
  for (const std::string& ref : refs) {
    auto img = engine.inspectImage(ref);
    if (!img) continue;  // not here: the controller pulls it or copies it from a host that has it
    ids[ref] = img->id;
    want.images.push_back({ref, img->id});
  }
  if (want.images.empty()) return ok();
  BERTH_ASSIGN_OR_RETURN(std::string body,
                         client.call("POST", "/v1/images/missing", api::toJson(want), "check images"));
  BERTH_ASSIGN_OR_RETURN(api::MissingImagesReply missing, api::fromJson<api::MissingImagesReply>(body));
  for (const auto& entry : missing.missing) {
    // Named references rather than a structured binding: clang before 16 cannot capture those.
    const std::string& ref = entry.first;
    const auto& lacking = entry.second;
    if (lacking.empty()) continue;
    if (!quiet) std::cerr << fmt::format("Sending image {} to {}\n", ref, join(lacking, ", "));
    const std::string target = "/v1/images/load?hosts=" + urlEncode(join(lacking, ",")) +
                               "&expect=" + urlEncode(ref + "=" + ids[ref]);
    std::uint64_t bytes = 0;
    const auto started = Clock::now();
    BERTH_ASSIGN_OR_RETURN(
        std::string reply,
        client.uploadPushed(target, "send image " + ref, [&](const std::function<Status(std::string_view)>& write) {
          Status inner = ok();
          Status saved = engine.saveImagesTo(
              {ref},
              [&](std::string_view piece) {
                bytes += piece.size();
                inner = write(piece);
                return inner.has_value();
              },
              {});
          if (!inner) return inner;
          return saved;
        }));
    (void)reply;
    if (!quiet) {
      const double secs = std::chrono::duration<double>(Clock::now() - started).count();
      std::cerr << fmt::format("Sent image {} ({}) in {:.1f}s\n", ref, humanSize(static_cast<std::int64_t>(bytes)),
                               secs);
    }
  }
  return ok();
}

// ---- stack deploy

struct DeployFlags {
  std::vector<std::string> composeFiles{};
  std::string name{};
  bool detach = false;
  std::string buildOn{};
  double timeout = 300;
  bool quiet = false;
};

Status buildServices(const GlobalOptions& global, ProjectContext& ctx) {
  plan::Plan p;
  std::set<std::string> seen;
  for (const auto& [name, s] : ctx.project.services) {
    if (!s.build) continue;
    BERTH_ASSIGN_OR_RETURN(plan::ImageBuild b, plan::imageBuild(ctx.project, s));
    if (!seen.insert(b.image).second) continue;
    plan::Action a;
    a.kind = plan::ActionKind::BuildImage;
    a.target = b.image;
    a.service = name;
    a.build = std::move(b);
    p.add(std::move(a));
  }
  if (p.empty()) return ok();
  std::stop_source cancel;
  InterruptWatcher watcher([&](int) { cancel.request_stop(); });
  return runPlan(ctx, global, p, "Building", cancel.get_token());
}

int runDeploy(const GlobalOptions& global, const DeployFlags& f) {
  auto client = controllerClient(global);
  if (!client) return fail1(client.error());
  GlobalOptions g = global;
  if (!f.composeFiles.empty()) g.files.insert(g.files.end(), f.composeFiles.begin(), f.composeFiles.end());
  g.projectName = f.name;
  if (!f.buildOn.empty()) g.host = f.buildOn;
  auto options = projectOptions(g);
  if (!options) return fail1(options.error());
  options->load.discardEnvFiles = true;
  auto project = spec::loadProject(*options);
  if (!project) return fail1(project->name.empty() ? project.error() : project.error());
  for (const std::string& w : project->warnings) std::cerr << "berth: warning: " << w << "\n";

  // Images: built once (on the CLI's engine, or --build-on HOST), then sent to the hosts that lack
  // them; images the CLI's engine does not have are pulled or copied by the controller itself.
  bool builds = false;
  for (const auto& [name, s] : project->services) builds = builds || s.build.has_value();
  std::vector<std::string> refs = projectImages(*project);
  std::unique_ptr<engine::Engine> engine;
  if (builds || !refs.empty()) {
    auto e = selectedEngine(g);
    if (e) engine = std::move(*e);
    if (builds) {
      if (!engine) return fail1(e.error());
      ProjectContext ctx{*project, true, std::move(engine)};
      if (Status s = buildServices(g, ctx); !s) return fail1(s.error());
      engine = std::move(ctx.engine);
    }
  }
  if (engine) {
    if (Status s = sendImages(**client, *engine, refs, {}, f.quiet); !s) {
      // Without a reachable local engine nothing can be sent; the controller may still find them.
      if (builds) return fail1(s.error());
      std::cerr << "berth: warning: " << s.error().message() << "\n";
    }
  }

  api::DeployRequest req;
  req.name = f.name;
  inlineKeyFiles(*project);
  req.project = spec::renderYaml(*project);
  const std::string since = nowRfc3339();
  const std::int64_t sinceMs = nowMs();
  auto body = (*client)->call("POST", "/v1/stacks", api::toJson(req), "deploy stack " + f.name);
  if (!body) return fail1(body.error());
  auto reply = api::fromJson<api::DeployReply>(*body);
  if (!reply) return fail1(reply.error());
  if (!reply->changed) {
    std::cerr << fmt::format("Stack {} is unchanged (version {})\n", f.name, reply->generation);
  } else {
    std::cerr << fmt::format("Deploying stack {} (version {})", f.name, reply->generation);
    if (!reply->updated.empty()) std::cerr << "; updating " << join(reply->updated, ", ");
    if (!reply->removed.empty()) std::cerr << "; removing " << join(reply->removed, ", ");
    std::cerr << "\n";
  }
  if (f.detach) return 0;
  WaitOptions w;
  w.stack = f.name;
  w.timeout = std::chrono::seconds(static_cast<long long>(f.timeout));
  w.since = since;
  w.sinceMs = sinceMs;
  w.quiet = f.quiet;
  w.tty = (global.progress == "tty" || (global.progress == "auto" && isTerminal(2)));
  if (global.progress == "quiet") w.quiet = true;
  if (Status s = waitConverged(**client, w); !s) return fail1(std::move(s).error().withContext("stack " + f.name));
  std::cerr << fmt::format("Stack {} is running (version {})\n", f.name, reply->generation);
  return 0;
}

// ---- stack ls / ps / services / rm / rebalance

struct StackFlags {
  std::string name{};
  std::string format{};
  bool noTrunc = false;
  bool volumes = false;
  bool detach = false;
  double timeout = 120;
};

int runStackLs(const GlobalOptions& global, const StackFlags& f) {
  auto client = controllerClient(global);
  if (!client) return fail1(client.error());
  auto stacks = getJson<std::vector<api::StackView>>(**client, "/v1/stacks", "list stacks");
  if (!stacks) return fail1(stacks.error());
  if (f.format == "json") {
    for (const api::StackView& s : *stacks) std::cout << api::toJson(s) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"NAME", "SERVICES", "TASKS", "VERSION", "UPDATED"}};
  for (const api::StackView& s : *stacks) {
    rows.push_back({s.name + (s.removing ? " (removing)" : ""), std::to_string(s.services),
                    fmt::format("{}/{}", s.running, s.desired), std::to_string(s.generation),
                    humanDuration(secondsSince(s.updatedAt)) + " ago"});
  }
  std::cout << table(rows);
  return 0;
}

int runStackPs(const GlobalOptions& global, const StackFlags& f) {
  auto client = controllerClient(global);
  if (!client) return fail1(client.error());
  if (auto s = (*client)->get("/v1/stacks/" + urlEncode(f.name), "stack " + f.name); !s) return fail1(s.error());
  auto tasks = getJson<std::vector<api::TaskView>>(**client, "/v1/tasks?stack=" + urlEncode(f.name), "list tasks");
  if (!tasks) return fail1(tasks.error());
  Status s = printTasks(*tasks, f.format, f.noTrunc);
  return s ? 0 : fail1(s.error());
}

int runStackServices(const GlobalOptions& global, const StackFlags& f) {
  auto client = controllerClient(global);
  if (!client) return fail1(client.error());
  if (auto s = (*client)->get("/v1/stacks/" + urlEncode(f.name), "stack " + f.name); !s) return fail1(s.error());
  auto services =
      getJson<std::vector<api::ServiceView>>(**client, "/v1/services?stack=" + urlEncode(f.name), "list services");
  if (!services) return fail1(services.error());
  if (f.format == "json") {
    for (const api::ServiceView& s : *services) std::cout << api::toJson(s) << "\n";
    return 0;
  }
  std::cout << servicesTable(*services);
  return 0;
}

int runStackRm(const GlobalOptions& global, const StackFlags& f) {
  auto client = controllerClient(global);
  if (!client) return fail1(client.error());
  auto r = (*client)->call("DELETE", "/v1/stacks/" + urlEncode(f.name) + (f.volumes ? "?volumes=1" : ""), "",
                           "remove stack " + f.name);
  if (!r) return fail1(r.error());
  std::cerr << fmt::format("Removing stack {}{}\n", f.name, f.volumes ? " and its volumes" : "");
  if (f.detach) return 0;
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<long long>(f.timeout * 1000));
  while (true) {
    auto s = (*client)->get("/v1/stacks/" + urlEncode(f.name), "stack " + f.name);
    if (!s && s.error().code() == ErrorCode::NotFound) {
      std::cerr << fmt::format("Removed stack {}\n", f.name);
      return 0;
    }
    if (!s) return fail1(s.error());
    if (Clock::now() >= deadline) {
      auto hosts = getJson<std::vector<api::HostView>>(**client, "/v1/hosts", "list hosts");
      std::vector<std::string> down;
      if (hosts) {
        for (const api::HostView& h : *hosts) {
          if (h.state != "ready") down.push_back(h.name);
        }
      }
      std::cerr << fmt::format("berth: stack {} is still being removed{}; the controller finishes it in the "
                               "background\n",
                               f.name, down.empty() ? "" : " (" + join(down, ", ") + " not ready)");
      return 0;
    }
    std::this_thread::sleep_for(200ms);
  }
}

int runStackRebalance(const GlobalOptions& global, const StackFlags& f) {
  auto client = controllerClient(global);
  if (!client) return fail1(client.error());
  auto r = (*client)->call("POST", "/v1/stacks/" + urlEncode(f.name) + "/rebalance", "", "rebalance stack " + f.name);
  if (!r) return fail1(r.error());
  std::cerr << fmt::format("Rebalancing stack {}: one task at a time moves (started first where it goes)\n", f.name);
  if (f.detach) return 0;
  // Done when the controller reports the stack rebalanced.
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<long long>(f.timeout * 1000));
  std::uint64_t after = 0;
  while (Clock::now() < deadline) {
    auto events = (*client)->get(fmt::format("/v1/events?since={}", after), "events");
    if (!events) return fail1(events.error());
    for (const std::string& line : split(*events, '\n')) {
      auto e = api::fromJson<api::EventView>(line);
      if (!e) continue;
      after = e->seq;
      if (e->stack != f.name) continue;
      if (e->type == "task" && e->action == "rebalance") std::cerr << "  " << e->message << "\n";
      if (e->type == "stack" && e->action == "rebalanced") {
        std::cerr << fmt::format("Stack {} is balanced\n", f.name);
        return 0;
      }
    }
    std::this_thread::sleep_for(200ms);
  }
  return fail1(Error(ErrorCode::DeadlineExceeded, "stack " + f.name + " is still being rebalanced"));
}

// ---- service commands

struct ServiceFlags {
  std::vector<std::string> args{};
  std::string format{};
  bool noTrunc = false;
  bool detach = false;
  bool force = false;
  std::string host{};
  bool follow = false;
  std::string tail = "all";
  bool timestamps = false;
  double timeout = 300;
};

int runServiceLs(const GlobalOptions& global, const ServiceFlags& f) {
  auto client = controllerClient(global);
  if (!client) return fail1(client.error());
  auto services = getJson<std::vector<api::ServiceView>>(**client, "/v1/services", "list services");
  if (!services) return fail1(services.error());
  if (f.format == "json") {
    for (const api::ServiceView& s : *services) std::cout << api::toJson(s) << "\n";
    return 0;
  }
  std::cout << servicesTable(*services);
  return 0;
}

int runServicePs(const GlobalOptions& global, const ServiceFlags& f) {
  auto client = controllerClient(global);
  if (!client) return fail1(client.error());
  std::vector<api::TaskView> all;
  for (const std::string& name : f.args) {
    auto svc = resolveService(**client, name);
    if (!svc) return fail1(svc.error());
    auto tasks = getJson<std::vector<api::TaskView>>(
        **client, "/v1/tasks?stack=" + urlEncode(svc->first) + "&service=" + urlEncode(svc->second), "list tasks");
    if (!tasks) return fail1(tasks.error());
    all.insert(all.end(), tasks->begin(), tasks->end());
  }
  Status s = printTasks(all, f.format, f.noTrunc);
  return s ? 0 : fail1(s.error());
}

int runServiceInspect(const GlobalOptions& global, const ServiceFlags& f) {
  auto client = controllerClient(global);
  if (!client) return fail1(client.error());
  std::vector<std::string> out;
  for (const std::string& name : f.args) {
    auto svc = resolveService(**client, name);
    if (!svc) return fail1(svc.error());
    auto body = (*client)->get(servicePath(svc->first, svc->second), "inspect service " + name);
    if (!body) return fail1(body.error());
    out.push_back(*body);
  }
  std::cout << prettyJson("[" + join(out, ",") + "]") << "\n";
  return 0;
}

Status waitService(ControllerClient& client, const std::string& stack, const std::string& service,
                   const ServiceFlags& f, const std::string& since) {
  if (f.detach) return ok();
  WaitOptions w;
  w.stack = stack;
  w.services = {service};
  w.timeout = std::chrono::seconds(static_cast<long long>(f.timeout));
  w.since = since;
  w.sinceMs = nowMs() - 2000;
  return waitConverged(client, w);
}

int runServiceScale(const GlobalOptions& global, const ServiceFlags& f) {
  auto client = controllerClient(global);
  if (!client) return fail1(client.error());
  std::vector<std::tuple<std::string, std::string, int>> todo;
  for (const std::string& arg : f.args) {
    const auto eq = arg.find('=');
    char* end = nullptr;
    const long n = eq == std::string::npos ? -1 : std::strtol(arg.c_str() + eq + 1, &end, 10);
    if (eq == std::string::npos || eq == 0 || end == nullptr || *end != '\0' || n < 0) {
      return fail1(Error(ErrorCode::InvalidArgument, "scale " + berth::quoted(arg) + ": expected SERVICE=REPLICAS"));
    }
    auto svc = resolveService(**client, arg.substr(0, eq));
    if (!svc) return fail1(svc.error());
    todo.emplace_back(svc->first, svc->second, static_cast<int>(n));
  }
  const std::string since = nowRfc3339();
  for (const auto& [stack, service, n] : todo) {
    auto r = (*client)->call("POST", servicePath(stack, service) + "/scale", api::toJson(api::ScaleRequest{n}),
                             "scale service " + stack + "_" + service);
    if (!r) return fail1(r.error());
    std::cerr << fmt::format("{}_{} scaled to {}\n", stack, service, n);
  }
  for (const auto& [stack, service, n] : todo) {
    (void)n;
    if (Status s = waitService(**client, stack, service, f, since); !s) return fail1(s.error());
  }
  return 0;
}

int runServiceUpdate(const GlobalOptions& global, const ServiceFlags& f) {
  auto client = controllerClient(global);
  if (!client) return fail1(client.error());
  if (f.args.size() != 1) return fail1(Error(ErrorCode::InvalidArgument, "service update takes one SERVICE"));
  auto svc = resolveService(**client, f.args.front());
  if (!svc) return fail1(svc.error());
  const std::string since = nowRfc3339();
  auto r = (*client)->call("POST", servicePath(svc->first, svc->second) + "/update",
                           api::toJson(api::UpdateRequest{f.force, f.host}), "update service " + f.args.front());
  if (!r) return fail1(r.error());
  std::cerr << fmt::format("Updating {}_{}{}\n", svc->first, svc->second, f.host.empty() ? "" : " onto host " + f.host);
  if (Status s = waitService(**client, svc->first, svc->second, f, since); !s) return fail1(s.error());
  std::cerr << fmt::format("{}_{} is updated\n", svc->first, svc->second);
  return 0;
}

int runServiceRollback(const GlobalOptions& global, const ServiceFlags& f) {
  auto client = controllerClient(global);
  if (!client) return fail1(client.error());
  if (f.args.size() != 1) return fail1(Error(ErrorCode::InvalidArgument, "service rollback takes one SERVICE"));
  auto svc = resolveService(**client, f.args.front());
  if (!svc) return fail1(svc.error());
  const std::string since = nowRfc3339();
  auto r = (*client)->call("POST", servicePath(svc->first, svc->second) + "/rollback", "",
                           "roll back service " + f.args.front());
  if (!r) return fail1(r.error());
  std::cerr << fmt::format("Rolling back {}_{}\n", svc->first, svc->second);
  if (f.detach) return 0;
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<long long>(f.timeout * 1000));
  while (true) {
    auto view = getJson<api::ServiceView>(**client, servicePath(svc->first, svc->second), "service");
    if (!view) return fail1(view.error());
    if (view->updateState == "rollback_paused") {
      return fail1(Error(ErrorCode::Conflict, view->fullName + ": " + view->updateMessage));
    }
    if (view->updateState == "rollback_completed" && view->converged) {
      std::cerr << fmt::format("{} is rolled back\n", view->fullName);
      return 0;
    }
    if (Clock::now() >= deadline) {
      return fail1(Error(ErrorCode::DeadlineExceeded, view->fullName + " is still rolling back"));
    }
    std::this_thread::sleep_for(200ms);
  }
}

int runServiceLogs(const GlobalOptions& global, const ServiceFlags& f) {
  auto client = controllerClient(global);
  if (!client) return fail1(client.error());
  if (f.args.size() != 1) return fail1(Error(ErrorCode::InvalidArgument, "service logs takes one SERVICE"));
  auto svc = resolveService(**client, f.args.front());
  if (!svc) return fail1(svc.error());
  std::string target = servicePath(svc->first, svc->second) + "/logs?tail=" + urlEncode(f.tail);
  if (f.follow) target += "&follow=1";
  if (f.timestamps) target += "&timestamps=1";
  std::stop_source stop;
  InterruptWatcher watcher([&](int) { stop.request_stop(); });
  Status s = (*client)->streamLines(
      target, "logs of " + f.args.front(),
      [](std::string_view line) {
        std::cout << line << "\n" << std::flush;
        return true;
      },
      stop.get_token());
  return s ? 0 : fail1(s.error());
}

// ---- image push

struct PushFlags {
  std::vector<std::string> images{};
  std::vector<std::string> hosts{};
};

int runImagePush(const GlobalOptions& global, const PushFlags& f) {
  auto client = controllerClient(global);
  if (!client) return fail1(client.error());
  auto engine = selectedEngine(global);
  if (!engine) return fail1(engine.error());
  for (const std::string& ref : f.images) {
    if (auto img = (*engine)->inspectImage(ref); !img) return fail1(img.error());
  }
  Status s = sendImages(**client, **engine, f.images, f.hosts, false);
  if (!s) return fail1(s.error());
  std::cerr << "Every chosen host has " << join(f.images, ", ") << "\n";
  return 0;
}

}  // namespace

int runControllerEvents(const GlobalOptions& global, const std::string& controller, bool json) {
  (void)global;
  auto client = ControllerClient::connect(controller);
  if (!client) return fail1(client.error());
  std::stop_source stop;
  InterruptWatcher watcher([&](int) { stop.request_stop(); });
  // From now on (the ring's past is `stack ps`'s business): the newest sequence number first.
  std::uint64_t after = 0;
  if (auto past = (*client)->get("/v1/events", "events")) {
    for (const std::string& line : split(*past, '\n')) {
      if (auto e = api::fromJson<api::EventView>(line)) after = e->seq;
    }
  }
  Status s = (*client)->streamLines(
      fmt::format("/v1/events?follow=1&since={}", after), "events",
      [&](std::string_view line) {
        if (line.empty()) return true;
        if (json) {
          std::cout << line << "\n" << std::flush;
          return true;
        }
        auto e = api::fromJson<api::EventView>(line);
        if (!e) return true;
        std::string text = e->time + " " + e->type + " " + e->action;
        if (!e->name.empty()) text += " " + e->name;
        if (!e->task.empty()) text += " (" + e->task + ")";
        if (!e->host.empty() && e->type != "host") text += " on " + e->host;
        if (!e->stack.empty() && e->type != "stack") text += " [stack " + e->stack + "]";
        if (!e->message.empty()) text += ": " + e->message;
        std::cout << text << "\n" << std::flush;
        return true;
      },
      stop.get_token());
  return s ? 0 : fail1(s.error());
}

void registerStackCommands(CLI::App& app, CommandContext& context) {
  CLI::App* stack = app.add_subcommand("stack", "Deploy and manage stacks on the controller's fleet");
  stack->require_subcommand(1);

  auto d = std::make_shared<DeployFlags>();
  CLI::App* deploy = stack->add_subcommand("deploy", "Deploy a compose file as a stack (or update it)");
  deploy->alias("up");
  deploy->add_option("-c,--compose-file", d->composeFiles, "Compose files (repeatable; also -f before 'stack')")
      ->type_name("FILE");
  deploy->add_option("name", d->name, "The stack's name")->required()->type_name("STACK");
  deploy->add_flag("-d,--detach", d->detach, "Return once the stack is stored, without waiting for it to converge");
  deploy->add_option("--build-on", d->buildOn, "Build `build:` services on this host (default: the local engine)")
      ->type_name("HOST");
  deploy->add_option("--timeout", d->timeout, "Seconds to wait for the stack to converge")->capture_default_str();
  deploy->add_flag("-q,--quiet", d->quiet, "Print only errors and the result");
  deploy->callback([&context, d] { context.exitCode = runDeploy(context.global, *d); });

  auto ls = std::make_shared<StackFlags>();
  CLI::App* lsCmd = stack->add_subcommand("ls", "List the stacks");
  lsCmd->alias("list");
  lsCmd->add_option("--format", ls->format, "table or json")->type_name("FORMAT");
  lsCmd->callback([&context, ls] { context.exitCode = runStackLs(context.global, *ls); });

  auto ps = std::make_shared<StackFlags>();
  CLI::App* psCmd = stack->add_subcommand("ps", "List a stack's tasks (with their history)");
  psCmd->add_option("name", ps->name, "The stack")->required()->type_name("STACK");
  psCmd->add_option("--format", ps->format, "table or json")->type_name("FORMAT");
  psCmd->add_flag("--no-trunc", ps->noTrunc, "Do not truncate errors");
  psCmd->callback([&context, ps] { context.exitCode = runStackPs(context.global, *ps); });

  auto services = std::make_shared<StackFlags>();
  CLI::App* servicesCmd = stack->add_subcommand("services", "List a stack's services");
  servicesCmd->add_option("name", services->name, "The stack")->required()->type_name("STACK");
  servicesCmd->add_option("--format", services->format, "table or json")->type_name("FORMAT");
  servicesCmd->callback([&context, services] { context.exitCode = runStackServices(context.global, *services); });

  auto rm = std::make_shared<StackFlags>();
  CLI::App* rmCmd = stack->add_subcommand("rm", "Remove a stack: its containers and networks on every host");
  rmCmd->alias("down");
  rmCmd->add_option("name", rm->name, "The stack")->required()->type_name("STACK");
  rmCmd->add_flag("-v,--volumes", rm->volumes, "Remove its named volumes too (their data is lost)");
  rmCmd->add_flag("-d,--detach", rm->detach, "Return at once");
  rmCmd->add_option("--timeout", rm->timeout, "Seconds to wait")->capture_default_str();
  rmCmd->callback([&context, rm] { context.exitCode = runStackRm(context.global, *rm); });

  auto rebalance = std::make_shared<StackFlags>();
  CLI::App* rebalanceCmd =
      stack->add_subcommand("rebalance", "Re-spread a stack's replicas over the hosts, one task at a time");
  rebalanceCmd->add_option("name", rebalance->name, "The stack")->required()->type_name("STACK");
  rebalanceCmd->add_flag("-d,--detach", rebalance->detach, "Return at once");
  rebalanceCmd->add_option("--timeout", rebalance->timeout, "Seconds to wait")->capture_default_str();
  rebalanceCmd->callback([&context, rebalance] { context.exitCode = runStackRebalance(context.global, *rebalance); });
}

void registerServiceCommands(CLI::App& app, CommandContext& context) {
  CLI::App* service = app.add_subcommand("service", "Manage the controller's services");
  service->require_subcommand(1);
  const auto waitFlags = [](CLI::App* cmd, std::shared_ptr<ServiceFlags> f) {
    cmd->add_flag("-d,--detach", f->detach, "Return at once instead of waiting for the service to converge");
    cmd->add_option("--timeout", f->timeout, "Seconds to wait")->capture_default_str();
  };

  auto ls = std::make_shared<ServiceFlags>();
  CLI::App* lsCmd = service->add_subcommand("ls", "List services (REPLICAS running/desired)");
  lsCmd->alias("list");
  lsCmd->add_option("--format", ls->format, "table or json")->type_name("FORMAT");
  lsCmd->callback([&context, ls] { context.exitCode = runServiceLs(context.global, *ls); });

  auto ps = std::make_shared<ServiceFlags>();
  CLI::App* psCmd = service->add_subcommand("ps", "List a service's tasks (with their history)");
  psCmd->add_option("services", ps->args, "STACK_SERVICE or SERVICE")->required()->type_name("SERVICE");
  psCmd->add_option("--format", ps->format, "table or json")->type_name("FORMAT");
  psCmd->add_flag("--no-trunc", ps->noTrunc, "Do not truncate errors");
  psCmd->callback([&context, ps] { context.exitCode = runServicePs(context.global, *ps); });

  auto inspect = std::make_shared<ServiceFlags>();
  CLI::App* inspectCmd = service->add_subcommand("inspect", "Show services as JSON");
  inspectCmd->add_option("services", inspect->args, "STACK_SERVICE or SERVICE")->required()->type_name("SERVICE");
  inspectCmd->callback([&context, inspect] { context.exitCode = runServiceInspect(context.global, *inspect); });

  auto scale = std::make_shared<ServiceFlags>();
  CLI::App* scaleCmd = service->add_subcommand("scale", "Set services' replicas: SERVICE=N ...");
  scaleCmd->add_option("scales", scale->args, "SERVICE=REPLICAS")->required()->type_name("SERVICE=N");
  waitFlags(scaleCmd, scale);
  scaleCmd->callback([&context, scale] { context.exitCode = runServiceScale(context.global, *scale); });

  auto logs = std::make_shared<ServiceFlags>();
  CLI::App* logsCmd = service->add_subcommand("logs", "A service's logs, merged from every host");
  logsCmd->add_option("service", logs->args, "STACK_SERVICE or SERVICE")->required()->type_name("SERVICE");
  logsCmd->add_flag("-f,--follow", logs->follow, "Follow the output");
  logsCmd->add_option("-n,--tail", logs->tail, "Lines from the end of each task's log")->capture_default_str();
  logsCmd->add_flag("-t,--timestamps", logs->timestamps, "Show timestamps");
  logsCmd->callback([&context, logs] { context.exitCode = runServiceLogs(context.global, *logs); });

  auto update = std::make_shared<ServiceFlags>();
  CLI::App* updateCmd = service->add_subcommand(
      "update", "Roll a service's tasks over again (--force), or move it to a host (--host, with --force)");
  updateCmd->add_option("service", update->args, "STACK_SERVICE or SERVICE")->required()->type_name("SERVICE");
  updateCmd->add_flag("--force", update->force, "Replace every task, as update_config says (a rolling restart)");
  updateCmd->add_option("--host", update->host,
                        "Pin the service to this host (e.g. to move a volume-bound service off a lost host)")
      ->type_name("HOST");
  waitFlags(updateCmd, update);
  updateCmd->callback([&context, update] { context.exitCode = runServiceUpdate(context.global, *update); });

  auto rollback = std::make_shared<ServiceFlags>();
  CLI::App* rollbackCmd =
      service->add_subcommand("rollback", "Roll a service back to its previous definition (rollback_config)");
  rollbackCmd->add_option("service", rollback->args, "STACK_SERVICE or SERVICE")->required()->type_name("SERVICE");
  waitFlags(rollbackCmd, rollback);
  rollbackCmd->callback([&context, rollback] { context.exitCode = runServiceRollback(context.global, *rollback); });
}

void registerImagePushCommand(CLI::App& app, CommandContext& context) {
  CLI::App* image = app.add_subcommand("image", "Carry images to the controller's hosts (no registry needed)");
  image->require_subcommand(1);
  auto push = std::make_shared<PushFlags>();
  CLI::App* pushCmd = image->add_subcommand(
      "push", "Send images from the local engine (or -H) to the hosts that lack them, through the controller");
  pushCmd->add_option("images", push->images, "IMAGE[:TAG]")->required()->type_name("IMAGE");
  pushCmd->add_option("--host", push->hosts, "Only these hosts (repeatable; default: every ready host)")
      ->type_name("HOST");
  pushCmd->callback([&context, push] { context.exitCode = runImagePush(context.global, *push); });
}

}  // namespace berth::cli
