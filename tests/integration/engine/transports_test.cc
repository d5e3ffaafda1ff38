// Every transport against real engines in test hosts: mutual TLS (accepted with the right client
// certificate; refused without one, with one from another CA, with an expired one, by a server whose
// certificate does not name the address or comes from another CA or has expired), plain TCP, SSH
// (host key checked against known_hosts, key authentication, the engine's socket over a
// direct-streamlocal channel), timeouts, and proxy variables being ignored. The same through the
// `berth` binary with DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH and ~/.ssh.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "base/strings.h"
#include "engine_fixture.h"
#include "harness/berth_binary.h"
#include "harness/subprocess.h"
#include "harness/temp_dir.h"
#include "harness/tls_material.h"
#include "pki/authority.h"

namespace berth::engine::testing {
namespace {

using berth::testing::ClientBundle;
using berth::testing::HostOptions;
using berth::testing::TempDir;
using berth::testing::TestHost;

std::unique_ptr<TestHost> startHost(HostOptions options) {
  auto host = TestHost::start(options);
  if (!host) {
    ADD_FAILURE() << host.error().message();
    return nullptr;
  }
  return std::move(host).value();
}

Endpoint tlsEndpoint(const TestHost& host, const std::filesystem::path& bundleDir) {
  auto endpoint = parseEndpoint(host.tlsUrl(), true);
  EXPECT_TRUE(endpoint);
  auto tls = loadTlsDirectory(bundleDir.string());
  EXPECT_TRUE(tls) << tls.error().message();
  endpoint->tls = std::move(tls).value();
  return *endpoint;
}

Endpoint sshEndpoint(const TestHost& host, const std::filesystem::path& knownHosts,
                     const std::string& socket = "") {
  auto endpoint = parseEndpoint(host.sshUrl() + socket);
  EXPECT_TRUE(endpoint);
  endpoint->ssh.identityFiles = {host.sshIdentity().string()};
  endpoint->ssh.knownHostsFile = knownHosts.string();
  return *endpoint;
}

// Runs a container, execs into it with stdin, reads its logs and streams events: the calls that
// stress a transport (hijacked duplex connections, chunked streams, cancellation).
void exerciseEngine(Engine& engine, const std::string& tag) {
  ContainerCreate spec;
  spec.name = "it-transport-" + tag + "-" + std::to_string(::getpid());
  spec.config.image = berth::testing::kBusyboxImage;
  spec.config.cmd = std::vector<std::string>{"sh", "-c", "echo started; exec sleep 3600"};
  (void)engine.removeContainer(spec.name, {true, true});
  auto created = engine.createContainer(spec);
  ASSERT_TRUE(created) << created.error().message();
  ASSERT_TRUE(engine.startContainer(created->id));

  auto exec = runIn(engine, created->id, {"sh", "-c", "tr a-z A-Z; echo to-stderr >&2"},
                    std::string("over the wire\n"));
  ASSERT_TRUE(exec) << exec.error().message();
  EXPECT_EQ(exec->out, "OVER THE WIRE\n");
  EXPECT_EQ(exec->err, "to-stderr\n");
  EXPECT_EQ(exec->exitCode, 0);

  std::string big;
  for (int i = 0; big.size() < 2 * 1024 * 1024; ++i) big += std::to_string(i) + "\n";
  auto echoed = runIn(engine, created->id, {"cat"}, big);
  ASSERT_TRUE(echoed) << echoed.error().message();
  EXPECT_TRUE(echoed->out == big) << "echoed " << echoed->out.size() << " of " << big.size() << " bytes";

  std::string logs;
  ASSERT_TRUE(berth::testing::waitUntil(
      [&] {
        logs.clear();
        return engine.containerLogs(created->id, {}, [&](OutputStream, std::string_view d) { logs += d; },
                                    {}) &&
               logs == "started\n";
      },
      10s))
      << logs;

  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop.request_stop();
  });
  EventsOptions quiet;
  quiet.filters = {{"label", {"nothing.has=this"}}};
  EXPECT_TRUE(engine.events(
      quiet, [](const Event&) { return true; }, stop.get_token()));
  stopper.join();

  ASSERT_TRUE(engine.removeContainer(created->id, {true, true}));
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { host_ = startHost({.ssh = true, .tls = true}); }
  static void TearDownTestSuite() { host_.reset(); }
  void SetUp() override { ASSERT_NE(host_, nullptr); }
  static std::unique_ptr<TestHost> host_;
};
std::unique_ptr<TestHost> TlsTest::host_;

