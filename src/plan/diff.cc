#include "plan/diff.h"

#include <fmt/core.h>

#include <algorithm>
#include <functional>
#include <set>

#include "base/strings.h"
#include "spec/hash.h"

namespace berth::plan {
namespace {

bool isAnonymousVolumeName(std::string_view name) {
  if (name.size() != 64) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

void addUnique(std::vector<std::size_t>& list, std::size_t index) {
  if (std::find(list.begin(), list.end(), index) == list.end()) list.push_back(index);
}

void addAll(std::vector<std::size_t>& list, const std::vector<std::size_t>& more) {
  for (const std::size_t i : more) addUnique(list, i);
}

// The services `names` select, plus their dependencies (transitively) unless noDeps.
Result<std::set<std::string>> scopeOf(const spec::Project& project, const std::vector<std::string>& names,
                                      bool noDeps) {
  std::set<std::string> scope;
  if (names.empty()) {
    for (const auto& [name, s] : project.services) scope.insert(name);
    return scope;
  }
  std::function<void(const std::string&)> visit = [&](const std::string& name) {
    if (!scope.insert(name).second || noDeps) return;
    auto it = project.services.find(name);
    if (it == project.services.end()) return;
    for (const std::string& dep : serviceDependencies(it->second)) {
      if (project.services.count(dep) != 0) visit(dep);
    }
  };
  for (const std::string& name : names) {
    if (project.services.count(name) == 0) {
      if (project.disabledServices.count(name) != 0) {
        return fail(ErrorCode::InvalidArgument, "service " + quoted(name) + " is not enabled (profiles)");
      }
      return fail(ErrorCode::InvalidArgument, "no such service: " + name);
    }
    visit(name);
  }
  return scope;
}

// Anonymous volumes of `old` that the service does not mount otherwise: target → volume name.
std::map<std::string, std::string> inheritedVolumes(const spec::Service& s, const ObservedContainer& old) {
  std::set<std::string> taken;
  for (const spec::VolumeMount& v : s.volumes) {
    if (!(v.type == "volume" && v.source.empty())) taken.insert(v.target);
  }
  std::map<std::string, std::string> out;
  for (const engine::MountPoint& m : old.mounts) {
    if (m.type != "volume" || !isAnonymousVolumeName(m.name)) continue;
    if (taken.count(m.destination) != 0) continue;
    out[m.destination] = m.name;
  }
  return out;
}

std::string effectivePullPolicy(const spec::Service& s, const UpOptions& options) {
  std::string p = options.pull.empty() ? s.pullPolicy : options.pull;
  if (p == "if_not_present" || p.empty()) p = "missing";
  return p;
}

class Differ {
 public:
  Differ(const spec::Project& project, const Observed& observed, const UpOptions& options)
      : project_(project), observed_(observed), options_(options) {}

  Status planImages(const std::vector<std::string>& order) {
    for (const std::string& name : order) {
      const spec::Service& s = project_.services.at(name);
      // Placed nowhere on this engine (the controller's slots): its image is not needed here.
      if (auto it = options_.slots.find(name); it != options_.slots.end() && it->second.empty()) continue;
      const std::string ref = serviceImage(project_, s);
      if (imageAction_.count(ref) != 0) continue;
      const ObservedImage* img = observed_.image(ref);
      const std::string policy = effectivePullPolicy(s, options_);
      if (s.build) {
        const bool build = options_.build == BuildPolicy::Always || policy == "build" ||
                           (img == nullptr && options_.build != BuildPolicy::Never);
        if (build) {
          BERTH_ASSIGN_OR_RETURN(ImageBuild b, imageBuild(project_, s));
          Action a;
          a.kind = ActionKind::BuildImage;
          a.target = ref;
          a.service = name;
          a.build = std::move(b);
          imageAction_[ref] = plan_.add(std::move(a));
          continue;
        }
        if (img != nullptr) continue;
      }
      if (policy == "always" || img == nullptr) {
        if (img == nullptr && policy == "never") {
          return fail(
              ErrorCode::NotFound,
              fmt::format("service {}: image {} is not on the engine and pull_policy is never", name, ref));
        }
        Action a;
        a.kind = ActionKind::PullImage;
        a.target = ref;
        a.service = name;
        imageAction_[ref] = plan_.add(std::move(a));
      }
    }
    return ok();
  }

  void planNetworksAndVolumes(const std::set<std::string>& scope) {
    std::set<std::string> networks;
    std::set<std::string> volumes;
    for (const std::string& name : scope) {
      const spec::Service& s = project_.services.at(name);
      if (auto it = options_.slots.find(name); it != options_.slots.end() && it->second.empty()) continue;
      if (s.networkMode.empty()) {
        for (const auto& [key, n] : s.networks) networks.insert(key);
      }
      for (const spec::VolumeMount& v : s.volumes) {
        if (v.type == "volume" && !v.source.empty() && project_.volumes.count(v.source) != 0)
          volumes.insert(v.source);
      }
    }
    for (const std::string& key : networks) {
      auto it = project_.networks.find(key);
      if (it == project_.networks.end() || it->second.external) continue;
      const engine::NetworkCreate spec = networkSpec(project_, key, it->second, options_.version);
      auto seen = observed_.networks.find(spec.name);
      if (seen != observed_.networks.end()) {
        if (seen->second.internal != spec.internal) {
          plan_.warnings.push_back(
              fmt::format("network {} was created with internal: {}; the file now says {} (run `berth down` "
                          "to recreate it)",
                          spec.name, seen->second.internal, spec.internal));
        }
        continue;
      }
      Action a;
      a.kind = ActionKind::CreateNetwork;
      a.target = spec.name;
      a.network = spec;
      networkAction_[key] = plan_.add(std::move(a));
    }
    for (const std::string& key : volumes) {
      const spec::Volume& v = project_.volumes.at(key);
      if (v.external) continue;
      const engine::VolumeCreate spec = volumeSpec(project_, key, v, options_.version);
      if (observed_.volumes.count(spec.name) != 0) continue;
      Action a;
      a.kind = ActionKind::CreateVolume;
      a.target = spec.name;
      a.volume = spec;
      volumeAction_[key] = plan_.add(std::move(a));
    }
  }

  void planOrphans() {
    std::vector<std::string> names;
    for (const ObservedContainer& c : observed_.containers) {
      if (c.oneOff) continue;
      if (project_.services.count(c.service) != 0 || project_.disabledServices.count(c.service) != 0)
        continue;
      if (options_.removeOrphans) {
        Action a;
        a.kind = ActionKind::RemoveContainer;
        a.target = c.name;
        a.service = c.service;
        a.containerId = c.id;
        a.reason = "orphan";
        a.timeout = options_.timeout;
        plan_.add(std::move(a));
      } else {
        names.push_back(c.name);
      }
    }
    if (!names.empty()) {
      plan_.warnings.push_back(fmt::format(
          "Found orphan containers ({}) for this project. If you removed or renamed this service in your "
          "compose file, you can run this command with the --remove-orphans flag to clean it up.",
          join(names, ", ")));
    }
  }

  Status planService(const std::string& name) {
    if (auto it = options_.slots.find(name); it != options_.slots.end()) return planSlots(name, it->second);
    const spec::Service& s = project_.services.at(name);
    int replicas = s.replicaCount();
    if (auto it = options_.scale.find(name); it != options_.scale.end()) replicas = it->second;
    if (replicas < 0)
      return fail(ErrorCode::InvalidArgument, "service " + name + ": scale must not be negative");
    if (replicas > 1 && !s.containerName.empty()) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("service {}: container_name {} allows one container; cannot scale to {}", name,
                              s.containerName, replicas));
    }
    const std::string ref = serviceImage(project_, s);
    const ObservedImage* img = observed_.image(ref);
    const bool imageActed = imageAction_.count(ref) != 0;
    const std::string hash = spec::serviceConfigHash(project_, s);

    std::vector<const ObservedContainer*> existing = observed_.serviceContainers(name);
    std::sort(existing.begin(), existing.end(),
              [](const ObservedContainer* a, const ObservedContainer* b) { return a->number < b->number; });
    std::vector<Action> pending;
    std::vector<Action> removals;
    std::set<int> used;
    std::vector<std::string> finalNames;

    std::string nsReason;
    for (const std::string& dep : namespaceDependencies(s)) {
      if (replaced_.count(dep) != 0) {
        nsReason = dep + " recreated";
        break;
      }
    }
    // A container in another's network namespace whose owner was replaced since (by an earlier
    // up) sits in a namespace that no longer exists: it must be replaced too.
    std::string staleOwner;
    if (startsWith(s.networkMode, "service:")) {
      const std::string owner = s.networkMode.substr(8);
      const auto owners = observed_.serviceContainers(owner);
      const ObservedContainer* first = nullptr;
      for (const ObservedContainer* o : owners) {
        if (o->number == 1) first = o;
      }
      if (first != nullptr) staleOwner = owner + " recreated";
      ownerId_ = first != nullptr ? first->id : std::string();
    }
    std::string restartReason;
    for (const auto& [dep, d] : s.dependsOn) {
      if (d.restart && replaced_.count(dep) != 0) {
        restartReason = dep + " recreated";
        break;
      }
    }

    for (const ObservedContainer* cp : existing) {
      const ObservedContainer& c = *cp;
      const bool surplus = static_cast<int>(used.size()) >= replicas;
      if (surplus || used.count(c.number) != 0 || c.number <= 0) {
        Action a;
        a.kind = ActionKind::RemoveContainer;
        a.target = c.name;
        a.service = name;
        a.containerId = c.id;
        a.reason = surplus ? "scale down" : "duplicate number";
        a.timeout = options_.timeout;
        removals.push_back(std::move(a));
        continue;
      }
      used.insert(c.number);
      std::string reason;
      switch (options_.recreate) {
        case RecreatePolicy::Force:
          reason = "forced";
          break;
        case RecreatePolicy::Diverged:
          if (c.configHash != hash) {
            reason = "config changed";
          } else if (img != nullptr && !c.imageId.empty() && c.imageId != img->id) {
            reason = "image changed";
          } else if (img == nullptr && imageActed) {
            reason = "image changed";
          } else if (!nsReason.empty()) {
            reason = nsReason;
          } else if (!staleOwner.empty() && startsWith(c.networkMode, "container:") &&
                     c.networkMode.substr(10) != ownerId_) {
            reason = staleOwner;
          }
          break;
        case RecreatePolicy::Never:
          break;
      }
      if (!reason.empty()) {
        TranslateOptions t = translateOptions(img);
        t.inheritedVolumes = inheritedVolumes(s, c);
        BERTH_ASSIGN_OR_RETURN(ContainerSpec spec, containerSpec(project_, s, c.number, t));
        Action a;
        a.kind = ActionKind::RecreateContainer;
        a.target = spec.create.name;
        a.service = name;
        a.reason = reason;
        a.containerId = c.id;
        a.container = std::move(spec);
        a.start = !options_.noStart;
        a.timeout = options_.timeout;
        finalNames.push_back(a.target);
        pending.push_back(std::move(a));
        continue;
      }
      finalNames.push_back(c.name);
      if (options_.noStart) continue;
      if (!c.running()) {
        Action a;
        a.kind = ActionKind::StartContainer;
        a.target = c.name;
        a.service = name;
        a.containerId = c.id;
        pending.push_back(std::move(a));
      } else if (!restartReason.empty()) {
        Action a;
        a.kind = ActionKind::RestartContainer;
        a.target = c.name;
        a.service = name;
        a.containerId = c.id;
        a.reason = restartReason;
        a.timeout = options_.timeout;
        pending.push_back(std::move(a));
      }
    }
    for (int number = 1; static_cast<int>(used.size()) < replicas; ++number) {
      if (used.count(number) != 0) continue;
      used.insert(number);
      BERTH_ASSIGN_OR_RETURN(ContainerSpec spec, containerSpec(project_, s, number, translateOptions(img)));
      Action a;
      a.kind = ActionKind::CreateContainer;
      a.target = spec.create.name;
      a.service = name;
      a.container = std::move(spec);
      a.start = !options_.noStart;
      finalNames.push_back(a.target);
      pending.push_back(std::move(a));
    }
    containerNames_[name] = finalNames;

    for (Action& a : removals) serviceActions_[name].push_back(plan_.add(std::move(a)));
    return addPending(name, s, ref, std::move(pending), {});
  }

