// berthd killed with SIGKILL at many points of a deploy and of a rolling update: started again, it
// adopts what the hosts have by labels, finishes what was in flight, and leaves no duplicate (two
// running containers for one slot), no orphan (a container no live task owns) and loses no stack it
// acknowledged. The points are berthd's own: its hidden --crash-at N kills it at the N-th commit
// or engine step (before "Creating", after "Created", between a replacement's steps, ...), so each
// iteration dies at a different, known place rather than at a time that may or may not fall
// inside the operation.
#include <gmock/gmock.h>

#include "integration/controller/controller_fixture.h"

namespace berth::testing::controller {
namespace {

// How many crash points each test walks through: CI's defaults, or more for bench/crash
// (BERTH_CRASH_POINTS=50 runs 50 points of a deploy and 50 of an update).
int points(int fallback) {
  const char* v = std::getenv("BERTH_CRASH_POINTS");
  if (v == nullptr || std::atoi(v) <= 0) return fallback;
  return std::atoi(v);
}

std::string stackYaml(const std::string& version) {
  return R"(
services:
  web:
    image: busybox
    command: [sleep, "3600"]
    environment: {V: ")" + version + R"("}
    stop_signal: SIGKILL
    deploy:
      replicas: 4
      update_config: {parallelism: 2, monitor: 500ms}
)";
}

// Every running container of the stack, by slot; and the V each runs.
struct Found {
  std::map<std::string, int> perSlot;
  std::multiset<std::string> versions;
  int total = 0;
};

Found found(const Fleet& fleet, const std::string& stack) {
  Found f;
  for (int i = 0; i < kHosts; ++i) {
    for (const auto& c : fleet.containers(i, stack)) {
      if (c.state != engine::ContainerStatus::Running) continue;
      ++f.total;
      ++f.perSlot[c.labels.count("io.berth.slot") ? c.labels.at("io.berth.slot") : "?"];
      if (auto inspect = fleet.engineOf(i).inspectContainer(c.id)) {
        for (const std::string& e : inspect->config.env) {
          if (startsWith(e, "V=")) f.versions.insert(e.substr(2));
        }
      }
    }
  }
  return f;
}

// Waits until the stack runs exactly 4 containers of `version`, one per slot.
Status converged(const Fleet& fleet, const std::string& stack, const std::string& version) {
  return waitFor(
      "stack " + stack + " converged on V=" + version,
      [&]() -> Status {
        const Found f = found(fleet, stack);
        if (f.total != 4 || f.perSlot.size() != 4 ||
            f.versions != std::multiset<std::string>{version, version, version, version}) {
          std::string slots;
          for (const auto& [slot, n] : f.perSlot) slots += " " + slot + "x" + std::to_string(n);
          return fail(ErrorCode::Unavailable, std::to_string(f.total) + " running:" + slots);
        }
        return ok();
      },
      60s, 200ms);
}

// Kills berthd at `point` while `args` runs (berth with --detach), restarts it, and checks the
// stack converges to `version` with nothing duplicated or orphaned. Returns whether berthd died at
// the point (a point past the operation's last one does not kill it).
bool crashDuring(Fleet& fleet, int point, const std::vector<std::string>& args, bool& acknowledged) {
  fleet.killBerthd();
  fleet.startBerthd({"--crash-at", std::to_string(point)});
  auto r = fleet.berth(args, 60s);
  acknowledged = r.exitCode == 0;
  // It dies at the point, or the operation finishes short of it.
  const bool died = fleet.berthd().wait(15s).has_value();
  fleet.killBerthd();
  fleet.startBerthd();
  fleet.waitHostsReady();
  return died;
}

TEST(CrashTest, SigkillAtAnyPointOfADeployLeavesNoDuplicateNoOrphanAndLosesNothingAcknowledged) {
  Fleet& fleet = Fleet::get();
  int crashed = 0;
  const int last = points(14);
  for (int point = 1; point <= last; ++point) {
    const std::string stack = uniqueName("crash") + "-" + std::to_string(point);
    StackDir dir(stackYaml("1"));
    bool acknowledged = false;
    const bool died =
        crashDuring(fleet, point, {"stack", "deploy", "--detach", "-c", dir.file(), stack}, acknowledged);
    crashed += died ? 1 : 0;
    auto ls = fleet.berth({"stack", "ls"});
    const bool stored = ls.out.find(stack) != std::string::npos;
    if (acknowledged) {
      EXPECT_TRUE(stored) << "point " << point << ": an acknowledged stack was lost\n" << ls.out;
    }
    if (stored) {
      const Status s = converged(fleet, stack, "1");
      EXPECT_TRUE(s) << "point " << point << ": " << s.error().message() << "\n"
                     << fleet.berth({"stack", "ps", stack}).out << fleet.berthdLog();
    } else {
      // Not stored: nothing of it may run anywhere.
      EXPECT_EQ(found(fleet, stack).total, 0) << "point " << point;
    }
    fleet.removeStack(stack);
  }
  EXPECT_GE(crashed, std::min(last, 10)) << "most points fall inside a deploy";
  std::cerr << "[crash] deploy: " << last << " points, berthd died at " << crashed << "\n";
}

TEST(CrashTest, SigkillAtAnyPointOfARollingUpdateFinishesTheUpdateWithoutDuplicates) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("crashupd");
  StackDir dir(stackYaml("0"));
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  int crashed = 0;
  const int last = points(12);
  for (int point = 1; point <= last; ++point) {
    const std::string version = std::to_string(point);
    dir.write(stackYaml(version));
    bool acknowledged = false;
    const bool died = crashDuring(fleet, point, {"stack", "deploy", "--detach", "-c", dir.file(), stack}, acknowledged);
    crashed += died ? 1 : 0;
    // Acknowledged: the update finishes. Not acknowledged: either version, but whole.
    Status s = converged(fleet, stack, version);
    if (!s && !acknowledged) {
      dir.write(stackYaml(std::to_string(point - 1)));
      s = converged(fleet, stack, std::to_string(point - 1));
    }
    EXPECT_TRUE(s) << "point " << point << (acknowledged ? " (acknowledged)" : "") << ": " << s.error().message()
                   << "\n"
                   << fleet.berth({"stack", "ps", stack}).out << fleet.berthdLog();
    if (!acknowledged) {
      // Bring the file and the controller back in step for the next point.
      dir.write(stackYaml(version));
      ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
    }
  }
  EXPECT_GE(crashed, std::min(last, 8)) << "most points fall inside an update";
  std::cerr << "[crash] update: " << last << " points, berthd died at " << crashed << "\n";
  fleet.removeStack(stack);
}

}  // namespace
}  // namespace berth::testing::controller
