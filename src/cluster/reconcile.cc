#include "cluster/reconcile.h"

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <vector>

#include "base/strings.h"

namespace berth::cluster {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string serviceKey(const std::string& stack, const std::string& service) { return stack + "/" + service; }

std::string humanDuration(milliseconds d) {
  if (d < seconds(1)) return fmt::format("{}ms", d.count());
  if (d % seconds(1) == milliseconds(0)) return fmt::format("{}s", duration_cast<seconds>(d).count());
  return fmt::format("{:.1f}s", static_cast<double>(d.count()) / 1000.0);
}

// One pass's working set: the tasks as they are after this pass's edits, and what to commit.
class Pass {
 public:
  Pass(const ClusterState& state, const Observations& observations, const DefCatalog& defs,
       const ReconcileConfig& config, WallTime now, const IdSource& newId)
      : state_(state), obs_(observations), defs_(defs), config_(config), now_(now), newId_(newId) {
    for (const auto& [id, t] : state.tasks) index(tasks_.emplace_hint(tasks_.end(), id, t)->second);
    for (const auto& [name, o] : observations) {
      observed_[name] = &o;
      auto& byTask = containers_[name];
      for (const ObservedTaskContainer& c : o.containers) {
        auto [it, added] = byTask.emplace(c.task, &c);
        if (!added && rank(c.phase) > rank(it->second->phase)) it->second = &c;
      }
    }
  }

  Decisions run() {
    hosts();
    for (const auto& [key, def] : defs_) {
      (void)key;
      if (def.generation == specGeneration(def.stack, def.name)) specs_[serviceKey(def.stack, def.name)] = def.placement;
    }
    placer_ = Placer(candidates(state_, healthOnly(), specs_));
    observeTasks();
    lostHosts();
    droppedServices();
    startFirstDone();
    for (const auto& [key, record] : state_.services) {
      (void)key;
      auto stack = state_.stacks.find(record.stack);
      if (stack == state_.stacks.end() || stack->second.removing) continue;
      service(record);
    }
    drain();
    removeStacks();
    history();
    jobs();
    // tasks_ holds every task of the state (and the new ones): one walk over both, in ID order.
    auto before = state_.tasks.begin();
    for (const auto& [id, t] : tasks_) {
      while (before != state_.tasks.end() && before->first < id) ++before;
      const bool same = before != state_.tasks.end() && before->first == id && before->second == t;
      if (!same && deleted_.count(id) == 0) d_.change.putTasks.push_back(t);
    }
    return std::move(d_);
  }

 private:
  // ---- helpers

  std::int64_t specGeneration(const std::string& stack, const std::string& service) const {
    auto it = state_.services.find({stack, service});
    return it == state_.services.end() ? 0 : it->second.specGeneration;
  }

  const ServiceDef* def(const std::string& stack, const std::string& service, std::int64_t generation) const {
    auto it = defs_.find(DefKey{stack, service, generation});
    return it == defs_.end() ? nullptr : &it->second;
  }

  HostHealth healthOf(const std::string& host) const {
    if (auto it = health_.find(host); it != health_.end()) return it->second;
    return HostHealth::Unknown;
  }

  // Whether containers of this host are known (ready, and listed since it came up).
  bool observable(const std::string& host) const {
    if (healthOf(host) != HostHealth::Ready) return false;
    auto it = observed_.find(host);
    return it != observed_.end() && it->second->listed;
  }

  // A task has two containers only for a moment: while its own container is made again after an
  // interrupted replacement (berthd killed between its steps), the one on its way out is stopped.
  // The one that lives on is the task's: running, else created, and an exited one last.
  static int rank(ContainerPhase p) {
    switch (p) {
      case ContainerPhase::Running:
        return 2;
      case ContainerPhase::Created:
        return 1;
      case ContainerPhase::Exited:
        return 0;
    }
    return 0;
  }

  // The container observed on the task's host that carries its ID (of several, the one ranked
  // first).
  const ObservedTaskContainer* containerOf(const Task& t) const {
    auto host = containers_.find(t.host);
    if (host == containers_.end()) return nullptr;
    auto c = host->second.find(t.id);
    return c == host->second.end() ? nullptr : c->second;
  }

  // What the scheduler needs of the observations: each host's health as this pass decided it.
  Observations healthOnly() const {
    Observations o;
    for (const auto& [name, h] : obs_) {
      (void)h;
      o[name].health = healthOf(name);
    }
    for (const auto& [name, host] : state_.hosts) {
      (void)host;
      o[name].health = healthOf(name);
    }
    return o;
  }

  // Every task is indexed by its service and slot, and by the task it replaces, so that the passes
  // over a service's slots cost what the service has, not what the cluster has.
  void index(Task& t) {
    byService_[{t.stack, t.service}][t.slot].push_back(&t);
    if (!t.replaces.empty()) replacers_[t.replaces].push_back(&t);
  }

  void setReplaces(Task& t, const std::string& id) {
    t.replaces = id;
    replacers_[id].push_back(&t);
  }

