// `berth volume move --to NAME` to a host registered and provisioned with `berth host add`: the
// volume's files stream from the local engine to the host's engine over mutual TLS with berth's
// own certificates, arrive identical, and the source volume goes.
#include <gtest/gtest.h>

#include "engine/endpoint.h"
#include "engine/engine.h"
#include "fleet_fixture.h"
#include "harness/names.h"
#include "harness/volume_probe.h"

namespace berth::testing::fleet {
namespace {

std::unique_ptr<engine::Engine> engineAt(const std::string& url) {
  auto endpoint = engine::parseEndpoint(url);
  EXPECT_TRUE(endpoint);
  auto e = engine::makeEngine(*endpoint);
  EXPECT_TRUE(e);
  return std::move(*e);
}

TEST(FleetVolumeTest, MoveToARegisteredHostOverMutualTls) {
  auto started = TestHost::start(HostOptions{.hostname = "store-node", .ssh = true});
  ASSERT_TRUE(started) << started.error().message();
  TestHost& host = **started;
  Berth berth;
  const CommandResult add = berth.run(concat({"host", "add", "store", "--provision"}, sshArgs(host)));
  ASSERT_EQ(add.exitCode, 0) << add.describe();

  TestHost& local = sharedEngine();
  auto source = engineAt(local.unixSocketUrl());
  const std::string volume = uniqueName("moved");
  ASSERT_TRUE(source->createVolume({.name = volume}));
  auto filled = runInVolume(*source, volume,
                            "mkdir -p /data/d && echo one > /data/d/one && ln -s d/one /data/link && "
                            "dd if=/dev/urandom of=/data/big bs=1M count=20 2>/dev/null && chown -R 7:8 /data/d");
  ASSERT_TRUE(filled) << filled.error().message();
  auto manifest = runInVolume(*source, volume, kVolumeManifestScript);
  ASSERT_TRUE(manifest) << manifest.error().message();

  const CommandResult moved =
      berth.run({"volume", "move", volume, "--to", "store"}, {"DOCKER_HOST=" + local.unixSocketUrl()});
  ASSERT_EQ(moved.exitCode, 0) << moved.describe();
  EXPECT_NE(moved.err.find("to host store (tcp://" + host.address()), std::string::npos) << moved.err;

  auto target = engineAt(host.unixSocketUrl());  // the test's own view of the host's engine
  auto there = runInVolume(*target, volume, kVolumeManifestScript);
  ASSERT_TRUE(there) << there.error().message();
  EXPECT_EQ(*there, *manifest);
  EXPECT_FALSE(source->inspectVolume(volume)) << "the source volume is removed after the check";
  (void)target->removeVolume(volume, true);
}

}  // namespace
}  // namespace berth::testing::fleet
