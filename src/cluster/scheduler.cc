#include "cluster/scheduler.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <tuple>

#include "base/strings.h"

namespace berth::cluster {
namespace {

std::string serviceKey(const PlacementSpec& spec) { return spec.stack + "/" + spec.service; }

std::string trimmed(std::string_view s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

const std::string* labelOf(const std::map<std::string, std::string>& labels, const std::string& key) {
  auto it = labels.find(key);
  return it == labels.end() ? nullptr : &it->second;
}

// The value a constraint compares on a host; nullopt when a label is absent.
std::optional<std::string> subject(const Constraint& c, const Host& host) {
  switch (c.field) {
    case Constraint::Field::Hostname:
      return host.facts.hostname.empty() ? host.name : host.facts.hostname;
    case Constraint::Field::NodeId:
      return host.id;
    case Constraint::Field::NodeLabel:
      if (const std::string* v = labelOf(host.labels, c.key)) return *v;
      return std::nullopt;
    case Constraint::Field::EngineLabel:
      if (const std::string* v = labelOf(host.facts.engineLabels, c.key)) return *v;
      return std::nullopt;
  }
  return std::nullopt;
}

bool satisfies(const Constraint& c, const Host& host) {
  const std::optional<std::string> v = subject(c, host);
  // node.hostname may also be written as the host's name in berth's inventory.
  bool same = v.has_value() && *v == c.value;
  if (c.field == Constraint::Field::Hostname && !same) same = host.name == c.value;
  return c.equal ? same : !same;
}

}  // namespace

Result<Constraint> parseConstraint(std::string_view text) {
  const auto bad = [&](const std::string& what) {
    return fail(ErrorCode::InvalidArgument, "placement constraint " + quoted(std::string(text)) + ": " + what);
  };
  Constraint c;
  std::size_t op = text.find("==");
  if (op != std::string_view::npos) {
    c.equal = true;
  } else {
    op = text.find("!=");
    if (op == std::string_view::npos) return bad("expected KEY==VALUE or KEY!=VALUE");
    c.equal = false;
  }
  const std::string key = trimmed(text.substr(0, op));
  c.value = trimmed(text.substr(op + 2));
  if (key.empty()) return bad("nothing before " + std::string(c.equal ? "==" : "!="));
  if (c.value.empty()) return bad("nothing after " + std::string(c.equal ? "==" : "!="));
  if (key == "node.hostname") {
    c.field = Constraint::Field::Hostname;
  } else if (key == "node.id") {
    c.field = Constraint::Field::NodeId;
  } else if (startsWith(key, "node.labels.") && key.size() > 12) {
    c.field = Constraint::Field::NodeLabel;
    c.key = key.substr(12);
  } else if (startsWith(key, "engine.labels.") && key.size() > 14) {
    c.field = Constraint::Field::EngineLabel;
    c.key = key.substr(14);
  } else if (key == "node.role") {
    return bad("node.role does not apply: berth's hosts have no roles (use node.labels.KEY)");
  } else {
    return bad("unknown attribute " + quoted(key) +
               " (node.hostname, node.id, node.labels.KEY, engine.labels.KEY)");
  }
  c.text = key + (c.equal ? "==" : "!=") + c.value;
  return c;
}

std::string formatCpus(double cpus) {
  const double r = std::round(cpus * 100) / 100;
  std::string s = fmt::format("{:.2f}", r);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s.empty() ? "0" : s;
}

std::string formatBytes(std::int64_t bytes) {
  constexpr double kKi = 1024;
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (std::fabs(v) >= kKi && u < 4) {
    v /= kKi;
    ++u;
  }
  std::string s = fmt::format("{:.1f}", v);
  if (s.size() > 2 && s.substr(s.size() - 2) == ".0") s.resize(s.size() - 2);
  return s + units[u];
}

bool eligible(const PlacementSpec& spec, const HostCandidate& h, std::string* why) {
  const Host& host = *h.host;
  // The reason is only spelled out when asked for: place() checks every host for every task.
  const auto no = [&](const auto& reason) {
    if (why != nullptr) *why = host.name + " " + reason();
    return false;
  };
  if (!spec.pinnedHost.empty() && host.name != spec.pinnedHost) {
    return no([&] { return "does not hold the service's volume (it is on " + spec.pinnedHost + ")"; });
  }
  switch (h.health) {
    case HostHealth::Down:
      return no([] { return std::string("is down"); });
    case HostHealth::Unknown:
      return no([] { return std::string("has not answered yet"); });
    case HostHealth::Ready:
      break;
  }
  if (host.availability == Availability::Drain) return no([] { return std::string("is draining"); });
  for (const Constraint& c : spec.constraints) {
    if (!satisfies(c, host)) return no([&] { return "fails " + c.text; });
  }
  return true;
}

namespace {

// Live tasks of the service `key` on the host.
int countOf(const HostCandidate& h, const std::string& key) {
  auto n = h.perService.find(key);
  return n == h.perService.end() ? 0 : n->second;
}

// Whether the host has room for one more task of `spec` (whose "stack/service" is `key`); the reason
// when not.
bool fits(const PlacementSpec& spec, const std::string& key, const HostCandidate& h, std::string* why) {
  const Host& host = *h.host;
  if (spec.maxPerHost > 0) {
    const int here = countOf(h, key);
    if (here >= spec.maxPerHost) {
      if (why != nullptr) {
        *why = fmt::format("{} already runs {} of {} (max_replicas_per_node {})", host.name, here,
                           spec.service, spec.maxPerHost);
      }
      return false;
    }
  }
  for (const std::string& port : spec.hostPorts) {
    auto taken = h.ports.find(port);
    if (taken != h.ports.end()) {
      if (why != nullptr) {
        const std::string by = taken->second == key ? "another task of " + spec.service
                                                    : taken->second.substr(taken->second.find('/') + 1);
        *why = fmt::format("{} already publishes port {} ({})", host.name, port, by);
      }
      return false;
    }
  }
  if (spec.cpus > 0) {
    const double free = host.facts.ncpu - h.cpusReserved;
    if (free + 1e-9 < spec.cpus) {
      if (why != nullptr) {
        *why = fmt::format("{} has {} of {} CPUs free", host.name, formatCpus(std::max(0.0, free)),
                           formatCpus(host.facts.ncpu));
      }
      return false;
    }
  }
  if (spec.memory > 0) {
    const std::int64_t free = host.facts.memoryBytes - h.memoryReserved;
    if (free < spec.memory) {
      if (why != nullptr) {
        *why = fmt::format("{} has {} of {} memory free", host.name,
                           formatBytes(std::max<std::int64_t>(0, free)), formatBytes(host.facts.memoryBytes));
      }
      return false;
    }
  }
  return true;
}

// The value of a spread label on a host ("" when it has none), without copying it.
std::string_view spreadValue(const HostCandidate& h, const std::string& label) {
  const std::string* v = labelOf(h.host->labels, label);
  return v == nullptr ? std::string_view() : std::string_view(*v);
}

void addLoadTo(HostCandidate& h, const std::string& key, const PlacementSpec& spec) {
  ++h.tasks;
  ++h.perService[key];
  h.cpusReserved += spec.cpus;
  h.memoryReserved += spec.memory;
  for (const std::string& port : spec.hostPorts) h.ports[port] = key;
}

void removeLoadFrom(HostCandidate& h, const std::string& key, const PlacementSpec& spec) {
  h.tasks = std::max(0, h.tasks - 1);
  int& n = h.perService[key];
  n = std::max(0, n - 1);
  h.cpusReserved = std::max(0.0, h.cpusReserved - spec.cpus);
  h.memoryReserved = std::max<std::int64_t>(0, h.memoryReserved - spec.memory);
  for (const std::string& port : spec.hostPorts) {
    auto it = h.ports.find(port);
    if (it != h.ports.end() && it->second == key) h.ports.erase(it);
  }
}

HostCandidate* findHost(std::vector<HostCandidate>& hosts, const std::string& name) {
  for (HostCandidate& h : hosts) {
    if (h.host->name == name) return &h;
  }
  return nullptr;
}

}  // namespace

void addLoad(std::vector<HostCandidate>& hosts, const std::string& host, const PlacementSpec& spec) {
  HostCandidate* h = findHost(hosts, host);
  if (h == nullptr) return;
  addLoadTo(*h, serviceKey(spec), spec);
}

void removeLoad(std::vector<HostCandidate>& hosts, const std::string& host, const PlacementSpec& spec) {
  HostCandidate* h = findHost(hosts, host);
  if (h == nullptr) return;
  removeLoadFrom(*h, serviceKey(spec), spec);
}

std::vector<HostCandidate> candidates(const ClusterState& state, const Observations& observations,
                                      const std::map<std::string, PlacementSpec>& specs) {
  std::vector<HostCandidate> out;
  out.reserve(state.hosts.size());
  std::map<std::string, std::size_t> index;
  for (const auto& [name, host] : state.hosts) {
    HostCandidate c;
    c.host = &host;
    if (auto it = observations.find(name); it != observations.end()) c.health = it->second.health;
    index[name] = out.size();
    out.push_back(std::move(c));
  }
  for (const auto& [id, task] : state.tasks) {
    if (!task.live() || task.host.empty()) continue;
    auto h = index.find(task.host);
    if (h == index.end()) continue;
    HostCandidate& c = out[h->second];
    const std::string key = task.stack + "/" + task.service;
    ++c.tasks;
    ++c.perService[key];
    if (auto s = specs.find(key); s != specs.end()) {
      c.cpusReserved += s->second.cpus;
      c.memoryReserved += s->second.memory;
      for (const std::string& port : s->second.hostPorts) c.ports[port] = key;
    }
  }
  return out;
}

// The walk over every host: the reference the Placer is held to, and what spells out the reasons
// when nothing fits (a second walk over the same hosts, which gives the same answers).
Result<std::string> place(const PlacementSpec& spec, const std::string& taskName,
                          std::vector<HostCandidate>& hosts, const std::string& avoid) {
  const std::string key = serviceKey(spec);
  const std::size_t labels = spec.spreadLabels.size();
  // Replicas of the service per value of each spread label, over the hosts that may run it.
  std::vector<std::map<std::string, int, std::less<>>> spread(labels);
  if (labels > 0) {
    for (const HostCandidate& h : hosts) {
      if (!eligible(spec, h, nullptr)) continue;
      const int here = countOf(h, key);
      for (std::size_t i = 0; i < labels; ++i) {
        const std::string_view v = spreadValue(h, spec.spreadLabels[i]);
        auto it = spread[i].find(v);
        if (it == spread[i].end()) it = spread[i].emplace(std::string(v), 0).first;
        it->second += here;
      }
    }
  }
  const auto spreadCount = [&](const HostCandidate& h, std::size_t i) {
    auto it = spread[i].find(spreadValue(h, spec.spreadLabels[i]));
    return it == spread[i].end() ? 0 : it->second;
  };
  // The rank of a host: (replicas of the service with its value of each spread label..., replicas
  // of the service on it, tasks on it), lower first; then the name. Compared in place.
  struct Best {
    HostCandidate* candidate = nullptr;
    std::vector<int> spread;
    int here = 0;
    int tasks = 0;
  };
  std::vector<int> current(labels);
  const auto consider = [&](Best& best, HostCandidate& h, int here) {
    if (best.candidate != nullptr) {
      int order = 0;  // <0: h ranks before best
      for (std::size_t i = 0; i < labels && order == 0; ++i) {
        if (current[i] != best.spread[i]) order = current[i] < best.spread[i] ? -1 : 1;
      }
      if (order == 0 && here != best.here) order = here < best.here ? -1 : 1;
      if (order == 0 && h.tasks != best.tasks) order = h.tasks < best.tasks ? -1 : 1;
      if (order > 0 || (order == 0 && !(h.host->name < best.candidate->host->name))) return;
    }
    best.candidate = &h;
    if (labels > 0) best.spread.assign(current.begin(), current.end());
    best.here = here;
    best.tasks = h.tasks;
  };
  // Hosts named `avoid` are left out unless nothing else fits: the best of all, and the best of the
  // others.
  Best best;
  Best bestElsewhere;
  std::size_t fitting = 0;
  for (HostCandidate& h : hosts) {
    if (!eligible(spec, h, nullptr) || !fits(spec, key, h, nullptr)) continue;
    ++fitting;
    for (std::size_t i = 0; i < labels; ++i) current[i] = spreadCount(h, i);
    const int here = countOf(h, key);
    consider(best, h, here);
    if (!avoid.empty() && h.host->name != avoid) consider(bestElsewhere, h, here);
  }
  if (fitting == 0) {
    std::vector<std::string> reasons;
    for (const HostCandidate& h : hosts) {
      std::string why;
      if (!eligible(spec, h, &why) || !fits(spec, key, h, &why)) reasons.push_back(std::move(why));
    }
    if (reasons.empty()) reasons.push_back("no host is registered (`berth host add`)");
    return fail(ErrorCode::Unavailable, "no host fits " + taskName + ": " + join(reasons, ", "));
  }
  HostCandidate* chosen = !avoid.empty() && fitting > 1 ? bestElsewhere.candidate : best.candidate;
  // (Several hosts fit, all named `avoid`: host names are unique, so this cannot happen.)
  if (chosen == nullptr) chosen = best.candidate;
  addLoadTo(*chosen, key, spec);
  return chosen->host->name;
}

// ---- Placer

// One placement spec's hosts. A member is an eligible host; it is in its cell's `fitting` set, keyed
// by its rank, while it has room for one more task.
struct Placer::View {
  using Rank = std::tuple<int, int, std::size_t>;  // (replicas of the service, tasks, host index)
  struct Member {
    std::size_t cell = 0;
    int here = 0;
    bool fitting = false;
    Rank rank{};
  };
  struct Cell {
    std::vector<std::string> values{};  // of each spread label
    std::set<Rank> fitting{};
  };

