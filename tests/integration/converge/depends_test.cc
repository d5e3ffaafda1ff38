// depends_on against a real engine: healthy and completed conditions are waited for, and a
// dependency that fails stops its dependants with a message naming it and quoting its output.
#include "integration/converge/converge_fixture.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

TEST_F(ConvergeTest, DependantsStartOnlyOnceTheDependencyIsHealthy) {
  compose(R"(
services:
  web:
    image: busybox
    command: [sleep, "600"]
    depends_on:
      db: {condition: service_healthy}
  db:
    image: busybox
    command: [sh, -c, "sleep 2; touch /tmp/ready; sleep 600"]
    healthcheck: {test: [CMD, test, -f, /tmp/ready], interval: 500ms, retries: 30}
)");
  const std::int64_t before = nowSeconds();
  auto r = berth({"up", "-d"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const auto ev = events(before, nowSeconds());
  const auto at = [&](const std::string& e) { return std::find(ev.begin(), ev.end(), e) - ev.begin(); };
  ASSERT_LT(at("health_status: healthy " + name("db")), static_cast<long>(ev.size()))
      << ::testing::PrintToString(ev);
  EXPECT_LT(at("health_status: healthy " + name("db")), at("create " + name("web")))
      << ::testing::PrintToString(ev);
  EXPECT_TRUE(inspect(name("web")).state.running);
}

TEST_F(ConvergeTest, CompletedSuccessfullyDependencyRunsFirst) {
  compose(R"(
services:
  app:
    image: busybox
    command: [sh, -c, "cat /shared/migrated && sleep 600"]
    volumes: [shared:/shared]
    depends_on:
      migrate: {condition: service_completed_successfully}
  migrate:
    image: busybox
    command: [sh, -c, "sleep 1; echo schema v2 > /shared/migrated"]
    volumes: [shared:/shared]
volumes: {shared: {}}
)");
  auto r = berth({"up", "-d"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_TRUE(inspect(name("app")).state.running);
  EXPECT_TRUE(waitUntil(
      [&] {
        return berth({"logs", "app"}).out.find("schema v2") != std::string::npos;
      },
      std::chrono::seconds(10)));
}

TEST_F(ConvergeTest, AFailingDependencyStopsItsDependantsWithItsLastLines) {
  compose(R"(
services:
  web:
    image: busybox
    command: [sleep, "600"]
    depends_on:
      db: {condition: service_healthy}
  db:
    image: busybox
    command: [sh, -c, "echo db: reading config; echo 'db: /data is not writable' >&2; exit 3"]
    healthcheck: {test: [CMD, "true"], interval: 1s}
  other:
    image: busybox
    command: [sleep, "600"]
)");
  auto r = berth({"up", "-d"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("berth: dependency failed to start: container " + name("db") +
                               " exited (3) (service web depends on db being healthy)\n"
                               "  last output of " +
                               name("db") + ":\n"));
  EXPECT_THAT(r.err, HasSubstr("    db: reading config\n"));
  EXPECT_THAT(r.err, HasSubstr("    db: /data is not writable\n"));
  EXPECT_FALSE(exists(name("web")));
  EXPECT_TRUE(inspect(name("other")).state.running);  // independent of the failure
}

TEST_F(ConvergeTest, AnUnhealthyDependency) {
  compose(R"(
services:
  web: {image: busybox, command: [sleep, "600"], depends_on: {db: {condition: service_healthy}}}
  db:
    image: busybox
    command: [sleep, "600"]
    healthcheck: {test: [CMD, "false"], interval: 300ms, retries: 2}
)");
  auto r = berth({"up", "-d"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("dependency failed to start: container " + name("db") + " is unhealthy"));
  EXPECT_FALSE(exists(name("web")));
}

TEST_F(ConvergeTest, StartHonoursDependencyOrderAndStopReverses) {
  compose(R"(
services:
  web: {image: busybox, command: [sleep, "600"], depends_on: [app]}
  app: {image: busybox, command: [sleep, "600"], depends_on: [db]}
  db: {image: busybox, command: [sleep, "600"]}
)");
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  auto r = berth({"stop", "-t", "0"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_LT(r.err.find("Container " + name("web") + "  Stopped"),
            r.err.find("Container " + name("app") + "  Stopping"));
  EXPECT_LT(r.err.find("Container " + name("app") + "  Stopped"),
            r.err.find("Container " + name("db") + "  Stopping"));
  r = berth({"start"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_LT(r.err.find("Container " + name("db") + "  Started"),
            r.err.find("Container " + name("app") + "  Starting"));
  EXPECT_LT(r.err.find("Container " + name("app") + "  Started"),
            r.err.find("Container " + name("web") + "  Starting"));
}

}  // namespace
}  // namespace berth::testing
