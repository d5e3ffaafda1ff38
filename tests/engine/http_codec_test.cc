#include <gtest/gtest.h>

#include <string>

#include "engine/transport/http.h"

namespace berth::engine::transport {
namespace {

struct Parsed {
  Status status;
  std::string body;
  bool done = false;
};

// Feeds `input` in pieces of `step` bytes (0: all at once), then end-of-stream if `eof`.
Parsed parse(std::string_view input, std::size_t step = 0, bool eof = false,
             ResponseParser::Mode mode = ResponseParser::Mode::Normal, ResponseParser* out = nullptr) {
  ResponseParser local(mode);
  ResponseParser& parser = out != nullptr ? *out : local;
  Parsed p;
  if (step == 0) step = input.size() == 0 ? 1 : input.size();
  for (std::size_t i = 0; i < input.size(); i += step) {
    p.status = parser.feed(input.substr(i, step), p.body);
    if (!p.status) return p;
  }
  if (eof) p.status = parser.feedEof(p.body);
  p.done = parser.done();
  return p;
}

TEST(HttpCodecTest, ParsesContentLengthResponse) {
  ResponseParser parser;
  const auto p = parse(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"
      "{\"Id\":\"abc\"}\n",
      0, false, ResponseParser::Mode::Normal, &parser);
  ASSERT_TRUE(p.status) << p.status.error().message();
  EXPECT_TRUE(p.done);
  EXPECT_EQ(p.body, "{\"Id\":\"abc\"}\n");
  EXPECT_EQ(parser.head().status, 200);
  EXPECT_EQ(parser.head().reason, "OK");
  EXPECT_EQ(parser.head().header("content-type"), "application/json");
  EXPECT_EQ(parser.head().header("X-Missing"), "");
  EXPECT_TRUE(parser.head().keepAlive);
}

TEST(HttpCodecTest, DecodesChunkedBodyWithExtensionsAndTrailers) {
  const std::string input =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n"
      "7;ext=1\r\n, world\r\n"
      "0\r\nX-Trailer: yes\r\n\r\n";
  const auto p = parse(input);
  ASSERT_TRUE(p.status) << p.status.error().message();
  EXPECT_TRUE(p.done);
  EXPECT_EQ(p.body, "hello, world");
}

TEST(HttpCodecTest, ByteByByteFeedingGivesTheSameResult) {
  const std::string input =
      "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
      "18\r\n{\"message\":\"No such x\"}\n\r\n0\r\n\r\n";
  const auto whole = parse(input);
  const auto bytes = parse(input, 1);
  const auto threes = parse(input, 3);
  ASSERT_TRUE(whole.status);
  ASSERT_TRUE(bytes.status);
  ASSERT_TRUE(threes.status);
  EXPECT_EQ(whole.body, "{\"message\":\"No such x\"}\n");
  EXPECT_EQ(bytes.body, whole.body);
  EXPECT_EQ(threes.body, whole.body);
  EXPECT_TRUE(bytes.done);
}

TEST(HttpCodecTest, EmptyChunkedBodyArrivingByteByByte) {
  // A final chunk re-parsed with 4 bytes once tripped an assertion in Beast (found by fuzzing).
  const std::string input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n";
  for (std::size_t step = 1; step <= 6; ++step) {
    const auto p = parse(input, step);
    ASSERT_TRUE(p.status) << step << ": " << p.status.error().message();
    EXPECT_TRUE(p.done) << step;
    EXPECT_EQ(p.body, "");
  }
}

TEST(HttpCodecTest, TruncatedContentLengthBodyIsAnError) {
  const auto p = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, true);
  ASSERT_FALSE(p.status);
  EXPECT_EQ(p.status.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(p.status.error().message(),
            "the engine closed the connection before the end of the response body");
  EXPECT_EQ(p.body, "abc");
}

TEST(HttpCodecTest, TruncatedChunkedBodyIsAnError) {
  const auto p = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 0, true);
  ASSERT_FALSE(p.status);
  EXPECT_EQ(p.status.error().message(),
            "the engine closed the connection before the end of the response body");
}

TEST(HttpCodecTest, ChunkedBodyWithoutTheLastChunkIsAnError) {
  const auto p = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 0, true);
  ASSERT_FALSE(p.status);
  EXPECT_EQ(p.body, "hello");
}

