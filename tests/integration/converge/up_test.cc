// berth up / create against a real private engine: what it creates, that a second up touches
// nothing, what makes it recreate, scaling, orphans, the convergence flags, attached mode.
#include "integration/converge/converge_fixture.h"

namespace berth::testing {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr const char* kTwo = R"(
services:
  a:
    image: busybox
    command: [sleep, "600"]
    environment: {X: "1"}
  b:
    image: busybox
    command: [sleep, "600"]
)";

TEST_F(ConvergeTest, UpCreatesTheNetworkAndLabelledContainers) {
  compose(kTwo);
  auto r = berth({"up", "-d"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("Container " + name("a") + "  Started"));
  for (const char* s : {"a", "b"}) {
    const auto c = inspect(name(s));
    EXPECT_TRUE(c.state.running);
    const auto& l = c.config.labels;
    EXPECT_EQ(l.at("com.docker.compose.project"), project_);
    EXPECT_EQ(l.at("com.docker.compose.service"), s);
    EXPECT_EQ(l.at("com.docker.compose.container-number"), "1");
    EXPECT_EQ(l.at("com.docker.compose.oneoff"), "False");
    EXPECT_EQ(l.at("com.docker.compose.config-hash").size(), 64u);
    EXPECT_EQ(l.at("com.docker.compose.project.working_dir"), dir_.path().string());
    EXPECT_EQ(l.at("com.docker.compose.project.config_files"), (dir_.path() / "compose.yaml").string());
    EXPECT_EQ(l.count("com.docker.compose.depends_on"), 1u);
    EXPECT_EQ(l.at("com.docker.compose.image"), c.image);
    EXPECT_EQ(l.count("com.docker.compose.version"), 1u);
    ASSERT_EQ(c.networkSettings.networks.count(project_ + "_default"), 1u);
    EXPECT_THAT(c.networkSettings.networks.at(project_ + "_default").settings.aliases, Contains(s));
  }
  auto net = engine_->inspectNetwork(project_ + "_default");
  ASSERT_TRUE(net) << net.error().message();
  EXPECT_EQ(net->labels.at("com.docker.compose.project"), project_);
  EXPECT_EQ(net->labels.at("com.docker.compose.network"), "default");
}

TEST_F(ConvergeTest, ASecondUpTouchesNothing) {
  compose(kTwo);
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  const std::string a = id(name("a"));
  const std::string b = id(name("b"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // event times have second granularity
  const std::int64_t before = nowSeconds();
  auto r = berth({"up", "-d"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_EQ(r.err, "");  // nothing to do, nothing to say
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_THAT(events(before, nowSeconds()), IsEmpty());
  EXPECT_EQ(id(name("a")), a);
  EXPECT_EQ(id(name("b")), b);
}

TEST_F(ConvergeTest, AChangedEnvironmentRecreatesOnlyThatService) {
  compose(kTwo);
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  const std::string a = id(name("a"));
  const std::string b = id(name("b"));
  compose(R"(
services:
  a:
    image: busybox
    command: [sleep, "600"]
    environment: {X: "2"}
  b:
    image: busybox
    command: [sleep, "600"]
)");
  auto r = berth({"up", "-d", "-t", "0"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("Container " + name("a") + "  Recreate"));
  EXPECT_THAT(r.err, Not(HasSubstr(name("b"))));
  EXPECT_NE(id(name("a")), a);
  EXPECT_EQ(id(name("b")), b);
  EXPECT_THAT(inspect(name("a")).config.env, Contains("X=2"));
  EXPECT_TRUE(inspect(name("a")).state.running);
}

TEST_F(ConvergeTest, ANewImageUnderTheSameTagRecreates) {
  dir_.write("img/Dockerfile", "FROM busybox\nENV V=1\n");
  compose("services: {a: {build: ./img, image: 'conv-img-" + project_ + ":1', command: [sleep, '600']}}\n");
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  const std::string before = id(name("a"));
  EXPECT_EQ(berth({"up", "-d"}).exitCode, 0);
  EXPECT_EQ(id(name("a")), before);
  dir_.write("img/Dockerfile", "FROM busybox\nENV V=2\n");
  auto r = berth({"up", "-d", "--build", "-t", "0"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_NE(id(name("a")), before);
  EXPECT_THAT(inspect(name("a")).config.env, Contains("V=2"));
  (void)engine_->removeImage("conv-img-" + project_ + ":1", engine::RemoveImageOptions{true, false});
}

TEST_F(ConvergeTest, ScaleUpAndDownRemovesTheHighestNumbers) {
  compose(kTwo);
  ASSERT_EQ(berth({"up", "-d", "--scale", "a=3"}).exitCode, 0);
  for (int n = 1; n <= 3; ++n) EXPECT_TRUE(inspect(name("a", n)).state.running) << n;
  const std::string first = id(name("a", 1));
  auto r = berth({"up", "-d", "--scale", "a=1", "-t", "0"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_EQ(id(name("a", 1)), first);
  EXPECT_FALSE(exists(name("a", 2)));
  EXPECT_FALSE(exists(name("a", 3)));
}

TEST_F(ConvergeTest, OrphansAreReportedAndRemovedOnRequest) {
  compose(kTwo);
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  compose("services: {a: {image: busybox, command: [sleep, '600'], environment: {X: '1'}}}\n");
  auto r = berth({"up", "-d"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("Found orphan containers (" + name("b") + ") for this project"));
  EXPECT_TRUE(exists(name("b")));
  r = berth({"up", "-d", "--remove-orphans", "-t", "0"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_FALSE(exists(name("b")));
  EXPECT_TRUE(exists(name("a")));
}

TEST_F(ConvergeTest, NoStartCreatesAndStartStarts) {
  compose(kTwo);
  auto r = berth({"up", "--no-start"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_EQ(inspect(name("a")).state.status, engine::ContainerStatus::Created);
  r = berth({"start"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_TRUE(inspect(name("a")).state.running);
  EXPECT_TRUE(inspect(name("b")).state.running);
}

TEST_F(ConvergeTest, CreateMakesContainersWithoutStartingThem) {
  compose(kTwo);
  auto r = berth({"create"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_EQ(inspect(name("a")).state.status, engine::ContainerStatus::Created);
  EXPECT_EQ(inspect(name("b")).state.status, engine::ContainerStatus::Created);
}

TEST_F(ConvergeTest, ForceRecreateAndNoRecreate) {
  compose(kTwo);
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  const std::string a = id(name("a"));
  ASSERT_EQ(berth({"up", "-d", "--force-recreate", "-t", "0", "b"}).exitCode, 0);
  EXPECT_EQ(id(name("a")), a);  // only the named service
  const std::string b = id(name("b"));
  compose(R"(
services:
  a: {image: busybox, command: [sleep, "600"], environment: {X: "3"}}
  b: {image: busybox, command: [sleep, "600"], environment: {Y: "3"}}
)");
  ASSERT_EQ(berth({"up", "-d", "--no-recreate"}).exitCode, 0);
  EXPECT_EQ(id(name("a")), a);
  EXPECT_EQ(id(name("b")), b);
  auto both = berth({"up", "-d", "--force-recreate", "--no-recreate"});
  EXPECT_EQ(both.exitCode, 1);
  EXPECT_EQ(both.err, "berth: --force-recreate and --no-recreate are incompatible\n");
}

TEST_F(ConvergeTest, NoDepsStartsOnlyTheNamedService) {
  compose(R"(
services:
  web: {image: busybox, command: [sleep, "600"], depends_on: [db]}
  db: {image: busybox, command: [sleep, "600"]}
)");
  ASSERT_EQ(berth({"up", "-d", "--no-deps", "web"}).exitCode, 0);
  EXPECT_TRUE(exists(name("web")));
  EXPECT_FALSE(exists(name("db")));
  ASSERT_EQ(berth({"up", "-d", "web"}).exitCode, 0);
  EXPECT_TRUE(exists(name("db")));
}

TEST_F(ConvergeTest, WaitReturnsOnceHealthy) {
  compose(R"(
services:
  a:
    image: busybox
    command: [sh, -c, "sleep 1; touch /tmp/ready; sleep 600"]
    healthcheck: {test: [CMD, test, -f, /tmp/ready], interval: 500ms, retries: 20}
)");
  auto r = berth({"up", "-d", "--wait"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  const auto c = inspect(name("a"));
  ASSERT_TRUE(c.state.health);
  EXPECT_EQ(c.state.health->status, engine::HealthStatus::Healthy);
}

TEST_F(ConvergeTest, WaitFailsOnAContainerThatExits) {
  compose("services: {a: {image: busybox, command: [sh, -c, 'echo cannot start; exit 4']}}\n");
  auto r = berth({"up", "-d", "--wait"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("container " + name("a") + " exited (4)"));
  EXPECT_THAT(r.err, HasSubstr("cannot start"));
}

TEST_F(ConvergeTest, AttachedUpStreamsLogsAndCtrlCStopsTheStack) {
  compose(R"(
services:
  talker:
    image: busybox
    command: [sh, -c, "trap 'echo bye; exit 0' TERM; while true; do echo hello from talker; sleep 0.3; done"]
)");
  // `timeout` delivers the Ctrl-C (SIGINT) after 4 seconds.
  auto r = runCommand({"timeout", "--foreground", "--preserve-status", "-s", "INT", "4", BERTH_BINARY, "-p",
                       project_, "--progress", "plain", "up"},
                      {.env = {"DOCKER_HOST=" + host_->unixSocketUrl()}, .workingDirectory = dir_.path()});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exitCode, 130) << r->describe();
  EXPECT_THAT(r->out, HasSubstr("Attaching to talker-1"));
  EXPECT_THAT(r->out, HasSubstr("talker-1  | hello from talker"));
  EXPECT_THAT(r->out, HasSubstr("talker-1  | bye"));
  EXPECT_THAT(r->err, HasSubstr("Gracefully stopping..."));
  EXPECT_FALSE(inspect(name("talker")).state.running);
}

TEST_F(ConvergeTest, AttachedUpEndsWhenTheContainersExit) {
  compose("services: {once: {image: busybox, command: [echo, done once]}}\n");
  auto r = berth({"up"});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("once-1  | done once"));
  EXPECT_THAT(r.out, HasSubstr("once-1 exited with code 0"));
}

TEST_F(ConvergeTest, AbortOnContainerExitStopsTheOthers) {
  compose(R"(
services:
  once: {image: busybox, command: [sh, -c, "sleep 1; echo finished"]}
  long: {image: busybox, command: [sleep, "600"]}
)");
  auto r = berth({"up", "--abort-on-container-exit", "-t", "0"});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("Aborting on container exit..."));
  EXPECT_FALSE(inspect(name("long")).state.running);
}

TEST_F(ConvergeTest, MissingImageWithoutRegistryIsAClearErrorNamingTheService) {
  // A registry that refuses connections at once (Docker Hub is unreachable here too, but the engine
  // takes ~40 s of DNS retries to give up on it).
  compose("services: {cache: {image: '127.0.0.1:1/cache:7'}}\n");
  auto r = berth({"up", "-d"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("berth: service cache: pull image 127.0.0.1:1/cache:7: engine unix://"));
  EXPECT_THAT(r.err, HasSubstr("connection refused"));
  EXPECT_FALSE(exists(name("cache")));
  r = berth({"pull"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("berth: service cache: pull image 127.0.0.1:1/cache:7:"));
  r = berth({"pull", "--ignore-pull-failures"});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
}

TEST_F(ConvergeTest, AContainerThatCannotStartIsNamedInTheError) {
  compose(R"(
services:
  broken: {image: busybox, command: [/no/such/program]}
  fine: {image: busybox, command: [sleep, "600"], stop_signal: SIGKILL}
)");
  auto r = berth({"up", "-d"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("berth: engine unix://"));
  EXPECT_THAT(r.err, HasSubstr(": start container " + name("broken") + ": "));
  EXPECT_THAT(r.err, HasSubstr("/no/such/program"));
  EXPECT_TRUE(inspect(name("fine")).state.running);
}

TEST_F(ConvergeTest, CtrlCCancelsAnUpThatIsWaiting) {
  compose(R"(
services:
  web: {image: busybox, command: [sleep, "600"], depends_on: {db: {condition: service_healthy}}}
  db:
    image: busybox
    command: [sleep, "600"]
    stop_signal: SIGKILL
    healthcheck: {test: [CMD, "false"], interval: 1s, retries: 100}
)");
  auto r = runCommand({"timeout", "--foreground", "--preserve-status", "-s", "INT", "3", BERTH_BINARY, "-p",
                       project_, "--progress", "plain", "up", "-d"},
                      {.env = {"DOCKER_HOST=" + host_->unixSocketUrl()}, .workingDirectory = dir_.path()});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exitCode, 130) << r->describe();
  EXPECT_THAT(r->err, HasSubstr("Container " + name("db") + "  Waiting"));
  EXPECT_THAT(r->err, HasSubstr("berth: cancelled"));
  EXPECT_FALSE(exists(name("web")));
}

TEST_F(ConvergeTest, ProgressJsonIsOneObjectPerLine) {
  compose(kTwo);
  auto r = berthRaw({"-p", project_, "--progress", "json", "up", "-d"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  int lines = 0;
  for (const std::string& line : split(r.err, '\n')) {
    if (line.empty()) continue;
    ++lines;
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_THAT(line, HasSubstr("\"status\":"));
  }
  EXPECT_GE(lines, 7);
  EXPECT_THAT(r.err, HasSubstr("{\"elapsed\":"));
  EXPECT_THAT(r.err, HasSubstr("\"id\":\"Container " + name("a") + "\",\"name\":\"" + name("a") +
                               "\",\"state\":\"done\",\"status\":\"Started\",\"type\":\"Container\"}"));
}

}  // namespace
}  // namespace berth::testing
