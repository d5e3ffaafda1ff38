// The controller's integration tests: the real berthd and berth against three namespace hosts, each
// with its own dockerd over mutual TLS (trusting berth's CA, so `host add --url` registers them),
// plus the harness's shared engine as "the CLI's engine" where test images are built once and from
// where berth spreads them.
//
// One fleet per test binary (hosts take a few hundred milliseconds each, but a stack's history is
// per test: every test deploys stacks of its own, named uniqueName("...")). Tests that break a host
// (link down, engine stopped) restore it before they end, and wait until the controller sees it
// ready again.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/messages.h"
#include "base/files.h"
#include "base/strings.h"
#include "engine/engine.h"
#include "engine/endpoint.h"
#include "harness/background_process.h"
#include "harness/berth_binary.h"
#include "harness/names.h"
#include "harness/subprocess.h"
#include "harness/temp_dir.h"
#include "harness/test_host.h"
#include "harness/wait.h"
#include "pki/ca_store.h"

namespace berth::testing::controller {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

inline constexpr int kHosts = 3;

class Fleet {
 public:
  static Fleet& get() {
    static Fleet* fleet = [] {
      auto* f = new Fleet();
      f->start();
      return f;
    }();
    return *fleet;
  }

  // berth with the fleet's config (CA, inventory) and controller; the shared engine as its engine.
  CommandResult berth(std::vector<std::string> args, std::chrono::milliseconds timeout = 180s,
                      const fs::path& dir = {}) const {
    std::vector<std::string> full{"-H", sharedEngine().unixSocketUrl()};
    full.insert(full.end(), args.begin(), args.end());
    const auto started = std::chrono::steady_clock::now();
    auto r = runBerth(full, {.env = {"XDG_CONFIG_HOME=" + config_.path().string(), "BERTH_CONTROLLER=" + controllerUrl()},
                             .timeout = timeout,
                             .workingDirectory = dir});
    EXPECT_TRUE(r) << r.error().message();
    if (std::getenv("BERTH_TEST_VERBOSE") != nullptr) {
      std::cerr << "[berth " << join(args, " ") << "] " << r->exitCode << " in "
                << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count()
                << " ms\n";
      if (std::getenv("BERTH_TEST_VERBOSE")[0] == '2') std::cerr << r->err;
    }
    return r ? *r : CommandResult{};
  }

  std::string controllerUrl() const { return "unix://" + (work_.path() / "berthd.sock").string(); }
  const fs::path& dataDir() const { return data_; }
  // Where berthd (with the mesh) reads the HTTP ingress's certificates.
  fs::path ingressTlsDir() const { return work_.path() / "ingress-tls"; }
  TestHost& host(int i) const { return *hosts_.at(static_cast<std::size_t>(i)); }
  std::string hostName(int i) const { return "h" + std::to_string(i + 1); }
  BackgroundProcess& berthd() const { return *berthd_; }

  // The engine of host i, as the test reaches it (its unix socket).
  engine::Engine& engineOf(int i) const { return *engines_.at(static_cast<std::size_t>(i)); }

  // Starts berthd (again), waiting until it answers. Its log accumulates in `log_`.
  void startBerthd(const std::vector<std::string>& extra = {}) {
    const char* level = std::getenv("BERTH_TEST_BERTHD_LOG");
    std::vector<std::string> argv{BERTHD_BINARY, "--data-dir", data_.string(), "--listen", controllerUrl(),
                                  "--log-level", level != nullptr ? level : "info"};
#ifndef BERTH_TEST_MESH
    // The mesh has tests of its own (tests/integration/network, which define BERTH_TEST_MESH).
    argv.push_back("--no-mesh");
#else
    fs::create_directories(ingressTlsDir());
    argv.insert(argv.end(), {"--ingress-tls", ingressTlsDir().string()});
#endif
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto p = BackgroundProcess::start(argv, {});
    ASSERT_TRUE(p) << p.error().message();
    berthd_ = std::move(*p);
    ASSERT_TRUE(berthd_->waitForOutput("ready:", 30s)) << berthd_->describe();
  }
  // SIGKILL: no clean-up of any kind.
  void killBerthd() {
    if (!berthd_) return;
    berthd_->signal(SIGKILL);
    (void)berthd_->wait(30s);
    berthd_.reset();
  }

  // Waits until every host is ready as the controller sees it.
  void waitHostsReady(std::chrono::milliseconds timeout = 30s) const {
    const Status s = waitFor(
        "every host ready",
        [&]() -> Status {
          auto r = berth({"host", "ls", "-q"});
          auto ls = berth({"host", "ls"});
          for (int i = 0; i < kHosts; ++i) {
            if (ls.out.find(hostName(i) + " ") == std::string::npos) return fail(ErrorCode::NotFound, ls.out);
          }
          if (ls.out.find("down") != std::string::npos || ls.out.find("unknown") != std::string::npos)
            return fail(ErrorCode::Unavailable, ls.out);
          return ok();
        },
        timeout, 200ms);
    ASSERT_TRUE(s) << s.error().message();
  }

