// FakeClock: a Clock whose time moves only when told to or when code "sleeps" (sleepFor advances it
// at once), so logic that waits can be tested without waiting.
//
// Thread-safety: safe to use from several threads.
#pragma once

#include <atomic>
#include <chrono>

#include "base/clock.h"

namespace berth::fakes {

class FakeClock final : public Clock {
 public:
  TimePoint now() const override { return TimePoint(Duration(nanos_.load())); }
  std::chrono::system_clock::time_point wallNow() const override {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(Duration(nanos_.load())));
  }
  void sleepFor(Duration d) override {
    nanos_ += d.count();
    ++sleeps_;
  }
  void advance(Duration d) { nanos_ += d.count(); }
  int sleeps() const { return sleeps_.load(); }

 private:
  std::atomic<Duration::rep> nanos_{std::chrono::duration_cast<Duration>(std::chrono::hours(1000)).count()};
  std::atomic<int> sleeps_{0};
};

}  // namespace berth::fakes
