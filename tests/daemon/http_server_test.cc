// berthd's HTTP server over real sockets in a temporary directory, with real TLS material from
// src/pki: berth's own HttpClient (unix, tcp, mutual TLS) as the client, a raw socket where the test
// needs to control the bytes and their timing, and curl for a client that is not berth's.
#include "daemon/http_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "base/strings.h"
#include "engine/deadline.h"
#include "engine/endpoint.h"
#include "engine/transport/http_client.h"
#include "engine/transport/transport.h"
#include "pki/authority.h"

namespace berth::daemon {
namespace {

namespace fs = std::filesystem;
using engine::transport::HttpClient;
using engine::transport::HttpRequest;
using engine::transport::HttpResponse;
using namespace std::chrono_literals;

// A refused TLS client writes to a socket the server closed; that must fail, not kill the test.
const bool kSigpipeIgnored = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

// Every wait in these tests is for a condition, bounded by this so that a bug fails instead of hanging.
constexpr auto kPatience = 10s;

template <class T>
bool ready(std::future<T>& f) {
  return f.wait_for(kPatience) == std::future_status::ready;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-daemon-test-XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    EXPECT_NE(made, nullptr);
    path_ = made ? made : "/tmp";
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string socket(std::string_view name = "berthd.sock") const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// ---------------------------------------------------------------------------------------------
// TLS material.

struct Pki {
  pki::Authority ca;
  pki::Issued server;
  pki::Issued alice;    // a valid client
  pki::Issued mallory;  // issued by another CA
  pki::Issued old;      // expired yesterday
};

pki::Authority makeCa(const std::string& name) {
  auto ca = pki::Authority::create(
      {.commonName = name, .validity = pki::validFor(std::chrono::system_clock::now(), 24h * 30)});
  EXPECT_TRUE(ca) << ca.error().message();
  return std::move(ca).value();
}

pki::Issued issue(const pki::Authority& ca, pki::CertificateRequest request) {
  auto issued = ca.issue(request);
  EXPECT_TRUE(issued) << issued.error().message();
  return std::move(issued).value();
}

const Pki& pkiMaterial() {
  static const Pki p = [] {
    const auto now = std::chrono::system_clock::now();
    pki::Authority ca = makeCa("berth CA");
    pki::Authority other = makeCa("other CA");
    pki::Issued server = issue(ca, {.kind = pki::CertificateKind::Server,
                                    .commonName = "berthd",
                                    .dnsNames = {"localhost"},
                                    .ipAddresses = {"127.0.0.1"},
                                    .validity = pki::validFor(now, 24h)});
    pki::Issued alice = issue(
        ca,
        {.kind = pki::CertificateKind::Client, .commonName = "alice", .validity = pki::validFor(now, 24h)});
    pki::Issued mallory = issue(
        other,
        {.kind = pki::CertificateKind::Client, .commonName = "mallory", .validity = pki::validFor(now, 24h)});
    pki::Issued old = issue(
        ca, {.kind = pki::CertificateKind::Client, .commonName = "old", .validity = {now - 48h, now - 24h}});
    return Pki{std::move(ca), std::move(server), std::move(alice), std::move(mallory), std::move(old)};
  }();
  return p;
}

ServerTls serverTls() {
  const Pki& p = pkiMaterial();
  return {p.server.certificate.toPem(), p.server.key.toPem(), p.ca.certificate().toPem()};
}

// ---------------------------------------------------------------------------------------------
// Clients.

std::unique_ptr<HttpClient> clientFor(engine::Endpoint endpoint) {
  auto transport = engine::transport::makeTransport(endpoint);
  EXPECT_TRUE(transport) << transport.error().message();
  return std::make_unique<HttpClient>(std::move(transport).value(), engine::transport::HttpClientOptions{});
}

std::unique_ptr<HttpClient> clientFor(const std::string& url) {
  auto endpoint = engine::parseEndpoint(url);
  EXPECT_TRUE(endpoint) << endpoint.error().message();
  return clientFor(*endpoint);
}

// A mutual-TLS client presenting `client` (none: no client certificate).
std::unique_ptr<HttpClient> tlsClientFor(const std::string& url, const pki::Issued* client) {
  auto endpoint = engine::parseEndpoint(url, true);
  EXPECT_TRUE(endpoint) << endpoint.error().message();
  endpoint->tls = engine::TlsMaterial{.caPem = pkiMaterial().ca.certificate().toPem(),
                                      .certPem = client ? client->certificate.toPem() : "",
                                      .keyPem = client ? client->key.toPem() : "",
                                      .origin = "test"};
  return clientFor(*endpoint);
}

HttpRequest request(std::string method, std::string target, std::string body = "") {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  return r;
}

// A client over a raw Unix socket, for byte-exact requests and their timing.
class RawClient {
 public:
  explicit RawClient(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { ::close(fd_); }

  bool connected() const { return connected_; }

  bool write(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Everything until the server closes the connection (bounded by kPatience).
  std::string readToEnd() { return readUntil(""); }

  // What arrives until `text` is among it or the server closes the connection (bounded by kPatience);
  // an empty `text` waits for the close.
  std::string readUntil(std::string_view text) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    char buffer[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      if (!text.empty() && out.find(text) != std::string::npos) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = ::read(fd_, buffer, sizeof buffer);
      if (n <= 0) break;
      out.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int fd_;
  bool connected_ = false;
};

// The request as the handler saw it.
struct Seen {
  std::string method, target, path, peer, remoteAddress, body;
  std::map<std::string, std::string> query;
  ListenerKind listener = ListenerKind::Unix;
  std::uint64_t connection = 0;
};

// A handler that answers "<method> <path>" and records what it saw.
class Recorder {
 public:
  Handler handler() {
    return [this](const Request& req, RequestBody& body, Responder& resp) {
      Seen seen{req.method, req.target, req.path,     req.peer,      req.remoteAddress,
                "",         req.query,  req.listener, req.connection};
      auto all = body.readAll();
      if (!all) return;
      seen.body = *all;
      {
        std::lock_guard lock(mu_);
        seen_.push_back(seen);
      }
      (void)resp.send(200, "text/plain", req.method + " " + req.path);
    };
  }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::vector<Seen> seen_;
};

std::unique_ptr<HttpServer> startOrDie(std::vector<Listener> listeners, Handler handler,
                                       HttpServerOptions options = {}) {
  auto server = HttpServer::start(std::move(listeners), std::move(handler), std::move(options));
  EXPECT_TRUE(server) << server.error().message();
  return server ? std::move(server).value() : nullptr;
}

// ---------------------------------------------------------------------------------------------
// Unix socket.

TEST(HttpServerTest, ServesAUnixSocket) {
  TempDir dir;
  Recorder recorder;
  auto server = startOrDie({{.url = "unix://" + dir.socket()}}, recorder.handler());
  ASSERT_TRUE(server);
  EXPECT_EQ(server->urls(), std::vector<std::string>{"unix://" + dir.socket()});

  auto client = clientFor(server->urls()[0]);
  auto r = client->send(request("POST", "/v1/echo/a%20b?name=web%201&x=1+2&flag&x=ignored", "payload"), 5s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->head.status, 200);
  EXPECT_EQ(r->head.header("Content-Type"), "text/plain");
  EXPECT_EQ(r->body, "POST /v1/echo/a b");

  const auto seen = recorder.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].target, "/v1/echo/a%20b?name=web%201&x=1+2&flag&x=ignored");
  EXPECT_EQ(seen[0].query,
            (std::map<std::string, std::string>{{"name", "web 1"}, {"x", "1 2"}, {"flag", ""}}));
  EXPECT_EQ(seen[0].body, "payload");
  EXPECT_EQ(seen[0].peer, "unix");
  EXPECT_EQ(seen[0].remoteAddress, "unix");
  EXPECT_EQ(seen[0].listener, ListenerKind::Unix);
}

TEST(HttpServerTest, UnixSocketIsMode0660AndRemovedOnStop) {
  TempDir dir;
  Recorder recorder;
  auto server = startOrDie({{.url = "unix://" + dir.socket()}}, recorder.handler());
  ASSERT_TRUE(server);
  struct stat st {};
  ASSERT_EQ(::lstat(dir.socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  server->stop();
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir.socket())));
  server->stop();  // idempotent
}

TEST(HttpServerTest, ReplacesAStaleSocketFile) {
  TempDir dir;
  {
    // A socket file nobody accepts on: what a server that died leaves behind.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, dir.socket().c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  ASSERT_TRUE(fs::is_socket(dir.socket()));
  Recorder recorder;
  auto server = startOrDie({{.url = "unix://" + dir.socket()}}, recorder.handler());
  ASSERT_TRUE(server);
  auto r = clientFor(server->urls()[0])->send(request("GET", "/ping"), 5s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "GET /ping");
}

TEST(HttpServerTest, DoesNotTakeASocketAnotherServerAcceptsOn) {
  TempDir dir;
  Recorder recorder;
  auto first = startOrDie({{.url = "unix://" + dir.socket()}}, recorder.handler());
  ASSERT_TRUE(first);
  auto second = HttpServer::start({{.url = "unix://" + dir.socket()}}, recorder.handler());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), ErrorCode::AlreadyExists);
  EXPECT_EQ(second.error().message(),
            "listen unix://" + dir.socket() + ": address already in use (another server accepts on it)");
  auto r = clientFor(first->urls()[0])->send(request("GET", "/still-there"), 5s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "GET /still-there");
}

TEST(HttpServerTest, DoesNotReplaceAFileThatIsNotASocket) {
  TempDir dir;
  const std::string path = dir.socket();
  std::ofstream(path) << "precious";
  Recorder recorder;
  auto server = HttpServer::start({{.url = "unix://" + path}}, recorder.handler());
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().message(), "listen unix://" + path + ": " + path + " exists and is not a socket");
  std::ifstream in(path);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

// ---------------------------------------------------------------------------------------------
// Start-up errors.

TEST(HttpServerTest, RejectsBadListenerUrls) {
  Recorder recorder;
  auto message = [&](Listener l) {
    auto server = HttpServer::start({std::move(l)}, recorder.handler());
    EXPECT_FALSE(server);
    return server ? std::string() : server.error().message();
  };
  EXPECT_EQ(message({.url = "http://127.0.0.1:80"}),
            "listen http://127.0.0.1:80: unsupported scheme (expected unix:// or tcp://)");
  EXPECT_EQ(message({.url = "unix://"}), "listen unix://: no socket path");
  EXPECT_EQ(message({.url = "tcp://127.0.0.1", .plainHttp = true}),
            "listen tcp://127.0.0.1: expected ADDR:PORT");
  EXPECT_EQ(message({.url = "tcp://127.0.0.1:99999", .plainHttp = true}),
            "listen tcp://127.0.0.1:99999: bad port \"99999\"");
  EXPECT_EQ(message({.url = "tcp://::1:80", .plainHttp = true}),
            "listen tcp://::1:80: an IPv6 address goes in brackets: tcp://[::1]:7443");
  EXPECT_EQ(message({.url = "tcp://127.0.0.1:0"}),
            "listen tcp://127.0.0.1:0: a tcp:// listener needs TLS material (plain HTTP is for metrics only, "
            "and asked for with plainHttp)");
}

TEST(HttpServerTest, BindsNothingWhenOneListenerFails) {
  TempDir dir;
  Recorder recorder;
  auto server =
      HttpServer::start({{.url = "unix://" + dir.socket()}, {.url = "tcp://127.0.0.1:x", .plainHttp = true}},
                        recorder.handler());
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().message(), "listen tcp://127.0.0.1:x: bad port \"x\"");
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir.socket())));
}

