// makeEngine: an engine client for any endpoint berth knows (unix://, tcp://, ssh://). Kept apart
// from HttpEngine so that a program that makes its engines with makeSocketEngine (berthd) does not
// link the ssh:// transport.
#include "engine/engine.h"
#include "engine/http_engine.h"
#include "engine/transport/transport.h"

namespace berth::engine {

Result<std::unique_ptr<Engine>> makeEngine(const Endpoint& endpoint, const EngineOptions& options) {
  return engineOver(endpoint, transport::makeTransport(endpoint), options);
}

Result<std::unique_ptr<Engine>> makeEngine(const Endpoint& endpoint) {
  return makeEngine(endpoint, EngineOptions{});
}

}  // namespace berth::engine