  // Adds the service's new, replaced and started containers, each after what it needs: its image,
  // networks and volumes, the services whose namespaces it shares, its dependencies (and their
  // conditions), and `extra`.
  Status addPending(const std::string& name, const spec::Service& s, const std::string& ref,
                    std::vector<Action> pending, const std::vector<std::size_t>& extra) {
    if (pending.empty()) return ok();
    // What every new, replaced or started container of the service waits for.
    std::vector<std::size_t> after = extra;
    if (auto it = imageAction_.find(ref); it != imageAction_.end()) addUnique(after, it->second);
    if (s.networkMode.empty()) {
      for (const auto& [key, n] : s.networks) {
        if (auto it = networkAction_.find(key); it != networkAction_.end()) addUnique(after, it->second);
      }
    }
    for (const spec::VolumeMount& v : s.volumes) {
      if (auto it = volumeAction_.find(v.source); v.type == "volume" && it != volumeAction_.end()) {
        addUnique(after, it->second);
      }
    }
    for (const std::string& dep : namespaceDependencies(s)) {
      if (auto it = serviceActions_.find(dep); it != serviceActions_.end()) addAll(after, it->second);
    }
    for (const auto& [dep, d] : s.dependsOn) {
      if (options_.ignoreDependsOn) break;
      if (project_.services.count(dep) == 0) continue;
      if (scope_.count(dep) == 0) continue;  // --no-deps: not ours to wait for
      if (options_.noStart || d.condition == "service_started") {
        if (auto it = serviceActions_.find(dep); it != serviceActions_.end()) addAll(after, it->second);
        continue;
      }
      const ServiceCondition cond = d.condition == "service_healthy"
                                        ? ServiceCondition::Healthy
                                        : ServiceCondition::CompletedSuccessfully;
      addUnique(after, waitFor(dep, cond, name));
    }
    for (Action& a : pending) {
      a.after = after;
      if (a.kind == ActionKind::RecreateContainer || a.kind == ActionKind::CreateContainer)
        replaced_.insert(name);
      serviceActions_[name].push_back(plan_.add(std::move(a)));
    }
    return ok();
  }

