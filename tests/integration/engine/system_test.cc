// ping, version, info and API negotiation against the shared private engine.
#include <thread>

#include "engine_fixture.h"

namespace berth::engine::testing {
namespace {

using SystemTest = EngineTest;

TEST_F(SystemTest, PingReportsTheEnginesApiVersion) {
  auto p = engine().ping();
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->apiVersion, "1.41");  // Debian 12's dockerd 20.10
  EXPECT_EQ(p->osType, "linux");
}

TEST_F(SystemTest, VersionAndNegotiation) {
  auto v = engine().version();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->version.rfind("20.10", 0), 0u) << v->version;
  EXPECT_EQ(v->apiVersion, "1.41");
  EXPECT_FALSE(v->minApiVersion.empty());
  EXPECT_EQ(v->os, "linux");
  EXPECT_FALSE(v->goVersion.empty());
  auto api = engine().apiVersion();
  ASSERT_TRUE(api);
  EXPECT_EQ(api->toString(), "1.41");
}

TEST_F(SystemTest, InfoDescribesTheEngine) {
  auto i = engine().info();
  ASSERT_TRUE(i) << i.error().message();
  EXPECT_EQ(i->name, host().hostname());
  EXPECT_EQ(i->serverVersion.rfind("20.10", 0), 0u);
  EXPECT_GE(i->images, 1);  // busybox
  EXPECT_GT(i->ncpu, 0);
  EXPECT_GT(i->memTotal, 0);
  EXPECT_FALSE(i->storageDriver.empty());
  EXPECT_FALSE(i->cgroupDriver.empty());
  EXPECT_EQ(i->osType, "linux");
  EXPECT_EQ(i->containers, i->containersRunning + i->containersPaused + i->containersStopped);
}

TEST_F(SystemTest, PinnedOlderApiVersionIsUsed) {
  auto endpoint = parseEndpoint(host().unixSocketUrl());
  ASSERT_TRUE(endpoint);
  endpoint->pinnedApiVersion = ApiVersion{1, 40};
  auto pinned = engineAt(*endpoint);
  ASSERT_TRUE(pinned->info());
  EXPECT_EQ(pinned->apiVersion()->toString(), "1.40");
  // A 1.40 request shape works end to end.
  auto c = pinned->createContainer(busybox(name("pinned"), {"true"}));
  ASSERT_TRUE(c) << c.error().message();
}

TEST_F(SystemTest, ManyThreadsShareOneEngineClient) {
  const std::string id = startSleeper(name("shared"));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto c = engine().inspectContainer(id);
        if (!c || !c->state.running) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(SystemTest, MissingObjectsAreNotFoundWithTheEnginesWords) {
  auto c = engine().inspectContainer("it-does-not-exist");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(c.error().message(),
            engineError("inspect container it-does-not-exist", "No such container: it-does-not-exist", 404));
  ContainerCreate spec = busybox(name("noimage"), {"true"});
  spec.config.image = "web:latest";
  auto created = engine().createContainer(spec);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(created.error().message(),
            engineError("create container " + spec.name, "No such image: web:latest", 404));
}

}  // namespace
}  // namespace berth::engine::testing