TEST(HttpCodecTest, TruncatedHeaderIsAnError) {
  const auto p = parse("HTTP/1.1 200 OK\r\nContent-Le", 0, true);
  ASSERT_FALSE(p.status);
  EXPECT_EQ(p.status.error().message(),
            "the engine closed the connection in the middle of the response header");
}

TEST(HttpCodecTest, NothingAtAllIsAnError) {
  ResponseParser parser;
  std::string body;
  const Status s = parser.feedEof(body);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(s.error().message(), "the engine closed the connection without answering");
  EXPECT_FALSE(parser.receivedAny());
}

TEST(HttpCodecTest, BodyDelimitedByEndOfStreamCompletesAtEof) {
  ResponseParser parser;
  auto p = parse("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nraw bytes", 0, true,
                 ResponseParser::Mode::Normal, &parser);
  ASSERT_TRUE(p.status) << p.status.error().message();
  EXPECT_TRUE(p.done);
  EXPECT_EQ(p.body, "raw bytes");
  EXPECT_FALSE(parser.head().keepAlive);
}

TEST(HttpCodecTest, MalformedStatusLineIsAnError) {
  const auto p = parse("HTTX/1.1 200 OK\r\n\r\n");
  ASSERT_FALSE(p.status);
  EXPECT_EQ(p.status.error().code(), ErrorCode::Internal);
  EXPECT_EQ(p.status.error().message().rfind("malformed HTTP response from the engine: ", 0), 0u)
      << p.status.error().message();
}

TEST(HttpCodecTest, MalformedChunkSizeIsAnError) {
  const auto p = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
  ASSERT_FALSE(p.status);
  EXPECT_EQ(p.status.error().code(), ErrorCode::Internal);
}

TEST(HttpCodecTest, ConflictingContentLengthsAreAnError) {
  const auto p = parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd");
  ASSERT_FALSE(p.status);
  EXPECT_EQ(p.status.error().code(), ErrorCode::Internal);
}

TEST(HttpCodecTest, OversizedHeaderIsAnError) {
  const std::string input = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n";
  const auto p = parse(input, 4096);
  ASSERT_FALSE(p.status);
  EXPECT_EQ(p.status.error().code(), ErrorCode::Internal);
}

TEST(HttpCodecTest, NoContentAndNotModifiedHaveNoBody) {
  for (const char* status : {"204 No Content", "304 Not Modified"}) {
    const auto p = parse(std::string("HTTP/1.1 ") + status + "\r\n\r\n");
    ASSERT_TRUE(p.status) << status;
    EXPECT_TRUE(p.done) << status;
    EXPECT_EQ(p.body, "");
  }
}

TEST(HttpCodecTest, HeadResponseIgnoresContentLength) {
  const auto p =
      parse("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nX-Docker-Container-Path-Stat: e30=\r\n\r\n", 0, false,
            ResponseParser::Mode::Bodyless);
  ASSERT_TRUE(p.status);
  EXPECT_TRUE(p.done);
}

TEST(HttpCodecTest, UpgradeStopsAfterTheHeaderAndKeepsTheRawStream) {
  ResponseParser parser(ResponseParser::Mode::Upgrade);
  const std::string input =
      "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\n"
      "Upgrade: tcp\r\n\r\n" +
      std::string("\x01\x00\x00\x00\x00\x00\x00\x02hi", 10);
  auto p = parse(input, 7, false, ResponseParser::Mode::Upgrade, &parser);
  ASSERT_TRUE(p.status) << p.status.error().message();
  EXPECT_TRUE(parser.upgraded());
  EXPECT_TRUE(p.done);
  EXPECT_EQ(p.body, "");
  EXPECT_EQ(parser.head().status, 101);
  EXPECT_EQ(parser.takeRemaining(), std::string("\x01\x00\x00\x00\x00\x00\x00\x02hi", 10));
}

