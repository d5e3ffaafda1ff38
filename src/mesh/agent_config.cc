#include "mesh/agent_config.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/strings.h"

namespace berth::mesh {
namespace {

// Everything the script interpolates is berth's own: network names ([a-zA-Z0-9_.-]), stack names,
// addresses, base64 keys. Single quotes (shellQuote) keep even a surprise inert.

constexpr std::string_view kPrologue = R"SH(set -eu
S=/var/lib/berth-net
R=/run/berth-net
IF=berth0
fail() { echo "berth-net: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || fail "this host has no $1 (Debian package $2)"; }
need wg wireguard-tools
need ip iproute2
need iptables iptables
need iptables-restore iptables
need dnsmasq dnsmasq-base
mkdir -p "$R" "$S/dns"
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || fail "IP forwarding is off on this host (sysctl net.ipv4.ip_forward)"
iptables -n -L DOCKER-USER >/dev/null 2>&1 || fail "the engine keeps no iptables rules (dockerd --iptables=false): the mesh needs them"

# WireGuard: the kernel's where the host has it, else wireguard-go (a TUN device).
if ! ip link show "$IF" >/dev/null 2>&1; then
  if ! ip link add "$IF" type wireguard 2>/dev/null; then
    command -v wireguard-go >/dev/null 2>&1 ||
      fail "cannot run WireGuard: the kernel has no WireGuard module and wireguard-go is not installed (Debian package wireguard-go)"
    [ -c /dev/net/tun ] ||
      fail "cannot run WireGuard: the kernel has no WireGuard module and there is no /dev/net/tun for wireguard-go"
    WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go "$IF" >"$R/wireguard-go.log" 2>&1 </dev/null ||
      fail "cannot run WireGuard: wireguard-go failed: $(cat "$R/wireguard-go.log")"
  fi
fi
)SH";

// One dnsmasq per name: started when missing, restarted when its arguments changed.
constexpr std::string_view kDnsFunction = R"SH(
stop_pid() {
  kill "$1" 2>/dev/null || return 0
  i=0
  while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.02; i=$((i + 1)); done
}
dns() {
  name=$1; shift
  args="$*"
  pf="$R/dns-$name.pid"
  if [ -f "$pf" ] && [ "$(cat "$pf.args" 2>/dev/null)" = "$args" ] && kill -0 "$(cat "$pf")" 2>/dev/null; then
    return 0
  fi
  if [ -f "$pf" ]; then stop_pid "$(cat "$pf")"; fi
  rm -f "$pf" "$pf.args"
  # shellcheck disable=SC2086
  dnsmasq --pid-file="$pf" --log-facility="$R/dns-$name.log" --bind-dynamic --except-interface=lo \
    --no-hosts --local-ttl=0 --no-negcache $args </dev/null >"$R/dns-$name.out" 2>&1 ||
    fail "the DNS server for $name did not start: $(cat "$R/dns-$name.out")"
  echo "$args" >"$pf.args"
}
)SH";

// A route's replicas on this host, connected to from the client's own address.
std::string localServers(const std::vector<IngressRoute::Local>& local) {
  std::string out;
  for (const IngressRoute::Local& l : local) {
    out += fmt::format("  server {0}:{1} {0}:{1} source 0.0.0.0 usesrc clientip\n", ipv4String(l.address), l.port);
  }
  return out;
}

// The other hosts' relays, told the client's address in PROXY protocol, weighted by their replicas.
std::string relayServers(const std::vector<IngressRoute::Remote>& remote) {
  std::string out;
  for (const IngressRoute::Remote& h : remote) {
    out += fmt::format("  server relay-{0} {0}:{1} send-proxy-v2 weight {2}\n", ipv4String(h.meshAddress),
                       kRelayPort, h.replicas);
  }
  return out;
}

// What the relay frontend hands a request for `key` (a published port, an HTTP route's key) to.
std::string localBackend(int key, const std::vector<IngressRoute::Local>& local) {
  return fmt::format("backend local_{}\n  balance roundrobin\n", key) + localServers(local);
}

}  // namespace

