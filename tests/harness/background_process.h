// A child process that runs while the test goes on: a daemon under test (berthd), or a streaming
// command (`berth events`) whose output the test watches as it arrives. Its stdout and stderr are
// collected by a reader thread; the test polls them with waitForOutput (a deadline, never a sleep).
//
// Like runCommand's children, it leads its own process group and gets PR_SET_PDEATHSIG(SIGKILL), so
// a test binary that dies takes it along. The destructor kills the group (SIGKILL) and reaps it.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "harness/subprocess.h"

namespace berth::testing {

class BackgroundProcess {
 public:
  // Starts argv (PATH lookup as runCommand; options.timeout and stdinData are ignored). Errors when
  // the program cannot be executed.
  static Result<std::unique_ptr<BackgroundProcess>> start(const std::vector<std::string>& argv,
                                                          const CommandOptions& options = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const;
  // Everything written so far.
  std::string out() const;
  std::string err() const;
  // Blocks until stdout+stderr contain `text` or `timeout` passes; whether it was found.
  bool waitForOutput(std::string_view text, std::chrono::milliseconds timeout) const;
  // Sends `sig` to the process (not its group).
  void signal(int sig) const;
  // Blocks until the process exits or `timeout` passes; its exit status (128+N for signal N).
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  // "pid 123, exited 1 / running\nstdout:\n...\nstderr:\n..." for assertion messages.
  std::string describe();

 private:
  struct State;
  explicit BackgroundProcess(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace berth::testing
