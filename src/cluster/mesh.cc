#include "cluster/mesh.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>

#include "base/files.h"
#include "base/log.h"
#include "mesh/agent.h"

namespace berth::cluster {
namespace {

using namespace std::chrono_literals;

// How long a host that failed waits before the next try, and how long a fresh agent may take to
// write its key.
constexpr auto kRetryAfter = 3s;
constexpr auto kKeyWait = 5s;

std::optional<mesh::Ipv4Net> subnetOf(const engine::Network& n) {
  for (const engine::IpamPool& pool : n.ipam.config) {
    if (auto net = mesh::parseIpv4Net(pool.subnet)) return *net;
  }
  return std::nullopt;
}

// Runs fn(i) for i in [0, n) on up to `width` threads at once: hosts are independent, and one
// agent's script takes a few hundred milliseconds.
void forEachParallel(std::size_t n, std::size_t width, const std::function<void(std::size_t)>& fn) {
  std::atomic<std::size_t> next{0};
  std::vector<std::jthread> threads;
  const std::size_t count = std::min(n, width);
  for (std::size_t t = 0; t + 1 < count; ++t) {
    threads.emplace_back([&] {
      for (std::size_t i = next++; i < n; i = next++) fn(i);
    });
  }
  for (std::size_t i = next++; i < n; i = next++) fn(i);
}

constexpr std::size_t kParallelHosts = 8;

}  // namespace

std::vector<std::string> meshNames(const std::string& stack, const std::string& service, int slot) {
  const std::string task = fmt::format("{}-{}-{}", stack, service, slot);
  return {service, service + "." + stack, task, task + "." + stack};
}

Status meshProject(engine::Engine& engine, const MeshOptions& options, int hostIndex, spec::Project& project) {
  const mesh::MeshLayout& layout = options.layout;
  BERTH_ASSIGN_OR_RETURN(mesh::Ipv4Net subnet, layout.hostSubnet(hostIndex));
  BERTH_ASSIGN_OR_RETURN(auto existing, engine.listNetworks({}));
  std::vector<mesh::Ipv4Net> used;
  std::map<std::string, mesh::Ipv4Net> mine;
  for (const engine::Network& n : existing) {
    auto net = subnetOf(n);
    if (!net) continue;
    if (n.labels.count(std::string(kMeshNetworkLabel)) != 0 && subnet.contains(*net)) {
      used.push_back(*net);
      mine[n.name] = *net;
    } else if (net->overlaps(layout.range)) {
      return fail(ErrorCode::Conflict,
                  fmt::format("the engine's network {} ({}) overlaps the mesh range {}: remove it, or start "
                              "berthd with another --mesh-range",
                              n.name, net->str(), layout.range.str()));
    }
  }
  std::map<std::string, std::uint32_t> gateways;  // network key → gateway
  for (auto& [key, n] : project.networks) {
    if (n.external) continue;
    mesh::Ipv4Net slice;
    if (auto it = mine.find(n.name); it != mine.end()) {
      slice = it->second;
    } else {
      BERTH_ASSIGN_OR_RETURN(slice, layout.freeSlice(subnet, used));
      used.push_back(slice);
    }
    if (!n.driver.empty() && n.driver != "bridge" && n.driver != "overlay") {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("network {}: driver {} cannot span hosts (the mesh joins bridge networks)", key, n.driver));
    }
    n.driver = "bridge";
    n.ipam = spec::Ipam{};
    spec::IpamPool pool;
    pool.subnet = slice.str();
    pool.gateway = mesh::ipv4String(mesh::MeshLayout::gateway(slice));
    n.ipam.config.push_back(std::move(pool));
    // The mesh keeps callers' addresses inside the cluster and masquerades the rest itself.
    n.driverOpts["com.docker.network.bridge.enable_ip_masquerade"] = "false";
    // WireGuard's MTU: a container's full-size packet fits the tunnel.
    n.driverOpts["com.docker.network.driver.mtu"] = "1420";
    n.labels[std::string(kMeshNetworkLabel)] = "1";
    if (n.internal) {
      n.internal = false;
      n.labels[std::string(kMeshInternalLabel)] = "1";
    }
    gateways[key] = mesh::MeshLayout::gateway(slice);
  }
  const std::string forwarder = mesh::ipv4String(mesh::MeshLayout::meshAddress(subnet));
  for (auto& [name, s] : project.services) {
    (void)name;
    // The ingress publishes `mode: ingress` ports on the hosts (ServiceDef::ingress); the
    // containers publish only `mode: host` ones.
    std::erase_if(s.ports, [](const spec::Port& p) { return p.mode != "host" && !p.published.empty(); });
    if (!s.networkMode.empty() && s.networkMode != "bridge") continue;
    std::vector<std::string> dns;
    for (const auto& [key, sn] : s.networks) {
      (void)sn;
      if (auto g = gateways.find(key); g != gateways.end()) dns.push_back(mesh::ipv4String(g->second));
    }
    if (dns.empty()) continue;
    // The user's own servers stand in for the host's forwarder.
    if (s.dns.empty()) {
      dns.push_back(forwarder);
    } else {
      dns.insert(dns.end(), s.dns.begin(), s.dns.end());
    }
    s.dns = std::move(dns);
  }
  return ok();
}

