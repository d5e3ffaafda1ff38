// What berth delivers for x-berth-ssh `to:`: who reaches whom (linksOf), the accounts of a
// container's /etc/passwd (parsePasswd), and the tar put at "/" in a container (archiveFor), read
// back entry by entry with TarReader: paths, modes, owners and contents, and the keys on both ends
// agreeing (a caller's public key in its targets' authorized_keys, every target replica's host key
// pinned in the caller's known_hosts).
#include "trust/delivery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libssh/libssh.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/strings.h"
#include "base/tar_reader.h"
#include "fakes/fake_engine.h"
#include "spec/loader.h"
#include "spec/spec_test_util.h"

namespace berth::trust {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// ---- helpers -------------------------------------------------------------------------------------

const std::string kAlice =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINOzf7q2eRxO8x8FEsytkiqX8Ah9uGeTIwBo5Twdb+OE alice@laptop";

// Two callers with different login users naming the same target (web as root, worker and admin as
// app → db), a caller that is also a target (cache: reached by web, reaches db as postgres), a
// service with x-berth-ssh but no `to:` (gw), one without (docs), and a caller of an inactive
// profile (tools).
const std::string kShop = R"(services:
  web:
    image: busybox
    x-berth-ssh:
      to: [db, cache]
  worker:
    image: busybox
    x-berth-ssh:
      user: app
      to: [db]
  admin:
    image: busybox
    x-berth-ssh:
      user: app
      to: [db]
  cache:
    image: busybox
    x-berth-ssh:
      user: postgres
      to: [db]
  db:
    image: busybox
  gw:
    image: busybox
    x-berth-ssh:
      authorized_keys: [")" +
                          kAlice + R"("]
  docs:
    image: busybox
  tools:
    image: busybox
    profiles: [debug]
    x-berth-ssh:
      to: [db]
)";

// A compose project from text (from memory: no files), named `name`.
spec::Project load(const std::string& yaml, const std::string& name = "shop") {
  return spec::testing::projectFromMemory(yaml, name);
}

spec::Service service(const std::string& name, std::vector<std::string> to = {}, std::string user = {}) {
  spec::Service s;
  s.name = name;
  s.image = "busybox";
  if (!to.empty() || !user.empty()) {
    s.ssh = spec::SshAccess{};
    s.ssh->to = std::move(to);
    s.ssh->user = std::move(user);
  }
  return s;
}

const std::string kPasswd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "app:x:1000:1001:App,,,:/home/app:/bin/sh\n"
    "postgres:x:999:998:PostgreSQL administrator,,,:/var/lib/postgresql/:/bin/bash\n"
    "svc:x:500:500::/:/sbin/nologin\n";

// One entry of an archive with its data; directory paths without their trailing "/".
struct Item {
  TarEntry header;
  std::string data;
  std::size_t index = 0;  // position in the archive
};

// Every entry of `tar`, in order. TarReader reports headers only: fed a block at a time, the data of
// the entry just reported starts right after the block fed.
std::vector<Item> readTar(const std::string& tar) {
  std::vector<std::pair<TarEntry, std::size_t>> seen;  // header, data offset
  std::size_t fed = 0;
  TarReader reader([&](const TarEntry& e) -> Status {
    seen.emplace_back(e, fed);
    return ok();
  });
  EXPECT_EQ(tar.size() % 512, 0u);
  while (fed < tar.size()) {
    const std::size_t n = std::min<std::size_t>(512, tar.size() - fed);
    fed += n;
    auto st = reader.feed(std::string_view(tar).substr(fed - n, n));
    if (!st) {
      ADD_FAILURE() << "tar: " << st.error().message();
      return {};
    }
  }
  if (auto st = reader.finish(); !st) ADD_FAILURE() << "tar: " << st.error().message();
  std::vector<Item> items;
  for (auto& [header, offset] : seen) {
    Item item{header, {}, items.size()};
    while (item.header.path.size() > 1 && item.header.path.back() == '/') item.header.path.pop_back();
    if (offset + header.size > tar.size()) {
      ADD_FAILURE() << header.path << ": data beyond the archive";
    } else {
      item.data = tar.substr(offset, header.size);
    }
    items.push_back(std::move(item));
  }
  return items;
}

std::set<std::string> pathsOf(const std::vector<Item>& items) {
  std::set<std::string> out;
  for (const Item& i : items) out.insert(i.header.path);
  return out;
}

