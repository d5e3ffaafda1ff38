// Deadlines for engine I/O. Every blocking engine call takes a Deadline (a point on the steady
// clock); kNoDeadline means "until cancelled", used only by streams the caller stops itself (events,
// followed logs, interactive sessions).
//
// I/O deadlines use the real steady clock on purpose: they bound how long we wait for a socket, and
// poll(2) waits in real time. Logic that decides *when* to do something uses berth::Clock instead.
#pragma once

#include <chrono>
#include <string>

namespace berth::engine {

using Deadline = std::chrono::steady_clock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();

inline Deadline deadlineAfter(std::chrono::steady_clock::duration d) {
  return std::chrono::steady_clock::now() + d;
}

// Milliseconds left until `deadline` for poll(2): -1 for kNoDeadline, else >= 0 (rounded up, so a
// deadline 0.2ms away waits 1ms instead of spinning).
int pollTimeoutMs(Deadline deadline);

// Whether `deadline` has passed.
bool expired(Deadline deadline);

// "10s", "1.5s", "250ms", "2m" — for "timed out after ..." messages.
std::string formatDuration(std::chrono::steady_clock::duration d);

}  // namespace berth::engine
