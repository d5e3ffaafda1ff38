// plan::diff: every convergence decision, from YAML text and what a fake engine holds.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plan/labels.h"
#include "plan/plan_test_util.h"
#include "spec/hash.h"

namespace berth::plan::testing {
namespace {

using ::testing::HasSubstr;

engine::RemoveContainerOptions forced() {
  engine::RemoveContainerOptions o;
  o.force = true;
  return o;
}

constexpr const char* kTwo = R"(
services:
  a: {image: busybox, command: [sleep, "600"]}
  b: {image: busybox, command: [sleep, "600"]}
)";

TEST(DiffTest, FirstUpCreatesTheNetworkThenEveryContainer) {
  Runner r;
  EXPECT_EQ(planText(r.engine, loadOrDie(kTwo)),
            "create network p_default\n"
            "create p-a-1\n"
            "create p-b-1");
}

TEST(DiffTest, ContainersWaitForTheNetworkTheyJoin) {
  Runner r;
  EXPECT_EQ(planText(r.engine, loadOrDie(kTwo), {}, {.order = true}),
            "create network p_default\n"
            "create p-a-1 [after p_default]\n"
            "create p-b-1 [after p_default]");
}

TEST(DiffTest, SecondUpWithNothingChangedPlansNothing) {
  Runner r;
  const auto project = loadOrDie(kTwo);
  ASSERT_TRUE(r.up(project));
  EXPECT_EQ(planText(r.engine, project), "");
}

TEST(DiffTest, RecreatesOnlyTheServiceWhoseConfigChanged) {
  Runner r;
  ASSERT_TRUE(r.up(loadOrDie(R"(
services:
  a: {image: busybox, environment: {X: "1"}}
  b: {image: busybox}
)")));
  EXPECT_EQ(planText(r.engine, loadOrDie(R"(
services:
  a: {image: busybox, environment: {X: "2"}}
  b: {image: busybox}
)")),
            "recreate p-a-1 (config changed)");
}

TEST(DiffTest, RecreatesWhenTheImageTagNowNamesAnotherImage) {
  Runner r;
  const auto project = loadOrDie(kTwo);
  ASSERT_TRUE(r.up(project));
  r.engine.addImage("busybox:latest");  // a new image under the same tag
  EXPECT_EQ(planText(r.engine, project),
            "recreate p-a-1 (image changed)\n"
            "recreate p-b-1 (image changed)");
}

TEST(DiffTest, ScaleUpAddsTheNextNumbers) {
  Runner r;
  const auto project = loadOrDie(kTwo);
  ASSERT_TRUE(r.up(project));
  UpOptions o;
  o.scale["a"] = 3;
  EXPECT_EQ(planText(r.engine, project, o), "create p-a-2\ncreate p-a-3");
}

TEST(DiffTest, ScaleDownRemovesTheHighestNumbers) {
  Runner r;
  const auto project = loadOrDie(kTwo);
  UpOptions three;
  three.scale["a"] = 3;
  ASSERT_TRUE(r.up(project, three));
  UpOptions one;
  one.scale["a"] = 1;
  EXPECT_EQ(planText(r.engine, project, one), "remove p-a-2 (scale down)\nremove p-a-3 (scale down)");
}

TEST(DiffTest, ScaleFromTheFileAndToZero) {
  Runner r;
  ASSERT_TRUE(r.up(loadOrDie("services: {a: {image: busybox, scale: 2}}")));
  EXPECT_THAT(r.engine.containerNames(), ::testing::ElementsAre("p-a-1", "p-a-2"));
  EXPECT_EQ(planText(r.engine, loadOrDie("services: {a: {image: busybox, deploy: {replicas: 0}}}")),
            "remove p-a-1 (scale down)\nremove p-a-2 (scale down)");
}

TEST(DiffTest, ScaleFillsGapsFromTheLowestFreeNumber) {
  Runner r;
  const auto project = loadOrDie("services: {a: {image: busybox, scale: 3}}");
  ASSERT_TRUE(r.up(project));
  ASSERT_TRUE(r.engine.removeContainer("p-a-2", forced()));
  EXPECT_EQ(planText(r.engine, project), "create p-a-2");
}

TEST(DiffTest, ContainerNameForbidsScalingBeyondOne) {
  Runner r;
  UpOptions o;
  o.scale["a"] = 2;
  EXPECT_EQ(planText(r.engine, loadOrDie("services: {a: {image: busybox, container_name: solo}}"), o),
            "error: service a: container_name solo allows one container; cannot scale to 2");
}

TEST(DiffTest, OrphansAreLeftWithAWarningOrRemovedOnRequest) {
  Runner r;
  ASSERT_TRUE(r.up(loadOrDie(kTwo)));
  const auto onlyA = loadOrDie("services: {a: {image: busybox, command: [sleep, \"600\"]}}");
  auto plan = diff(onlyA, observeOrDie(r.engine, onlyA), {});
  ASSERT_TRUE(plan);
  EXPECT_EQ(describe(*plan), "");
  ASSERT_EQ(plan->warnings.size(), 1u);
  EXPECT_THAT(plan->warnings[0], HasSubstr("Found orphan containers (p-b-1) for this project"));
  UpOptions o;
  o.removeOrphans = true;
  EXPECT_EQ(planText(r.engine, onlyA, o), "remove p-b-1 (orphan)");
}

TEST(DiffTest, ServicesOfInactiveProfilesAreNotOrphans) {
  Runner r;
  ASSERT_TRUE(r.up(loadOrDie("services: {a: {image: busybox}, dbg: {image: busybox}}")));
  const auto withProfile =
      loadOrDie("services: {a: {image: busybox}, dbg: {image: busybox, profiles: [debug]}}");
  ASSERT_EQ(withProfile.disabledServices.count("dbg"), 1u);
  auto plan = diff(withProfile, observeOrDie(r.engine, withProfile), {.removeOrphans = true});
  ASSERT_TRUE(plan);
  EXPECT_EQ(describe(*plan), "");
  EXPECT_TRUE(plan->warnings.empty());
  EXPECT_EQ(planText(r.engine, withProfile, {.services = {"dbg"}}),
            "error: service \"dbg\" is not enabled (profiles)");
}

TEST(DiffTest, ForceRecreateRecreatesEverythingInScope) {
  Runner r;
  const auto project = loadOrDie(kTwo);
  ASSERT_TRUE(r.up(project));
  EXPECT_EQ(planText(r.engine, project, {.recreate = RecreatePolicy::Force}),
            "recreate p-a-1 (forced)\nrecreate p-b-1 (forced)");
  EXPECT_EQ(planText(r.engine, project, {.services = {"b"}, .recreate = RecreatePolicy::Force}),
            "recreate p-b-1 (forced)");
}

TEST(DiffTest, NoRecreateKeepsDivergedContainersButStartsStoppedOnes) {
  Runner r;
  ASSERT_TRUE(r.up(loadOrDie("services: {a: {image: busybox, environment: {X: '1'}}}")));
  ASSERT_TRUE(r.engine.stopContainer("p-a-1", 0));
  EXPECT_EQ(planText(r.engine, loadOrDie("services: {a: {image: busybox, environment: {X: '2'}}}"),
                     {.recreate = RecreatePolicy::Never}),
            "start p-a-1");
}

TEST(DiffTest, StoppedContainersAreStartedNotRecreated) {
  Runner r;
  const auto project = loadOrDie(kTwo);
  ASSERT_TRUE(r.up(project));
  ASSERT_TRUE(r.engine.stopContainer("p-b-1", 0));
  EXPECT_EQ(planText(r.engine, project), "start p-b-1");
}

TEST(DiffTest, NoStartCreatesWithoutStartingAndStartsNothing) {
  Runner r;
  const auto project = loadOrDie(kTwo);
  EXPECT_EQ(planText(r.engine, project, {.noStart = true}),
            "create network p_default\ncreate p-a-1 (not started)\ncreate p-b-1 (not started)");
  ASSERT_TRUE(r.up(project, {.noStart = true}));
  EXPECT_EQ(planText(r.engine, project, {.noStart = true}), "");
  EXPECT_EQ(planText(r.engine, project), "start p-a-1\nstart p-b-1");
}

constexpr const char* kWebDb = R"(
services:
  web:
    image: busybox
    depends_on:
      db: {condition: service_healthy}
  db:
    image: busybox
    healthcheck: {test: [CMD, "true"], interval: 1s}
)";

TEST(DiffTest, DependantsWaitForTheirDependencysCondition) {
  Runner r;
  EXPECT_EQ(planText(r.engine, loadOrDie(kWebDb), {}, {.order = true}),
            "create network p_default\n"
            "create p-db-1 [after p_default]\n"
            "wait for db healthy [after p-db-1]\n"
            "create p-web-1 [after p_default, db healthy]");
}

TEST(DiffTest, ADependantStillChecksAnUnchangedDependency) {
  Runner r;
  ASSERT_TRUE(r.up(loadOrDie(kWebDb)));
  ASSERT_TRUE(r.engine.removeContainer("p-web-1", forced()));
  EXPECT_EQ(planText(r.engine, loadOrDie(kWebDb), {}, {.order = true}),
            "wait for db healthy\n"
            "create p-web-1 [after db healthy]");
}

TEST(DiffTest, ServiceStartedDependenciesOrderWithoutWaiting) {
  Runner r;
  EXPECT_EQ(planText(r.engine,
                     loadOrDie("services: {web: {image: busybox, depends_on: [db]}, db: {image: busybox}}"),
                     {}, {.order = true}),
            "create network p_default\n"
            "create p-db-1 [after p_default]\n"
            "create p-web-1 [after p_default, p-db-1]");
}

TEST(DiffTest, CompletedSuccessfullyDependency) {
  Runner r;
  EXPECT_EQ(planText(r.engine, loadOrDie(R"(
services:
  app: {image: busybox, depends_on: {migrate: {condition: service_completed_successfully}}}
  migrate: {image: busybox, command: ["true"]}
)")),
            "create network p_default\n"
            "create p-migrate-1\n"
            "wait for migrate completed successfully\n"
            "create p-app-1");
}

TEST(DiffTest, NoDepsLeavesDependenciesAlone) {
  Runner r;
  const auto project = loadOrDie(kWebDb);
  EXPECT_EQ(planText(r.engine, project, {.services = {"web"}, .noDeps = true}),
            "create network p_default\ncreate p-web-1");
  EXPECT_EQ(planText(r.engine, project, {.services = {"web"}}),
            "create network p_default\ncreate p-db-1\nwait for db healthy\ncreate p-web-1");
}

TEST(DiffTest, UnknownServiceIsAnError) {
  Runner r;
  EXPECT_EQ(planText(r.engine, loadOrDie(kTwo), {.services = {"nope"}}), "error: no such service: nope");
}

TEST(DiffTest, ANamespaceOwnerThatIsReplacedTakesItsSharersWithIt) {
  Runner r;
  const char* yaml = R"(
services:
  net: {image: busybox, environment: {V: "%s"}}
  side: {image: busybox, network_mode: "service:net"}
)";
  char first[256];
  char second[256];
  std::snprintf(first, sizeof first, yaml, "1");
  std::snprintf(second, sizeof second, yaml, "2");
  ASSERT_TRUE(r.up(loadOrDie(first)));
  EXPECT_EQ(planText(r.engine, loadOrDie(second)),
            "recreate p-net-1 (config changed)\nrecreate p-side-1 (net recreated)");
}

TEST(DiffTest, ANamespaceSharerWhoseOwnerWasReplacedEarlierIsReplaced) {
  Runner r;
  const auto project =
      loadOrDie("services: {net: {image: busybox}, side: {image: busybox, network_mode: 'service:net'}}");
  ASSERT_TRUE(r.up(project));
  ASSERT_TRUE(r.up(project, {.services = {"net"}, .noDeps = true, .recreate = RecreatePolicy::Force}));
  EXPECT_EQ(planText(r.engine, project), "recreate p-side-1 (net recreated)");
  ASSERT_TRUE(r.up(project));
  EXPECT_EQ(planText(r.engine, project), "");
}

TEST(DiffTest, RestartTrueDependantsAreRestartedWhenTheDependencyIsReplaced) {
  Runner r;
  const char* yaml = R"(
services:
  db: {image: busybox, environment: {V: "%s"}}
  web: {image: busybox, depends_on: {db: {condition: service_started, restart: true}}}
)";
  char first[256];
  char second[256];
  std::snprintf(first, sizeof first, yaml, "1");
  std::snprintf(second, sizeof second, yaml, "2");
  ASSERT_TRUE(r.up(loadOrDie(first)));
  EXPECT_EQ(planText(r.engine, loadOrDie(second)),
            "recreate p-db-1 (config changed)\nrestart p-web-1 (db recreated)");
}

TEST(DiffTest, NamedVolumesAreCreatedOnceAndKept) {
  Runner r;
  const auto project =
      loadOrDie("services: {a: {image: busybox, volumes: ['data:/data']}}\nvolumes: {data: {}}");
  EXPECT_EQ(planText(r.engine, project), "create network p_default\ncreate volume p_data\ncreate p-a-1");
  ASSERT_TRUE(r.up(project));
  EXPECT_EQ(planText(r.engine, project), "");
}

TEST(DiffTest, ExternalNetworksAndVolumesAreNeverCreated) {
  Runner r;
  EXPECT_EQ(planText(r.engine, loadOrDie(R"(
services: {a: {image: busybox, networks: [outside], volumes: ['keep:/k']}}
networks: {outside: {external: true}}
volumes: {keep: {external: true}}
)")),
            "create p-a-1");
}

TEST(DiffTest, MissingImagesAreBuiltOrPulled) {
  Runner r;
  EXPECT_EQ(planText(r.engine, loadOrDie("services: {a: {build: ., image: mine:1}, b: {image: redis:7}}")),
            "create network p_default\n"
            "build image mine:1\n"
            "pull image redis:7\n"
            "create p-a-1\n"
            "create p-b-1");
}

TEST(DiffTest, ServicesWithoutAnImageNameGetProjectDashService) {
  Runner r;
  EXPECT_EQ(planText(r.engine, loadOrDie("services: {a: {build: .}}")),
            "create network p_default\nbuild image p-a\ncreate p-a-1");
}

TEST(DiffTest, PresentImagesAreBuiltOnlyWhenAskedTo) {
  Runner r;
  r.engine.addImage("mine:1");
  const auto project = loadOrDie("services: {a: {build: ., image: mine:1}}");
  EXPECT_EQ(planText(r.engine, project), "create network p_default\ncreate p-a-1");
  EXPECT_EQ(planText(r.engine, project, {.build = BuildPolicy::Always}),
            "create network p_default\nbuild image mine:1\ncreate p-a-1");
  r.engine.removeImage("mine:1", {}).value();
  EXPECT_EQ(planText(r.engine, project, {.build = BuildPolicy::Never}),
            "create network p_default\npull image mine:1\ncreate p-a-1");
}

TEST(DiffTest, PullPolicies) {
  Runner r;
  EXPECT_EQ(planText(r.engine, loadOrDie("services: {a: {image: busybox, pull_policy: always}}")),
            "create network p_default\npull image busybox\ncreate p-a-1");
  EXPECT_EQ(planText(r.engine, loadOrDie("services: {a: {image: redis, pull_policy: never}}")),
            "error: service a: image redis is not on the engine and pull_policy is never");
  EXPECT_EQ(planText(r.engine, loadOrDie("services: {a: {image: busybox}}"), {.pull = "always"}),
            "create network p_default\npull image busybox\ncreate p-a-1");
}

TEST(DiffTest, AServicesImageIsBuiltOnceForAllItsUsers) {
  Runner r;
  EXPECT_EQ(planText(r.engine, loadOrDie("services: {a: {build: ., image: x}, b: {image: x}}"), {},
                     {.order = true}),
            "create network p_default\n"
            "build image x\n"
            "create p-a-1 [after x, p_default]\n"
            "create p-b-1 [after x, p_default]");
}

TEST(DiffTest, RecreationReattachesTheOldContainersAnonymousVolumes) {
  Runner r;
  engine::ImageConfig withVolume;
  withVolume.volumes = {"/var/lib/db"};
  r.engine.addImage("db:1", "", withVolume);
  ASSERT_TRUE(r.up(loadOrDie("services: {a: {image: db:1, volumes: ['/cache'], environment: {V: '1'}}}")));
  const auto before = r.engine.container("p-a-1");
  ASSERT_TRUE(before);
  std::map<std::string, std::string> anonymous;
  for (const auto& m : before->mounts) anonymous[m.destination] = m.name;
  ASSERT_EQ(anonymous.size(), 2u);

  const auto changed = loadOrDie("services: {a: {image: db:1, volumes: ['/cache'], environment: {V: '2'}}}");
  auto plan = diff(changed, observeOrDie(r.engine, changed), {});
  ASSERT_TRUE(plan);
  ASSERT_EQ(describe(*plan), "recreate p-a-1 (config changed)");
  std::map<std::string, std::string> mounted;
  for (const auto& m : plan->actions[0].container.create.hostConfig.mounts) mounted[m.target] = m.source;
  EXPECT_EQ(mounted, anonymous);
}

TEST(DiffTest, WaitAddsAFinalCheckPerService) {
  Runner r;
  EXPECT_EQ(planText(r.engine, loadOrDie(kTwo), {.wait = true}),
            "create network p_default\n"
            "create p-a-1\n"
            "create p-b-1\n"
            "wait for a running or healthy\n"
            "wait for b running or healthy");
}

TEST(DiffTest, ImagePlanHasOnlyTheImages) {
  Runner r;
  auto project = loadOrDie("services: {a: {build: ., image: mine:1}, b: {image: busybox}}");
  auto plan = imagePlan(project, observeOrDie(r.engine, project), {});
  ASSERT_TRUE(plan);
  EXPECT_EQ(describe(*plan), "build image mine:1");
}

// The controller's mode: service web runs slot 1 only, as task `task`'s container.
UpOptions slotOf(const std::string& task, bool startFirst = false) {
  UpOptions o;
  o.slots["web"] = {Slot{.number = 1, .labels = {{"io.berth.task", task}}, .startFirst = startFirst}};
  return o;
}

// The controller's slots: a replacement interrupted after the new container was made (berthd
// killed, the engine failing) leaves it under a temporary name beside the old one. Once the old
// one is gone the new one is complete (it is removed only then), and the next convergence only
// gives it the slot's name and starts it. While the old one is there, the new one may lack
// networks or files: it is made anew.
TEST(DiffTest, ASlotsContainerLeftUnderATemporaryNameIsRenamedOnceComplete) {
  Runner r;
  const auto project = loadOrDie("services: {web: {image: busybox, command: [sleep, '600']}}");
  ASSERT_TRUE(r.up(project, slotOf("t1")));
  const std::string oldId = r.engine.container("p-web-1")->id;
  r.engine.failNext("removeContainer", Error(ErrorCode::Internal, "engine fake://engine: interrupted"));
  ASSERT_FALSE(r.up(project, slotOf("t2")));
  const auto old = r.engine.container("p-web-1");
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->config.labels.at("io.berth.task"), "t1");
  const auto left = r.engine.container(oldId.substr(0, 12) + "_p-web-1");
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->config.labels.at("io.berth.task"), "t2");
  EXPECT_FALSE(left->state.running);
  EXPECT_EQ(planText(r.engine, project, slotOf("t2"), {.order = true}),
            "remove p-web-1 (duplicate number)\n"
            "recreate p-web-1 (left under a temporary name) [after p-web-1]");

  ASSERT_TRUE(r.engine.removeContainer(oldId, forced()));
  EXPECT_EQ(planText(r.engine, project, slotOf("t2")),
            "rename " + left->id.substr(0, 12) + " to p-web-1 and start it (left under a temporary name)");
  r.engine.clearCalls();
  ASSERT_TRUE(r.up(project, slotOf("t2")));
  const auto now = r.engine.container("p-web-1");
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->id, left->id);
  EXPECT_TRUE(now->state.running);
  for (const std::string& call : r.engine.mutations()) {
    EXPECT_EQ(call.find("create"), std::string::npos) << call;
    EXPECT_EQ(call.find("remove"), std::string::npos) << call;
  }
  EXPECT_EQ(planText(r.engine, project, slotOf("t2")), "");
}

