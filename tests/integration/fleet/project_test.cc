// A project on a provisioned host, over mutual TLS: `berth -H NAME up -d`, `ps`, `down` work exactly
// as against the local engine, and what runs is on that host (its published port answers at the
// host's address).
#include <gtest/gtest.h>

#include "fleet_fixture.h"
#include "harness/names.h"

namespace berth::testing::fleet {
namespace {

constexpr const char* kCompose = R"(
services:
  web:
    image: busybox
    command: [sh, -c, "mkdir -p /www && echo hello from $$(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: ["18080:8080"]
    stop_grace_period: 1s
  worker:
    image: busybox
    command: [sleep, "600"]
    stop_grace_period: 1s
)";

TEST(FleetProjectTest, UpPsDownOnAProvisionedHostOverTls) {
  auto started = TestHost::start(HostOptions{.hostname = "app-node", .ssh = true});  // with busybox
  ASSERT_TRUE(started) << started.error().message();
  TestHost& host = **started;
  Berth berth;
  const CommandResult add = berth.run(concat({"host", "add", "app", "--provision"}, sshArgs(host)));
  ASSERT_EQ(add.exitCode, 0) << add.describe();

  TempDir dir;
  dir.write("compose.yaml", kCompose);
  const std::string project = uniqueName("fleet");
  const auto inProject = [&](std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), {"-p", project, "-f", (dir / "compose.yaml").string()});
    return berth.run(args, std::move(env));
  };

  const CommandResult up = inProject({"-H", "app", "up", "-d"});
  ASSERT_EQ(up.exitCode, 0) << up.describe();
  // It runs on that host: its port answers at the host's address.
  std::string page;
  EXPECT_TRUE(waitUntil(
      [&] {
        auto r = runCommand(
            {"curl", "-sS", "--noproxy", "*", "--max-time", "2", "http://" + host.address() + ":18080/"},
            {.timeout = 10s});
        page = r ? r->out : "";
        return r && r->exitCode == 0;
      },
      20s))
      << page;
  EXPECT_TRUE(startsWith(page, "hello from ")) << page;

  const CommandResult ps = inProject({"-H", "app", "ps"});
  ASSERT_EQ(ps.exitCode, 0) << ps.describe();
  EXPECT_NE(ps.out.find(project + "-web-1"), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find(project + "-worker-1"), std::string::npos) << ps.out;
  // BERTH_HOST is the same as -H, and the same as talking to that engine directly on its own
  // socket: the same containers (by ID: the table's "CREATED" column moves on between two calls).
  const CommandResult ids = inProject({"-H", "app", "ps", "-q"});
  ASSERT_EQ(ids.exitCode, 0) << ids.describe();
  EXPECT_EQ(split(std::string(trim(ids.out)), '\n').size(), 2u) << ids.out;
  const CommandResult psEnv = inProject({"ps", "-q"}, {"BERTH_HOST=app"});
  EXPECT_EQ(psEnv.exitCode, 0) << psEnv.describe();
  EXPECT_EQ(psEnv.out, ids.out);
  const CommandResult psLocal = inProject({"-H", host.unixSocketUrl(), "ps", "-q"});
  EXPECT_EQ(psLocal.out, ids.out);

  const CommandResult ls = berth.run({"host", "ls"});
  EXPECT_NE(ls.out.find("2 (2 running)"), std::string::npos) << ls.out;

  const CommandResult down = inProject({"-H", "app", "down"});
  ASSERT_EQ(down.exitCode, 0) << down.describe();
  const CommandResult after = inProject({"-H", host.unixSocketUrl(), "ps", "-a", "-q"});
  EXPECT_EQ(after.exitCode, 0) << after.describe();
  EXPECT_EQ(after.out, "");
}

}  // namespace
}  // namespace berth::testing::fleet
