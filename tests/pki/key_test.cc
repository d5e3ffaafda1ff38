#include "pki/key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "base/files.h"

namespace berth::pki {
namespace {

namespace fs = std::filesystem;

fs::path freshDir() {
  std::string pattern = ::testing::TempDir() + "berth-pki-XXXXXX";
  EXPECT_NE(::mkdtemp(pattern.data()), nullptr);
  return pattern;
}

TEST(KeyTest, GeneratesEachTypeAndRoundTripsThroughPem) {
  for (KeyType type : {KeyType::EcdsaP256, KeyType::Rsa2048}) {
    auto key = PrivateKey::generate(type);
    ASSERT_TRUE(key) << key.error().message();
    EXPECT_EQ(key->type(), type);
    const std::string pem = key->toPem();
    EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u) << pem;
    auto back = PrivateKey::fromPem(pem);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->type(), type);
    EXPECT_EQ(back->publicKeyPem(), key->publicKeyPem());
  }
}

TEST(KeyTest, FreshKeysDiffer) {
  auto a = PrivateKey::generate(KeyType::EcdsaP256);
  auto b = PrivateKey::generate(KeyType::EcdsaP256);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->publicKeyPem(), b->publicKeyPem());
}

TEST(KeyTest, CopiesShareTheKey) {
  auto a = PrivateKey::generate(KeyType::EcdsaP256);
  ASSERT_TRUE(a);
  PrivateKey copy = *a;
  PrivateKey moved = std::move(copy);
  EXPECT_EQ(moved.toPem(), a->toPem());
}

TEST(KeyTest, RejectsTextThatIsNotAKey) {
  auto key = PrivateKey::fromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(key.error().message(), "not a PEM private key");
}

TEST(KeyTest, LoadNamesTheFile) {
  const fs::path dir = freshDir();
  ASSERT_TRUE(writeFileAtomic(dir / "junk.pem", "hello").has_value());
  auto key = PrivateKey::load(dir / "junk.pem");
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().message(), (dir / "junk.pem").string() + ": not a PEM private key");
  auto missing = PrivateKey::load(dir / "missing.pem");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::NotFound);
  fs::remove_all(dir);
}

TEST(KeyTest, SaveWritesMode0600) {
  const fs::path dir = freshDir();
  auto key = PrivateKey::generate(KeyType::EcdsaP256);
  ASSERT_TRUE(key);
  ASSERT_TRUE(key->save(dir / "key.pem").has_value());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = PrivateKey::load(dir / "key.pem");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->toPem(), key->toPem());
  fs::remove_all(dir);
}

TEST(KeyTest, ParsesKeyTypeNames) {
  EXPECT_EQ(parseKeyType("ecdsa-p256"), KeyType::EcdsaP256);
  EXPECT_EQ(parseKeyType("ECDSA"), KeyType::EcdsaP256);
  EXPECT_EQ(parseKeyType("rsa-2048"), KeyType::Rsa2048);
  EXPECT_EQ(parseKeyType("rsa4096"), KeyType::Rsa4096);
  EXPECT_EQ(parseKeyType("rsa-1024"), std::nullopt);
  for (KeyType t : {KeyType::EcdsaP256, KeyType::Rsa2048, KeyType::Rsa4096}) {
    EXPECT_EQ(parseKeyType(keyTypeName(t)), t);
  }
}

}  // namespace
}  // namespace berth::pki