MeshSync::MeshSync(MeshOptions options, EventLog& events) : options_(std::move(options)), events_(events) {
  thread_ = std::jthread([this](std::stop_token st) { run(st); });
}

MeshSync::~MeshSync() { stop(); }

void MeshSync::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  cv_.notify_all();
  thread_.join();
}

void MeshSync::update(MeshInput input) {
  {
    std::lock_guard lock(mu_);
    pending_ = std::move(input);
  }
  cv_.notify_all();
}

void MeshSync::networksChanged(const std::string& host) {
  {
    std::lock_guard lock(mu_);
    networksChanged_.insert(host);
  }
  cv_.notify_all();
}

void MeshSync::leave(const std::string& host, std::shared_ptr<engine::Engine> engine) {
  {
    std::lock_guard lock(mu_);
    // An update made before the host left still names it: it must not bring the agent back.
    if (pending_) std::erase_if(pending_->hosts, [&](const MeshHost& h) { return h.name == host; });
    networksChanged_.erase(host);
    leaving_.emplace_back(host, std::move(engine));
  }
  cv_.notify_all();
}

void MeshSync::agentGone(const std::string& host) {
  {
    std::lock_guard lock(mu_);
    agentsGone_.insert(host);
  }
  cv_.notify_all();
}

void MeshSync::run(std::stop_token stop) {
  std::optional<MeshInput> current;
  bool retry = false;
  while (!stop.stop_requested()) {
    std::set<std::string> changed;
    std::set<std::string> gone;
    std::vector<std::pair<std::string, std::shared_ptr<engine::Engine>>> leaving;
    {
      std::unique_lock lock(mu_);
      const auto ready = [&] {
        return pending_.has_value() || !networksChanged_.empty() || !leaving_.empty() || !agentsGone_.empty();
      };
      if (retry) {
        cv_.wait_for(lock, stop, kRetryAfter, ready);
      } else {
        cv_.wait(lock, stop, ready);
      }
      if (stop.stop_requested()) return;
      if (pending_) current = std::move(*pending_);
      pending_.reset();
      changed.swap(networksChanged_);
      leaving.swap(leaving_);
      gone.swap(agentsGone_);
    }
    for (auto& leave : leaving) {
      // A named copy, not a structured binding: clang before 16 cannot capture those in a lambda.
      const std::string& host = leave.first;
      hosts_.erase(host);
      if (current) std::erase_if(current->hosts, [&](const MeshHost& h) { return h.name == host; });
      completeLeave(host, *leave.second);
    }
    // (A host that has left is not in hosts_ any more: the removal of its agent is berthd's own.)
    for (const std::string& h : gone) {
      if (auto it = hosts_.find(h); it != hosts_.end()) it->second.agentReady = false;
    }
    if (!current) continue;
    for (const std::string& h : changed) hosts_[h].listNetworks = true;
    retry = !round(*current);
  }
}

