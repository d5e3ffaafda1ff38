// The heap of a long-running process (berthd). glibc's malloc keeps what a busy moment freed: in a
// per-thread cache and one arena per thread (up to eight per core), and between the live blocks of
// its heap, which it can give back only where whole pages are free. After a deploy to 100 hosts,
// berthd's glibc heap held 15 MiB of live blocks in 30 MiB of resident pages. berthd is therefore
// linked with jemalloc (Debian's libjemalloc2; CMake option BERTH_JEMALLOC, off under sanitizers),
// whose size classes keep long-lived and short-lived blocks of a size together and whose decay
// returns pages a moment after they were freed; glibc's malloc remains the fallback, tuned.
#pragma once

#include <cstddef>

namespace berth::memory {

// jemalloc's settings for berthd: one arena and no per-thread caches (berthd's threads are many
// and mostly idle), freed pages returned after a second. An executable linked with jemalloc
// defines `extern "C" const char* malloc_conf = berth::memory::kJemallocConf;` (jemalloc reads it
// before the first allocation; MALLOC_CONF in the environment still overrides it).
inline constexpr const char* kJemallocConf =
    "narenas:1,tcache:false,dirty_decay_ms:1000,muzzy_decay_ms:0,background_thread:false";

// Whether this process allocates with jemalloc.
bool usingJemalloc();

// With glibc's malloc: makes it use one arena and no per-thread caches. glibc reads these
// settings (GLIBC_TUNABLES) only when a process starts, so unless they are set already this
// re-executes the program (/proc/self/exe with the same `argv`) with them added; call it first thing
// in main(). Returns when they are in force, or when they cannot be (not glibc, or the exec failed:
// then the process goes on with glibc's defaults but one arena). With jemalloc it does nothing.
void tuneForManyThreads(char** argv);

// Returns the heap's free pages to the system (they stay mapped, and fault in again when used).
// Costs a walk over the heap: for moments after a burst of work, not for every operation.
void releaseFree();

// Gives back the pages of the calling thread's stack below the caller's frame, which the deepest
// call so far had touched (a TLS handshake, a JSON parse) and which stay resident for good
// otherwise. For a thread that is about to wait between short bursts of work: berthd runs one such
// thread per host, each of which reached 30 KiB of stack once and needs a few KiB between its
// probes. The pages fault in again, zeroed, when a call reaches that deep again.
void releaseStackBelowCaller();

// What the allocator holds: bytes in live blocks, and bytes of pages it keeps resident (live blocks,
// free space between them, its own metadata). For measurements.
struct HeapStats {
  std::size_t allocated = 0;
  std::size_t resident = 0;
};
HeapStats heapStats();

}  // namespace berth::memory
