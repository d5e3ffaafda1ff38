// The HTTP client against a scripted server: keep-alive, retries, timeouts, truncation, streaming,
// cancellation and upgrades over a real Unix socket.
#include "engine/transport/http_client.h"

#include <gtest/gtest.h>

#include <fmt/core.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "engine/endpoint.h"
#include "fake_http_server.h"

namespace berth::engine::transport {
namespace {

using berth::engine::testing::FakeHttpServer;
using berth::engine::testing::FakeReply;
using berth::engine::testing::FakeRequest;
using berth::engine::testing::httpReply;
using namespace std::chrono_literals;

std::unique_ptr<HttpClient> clientFor(const std::string& url) {
  auto endpoint = parseEndpoint(url);
  EXPECT_TRUE(endpoint);
  auto transport = makeTransport(*endpoint);
  EXPECT_TRUE(transport);
  return std::make_unique<HttpClient>(std::move(transport).value(), HttpClientOptions{});
}

// A streamed answer whose first chunk ("first") comes at once, and then nothing more.
FakeReply firstChunkThenHang() {
  return FakeReply{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n", false, true};
}

HttpRequest get(std::string target) {
  HttpRequest r;
  r.target = std::move(target);
  return r;
}

TEST(HttpClientTest, ReusesAKeptAliveConnection) {
  FakeHttpServer server([](const FakeRequest& req) { return FakeReply{httpReply(200, "OK", req.target)}; });
  auto client = clientFor(server.url());
  for (const char* target : {"/a", "/b", "/c"}) {
    auto r = client->send(get(target), 5s);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->head.status, 200);
    EXPECT_EQ(r->body, target);
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClientTest, ClosedIdleConnectionsAreNotReused) {
  FakeHttpServer server([](const FakeRequest& req) { return FakeReply{httpReply(200, "OK", req.target)}; });
  auto client = clientFor(server.url());
  ASSERT_TRUE(client->send(get("/a"), 5s));
  client->closeIdle();
  client->closeIdle();  // nothing left to close
  auto r = client->send(get("/b"), 5s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "/b");
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClientTest, AnIdleConnectionPastItsTimeoutIsNotReused) {
  FakeHttpServer server([](const FakeRequest& req) { return FakeReply{httpReply(200, "OK", req.target)}; });
  auto endpoint = parseEndpoint(server.url());
  ASSERT_TRUE(endpoint);
  auto transport = makeTransport(*endpoint);
  ASSERT_TRUE(transport);
  HttpClientOptions options;
  options.idleTimeout = 50ms;
  HttpClient client(std::move(transport).value(), options);
  ASSERT_TRUE(client.send(get("/a"), 5s));
  std::this_thread::sleep_for(100ms);  // the pooled connection's age passes the idle timeout
  ASSERT_TRUE(client.send(get("/b"), 5s));
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClientTest, DoesNotReuseAConnectionTheServerClosed) {
  FakeHttpServer server([](const FakeRequest&) {
    return FakeReply{httpReply(200, "OK", "x", "Connection: close\r\n"), true};
  });
  auto client = clientFor(server.url());
  ASSERT_TRUE(client->send(get("/a"), 5s));
  ASSERT_TRUE(client->send(get("/b"), 5s));
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClientTest, RetriesOnceWhenAReusedConnectionDiesBeforeAnswering) {
  // The second request on the first connection is read and dropped: the engine closed it as idle.
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.connection == 1 && req.target == "/second") return FakeReply{"", true};
    return FakeReply{httpReply(200, "OK", req.target)};
  });
  auto client = clientFor(server.url());
  ASSERT_TRUE(client->send(get("/first"), 5s));
  auto r = client->send(get("/second"), 5s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "/second");
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClientTest, DoesNotRetryOnAFreshConnection) {
  FakeHttpServer server([](const FakeRequest&) { return FakeReply{"", true}; });
  auto client = clientFor(server.url());
  auto r = client->send(get("/x"), 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(r.error().message(), "the engine closed the connection without answering");
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClientTest, TimesOutWhenTheEngineDoesNotAnswer) {
  FakeHttpServer server([](const FakeRequest&) { return FakeReply{"", false, true}; });
  auto client = clientFor(server.url());
  const auto start = std::chrono::steady_clock::now();
  auto r = client->send(get("/hang"), 300ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::DeadlineExceeded);
  EXPECT_EQ(r.error().message(), "no answer within 300ms");
  EXPECT_GE(elapsed, 290ms);
  EXPECT_LT(elapsed, 3s);
}

TEST(HttpClientTest, TimesOutInTheMiddleOfABody) {
  FakeHttpServer server([](const FakeRequest&) {
    return FakeReply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", false, true};
  });
  auto client = clientFor(server.url());
  auto r = client->send(get("/slow"), 300ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::DeadlineExceeded);
  EXPECT_EQ(r.error().message(), "the answer did not finish within 300ms");
}

TEST(HttpClientTest, TruncatedAnswerIsAnError) {
  FakeHttpServer server([](const FakeRequest&) {
    return FakeReply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", true};
  });
  auto client = clientFor(server.url());
  auto r = client->send(get("/cut"), 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(r.error().message(), "the engine closed the connection before the end of the response body");
}

TEST(HttpClientTest, MalformedAnswerIsAnError) {
  FakeHttpServer server([](const FakeRequest&) { return FakeReply{"SSH-2.0-OpenSSH_9.2\r\n\r\n", true}; });
  auto client = clientFor(server.url());
  auto r = client->send(get("/"), 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Internal);
  EXPECT_EQ(r.error().message().rfind("malformed HTTP response from the engine: ", 0), 0u)
      << r.error().message();
}

TEST(HttpClientTest, ConnectErrorsNameTheSocket) {
  char tmpl[] = "/tmp/berth-noengine-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  auto missing = clientFor("unix://" + dir + "/missing.sock")->send(get("/_ping"), 5s);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(missing.error().message(),
            "cannot connect to " + dir + "/missing.sock: no such socket (is dockerd running?)");

  // A socket file nobody listens on any more.
  const std::string stale = dir + "/stale.sock";
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, stale.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  auto refused = clientFor("unix://" + stale)->send(get("/_ping"), 5s);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message(), "connection refused by " + stale + " (is dockerd running?)");
  std::filesystem::remove_all(dir);
}

