// Attached `up`: the output of every container of the project as it starts — while the convergence
// still waits for dependencies, after a restart by its restart policy, after another `up` replaced
// it — each line once; when `up` returns and with which exit code.
#include <future>

#include "converge_fixture.h"

namespace berth::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size()))
    ++n;
  return n;
}

class AttachTest : public ConvergeTest {
 protected:
  // `berth up` attached, its stdout and stderr in one stream, in the order written (the progress
  // lines on stderr, the containers' output on stdout). `interruptAfter`: Ctrl-C then (seconds).
  CommandResult upMerged(std::optional<int> interruptAfter = std::nullopt) {
    const std::string command = "exec \"$0\" -p " + project_ + " --progress plain up 2>&1";
    std::vector<std::string> argv = {"sh", "-c", command, BERTH_BINARY};
    if (interruptAfter) {
      argv.insert(argv.begin(), {"timeout", "--foreground", "--preserve-status", "-s", "INT",
                                 std::to_string(*interruptAfter)});
    }
    auto r = runCommand(argv, {.env = {"DOCKER_HOST=" + host_->unixSocketUrl()},
                               .timeout = std::chrono::seconds(120),
                               .workingDirectory = dir_.path()});
    if (!r) {
      ADD_FAILURE() << r.error().message();
      return {};
    }
    return *r;
  }
};

TEST_F(AttachTest, ADependantStartedOnceItsDependencyIsHealthyIsAttachedToo) {
  compose(R"(
services:
  db:
    image: busybox
    command: [sh, -c, "echo db starting; sleep 2; touch /tmp/ready; sleep 3; echo db done"]
    healthcheck: {test: [CMD, test, -f, /tmp/ready], interval: 1s, retries: 30}
  web:
    image: busybox
    command: [sh, -c, "echo web says hi; sleep 1; echo web done"]
    depends_on: {db: {condition: service_healthy}}
)");
  auto r = upMerged();
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("Attaching to db-1, web-1"));
  // db's output is shown while `up` still waits for it to be healthy, before web starts.
  const auto dbStarting = r.out.find("db-1   | db starting");
  const auto webStarted = r.out.find(" Container " + name("web") + "  Started");
  ASSERT_NE(dbStarting, std::string::npos) << r.out;
  ASSERT_NE(webStarted, std::string::npos) << r.out;
  EXPECT_LT(dbStarting, webStarted) << r.out;
  // Every line once, the exits after the last lines.
  EXPECT_EQ(count(r.out, "web-1  | web says hi"), 1u) << r.out;
  EXPECT_EQ(count(r.out, "web-1  | web done"), 1u) << r.out;
  EXPECT_EQ(count(r.out, "db-1   | db done"), 1u) << r.out;
  EXPECT_EQ(count(r.out, "web-1 exited with code 0"), 1u) << r.out;
  EXPECT_EQ(count(r.out, "db-1 exited with code 0"), 1u) << r.out;
  EXPECT_LT(r.out.find("web-1  | web done"), r.out.find("web-1 exited with code 0")) << r.out;
  EXPECT_LT(r.out.find("db-1   | db done"), r.out.find("db-1 exited with code 0")) << r.out;
}

// `logging: none` keeps nothing to read back; like `docker compose up`, berth attaches instead.
TEST_F(AttachTest, AContainerWithoutReadableLogsIsAttachedTo) {
  compose(R"(
services:
  quiet:
    image: busybox
    command: [sh, -c, "sleep 2; echo said while attached; sleep 1"]
    logging: {driver: none}
)");
  auto r = upMerged();
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_EQ(count(r.out, "quiet-1  | said while attached"), 1u) << r.out;
  EXPECT_EQ(count(r.out, "quiet-1 exited with code 0"), 1u) << r.out;
  EXPECT_THAT(r.out, Not(HasSubstr("does not support reading"))) << r.out;
}

