// A small simulated fleet for testing the controller's pure decisions (scheduler.h, reconcile.h)
// from compose text, so that each test reads like the behaviour it pins:
//
//   Sim sim;
//   sim.addHost("h1");
//   sim.addHost("h2");
//   sim.deploy("services: {web: {image: nginx, deploy: {replicas: 2}}}");
//   sim.settle();
//   EXPECT_EQ(sim.tasks(), "web.1 h1 running\n"
//                          "web.2 h2 running");
//   sim.kill("web.1");
//   sim.pass();
//   EXPECT_EQ(sim.history("web.1"), "t1 h1 failed: exited with status 1\n"
//                                   "t3 h1 assigned");
//
// The simulation, all of it (kept small so that it is obviously right):
//   - Time is `now`; it moves by advance() and by kPassStep (1 ms) at the start of every pass:
//     berthd's passes are moments apart, so tasks made in different passes never share createdAt.
//   - A host that answers (addHost, hostUp) gets lastSeen = now and listed = true before every
//     pass, as berthd's probes and listings would. downHost() stops that (listed = false); its
//     containers stay as they were until hostUp() (a lost host is not seen, not wiped).
//   - After reconcile(), what Controller::Impl::pass does with the decisions: applyChange(), the
//     health changes into the observations (downSince too), task errors consumed.
//   - Every job of the decisions is carried out at once, unless its host is down or held: the
//     host's containers of the stack become what hostWork() says, as plan::diff's slots converge:
//       * a listed slot whose container carries the slot's task is started when `start` and not
//         running, else left as it is;
//       * any other listed slot gets a new container for its task (running when `start`, with
//         health "starting" when the service has a healthcheck; created otherwise);
//       * containers of the stack in no listed slot, of a service the stack no longer has, or of
//         a removed stack (`remove`) are removed.
//   - Containers change otherwise only when a test says so: kill(), health(), or by editing
//     `obs` (a container removed behind berth's back, a job's task error).
//   - Task IDs are "t1", "t2", ... in the order the reconciler asks for them.
//
// Task names: "web.2" is service web, slot 2 of stack "s" ("other/web.2" for stack "other"); as a
// task it means the slot's newest live task (else its newest task).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "cluster/model.h"
#include "cluster/reconcile.h"
#include "cluster/scheduler.h"
#include "cluster/service_def.h"
#include "cluster/store.h"
#include "spec/loader.h"
#include "spec/model.h"
#include "spec/spec_test_util.h"

namespace berth::cluster::testing {

using namespace std::chrono_literals;

inline constexpr std::int64_t kGiB = std::int64_t{1} << 30;
inline constexpr std::int64_t kMiB = std::int64_t{1} << 20;

// A compose project from text, loaded as `stack` (from memory: no files). A load error fails the
// test (and an empty project comes back).
inline spec::Project project(const std::string& yaml, const std::string& stack = "s") {
  return spec::testing::projectFromMemory(yaml, stack);
}

// The definition of `service` in `yaml` (generation 1), or a failed test.
inline ServiceDef defOf(const std::string& yaml, const std::string& service, const std::string& stack = "s") {
  const spec::Project p = project(yaml, stack);
  auto s = p.services.find(service);
  if (s == p.services.end()) {
    ADD_FAILURE() << "no service " << service;
    return ServiceDef{};
  }
  auto d = serviceDef(p, s->second, 1);
  if (!d) {
    ADD_FAILURE() << "serviceDef: " << d.error().message();
    return ServiceDef{};
  }
  return std::move(*d);
}

// hostWork as text: one line per slot, "web.1 t4 start start-first" ("web: none" for a service
// with no slot on the host; "remove" / "remove with volumes" for a removed stack).
inline std::string describe(const HostWork& w) {
  if (w.remove) return w.removeVolumes ? "remove with volumes" : "remove";
  std::vector<std::string> lines;
  for (const auto& [service, slots] : w.slots) {
    if (slots.empty()) lines.push_back(service + ": none");
    for (const plan::Slot& slot : slots) {
      auto task = slot.labels.find(std::string(labels::kTask));
      std::string line = service + "." + std::to_string(slot.number) + " " +
                         (task == slot.labels.end() ? std::string("?") : task->second);
      if (slot.start) line += " start";
      if (slot.startFirst) line += " start-first";
      lines.push_back(std::move(line));
    }
  }
  return join(lines, "\n");
}

class Sim {
 public:
  static constexpr std::chrono::milliseconds kPassStep{1};