void MeshSync::report(const MeshHost& host, HostState& st, const std::string& error) {
  if (error == st.error) return;
  st.error = error;
  ControllerEvent e;
  e.time = std::chrono::system_clock::now();
  e.type = "host";
  e.name = host.name;
  e.host = host.name;
  if (error.empty()) {
    e.action = "mesh";
    e.message = "the mesh works again";
  } else {
    e.action = "mesh-error";
    e.message = error;
    log::warn("host {}: mesh: {}", host.name, error);
  }
  events_.append({std::move(e)});
}

void MeshSync::completeLeave(const std::string& host, engine::Engine& engine) {
  ControllerEvent e;
  e.type = "host";
  e.name = host;
  e.host = host;
  if (Status s = mesh::removeAgent(engine); s) {
    e.action = "mesh";
    e.message = "left the mesh: its network agent is removed";
    log::info("host {}: {}", host, e.message);
  } else {
    e.action = "mesh-error";
    e.message = fmt::format(
        "leaving the mesh: {}; docs/network.md (\"A host leaves\") says what to remove on the "
        "host by hand",
        s.error().message());
    log::warn("host {}: mesh: {}", host, e.message);
  }
  engine.closeIdleConnections();
  e.time = std::chrono::system_clock::now();
  events_.append({std::move(e)});
}

bool MeshSync::prepare(const MeshHost& host, HostState& st) {
  engine::Engine& e = *host.engine;
  if (!st.agentReady) {
    if (Status s = mesh::ensureAgent(e); !s) {
      std::string why = s.error().message();
      if (why.find("/dev/net/tun") != std::string::npos) {
        why = "cannot run WireGuard: the host has no /dev/net/tun (" + why + ")";
      }
      report(host, st, why);
      return false;
    }
    // A fresh agent writes its key within moments of starting.
    const auto deadline = std::chrono::steady_clock::now() + kKeyWait;
    for (;;) {
      auto key = mesh::agentPublicKey(e);
      if (key) {
        st.publicKey = *key;
        break;
      }
      if (key.error().code() != ErrorCode::NotFound || std::chrono::steady_clock::now() > deadline) {
        report(host, st, "the network agent has no WireGuard key: " + key.error().message() +
                             " (see `docker logs berth-net` on the host)");
        return false;
      }
      std::this_thread::sleep_for(50ms);
    }
    st.agentReady = true;
    st.appliedScript.clear();  // a new agent may have lost what the last one had
    st.appliedIngress.clear();
    st.appliedHosts.clear();
    st.appliedCerts.clear();
    st.listNetworks = true;
  }
  if (st.listNetworks) {
    engine::Filters f{{"label", {std::string(kMeshNetworkLabel)}}};
    auto list = e.listNetworks(f);
    if (!list) {
      report(host, st, "listing networks: " + list.error().message());
      return false;
    }
    st.networks.clear();
    for (const engine::Network& n : *list) {
      if (auto net = subnetOf(n)) st.networks[n.name] = {*net, n.labels.count(std::string(kMeshInternalLabel)) != 0};
    }
    st.listNetworks = false;
  }
  return true;
}

bool MeshSync::round(const MeshInput& input) {
  std::atomic<bool> allOk{true};
  std::set<std::string> present;
  for (const MeshHost& h : input.hosts) {
    present.insert(h.name);
    (void)hosts_[h.name];  // every entry exists before the threads look them up
  }
  std::vector<char> ready(input.hosts.size(), 0);
  forEachParallel(input.hosts.size(), kParallelHosts, [&](std::size_t i) {
    ready[i] = prepare(input.hosts[i], hosts_.find(input.hosts[i].name)->second) ? 1 : 0;
  });
  std::vector<const MeshHost*> prepared;
  for (std::size_t i = 0; i < input.hosts.size(); ++i) {
    if (ready[i] != 0) {
      prepared.push_back(&input.hosts[i]);
    } else {
      allOk = false;
    }
  }
  // A host that left (down, removed) is checked afresh when it comes back: its engine may have
  // restarted, and with it the agent.
  for (auto& [name, st] : hosts_) {
    if (present.count(name) == 0) st.agentReady = false;
  }
  const auto certificates = readCertificates();
  // Each thread writes only its own host's state; the others' keys and networks are only read.
  forEachParallel(prepared.size(), kParallelHosts, [&](std::size_t i) {
    if (!sync(*prepared[i], prepared, input, certificates)) allOk = false;
  });
  // The connections the round opened are not kept for the next (berthd holds one connection
  // per idle host: its agent's).
  for (const MeshHost& h : input.hosts) h.engine->closeIdleConnections();
  return allOk;
}

