// plan::apply against the fake engine: order, idempotence, waits, failures, parallelism, cancel.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "plan/plan_test_util.h"

namespace berth::plan::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::size_t indexOf(const std::vector<std::string>& calls, const std::string& call) {
  auto it = std::find(calls.begin(), calls.end(), call);
  return it == calls.end() ? calls.size() : static_cast<std::size_t>(it - calls.begin());
}

TEST(ApplyTest, FirstUpCreatesAndStartsInOrder) {
  Runner r;
  ASSERT_TRUE(r.up(loadOrDie("services: {web: {image: busybox, depends_on: [db]}, db: {image: busybox}}")));
  EXPECT_THAT(r.engine.mutations(),
              ElementsAre("createNetwork p_default", "createContainer p-db-1", "startContainer p-db-1",
                          "createContainer p-web-1", "startContainer p-web-1"));
  EXPECT_TRUE(r.engine.container("p-web-1")->state.running);
}

TEST(ApplyTest, ASecondUpTouchesNothing) {
  Runner r;
  const auto project = loadOrDie(R"(
services:
  web: {image: busybox, depends_on: {db: {condition: service_healthy}}, ports: ["80"]}
  db: {image: busybox, volumes: ['data:/d'], healthcheck: {test: [CMD, "true"]}}
volumes: {data: {}}
)");
  ASSERT_TRUE(r.up(project));
  const auto ids = r.engine.containerNames();
  r.engine.clearCalls();
  ASSERT_TRUE(r.up(project));
  EXPECT_THAT(r.engine.mutations(), IsEmpty());
  // One observation: containers, networks, volumes, images — and nothing else.
  EXPECT_THAT(r.engine.calls(),
              ::testing::UnorderedElementsAre("listContainers", "listNetworks", "listVolumes", "listImages"));
  EXPECT_EQ(r.engine.containerNames(), ids);
}

TEST(ApplyTest, RecreationReplacesTheContainerUnderTheSameNameAndKeepsAnonymousVolumes) {
  Runner r;
  ASSERT_TRUE(r.up(loadOrDie("services: {a: {image: busybox, volumes: ['/cache'], environment: {V: '1'}}}")));
  const auto before = *r.engine.container("p-a-1");
  r.engine.clearCalls();
  ASSERT_TRUE(r.up(loadOrDie("services: {a: {image: busybox, volumes: ['/cache'], environment: {V: '2'}}}")));
  const std::string tmp = before.id.substr(0, 12) + "_p-a-1";
  EXPECT_THAT(r.engine.mutations(),
              ElementsAre("stopContainer p-a-1", "createContainer " + tmp, "removeContainer p-a-1",
                          "renameContainer " + tmp, "startContainer p-a-1"));
  const auto after = *r.engine.container("p-a-1");
  EXPECT_NE(after.id, before.id);
  ASSERT_EQ(after.mounts.size(), 1u);
  EXPECT_EQ(after.mounts[0].name, before.mounts[0].name);
  EXPECT_THAT(after.config.env, Contains("V=2"));
  EXPECT_EQ(after.config.labels.at("com.docker.compose.replace"), before.id);
}