// A start-first replacement starts the new container once its networks and files are in: left
// running under its temporary name (interrupted before the old one stopped), it is complete. The
// old one goes and the new one takes the slot's name, still running: it is not stopped and made
// anew, which would show its task's container exited.
TEST(DiffTest, ARunningSlotContainerLeftUnderATemporaryNameKeepsRunning) {
  Runner r;
  const auto project = loadOrDie("services: {web: {image: busybox, command: [sleep, '600']}}");
  ASSERT_TRUE(r.up(project, slotOf("t1")));
  const std::string oldId = r.engine.container("p-web-1")->id;
  r.engine.failNext("stopContainer", Error(ErrorCode::Internal, "engine fake://engine: interrupted"));
  ASSERT_FALSE(r.up(project, slotOf("t2", true)));
  const auto left = r.engine.container(oldId.substr(0, 12) + "_p-web-1");
  ASSERT_TRUE(left.has_value());
  EXPECT_TRUE(left->state.running);
  EXPECT_TRUE(r.engine.container("p-web-1")->state.running);

  EXPECT_EQ(planText(r.engine, project, slotOf("t2"), {.order = true}),
            "remove p-web-1 (duplicate number)\n"
            "rename " +
                left->id.substr(0, 12) + " to p-web-1 (left under a temporary name) [after p-web-1]");
  r.engine.clearCalls();
  ASSERT_TRUE(r.up(project, slotOf("t2")));
  const auto now = r.engine.container("p-web-1");
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->id, left->id);
  EXPECT_TRUE(now->state.running);
  EXPECT_FALSE(r.engine.container(oldId).has_value());
  for (const std::string& call : r.engine.mutations()) {
    if (call.find(left->id) != std::string::npos) {
      EXPECT_EQ(call, "renameContainer " + left->id);
    }
  }
}