// The one entry at `path` (a test failure and an empty item when there are none or several regular
// files; directories may appear more than once, consistently).
Item at(const std::vector<Item>& items, const std::string& path) {
  std::vector<const Item*> found;
  for (const Item& i : items) {
    if (i.header.path == path) found.push_back(&i);
  }
  if (found.empty()) {
    ADD_FAILURE() << "no entry " << path;
    return Item{};
  }
  for (const Item* i : found) {
    if (i->header.type != '5' || found.front()->header.type != '5') {
      if (found.size() != 1) ADD_FAILURE() << found.size() << " entries " << path;
    }
    EXPECT_EQ(i->header.mode & 07777, found.front()->header.mode & 07777) << path;
    EXPECT_EQ(i->header.uid, found.front()->header.uid) << path;
    EXPECT_EQ(i->header.gid, found.front()->header.gid) << path;
  }
  return *found.front();
}

// Checks one entry: type ('0' file, '5' directory), permissions and owner.
void expectEntry(const std::vector<Item>& items, const std::string& path, char type, unsigned mode,
                 unsigned uid, unsigned gid) {
  SCOPED_TRACE(path);
  const Item i = at(items, path);
  if (type == '0') {
    EXPECT_TRUE(i.header.type == '0' || i.header.type == '\0') << "type " << i.header.type;
  } else {
    EXPECT_EQ(i.header.type, type);
  }
  EXPECT_EQ(i.header.mode & 07777, mode) << std::oct << (i.header.mode & 07777);
  EXPECT_EQ(i.header.uid, uid);
  EXPECT_EQ(i.header.gid, gid);
  EXPECT_TRUE(i.header.linkTarget.empty());
}

