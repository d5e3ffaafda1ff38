#include "engine/endpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace berth::engine {
namespace {

EnvLookup envOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string errorOf(const Result<Endpoint>& r) {
  return r ? std::string("(ok) ") + r->url() : r.error().message();
}

TEST(EndpointTest, ParsesUnixSockets) {
  auto e = parseEndpoint("unix:///run/x.sock");
  ASSERT_TRUE(e) << errorOf(e);
  EXPECT_EQ(e->scheme, Scheme::Unix);
  EXPECT_EQ(e->socketPath, "/run/x.sock");
  EXPECT_EQ(e->url(), "unix:///run/x.sock");
}

TEST(EndpointTest, ParsesTcpWithDefaultPortsForPlainAndTls) {
  auto plain = parseEndpoint("tcp://10.0.0.2");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->host, "10.0.0.2");
  EXPECT_EQ(plain->port, 2375);
  EXPECT_EQ(plain->url(), "tcp://10.0.0.2:2375");
  auto tls = parseEndpoint("tcp://engine-1.example", true);
  ASSERT_TRUE(tls);
  EXPECT_EQ(tls->url(), "tcp://engine-1.example:2376");
  auto explicitPort = parseEndpoint("TCP://10.0.0.2:1234/", true);
  ASSERT_TRUE(explicitPort);
  EXPECT_EQ(explicitPort->url(), "tcp://10.0.0.2:1234");
  auto empty = parseEndpoint("tcp://:2375");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->url(), "tcp://localhost:2375");
}

TEST(EndpointTest, ParsesBracketedIpv6) {
  auto e = parseEndpoint("tcp://[::1]:2376");
  ASSERT_TRUE(e) << errorOf(e);
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 2376);
  EXPECT_EQ(e->url(), "tcp://[::1]:2376");
  EXPECT_EQ(errorOf(parseEndpoint("tcp://::1:2376")),
            "engine URL \"tcp://::1:2376\": an IPv6 address must be written in brackets: [::1]:2375");
}

TEST(EndpointTest, ParsesSshWithUserPortAndSocket) {
  auto e = parseEndpoint("ssh://admin@10.0.0.3:2222/run/user/1000/docker.sock");
  ASSERT_TRUE(e) << errorOf(e);
  EXPECT_EQ(e->scheme, Scheme::Ssh);
  EXPECT_EQ(e->user, "admin");
  EXPECT_EQ(e->host, "10.0.0.3");
  EXPECT_EQ(e->port, 2222);
  EXPECT_EQ(e->socketPath, "/run/user/1000/docker.sock");
  EXPECT_EQ(e->url(), "ssh://admin@10.0.0.3:2222/run/user/1000/docker.sock");
  auto plain = parseEndpoint("ssh://host-1");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->user, "");
  EXPECT_EQ(plain->port, 0) << "no port: ~/.ssh/config's, else 22";
  EXPECT_EQ(plain->socketPath, "/var/run/docker.sock");
  EXPECT_EQ(plain->url(), "ssh://host-1");
}

TEST(EndpointTest, RejectsWhatItCannotReach) {
  EXPECT_EQ(errorOf(parseEndpoint("/var/run/docker.sock")),
            "engine URL \"/var/run/docker.sock\": no scheme; did you mean unix:///var/run/docker.sock?");
  EXPECT_EQ(
      errorOf(parseEndpoint("localhost:2375")),
      "engine URL \"localhost:2375\": no scheme; expected unix:///path/to/docker.sock, tcp://HOST[:PORT] or "
      "ssh://[USER@]HOST[:PORT][/SOCKET]");
  EXPECT_EQ(errorOf(parseEndpoint("npipe:////./pipe/docker_engine")),
            "engine URL \"npipe:////./pipe/docker_engine\": unsupported scheme \"npipe\"; expected "
            "unix:///path/to/docker.sock, tcp://HOST[:PORT] or ssh://[USER@]HOST[:PORT][/SOCKET]");
  EXPECT_EQ(errorOf(parseEndpoint("https://10.0.0.2:2376")),
            "engine URL \"https://10.0.0.2:2376\": use tcp:// for engines on TCP (with DOCKER_TLS_VERIFY=1 "
            "for TLS); "
            "expected unix:///path/to/docker.sock, tcp://HOST[:PORT] or ssh://[USER@]HOST[:PORT][/SOCKET]");
  EXPECT_EQ(errorOf(parseEndpoint("unix://")), "engine URL \"unix://\": no socket path after unix://");
  EXPECT_EQ(errorOf(parseEndpoint("tcp://h:0")),
            "engine URL \"tcp://h:0\": invalid port \"0\": expected a number from 1 to 65535");
  EXPECT_EQ(errorOf(parseEndpoint("tcp://h:70000")),
            "engine URL \"tcp://h:70000\": invalid port \"70000\": expected a number from 1 to 65535");
  EXPECT_EQ(errorOf(parseEndpoint("tcp://h:x1")),
            "engine URL \"tcp://h:x1\": invalid port \"x1\": expected a number from 1 to 65535");
  EXPECT_EQ(errorOf(parseEndpoint("tcp://h:2375/v1.41")),
            "engine URL \"tcp://h:2375/v1.41\": tcp:// engine URLs take no path");
  EXPECT_EQ(
      errorOf(parseEndpoint("ssh://me:secret@h")),
      "engine URL \"ssh://me:secret@h\": ssh:// engine URLs take no password; berth authenticates with keys");
  EXPECT_EQ(errorOf(parseEndpoint("ssh://")), "engine URL \"ssh://\": no host after ssh://");
}

