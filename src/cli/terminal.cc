#include "cli/terminal.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <csignal>

namespace berth::cli {
namespace {

// The self-pipe the handlers write the signal number into (async-signal-safe: write(2) only).
int gPipe[2] = {-1, -1};

extern "C" void onSignal(int sig) {
  const int saved = errno;
  const auto byte = static_cast<unsigned char>(sig);
  if (gPipe[1] >= 0) {
    [[maybe_unused]] const ssize_t n = ::write(gPipe[1], &byte, 1);
  }
  errno = saved;
}

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH};
struct sigaction gPrevious[4];

}  // namespace

bool isTerminal(int fd) { return ::isatty(fd) == 1; }

std::optional<std::pair<int, int>> terminalSize(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) return std::nullopt;
  return std::make_pair(static_cast<int>(ws.ws_row), static_cast<int>(ws.ws_col));
}

InterruptWatcher::InterruptWatcher(std::function<void(int)> onInterrupt, std::function<void()> onResize)
    : onInterrupt_(std::move(onInterrupt)), onResize_(std::move(onResize)) {
  if (::pipe2(gPipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    gPipe[0] = gPipe[1] = -1;
    return;
  }
  for (std::size_t i = 0; i < 4; ++i) {
    struct sigaction sa {};
    sa.sa_handler = onSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(kSignals[i], &sa, &gPrevious[i]);
  }
  thread_ = std::jthread([this](std::stop_token stop) {
    while (!stop.stop_requested()) {
      pollfd p{gPipe[0], POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) continue;
      unsigned char sig = 0;
      while (::read(gPipe[0], &sig, 1) == 1) {
        if (sig == 0) continue;
        if (sig == SIGWINCH) {
          if (onResize_) onResize_();
        } else {
          const int n = ++count_;
          if (onInterrupt_) onInterrupt_(n);
        }
      }
    }
  });
}

InterruptWatcher::~InterruptWatcher() {
  if (gPipe[0] < 0) return;
  thread_.request_stop();
  const unsigned char wake = 0;  // not a signal: just ends the watcher's poll now
  [[maybe_unused]] const ssize_t n = ::write(gPipe[1], &wake, 1);
  if (thread_.joinable()) thread_.join();
  for (std::size_t i = 0; i < 4; ++i) ::sigaction(kSignals[i], &gPrevious[i], nullptr);
  ::close(gPipe[0]);
  ::close(gPipe[1]);
  gPipe[0] = gPipe[1] = -1;
}

RawTerminal::RawTerminal(int fd) : fd_(fd) {
  if (!isTerminal(fd) || ::tcgetattr(fd, &saved_) != 0) return;
  termios raw = saved_;
  ::cfmakeraw(&raw);
  if (::tcsetattr(fd, TCSANOW, &raw) == 0) active_ = true;
}

RawTerminal::~RawTerminal() {
  if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
}

}  // namespace berth::cli
