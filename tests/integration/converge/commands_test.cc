// The other project commands end to end: ps, logs, exec, run, restart/kill/pause/unpause/rm, top,
// images, events, build, wait — output shapes and flags as `docker compose` has them.
#include <csignal>
#include <thread>

#include "harness/background_process.h"
#include "integration/converge/converge_fixture.h"

namespace berth::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr const char* kTalkers = R"(
services:
  talk:
    image: busybox
    stop_signal: SIGKILL
    command: [sh, -c, "for i in 1 2 3 4 5; do echo talk line $$i; done; sleep 600"]
  quiet:
    image: busybox
    stop_signal: SIGKILL
    command: [sh, -c, "echo quiet says hi; sleep 600"]
    scale: 2
)";

TEST_F(ConvergeTest, PsListsRunningContainersAndTheirStates) {
  compose(kTalkers);
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  ASSERT_EQ(berth({"stop", "talk"}).exitCode, 0);
  auto r = berth({"ps"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.out, StartsWith("NAME"));
  EXPECT_THAT(r.out, HasSubstr("SERVICE"));
  EXPECT_THAT(r.out, HasSubstr(name("quiet", 1)));
  EXPECT_THAT(r.out, HasSubstr(name("quiet", 2)));
  EXPECT_THAT(r.out, Not(HasSubstr(name("talk"))));
  r = berth({"ps", "-a"});
  EXPECT_THAT(r.out, HasSubstr(name("talk")));
  EXPECT_THAT(r.out, HasSubstr("Exited (137)"));
  r = berth({"ps", "-a", "--format", "json"});
  const auto lines = split(r.out, '\n');
  ASSERT_GE(lines.size(), 3u);
  EXPECT_THAT(r.out, HasSubstr("\"Name\":\"" + name("talk") + "\""));
  EXPECT_THAT(r.out, HasSubstr("\"Service\":\"talk\""));
  EXPECT_THAT(r.out, HasSubstr("\"State\":\"exited\""));
  EXPECT_THAT(r.out, HasSubstr("\"State\":\"running\""));
  EXPECT_THAT(r.out, HasSubstr("\"Project\":\"" + project_ + "\""));
  EXPECT_EQ(berth({"ps", "-a", "--services"}).out, "quiet\ntalk\n");
  r = berth({"ps", "-q"});
  EXPECT_EQ(split(r.out, '\n').size(), 3u);  // two IDs and the final empty piece
  EXPECT_EQ(split(r.out, '\n')[0].size(), 12u);
  EXPECT_EQ(berth({"ps", "--status", "exited", "--services"}).out, "talk\n");
  EXPECT_EQ(berth({"ps", "--services", "quiet"}).out, "quiet\n");
}

TEST_F(ConvergeTest, LogsMergePrefixTailTimestampsSinceFollow) {
  compose(kTalkers);
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  ASSERT_TRUE(waitUntil(
      [&] {
        return berth({"logs", "talk"}).out.find("talk line 5") != std::string::npos;
      },
      std::chrono::seconds(10)));
  auto r = berth({"logs"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("talk-1   | talk line 1\n"));
  EXPECT_THAT(r.out, HasSubstr("quiet-1  | quiet says hi\n"));
  EXPECT_THAT(r.out, HasSubstr("quiet-2  | quiet says hi\n"));
  EXPECT_EQ(berth({"logs", "--no-log-prefix", "talk"}).out,
            "talk line 1\ntalk line 2\ntalk line 3\ntalk line 4\ntalk line 5\n");
  EXPECT_EQ(berth({"logs", "--tail", "2", "talk"}).out, "talk-1  | talk line 4\ntalk-1  | talk line 5\n");
  EXPECT_EQ(berth({"logs", "--index", "2", "--no-log-prefix", "quiet"}).out, "quiet says hi\n");
  r = berth({"logs", "-t", "--no-log-prefix", "talk"});
  EXPECT_THAT(r.out, ::testing::ContainsRegex("^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9:.]+Z talk line 1\n"));
  EXPECT_EQ(berth({"logs", "--since", "2099-01-01T00:00:00Z", "talk"}).out, "");
  EXPECT_THAT(berth({"logs", "--since", "1h", "talk"}).out, HasSubstr("talk line 5"));
  // Colours per service on a terminal.
  auto tty =
      runCommand({"script", "-qec", std::string(BERTH_BINARY) + " -p " + project_ + " logs", "/dev/null"},
                 {.env = {"DOCKER_HOST=" + host_->unixSocketUrl()}, .workingDirectory = dir_.path()});
  ASSERT_TRUE(tty);
  // (services in name order get cyan, yellow, green, ...; every replica its service's colour)
  EXPECT_THAT(tty->out, HasSubstr("\033[36mquiet-1  |\033[0m quiet says hi"));
  EXPECT_THAT(tty->out, HasSubstr("\033[36mquiet-2  |\033[0m quiet says hi"));
  EXPECT_THAT(tty->out, HasSubstr("\033[33mtalk-1   |\033[0m talk line 1"));
  // -f follows until Ctrl-C.
  auto follow =
      runCommand({"timeout", "--foreground", "--preserve-status", "-s", "INT", "2", BERTH_BINARY, "-p",
                  project_, "logs", "-f", "talk"},
                 {.env = {"DOCKER_HOST=" + host_->unixSocketUrl()}, .workingDirectory = dir_.path()});
  ASSERT_TRUE(follow);
  EXPECT_EQ(follow->exitCode, 130) << follow->describe();
  EXPECT_THAT(follow->out, HasSubstr("talk line 5"));
}

TEST_F(ConvergeTest, ExecRunsCommandsAndExitsWithTheirCode) {
  compose("services: {web: {image: busybox, command: [sleep, '600'], stop_signal: SIGKILL, scale: 2}}\n");
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  auto r = berth({"exec", "-T", "web", "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exitCode, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  r = berth({"exec", "-T", "web", "cat"}, {.stdinData = "piped in\n"});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_EQ(r.out, "piped in\n");
  EXPECT_EQ(berth({"exec", "-T", "-e", "GREETING=hi", "-u", "1000", "-w", "/tmp", "web", "sh", "-c",
                   "echo $GREETING $(id -u) $(pwd)"})
                .out,
            "hi 1000 /tmp\n");
  EXPECT_EQ(berth({"exec", "-T", "--index", "2", "web", "hostname"}).out,
            id(name("web", 2)).substr(0, 12) + "\n");
  ASSERT_EQ(berth({"exec", "-d", "web", "touch", "/tmp/detached"}).exitCode, 0);
  EXPECT_TRUE(waitUntil([&] { return shell("web", "test -f /tmp/detached && echo yes") == "yes\n"; },
                        std::chrono::seconds(5)));
  // With a terminal: a TTY in the container, and still the exit code.
  auto tty = runCommand(
      {"script", "-qec", std::string(BERTH_BINARY) + " -p " + project_ + " exec web sh -c 'tty; exit 5'",
       "/dev/null"},
      {.env = {"DOCKER_HOST=" + host_->unixSocketUrl()}, .workingDirectory = dir_.path()});
  ASSERT_TRUE(tty);
  EXPECT_THAT(tty->out, HasSubstr("/dev/pts/"));
  EXPECT_EQ(tty->exitCode, 5) << tty->describe();
  r = berth({"exec", "-T", "nope", "true"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.err, "berth: no such service: nope\n");
}

TEST_F(ConvergeTest, RunMakesOneOffContainers) {
  compose(R"(
services:
  app:
    image: busybox
    command: [sleep, "600"]
    stop_signal: SIGKILL
    environment: {FROM_FILE: "1"}
    depends_on: [db]
  db: {image: busybox, command: [sleep, "600"], stop_signal: SIGKILL}
)");
  auto r = berth({"run", "--rm", "-T", "--no-deps", "-e", "A=1", "-e", "B=2", "app", "sh", "-c",
                  "echo one-off $FROM_FILE $A$B"});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_EQ(r.out, "one-off 1 12\n");
  EXPECT_FALSE(exists(name("db")));  // --no-deps
  r = berth({"ps", "-a", "-q"});
  EXPECT_EQ(r.out, "");  // --rm left nothing behind
  r = berth({"run", "-T", "-e", "X=42", "app", "sh", "-c", "echo $X; exit 7"});
  EXPECT_EQ(r.exitCode, 7) << r.describe();
  EXPECT_EQ(r.out, "42\n");
  EXPECT_TRUE(inspect(name("db")).state.running);  // dependencies are started
  auto ps = berth({"ps", "-a", "--format", "json", "app"});
  EXPECT_THAT(ps.out, HasSubstr("\"Name\":\"" + project_ + "-app-run-"));
  EXPECT_THAT(ps.out, HasSubstr("com.docker.compose.oneoff=True"));
  r = berth({"run", "-T", "--rm", "--entrypoint", "echo", "app", "from", "entrypoint"});
  EXPECT_EQ(r.out, "from entrypoint\n");
  r = berth({"run", "-T", "app", "cat"}, {.stdinData = "piped\n"});
  EXPECT_EQ(r.out, "piped\n");
  r = berth({"run", "-d", "--name", project_ + "-custom", "app"});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_EQ(r.out, project_ + "-custom\n");
  EXPECT_TRUE(inspect(project_ + "-custom").state.running);
  auto tty = runCommand(
      {"script", "-qec", std::string(BERTH_BINARY) + " -p " + project_ + " run --rm app sh -c 'tty; exit 4'",
       "/dev/null"},
      {.env = {"DOCKER_HOST=" + host_->unixSocketUrl()}, .workingDirectory = dir_.path()});
  ASSERT_TRUE(tty);
  EXPECT_THAT(tty->out, HasSubstr("/dev/pts/"));
  EXPECT_EQ(tty->exitCode, 4) << tty->describe();
}

TEST_F(ConvergeTest, RestartKillPauseUnpauseRm) {
  compose("services: {a: {image: busybox, command: [sleep, '600'], stop_signal: SIGKILL}}\n");
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  const std::string started = inspect(name("a")).state.startedAt;
  ASSERT_EQ(berth({"restart", "-t", "0"}).exitCode, 0);
  EXPECT_NE(inspect(name("a")).state.startedAt, started);
  EXPECT_TRUE(inspect(name("a")).state.running);
  ASSERT_EQ(berth({"pause"}).exitCode, 0);
  EXPECT_EQ(inspect(name("a")).state.status, engine::ContainerStatus::Paused);
  EXPECT_THAT(berth({"ps"}).out, HasSubstr("(Paused)"));
  ASSERT_EQ(berth({"unpause"}).exitCode, 0);
  EXPECT_EQ(inspect(name("a")).state.status, engine::ContainerStatus::Running);
  auto r = berth({"rm", "-f"});
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_EQ(r.err, "No stopped containers\n");
  ASSERT_EQ(berth({"kill", "-s", "SIGKILL"}).exitCode, 0);
  EXPECT_EQ(inspect(name("a")).state.exitCode, 137);
  r = berth({"rm", "-f"});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_FALSE(exists(name("a")));
}

TEST_F(ConvergeTest, TopImagesWait) {
  compose(R"(
services:
  a: {image: busybox, command: [sleep, "600"], stop_signal: SIGKILL}
  b: {image: busybox, command: [sh, -c, "sleep 1; exit 5"]}
)");
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  auto r = berth({"top", "a"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.out, StartsWith(name("a") + "\nUID"));
  EXPECT_THAT(r.out, HasSubstr("sleep 600"));
  r = berth({"images"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.out, StartsWith("CONTAINER"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex(name("a") + " +busybox +latest +[0-9a-f]{12} "));
  r = berth({"wait", "b"});
  EXPECT_EQ(r.exitCode, 5) << r.describe();
  EXPECT_EQ(r.out, name("b") + " exited with code 5\n");
}

TEST_F(ConvergeTest, EventsStreamsTheProjectsContainerEvents) {
  compose("services: {a: {image: busybox, command: [sleep, '600'], stop_signal: SIGKILL}}\n");
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  auto watcher = BackgroundProcess::start({BERTH_BINARY, "-p", project_, "events", "--json"},
                                         {.env = {"DOCKER_HOST=" + host_->unixSocketUrl()},
                                          .workingDirectory = dir_.path()});
  ASSERT_TRUE(watcher) << watcher.error().message();
  // The stream starts at some moment after the process does, and berth events has no --since (as
  // compose's has none): restart until a start shows up, each restart a new chance, to a deadline.
  bool seen = false;
  for (int attempt = 0; attempt < 20 && !seen; ++attempt) {
    ASSERT_EQ(berth({"restart", "-t", "0"}).exitCode, 0);
    seen = (*watcher)->waitForOutput("\"action\":\"start\"", std::chrono::seconds(1));
  }
  ASSERT_TRUE(seen) << (*watcher)->describe();
  EXPECT_THAT((*watcher)->out(), HasSubstr("\"service\":\"a\""));
  EXPECT_THAT((*watcher)->out(), HasSubstr("\"type\":\"container\""));
  (*watcher)->signal(SIGINT);
  // Interrupted, it ends (0, or 130 as a shell reports SIGINT) instead of hanging.
  const std::optional<int> code = (*watcher)->wait(std::chrono::seconds(10));
  EXPECT_TRUE(code == 0 || code == 130) << (*watcher)->describe();
}

TEST_F(ConvergeTest, BuildSendsTheContextWithoutIgnoredFiles) {
  dir_.write("ctx/Dockerfile", "FROM busybox\nCOPY . /ctx/\nCMD [\"sleep\", \"600\"]\n");
  dir_.write("ctx/keep.txt", "kept\n");
  dir_.write("ctx/secret/key.pem", "do not send\n");
  dir_.write("ctx/.dockerignore", "secret\n*.log\n");
  dir_.write("ctx/debug.log", "noise\n");
  const std::string image = "conv-build-" + project_ + ":1";
  compose("services: {a: {build: ./ctx, image: '" + image + "', stop_signal: SIGKILL}}\n");
  auto r = berth({"build"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("Image " + image + "  Built"));
  EXPECT_TRUE(engine_->inspectImage(image));
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  EXPECT_EQ(shell("a", "ls -A /ctx | sort"), ".dockerignore\nDockerfile\nkeep.txt\n");
  ASSERT_EQ(berth({"down", "--rmi", "all", "-t", "0"}).exitCode, 0);
  EXPECT_FALSE(engine_->inspectImage(image));
}

}  // namespace
}  // namespace berth::testing