TEST(HttpCodecTest, UpgradeWith200StreamsRawToo) {
  ResponseParser parser(ResponseParser::Mode::Upgrade);
  auto p = parse("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\nhello", 0, false,
                 ResponseParser::Mode::Upgrade, &parser);
  ASSERT_TRUE(p.status);
  EXPECT_TRUE(parser.upgraded());
  EXPECT_EQ(parser.takeRemaining(), "hello");
}

TEST(HttpCodecTest, UpgradeRefusedReadsTheErrorBody) {
  ResponseParser parser(ResponseParser::Mode::Upgrade);
  const std::string body = "{\"message\":\"Container x is paused\"}\n";
  auto p = parse("HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body,
                 5, false, ResponseParser::Mode::Upgrade, &parser);
  ASSERT_TRUE(p.status);
  EXPECT_FALSE(parser.upgraded());
  EXPECT_TRUE(p.done);
  EXPECT_EQ(p.body, "{\"message\":\"Container x is paused\"}\n");
}

TEST(HttpCodecTest, BytesAfterACompleteResponseAreKeptAside) {
  ResponseParser parser;
  auto p = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 0, false,
                 ResponseParser::Mode::Normal, &parser);
  ASSERT_TRUE(p.status);
  EXPECT_EQ(p.body, "ok");
  EXPECT_EQ(parser.takeRemaining(), "EXTRA");
}

TEST(HttpCodecTest, LargeChunkedBodyStreamsThrough) {
  std::string payload;
  for (int i = 0; i < 5000; ++i) payload += "0123456789abcdef";
  std::string input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t i = 0; i < payload.size(); i += 1000) {
    const std::string piece = payload.substr(i, 1000);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    input += size + piece + "\r\n";
  }
  input += "0\r\n\r\n";
  const auto p = parse(input, 777);
  ASSERT_TRUE(p.status);
  EXPECT_TRUE(p.done);
  EXPECT_EQ(p.body, payload);
}

TEST(HttpCodecTest, SerializesRequestWithHostAgentAndLength) {
  HttpRequest req;
  req.method = "POST";
  req.target = "/v1.41/containers/create?name=web-1";
  req.headers.push_back({"Content-Type", "application/json"});
  req.body = "{\"Image\":\"busybox\"}";
  EXPECT_EQ(serializeRequest(req, "api.moby.localhost"),
            "POST /v1.41/containers/create?name=web-1 HTTP/1.1\r\n"
            "Host: api.moby.localhost\r\n"
            "User-Agent: berth\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 19\r\n"
            "\r\n"
            "{\"Image\":\"busybox\"}");
}

TEST(HttpCodecTest, SerializesBodylessGetWithoutLengthAndPostWithZeroLength) {
  HttpRequest get;
  get.target = "/_ping";
  EXPECT_EQ(serializeRequest(get, "docker"),
            "GET /_ping HTTP/1.1\r\nHost: docker\r\nUser-Agent: berth\r\n\r\n");
  HttpRequest post;
  post.method = "POST";
  post.target = "/v1.41/containers/x/start";
  EXPECT_EQ(serializeRequest(post, "docker"),
            "POST /v1.41/containers/x/start HTTP/1.1\r\nHost: docker\r\nUser-Agent: berth\r\nContent-Length: "
            "0\r\n\r\n");
}

TEST(HttpCodecTest, SerializesAChunkedRequestWithoutContentLength) {
  HttpRequest req;
  req.method = "POST";
  req.target = "/v1.41/images/load?quiet=1";
  req.headers.push_back({"Content-Type", "application/x-tar"});
  req.chunked = true;
  EXPECT_EQ(serializeRequest(req, "docker"),
            "POST /v1.41/images/load?quiet=1 HTTP/1.1\r\nHost: docker\r\nUser-Agent: berth\r\n"
            "Content-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n");
}

}  // namespace
}  // namespace berth::engine::transport
