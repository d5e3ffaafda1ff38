// The HTTP client against a scripted server: keep-alive, retries, timeouts, truncation, streaming,
// cancellation and upgrades over a real Unix socket.
#include "engine/transport/http_client.h"

#include <gtest/gtest.h>

#include <chrono>
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
    return FakeReply{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n", false, true};
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

TEST(HttpClientTest, CallbackCanStopAStreamAndTheConnectionIsNotReused) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.target == "/events") {
      return FakeReply{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n", false, true};
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

}  // namespace
}  // namespace berth::engine::transport
