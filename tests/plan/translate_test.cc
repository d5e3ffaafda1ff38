// plan::containerSpec and friends: what a compose service becomes on the engine.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plan/labels.h"
#include "plan/plan_test_util.h"
#include "spec/hash.h"

namespace berth::plan::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

ContainerSpec specOf(const spec::Project& p, const std::string& service, int number = 1,
                     const TranslateOptions& o = {.version = "0.1.0"}) {
  auto s = containerSpec(p, p.services.at(service), number, o);
  if (!s) {
    ADD_FAILURE() << s.error().message();
    return {};
  }
  return *s;
}

TEST(TranslateTest, NamesAndComposeLabels) {
  const auto p = loadOrDie(
      "services: {web: {image: busybox, labels: {team: a}, depends_on: [db]}, db: {image: busybox}}", "shop");
  const ContainerSpec s = specOf(p, "web", 2, {.version = "0.1.0", .imageId = "sha256:abc"});
  EXPECT_EQ(s.create.name, "shop-web-2");
  EXPECT_EQ(s.create.config.image, "busybox");
  const auto& l = s.create.config.labels;
  EXPECT_EQ(l.at("com.docker.compose.project"), "shop");
  EXPECT_EQ(l.at("com.docker.compose.service"), "web");
  EXPECT_EQ(l.at("com.docker.compose.container-number"), "2");
  EXPECT_EQ(l.at("com.docker.compose.oneoff"), "False");
  EXPECT_EQ(l.at("com.docker.compose.config-hash"), spec::serviceConfigHash(p, p.services.at("web")));
  EXPECT_EQ(l.at("com.docker.compose.project.working_dir"), p.workingDir);
  EXPECT_EQ(l.at("com.docker.compose.project.config_files"), p.composeFiles.at(0));
  EXPECT_EQ(l.at("com.docker.compose.depends_on"), "db:service_started:false");
  EXPECT_EQ(l.at("com.docker.compose.image"), "sha256:abc");
  EXPECT_EQ(l.at("com.docker.compose.version"), "0.1.0");
  EXPECT_EQ(l.at("team"), "a");
}

TEST(TranslateTest, EveryReplicaAnswersToTheServiceNameOnEachNetwork) {
  const auto p = loadOrDie(R"(
services:
  app:
    image: busybox
    networks:
      front: {aliases: [api]}
      back: {}
networks: {front: {}, back: {internal: true}}
)");
  const ContainerSpec s = specOf(p, "app", 3);
  EXPECT_EQ(s.create.hostConfig.networkMode, "p_back");
  ASSERT_EQ(s.create.networks.count("p_back"), 1u);
  EXPECT_THAT(s.create.networks.at("p_back").aliases, ElementsAre("p-app-3", "app"));
  ASSERT_EQ(s.connect.size(), 1u);
  EXPECT_EQ(s.connect[0].first, "p_front");
  EXPECT_THAT(s.connect[0].second.aliases, ElementsAre("p-app-3", "app", "api"));

  const auto n = networkSpec(p, "back", p.networks.at("back"), "0.1.0");
  EXPECT_EQ(n.name, "p_back");
  EXPECT_TRUE(n.internal);
  EXPECT_THAT(n.labels, UnorderedElementsAre(Pair("com.docker.compose.project", "p"),
                                             Pair("com.docker.compose.network", "back"),
                                             Pair("com.docker.compose.version", "0.1.0")));
}

TEST(TranslateTest, NetworkModes) {
  const auto p = loadOrDie(R"(
services:
  a: {image: busybox, network_mode: host}
  b: {image: busybox, network_mode: none}
  c: {image: busybox, network_mode: "service:a"}
  d: {image: busybox, network_mode: bridge, links: ["a:alpha"]}
)");
  EXPECT_EQ(specOf(p, "a").create.hostConfig.networkMode, "host");
  EXPECT_EQ(specOf(p, "b").create.hostConfig.networkMode, "none");
  EXPECT_EQ(specOf(p, "c").create.hostConfig.networkMode, "container:p-a-1");
  EXPECT_TRUE(specOf(p, "c").create.networks.empty());
  EXPECT_THAT(specOf(p, "d").create.hostConfig.links, ElementsAre("p-a-1:alpha"));
}

TEST(TranslateTest, PortsRangesHostIpAndProtocols) {
  const auto p = loadOrDie(R"(
services:
  a:
    image: busybox
    ports: ["8000-8001:80-81", "127.0.0.1:9000:90/udp", "7000"]
    expose: ["3000-3001", "4000/udp"]
)");
  const auto s = specOf(p, "a");
  const auto& b = s.create.hostConfig.portBindings;
  EXPECT_THAT(b.at("80/tcp"), ElementsAre(engine::PortBinding{"", "8000"}));
  EXPECT_THAT(b.at("81/tcp"), ElementsAre(engine::PortBinding{"", "8001"}));
  EXPECT_THAT(b.at("90/udp"), ElementsAre(engine::PortBinding{"127.0.0.1", "9000"}));
  EXPECT_THAT(b.at("7000/tcp"), ElementsAre(engine::PortBinding{"", ""}));
  EXPECT_THAT(s.create.config.exposedPorts,
              ElementsAre("3000/tcp", "3001/tcp", "4000/udp", "7000/tcp", "80/tcp", "81/tcp", "90/udp"));
}

