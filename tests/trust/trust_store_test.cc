// TrustStore: the keys berth mints for x-berth-ssh `to:` — made on first use and stable afterwards
// (also across stores opened on the same directory, as separate berth processes would), private
// files 0600 in 0700 directories, public halves derived from the private keys, rotate() forgetting
// them all, names that are not service or container names refused, and racing makers agreeing on
// one key.
#include "trust/trust_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libssh/libssh.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <latch>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace berth::trust {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class TrustStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "berth-trust-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = root_ / "ssh" / "shop";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  TrustStore store() const {
    auto s = TrustStore::openAt(dir_);
    EXPECT_TRUE(s) << s.error().message();
    return std::move(s).value();
  }

  static unsigned mode(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  }

  // The names in `dir`, sorted.
  static std::vector<std::string> listing(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path root_;
  fs::path dir_;
};

struct KeyFree {
  void operator()(ssh_key_struct* key) const { ssh_key_free(key); }
};
using Key = std::unique_ptr<ssh_key_struct, KeyFree>;

Key importPrivate(const std::string& text) {
  ssh_key raw = nullptr;
  EXPECT_EQ(ssh_pki_import_privkey_base64(text.c_str(), nullptr, nullptr, nullptr, &raw), SSH_OK);
  return Key(raw);
}

// "TYPE BASE64" → the key; null (and a test failure) when it is not one.
Key importPublic(const std::string& line) {
  const auto space = line.find(' ');
  EXPECT_NE(space, std::string::npos) << line;
  if (space == std::string::npos) return nullptr;
  const std::string type = line.substr(0, space);
  const std::string b64 = line.substr(space + 1);
  ssh_key raw = nullptr;
  EXPECT_EQ(ssh_pki_import_pubkey_base64(b64.c_str(), ssh_key_type_from_name(type.c_str()), &raw), SSH_OK)
      << line;
  return Key(raw);
}

TEST_F(TrustStoreTest, OpenAtMakesPrivateDirectories) {
  TrustStore s = store();
  EXPECT_EQ(s.directory(), dir_);
  EXPECT_EQ(mode(dir_), 0700u);
  EXPECT_EQ(mode(dir_ / "callers"), 0700u);
  EXPECT_EQ(mode(dir_ / "hosts"), 0700u);
  // An existing, too open directory is tightened.
  fs::permissions(dir_ / "hosts", fs::perms::all);
  store();
  EXPECT_EQ(mode(dir_ / "hosts"), 0700u);
}

TEST_F(TrustStoreTest, OpenUsesBerthsConfigDirectoryAndChecksTheProjectName) {
  const char* old = std::getenv("XDG_CONFIG_HOME");
  const std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
  ASSERT_EQ(::setenv("XDG_CONFIG_HOME", (root_ / "config").c_str(), 1), 0);
  auto s = TrustStore::open("shop");
  auto bad = TrustStore::open("../shop");
  auto empty = TrustStore::open("");
  if (saved) {
    ::setenv("XDG_CONFIG_HOME", saved->c_str(), 1);
  } else {
    ::unsetenv("XDG_CONFIG_HOME");
  }
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->directory(), root_ / "config" / "berth" / "ssh" / "shop");
  EXPECT_EQ(mode(s->directory()), 0700u);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::InvalidArgument);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), ErrorCode::InvalidArgument);
  EXPECT_FALSE(fs::exists(root_ / "config" / "berth" / "shop"));
}

TEST_F(TrustStoreTest, KeysAreMadeOnFirstUseAndThenStable) {
  TrustStore s = store();
  EXPECT_TRUE(listing(dir_ / "callers").empty());
  auto first = s.callerKey("web");
  ASSERT_TRUE(first) << first.error().message();
  auto again = s.callerKey("web");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->privateKey, first->privateKey);
  EXPECT_EQ(again->publicKey, first->publicKey);

  auto host = s.hostKey("shop-db-1");
  ASSERT_TRUE(host) << host.error().message();

  // One file per key, private, and no temporary file left behind.
  EXPECT_EQ(listing(dir_ / "callers"), std::vector<std::string>{"web"});
  EXPECT_EQ(listing(dir_ / "hosts"), std::vector<std::string>{"shop-db-1"});
  EXPECT_EQ(mode(dir_ / "callers" / "web"), 0600u);
  EXPECT_EQ(mode(dir_ / "hosts" / "shop-db-1"), 0600u);
  EXPECT_EQ(mode(dir_), 0700u);

  // Another store on the same directory (another berth process) gets the same keys.
  TrustStore reopened = store();
  auto caller2 = reopened.callerKey("web");
  auto host2 = reopened.hostKey("shop-db-1");
  ASSERT_TRUE(caller2) << caller2.error().message();
  ASSERT_TRUE(host2) << host2.error().message();
  EXPECT_EQ(caller2->privateKey, first->privateKey);
  EXPECT_EQ(caller2->publicKey, first->publicKey);
  EXPECT_EQ(host2->privateKey, host->privateKey);
  EXPECT_EQ(host2->publicKey, host->publicKey);
}

