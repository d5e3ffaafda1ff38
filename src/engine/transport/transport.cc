#include "engine/transport/transport.h"

#include "engine/endpoint.h"
#include "engine/transport/internal.h"

namespace berth::engine::transport {

Result<std::unique_ptr<Transport>> makeTransport(const Endpoint& endpoint) {
  switch (endpoint.scheme) {
    case Scheme::Unix:
      return makeUnixTransport(endpoint);
    case Scheme::Tcp:
      return makeTcpTransport(endpoint);
    case Scheme::Ssh:
      return makeSshTransport(endpoint);
  }
  return fail(ErrorCode::InvalidArgument, "unknown engine scheme");
}

}  // namespace berth::engine::transport
