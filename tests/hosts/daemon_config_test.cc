#include "hosts/daemon_config.h"

#include <gtest/gtest.h>

namespace berth::hosts {
namespace {

const TlsListenConfig kTls = defaultTlsListenConfig(2376);

TEST(MergeDaemonJsonTest, EmptyOrMissingGetsTheDefaultSocketAndTls) {
  for (const char* existing : {"", "  \n", "{}"}) {
    auto merged = mergeDaemonJson(existing, kTls);
    ASSERT_TRUE(merged) << merged.error().message();
    EXPECT_EQ(*merged,
              "{\n"
              "  \"hosts\": [\n"
              "    \"unix:///var/run/docker.sock\",\n"
              "    \"tcp://0.0.0.0:2376\"\n"
              "  ],\n"
              "  \"tlsverify\": true,\n"
              "  \"tlscacert\": \"/etc/docker/berth/ca.pem\",\n"
              "  \"tlscert\": \"/etc/docker/berth/cert.pem\",\n"
              "  \"tlskey\": \"/etc/docker/berth/key.pem\"\n"
              "}\n");
  }
}

TEST(MergeDaemonJsonTest, KeepsEverythingElseInOrderAndTheListenersItHad) {
  auto merged = mergeDaemonJson(
      R"({"hosts": ["unix:///var/run/docker.sock", "unix:///tmp/x.sock"], "data-root": "/data",)"
      R"( "log-opts": {"max-size": "10m"}, "cgroup-parent": "/c"})",
      kTls);
  ASSERT_TRUE(merged) << merged.error().message();
  EXPECT_EQ(*merged,
            "{\n"
            "  \"hosts\": [\n"
            "    \"unix:///var/run/docker.sock\",\n"
            "    \"unix:///tmp/x.sock\",\n"
            "    \"tcp://0.0.0.0:2376\"\n"
            "  ],\n"
            "  \"data-root\": \"/data\",\n"
            "  \"log-opts\": {\n"
            "    \"max-size\": \"10m\"\n"
            "  },\n"
            "  \"cgroup-parent\": \"/c\",\n"
            "  \"tlsverify\": true,\n"
            "  \"tlscacert\": \"/etc/docker/berth/ca.pem\",\n"
            "  \"tlscert\": \"/etc/docker/berth/cert.pem\",\n"
            "  \"tlskey\": \"/etc/docker/berth/key.pem\"\n"
            "}\n");
}

TEST(MergeDaemonJsonTest, ReplacesAListenerOnTheSamePortAndTlsSettings) {
  auto merged = mergeDaemonJson(
      R"({"hosts": "tcp://10.0.0.2:2376", "tls": false, "tlsverify": false, "tlscacert": "/old/ca.pem"})",
      defaultTlsListenConfig(2376));
  ASSERT_TRUE(merged);
  EXPECT_EQ(*merged,
            "{\n"
            "  \"hosts\": [\n"
            "    \"tcp://0.0.0.0:2376\"\n"
            "  ],\n"
            "  \"tlsverify\": true,\n"
            "  \"tlscacert\": \"/etc/docker/berth/ca.pem\",\n"
            "  \"tlscert\": \"/etc/docker/berth/cert.pem\",\n"
            "  \"tlskey\": \"/etc/docker/berth/key.pem\"\n"
            "}\n");
  // Another port is another listener: kept.
  auto other = mergeDaemonJson(R"({"hosts": ["tcp://127.0.0.1:2375"]})", defaultTlsListenConfig(2376));
  ASSERT_TRUE(other);
  EXPECT_NE(other->find("\"tcp://127.0.0.1:2375\",\n    \"tcp://0.0.0.0:2376\""), std::string::npos)
      << *other;
}

TEST(MergeDaemonJsonTest, IsIdempotent) {
  auto once = mergeDaemonJson(R"({"data-root": "/d"})", kTls);
  ASSERT_TRUE(once);
  auto twice = mergeDaemonJson(*once, kTls);
  ASSERT_TRUE(twice);
  EXPECT_EQ(*once, *twice);
}

TEST(MergeDaemonJsonTest, RefusesWhatItCannotMergeSafely) {
  EXPECT_EQ(mergeDaemonJson("{\"hosts\": [", kTls).error().message(),
            "daemon.json is not valid JSON; berth does not rewrite it");
  EXPECT_EQ(mergeDaemonJson("[1]", kTls).error().message(), "daemon.json does not hold a JSON object");
  EXPECT_EQ(mergeDaemonJson(R"({"hosts": [1]})", kTls).error().message(),
            "daemon.json: \"hosts\" must be an array of strings");
  EXPECT_EQ(mergeDaemonJson(R"({"hosts": {}})", kTls).error().code(), ErrorCode::InvalidArgument);
}

TEST(DaemonFlagsTest, FindsHostAndTlsFlagsInDockerOpts) {
  EXPECT_EQ(conflictingDaemonFlags(""), std::vector<std::string>{});
  EXPECT_EQ(conflictingDaemonFlags("--dns 8.8.8.8 --log-level=warn"), std::vector<std::string>{});
  EXPECT_EQ(conflictingDaemonFlags("-H tcp://0.0.0.0:2375 --host=unix:///x -Hfd:// --tlsverify --tlscert=/c"),
            (std::vector<std::string>{"-H tcp://0.0.0.0:2375", "--host=unix:///x", "-Hfd://", "--tlsverify",
                                      "--tlscert=/c"}));
}

TEST(DaemonFlagsTest, ReadsDockerOptsFromTheDefaultsFile) {
  EXPECT_EQ(dockerOptsOf("# comment\nDOCKER_OPTS=\"\"\nDOCKER_LOGFILE=/x\n"), "");
  EXPECT_EQ(dockerOptsOf("DOCKER_OPTS=\"--dns 8.8.8.8\"\n#DOCKER_OPTS=\"-H x\"\n"), "--dns 8.8.8.8");
  EXPECT_EQ(dockerOptsOf("export DOCKER_OPTS='-H fd://'\n"), "-H fd://");
  EXPECT_EQ(dockerOptsOf("DOCKER_OPTS=a\nDOCKER_OPTS=b\n"), "b");
}

TEST(SystemdTest, ExecStartWithoutHostFlagsAndTheDropIn) {
  const std::string unit =
      "# /lib/systemd/system/docker.service\n[Service]\nType=notify\n"
      "ExecStart=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS\nExecReload=/bin/kill -s HUP $MAINPID\n";
  EXPECT_EQ(execStartOf(unit), "/usr/sbin/dockerd -H fd:// $DOCKER_OPTS");
  EXPECT_EQ(withoutHostFlags("/usr/sbin/dockerd -H fd:// $DOCKER_OPTS"), "/usr/sbin/dockerd $DOCKER_OPTS");
  EXPECT_EQ(withoutHostFlags("/usr/bin/dockerd --host=fd:// --containerd=/run/containerd/containerd.sock"),
            "/usr/bin/dockerd --containerd=/run/containerd/containerd.sock");
  // A drop-in that resets ExecStart wins over the unit's.
  EXPECT_EQ(execStartOf(unit + "# /etc/systemd/system/docker.service.d/berth.conf\n[Service]\nExecStart=\n"
                               "ExecStart=/usr/sbin/dockerd $DOCKER_OPTS\n"),
            "/usr/sbin/dockerd $DOCKER_OPTS");
  EXPECT_EQ(execStartOf("[Service]\nExecStart=/usr/bin/dockerd \\\n  -H fd:// \\\n  --debug\n"),
            "/usr/bin/dockerd  -H fd://  --debug");
  EXPECT_EQ(execStartOf("[Service]\nType=notify\n"), std::nullopt);
  EXPECT_EQ(
      systemdDropIn("/usr/bin/dockerd"),
      "# Written by berth (berth host add --provision): the engine's listeners and TLS settings are in\n"
      "# /etc/docker/daemon.json, which dockerd refuses if a -H flag also sets them.\n"
      "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd\n");
}

}  // namespace
}  // namespace berth::hosts