TEST_F(TlsTest, AcceptsTheRightClientCertificate) {
  auto engine = engineAt(tlsEndpoint(*host_, host_->tls().client.dir));
  auto info = engine->info();
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->name, host_->hostname());
  EXPECT_EQ(engine->address(), "tcp://" + host_->address() + ":2376");
  exerciseEngine(*engine, "tls");
}

std::size_t threadCount() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

std::size_t openSockets() {
  std::size_t n = 0;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(fd.path(), ec).string().starts_with("socket:")) ++n;
  }
  return n;
}

// berthd keeps hundreds of these connections open: none may cost a thread, and the pooled ones
// close when asked.
TEST_F(TlsTest, OpenConnectionsCostNoThreadsAndCloseWhenAsked) {
  const Endpoint endpoint = tlsEndpoint(*host_, host_->tls().client.dir);
  std::vector<std::unique_ptr<Engine>> engines;
  for (int i = 0; i < 3; ++i) engines.push_back(engineAt(endpoint));
  const std::size_t threadsBefore = threadCount();
  const std::size_t socketsBefore = openSockets();
  for (auto& engine : engines) {
    auto pong = engine->ping();
    ASSERT_TRUE(pong) << pong.error().message();
  }
  EXPECT_EQ(threadCount(), threadsBefore);
  EXPECT_EQ(openSockets(), socketsBefore + 3);  // one pooled connection per client
  // The thread's TLS state (errors, random generators) can go between calls, as berthd's host
  // agents let it go: pooled connections go on working.
  releaseThreadTlsState();
  for (auto& engine : engines) {
    auto pong = engine->ping();
    ASSERT_TRUE(pong) << pong.error().message();
  }
  EXPECT_EQ(openSockets(), socketsBefore + 3);
  for (auto& engine : engines) engine->closeIdleConnections();
  EXPECT_EQ(openSockets(), socketsBefore);
  releaseThreadTlsState();  // and new handshakes make it again
  for (auto& engine : engines) {
    auto pong = engine->ping();  // a new connection, the same credentials
    ASSERT_TRUE(pong) << pong.error().message();
  }
  EXPECT_EQ(threadCount(), threadsBefore);
}

TEST_F(TlsTest, RefusesAClientWithoutACertificate) {
  TempDir dir;
  std::filesystem::copy_file(host_->tls().caCert, dir / "ca.pem");
  auto engine = engineAt(tlsEndpoint(*host_, dir.path()));
  auto info = engine->info();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(info.error().message(),
            "engine " + host_->tlsUrl() + ": info: TLS connection to " + host_->address() +
                ":2376 failed: the engine requires a client certificate and berth has none "
                "(TLS alert: sslv3 alert bad certificate)");
}

TEST_F(TlsTest, RefusesAClientCertificateFromAnotherCa) {
  TempDir dir;
  auto bundle = berth::testing::mintForeignClientCert(dir.path());
  ASSERT_TRUE(bundle) << bundle.error().message();
  auto info = engineAt(tlsEndpoint(*host_, dir.path()))->info();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(info.error().message(),
            "engine " + host_->tlsUrl() + ": info: TLS connection to " + host_->address() +
                ":2376 failed: the engine refused berth's client certificate (TLS alert: "
                "sslv3 alert bad certificate)");
}

TEST_F(TlsTest, RefusesAnExpiredClientCertificate) {
  TempDir dir;
  auto bundle = berth::testing::mintExpiredClientCert(dir.path());
  ASSERT_TRUE(bundle) << bundle.error().message();
  auto info = engineAt(tlsEndpoint(*host_, dir.path()))->info();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(info.error().message(),
            "engine " + host_->tlsUrl() + ": info: TLS connection to " + host_->address() +
                ":2376 failed: the engine refused berth's client certificate (TLS alert: "
                "sslv3 alert bad certificate)");
}

TEST_F(TlsTest, PlainHttpToTheTlsPortGetsTheEnginesAnswer) {
  auto plain = parseEndpoint(host_->tlsUrl());
  auto info = engineAt(*plain)->info();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(info.error().message(),
            "engine " + host_->tlsUrl() + ": info: Client sent an HTTP request to an HTTPS server. (400)");
}

