#include "engine/json_codec.h"

#include <gtest/gtest.h>

namespace berth::engine::json {
namespace {

using namespace std::chrono_literals;

TEST(JsonCodecTest, EncodesTheContainerSettingsAComposeRunnerNeeds) {
  ContainerCreate spec;
  spec.name = "shop-web-1";
  auto& c = spec.config;
  c.image = "busybox:latest";
  c.hostname = "web";
  c.domainname = "shop.internal";
  c.user = "1000:1000";
  c.env = {"A=1", "B=two"};
  c.cmd = std::vector<std::string>{"httpd", "-f"};
  c.entrypoint = std::vector<std::string>{};
  c.workingDir = "/srv";
  c.labels = {{"com.docker.compose.project", "shop"}, {"com.docker.compose.service", "web"}};
  c.exposedPorts = {"80/tcp"};
  c.volumes = {"/cache"};
  c.tty = true;
  c.openStdin = true;
  c.healthcheck = HealthConfig{{"CMD-SHELL", "wget -q -O- localhost"}, 5s, 2s, 1s, 3};
  c.stopSignal = "SIGINT";
  c.stopTimeout = 20;
  auto& h = spec.hostConfig;
  h.binds = {"/srv/data:/data:ro"};
  h.mounts = {
      Mount{MountType::Volume, "shop_db", "/db", false, "", std::nullopt,
            VolumeOptions{true, {{"k", "v"}}, "", {}}, std::nullopt},
      Mount{MountType::Tmpfs, "", "/run", false, "", std::nullopt, std::nullopt, TmpfsOptions{65536, 01777}},
      Mount{MountType::Bind, "/etc/hosts", "/etc/hosts2", true, "", BindOptions{"rprivate", false},
            std::nullopt, std::nullopt}};
  h.tmpfs = {{"/tmp", "size=64m"}};
  h.portBindings = {{"80/tcp", {PortBinding{"127.0.0.1", "8080"}, PortBinding{"", ""}}}};
  h.networkMode = "shop_default";
  h.restartPolicy = RestartPolicy{RestartPolicyName::OnFailure, 3};
  h.resources.memory = 64 << 20;
  h.resources.nanoCpus = 1500000000;
  h.resources.pidsLimit = 100;
  h.resources.ulimits = {Ulimit{"nofile", 1024, 2048}};
  h.capAdd = {"NET_ADMIN"};
  h.capDrop = {"ALL"};
  h.privileged = true;
  h.readonlyRootfs = true;
  h.init = true;
  h.logConfig = LogConfig{"json-file", {{"max-size", "1m"}}};
  h.extraHosts = {"db:10.0.0.5"};
  h.dns = {"10.0.0.53"};
  h.sysctls = {{"net.core.somaxconn", "1024"}};
  h.shmSize = 1 << 20;
  spec.networks["shop_default"] = EndpointSettings{{"web", "www"}, {}, "172.30.0.10", "", {}};

  EXPECT_EQ(
      encodeContainerCreate(spec),
      R"({"Cmd":["httpd","-f"],"Domainname":"shop.internal","Entrypoint":[],"Env":["A=1","B=two"],)"
      R"("ExposedPorts":{"80/tcp":{}},"Healthcheck":{"Interval":5000000000,"Retries":3,"StartPeriod":1000000000,)"
      R"("Test":["CMD-SHELL","wget -q -O- localhost"],"Timeout":2000000000},)"
      R"("HostConfig":{"Binds":["/srv/data:/data:ro"],"CapAdd":["NET_ADMIN"],"CapDrop":["ALL"],)"
      R"("Dns":["10.0.0.53"],"ExtraHosts":["db:10.0.0.5"],"Init":true,)"
      R"("LogConfig":{"Config":{"max-size":"1m"},"Type":"json-file"},"Memory":67108864,)"
      R"("Mounts":[{"Source":"shop_db","Target":"/db","Type":"volume","VolumeOptions":{"Labels":{"k":"v"},"NoCopy":true}},)"
      R"({"Target":"/run","TmpfsOptions":{"Mode":1023,"SizeBytes":65536},"Type":"tmpfs"},)"
      R"({"BindOptions":{"Propagation":"rprivate"},"ReadOnly":true,"Source":"/etc/hosts","Target":"/etc/hosts2","Type":"bind"}],)"
      R"("NanoCpus":1500000000,"NetworkMode":"shop_default","PidsLimit":100,)"
      R"("PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"},{"HostIp":"","HostPort":""}]},)"
      R"("Privileged":true,"ReadonlyRootfs":true,"RestartPolicy":{"MaximumRetryCount":3,"Name":"on-failure"},)"
      R"("ShmSize":1048576,"Sysctls":{"net.core.somaxconn":"1024"},"Tmpfs":{"/tmp":"size=64m"},)"
      R"("Ulimits":[{"Hard":2048,"Name":"nofile","Soft":1024}]},)"
      R"("Hostname":"web","Image":"busybox:latest",)"
      R"("Labels":{"com.docker.compose.project":"shop","com.docker.compose.service":"web"},)"
      R"("NetworkingConfig":{"EndpointsConfig":{"shop_default":{"Aliases":["web","www"],)"
      R"("IPAMConfig":{"IPv4Address":"172.30.0.10"}}}},)"
      R"("OpenStdin":true,"StopSignal":"SIGINT","StopTimeout":20,"Tty":true,"User":"1000:1000",)"
      R"("Volumes":{"/cache":{}},"WorkingDir":"/srv"})");
}

TEST(JsonCodecTest, UnsetCommandIsOmittedSoTheImagesApplies) {
  ContainerCreate spec;
  spec.config.image = "busybox";
  EXPECT_EQ(encodeContainerCreate(spec), R"({"HostConfig":{},"Image":"busybox"})");
}

// Trimmed from what dockerd 20.10 answers to GET /containers/{id}/json.
constexpr std::string_view kInspect = R"({
  "Id": "4fa6e0f0c678", "Created": "2024-01-02T03:04:05.123Z", "Path": "httpd", "Args": ["-f"],
  "State": {"Status": "running", "Running": true, "Paused": false, "Restarting": false, "OOMKilled": false,
            "Dead": false, "Pid": 4242, "ExitCode": 0, "Error": "", "StartedAt": "2024-01-02T03:04:06Z",
            "FinishedAt": "0001-01-01T00:00:00Z",
            "Health": {"Status": "healthy", "FailingStreak": 0,
                       "Log": [{"Start": "s", "End": "e", "ExitCode": 0, "Output": "ok\n"}]}},
  "Image": "sha256:abc", "Name": "/shop-web-1", "RestartCount": 2, "Driver": "overlay2", "Platform": "linux",
  "HostConfig": {"Binds": null, "NetworkMode": "shop_default", "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
                 "RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0}, "AutoRemove": false,
                 "CapAdd": null, "Init": null, "Memory": 0, "NanoCpus": 0, "PidsLimit": null,
                 "Mounts": [{"Type": "volume", "Source": "shop_db", "Target": "/db"}, {"Type": "cluster", "Target": "/x"}],
                 "LogConfig": {"Type": "json-file", "Config": {}}, "Tmpfs": {"/run": ""}},
  "Mounts": [{"Type": "volume", "Name": "shop_db", "Source": "/var/lib/docker/volumes/shop_db/_data",
              "Destination": "/db", "Driver": "local", "Mode": "z", "RW": true, "Propagation": ""}],
  "Config": {"Hostname": "4fa6e0f0c678", "User": "", "Tty": false, "OpenStdin": false, "Env": ["PATH=/bin"],
             "Cmd": ["httpd", "-f"], "Entrypoint": null, "Image": "busybox:latest", "WorkingDir": "",
             "Labels": {"com.docker.compose.project": "shop"}, "ExposedPorts": {"80/tcp": {}},
             "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000000000}, "StopTimeout": 5},
  "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "81/tcp": null},
                      "SandboxKey": "/var/run/docker/netns/abc",
                      "Networks": {"shop_default": {"IPAMConfig": null, "Links": null, "Aliases": ["web", "4fa6e0f0c678"],
                                                    "NetworkID": "n1", "EndpointID": "e1", "Gateway": "172.30.0.1",
                                                    "IPAddress": "172.30.0.2", "IPPrefixLen": 16, "MacAddress": "02:42:ac:1e:00:02"}}}
})";