TEST(TranslateTest, VolumesBindsTmpfs) {
  const auto p = loadOrDie(R"(
services:
  a:
    image: busybox
    volumes:
      - data:/data
      - /anon
      - /srv/x:/x:ro
      - {type: tmpfs, target: /t, tmpfs: {size: 1000, mode: 0700}}
      - {type: volume, source: data, target: /nc, volume: {nocopy: true}}
    tmpfs: ["/run:size=64m"]
volumes: {data: {}}
)");
  const auto s = specOf(p, "a", 1, {.inheritedVolumes = {{"/anon", "0123"}, {"/img", "4567"}}});
  const auto& h = s.create.hostConfig;
  EXPECT_THAT(h.binds, ElementsAre("/srv/x:/x:ro"));
  ASSERT_EQ(h.mounts.size(), 5u);
  EXPECT_EQ(h.mounts[0].source, "p_data");
  EXPECT_EQ(h.mounts[0].target, "/data");
  EXPECT_EQ(h.mounts[1].source, "0123");  // the replaced container's anonymous volume
  EXPECT_EQ(h.mounts[2].type, engine::MountType::Tmpfs);
  EXPECT_EQ(h.mounts[2].tmpfsOptions, (engine::TmpfsOptions{1000, 0700}));
  EXPECT_TRUE(h.mounts[3].volumeOptions && h.mounts[3].volumeOptions->noCopy);
  EXPECT_EQ(h.mounts[4].source, "4567");  // VOLUME of the image
  EXPECT_EQ(h.mounts[4].target, "/img");
  EXPECT_THAT(h.tmpfs, ElementsAre(Pair("/run", "size=64m")));
  const auto v = volumeSpec(p, "data", p.volumes.at("data"), "0.1.0");
  EXPECT_EQ(v.name, "p_data");
  EXPECT_EQ(v.labels.at("com.docker.compose.volume"), "data");
}

TEST(TranslateTest, RuntimeSettings) {
  const auto p = loadOrDie(R"(
services:
  a:
    image: busybox
    user: "1000:1000"
    working_dir: /w
    hostname: h
    command: [sleep, "5"]
    entrypoint: [/bin/sh, -c]
    environment: {A: "1", B: null}
    restart: on-failure:3
    healthcheck: {test: "wget -q x", interval: 2s, timeout: 1s, retries: 4, start_period: 5s}
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    init: true
    read_only: true
    privileged: true
    logging: {driver: json-file, options: {max-size: 1m}}
    extra_hosts: ["h1:1.2.3.4"]
    sysctls: {net.core.somaxconn: "1024"}
    ulimits: {nofile: {soft: 100, hard: 200}, nproc: 50}
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 10
    stop_grace_period: 3s
    stop_signal: SIGINT
    dns: [1.1.1.1]
    shm_size: 1m
    security_opt: [no-new-privileges]
    group_add: ["100"]
)");
  const auto s = specOf(p, "a");
  const auto& c = s.create.config;
  const auto& h = s.create.hostConfig;
  EXPECT_EQ(c.user, "1000:1000");
  EXPECT_EQ(c.workingDir, "/w");
  EXPECT_EQ(c.hostname, "h");
  EXPECT_EQ(c.cmd, (std::vector<std::string>{"sleep", "5"}));
  EXPECT_EQ(c.entrypoint, (std::vector<std::string>{"/bin/sh", "-c"}));
  EXPECT_THAT(c.env, ElementsAre("A=1"));
  EXPECT_EQ(h.restartPolicy, (engine::RestartPolicy{engine::RestartPolicyName::OnFailure, 3}));
  ASSERT_TRUE(c.healthcheck);
  EXPECT_EQ(c.healthcheck->test, (std::vector<std::string>{"CMD-SHELL", "wget -q x"}));
  EXPECT_EQ(c.healthcheck->interval, std::chrono::seconds(2));
  EXPECT_EQ(c.healthcheck->retries, 4);
  EXPECT_THAT(h.capAdd, ElementsAre("NET_ADMIN"));
  EXPECT_THAT(h.capDrop, ElementsAre("ALL"));
  EXPECT_EQ(h.init, true);
  EXPECT_TRUE(h.readonlyRootfs);
  EXPECT_TRUE(h.privileged);
  EXPECT_EQ(h.logConfig.type, "json-file");
  EXPECT_EQ(h.logConfig.config.at("max-size"), "1m");
  EXPECT_THAT(h.extraHosts, ElementsAre("h1:1.2.3.4"));
  EXPECT_EQ(h.sysctls.at("net.core.somaxconn"), "1024");
  EXPECT_THAT(h.resources.ulimits,
              ElementsAre(engine::Ulimit{"nofile", 100, 200}, engine::Ulimit{"nproc", 50, 50}));
  EXPECT_EQ(h.resources.memory, 64 * 1024 * 1024);
  EXPECT_EQ(h.resources.nanoCpus, 500000000);
  EXPECT_EQ(h.resources.pidsLimit, 10);
  EXPECT_EQ(c.stopTimeout, 3);
  EXPECT_EQ(c.stopSignal, "SIGINT");
  EXPECT_THAT(h.dns, ElementsAre("1.1.1.1"));
  EXPECT_EQ(h.shmSize, 1024 * 1024);
  EXPECT_THAT(h.securityOpt, ElementsAre("no-new-privileges"));
  EXPECT_THAT(h.groupAdd, ElementsAre("100"));
}

