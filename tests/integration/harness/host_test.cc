// Self-tests of the test harness (tests/harness): private engines, namespace hosts, their clean-up.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <future>
#include <string>
#include <thread>

#include "base/files.h"
#include "base/strings.h"
#include "harness/busybox_image.h"
#include "harness/engine_probe.h"
#include "harness/names.h"
#include "harness/subprocess.h"
#include "harness/temp_dir.h"
#include "harness/test_host.h"
#include "harness/wait.h"

namespace berth::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// `docker` (the Debian CLI) against one engine, never the user's.
CommandResult docker(const TestHost& host, const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout = 60s) {
  std::vector<std::string> argv{"docker", "-H", host.unixSocketUrl()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = runCommand(argv,
                      {.unsetEnv = {"DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"},
                       .timeout = timeout});
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : CommandResult{};
}

ino_t nsInode(pid_t pid, const char* ns) {
  struct stat st {};
  const std::string path = "/proc/" + std::to_string(pid) + "/ns/" + ns;
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// What identifies a host's resources, recorded while it runs.
struct HostTrace {
  int index = 0;
  pid_t holder = 0;
  ino_t netns = 0;
  ino_t pidns = 0;
  fs::path dir;
};

HostTrace traceOf(const TestHost& host) {
  return {host.index(), host.holderPid(), nsInode(host.holderPid(), "net"), nsInode(host.holderPid(), "pid"),
          host.directory()};
}

// Everything a host could leave behind, described; empty when nothing is left.
std::string leftovers(const HostTrace& t) {
  std::string found;
  const std::string n = std::to_string(t.index);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = std::stoi(name);
    if (pid == t.holder) {
      auto stat = readFile(entry.path() / "stat");
      if (stat && stat->find(") Z") == std::string::npos) found += "holder " + name + " alive; ";
      continue;
    }
    if (t.netns != 0 && nsInode(pid, "net") == t.netns) found += "process " + name + " in netns; ";
    if (t.pidns != 0 && nsInode(pid, "pid") == t.pidns) found += "process " + name + " in pid ns; ";
  }
  if (fs::exists("/sys/class/net/bth" + n, ec)) found += "veth bth" + n + "; ";
  if (fs::exists(t.dir, ec)) found += "directory " + t.dir.string() + "; ";
  if (auto mounts = readFile("/proc/self/mountinfo");
      mounts && mounts->find(t.dir.string()) != std::string::npos) {
    found += "mounts under " + t.dir.string() + "; ";
  }
  for (const auto& entry : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    if (fs::exists(entry.path() / ("berth-test-" + n), ec)) {
      found += "cgroup " + (entry.path() / ("berth-test-" + n)).string() + "; ";
    }
  }
  if (fs::exists("/sys/fs/cgroup/berth-test-" + n, ec)) found += "cgroup berth-test-" + n + "; ";
  if (auto rules = runCommand({"iptables", "-w", "-S", "FORWARD"}); rules) {
    if (rules->out.find(" bth" + n + " ") != std::string::npos) found += "iptables rule; ";
  }
  return found;
}

std::string waitForNoLeftovers(const HostTrace& t, std::chrono::milliseconds timeout) {
  std::string left;
  waitUntil([&] { return (left = leftovers(t)).empty(); }, timeout, 50ms);
  return left;
}

TEST(SharedEngineTest, AnswersOnItsSocketAndRunsBusybox) {
  TestHost& engine = sharedEngine();
  EXPECT_TRUE(pingEngine(engine.unixSocketPath().string()).has_value());
  EXPECT_TRUE(startsWith(engine.unixSocketUrl(), "unix:///tmp/"));
  auto version = unixHttpRequest(engine.unixSocketPath().string(), "GET", "/version");
  ASSERT_TRUE(version) << version.error().message();
  EXPECT_EQ(version->status, 200);
  EXPECT_NE(version->body.find("\"ApiVersion\""), std::string::npos) << version->body;

  const CommandResult run = docker(engine, {"run", "--rm", kBusyboxImage, "sh", "-c",
                                            "echo hello from busybox; id -u; readlink /bin/httpd"});
  ASSERT_EQ(run.exitCode, 0) << run.describe();
  EXPECT_EQ(run.out, "hello from busybox\n0\nbusybox\n");
  // The image is the offline one: CMD ["sh"], PATH set, applets present.
  const CommandResult inspect =
      docker(engine, {"image", "inspect", "-f", "{{json .Config.Cmd}} {{json .Config.Env}}", kBusyboxImage});
  EXPECT_EQ(inspect.out,
            "[\"sh\"] [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"]\n");
}

TEST(SharedEngineTest, PublishedPortsAnswerAtTheHostAddress) {
  TestHost& engine = sharedEngine();
  const std::string name = uniqueName("httpd");
  EXPECT_TRUE(startsWith(name, "httpd-sharedenginetest-publishedportsanswerat")) << name;
  EXPECT_LE(name.size(), 60u);
  EXPECT_NE(uniqueName("httpd"), name);
  const CommandResult started =
      docker(engine, {"run", "-d", "--name", name, "-p", "18080:80", kBusyboxImage, "sh", "-c",
                      "mkdir -p /www && echo served-by-busybox > /www/index.html && httpd -f -p 80 -h /www"});
  ASSERT_EQ(started.exitCode, 0) << started.describe();
  std::string body;
  const bool served = waitUntil(
      [&] {
        auto r = runCommand(
            {"curl", "-sS", "--max-time", "2", "--noproxy", "*", "http://" + engine.address() + ":18080/"});
        body = r ? r->out : "";
        return body == "served-by-busybox\n";
      },
      10s);
  EXPECT_TRUE(served) << body;
  EXPECT_EQ(docker(engine, {"rm", "-f", name}).exitCode, 0);
}

TEST(TestHostTest, TwoHostsStartConcurrentlyWithTheirOwnAddressesAndReachEachOther) {
  auto startTimed = [] {
    const auto t0 = std::chrono::steady_clock::now();
    auto host = TestHost::start();
    return std::pair{std::move(host), std::chrono::steady_clock::now() - t0};
  };
  auto fa = std::async(std::launch::async, startTimed);
  auto fb = std::async(std::launch::async, startTimed);
  auto [ra, ta] = fa.get();
  auto [rb, tb] = fb.get();
  ASSERT_TRUE(ra) << ra.error().message();
  ASSERT_TRUE(rb) << rb.error().message();
  TestHost& a = **ra;
  TestHost& b = **rb;
  std::printf("host start-up (concurrently): %.2fs and %.2fs\n", std::chrono::duration<double>(ta).count(),
              std::chrono::duration<double>(tb).count());
  EXPECT_LT(ta, 20s);
  EXPECT_LT(tb, 20s);

  EXPECT_NE(a.index(), b.index());
  EXPECT_NE(a.address(), b.address());
  EXPECT_NE(a.hostname(), b.hostname());
  EXPECT_NE(a.unixSocketPath(), b.unixSocketPath());
  for (TestHost* h : {&a, &b}) {
    auto name = h->run({"hostname"});
    ASSERT_TRUE(name) << name.error().message();
    EXPECT_EQ(name->out, h->hostname() + "\n");
    auto addr = h->run({"ip", "-4", "-o", "addr", "show", "dev", "eth0"});
    ASSERT_TRUE(addr);
    EXPECT_NE(addr->out.find(h->address() + "/24"), std::string::npos) << addr->out;
    // Its own engine, with its own bridge.
    EXPECT_TRUE(pingEngine(h->unixSocketPath().string()).has_value());
    auto bridge = h->run({"ip", "-4", "-o", "addr", "show", "dev", "docker0"});
    ASSERT_TRUE(bridge);
    EXPECT_NE(bridge->out.find("10.214." + std::to_string(h->index()) + ".1/24"), std::string::npos)
        << bridge->out;
    const CommandResult info = docker(*h, {"info", "-f", "{{.Name}}"});
    EXPECT_EQ(info.out, h->hostname() + "\n") << info.describe();
  }

  // B serves on a published port; A reaches it from the host and from a container.
  const CommandResult served =
      docker(b, {"run", "-d", "-p", "8080:80", kBusyboxImage, "sh", "-c",
                 "mkdir /www && hostname > /www/index.html && httpd -f -p 80 -h /www"});
  ASSERT_EQ(served.exitCode, 0) << served.describe();
  const std::string url = "http://" + b.address() + ":8080/";
  std::string got;
  EXPECT_TRUE(waitUntil(
      [&] {
        auto r = a.run({"timeout", "2", "busybox", "wget", "-q", "-O", "-", url});
        got = r ? r->out + r->err : "";
        return r && r->exitCode == 0;
      },
      10s))
      << got;
  const CommandResult fromContainer =
      docker(a, {"run", "--rm", kBusyboxImage, "timeout", "5", "wget", "-q", "-O", "-", url});
  EXPECT_EQ(fromContainer.exitCode, 0) << fromContainer.describe();
  EXPECT_EQ(fromContainer.out.size(), 13u) << fromContainer.out;  // a container id prefix + "\n"
}

TEST(TestHostTest, EngineStopsAndStartsThroughItsInitScript) {
  auto started = TestHost::start();
  ASSERT_TRUE(started) << started.error().message();
  TestHost& host = **started;
  auto status = host.run({"service", "docker", "status"});
  ASSERT_TRUE(status);
  EXPECT_EQ(status->exitCode, 0) << status->describe();
  EXPECT_TRUE(startsWith(status->out, "docker is running (pid ")) << status->out;

  ASSERT_TRUE(host.stopEngine().has_value());
  EXPECT_FALSE(pingEngine(host.unixSocketPath().string()).has_value());
  status = host.run({"/etc/init.d/docker", "status"});
  EXPECT_EQ(status->exitCode, 3) << status->describe();

  // The engine is configured through the host's own /etc/docker/daemon.json.
  auto config = host.run({"cat", "/etc/docker/daemon.json"});
  ASSERT_TRUE(config);
  EXPECT_NE(config->out.find("\"data-root\": \"" + (host.directory() / "data").string()), std::string::npos)
      << config->out;
  auto noConfigOutside = readFile("/etc/docker/daemon.json");
  if (noConfigOutside) {
    EXPECT_NE(*noConfigOutside, config->out);
  }

  const auto t0 = std::chrono::steady_clock::now();
  auto restarted = host.run({"service", "docker", "start"});
  ASSERT_TRUE(restarted);
  EXPECT_EQ(restarted->exitCode, 0) << restarted->describe();
  EXPECT_TRUE(host.waitForEngine().has_value());
  std::printf("engine start through the init script: %.2fs\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  EXPECT_TRUE(host.restartEngine().has_value());
  // Images survive restarts (the data-root lives as long as the host).
  EXPECT_EQ(docker(host, {"image", "inspect", "-f", "ok", kBusyboxImage}).out, "ok\n");
}

TEST(TestHostTest, UnreachableHostDropsConnections) {
  auto started = TestHost::start(HostOptions{.ssh = true});
  ASSERT_TRUE(started) << started.error().message();
  TestHost& host = **started;
  ASSERT_TRUE(host.setReachable(false).has_value());
  const auto t0 = std::chrono::steady_clock::now();
  auto r = runCommand(
      {"curl", "-sS", "--noproxy", "*", "--connect-timeout", "1", "telnet://" + host.address() + ":22"},
      {.timeout = 10s});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exitCode, 28) << r->describe();  // curl: operation timed out (not refused)
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms);
  ASSERT_TRUE(host.setReachable(true).has_value());
  auto again =
      runCommand({"curl", "-sS", "--noproxy", "*", "--max-time", "1", "telnet://" + host.address() + ":22"},
                 {.timeout = 10s});
  ASSERT_TRUE(again);
  EXPECT_TRUE(startsWith(again->out, "SSH-2.0-")) << again->describe();
}

