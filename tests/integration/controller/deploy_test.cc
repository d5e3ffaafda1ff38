// stack deploy end to end: placement (spread, constraints, reservations), container names and
// labels on the hosts, stack/service listings, idempotent re-deploys, removal, bad input.
#include <gmock/gmock.h>

#include <fstream>

#include "integration/controller/controller_fixture.h"

namespace berth::testing::controller {
namespace {

using ::testing::HasSubstr;

TEST(DeployTest, SpreadsReplicasOverTheHostsAndNamesContainersBySlot) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("spread");
  StackDir dir(R"(
services:
  web:
    image: busybox
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    deploy: {replicas: 3}
)");
  auto r = fleet.berth({"stack", "deploy", "-c", dir.file(), stack});
  ASSERT_EQ(r.exitCode, 0) << r.describe() << fleet.berthdLog();
  EXPECT_THAT(r.err, HasSubstr("Stack " + stack + " is running"));
  if (getenv("BERTH_TEST_VERBOSE")) std::cerr << r.err << fleet.berthdLog();
  const auto running = fleet.running(stack);
  ASSERT_EQ(running.size(), 3u) << fleet.berth({"stack", "ps", stack}).out;
  std::set<std::string> hosts;
  for (const auto& [name, host] : running) hosts.insert(host);
  EXPECT_EQ(hosts.size(), 3u) << "one replica per host";
  // On each host: {stack}-web-{slot}, with compose's and berth's labels.
  int found = 0;
  for (int i = 0; i < kHosts; ++i) {
    for (const auto& c : fleet.containers(i, stack)) {
      ++found;
      const std::string slot = c.labels.at("io.berth.slot");
      EXPECT_EQ(c.names.front(), stack + "-web-" + slot);
      EXPECT_EQ(c.labels.at("com.docker.compose.project"), stack);
      EXPECT_EQ(c.labels.at("com.docker.compose.service"), "web");
      EXPECT_EQ(c.labels.at("io.berth.service"), "web");
      EXPECT_EQ(c.labels.at("io.berth.generation"), "1");
      EXPECT_EQ(running.at("web." + slot), fleet.hostName(i));
    }
  }
  EXPECT_EQ(found, 3);
  auto ls = fleet.berth({"service", "ls"});
  EXPECT_THAT(ls.out, HasSubstr(stack + "_web"));
  EXPECT_THAT(ls.out, HasSubstr("3/3"));

  // The same file again changes nothing.
  auto again = fleet.berth({"stack", "deploy", "-c", dir.file(), stack});
  ASSERT_EQ(again.exitCode, 0) << again.describe();
  EXPECT_THAT(again.err, HasSubstr("is unchanged"));
  EXPECT_EQ(fleet.running(stack), running);

  fleet.removeStack(stack);
  for (int i = 0; i < kHosts; ++i) EXPECT_TRUE(fleet.containers(i, stack).empty());
}

TEST(DeployTest, ConstraintsAndReservationsDecideWhereTasksGoAndSayWhyNot) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("place");
  StackDir dir(R"(
services:
  api:
    image: busybox
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    deploy:
      replicas: 2
      placement: {constraints: [node.labels.zone == b]}
)");
  // On a terminal, one line per task, redrawn in place.
  auto r = fleet.berth({"--progress", "tty", "stack", "deploy", "-c", dir.file(), stack});
  ASSERT_EQ(r.exitCode, 0) << r.describe() << fleet.berthdLog();
  EXPECT_THAT(r.err, HasSubstr("\033[2K  api.1"));
  EXPECT_THAT(r.err, HasSubstr("running"));
  for (const auto& [name, host] : fleet.running(stack)) EXPECT_NE(host, "h1") << name;
  EXPECT_EQ(fleet.running(stack).size(), 2u);

  // Nothing fits: the deploy fails and says why per host.
  const std::string big = uniqueName("big");
  StackDir tooBig(R"(
services:
  hog:
    image: busybox
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    deploy:
      resources: {reservations: {cpus: "512"}}
)");
  auto no = fleet.berth({"stack", "deploy", "-c", tooBig.file(), "--timeout", "30", big});
  EXPECT_NE(no.exitCode, 0) << no.describe();
  EXPECT_THAT(no.err, HasSubstr("no host fits hog.1: h1 has"));
  EXPECT_THAT(no.err, HasSubstr("CPUs free"));
  fleet.removeStack(big);
  fleet.removeStack(stack);
}

TEST(DeployTest, BadInputIsRefusedWithAReasonAndStoresNothing) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("bad");
  StackDir dir(R"(
services:
  web:
    image: busybox
    deploy:
      placement: {constraints: [node.colour == red]}
)");
  auto r = fleet.berth({"stack", "deploy", "-c", dir.file(), stack});
  EXPECT_EQ(r.exitCode, 1) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("service web: deploy.placement.constraints: placement constraint \"node.colour == red\": "
                               "unknown attribute \"node.colour\""));
  auto ls = fleet.berth({"stack", "ls"});
  EXPECT_THAT(ls.out, ::testing::Not(HasSubstr(stack)));
  // An unknown host.
  auto drain = fleet.berth({"host", "drain", "nosuchhost"});
  EXPECT_EQ(drain.exitCode, 1);
  EXPECT_THAT(drain.err, HasSubstr("no host named \"nosuchhost\" is registered with the controller"));
}

TEST(DeployTest, GatewayAccessTravelsWithTheStackAndServiceTrustIsRefused) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("ssh");
  StackDir dir(R"(
services:
  web:
    image: busybox
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    x-berth-ssh:
      authorized_keys: [{file: ./alice.pub}]
      user: "1234"
)");
  const std::string key =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ95tCc6ZIxv5fkSkLfVmmBFMftymJkoIzbrYFRxXF02 alice@test";
  {
    std::ofstream out(dir.path() / "alice.pub");
    out << key << "\n";
  }
  // The key file is read here, on the CLI's machine; berthd gets the key, not the path.
  auto r = fleet.berth({"stack", "deploy", "-c", dir.file(), stack});
  ASSERT_EQ(r.exitCode, 0) << r.describe() << fleet.berthdLog();
  int found = 0;
  for (int i = 0; i < kHosts; ++i) {
    for (const auto& c : fleet.containers(i, stack)) {
      ++found;
      EXPECT_EQ(c.labels.at("io.berth.ssh"),
                "{\"authorized_keys\":[\"" + key + "\"],\"user\":\"1234\",\"allow_forwarding\":false}");
    }
  }
  EXPECT_EQ(found, 1);
  fleet.removeStack(stack);

  const std::string trust = uniqueName("trust");
  StackDir trusting(R"(
services:
  caller: {image: busybox, x-berth-ssh: {to: [target]}}
  target: {image: busybox}
)");
  auto refused = fleet.berth({"stack", "deploy", "-c", trusting.file(), trust});
  EXPECT_EQ(refused.exitCode, 1) << refused.describe();
  EXPECT_THAT(refused.err, HasSubstr("service caller: x-berth-ssh `to:` (SSH trust between services) is not "
                                     "supported by the controller yet"));
  EXPECT_THAT(fleet.berth({"stack", "ls"}).out, ::testing::Not(HasSubstr(trust)));
}

}  // namespace
}  // namespace berth::testing::controller
