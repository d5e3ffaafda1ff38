// What `berth host ls` shows for each host: queried in parallel, each with a short timeout, so that
// one dead host costs seconds, not the whole listing.
//
// Thread-safety: queryHosts starts one thread per host (at most kMaxParallelQueries at once) and
// joins them before returning.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engine/endpoint.h"
#include "hosts/inventory.h"

namespace berth::hosts {

enum class HostState { Running, Stopped, Unreachable, Timeout, TlsError, Error, Invalid };
// "running", "stopped" (the address answers, the engine does not), "unreachable", "timeout",
// "TLS error", "error", "invalid" (berth's record of the host is damaged: nothing was asked).
std::string_view hostStateName(HostState state);
// The state an engine error means: connection refused → Stopped, no route or no answer to connecting
// → Unreachable, a request that timed out → Timeout, TLS or authentication → TlsError, else Error.
HostState stateOf(const Error& error);

struct HostStatus {
  std::string name{};
  std::string url{};
  HostState state = HostState::Error;
  std::string engineVersion{};  // when running
  int containers = -1;          // when running
  int running = -1;
  std::string error{};  // when not running
};

inline constexpr int kMaxParallelQueries = 16;

// Queries one host: /_ping, /version and /info within `timeout` for connecting and each request.
HostStatus queryHost(const Inventory& inventory, const HostRecord& record, std::chrono::milliseconds timeout);
// Queries all, in parallel; results in the order of `records`.
std::vector<HostStatus> queryHosts(const Inventory& inventory, const std::vector<HostRecord>& records,
                                   std::chrono::milliseconds timeout);

}  // namespace berth::hosts
