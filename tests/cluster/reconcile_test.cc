// The reconciler: each rule of reconcile.h, from compose text and a simulated fleet
// (cluster_test_util.h). Tests read as the rule they pin: the state of the fleet before, what a
// pass (or several) decides, the tasks, their history and the events after.
#include "cluster/reconcile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cluster/cluster_test_util.h"

namespace berth::cluster::testing {
namespace {

// A fleet of `n` hosts h1..hn.
void hosts(Sim& sim, int n) {
  for (int i = 1; i <= n; ++i) sim.addHost("h" + std::to_string(i));
}

// How long after now the task's container may start (its restart delay), in ms.
std::string startsIn(const Sim& sim, const std::string& task) {
  const auto d = std::chrono::duration_cast<std::chrono::milliseconds>(sim.task(task).notBefore - sim.now);
  return std::to_string(std::max<std::int64_t>(0, d.count())) + "ms";
}

std::string updateState(const Sim& sim, const std::string& service) {
  const ServiceRecord& r = sim.state.services.at({"s", service});
  std::string s(updateStateName(r.updateState));
  if (!r.updateMessage.empty()) s += ": " + r.updateMessage;
  return s;
}

constexpr const char* kWeb3 = "services: {web: {image: nginx, deploy: {replicas: 3}}}";

// ---- deploy

TEST(ReconcileTest, DeployPlacesOneReplicaPerHostAndObservesThemRunning) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy(kWeb3);
  sim.pass();
  EXPECT_EQ(sim.tasks(),
            "web.1 h1 assigned\n"
            "web.2 h2 assigned\n"
            "web.3 h3 assigned");
  EXPECT_EQ(sim.events(),
            "task web.1 placed on h1\n"
            "task web.2 placed on h2\n"
            "task web.3 placed on h3");
  EXPECT_EQ(sim.containers("h1"), "s-web-1 t1 running");
  sim.pass();
  EXPECT_EQ(sim.tasks(),
            "web.1 h1 running\n"
            "web.2 h2 running\n"
            "web.3 h3 running");
  EXPECT_EQ(sim.events(),
            "task web.1 running on h1\n"
            "task web.2 running on h2\n"
            "task web.3 running on h3");
}

TEST(ReconcileTest, APassWithNothingChangedDecidesNothing) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy(kWeb3);
  sim.pass();
  sim.pass();
  const Decisions& d = sim.pass();
  EXPECT_TRUE(d.change.empty());
  EXPECT_TRUE(d.jobs.empty());
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(sim.events(), "");
}

TEST(ReconcileTest, ReDeployingTheSameTextChangesNothing) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy(kWeb3);
  sim.settle();
  sim.deploy(kWeb3);
  EXPECT_EQ(sim.state.stacks.at("s").generation, 1);
  EXPECT_TRUE(sim.pass().empty());
}

// ---- tasks that end

TEST(ReconcileTest, AnExitedContainerFailsItsTaskAndTheSlotGetsANewTaskAtOnceOnTheSameHost) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy(kWeb3);
  sim.settle();
  sim.kill("web.2", 137);
  sim.pass();
  EXPECT_EQ(sim.history("web.2"),
            "t2 h2 failed: exited with status 137\n"
            "t4 h2 assigned");
  EXPECT_EQ(sim.events(),
            "task web.2 failed on h2: exited with status 137\n"
            "task web.2 placed on h2");
  EXPECT_EQ(startsIn(sim, "web.2"), "0ms");
  EXPECT_EQ(sim.decisions().jobs, (std::set<HostJob>{{"h2", "s"}}));
  EXPECT_EQ(sim.containers("h2"), "s-web-2 t4 running");
  sim.pass();
  EXPECT_EQ(sim.tasks(),
            "web.1 h1 running\n"
            "web.2 h2 running\n"
            "web.3 h3 running");
  EXPECT_EQ(sim.task("web.2").id, "t4");
}

TEST(ReconcileTest, ARemovedContainerFailsItsTask) {
  Sim sim;
  hosts(sim, 1);
  sim.deploy("services: {web: {image: nginx}}");
  sim.settle();
  sim.obs["h1"].containers.clear();  // `docker rm -f` behind berth's back
  sim.pass();
  EXPECT_EQ(sim.history("web.1"),
            "t1 h1 failed: its container was removed\n"
            "t2 h1 assigned");
}

// While a task's own container is made again (finishing a replacement berthd was killed in the
// middle of), a listing can show the task two containers: the one on its way out, stopped, and the
// new one. The task goes by the one that lives on, in either order of the listing.
TEST(ReconcileTest, OfATasksTwoContainersTheOneThatLivesOnIsItsOwn) {
  for (const bool exitedFirst : {true, false}) {
    Sim sim;
    hosts(sim, 1);
    sim.deploy("services: {web: {image: nginx}}");
    sim.settle();
    auto& containers = sim.obs["h1"].containers;
    ASSERT_EQ(containers.size(), 1u);
    ObservedTaskContainer going = containers.front();
    going.id = "going";
    going.phase = ContainerPhase::Exited;
    going.exitCode = std::nullopt;
    containers.insert(exitedFirst ? containers.begin() : containers.end(), going);
    EXPECT_TRUE(sim.pass().empty()) << sim.events();
    EXPECT_EQ(sim.history("web.1"), "t1 h1 running");
    std::erase_if(containers, [](const ObservedTaskContainer& c) { return c.id == "going"; });
    EXPECT_TRUE(sim.pass().empty()) << sim.events();
    EXPECT_EQ(sim.history("web.1"), "t1 h1 running");
  }
}

TEST(ReconcileTest, RestartConditionNoneLeavesTheSlotEndedAndKeepsTheContainer) {
  Sim sim;
  hosts(sim, 2);
  sim.deploy("services: {job: {image: busybox, deploy: {restart_policy: {condition: none}}}}");
  sim.settle();
  sim.kill("job.1", 3);
  sim.settle();
  EXPECT_EQ(sim.tasks(), "");
  EXPECT_EQ(sim.history("job.1"), "t1 h1 failed: exited with status 3");
  EXPECT_EQ(sim.containers("h1"), "s-job-1 t1 exited (3)");  // for `logs`
  EXPECT_EQ(sim.events(), "task job.1 failed on h1: exited with status 3");
}

