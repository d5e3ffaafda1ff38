// The heap of a long-running process (berthd). glibc's malloc keeps what a busy moment freed: in a
// per-thread cache and one arena per thread (up to eight per core), and inside each arena until it
// is trimmed. A daemon that runs two threads per host and has quiet hours between deploys wants
// neither: with 100 hosts, the caches alone held 10 MB of berthd's 25 MB of heap.
#pragma once

namespace berth::memory {

// Makes glibc's malloc use one arena and no per-thread caches. glibc reads these settings
// (GLIBC_TUNABLES) only when a process starts, so unless they are set already this re-executes the
// program (/proc/self/exe with the same `argv`) with them added; call it first thing in main().
// Returns when they are in force, or when they cannot be (not glibc, or the exec failed: then the
// process goes on with glibc's defaults but one arena).
void tuneForManyThreads(char** argv);

// Returns the heap's free pages to the system (they stay mapped, and fault in again when used).
// Costs a walk over the heap: for moments after a burst of work, not for every operation.
void releaseFree();

}  // namespace berth::memory