TEST(DiffTest, DependencyCyclesAreErrors) {
  spec::Project p;
  p.name = "p";
  p.services["a"].name = "a";
  p.services["a"].image = "busybox";
  p.services["a"].dependsOn["b"] = {};
  p.services["b"].name = "b";
  p.services["b"].image = "busybox";
  p.services["b"].dependsOn["a"] = {};
  auto order = dependencyOrder(p);
  ASSERT_FALSE(order);
  EXPECT_EQ(order.error().message(), "dependency cycle: a -> b -> a");
}

// --- down and the lifecycle planners

constexpr const char* kStack = R"(
services:
  web: {image: busybox, depends_on: [app], volumes: ['/cache']}
  app: {image: busybox, depends_on: [db]}
  db: {image: busybox, volumes: ['data:/data']}
volumes: {data: {}}
)";

TEST(DownTest, RemovesDependantsFirstThenTheNetwork) {
  Runner r;
  const auto project = loadOrDie(kStack);
  ASSERT_TRUE(r.up(project));
  EXPECT_EQ(describe(planDown(project, observeOrDie(r.engine, project), {}), {.order = true}),
            "remove p-web-1\n"
            "remove p-app-1 [after p-web-1]\n"
            "remove p-db-1 [after p-app-1]\n"
            "remove network p_default [after p-web-1, p-app-1, p-db-1]");
}