std::string renderApplyScript(const HostMeshConfig& config) {
  const std::string mesh = ipv4String(MeshLayout::meshAddress(config.subnet));
  const std::string range = config.range.str();
  std::string s = fmt::format("# berth network agent: the mesh as host {} has it, rendered by berthd. Safe to run again.\n",
                              config.host);
  s += kPrologue;

  // Peers: set the wanted ones, remove the rest.
  s += fmt::format("wg set \"$IF\" listen-port {} private-key \"$S/private.key\"\n", config.listenPort);
  std::string wantPeers = " ";
  for (const MeshPeer& p : config.peers) {
    s += fmt::format("wg set \"$IF\" peer {} endpoint {} allowed-ips {} persistent-keepalive 25  # {}\n",
                     shellQuote(p.publicKey), shellQuote(p.endpoint), p.subnet.str(), p.host);
    wantPeers += p.publicKey + " ";
  }
  s += fmt::format("want={}\n", shellQuote(wantPeers));
  s += "for k in $(wg show \"$IF\" peers); do\n"
       "  case \"$want\" in *\" $k \"*) ;; *) wg set \"$IF\" peer \"$k\" remove ;; esac\n"
       "done\n";
  s += fmt::format("ip address replace {}/32 dev \"$IF\"\n", mesh);
  s += "ip link set \"$IF\" mtu 1420 up\n";

  // Routes: each peer's subnet through the tunnel.
  std::string wantRoutes = " ";
  for (const MeshPeer& p : config.peers) {
    s += fmt::format("ip route replace {} dev \"$IF\" src {}\n", p.subnet.str(), mesh);
    wantRoutes += p.subnet.str() + " ";
  }
  s += fmt::format("want={}\n", shellQuote(wantRoutes));
  s += "ip -4 route show dev \"$IF\" | while read -r dst _; do\n"
       "  case \"$want\" in *\" $dst \"*) ;; *) ip route del \"$dst\" dev \"$IF\" ;; esac\n"
       "done\n";

  // Filtering. BERTH-MESH (from DOCKER-USER, ahead of the engine's own rules) lets a network's
  // subnets on different hosts reach each other and nothing else cross the tunnel; BERTH-MESH-IN
  // keeps the host's own services (DNS) to the containers entitled to them; BERTH-MESH-NAT keeps
  // addresses as they are inside the cluster range (the replica sees its caller's address) and
  // masquerades the rest, as the engine would (berth's networks are created without its masquerade).
  s += "iptables-restore -n <<'RULES'\n*filter\n:BERTH-MESH - [0:0]\n:BERTH-MESH-IN - [0:0]\n";
  s += "-A BERTH-MESH -i berth0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n";
  for (const MeshNetwork& n : config.networks) {
    for (const Ipv4Net& r : n.remoteSlices) {
      s += fmt::format("-A BERTH-MESH -i berth0 -s {} -d {} -j ACCEPT\n", r.str(), n.slice.str());
    }
  }
  for (const MeshGrant& g : config.grants) {
    if (!g.outbound) {
      s += fmt::format("-A BERTH-MESH -i berth0 -s {}/32 -d {} -j ACCEPT\n", ipv4String(g.source), g.destination.str());
    }
  }
  s += "-A BERTH-MESH -i berth0 -j DROP\n";
  s += "-A BERTH-MESH -o berth0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n";
  for (const MeshNetwork& n : config.networks) {
    for (const Ipv4Net& r : n.remoteSlices) {
      s += fmt::format("-A BERTH-MESH -o berth0 -s {} -d {} -j ACCEPT\n", n.slice.str(), r.str());
    }
  }
  for (const MeshGrant& g : config.grants) {
    if (g.outbound) {
      s += fmt::format("-A BERTH-MESH -o berth0 -s {}/32 -d {} -j ACCEPT\n", ipv4String(g.source), g.destination.str());
    }
  }
  s += "-A BERTH-MESH -o berth0 -j DROP\n";
  for (const MeshNetwork& n : config.networks) {
    if (n.internal) s += fmt::format("-A BERTH-MESH -s {} ! -d {} -j DROP\n", n.slice.str(), range);
  }
  s += "-A BERTH-MESH-IN -i berth0 -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN\n";
  s += "-A BERTH-MESH-IN -i berth0 -p icmp -j RETURN\n";
  s += fmt::format("-A BERTH-MESH-IN -i berth0 -d {}/32 -p tcp --dport {} -j RETURN\n", mesh, kRelayPort);
  s += "-A BERTH-MESH-IN -i berth0 -j DROP\n";
  for (const MeshNetwork& n : config.networks) {
    const std::string gw = ipv4String(MeshLayout::gateway(n.slice));
    for (std::string_view proto : {"udp", "tcp"}) {
      s += fmt::format("-A BERTH-MESH-IN -d {}/32 -p {} --dport 53 ! -s {} -j DROP\n", gw, proto, n.slice.str());
    }
  }
  for (std::string_view proto : {"udp", "tcp"}) {
    for (const MeshNetwork& n : config.networks) {
      s += fmt::format("-A BERTH-MESH-IN -d {}/32 -p {} --dport 53 -s {} -j RETURN\n", mesh, proto, n.slice.str());
    }
    s += fmt::format("-A BERTH-MESH-IN -d {}/32 -p {} --dport 53 -j DROP\n", mesh, proto);
  }
  s += "COMMIT\n*mangle\n:BERTH-MESH-TPROXY - [0:0]\n";
  // The ingress connects to replicas from the client's address: their answers are the ingress's,
  // delivered to its socket here rather than routed to the client.
  s += "-A BERTH-MESH-TPROXY -p tcp -m socket --transparent -j MARK --set-xmark 0x2000/0x2000\n";
  s += "COMMIT\n*nat\n:BERTH-MESH-NAT - [0:0]\n";
  s += fmt::format("-A BERTH-MESH-NAT -s {} -d {} -j RETURN\n", range, range);
  for (const MeshNetwork& n : config.networks) {
    if (!n.internal) s += fmt::format("-A BERTH-MESH-NAT -s {} ! -d {} -j MASQUERADE\n", n.slice.str(), range);
  }
  s += "COMMIT\nRULES\n";
  s += "iptables -C DOCKER-USER -j BERTH-MESH 2>/dev/null || iptables -I DOCKER-USER -j BERTH-MESH\n"
       "iptables -C INPUT -j BERTH-MESH-IN 2>/dev/null || iptables -I INPUT -j BERTH-MESH-IN\n"
       "iptables -t nat -C POSTROUTING -j BERTH-MESH-NAT 2>/dev/null || "
       "iptables -t nat -I POSTROUTING -j BERTH-MESH-NAT\n"
       "iptables -t mangle -C PREROUTING -j BERTH-MESH-TPROXY 2>/dev/null || "
       "iptables -t mangle -I PREROUTING -j BERTH-MESH-TPROXY\n"
       "ip rule show pref 2000 | grep -q . || ip rule add pref 2000 fwmark 0x2000/0x2000 lookup 2000\n"
       "ip route replace local 0.0.0.0/0 dev lo table 2000\n";

  // DNS: per network, on its gateway address, only that network's names (and REFUSED for the rest,
  // so that the engine's resolver asks the container's next server); on the mesh address, the
  // forwarder to the host's own resolvers, which never sends a bare name or a stack's name out.
  s += kDnsFunction;
  std::string wantDns = " _mesh ";
  std::string starts;
  for (const MeshNetwork& n : config.networks) {
    starts += fmt::format("mkdir -p \"$S/dns/{0}\" && touch \"$S/dns/{0}/hosts\"\n", n.name);
    starts += fmt::format("dns {} --listen-address={} --no-resolv --hostsdir=\"$S/dns/{}\"\n", n.name,
                     ipv4String(MeshLayout::gateway(n.slice)), n.name);
    wantDns += n.name + " ";
  }
  std::string locals;
  for (const std::string& stack : config.stacks) locals += fmt::format(" --local=/{}/", stack);
  starts += fmt::format("dns _mesh --listen-address={} --domain-needed --resolv-file=/etc/resolv.conf{}\n", mesh, locals);
  // Servers of networks gone first: a new network may have taken the old one's address.
  s += fmt::format("want={}\n", shellQuote(wantDns));
  s += "for pf in \"$R\"/dns-*.pid; do\n"
       "  [ -e \"$pf\" ] || continue\n"
       "  n=${pf#\"$R/dns-\"}; n=${n%.pid}\n"
       "  case \"$want\" in *\" $n \"*) ;; *) stop_pid \"$(cat \"$pf\")\"; rm -f \"$pf\" \"$pf.args\" ;; esac\n"
       "done\n";
  s += starts;
  s += "sh \"$S/ingress.sh\"\n";
  s += "echo \"berth-net: applied\"\n";
  return s;
}

