#include "daemon/api.h"

#include <fmt/core.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include "api/messages.h"
#include "base/log.h"
#include "base/strings.h"
#include "cluster/reconcile.h"
#include "cluster/scheduler.h"
#include "engine/image_copy.h"
#include "pki/certificate.h"

namespace berth::daemon {
namespace {

using namespace std::chrono_literals;
using cluster::Snapshot;

int httpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument:
      return 400;
    case ErrorCode::NotFound:
      return 404;
    case ErrorCode::AlreadyExists:
    case ErrorCode::Conflict:
      return 409;
    case ErrorCode::Unavailable:
      return 503;
    case ErrorCode::DeadlineExceeded:
      return 504;
    case ErrorCode::PermissionDenied:
      return 403;
    case ErrorCode::Internal:
      return 500;
    case ErrorCode::Cancelled:
      return 499;
  }
  return 500;
}

std::string timeText(cluster::WallTime t) {
  if (t == cluster::WallTime{}) return "";
  return pki::formatTime(std::chrono::time_point_cast<std::chrono::system_clock::duration>(t));
}

void reply(Responder& r, int status, const std::string& json) {
  (void)r.send(status, "application/json", json);
}

void replyError(Responder& r, const Error& e) {
  reply(r, httpStatus(e.code()), api::toJson(api::ErrorReply{std::string(errorCodeName(e.code())), e.message()}));
}

void replyOk(Responder& r) { reply(r, 200, "{}"); }

template <class T>
Result<T> parseBody(RequestBody& body) {
  BERTH_ASSIGN_OR_RETURN(std::string text, body.readAll(16 * 1024 * 1024));
  return api::fromJson<T>(text);
}

std::vector<std::string> pathParts(const std::string& path) {
  std::vector<std::string> parts;
  for (const std::string& p : split(path, '/')) {
    if (!p.empty()) parts.push_back(p);
  }
  return parts;
}

bool flag(const Request& req, const std::string& name) {
  auto it = req.query.find(name);
  return it != req.query.end() && (it->second == "1" || it->second == "true" || it->second.empty());
}

// ---- views

const cluster::ServiceDef* defOf(const Snapshot& s, const std::string& stack, const std::string& service,
                                 std::int64_t generation) {
  auto it = s.defs.find(cluster::DefKey{stack, service, generation});
  return it == s.defs.end() ? nullptr : &it->second;
}

api::HostView hostView(const Snapshot& s, const cluster::Host& h) {
  api::HostView v;
  v.name = h.name;
  v.id = h.id;
  v.url = h.url;
  v.labels = h.labels;
  v.availability = std::string(cluster::availabilityName(h.availability));
  v.state = "unknown";
  if (auto o = s.observations.find(h.name); o != s.observations.end()) {
    v.state = std::string(cluster::hostHealthName(o->second.health));
    if (o->second.health != cluster::HostHealth::Ready) v.error = o->second.error;
    v.lastSeen = timeText(o->second.lastSeen);
    for (const cluster::ObservedTaskContainer& c : o->second.containers) {
      if (c.phase == cluster::ContainerPhase::Running) ++v.containers;
    }
  }
  v.hostname = h.facts.hostname;
  v.engineVersion = h.facts.engineVersion;
  v.ncpu = h.facts.ncpu;
  v.memory = h.facts.memoryBytes;
  v.engineLabels = h.facts.engineLabels;
  for (const auto& [id, t] : s.state.tasks) {
    (void)id;
    if (t.live() && t.host == h.name) ++v.tasks;
  }
  v.addedAt = timeText(h.addedAt);
  return v;
}

api::TaskView taskView(const Snapshot& s, const cluster::Task& t) {
  api::TaskView v;
  v.id = t.id;
  v.name = cluster::taskName(t);
  v.stack = t.stack;
  v.service = t.service;
  v.slot = t.slot;
  v.host = t.host;
  v.desired = std::string(cluster::desiredStateName(t.desired));
  v.state = std::string(cluster::taskStateName(t.state));
  v.since = timeText(t.stateSince);
  v.error = t.error;
  v.exitCode = t.exitCode;
  if (const auto* d = defOf(s, t.stack, t.service, t.specGeneration)) v.image = d->image;
  v.containerId = t.containerId;
  v.generation = t.specGeneration;
  v.createdAt = timeText(t.createdAt);
  return v;
}