TEST(HttpServerTest, ReportsAnAddressInUse) {
  Recorder recorder;
  auto first = startOrDie({{.url = "tcp://127.0.0.1:0", .plainHttp = true}}, recorder.handler());
  ASSERT_TRUE(first);
  const std::string url = first->urls()[0];
  ASSERT_TRUE(url.starts_with("tcp://127.0.0.1:")) << url;
  EXPECT_NE(url, "tcp://127.0.0.1:0");
  auto second = HttpServer::start({{.url = url, .tls = serverTls()}}, recorder.handler());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), ErrorCode::AlreadyExists);
  EXPECT_EQ(second.error().message(), "listen " + url + ": address already in use");
}

TEST(HttpServerTest, ReportsTlsMaterialThatDoesNotLoad) {
  Recorder recorder;
  auto message = [&](ServerTls tls) {
    auto server =
        HttpServer::start({{.url = "tcp://127.0.0.1:0", .tls = std::move(tls)}}, recorder.handler());
    EXPECT_FALSE(server);
    return server ? std::string() : server.error().message();
  };
  ServerTls tls = serverTls();
  tls.certPem = "not a certificate";
  EXPECT_EQ(message(tls), "listen tcp://127.0.0.1:0: server certificate: no PEM certificate");
  tls = serverTls();
  tls.keyPem = pkiMaterial().alice.key.toPem();
  EXPECT_EQ(message(tls), "listen tcp://127.0.0.1:0: server key does not belong to the server certificate");
  tls = serverTls();
  tls.keyPem = "";
  EXPECT_EQ(message(tls), "listen tcp://127.0.0.1:0: server key: no PEM private key");
  tls = serverTls();
  tls.clientCaPem = "";
  EXPECT_EQ(message(tls), "listen tcp://127.0.0.1:0: client CA: no PEM certificate");
}