std::string renderIngressConfig(const HostMeshConfig& config) {
  bool serves = false;
  for (const IngressRoute& r : config.ingress) {
    serves = serves || !r.local.empty() || (config.ingressFrontends && !r.remote.empty());
  }
  bool httpFrontend = false;
  for (const HttpIngressRoute& r : config.http) {
    serves = serves || !r.local.empty() || (config.ingressFrontends && !r.remote.empty());
    httpFrontend = httpFrontend || (config.ingressFrontends && (!r.local.empty() || !r.remote.empty()));
  }
  if (!serves) return {};
  const std::string mesh = ipv4String(MeshLayout::meshAddress(config.subnet));
  std::string s =
      "# berth's ingress on host " + config.host + ", rendered by berthd.\n"
      "global\n"
      "  stats socket /run/berth-net/haproxy.sock mode 600 expose-fd listeners level user\n"
      "defaults\n"
      "  mode tcp\n"
      "  timeout connect 2s\n"
      "  timeout client 1h\n"
      "  timeout server 1h\n"
      "  retries 2\n"
      "  option redispatch 1\n";
  bool relays = false;
  if (httpFrontend) {
    // Most specific first: a route with a host before one without, a longer path before a shorter.
    std::vector<std::size_t> order(config.http.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const HttpIngressRoute& x = config.http[a];
      const HttpIngressRoute& y = config.http[b];
      if (x.host.empty() != y.host.empty()) return !x.host.empty();
      return x.path.size() > y.path.size();
    });
    s += "frontend http\n  mode http\n  bind :80\n";
    if (!config.certificates.empty()) {
      s += "  bind :443 ssl";
      for (const std::string& file : config.certificates) s += fmt::format(" crt /var/lib/berth-net/certs/{}", file);
      s += "\n";
    }
    s += "  option forwardfor\n";
    // A route without replicas still takes its requests (503), never a less specific route's.
    for (std::size_t i : order) {
      const HttpIngressRoute& r = config.http[i];
      std::string cond = fmt::format("path_{}", r.relayKey);
      s += fmt::format("  acl path_{} path_beg {}\n", r.relayKey, r.path);
      if (!r.host.empty()) {
        s += fmt::format("  acl host_{} hdr(host),field(1,:) -i {}\n", r.relayKey, r.host);
        cond = fmt::format("host_{} {}", r.relayKey, cond);
      }
      s += fmt::format("  use_backend http_{} if {}  # {}\n", r.relayKey, cond, r.service);
    }
    for (const HttpIngressRoute& r : config.http) {
      // A request whose replica died under it is sent again to another (GET and the like, or one
      // that never reached a replica): a rolling update drops none.
      s += fmt::format("backend http_{}\n  mode http\n  balance roundrobin\n  retry-on all-retryable-errors\n"
                       "  retries 3\n  http-request set-dst-port int({})\n",
                       r.relayKey, r.relayKey);
      s += localServers(r.local) + relayServers(r.remote);
    }
  }
  for (const HttpIngressRoute& r : config.http) {
    if (r.local.empty()) continue;
    relays = true;
    s += localBackend(r.relayKey, r.local);
  }
  for (const IngressRoute& r : config.ingress) {
    if (config.ingressFrontends && (!r.local.empty() || !r.remote.empty())) {
      s += fmt::format("# {}\nfrontend ingress_{}\n  bind :{}\n  default_backend ingress_{}\n", r.service,
                       r.published, r.published, r.published);
      s += fmt::format("backend ingress_{}\n  balance roundrobin\n", r.published);
      s += localServers(r.local) + relayServers(r.remote);
    }
    if (!r.local.empty()) {
      relays = true;
      s += localBackend(r.published, r.local);
    }
  }
  if (relays) {
    s += fmt::format("frontend relay\n  bind {}:{} accept-proxy\n  use_backend local_%[dst_port]\n", mesh, kRelayPort);
  }
  return s;
}

