#include "engine/transport/stream_demux.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::engine::transport {
namespace {

std::string frame(int stream, std::string_view payload) {
  std::string out(8, '\0');
  out[0] = static_cast<char>(stream);
  const auto n = static_cast<std::uint32_t>(payload.size());
  out[4] = static_cast<char>(n >> 24);
  out[5] = static_cast<char>(n >> 16);
  out[6] = static_cast<char>(n >> 8);
  out[7] = static_cast<char>(n);
  return out + std::string(payload);
}

// "stdout:hello|stderr:oops" for what the demux delivered, merging adjacent pieces of one stream.
struct Collector {
  std::vector<std::pair<OutputStream, std::string>> pieces;
  StreamDemux::Sink sink() {
    return [this](OutputStream s, std::string_view data) {
      EXPECT_FALSE(data.empty());
      if (!pieces.empty() && pieces.back().first == s) {
        pieces.back().second += data;
      } else {
        pieces.emplace_back(s, std::string(data));
      }
    };
  }
  std::string str() const {
    std::string out;
    for (const auto& [s, d] : pieces) {
      if (!out.empty()) out += "|";
      out += std::string(outputStreamName(s)) + ":" + d;
    }
    return out;
  }
};

TEST(StreamDemuxTest, SplitsStdoutAndStderrFrames) {
  StreamDemux demux(true);
  Collector c;
  ASSERT_TRUE(demux.feed(frame(1, "hello\n") + frame(2, "oops\n") + frame(1, "bye\n"), c.sink()));
  EXPECT_TRUE(demux.finish());
  EXPECT_EQ(c.str(), "stdout:hello\n|stderr:oops\n|stdout:bye\n");
}

TEST(StreamDemuxTest, ReassemblesHeadersAndPayloadsSplitAcrossReads) {
  const std::string input = frame(1, "first") + frame(2, "second") + frame(0, "echo") + frame(3, "sys");
  for (std::size_t step = 1; step <= 9; ++step) {
    StreamDemux demux(true);
    Collector c;
    for (std::size_t i = 0; i < input.size(); i += step)
      ASSERT_TRUE(demux.feed(input.substr(i, step), c.sink()));
    EXPECT_TRUE(demux.finish()) << step;
    EXPECT_EQ(c.str(), "stdout:first|stderr:second|stdin:echo|system:sys") << step;
  }
}

TEST(StreamDemuxTest, EmptyFramesDeliverNothing) {
  StreamDemux demux(true);
  Collector c;
  ASSERT_TRUE(demux.feed(frame(1, "") + frame(2, "x"), c.sink()));
  EXPECT_TRUE(demux.finish());
  EXPECT_EQ(c.str(), "stderr:x");
}

TEST(StreamDemuxTest, DeliversALargeFrameAsItArrives) {
  StreamDemux demux(true);
  Collector c;
  const std::string payload(100000, 'z');
  const std::string input = frame(1, payload);
  ASSERT_TRUE(demux.feed(input.substr(0, 5000), c.sink()));
  ASSERT_EQ(c.pieces.size(), 1u);
  EXPECT_EQ(c.pieces[0].second.size(), 5000u - 8);
  ASSERT_TRUE(demux.feed(input.substr(5000), c.sink()));
  EXPECT_EQ(c.pieces[0].second, payload);
  EXPECT_TRUE(demux.finish());
}

TEST(StreamDemuxTest, TruncatedPayloadIsAnErrorAtTheEnd) {
  StreamDemux demux(true);
  Collector c;
  ASSERT_TRUE(demux.feed(frame(1, "hello").substr(0, 10), c.sink()));
  const Status s = demux.finish();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::Internal);
  EXPECT_EQ(s.error().message(),
            "output stream from the engine ended inside a frame (3 payload bytes missing)");
  EXPECT_EQ(c.str(), "stdout:he");
}

TEST(StreamDemuxTest, TruncatedHeaderIsAnErrorAtTheEnd) {
  StreamDemux demux(true);
  Collector c;
  ASSERT_TRUE(demux.feed(frame(1, "ok") + std::string("\x02\x00\x00", 3), c.sink()));
  const Status s = demux.finish();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "output stream from the engine ended inside a frame header (3 of 8 bytes)");
}

TEST(StreamDemuxTest, UnknownStreamTypeIsMalformed) {
  StreamDemux demux(true);
  Collector c;
  const Status s = demux.feed(frame(1, "ok") + frame(7, "bad"), c.sink());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::Internal);
  EXPECT_EQ(s.error().message(),
            "malformed output stream from the engine: bad frame header 07 00 00 00 at byte 10");
  EXPECT_EQ(c.str(), "stdout:ok");
}

TEST(StreamDemuxTest, NonZeroPaddingIsMalformed) {
  StreamDemux demux(true);
  Collector c;
  std::string bad = frame(1, "x");
  bad[2] = 'A';
  const Status s = demux.feed(bad, c.sink());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(),
            "malformed output stream from the engine: bad frame header 01 00 41 00 at byte 0");
}

TEST(StreamDemuxTest, PlainTextIsNotMistakenForFrames) {
  // What a TTY container's log looks like if demultiplexed by mistake.
  StreamDemux demux(true);
  Collector c;
  EXPECT_FALSE(demux.feed("hello world\n", c.sink()));
}

TEST(StreamDemuxTest, RawTtyStreamPassesThroughAsStdout) {
  StreamDemux demux(false);
  Collector c;
  ASSERT_TRUE(demux.feed(std::string("\x01\x00\x00\x00 raw", 8), c.sink()));
  ASSERT_TRUE(demux.feed("more", c.sink()));
  EXPECT_TRUE(demux.finish());
  EXPECT_EQ(c.str(), std::string("stdout:\x01\x00\x00\x00 rawmore", 19));
}

}  // namespace
}  // namespace berth::engine::transport
