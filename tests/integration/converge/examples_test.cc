// The promises of the three example stacks (examples/), built and run by berth on a private engine:
// the proxy balances round robin over three replicas and is the only one publishing; web can
// neither reach nor resolve db in the three-tier stack; the volume's data survives down/up and
// recreation until `down -v`.
#include <unistd.h>

#include <filesystem>
#include <set>

#include "integration/converge/converge_fixture.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ExamplesTest : public ConvergeTest {
 protected:
  static void SetUpTestSuite() {
    auto r = runCommand({std::string(BERTH_SOURCE_DIR) + "/examples/prepare"});
    ASSERT_TRUE(r && r->exitCode == 0) << (r ? r->describe() : r.error().message());
  }

  void SetUp() override {
    ConvergeTest::SetUp();
    keep_ = true;  // TearDown below takes the example down with its own file
  }

  void TearDown() override {
    if (!file_.empty()) (void)berth({"-f", file_, "down", "-v", "-t", "0"});
  }

  CommandResult example(const std::string& which, std::vector<std::string> args,
                        std::vector<std::string> env = {}) {
    file_ = std::string(BERTH_SOURCE_DIR) + "/examples/" + which + "/compose.yaml";
    args.insert(args.begin(), {"-f", file_});
    CommandOptions o;
    o.env = std::move(env);
    o.timeout = std::chrono::seconds(300);
    return berth(std::move(args), o);
  }

  std::string file_;
};

