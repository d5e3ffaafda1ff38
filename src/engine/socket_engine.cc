// makeSocketEngine: engines on unix:// and tcp:// endpoints only. Its own file, so that a program
// using it alone (berthd) links neither the ssh:// transport nor libssh (see engine.h).
#include <fmt/core.h>

#include "engine/engine.h"
#include "engine/http_engine.h"
#include "engine/transport/internal.h"

namespace berth::engine {

Result<std::unique_ptr<Engine>> makeSocketEngine(const Endpoint& endpoint, const EngineOptions& options) {
  switch (endpoint.scheme) {
    case Scheme::Unix:
      return engineOver(endpoint, transport::makeUnixTransport(endpoint), options);
    case Scheme::Tcp:
      return engineOver(endpoint, transport::makeTcpTransport(endpoint), options);
    case Scheme::Ssh:
      break;
  }
  return fail(ErrorCode::InvalidArgument,
              fmt::format("{}: only unix:// and tcp:// engines are reached here, not ssh://", endpoint.describe()));
}

}  // namespace berth::engine