TEST_F(TlsTest, ConnectTimesOutWhenTheHostDropsPackets) {
  EngineOptions options;
  options.connectTimeout = 1s;
  auto engine = engineAt(tlsEndpoint(*host_, host_->tls().client.dir), options);
  ASSERT_TRUE(host_->setReachable(false));
  const auto start = std::chrono::steady_clock::now();
  auto info = engine->info();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(host_->setReachable(true));
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::DeadlineExceeded);
  EXPECT_EQ(info.error().message(), "engine " + host_->tlsUrl() + ": info: timed out connecting to " +
                                        host_->address() + ":2376 (connect timeout 1s)");
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 4s);
  EXPECT_TRUE(engine->info()) << "the same client works once the host is back";
}

TEST_F(TlsTest, RequestTimesOutWhenTheEngineHangs) {
  EngineOptions options;
  options.requestTimeout = 1s;
  auto engine = engineAt(tlsEndpoint(*host_, host_->tls().client.dir), options);
  ASSERT_TRUE(engine->version());  // a pooled connection, handshake done
  auto stopped = host_->run({"pkill", "-STOP", "-x", "dockerd"});
  ASSERT_TRUE(stopped && stopped->succeeded()) << (stopped ? stopped->describe() : stopped.error().message());
  const auto start = std::chrono::steady_clock::now();
  auto info = engine->info();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  auto resumed = host_->run({"pkill", "-CONT", "-x", "dockerd"});
  ASSERT_TRUE(resumed && resumed->succeeded());
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::DeadlineExceeded);
  EXPECT_EQ(info.error().message(), "engine " + host_->tlsUrl() + ": info: no answer within 1s");
  EXPECT_LT(elapsed, 3s);
  EXPECT_TRUE(engine->info());
}

TEST_F(TlsTest, ProxyVariablesDoNotApply) {
  // A proxy that would refuse everything: if berth used it, nothing would work.
  for (const char* name :
       {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"}) {
    ::setenv(name, "http://127.0.0.1:9", 1);
  }
  const std::map<std::string, std::string> docker{{"DOCKER_HOST", host_->tlsUrl()},
                                                  {"DOCKER_TLS_VERIFY", "1"},
                                                  {"DOCKER_CERT_PATH", host_->tls().client.dir.string()}};
  const EnvLookup process = processEnvironment();
  auto endpoint = resolveEndpoint(std::nullopt, [&](const std::string& name) -> std::optional<std::string> {
    if (docker.count(name)) return docker.at(name);
    return process(name);
  });
  ASSERT_TRUE(endpoint) << endpoint.error().message();
  auto info = engineAt(*endpoint)->info();
  for (const char* name :
       {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"}) {
    ::unsetenv(name);
  }
  EXPECT_TRUE(info) << info.error().message();
}

TEST_F(TlsTest, BerthBinaryUsesDockerTlsVariables) {
  berth::testing::CommandOptions options;
  options.env = {"DOCKER_HOST=" + host_->tlsUrl(), "DOCKER_TLS_VERIFY=1",
                 "DOCKER_CERT_PATH=" + host_->tls().client.dir.string(), "HTTPS_PROXY=http://127.0.0.1:9",
                 "HTTP_PROXY=http://127.0.0.1:9"};
  auto r = berth::testing::runBerth({"engine", "info"}, options);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->exitCode, 0) << r->describe();
  EXPECT_NE(r->out.find("Engine:            " + host_->tlsUrl() + "\n"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find(" Name:             " + host_->hostname() + "\n"), std::string::npos) << r->out;

  TempDir foreign;
  ASSERT_TRUE(berth::testing::mintForeignClientCert(foreign.path()));
  options.env = {"DOCKER_HOST=" + host_->tlsUrl(), "DOCKER_TLS_VERIFY=1",
                 "DOCKER_CERT_PATH=" + foreign.path().string()};
  auto refused = berth::testing::runBerth({"version"}, options);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->exitCode, 1);
  // After any warnings about the certificates' expiry, the error.
  const std::string error =
      "berth: engine " + host_->tlsUrl() + ": version: TLS connection to " + host_->address() +
      ":2376 failed: the engine refused berth's client certificate (TLS alert: sslv3 alert "
      "bad certificate)\n";
  ASSERT_GE(refused->err.size(), error.size()) << refused->err;
  EXPECT_EQ(refused->err.substr(refused->err.size() - error.size()), error) << refused->err;

  TempDir empty;
  options.env = {"DOCKER_HOST=" + host_->tlsUrl(), "DOCKER_TLS_VERIFY=1",
                 "DOCKER_CERT_PATH=" + empty.path().string()};
  auto missing = berth::testing::runBerth({"engine", "info"}, options);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->exitCode, 1);
  EXPECT_EQ(missing->err, "berth: DOCKER_TLS_VERIFY is set but the TLS files are not readable: " +
                              (empty / "ca.pem").string() + ": No such file or directory\n");
}

