// What berthd uploads into a host's network agent: apply.sh (WireGuard peers, routes, the iptables
// rules that keep networks apart across hosts, one DNS server per network), HAProxy's configuration
// for the ingress, ingress.sh and the DNS hosts files. The texts are checked line by line for the
// rules that matter, for determinism, and the scripts for being valid POSIX shell (`sh -n`).
#include "mesh/agent_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/strings.h"
#include "mesh_test_util.h"

namespace berth::mesh {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> lines(const std::string& text) { return split(text, '\n'); }

// The position of the line `line` in `text` (-1 when it has none).
long lineIndex(const std::string& text, const std::string& line) {
  const std::vector<std::string> all = lines(text);
  auto it = std::find(all.begin(), all.end(), line);
  return it == all.end() ? -1 : static_cast<long>(it - all.begin());
}

// How many lines of `text` contain `part`.
long countLines(const std::string& text, const std::string& part) {
  const std::vector<std::string> all = lines(text);
  return std::count_if(all.begin(), all.end(),
                       [&](const std::string& l) { return l.find(part) != std::string::npos; });
}

// `sh -n` on `script`: "ok", or what sh said.
std::string shSyntax(const std::string& script) {
  static std::atomic<int> counter{0};
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  const std::string base = "berth-mesh-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  const std::filesystem::path file = dir / (base + ".sh");
  const std::filesystem::path out = dir / (base + ".out");
  std::ofstream(file, std::ios::binary) << script;
  const std::string command = "sh -n '" + file.string() + "' >'" + out.string() + "' 2>&1";
  const int rc = std::system(command.c_str());
  std::string said;
  {
    std::ifstream in(out, std::ios::binary);
    said.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::error_code ec;
  std::filesystem::remove(file, ec);
  std::filesystem::remove(out, ec);
  return rc == 0 ? "ok" : "sh -n failed (" + std::to_string(rc) + "): " + said;
}

// Host h2 of three: two peers; a network spanning all three hosts, an internal one spanning two,
// one on this host alone; a container on two networks here and one on another host.
HostMeshConfig threeHosts() {
  HostMeshConfig c;
  c.host = "h2";
  c.range = net("10.210.0.0/16");
  c.subnet = net("10.210.2.0/24");
  c.peers = {
      {"h1", "KEY1+/abc=", "192.0.2.1:51820", net("10.210.1.0/24")},
      {"h3", "KEY3+/xyz=", "192.0.2.3:51820", net("10.210.3.0/24")},
  };
  c.networks = {
      {"shop_backend", net("10.210.2.32/27"), {net("10.210.1.32/27"), net("10.210.3.64/27")}, false},
      {"shop_db", net("10.210.2.64/27"), {net("10.210.1.64/27")}, true},
      {"blog_default", net("10.210.2.96/27"), {}, false},
  };
  c.grants = {
      {ip("10.210.2.35"), net("10.210.1.64/27"), true},
      {ip("10.210.1.36"), net("10.210.2.64/27"), false},
  };
  c.stacks = {"shop", "blog"};
  return c;
}

// ---- apply.sh

TEST(ApplyScriptTest, IsValidShell) {
  EXPECT_EQ(shSyntax(renderApplyScript(threeHosts())), "ok");
  // A host alone: no peers, no networks.
  HostMeshConfig alone;
  alone.host = "h1";
  alone.range = net("10.210.0.0/16");
  alone.subnet = net("10.210.1.0/24");
  EXPECT_EQ(shSyntax(renderApplyScript(alone)), "ok");
}

TEST(ApplyScriptTest, TheSyntaxCheckCatchesBrokenShell) {
  EXPECT_EQ(shSyntax("echo fine\n"), "ok");
  EXPECT_NE(shSyntax("if true; then\n  echo unfinished\n"), "ok");
  EXPECT_NE(shSyntax("echo 'never closed\n"), "ok");
}

TEST(ApplyScriptTest, IsDeterministic) {
  const std::string first = renderApplyScript(threeHosts());
  EXPECT_EQ(renderApplyScript(threeHosts()), first);
  HostMeshConfig copy = threeHosts();
  EXPECT_EQ(renderApplyScript(copy), first);
  // ... and follows the configuration.
  copy.peers.pop_back();
  EXPECT_NE(renderApplyScript(copy), first);
}

TEST(ApplyScriptTest, SetsEachPeerAndRemovesTheOthers) {
  const std::string s = renderApplyScript(threeHosts());
  EXPECT_THAT(s, HasSubstr("wg set \"$IF\" listen-port 51820 private-key \"$S/private.key\"\n"));
  EXPECT_THAT(
      s, HasSubstr("wg set \"$IF\" peer 'KEY1+/abc=' endpoint '192.0.2.1:51820' allowed-ips 10.210.1.0/24 "));
  EXPECT_THAT(
      s, HasSubstr("wg set \"$IF\" peer 'KEY3+/xyz=' endpoint '192.0.2.3:51820' allowed-ips 10.210.3.0/24 "));
  EXPECT_EQ(countLines(s, "wg set \"$IF\" peer '"), 2);
  // Peers the interface has that the configuration does not are removed.
  EXPECT_THAT(lines(s), Contains("want=' KEY1+/abc= KEY3+/xyz= '"));
  EXPECT_THAT(s, HasSubstr("for k in $(wg show \"$IF\" peers); do\n"
                           "  case \"$want\" in *\" $k \"*) ;; *) wg set \"$IF\" peer \"$k\" remove ;; esac\n"
                           "done\n"));
  // The host's own address on the mesh.
  EXPECT_THAT(lines(s), Contains("ip address replace 10.210.2.1/32 dev \"$IF\""));
}

TEST(ApplyScriptTest, ListenPortComesFromTheConfiguration) {
  HostMeshConfig c = threeHosts();
  c.listenPort = 51900;
  EXPECT_THAT(renderApplyScript(c), HasSubstr("wg set \"$IF\" listen-port 51900 "));
}

TEST(ApplyScriptTest, QuotesWhatItInterpolates) {
  HostMeshConfig c = threeHosts();
  c.peers[0].publicKey = "it's";
  const std::string s = renderApplyScript(c);
  EXPECT_THAT(s, HasSubstr("peer 'it'\\''s' endpoint"));
  EXPECT_EQ(shSyntax(s), "ok");
}

TEST(ApplyScriptTest, RoutesEachPeersSubnetThroughTheTunnel) {
  const std::string s = renderApplyScript(threeHosts());
  EXPECT_THAT(s, HasSubstr("ip route replace 10.210.1.0/24 dev \"$IF\""));
  EXPECT_THAT(s, HasSubstr("ip route replace 10.210.3.0/24 dev \"$IF\""));
  EXPECT_EQ(countLines(s, "ip route replace 10.210."), 2);
  // Routes to hosts gone are deleted.
  EXPECT_THAT(lines(s), Contains("want=' 10.210.1.0/24 10.210.3.0/24 '"));
  EXPECT_THAT(s, HasSubstr("*) ip route del \"$dst\" dev \"$IF\" ;;"));
}

TEST(ApplyScriptTest, LetsANetworksSlicesReachEachOtherAndDropsTheRest) {
  const std::string s = renderApplyScript(threeHosts());
  const long inDrop = lineIndex(s, "-A BERTH-MESH -i berth0 -j DROP");
  const long outDrop = lineIndex(s, "-A BERTH-MESH -o berth0 -j DROP");
  ASSERT_GE(inDrop, 0);
  ASSERT_GE(outDrop, 0);
  // Inbound: from the network's slices elsewhere to its slice here, ahead of the DROP.
  for (const char* rule : {"-A BERTH-MESH -i berth0 -s 10.210.1.32/27 -d 10.210.2.32/27 -j ACCEPT",
                           "-A BERTH-MESH -i berth0 -s 10.210.3.64/27 -d 10.210.2.32/27 -j ACCEPT",
                           "-A BERTH-MESH -i berth0 -s 10.210.1.64/27 -d 10.210.2.64/27 -j ACCEPT"}) {
    const long at = lineIndex(s, rule);
    EXPECT_GE(at, 0) << rule;
    EXPECT_LT(at, inDrop) << rule;
  }
  // Outbound: the counterpart.
  for (const char* rule : {"-A BERTH-MESH -o berth0 -s 10.210.2.32/27 -d 10.210.1.32/27 -j ACCEPT",
                           "-A BERTH-MESH -o berth0 -s 10.210.2.32/27 -d 10.210.3.64/27 -j ACCEPT",
                           "-A BERTH-MESH -o berth0 -s 10.210.2.64/27 -d 10.210.1.64/27 -j ACCEPT"}) {
    const long at = lineIndex(s, rule);
    EXPECT_GT(at, inDrop) << rule;
    EXPECT_LT(at, outDrop) << rule;
  }
  // Nothing lets one network into another, nor the network here alone anywhere.
  EXPECT_EQ(countLines(s, "-d 10.210.2.32/27 -j ACCEPT"), 2);
  EXPECT_EQ(countLines(s, "-s 10.210.1.32/27 -d 10.210.2.64/27"), 0);
  EXPECT_EQ(countLines(s, "10.210.2.96/27 -j ACCEPT"), 0);
  EXPECT_EQ(countLines(s, "-s 10.210.2.96/27 -d"), 0);
  // Answers pass first.
  EXPECT_LT(lineIndex(s, "-A BERTH-MESH -i berth0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
            lineIndex(s, "-A BERTH-MESH -i berth0 -s 10.210.1.32/27 -d 10.210.2.32/27 -j ACCEPT"));
  EXPECT_GE(lineIndex(s, "-A BERTH-MESH -o berth0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"), 0);
}

TEST(ApplyScriptTest, GrantsAreSingleAddressesInTheirDirection) {
  const std::string s = renderApplyScript(threeHosts());
  const long inDrop = lineIndex(s, "-A BERTH-MESH -i berth0 -j DROP");
  const long outDrop = lineIndex(s, "-A BERTH-MESH -o berth0 -j DROP");
  const long out = lineIndex(s, "-A BERTH-MESH -o berth0 -s 10.210.2.35/32 -d 10.210.1.64/27 -j ACCEPT");
  const long in = lineIndex(s, "-A BERTH-MESH -i berth0 -s 10.210.1.36/32 -d 10.210.2.64/27 -j ACCEPT");
  EXPECT_GT(out, inDrop);
  EXPECT_LT(out, outDrop);
  EXPECT_GE(in, 0);
  EXPECT_LT(in, inDrop);
  // Each only in its own direction.
  EXPECT_EQ(countLines(s, "10.210.2.35/32"), 1);
  EXPECT_EQ(countLines(s, "10.210.1.36/32"), 1);
}

TEST(ApplyScriptTest, AnInternalNetworkStaysInsideTheRangeAndIsNotMasqueraded) {
  const std::string s = renderApplyScript(threeHosts());
  EXPECT_THAT(lines(s), Contains("-A BERTH-MESH -s 10.210.2.64/27 ! -d 10.210.0.0/16 -j DROP"));
  EXPECT_EQ(countLines(s, "-s 10.210.2.64/27 ! -d 10.210.0.0/16 -j MASQUERADE"), 0);
  // The ordinary ones: masqueraded outside the range, not dropped.
  for (const char* ordinary : {"10.210.2.32/27", "10.210.2.96/27"}) {
    const std::string slice = ordinary;
    EXPECT_THAT(lines(s), Contains("-A BERTH-MESH-NAT -s " + slice + " ! -d 10.210.0.0/16 -j MASQUERADE"));
    EXPECT_EQ(countLines(s, "-s " + slice + " ! -d 10.210.0.0/16 -j DROP"), 0) << slice;
  }
  // Inside the range, addresses stay as they are, ahead of any MASQUERADE.
  const long keep = lineIndex(s, "-A BERTH-MESH-NAT -s 10.210.0.0/16 -d 10.210.0.0/16 -j RETURN");
  EXPECT_GE(keep, 0);
  EXPECT_LT(keep, lineIndex(s, "-A BERTH-MESH-NAT -s 10.210.2.32/27 ! -d 10.210.0.0/16 -j MASQUERADE"));
}

TEST(ApplyScriptTest, TheRelayPortIsOpenOnTheMeshAddress) {
  const std::string s = renderApplyScript(threeHosts());
  const long relay =
      lineIndex(s, "-A BERTH-MESH-IN -i berth0 -d 10.210.2.1/32 -p tcp --dport 7947 -j RETURN");
  const long drop = lineIndex(s, "-A BERTH-MESH-IN -i berth0 -j DROP");
  EXPECT_GE(relay, 0);
  EXPECT_LT(relay, drop);
}

TEST(ApplyScriptTest, DnsOfANetworkAnswersOnlyItsMembers) {
  const std::string s = renderApplyScript(threeHosts());
  for (const char* p : {"udp", "tcp"}) {
    const std::string proto = p;
    EXPECT_THAT(lines(s), Contains("-A BERTH-MESH-IN -d 10.210.2.33/32 -p " + proto +
                                   " --dport 53 ! -s 10.210.2.32/27 -j DROP"));
    EXPECT_THAT(lines(s), Contains("-A BERTH-MESH-IN -d 10.210.2.1/32 -p " + proto +
                                   " --dport 53 -s 10.210.2.64/27 -j RETURN"));
    EXPECT_LT(lineIndex(s, "-A BERTH-MESH-IN -d 10.210.2.1/32 -p " + proto +
                               " --dport 53 -s 10.210.2.96/27 -j RETURN"),
              lineIndex(s, "-A BERTH-MESH-IN -d 10.210.2.1/32 -p " + proto + " --dport 53 -j DROP"));
  }
}

TEST(ApplyScriptTest, StartsOneDnsServerPerNetworkAndTheForwarder) {
  const std::string s = renderApplyScript(threeHosts());
  EXPECT_THAT(s, HasSubstr("dns shop_backend --listen-address=10.210.2.33 "));
  EXPECT_THAT(s, HasSubstr("dns shop_db --listen-address=10.210.2.65 "));
  EXPECT_THAT(s, HasSubstr("dns blog_default --listen-address=10.210.2.97 "));
  EXPECT_EQ(countLines(s, "dns shop_backend --listen-address="), 1);
  EXPECT_THAT(s, HasSubstr("--hostsdir=\"$S/dns/shop_backend\""));
  // The forwarder on the mesh address keeps stack names in the cluster.
  const std::vector<std::string> all = lines(s);
  auto fwd = std::find_if(all.begin(), all.end(), [](const std::string& l) {
    return startsWith(l, "dns _mesh --listen-address=10.210.2.1 ");
  });
  ASSERT_NE(fwd, all.end()) << s;
  EXPECT_THAT(*fwd, HasSubstr(" --local=/shop/"));
  EXPECT_THAT(*fwd, HasSubstr(" --local=/blog/"));
  EXPECT_EQ(countLines(s, "dns _mesh "), 1);
  // The servers of networks gone are stopped.
  EXPECT_THAT(lines(s), Contains("want=' _mesh shop_backend shop_db blog_default '"));
}

// ---- the ingress

HostMeshConfig withIngress() {
  HostMeshConfig c = threeHosts();
  IngressRoute web;
  web.published = 80;
  web.service = "shop/web";
  web.local = {{ip("10.210.2.34"), 8080}, {ip("10.210.2.35"), 8080}};
  web.remote = {{ip("10.210.1.1"), 2}, {ip("10.210.3.1"), 1}};
  IngressRoute api;
  api.published = 443;
  api.service = "shop/api";
  api.remote = {{ip("10.210.1.1"), 3}};
  c.ingress = {web, api};
  return c;
}

TEST(IngressConfigTest, IsEmptyWithoutRoutes) {
  EXPECT_EQ(renderIngressConfig(threeHosts()), "");
  HostMeshConfig c = threeHosts();
  c.ingressFrontends = false;
  EXPECT_EQ(renderIngressConfig(c), "");
}

TEST(IngressConfigTest, BalancesEachPortOverLocalReplicasAndOtherHostsRelays) {
  const std::string s = renderIngressConfig(withIngress());
  EXPECT_THAT(s, HasSubstr("frontend ingress_80\n  bind :80\n  default_backend ingress_80\n"));
  EXPECT_THAT(s, HasSubstr("backend ingress_80\n  balance roundrobin\n"
                           "  server 10.210.2.34:8080 10.210.2.34:8080 source 0.0.0.0 usesrc clientip\n"
                           "  server 10.210.2.35:8080 10.210.2.35:8080 source 0.0.0.0 usesrc clientip\n"
                           "  server relay-10.210.1.1 10.210.1.1:7947 send-proxy-v2 weight 2\n"
                           "  server relay-10.210.3.1 10.210.3.1:7947 send-proxy-v2 weight 1\n"));
  // A port with replicas on other hosts only: relays only.
  EXPECT_THAT(s, HasSubstr("frontend ingress_443\n  bind :443\n  default_backend ingress_443\n"
                           "backend ingress_443\n  balance roundrobin\n"
                           "  server relay-10.210.1.1 10.210.1.1:7947 send-proxy-v2 weight 3\n"));
  // What other hosts relay reaches the replicas here, from the client's address.
  EXPECT_THAT(s, HasSubstr("backend local_80\n  balance roundrobin\n"
                           "  server 10.210.2.34:8080 10.210.2.34:8080 source 0.0.0.0 usesrc clientip\n"
                           "  server 10.210.2.35:8080 10.210.2.35:8080 source 0.0.0.0 usesrc clientip\n"));
  EXPECT_THAT(s, Not(HasSubstr("backend local_443")));
  EXPECT_THAT(
      s, HasSubstr("frontend relay\n  bind 10.210.2.1:7947 accept-proxy\n  use_backend local_%[dst_port]\n"));
  EXPECT_EQ(countLines(s, "frontend relay"), 1);
  // Relays never go back out through a relay, nor to the host itself.
  EXPECT_EQ(countLines(s, "relay-10.210.2.1"), 0);
  EXPECT_EQ(renderIngressConfig(withIngress()), s);
}

TEST(IngressConfigTest, AHostWithoutFrontendsOnlyRelaysToItsReplicas) {
  HostMeshConfig c = withIngress();
  c.ingressFrontends = false;
  const std::string s = renderIngressConfig(c);
  EXPECT_THAT(s, Not(HasSubstr("bind :")));
  EXPECT_THAT(s, Not(HasSubstr("ingress_")));
  EXPECT_THAT(s, Not(HasSubstr("send-proxy-v2")));
  EXPECT_THAT(s, HasSubstr("backend local_80\n"));
  EXPECT_THAT(s, HasSubstr("frontend relay\n  bind 10.210.2.1:7947 accept-proxy\n"));
}

TEST(IngressConfigTest, NoRelayFrontendWithoutLocalReplicas) {
  HostMeshConfig c = withIngress();
  c.ingress[0].local.clear();
  const std::string s = renderIngressConfig(c);
  EXPECT_THAT(s, Not(HasSubstr("backend local_")));
  EXPECT_THAT(s, Not(HasSubstr("frontend relay")));
  EXPECT_THAT(s, Not(HasSubstr("usesrc clientip")));
  EXPECT_THAT(s, HasSubstr("frontend ingress_80\n  bind :80\n"));
  EXPECT_THAT(s, HasSubstr("  server relay-10.210.3.1 10.210.3.1:7947 send-proxy-v2 weight 1\n"));
}

TEST(IngressConfigTest, IsEmptyWhenTheHostHasNothingToServe) {
  // No frontends here, and every replica elsewhere: no HAProxy at all.
  HostMeshConfig c = withIngress();
  c.ingressFrontends = false;
  for (IngressRoute& r : c.ingress) r.local.clear();
  EXPECT_EQ(renderIngressConfig(c), "");
}

TEST(IngressConfigTest, APortWithNoReplicasAnywhereIsNotPublished) {
  HostMeshConfig c = withIngress();
  c.ingress[1].remote.clear();
  const std::string s = renderIngressConfig(c);
  EXPECT_THAT(s, Not(HasSubstr("ingress_443")));
  EXPECT_THAT(s, Not(HasSubstr("bind :443")));
  EXPECT_THAT(s, HasSubstr("bind :80\n"));
}

HostMeshConfig withHttp() {
  HostMeshConfig c = threeHosts();
  HttpIngressRoute web;
  web.host = "shop.example.com";
  web.path = "/";
  web.relayKey = 65535;
  web.service = "shop/web";
  web.local = {{ip("10.210.2.40"), 80}};
  web.remote = {{ip("10.210.3.1"), 1}};
  HttpIngressRoute api;
  api.host = "shop.example.com";
  api.path = "/api";
  api.relayKey = 65534;
  api.service = "shop/api";
  api.remote = {{ip("10.210.1.1"), 2}};
  c.http = {web, api};
  return c;
}

TEST(HttpIngressConfigTest, RoutesByHostAndLongestPathFirst) {
  const std::string s = renderIngressConfig(withHttp());
  EXPECT_THAT(s, HasSubstr("frontend http\n  mode http\n  bind :80\n  option forwardfor\n"));
  EXPECT_THAT(s, Not(HasSubstr("bind :443")));
  // /api is tried before /, each for its host.
  const auto api = s.find("use_backend http_65534 if host_65534 path_65534");
  const auto web = s.find("use_backend http_65535 if host_65535 path_65535");
  ASSERT_NE(api, std::string::npos) << s;
  ASSERT_NE(web, std::string::npos) << s;
  EXPECT_LT(api, web);
  EXPECT_THAT(s, HasSubstr("  acl host_65534 hdr(host),field(1,:) -i shop.example.com\n"));
  EXPECT_THAT(s, HasSubstr("  acl path_65534 path_beg /api\n"));
  // A route's backend retries on another replica and tells relays its key.
  EXPECT_THAT(s, HasSubstr("backend http_65535\n  mode http\n  balance roundrobin\n  retry-on all-retryable-errors\n"
                           "  retries 3\n  http-request set-dst-port int(65535)\n"
                           "  server 10.210.2.40:80 10.210.2.40:80 source 0.0.0.0 usesrc clientip\n"
                           "  server relay-10.210.3.1 10.210.3.1:7947 send-proxy-v2 weight 1\n"));
  // What other hosts relay for a route with replicas here reaches them by its key.
  EXPECT_THAT(s, HasSubstr("backend local_65535\n  balance roundrobin\n"
                           "  server 10.210.2.40:80 10.210.2.40:80 source 0.0.0.0 usesrc clientip\n"));
  EXPECT_THAT(s, Not(HasSubstr("backend local_65534")));
  EXPECT_THAT(s, HasSubstr("frontend relay\n"));
}

TEST(HttpIngressConfigTest, ARouteWithoutReplicasAnswers503RatherThanALessSpecificRoute) {
  HostMeshConfig c = withHttp();
  c.http[1].remote.clear();  // /api has no replica anywhere
  const std::string s = renderIngressConfig(c);
  EXPECT_THAT(s, HasSubstr("use_backend http_65534 if host_65534 path_65534"));
  EXPECT_THAT(s, HasSubstr("backend http_65534\n"));
}

TEST(HttpIngressConfigTest, CertificatesAddTls) {
  HostMeshConfig c = withHttp();
  c.certificates = {"a.pem", "b.pem"};
  EXPECT_THAT(renderIngressConfig(c),
              HasSubstr("  bind :443 ssl crt /var/lib/berth-net/certs/a.pem crt /var/lib/berth-net/certs/b.pem\n"));
}

TEST(HttpIngressConfigTest, AHostWithoutFrontendsOnlyRelays) {
  HostMeshConfig c = withHttp();
  c.ingressFrontends = false;
  const std::string s = renderIngressConfig(c);
  EXPECT_THAT(s, Not(HasSubstr("frontend http")));
  EXPECT_THAT(s, HasSubstr("backend local_65535\n"));
  c.http[0].local.clear();
  EXPECT_EQ(renderIngressConfig(c), "");
}

TEST(IngressScriptTest, IsValidShell) {
  const std::string s = renderIngressScript();
  EXPECT_EQ(shSyntax(s), "ok");
  EXPECT_THAT(s, HasSubstr("set -eu\n"));
  // A reload hands the listening sockets over.
  EXPECT_THAT(s, HasSubstr("-x \"$R/haproxy.sock\" -sf"));
}

// ---- leave.sh

TEST(LeaveScriptTest, IsValidShellThatGoesOnPastWhatIsAlreadyGone) {
  const std::string s = renderLeaveScript();
  EXPECT_EQ(shSyntax(s), "ok");
  // Run again, or on a host half set up, nothing it removes may stop it.
  EXPECT_THAT(s, HasSubstr("set -u\n"));
  EXPECT_THAT(s, Not(HasSubstr("set -e")));
  // The last configuration goes first: an agent started again would apply it.
  EXPECT_LT(s.find("rm -f \"$S/apply.sh\""), s.find("iptables"));
}

// Whatever apply.sh hooks into the host, leave.sh unhooks: a chain added to apply.sh without its
// removal fails here.
TEST(LeaveScriptTest, UndoesEveryHookAndChainTheApplyScriptMakes) {
  const std::string apply = renderApplyScript(threeHosts());
  const std::string leave = renderLeaveScript();
  int hooks = 0;
  for (const std::string& line : split(apply, '\n')) {
    if (line.rfind(":BERTH-", 0) == 0) {
      const std::string chain = line.substr(1, line.find(' ') - 1);
      EXPECT_THAT(leave, HasSubstr(" " + chain + "\n")) << "leave.sh does not remove the chain " << chain;
    }
    // "iptables [-t TABLE] -C CHAIN -j OURS 2>/dev/null || iptables [-t TABLE] -I CHAIN -j OURS"
    const auto insert = line.find("|| iptables ");
    if (insert == std::string::npos) continue;
    std::vector<std::string> words = split(line.substr(insert + 3), ' ');
    std::string hookTable = "filter";
    std::size_t i = 1;
    if (words.size() > 2 && words[1] == "-t") {
      hookTable = words[2];
      i = 3;
    }
    ASSERT_GE(words.size(), i + 4) << line;
    ASSERT_EQ(words[i], "-I") << line;
    ++hooks;
    EXPECT_THAT(leave, HasSubstr("unhook " + hookTable + " " + words[i + 1] + " " + words[i + 3] + "\n"))
        << line;
  }
  EXPECT_EQ(hooks, 4);
  EXPECT_THAT(apply, HasSubstr("ip rule add pref 2000 fwmark 0x2000/0x2000 lookup 2000"));
  EXPECT_THAT(leave, HasSubstr("ip rule del pref 2000 fwmark 0x2000/0x2000 lookup 2000"));
  EXPECT_THAT(apply, HasSubstr("table 2000\n"));
  EXPECT_THAT(leave, HasSubstr("ip route flush table 2000"));
  EXPECT_THAT(leave, HasSubstr("ip link del \"$IF\""));
}

// ---- hosts files

TEST(HostsFileTest, OneSortedLinePerAddress) {
  const std::vector<DnsRecord> records = {
      {ip("10.210.2.35"), {"web.shop", "web", "shop-web-2", "shop-web-2.shop"}},
      {ip("10.210.2.34"), {"web", "shop-web-1"}},
      {ip("10.210.1.40"), {"db.shop", "db"}},
  };
  EXPECT_EQ(renderHostsFile(records),
            "10.210.1.40 db db.shop\n"
            "10.210.2.34 shop-web-1 web\n"
            "10.210.2.35 shop-web-2 shop-web-2.shop web web.shop\n");
}

TEST(HostsFileTest, TheSameRecordsInAnyOrderRenderTheSameText) {
  std::vector<DnsRecord> records = {
      {ip("10.210.2.35"), {"web", "shop-web-2"}},
      {ip("10.210.2.34"), {"shop-web-1", "web"}},
      {ip("10.210.1.40"), {"db"}},
      {ip("10.210.3.7"), {"cache", "shop-cache-1"}},
  };
  const std::string first = renderHostsFile(records);
  EXPECT_EQ(countLines(first, "10.210."), 4);
  std::sort(records.begin(), records.end(),
            [](const DnsRecord& a, const DnsRecord& b) { return a.address < b.address; });
  do {
    std::vector<DnsRecord> shuffled = records;
    for (DnsRecord& r : shuffled) std::reverse(r.names.begin(), r.names.end());
    EXPECT_EQ(renderHostsFile(shuffled), first);
    EXPECT_EQ(renderHostsFile(records), first);
  } while (std::next_permutation(records.begin(), records.end(), [](const DnsRecord& a, const DnsRecord& b) {
    return a.address < b.address;
  }));
}

TEST(HostsFileTest, SkipsRecordsWithoutNames) {
  EXPECT_EQ(renderHostsFile({{ip("10.210.2.34"), {}}, {ip("10.210.2.35"), {"web"}}}), "10.210.2.35 web\n");
  EXPECT_EQ(renderHostsFile({{ip("10.210.2.34"), {}}}), "");
  EXPECT_EQ(renderHostsFile({}), "");
}

}  // namespace
}  // namespace berth::mesh
