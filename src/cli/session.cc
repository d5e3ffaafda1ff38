#include "cli/session.h"

#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <thread>

#include "cli/terminal.h"

namespace berth::cli {
namespace {

bool writeAll(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

Status pumpSession(engine::AttachedStream& stream, const SessionOptions& options, std::stop_token stop) {
  const bool terminal = options.tty && isTerminal(0);
  RawTerminal raw(terminal ? 0 : -1);
  const auto resize = [&] {
    if (!options.resize) return;
    if (auto size = terminalSize(isTerminal(1) ? 1 : 0)) options.resize(size->first, size->second);
  };
  if (options.tty) resize();
  InterruptWatcher watcher([&](int) { stream.cancel(); },
                           options.tty ? std::function<void()>(resize) : nullptr);
  std::stop_callback onStop(stop, [&] { stream.cancel(); });

  std::jthread input;
  if (options.stdinAttached) {
    input = std::jthread([&stream](std::stop_token halt) {
      std::array<char, 32 * 1024> buffer;
      while (!halt.stop_requested()) {
        pollfd p{0, POLLIN, 0};
        const int ready = ::poll(&p, 1, 100);
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) continue;
        const ssize_t n = ::read(0, buffer.data(), buffer.size());
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) {
          (void)stream.closeStdin();
          return;
        }
        if (!stream.writeStdin(std::string_view(buffer.data(), static_cast<std::size_t>(n)))) return;
      }
    });
  }
  Status result = ok();
  while (true) {
    auto chunk = stream.readOutput();
    if (!chunk) {
      // Cancelled: Ctrl-C (without a TTY) or `stop`; the caller exits with 130.
      result = chunk.error().code() == ErrorCode::Cancelled ? fail(ErrorCode::Cancelled, "cancelled")
                                                            : fail(chunk.error());
      break;
    }
    if (!*chunk) break;
    const int fd = (*chunk)->stream == engine::OutputStream::Stderr ? 2 : 1;
    if (!writeAll(fd, (*chunk)->data)) break;
  }
  input.request_stop();
  return result;
}

}  // namespace berth::cli