// --- Servers the client must not trust.

// How OpenSSL prints a certificate time: "Nov 21 10:00:00 2026 GMT".
std::string asn1TimeText(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%b %e %H:%M:%S %Y GMT", &tm);
  return buf;
}

TEST(TlsServerTest, RefusesACertificateThatDoesNotNameTheAddress) {
  auto host = startHost({.tls = true, .serverCertNames = {"elsewhere.example"}});
  ASSERT_NE(host, nullptr);
  auto info = engineAt(tlsEndpoint(*host, host->tls().client.dir))->info();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(info.error().message(), "engine " + host->tlsUrl() + ": info: TLS handshake with " +
                                        host->address() +
                                        ":2376 failed: the engine's certificate does not name " +
                                        host->address() + " (it names DNS:elsewhere.example)");
}

TEST(TlsServerTest, RefusesACertificateFromAnotherCa) {
  auto otherCa =
      pki::Authority::create({"some other CA", pki::KeyType::EcdsaP256,
                              pki::validFor(std::chrono::system_clock::now(), std::chrono::hours(24))});
  ASSERT_TRUE(otherCa) << otherCa.error().message();
  auto host = startHost({.tls = true, .tlsAuthority = *otherCa});
  ASSERT_NE(host, nullptr);
  TempDir dir;
  ASSERT_TRUE(berth::testing::mintClientCert(dir.path()));  // trusts the harness CA, not the host's
  auto info = engineAt(tlsEndpoint(*host, dir.path()))->info();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(info.error().message(),
            "engine " + host->tlsUrl() + ": info: TLS handshake with " + host->address() +
                ":2376 failed: the engine's certificate is not signed by the CA berth "
                "trusts (ca.pem from " +
                dir.path().string() + ")");
}

TEST(TlsServerTest, RefusesAnExpiredServerCertificate) {
  auto host = startHost({.tls = true});
  ASSERT_NE(host, nullptr);
  // Replace the engine's certificate with one that expired yesterday, and restart it.
  auto ca = berth::testing::harnessAuthority();
  ASSERT_TRUE(ca);
  const auto now = std::chrono::system_clock::now();
  pki::CertificateRequest request;
  request.kind = pki::CertificateKind::Server;
  request.commonName = host->hostname();
  request.ipAddresses = {host->address()};
  request.validity = {now - std::chrono::hours(48), now - std::chrono::hours(24)};
  auto issued = ca->issue(request);
  ASSERT_TRUE(issued) << issued.error().message();
  std::ofstream(host->tls().serverCert) << issued->certificate.toPem();
  std::ofstream(host->tls().serverKey) << issued->key.toPem();
  ASSERT_TRUE(host->restartEngine());
  auto info = engineAt(tlsEndpoint(*host, host->tls().client.dir))->info();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(info.error().message(), "engine " + host->tlsUrl() + ": info: TLS handshake with " +
                                        host->address() +
                                        ":2376 failed: the engine's certificate has expired (valid until " +
                                        asn1TimeText(request.validity.notAfter) + ")");
}

// --- Plain TCP, through a relay to an engine's Unix socket (test hosts listen on TLS only).

class TcpRelay {
 public:
  explicit TcpRelay(std::string socketPath) : socketPath_(std::move(socketPath)) {
    listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listenFd_, 16) != 0) {
      std::abort();
    }
    socklen_t len = sizeof addr;
    ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~TcpRelay() {
    stopping_ = true;
    ::shutdown(listenFd_, SHUT_RDWR);
    acceptor_.join();
    for (auto& t : pipes_) t.join();
    ::close(listenFd_);
  }
  std::string url() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

 private:
  void acceptLoop() {
    while (!stopping_) {
      const int client = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      const int engine = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, socketPath_.c_str(), sizeof addr.sun_path - 1);
      if (::connect(engine, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(client);
        ::close(engine);
        continue;
      }
      pipes_.emplace_back([this, client, engine] { pump(client, engine); });
    }
  }
  // Copies both ways, passing half-closes on, until both directions ended.
  void pump(int a, int b) {
    bool aOpen = true, bOpen = true;
    char buf[65536];
    while ((aOpen || bOpen) && !stopping_) {
      pollfd fds[2] = {{a, static_cast<short>(aOpen ? POLLIN : 0), 0},
                       {b, static_cast<short>(bOpen ? POLLIN : 0), 0}};
      if (::poll(fds, 2, 100) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].revents == 0) continue;
        const int from = i == 0 ? a : b, to = i == 0 ? b : a;
        const ssize_t n = ::read(from, buf, sizeof buf);
        if (n <= 0) {
          ::shutdown(to, SHUT_WR);
          (i == 0 ? aOpen : bOpen) = false;
          continue;
        }
        for (ssize_t off = 0; off < n;) {
          const ssize_t w = ::send(to, buf + off, static_cast<std::size_t>(n - off), MSG_NOSIGNAL);
          if (w <= 0) {
            aOpen = bOpen = false;
            break;
          }
          off += w;
        }
      }
    }
    ::close(a);
    ::close(b);
  }

  std::string socketPath_;
  int listenFd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::vector<std::thread> pipes_;
};