  // The tasks of one slot (not deleted by this pass), oldest first.
  std::vector<Task*> slotTasks(const std::string& stack, const std::string& service, int slot) {
    std::vector<Task*> out;
    auto svc = byService_.find({stack, service});
    if (svc == byService_.end()) return out;
    auto it = svc->second.find(slot);
    if (it == svc->second.end()) return out;
    for (Task* t : it->second) {
      if (deleted_.count(t->id) == 0) out.push_back(t);
    }
    std::sort(out.begin(), out.end(), [](const Task* a, const Task* b) {
      return a->createdAt != b->createdAt ? a->createdAt < b->createdAt : a->id < b->id;
    });
    return out;
  }

  // Every task of a service, by slot.
  std::vector<Task*> serviceTasks(const std::string& stack, const std::string& service) {
    std::vector<Task*> out;
    auto svc = byService_.find({stack, service});
    if (svc == byService_.end()) return out;
    for (const auto& [slot, tasks] : svc->second) {
      (void)slot;
      out.insert(out.end(), tasks.begin(), tasks.end());
    }
    return out;
  }

  void event(std::string type, std::string action, const Task* t, std::string host, std::string message) {
    ControllerEvent e;
    e.time = now_;
    e.type = std::move(type);
    e.action = std::move(action);
    if (t != nullptr) {
      e.stack = t->stack;
      e.service = t->service;
      e.task = t->id;
      e.name = taskName(*t);
      if (host.empty()) host = t->host;
    }
    if (t == nullptr && e.type == "host") e.name = host;
    e.host = std::move(host);
    e.message = std::move(message);
    d_.events.push_back(std::move(e));
  }

  void setState(Task& t, TaskState s, std::string error = {}) {
    if (t.state == s && t.error == error) return;
    t.state = s;
    t.error = std::move(error);
    t.stateSince = now_;
  }

  // Ends a live task: it stops counting for placement and its container is removed (or kept, if it
  // is the last word of its slot).
  void end(Task& t, TaskState s, std::string error) {
    if (t.live() && !t.host.empty()) {
      if (auto spec = specs_.find(serviceKey(t.stack, t.service)); spec != specs_.end()) {
        placer_.remove(t.host, spec->second);
      }
    }
    t.desired = DesiredState::Shutdown;
    setState(t, s, std::move(error));
  }

  Task& newTask(const ServiceRecord& record, int slot) {
    Task t;
    t.id = newId_();
    t.stack = record.stack;
    t.service = record.name;
    t.slot = slot;
    t.desired = DesiredState::Running;
    t.state = TaskState::Pending;
    t.specGeneration = record.specGeneration;
    t.forceCounter = record.forceCounter;
    t.createdAt = now_;
    t.stateSince = now_;
    Task& added = tasks_[t.id] = std::move(t);
    index(added);
    return added;
  }

  // Places a task (a new one, or a pending one): Assigned on a host, or Pending with the reason.
  void placeTask(Task& t, const ServiceDef& d, const std::string& preferred, const std::string& avoid,
                 bool announce) {
    PlacementSpec spec = d.placement;
    const ServiceRecord& record = state_.services.at({t.stack, t.service});
    if (!record.pinnedHost.empty()) {
      spec.pinnedHost = record.pinnedHost;
    } else if (d.volumeBound && !preferred.empty()) {
      spec.pinnedHost = preferred;
    }
    Result<std::string> host = fail(ErrorCode::Unavailable, "");
    if (d.global) {
      host = preferred;
      const HostCandidate* h = placer_.find(preferred);
      std::string why;
      if (h == nullptr) {
        host = fail(ErrorCode::Unavailable, "no host fits " + taskName(t) + ": " + preferred + " is not registered");
      } else if (!eligible(spec, *h, &why)) {
        host = fail(ErrorCode::Unavailable, "no host fits " + taskName(t) + ": " + why);
      } else {
        placer_.add(preferred, spec);
      }
    } else {
      // The preferred host (where the slot's last task ran: image and data are there) when it fits,
      // unless the user pinned the service elsewhere.
      bool placed = false;
      if (!preferred.empty() && preferred != avoid && (spec.pinnedHost.empty() || spec.pinnedHost == preferred)) {
        PlacementSpec only = spec;
        only.pinnedHost = preferred;
        if (auto h = placer_.place(only, taskName(t))) {
          host = *h;
          placed = true;
        }
      }
      if (!placed) host = placer_.place(spec, taskName(t), avoid);
    }
    if (!host) {
      const bool changed = t.error != host.error().message();
      t.host.clear();
      setState(t, TaskState::Pending, host.error().message());
      if (announce || changed) event("task", "pending", &t, "", host.error().message());
      return;
    }
    t.host = *host;
    setState(t, TaskState::Assigned);
    event("task", "placed", &t, t.host, "");
  }

  // ---- 1. hosts