TEST(HttpClientTest, TcpConnectionRefusedNamesTheAddress) {
  // Port 1 on loopback: nothing listens there.
  auto r = clientFor("tcp://127.0.0.1:1")->send(get("/_ping"), 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(r.error().message(), "connection refused by 127.0.0.1:1 (is the engine listening there?)");
}

TEST(HttpClientTest, StreamsChunksAsTheyArrive) {
  FakeHttpServer server([](const FakeRequest&) {
    return FakeReply{
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n"};
  });
  auto client = clientFor(server.url());
  std::string got;
  auto r = client->stream(get("/events"), 5s, 5s, [&](std::string_view piece) {
    got += piece;
    return true;
  });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(got, "onetwo");
  // The finished stream's connection went back to the pool.
  ASSERT_TRUE(client->send(get("/again"), 5s));
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClientTest, StreamErrorStatusReturnsTheBodyInsteadOfStreamingIt) {
  FakeHttpServer server([](const FakeRequest&) {
    return FakeReply{httpReply(404, "Not Found", "{\"message\":\"No such container: x\"}")};
  });
  auto client = clientFor(server.url());
  bool called = false;
  auto r = client->stream(get("/logs"), 5s, 5s, [&](std::string_view) {
    called = true;
    return true;
  });
  ASSERT_TRUE(r);
  EXPECT_FALSE(called);
  EXPECT_EQ(r->head.status, 404);
  EXPECT_EQ(r->body, "{\"message\":\"No such container: x\"}");
}

TEST(HttpClientTest, StopTokenEndsAnIdleStreamPromptly) {
  FakeHttpServer server([](const FakeRequest&) {
    return firstChunkThenHang();
  });
  auto client = clientFor(server.url());
  std::stop_source stop;
  std::string got;
  std::thread stopper;
  const auto start = std::chrono::steady_clock::now();
  auto r = client->stream(
      get("/events"), 5s, kNoTimeout,
      [&](std::string_view piece) {
        got += piece;
        stopper = std::thread([&] {
          std::this_thread::sleep_for(100ms);
          stop.request_stop();
        });
        return true;
      },
      stop.get_token());
  stopper.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Cancelled);
  EXPECT_EQ(got, "first");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(HttpClientTest, IdleCallsComeWhenAskedForWhileAStreamIsQuiet) {
  FakeHttpServer server([](const FakeRequest&) {
    return firstChunkThenHang();
  });
  auto client = clientFor(server.url());
  std::stop_source stop;
  std::string got;
  std::vector<std::string> seenAtIdle;  // what had arrived at each idle call
  // A guard: without idle calls the stream would wait for ever.
  std::jthread guard([&](std::stop_token done) {
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    if (!cv.wait_for(lock, done, 10s, [] { return false; })) stop.request_stop();
  });
  const auto start = std::chrono::steady_clock::now();
  auto r = client->stream(
      get("/events"), 5s, kNoTimeout,
      [&](std::string_view piece) {
        got += piece;
        return true;
      },
      stop.get_token(), [&] {
        seenAtIdle.push_back(got);
        if (seenAtIdle.size() == 5) stop.request_stop();
        return std::chrono::steady_clock::now() + 50ms;
      });
  guard.request_stop();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Cancelled);
  ASSERT_EQ(seenAtIdle.size(), 5u);
  EXPECT_EQ(seenAtIdle.front(), "");  // once the request went out, before any answer
  EXPECT_EQ(seenAtIdle.back(), "first");
  // Four waits of 50 ms at most, not the guard's 10 s.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(HttpClientTest, ABurstIsReadWholeBeforeTheIdleCall) {
  std::string burst;
  std::string expected;
  // About 10 KiB, written at once: more than the client's first read takes, and one write the
  // kernel queues whole on the socket.
  for (int i = 0; i < 700; ++i) {
    const std::string piece = fmt::format("event {:03}\n", i);
    burst += fmt::format("{:x}\r\n{}\r\n", piece.size(), piece);
    expected += piece;
  }
  FakeHttpServer server([&](const FakeRequest&) {
    return FakeReply{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + burst, false, true};
  });
  auto client = clientFor(server.url());
  std::stop_source stop;
  std::string got;
  int pieces = 0;
  std::vector<std::string> seenAtIdle;
  auto r = client->stream(
      get("/events"), 5s, kNoTimeout,
      [&](std::string_view piece) {
        got += piece;
        ++pieces;
        return true;
      },
      stop.get_token(), [&] {
        seenAtIdle.push_back(got);
        if (got.size() == expected.size()) stop.request_stop();
        return std::chrono::steady_clock::now() + 1h;  // only when the stream is drained
      });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Cancelled);
  EXPECT_EQ(got, expected);
  // The burst arrived in several pieces, and the idle call came once for all of them.
  EXPECT_GT(pieces, 1);
  ASSERT_EQ(seenAtIdle.size(), 2u);
  EXPECT_EQ(seenAtIdle[0], "");
  EXPECT_EQ(seenAtIdle[1], expected);
}

