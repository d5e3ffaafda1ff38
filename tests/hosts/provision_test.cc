// provisionEngineTls against FakeRemoteShell: the steps, the files they leave, and the restore path
// after a failure at each step that changes the host.
#include "hosts/provision.h"

#include <gtest/gtest.h>

#include "base/strings.h"
#include "fake_remote_shell.h"
#include "hosts/daemon_config.h"
#include "hosts/status.h"

namespace berth::hosts {
namespace {

using testing::FakeRemoteShell;

const std::string kOriginalDaemonJson =
    "{\"hosts\": [\"unix:///var/run/docker.sock\"], \"data-root\": \"/d\"}\n";

class ProvisionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shell_.files["/etc/docker/daemon.json"] = {kOriginalDaemonJson, "644"};
    shell_.files["/etc/default/docker"] = {"DOCKER_OPTS=\"\"\n", "644"};
  }

  Result<ProvisionResult> provision(std::optional<ProvisionStep> failAfter = std::nullopt) {
    ProvisionOptions o{.hostName = "web-1",
                       .address = "10.0.0.2",
                       .port = 2376,
                       .engineTimeout = std::chrono::milliseconds(300),
                       .failAfter = failAfter};
    return provisionEngineTls(
        shell_, o,
        [&](const HostFacts& facts) -> Result<EngineTlsFiles> {
          issuedFor_ = facts.hostname;
          return EngineTlsFiles{.clientCaPem = "CLIENT-CA",
                                .serverCertPem = "SERVER-CERT",
                                .serverKeyPem = "SERVER-KEY",
                                .client = {}};
        },
        [&](const engine::Endpoint& ep) -> Result<std::string> {
          ++verifies_;
          verifiedUrl_ = ep.url();
          if (verifyError_) return fail(*verifyError_);
          return std::string("20.10.24");
        },
        [&](std::string_view line) { progress_.emplace_back(line); });
  }

  void expectOriginalConfiguration() {
    EXPECT_EQ(shell_.files["/etc/docker/daemon.json"].content, kOriginalDaemonJson);
    EXPECT_EQ(shell_.files.count("/etc/docker/berth/ca.pem"), 0u);
    EXPECT_EQ(shell_.files.count("/etc/docker/berth/cert.pem"), 0u);
    EXPECT_EQ(shell_.files.count("/etc/docker/berth/key.pem"), 0u);
  }

  FakeRemoteShell shell_;
  std::string issuedFor_;
  int verifies_ = 0;
  std::string verifiedUrl_;
  std::optional<Error> verifyError_;
  std::vector<std::string> progress_;
};

TEST_F(ProvisionTest, InstallsCertificatesMergesDaemonJsonRestartsAndVerifies) {
  auto r = provision();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->url, "tcp://10.0.0.2:2376");
  EXPECT_EQ(r->engineVersion, "20.10.24");
  EXPECT_EQ(r->facts.initSystem, InitSystem::SysV);
  EXPECT_EQ(issuedFor_, "node-1");
  EXPECT_EQ(verifiedUrl_, "tcp://10.0.0.2:2376");
  EXPECT_EQ(shell_.files["/etc/docker/berth/ca.pem"].content, "CLIENT-CA");
  EXPECT_EQ(shell_.files["/etc/docker/berth/cert.pem"].content, "SERVER-CERT");
  EXPECT_EQ(shell_.files["/etc/docker/berth/key.pem"].content, "SERVER-KEY");
  EXPECT_EQ(shell_.files["/etc/docker/berth/key.pem"].mode, "600");
  const std::string& merged = shell_.files["/etc/docker/daemon.json"].content;
  EXPECT_NE(merged.find("\"data-root\": \"/d\""), std::string::npos) << merged;
  EXPECT_NE(merged.find("\"tcp://0.0.0.0:2376\""), std::string::npos) << merged;
  EXPECT_NE(merged.find("\"tlsverify\": true"), std::string::npos) << merged;
  EXPECT_EQ(shell_.restarts, 1);
  EXPECT_NE(std::find(shell_.log.begin(), shell_.log.end(), "service docker restart"), shell_.log.end());
  EXPECT_EQ(shell_.files.count("/etc/systemd/system/docker.service.d/berth.conf"), 0u);  // SysV: no drop-in
  ASSERT_EQ(progress_.size(), 8u);
  EXPECT_EQ(progress_[0], "[1/7] probe the host");
  EXPECT_EQ(progress_[1], "      node-1 runs its engine with a SysV init script");
  EXPECT_EQ(progress_[6], "[6/7] restart the engine (service docker restart)");
  EXPECT_EQ(progress_[7], "[7/7] verify TLS with berth's client certificate at tcp://10.0.0.2:2376");
}