TEST(JsonCodecTest, DecodesContainerInspect) {
  auto r = decodeContainerInspect(kInspect);
  ASSERT_TRUE(r) << r.error().message();
  const ContainerInspect& c = *r;
  EXPECT_EQ(c.id, "4fa6e0f0c678");
  EXPECT_EQ(c.name, "shop-web-1");
  EXPECT_EQ(c.state.status, ContainerStatus::Running);
  EXPECT_TRUE(c.state.running);
  EXPECT_EQ(c.state.pid, 4242);
  ASSERT_TRUE(c.state.health.has_value());
  EXPECT_EQ(c.state.health->status, HealthStatus::Healthy);
  ASSERT_EQ(c.state.health->log.size(), 1u);
  EXPECT_EQ(c.state.health->log[0].output, "ok\n");
  EXPECT_EQ(c.image, "sha256:abc");
  EXPECT_EQ(c.restartCount, 2);
  EXPECT_EQ(c.hostConfig.networkMode, "shop_default");
  EXPECT_EQ(c.hostConfig.restartPolicy.name, RestartPolicyName::UnlessStopped);
  EXPECT_EQ(c.hostConfig.portBindings.at("80/tcp"), (std::vector<PortBinding>{{"", "8080"}}));
  EXPECT_FALSE(c.hostConfig.init.has_value());
  EXPECT_FALSE(c.hostConfig.resources.pidsLimit.has_value());
  ASSERT_EQ(c.hostConfig.mounts.size(), 1u);  // the unknown "cluster" mount type is skipped
  EXPECT_EQ(c.hostConfig.mounts[0].source, "shop_db");
  EXPECT_EQ(c.hostConfig.tmpfs.at("/run"), "");
  ASSERT_EQ(c.mounts.size(), 1u);
  EXPECT_EQ(c.mounts[0].name, "shop_db");
  EXPECT_TRUE(c.mounts[0].rw);
  EXPECT_EQ(c.config.cmd, (std::vector<std::string>{"httpd", "-f"}));
  EXPECT_FALSE(c.config.entrypoint.has_value());
  EXPECT_EQ(c.config.labels.at("com.docker.compose.project"), "shop");
  EXPECT_EQ(c.config.exposedPorts, (std::vector<std::string>{"80/tcp"}));
  ASSERT_TRUE(c.config.healthcheck.has_value());
  EXPECT_EQ(c.config.healthcheck->interval, 1s);
  EXPECT_EQ(c.config.stopTimeout, 5);
  EXPECT_EQ(c.networkSettings.ports.at("80/tcp"), (std::vector<PortBinding>{{"0.0.0.0", "8080"}}));
  EXPECT_TRUE(c.networkSettings.ports.at("81/tcp").empty());
  const EndpointState& net = c.networkSettings.networks.at("shop_default");
  EXPECT_EQ(net.settings.aliases, (std::vector<std::string>{"web", "4fa6e0f0c678"}));
  EXPECT_EQ(net.ipAddress, "172.30.0.2");
  EXPECT_EQ(net.ipPrefixLen, 16);
}