  void hosts() {
    for (const auto& [name, host] : state_.hosts) {
      (void)host;
      static const HostObservation kNever;
      auto it = observed_.find(name);
      const HostObservation& o = it != observed_.end() ? *it->second : kNever;
      HostHealth h = o.health;
      const bool fresh = o.lastSeen != WallTime{} && now_ - o.lastSeen <= config_.downAfter;
      HostHealth next = h;
      if (fresh) {
        next = HostHealth::Ready;
      } else if (h == HostHealth::Ready) {
        next = HostHealth::Down;
      } else if (h == HostHealth::Unknown && now_ - config_.startedAt > config_.downAfter) {
        next = HostHealth::Down;
      }
      health_[name] = next;
      if (next != h) {
        d_.health[name] = next;
        const std::string why = o.error.empty() ? "" : ": " + o.error;
        if (next == HostHealth::Down) {
          event("host", "down", nullptr, name,
                fmt::format("no answer for {}{}", humanDuration(config_.downAfter), why));
        } else if (next == HostHealth::Ready) {
          event("host", "up", nullptr, name, "");
        }
      } else if (next == HostHealth::Ready && o.lastSeen != WallTime{}) {
        // Due: the moment this host would be declared down if no probe answers before.
        const WallTime due = o.lastSeen + config_.downAfter + milliseconds(1);
        wake(due);
      } else if (next == HostHealth::Unknown) {
        wake(config_.startedAt + config_.downAfter + milliseconds(1));
      }
    }
  }

  void wake(WallTime at) {
    if (at <= now_) return;
    if (!d_.wakeAt || at < *d_.wakeAt) d_.wakeAt = at;
  }

  // ---- 2. observation

  void observeTasks() {
    for (auto& [id, t] : tasks_) {
      (void)id;
      if (!t.live() || t.host.empty() || !observable(t.host)) continue;
      if (t.state == TaskState::Waiting) setState(t, TaskState::Assigned);
      const HostObservation& o = *observed_.at(t.host);
      if (auto err = o.taskErrors.find(t.id); err != o.taskErrors.end()) {
        end(t, TaskState::Failed, err->second);
        event("task", "failed", &t, "", err->second);
        continue;
      }
      const ObservedTaskContainer* c = containerOf(t);
      if (c == nullptr) {
        // A start-first replacement on the same host takes the old container's place: the old task
        // ends as replaced (step 4), not as failed.
        if (replacedBy(t.id) != nullptr) continue;
        if (t.state == TaskState::Running || t.state == TaskState::Starting) {
          end(t, TaskState::Failed, "its container was removed");
          event("task", "failed", &t, "", "its container was removed");
        }
        continue;
      }
      if (!c->id.empty()) t.containerId = c->id;
      switch (c->phase) {
        case ContainerPhase::Created:
          break;
        case ContainerPhase::Running:
          if (c->health == HealthStatus::Unhealthy) {
            end(t, TaskState::Failed, "unhealthy");
            event("task", "failed", &t, "", "unhealthy");
          } else if (c->health == HealthStatus::Starting) {
            if (t.state != TaskState::Starting) setState(t, TaskState::Starting);
          } else if (t.state != TaskState::Running) {
            setState(t, TaskState::Running);
            t.runningSince = now_;
            event("task", "running", &t, "", "");
          }
          break;
        case ContainerPhase::Exited: {
          t.exitCode = c->exitCode;
          if (c->exitCode && *c->exitCode == 0) {
            end(t, TaskState::Complete, "");
            event("task", "complete", &t, "", "exited with status 0");
          } else {
            const std::string why =
                c->exitCode ? fmt::format("exited with status {}", *c->exitCode) : std::string("exited");
            end(t, TaskState::Failed, why);
            event("task", "failed", &t, "", why);
          }
          break;
        }
      }
    }
  }

  // The live task that replaces `id` start-first, if any.
  const Task* replacedBy(const std::string& id) const {
    auto it = replacers_.find(id);
    if (it == replacers_.end()) return nullptr;
    for (const Task* t : it->second) {
      if (t->live() && t->replaces == id) return t;
    }
    return nullptr;
  }

  // ---- 3. lost hosts

  void lostHosts() {
    if (std::none_of(health_.begin(), health_.end(), [](const auto& h) { return h.second == HostHealth::Down; })) return;
    for (auto& [id, t] : tasks_) {
      (void)id;
      if (!t.live() || t.host.empty() || healthOf(t.host) != HostHealth::Down) continue;
      const ServiceDef* d = def(t.stack, t.service, t.specGeneration);
      const bool global = d != nullptr && d->global;
      const bool bound = d != nullptr && d->volumeBound;
      const ServiceRecord* record = nullptr;
      if (auto r = state_.services.find({t.stack, t.service}); r != state_.services.end()) record = &r->second;
      const bool movedByUser = record != nullptr && !record->pinnedHost.empty() && record->pinnedHost != t.host;
      if (global || (bound && !movedByUser)) {
        const std::string why =
            global ? fmt::format("host {} is down (a global task runs on its own host)", t.host)
                   : fmt::format(
                         "host {} is down; {} keeps its volume's data there, so it waits for the host (or move "
                         "it: `berth service update --force --host NEW {}_{}`)",
                         t.host, t.service, t.stack, t.service);
        if (t.state != TaskState::Waiting) {
          setState(t, TaskState::Waiting, why);
          event("task", "waiting", &t, "", why);
        }
        continue;
      }
      const std::string why = fmt::format("host {} is down", t.host);
      end(t, TaskState::Orphaned, why);
      event("task", "orphaned", &t, "", why + "; starting it elsewhere");
    }
  }

