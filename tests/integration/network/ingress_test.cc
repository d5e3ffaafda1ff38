// The ingress against real engines: a published port answers on every host, spreads over the
// replicas on all hosts, and the replica sees the test client's own address (no SNAT); a port
// already taken on a host is an error that names the host.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "base/files.h"
#include "harness/names.h"
#include "harness/temp_dir.h"
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

TEST_F(IngressTest, OnlyHostsLabelledForTheIngressServeItWhenAnyIs) {
  const std::string stack = uniqueName("lbl");
  const int port = 18082;
  StackDir dir(echoStack(port, 2));
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  const auto answers = [&](int host) { return !get(fleet.host(host).address(), port).empty(); };
  Status s = waitFor(
      "every host serves the port",
      [&]() -> Status { return answers(0) && answers(1) && answers(2) ? ok() : fail(ErrorCode::NotFound, "not yet"); },
      30s, 200ms);
  ASSERT_TRUE(s) << s.error().message() << fleet.berthdLog();
  // Label h3 only: the others stop serving the port, whatever replicas they run.
  ASSERT_EQ(fleet.berth({"host", "label", "h3", "berth.ingress=true"}).exitCode, 0);
  s = waitFor(
      "only h3 serves the port",
      [&]() -> Status {
        return !answers(0) && !answers(1) && answers(2) ? ok() : fail(ErrorCode::NotFound, "not yet");
      },
      30s, 200ms);
  EXPECT_TRUE(s) << s.error().message() << fleet.berthdLog();
  ASSERT_EQ(fleet.berth({"host", "label", "h3", "berth.ingress-"}).exitCode, 0);
  s = waitFor(
      "every host serves the port again",
      [&]() -> Status { return answers(0) && answers(1) && answers(2) ? ok() : fail(ErrorCode::NotFound, "not yet"); },
      30s, 200ms);
  EXPECT_TRUE(s) << s.error().message() << fleet.berthdLog();
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

namespace berth::testing::controller {
namespace {

// A service answering GET /cgi-bin/who with "NAME REMOTE_ADDR X-Forwarded-For" (busybox httpd's
// CGI: the address it accepted from and the header the ingress added), from a directory every
// namespace host sees (they share the machine's file system).
std::string whoService(const TempDir& www, const std::string& name, const std::string& extra) {
  const fs::path dir = www.path() / name;
  fs::create_directories(dir / "cgi-bin");
  fs::create_directories(dir / "api");
  {
    std::ofstream script(dir / "cgi-bin" / "who");
    script << "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\necho " << name
           << " \"$REMOTE_ADDR\" \"$HTTP_X_FORWARDED_FOR\"\n";
  }
  fs::permissions(dir / "cgi-bin" / "who", fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read |
                                              fs::perms::group_exec | fs::perms::others_exec);
  std::ofstream(dir / "api" / "index.html") << name << "\n";
  return "  " + name + ":\n"
         "    image: busybox:latest\n"
         "    command: [httpd, -f, -p, \"80\", -h, /www]\n"
         "    volumes: [\"" + dir.string() + ":/www:ro\"]\n"
         "    stop_grace_period: 1s\n" + extra;
}

// curl through the ingress at `address` with a Host header; the body, or "" when it failed.
std::string getHost(const std::string& address, const std::string& host, const std::string& path) {
  auto r = runCommand({"curl", "-s", "-f", "--max-time", "3", "-H", "Host: " + host, "http://" + address + path},
                      {.timeout = 10s});
  return r && r->exitCode == 0 ? std::string(trim(r->out)) : std::string();
}

TEST_F(IngressTest, RoutesHttpByHostAndPathWithTlsAndTheClientsAddress) {
  // A certificate for shop.example.com, where berthd reads the ingress's.
  TempDir pki("berth-ingress-pki-");
  const std::string cert = (pki.path() / "cert.pem").string(), key = (pki.path() / "key.pem").string();
  auto made = runCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                          "-days", "2", "-subj", "/CN=shop.example.com", "-addext",
                          "subjectAltName=DNS:shop.example.com"});
  ASSERT_TRUE(made && made->exitCode == 0) << (made ? made->describe() : made.error().message());
  {
    std::ofstream bundle(fleet.ingressTlsDir() / "shop.pem");
    bundle << readFile(cert).value() << readFile(key).value();
  }
  TempDir www("berth-www-");
  const std::string stack = uniqueName("http");
  StackDir dir("services:\n" +
               whoService(www, "web", "    x-berth-ingress: {host: shop.example.com}\n"
                                      "    deploy: {replicas: 2, placement: {max_replicas_per_node: 1}}\n") +
               whoService(www, "api", "    x-berth-ingress: {host: shop.example.com, path: /api}\n"
                                      "    deploy: {placement: {constraints: [node.hostname == node-3]}}\n"));
  auto r = fleet.berth({"stack", "deploy", "-c", dir.file(), stack});
  ASSERT_EQ(r.exitCode, 0) << r.describe() << fleet.berthdLog();

  // Every host routes by host name and path; the replica saw the client's own address, and the
  // request says it in X-Forwarded-For too.
  for (int i = 0; i < kHosts; ++i) {
    const std::string client = fleet.host(i).gatewayAddress();
    Status s = waitFor(
        "web through host " + std::to_string(i + 1),
        [&]() -> Status {
          std::string body = getHost(fleet.host(i).address(), "shop.example.com", "/cgi-bin/who");
          // busybox httpd listens on IPv6: REMOTE_ADDR is the IPv4-mapped form.
          return body == "web [::ffff:" + client + "] " + client ? ok() : fail(ErrorCode::NotFound, "got '" + body + "'");
        },
        30s, 200ms);
    ASSERT_TRUE(s) << s.error().message() << fleet.berthdLog();
    s = waitFor(
        "api through host " + std::to_string(i + 1),
        [&]() -> Status {
          std::string body = getHost(fleet.host(i).address(), "shop.example.com", "/api/");
          return body == "api" ? ok() : fail(ErrorCode::NotFound, "got '" + body + "'");
        },
        30s, 200ms);
    EXPECT_TRUE(s) << s.error().message();
    EXPECT_EQ(getHost(fleet.host(i).address(), "other.example.com", "/cgi-bin/who"), "");  // no route: 503
  }
  // TLS for the name, from the certificate given, on every host.
  for (int i = 0; i < kHosts; ++i) {
    Status s = waitFor(
        "https through host " + std::to_string(i + 1),
        [&]() -> Status {
          auto tls = runCommand({"curl", "-s", "-f", "--max-time", "3", "--cacert", cert, "--resolve",
                                 "shop.example.com:443:" + fleet.host(i).address(), "https://shop.example.com/api/"},
                                {.timeout = 10s});
          return tls && tls->exitCode == 0 && trim(tls->out) == "api" ? ok()
                                                                       : fail(ErrorCode::NotFound, tls ? tls->describe() : "");
        },
        30s, 200ms);
    EXPECT_TRUE(s) << s.error().message();
  }
  fleet.removeStack(stack);
  fs::remove(fleet.ingressTlsDir() / "shop.pem");
}

TEST_F(IngressTest, ARollingUpdateBehindTheIngressDropsNoRequest) {
  TempDir www("berth-www-");
  const std::string stack = uniqueName("roll");
  // The service's files are written once: rewriting the CGI script while the loop runs would let
  // httpd exec a half-written file (its 404), which is the test's fault, not the ingress's.
  const std::string web = whoService(www, "web",
                                     "    x-berth-ingress: {host: roll.example.com}\n"
                                     "    deploy: {replicas: 2, placement: {max_replicas_per_node: 1}}\n");
  const auto file = [&](const std::string& version) {
    return "services:\n" + web + "    environment: {VERSION: \"" + version + "\"}\n";
  };
  StackDir dir(file("1"));
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  Status s = waitFor(
      "the route answers",
      [&]() -> Status {
        return getHost(fleet.host(0).address(), "roll.example.com", "/cgi-bin/who").empty()
                   ? fail(ErrorCode::NotFound, "no answer")
                   : ok();
      },
      30s, 200ms);
  ASSERT_TRUE(s) << s.error().message() << fleet.berthdLog();

  // A request loop through host 1's ingress while both replicas are replaced, one at a time.
  std::atomic<bool> done{false};
  std::atomic<int> sent{0};
  std::vector<std::string> failures;
  std::jthread loop([&] {
    while (!done) {
      ++sent;
      auto reply = runCommand({"curl", "-s", "-S", "-f", "--max-time", "5", "-H", "Host: roll.example.com",
                               "http://" + fleet.host(0).address() + "/cgi-bin/who"},
                              {.timeout = 10s});
      if (!reply || reply->exitCode != 0 || reply->out.rfind("web ", 0) != 0) {
        failures.push_back(reply ? reply->describe() : reply.error().message());
      }
    }
  });
  dir.write(file("2"));
  auto update = fleet.berth({"stack", "deploy", "-c", dir.file(), stack});
  done = true;
  loop.join();
  ASSERT_EQ(update.exitCode, 0) << update.describe();
  EXPECT_GT(sent.load(), 20);
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << sent.load() << " requests failed, the first:\n"
                                << (failures.empty() ? "" : failures.front()) << fleet.berthdLog();
  fleet.removeStack(stack);
}

}  // namespace
}  // namespace berth::testing::controller