  // The controller's mode (UpOptions::slots): exactly these numbered containers, identified by
  // their labels rather than by their configuration.
  Status planSlots(const std::string& name, const std::vector<Slot>& slots) {
    const spec::Service& s = project_.services.at(name);
    const std::string ref = serviceImage(project_, s);
    const ObservedImage* img = observed_.image(ref);
    std::map<int, const Slot*> wanted;
    for (const Slot& slot : slots) {
      if (slot.number <= 0) {
        return fail(ErrorCode::InvalidArgument,
                    fmt::format("service {}: slot {} is not a positive number", name, slot.number));
      }
      wanted[slot.number] = &slot;
    }
    const auto matches = [](const ObservedContainer& c, const Slot& slot) {
      for (const auto& [k, v] : slot.labels) {
        auto it = c.labels.find(k);
        if (it == c.labels.end() || it->second != v) return false;
      }
      return true;
    };
    std::map<int, std::vector<const ObservedContainer*>> byNumber;
    for (const ObservedContainer* c : observed_.serviceContainers(name)) byNumber[c->number].push_back(c);

    std::vector<Action> pending;
    std::vector<std::size_t> duplicates;  // removals the slot's own container waits for (its name)
    std::vector<std::string> finalNames;
    const auto removal = [&](const ObservedContainer& c, const char* reason) {
      Action a;
      a.kind = ActionKind::RemoveContainer;
      a.target = c.name;
      a.service = name;
      a.containerId = c.id;
      a.reason = reason;
      a.timeout = options_.timeout;
      return a;
    };
    for (const auto& [number, list] : byNumber) {
      auto w = wanted.find(number);
      if (w == wanted.end()) {
        for (const ObservedContainer* c : list) serviceActions_[name].push_back(plan_.add(removal(*c, "not placed here")));
        continue;
      }
      const Slot& slot = *w->second;
      BERTH_ASSIGN_OR_RETURN(ContainerSpec spec, containerSpec(project_, s, number, translateOptions(img)));
      const std::string canonical = spec.create.name;
      // Keep the container that is the slot's (its labels match), preferring the one under its own
      // name: an interrupted replacement can leave a second one under a temporary name.
      const ObservedContainer* keep = nullptr;
      for (const ObservedContainer* c : list) {
        const bool better = keep == nullptr || (matches(*c, slot) && !matches(*keep, slot)) ||
                            (matches(*c, slot) == matches(*keep, slot) && c->name == canonical &&
                             keep->name != canonical);
        if (better) keep = c;
      }
      for (const ObservedContainer* c : list) {
        if (c != keep) duplicates.push_back(plan_.add(removal(*c, "duplicate number")));
      }
      finalNames.push_back(canonical);
      // The slot's own container, left under a temporary name by a replacement that was
      // interrupted. It is complete when it runs (a start-first replacement starts it once its
      // networks and files are in) or when the old one is gone (a stop-first replacement removes
      // that only then): it only needs the slot's name (the old one, a duplicate, goes first).
      // Making it anew would stop the task's own running container. Otherwise it may lack its
      // networks or files: it is made anew.
      if (matches(*keep, slot) && keep->name != canonical && (keep->running() || list.size() == 1)) {
        Action a;
        a.kind = ActionKind::RenameContainer;
        a.target = canonical;
        a.service = name;
        a.reason = "left under a temporary name";
        a.containerId = keep->id;
        a.start = slot.start && !keep->running();
        pending.push_back(std::move(a));
        continue;
      }
      std::string reason;
      if (!matches(*keep, slot)) {
        for (const auto& [k, v] : slot.labels) {
          auto it = keep->labels.find(k);
          if (it == keep->labels.end() || it->second != v) {
            reason = k + " changed";
            break;
          }
        }
      } else if (keep->name != canonical) {
        reason = "left under a temporary name";
      }
      if (!reason.empty()) {
        TranslateOptions t = translateOptions(img);
        t.inheritedVolumes = inheritedVolumes(s, *keep);
        BERTH_ASSIGN_OR_RETURN(ContainerSpec replacement, containerSpec(project_, s, number, t));
        for (const auto& [k, v] : slot.labels) replacement.create.config.labels[k] = v;
        Action a;
        a.kind = ActionKind::RecreateContainer;
        a.target = canonical;
        a.service = name;
        a.reason = reason;
        a.containerId = keep->id;
        a.container = std::move(replacement);
        a.start = slot.start;
        a.startFirst = slot.startFirst && keep->running();
        a.timeout = options_.timeout;
        pending.push_back(std::move(a));
        continue;
      }
      if (slot.start && !keep->running()) {
        Action a;
        a.kind = ActionKind::StartContainer;
        a.target = keep->name;
        a.service = name;
        a.containerId = keep->id;
        pending.push_back(std::move(a));
      }
    }
    for (const auto& [number, slot] : wanted) {
      if (byNumber.count(number) != 0) continue;
      BERTH_ASSIGN_OR_RETURN(ContainerSpec spec, containerSpec(project_, s, number, translateOptions(img)));
      for (const auto& [k, v] : slot->labels) spec.create.config.labels[k] = v;
      Action a;
      a.kind = ActionKind::CreateContainer;
      a.target = spec.create.name;
      a.service = name;
      a.container = std::move(spec);
      a.start = slot->start;
      finalNames.push_back(a.target);
      pending.push_back(std::move(a));
    }
    containerNames_[name] = finalNames;
    return addPending(name, s, ref, std::move(pending), duplicates);
  }

