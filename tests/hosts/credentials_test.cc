// The trust model in certificates: a provisioned host's server certificate chains to berth's CA,
// berth's client certificate only to the host's client CA of its generation.
#include "hosts/credentials.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "base/files.h"

namespace berth::hosts {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class CredentialsFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "berth-creds-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    auto ca = pki::CaStore::init(root_ / "ca",
                                 {.validity = pki::validFor(std::chrono::system_clock::now(), 24h * 365)});
    ASSERT_TRUE(ca) << ca.error().message();
    ca_.emplace(std::move(*ca));
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
  std::optional<pki::CaStore> ca_;
};

TEST_F(CredentialsFilesTest, GenerationsAreSeparateTrustAnchors) {
  const auto now = std::chrono::system_clock::now();
  auto g1 = issueProvisionedCredentials(*ca_, "web-1", 1, "10.0.0.2", "node", {}, now);
  ASSERT_TRUE(g1) << g1.error().message();
  auto g2 = issueProvisionedCredentials(*ca_, "web-1", 2, "10.0.0.2", "node", {}, now);
  ASSERT_TRUE(g2);
  const pki::Certificate& berthCa = ca_->authority().certificate();
  // Server: from berth's CA, naming the address and the hostname.
  EXPECT_TRUE(pki::verify(g1->server->certificate, berthCa,
                          {.purpose = pki::CertificateKind::Server, .name = "10.0.0.2"})
                  .has_value());
  EXPECT_EQ(g1->server->certificate.info().dnsNames, std::vector<std::string>{"node"});
  // Client: from its generation's client CA only.
  EXPECT_TRUE(pki::verify(g1->client.certificate, g1->clientCa->certificate(),
                          {.purpose = pki::CertificateKind::Client})
                  .has_value());
  EXPECT_FALSE(pki::verify(g1->client.certificate, g2->clientCa->certificate()).has_value());
  EXPECT_FALSE(pki::verify(g1->client.certificate, berthCa).has_value());
  EXPECT_EQ(g2->clientCa->certificate().info().commonName, "berth client CA for web-1 #2");
  EXPECT_EQ(g1->client.certificate.info().commonName, "berth@web-1");
  // The server certificate is in berth's CA index; the client certificates are not.
  auto records = ca_->list();
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].kind, pki::CertificateKind::Server);
}

TEST_F(CredentialsFilesTest, SavingAGenerationReplacesThePreviousOne) {
  const Inventory inv(root_ / "hosts");
  const auto now = std::chrono::system_clock::now();
  auto g1 = issueProvisionedCredentials(*ca_, "web-1", 1, "10.0.0.2", "", {}, now);
  auto g2 = issueProvisionedCredentials(*ca_, "web-1", 2, "10.0.0.2", "", {}, now);
  ASSERT_TRUE(g1 && g2);
  ASSERT_TRUE(saveCredentials(inv, "web-1", *g1).has_value());
  ASSERT_TRUE(saveCredentials(inv, "web-1", *g2).has_value());
  EXPECT_EQ(*readFile(inv.clientDir("web-1") / "cert.pem"), g2->client.certificate.toPem());
  EXPECT_EQ(*readFile(inv.clientDir("web-1") / "ca.pem"), ca_->authority().certificate().toPem());
  EXPECT_EQ(*readFile(inv.clientCaDir("web-1") / "ca.pem"), g2->clientCa->certificate().toPem());
  EXPECT_EQ(*readFile(inv.serverCertPath("web-1")), g2->server->certificate.toPem());
  // Generation 1's client CA key is gone: nothing can issue for it any more.
  for (const auto& entry : fs::recursive_directory_iterator(inv.hostDir("web-1"))) {
    if (entry.is_regular_file()) {
      EXPECT_NE(*readFile(entry.path()), g1->clientCa->key().toPem()) << entry.path();
    }
    EXPECT_EQ(entry.path().string().find(".old"), std::string::npos) << entry.path();
  }
  struct stat st {};
  ASSERT_EQ(::stat((inv.clientCaDir("web-1") / "ca-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(inv.clientCaDir("web-1").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(CredentialsFilesTest, AHostsClientCaRecordsWhatItIssuesUntilTheNextGeneration) {
  // `ca issue client NAME --host HOST` opens the saved client CA as a CaStore (ca_command.cc), so
  // that `ca ls` finds what it issued in the client CA's own index.
  const Inventory inv(root_ / "hosts");
  const auto now = std::chrono::system_clock::now();
  auto g1 = issueProvisionedCredentials(*ca_, "web-1", 1, "10.0.0.2", "", {}, now);
  ASSERT_TRUE(g1);
  ASSERT_TRUE(saveCredentials(inv, "web-1", *g1).has_value());
  auto hostCa = pki::CaStore::open(inv.clientCaDir("web-1"));
  ASSERT_TRUE(hostCa) << hostCa.error().message();
  EXPECT_EQ(hostCa->list()->size(), 0u);
  auto alice = hostCa->issue({.kind = pki::CertificateKind::Client,
                              .commonName = "alice",
                              .validity = pki::validFor(now, 24h * 10)});
  ASSERT_TRUE(alice) << alice.error().message();
  EXPECT_TRUE(pki::verify(alice->certificate, g1->clientCa->certificate()).has_value());
  auto listed = pki::CaStore::open(inv.clientCaDir("web-1"))->list();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "alice");
  EXPECT_EQ((*listed)[0].serial, alice->certificate.info().serial);
  EXPECT_EQ(pki::formatTime((*listed)[0].notAfter), pki::formatTime(alice->certificate.info().notAfter));
  // Berth's CA did not issue it: its index does not hold it.
  auto berthsIssued = ca_->list();
  ASSERT_TRUE(berthsIssued);
  ASSERT_FALSE(berthsIssued->empty());  // the server certificate
  for (const pki::IssuedRecord& r : *berthsIssued) EXPECT_NE(r.name, "alice");
  // The next generation's client CA starts with an empty index: alice's certificate went with its CA.
  auto g2 = issueProvisionedCredentials(*ca_, "web-1", 2, "10.0.0.2", "", {}, now);
  ASSERT_TRUE(g2);
  ASSERT_TRUE(saveCredentials(inv, "web-1", *g2).has_value());
  EXPECT_EQ(pki::CaStore::open(inv.clientCaDir("web-1"))->list()->size(), 0u);
}

TEST_F(CredentialsFilesTest, UrlHostsGetAClientCertificateFromBerthsCa) {
  auto c = issueUrlHostCredentials(*ca_, "db", {.validity = 24h * 30}, std::chrono::system_clock::now());
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->clientCa);
  EXPECT_FALSE(c->server);
  EXPECT_TRUE(pki::verify(c->client.certificate, ca_->authority().certificate(),
                          {.purpose = pki::CertificateKind::Client})
                  .has_value());
  const auto tls = clientTlsMaterial(*c, "test");
  EXPECT_EQ(tls.caPem, ca_->authority().certificate().toPem());
  EXPECT_EQ(tls.keyPem, c->client.key.toPem());
}

}  // namespace
}  // namespace berth::hosts
