// Shared by the engine integration tests: an Engine on the harness's shared private dockerd, names
// and labels unique to each test, and clean-up of everything a test created (by label), so tests are
// independent of each other and of their order.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "engine/attach.h"
#include "engine/endpoint.h"
#include "engine/engine.h"
#include "harness/busybox_image.h"
#include "harness/test_host.h"
#include "harness/wait.h"

namespace berth::engine::testing {

using namespace std::chrono_literals;

inline constexpr const char* kTestLabel = "berth.test";

// An engine client for `url` (with the given TLS/SSH settings already in `endpoint` when needed).
inline std::unique_ptr<Engine> engineAt(const Endpoint& endpoint, EngineOptions options = {}) {
  auto engine = makeEngine(endpoint, options);
  if (!engine) {
    ADD_FAILURE() << engine.error().message();
    return nullptr;
  }
  return std::move(engine).value();
}

inline std::unique_ptr<Engine> engineAt(const std::string& url, EngineOptions options = {}) {
  auto endpoint = parseEndpoint(url);
  if (!endpoint) {
    ADD_FAILURE() << endpoint.error().message();
    return nullptr;
  }
  return engineAt(*endpoint, options);
}

struct ExecOutput {
  int exitCode = -1;
  std::string out;
  std::string err;
};

// Runs `cmd` in a running container through an attached exec and collects its output and exit code.
inline Result<ExecOutput> runIn(Engine& engine, const std::string& container, std::vector<std::string> cmd,
                                std::optional<std::string> stdinData = std::nullopt, bool tty = false) {
  ExecCreate spec;
  spec.cmd = std::move(cmd);
  spec.tty = tty;
  spec.attachStdin = stdinData.has_value();
  BERTH_ASSIGN_OR_RETURN(const std::string id, engine.createExec(container, spec));
  BERTH_ASSIGN_OR_RETURN(auto stream, engine.startExecAttached(id, tty));
  ExecOutput out;
  AttachIo io;
  io.stdinData = std::move(stdinData);
  io.onOutput = [&](OutputStream s, std::string_view data) {
    (s == OutputStream::Stderr ? out.err : out.out) += data;
  };
  BERTH_TRY(pumpAttached(*stream, io, {}));
  // The exit code is recorded a moment after the output ends.
  for (int i = 0; i < 100; ++i) {
    BERTH_ASSIGN_OR_RETURN(const ExecInspect inspect, engine.inspectExec(id));
    if (inspect.exitCode) {
      out.exitCode = *inspect.exitCode;
      return out;
    }
    std::this_thread::sleep_for(20ms);
  }
  return fail(ErrorCode::DeadlineExceeded, "exec " + id + " did not report an exit code");
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = &berth::testing::sharedEngine();
    engine_ = engineAt(host_->unixSocketUrl());
    ASSERT_NE(engine_, nullptr);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    label_ = std::string(info->test_suite_name()) + "." + info->name();
  }

  void TearDown() override {
    if (!engine_) return;
    const Filters mine{{"label", {std::string(kTestLabel) + "=" + label_}}};
    if (auto containers = engine_->listContainers({true, mine})) {
      for (const auto& c : *containers) (void)engine_->removeContainer(c.id, {true, true});
    }
    if (auto networks = engine_->listNetworks(mine)) {
      for (const auto& n : *networks) (void)engine_->removeNetwork(n.id);
    }
    if (auto volumes = engine_->listVolumes(mine)) {
      for (const auto& v : *volumes) (void)engine_->removeVolume(v.name, true);
    }
    for (const auto& image : images_) (void)engine_->removeImage(image, {true, false});
  }

  Engine& engine() { return *engine_; }
  berth::testing::TestHost& host() { return *host_; }

  // A name unique in this test binary: "it-<base>-<n>".
  std::string name(std::string_view base) {
    static std::atomic<int> counter{0};
    return "it-" + std::string(base) + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  }
  Labels labels() const { return {{kTestLabel, label_}}; }
  Filters labelFilter() const { return {{"label", {std::string(kTestLabel) + "=" + label_}}}; }
  // Removed (forced) at the end of the test.
  void removeImageLater(std::string ref) { images_.push_back(std::move(ref)); }

  // A busybox container running `cmd`, labelled for clean-up.
  ContainerCreate busybox(const std::string& containerName, std::vector<std::string> cmd) {
    ContainerCreate spec;
    spec.name = containerName;
    spec.config.image = berth::testing::kBusyboxImage;
    spec.config.cmd = std::move(cmd);
    spec.config.labels = labels();
    return spec;
  }

  // Creates and starts a busybox container that sleeps; returns its ID.
  std::string startSleeper(const std::string& containerName) {
    auto created = engine().createContainer(busybox(containerName, {"sleep", "3600"}));
    EXPECT_TRUE(created) << created.error().message();
    if (!created) return {};
    auto started = engine().startContainer(created->id);
    EXPECT_TRUE(started) << started.error().message();
    return created->id;
  }

  // Waits until the container has exited; returns its exit code.
  int waitExit(const std::string& id) {
    auto r = engine().waitContainer(id, WaitCondition::NotRunning, 60s);
    EXPECT_TRUE(r) << r.error().message();
    return r ? static_cast<int>(r->statusCode) : -1;
  }

  // The message an engine call about a missing object gets, e.g. "No such container: x".
  std::string engineError(std::string_view what, std::string_view said, int status) const {
    return "engine " + host_->unixSocketUrl() + ": " + std::string(what) + ": " + std::string(said) + " (" +
           std::to_string(status) + ")";
  }

 private:
  berth::testing::TestHost* host_ = nullptr;
  std::unique_ptr<Engine> engine_;
  std::string label_;
  std::vector<std::string> images_;
};

}  // namespace berth::engine::testing
