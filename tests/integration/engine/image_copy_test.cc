// Images streamed engine to engine (engine/image_copy.h) between real dockerd instances: a save
// streamed into loads on two other hosts at once, in bounded memory; the streamed save and load
// refusing what they must refuse, with the engine's own words.
#include "engine/image_copy.h"

#include <malloc.h>

#include <fstream>
#include <functional>
#include <sstream>

#include "base/tar_writer.h"
#include "engine_fixture.h"
#include "harness/sanitizers.h"

namespace berth::engine::testing {
namespace {

using berth::testing::HostOptions;
using berth::testing::kAddressSanitizer;
using berth::testing::TestHost;

using ImageCopyTest = EngineTest;

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM"); -1 when it cannot be read.
long statusKiB(std::string_view field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(std::string(field) + ":", 0) == 0) {
      std::istringstream value(line.substr(field.size() + 1));
      long kib = -1;
      value >> kib;
      return kib;
    }
  }
  return -1;
}

// How much the process's peak resident memory rose above where it stood when `body` began, in KiB.
//
// Writing "5" to /proc/self/clear_refs (Linux 4.0+) resets VmHWM, the peak, to the current VmRSS,
// so VmHWM afterwards is the peak reached while `body` ran: every page touched counts, however
// briefly it was held. A thread sampling VmRSS could miss a short peak, and getrusage's ru_maxrss
// cannot be reset. Freed heap memory is handed back to the kernel first (malloc_trim): otherwise a
// buffer could reuse pages that are still resident and the peak would not show it.
Result<long> peakRssGrowthKiB(const std::function<void()>& body) {
  malloc_trim(0);
  {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    clear.close();
    if (!clear) return fail(ErrorCode::Internal, "cannot reset the peak RSS through /proc/self/clear_refs");
  }
  const long before = statusKiB("VmRSS");
  if (before < 0 || statusKiB("VmHWM") > before + 1024) {
    return fail(ErrorCode::Internal, "the peak RSS did not reset (VmHWM stays above VmRSS)");
  }
  body();
  return statusKiB("VmHWM") - before;
}

TEST_F(ImageCopyTest, StreamsABigImageToTwoEnginesAtOnceInBoundedMemory) {
  // 32 MiB of random bytes (nothing on the way compresses them), made by the engine itself so that
  // this process never holds the image.
  constexpr long kPayloadMiB = 32;
  TarWriter context;
  context.addFile("Dockerfile", "FROM busybox:latest\nRUN head -c " + std::to_string(kPayloadMiB << 20) +
                                    " /dev/urandom > /payload\n");
  const std::string ref = name("big") + ":v1";
  removeImageLater(ref);
  BuildOptions options;
  options.tags = {ref};
  options.labels = labels();
  auto built = engine().buildImage(context.finish(), options, nullptr);
  ASSERT_TRUE(built) << built.error().message();
  auto source = engine().inspectImage(ref);
  ASSERT_TRUE(source) << source.error().message();
  ASSERT_GE(source->size, kPayloadMiB << 20);

  std::vector<std::unique_ptr<TestHost>> hosts;
  std::vector<std::unique_ptr<Engine>> engines;
  std::vector<Engine*> targets;
  for (int i = 0; i < 2; ++i) {
    auto host = TestHost::start(HostOptions{.loadBusybox = false});
    ASSERT_TRUE(host) << host.error().message();
    engines.push_back(engineAt((*host)->unixSocketUrl()));
    ASSERT_NE(engines.back(), nullptr);
    targets.push_back(engines.back().get());
    hosts.push_back(std::move(host).value());
  }

  Status copied;
  std::uint64_t bytes = 0;
  CopyOptions copyOptions;
  copyOptions.onProgress = [&](std::uint64_t n) { bytes = n; };
  auto growth = peakRssGrowthKiB([&] { copied = copyImages(engine(), {ref}, targets, copyOptions); });
  ASSERT_TRUE(growth) << growth.error().message();
  ASSERT_TRUE(copied) << copied.error().message();
  EXPECT_GE(bytes, static_cast<std::uint64_t>(kPayloadMiB << 20));
  // Holding the image once would have raised the peak by at least its 32 MiB (saveImages and
  // loadImage instead of the stream measure 68 MiB here); streaming holds a piece (64 KiB) per
  // engine, plus what a few threads and connections cost (about 1 MiB). (Not under ASan, whose
  // quarantine keeps every freed piece for a while: there the peak follows what went through.)
  if (!kAddressSanitizer) {
    EXPECT_LT(*growth, (kPayloadMiB << 10) / 4) << "peak RSS grew by " << *growth << " KiB during the copy";
  }

  for (Engine* target : targets) {
    auto image = target->inspectImage(ref);
    ASSERT_TRUE(image) << image.error().message();
    EXPECT_EQ(image->id, source->id);
    EXPECT_EQ(image->repoTags, (std::vector<std::string>{ref}));
  }
}

TEST_F(ImageCopyTest, StreamedSaveOfAMissingImageIsNotFound) {
  const std::string missing = name("missing") + ":v1";
  bool delivered = false;
  auto saved = engine().saveImagesTo({"busybox:latest", missing},
                                     [&](std::string_view) {
                                       delivered = true;
                                       return true;
                                     },
                                     {});
  ASSERT_FALSE(saved);
  EXPECT_FALSE(delivered);
  EXPECT_EQ(saved.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(saved.error().message(),
            engineError("save images busybox:latest " + missing, "reference does not exist", 404));
}

TEST_F(ImageCopyTest, CopyOfAMissingImageFailsBeforeAnythingIsSent) {
  auto host = TestHost::start(HostOptions{.loadBusybox = false});
  ASSERT_TRUE(host) << host.error().message();
  auto target = engineAt((*host)->unixSocketUrl());
  const std::string missing = name("missing") + ":v1";
  auto copied = copyImages(engine(), {missing}, {target.get()});
  ASSERT_FALSE(copied);
  EXPECT_EQ(copied.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(copied.error().message(),
            "copy images " + missing + ": " +
                engineError("inspect image " + missing,
                            "no such image: " + missing + ": No such image: " + missing, 404));
}

TEST_F(ImageCopyTest, StreamedLoadOfSomethingThatIsNotATarSaysWhy) {
  auto load = engine().beginImageLoad();
  ASSERT_TRUE(load) << load.error().message();
  // dockerd reads a bad tar to its end before it answers (so that a decompressor feeding it never
  // blocks), then reports the failure in its progress stream.
  const std::string piece(64 * 1024, 'x');
  for (int i = 0; i < 16; ++i) {
    auto written = (*load)->write(piece);
    ASSERT_TRUE(written) << written.error().message();
  }
  auto loaded = (*load)->finish();
  ASSERT_FALSE(loaded) << "the engine loaded garbage";
  EXPECT_EQ(loaded.error().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(loaded.error().message(),
            "engine " + host().unixSocketUrl() +
                ": load images: Error processing tar file(exit status 1): archive/tar: "
                "invalid tar header");
}

}  // namespace
}  // namespace berth::engine::testing