  ClusterState state;
  Observations obs;
  DefCatalog defs;
  ReconcileConfig config;
  // 2024-05-01T10:00:00Z; berthd started then.
  WallTime now = WallTime(std::chrono::seconds(1714557600));

  Sim() { config.startedAt = now; }

  // ---- the fleet

  // Registers a host that answers from now on (ready, listed, no containers).
  Host& addHost(const std::string& name, std::map<std::string, std::string> hostLabels = {}, int ncpu = 4,
                std::int64_t memory = 8 * kGiB) {
    Host h;
    h.name = name;
    h.index = state.nextHostIndex++;
    h.id = fmtId(h.index);
    h.url = "tcp://10.0.0." + std::to_string(h.index + 1) + ":2376";
    h.labels = std::move(hostLabels);
    h.facts.hostname = name;
    h.facts.ncpu = ncpu;
    h.facts.memoryBytes = memory;
    h.addedAt = now;
    HostObservation& o = obs[name];
    o.health = HostHealth::Ready;
    o.lastSeen = now;
    o.listed = true;
    down_.erase(name);
    return state.hosts[name] = std::move(h);
  }
  // Its probes answer again (or at last): lastSeen = now, listed, its containers as they were.
  void hostUp(const std::string& name) {
    down_.erase(name);
    obs[name].lastSeen = now;
    obs[name].listed = true;
  }
  // Its probes stop answering: lastSeen stays, listed = false.
  void downHost(const std::string& name) {
    down_.insert(name);
    obs[name].listed = false;
  }
  // A registered host that has not answered since berthd started.
  void neverAnswered(const std::string& name) {
    downHost(name);
    obs[name].health = HostHealth::Unknown;
    obs[name].lastSeen = WallTime{};
  }
  void drain(const std::string& name) { state.hosts.at(name).availability = Availability::Drain; }
  void activate(const std::string& name) { state.hosts.at(name).availability = Availability::Active; }
  // Its jobs are not carried out (its engine is slow) until release().
  void hold(const std::string& name) { held_.insert(name); }
  void release(const std::string& name) { held_.erase(name); }

  // ---- the API (what Controller does to the state)