TEST(PlainTcpTest, WorksThroughTcp) {
  TcpRelay relay(berth::testing::sharedEngine().unixSocketPath().string());
  auto engine = engineAt(relay.url());
  auto v = engine->version();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(engine->apiVersion()->toString(), "1.41");
  exerciseEngine(*engine, "tcp");
}

TEST(PlainTcpTest, TlsToAPlainEngineSaysItDoesNotSpeakTls) {
  TcpRelay relay(berth::testing::sharedEngine().unixSocketPath().string());
  TempDir dir;
  ASSERT_TRUE(berth::testing::mintClientCert(dir.path()));
  auto endpoint = parseEndpoint(relay.url(), true);
  endpoint->tls = *loadTlsDirectory(dir.path().string());
  auto info = engineAt(*endpoint)->info();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().message(),
            "engine " + relay.url() +
                ": info: TLS handshake with 127.0.0.1:" + relay.url().substr(relay.url().rfind(':') + 1) +
                " failed: 127.0.0.1:" + relay.url().substr(relay.url().rfind(':') + 1) +
                " does not speak TLS (for an engine on plain TCP, unset DOCKER_TLS_VERIFY)");
}

TEST(PlainTcpTest, ConnectionRefusedNamesTheAddress) {
  auto info = engineAt("tcp://127.0.0.1:1")->info();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(
      info.error().message(),
      "engine tcp://127.0.0.1:1: info: connection refused by 127.0.0.1:1 (is the engine listening there?)");
}

// --- SSH

using SshTest = TlsTest;  // the same host runs sshd

TEST_F(SshTest, ReachesTheEngineSocketOverSsh) {
  auto engine = engineAt(sshEndpoint(*host_, host_->sshKnownHosts()));
  auto info = engine->info();
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->name, host_->hostname());
  EXPECT_EQ(engine->address(), "ssh://root@" + host_->address());
  exerciseEngine(*engine, "ssh");
}

TEST_F(SshTest, RefusesAnUnknownHost) {
  TempDir dir;
  const auto knownHosts = dir.write("known_hosts", "");
  auto info = engineAt(sshEndpoint(*host_, knownHosts))->info();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::PermissionDenied);
  const std::string target = "root@" + host_->address() + ":22";
  EXPECT_EQ(info.error().message().rfind("engine ssh://root@" + host_->address() + ": info: ssh " + target +
                                             ": the host is not in known_hosts (" + knownHosts.string() +
                                             "); it offered SHA256:",
                                         0),
            0u)
      << info.error().message();
  EXPECT_TRUE(endsWith(info.error().message(),
                       " (ssh-ed25519). If that is right, add it, e.g. with `ssh-keyscan "
                       "-p 22 " +
                           host_->address() + " >> " + knownHosts.string() + "`"))
      << info.error().message();
}

TEST_F(SshTest, RefusesAHostWhoseKeyChanged) {
  TempDir dir;
  // Someone else's key recorded for this address.
  auto keygen = berth::testing::runCommand(
      {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (dir / "other").string()});
  ASSERT_TRUE(keygen && keygen->succeeded());
  std::ifstream pub(dir / "other.pub");
  std::string type, key;
  pub >> type >> key;
  const auto knownHosts = dir.write("known_hosts", host_->address() + " " + type + " " + key + "\n");
  auto info = engineAt(sshEndpoint(*host_, knownHosts))->info();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::PermissionDenied);
  EXPECT_NE(info.error().message().find(": host key mismatch: the host offered SHA256:"), std::string::npos)
      << info.error().message();
  EXPECT_NE(info.error().message().find(" (ssh-ed25519), which is not the key known_hosts (" +
                                        knownHosts.string() + ") names for it."),
            std::string::npos)
      << info.error().message();
  EXPECT_NE(info.error().message().find("berth refuses to connect"), std::string::npos);
}