// ---------------------------------------------------------------------------------------------
// Mutual TLS.

// Records refused handshakes, and lets a test wait for one.
class RefusalLog {
 public:
  HttpServerOptions options() {
    HttpServerOptions o;
    o.onRefused = [this](const RefusedConnection& r) {
      std::lock_guard lock(mu_);
      refused_.push_back(r);
      cv_.notify_all();
    };
    return o;
  }
  // The next refusal (the n-th, from 1), or nullopt after kPatience.
  std::optional<RefusedConnection> wait(std::size_t n) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kPatience, [&] { return refused_.size() >= n; })) return std::nullopt;
    return refused_[n - 1];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<RefusedConnection> refused_;
};

TEST(HttpServerTest, MutualTlsNamesTheClientByItsCertificate) {
  Recorder recorder;
  auto server = startOrDie({{.url = "tcp://127.0.0.1:0", .tls = serverTls()}}, recorder.handler());
  ASSERT_TRUE(server);
  auto client = tlsClientFor(server->urls()[0], &pkiMaterial().alice);
  auto r = client->send(request("PUT", "/v1/stacks/web", "{}"), 5s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->head.status, 200);
  EXPECT_EQ(r->body, "PUT /v1/stacks/web");
  const auto seen = recorder.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].peer, "alice");
  EXPECT_EQ(seen[0].listener, ListenerKind::MutualTls);
  EXPECT_TRUE(seen[0].remoteAddress.starts_with("127.0.0.1:")) << seen[0].remoteAddress;
  EXPECT_EQ(seen[0].body, "{}");
}