TEST_F(ExamplesTest, ProxyBalancesOverThreeAppsAndIsTheOnlyOnePublishing) {
  auto r = example("proxy", {"up", "-d", "--wait"}, {"PROXY_PORT=18300"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  const std::string url = "http://" + host_->address() + ":18300/";
  std::set<std::string> answers;
  for (int i = 0; i < 9; ++i) {
    const std::string body = httpGet(url).out;
    EXPECT_THAT(body, ::testing::StartsWith("hello from ")) << body;
    answers.insert(body);
  }
  EXPECT_EQ(answers.size(), 3u);  // round robin over the three replicas
  std::set<std::string> hostnames;
  for (int n = 1; n <= 3; ++n) {
    const auto app = inspect(name("app", n));
    hostnames.insert("hello from " + app.config.hostname + "\n");
    for (const auto& [port, bindings] : app.networkSettings.ports) {
      EXPECT_TRUE(bindings.empty()) << name("app", n) << " publishes " << port;
    }
    EXPECT_TRUE(app.hostConfig.portBindings.empty());
    ASSERT_TRUE(app.state.health);
    EXPECT_EQ(app.state.health->status, engine::HealthStatus::Healthy);
  }
  EXPECT_EQ(answers, hostnames);
  EXPECT_FALSE(inspect(name("proxy")).networkSettings.ports.at("80/tcp").empty());
  // The proxy started only once every app was healthy.
  const auto proxyStart = inspect(name("proxy")).state.startedAt;
  for (int n = 1; n <= 3; ++n) {
    const auto health = inspect(name("app", n)).state.health;
    ASSERT_TRUE(health && !health->log.empty());
    std::string firstHealthy;
    for (const auto& entry : health->log) {
      if (entry.exitCode == 0) {
        firstHealthy = entry.end;
        break;
      }
    }
    EXPECT_LT(firstHealthy, proxyStart) << name("app", n);
  }
}

TEST_F(ExamplesTest, ThreeTierWebCanNeitherReachNorResolveDb) {
  auto r = example("three-tier", {"up", "-d", "--wait"}, {"WEB_PORT=18301"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  const std::string url = "http://" + host_->address() + ":18301/cgi-bin/page";
  CommandResult page;
  EXPECT_TRUE(waitUntil(
      [&] {
        page = httpGet(url);
        return page.out.find("db: 3 rows") != std::string::npos;
      },
      std::chrono::seconds(15)))
      << page.describe();
  EXPECT_THAT(page.out, HasSubstr("web: asking app\napp: querying db\ndb: 3 rows (alice, bob, carol)"));

  auto resolve = berth({"-f", file_, "exec", "-T", "web", "wget", "-q", "-O", "-", "http://db:5432/rows"});
  EXPECT_NE(resolve.exitCode, 0);
  EXPECT_THAT(resolve.err, HasSubstr("bad address 'db:5432'"));
  const auto db = inspect(name("db"));
  const std::string dbAddress = db.networkSettings.networks.at(project_ + "_app-db").ipAddress;
  ASSERT_FALSE(dbAddress.empty());
  auto reach = berth({"-f", file_, "exec", "-T", "web", "timeout", "3", "wget", "-q", "-O", "-",
                      "http://" + dbAddress + ":5432/rows"});
  EXPECT_NE(reach.exitCode, 0);
  EXPECT_EQ(reach.out, "");
  auto fromApp = berth({"-f", file_, "exec", "-T", "app", "wget", "-q", "-O", "-", "http://db:5432/rows"});
  EXPECT_EQ(fromApp.out, "db: 3 rows (alice, bob, carol)\n");
  auto net = engine_->inspectNetwork(project_ + "_app-db");
  ASSERT_TRUE(net);
  EXPECT_TRUE(net->internal);
  auto out = berth({"-f", file_, "exec", "-T", "db", "sh", "-c",
                    "ping -c 1 -W 1 " + host_->gatewayAddress() + " >/dev/null 2>&1; echo $?"});
  EXPECT_EQ(out.out, "1\n");  // no way out of the internal network
}

TEST_F(ExamplesTest, VolumeDataSurvivesRecreationAndDownUntilDownV) {
  const std::vector<std::string> env = {"COUNTER_PORT=18302"};
  const std::string url = "http://" + host_->address() + ":18302/count";
  const auto count = [&](const std::string& expected) {
    CommandResult last;
    const bool ok = waitUntil(
        [&] {
          last = httpGet(url);
          return last.out == expected + "\n";
        },
        std::chrono::seconds(10));
    EXPECT_TRUE(ok) << "expected " << expected << ", got " << last.out;
  };
  ASSERT_EQ(example("volume", {"up", "-d", "--wait"}, env).exitCode, 0);
  count("1");
  ASSERT_EQ(example("volume", {"up", "-d", "--wait", "--force-recreate", "-t", "0"}, env).exitCode, 0);
  count("2");
  ASSERT_EQ(example("volume", {"down", "-t", "0"}, env).exitCode, 0);
  EXPECT_TRUE(engine_->inspectVolume(project_ + "_data"));
  ASSERT_EQ(example("volume", {"up", "-d", "--wait"}, env).exitCode, 0);
  count("3");
  EXPECT_THAT(berth({"-f", file_, "logs", "--no-log-prefix"}, {.env = env}).out,
              HasSubstr("hello: started 3 times"));
  ASSERT_EQ(example("volume", {"down", "-v", "-t", "0"}, env).exitCode, 0);
  EXPECT_FALSE(engine_->inspectVolume(project_ + "_data"));
  ASSERT_EQ(example("volume", {"up", "-d", "--wait"}, env).exitCode, 0);
  count("1");
}

// Example (4): OpenSSH on both ends, trust minted and pinned by berth.
TEST_F(ExamplesTest, SshTrustCallerReachesItsTargetsWithoutPromptsOrPasswords) {
  // Container names are DNS names here (ssh caller -> PROJECT-target-2): they must fit a DNS label.
  project_ = "sshtrust-" + std::to_string(::getpid());
  ASSERT_EQ(example("ssh-trust", {"up", "-d"}).exitCode, 0);
  // `berth exec caller ssh TARGET whoami`, retried until sshd listens (it starts with the container).
  const auto sshFromCaller = [&](const std::string& target, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"-f", file_, "exec", "-T", "caller", "ssh", "-o", "ConnectTimeout=5"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(target);
    args.push_back("whoami");
    CommandResult r;
    waitUntil(
        [&] {
          r = berth(args);
          return r.exitCode == 0 || r.err.find("Connection refused") == std::string::npos;
        },
        std::chrono::seconds(20));
    return r;
  };
  for (const std::string& target : {std::string("target"), name("target", 1), name("target", 2)}) {
    auto r = sshFromCaller(target);
    EXPECT_EQ(r.exitCode, 0) << target << ": " << r.describe();
    EXPECT_EQ(r.out, "app\n") << target;
    EXPECT_THAT(r.err, Not(HasSubstr("Warning"))) << target;  // no "Permanently added": it was pinned
  }
  // The private key is the caller user's own and private; sshd on the targets takes no password,
  // even for an account that has one.
  auto mode = berth({"-f", file_, "exec", "-T", "caller", "stat", "-c", "%a %u", "/root/.ssh/id_ed25519"});
  EXPECT_EQ(mode.out, "600 0\n") << mode.describe();
  auto withPassword = berth({"-f", file_, "exec", "-T", "--index", "1", "target", "sh", "-c",
                             "sed -i \"s|^app:[^:]*:|app:$(mkpasswd -m sha512 secret):|\" /etc/shadow"});
  ASSERT_EQ(withPassword.exitCode, 0) << withPassword.describe();
  auto password = sshFromCaller(name("target", 1), {"-o", "PubkeyAuthentication=no", "-o",
                                                    "PasswordAuthentication=yes", "-o", "BatchMode=yes"});
  EXPECT_EQ(password.exitCode, 255) << password.describe();
  EXPECT_THAT(password.err, HasSubstr("Permission denied (publickey)"));

  // A host key replaced by hand (another sshd answering as target-2) is refused by the caller.
  auto newKey = berth({"-f", file_, "exec", "-T", "caller", "sh", "-c",
                       "rm -f /tmp/k /tmp/k.pub && ssh-keygen -q -t ed25519 -N '' -f /tmp/k && cat /tmp/k"});
  ASSERT_EQ(newKey.exitCode, 0) << newKey.describe();
  CommandOptions withKey;
  withKey.stdinData = newKey.out;
  auto replace = berth({"-f", file_, "exec", "-T", "--index", "2", "target", "sh", "-c",
                        "cat > /etc/ssh/ssh_host_ed25519_key && kill -HUP 1"},
                       withKey);
  ASSERT_EQ(replace.exitCode, 0) << replace.describe();
  CommandResult spoofed;
  EXPECT_TRUE(waitUntil(
      [&] {
        spoofed = sshFromCaller(name("target", 2));
        return spoofed.err.find("Host key verification failed") != std::string::npos;
      },
      std::chrono::seconds(20)))
      << spoofed.describe();
  EXPECT_EQ(spoofed.exitCode, 255);
  EXPECT_THAT(spoofed.out, Not(HasSubstr("app")));

  // Rotation: new keys everywhere (target-2 gets its pinned key back), the old caller key refused.
  auto oldKey = berth({"-f", file_, "exec", "-T", "caller", "cat", "/root/.ssh/id_ed25519"});
  ASSERT_EQ(oldKey.exitCode, 0);
  auto rotate = berth({"-f", file_, "ssh", "rotate"});
  ASSERT_EQ(rotate.exitCode, 0) << rotate.describe();
  EXPECT_THAT(rotate.out, HasSubstr("1 calling service, 2 target containers restarted"));
  auto newCallerKey = berth({"-f", file_, "exec", "-T", "caller", "cat", "/root/.ssh/id_ed25519"});
  EXPECT_NE(newCallerKey.out, oldKey.out);
  for (const std::string& target : {name("target", 1), name("target", 2)}) {
    auto r = sshFromCaller(target);
    EXPECT_EQ(r.out, "app\n") << target << ": " << r.describe();
  }
  CommandOptions oldKeyIn;
  oldKeyIn.stdinData = oldKey.out;
  ASSERT_EQ(berth({"-f", file_, "exec", "-T", "caller", "sh", "-c", "cat > /tmp/old && chmod 600 /tmp/old"},
                  oldKeyIn)
                .exitCode,
            0);
  auto old = sshFromCaller("target", {"-i", "/tmp/old", "-o", "IdentitiesOnly=yes", "-F", "/dev/null", "-o",
                                      "User=app", "-o", "BatchMode=yes"});
  EXPECT_EQ(old.exitCode, 255) << old.describe();
  EXPECT_THAT(old.err, HasSubstr("Permission denied (publickey)"));

  // A third replica is trusted at once, and recreation keeps the keys.
  ASSERT_EQ(example("ssh-trust", {"up", "-d", "--scale", "target=3"}).exitCode, 0);
  EXPECT_EQ(sshFromCaller(name("target", 3)).out, "app\n");
  ASSERT_EQ(example("ssh-trust", {"up", "-d", "--force-recreate"}).exitCode, 0);
  EXPECT_EQ(berth({"-f", file_, "exec", "-T", "caller", "cat", "/root/.ssh/id_ed25519"}).out, newCallerKey.out);
  EXPECT_EQ(sshFromCaller(name("target", 2)).out, "app\n");
}

TEST_F(ExamplesTest, TheExamplesAreIdempotent) {
  for (const char* which : {"proxy", "three-tier", "volume", "ssh-trust"}) {
    const std::vector<std::string> env = {"PROXY_PORT=18303", "WEB_PORT=18304", "COUNTER_PORT=18305"};
    ASSERT_EQ(example(which, {"up", "-d", "--wait"}, env).exitCode, 0) << which;
    auto again = example(which, {"up", "-d"}, env);
    EXPECT_EQ(again.exitCode, 0);
    EXPECT_EQ(again.err, "") << which;
    ASSERT_EQ(example(which, {"down", "-v", "-t", "0"}, env).exitCode, 0);
  }
}

}  // namespace
}  // namespace berth::testing
