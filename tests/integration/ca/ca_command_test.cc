// `berth ca` end to end: the real binary, a temporary XDG_CONFIG_HOME, and a TLS test host that
// trusts the CA berth made.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "base/files.h"
#include "base/strings.h"
#include "harness/berth_binary.h"
#include "harness/temp_dir.h"
#include "harness/test_host.h"
#include "pki/ca_store.h"

namespace berth::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

unsigned mode(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

class CaCommandTest : public ::testing::Test {
 protected:
  CommandResult berth(const std::vector<std::string>& args) {
    auto r = runBerth(args, {.env = {"XDG_CONFIG_HOME=" + config_.path().string()}, .timeout = 60s});
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : CommandResult{};
  }
  fs::path caDir() const { return config_ / "berth" / "ca"; }
  TempDir config_;
};

TEST_F(CaCommandTest, InitCreatesThePrivateCaOnce) {
  const CommandResult init = berth({"ca", "init"});
  ASSERT_EQ(init.exitCode, 0) << init.describe();
  EXPECT_TRUE(
      startsWith(init.out, "Created CA CN=berth CA in " + caDir().string() + " (ecdsa-p256, expires "))
      << init.out;
  EXPECT_EQ(mode(config_ / "berth"), 0700u);
  EXPECT_EQ(mode(caDir()), 0700u);
  EXPECT_EQ(mode(caDir() / "ca-key.pem"), 0600u);
  auto ca = pki::Certificate::load(caDir() / "ca.pem");
  ASSERT_TRUE(ca);
  EXPECT_TRUE(ca->info().isCa);
  EXPECT_EQ(ca->info().keyType, pki::KeyType::EcdsaP256);

  const std::string key = *readFile(caDir() / "ca-key.pem");
  const CommandResult again = berth({"ca", "init"});
  EXPECT_EQ(again.exitCode, 1);
  EXPECT_EQ(again.err, "berth: a CA already exists in " + caDir().string() + " (berth never replaces it)\n");
  EXPECT_EQ(*readFile(caDir() / "ca-key.pem"), key);
}

TEST_F(CaCommandTest, InitWithRsaAndAName) {
  const CommandResult init =
      berth({"ca", "init", "--key-type", "rsa-2048", "--name", "Ops CA", "--days", "30"});
  ASSERT_EQ(init.exitCode, 0) << init.describe();
  auto ca = pki::Certificate::load(caDir() / "ca.pem");
  ASSERT_TRUE(ca);
  EXPECT_EQ(ca->info().subject, "CN=Ops CA");
  EXPECT_EQ(ca->info().keyType, pki::KeyType::Rsa2048);
  const auto lifetime = ca->info().notAfter - ca->info().notBefore;
  EXPECT_EQ(lifetime, 24h * 30 + 5min);
}

TEST_F(CaCommandTest, IssueServerAndClientThenList) {
  ASSERT_EQ(berth({"ca", "init"}).exitCode, 0);
  const CommandResult server = berth({"ca", "issue", "server", "node-1", "--ip", "10.213.9.2", "--dns",
                                      "node-1", "--dns", "node-1.lan", "--days", "90"});
  ASSERT_EQ(server.exitCode, 0) << server.describe();
  const fs::path serverDir = config_ / "berth" / "certs" / "server" / "node-1";
  EXPECT_NE(server.out.find("  names: 10.213.9.2, node-1, node-1.lan\n"), std::string::npos) << server.out;
  EXPECT_NE(server.out.find((serverDir / "key.pem").string()), std::string::npos);
  auto cert = pki::Certificate::load(serverDir / "cert.pem");
  ASSERT_TRUE(cert);
  EXPECT_EQ(cert->info().ipAddresses, std::vector<std::string>{"10.213.9.2"});
  EXPECT_EQ(cert->info().dnsNames, (std::vector<std::string>{"node-1", "node-1.lan"}));
  EXPECT_TRUE(cert->info().serverAuth);
  EXPECT_EQ(mode(serverDir / "key.pem"), 0600u);

  const TempDir out;
  const CommandResult client =
      berth({"ca", "issue", "client", "alice", "--days", "10", "--out", (out / "alice").string()});
  ASSERT_EQ(client.exitCode, 0) << client.describe();
  auto alice = pki::Certificate::load(out / "alice" / "cert.pem");
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->info().subject, "CN=alice");
  EXPECT_TRUE(alice->info().clientAuth);
  auto ca = pki::Certificate::load(caDir() / "ca.pem");
  EXPECT_TRUE(pki::verify(*alice, *ca, {.purpose = pki::CertificateKind::Client}).has_value());
  EXPECT_EQ(*readFile(out / "alice" / "ca.pem"), ca->toPem());
  // Each client its own key.
  ASSERT_EQ(berth({"ca", "issue", "client", "bob"}).exitCode, 0);
  EXPECT_NE(*readFile(config_ / "berth" / "certs" / "client" / "bob" / "key.pem"),
            *readFile(out / "alice" / "key.pem"));

  const CommandResult ls = berth({"ca", "ls"});
  ASSERT_EQ(ls.exitCode, 0) << ls.describe();
  const std::vector<std::string> lines = split(ls.out, '\n');
  ASSERT_EQ(lines.size(), 6u) << ls.out;  // header, ca, node-1, alice, bob, ""
  EXPECT_TRUE(startsWith(lines[0], "KIND     NAME       SERIAL")) << lines[0];
  EXPECT_TRUE(startsWith(lines[1], "ca       berth CA   ")) << lines[1];
  EXPECT_TRUE(startsWith(lines[2], "server   node-1     " + cert->info().serial)) << lines[2];
  EXPECT_TRUE(endsWith(lines[2], "valid")) << lines[2];
  EXPECT_TRUE(startsWith(lines[3], "client   alice      " + alice->info().serial)) << lines[3];
  EXPECT_TRUE(endsWith(lines[3], "expires in 9 days") || endsWith(lines[3], "expires in 10 days"))
      << lines[3];
  EXPECT_TRUE(startsWith(lines[4], "client   bob")) << lines[4];
}