TEST(ReconcileTest, RestartConditionNoneAfterExitZeroIsComplete) {
  Sim sim;
  hosts(sim, 1);
  sim.deploy("services: {job: {image: busybox, deploy: {restart_policy: {condition: none}}}}");
  sim.settle();
  sim.kill("job.1", 0);
  sim.settle();
  EXPECT_EQ(sim.history("job.1"), "t1 h1 complete");
  EXPECT_EQ(sim.events(), "task job.1 complete on h1: exited with status 0");
  EXPECT_EQ(sim.containers("h1"), "s-job-1 t1 exited (0)");
}

TEST(ReconcileTest, RestartConditionOnFailureRestartsOnlyANonZeroExit) {
  Sim sim;
  hosts(sim, 1);
  sim.deploy(R"(
services:
  a: {image: busybox, deploy: {restart_policy: {condition: on-failure}}}
  b: {image: busybox, deploy: {restart_policy: {condition: on-failure}}}
)");
  sim.settle();
  sim.kill("a.1", 0);
  sim.kill("b.1", 1);
  sim.settle();
  EXPECT_EQ(sim.history("a.1"), "t1 h1 complete");
  EXPECT_EQ(sim.history("b.1"),
            "t2 h1 failed: exited with status 1\n"
            "t3 h1 running");
}

TEST(ReconcileTest, RestartConditionAnyRestartsACompletedTask) {
  Sim sim;
  hosts(sim, 1);
  sim.deploy("services: {web: {image: nginx}}");
  sim.settle();
  sim.kill("web.1", 0);
  sim.settle();
  EXPECT_EQ(sim.history("web.1"),
            "t1 h1 complete\n"
            "t2 h1 running");
}

TEST(ReconcileTest, RestartDelayHoldsTheNewContainerBack) {
  Sim sim;
  hosts(sim, 1);
  sim.deploy("services: {web: {image: nginx, deploy: {restart_policy: {delay: 10s}}}}");
  sim.settle();
  sim.kill("web.1");
  sim.pass();
  EXPECT_EQ(sim.history("web.1"),
            "t1 h1 failed: exited with status 1\n"
            "t2 h1 assigned");
  EXPECT_EQ(startsIn(sim, "web.1"), "10000ms");
  EXPECT_EQ(sim.wake(), "in 5001ms");   // the hosts' probe deadline comes first
  EXPECT_EQ(sim.containers("h1"), "");  // the old container goes; the new one waits
  EXPECT_EQ(describe(sim.work("h1")), "web: none");

  sim.advance(5s);
  sim.pass();
  EXPECT_EQ(sim.wake(), "in 4999ms");  // the restart is due first now
  sim.advance(4s);
  sim.pass();
  EXPECT_EQ(sim.containers("h1"), "");
  sim.advance(1s);
  sim.pass();
  EXPECT_EQ(sim.containers("h1"), "s-web-1 t2 running");
  sim.pass();
  EXPECT_EQ(sim.tasks(), "web.1 h1 running");
}

// max_attempts is how many times a slot is restarted (compose; Swarm's restart supervisor counts
// restarts, not failures): the first task is not an attempt.
TEST(ReconcileTest, MaxAttemptsCountsRestarts) {
  Sim sim;
  hosts(sim, 1);
  sim.deploy("services: {web: {image: nginx, deploy: {restart_policy: {max_attempts: 2}}}}");
  sim.settle();
  for (int i = 0; i < 4; ++i) {
    sim.kill("web.1");
    sim.advance(10s);  // past any crash-loop backoff
    sim.settle();
  }
  // The task and two restarts; the third failure is the last.
  EXPECT_EQ(sim.history("web.1"),
            "t1 h1 failed: exited with status 1\n"
            "t2 h1 failed: exited with status 1\n"
            "t3 h1 failed: exited with status 1");
  EXPECT_EQ(sim.tasks(), "");
}

TEST(ReconcileTest, MaxAttemptsOfOneRestartsOnce) {
  Sim sim;
  hosts(sim, 1);
  sim.deploy("services: {web: {image: nginx, deploy: {restart_policy: {max_attempts: 1}}}}");
  sim.settle();
  sim.kill("web.1");
  sim.settle();
  EXPECT_EQ(sim.history("web.1"),
            "t1 h1 failed: exited with status 1\n"
            "t2 h1 running");
}

TEST(ReconcileTest, FailuresOlderThanTheWindowDoNotCountAgainstMaxAttempts) {
  Sim sim;
  hosts(sim, 1);
  sim.deploy("services: {web: {image: nginx, deploy: {restart_policy: {max_attempts: 2, window: 60s}}}}");
  sim.settle();
  sim.kill("web.1");
  sim.settle();
  sim.advance(61s);
  sim.kill("web.1");
  sim.settle();
  EXPECT_EQ(sim.history("web.1"),
            "t1 h1 failed: exited with status 1\n"
            "t2 h1 failed: exited with status 1\n"
            "t3 h1 running");
}

// As the engine's own restart policy: the first restart at once, then 200 ms, 400 ms, ... up to 10 s
// while the slot's tasks keep ending within 10 s of starting, however much history is kept.
TEST(ReconcileTest, CrashLoopsBackOffFrom200msDoublingUpTo10s) {
  Sim sim;
  hosts(sim, 1);
  sim.deploy("services: {web: {image: nginx}}");
  sim.settle();
  std::vector<std::string> delays;
  for (int i = 0; i < 9; ++i) {
    sim.kill("web.1");
    sim.pass();
    delays.push_back(startsIn(sim, "web.1"));
    sim.advance(10s);
    sim.pass();  // the new container starts (and dies again at once)
  }
  EXPECT_EQ(join(delays, " "), "0ms 200ms 400ms 800ms 1600ms 3200ms 6400ms 10000ms 10000ms");
  // A task that ran for 10 s ends the loop: the next failure restarts at once.
  sim.settle();
  sim.advance(10s);
  sim.kill("web.1");
  sim.pass();
  EXPECT_EQ(startsIn(sim, "web.1"), "0ms");
}

