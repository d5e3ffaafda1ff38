// `berth systemd install` under a real systemd as PID 1: a container of the test engine whose PID 1
// is this machine's own systemd (harness/systemd_image.h), with the engine's socket, the berth
// binary and the project directory mounted in. After install, the service's container comes back
// when its main process is killed, when it is removed with `rm -f`, and when systemd's host (that
// container) restarts, and its named volume's data is still there each time. `systemd remove`
// stops and deletes the units.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "base/strings.h"
#include "engine/endpoint.h"
#include "engine/engine.h"
#include "harness/berth_binary.h"
#include "harness/subprocess.h"
#include "harness/systemd_image.h"
#include "harness/temp_dir.h"
#include "harness/test_host.h"
#include "harness/wait.h"

namespace berth::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr const char* kApp = R"(
name: APP
services:
  app:
    image: busybox
    command: [sh, -c, "echo started >> /data/starts; exec sleep 3600"]
    volumes: [data:/data]
    stop_grace_period: 2s
volumes:
  data: {}
)";

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

class SystemdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = &sharedEngine();
    auto endpoint = engine::parseEndpoint(host_->unixSocketUrl());
    ASSERT_TRUE(endpoint);
    auto e = engine::makeEngine(*endpoint);
    ASSERT_TRUE(e);
    engine_ = std::move(*e);
    Status image = loadSystemdImage(host_->unixSocketPath().string(), BERTH_BINARY);
    ASSERT_TRUE(image) << image.error().message();
    app_ = "sdapp-" + std::to_string(::getpid());
    machine_ = "sdhost-" + std::to_string(::getpid());
    dir_.write("app/compose.yaml", replaceAll(kApp, "APP", app_));
    // systemd's host: systemd as PID 1, with what it needs of a container (tmpfs /run, the cgroup
    // tree, SIGRTMIN+3 to shut down) and the engine, berth and the project mounted in.
    const bool unified = unifiedCgroups();
    dir_.write("machine.yaml",
               "services:\n  machine:\n    image: " + std::string(kSystemdImage) +
                   "\n    tty: true\n    command: [/lib/systemd/systemd, --log-target=console]\n"
                   "    stop_signal: SIGRTMIN+3\n    stop_grace_period: 30s\n"
                   "    cap_add: [SYS_ADMIN, NET_ADMIN]\n    security_opt: [seccomp=unconfined]\n"
                   "    tmpfs: [/run, /run/lock]\n" +
                   (unified ? "    cgroup: host\n" : "") + "    volumes:\n      - /sys/fs/cgroup:/sys/fs/cgroup:" +
                   (unified ? "rw" : "ro") + "\n      - " + host_->unixSocketPath().string() +
                   ":/var/run/docker.sock\n      - " + BERTH_BINARY + ":/usr/local/bin/berth:ro\n      - " +
                   dir_.path().string() + ":" + dir_.path().string() + "\n");
  }

  void TearDown() override {
    (void)inMachine("cd " + (dir_.path() / "app").string() + " && berth systemd remove");
    (void)berth({"-f", (dir_.path() / "machine.yaml").string(), "-p", machine_, "down", "-t", "5"});
    (void)berth({"-f", (dir_.path() / "app" / "compose.yaml").string(), "down", "-v", "-t", "0"});
  }

  CommandResult berth(std::vector<std::string> args) {
    CommandOptions o;
    o.env = {"DOCKER_HOST=" + host_->unixSocketUrl(), "XDG_CONFIG_HOME=" + (dir_.path() / ".config").string()};
    o.timeout = 120s;
    auto r = runBerth(args, o);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : CommandResult{};
  }

  // A shell command in systemd's host.
  CommandResult inMachine(const std::string& script) {
    return berth({"-f", (dir_.path() / "machine.yaml").string(), "-p", machine_, "exec", "-T", "machine", "sh", "-c",
                  script});
  }

  // The app container once it runs with a start other than `notStartedAt` (or a new ID).
  std::optional<engine::ContainerInspect> runningApp(const std::string& notStartedAt, std::chrono::seconds timeout) {
    std::optional<engine::ContainerInspect> found;
    waitUntil(
        [&] {
          auto c = engine_->inspectContainer(app_ + "-app-1");
          if (!c || !c->state.running || c->state.startedAt == notStartedAt) return false;
          found = *c;
          return true;
        },
        timeout);
    return found;
  }

  std::string data(const std::string& file) {
    auto r = berth({"-f", (dir_.path() / "app" / "compose.yaml").string(), "exec", "-T", "app", "cat", "/data/" + file});
    return r.out;
  }

  TestHost* host_ = nullptr;
  std::unique_ptr<engine::Engine> engine_;
  TempDir dir_{"berth-systemd-"};
  std::string app_;
  std::string machine_;
};