  std::size_t waitFor(const std::string& service, ServiceCondition cond, const std::string& waiter) {
    const auto key = std::make_pair(service, cond);
    if (auto it = waitAction_.find(key); it != waitAction_.end()) return it->second;
    Action a;
    a.kind = ActionKind::WaitForService;
    a.target = service;
    a.service = service;
    a.condition = cond;
    a.waiter = waiter;
    a.containers = containerNames_[service];
    if (auto it = serviceActions_.find(service); it != serviceActions_.end()) a.after = it->second;
    const std::size_t index = plan_.add(std::move(a));
    waitAction_[key] = index;
    return index;
  }

  TranslateOptions translateOptions(const ObservedImage* img) const {
    TranslateOptions t;
    t.version = options_.version;
    t.serviceAliases = options_.serviceAliases;
    if (img != nullptr) t.imageId = img->id;
    return t;
  }

  Result<Plan> resources() {
    BERTH_ASSIGN_OR_RETURN(scope_, scopeOf(project_, options_.services, true));
    planNetworksAndVolumes(scope_);
    return std::move(plan_);
  }

  Result<Plan> run(bool imagesOnly) {
    BERTH_ASSIGN_OR_RETURN(scope_, scopeOf(project_, options_.services, options_.noDeps));
    BERTH_ASSIGN_OR_RETURN(const std::vector<std::string> all, dependencyOrder(project_));
    std::vector<std::string> order;
    for (const std::string& name : all) {
      if (scope_.count(name) != 0) order.push_back(name);
    }
    if (!imagesOnly) {
      planOrphans();
      planNetworksAndVolumes(scope_);
    }
    BERTH_TRY(planImages(order));
    if (imagesOnly) return std::move(plan_);
    for (const std::string& name : order) BERTH_TRY(planService(name));
    if (options_.wait && !options_.noStart) {
      for (const std::string& name : order) {
        if (containerNames_[name].empty()) continue;
        // A dependant already waits for it to be healthy: that wait covers this one.
        if (waitAction_.count({name, ServiceCondition::Healthy}) != 0) continue;
        Action a;
        a.kind = ActionKind::WaitForService;
        a.target = name;
        a.service = name;
        a.condition = ServiceCondition::RunningOrHealthy;
        a.containers = containerNames_[name];
        if (auto it = serviceActions_.find(name); it != serviceActions_.end()) a.after = it->second;
        plan_.add(std::move(a));
      }
    }
    return std::move(plan_);
  }

