// Terminal and signal handling for the interactive commands (up attached, logs -f, events, exec,
// run): Ctrl-C and friends delivered as calls on a watcher thread, raw mode for a TTY session,
// the terminal's size.
//
// Thread-safety: one InterruptWatcher and one RawTerminal at a time per process (they own process
// state: signal dispositions, terminal modes); their callbacks run on the watcher's thread.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <thread>
#include <utility>

#include <termios.h>

namespace berth::cli {

bool isTerminal(int fd);
// Rows and columns of the terminal on `fd`; nullopt when it is not one.
std::optional<std::pair<int, int>> terminalSize(int fd);

// While alive, SIGINT, SIGTERM and SIGHUP call onInterrupt(n) (n = how many so far, from 1) on the
// watcher thread instead of killing the process, and SIGWINCH calls onResize. The previous
// dispositions come back on destruction.
class InterruptWatcher {
 public:
  explicit InterruptWatcher(std::function<void(int count)> onInterrupt, std::function<void()> onResize = {});
  ~InterruptWatcher();
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  int count() const { return count_.load(); }

 private:
  std::function<void(int)> onInterrupt_;
  std::function<void()> onResize_;
  std::atomic<int> count_{0};
  std::jthread thread_;
};

// Puts the terminal on `fd` into raw mode (no echo, no line editing, no signals from keys: ^C goes
// to the container) and restores it on destruction. Does nothing when `fd` is not a terminal.
class RawTerminal {
 public:
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  bool active() const { return active_; }

 private:
  int fd_;
  bool active_ = false;
  termios saved_{};
};

}  // namespace berth::cli