struct RefusalCase {
  const char* name;
  const pki::Issued* client;
  std::string reason;
};

TEST(HttpServerTest, MutualTlsRefusesClientsWithoutAnAcceptableCertificate) {
  const Pki& p = pkiMaterial();
  const std::vector<RefusalCase> cases = {
      {"no certificate", nullptr, "the client presented no certificate"},
      {"another CA", &p.mallory,
       "client certificate CN=mallory is not issued by the client CA of this listener (issuer CN=other CA)"},
      {"expired", &p.old,
       "client certificate CN=old expired at " + pki::formatTime(p.old.certificate.info().notAfter)},
  };
  std::atomic<int> calls{0};
  RefusalLog refusals;
  auto server = startOrDie(
      {{.url = "tcp://127.0.0.1:0", .tls = serverTls()}},
      [&](const Request&, RequestBody&, Responder& resp) {
        ++calls;
        (void)resp.send(200, "text/plain", "served");
      },
      refusals.options());
  ASSERT_TRUE(server);
  std::size_t n = 0;
  for (const RefusalCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = tlsClientFor(server->urls()[0], c.client)->send(request("GET", "/v1/secrets"), 5s);
    EXPECT_FALSE(r) << "status " << r->head.status;
    // Under TLS 1.3 the client may finish its side before the server checks its certificate, so what
    // the client reports varies; that the server refused it, why, and served nothing does not.
    auto refused = refusals.wait(++n);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->reason, c.reason);
    EXPECT_EQ(refused->listenerUrl, server->urls()[0]);
    EXPECT_TRUE(refused->remoteAddress.starts_with("127.0.0.1:")) << refused->remoteAddress;
  }
  EXPECT_EQ(calls.load(), 0);
  // And the listener still serves a good client.
  auto r = tlsClientFor(server->urls()[0], &p.alice)->send(request("GET", "/v1/secrets"), 5s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "served");
}

TEST(HttpServerTest, MutualTlsRefusesPlainHttp) {
  RefusalLog refusals;
  std::atomic<int> calls{0};
  auto server = startOrDie(
      {{.url = "tcp://127.0.0.1:0", .tls = serverTls()}},
      [&](const Request&, RequestBody&, Responder&) { ++calls; }, refusals.options());
  ASSERT_TRUE(server);
  auto r = clientFor(server->urls()[0])->send(request("GET", "/"), 5s);
  EXPECT_FALSE(r);
  auto refused = refusals.wait(1);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, "the client does not speak TLS (plain HTTP on a TLS port?)");
  EXPECT_EQ(calls.load(), 0);
}

TEST(HttpServerTest, PlainHttpListenerIsMarkedAndNamesThePeerAddress) {
  TempDir dir;
  Recorder recorder;
  auto server =
      startOrDie({{.url = "unix://" + dir.socket()}, {.url = "tcp://127.0.0.1:0", .plainHttp = true}},
                 recorder.handler());
  ASSERT_TRUE(server);
  ASSERT_EQ(server->urls().size(), 2u);
  auto r = clientFor(server->urls()[1])->send(request("GET", "/metrics"), 5s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "GET /metrics");
  const auto seen = recorder.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].listener, ListenerKind::PlainHttp);
  EXPECT_TRUE(seen[0].peer.starts_with("127.0.0.1:")) << seen[0].peer;
  EXPECT_EQ(seen[0].peer, seen[0].remoteAddress);
}

// ---------------------------------------------------------------------------------------------
// Bodies, streams, keep-alive.

TEST(HttpServerTest, StreamsAnAnswerPieceByPiece) {
  TempDir dir;
  std::promise<void> clientGotOne;
  auto gotOne = clientGotOne.get_future().share();
  auto server =
      startOrDie({{.url = "unix://" + dir.socket()}}, [&](const Request&, RequestBody&, Responder& resp) {
        ASSERT_TRUE(resp.beginStream(200, "application/json-seq"));
        ASSERT_TRUE(resp.write("one\n"));
        // The second piece only once the client has the first: the first was not held back.
        ASSERT_EQ(gotOne.wait_for(kPatience), std::future_status::ready);
        ASSERT_TRUE(resp.write("two\n"));
        ASSERT_TRUE(resp.endStream());
      });
  ASSERT_TRUE(server);
  auto client = clientFor(server->urls()[0]);
  std::string body;
  bool signalled = false;
  auto r = client->stream(request("GET", "/v1/events"), 5s, 20s, [&](std::string_view piece) {
    body += piece;
    if (!signalled && body.find("one\n") != std::string::npos) {
      signalled = true;
      clientGotOne.set_value();
    }
    return true;
  });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->head.status, 200);
  EXPECT_EQ(r->head.header("Transfer-Encoding"), "chunked");
  EXPECT_EQ(r->head.header("Content-Type"), "application/json-seq");
  EXPECT_EQ(body, "one\ntwo\n");
  // The connection stays usable after a stream.
  auto again = client->send(request("GET", "/again"), 5s);
  ASSERT_TRUE(again) << again.error().message();
}

