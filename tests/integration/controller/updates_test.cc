// Rolling updates on the fleet: batches as update_config says, health-gated; a failing update rolled
// back automatically; `service rollback`; `service update --force`; `service scale`; and a
// start-first update behind a proxy that drops no request.
#include <gmock/gmock.h>

#include <atomic>
#include <thread>

#include "integration/controller/controller_fixture.h"
#include "pki/certificate.h"

namespace berth::testing::controller {
namespace {

using ::testing::HasSubstr;

std::string webStack(const std::string& version, const std::string& extra = "") {
  return R"(
services:
  web:
    image: busybox
    command: [sh, -c, "echo version $$V; exec sleep 3600"]
    environment: {V: ")" + version + R"("}
    stop_signal: SIGKILL
    deploy:
      replicas: 3
      update_config: {parallelism: 1, monitor: 1s, order: stop-first)" + extra + R"(}
      rollback_config: {parallelism: 0, monitor: 1s}
)";
}

// The V of every running container of the stack.
std::multiset<std::string> versions(const Fleet& fleet, const std::string& stack) {
  std::multiset<std::string> out;
  for (int i = 0; i < kHosts; ++i) {
    for (const auto& c : fleet.containers(i, stack)) {
      if (c.state != engine::ContainerStatus::Running) continue;
      auto inspect = fleet.engineOf(i).inspectContainer(c.id);
      if (!inspect) continue;
      for (const std::string& e : inspect->config.env) {
        if (startsWith(e, "V=")) out.insert(e.substr(2));
      }
    }
  }
  return out;
}

TEST(UpdateTest, AChangedServiceRollsOutTaskByTaskAndAnUnchangedOneIsNotTouched) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("roll");
  StackDir dir(webStack("1") + R"(
  other:
    image: busybox
    command: [sleep, "3600"]
    stop_signal: SIGKILL
)");
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  std::string otherTask;
  for (const auto& t : fleet.tasks(stack)) {
    if (t.service == "other") otherTask = t.id;
  }
  dir.write(webStack("2") + R"(
  other:
    image: busybox
    command: [sleep, "3600"]
    stop_signal: SIGKILL
)");
  auto r = fleet.berth({"stack", "deploy", "-c", dir.file(), stack});
  ASSERT_EQ(r.exitCode, 0) << r.describe() << fleet.berthdLog();
  EXPECT_THAT(r.err, HasSubstr("updating web"));
  EXPECT_EQ(versions(fleet, stack), (std::multiset<std::string>{"2", "2", "2"}));
  // One task at a time: each replacement started only after the previous one ran for `monitor`.
  std::vector<api::TaskView> fresh;
  for (const auto& t : fleet.tasks(stack)) {
    if (t.service == "web" && t.desired == "running") fresh.push_back(t);
    if (t.service == "other") {
      EXPECT_EQ(t.id, otherTask) << "the unchanged service keeps its task";
    }
  }
  ASSERT_EQ(fresh.size(), 3u);
  std::sort(fresh.begin(), fresh.end(), [](const auto& a, const auto& b) { return a.createdAt < b.createdAt; });
  for (std::size_t i = 1; i < fresh.size(); ++i) {
    const auto prev = pki::parseTime(fresh[i - 1].createdAt);
    const auto next = pki::parseTime(fresh[i].createdAt);
    ASSERT_TRUE(prev && next);
    EXPECT_GE(*next - *prev, 1s) << "batches a monitor period apart";
  }
  auto inspect = fleet.berth({"service", "inspect", stack + "_web"});
  EXPECT_THAT(inspect.out, HasSubstr("\"updateState\": \"completed\""));
  fleet.removeStack(stack);
}

TEST(UpdateTest, AFailingUpdateIsRolledBackAndTheDeploySaysWhy) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("rollback");
  StackDir dir(webStack("1", ", failure_action: rollback"));
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  // Version 2 exits at once: the first new task fails within its monitor period.
  std::string broken = webStack("2", ", failure_action: rollback");
  broken.replace(broken.find("exec sleep 3600"), 15, "exit 3");
  dir.write(broken);
  auto r = fleet.berth({"stack", "deploy", "-c", dir.file(), stack});
  EXPECT_NE(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("update rolled back: web."));
  EXPECT_THAT(r.err, HasSubstr("exited with status 3"));
  const Status back = waitFor(
      "version 1 everywhere",
      [&]() -> Status {
        auto v = versions(fleet, stack);
        if (v != std::multiset<std::string>{"1", "1", "1"}) return fail(ErrorCode::NotFound, "not yet");
        return ok();
      },
      60s, 200ms);
  EXPECT_TRUE(back) << back.error().message() << fleet.berth({"stack", "ps", stack}).out << fleet.berthdLog();
  auto ls = fleet.berth({"service", "ls"});
  EXPECT_THAT(ls.out, HasSubstr("rollback_completed"));
  fleet.removeStack(stack);
}

TEST(UpdateTest, ServiceRollbackReturnsToThePreviousDefinition) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("manual");
  StackDir dir(webStack("1"));
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  dir.write(webStack("2"));
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  EXPECT_EQ(versions(fleet, stack), (std::multiset<std::string>{"2", "2", "2"}));
  auto r = fleet.berth({"service", "rollback", stack + "_web"});
  ASSERT_EQ(r.exitCode, 0) << r.describe() << fleet.berthdLog();
  EXPECT_THAT(r.err, HasSubstr("is rolled back"));
  EXPECT_EQ(versions(fleet, stack), (std::multiset<std::string>{"1", "1", "1"}));
  // Nothing to roll back to a second time... but the definition before is version 2 now.
  fleet.removeStack(stack);
}