TEST(JsonCodecTest, HostConfigSurvivesARoundTrip) {
  ContainerCreate spec;
  spec.config.image = "busybox";
  spec.hostConfig.portBindings = {{"53/udp", {PortBinding{"127.0.0.1", "5353"}}}};
  spec.hostConfig.restartPolicy = {RestartPolicyName::Always, 0};
  spec.hostConfig.resources.memorySwappiness = 10;
  spec.hostConfig.resources.oomKillDisable = false;
  spec.hostConfig.init = false;
  spec.hostConfig.mounts = {
      Mount{MountType::Bind, "/a", "/b", true, "", BindOptions{"shared", true}, std::nullopt, std::nullopt}};
  spec.config.cmd = std::vector<std::string>{};
  const std::string body = encodeContainerCreate(spec);
  // The engine answers inspect with the same HostConfig and Config it was given.
  auto back = decodeContainerInspect(
      R"({"HostConfig":)" + body.substr(body.find("{", 1), body.find(",\"Image\"") - body.find("{", 1)) +
      "}");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->hostConfig, spec.hostConfig);
}

TEST(JsonCodecTest, ToleratesNullsAndWrongTypes) {
  auto r = decodeContainerList(R"([{"Id":"a","Names":null,"Labels":null,"Ports":null,"State":"exited",
                                    "Created":"not a number","NetworkSettings":null},
                                   {"Id":"b","Names":["/b"],"State":"weird"}])");
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].state, ContainerStatus::Exited);
  EXPECT_TRUE((*r)[0].names.empty());
  EXPECT_EQ((*r)[0].created, 0);
  EXPECT_EQ((*r)[1].names, (std::vector<std::string>{"b"}));
  EXPECT_EQ((*r)[1].state, ContainerStatus::Unknown);
}

TEST(JsonCodecTest, InfoCarriesTheEngineClock) {
  // Engines write SystemTime in their machine's zone.
  auto r = decodeInfo(R"({"Name":"h","SystemTime":"2024-05-01T12:00:00.25+02:00"})");
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(r->systemTime.has_value());
  EXPECT_EQ(unixSecondsText(*r->systemTime), "1714557600.250000000");
  auto without = decodeInfo(R"({"Name":"h"})");
  ASSERT_TRUE(without) << without.error().message();
  EXPECT_FALSE(without->systemTime.has_value());
}