// Blocks a streaming handler until its client goes (or the server stops), the way an event stream
// waits on its queue.
void waitUntilGone(Responder& resp) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait(lock, resp.clientGone(), [] { return false; });
}

TEST(HttpServerTest, ClientGoneEndsAStreamingHandler) {
  TempDir dir;
  std::promise<void> handlerSawGone;
  auto server =
      startOrDie({{.url = "unix://" + dir.socket()}}, [&](const Request&, RequestBody&, Responder& resp) {
        ASSERT_TRUE(resp.beginStream(200, "text/plain"));
        ASSERT_TRUE(resp.write("hello"));
        waitUntilGone(resp);
        handlerSawGone.set_value();
      });
  ASSERT_TRUE(server);
  auto client = clientFor(server->urls()[0]);
  // Stops reading at the first piece; the client then closes the connection.
  auto r =
      client->stream(request("GET", "/v1/logs?follow=1"), 5s, 20s, [](std::string_view) { return false; });
  ASSERT_TRUE(r) << r.error().message();
  auto seen = handlerSawGone.get_future();
  EXPECT_TRUE(ready(seen));
}

TEST(HttpServerTest, StopReturnsPromptlyWhileAStreamIsActive) {
  TempDir dir;
  std::promise<void> firstPiece;
  std::atomic<bool> handlerReturned{false};
  auto server =
      startOrDie({{.url = "unix://" + dir.socket()}}, [&](const Request&, RequestBody&, Responder& resp) {
        ASSERT_TRUE(resp.beginStream(200, "text/plain"));
        ASSERT_TRUE(resp.write("x"));
        waitUntilGone(resp);
        handlerReturned = true;
      });
  ASSERT_TRUE(server);
  auto client = clientFor(server->urls()[0]);
  bool signalled = false;
  std::thread streamer([&] {
    auto r = client->stream(request("GET", "/v1/events"), 5s, 20s, [&](std::string_view) {
      if (!signalled) {
        signalled = true;
        firstPiece.set_value();
      }
      return true;
    });
    EXPECT_FALSE(r);  // cut short by the server
  });
  auto streaming = firstPiece.get_future();
  ASSERT_TRUE(ready(streaming));
  const auto before = std::chrono::steady_clock::now();
  server->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 1s);
  EXPECT_TRUE(handlerReturned.load());
  streamer.join();
}

TEST(HttpServerTest, StopEndsABlockedBodyReadAndAnIdleConnection) {
  TempDir dir;
  std::promise<void> reading;
  std::promise<Error> readFailed;
  auto server =
      startOrDie({{.url = "unix://" + dir.socket()}}, [&](const Request&, RequestBody& body, Responder&) {
        reading.set_value();
        auto all = body.readAll();
        readFailed.set_value(all ? Error(ErrorCode::Internal, "read succeeded") : all.error());
      });
  ASSERT_TRUE(server);
  RawClient idle(dir.socket());  // connected, never sends anything
  ASSERT_TRUE(idle.connected());
  RawClient uploader(dir.socket());
  ASSERT_TRUE(uploader.connected());
  ASSERT_TRUE(uploader.write("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"));
  auto started = reading.get_future();
  ASSERT_TRUE(ready(started));
  const auto before = std::chrono::steady_clock::now();
  server->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 1s);
  auto failed = readFailed.get_future();
  ASSERT_TRUE(ready(failed));
  EXPECT_EQ(failed.get(), Error(ErrorCode::Cancelled, "the server is stopping"));
  EXPECT_EQ(idle.readToEnd(), "");
}

TEST(HttpServerTest, ReadsAChunkedRequestBodyPieceByPiece) {
  TempDir dir;
  std::promise<std::string> firstPiece;
  auto server = startOrDie({{.url = "unix://" + dir.socket()}},
                           [&](const Request&, RequestBody& body, Responder& resp) {
                             EXPECT_EQ(body.contentLength(), std::nullopt);
                             std::vector<std::string> pieces;
                             while (true) {
                               auto piece = body.readPiece();
                               ASSERT_TRUE(piece) << piece.error().message();
                               if (!*piece) break;
                               if (pieces.empty()) firstPiece.set_value(**piece);
                               pieces.push_back(**piece);
                             }
                             (void)resp.send(200, "text/plain", join(pieces, "|"));
                           });
  ASSERT_TRUE(server);
  RawClient client(dir.socket());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(
      client.write("POST /v1/build HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: "
                   "close\r\n\r\n5\r\nhello\r\n"));
  // The second chunk only once the handler has the first: it reads as the body arrives.
  auto first = firstPiece.get_future();
  ASSERT_TRUE(ready(first));
  EXPECT_EQ(first.get(), "hello");
  ASSERT_TRUE(client.write("6\r\n world\r\n0\r\n\r\n"));
  const std::string answer = client.readToEnd();
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n")) << answer;
  EXPECT_TRUE(answer.ends_with("\r\n\r\nhello| world")) << answer;
}