  // Services dropped from their stack's file: their tasks end.
  void droppedServices() {
    for (auto& [id, t] : tasks_) {
      (void)id;
      if (!t.live() || state_.services.count({t.stack, t.service}) != 0) continue;
      auto stack = state_.stacks.find(t.stack);
      if (stack == state_.stacks.end() || stack->second.removing) continue;
      end(t, TaskState::Shutdown, "removed from the stack");
      event("task", "shutdown", &t, "", "its service was removed from the stack");
    }
  }

  // ---- 4. start-first replacements

  void startFirstDone() {
    for (auto& [id, n] : tasks_) {
      (void)id;
      if (!n.live() || n.replaces.empty() || n.state != TaskState::Running) continue;
      auto old = tasks_.find(n.replaces);
      if (old == tasks_.end() || !old->second.live()) continue;
      end(old->second, TaskState::Shutdown, "replaced by " + n.id);
      event("task", "replaced", &old->second, "", fmt::format("by {} on {}", n.id, n.host));
    }
  }

  // ---- 5. services

  // The slots a service should fill, with the host for global services.
  std::map<int, std::string> wantedSlots(const ServiceRecord& record, const ServiceDef& d) {
    std::map<int, std::string> slots;
    if (!d.global) {
      const int replicas = record.replicas.value_or(d.replicas);
      for (int i = 1; i <= replicas; ++i) slots[i] = "";
      return slots;
    }
    for (const HostCandidate& c : placer_.hosts()) {
      HostCandidate asIfReady = c;
      // A global task stays on a host that is down (it waits); only constraints and draining decide.
      if (asIfReady.health == HostHealth::Down) asIfReady.health = HostHealth::Ready;
      if (asIfReady.health != HostHealth::Ready) continue;
      if (eligible(d.placement, asIfReady)) slots[c.host->index] = c.host->name;
    }
    return slots;
  }

  // Whether `slot` is one of `wanted` (replicated services want 1..replicas: no search).
  static bool isWanted(const std::map<int, std::string>& wanted, const ServiceDef& d, const ServiceRecord& record,
                       int slot) {
    if (d.global) return wanted.count(slot) != 0;
    return slot >= 1 && slot <= record.replicas.value_or(d.replicas);
  }

  bool stale(const Task& t, const ServiceRecord& record, const ServiceDef& current) const {
    if (t.forceCounter != record.forceCounter) return true;
    if (t.specGeneration == record.specGeneration) return false;
    const ServiceDef* mine = def(t.stack, t.service, t.specGeneration);
    return mine == nullptr || mine->configHash != current.configHash;
  }

  // Whether an ended task's slot gets a new task, as the restart policy says, and when.
  struct Restart {
    bool due = false;
    WallTime notBefore{};
    int restarts = 0;  // for the new task (see Task::restarts)
    WallTime windowStart{};
    int crashLoop = 0;
    std::string avoid{};  // the host the last task could not even start on
  };

  Restart restartDue(const std::vector<Task*>& slot, const ServiceRecord& record, const ServiceDef& d) {
    Restart r;
    r.notBefore = now_;
    const Task* last = nullptr;
    for (const Task* t : slot) {
      if (!t->live()) last = t;
    }
    r.due = true;
    if (last == nullptr) return r;
    // Moved or shut down (a lost host, an update): replaced at once, not a restart.
    if (last->state != TaskState::Failed && last->state != TaskState::Complete) return r;
    r.due = false;
    if (d.restart.condition == RestartCondition::None) return r;
    if (d.restart.condition == RestartCondition::OnFailure && last->state == TaskState::Complete) return r;
    // max_attempts counts restarts (not the first run) of this definition, within `window` when
    // one is set.
    const bool sameDefinition =
        last->specGeneration == record.specGeneration && last->forceCounter == record.forceCounter;
    int prior = sameDefinition ? last->restarts : 0;
    WallTime windowStart = sameDefinition ? last->windowStart : WallTime{};
    if (d.restart.window > milliseconds(0) && windowStart != WallTime{} &&
        last->stateSince - windowStart > d.restart.window) {
      prior = 0;
      windowStart = WallTime{};
    }
    if (d.restart.maxAttempts && prior >= *d.restart.maxAttempts) return r;
    r.due = true;
    r.restarts = prior + 1;
    r.windowStart = windowStart == WallTime{} ? last->stateSince : windowStart;
    // Crash loops back off as the engine's own restart policy does: the first restart is at once
    // (a container that died is replaced within a second), then 200 ms, 400 ms, ... up to 10 s while
    // the slot's tasks keep ending within 10 s of starting (or never start: a missing image).
    const bool brief = last->runningSince == WallTime{} || last->stateSince - last->runningSince < seconds(10);
    r.crashLoop = brief ? last->crashLoop + 1 : 0;
    milliseconds backoff{0};
    if (r.crashLoop >= 2) {
      backoff = std::min<milliseconds>(milliseconds(100L << std::min(r.crashLoop - 1, 8)), seconds(10));
    }
    r.notBefore = last->stateSince + std::max(d.restart.delay, backoff);
    // A task that could not even start (no image, a port taken) tries another host if one fits.
    if (last->runningSince == WallTime{} && last->state == TaskState::Failed && !last->exitCode) r.avoid = last->host;
    return r;
  }