  PlacementSpec spec{};
  std::string key{};
  std::vector<int> memberOf{};  // host index → member index, -1 when not eligible
  std::vector<Member> members{};
  std::vector<Cell> cells{};
  std::vector<std::map<std::string, int, std::less<>>> spread{};  // per label: value → replicas

  void refresh(const std::vector<HostCandidate>& hosts, std::size_t host) {
    const int m = memberOf[host];
    if (m < 0) return;
    Member& member = members[static_cast<std::size_t>(m)];
    Cell& cell = cells[member.cell];
    if (member.fitting) cell.fitting.erase(member.rank);
    const HostCandidate& h = hosts[host];
    const int here = countOf(h, key);
    for (std::size_t i = 0; i < spread.size(); ++i) spread[i][cell.values[i]] += here - member.here;
    member.here = here;
    member.rank = Rank{here, h.tasks, host};
    member.fitting = fits(spec, key, h, nullptr);
    if (member.fitting) cell.fitting.insert(member.rank);
  }

  // The cell's best fitting host other than `avoid` (host indexes); `none` when there is none.
  static std::size_t best(const Cell& cell, std::size_t avoid, std::size_t none) {
    for (const Rank& r : cell.fitting) {
      if (std::get<2>(r) != avoid) return std::get<2>(r);
    }
    return none;
  }
};

Placer::Placer(std::vector<HostCandidate> hosts) : hosts_(std::move(hosts)) {
  std::sort(hosts_.begin(), hosts_.end(),
            [](const HostCandidate& a, const HostCandidate& b) { return a.host->name < b.host->name; });
}
Placer::~Placer() = default;
Placer::Placer(Placer&&) noexcept = default;
Placer& Placer::operator=(Placer&&) noexcept = default;

std::size_t Placer::indexOf(const std::string& host) const {
  auto it = std::lower_bound(hosts_.begin(), hosts_.end(), host,
                             [](const HostCandidate& h, const std::string& name) { return h.host->name < name; });
  if (it == hosts_.end() || it->host->name != host) return hosts_.size();
  return static_cast<std::size_t>(it - hosts_.begin());
}

const HostCandidate* Placer::find(const std::string& host) const {
  const std::size_t i = indexOf(host);
  return i == hosts_.size() ? nullptr : &hosts_[i];
}

Placer::View& Placer::viewFor(const PlacementSpec& spec) {
  for (const auto& v : views_) {
    if (v->spec == spec) return *v;
  }
  auto v = std::make_unique<View>();
  v->spec = spec;
  v->key = serviceKey(spec);
  v->memberOf.assign(hosts_.size(), -1);
  v->spread.resize(spec.spreadLabels.size());
  std::map<std::vector<std::string>, std::size_t> cellOf;
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    if (!eligible(spec, hosts_[i], nullptr)) continue;
    std::vector<std::string> values;
    values.reserve(spec.spreadLabels.size());
    for (const std::string& label : spec.spreadLabels) values.emplace_back(spreadValue(hosts_[i], label));
    auto [cell, added] = cellOf.emplace(values, v->cells.size());
    if (added) v->cells.push_back(View::Cell{std::move(values), {}});
    for (std::size_t l = 0; l < v->spread.size(); ++l) v->spread[l].emplace(v->cells[cell->second].values[l], 0);
    v->memberOf[i] = static_cast<int>(v->members.size());
    View::Member m;
    m.cell = cell->second;
    v->members.push_back(m);
    v->refresh(hosts_, i);
  }
  views_.push_back(std::move(v));
  return *views_.back();
}

void Placer::changed(std::size_t host) {
  for (const auto& v : views_) v->refresh(hosts_, host);
}

Result<std::string> Placer::place(const PlacementSpec& spec, const std::string& taskName, const std::string& avoid) {
  if (!spec.pinnedHost.empty()) {
    // Only the pinned host is eligible: it is the answer when it fits (`avoid` matters only when
    // several fit).
    const std::size_t i = indexOf(spec.pinnedHost);
    if (i < hosts_.size() && eligible(spec, hosts_[i], nullptr) && fits(spec, serviceKey(spec), hosts_[i], nullptr)) {
      add(spec.pinnedHost, spec);
      return spec.pinnedHost;
    }
  } else {
    const View& v = viewFor(spec);
    const std::size_t none = hosts_.size();
    const std::size_t avoided = avoid.empty() ? none : indexOf(avoid);
    // The best cell: the lowest spread counts, then its best host's rank.
    std::size_t chosen = none;
    std::vector<int> chosenSpread;
    std::vector<int> spread(v.spread.size());
    for (const View::Cell& cell : v.cells) {
      const std::size_t h = View::best(cell, avoided, none);
      if (h == none) continue;
      for (std::size_t l = 0; l < spread.size(); ++l) spread[l] = v.spread[l].find(cell.values[l])->second;
      if (chosen != none) {
        if (spread != chosenSpread) {
          if (spread > chosenSpread) continue;
        } else if (!(v.members[static_cast<std::size_t>(v.memberOf[h])].rank <
                     v.members[static_cast<std::size_t>(v.memberOf[chosen])].rank)) {
          continue;
        }
      }
      chosen = h;
      chosenSpread = spread;
    }
    if (chosen != none) {
      const std::string name = hosts_[chosen].host->name;
      add(name, spec);
      return name;
    }
  }
  // Nothing fits (or only through the pinned host, which did not): the walk names every reason.
  Result<std::string> host = cluster::place(spec, taskName, hosts_, avoid);
  if (host) changed(indexOf(*host));
  return host;
}

void Placer::add(const std::string& host, const PlacementSpec& spec) {
  const std::size_t i = indexOf(host);
  if (i == hosts_.size()) return;
  addLoadTo(hosts_[i], serviceKey(spec), spec);
  changed(i);
}

void Placer::remove(const std::string& host, const PlacementSpec& spec) {
  const std::size_t i = indexOf(host);
  if (i == hosts_.size()) return;
  removeLoadFrom(hosts_[i], serviceKey(spec), spec);
  changed(i);
}

}  // namespace berth::cluster