TEST(ReconcileTest, AnUnhealthyContainerFailsItsTaskAndItIsReplaced) {
  Sim sim;
  hosts(sim, 2);
  sim.deploy(R"(
services:
  web: {image: nginx, healthcheck: {test: [CMD, healthy]}}
)");
  sim.settle();
  EXPECT_EQ(sim.tasks(), "web.1 h1 starting");  // not running until healthy
  sim.health("web.1", HealthStatus::Healthy);
  sim.pass();
  EXPECT_EQ(sim.events(), "task web.1 running on h1");
  sim.health("web.1", HealthStatus::Unhealthy);
  sim.pass();
  EXPECT_EQ(sim.events(),
            "task web.1 failed on h1: unhealthy\n"
            "task web.1 placed on h1");
  EXPECT_EQ(sim.history("web.1"),
            "t1 h1 failed: unhealthy\n"
            "t2 h1 assigned");
  EXPECT_EQ(sim.containers("h1"), "s-web-1 t2 running (health: starting)");
}

TEST(ReconcileTest, AContainerThatCouldNotBeCreatedFailsItsTask) {
  Sim sim;
  hosts(sim, 1);
  sim.deploy("services: {web: {image: nginx}}");
  sim.hold("h1");
  sim.pass();
  sim.obs["h1"].taskErrors["t1"] = "image nginx is on no ready host of the fleet";
  sim.release("h1");
  sim.pass();
  EXPECT_EQ(sim.history("web.1"),
            "t1 h1 failed: image nginx is on no ready host of the fleet\n"
            "t2 h1 assigned");
}

// ---- lost hosts

TEST(ReconcileTest, AProbeBlipShorterThanDownAfterMovesNothing) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy(kWeb3);
  sim.settle();
  sim.downHost("h3");
  sim.advance(4s);
  EXPECT_TRUE(sim.pass().empty());
  sim.hostUp("h3");
  sim.advance(4s);
  EXPECT_TRUE(sim.pass().empty());
  EXPECT_EQ(sim.tasks(),
            "web.1 h1 running\n"
            "web.2 h2 running\n"
            "web.3 h3 running");
}

TEST(ReconcileTest, ALostHostsTasksAreOrphanedAndReplacedElsewhere) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy(kWeb3);
  sim.settle();
  sim.downHost("h3");
  sim.advance(6s);
  sim.pass();
  EXPECT_EQ(sim.events(),
            "host h3 down: no answer for 5s\n"
            "task web.3 orphaned on h3: host h3 is down; starting it elsewhere\n"
            "task web.3 placed on h1");
  EXPECT_EQ(sim.history("web.3"),
            "t3 h3 orphaned: host h3 is down\n"
            "t4 h1 assigned");
  EXPECT_EQ(sim.decisions().health, (std::map<std::string, HostHealth>{{"h3", HostHealth::Down}}));
  sim.settle();
  EXPECT_EQ(sim.tasks(),
            "web.1 h1 running\n"
            "web.2 h2 running\n"
            "web.3 h1 running");
}

TEST(ReconcileTest, AReturningHostLosesTheContainersOfOrphanedTasks) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy(kWeb3);
  sim.settle();
  sim.downHost("h3");
  sim.advance(6s);
  sim.settle();
  EXPECT_EQ(describe(sim.work("h3")), "web: none");
  EXPECT_EQ(sim.containers("h3"), "s-web-3 t3 running");  // still there, unseen
  sim.hostUp("h3");
  sim.pass();
  EXPECT_EQ(sim.events(), "host h3 up");
  EXPECT_EQ(sim.containers("h3"), "");
  EXPECT_EQ(sim.containers("h1"),
            "s-web-1 t1 running\n"
            "s-web-3 t4 running");
  EXPECT_EQ(sim.history("web.3"),
            "t3 h3 orphaned: host h3 is down\n"
            "t4 h1 running");
}

TEST(ReconcileTest, AHostThatNeverAnsweredIsDownOnceDownAfterPassedSinceStart) {
  Sim sim;
  hosts(sim, 1);
  sim.neverAnswered("h1");
  sim.advance(4s);
  EXPECT_TRUE(sim.pass().empty());
  sim.advance(2s);
  sim.pass();
  EXPECT_EQ(sim.events(), "host h1 down: no answer for 5s");
}

constexpr const char* kDb = R"(
services:
  db: {image: postgres, volumes: ["data:/var/lib/postgresql/data"]}
volumes:
  data: {}
)";

TEST(ReconcileTest, ATaskWhoseVolumeIsOnALostHostWaitsForIt) {
  Sim sim;
  hosts(sim, 2);
  sim.deploy(kDb);
  sim.settle();
  sim.downHost("h1");
  sim.advance(6s);
  sim.settle();
  const std::string why =
      "host h1 is down; db keeps its volume's data there, so it waits for the host (or move it: `berth "
      "service update --force --host NEW s_db`)";
  EXPECT_EQ(sim.tasks(), "db.1 h1 waiting: " + why);
  EXPECT_EQ(sim.events(),
            "host h1 down: no answer for 5s\n"
            "task db.1 waiting on h1: " +
                why);
  // It is the same task when its host returns.
  sim.hostUp("h1");
  sim.settle();
  EXPECT_EQ(sim.history("db.1"), "t1 h1 running");
}

TEST(ReconcileTest, AGlobalTaskOnALostHostWaits) {
  Sim sim;
  hosts(sim, 2);
  sim.deploy("services: {agent: {image: nginx, deploy: {mode: global}}}");
  sim.settle();
  sim.downHost("h2");
  sim.advance(6s);
  sim.settle();
  EXPECT_EQ(sim.tasks(),
            "agent.1 h1 running\n"
            "agent.2 h2 waiting: host h2 is down (a global task runs on its own host)");
  sim.hostUp("h2");
  sim.settle();
  EXPECT_EQ(sim.history("agent.2"), "t2 h2 running");
}