TEST_F(AttachTest, EveryRunOfARestartedContainerIsShownOnce) {
  compose(R"(
services:
  flaky:
    image: busybox
    restart: on-failure:2
    command: [sh, -c, "echo flaky run; exit 3"]
)");
  // Three runs: the first and two restarts; `up` returns when the engine gives up.
  auto r = berth({"up"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_EQ(count(r.out, "flaky-1  | flaky run"), 3u) << r.out;
  EXPECT_EQ(count(r.out, "flaky-1 exited with code 3"), 3u) << r.out;
  EXPECT_EQ(inspect(name("flaky")).state.exitCode, 3);
}

TEST_F(AttachTest, AContainerReplacedByAnotherUpIsFollowedInItsNewVersion) {
  const auto write = [&](int version, int seconds) {
    compose(R"(
services:
  keeper: {image: busybox, command: [sleep, "8"], stop_signal: SIGKILL}
  app:
    image: busybox
    command: [sh, -c, "echo app $$APP_VERSION up; sleep $$NAP; echo app $$APP_VERSION leaving"]
    environment: {APP_VERSION: ")" +
            std::to_string(version) + R"(", NAP: ")" + std::to_string(seconds) + R"("}
)");
  };
  write(1, 60);
  auto attached = std::async(std::launch::async, [&] { return berth({"up"}); });
  ASSERT_TRUE(waitUntil(
      [&] {
        auto c = engine_->inspectContainer(name("app"));
        return c && c->state.running;
      },
      std::chrono::seconds(30)));
  write(2, 1);
  auto replaced = berth({"up", "-d", "--no-deps", "-t", "0", "app"});
  ASSERT_EQ(replaced.exitCode, 0) << replaced.describe();
  auto r = attached.get();
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.out, ContainsRegex("app-1 +\\| app 1 up"));
  EXPECT_THAT(r.out, ContainsRegex("app-1 +\\| app 2 up"));
  EXPECT_THAT(r.out, ContainsRegex("app-1 +\\| app 2 leaving"));
  EXPECT_THAT(r.out, Not(HasSubstr("app 1 leaving")));
  EXPECT_EQ(count(r.out, "| app 2 up"), 1u) << r.out;
  EXPECT_EQ(count(r.out, "| app 2 leaving"), 1u) << r.out;
  EXPECT_THAT(r.out, HasSubstr("app-1 exited with code 137"));  // the old one, killed
  EXPECT_THAT(r.out, HasSubstr("app-1 exited with code 0"));    // the new one
  EXPECT_THAT(r.out, HasSubstr("keeper-1 exited with code 0"));
}

TEST_F(AttachTest, ExitCodeFromReturnsThatServicesExitCodeAndStopsTheOthers) {
  compose(R"(
services:
  worker: {image: busybox, command: [sh, -c, "sleep 1; echo work done; exit 7"]}
  server: {image: busybox, command: [sleep, "600"], stop_signal: SIGKILL}
)");
  auto r = berth({"up", "--exit-code-from", "worker"});
  EXPECT_EQ(r.exitCode, 7) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("worker-1  | work done"));
  EXPECT_THAT(r.err, HasSubstr("Aborting on container exit..."));
  EXPECT_FALSE(inspect(name("server")).state.running);

  // --abort-on-container-exit: the exit code of the container that stopped the stack.
  r = berth({"up", "--abort-on-container-exit"});
  EXPECT_EQ(r.exitCode, 7) << r.describe();
  EXPECT_FALSE(inspect(name("server")).state.running);

  r = berth({"up", "--exit-code-from", "nosuch"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("berth: --exit-code-from: no such service: nosuch"));
  r = berth({"up", "-d", "--exit-code-from", "worker"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("--exit-code-from and --detach are incompatible"));
}

TEST_F(AttachTest, CtrlCWhileWaitingForADependencyStopsTheStack) {
  compose(R"(
services:
  web: {image: busybox, command: [sleep, "600"], depends_on: {db: {condition: service_healthy}}}
  db:
    image: busybox
    command: [sh, -c, "trap 'echo db stopping; exit 0' TERM; echo db never healthy; while true; do sleep 0.2; done"]
    healthcheck: {test: [CMD, "false"], interval: 1s, retries: 100}
)");
  auto r = upMerged(3);
  EXPECT_EQ(r.exitCode, 130) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("db-1   | db never healthy"));
  EXPECT_THAT(r.out, HasSubstr("Gracefully stopping..."));
  EXPECT_THAT(r.out, HasSubstr("db-1   | db stopping"));
  EXPECT_FALSE(inspect(name("db")).state.running);
  EXPECT_FALSE(exists(name("web")));
}

}  // namespace
}  // namespace berth::testing