std::string renderLeaveScript() {
  return R"SH(# berth network agent: the host leaves the mesh. Safe to run again.
set -u
S=/var/lib/berth-net
R=/run/berth-net
IF=berth0
rm -f "$S/apply.sh" "$S/ingress.sh" "$S/haproxy.cfg"
rm -rf "$S/certs" "$S/dns"
for pf in "$R"/*.pid; do
  [ -e "$pf" ] || continue
  kill $(cat "$pf") 2>/dev/null || true
  rm -f "$pf" "$pf.args"
done
unhook() {
  table=$1 chain=$2 ours=$3
  while iptables -t "$table" -D "$chain" -j "$ours" 2>/dev/null; do :; done
  iptables -t "$table" -F "$ours" 2>/dev/null || true
  iptables -t "$table" -X "$ours" 2>/dev/null || true
}
unhook filter DOCKER-USER BERTH-MESH
unhook filter INPUT BERTH-MESH-IN
unhook nat POSTROUTING BERTH-MESH-NAT
unhook mangle PREROUTING BERTH-MESH-TPROXY
while ip rule del pref 2000 fwmark 0x2000/0x2000 lookup 2000 2>/dev/null; do :; done
ip route flush table 2000 2>/dev/null || true
ip link del "$IF" 2>/dev/null || true
echo "berth-net: left the mesh"
)SH";
}

std::string renderIngressScript() {
  return R"SH(# berth network agent: the ingress (HAProxy) for the uploaded haproxy.cfg. Safe to run again.
set -eu
S=/var/lib/berth-net
R=/run/berth-net
fail() { echo "berth-net: $*" >&2; exit 1; }
cfg="$S/haproxy.cfg"
running() { [ -f "$R/haproxy.pid" ] && kill -0 "$(head -n 1 "$R/haproxy.pid")" 2>/dev/null; }
if [ ! -s "$cfg" ]; then
  if running; then kill $(cat "$R/haproxy.pid") 2>/dev/null || true; fi
  rm -f "$R/haproxy.pid"
  exit 0
fi
command -v haproxy >/dev/null 2>&1 || fail "this host has no haproxy (Debian package haproxy): the ingress needs it"
failed() {
  taken=$(sed -n 's/.*Address already in use) for \[[^]]*:\([0-9]*\)\].*/\1/p' "$R/haproxy.out" | head -n 1)
  [ -z "$taken" ] || fail "the ingress cannot publish port $taken: something else on this host listens on it"
  fail "the ingress did not $1: $(grep -i -m 3 alert "$R/haproxy.out" | tr '\n' ' ')"
}
if running; then
  # A new process takes the listening sockets over from the old one, which finishes its connections.
  haproxy -D -f "$cfg" -p "$R/haproxy.pid" -x "$R/haproxy.sock" -sf $(cat "$R/haproxy.pid") \
    >"$R/haproxy.out" 2>&1 </dev/null || failed reload
else
  haproxy -D -f "$cfg" -p "$R/haproxy.pid" >"$R/haproxy.out" 2>&1 </dev/null || failed start
fi
)SH";
}

std::string renderHostsFile(std::vector<DnsRecord> records) {
  for (DnsRecord& r : records) std::sort(r.names.begin(), r.names.end());
  std::sort(records.begin(), records.end(), [](const DnsRecord& a, const DnsRecord& b) {
    return std::tie(a.names, a.address) < std::tie(b.names, b.address);
  });
  std::string out;
  for (const DnsRecord& r : records) {
    if (r.names.empty()) continue;
    out += ipv4String(r.address);
    for (const std::string& n : r.names) out += " " + n;
    out += "\n";
  }
  return out;
}

}  // namespace berth::mesh
