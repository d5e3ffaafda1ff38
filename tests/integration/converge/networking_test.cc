// Networks as compose defines them, on a real engine: every network mode, user-defined networks
// where every replica answers to the service name (and its aliases), internal networks, and
// published ports (ranges, host IP, UDP).
#include "integration/converge/converge_fixture.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The lines of `nslookup NAME` that carry an answer's address.
int answers(const std::string& nslookup) {
  int n = 0;
  bool inAnswer = false;
  for (const std::string& line : split(nslookup, '\n')) {
    if (startsWith(line, "Name:")) inAnswer = true;
    if (inAnswer && startsWith(line, "Address:")) ++n;
  }
  return n;
}

TEST_F(ConvergeTest, EveryNetworkMode) {
  compose(R"(
x-sleep: &sleep {image: busybox, command: [sleep, "600"], stop_signal: SIGKILL}
services:
  owner: *sleep
  sharer: {<<: *sleep, network_mode: "service:owner"}
  hostnet: {<<: *sleep, network_mode: host}
  isolated: {<<: *sleep, network_mode: none}
  legacy: {<<: *sleep, network_mode: bridge}
)");
  auto r = berth({"up", "-d"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  const std::string addresses = "ip -o -4 addr show | awk '{print $2, $4}'";
  const std::string ownerAddrs = shell("owner", addresses);
  EXPECT_THAT(ownerAddrs, HasSubstr("eth0"));
  EXPECT_EQ(shell("sharer", addresses), ownerAddrs);  // one network namespace
  EXPECT_EQ(inspect(name("sharer")).hostConfig.networkMode.rfind("container:", 0), 0u);
  EXPECT_THAT(shell("hostnet", addresses), HasSubstr(host_->address()));
  EXPECT_EQ(inspect(name("hostnet")).hostConfig.networkMode, "host");
  EXPECT_EQ(shell("isolated", "ip -o link show | awk '{print $2}'"), "lo:\n");
  EXPECT_EQ(inspect(name("legacy")).networkSettings.networks.count("bridge"), 1u);
  EXPECT_EQ(inspect(name("owner")).networkSettings.networks.count(project_ + "_default"), 1u);
  // A second up leaves the namespace sharer alone; replacing the owner replaces it too.
  const std::string sharer = id(name("sharer"));
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  EXPECT_EQ(id(name("sharer")), sharer);
  ASSERT_EQ(berth({"up", "-d", "--force-recreate", "--no-deps", "-t", "0", "owner"}).exitCode, 0);
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  EXPECT_NE(id(name("sharer")), sharer);
  EXPECT_EQ(shell("sharer", addresses), shell("owner", addresses));
}

TEST_F(ConvergeTest, EveryReplicaAnswersToTheServiceNameAndItsAliases) {
  compose(R"(
services:
  app:
    image: busybox
    command: [sleep, "600"]
    stop_signal: SIGKILL
    scale: 3
    networks:
      back: {aliases: [api]}
  client:
    image: busybox
    command: [sleep, "600"]
    stop_signal: SIGKILL
    networks: [back]
networks: {back: {}}
)");
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  EXPECT_EQ(answers(shell("client", "nslookup app")), 3);
  EXPECT_EQ(answers(shell("client", "nslookup api")), 3);
  EXPECT_THAT(inspect(name("app", 2)).networkSettings.networks.at(project_ + "_back").settings.aliases,
              ::testing::IsSupersetOf(std::vector<std::string>{"app", "api", name("app", 2)}));
}

TEST_F(ConvergeTest, InternalNetworksHaveNoWayOut) {
  compose(R"(
services:
  inside: {image: busybox, command: [sleep, "600"], stop_signal: SIGKILL, networks: [private]}
  outside: {image: busybox, command: [sleep, "600"], stop_signal: SIGKILL}
networks:
  private: {internal: true}
)");
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  auto net = engine_->inspectNetwork(project_ + "_private");
  ASSERT_TRUE(net);
  EXPECT_TRUE(net->internal);
  // The engine drops whatever leaves an internal network; a container on the default network gets out.
  const std::string ping = "ping -c 1 -W 1 " + host_->gatewayAddress() + " >/dev/null 2>&1; echo $?";
  EXPECT_EQ(shell("inside", ping), "1\n");
  EXPECT_EQ(shell("outside", ping), "0\n");
}

TEST_F(ConvergeTest, PublishedPortsRangesHostAddressesAndUdp) {
  compose(R"(
services:
  web:
    image: busybox
    stop_signal: SIGKILL
    command:
      - sh
      - -c
      - |
        mkdir -p /www && echo hi > /www/index.html
        httpd -p 80 -h /www && httpd -p 81 -h /www
        sleep 600
    ports:
      - "18101-18102:80-81"
      - "127.0.0.1:18103:80"
      - "18104:9000/udp"
      - "80"
)");
  auto r = berth({"up", "-d"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  const auto ports = inspect(name("web")).networkSettings.ports;
  const auto bound = [&](const std::string& key, const std::string& ip, const std::string& port) {
    if (ports.count(key) == 0) return false;
    for (const auto& b : ports.at(key)) {
      if (b.hostPort == port && (ip.empty() || b.hostIp == ip)) return true;
    }
    return false;
  };
  EXPECT_TRUE(bound("80/tcp", "0.0.0.0", "18101"));
  EXPECT_TRUE(bound("81/tcp", "0.0.0.0", "18102"));
  EXPECT_TRUE(bound("80/tcp", "127.0.0.1", "18103"));
  EXPECT_TRUE(bound("9000/udp", "0.0.0.0", "18104"));
  const std::string base = "http://" + host_->address() + ":";
  EXPECT_TRUE(waitUntil([&] { return httpGet(base + "18101/").out == "hi\n"; }, std::chrono::seconds(10)));
  EXPECT_EQ(httpGet(base + "18102/").out, "hi\n");
  EXPECT_NE(httpGet(base + "18103/").out, "hi\n");  // only on the engine host's loopback
  auto local = host_->run({"curl", "-s", "-m", "5", "http://127.0.0.1:18103/"});
  ASSERT_TRUE(local);
  EXPECT_EQ(local->out, "hi\n");
  // The ephemeral binding of "80" got some free port; `berth port` tells which.
  auto port = berth({"port", "web", "81"});
  EXPECT_EQ(port.out, "0.0.0.0:18102\n") << port.describe();
  // The engine listens on the UDP port (busybox has no UDP server to answer through it).
  auto udp = host_->run({"ss", "-Hulnp", "sport = :18104"});
  ASSERT_TRUE(udp);
  EXPECT_THAT(udp->out, HasSubstr(":18104"));
  // Only ports the file publishes are published.
  auto ps = berth({"ps", "--format", "json"});
  EXPECT_THAT(ps.out, HasSubstr("\"PublishedPort\":18101"));
}

}  // namespace
}  // namespace berth::testing
