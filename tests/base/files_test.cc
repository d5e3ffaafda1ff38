#include "base/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

namespace berth {
namespace {

namespace fs = std::filesystem;

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-files-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FilesTest, WriteAtomicSetsPermissionsAndReadsBack) {
  const fs::path key = dir_ / "key.pem";
  ASSERT_TRUE(writeFileAtomic(key, "secret").has_value());
  EXPECT_EQ(*readFile(key), "secret");
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(FilesTest, ReadMissingFileNamesThePath) {
  const auto r = readFile(dir_ / "absent");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(r.error().message(), (dir_ / "absent").string() + ": No such file or directory");
}

TEST_F(FilesTest, PrivateDirIs0700) {
  const fs::path d = dir_ / "a" / "berth";
  ASSERT_TRUE(ensurePrivateDir(d).has_value());
  struct stat st {};
  ASSERT_EQ(::stat(d.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(FilesTest, ConfigDirFollowsXdg) {
  const char* old = std::getenv("XDG_CONFIG_HOME");
  const std::string saved = old ? old : "";
  ::setenv("XDG_CONFIG_HOME", dir_.c_str(), 1);
  EXPECT_EQ(*berthConfigDir(), dir_ / "berth");
  if (old)
    ::setenv("XDG_CONFIG_HOME", saved.c_str(), 1);
  else
    ::unsetenv("XDG_CONFIG_HOME");
}

}  // namespace
}  // namespace berth
