// One convergence of a project at a time: a second acquire of the same project waits for the first
// to be released; another project does not wait.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "cli/project_lock.h"

namespace berth::cli {
namespace {

using namespace std::chrono_literals;

TEST(ProjectLockTest, TheSameProjectWaitsAnotherDoesNot) {
  const std::string project = "locktest-" + std::to_string(::getpid());
  auto first = ProjectLock::acquire(project);
  ASSERT_TRUE(first) << first.error().message();
  auto other = ProjectLock::acquire(project + "-other");
  ASSERT_TRUE(other) << "another project's lock is independent";

  std::atomic<bool> acquired{false};
  std::thread second([&] {
    auto again = ProjectLock::acquire(project);
    EXPECT_TRUE(again);
    acquired = true;
  });
  // The second waits as long as the first is held (checked over a while, not a single instant).
  const auto until = std::chrono::steady_clock::now() + 300ms;
  while (std::chrono::steady_clock::now() < until) {
    EXPECT_FALSE(acquired.load());
    std::this_thread::sleep_for(10ms);
  }
  first->release();
  second.join();
  EXPECT_TRUE(acquired.load());

  for (const std::string& name : {project, project + "-other"}) {
    for (const char* dir : {"/run/berth/locks", "/tmp"}) {
      std::error_code ec;
      std::filesystem::remove(std::filesystem::path(dir) / name, ec);
    }
  }
}

}  // namespace
}  // namespace berth::cli