TEST(DownTest, VolumesOnlyWithTheFlag) {
  Runner r;
  const auto project = loadOrDie(kStack);
  ASSERT_TRUE(r.up(project));
  ASSERT_TRUE(r.down(project));
  EXPECT_TRUE(r.engine.containerNames().empty());
  EXPECT_EQ(r.engine.networkNames().count("p_default"), 0u);
  EXPECT_EQ(r.engine.volumeNames().count("p_data"), 1u);
  const auto kept = r.engine.volumeNames();  // p_data and web's anonymous /cache volume
  ASSERT_EQ(kept.size(), 2u);
  ASSERT_TRUE(r.up(project));
  ASSERT_TRUE(r.down(project, {.removeVolumes = true}));
  // The named volume and the anonymous volume of the last containers are gone; the anonymous
  // volume the first `down` left behind belonged to no container any more.
  auto left = r.engine.volumeNames();
  EXPECT_EQ(left.size(), 1u);
  EXPECT_EQ(left.count("p_data"), 0u);
  EXPECT_EQ(kept.count(*left.begin()), 1u);
}

TEST(DownTest, RemoveImagesLocalOnlyTakesImagesWithoutAName) {
  Runner r;
  r.engine.addImage("p-a");
  r.engine.addImage("named:1");
  const auto project = loadOrDie("services: {a: {build: .}, b: {build: ., image: 'named:1'}}");
  ASSERT_TRUE(r.up(project));
  const auto observed = observeOrDie(r.engine, project);
  EXPECT_EQ(describe(planDown(project, observed, {.removeImages = RemoveImages::Local})),
            "remove p-a-1\nremove p-b-1\nremove network p_default\nremove image p-a");
  EXPECT_EQ(describe(planDown(project, observed, {.removeImages = RemoveImages::All})),
            "remove p-a-1\nremove p-b-1\nremove network p_default\nremove image named:1\nremove image p-a");
}

