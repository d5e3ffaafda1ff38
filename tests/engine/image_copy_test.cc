// copyImages and ImageFanOut between fake engines: the tee (every piece to every target in turn,
// nothing held back), failing targets, failing sources, stops, and the check of the loaded IDs; and
// the fake engine's save and load, which the copy tests rely on behaving like an engine's.
#include "engine/image_copy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <stop_token>

#include "fakes/fake_engine.h"

namespace berth::engine {
namespace {

using berth::fakes::FakeEngine;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

ImageConfig webConfig() {
  ImageConfig c;
  c.cmd = {"serve", "--port", "80"};
  c.env = {"MODE=\"prod\""};
  c.labels = {{"app", "web"}};
  c.exposedPorts = {"80/tcp"};
  c.healthcheck = HealthConfig{{"CMD", "true"}, std::chrono::seconds(5), std::chrono::seconds(1), {}, 3};
  return c;
}

bool contains(const std::vector<std::string>& calls, const std::string& call) {
  return std::find(calls.begin(), calls.end(), call) != calls.end();
}

// Which target got which piece, in the order the pieces were written.
class PieceLog {
 public:
  void watch(FakeEngine& engine, std::string name) {
    engine.onImageLoadPiece([this, name](std::string_view piece) {
      std::lock_guard lock(mu_);
      entries_.push_back(name + ":" + std::to_string(piece.size()));
    });
  }
  std::vector<std::string> entries() {
    std::lock_guard lock(mu_);
    return entries_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> entries_;
};

class ImageCopyTest : public ::testing::Test {
 protected:
  ImageCopyTest() : source_("fake://src"), a_("fake://a"), b_("fake://b") {
    webId_ = source_.addImage("web:1", {}, webConfig());
  }