TEST(HttpServerTest, ReadsALargeBodyInPieces) {
  TempDir dir;
  std::string big(300 * 1024, 'x');
  for (std::size_t i = 0; i < big.size(); i += 1000) big[i] = static_cast<char>('a' + i % 26);
  std::vector<std::size_t> sizes;
  std::string received;
  auto server = startOrDie({{.url = "unix://" + dir.socket()}},
                           [&](const Request&, RequestBody& body, Responder& resp) {
                             EXPECT_EQ(body.contentLength(), big.size());
                             while (true) {
                               auto piece = body.readPiece();
                               ASSERT_TRUE(piece) << piece.error().message();
                               if (!*piece) break;
                               sizes.push_back((*piece)->size());
                               received += **piece;
                             }
                             (void)resp.send(204, "", "");
                           });
  ASSERT_TRUE(server);
  auto r = clientFor(server->urls()[0])->send(request("POST", "/v1/images/load", big), 5s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->head.status, 204);
  EXPECT_EQ(received, big);
  EXPECT_GE(sizes.size(), 5u);
  for (std::size_t s : sizes) EXPECT_LE(s, 64u * 1024);
}

TEST(HttpServerTest, AnswersAnOversizedBufferedBodyWith413) {
  TempDir dir;
  std::atomic<int> calls{0};
  Handler handler = [&](const Request&, RequestBody& body, Responder& resp) {
    ++calls;
    auto all = body.readAll(1024);
    if (!all) return;  // the server answers for the failure
    (void)resp.send(200, "text/plain", "fits");
  };
  auto server = startOrDie({{.url = "unix://" + dir.socket()}}, handler);
  ASSERT_TRUE(server);
  auto client = clientFor(server->urls()[0]);
  // 8 MiB is more than the socket buffers hold: the client is still writing when the answer goes
  // out, and must still get to read it.
  for (std::size_t size : {std::size_t{1025}, std::size_t{8 << 20}}) {
    SCOPED_TRACE(size);
    auto r = client->send(request("POST", "/v1/stacks", std::string(size, '{')), 5s);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->head.status, 413);
    EXPECT_EQ(r->head.header("Content-Type"), "application/json");
    EXPECT_EQ(r->body, "{\"message\":\"request body larger than 1024 bytes\"}\n");
    EXPECT_FALSE(r->head.keepAlive);
  }
  auto fits = client->send(request("POST", "/v1/stacks", std::string(1024, '{')), 5s);
  ASSERT_TRUE(fits) << fits.error().message();
  EXPECT_EQ(fits->body, "fits");
  EXPECT_EQ(calls.load(), 3);

  // A chunked body has no announced size: it fails once it grows past the limit.
  RawClient raw(dir.socket());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(
      raw.write("POST /v1/stacks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "400\r\n" +
                std::string(1024, 'a') + "\r\n1\r\nb\r\n0\r\n\r\n"));
  const std::string answer = raw.readToEnd();
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 413 Payload Too Large\r\n")) << answer;
}

TEST(HttpServerTest, KeepsTheConnectionAlive) {
  TempDir dir;
  Recorder recorder;
  auto server = startOrDie({{.url = "unix://" + dir.socket()}}, recorder.handler());
  ASSERT_TRUE(server);
  auto client = clientFor(server->urls()[0]);
  for (const char* target : {"/a", "/b", "/c"}) {
    auto r = client->send(request("POST", target, "body"), 5s);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->head.keepAlive);
  }
  const auto seen = recorder.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].connection, seen[1].connection);
  EXPECT_EQ(seen[1].connection, seen[2].connection);
  // A second client gets a connection of its own.
  ASSERT_TRUE(clientFor(server->urls()[0])->send(request("GET", "/d"), 5s));
  EXPECT_NE(recorder.seen().back().connection, seen[0].connection);
}

TEST(HttpServerTest, AnswersPipelinedRequestsInOrder) {
  TempDir dir;
  Recorder recorder;
  auto server = startOrDie({{.url = "unix://" + dir.socket()}}, recorder.handler());
  ASSERT_TRUE(server);
  RawClient client(dir.socket());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(
      client.write("POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                   "GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string answer = client.readToEnd();
  EXPECT_NE(answer.find("POST /one"), std::string::npos) << answer;
  EXPECT_GT(answer.find("GET /two"), answer.find("POST /one")) << answer;
  const auto seen = recorder.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].body, "abc");
}

// ---------------------------------------------------------------------------------------------
// Handlers that misbehave, and clients that do.