TEST(ApplyTest, HealthyDependencyIsWaitedFor) {
  Runner r;
  r.engine.healthyAfter("p-db-1", 3);
  ASSERT_TRUE(r.up(loadOrDie(R"(
services:
  web: {image: busybox, depends_on: {db: {condition: service_healthy}}}
  db: {image: busybox, healthcheck: {test: [CMD, "true"]}}
)")));
  const auto calls = r.engine.calls();
  EXPECT_LT(indexOf(calls, "startContainer p-db-1"), indexOf(calls, "inspectContainer p-db-1"));
  EXPECT_LT(indexOf(calls, "inspectContainer p-db-1"), indexOf(calls, "createContainer p-web-1"));
  EXPECT_EQ(std::count(calls.begin(), calls.end(), "inspectContainer p-db-1"), 3);
  EXPECT_EQ(r.clock.sleeps(), 2);  // polled with the injected clock, never the real one
  EXPECT_THAT(r.progress.lines(), Contains("Container p-db-1: Healthy"));
}

TEST(ApplyTest, ADependencyThatDiesStopsItsDependantsWithItsLastLogLines) {
  Runner r;
  r.engine.exitOnStart("p-db-1", 3, "db: starting\ndb: cannot open /data: permission denied\n");
  auto s = r.up(loadOrDie(R"(
services:
  web: {image: busybox, depends_on: {db: {condition: service_healthy}}}
  db: {image: busybox, healthcheck: {test: [CMD, "true"]}}
  other: {image: busybox}
)"));
  ASSERT_FALSE(s);
  EXPECT_EQ(
      s.error().message(),
      "dependency failed to start: container p-db-1 exited (3) (service web depends on db being healthy)\n"
      "  last output of p-db-1:\n"
      "    db: starting\n"
      "    db: cannot open /data: permission denied");
  EXPECT_FALSE(r.engine.container("p-web-1"));
  EXPECT_TRUE(r.engine.container("p-other-1"));  // independent work still happens
  EXPECT_THAT(r.progress.lines(), Contains("Container p-web-1: Skipped"));
}

TEST(ApplyTest, UnhealthyDependency) {
  Runner r;
  r.engine.unhealthyAfter("p-db-1", 2);
  auto s = r.up(loadOrDie(R"(
services:
  web: {image: busybox, depends_on: {db: {condition: service_healthy}}}
  db: {image: busybox, healthcheck: {test: [CMD, "false"]}}
)"));
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message(), HasSubstr("dependency failed to start: container p-db-1 is unhealthy"));
  EXPECT_FALSE(r.engine.container("p-web-1"));
}

TEST(ApplyTest, HealthyConditionWithoutAHealthcheckIsAnError) {
  Runner r;
  auto s =
      r.up(loadOrDie("services: {web: {image: busybox, depends_on: {db: {condition: service_healthy}}}, db: "
                     "{image: busybox}}"));
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message(), HasSubstr("container p-db-1 has no healthcheck configured"));
}

TEST(ApplyTest, CompletedSuccessfully) {
  const char* yaml = R"(
services:
  app: {image: busybox, depends_on: {migrate: {condition: service_completed_successfully}}}
  migrate: {image: busybox}
)";
  {
    Runner r;
    r.engine.exitOnStart("p-migrate-1", 0);
    ASSERT_TRUE(r.up(loadOrDie(yaml)));
    EXPECT_TRUE(r.engine.container("p-app-1")->state.running);
  }
  {
    Runner r;
    r.engine.exitOnStart("p-migrate-1", 1, "no database\n");
    auto s = r.up(loadOrDie(yaml));
    ASSERT_FALSE(s);
    EXPECT_THAT(s.error().message(), HasSubstr("container p-migrate-1 exited (1)"));
    EXPECT_THAT(s.error().message(), HasSubstr("    no database"));
    EXPECT_FALSE(r.engine.container("p-app-1"));
  }
}

TEST(ApplyTest, WaitOptionChecksEveryServiceAndBoundsTheWait) {
  Runner r;
  r.engine.healthyAfter("p-a-1", 1000000);
  r.applyOptions.waitTimeout = std::chrono::seconds(30);
  // One worker: the two waits share the fake clock, and a's polling (each poll "sleeps" 200 ms of
  // fake time at once) could otherwise use up b's 30 s before b's thread looked twice — a race that
  // failed this test one run in a few on a loaded machine.
  r.applyOptions.parallelism = 1;
  auto s = r.up(
      loadOrDie("services: {a: {image: busybox, healthcheck: {test: [CMD, 'true']}}, b: {image: busybox}}"),
      {.wait = true});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::DeadlineExceeded);
  EXPECT_EQ(s.error().message(), "container p-a-1 was not running or healthy in time");
  EXPECT_THAT(r.progress.lines(), Contains("Container p-b-1: Running"));
}

