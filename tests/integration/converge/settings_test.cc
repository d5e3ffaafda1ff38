// Everything in a service that one engine can honour is applied: checked on the container the
// engine made (inspect) and from inside it.
#include "integration/converge/converge_fixture.h"

namespace berth::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

TEST_F(ConvergeTest, ServiceSettingsAreApplied) {
  dir_.write("app.env", "FROM_FILE=file value\nOVERRIDDEN=from file\n");
  dir_.write("token.txt", "s3cret token\n");
  compose(R"(
services:
  s:
    image: busybox
    command: [sleep, "600"]
    stop_signal: SIGKILL
    user: "1234:1234"
    working_dir: /tmp
    hostname: settings-host
    tmpfs: ["/scratch:size=1m"]
    volumes:
      - {type: tmpfs, target: /fast, tmpfs: {size: 2097152}}
    healthcheck: {test: [CMD, "true"], interval: 2s, timeout: 1s, retries: 3, start_period: 1s}
    restart: on-failure:2
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 50
    cap_add: [NET_ADMIN]
    cap_drop: [CHOWN]
    env_file: [app.env]
    environment: {OVERRIDDEN: from environment}
    init: true
    logging: {driver: json-file, options: {max-size: 1m, max-file: "2"}}
    extra_hosts: ["db.example:10.1.2.3"]
    sysctls: {net.core.somaxconn: "1024"}
    ulimits: {nofile: {soft: 1000, hard: 2000}}
    labels: {team: blue}
    stop_grace_period: 3s
    dns: [10.9.9.9]
    shm_size: 8m
    security_opt: [no-new-privileges:true]
    configs: [{source: greeting, target: /etc/greeting}]
    secrets: [token]
configs:
  greeting: {content: "hello config"}
secrets:
  token: {file: ./token.txt}
)");
  auto r = berth({"up", "-d"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  const auto c = inspect(name("s"));
  const auto& h = c.hostConfig;
  EXPECT_EQ(shell("s", "id -u; id -g; pwd; hostname"), "1234\n1234\n/tmp\nsettings-host\n");
  const std::string mounts = shell("s", "grep -E ' /(scratch|fast) ' /proc/mounts");
  EXPECT_THAT(mounts, HasSubstr("tmpfs /scratch tmpfs"));
  EXPECT_THAT(mounts, HasSubstr("size=1024k"));
  EXPECT_THAT(mounts, HasSubstr("tmpfs /fast tmpfs"));
  ASSERT_TRUE(c.config.healthcheck);
  EXPECT_EQ(c.config.healthcheck->test, (std::vector<std::string>{"CMD", "true"}));
  EXPECT_EQ(c.config.healthcheck->interval, std::chrono::seconds(2));
  EXPECT_EQ(c.config.healthcheck->retries, 3);
  EXPECT_EQ(h.restartPolicy.name, engine::RestartPolicyName::OnFailure);
  EXPECT_EQ(h.restartPolicy.maximumRetryCount, 2);
  EXPECT_EQ(h.resources.memory, 64 * 1024 * 1024);
  EXPECT_EQ(
      shell("s",
            "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes"),
      "67108864\n");
  EXPECT_EQ(h.resources.nanoCpus, 500000000);
  EXPECT_EQ(h.resources.pidsLimit, 50);
  EXPECT_THAT(h.capAdd, Contains("NET_ADMIN"));
  EXPECT_THAT(h.capDrop, Contains("CHOWN"));
  EXPECT_THAT(c.config.env, Contains("FROM_FILE=file value"));
  EXPECT_THAT(c.config.env, Contains("OVERRIDDEN=from environment"));
  EXPECT_EQ(h.init, true);
  EXPECT_THAT(shell("s", "cat /proc/1/cmdline | tr '\\0' ' '"), HasSubstr("docker-init"));
  EXPECT_EQ(h.logConfig.type, "json-file");
  EXPECT_EQ(h.logConfig.config.at("max-size"), "1m");
  EXPECT_THAT(shell("s", "cat /etc/hosts"), HasSubstr("10.1.2.3\tdb.example"));
  EXPECT_EQ(shell("s", "cat /proc/sys/net/core/somaxconn"), "1024\n");
  // The container's own process (exec'd processes get their limits from the runtime, not from it).
  EXPECT_THAT(shell("s", "grep 'open files' /proc/1/limits"),
              ::testing::ContainsRegex("Max open files +1000 +2000 +files"));
  EXPECT_EQ(c.config.labels.at("team"), "blue");
  EXPECT_EQ(c.config.stopTimeout, 3);
  EXPECT_THAT(h.dns, Contains("10.9.9.9"));
  EXPECT_EQ(h.shmSize, 8 * 1024 * 1024);
  EXPECT_THAT(h.securityOpt, Contains("no-new-privileges:true"));
  EXPECT_EQ(shell("s", "cat /etc/greeting"), "hello config");
  EXPECT_EQ(shell("s", "cat /run/secrets/token"), "s3cret token\n");
}

TEST_F(ConvergeTest, RestartPoliciesAreHonoured) {
  compose(R"(
services:
  crasher: {image: busybox, command: [sh, -c, "exit 1"], restart: "on-failure:2"}
  always: {image: busybox, command: [sh, -c, "sleep 0.2"], restart: always}
  never: {image: busybox, command: [sh, -c, "exit 1"], restart: "no"}
)");
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  EXPECT_TRUE(waitUntil(
      [&] {
        const auto c = inspect(name("crasher"));
        return c.restartCount == 2 && !c.state.running && !c.state.restarting;
      },
      std::chrono::seconds(20)));
  EXPECT_TRUE(waitUntil([&] { return inspect(name("always")).restartCount >= 2; }, std::chrono::seconds(20)));
  EXPECT_EQ(inspect(name("never")).restartCount, 0);
}

TEST_F(ConvergeTest, ChangingASettingRecreatesAndTheNewValueIsApplied) {
  compose(
      "services: {s: {image: busybox, command: [sleep, '600'], stop_signal: SIGKILL, ulimits: {nofile: "
      "1000}}}\n");
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  EXPECT_EQ(shell("s", "ulimit -n"), "1000\n");
  compose(
      "services: {s: {image: busybox, command: [sleep, '600'], stop_signal: SIGKILL, ulimits: {nofile: "
      "1500}}}\n");
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  EXPECT_EQ(shell("s", "ulimit -n"), "1500\n");
}

}  // namespace
}  // namespace berth::testing