  // The tasks of a stack (every one, history included).
  std::vector<api::TaskView> tasks(const std::string& stack) const {
    auto r = berth({"stack", "ps", stack, "--format", "json"});
    std::vector<api::TaskView> out;
    for (const std::string& line : split(r.out, '\n')) {
      if (line.empty()) continue;
      auto t = api::fromJson<api::TaskView>(line);
      if (t) out.push_back(*t);
    }
    return out;
  }
  // Live tasks in state "running", by name ("web.1" → host).
  std::map<std::string, std::string> running(const std::string& stack) const {
    std::map<std::string, std::string> out;
    for (const api::TaskView& t : tasks(stack)) {
      if (t.desired == "running" && t.state == "running") out[t.name] = t.host;
    }
    return out;
  }

  // Containers of a stack on host i, by name, running or not.
  std::vector<engine::ContainerSummary> containers(int i, const std::string& stack) const {
    engine::ListContainersOptions o;
    o.all = true;
    o.filters = {{"label", {"io.berth.stack=" + stack}}};
    auto list = engineOf(i).listContainers(o);
    EXPECT_TRUE(list) << list.error().message();
    return list ? *list : std::vector<engine::ContainerSummary>{};
  }
  // Running containers of a stack's service across every host.
  int runningContainers(const std::string& stack, const std::string& service) const {
    int n = 0;
    for (int i = 0; i < kHosts; ++i) {
      for (const auto& c : containers(i, stack)) {
        if (c.labels.count("io.berth.service") && c.labels.at("io.berth.service") == service &&
            c.state == engine::ContainerStatus::Running)
          ++n;
      }
    }
    return n;
  }

  // Removes a stack and waits until it is gone from the controller.
  void removeStack(const std::string& stack) const {
    auto r = berth({"stack", "rm", stack, "--timeout", "60"});
    EXPECT_EQ(r.exitCode, 0) << r.describe();
  }

  std::string berthdLog() const { return berthd_ ? berthd_->err() : std::string(); }

  // The last errors each host's engine logged: a failure the engine caused (a hook that could not
  // run, a network it could not make) shows there and nowhere else.
  std::string engineErrors(int perHost = 10) const {
    std::string out;
    for (int i = 0; i < static_cast<int>(hosts_.size()); ++i) {
      std::vector<std::string> errors;
      for (const std::string& line : split(host(i).engineLogTail(2000), '\n')) {
        if (line.find("level=error") != std::string::npos) errors.push_back(line);
      }
      if (errors.size() > static_cast<std::size_t>(perHost))
        errors.erase(errors.begin(), errors.end() - perHost);
      if (errors.empty()) continue;
      out += "[engine of " + hostName(i) + "] last errors:\n";
      for (const std::string& e : errors) out += "  " + e + "\n";
    }
    return out;
  }

 private:
  // A failed test is followed by the engines' last errors (berthd's log is in the failure itself).
  class EngineErrorsOnFailure : public ::testing::EmptyTestEventListener {
   public:
    explicit EngineErrorsOnFailure(const Fleet& fleet) : fleet_(fleet) {}
    void OnTestEnd(const ::testing::TestInfo& info) override {
      if (info.result() != nullptr && info.result()->Failed()) std::cerr << fleet_.engineErrors();
    }

   private:
    const Fleet& fleet_;
  };

  void start() {
    ::testing::UnitTest::GetInstance()->listeners().Append(new EngineErrorsOnFailure(*this));
    auto shared = trySharedEngine();
    ASSERT_TRUE(shared) << shared.error().message();
    auto init = runBerth({"ca", "init"}, {.env = {"XDG_CONFIG_HOME=" + config_.path().string()}});
    ASSERT_TRUE(init && init->exitCode == 0) << (init ? init->describe() : init.error().message());
    auto ca = pki::CaStore::open(config_.path() / "berth" / "ca");
    ASSERT_TRUE(ca) << ca.error().message();
    for (int i = 0; i < kHosts; ++i) {
      auto h = TestHost::start(HostOptions{.hostname = "node-" + std::to_string(i + 1),
                                           .ssh = false,
                                           .tls = true,
                                           .tlsAuthority = ca->authority()});
      ASSERT_TRUE(h) << h.error().message();
      hosts_.push_back(std::move(*h));
      auto e = engine::makeEngine(*engine::parseEndpoint(hosts_.back()->unixSocketUrl()));
      ASSERT_TRUE(e) << e.error().message();
      engines_.push_back(std::move(*e));
    }
    data_ = work_.path() / "data";
    startBerthd();
    const char* zones[] = {"a", "b", "b"};
    for (int i = 0; i < kHosts; ++i) {
      auto r = berth({"host", "add", hostName(i), "--url", host(i).tlsUrl(), "-l", std::string("zone=") + zones[i]});
      ASSERT_EQ(r.exitCode, 0) << r.describe() << berthdLog();
    }
    waitHostsReady();
  }

  TempDir config_{"berth-ctl-config-"};
  TempDir work_{"berth-ctl-"};
  fs::path data_;
  std::vector<std::unique_ptr<TestHost>> hosts_;
  std::vector<std::unique_ptr<engine::Engine>> engines_;
  std::unique_ptr<BackgroundProcess> berthd_;
};

// A compose file in a directory of its own.
class StackDir {
 public:
  explicit StackDir(const std::string& yaml) { dir_.write("compose.yaml", yaml); }
  const fs::path& path() const { return dir_.path(); }
  void write(const std::string& yaml) { dir_.write("compose.yaml", yaml); }
  std::string file() const { return (dir_.path() / "compose.yaml").string(); }

 private:
  TempDir dir_{"berth-stack-"};
};

}  // namespace berth::testing::controller
