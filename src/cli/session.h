// An interactive session with a process in a container (exec, run): our stdin to its stdin, its
// output to our stdout/stderr, raw terminal mode and window size when it has a TTY.
//
// Blocks until the process's output ends (it exited) or `stop` is requested.
#pragma once

#include <functional>
#include <stop_token>

#include "base/result.h"
#include "engine/engine.h"

namespace berth::cli {

struct SessionOptions {
  bool tty = false;
  bool stdinAttached = true;
  // Called with (rows, columns) at the start and whenever our terminal changes size.
  std::function<void(int, int)> resize{};
};

Status pumpSession(engine::AttachedStream& stream, const SessionOptions& options, std::stop_token stop);

}  // namespace berth::cli