TEST(HttpServerTest, AHandlerThatThrowsOrDoesNotAnswerGets500) {
  TempDir dir;
  auto server =
      startOrDie({{.url = "unix://" + dir.socket()}}, [](const Request& req, RequestBody&, Responder& resp) {
        if (req.path == "/throw") throw std::runtime_error("bug");
        if (req.path == "/silent") return;
        if (req.path == "/twice") {
          EXPECT_TRUE(resp.send(200, "text/plain", "first"));
          const Status second = resp.send(200, "text/plain", "second");
          EXPECT_FALSE(second);
          EXPECT_EQ(second.error().code(), ErrorCode::Internal);
          return;
        }
        (void)resp.send(200, "text/plain", "fine");
      });
  ASSERT_TRUE(server);
  auto client = clientFor(server->urls()[0]);
  for (const char* target : {"/throw", "/silent"}) {
    auto r = client->send(request("GET", target), 5s);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->head.status, 500) << target;
    EXPECT_EQ(r->body, "{\"message\":\"internal error\"}\n");
  }
  auto twice = client->send(request("GET", "/twice"), 5s);
  ASSERT_TRUE(twice) << twice.error().message();
  EXPECT_EQ(twice->body, "first");
  auto r = client->send(request("GET", "/fine"), 5s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "fine");
}

TEST(HttpServerTest, AStreamCutShortByAThrowIsSeenAsTruncated) {
  TempDir dir;
  auto server =
      startOrDie({{.url = "unix://" + dir.socket()}}, [](const Request&, RequestBody&, Responder& resp) {
        ASSERT_TRUE(resp.beginStream(200, "text/plain"));
        ASSERT_TRUE(resp.write("partial"));
        throw std::runtime_error("bug in the middle of a stream");
      });
  ASSERT_TRUE(server);
  std::string body;
  auto r =
      clientFor(server->urls()[0])->stream(request("GET", "/v1/logs"), 5s, 20s, [&](std::string_view piece) {
        body += piece;
        return true;
      });
  EXPECT_FALSE(r);
  EXPECT_EQ(body, "partial");
}

TEST(HttpServerTest, RejectsMalformedRequestsAndOversizedHeaders) {
  TempDir dir;
  std::atomic<int> calls{0};
  auto server =
      startOrDie({{.url = "unix://" + dir.socket()}}, [&](const Request&, RequestBody&, Responder& resp) {
        ++calls;
        (void)resp.send(200, "text/plain", "ok");
      });
  ASSERT_TRUE(server);
  HttpRequest big = request("GET", "/");
  // Two headers: HttpClient's serializer refuses a single value of 64 KiB.
  big.headers.push_back({"X-Big-1", std::string(kMaxHeaderBytes / 2, 'a')});
  big.headers.push_back({"X-Big-2", std::string(kMaxHeaderBytes / 2, 'a')});
  auto r = clientFor(server->urls()[0])->send(big, 5s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->head.status, 431);
  EXPECT_EQ(calls.load(), 0);

  HttpRequest fits = request("GET", "/");
  fits.headers.push_back({"X-Big", std::string(kMaxHeaderBytes - 1024, 'a')});
  auto ok = clientFor(server->urls()[0])->send(fits, 5s);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->head.status, 200);
  calls = 0;

  for (const char* bytes :
       {"NOT HTTP AT ALL\r\n\r\n", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"}) {
    SCOPED_TRACE(bytes);
    RawClient raw(dir.socket());
    ASSERT_TRUE(raw.connected());
    ASSERT_TRUE(raw.write(bytes));
    const std::string answer = raw.readToEnd();
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 Bad Request\r\n")) << answer;
  }
  EXPECT_EQ(calls.load(), 0);
}

TEST(HttpServerTest, AnswersHeadWithoutABody) {
  TempDir dir;
  auto server =
      startOrDie({{.url = "unix://" + dir.socket()}}, [](const Request&, RequestBody&, Responder& resp) {
        ASSERT_TRUE(resp.addHeader("X-Berth-Version", "1"));
        EXPECT_FALSE(resp.addHeader("Content-Length", "3"));
        EXPECT_FALSE(resp.addHeader("X-Bad", "a\r\nInjected: yes"));
        (void)resp.send(200, "text/plain", "abc");
      });
  ASSERT_TRUE(server);
  auto client = clientFor(server->urls()[0]);
  auto r = client->send(request("HEAD", "/"), 5s, true);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->head.header("Content-Length"), "3");
  EXPECT_EQ(r->head.header("X-Berth-Version"), "1");
  EXPECT_EQ(r->head.header("Injected"), "");
  EXPECT_EQ(r->body, "");
  auto get = client->send(request("GET", "/"), 5s);
  ASSERT_TRUE(get) << get.error().message();
  EXPECT_EQ(get->body, "abc");
}

