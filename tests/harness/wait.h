// Polling with deadlines, for integration tests that wait on real engines and hosts ("until the
// container is running", "until the engine answers"). Logic under test never sleeps; these helpers
// are only for the outside world, which changes on its own time.
//
// Thread-safety: stateless; the predicate runs on the calling thread.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>
#include <thread>

#include "base/result.h"

namespace berth::testing {

// Calls `condition` until it returns true or `timeout` has passed (it is always called at least
// once, and once more at the deadline). Returns whether it became true. Blocks.
inline bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                      std::chrono::milliseconds interval = std::chrono::milliseconds(50)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

// Like waitUntil, for a check that explains itself: returns ok() as soon as `check` does, else a
// DeadlineExceeded error "waiting for <what>: <the last error check returned>" at the deadline.
inline Status waitFor(std::string_view what, const std::function<Status()>& check,
                      std::chrono::milliseconds timeout,
                      std::chrono::milliseconds interval = std::chrono::milliseconds(50)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    Status s = check();
    if (s.has_value()) return s;
    if (std::chrono::steady_clock::now() >= deadline) {
      return fail(ErrorCode::DeadlineExceeded,
                  "waiting for " + std::string(what) + ": " + s.error().message());
    }
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace berth::testing
