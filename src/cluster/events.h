// EventLog: the controller's recent events (a bounded ring) and their live subscribers
// (`berth events --controller`, `stack deploy`'s progress).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <stop_token>
#include <vector>

#include "cluster/reconcile.h"

namespace berth::cluster {

class EventLog {
 public:
  explicit EventLog(std::size_t capacity = 4096) : capacity_(capacity) {}

  // Appends, numbering each event (seq 1, 2, ...), and wakes waiters. A text holding a NUL comes
  // back up to it.
  void append(std::vector<ControllerEvent> events);
  // Events with seq > `after` still in the ring, oldest first.
  std::vector<ControllerEvent> since(std::uint64_t after) const;
  // Blocks until an event with seq > `after` exists, `timeout` passes or `stop` is requested; then
  // returns what since(after) returns (possibly nothing).
  std::vector<ControllerEvent> wait(std::uint64_t after, std::chrono::milliseconds timeout,
                                    std::stop_token stop) const;
  std::uint64_t lastSeq() const;
  // Wakes every waiter (shutdown).
  void close();

 private:
  // An event as the ring keeps it: its texts in one string, each ended by a NUL (a text holding a
  // NUL is kept up to it). A ControllerEvent is eight strings, 270 bytes, and a deque gives each
  // one an allocation of its own: 4,096 of them cost berthd 1.35 MiB, packed 0.45.
  struct Packed {
    std::uint64_t seq = 0;
    WallTime time{};
    std::string texts{};
  };
  static Packed pack(const ControllerEvent& e);
  static ControllerEvent unpack(const Packed& p);

  const std::size_t capacity_;
  mutable std::mutex mu_;
  mutable std::condition_variable_any cv_;
  std::deque<Packed> ring_;  // guarded by mu_
  std::uint64_t seq_ = 0;             // guarded by mu_
  bool closed_ = false;               // guarded by mu_
};

}  // namespace berth::cluster