TEST(EndpointTest, FlagWinsOverDockerHostWhichWinsOverTheDefault) {
  const auto env = envOf({{"DOCKER_HOST", "tcp://10.0.0.9:2375"}});
  auto fromFlag = resolveEndpoint(std::string("unix:///tmp/a.sock"), env);
  ASSERT_TRUE(fromFlag);
  EXPECT_EQ(fromFlag->url(), "unix:///tmp/a.sock");
  auto fromEnv = resolveEndpoint(std::nullopt, env);
  ASSERT_TRUE(fromEnv);
  EXPECT_EQ(fromEnv->url(), "tcp://10.0.0.9:2375");
  auto emptyFlag = resolveEndpoint(std::string(""), env);
  ASSERT_TRUE(emptyFlag);
  EXPECT_EQ(emptyFlag->url(), "tcp://10.0.0.9:2375");
  auto fallback = resolveEndpoint(std::nullopt, envOf({{"DOCKER_HOST", ""}}));
  ASSERT_TRUE(fallback);
  EXPECT_EQ(fallback->url(), "unix:///var/run/docker.sock");
}

TEST(EndpointTest, BadDockerHostSaysItCameFromTheVariable) {
  auto e = resolveEndpoint(std::nullopt, envOf({{"DOCKER_HOST", "10.0.0.2:2375"}}));
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(e.error().message().rfind("DOCKER_HOST: engine URL \"10.0.0.2:2375\": no scheme", 0), 0u)
      << e.error().message();
}

class TlsDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("berth-endpoint-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    std::filesystem::create_directories(dir_ / ".docker");
    write(".docker/ca.pem", "CA");
    write(".docker/cert.pem", "CERT");
    write(".docker/key.pem", "KEY");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  // DOCKER_HOST=tcp://10.0.0.2, DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH=<dir>/.docker.
  Result<Endpoint> resolveWithCertPath() const {
    return resolveEndpoint(std::nullopt, envOf({{"DOCKER_HOST", "tcp://10.0.0.2"},
                                                {"DOCKER_TLS_VERIFY", "1"},
                                                {"DOCKER_CERT_PATH", (dir_ / ".docker").string()}}));
  }

  std::filesystem::path dir_;
};

TEST_F(TlsDirTest, TlsVerifyLoadsCertsFromDockerCertPath) {
  auto e = resolveWithCertPath();
  ASSERT_TRUE(e) << e.error().message();
  ASSERT_TRUE(e->tls.has_value());
  EXPECT_EQ(e->tls->caPem, "CA");
  EXPECT_EQ(e->tls->certPem, "CERT");
  EXPECT_EQ(e->tls->keyPem, "KEY");
  EXPECT_EQ(e->tls->origin, (dir_ / ".docker").string());
  EXPECT_EQ(e->url(), "tcp://10.0.0.2:2376");  // the TLS port when none is given
}

TEST_F(TlsDirTest, TlsVerifyDefaultsToHomeDotDocker) {
  auto e = resolveEndpoint(std::nullopt, envOf({{"DOCKER_HOST", "tcp://10.0.0.2:2376"},
                                                {"DOCKER_TLS_VERIFY", "0"},  // like docker: any value
                                                {"HOME", dir_.string()}}));
  ASSERT_TRUE(e) << e.error().message();
  ASSERT_TRUE(e->tls.has_value());
  EXPECT_EQ(e->tls->origin, dir_.string() + "/.docker");
}

