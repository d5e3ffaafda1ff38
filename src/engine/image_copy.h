// Images carried engine to engine without a registry: one engine's `docker save` streamed into
// `docker load` on one or more engines at once. The controller uses it to bring a service's image to
// the hosts it placed the service on (copyImages); the CLI uploads an image from its local engine to
// the controller, which forwards the request body to the hosts (ImageFanOut, fed piece by piece).
//
// Memory: one piece at a time. A piece is what the transport delivers (from an engine's save, at
// most 64 KiB); it is written to every target in turn, each write blocking until that engine took
// it, before the next piece is read. So a slow target slows the whole copy down and nothing queues
// up: the copy holds one piece (plus, per target, at most one piece's chunk framing), whatever the
// image's size. No temporary file is written.
//
// Failure: every target is attempted. A target that fails (cannot be reached, refuses the load,
// breaks off, ends up with another image than the source's) is dropped and the others go on; the
// copy fails as a whole if any target failed, with an error that names each failed target and why.
// Targets that succeeded keep the images they loaded. A failing source, or a stop, abandons every
// load that is still streaming: those engines load nothing.
//
// Thread-safety: copyImages blocks the calling thread (it finishes the loads on one thread per
// target). An ImageFanOut is written and finished by one thread; cancel() may be called from any
// thread. The engines must outlive the copy.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engine/engine.h"

namespace berth::engine {

// What a target must hold after the load: `ref` (a tag, or an ID) names image `id`.
struct ExpectedImage {
  std::string ref;
  std::string id;
};

// One `docker load` on each of several engines, fed from one stream of pieces.
class ImageFanOut {
 public:
  // Starts a load on every target (each on a connection of its own). Fails with InvalidArgument
  // when `targets` is empty, and when no target could start (the error lists each); a target that
  // could not start is otherwise reported by write() and finish() like any failed target.
  static Result<ImageFanOut> begin(const std::vector<Engine*>& targets);

  ImageFanOut(ImageFanOut&&) noexcept;
  ImageFanOut& operator=(ImageFanOut&&) noexcept;
  // Abandons the loads that were not finished: those engines load nothing.
  ~ImageFanOut();

  // Writes `piece` to every target still in the copy, in turn, blocking until each took it (a
  // target's engine answers within its long timeout). A target that fails is dropped. Fails only
  // when no target is left (the error lists every target's failure), or with Cancelled after
  // cancel(); the fan-out is then over.
  Status write(std::string_view piece);

  // Ends every load and waits until the engines loaded the images (in parallel, one thread per
  // target), then checks that each target holds every `expected` image: inspectImage(ref).id must
  // be the expected ID (an empty list checks nothing). Ok only if every target succeeded; otherwise
  // the error lists each failed target ("engine <url>: load images: ..." or "engine <url>:
  // web:1 is sha256:... after the load, not sha256:... as sent"). Call once.
  Status finish(const std::vector<ExpectedImage>& expected);

  // Makes a blocked write() or finish(), and every later one, fail with Cancelled; the loads that
  // were not finished are abandoned. Never blocks; any thread.
  void cancel();

  // Targets that have not failed so far.
  std::size_t liveTargets() const;

 private:
  struct Impl;
  explicit ImageFanOut(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct CopyOptions {
  // Called after each piece reached every live target, with the bytes copied so far (on the
  // copying thread; may be empty).
  std::function<void(std::uint64_t bytesCopied)> onProgress{};
};

// Copies the images `refs` (tags or IDs) from `from` to every engine in `to` at once: inspects them
// on `from` (their IDs), streams from.saveImagesTo into an ImageFanOut over `to`, then checks each
// target holds every ref with the source's ID. Blocks until done, failed, or `stop` is requested
// (Cancelled; the unfinished loads are abandoned). Nothing to do when `to` is empty.
//
// Errors read "copy images <refs>: " and then the cause: the source's error (a missing image is
// the source's NotFound), or the failed targets, each with its own error: "<k> of <n> engines
// failed: <error>; <error>" when there are several targets, the target's error alone when there is
// one. The code is the (first) cause's.
Status copyImages(Engine& from, const std::vector<std::string>& refs, const std::vector<Engine*>& to,
                  const CopyOptions& options = {}, std::stop_token stop = {});

}  // namespace berth::engine
