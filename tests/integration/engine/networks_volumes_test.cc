// Networks (create with IPAM, internal, labels, attachable, driver options; inspect; list with
// filters; connect with aliases and a static address; disconnect; remove) and volumes.
#include "engine_fixture.h"

namespace berth::engine::testing {
namespace {

using NetworksTest = EngineTest;
using VolumesTest = EngineTest;

TEST_F(NetworksTest, CreatesInspectsListsAndRemoves) {
  NetworkCreate spec;
  spec.name = name("back");
  spec.internal = true;
  spec.attachable = true;
  spec.labels = labels();
  spec.labels["com.docker.compose.network"] = "back";
  spec.options = {{"com.docker.network.bridge.enable_icc", "true"}};
  spec.ipam.config = {IpamPool{"172.29.10.0/24", "172.29.10.128/25", "172.29.10.1", {}}};
  auto id = engine().createNetwork(spec);
  ASSERT_TRUE(id) << id.error().message();

  auto net = engine().inspectNetwork(spec.name);
  ASSERT_TRUE(net) << net.error().message();
  EXPECT_EQ(net->id, *id);
  EXPECT_EQ(net->name, spec.name);
  EXPECT_EQ(net->driver, "bridge");
  EXPECT_EQ(net->scope, "local");
  EXPECT_TRUE(net->internal);
  EXPECT_TRUE(net->attachable);
  EXPECT_EQ(net->labels, spec.labels);
  EXPECT_EQ(net->options, spec.options);
  ASSERT_EQ(net->ipam.config.size(), 1u);
  EXPECT_EQ(net->ipam.config[0], spec.ipam.config[0]);

  auto listed =
      engine().listNetworks({{"label", {"com.docker.compose.network=back"}}, {"name", {spec.name}}});
  ASSERT_TRUE(listed) << listed.error().message();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().id, *id);

  auto duplicate = engine().createNetwork(spec);
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code(), ErrorCode::Conflict);
  EXPECT_EQ(
      duplicate.error().message(),
      engineError("create network " + spec.name, "network with name " + spec.name + " already exists", 409));

  ASSERT_TRUE(engine().removeNetwork(spec.name));
  auto gone = engine().inspectNetwork(spec.name);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(engine().removeNetwork(spec.name).error().code(), ErrorCode::NotFound);
}

TEST_F(NetworksTest, OverlappingSubnetIsRefused) {
  NetworkCreate a;
  a.name = name("a");
  a.labels = labels();
  a.ipam.config = {IpamPool{"172.29.11.0/24", "", "", {}}};
  ASSERT_TRUE(engine().createNetwork(a));
  NetworkCreate b = a;
  b.name = name("b");
  auto r = engine().createNetwork(b);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("Pool overlaps with other one on this address space"), std::string::npos)
      << r.error().message();
}