  FakeEngine source_;
  FakeEngine a_;
  FakeEngine b_;
  std::string webId_;
};

TEST_F(ImageCopyTest, FakeSaveStreamsInPiecesThatLoadBackWithIdTagsAndConfig) {
  std::vector<std::size_t> pieces;
  std::string tar;
  ASSERT_TRUE(source_.saveImagesTo({"web:1"},
                                   [&](std::string_view piece) {
                                     pieces.push_back(piece.size());
                                     tar += piece;
                                     return true;
                                   },
                                   {}));
  EXPECT_GT(pieces.size(), 3u);
  EXPECT_EQ(tar, *source_.saveImages({"web:1"}));
  auto loaded = a_.loadImage(tar);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(*loaded, (std::vector<std::string>{"web:1"}));
  auto image = a_.inspectImage("web:1");
  ASSERT_TRUE(image) << image.error().message();
  EXPECT_EQ(image->id, webId_);
  EXPECT_EQ(image->config.cmd, webConfig().cmd);
  EXPECT_EQ(image->config.env, webConfig().env);
  EXPECT_EQ(image->config.labels, webConfig().labels);
  EXPECT_EQ(image->config.exposedPorts, webConfig().exposedPorts);
  EXPECT_EQ(image->config.healthcheck, webConfig().healthcheck);
}

TEST_F(ImageCopyTest, FakeSaveOfAMissingImageIsNotFound) {
  auto saved = source_.saveImagesTo({"web:1", "nope:2"}, [](std::string_view) { return true; }, {});
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(saved.error().message(),
            "engine fake://src: save images web:1 nope:2: No such image: nope:2 (404)");
}

TEST_F(ImageCopyTest, FakeLoadOfGarbageFails) {
  auto loaded = a_.loadImage("definitely not an image archive");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message(), "engine fake://a: load images: unexpected EOF (500)");
}

TEST_F(ImageCopyTest, TeesEveryPieceToEveryTargetInTurn) {
  PieceLog log;
  log.watch(a_, "a");
  log.watch(b_, "b");
  std::vector<std::uint64_t> progress;
  CopyOptions options;
  options.onProgress = [&](std::uint64_t copied) { progress.push_back(copied); };
  auto copied = copyImages(source_, {"web:1"}, {&a_, &b_}, options);
  ASSERT_TRUE(copied) << copied.error().message();

  EXPECT_EQ(a_.imageId("web:1"), webId_);
  EXPECT_EQ(b_.imageId("web:1"), webId_);
  EXPECT_EQ(a_.inspectImage("web:1")->config.labels, webConfig().labels);
  // Each piece went to a, then b, before the next was read: a tee that holds one piece.
  const auto entries = log.entries();
  ASSERT_GT(entries.size(), 6u);
  for (std::size_t i = 0; i + 1 < entries.size(); i += 2) {
    EXPECT_EQ(entries[i].substr(0, 2), "a:") << i;
    EXPECT_EQ(entries[i + 1], "b:" + entries[i].substr(2)) << i;
  }
  const std::size_t tarSize = source_.saveImages({"web:1"})->size();
  ASSERT_EQ(progress.size(), entries.size() / 2);
  EXPECT_EQ(progress.back(), tarSize);
  EXPECT_THAT(a_.mutations(), ElementsAre("loadImage"));
  EXPECT_THAT(b_.mutations(), ElementsAre("loadImage"));
  EXPECT_TRUE(contains(source_.calls(), "saveImages web:1"));
}

TEST_F(ImageCopyTest, CopiesSeveralRefsIncludingAnId) {
  const std::string dbId = source_.addImage("db:2");
  ASSERT_TRUE(source_.tagImage("web:1", "web", "stable"));
  auto copied = copyImages(source_, {"web:1", "web:stable", dbId}, {&a_});
  ASSERT_TRUE(copied) << copied.error().message();
  EXPECT_EQ(a_.imageId("web:1"), webId_);
  EXPECT_EQ(a_.imageId("web:stable"), webId_);
  EXPECT_EQ(a_.inspectImage(dbId)->id, dbId);
  EXPECT_FALSE(a_.imageId("db:2"));  // asked for by ID: the tag does not travel
}

TEST_F(ImageCopyTest, AFailingTargetIsNamedAndTheOtherStillLoads) {
  b_.failStreamAfter(
      "loadImage", 20000,
      Error(ErrorCode::Unavailable, "engine fake://b: load images: connection to b lost: Broken pipe"));
  auto copied = copyImages(source_, {"web:1"}, {&a_, &b_});
  ASSERT_FALSE(copied);
  EXPECT_EQ(copied.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(copied.error().message(),
            "copy images web:1: 1 of 2 engines failed: engine fake://b: load images: connection to b lost: "
            "Broken pipe");
  EXPECT_EQ(a_.imageId("web:1"), webId_);
  EXPECT_FALSE(b_.imageId("web:1"));
  EXPECT_THAT(b_.mutations(), IsEmpty());  // the broken load was abandoned, never finished
}

TEST_F(ImageCopyTest, EveryFailedTargetIsListed) {
  a_.failNext("beginImageLoad",
              Error(ErrorCode::Unavailable, "engine fake://a: load images: connection refused"));
  b_.failNext("loadImage",
              Error(ErrorCode::Internal, "engine fake://b: load images: no space left on device (500)"));
  FakeEngine c("fake://c");
  auto copied = copyImages(source_, {"web:1"}, {&a_, &b_, &c});
  ASSERT_FALSE(copied);
  EXPECT_EQ(copied.error().message(),
            "copy images web:1: 2 of 3 engines failed: engine fake://a: load images: connection refused; "
            "engine fake://b: load images: no space left on device (500)");
  EXPECT_EQ(c.imageId("web:1"), webId_);
}

TEST_F(ImageCopyTest, WhenNoTargetCanStartNothingIsSaved) {
  a_.failNext("beginImageLoad",
              Error(ErrorCode::Unavailable, "engine fake://a: load images: connection refused"));
  auto copied = copyImages(source_, {"web:1"}, {&a_});
  ASSERT_FALSE(copied);
  EXPECT_EQ(copied.error().message(), "copy images web:1: engine fake://a: load images: connection refused");
  EXPECT_FALSE(contains(source_.calls(), "saveImages web:1"));
}

TEST_F(ImageCopyTest, WhenEveryTargetBreaksOffTheSaveStops) {
  a_.failStreamAfter("loadImage", 10000,
                     Error(ErrorCode::Unavailable, "engine fake://a: load images: reset"));
  b_.failStreamAfter("loadImage", 20000,
                     Error(ErrorCode::Unavailable, "engine fake://b: load images: reset"));
  PieceLog log;
  log.watch(b_, "b");
  auto copied = copyImages(source_, {"web:1"}, {&a_, &b_});
  ASSERT_FALSE(copied);
  EXPECT_EQ(
      copied.error().message(),
      "copy images web:1: 2 of 2 engines failed: engine fake://a: load images: reset; engine fake://b: load "
      "images: reset");
  // b failed on its third 8 KiB piece, and nothing was read after it.
  EXPECT_EQ(log.entries().size(), 3u);
}

TEST_F(ImageCopyTest, AFailingSourceAbandonsEveryLoad) {
  source_.failStreamAfter(
      "saveImages", 20000,
      Error(ErrorCode::Unavailable, "engine fake://src: save images web:1: connection lost"));
  auto copied = copyImages(source_, {"web:1"}, {&a_, &b_});
  ASSERT_FALSE(copied);
  EXPECT_EQ(copied.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(copied.error().message(),
            "copy images web:1: engine fake://src: save images web:1: connection lost");
  EXPECT_FALSE(a_.imageId("web:1"));
  EXPECT_THAT(a_.mutations(), IsEmpty());
  EXPECT_THAT(b_.mutations(), IsEmpty());
}

TEST_F(ImageCopyTest, AMissingImageIsTheSourcesNotFound) {
  auto copied = copyImages(source_, {"nope:1"}, {&a_});
  ASSERT_FALSE(copied);
  EXPECT_EQ(copied.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(copied.error().message(),
            "copy images nope:1: engine fake://src: inspect image nope:1: No such image: nope:1 (404)");
  EXPECT_THAT(a_.calls(), IsEmpty());
}

TEST_F(ImageCopyTest, AStopHalfWayAbandonsTheLoads) {
  std::stop_source stop;
  int pieces = 0;
  a_.onImageLoadPiece([&](std::string_view) {
    if (++pieces == 2) stop.request_stop();
  });
  auto copied = copyImages(source_, {"web:1"}, {&a_, &b_}, {}, stop.get_token());
  ASSERT_FALSE(copied);
  EXPECT_EQ(copied.error().code(), ErrorCode::Cancelled);
  EXPECT_EQ(copied.error().message(), "copy images web:1: stopped");
  EXPECT_EQ(pieces, 2);
  EXPECT_THAT(a_.mutations(), IsEmpty());
  EXPECT_THAT(b_.mutations(), IsEmpty());
}

TEST_F(ImageCopyTest, NoTargetsIsNothingToDo) {
  ASSERT_TRUE(copyImages(source_, {"web:1"}, {}));
  EXPECT_THAT(source_.calls(), IsEmpty());
}

// The controller's use: pieces from elsewhere (a request body), the IDs the sender announced.
TEST_F(ImageCopyTest, FanOutChecksTheLoadedIds) {
  auto tar = source_.saveImages({"web:1"});
  ASSERT_TRUE(tar);
  auto fan = ImageFanOut::begin({&a_, &b_});
  ASSERT_TRUE(fan) << fan.error().message();
  for (std::size_t pos = 0; pos < tar->size(); pos += 1000) {
    ASSERT_TRUE(fan->write(std::string_view(*tar).substr(pos, 1000)));
  }
  auto finished = fan->finish({{"web:1", "sha256:announced"}});
  ASSERT_FALSE(finished);
  EXPECT_EQ(finished.error().code(), ErrorCode::Internal);
  EXPECT_EQ(finished.error().message(),
            "2 of 2 engines failed: engine fake://a: web:1 is " + webId_ +
                " after the load, not sha256:announced as sent; engine fake://b: web:1 is " + webId_ +
                " after the load, not sha256:announced as sent");
}

TEST_F(ImageCopyTest, FanOutReportsAMissingRefAfterTheLoad) {
  auto tar = source_.saveImages({"web:1"});
  auto fan = ImageFanOut::begin({&a_});
  ASSERT_TRUE(fan) << fan.error().message();
  ASSERT_TRUE(fan->write(*tar));
  auto finished = fan->finish({{"web:1", webId_}, {"db:2", "sha256:x"}});
  ASSERT_FALSE(finished);
  EXPECT_EQ(finished.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(finished.error().message(), "engine fake://a: inspect image db:2: No such image: db:2 (404)");
}

TEST_F(ImageCopyTest, FanOutCancelFailsLaterWritesAndLoadsNothing) {
  auto tar = source_.saveImages({"web:1"});
  auto fan = ImageFanOut::begin({&a_, &b_});
  ASSERT_TRUE(fan) << fan.error().message();
  ASSERT_TRUE(fan->write(std::string_view(*tar).substr(0, 1000)));
  fan->cancel();
  auto written = fan->write(std::string_view(*tar).substr(1000));
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code(), ErrorCode::Cancelled);
  auto finished = fan->finish({});
  ASSERT_FALSE(finished);
  EXPECT_EQ(finished.error().code(), ErrorCode::Cancelled);
  EXPECT_THAT(a_.mutations(), IsEmpty());
  EXPECT_THAT(b_.mutations(), IsEmpty());
}

TEST_F(ImageCopyTest, FanOutNeedsATarget) {
  auto fan = ImageFanOut::begin({});
  ASSERT_FALSE(fan);
  EXPECT_EQ(fan.error().code(), ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace berth::engine
