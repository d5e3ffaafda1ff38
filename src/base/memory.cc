#include "base/memory.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace berth::memory {

void tuneForManyThreads(char** argv) {
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
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

}  // namespace berth::memory