TEST(DownTest, WithoutAFileEverythingLabelledGoes) {
  Runner r;
  ASSERT_TRUE(r.up(loadOrDie(kStack)));
  spec::Project bare;
  bare.name = "p";
  EXPECT_EQ(describe(planDown(bare, observeOrDie(r.engine, bare), {.removeVolumes = true})),
            "remove p-app-1\nremove p-db-1\nremove p-web-1\nremove network p_default\nremove volume p_data");
}

TEST(DownTest, OrphansNeedTheFlag) {
  Runner r;
  ASSERT_TRUE(r.up(loadOrDie(kTwo)));
  const auto onlyA = loadOrDie("services: {a: {image: busybox}}");
  Plan plan = planDown(onlyA, observeOrDie(r.engine, onlyA), {});
  EXPECT_EQ(describe(plan), "remove p-a-1\nremove network p_default");
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_EQ(describe(planDown(onlyA, observeOrDie(r.engine, onlyA), {.removeOrphans = true})),
            "remove p-a-1\nremove p-b-1 (orphan)\nremove network p_default");
}

TEST(LifecycleTest, StopDependantsFirstStartDependenciesFirst) {
  Runner r;
  const auto project = loadOrDie(kStack);
  ASSERT_TRUE(r.up(project));
  auto stop = planStop(project, observeOrDie(r.engine, project), {}, 3);
  ASSERT_TRUE(stop);
  EXPECT_EQ(describe(*stop, {.order = true}),
            "stop p-web-1\nstop p-app-1 [after p-web-1]\nstop p-db-1 [after p-app-1]");
  ASSERT_TRUE(apply(*stop, r.engine, r.progress, r.clock, r.applyOptions));
  auto start = planStart(project, observeOrDie(r.engine, project), {});
  ASSERT_TRUE(start);
  EXPECT_EQ(describe(*start, {.order = true}),
            "start p-db-1\nstart p-app-1 [after p-db-1]\nstart p-web-1 [after p-app-1]");
}