// Each file's directory, when the archive has it, comes before the file (so that it is made with
// its mode and owner, not the engine's defaults).
void expectDirectoriesFirst(const std::vector<Item>& items) {
  for (const Item& i : items) {
    const auto slash = i.header.path.rfind('/');
    if (slash == std::string::npos) continue;
    const std::string parent = i.header.path.substr(0, slash);
    for (const Item& d : items) {
      if (d.header.path == parent) {
        EXPECT_LT(d.index, i.index) << parent << " after " << i.header.path;
        break;
      }
    }
  }
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out = split(text, '\n');
  EXPECT_TRUE(!out.empty() && out.back().empty()) << "no final newline: " << text;
  if (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

// Without comment lines.
std::vector<std::string> keyLines(const std::string& text) {
  std::vector<std::string> out;
  for (const std::string& l : lines(text)) {
    if (!l.empty() && l.front() != '#') out.push_back(l);
  }
  return out;
}

struct KeyFree {
  void operator()(ssh_key_struct* key) const { ssh_key_free(key); }
};
using Key = std::unique_ptr<ssh_key_struct, KeyFree>;

// Whether `privateKey` (OpenSSH format) is the private half of `publicLine` ("TYPE BASE64 ...").
bool sameKey(const std::string& privateKey, const std::string& publicLine) {
  ssh_key rawPrivate = nullptr;
  if (ssh_pki_import_privkey_base64(privateKey.c_str(), nullptr, nullptr, nullptr, &rawPrivate) != SSH_OK) {
    ADD_FAILURE() << "not a private key: " << privateKey;
    return false;
  }
  Key priv(rawPrivate);
  const auto fields = split(publicLine, ' ');
  if (fields.size() < 2) {
    ADD_FAILURE() << "not a public key: " << publicLine;
    return false;
  }
  ssh_key rawPublic = nullptr;
  if (ssh_pki_import_pubkey_base64(fields[1].c_str(), ssh_key_type_from_name(fields[0].c_str()),
                                   &rawPublic) != SSH_OK) {
    ADD_FAILURE() << "not a public key: " << publicLine;
    return false;
  }
  Key pub(rawPublic);
  return ssh_key_cmp(priv.get(), pub.get(), SSH_KEY_CMP_PUBLIC) == 0;
}

class DeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "berth-delivery-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    project_ = load(kShop);
    ASSERT_EQ(project_.name, "shop");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  TrustStore store() const {
    auto s = TrustStore::openAt(root_ / "ssh" / "shop");
    EXPECT_TRUE(s) << s.error().message();
    return std::move(s).value();
  }
  Delivery delivery(std::map<std::string, int> replicas = {{"db", 3}, {"cache", 2}}) const {
    return Delivery(project_, store(), std::move(replicas));
  }

  // archiveFor, read back (a test failure and nothing when it fails).
  std::vector<Item> archive(const Delivery& d, const std::string& service, int number,
                            const std::string& runsAs, const std::string& passwd = kPasswd) const {
    auto tar = d.archiveFor(ContainerRole{service, number}, passwd, runsAs);
    if (!tar) {
      ADD_FAILURE() << "archiveFor " << service << ": " << tar.error().message();
      return {};
    }
    return readTar(*tar);
  }

  std::string callerPublic(const std::string& service) const {
    auto k = store().callerKey(service);
    EXPECT_TRUE(k) << k.error().message();
    return k ? k->publicKey : "";
  }
  KeyPair host(const std::string& container) const {
    auto k = store().hostKey(container);
    EXPECT_TRUE(k) << k.error().message();
    return k ? *k : KeyPair{};
  }

  fs::path root_;
  spec::Project project_;
};

// ---- linksOf -------------------------------------------------------------------------------------

TEST_F(DeliveryTest, LinksOfAProjectLoadedFromYaml) {
  const TrustLinks links = linksOf(project_);
  ASSERT_EQ(links.callers.size(), 4u);  // not gw (no `to:`), not tools (inactive profile)
  EXPECT_EQ(links.callers.at("web").targets, (std::vector<std::string>{"db", "cache"}));
  EXPECT_EQ(links.callers.at("web").user, "root");  // the default login user
  EXPECT_EQ(links.callers.at("worker").targets, std::vector<std::string>{"db"});
  EXPECT_EQ(links.callers.at("worker").user, "app");
  EXPECT_EQ(links.callers.at("admin").user, "app");
  EXPECT_EQ(links.callers.at("cache").targets, std::vector<std::string>{"db"});
  EXPECT_EQ(links.callers.at("cache").user, "postgres");

  ASSERT_EQ(links.targets.size(), 2u);
  EXPECT_THAT(links.targets.at("db"),
              ElementsAre(Pair("app", ElementsAre("admin", "worker")), Pair("postgres", ElementsAre("cache")),
                          Pair("root", ElementsAre("web"))));
  EXPECT_THAT(links.targets.at("cache"), ElementsAre(Pair("root", ElementsAre("web"))));

  EXPECT_FALSE(links.empty());
  for (const char* s : {"web", "worker", "admin", "cache", "db"}) EXPECT_TRUE(links.involves(s)) << s;
  for (const char* s : {"gw", "docs", "tools", "nosuch"}) EXPECT_FALSE(links.involves(s)) << s;
}

TEST_F(DeliveryTest, LinksOfAProjectBuiltInCode) {
  spec::Project p;
  p.name = "p";
  p.services.emplace("a", service("a", {"t", "u", "t"}));  // a duplicate target counts once
  p.services.emplace("b", service("b", {"t"}, "deploy"));
  p.services.emplace("c", service("c", {"t"}, "deploy"));
  p.services.emplace("u", service("u", {"t"}, "root"));  // "root" spelled out: same as a's
  p.services.emplace("t", service("t"));
  p.services.emplace("x", service("x", {}, "only-a-user"));  // x-berth-ssh without `to:`
  const TrustLinks links = linksOf(p);
  EXPECT_EQ(links.callers.size(), 4u);
  EXPECT_EQ(links.callers.at("a").targets, (std::vector<std::string>{"t", "u"}));
  EXPECT_EQ(links.callers.at("a").user, "root");
  EXPECT_EQ(links.callers.at("b").user, "deploy");
  EXPECT_THAT(links.targets.at("t"),
              ElementsAre(Pair("deploy", ElementsAre("b", "c")), Pair("root", ElementsAre("a", "u"))));
  EXPECT_THAT(links.targets.at("u"), ElementsAre(Pair("root", ElementsAre("a"))));
  EXPECT_TRUE(links.involves("u"));  // caller and target
  EXPECT_FALSE(links.involves("x"));

  spec::Project none;
  none.services.emplace("a", service("a"));
  EXPECT_TRUE(linksOf(none).empty());
  EXPECT_TRUE(linksOf(spec::Project{}).empty());
}

// ---- parsePasswd ---------------------------------------------------------------------------------

TEST(ParsePasswdTest, GoodLines) {
  const auto accounts = parsePasswd(kPasswd);
  ASSERT_EQ(accounts.size(), 5u);
  EXPECT_EQ(accounts.at("root").uid, 0u);
  EXPECT_EQ(accounts.at("root").gid, 0u);
  EXPECT_EQ(accounts.at("root").home, "/root");
  EXPECT_EQ(accounts.at("app").uid, 1000u);
  EXPECT_EQ(accounts.at("app").gid, 1001u);
  EXPECT_EQ(accounts.at("app").home, "/home/app");
  EXPECT_EQ(accounts.at("postgres").home, "/var/lib/postgresql/");
  EXPECT_EQ(accounts.at("svc").home, "/");

  // No final newline; an empty shell; the largest uid that fits.
  const auto more = parsePasswd(
      "a:x:1:2:gecos:/home/a:\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n"
      "max:x:4294967295:4294967295::/m:/bin/sh");
  ASSERT_EQ(more.size(), 3u);
  EXPECT_EQ(more.at("a").gid, 2u);
  EXPECT_EQ(more.at("nobody").uid, 65534u);
  EXPECT_EQ(more.at("max").uid, 4294967295u);
  EXPECT_EQ(more.at("max").home, "/m");

  EXPECT_TRUE(parsePasswd("").empty());
  EXPECT_TRUE(parsePasswd("\n\n").empty());
}

TEST(ParsePasswdTest, MalformedLinesAreSkipped) {
  const auto accounts = parsePasswd(
      "# a comment\n"
      "\n"
      "short:x:1:1:/home/short\n"                      // 5 fields
      "six:x:1:1::/home/six\n"                         // 6 fields
      ":x:5:5::/:/bin/sh\n"                            // no name
      "noid:x::1::/:/bin/sh\n"                         // empty uid
      "nogid:x:1:::/:/bin/sh\n"                        // empty gid
      "neg:x:-1:1::/:/bin/sh\n"                        // negative
      "plus:x:+1:1::/:/bin/sh\n"                       // sign
      "alpha:x:10a:1::/:/bin/sh\n"                     // not a number
      "hex:x:0x10:1::/:/bin/sh\n"                      // not decimal
      "space:x: 1:1::/:/bin/sh\n"                      // blank
      "gidbad:x:1:g::/:/bin/sh\n"                      // group not a number
      "huge:x:99999999999999999999999:1::/:/bin/sh\n"  // beyond any integer
      "good:x:7:8::/home/good:/bin/sh\n"
      "+nisplus\n");
  EXPECT_THAT(accounts, ElementsAre(Pair("good", ::testing::_)));
  EXPECT_EQ(accounts.at("good").uid, 7u);
  EXPECT_EQ(accounts.at("good").gid, 8u);
  EXPECT_EQ(accounts.at("good").home, "/home/good");
}

TEST(ParsePasswdTest, TheFirstOfTwoLinesForANameWins) {
  // As getpwnam does.
  const auto accounts =
      parsePasswd("app:x:1000:1000::/home/app:/bin/sh\napp:x:2000:2000::/srv/app:/bin/sh\n");
  ASSERT_EQ(accounts.size(), 1u);
  EXPECT_EQ(accounts.at("app").uid, 1000u);
  EXPECT_EQ(accounts.at("app").home, "/home/app");
}

TEST(ParsePasswdTest, AUidBeyond32BitsIsSkipped) {
  // A uid or gid that does not fit 32 bits is a malformed line, not one that wraps to root.
  const auto accounts = parsePasswd("wrap:x:4294967296:4294967297::/home/wrap:/bin/sh\n");
  EXPECT_TRUE(accounts.empty()) << "uid " << accounts.at("wrap").uid << " gid " << accounts.at("wrap").gid;
}

// ---- archiveFor: callers -------------------------------------------------------------------------

TEST_F(DeliveryTest, ACallersFilesGoToTheHomeOfTheUserItRunsAs) {
  const Delivery d = delivery();
  struct Case {
    std::string runsAs;
    std::string home;  // in the archive (no leading "/")
    unsigned uid, gid;
  };
  // The group of "user:group" plays no part: files belong to the user and its passwd group.
  for (const Case& c : {Case{"", "root", 0, 0}, Case{"root", "root", 0, 0}, Case{"0", "root", 0, 0},
                        Case{"app", "home/app", 1000, 1001}, Case{"1000", "home/app", 1000, 1001},
                        Case{"app:app", "home/app", 1000, 1001}, Case{"1000:1000", "home/app", 1000, 1001},
                        Case{"postgres", "var/lib/postgresql", 999, 998}, Case{"svc", "", 500, 500}}) {
    SCOPED_TRACE("runs as \"" + c.runsAs + "\"");
    const std::vector<Item> items = archive(d, "worker", 1, c.runsAs);
    const std::string ssh = c.home.empty() ? ".ssh" : c.home + "/.ssh";
    // worker is a caller only: nothing for sshd.
    EXPECT_EQ(pathsOf(items), (std::set<std::string>{ssh, ssh + "/id_ed25519", ssh + "/id_ed25519.pub",
                                                     ssh + "/known_hosts", ssh + "/config"}));
    expectEntry(items, ssh, '5', 0700, c.uid, c.gid);
    expectEntry(items, ssh + "/id_ed25519", '0', 0600, c.uid, c.gid);
    expectEntry(items, ssh + "/id_ed25519.pub", '0', 0644, c.uid, c.gid);
    expectEntry(items, ssh + "/known_hosts", '0', 0644, c.uid, c.gid);
    expectEntry(items, ssh + "/config", '0', 0644, c.uid, c.gid);
    expectDirectoriesFirst(items);
  }
}

TEST_F(DeliveryTest, ACallersKeyKnownHostsAndConfig) {
  const Delivery d = delivery();
  const std::vector<Item> items = archive(d, "worker", 2, "app");
  auto key = store().callerKey("worker");
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(at(items, "home/app/.ssh/id_ed25519").data, key->privateKey);
  EXPECT_EQ(at(items, "home/app/.ssh/id_ed25519.pub").data, key->publicKey + " berth:shop/worker\n");
  EXPECT_TRUE(
      sameKey(at(items, "home/app/.ssh/id_ed25519").data, at(items, "home/app/.ssh/id_ed25519.pub").data));

  // Every replica of db, under the service name and the container name.
  EXPECT_EQ(keyLines(at(items, "home/app/.ssh/known_hosts").data),
            (std::vector<std::string>{"db,shop-db-1 " + host("shop-db-1").publicKey,
                                      "db,shop-db-2 " + host("shop-db-2").publicKey,
                                      "db,shop-db-3 " + host("shop-db-3").publicKey}));

  const std::string config = at(items, "home/app/.ssh/config").data;
  const std::vector<std::string> configLines = lines(config);
  EXPECT_THAT(configLines, ::testing::Contains("Host db shop-db-1 shop-db-2 shop-db-3"));
  EXPECT_THAT(configLines, ::testing::Contains("  User app"));
  EXPECT_THAT(configLines, ::testing::Contains("  StrictHostKeyChecking yes"));
  EXPECT_THAT(configLines, ::testing::Contains("  IdentityFile ~/.ssh/id_ed25519"));
  EXPECT_THAT(configLines, ::testing::Contains("  IdentitiesOnly yes"));
  EXPECT_THAT(configLines, ::testing::Contains("  UserKnownHostsFile ~/.ssh/known_hosts"));
  EXPECT_THAT(configLines, ::testing::Contains("  PasswordAuthentication no"));
  // One Host block: every option line is indented under it.
  int hosts = 0;
  for (const std::string& l : configLines) {
    if (l.rfind("Host ", 0) == 0) {
      ++hosts;
    } else if (!l.empty() && l.front() != '#') {
      EXPECT_EQ(l.rfind("  ", 0), 0u) << l;
    }
  }
  EXPECT_EQ(hosts, 1);

  // The same files the next time (keys are stable), also from another Delivery.
  auto again = delivery().archiveFor(ContainerRole{"worker", 2}, kPasswd, "app");
  auto first = d.archiveFor(ContainerRole{"worker", 2}, kPasswd, "app");
  ASSERT_TRUE(again && first);
  EXPECT_EQ(*again, *first);
}

TEST_F(DeliveryTest, KnownHostsPinsEveryReplicaOfEveryTarget) {
  const std::vector<Item> items = archive(delivery(), "web", 1, "");
  // web logs in as root.
  EXPECT_THAT(lines(at(items, "root/.ssh/config").data), ::testing::Contains("  User root"));
  EXPECT_THAT(lines(at(items, "root/.ssh/config").data),
              ::testing::Contains("Host db shop-db-1 shop-db-2 shop-db-3 cache shop-cache-1 shop-cache-2"));
  EXPECT_EQ(keyLines(at(items, "root/.ssh/known_hosts").data),
            (std::vector<std::string>{"db,shop-db-1 " + host("shop-db-1").publicKey,
                                      "db,shop-db-2 " + host("shop-db-2").publicKey,
                                      "db,shop-db-3 " + host("shop-db-3").publicKey,
                                      "cache,shop-cache-1 " + host("shop-cache-1").publicKey,
                                      "cache,shop-cache-2 " + host("shop-cache-2").publicKey}));
  std::set<std::string> distinct;
  for (const std::string& l : keyLines(at(items, "root/.ssh/known_hosts").data))
    distinct.insert(l.substr(l.find(' ')));
  EXPECT_EQ(distinct.size(), 5u);  // a host key per replica

  // A target missing from the replicas map, or with fewer than one, gets one replica pinned.
  for (const auto& replicas :
       {std::map<std::string, int>{}, std::map<std::string, int>{{"db", 0}, {"cache", -1}}}) {
    const std::vector<Item> one = archive(delivery(replicas), "web", 1, "");
    EXPECT_EQ(keyLines(at(one, "root/.ssh/known_hosts").data),
              (std::vector<std::string>{"db,shop-db-1 " + host("shop-db-1").publicKey,
                                        "cache,shop-cache-1 " + host("shop-cache-1").publicKey}));
  }
}

// ---- archiveFor: targets -------------------------------------------------------------------------

TEST_F(DeliveryTest, ATargetGetsAuthorizedKeysPerLoginUserAndSshdsFiles) {
  const std::vector<Item> items = archive(delivery(), "db", 2, "postgres");
  EXPECT_EQ(pathsOf(items),
            (std::set<std::string>{"root/.ssh", "root/.ssh/authorized_keys", "home/app/.ssh",
                                   "home/app/.ssh/authorized_keys", "var/lib/postgresql/.ssh",
                                   "var/lib/postgresql/.ssh/authorized_keys", "etc/ssh",
                                   "etc/ssh/sshd_config.d", "etc/ssh/ssh_host_ed25519_key",
                                   "etc/ssh/ssh_host_ed25519_key.pub", "etc/ssh/sshd_config.d/berth.conf"}));
  expectDirectoriesFirst(items);

  // authorized_keys: owned by the login user, 0600, in a 0700 .ssh of theirs; the keys of the
  // callers that log in as that user, and no other.
  expectEntry(items, "root/.ssh", '5', 0700, 0, 0);
  expectEntry(items, "root/.ssh/authorized_keys", '0', 0600, 0, 0);
  expectEntry(items, "home/app/.ssh", '5', 0700, 1000, 1001);
  expectEntry(items, "home/app/.ssh/authorized_keys", '0', 0600, 1000, 1001);
  expectEntry(items, "var/lib/postgresql/.ssh", '5', 0700, 999, 998);
  expectEntry(items, "var/lib/postgresql/.ssh/authorized_keys", '0', 0600, 999, 998);
  EXPECT_EQ(keyLines(at(items, "root/.ssh/authorized_keys").data),
            std::vector<std::string>{callerPublic("web") + " berth:shop/web"});
  EXPECT_EQ(keyLines(at(items, "home/app/.ssh/authorized_keys").data),
            (std::vector<std::string>{callerPublic("admin") + " berth:shop/admin",
                                      callerPublic("worker") + " berth:shop/worker"}));
  EXPECT_EQ(keyLines(at(items, "var/lib/postgresql/.ssh/authorized_keys").data),
            std::vector<std::string>{callerPublic("cache") + " berth:shop/cache"});

  // sshd: this replica's host key, root's, and the drop-in.
  expectEntry(items, "etc/ssh", '5', 0755, 0, 0);
  expectEntry(items, "etc/ssh/sshd_config.d", '5', 0755, 0, 0);
  expectEntry(items, "etc/ssh/ssh_host_ed25519_key", '0', 0600, 0, 0);
  expectEntry(items, "etc/ssh/ssh_host_ed25519_key.pub", '0', 0644, 0, 0);
  expectEntry(items, "etc/ssh/sshd_config.d/berth.conf", '0', 0644, 0, 0);
  const KeyPair hostKey = host("shop-db-2");
  EXPECT_EQ(at(items, "etc/ssh/ssh_host_ed25519_key").data, hostKey.privateKey);
  EXPECT_EQ(at(items, "etc/ssh/ssh_host_ed25519_key.pub").data, hostKey.publicKey + "\n");
  EXPECT_NE(hostKey.publicKey, host("shop-db-1").publicKey);
  const std::vector<std::string> conf = lines(at(items, "etc/ssh/sshd_config.d/berth.conf").data);
  EXPECT_THAT(conf, ::testing::Contains("HostKey /etc/ssh/ssh_host_ed25519_key"));
  EXPECT_THAT(conf, ::testing::Contains("PasswordAuthentication no"));
  EXPECT_THAT(conf, ::testing::Contains("KbdInteractiveAuthentication no"));
  EXPECT_THAT(conf, ::testing::Contains("PermitEmptyPasswords no"));

  // The user a target runs as plays no part.
  auto asRoot = delivery().archiveFor(ContainerRole{"db", 2}, kPasswd, "");
  auto asPostgres = delivery().archiveFor(ContainerRole{"db", 2}, kPasswd, "postgres");
  ASSERT_TRUE(asRoot && asPostgres);
  EXPECT_EQ(*asRoot, *asPostgres);
}

TEST_F(DeliveryTest, BothEndsAgree) {
  const Delivery d = delivery();
  for (int n = 1; n <= 3; ++n) {
    SCOPED_TRACE("db replica " + std::to_string(n));
    const std::vector<Item> db = archive(d, "db", n, "");
    const std::string container = "shop-db-" + std::to_string(n);
    // The host key the replica gets is the one every caller pins for it.
    const std::string hostPrivate = at(db, "etc/ssh/ssh_host_ed25519_key").data;
    for (const auto& [caller, runsAs, home] :
         {std::tuple<std::string, std::string, std::string>{"web", "", "root"},
          {"worker", "app", "home/app"},
          {"cache", "", "root"}}) {
      SCOPED_TRACE(caller);
      const std::vector<Item> c = archive(d, caller, 1, runsAs);
      bool pinned = false;
      for (const std::string& l : keyLines(at(c, home + "/.ssh/known_hosts").data)) {
        if (l.rfind("db," + container + " ", 0) == 0) {
          pinned = true;
          EXPECT_TRUE(sameKey(hostPrivate, l.substr(l.find(' ') + 1)));
        }
      }
      EXPECT_TRUE(pinned);
      // The caller's private key is the one its login user's authorized_keys on db lists.
      const std::string user = linksOf(project_).callers.at(caller).user;
      const std::string authorized = user == "root"  ? "root/.ssh/authorized_keys"
                                     : user == "app" ? "home/app/.ssh/authorized_keys"
                                                     : "var/lib/postgresql/.ssh/authorized_keys";
      const std::string callerPrivate = at(c, home + "/.ssh/id_ed25519").data;
      int matches = 0;
      for (const std::string& l : keyLines(at(db, authorized).data))
        matches += sameKey(callerPrivate, l) ? 1 : 0;
      EXPECT_EQ(matches, 1) << authorized;
    }
  }
}

TEST_F(DeliveryTest, ACallerThatIsAlsoATargetGetsBoth) {
  // cache reaches db as postgres and is reached by web as root; it runs as root here.
  const std::vector<Item> items = archive(delivery(), "cache", 1, "");
  EXPECT_EQ(pathsOf(items),
            (std::set<std::string>{"root/.ssh", "root/.ssh/id_ed25519", "root/.ssh/id_ed25519.pub",
                                   "root/.ssh/known_hosts", "root/.ssh/config", "root/.ssh/authorized_keys",
                                   "etc/ssh", "etc/ssh/sshd_config.d", "etc/ssh/ssh_host_ed25519_key",
                                   "etc/ssh/ssh_host_ed25519_key.pub", "etc/ssh/sshd_config.d/berth.conf"}));
  expectEntry(items, "root/.ssh", '5', 0700, 0, 0);  // (listed once per role, the same each time)
  expectEntry(items, "root/.ssh/id_ed25519", '0', 0600, 0, 0);
  expectEntry(items, "root/.ssh/authorized_keys", '0', 0600, 0, 0);
  EXPECT_EQ(keyLines(at(items, "root/.ssh/authorized_keys").data),
            std::vector<std::string>{callerPublic("web") + " berth:shop/web"});
  EXPECT_THAT(lines(at(items, "root/.ssh/config").data), ::testing::Contains("  User postgres"));
  EXPECT_EQ(keyLines(at(items, "root/.ssh/known_hosts").data),
            (std::vector<std::string>{"db,shop-db-1 " + host("shop-db-1").publicKey,
                                      "db,shop-db-2 " + host("shop-db-2").publicKey,
                                      "db,shop-db-3 " + host("shop-db-3").publicKey}));
  EXPECT_EQ(at(items, "etc/ssh/ssh_host_ed25519_key").data, host("shop-cache-1").privateKey);
  // Its own key is not among the keys that may log in to it.
  EXPECT_EQ(at(items, "root/.ssh/authorized_keys").data.find(callerPublic("cache")), std::string::npos);
  expectDirectoriesFirst(items);

  // Running as another user, the caller's files move and authorized_keys stays with root.
  const std::vector<Item> asPostgres = archive(delivery(), "cache", 1, "postgres");
  expectEntry(asPostgres, "var/lib/postgresql/.ssh/id_ed25519", '0', 0600, 999, 998);
  expectEntry(asPostgres, "root/.ssh/authorized_keys", '0', 0600, 0, 0);
  EXPECT_EQ(pathsOf(asPostgres).count("root/.ssh/id_ed25519"), 0u);
}

TEST_F(DeliveryTest, AServiceOutsideEveryLinkGetsAnEmptyArchive) {
  const Delivery d = delivery();
  for (const char* s : {"docs", "gw", "tools", "nosuch"}) {
    auto tar = d.archiveFor(ContainerRole{s, 1}, kPasswd, "");
    ASSERT_TRUE(tar) << s << ": " << tar.error().message();
    EXPECT_THAT(readTar(*tar), IsEmpty()) << s;
    EXPECT_EQ(*tar, std::string(1024, '\0')) << s;  // just the end-of-archive blocks
    // Even with a passwd that lacks the user it runs as.
    EXPECT_TRUE(d.archiveFor(ContainerRole{s, 1}, "", "nobody")) << s;
  }
  // And no key was made for them.
  EXPECT_TRUE(fs::is_empty(root_ / "ssh" / "shop" / "callers"));
  EXPECT_TRUE(fs::is_empty(root_ / "ssh" / "shop" / "hosts"));
}

// ---- archiveFor: errors --------------------------------------------------------------------------

TEST_F(DeliveryTest, ACallerRunningAsAUserMissingFromPasswd) {
  const Delivery d = delivery();
  for (const auto& [runsAs, user] : std::vector<std::pair<std::string, std::string>>{
           {"nobody", "nobody"}, {"4242", "4242"}, {"nobody:app", "nobody"}, {"4242:1000", "4242"}}) {
    SCOPED_TRACE(runsAs);
    auto r = d.archiveFor(ContainerRole{"worker", 1}, kPasswd, runsAs);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
    EXPECT_THAT(r.error().message(), HasSubstr("service \"worker\""));
    EXPECT_THAT(r.error().message(), HasSubstr("user \"" + user + "\""));
  }
  // Root (no user given) missing too.
  auto noRoot = d.archiveFor(ContainerRole{"web", 1}, "app:x:1000:1000::/home/app:/bin/sh\n", "");
  ASSERT_FALSE(noRoot);
  EXPECT_THAT(noRoot.error().message(), HasSubstr("service \"web\""));
  EXPECT_THAT(noRoot.error().message(), HasSubstr("user \"root\""));
}

TEST_F(DeliveryTest, ATargetLackingALoginUser) {
  // db's callers log in as root (web), app (admin, worker) and postgres (cache); no app here.
  const std::string passwd =
      "root:x:0:0:root:/root:/bin/bash\npostgres:x:999:998::/var/lib/postgresql:/bin/bash\n";
  auto r = delivery().archiveFor(ContainerRole{"db", 1}, passwd, "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
  EXPECT_THAT(r.error().message(), HasSubstr("service \"db\""));
  EXPECT_THAT(r.error().message(), HasSubstr("user \"app\""));
  EXPECT_THAT(r.error().message(), HasSubstr("admin, worker"));
}

TEST_F(DeliveryTest, ANumericUserIsTheFirstPasswdLineWithThatUid) {
  // Two names for one uid: the first line of the file is the account, as getpwuid() (what ssh uses
  // to find ~/.ssh) answers.
  const std::string passwd =
      "root:x:0:0::/root:/bin/sh\nzed:x:1000:1000::/home/zed:/bin/sh\n"
      "alias:x:1000:1000::/srv/alias:/bin/sh\n";
  const std::vector<Item> items = archive(delivery(), "worker", 1, "1000", passwd);
  EXPECT_EQ(pathsOf(items).count("home/zed/.ssh/id_ed25519"), 1u);
}

// ---- deliver -------------------------------------------------------------------------------------

TEST_F(DeliveryTest, DeliverToAServiceOutsideEveryLinkTouchesNothing) {
  fakes::FakeEngine engine;
  const Delivery d = delivery();
  for (const char* s : {"docs", "gw", "tools"}) {
    EXPECT_TRUE(d.deliver(engine, "no-such-container", ContainerRole{s, 1})) << s;
  }
  EXPECT_THAT(engine.calls(), IsEmpty());
}

TEST_F(DeliveryTest, DeliverPutsNothingWhenPasswdCannotBeRead) {
  // The fake engine cannot get archives, so the whole delivery is tested end to end only (examples);
  // here: an involved service reads /etc/passwd first and stops when it cannot, saying why.
  fakes::FakeEngine engine;
  engine.addImage("busybox:latest");
  engine::ContainerCreate create;
  create.name = "shop-db-2";
  create.config.image = "busybox:latest";
  auto made = engine.createContainer(create);
  ASSERT_TRUE(made) << made.error().message();
  engine.clearCalls();
  auto st = delivery().deliver(engine, made->id, ContainerRole{"db", 2});
  ASSERT_FALSE(st);
  EXPECT_THAT(st.error().message(), HasSubstr("service \"db\": read /etc/passwd to place its SSH keys"));
  EXPECT_THAT(engine.mutations(), IsEmpty());
  EXPECT_THAT(engine.files("shop-db-2"), IsEmpty());
}

}  // namespace
}  // namespace berth::trust
