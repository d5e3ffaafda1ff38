#include "engine/image_copy.h"

#include <fmt/core.h>

#include <atomic>
#include <optional>
#include <thread>

#include "base/strings.h"

namespace berth::engine {
namespace {

Error cancelledError() { return Error(ErrorCode::Cancelled, "cancelled"); }

}  // namespace

struct ImageFanOut::Impl {
  struct Target {
    Engine* engine = nullptr;
    // Kept until the fan-out goes, also after a failure, so that cancel() may walk the targets
    // from another thread while the owner writes.
    std::unique_ptr<ImageLoad> load;
    std::optional<Error> failure;  // written only by the thread working on this target
  };

  std::vector<Target> targets;  // fixed after begin()
  std::atomic<bool> cancelled{false};
  bool finished = false;

  // Every failed target's error; the target's own error when it is the only target.
  Error failures() const {
    std::vector<std::string> texts;
    const Error* first = nullptr;
    for (const Target& t : targets) {
      if (!t.failure) continue;
      if (first == nullptr) first = &*t.failure;
      texts.push_back(t.failure->message());
    }
    BERTH_CHECK(first != nullptr);
    if (targets.size() == 1) return *first;
    return Error(first->code(),
                 fmt::format("{} of {} engines failed: {}", texts.size(), targets.size(), join(texts, "; ")));
  }

  std::size_t live() const {
    std::size_t n = 0;
    for (const Target& t : targets) n += t.failure ? 0 : 1;
    return n;
  }
};

ImageFanOut::ImageFanOut(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ImageFanOut::ImageFanOut(ImageFanOut&&) noexcept = default;
ImageFanOut& ImageFanOut::operator=(ImageFanOut&&) noexcept = default;
ImageFanOut::~ImageFanOut() = default;

Result<ImageFanOut> ImageFanOut::begin(const std::vector<Engine*>& targets) {
  if (targets.empty()) return fail(ErrorCode::InvalidArgument, "no engine to load the images into");
  auto impl = std::make_unique<Impl>();
  for (Engine* engine : targets) {
    BERTH_CHECK(engine != nullptr);
    Impl::Target t;
    t.engine = engine;
    auto load = engine->beginImageLoad();
    if (load) {
      t.load = std::move(load).value();
    } else {
      t.failure = std::move(load).error();
    }
    impl->targets.push_back(std::move(t));
  }
  if (impl->live() == 0) return fail(impl->failures());
  return ImageFanOut(std::move(impl));
}

Status ImageFanOut::write(std::string_view piece) {
  BERTH_CHECK(!impl_->finished);
  if (impl_->cancelled) return fail(cancelledError());
  if (impl_->live() == 0) return fail(impl_->failures());
  for (Impl::Target& t : impl_->targets) {
    if (t.failure) continue;
    auto written = t.load->write(piece);
    if (written) continue;
    // A write that cancel() interrupted is not the target's failure.
    if (impl_->cancelled) return fail(cancelledError());
    t.failure = std::move(written).error();
  }
  if (impl_->live() == 0) return fail(impl_->failures());
  return ok();
}

Status ImageFanOut::finish(const std::vector<ExpectedImage>& expected) {
  BERTH_CHECK(!impl_->finished);
  impl_->finished = true;
  if (impl_->cancelled) return fail(cancelledError());
  // Each engine loads the images only once its tar ended, which for big images is most of the work:
  // finishing the targets one after another would add those times up.
  const auto finishOne = [&](Impl::Target& t) {
    auto loaded = t.load->finish();
    if (!loaded) {
      t.failure = std::move(loaded).error();
      return;
    }
    for (const ExpectedImage& e : expected) {
      auto image = t.engine->inspectImage(e.ref);
      if (!image) {
        t.failure = std::move(image).error();
        return;
      }
      if (image->id != e.id) {
        t.failure =
            Error(ErrorCode::Internal, fmt::format("engine {}: {} is {} after the load, not {} as sent",
                                                   t.engine->address(), e.ref, image->id, e.id));
        return;
      }
    }
  };
  if (impl_->live() == 1) {
    for (Impl::Target& t : impl_->targets) {
      if (!t.failure) finishOne(t);
    }
  } else {
    std::vector<std::jthread> workers;
    for (Impl::Target& t : impl_->targets) {
      if (!t.failure) workers.emplace_back([&finishOne, &t] { finishOne(t); });
    }
  }  // the workers are joined
  if (impl_->cancelled) return fail(cancelledError());
  if (impl_->live() < impl_->targets.size()) return fail(impl_->failures());
  return ok();
}

void ImageFanOut::cancel() {
  impl_->cancelled = true;
  for (Impl::Target& t : impl_->targets) {
    if (t.load) t.load->cancel();
  }
}

std::size_t ImageFanOut::liveTargets() const { return impl_->live(); }

Status copyImages(Engine& from, const std::vector<std::string>& refs, const std::vector<Engine*>& to,
                  const CopyOptions& options, std::stop_token stop) {
  const std::string what = "copy images " + join(refs, " ");
  const auto failed = [&](const Error& cause) {
    return fail(Error(cause.code(), fmt::format("{}: {}", what, cause.message())));
  };
  const auto stopped = [&] { return fail(ErrorCode::Cancelled, what + ": stopped"); };
  if (to.empty()) return ok();
  if (refs.empty()) return fail(ErrorCode::InvalidArgument, "copy images: no image named");

  // The IDs the targets must end up with. Asked before the save, so a missing image is the
  // source's plain NotFound.
  std::vector<ExpectedImage> expected;
  for (const std::string& ref : refs) {
    auto image = from.inspectImage(ref);
    if (!image) return failed(image.error());
    expected.push_back({ref, image->id});
  }
  if (stop.stop_requested()) return stopped();

  auto fan = ImageFanOut::begin(to);
  if (!fan) return failed(fan.error());
  // Wakes a write or finish blocked on a slow target; deregistered before `fan` goes.
  std::stop_callback onStop(stop, [&fan] { fan->cancel(); });

  std::optional<Error> targetsFailed;
  std::uint64_t copied = 0;
  const auto sink = [&](std::string_view piece) {
    auto written = fan->write(piece);
    if (!written) {
      targetsFailed = std::move(written).error();
      return false;
    }
    copied += piece.size();
    if (options.onProgress) options.onProgress(copied);
    return true;
  };
  Status saved = from.saveImagesTo(refs, sink, stop);
  if (stop.stop_requested()) return stopped();
  if (targetsFailed) return failed(*targetsFailed);
  if (!saved) return failed(saved.error());

  Status finished = fan->finish(expected);
  if (stop.stop_requested()) return stopped();
  if (!finished) return failed(finished.error());
  return ok();
}

}  // namespace berth::engine