  // Controller::deploy: a new stack version (unless the text is the current one's), a record per
  // service (previousGeneration when its definition changed), records of dropped services deleted.
  void deploy(const std::string& yaml, const std::string& stack = "s") {
    const spec::Project p = project(yaml, stack);
    if (p.services.empty()) {
      ADD_FAILURE() << "deploy: no services";
      return;
    }
    Stack s;
    if (auto it = state.stacks.find(stack); it != state.stacks.end()) {
      s = it->second;
      auto v = state.versions.find({stack, s.generation});
      if (v != state.versions.end() && v->second.project == yaml) return;
    } else {
      s.name = stack;
      s.createdAt = now;
    }
    s.generation += 1;
    s.updatedAt = now;
    std::map<std::string, ServiceDef> fresh;
    for (const auto& [name, service] : p.services) {
      auto d = serviceDef(p, service, s.generation);
      if (!d) {
        ADD_FAILURE() << "deploy: " << d.error().message();
        return;
      }
      fresh[name] = std::move(*d);
    }
    Change c;
    c.putStacks.push_back(s);
    c.putVersions.push_back(StackVersion{stack, s.generation, yaml});
    for (const auto& [name, d] : fresh) {
      ServiceRecord r;
      if (auto it = state.services.find({stack, name}); it != state.services.end()) {
        r = it->second;
        auto old = defs.find(DefKey{stack, name, r.specGeneration});
        if (old == defs.end() || old->second.configHash != d.configHash) {
          r.previousGeneration = r.specGeneration;
          if (r.updateState != UpdateState::Updating) r.updateState = UpdateState::None;
        }
      } else {
        r.stack = stack;
        r.name = name;
      }
      r.specGeneration = s.generation;
      r.replicas.reset();
      c.putServices.push_back(r);
    }
    for (const auto& [key, r] : state.services) {
      (void)r;
      if (key.first == stack && fresh.count(key.second) == 0) c.deleteServices.push_back(key);
    }
    applyChange(state, c);
    for (auto& [name, d] : fresh) defs[DefKey{stack, name, s.generation}] = std::move(d);
  }
  // `service scale`.
  void scale(const std::string& service, int replicas, const std::string& stack = "s") {
    state.services.at({stack, service}).replicas = replicas;
  }
  // `stack rm`.
  void removeStack(const std::string& stack = "s", bool volumes = false) {
    Stack& s = state.stacks.at(stack);
    s.removing = true;
    s.removeVolumes = s.removeVolumes || volumes;
  }
  // `service update --force [--host H]`: every task is replaced (on H, for a volume-bound service).
  void forceUpdate(const std::string& name, const std::string& host = {}, const std::string& stack = "s") {
    ServiceRecord& r = state.services.at({stack, name});
    r.forceCounter += 1;
    if (!host.empty()) r.pinnedHost = host;
    r.updateState = UpdateState::None;
  }
  // `service rollback`.
  void rollback(const std::string& name, const std::string& stack = "s") {
    ServiceRecord& r = state.services.at({stack, name});
    std::swap(r.specGeneration, r.previousGeneration);
    r.updateState = UpdateState::RollingBack;
    r.updateStartedAt = now;
    r.lastBatchAt = WallTime{};
    r.updateFailures = 0;
    r.updateMessage = "manual rollback";
  }
  ServiceRecord& service(const std::string& name, const std::string& stack = "s") {
    return state.services.at({stack, name});
  }

  // ---- containers

  // The task's container exits with `code`.
  void kill(const std::string& task, int code = 1) {
    if (ObservedTaskContainer* c = containerOf(task)) {
      c->phase = ContainerPhase::Exited;
      c->exitCode = code;
      c->health = HealthStatus::None;
    }
  }
  // The task's container reports `health`.
  void health(const std::string& task, HealthStatus h) {
    if (ObservedTaskContainer* c = containerOf(task)) c->health = h;
  }

  // ---- time and passes

  void advance(std::chrono::milliseconds d) { now += d; }

  // One reconciler pass at now + kPassStep, with the controller's bookkeeping and the hosts'
  // jobs carried out (see the header's comment). events() then shows what it reported.
  const Decisions& pass() {
    events_.clear();
    step();
    return last_;
  }
  // Passes until one decides nothing (at most `limit`; more fails the test). events() then shows
  // everything they reported.
  void settle(int limit = 20) {
    events_.clear();
    for (int i = 0; i < limit; ++i) {
      if (step().empty()) return;
    }
    ADD_FAILURE() << "no quiet pass after " << limit << " passes; the last reported:\n" << events();
  }
  const Decisions& decisions() const { return last_; }
  // When the last pass asked to be woken, as an offset from now ("none" when it did not).
  std::string wake() const {
    if (!last_.wakeAt) return "none";
    const auto d = std::chrono::duration_cast<std::chrono::milliseconds>(*last_.wakeAt - now);
    return "in " + std::to_string(d.count()) + "ms";
  }

  // ---- what tests read

