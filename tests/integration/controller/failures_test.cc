// Keeping a stack running: a killed container is replaced; a lost host's replicas start elsewhere
// and, when it returns, its stale copies go; a blip shorter than the threshold moves nothing;
// drain, activate and rebalance. Failures are injected for real (SIGKILL through the engine, a
// host's link dropping every packet) and every wait is on a condition with a deadline.
#include <gmock/gmock.h>

#include "integration/controller/controller_fixture.h"

namespace berth::testing::controller {
namespace {

using ::testing::HasSubstr;

constexpr const char* kWeb = R"(
services:
  web:
    image: busybox
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    deploy: {replicas: 3}
)";

// The live task of `name` ("web.2") and its ID.
std::pair<std::string, std::string> liveTask(const Fleet& fleet, const std::string& stack, const std::string& name) {
  for (const api::TaskView& t : fleet.tasks(stack)) {
    if (t.name == name && t.desired == "running") return {t.id, t.host};
  }
  return {};
}

int hostIndex(const Fleet& fleet, const std::string& name) {
  for (int i = 0; i < kHosts; ++i) {
    if (fleet.hostName(i) == name) return i;
  }
  return -1;
}

TEST(FailureTest, AKilledContainerIsReplacedOnItsSlot) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("kill");
  StackDir dir(kWeb);
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  const auto live = liveTask(fleet, stack, "web.2");
  const std::string oldTask = live.first;  // named, not bound: clang 14 cannot capture a binding
  ASSERT_FALSE(oldTask.empty());
  const int i = hostIndex(fleet, live.second);
  ASSERT_TRUE(fleet.engineOf(i).killContainer(stack + "-web-2", "KILL"));
  const Status replaced = waitFor(
      "web.2 replaced",
      [&]() -> Status {
        auto [task, where] = liveTask(fleet, stack, "web.2");
        if (task.empty() || task == oldTask) return fail(ErrorCode::NotFound, "still " + oldTask);
        if (fleet.running(stack).count("web.2") == 0) return fail(ErrorCode::NotFound, "not running yet");
        return ok();
      },
      30s, 100ms);
  ASSERT_TRUE(replaced) << replaced.error().message() << fleet.berth({"stack", "ps", stack}).out;
  EXPECT_EQ(fleet.runningContainers(stack, "web"), 3);
  // The history says what happened.
  auto ps = fleet.berth({"service", "ps", stack + "_web"});
  EXPECT_THAT(ps.out, HasSubstr(" \\_ web.2"));
  EXPECT_THAT(ps.out, HasSubstr("exited with status 137"));
  fleet.removeStack(stack);
}

TEST(FailureTest, ALostHostsReplicasRunElsewhereAndItsCopiesGoWhenItReturns) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("lost");
  StackDir dir(kWeb);
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  const auto before = fleet.running(stack);
  std::string lostSlot;
  for (const auto& [name, host] : before) {
    if (host == "h3") lostSlot = name;
  }
  ASSERT_FALSE(lostSlot.empty()) << "a replica runs on h3";
  ASSERT_TRUE(fleet.host(2).setReachable(false));
  const Status moved = waitFor(
      lostSlot + " running elsewhere",
      [&]() -> Status {
        auto now = fleet.running(stack);
        auto it = now.find(lostSlot);
        if (it == now.end() || it->second == "h3") return fail(ErrorCode::NotFound, "not yet");
        return ok();
      },
      40s, 200ms);
  ASSERT_TRUE(moved) << moved.error().message() << fleet.berth({"stack", "ps", stack}).out << fleet.berthdLog();
  auto ps = fleet.berth({"stack", "ps", stack});
  EXPECT_THAT(ps.out, HasSubstr("host h3 is down")) << ps.out;

  // Back: the copy that kept running on h3 is removed, so exactly 3 run.
  ASSERT_TRUE(fleet.host(2).setReachable(true));
  fleet.waitHostsReady();
  const Status three = waitFor(
      "exactly 3 replicas",
      [&]() -> Status {
        const int n = fleet.runningContainers(stack, "web");
        const int onH3 = static_cast<int>(fleet.containers(2, stack).size());
        if (n != 3 || onH3 != 0) return fail(ErrorCode::NotFound, std::to_string(n) + " running, " + std::to_string(onH3) + " on h3");
        return ok();
      },
      30s, 200ms);
  EXPECT_TRUE(three) << three.error().message();
  fleet.removeStack(stack);
}

TEST(FailureTest, ABlipShorterThanTheThresholdMovesNothing) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("blip");
  StackDir dir(kWeb);
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  const auto tasks = fleet.tasks(stack);
  ASSERT_TRUE(fleet.host(1).setReachable(false));
  // The passing of time is what is tested here: 2 s of silence is below the 5 s threshold.
  std::this_thread::sleep_for(2s);
  ASSERT_TRUE(fleet.host(1).setReachable(true));
  // Past the moment the threshold would have been crossed had the host stayed silent.
  std::this_thread::sleep_for(4s);
  fleet.waitHostsReady();
  std::set<std::string> ids;
  for (const auto& t : tasks) ids.insert(t.id);
  std::set<std::string> now;
  for (const auto& t : fleet.tasks(stack)) now.insert(t.id);
  EXPECT_EQ(now, ids) << fleet.berth({"stack", "ps", stack}).out;
  EXPECT_EQ(fleet.runningContainers(stack, "web"), 3);
  fleet.removeStack(stack);
}

TEST(FailureTest, DrainMovesTasksOffAndActivateAndRebalanceBringThemBack) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("drain");
  StackDir dir(kWeb);
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  auto drain = fleet.berth({"host", "drain", "h1"});
  ASSERT_EQ(drain.exitCode, 0) << drain.describe() << fleet.berthdLog();
  EXPECT_THAT(drain.out, HasSubstr("Host h1 is drained"));
  auto running = fleet.running(stack);
  EXPECT_EQ(running.size(), 3u);
  for (const auto& [name, host] : running) EXPECT_NE(host, "h1") << name;
  EXPECT_TRUE(fleet.containers(0, stack).empty());
  // Nothing new lands there.
  const std::string other = uniqueName("drained");
  StackDir one("services: {one: {image: busybox, command: [sleep, '3600'], stop_signal: SIGKILL, deploy: {replicas: 3}}}\n");
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", one.file(), other}).exitCode, 0);
  for (const auto& [name, host] : fleet.running(other)) EXPECT_NE(host, "h1") << name;

  ASSERT_EQ(fleet.berth({"host", "activate", "h1"}).exitCode, 0);
  auto rebalance = fleet.berth({"stack", "rebalance", stack});
  ASSERT_EQ(rebalance.exitCode, 0) << rebalance.describe() << fleet.berthdLog();
  std::set<std::string> hosts;
  for (const auto& [name, host] : fleet.running(stack)) hosts.insert(host);
  EXPECT_EQ(hosts.size(), 3u) << fleet.berth({"stack", "ps", stack}).out;
  EXPECT_EQ(fleet.runningContainers(stack, "web"), 3);
  fleet.removeStack(other);
  fleet.removeStack(stack);
}

}  // namespace
}  // namespace berth::testing::controller
