// The benchmarks' raw floor: a batch of engine calls with a fixed number in flight.
#pragma once

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "base/result.h"

namespace berth::bench {

// Runs job(i) for i in [0, n) on `parallelism` threads; returns the first error.
template <class Job>
Status parallel(int n, int parallelism, Job job) {
  std::atomic<int> next{0};
  std::mutex mu;
  Status first = ok();
  {
    std::vector<std::jthread> workers;
    for (int w = 0; w < std::min(n, parallelism); ++w) {
      workers.emplace_back([&] {
        for (int i = next++; i < n; i = next++) {
          Status s = job(i);
          if (!s) {
            std::lock_guard lock(mu);
            if (first) first = s;
          }
        }
      });
    }
  }
  return first;
}

}  // namespace berth::bench
