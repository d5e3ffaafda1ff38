#include "pki/authority.h"

#include <gtest/gtest.h>

#include <set>

namespace berth::pki {
namespace {

using namespace std::chrono_literals;

// Certificates carry whole seconds.
SystemTime at(long long unixSeconds) { return SystemTime(std::chrono::seconds(unixSeconds)); }
const SystemTime kNow = at(1'800'000'000);  // 2027-01-15T08:00:00Z

Authority makeCa(KeyType type = KeyType::EcdsaP256, std::string name = "berth CA") {
  auto ca = Authority::create(
      {.commonName = std::move(name), .keyType = type, .validity = {kNow - 24h * 30, kNow + 24h * 3650}});
  EXPECT_TRUE(ca) << ca.error().message();
  return std::move(*ca);
}

Issued issueServer(const Authority& ca, Validity validity = {kNow - 1h, kNow + 24h * 365}) {
  auto issued = ca.issue({.kind = CertificateKind::Server,
                          .commonName = "node-1",
                          .dnsNames = {"node-1", "node-1.example.test"},
                          .ipAddresses = {"10.213.4.2", "fd00:0:0:0::7"},
                          .validity = validity});
  EXPECT_TRUE(issued) << issued.error().message();
  return std::move(*issued);
}

Issued issueClient(const Authority& ca, std::string name = "alice",
                   Validity validity = {kNow - 1h, kNow + 24h * 365}) {
  auto issued =
      ca.issue({.kind = CertificateKind::Client, .commonName = std::move(name), .validity = validity});
  EXPECT_TRUE(issued) << issued.error().message();
  return std::move(*issued);
}

TEST(AuthorityTest, CaCertificateHasCaConstraints) {
  const Authority ca = makeCa();
  const CertificateInfo info = ca.certificate().info();
  EXPECT_EQ(info.subject, "CN=berth CA");
  EXPECT_EQ(info.commonName, "berth CA");
  EXPECT_EQ(info.issuer, "CN=berth CA");
  EXPECT_TRUE(info.isCa);
  EXPECT_EQ(info.pathLength, 0);
  EXPECT_TRUE(info.keyCertSign);
  EXPECT_FALSE(info.serverAuth);
  EXPECT_FALSE(info.clientAuth);
  EXPECT_EQ(info.subjectKeyId.size(), 40u);  // SHA-1 of the public key, hex
  EXPECT_EQ(info.authorityKeyId, info.subjectKeyId);
  EXPECT_EQ(info.notBefore, kNow - 24h * 30);
  EXPECT_EQ(info.notAfter, kNow + 24h * 3650);
  EXPECT_EQ(info.keyType, KeyType::EcdsaP256);
  EXPECT_EQ(info.kind(), CertificateKind::Ca);
  EXPECT_TRUE(ca.certificate().matches(ca.key()));
  EXPECT_TRUE(verify(ca.certificate(), ca.certificate(), {.at = kNow}).has_value());
}

TEST(AuthorityTest, RsaCaOnRequest) {
  const Authority ca = makeCa(KeyType::Rsa2048);
  EXPECT_EQ(ca.certificate().info().keyType, KeyType::Rsa2048);
  const Issued server = issueServer(ca);
  EXPECT_TRUE(verify(server.certificate, ca.certificate(),
                     {.at = kNow, .purpose = CertificateKind::Server, .name = "10.213.4.2"})
                  .has_value());
}

TEST(AuthorityTest, ServerCertificateNamesEveryAddressAndName) {
  const Authority ca = makeCa();
  const Issued server = issueServer(ca);
  const CertificateInfo info = server.certificate.info();
  EXPECT_EQ(info.subject, "CN=node-1");
  EXPECT_EQ(info.issuer, "CN=berth CA");
  EXPECT_EQ(info.dnsNames, (std::vector<std::string>{"node-1", "node-1.example.test"}));
  EXPECT_EQ(info.ipAddresses, (std::vector<std::string>{"10.213.4.2", "fd00::7"}));
  EXPECT_TRUE(info.serverAuth);
  EXPECT_FALSE(info.clientAuth);
  EXPECT_FALSE(info.isCa);
  EXPECT_FALSE(info.keyCertSign);
  EXPECT_EQ(info.authorityKeyId, ca.certificate().info().subjectKeyId);
  EXPECT_NE(info.subjectKeyId, info.authorityKeyId);
  EXPECT_EQ(info.kind(), CertificateKind::Server);
  EXPECT_TRUE(server.certificate.matches(server.key));
  EXPECT_FALSE(server.certificate.matches(ca.key()));

  for (const char* name : {"node-1", "node-1.example.test", "10.213.4.2", "fd00::7"}) {
    EXPECT_TRUE(verify(server.certificate, ca.certificate(),
                       {.at = kNow, .purpose = CertificateKind::Server, .name = name})
                    .has_value())
        << name;
  }
}

TEST(AuthorityTest, ServerCertificateDoesNotVerifyForAnotherName) {
  const Authority ca = makeCa();
  const Issued server = issueServer(ca);
  const Status s = verify(server.certificate, ca.certificate(),
                          {.at = kNow, .purpose = CertificateKind::Server, .name = "10.213.5.2"});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(s.error().message(),
            "certificate CN=node-1 does not name 10.213.5.2 (it names node-1, node-1.example.test, "
            "10.213.4.2, fd00::7)");
  const Status dns = verify(server.certificate, ca.certificate(),
                            {.at = kNow, .purpose = CertificateKind::Server, .name = "node-2"});
  ASSERT_FALSE(dns);
  EXPECT_NE(dns.error().message().find("does not name node-2"), std::string::npos);
}

TEST(AuthorityTest, ClientCertificateIsForClientsOnly) {
  const Authority ca = makeCa();
  const Issued client = issueClient(ca, "alice");
  const CertificateInfo info = client.certificate.info();
  EXPECT_EQ(info.subject, "CN=alice");
  EXPECT_EQ(info.commonName, "alice");
  EXPECT_TRUE(info.clientAuth);
  EXPECT_FALSE(info.serverAuth);
  EXPECT_TRUE(info.dnsNames.empty());
  EXPECT_TRUE(info.ipAddresses.empty());
  EXPECT_EQ(info.kind(), CertificateKind::Client);
  EXPECT_TRUE(verify(client.certificate, ca.certificate(), {.at = kNow, .purpose = CertificateKind::Client})
                  .has_value());
  const Status asServer =
      verify(client.certificate, ca.certificate(), {.at = kNow, .purpose = CertificateKind::Server});
  ASSERT_FALSE(asServer);
  EXPECT_EQ(asServer.error().message(), "certificate CN=alice is not valid for server authentication");
}

TEST(AuthorityTest, EachCertificateGetsItsOwnKeyAndRandomSerial) {
  const Authority ca = makeCa();
  std::set<std::string> serials;
  std::set<std::string> keys;
  for (int i = 0; i < 8; ++i) {
    const Issued c = issueClient(ca, "client-" + std::to_string(i));
    serials.insert(c.certificate.info().serial);
    keys.insert(c.key.publicKeyPem());
    EXPECT_GE(c.certificate.info().serial.size(), 30u);  // ~128 random bits
  }
  EXPECT_EQ(serials.size(), 8u);
  EXPECT_EQ(keys.size(), 8u);
}

TEST(AuthorityTest, ValidityIsWhatTheCallerAsked) {
  const Authority ca = makeCa();
  const Issued c = issueClient(ca, "bob", {kNow - 48h, kNow - 24h});
  EXPECT_EQ(c.certificate.info().notBefore, kNow - 48h);
  EXPECT_EQ(c.certificate.info().notAfter, kNow - 24h);
  const Validity v = validFor(kNow, 24h);
  EXPECT_EQ(v.notBefore, kNow - 5min);
  EXPECT_EQ(v.notAfter, kNow + 24h);
}

TEST(AuthorityTest, ExpiredAndNotYetValidCertificatesDoNotVerify) {
  const Authority ca = makeCa();
  const Issued expired = issueClient(ca, "old", {kNow - 48h, kNow - 24h});
  const Status s =
      verify(expired.certificate, ca.certificate(), {.at = kNow, .purpose = CertificateKind::Client});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(s.error().message(), "certificate CN=old expired at " + formatTime(kNow - 24h));
  // The same certificate verifies at a moment inside its validity.
  EXPECT_TRUE(verify(expired.certificate, ca.certificate(), {.at = kNow - 36h}).has_value());

  const Issued future = issueClient(ca, "new", {kNow + 24h, kNow + 48h});
  const Status f = verify(future.certificate, ca.certificate(), {.at = kNow});
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().message(), "certificate CN=new is not valid before " + formatTime(kNow + 24h));
}

TEST(AuthorityTest, CertificateFromAnotherCaDoesNotVerify) {
  const Authority ours = makeCa(KeyType::EcdsaP256, "berth CA");
  const Authority theirs = makeCa(KeyType::EcdsaP256, "other CA");
  const Issued foreign = issueClient(theirs, "mallory");
  const Status s = verify(foreign.certificate, ours.certificate(), {.at = kNow});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(s.error().message(), "certificate CN=mallory was not issued by CA CN=berth CA");

  // Same name, different key: still not ours.
  const Authority impostor = makeCa(KeyType::EcdsaP256, "berth CA");
  const Status same = verify(issueClient(impostor, "eve").certificate, ours.certificate(), {.at = kNow});
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().message(), "certificate CN=eve was not issued by CA CN=berth CA");
}

TEST(AuthorityTest, RejectsBadRequests) {
  const Authority ca = makeCa();
  const Validity v{kNow, kNow + 1h};
  auto expectInvalid = [&](const CertificateRequest& r, const std::string& message) {
    auto issued = ca.issue(r);
    ASSERT_FALSE(issued) << message;
    EXPECT_EQ(issued.error().code(), ErrorCode::InvalidArgument);
    EXPECT_EQ(issued.error().message(), message);
  };
  expectInvalid({.kind = CertificateKind::Client, .commonName = "", .validity = v}, "client name is empty");
  expectInvalid({.kind = CertificateKind::Client, .commonName = "a\tb", .validity = v},
                "client name \"a\\tb\" contains a control character");
  expectInvalid({.kind = CertificateKind::Client, .commonName = std::string(65, 'x'), .validity = v},
                "client name \"" + std::string(65, 'x') + "\" is longer than 64 characters");
  expectInvalid({.kind = CertificateKind::Server, .commonName = "web", .validity = v},
                "server certificate \"web\" needs at least one IP address or DNS name");
  expectInvalid(
      {.kind = CertificateKind::Server, .commonName = "web", .ipAddresses = {"10.0.0.300"}, .validity = v},
      "invalid IP address \"10.0.0.300\"");
  expectInvalid({.kind = CertificateKind::Server,
                 .commonName = "web",
                 .dnsNames = {"bad name,IP:1.2.3.4"},
                 .validity = v},
                "invalid DNS name \"bad name,IP:1.2.3.4\"");
  expectInvalid({.kind = CertificateKind::Client, .commonName = "x", .validity = {kNow, kNow - 1h}},
                "validity ends (" + formatTime(kNow - 1h) + ") before it starts (" + formatTime(kNow) + ")");
  expectInvalid({.kind = CertificateKind::Ca, .commonName = "sub", .validity = v},
                "an Authority issues server and client certificates only");
}

TEST(AuthorityTest, FromPartsChecksTheKeyAndTheCaFlag) {
  const Authority ca = makeCa();
  const Authority other = makeCa();
  auto wrongKey = Authority::fromParts(ca.certificate(), other.key());
  ASSERT_FALSE(wrongKey);
  EXPECT_EQ(wrongKey.error().message(), "the key does not belong to CA certificate CN=berth CA");
  const Issued leaf = issueClient(ca);
  auto notCa = Authority::fromParts(leaf.certificate, leaf.key);
  ASSERT_FALSE(notCa);
  EXPECT_EQ(notCa.error().message(), "certificate CN=alice is not a CA certificate (no CA:TRUE/keyCertSign)");
  auto same = Authority::fromParts(ca.certificate(), ca.key());
  ASSERT_TRUE(same);
  // A leaf cannot sign certificates that verify (pathlen 0, CA:FALSE).
  EXPECT_TRUE(verify(issueServer(*same).certificate, ca.certificate(), {.at = kNow}).has_value());
}

TEST(CertificateTest, PemRoundTripAndTimes) {
  const Authority ca = makeCa();
  const Issued server = issueServer(ca);
  auto back = Certificate::fromPem(server.certificate.toPem());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->info().sha256Fingerprint, server.certificate.info().sha256Fingerprint);
  EXPECT_EQ(back->info().sha256Fingerprint.size(), 32u * 3 - 1);
  EXPECT_FALSE(Certificate::fromPem("nope"));
  EXPECT_EQ(formatTime(kNow), "2027-01-15T08:00:00Z");
  auto parsed = parseTime("2027-01-15T08:00:00Z");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, kNow);
  EXPECT_FALSE(parseTime("2027-01-15 08:00"));
}

}  // namespace
}  // namespace berth::pki
