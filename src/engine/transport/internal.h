// Internal to src/engine/transport: the per-scheme factories behind makeTransport, and the plain
// socket connection that the SSH transport reuses for its local end.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "engine/transport/transport.h"

namespace berth::engine::transport {

Result<std::unique_ptr<Transport>> makeUnixTransport(const Endpoint& endpoint);
// Plain TCP, or mutual TLS when endpoint.tls is set.
Result<std::unique_ptr<Transport>> makeTcpTransport(const Endpoint& endpoint);
Result<std::unique_ptr<Transport>> makeSshTransport(const Endpoint& endpoint);

// A Connection over a connected stream socket `fd` (taking ownership); `address` names the peer in
// messages.
Result<std::unique_ptr<Connection>> adoptStreamSocket(int fd, std::string address);

}  // namespace berth::engine::transport