TEST_F(ProvisionTest, OnSystemdWritesTheDropInThatDropsHostFlags) {
  shell_.probeOutput = "systemd-booted=yes\nsystemctl=yes\ninit-script=yes\nservice=yes\ndockerd=yes\n";
  shell_.unitText = "[Service]\nExecStart=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS\n";
  auto r = provision();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->facts.initSystem, InitSystem::Systemd);
  EXPECT_EQ(shell_.files["/etc/systemd/system/docker.service.d/berth.conf"].content,
            systemdDropIn("/usr/sbin/dockerd $DOCKER_OPTS"));
  EXPECT_NE(std::find(shell_.log.begin(), shell_.log.end(),
                      "systemctl daemon-reload && systemctl restart docker.service"),
            shell_.log.end());
}

TEST_F(ProvisionTest, ConflictingDockerOptsStopBeforeAnythingChanges) {
  shell_.files["/etc/default/docker"] = {"DOCKER_OPTS=\"-H tcp://0.0.0.0:2375\"\n", "644"};
  auto r = provision();
  ASSERT_FALSE(r);
  EXPECT_EQ(
      r.error().message(),
      "provision host web-1 (root@10.0.0.2:22): step 1 (probe the host) failed: DOCKER_OPTS in "
      "/etc/default/docker sets -H tcp://0.0.0.0:2375, which conflicts with the listeners and TLS settings "
      "berth writes to /etc/docker/daemon.json; remove those flags and run again");
  expectOriginalConfiguration();
  EXPECT_EQ(shell_.restarts, 0);
}

TEST_F(ProvisionTest, AFailedRestartRestoresTheConfigurationAndRestartsTheEngineAsItWas) {
  shell_.failRestart = 1;
  auto r = provision();
  ASSERT_FALSE(r);
  EXPECT_EQ(
      r.error().message(),
      "provision host web-1 (root@10.0.0.2:22): step 6 (restart the engine) failed: restart the engine: "
      "`service docker restart` exited with 1: dockerd exited during start-up; the previous engine "
      "configuration was restored and the engine restarted");
  expectOriginalConfiguration();
  EXPECT_EQ(shell_.restarts, 2);
  EXPECT_EQ(verifies_, 0);
}

TEST_F(ProvisionTest, AVerificationThatNeverSucceedsRestoresToo) {
  verifyError_ =
      Error(ErrorCode::PermissionDenied, "TLS handshake with 10.0.0.2:2376 failed: bad certificate");
  auto r = provision();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::PermissionDenied);
  EXPECT_TRUE(
      startsWith(r.error().message(),
                 "provision host web-1 (root@10.0.0.2:22): step 7 (verify TLS) failed: TLS handshake"));
  EXPECT_EQ(verifies_, 1);  // a TLS refusal is not retried
  expectOriginalConfiguration();
  EXPECT_EQ(shell_.restarts, 2);
}

TEST_F(ProvisionTest, AnEngineSlowToComeUpIsRetriedUntilTheDeadline) {
  verifyError_ = Error(ErrorCode::Unavailable, "connection refused by 10.0.0.2:2376");
  auto r = provision();
  ASSERT_FALSE(r);
  EXPECT_GT(verifies_, 1);
  expectOriginalConfiguration();
}