 private:
  const spec::Project& project_;
  const Observed& observed_;
  const UpOptions& options_;
  Plan plan_;
  std::set<std::string> scope_;
  std::map<std::string, std::size_t> imageAction_;    // reference → build/pull
  std::map<std::string, std::size_t> networkAction_;  // network key → create
  std::map<std::string, std::size_t> volumeAction_;   // volume key → create
  std::map<std::string, std::vector<std::size_t>> serviceActions_;
  std::map<std::pair<std::string, ServiceCondition>, std::size_t> waitAction_;
  std::map<std::string, std::vector<std::string>> containerNames_;
  std::set<std::string> replaced_;  // services that get new containers
  std::string ownerId_;             // planService: the namespace owner's current container
};

// Services that depend on each service (reverse edges), for ordering stops and removals.
std::map<std::string, std::set<std::string>> dependants(const spec::Project& project) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& [name, s] : project.services) {
    for (const std::string& dep : serviceDependencies(s)) out[dep].insert(name);
  }
  return out;
}

// The services with every service's dependants before it (ties by name); cycles are broken where
// they are found (diff reports them).
std::vector<std::string> dependantsFirst(const spec::Project& project,
                                         const std::map<std::string, std::set<std::string>>& back) {
  std::vector<std::string> order;
  std::set<std::string> seen;
  std::function<void(const std::string&)> visit = [&](const std::string& name) {
    if (!seen.insert(name).second) return;
    if (auto it = back.find(name); it != back.end()) {
      for (const std::string& d : it->second) visit(d);
    }
    order.push_back(name);
  };
  for (const auto& [name, s] : project.services) visit(name);
  return order;
}