api::ServiceView serviceView(const Snapshot& s, const cluster::ServiceRecord& r) {
  api::ServiceView v;
  v.stack = r.stack;
  v.name = r.name;
  v.fullName = r.stack + "_" + r.name;
  v.generation = r.specGeneration;
  v.previousGeneration = r.previousGeneration;
  v.updateState = std::string(cluster::updateStateName(r.updateState));
  v.updateMessage = r.updateMessage;
  if (r.updateStartedAt != cluster::WallTime{}) {
    v.updateStartedMs =
        std::chrono::duration_cast<std::chrono::milliseconds>(r.updateStartedAt.time_since_epoch()).count();
  }
  const cluster::ServiceDef* d = defOf(s, r.stack, r.name, r.specGeneration);
  if (d != nullptr) {
    v.mode = d->global ? "global" : "replicated";
    v.image = d->image;
    v.ports = d->ports;
    v.definition = d->definition;
    v.desired = r.replicas.value_or(d->replicas);
  }
  int globalSlots = 0;
  std::set<int> running;
  for (const auto& [id, t] : s.state.tasks) {
    (void)id;
    if (t.stack != r.stack || t.service != r.name || !t.live()) continue;
    ++globalSlots;
    if (t.state == cluster::TaskState::Running) running.insert(t.slot);
  }
  if (d != nullptr && d->global) {
    // One per host that may run it (constraints, not draining), whether or not it answers now.
    v.desired = 0;
    for (cluster::HostCandidate c : cluster::candidates(s.state, s.observations, {})) {
      c.health = cluster::HostHealth::Ready;
      if (cluster::eligible(d->placement, c)) ++v.desired;
    }
  }
  (void)globalSlots;
  v.running = static_cast<int>(running.size());
  // Converged: one live task per slot, all running the current definition, nothing in flight.
  bool converged = d != nullptr && v.running == v.desired && r.updateState != cluster::UpdateState::Updating &&
                   r.updateState != cluster::UpdateState::RollingBack;
  std::map<int, int> perSlot;
  for (const auto& [id, t] : s.state.tasks) {
    (void)id;
    if (!converged) break;
    if (t.stack != r.stack || t.service != r.name || !t.live()) continue;
    if (++perSlot[t.slot] > 1 || t.state != cluster::TaskState::Running || t.forceCounter != r.forceCounter) {
      converged = false;
      break;
    }
    const cluster::ServiceDef* mine = defOf(s, t.stack, t.service, t.specGeneration);
    if (mine == nullptr || mine->configHash != d->configHash) converged = false;
  }
  v.converged = converged;
  return v;
}

api::StackView stackView(const Snapshot& s, const cluster::Stack& st) {
  api::StackView v;
  v.name = st.name;
  v.generation = st.generation;
  v.removing = st.removing;
  v.createdAt = timeText(st.createdAt);
  v.updatedAt = timeText(st.updatedAt);
  for (const auto& [key, r] : s.state.services) {
    if (key.first != st.name) continue;
    ++v.services;
    const api::ServiceView sv = serviceView(s, r);
    v.desired += sv.desired;
    v.running += sv.running;
  }
  return v;
}

api::EventView eventView(const cluster::ControllerEvent& e) {
  api::EventView v;
  v.seq = e.seq;
  v.time = timeText(e.time);
  v.type = e.type;
  v.action = e.action;
  v.stack = e.stack;
  v.service = e.service;
  v.task = e.task;
  v.name = e.name;
  v.host = e.host;
  v.message = e.message;
  return v;
}

// ---- service logs, merged from every host

