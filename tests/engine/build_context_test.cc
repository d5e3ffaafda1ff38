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