TEST(HttpClientTest, CallbackCanStopAStreamAndTheConnectionIsNotReused) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.target == "/events") {
      return firstChunkThenHang();
    }
    return FakeReply{httpReply(200, "OK", "fine")};
  });
  auto client = clientFor(server.url());
  auto r = client->stream(get("/events"), 5s, kNoTimeout, [](std::string_view) { return false; });
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(client->send(get("/next"), 5s));
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClientTest, UpgradeHandsOverTheRawConnection) {
  FakeHttpServer server([](const FakeRequest& req) {
    EXPECT_NE(req.head.find("Connection: Upgrade\r\n"), std::string::npos);
    EXPECT_NE(req.head.find("Upgrade: tcp\r\n"), std::string::npos);
    FakeReply reply{
        "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
        "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello "};
    reply.echoUpper = true;
    return reply;
  });
  auto client = clientFor(server.url());
  HttpRequest req;
  req.method = "POST";
  req.target = "/exec/1/start";
  auto up = client->upgrade(req, 5s);
  ASSERT_TRUE(up) << up.error().message();
  ASSERT_TRUE(up->connection);
  EXPECT_EQ(up->response.head.status, 101);
  EXPECT_EQ(up->initial, "hello ");
  ASSERT_TRUE(up->connection->writeAll("stdin data", deadlineAfter(5s)));
  ASSERT_TRUE(up->connection->shutdownWrite(deadlineAfter(5s)));
  std::string out;
  std::array<char, 64> buffer;
  while (true) {
    auto n = up->connection->readSome(buffer, deadlineAfter(5s));
    ASSERT_TRUE(n) << n.error().message();
    if (*n == 0) break;
    out.append(buffer.data(), *n);
  }
  EXPECT_EQ(out, "STDIN DATA<EOF>");
}

