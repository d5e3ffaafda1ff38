#include "hosts/inventory.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "base/files.h"
#include "hosts/resolve.h"
#include "pki/authority.h"
#include "pki/ca_store.h"

namespace berth::hosts {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class InventoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "berth-hosts-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }
  static unsigned mode(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 0777;
  }
  Inventory inventory() const { return Inventory(root_ / "hosts"); }

  static HostRecord provisioned() {
    return HostRecord{.name = "web-1",
                      .url = "tcp://10.0.0.2:2376",
                      .labels = {{"zone", "a"}, {"disk", "ssd"}},
                      .ssh = SshTarget{.user = "root",
                                       .address = "10.0.0.2",
                                       .port = 2222,
                                       .identityFile = "/k",
                                       .hostKey = "ssh-ed25519 AAAAC3Nza"},
                      .provisioned = true,
                      .initSystem = InitSystem::SysV,
                      .generation = 2,
                      .addedAt = "2026-01-01T00:00:00Z",
                      .rotatedAt = "2026-02-01T00:00:00Z"};
  }
  fs::path root_;
};

TEST_F(InventoryTest, RecordsRoundTripThroughJson) {
  const HostRecord r = provisioned();
  const std::string json = recordToJson(r);
  EXPECT_EQ(json,
            "{\n"
            "  \"version\": 1,\n"
            "  \"name\": \"web-1\",\n"
            "  \"url\": \"tcp://10.0.0.2:2376\",\n"
            "  \"labels\": {\n"
            "    \"disk\": \"ssd\",\n"
            "    \"zone\": \"a\"\n"
            "  },\n"
            "  \"ssh\": {\n"
            "    \"user\": \"root\",\n"
            "    \"address\": \"10.0.0.2\",\n"
            "    \"port\": 2222,\n"
            "    \"identity\": \"/k\",\n"
            "    \"hostKey\": \"ssh-ed25519 AAAAC3Nza\"\n"
            "  },\n"
            "  \"provisioned\": true,\n"
            "  \"initSystem\": \"sysv\",\n"
            "  \"generation\": 2,\n"
            "  \"addedAt\": \"2026-01-01T00:00:00Z\",\n"
            "  \"rotatedAt\": \"2026-02-01T00:00:00Z\"\n"
            "}\n");
  auto back = recordFromJson(json);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, r);
  HostRecord plain{.name = "db", .url = "tcp://db:2376"};
  EXPECT_EQ(*recordFromJson(recordToJson(plain)), plain);
}

TEST_F(InventoryTest, DamagedRecordsSayWhatIsWrong) {
  EXPECT_EQ(
      recordFromJson("{").error().message(),
      "not valid JSON: parse error at line 1, column 2: syntax error while parsing object key - unexpected "
      "end of input; expected string literal");
  EXPECT_EQ(recordFromJson("{\"url\": \"x\"}").error().message(), "missing \"name\"");
  EXPECT_EQ(recordFromJson("{\"version\": 9, \"name\": \"a\", \"url\": \"x\"}").error().message(),
            "unsupported record version 9 (this berth reads 1)");
  EXPECT_EQ(recordFromJson(R"({"name": "a", "url": "x", "labels": {"k": 1}})").error().message(),
            "label \"k\" must be a string");
  EXPECT_EQ(recordFromJson(R"({"name": "a", "url": "x", "ssh": {"address": "h", "port": 70000}})")
                .error()
                .message(),
            "\"ssh.port\" must be a number from 1 to 65535");
  EXPECT_EQ(recordFromJson(R"({"name": "a", "url": "x", "initSystem": "upstart"})").error().message(),
            "unknown initSystem \"upstart\"");
}

TEST_F(InventoryTest, HostNames) {
  EXPECT_TRUE(checkHostName("web-1").has_value());
  EXPECT_TRUE(checkHostName("db.eu_west").has_value());
  EXPECT_EQ(checkHostName("").error().message(), "host name \"\": is empty");
  EXPECT_EQ(checkHostName("-x").error().message(), "host name \"-x\": must start with a letter or a digit");
  EXPECT_EQ(checkHostName("a/b").error().message(),
            "host name \"a/b\": may hold only letters, digits, '.', '_' and '-'");
  EXPECT_EQ(checkHostName(std::string(64, 'a')).error().code(), ErrorCode::InvalidArgument);
}

TEST_F(InventoryTest, PutGetListRemoveWithPrivatePermissions) {
  const Inventory inv = inventory();
  EXPECT_EQ(inv.list()->size(), 0u);  // no directory yet: empty
  ASSERT_TRUE(inv.put(provisioned()).has_value());
  ASSERT_TRUE(inv.put(HostRecord{.name = "db", .url = "tcp://10.0.0.3:2376"}).has_value());
  EXPECT_EQ(mode(inv.directory()), 0700u);
  EXPECT_EQ(mode(inv.hostDir("web-1")), 0700u);
  EXPECT_EQ(mode(inv.hostDir("web-1") / "host.json"), 0600u);
  auto all = inv.list();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "db");
  EXPECT_EQ((*all)[0].record->name, "db");
  EXPECT_EQ((*all)[1].record, provisioned());
  EXPECT_EQ((*all)[1].damage, std::nullopt);
  EXPECT_TRUE(inv.contains("db"));
  EXPECT_FALSE(inv.contains("nope"));
  EXPECT_EQ(inv.get("web1").error().message(),
            "no host named \"web1\"; did you mean \"web-1\"? (`berth host ls` lists the registered hosts)");
  EXPECT_EQ(inv.get("web1").error().code(), ErrorCode::NotFound);
  ASSERT_TRUE(inv.remove("web-1").has_value());
  EXPECT_FALSE(fs::exists(inv.hostDir("web-1")));
  EXPECT_EQ(inv.remove("web-1").error().code(), ErrorCode::NotFound);
}

