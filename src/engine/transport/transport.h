// The byte streams berth talks HTTP over: a Transport dials Connections to one engine.
//
//   unix://  a Unix socket                       (socket_transport.cc, Boost.Asio)
//   tcp://   plain TCP, or mutual TLS            (socket_transport.cc, Boost.Asio + OpenSSL)
//   ssh://   a direct-streamlocal channel to the engine's socket on the remote host, over an SSH
//            connection whose host key is checked against known_hosts   (ssh_transport.cc, libssh)
//
// Every call blocks with a deadline and fails with a Result rather than hanging: Unavailable (cannot
// connect, connection reset), DeadlineExceeded (nothing happened before the deadline),
// PermissionDenied (TLS or SSH trust and authentication failures), Cancelled (after cancel()).
// Messages name the address dialled; the engine client adds "engine <url>: <operation>: " in front.
//
// Thread-safety: a Transport may be used from many threads at once. A Connection is used by one
// thread at a time, except that one thread may read while another writes (the interactive stdin of
// an exec), and cancel() may be called from any thread at any time.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "engine/deadline.h"

namespace berth::engine {
struct Endpoint;
}

namespace berth::engine::transport {

class Connection {
 public:
  virtual ~Connection() = default;

  // Blocks until at least one byte arrived and returns how many were stored in `buffer` (at most its
  // size); 0 at the end of the stream.
  virtual Result<std::size_t> readSome(std::span<char> buffer, Deadline deadline) = 0;
  // Blocks until all of `data` was handed to the peer.
  virtual Status writeAll(std::string_view data, Deadline deadline) = 0;
  // Half-close: the peer reads end-of-stream, while this side can still read.
  virtual Status shutdownWrite(Deadline deadline) = 0;
  // For a pooled idle connection: false when the peer closed it or sent bytes nobody asked for.
  // Does not block.
  virtual bool reusable() = 0;
  // Makes blocked and later calls fail with Cancelled. Safe from any thread; never blocks.
  virtual void cancel() = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Opens a new connection (including the TLS or SSH handshake) before `deadline`.
  virtual Result<std::unique_ptr<Connection>> dial(Deadline deadline) = 0;
};

// The transport for `endpoint`. Fails with InvalidArgument when its TLS material does not load
// (bad PEM, key not matching the certificate).
Result<std::unique_ptr<Transport>> makeTransport(const Endpoint& endpoint);

}  // namespace berth::engine::transport