  void service(const ServiceRecord& recordIn) {
    ServiceRecord record = recordIn;
    const ServiceDef* dp = def(record.stack, record.name, record.specGeneration);
    if (dp == nullptr) return;
    const ServiceDef& d = *dp;
    const std::map<int, std::string> wanted = wantedSlots(record, d);

    // Slots no longer wanted (in ID order, as events report them).
    std::vector<Task*> unwanted;
    for (Task* t : serviceTasks(record.stack, record.name)) {
      if (t->live() && !isWanted(wanted, d, record, t->slot)) unwanted.push_back(t);
    }
    std::sort(unwanted.begin(), unwanted.end(), [](const Task* a, const Task* b) { return a->id < b->id; });
    for (Task* task : unwanted) {
      Task& t = *task;
      const std::string why = d.global ? "its host no longer runs the service" : "scaled down";
      end(t, TaskState::Shutdown, why);
      event("task", "shutdown", &t, "", why);
    }

    // Every wanted slot has a live task (placing pending ones when a host now fits).
    for (const auto& [slot, globalHost] : wanted) {
      std::vector<Task*> tasks = slotTasks(record.stack, record.name, slot);
      bool live = false;
      for (Task* t : tasks) {
        if (!t->live()) continue;
        live = true;
        if (t->state == TaskState::Pending) {
          const ServiceDef* td = def(t->stack, t->service, t->specGeneration);
          placeTask(*t, td != nullptr ? *td : d, d.global ? globalHost : std::string(), "", false);
        }
      }
      if (live) continue;
      const Restart restart = restartDue(tasks, record, d);
      if (!restart.due) continue;
      std::string preferred = globalHost;
      if (preferred.empty()) {
        for (const Task* t : tasks) {
          if (!t->host.empty()) preferred = t->host;
        }
        // A lost host is no place to restart on.
        if (!preferred.empty() && healthOf(preferred) != HostHealth::Ready) preferred.clear();
        if (preferred == restart.avoid && !d.volumeBound) preferred.clear();
      }
      Task& t = newTask(record, slot);
      t.notBefore = restart.notBefore;
      t.restarts = restart.restarts;
      t.windowStart = restart.windowStart;
      t.crashLoop = restart.crashLoop;
      if (restart.notBefore > now_) wake(restart.notBefore);
      placeTask(t, d, preferred, d.global || d.volumeBound ? "" : restart.avoid, true);
    }

    rollOut(record, d, wanted);
    if (!(record == recordIn)) d_.change.putServices.push_back(record);
  }