TEST_F(InventoryTest, ADamagedRecordIsListedWithItsErrorWithoutHidingTheOthers) {
  const Inventory inv = inventory();
  ASSERT_TRUE(inv.put(HostRecord{.name = "a", .url = "tcp://10.0.0.2:2376"}).has_value());
  ASSERT_TRUE(inv.put(HostRecord{.name = "c", .url = "tcp://10.0.0.4:2376"}).has_value());
  ASSERT_TRUE(ensurePrivateDir(inv.hostDir("b")).has_value());
  const fs::path broken = inv.hostDir("b") / "host.json";
  ASSERT_TRUE(writeFileAtomic(broken, "{\"name\": \"b\",\n  \"url\": }\n").has_value());
  ASSERT_TRUE(inv.put(HostRecord{.name = "d", .url = "tcp://10.0.0.5:2376"}).has_value());
  // A record copied from another host's directory.
  ASSERT_TRUE(writeFileAtomic(inv.hostDir("d") / "host.json",
                              recordToJson(HostRecord{.name = "a", .url = "tcp://10.0.0.2:2376"}))
                  .has_value());

  auto all = inv.list();
  ASSERT_TRUE(all) << all.error().message();
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].record->url, "tcp://10.0.0.2:2376");
  EXPECT_EQ((*all)[1].name, "b");
  EXPECT_EQ((*all)[1].record, std::nullopt);
  const std::string expected =
      "host b: damaged record " + broken.string() +
      ": not valid JSON: parse error at line 2, column 10: syntax error while parsing value - unexpected "
      "'}'; "
      "expected '[', '{', or a literal; fix the file or forget the host with `berth host rm b`";
  ASSERT_TRUE((*all)[1].damage);
  EXPECT_EQ((*all)[1].damage->message(), expected);
  EXPECT_EQ((*all)[2].record->url, "tcp://10.0.0.4:2376");
  EXPECT_EQ((*all)[3].name, "d");
  ASSERT_TRUE((*all)[3].damage);
  EXPECT_EQ((*all)[3].damage->message(),
            "host d: damaged record " + (inv.hostDir("d") / "host.json").string() +
                ": it names host \"a\", not \"d\"; fix the file or forget the host with `berth host rm d`");

  // By name: the same message, for every command that reaches the host.
  EXPECT_EQ(inv.get("b").error().message(), expected);
  EXPECT_EQ(inv.get("b").error().code(), ErrorCode::InvalidArgument);
  const engine::EnvLookup noEnv = [](const std::string&) { return std::nullopt; };
  EXPECT_EQ(resolveEngine(inv, std::string("b"), noEnv, std::chrono::system_clock::now()).error().message(),
            expected);
  // And it can be forgotten.
  ASSERT_TRUE(inv.remove("b").has_value());
  EXPECT_FALSE(fs::exists(inv.hostDir("b")));
}

TEST_F(InventoryTest, AnUnreadableRecordNamesTheFile) {
  const Inventory inv = inventory();
  // host.json a directory: reading it fails (root reads any file, so permissions would not).
  ASSERT_TRUE(ensurePrivateDir(inv.hostDir("x") / "host.json").has_value());
  auto all = inv.list();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  ASSERT_TRUE((*all)[0].damage);
  EXPECT_EQ((*all)[0].damage->message().rfind(
                "host x: damaged record " + (inv.hostDir("x") / "host.json").string() + ": ", 0),
            0u)
      << (*all)[0].damage->message();
}

