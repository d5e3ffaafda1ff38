#include "pki/ca_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "base/files.h"

namespace berth::pki {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class CaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "berth-ca-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = root_ / "config" / "berth" / "ca";
  }
  void TearDown() override { fs::remove_all(root_); }

  static unsigned mode(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 0777;
  }

  CaRequest request() const {
    return {.commonName = "berth CA", .validity = validFor(std::chrono::system_clock::now(), 24h * 3650)};
  }

  fs::path root_;
  fs::path dir_;
};

TEST_F(CaStoreTest, InitWritesThePrivateLayout) {
  auto store = CaStore::init(dir_, request());
  ASSERT_TRUE(store) << store.error().message();
  EXPECT_EQ(mode(dir_), 0700u);
  EXPECT_EQ(mode(dir_ / "ca-key.pem"), 0600u);
  EXPECT_EQ(mode(dir_ / "ca.pem"), 0644u);
  EXPECT_TRUE(fs::exists(dir_ / "index"));
  auto cert = Certificate::load(dir_ / "ca.pem");
  ASSERT_TRUE(cert);
  EXPECT_TRUE(cert->info().isCa);
  auto list = store->list();
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
}

TEST_F(CaStoreTest, InitNeverReplacesACa) {
  ASSERT_TRUE(CaStore::init(dir_, request()));
  const std::string before = *readFile(dir_ / "ca-key.pem");
  auto again = CaStore::init(dir_, request());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::AlreadyExists);
  EXPECT_EQ(again.error().message(),
            "a CA already exists in " + dir_.string() + " (berth never replaces it)");
  EXPECT_EQ(*readFile(dir_ / "ca-key.pem"), before);
}

TEST_F(CaStoreTest, OpenWithoutACaSaysWhatToDo) {
  auto store = CaStore::open(dir_);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(store.error().message(), "no CA in " + dir_.string() + " (run `berth ca init`)");
}

TEST_F(CaStoreTest, OpenRejectsAKeyThatIsNotTheCas) {
  ASSERT_TRUE(CaStore::init(dir_, request()));
  auto other = PrivateKey::generate(KeyType::EcdsaP256);
  ASSERT_TRUE(other);
  ASSERT_TRUE(other->save(dir_ / "ca-key.pem").has_value());
  auto store = CaStore::open(dir_);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().message(),
            dir_.string() + ": the key does not belong to CA certificate CN=berth CA");
}

TEST_F(CaStoreTest, IssuedCertificatesAreIndexedAndVerifyAgainstTheReopenedCa) {
  auto store = CaStore::init(dir_, request());
  ASSERT_TRUE(store);
  const auto now = std::chrono::system_clock::now();
  auto server = store->issue({.kind = CertificateKind::Server,
                              .commonName = "node-1",
                              .ipAddresses = {"10.213.7.2"},
                              .validity = validFor(now, 24h * 30)});
  ASSERT_TRUE(server) << server.error().message();
  auto client = store->issue(
      {.kind = CertificateKind::Client, .commonName = "ci-runner", .validity = validFor(now, 24h * 365)});
  ASSERT_TRUE(client);

  auto reopened = CaStore::open(dir_);
  ASSERT_TRUE(reopened) << reopened.error().message();
  auto list = reopened->list();
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_EQ(list->size(), 2u);
  const CertificateInfo s = server->certificate.info();
  EXPECT_EQ((*list)[0].serial, s.serial);
  EXPECT_EQ((*list)[0].kind, CertificateKind::Server);
  EXPECT_EQ((*list)[0].name, "node-1");
  EXPECT_EQ((*list)[0].notBefore, s.notBefore);
  EXPECT_EQ((*list)[0].notAfter, s.notAfter);
  EXPECT_EQ((*list)[0].sha256Fingerprint, s.sha256Fingerprint);
  EXPECT_EQ((*list)[1].kind, CertificateKind::Client);
  EXPECT_EQ((*list)[1].name, "ci-runner");

  // A copy of each certificate (never its key) is kept.
  auto kept = Certificate::load(dir_ / "issued" / (s.serial + ".pem"));
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->info().sha256Fingerprint, s.sha256Fingerprint);
  for (const auto& entry : fs::directory_iterator(dir_ / "issued")) {
    EXPECT_EQ(readFile(entry.path())->find("PRIVATE KEY"), std::string::npos);
  }
  EXPECT_TRUE(verify(server->certificate, reopened->authority().certificate(),
                     {.purpose = CertificateKind::Server, .name = "10.213.7.2"})
                  .has_value());
  EXPECT_TRUE(
      verify(client->certificate, reopened->authority().certificate(), {.purpose = CertificateKind::Client})
          .has_value());
}

TEST_F(CaStoreTest, DamagedIndexNamesTheLine) {
  auto store = CaStore::init(dir_, request());
  ASSERT_TRUE(store);
  ASSERT_TRUE(writeFileAtomic(dir_ / "index", "# header\nAB\tclient\tx\n").has_value());
  auto list = store->list();
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().message(), (dir_ / "index").string() + ":2: expected 6 tab-separated fields");
}

TEST_F(CaStoreTest, WriteBundleUsesDockersNamesAndModes) {
  auto store = CaStore::init(dir_, request());
  ASSERT_TRUE(store);
  auto client = store->issue({.kind = CertificateKind::Client,
                              .commonName = "me",
                              .validity = validFor(std::chrono::system_clock::now(), 24h)});
  ASSERT_TRUE(client);
  const fs::path out = root_ / "certs" / "me";
  ASSERT_TRUE(writeBundle(out, *client, store->authority().certificate()).has_value());
  EXPECT_EQ(mode(out), 0700u);
  EXPECT_EQ(mode(out / "key.pem"), 0600u);
  EXPECT_EQ(mode(out / "cert.pem"), 0644u);
  EXPECT_EQ(mode(out / "ca.pem"), 0644u);
  auto key = PrivateKey::load(out / "key.pem");
  auto cert = Certificate::load(out / "cert.pem");
  ASSERT_TRUE(key && cert);
  EXPECT_TRUE(cert->matches(*key));
}

TEST_F(CaStoreTest, DefaultDirectoryIsUnderXdgConfigHome) {
  const char* old = std::getenv("XDG_CONFIG_HOME");
  const std::string saved = old ? old : "";
  ::setenv("XDG_CONFIG_HOME", (root_ / "xdg").c_str(), 1);
  auto dir = CaStore::defaultDirectory();
  if (old) {
    ::setenv("XDG_CONFIG_HOME", saved.c_str(), 1);
  } else {
    ::unsetenv("XDG_CONFIG_HOME");
  }
  ASSERT_TRUE(dir);
  EXPECT_EQ(*dir, root_ / "xdg" / "berth" / "ca");
}

}  // namespace
}  // namespace berth::pki