Result<std::set<std::string>> selected(const spec::Project& project, const Selection& selection) {
  std::set<std::string> out;
  for (const std::string& name : selection.services) {
    if (project.services.count(name) == 0 && !project.services.empty()) {
      return fail(ErrorCode::InvalidArgument, "no such service: " + name);
    }
    out.insert(name);
  }
  return out;
}

// The selected containers grouped by service, in `order` (services of the project first, then any
// other service label the engine has, by name).
std::vector<std::pair<std::string, std::vector<const ObservedContainer*>>> grouped(
    const Observed& observed, const std::set<std::string>& services, bool includeOneOff,
    const std::vector<std::string>& order) {
  std::map<std::string, std::vector<const ObservedContainer*>> by;
  for (const ObservedContainer& c : observed.containers) {
    if (c.oneOff && !includeOneOff) continue;
    if (!services.empty() && services.count(c.service) == 0) continue;
    by[c.service].push_back(&c);
  }
  std::vector<std::pair<std::string, std::vector<const ObservedContainer*>>> out;
  for (const std::string& name : order) {
    if (auto it = by.find(name); it != by.end()) {
      out.emplace_back(name, std::move(it->second));
      by.erase(it);
    }
  }
  for (auto& [name, list] : by) out.emplace_back(name, std::move(list));
  return out;
}

// One action per container; each service's actions after those of the services `edges` names.
template <class Make>
Plan perContainer(const spec::Project& project, const Observed& observed,
                  const std::set<std::string>& services, bool includeOneOff, bool reverse, Make make) {
  Plan plan;
  const auto back = dependants(project);
  const auto order = reverse ? dependantsFirst(project, back)
                             : dependencyOrder(project).value_or(std::vector<std::string>{});
  std::map<std::string, std::vector<std::size_t>> done;
  for (const auto& [service, containers] : grouped(observed, services, includeOneOff, order)) {
    std::vector<std::size_t> after;
    auto it = project.services.find(service);
    if (it != project.services.end()) {
      if (reverse) {
        if (auto b = back.find(service); b != back.end()) {
          for (const std::string& d : b->second) addAll(after, done[d]);
        }
      } else {
        for (const std::string& d : serviceDependencies(it->second)) addAll(after, done[d]);
      }
    }
    for (const ObservedContainer* c : containers) {
      std::optional<Action> a = make(*c);
      if (!a) continue;
      a->target = c->name;
      a->service = c->service;
      a->containerId = c->id;
      a->after = after;
      done[service].push_back(plan.add(std::move(*a)));
    }
  }
  return plan;
}

}  // namespace

Result<std::vector<std::string>> dependencyOrder(const spec::Project& project) {
  std::vector<std::string> order;
  std::map<std::string, int> state;  // 1 visiting, 2 done
  std::function<Status(const std::string&, std::vector<std::string>&)> visit =
      [&](const std::string& name, std::vector<std::string>& path) -> Status {
    auto it = project.services.find(name);
    if (it == project.services.end()) return ok();
    if (state[name] == 2) return ok();
    path.push_back(name);
    if (state[name] == 1) {
      return fail(ErrorCode::InvalidArgument, "dependency cycle: " + join(path, " -> "));
    }
    state[name] = 1;
    for (const std::string& dep : serviceDependencies(it->second)) BERTH_TRY(visit(dep, path));
    state[name] = 2;
    path.pop_back();
    order.push_back(name);
    return ok();
  };
  for (const auto& [name, s] : project.services) {
    std::vector<std::string> path;
    BERTH_TRY(visit(name, path));
  }
  return order;
}

Result<Plan> diff(const spec::Project& project, const Observed& observed, const UpOptions& options) {
  return Differ(project, observed, options).run(false);
}

Result<Plan> imagePlan(const spec::Project& project, const Observed& observed, const UpOptions& options) {
  return Differ(project, observed, options).run(true);
}