// ---- global services

TEST(ReconcileTest, AGlobalServiceRunsOneTaskOnEveryEligibleHost) {
  Sim sim;
  sim.addHost("h1", {{"zone", "eu"}});
  sim.addHost("h2", {{"zone", "us"}});
  sim.addHost("h3", {{"zone", "eu"}});
  sim.deploy(R"(
services:
  agent: {image: nginx, deploy: {mode: global, placement: {constraints: [node.labels.zone==eu]}}}
)");
  sim.settle();
  EXPECT_EQ(sim.tasks(),
            "agent.1 h1 running\n"
            "agent.3 h3 running");
  // A new host gets one.
  sim.addHost("h4", {{"zone", "eu"}});
  sim.pass();
  EXPECT_EQ(sim.events(), "task agent.4 placed on h4");
  sim.settle();
  // A draining host loses its task.
  sim.drain("h1");
  sim.settle();
  EXPECT_EQ(sim.events(), "task agent.1 shutdown on h1: its host no longer runs the service");
  EXPECT_EQ(sim.tasks(),
            "agent.3 h3 running\n"
            "agent.4 h4 running");
  EXPECT_EQ(sim.containers("h1"), "");
}

TEST(ReconcileTest, AFailedGlobalTaskIsRestartedOnItsOwnHost) {
  Sim sim;
  hosts(sim, 2);
  sim.deploy("services: {agent: {image: nginx, deploy: {mode: global}}}");
  sim.settle();
  sim.kill("agent.2");
  sim.settle();
  EXPECT_EQ(sim.history("agent.2"),
            "t2 h2 failed: exited with status 1\n"
            "t3 h2 running");
}

// ---- scale

TEST(ReconcileTest, ScalingDownRemovesTheHighestSlots) {
  Sim sim;
  hosts(sim, 2);
  sim.deploy("services: {web: {image: nginx, deploy: {replicas: 4}}}");
  sim.settle();
  sim.scale("web", 2);
  sim.pass();
  EXPECT_EQ(sim.events(),
            "task web.3 shutdown on h1: scaled down\n"
            "task web.4 shutdown on h2: scaled down");
  EXPECT_EQ(sim.tasks(),
            "web.1 h1 running\n"
            "web.2 h2 running");
  EXPECT_EQ(sim.containers("h1"), "s-web-1 t1 running");
  EXPECT_EQ(sim.containers("h2"), "s-web-2 t2 running");
}

TEST(ReconcileTest, ScalingUpAddsSlots) {
  Sim sim;
  hosts(sim, 2);
  sim.deploy("services: {web: {image: nginx, deploy: {replicas: 1}}}");
  sim.settle();
  sim.scale("web", 3);
  sim.pass();
  EXPECT_EQ(sim.events(),
            "task web.2 placed on h2\n"
            "task web.3 placed on h1");
}

// ---- drain

TEST(ReconcileTest, DrainingStartsAReplacementElsewhereBeforeStoppingTheOldTask) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy("services: {web: {image: nginx, deploy: {replicas: 2}}}");
  sim.settle();
  sim.drain("h1");
  sim.hold("h3");  // the replacement's host is slow
  sim.pass();
  EXPECT_EQ(sim.events(), "task web.1 placed on h3");
  EXPECT_EQ(sim.history("web.1"),
            "t1 h1 running\n"
            "t3 h3 assigned (replaces t1)");
  sim.pass();
  sim.pass();
  EXPECT_EQ(sim.containers("h1"), "s-web-1 t1 running");  // still serving
  sim.release("h3");
  sim.pass();  // the replacement's container starts
  sim.pass();  // ... is seen running, and the old task stops
  EXPECT_EQ(sim.events(),
            "task web.1 running on h3\n"
            "task web.1 replaced on h1: by t3 on h3");
  EXPECT_EQ(sim.history("web.1"),
            "t1 h1 shutdown: replaced by t3\n"
            "t3 h3 running (replaces t1)");
  EXPECT_EQ(sim.containers("h1"), "");
  EXPECT_EQ(sim.tasks(),
            "web.1 h3 running\n"
            "web.2 h2 running");
}

TEST(ReconcileTest, DrainingLeavesAVolumeBoundTaskWhereItsDataIs) {
  Sim sim;
  hosts(sim, 2);
  sim.deploy(kDb);
  sim.settle();
  sim.drain("h1");
  sim.settle();
  EXPECT_EQ(sim.tasks(),
            "db.1 h1 running: host h1 is draining, but db keeps its volume's data here; move it with `berth "
            "service update --force --host NEW s_db`");
  EXPECT_EQ(sim.containers("h1"), "s-db-1 t1 running");
}

TEST(ReconcileTest, DrainingWithNowhereToGoKeepsTheOldTaskRunning) {
  Sim sim;
  hosts(sim, 1);
  sim.deploy("services: {web: {image: nginx}}");
  sim.settle();
  sim.drain("h1");
  sim.settle();
  EXPECT_EQ(sim.tasks(),
            "web.1 h1 running\n"
            "web.1 - pending: no host fits web.1: h1 is draining");
  EXPECT_EQ(sim.events(),
            "task web.1 pending: no host fits web.1: h1 is draining\n"
            "task web.1 drain_blocked on h1: no host fits web.1: h1 is draining");
  // A new host takes it, and then the old one stops.
  sim.addHost("h2");
  sim.settle();
  EXPECT_EQ(sim.tasks(), "web.1 h2 running");
}

// ---- rolling updates

constexpr const char* kRolling = R"(
services:
  web:
    image: nginx
    environment: {VERSION: "%"}
    deploy:
      replicas: 3
      update_config: {parallelism: 2, monitor: 10s}
)";

std::string version(const char* yaml, const std::string& v) {
  std::string s = yaml;
  s.replace(s.find('%'), 1, v);
  return s;
}