TEST_F(TrustStoreTest, KeysAreEd25519InOpenSshFormatAndThePublicHalfMatches) {
  TrustStore s = store();
  auto pair = s.callerKey("web");
  ASSERT_TRUE(pair) << pair.error().message();
  EXPECT_THAT(pair->privateKey, StartsWith("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
  EXPECT_THAT(pair->privateKey, HasSubstr("-----END OPENSSH PRIVATE KEY-----"));
  EXPECT_EQ(pair->privateKey.back(), '\n');
  EXPECT_THAT(pair->publicKey, StartsWith("ssh-ed25519 AAAA"));
  // No comment, no newline: "TYPE BASE64" only.
  EXPECT_EQ(std::count(pair->publicKey.begin(), pair->publicKey.end(), ' '), 1) << pair->publicKey;
  EXPECT_EQ(pair->publicKey.find('\n'), std::string::npos);

  // The file holds the private key as returned.
  std::ifstream in(dir_ / "callers" / "web", std::ios::binary);
  const std::string onDisk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(onDisk, pair->privateKey);

  Key priv = importPrivate(pair->privateKey);
  Key pub = importPublic(pair->publicKey);
  ASSERT_NE(priv, nullptr);
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(ssh_key_type(priv.get()), SSH_KEYTYPE_ED25519);
  EXPECT_TRUE(ssh_key_is_private(priv.get()));
  EXPECT_EQ(ssh_key_cmp(priv.get(), pub.get(), SSH_KEY_CMP_PUBLIC), 0);

  // The same holds for a key read back rather than made, and different keys differ.
  auto read = store().callerKey("web");
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(read->publicKey, pair->publicKey);
  auto other = s.callerKey("db");
  ASSERT_TRUE(other) << other.error().message();
  Key otherPub = importPublic(other->publicKey);
  ASSERT_NE(otherPub, nullptr);
  EXPECT_NE(ssh_key_cmp(priv.get(), otherPub.get(), SSH_KEY_CMP_PUBLIC), 0);
}

TEST_F(TrustStoreTest, CallerAndHostKeysOfTheSameNameAreDifferent) {
  TrustStore s = store();
  auto caller = s.callerKey("web");
  auto host = s.hostKey("web");
  ASSERT_TRUE(caller) << caller.error().message();
  ASSERT_TRUE(host) << host.error().message();
  EXPECT_NE(caller->privateKey, host->privateKey);
  EXPECT_NE(caller->publicKey, host->publicKey);
  EXPECT_TRUE(fs::exists(dir_ / "callers" / "web"));
  EXPECT_TRUE(fs::exists(dir_ / "hosts" / "web"));
}

TEST_F(TrustStoreTest, RotateMakesEveryKeyNew) {
  TrustStore s = store();
  std::map<std::string, KeyPair> before;
  for (const char* name : {"web", "worker"}) before["caller " + std::string(name)] = *s.callerKey(name);
  for (const char* name : {"shop-db-1", "shop-db-2"}) before["host " + std::string(name)] = *s.hostKey(name);

  ASSERT_TRUE(s.rotate());
  EXPECT_TRUE(listing(dir_ / "callers").empty());
  EXPECT_TRUE(listing(dir_ / "hosts").empty());
  EXPECT_EQ(mode(dir_ / "callers"), 0700u);
  EXPECT_EQ(mode(dir_ / "hosts"), 0700u);

  std::set<std::string> publics;
  for (const auto& [what, old] : before) {
    const bool isCaller = what.rfind("caller ", 0) == 0;
    const std::string name = what.substr(what.find(' ') + 1);
    auto now = isCaller ? s.callerKey(name) : s.hostKey(name);
    ASSERT_TRUE(now) << now.error().message();
    EXPECT_NE(now->privateKey, old.privateKey) << what;
    EXPECT_NE(now->publicKey, old.publicKey) << what;
    publics.insert(old.publicKey);
    publics.insert(now->publicKey);
    // And stable again afterwards.
    auto again = isCaller ? store().callerKey(name) : store().hostKey(name);
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(again->publicKey, now->publicKey) << what;
  }
  EXPECT_EQ(publics.size(), 2 * before.size());

  // Rotating an empty store is fine.
  ASSERT_TRUE(s.rotate());
  ASSERT_TRUE(s.rotate());
}

TEST_F(TrustStoreTest, RefusesNamesThatAreNotServiceOrContainerNames) {
  TrustStore s = store();
  const std::vector<std::string> bad = {
      "", ".", "..", ".hidden", "a/b", "/etc/passwd", "../web", "callers/x", "x/", std::string("we\0b", 4)};
  for (const std::string& name : bad) {
    auto caller = s.callerKey(name);
    ASSERT_FALSE(caller) << "callerKey " << ::testing::PrintToString(name);
    EXPECT_EQ(caller.error().code(), ErrorCode::InvalidArgument) << caller.error().message();
    EXPECT_THAT(caller.error().message(), HasSubstr("not a service or container name"));
    auto host = s.hostKey(name);
    ASSERT_FALSE(host) << "hostKey " << ::testing::PrintToString(name);
    EXPECT_EQ(host.error().code(), ErrorCode::InvalidArgument) << host.error().message();
  }
  // Nothing was written anywhere.
  EXPECT_EQ(listing(dir_), (std::vector<std::string>{"callers", "hosts"}));
  EXPECT_TRUE(listing(dir_ / "callers").empty());
  EXPECT_TRUE(listing(dir_ / "hosts").empty());
  EXPECT_EQ(listing(root_ / "ssh"), std::vector<std::string>{"shop"});

  // Dots and dashes inside a name are fine (service names may hold dots).
  for (const char* good : {"api.v2", "shop-web-10", "a..b", "x."}) {
    auto k = s.callerKey(good);
    EXPECT_TRUE(k) << good << ": " << (k ? "" : k.error().message());
  }
}

TEST_F(TrustStoreTest, ACorruptKeyFileIsAnErrorNamingTheFile) {
  TrustStore s = store();
  const fs::path path = dir_ / "callers" / "web";
  std::ofstream(path, std::ios::binary) << "-----BEGIN OPENSSH PRIVATE KEY-----\nnot base64 at all\n";
  auto r = s.callerKey("web");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
  EXPECT_THAT(r.error().message(), HasSubstr(path.string()));
  // The file is left alone (the message says to remove it), and so is every other key.
  std::ifstream in(path, std::ios::binary);
  const std::string still((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(still, "-----BEGIN OPENSSH PRIVATE KEY-----\nnot base64 at all\n");
  EXPECT_TRUE(s.callerKey("db"));

  // An empty file too.
  const fs::path hostPath = dir_ / "hosts" / "shop-db-1";
  std::ofstream(hostPath, std::ios::binary).flush();
  auto empty = s.hostKey("shop-db-1");
  ASSERT_FALSE(empty);
  EXPECT_THAT(empty.error().message(), HasSubstr(hostPath.string()));

  // Removing it makes a new one.
  fs::remove(path);
  EXPECT_TRUE(s.callerKey("web"));
}

TEST_F(TrustStoreTest, ConcurrentMakersOfANewKeyAllGetTheSameKey) {
  constexpr int kThreads = 8;
  const std::vector<std::string> names = {"web", "worker", "shop-db-1", "shop-db-2"};
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // results[thread][name] = {caller public, host public}
    std::vector<std::map<std::string, std::pair<std::string, std::string>>> results(kThreads);
    std::vector<std::string> errors(kThreads);
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        // Each its own store on the one directory, as separate berth processes would have.
        auto s = TrustStore::openAt(dir_);
        start.arrive_and_wait();
        if (!s) {
          errors[t] = s.error().message();
          return;
        }
        // Not all in the same order, so that every name is raced from several sides.
        for (std::size_t i = 0; i < names.size(); ++i) {
          const std::string& name = names[(i + static_cast<std::size_t>(t)) % names.size()];
          auto caller = s->callerKey(name);
          auto host = s->hostKey(name);
          if (!caller || !host) {
            errors[t] += (caller ? host.error().message() : caller.error().message()) + "\n";
            continue;
          }
          results[t][name] = {caller->publicKey, host->publicKey};
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;

    TrustStore s = store();
    for (const std::string& name : names) {
      auto caller = s.callerKey(name);
      auto host = s.hostKey(name);
      ASSERT_TRUE(caller && host);
      for (int t = 0; t < kThreads; ++t) {
        ASSERT_EQ(results[t].count(name), 1u) << "thread " << t << " " << name;
        EXPECT_EQ(results[t][name].first, caller->publicKey) << "thread " << t << " caller " << name;
        EXPECT_EQ(results[t][name].second, host->publicKey) << "thread " << t << " host " << name;
      }
    }
    // Exactly one file per key, no temporary files left.
    std::vector<std::string> sorted = names;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(listing(dir_ / "callers"), sorted);
    EXPECT_EQ(listing(dir_ / "hosts"), sorted);
    ASSERT_TRUE(s.rotate());
  }
}

}  // namespace
}  // namespace berth::trust