Result<Plan> resourcePlan(const spec::Project& project, const Observed& observed,
                          const std::vector<std::string>& services, const std::string& version) {
  UpOptions o;
  o.services = services;
  o.noDeps = true;
  o.version = version;
  return Differ(project, observed, o).resources();
}

Plan planDown(const spec::Project& project, const Observed& observed, const DownOptions& options) {
  const bool noFile = project.services.empty() && project.disabledServices.empty();
  std::vector<std::string> orphans;
  std::set<std::string> skip;
  for (const ObservedContainer& c : observed.containers) {
    if (noFile || c.oneOff) continue;
    if (project.services.count(c.service) != 0 || project.disabledServices.count(c.service) != 0) continue;
    if (!options.removeOrphans) {
      orphans.push_back(c.name);
      skip.insert(c.id);
    }
  }
  Plan plan = perContainer(project, observed, {}, true, true,
                           [&](const ObservedContainer& c) -> std::optional<Action> {
                             if (skip.count(c.id) != 0) return std::nullopt;
                             Action a;
                             a.kind = ActionKind::RemoveContainer;
                             a.timeout = options.timeout;
                             a.removeVolumes = options.removeVolumes;
                             if (!noFile && project.services.count(c.service) == 0 &&
                                 project.disabledServices.count(c.service) == 0 && !c.oneOff) {
                               a.reason = "orphan";
                             }
                             return a;
                           });
  std::vector<std::size_t> containers;
  for (std::size_t i = 0; i < plan.actions.size(); ++i) containers.push_back(i);
  if (!orphans.empty()) {
    plan.warnings.push_back(
        fmt::format("Found orphan containers ({}) for this project. If you removed or renamed this service "
                    "in your compose "
                    "file, you can run this command with the --remove-orphans flag to clean it up.",
                    join(orphans, ", ")));
  }
  const auto removeNetwork = [&](const std::string& name) {
    Action a;
    a.kind = ActionKind::RemoveNetwork;
    a.target = name;
    a.after = containers;
    plan.add(std::move(a));
  };
  if (noFile) {
    for (const auto& [name, n] : observed.networks) removeNetwork(name);
  } else {
    for (const auto& [key, n] : project.networks) {
      if (n.external) continue;
      const std::string name = n.name.empty() ? project.name + "_" + key : n.name;
      if (observed.networks.count(name) != 0) removeNetwork(name);
    }
  }
  if (options.removeVolumes) {
    const auto removeVolume = [&](const std::string& name) {
      Action a;
      a.kind = ActionKind::RemoveVolume;
      a.target = name;
      a.after = containers;
      plan.add(std::move(a));
    };
    if (noFile) {
      for (const auto& [name, v] : observed.volumes) removeVolume(name);
    } else {
      for (const auto& [key, v] : project.volumes) {
        if (v.external) continue;
        const std::string name = v.name.empty() ? project.name + "_" + key : v.name;
        if (observed.volumes.count(name) != 0) removeVolume(name);
      }
    }
  }
  if (options.removeImages != RemoveImages::None) {
    std::set<std::string> images;
    for (const auto& [name, s] : project.services) {
      if (options.removeImages == RemoveImages::Local && !s.image.empty()) continue;
      images.insert(serviceImage(project, s));
    }
    if (noFile && options.removeImages == RemoveImages::All) {
      for (const ObservedContainer& c : observed.containers) images.insert(c.image);
    }
    for (const std::string& ref : images) {
      if (observed.image(ref) == nullptr) continue;
      Action a;
      a.kind = ActionKind::RemoveImage;
      a.target = ref;
      a.after = containers;
      plan.add(std::move(a));
    }
  }
  return plan;
}