  // Live tasks, one line each, sorted: "web.1 h1 running", "web.2 - pending: no host fits ...".
  std::string tasks() const {
    std::vector<const Task*> live;
    for (const auto& [id, t] : state.tasks) {
      (void)id;
      if (t.live()) live.push_back(&t);
    }
    std::sort(live.begin(), live.end(), [](const Task* a, const Task* b) {
      return std::tie(a->stack, a->service, a->slot) < std::tie(b->stack, b->service, b->slot) ||
             (std::tie(a->stack, a->service, a->slot) == std::tie(b->stack, b->service, b->slot) &&
              older(*a, *b));
    });
    std::vector<std::string> lines;
    for (const Task* t : live) {
      lines.push_back(nameOf(*t) + " " + (t->host.empty() ? "-" : t->host) + " " + stateOf(*t));
    }
    return join(lines, "\n");
  }
  // Every task of a slot, oldest first: "t1 h1 failed: exited with status 1", "t3 h1 running".
  std::string history(const std::string& slotName) const {
    std::vector<std::string> lines;
    for (const Task* t : slot(slotName)) {
      std::string line = t->id + " " + (t->host.empty() ? "-" : t->host) + " " + stateOf(*t);
      if (!t->replaces.empty()) line += " (replaces " + t->replaces + ")";
      lines.push_back(std::move(line));
    }
    return join(lines, "\n");
  }
  // What the last pass (or settle's passes) reported, as `berth events --controller` prints it.
  std::string events() const { return join(events_, "\n"); }
  // A host's containers: "s-web-1 t1 running", "s-web-2 t2 exited (1)", "s-web-3 t5 created".
  std::string containers(const std::string& host) const {
    std::vector<std::string> lines;
    auto o = obs.find(host);
    if (o == obs.end()) return "";
    for (const ObservedTaskContainer& c : o->second.containers) {
      std::string line = containerName(c.stack, c.service, c.slot) + " " + c.task + " ";
      switch (c.phase) {
        case ContainerPhase::Created:
          line += "created";
          break;
        case ContainerPhase::Running:
          line += "running";
          break;
        case ContainerPhase::Exited:
          line += "exited (" + (c.exitCode ? std::to_string(*c.exitCode) : std::string("?")) + ")";
          break;
      }
      switch (c.health) {
        case HealthStatus::None:
          break;
        case HealthStatus::Starting:
          line += " (health: starting)";
          break;
        case HealthStatus::Healthy:
          line += " (healthy)";
          break;
        case HealthStatus::Unhealthy:
          line += " (unhealthy)";
          break;
      }
      lines.push_back(std::move(line));
    }
    std::sort(lines.begin(), lines.end());
    return join(lines, "\n");
  }
  // hostWork(host, stack) now.
  HostWork work(const std::string& host, const std::string& stack = "s") const {
    return hostWork(state, defs, host, stack, now);
  }
  // The task a name means (see the header's comment); a failed test when there is none.
  const Task& task(const std::string& name) const {
    std::vector<const Task*> all = slot(name);
    const Task* found = nullptr;
    for (const Task* t : all) {
      if (t->live()) found = t;
    }
    if (found == nullptr && !all.empty()) found = all.back();
    if (found == nullptr) {
      ADD_FAILURE() << "no task " << name;
      static const Task kNone;
      return kNone;
    }
    return *found;
  }
  // The definition in force for a service.
  const ServiceDef& def(const std::string& service, const std::string& stack = "s") const {
    return defs.at(DefKey{stack, service, state.services.at({stack, service}).specGeneration});
  }

 private:
  static std::string fmtId(int index) {
    std::string hex = "000000000000" + std::to_string(index);
    return hex.substr(hex.size() - 12);
  }
  static long idNumber(const std::string& id) { return id.size() > 1 ? std::stol(id.substr(1)) : 0; }
  static bool older(const Task& a, const Task& b) {
    return a.createdAt != b.createdAt ? a.createdAt < b.createdAt : idNumber(a.id) < idNumber(b.id);
  }
  static std::string nameOf(const Task& t) { return (t.stack == "s" ? "" : t.stack + "/") + taskName(t); }
  static std::string stateOf(const Task& t) {
    std::string s(taskStateName(t.state));
    if (!t.error.empty()) s += ": " + t.error;
    return s;
  }

  // "web.2" / "other/web.2" → (stack, service, slot).
  static std::tuple<std::string, std::string, int> parse(const std::string& name) {
    std::string stack = "s";
    std::string rest = name;
    if (auto slash = rest.find('/'); slash != std::string::npos) {
      stack = rest.substr(0, slash);
      rest = rest.substr(slash + 1);
    }
    const auto dot = rest.rfind('.');
    return {stack, rest.substr(0, dot), std::stoi(rest.substr(dot + 1))};
  }