TEST_F(ProvisionTest, EveryStepThatChangesTheHostIsUndone) {
  for (const ProvisionStep step :
       {ProvisionStep::Install, ProvisionStep::Configure, ProvisionStep::Restart, ProvisionStep::Verify}) {
    SCOPED_TRACE(std::string(provisionStepName(step)));
    SetUp();
    shell_.restarts = 0;
    auto r = provision(step);
    ASSERT_FALSE(r);
    EXPECT_NE(
        r.error().message().find("(" + std::string(provisionStepName(step)) + ") failed: failure injected"),
        std::string::npos)
        << r.error().message();
    EXPECT_TRUE(endsWith(r.error().message(),
                         "the previous engine configuration was restored and the engine restarted"));
    expectOriginalConfiguration();
  }
  // Failures before anything changed restore nothing and restart nothing.
  for (const ProvisionStep step : {ProvisionStep::Probe, ProvisionStep::Issue, ProvisionStep::Backup}) {
    SetUp();
    shell_.restarts = 0;
    ASSERT_FALSE(provision(step));
    EXPECT_EQ(shell_.restarts, 0);
    expectOriginalConfiguration();
  }
}

TEST_F(ProvisionTest, AFailedWriteOfDaemonJsonRestoresTheCertificates) {
  shell_.failWrite = "/etc/docker/daemon.json";
  auto r = provision();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("step 5 (configure the engine) failed: write /etc/docker/daemon.json: "),
            std::string::npos)
      << r.error().message();
  EXPECT_TRUE(endsWith(r.error().message(),
                       "the previous engine configuration was restored and the engine restarted"));
  expectOriginalConfiguration();
}

TEST_F(ProvisionTest, ARestoreThatFailsSaysSoAndRestoresWhatItCan) {
  shell_.failEveryRestart = true;  // the engine does not come back, not even with the old configuration
  auto r = provision();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("step 6 (restart the engine) failed: "), std::string::npos);
  EXPECT_NE(
      r.error().message().find("; restoring the previous configuration ALSO failed: restart the engine: "),
      std::string::npos)
      << r.error().message();
  EXPECT_TRUE(endsWith(r.error().message(), " — check the host's /etc/docker by hand"));
  expectOriginalConfiguration();  // the files are back all the same
}

TEST_F(ProvisionTest, AnUnknownInitSystemIsAnError) {
  shell_.probeOutput = "systemd-booted=no\nsystemctl=no\ninit-script=no\nservice=no\ndockerd=yes\n";
  auto r = provision();
  ASSERT_FALSE(r);
  EXPECT_NE(
      r.error().message().find("step 1 (probe the host) failed: cannot tell how the host runs its engine"),
      std::string::npos);
}

TEST(HostStateTest, ErrorsMapToStates) {
  EXPECT_EQ(stateOf(Error(ErrorCode::Unavailable,
                          "connection refused by 10.0.0.2:2376 (is the engine listening "
                          "there?)")),
            HostState::Stopped);
  EXPECT_EQ(stateOf(Error(ErrorCode::Unavailable, "no route to 10.0.0.2:2376")), HostState::Unreachable);
  EXPECT_EQ(stateOf(Error(ErrorCode::DeadlineExceeded, "timed out connecting to 10.0.0.2:2376")),
            HostState::Unreachable);
  EXPECT_EQ(stateOf(Error(ErrorCode::DeadlineExceeded,
                          "engine tcp://10.0.0.2:2376: info: timed out waiting for "
                          "10.0.0.2:2376")),
            HostState::Timeout);
  EXPECT_EQ(stateOf(Error(ErrorCode::PermissionDenied, "TLS handshake failed")), HostState::TlsError);
  EXPECT_EQ(stateOf(Error(ErrorCode::Internal, "500")), HostState::Error);
  EXPECT_EQ(hostStateName(HostState::TlsError), "TLS error");
  EXPECT_EQ(hostStateName(HostState::Running), "running");
}

}  // namespace
}  // namespace berth::hosts