TEST(UpdateTest, ForceReplacesEveryTaskAndScaleChangesTheCount) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("force");
  StackDir dir(webStack("1"));
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  std::set<std::string> before;
  for (const auto& t : fleet.tasks(stack)) before.insert(t.id);
  auto r = fleet.berth({"service", "update", "--force", "web"});
  ASSERT_EQ(r.exitCode, 0) << r.describe() << fleet.berthdLog();
  int replaced = 0;
  for (const auto& t : fleet.tasks(stack)) {
    if (t.desired == "running") {
      EXPECT_EQ(before.count(t.id), 0u) << t.name;
      ++replaced;
    }
  }
  EXPECT_EQ(replaced, 3);

  auto up = fleet.berth({"service", "scale", stack + "_web=5"});
  ASSERT_EQ(up.exitCode, 0) << up.describe();
  EXPECT_EQ(fleet.runningContainers(stack, "web"), 5);
  auto down = fleet.berth({"service", "scale", stack + "_web=1"});
  ASSERT_EQ(down.exitCode, 0) << down.describe();
  const Status one = waitFor(
      "one container",
      [&]() -> Status {
        const int n = fleet.runningContainers(stack, "web");
        return n == 1 ? ok() : fail(ErrorCode::NotFound, std::to_string(n));
      },
      30s);
  EXPECT_TRUE(one) << one.error().message();
  EXPECT_EQ(fleet.running(stack).count("web.1"), 1u) << "scale down removes the highest slots";
  auto bad = fleet.berth({"service", "scale", "nosuch=2"});
  EXPECT_EQ(bad.exitCode, 1);
  EXPECT_THAT(bad.err, HasSubstr("no service \"nosuch\""));
  fleet.removeStack(stack);
}

// The proxy example's images, with an nginx that resolves the app's replicas every second and
// retries another one when a connection fails, so that a replica going away costs no request.
constexpr const char* kResolvingNginx = R"(user root;
worker_processes 1;
error_log stderr;
pid /run/nginx.pid;
events {}
http {
  access_log off;
  client_body_temp_path /tmp/client_body;
  proxy_temp_path /tmp/proxy;
  fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi;
  scgi_temp_path /tmp/scgi;
  resolver 127.0.0.11 valid=1s ipv6=off;
  server {
    listen 80;
    location / {
      set $backend app;
      proxy_pass http://$backend:8080/cgi-bin/hostname;
      proxy_next_upstream error timeout http_502;
      proxy_next_upstream_tries 4;
      proxy_connect_timeout 2s;
    }
  }
}
)";

TEST(UpdateTest, AStartFirstHealthGatedUpdateBehindAProxyDropsNoRequest) {
  Fleet& fleet = Fleet::get();
  auto prepared = runCommand({std::string(BERTH_SOURCE_DIR) + "/examples/prepare"});
  ASSERT_TRUE(prepared && prepared->exitCode == 0) << (prepared ? prepared->describe() : prepared.error().message());
  const std::string stack = uniqueName("zero");
  TempDir dir("berth-zero-");
  std::error_code ec;
  std::filesystem::copy(std::string(BERTH_SOURCE_DIR) + "/examples/proxy/app", dir.path() / "app",
                        std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks, ec);
  ASSERT_FALSE(ec) << ec.message();
  std::filesystem::copy(std::string(BERTH_SOURCE_DIR) + "/examples/proxy/proxy", dir.path() / "proxy",
                        std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks, ec);
  ASSERT_FALSE(ec) << ec.message();
  dir.write("proxy/nginx.conf", kResolvingNginx);
  const auto compose = [&](const std::string& version) {
    return R"(
services:
  app:
    build: ./app
    image: berth-test/zero-app:1
    environment: {V: ")" + version + R"("}
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/cgi-bin/hostname"]
      interval: 500ms
      timeout: 2s
      retries: 20
    deploy:
      replicas: 2
      placement: {constraints: [node.hostname == h1]}
      update_config: {parallelism: 1, order: start-first, monitor: 1s}
  proxy:
    build: ./proxy
    image: berth-test/zero-proxy:1
    ports: ["8080:80"]
    deploy:
      placement: {constraints: [node.hostname == h1]}
)";
  };
  dir.write("compose.yaml", compose("1"));
  auto r = fleet.berth({"stack", "deploy", "-c", (dir.path() / "compose.yaml").string(), stack}, 300s);
  ASSERT_EQ(r.exitCode, 0) << r.describe() << fleet.berthdLog();
  const std::string url = "http://" + fleet.host(0).address() + ":8080/";
  const auto get = [&] {
    auto c = runCommand({"curl", "-sS", "--noproxy", "*", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}", url},
                        {.timeout = 20s});
    return c && c->exitCode == 0 && c->out == "200";
  };
  ASSERT_TRUE(waitUntil(get, 30s)) << "the proxy answers";

  // A request loop through the whole update.
  std::atomic<bool> stop{false};
  std::atomic<int> okCount{0};
  std::atomic<int> failed{0};
  std::thread loop([&] {
    while (!stop) {
      (get() ? okCount : failed) += 1;
    }
  });
  dir.write("compose.yaml", compose("2"));
  auto update = fleet.berth({"stack", "deploy", "-c", (dir.path() / "compose.yaml").string(), stack}, 300s);
  stop = true;
  loop.join();
  ASSERT_EQ(update.exitCode, 0) << update.describe() << fleet.berthdLog();
  EXPECT_EQ(failed.load(), 0) << okCount.load() << " requests answered";
  EXPECT_GT(okCount.load(), 20);
  fleet.removeStack(stack);
}

}  // namespace
}  // namespace berth::testing::controller