TEST(ReconcileTest, AChangedDefinitionRollsOutStopFirstInBatchesGatedOnMonitor) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy(version(kRolling, "1"));
  sim.settle();
  sim.deploy(version(kRolling, "2"));
  sim.pass();
  EXPECT_EQ(sim.events(),
            "service web update_started\n"
            "task web.1 shutdown on h1: replaced by the update\n"
            "task web.1 placed on h1\n"
            "task web.2 shutdown on h2: replaced by the update\n"
            "task web.2 placed on h2");
  EXPECT_EQ(updateState(sim, "web"), "updating");
  sim.settle();
  EXPECT_EQ(sim.events(),
            "task web.1 running on h1\n"
            "task web.2 running on h2");
  // The first batch has not run for `monitor` yet: web.3 waits.
  sim.advance(9s);
  EXPECT_TRUE(sim.pass().empty());
  EXPECT_EQ(sim.task("web.3").specGeneration, 1);
  sim.advance(1s);
  sim.pass();
  EXPECT_EQ(sim.events(),
            "task web.3 shutdown on h3: replaced by the update\n"
            "task web.3 placed on h3");
  sim.settle();
  sim.advance(10s);
  sim.pass();
  EXPECT_EQ(sim.events(), "service web update_completed");
  EXPECT_EQ(updateState(sim, "web"), "completed");
  EXPECT_EQ(sim.history("web.3"),
            "t3 h3 shutdown: updated\n"
            "t6 h3 running");
  EXPECT_EQ(sim.task("web.3").specGeneration, 2);
}

TEST(ReconcileTest, UpdateDelaySpacesTheBatches) {
  const char* yaml = R"(
services:
  web:
    image: nginx
    environment: {VERSION: "%"}
    deploy:
      replicas: 2
      update_config: {parallelism: 1, monitor: 1s, delay: 30s}
)";
  Sim sim;
  hosts(sim, 2);
  sim.deploy(version(yaml, "1"));
  sim.settle();
  sim.deploy(version(yaml, "2"));
  sim.settle();
  EXPECT_EQ(sim.history("web.1"),
            "t1 h1 shutdown: updated\n"
            "t3 h1 running");
  // Settled after `monitor`, but the next batch starts `delay` after the last one started.
  sim.advance(2s);
  EXPECT_TRUE(sim.pass().empty());
  sim.advance(27s);
  EXPECT_TRUE(sim.pass().empty());
  sim.advance(1s);
  sim.pass();
  EXPECT_EQ(sim.events(),
            "task web.2 shutdown on h2: replaced by the update\n"
            "task web.2 placed on h2");
}

constexpr const char* kStartFirst = R"(
services:
  web:
    image: nginx
    environment: {VERSION: "%"}
    deploy:
      update_config: {order: start-first, monitor: 1s}
)";

// On one host the pair is one start-first replacement of the slot's container: when the host is
// done, the old task's container is gone and the new one runs. The old task was shut down by berth
// (replaced), it did not fail.
TEST(ReconcileTest, StartFirstKeepsTheOldTaskUntilTheNewOneRuns) {
  Sim sim;
  hosts(sim, 1);
  sim.deploy(version(kStartFirst, "1"));
  sim.settle();
  sim.deploy(version(kStartFirst, "2"));
  sim.hold("h1");
  sim.pass();
  EXPECT_EQ(sim.events(),
            "service web update_started\n"
            "task web.1 placed on h1");
  EXPECT_EQ(sim.tasks(),
            "web.1 h1 running\n"
            "web.1 h1 assigned");
  EXPECT_EQ(describe(sim.work("h1")), "web.1 t2 start start-first");
  sim.pass();
  EXPECT_EQ(sim.history("web.1"),
            "t1 h1 running\n"
            "t2 h1 assigned (replaces t1)");
  sim.release("h1");
  sim.pass();  // the host replaces the container, start-first
  EXPECT_EQ(sim.containers("h1"), "s-web-1 t2 running");
  sim.pass();
  EXPECT_EQ(sim.events(),
            "task web.1 running on h1\n"
            "task web.1 replaced on h1: by t2 on h1");
  EXPECT_EQ(sim.history("web.1"),
            "t1 h1 shutdown: replaced by t2\n"
            "t2 h1 running (replaces t1)");
}

TEST(ReconcileTest, ADeployLeavesAnUnchangedServiceAlone) {
  const char* yaml = R"(
services:
  web: {image: nginx, deploy: {replicas: 2}}
  db: {image: postgres, environment: {VERSION: "%"}}
)";
  Sim sim;
  hosts(sim, 2);
  sim.deploy(version(yaml, "1"));
  sim.settle();
  sim.deploy(version(yaml, "2"));
  sim.pass();
  EXPECT_EQ(sim.events(),
            "service db update_started\n"
            "task db.1 shutdown on h1: replaced by the update\n"
            "task db.1 placed on h1");
  sim.settle();
  sim.advance(5s);
  sim.settle();
  EXPECT_EQ(sim.history("web.1"), "t2 h2 running");
  EXPECT_EQ(sim.history("web.2"), "t3 h1 running");
  EXPECT_EQ(updateState(sim, "web"), "");
  EXPECT_EQ(updateState(sim, "db"), "completed");
  EXPECT_EQ(sim.service("web").specGeneration, 2);
}

constexpr const char* kFailing = R"(
services:
  web:
    image: nginx
    environment: {VERSION: "%"}
    deploy:
      replicas: 3
      update_config: {parallelism: 1, monitor: 10s, failure_action: @}
      rollback_config: {parallelism: 0, monitor: 1s}
)";

std::string failing(const std::string& v, const std::string& action) {
  std::string s = version(kFailing, v);
  s.replace(s.find('@'), 1, action);
  return s;
}