TEST(HttpServerTest, AnswersExpect100ContinueBeforeTheBodyIsSent) {
  TempDir dir;
  Recorder recorder;
  auto server = startOrDie({{.url = "unix://" + dir.socket()}}, recorder.handler());
  ASSERT_TRUE(server);
  RawClient client(dir.socket());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(
      client.write("PUT /v1/configs/app HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                   "Expect: 100-continue\r\nConnection: close\r\n\r\n"));
  // The client waits for the go-ahead; the handler asked for the body, so it comes.
  EXPECT_EQ(client.readUntil("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(client.write("hello"));
  const std::string answer = client.readToEnd();
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n")) << answer;
  ASSERT_EQ(recorder.seen().size(), 1u);
  EXPECT_EQ(recorder.seen()[0].body, "hello");
}

TEST(HttpServerTest, StreamsToAnHttp10ClientUntilTheConnectionCloses) {
  TempDir dir;
  auto server =
      startOrDie({{.url = "unix://" + dir.socket()}}, [](const Request&, RequestBody&, Responder& resp) {
        ASSERT_TRUE(resp.beginStream(200, "text/plain"));
        ASSERT_TRUE(resp.write("one "));
        ASSERT_TRUE(resp.write("two"));
        ASSERT_TRUE(resp.endStream());
      });
  ASSERT_TRUE(server);
  RawClient client(dir.socket());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.write("GET /metrics HTTP/1.0\r\n\r\n"));
  const std::string answer = client.readToEnd();
  EXPECT_EQ(answer, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\none two");
}

// The passing of time is the behaviour under test here, with timeouts of a few milliseconds.
TEST(HttpServerTest, ClosesIdleConnectionsAndUnfinishedHandshakes) {
  TempDir dir;
  RefusalLog refusals;
  HttpServerOptions options = refusals.options();
  options.idleTimeout = 50ms;
  options.handshakeTimeout = 50ms;
  std::atomic<int> calls{0};
  auto server = startOrDie(
      {{.url = "unix://" + dir.socket()}, {.url = "tcp://127.0.0.1:0", .tls = serverTls()}},
      [&](const Request&, RequestBody&, Responder&) { ++calls; }, options);
  ASSERT_TRUE(server);
  RawClient idle(dir.socket());
  ASSERT_TRUE(idle.connected());
  EXPECT_EQ(idle.readToEnd(), "");  // closed by the server

  // A TCP client that never starts its handshake.
  auto endpoint = engine::parseEndpoint(server->urls()[1]);
  ASSERT_TRUE(endpoint);
  auto transport = engine::transport::makeTransport(*endpoint);
  ASSERT_TRUE(transport);
  auto silent = (*transport)->dial(engine::deadlineAfter(5s));
  ASSERT_TRUE(silent) << silent.error().message();
  auto refused = refusals.wait(1);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, "no TLS handshake within 50ms");
  EXPECT_EQ(calls.load(), 0);
}

// ---------------------------------------------------------------------------------------------
// curl: a client that is not berth's.

// Runs a shell command; its output and exit status.
std::pair<std::string, int> run(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {"popen failed", -1};
  std::string out;
  char buffer[4096];
  while (const std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  const int status = ::pclose(pipe);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

TEST(HttpServerTest, CurlSpeaksToBothListeners) {
  if (run("curl --version >/dev/null 2>&1").second != 0) GTEST_SKIP() << "no curl";
  TempDir dir;
  const Pki& p = pkiMaterial();
  std::ofstream(dir.path() / "ca.pem") << p.ca.certificate().toPem();
  std::ofstream(dir.path() / "cert.pem") << p.alice.certificate.toPem();
  std::ofstream(dir.path() / "key.pem") << p.alice.key.toPem();
  std::atomic<int> calls{0};
  auto server =
      startOrDie({{.url = "unix://" + dir.socket()}, {.url = "tcp://127.0.0.1:0", .tls = serverTls()}},
                 [&](const Request& req, RequestBody& body, Responder& resp) {
                   ++calls;
                   auto all = body.readAll();
                   if (!all) return;
                   (void)resp.send(200, "text/plain",
                                   req.method + " " + req.path + " from " + req.peer + ": " +
                                       std::to_string(all->size()));
                 });
  ASSERT_TRUE(server);
  const std::string port = server->urls()[1].substr(server->urls()[1].rfind(':') + 1);
  const std::string d = dir.path().string();

  // Over the Unix socket, a body from stdin: curl sends it chunked.
  auto [unixOut, unixStatus] = run("head -c 100000 /dev/zero | curl -sS -T - --unix-socket " + dir.socket() +
                                   " http://localhost/v1/up 2>&1");
  EXPECT_EQ(unixStatus, 0) << unixOut;
  EXPECT_EQ(unixOut, "PUT /v1/up from unix: 100000");

  const std::string https = "https://127.0.0.1:" + port + "/v1/hello";
  auto [tlsOut, tlsStatus] = run("curl -sS --cacert " + d + "/ca.pem --cert " + d + "/cert.pem --key " + d +
                                 "/key.pem " + https + " 2>&1");
  EXPECT_EQ(tlsStatus, 0) << tlsOut;
  EXPECT_EQ(tlsOut, "GET /v1/hello from alice: 0");

  const int before = calls.load();
  auto [refusedOut, refusedStatus] = run("curl -sS --cacert " + d + "/ca.pem " + https + " 2>&1");
  EXPECT_NE(refusedStatus, 0) << refusedOut;
  EXPECT_EQ(calls.load(), before);
}

}  // namespace
}  // namespace berth::daemon
