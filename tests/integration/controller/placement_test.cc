// Placement as users see it on real hosts: global services, services whose data lives in a volume
// (they wait for a lost host instead of starting empty elsewhere, until the user moves them), and a
// host provisioned over SSH joining the controller's fleet.
#include <gmock/gmock.h>

#include "integration/controller/controller_fixture.h"

namespace berth::testing::controller {
namespace {

using ::testing::HasSubstr;

TEST(PlacementTest, AGlobalServiceRunsOneTaskPerEligibleHost) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("global");
  StackDir dir(R"(
services:
  agent:
    image: busybox
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    deploy:
      mode: global
      placement: {constraints: [node.labels.zone == b]}
)");
  auto r = fleet.berth({"stack", "deploy", "-c", dir.file(), stack});
  ASSERT_EQ(r.exitCode, 0) << r.describe() << fleet.berthdLog();
  std::multiset<std::string> hosts;
  for (const auto& [name, host] : fleet.running(stack)) hosts.insert(host);
  EXPECT_EQ(hosts, (std::multiset<std::string>{"h2", "h3"})) << fleet.berth({"stack", "ps", stack}).out << fleet.berthdLog();
  auto ls = fleet.berth({"service", "ls"});
  EXPECT_THAT(ls.out, HasSubstr("global"));
  fleet.removeStack(stack);
}

TEST(PlacementTest, AVolumeBoundServiceWaitsForItsLostHostUntilMoved) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("vol");
  StackDir dir(R"(
services:
  db:
    image: busybox
    command: [sh, -c, "date >> /data/starts; exec sleep 3600"]
    stop_signal: SIGKILL
    volumes: [data:/data]
    deploy:
      placement: {constraints: [node.hostname == h2]}
volumes:
  data: {}
)");
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  ASSERT_EQ(fleet.running(stack).at("db.1"), "h2");
  ASSERT_TRUE(fleet.host(1).setReachable(false));
  const Status waiting = waitFor(
      "db waiting for h2",
      [&]() -> Status {
        auto ps = fleet.berth({"stack", "ps", stack, "--no-trunc"});
        return ps.out.find("Waiting") != std::string::npos ? ok() : fail(ErrorCode::NotFound, ps.out);
      },
      30s, 200ms);
  EXPECT_TRUE(waiting) << waiting.error().message();
  auto ps = fleet.berth({"stack", "ps", stack, "--no-trunc"});
  EXPECT_THAT(ps.out, HasSubstr("host h2 is down; db keeps its volume's data there"));
  EXPECT_EQ(fleet.tasks(stack).size(), 1u) << "nothing started elsewhere";

  // The user moves it (its data stays behind on h2: a volume move is separate work).
  auto moved = fleet.berth({"service", "update", "--force", "--host", "h3", stack + "_db"});
  // The constraint says h2: the move is refused with the reason, until the file says otherwise.
  EXPECT_NE(moved.exitCode, 0) << moved.describe();
  EXPECT_THAT(moved.err, HasSubstr("fails node.hostname==h2"));
  ASSERT_TRUE(fleet.host(1).setReachable(true));
  fleet.waitHostsReady();
  const Status back = waitFor(
      "db running on h2 again",
      [&]() -> Status {
        auto r = fleet.running(stack);
        return r.count("db.1") && r.at("db.1") == "h2" ? ok() : fail(ErrorCode::NotFound, "not yet");
      },
      30s, 200ms);
  EXPECT_TRUE(back) << back.error().message() << fleet.berth({"stack", "ps", stack}).out;
  EXPECT_EQ(fleet.runningContainers(stack, "db"), 1);
  auto rm = fleet.berth({"stack", "rm", "--volumes", stack});
  EXPECT_EQ(rm.exitCode, 0) << rm.describe();
}

TEST(PlacementTest, AVolumeBoundServiceCanBeMovedToAnotherHostByTheUser) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("move");
  StackDir dir(R"(
services:
  db:
    image: busybox
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    volumes: [data:/data]
volumes:
  data: {}
)");
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  const std::string from = fleet.running(stack).at("db.1");
  const std::string to = from == "h3" ? "h2" : "h3";
  auto moved = fleet.berth({"service", "update", "--force", "--host", to, stack + "_db"});
  ASSERT_EQ(moved.exitCode, 0) << moved.describe() << fleet.berthdLog();
  EXPECT_EQ(fleet.running(stack).at("db.1"), to);
  EXPECT_EQ(fleet.runningContainers(stack, "db"), 1);
  // Named volumes stay unless asked for.
  fleet.removeStack(stack);
  int volumes = 0;
  for (int i = 0; i < kHosts; ++i) {
    auto list = fleet.engineOf(i).listVolumes({{"label", {"com.docker.compose.project=" + stack}}});
    ASSERT_TRUE(list);
    volumes += static_cast<int>(list->size());
  }
  EXPECT_GE(volumes, 1) << "stack rm keeps named volumes";
  for (int i = 0; i < kHosts; ++i) {
    auto list = fleet.engineOf(i).listVolumes({{"label", {"com.docker.compose.project=" + stack}}});
    for (const auto& v : *list) (void)fleet.engineOf(i).removeVolume(v.name, true);
  }
}

TEST(PlacementTest, AHostProvisionedOverSshJoinsTheControllersFleet) {
  Fleet& fleet = Fleet::get();
  auto started = TestHost::start(HostOptions{.hostname = "node-ssh", .ssh = true});
  ASSERT_TRUE(started) << started.error().message();
  TestHost& h = **started;
  auto add = fleet.berth({"host", "add", "h4", "--ssh", "root@" + h.address(), "--identity", h.sshIdentity().string(),
                          "--known-hosts", h.sshKnownHosts().string(), "--provision", "-l", "zone=c"});
  ASSERT_EQ(add.exitCode, 0) << add.describe() << fleet.berthdLog();
  EXPECT_THAT(add.out, HasSubstr("Registered host h4"));
  const std::string stack = uniqueName("prov");
  StackDir dir(R"(
services:
  web:
    image: busybox
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    deploy:
      placement: {constraints: [node.labels.zone == c]}
)");
  auto r = fleet.berth({"stack", "deploy", "-c", dir.file(), stack});
  ASSERT_EQ(r.exitCode, 0) << r.describe() << fleet.berthdLog();
  EXPECT_EQ(fleet.running(stack).at("web.1"), "h4");
  // Not while it runs tasks.
  auto rm = fleet.berth({"host", "rm", "h4"});
  EXPECT_EQ(rm.exitCode, 1);
  EXPECT_THAT(rm.err, HasSubstr("host h4 runs 1 task; drain it first"));
  fleet.removeStack(stack);
  auto gone = fleet.berth({"host", "rm", "h4"});
  EXPECT_EQ(gone.exitCode, 0) << gone.describe();
  auto ls = fleet.berth({"host", "ls", "-q"});
  EXPECT_THAT(ls.out, ::testing::Not(HasSubstr("h4")));
}

}  // namespace
}  // namespace berth::testing::controller