void streamLogs(cluster::Controller& controller, const Request& req, Responder& r, const std::string& stack,
                const std::string& service) {
  auto snap = controller.snapshot();
  if (snap->state.services.count({stack, service}) == 0) {
    replyError(r, Error(ErrorCode::NotFound, fmt::format("no service {} in stack {}", service, stack)));
    return;
  }
  struct Source {
    std::string prefix;
    std::string host;
    std::string container;
  };
  std::vector<Source> sources;
  std::vector<std::string> hosts;
  for (const auto& [hostName, o] : snap->observations) {
    for (const cluster::ObservedTaskContainer& c : o.containers) {
      if (c.stack != stack || c.service != service) continue;
      auto t = snap->state.tasks.find(c.task);
      const std::string name = t != snap->state.tasks.end() ? cluster::taskName(t->second)
                                                            : fmt::format("{}.{}", service, c.slot);
      sources.push_back(Source{fmt::format("{}.{}@{}", name, c.task, hostName), hostName, c.id});
      hosts.push_back(hostName);
    }
  }
  std::sort(sources.begin(), sources.end(), [](const Source& a, const Source& b) { return a.prefix < b.prefix; });
  auto engines = controller.engines(hosts);
  engine::LogsOptions options;
  options.follow = flag(req, "follow");
  options.timestamps = flag(req, "timestamps");
  if (auto it = req.query.find("tail"); it != req.query.end() && !it->second.empty()) options.tail = it->second;
  if (!r.beginStream(200, "text/plain; charset=utf-8")) return;
  std::size_t width = 0;
  for (const Source& s : sources) width = std::max(width, s.prefix.size());
  std::mutex writeMu;
  std::stop_source stop;
  std::stop_callback gone(r.clientGone(), [&] { stop.request_stop(); });
  std::vector<std::jthread> readers;
  for (const Source& src : sources) {
    auto e = engines.find(src.host);
    if (e == engines.end()) {
      std::lock_guard lock(writeMu);
      (void)r.write(fmt::format("{:<{}} | (host {} is not ready: its logs cannot be read now)\n", src.prefix,
                                width, src.host));
      continue;
    }
    readers.emplace_back([&, src, eng = e->second] {
      std::string partial;
      const auto emit = [&](std::string_view data) {
        partial += data;
        std::size_t nl;
        while ((nl = partial.find('\n')) != std::string::npos) {
          std::lock_guard lock(writeMu);
          if (!r.write(fmt::format("{:<{}} | {}\n", src.prefix, width, partial.substr(0, nl)))) stop.request_stop();
          partial.erase(0, nl + 1);
        }
      };
      auto s = eng->containerLogs(
          src.container, options, [&](engine::OutputStream, std::string_view data) { emit(data); },
          stop.get_token());
      if (!partial.empty()) emit("\n");
      if (!s && !stop.stop_requested()) {
        std::lock_guard lock(writeMu);
        (void)r.write(fmt::format("{:<{}} | (logs ended: {})\n", src.prefix, width, s.error().message()));
      }
    });
  }
  readers.clear();  // joins
  (void)r.endStream();
}

// ---- image upload: the request body (a `docker save` tar) goes to every chosen host at once

void loadImages(cluster::Controller& controller, const Request& req, RequestBody& body, Responder& r) {
  std::vector<std::string> wanted;
  if (auto it = req.query.find("hosts"); it != req.query.end() && !it->second.empty()) {
    wanted = split(it->second, ',');
  }
  auto engines = controller.engines(wanted);
  for (const std::string& h : wanted) {
    if (engines.count(h) == 0) {
      replyError(r, Error(ErrorCode::Unavailable, "host " + h + " is not registered or not ready"));
      return;
    }
  }
  if (engines.empty()) {
    replyError(r, Error(ErrorCode::Unavailable, "no host is ready to load images"));
    return;
  }
  std::vector<engine::Engine*> targets;
  std::vector<std::string> names;
  for (auto& [name, e] : engines) {
    targets.push_back(e.get());
    names.push_back(name);
  }
  auto fan = engine::ImageFanOut::begin(targets);
  if (!fan) {
    replyError(r, fan.error());
    return;
  }
  std::vector<engine::ExpectedImage> expected;
  if (auto it = req.query.find("expect"); it != req.query.end() && !it->second.empty()) {
    // "ref=id,ref=id": what the sender's engine holds, checked on every target.
    for (const std::string& pair : split(it->second, ',')) {
      const auto eq = pair.rfind('=');
      if (eq != std::string::npos) expected.push_back({pair.substr(0, eq), pair.substr(eq + 1)});
    }
  }
  while (true) {
    auto piece = body.readPiece();
    if (!piece) {
      fan->cancel();
      replyError(r, Error(piece.error()).withContext("read the image upload"));
      return;
    }
    if (!*piece) break;
    if (Status s = fan->write(**piece); !s) {
      replyError(r, s.error());
      return;
    }
  }
  api::ImageLoadReply out;
  Status done = fan->finish(expected);
  for (const std::string& n : names) out.loaded[n] = "ok";
  if (!done) {
    // The message names each failed engine; hosts are named by their URLs in it.
    for (const std::string& n : names) {
      out.loaded.erase(n);
      out.failed[n] = done.error().message();
    }
    reply(r, 502, api::toJson(out));
    return;
  }
  reply(r, 200, api::toJson(out));
}

}  // namespace