TEST(HttpClientTest, RefusedUpgradeReturnsTheErrorAnswer) {
  FakeHttpServer server([](const FakeRequest&) {
    return FakeReply{httpReply(409, "Conflict", "{\"message\":\"Container abc is not running\"}")};
  });
  auto client = clientFor(server.url());
  HttpRequest req;
  req.method = "POST";
  req.target = "/containers/abc/attach";
  auto up = client->upgrade(req, 5s);
  ASSERT_TRUE(up);
  EXPECT_FALSE(up->connection);
  EXPECT_EQ(up->response.head.status, 409);
  EXPECT_EQ(up->response.body, "{\"message\":\"Container abc is not running\"}");
}

TEST(HttpClientTest, CancelWakesABlockedRead) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeReply reply{"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"};
    reply.hang = true;
    return reply;
  });
  auto client = clientFor(server.url());
  HttpRequest req;
  req.method = "POST";
  req.target = "/attach";
  auto up = client->upgrade(req, 5s);
  ASSERT_TRUE(up && up->connection);
  Connection* conn = up->connection.get();
  std::thread canceller([conn] {
    std::this_thread::sleep_for(100ms);
    conn->cancel();
  });
  std::array<char, 16> buffer;
  auto n = conn->readSome(buffer, kNoDeadline);
  canceller.join();
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code(), ErrorCode::Cancelled);
}

// --- Chunked uploads

HttpRequest post(std::string target) {
  HttpRequest r;
  r.method = "POST";
  r.target = std::move(target);
  r.headers.push_back({"Content-Type", "application/x-tar"});
  return r;
}

// Writes `piece` until a write fails (at most `limit` times); returns that failure.
Status writeUntilItFails(BodyUpload& upload, std::string_view piece, int limit = 100000) {
  for (int i = 0; i < limit; ++i) {
    BERTH_TRY(upload.write(piece));
  }
  return fail(ErrorCode::Internal, "every write succeeded");
}

