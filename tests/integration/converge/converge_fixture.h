// The fixture of the converge integration tests: a compose project of its own (unique name, own
// directory) on the harness's shared private engine, the real `berth` binary to drive it, and
// berth's engine client to look at what it did. TearDown takes the project down with its volumes.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "engine/endpoint.h"
#include "engine/engine.h"
#include "harness/berth_binary.h"
#include "harness/names.h"
#include "harness/subprocess.h"
#include "harness/temp_dir.h"
#include "harness/test_host.h"
#include "harness/wait.h"

namespace berth::testing {

class ConvergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = &sharedEngine();
    project_ = uniqueName("c");
    auto endpoint = engine::parseEndpoint(host_->unixSocketUrl());
    ASSERT_TRUE(endpoint) << endpoint.error().message();
    auto e = engine::makeEngine(*endpoint);
    ASSERT_TRUE(e) << e.error().message();
    engine_ = std::move(*e);
  }

  void TearDown() override {
    if (!keep_) (void)berth({"down", "-v", "-t", "0", "--remove-orphans"});
  }

  // Runs `berth -p PROJECT ARGS...` in the project directory against the shared engine.
  CommandResult berth(std::vector<std::string> args, CommandOptions options = {}) {
    args.insert(args.begin(), {"-p", project_, "--progress", "plain"});
    return berthRaw(std::move(args), std::move(options));
  }

  // Runs `berth ARGS...` as given (no -p).
  CommandResult berthRaw(std::vector<std::string> args, CommandOptions options = {}) {
    options.env.push_back("DOCKER_HOST=" + host_->unixSocketUrl());
    // berth's state (the SSH keys of x-berth-ssh trust, ...) stays in the test's directory.
    options.env.push_back("XDG_CONFIG_HOME=" + (dir_.path() / ".config").string());
    if (options.workingDirectory.empty()) options.workingDirectory = dir_.path();
    if (options.timeout == std::chrono::seconds(60)) options.timeout = std::chrono::seconds(120);
    auto r = runBerth(args, options);
    if (!r) {
      ADD_FAILURE() << "could not run berth: " << r.error().message();
      return CommandResult{};
    }
    return *r;
  }

  void compose(std::string_view yaml) { dir_.write("compose.yaml", yaml); }

  std::string name(const std::string& service, int n = 1) const {
    return project_ + "-" + service + "-" + std::to_string(n);
  }

  engine::ContainerInspect inspect(const std::string& container) {
    auto c = engine_->inspectContainer(container);
    if (!c) {
      ADD_FAILURE() << c.error().message();
      return {};
    }
    return *c;
  }

  bool exists(const std::string& container) { return engine_->inspectContainer(container).has_value(); }

  std::string id(const std::string& container) { return inspect(container).id; }

  // Runs `sh -c script` in a container (through berth exec) and returns its stdout.
  std::string shell(const std::string& service, const std::string& script) {
    auto r = berth({"exec", "-T", service, "sh", "-c", script});
    return r.out;
  }

  // Container events of this project between two times (seconds since the epoch).
  std::vector<std::string> events(std::int64_t since, std::int64_t until) {
    engine::EventsOptions o;
    o.since = std::to_string(since);
    o.until = std::to_string(until);
    o.filters["type"] = {"container"};
    o.filters["label"] = {"com.docker.compose.project=" + project_};
    std::vector<std::string> out;
    std::stop_source never;
    auto s = engine_->events(
        o,
        [&](const engine::Event& e) {
          out.push_back(e.action + " " + (e.attributes.count("name") ? e.attributes.at("name") : e.actorId));
          return true;
        },
        never.get_token());
    if (!s) ADD_FAILURE() << s.error().message();
    return out;
  }

  static std::int64_t nowSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // An HTTP GET from the test process (curl), for published ports at the engine's address.
  static CommandResult httpGet(const std::string& url) {
    auto r = runCommand({"curl", "-s", "-m", "5", url});
    return r ? *r : CommandResult{};
  }

  TestHost* host_ = nullptr;
  std::string project_;
  TempDir dir_{"berth-converge-"};
  std::unique_ptr<engine::Engine> engine_;
  bool keep_ = false;
};

}  // namespace berth::testing
