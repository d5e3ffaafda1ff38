// The controller's side of the cross-host network (docs/network.md).
//
// Two parts:
//   - meshProject(): what a host job does to a stack before planning it on a host: its networks
//     become bridges on the host's slices of the cluster range (without the engine's masquerade:
//     the mesh keeps callers' addresses), its services ask the mesh's DNS servers (one per network
//     on the host, then the host's forwarder) and lose the engine's own service-name alias, which
//     would answer with that host's replicas only.
//   - MeshSync: one thread that keeps every ready host's network agent (mesh/agent.h) in step with
//     the fleet: the agent running, the peers (every other ready host's key and address), the
//     networks' slices on every host, and the DNS names of every running, healthy replica. The
//     controller hands it the fleet after each reconcile pass; it uploads only what changed, and
//     tries again a host that failed.
//
// Thread-safety: MeshSync's public methods may be called from any thread.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "cluster/events.h"
#include "engine/engine.h"
#include "mesh/address.h"
#include "mesh/agent_config.h"
#include "spec/model.h"

namespace berth::cluster {

// Marks a network the mesh made (its subnet is a slice of the host's).
inline constexpr std::string_view kMeshNetworkLabel = "io.berth.mesh";
// Marks a mesh network the compose file declared `internal` (the engine's network is not: see
// mesh::MeshNetwork::internal).
inline constexpr std::string_view kMeshInternalLabel = "io.berth.mesh.internal";

struct MeshOptions {
  mesh::MeshLayout layout{};
  int listenPort = mesh::kDefaultListenPort;
  // The HTTP ingress's certificates: every *.pem here (chain and private key), sent to every host
  // that serves the ingress; empty: HTTP only.
  std::string tlsDir{};
};

// Rewrites `project` (a stack as one host runs it) for the mesh; `engine` is that host's, listed for
// the slices its networks already have. Errors (InvalidArgument, Conflict) say what on the host is
// in the way: a network of its own overlapping the cluster range, a network of the stack made
// before the mesh, no free slice.
Status meshProject(engine::Engine& engine, const MeshOptions& options, int hostIndex, spec::Project& project);

// The names a task's container answers to on the mesh: SERVICE, SERVICE.STACK, TASK, TASK.STACK
// (TASK = STACK-SERVICE-SLOT).
std::vector<std::string> meshNames(const std::string& stack, const std::string& service, int slot);

struct MeshHost {
  std::string name{};
  int index = 0;
  std::string address{};  // where the other hosts' WireGuard reaches it (the engine URL's host)
  bool ingressLabel = false;  // labelled berth.ingress=true
  std::shared_ptr<engine::Engine> engine{};  // the mesh's own client (deadlines: EngineProvider::Role::Mesh)
};

// A running container on more than one network (see mesh::MeshGrant).
struct MeshMultiHomed {
  std::string host{};
  std::vector<std::pair<std::string, std::uint32_t>> addresses{};  // engine network name → address
};

// A published port of the ingress and the replicas behind it.
struct MeshIngress {
  std::string stack{};
  std::string service{};
  int published = 0;
  int target = 0;
  std::vector<std::pair<std::string, std::uint32_t>> replicas{};  // host → the replica's address
};

// An HTTP route of the ingress (ServiceDef::http) and the replicas behind it.
struct MeshHttp {
  std::string stack{};
  std::string service{};
  std::string host{};
  std::string path{};
  int port = 0;
  int relayKey = 0;  // unique in the fleet, no published port (mesh::HttpIngressRoute)
  std::vector<std::pair<std::string, std::uint32_t>> replicas{};
};

struct MeshInput {
  std::vector<MeshIngress> ingress{};
  std::vector<MeshHttp> http{};
  std::vector<MeshHost> hosts{};  // the ready hosts
  std::vector<MeshMultiHomed> multiHomed{};
  std::map<std::string, std::vector<mesh::DnsRecord>> records{};  // by engine network name
  std::vector<std::string> stacks{};
};

class MeshSync {
 public:
  MeshSync(MeshOptions options, EventLog& events);
  ~MeshSync();
  MeshSync(const MeshSync&) = delete;
  MeshSync& operator=(const MeshSync&) = delete;

  // The fleet as it is now; the newest wins.
  void update(MeshInput input);
  // A job ran on `host`: its networks may have changed.
  void networksChanged(const std::string& host);
  // `host` left the fleet (host rm): its agent undoes what it set up and is removed, through
  // `engine`, before the next round; the fleet's next update no longer names it. An event says how
  // it went (a host that does not answer keeps what it has: the event says what to remove).
  void leave(const std::string& host, std::shared_ptr<engine::Engine> engine);
  // The agent on `host` was stopped or removed by someone else (the engine's event): the next
  // round starts it again, or makes it anew, and sends it everything. (An agent that crashes needs
  // nothing: the engine restarts it and it applies its last configuration itself.)
  void agentGone(const std::string& host);
  void stop();

 private:
  struct HostState {
    bool agentReady = false;
    std::string publicKey{};
    bool listNetworks = true;
    struct Net {
      mesh::Ipv4Net slice{};
      bool internal = false;
    };
    std::map<std::string, Net> networks{};  // engine network name → its slice here
    std::string appliedScript{};
    std::string appliedIngress{};
    std::map<std::string, std::string> appliedHosts{};  // network → hosts file
    std::map<std::string, std::string> appliedCerts{};  // file → content
    std::string error{};
    bool joined = false;
  };

  void run(std::stop_token stop);
  // One round over the fleet; false when a host failed (try again later).
  bool round(const MeshInput& input);
  // The certificates in options_.tlsDir (file name → content); read at every round, so that a
  // renewed certificate reaches the hosts without a restart.
  std::map<std::string, std::string> readCertificates();
  bool prepare(const MeshHost& host, HostState& st);
  // Brings one prepared host's agent to the fleet's state; false when it failed.
  bool sync(const MeshHost& host, const std::vector<const MeshHost*>& prepared, const MeshInput& input,
            const std::map<std::string, std::string>& certificates);
  void report(const MeshHost& host, HostState& st, const std::string& error);
  // Takes a host that left out of the mesh (mesh::removeAgent) and says how it went in an event.
  void completeLeave(const std::string& host, engine::Engine& engine);

  const MeshOptions options_;
  EventLog& events_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::optional<MeshInput> pending_{};        // guarded by mu_
  std::set<std::string> networksChanged_{};   // guarded by mu_
  std::vector<std::pair<std::string, std::shared_ptr<engine::Engine>>> leaving_{};  // guarded by mu_
  std::set<std::string> agentsGone_{};                                              // guarded by mu_
  std::map<std::string, HostState> hosts_{};  // sync thread only
  std::jthread thread_;
};

}  // namespace berth::cluster