TEST_F(InventoryTest, EndpointCarriesTheHostsTlsMaterialOrPinnedSshKey) {
  const Inventory inv = inventory();
  HostRecord r{.name = "web-1", .url = "tcp://10.0.0.2:2376"};
  ASSERT_TRUE(inv.put(r).has_value());
  auto missing = inv.endpoint(r);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message().rfind("host web-1 (tcp://10.0.0.2:2376): client certificate: ", 0), 0u)
      << missing.error().message();

  auto ca = pki::Authority::create({.validity = pki::validFor(std::chrono::system_clock::now(), 24h)});
  ASSERT_TRUE(ca);
  auto client = ca->issue({.kind = pki::CertificateKind::Client,
                           .commonName = "berth@web-1",
                           .validity = pki::validFor(std::chrono::system_clock::now(), 24h)});
  ASSERT_TRUE(client);
  ASSERT_TRUE(pki::writeBundle(inv.clientDir("web-1"), *client, ca->certificate()).has_value());
  auto ep = inv.endpoint(r);
  ASSERT_TRUE(ep) << ep.error().message();
  EXPECT_EQ(ep->url(), "tcp://10.0.0.2:2376");
  ASSERT_TRUE(ep->tls);
  EXPECT_EQ(ep->tls->certPem, client->certificate.toPem());
  EXPECT_EQ(ep->tls->caPem, ca->certificate().toPem());
  EXPECT_EQ(ep->tls->origin, "host web-1's inventory (" + inv.clientDir("web-1").string() + ")");

  HostRecord s{.name = "edge",
               .url = "ssh://admin@10.0.0.9:2222",
               .ssh = SshTarget{.user = "admin",
                                .address = "10.0.0.9",
                                .port = 2222,
                                .identityFile = "/id",
                                .hostKey = "ssh-ed25519 AAAA"}};
  ASSERT_TRUE(inv.put(s).has_value());
  ASSERT_TRUE(writeFileAtomic(inv.knownHostsPath("edge"), "[10.0.0.9]:2222 ssh-ed25519 AAAA\n").has_value());
  auto sep = inv.endpoint(s);
  ASSERT_TRUE(sep);
  EXPECT_EQ(sep->scheme, engine::Scheme::Ssh);
  EXPECT_EQ(sep->ssh.knownHostsFile, inv.knownHostsPath("edge").string());
  EXPECT_EQ(sep->ssh.identityFiles, std::vector<std::string>{"/id"});
}

TEST_F(InventoryTest, DockerEnvironmentForTlsAndSshHosts) {
  const Inventory inv = inventory();
  const auto tls = dockerEnvironment(inv, HostRecord{.name = "web-1", .url = "tcp://10.0.0.2:2376"});
  ASSERT_EQ(tls.size(), 3u);
  EXPECT_EQ(tls[0],
            (std::pair<std::string, std::optional<std::string>>{"DOCKER_HOST", "tcp://10.0.0.2:2376"}));
  EXPECT_EQ(tls[1].second, "1");
  EXPECT_EQ(tls[2].second, inv.clientDir("web-1").string());
  const auto ssh = dockerEnvironment(inv, HostRecord{.name = "e", .url = "ssh://root@h"});
  EXPECT_EQ(ssh[0].second, "ssh://root@h");
  EXPECT_EQ(ssh[1].second, std::nullopt);
  EXPECT_EQ(ssh[2].second, std::nullopt);
}

TEST_F(InventoryTest, ResolveTakesANameOrAUrl) {
  const Inventory inv = inventory();
  auto ca = pki::Authority::create({.validity = pki::validFor(std::chrono::system_clock::now(), 24h * 365)});
  auto client = ca->issue({.kind = pki::CertificateKind::Client,
                           .commonName = "berth@web-1",
                           .validity = pki::validFor(std::chrono::system_clock::now(), 24h * 10)});
  ASSERT_TRUE(client);
  ASSERT_TRUE(inv.put(HostRecord{.name = "web-1", .url = "tcp://10.0.0.2:2376"}).has_value());
  ASSERT_TRUE(pki::writeBundle(inv.clientDir("web-1"), *client, ca->certificate()).has_value());
  const engine::EnvLookup noEnv = [](const std::string&) { return std::nullopt; };
  const auto now = std::chrono::system_clock::now();

  auto byName = resolveEngine(inv, std::string("web-1"), noEnv, now);
  ASSERT_TRUE(byName) << byName.error().message();
  EXPECT_EQ(byName->hostName, "web-1");
  EXPECT_EQ(byName->endpoint.url(), "tcp://10.0.0.2:2376");
  EXPECT_EQ(byName->endpoint.describe(), "host web-1 (tcp://10.0.0.2:2376)");  // how engine errors start
  ASSERT_EQ(byName->warnings.size(), 1u);  // the client certificate expires in 10 days
  EXPECT_EQ(
      byName->warnings[0].rfind("host web-1's client certificate CN=berth@web-1 expires in 9 days (", 0), 0u)
      << byName->warnings[0];
  EXPECT_NE(byName->warnings[0].find("; renew it with `berth host rotate-certs web-1`"), std::string::npos);

  auto byUrl = resolveEngine(inv, std::string("unix:///tmp/x.sock"), noEnv, now);
  ASSERT_TRUE(byUrl);
  EXPECT_EQ(byUrl->hostName, std::nullopt);
  EXPECT_EQ(byUrl->endpoint.url(), "unix:///tmp/x.sock");
  EXPECT_EQ(byUrl->endpoint.describe(), "engine unix:///tmp/x.sock");
  EXPECT_TRUE(byUrl->warnings.empty());

  auto unknown = resolveEngine(inv, std::string("web-2"), noEnv, now);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(
      unknown.error().message(),
      "no host named \"web-2\"; did you mean \"web-1\"? (`berth host ls` lists the registered hosts); an "
      "engine URL needs a scheme: tcp://HOST:PORT, unix:///PATH or ssh://USER@HOST");
}

}  // namespace
}  // namespace berth::hosts