TEST_F(TlsDirTest, MissingTlsFileIsAnErrorNamingIt) {
  std::filesystem::remove(dir_ / ".docker" / "key.pem");
  auto e = resolveWithCertPath();
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "DOCKER_TLS_VERIFY is set but the TLS files are not readable: " +
                                     (dir_ / ".docker" / "key.pem").string() + ": No such file or directory");
}

TEST_F(TlsDirTest, OnlyACaMeansNoClientCertificate) {
  std::filesystem::remove(dir_ / ".docker" / "cert.pem");
  std::filesystem::remove(dir_ / ".docker" / "key.pem");
  auto e = resolveWithCertPath();
  ASSERT_TRUE(e) << e.error().message();
  ASSERT_TRUE(e->tls.has_value());
  EXPECT_EQ(e->tls->caPem, "CA");
  EXPECT_EQ(e->tls->certPem, "");
  EXPECT_EQ(e->tls->keyPem, "");
}

TEST_F(TlsDirTest, MissingCaIsAnError) {
  std::filesystem::remove(dir_ / ".docker" / "ca.pem");
  auto e = resolveWithCertPath();
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "DOCKER_TLS_VERIFY is set but the TLS files are not readable: " +
                                     (dir_ / ".docker" / "ca.pem").string() + ": No such file or directory");
}

TEST_F(TlsDirTest, TlsVariablesDoNotApplyToUnixSockets) {
  auto e = resolveEndpoint(std::string("unix:///tmp/x.sock"),
                           envOf({{"DOCKER_TLS_VERIFY", "1"}, {"DOCKER_CERT_PATH", "/nonexistent"}}));
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_FALSE(e->tls.has_value());
}

TEST(EndpointTest, PlainTcpWithoutTlsVerify) {
  auto e =
      resolveEndpoint(std::nullopt, envOf({{"DOCKER_HOST", "tcp://10.0.0.2"}, {"DOCKER_CERT_PATH", "/x"}}));
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->tls.has_value());
  EXPECT_EQ(e->url(), "tcp://10.0.0.2:2375");
}

TEST(EndpointTest, ProxyVariablesChangeNothing) {
  const auto without = resolveEndpoint(std::nullopt, envOf({{"DOCKER_HOST", "tcp://10.0.0.2:2375"}}));
  const auto with = resolveEndpoint(std::nullopt, envOf({{"DOCKER_HOST", "tcp://10.0.0.2:2375"},
                                                         {"HTTP_PROXY", "http://proxy:3128"},
                                                         {"HTTPS_PROXY", "http://proxy:3128"},
                                                         {"ALL_PROXY", "socks5://proxy:1080"},
                                                         {"http_proxy", "http://proxy:3128"}}));
  ASSERT_TRUE(without);
  ASSERT_TRUE(with);
  EXPECT_EQ(with->url(), without->url());
  EXPECT_EQ(with->host, "10.0.0.2");
  EXPECT_EQ(with->port, 2375);
}

TEST(EndpointTest, DockerApiVersionPinsTheVersion) {
  auto e = resolveEndpoint(std::nullopt, envOf({{"DOCKER_API_VERSION", "1.40"}}));
  ASSERT_TRUE(e);
  ASSERT_TRUE(e->pinnedApiVersion.has_value());
  EXPECT_EQ(e->pinnedApiVersion->toString(), "1.40");
  auto bad = resolveEndpoint(std::nullopt, envOf({{"DOCKER_API_VERSION", "latest"}}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(),
            "DOCKER_API_VERSION: invalid Engine API version \"latest\": expected MAJOR.MINOR such as 1.41");
  auto old = resolveEndpoint(std::nullopt, envOf({{"DOCKER_API_VERSION", "1.24"}}));
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().message(), "DOCKER_API_VERSION=1.24: berth speaks Engine API 1.40 to 1.41");
}

TEST(EndpointTest, SshUsesHomeDotSsh) {
  auto e = resolveEndpoint(std::string("ssh://me@h"), envOf({{"HOME", "/home/me"}}));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->ssh.sshDir, "/home/me/.ssh");
}

}  // namespace
}  // namespace berth::engine
