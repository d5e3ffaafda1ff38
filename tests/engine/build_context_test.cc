#include <gmock/gmock.h>
#include "base/tar_reader.h"
#include <stdlib.h>
#include <fstream>
#include <filesystem>
// .dockerignore patterns with moby/patternmatcher's semantics.
#include "engine/build_context.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

bool excluded(std::string_view patterns, std::string_view path) {
  return IgnorePatterns::parse(patterns).excluded(path);
}

TEST(IgnorePatternsTest, StarAndQuestionMarkStayWithinASegment) {
  EXPECT_TRUE(excluded("*.log", "a.log"));
  EXPECT_FALSE(excluded("*.log", "dir/a.log"));
  EXPECT_TRUE(excluded("dir/*.log", "dir/a.log"));
  EXPECT_FALSE(excluded("dir/*.log", "dir/sub/a.log"));
  EXPECT_TRUE(excluded("?.txt", "a.txt"));
  EXPECT_FALSE(excluded("?.txt", "ab.txt"));
  EXPECT_FALSE(excluded("a?b", "a/b"));
}

TEST(IgnorePatternsTest, DoubleStarSpansSegments) {
  EXPECT_TRUE(excluded("**/*.log", "a.log"));
  EXPECT_TRUE(excluded("**/*.log", "x/y/a.log"));
  EXPECT_TRUE(excluded("docs/**", "docs/a/b.md"));
  EXPECT_TRUE(excluded("a/**/b", "a/b"));
  EXPECT_TRUE(excluded("a/**/b", "a/x/y/b"));
  EXPECT_FALSE(excluded("a/**/b", "a/xb"));
  EXPECT_TRUE(excluded("**", "anything/at/all"));
}

TEST(IgnorePatternsTest, ADirectoryPatternExcludesEverythingBelowIt) {
  EXPECT_TRUE(excluded("secret", "secret"));
  EXPECT_TRUE(excluded("secret", "secret/key.pem"));
  EXPECT_TRUE(excluded("/build/", "build/out/x.o"));
  EXPECT_FALSE(excluded("secret", "not-secret/key.pem"));
}

TEST(IgnorePatternsTest, LaterExclusionsReinclude) {
  EXPECT_TRUE(excluded("*.md\n!README.md", "CHANGES.md"));
  EXPECT_FALSE(excluded("*.md\n!README.md", "README.md"));
  EXPECT_TRUE(excluded("*.md\n!README.md\nREADME.md", "README.md"));
  EXPECT_TRUE(IgnorePatterns::parse("*\n!keep").hasExceptions());
  EXPECT_FALSE(IgnorePatterns::parse("# comment\n\n  *.tmp  \r\n").hasExceptions());
  EXPECT_TRUE(excluded("# comment\n\n  *.tmp  \r\n", "x.tmp"));
}

TEST(IgnorePatternsTest, ClassesAndEscapes) {
  EXPECT_TRUE(excluded("file[0-9].txt", "file7.txt"));
  EXPECT_FALSE(excluded("file[0-9].txt", "filex.txt"));
  EXPECT_TRUE(excluded("file[^0-9].txt", "filex.txt"));
  EXPECT_FALSE(excluded("file[^0-9].txt", "file7.txt"));
  EXPECT_TRUE(excluded("[ab]", "b"));
  EXPECT_TRUE(excluded("a\\*b", "a*b"));
  EXPECT_FALSE(excluded("a\\*b", "axb"));
  EXPECT_TRUE(excluded("a.b", "a.b"));
  EXPECT_FALSE(excluded("a.b", "axb"));  // '.' is literal
  EXPECT_TRUE(excluded("(x)+{y}$^", "(x)+{y}$^"));
  // A malformed class matches nothing (and breaks nothing else).
  EXPECT_FALSE(excluded("file[0-9", "file[0-9"));
  EXPECT_TRUE(excluded("file[0-9\n*.log", "a.log"));
}

TEST(IgnorePatternsTest, LongPatternsStayFast) {
  std::string path(2000, 'a');
  EXPECT_FALSE(excluded("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", path));
  EXPECT_TRUE(excluded("**/**/**/**/**/**/**/**/x", "a/b/c/d/e/f/g/h/i/j/x"));
}

}  // namespace
}  // namespace berth::engine

namespace berth::engine {
namespace {

namespace fs = std::filesystem;

class ScratchDir {
 public:
  ScratchDir() {
    char pattern[] = "/tmp/berth-context-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  void write(const std::string& name, const std::string& content) const {
    fs::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name, std::ios::binary) << content;
  }

 private:
  fs::path path_;
};

TEST(BuildContextSourceTest, StreamsTheContextInBoundedPiecesInSortedOrder) {
  ScratchDir dir;
  dir.write("Dockerfile", "FROM scratch\nCOPY . /\n");
  dir.write(".dockerignore", "secret*\n");
  dir.write("secret.key", "not sent");
  dir.write("app/big.bin", std::string(3 * 1024 * 1024 + 17, 'x'));
  dir.write("app/small.txt", "small");
  fs::create_symlink("small.txt", dir.path() / "app" / "link");
  auto source = openBuildContext(dir.path().string(), "Dockerfile");
  ASSERT_TRUE(source) << source.error().message();
  EXPECT_EQ(source->dockerfile(), "Dockerfile");

  std::string whole;
  std::size_t largest = 0;
  int pieces = 0;
  ASSERT_TRUE(source->writeTo([&](std::string_view piece) -> Status {
    whole += piece;
    largest = std::max(largest, piece.size());
    ++pieces;
    return ok();
  }));
  // A 3 MiB file goes out in pieces, never whole.
  EXPECT_LE(largest, 256u * 1024u + 1024u);
  EXPECT_GT(pieces, 12);

  std::vector<std::pair<std::string, std::uint64_t>> entries;
  TarReader reader([&](const TarEntry& e) -> Status {
    entries.emplace_back(e.path, e.size);
    return ok();
  });
  ASSERT_TRUE(reader.feed(whole));
  ASSERT_TRUE(reader.finish());
  EXPECT_EQ(entries, (std::vector<std::pair<std::string, std::uint64_t>>{{".dockerignore", 8},
                                                                         {"Dockerfile", 22},
                                                                         {"app/", 0},
                                                                         {"app/big.bin", 3 * 1024 * 1024 + 17},
                                                                         {"app/link", 0},
                                                                         {"app/small.txt", 5}}));
  // The in-memory form is the same bytes.
  auto tar = buildContextTar(dir.path().string(), "Dockerfile");
  ASSERT_TRUE(tar);
  EXPECT_EQ(tar->tar, whole);
}

TEST(BuildContextSourceTest, AFileGoneBeforeItIsReadAndASinkErrorStopTheStream) {
  ScratchDir dir;
  dir.write("Dockerfile", "FROM scratch\n");
  dir.write("data.bin", std::string(1024, 'y'));
  auto source = openBuildContext(dir.path().string(), "Dockerfile");
  ASSERT_TRUE(source);
  auto refused = source->writeTo([](std::string_view) -> Status { return fail(ErrorCode::Unavailable, "engine gone"); });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message(), "engine gone");
  fs::remove(dir.path() / "data.bin");
  auto gone = source->writeTo([](std::string_view) -> Status { return ok(); });
  ASSERT_FALSE(gone);
  EXPECT_THAT(gone.error().message(), ::testing::HasSubstr("data.bin"));
}

}  // namespace
}  // namespace berth::engine