TEST(TranslateTest, DeployLimitsAndRestartPolicy) {
  const auto p = loadOrDie(R"(
services:
  a:
    image: busybox
    deploy:
      resources: {limits: {cpus: "1.5", memory: 32M, pids: 7}, reservations: {memory: 16M}}
      restart_policy: {condition: on-failure, max_attempts: 2}
)");
  const auto s = specOf(p, "a");
  EXPECT_EQ(s.create.hostConfig.resources.nanoCpus, 1500000000);
  EXPECT_EQ(s.create.hostConfig.resources.memory, 32 * 1024 * 1024);
  EXPECT_EQ(s.create.hostConfig.resources.memoryReservation, 16 * 1024 * 1024);
  EXPECT_EQ(s.create.hostConfig.resources.pidsLimit, 7);
  EXPECT_EQ(s.create.hostConfig.restartPolicy,
            (engine::RestartPolicy{engine::RestartPolicyName::OnFailure, 2}));
}

TEST(TranslateTest, SecretsAndConfigs) {
  const auto p = loadOrDie(R"(
services:
  a:
    image: busybox
    secrets: [token, {source: cert, target: /etc/cert.pem, mode: 0400}]
    configs: [settings]
secrets:
  token: {file: /etc/hostname}
  cert: {environment: CERT}
configs:
  settings: {content: "x=1"}
)");
  const auto s = specOf(p, "a");
  ASSERT_EQ(s.create.hostConfig.mounts.size(), 1u);
  EXPECT_EQ(s.create.hostConfig.mounts[0].source, "/etc/hostname");
  EXPECT_EQ(s.create.hostConfig.mounts[0].target, "/run/secrets/token");
  EXPECT_TRUE(s.create.hostConfig.mounts[0].readOnly);
  ASSERT_EQ(s.files.size(), 2u);
  EXPECT_EQ(s.files[0].path, "/etc/cert.pem");
  EXPECT_EQ(s.files[0].mode, 0400u);
  EXPECT_EQ(s.files[1], (InjectedFile{"/settings", "x=1", 0444}));
}

TEST(TranslateTest, OneOffContainers) {
  const auto p = loadOrDie("services: {a: {image: busybox}}");
  const auto s = specOf(p, "a", 1, {.oneOff = true, .slug = "0123456789abcdef0123"});
  EXPECT_EQ(s.create.name, "p-a-run-0123456789ab");
  EXPECT_EQ(s.create.config.labels.at("com.docker.compose.oneoff"), "True");
  EXPECT_EQ(s.create.config.labels.at("com.docker.compose.slug"), "0123456789abcdef0123");
  EXPECT_TRUE(s.create.networks.at("p_default").aliases.empty());
}

TEST(TranslateTest, BuildOptions) {
  const auto p = loadOrDie(R"(
services:
  a:
    build: {context: ./ctx, dockerfile: Other.Dockerfile, args: {V: "1"}, target: prod, labels: {x: y}}
    image: mine:2
)");
  auto b = imageBuild(p, p.services.at("a"));
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(b->context, p.workingDir + "/ctx");
  EXPECT_EQ(b->dockerfile, "Other.Dockerfile");
  EXPECT_THAT(b->options.tags, ElementsAre("mine:2"));
  EXPECT_EQ(b->options.buildArgs.at("V"), "1");
  EXPECT_EQ(b->options.target, "prod");
}

TEST(TranslateTest, InvalidRestartPolicyNamesTheService) {
  spec::Project p;
  p.name = "p";
  spec::Service s;
  s.name = "a";
  s.image = "busybox";
  s.restart = "sometimes";
  p.services["a"] = s;
  auto r = containerSpec(p, s, 1, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "service a: restart: invalid policy \"sometimes\" (expected no, always, unless-stopped or "
            "on-failure[:N])");
}

}  // namespace
}  // namespace berth::plan::testing