TEST(ReconcileTest, AFailingUpdatePausesWithTheReason) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy(failing("1", "pause"));
  sim.settle();
  sim.deploy(failing("2", "pause"));
  sim.settle();
  sim.kill("web.1");  // the new definition dies within `monitor`
  sim.pass();
  EXPECT_EQ(sim.events(),
            "task web.1 failed on h1: exited with status 1\n"
            "task web.1 placed on h1\n"
            "service web paused: update paused: web.1 failed: exited with status 1");
  EXPECT_EQ(updateState(sim, "web"), "paused: update paused: web.1 failed: exited with status 1");
  // No further batch, however long it waits.
  sim.settle();
  sim.advance(60s);
  sim.settle();
  EXPECT_EQ(sim.task("web.2").specGeneration, 1);
  EXPECT_EQ(sim.task("web.3").specGeneration, 1);
}

TEST(ReconcileTest, AFailingUpdateWithRollbackReturnsToThePreviousDefinition) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy(failing("1", "rollback"));
  sim.settle();
  sim.deploy(failing("2", "rollback"));
  sim.settle();
  sim.kill("web.1");
  sim.pass();
  EXPECT_EQ(sim.events(),
            "task web.1 failed on h1: exited with status 1\n"
            "task web.1 placed on h1\n"
            "service web rollback: update rolled back: web.1 failed: exited with status 1");
  EXPECT_EQ(sim.service("web").specGeneration, 1);
  EXPECT_EQ(sim.service("web").previousGeneration, 2);
  sim.pass();  // the restarted web.1 still runs the failed definition: it is rolled back
  EXPECT_EQ(sim.events(),
            "task web.1 running on h1\n"
            "task web.1 shutdown on h1: replaced by the update\n"
            "task web.1 placed on h1");
  sim.settle();
  sim.advance(1s);
  sim.settle();
  EXPECT_EQ(sim.events(), "service web rollback_completed");
  EXPECT_EQ(updateState(sim, "web"),
            "rollback_completed: update rolled back: web.1 failed: exited with status 1");
  EXPECT_EQ(sim.task("web.1").specGeneration, 1);
  EXPECT_EQ(sim.task("web.2").specGeneration, 1);
  EXPECT_EQ(sim.tasks(),
            "web.1 h1 running\n"
            "web.2 h2 running\n"
            "web.3 h3 running");
}

TEST(ReconcileTest, RollbackUsesRollbackConfig) {
  // The update replaces every task at once; the rollback one by one, each watched for 1s.
  const char* yaml = R"(
services:
  web:
    image: nginx
    environment: {VERSION: "%"}
    deploy:
      replicas: 3
      update_config: {parallelism: 0, monitor: 10s, failure_action: rollback}
      rollback_config: {parallelism: 1, monitor: 1s}
)";
  Sim sim;
  hosts(sim, 3);
  sim.deploy(version(yaml, "1"));
  sim.settle();
  sim.deploy(version(yaml, "2"));
  sim.settle();
  sim.kill("web.1");
  sim.pass();
  EXPECT_EQ(sim.service("web").updateState, UpdateState::RollingBack);
  sim.pass();
  EXPECT_EQ(sim.events(),
            "task web.1 running on h1\n"
            "task web.1 shutdown on h1: replaced by the update\n"
            "task web.1 placed on h1");
  sim.settle();
  sim.advance(1s);
  sim.pass();
  EXPECT_EQ(sim.events(),
            "task web.2 shutdown on h2: replaced by the update\n"
            "task web.2 placed on h2");
}

TEST(ReconcileTest, MaxFailureRatioToleratesSomeFailures) {
  const char* yaml = R"(
services:
  web:
    image: nginx
    environment: {VERSION: "%"}
    deploy:
      replicas: 4
      update_config: {parallelism: 0, monitor: 10s, max_failure_ratio: 0.3}
)";
  Sim sim;
  hosts(sim, 4);
  sim.deploy(version(yaml, "1"));
  sim.settle();
  sim.deploy(version(yaml, "2"));
  sim.settle();
  sim.kill("web.1");
  sim.pass();  // 1 of 4: 0.25
  EXPECT_EQ(updateState(sim, "web"), "updating");
  sim.settle();
  sim.kill("web.2");
  sim.pass();  // 2 of 4: 0.5
  EXPECT_EQ(updateState(sim, "web"), "paused: update paused: web.2 failed: exited with status 1");
}

TEST(ReconcileTest, ATaskThatFailsAfterMonitorDoesNotFailTheUpdate) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy(failing("1", "pause"));
  sim.settle();
  sim.deploy(failing("2", "pause"));
  sim.settle();
  sim.advance(10s);
  sim.pass();  // web.1 ran for `monitor`: the next batch
  sim.settle();
  sim.kill("web.1");
  sim.pass();
  EXPECT_EQ(updateState(sim, "web"), "updating");
}

TEST(ReconcileTest, ADeployThatChangesOnlyReplicasScalesWithoutAnUpdate) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy("services: {web: {image: nginx, deploy: {replicas: 2}}}");
  sim.settle();
  sim.scale("web", 1);
  sim.settle();
  sim.deploy("services: {web: {image: nginx, deploy: {replicas: 3}}}");
  sim.pass();
  EXPECT_EQ(sim.events(),
            "task web.2 placed on h2\n"
            "task web.3 placed on h3");
  EXPECT_EQ(sim.history("web.1"), "t1 h1 running");
}

TEST(ReconcileTest, ADeployAfterAPausedUpdateRollsOutAfresh) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy(failing("1", "pause"));
  sim.settle();
  sim.deploy(failing("2", "pause"));
  sim.settle();
  sim.kill("web.1");
  sim.settle();
  ASSERT_EQ(updateState(sim, "web"), "paused: update paused: web.1 failed: exited with status 1");
  sim.deploy(failing("3", "pause"));
  sim.pass();
  EXPECT_EQ(sim.events(),
            "service web update_started\n"
            "task web.1 shutdown on h1: replaced by the update\n"
            "task web.1 placed on h1");
  EXPECT_EQ(updateState(sim, "web"), "updating");
}

