// A TLS engine client's material is checked when the client is made, before any connection: a
// client certificate and key that cannot be used are refused there, with what is wrong and where
// the files came from. (Connections parse the identity again for each handshake; the integration
// tests in tests/integration/engine/transports_test.cc cover handshakes with real engines.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "engine/endpoint.h"
#include "engine/engine.h"
#include "pki/authority.h"

namespace berth::engine {
namespace {

struct Material {
  std::string caPem, certPem, keyPem, otherKeyPem;
};

Material mint() {
  const auto validity = pki::validFor(std::chrono::system_clock::now(), std::chrono::hours(1));
  auto ca = pki::Authority::create({.commonName = "test CA", .validity = validity});
  EXPECT_TRUE(ca) << ca.error().message();
  auto one = ca->issue({.commonName = "client-1", .validity = validity});
  auto two = ca->issue({.commonName = "client-2", .validity = validity});
  EXPECT_TRUE(one && two);
  return {ca->certificate().toPem(), one->certificate.toPem(), one->key.toPem(), two->key.toPem()};
}

Result<std::unique_ptr<Engine>> clientWith(std::string caPem, std::string certPem, std::string keyPem) {
  Endpoint endpoint;
  endpoint.scheme = Scheme::Tcp;
  endpoint.host = "127.0.0.1";
  endpoint.port = 2376;
  endpoint.tls = TlsMaterial{.caPem = std::move(caPem),
                             .certPem = std::move(certPem),
                             .keyPem = std::move(keyPem),
                             .origin = "/etc/berth/h1"};
  return makeEngine(endpoint);
}

std::string errorOf(const Result<std::unique_ptr<Engine>>& made) {
  return made ? "(made)" : made.error().message();
}

TEST(TlsMaterial, AUsableIdentityMakesAClient) {
  const Material m = mint();
  EXPECT_TRUE(clientWith(m.caPem, m.certPem, m.keyPem));
  EXPECT_TRUE(clientWith(m.caPem, "", ""));  // no client certificate at all
}

TEST(TlsMaterial, AnUnusableIdentityIsRefusedWhenTheClientIsMade) {
  const Material m = mint();
  EXPECT_EQ(errorOf(clientWith(m.caPem, m.certPem, m.otherKeyPem)),
            "engine tcp://127.0.0.1:2376: TLS material from /etc/berth/h1: key.pem does not belong to cert.pem");
  EXPECT_EQ(errorOf(clientWith(m.caPem, m.certPem, "not a key")),
            "engine tcp://127.0.0.1:2376: TLS material from /etc/berth/h1: key.pem holds no PEM private key");
  EXPECT_EQ(errorOf(clientWith(m.caPem, "not a certificate", m.keyPem)),
            "engine tcp://127.0.0.1:2376: TLS material from /etc/berth/h1: cert.pem holds no PEM certificate");
  EXPECT_EQ(errorOf(clientWith("not a CA", m.certPem, m.keyPem)),
            "engine tcp://127.0.0.1:2376: TLS material from /etc/berth/h1: ca.pem holds no PEM certificate");
}

// berthd's engines (makeSocketEngine): unix:// and tcp:// as makeEngine makes them; ssh:// refused,
// so that berthd links no SSH transport.
TEST(SocketEngine, MakesUnixAndTcpEnginesAndRefusesSsh) {
  const Material m = mint();
  Endpoint tcp;
  tcp.scheme = Scheme::Tcp;
  tcp.host = "127.0.0.1";
  tcp.port = 2376;
  tcp.tls = TlsMaterial{.caPem = m.caPem, .certPem = m.certPem, .keyPem = m.keyPem, .origin = "/etc/berth/h1"};
  auto made = makeSocketEngine(tcp, EngineOptions{});
  ASSERT_TRUE(made) << made.error().message();
  EXPECT_EQ((*made)->address(), "tcp://127.0.0.1:2376");
  tcp.tls->keyPem = m.otherKeyPem;  // the same checks as makeEngine
  EXPECT_EQ(errorOf(makeSocketEngine(tcp, EngineOptions{})),
            "engine tcp://127.0.0.1:2376: TLS material from /etc/berth/h1: key.pem does not belong to cert.pem");

  Endpoint unix;
  unix.scheme = Scheme::Unix;
  unix.socketPath = "/run/nothing-here.sock";
  EXPECT_TRUE(makeSocketEngine(unix, EngineOptions{}));  // connects at its first call

  Endpoint ssh;
  ssh.scheme = Scheme::Ssh;
  ssh.host = "web-1";
  ssh.socketPath = "/var/run/docker.sock";
  const auto refused = makeSocketEngine(ssh, EngineOptions{});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::InvalidArgument);
  EXPECT_THAT(refused.error().message(), ::testing::HasSubstr("only unix:// and tcp:// engines"));
}

}  // namespace
}  // namespace berth::engine
