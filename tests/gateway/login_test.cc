// The gateway's login decisions that need no engine: what a login name names, and which authorized
// key (if any) an offered key is.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libssh/libssh.h>

#include <string>

#include "gateway/login.h"

namespace berth::gateway {
namespace {

TEST(LoginNameTest, AContainerNameOrServiceDotProject) {
  auto container = parseLoginName("shop-web-2");
  ASSERT_TRUE(container);
  EXPECT_EQ(container->container, "shop-web-2");
  EXPECT_TRUE(container->service.empty());

  // Service names may hold dots; project names never do, so the last dot splits.
  auto service = parseLoginName("api.v2.shop");
  ASSERT_TRUE(service);
  EXPECT_TRUE(service->container.empty());
  EXPECT_EQ(service->service, "api.v2");
  EXPECT_EQ(service->project, "shop");

  for (const char* bad : {"", "web.", ".shop", "a b", "x/y", "root@x", "a\nb"}) {
    auto r = parseLoginName(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_THAT(r.error().message(), ::testing::HasSubstr("neither CONTAINER nor SERVICE.PROJECT"));
    }
  }
}

struct Pair {
  ssh_key key = nullptr;
  std::string line;
  ~Pair() { ssh_key_free(key); }
};

void generate(Pair& p, enum ssh_keytypes_e type, int bits, const std::string& comment) {
  ASSERT_EQ(ssh_pki_generate(type, bits, &p.key), SSH_OK);
  char* b64 = nullptr;
  ASSERT_EQ(ssh_pki_export_pubkey_base64(p.key, &b64), SSH_OK);
  p.line = std::string(ssh_key_type_to_char(ssh_key_type(p.key))) + " " + b64 + (comment.empty() ? "" : " " + comment);
  ssh_string_free_char(b64);
}

TEST(AuthorizedKeysTest, MatchesTheSameKeyAndGivesItsComment) {
  Pair alice, bob, mallory;
  generate(alice, SSH_KEYTYPE_ED25519, 0, "alice@laptop with spaces");
  generate(bob, SSH_KEYTYPE_ECDSA_P256, 256, "");
  generate(mallory, SSH_KEYTYPE_ED25519, 0, "mallory");
  AuthorizedKeys keys({alice.line, "not a key at all", "ssh-ed25519 !!!notbase64!!! x", bob.line});
  EXPECT_EQ(keys.size(), 2u);  // the unreadable lines are skipped
  EXPECT_EQ(keys.match(alice.key), std::optional<std::string>("alice@laptop with spaces"));
  EXPECT_EQ(keys.match(bob.key), std::optional<std::string>(""));
  EXPECT_EQ(keys.match(mallory.key), std::nullopt);
  EXPECT_EQ(keys.match(nullptr), std::nullopt);
  EXPECT_EQ(AuthorizedKeys({}).match(alice.key), std::nullopt);
}

TEST(AuthorizedKeysTest, FingerprintsReadAsOpenSshPrintsThem) {
  Pair alice;
  generate(alice, SSH_KEYTYPE_ED25519, 0, "alice");
  const std::string fp = fingerprintOf(alice.key);
  EXPECT_THAT(fp, ::testing::StartsWith("SHA256:"));
  EXPECT_EQ(fp.size(), 7u + 43u);  // unpadded base64 of 32 bytes
  EXPECT_EQ(fp, fingerprintOf(alice.key));
}

}  // namespace
}  // namespace berth::gateway