TEST(ApplyTest, AFailedCreateSkipsDependantsOnly) {
  Runner r;
  r.engine.failOn(
      "createContainer", "p-db-1",
      Error(ErrorCode::Internal, "engine fake://engine: create container p-db-1: disk full (500)"));
  auto s = r.up(loadOrDie(
      "services: {web: {image: busybox, depends_on: [db]}, db: {image: busybox}, c: {image: busybox}}"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "engine fake://engine: create container p-db-1: disk full (500)");
  EXPECT_THAT(r.engine.containerNames(), ElementsAre("p-c-1"));
}

TEST(ApplyTest, AContainerThatFailsToStartShowsItsLogs) {
  Runner r;
  r.engine.failOn("startContainer", "p-a-1",
                  Error(ErrorCode::Internal,
                        "engine fake://engine: start container p-a-1: exec: \"nope\": not found (500)"));
  r.engine.setLogs("p-a-1", "hello\n");
  auto s = r.up(loadOrDie("services: {a: {image: busybox}}"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(),
            "engine fake://engine: start container p-a-1: exec: \"nope\": not found (500)\n"
            "  last output of p-a-1:\n"
            "    hello");
}

TEST(ApplyTest, EngineCallsInFlightAreBounded) {
  Runner r;
  std::string yaml = "services:\n";
  for (int i = 0; i < 24; ++i) yaml += "  s" + std::to_string(i) + ": {image: busybox, network_mode: none}\n";
  const auto project = loadOrDie(yaml);
  auto plan = diff(project, observeOrDie(r.engine, project), {});
  ASSERT_TRUE(plan);
  r.engine.clearCalls();
  r.engine.setLatency(std::chrono::milliseconds(3));
  r.applyOptions.parallelism = 3;
  ASSERT_TRUE(apply(*plan, r.engine, r.progress, r.clock, r.applyOptions));
  EXPECT_EQ(r.engine.containerNames().size(), 24u);
  EXPECT_LE(r.engine.maxInFlight(), 3);
  EXPECT_GE(r.engine.maxInFlight(), 2);  // independent containers do go side by side
}

TEST(ApplyTest, CancellationStopsWaitsAndStartsNothingNew) {
  Runner r;
  r.engine.healthyAfter("p-db-1", 1000000);
  std::stop_source stop;
  r.progress.onEvent = [&](const ProgressEvent& e) {
    if (e.text == "Waiting") stop.request_stop();
  };
  auto s = r.up(loadOrDie(R"(
services:
  web: {image: busybox, depends_on: {db: {condition: service_healthy}}}
  db: {image: busybox, healthcheck: {test: [CMD, "true"]}}
)"),
                {}, stop.get_token());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::Cancelled);
  EXPECT_FALSE(r.engine.container("p-web-1"));
}

TEST(ApplyTest, PullFailureNamesTheServiceAndTheRegistryError) {
  Runner r;
  auto s = r.up(loadOrDie("services: {cache: {image: redis:7}}"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(),
            "service cache: pull image redis:7: engine fake://engine: pull image redis:7: Get "
            "\"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host");
  r.engine.addToRegistry("redis:7");
  EXPECT_TRUE(r.up(loadOrDie("services: {cache: {image: redis:7}}")));
}

TEST(ApplyTest, BuildsSendTheContextWithoutIgnoredFiles) {
  char tmpl[] = "/tmp/berth-apply-build-XXXXXX";
  const std::filesystem::path dir = mkdtemp(tmpl);
  std::ofstream(dir / "compose.yaml") << "services: {a: {build: ./ctx, image: 'mine:1'}}\n";
  std::filesystem::create_directories(dir / "ctx" / "secret");
  std::ofstream(dir / "ctx" / "Dockerfile") << "FROM scratch\n";
  std::ofstream(dir / "ctx" / "app.txt") << "app\n";
  std::ofstream(dir / "ctx" / "secret" / "key") << "k\n";
  std::ofstream(dir / "ctx" / ".dockerignore") << "secret\n";
  spec::ConfigDetails details;
  details.files = {(dir / "compose.yaml").string()};
  details.workingDir = dir.string();
  details.projectName = "p";
  auto project = spec::load(details, {});
  ASSERT_TRUE(project) << project.error().message();
  Runner r;
  ASSERT_TRUE(r.up(*project));
  std::filesystem::remove_all(dir);
  const std::string tar = r.engine.lastBuildContext();
  EXPECT_THAT(tar, HasSubstr("app.txt"));
  EXPECT_THAT(tar, HasSubstr("Dockerfile"));
  EXPECT_THAT(tar, Not(HasSubstr("secret/key")));
  EXPECT_TRUE(r.engine.container("p-a-1"));
  EXPECT_THAT(r.progress.lines(), Contains("Image mine:1: Built"));
}

TEST(ApplyTest, ConfigContentIsCopiedInBeforeTheStart) {
  Runner r;
  ASSERT_TRUE(r.up(loadOrDie(R"(
services: {a: {image: busybox, configs: [{source: settings, target: /etc/app/settings.ini}]}}
configs: {settings: {content: "x=1"}}
)")));
  EXPECT_EQ(r.engine.files("p-a-1").at("/etc/app/settings.ini"), "x=1");
  const auto calls = r.engine.mutations();
  EXPECT_LT(indexOf(calls, "putArchive p-a-1"), indexOf(calls, "startContainer p-a-1"));
}

TEST(ApplyTest, AnExistingUnlabelledNetworkIsReused) {
  Runner r;
  engine::NetworkCreate existing;
  existing.name = "p_default";
  ASSERT_TRUE(r.engine.createNetwork(existing));
  ASSERT_TRUE(r.up(loadOrDie("services: {a: {image: busybox}}")));
  EXPECT_TRUE(r.engine.container("p-a-1")->state.running);
  EXPECT_THAT(r.progress.lines(), Contains("Network p_default: Exists"));
}

TEST(ApplyTest, ScaleDownAndOrphanRemoval) {
  Runner r;
  ASSERT_TRUE(r.up(loadOrDie("services: {a: {image: busybox, scale: 3}, b: {image: busybox}}")));
  ASSERT_TRUE(r.up(loadOrDie("services: {a: {image: busybox, scale: 1}}"), {.removeOrphans = true}));
  EXPECT_THAT(r.engine.containerNames(), ElementsAre("p-a-1"));
}

TEST(ApplyTest, DownRetriesANetworkTheEngineStillCountsEndpointsOn) {
  Runner r;
  const auto project = loadOrDie("services: {a: {image: busybox}}");
  ASSERT_TRUE(r.up(project));
  const Error busy(
      ErrorCode::PermissionDenied,
      "engine fake://engine: remove network p_default: error while removing network: network p_default "
      "id 1 has active endpoints (403)");
  r.engine.failNext("removeNetwork", busy);
  r.engine.failNext("removeNetwork", busy);
  ASSERT_TRUE(r.down(project));
  EXPECT_EQ(r.engine.networkNames().count("p_default"), 0u);
  EXPECT_EQ(r.clock.sleeps(), 2);
  // A network that stays busy is an error after a while.
  ASSERT_TRUE(r.up(project));
  for (int i = 0; i < 40; ++i) r.engine.failNext("removeNetwork", busy);
  auto s = r.down(project);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), busy.code());
  // No container is left on it: the engine's own leak, said so.
  EXPECT_EQ(s.error().message(),
            busy.message() +
                "; no container is attached to it: the engine keeps an endpoint of a removed container (a "
                "dockerd bug that restarting the engine clears); the network is left in place and the next "
                "`up` uses it");
}

TEST(ApplyTest, ServiceNetworkModeJoinsTheOwnersNamespace) {
  Runner r;
  ASSERT_TRUE(r.up(
      loadOrDie("services: {net: {image: busybox}, side: {image: busybox, network_mode: 'service:net'}}")));
  EXPECT_EQ(r.engine.container("p-side-1")->hostConfig.networkMode,
            "container:" + r.engine.container("p-net-1")->id);
  EXPECT_TRUE(r.engine.container("p-side-1")->state.running);
}

}  // namespace
}  // namespace berth::plan::testing
