// The cross-host network against real engines: berthd with its mesh on (the default) over three
// namespace hosts, each with its own dockerd, joined by wireguard-go (the machine's kernel has no
// WireGuard module). Stacks are placed tier by tier on different hosts with constraints, and the
// tests look from inside the containers: what resolves, what answers, what a capture on the link
// between hosts sees.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "harness/background_process.h"
#include "harness/names.h"
#include "harness/wait.h"
#include "integration/controller/controller_fixture.h"

namespace berth::testing::controller {
namespace {

// Runs `cmd` in a container of host i through the docker CLI (a container's view of the network is
// what is under test).
CommandResult execIn(int host, const std::string& container, const std::vector<std::string>& cmd,
                     std::chrono::milliseconds timeout = 30s) {
  std::vector<std::string> argv{"docker", "-H", Fleet::get().host(host).unixSocketUrl(), "exec", container};
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  auto r = runCommand(argv, {.timeout = timeout});
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : CommandResult{};
}

// An HTTP GET from inside a container (busybox nc: its wget crashes in the static build).
std::string httpGet(int host, const std::string& container, const std::string& target) {
  auto r = execIn(host, container,
                  {"sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 " + target + " 80 2>&1"});
  return r.out + r.err;
}

// ok() once `container` on host i gets the page of the tier named `tier` (tier() below) from it.
Status servedBy(int host, const std::string& container, const std::string& tier) {
  const std::string out = httpGet(host, container, tier);
  return out.find("tier-" + tier) != std::string::npos ? ok() : fail(ErrorCode::NotFound, out);
}

// The addresses a name resolves to from inside a container (nslookup's answers).
std::vector<std::string> resolve(int host, const std::string& container, const std::string& name) {
  auto r = execIn(host, container, {"nslookup", "-type=a", name});
  std::vector<std::string> out;
  bool answers = false;
  for (const std::string& line : split(r.out, '\n')) {
    if (line.rfind("Name:", 0) == 0) answers = true;
    if (answers && line.rfind("Address:", 0) == 0) out.push_back(std::string(trim(line.substr(8))));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The address of a container on a network, as its engine says.
std::string addressOn(int host, const std::string& container, const std::string& network) {
  auto c = Fleet::get().engineOf(host).inspectContainer(container);
  EXPECT_TRUE(c) << c.error().message();
  if (!c) return {};
  auto it = c->networkSettings.networks.find(network);
  return it == c->networkSettings.networks.end() ? std::string() : it->second.ipAddress;
}

// Waits until host i's agent has `peers` WireGuard peers.
Status waitMeshPeers(const std::string& what, int host, int peers) {
  return waitFor(
      what,
      [&]() -> Status {
        auto r = execIn(host, "berth-net", {"wg", "show", "berth0", "peers"});
        const int n = static_cast<int>(split(std::string(trim(r.out)), '\n').size());
        return n == peers ? ok() : fail(ErrorCode::NotFound, std::to_string(n) + " peers");
      },
      30s, 200ms);
}

std::string tier(const std::string& name, const std::string& hostname, const std::string& networks) {
  return "  " + name + ":\n"
         "    image: busybox:latest\n"
         "    command: [sh, -c, \"mkdir -p /www && echo tier-" + name +
         " > /www/index.html && exec httpd -f -p 80 -h /www\"]\n"
         "    networks: " + networks + "\n"
         "    deploy: {placement: {constraints: [node.hostname == " + hostname + "]}}\n";
}

class MeshTest : public ::testing::Test {
 protected:
  Fleet& fleet = Fleet::get();

  void deploy(const std::string& stack, const StackDir& dir) {
    auto r = fleet.berth({"stack", "deploy", "-c", dir.file(), stack});
    ASSERT_EQ(r.exitCode, 0) << r.describe() << fleet.berthdLog();
  }
  void waitRunning(const std::string& stack, std::size_t n) {
    Status s = waitFor(
        "tasks running",
        [&]() -> Status {
          auto running = fleet.running(stack);
          if (running.size() == n) return ok();
          return fail(ErrorCode::NotFound, std::to_string(running.size()) + " running");
        },
        60s, 200ms);
    ASSERT_TRUE(s) << s.error().message() << fleet.berthdLog();
  }
  // The stack most tests use: tiers a on host 1 and b on `bNode`, one network; deployed, running.
  void deployAAndB(const std::string& stack, const std::string& bNode) {
    StackDir dir("services:\n" + tier("a", "node-1", "[net]") + tier("b", bNode, "[net]") +
                 "networks:\n  net: {}\n");
    deploy(stack, dir);
    waitRunning(stack, 2);
  }
  // ok() once that stack's a gets b's page by name.
  static Status aReachesB(const std::string& stack) { return servedBy(0, stack + "-a-1", "b"); }
};

TEST_F(MeshTest, TheThreeTierExampleWithEachTierOnAnotherHost) {
  // examples/three-tier as it is, each tier pinned to a host by an override file; its web port is
  // an ingress port, so a page asked of any host goes web (node-1) -> app (node-2) -> db (node-3).
  auto prepared = runCommand({std::string(BERTH_SOURCE_DIR) + "/examples/prepare"}, {.timeout = 120s});
  ASSERT_TRUE(prepared && prepared->exitCode == 0) << (prepared ? prepared->describe() : prepared.error().message());
  // A short name: a task's name (STACK-SERVICE-SLOT) is a DNS label, 63 characters at most.
  const std::string stack = "shop3";
  StackDir pins("services:\n"
                "  web: {deploy: {placement: {constraints: [node.hostname == node-1]}}}\n"
                "  app: {deploy: {placement: {constraints: [node.hostname == node-2]}}}\n"
                "  db: {deploy: {placement: {constraints: [node.hostname == node-3]}}}\n");
  auto r = fleet.berth({"stack", "deploy", "-c", std::string(BERTH_SOURCE_DIR) + "/examples/three-tier/compose.yaml",
                        "-c", pins.file(), stack});
  ASSERT_EQ(r.exitCode, 0) << r.describe() << fleet.berthdLog();
  for (int i = 0; i < kHosts; ++i) {
    Status s = waitFor(
        "the page through host " + std::to_string(i + 1),
        [&]() -> Status {
          auto page = runCommand({"curl", "-s", "--max-time", "5",
                                  "http://" + fleet.host(i).address() + ":8081/cgi-bin/page"},
                                 {.timeout = 10s});
          const std::string out = page ? page->out : std::string();
          return out.find("web: asking app\napp: querying db\ndb: 3 rows (alice, bob, carol)") != std::string::npos
                     ? ok()
                     : fail(ErrorCode::NotFound, out);
        },
        60s, 300ms);
    ASSERT_TRUE(s) << s.error().message() << fleet.berthdLog();
  }
  const std::string web = stack + "-web-1", app = stack + "-app-1", db = stack + "-db-1";
  auto byName = execIn(0, web, {"wget", "-q", "-O", "-", "http://db:5432/rows"});
  EXPECT_NE(byName.exitCode, 0);
  EXPECT_THAT(byName.err, ::testing::HasSubstr("bad address 'db:5432'"));
  const std::string dbIp = addressOn(2, db, stack + "_app-db");
  auto reach = execIn(0, web, {"timeout", "3", "wget", "-q", "-O", "-", "http://" + dbIp + ":5432/rows"});
  EXPECT_NE(reach.exitCode, 0);
  EXPECT_EQ(reach.out, "");
  EXPECT_EQ(execIn(1, app, {"wget", "-q", "-O", "-", "http://db:5432/rows"}).out, "db: 3 rows (alice, bob, carol)\n");
  // Every name of a replica: SERVICE, SERVICE.STACK, TASK, TASK.STACK; each host's networks are
  // slices of its own subnet of the cluster range.
  const std::string appIp = addressOn(1, app, stack + "_web-app");
  EXPECT_EQ(appIp.rfind("10.210.2.", 0), 0u) << appIp;
  EXPECT_EQ(dbIp.rfind("10.210.3.", 0), 0u) << dbIp;
  for (const std::string& name : {std::string("app"), "app." + stack, stack + "-app-1", stack + "-app-1." + stack}) {
    EXPECT_EQ(resolve(0, web, name), std::vector<std::string>{appIp}) << name;
  }
  for (const std::string& name : {std::string("db"), "db." + stack, stack + "-db-1", stack + "-db-1." + stack}) {
    EXPECT_EQ(resolve(1, app, name), std::vector<std::string>{dbIp}) << name;
    EXPECT_TRUE(resolve(0, web, name).empty()) << name;
  }
  EXPECT_EQ(execIn(2, db, {"sh", "-c", "ping -c 1 -W 1 " + fleet.host(2).gatewayAddress() + " >/dev/null 2>&1; echo $?"}).out,
            "1\n");  // app-db is internal: no way out
  fleet.removeStack(stack);
}

TEST_F(MeshTest, TrafficBetweenHostsIsEncrypted) {
  const std::string stack = uniqueName("enc");
  deployAAndB(stack, "node-2");
  const std::string a = stack + "-a-1";
  Status s = waitFor(
      "a -> b", [&] { return aReachesB(stack); }, 20s, 200ms);
  ASSERT_TRUE(s) << s.error().message() << fleet.berthdLog();

  // Capture host 2's link (its veth in the root namespace) while a known payload crosses to it.
  TempDir capture("berth-capture-");
  const std::string pcap = (capture.path() / "link.pcap").string();
  const std::string link = "bth" + std::to_string(fleet.host(1).index());
  auto tcpdump = BackgroundProcess::start({"tcpdump", "-i", link, "-n", "--immediate-mode", "-U", "-w", pcap}, {});
  ASSERT_TRUE(tcpdump) << tcpdump.error().message();
  ASSERT_TRUE((*tcpdump)->waitForOutput("listening on", 10s)) << (*tcpdump)->describe();
  const std::string payload = "berth-known-payload-7f3a9c";
  std::string answer;
  for (int i = 0; i < 3; ++i) {
    answer = execIn(0, a, {"sh", "-c", "printf 'GET /" + payload + " HTTP/1.0\\r\\n\\r\\n' | nc -w 2 b 80"}).out;
  }
  EXPECT_THAT(answer, ::testing::HasSubstr("404"));  // it arrived: b's httpd has no such page
  (*tcpdump)->signal(SIGINT);
  (void)(*tcpdump)->wait(10s);
  std::ifstream in(pcap, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  const std::string raw = bytes.str();
  EXPECT_GT(raw.size(), 1000u) << "the capture saw nothing: " << (*tcpdump)->describe();
  EXPECT_EQ(raw.find(payload), std::string::npos) << "the payload crossed the link in plaintext";
  // What crossed was WireGuard (UDP to its port).
  auto wg = runCommand({"tcpdump", "-r", pcap, "-n", "udp port 51820"});
  ASSERT_TRUE(wg);
  EXPECT_GT(split(wg->out, '\n').size(), 3u) << wg->describe();
  fleet.removeStack(stack);
}

TEST_F(MeshTest, AMovedReplicaIsReachableByNameWithinASecond) {
  const std::string stack = uniqueName("mv");
  StackDir dir("services:\n" + tier("client", "node-1", "[net]") + tier("mover", "node-2", "[net]") +
               "networks:\n  net: {}\n");
  deploy(stack, dir);
  waitRunning(stack, 2);
  const std::string client = stack + "-client-1";
  const std::string before = addressOn(1, stack + "-mover-1", stack + "_net");
  Status s = waitFor(
      "mover resolves",
      [&]() -> Status {
        auto r = resolve(0, client, "mover");
        return r == std::vector<std::string>{before} ? ok() : fail(ErrorCode::NotFound, join(r, ","));
      },
      20s, 100ms);
  ASSERT_TRUE(s) << s.error().message() << fleet.berthdLog();

  // Move it to node-3.
  dir.write("services:\n" + tier("client", "node-1", "[net]") + tier("mover", "node-3", "[net]") +
            "networks:\n  net: {}\n");
  auto r = fleet.berth({"stack", "deploy", "--detach", "-c", dir.file(), stack});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  std::string after;
  s = waitFor(
      "mover running on node-3",
      [&]() -> Status {
        for (const auto& c : fleet.containers(2, stack)) {
          if (c.state == engine::ContainerStatus::Running && c.labels.count("io.berth.service") &&
              c.labels.at("io.berth.service") == "mover") {
            auto it = c.networks.find(stack + "_net");
            if (it != c.networks.end()) after = it->second.ipAddress;
            return ok();
          }
        }
        return fail(ErrorCode::NotFound, "not yet");
      },
      60s, 20ms);
  ASSERT_TRUE(s) << s.error().message() << fleet.berthdLog();
  const auto seen = std::chrono::steady_clock::now();
  s = waitFor(
      "mover resolves to its new address",
      [&]() -> Status {
        auto addrs = resolve(0, client, "mover");
        return addrs == std::vector<std::string>{after} ? ok() : fail(ErrorCode::NotFound, join(addrs, ","));
      },
      10s, 20ms);
  ASSERT_TRUE(s) << s.error().message();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - seen);
  std::cerr << "[mesh] moved replica resolvable " << took.count() << " ms after it was seen running\n";
  EXPECT_LE(took, 1000ms) << fleet.berthdLog();
  EXPECT_THAT(httpGet(0, client, "mover"), ::testing::HasSubstr("tier-mover"));
  fleet.removeStack(stack);
}

TEST_F(MeshTest, AHostLostAndBackRejoinsTheMesh) {
  const std::string stack = uniqueName("lost");
  deployAAndB(stack, "node-3");
  const auto reachesB = [&] { return aReachesB(stack); };
  ASSERT_TRUE(waitFor("a -> b", reachesB, 20s, 200ms)) << fleet.berthdLog();

  // Host 3 drops off the network: the controller declares it down and the others drop its peer.
  ASSERT_TRUE(fleet.host(2).setReachable(false));
  Status s = waitMeshPeers("host 1 drops host 3's peer", 0, 1);
  EXPECT_TRUE(s) << s.error().message() << fleet.berthdLog();

  ASSERT_TRUE(fleet.host(2).setReachable(true));
  fleet.waitHostsReady(60s);
  s = waitMeshPeers("host 1 has both peers again", 0, 2);
  EXPECT_TRUE(s) << s.error().message() << fleet.berthdLog();
  EXPECT_TRUE(waitFor("a -> b again", reachesB, 30s, 200ms)) << fleet.berthdLog();
  fleet.removeStack(stack);
}

TEST_F(MeshTest, AnEngineRestartBringsTheAgentAndTheMeshBack) {
  const std::string stack = uniqueName("rs");
  deployAAndB(stack, "node-2");
  const auto reachesB = [&] { return aReachesB(stack); };
  ASSERT_TRUE(waitFor("a -> b", reachesB, 20s, 200ms)) << fleet.berthdLog();
  // Host 2's engine restarts: wireguard-go, the DNS servers and the containers go with it.
  ASSERT_TRUE(fleet.host(1).restartEngine());
  fleet.waitHostsReady(60s);
  EXPECT_TRUE(waitFor("a -> b after the restart", reachesB, 60s, 200ms)) << fleet.berthdLog();
  fleet.removeStack(stack);
}

TEST_F(MeshTest, AnAgentStoppedOrRemovedByHandComesBack) {
  const std::string stack = uniqueName("ag");
  deployAAndB(stack, "node-2");
  const auto reachesB = [&] { return aReachesB(stack); };
  ASSERT_TRUE(waitFor("a -> b", reachesB, 20s, 200ms)) << fleet.berthdLog();
  // Host 2's agent stopped (the engine does not restart what was stopped): wireguard-go and the
  // DNS servers go with it, and nothing else changes in the fleet to make berthd look.
  const std::string engineUrl = fleet.host(1).unixSocketUrl();
  auto stopped = runCommand({"docker", "-H", engineUrl, "stop", "-t", "1", "berth-net"});
  ASSERT_TRUE(stopped && stopped->exitCode == 0)
      << (stopped ? stopped->describe() : stopped.error().message());
  EXPECT_TRUE(waitFor("a -> b after the agent stopped", reachesB, 30s, 200ms)) << fleet.berthdLog();
  // Removed: made anew, with the same key (the volume keeps it), so no peer changes.
  auto removed = runCommand({"docker", "-H", engineUrl, "rm", "-f", "berth-net"});
  ASSERT_TRUE(removed && removed->exitCode == 0)
      << (removed ? removed->describe() : removed.error().message());
  EXPECT_TRUE(waitFor("a -> b after the agent was removed", reachesB, 30s, 200ms)) << fleet.berthdLog();
  fleet.removeStack(stack);
}

TEST_F(MeshTest, AHostThatCannotRunWireGuardIsAnErrorThatNamesTheHost) {
  // Host 3 loses its TUN device (wireguard-go's; the kernel has no WireGuard module) and its
  // agent, as a host without them would be when berthd first meets it.
  TestHost& h3 = fleet.host(2);
  auto hide = h3.run({"mount", "-t", "tmpfs", "tmpfs", "/dev/net"});
  ASSERT_TRUE(hide && hide->exitCode == 0) << (hide ? hide->describe() : hide.error().message());
  ASSERT_TRUE(runCommand({"docker", "-H", h3.unixSocketUrl(), "rm", "-f", "berth-net"}));
  const std::string stack = uniqueName("notun");
  StackDir dir("services:\n" + tier("a", "node-1", "[net]") + tier("b", "node-3", "[net]") + "networks:\n  net: {}\n");
  deploy(stack, dir);
  Status s = waitFor(
      "the error",
      [&]() -> Status {
        return fleet.berthdLog().find("host h3: mesh: cannot run WireGuard: the host has no /dev/net/tun") !=
                       std::string::npos
                   ? ok()
                   : fail(ErrorCode::NotFound, "not in berthd's log");
      },
      30s, 200ms);
  EXPECT_TRUE(s) << s.error().message() << fleet.berthdLog();
  // Given the device back, the host joins again by itself (berthd keeps trying).
  auto show = h3.run({"umount", "/dev/net"});
  ASSERT_TRUE(show && show->exitCode == 0) << (show ? show->describe() : show.error().message());
  s = waitFor(
      "a -> b", [&]() -> Status { return aReachesB(stack); }, 60s, 200ms);
  EXPECT_TRUE(s) << s.error().message() << fleet.berthdLog();
  fleet.removeStack(stack);
}

TEST_F(MeshTest, ANetworkOverlappingTheMeshRangeIsAnErrorThatNamesTheHost) {
  // Host 1's engine has a network of its own inside the cluster range.
  engine::NetworkCreate create;
  create.name = uniqueName("squatter");
  create.ipam.config.push_back({.subnet = "10.210.250.0/24"});
  auto made = fleet.engineOf(0).createNetwork(create);
  ASSERT_TRUE(made) << made.error().message();
  const std::string stack = uniqueName("ov");
  StackDir dir("services:\n" + tier("a", "node-1", "[net]") + "networks:\n  net: {}\n");
  // The deploy fails, saying which host, which network and which range.
  auto r = fleet.berth({"stack", "deploy", "-c", dir.file(), stack});
  EXPECT_NE(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.err, ::testing::HasSubstr("failed on h1: mesh: the engine's network " + create.name +
                                          " (10.210.250.0/24) overlaps the mesh range 10.210.0.0/16"));
  fleet.removeStack(stack);
  ASSERT_TRUE(fleet.engineOf(0).removeNetwork(create.name));
}

TEST_F(MeshTest, AHostRemovedFromTheFleetLeavesTheMeshAndKeepsNothingOfIt) {
  TestHost& h3 = fleet.host(2);
  const auto across = [&](const std::string& stack) {
    deployAAndB(stack, "node-3");
    Status s = waitFor(
        "a -> b", [&] { return aReachesB(stack); }, 30s, 200ms);
    EXPECT_TRUE(s) << s.error().message() << fleet.berthdLog();
    fleet.removeStack(stack);
  };
  across(uniqueName("rm"));  // host 3 is in the mesh

  const auto inHost = [&](const std::vector<std::string>& argv) {
    auto out = h3.run(argv);
    EXPECT_TRUE(out) << out.error().message();
    return out ? *out : CommandResult{};
  };
  // What the checks below look for is there before.
  ASSERT_EQ(inHost({"ip", "link", "show", "berth0"}).exitCode, 0);
  ASSERT_THAT(inHost({"iptables", "-t", "filter", "-S"}).out,
              ::testing::HasSubstr("-A DOCKER-USER -j BERTH-MESH"));
  ASSERT_NE(trim(inHost({"ip", "rule", "show", "pref", "2000"}).out), "");

  auto r = fleet.berth({"host", "rm", "h3"});
  ASSERT_EQ(r.exitCode, 0) << r.describe() << fleet.berthdLog();
  // Host 3 keeps nothing of the mesh: no agent, no WireGuard interface, no chain hooked into the
  // engine's or the host's iptables, no routing rule; only the volume with its key pair.
  // berthd says so once the agent's clean-up ran and its container and image are gone.
  Status s = waitFor(
      "host 3 left the mesh",
      [&]() -> Status {
        if (fleet.berthdLog().find("host h3: left the mesh: its network agent is removed") ==
            std::string::npos) {
          return fail(ErrorCode::NotFound, "berthd has not said it");
        }
        auto agent = runCommand(
            {"docker", "-H", h3.unixSocketUrl(), "ps", "-a", "-q", "--filter", "name=^berth-net$"});
        if (!agent || agent->exitCode != 0) return fail(ErrorCode::Internal, "docker ps failed");
        return trim(agent->out).empty() ? ok() : fail(ErrorCode::Conflict, "the agent is there");
      },
      30s, 200ms);
  ASSERT_TRUE(s) << s.error().message() << fleet.berthdLog();
  EXPECT_NE(inHost({"ip", "link", "show", "berth0"}).exitCode, 0);
  for (const std::string table : {"filter", "nat", "mangle"}) {
    CommandResult rules = inHost({"iptables", "-t", table, "-S"});
    EXPECT_EQ(rules.exitCode, 0) << rules.describe();
    EXPECT_THAT(rules.out, ::testing::Not(::testing::HasSubstr("BERTH-MESH"))) << "table " << table;
  }
  EXPECT_EQ(trim(inHost({"ip", "rule", "show", "pref", "2000"}).out), "");
  auto volume = runCommand({"docker", "-H", h3.unixSocketUrl(), "volume", "inspect", "berth-net"});
  EXPECT_TRUE(volume && volume->exitCode == 0) << "the key pair's volume stays";
  // The others drop its peer.
  s = waitMeshPeers("host 1 drops host 3's peer", 0, 1);
  EXPECT_TRUE(s) << s.error().message() << fleet.berthdLog();

  // Registered again, it joins again (as a new host number: another subnet).
  r = fleet.berth({"host", "add", "h3", "--url", h3.tlsUrl(), "-l", "zone=b"});
  ASSERT_EQ(r.exitCode, 0) << r.describe() << fleet.berthdLog();
  fleet.waitHostsReady(60s);
  across(uniqueName("back"));
}

}  // namespace
}  // namespace berth::testing::controller
