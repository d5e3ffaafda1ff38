// memory.h: the thread-stack release (checked with mincore on the thread's own stack) and the
// allocator's statistics.
#include "base/memory.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "harness/sanitizers.h"

namespace berth::memory {
namespace {

struct Range {
  std::uintptr_t low = 0;
  std::uintptr_t high = 0;
};

Range ownStack() {
  pthread_attr_t attr;
  EXPECT_EQ(::pthread_getattr_np(::pthread_self(), &attr), 0);
  void* base = nullptr;
  std::size_t size = 0;
  EXPECT_EQ(::pthread_attr_getstack(&attr, &base, &size), 0);
  ::pthread_attr_destroy(&attr);
  const auto low = reinterpret_cast<std::uintptr_t>(base);
  return {low, low + size};
}

std::size_t residentPages(Range r) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((r.high - r.low) / page);
  EXPECT_EQ(::mincore(reinterpret_cast<void*>(r.low), r.high - r.low, vec.data()), 0);
  std::size_t n = 0;
  for (unsigned char v : vec) n += v & 1;
  return n;
}

// Touches `bytes` of stack below the caller's frame.
__attribute__((noinline)) void goDeep(std::size_t bytes) {
  char* deep = static_cast<char*>(__builtin_alloca(bytes));
  std::memset(deep, 1, bytes);
  asm volatile("" : : "r"(deep) : "memory");
}

TEST(MemoryTest, ReleasingTheStackBelowTheCallerGivesBackWhatADeepCallTouched) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  constexpr std::size_t kDeep = 512 * 1024;
  std::size_t touched = 0, released = 0, afterAgain = 0;
  std::thread t([&] {
    const Range stack = ownStack();
    const std::size_t idle = residentPages(stack);
    goDeep(kDeep);
    touched = residentPages(stack) - idle;
    releaseStackBelowCaller();
    released = touched + idle - residentPages(stack);
    goDeep(kDeep);  // the pages come back, usable, when a call goes deep again
    afterAgain = residentPages(stack) - idle;
  });
  t.join();
  EXPECT_GE(touched, kDeep / page);
  EXPECT_GE(released, kDeep / page - 8);  // all but a few pages next to the caller's frame
  // (Against the first count, which may have included a few pages below the caller that are gone.)
  EXPECT_GE(afterAgain, kDeep / page - 8);
}

TEST(MemoryTest, HeapStatsCountALiveAllocation) {
  if (berth::testing::kAddressSanitizer) {
    GTEST_SKIP() << "AddressSanitizer's allocator keeps statistics of its own, which mallinfo does not see";
  }
  const HeapStats before = heapStats();
  std::vector<char> block(8 << 20, 'x');
  const HeapStats during = heapStats();
  EXPECT_GE(during.allocated, before.allocated + block.size() / 2);
  EXPECT_GE(during.resident, during.allocated);
  // Test binaries are not linked with jemalloc; berthd is (see berthd_main.cc).
  EXPECT_FALSE(usingJemalloc());
}

}  // namespace
}  // namespace berth::memory