  void rollOut(ServiceRecord& record, const ServiceDef& d, const std::map<int, std::string>& wanted) {
    const bool rollingBack =
        record.updateState == UpdateState::RollingBack || record.updateState == UpdateState::RollbackPaused;
    const RolloutRule& rule = rollingBack ? d.rollback : d.update;
    std::vector<Task*> staleTasks;
    std::set<std::string> replaced;
    const std::vector<Task*> mine = serviceTasks(record.stack, record.name);
    for (const Task* t : mine) {
      if (t->live() && !t->replaces.empty()) replaced.insert(t->replaces);
    }
    for (Task* t : mine) {
      if (!t->live() || !isWanted(wanted, d, record, t->slot)) continue;
      if (replaced.count(t->id) != 0) continue;
      if (stale(*t, record, d)) staleTasks.push_back(t);
    }
    std::sort(staleTasks.begin(), staleTasks.end(),
              [](const Task* a, const Task* b) { return a->slot != b->slot ? a->slot < b->slot : a->id < b->id; });
    const bool updating = record.updateState == UpdateState::Updating || record.updateState == UpdateState::RollingBack;
    if (staleTasks.empty() && !updating) return;
    if (record.updateState == UpdateState::Paused || record.updateState == UpdateState::RollbackPaused) return;
    if (!updating) {
      record.updateState = UpdateState::Updating;
      record.updateStartedAt = now_;
      record.lastBatchAt = WallTime{};
      record.updateFailures = 0;
      record.updateMessage.clear();
      serviceEvent(record, "update_started", "");
    }
    // This update's own tasks: in flight until they ran (healthy) for `monitor`; failed ones count.
    int inflight = 0;
    int failures = 0;
    const Task* lastFailed = nullptr;  // the last in ID order
    for (const Task* task : mine) {
      const Task& t = *task;
      if (t.createdAt < record.updateStartedAt) continue;
      if (stale(t, record, d)) continue;
      if (t.live()) {
        const bool settled = t.state == TaskState::Running && now_ - t.runningSince >= rule.monitor;
        if (!settled) {
          ++inflight;
          if (t.state == TaskState::Running) wake(t.runningSince + rule.monitor);
        }
      } else if (t.state == TaskState::Failed &&
                 (t.runningSince == WallTime{} || t.stateSince - t.runningSince < rule.monitor)) {
        ++failures;
        if (lastFailed == nullptr || lastFailed->id < t.id) lastFailed = &t;
      }
    }
    record.updateFailures = failures;
    const std::string lastFailure =
        lastFailed == nullptr ? "" : fmt::format("{} failed: {}", taskName(*lastFailed), lastFailed->error);
    const int total = std::max<int>(1, static_cast<int>(wanted.size()));
    if (failures > 0 && static_cast<double>(failures) / total > rule.maxFailureRatio) {
      switch (rule.failureAction) {
        case FailureAction::Pause: {
          record.updateState = rollingBack ? UpdateState::RollbackPaused : UpdateState::Paused;
          record.updateMessage = (rollingBack ? "rollback paused: " : "update paused: ") + lastFailure;
          serviceEvent(record, rollingBack ? "rollback_paused" : "paused", record.updateMessage);
          return;
        }
        case FailureAction::Rollback:
          if (!rollingBack && record.previousGeneration != 0) {
            std::swap(record.specGeneration, record.previousGeneration);
            record.updateState = UpdateState::RollingBack;
            record.updateStartedAt = now_;
            record.lastBatchAt = WallTime{};
            record.updateFailures = 0;
            record.updateMessage = "update rolled back: " + lastFailure;
            serviceEvent(record, "rollback", record.updateMessage);
            return;  // the next pass rolls the previous definition out
          }
          record.updateState = rollingBack ? UpdateState::RollbackPaused : UpdateState::Paused;
          record.updateMessage = (rollingBack ? "rollback paused: " : "update paused: ") + lastFailure;
          serviceEvent(record, "paused", record.updateMessage);
          return;
        case FailureAction::Continue:
          break;
      }
    }
    if (staleTasks.empty()) {
      if (inflight == 0) {
        record.updateState = rollingBack ? UpdateState::RolledBack : UpdateState::Completed;
        serviceEvent(record, rollingBack ? "rollback_completed" : "update_completed", "");
      }
      return;
    }
    const int parallelism = rule.parallelism <= 0 ? static_cast<int>(staleTasks.size()) : rule.parallelism;
    if (inflight >= parallelism) return;
    if (inflight == 0 && record.lastBatchAt != WallTime{} && now_ < record.lastBatchAt + rule.delay) {
      wake(record.lastBatchAt + rule.delay);
      return;
    }
    const int room = parallelism - inflight;
    for (int i = 0; i < room && i < static_cast<int>(staleTasks.size()); ++i) {
      Task& old = *staleTasks[static_cast<std::size_t>(i)];
      const std::string oldHost = old.host;
      const std::string oldId = old.id;
      if (!rule.startFirst || old.state == TaskState::Pending) {
        end(old, TaskState::Shutdown, "updated");
        event("task", "shutdown", &old, "", "replaced by the update");
      }
      Task& n = newTask(record, old.slot);
      if (rule.startFirst && old.state != TaskState::Pending) setReplaces(n, oldId);
      placeTask(n, d, d.global ? wanted.at(n.slot) : (healthOf(oldHost) == HostHealth::Ready ? oldHost : ""), "", true);
    }
    record.lastBatchAt = now_;
  }

  void serviceEvent(const ServiceRecord& record, std::string action, std::string message) {
    event("service", std::move(action), nullptr, "", std::move(message));
    d_.events.back().stack = record.stack;
    d_.events.back().service = record.name;
    d_.events.back().name = record.name;
  }

  // ---- 6. drained hosts

  void drain() {
    if (std::none_of(state_.hosts.begin(), state_.hosts.end(),
                     [](const auto& h) { return h.second.availability == Availability::Drain; })) {
      return;
    }
    std::set<std::string> replaced;
    for (const auto& [id, t] : tasks_) {
      (void)id;
      if (t.live() && !t.replaces.empty()) replaced.insert(t.replaces);
    }
    std::vector<std::string> moving;
    for (const auto& [id, t] : tasks_) {
      if (!t.live() || t.host.empty() || replaced.count(id) != 0) continue;
      auto h = state_.hosts.find(t.host);
      if (h == state_.hosts.end() || h->second.availability != Availability::Drain) continue;
      if (healthOf(t.host) != HostHealth::Ready) continue;
      moving.push_back(id);
    }
    for (const std::string& id : moving) {
      Task& old = tasks_.at(id);
      auto record = state_.services.find({old.stack, old.service});
      const ServiceDef* d = def(old.stack, old.service, old.specGeneration);
      if (record == state_.services.end() || d == nullptr || d->global) continue;
      if (d->volumeBound && record->second.pinnedHost.empty()) {
        // Its data lives in a volume on this host: moving it would start it empty elsewhere.
        const std::string why = fmt::format(
            "host {} is draining, but {} keeps its volume's data here; move it with `berth service update "
            "--force --host NEW {}_{}`",
            old.host, old.service, old.stack, old.service);
        if (old.error != why) old.error = why;
        continue;
      }
      ServiceRecord asOld = record->second;
      asOld.specGeneration = old.specGeneration;
      asOld.forceCounter = old.forceCounter;
      Task& n = newTask(asOld, old.slot);
      setReplaces(n, old.id);
      placeTask(n, *d, "", old.host, true);
      if (n.state == TaskState::Pending) {
        // Nowhere to go: the old task keeps running on the draining host; the new one waits.
        event("task", "drain_blocked", &old, "", n.error);
      }
    }
  }