  std::vector<const Task*> slot(const std::string& name) const {
    const auto [stack, service, number] = parse(name);
    std::vector<const Task*> out;
    for (const auto& [id, t] : state.tasks) {
      (void)id;
      if (t.stack == stack && t.service == service && t.slot == number) out.push_back(&t);
    }
    std::sort(out.begin(), out.end(), [](const Task* a, const Task* b) { return older(*a, *b); });
    return out;
  }

  ObservedTaskContainer* containerOf(const std::string& name) {
    const Task& t = task(name);
    auto o = obs.find(t.host);
    if (o != obs.end()) {
      for (ObservedTaskContainer& c : o->second.containers) {
        if (c.task == t.id) return &c;
      }
    }
    ADD_FAILURE() << "task " << name << " (" << t.id << ") has no container";
    return nullptr;
  }

  const Decisions& step() {
    now += kPassStep;
    for (const auto& [name, host] : state.hosts) {
      (void)host;
      if (down_.count(name) != 0) continue;
      obs[name].lastSeen = now;
      obs[name].listed = true;
    }
    last_ = reconcile(state, obs, defs, config, now, [this] { return "t" + std::to_string(++taskIds_); });
    applyChange(state, last_.change);
    for (const auto& [host, h] : last_.health) {
      obs[host].health = h;
      if (h == HostHealth::Down) obs[host].downSince = now;
    }
    for (auto& [name, o] : obs) {
      (void)name;
      o.taskErrors.clear();
    }
    for (const ControllerEvent& e : last_.events) events_.push_back(cluster::describe(e));
    for (const HostJob& job : last_.jobs) {
      if (down_.count(job.host) == 0 && held_.count(job.host) == 0) carryOut(job);
    }
    return last_;
  }

  // The host converges its containers of the stack to hostWork (see the header's comment).
  void carryOut(const HostJob& job) {
    const HostWork w = hostWork(state, defs, job.host, job.stack, now);
    std::vector<ObservedTaskContainer>& cs = obs[job.host].containers;
    const auto listed = [&](const ObservedTaskContainer& c) {
      if (state.services.count({c.stack, c.service}) == 0) return false;
      auto s = w.slots.find(c.service);
      return s != w.slots.end() && std::any_of(s->second.begin(), s->second.end(),
                                               [&](const plan::Slot& x) { return x.number == c.slot; });
    };
    std::erase_if(
        cs, [&](const ObservedTaskContainer& c) { return c.stack == job.stack && (w.remove || !listed(c)); });
    if (w.remove) return;
    for (const auto& entry : w.slots) {
      const std::string& service = entry.first;  // not a structured binding: clang 14 cannot capture one
      const auto& slots = entry.second;
      if (state.services.count({job.stack, service}) == 0) continue;
      for (const plan::Slot& s : slots) {
        const std::string task = s.labels.at(std::string(labels::kTask));
        auto it = std::find_if(cs.begin(), cs.end(), [&](const ObservedTaskContainer& c) {
          return c.stack == job.stack && c.service == service && c.slot == s.number;
        });
        if (it != cs.end() && it->task == task) {
          if (s.start && it->phase != ContainerPhase::Running) start(*it, s);
          continue;
        }
        ObservedTaskContainer c;
        c.id = "c" + std::to_string(++containerIds_);
        c.task = task;
        c.stack = job.stack;
        c.service = service;
        c.slot = s.number;
        c.phase = ContainerPhase::Created;
        if (s.start) start(c, s);
        if (it != cs.end()) {
          *it = std::move(c);
        } else {
          cs.push_back(std::move(c));
        }
      }
    }
  }

  void start(ObservedTaskContainer& c, const plan::Slot& s) const {
    c.phase = ContainerPhase::Running;
    c.exitCode.reset();
    c.health = HealthStatus::None;
    const std::int64_t generation = std::stoll(s.labels.at(std::string(labels::kGeneration)));
    auto d = defs.find(DefKey{c.stack, c.service, generation});
    if (d != defs.end() && d->second.healthcheck) c.health = HealthStatus::Starting;
  }

  std::set<std::string> down_;
  std::set<std::string> held_;
  Decisions last_;
  std::vector<std::string> events_;
  int taskIds_ = 0;
  int containerIds_ = 0;
};

}  // namespace berth::cluster::testing
