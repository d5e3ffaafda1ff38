// zstd streams in pieces: round trips of any piece size, several frames, and the errors a damaged
// or cut backup file gives.
#include "volumes/zstd_stream.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace berth::volumes {
namespace {

std::string sample(std::size_t size) {
  std::mt19937 random(7);
  std::string s;
  s.reserve(size);
  // Half compressible text, half noise: both paths of the compressor.
  while (s.size() < size / 2) s += "volume/deep/file-" + std::to_string(s.size()) + "\n";
  while (s.size() < size) s += static_cast<char>(random() & 0xff);
  return s;
}

std::string compress(std::string_view in, std::size_t piece) {
  std::string out;
  ZstdCompressor c([&](std::string_view p) -> Status {
    out.append(p);
    return ok();
  });
  for (std::size_t i = 0; i < in.size(); i += piece) EXPECT_TRUE(c.write(in.substr(i, piece)));
  EXPECT_TRUE(c.finish());
  return out;
}

Result<std::string> decompress(std::string_view in, std::size_t piece) {
  std::string out;
  ZstdDecompressor d([&](std::string_view p) -> Status {
    out.append(p);
    return ok();
  });
  for (std::size_t i = 0; i < in.size(); i += piece) BERTH_TRY(d.write(in.substr(i, piece)));
  BERTH_TRY(d.finish());
  return out;
}

TEST(ZstdStreamTest, RoundTripsInAnyPieces) {
  const std::string data = sample(3 * 1024 * 1024 + 17);
  for (std::size_t piece : {std::size_t{1} << 16, std::size_t{4096}, std::size_t{777}}) {
    const std::string packed = compress(data, piece);
    EXPECT_TRUE(looksLikeZstd(packed));
    EXPECT_LT(packed.size(), data.size());
    for (std::size_t readPiece : {std::size_t{1} << 16, std::size_t{13}}) {
      auto back = decompress(packed, readPiece);
      ASSERT_TRUE(back) << back.error().message();
      EXPECT_TRUE(*back == data);
    }
  }
}

TEST(ZstdStreamTest, AnEmptyStreamMakesAFrameThatDecodesToNothing) {
  const std::string packed = compress("", 1);
  auto back = decompress(packed, 5);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, "");
}

TEST(ZstdStreamTest, ATruncatedStreamIsAnError) {
  const std::string packed = compress(sample(200000), 65536);
  auto back = decompress(packed.substr(0, packed.size() - 10), 4096);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(back.error().message().find("truncated"), std::string::npos) << back.error().message();
}

TEST(ZstdStreamTest, DamageAndNoiseAreErrors) {
  std::string packed = compress(sample(200000), 65536);
  packed[packed.size() / 2] ^= 0x5a;
  auto damaged = decompress(packed, 4096);
  ASSERT_FALSE(damaged);
  EXPECT_EQ(damaged.error().code(), ErrorCode::InvalidArgument);

  auto noise = decompress(std::string(1000, 'q'), 100);
  ASSERT_FALSE(noise);
  EXPECT_NE(noise.error().message().find("not a valid zstd stream"), std::string::npos) << noise.error().message();
  EXPECT_FALSE(looksLikeZstd("qqqq"));
  EXPECT_FALSE(looksLikeZstd(""));
}

TEST(ZstdStreamTest, TheSinksErrorStopsTheStream) {
  ZstdCompressor c([](std::string_view) -> Status { return fail(ErrorCode::Unavailable, "disk full"); });
  const std::string data = sample(1 << 20);
  Status s = c.write(data);
  if (s) s = c.finish();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "disk full");
}

}  // namespace
}  // namespace berth::volumes
