// The ingress against real engines: a published port answers on every host, spreads over the
// replicas on all hosts, and the replica sees the test client's own address (no SNAT); a port
// already taken on a host is an error that names the host.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "harness/names.h"
#include "harness/wait.h"
#include "integration/controller/controller_fixture.h"

namespace berth::testing::controller {
namespace {

// GET / from the test process (curl); the body, or "" when it failed.
std::string get(const std::string& address, int port) {
  auto r = runCommand({"curl", "-s", "--max-time", "3", "http://" + address + ":" + std::to_string(port) + "/"},
                      {.timeout = 10s});
  return r && r->exitCode == 0 ? std::string(trim(r->out)) : std::string();
}

std::string echoStack(int port, int replicas) {
  return "services:\n"
         "  echo:\n"
         "    image: busybox:latest\n"
         // -v: httpd logs each client's address:port, which is what the replica saw.
         "    command: [sh, -c, \"mkdir -p /www && hostname > /www/index.html && exec httpd -f -v -p 80 -h /www\"]\n"
         "    ports: [\"" + std::to_string(port) + ":80\"]\n"
         "    deploy: {replicas: " + std::to_string(replicas) + ", placement: {max_replicas_per_node: 1}}\n";
}

class IngressTest : public ::testing::Test {
 protected:
  Fleet& fleet = Fleet::get();

  // Everything a stack's containers printed, on every host.
  std::string logsOf(const std::string& stack) {
    std::string all;
    for (int i = 0; i < kHosts; ++i) {
      for (const auto& c : fleet.containers(i, stack)) {
        auto r = runCommand({"docker", "-H", fleet.host(i).unixSocketUrl(), "logs", c.id});
        if (r) all += r->out + r->err;
      }
    }
    return all;
  }
};

TEST_F(IngressTest, AnswersOnEveryHostSpreadsOverAllHostsAndKeepsTheClientsAddress) {
  const std::string stack = uniqueName("ing");
  const int port = 18080;
  StackDir dir(echoStack(port, 3));
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  // One replica per host: their hostnames (container IDs) are what they answer.
  std::set<std::string> replicas;
  for (int i = 0; i < kHosts; ++i) {
    for (const auto& c : fleet.containers(i, stack)) replicas.insert(c.id.substr(0, 12));
  }
  ASSERT_EQ(replicas.size(), 3u);

  for (int i = 0; i < kHosts; ++i) {
    Status s = waitFor(
        "the ingress answers on host " + std::to_string(i + 1),
        [&]() -> Status {
          std::string body = get(fleet.host(i).address(), port);
          return replicas.count(body) != 0 ? ok() : fail(ErrorCode::NotFound, "got '" + body + "'");
        },
        30s, 200ms);
    ASSERT_TRUE(s) << s.error().message() << fleet.berthdLog();
  }
  // Every replica, on every host, answers through one host's ingress.
  std::set<std::string> answered;
  for (int n = 0; n < 30 && answered.size() < replicas.size(); ++n) answered.insert(get(fleet.host(0).address(), port));
  EXPECT_EQ(answered, replicas);

  // The replicas saw the client's own address: the test process's end of each host's link.
  Status s = waitFor(
      "the client's address in the replicas' logs",
      [&]() -> Status {
        const std::string logs = logsOf(stack);
        for (int i = 0; i < kHosts; ++i) {
          // busybox httpd writes "[::ffff:10.213.2.1]:48254: response:200" (it listens on IPv6).
          if (logs.find(fleet.host(i).gatewayAddress() + "]:") == std::string::npos) {
            return fail(ErrorCode::NotFound, "no " + fleet.host(i).gatewayAddress() + " in:\n" + logs);
          }
        }
        return ok();
      },
      10s, 200ms);
  EXPECT_TRUE(s) << s.error().message();
  // No address of the mesh or of a host's own appears as a caller.
  EXPECT_THAT(logsOf(stack), ::testing::Not(::testing::HasSubstr("10.210.")));
  fleet.removeStack(stack);
}

TEST_F(IngressTest, APortTakenOnAHostIsAnErrorThatNamesTheHost) {
  const int port = 18081;
  const std::string squatter = uniqueName("squat");
  auto run = runCommand({"docker", "-H", fleet.host(0).unixSocketUrl(), "run", "-d", "--name", squatter, "-p",
                         std::to_string(port) + ":80", "busybox:latest", "sleep", "600"});
  ASSERT_TRUE(run && run->exitCode == 0) << (run ? run->describe() : run.error().message());
  const std::string stack = uniqueName("taken");
  StackDir dir(echoStack(port, 2));
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  Status s = waitFor(
      "the error",
      [&]() -> Status {
        const std::string log = fleet.berthdLog();
        for (const std::string& line : split(log, '\n')) {
          if (line.find("host h1: mesh: the ingress cannot publish port " + std::to_string(port) +
                        ": something else on this host listens on it") != std::string::npos)
            return ok();
        }
        return fail(ErrorCode::NotFound, "not in berthd's log");
      },
      30s, 200ms);
  EXPECT_TRUE(s) << s.error().message() << fleet.berthdLog();
  // The other hosts serve the port all the same.
  s = waitFor(
      "host 2 serves the port",
      [&]() -> Status { return get(fleet.host(1).address(), port).empty() ? fail(ErrorCode::NotFound, "no answer") : ok(); },
      30s, 200ms);
  EXPECT_TRUE(s) << s.error().message();
  // Once the port is free, host 1 serves it too (berthd tries again).
  ASSERT_TRUE(runCommand({"docker", "-H", fleet.host(0).unixSocketUrl(), "rm", "-f", squatter}));
  s = waitFor(
      "host 1 serves the port",
      [&]() -> Status { return get(fleet.host(0).address(), port).empty() ? fail(ErrorCode::NotFound, "no answer") : ok(); },
      30s, 200ms);
  EXPECT_TRUE(s) << s.error().message() << fleet.berthdLog();
  fleet.removeStack(stack);
}

}  // namespace
}  // namespace berth::testing::controller