TEST(HttpClientUploadTest, SendsTheBodyInChunksAsWritten) {
  std::mutex mu;
  FakeRequest seen;
  FakeHttpServer server([&](const FakeRequest& req) {
    std::lock_guard lock(mu);
    if (req.target == "/load") seen = req;
    return FakeReply{httpReply(200, "OK", "loaded")};
  });
  auto client = clientFor(server.url());
  auto upload = client->beginUpload(post("/load"), 5s);
  ASSERT_TRUE(upload) << upload.error().message();
  const std::string big(100 * 1024, 'x');  // beyond the size that is copied behind its header
  for (std::string_view piece :
       {std::string_view("hello "), std::string_view(""), std::string_view("world"), std::string_view(big)}) {
    auto written = (*upload)->write(piece);
    ASSERT_TRUE(written) << written.error().message();
  }
  auto r = (*upload)->finish();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->head.status, 200);
  EXPECT_EQ(r->body, "loaded");

  {
    std::lock_guard lock(mu);
    EXPECT_EQ(
        seen.head,
        "POST /load HTTP/1.1\r\nHost: docker\r\nUser-Agent: berth\r\nContent-Type: application/x-tar\r\n"
        "Transfer-Encoding: chunked\r\n");
    // The empty piece sent nothing: an empty chunk would have ended the body.
    EXPECT_EQ(seen.chunks, (std::vector<std::string>{"hello ", "world", big}));
    EXPECT_EQ(seen.rawBody, "6\r\nhello \r\n5\r\nworld\r\n19000\r\n" + big + "\r\n0\r\n\r\n");
  }
  // A cleanly finished upload's connection is kept.
  ASSERT_TRUE(client->send(get("/after"), 5s));
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClientUploadTest, AnEmptyBodyIsJustTheLastChunk) {
  FakeHttpServer server([](const FakeRequest& req) { return FakeReply{httpReply(200, "OK", req.rawBody)}; });
  auto client = clientFor(server.url());
  auto upload = client->beginUpload(post("/load"), 5s);
  ASSERT_TRUE(upload) << upload.error().message();
  auto r = (*upload)->finish();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "0\r\n\r\n");
}

TEST(HttpClientUploadTest, UsesANewConnectionEvenWhenOneIsIdle) {
  FakeHttpServer server([](const FakeRequest&) { return FakeReply{httpReply(200, "OK", "")}; });
  auto client = clientFor(server.url());
  ASSERT_TRUE(client->send(get("/first"), 5s));
  auto upload = client->beginUpload(post("/load"), 5s);
  ASSERT_TRUE(upload) << upload.error().message();
  ASSERT_TRUE((*upload)->write("data"));
  ASSERT_TRUE((*upload)->finish());
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClientUploadTest, AnEarlyRefusalEndsTheUploadWithTheEnginesAnswer) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.target != "/load") return FakeReply{httpReply(200, "OK", "")};
    return FakeReply{httpReply(400, "Bad Request", "{\"message\":\"no such API\"}", "Connection: close\r\n")};
  });
  server.answerBeforeBody();
  auto client = clientFor(server.url());
  auto upload = client->beginUpload(post("/load"), 5s);
  ASSERT_TRUE(upload) << upload.error().message();
  // However the writes and the answer interleave, the upload ends with the answer.
  auto failed = writeUntilItFails(**upload, std::string(16 * 1024, 'x'));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(failed.error().message(), "the engine answered before the end of the request body (HTTP 400)");
  auto again = (*upload)->write("more");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message(), failed.error().message());
  auto r = (*upload)->finish();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->head.status, 400);
  EXPECT_EQ(r->body, "{\"message\":\"no such API\"}");
}

TEST(HttpClientUploadTest, AServerThatHangsUpMidBodyFailsTheUpload) {
  FakeHttpServer server([](const FakeRequest&) { return FakeReply{"", true}; });
  server.answerBeforeBody();
  auto client = clientFor(server.url());
  auto upload = client->beginUpload(post("/load"), 5s);
  ASSERT_TRUE(upload) << upload.error().message();
  auto failed = writeUntilItFails(**upload, std::string(16 * 1024, 'x'));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(failed.error().message(), "the engine closed the connection without answering");
  auto r = (*upload)->finish();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), failed.error().message());
}

