// Running an attached exec or container to the end: stdin in, output out. The CLI's `exec`/`run`
// and tests use this rather than driving an AttachedStream by hand.
//
// Thread-safety: pumpAttached blocks the calling thread and uses one more thread for stdin.
#pragma once

#include <optional>
#include <stop_token>
#include <string>

#include "base/result.h"
#include "engine/engine.h"

namespace berth::engine {

struct AttachIo {
  // What the process reads on stdin: these bytes, then end-of-file; or everything read from the file
  // descriptor stdinFd (a terminal, a pipe, a file) until its end, then end-of-file. Neither: stdin
  // is left open and untouched. With a TTY there is no end-of-file to send (the engine ends a TTY
  // session whose stdin is closed, dropping its output): stdin stays open, and the process sees the
  // end of input only if the bytes say so (^D at the start of a line, as typed on a terminal).
  std::optional<std::string> stdinData;
  int stdinFd = -1;
  OutputSink onOutput;  // required
};

// Copies stdin (on a second thread) and output until the output ends (the process exited or
// detached), or `stop` is requested (then returns Cancelled). Errors are the stream's; a failure to
// write stdin after the process stopped reading it is not one.
Status pumpAttached(AttachedStream& stream, const AttachIo& io, std::stop_token stop);

}  // namespace berth::engine