std::map<std::string, std::string> MeshSync::readCertificates() {
  std::map<std::string, std::string> out;
  if (options_.tlsDir.empty()) return out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options_.tlsDir, ec)) {
    if (entry.path().extension() != ".pem" || !entry.is_regular_file()) continue;
    auto text = readFile(entry.path());
    if (!text) {
      log::warn("ingress certificates: {}", text.error().message());
      continue;
    }
    out[entry.path().filename().string()] = std::move(*text);
  }
  if (ec) log::warn("ingress certificates: {}: {}", options_.tlsDir, ec.message());
  return out;
}

bool MeshSync::sync(const MeshHost& host, const std::vector<const MeshHost*>& prepared, const MeshInput& input,
                    const std::map<std::string, std::string>& certificates) {
  const MeshHost* h = &host;
  HostState& st = hosts_.find(h->name)->second;
  auto subnet = options_.layout.hostSubnet(h->index);
  if (!subnet) {
    report(*h, st, subnet.error().message());
    return false;
  }
  mesh::HostMeshConfig config;
  config.host = h->name;
  config.range = options_.layout.range;
  config.subnet = *subnet;
  config.listenPort = options_.listenPort;
  config.stacks = input.stacks;
  for (const MeshHost* p : prepared) {
    if (p == h) continue;
    auto peerSubnet = options_.layout.hostSubnet(p->index);
    if (!peerSubnet) continue;
    config.peers.push_back({p->name, hosts_.find(p->name)->second.publicKey,
                            fmt::format("{}:{}", p->address, options_.listenPort), *peerSubnet});
  }
  // A network's slices on the other hosts.
  const auto remote = [&](const std::string& network) {
    std::vector<mesh::Ipv4Net> out;
    for (const MeshHost* p : prepared) {
      if (p == h) continue;
      const auto& other = hosts_.find(p->name)->second.networks;
      if (auto it = other.find(network); it != other.end()) out.push_back(it->second.slice);
    }
    return out;
  };
  for (const auto& [name, net] : st.networks) {
    config.networks.push_back({name, net.slice, remote(name), net.internal});
  }
  for (const MeshMultiHomed& c : input.multiHomed) {
    for (const auto& [from, address] : c.addresses) {
      for (const auto& [to, unused] : c.addresses) {
        (void)unused;
        if (to == from) continue;
        if (c.host == h->name) {
          for (const mesh::Ipv4Net& r : remote(to)) config.grants.push_back({address, r, true});
        } else if (auto it = st.networks.find(to); it != st.networks.end()) {
          config.grants.push_back({address, it->second.slice, false});
        }
      }
    }
  }
  // An ingress route's replicas as this host serves them: its own, connected to directly, and the
  // other prepared hosts' relays, weighted by how many each runs.
  const auto splitReplicas = [&](const std::vector<std::pair<std::string, std::uint32_t>>& replicas, int port,
                                 std::vector<mesh::IngressRoute::Local>& here,
                                 std::vector<mesh::IngressRoute::Remote>& relays) {
    std::map<std::string, int> elsewhere;
    for (const auto& [replicaHost, address] : replicas) {
      if (replicaHost == h->name) {
        here.push_back({address, port});
      } else {
        ++elsewhere[replicaHost];
      }
    }
    for (const MeshHost* p : prepared) {
      auto n = elsewhere.find(p->name);
      auto peerSubnet = options_.layout.hostSubnet(p->index);
      if (p == h || n == elsewhere.end() || !peerSubnet) continue;
      relays.push_back({mesh::MeshLayout::meshAddress(*peerSubnet), n->second});
    }
  };
  bool anyLabelled = false;
  for (const MeshHost* p : prepared) anyLabelled = anyLabelled || p->ingressLabel;
  config.ingressFrontends = !anyLabelled || h->ingressLabel;
  for (const MeshIngress& in : input.ingress) {
    mesh::IngressRoute route;
    route.published = in.published;
    route.service = in.stack + "/" + in.service;
    splitReplicas(in.replicas, in.target, route.local, route.remote);
    config.ingress.push_back(std::move(route));
  }
  for (const MeshHttp& in : input.http) {
    mesh::HttpIngressRoute route;
    route.host = in.host;
    route.path = in.path;
    route.relayKey = in.relayKey;
    route.service = in.stack + "/" + in.service;
    splitReplicas(in.replicas, in.port, route.local, route.remote);
    config.http.push_back(std::move(route));
  }
  for (const auto& [file, text] : certificates) {
    (void)text;
    config.certificates.push_back(file);
  }
  // Names first: a network's DNS server starts with its hosts file in place.
  std::map<std::string, std::string> files;
  for (const auto& [name, net] : st.networks) {
    (void)net;
    auto r = input.records.find(name);
    std::string text = mesh::renderHostsFile(r == input.records.end() ? std::vector<mesh::DnsRecord>{} : r->second);
    auto applied = st.appliedHosts.find(name);
    if (applied == st.appliedHosts.end() || applied->second != text) files["dns/" + name + "/hosts"] = std::move(text);
  }
  const std::string script = mesh::renderApplyScript(config);
  const bool scriptChanged = script != st.appliedScript;
  const std::string ingress = mesh::renderIngressConfig(config);
  const bool ingressChanged = ingress != st.appliedIngress || st.appliedScript.empty();
  if (scriptChanged) files["apply.sh"] = script;
  for (const auto& [file, text] : certificates) {
    auto applied = st.appliedCerts.find(file);
    if (applied == st.appliedCerts.end() || applied->second != text) files["certs/" + file] = text;
  }
  const bool certsChanged = certificates != st.appliedCerts;
  if (scriptChanged || ingressChanged || certsChanged) {
    files["haproxy.cfg"] = ingress;
    files["ingress.sh"] = mesh::renderIngressScript();
  }
  if (files.empty()) return true;
  if (Status s = mesh::uploadAgentFiles(*h->engine, files); !s) {
    // The agent may be gone (removed by hand, engine restarted): check it afresh next time.
    st.agentReady = false;
    report(*h, st, "updating the network agent: " + s.error().message());
    return false;
  }
  for (auto& [path, text] : files) {
    if (path.rfind("dns/", 0) == 0) {
      st.appliedHosts[path.substr(4, path.size() - 4 - 6)] = text;
    }
  }
  if (scriptChanged || ingressChanged || certsChanged) {
    // The whole script when the mesh changed; the ingress's alone when only replicas moved.
    if (Status s = mesh::runAgentScript(*h->engine, scriptChanged ? "apply.sh" : "ingress.sh"); !s) {
      report(*h, st, s.error().message());
      return false;
    }
    st.appliedScript = script;
    st.appliedIngress = ingress;
    st.appliedCerts = certificates;
    log::debug("host {}: mesh applied ({} peers, {} networks)", h->name, config.peers.size(), config.networks.size());
  }
  if (!st.error.empty()) report(*h, st, "");
  if (!st.joined) {
    st.joined = true;
    ControllerEvent e;
    e.time = std::chrono::system_clock::now();
    e.type = "host";
    e.action = "mesh";
    e.name = h->name;
    e.host = h->name;
    e.message = fmt::format("joined the mesh as {} ({})", mesh::ipv4String(mesh::MeshLayout::meshAddress(*subnet)),
                            subnet->str());
    events_.append({std::move(e)});
  }
  return true;
}

}  // namespace berth::cluster