TEST(HttpClientUploadTest, TimesOutWhenTheServerStopsReading) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeReply reply;
    reply.stall = true;
    return reply;
  });
  server.answerBeforeBody();
  auto client = clientFor(server.url());
  auto upload = client->beginUpload(post("/load"), 300ms);
  ASSERT_TRUE(upload) << upload.error().message();
  const auto start = std::chrono::steady_clock::now();
  auto failed = writeUntilItFails(**upload, std::string(64 * 1024, 'x'));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), ErrorCode::DeadlineExceeded);
  EXPECT_EQ(failed.error().message(), "timed out sending the request (timeout 300ms)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(HttpClientUploadTest, TimesOutWaitingForTheAnswer) {
  FakeHttpServer server([](const FakeRequest&) { return FakeReply{"", false, true}; });
  auto client = clientFor(server.url());
  auto upload = client->beginUpload(post("/load"), 300ms);
  ASSERT_TRUE(upload) << upload.error().message();
  ASSERT_TRUE((*upload)->write("all of it"));
  auto r = (*upload)->finish();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::DeadlineExceeded);
  EXPECT_EQ(r.error().message(), "no answer within 300ms");
}

TEST(HttpClientUploadTest, CancelWakesABlockedWriteAndTheConnectionIsNotReused) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.target != "/load") return FakeReply{httpReply(200, "OK", "")};
    FakeReply reply;
    reply.stall = true;
    return reply;
  });
  server.answerBeforeBody();
  auto client = clientFor(server.url());
  auto upload = client->beginUpload(post("/load"), kNoTimeout);
  ASSERT_TRUE(upload) << upload.error().message();
  BodyUpload* u = upload->get();
  // Cancelled while blocked on the full socket, or before the next write: the same outcome.
  std::thread canceller([u] {
    std::this_thread::sleep_for(100ms);
    u->cancel();
  });
  auto failed = writeUntilItFails(*u, std::string(64 * 1024, 'x'));
  canceller.join();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), ErrorCode::Cancelled);
  auto r = u->finish();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Cancelled);
}

TEST(HttpClientUploadTest, ACancelledUploadsConnectionIsNotReused) {
  FakeHttpServer server([](const FakeRequest&) { return FakeReply{httpReply(200, "OK", "")}; });
  auto client = clientFor(server.url());
  auto upload = client->beginUpload(post("/load"), 5s);
  ASSERT_TRUE(upload) << upload.error().message();
  ASSERT_TRUE((*upload)->write("part"));
  (*upload)->cancel();
  auto r = (*upload)->finish();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Cancelled);
  upload->reset();
  ASSERT_TRUE(client->send(get("/after"), 5s));
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClientUploadTest, AnAbandonedUploadIsCutShort) {
  std::mutex mu;
  std::vector<std::string> completed;
  FakeHttpServer server([&](const FakeRequest& req) {
    std::lock_guard lock(mu);
    completed.push_back(req.target);
    return FakeReply{httpReply(200, "OK", "")};
  });
  auto client = clientFor(server.url());
  {
    auto upload = client->beginUpload(post("/abandoned"), 5s);
    ASSERT_TRUE(upload) << upload.error().message();
    ASSERT_TRUE((*upload)->write("half of it"));
  }  // destroyed unfinished: the connection closes mid-body
  ASSERT_TRUE(client->send(get("/after"), 5s));
  std::lock_guard lock(mu);
  EXPECT_EQ(completed, (std::vector<std::string>{"/after"}));
}

TEST(HttpClientUploadTest, ConnectErrorsComeFromBeginUpload) {
  char tmpl[] = "/tmp/berth-noengine-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  auto upload = clientFor("unix://" + dir + "/missing.sock")->beginUpload(post("/load"), 5s);
  ASSERT_FALSE(upload);
  EXPECT_EQ(upload.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(upload.error().message(),
            "cannot connect to " + dir + "/missing.sock: no such socket (is dockerd running?)");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace berth::engine::transport