TEST(TestHostTest, SshdAcceptsTheTestKeyAndLandsInTheHost) {
  auto started = TestHost::start(HostOptions{.engine = false, .ssh = true});
  ASSERT_TRUE(started) << started.error().message();
  TestHost& host = **started;
  const std::vector<std::string> common{"ssh",
                                        "-o",
                                        "BatchMode=yes",
                                        "-o",
                                        "StrictHostKeyChecking=yes",
                                        "-o",
                                        "UserKnownHostsFile=" + host.sshKnownHosts().string(),
                                        "-o",
                                        "ConnectTimeout=5",
                                        "-p",
                                        std::to_string(host.sshPort())};
  auto withKey = [&](const fs::path& key) {
    std::vector<std::string> argv = common;
    argv.insert(argv.end(), {"-o", "IdentitiesOnly=yes", "-i", key.string(),
                             host.sshUser() + "@" + host.address(), "hostname; cat /etc/hostname"});
    auto r = runCommand(argv, {.timeout = 20s});
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : CommandResult{};
  };
  const CommandResult good = withKey(host.sshIdentity());
  EXPECT_EQ(good.exitCode, 0) << good.describe();
  EXPECT_EQ(good.out, host.hostname() + "\n" + host.hostname() + "\n");

  TempDir tmp;
  auto keygen = runCommand({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (tmp / "other").string()});
  ASSERT_TRUE(keygen && keygen->exitCode == 0);
  const CommandResult bad = withKey(tmp / "other");
  EXPECT_EQ(bad.exitCode, 255) << bad.describe();
  EXPECT_NE(bad.err.find("Permission denied (publickey)"), std::string::npos) << bad.err;
  EXPECT_TRUE(startsWith(host.sshHostPublicKey(), "ssh-ed25519 AAAA"));
}