TEST_F(SshTest, RefusesAKeyTheHostDoesNotAccept) {
  TempDir dir;
  auto keygen = berth::testing::runCommand(
      {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (dir / "id").string()});
  ASSERT_TRUE(keygen && keygen->succeeded());
  Endpoint endpoint = sshEndpoint(*host_, host_->sshKnownHosts());
  endpoint.ssh.identityFiles = {(dir / "id").string()};
  auto info = engineAt(endpoint)->info();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(info.error().message(),
            "engine ssh://root@" + host_->address() + ": info: ssh root@" + host_->address() +
                ":22: authentication failed: the server accepted none of the keys " + (dir / "id").string());
}

TEST_F(SshTest, MissingRemoteSocketIsAnError) {
  auto info = engineAt(sshEndpoint(*host_, host_->sshKnownHosts(), "/run/no-such.sock"))->info();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(info.error().message().rfind(
                "engine ssh://root@" + host_->address() + "/run/no-such.sock: info: sshd on root@" +
                    host_->address() + ":22 did not open a channel to the engine socket /run/no-such.sock: ",
                0),
            0u)
      << info.error().message();
}

TEST_F(SshTest, HostWithoutSshdIsUnavailable) {
  TestHost& plain = berth::testing::sharedEngine();  // no sshd
  auto endpoint = parseEndpoint(plain.sshUrl());
  endpoint->ssh.identityFiles = {host_->sshIdentity().string()};
  auto info = engineAt(*endpoint)->info();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(info.error().message().rfind("engine ssh://root@" + plain.address() + ": info: ssh root@" +
                                             plain.address() + ":22: cannot connect: ",
                                         0),
            0u)
      << info.error().message();
}

TEST_F(SshTest, BerthBinaryUsesHomeDotSsh) {
  TempDir home;
  std::filesystem::create_directories(home / ".ssh");
  std::filesystem::copy_file(host_->sshIdentity(), home / ".ssh" / "id_ed25519");
  std::filesystem::copy_file(host_->sshKnownHosts(), home / ".ssh" / "known_hosts");
  berth::testing::CommandOptions options;
  options.env = {"HOME=" + home.path().string()};
  options.unsetEnv = {"SSH_AUTH_SOCK"};
  auto r = berth::testing::runBerth({"-H", "ssh://root@" + host_->address(), "version"}, options);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->exitCode, 0) << r->describe();
  EXPECT_NE(r->out.find("Server: ssh://root@" + host_->address() + "\n"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find(" Negotiated API version: 1.41\n"), std::string::npos) << r->out;
}

// Like `ssh` and `docker -H ssh://`: a URL without a port takes ~/.ssh/config's Port; one with a port
// wins over it.
TEST_F(SshTest, PortFromSshConfigUnlessTheUrlNamesOne) {
  TempDir home;
  std::filesystem::create_directories(home / ".ssh");
  std::filesystem::copy_file(host_->sshIdentity(), home / ".ssh" / "id_ed25519");
  std::filesystem::copy_file(host_->sshKnownHosts(), home / ".ssh" / "known_hosts");
  {
    std::ofstream config(home / ".ssh" / "config");
    config << "Host " << host_->address() << "\n  Port 9\n";  // nothing listens on 9 (discard)
  }
  berth::testing::CommandOptions options;
  options.env = {"HOME=" + home.path().string()};
  options.unsetEnv = {"SSH_AUTH_SOCK"};
  auto viaConfig = berth::testing::runBerth({"-H", "ssh://root@" + host_->address(), "version"}, options);
  ASSERT_TRUE(viaConfig) << viaConfig.error().message();
  EXPECT_NE(viaConfig->exitCode, 0) << viaConfig->describe();
  EXPECT_NE(viaConfig->err.find("ssh root@" + host_->address() + ":9: cannot connect: "), std::string::npos)
      << viaConfig->err;
  auto explicitPort =
      berth::testing::runBerth({"-H", "ssh://root@" + host_->address() + ":22", "version"}, options);
  ASSERT_TRUE(explicitPort) << explicitPort.error().message();
  EXPECT_EQ(explicitPort->exitCode, 0) << explicitPort->describe();
  EXPECT_NE(explicitPort->out.find("Server: ssh://root@" + host_->address() + ":22\n"), std::string::npos)
      << explicitPort->out;
}

}  // namespace
}  // namespace berth::engine::testing