TEST(ReconcileTest, AManualRollbackReturnsToThePreviousDefinition) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy(failing("1", "pause"));
  sim.settle();
  sim.deploy(failing("2", "pause"));
  sim.settle();
  sim.rollback("web");
  sim.pass();
  // rollback_config: parallelism 0, and web.2 and web.3 still run version 1.
  EXPECT_EQ(sim.events(),
            "task web.1 shutdown on h1: replaced by the update\n"
            "task web.1 placed on h1");
  sim.settle();
  sim.advance(1s);
  sim.pass();
  EXPECT_EQ(sim.events(), "service web rollback_completed");
  EXPECT_EQ(updateState(sim, "web"), "rollback_completed: manual rollback");
}

TEST(ReconcileTest, AGlobalServiceUpdatesHostByHost) {
  const char* yaml = R"(
services:
  agent:
    image: nginx
    environment: {VERSION: "%"}
    deploy: {mode: global, update_config: {monitor: 1s}}
)";
  Sim sim;
  hosts(sim, 2);
  sim.deploy(version(yaml, "1"));
  sim.settle();
  sim.deploy(version(yaml, "2"));
  sim.settle();
  EXPECT_EQ(sim.history("agent.1"),
            "t1 h1 shutdown: updated\n"
            "t3 h1 running");
  EXPECT_EQ(sim.history("agent.2"), "t2 h2 running");
  sim.advance(1s);
  sim.settle();
  EXPECT_EQ(sim.history("agent.2"),
            "t2 h2 shutdown: updated\n"
            "t4 h2 running");
}

TEST(ReconcileTest, AForcedUpdateReplacesEveryTask) {
  Sim sim;
  hosts(sim, 2);
  sim.deploy("services: {web: {image: nginx, deploy: {replicas: 2, update_config: {parallelism: 0}}}}");
  sim.settle();
  sim.forceUpdate("web");
  sim.settle();
  EXPECT_EQ(sim.history("web.1"),
            "t1 h1 shutdown: updated\n"
            "t3 h1 running");
  EXPECT_EQ(sim.history("web.2"),
            "t2 h2 shutdown: updated\n"
            "t4 h2 running");
}

TEST(ReconcileTest, AVolumeBoundServiceWaitingForALostHostMovesWhenTheUserSaysWhere) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy(kDb);
  sim.settle();
  sim.downHost("h1");
  sim.advance(6s);
  sim.settle();
  sim.forceUpdate("db", "h3");
  sim.pass();
  EXPECT_EQ(sim.events(),
            "task db.1 orphaned on h1: host h1 is down; starting it elsewhere\n"
            "task db.1 placed on h3");
  sim.settle();
  EXPECT_EQ(sim.tasks(), "db.1 h3 running");
}

TEST(ReconcileTest, AVolumeBoundServiceOnADrainingHostMovesWhenTheUserSaysWhere) {
  Sim sim;
  hosts(sim, 3);
  sim.deploy(kDb);
  sim.settle();
  sim.drain("h1");
  sim.settle();
  sim.forceUpdate("db", "h3");
  sim.settle();
  EXPECT_EQ(sim.tasks(), "db.1 h3 running");
  EXPECT_EQ(sim.containers("h1"), "");
}

TEST(ReconcileTest, AnUpdatedVolumeBoundTaskStaysOnItsHost) {
  const char* yaml = R"(
services:
  db: {image: postgres, environment: {VERSION: "%"}, volumes: ["data:/var/lib/postgresql/data"]}
volumes:
  data: {}
)";
  Sim sim;
  hosts(sim, 1);
  sim.deploy(version(yaml, "1"));
  sim.settle();
  sim.addHost("h2");  // emptier, but the data is on h1
  sim.deploy(version(yaml, "2"));
  sim.settle();
  EXPECT_EQ(sim.history("db.1"),
            "t1 h1 shutdown: updated\n"
            "t2 h1 running");
}

// ---- removed services and stacks

// A re-deploy without a service deletes its record; its tasks must stop and their containers go.
TEST(ReconcileTest, AServiceDroppedFromTheStackIsShutDown) {
  Sim sim;
  hosts(sim, 2);
  sim.deploy("services: {web: {image: nginx}, worker: {image: busybox}}");
  sim.settle();
  sim.deploy("services: {web: {image: nginx}}");
  sim.settle();
  EXPECT_EQ(sim.tasks(), "web.1 h1 running");
  EXPECT_EQ(sim.task("worker.1").state, TaskState::Shutdown) << sim.history("worker.1");
  EXPECT_FALSE(sim.task("worker.1").live());
  EXPECT_EQ(sim.containers("h2"), "");
}

TEST(ReconcileTest, RemovingAStackShutsItsTasksDownThenDeletesItsRecords) {
  Sim sim;
  hosts(sim, 2);
  sim.deploy("services: {web: {image: nginx, deploy: {replicas: 2}}}");
  sim.deploy("services: {web: {image: nginx, deploy: {replicas: 2}}, db: {image: postgres}}");
  sim.settle();
  sim.removeStack();
  sim.pass();
  EXPECT_EQ(sim.tasks(), "");
  EXPECT_EQ(sim.history("web.1"), "t2 h2 shutdown: stack removed");
  EXPECT_EQ(describe(sim.work("h1")), "remove");
  EXPECT_EQ(sim.containers("h1"), "");
  EXPECT_EQ(sim.state.stacks.count("s"), 1u);  // deleted once no host shows anything of it
  sim.pass();
  EXPECT_EQ(sim.events(), "stack s removed");
  EXPECT_TRUE(sim.state.stacks.empty());
  EXPECT_TRUE(sim.state.versions.empty());
  EXPECT_TRUE(sim.state.services.empty());
  EXPECT_TRUE(sim.state.tasks.empty());
  EXPECT_TRUE(sim.pass().empty());
}

TEST(ReconcileTest, ARemovedStacksContainersGoFromADownHostWhenItReturns) {
  Sim sim;
  hosts(sim, 2);
  sim.deploy("services: {web: {image: nginx, deploy: {replicas: 2}}}");
  sim.settle();
  sim.downHost("h2");
  sim.advance(6s);
  sim.settle();
  sim.removeStack("s", true);
  sim.settle();
  EXPECT_TRUE(sim.state.stacks.empty());
  EXPECT_EQ(sim.containers("h2"), "s-web-2 t2 running");
  sim.hostUp("h2");
  sim.settle();
  EXPECT_EQ(sim.containers("h2"), "");
  EXPECT_EQ(describe(sim.work("h2")), "remove");
}