Result<Plan> planStart(const spec::Project& project, const Observed& observed, const Selection& selection) {
  BERTH_ASSIGN_OR_RETURN(const std::set<std::string> services, selected(project, selection));
  Plan plan = perContainer(project, observed, services, selection.includeOneOff, false,
                           [](const ObservedContainer& c) -> std::optional<Action> {
                             if (c.running()) return std::nullopt;
                             Action a;
                             a.kind = ActionKind::StartContainer;
                             return a;
                           });
  // depends_on conditions other than service_started: wait before starting the dependants.
  Plan out;
  out.warnings = plan.warnings;
  std::map<std::size_t, std::size_t> moved;
  std::map<std::pair<std::string, ServiceCondition>, std::size_t> waits;
  for (std::size_t i = 0; i < plan.actions.size(); ++i) {
    Action a = plan.actions[i];
    std::vector<std::size_t> after;
    auto it = project.services.find(a.service);
    std::set<std::string> waited;  // dependencies with a condition: their wait replaces the order
    if (it != project.services.end()) {
      for (const auto& [dep, d] : it->second.dependsOn) {
        if (d.condition != "service_started") waited.insert(dep);
      }
    }
    for (const std::size_t d : a.after) {
      if (waited.count(plan.actions[d].service) == 0) addUnique(after, moved.at(d));
    }
    if (it != project.services.end()) {
      for (const auto& [dep, d] : it->second.dependsOn) {
        if (d.condition == "service_started" || project.services.count(dep) == 0) continue;
        const ServiceCondition cond = d.condition == "service_healthy"
                                          ? ServiceCondition::Healthy
                                          : ServiceCondition::CompletedSuccessfully;
        const auto key = std::make_pair(dep, cond);
        if (waits.count(key) == 0) {
          Action w;
          w.kind = ActionKind::WaitForService;
          w.target = dep;
          w.service = dep;
          w.condition = cond;
          w.waiter = a.service;
          for (const ObservedContainer* c : observed.serviceContainers(dep)) w.containers.push_back(c->name);
          for (std::size_t j = 0; j < i; ++j) {
            if (plan.actions[j].service == dep) addUnique(w.after, moved.at(j));
          }
          waits[key] = out.add(std::move(w));
        }
        addUnique(after, waits[key]);
      }
    }
    a.after = after;
    moved[i] = out.add(std::move(a));
  }
  return out;
}

Result<Plan> planStop(const spec::Project& project, const Observed& observed, const Selection& selection,
                      std::optional<int> timeout) {
  BERTH_ASSIGN_OR_RETURN(const std::set<std::string> services, selected(project, selection));
  return perContainer(project, observed, services, selection.includeOneOff, true,
                      [&](const ObservedContainer& c) -> std::optional<Action> {
                        if (!c.running()) return std::nullopt;
                        Action a;
                        a.kind = ActionKind::StopContainer;
                        a.timeout = timeout;
                        return a;
                      });
}

Result<Plan> planRestart(const spec::Project& project, const Observed& observed, const Selection& selection,
                         std::optional<int> timeout) {
  BERTH_ASSIGN_OR_RETURN(const std::set<std::string> services, selected(project, selection));
  return perContainer(project, observed, services, selection.includeOneOff, false,
                      [&](const ObservedContainer&) -> std::optional<Action> {
                        Action a;
                        a.kind = ActionKind::RestartContainer;
                        a.timeout = timeout;
                        return a;
                      });
}

Result<Plan> planKill(const spec::Project& project, const Observed& observed, const Selection& selection,
                      const std::string& signal) {
  BERTH_ASSIGN_OR_RETURN(const std::set<std::string> services, selected(project, selection));
  Plan plan = perContainer(project, observed, services, selection.includeOneOff, true,
                           [&](const ObservedContainer& c) -> std::optional<Action> {
                             if (!c.running()) return std::nullopt;
                             Action a;
                             a.kind = ActionKind::KillContainer;
                             a.signal = signal;
                             return a;
                           });
  for (Action& a : plan.actions) a.after.clear();  // killing needs no order
  return plan;
}

Result<Plan> planPause(const spec::Project& project, const Observed& observed, const Selection& selection) {
  BERTH_ASSIGN_OR_RETURN(const std::set<std::string> services, selected(project, selection));
  return perContainer(project, observed, services, selection.includeOneOff, true,
                      [](const ObservedContainer& c) -> std::optional<Action> {
                        if (c.state != engine::ContainerStatus::Running) return std::nullopt;
                        Action a;
                        a.kind = ActionKind::PauseContainer;
                        return a;
                      });
}

Result<Plan> planUnpause(const spec::Project& project, const Observed& observed, const Selection& selection) {
  BERTH_ASSIGN_OR_RETURN(const std::set<std::string> services, selected(project, selection));
  return perContainer(project, observed, services, selection.includeOneOff, false,
                      [](const ObservedContainer& c) -> std::optional<Action> {
                        if (c.state != engine::ContainerStatus::Paused) return std::nullopt;
                        Action a;
                        a.kind = ActionKind::UnpauseContainer;
                        return a;
                      });
}

Result<Plan> planRemove(const spec::Project& project, const Observed& observed, const Selection& selection,
                        bool stopFirst, bool removeVolumes) {
  BERTH_ASSIGN_OR_RETURN(const std::set<std::string> services, selected(project, selection));
  return perContainer(project, observed, services, selection.includeOneOff, true,
                      [&](const ObservedContainer& c) -> std::optional<Action> {
                        if (c.running() && !stopFirst) return std::nullopt;
                        Action a;
                        a.kind = ActionKind::RemoveContainer;
                        a.removeVolumes = removeVolumes;
                        return a;
                      });
}

}  // namespace berth::plan