TEST(JsonCodecTest, WrongShapeAndNonJsonAreErrors) {
  auto notArray = decodeContainerList(R"({"message":"x"})");
  ASSERT_FALSE(notArray);
  EXPECT_EQ(notArray.error().message(),
            "unexpected answer from the engine (container list): expected an array");
  auto notJson = decodeInfo("<html>");
  ASSERT_FALSE(notJson);
  EXPECT_EQ(notJson.error().code(), ErrorCode::Internal);
  EXPECT_EQ(notJson.error().message().rfind("unexpected answer from the engine (info): ", 0), 0u);
}

TEST(JsonCodecTest, DecodesEventsAndProgress) {
  auto e = decodeEvent(R"({"status":"die","id":"abc","Type":"container","Action":"die",
      "Actor":{"ID":"abc","Attributes":{"exitCode":"1","name":"web-1"}},"scope":"local","time":1700000000,
      "timeNano":1700000000123456789})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, "container");
  EXPECT_EQ(e->action, "die");
  EXPECT_EQ(e->attributes.at("exitCode"), "1");
  EXPECT_EQ(e->timeNano, 1700000000123456789);
  auto m = decodeStreamMessage(R"({"aux":{"ID":"sha256:feed"}})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->auxId, "sha256:feed");
  auto err = decodeStreamMessage(R"({"errorDetail":{"message":"boom"}})");
  ASSERT_TRUE(err);
  EXPECT_EQ(err->error, "boom");
}

TEST(JsonCodecTest, DecodesExecWaitAndPathStat) {
  auto running =
      decodeExecInspect(R"({"ID":"x","Running":true,"ExitCode":null,"ProcessConfig":{"tty":true}})");
  ASSERT_TRUE(running);
  EXPECT_FALSE(running->exitCode.has_value());
  EXPECT_TRUE(running->tty);
  auto done = decodeExecInspect(R"({"ID":"x","Running":false,"ExitCode":3})");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->exitCode, 3);
  auto wait = decodeWaitResult(R"({"Error":null,"StatusCode":137})");
  ASSERT_TRUE(wait);
  EXPECT_EQ(wait->statusCode, 137);
  // {"name":"hosts","size":174,"mode":420,"mtime":"2024-01-01T00:00:00Z","linkTarget":""}
  auto stat = decodePathStat(
      "eyJuYW1lIjoiaG9zdHMiLCJzaXplIjoxNzQsIm1vZGUiOjQyMCwibXRpbWUiOiIyMDI0LTAxLTAxVDAwOjAwOjAwWiIsImxpbmtUYX"
      "JnZXQiOiIifQ==");
  ASSERT_TRUE(stat) << stat.error().message();
  EXPECT_EQ(stat->name, "hosts");
  EXPECT_EQ(stat->size, 174);
  EXPECT_EQ(stat->mode, 0644u);
  EXPECT_FALSE(decodePathStat("not base64!"));
}

TEST(JsonCodecTest, Base64) {
  EXPECT_EQ(base64Decode(""), "");
  EXPECT_EQ(base64Decode("Zg=="), "f");
  EXPECT_EQ(base64Decode("Zm8="), "fo");
  EXPECT_EQ(base64Decode("Zm9v"), "foo");
  EXPECT_FALSE(base64Decode("Zm9"));
  EXPECT_FALSE(base64Decode("Z=9v"));
  EXPECT_FALSE(base64Decode("Zg==Zg=="));
}

TEST(JsonCodecTest, EncodesFiltersAndNetworkRequests) {
  EXPECT_EQ(encodeFilters({{"label", {"a=b", "c"}}, {"status", {"running"}}}),
            R"({"label":["a=b","c"],"status":["running"]})");
  NetworkCreate n;
  n.name = "shop_back";
  n.internal = true;
  n.attachable = true;
  n.labels = {{"com.docker.compose.network", "back"}};
  n.options = {{"com.docker.network.bridge.enable_icc", "true"}};
  n.ipam.config = {IpamPool{"172.30.0.0/24", "", "172.30.0.1", {}}};
  EXPECT_EQ(
      encodeNetworkCreate(n),
      R"({"Attachable":true,"CheckDuplicate":true,"IPAM":{"Config":[{"Gateway":"172.30.0.1","Subnet":"172.30.0.0/24"}]},)"
      R"("Internal":true,"Labels":{"com.docker.compose.network":"back"},)"
      R"("Name":"shop_back","Options":{"com.docker.network.bridge.enable_icc":"true"}})");
  EXPECT_EQ(encodeNetworkConnect("web-1", EndpointSettings{{"api"}, {}, "", "", {}}),
            R"({"Container":"web-1","EndpointConfig":{"Aliases":["api"]}})");
}

}  // namespace
}  // namespace berth::engine::json