std::string metricsText(const cluster::Controller& controller) {
  auto snap = controller.snapshot();
  const cluster::ReconcileStats stats = controller.stats();
  std::string out;
  std::map<std::string, int> hostStates{{"ready", 0}, {"down", 0}, {"unknown", 0}};
  for (const auto& [name, h] : snap->state.hosts) {
    (void)h;
    std::string state = "unknown";
    if (auto o = snap->observations.find(name); o != snap->observations.end())
      state = std::string(cluster::hostHealthName(o->second.health));
    ++hostStates[state];
  }
  out += "# HELP berth_hosts Hosts registered with the controller, by state.\n# TYPE berth_hosts gauge\n";
  for (const auto& [state, n] : hostStates) out += fmt::format("berth_hosts{{state=\"{}\"}} {}\n", state, n);
  std::map<std::pair<std::string, std::string>, int> tasks;
  for (const auto& [id, t] : snap->state.tasks) {
    (void)id;
    ++tasks[{std::string(cluster::desiredStateName(t.desired)), std::string(cluster::taskStateName(t.state))}];
  }
  out += "# HELP berth_tasks Tasks by desired and current state.\n# TYPE berth_tasks gauge\n";
  for (const auto& [key, n] : tasks) {
    out += fmt::format("berth_tasks{{desired=\"{}\",state=\"{}\"}} {}\n", key.first, key.second, n);
  }
  out += "# HELP berth_reconcile_pass_seconds Duration of the reconciler's passes.\n"
         "# TYPE berth_reconcile_pass_seconds histogram\n";
  for (std::size_t i = 0; i < stats.bucketBounds.size(); ++i) {
    out += fmt::format("berth_reconcile_pass_seconds_bucket{{le=\"{}\"}} {}\n", stats.bucketBounds[i],
                       stats.bucketCounts[i]);
  }
  out += fmt::format("berth_reconcile_pass_seconds_bucket{{le=\"+Inf\"}} {}\n", stats.passes);
  out += fmt::format("berth_reconcile_pass_seconds_sum {}\n", stats.sumSeconds);
  out += fmt::format("berth_reconcile_pass_seconds_count {}\n", stats.passes);
  out += "# HELP berth_engine_errors_total Failed engine calls (probes, listings, jobs), by host.\n"
         "# TYPE berth_engine_errors_total counter\n";
  for (const auto& [name, h] : snap->state.hosts) {
    (void)h;
    auto it = stats.engineErrors.find(name);
    out += fmt::format("berth_engine_errors_total{{host=\"{}\"}} {}\n", name,
                       it == stats.engineErrors.end() ? 0 : it->second);
  }
  out += "# HELP berth_placement_failures_total Tasks that no host could take when placed.\n"
         "# TYPE berth_placement_failures_total counter\n";
  out += fmt::format("berth_placement_failures_total {}\n", stats.placementFailures);
  return out;
}