// ---- history

TEST(ReconcileTest, HistoryKeepsTheNewestEndedTasksOfEachSlot) {
  Sim sim;
  sim.config.historyPerSlot = 2;
  hosts(sim, 1);
  sim.deploy("services: {web: {image: nginx}}");
  sim.settle();
  for (int i = 0; i < 4; ++i) {
    sim.kill("web.1");
    sim.advance(10s);
    sim.settle();
  }
  EXPECT_EQ(sim.history("web.1"),
            "t3 h1 failed: exited with status 1\n"
            "t4 h1 failed: exited with status 1\n"
            "t5 h1 running");
}

// ---- hostWork

TEST(HostWorkTest, ListsTheHostsSlotsWithTheirTasksLabels) {
  Sim sim;
  hosts(sim, 2);
  sim.deploy(R"(
services:
  web: {image: nginx, deploy: {replicas: 3}}
  db: {image: postgres}
)");
  sim.hold("h1");
  sim.pass();
  HostWork w = sim.work("h1");
  EXPECT_EQ(describe(w),
            "db.1 t1 start\n"
            "web.2 t3 start");
  EXPECT_EQ(w.generation, 1);
  EXPECT_EQ(w.serviceGenerations, (std::map<std::string, std::int64_t>{{"db", 1}, {"web", 1}}));
  EXPECT_EQ(w.images, std::vector<std::string>({"nginx", "postgres"}));
  EXPECT_EQ(w.containerTask, (std::map<std::string, std::string>{{"s-db-1", "t1"}, {"s-web-2", "t3"}}));
  EXPECT_EQ(w.slots.at("web").front().labels, (engine::Labels{{"io.berth.generation", "1"},
                                                              {"io.berth.service", "web"},
                                                              {"io.berth.slot", "2"},
                                                              {"io.berth.stack", "s"},
                                                              {"io.berth.task", "t3"}}));
  EXPECT_EQ(describe(sim.work("h2")),
            "db: none\n"
            "web.1 t2 start\n"
            "web.3 t4 start");
}

TEST(HostWorkTest, ARunningTaskIsNotStartedAgain) {
  Sim sim;
  hosts(sim, 1);
  sim.deploy("services: {web: {image: nginx}}");
  sim.settle();
  EXPECT_EQ(describe(sim.work("h1")), "web.1 t1");
}

TEST(HostWorkTest, ASameHostStartFirstPairIsOneStartFirstReplacement) {
  Sim sim;
  hosts(sim, 1);
  sim.deploy(version(kStartFirst, "1"));
  sim.settle();
  sim.deploy(version(kStartFirst, "2"));
  sim.hold("h1");
  sim.pass();
  const HostWork w = sim.work("h1");
  EXPECT_EQ(describe(w), "web.1 t2 start start-first");
  EXPECT_EQ(w.slots.at("web").front().labels.at("io.berth.generation"), "2");
  EXPECT_EQ(w.serviceGenerations.at("web"), 2);
}

TEST(HostWorkTest, AStartFirstReplacementOnAnotherHostLeavesTheOldSlotAlone) {
  Sim sim;
  hosts(sim, 2);
  sim.deploy("services: {web: {image: nginx}}");
  sim.settle();
  sim.drain("h1");
  sim.hold("h2");
  sim.pass();
  EXPECT_EQ(describe(sim.work("h1")), "web.1 t1");
  EXPECT_EQ(describe(sim.work("h2")), "web.1 t2 start");
}

TEST(HostWorkTest, TheFinalTaskOfASlotKeepsItsContainer) {
  Sim sim;
  hosts(sim, 1);
  sim.deploy("services: {job: {image: busybox, deploy: {restart_policy: {condition: on-failure}}}}");
  sim.settle();
  sim.kill("job.1", 0);
  sim.settle();
  EXPECT_EQ(describe(sim.work("h1")), "job.1 t1");
  EXPECT_EQ(sim.containers("h1"), "s-job-1 t1 exited (0)");
  // Scaled up again, the slot's new task takes the container's place.
  sim.scale("job", 2);
  sim.settle();
  EXPECT_EQ(sim.containers("h1"),
            "s-job-1 t1 exited (0)\n"
            "s-job-2 t2 running");
}

TEST(HostWorkTest, AnOrphanedTasksSlotIsNotListed) {
  Sim sim;
  hosts(sim, 2);
  sim.deploy("services: {web: {image: nginx, deploy: {replicas: 2}}}");
  sim.settle();
  EXPECT_EQ(describe(sim.work("h2")), "web.2 t2");
  sim.downHost("h2");
  sim.advance(6s);
  sim.pass();
  EXPECT_EQ(describe(sim.work("h2")), "web: none");
  EXPECT_EQ(describe(sim.work("h1")),
            "web.1 t1\n"
            "web.2 t3 start");
}

TEST(HostWorkTest, ARemovedStackIsRemovedWithItsVolumesWhenAsked) {
  Sim sim;
  hosts(sim, 1);
  sim.deploy(kDb);
  sim.settle();
  sim.removeStack("s", true);
  EXPECT_EQ(describe(sim.work("h1")), "remove with volumes");
  EXPECT_EQ(describe(sim.work("h1", "never-deployed")), "remove");
}

TEST(HostWorkTest, TaskLabels) {
  Task t;
  t.id = "0123456789ab";
  t.stack = "shop";
  t.service = "web";
  t.slot = 3;
  t.specGeneration = 7;
  EXPECT_EQ(taskLabels(t), (engine::Labels{{"io.berth.generation", "7"},
                                           {"io.berth.service", "web"},
                                           {"io.berth.slot", "3"},
                                           {"io.berth.stack", "shop"},
                                           {"io.berth.task", "0123456789ab"}}));
}

}  // namespace
}  // namespace berth::cluster::testing
