#include "base/memory.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// jemalloc's control interface, when the executable is linked with it (weak: null otherwise, so
// that one build of this library serves executables with and without jemalloc).
extern "C" int mallctl(const char* name, void* oldp, std::size_t* oldlenp, void* newp, std::size_t newlen)
    __attribute__((weak));

namespace berth::memory {
namespace {

// MALLCTL_ARENAS_ALL: the pseudo-arena that names every arena.
constexpr const char* kPurgeAll = "arena.4096.purge";

std::size_t jemallocStat(const char* name) {
  std::size_t value = 0;
  std::size_t size = sizeof value;
  return mallctl(name, &value, &size, nullptr, 0) == 0 ? value : 0;
}

}  // namespace

bool usingJemalloc() { return mallctl != nullptr; }

void tuneForManyThreads(char** argv) {
  if (usingJemalloc()) return;  // configured by the executable's malloc_conf
#if defined(__GLIBC__)
  constexpr const char* kTunables = "glibc.malloc.arena_max=1:glibc.malloc.tcache_count=0";
  const char* current = std::getenv("GLIBC_TUNABLES");
  std::string tunables = current != nullptr ? current : "";
  // Set already: by the exec below, or by whoever started us (their choice stands).
  if (tunables.find("glibc.malloc.tcache_count") != std::string::npos) return;
  tunables = tunables.empty() ? kTunables : tunables + ":" + kTunables;
  if (::setenv("GLIBC_TUNABLES", tunables.c_str(), 1) == 0) ::execv("/proc/self/exe", argv);
  // No exec (no /proc?): at least one arena, which mallopt can still set.
  ::mallopt(M_ARENA_MAX, 1);
#else
  (void)argv;
#endif
}

void releaseFree() {
  if (usingJemalloc()) {
    mallctl(kPurgeAll, nullptr, nullptr, nullptr, 0);
    return;
  }
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

__attribute__((noinline)) void releaseStackBelowCaller() {
  pthread_attr_t attr;
  if (::pthread_getattr_np(::pthread_self(), &attr) != 0) return;
  void* base = nullptr;  // the stack's lowest address (it grows down towards it)
  std::size_t size = 0;
  std::size_t guard = 0;
  const bool known = ::pthread_attr_getstack(&attr, &base, &size) == 0 &&
                     ::pthread_attr_getguardsize(&attr, &guard) == 0;
  ::pthread_attr_destroy(&attr);
  if (!known || base == nullptr) return;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  // This function's own frame is the deepest in use: keep a margin below it for the madvise call.
  const auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  const std::uintptr_t low = (reinterpret_cast<std::uintptr_t>(base) + guard + page - 1) & ~(page - 1);
  const std::uintptr_t high = (here - 1024) & ~(page - 1);
  if (high <= low) return;
  ::madvise(reinterpret_cast<void*>(low), high - low, MADV_DONTNEED);
}

HeapStats heapStats() {
  HeapStats s;
  if (usingJemalloc()) {
    // Statistics are cached until the epoch advances.
    std::uint64_t epoch = 1;
    std::size_t size = sizeof epoch;
    mallctl("epoch", &epoch, &size, &epoch, size);
    s.allocated = jemallocStat("stats.allocated");
    s.resident = jemallocStat("stats.resident");
    return s;
  }
#if defined(__GLIBC__)
  const struct mallinfo2 mi = ::mallinfo2();
  s.allocated = mi.uordblks + mi.hblkhd;
  s.resident = mi.arena + mi.hblkhd;  // an upper bound: trimmed pages inside the arena count too
#endif
  return s;
}

}  // namespace berth::memory
