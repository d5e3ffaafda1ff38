#include "engine/attach.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

#include "base/log.h"

namespace berth::engine {
namespace {

// Copies `fd` to the stream's stdin until end-of-file (then half-closes) or until `wakeFd` fires.
Status copyFd(AttachedStream& stream, int fd, int wakeFd) {
  std::array<char, 16 * 1024> buffer;
  while (true) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wakeFd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return fail(ErrorCode::Internal, std::string("poll: ") + std::strerror(errno));
    }
    if (fds[1].revents != 0) return ok();
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return fail(ErrorCode::Unavailable, std::string("reading stdin: ") + std::strerror(errno));
    }
    if (n == 0) return stream.tty() ? ok() : stream.closeStdin();
    BERTH_TRY(stream.writeStdin(std::string_view(buffer.data(), static_cast<std::size_t>(n))));
  }
}

}  // namespace

Status pumpAttached(AttachedStream& stream, const AttachIo& io, std::stop_token stop) {
  BERTH_CHECK(io.onOutput != nullptr);
  const int wakeFd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakeFd < 0) return fail(ErrorCode::Internal, std::string("eventfd: ") + std::strerror(errno));
  std::thread feeder;
  if (io.stdinData) {
    feeder = std::thread([&stream, &io] {
      Status s = stream.writeStdin(*io.stdinData);
      if (s && !stream.tty()) s = stream.closeStdin();
      if (!s) log::debug("stdin: {}", s.error().message());
    });
  } else if (io.stdinFd >= 0) {
    feeder = std::thread([&stream, &io, wakeFd] {
      const Status s = copyFd(stream, io.stdinFd, wakeFd);
      if (!s) log::debug("stdin: {}", s.error().message());
    });
  }
  Status result = ok();
  {
    std::stop_callback onStop(stop, [&stream] { stream.cancel(); });
    while (true) {
      auto chunk = stream.readOutput();
      if (!chunk) {
        result =
            stop.stop_requested() ? Status(fail(ErrorCode::Cancelled, "stopped")) : Status(chunk.error());
        break;
      }
      if (!*chunk) break;
      io.onOutput((*chunk)->stream, (*chunk)->data);
    }
  }
  // The output ended: stop feeding stdin (the process is gone), unblocking a pending write too.
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(wakeFd, &one, sizeof one);
  stream.cancel();
  if (feeder.joinable()) feeder.join();
  ::close(wakeFd);
  return result;
}

}  // namespace berth::engine
