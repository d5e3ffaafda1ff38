// Clock: the one source of time for logic that waits or measures (timeouts, healthcheck grace,
// restart back-off). Injected as Clock&; tests use FakeClock (tests/fakes) and never sleep.
//
// Thread-safety: implementations must be safe to call from any thread.
#pragma once

#include <chrono>

namespace berth {

class Clock {
 public:
  using Duration = std::chrono::steady_clock::duration;
  using TimePoint = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // Wall-clock time, for timestamps shown to users and certificate validity.
  virtual std::chrono::system_clock::time_point wallNow() const = 0;
  // Blocks the calling thread for `d` (fakes advance their time instead).
  virtual void sleepFor(Duration d) = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point wallNow() const override { return std::chrono::system_clock::now(); }
  void sleepFor(Duration d) override;
};

}  // namespace berth