// What berth's ssh:// transport does: a direct-streamlocal channel to the engine's socket inside
// the host (here through `ssh -L`), answered by that host's engine.
TEST(TestHostTest, SshForwardsToTheHostsEngineSocket) {
  auto started = TestHost::start(HostOptions{.loadBusybox = false, .ssh = true});
  ASSERT_TRUE(started) << started.error().message();
  TestHost& host = **started;
  TempDir tmp;
  const fs::path local = tmp / "engine.sock";
  auto forward =
      runCommand({"ssh", "-f", "-N", "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes", "-o",
                  "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + host.sshKnownHosts().string(),
                  "-o", "IdentitiesOnly=yes", "-i", host.sshIdentity().string(), "-L",
                  local.string() + ":/var/run/docker.sock", host.sshUser() + "@" + host.address()},
                 {.timeout = 20s});
  ASSERT_TRUE(forward);
  ASSERT_EQ(forward->exitCode, 0) << forward->describe();
  ASSERT_TRUE(waitUntil([&] { return fs::exists(local); }, 5s));
  auto info = unixHttpRequest(local.string(), "GET", "/info");
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->status, 200);
  EXPECT_NE(info->body.find("\"Name\":\"" + host.hostname() + "\""), std::string::npos)
      << info->body.substr(0, 300);
  // The backgrounded ssh lives in the test's process tree, not the host's; stopping the host
  // closes its connection and it exits.
  host.stop();
  EXPECT_TRUE(waitUntil(
      [&] { return !unixHttpRequest(local.string(), "GET", "/_ping", {}, {}, 1s).has_value(); }, 10s));
}