TEST_F(SystemdTest, InstalledServicesComeBackAfterAKillARemovalAndARestartOfTheirHost) {
  auto up = berth({"-f", (dir_.path() / "machine.yaml").string(), "-p", machine_, "up", "-d"});
  ASSERT_EQ(up.exitCode, 0) << up.describe();
  CommandResult state;
  ASSERT_TRUE(waitUntil(
      [&] {
        state = inMachine("systemctl is-system-running");
        return state.out == "running\n" || state.out == "degraded\n";
      },
      60s))
      << state.describe();

  auto install = inMachine("cd " + (dir_.path() / "app").string() + " && berth systemd install");
  ASSERT_EQ(install.exitCode, 0) << install.describe();
  EXPECT_THAT(install.out, HasSubstr("enabled and started berth-" + app_ + "-app.service"));
  auto first = runningApp("", 60s);
  ASSERT_TRUE(first) << inMachine("systemctl status --no-pager berth-" + app_ + "-app.service").out;
  const auto written = berth({"-f", (dir_.path() / "app" / "compose.yaml").string(), "exec", "-T", "app", "sh", "-c",
                              "echo kept > /data/marker"});
  ASSERT_EQ(written.exitCode, 0) << written.describe();

  // The container's main process killed: the unit's `up` returns, systemd starts it again.
  ASSERT_TRUE(engine_->killContainer(first->id, "SIGKILL"));
  auto afterKill = runningApp(first->state.startedAt, 60s);
  ASSERT_TRUE(afterKill) << inMachine("systemctl status --no-pager berth-" + app_ + "-app.service").out;

  // The container removed: a new one, with the same volume.
  engine::RemoveContainerOptions force;
  force.force = true;
  ASSERT_TRUE(engine_->removeContainer(afterKill->id, force));
  auto afterRemove = runningApp(afterKill->state.startedAt, 60s);
  ASSERT_TRUE(afterRemove);
  EXPECT_NE(afterRemove->id, afterKill->id);

  // systemd's host restarted: the unit stops the container on the way down and brings it back up.
  auto machine = engine_->inspectContainer(machine_ + "-machine-1");
  ASSERT_TRUE(machine);
  ASSERT_TRUE(engine_->restartContainer(machine->id, 30));
  auto afterRestart = runningApp(afterRemove->state.startedAt, 90s);
  ASSERT_TRUE(afterRestart) << berth({"-f", (dir_.path() / "machine.yaml").string(), "-p", machine_, "logs",
                                      "--no-log-prefix", "--tail", "150", "machine"})
                                   .out
                            << inMachine("systemctl status --no-pager berth-" + app_ + "-app.service").out;

  EXPECT_EQ(data("marker"), "kept\n");
  EXPECT_EQ(data("starts"), "started\nstarted\nstarted\nstarted\n");

  // remove: the units are gone and the container is stopped.
  auto removed = inMachine("cd " + (dir_.path() / "app").string() + " && berth systemd remove");
  EXPECT_EQ(removed.exitCode, 0) << removed.describe();
  EXPECT_THAT(removed.out, HasSubstr("removed /etc/systemd/system/berth-" + app_ + "-app.service"));
  EXPECT_NE(inMachine("systemctl cat berth-" + app_ + "-app.service").exitCode, 0);
  auto stopped = engine_->inspectContainer(app_ + "-app-1");
  ASSERT_TRUE(stopped);
  EXPECT_FALSE(stopped->state.running);
}

}  // namespace
}  // namespace berth::testing
