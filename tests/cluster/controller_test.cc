// The controller's runtime on fake engines and a fake store: its threads (owner, host agents, job
// pool) really run, against in-memory engines, with short probe intervals. What it shows: a deploy
// ends with containers on the fakes; a failed commit stores and does nothing; a controller started
// again on the same store and engines adopts what runs instead of making it again. (Real engines
// and real failures: tests/integration/controller.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "base/clock.h"
#include "cluster/controller.h"
#include "fakes/fake_engine.h"
#include "fakes/fake_store.h"

namespace berth::cluster {
namespace {

using namespace std::chrono_literals;

class FakeProvider final : public EngineProvider {
 public:
  std::shared_ptr<fakes::FakeEngine> add(const std::string& url) {
    auto e = std::make_shared<fakes::FakeEngine>(url);
    e->addImage("busybox:latest");
    engines_[url] = e;
    return e;
  }
  Result<std::shared_ptr<engine::Engine>> connect(const Host& host, Role) override {
    auto it = engines_.find(host.url);
    if (it == engines_.end()) return fail(ErrorCode::Unavailable, "no fake engine at " + host.url);
    return std::shared_ptr<engine::Engine>(it->second);
  }

 private:
  std::map<std::string, std::shared_ptr<fakes::FakeEngine>> engines_;
};

// Polls `check` until it holds or 10 s pass (the controller's threads work on their own time).
bool eventually(const std::function<bool()>& check) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (check()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return check();
}

int running(const Controller& c, const std::string& stack) {
  int n = 0;
  // The snapshot is held while it is read (a range-for over a temporary's member would dangle).
  const auto snap = c.snapshot();
  for (const auto& [id, t] : snap->state.tasks) {
    (void)id;
    if (t.stack == stack && t.live() && t.state == TaskState::Running) ++n;
  }
  return n;
}

constexpr const char* kStack = R"(name: s
services:
  web:
    image: busybox
    command: [sleep, "3600"]
    deploy:
      replicas: 3
)";

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* url : {"tcp://h1:2376", "tcp://h2:2376", "tcp://h3:2376"}) engines_.push_back(provider_.add(url));
  }
  std::unique_ptr<Controller> start() {
    ControllerOptions o;
    o.probeInterval = 20ms;
    o.relistInterval = 100ms;
    o.downAfter = 2s;
    auto c = std::make_unique<Controller>(store_, provider_, clock_, o);
    EXPECT_TRUE(c->start());
    return c;
  }
  void addHosts(Controller& c) {
    for (int i = 1; i <= 3; ++i) {
      auto h = c.addHost({"h" + std::to_string(i), "tcp://h" + std::to_string(i) + ":2376", {}});
      ASSERT_TRUE(h) << h.error().message();
    }
  }

  fakes::FakeStore store_;
  FakeProvider provider_;
  std::vector<std::shared_ptr<fakes::FakeEngine>> engines_;
  SystemClock clock_;
};

TEST_F(ControllerTest, ADeployEndsWithOneContainerPerSlotOnTheFakeEngines) {
  auto c = start();
  addHosts(*c);
  auto d = c->deploy("s", kStack);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->generation, 1);
  EXPECT_TRUE(d->changed);
  ASSERT_TRUE(eventually([&] { return running(*c, "s") == 3; }));
  std::vector<std::string> names;
  for (const auto& e : engines_) {
    for (const std::string& n : e->containerNames()) names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"s-web-1", "s-web-2", "s-web-3"}));
  // The same project again: nothing new.
  auto again = c->deploy("s", kStack);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
  c->stop();
}

TEST_F(ControllerTest, AFailedCommitStoresAndDoesNothing) {
  auto c = start();
  addHosts(*c);
  store_.failNextCommit(Error(ErrorCode::Internal, "disk full"));
  auto d = c->deploy("s", kStack);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message(), "disk full");
  EXPECT_TRUE(c->snapshot()->state.stacks.empty());
  for (const auto& e : engines_) EXPECT_TRUE(e->containerNames().empty());
  c->stop();
}

TEST_F(ControllerTest, AControllerStartedAgainAdoptsWhatRuns) {
  std::set<std::string> ids;
  {
    auto c = start();
    addHosts(*c);
    ASSERT_TRUE(c->deploy("s", kStack));
    ASSERT_TRUE(eventually([&] { return running(*c, "s") == 3; }));
    const auto snap = c->snapshot();
    for (const auto& [id, t] : snap->state.tasks) ids.insert(id);
    c->stop();
  }
  for (const auto& e : engines_) e->clearCalls();
  auto c = start();
  ASSERT_TRUE(eventually([&] { return running(*c, "s") == 3; }));
  std::set<std::string> after;
  const auto snap = c->snapshot();
  for (const auto& [id, t] : snap->state.tasks) after.insert(id);
  EXPECT_EQ(after, ids) << "the same tasks, adopted";
  for (const auto& e : engines_) {
    for (const std::string& m : e->mutations()) {
      EXPECT_THAT(m, ::testing::Not(::testing::StartsWith("createContainer"))) << "nothing made again";
    }
  }
  c->stop();
}

TEST_F(ControllerTest, BadInputIsRefusedWithTheReason) {
  auto c = start();
  auto bad = c->deploy("s", "name: s\nservices:\n  web:\n    image: busybox\n    deploy:\n      mode: replicated-job\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(),
            "stack s: service web: deploy.mode \"replicated-job\" is not supported by the controller (replicated or "
            "global)");
  auto name = c->deploy("Bad Name", kStack);
  ASSERT_FALSE(name);
  EXPECT_THAT(name.error().message(), ::testing::HasSubstr("stack name \"Bad Name\""));
  auto host = c->addHost({"h9", "tcp://nowhere:2376", {}});
  ASSERT_FALSE(host);
  EXPECT_EQ(host.error().code(), ErrorCode::Unavailable);
  EXPECT_TRUE(c->snapshot()->state.hosts.empty());
  c->stop();
}

}  // namespace
}  // namespace berth::cluster
