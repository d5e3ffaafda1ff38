// Progress views for plan::apply, as `docker compose` shows them:
//   tty    a live table redrawn in place: each resource with a spinner or mark, its state and the
//          time it took ("[+] Running 4/4", " ✔ Container p-web-1  Started  0.4s");
//   plain  one line per step (" Container p-web-1  Started"), for logs and pipes;
//   json   one JSON object per line per step, for scripts;
//   quiet  nothing.
// auto picks tty when the stream is a terminal, else plain.
//
// Thread-safety: event() and printAbove() may be called from several threads (apply serializes its
// calls anyway); finish() from the owner once apply returned.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/result.h"
#include "plan/apply.h"

namespace berth::cli {

enum class ProgressMode { Auto, Tty, Plain, Json, Quiet };

Result<ProgressMode> parseProgressMode(std::string_view text);

class ProgressView : public plan::Progress {
 public:
  // Final redraw (tty), after which nothing more is written.
  virtual void finish() = 0;
  // Writes `text` (whole lines) to `fd` without tearing the view: a live table is erased first and
  // redrawn below the text. The other views just write it.
  virtual void printAbove(int fd, std::string_view text);
};

// `title` is the verb of the header ("Running", "Stopping"). Writes to file descriptor `fd`.
std::unique_ptr<ProgressView> makeProgressView(ProgressMode mode, std::string title, int fd = 2);

// Output that shares the terminal with the progress view of a running plan (attached `up` prints
// the containers' output while it converges): while a view is shown, text goes above it, else
// straight to its file descriptor.
//
// Thread-safety: all methods may be called from many threads.
class OutputAboveProgress {
 public:
  void write(int fd, std::string_view text);
  // `view` is shown from now on (runPlan calls it once the view exists).
  void show(ProgressView& view);
  // Finishes the shown view (its final redraw) and writes straight to the terminal again.
  void finish();

 private:
  std::mutex mu_;
  ProgressView* view_ = nullptr;  // guarded by mu_
};

}  // namespace berth::cli