TEST(LifecycleTest, StartWaitsForHealthyDependencies) {
  Runner r;
  const auto project = loadOrDie(kWebDb);
  ASSERT_TRUE(r.up(project));
  ASSERT_TRUE(r.engine.stopContainer("p-web-1", 0));
  ASSERT_TRUE(r.engine.stopContainer("p-db-1", 0));
  auto start = planStart(project, observeOrDie(r.engine, project), {});
  ASSERT_TRUE(start);
  EXPECT_EQ(describe(*start, {.order = true}),
            "start p-db-1\nwait for db healthy [after p-db-1]\nstart p-web-1 [after db healthy]");
}

TEST(LifecycleTest, SelectionBySeviceAndUnknownServices) {
  Runner r;
  const auto project = loadOrDie(kStack);
  ASSERT_TRUE(r.up(project));
  const auto observed = observeOrDie(r.engine, project);
  EXPECT_EQ(describe(*planRestart(project, observed, {.services = {"app"}}, std::nullopt)),
            "restart p-app-1");
  EXPECT_EQ(describe(*planKill(project, observed, {.services = {"db"}}, "SIGTERM")),
            "kill p-db-1 with SIGTERM");
  EXPECT_EQ(describe(*planPause(project, observed, {.services = {"web"}})), "pause p-web-1");
  EXPECT_EQ(planStop(project, observed, {.services = {"nope"}}, std::nullopt).error().message(),
            "no such service: nope");
  EXPECT_EQ(describe(*planRemove(project, observed, {}, false, false)), "");
  EXPECT_EQ(describe(*planRemove(project, observed, {.services = {"db"}}, true, true)), "remove p-db-1");
}

}  // namespace
}  // namespace berth::plan::testing