TEST(TestHostTest, StopLeavesNothingBehind) {
  auto started = TestHost::start();
  ASSERT_TRUE(started) << started.error().message();
  TestHost& host = **started;
  // A running container, so there are shims, overlay mounts, cgroups and container netns to clean.
  const CommandResult run = docker(host, {"run", "-d", "-p", "9000:9000", kBusyboxImage, "sleep", "600"});
  ASSERT_EQ(run.exitCode, 0) << run.describe();
  const HostTrace trace = traceOf(host);
  ASSERT_NE(trace.netns, 0u);
  EXPECT_NE(leftovers(trace), "");  // the check sees a live host
  const auto t0 = std::chrono::steady_clock::now();
  host.stop();
  std::printf("host stop: %.2fs\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  EXPECT_EQ(leftovers(trace), "");
  host.stop();  // idempotent
}

// The body of the interruption tests, run in a child copy of this binary: starts a host with a
// running container, reports it, and waits to be killed.
TEST(HarnessChildTest, HoldAHostUntilKilled) {
  const char* report = std::getenv("BERTH_HARNESS_CHILD_REPORT");
  if (report == nullptr) GTEST_SKIP() << "only run by the interruption tests";
  auto started = TestHost::start();
  ASSERT_TRUE(started) << started.error().message();
  TestHost& host = **started;
  ASSERT_EQ(docker(host, {"run", "-d", kBusyboxImage, "sleep", "600"}).exitCode, 0);
  const HostTrace t = traceOf(host);
  std::ofstream(report) << t.index << " " << t.holder << " " << t.netns << " " << t.pidns << " "
                        << t.dir.string() << "\n";
  std::this_thread::sleep_for(600s);
}

// Starts the child test above, waits for its report, delivers `sig`, and returns the trace.
HostTrace runChildAndSignal(int sig) {
  TempDir tmp;
  const fs::path report = tmp / "report";
  const pid_t child = ::fork();
  if (child == 0) {
    ::setenv("BERTH_HARNESS_CHILD_REPORT", report.c_str(), 1);
    ::execl("/proc/self/exe", "harness-child", "--gtest_filter=HarnessChildTest.*", nullptr);
    ::_exit(127);
  }
  HostTrace t;
  const bool reported = waitUntil(
      [&] {
        auto text = readFile(report);
        if (!text || text->empty() || text->back() != '\n') return false;
        std::istringstream in(*text);
        std::string dir;
        in >> t.index >> t.holder >> t.netns >> t.pidns >> dir;
        t.dir = dir;
        return true;
      },
      60s);
  EXPECT_TRUE(reported);
  ::kill(child, sig);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status)) << status;
  if (WIFSIGNALED(status)) {
    EXPECT_EQ(WTERMSIG(status), sig);
  }
  return t;
}

TEST(TestHostTest, InterruptedTestBinaryTearsItsHostsDown) {
  const HostTrace t = runChildAndSignal(SIGINT);
  ASSERT_NE(t.index, 0);
  // The handler waited for the clean-up before letting the signal kill the process.
  EXPECT_EQ(leftovers(t), "");
}

TEST(TestHostTest, KilledTestBinaryStillTakesItsHostsDown) {
  const HostTrace t = runChildAndSignal(SIGKILL);
  ASSERT_NE(t.index, 0);
  // Nobody could wait here: the holder noticed its lifeline close and cleaned up on its own.
  EXPECT_EQ(waitForNoLeftovers(t, 15s), "");
}

}  // namespace
}  // namespace berth::testing