  // ---- 7. removed stacks

  void removeStacks() {
    for (const auto& [name, stack] : state_.stacks) {
      if (!stack.removing) continue;
      for (auto& [id, t] : tasks_) {
        (void)id;
        if (t.stack != name || !t.live()) continue;
        end(t, TaskState::Shutdown, "stack removed");
      }
      // Gone once no ready host shows anything of it (a down host is cleaned when it returns).
      bool remains = false;
      for (const auto& [hostName, host] : state_.hosts) {
        (void)host;
        if (!observable(hostName)) continue;
        for (const ObservedTaskContainer& c : obs_.at(hostName).containers) {
          if (c.stack == name) remains = true;
        }
      }
      if (remains) continue;
      d_.change.deleteStacks.push_back(name);
      for (const auto& [key, v] : state_.versions) {
        if (key.first == name) d_.change.deleteVersions.push_back(key);
      }
      for (const auto& [key, r] : state_.services) {
        if (key.first == name) d_.change.deleteServices.push_back(key);
      }
      for (const auto& [id, t] : tasks_) {
        if (t.stack == name) {
          d_.change.deleteTasks.push_back(id);
          deleted_.insert(id);
        }
      }
      ControllerEvent e;
      e.time = now_;
      e.type = "stack";
      e.action = "removed";
      e.stack = name;
      e.name = name;
      d_.events.push_back(std::move(e));
    }
  }

  // ---- 8. history

  void history() {
    std::map<std::tuple<std::string, std::string, int>, std::vector<const Task*>> ended;
    for (const auto& [id, t] : tasks_) {
      if (t.live() || deleted_.count(id) != 0) continue;
      ended[{t.stack, t.service, t.slot}].push_back(&t);
    }
    for (auto& [slot, list] : ended) {
      (void)slot;
      if (static_cast<int>(list.size()) <= config_.historyPerSlot) continue;
      std::sort(list.begin(), list.end(), [](const Task* a, const Task* b) {
        return a->createdAt != b->createdAt ? a->createdAt > b->createdAt : a->id > b->id;
      });
      for (std::size_t i = static_cast<std::size_t>(config_.historyPerSlot); i < list.size(); ++i) {
        const Task& t = *list[i];
        if (!t.host.empty() && containerOf(t) != nullptr) continue;  // its container goes first
        d_.change.deleteTasks.push_back(t.id);
        deleted_.insert(t.id);
      }
    }
  }

  // ---- 9. jobs

  // The ended task whose exited container is the final word of a slot (restart policy done): its
  // container stays for `logs` and `ps`.
  bool kept(const Task& t) const {
    if (t.live() || (t.state != TaskState::Complete && t.state != TaskState::Failed)) return false;
    auto stack = state_.stacks.find(t.stack);
    if (stack == state_.stacks.end() || stack->second.removing) return false;
    auto svc = byService_.find({t.stack, t.service});
    if (svc == byService_.end()) return true;
    auto slot = svc->second.find(t.slot);
    if (slot == svc->second.end()) return true;
    for (const Task* other : slot->second) {
      if (other->live() || other->createdAt > t.createdAt) return false;
    }
    return true;
  }

  void jobs() {
    for (const auto& [hostName, host] : state_.hosts) {
      (void)host;
      if (!observable(hostName)) continue;
      const HostObservation& o = obs_.at(hostName);
      for (const ObservedTaskContainer& c : o.containers) {
        const Task* t = nullptr;
        if (auto it = tasks_.find(c.task);
            it != tasks_.end() && it->second.host == hostName && deleted_.count(c.task) == 0) {
          t = &it->second;
        }
        if (t == nullptr) {
          d_.jobs.insert({hostName, c.stack});  // not ours (any more): removed
          continue;
        }
        if (t->live()) {
          if (c.phase == ContainerPhase::Created) {
            if (t->notBefore > now_) {
              wake(t->notBefore);
            } else {
              d_.jobs.insert({hostName, t->stack});
            }
          }
          continue;
        }
        if (!kept(*t)) d_.jobs.insert({hostName, t->stack});
      }
    }
    // Live tasks with no container on their (observable) host yet.
    for (const auto& [id, t] : tasks_) {
      if (!t.live() || t.host.empty() || t.state == TaskState::Pending || deleted_.count(id) != 0) continue;
      if (containerOf(t) != nullptr || !observable(t.host)) continue;
      if (t.notBefore > now_) {
        wake(t.notBefore);
        continue;
      }
      d_.jobs.insert({t.host, t.stack});
    }
  }