void Api::handle(const Request& req, RequestBody& body, Responder& r) {
  const std::vector<std::string> p = pathParts(req.path);
  const std::string& m = req.method;
  if (p.size() == 1 && p[0] == "metrics" && m == "GET") {
    (void)r.send(200, "text/plain; version=0.0.4", metricsText(controller_));
    return;
  }
  if (req.listener == ListenerKind::PlainHttp) {
    replyError(r, Error(ErrorCode::NotFound, "only /metrics is served here"));
    return;
  }
  if (p.empty() || p[0] != "v1") {
    replyError(r, Error(ErrorCode::NotFound, "no such route: " + m + " " + req.path));
    return;
  }
  const auto snap = controller_.snapshot();
  const auto is = [&](const char* method, std::initializer_list<const char*> shape) {
    if (m != method || p.size() != shape.size() + 1) return false;
    std::size_t i = 1;
    for (const char* part : shape) {
      if (std::string_view(part) != "*" && p[i] != part) return false;
      ++i;
    }
    return true;
  };
  const auto done = [&](const Status& s) {
    if (s) {
      replyOk(r);
    } else {
      replyError(r, s.error());
    }
  };

  if (is("GET", {"info"})) {
    api::InfoReply info;
    info.version = info_.version;
    info.dataDir = dataDir_.root().string();
    info.store = info_.store;
    info.hosts = static_cast<int>(snap->state.hosts.size());
    info.stacks = static_cast<int>(snap->state.stacks.size());
    for (const auto& [id, t] : snap->state.tasks) {
      (void)id;
      if (t.live()) ++info.tasks;
    }
    info.startedAt = info_.startedAt;
    reply(r, 200, api::toJson(info));
    return;
  }

  // ---- hosts
  if (is("GET", {"hosts"})) {
    std::vector<api::HostView> out;
    for (const auto& [name, h] : snap->state.hosts) {
      (void)name;
      out.push_back(hostView(*snap, h));
    }
    reply(r, 200, api::toJson(out));
    return;
  }
  if (is("POST", {"hosts", "csr"})) {
    auto in = parseBody<api::CsrRequest>(body);
    if (!in) return replyError(r, in.error());
    if (snap->state.hosts.count(in->name) != 0) {
      return replyError(r, Error(ErrorCode::AlreadyExists,
                                 "host " + in->name + " is already registered with the controller"));
    }
    auto csr = dataDir_.newHostKey(in->name);
    if (!csr) return replyError(r, csr.error());
    reply(r, 200, api::toJson(api::CsrReply{*csr}));
    return;
  }
  if (is("POST", {"hosts"})) {
    auto in = parseBody<api::HostAddRequest>(body);
    if (!in) return replyError(r, in.error());
    if (snap->state.hosts.count(in->name) != 0) {
      return replyError(r, Error(ErrorCode::AlreadyExists,
                                 "host " + in->name + " is already registered with the controller"));
    }
    if (Status s = dataDir_.installHost(in->name, in->caPem, in->certPem); !s) return replyError(r, s.error());
    auto added = controller_.addHost(cluster::HostRegistration{in->name, in->url, in->labels});
    if (!added) {
      dataDir_.forgetHost(in->name);
      return replyError(r, added.error());
    }
    reply(r, 200, api::toJson(hostView(*controller_.snapshot(), *added)));
    return;
  }
  if (p.size() >= 3 && p[1] == "hosts") {
    const std::string& name = p[2];
    if (is("GET", {"hosts", "*"})) {
      auto h = snap->state.hosts.find(name);
      if (h == snap->state.hosts.end()) {
        return replyError(r, Error(ErrorCode::NotFound, "no host named " + berth::quoted(name) +
                                                            " is registered with the controller"));
      }
      reply(r, 200, api::toJson(hostView(*snap, h->second)));
      return;
    }
    if (is("DELETE", {"hosts", "*"})) {
      Status s = controller_.removeHost(name, flag(req, "force"));
      if (s) dataDir_.forgetHost(name);
      return done(s);
    }
    if (is("POST", {"hosts", "*", "labels"})) {
      auto in = parseBody<api::LabelRequest>(body);
      if (!in) return replyError(r, in.error());
      return done(controller_.setHostLabels(name, in->set, in->remove));
    }
    if (is("POST", {"hosts", "*", "drain"})) return done(controller_.setAvailability(name, cluster::Availability::Drain));
    if (is("POST", {"hosts", "*", "activate"})) {
      return done(controller_.setAvailability(name, cluster::Availability::Active));
    }
  }

  // ---- stacks
  if (is("GET", {"stacks"})) {
    std::vector<api::StackView> out;
    for (const auto& [name, st] : snap->state.stacks) {
      (void)name;
      out.push_back(stackView(*snap, st));
    }
    reply(r, 200, api::toJson(out));
    return;
  }
  if (is("POST", {"stacks"})) {
    auto in = parseBody<api::DeployRequest>(body);
    if (!in) return replyError(r, in.error());
    auto d = controller_.deploy(in->name, in->project);
    if (!d) return replyError(r, d.error());
    reply(r, 200, api::toJson(api::DeployReply{d->generation, d->changed, d->updated, d->removed}));
    return;
  }
  if (p.size() >= 3 && p[1] == "stacks") {
    const std::string& name = p[2];
    if (is("GET", {"stacks", "*"})) {
      auto st = snap->state.stacks.find(name);
      if (st == snap->state.stacks.end()) {
        return replyError(r, Error(ErrorCode::NotFound, "no stack named " + berth::quoted(name)));
      }
      reply(r, 200, api::toJson(stackView(*snap, st->second)));
      return;
    }
    if (is("DELETE", {"stacks", "*"})) return done(controller_.removeStack(name, flag(req, "volumes")));
    if (is("POST", {"stacks", "*", "rebalance"})) {
      auto n = controller_.rebalance(name);
      if (!n) return replyError(r, n.error());
      reply(r, 200, api::toJson(api::RebalanceReply{*n}));
      return;
    }
  }

  // ---- tasks and services
  if (is("GET", {"tasks"})) {
    const std::string stack = req.query.count("stack") ? req.query.at("stack") : "";
    const std::string service = req.query.count("service") ? req.query.at("service") : "";
    std::vector<api::TaskView> out;
    for (const auto& [id, t] : snap->state.tasks) {
      (void)id;
      if (!stack.empty() && t.stack != stack) continue;
      if (!service.empty() && t.service != service) continue;
      out.push_back(taskView(*snap, t));
    }
    reply(r, 200, api::toJson(out));
    return;
  }
  if (is("GET", {"services"})) {
    const std::string stack = req.query.count("stack") ? req.query.at("stack") : "";
    std::vector<api::ServiceView> out;
    for (const auto& [key, rec] : snap->state.services) {
      if (!stack.empty() && key.first != stack) continue;
      out.push_back(serviceView(*snap, rec));
    }
    reply(r, 200, api::toJson(out));
    return;
  }
  if (p.size() >= 4 && p[1] == "services") {
    const std::string& stack = p[2];
    const std::string& service = p[3];
    if (is("GET", {"services", "*", "*"})) {
      auto rec = snap->state.services.find({stack, service});
      if (rec == snap->state.services.end()) {
        return replyError(r, Error(ErrorCode::NotFound, fmt::format("no service {} in stack {}", service, stack)));
      }
      reply(r, 200, api::toJson(serviceView(*snap, rec->second)));
      return;
    }
    if (is("POST", {"services", "*", "*", "scale"})) {
      auto in = parseBody<api::ScaleRequest>(body);
      if (!in) return replyError(r, in.error());
      return done(controller_.scale(stack, service, in->replicas));
    }
    if (is("POST", {"services", "*", "*", "update"})) {
      auto in = parseBody<api::UpdateRequest>(body);
      if (!in) return replyError(r, in.error());
      if (!in->force && in->host.empty()) {
        return replyError(r, Error(ErrorCode::InvalidArgument,
                                   "service update: nothing to do (give --force, and --host to move it)"));
      }
      return done(controller_.forceUpdate(stack, service, in->host));
    }
    if (is("POST", {"services", "*", "*", "rollback"})) return done(controller_.rollback(stack, service));
    if (is("GET", {"services", "*", "*", "logs"})) return streamLogs(controller_, req, r, stack, service);
  }

  // ---- events
  if (is("GET", {"events"})) {
    std::uint64_t after = 0;
    if (auto it = req.query.find("since"); it != req.query.end()) after = std::strtoull(it->second.c_str(), nullptr, 10);
    const bool follow = flag(req, "follow");
    if (!r.beginStream(200, "application/x-ndjson")) return;
    std::stop_token gone = r.clientGone();
    while (true) {
      auto events = follow ? controller_.events().wait(after, 1s, gone) : controller_.events().since(after);
      for (const cluster::ControllerEvent& e : events) {
        after = e.seq;
        if (!r.write(api::toJson(eventView(e)) + "\n")) return;
      }
      if (!follow || gone.stop_requested()) break;
    }
    (void)r.endStream();
    return;
  }

  // ---- images
  if (is("POST", {"images", "missing"})) {
    auto in = parseBody<api::MissingImagesRequest>(body);
    if (!in) return replyError(r, in.error());
    api::MissingImagesReply out;
    auto engines = controller_.engines(in->hosts);
    std::mutex mu;
    std::vector<std::jthread> checks;
    for (auto& [name, e] : engines) {
      checks.emplace_back([&, name = name, e = e] {
        for (const api::ImageWant& want : in->images) {
          auto found = e->inspectImage(want.reference);
          if (!found || (!want.id.empty() && found->id != want.id)) {
            std::lock_guard lock(mu);
            out.missing[want.reference].push_back(name);
          }
        }
      });
    }
    checks.clear();
    for (auto& [ref, hosts] : out.missing) {
      (void)ref;
      std::sort(hosts.begin(), hosts.end());
    }
    reply(r, 200, api::toJson(out));
    return;
  }
  if (is("POST", {"images", "load"})) return loadImages(controller_, req, body, r);

  replyError(r, Error(ErrorCode::NotFound, "no such route: " + m + " " + req.path));
}

}  // namespace berth::daemon