TEST_F(NetworksTest, ConnectsWithAliasesAndAStaticAddressThenDisconnects) {
  NetworkCreate spec;
  spec.name = name("app");
  spec.labels = labels();
  spec.ipam.config = {IpamPool{"172.29.12.0/24", "", "", {}}};
  ASSERT_TRUE(engine().createNetwork(spec));
  ContainerCreate clientSpec = busybox(name("client"), {"sleep", "3600"});
  clientSpec.hostConfig.networkMode = spec.name;
  auto client = engine().createContainer(clientSpec);
  ASSERT_TRUE(client);
  ASSERT_TRUE(engine().startContainer(client->id));
  const std::string server = startSleeper(name("server"));  // on the default bridge

  ASSERT_TRUE(engine().connectNetwork(spec.name, server,
                                      EndpointSettings{{"db", "database"}, {}, "172.29.12.50", "", {}}));
  auto inspect = engine().inspectContainer(server);
  ASSERT_TRUE(inspect);
  const EndpointState& e = inspect->networkSettings.networks.at(spec.name);
  EXPECT_EQ(e.ipAddress, "172.29.12.50");
  for (const char* alias : {"db", "database"}) {
    EXPECT_NE(std::find(e.settings.aliases.begin(), e.settings.aliases.end(), alias),
              e.settings.aliases.end())
        << alias;
  }
  auto net = engine().inspectNetwork(spec.name);
  ASSERT_TRUE(net);
  EXPECT_EQ(net->containers.size(), 2u);
  EXPECT_EQ(net->containers.at(server).ipv4Address, "172.29.12.50/24");

  // The aliases resolve for other containers on the network.
  auto ping = runIn(engine(), client->id, {"ping", "-c", "1", "-W", "2", "database"});
  ASSERT_TRUE(ping) << ping.error().message();
  EXPECT_EQ(ping->exitCode, 0) << ping->out << ping->err;
  EXPECT_NE(ping->out.find("172.29.12.50"), std::string::npos) << ping->out;

  auto twice = engine().connectNetwork(spec.name, server, {});
  ASSERT_FALSE(twice);
  // dockerd answers 403 Forbidden for what is really a conflict.
  EXPECT_EQ(twice.error().code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(
      twice.error().message(),
      engineError("connect container " + server + " to network " + spec.name,
                  "endpoint with name " + inspect->name + " already exists in network " + spec.name, 403));

  ASSERT_TRUE(engine().disconnectNetwork(spec.name, server, false));
  EXPECT_EQ(engine().inspectContainer(server)->networkSettings.networks.count(spec.name), 0u);
  auto unreachable = runIn(engine(), client->id, {"ping", "-c", "1", "-W", "1", "database"});
  ASSERT_TRUE(unreachable);
  EXPECT_NE(unreachable->exitCode, 0);

  auto inUse = engine().removeNetwork(spec.name);
  ASSERT_FALSE(inUse);
  EXPECT_EQ(inUse.error().code(), ErrorCode::PermissionDenied) << inUse.error().message();  // 403 again
  EXPECT_NE(inUse.error().message().find("has active endpoints (403)"), std::string::npos);
}

TEST_F(VolumesTest, CreatesInspectsListsUsesAndRemoves) {
  VolumeCreate spec;
  spec.name = name("data");
  spec.labels = labels();
  spec.labels["com.docker.compose.volume"] = "data";
  spec.driverOpts = {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m"}};
  auto created = engine().createVolume(spec);
  ASSERT_TRUE(created) << created.error().message();
  EXPECT_EQ(created->name, spec.name);
  EXPECT_EQ(created->driver, "local");
  EXPECT_EQ(created->labels, spec.labels);
  EXPECT_EQ(created->options, spec.driverOpts);

  auto inspected = engine().inspectVolume(spec.name);
  ASSERT_TRUE(inspected) << inspected.error().message();
  EXPECT_EQ(inspected->mountpoint, created->mountpoint);
  EXPECT_EQ(inspected->scope, "local");

  auto listed =
      engine().listVolumes({{"label", {"com.docker.compose.volume=data", std::string(kTestLabel)}}});
  ASSERT_TRUE(listed) << listed.error().message();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().name, spec.name);

  // Data written by one container is read by the next (on a disk-backed volume: a tmpfs one is
  // fresh for each mount).
  VolumeCreate disk;
  disk.name = name("disk");
  disk.labels = labels();
  ASSERT_TRUE(engine().createVolume(disk));
  ContainerCreate writer = busybox(name("writer"), {"sh", "-c", "echo persisted > /v/file"});
  writer.hostConfig.mounts = {
      Mount{MountType::Volume, disk.name, "/v", false, "", std::nullopt, std::nullopt, std::nullopt}};
  auto w = engine().createContainer(writer);
  ASSERT_TRUE(w);
  ASSERT_TRUE(engine().startContainer(w->id));
  EXPECT_EQ(waitExit(w->id), 0);
  ContainerCreate reader = busybox(name("reader"), {"sleep", "3600"});
  reader.hostConfig.binds = {disk.name + ":/v:ro"};
  auto r = engine().createContainer(reader);
  ASSERT_TRUE(r);
  ASSERT_TRUE(engine().startContainer(r->id));
  auto cat = runIn(engine(), r->id, {"cat", "/v/file"});
  ASSERT_TRUE(cat);
  EXPECT_EQ(cat->out, "persisted\n");

  auto inUse = engine().removeVolume(disk.name, false);
  ASSERT_FALSE(inUse);
  EXPECT_EQ(inUse.error().code(), ErrorCode::Conflict);
  ASSERT_TRUE(engine().removeContainer(r->id, {true, false}));
  ASSERT_TRUE(engine().removeContainer(w->id, {true, false}));
  ASSERT_TRUE(engine().removeVolume(disk.name, false));
  ASSERT_TRUE(engine().removeVolume(spec.name, false));
  auto gone = engine().inspectVolume(spec.name);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(gone.error().message(),
            engineError("inspect volume " + spec.name, "get " + spec.name + ": no such volume", 404));
}

TEST_F(VolumesTest, AnonymousVolumeGetsAName) {
  VolumeCreate spec;
  spec.labels = labels();
  auto created = engine().createVolume(spec);
  ASSERT_TRUE(created) << created.error().message();
  EXPECT_EQ(created->name.size(), 64u);
}

}  // namespace
}  // namespace berth::engine::testing
