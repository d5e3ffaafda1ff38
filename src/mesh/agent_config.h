// What the network agent on one host is told: the mesh as that host should have it, rendered as
// the files berthd uploads into the agent (mesh/agent.h).
//
//   apply.sh   — a POSIX shell script that brings the host to the configuration and is safe to run
//                again: the WireGuard interface (the kernel's, else wireguard-go) with its peers,
//                routes to the other hosts' subnets, the iptables chains that keep networks apart
//                across hosts and keep the mesh free of SNAT, and one DNS server (dnsmasq) per
//                stack network plus one for names outside the cluster. The agent runs it again
//                when it starts (after its host's engine restarts), so the host comes back alone.
//   dns/NETWORK/hosts — the names that network's members resolve; dnsmasq re-reads the directory
//                when a file changes, so a replica that starts, dies or moves needs no reload.
//
// Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mesh/address.h"

namespace berth::mesh {

inline constexpr std::string_view kInterface = "berth0";
inline constexpr int kDefaultListenPort = 51820;
// The ingress's relay between hosts: TCP on each host's mesh address, PROXY protocol v2 (which
// carries the client's address and the published port the client connected to).
inline constexpr int kRelayPort = 7947;
// Inside the agent: its state volume (the private key never leaves it) and its runtime directory.
inline constexpr std::string_view kStateDir = "/var/lib/berth-net";
inline constexpr std::string_view kRunDir = "/run/berth-net";

struct MeshPeer {
  std::string host{};       // the peer's name, for comments and errors
  std::string publicKey{};  // base64, as `wg pubkey` prints it
  std::string endpoint{};   // "ADDRESS:PORT" the peer's WireGuard listens on
  Ipv4Net subnet{};         // the peer's subnet of the cluster range
};

// A stack network as it is on this host.
struct MeshNetwork {
  std::string name{};                  // the engine's network name ("shop_backend")
  Ipv4Net slice{};                     // its subnet on this host
  std::vector<Ipv4Net> remoteSlices{};  // its subnets on the other hosts
  // `internal: true`: nothing leaves the cluster range (the engine's own internal networks have no
  // route at all, not even to the other hosts, so the mesh makes them ordinary and drops the rest).
  bool internal = false;
};

// A container on several networks sends from the address of the network its default route is on,
// whichever network the destination is: its address on one network is let into another of its
// networks' subnets, leaving its host (outbound) or arriving at another (inbound).
struct MeshGrant {
  std::uint32_t source = 0;
  Ipv4Net destination{};
  bool outbound = false;
  friend bool operator==(const MeshGrant&, const MeshGrant&) = default;
};

// One published port of the ingress as one host serves it.
struct IngressRoute {
  int published = 0;
  std::string service{};  // "STACK/SERVICE", for the configuration's comments
  struct Local {
    std::uint32_t address = 0;  // a replica on this host
    int port = 0;               // its target port
    friend bool operator==(const Local&, const Local&) = default;
  };
  struct Remote {
    std::uint32_t meshAddress = 0;  // another host with replicas: its relay
    int replicas = 0;               // how many (the relay's weight)
    friend bool operator==(const Remote&, const Remote&) = default;
  };
  std::vector<Local> local{};
  std::vector<Remote> remote{};
};

// One route of the HTTP ingress as one host serves it. Relayed to another host, the request carries
// `relayKey` as its destination port in the PROXY header, which picks the route's replicas there.
struct HttpIngressRoute {
  std::string host{};  // empty: any host
  std::string path = "/";
  int relayKey = 0;
  std::string service{};  // "STACK/SERVICE", for comments
  std::vector<IngressRoute::Local> local{};
  std::vector<IngressRoute::Remote> remote{};
};

struct HostMeshConfig {
  std::string host{};
  Ipv4Net range{};
  Ipv4Net subnet{};  // this host's
  int listenPort = kDefaultListenPort;
  std::vector<MeshPeer> peers{};
  std::vector<MeshNetwork> networks{};
  std::vector<MeshGrant> grants{};
  // The ingress: ports this host publishes (when `ingressFrontends`) and relays to its replicas.
  bool ingressFrontends = true;
  std::vector<IngressRoute> ingress{};
  std::vector<HttpIngressRoute> http{};
  // Certificate files (chain and key, PEM) under the agent's certs/: the HTTP ingress also serves
  // TLS on :443 with them, picked by SNI.
  std::vector<std::string> certificates{};
  // Stack names: STACK and NAME.STACK are answered from the mesh only, never sent upstream.
  std::vector<std::string> stacks{};
};

// The agent's script for `config` (see the file comment). Deterministic: the same configuration
// renders the same text, so berthd runs it only when something changed.
std::string renderApplyScript(const HostMeshConfig& config);

// HAProxy's configuration for the ingress (haproxy.cfg): per published port, a frontend on every
// address of the host (when it serves the ingress) balancing over the replicas here — connected to
// from the client's own address (`usesrc clientip`: no SNAT) — and the other hosts' relays, told
// the client's address in PROXY protocol; and the relay frontend that hands what other hosts send to
// this host's replicas the same way. Empty when the host has nothing to serve.
std::string renderIngressConfig(const HostMeshConfig& config);

// ingress.sh: starts, reloads (handing the listening sockets over: no connection refused) or
// stops HAProxy for the uploaded haproxy.cfg. apply.sh runs it too.
std::string renderIngressScript();

// leave.sh: undoes what apply.sh and ingress.sh did to the host (the host leaves the fleet): stops
// HAProxy and the DNS servers, takes berth's chains out of the engine's and the host's iptables,
// drops the ingress's routing rule and the WireGuard interface, and forgets the last configuration
// (so that the agent, were it started again, would not apply it). Safe to run again.
std::string renderLeaveScript();

// One address and the names that resolve to it.
struct DnsRecord {
  std::uint32_t address = 0;
  std::vector<std::string> names{};
  friend bool operator==(const DnsRecord&, const DnsRecord&) = default;
};

// A hosts file (dnsmasq --hostsdir), records sorted so that equal sets render equal text.
std::string renderHostsFile(std::vector<DnsRecord> records);

}  // namespace berth::mesh
