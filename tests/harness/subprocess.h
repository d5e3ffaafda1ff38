// Running child processes from tests: a command with arguments, environment and stdin, its stdout,
// stderr and exit code captured, bounded by a timeout. Used for the real `berth` binary, for
// commands inside a test host's namespaces, and for tools (ip, openssl, ssh) in harness self-tests.
//
// Every child is the leader of its own process group and gets PR_SET_PDEATHSIG(SIGKILL), so a test
// binary that dies also takes the commands it was waiting for down; on timeout the whole group is
// killed. Output is read until the child exits and its pipes close; a daemon that a command leaves
// behind holding the pipes open does not make the call hang (reading stops shortly after the exit).
//
// Thread-safety: runCommand may be called from several threads at once.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "base/result.h"

namespace berth::testing {

struct CommandOptions {
  // "NAME=VALUE" entries set on top of the inherited environment (or of an empty one).
  std::vector<std::string> env{};
  // Names removed from the inherited environment (e.g. DOCKER_HOST, so a test never reaches the
  // user's engine by accident).
  std::vector<std::string> unsetEnv{};
  bool inheritEnvironment = true;
  std::string stdinData{};
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  std::filesystem::path workingDirectory{};  // empty: the test process's
};

struct CommandResult {
  // The exit status; 128 + N when killed by signal N (as a shell reports it).
  int exitCode = -1;
  std::string out;
  std::string err;
  bool timedOut = false;

  bool succeeded() const { return exitCode == 0 && !timedOut; }
  // "exit 2 (timed out)\nstdout:\n...\nstderr:\n..." for assertion messages.
  std::string describe() const;
};

// Runs argv[0] (looked up in PATH when it has no '/') and blocks until it exits or the timeout
// passes. Fails (Error NotFound / Unavailable) only when the command could not be started; a
// command that runs and fails is a CommandResult with a non-zero exit code.
Result<CommandResult> runCommand(const std::vector<std::string>& argv, const CommandOptions& options = {});

// Runs a berth-built binary (normally the `berth` CLI; integration tests get its path in the
// BERTH_BINARY compile definition, see berth_binary.h). DOCKER_* and BERTH_HOST are removed from the
// environment unless `options.env` sets them, so the binary never reaches an engine the test did not
// name.
Result<CommandResult> runBinary(const std::filesystem::path& binary, const std::vector<std::string>& args,
                                CommandOptions options = {});

namespace detail {
// Shared with BackgroundProcess: the child's environment from `options`, and argv[0]'s PATH lookup
// (done in the parent, so that the child calls only async-signal-safe functions). Empty when not
// found.
std::vector<std::string> buildEnvironment(const CommandOptions& options);
std::string resolveProgram(const std::string& name, const std::vector<std::string>& env);
}  // namespace detail

}  // namespace berth::testing
