// The SSH host key is checked before berth sends anything: against known_hosts, or a key given with
// --ssh-host-key; an unknown key needs --accept-unknown-host-key and is then pinned.
#include <gtest/gtest.h>

#include "fleet_fixture.h"

namespace berth::testing::fleet {
namespace {

class SshTrustTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (TestHost** h : {&host_, &other_}) {
      auto started = TestHost::start(HostOptions{.loadBusybox = false, .ssh = true});
      ASSERT_TRUE(started) << started.error().message();
      *h = started->release();
    }
  }
  static void TearDownTestSuite() {
    delete host_;
    delete other_;
  }
  std::vector<std::string> base(const std::string& name) const {
    return {"host",
            "add",
            name,
            "--ssh",
            "root@" + host_->address(),
            "--identity",
            host_->sshIdentity().string()};
  }
  // The daemon.json the host had: provisioning must not have touched it when SSH was refused.
  static void expectUntouched() {
    const std::string daemonJson = hostFile(*host_, "/etc/docker/daemon.json");
    EXPECT_EQ(daemonJson.find("tlsverify"), std::string::npos) << daemonJson;
  }

  static TestHost* host_;
  static TestHost* other_;
  Berth berth_;
  TempDir tmp_;
};
TestHost* SshTrustTest::host_ = nullptr;
TestHost* SshTrustTest::other_ = nullptr;

TEST_F(SshTrustTest, RefusesAHostKeyThatDoesNotMatchKnownHosts) {
  // known_hosts names another host's key for this address: a man in the middle, as far as berth knows.
  const fs::path known =
      tmp_.write("known_hosts", host_->address() + " " + other_->sshHostPublicKey() + "\n");
  const CommandResult r = berth_.run(concat(base("web"), {"--provision", "--known-hosts", known.string()}));
  EXPECT_EQ(r.exitCode, 1) << r.describe();
  EXPECT_TRUE(startsWith(r.err, "berth: host web: ssh root@" + host_->address() +
                                    ":22: host key mismatch: the host "
                                    "offered SHA256:"))
      << r.err;
  EXPECT_NE(r.err.find("which is not the key known_hosts (" + known.string() + ") names for it"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(berth_.hostsDir() / "web"));
  expectUntouched();
}

TEST_F(SshTrustTest, RefusesAHostKeyThatDoesNotMatchTheOneGiven) {
  const CommandResult r =
      berth_.run(concat(base("web"), {"--provision", "--ssh-host-key", other_->sshHostPublicKey()}));
  EXPECT_EQ(r.exitCode, 1) << r.describe();
  EXPECT_NE(r.err.find(": host key mismatch: the host offered SHA256:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("berth refuses to connect"), std::string::npos) << r.err;
  expectUntouched();
  // The right key, given as a file, is accepted.
  const fs::path keyFile =
      tmp_.write("host.pub", host_->sshHostPublicKey() + " root@" + host_->hostname() + "\n");
  const CommandResult ok = berth_.run(concat(base("web"), {"--ssh-host-key", keyFile.string()}));
  EXPECT_EQ(ok.exitCode, 0) << ok.describe();
}

TEST_F(SshTrustTest, AnUnknownHostNeedsExplicitAcceptanceAndIsThenPinned) {
  const fs::path empty = tmp_.write("known_hosts", "");
  const CommandResult refused = berth_.run(concat(base("web"), {"--known-hosts", empty.string()}));
  EXPECT_EQ(refused.exitCode, 1) << refused.describe();
  EXPECT_NE(refused.err.find(": the host is not in known_hosts (" + empty.string() + "); it offered SHA256:"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("give it with --ssh-host-key or accept it with --accept-unknown-host-key"),
            std::string::npos);

  const CommandResult accepted =
      berth_.run(concat(base("web"), {"--known-hosts", empty.string(), "--accept-unknown-host-key"}));
  ASSERT_EQ(accepted.exitCode, 0) << accepted.describe();
  EXPECT_EQ(*readFile(berth_.hostsDir() / "web" / "known_hosts"),
            host_->address() + " " + host_->sshHostPublicKey() + "\n");
  EXPECT_EQ(*readFile(empty), "");  // the user's known_hosts is not edited behind their back
  // The pinned key is what later connections check: the ssh:// engine transport here.
  EXPECT_EQ(berth_.run({"-H", "web", "engine", "info"}).exitCode, 0);
  ASSERT_TRUE(writeFileAtomic(berth_.hostsDir() / "web" / "known_hosts",
                              host_->address() + " " + other_->sshHostPublicKey() + "\n")
                  .has_value());
  const CommandResult changed = berth_.run({"-H", "web", "engine", "info"});
  EXPECT_EQ(changed.exitCode, 1) << changed.describe();
  // The same words as at `host add`: one set-up checks host keys for both (engine/transport/ssh_session).
  EXPECT_NE(changed.err.find(": host key mismatch: the host offered SHA256:"), std::string::npos)
      << changed.err;
  EXPECT_NE(changed.err.find("which is not the key known_hosts (" +
                             (berth_.hostsDir() / "web" / "known_hosts").string() + ") names for it"),
            std::string::npos)
      << changed.err;
}

}  // namespace
}  // namespace berth::testing::fleet
