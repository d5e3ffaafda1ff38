// Provisioning that fails part-way leaves the host's engine as it was: same daemon.json, no TLS files,
// the engine running (restarted by its init script) and answering on its socket; nothing registered.
#include <gtest/gtest.h>

#include "fleet_fixture.h"

namespace berth::testing::fleet {
namespace {

class ProvisionFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = TestHost::start(HostOptions{.loadBusybox = false, .ssh = true});
    ASSERT_TRUE(started) << started.error().message();
    host_ = std::move(*started);
    before_ = hostFile(*host_, "/etc/docker/daemon.json");
  }

  void expectPreviousConfigurationWorking() {
    EXPECT_EQ(hostFile(*host_, "/etc/docker/daemon.json"), before_);
    auto tls = host_->run({"ls", "/etc/docker/berth"});
    ASSERT_TRUE(tls);
    EXPECT_EQ(tls->out, "") << tls->describe();
    EXPECT_TRUE(host_->waitForEngine(20s).has_value()) << host_->engineLogTail();
    auto status = host_->run({"service", "docker", "status"});
    ASSERT_TRUE(status);
    EXPECT_EQ(status->exitCode, 0) << status->describe();
    EXPECT_FALSE(fs::exists(berth_.hostsDir() / "web"));
  }

  std::unique_ptr<TestHost> host_;
  std::string before_;
  Berth berth_;
};

TEST_F(ProvisionFailureTest, AnEngineThatCannotStartWithTheNewConfigurationIsRestoredAsItWas) {
  // Something else holds port 2376 on the host: dockerd refuses to start with the TCP listener.
  auto squatter = host_->run({"sh", "-c", "setsid busybox nc -l -p 2376 </dev/null >/dev/null 2>&1 &"});
  ASSERT_TRUE(squatter);
  ASSERT_TRUE(waitUntil(
      [&] {
        // 2376 = 0x0948; busybox listens on [::] (dual-stack), so it shows in tcp6.
        auto r = host_->run({"sh", "-c", "cat /proc/net/tcp /proc/net/tcp6 | grep -q ':0948 .* 0A '"});
        return r && r->exitCode == 0;
      },
      5s));
  const CommandResult add =
      berth_.run(concat({"host", "add", "web", "--provision", "--timeout", "20"}, sshArgs(*host_)));
  EXPECT_EQ(add.exitCode, 1) << add.describe();
  EXPECT_TRUE(
      startsWith(add.err, "berth: provision host web (root@" + host_->address() +
                              ":22): step 6 (restart the engine) failed: restart the engine: `service docker "
                              "restart` exited with 1: dockerd exited during start-up"))
      << add.err;
  EXPECT_TRUE(
      endsWith(add.err, "; the previous engine configuration was restored and the engine restarted\n"))
      << add.err;
  EXPECT_NE(add.out.find("failed; restoring the previous engine configuration"), std::string::npos)
      << add.out;
  EXPECT_TRUE(engineLogged(*host_, "address already in use"));
  expectPreviousConfigurationWorking();
}

TEST_F(ProvisionFailureTest, AFailureAfterTheEngineCameUpWithTlsIsUndoneToo) {
  // Injected right after a successful TLS verification: the most that could ever need undoing.
  const CommandResult add =
      berth_.run(concat({"host", "add", "web", "--provision", "--fail-after", "verify"}, sshArgs(*host_)));
  EXPECT_EQ(add.exitCode, 1) << add.describe();
  EXPECT_NE(add.err.find("step 7 (verify TLS) failed: failure injected after this step"), std::string::npos)
      << add.err;
  EXPECT_TRUE(
      endsWith(add.err, "; the previous engine configuration was restored and the engine restarted\n"))
      << add.err;
  expectPreviousConfigurationWorking();
  // The TLS port is closed again.
  auto probe = runCommand({"curl", "-sk", "--max-time", "3", "https://" + host_->address() + ":2376/_ping"},
                          {.timeout = 10s});
  ASSERT_TRUE(probe);
  EXPECT_NE(probe->exitCode, 0);
}

TEST_F(ProvisionFailureTest, ConflictingFlagsInDockerOptsStopBeforeAnythingChanges) {
  // /etc/default/docker is bind-mounted: edit it in place (sed -i would rename over it).
  const std::string flags = "DOCKER_OPTS=\"-H unix:///run/x.sock\"\n";
  auto edit = host_->run({"sh", "-c", "cat > /etc/default/docker"},
                         {.stdinData = flags + "DOCKER_LOGFILE=" + host_->engineLogPath().string() + "\n"});
  ASSERT_TRUE(edit);
  ASSERT_EQ(edit->exitCode, 0) << edit->describe();
  const CommandResult add = berth_.run(concat({"host", "add", "web", "--provision"}, sshArgs(*host_)));
  EXPECT_EQ(add.exitCode, 1) << add.describe();
  EXPECT_EQ(add.err,
            "berth: provision host web (root@" + host_->address() +
                ":22): step 1 (probe the host) failed: DOCKER_OPTS in /etc/default/docker sets -H "
                "unix:///run/x.sock, which conflicts with the listeners and TLS settings berth writes to "
                "/etc/docker/daemon.json; remove those flags and run again\n");
  EXPECT_EQ(hostFile(*host_, "/etc/docker/daemon.json"), before_);
  EXPECT_FALSE(fs::exists(berth_.hostsDir() / "web"));
}

TEST_F(ProvisionFailureTest, AHostWithoutAnyWayToRunItsEngineIsRefusedUpFront) {
  // No init script: the bind mount over /etc/init.d/docker is replaced by an empty, non-executable file.
  auto hide = host_->run({"sh", "-c", "mount --bind /dev/null /etc/init.d/docker"});
  ASSERT_TRUE(hide);
  ASSERT_EQ(hide->exitCode, 0) << hide->describe();
  const CommandResult add = berth_.run(concat({"host", "add", "web", "--provision"}, sshArgs(*host_)));
  EXPECT_EQ(add.exitCode, 1) << add.describe();
  EXPECT_NE(
      add.err.find("step 1 (probe the host) failed: cannot tell how the host runs its engine: it was not "
                   "booted with systemd (no /run/systemd/system) and has no /etc/init.d/docker"),
      std::string::npos)
      << add.err;
  (void)host_->run({"umount", "/etc/init.d/docker"});
  EXPECT_EQ(hostFile(*host_, "/etc/docker/daemon.json"), before_);
}

}  // namespace
}  // namespace berth::testing::fleet
