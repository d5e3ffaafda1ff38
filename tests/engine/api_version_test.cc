#include "engine/api_version.h"

#include <gtest/gtest.h>

#include "engine/deadline.h"

namespace berth::engine {
namespace {

TEST(ApiVersionTest, ParsesAndCompares) {
  auto v = parseApiVersion("1.41");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, 1);
  EXPECT_EQ(v->minor, 41);
  EXPECT_EQ(v->toString(), "1.41");
  EXPECT_LT((ApiVersion{1, 9}), (ApiVersion{1, 40}));  // numeric, not lexical
  for (const char* bad : {"", "1", "1.", ".41", "v1.41", "1.41.2", "1.4x", "12345.1"}) {
    EXPECT_FALSE(parseApiVersion(bad)) << bad;
  }
}

TEST(ApiVersionTest, UsesTheLowerOfOursAndTheEngines) {
  EXPECT_EQ(negotiateApiVersion("1.41", std::nullopt)->toString(), "1.41");
  EXPECT_EQ(negotiateApiVersion("1.43", std::nullopt)->toString(), "1.41");  // a newer engine
  EXPECT_EQ(negotiateApiVersion("1.40", std::nullopt)->toString(), "1.40");  // an older one
}

TEST(ApiVersionTest, RefusesEnginesThatAreTooOld) {
  auto old = negotiateApiVersion("1.39", std::nullopt);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(old.error().message(),
            "the engine speaks Engine API 1.39; berth needs at least 1.40 (Docker 19.03)");
  auto ancient = negotiateApiVersion("", std::nullopt);
  ASSERT_FALSE(ancient);
  EXPECT_EQ(ancient.error().message(),
            "the engine speaks Engine API 1.24; berth needs at least 1.40 (Docker 19.03)");
  EXPECT_FALSE(negotiateApiVersion("garbage", std::nullopt));
}

TEST(ApiVersionTest, PinnedVersionSkipsTheEngineButIsCapped) {
  EXPECT_EQ(negotiateApiVersion("", ApiVersion{1, 40})->toString(), "1.40");
  EXPECT_EQ(negotiateApiVersion("1.20", ApiVersion{1, 40})->toString(), "1.40");
  EXPECT_EQ(negotiateApiVersion("", ApiVersion{1, 45})->toString(), "1.41");
  EXPECT_FALSE(negotiateApiVersion("1.41", ApiVersion{1, 30}));
}

TEST(DeadlineTest, FormatsDurations) {
  using namespace std::chrono_literals;
  EXPECT_EQ(formatDuration(250ms), "250ms");
  EXPECT_EQ(formatDuration(10s), "10s");
  EXPECT_EQ(formatDuration(1500ms), "1.5s");
  EXPECT_EQ(formatDuration(2min), "2m");
  EXPECT_EQ(pollTimeoutMs(kNoDeadline), -1);
  EXPECT_EQ(pollTimeoutMs(std::chrono::steady_clock::now() - 1s), 0);
  EXPECT_GT(pollTimeoutMs(deadlineAfter(5s)), 4000);
}

}  // namespace
}  // namespace berth::engine