  const ClusterState& state_;
  const Observations& obs_;
  const DefCatalog& defs_;
  const ReconcileConfig& config_;
  const WallTime now_;
  const IdSource& newId_;
  Decisions d_;
  std::map<std::string, Task> tasks_;
  std::map<std::pair<std::string, std::string>, std::map<int, std::vector<Task*>>> byService_;
  std::map<std::string, std::vector<Task*>> replacers_;  // task ID → tasks that replace it
  std::unordered_map<std::string, std::unordered_map<std::string, const ObservedTaskContainer*>> containers_;
  std::set<std::string> deleted_;
  // By host name; hashed, as they are looked up for every task.
  std::unordered_map<std::string, HostHealth> health_;
  std::unordered_map<std::string, const HostObservation*> observed_;
  std::map<std::string, PlacementSpec> specs_;
  Placer placer_;
};

}  // namespace

std::string describe(const ControllerEvent& e) {
  std::string text = e.type + " ";
  if (!e.name.empty()) text += e.name + " ";
  text += e.action;
  if (e.type == "task" && !e.host.empty()) text += " on " + e.host;
  if (!e.message.empty()) text += ": " + e.message;
  return text;
}

Decisions reconcile(const ClusterState& state, const Observations& observations, const DefCatalog& defs,
                    const ReconcileConfig& config, WallTime now, const IdSource& newId) {
  return Pass(state, observations, defs, config, now, newId).run();
}

engine::Labels taskLabels(const Task& task) {
  return {{std::string(labels::kStack), task.stack},
          {std::string(labels::kService), task.service},
          {std::string(labels::kSlot), std::to_string(task.slot)},
          {std::string(labels::kTask), task.id},
          {std::string(labels::kGeneration), std::to_string(task.specGeneration)}};
}

HostWork hostWork(const ClusterState& state, const DefCatalog& defs, const std::string& host,
                  const std::string& stack, WallTime now) {
  HostWork w;
  w.host = host;
  w.stack = stack;
  auto s = state.stacks.find(stack);
  if (s == state.stacks.end() || s->second.removing) {
    w.remove = true;
    w.removeVolumes = s != state.stacks.end() && s->second.removeVolumes;
    return w;
  }
  w.generation = s->second.generation;
  std::set<std::string> images;
  for (const auto& [key, record] : state.services) {
    if (key.first != stack) continue;
    w.serviceGenerations[record.name] = record.specGeneration;
    w.slots[record.name];  // every service is listed: one with no slot here has no container here
    if (auto d = defs.find(DefKey{stack, record.name, record.specGeneration}); d != defs.end()) {
      (void)d;
    }
  }
  // Live tasks here, by (service, slot); a start-first pair on one slot becomes one replacement.
  std::map<std::pair<std::string, int>, std::vector<const Task*>> live;
  std::map<std::pair<std::string, int>, const Task*> lastEnded;
  std::set<std::pair<std::string, int>> liveAnywhere;
  for (const auto& [id, t] : state.tasks) {
    (void)id;
    if (t.stack != stack) continue;
    const auto key = std::make_pair(t.service, t.slot);
    if (t.live()) {
      liveAnywhere.insert(key);
      if (t.host == host && t.state != TaskState::Pending) live[key].push_back(&t);
      continue;
    }
    const Task*& last = lastEnded[key];
    if (last == nullptr || t.createdAt > last->createdAt) last = &t;
  }
  for (auto& [key, tasks] : live) {
    std::sort(tasks.begin(), tasks.end(), [](const Task* a, const Task* b) { return a->createdAt < b->createdAt; });
    const Task& newest = *tasks.back();
    if (newest.notBefore > now) {
      // A delayed restart: nothing of the slot here until it is due (the old container goes).
      if (tasks.size() == 1) continue;
    }
    const Task& t = newest.notBefore > now ? *tasks.front() : newest;
    plan::Slot slot;
    slot.number = t.slot;
    slot.labels = taskLabels(t);
    slot.start = t.state == TaskState::Assigned || t.state == TaskState::Starting;
    for (const Task* other : tasks) {
      if (other != &t && t.replaces == other->id) slot.startFirst = true;
    }
    w.slots[key.first].push_back(std::move(slot));
    w.containerTask[containerName(stack, t.service, t.slot)] = t.id;
    auto d = defs.find(DefKey{stack, t.service, t.specGeneration});
    if (d != defs.end()) images.insert(d->second.image);
  }
  // The final task of a slot whose restart policy ended it keeps its container.
  for (const auto& [key, t] : lastEnded) {
    if (t->host != host || live.count(key) != 0) continue;
    if (t->state != TaskState::Complete && t->state != TaskState::Failed) continue;
    if (liveAnywhere.count(key) != 0) continue;  // the slot runs again (elsewhere)
    plan::Slot slot;
    slot.number = t->slot;
    slot.labels = taskLabels(*t);
    slot.start = false;
    w.slots[key.first].push_back(std::move(slot));
  }
  w.images.assign(images.begin(), images.end());
  return w;
}

}  // namespace berth::cluster
