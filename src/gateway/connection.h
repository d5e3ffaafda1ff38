// Internal to src/gateway: one SSH connection, from key exchange to disconnect, on its own thread.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "engine/engine.h"

struct ssh_session_struct;

namespace berth::gateway::internal {

struct ConnectionSettings {
  int id = 0;               // for the log: "connection 7"
  std::string peer{};       // "10.0.0.1:51234"
  std::chrono::seconds loginGraceTime{30};
};

// Serves an accepted session (owned from here on: freed before returning) until the client leaves,
// its session ends or `stopping` becomes true.
void serveConnection(engine::Engine& engine, ssh_session_struct* session, const ConnectionSettings& settings,
                     const std::atomic<bool>& stopping);

}  // namespace berth::gateway::internal