TEST_F(CaCommandTest, ExplainsMistakes) {
  const CommandResult noCa = berth({"ca", "issue", "client", "alice"});
  EXPECT_EQ(noCa.exitCode, 1);
  EXPECT_EQ(noCa.err, "berth: no CA in " + caDir().string() + " (run `berth ca init`)\n");
  EXPECT_EQ(berth({"ca", "ls"}).exitCode, 1);

  ASSERT_EQ(berth({"ca", "init"}).exitCode, 0);
  const CommandResult noNames = berth({"ca", "issue", "server", "web"});
  EXPECT_EQ(noNames.exitCode, 1);
  EXPECT_EQ(noNames.err, "berth: server certificate \"web\" needs at least one IP address or DNS name\n");
  const CommandResult badIp = berth({"ca", "issue", "server", "web", "--ip", "10.0.0.256"});
  EXPECT_EQ(badIp.err, "berth: invalid IP address \"10.0.0.256\"\n");
  const CommandResult badType = berth({"ca", "issue", "client", "x", "--key-type", "dsa"});
  EXPECT_EQ(badType.err, "berth: --key-type \"dsa\": expected ecdsa-p256, rsa-2048 or rsa-4096\n");
  const CommandResult badDays = berth({"ca", "issue", "client", "x", "--days", "0"});
  EXPECT_EQ(badDays.err, "berth: --days must be at least 1\n");
  const CommandResult typo = berth({"ca", "isue"});
  EXPECT_EQ(typo.exitCode, 2);
  EXPECT_TRUE(startsWith(typo.err, "berth: unknown command \"isue\" for 'berth ca'; did you mean \"issue\"?"))
      << typo.err;
  // Nothing was recorded for the failed attempts.
  const CommandResult ls = berth({"ca", "ls"});
  EXPECT_EQ(split(ls.out, '\n').size(), 3u) << ls.out;
}

// The certificates berth issues are the ones a Docker engine with --tlsverify accepts.
TEST_F(CaCommandTest, AnEngineTrustingBerthsCaAcceptsBerthsClientCertificate) {
  ASSERT_EQ(berth({"ca", "init"}).exitCode, 0);
  auto store = pki::CaStore::open(caDir());
  ASSERT_TRUE(store) << store.error().message();
  auto host =
      TestHost::start(HostOptions{.loadBusybox = false, .tls = true, .tlsAuthority = store->authority()});
  ASSERT_TRUE(host) << host.error().message();
  const TempDir out;
  ASSERT_EQ(berth({"ca", "issue", "client", "ci", "--out", (out / "ci").string()}).exitCode, 0);
  auto ping = runCommand({"docker", "version", "-f", "{{.Server.Os}}"},
                         {.env = {"DOCKER_HOST=" + (*host)->tlsUrl(), "DOCKER_TLS_VERIFY=1",
                                  "DOCKER_CERT_PATH=" + (out / "ci").string()},
                          .unsetEnv = {"DOCKER_CONTEXT"},
                          .timeout = 30s});
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->exitCode, 0) << ping->describe();
  EXPECT_EQ(ping->out, "linux\n");
}

}  // namespace
}  // namespace berth::testing
